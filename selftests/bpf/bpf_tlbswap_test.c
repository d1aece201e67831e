// SPDX-License-Identifier: GPL-2.0
/*
 * BPF TLB-flush and swap counters (bpf/tlbswap.bpf.c through its loader)
 * against independent sources:
 *  - TLB: a two-thread child unmaps touched memory while its other thread
 *    runs; the per-process counts by reason equal what a private tracefs
 *    instance records for the same threads (tlb:tlb_flush filtered on
 *    their TIDs) over the same window.  Host and both guests.
 *  - Swap (guests, where a zram swap device can be set up): pages pushed
 *    out with MADV_PAGEOUT and touched again: pswpout/pswpin equal the
 *    /proc/vmstat deltas, swapin_major + swapcache_minor of the process
 *    equal the pages read back, and the page-table walk's swap_entries
 *    equal smaps Swap while they are out.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "mlbpf.h"

#define PAGE	4096UL
#define NPAGES	256

struct shared {
	pid_t tid[2];
	volatile int stop, stopped;
	unsigned long region;
};

static int go_fd, done_fd;
static struct shared *sh;

static int start_fd[2];

/*
 * Blocked in read() until the start, not polling: a thread that wakes
 * every millisecond is switched in and out all the time, and each switch
 * can flush (TLB_FLUSH_ON_TASK_SWITCH) in the margins between the BPF
 * reads and tracefs' enable/disable, which see different sides of them.
 * Blocked again after the stop, not exiting: an exiting thread's last
 * switch can flush after exit_mm(), when it has no mm, and the BPF side
 * does not count what a task without an mm does (a kernel thread
 * borrowing one) while tracefs counts it by pid.
 */
static void *spinner(void *arg)
{
	char c;

	sh->tid[1] = syscall(SYS_gettid);
	if (read(start_fd[0], &c, 1) != 1)
		return NULL;
	while (!sh->stop)
		;
	sh->stopped = 1;
	if (read(start_fd[0], &c, 1) != 1)	/* never written: blocks */
		return NULL;
	return NULL;
}

/* Two threads: one spins while the other touches and unmaps memory. */
static void tlb_child(void)
{
	pthread_t th;
	char *p, c;
	long i;

	sh->tid[0] = syscall(SYS_gettid);
	if (pipe(start_fd))
		_exit(2);
	pthread_create(&th, NULL, spinner, NULL);
	while (!sh->tid[1])
		usleep(1000);
	if (write(done_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		_exit(2);
	if (write(start_fd[1], "s", 1) != 1)
		_exit(2);
	p = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < 64; i++)
		p[i * PAGE] = 1;
	munmap(p, 64 * PAGE);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	mprotect(p, PAGE, PROT_READ);
	sh->stop = 1;
	while (!sh->stopped)
		;
	if (write(done_fd, "d", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* Is thread @tid asleep (off CPU, nothing more to trace)? */
static void wait_asleep(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	for (i = 0; i < 500; i++) {
		if (ml_read_file(path, buf, sizeof(buf)) < 0)
			return;
		p = strrchr(buf, ')');
		if (p && (p[2] == 'S' || p[2] == 'Z'))
			break;
		usleep(2000);
	}
	usleep(100 * 1000);	/* and has been switched out */
}

TEST(tlb_per_process_equals_tracefs)
{
	unsigned long long traced[TLB_REASONS] = { 0 };
	struct ml_tlb_trace trace;
	char filter[128], c;
	struct tlb_counts c0, c1;
	struct ml_tlbswap *t;
	int go[2], done[2], r, err;
	pid_t child;

	if (!ml_bpf_privileged())
		SKIP(return, "BPF needs root");
	if (access(ML_TRACEFS "/instances", F_OK))
		mount("nodev", ML_TRACEFS, "tracefs", 0, NULL);
	if (access(ML_TRACEFS "/events/tlb/tlb_flush", F_OK))
		SKIP(return, "no tracefs tlb:tlb_flush to compare with");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		go_fd = go[0];
		done_fd = done[1];
		tlb_child();
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	wait_asleep(child, sh->tid[1]);
	wait_asleep(child, sh->tid[0]);

	snprintf(filter, sizeof(filter), "common_pid == %d || common_pid == %d",
		 sh->tid[0], sh->tid[1]);
	EXPECT_EQ(0, ml_tlb_trace_setup(&trace, filter));
	err = ml_tlbswap_open(&t, child);
	ASSERT_EQ(0, err) TH_LOG("%s", ml_bpf_error());
	ASSERT_TRUE(ml_tlbswap_has_tlb(t));
	ASSERT_EQ(0, ml_tlb_trace_enable(&trace, true));
	ASSERT_EQ(0, ml_tlb_read_tgid(t, &c0));

	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	wait_asleep(child, sh->tid[1]);
	wait_asleep(child, sh->tid[0]);

	ASSERT_EQ(0, ml_tlb_read_tgid(t, &c1));
	ASSERT_EQ(0, ml_tlb_trace_enable(&trace, false));
	ASSERT_EQ(0, ml_tlb_trace_count(&trace, traced, TLB_REASONS));
	ml_tlbswap_close(t);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	for (r = 0; r < TLB_REASONS; r++) {
		TH_LOG("reason %d: BPF +%llu tracefs %llu", r,
		       (unsigned long long)(c1.reason[r] - c0.reason[r]), traced[r]);
		EXPECT_EQ(traced[r], c1.reason[r] - c0.reason[r]);
	}
	/* The munmap and mprotect of touched pages flushed something. */
	EXPECT_LT(0, c1.reason[2] + c1.reason[3] + c1.reason[4] -
		     c0.reason[2] - c0.reason[3] - c0.reason[4]);
}

static long long vmstat(const char *key)
{
	static char buf[16384];
	char pat[64], *p;

	if (ml_read_file("/proc/vmstat", buf, sizeof(buf)) < 0)
		return -1;
	snprintf(pat, sizeof(pat), "\n%s ", key);
	p = strstr(buf, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* A zram swap device, in a guest; false where none can be set up. */
static bool setup_zram_swap(void)
{
	char buf[4096];

	if (ml_read_file("/proc/swaps", buf, sizeof(buf)) > 0 && strchr(buf, '\n') &&
	    strchr(buf, '\n')[1])
		return true;
	if (access("/opt/memlens", F_OK))	/* not in a test guest: leave the host alone */
		return false;
	return !system("modprobe zram 2>/dev/null; echo 64M > /sys/block/zram0/disksize && "
		       "mkswap /dev/zram0 >/dev/null && swapon /dev/zram0");
}

static void swap_child(void)
{
	volatile char *p;
	char c;
	long i;

	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise((void *)p, NPAGES * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < NPAGES; i++)
		p[i * PAGE] = (char)(i % 250 + 1);	/* not zero: really written out */
	if (madvise((void *)p, NPAGES * PAGE, 21 /* MADV_PAGEOUT */))
		_exit(4);
	sh->region = (unsigned long)p;
	if (write(done_fd, "o", 1) != 1 || read(go_fd, &c, 1) != 1)
		_exit(2);
	for (i = 0; i < NPAGES; i++)
		c += p[i * PAGE];
	if (write(done_fd, "i", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

TEST(swap_out_and_in_match_vmstat_and_smaps)
{
	static struct ml_result r;
	long long out0, out1, in0, in1, swap_entries;
	struct swap_counts a0, a1, m0, m1;
	struct ml_tlbswap *t;
	int go[2], done[2];
	char c, spid[16], *p, path[64], rollup[4096];
	char *argv[] = { "memlens", "pagetable", spid, NULL };
	pid_t child;

	if (!ml_bpf_privileged())
		SKIP(return, "BPF needs root");
	if (!setup_zram_swap())
		SKIP(return, "no swap device (the guests set up zram)");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	ASSERT_EQ(0, ml_tlbswap_open(&t, 0)) TH_LOG("%s", ml_bpf_error());
	if (ml_tlbswap_swap_events(t) != (ML_SWAP_IN | ML_SWAP_OUT | ML_SWAP_FAULTS)) {
		TH_LOG("%s", ml_tlbswap_path(t));
		ml_tlbswap_close(t);
		SKIP(return, "swap attach points missing");
	}
	ml_tlbswap_close(t);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		go_fd = go[0];
		done_fd = done[1];
		swap_child();
	}
	ASSERT_EQ(0, ml_tlbswap_open(&t, child)) TH_LOG("%s", ml_bpf_error());
	TH_LOG("%s", ml_tlbswap_path(t));
	out0 = vmstat("pswpout");
	ASSERT_EQ(0, ml_swap_read(t, &a0, &m0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	out1 = vmstat("pswpout");
	ASSERT_EQ(0, ml_swap_read(t, &a1, &m1));
	EXPECT_EQ(out1 - out0, (long long)(a1.swapout - a0.swapout));
	EXPECT_LE(NPAGES, a1.swapout - a0.swapout);
	snprintf(spid, sizeof(spid), "%d", child);
	ASSERT_EQ(0, ml_run(&r, argv));
	p = strstr(r.out, "swap_entries ");
	ASSERT_NE(NULL, p) TH_LOG("%s %s", r.out, r.err);
	swap_entries = strtoll(p + 13, NULL, 10);
	TH_LOG("pswpout +%lld (vmstat) +%llu (BPF), swap_entries %lld", out1 - out0,
	       (unsigned long long)(a1.swapout - a0.swapout), swap_entries);
	EXPECT_EQ(NPAGES, swap_entries);
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", child);
	ASSERT_LT(0, ml_read_file(path, rollup, sizeof(rollup)));
	p = strstr(rollup, "\nSwap:");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(NPAGES * 4, strtoll(p + 6, NULL, 10));

	in0 = vmstat("pswpin");
	ASSERT_EQ(0, ml_swap_read(t, &a0, &m0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	in1 = vmstat("pswpin");
	ASSERT_EQ(0, ml_swap_read(t, &a1, &m1));
	TH_LOG("pswpin +%lld (vmstat) +%llu (BPF); process swapin_major +%llu swapcache_minor +%llu",
	       in1 - in0, (unsigned long long)(a1.swapin - a0.swapin),
	       (unsigned long long)(m1.swapin_major - m0.swapin_major),
	       (unsigned long long)(m1.swapcache_minor - m0.swapcache_minor));
	EXPECT_EQ(in1 - in0, (long long)(a1.swapin - a0.swapin));
	EXPECT_EQ(NPAGES, m1.swapin_major - m0.swapin_major +
			  m1.swapcache_minor - m0.swapcache_minor);
	EXPECT_LE(1, m1.swapin_major - m0.swapin_major);
	ml_tlbswap_close(t);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/*
 * "memlens swap" and "memlens tlb" where an attach point is missing (the
 * host refuses fentry/fexit): the programs that can run still do, stderr
 * names what is missing, and what cannot be counted is left out rather
 * than printed as 0.  Where everything attaches (guests), every line is
 * there.
 */
TEST(missing_attach_points_are_named_and_the_rest_runs)
{
	static struct ml_result r;
	char *swap[] = { "memlens", "swap", "-d", "0.2", NULL };
	char *tlb[] = { "memlens", "tlb", "-d", "0.2", NULL };
	struct ml_tlbswap *t;
	unsigned int ev;

	if (!ml_bpf_privileged())
		SKIP(return, "BPF needs root");
	ASSERT_EQ(0, ml_tlbswap_open(&t, 0)) TH_LOG("%s", ml_bpf_error());
	ev = ml_tlbswap_swap_events(t);
	ml_tlbswap_close(t);

	ASSERT_EQ(0, ml_run(&r, swap));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "swap_total_kb "));
	EXPECT_EQ(!!(ev & ML_SWAP_IN), !!strstr(r.out, "\npswpin "));
	EXPECT_EQ(!!(ev & ML_SWAP_OUT), !!strstr(r.out, "\npswpout "));
	EXPECT_EQ(!!(ev & ML_SWAP_FAULTS), !!strstr(r.out, "\nswapin_major "));
	if (!(ev & ML_SWAP_OUT))
		EXPECT_NE(NULL, strstr(r.err, "__swap_writepage")) TH_LOG("%s", r.err);
	if (!(ev & ML_SWAP_FAULTS))
		EXPECT_NE(NULL, strstr(r.err, "do_swap_page"));
	TH_LOG("swap events available: %#x", ev);

	/* The TLB program attaches everywhere here and counts. */
	ASSERT_EQ(0, ml_run(&r, tlb));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "task_switch ", 12));
	EXPECT_LT(0, strtoll(r.out + 12, NULL, 10));
	EXPECT_NE(NULL, strstr(r.out, "\ncpu0_full_flushes "));
}

TEST_HARNESS_MAIN
