// SPDX-License-Identifier: GPL-2.0
/*
 * Read a live process's allocator from outside.  The workload (a plain
 * program under LD_PRELOAD=libmlalloc.so) allocates a known set; this
 * process finds mlalloc_introspect through /proc/PID/maps and the dynamic
 * symbol table, reads it with process_vm_readv at each phase, and checks:
 *   - exact deltas of live blocks per size class and of requested bytes;
 *   - the arena ranges exist in /proc/PID/smaps and every resident page
 *     of an arena (from /proc/PID/pagemap) is within what mlalloc reports
 *     as committed;
 *   - after the frees, the live counts return exactly to the baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlalloc.h"
#include "kselftest_harness.h"

static unsigned cls_of(const struct mlalloc_snapshot *s, size_t n)
{
	for (unsigned c = 0; c < MLALLOC_NSMALL; c++)
		if (s->in.class_size[c] >= n)
			return c;
	return MLALLOC_CLASS_LARGE;
}

struct proc {
	pid_t pid;
	int to, from;
};

static int spawn(struct proc *p)
{
	char exe[4096], dir[4096], lib[4200], wl[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	snprintf(dir, sizeof(dir), "%s", exe);
	*strrchr(dir, '/') = 0;
	snprintf(lib, sizeof(lib), "%s/../lib/libmlalloc.so", dir);
	snprintf(wl, sizeof(wl), "%s/mlalloc_workload", dir);
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		setenv("LD_PRELOAD", lib, 1);
		unsetenv("MLALLOC_PURGE_DELAY");
		execl(wl, wl, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->to = in[1];
	p->from = out[0];
	return 0;
}

static int wait_for(struct proc *p, char want)
{
	char c = 0;
	return read(p->from, &c, 1) == 1 && c == want ? 0 : -1;
}

/* resident bytes of [a, b) from /proc/PID/pagemap (bit 63: present) */
static uint64_t resident(pid_t pid, uint64_t a, uint64_t b)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	uint64_t res = 0, buf[512];
	for (uint64_t va = a; va < b; va += 512 * 4096) {
		size_t cnt = (b - va) / 4096 < 512 ? (b - va) / 4096 : 512;
		ssize_t r = pread(fd, buf, cnt * 8, (off_t)(va / 4096 * 8));
		for (ssize_t i = 0; i < r / 8; i++)
			if (buf[i] >> 63)
				res += 4096;
	}
	close(fd);
	return res;
}

/* is [a, b) covered by mappings listed in smaps?  Also sums their Rss. */
static int smaps_cover(pid_t pid, uint64_t a, uint64_t b, uint64_t *rss)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	uint64_t covered = 0, vs = 0, ve = 0;
	int in = 0;
	*rss = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, kb;
		if (sscanf(line, "%llx-%llx ", &s, &e) == 2 && strchr(line, ' ')) {
			vs = s;
			ve = e;
			in = vs < b && ve > a;
			if (in)
				covered += (ve < b ? ve : b) - (vs > a ? vs : a);
		} else if (in && sscanf(line, "Rss: %llu kB", &kb) == 1) {
			*rss += kb * 1024;
		}
	}
	fclose(f);
	return covered == b - a;
}

TEST(read_live_process_arenas)
{
	struct proc p;
	static struct mlalloc_snapshot s0, s1, s2;
	uint64_t addr = 0;

	ASSERT_EQ(0, spawn(&p));
	ASSERT_EQ(0, wait_for(&p, '1'));
	ASSERT_EQ(0, mlalloc_inspect_find(p.pid, &addr)) TH_LOG("structure not found");
	ASSERT_EQ(0, mlalloc_inspect_read(p.pid, addr, &s0));
	EXPECT_EQ((uint32_t)p.pid, s0.in.pid);

	ASSERT_EQ(1, write(p.to, "x", 1));
	ASSERT_EQ(0, wait_for(&p, '2'));
	ASSERT_EQ(0, mlalloc_inspect_read(p.pid, addr, &s1));

	unsigned c100 = cls_of(&s1, 100), c5000 = cls_of(&s1, 5000);
	EXPECT_EQ(1000L, s1.live_blocks[c100] - s0.live_blocks[c100]);
	EXPECT_EQ(300L, s1.live_blocks[c5000] - s0.live_blocks[c5000]);
	EXPECT_EQ(7L, s1.live_blocks[MLALLOC_CLASS_LARGE] - s0.live_blocks[MLALLOC_CLASS_LARGE]);
	EXPECT_EQ(3L, s1.live_blocks[MLALLOC_CLASS_HUGE] - s0.live_blocks[MLALLOC_CLASS_HUGE]);
	EXPECT_EQ(1000 * s1.in.class_size[c100],
		  (uint64_t)(s1.live_bytes[c100] - s0.live_bytes[c100]));
	EXPECT_EQ(7L * (320 << 10), s1.live_bytes[MLALLOC_CLASS_LARGE] -
				   s0.live_bytes[MLALLOC_CLASS_LARGE]);
	EXPECT_GE(s1.live_bytes[MLALLOC_CLASS_HUGE] - s0.live_bytes[MLALLOC_CLASS_HUGE],
		  3L * (6 << 20));
	EXPECT_EQ(1000UL * 100 + 300 * 5000 + 7 * (300 << 10) + 3 * (6 << 20),
		  s1.requested - s0.requested);

	/* arenas against the kernel's view */
	uint64_t res_seg = 0, res_huge = 0;
	int nhuge = 0, nseg = 0;
	for (uint32_t i = 0; i < s1.in.narenas; i++) {
		const struct mlalloc_arena *a = &s1.in.arenas[i];
		if (a->role == MLALLOC_ARENA_FREE)
			continue;
		uint64_t rss = 0;
		EXPECT_TRUE(smaps_cover(p.pid, a->base, a->base + a->size, &rss))
			TH_LOG("arena %u %#lx+%#lx not in smaps", i, (long)a->base, (long)a->size);
		uint64_t r = resident(p.pid, a->base, a->base + a->size);
		EXPECT_GE(rss, r);
		EXPECT_LE(r, a->committed) TH_LOG("arena %u resident %lu committed %lu",
						  i, (unsigned long)r, (unsigned long)a->committed);
		EXPECT_LE(a->committed, a->size);
		if (a->role == MLALLOC_ARENA_HUGE) {
			nhuge++;
			res_huge += r;
		} else if (a->role == MLALLOC_ARENA_SEGMENTS) {
			nseg++;
			res_seg += r;
		}
	}
	EXPECT_EQ(3, nhuge);
	EXPECT_GE(nseg, 1);
	EXPECT_GE(res_huge, 3UL * (6 << 20));
	EXPECT_GE(res_seg, 1000UL * 100 + 300 * 5000 + 7 * (300 << 10));

	ASSERT_EQ(1, write(p.to, "x", 1));
	ASSERT_EQ(0, wait_for(&p, '3'));
	ASSERT_EQ(0, mlalloc_inspect_read(p.pid, addr, &s2));
	for (int c = 0; c < MLALLOC_NCLASSES; c++) {
		EXPECT_EQ(s0.live_blocks[c], s2.live_blocks[c]) TH_LOG("class %d", c);
	}
	EXPECT_EQ(s0.live_bytes_total, s2.live_bytes_total);

	ASSERT_EQ(1, write(p.to, "x", 1));
	int st;
	waitpid(p.pid, &st, 0);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(not_found_in_plain_process)
{
	uint64_t addr;
	pid_t pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		_exit(127);
	}
	usleep(100000);
	EXPECT_EQ(-ENOENT, mlalloc_inspect_find(pid, &addr));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST_HARNESS_MAIN
