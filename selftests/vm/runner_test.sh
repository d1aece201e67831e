#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test-VM runner itself: usage errors, exit status, --add, --cmdline,
# the time limit and the kernel-log check; and the batches selftests/check
# runs the guest suites in (selftests/vm/batch, selftests/vm/cut-batch).
# TAP on stdout.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
run=selftests/vm/run
n=0 failed=0
echo "TAP version 13"
echo "1..13"
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

err=$($run --kernel 6.1 --ko /nonexistent/memlens.ko -- true 2>&1 >/dev/null); rc=$?
one_line_error $rc "$err"; check "--ko without a file: one line, exit 2" $? "$rc: $err"

# Output checks read stdout alone: stderr may carry the runner's own notes
# (e.g. mkinitramfs building a base image on a fresh cache).
# shellcheck disable=SC2016 # $(uname -r) is the guest's, expanded there
out=$($run --kernel 6.1 -- sh -c 'echo hello from $(uname -r); exit 3' 2>/dev/null); rc=$?
[ $rc = 3 ] && grep -qx "hello from $(scripts/deps krel 6.1)" <<< "$out"
check "command output streamed and exit status 3 returned" $? "$rc: $out"

# newest: Debian's newest packaged kernel, its modules from the merged-/usr
# tree (zram, ext4 and loop load from the base image).
out=$($run --kernel newest -- sh -c 'uname -r; modprobe zram && modprobe ext4 && modprobe loop && echo loaded' 2>/dev/null); rc=$?
[ $rc = 0 ] && [ "$out" = "$(scripts/deps krel newest)
loaded" ]; check "newest boots and loads its zram, ext4 and loop" $? "$rc: $out"

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
# A batch of three suites whose second crashes the kernel: the first
# passes, the second fails with the problem in its TAP, the third did not
# run, and the guest's own result says not all ran to their end.
d=$(mktemp -d); mkdir -p "$d/b" "$d/res"
cat > "$d/b/list" <<'EOF2'
one@6.1 0 60 printf '1..1\nok 1 first\n'
two@6.1 0 60 echo c > /proc/sysrq-trigger; sleep 5
three@6.1 0 60 printf '1..1\nok 1 third\n'
EOF2
$run --kernel 6.1 --add "$d/b" --log "$d/res/g.klog" -- \
	sh /opt/memlens/src/selftests/vm/batch /mnt/add/b/list > "$d/res/g.out" 2>&1; rc=$?
selftests/vm/cut-batch "$d/res" g "$d/b/list" "$rc"
[ $rc = 125 ] && [ "$(cat "$d/res/one@6.1.rc")" = 0 ] && grep -qx "ok 1 first" "$d/res/one@6.1.tap" &&
	[ "$(cat "$d/res/two@6.1.rc")" = 125 ] && grep -q "^# kernel problem during two@6.1" "$d/res/two@6.1.tap" &&
	grep -q "^not ok 1 three@6.1 did not run" "$d/res/three@6.1.tap" &&
	grep -q "^not ok 1 1 of 3 suites ran to their end" "$d/res/g.tap"
check "batch: a crash fails its own suite, the next did not run" $? \
	"$rc: $(head -n 3 "$d"/res/*.tap)"
rm -rf "$d"

# Each suite of a batch starts from the guest as it booted: what the first
# changes (THP setting, zram, a process left running, a file in /tmp) the
# second does not see.
d=$(mktemp -d); mkdir -p "$d/b"
cat > "$d/b/list" <<'EOF2'
a@6.12 0 60 cp /sys/kernel/mm/transparent_hugepage/enabled /run/thp0; echo never > /sys/kernel/mm/transparent_hugepage/enabled; modprobe zram; touch /tmp/left; (sleep 1000 &)
b@6.12 0 60 cmp -s /run/thp0 /sys/kernel/mm/transparent_hugepage/enabled && ! grep -q '^zram ' /proc/modules && [ ! -e /tmp/left ] && ! pidof sleep
EOF2
out=$($run --kernel 6.12 --add "$d/b" -- sh /opt/memlens/src/selftests/vm/batch /mnt/add/b/list 2>&1); rc=$?
[ $rc = 0 ] && grep -q "^@@memlens-suite@@ end b@6.12 0" <<< "$out"
check "batch: each suite starts from the guest as it booted" $? "$rc: $(tail -5 <<< "$out")"
rm -rf "$d"
exit $failed
