# SPDX-License-Identifier: GPL-2.0
#
# memlens: one Makefile for the module, the BPF programs, the userspace
# programs and the test suites.
#
#   make run            build everything and run the main job
#   make check          build everything and run every test suite
#   make soak [SOAK_MIN=30]  the debug kernel under every stress at once
#   make module [KVER=6.1]  build memlens.ko for every (or one) guest kernel
#                       (6.1, 6.12, newest)
#   make deps           install packages, fetch guest kernels (idempotent)
#   make debug-kernel   build the 6.1-debug guest kernel (lockdep, KASAN, ...)
#   make deb            Debian packages memlens, memlens-dkms, libmlalloc1,
#                       libmlalloc-dev into build/deb/ (docs/packaging.md)
#   make install [DESTDIR=... PREFIX=/usr/local]  CLI, man pages, completion,
#                       libmlalloc, and the module's DKMS source tree
#   make help           the full list
#
# Build outputs go to build/ (git-ignored).  Downloads, guest kernels and
# guest images go to $(CACHE), outside the checkout, so that a fresh clone
# on the same machine reuses them.

CACHE		?= $(or $(MEMLENS_CACHE),$(HOME)/.cache/memlens)
export MEMLENS_CACHE := $(CACHE)

B		:= $(CURDIR)/build
# newest: Debian's newest packaged kernel (trixie-backports today), whose
# modules scripts/deps builds in a trixie build root (scripts/deps kmake).
KERNELS		:= 6.1 6.12 newest
# Built from source by scripts/debug-kernel (make debug-kernel), on first
# use by make check, which builds memlens.ko for it too.
DEBUG_KERNELS	:= 6.1-debug
KVER		?= $(KERNELS)

KSFT_SRC	:= $(CACHE)/src/linux-source-6.1
KSFT_INC	:= $(KSFT_SRC)/tools/testing/selftests
KSFT_STAMP	:= $(KSFT_SRC)/.done

CC		:= gcc
CLANG		:= clang
BPFTOOL		:= bpftool
VERSION		:= $(shell cat VERSION)
CFLAGS		:= -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
		   -DMEMLENS_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
# EXTRA_CFLAGS: added to the above (debian/rules: dpkg-buildflags).
EXTRA_CFLAGS	?=
LDFLAGS		:=

# make install (and the paths in mlalloc.pc); debian/rules sets them.
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
BASHCOMPDIR	?= $(PREFIX)/share/bash-completion/completions
DKMSDIR		?= $(PREFIX)/src/memlens-$(VERSION)

# What the fragments below add to.
USERSPACE_TARGETS :=
BPF_TARGETS	:=
SELFTEST_TARGETS :=

.PHONY: all deps debug-kernel userspace bpf module selftests check run soak clean help lint \
	man install deb \
	$(addprefix module-,$(KERNELS) $(DEBUG_KERNELS))

all: userspace bpf module selftests

# Each part has a fragment of its own; they only append to the variables
# above and define their own rules.  The BPF programs and libmlbpf come
# first: the fragments that link the library use its variables.
FIRST_MK	:= bpf/bpf.mk userspace/mlbpf/mlbpf.mk
include $(FIRST_MK)
include $(filter-out $(FIRST_MK),$(sort $(wildcard bpf/*.mk userspace/*/*.mk selftests/*.mk selftests/*/*.mk)))

deps:
	@scripts/deps all

debug-kernel:
	@scripts/debug-kernel >/dev/null

$(KSFT_STAMP):
	@scripts/deps ksft

userspace: $(USERSPACE_TARGETS)
bpf: $(BPF_TARGETS)
selftests: $(SELFTEST_TARGETS)

# Kbuild of 6.1 and 6.12 cannot put objects outside the source tree, so
# each guest kernel gets a copy of Kbuild + module/ under build/module/VER.
# cp -p keeps timestamps, so unchanged files are not rebuilt.  The guest
# kernels' vmlinux (needed for module BTF) is not shipped: no module BTF.
# scripts/deps kmake runs make -C <headers> there, for newest inside its
# build root ('+': the outer jobserver reaches the 6.x builds as before).
module: $(addprefix module-,$(KVER))

$(addprefix module-,$(KERNELS) $(DEBUG_KERNELS)): module-%:
	@mkdir -p $(B)/module/$*/module
	@cp -p Kbuild VERSION $(B)/module/$*/
	@cp -pr module/. $(B)/module/$*/module/
	+@scripts/deps kmake $* -s M=$(B)/module/$* W=1 \
		CONFIG_DEBUG_INFO_BTF_MODULES= modules
	@echo "  MODULE  build/module/$*/module/memlens.ko ($$(scripts/deps krel $*))"

# Every suite listed in selftests/suites, on the host and in the guests.
# SUITES="a b" and WHERE="host 6.1" narrow the run.
# deps first, then the build (with -j the two would race: the build needs
# what deps installs).
check: deps
	+@$(MAKE) --no-print-directory all
	@selftests/check

run: deps
	+@$(MAKE) --no-print-directory all
	@scripts/demo

# Not part of make check: the debug kernel under pgwalk_stress, the
# kernel's mm selftests and the fault-accounting load at once, for
# SOAK_MIN minutes (default 30): selftests/soak/run, docs/debug-kernel.md.
soak: deps
	+@$(MAKE) --no-print-directory all module-6.1-debug
	@selftests/soak/run

# One definition of the static checks: the lint suite of make check.
lint: $(KSFT_STAMP)
	@selftests/lint/run

# Man pages from the CLI's own --help (scripts/manpages, help2man).
man: $(B)/man/.done

$(B)/man/.done: $(B)/bin/memlens scripts/manpages
	@scripts/manpages $(B)/bin/memlens $(VERSION) $(B)/man
	@touch $@

install: userspace man
	install -D -m 0755 $(B)/bin/memlens $(DESTDIR)$(BINDIR)/memlens
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DKMSDIR)/module
	install -m 0644 $(B)/lib/libmlalloc.so.$(MLALLOC_SOVERSION) \
		$(B)/lib/libmlalloc.a $(B)/lib/libmlalloc-inspect.a $(DESTDIR)$(LIBDIR)/
	ln -sfn libmlalloc.so.$(MLALLOC_SOVERSION) $(DESTDIR)$(LIBDIR)/libmlalloc.so
	install -m 0644 $(B)/lib/pkgconfig/mlalloc.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 0644 $(B)/include/mlalloc.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(B)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 userspace/completion/memlens $(DESTDIR)$(BASHCOMPDIR)/memlens
	install -m 0644 Kbuild VERSION $(DESTDIR)$(DKMSDIR)/
	sed "s/#MODULE_VERSION#/$(VERSION)/" dkms.conf > $(DESTDIR)$(DKMSDIR)/dkms.conf
	cd module && find . \( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) \
		-exec install -D -m 0644 {} $(DESTDIR)$(DKMSDIR)/module/{} \;

# The packages are built from a copy of the tree's files (git ls-files,
# as they are in the work tree) in build/deb/src, so that neither the tree
# nor its parent directory gets dpkg-buildpackage's outputs.  The version
# is VERSION's: debian/changelog is written from it (scripts/deb).
deb:
	@scripts/deb $(B)/deb

clean:
	rm -rf $(B)

help:
	@sed -n 's/^#   //p' Makefile
	@echo "  selftests/vm/run --help   boot a guest kernel by hand"
