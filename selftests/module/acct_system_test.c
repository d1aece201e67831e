// SPDX-License-Identifier: GPL-2.0
/*
 * System-wide counters of memlens.ko: debugfs faults, tlb, reset.  Runs in
 * a guest with the module loaded (suite flag insmod) and nothing else
 * running, so the counters can be compared exactly with /proc/vmstat and
 * the tracefs histogram of the same tracepoint.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "acct.h"

#define N_PAGES	1000

static char *work_mem;

/* Child step: touch N_PAGES fresh anonymous pages with a write each. */
static void touch_fresh(int i)
{
	size_t k;

	work_mem = anon_pages(N_PAGES);
	if (!work_mem)
		_exit(2);
	for (k = 0; k < N_PAGES; k++)
		work_mem[k * PAGE] = 1;
}

TEST(reset_rejects_garbage_and_changes_nothing)
{
	static const char *const bad[] = {
		"0", "2", "11", "1x", "yes", "-1", " 1", "1\n\n", "",
	};
	int64_t before, after;
	struct stat st;
	struct child c;
	size_t i;

	/* exceptions are counted in both modes: some to reset first */
	ASSERT_EQ(0, child_start(&c, touch_fresh));
	ASSERT_EQ(0, child_cmd(&c, 's'));
	child_stop(&c);
	before = acct_get(ML_DIR "/faults", "user");
	ASSERT_LT(N_PAGES, before) TH_LOG("the child's faults must show up in user");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = open(ML_DIR "/reset", O_WRONLY);

		ASSERT_LE(0, fd);
		errno = 0;
		if (*bad[i]) {
			EXPECT_EQ(-1, write(fd, bad[i], strlen(bad[i])))
				TH_LOG("'%s' accepted", bad[i]);
			EXPECT_EQ(EINVAL, errno);
		} else {
			/* a zero-byte write of nothing: still not a reset */
			EXPECT_EQ(-1, write(fd, "", 0));
			EXPECT_EQ(EINVAL, errno);
		}
		close(fd);
	}
	after = acct_get(ML_DIR "/faults", "user");
	EXPECT_LE(before, after) TH_LOG("garbage reset the counters");
	ASSERT_EQ(0, stat(ML_DIR "/reset", &st));
	EXPECT_EQ(0200U, st.st_mode & 07777);

	ASSERT_EQ(0, write_str(ML_DIR "/reset", "1\n"));
	after = acct_get(ML_DIR "/faults", "user");
	EXPECT_GT(before, after);
	EXPECT_GT(50, after) TH_LOG("user right after reset: %lld",
				    (long long)after);
	EXPECT_EQ(0, acct_get(ML_DIR "/swap", "pswpout"));
	ASSERT_EQ(0, write_str(ML_DIR "/reset", "1"));
}

/*
 * The mode switch: only "0" or "1", only while nothing is tracked; the
 * counting mode's system-wide file says what it cannot count.
 */
TEST(latency_switch_takes_0_or_1_while_nothing_is_tracked)
{
	static const char *const bad[] = { "2", "01", "1 ", "on", "1\n\n", "-0" };
	static char f[1 << 16];
	char pid[32];
	struct child c;
	size_t i;

	ASSERT_EQ(0, write_str(ML_DIR "/latency", "0\n"));
	ASSERT_LT(0, ml_read_file(ML_DIR "/latency", f, sizeof(f)));
	EXPECT_STREQ("0\n", f);
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f, sizeof(f)));
	EXPECT_EQ(0, strncmp(f, "mode counting\n", 14));
	EXPECT_TRUE(strstr(f, "\nminor unavailable: needs latency\n") != NULL);
	EXPECT_TRUE(strstr(f, "\nlatency unavailable: needs latency\n") != NULL);
	EXPECT_EQ(-1, acct_key(f, "missed"));
	EXPECT_EQ(0, acct_sum_prefix(f, "lat_"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, write_str(ML_DIR "/latency", bad[i]))
			TH_LOG("bad[%zu] accepted", i);

	ASSERT_EQ(0, child_start(&c, touch_fresh));
	snprintf(pid, sizeof(pid), "%d", c.pid);
	ASSERT_EQ(0, write_str(ML_DIR "/track", pid));
	EXPECT_EQ(-EBUSY, write_str(ML_DIR "/latency", "1"));
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f, sizeof(f)));
	EXPECT_EQ(0, strncmp(f, "mode counting\n", 14));
	snprintf(pid, sizeof(pid), "-%d", c.pid);
	ASSERT_EQ(0, write_str(ML_DIR "/track", pid));
	child_stop(&c);

	ASSERT_EQ(0, write_str(ML_DIR "/latency", "1"));
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f, sizeof(f)));
	EXPECT_EQ(0, strncmp(f, "mode latency\n", 13));
	EXPECT_LE(0, acct_key(f, "minor"));
	EXPECT_TRUE(strstr(f, "\nlat_cost unavailable: measured by make bench-acct\n") != NULL);
	EXPECT_EQ(0, acct_key(f, "missed"));
	ASSERT_EQ(0, write_str(ML_DIR "/latency", "0"));
}

/*
 * PGFAULT in /proc/vmstat is counted by handle_mm_fault() itself: on 6.1
 * for every call, on 6.12 for every call that did not return
 * VM_FAULT_RETRY.  So over one window, exactly:
 *   6.1:  pgfault = minor + major + errors + retry_returns
 *   6.12: pgfault = minor + major + errors
 * The window: vmstat, faults, the child's step, faults, vmstat.  Nothing
 * in the parent faults between the reads (buffers are static and touched)
 * and the guest runs nothing else, so no tolerance is needed.
 */
TEST(handle_mm_fault_outcomes_match_vmstat_pgfault)
{
	static char f0[1 << 16], f1[1 << 16];
	int64_t v0, v1, m0, m1, mw;
	struct child c;
	int retry_in = !kernel_is_612();

	ASSERT_EQ(0, write_str(ML_DIR "/latency", "1"));
	ASSERT_EQ(0, child_start(&c, touch_fresh));
	ASSERT_EQ(0, child_cmd(&c, 'n'));
	/* touch every buffer the reads fill, so they cannot fault */
	memset(f0, 1, sizeof(f0));
	memset(f1, 1, sizeof(f1));
	vmstat("pgfault");
	v0 = vmstat("pgfault");
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f0, sizeof(f0)));
	ASSERT_EQ(0, child_cmd(&c, 's'));
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f1, sizeof(f1)));
	v1 = vmstat("pgfault");
	child_stop(&c);

	m0 = acct_key(f0, "minor") + acct_key(f0, "major") + acct_key(f0, "errors") +
	     retry_in * acct_key(f0, "retry_returns");
	m1 = acct_key(f1, "minor") + acct_key(f1, "major") + acct_key(f1, "errors") +
	     retry_in * acct_key(f1, "retry_returns");
	mw = acct_key(f1, "write") - acct_key(f0, "write");
	EXPECT_EQ(v1 - v0, m1 - m0);
	EXPECT_LE(N_PAGES, acct_key(f1, "minor") - acct_key(f0, "minor"));
	EXPECT_LE(N_PAGES, mw);
	EXPECT_LE(N_PAGES, acct_key(f1, "user") - acct_key(f0, "user"));
	EXPECT_LE(N_PAGES, acct_key(f1, "notpresent") - acct_key(f0, "notpresent"));
	EXPECT_EQ(0, acct_key(f1, "missed"));
}

/* Every counted fault lands in exactly one latency bucket. */
TEST(latency_histograms_sum_to_minor_and_major)
{
	static char f[1 << 16];
	struct child c;

	ASSERT_EQ(0, write_str(ML_DIR "/latency", "1"));
	ASSERT_EQ(0, child_start(&c, touch_fresh));
	ASSERT_EQ(0, child_cmd(&c, 's'));
	child_stop(&c);
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f, sizeof(f)));
	EXPECT_LT(N_PAGES, acct_key(f, "minor"));
	EXPECT_EQ(acct_key(f, "minor"), acct_sum_prefix(f, "lat_minor_ns_"));
	EXPECT_EQ(acct_key(f, "major"), acct_sum_prefix(f, "lat_major_ns_"));
	/* user + kernel exceptions, each either read, write or exec */
	EXPECT_EQ(acct_key(f, "user") + acct_key(f, "kernel"),
		  acct_key(f, "read") + acct_key(f, "write") + acct_key(f, "exec"));
	EXPECT_EQ(acct_key(f, "user") + acct_key(f, "kernel"),
		  acct_key(f, "notpresent") + acct_key(f, "protection"));
}

/* ---- TLB ---- */

static volatile int spin_stop;

static void *spinner(void *arg)
{
	while (!spin_stop)
		;
	return NULL;
}


static void module_tlb(int64_t out[5])
{
	static char buf[1 << 16];
	int r;

	ml_read_file(ML_DIR "/tlb", buf, sizeof(buf));
	for (r = 0; r < 5; r++)
		out[r] = acct_key(buf, tlb_reasons[r]);
}

/*
 * munmap() of a touched range while a second thread of the process runs
 * on the other CPU: the kernel sends a flush IPI (remote_send_ipi), the
 * other CPU flushes (remote_shootdown) and so does this one; a flush of a
 * user mm on the initiating CPU is a local_mm_shootdown (local_shootdown
 * is a flush with no mm, the kernel's own).  The module's counts over the window
 * equal the tracefs histogram's of the same tracepoint over the same
 * window (the histogram's window encloses the module's, nothing else
 * unmaps in between).
 */
TEST(munmap_two_threads_matches_tracefs_histogram)
{
	const char *trig = "/sys/kernel/tracing/events/tlb/tlb_flush/trigger";
	int64_t h0[5], h1[5], m0[5], m1[5];
	pthread_t t;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	if (access(trig, W_OK))
		SKIP(return, "no tracefs tlb_flush trigger");
	ASSERT_EQ(0, write_str(trig, "hist:keys=reason"));
	ASSERT_EQ(0, pthread_create(&t, NULL, spinner, NULL));
	usleep(100000);
	tlb_hist_counts(h0);
	module_tlb(m0);
	for (i = 0; i < 100; i++) {
		char *p = anon_pages(16);
		int k;

		ASSERT_NE(NULL, p);
		for (k = 0; k < 16; k++)
			p[k * PAGE] = 1;
		munmap(p, 16 * PAGE);
	}
	module_tlb(m1);
	tlb_hist_counts(h1);
	spin_stop = 1;
	pthread_join(t, NULL);
	write_str(trig, "!hist:keys=reason");

	EXPECT_LT(0, m1[4] - m0[4]) TH_LOG("no remote_send_ipi");
	EXPECT_LT(0, m1[3] - m0[3]) TH_LOG("no local_mm_shootdown");
	EXPECT_LT(0, m1[1] - m0[1]) TH_LOG("no remote_shootdown");
	for (i = 1; i < 5; i++) {
		EXPECT_EQ(h1[i] - h0[i], m1[i] - m0[i]) TH_LOG("%s", tlb_reasons[i]);
	}
	TH_LOG("remote_send_ipi %lld local_mm_shootdown %lld remote_shootdown %lld",
	       (long long)(m1[4] - m0[4]), (long long)(m1[3] - m0[3]),
	       (long long)(m1[1] - m0[1]));
}

/* The totals are the sums of the cpuN_ lines. */
TEST(tlb_totals_are_sums_of_cpu_lines)
{
	static char buf[1 << 16];
	char prefix[64];
	int r, cpu;

	ASSERT_LT(0, ml_read_file(ML_DIR "/tlb", buf, sizeof(buf)));
	for (r = 0; r < 5; r++) {
		int64_t sum = 0;

		for (cpu = 0; cpu < 64; cpu++) {
			int64_t v;

			snprintf(prefix, sizeof(prefix), "cpu%d_%s", cpu, tlb_reasons[r]);
			v = acct_key(buf, prefix);
			if (v > 0)
				sum += v;
		}
		/* task_switch keeps moving between the read of each line */
		if (r == 0) {
			EXPECT_LE(sum, acct_key(buf, tlb_reasons[r]) + 1000);
		} else {
			EXPECT_EQ(acct_key(buf, tlb_reasons[r]), sum);
		}
	}
}

TEST_HARNESS_MAIN
