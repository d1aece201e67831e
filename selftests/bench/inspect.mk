# SPDX-License-Identifier: GPL-2.0
# The inspector's benchmark (selftests/bench/inspect/run), not part of
# make check: 'make bench-inspect' runs it on the host.

.PHONY: bench-inspect
bench-inspect: userspace $(B)/selftests/inspect_workload
	@selftests/bench/inspect/run
