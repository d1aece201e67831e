// SPDX-License-Identifier: GPL-2.0
/*
 * memlens top: a workload faulting in a loop is ranked by its fault rate,
 * bounded by its own /proc counters read around the measurement; an idle
 * workload's row matches its /proc/PID/status; orders, Prometheus output,
 * kernel threads left out, usage errors.
 */
#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

static char err[256];

static const struct jval *row_of(const struct jval *doc, pid_t pid)
{
	return jrow(doc, "processes", "pid", pid);
}

TEST(fault_rate_ranked_and_bounded)
{
	char *args[] = { "-f", NULL };
	char *argv[] = { "memlens", "top", "-n", "0", "-i", "0.5", "--json", NULL };
	const struct jval *rows, *row;
	struct workload w;
	struct jval *doc;
	double before, after, prev = 1e300;


	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	before = stat_field(w.pid, 10);
	ASSERT_EQ(0, ml_run(&res, argv));
	after = stat_field(w.pid, 10);
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("faults", jstr(doc, "top.sort"));
	row = row_of(doc, w.pid);
	ASSERT_NE(NULL, row);
	/*
	 * memlens counted within [before, after] over at least 0.5 s; no
	 * floor on the rate, which depends on the machine
	 */
	EXPECT_GT(jnum(row, "faults_per_second"), 0);
	EXPECT_LE(jnum(row, "faults_per_second") * 0.5, after - before);
	EXPECT_STREQ("inspect_workloa", jstr(row, "comm"));
	rows = jget(jpath(doc, "processes"), "rows");
	for (int i = 0; i < rows->n; i++) {
		double r = jnum(rows->items[i], "faults_per_second");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
		EXPECT_NE(2, jnum(rows->items[i], "pid"));	/* kthreadd */
	}
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(pgtables_rows_match_status)
{
	char *args[] = { "-p", "16384", NULL };
	char *argv[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--sort", "pgtables",
			 "--json", NULL };
	const struct jval *rows, *row;
	struct workload w;
	struct jval *doc;
	double prev = 1e300;

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	row = row_of(doc, w.pid);
	ASSERT_NE(NULL, row);
	EXPECT_EQ(status_bytes(w.pid, "VmPTE:"), jnum(row, "pagetable_bytes"));
	EXPECT_EQ(status_bytes(w.pid, "VmRSS:"), jnum(row, "resident_bytes"));
	EXPECT_EQ(status_bytes(w.pid, "VmSwap:"), jnum(row, "swap_bytes"));
	/* 64 MiB touched in 4 KiB pages: 32 PTE tables at least */
	EXPECT_GE(jnum(row, "pagetable_bytes"), 32 * 4096);
	EXPECT_EQ(0, jnum(row, "faults_per_second"));	/* idle */
	rows = jget(jpath(doc, "processes"), "rows");
	for (int i = 0; i < rows->n; i++) {
		double r = jnum(rows->items[i], "pagetable_bytes");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
	}
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(text_and_prometheus)
{
	char *text[] = { "memlens", "top", "-n", "3", "-i", "0.05", "--sort", "swap", NULL };
	char *prom[] = { "memlens", "top", "-n", "5", "-i", "0.05", "--prometheus", NULL };
	char why[160];
	int lines = 0;

	ASSERT_EQ(0, ml_run(&res, text));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "memlens top: "));
	EXPECT_NE(NULL, strstr(res.out, "by swap"));
	for (const char *p = res.out; (p = strchr(p, '\n')); p++)
		lines++;
	EXPECT_EQ(3 + 4, lines);	/* title, blank, table title, header, 3 rows */
	ASSERT_EQ(0, ml_run(&res, prom));
	EXPECT_EQ(0, res.status);
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(res.out, "memlens_processes_pagetable_bytes{pid=\""));
}

TEST(usage_errors)
{
	char *sort[] = { "memlens", "top", "--sort", "rss", NULL };
	char *arg[] = { "memlens", "top", "1234", NULL };
	char *n[] = { "memlens", "top", "-n", "-1", NULL };

	ASSERT_EQ(0, ml_run(&res, sort));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "unknown sort key 'rss'"));
	ASSERT_EQ(0, ml_run(&res, arg));
	EXPECT_EQ(2, res.status);
	ASSERT_EQ(0, ml_run(&res, n));
	EXPECT_EQ(2, res.status);
}

TEST_HARNESS_MAIN
