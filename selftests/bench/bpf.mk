# SPDX-License-Identifier: GPL-2.0
# BPF benchmarks (selftests/bench/bpf), not part of make check:
# 'make bench-bpf' runs them on the host.
BPF_BENCH	:= $(B)/selftests/bpf_bench
SELFTEST_TARGETS += $(BPF_BENCH)

$(BPF_BENCH): selftests/bench/bpf/bpf_bench.c $(BPF_SKELS) $(wildcard userspace/memlens/bpf_*.c userspace/memlens/bpf_*.h bpf/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iuserspace/memlens -I$(B)/bpf -Ibpf -o $@ $< -lbpf -lelf -lz

.PHONY: bench-bpf
bench-bpf: $(BPF_BENCH)
	@selftests/bench/bpf/run
