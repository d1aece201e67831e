# SPDX-License-Identifier: GPL-2.0
# kcost overhead benchmark (selftests/bench/kcost), not part of make check:
# 'make bench-kcost' runs it on the host.
KCOST_BENCH	:= $(B)/selftests/kcost_bench
SELFTEST_TARGETS += $(KCOST_BENCH)

$(KCOST_BENCH): selftests/bench/kcost/kcost_bench.c $(MLBPF_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(MLBPF_CFLAGS) -o $@ $< $(MLBPF_LIBS) -lm

.PHONY: bench-kcost
bench-kcost: $(KCOST_BENCH)
	$(KCOST_BENCH) $(or $(PAIRS),31) 100000 64
	$(KCOST_BENCH) $(or $(PAIRS),31) 10000000 0
