// SPDX-License-Identifier: GPL-2.0
/*
 * Swap and file major faults in memlens.ko's counters, in a guest with
 * the module loaded (suite flag insmod), zram for swap (zram0) and for an
 * ext2 filesystem (zram1).  Nothing else runs in the guest, so the
 * system-wide counters are compared exactly with /proc/vmstat and
 * /proc/meminfo, the per-process ones with /proc/PID/stat and status.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "acct.h"

#define N_PAGES	256
#define FS_DIR	"/tmp/acct_fs"
#define FS_FILE	FS_DIR "/data"

struct shared {
	unsigned long addr;
	int bad;	/* pages whose content did not survive */
};

static struct shared *sh;
static char *area;

static int sh_run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int pid_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), ML_DIR "/pid/%d/%s", pid, name);
	return ml_read_file(path, buf, size) < 0 ? -1 : 0;
}

static int track(pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "%d", pid);
	return write_str(ML_DIR "/track", s);
}

static int64_t vm_swap_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return acct_get(path, "VmSwap");
}

/* Child steps: 0 fill with a pattern, 1 page out, 2 read back and check. */
static void swap_step(int i)
{
	size_t k;

	if (i == 0) {
		area = anon_pages(N_PAGES);
		if (!area)
			_exit(2);
		for (k = 0; k < N_PAGES * PAGE; k += 64)
			area[k] = (char)(k / PAGE + 1 + k % 251);
		sh->addr = (unsigned long)area;
	} else if (i == 1) {
		madvise(area, N_PAGES * PAGE, MADV_PAGEOUT);
	} else {
		for (k = 0; k < N_PAGES * PAGE; k += 64)
			if (area[k] != (char)(k / PAGE + 1 + k % 251))
				sh->bad++;
	}
}

FIXTURE(swap) {
	struct child c;
};

FIXTURE_SETUP(swap)
{
	/* system-wide major faults against vmstat: the latency mode's */
	ASSERT_EQ(0, write_str(ML_DIR "/latency", "1"));
	sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	if (sh_run("[ -e /sys/block/zram0 ] || modprobe zram num_devices=2"))
		SKIP(return, "no zram");
	ASSERT_EQ(0, sh_run("swapoff /dev/zram0 2>/dev/null; echo 1 > /sys/block/zram0/reset &&"
			    " echo 64M > /sys/block/zram0/disksize &&"
			    " mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"));
}

FIXTURE_TEARDOWN(swap)
{
	sh_run("swapoff /dev/zram0; echo 1 > /sys/block/zram0/reset");
	munmap(sh, PAGE);
}

/* swap_total_kb, swap_free_kb and the device line against the kernel's. */
TEST_F(swap, totals_and_device_line_match_proc)
{
	static char s[1 << 16], ps[4096];
	char name[256], type[32], want[512];
	unsigned long size, used;
	int prio;
	char *l;

	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", s, sizeof(s)));
	EXPECT_EQ(acct_get("/proc/meminfo", "SwapTotal"), acct_key(s, "swap_total_kb"));
	EXPECT_EQ(acct_get("/proc/meminfo", "SwapFree"), acct_key(s, "swap_free_kb"));
	ASSERT_LT(0, ml_read_file("/proc/swaps", ps, sizeof(ps)));
	l = strchr(ps, '\n');
	ASSERT_NE(NULL, l);
	ASSERT_EQ(5, sscanf(l + 1, "%255s %31s %lu %lu %d", name, type, &size, &used, &prio));
	EXPECT_STREQ("/dev/zram0", name);
	snprintf(want, sizeof(want), "device %s type %s size_kb %lu used_kb %lu priority %d\n",
		 name, type, size, used, prio);
	EXPECT_NE(NULL, strstr(s, want)) TH_LOG("no '%s' in\n%s", want, s);
}

/*
 * MADV_PAGEOUT of N_PAGES patterned pages, then reading them back: pswpout
 * and pswpin move exactly as /proc/vmstat's, swap_entries equals VmSwap,
 * every page comes back through swapin_major or swapcache_minor, and the
 * major faults equal swapin_major, /proc/PID/stat majflt and vmstat
 * pgmajfault.
 */
TEST_F(swap, pageout_and_swapin_reconcile)
{
	static char g0[1 << 16], g1[1 << 16], p0[4096], p1[4096], f0[1 << 16], f1[1 << 16];
	int64_t out0, in0, maj0, jf0, swapped, back;

	memset(g0, 1, sizeof(g0));
	memset(g1, 1, sizeof(g1));
	memset(f0, 1, sizeof(f0));
	memset(f1, 1, sizeof(f1));
	ASSERT_EQ(0, child_start(&self->c, swap_step));
	ASSERT_EQ(0, track(self->c.pid));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* fill */

	out0 = vmstat("pswpout");
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g0, sizeof(g0)));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* page out */
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g1, sizeof(g1)));
	EXPECT_EQ(vmstat("pswpout") - out0, acct_key(g1, "pswpout") - acct_key(g0, "pswpout"));

	swapped = vm_swap_kb(self->c.pid) / 4;
	ASSERT_LT(N_PAGES / 2, swapped) TH_LOG("only %lld pages swapped", (long long)swapped);
	ASSERT_EQ(0, pid_file(self->c.pid, "swap", p0, sizeof(p0)));
	EXPECT_EQ(swapped, acct_key(p0, "swap_entries"));

	in0 = vmstat("pswpin");
	maj0 = vmstat("pgmajfault");
	jf0 = majflt(self->c.pid);
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g0, sizeof(g0)));
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", f0, sizeof(f0)));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", g1, sizeof(g1)));
	memcpy(f1, g1, sizeof(g1));	/* per-process faults before */
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* read back */
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", g1, sizeof(g1)));
	EXPECT_EQ(vmstat("pgmajfault") - maj0, acct_key(g1, "major") - acct_key(f0, "major"));
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g1, sizeof(g1)));
	EXPECT_EQ(vmstat("pswpin") - in0, acct_key(g1, "pswpin") - acct_key(g0, "pswpin"));

	ASSERT_EQ(0, pid_file(self->c.pid, "swap", p1, sizeof(p1)));
	back = acct_key(p1, "swapin_major") - acct_key(p0, "swapin_major") +
	       acct_key(p1, "swapcache_minor") - acct_key(p0, "swapcache_minor");
	EXPECT_EQ(swapped, back);
	EXPECT_EQ(0, acct_key(p1, "swap_entries"));
	ASSERT_EQ(0, pid_file(self->c.pid, "faults", f0, sizeof(f0)));
	EXPECT_EQ(acct_key(p1, "swapin_major") - acct_key(p0, "swapin_major"),
		  acct_key(f0, "major") - acct_key(f1, "major"));
	EXPECT_EQ(majflt(self->c.pid) - jf0, acct_key(f0, "major") - acct_key(f1, "major"));
	EXPECT_EQ(0, sh->bad);
	TH_LOG("swapped %lld: swapin_major %lld swapcache_minor %lld",
	       (long long)swapped,
	       (long long)(acct_key(p1, "swapin_major") - acct_key(p0, "swapin_major")),
	       (long long)(acct_key(p1, "swapcache_minor") - acct_key(p0, "swapcache_minor")));
	child_stop(&self->c);
}

/* ---- the swap cache: entries shared by two processes ---- */

static int b_pipe[2];
static pid_t b_pid;

static int check_area(void)
{
	size_t k;
	int bad = 0;

	for (k = 0; k < N_PAGES * PAGE; k += 64)
		if (area[k] != (char)(k / PAGE + 1 + k % 251))
			bad++;
	return bad;
}

/*
 * Steps: 0 fill, 1 page out, 2 fork B (which shares the swap entries and
 * waits), 3 read back here, 4 let B read back and wait for it.
 */
static void shared_step(int i)
{
	char x;
	int st;

	if (i < 2) {
		swap_step(i);
	} else if (i == 2) {
		if (pipe(b_pipe))
			_exit(5);
		b_pid = fork();
		if (b_pid == 0) {
			if (read(b_pipe[0], &x, 1) != 1)
				_exit(6);
			_exit(check_area() ? 7 : 0);
		}
	} else if (i == 3) {
		sh->bad += check_area();
	} else {
		if (write(b_pipe[1], "g", 1) != 1 || waitpid(b_pid, &st, 0) != b_pid ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			sh->bad++;
	}
}

/*
 * Swap entries shared by a fork: the first process to fault reads each
 * page into the swap cache (the zram fast path skips the cache only for
 * entries with one user), so A's faults are swapin_major or, for pages
 * read ahead, swapcache_minor, all S of them; B then finds all S in the
 * swap cache: S swapcache_minor, no swapin_major, no read.
 */
TEST_F(swap, shared_entries_come_back_through_the_swap_cache)
{
	static char g0[1 << 16], g1[1 << 16], p0[4096], p1[4096];
	int64_t swapped, in0;

	memset(g0, 1, sizeof(g0));
	memset(g1, 1, sizeof(g1));
	ASSERT_EQ(0, child_start(&self->c, shared_step));
	ASSERT_EQ(0, track(self->c.pid));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* fill */
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* page out */
	swapped = vm_swap_kb(self->c.pid) / 4;
	ASSERT_LT(N_PAGES / 2, swapped);
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* fork B */

	ASSERT_EQ(0, pid_file(self->c.pid, "swap", p0, sizeof(p0)));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* A reads */
	ASSERT_EQ(0, pid_file(self->c.pid, "swap", p1, sizeof(p1)));
	EXPECT_EQ(swapped, acct_key(p1, "swapin_major") - acct_key(p0, "swapin_major") +
		  acct_key(p1, "swapcache_minor") - acct_key(p0, "swapcache_minor"));

	in0 = vmstat("pswpin");
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g0, sizeof(g0)));
	ASSERT_EQ(0, child_cmd(&self->c, 's'));		/* B reads */
	ASSERT_LT(0, ml_read_file(ML_DIR "/swap", g1, sizeof(g1)));
	EXPECT_EQ(swapped, acct_key(g1, "swapcache_minor") - acct_key(g0, "swapcache_minor"));
	EXPECT_EQ(0, acct_key(g1, "swapin_major") - acct_key(g0, "swapin_major"));
	EXPECT_EQ(0, acct_key(g1, "pswpin") - acct_key(g0, "pswpin"));
	EXPECT_EQ(0, vmstat("pswpin") - in0);
	EXPECT_EQ(0, sh->bad);
	TH_LOG("swapped %lld; A: swapin_major %lld swapcache_minor %lld",
	       (long long)swapped,
	       (long long)(acct_key(p1, "swapin_major") - acct_key(p0, "swapin_major")),
	       (long long)(acct_key(p1, "swapcache_minor") - acct_key(p0, "swapcache_minor")));
	child_stop(&self->c);
}

/* ---- file major faults on ext2 on zram1 ---- */

static const char *file_path;

/* Child steps: map the file and read one byte of every page. */
static void file_step(int i)
{
	int fd = open(file_path, O_RDONLY);
	volatile char sum = 0;
	char *p;
	size_t k;

	if (fd < 0)
		_exit(3);
	p = mmap(NULL, N_PAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		_exit(4);
	madvise(p, N_PAGES * PAGE, MADV_RANDOM);	/* no readahead */
	for (k = 0; k < N_PAGES; k++)
		sum += p[k * PAGE];
	munmap(p, N_PAGES * PAGE);
}

static int make_fs(void)
{
	return sh_run("[ -e /sys/block/zram1 ] || exit 1;"
		      " echo 1 > /sys/block/zram1/reset && echo 16M > /sys/block/zram1/disksize &&"
		      " mke2fs -q -b 4096 /dev/zram1 >/dev/null 2>&1 && modprobe ext4 2>/dev/null;"
		      " mkdir -p " FS_DIR " && mount -t ext2 /dev/zram1 " FS_DIR " &&"
		      " dd if=/dev/urandom of=" FS_FILE " bs=4096 count=256 2>/dev/null && sync &&"
		      " echo 3 > /proc/sys/vm/drop_caches");
}

/*
 * The block device itself, filled and with its page cache dropped.  The
 * last close of a block device drops its page cache, so the test keeps
 * bdev_fd open until it is done.
 */
static int bdev_fd = -1;

static int make_bdev(void)
{
	int fd;

	if (sh_run("[ -e /sys/block/zram1 ] || exit 1;"
		   " echo 1 > /sys/block/zram1/reset && echo 16M > /sys/block/zram1/disksize &&"
		   " dd if=/dev/urandom of=/dev/zram1 bs=4096 count=256 2>/dev/null"))
		return -1;
	fd = open("/dev/zram1", O_RDONLY);
	if (fd < 0)
		return -1;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	bdev_fd = fd;
	return 0;
}

/*
 * First pass over the uncached file: one major fault per page (no
 * readahead), as /proc/PID/stat and vmstat pgmajfault count them; second
 * pass, all cached: no major fault, minor as /proc/PID/stat counts.
 */
static void file_major_then_minor(struct __test_metadata *_metadata,
				  struct child *c)
{
	static char f0[1 << 16], f1[1 << 16], g0[1 << 16], g1[1 << 16];
	int64_t s0, j0, m0;

	memset(f0, 1, sizeof(f0));
	memset(f1, 1, sizeof(f1));
	memset(g0, 1, sizeof(g0));
	memset(g1, 1, sizeof(g1));
	ASSERT_EQ(0, child_start(c, file_step));
	ASSERT_EQ(0, track(c->pid));
	ASSERT_EQ(0, child_cmd(c, 'n'));

	m0 = vmstat("pgmajfault");
	j0 = majflt(c->pid);
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", g0, sizeof(g0)));
	ASSERT_EQ(0, pid_file(c->pid, "faults", f0, sizeof(f0)));
	ASSERT_EQ(0, child_cmd(c, 's'));
	ASSERT_EQ(0, pid_file(c->pid, "faults", f1, sizeof(f1)));
	ASSERT_LT(0, ml_read_file(ML_DIR "/faults", g1, sizeof(g1)));
	EXPECT_EQ(N_PAGES, acct_key(f1, "major") - acct_key(f0, "major"));
	EXPECT_EQ(majflt(c->pid) - j0, acct_key(f1, "major") - acct_key(f0, "major"));
	EXPECT_EQ(vmstat("pgmajfault") - m0, acct_key(g1, "major") - acct_key(g0, "major"));

	s0 = minflt(c->pid);
	j0 = majflt(c->pid);
	ASSERT_EQ(0, pid_file(c->pid, "faults", f0, sizeof(f0)));
	ASSERT_EQ(0, child_cmd(c, 's'));
	ASSERT_EQ(0, pid_file(c->pid, "faults", f1, sizeof(f1)));
	EXPECT_EQ(0, acct_key(f1, "major") - acct_key(f0, "major"));
	EXPECT_EQ(majflt(c->pid) - j0, 0);
	EXPECT_LT(0, acct_key(f1, "minor") - acct_key(f0, "minor"));
	EXPECT_EQ(minflt(c->pid) - s0, acct_key(f1, "minor") - acct_key(f0, "minor"));
	child_stop(c);
}

/* A file on ext2 (the ext4 driver) on zram1. */
TEST_F(swap, ext2_file_major_then_minor)
{
	if (make_fs())
		SKIP(return, "cannot mount ext2 on zram1 (the guest's ext4 needs crc32c)");
	file_path = FS_FILE;
	file_major_then_minor(_metadata, &self->c);
	sh_run("umount " FS_DIR "; echo 1 > /sys/block/zram1/reset");
}

/* The block device zram1 mapped directly: its page cache, read by bio. */
TEST_F(swap, bdev_mapping_major_then_minor)
{
	if (make_bdev())
		SKIP(return, "no zram1");
	file_path = "/dev/zram1";
	file_major_then_minor(_metadata, &self->c);
	close(bdev_fd);
	sh_run("echo 1 > /sys/block/zram1/reset");
}

TEST_HARNESS_MAIN
