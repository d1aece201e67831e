// SPDX-License-Identifier: GPL-2.0
/*
 * The overhead of "memlens kcost" (ml_kcost_open() on the workload's
 * tgid) on an allocation-heavy workload (not a timed test: ratios within
 * one run).
 *
 *   kcost_bench [PAIRS [OPS [BIGEVERY]]]
 *   (kcost_bench --work OPS BIGEVERY: one run, its CPU time on fd 3)
 *
 * The workload: one thread does OPS malloc/free operations on 512 live
 * slots, 8-1024 B, and every BIGEVERY-th (default 64; 0: none) a 256 KiB
 * block whose pages it
 * touches, in a freshly exec'd process; with M_MMAP_THRESHOLD fixed at 128 KiB and M_TRIM_THRESHOLD
 * at 64 KiB, each big block is an mmap, faults and a munmap, and frees
 * trim the heap with brk.  Its cost is the CPU time (user + system) of
 * that thread (CLOCK_THREAD_CPUTIME_ID), read by the thread itself around
 * the work: the BPF load before it is not counted.
 *
 * Each round runs the workload three times in a fresh child each, in an
 * order rotated every round: untraced (A), untraced again (A', the
 * A-vs-A control) and traced (kcost attached before the child starts).
 * Printed: per-run medians, the median over rounds of T/A and of A'/A,
 * with their 10th-90th percentile spread and min-max, and the traced
 * run's syscall and fault counts of the last round (a check that the
 * tracing saw the work).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "mlbpf.h"

#define SLOTS 512
#define BIG   (256 << 10)

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double workload(long ops, long big)
{
	static char *slot[SLOTS];
	unsigned int seed = 1;
	double t0;
	long i;

	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	mallopt(M_TRIM_THRESHOLD, 64 << 10);
	t0 = thread_cpu();
	for (i = 0; i < ops; i++) {
		int s = rand_r(&seed) % SLOTS;
		size_t n = (big && i % big == 0) ? BIG : 8 + rand_r(&seed) % 1017;

		free(slot[s]);
		slot[s] = malloc(n);
		if (!slot[s])
			return -1;
		for (size_t o = 0; o < n; o += 4096)
			slot[s][o] = 1;
	}
	for (i = 0; i < SLOTS; i++)
		free(slot[i]);
	return thread_cpu() - t0;
}

/* One run in a fresh child; @trace: kcost attached first.  CPU seconds. */
static double run(long ops, long big, int trace, struct ml_kcost **keep)
{
	int go[2], res[2], st;
	struct ml_kcost *k = NULL;
	double t = -1;
	pid_t pid;
	char c;

	if (pipe(go) || pipe(res))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char sops[32], sbig[32];

		/* a fresh exec: the parent's heap (libbpf's) would change glibc's choices */
		snprintf(sops, sizeof(sops), "%ld", ops);
		snprintf(sbig, sizeof(sbig), "%ld", big);
		if (read(go[0], &c, 1) != 1 || dup2(res[1], 3) != 3)
			_exit(1);
		execl("/proc/self/exe", "kcost_bench", "--work", sops, sbig, NULL);
		_exit(127);
	}
	close(go[0]);
	close(res[1]);
	if (trace && ml_kcost_open(&k, pid)) {
		fprintf(stderr, "kcost_bench: %s\n", ml_bpf_error());
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		exit(1);
	}
	if (write(go[1], "g", 1) != 1 || read(res[0], &t, sizeof(t)) != sizeof(t))
		t = -1;
	waitpid(pid, &st, 0);
	close(go[1]);
	close(res[0]);
	if (k && keep) {
		ml_kcost_close(*keep);
		*keep = k;
	} else {
		ml_kcost_close(k);
	}
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile (0..1) of @n sorted values, nearest rank. */
static double quant(const double *v, int n, double q)
{
	int i = (int)lround(q * (n - 1));

	return v[i];
}

static void row(const char *name, double *r, int n)
{
	qsort(r, n, sizeof(*r), cmp);
	printf("| %s | %.3f | %.3f-%.3f | %.3f-%.3f |\n", name, quant(r, n, 0.5),
	       quant(r, n, 0.1), quant(r, n, 0.9), r[0], r[n - 1]);
}

int main(int argc, char **argv)
{
	int pairs = argc > 1 ? atoi(argv[1]) : 31, i, j;
	long ops = argc > 2 ? atol(argv[2]) : 100000;
	long big = argc > 3 ? atol(argv[3]) : 64;
	double *ra = calloc(pairs, sizeof(double)), *rt = calloc(pairs, sizeof(double));
	double *ta = calloc(pairs, sizeof(double)), *tt = calloc(pairs, sizeof(double));
	struct kc_call_stats *c = calloc(KC_CALLS, sizeof(*c));
	struct ml_kcost *last = NULL;
	struct kc_fault_stats f;
	__u64 refaults = 0;

	if (argc == 4 && !strcmp(argv[1], "--work")) {
		double t = workload(atol(argv[2]), atol(argv[3]));

		return write(3, &t, sizeof(t)) == sizeof(t) ? 0 : 1;
	}
	if (pairs < 1 || ops < 1 || big < 0 || !ra || !rt || !ta || !tt || !c) {
		fprintf(stderr, "usage: kcost_bench [PAIRS [OPS [BIGEVERY]]]\n");
		return 2;
	}
	for (i = 0; i < pairs; i++) {
		double t[3];

		/* rotate the order of A, A', T each round */
		for (j = 0; j < 3; j++) {
			int which = (i + j) % 3;

			t[which] = run(ops, big, which == 2, &last);
			if (t[which] <= 0) {
				fprintf(stderr, "kcost_bench: a run failed\n");
				return 1;
			}
		}
		if (getenv("KCOST_BENCH_VERBOSE"))
			fprintf(stderr, "round %d: A %.3f A' %.3f T %.3f\n", i, t[0], t[1], t[2]);
		ra[i] = t[1] / t[0];
		rt[i] = t[2] / t[0];
		ta[i] = t[0];
		tt[i] = t[2];
	}
	qsort(ta, pairs, sizeof(*ta), cmp);
	qsort(tt, pairs, sizeof(*tt), cmp);
	printf("kcost_bench: %d rounds, %ld ops, a 256 KiB block every %ld; median CPU of the working thread: untraced %.3f s, traced %.3f s\n\n",
	       pairs, ops, big, quant(ta, pairs, 0.5), quant(tt, pairs, 0.5));
	printf("| ratio | median | p10-p90 | min-max |\n|---|---|---|---|\n");
	row("A'/A (control)", ra, pairs);
	row("traced/A", rt, pairs);
	if (last && !ml_kcost_read(last, c, &f)) {
		for (j = 0; j < KC_AGE_BUCKETS; j++)
			refaults += f.refault[j];
		printf("\nlast traced run: mmap %llu munmap %llu brk %llu; first touches %llu, refaults %llu\n",
		       (unsigned long long)c[KC_MMAP].calls, (unsigned long long)c[KC_MUNMAP].calls,
		       (unsigned long long)c[KC_BRK].calls, (unsigned long long)f.first_touch,
		       (unsigned long long)refaults);
	}
	ml_kcost_close(last);
	return 0;
}
