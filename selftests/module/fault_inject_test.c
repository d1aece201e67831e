// SPDX-License-Identifier: GPL-2.0
/*
 * Every allocation memlens makes, failed once.
 *
 * Systematic fault injection with /proc/thread-self/fail-nth (the kernel's
 * Documentation/fault-injection/fault-injection.rst, "fail-nth"): writing
 * N there makes the N-th should_fail() call of this thread fail, whether
 * it comes from failslab, fail_page_alloc or memlens' own percpu fault
 * point (module/fault_inject.c).  For each operation on the module -- a
 * track, an untrack, a reset, and a read of every file -- the test runs
 * it with N = 1, 2, 3, ... until an N is not reached: by then every
 * allocation on the operation's path, the module's and the kernel's on
 * its behalf, has failed once, with all the ones before it succeeding.
 * Slab and page allocations are swept apart, since the count of the
 * pages moves from run to run on a KASAN kernel (setup_count()).
 * The load does the same from memlens_init() on (the module's
 * fail_init_nth parameter), skipping through long runs of identical
 * failures (see the load test).
 *
 * After each run the operation must have either succeeded completely or
 * failed with ENOMEM and left nothing behind, and the module must still
 * work.  The stacks the kernel prints for each injected failure (verbose
 * 2) are read back from /dev/kmsg; the distinct memlens frames they name
 * are listed, so the log shows which of the module's call sites failed.
 * selftests/vm/run skips those expected dumps but fails the run on any
 * other kernel report (lockdep, KASAN, WARNING, a kmemleak report naming
 * memlens after the run).
 *
 * Needs CONFIG_FAULT_INJECTION and CONFIG_FAILSLAB/FAIL_PAGE_ALLOC with
 * debugfs: the debug guest kernel (6.1-debug).  The suite runs without
 * the module loaded; the test loads it itself.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 900

#define FAIL_NTH_MAX	20000	/* no operation comes near; a runaway guard */
#define MAX_SITES	256
#define SWEEPS_MAX	12

/* A file, and the memlens functions that allocate when it is read. */
struct ml_file {
	const char *name;
	const char *const *fails_in;	/* NULL-terminated, or NULL */
};

#define FAILS_IN(...)	((const char *const[]){ __VA_ARGS__, NULL })

static const struct ml_file global_files[] = {
	{ "version", NULL },
	{ "track", NULL },
	{ "faults", FAILS_IN("show_stats") },
	{ "tlb", NULL },
	{ "swap", FAILS_IN("swap_open", "proc_swaps_read") },
};
static const struct ml_file pid_files[] = {
	{ "pagetable", FAILS_IN("ml_walk_init") },
	{ "vmas", FAILS_IN("ml_walk_init") },
	{ "faults", FAILS_IN("show_stats") },
	{ "vma_faults", FAILS_IN("vma_faults_show") },
	{ "tlb", FAILS_IN("ml_walk_init") },
	{ "swap", FAILS_IN("ml_walk_init") },
};

/* The distinct memlens frames seen in injected failures' stacks. */
struct sites {
	int n;
	char name[MAX_SITES][96];
};

struct inject {
	int nth_fd;		/* /proc/thread-self/fail-nth */
	int kmsg_fd;		/* /dev/kmsg, non-blocking, read from its end */
	int in_dump;		/* inside a "forcing a failure" stack dump */
	int site_taken;		/* this dump's memlens frame is recorded */
	int dumps;		/* injected failures with a stack dump */
	unsigned long long stack;	/* FNV-1a of its dump's reliable frames */
	int init_report;	/* fail_init_nth: 1 injected, 2 not reached */
	struct sites *sites;
};

#define FNV_INIT 1469598103934665603ULL

static unsigned long long fnv(unsigned long long h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

enum count { COUNT_SLAB, COUNT_PAGES };

/*
 * Which allocations fail-nth counts: it works through failslab's and
 * fail_page_alloc's should_fail() calls, and those are made only for the
 * allocations the capabilities' filters let through.  Probability stays
 * 0: only fail-nth injects.  memlens' percpu fault point counts always.
 *
 * COUNT_SLAB counts every slab allocation and no page allocation (a
 * min-order above every order); COUNT_PAGES every page allocation and
 * no slab allocation (cache-filter on, with no cache chosen).  The two
 * are swept apart because on the debug kernel the slab count is the same
 * from one run of an operation to the next and the page count is not:
 * KASAN's quarantine holds freed objects back from reuse, so a slab runs
 * out and takes new pages every few runs, at a different point each
 * time, and KASAN's stack depot takes pages of its own now and then.
 * Counted together, one such page shifts the rest of a run's count by
 * one and the sweep steps over the allocation it was due to fail: a CI
 * run's reads sweep never failed vma_faults_show()'s two kmallocs.
 */
static int setup_count(enum count what)
{
	const int slab = what == COUNT_SLAB;
	const char *const settings[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/cache-filter", slab ? "N" : "Y" },
		{ "/sys/kernel/debug/failslab/verbose", "2" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", slab ? "64" : "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "2" },
	};
	size_t i;
	int ret;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		ret = write_str(settings[i][0], settings[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

static void add_site(struct sites *s, const char *frame)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], frame))
			return;
	if (s->n < MAX_SITES)
		snprintf(s->name[s->n++], sizeof(s->name[0]), "%s", frame);
}

/*
 * Whether an injected failure went through function @fn: a frame of it
 * is in @s.  Names only, no offsets (those change with the compiler).
 */
static int site_failed(const struct sites *s, const char *fn)
{
	size_t n = strlen(fn);
	int i;

	for (i = 0; i < s->n; i++)
		if (!strncmp(s->name[i], fn, n) && s->name[i][n] == '+')
			return 1;
	return 0;
}

/*
 * One /dev/kmsg record ("prio,seq,usec,flags;text"): follow the stack
 * dumps of injected failures and record the innermost reliable memlens
 * frame of each, without its "/size" suffix: "memlens_track_start+0x1c4".
 */
static void kmsg_record(struct inject *in, char *rec)
{
	char *text = strchr(rec, ';'), *nl, *end;

	if (!text)
		return;
	text++;
	nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	if (strstr(text, "memlens: fail_init_nth ")) {
		in->init_report = strstr(text, ": injected") ? 1 : 2;
		return;
	}
	if (strstr(text, "FAULT_INJECTION: forcing a failure")) {
		in->in_dump = 1;
		in->site_taken = 0;
		in->dumps++;
		return;
	}
	if (!in->in_dump)
		return;
	if (strstr(text, "</TASK>")) {
		in->in_dump = 0;
		return;
	}
	while (*text == ' ')
		text++;
	if (text[0] != '?' && strstr(text, "+0x"))
		in->stack = fnv(in->stack, text);
	if (in->site_taken || text[0] == '?' || !strstr(text, " [memlens]"))
		return;
	end = strchr(text, '/');
	if (end)
		*end = '\0';
	add_site(in->sites, text);
	in->site_taken = 1;
}

static void kmsg_drain(struct inject *in)
{
	char rec[8192];
	ssize_t n;

	for (;;) {
		n = read(in->kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records: go on */
			continue;
		if (n <= 0)
			return;
		rec[n] = '\0';
		kmsg_record(in, rec);
	}
}

/* Before an injection: no landing seen yet. */
static void inject_arm(struct inject *in)
{
	in->stack = FNV_INIT;
}

/*
 * Run @op with its @nth should_fail() call failing.  Returns what @op
 * returned (0 or -errno); *@reached says whether the n-th call happened.
 * Nothing between the write to fail-nth and the read back may allocate
 * in the kernel but @op itself: raw system calls only.
 */
static int run_nth(struct inject *in, int nth, int (*op)(void *), void *arg,
		   int *reached)
{
	char buf[32];
	int len, ret;
	ssize_t n;

	inject_arm(in);
	len = snprintf(buf, sizeof(buf), "%d", nth);
	if (write(in->nth_fd, buf, len) != len)
		return -1000 - errno;
	ret = op(arg);
	n = pread(in->nth_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	*reached = n > 0 && atoi(buf) == 0;
	if (write(in->nth_fd, "0", 1) != 1)	/* nothing more to fail */
		return -1000 - errno;
	kmsg_drain(in);
	return ret;
}

static int module_loaded(void)
{
	char *s = pt_slurp("/proc/modules");
	int found;

	if (!s)
		return -1;
	found = !strncmp(s, "memlens ", 8) || strstr(s, "\nmemlens ") != NULL;
	free(s);
	return found;
}

static int path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* A process with some memory, to track. */
static pid_t target(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		size_t len = 256 * PG;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 1, len);
		for (;;)
			pause();
	}
	return pid;
}

/* Read a whole file with raw system calls: 0 or -errno. */
static int read_all(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = 0;

	*len = 0;
	if (fd < 0)
		return -errno;
	while (*len < size - 1 && (n = read(fd, buf + *len, size - 1 - *len)) > 0)
		*len += n;
	if (n < 0)
		n = -errno;
	close(fd);
	buf[*len] = '\0';
	return n < 0 ? n : 0;
}

static char read_buf[1 << 20];	/* what op_read() read */

/*
 * Every file of a working module and of pid/@pid/ reads, non-empty.
 * Reads into read_buf: never between an op_read() and its judging.
 */
static int check_files(struct __test_metadata *_metadata, pid_t pid)
{
	char path[256];
	size_t i, len;
	int ret, bad = 0;

	for (i = 0; i < sizeof(global_files) / sizeof(global_files[0]); i++) {
		snprintf(path, sizeof(path), ML_DIR "/%s", global_files[i].name);
		ret = read_all(path, read_buf, sizeof(read_buf), &len);
		if (ret || (!len && strcmp(global_files[i].name, "track"))) {
			TH_LOG("%s: %s (%zu bytes)", path, strerror(-ret), len);
			bad++;
		}
	}
	for (i = 0; pid && i < sizeof(pid_files) / sizeof(pid_files[0]); i++) {
		snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid,
			 pid_files[i].name);
		ret = read_all(path, read_buf, sizeof(read_buf), &len);
		if (ret || !len) {
			TH_LOG("%s: %s (%zu bytes)", path, strerror(-ret), len);
			bad++;
		}
	}
	return bad;
}

/*
 * Every line key (first word) of @want, but for the fault latency
 * buckets, which come and go, is also a key of @got: an output cut short
 * by a failed allocation is not a success.
 */
static int keys_missing(const char *want, const char *got)
{
	const char *line, *end;
	char key[64];
	int missing = 0;
	size_t n;

	for (line = want; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		n = strcspn(line, " \n");
		if (n >= sizeof(key) || !n || !strncmp(line, "lat_", 4))
			continue;
		key[0] = '\n';
		memcpy(key + 1, line, n);
		key[n + 1] = '\0';
		if (strncmp(got, key + 1, n) && !strstr(got, key))
			missing++;
	}
	return missing;
}

/* The operations, each nothing but its system calls. */
struct op_ctx {
	int fd;
	char text[32];
	char path[256];
	size_t len;
	pid_t pid;		/* the tracked process */
	char dir[64];		/* its pid/PID/ */
};

static int op_load(void *arg)
{
	struct op_ctx *c = arg;

	return syscall(SYS_finit_module, c->fd, c->text, 0) ? -errno : 0;
}

static int op_write(void *arg)
{
	struct op_ctx *c = arg;
	ssize_t n = write(c->fd, c->text, strlen(c->text));

	return n < 0 ? -errno : 0;
}

static int op_read(void *arg)
{
	struct op_ctx *c = arg;

	return read_all(c->path, read_buf, sizeof(read_buf), &c->len);
}

/*
 * How many of the memlens functions @fns (NULL-terminated, or NULL) no
 * injected failure in @s went through, each named in the log.  The
 * functions are global or called through a pointer, so never inlined
 * away.
 */
static int sites_missing(struct __test_metadata *_metadata,
			 const struct sites *s, const char *const *fns)
{
	int missing = 0;

	for (; fns && *fns; fns++) {
		if (site_failed(s, *fns))
			continue;
		TH_LOG("no injected failure in %s()", *fns);
		missing++;
	}
	return missing;
}

static void merge_sites(struct sites *into, const struct sites *from)
{
	int i;

	for (i = 0; i < from->n; i++)
		add_site(into, from->name[i]);
}

/*
 * An operation to sweep: @op with @arg, @prepare before each injection
 * and @judge after it, each returning the number of things it found
 * wrong; @judge gets what @op returned and whether the injection was
 * reached.  @fails_in: the memlens functions a failure must go through.
 */
struct sweep {
	const char *what;
	int (*op)(void *arg);
	void *arg;
	int (*prepare)(struct __test_metadata *_metadata, void *arg, int nth);
	int (*judge)(struct __test_metadata *_metadata, void *arg, int nth,
		     int ret, int reached);
	const char *const *fails_in;
};

/* N = 1, 2, 3, ... until the Nth should_fail() call is not reached. */
static int sweep_once(struct __test_metadata *_metadata, struct inject *in,
		      const struct sweep *sw, int *points)
{
	int nth, ret, reached = 1, bad = 0;

	for (nth = 1; reached && nth < FAIL_NTH_MAX; nth++) {
		if (sw->prepare)
			bad += sw->prepare(_metadata, sw->arg, nth);
		ret = run_nth(in, nth, sw->op, sw->arg, &reached);
		bad += sw->judge(_metadata, sw->arg, nth, ret, reached);
	}
	if (reached) {
		TH_LOG("%s: still injecting at %d", sw->what, nth);
		bad++;
	}
	*points += nth - 2;
	return bad;
}

/*
 * Sweep @sw with slab allocations counted, then with page allocations
 * (setup_count()).  The slab count is the same from run to run and the
 * page count is not: a page sweep steps over an allocation whenever a
 * slab's new page comes before it in the run, one page sweep in four of
 * a file's read in the runs seen.  So the page sweep is made again while
 * one of @sw->fails_in has not failed yet, SWEEPS_MAX sweeps in all at
 * most.  The memlens frames seen go into @in->sites.  Returns the number
 * of things wrong, a function of @sw->fails_in never failed in among
 * them.
 */
static int sweep(struct __test_metadata *_metadata, struct inject *in,
		 const struct sweep *sw, int *points)
{
	struct sites *all = in->sites, *mine = calloc(1, sizeof(*mine));
	const char *const *todo;
	int i, ret, bad = 0;

	if (!mine)
		return 1;
	in->sites = mine;
	for (i = 0; i < SWEEPS_MAX; i++) {
		for (todo = sw->fails_in; todo && *todo; todo++)
			if (!site_failed(mine, *todo))
				break;
		if (i >= 2 && !(todo && *todo))
			break;
		if (i >= 2)
			ksft_print_msg("%s: sweep %d: %s() has not failed yet\n",
				       sw->what, i + 1, *todo);
		ret = setup_count(i ? COUNT_PAGES : COUNT_SLAB);
		if (ret) {
			TH_LOG("setting up failslab/fail_page_alloc: %s",
			       strerror(-ret));
			bad++;
			break;
		}
		bad += sweep_once(_metadata, in, sw, points);
	}
	bad += sites_missing(_metadata, mine, sw->fails_in);
	merge_sites(all, mine);
	in->sites = all;
	free(mine);
	return bad;
}

FIXTURE(inject) {
	struct inject in;
	struct sites sites;
	pid_t pid;
};

FIXTURE_SETUP(inject)
{
	char path[64];
	int ret;

	memset(&self->in, 0, sizeof(self->in));
	self->in.nth_fd = -1;
	self->in.kmsg_fd = -1;
	self->sites.n = 0;
	self->in.sites = &self->sites;
	self->pid = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	if (!path_exists(path))
		SKIP(return, "no %s: kernel without CONFIG_FAULT_INJECTION", path);
	if (!path_exists("/sys/kernel/debug/failslab") ||
	    !path_exists("/sys/kernel/debug/fail_page_alloc"))
		SKIP(return, "no failslab/fail_page_alloc in debugfs");
	ret = setup_count(COUNT_SLAB);
	ASSERT_EQ(0, ret) TH_LOG("configuring failslab/fail_page_alloc: %s",
				 strerror(-ret));
	self->in.nth_fd = open(path, O_RDWR);
	ASSERT_LE(0, self->in.nth_fd);
	self->in.kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, self->in.kmsg_fd);
	lseek(self->in.kmsg_fd, 0, SEEK_END);
	ASSERT_EQ(0, module_loaded()) TH_LOG("run without the module loaded");
}

FIXTURE_TEARDOWN(inject)
{
	if (self->pid > 0)
		ml_reap(self->pid);
	if (module_loaded() == 1)
		ml_unload_module();
	if (self->in.nth_fd >= 0)
		close(self->in.nth_fd);
	if (self->in.kmsg_fd >= 0)
		close(self->in.kmsg_fd);
}

static void report_sites(struct __test_metadata *_metadata, const char *what,
			 int points, struct inject *in)
{
	int i;

	ksft_print_msg("%s: %d allocations failed one at a time, %d stack dumps, "
		       "%d distinct memlens frames:\n", what, points, in->dumps,
		       in->sites->n);
	for (i = 0; i < in->sites->n; i++)
		ksft_print_msg("  %s\n", in->sites->name[i]);
}

static int load_plain(void)
{
	return ml_load_module();
}

/*
 * What one injection did: the stack it failed on (all reliable frames;
 * none for an allocation that asked for no warning) and the result.
 */
static unsigned long long signature(const struct inject *in, int ret)
{
	return (in->stack ^ (unsigned int)ret) | 1;	/* never 0: "not run" */
}

/*
 * Load with fail_init_nth=@nth: the module fails the nth allocation of
 * its init (module/fault_inject.c).  Returns what finit_module() did;
 * *@reached from the module's report in the kernel log.
 */
static int load_nth(struct inject *in, struct op_ctx *c, int nth, int *reached)
{
	int ret;

	inject_arm(in);
	in->init_report = 0;
	snprintf(c->text, sizeof(c->text), "fail_init_nth=%d", nth);
	ret = op_load(c);
	kmsg_drain(in);
	*reached = in->init_report == 1;
	if (!in->init_report)
		return -1000;		/* no report: not the fault-injection build */
	return ret;
}

/*
 * Is @n in a run of a loop's allocations: the last six injections all
 * made, with two signatures at most, one of them of a failure with a
 * stack (the loop's allocation) and the other, if any, of failures
 * without (what kmemleak and KASAN allocate beside each object, asking
 * for no warning)?  Then *@loop is the first.
 */
static int loop_run(const unsigned long long *sig, int n, unsigned long long *loop)
{
	unsigned long long quiet = (FNV_INIT ^ 0U) | 1;	/* signature(no stack, 0) */
	int k;

	if (n < 6)
		return 0;
	*loop = 0;
	for (k = n - 5; k <= n; k++) {
		if (!sig[k])
			return 0;
		if (sig[k] == quiet)
			continue;
		if (*loop && sig[k] != *loop)
			return 0;
		*loop = sig[k];
	}
	return *loop != 0;
}

/*
 * The load: module_init's allocations (debugfs, probes, tracepoints),
 * counted from memlens_init() on with the module's fail_init_nth
 * parameter; the loader's own allocations before it are the kernel's to
 * handle (and some of their failures WARN).  A failed load leaves no
 * module and no debugfs directory; a load that got through despite a
 * failure is complete.  Slab allocations only (COUNT_SLAB):
 * memlens_init() makes no page allocation of its own, and the pages
 * slabs and KASAN's stack depot take now and then would shift the count
 * from one load to the next (setup_count()).
 *
 * The sweep is N = 1, 2, 3, ... but for the runs of a loop: the 256 and
 * 64 kretprobe instances register_kretprobe() allocates one by one fail
 * the same way each, and each costs a load.  Once six injections in a row
 * are the loop's (loop_run()), N advances by doubling strides (up to 32)
 * while the first failure with a stack at or after each landing is the
 * loop's again; anything else, or N past the end, sends the sweep back to
 * where the stride started, to go on one by one.  So every run's first
 * and last injections, and every injection outside such runs, are made.
 */
TEST_F_TIMEOUT(inject, load, 1800)
{
	unsigned long long *sig = calloc(FAIL_NTH_MAX + 1, sizeof(*sig));
	int nth, ret, reached, bad = 0, step = 1, guard = 0, from = 0, runs = 0;
	unsigned long long loop = 0, now;
	struct op_ctx c = { 0 };

	ASSERT_NE(NULL, sig);
	ASSERT_EQ(0, setup_count(COUNT_SLAB));
	c.fd = open(ml_ko_path(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, c.fd) TH_LOG("%s: %s", ml_ko_path(), strerror(errno));
	for (nth = 1; nth < FAIL_NTH_MAX; nth++) {
		ret = load_nth(&self->in, &c, nth, &reached);
		ASSERT_NE(-1000, ret) TH_LOG("no fail_init_nth report from the module");
		if (ret == 0)
			bad += check_files(_metadata, 0);
		if (ret == 0 && ml_unload_module()) {
			TH_LOG("failure %d: cannot unload", nth);
			bad++;
			break;
		}
		if (ret && !reached) {
			TH_LOG("load failed with nothing injected: %s", strerror(-ret));
			bad++;
		}
		if (ret && (module_loaded() || path_exists(ML_DIR))) {
			TH_LOG("failure %d (%s) left the module or %s behind",
			       nth, strerror(-ret), ML_DIR);
			bad++;
			break;
		}
		runs += reached;
		now = signature(&self->in, ret);
		if (step > 1) {
			/* landed: judge by the next injection with a stack */
			if (reached && self->in.stack == FNV_INIT)
				continue;
			if (!reached || now != loop) {
				guard = nth;		/* back, one by one past here */
				nth = from;
				step = 1;
				continue;
			}
			from = nth;
			step = step < 32 ? step * 2 : 32;
			nth += step - 1;
			continue;
		}
		if (!reached)
			break;				/* past the last allocation */
		sig[nth] = now;
		if (nth > guard && loop_run(sig, nth, &loop)) {
			from = nth;
			step = 2;
			nth += step - 1;
		}
	}
	close(c.fd);
	free(sig);
	EXPECT_GT(FAIL_NTH_MAX, nth);
	EXPECT_EQ(0, bad);
	ksft_print_msg("load: %d allocations, %d of them failed one at a time\n",
		       nth - 1, runs);
	report_sites(_metadata, "load", runs, &self->in);
	EXPECT_EQ(0, sites_missing(_metadata, &self->sites, (const char *const[]){
		"memlens_init", "memlens_tp_register", "memlens_faults_init",
		"memlens_tlb_init", "memlens_swap_init", "memlens_acct_init",
		"memlens_track_init", NULL }));
	/* and it still loads and works */
	ASSERT_EQ(0, load_plain());
	EXPECT_EQ(0, check_files(_metadata, 0));
}

static int judge_track(struct __test_metadata *_metadata, void *arg,
		       int nth, int ret, int reached)
{
	struct op_ctx *c = arg;
	int bad = 0;

	if (ret == 0) {
		bad += check_files(_metadata, c->pid);
		if (pt_untrack(c->pid)) {
			TH_LOG("failure %d: cannot untrack after it", nth);
			bad++;
		}
		return bad;
	}
	if (ret != -ENOMEM || !reached) {
		TH_LOG("failure %d: track gave %s", nth, strerror(-ret));
		bad++;
	}
	if (path_exists(c->dir)) {
		TH_LOG("failure %d: %s left behind", nth, c->dir);
		bad++;
		pt_untrack(c->pid);
	}
	return bad;
}

/* A process to track, its pid/PID/ and an open debugfs file. */
static int op_ctx_init(struct op_ctx *c, pid_t pid, const char *file)
{
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	snprintf(c->dir, sizeof(c->dir), ML_DIR "/pid/%d", pid);
	c->fd = open(file, O_WRONLY);
	return c->fd < 0 ? -errno : 0;
}

/*
 * Track: the registry entry, pid/PID/ and its six files, each
 * mechanism's per-process data.  ENOMEM leaves no trace of the process;
 * success leaves all of it.
 */
TEST_F(inject, track)
{
	struct op_ctx c;
	struct sweep sw = {
		.what = "track", .op = op_write, .arg = &c,
		.judge = judge_track,
		/*
		 * faults', tlb's and swap's attach hooks tail-call
		 * memlens_proc_stats_attach(), so it is their frame.
		 */
		.fails_in = FAILS_IN("track_write", "pagetable_attach",
				     "vmas_attach", "memlens_proc_stats_attach",
				     "memlens_stats_add",
				     "memlens_vma_faults_create"),
	};
	int points = 0;
	char *list;

	ASSERT_EQ(0, load_plain());
	self->pid = target();
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, op_ctx_init(&c, self->pid, ML_DIR "/track"));
	snprintf(c.text, sizeof(c.text), "%d\n", self->pid);
	EXPECT_EQ(0, sweep(_metadata, &self->in, &sw, &points));
	close(c.fd);
	report_sites(_metadata, "track", points, &self->in);
	/* still usable: track, read, untrack */
	ASSERT_EQ(0, pt_track(self->pid));
	EXPECT_EQ(0, check_files(_metadata, self->pid));
	EXPECT_EQ(0, pt_untrack(self->pid));
	list = pt_slurp(ML_DIR "/track");
	ASSERT_NE(NULL, list);
	EXPECT_STREQ("", list);
	free(list);
}

static int prepare_untrack(struct __test_metadata *_metadata, void *arg, int nth)
{
	struct op_ctx *c = arg;
	int ret = pt_track(c->pid);

	if (ret)
		TH_LOG("before failure %d: track gave %s", nth, strerror(-ret));
	return ret != 0;
}

/* A failed untrack leaves the process tracked, whole. */
static int judge_untrack(struct __test_metadata *_metadata, void *arg,
			 int nth, int ret, int reached)
{
	struct op_ctx *c = arg;
	int bad;

	if (ret == 0 && !path_exists(c->dir))
		return 0;
	TH_LOG("failure %d: untrack gave %s, %s %s", nth, strerror(-ret),
	       c->dir, path_exists(c->dir) ? "still there" : "gone");
	bad = ret != -ENOMEM || !reached || !path_exists(c->dir) ||
	      check_files(_metadata, c->pid);
	pt_untrack(c->pid);
	return bad;
}

static int judge_reset(struct __test_metadata *_metadata, void *arg,
		       int nth, int ret, int reached)
{
	if (ret == 0 || (ret == -ENOMEM && reached))
		return 0;
	TH_LOG("failure %d: reset gave %s", nth, strerror(-ret));
	return 1;
}

/*
 * Untrack and reset: what they allocate (little) fails cleanly; after a
 * failed untrack the process is still tracked, whole.
 */
TEST_F(inject, untrack_reset)
{
	struct op_ctx c;
	struct sweep untrack = {
		.what = "untrack", .op = op_write, .arg = &c,
		.prepare = prepare_untrack, .judge = judge_untrack,
	}, reset = {
		.what = "reset", .op = op_write, .arg = &c, .judge = judge_reset,
	};
	int bad = 0, points = 0;

	ASSERT_EQ(0, load_plain());
	self->pid = target();
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, op_ctx_init(&c, self->pid, ML_DIR "/track"));
	snprintf(c.text, sizeof(c.text), "-%d\n", self->pid);
	bad += sweep(_metadata, &self->in, &untrack, &points);
	close(c.fd);

	ASSERT_EQ(0, op_ctx_init(&c, self->pid, ML_DIR "/reset"));
	snprintf(c.text, sizeof(c.text), "1\n");
	bad += sweep(_metadata, &self->in, &reset, &points);
	close(c.fd);
	EXPECT_EQ(0, bad);
	report_sites(_metadata, "untrack and reset", points, &self->in);
	EXPECT_EQ(0, check_files(_metadata, 0));
}

static char plain_buf[1 << 20];	/* a read without injection */

static int prepare_read(struct __test_metadata *_metadata, void *arg, int nth)
{
	struct op_ctx *c = arg;
	size_t len;

	if (!read_all(c->path, plain_buf, sizeof(plain_buf), &len) && len)
		return 0;
	TH_LOG("before failure %d: %s unreadable", nth, c->path);
	return 1;
}

/* A failed read gives ENOMEM; a read that succeeded has every line. */
static int judge_read(struct __test_metadata *_metadata, void *arg,
		      int nth, int ret, int reached)
{
	struct op_ctx *c = arg;

	if (ret && (ret != -ENOMEM || !reached)) {
		TH_LOG("failure %d: %s gave %s", nth, c->path, strerror(-ret));
		return 1;
	}
	if (!ret && keys_missing(plain_buf, read_buf)) {
		TH_LOG("failure %d: %s succeeded with lines missing:\n%s",
		       nth, c->path, read_buf);
		return 1;
	}
	return 0;
}

/*
 * Reads: open + read + close of every file, global and per process
 * (seq_file buffers, the walker's table copies, vma_faults' snapshot,
 * swap's /proc/swaps copy).  A read that fails gives ENOMEM; the next
 * plain read of the same file works.  Each file's read must fail in the
 * memlens functions that allocate for it.
 */
TEST_F(inject, reads)
{
	const size_t ng = sizeof(global_files) / sizeof(global_files[0]);
	const size_t np = sizeof(pid_files) / sizeof(pid_files[0]);
	struct op_ctx c;
	struct sweep sw = {
		.op = op_read, .arg = &c,
		.prepare = prepare_read, .judge = judge_read,
	};
	int bad = 0, points = 0;
	size_t i;

	ASSERT_EQ(0, load_plain());
	self->pid = target();
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, pt_track(self->pid));
	for (i = 0; i < ng + np; i++) {
		const struct ml_file *f = i < ng ? &global_files[i] : &pid_files[i - ng];

		memset(&c, 0, sizeof(c));
		if (i < ng)
			snprintf(c.path, sizeof(c.path), ML_DIR "/%s", f->name);
		else
			snprintf(c.path, sizeof(c.path), ML_DIR "/pid/%d/%s",
				 self->pid, f->name);
		sw.what = c.path;
		sw.fails_in = f->fails_in;
		bad += sweep(_metadata, &self->in, &sw, &points);
	}
	EXPECT_EQ(0, bad);
	report_sites(_metadata, "reads", points, &self->in);
	EXPECT_EQ(0, pt_untrack(self->pid));
}

TEST_HARNESS_MAIN
