// SPDX-License-Identifier: GPL-2.0
/*
 * Stress the page-table walker: readers of pid/PID/pagetable and vmas in a
 * loop while the walked process's threads mmap, munmap, mprotect, mremap,
 * madvise(DONTNEED, PAGEOUT, COLLAPSE), fork children that write and
 * exit, start and end threads, and the process itself is killed and
 * replaced; khugepaged scans as fast as it can meanwhile.  Runs for
 * ML_STRESS_SECONDS (default 60).  The runner fails the suite on any
 * Oops, WARNING, lockdep report, RCU stall or soft lockup; the test
 * checks every read gives well-formed counts or a clean error, and that a
 * quiescent process still reconciles with VmPTE and smaps afterwards.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define SLOTS		32
#define HUGE		(2UL << 20)
#define WORKERS		3

static unsigned int seed_of(void)
{
	return (unsigned int)(time(NULL) ^ getpid() ^ (uintptr_t)pthread_self());
}

struct slot {
	pthread_mutex_t lock;
	void *addr;
	size_t len;
};

static struct slot slots[SLOTS];
static int shm_fd = -1;

static void touch_range(void *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += PG)
		((volatile char *)p)[i] = 1;
}

static void one_op(unsigned int *seed)
{
	struct slot *s = &slots[rand_r(seed) % SLOTS];
	int op = rand_r(seed) % 11;
	size_t len;
	void *p;

	pthread_mutex_lock(&s->lock);
	if (!s->addr) {
		len = (1 + rand_r(seed) % 4) * HUGE;
		if (op % 3 == 0 && shm_fd >= 0)
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
		else
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			madvise(p, len, MADV_HUGEPAGE);
			touch_range(p, len / (1 + rand_r(seed) % 3));
			s->addr = p;
			s->len = len;
		}
		pthread_mutex_unlock(&s->lock);
		return;
	}
	p = s->addr;
	len = s->len;
	switch (op) {
	case 0:
		munmap(p, len);
		s->addr = NULL;
		break;
	case 1:
		mprotect((char *)p + PG * (rand_r(seed) % 64), PG * 32,
			 rand_r(seed) % 2 ? PROT_READ : PROT_NONE);
		break;
	case 2:
		mprotect(p, len, PROT_READ | PROT_WRITE);
		touch_range(p, len);
		break;
	case 3: {	/* grow, within the shm file's 16 huge pages */
		void *q = len < 12 * HUGE ? mremap(p, len, len + HUGE, MREMAP_MAYMOVE)
					  : MAP_FAILED;

		if (q != MAP_FAILED) {
			s->addr = q;
			s->len = len + HUGE;
		}
		break;
	}
	case 4:
		madvise(p, len, MADV_DONTNEED);
		break;
	case 5:
		madvise(p, len, MADV_PAGEOUT);
		break;
	case 6:
		madvise(p, len, MADV_COLLAPSE);
		break;
	case 7:		/* a hole in the middle, filled with a new VMA */
		munmap((char *)p + HUGE / 2, PG * 8);
		mmap((char *)p + HUGE / 2, PG * 8, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	default:
		mprotect(p, len, PROT_READ | PROT_WRITE);
		touch_range(p, len / 2);
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
	unsigned int seed = seed_of();

	for (;;)
		one_op(&seed);
	return NULL;
}

static void *short_thread(void *arg)
{
	void *p = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED) {
		touch_range(p, HUGE);
		munmap(p, HUGE);
	}
	return NULL;
}

/* The walked process: workers, forks that write and exit, short threads. */
static void target(void)
{
	pthread_t t;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (i = 3; i < 1024; i++)	/* not the readers' open files */
		close(i);
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&slots[i].lock, NULL);
	shm_fd = open("/dev/shm/pgwalk_stress", O_RDWR | O_CREAT, 0600);
	if (shm_fd >= 0 && ftruncate(shm_fd, 16 * HUGE))
		shm_fd = -1;
	for (i = 0; i < WORKERS; i++)
		pthread_create(&t, NULL, worker, NULL);
	for (;;) {
		pid_t c = fork();

		if (c == 0) {	/* only async-signal-safe work: the slots may be locked */
			short_thread(NULL);
			_exit(0);
		}
		if (c > 0)
			waitpid(c, NULL, 0);
		if (pthread_create(&t, NULL, short_thread, NULL) == 0)
			pthread_join(t, NULL);
		usleep(1000);
	}
}

static pid_t start_target(void)
{
	pid_t pid = fork();

	if (pid == 0)
		target();
	return pid;
}

static volatile pid_t cur_pid;
static volatile int stop;
static long n_reads, n_errors, n_bad, n_errno[3];
static pthread_mutex_t stat_lock = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg)
{
	const char *file = arg;
	char path[96];

	while (!stop) {
		pid_t pid = cur_pid;
		char *s;
		int bad = 0;

		snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid, file);
		s = pt_slurp(path);
		if (s && !strcmp(file, "pagetable"))
			bad = pt_key(s, "tables_pgd") != 1 || pt_key(s, "vmas") < 1;
		else if (s)
			bad = strncmp(s, "start end perms kind", 20) != 0;
		pthread_mutex_lock(&stat_lock);
		if (s)
			n_reads++;
		else if (errno == ENOENT || errno == ESRCH || errno == EIO || errno == EINTR)
			n_errors++, n_errno[errno == ENOENT ? 0 : errno == ESRCH ? 1 : 2]++;
		else
			bad = 1;
		n_bad += bad;
		pthread_mutex_unlock(&stat_lock);
		free(s);
	}
	return NULL;
}

static void sh(const char *cmd)
{
	if (system(cmd))
		fprintf(stderr, "# '%s' failed\n", cmd);
}

static long vmstat(const char *key)
{
	char *s = pt_slurp("/proc/vmstat");
	long long v = s ? pt_key(s, key) : -1;

	free(s);
	return v;
}

FIXTURE(stress) {};
FIXTURE_SETUP(stress)
{
	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (run with the insmod flag)");
}
FIXTURE_TEARDOWN(stress) {}

TEST_F_TIMEOUT(stress, walk_while_everything_changes, 600)
{
	const char *env = getenv("ML_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 60, restarts = 0;
	pthread_t r[3];
	time_t end;
	int status, died = 0;
	long collapses;
	pid_t pid, old;
	char *pt;

	sh("grep -q zram /proc/swaps || { modprobe zram && echo 256M > /sys/block/zram0/disksize"
	   " && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; }");
	sh("echo always > /sys/kernel/mm/transparent_hugepage/enabled");
	sh("echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled");
	sh("echo 10 > /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs");
	sh("echo 4096 > /sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan");

	collapses = -vmstat("thp_collapse_alloc");
	cur_pid = start_target();
	ASSERT_LT(0, cur_pid);
	ASSERT_EQ(0, pt_track(cur_pid));
	pthread_create(&r[0], NULL, reader, "pagetable");
	pthread_create(&r[1], NULL, reader, "vmas");
	pthread_create(&r[2], NULL, reader, "pagetable");
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		usleep(1500000);
		/* The process dies under the readers; a new one replaces it. */
		pid = start_target();
		ASSERT_LT(0, pid);
		ASSERT_EQ(0, pt_track(pid));
		old = cur_pid;
		cur_pid = pid;
		kill(old, SIGKILL);
		waitpid(old, &status, 0);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			died++;		/* the workload itself crashed */
		restarts++;
	}
	stop = 1;
	pthread_join(r[0], NULL);
	pthread_join(r[1], NULL);
	pthread_join(r[2], NULL);
	kill(cur_pid, SIGSTOP);		/* quiescent from here */
	sh("echo never > /sys/kernel/mm/transparent_hugepage/enabled");
	usleep(500000);
	pt = pt_slurp_pid(cur_pid, ML_DIR "/pid/%d/pagetable");
	ASSERT_NE(NULL, pt);
	EXPECT_EQ(pt_status_kb(cur_pid, "VmPTE:"),
		  (pt_key(pt, "tables_pud") + pt_key(pt, "tables_pmd") +
		   pt_key(pt, "tables_pte") + pt_key(pt, "tables_pte_deposited")) * 4);
	free(pt);
	kill(cur_pid, SIGKILL);
	waitpid(cur_pid, NULL, 0);
	collapses += vmstat("thp_collapse_alloc");
	ksft_print_msg("%d s, %d process restarts, %ld reads, %ld clean errors, %ld THP collapses\n",
		       seconds, restarts, n_reads, n_errors, collapses);
	ksft_print_msg("errors: ENOENT %ld, ESRCH %ld, EIO or EINTR %ld\n", n_errno[0], n_errno[1], n_errno[2]);
	EXPECT_EQ(0, n_bad);
	EXPECT_EQ(0, died) TH_LOG("the workload crashed: it must stay walkable");
	EXPECT_LT(100, n_reads);
}

TEST_HARNESS_MAIN
