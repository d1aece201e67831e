// SPDX-License-Identifier: GPL-2.0
/*
 * memlens kcost --timeline and --allocator (the BPF event ring, the SVG,
 * libmlalloc's decision ring and the join) against independent sources:
 *  - huge: under libmlalloc with MLALLOC_PURGE_DELAY=0, H_ROUNDS blocks of
 *    4 MiB (above the 2 MiB huge threshold) allocated, touched, held
 *    20 ms and freed.  With a zero delay nothing is cached (huge.c,
 *    ml_huge_free), so the ring must hold exactly H_ROUNDS huge_map and
 *    H_ROUNDS huge_unmap (reason free) decisions, each with as many
 *    syscalls as the kernel saw its thread make in its time window, one
 *    munmap per unmap; the picture is well-formed XML with its four
 *    series; the timeline's event counts equal the counters; the largest
 *    RSS sample is at least one block and at most the VmHWM the workload
 *    read from /proc/self/status before it exited (give or take the
 *    per-CPU counters' batch).
 *  - churn: the same delay, C_ROUNDS blocks of 256 KiB (a large block: a
 *    span of 4 slices in a segment) allocated, touched, freed: each free
 *    purges its span at once with one madvise(MADV_DONTNEED) (segment.c,
 *    ml_span_free), so C_ROUNDS purge decisions of reason "now", their
 *    madvise calls equal to the kernel's MADV_DONTNEED count for the
 *    process, none outside a decision, and the refaults joined to them
 *    equal to kcost's refaults of the same pages.
 *  - overflow: O_ROUNDS of that churn read once a second: the ring
 *    (MLALLOC_EVENT_SLOTS) overflows; kcost says so and the decisions
 *    read plus those lost equal what was made.
 *  - a process without libmlalloc: "no libmlalloc ring", exit 0, counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "ml_test.h"

#define H_ROUNDS 20
#define H_SIZE   (4 << 20)
#define C_ROUNDS 200
#define C_SIZE   (256 << 10)
#define O_ROUNDS 3000

static void touch(char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
}

/* The workloads, run as "env LD_PRELOAD=... self" (malloc is libmlalloc's). */
__attribute__((constructor)) static void workload(void)
{
	const char *w = getenv("KCOST_TL_WORKLOAD");
	char buf[8192], *p;
	int fd, n, rounds;

	if (!w)
		return;
	if (!strcmp(w, "huge")) {
		for (int i = 0; i < H_ROUNDS; i++) {
			p = malloc(H_SIZE);
			if (!p)
				_exit(3);
			touch(p, H_SIZE);
			usleep(20 * 1000);
			free(p);
		}
	} else if (!strcmp(w, "churn") || !strcmp(w, "overflow")) {
		rounds = !strcmp(w, "churn") ? C_ROUNDS : O_ROUNDS;
		for (int i = 0; i < rounds; i++) {
			p = malloc(C_SIZE);
			if (!p)
				_exit(3);
			touch(p, C_SIZE);
			free(p);
		}
	}
	/* time for the last tick to read the ring (once a second at most) */
	usleep(!strcmp(w, "overflow") ? 1500 * 1000 : 300 * 1000);
	fd = open("/proc/self/status", O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n > 0) {
		buf[n] = '\0';
		p = strstr(buf, "VmHWM:");
		if (p)
			fprintf(stderr, "workload VmHWM %lld\n", atoll(p + 6) * 1024);
	}
	_exit(0);
}

/* The number after @key in @json; -1 if absent. */
static long long jnum(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	long long v;

	if (!p || sscanf(p + strlen(key), "%lld", &v) != 1)
		return -1;
	return v;
}

/* A section field: "KEY":{"value":N */
static long long jval(const char *json, const char *key)
{
	char k[128];

	snprintf(k, sizeof(k), "\"%s\":{\"value\":", key);
	return jnum(json, k);
}

/* How far a quick read of the RSS counters may be off (see the use). */
static long long slack(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	long batch = 2 * cpus > 32 ? 2 * cpus : 32;

	return 2LL * cpus * batch * 4096; /* anon and file counters */
}

struct row {
	long long events, bytes, calls, kernel_calls, tlb, refault[5];
};

/* A row of the allocator's "decisions" table; events -1 if absent. */
static struct row jrow(const char *json, const char *decision, const char *reason)
{
	struct row r = { .events = -1 };
	char k[160];
	const char *p;

	snprintf(k, sizeof(k), "{\"decision\":\"%s\",\"reason\":\"%s\",\"events\":", decision,
		 reason);
	p = strstr(json, k);
	if (!p)
		return r;
	sscanf(p + strlen(k),
	       "%lld,\"bytes\":%lld,\"calls\":%lld,\"kernel_calls\":%lld,\"tlb_flushes\":%lld,"
	       "\"refaults_1ms\":%lld,\"refaults_10ms\":%lld,\"refaults_100ms\":%lld,"
	       "\"refaults_1s\":%lld,\"refaults_more\":%lld",
	       &r.events, &r.bytes, &r.calls, &r.kernel_calls, &r.tlb, &r.refault[0], &r.refault[1],
	       &r.refault[2], &r.refault[3], &r.refault[4]);
	return r;
}

/* The "calls" of syscall row @name; 0 if absent. */
static long long jcalls(const char *json, const char *name)
{
	char k[96];
	long long v;

	snprintf(k, sizeof(k), "{\"call\":\"%s\",\"calls\":", name);
	v = jnum(json, k);
	return v < 0 ? 0 : v;
}

/* Sum of the decisions table's "calls" and "kernel_calls" columns. */
static void decision_sums(const char *json, long long *calls, long long *kcalls)
{
	const char *p = strstr(json, "\"decisions\":");
	const char *end = p ? strstr(p, "]") : NULL;
	long long v;

	*calls = *kcalls = 0;
	for (const char *q = p; q && q < end; q++) {
		if (!strncmp(q, "\"calls\":", 8) && sscanf(q + 8, "%lld", &v) == 1)
			*calls += v;
		if (!strncmp(q, "\"kernel_calls\":", 15) && sscanf(q + 15, "%lld", &v) == 1)
			*kcalls += v;
	}
}

static int paths(char *self, size_t n, char *lib, size_t nl)
{
	ssize_t k = readlink("/proc/self/exe", self, n - 1);
	char *d;

	if (k <= 0)
		return -1;
	self[k] = '\0';
	d = strrchr(self, '/');
	if (!d)
		return -1;
	*d = '\0';
	snprintf(lib, nl, "%s/../lib/libmlalloc.so", self);
	*d = '/';
	return access(lib, R_OK);
}

static bool have_lib(void)
{
	char self[PATH_MAX], lib[PATH_MAX + 32];

	return !paths(self, sizeof(self), lib, sizeof(lib));
}

/* memlens kcost --json [@opt] -- env ... self, the workload @w under libmlalloc. */
static int run_kcost(struct ml_result *r, const char *w, const char *svg, const char *opt,
		     bool mlalloc)
{
	char self[PATH_MAX], lib[PATH_MAX + 32], pre[PATH_MAX + 48], wl[64];
	char *argv[20];
	int n = 0;

	if (paths(self, sizeof(self), lib, sizeof(lib)))
		return -1;
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", lib);
	snprintf(wl, sizeof(wl), "KCOST_TL_WORKLOAD=%s", w);
	argv[n++] = "memlens";
	argv[n++] = "kcost";
	argv[n++] = "--json";
	if (svg) {
		argv[n++] = "--timeline";
		argv[n++] = (char *)svg;
	}
	if (opt && !strcmp(opt, "--interval")) {
		argv[n++] = "--allocator";
		argv[n++] = "--interval";
		argv[n++] = "1000";
	} else if (opt) {
		argv[n++] = (char *)opt;
	}
	argv[n++] = "--";
	argv[n++] = "env";
	/* glibc: a fixed mmap threshold, so each 4 MiB block is its own mapping */
	argv[n++] = mlalloc ? pre : "MALLOC_MMAP_THRESHOLD_=1048576";
	argv[n++] = "MLALLOC_PURGE_DELAY=0";
	argv[n++] = wl;
	argv[n++] = self;
	argv[n] = NULL;
	return ml_run(r, argv);
}

/* Does @path parse as XML (python3's parser), holding each of @need? */
static int svg_check(const char *path, const char *const *need, int n)
{
	char cmd[PATH_MAX + 128], buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	for (int i = 0; i < n; i++)
		if (!strstr(buf, need[i]))
			return -2 - i;
	snprintf(
		cmd, sizeof(cmd),
		"python3 -c 'import sys, xml.etree.ElementTree as E; "
		"r = E.parse(sys.argv[1]).getroot(); sys.exit(r.tag != \"{http://www.w3.org/2000/svg}svg\")' %s",
		path);
	return system(cmd) ? -100 : 0;
}

TEST(huge_blocks_ring_equals_kernel_and_svg_is_valid)
{
	static struct ml_result r;
	char svg[] = "/tmp/kcost-tl.XXXXXX";
	static const char *const need[] = { "resident set (RSS)", "given back", "refaults",
					    "TLB flushes",        "<polyline",  "huge map (20)",
					    "huge unmap (20)" };
	struct row map, unmap;
	long long calls, kcalls, hwm, peak;
	const char *p;
	int fd;

	if (geteuid())
		SKIP(return, "BPF needs root");
	fd = mkstemp(svg);
	ASSERT_LE(0, fd);
	close(fd);
	if (!have_lib())
		SKIP(return, "no build/lib/libmlalloc.so here (make all builds it)");
	ASSERT_EQ(0, run_kcost(&r, "huge", svg, NULL, true));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	map = jrow(r.out, "huge_map", "-");
	unmap = jrow(r.out, "huge_unmap", "free");
	TH_LOG("huge_map %lld (calls %lld, kernel %lld), huge_unmap %lld (calls %lld, kernel %lld)",
	       map.events, map.calls, map.kernel_calls, unmap.events, unmap.calls,
	       unmap.kernel_calls);
	EXPECT_EQ(H_ROUNDS, map.events);
	EXPECT_EQ(H_ROUNDS, unmap.events);
	EXPECT_EQ(H_ROUNDS, unmap.calls); /* one munmap each */
	EXPECT_EQ(unmap.calls, unmap.kernel_calls);
	EXPECT_EQ(map.calls, map.kernel_calls);
	EXPECT_LE(H_ROUNDS * 2, map.calls); /* mmap, then one or two trims */
	decision_sums(r.out, &calls, &kcalls);
	EXPECT_EQ(calls, kcalls);
	EXPECT_EQ(0, jval(r.out, "lost"));
	/* the timeline's events against the counters */
	EXPECT_EQ(0, jval(r.out, "events_dropped"));
	EXPECT_EQ(jval(r.out, "refaults"), jval(r.out, "refault_events"));
	EXPECT_EQ(jcalls(r.out, "mmap") + jcalls(r.out, "munmap") + jcalls(r.out, "mremap") +
			  jcalls(r.out, "brk") + jcalls(r.out, "mprotect") +
			  jcalls(r.out, "madvise_dontneed") + jcalls(r.out, "madvise_free") +
			  jcalls(r.out, "madvise_hugepage"),
		  jval(r.out, "call_events"));
	EXPECT_EQ(jval(r.out, "remote_shootdown") + jval(r.out, "remote_wrong_cpu"),
		  jval(r.out, "tlb_received_events"));
	/* RSS: at least one block held, at most the high-water mark */
	p = strstr(r.err, "workload VmHWM ");
	ASSERT_NE(NULL, p) TH_LOG("%s", r.err);
	hwm = atoll(p + 15);
	peak = jval(r.out, "rss_peak");
	TH_LOG("largest RSS sample %lld, VmHWM %lld, %lld samples", peak, hwm,
	       jval(r.out, "rss_samples"));
	EXPECT_LE(H_SIZE, peak);
	/*
	 * statm and VmHWM both read the mm's RSS counters, per-CPU counters
	 * since 6.2 whose quick read may be off by a batch (at most 32 pages,
	 * or 2 x CPUs) per CPU and counter: the high-water mark, read later,
	 * can be that much below a sample.
	 */
	EXPECT_GE(hwm + slack(), peak);
	EXPECT_LE(20, jval(r.out, "rss_samples"));
	EXPECT_EQ(0, svg_check(svg, need, sizeof(need) / sizeof(need[0])));
	unlink(svg);
}

TEST(churn_purges_equal_kernel_madvise_and_refaults_join)
{
	static struct ml_result r;
	struct row now;
	long long calls, kcalls, refaults = 0;

	if (geteuid())
		SKIP(return, "BPF needs root");
	if (!have_lib())
		SKIP(return, "no build/lib/libmlalloc.so here (make all builds it)");
	ASSERT_EQ(0, run_kcost(&r, "churn", NULL, "--allocator", true));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	now = jrow(r.out, "purge", "now");
	TH_LOG("purge now %lld (madvise %lld, kernel %lld, TLB %lld), kernel dontneed %lld",
	       now.events, now.calls, now.kernel_calls, now.tlb, jcalls(r.out, "madvise_dontneed"));
	EXPECT_EQ(C_ROUNDS, now.events);
	EXPECT_EQ(C_ROUNDS, now.calls);
	EXPECT_EQ(now.calls, now.kernel_calls);
	EXPECT_EQ(jcalls(r.out, "madvise_dontneed"), now.calls);
	EXPECT_EQ(0, jval(r.out, "lost"));
	decision_sums(r.out, &calls, &kcalls);
	EXPECT_EQ(calls, kcalls);
	/* each purge's pages are touched again by the next round: refaults,
	 * all of them kcost's refaults of purged pages */
	for (int b = 0; b < 5; b++)
		refaults += now.refault[b];
	TH_LOG("refaults joined %lld, kcost %lld; TLB %lld", refaults, jval(r.out, "refaults"),
	       now.tlb);
	EXPECT_EQ((C_ROUNDS - 1) * (C_SIZE / 4096), refaults);
	EXPECT_LE(refaults, jval(r.out, "refaults"));
	EXPECT_LE(C_ROUNDS, now.tlb); /* a DONTNEED of resident pages flushes */
}

TEST(ring_overflow_is_detected_and_said)
{
	static struct ml_result r;
	long long read, lost;
	struct row now;

	if (geteuid())
		SKIP(return, "BPF needs root");
	if (!have_lib())
		SKIP(return, "no build/lib/libmlalloc.so here (make all builds it)");
	ASSERT_EQ(0, run_kcost(&r, "overflow", NULL, "--interval", true));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	read = jval(r.out, "events");
	lost = jval(r.out, "lost");
	now = jrow(r.out, "purge", "now");
	TH_LOG("read %lld lost %lld; purges read %lld, kernel dontneed %lld", read, lost,
	       now.events, jcalls(r.out, "madvise_dontneed"));
	EXPECT_LT(0, lost);
	EXPECT_NE(NULL, strstr(r.err, "ring overflowed"));
	/* what was made: a purge per round, and the first arena and heap chunk */
	EXPECT_EQ(O_ROUNDS + 2, read + lost);
	EXPECT_EQ(O_ROUNDS, jcalls(r.out, "madvise_dontneed"));
}

TEST(no_libmlalloc_says_so_and_counts)
{
	static struct ml_result r;

	if (geteuid())
		SKIP(return, "BPF needs root");
	ASSERT_EQ(0, run_kcost(&r, "huge", NULL, "--allocator", false));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\"ring\":\"no libmlalloc ring")) TH_LOG("%s", r.out);
	/* glibc maps each 4 MiB block and unmaps it on free */
	EXPECT_LE(H_ROUNDS, jcalls(r.out, "munmap"));
}

TEST(bad_timeline_file_and_interval_give_one_line)
{
	static struct ml_result r;
	char *a1[] = { "memlens", "kcost", "--timeline", "/nonexistent/dir/x.svg",
		       "--",      "true",  NULL };
	char *a2[] = { "memlens", "kcost", "--interval", "5", "--", "true", NULL };
	char *a3[] = { "memlens", "kcost", "--timeline", "/tmp/x.svg", "--interval",
		       "0",       "--",    "true",       NULL };

	ASSERT_EQ(0, ml_run(&r, a1));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "cannot write /nonexistent/dir/x.svg")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, a2));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "--interval goes with --timeline")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, a3));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "invalid interval")) TH_LOG("%s", r.err);
}

TEST_HARNESS_MAIN
