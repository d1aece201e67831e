// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle of memlens.ko's accounting: unload refused while its files
 * are open, reads racing with tracked processes exiting, and 100
 * load/unload cycles with fault, TLB and swap traffic running.  Loads the
 * module itself (no insmod flag); the kernel log must stay clean.
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "acct.h"

/*
 * The harness's 30 s is too tight for the debug kernel (lockdep, KASAN)
 * under TCG on a shared 2-core host: 30 tracked processes read while
 * they exit took longer there.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static int track(pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "%d", pid);
	return write_str(ML_DIR "/track", s);
}

/* Fault, TLB-flush and (if swap is on) swap traffic until killed. */
static pid_t traffic(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			char *p = anon_pages(64);
			int k;

			if (!p)
				_exit(1);
			for (k = 0; k < 64; k++)
				p[k * PAGE] = (char)k;
			madvise(p, 64 * PAGE, MADV_PAGEOUT);
			for (k = 0; k < 64; k++)
				p[k * PAGE]++;
			munmap(p, 64 * PAGE);
		}
	}
	return pid;
}

static void stop(pid_t pid)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

FIXTURE(life) {
	pid_t traffic;
};

FIXTURE_SETUP(life)
{
	if (getuid() != 0)
		SKIP(return, "needs root");
	if (access(ml_ko_path(), R_OK))
		SKIP(return, "no module at %s", ml_ko_path());
	ml_unload_module();
	/* swap on zram0 when the guest has it, so swap paths run too */
	system("[ -e /sys/block/zram0 ] || modprobe zram 2>/dev/null;"
	       " grep -q zram0 /proc/swaps || { echo 32M > /sys/block/zram0/disksize &&"
	       " mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; } 2>/dev/null");
	self->traffic = traffic();
}

FIXTURE_TEARDOWN(life)
{
	stop(self->traffic);
	ml_unload_module();
	system("swapoff /dev/zram0 2>/dev/null; echo 1 > /sys/block/zram0/reset 2>/dev/null");
}

/* An open debugfs file holds the module: unload fails until it closes. */
TEST_F(life, unload_refused_while_files_open)
{
	char path[128], buf[4096];
	int fd, pfd;

	ASSERT_EQ(0, ml_load_module());
	ASSERT_EQ(0, track(self->traffic));
	fd = open(ML_DIR "/faults", O_RDONLY);
	ASSERT_LE(0, fd);
	snprintf(path, sizeof(path), ML_DIR "/pid/%d/vma_faults", self->traffic);
	pfd = open(path, O_RDONLY);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EAGAIN, ml_unload_module());
	close(fd);
	EXPECT_EQ(-EAGAIN, ml_unload_module());
	EXPECT_LT(0, read(pfd, buf, sizeof(buf)));
	close(pfd);
	EXPECT_EQ(0, ml_unload_module());
	EXPECT_EQ(NULL, ml_kernel_problem());
}

/*
 * Short-lived tracked processes whose files are read in a loop while they
 * exit: every read succeeds or fails cleanly (the directory goes away).
 */
TEST_F(life, reads_while_tracked_processes_exit)
{
	static const char *const files[] = { "faults", "vma_faults", "tlb", "swap" };
	char path[128], buf[1 << 16];
	int i, f, reads = 0, gone = 0;

	ASSERT_EQ(0, ml_load_module());
	for (i = 0; i < 30; i++) {
		pid_t c = fork();

		if (c == 0) {
			char *p = anon_pages(256);
			int k;

			for (k = 0; p && k < 256; k++)
				p[k * PAGE] = 1;
			usleep(1000 * (i % 7));
			_exit(0);
		}
		if (track(c))
			continue;	/* already gone */
		for (;;) {
			int ok = 0;

			for (f = 0; f < 4; f++) {
				ssize_t n;

				snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", c, files[f]);
				n = ml_read_file(path, buf, sizeof(buf));
				if (n >= 0) {
					ok++;
					reads++;
				} else {
					EXPECT_TRUE(n == -ENOENT || n == -EIO || n == -ESRCH)
						TH_LOG("%s: %s", path, strerror(-n));
				}
			}
			if (!ok) {
				gone++;
				break;
			}
			waitpid(c, NULL, WNOHANG);
		}
		waitpid(c, NULL, 0);
	}
	TH_LOG("%d reads, %d processes seen gone", reads, gone);
	EXPECT_LT(0, reads);
	EXPECT_EQ(0, ml_unload_module());
	EXPECT_EQ(NULL, ml_kernel_problem());
}

/* 100 load, track, read, reset, unload cycles with traffic running. */
TEST_F_TIMEOUT(life, hundred_cycles_with_traffic, 900)
{
	char buf[1 << 16], path[128];
	int i;

	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, ml_load_module()) TH_LOG("load %d", i);
		ASSERT_EQ(0, track(self->traffic));
		ASSERT_LT(0, ml_read_file(ML_DIR "/faults", buf, sizeof(buf)));
		ASSERT_LT(0, ml_read_file(ML_DIR "/swap", buf, sizeof(buf)));
		snprintf(path, sizeof(path), ML_DIR "/pid/%d/tlb", self->traffic);
		ASSERT_LT(0, ml_read_file(path, buf, sizeof(buf)));
		ASSERT_EQ(0, write_str(ML_DIR "/reset", "1"));
		ASSERT_EQ(0, ml_unload_module()) TH_LOG("unload %d", i);
	}
	EXPECT_EQ(NULL, ml_kernel_problem());
}

TEST_HARNESS_MAIN
