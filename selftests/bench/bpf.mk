# SPDX-License-Identifier: GPL-2.0
# BPF benchmarks (selftests/bench/bpf), not part of make check:
# 'make bench-bpf' runs them on the host.
BPF_BENCH	:= $(B)/selftests/bpf_bench
SELFTEST_TARGETS += $(BPF_BENCH)

$(BPF_BENCH): selftests/bench/bpf/bpf_bench.c $(MLBPF_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLBPF_CFLAGS) -o $@ $< $(MLBPF_LIBS)

.PHONY: bench-bpf
bench-bpf: $(BPF_BENCH)
	@selftests/bench/bpf/run
