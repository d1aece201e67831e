// SPDX-License-Identifier: GPL-2.0
/*
 * BPF benchmarks (not timed tests; ratios within one run):
 *
 *   bpf_bench touch|read MIB REPS
 *       the fault-heavy workload: REPS times, map MIB MiB, write (touch)
 *       or read (the zero page) it page by page, unmap; prints the
 *       touching thread's CPU ns and the number of faults.
 *   bpf_bench faults MIB REPS PAIRS
 *       both workloads in PAIRS interleaved untraced/traced pairs per
 *       row: untraced (the A-vs-A control), empty tp_btf programs (the
 *       floor), memlens counting and --latency on the workload's tgid (as
 *       "memlens faults -p"), perf stat -e page-faults; median pair ratio
 *       with its spread, CPU ns added per fault, and the BPF programs' own
 *       ns per run from bpf_enable_stats(BPF_STATS_RUN_TIME).
 *   bpf_bench walk MIB RUNS
 *       a process with MIB MiB of touched anonymous memory and sparse
 *       mappings: the BPF page-table walk (one load, RUNS walks) against a
 *       userspace scan of /proc/PID/pagemap over the same VMAs.
 *
 * The loaders are compiled in from userspace/memlens.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mlbpf.h"

#define PAGE	4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * The fault-heavy workload: REPS times map MIB MiB, touch each page once
 * (write: a fresh page each; read: the shared zero page, the cheapest
 * fault and so the least noisy measure of what a tracer adds), unmap.
 * Prints the touching thread's CPU time (user + system: the faults are
 * handled on it) and the number of touches.
 */
static int touch(long mib, long reps, bool write)
{
	long pages = mib * 256, i, r;
	double cpu = 0, t0;
	volatile char sum = 0;

	for (r = 0; r < reps; r++) {
		volatile char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 1;
		madvise((void *)p, pages * PAGE, MADV_NOHUGEPAGE);
		t0 = thread_cpu_ns();
		if (write)
			for (i = 0; i < pages; i++)
				p[i * PAGE] = 1;
		else
			for (i = 0; i < pages; i++)
				sum += p[i * PAGE];
		cpu += thread_cpu_ns() - t0;
		munmap((void *)p, pages * PAGE);
	}
	printf("%.0f %ld\n", cpu, pages * reps);
	return 0;
}

/* Run argv with stdout to a pipe, after *release; returns its first line. */
struct job {
	pid_t pid;
	int go, out;
};

static int job_start(struct job *j, char **argv)
{
	int g[2], o[2];
	char c;

	if (pipe(g) || pipe(o))
		return -1;
	j->pid = fork();
	if (j->pid < 0)
		return -1;
	if (j->pid == 0) {
		close(g[1]);
		close(o[0]);
		dup2(o[1], 1);
		if (read(g[0], &c, 1) != 1)
			_exit(126);
		execv(argv[0], argv);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(g[0]);
	close(o[1]);
	j->go = g[1];
	j->out = o[0];
	return 0;
}

static double job_finish(struct job *j, long *faults)
{
	char buf[256] = "";
	double ns = -1;
	ssize_t n;

	if (write(j->go, "g", 1) != 1)
		return -1;
	close(j->go);
	n = read(j->out, buf, sizeof(buf) - 1);
	close(j->out);
	waitpid(j->pid, NULL, 0);
	if (n > 0 && sscanf(buf, "%lf %ld", &ns, faults) != 2)
		ns = -1;
	return ns;
}

/* The rows: each against untraced runs interleaved with it. */
enum mode { UNTRACED, EMPTY_PROG, COUNTING, LATENCY, PERF_STAT, NR_MODES };
static const char *const mode_names[] = {
	"untraced (A-vs-A control)", "empty tp_btf program (floor)",
	"memlens counting (default)", "memlens --latency", "perf stat -e page-faults",
};

struct prog_stat {
	__u64 ns, cnt;
};

/* Add the run time and runs of @obj's programs to @sum. */
static void obj_stats(struct bpf_object *obj, struct prog_stat *sum)
{
	__u64 ns, runs;

	ml_bpf_run_stats(obj, &ns, &runs);
	sum->ns += ns;
	sum->cnt += runs;
}

/* What a traced run holds: memlens' loader or the empty object. */
struct tracer {
	struct ml_faults *f;
	struct bpf_object *empty;
	struct bpf_link *links[2];
};

static const char *empty_path;

static int tracer_start(struct tracer *t, enum mode m, pid_t pid)
{
	struct bpf_program *p;
	int n = 0;

	memset(t, 0, sizeof(*t));
	if (m == COUNTING || m == LATENCY) {
		if (ml_faults_open_mode(&t->f, pid,
					m == COUNTING ? ML_FAULTS_COUNTING : ML_FAULTS_LATENCY)) {
			fprintf(stderr, "bpf_bench: %s\n", ml_bpf_error());
			return -1;
		}
		return 0;
	}
	if (m != EMPTY_PROG)
		return 0;
	t->empty = bpf_object__open_file(empty_path, NULL);
	if (!t->empty || bpf_object__load(t->empty)) {
		fprintf(stderr, "bpf_bench: loading %s: %s\n", empty_path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(p, t->empty) {
		t->links[n] = bpf_program__attach(p);
		if (!t->links[n++]) {
			fprintf(stderr, "bpf_bench: attaching %s: %s\n", bpf_program__name(p),
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void tracer_stop(struct tracer *t, struct prog_stat *st, long *counted, pid_t pid)
{
	struct fault_counts c;
	int i;

	if (t->f) {
		if (counted && !ml_faults_read(t->f, pid, &c))
			*counted = c.minor + c.major;
		if (st)
			obj_stats(ml_faults_object(t->f), st);
		ml_faults_close(t->f);
	}
	if (t->empty) {
		if (st)
			obj_stats(t->empty, st);
		for (i = 0; i < 2; i++)
			bpf_link__destroy(t->links[i]);
		bpf_object__close(t->empty);
	}
}

/* One run of the workload in mode @m: the touching thread's CPU ns. */
static double run_once(const char *self, const char *wl, long mib, long reps, enum mode m,
		       long *faults, struct prog_stat *st, long *counted)
{
	char smib[16], sreps[16];
	char *plain[] = { (char *)self, (char *)wl, smib, sreps, NULL };
	char *perf[] = { "perf", "stat", "-e", "page-faults", "-x,", "-o", "/dev/null",
			 "--", (char *)self, (char *)wl, smib, sreps, NULL };
	struct tracer t;
	struct job j;
	double ns;

	snprintf(smib, sizeof(smib), "%ld", mib);
	snprintf(sreps, sizeof(sreps), "%ld", reps);
	if (job_start(&j, m == PERF_STAT ? perf : plain))
		return -1;
	if (tracer_start(&t, m, j.pid)) {
		kill(j.pid, SIGKILL);
		waitpid(j.pid, NULL, 0);
		return -1;
	}
	ns = job_finish(&j, faults);
	tracer_stop(&t, st, counted, j.pid);
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile of the sorted @v[@n] (nearest rank). */
static double quantile(const double *v, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/*
 * @pairs interleaved pairs per row: untraced then traced, then traced
 * then untraced (so that drift does not favour either), each pair's
 * ratio traced/untraced; the median ratio with its 25-75 % and min-max
 * spread, and the median of the CPU time added per fault.  The control
 * row pairs untraced with untraced.  Then, in a second pass with
 * bpf_enable_stats() on (it adds two clock reads to every program run,
 * so never during the pairs), the programs' own ns per run.
 */
static int bench_faults(const char *self, long mib, long reps, int pairs)
{
	static const char *const workloads[] = { "touch", "read" };
	static double ratio[NR_MODES][256], added[NR_MODES][256];
	long faults = 0, counted = 0;
	bool have_perf = !access("/usr/bin/perf", X_OK);
	int w, m, k, stats_fd;

	if (pairs > 256)
		pairs = 256;
	printf("CPU time of the touching thread; %d interleaved pairs per row; "
	       "ratio = traced / untraced of the same pair.\n\n",
	       pairs);
	printf("| workload | row | median ratio | 25-75 %% | min-max | added ns/fault | BPF ns/run |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (w = 0; w < 2; w++) {
		double base_med = 0;

		for (k = 0; k < pairs; k++)
			for (m = 0; m < NR_MODES; m++) {
				double a, b;
				bool first = k & 1;

				if (m == PERF_STAT && !have_perf)
					continue; /* no linux-perf (the guests) */
				a = first ? -1 : run_once(self, workloads[w], mib, reps, UNTRACED,
							  &faults, NULL, NULL);
				b = run_once(self, workloads[w], mib, reps, m, &faults, NULL,
					     m == COUNTING ? &counted : NULL);
				if (first)
					a = run_once(self, workloads[w], mib, reps, UNTRACED,
						     &faults, NULL, NULL);
				if (a <= 0 || b <= 0)
					return 1;
				ratio[m][k] = b / a;
				added[m][k] = (b - a) / faults;
				if (!m)
					base_med += a / pairs; /* mean, for the header */
			}
		for (m = 0; m < NR_MODES; m++) {
			struct prog_stat st = { 0 };
			char runs[32] = "-";
			double r[256], d[256];

			if (m == PERF_STAT && !have_perf)
				continue;
			memcpy(r, ratio[m], sizeof(double) * pairs);
			memcpy(d, added[m], sizeof(double) * pairs);
			qsort(r, pairs, sizeof(double), cmp_double);
			qsort(d, pairs, sizeof(double), cmp_double);
			if (m == EMPTY_PROG || m == COUNTING || m == LATENCY) {
				stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
				for (k = 0; k < 5 && stats_fd >= 0; k++)
					run_once(self, workloads[w], mib, reps, m, &faults, &st,
						 NULL);
				if (stats_fd >= 0)
					close(stats_fd);
				if (st.cnt)
					snprintf(runs, sizeof(runs), "%.0f (%.1f runs/fault)",
						 (double)st.ns / st.cnt,
						 (double)st.cnt / (5.0 * faults));
				else
					snprintf(runs, sizeof(runs), "unavailable");
			}
			printf("| %s %ld MiB x%ld (%ld faults, untraced %.0f ns/fault) | %s | %.3fx | %.3f-%.3f | %.3f-%.3f | %.0f | %s |\n",
			       w ? "read" : "write", mib, reps, faults, base_med / faults,
			       mode_names[m], quantile(r, pairs, 0.5), quantile(r, pairs, 0.25),
			       quantile(r, pairs, 0.75), r[0], r[pairs - 1],
			       quantile(d, pairs, 0.5), runs);
		}
	}
	printf("\nmemlens counting counted %ld faults in its last write run (%ld touches).\n",
	       counted, faults);
	return 0;
}

/* A process holding @mib MiB touched and sparse mappings, until killed. */
static pid_t start_target(long mib, int ready)
{
	pid_t pid = fork();
	long i;

	if (pid)
		return pid;
	{
		volatile char *p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *s;

		madvise((void *)p, mib << 20, MADV_NOHUGEPAGE);
		for (i = 0; i < (mib << 20) / (long)PAGE; i++)
			p[i * PAGE] = 1;
		for (i = 0; i < 16; i++) {
			s = mmap(NULL, 1UL << 30, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			s[(i * 7919 % 262144) * PAGE] = 1;
		}
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Present pages of every VMA of @pid from /proc/PID/pagemap, in chunks. */
static long pagemap_scan(pid_t pid)
{
	static __u64 buf[65536];
	unsigned long long lo, hi, a;
	char path[64], line[512];
	long present = 0;
	FILE *maps;
	int fd;
	ssize_t n, i;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	while (maps && fd >= 0 && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%llx-%llx", &lo, &hi) != 2 || lo >= 0xffffffffff600000ULL)
			continue;
		for (a = lo; a < hi; a += n / 8 * PAGE) {
			size_t want = (hi - a) / PAGE;

			if (want > 65536)
				want = 65536;
			n = pread(fd, buf, want * 8, a / PAGE * 8);
			if (n <= 0)
				break;
			for (i = 0; i < n / 8; i++)
				present += buf[i] >> 63;
		}
	}
	if (maps)
		fclose(maps);
	if (fd >= 0)
		close(fd);
	return present;
}

static int bench_walk(long mib, int runs)
{
	double t, best_bpf = 0, best_map = 0, t_full;
	struct ml_pagetable pt;
	struct ml_pgwalk *w;
	int ready[2], run;
	long present = 0;
	char c;
	pid_t pid;

	if (pipe(ready))
		return 1;
	pid = start_target(mib, ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return 1;
	t = now();
	if (ml_pagetable_walk(pid, &pt)) {
		fprintf(stderr, "bpf_bench: %s\n", ml_bpf_error());
		kill(pid, SIGKILL);
		return 1;
	}
	t_full = now() - t;
	ml_pagetable_free(&pt);
	if (ml_pgwalk_open(&w, pid))
		return 1;
	for (run = 0; run < runs; run++) {
		t = now();
		if (ml_pgwalk_run(w, &pt))
			return 1;
		t = now() - t;
		if (!best_bpf || t < best_bpf)
			best_bpf = t;
		if (run < runs - 1)
			ml_pagetable_free(&pt);
		t = now();
		present = pagemap_scan(pid);
		t = now() - t;
		if (!best_map || t < best_map)
			best_map = t;
	}
	ml_pgwalk_close(w);
	printf("| target | method | best of %d | ratio to pagemap |\n|---|---|---|---|\n", runs);
	printf("| %ld MiB touched + 16 sparse 1 GiB VMAs, %llu VMAs | BPF walk (loaded once) | %.2f ms | %.1fx faster |\n",
	       mib, (unsigned long long)pt.sum.vmas, best_bpf * 1e3, best_map / best_bpf);
	printf("| same | memlens pagetable (load + direct-map probe + walk) | %.2f ms | %.1fx |\n",
	       t_full * 1e3, best_map / t_full);
	printf("| same | /proc/PID/pagemap scan of every VMA | %.2f ms | 1.0x |\n", best_map * 1e3);
	printf("\nBPF: %llu 4K leaves, %llu PTE tables; pagemap: %ld present pages.\n",
	       (unsigned long long)pt.sum.leaf_4k, (unsigned long long)pt.sum.tables_pte, present);
	ml_pagetable_free(&pt);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	static char empty[4096];

	if (argc == 4 && !strcmp(argv[1], "touch"))
		return touch(atol(argv[2]), atol(argv[3]), true);
	if (argc == 4 && !strcmp(argv[1], "read"))
		return touch(atol(argv[2]), atol(argv[3]), false);
	if (argc == 5 && !strcmp(argv[1], "faults")) {
		/* bench_empty.bpf.o sits beside this program. */
		const char *slash = strrchr(argv[0], '/');

		snprintf(empty, sizeof(empty), "%.*sbench_empty.bpf.o",
			 slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
		empty_path = empty;
		return bench_faults(argv[0], atol(argv[2]), atol(argv[3]), atoi(argv[4]));
	}
	if (argc == 4 && !strcmp(argv[1], "walk"))
		return bench_walk(atol(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: bpf_bench touch|read MIB REPS | faults MIB REPS PAIRS | walk MIB RUNS\n");
	return 2;
}
