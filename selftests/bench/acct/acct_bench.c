// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-accounting overhead of memlens.ko: touch 128 MiB of fresh
 * anonymous memory page by page (32768 minor faults), unmap, repeat, in
 * each state: module unloaded (twice: the second is the A-vs-A control),
 * loaded and idle, loaded and tracking this process in the counting mode
 * (the default), and tracking in the latency mode.  The cost is the CPU
 * time of the touching thread (CLOCK_THREAD_CPUTIME_ID), which the other
 * work of a shared machine disturbs less than wall time.  Every round
 * runs every state once, in an order shuffled round by round (a fixed
 * order would put the same state after each unload, whose deferred work
 * then lands on it), each pass 0.2 s after the last load or unload; per state
 * the median of its per-round ratios to "unloaded" is printed with their
 * spread (min-max), and the ns it adds per fault.
 *
 * Checks on the way: each pass takes exactly 32768 minor faults by
 * /proc/self/stat, and while tracked, pid/PID/faults counts exactly as
 * many minor faults as /proc/self/stat did, in both modes.
 *
 * usage: acct_bench [ROUNDS [MODULE.ko]]   (root, in a test guest)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE	4096UL
#define SIZE	(128UL << 20)
#define DIR	"/sys/kernel/debug/memlens"

static const char *ko = "/opt/memlens/memlens.ko";

static int64_t key(const char *path, const char *k)
{
	static char buf[1 << 16];
	size_t kl = strlen(k);
	ssize_t n;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, k, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
	return -1;
}

static int64_t minflt(void)
{
	char buf[1024], *p;
	int fd = open("/proc/self/stat", O_RDONLY), i;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')') + 2;
	for (i = 3; i < 10; i++)
		p = strchr(p, ' ') + 1;
	return strtoll(p, NULL, 10);
}

static int load(void)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "memlens", O_NONBLOCK) ? -errno : 0;
}

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* CPU time of this thread: what the faults cost it, user and system. */
static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* One pass: 65536 first-touch faults; returns seconds, checks the count. */
static double pass(void)
{
	int64_t f0, f1;
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0, t;
	size_t k;

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, SIZE, MADV_NOHUGEPAGE);
	f0 = minflt();
	t0 = now();
	for (k = 0; k < SIZE; k += PAGE)
		p[k] = 1;
	t = now() - t0;
	f1 = minflt();
	munmap(p, SIZE);
	if (f1 - f0 != (int64_t)(SIZE / PAGE)) {
		fprintf(stderr, "pass took %lld faults, not %lu\n",
			(long long)(f1 - f0), SIZE / PAGE);
		exit(1);
	}
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum { UNLOADED, CONTROL, LOADED, COUNTING, LATENCY, NSTATES };
static const char *const names[] = {
	"unloaded", "unloaded again (control)", "loaded, idle",
	"tracking, counting mode", "tracking, latency mode",
};

/* One pass in state @s: load, track and unload around it as it needs. */
static int run_state(int s, const char *me, const char *path, double *t)
{
	int64_t m0 = 0, f0 = 0;

	if (s >= LOADED && load()) {
		fprintf(stderr, "cannot load %s\n", ko);
		return -1;
	}
	if (s == LATENCY && put(DIR "/latency", "1")) {
		fprintf(stderr, "cannot switch to the latency mode\n");
		return -1;
	}
	if (s >= COUNTING) {
		if (put(DIR "/track", me))
			return -1;
		m0 = key(path, "minor");
		f0 = minflt();
	}
	usleep(200000);	/* let the load's deferred work (RCU, workqueues) end */
	*t = pass();
	if (s >= COUNTING) {
		int64_t dm = key(path, "minor") - m0, df = minflt() - f0;

		/* the two reads of pid/PID/faults fault nothing */
		if (dm != df) {
			fprintf(stderr, "%s: tracked minor %lld != minflt %lld\n", names[s],
				(long long)dm, (long long)df);
			return -1;
		}
	}
	if (s >= LOADED && unload()) {
		fprintf(stderr, "cannot unload\n");
		return -1;
	}
	usleep(200000);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 31, r, s;
	double t[NSTATES][64], ratio[NSTATES][64];
	unsigned int seed = 1;
	char me[32], path[128];

	if (argc > 2)
		ko = argv[2];
	if (rounds < 3 || rounds > 64)
		rounds = 31;
	snprintf(me, sizeof(me), "%d", getpid());
	snprintf(path, sizeof(path), DIR "/pid/%d/faults", getpid());
	unload();
	now();		/* the clock's first read faults once (vDSO data) */
	minflt();
	pass();		/* warm up */
	for (r = 0; r < rounds; r++) {
		int order[NSTATES];

		for (s = 0; s < NSTATES; s++)
			order[s] = s;
		for (s = NSTATES - 1; s > 0; s--) {
			int j = rand_r(&seed) % (s + 1), x = order[s];

			order[s] = order[j];
			order[j] = x;
		}
		for (s = 0; s < NSTATES; s++)
			if (run_state(order[s], me, path, &t[order[s]][r]))
				return 1;
		for (s = 0; s < NSTATES; s++)
			ratio[s][r] = t[s][r] / t[UNLOADED][r];
	}
	printf("| state | CPU ms (median) | ratio to unloaded (median) | spread (min-max) | ns added per fault |\n");
	printf("|---|---|---|---|---|\n");
	for (s = 0; s < NSTATES; s++) {
		double ms, med, base;

		qsort(ratio[s], rounds, sizeof(double), cmp);
		qsort(t[s], rounds, sizeof(double), cmp);
		ms = t[s][rounds / 2] * 1e3;
		med = ratio[s][rounds / 2];
		base = t[UNLOADED][rounds / 2] / (SIZE / PAGE);
		if (s == UNLOADED)
			printf("| %s | %.1f | 1 | - | - |\n", names[s], ms);
		else
			printf("| %s | %.1f | %.3fx | %.3f-%.3f | %.0f |\n", names[s], ms, med,
			       ratio[s][0], ratio[s][rounds - 1], (med - 1) * base * 1e9);
	}
	printf("# %d rounds, each state once per round in a shuffled order; %lu faults per pass\n",
	       rounds, SIZE / PAGE);
	return 0;
}
