# SPDX-License-Identifier: GPL-2.0
#
# libmlbpf: memlens' BPF loaders (userspace/mlbpf), one per program of
# bpf/, and what they share.  Linked by the CLI, the BPF test suites and
# the BPF benchmarks.
#   build/lib/libmlbpf.a   static, with -lbpf -lelf -lz
#   userspace/mlbpf/include/mlbpf.h   its one public header (MLBPF_CFLAGS)

MLBPF_DIR	:= userspace/mlbpf
MLBPF_SRCS	:= $(wildcard $(MLBPF_DIR)/*.c)
MLBPF_OBJS	:= $(patsubst $(MLBPF_DIR)/%.c,$(B)/obj/mlbpf/%.o,$(MLBPF_SRCS))
MLBPF_LIB	:= $(B)/lib/libmlbpf.a
# What a user of mlbpf.h compiles and links with.
MLBPF_CFLAGS	:= -I$(MLBPF_DIR)/include -Ibpf
MLBPF_LIBS	:= $(MLBPF_LIB) -lbpf -lelf -lz

USERSPACE_TARGETS += $(MLBPF_LIB)

$(B)/obj/mlbpf/%.o: $(MLBPF_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLBPF_CFLAGS) -I$(B)/bpf -MMD -MP -c $< -o $@

# The loaders embed the skeletons.
$(MLBPF_OBJS): $(BPF_SKELS)

$(MLBPF_LIB): $(MLBPF_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

-include $(MLBPF_OBJS:.o=.d)
