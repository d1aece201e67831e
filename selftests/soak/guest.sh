#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The soak, in the guest (selftests/soak/run boots it): three loads at
# once for SECONDS seconds, each started again as soon as it ends, and
# the runs still going at the end stopped (SIGTERM) and counted as cut,
# not as failed:
#   pgwalk   pgwalk_stress_test (readers of pagetable/vmas against a
#            process that remaps, forks and exits), ML_STRESS_SECONDS=120
#   peer     mm_peer_test: the kernel's mm selftests plain and tracked,
#            with the debugfs reader and the BPF walker back to back
#            (MM_PEER_READER_SLEEP_MS=0)
#   count    module_count_exact_test: exact fault counts of workloads
#            the test controls
# then one summary: runs and failures of each load, reads done, faults
# counted (and how many of those counts differed from /proc/PID/stat),
# and the kernel problems in the log.  Exit 0 only with no failure and no
# kernel problem.
#
# usage: guest.sh SECONDS
# shellcheck disable=SC2016 # (awk programs in single quotes)
set -u
secs=${1:?usage: guest.sh SECONDS}
out=/tmp/soak
mkdir -p "$out"
end=$(($(date +%s) + secs))

# loop NAME COMMAND...: run COMMAND until the end, one log per run; a run
# killed by the SIGTERM at the end (status 143 after it) is cut.
loop() {
	name=$1
	shift
	n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$((n + 1))
		"$@" > "$out/$name.$n.log" 2>&1
		rc=$?
		[ "$rc" = 143 ] && [ "$(date +%s)" -ge "$end" ] && rc="cut"
		echo "$rc" > "$out/$name.$n.rc"
	done
}

# zram's two devices before the loads start: mm_peer swaps on zram0,
# the count load faults on zram1, and each loads the module when it is
# missing.  Two modprobes at once race: the second returns before the
# first has made the devices, and the count load found no zram1.
modprobe zram num_devices=2 || echo "soak: no zram module" >&2

loop pgwalk env ML_STRESS_SECONDS=120 ML_SLOWDOWN=3 pgwalk_stress_test &
loop peer env ML_SLOWDOWN=3 MM_PEER_READER_SLEEP_MS=0 mm_peer_test &
loop count env ML_SLOWDOWN=3 module_count_exact_test &
sleep "$secs"
# Every process of the three (the harness forks each test, mm_peer its
# readers; the traced mm tests die with their tracer: PTRACE_O_EXITKILL),
# found by name in /proc: the guest's busybox has no pkill.
for d in /proc/[0-9]*; do
	case $(cat "$d/comm" 2> /dev/null) in
	pgwalk_stress_t* | mm_peer_test | module_count_e*) kill -TERM "${d#/proc/}" 2> /dev/null ;;
	esac
done
wait

# runs NAME: "runs failed cut" of a load (a run fails on a non-zero
# status; one stopped at the end is cut).
runs() {
	r=0 f=0 c=0
	for rc in "$out/$1".*.rc; do
		[ -e "$rc" ] || continue
		case $(cat "$rc") in
		0) r=$((r + 1)) ;;
		cut) c=$((c + 1)) ;;
		*) r=$((r + 1)) f=$((f + 1)) ;;
		esac
	done
	echo "$r $f $c"
}

# sum AWK-PROGRAM FILES...: the sum the program prints over the files.
sum() {
	prog=$1
	shift
	cat "$@" 2>/dev/null | awk "$prog"
}

# shellcheck disable=SC2046 # (split on purpose: nine numbers)
set -- $(runs pgwalk) $(runs peer) $(runs count)
pg_runs=$1 pg_fail=$2 pg_cut=$3 peer_runs=$4 peer_fail=$5 peer_cut=$6
count_runs=$7 count_fail=$8 count_cut=$9
# pgwalk_stress: "# 120 s, 3 process restarts, 5120 reads, ..."
pg_reads=$(sum '/ process restarts, / { for (i = 1; i < NF; i++) if ($(i + 1) == "reads,") s += $i } END { print s + 0 }' "$out"/pgwalk.*.log)
# mm_peer: "while it ran: N debugfs reads, M BPF walks" and
# "faults: memlens X (minor ...), /proc Y"
peer_reads=$(sum '/while it ran: / { for (i = 1; i < NF; i++) { if ($(i + 1) == "debugfs" && $(i + 2) == "reads,") s += $i; if ($(i + 1) == "BPF" && $(i + 2) == "walks") s += $i } } END { print s + 0 }' "$out"/peer.*.log)
peer_faults=$(sum '/faults: memlens / { for (i = 1; i < NF; i++) if ($i == "memlens") s += $(i + 1) } END { print s + 0 }' "$out"/peer.*.log)
peer_diff=$(sum '/faults: memlens / { m = -1; p = -2; for (i = 1; i < NF; i++) { if ($i == "memlens") m = $(i + 1); if ($i == "/proc") p = $(i + 1) } if (m != p) d++ } END { print d + 0 }' "$out"/peer.*.log)
problems=$(dmesg | grep -cE 'BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular|possible recursive|inconsistent lock|lockdep|rcu_sched self-detected|RCU stall|soft lockup|hung_task|blocked for more than|kmemleak|Call Trace:')

echo "# soak: $secs s on $(uname -r)"
printf '# %-8s %5s %7s %4s\n' load runs failed cut
printf '# %-8s %5d %7d %4d\n' pgwalk "$pg_runs" "$pg_fail" "$pg_cut" \
	peer "$peer_runs" "$peer_fail" "$peer_cut" count "$count_runs" "$count_fail" "$count_cut"
echo "# reads: $pg_reads by pgwalk_stress, $peer_reads by mm_peer's readers (debugfs reads and BPF walks while a test ran)"
echo "# faults counted by memlens in mm_peer's tracked runs: $peer_faults; runs whose count differed from /proc/PID/stat: $peer_diff"
echo "# kernel problems in the log: $problems"
for f in "$out"/*.rc; do
	case $(cat "$f") in 0|cut) continue ;; esac
	log=${f%.rc}.log
	echo "# failed: $(basename "$log") (exit $(cat "$f")):"
	grep -E '^not ok|:[0-9]+:[a-z_]+:' "$log" | head -20 | sed 's/^/#   /'
done
[ "$pg_fail$peer_fail$count_fail$problems$peer_diff" = 00000 ]
