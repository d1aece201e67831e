// SPDX-License-Identifier: GPL-2.0
/*
 * BPF benchmarks (not timed tests; ratios within one run):
 *
 *   bpf_bench touch MIB REPS
 *       the fault-heavy workload: REPS times, map MIB MiB, touch it page
 *       by page, unmap; prints "ns faults" of the touching only.
 *   bpf_bench faults MIB REPS RUNS
 *       that workload untraced, counted by memlens' BPF counting mode
 *       (ml_faults_open() on its tgid, as "memlens faults -p"), and under
 *       "perf stat -e page-faults"; best of RUNS each, ratios to
 *       untraced, the added cost per fault, and the BPF programs' own
 *       run time per call from bpf_enable_stats(BPF_STATS_RUN_TIME).
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

static int touch(long mib, long reps)
{
	long pages = mib * 256, i, r;
	double t0 = now();

	for (r = 0; r < reps; r++) {
		volatile char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 1;
		madvise((void *)p, pages * PAGE, MADV_NOHUGEPAGE);
		for (i = 0; i < pages; i++)
			p[i * PAGE] = 1;
		munmap((void *)p, pages * PAGE);
	}
	printf("%.0f %ld\n", (now() - t0) * 1e9, pages * reps);
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

enum mode { UNTRACED, BPF_COUNTING, PERF_STAT, NR_MODES };
static const char *const mode_names[] = { "untraced", "memlens BPF counting", "perf stat -e page-faults" };

struct prog_stat {
	__u64 ns, cnt;
};

static void prog_stats(struct ml_faults *f, struct prog_stat *sum)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, ml_faults_object(f)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		sum->ns += info.run_time_ns;
		sum->cnt += info.run_cnt;
		if (info.run_cnt)
			fprintf(stderr, "#   %s: %llu runs, %.0f ns per run\n",
				bpf_program__name(p), (unsigned long long)info.run_cnt,
				(double)info.run_time_ns / info.run_cnt);
	}
}

static int bench_faults(const char *self, long mib, long reps, int runs)
{
	double best[NR_MODES] = { 0 };
	char smib[16], sreps[16];
	long faults = 0, counted = 0;
	struct prog_stat st = { 0 };
	int stats_fd, run, m;

	snprintf(smib, sizeof(smib), "%ld", mib);
	snprintf(sreps, sizeof(sreps), "%ld", reps);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	for (run = 0; run < runs; run++) {
		for (m = 0; m < NR_MODES; m++) {
			if (m == PERF_STAT && access("/usr/bin/perf", X_OK))
				continue;	/* no linux-perf (the guests) */
			char *plain[] = { (char *)self, "touch", smib, sreps, NULL };
			char *perf[] = { "perf", "stat", "-e", "page-faults", "-x,", "-o",
					 "/dev/null", "--", (char *)self, "touch", smib, sreps, NULL };
			struct ml_faults *f = NULL;
			struct fault_counts c;
			struct job j;
			double ns;

			if (job_start(&j, m == PERF_STAT ? perf : plain))
				return 1;
			if (m == BPF_COUNTING && ml_faults_open(&f, j.pid)) {
				fprintf(stderr, "bpf_bench: %s\n", ml_bpf_error());
				kill(j.pid, SIGKILL);
				return 1;
			}
			ns = job_finish(&j, &faults);
			if (ns < 0) {
				fprintf(stderr, "bpf_bench: %s run failed\n", mode_names[m]);
				return 1;
			}
			if (f) {
				if (!ml_faults_read(f, j.pid, &c))
					counted = c.minor + c.major;
				if (run == runs - 1)
					prog_stats(f, &st);
				if (run == 0)
					fprintf(stderr, "# %s\n", ml_faults_path(f));
				ml_faults_close(f);
			}
			if (!best[m] || ns < best[m])
				best[m] = ns;
		}
	}
	printf("| workload | mode | best of %d | ratio | added ns/fault |\n|---|---|---|---|---|\n", runs);
	for (m = 0; m < NR_MODES; m++)
		if (best[m])
			printf("| touch %ld MiB x%ld (%ld faults) | %s | %.3f s | %.3fx | %.0f |\n",
			       mib, reps, faults, mode_names[m], best[m] / 1e9,
			       best[m] / best[UNTRACED], (best[m] - best[UNTRACED]) / faults);
	printf("\nBPF counted %ld faults of the workload's %ld touches (last run).\n",
	       counted, faults);
	if (stats_fd >= 0 && st.cnt)
		printf("bpf_enable_stats: %llu program runs in the last counted run, %.0f ns per run, %.0f ns per fault (all programs)\n",
		       (unsigned long long)st.cnt, (double)st.ns / st.cnt,
		       (double)st.ns / (counted ? counted : 1));
	else
		printf("bpf_enable_stats: unavailable (%s)\n", strerror(errno));
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
	if (argc == 4 && !strcmp(argv[1], "touch"))
		return touch(atol(argv[2]), atol(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "faults"))
		return bench_faults(argv[0], atol(argv[2]), atol(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "walk"))
		return bench_walk(atol(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: bpf_bench touch MIB REPS | faults MIB REPS RUNS | walk MIB RUNS\n");
	return 2;
}
