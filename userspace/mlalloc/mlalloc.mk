# SPDX-License-Identifier: GPL-2.0
#
# libmlalloc: the allocator under test (userspace/mlalloc).
#   build/lib/libmlalloc.so          LD_PRELOAD / -lmlalloc
#   build/lib/libmlalloc.a           static -lmlalloc
#   build/lib/libmlalloc-inspect.a   reader of a live process's allocator
#   build/include/mlalloc.h          public header

MLALLOC_DIR	:= userspace/mlalloc
MLALLOC_OBJ	:= $(B)/obj/mlalloc
MLALLOC_SRCS	:= size_class.c os.c segment.c page.c heap.c huge.c \
		   stats.c snapshot.c interpose.c
MLALLOC_OBJS	:= $(addprefix $(MLALLOC_OBJ)/,$(MLALLOC_SRCS:.c=.o))
# the same allocator without the libc names (alloc.c instead of interpose.c)
MLALLOC_PREFIXED_SRCS := $(filter-out interpose.c,$(MLALLOC_SRCS)) alloc.c
MLALLOC_HDRS	:= $(MLALLOC_DIR)/mlalloc_types.h $(MLALLOC_DIR)/alloc.c $(MLALLOC_DIR)/include/mlalloc.h
# -fno-builtin: gcc must not turn malloc+memset into calloc (recursion) or
# drop "dead" stores in the allocator itself; hidden by default, the API
# and the libc names are exported explicitly.
MLALLOC_CFLAGS	:= $(CFLAGS) -fPIC -fvisibility=hidden -fno-builtin \
		   -ftls-model=initial-exec -fno-plt -Wno-attribute-alias

USERSPACE_TARGETS += $(B)/lib/libmlalloc.so $(B)/lib/libmlalloc.a \
		     $(B)/lib/libmlalloc-prefixed.a \
		     $(B)/lib/libmlalloc-inspect.a $(B)/include/mlalloc.h

$(MLALLOC_OBJ)/%.o: $(MLALLOC_DIR)/%.c $(MLALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(MLALLOC_CFLAGS) -c -o $@ $<

$(MLALLOC_OBJ)/inspect/%.o: $(MLALLOC_DIR)/%.c $(MLALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(B)/lib/libmlalloc.so: $(MLALLOC_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmlalloc.so -Wl,-z,now -o $@ $^ $(LDFLAGS) -lpthread

$(B)/lib/libmlalloc.a: $(MLALLOC_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(B)/lib/libmlalloc-prefixed.a: $(addprefix $(MLALLOC_OBJ)/,$(MLALLOC_PREFIXED_SRCS:.c=.o))
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(B)/lib/libmlalloc-inspect.a: $(MLALLOC_OBJ)/inspect/introspect.o $(MLALLOC_OBJ)/inspect/snapshot.o
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(B)/include/mlalloc.h: $(MLALLOC_DIR)/include/mlalloc.h
	@mkdir -p $(@D)
	cp $< $@

.PHONY: mlalloc
mlalloc: $(filter $(B)/lib/libmlalloc% $(B)/include/mlalloc.h,$(USERSPACE_TARGETS))
