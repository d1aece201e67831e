// SPDX-License-Identifier: GPL-2.0
/*
 * mm_peer: the kernel's own mm selftests (tools/testing/selftests/vm of
 * Debian's linux-source-6.1, built static by selftests/mm_peer/mm_peer.mk,
 * never committed) run twice each in a guest with memlens.ko loaded:
 *
 *  - plain: as run_vmtests.sh runs it;
 *  - tracked: stopped by ptrace right after its exec, written to memlens'
 *    `track`, then continued while readers loop over every file of
 *    pid/PID/ and over the BPF walker (what `memlens pagetable PID` and
 *    `memlens vmas PID` run, loaded once) until the process stops at
 *    PTRACE_EVENT_EXIT.
 *
 * Each test asserts the same exit status and the same TAP result lines
 * both times (but two, see peer_compare(); and an outcome a plain rerun
 * also gives, see plain_gives()), no read error of any reader while the
 * process lives, and that memlens' minor + major faults of the tracked
 * process equal the
 * growth of minflt + majflt in /proc/PID/stat from the exec stop to the
 * exit stop (tracked from its first instruction, so equal, not only
 * below).  Kernel problems (lockdep, KASAN, WARNING, BUG) fail the guest
 * run (selftests/vm/run) and each test here (ml_kernel_problem()).
 *
 * MM_PEER_ONLY=NAME runs test NAME alone (the others skip).
 */
#include <dirent.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/utsname.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "mlbpf.h"

#define ML_DIR		"/sys/kernel/debug/memlens"
#define HUGE_DIR	"/tmp/mm_peer_huge"
#define HUGE_PAGES	"64"	/* 128 MiB of the guest's 2 GiB */

extern char **environ;

/* What one run of a peer test gave. */
struct peer_run {
	int status;		/* exit code, or 128 + signal */
	char tap[8192];		/* its "ok"/"not ok" lines, in order */
	char tail[2048];	/* the end of its output, for a failure report */
	unsigned long long flt_stat;	/* minflt + majflt growth, /proc */
	unsigned long long flt_memlens;	/* minor + major, pid/PID/faults */
	unsigned long long minor, major;	/* memlens' split */
	double secs;			/* wall time, exec to exit */
	double setup_secs;		/* settling memory, readers' first pass */
	bool cut;			/* stopped by the SIGTERM at its limit */
};

/* Shared with the reader processes. */
struct peer_readers {
	volatile int stop;
	volatile unsigned long long cont_ns;	/* when the test was continued */
	volatile unsigned long passes[2];	/* debugfs, BPF walker */
	volatile unsigned long started[2];	/* reads begun, */
	volatile unsigned long reads[2];	/* and done: files, walks */
	volatile unsigned long errors[2];
	unsigned long reads_run[2];		/* reads done while the test ran */
	bool busy_at_exit[2];			/* a read under way at its exit */
	/* Reads of pid/PID/pagetable: how many, wall and thread CPU time. */
	volatile unsigned long long pt_reads, pt_wall_ns, pt_cpu_ns;
	volatile unsigned long long pt_max_wall_ns;
	char error[2][256];			/* the first error of each */
};

/* Per test: PEER_ANY_OUTCOME, PEER_IDLE_READERS (see peer_compare()). */
#define PEER_ANY_OUTCOME	1
#define PEER_IDLE_READERS	2

/*
 * The directory of the mm test binaries beside this program, for the
 * running kernel: mm-6.1 (6.1.*, the debug kernel too), mm-6.12, else
 * mm-newest (selftests/mm_peer/mm_peer.mk).
 */
static const char *peer_dir(void)
{
	static char dir[PATH_MAX];
	const char *lane = "mm-newest";
	struct utsname u;
	ssize_t n;

	if (dir[0])
		return dir;
	if (uname(&u))
		return NULL;
	if (!strncmp(u.release, "6.1.", 4))
		lane = "mm-6.1";
	else if (!strncmp(u.release, "6.12.", 5))
		lane = "mm-6.12";
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 16);
	if (n < 0)
		return NULL;
	dir[n] = '\0';
	strcpy(strrchr(dir, '/') + 1, lane);
	return dir;
}

/* 6.1's userfaultfd is uffd-stress in later trees: the one peer_dir() has. */
static const char *peer_prog(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", peer_dir(), name);
	if (!strcmp(name, "userfaultfd") && access(path, X_OK))
		snprintf(path, size, "%s/uffd-stress", peer_dir());
	return path;
}

/* Which source the tests come from: peer_dir()'s SOURCE, once at start. */
static void __attribute__((constructor)) peer_source(void)
{
	char path[PATH_MAX], buf[4096], *nl;

	if (!peer_dir())
		return;
	snprintf(path, sizeof(path), "%s/SOURCE", peer_dir());
	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		strcpy(buf, "no SOURCE file (not built?)");
	while ((nl = strchr(buf, '\n')) && nl[1])
		*nl = ';';
	if (nl)
		*nl = '\0';
	ksft_print_msg("mm selftests from %s: %s\n", strrchr(peer_dir(), '/') + 1, buf);
}

/* minflt + majflt of /proc/PID/stat (fields 10 and 12). */
static int stat_faults(pid_t pid, unsigned long long *flt)
{
	unsigned long long minf, majf;
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu",
			 &minf, &majf) != 2)
		return -1;
	*flt = minf + majf;
	return 0;
}

/* minor and major of pid/PID/faults. */
static int memlens_faults(pid_t pid, unsigned long long *minor,
			  unsigned long long *major)
{
	char path[96], buf[8192], *p;
	int found = 0;

	snprintf(path, sizeof(path), ML_DIR "/pid/%d/faults", pid);
	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = strtok(buf, "\n"); p; p = strtok(NULL, "\n")) {
		found += sscanf(p, "minor %llu", minor) == 1;
		found += sscanf(p, "major %llu", major) == 1;
	}
	return found == 2 ? 0 : -1;
}

static void reader_error(struct peer_readers *r, int k, const char *what, int err)
{
	if (!r->errors[k]++)
		snprintf(r->error[k], sizeof(r->error[k]), "%.200s: %s", what,
			 strerror(err));
}

static unsigned long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Read one file to its end; a read of pagetable is timed. */
static void read_one(struct peer_readers *r, const char *path, bool pt)
{
	unsigned long long w0 = clock_ns(CLOCK_MONOTONIC);
	unsigned long long c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	static char buf[1 << 16];
	ssize_t n;
	int fd;

	r->started[0]++;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		reader_error(r, 0, path, errno);
		r->reads[0]++;
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		reader_error(r, 0, path, errno);
	close(fd);
	r->reads[0]++;
	if (pt) {
		unsigned long long wall = clock_ns(CLOCK_MONOTONIC) - w0;

		r->pt_reads++;
		r->pt_wall_ns += wall;
		r->pt_cpu_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (wall > r->pt_max_wall_ns)
			r->pt_max_wall_ns = wall;
	}
}

/*
 * MM_PEER_READERS=pagetable: the debugfs reader reads pid/PID/pagetable
 * alone (the BPF walker is off), for measuring (docs/mm_peer.md,
 * soft-dirty).  MM_PEER_READER_SLEEP_MS=N: the readers sleep N ms after
 * each read, 1 by default, and the BPF walker as long again as each walk
 * took (half its time walking).  Back to back (0, as the soak runs
 * them) the two readers keep both vCPUs busy all the time, and under
 * single-threaded TCG the vCPUs share one host thread: the test runs at a
 * third of its speed or less, and make check's mm_peer took 17 minutes
 * a kernel.
 */
static bool pagetable_only(void)
{
	const char *v = getenv("MM_PEER_READERS");

	return v && !strcmp(v, "pagetable");
}

static int reader_sleep_ms(void)
{
	const char *v = getenv("MM_PEER_READER_SLEEP_MS");

	return v ? atoi(v) : 1;
}

/*
 * No pause in the test's first EAGER_MS: most mm tests end in tens of ms,
 * and a paced reader could sleep through all of one.
 */
#define EAGER_MS 200

static bool eager(const struct peer_readers *r)
{
	return r->cont_ns && clock_ns(CLOCK_MONOTONIC) - r->cont_ns < EAGER_MS * 1000000ULL;
}

static void reader_sleep(const struct peer_readers *r)
{
	int ms = reader_sleep_ms();

	/* in 100 us slices: a reader asleep when the test starts wakes */
	for (int i = 0; i < ms * 10 && !eager(r) && !r->stop; i++)
		usleep(100);
}

/*
 * MM_PEER_READ_OTHER=1 (with MM_PEER_READERS=pagetable): the reader reads
 * the pagetable of another process (mm_peer_test itself, tracked) at the
 * same pace: the same CPU taken from the guest, none of the test's locks.
 * What the test then loses is the reader's CPU share; what it loses more
 * when the reader reads the test itself is contention on the test's mm.
 */
static bool read_other(void)
{
	const char *v = getenv("MM_PEER_READ_OTHER");

	return pagetable_only() && v && atoi(v);
}

/* Read every file of pid/PID/ to its end, once. */
static void read_debugfs_pass(struct peer_readers *r, pid_t pid)
{
	char dir[64], path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (read_other())
		pid = getppid();
	snprintf(dir, sizeof(dir), ML_DIR "/pid/%d", pid);
	if (pagetable_only()) {
		snprintf(path, sizeof(path), "%s/pagetable", dir);
		read_one(r, path, true);
		reader_sleep(r);
		return;
	}
	d = opendir(dir);
	if (!d) {
		reader_error(r, 0, dir, errno);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		read_one(r, path, !strcmp(e->d_name, "pagetable"));
		reader_sleep(r);
	}
	closedir(d);
}

/* Sleep @ns, or less when the readers are told to stop. */
static void pause_unless_stopped(struct peer_readers *r, unsigned long long ns)
{
	unsigned long long end = clock_ns(CLOCK_MONOTONIC) + ns;

	while (!r->stop && !eager(r) && clock_ns(CLOCK_MONOTONIC) < end)
		usleep(100);
}

/*
 * The BPF walker (bpf/pgwalk.bpf.c, what memlens pagetable and vmas run),
 * loaded once before the harness forks the tests: a load verifies the
 * program, seconds of CPU under TCG, which the memlens command paid on
 * every walk.  Each tracked run's reader points it at its process.
 */
static struct ml_pgwalk *walker;
static char walker_error[256];

static void __attribute__((constructor)) load_walker(void)
{
	if (geteuid() || ml_pgwalk_open(&walker, getpid()))
		snprintf(walker_error, sizeof(walker_error), "loading the BPF walker: %s",
			 geteuid() ? "not root" : ml_bpf_error());
}

static void walk_bpf_pass(struct peer_readers *r, pid_t pid)
{
	unsigned long long t0 = clock_ns(CLOCK_MONOTONIC);
	struct ml_pagetable pt;
	int err;

	r->started[1]++;
	if (!walker) {
		reader_error(r, 1, walker_error, ENOTSUP);
		r->reads[1]++;
		return;
	}
	ml_pgwalk_retarget(walker, pid);
	err = ml_pgwalk_run(walker, &pt);
	if (err)
		reader_error(r, 1, ml_bpf_error(), -err);
	else
		ml_pagetable_free(&pt);
	r->reads[1]++;
	if (reader_sleep_ms() > 0)
		pause_unless_stopped(r, clock_ns(CLOCK_MONOTONIC) - t0);
}

/*
 * Is reader k (0: debugfs, 1: BPF walker) on?  MM_PEER_READERS=debugfs,
 * bpf or none narrows them, to tell which one changes an outcome
 * (pagetable: the debugfs reader on pagetable alone).
 */
static bool reader_on(int k)
{
	const char *v = getenv("MM_PEER_READERS");

	if (pagetable_only())
		return k == 0;
	return !v || !strcmp(v, k ? "bpf" : "debugfs");
}

/*
 * Do the readers run as SCHED_IDLE, taking only CPU time nobody else
 * wants?  PEER_IDLE_READERS (the KSM tests: see peer_compare());
 * MM_PEER_SCHED=idle|normal overrides, to measure either way.
 */
static bool readers_idle(int flags)
{
	const char *sched = getenv("MM_PEER_SCHED");

	if (sched)
		return !strcmp(sched, "idle");
	return flags & PEER_IDLE_READERS;
}

/* Reader k loops until told to stop (one pass, counted, when it is off). */
static pid_t start_reader(struct peer_readers *r, int k, pid_t pid, bool idle)
{
	struct sched_param sp = { 0 };
	pid_t c = fork();

	if (c)
		return c;
	if (idle && sched_setscheduler(0, SCHED_IDLE, &sp))
		reader_error(r, k, "SCHED_IDLE", errno);
	if (!reader_on(k)) {
		r->passes[k]++;
		_exit(0);
	}
	while (!r->stop) {
		if (k == 0)
			read_debugfs_pass(r, pid);
		else
			walk_bpf_pass(r, pid);
		r->passes[k]++;
	}
	_exit(0);
}

static void wait_first_passes(struct peer_readers *r)
{
	while (!r->passes[0] || !r->passes[1])
		usleep(10000);
}

/*
 * Continue the test only once each reader has begun a read since it went
 * eager: a test that lives a few ms (map_fixed_noreplace) ended inside a
 * reader's pause on 6.1, and no read overlapped it.  (2 s at the most.)
 */
static void wait_reading(struct peer_readers *r)
{
	unsigned long s0 = r->started[0], s1 = r->started[1];

	for (int i = 0; i < 20000; i++) {
		if ((!reader_on(0) || r->started[0] != s0) &&
		    (!reader_on(1) || r->started[1] != s1))
			return;
		usleep(100);
	}
}

/* Keep the "ok N ..." and "not ok N ..." lines of out, and its tail. */
static void parse_output(struct peer_run *run, const char *out, size_t len)
{
	const char *p = out, *nl;
	size_t t = 0;

	while (p < out + len) {
		nl = memchr(p, '\n', out + len - p);
		if (!nl)
			nl = out + len;
		if ((!strncmp(p, "ok ", 3) || !strncmp(p, "not ok ", 7)) &&
		    t + (nl - p) + 2 < sizeof(run->tap)) {
			memcpy(run->tap + t, p, nl - p);
			t += nl - p;
			run->tap[t++] = '\n';
		}
		p = nl + 1;
	}
	run->tap[t] = '\0';
	t = len < sizeof(run->tail) - 1 ? len : sizeof(run->tail) - 1;
	memcpy(run->tail, out + len - t, t);
	run->tail[t] = '\0';
}

/*
 * At the exit stop the process's threads may still be on their way out;
 * read /proc, memlens, /proc until /proc stands still, so that both
 * figures are of one moment.
 */
static void read_exit_counts(struct peer_run *run, pid_t pid,
			     unsigned long long base)
{
	unsigned long long s1, s2;
	int i;

	for (i = 0; i < 100; i++) {
		if (stat_faults(pid, &s1) ||
		    memlens_faults(pid, &run->minor, &run->major) ||
		    stat_faults(pid, &s2))
			break;
		run->flt_stat = s2 - base;
		run->flt_memlens = run->minor + run->major;
		if (s1 == s2)
			return;
		usleep(10000);
	}
}

/*
 * Both runs start from alike memory: clean caches dropped, free memory
 * compacted.  (It did not make khugepaged's outcome repeatable: its second
 * run may still find no free 2 MiB block, see peer_compare().)
 */
static void settle_memory(void)
{
	sync();
	write_str("/proc/sys/vm/drop_caches", "3");
	write_str("/proc/sys/vm/compact_memory", "1");
}

/*
 * Run argv[0] of peer_dir() with output to a memfd, killed by SIGTERM
 * after limit seconds when limit > 0.  Tracked: see the file comment.
 */
static int peer_exec(struct peer_run *run, char *const argv[], int limit,
		     int flags, bool tracked, struct peer_readers *r)
{
	unsigned long long t0 = 0, reads0[2] = { 0, 0 };
	int out = memfd_create("peer-out", 0), st, sig, k, ret = -1;
	unsigned long long base = 0;
	char path[PATH_MAX], spid[16];
	pid_t pid, rd[2] = { 0, 0 };
	time_t deadline = 0;
	static char text[1 << 20];
	ssize_t len;

	memset(run, 0, sizeof(*run));
	peer_prog(argv[0], path, sizeof(path));
	t0 = clock_ns(CLOCK_MONOTONIC);
	settle_memory();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		if (tracked)
			ptrace(PTRACE_TRACEME, 0, 0, 0);
		execv(path, argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	if (tracked) {
		/* Stopped by the SIGTRAP of its exec. */
		if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
			goto out;
		ptrace(PTRACE_SETOPTIONS, pid, 0,
		       PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL);
		snprintf(spid, sizeof(spid), "%d", pid);
		if (stat_faults(pid, &base) || write_str(ML_DIR "/track", spid))
			goto kill;
		if (read_other()) {
			char self[16];

			snprintf(self, sizeof(self), "%d", getpid());
			write_str(ML_DIR "/track", self);
		}
		memset(r, 0, sizeof(*r));
		rd[0] = start_reader(r, 0, pid, readers_idle(flags));
		rd[1] = start_reader(r, 1, pid, readers_idle(flags));
		wait_first_passes(r);
		reads0[0] = r->reads[0];
		reads0[1] = r->reads[1];
		r->pt_reads = r->pt_wall_ns = r->pt_cpu_ns = 0;
		r->pt_max_wall_ns = 0;
		r->cont_ns = clock_ns(CLOCK_MONOTONIC);
		wait_reading(r);
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	run->setup_secs = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	t0 = clock_ns(CLOCK_MONOTONIC);
	if (limit > 0)
		deadline = time(NULL) + limit;
	for (;;) {
		pid_t w = waitpid(pid, &st, deadline ? WNOHANG : 0);

		if (w == 0) {
			if (time(NULL) >= deadline) {
				kill(pid, SIGTERM);
				run->cut = true;
				deadline = 0;
			} else {
				usleep(50000);
			}
			continue;
		}
		if (w != pid)
			goto kill;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		/* Only a tracked process stops: its exit, or a signal. */
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			run->secs = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
			for (k = 0; k < 2; k++) {
				r->reads_run[k] = r->reads[k] - reads0[k];
				r->busy_at_exit[k] = r->started[k] != r->reads[k];
			}
			r->stop = 1;
			waitpid(rd[0], NULL, 0);
			waitpid(rd[1], NULL, 0);
			rd[0] = rd[1] = 0;
			read_exit_counts(run, pid, base);
			sig = 0;
		} else {
			sig = WSTOPSIG(st);
		}
		ptrace(PTRACE_CONT, pid, 0, sig);
	}
	run->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (!tracked)
		run->secs = (clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	ret = 0;
	goto out;
kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	if (rd[0] || rd[1]) {
		r->stop = 1;
		waitpid(rd[0], NULL, 0);
		waitpid(rd[1], NULL, 0);
	}
	len = pread(out, text, sizeof(text), 0);
	parse_output(run, text, len > 0 ? len : 0);
	close(out);
	return ret;
}

FIXTURE(peer) {
	struct peer_readers *r;
	struct peer_run plain, tracked, again;
	char skipped[256];	/* why both runs skipped themselves, if they did */
};

FIXTURE_SETUP(peer)
{
	ASSERT_NE(NULL, peer_dir());
	ASSERT_EQ(0, access(ML_DIR "/track", W_OK)) TH_LOG("memlens.ko not loaded");
	self->r = mmap(NULL, sizeof(*self->r), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->r);
	/*
	 * What run_vmtests.sh sets up: hugetlb pages and a hugetlbfs; and
	 * swap (zram0), which khugepaged's swap-in collapses need.  Two zram
	 * devices: module_count_exact_test, beside it in make soak, takes
	 * zram1.
	 */
	ASSERT_EQ(0, write_str("/proc/sys/vm/nr_hugepages", HUGE_PAGES));
	mkdir(HUGE_DIR, 0755);
	if (mount("none", HUGE_DIR, "hugetlbfs", 0, NULL) && errno != EBUSY)
		ASSERT_EQ(0, -errno);
	ASSERT_EQ(0, system("grep -q zram0 /proc/swaps || { modprobe zram num_devices=2 &&"
			    " echo 256M > /sys/block/zram0/disksize &&"
			    " mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; }"));
}

FIXTURE_TEARDOWN(peer)
{
	munmap(self->r, sizeof(*self->r));
}

static size_t tap_lines(const struct peer_run *r)
{
	size_t n = 0;

	for (const char *p = r->tap; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/*
 * The same exit status and TAP lines; but where a run was cut at its
 * limit (split_huge_page_test writes its files a byte per syscall: minutes
 * under TCG), only what both reached: the cut run's lines are the first
 * lines of the other's.
 */
static bool same_outcome(const struct peer_run *a, const struct peer_run *b)
{
	size_t la = strlen(a->tap), lb = strlen(b->tap);

	if (!a->cut && !b->cut)
		return a->status == b->status && !strcmp(a->tap, b->tap);
	if (a->cut && (!b->cut || la <= lb))
		return !strncmp(a->tap, b->tap, la);
	return !strncmp(a->tap, b->tap, lb);
}

/* The TAP lines of @a that @b lacks, and those of @b that @a lacks. */
static void print_tap_diff(const char *name, const struct peer_run *a, const struct peer_run *b)
{
	const struct peer_run *x[2] = { a, b };
	static const char *const who[2] = { "plain", "tracked" };
	char line[512];

	for (int i = 0; i < 2; i++) {
		const char *p = x[i]->tap, *nl;

		for (; *p && (nl = strchr(p, '\n')); p = nl + 1) {
			snprintf(line, sizeof(line), "%.*s\n", (int)(nl - p), p);
			if (!strstr(x[!i]->tap, line))
				ksft_print_msg("%s: only %s: %.*s\n", name, who[i], (int)(nl - p), p);
		}
	}
	/*
	 * Each line of the tail as a "# " line of its own: a bare "not ok"
	 * of the mm test would count as a result of this suite.
	 */
	for (int i = 0; i < 2; i++) {
		const char *p = x[i]->tail, *nl;

		if (!x[i]->status || x[i]->status == x[!i]->status)
			continue;
		ksft_print_msg("%s: the end of the %s run:\n", name, who[i]);
		for (; *p; p = nl + 1) {
			nl = strchrnul(p, '\n');
			ksft_print_msg("%s:   %.*s\n", name, (int)(nl - p), p);
			if (!*nl)
				break;
		}
	}
}

/*
 * The pair differs: run it plain again, up to MM_PEER_RERUNS times (2),
 * and true when a plain run gives the tracked outcome, exit status and
 * TAP lines alike.  Then memlens did not make that outcome: the test
 * gives it without memlens too (on 6.1, split_huge_page_test's "No THP
 * is allocated" and ksm_tests -U, once each in one full run).  An
 * outcome that only tracked runs give still fails the test.
 */
static bool plain_gives(FIXTURE_DATA(peer) *self, char *const argv[], int limit,
			int flags)
{
	const char *env = getenv("MM_PEER_RERUNS");
	int i, n = env ? atoi(env) : 2;

	for (i = 0; i < n; i++) {
		if (peer_exec(&self->again, argv, limit, flags, false, NULL))
			return false;
		ksft_print_msg("%s: plain rerun %d: exit %d in %.1f s\n", argv[0],
			       i + 1, self->again.status, self->again.secs);
		if (same_outcome(&self->again, &self->tracked))
			return true;
	}
	return false;
}

/*
 * Both runs exited KSFT_SKIP (the kernel lacks what the test needs, e.g.
 * the debug kernel before CONFIG_KSM): the pair is a skip, not a pass;
 * the reason is the plain run's last line of output.
 */
static void skip_reason(FIXTURE_DATA(peer) *self, const char *name)
{
	char *t = self->plain.tail, *end = t + strlen(t), *p;

	while (end > t && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	for (p = end; p > t && p[-1] != '\n'; p--)
		;
	snprintf(self->skipped, sizeof(self->skipped), "%s skipped itself in both runs: %.*s",
		 name, (int)(end - p), p);
}

/* One plain/tracked pair: see peer_compare(). */
static void peer_check(struct __test_metadata *_metadata,
		       FIXTURE_DATA(peer) *self, char *const argv[], int limit,
		       int flags)
{
	struct peer_readers *r = self->r;
	int k;

	ksft_print_msg("%s: setup %.1f s and %.1f s\n", argv[0],
		       self->plain.setup_secs, self->tracked.setup_secs);
	ksft_print_msg("%s: plain exit %d in %.1f s, tracked exit %d in %.1f s; reads while tracked: %lu debugfs passes, %lu BPF walks; while it ran: %lu debugfs reads, %lu BPF walks (+%d, %d under way)%s; faults: memlens %llu (minor %llu, major %llu), /proc %llu\n",
		       argv[0], self->plain.status, self->plain.secs,
		       self->tracked.status, self->tracked.secs, r->passes[0],
		       r->passes[1], r->reads_run[0], r->reads_run[1],
		       r->busy_at_exit[0], r->busy_at_exit[1],
		       readers_idle(flags) ? " (readers SCHED_IDLE)" : "",
		       self->tracked.flt_memlens, self->tracked.minor,
		       self->tracked.major, self->tracked.flt_stat);
	if (r->pt_reads)
		ksft_print_msg("%s: %llu pagetable reads while it ran: wall %.3f s (max %.1f ms), reader CPU %.3f s\n",
			       argv[0], r->pt_reads, r->pt_wall_ns / 1e9,
			       r->pt_max_wall_ns / 1e6, r->pt_cpu_ns / 1e9);
	if (!(flags & PEER_ANY_OUTCOME) &&
	    !same_outcome(&self->plain, &self->tracked) &&
	    plain_gives(self, argv, limit, flags)) {
		ksft_print_msg("%s: tracked exit %d, plain exit %d; a plain rerun gave the tracked outcome: it varies without memlens\n",
			       argv[0], self->tracked.status, self->plain.status);
		print_tap_diff(argv[0], &self->plain, &self->tracked);
	} else if (!(flags & PEER_ANY_OUTCOME)) {
		if (self->plain.cut || self->tracked.cut)
			ksft_print_msg("%s: cut at %d s (plain %s, tracked %s): the %zu and %zu TAP lines they reached compared\n",
				       argv[0], limit, self->plain.cut ? "cut" : "ended",
				       self->tracked.cut ? "cut" : "ended",
				       tap_lines(&self->plain), tap_lines(&self->tracked));
		EXPECT_TRUE(same_outcome(&self->plain, &self->tracked)) {
			print_tap_diff(argv[0], &self->plain, &self->tracked);
			TH_LOG("plain exit %d, tracked exit %d (their ends above)",
			       self->plain.status, self->tracked.status);
		}
	} else {
		ksft_print_msg("%s: outcome not compared (differs between runs without memlens)\n",
			       argv[0]);
	}
	if (self->plain.status == KSFT_SKIP && self->tracked.status == KSFT_SKIP)
		skip_reason(self, argv[0]);
	EXPECT_EQ(0, r->errors[0]) TH_LOG("debugfs reader: %s", r->error[0]);
	EXPECT_EQ(0, r->errors[1]) TH_LOG("BPF walker: %s", r->error[1]);
	/*
	 * The readers must have read while the test ran, not only before:
	 * a read done while it ran, or one under way when it exited (a
	 * BPF walk takes seconds, longer than the shortest tests run).
	 */
	for (k = 0; k < 2; k++) {
		if (!reader_on(k))
			continue;
		EXPECT_LT(0, r->reads_run[k] + r->busy_at_exit[k]) {
			TH_LOG("reader %d did not read while the test ran", k);
		}
	}
	EXPECT_LT(0, self->tracked.flt_stat);
	EXPECT_EQ(self->tracked.flt_stat, self->tracked.flt_memlens);
}

/*
 * Run argv plain and tracked and compare.  limit: seconds before SIGTERM
 * (0: runs to its end).  flags:
 *  - PEER_ANY_OUTCOME: exit status and TAP lines are not compared, for a
 *    test whose outcome differs between two runs in one guest without
 *    memlens too (khugepaged: whether a 2 MiB page can be allocated
 *    depends on what ran before; ksm_tests -N); its counts, readers and
 *    kernel log are still checked;
 *  - PEER_IDLE_READERS: the readers run as SCHED_IDLE (the KSM tests).
 *    ksm_tests -U waits for full_scans to grow by one after writing its
 *    two merged pages; a full scan counted just after ksmd passed the
 *    first page but before it reached the second leaves that page's
 *    stale stable-tree item, and the test fails.  ksmd runs at nice 5,
 *    so readers at nice 0 preempt it mid-scan, which widens that window
 *    (6.12, once in the full check).  As SCHED_IDLE they do not preempt
 *    ksmd or the test, yet still read while the test runs (asserted:
 *    reads while it ran > 0).
 * MM_PEER_REPEAT=N repeats the pair N times (to measure flakiness).
 */
static void peer_compare(struct __test_metadata *_metadata,
			 FIXTURE_DATA(peer) *self, char *const argv[], int limit,
			 int flags)
{
	const char *only = getenv("MM_PEER_ONLY");
	const char *rep = getenv("MM_PEER_REPEAT");
	int i, n = rep && atoi(rep) > 0 ? atoi(rep) : 1;
	const char *problem;

	if (only && strcmp(only, _metadata->name))
		SKIP(return, "MM_PEER_ONLY=%s", only);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, peer_exec(&self->plain, argv, limit, flags, false,
				       NULL));
		ASSERT_EQ(0, peer_exec(&self->tracked, argv, limit, flags, true,
				       self->r));
		peer_check(_metadata, self, argv, limit, flags);
	}
	problem = ml_kernel_problem();
	EXPECT_EQ(NULL, problem) TH_LOG("kernel log: %s", problem);
	/* (SKIP makes a failed test pass: only when all else held) */
	if (self->skipped[0] && _metadata->passed)
		SKIP(return, "%s", self->skipped);
}

#define PEER_TEST(name, limit, timeout, flags, ...)			\
	TEST_F_TIMEOUT(peer, name, timeout)				\
	{								\
		char *const argv[] = { __VA_ARGS__, NULL };		\
		peer_compare(_metadata, self, argv, limit, flags);	\
	}
#define PEER(name, limit, timeout, ...) \
	PEER_TEST(name, limit, timeout, 0, __VA_ARGS__)
#define PEER_KSM(name, flags, ...)					\
	PEER_TEST(name, 0, 300, PEER_IDLE_READERS | (flags), "ksm_tests", \
		  __VA_ARGS__)

PEER(mremap_test, 0, 600, "mremap_test")
PEER(mremap_dontunmap, 0, 300, "mremap_dontunmap")
PEER(madv_populate, 0, 300, "madv_populate")
PEER(soft_dirty, 0, 900, "soft-dirty")
PEER(mlock2_tests, 0, 300, "mlock2-tests")
PEER(map_fixed_noreplace, 0, 300, "map_fixed_noreplace")
PEER(split_huge_page_test, 60, 300, "split_huge_page_test")
PEER_TEST(khugepaged_madvise_anon, 0, 900, PEER_ANY_OUTCOME, "khugepaged", "madvise:anon")
PEER(hugepage_mremap, 0, 300, "hugepage-mremap", "32", HUGE_DIR "/huge_mremap")
PEER(map_hugetlb, 0, 300, "map_hugetlb", "32")
/*
 * userfaultfd's MiB: 8, and 4 on the debug kernel (ML_SLOWDOWN set: it
 * runs about 3 times slower); 4 bounces each, so that every bounce mode
 * is run.
 */
static char *uffd_mb(void)
{
	const char *k = getenv("ML_SLOWDOWN");

	return k && atoi(k) > 1 ? "4" : "8";
}

PEER(userfaultfd_anon, 0, 600, "userfaultfd", "anon", uffd_mb(), "4")
PEER(userfaultfd_shmem, 0, 600, "userfaultfd", "shmem", uffd_mb(), "4")
PEER(userfaultfd_hugetlb, 0, 600, "userfaultfd", "hugetlb", uffd_mb(), "4")
PEER_KSM(ksm_merge, 0, "-M", "-p", "10")
/*
 * -U: its result varied without memlens too (6.1, this stop: plain 1, its
 * rerun 0); with readers, tracked failed where three plain runs passed
 * (6.12): the scan race above, which readers' CPU widens.  Not compared.
 */
PEER_KSM(ksm_unmerge, PEER_ANY_OUTCOME, "-U")
PEER_KSM(ksm_zero_pages, 0, "-Z", "-p", "10", "-z", "0")
/* -N: its result varied between runs without memlens (6.12: 1 and 1; newest: 1 plain, 0 tracked) */
PEER_KSM(ksm_numa_merge, PEER_ANY_OUTCOME, "-N", "-m", "1")
PEER(migration, 0, 600, "migration")
PEER(transhuge_stress, 5, 300, "transhuge-stress", "32")

TEST_HARNESS_MAIN
