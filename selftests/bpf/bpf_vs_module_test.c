// SPDX-License-Identifier: GPL-2.0
/*
 * BPF and memlens.ko side by side on one quiescent tracked child, file by
 * file (guests, with the module loaded; the child is stopped whenever it
 * is read, see child_main()):
 *  - pid/PID/pagetable vs "memlens pagetable PID": every line the module
 *    prints, the BPF walk prints identically;
 *  - pid/PID/vmas vs "memlens vmas PID": the same text;
 *  - pid/PID/faults, vma_faults and tlb vs the BPF counters over one
 *    window in which the child touches fresh pages and mprotect()s them:
 *    equal deltas of every counter both have, and the fresh VMA's line.
 */
#include <sys/mman.h>
#include <sys/prctl.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "mlbpf.h"

#define ML_DIR	"/sys/kernel/debug/memlens"
#define PAGE	4096UL
#define MIB	(1UL << 20)
#define NPAGES	500

struct shared {
	unsigned long region;
};

static void layout(void)
{
	volatile char sink;
	char *p;
	int i;

	p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < 64; i += 3)
		p[i * PAGE] = 1;
	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = (char *)(((unsigned long)p + 2 * MIB - 1) & ~(2 * MIB - 1));
	madvise(p, 2 * MIB, MADV_HUGEPAGE);
	p[0] = 1;
	p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(p, 1, 10 * PAGE);
	p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 1, 16 * PAGE);
	mprotect(p + 4 * PAGE, 4 * PAGE, PROT_NONE);
	p = mmap(NULL, 8 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sink = p[0];
	p = mmap(NULL, 1UL << 36, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED) {
		mprotect(p + (1UL << 35), PAGE, PROT_READ | PROT_WRITE);
		p[1UL << 35] = 1;
	}
	(void)sink;
}

/*
 * The child, tracked by both and read by both one after the other: it
 * must not change between the two reads, down to the accessed bit of
 * every PTE (present_young).  So it stops itself (SIGSTOP) wherever the
 * test reads it, and the test reads it only once waitpid() saw it stop.
 *
 * It used to say "ready" through a pipe and then block in read() (and
 * after its work in pause()), and the test read it as soon as the pipe
 * said so, while the child could still be running on its way there: its
 * own accesses are what sets A bits (fork made its copied PTEs old,
 * copy_present_pte()), and its faults count.  (A probe in a 6.1 guest
 * did not catch that path changing the counts, 10 runs of 10; a stopped
 * child takes the question away.)  The walks themselves only read
 * the entries (module/pgwalk.c, bpf/pgwalk.bpf.c); the test's own reads
 * go to debugfs and its own memory, never through the child's page tables.
 *
 * A stopped task runs no user code, so nothing sets an A bit on its PTEs,
 * and nothing clears one while the guest has no memory pressure (reclaim's
 * folio_referenced() is what clears them; migration keeps them since
 * 6.1).  What is left is khugepaged, which collapses a 2 MiB range of a
 * stopped process as readily as of a running one: on the debug kernel
 * (THP "always", walks slow enough to span one of its 10 s scans) the
 * module saw 5 PTEs and BPF one new 2 MiB leaf in their place (leaf_4k
 * 287 -> 282, leaf_2m 1 -> 2, tables_pte 9 -> 8).  So after its layout
 * the child disables THP for its mm (PR_SET_THP_DISABLE: khugepaged skips
 * it; the THP it has stays).  So young is compared exactly.  Faults and
 * flushes are charged to the child only while it is current, which a
 * stopped child is not once it has switched away (wait_stopped() waits
 * for that too).
 */
static void child_main(struct shared *sh)
{
	volatile char *p;
	long i;

	layout();
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	raise(SIGSTOP);
	p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise((void *)p, NPAGES * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < NPAGES; i++)
		p[i * PAGE] = 1;
	mprotect((void *)p, NPAGES * PAGE, PROT_READ);
	sh->region = (unsigned long)p;
	raise(SIGSTOP);
	for (;;)
		pause();
}

/*
 * Wait until @pid stopped itself (child_main()) and is off its CPU: 0, or
 * -1.  waitpid() returns once the stop is notified, just before the child
 * switches away, and that switch is charged to it (task_switch, when the
 * next task has an mm); under TCG its vCPU can stay there for a while.
 * A read of /proc/PID/syscall waits for the switch (task_current_syscall()
 * waits in wait_task_inactive()) and reads only registers.
 */
static int wait_stopped(pid_t pid)
{
	char path[64], buf[256];
	int st;

	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	return ml_read_file(path, buf, sizeof(buf)) > 0 ? 0 : -1;
}

FIXTURE(side) {
	pid_t child;
	struct shared *sh;
	char dir[96];
};

static int track(pid_t pid, bool on)
{
	char buf[32];
	int fd = open(ML_DIR "/track", O_WRONLY), ret;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%s%d", on ? "" : "-", pid);
	ret = write(fd, buf, strlen(buf)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* Both backends in one fault mode: the module's "latency" file, BPF's open. */
FIXTURE_VARIANT(side) {
	bool latency;
};

FIXTURE_VARIANT_ADD(side, counting) { .latency = false };
FIXTURE_VARIANT_ADD(side, latency) { .latency = true };

FIXTURE_SETUP(side)
{
	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (this suite runs with insmod)");
	ASSERT_EQ(0, write_str(ML_DIR "/latency", variant->latency ? "1" : "0"));
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0)
		child_main(self->sh);
	ASSERT_EQ(0, wait_stopped(self->child));
	ASSERT_EQ(0, track(self->child, true));
	snprintf(self->dir, sizeof(self->dir), ML_DIR "/pid/%d", self->child);
}

FIXTURE_TEARDOWN(side)
{
	if (self->child > 0) {
		track(self->child, false);
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
}

static ssize_t read_pid_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return ml_read_file(path, buf, size);
}

static long long key_value(const char *text, const char *key)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "%s ", key);
	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, pat, strlen(pat)))
			return strtoll(p + strlen(pat), NULL, 10);
	return -1;
}

TEST_F(side, pagetable_and_vmas_files_are_equal)
{
	static char mod[65536];
	static struct ml_result r;
	char *line, *save, *want;
	int lines = 0;

	ASSERT_LT(0, read_pid_file(self->dir, "pagetable", mod, sizeof(mod)));
	ASSERT_EQ(0, ml_run_memlens_pid(&r, "pagetable", self->child));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	for (line = strtok_r(mod, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/*
		 * Module only: KSM is a flag of the struct page, which the
		 * BPF walker does not read (pagetable_huge checks it against
		 * /proc/PID/ksm_merging_pages).
		 */
		if (!strncmp(line, "ksm_pages ", 10))
			continue;
		want = malloc(strlen(line) + 3);
		sprintf(want, "\n%s\n", line);
		EXPECT_TRUE(strstr(r.out, want + 1) == r.out || strstr(r.out, want))
			TH_LOG("module '%s' not in BPF output:\n%s", line, r.out);
		free(want);
		lines++;
	}
	EXPECT_LE(17, lines);

	ASSERT_LT(0, read_pid_file(self->dir, "vmas", mod, sizeof(mod)));
	ASSERT_EQ(0, ml_run_memlens_pid(&r, "vmas", self->child));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ(mod, r.out);
}

/* The first three are the latency mode's, the last three the counting mode's. */
static const char *const fault_keys[] = {
	"retry", "retry_returns", "errors", "minor", "major", "user", "kernel",
	"read", "write", "exec", "notpresent", "protection", "populated",
	"not_charged", "mixed",
};

static __u64 fault_field(const struct fault_counts *c, int i)
{
	const __u64 v[] = { c->retry, c->retry_returns, c->errors, c->minor,
			    c->major, c->user, c->kernel, c->read, c->write,
			    c->exec, c->notpresent, c->protection, c->populated,
			    c->not_charged, c->mixed };

	return v[i];
}

#define NR_FAULT_KEYS (sizeof(fault_keys) / sizeof(fault_keys[0]))

static const char *const tlb_keys[] = {
	"task_switch", "remote_shootdown", "local_shootdown",
	"local_mm_shootdown", "remote_send_ipi", "pages_flushed", "full_flushes",
};

static __u64 tlb_field(const struct tlb_counts *c, int i)
{
	return i < 5 ? c->reason[i] : i == 5 ? c->pages_flushed : c->full_flushes;
}

TEST_F(side, fault_and_tlb_deltas_are_equal)
{
	static char m0[16384], m1[16384], t0[4096], t1[4096], vf[16384];
	struct fault_counts c0, c1;
	struct tlb_counts b0, b1;
	struct ml_faults *f;
	struct ml_tlbswap *t;
	unsigned long long s, e, mn, mj, hits = 0;
	char *line;
	size_t i;

	ASSERT_EQ(0, ml_faults_open_mode(&f, self->child, variant->latency ?
					 ML_FAULTS_LATENCY : ML_FAULTS_COUNTING))
		TH_LOG("%s", ml_bpf_error());
	ASSERT_EQ(0, ml_tlbswap_open(&t, self->child)) TH_LOG("%s", ml_bpf_error());
	if (variant->latency)
		ASSERT_TRUE(ml_faults_has_retry(f));	/* fexit in the guests */
	ASSERT_LT(0, read_pid_file(self->dir, "faults", m0, sizeof(m0)));
	ASSERT_LT(0, read_pid_file(self->dir, "tlb", t0, sizeof(t0)));
	ASSERT_EQ(0, ml_faults_read(f, self->child, &c0));
	ASSERT_EQ(0, ml_tlb_read_tgid(t, &b0));

	/* its work, then stopped again: nothing of it before or after */
	ASSERT_EQ(0, kill(self->child, SIGCONT));
	ASSERT_EQ(0, wait_stopped(self->child));

	ASSERT_LT(0, read_pid_file(self->dir, "faults", m1, sizeof(m1)));
	ASSERT_LT(0, read_pid_file(self->dir, "tlb", t1, sizeof(t1)));
	ASSERT_EQ(0, ml_faults_read(f, self->child, &c1));
	ASSERT_EQ(0, ml_tlb_read_tgid(t, &b1));

	EXPECT_EQ(0, strncmp(m1, variant->latency ? "mode latency\n" : "mode counting\n",
			     variant->latency ? 13 : 14));
	for (i = variant->latency ? 0 : 3; i < NR_FAULT_KEYS - (variant->latency ? 3 : 0); i++) {
		long long md = key_value(m1, fault_keys[i]) - key_value(m0, fault_keys[i]);

		TH_LOG("%s: module +%lld BPF +%llu", fault_keys[i], md,
		       (unsigned long long)(fault_field(&c1, i) - fault_field(&c0, i)));
		EXPECT_EQ(md, (long long)(fault_field(&c1, i) - fault_field(&c0, i)));
	}
	EXPECT_LE(NPAGES, c1.minor - c0.minor);
	for (i = 0; i < sizeof(tlb_keys) / sizeof(tlb_keys[0]); i++) {
		long long md = key_value(t1, tlb_keys[i]) - key_value(t0, tlb_keys[i]);

		TH_LOG("%s: module +%lld BPF +%llu", tlb_keys[i], md,
		       (unsigned long long)(tlb_field(&b1, i) - tlb_field(&b0, i)));
		EXPECT_EQ(md, (long long)(tlb_field(&b1, i) - tlb_field(&b0, i)));
	}

	/* The fresh VMA: NPAGES minor faults in both. */
	ASSERT_LT(0, read_pid_file(self->dir, "vma_faults", vf, sizeof(vf)));
	for (line = strchr(vf, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
		if (sscanf(line + 1, "%llx %llx %llu %llu", &s, &e, &mn, &mj) == 4 &&
		    s == self->sh->region) {
			EXPECT_EQ(NPAGES, mn);
			hits++;
		}
	EXPECT_EQ(1, hits) TH_LOG("%s", vf);
	{
		struct ml_vma_faults *v;
		int n = ml_faults_vmas(f, self->child, &v), j;

		hits = 0;
		for (j = 0; j < n; j++)
			if (v[j].start == self->sh->region) {
				EXPECT_EQ(NPAGES, v[j].minor);
				hits++;
			}
		free(v);
		EXPECT_EQ(1, hits);
	}
	ml_tlbswap_close(t);
	ml_faults_close(f);
}

#define BDEV	"/dev/zram1"
#define FPAGES	256

/*
 * A zram disk filled with random data, its page cache dropped: mapped
 * reads of it are I/O (major faults).  The last close of a block device
 * drops its page cache, so the caller keeps the returned fd open.  (No
 * filesystem: the guests' ext4 lacks its crc32c module.)
 */
static int make_bdev(void)
{
	int fd;

	if (system("[ -e /sys/block/zram1 ] || modprobe zram num_devices=2 || exit 1;"
		   " echo 1 > /sys/block/zram1/reset && echo 16M > /sys/block/zram1/disksize &&"
		   " dd if=/dev/urandom of=" BDEV " bs=4096 count=256 2>/dev/null"))
		return -1;
	fd = open(BDEV, O_RDONLY);
	if (fd < 0)
		return -1;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return fd;
}

/*
 * Faults that read the disk (a mapped block device): major faults, and the retries of
 * faults that dropped mmap_lock for the I/O, counted alike by the module,
 * by BPF and in /proc/PID/stat.  The child is stopped at both reads, as
 * in child_main().
 */
TEST(file_major_faults_and_retries_equal)
{
	static char m0[16384], m1[16384];
	unsigned long long min0, maj0, min1, maj1;
	struct fault_counts c0, c1;
	struct ml_faults *f;
	char dir[96];
	int bdev;
	pid_t child;
	size_t i;

	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (this suite runs with insmod)");
	bdev = make_bdev();
	if (bdev < 0)
		SKIP(return, "no zram disk to read from");
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		volatile char *p;
		long sum = 0, k;
		int fd;

		raise(SIGSTOP);
		fd = open(BDEV, O_RDONLY);
		p = mmap(NULL, FPAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(3);
		madvise((void *)p, FPAGES * PAGE, MADV_RANDOM);
		for (k = 0; k < FPAGES; k++)
			sum += p[k * PAGE];
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	ASSERT_EQ(0, wait_stopped(child));
	ASSERT_EQ(0, write_str(ML_DIR "/latency", "1"));	/* retries */
	ASSERT_EQ(0, track(child, true));
	snprintf(dir, sizeof(dir), ML_DIR "/pid/%d", child);
	ASSERT_EQ(0, ml_faults_open_mode(&f, child, ML_FAULTS_LATENCY)) TH_LOG("%s", ml_bpf_error());
	ASSERT_LT(0, read_pid_file(dir, "faults", m0, sizeof(m0)));
	ASSERT_EQ(0, ml_faults_read(f, child, &c0));
	ASSERT_EQ(0, ml_stat_faults(child, &min0, &maj0));
	ASSERT_EQ(0, kill(child, SIGCONT));
	ASSERT_EQ(0, wait_stopped(child));
	ASSERT_LT(0, read_pid_file(dir, "faults", m1, sizeof(m1)));
	ASSERT_EQ(0, ml_faults_read(f, child, &c1));
	ASSERT_EQ(0, ml_stat_faults(child, &min1, &maj1));
	for (i = 0; i < sizeof(fault_keys) / sizeof(fault_keys[0]); i++) {
		long long md = key_value(m1, fault_keys[i]) - key_value(m0, fault_keys[i]);

		TH_LOG("%s: module +%lld BPF +%llu", fault_keys[i], md,
		       (unsigned long long)(fault_field(&c1, i) - fault_field(&c0, i)));
		EXPECT_EQ(md, (long long)(fault_field(&c1, i) - fault_field(&c0, i)));
	}
	TH_LOG("/proc/PID/stat: minflt +%llu majflt +%llu", min1 - min0, maj1 - maj0);
	EXPECT_EQ(maj1 - maj0, c1.major - c0.major);
	EXPECT_EQ(min1 - min0, c1.minor - c0.minor);
	EXPECT_LT(0, c1.major - c0.major);
	ml_faults_close(f);
	track(child, false);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(bdev);
}

TEST_HARNESS_MAIN
