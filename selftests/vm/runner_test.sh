#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test-VM runner itself: usage errors, exit status, --add, --cmdline,
# the time limit and the kernel-log check.  TAP on stdout.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
run=selftests/vm/run
n=0 failed=0
echo "TAP version 13"
echo "1..9"
check() {	# check NAME CONDITION-EXIT-STATUS [DETAIL]
	n=$((n + 1))
	if [ "$2" = 0 ]; then echo "ok $n $1"; else
		echo "not ok $n $1"; failed=1; [ -n "${3:-}" ] && sed 's/^/# /' <<< "$3"; fi
}
one_line_error() {	# stderr is exactly one line and status is 2
	[ "$1" = 2 ] && [ "$(wc -l <<< "$2")" = 1 ] && [ -n "$2" ]
}

err=$($run --kernel 5.10 -- true 2>&1 >/dev/null); rc=$?
one_line_error $rc "$err"; check "unknown kernel: one line, exit 2" $? "$rc: $err"

err=$($run --kernel 6.1 2>&1 >/dev/null); rc=$?
one_line_error $rc "$err"; check "no command: one line, exit 2" $? "$rc: $err"

err=$(QEMU=/nonexistent/qemu $run --kernel 6.1 -- true 2>&1 >/dev/null); rc=$?
one_line_error $rc "$err"; check "missing qemu: one line, exit 2" $? "$rc: $err"

# Output checks read stdout alone: stderr may carry the runner's own notes
# (e.g. mkinitramfs building a base image on a fresh cache).
out=$($run --kernel 6.1 -- sh -c 'echo hello from $(uname -r); exit 3' 2>/dev/null); rc=$?
[ $rc = 3 ] && grep -qx "hello from $(scripts/deps krel 6.1)" <<< "$out"
check "command output streamed and exit status 3 returned" $? "$rc: $out"

d=$(mktemp -d); mkdir -p "$d/payload"; echo "added $$" > "$d/payload/file"
out=$($run --kernel 6.12 --add "$d/payload" -- cat /mnt/add/payload/file 2>/dev/null); rc=$?
rm -rf "$d"
[ $rc = 0 ] && [ "$out" = "added $$" ]; check "--add DIR shows up under /mnt/add" $? "$rc: $out"

out=$($run --kernel 6.12 -- sh -c 'grep -c " la57" /proc/cpuinfo' 2>/dev/null); rc=$?
[ $rc = 0 ] && [ "$out" -ge 1 ]; check "default: 5-level paging (la57)" $? "$rc: $out"

out=$($run --kernel 6.12 --cmdline no5lvl -- sh -c 'grep -c " la57" /proc/cpuinfo; true' 2>/dev/null); rc=$?
[ $rc = 0 ] && [ "$out" = 0 ]; check "--cmdline no5lvl: 4-level paging" $? "$rc: $out"

$run --kernel 6.1 --timeout 4 -- sleep 60 >/dev/null 2>&1; rc=$?
[ $rc = 124 ]; check "time limit: exit 124" $? "exit $rc"

out=$($run --kernel 6.1 -- sh -c 'echo c > /proc/sysrq-trigger; sleep 5' 2>&1); rc=$?
[ $rc = 125 ] && grep -q "kernel problem" <<< "$out"
check "a kernel crash in the guest fails the run with exit 125" $? "$rc: $(tail -3 <<< "$out")"
exit $failed
