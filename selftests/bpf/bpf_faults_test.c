// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF fault counters (bpf/faults.bpf.c through its loader, and the
 * "memlens faults" command) against independent counts of a controlled
 * child: the minflt/majflt deltas of /proc/PID/stat over the same window,
 * perf stat's minor-faults/major-faults (host, where linux-perf exists),
 * and the exact number of fresh pages it touched.  Runs on the host (perf
 * software events for completion) and in both guests (fexit).
 *
 * The loader is compiled in from userspace/memlens, as the CLI uses it.
 */
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "ml_touch.h"
#include "mlbpf.h"

#define NPAGES	1000
#define PAGE	4096UL

struct shared {
	unsigned long region;	/* start of the child's fresh region */
};

/* The child: wait for "go", touch NPAGES fresh pages, report, wait. */
static void child_main(int go, int done, struct shared *sh, bool then_exit)
{
	volatile char *p;
	char c;
	long i;

	if (read(go, &c, 1) != 1)
		_exit(2);
	p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	madvise((void *)p, NPAGES * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < NPAGES; i++)
		p[i * PAGE] = 1;
	sh->region = (unsigned long)p;
	if (then_exit)
		_exit(0);
	if (write(done, "d", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

static unsigned long long hist_sum(const __u64 *h)
{
	unsigned long long s = 0;
	int i;

	for (i = 0; i < FAULTS_LAT_BUCKETS; i++)
		s += h[i];
	return s;
}

FIXTURE(faults) {
	pid_t child;
	int go, done;
	struct shared *sh;
	struct ml_faults *f;
};

/* Both modes: counting (the default) and latency (--latency). */
FIXTURE_VARIANT(faults) {
	enum ml_faults_mode mode;
};

FIXTURE_VARIANT_ADD(faults, counting) { .mode = ML_FAULTS_COUNTING };
FIXTURE_VARIANT_ADD(faults, latency) { .mode = ML_FAULTS_LATENCY };

FIXTURE_SETUP(faults)
{
	int go[2], done[2], err;

	if (!ml_bpf_privileged())
		SKIP(return, "loading BPF needs CAP_BPF and CAP_PERFMON (run as root)");
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		child_main(go[0], done[1], self->sh, false);
	self->go = go[1];
	self->done = done[0];
	err = ml_faults_open_mode(&self->f, self->child, variant->mode);
	ASSERT_EQ(0, err) TH_LOG("%s", ml_bpf_error());
	TH_LOG("%s", ml_faults_path(self->f));
	ASSERT_EQ(variant->mode, ml_faults_mode(self->f));
}

FIXTURE_TEARDOWN(faults)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	ml_faults_close(self->f);
}

TEST_F(faults, deltas_equal_proc_stat_and_pages_touched)
{
	unsigned long long min0, maj0, min1, maj1;
	struct fault_counts c0, c1;
	struct ml_vma_faults *v;
	int n, i, hits = 0;
	char c;

	ASSERT_EQ(0, ml_stat_faults(self->child, &min0, &maj0));
	ASSERT_EQ(0, ml_faults_read(self->f, self->child, &c0));
	ASSERT_EQ(1, write(self->go, "g", 1));
	ASSERT_EQ(1, read(self->done, &c, 1));
	ASSERT_EQ(0, ml_stat_faults(self->child, &min1, &maj1));
	ASSERT_EQ(0, ml_faults_read(self->f, self->child, &c1));

	TH_LOG("minflt +%llu majflt +%llu; BPF minor +%llu major +%llu",
	       min1 - min0, maj1 - maj0, (unsigned long long)(c1.minor - c0.minor),
	       (unsigned long long)(c1.major - c0.major));
	EXPECT_EQ(min1 - min0, c1.minor - c0.minor);
	EXPECT_EQ(maj1 - maj0, c1.major - c0.major);
	EXPECT_LE(NPAGES, c1.minor - c0.minor);
	EXPECT_LE(NPAGES, c1.write - c0.write);
	EXPECT_LE(NPAGES, c1.notpresent - c0.notpresent);
	EXPECT_LE(NPAGES, c1.user - c0.user);
	/* Every exception is classified once in each pair of counters. */
	EXPECT_EQ(c1.user + c1.kernel, c1.read + c1.write + c1.exec);
	EXPECT_EQ(c1.user + c1.kernel, c1.notpresent + c1.protection);
	if (variant->mode == ML_FAULTS_LATENCY) {
		/* Every completed fault of the window had an entry: a latency. */
		EXPECT_TRUE(ml_faults_has_latency(self->f));
		EXPECT_EQ(c1.minor - c0.minor,
			  hist_sum(c1.lat_minor) - hist_sum(c0.lat_minor));
	} else {
		/* No latency in counting mode; every entry charged or not. */
		EXPECT_FALSE(ml_faults_has_latency(self->f));
		EXPECT_EQ(0, hist_sum(c1.lat_minor));
		EXPECT_EQ(c1.user + c1.kernel,
			  c1.minor + c1.major - c1.populated + c1.not_charged);
	}

	/* The fresh region: exactly one minor fault per page. */
	n = ml_faults_vmas(self->f, self->child, &v);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++)
		if (v[i].start == self->sh->region) {
			EXPECT_EQ(self->sh->region + NPAGES * PAGE, v[i].end);
			EXPECT_EQ(NPAGES, v[i].minor);
			EXPECT_EQ(0, v[i].major);
			hits++;
		}
	free(v);
	EXPECT_EQ(1, hits);
}

TEST_F(faults, counts_only_the_tracked_tgid)
{
	/* Counting mode: a tgid's totals appear when a thread of it exits. */
	const char *map = variant->mode == ML_FAULTS_LATENCY ? "counts" : "totals";
	int fd = bpf_object__find_map_fd_by_name(ml_faults_object(self->f), map);
	__u32 key, next, keys = 0;
	struct fault_counts mine;
	int err, st;
	pid_t other;
	char c;

	ASSERT_LE(0, fd);
	other = fork();
	ASSERT_LE(0, other);
	if (other == 0) {
		volatile char *p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		long i;

		for (i = 0; i < NPAGES; i++)
			p[i * PAGE] = 1;
		_exit(0);
	}
	ASSERT_EQ(other, waitpid(other, &st, 0));
	ASSERT_EQ(1, write(self->go, "g", 1));
	ASSERT_EQ(1, read(self->done, &c, 1));
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
	     err = bpf_map_get_next_key(fd, &key, &next), key = next) {
		EXPECT_EQ((__u32)self->child, key);
		keys++;
	}
	EXPECT_EQ(variant->mode == ML_FAULTS_LATENCY ? 1U : 0U, keys);
	ASSERT_EQ(0, ml_faults_read(self->f, other, &mine));
	EXPECT_EQ(0, mine.minor + mine.user);
}

/* "perf stat -e minor-faults,major-faults -p CHILD" over the same window. */
static pid_t start_perf(pid_t target, const char *out, int *ctl, int *ack)
{
	int c[2], a[2];
	char spid[16], ctlarg[64];
	pid_t pid;

	if (pipe(c) || pipe(a))
		return -1;
	snprintf(spid, sizeof(spid), "%d", target);
	snprintf(ctlarg, sizeof(ctlarg), "fd:%d,%d", c[0], a[1]);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "perf", "stat", "-x,", "-o", (char *)out,
				 "-e", "minor-faults,major-faults", "-D", "-1",
				 "--control", ctlarg, "-p", spid, NULL };
		int null = open("/dev/null", O_RDWR);

		close(c[1]);
		close(a[0]);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp("perf", argv);
		_exit(127);
	}
	close(c[0]);
	close(a[1]);
	*ctl = c[1];
	*ack = a[0];
	return pid;
}

static long long perf_value(const char *csv, const char *event)
{
	const char *p = strstr(csv, event);

	while (p && p > csv && p[-1] != '\n')
		p--;
	return p ? strtoll(p, NULL, 10) : -1;
}

TEST_F(faults, deltas_equal_perf_stat)
{
	char out[64], ackbuf[8] = "", csv[4096];
	struct fault_counts c0, c1;
	int ctl, ack, st;
	pid_t perf;
	long long pmin, pmaj;

	if (access("/usr/bin/perf", X_OK))
		SKIP(return, "no perf (linux-perf) on this system");
	snprintf(out, sizeof(out), "/tmp/ml_perf.%d", getpid());
	perf = start_perf(self->child, out, &ctl, &ack);
	ASSERT_LT(0, perf);
	ASSERT_EQ(7, write(ctl, "enable\n", 7));
	ASSERT_LT(0, read(ack, ackbuf, sizeof(ackbuf) - 1));
	ASSERT_EQ(0, strncmp(ackbuf, "ack", 3));
	ASSERT_EQ(0, ml_faults_read(self->f, self->child, &c0));
	ASSERT_EQ(1, write(self->go, "g", 1));
	ASSERT_EQ(1, read(self->done, ackbuf, 1));
	ASSERT_EQ(0, ml_faults_read(self->f, self->child, &c1));
	ASSERT_EQ(8, write(ctl, "disable\n", 8));
	kill(perf, SIGINT);
	ASSERT_EQ(perf, waitpid(perf, &st, 0));
	ASSERT_LT(0, ml_read_file(out, csv, sizeof(csv)));
	unlink(out);
	pmin = perf_value(csv, ",minor-faults");
	pmaj = perf_value(csv, ",major-faults");
	TH_LOG("perf minor %lld major %lld; BPF minor +%llu major +%llu", pmin, pmaj,
	       (unsigned long long)(c1.minor - c0.minor),
	       (unsigned long long)(c1.major - c0.major));
	EXPECT_EQ(pmin, (long long)(c1.minor - c0.minor));
	EXPECT_EQ(pmaj, (long long)(c1.major - c0.major));
}

/*
 * Run "memlens ARGS..." as user nobody: the one-line privilege message.
 * The memlens run is a copy that nobody can reach (ml_copy_for_all()):
 * the tree may be under a directory nobody cannot traverse.
 */
TEST(unprivileged_gets_one_line_naming_the_capability)
{
	struct ml_result *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ml_copy bin;
	char *argv[] = { bin.path, "faults", "--", "true", NULL };
	pid_t pid;
	int st;

	ASSERT_NE(MAP_FAILED, r);
	if (geteuid())
		SKIP(return, "needs root to drop to nobody");
	ASSERT_EQ(0, ml_copy_for_all("memlens", &bin));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(ml_run(r, argv) ? 3 : 0);
	}
	waitpid(pid, &st, 0);
	ml_copy_remove(&bin);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(6, r->status);	/* permission denied (docs/inspector.md) */
	EXPECT_NE(NULL, strstr(r->err, "CAP_BPF")) TH_LOG("stderr: %s", r->err);
	EXPECT_EQ(NULL, strchr(r->err, '\n') ? strchr(strchr(r->err, '\n') + 1, '\n') : NULL)
		TH_LOG("more than one line: %s", r->err);
	EXPECT_EQ(0, r->out[0]);
}

TEST(target_exit_mid_trace_gives_final_report)
{
	static struct ml_result r;
	char spid[16];
	char *argv[] = { "memlens", "faults", "-p", spid, "-d", "30", NULL };
	pid_t pid;

	if (geteuid())
		SKIP(return, "BPF needs root");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		usleep(500 * 1000);
		_exit(0);
	}
	snprintf(spid, sizeof(spid), "%d", pid);
	ASSERT_EQ(0, ml_run(&r, argv));	/* the child stays a zombie */
	waitpid(pid, NULL, 0);
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "exited"));
	EXPECT_EQ(0, strncmp(r.out, "mode counting\nminor ", 20));
	EXPECT_NE(NULL, strstr(r.out, "\nprotection "));
	EXPECT_NE(NULL, strstr(r.out, "start end minor major name\n"));
}

/* ML_TOUCH_PAGES: this program is its own workload (ml_touch.h). */

TEST(command_mode_counts_the_command)
{
	static struct ml_result r;
	char self_exe[512] = "";
	char *argv[] = { "memlens", "faults", "--", self_exe, NULL };
	long long minor, vminor, vmajor;
	int exact = 0;
	char *line;

	if (geteuid())
		SKIP(return, "BPF needs root");
	ASSERT_LT(0, readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1));
	setenv("ML_TOUCH_PAGES", "1000", 1);
	ASSERT_EQ(0, ml_run(&r, argv));
	unsetenv("ML_TOUCH_PAGES");
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	ASSERT_EQ(0, strncmp(r.out, "mode counting\nminor ", 20));
	minor = strtoll(r.out + 20, NULL, 10);
	EXPECT_LE(NPAGES, minor);
	/* The VMA of the fresh region: exactly NPAGES minor faults. */
	line = strstr(r.out, "start end minor major name\n");
	ASSERT_NE(NULL, line);
	for (line = strchr(line, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
		if (sscanf(line + 1, "%*s %*s %lld %lld", &vminor, &vmajor) == 2 &&
		    vminor == NPAGES && vmajor == 0)
			exact++;
	EXPECT_EQ(1, exact) TH_LOG("%s", r.out);
}

/* Ctrl-C (SIGINT) in system-wide mode: a full report, exit 0. */
TEST(sigint_gives_final_report)
{
	static struct ml_result r;
	char *argv[] = { "sh", "-c",
		"memlens faults -d 60 2>/tmp/ml_sigint.err & p=$!; "
		"while ! grep -q 'memlens faults: ' /tmp/ml_sigint.err; do sleep 0.1; done; "
		"kill -INT $p; wait $p", NULL };

	if (geteuid())
		SKIP(return, "BPF needs root");
	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "mode counting\nminor ", 20)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\nprotection "));
	unlink("/tmp/ml_sigint.err");
}

/*
 * The mode is printed first; what a mode cannot give says so, never 0:
 * counting has no latency or retry, --latency has its histograms.
 */
TEST(modes_say_what_they_give)
{
	static struct ml_result r;
	char self_exe[512] = "";
	char *count[] = { "memlens", "faults", "--", self_exe, NULL };
	char *lat[] = { "memlens", "faults", "--latency", "--", self_exe, NULL };

	if (geteuid())
		SKIP(return, "BPF needs root");
	ASSERT_LT(0, readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1));
	setenv("ML_TOUCH_PAGES", "100", 1);
	ASSERT_EQ(0, ml_run(&r, count));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "mode counting\n", 14)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\nretry unavailable: needs --latency\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nlatency unavailable: needs --latency\n"));
	EXPECT_NE(NULL, strstr(r.out, "\npopulated "));
	EXPECT_EQ(NULL, strstr(r.out, "lat_minor_ns_"));
	ASSERT_EQ(0, ml_run(&r, lat));
	unsetenv("ML_TOUCH_PAGES");
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "mode latency\n", 13)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\nlat_minor_ns_")) TH_LOG("%s", r.out);
	/* Its own cost beside the histograms, measured by the kernel. */
	EXPECT_NE(NULL, strstr(r.out, "\nlat_cost_bpf_ns_per_run ")) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "unavailable"));
	EXPECT_EQ(NULL, strstr(r.out, "\npopulated "));
}

TEST(bad_input)
{
	static struct ml_result r;
	char *nopid[] = { "memlens", "faults", "-p", "2147483646", NULL };
	char *nopid_free[] = { "memlens", "faults", "-p", "4194304", NULL };
	char *garbage[] = { "memlens", "faults", "-p", "x1", NULL };
	char *both[] = { "memlens", "faults", "-p", "1", "--", "true", NULL };
	char *dur[] = { "memlens", "faults", "-d", "-3", NULL };

	ASSERT_EQ(0, ml_run(&r, nopid));
	EXPECT_EQ(2, r.status);	/* above PID_MAX_LIMIT: not a PID */
	ASSERT_EQ(0, ml_run(&r, nopid_free));
	EXPECT_EQ(3, r.status);	/* no such process */
	EXPECT_NE(NULL, strstr(r.err, "no such process")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, garbage));
	EXPECT_EQ(2, r.status);
	ASSERT_EQ(0, ml_run(&r, both));
	EXPECT_EQ(2, r.status);
	ASSERT_EQ(0, ml_run(&r, dur));
	EXPECT_EQ(2, r.status);
}

TEST_HARNESS_MAIN
