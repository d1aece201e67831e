// SPDX-License-Identifier: GPL-2.0
/*
 * memlens inspect with the module backend (in the guests, memlens.ko
 * loaded): the page-table figures come from the module and match
 * /proc/PID/status (VmPTE) and the proc backend's smaps-derived leaves;
 * auto picks the module; tracking is left as it was found; TLB flushes
 * are counted for a process tracked beforehand.
 */
#include "kselftest_harness.h"
#include "inspect_lib.h"

#define TRACK	"/sys/kernel/debug/memlens/track"
#define ML_DIR_LATENCY "/sys/kernel/debug/memlens/latency"

static char err[256];

static bool tracked(pid_t pid)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/debug/memlens/pid/%d", pid);
	return access(path, F_OK) == 0;
}

static int track(pid_t pid, bool on)
{
	char s[32];
	int fd = open(TRACK, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	snprintf(s, sizeof(s), "%s%d", on ? "" : "-", pid);
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

FIXTURE(wl) {
	struct workload w;
};

FIXTURE_SETUP(wl)
{
	char *args[] = { "-p", "1000", NULL };

	if (access(TRACK, W_OK))
		SKIP(return, "memlens.ko is not loaded");
	ASSERT_EQ(0, wl_start(&self->w, NULL, args));
	ASSERT_EQ(0, wl_go(&self->w));
}

FIXTURE_TEARDOWN(wl)
{
	if (self->w.pid)
		wl_stop(&self->w);
}

TEST_F(wl, module_matches_status_and_proc_backend)
{
	struct jval *mod, *proc;

	mod = inspect_json(self->w.pid, "--backend=module", err, sizeof(err));
	ASSERT_NE(NULL, mod) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(mod, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("module", jstr(mod, "backend.name"));
	EXPECT_STREQ("module", jstr(mod, "summary.pagetable_bytes.source"));
	EXPECT_STREQ("module", jstr(mod, "summary.leaf_4k.source"));
	/* the walk counts tables the way VmPTE does */
	EXPECT_EQ(status_bytes(self->w.pid, "VmPTE:"), jnum(mod, "summary.pagetable_bytes.value"));
	proc = inspect_json(self->w.pid, "--backend=proc", err, sizeof(err));
	ASSERT_NE(NULL, proc) TH_LOG("%s", err);
	/* the two backends agree on an idle process */
	EXPECT_EQ(jnum(proc, "summary.leaf_4k.value"), jnum(mod, "summary.leaf_4k.value"));
	EXPECT_EQ(jnum(proc, "summary.leaf_2m.value"), jnum(mod, "summary.leaf_2m.value"));
	EXPECT_EQ(jnum(proc, "tlb.entries_4k_only.value"), jnum(mod, "tlb.entries_4k_only.value"));
	EXPECT_GE(jnum(mod, "summary.leaf_4k.value"), 1000);
	/* not tracked before: no counter to give, and left untracked */
	EXPECT_EQ(J_NULL, jpath(mod, "tlb.flushes_total.value")->t);
	EXPECT_FALSE(tracked(self->w.pid));
}

TEST_F(wl, auto_picks_the_module)
{
	struct jval *doc = inspect_json(self->w.pid, NULL, err, sizeof(err));

	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_STREQ("module", jstr(doc, "backend.name"));
}

TEST_F(wl, tracked_process_has_flush_counts_and_stays_tracked)
{
	struct jval *doc;

	ASSERT_EQ(0, track(self->w.pid, true));
	doc = inspect_json(self->w.pid, "--backend=module", err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(J_NUM, jpath(doc, "tlb.flushes_total.value")->t);
	EXPECT_STREQ("module", jstr(doc, "tlb.flushes_total.source"));
	EXPECT_TRUE(tracked(self->w.pid));
	EXPECT_EQ(0, track(self->w.pid, false));
}

TEST(tracked_faults_match_the_workload)
{
	char *args[] = { "-p", "2000", NULL };
	const struct jval *row;
	struct workload w;
	struct jval *doc;
	double m0, m1;

	if (access(TRACK, W_OK))
		SKIP(return, "memlens.ko is not loaded");
	ASSERT_EQ(0, write_str(ML_DIR_LATENCY, "0"));	/* the default mode */
	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, track(w.pid, true));
	m0 = stat_field(w.pid, 10);
	ASSERT_EQ(0, wl_go(&w));	/* 2000 first touches in its region */
	doc = inspect_json(w.pid, "--backend=module", err, sizeof(err));
	m1 = stat_field(w.pid, 10);
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("module", jstr(doc, "faults.minor_tracked_total.source"));
	EXPECT_STREQ("counting", jstr(doc, "faults.tracked_mode"));
	EXPECT_GE(jnum(doc, "faults.minor_tracked_total.value"), 2000);
	EXPECT_LE(jnum(doc, "faults.minor_tracked_total.value"), m1 - m0);
	row = jrow_addr(doc, "vma_faults", "start", w.region);
	ASSERT_NE(NULL, row) TH_LOG("no vma_faults row for the region");
	EXPECT_EQ(2000, jnum(row, "minor_total"));
	EXPECT_EQ(0, jnum(row, "major_total"));
	EXPECT_EQ(0, track(w.pid, false));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(arena_faults_from_the_module)
{
	char lib[4200];
	char *args[] = { "-H", "2", NULL };
	const struct jval *rows;
	struct workload w;
	struct jval *doc;
	int huge = 0;

	if (access(TRACK, W_OK))
		SKIP(return, "memlens.ko is not loaded");
	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, wl_start(&w, lib, args));
	ASSERT_EQ(0, track(w.pid, true));	/* before the huge blocks exist */
	ASSERT_EQ(0, wl_go(&w));
	doc = inspect_json(w.pid, "--backend=module", err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	rows = jget(jpath(doc, "mlalloc.arenas"), "rows");
	ASSERT_NE(NULL, rows) TH_LOG("no arenas: %s", jstr(doc, "mlalloc.unavailable"));
	for (int i = 0; i < rows->n; i++) {
		const struct jval *a = rows->items[i];

		if (strcmp(jstr(a, "role"), "huge"))
			continue;
		huge++;
		ASSERT_EQ(J_NUM, jget(a, "faults")->t);
		/* mapped and touched while tracked: one fault per 4 KiB page */
		if (jnum(a, "thp_bytes") == 0)
			EXPECT_EQ(jnum(a, "resident_bytes") / 4096, jnum(a, "faults"));
		EXPECT_GE(jnum(a, "resident_bytes"), 6 << 20);
	}
	EXPECT_EQ(2, huge);
	EXPECT_EQ(0, track(w.pid, false));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(watch_rates_from_the_module)
{
	char *args[] = { "-f", NULL };
	char pid[16];
	char *argv[] = { "memlens", "watch", "--backend", "module", "--json", "-n", "3",
			 "-i", "0.3", pid, NULL };
	struct workload w;
	struct jval *doc;
	char *second;
	double m0, m1;

	if (access(TRACK, W_OK))
		SKIP(return, "memlens.ko is not loaded");
	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));	/* faults 256 pages over and over */
	snprintf(pid, sizeof(pid), "%d", w.pid);
	m0 = stat_field(w.pid, 10);
	ASSERT_EQ(0, ml_run(&res, argv));
	m1 = stat_field(w.pid, 10);
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	second = strchr(res.out, '\n');
	ASSERT_NE(NULL, second);
	doc = jparse(second + 1 + strcspn(second + 1, "\n") + 1, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_STREQ("module", jstr(doc, "rates.minor_faults_per_second.source"));
	/*
	 * Counted, and no more than /proc counted over a wider window: one
	 * interval of at least 0.3 s lies within it.  No floor on the rate:
	 * how fast the workload faults depends on the machine (the debug
	 * kernel under load did 739 a second).
	 */
	EXPECT_GT(jnum(doc, "rates.minor_faults_per_second.value"), 0);
	EXPECT_LE(jnum(doc, "rates.minor_faults_per_second.value") * 0.3, m1 - m0);
	EXPECT_STREQ("module", jstr(doc, "tlb.flushes_total.source"));
	/* tracked while watched only */
	EXPECT_FALSE(tracked(w.pid));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(errors_with_the_module)
{
	char *kthread[] = { "memlens", "inspect", "--backend", "module", "2", NULL };

	if (access(TRACK, W_OK))
		SKIP(return, "memlens.ko is not loaded");
	ASSERT_EQ(0, ml_run(&res, kthread));
	EXPECT_EQ(4, res.status);
	EXPECT_NE(NULL, strstr(res.err, "kernel thread"));
}

TEST_HARNESS_MAIN
