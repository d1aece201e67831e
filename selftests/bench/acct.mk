# SPDX-License-Identifier: GPL-2.0
# The fault-accounting overhead benchmark (selftests/bench/acct), not part
# of make check: 'make bench-acct' runs it in every guest kernel.
ACCT_BENCH	:= $(B)/selftests/acct_bench
SELFTEST_TARGETS += $(ACCT_BENCH)

$(ACCT_BENCH): selftests/bench/acct/acct_bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

.PHONY: bench-acct
bench-acct: module $(ACCT_BENCH)
	@selftests/bench/acct/run
