# SPDX-License-Identifier: GPL-2.0
# The inspector's test workload (selftests/userspace/inspect_workload.c):
# not a test itself, so not picked up by selftests.mk's *_test.c rule.
# -fno-builtin: gcc must not drop the malloc+memset pairs it exists for.

SELFTEST_TARGETS += $(B)/selftests/inspect_workload

$(B)/selftests/inspect_workload: selftests/userspace/inspect_workload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fno-builtin -o $@ $<

# Statically linked: it shares pages only with its own child (see the file).
SELFTEST_TARGETS += $(B)/selftests/pss_workload

$(B)/selftests/pss_workload: selftests/userspace/pss_workload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $<
