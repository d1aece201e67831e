# SPDX-License-Identifier: GPL-2.0
# BPF benchmarks (selftests/bench/bpf), not part of make check:
# 'make bench-bpf' runs them on the host.
BPF_BENCH	:= $(B)/selftests/bpf_bench
BENCH_EMPTY	:= $(B)/selftests/bench_empty.bpf.o
SELFTEST_TARGETS += $(BPF_BENCH) $(BENCH_EMPTY)

$(BPF_BENCH): selftests/bench/bpf/bpf_bench.c $(MLBPF_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLBPF_CFLAGS) -o $@ $< $(MLBPF_LIBS)

# The empty programs of the "empty program" row (the floor).
$(BENCH_EMPTY): selftests/bench/bpf/bench_empty.bpf.c $(B)/bpf/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

.PHONY: bench-bpf
bench-bpf: $(BPF_BENCH)
	@selftests/bench/bpf/run
