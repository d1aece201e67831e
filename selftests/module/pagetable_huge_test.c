// SPDX-License-Identifier: GPL-2.0
/*
 * pid/PID/pagetable on what the mm selftests exercise and pagetable_test
 * does not: hugetlb pages, KSM-merged pages and pages being migrated.
 * In a guest with memlens.ko loaded, two NUMA nodes and one 1 GiB hugetlb
 * page reserved at boot (suite pagetable_huge: mem=6144, numa=2,
 * hugepagesz=1G hugepages=1).  Each case forks a child that builds its
 * mappings and stops itself (SIGSTOP, as in bpf_vs_module_test.c) where
 * it is read, except the migrating one, which is read while it moves:
 *
 *   hugetlb_2m      private MAP_HUGETLB, 5 of 8 pages touched: leaf_2m
 *                   and hugetlb_bytes exact, equal to smaps' Private_Hugetlb
 *                   and to what the pool's free_hugepages lost; the BPF
 *                   walker (memlens pagetable) agrees
 *   hugetlb_shared  a hugetlbfs file mapped MAP_SHARED in a child and its
 *                   own child: smaps' Shared_Hugetlb in both
 *   hugetlb_1g      one 1 GiB page: leaf_1g and hugetlb_bytes
 *   ksm             64 pages of one content and 16 unique pages,
 *                   MADV_MERGEABLE, merged by ksmd: ksm_pages is exactly 64
 *                   and equals /proc/PID/ksm_merging_pages
 *   migration       128 pages moved between the two nodes by move_pages()
 *                   in a loop: at every read migration_entries <= 128 and
 *                   leaf_4k + migration_entries is the stopped count, or
 *                   one less (try_to_migrate_one() clears a pte and then
 *                   writes the migration entry, both under the pte lock,
 *                   which the walk does not take); migration entries are
 *                   seen (at least one read of up to 4000), and vmstat's
 *                   pgmigrate_success grows
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"
#include "acct.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 180

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define MB		(1UL << 20)
#define GB		(1UL << 30)
#define HP_2M		"/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define HP_1G		"/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#define KSM		"/sys/kernel/mm/ksm/"
#define HUGE_DIR	"/tmp/pagetable_huge"
#define KSM_SAME	64
#define KSM_UNIQUE	16
#define MIG_PAGES	128
#define MIG_READS	4000

/* A number from a sysfs or procfs file, or -1. */
static long long file_num(const char *path)
{
	char buf[64];

	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

static long long pid_num(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return file_num(path);
}

/* Sum of an smaps field ("Private_Hugetlb:") over every VMA, in kB. */
static long long smaps_sum_kb(pid_t pid, const char *field)
{
	char *s = pt_slurp_pid(pid, "/proc/%d/smaps"), *p;
	long long kb = 0;

	if (!s)
		return -1;
	for (p = s; (p = strstr(p, field)); p += strlen(field))
		kb += strtoll(p + strlen(field), NULL, 10);
	free(s);
	return kb;
}

/* Fork a child running fn(arg); it stops itself when ready: its PID. */
static pid_t start_child(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg);
		_exit(1);
	}
	if (pid < 0 || waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
		return -1;
	return pid;
}

static void end_child(pid_t pid)
{
	pt_untrack(pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The child's pagetable text, tracked first (malloc'd). */
static char *pagetable_of(pid_t pid)
{
	return pt_slurp_pid(pid, ML_DIR "/pid/%d/pagetable");
}

static void stop_forever(void)
{
	raise(SIGSTOP);
	for (;;)
		pause();
}

static void touch_pages(char *p, unsigned long len, unsigned long step)
{
	unsigned long i;

	for (i = 0; i < len; i += step)
		p[i] = 1;
}

struct huge_args {
	unsigned long len, touch, step;
	int flags;
	const char *file;	/* a hugetlbfs file to map MAP_SHARED instead */
	bool fork_too;		/* and a child of the child maps it too */
};

/*
 * Map and touch hugetlb memory (PR_SET_THP_DISABLE: no THP pmd leaf of
 * its own beside it), then stop.
 */
static void huge_child(void *arg)
{
	struct huge_args *a = arg;
	int fd = -1, flags = a->flags;
	char *p;

	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	if (a->file) {
		fd = open(a->file, O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			_exit(2);
		flags = MAP_SHARED;
	}
	p = mmap(NULL, a->len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		_exit(3);
	touch_pages(p, a->touch, a->step);
	if (a->fork_too) {
		pid_t gc = fork();
		int st;

		if (gc == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			touch_pages(p, a->touch, a->step);
			stop_forever();
		}
		/* stop only once the grandchild has */
		if (gc < 0 || waitpid(gc, &st, WUNTRACED) != gc)
			_exit(4);
	}
	stop_forever();
}

/*
 * The one child of @parent, from the PPid field of every /proc/PID/stat
 * (/proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, which the
 * debug kernel does not have), or -1.
 */
static pid_t child_of(pid_t parent)
{
	struct dirent *e;
	pid_t found = -1;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d))) {
		char path[300], buf[512], *p;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (ml_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* hugetlb_bytes, leaf counts and smaps of a stopped child. */
static void check_hugetlb(struct __test_metadata *_metadata, pid_t pid,
			  long long bytes, long long leaves_2m, long long leaves_1g,
			  const char *smaps_field)
{
	static struct ml_result r;
	char *pt;

	ASSERT_EQ(0, pt_track(pid));
	pt = pagetable_of(pid);
	ASSERT_NE(NULL, pt);
	EXPECT_EQ(bytes, pt_key(pt, "hugetlb_bytes")) TH_LOG("%s", pt);
	EXPECT_EQ(leaves_2m, pt_key(pt, "leaf_2m"));
	EXPECT_EQ(leaves_1g, pt_key(pt, "leaf_1g"));
	EXPECT_EQ(0, pt_key(pt, "anon_thp_bytes"));
	/* the sum of both, as docs/debugfs.md says; the field named, if any */
	EXPECT_EQ(bytes / 1024, smaps_sum_kb(pid, "Private_Hugetlb:") +
				smaps_sum_kb(pid, "Shared_Hugetlb:"))
		TH_LOG("smaps: Private_Hugetlb %lld kB, Shared_Hugetlb %lld kB",
		       smaps_sum_kb(pid, "Private_Hugetlb:"),
		       smaps_sum_kb(pid, "Shared_Hugetlb:"));
	if (smaps_field)
		EXPECT_EQ(bytes / 1024, smaps_sum_kb(pid, smaps_field));
	/* hugetlb is not Rss: resident_bytes is the sum of smaps' Rss still */
	EXPECT_EQ(smaps_sum_kb(pid, "\nRss:") * 1024, pt_key(pt, "resident_bytes"));
	/* the second backend */
	ASSERT_EQ(0, ml_run_memlens_pid(&r, "pagetable", pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(bytes, pt_key(r.out, "hugetlb_bytes")) TH_LOG("%s", r.out);
	EXPECT_EQ(leaves_2m, pt_key(r.out, "leaf_2m"));
	EXPECT_EQ(leaves_1g, pt_key(r.out, "leaf_1g"));
	free(pt);
}

FIXTURE(huge) {
	long long nr_2m;
};

FIXTURE_SETUP(huge)
{
	char n[24];

	ASSERT_EQ(0, access(ML_DIR "/track", W_OK)) TH_LOG("memlens.ko not loaded");
	self->nr_2m = file_num(HP_2M "nr_hugepages");
	ASSERT_LE(0, self->nr_2m);
	snprintf(n, sizeof(n), "%lld", self->nr_2m + 16);
	ASSERT_EQ(0, write_str(HP_2M "nr_hugepages", n));
	ASSERT_LE(self->nr_2m + 8, file_num(HP_2M "free_hugepages"));
}

FIXTURE_TEARDOWN(huge)
{
	char n[24];

	snprintf(n, sizeof(n), "%lld", self->nr_2m);
	write_str(HP_2M "nr_hugepages", n);
}

TEST_F(huge, hugetlb_2m)
{
	struct huge_args a = {
		.len = 8 * 2 * MB, .touch = 5 * 2 * MB, .step = 2 * MB,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
	};
	long long free0 = file_num(HP_2M "free_hugepages");
	pid_t pid = start_child(huge_child, &a);

	ASSERT_LT(0, pid);
	/* 5 faulted, of 8 reserved: free_hugepages counts reserved ones */
	EXPECT_EQ(5, free0 - file_num(HP_2M "free_hugepages"));
	check_hugetlb(_metadata, pid, 5 * 2 * MB, 5, 0, "Private_Hugetlb:");
	EXPECT_EQ(0, smaps_sum_kb(pid, "Shared_Hugetlb:"));
	end_child(pid);
}

TEST_F(huge, hugetlb_shared)
{
	struct huge_args a = {
		.len = 4 * 2 * MB, .touch = 3 * 2 * MB, .step = 2 * MB,
		.file = HUGE_DIR "/shared", .fork_too = true,
	};
	pid_t pid, grandchild;

	mkdir(HUGE_DIR, 0755);
	if (mount("none", HUGE_DIR, "hugetlbfs", 0, NULL) && errno != EBUSY)
		ASSERT_EQ(0, -errno);
	unlink(a.file);
	pid = start_child(huge_child, &a);
	ASSERT_LT(0, pid);
	/*
	 * Its own child (stopped before it) maps the same pages: each is
	 * mapped twice, so smaps calls it shared.
	 */
	grandchild = child_of(pid);
	ASSERT_LT(0, grandchild);
	check_hugetlb(_metadata, pid, 3 * 2 * MB, 3, 0, "Shared_Hugetlb:");
	check_hugetlb(_metadata, grandchild, 3 * 2 * MB, 3, 0, "Shared_Hugetlb:");
	EXPECT_EQ(0, smaps_sum_kb(pid, "Private_Hugetlb:"));
	pt_untrack(grandchild);
	kill(grandchild, SIGKILL);
	end_child(pid);
	unlink(a.file);
	umount(HUGE_DIR);
}

TEST_F(huge, hugetlb_1g)
{
	struct huge_args a = {
		.len = GB, .touch = 1, .step = 1,
		.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			 (30 << MAP_HUGE_SHIFT),
	};
	long long free0 = file_num(HP_1G "free_hugepages");
	pid_t pid;

	if (free0 < 1)
		SKIP(return, "no free 1 GiB hugetlb page (boot with hugepagesz=1G hugepages=1)");
	pid = start_child(huge_child, &a);
	ASSERT_LT(0, pid);
	EXPECT_EQ(1, free0 - file_num(HP_1G "free_hugepages"));
	/*
	 * Only the sum: 6.1 and 6.12 count this private 1 GiB page in
	 * Private_Hugetlb, 7.3 in Shared_Hugetlb (seen: Private_Hugetlb 0,
	 * the sum 1 GiB).
	 */
	check_hugetlb(_metadata, pid, GB, 0, 1, NULL);
	end_child(pid);
}

/* KSM_SAME pages alike, KSM_UNIQUE pages each its own, all mergeable. */
static void ksm_child(void *arg)
{
	unsigned long n = KSM_SAME + KSM_UNIQUE, i;
	char *p;

	(void)arg;
	p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	madvise(p, n * PG, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++) {
		memset(p + i * PG, 0x5a, PG);
		if (i >= KSM_SAME)
			snprintf(p + i * PG, 32, "unique page %lu", i);
	}
	if (madvise(p, n * PG, MADV_MERGEABLE))
		_exit(3);
	stop_forever();
}

struct ksm_knobs {
	char run[16], scan[16], sleep[16];
};

static void ksm_save(struct ksm_knobs *k)
{
	ml_read_file(KSM "run", k->run, sizeof(k->run));
	ml_read_file(KSM "pages_to_scan", k->scan, sizeof(k->scan));
	ml_read_file(KSM "sleep_millisecs", k->sleep, sizeof(k->sleep));
}

static void ksm_restore(struct ksm_knobs *k)
{
	write_str(KSM "run", "2");	/* unmerge what is left */
	write_str(KSM "run", k->run);
	write_str(KSM "pages_to_scan", k->scan);
	write_str(KSM "sleep_millisecs", k->sleep);
}

TEST(ksm)
{
	struct ksm_knobs k;
	long long merged = -1;
	pid_t pid;
	char *pt;
	int i;

	ASSERT_EQ(0, access(ML_DIR "/track", W_OK)) TH_LOG("memlens.ko not loaded");
	if (access(KSM "run", W_OK))
		SKIP(return, "no KSM in this kernel");
	ksm_save(&k);
	pid = start_child(ksm_child, NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, pt_track(pid));
	ASSERT_EQ(0, write_str(KSM "pages_to_scan", "1000"));
	ASSERT_EQ(0, write_str(KSM "sleep_millisecs", "10"));
	ASSERT_EQ(0, write_str(KSM "run", "1"));
	/* ksmd merges on its second scan of a page (unstable, then stable tree) */
	for (i = 0; i < 6000 && merged != KSM_SAME; i++) {
		usleep(10000);
		merged = pid_num(pid, "ksm_merging_pages");
	}
	ASSERT_EQ(KSM_SAME, merged) TH_LOG("ksmd merged %lld of %d", merged, KSM_SAME);
	pt = pagetable_of(pid);
	ASSERT_NE(NULL, pt);
	EXPECT_EQ(KSM_SAME, pt_key(pt, "ksm_pages")) TH_LOG("%s", pt);
	EXPECT_EQ(pid_num(pid, "ksm_merging_pages"), pt_key(pt, "ksm_pages"));
	free(pt);
	end_child(pid);
	ksm_restore(&k);
}

/* The migrating child: its pages, and flags to start the mover. */
struct mig {
	char *pages;
	volatile int ready, go;
	volatile unsigned long calls, moved;
};

/* Move every page to @node: how many are there after, or -1. */
static int move_all(struct mig *m, int node)
{
	void *addr[MIG_PAGES];
	int nodes[MIG_PAGES], status[MIG_PAGES], i, moved = 0;

	for (i = 0; i < MIG_PAGES; i++) {
		addr[i] = m->pages + i * PG;
		nodes[i] = node;
	}
	if (syscall(SYS_move_pages, 0, MIG_PAGES, addr, nodes, status,
		    MPOL_MF_MOVE))
		return -1;
	for (i = 0; i < MIG_PAGES; i++)
		moved += status[i] == node;
	return moved;
}

/*
 * One round first, before the child stops: the code and stack it runs on
 * are faulted in then, so that the stopped count is the moving one.
 */
static void *mover(void *arg)
{
	struct mig *m = arg;
	int round, n;

	move_all(m, 1);
	m->ready = 1;
	while (!m->go)
		usleep(1000);
	for (round = 0;; round++) {
		n = move_all(m, round & 1);
		if (n < 0)
			continue;
		m->calls++;
		m->moved += n;
	}
	return NULL;
}

/*
 * MIG_PAGES pages in one PTE table (a 2 MiB-aligned range), touched; the
 * mover thread is made, and its stack touched, before the child stops,
 * so the stopped count is the count while it moves.
 */
static void mig_child(void *arg)
{
	struct mig *m = arg;
	pthread_t t;
	char *p;

	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	p = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	m->pages = (char *)(((unsigned long)p + 2 * MB - 1) & ~(2 * MB - 1));
	touch_pages(m->pages, MIG_PAGES * PG, PG);
	if (pthread_create(&t, NULL, mover, m))
		_exit(3);
	while (!m->ready)
		usleep(1000);
	usleep(100000);		/* the mover is in its wait loop */
	stop_forever();
}

TEST(migration)
{
	struct mig *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long leaf0, mig, leaf, seen = 0, most = 0, pgm0;
	const char *problem;
	pid_t pid;
	char *pt;
	int i;

	ASSERT_EQ(0, access(ML_DIR "/track", W_OK)) TH_LOG("memlens.ko not loaded");
	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node: needs a guest with two (vm/run --numa 2)");
	ASSERT_NE(MAP_FAILED, m);
	memset(m, 0, sizeof(*m));
	pid = start_child(mig_child, m);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, pt_track(pid));
	pt = pagetable_of(pid);
	ASSERT_NE(NULL, pt);
	leaf0 = pt_key(pt, "leaf_4k");
	EXPECT_EQ(0, pt_key(pt, "migration_entries"));
	free(pt);
	pgm0 = vmstat("pgmigrate_success");
	m->go = 1;
	kill(pid, SIGCONT);
	while (!m->calls)
		usleep(1000);
	for (i = 0; i < MIG_READS && seen < 20; i++) {
		pt = pagetable_of(pid);
		ASSERT_NE(NULL, pt);
		mig = pt_key(pt, "migration_entries");
		leaf = pt_key(pt, "leaf_4k");
		free(pt);
		ASSERT_LE(0, mig);
		ASSERT_GE(MIG_PAGES, mig);
		ASSERT_LE(leaf0 - 1, leaf + mig) TH_LOG("read %d: leaf_4k %lld + migration %lld, stopped %lld", i, leaf, mig, leaf0);
		ASSERT_GE(leaf0, leaf + mig) TH_LOG("read %d: leaf_4k %lld + migration %lld, stopped %lld", i, leaf, mig, leaf0);
		seen += mig > 0;
		if (mig > most)
			most = mig;
	}
	ksft_print_msg("%d reads, %lld with migration entries (most %lld of %d); %lu move_pages() calls moved %lu pages\n",
		       i, seen, most, MIG_PAGES, m->calls, m->moved);
	EXPECT_LT(0, seen);
	EXPECT_LT(0, m->moved);
	EXPECT_LT(pgm0, vmstat("pgmigrate_success"));
	end_child(pid);
	problem = ml_kernel_problem();
	EXPECT_EQ(NULL, problem) TH_LOG("kernel log: %s", problem);
	munmap(m, sizeof(*m));
}

TEST_HARNESS_MAIN
