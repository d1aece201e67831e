// SPDX-License-Identifier: GPL-2.0
/*
 * memlens inspect with the proc backend, against a workload of known size
 * and /proc read independently by this test: resident, page tables,
 * faults, the workload's VMA (resident, LazyFree), THP leaves, dTLB
 * availability, the JSON schema, the error cases and their exit codes;
 * PSS and USS of a workload sharing pages with its forked child, and the
 * pmap -x-style totals line, against sums over /proc/PID/smaps.
 */
#include <inttypes.h>
#include <linux/perf_event.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

#define PAGES	1000
#define LAZY	100

static char err[256];

/* "key value" of a /proc file like meminfo or vmstat (key with its ':' or ' '). */
static double file_value(const char *path, const char *key)
{
	static char buf[65536];
	char *p;

	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; (p = strstr(p, key)); p++)
		if (p == buf || p[-1] == '\n')
			return strtod(p + strlen(key), NULL);
	return -1;
}

TEST(summary_matches_proc)
{
	char *args[] = { "-p", "1000", NULL };
	struct workload w;
	struct jval *doc;
	double rss, pte, minflt;

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	rss = status_bytes(w.pid, "VmRSS:");
	pte = status_bytes(w.pid, "VmPTE:");
	minflt = stat_field(w.pid, 10);
	doc = inspect_json(w.pid, "--backend=proc", err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("inspect", jstr(doc, "command"));
	EXPECT_EQ(w.pid, jnum(doc, "process.pid"));
	EXPECT_STREQ("inspect_workloa", jstr(doc, "process.comm"));
	EXPECT_STREQ("proc", jstr(doc, "backend.name"));
	EXPECT_EQ(rss, jnum(doc, "summary.resident_bytes.value"));
	EXPECT_STREQ("proc", jstr(doc, "summary.resident_bytes.source"));
	EXPECT_EQ(pte, jnum(doc, "summary.pagetable_bytes.value"));
	EXPECT_EQ(minflt, jnum(doc, "faults.minor_total.value"));
	EXPECT_EQ(stat_field(w.pid, 12), jnum(doc, "faults.major_total.value"));
	EXPECT_EQ(status_bytes(w.pid, "VmSwap:"), jnum(doc, "summary.swap_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "RssAnon:"), jnum(doc, "summary.resident_anon_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "RssFile:"), jnum(doc, "summary.resident_file_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "RssShmem:"), jnum(doc, "summary.resident_shmem_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "VmHWM:"), jnum(doc, "summary.peak_resident_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "VmSize:"), jnum(doc, "summary.virtual_bytes.value"));
	EXPECT_EQ(status_bytes(w.pid, "Threads:") / 1024, jnum(doc, "summary.threads.value"));
	EXPECT_EQ(status_bytes(w.pid, "VmSwap:"), jnum(doc, "swap.process_bytes.value"));
	EXPECT_EQ(file_value("/proc/meminfo", "SwapTotal:") * 1024,
		  jnum(doc, "swap.system_total_bytes.value"));
	EXPECT_EQ(file_value("/proc/vmstat", "pswpout "), jnum(doc, "swap.system_pswpout_total.value"));
	/* the workload's own count: PAGES first touches, each a minor fault */
	EXPECT_GE(minflt, PAGES);
	/* 4 KiB-only TLB entries are resident pages; this region has no THP */
	EXPECT_GE(jnum(doc, "tlb.entries_4k_only.value"), PAGES);
	EXPECT_EQ(jnum(doc, "tlb.entries_needed.value"),
		  jnum(doc, "summary.leaf_4k.value") + jnum(doc, "summary.leaf_2m.value") +
		  jnum(doc, "summary.leaf_1g.value"));
	/* per-process TLB flushes: not from /proc, and not a zero */
	EXPECT_EQ(J_NULL, jpath(doc, "tlb.flushes_total.value")->t);
	EXPECT_NE(NULL, jstr(doc, "tlb.flushes_total.unavailable"));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(vma_row_is_exact)
{
	char *args[] = { "-p", "1000", "-l", "100", NULL };
	const struct jval *row;
	struct workload w;
	struct jval *doc;
	double lazy;

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	lazy = smaps_bytes(w.pid, w.region, "LazyFree:");
	doc = inspect_json(w.pid, "--backend=proc", err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	row = jrow_addr(doc, "vmas", "start", w.region);
	ASSERT_NE(NULL, row) TH_LOG("region %#lx not in the VMA table", (long)w.region);
	EXPECT_EQ(w.region + w.region_len, jaddr(row, "end"));
	EXPECT_EQ(PAGES * 4096.0, jnum(row, "resident_bytes"));
	EXPECT_EQ(PAGES * 4096.0, jnum(row, "anon_bytes"));
	EXPECT_EQ(pagemap_present(w.pid, w.region, w.region + w.region_len),
		  jnum(row, "resident_bytes"));
	/* MADV_FREE pages stay resident until reclaimed: LazyFree says so */
	EXPECT_EQ(LAZY * 4096.0, lazy);
	EXPECT_EQ(lazy, jnum(row, "lazyfree_bytes"));
	EXPECT_LE(lazy, jnum(doc, "summary.lazyfree_bytes.value"));
	EXPECT_EQ(0, jnum(row, "pmd_mapped_bytes"));
	EXPECT_STREQ("rw-p", jstr(row, "perms"));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(thp_leaves_counted)
{
	char *args[] = { "-t", "8", NULL };
	struct workload w;
	struct jval *doc;
	double thp;

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	thp = smaps_bytes(w.pid, w.thp, "AnonHugePages:");
	doc = inspect_json(w.pid, NULL, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	if (thp <= 0) {
		wl_stop(&w);
		SKIP(return, "no transparent huge page was given to the workload");
	}
	/* every PMD-mapped 2 MiB is one 2 MiB leaf; this VMA alone has thp/2M */
	EXPECT_GE(jnum(doc, "summary.leaf_2m.value"), thp / (2 << 20));
	EXPECT_EQ(thp, jnum(jrow_addr(doc, "vmas", "start", w.thp), "pmd_mapped_bytes"));
	EXPECT_LT(jnum(doc, "tlb.entries_needed.value"), jnum(doc, "tlb.entries_4k_only.value"));
	EXPECT_GT(jnum(doc, "summary.thp_coverage_percent.value"), 0);
	EXPECT_EQ(0, wl_stop(&w));
}

/* Does this machine count dTLB read misses?  Asked here, not by memlens. */
static bool have_dtlb_pmu(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_HW_CACHE, .size = sizeof(a),
		.config = PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
			  (PERF_COUNT_HW_CACHE_RESULT_MISS << 16),
		.exclude_kernel = 1, .exclude_hv = 1,
	};
	int fd = syscall(__NR_perf_event_open, &a, getpid(), -1, -1, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

TEST(dtlb_unavailable_is_not_zero)
{
	struct workload w;
	struct jval *doc;

	ASSERT_EQ(0, wl_start(&w, NULL, NULL));
	ASSERT_EQ(0, wl_go(&w));
	doc = inspect_json(w.pid, NULL, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	if (have_dtlb_pmu()) {
		EXPECT_EQ(J_NUM, jpath(doc, "tlb.dtlb_read_misses_per_second.value")->t);
		EXPECT_STREQ("perf", jstr(doc, "tlb.dtlb_read_misses_per_second.source"));
	} else {
		EXPECT_EQ(J_NULL, jpath(doc, "tlb.dtlb_read_misses_per_second.value")->t);
		EXPECT_NE(NULL, strstr(jstr(doc, "tlb.dtlb_read_misses_per_second.unavailable"),
				       "not supported"));
	}
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(text_output_names_sources)
{
	char p[16];
	char *argv[] = { "memlens", "inspect", p, NULL };
	struct workload w;

	ASSERT_EQ(0, wl_start(&w, NULL, NULL));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(p, sizeof(p), "%d", w.pid);
	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_NE(NULL, strstr(res.out, "memlens inspect: pid "));
	EXPECT_NE(NULL, strstr(res.out, "[proc]"));
	EXPECT_NE(NULL, strstr(res.out, "unavailable: "));
	EXPECT_NE(NULL, strstr(res.out, "VMAs [proc]"));
	EXPECT_NE(NULL, strstr(res.out, "libmlalloc not in use"));
	EXPECT_EQ(0, wl_stop(&w));
}

/* Run memlens with @argv; check exit code and that stderr is one line. */
static void expect_error(struct __test_metadata *_metadata, char *argv[],
			 int code, const char *msg)
{
	const char *nl;

	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(code, res.status) TH_LOG("stderr: %s", res.err);
	EXPECT_NE(NULL, strstr(res.err, msg)) TH_LOG("stderr: %s", res.err);
	nl = strchr(res.err, '\n');
	if (code != 2)
		EXPECT_TRUE(nl && !nl[1]) TH_LOG("not one line: %s", res.err);
}

TEST(error_no_such_process)
{
	char p[16];
	char *argv[] = { "memlens", "inspect", p, NULL };
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);	/* reaped: the PID is free now */
	snprintf(p, sizeof(p), "%d", pid);
	expect_error(_metadata, argv, 3, "no such process");
	EXPECT_STREQ("", res.out);
}

TEST(error_kernel_thread)
{
	char *argv[] = { "memlens", "inspect", "2", NULL };	/* kthreadd */
	char comm[64];

	ASSERT_LT(0, ml_read_file("/proc/2/comm", comm, sizeof(comm)));
	ASSERT_STREQ("kthreadd\n", comm);
	expect_error(_metadata, argv, 4, "kernel thread");
}

/*
 * A zombie: /proc/PID/stat remains, its memory is gone.  One line naming
 * its parent and exit 5, not a report of "unavailable" figures.
 */
TEST(error_zombie_names_its_parent)
{
	char p[16], want[64];
	char *argv[] = { "memlens", "inspect", "--json", p, NULL };
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	while (stat_field(pid, 3) >= 0) {
		char path[64], buf[512];

		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (ml_read_file(path, buf, sizeof(buf)) > 0 && strstr(buf, ") Z "))
			break;
		usleep(1000);
	}
	snprintf(p, sizeof(p), "%d", pid);
	snprintf(want, sizeof(want), "zombie: it exited and its parent %d", getpid());
	expect_error(_metadata, argv, 5, want);
	EXPECT_STREQ("", res.out);
	waitpid(pid, NULL, 0);
}

TEST(error_not_root_prints_what_it_could)
{
	char p[16];
	struct jval *doc;
	int po[2];
	pid_t child;
	ssize_t n = 0, r;
	static char out[65536];
	double pte_before;
	struct ml_copy bin;
	int st;

	if (geteuid())
		SKIP(return, "needs root to drop to nobody");
	/* a memlens that nobody can reach: the tree may be under a 0700 directory */
	ASSERT_EQ(0, ml_copy_for_all("memlens", &bin));
	snprintf(p, sizeof(p), "%d", getpid());
	ASSERT_EQ(0, pipe(po));
	/*
	 * memlens inspects this very process: keep it quiescent while the
	 * child reads it (out already touched, nothing allocated until the
	 * child is done), and check VmPTE did not move over that window.
	 */
	memset(out, 0, sizeof(out));
	pte_before = status_bytes(getpid(), "VmPTE:");
	child = fork();
	if (!child) {
		dup2(po[1], 1);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(99);
		execl(bin.path, "memlens", "inspect", "--json", p, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	while ((r = read(po[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(po[0]);
	waitpid(child, &st, 0);
	ml_copy_remove(&bin);
	ASSERT_EQ(pte_before, status_bytes(getpid(), "VmPTE:"));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(6, WEXITSTATUS(st));
	doc = jparse(out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	/* status is world-readable: resident is there, smaps was not */
	EXPECT_EQ(pte_before, jnum(doc, "summary.pagetable_bytes.value"));
	EXPECT_NE(NULL, strstr(jstr(doc, "error.message"), "permission denied"));
}

TEST(error_usage)
{
	char *bad_pid[] = { "memlens", "inspect", "12abc", NULL };
	char *no_pid[] = { "memlens", "inspect", NULL };
	char *bad_backend[] = { "memlens", "inspect", "--backend", "nope", "1", NULL };
	char *both[] = { "memlens", "inspect", "--json", "--prometheus", "1", NULL };

	expect_error(_metadata, bad_pid, 2, "not a PID");
	expect_error(_metadata, no_pid, 2, "no PID given");
	expect_error(_metadata, bad_backend, 2, "unknown backend 'nope'");
	expect_error(_metadata, both, 2, "exclude each other");
}

TEST(error_backend_unavailable)
{
	char *argv[] = { "memlens", "inspect", "--backend", "module", "1", NULL };

	if (!access("/sys/kernel/debug/memlens", F_OK))
		SKIP(return, "memlens.ko is loaded here");
	expect_error(_metadata, argv, 7, "backend module unavailable: memlens.ko is not loaded");
	EXPECT_STREQ("", res.out);
}

TEST(help_has_examples)
{
	char *argv[] = { "memlens", "inspect", "--help", NULL };

	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "Usage: memlens inspect"));
	EXPECT_NE(NULL, strstr(res.out, "Examples:"));
	EXPECT_NE(NULL, strstr(res.out, "--backend"));
	EXPECT_NE(NULL, strstr(res.out, "--prometheus"));
	EXPECT_NE(NULL, strstr(res.out, "Exit status"));
}

/* The sum over every VMA of /proc/PID/smaps of the keys in @keys (kB), in bytes. */
static double smaps_sum(pid_t pid, const char *const *keys)
{
	char path[64], line[512];
	double sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (int i = 0; keys[i]; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) && line[strlen(keys[i])] == ':')
				sum += strtod(line + strlen(keys[i]) + 1, NULL) * 1024;
	fclose(f);
	return sum;
}

static const char *const pss_keys[] = { "Pss", NULL };
static const char *const uss_keys[] = { "Private_Clean", "Private_Dirty", NULL };

struct pss_wl {
	pid_t parent, child;
	uint64_t region;
	FILE *out;
};

/* Start pss_workload and read its "ready PARENT CHILD REGION" line. */
static int pss_start(struct pss_wl *w)
{
	int out[2];
	pid_t pid;

	if (pipe2(out, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		/* gone with the test even when an assertion ends it early */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		execlp("pss_workload", "pss_workload", NULL);
		_exit(127);
	}
	close(out[1]);
	w->out = fdopen(out[0], "r");
	if (!w->out || fscanf(w->out, "ready %d %d %" SCNx64, &w->parent, &w->child, &w->region) != 3)
		return -1;
	return pid == w->parent ? 0 : -1;
}

static void pss_stop(struct pss_wl *w)
{
	kill(w->child, SIGKILL);
	kill(w->parent, SIGKILL);
	waitpid(w->parent, NULL, 0);
	fclose(w->out);
}

/* "N.N MiB" as memlens prints bytes (report.c's ml_fmt_bytes). */
static const char *fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	if (i)
		snprintf(buf, len, "%.1f %s", b, u[i]);
	else
		snprintf(buf, len, "%.0f B", b);
	return buf;
}

/*
 * PSS and USS (JSON, text, Prometheus) of each of two processes sharing
 * 800 of 1000 written pages after a fork: equal to the sums over their
 * /proc/PID/smaps of Pss and of Private_Clean + Private_Dirty, read by
 * this test before and after memlens (the same both times: nothing else
 * shares their pages); the region alone is 200 + 800 / 2 pages of PSS and
 * 200 pages private in each.
 */
TEST(pss_and_uss_match_smaps)
{
	struct pss_wl w;
	char spid[16], why[160], line[128];
	char *text[] = { "memlens", "inspect", "--backend=proc", "--no-vmas", spid, NULL };
	char *prom[] = { "memlens", "inspect", "--backend=proc", "--prometheus", spid, NULL };

	ASSERT_EQ(0, pss_start(&w));
	for (int k = 0; k < 2; k++) {
		pid_t pid = k ? w.child : w.parent;
		double pss0, uss0, region_pss, region_uss;
		struct jval *doc;

		region_pss = smaps_bytes(pid, w.region, "Pss:");
		region_uss = smaps_bytes(pid, w.region, "Private_Clean:") +
			     smaps_bytes(pid, w.region, "Private_Dirty:");
		EXPECT_EQ((200 + 800 / 2) * 4096.0, region_pss) TH_LOG("pid %d", pid);
		EXPECT_EQ(200 * 4096.0, region_uss) TH_LOG("pid %d", pid);
		pss0 = smaps_sum(pid, pss_keys);
		uss0 = smaps_sum(pid, uss_keys);
		doc = inspect_json(pid, "--backend=proc", err, sizeof(err));
		ASSERT_NE(NULL, doc) TH_LOG("%s", err);
		ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
		EXPECT_EQ(pss0, smaps_sum(pid, pss_keys));
		EXPECT_EQ(uss0, smaps_sum(pid, uss_keys));
		EXPECT_EQ(pss0, jnum(doc, "summary.pss_bytes.value"));
		EXPECT_EQ(uss0, jnum(doc, "summary.uss_bytes.value"));
		EXPECT_STREQ("proc", jstr(doc, "summary.pss_bytes.source"));
		/* sharing shows: USS < PSS < RSS */
		EXPECT_LT(jnum(doc, "summary.uss_bytes.value"), jnum(doc, "summary.pss_bytes.value"));
		EXPECT_LT(jnum(doc, "summary.pss_bytes.value"),
			  jnum(doc, "summary.resident_bytes.value"));

		snprintf(spid, sizeof(spid), "%d", pid);
		ASSERT_EQ(0, ml_run(&res, text));
		ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
		snprintf(line, sizeof(line), "  %-28s ", "proportional (PSS)");
		fmt_bytes(line + strlen(line), sizeof(line) - strlen(line), pss0);
		EXPECT_NE(NULL, strstr(res.out, line)) TH_LOG("%s not in %s", line, res.out);
		snprintf(line, sizeof(line), "  %-28s ", "unique (USS)");
		fmt_bytes(line + strlen(line), sizeof(line) - strlen(line), uss0);
		EXPECT_NE(NULL, strstr(res.out, line)) TH_LOG("%s not in %s", line, res.out);

		ASSERT_EQ(0, ml_run(&res, prom));
		ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
		EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
		EXPECT_EQ(pss0, prom_value(res.out, "memlens_summary_pss_bytes", NULL));
		EXPECT_EQ(uss0, prom_value(res.out, "memlens_summary_uss_bytes", NULL));
	}
	pss_stop(&w);
}

/*
 * The VMA table's last line, pmap -x's total: the sums over smaps of
 * Size, Rss, Anonymous, LazyFree and Swap, in the table's units, on the
 * quiescent workload.
 */
TEST(vma_table_totals_line)
{
	static const char *const cols[] = { "Size", "Rss", "Anonymous", "LazyFree", "Swap" };
	char spid[16], want[64], *p;
	char *text[] = { "memlens", "inspect", "--backend=proc", spid, NULL };
	struct pss_wl w;
	const char *tot;

	ASSERT_EQ(0, pss_start(&w));
	snprintf(spid, sizeof(spid), "%d", w.parent);
	/* the rows it sums: exact in JSON, each column's sum = smaps' */
	{
		static const char *const jcols[] = { "size_bytes", "resident_bytes", "anon_bytes",
						     "lazyfree_bytes", "swap_bytes" };
		struct jval *doc = inspect_json(w.parent, "--backend=proc", err, sizeof(err));
		const struct jval *rows;

		ASSERT_NE(NULL, doc) TH_LOG("%s", err);
		rows = jget(jpath(doc, "vmas"), "rows");
		ASSERT_NE(NULL, rows);
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			const char *const key[] = { cols[i], NULL };
			double sum = 0;

			for (int k = 0; k < rows->n; k++)
				sum += jnum(rows->items[k], jcols[i]);
			EXPECT_EQ(smaps_sum(w.parent, key), sum) TH_LOG("%s", cols[i]);
		}
	}
	ASSERT_EQ(0, ml_run(&res, text));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	tot = strstr(res.out, "\n  total ");
	ASSERT_NE(NULL, tot) TH_LOG("%s", res.out);
	p = (char *)tot + strlen("\n  total ");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		const char *const key[] = { cols[i], NULL };
		char *end;

		fmt_bytes(want, sizeof(want), smaps_sum(w.parent, key));
		while (*p == ' ')
			p++;
		/* each figure is "N.N UNIT" or "N B" */
		end = strchr(strchr(p, ' ') + 1, ' ');
		if (!end)
			end = p + strlen(p);
		EXPECT_EQ(0, strncmp(p, want, strlen(want))) TH_LOG("%s: %.*s, want %s", cols[i],
								       (int)(end - p), p, want);
		p = end;
	}
	pss_stop(&w);
}

TEST_HARNESS_MAIN
