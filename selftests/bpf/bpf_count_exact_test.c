// SPDX-License-Identifier: GPL-2.0
/*
 * The counting mode of bpf/faults.bpf.c, exact in the cases where
 * classifying faults from the threads' own min_flt/maj_flt could go wrong:
 * a thread that exits with its last fault not yet classified, faults taken
 * in kernel mode on user memory, faults charged with no exception (GUP:
 * MAP_POPULATE, mlock), exceptions that charge nothing (SIGSEGV), file
 * major faults, fork and exec.
 *
 * Each case runs in a child that waits for "go", does one thing to memory
 * of its own and reports the address of that memory.  Independent sources:
 * the child's /proc/PID/stat minflt/majflt over the same window (exact:
 * memlens' totals must equal them), and the number of pages the case
 * touched in a region it mapped for itself (exact per VMA).  Host and
 * every guest kernel.
 *
 * Built twice: as bpf_count_exact_test for the BPF programs, and with
 * ML_COUNT_MODULE as module_count_exact_test for memlens.ko's counting
 * mode (module/fcount.c), read from debugfs (pid/PID/faults, vma_faults).
 */
#include <pthread.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "ml_touch.h"
#include "mlbpf.h"

#define NPAGES	 512
#define PAGE	 4096UL
#define SEGV_NR	 16
#define MAJOR_FILE ".ml_count_major"

enum scenario {
	SC_THREAD,
	SC_KERNEL,
	SC_POPULATE,
	SC_SEGV,
	SC_MAJOR,
	SC_FORK_EXEC,
};

struct shared {
	unsigned long region;	/* the case's own region, or 0 */
	unsigned long region2;
	int segv;		/* SIGSEGVs taken */
	char major_path[256];	/* SC_MAJOR: the file or device to map */
};

static struct shared *sh;

#ifdef ML_COUNT_MODULE
#define ML_DIR "/sys/kernel/debug/memlens"

struct counter {
	pid_t pid;
};

static const char *cnt_error(void)
{
	return strerror(errno);
}

/* The value of "KEY N" in @buf, or -1 (absent, or "KEY unavailable:"). */
static long long file_key(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p;

	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ' && isdigit(p[kl + 1]))
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

/* Track @pid in the counting mode. */
static int cnt_open(struct counter **c, pid_t pid)
{
	char s[32];

	/*
	 * The counting mode, unless set already: a switch is refused
	 * (EBUSY) while any process is tracked, as in make soak, where
	 * mm_peer and pgwalk_stress track theirs beside this test.
	 */
	if (ml_read_file(ML_DIR "/latency", s, sizeof(s)) <= 0 ||
	    (s[0] != '0' && write_str(ML_DIR "/latency", "0")))
		return -1;
	snprintf(s, sizeof(s), "%d", pid);
	if (write_str(ML_DIR "/track", s))
		return -1;
	*c = calloc(1, sizeof(**c));
	if (!*c)
		return -1;
	(*c)->pid = pid;
	return 0;
}

static bool cnt_counting(struct counter *c)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), ML_DIR "/pid/%d/faults", c->pid);
	return ml_read_file(path, buf, sizeof(buf)) > 0 &&
	       !strncmp(buf, "mode counting\n", 14);
}

static int cnt_read(struct counter *c, pid_t pid, struct fault_counts *out)
{
	static char buf[1 << 14];
	char path[64];
	const struct {
		const char *key;
		__u64 *v;
	} kv[] = {
		{ "minor", &out->minor }, { "major", &out->major },
		{ "populated", &out->populated }, { "not_charged", &out->not_charged },
		{ "mixed", &out->mixed }, { "unattributed", &out->unattributed },
		{ "user", &out->user }, { "kernel", &out->kernel },
		{ "read", &out->read }, { "write", &out->write },
		{ "exec", &out->exec }, { "notpresent", &out->notpresent },
		{ "protection", &out->protection },
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), ML_DIR "/pid/%d/faults", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		long long v = file_key(buf, kv[i].key);

		if (v < 0)
			return -1;
		*kv[i].v = v;
	}
	return 0;
}

static int cnt_vmas(struct counter *c, pid_t pid, struct ml_vma_faults **out)
{
	static char buf[1 << 16];
	struct ml_vma_faults *v;
	char path[64], *line;
	int n = 0;

	snprintf(path, sizeof(path), ML_DIR "/pid/%d/vma_faults", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	v = calloc(256, sizeof(*v));
	if (!v)
		return -1;
	line = strchr(buf, '\n');	/* after the header */
	while (line && line[1] && n < 256) {
		unsigned long long start, end, minor, major;

		if (sscanf(line + 1, "%llx %llx %llu %llu", &start, &end, &minor, &major) == 4) {
			v[n].start = start;
			v[n].end = end;
			v[n].minor = minor;
			v[n].major = major;
			n++;
		}
		line = strchr(line + 1, '\n');
	}
	*out = v;
	return n;
}

static void cnt_close(struct counter *c)
{
	char s[32];

	if (!c)
		return;
	snprintf(s, sizeof(s), "-%d", c->pid);
	write_str(ML_DIR "/track", s);	/* fails once it exited: fine */
	free(c);
}
#else
#define counter ml_faults

static const char *cnt_error(void)
{
	return ml_bpf_error();
}

static int cnt_open(struct ml_faults **f, pid_t pid)
{
	return ml_faults_open(f, pid);
}

static bool cnt_counting(struct ml_faults *f)
{
	return ml_faults_mode(f) == ML_FAULTS_COUNTING;
}

#define cnt_read ml_faults_read
#define cnt_vmas ml_faults_vmas
#define cnt_close ml_faults_close
#endif

static char *fresh(size_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

static void *thread_touch(void *arg)
{
	volatile char *p = arg;
	size_t i;

	for (i = 0; i < NPAGES; i++)
		p[i * PAGE] = 1;
	return NULL;	/* the last fault is still pending when it exits */
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	siglongjmp(segv_jmp, 1);
}

static void segv_case(void)
{
	volatile char *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	volatile int i;

	if (none == MAP_FAILED)
		_exit(3);
	sigaction(SIGSEGV, &sa, NULL);
	for (i = 0; i < SEGV_NR; i++)
		if (!sigsetjmp(segv_jmp, 1))
			none[0] = 1;	/* an exception that charges nothing */
		else
			sh->segv++;
}

static void major_case(void)
{
	int fd = open(sh->major_path, O_RDONLY);
	volatile char sum = 0;
	char *p;
	size_t i;

	if (fd < 0)
		_exit(3);
	p = mmap(NULL, NPAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		_exit(4);
	madvise(p, NPAGES * PAGE, MADV_RANDOM); /* no readahead: a major each */
	sh->region = (unsigned long)p;
	for (i = 0; i < NPAGES; i++)
		sum += p[i * PAGE];
}

static void run_case(enum scenario sc)
{
	pthread_t t;
	char *p, *q;
	int fd;

	switch (sc) {
	case SC_THREAD:
		/* Shared: the thread's stack, mapped next to it, cannot merge. */
		p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		sh->region = (unsigned long)p;
		if (pthread_create(&t, NULL, thread_touch, p) || pthread_join(t, NULL))
			_exit(5);
		break;
	case SC_KERNEL:
		/* read() fills the region: the faults are taken in copy-out. */
		p = fresh(NPAGES);
		sh->region = (unsigned long)p;
		fd = open("/dev/zero", O_RDONLY);
		if (fd < 0 || read(fd, p, NPAGES * PAGE) != (ssize_t)(NPAGES * PAGE))
			_exit(5);
		close(fd);
		break;
	case SC_POPULATE:
		p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		q = fresh(NPAGES);
		if (p == MAP_FAILED || mlock(q, NPAGES * PAGE))
			_exit(5);
		sh->region = (unsigned long)p;
		sh->region2 = (unsigned long)q;
		memset(p, 1, NPAGES * PAGE);	/* populated: no fault left */
		memset(q, 1, NPAGES * PAGE);
		break;
	case SC_SEGV:
		segv_case();
		break;
	case SC_MAJOR:
		major_case();
		break;
	case SC_FORK_EXEC:
		break;	/* done by the child itself: see child_main() */
	}
}

static void exec_touch(void)
{
	char *argv[] = { "/proc/self/exe", NULL };
	pid_t gc = fork();

	/* A grandchild is another process: none of its faults are ours. */
	if (gc == 0) {
		volatile char *p = fresh(NPAGES);
		size_t i;

		for (i = 0; i < NPAGES; i++)
			p[i * PAGE] = 1;
		_exit(0);
	}
	if (gc < 0 || waitpid(gc, NULL, 0) != gc)
		_exit(6);
	/* The new image touches NPAGES and exits (ml_touch.h). */
	setenv("ML_TOUCH_PAGES", "512", 1);
#ifdef ML_COUNT_MODULE
	setenv("ML_TOUCH_STOP", "1", 1);
#endif
	execv(argv[0], argv);
	_exit(7);
}

static void child_main(int go, int done, enum scenario sc)
{
	char c;

	if (read(go, &c, 1) != 1)
		_exit(2);
	if (sc == SC_FORK_EXEC)
		exec_touch();
	run_case(sc);
	if (write(done, "d", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

FIXTURE(count) {
	pid_t child;
	int go, done;
	struct counter *f;
	unsigned long long min0, maj0;
	struct fault_counts c0;
};

FIXTURE_VARIANT(count) {
	enum scenario sc;
};

FIXTURE_VARIANT_ADD(count, thread_exits_with_fault_pending) { .sc = SC_THREAD };
FIXTURE_VARIANT_ADD(count, kernel_mode_faults) { .sc = SC_KERNEL };
FIXTURE_VARIANT_ADD(count, populate_and_mlock) { .sc = SC_POPULATE };
FIXTURE_VARIANT_ADD(count, sigsegv_charges_nothing) { .sc = SC_SEGV };
FIXTURE_VARIANT_ADD(count, file_major_faults) { .sc = SC_MAJOR };
FIXTURE_VARIANT_ADD(count, fork_then_exec) { .sc = SC_FORK_EXEC };

static bool on_memory_fs(const char *path)
{
	struct statfs s;

	return !statfs(path, &s) && (s.f_type == TMPFS_MAGIC || s.f_type == RAMFS_MAGIC);
}

/*
 * Pages that are not in the page cache, to map: a file in the working
 * directory where it is on a disk, else the zram1 block device (the
 * guests' root is in memory), filled and with its cache dropped.  The
 * descriptor stays open: the last close of a block device drops its
 * cache, and we want it dropped once, here.
 */
static int major_source(char *path, size_t size, int *keep)
{
	char buf[PAGE];
	size_t i;
	int fd;

	if (!on_memory_fs(".")) {
		snprintf(path, size, "%s.%d", MAJOR_FILE, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return -1;
		for (i = 0; i < NPAGES; i++) {
			memset(buf, (int)i, sizeof(buf));
			if (write(fd, buf, sizeof(buf)) != sizeof(buf))
				return -1;
		}
	} else {
		if (system("[ -e /sys/block/zram1 ] || modprobe zram num_devices=2;"
			   " [ -e /sys/block/zram1 ] && echo 1 > /sys/block/zram1/reset &&"
			   " echo 16M > /sys/block/zram1/disksize &&"
			   " dd if=/dev/urandom of=/dev/zram1 bs=4096 count=512 2>/dev/null"))
			return -1;
		snprintf(path, size, "/dev/zram1");
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
	}
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	*keep = fd;
	return 0;
}

static int major_fd = -1;

/*
 * Wait until @pid sleeps in read() (syscall 0 in /proc/PID/syscall): the
 * child faults on its way there after fork(), and the window the test
 * compares must hold only the case's own work.
 */
static int wait_blocked_in_read(pid_t pid)
{
	char path[64], buf[256];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	for (i = 0; i < 3000; i++) {
		if (ml_read_file(path, buf, sizeof(buf)) > 0 && !strncmp(buf, "0 ", 2))
			return 0;
		usleep(1000);
	}
	return -1;
}

FIXTURE_SETUP(count)
{
	int go[2], done[2];

#ifdef ML_COUNT_MODULE
	if (geteuid())
		SKIP(return, "memlens.ko's debugfs files need root");
#else
	if (!ml_bpf_privileged())
		SKIP(return, "loading BPF needs CAP_BPF and CAP_PERFMON (run as root)");
#endif
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	if (variant->sc == SC_MAJOR)
		ASSERT_EQ(0, major_source(sh->major_path, sizeof(sh->major_path), &major_fd))
			TH_LOG("no uncached file or device to fault on");
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		child_main(go[0], done[1], variant->sc);
	self->go = go[1];
	self->done = done[0];
	ASSERT_EQ(0, wait_blocked_in_read(self->child));
	ASSERT_EQ(0, cnt_open(&self->f, self->child)) TH_LOG("%s", cnt_error());
	ASSERT_TRUE(cnt_counting(self->f));
	ASSERT_EQ(0, ml_stat_faults(self->child, &self->min0, &self->maj0));
	ASSERT_EQ(0, cnt_read(self->f, self->child, &self->c0));
}

FIXTURE_TEARDOWN(count)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	cnt_close(self->f);
	if (major_fd >= 0)
		close(major_fd);
	major_fd = -1;
	if (variant->sc == SC_MAJOR && strncmp(sh->major_path, "/dev/", 5))
		unlink(sh->major_path);
}

/* The counts of @v's VMA starting at @start (zero if none). */
static void vma_of(struct counter *f, pid_t pid, unsigned long start,
		   unsigned long long *minor, unsigned long long *major)
{
	struct ml_vma_faults *v;
	int n, i;

	*minor = *major = 0;
	n = cnt_vmas(f, pid, &v);
	for (i = 0; i < n; i++)
		if (v[i].start == start) {
			*minor += v[i].minor;
			*major += v[i].major;
		}
	if (n >= 0)
		free(v);
}

/* How many of @pid's VMAs have exactly @minor minor and no major faults. */
static int vmas_with(struct counter *f, pid_t pid, unsigned long long minor)
{
	struct ml_vma_faults *v;
	int n, i, hits = 0;

	n = cnt_vmas(f, pid, &v);
	for (i = 0; i < n; i++)
		hits += v[i].minor == minor && !v[i].major;
	if (n >= 0)
		free(v);
	return hits;
}

/*
 * Totals since the fixture's first read equal /proc/PID/stat's growth,
 * and every exception entry is either charged or not: entries = charged
 * with an entry (minor + major - populated) + not charged.
 */
static void check_totals(struct __test_metadata *_metadata, const struct fault_counts *c0,
			 const struct fault_counts *c1, unsigned long long dmin,
			 unsigned long long dmaj)
{
	TH_LOG("minflt +%llu majflt +%llu; memlens minor +%llu major +%llu populated +%llu "
	       "not_charged +%llu mixed +%llu unattributed +%llu",
	       dmin, dmaj, (unsigned long long)(c1->minor - c0->minor),
	       (unsigned long long)(c1->major - c0->major),
	       (unsigned long long)(c1->populated - c0->populated),
	       (unsigned long long)(c1->not_charged - c0->not_charged),
	       (unsigned long long)(c1->mixed - c0->mixed),
	       (unsigned long long)(c1->unattributed - c0->unattributed));
	EXPECT_EQ(dmin, c1->minor - c0->minor);
	EXPECT_EQ(dmaj, c1->major - c0->major);
	EXPECT_EQ(c1->user + c1->kernel,
		  c1->minor + c1->major - c1->populated + c1->not_charged);
	EXPECT_EQ(c1->user + c1->kernel, c1->read + c1->write + c1->exec);
}

/* Run the case in the live child and compare at its "done". */
static void run_live(struct __test_metadata *_metadata, FIXTURE_DATA(count) *self,
		     struct fault_counts *c1)
{
	unsigned long long min1, maj1;
	char c;

	ASSERT_EQ(1, write(self->go, "g", 1));
	ASSERT_EQ(1, read(self->done, &c, 1));
	ASSERT_EQ(0, ml_stat_faults(self->child, &min1, &maj1));
	ASSERT_EQ(0, cnt_read(self->f, self->child, c1));
	check_totals(_metadata, &self->c0, c1, min1 - self->min0, maj1 - self->maj0);
}

TEST_F(count, exact)
{
	unsigned long long minor, major, min1, maj1;
	struct fault_counts c1;
	siginfo_t si;
	int i;

	if (variant->sc != SC_FORK_EXEC) {
		run_live(_metadata, self, &c1);
		vma_of(self->f, self->child, sh->region, &minor, &major);
	}
	switch (variant->sc) {
	case SC_THREAD:
	case SC_KERNEL:
		EXPECT_EQ(NPAGES, minor);
		EXPECT_EQ(0, major);
		if (variant->sc == SC_KERNEL)
			EXPECT_LE(NPAGES, c1.kernel - self->c0.kernel);
		break;
	case SC_POPULATE:
		/*
		 * GUP charged them: populated, never a VMA's.  How many the
		 * kernel charges varies (6.1: both regions' pages; 6.12: one
		 * region's); the totals above equal its counters either way.
		 */
		EXPECT_LE(NPAGES, c1.populated - self->c0.populated);
		EXPECT_EQ(0, minor + major);
		vma_of(self->f, self->child, sh->region2, &minor, &major);
		EXPECT_EQ(0, minor + major);
		break;
	case SC_SEGV:
		EXPECT_EQ(SEGV_NR, sh->segv);
		EXPECT_EQ(SEGV_NR, c1.not_charged - self->c0.not_charged);
		break;
	case SC_MAJOR:
		TH_LOG("%s: VMA minor %llu major %llu", sh->major_path, minor, major);
		EXPECT_LT(0, major);
		EXPECT_EQ(c1.major - self->c0.major, major);
		EXPECT_EQ(NPAGES, minor + major);
		break;
	case SC_FORK_EXEC:
#ifdef ML_COUNT_MODULE
		/*
		 * The module stops tracking a process when it exits: the new
		 * image stops itself after its work (ML_TOUCH_STOP), its last
		 * fault still pending.
		 */
		ASSERT_EQ(1, write(self->go, "g", 1));
		ASSERT_EQ(0, waitid(P_PID, self->child, &si, WSTOPPED));
		ASSERT_EQ(0, ml_stat_faults(self->child, &min1, &maj1));
		ASSERT_EQ(0, cnt_read(self->f, self->child, &c1));
		check_totals(_metadata, &self->c0, &c1, min1 - self->min0, maj1 - self->maj0);
		EXPECT_EQ(1, vmas_with(self->f, self->child, NPAGES));
		break;
#endif
		/* At the zombie: its stat is final, its state not yet freed. */
		ASSERT_EQ(1, write(self->go, "g", 1));
		ASSERT_EQ(0, waitid(P_PID, self->child, &si, WEXITED | WNOWAIT));
		ASSERT_EQ(0, si.si_status);
		ASSERT_EQ(0, ml_stat_faults(self->child, &min1, &maj1));
		ASSERT_EQ(0, cnt_read(self->f, self->child, &c1));
		check_totals(_metadata, &self->c0, &c1, min1 - self->min0, maj1 - self->maj0);
		/* Reaped: the rest is flushed when the task is freed (RCU). */
		ASSERT_EQ(self->child, waitpid(self->child, NULL, 0));
		for (i = 0; i < 100; i++) {
			ASSERT_EQ(0, cnt_read(self->f, self->child, &c1));
			if (c1.minor - self->c0.minor == min1 - self->min0)
				break;
			usleep(10000);
		}
		EXPECT_EQ(min1 - self->min0, c1.minor - self->c0.minor);
		EXPECT_EQ(maj1 - self->maj0, c1.major - self->c0.major);
		/* The new image's region (ml_touch.h): exactly NPAGES minor. */
		EXPECT_EQ(1, vmas_with(self->f, self->child, NPAGES));
		self->child = 0;
		break;
	}
}

TEST_HARNESS_MAIN
