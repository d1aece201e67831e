// SPDX-License-Identifier: GPL-2.0
/*
 * Per-process counters of memlens.ko: pid/PID/faults, vma_faults and tlb
 * of a tracked child, against /proc/PID/stat, the child's own exact work
 * and the tracefs histogram of tlb:tlb_flush filtered to its threads.
 * Every test runs in both fault modes (the "latency" file): counting,
 * the default, and latency.  Runs in a guest with the module loaded
 * (suite flag insmod).
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "acct.h"

#define N_PAGES	1000

/* Shared with the child: what its last step mapped, its thread ids. */
struct shared {
	unsigned long addr;
	volatile pid_t tid[2];
	volatile int stop;
};

static struct shared *sh;

static int track(pid_t pid, int on)
{
	char s[32];

	snprintf(s, sizeof(s), "%s%d", on ? "" : "-", pid);
	return write_str(ML_DIR "/track", s);
}

static int pid_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid, name);
	return ml_read_file(path, buf, size) < 0 ? -1 : 0;
}

/*
 * N_PAGES fresh pages in a VMA of their own (PROT_NONE guards on both
 * sides keep it from merging), each touched once with a write.
 */
static void touch_own_vma(int i)
{
	char *g = mmap(NULL, (N_PAGES + 2) * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = g + PAGE;
	size_t k;

	if (g == MAP_FAILED || mprotect(p, N_PAGES * PAGE, PROT_READ | PROT_WRITE))
		_exit(2);
	madvise(p, N_PAGES * PAGE, MADV_NOHUGEPAGE);
	for (k = 0; k < N_PAGES; k++)
		p[k * PAGE] = 1;
	sh->addr = (unsigned long)p;
}

FIXTURE(proc) {
	struct child c;
};

FIXTURE_VARIANT(proc) {
	const char *latency;	/* written to memlens/latency first */
};

FIXTURE_VARIANT_ADD(proc, counting) { .latency = "0" };
FIXTURE_VARIANT_ADD(proc, latency) { .latency = "1" };

FIXTURE_SETUP(proc)
{
	ASSERT_EQ(0, write_str(ML_DIR "/latency", variant->latency));
	sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
}

FIXTURE_TEARDOWN(proc)
{
	munmap(sh, PAGE);
}

/*
 * Exactly N_PAGES more minor faults, in pid/PID/faults, in the VMA's
 * vma_faults line and in /proc/PID/stat minflt; no major fault.
 */
TEST_F(proc, fresh_anon_pages_are_exact_minor_faults)
{
	static char f0[1 << 16], f1[1 << 16], v[1 << 16];
	int64_t s0, s1, j0, j1;
	char want[64], *line;

	memset(f0, 1, sizeof(f0));
	memset(f1, 1, sizeof(f1));
	ASSERT_EQ(0, child_start(&self->c, touch_own_vma));
	ASSERT_EQ(0, track(self->c.pid, 1));
	/* a first step warms up everything the step touches but its VMA */
	ASSERT_EQ(0, child_cmd(&self->c, 's'));
	s0 = minflt(self->c.pid);
	j0 = majflt(self->c.pid);
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f0, sizeof(f0)));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f1, sizeof(f1)));
	s1 = minflt(self->c.pid);
	j1 = majflt(self->c.pid);
	ASSERT_EQ(0, pid_file(self->c.pid, "vma_faults", v, sizeof(v)));

	EXPECT_EQ(N_PAGES, acct_key(f1, "minor") - acct_key(f0, "minor"));
	EXPECT_EQ(s1 - s0, acct_key(f1, "minor") - acct_key(f0, "minor"));
	EXPECT_EQ(0, acct_key(f1, "major") - acct_key(f0, "major"));
	EXPECT_EQ(j1 - j0, acct_key(f1, "major") - acct_key(f0, "major"));
	/* the exceptions: one user write to a not-present page each */
	EXPECT_EQ(N_PAGES, acct_key(f1, "write") - acct_key(f0, "write"));
	EXPECT_EQ(N_PAGES, acct_key(f1, "user") - acct_key(f0, "user"));
	EXPECT_EQ(N_PAGES, acct_key(f1, "notpresent") - acct_key(f0, "notpresent"));
	EXPECT_EQ(0, acct_key(f1, "kernel") - acct_key(f0, "kernel"));
	EXPECT_EQ(0, acct_key(f1, "protection") - acct_key(f0, "protection"));

	EXPECT_EQ(0, strncmp(v, "start end minor major name\n", 27));
	snprintf(want, sizeof(want), "\n%lx %lx ", sh->addr, sh->addr + N_PAGES * PAGE);
	line = strstr(v, want);
	ASSERT_NE(NULL, line) TH_LOG("no line '%s' in:\n%s", want + 1, v);
	line += strlen(want);
	EXPECT_EQ(N_PAGES, strtoll(line, &line, 10));
	EXPECT_EQ(0, strtoll(line, &line, 10));
	EXPECT_EQ(0, strncmp(line, " [anon]\n", 8)) TH_LOG("%.40s", line);
	child_stop(&self->c);
}

/* Over the child's whole tracked life, the deltas equal /proc/PID/stat's. */
TEST_F(proc, deltas_equal_proc_stat_over_many_steps)
{
	static char f0[1 << 16], f1[1 << 16];
	int64_t s0, s1, j0, j1;
	int i;

	memset(f0, 1, sizeof(f0));
	memset(f1, 1, sizeof(f1));
	ASSERT_EQ(0, child_start(&self->c, touch_own_vma));
	ASSERT_EQ(0, track(self->c.pid, 1));
	ASSERT_EQ(0, child_cmd(&self->c, 'n'));
	s0 = minflt(self->c.pid);
	j0 = majflt(self->c.pid);
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f0, sizeof(f0)));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, child_cmd(&self->c, 's'));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f1, sizeof(f1)));
	s1 = minflt(self->c.pid);
	j1 = majflt(self->c.pid);
	EXPECT_EQ(s1 - s0, acct_key(f1, "minor") - acct_key(f0, "minor"));
	EXPECT_EQ(j1 - j0, acct_key(f1, "major") - acct_key(f0, "major"));
	EXPECT_LE(5 * N_PAGES, acct_key(f1, "minor") - acct_key(f0, "minor"));
	if (variant->latency[0] == '1') {
		EXPECT_EQ(0, strncmp(f1, "mode latency\n", 13));
		EXPECT_EQ(acct_key(f1, "minor"), acct_sum_prefix(f1, "lat_minor_ns_"));
	} else {
		/* every exception charged one fault or nothing */
		EXPECT_EQ(0, strncmp(f1, "mode counting\n", 14));
		EXPECT_EQ(acct_key(f1, "user") + acct_key(f1, "kernel"),
			  acct_key(f1, "minor") + acct_key(f1, "major") -
			  acct_key(f1, "populated") + acct_key(f1, "not_charged"));
		EXPECT_TRUE(strstr(f1, "\nretry unavailable: needs latency\n") != NULL);
		EXPECT_EQ(0, acct_sum_prefix(f1, "lat_minor_ns_"));
	}
	child_stop(&self->c);
}

/* Reset zeroes the per-process counters and empties vma_faults. */
TEST_F(proc, reset_zeroes_per_process_counters)
{
	static char f[1 << 16];

	ASSERT_EQ(0, child_start(&self->c, touch_own_vma));
	ASSERT_EQ(0, track(self->c.pid, 1));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f, sizeof(f)));
	EXPECT_LE(N_PAGES, acct_key(f, "minor"));
	ASSERT_EQ(0, write_str(ML_DIR "/reset", "1"));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f, sizeof(f)));
	EXPECT_EQ(0, acct_key(f, "minor"));
	EXPECT_EQ(0, acct_key(f, "user"));
	ASSERT_EQ(0, pid_file(self->c.pid, "vma_faults", f, sizeof(f)));
	EXPECT_STREQ("start end minor major name\n", f);
	ASSERT_EQ(0, pid_file(self->c.pid, "tlb", f, sizeof(f)));
	EXPECT_EQ(0, acct_key(f, "remote_send_ipi"));
	child_stop(&self->c);
}

/* ---- TLB of a process ---- */

static void *spinner(void *arg)
{
	sh->tid[1] = syscall(SYS_gettid);
	while (!sh->stop)
		;
	return NULL;
}

/* Step 0: start the spinner; later steps: 100 munmaps of touched ranges. */
static void tlb_step(int i)
{
	static pthread_t t;
	int n, k;

	if (i == 0) {
		sh->tid[0] = syscall(SYS_gettid);
		pthread_create(&t, NULL, spinner, NULL);
		while (!sh->tid[1])
			;
		return;
	}
	for (n = 0; n < 100; n++) {
		char *p = anon_pages(16);

		for (k = 0; p && k < 16; k++)
			p[k * PAGE] = 1;
		munmap(p, 16 * PAGE);
	}
}

/* Context switches of thread @tid of @pid so far, from its status file, or -1. */
static long ctxt_switches(pid_t pid, pid_t tid)
{
	char path[64], buf[4096];
	int64_t v, nv;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	v = acct_key(buf, "voluntary_ctxt_switches");
	nv = acct_key(buf, "nonvoluntary_ctxt_switches");
	return v < 0 || nv < 0 ? -1 : (long)(v + nv);
}


/*
 * munmap() in a two-thread process: pid/PID/tlb counts the IPIs it sent,
 * its local flushes and the flushes its spinning thread received, exactly
 * as many as tracefs sees from the two threads (histogram with a
 * common_pid filter, whose window encloses the module's).
 */
TEST_F(proc, munmap_flushes_match_tracefs_for_its_threads)
{
	const char *trig = "/sys/kernel/tracing/events/tlb/tlb_flush/trigger";
	static char t0[1 << 16], t1[1 << 16];
	char cmd[256];
	int64_t h0[5], h1[5];
	long sw0, sw1;
	int r;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	memset(t0, 1, sizeof(t0));
	memset(t1, 1, sizeof(t1));
	ASSERT_EQ(0, child_start(&self->c, tlb_step));
	ASSERT_EQ(0, track(self->c.pid, 1));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));	/* spinner up */
	snprintf(cmd, sizeof(cmd), "hist:keys=reason if common_pid == %d || common_pid == %d",
		 sh->tid[0], sh->tid[1]);
	ASSERT_EQ(0, write_str(trig, cmd));
	tlb_hist_counts(h0);
	ASSERT_EQ(0, pid_file(self->c.pid, "tlb", t0, sizeof(t0)));
	sw0 = ctxt_switches(self->c.pid, sh->tid[0]);
	ASSERT_EQ(0, child_cmd(&self->c, 's'));
	sw1 = ctxt_switches(self->c.pid, sh->tid[0]);
	ASSERT_EQ(0, pid_file(self->c.pid, "tlb", t1, sizeof(t1)));
	tlb_hist_counts(h1);
	snprintf(cmd, sizeof(cmd), "!hist:keys=reason if common_pid == %d || common_pid == %d",
		 sh->tid[0], sh->tid[1]);
	write_str(trig, cmd);
	sh->stop = 1;

	/*
	 * Each of the 100 munmaps flushes locally unless the CPU's TLB is
	 * already at the mm's generation: a switch back to the thread between
	 * the unmap and its flush (switch_mm_irqs_off() flushes a stale TLB
	 * and takes the new generation) leaves flush_tlb_func() nothing to
	 * do (99 of 100 seen in a busy 7.3 guest).  So local flushes plus
	 * the thread's context switches over the step (its status file) make
	 * at least 100.  It sends an IPI only while the spinner is on the
	 * other CPU, which a busy debug guest does not always keep it (99 of
	 * 100 seen), so some, each one as tracefs saw it (below).
	 */
	ASSERT_LE(0, sw0);
	ASSERT_LE(sw0, sw1);
	EXPECT_LT(0, acct_key(t1, "remote_send_ipi") - acct_key(t0, "remote_send_ipi"));
	EXPECT_LE(100, acct_key(t1, "local_mm_shootdown") -
		  acct_key(t0, "local_mm_shootdown") + (sw1 - sw0))
		TH_LOG("%ld context switches", sw1 - sw0);
	for (r = 1; r < 5; r++) {
		EXPECT_EQ(h1[r] - h0[r], acct_key(t1, tlb_reasons[r]) - acct_key(t0, tlb_reasons[r]))
			TH_LOG("%s", tlb_reasons[r]);
	}
	EXPECT_LT(0, acct_key(t1, "tlb_entries_needed"));
	EXPECT_LE(acct_key(t1, "tlb_entries_needed"), acct_key(t1, "tlb_entries_needed_4k"));
	child_stop(&self->c);
}

TEST_HARNESS_MAIN
