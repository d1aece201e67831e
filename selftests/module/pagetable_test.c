// SPDX-License-Identifier: GPL-2.0
/*
 * pid/PID/pagetable and pid/PID/vmas against the kernel's own accounting,
 * in a guest with memlens.ko loaded (suite flag insmod).
 *
 * A child process builds the mappings below and then waits; the test
 * reads memlens' files about it and compares them with /proc/PID/smaps,
 * status, maps and pagemap, and with exact counts of what the child did:
 *   anon      8 MiB private anonymous, no THP, every 3rd page written
 *   file      a 1 MiB file (tmpfs, and again on ramfs) mapped read-only,
 *             every 8th page of the first half read
 *   shared    4 MiB MAP_SHARED anonymous, all written
 *   thp       a 2 MiB-aligned 2 MiB range with MADV_HUGEPAGE, written
 *   zthp      the same, only read: the huge zero page
 *   swap      2 MiB private anonymous written, then MADV_PAGEOUT (zram)
 *   prot      16 written pages; 4..7 made read-only, 8..11 PROT_NONE
 *   sparse    a 64 GiB PROT_NONE reservation, 3 pages made writable and
 *             written
 *   heap      1 MiB of sbrk() written; 64 KiB of stack written
 *   cow       1 MiB written, then a forked grandchild sharing it
 * Run with 5-level paging (the default) and 4-level (no5lvl).
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"

/* TCG guests on a shared 2-core host are slow: 30 s is too tight. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define ANON_PAGES	2048
#define FILE_PAGES	256
#define SHARED_PAGES	1024
#define SWAP_PAGES	512
#define COW_PAGES	256
#define GIB		(1UL << 30)
#define HUGE		(2UL << 20)

struct regions {
	unsigned long anon, file, rfile, shared, thp, zthp, swap, prot, sparse, heap, cow;
	unsigned long more;		/* 64 pages written on command */
	pid_t grandchild;
};

static void touch(unsigned long addr, unsigned long pages, unsigned long step)
{
	unsigned long i;

	for (i = 0; i < pages; i += step)
		*(volatile char *)(addr + i * PG) = 1;
}

static unsigned long map(unsigned long len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, -1, 0);

	if (p == MAP_FAILED)
		_exit(10);
	return (unsigned long)p;
}

static unsigned long stack_touch(int depth)
{
	volatile char buf[4096];

	buf[0] = depth;
	if (depth > 0)
		return stack_touch(depth - 1) + buf[0];
	return (unsigned long)buf;
}

static void build(struct regions *r)
{
	int rw = PROT_READ | PROT_WRITE, priv = MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned long a, i;
	char page[PG];
	int fd;

	r->anon = map(ANON_PAGES * PG, rw, priv);
	madvise((void *)r->anon, ANON_PAGES * PG, MADV_NOHUGEPAGE);
	touch(r->anon, ANON_PAGES, 3);

	fd = open("/tmp/pt_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(page, 'f', sizeof(page));
	for (i = 0; i < FILE_PAGES; i++)
		if (write(fd, page, PG) != PG)
			_exit(11);
	r->file = (unsigned long)mmap(NULL, FILE_PAGES * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	for (i = 0; i < FILE_PAGES / 2; i += 8)
		(void)*(volatile char *)(r->file + i * PG);

	/* The same on ramfs: a file that is not shmem. */
	fd = open("/tmp/ramfs/pt_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (i = 0; fd >= 0 && i < FILE_PAGES; i++)
		if (write(fd, page, PG) != PG)
			_exit(15);
	r->rfile = (unsigned long)mmap(NULL, FILE_PAGES * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd < 0 || r->rfile == (unsigned long)MAP_FAILED)
		_exit(16);
	close(fd);
	for (i = 0; i < FILE_PAGES / 2; i += 8)
		(void)*(volatile char *)(r->rfile + i * PG);

	r->shared = map(SHARED_PAGES * PG, rw, MAP_SHARED | MAP_ANONYMOUS);
	touch(r->shared, SHARED_PAGES, 1);

	a = map(2 * HUGE, rw, priv);
	r->thp = (a + HUGE - 1) & ~(HUGE - 1);
	madvise((void *)r->thp, HUGE, MADV_HUGEPAGE);
	touch(r->thp, HUGE / PG, 1);

	/* Read, never written: the huge zero page (use_zero_page). */
	a = map(2 * HUGE, rw, priv);
	r->zthp = (a + HUGE - 1) & ~(HUGE - 1);
	madvise((void *)r->zthp, HUGE, MADV_HUGEPAGE);
	(void)*(volatile char *)r->zthp;

	r->swap = map(SWAP_PAGES * PG, rw, priv);
	madvise((void *)r->swap, SWAP_PAGES * PG, MADV_NOHUGEPAGE);
	touch(r->swap, SWAP_PAGES, 1);
	madvise((void *)r->swap, SWAP_PAGES * PG, MADV_PAGEOUT);

	r->prot = map(16 * PG, rw, priv);
	touch(r->prot, 16, 1);
	mprotect((void *)(r->prot + 4 * PG), 4 * PG, PROT_READ);
	mprotect((void *)(r->prot + 8 * PG), 4 * PG, PROT_NONE);

	/* 64 GiB + 1 GiB reserved, the 64 GiB from a 1 GiB boundary used. */
	a = map(65 * GIB, PROT_NONE, priv | MAP_NORESERVE);
	r->sparse = (a + GIB - 1) & ~(GIB - 1);
	for (i = 0; i < 3; i++) {
		unsigned long p = r->sparse + (i == 0 ? 0 : i == 1 ? 17 * GIB : 63 * GIB);

		mprotect((void *)p, PG, rw);
		touch(p, 1, 1);
	}

	r->heap = (unsigned long)sbrk(0);
	if (sbrk(1 << 20) == (void *)-1)
		_exit(12);
	touch(r->heap, 256, 1);
	stack_touch(16);

	r->more = map(64 * PG, rw, priv);
	madvise((void *)r->more, 64 * PG, MADV_NOHUGEPAGE);

	r->cow = map(COW_PAGES * PG, rw, priv);
	madvise((void *)r->cow, COW_PAGES * PG, MADV_NOHUGEPAGE);
	touch(r->cow, COW_PAGES, 1);
	r->grandchild = fork();
	if (r->grandchild == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	stack_touch(16);	/* our stack is ours again, not COW-shared */
}

/* The child: build, report, then obey one-byte commands. */
static void child(int cmd, int resp)
{
	struct regions r;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	build(&r);
	if (write(resp, &r, sizeof(r)) != sizeof(r))
		_exit(13);
	while (read(cmd, &c, 1) == 1) {
		if (c == 'w')		/* write the 64 pages of more */
			touch(r.more, 64, 1);
		else if (c == 'r')	/* make them read-only */
			mprotect((void *)r.more, 64 * PG, PROT_READ);
		else if (c == 'h') {	/* a page above 2^48: 5-level only */
			void *h = mmap((void *)(1UL << 52), PG, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (h != MAP_FAILED)
				touch((unsigned long)h, 1, 1);
		} else if (c == 'g') {	/* a page in a fresh GiB of sparse */
			mprotect((void *)(r.sparse + 5 * GIB), PG, PROT_READ | PROT_WRITE);
			touch(r.sparse + 5 * GIB, 1, 1);
		}
		if (write(resp, &c, 1) != 1)
			_exit(14);
	}
	kill(r.grandchild, SIGKILL);
	_exit(0);
}

static void sh(const char *cmd)
{
	if (system(cmd))
		fprintf(stderr, "# '%s' failed\n", cmd);
}

/* zram swap and THP on madvise, once per guest. */
static void guest_setup(void)
{
	char *swaps = pt_slurp("/proc/swaps");

	if (swaps && !strstr(swaps, "zram")) {
		sh("modprobe zram && echo 256M > /sys/block/zram0/disksize && "
		   "mkswap /dev/zram0 >/dev/null && swapon /dev/zram0");
	}
	free(swaps);
	sh("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled");
	sh("grep -q ' /tmp/ramfs ' /proc/mounts || "
	   "{ mkdir -p /tmp/ramfs && mount -t ramfs ramfs /tmp/ramfs; }");
}

FIXTURE(pt) {
	pid_t pid;
	int cmd, resp;
	struct regions r;
	struct pt_vma v[PT_MAX_VMAS];
	int n, nmaps;
	char *pt;
};

static void load(struct __test_metadata *_metadata, FIXTURE_DATA(pt) *self)
{
	char *hdr = NULL;

	free(self->pt);
	self->pt = pt_slurp_pid(self->pid, ML_DIR "/pid/%d/pagetable");
	ASSERT_NE(NULL, self->pt);
	self->n = pt_read_vmas(self->pid, self->v, PT_MAX_VMAS, &hdr);
	ASSERT_LT(0, self->n);
	ASSERT_NE(NULL, hdr);
	EXPECT_STREQ("start end perms kind resident_kb thp_kb swap_kb pte_tables name", hdr);
	free(hdr);
	ASSERT_EQ(0, pt_add_smaps(self->pid, self->v, self->n, &self->nmaps));
}

static void command(struct __test_metadata *_metadata, FIXTURE_DATA(pt) *self, char c)
{
	char got;

	ASSERT_EQ(1, write(self->cmd, &c, 1));
	ASSERT_EQ(1, read(self->resp, &got, 1));
	ASSERT_EQ(c, got);
}

FIXTURE_SETUP(pt)
{
	int c[2], r[2];

	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (run with the insmod flag)");
	guest_setup();
	ASSERT_EQ(0, pipe(c));
	ASSERT_EQ(0, pipe(r));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		close(c[1]);
		close(r[0]);
		child(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	self->cmd = c[1];
	self->resp = r[0];
	ASSERT_EQ(sizeof(self->r), read(self->resp, &self->r, sizeof(self->r)));
	ASSERT_EQ(0, pt_track(self->pid));
	self->pt = NULL;
	load(_metadata, self);
}

FIXTURE_TEARDOWN(pt)
{
	if (self->pid <= 0)
		return;
	close(self->cmd);
	waitpid(self->pid, NULL, 0);
	free(self->pt);
}

/* Every VMA: same ranges as maps, and Rss/AnonHugePages/Swap as smaps. */
TEST_F(pt, vmas_agree_with_smaps)
{
	long rss = 0;
	int i;

	EXPECT_EQ(self->nmaps, self->n);
	EXPECT_EQ(self->n, pt_key(self->pt, "vmas"));
	for (i = 0; i < self->n; i++) {
		struct pt_vma *v = &self->v[i];

		EXPECT_TRUE(v->in_maps) TH_LOG("%lx-%lx not in smaps", v->start, v->end);
		EXPECT_EQ(v->s_rss, v->rss) TH_LOG("Rss of %lx %s", v->start, v->kind);
		EXPECT_EQ(v->s_ahp, v->thp) TH_LOG("AnonHugePages of %lx", v->start);
		if (pt_is_private_anon(v)) {
			EXPECT_EQ(v->s_swap, v->swap) TH_LOG("Swap of %lx", v->start);
		}
		rss += v->s_rss;
	}
	EXPECT_EQ(rss * 1024, pt_key(self->pt, "resident_bytes"));
	/* Nothing in this workload migrates or leaves other entries. */
	EXPECT_EQ(0, pt_key(self->pt, "migration_entries"));
	EXPECT_EQ(0, pt_key(self->pt, "other_nonpresent"));
	EXPECT_EQ(0, pt_key(self->pt, "leaf_1g"));
}

/* VmPTE counts pud, pmd and pte tables and the deposited PTE tables. */
TEST_F(pt, tables_reconcile_with_vmpte)
{
	long long pud = pt_key(self->pt, "tables_pud");
	long long pmd = pt_key(self->pt, "tables_pmd");
	long long pte = pt_key(self->pt, "tables_pte");
	long long dep = pt_key(self->pt, "tables_pte_deposited");
	long long sum = 0;
	const char *k[] = { "tables_pgd", "tables_p4d", "tables_pud", "tables_pmd",
			    "tables_pte" };
	char *cpu = pt_slurp("/proc/cpuinfo");
	int la57, i;

	ASSERT_NE(NULL, cpu);
	la57 = strstr(cpu, " la57") != NULL;
	free(cpu);
	EXPECT_EQ(la57 ? 5 : 4, pt_key(self->pt, "paging_levels"));
	EXPECT_EQ(1, pt_key(self->pt, "tables_pgd"));
	if (la57) {
		EXPECT_LE(1, pt_key(self->pt, "tables_p4d"));
	} else {
		EXPECT_EQ(0, pt_key(self->pt, "tables_p4d"));
	}
	EXPECT_EQ(pt_status_kb(self->pid, "VmPTE:"), (pud + pmd + pte + dep) * 4);
	for (i = 0; i < 5; i++)
		sum += pt_key(self->pt, k[i]);
	EXPECT_EQ(sum * 4096, pt_key(self->pt, "table_bytes"));
	/* Every VMA's PTE tables are reachable ones (a table may span two). */
	for (i = 0, sum = 0; i < self->n; i++)
		sum += self->v[i].ptes;
	EXPECT_LE(pte, sum);
}

/* Exact counts from the workload, pagemap page by page. */
static void expect_region(struct __test_metadata *_metadata, FIXTURE_DATA(pt) *self,
			  unsigned long addr, const char *kind, long rss_kb,
			  long swap_kb)
{
	struct pt_vma *v = pt_find(self->v, self->n, addr);
	long present, swapped;

	ASSERT_NE(NULL, v) TH_LOG("no VMA at %lx", addr);
	EXPECT_STREQ(kind, v->kind);
	if (rss_kb >= 0) {
		EXPECT_EQ(rss_kb, v->rss) TH_LOG("%s at %lx", kind, addr);
	}
	if (swap_kb >= 0) {
		EXPECT_EQ(swap_kb, v->swap) TH_LOG("%s at %lx", kind, addr);
	}
	ASSERT_EQ(0, pt_pagemap(self->pid, v->start, v->end, &present, &swapped));
	EXPECT_EQ(present * 4, v->rss) TH_LOG("pagemap present, %s", kind);
	EXPECT_EQ(swapped * 4, v->swap) TH_LOG("pagemap swapped, %s", kind);
}

/*
 * With 5-level paging a page above 2^48 (only mapped on request) needs a
 * p4d table of its own and a pud, pmd and pte table below it.
 */
TEST_F(pt, high_page_adds_one_table_per_level)
{
	const char *k[] = { "tables_pgd", "tables_p4d", "tables_pud", "tables_pmd",
			    "tables_pte" };
	long long before[5];
	int i;

	if (pt_key(self->pt, "paging_levels") != 5)
		SKIP(return, "4-level paging: no address above 2^47");
	for (i = 0; i < 5; i++)
		before[i] = pt_key(self->pt, k[i]);
	command(_metadata, self, 'h');
	load(_metadata, self);
	ASSERT_NE(NULL, pt_find(self->v, self->n, 1UL << 52));
	for (i = 0; i < 5; i++) {
		const char *key = k[i];

		EXPECT_EQ(before[i] + (i > 0), pt_key(self->pt, key)) TH_LOG("%s", key);
	}
	EXPECT_EQ(pt_status_kb(self->pid, "VmPTE:"),
		  (pt_key(self->pt, "tables_pud") + pt_key(self->pt, "tables_pmd") +
		   pt_key(self->pt, "tables_pte") +
		   pt_key(self->pt, "tables_pte_deposited")) * 4);
	expect_region(_metadata, self, 1UL << 52, "anon", 4, 0);
}

TEST_F(pt, anon_every_third_page)
{
	expect_region(_metadata, self, self->r.anon, "anon",
		      (ANON_PAGES + 2) / 3 * 4, 0);
}

TEST_F(pt, file_partly_read)
{
	struct pt_vma *v = pt_find(self->v, self->n, self->r.file);

	/* Fault-around maps cached neighbours too: at least what was read. */
	expect_region(_metadata, self, self->r.file, "shmem", -1, 0);
	ASSERT_NE(NULL, v);
	EXPECT_LE(FILE_PAGES / 2 / 8 * 4, v->rss);
	EXPECT_GE(FILE_PAGES * 4, v->rss);
	EXPECT_NE(NULL, strstr(v->name, "/tmp/pt_file"));
	EXPECT_STREQ("r--p", v->perms);
}

TEST_F(pt, file_on_ramfs_partly_read)
{
	struct pt_vma *v = pt_find(self->v, self->n, self->r.rfile);

	expect_region(_metadata, self, self->r.rfile, "file", -1, 0);
	ASSERT_NE(NULL, v);
	EXPECT_LE(FILE_PAGES / 2 / 8 * 4, v->rss);
	EXPECT_GE(FILE_PAGES * 4, v->rss);
	EXPECT_STREQ("/tmp/ramfs/pt_file", v->name);
}

TEST_F(pt, shared_anonymous)
{
	struct pt_vma *v = pt_find(self->v, self->n, self->r.shared);

	expect_region(_metadata, self, self->r.shared, "shmem", SHARED_PAGES * 4, 0);
	ASSERT_NE(NULL, v);
	EXPECT_EQ('s', v->perms[3]);
}

TEST_F(pt, thp_is_leaf_2m)
{
	struct pt_vma *v = pt_find(self->v, self->n, self->r.thp), *z;
	long ahp = 0, present, swapped;
	int i, zero;

	ASSERT_NE(NULL, v);
	if (v->s_ahp == 0)
		SKIP(return, "no huge page could be allocated");
	EXPECT_EQ(2048, v->thp);
	EXPECT_EQ(2048, v->s_ahp);
	EXPECT_EQ(2048, v->rss);
	EXPECT_LE(1, pt_key(self->pt, "leaf_2m"));
	EXPECT_LE(1, pt_key(self->pt, "tables_pte_deposited"));
	for (i = 0; i < self->n; i++)
		ahp += self->v[i].s_ahp;
	EXPECT_EQ(pt_key(self->pt, "anon_thp_bytes") / 1024, ahp);
	/*
	 * No file or shmem THP here: every 2 MiB leaf is anonymous but the
	 * huge zero page's, if mapped (pagemap shows it, smaps Rss does not).
	 */
	z = pt_find(self->v, self->n, self->r.zthp);
	ASSERT_NE(NULL, z);
	ASSERT_EQ(0, pt_pagemap(self->pid, self->r.zthp, self->r.zthp + HUGE,
				&present, &swapped));
	zero = present == HUGE / PG && z->s_rss == 0;
	EXPECT_EQ((pt_key(self->pt, "leaf_2m") - zero) * 2048, ahp);
	expect_region(_metadata, self, self->r.thp, "anon", 2048, 0);
}

/* The huge zero page: a 2 MiB leaf, but neither resident nor a THP. */
TEST_F(pt, huge_zero_page_is_not_resident)
{
	struct pt_vma *v = pt_find(self->v, self->n, self->r.zthp);
	long present, swapped;

	ASSERT_NE(NULL, v);
	ASSERT_EQ(0, pt_pagemap(self->pid, self->r.zthp, self->r.zthp + HUGE,
				&present, &swapped));
	if (present != HUGE / PG)
		SKIP(return, "no huge zero page (use_zero_page off?)");
	EXPECT_EQ(0, v->rss);
	EXPECT_EQ(0, v->thp);
	EXPECT_EQ(v->s_rss, v->rss);
	EXPECT_EQ(v->s_ahp, v->thp);
	EXPECT_LE(2, pt_key(self->pt, "leaf_2m"));	/* thp and zthp */
}

TEST_F(pt, pageout_to_swap)
{
	long present, swapped, total_swapped = 0;
	int i;

	expect_region(_metadata, self, self->r.swap, "anon", -1, -1);
	EXPECT_LT(0, pt_find(self->v, self->n, self->r.swap)->swap);
	for (i = 0; i < self->n; i++) {
		if (!strcmp(self->v[i].kind, "vvar"))
			continue;
		ASSERT_EQ(0, pt_pagemap(self->pid, self->v[i].start, self->v[i].end,
					&present, &swapped));
		total_swapped += swapped;
	}
	EXPECT_EQ(total_swapped, pt_key(self->pt, "swap_entries"));
	EXPECT_EQ(0, pt_key(self->pt, "migration_entries"));
}

TEST_F(pt, mprotect_ranges)
{
	static const char *const perms[] = { "rw-p", "r--p", "---p", "rw-p" };
	int i;

	for (i = 0; i < 4; i++) {
		unsigned long a = self->r.prot + i * 4 * PG;
		struct pt_vma *v = pt_find(self->v, self->n, a);

		ASSERT_NE(NULL, v);
		/* prot and the next range may merge with neighbours: check 4 pages */
		EXPECT_STREQ(perms[i], v->perms);
		expect_region(_metadata, self, a, "anon", -1, 0);
	}
	for (i = 0; i < 4; i++) {
		long present, swapped;

		ASSERT_EQ(0, pt_pagemap(self->pid, self->r.prot + i * 4 * PG,
					self->r.prot + (i + 1) * 4 * PG, &present, &swapped));
		EXPECT_EQ(4, present);	/* PROT_NONE pages stay resident */
	}
}

TEST_F(pt, sparse_64g_reservation)
{
	long long pte0 = pt_key(self->pt, "tables_pte");
	long long pmd0 = pt_key(self->pt, "tables_pmd");
	int i;

	for (i = 0; i < 3; i++) {
		unsigned long a = self->r.sparse + (i == 0 ? 0 : i == 1 ? 17 * GIB : 63 * GIB);

		expect_region(_metadata, self, a, "anon", 4, 0);
	}
	/* One page in a GiB nothing mapped: one more PMD and one more PTE table. */
	command(_metadata, self, 'g');
	load(_metadata, self);
	EXPECT_EQ(pte0 + 1, pt_key(self->pt, "tables_pte"));
	EXPECT_EQ(pmd0 + 1, pt_key(self->pt, "tables_pmd"));
	expect_region(_metadata, self, self->r.sparse + 5 * GIB, "anon", 4, 0);
}

TEST_F(pt, own_heap_and_stack)
{
	struct pt_vma *heap = pt_find(self->v, self->n, self->r.heap);
	int i, stacks = 0;

	ASSERT_NE(NULL, heap);
	EXPECT_STREQ("heap", heap->kind);
	EXPECT_STREQ("[heap]", heap->name);
	EXPECT_LE(256 * 4, heap->rss);
	for (i = 0; i < self->n; i++) {
		if (strcmp(self->v[i].kind, "stack"))
			continue;
		stacks++;
		EXPECT_STREQ("[stack]", self->v[i].name);
		EXPECT_LE(16 * 4, self->v[i].rss);
		EXPECT_EQ(self->v[i].s_rss, self->v[i].rss);
	}
	EXPECT_EQ(1, stacks);
	EXPECT_EQ(heap->s_rss, heap->rss);
}

/* Writing 64 pages adds 64 present, dirty, young, writable leaves. */
TEST_F(pt, leaf_bits_follow_writes_and_mprotect)
{
	const char *k[] = { "leaf_4k", "present_dirty", "present_young",
			    "present_writable" };
	long long before[4];
	long present, swapped;
	int i;

	command(_metadata, self, 'n');	/* the command loop's own COW breaks */
	load(_metadata, self);
	ASSERT_EQ(0, pt_pagemap(self->pid, self->r.more, self->r.more + 64 * PG,
				&present, &swapped));
	EXPECT_EQ(0, present);
	for (i = 0; i < 4; i++)
		before[i] = pt_key(self->pt, k[i]);
	command(_metadata, self, 'w');
	load(_metadata, self);
	for (i = 0; i < 4; i++) {
		const char *key = k[i];

		EXPECT_EQ(before[i] + 64, pt_key(self->pt, key)) TH_LOG("%s", key);
	}
	ASSERT_EQ(0, pt_pagemap(self->pid, self->r.more, self->r.more + 64 * PG,
				&present, &swapped));
	EXPECT_EQ(64, present);
	command(_metadata, self, 'r');
	load(_metadata, self);
	EXPECT_EQ(before[0] + 64, pt_key(self->pt, "leaf_4k"));
	EXPECT_EQ(before[1] + 64, pt_key(self->pt, "present_dirty"));
	EXPECT_EQ(before[3], pt_key(self->pt, "present_writable"));
}

/* Parent and forked child share the COW pages, write-protected in both. */
TEST_F(pt, cow_child)
{
	pid_t g = self->r.grandchild;
	struct pt_vma v[PT_MAX_VMAS], *c, *p;
	char *gpt;
	int n, nmaps, i;

	ASSERT_EQ(0, pt_track(g));
	n = pt_read_vmas(g, v, PT_MAX_VMAS, NULL);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, pt_add_smaps(g, v, n, &nmaps));
	EXPECT_EQ(nmaps, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(v[i].s_rss, v[i].rss) TH_LOG("grandchild %lx", v[i].start);
	c = pt_find(v, n, self->r.cow);
	p = pt_find(self->v, self->n, self->r.cow);
	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(COW_PAGES * 4, c->rss);
	EXPECT_EQ(COW_PAGES * 4, p->rss);
	gpt = pt_slurp_pid(g, ML_DIR "/pid/%d/pagetable");
	ASSERT_NE(NULL, gpt);
	EXPECT_GE(pt_key(gpt, "leaf_4k") - COW_PAGES, pt_key(gpt, "present_writable"));
	EXPECT_GE(pt_key(self->pt, "leaf_4k") - COW_PAGES,
		  pt_key(self->pt, "present_writable"));
	free(gpt);
	EXPECT_EQ(0, pt_untrack(g));
}

/* vmas output larger than its first buffer: every VMA still listed. */
/*
 * 6000 VMAs, each Rss as smaps says.  The child is stopped while it is
 * read (it used to write to a pipe and call pause(), and be read as soon
 * as the pipe said so, maybe still running on its way into pause()):
 * what it does between the module's walk and smaps' would count in one
 * of them only.  On the debug kernel this test took 55 s of its 120 s in
 * a loaded run; its limit is scaled there (ML_SLOWDOWN, ml_test.h).
 */
TEST(many_vmas)
{
	int n, nmaps, i, bad = 0, st;
	static struct pt_vma v[8192];
	pid_t pid;

	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (run with the insmod flag)");
	pid = fork();
	if (pid == 0) {
		char *m = mmap(NULL, 6000 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		for (i = 0; i < 6000; i += 2) {
			m[i * PG] = 1;
			mprotect(m + i * PG, PG, PROT_READ);
		}
		raise(SIGSTOP);
		_exit(0);
	}
	ASSERT_LE(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_EQ(0, pt_track(pid));
	n = pt_read_vmas(pid, v, 8192, NULL);
	ASSERT_LT(6000, n);
	ASSERT_EQ(0, pt_add_smaps(pid, v, n, &nmaps));
	EXPECT_EQ(nmaps, n);
	for (i = 0; i < n; i++)
		bad += !v[i].in_maps || v[i].s_rss != v[i].rss;
	EXPECT_EQ(0, bad);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST_HARNESS_MAIN
