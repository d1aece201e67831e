# SPDX-License-Identifier: GPL-2.0
# The inspector's test workload (selftests/userspace/inspect_workload.c):
# not a test itself, so not picked up by selftests.mk's *_test.c rule.
# -fno-builtin: gcc must not drop the malloc+memset pairs it exists for.

SELFTEST_TARGETS += $(B)/selftests/inspect_workload

$(B)/selftests/inspect_workload: selftests/userspace/inspect_workload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $<
