// SPDX-License-Identifier: GPL-2.0
/*
 * memlens watch with the BPF backend: the fault rates and totals come from
 * the BPF fault counters, loaded once for the whole watch, and stay within
 * /proc's count over a wider window.  Host only: in the 6.12 guest (QEMU
 * TCG) attaching and detaching the fault programs while the workload
 * faults in a loop has oopsed the kernel (int3 in handle_mm_fault), and in
 * the 6.1 guest after memlens.ko tracked processes (NULL call from the
 * page-fault tracepoint) -- reported, not worked around here.
 */
#include "kselftest_harness.h"
#include "inspect_lib.h"

static char err[256];

TEST(watch_counts_faults_with_bpf)
{
	char *args[] = { "-f", NULL };
	char pid[16];
	char *argv[] = { "memlens", "watch", "--backend", "bpf", "--json", "-n", "3",
			 "-i", "0.3", pid, NULL };
	struct workload w;
	struct jval *doc;
	char *last;
	double m0, m1;

	if (geteuid() || access("/sys/kernel/btf/vmlinux", R_OK))
		SKIP(return, "BPF needs root and BTF");
	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));	/* faults 256 pages over and over */
	snprintf(pid, sizeof(pid), "%d", w.pid);
	m0 = stat_field(w.pid, 10);
	ASSERT_EQ(0, ml_run(&res, argv));
	m1 = stat_field(w.pid, 10);
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	res.out[strlen(res.out) - 1] = '\0';
	last = strrchr(res.out, '\n');
	ASSERT_NE(NULL, last);
	doc = jparse(last + 1, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("bpf", jstr(doc, "rates.minor_faults_per_second.source"));
	/* no floor on the rate, which depends on the machine, but counted ... */
	EXPECT_GT(jnum(doc, "rates.minor_faults_per_second.value"), 0);
	/* ... and within /proc's count over a wider window (0.3 s at least) */
	EXPECT_LE(jnum(doc, "rates.minor_faults_per_second.value") * 0.3, m1 - m0);
	/* the total counted while watched, likewise */
	EXPECT_GT(jnum(doc, "faults.minor_tracked_total.value"), 0);
	EXPECT_STREQ("counting", jstr(doc, "faults.tracked_mode"));
	EXPECT_LE(jnum(doc, "faults.minor_tracked_total.value"), m1 - m0);
	EXPECT_EQ(0, wl_stop(&w));
}

TEST_HARNESS_MAIN
