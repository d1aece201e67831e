// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF page-table walk ("memlens vmas PID", "memlens pagetable PID")
 * against the kernel's own accounting of a quiescent child with a known
 * layout: per VMA, resident_kb == smaps Rss, thp_kb == AnonHugePages,
 * swap_kb == Swap, and the names of /proc/PID/maps; in total,
 * resident_bytes == smaps_rollup Rss, table pages == VmPTE (which counts
 * PUD, PMD and PTE tables and the PTE tables deposited behind anonymous
 * huge PMDs, not the PGD nor P4D tables), and page by page the present
 * pages of /proc/PID/pagemap.  Runs on the host (4-level) and in both
 * guests (5-level, and 4-level with no5lvl).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "mlbpf.h"

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define GIB		(1UL << 30)

/* Regions of the child whose page-by-page state the test knows. */
struct layout {
	char *every3;		/* 64 anon pages, every 3rd written */
	char *file;		/* 32-page file, read-only, every 4th read */
	char *shared;		/* 16 MAP_SHARED anon pages, 10 written */
	char *thp;		/* 2 MiB aligned, MADV_HUGEPAGE, touched */
	char *prot;		/* 16 pages, all written, then mprotect()ed */
	char *sparse;		/* 64 GiB PROT_NONE, 3 pages made RW and written */
	char *zero;		/* 8 anon pages only read: the zero page */
	int thp_ok;
};

static void build_layout(struct layout *l, const char *path)
{
	char buf[PAGE];
	volatile char sink;
	char *p;
	int fd, i;

	l->every3 = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(l->every3, 64 * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < 64; i += 3)
		l->every3[i * PAGE] = 1;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(buf, 'f', sizeof(buf));
	for (i = 0; i < 32; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			_exit(3);
	l->file = mmap(NULL, 32 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	madvise(l->file, 32 * PAGE, MADV_RANDOM);	/* no fault-around */
	for (i = 0; i < 32; i += 4)
		sink = l->file[i * PAGE];

	l->shared = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < 10; i++)
		l->shared[i * PAGE] = 1;

	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l->thp = (char *)(((unsigned long)p + 2 * MIB - 1) & ~(2 * MIB - 1));
	l->thp_ok = !madvise(l->thp, 2 * MIB, MADV_HUGEPAGE);
	l->thp[0] = 1;

	l->prot = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(l->prot, 1, 16 * PAGE);
	mprotect(l->prot + 4 * PAGE, 4 * PAGE, PROT_READ);
	mprotect(l->prot + 8 * PAGE, 4 * PAGE, PROT_NONE);

	l->sparse = mmap(NULL, 64 * GIB, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (l->sparse != MAP_FAILED) {
		for (i = 0; i < 3; i++) {
			p = l->sparse + i * 21 * GIB + i * 5 * PAGE;
			mprotect(p, PAGE, PROT_READ | PROT_WRITE);
			*p = 1;
		}
	}

	l->zero = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(l->zero, 8 * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < 8; i++)
		sink = l->zero[i * PAGE];
	(void)sink;
}

FIXTURE(pgwalk) {
	pid_t child;
	struct layout *l;	/* shared with the child */
	char path[64];
};

FIXTURE_SETUP(pgwalk)
{
	int ready[2];
	char c;

	self->l = mmap(NULL, sizeof(*self->l), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->l);
	snprintf(self->path, sizeof(self->path), "/tmp/ml_pgwalk.%d", getpid());
	ASSERT_EQ(0, pipe(ready));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(ready[0]);
		build_layout(self->l, self->path);
		ml_ready_then_pause(ready[1], 2);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	if (geteuid())
		SKIP(return, "BPF needs root");
}

FIXTURE_TEARDOWN(pgwalk)
{
	kill(self->child, SIGKILL);
	waitpid(self->child, NULL, 0);
	unlink(self->path);
}

struct smaps_vma {
	unsigned long long start, end;
	long rss, thp, swap;
	char name[512];
};

/* Parse /proc/PID/smaps into @v (at most @max); returns the count. */
static int read_smaps(pid_t pid, struct smaps_vma *v, int max)
{
	char path[64], line[1024];
	int n = -1, at, skip = 0;
	long kb;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;

		at = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &at) >= 2 && at) {
			/* [vsyscall] is no VMA of the mm: skip it and its lines. */
			skip = lo >= 0xffffffffff600000ULL;
			if (skip)
				continue;
			if (++n >= max)
				break;
			memset(&v[n], 0, sizeof(v[n]));
			v[n].start = lo;
			v[n].end = hi;
			line[strcspn(line, "\n")] = '\0';
			snprintf(v[n].name, sizeof(v[n].name), "%s", line + at);
		} else if (!skip && n >= 0 && n < max) {
			if (sscanf(line, "Rss: %ld kB", &kb) == 1)
				v[n].rss = kb;
			else if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
				v[n].thp = kb;
			else if (sscanf(line, "Swap: %ld kB", &kb) == 1)
				v[n].swap = kb;
		}
	}
	fclose(f);
	return n + 1 < max ? n + 1 : max;
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], buf[8192], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, key);
	return p ? strtol(p + strlen(key) + 1, NULL, 10) : -1;
}

static long long key_value(const char *out, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", key);
	if (!strncmp(out, pat + 1, strlen(pat) - 1))
		return strtoll(out + strlen(pat) - 1, NULL, 10);
	p = strstr(out, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* Present pages of [p, p + len) in the child per /proc/PID/pagemap. */
static long pagemap_present(pid_t pid, void *p, unsigned long len)
{
	unsigned long long e;
	char path[64];
	long n = 0;
	unsigned long a;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (a = (unsigned long)p; a < (unsigned long)p + len; a += PAGE)
		if (pread(fd, &e, 8, a / PAGE * 8) == 8 && (e >> 63))
			n++;
	close(fd);
	return n;
}

TEST_F(pgwalk, vmas_match_smaps_maps_and_pagemap)
{
	static struct smaps_vma sm[1024];
	static struct ml_result r;
	unsigned long long start, end;
	long rkb, tkb, skb, ptes;
	char perms[8], kind[16], *line, *save;
	int n, i = 0, name_at, lines = 0, checked_regions = 0;

	ASSERT_EQ(0, ml_run_memlens_pid(&r, "vmas", self->child));
	ASSERT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	n = read_smaps(self->child, sm, 1024);
	ASSERT_LT(0, n);
	line = strtok_r(r.out, "\n", &save);
	ASSERT_NE(NULL, line);
	ASSERT_EQ(0, strcmp(line, "start end perms kind resident_kb thp_kb swap_kb pte_tables name"));
	while ((line = strtok_r(NULL, "\n", &save))) {
		name_at = 0;
		ASSERT_LE(8, sscanf(line, "%llx %llx %7s %15s %ld %ld %ld %ld %n",
				    &start, &end, perms, kind, &rkb, &tkb, &skb, &ptes, &name_at))
			TH_LOG("bad line '%s'", line);
		ASSERT_LT(i, n);
		EXPECT_EQ(sm[i].start, start);
		EXPECT_EQ(sm[i].end, end);
		EXPECT_EQ(sm[i].rss, rkb) TH_LOG("Rss of %llx-%llx %s", start, end, sm[i].name);
		EXPECT_EQ(sm[i].thp, tkb) TH_LOG("AnonHugePages of %llx %s", start, sm[i].name);
		EXPECT_EQ(sm[i].swap, skb) TH_LOG("Swap of %llx %s", start, sm[i].name);
		EXPECT_STREQ(sm[i].name, name_at ? line + name_at : "");
		if (start == (unsigned long)self->l->every3) {
			EXPECT_EQ(22 * 4, rkb);
			EXPECT_EQ(pagemap_present(self->child, self->l->every3, 64 * PAGE) * 4, rkb);
			checked_regions++;
		}
		if (start == (unsigned long)self->l->file) {
			/* 8 pages read, and what fault-around mapped with them */
			EXPECT_LE(8 * 4, rkb);
			EXPECT_EQ(pagemap_present(self->child, self->l->file, 32 * PAGE) * 4, rkb);
			checked_regions++;
		}
		if (start == (unsigned long)self->l->prot + 8 * PAGE) {
			/* PROT_NONE pages stay resident: present to the kernel. */
			EXPECT_EQ(16, rkb);
			EXPECT_STREQ("---p", perms);
			checked_regions++;
		}
		if (start == (unsigned long)self->l->zero) {
			/* Read-only faults map the zero page: present, not Rss. */
			EXPECT_EQ(0, rkb);
			EXPECT_EQ(8, pagemap_present(self->child, self->l->zero, 8 * PAGE));
			checked_regions++;
		}
		if (start <= (unsigned long)self->l->thp &&
		    end >= (unsigned long)self->l->thp + 2 * MIB && self->l->thp_ok)
			TH_LOG("THP region: thp_kb %ld", tkb);
		i++;
		lines++;
	}
	EXPECT_EQ(n, lines);
	EXPECT_EQ(4, checked_regions);
}

TEST_F(pgwalk, summary_matches_rollup_vmpte_and_vma_count)
{
	static struct smaps_vma sm[1024];
	static struct ml_result r;
	long long levels, tables, resident, thp, swap, vmpte;
	long rss = 0, ahp = 0, sw = 0;
	int n, i;

	ASSERT_EQ(0, ml_run_memlens_pid(&r, "pagetable", self->child));
	ASSERT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	n = read_smaps(self->child, sm, 1024);
	for (i = 0; i < n; i++) {
		rss += sm[i].rss;
		ahp += sm[i].thp;
		sw += sm[i].swap;
	}
	vmpte = status_kb(self->child, "VmPTE:");
	levels = key_value(r.out, "paging_levels");
	resident = key_value(r.out, "resident_bytes");
	thp = key_value(r.out, "anon_thp_bytes");
	swap = key_value(r.out, "swap_entries");
	tables = key_value(r.out, "tables_pud") + key_value(r.out, "tables_pmd") +
		 key_value(r.out, "tables_pte") + key_value(r.out, "tables_pte_deposited");
	TH_LOG("%lld-level paging, VmPTE %lld kB, THP %lld kB", levels, vmpte, thp / 1024);
	EXPECT_EQ(1, key_value(r.out, "tables_pgd"));
	if (levels == 4) {
		EXPECT_EQ(0, key_value(r.out, "tables_p4d"));
	} else {
		EXPECT_LE(1, key_value(r.out, "tables_p4d"));
	}
	EXPECT_EQ(rss * 1024LL, resident);
	EXPECT_EQ(ahp * 1024LL, thp);
	EXPECT_EQ(sw, swap * 4);
	EXPECT_EQ(vmpte, tables * 4);
	EXPECT_EQ(n, key_value(r.out, "vmas"));
	/* 64 GiB reservation: three PUD-distant pages, three PTE tables. */
	EXPECT_LE(3, key_value(r.out, "tables_pte"));
	EXPECT_EQ(key_value(r.out, "leaf_2m"), key_value(r.out, "tables_pte_deposited"));
	EXPECT_EQ(0, key_value(r.out, "migration_entries"));
}

/*
 * One load, two processes: a walker opened on this process and pointed at
 * the child (ml_pgwalk_retarget(), as mm_peer's reader does for each
 * test) gives the child's smaps figures, not this process's.
 */
TEST_F(pgwalk, one_load_walks_another_process)
{
	static struct smaps_vma sm[1024];
	struct ml_pagetable self_pt, pt;
	struct ml_pgwalk *w;
	long rss = 0;
	int n, i;

	ASSERT_EQ(0, ml_pgwalk_open(&w, getpid())) TH_LOG("%s", ml_bpf_error());
	ASSERT_EQ(0, ml_pgwalk_run(w, &self_pt)) TH_LOG("%s", ml_bpf_error());
	ml_pgwalk_retarget(w, self->child);
	ASSERT_EQ(0, ml_pgwalk_run(w, &pt)) TH_LOG("%s", ml_bpf_error());
	n = read_smaps(self->child, sm, 1024);
	for (i = 0; i < n; i++)
		rss += sm[i].rss;
	TH_LOG("this process: %llu VMAs, %llu resident bytes; the child: %llu VMAs, %llu bytes (smaps %d VMAs, %ld kB)",
	       (unsigned long long)self_pt.sum.vmas, (unsigned long long)self_pt.sum.resident_bytes,
	       (unsigned long long)pt.sum.vmas, (unsigned long long)pt.sum.resident_bytes, n, rss);
	EXPECT_EQ(n, pt.sum.vmas);
	EXPECT_EQ(rss * 1024LL, pt.sum.resident_bytes);
	EXPECT_NE(self_pt.sum.resident_bytes, pt.sum.resident_bytes);
	ml_pagetable_free(&self_pt);
	ml_pagetable_free(&pt);
	ml_pgwalk_close(w);
}

TEST(bad_input)
{
	static struct ml_result r;
	char *nopid[] = { "memlens", "vmas", "4194304", NULL };	/* above any pid_max */
	char *garbage[] = { "memlens", "pagetable", "12abc", NULL };
	char *none[] = { "memlens", "pagetable", NULL };
	char *kthread[] = { "memlens", "vmas", "2", NULL };

	ASSERT_EQ(0, ml_run(&r, nopid));
	EXPECT_EQ(3, r.status);	/* no such process (docs/inspector.md) */
	EXPECT_NE(NULL, strstr(r.err, "no such process")) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.out[0]);
	ASSERT_EQ(0, ml_run(&r, garbage));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "is not a PID")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, none));
	EXPECT_EQ(2, r.status);
	/* kthreadd (PID 2): a kernel thread, no mm. */
	ASSERT_EQ(0, ml_run(&r, kthread));
	EXPECT_EQ(4, r.status);	/* a kernel thread */
	EXPECT_NE(NULL, strstr(r.err, "kernel thread")) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.out[0]);
}

TEST_HARNESS_MAIN
