# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own mm selftests for the mm_peer suite
# (selftests/mm_peer/mm_peer_test.c), built static (the guest has no
# libnuma) with each source's own Makefile into one directory per guest
# kernel lane, build/selftests/mm-LANE/, which the test picks by uname -r:
#   mm-6.1     Debian's linux-source-6.1 tools/testing/selftests/vm
#              (scripts/deps ksft)
#   mm-6.12    linux-source-6.12 tools/testing/selftests/mm
#   mm-newest  linux-source-<series of newest> tools/testing/selftests/mm
#              (both scripts/deps mmsrc, with their uapi headers)
# A lane without a source package, and a program its tree lacks or fails
# to build, get 6.1's, said in that lane's build.log and its SOURCE file
# (which the test prints).  6.1's userfaultfd is uffd-stress in later
# trees.  Nothing of them is committed.

MMSRC_STAMP	:= $(CACHE)/src/.mmsrc.done
MM_PEER_SRC	:= $(KSFT_SRC)/tools/testing/selftests/vm
MM_PEER_PROGS	:= mremap_test mremap_dontunmap madv_populate userfaultfd \
		   soft-dirty mlock2-tests map_fixed_noreplace \
		   split_huge_page_test khugepaged hugepage-mremap map_hugetlb \
		   ksm_tests migration transhuge-stress
MM_PEER_61	:= $(B)/selftests/mm-6.1
MM_PEER_BINS	:= $(addprefix $(MM_PEER_61)/,$(MM_PEER_PROGS))
MM_PEER_LANES	:= $(B)/selftests/mm-6.12/SOURCE $(B)/selftests/mm-newest/SOURCE
SELFTEST_TARGETS += $(MM_PEER_BINS) $(MM_PEER_LANES)
MM_PEER_MAKE	= $(MAKE) --no-print-directory -k EXTRA_CFLAGS=-static \
		  LDLIBS='-lrt -lpthread -lm -lnuma'

$(MMSRC_STAMP):
	@scripts/deps mmsrc

# Their warnings are the kernel tree's, not ours: kept in build.log,
# printed when the build fails.  --no-print-directory keeps it quiet.
$(MM_PEER_BINS) &: $(KSFT_STAMP)
	@mkdir -p $(MM_PEER_61)
	@$(MM_PEER_MAKE) -C $(MM_PEER_SRC) OUTPUT=$(MM_PEER_61) \
		$(MM_PEER_BINS) > $(MM_PEER_61)/build.log 2>&1 || \
		{ cat $(MM_PEER_61)/build.log; exit 1; }
	@echo "linux-source-6.1 $$(dpkg-query -W -f='$${Version}' linux-source-6.1 2>/dev/null)" \
		> $(MM_PEER_61)/SOURCE

# A later lane: its tree's programs (make -k: one that fails to build
# falls back), then 6.1's for whatever is missing.
$(B)/selftests/mm-%/SOURCE: $(MMSRC_STAMP) $(MM_PEER_BINS)
	@set -e; out=$(@D); rm -rf "$$out"; mkdir -p "$$out"; \
	tree=$(CACHE)/src/mm-$*; src=$$tree/tools/testing/selftests/mm; \
	log=$$out/build.log; : > "$$log"; \
	if [ -d "$$src" ]; then \
		echo "$$(basename "$$(readlink -f "$$tree")") $$(cat "$$tree/.version")" > $@; \
		progs=; for p in $(MM_PEER_PROGS); do \
			[ $$p = userfaultfd ] && [ ! -e "$$src/$$p.c" ] && p=uffd-stress; \
			[ -e "$$src/$$p.c" ] && progs="$$progs $$out/$$p"; \
		done; \
		$(MM_PEER_MAKE) -C "$$src" OUTPUT="$$out" $$progs >> "$$log" 2>&1 || \
			echo "mm_peer: some of $$src failed to build (above)" >> "$$log"; \
	else \
		echo "no source package for $*: linux-source-6.1's tests" > $@; \
	fi; \
	for p in $(MM_PEER_PROGS); do \
		[ -x "$$out/$$p" ] && continue; \
		[ $$p = userfaultfd ] && [ -x "$$out/uffd-stress" ] && continue; \
		cp -p $(MM_PEER_61)/$$p "$$out/$$p"; \
		echo "mm_peer: $$p: 6.1's (not built from this lane's source)" | tee -a "$$log" >> $@; \
	done; \
	echo "mm-$*: $$(head -n1 $@), $$(grep -c "^mm_peer:" $@ || true) of 6.1's programs"
