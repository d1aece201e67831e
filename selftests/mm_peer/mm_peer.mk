# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own mm selftests for the mm_peer suite
# (selftests/mm_peer/mm_peer_test.c): Debian's linux-source-6.1
# tools/testing/selftests/vm, extracted into the cache by scripts/deps ksft
# and built static (the guest has no libnuma) with that directory's own
# Makefile into build/selftests/mm/.  Nothing of them is committed.

MM_PEER_SRC	:= $(KSFT_SRC)/tools/testing/selftests/vm
MM_PEER_OUT	:= $(B)/selftests/mm
MM_PEER_PROGS	:= mremap_test mremap_dontunmap madv_populate userfaultfd \
		   soft-dirty mlock2-tests map_fixed_noreplace \
		   split_huge_page_test khugepaged hugepage-mremap map_hugetlb \
		   ksm_tests migration transhuge-stress
MM_PEER_BINS	:= $(addprefix $(MM_PEER_OUT)/,$(MM_PEER_PROGS))
SELFTEST_TARGETS += $(MM_PEER_BINS)

# Their warnings are the kernel tree's, not ours: kept in build.log,
# printed when the build fails.  --no-print-directory keeps it quiet.
$(MM_PEER_BINS) &: $(KSFT_STAMP)
	@mkdir -p $(MM_PEER_OUT)
	@$(MAKE) --no-print-directory -C $(MM_PEER_SRC) OUTPUT=$(MM_PEER_OUT) \
		EXTRA_CFLAGS=-static LDLIBS='-lrt -lpthread -lnuma' \
		$(MM_PEER_BINS) > $(MM_PEER_OUT)/build.log 2>&1 || \
		{ cat $(MM_PEER_OUT)/build.log; exit 1; }
