// SPDX-License-Identifier: GPL-2.0
/*
 * The track file and the life of pid/PID/: every kind of bad input gets
 * its documented errno and changes nothing; directories follow the
 * processes; readers survive a process exiting under them; the limit of
 * MEMLENS_MAX_TRACKED (256) processes; unload with processes tracked.
 * In a guest with memlens.ko loaded (suite flag insmod); the runner fails
 * the suite on any WARNING, BUG, Oops or lockdep report.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"

/* TCG guests on a shared 2-core host are slow: 30 s is too tight. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define MAX_TRACKED 256

static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static int dir_exists(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), ML_DIR "/pid/%d", pid);
	return stat(path, &st) == 0;
}

/* Number of lines in the track file, and whether @pid is among them. */
static int tracked(pid_t pid, int *lines)
{
	char *s = pt_slurp(ML_DIR "/track");
	char *line, *save = NULL;
	int found = 0;

	*lines = 0;
	if (!s)
		return -1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		(*lines)++;
		if (atoi(line) == pid)
			found = 1;
	}
	free(s);
	return found;
}

/* Wait up to 5 s for pid/PID/ to go away. */
static int gone_soon(pid_t pid)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (!dir_exists(pid))
			return 1;
		usleep(10000);
	}
	return 0;
}

FIXTURE(track) {};

FIXTURE_SETUP(track)
{
	int n;

	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (run with the insmod flag)");
	ASSERT_EQ(0, tracked(0, &n));
	ASSERT_EQ(0, n) TH_LOG("a previous test left processes tracked");
}

FIXTURE_TEARDOWN(track) {}

TEST_F(track, modes)
{
	pid_t pid = sleeper();
	char path[64];
	struct stat st;

	ASSERT_EQ(0, stat(ML_DIR "/track", &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, pt_track(pid));
	snprintf(path, sizeof(path), ML_DIR "/pid/%d/pagetable", pid);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
	snprintf(path, sizeof(path), ML_DIR "/pid/%d/vmas", pid);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
	EXPECT_EQ(0, pt_untrack(pid));
	EXPECT_FALSE(dir_exists(pid));
	ml_reap(pid);
}

TEST_F(track, bad_writes)
{
	static const struct { const char *s; int err; } bad[] = {
		{ "abc\n", EINVAL }, { "\n", EINVAL }, { " ", EINVAL },
		{ "12abc", EINVAL }, { "0", EINVAL }, { "-0", EINVAL },
		{ "--5", EINVAL }, { "-", EINVAL }, { "-abc", EINVAL },
		{ "+-5", EINVAL }, { "0x10", EINVAL }, { "1 2", EINVAL },
		{ "2147483648", ERANGE }, { "-2147483648", ERANGE },
		{ "99999999999999999999", ERANGE },
		{ "123456789012345678901234567890123", EINVAL },	/* > 31 bytes */
		{ "4194305", ESRCH },		/* above any pid_max */
		{ "-4194305", ENOENT },		/* not tracked */
		{ "2", EINVAL },		/* kthreadd: a kernel thread */
	};
	char huge[100000];
	int i, n;

	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		const char *w = bad[i].s;

		EXPECT_EQ(bad[i].err, pt_track_write(w)) TH_LOG("'%s'", w);
	}
	memset(huge, '7', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	EXPECT_EQ(EINVAL, pt_track_write(huge));
	EXPECT_EQ(0, tracked(0, &n));
	EXPECT_EQ(0, n);	/* nothing changed */
}

/* A write of no bytes is refused like an empty line. */
TEST_F(track, empty_write_is_refused)
{
	int fd = open(ML_DIR "/track", O_WRONLY);
	int n;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, "", 0));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	EXPECT_EQ(0, tracked(0, &n));
	EXPECT_EQ(0, n);
}

TEST_F(track, dead_pid_is_esrch)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(ESRCH, pt_track(pid));
	EXPECT_FALSE(dir_exists(pid));
}

TEST_F(track, zombie_is_esrch)
{
	pid_t pid = fork();
	siginfo_t si;

	if (pid == 0)
		_exit(0);
	/* Wait for it to be a zombie without reaping it. */
	ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	EXPECT_EQ(ESRCH, pt_track(pid));
	EXPECT_FALSE(dir_exists(pid));
	waitpid(pid, NULL, 0);
}

static void *idle_thread(void *arg)
{
	pause();
	return NULL;
}

TEST_F(track, thread_id_is_einval)
{
	pthread_t t;
	pid_t tid = 0;
	DIR *d;
	struct dirent *e;

	ASSERT_EQ(0, pthread_create(&t, NULL, idle_thread, NULL));
	d = opendir("/proc/self/task");
	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		if (atoi(e->d_name) > 0 && atoi(e->d_name) != getpid())
			tid = atoi(e->d_name);
	closedir(d);
	ASSERT_LT(0, tid);
	EXPECT_EQ(EINVAL, pt_track(tid));
	EXPECT_EQ(0, pt_track(getpid()));
	EXPECT_EQ(0, pt_untrack(getpid()));
	pthread_cancel(t);
	pthread_join(t, NULL);
}

TEST_F(track, twice_is_eexist)
{
	pid_t pid = sleeper();
	int n;

	ASSERT_EQ(0, pt_track(pid));
	EXPECT_EQ(EEXIST, pt_track(pid));
	EXPECT_EQ(1, tracked(pid, &n));
	EXPECT_EQ(1, n);
	EXPECT_EQ(0, pt_untrack(pid));
	EXPECT_EQ(ENOENT, pt_untrack(pid));
	ml_reap(pid);
}

TEST_F(track, exit_removes_directory)
{
	pid_t pid = sleeper();
	int n;

	ASSERT_EQ(0, pt_track(pid));
	EXPECT_TRUE(dir_exists(pid));
	EXPECT_EQ(1, tracked(pid, &n));
	ml_reap(pid);
	EXPECT_TRUE(gone_soon(pid));
	EXPECT_EQ(0, tracked(pid, &n));
	EXPECT_EQ(0, n);
}

/* A multi-threaded process goes away only when its last thread does. */
TEST_F(track, leader_exit_keeps_directory_until_last_thread)
{
	int p[2];
	char c, *pt;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	if (pid == 0) {
		pthread_t t;

		pthread_create(&t, NULL, idle_thread, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pthread_exit(NULL);	/* the leader goes, the thread stays */
	}
	ASSERT_EQ(1, read(p[0], &c, 1));
	usleep(200000);		/* the leader is gone by now */
	ASSERT_EQ(0, pt_track(pid));
	usleep(200000);
	EXPECT_TRUE(dir_exists(pid));
	pt = pt_slurp_pid(pid, ML_DIR "/pid/%d/pagetable");
	ASSERT_NE(NULL, pt);	/* walked through the live thread's mm */
	EXPECT_LT(0, pt_key(pt, "leaf_4k"));
	free(pt);
	ml_reap(pid);
	EXPECT_TRUE(gone_soon(pid));
}

/* Readers in a loop while the process exits: data or a clean error. */
TEST_F_TIMEOUT(track, exit_during_read_loop, 180)
{
	static const char *const files[] = { "pagetable", "vmas" };
	int round;

	for (round = 0; round < 12; round++) {
		pid_t pid = fork();
		char path[64];
		int fd, reads = 0, errs = 0;

		if (pid == 0) {
			void *m = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			memset(m, 1, 16 << 20);
			usleep(20000 + round * 5000);
			_exit(0);
		}
		ASSERT_EQ(0, pt_track(pid));
		snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid, files[round % 2]);
		fd = open(path, O_RDONLY);	/* held across the exit */
		ASSERT_LE(0, fd);
		while (dir_exists(pid)) {
			char *s = pt_slurp(path);

			if (s)
				reads++;
			else
				errs++;
			free(s);
			if (reads + errs > 100000)
				break;
		}
		EXPECT_FALSE(dir_exists(pid));
		waitpid(pid, NULL, 0);
		{
			char buf[256];
			ssize_t n = read(fd, buf, sizeof(buf));

			/* After removal debugfs fails the read (EIO). */
			EXPECT_EQ(-1, n);
		}
		close(fd);
		EXPECT_LT(0, reads);
	}
}

TEST_F_TIMEOUT(track, flood_beyond_limit, 180)
{
	pid_t pids[MAX_TRACKED + 1];
	int i, n;

	for (i = 0; i <= MAX_TRACKED; i++) {
		pids[i] = sleeper();
		ASSERT_LT(0, pids[i]);
	}
	for (i = 0; i < MAX_TRACKED; i++)
		ASSERT_EQ(0, pt_track(pids[i])) TH_LOG("process %d", i);
	EXPECT_EQ(ENOSPC, pt_track(pids[MAX_TRACKED]));
	EXPECT_FALSE(dir_exists(pids[MAX_TRACKED]));
	EXPECT_EQ(0, tracked(0, &n));
	EXPECT_EQ(MAX_TRACKED, n);
	/* Half untracked by hand, half by exiting. */
	for (i = 0; i < MAX_TRACKED / 2; i++)
		EXPECT_EQ(0, pt_untrack(pids[i]));
	for (i = 0; i <= MAX_TRACKED; i++)
		ml_reap(pids[i]);
	for (i = 0; i < MAX_TRACKED; i++)
		EXPECT_TRUE(gone_soon(pids[i]));
	EXPECT_EQ(0, tracked(0, &n));
	EXPECT_EQ(0, n);
}

/* nr_anon_pages of /proc/vmstat: anonymous pages mapped system-wide. */
static long anon_pages(void)
{
	char *s = pt_slurp("/proc/vmstat");
	char *p = s ? strstr(s, "\nnr_anon_pages ") : NULL;
	long v = p ? strtol(p + 15, NULL, 10) : -1;

	free(s);
	return v;
}

/*
 * Every file of a tracked process read while it lives takes (and must
 * drop) a reference on its mm: after it exits, its memory is freed.  A
 * leaked mm_users reference (a missing mmput()) keeps every page mapped;
 * nothing in the kernel reports that, the anonymous page count does.
 * 16 processes of 16 MiB each: 65536 pages that must come back.
 */
TEST_F_TIMEOUT(track, exited_processes_memory_is_freed, 300)
{
	static const char *const files[] = {
		"pagetable", "vmas", "faults", "vma_faults", "tlb", "swap",
	};
	const size_t len = 16 << 20;
	long before, after;
	int i, f;

	before = anon_pages();
	ASSERT_LT(0, before);
	for (i = 0; i < 16; i++) {
		int ready[2];
		char c;
		pid_t pid;

		ASSERT_EQ(0, pipe(ready));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				_exit(1);
			memset(p, 1, len);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(ready[1]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		close(ready[0]);
		ASSERT_EQ(0, pt_track(pid));
		for (f = 0; f < 6; f++) {
			char path[128], *s;

			snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid, files[f]);
			s = pt_slurp(path);
			EXPECT_NE(NULL, s) TH_LOG("%s", path);
			free(s);
		}
		ml_reap(pid);
		EXPECT_TRUE(gone_soon(pid));
	}
	after = anon_pages();
	/* per-CPU vmstat deltas drift by at most a few hundred pages */
	EXPECT_GT(before + 2048, after)
		TH_LOG("nr_anon_pages %ld before, %ld after 16 x %zu MiB exited",
		       before, after, len >> 20);
}

/* Unloading with processes tracked and a file open fails cleanly, then works. */
TEST_F(track, unload_with_processes_tracked)
{
	pid_t pids[8];
	char path[64];
	int i, fd, ko;

	for (i = 0; i < 8; i++) {
		pids[i] = sleeper();
		ASSERT_EQ(0, pt_track(pids[i]));
	}
	snprintf(path, sizeof(path), ML_DIR "/pid/%d/pagetable", pids[0]);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "memlens", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(fd);
	ASSERT_EQ(0, syscall(SYS_delete_module, "memlens", O_NONBLOCK));
	EXPECT_NE(0, access(ML_DIR, F_OK));
	ko = open("/opt/memlens/memlens.ko", O_RDONLY);
	ASSERT_LE(0, ko);
	ASSERT_EQ(0, syscall(SYS_finit_module, ko, "", 0));
	close(ko);
	for (i = 0; i < 8; i++) {
		EXPECT_FALSE(dir_exists(pids[i]));
		ml_reap(pids[i]);
	}
}

TEST_HARNESS_MAIN
