// SPDX-License-Identifier: GPL-2.0
/*
 * How fast is memlens' page-table summary?  A child holds 1 GiB of
 * touched anonymous memory (4 KiB pages), an 8 GiB PROT_NONE reservation
 * with 64 pages used across it, and 200 small mappings.  Timed, best of
 * REPS (default 5):
 *   pagetable  read pid/PID/pagetable (the module's full summary)
 *   vmas       read pid/PID/vmas
 *   pagemap    a userspace scan of /proc/PID/pagemap over every VMA in
 *              /proc/PID/maps, counting present and swapped pages
 *   smaps      read /proc/PID/smaps
 * and printed as a table with each time's ratio to the pagetable read.
 * The resident and swapped totals of the three ways must agree, or the
 * benchmark fails.  Needs memlens.ko loaded and ~1.5 GiB of memory.
 *
 * Then the writer's wait: a thread of the child calls mprotect() on one
 * of its pages (mmap_lock for write) WAIT_CALLS times and times each
 * call, in rounds of three kinds in turn (A B C A B C ...), WAIT_ROUNDS
 * of each: no reader; a reader looping over the child's pid/PID/pagetable;
 * a reader looping as fast over the pagetable of a second child laid out
 * alike (the same CPU taken, none of the child's locks: what B loses more
 * than C is the wait for the child's mmap_lock).  Printed: the median,
 * 99th percentile and largest call of each kind, its ratio to the
 * no-reader rounds, and an A-vs-A control (alternate no-reader rounds
 * against each other).  Wall time, not CPU time: the wait is what is
 * measured.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../module/pt_lib.h"

#define GIB (1UL << 30)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define WAIT_CALLS	200
#define WAIT_ROUNDS	6

/* Shared with the child: its mprotect() timings, by request. */
struct wait_shm {
	volatile int round;	/* set by the parent to start a round */
	volatile int done;	/* the round the child finished */
	double ns[3 * WAIT_ROUNDS][WAIT_CALLS];
};

static struct wait_shm *wshm;

static void *mprotect_thread(void *arg)
{
	char *page = arg;
	int r, i;

	for (r = 1; r <= 3 * WAIT_ROUNDS; r++) {
		while (wshm->round < r)
			usleep(1000);
		for (i = 0; i < WAIT_CALLS; i++) {
			double t = now();

			mprotect(page, PG, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE);
			wshm->ns[r - 1][i] = (now() - t) * 1e9;
			usleep(500);
		}
		wshm->done = r;
	}
	return NULL;
}

/* The walked child; the decoy (@writer false) has no mprotect() thread. */
static void child(int ready, bool writer)
{
	unsigned long a, i;
	pthread_t t;
	char *big;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	big = mmap(NULL, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED)
		_exit(1);
	madvise(big, GIB, MADV_NOHUGEPAGE);
	for (i = 0; i < GIB; i += PG)
		big[i] = 1;
	a = (unsigned long)mmap(NULL, 8 * GIB, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (i = 0; i < 64; i++) {
		char *p = (char *)a + i * (8 * GIB / 64);

		mprotect(p, PG, PROT_READ | PROT_WRITE);
		*p = 1;
	}
	for (i = 0; i < 200; i++) {
		char *p = mmap(NULL, 4 * PG, i % 2 ? PROT_READ | PROT_WRITE : PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (i % 2)
			p[0] = 1;
	}
	if (writer && pthread_create(&t, NULL, mprotect_thread, big))
		_exit(1);
	if (write(ready, "x", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

/* The pagemap scan: every VMA of maps, 512 entries per read. */
static void pagemap_scan(pid_t pid, long *present, long *swapped)
{
	char *maps = pt_slurp_pid(pid, "/proc/%d/maps"), *line, *save = NULL;

	*present = *swapped = 0;
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		long p, w;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || strstr(line, "[vsyscall]"))
			continue;
		if (!pt_pagemap(pid, s, e, &p, &w)) {
			*present += p;
			*swapped += w;
		}
	}
	free(maps);
}

static long smaps_rss_kb(const char *s)
{
	long sum = 0, kb;
	const char *p = s;

	while ((p = strstr(p, "\nRss:"))) {
		sscanf(p + 5, "%ld", &kb);
		sum += kb;
		p += 5;
	}
	return sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, 99th percentile and maximum of rounds first, first + step, ... */
static void wait_stats(int first, int step, double *p50, double *p99, double *max)
{
	static double all[3 * WAIT_ROUNDS * WAIT_CALLS];
	int n = 0, r, i;

	for (r = first; r < 3 * WAIT_ROUNDS; r += step)
		for (i = 0; i < WAIT_CALLS; i++)
			all[n++] = wshm->ns[r][i];
	qsort(all, n, sizeof(all[0]), cmp_double);
	*p50 = all[n / 2];
	*p99 = all[n * 99 / 100];
	*max = all[n - 1];
}

/* The writer's wait (see the top): round r is of kind (r - 1) % 3. */
static void writer_wait(pid_t pid, pid_t decoy)
{
	double st[5][3];
	unsigned long reads[3] = { 0 };
	int r, k;

	for (r = 1; r <= 3 * WAIT_ROUNDS; r++) {
		k = (r - 1) % 3;
		wshm->round = r;
		while (wshm->done < r) {
			if (k) {
				free(pt_slurp_pid(k == 1 ? pid : decoy,
						  ML_DIR "/pid/%d/pagetable"));
				reads[k]++;
			} else {
				usleep(1000);
			}
		}
	}
	for (k = 0; k < 3; k++)
		wait_stats(k, 3, &st[k][0], &st[k][1], &st[k][2]);
	wait_stats(0, 6, &st[3][0], &st[3][1], &st[3][2]);	/* A-vs-A */
	wait_stats(3, 6, &st[4][0], &st[4][1], &st[4][2]);
	printf("\nmprotect() of a page of the child (mmap_lock for write), %d calls x %d rounds of each kind, A B C A B C ...\n",
	       WAIT_CALLS, WAIT_ROUNDS);
	printf("| rounds | pagetable reads | median | p99 | max | median ratio | p99 ratio |\n|---|---|---|---|---|---|---|\n");
	printf("| A: no reader | 0 | %.1f us | %.1f us | %.1f us | 1.00x | 1.00x |\n",
	       st[0][0] / 1e3, st[0][1] / 1e3, st[0][2] / 1e3);
	printf("| B: a reader of the child's pagetable | %lu | %.1f us | %.1f us | %.1f us | %.2fx | %.2fx |\n",
	       reads[1], st[1][0] / 1e3, st[1][1] / 1e3, st[1][2] / 1e3,
	       st[1][0] / st[0][0], st[1][1] / st[0][1]);
	printf("| C: a reader of another process's pagetable | %lu | %.1f us | %.1f us | %.1f us | %.2fx | %.2fx |\n",
	       reads[2], st[2][0] / 1e3, st[2][1] / 1e3, st[2][2] / 1e3,
	       st[2][0] / st[0][0], st[2][1] / st[0][1]);
	printf("| control: A rounds 2, 4, 6 vs 1, 3, 5 | 0 | %.1f us | %.1f us | %.1f us | %.2fx | %.2fx |\n",
	       st[4][0] / 1e3, st[4][1] / 1e3, st[4][2] / 1e3,
	       st[4][0] / st[3][0], st[4][1] / st[3][1]);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 5, fds[2], r, ok = 1;
	double t_pt = 1e9, t_vmas = 1e9, t_pm = 1e9, t_sm = 1e9, t;
	long present = 0, swapped = 0, rss = 0;
	char *pt = NULL, c;
	pid_t pid, decoy;

	wshm = mmap(NULL, sizeof(*wshm), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wshm == MAP_FAILED || pipe(fds))
		return 1;
	pid = fork();
	if (pid == 0)
		child(fds[1], true);
	if (read(fds[0], &c, 1) != 1 || pt_track(pid)) {
		fprintf(stderr, "pgwalk_bench: cannot set up (memlens.ko loaded?)\n");
		return 1;
	}
	for (r = 0; r < reps; r++) {
		char *s;

		t = now();
		s = pt_slurp_pid(pid, ML_DIR "/pid/%d/pagetable");
		t = now() - t;
		if (t < t_pt)
			t_pt = t;
		free(pt);
		pt = s;

		t = now();
		s = pt_slurp_pid(pid, ML_DIR "/pid/%d/vmas");
		t = now() - t;
		if (t < t_vmas)
			t_vmas = t;
		free(s);

		t = now();
		pagemap_scan(pid, &present, &swapped);
		t = now() - t;
		if (t < t_pm)
			t_pm = t;

		t = now();
		s = pt_slurp_pid(pid, "/proc/%d/smaps");
		t = now() - t;
		if (t < t_sm)
			t_sm = t;
		rss = smaps_rss_kb(s);
		free(s);
	}
	printf("| read | best of %d | ratio to pagetable |\n|---|---|---|\n", reps);
	printf("| memlens pagetable | %.2f ms | 1.0x |\n", t_pt * 1e3);
	printf("| memlens vmas | %.2f ms | %.1fx |\n", t_vmas * 1e3, t_vmas / t_pt);
	printf("| pagemap scan (userspace) | %.2f ms | %.1fx |\n", t_pm * 1e3, t_pm / t_pt);
	printf("| /proc/PID/smaps | %.2f ms | %.1fx |\n", t_sm * 1e3, t_sm / t_pt);
	printf("pagetable: resident_bytes %lld leaf_4k %lld tables_pte %lld swap_entries %lld\n",
	       pt_key(pt, "resident_bytes"), pt_key(pt, "leaf_4k"),
	       pt_key(pt, "tables_pte"), pt_key(pt, "swap_entries"));
	printf("pagemap: present pages %ld swapped %ld; smaps Rss %ld kB\n",
	       present, swapped, rss);
	/* All three count the same memory (pagemap also counts [vvar]). */
	if (pt_key(pt, "resident_bytes") != rss * 1024 ||
	    pt_key(pt, "swap_entries") != swapped ||
	    present < pt_key(pt, "resident_bytes") / 4096) {
		printf("MISMATCH between the three counts\n");
		ok = 0;
	}
	printf("pagemap scan / pagetable = %.1fx (target >= 10x): %s\n", t_pm / t_pt,
	       t_pm / t_pt >= 10 ? "met" : "NOT met");
	decoy = fork();
	if (decoy == 0)
		child(fds[1], false);
	if (read(fds[0], &c, 1) != 1 || pt_track(decoy)) {
		fprintf(stderr, "pgwalk_bench: cannot set up the second child\n");
		return 1;
	}
	writer_wait(pid, decoy);
	kill(decoy, SIGKILL);
	waitpid(decoy, NULL, 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(pt);
	return ok ? 0 : 1;
}
