# SPDX-License-Identifier: GPL-2.0
# Test programs of the module, BPF and CLI suites: selftests/<part>/*_test.c
# -> build/selftests/<name>.  They use kselftest's harness, extracted from
# Debian's linux-source-6.1 into the cache (never committed).  The suites
# that run them are listed in selftests/suites.

# The harness's EXPECT_* macros compare mixed signedness by design.
KSFT_CFLAGS	:= $(CFLAGS) -Wno-sign-compare -I$(KSFT_INC) -Iselftests/lib -MMD -MP

define selftest_dir
$(1)_TESTS	:= $$(patsubst selftests/$(1)/%.c,$(B)/selftests/%,$$(wildcard selftests/$(1)/*_test.c))
SELFTEST_TARGETS += $$($(1)_TESTS)
$$($(1)_TESTS): $(B)/selftests/%: selftests/$(1)/%.c $(KSFT_STAMP) $(2)
	@mkdir -p $$(@D)
	$$(CC) $$(KSFT_CFLAGS) $(3) -MF $$@.d -o $$@ $$< $(4)
-include $$($(1)_TESTS:=.d)
endef

# part, extra prerequisites, extra cflags, libraries
$(eval $(call selftest_dir,userspace,$(B)/bin/memlens,,))
$(eval $(call selftest_dir,module,,,))
$(eval $(call selftest_dir,bpf,$(MLBPF_LIB),$(MLBPF_CFLAGS),$(MLBPF_LIBS)))
# mm_peer_test runs the kernel's mm selftests (selftests/mm_peer/mm_peer.mk)
$(eval $(call selftest_dir,mm_peer,$(MM_PEER_BINS) $(MLBPF_LIB),$(MLBPF_CFLAGS),$(MLBPF_LIBS)))
