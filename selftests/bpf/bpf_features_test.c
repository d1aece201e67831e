// SPDX-License-Identifier: GPL-2.0
/*
 * Every BPF object loads on this kernel, and a missing kernel feature
 * costs exactly what it gives (userspace/mlbpf/features.c).
 *
 * Each probed feature is masked in turn (MEMLENS_BPF_MASK, which the
 * loaders honour as if the kernel lacked it).  The output must then name
 * that loss, and no other loss the full run did not have, and every other
 * figure must equal the full run's: the page-table walk of a stopped
 * child (whose entries cannot change) byte for byte, and the faults of a
 * region of known size exactly.  The features the walk cannot do without
 * must make "auto" fall back to /proc and a named --backend bpf exit 7,
 * both with the reason.  Runs on the host and in every guest.
 */
#include <dirent.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "ml_touch.h"
#include "mlbpf.h"

#define NPAGES	1000
#define PAGE	4096UL

/* ML_TOUCH_PAGES: this program is its own workload (ml_touch.h). */

/* Run memlens with MEMLENS_BPF_MASK=@mask (NULL: unset). */
static int run_masked(struct ml_result *r, const char *mask, char *const argv[])
{
	int ret;

	if (mask)
		setenv("MEMLENS_BPF_MASK", mask, 1);
	ret = ml_run(r, argv);
	unsetenv("MEMLENS_BPF_MASK");
	return ret;
}

/* Is there a line "...without @name (@why..." in @err? */
static bool names_loss(const char *err, const char *name, const char *why)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "without %s (", name);
	p = strstr(err, key);
	return p && (!why || !strncmp(p + strlen(key), why, strlen(why)));
}

/*
 * Every "without NAME (" in @err is @allowed or appears in @base too:
 * masking one feature costs that one, no other.
 */
static bool only_loss(const char *err, const char *base, const char *allowed,
		      char *extra, size_t len)
{
	const char *p = err;
	char name[64];

	extra[0] = '\0';
	while ((p = strstr(p, "without "))) {
		p += 8;
		if (sscanf(p, "%63[a-z_0-9] (", name) != 1)
			continue;
		if (!strcmp(name, allowed) || names_loss(base, name, NULL))
			continue;
		snprintf(extra, len, "%s", name);
		return false;
	}
	return true;
}

TEST(every_bpf_object_loads_here)
{
	struct ml_pagetable pt;
	struct ml_tlbswap *t = NULL;
	struct ml_faults *f = NULL;
	struct ml_pgwalk *w = NULL;
	enum ml_bpf_feat lost[ML_FEAT_COUNT];
	int i, n;

	if (!ml_bpf_privileged())
		SKIP(return, "loading BPF needs CAP_BPF and CAP_PERFMON (run as root)");
	ASSERT_EQ(0, ml_pgwalk_open(&w, getpid())) TH_LOG("pgwalk: %s", ml_bpf_error());
	ASSERT_EQ(0, ml_pgwalk_run(w, &pt)) TH_LOG("pgwalk run: %s", ml_bpf_error());
	EXPECT_LT(0, pt.sum.vmas);
	EXPECT_EQ(0, pt.sum.read_errors);
	ml_pagetable_free(&pt);
	ml_pgwalk_close(w);
	ASSERT_EQ(0, ml_faults_open(&f, 0)) TH_LOG("faults: %s", ml_bpf_error());
	TH_LOG("faults: %s", ml_faults_path(f));
	ml_faults_close(f);
	ASSERT_EQ(0, ml_tlbswap_open(&t, 0)) TH_LOG("tlbswap: %s", ml_bpf_error());
	TH_LOG("tlbswap: %s", ml_tlbswap_path(t));
	ml_tlbswap_close(t);
	n = ml_bpf_losses(lost, ML_FEAT_COUNT);
	for (i = 0; i < n; i++)
		TH_LOG("lost here: %s (%s)", ml_bpf_feat_info(lost[i])->name,
		       ml_bpf_feat_why(lost[i]));
}

TEST(feature_names_are_known)
{
	for (int i = 0; i < ML_FEAT_COUNT; i++) {
		const struct ml_bpf_feat_info *fi = ml_bpf_feat_info(i);

		ASSERT_NE(NULL, fi->name);
		EXPECT_EQ(i, ml_bpf_feat_by_name(fi->name));
		EXPECT_NE(NULL, fi->gives);
		EXPECT_NE(NULL, fi->without);
	}
	EXPECT_EQ(-ENOENT, ml_bpf_feat_by_name("no_such_feature"));
}

/*
 * Whether the kernel clears accessed bits behind a stopped process: a
 * DAMON thread (kdamond) samples by clearing them through the rmap
 * (damon_folio_mkold(), mlock or not).  This host runs one, with a
 * pageout scheme.  Nothing sets them while the process is stopped, so
 * present_young may then only fall between two walks.
 */
static bool kernel_clears_young(void)
{
	char path[300], comm[32];
	bool found = false;
	struct dirent *d;
	DIR *dir = opendir("/proc");
	FILE *f;

	while (dir && !found && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(comm, sizeof(comm), f) && !strncmp(comm, "kdamond", 7);
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* The value of line "@key N" in @out, or -1. */
static long long out_key(const char *out, const char *key)
{
	size_t n = strlen(key);
	const char *p = out;

	while ((p = strstr(p, key))) {
		if ((p == out || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

/*
 * @out as a later walk of the stopped child than @base must print it:
 * the same bytes, but for present_young, which may fall when
 * @young_can_fall.  Says in @what what differs.
 */
static bool same_walk(const char *base, const char *out, bool young_can_fall,
		      char *what, size_t len)
{
	long long y0 = out_key(base, "present_young"), y1 = out_key(out, "present_young");
	static char a[1 << 16], b[1 << 16];
	char *p;

	what[0] = '\0';
	if (!strcmp(base, out))
		return true;
	if (!young_can_fall || y0 < 0 || y1 < 0 || y1 > y0 ||
	    strlen(base) >= sizeof(a) || strlen(out) >= sizeof(b)) {
		snprintf(what, len, "outputs differ (present_young %lld, then %lld)", y0, y1);
		return false;
	}
	/* Equal once both present_young values read the same. */
	strcpy(a, base);
	strcpy(b, out);
	for (p = strstr(a, "present_young "); p && *p != '\n'; p++)
		*p = ' ';
	for (p = strstr(b, "present_young "); p && *p != '\n'; p++)
		*p = ' ';
	if (strcmp(a, b)) {
		snprintf(what, len, "outputs differ beyond present_young");
		return false;
	}
	snprintf(what, len, "present_young fell from %lld to %lld (kdamond)", y0, y1);
	return true;
}

/*
 * A child with a known layout, stopped so that its page tables hold still.
 * Its memory is locked (mlockall, on fault: nothing more is populated) so
 * that no reclaim unmaps a page of it between two walks: this host's
 * DAMON pageout scheme may take cold file pages from any process.
 */
FIXTURE(stopped) {
	pid_t child;
	char pid[16];
};

FIXTURE_SETUP(stopped)
{
	int ready[2], st;
	char c;

	if (!ml_bpf_privileged())
		SKIP(return, "loading BPF needs CAP_BPF and CAP_PERFMON (run as root)");
	ASSERT_EQ(0, pipe(ready));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		volatile char *p;

		if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))
			_exit(5);
		p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		for (long i = 0; i < NPAGES; i += 2)
			p[i * PAGE] = 1;
		ml_ready_then_pause(ready[1], 4);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	/* Stopped, it touches nothing: no entry or accessed bit can change. */
	ASSERT_EQ(0, kill(self->child, SIGSTOP));
	ASSERT_EQ(self->child, waitpid(self->child, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	snprintf(self->pid, sizeof(self->pid), "%d", self->child);
}

FIXTURE_TEARDOWN(stopped)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
}

/* The walk's optional features: the same tables, names and kinds without each. */
TEST_F_TIMEOUT(stopped, walk_features_masked_one_by_one_cost_only_themselves, 600)
{
	static const char *const feats[] = {
		"vma_special_names", "iter_task_pid", "kallsyms_page_offset_base",
	};
	static const char *const cmds[] = { "vmas", "pagetable" };
	static struct ml_result base, r;
	bool young_can_fall = kernel_clears_young();
	char extra[64], what[128];

	for (size_t c = 0; c < 2; c++) {
		char *argv[] = { "memlens", (char *)cmds[c], self->pid, NULL };

		ASSERT_EQ(0, run_masked(&base, NULL, argv));
		ASSERT_EQ(0, base.status) TH_LOG("%s: %s", cmds[c], base.err);
		for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
			ASSERT_EQ(0, run_masked(&r, feats[i], argv));
			EXPECT_EQ(0, r.status) TH_LOG("%s masked: %s", feats[i], r.err);
			EXPECT_TRUE(same_walk(base.out, r.out, young_can_fall, what, sizeof(what)))
				TH_LOG("%s %s masked: %s\n%s\nthen\n%s", cmds[c], feats[i], what,
				       base.out, r.out);
			if (what[0])
				TH_LOG("%s %s masked: %s", cmds[c], feats[i], what);
			EXPECT_TRUE(names_loss(r.err, feats[i], "masked by MEMLENS_BPF_MASK"))
				TH_LOG("%s masked: stderr %s", feats[i], r.err);
			EXPECT_TRUE(only_loss(r.err, base.err, feats[i], extra, sizeof(extra)))
				TH_LOG("%s masked also lost %s", feats[i], extra);
		}
	}
}

/* Without these there is no BPF walk: a clear error, and auto falls back. */
TEST_F_TIMEOUT(stopped, walk_without_iterator_or_loop_falls_back_to_proc, 600)
{
	static const char *const feats[] = { "iter_task_vma", "bpf_loop" };
	static struct ml_result r;
	char *vmas[] = { "memlens", "vmas", self->pid, NULL };
	char *inspect[] = { "memlens", "inspect", "--no-vmas", self->pid, NULL };
	char *json[] = { "memlens", "inspect", "--json", "--no-vmas", self->pid, NULL };
	char *named[] = { "memlens", "inspect", "--backend", "bpf", self->pid, NULL };

	for (size_t i = 0; i < 2; i++) {
		ASSERT_EQ(0, run_masked(&r, feats[i], vmas));
		EXPECT_EQ(1, r.status);
		EXPECT_NE(NULL, strstr(r.err, "masked by MEMLENS_BPF_MASK")) TH_LOG("%s", r.err);

		ASSERT_EQ(0, run_masked(&r, feats[i], inspect));
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", feats[i], r.err);
		EXPECT_NE(NULL, strstr(r.out, "backend proc\n")) TH_LOG("%s", r.out);
		EXPECT_NE(NULL, strstr(r.out, "bpf: BPF page-table walk failed")) TH_LOG("%s", r.out);
		EXPECT_NE(NULL, strstr(r.out, "masked by MEMLENS_BPF_MASK")) TH_LOG("%s", r.out);
		EXPECT_EQ(NULL, strstr(r.out, "snapshot failed"));

		ASSERT_EQ(0, run_masked(&r, feats[i], json));
		EXPECT_EQ(0, r.status);
		EXPECT_NE(NULL, strstr(r.out, "\"name\":\"proc\"")) TH_LOG("%s", r.out);
		EXPECT_NE(NULL, strstr(r.out, "masked by MEMLENS_BPF_MASK"));

		ASSERT_EQ(0, run_masked(&r, feats[i], named));
		EXPECT_EQ(7, r.status) TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strstr(r.err, "backend bpf failed")) TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strstr(r.err, "masked by MEMLENS_BPF_MASK\n")) TH_LOG("%s", r.err);
	}
}

/* inspect names what the walk lost, in text and JSON, and keeps its figures. */
TEST_F_TIMEOUT(stopped, inspect_names_a_lost_feature, 300)
{
	static struct ml_result r;
	char *text[] = { "memlens", "inspect", "--backend", "bpf", self->pid, NULL };
	char *json[] = { "memlens", "inspect", "--backend", "bpf", "--json", self->pid, NULL };
	char *prom[] = { "memlens", "inspect", "--backend", "bpf", "--prometheus", self->pid, NULL };

	ASSERT_EQ(0, run_masked(&r, "vma_special_names", text));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "without vma_special_names    masked by MEMLENS_BPF_MASK"))
		TH_LOG("%s", r.out);
	ASSERT_EQ(0, run_masked(&r, "vma_special_names", json));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "\"vma_special_names\":\"masked by MEMLENS_BPF_MASK"))
		TH_LOG("%s", r.out);
	ASSERT_EQ(0, run_masked(&r, "vma_special_names", prom));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "# without vma_special_names: masked by MEMLENS_BPF_MASK"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\nmemlens_bpf_features_lost{"));
}

/* Tests that run memlens many times: BPF loads are slow under TCG. */
FIXTURE(cmds) {
	int unused;
};

FIXTURE_SETUP(cmds)
{
}

FIXTURE_TEARDOWN(cmds)
{
}

/* The row of the fresh region in "memlens faults" output: minor, major. */
static int region_row(const char *out, long long *minor, long long *major)
{
	const char *line = strstr(out, "start end minor major name\n");
	int rows = 0;
	long long mi, ma;

	for (line = line ? strchr(line, '\n') : NULL; line && line[1];
	     line = strchr(line + 1, '\n'))
		if (sscanf(line + 1, "%*s %*s %lld %lld", &mi, &ma) == 2 && mi == NPAGES) {
			*minor = mi;
			*major = ma;
			rows++;
		}
	return rows;
}

static bool has_key(const char *out, const char *key)
{
	char k[64];

	snprintf(k, sizeof(k), "\n%s ", key);
	return !strncmp(out, key + 0, strlen(key)) || strstr(out, k);
}

/*
 * The fault counters' features, in counting mode (the default) and with
 * --latency: each masked costs its own lines only, and the fresh region's
 * faults stay exact wherever VMAs are still attributed.  Counting mode
 * uses tp_page_fault and bpf_find_vma; without tp_page_fault it counts on
 * the latency mode's completion path, which may need fexit too.
 */
static void fault_features_masked(struct __test_metadata *_metadata, bool latency)
{
	static const char *const feats[] = {
		"tp_page_fault", "fexit_handle_mm_fault", "bpf_find_vma",
	};
	static struct ml_result base, lbase, r;
	char self_exe[512] = "", extra[64];
	char *argv[] = { "memlens", "faults", "--", self_exe, NULL };
	char *largv[] = { "memlens", "faults", "--latency", "--", self_exe, NULL };
	char **run = latency ? largv : argv;
	long long minor, major;
	bool perf_path;

	ASSERT_LT(0, readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1));
	setenv("ML_TOUCH_PAGES", "1000", 1);
	ASSERT_EQ(0, run_masked(&base, NULL, run));
	ASSERT_EQ(0, base.status) TH_LOG("%s", base.err);
	ASSERT_EQ(1, region_row(base.out, &minor, &major)) TH_LOG("%s", base.out);
	EXPECT_EQ(0, major);
	/* The latency path of this kernel: fexit, or perf events. */
	ASSERT_EQ(0, run_masked(&lbase, NULL, largv));
	perf_path = names_loss(lbase.err, "fexit_handle_mm_fault", NULL);
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		/* Latency mode asks about bpf_find_vma only on perf events. */
		bool used = latency ? i != 2 || perf_path : i != 1;
		bool vmas = latency ? i != 2 || !perf_path : i != 2;
		const char *also = NULL;

		if (i == 1 && perf_path && latency)
			vmas = !names_loss(base.err, "bpf_find_vma", NULL);
		if (i == 0 && !latency && perf_path)
			also = "fexit_handle_mm_fault"; /* the fallback's completion */
		ASSERT_EQ(0, run_masked(&r, feats[i], run));
		EXPECT_EQ(0, r.status) TH_LOG("%s masked: %s", feats[i], r.err);
		EXPECT_EQ(used, names_loss(r.err, feats[i], NULL))
			TH_LOG("%s masked: stderr %s", feats[i], r.err);
		if (!only_loss(r.err, base.err, feats[i], extra, sizeof(extra)))
			EXPECT_STREQ(also ? also : "", extra)
				TH_LOG("%s masked also lost %s", feats[i], extra);
		EXPECT_TRUE(has_key(r.out, "minor")) TH_LOG("%s", r.out);
		EXPECT_TRUE(has_key(r.out, "major"));
		if (i == 0) {
			/* Without the entry tracepoints: the completion counts. */
			EXPECT_TRUE(has_key(r.out, "mode latency")) TH_LOG("%s", r.out);
			EXPECT_FALSE(has_key(r.out, "write")) TH_LOG("%s", r.out);
			EXPECT_FALSE(has_key(r.out, "protection"));
			EXPECT_EQ(NULL, strstr(r.out, "\nlat_"));
		} else {
			EXPECT_EQ(has_key(base.out, "write"), has_key(r.out, "write"));
		}
		if (i == 1 && latency)
			EXPECT_FALSE(has_key(r.out, "retry")) TH_LOG("%s", r.out);
		if (vmas) {
			EXPECT_EQ(1, region_row(r.out, &minor, &major))
				TH_LOG("%s masked: %s", feats[i], r.out);
			EXPECT_EQ(0, major);
		} else {
			EXPECT_EQ(NULL, strstr(r.out, "start end minor major name"));
		}
	}
	unsetenv("ML_TOUCH_PAGES");
}

TEST_F_TIMEOUT(cmds, fault_features_masked_one_by_one_cost_only_themselves, 600)
{
	if (geteuid())
		SKIP(return, "BPF needs root");
	fault_features_masked(_metadata, false);
}

TEST_F_TIMEOUT(cmds, fault_features_masked_with_latency, 600)
{
	if (geteuid())
		SKIP(return, "BPF needs root");
	fault_features_masked(_metadata, true);
}

/* TLB and swap: each attach point masked is named; the rest still runs. */
TEST_F_TIMEOUT(cmds, tlb_and_swap_features_masked_are_named, 600)
{
	static const char *const feats[] = {
		"fentry_swap_in", "fentry_swap_writepage", "fexit_do_swap_page",
	};
	static struct ml_result base, r;
	char *swap[] = { "memlens", "swap", "--", "true", NULL };
	char *tlb[] = { "memlens", "tlb", "--", "true", NULL };
	char extra[64];

	if (geteuid())
		SKIP(return, "BPF needs root");
	ASSERT_EQ(0, run_masked(&base, NULL, swap));
	ASSERT_EQ(0, base.status) TH_LOG("%s", base.err);
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		ASSERT_EQ(0, run_masked(&r, feats[i], swap));
		EXPECT_TRUE(names_loss(r.err, feats[i], NULL)) TH_LOG("%s: %s", feats[i], r.err);
		EXPECT_TRUE(only_loss(r.err, base.err, feats[i], extra, sizeof(extra)))
			TH_LOG("%s masked also lost %s", feats[i], extra);
	}
	ASSERT_EQ(0, run_masked(&r, "tp_tlb_flush", tlb));
	EXPECT_NE(0, r.status);
	EXPECT_TRUE(names_loss(r.err, "tp_tlb_flush", "masked by MEMLENS_BPF_MASK")) TH_LOG("%s", r.err);
	/* the TLB count is what "memlens tlb" is for: it has nothing to show */
	EXPECT_TRUE(strstr(r.err, "no TLB flush events") ||
		    strstr(r.err, "no attach point for TLB or swap events")) TH_LOG("%s", r.err);
}

TEST_HARNESS_MAIN
