#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The prefixed-API test under valgrind memcheck.  Valgrind replaces glibc's
# malloc, not mlalloc's, so what it checks here is the allocator itself:
# no access outside its mappings, no use of uninitialised values in its
# bookkeeping, and the test code around it.  Prints TAP.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$ROOT/build/selftests/mlalloc_api_prefixed_test
echo "TAP version 13"
echo "1..1"
if ! command -v valgrind >/dev/null; then
	echo "ok 1 valgrind # SKIP valgrind not installed"
	exit 0
fi
out=$(valgrind -q --error-exitcode=99 --child-silent-after-fork=no "$T" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /' | grep -v '^# ok\|RUN\|  OK' | head -40
if [ $rc -eq 0 ]; then
	echo "ok 1 valgrind memcheck of mlalloc_api_prefixed_test"
else
	echo "not ok 1 valgrind memcheck of mlalloc_api_prefixed_test (exit $rc)"
	exit 1
fi
