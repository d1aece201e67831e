// SPDX-License-Identifier: GPL-2.0
/*
 * Run a command from exec to exit without ptrace.
 *
 * The child waits on a pipe until the parent has opened its perf counter
 * (enable_on_exec: only the command is counted, not memlens' fork), then
 * execs with LD_PRELOAD set; a close-on-exec pipe tells the parent that the
 * exec happened (EOF) or failed (errno), so sampling starts at exec.  While
 * it runs, a pidfd wakes the parent the
 * moment it exits, and between wake-ups /proc/PID/status and smaps_rollup
 * are sampled for page-table bytes, swap and THP.  At exit, wait4() gives
 * the exact fault counts, CPU times and peak RSS (ru_maxrss); those
 * include the command's own waited-for children, as with time(1).  The
 * peak resident is the larger of ru_maxrss and the VmHWM samples.
 *
 * kcost's BPF programs (bpf/kcost.bpf.c) are loaded for the child's PID
 * while it waits on the pipe, before the exec: they count from its first
 * instruction.  The child does nothing but signal() and execve() between
 * the pipe and the exec (its environment is built before the fork), so no
 * memory syscall of memlens' own is counted.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "backend.h"
#include "memlens.h"
#include "mlbpf.h"
#include "runner.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double ml_proc_rollup(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	double v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtod(line + klen + 1, NULL) * 1024;
			break;
		}
	fclose(f);
	return v;
}

#define ROLLUP_MS 100 /* smaps_rollup at most this often */

struct sampler {
	double pte, swap, hwm, thp_at_peak, rss_at_peak, last_rollup;
	int samples;
};

static void sample(pid_t pid, struct sampler *s)
{
	uint64_t kb;
	double rss, thp;

	if (!ml_proc_status_kb(pid, "VmPTE", &kb) && kb * 1024.0 > s->pte)
		s->pte = kb * 1024.0;
	if (!ml_proc_status_kb(pid, "VmSwap", &kb) && kb * 1024.0 > s->swap)
		s->swap = kb * 1024.0;
	if (!ml_proc_status_kb(pid, "VmHWM", &kb) && kb * 1024.0 > s->hwm)
		s->hwm = kb * 1024.0;
	/*
	 * smaps_rollup walks the page tables: a large process pays for it in
	 * CPU, so it is read only when the RSS reached a new peak, at most
	 * every ROLLUP_MS.
	 */
	if (ml_proc_status_kb(pid, "VmRSS", &kb) || kb * 1024.0 <= s->rss_at_peak ||
	    now() - s->last_rollup < ROLLUP_MS / 1000.0)
		goto out;
	s->last_rollup = now();
	rss = ml_proc_rollup(pid, "Rss");
	thp = ml_proc_rollup(pid, "AnonHugePages");
	if (rss > 0 && rss >= s->rss_at_peak) {
		s->rss_at_peak = rss;
		s->thp_at_peak = thp > 0 ? thp : 0;
	}
out:
	s->samples++;
}

static void progress_line(pid_t pid, double elapsed, const struct sampler *s)
{
	char rss[32], pte[32];
	uint64_t kb = 0;

	ml_proc_status_kb(pid, "VmRSS", &kb);
	fprintf(stderr, "\r\033[K  memlens run: %.1f s, rss %s, page tables %s", elapsed,
		ml_fmt_bytes(rss, sizeof(rss), kb * 1024.0),
		ml_fmt_bytes(pte, sizeof(pte), s->pte));
}

/* Is "NAME=..." @e the variable @var ("NAME=VALUE" or "NAME")? */
static bool same_var(const char *e, const char *var)
{
	size_t n = strcspn(var, "=");

	return !strncmp(e, var, n) && e[n] == '=';
}

/*
 * The command's environment: ours, with LD_PRELOAD set to @alloc's
 * library and its variant's variables set; built before the fork so that
 * the child allocates nothing.  NULL when out of memory.
 */
static char **child_env(const struct ml_allocator *alloc, char *preload, size_t len)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + alloc->nenv + 2, sizeof(*env));
	if (!env)
		return NULL;
	snprintf(preload, len, "LD_PRELOAD=%s", alloc->path);
	for (size_t i = 0; i < n; i++) {
		bool drop = alloc->path[0] && same_var(environ[i], preload);

		for (int v = 0; v < alloc->nenv && !drop; v++)
			drop = same_var(environ[i], alloc->env[v]);
		if (!drop)
			env[k++] = environ[i];
	}
	if (alloc->path[0])
		env[k++] = preload;
	for (int v = 0; v < alloc->nenv; v++)
		env[k++] = (char *)alloc->env[v];
	return env;
}

static void child(char *const argv[], char **env, int go, int report, enum ml_child_out out)
{
	char c;

	if (out == ML_CHILD_OUT_NULL) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0 && null != 1) {
			dup2(null, 1);
			close(null);
		}
	} else if (out == ML_CHILD_OUT_STDERR) {
		dup2(2, 1);
	}
	if (read(go, &c, 1) != 1)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	environ = env;
	execvp(argv[0], argv);
	c = (char)errno;
	if (write(report, &c, 1) != 1)
		_exit(126);
	_exit(127);
}

static void fill_result(struct ml_run_result *res, const struct rusage *ru, const struct sampler *s,
			int st)
{
	res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	res->user = ml_have(ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6, ML_SRC_RUSAGE);
	res->sys = ml_have(ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6, ML_SRC_RUSAGE);
	/*
	 * ru_maxrss is the mm's hiwater mark at exit, which the kernel
	 * updates lazily (not on MADV_DONTNEED): an allocator that returns
	 * memory before exiting can leave it below a VmHWM seen earlier.
	 */
	if (ru->ru_maxrss * 1024.0 >= s->hwm)
		res->peak_rss = ml_have(ru->ru_maxrss * 1024.0, ML_SRC_RUSAGE);
	else
		res->peak_rss = ml_have(s->hwm, ML_SRC_PROC);
	res->minflt = ml_have((double)ru->ru_minflt, ML_SRC_RUSAGE);
	res->majflt = ml_have((double)ru->ru_majflt, ML_SRC_RUSAGE);
	res->samples = s->samples;
	if (!s->samples) {
		res->peak_pgtable = res->peak_swap = res->thp_coverage =
			ml_none("exited before the first /proc sample");
		return;
	}
	res->peak_pgtable = ml_have(s->pte, ML_SRC_PROC);
	res->peak_swap = ml_have(s->swap, ML_SRC_PROC);
	res->thp_coverage = s->rss_at_peak > 0 ?
				    ml_have(100.0 * s->thp_at_peak / s->rss_at_peak, ML_SRC_PROC) :
				    ml_none("no resident memory sampled");
}

static void kcost_none(struct ml_run_result *res, const char *why)
{
	res->kc_calls = res->kc_given_back = res->kc_refaults = res->kc_ns = res->kc_tlb =
		res->kc_tlb_received = ml_none(why);
}

/*
 * The reasons kcost was unavailable, kept for the reports (an ml_val
 * points at its reason): the same reason, once.
 */
static const char *kcost_reason(const char *why)
{
	static char reasons[4][300];
	static int n;
	char buf[300];

	snprintf(buf, sizeof(buf), "kcost unavailable: %s (see memlens doctor)", why);
	for (int i = 0; i < n; i++)
		if (!strcmp(reasons[i], buf))
			return reasons[i];
	if (n == 4)
		return "kcost unavailable (see memlens doctor)";
	snprintf(reasons[n], sizeof(reasons[0]), "%s", buf);
	return reasons[n++];
}

/* kcost's counters at exit, summed into the run's figures. */
static void kcost_result(struct ml_kcost *k, struct ml_run_result *res)
{
	struct kc_call_stats *c = calloc(KC_CALLS, sizeof(*c));
	struct kc_fault_stats f;
	__u64 calls = 0, ns = 0, tlb = 0, refaults = 0;

	if (!c || ml_kcost_read(k, c, &f)) {
		kcost_none(res, kcost_reason(c ? ml_bpf_error() : "out of memory"));
		free(c);
		return;
	}
	for (int i = 0; i < KC_CALLS; i++) {
		calls += c[i].calls;
		ns += c[i].ns;
		/*
		 * The flushes a call made: not a task switch while it ran (the
		 * scheduler's, not the call's); received IPIs are never charged
		 * to a call.
		 */
		for (int r = 1; r < TLB_REASONS; r++)
			tlb += c[i].tlb[r];
	}
	for (int b = 0; b < KC_AGE_BUCKETS; b++)
		refaults += f.refault[b];
	res->kc_calls = ml_have((double)calls, ML_SRC_BPF);
	res->kc_given_back = ml_have((double)f.given_back, ML_SRC_BPF);
	res->kc_refaults = ml_have((double)refaults, ML_SRC_BPF);
	res->kc_ns = ml_have((double)ns, ML_SRC_BPF);
	if (ml_kcost_has_tlb(k)) {
		res->kc_tlb = ml_have((double)tlb, ML_SRC_BPF);
		res->kc_tlb_received = ml_have((double)(f.tlb_remote + f.tlb_other_mm), ML_SRC_BPF);
	} else {
		res->kc_tlb = res->kc_tlb_received =
			ml_none("no tlb:tlb_flush tracepoint here (see memlens doctor)");
	}
	free(c);
}

int ml_run_measure(char *const argv[], const struct ml_allocator *alloc, int interval_ms,
		   bool progress, enum ml_child_out out, bool kcost, struct ml_run_result *res)
{
	char preload[sizeof(alloc->path) + 16], **env;
	struct ml_kcost *k = NULL;
	int go[2], report[2], perf, pidfd, st = 0;
	struct sampler s = { 0 };
	struct rusage ru;
	bool shown = false;
	double t0, t1;
	uint64_t misses;
	pid_t pid;
	char c;

	memset(res, 0, sizeof(*res));
	res->alloc_loaded = alloc->path[0] ? -1 : 1;
	res->tlb_flushes = ml_none("per-process TLB flushes need the module or BPF backend");
	kcost_none(res, "not counted (--no-kcost)");
	env = child_env(alloc, preload, sizeof(preload));
	if (!env)
		return -ENOMEM;
	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		free(env);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		free(env);
		return -errno;
	}
	if (!pid)
		child(argv, env, go[0], report[1], out);
	free(env);
	close(go[0]);
	close(report[1]);
	/* probed each run, never assumed: where it cannot load, the run goes on */
	if (kcost && ml_kcost_open(&k, pid)) {
		kcost_none(res, kcost_reason(ml_bpf_error()));
		k = NULL;
	}
	perf = ml_perf_open_dtlb(pid, true);
	if (perf < 0)
		res->dtlb_misses = ml_none(
			errno == ENOENT || errno == EOPNOTSUPP || errno == ENODEV ?
				"not supported: no hardware PMU dTLB event (perf_event_open): see memlens doctor" :
				"perf_event_open denied or failed");
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	t0 = now();
	if (write(go[1], "g", 1) != 1)
		kill(pid, SIGKILL);
	close(go[1]);
	/* exec closes the report pipe (EOF) or the child writes errno */
	if (read(report[0], &c, 1) == 1) {
		res->exec_errno = (unsigned char)c;
		close(report[0]);
		report[0] = -1;
	}
	for (;;) {
		struct pollfd p = { pidfd, POLLIN, 0 };
		pid_t w = wait4(pid, &st, WNOHANG, &ru);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			int err = -errno;

			ml_kcost_close(k);
			return err;
		}
		sample(pid, &s);
		/* until the library shows, or libc shows without it */
		if (res->alloc_loaded < 0)
			res->alloc_loaded = ml_allocator_mapped(pid, alloc->path);
		if (progress && now() - t0 >= 1.0) {
			progress_line(pid, now() - t0, &s);
			shown = true;
		}
		if (pidfd >= 0)
			poll(&p, 1, interval_ms);
		else
			usleep(interval_ms * 1000);
	}
	t1 = now();
	if (shown)
		fputs("\r\033[K", stderr);
	if (pidfd >= 0)
		close(pidfd);
	res->wall = ml_have(t1 - t0, ML_SRC_CLOCK);
	fill_result(res, &ru, &s, st);
	if (res->exec_errno)
		res->status = 127;
	else
		close(report[0]);
	if (k) {
		kcost_result(k, res);
		ml_kcost_close(k);
	}
	if (perf >= 0) {
		if (read(perf, &misses, sizeof(misses)) == sizeof(misses))
			res->dtlb_misses = ml_have((double)misses, ML_SRC_PERF);
		else
			res->dtlb_misses = ml_none("reading the perf counter failed");
		close(perf);
	}
	return 0;
}

void ml_emit_run(struct ml_report *r, const struct ml_run_result *res)
{
	char n[16];

	snprintf(n, sizeof(n), "%d", res->samples);
	ml_report_section(r, "result", "Result (exec to exit)");
	ml_report_int(r, "exit_status", "exit status", res->status);
	ml_report_val(r, "wall_seconds", "wall time", ML_UNIT_SECONDS, res->wall);
	ml_report_val(r, "user_seconds", "user CPU", ML_UNIT_SECONDS, res->user);
	ml_report_val(r, "sys_seconds", "system CPU", ML_UNIT_SECONDS, res->sys);
	ml_report_val(r, "peak_resident_bytes", "peak resident", ML_UNIT_BYTES, res->peak_rss);
	ml_report_val(r, "minor_faults_total", "minor faults", ML_UNIT_TOTAL, res->minflt);
	ml_report_val(r, "major_faults_total", "major faults", ML_UNIT_TOTAL, res->majflt);
	ml_report_val(r, "peak_pagetable_bytes", "peak page tables (sampled)", ML_UNIT_BYTES,
		      res->peak_pgtable);
	ml_report_val(r, "peak_swap_bytes", "peak swap (sampled)", ML_UNIT_BYTES, res->peak_swap);
	ml_report_val(r, "thp_coverage_percent", "THP at the RSS peak", ML_UNIT_PERCENT,
		      res->thp_coverage);
	ml_report_val(r, "dtlb_read_misses_total", "dTLB read misses", ML_UNIT_TOTAL,
		      res->dtlb_misses);
	ml_report_val(r, "tlb_flushes_total", "TLB flushes", ML_UNIT_TOTAL, res->tlb_flushes);
	ml_report_int(r, "samples", "/proc samples", res->samples);
	ml_report_section_end(r);
	ml_report_section(r, "kcost", "Kernel cost of memory management (kcost, BPF)");
	if (r->fmt == ML_FMT_TEXT && !ml_known(res->kc_calls)) {
		/* one reason for all six: said once */
		ml_report_val(r, "kcost", "kcost figures", ML_UNIT_TOTAL, res->kc_calls);
		ml_report_section_end(r);
		return;
	}
	ml_report_val(r, "memory_syscalls_total", "memory syscalls", ML_UNIT_TOTAL, res->kc_calls);
	ml_report_val(r, "given_back_bytes", "given back", ML_UNIT_BYTES, res->kc_given_back);
	ml_report_val(r, "refaults_total", "refaults", ML_UNIT_TOTAL, res->kc_refaults);
	ml_report_val(r, "memory_syscall_kernel_ns", "kernel ns in memory syscalls", ML_UNIT_TOTAL,
		      res->kc_ns);
	ml_report_val(r, "syscall_tlb_flushes_total", "TLB flushes the calls made", ML_UNIT_TOTAL,
		      res->kc_tlb);
	ml_report_val(r, "tlb_ipis_received_total", "TLB flush IPIs received", ML_UNIT_TOTAL,
		      res->kc_tlb_received);
	ml_report_section_end(r);
}

void ml_stats_of(const struct ml_val *v, int n, struct ml_stats *out)
{
	double sum = 0, sq = 0;

	memset(out, 0, sizeof(*out));
	out->why = n ? v[0].why : "no run";
	for (int i = 0; i < n; i++) {
		if (!ml_known(v[i]))
			continue;
		if (!out->n || v[i].v < out->min)
			out->min = v[i].v;
		if (!out->n || v[i].v > out->max)
			out->max = v[i].v;
		out->n++;
		sum += v[i].v;
		out->src = v[i].src;
	}
	if (!out->n)
		return;
	out->mean = sum / out->n;
	for (int i = 0; i < n; i++)
		if (ml_known(v[i]))
			sq += (v[i].v - out->mean) * (v[i].v - out->mean);
	out->sd = out->n > 1 ? sqrt(sq / (out->n - 1)) : 0;
}

int ml_stats_significant(const struct ml_stats *a, const struct ml_stats *base)
{
	double lo, hi;

	if (a->n < 2 || base->n < 2 || base->mean <= 0)
		return -1;
	lo = (a->mean - a->sd) / (base->mean + base->sd);
	if (base->mean - base->sd <= 0)
		return lo > 1.0; /* the upper end is unbounded */
	hi = (a->mean + a->sd) / (base->mean - base->sd);
	return lo > 1.0 || hi < 1.0;
}

struct ml_val ml_stats_cell(const struct ml_stats *st, int c)
{
	if (!st->n)
		return ml_none(st->why ? st->why : "no successful run");
	switch (c) {
	case 0:
		return ml_have(st->mean, st->src);
	case 1:
		return st->n > 1 ? ml_have(st->sd, st->src) : ml_none("one run: no spread");
	case 2:
		return ml_have(st->min, st->src);
	default:
		return ml_have(st->max, st->src);
	}
}

const char *ml_stats_fmt(char *buf, size_t len, enum ml_unit unit, double v)
{
	if (unit == ML_UNIT_BYTES)
		return ml_fmt_bytes(buf, len, v);
	if (unit == ML_UNIT_SECONDS)
		snprintf(buf, len, "%.3f s", v);
	else if (unit == ML_UNIT_PERCENT)
		snprintf(buf, len, "%.1f%%", v);
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

void ml_stats_print(FILE *out, enum ml_unit unit, const struct ml_stats *st)
{
	char m[32], sd[32], lo[32], hi[32];

	fprintf(out, "%10s +- %-10s (%s - %s)", ml_stats_fmt(m, sizeof(m), unit, st->mean),
		ml_stats_fmt(sd, sizeof(sd), unit, st->sd),
		ml_stats_fmt(lo, sizeof(lo), unit, st->min),
		ml_stats_fmt(hi, sizeof(hi), unit, st->max));
}
