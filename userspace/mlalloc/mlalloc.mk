# SPDX-License-Identifier: GPL-2.0
#
# libmlalloc: the allocator under test (userspace/mlalloc).
#   build/lib/libmlalloc.so.1        the shared library (SONAME
#                                    libmlalloc.so.1, symbols versioned
#                                    by libmlalloc.map)
#   build/lib/libmlalloc.so          link to it: LD_PRELOAD / -lmlalloc
#   build/lib/libmlalloc.a           static -lmlalloc
#   build/lib/libmlalloc-inspect.a   reader of a live process's allocator
#   build/include/mlalloc.h          public header

MLALLOC_DIR	:= userspace/mlalloc
MLALLOC_OBJ	:= $(B)/obj/mlalloc
MLALLOC_SRCS	:= size_class.c os.c segment.c page.c heap.c huge.c \
		   stats.c snapshot.c interpose.c version.c events.c
# The ABI version: the SONAME's number, the Debian package libmlalloc1.
MLALLOC_SOVERSION := 1
MLALLOC_MAP	:= $(MLALLOC_DIR)/libmlalloc.map
MLALLOC_OBJS	:= $(addprefix $(MLALLOC_OBJ)/,$(MLALLOC_SRCS:.c=.o))
# the same allocator without the libc names (alloc.c instead of interpose.c)
MLALLOC_PREFIXED_SRCS := $(filter-out interpose.c,$(MLALLOC_SRCS)) alloc.c
MLALLOC_HDRS	:= $(MLALLOC_DIR)/mlalloc_types.h $(MLALLOC_DIR)/alloc.c $(MLALLOC_DIR)/include/mlalloc.h
# -fno-builtin: gcc must not turn malloc+memset into calloc (recursion) or
# drop "dead" stores in the allocator itself; hidden by default, the API
# and the libc names are exported explicitly.
MLALLOC_CFLAGS	:= $(CFLAGS) -fPIC -fvisibility=hidden -fno-builtin \
		   -ftls-model=initial-exec -fno-plt -Wno-attribute-alias

USERSPACE_TARGETS += $(B)/lib/libmlalloc.so.$(MLALLOC_SOVERSION) \
		     $(B)/lib/libmlalloc.so $(B)/lib/libmlalloc.a \
		     $(B)/lib/libmlalloc-prefixed.a \
		     $(B)/lib/libmlalloc-inspect.a $(B)/include/mlalloc.h \
		     $(B)/lib/pkgconfig/mlalloc.pc

$(MLALLOC_OBJ)/%.o: $(MLALLOC_DIR)/%.c $(MLALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(MLALLOC_CFLAGS) -c -o $@ $<

$(MLALLOC_OBJ)/inspect/%.o: $(MLALLOC_DIR)/%.c $(MLALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(MLALLOC_OBJ)/version.o: VERSION

$(B)/lib/libmlalloc.so.$(MLALLOC_SOVERSION): $(MLALLOC_OBJS) $(MLALLOC_MAP)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmlalloc.so.$(MLALLOC_SOVERSION) \
		-Wl,--version-script=$(MLALLOC_MAP) -Wl,-z,now -o $@ \
		$(MLALLOC_OBJS) $(LDFLAGS) -lpthread

$(B)/lib/libmlalloc.so: $(B)/lib/libmlalloc.so.$(MLALLOC_SOVERSION)
	ln -sf $(<F) $@

# pkg-config file; PREFIX and LIBDIR are the installed paths (make install).
$(B)/lib/pkgconfig/mlalloc.pc: $(MLALLOC_DIR)/mlalloc.pc.in VERSION
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

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
