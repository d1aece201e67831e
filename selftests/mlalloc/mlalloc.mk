# SPDX-License-Identifier: GPL-2.0
#
# libmlalloc tests (selftests/mlalloc) and allocator benchmarks
# (selftests/bench/alloc).  Every test binary prints TAP (kselftest harness).

MLT_DIR		:= selftests/mlalloc
MLT_OUT		:= $(B)/selftests
MLT_CFLAGS	:= $(CFLAGS) -I$(KSFT_INC) -Iuserspace/mlalloc/include -pthread
MLT_SO		:= -L$(B)/lib -Wl,-rpath,$(B)/lib -lmlalloc
MLT_LIBS	:= $(B)/lib/libmlalloc.so $(B)/lib/libmlalloc.a

MLT_BINS	:= mlalloc_api_test mlalloc_api_prefixed_test mlalloc_api_asan_test \
		   mlalloc_stress_test mlalloc_check_test mlalloc_introspect_test \
		   mlalloc_fork_test mlalloc_errno_probe mlalloc_workload \
		   mlalloc_api_debug_test mlalloc_stress_debug_test mlalloc_check_debug_test
SELFTEST_TARGETS += $(addprefix $(MLT_OUT)/,$(MLT_BINS))

# api_test.c compares with glibc's own behaviour: errno_probe runs the same
# errno_cases.h without libmlalloc (-fno-builtin: keep every call)
MLT_API_DEPS	:= $(MLT_DIR)/errno_cases.h $(MLT_OUT)/mlalloc_errno_probe

$(MLT_OUT)/mlalloc_errno_probe: $(MLT_DIR)/errno_probe.c $(MLT_DIR)/errno_cases.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $<

# libc names, interposed by linking -lmlalloc
$(MLT_OUT)/mlalloc_api_test: $(MLT_DIR)/api_test.c $(MLT_API_DEPS) $(MLT_LIBS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(MLT_SO)

$(MLT_OUT)/mlalloc_stress_test: $(MLT_DIR)/stress_test.c $(MLT_LIBS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(MLT_SO)

$(MLT_OUT)/mlalloc_fork_test: $(MLT_DIR)/fork_test.c $(MLT_LIBS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(MLT_SO)

# -fno-builtin: gcc would otherwise delete the malloc/free pairs under test
$(MLT_OUT)/mlalloc_check_test: $(MLT_DIR)/check_test.c $(MLT_LIBS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -fno-builtin -o $@ $< $(MLT_SO)

# prefixed API only: the allocator linked in, glibc's malloc untouched
$(MLT_OUT)/mlalloc_api_prefixed_test: $(MLT_DIR)/api_test.c $(MLT_API_DEPS) $(B)/lib/libmlalloc-prefixed.a $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -DPREFIXED -o $@ $< $(B)/lib/libmlalloc-prefixed.a

# test code under ASan+UBSan, allocator under UBSan (ASan owns malloc)
# (this fragment is read before userspace/mlalloc/mlalloc.mk: own variables)
MLT_ALLOC_SRCS	:= $(filter-out interpose.c introspect.c,$(notdir $(wildcard userspace/mlalloc/*.c)))
MLT_ALLOC_HDRS	:= $(wildcard userspace/mlalloc/*.h userspace/mlalloc/include/*.h) userspace/mlalloc/alloc.c
MLT_UBSAN_OBJS	:= $(addprefix $(B)/obj/mlalloc/ubsan/,$(MLT_ALLOC_SRCS:.c=.o))
$(B)/obj/mlalloc/ubsan/%.o: userspace/mlalloc/%.c $(MLT_ALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -fno-builtin -ftls-model=initial-exec \
		-fsanitize=undefined -fno-sanitize-recover=all -c -o $@ $<

$(MLT_OUT)/mlalloc_api_asan_test: $(MLT_DIR)/api_test.c $(MLT_API_DEPS) $(MLT_UBSAN_OBJS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -DPREFIXED -fsanitize=address,undefined -fno-sanitize-recover=all \
		-o $@ $< $(MLT_UBSAN_OBJS)

$(MLT_OUT)/mlalloc_introspect_test: $(MLT_DIR)/introspect_test.c $(B)/lib/libmlalloc-inspect.a \
		$(MLT_OUT)/mlalloc_workload $(MLT_LIBS) $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(B)/lib/libmlalloc-inspect.a

$(MLT_OUT)/mlalloc_workload: $(MLT_DIR)/workload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# ML_DEBUG build: the allocator with its invariants asserted on the slow
# paths (ML_ASSERT, ml_page_check), linked by the *_debug_test suites.
MLT_DEBUG_SRCS	:= size_class.c os.c segment.c page.c heap.c huge.c stats.c snapshot.c interpose.c events.c
MLT_DEBUG_OBJS	:= $(addprefix $(B)/obj/mlalloc/debug/,$(MLT_DEBUG_SRCS:.c=.o))
MLT_DEBUG_SO	:= -L$(B)/lib -Wl,-rpath,$(B)/lib -lmlalloc-debug
$(B)/obj/mlalloc/debug/%.o: userspace/mlalloc/%.c $(MLT_ALLOC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(MLALLOC_CFLAGS) -DML_DEBUG -c -o $@ $<

$(B)/lib/libmlalloc-debug.so: $(MLT_DEBUG_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmlalloc-debug.so -Wl,-z,now -o $@ $^ $(LDFLAGS) -lpthread

$(MLT_OUT)/mlalloc_api_debug_test: $(MLT_DIR)/api_test.c $(MLT_API_DEPS) $(B)/lib/libmlalloc-debug.so $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(MLT_DEBUG_SO)

$(MLT_OUT)/mlalloc_stress_debug_test: $(MLT_DIR)/stress_test.c $(B)/lib/libmlalloc-debug.so $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -o $@ $< $(MLT_DEBUG_SO)

$(MLT_OUT)/mlalloc_check_debug_test: $(MLT_DIR)/check_test.c $(B)/lib/libmlalloc-debug.so $(KSFT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(MLT_CFLAGS) -DML_TEST_DEBUG -fno-builtin -o $@ $< $(MLT_DEBUG_SO)

# ---- benchmarks (not part of make check) ----
MLB_DIR		:= selftests/bench/alloc
MLB_BIN		:= $(B)/bench/alloc-bench
MLB_CPUTIME	:= $(B)/bench/cputime
# bpf_kcost runs alloc-bench under the five allocators: built by make all.
SELFTEST_TARGETS += $(MLB_BIN)

$(MLB_BIN): $(MLB_DIR)/alloc_bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $<

$(MLB_CPUTIME): $(MLB_DIR)/cputime.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# The decision ring's cost: libmlalloc built without it (-DML_NO_EVENTS)
# against the real one, interleaved pairs of CPU time (the script).
MLB_NORING	:= $(B)/bench/libmlalloc-noring.so
$(MLB_NORING): $(addprefix $(MLALLOC_DIR)/,$(MLALLOC_SRCS)) $(MLALLOC_HDRS) $(MLALLOC_MAP) VERSION
	@mkdir -p $(@D)
	$(CC) $(MLALLOC_CFLAGS) -DML_NO_EVENTS -shared -Wl,--version-script=$(MLALLOC_MAP) \
		-Wl,-z,now -o $@ $(addprefix $(MLALLOC_DIR)/,$(MLALLOC_SRCS)) $(LDFLAGS) -lpthread

.PHONY: bench-ring
bench-ring: $(MLB_BIN) $(MLB_CPUTIME) $(B)/lib/libmlalloc.so $(MLB_NORING)
	@$(MLB_DIR)/ring_cost $(MLB_BIN) $(MLB_CPUTIME) $(B)/lib/libmlalloc.so $(MLB_NORING) \
		$(or $(ROUNDS),15)

# ROUNDS=N interleaved rounds (default 5); EXTRA, WORKLOADS: see the script
.PHONY: bench-alloc
bench-alloc: $(MLB_BIN) $(MLB_CPUTIME) $(B)/lib/libmlalloc.so
	@$(MLB_DIR)/run $(MLB_BIN) $(MLB_CPUTIME) $(B)/lib/libmlalloc.so $(or $(ROUNDS),5)
