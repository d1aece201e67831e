# SPDX-License-Identifier: GPL-2.0
# The page-table walk benchmark (selftests/bench/pgwalk), not part of
# make check: 'make bench-pgwalk' runs it in every guest kernel.
PGWALK_BENCH	:= $(B)/selftests/pgwalk_bench
SELFTEST_TARGETS += $(PGWALK_BENCH)

$(PGWALK_BENCH): selftests/bench/pgwalk/pgwalk_bench.c selftests/module/pt_lib.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lpthread

.PHONY: bench-pgwalk
bench-pgwalk: module $(PGWALK_BENCH)
	@selftests/bench/pgwalk/run
