# SPDX-License-Identifier: GPL-2.0
# The memlens inspector CLI: build/bin/memlens.

MEMLENS_SRCS	:= $(wildcard userspace/memlens/*.c)
MEMLENS_OBJS	:= $(patsubst userspace/memlens/%.c,$(B)/obj/memlens/%.o,$(MEMLENS_SRCS))
MEMLENS_CFLAGS	:= $(CFLAGS) -Iuserspace/memlens $(MLBPF_CFLAGS) -MMD -MP
# the BPF loaders: libmlbpf (userspace/mlbpf/mlbpf.mk)
MEMLENS_LIBS	:= -lbpf -lelf -lz
# memlens diff reads JSON documents with json-c
MEMLENS_LIBS	+= -ljson-c
# the inspector pairs arenas through libmlalloc's reader
MEMLENS_CFLAGS	+= -Iuserspace/mlalloc/include
MEMLENS_STATIC	:= $(MLBPF_LIB) $(B)/lib/libmlalloc-inspect.a

USERSPACE_TARGETS += $(B)/bin/memlens

$(B)/obj/memlens/%.o: userspace/memlens/%.c VERSION
	@mkdir -p $(@D)
	$(CC) $(MEMLENS_CFLAGS) -c $< -o $@

$(B)/bin/memlens: $(MEMLENS_OBJS) $(MEMLENS_STATIC)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(MEMLENS_LIBS) -lm

-include $(MEMLENS_OBJS:.o=.d)
