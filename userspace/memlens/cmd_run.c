// SPDX-License-Identifier: GPL-2.0
/*
 * memlens run [--allocator NAME|PATH] [-r N] -- CMD ARGS...: run a command
 * under an allocator (LD_PRELOAD) and report its memory from exec to exit;
 * with -r N, N times after a warm-up run, as mean +- stddev and min - max
 * of each figure (runner.c's statistics, the same as compare's).
 */
#include <argp.h>
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect.h"
#include "memlens.h"
#include "runner.h"

struct run_args {
	struct ml_common_opts common;
	const char *allocator;
	const char *output;
	int interval_ms;
	int repeat, warmup; /* warmup -1: 1 with -r N > 1, else 0 */
	bool no_kcost;
	char **cmd;
};

#define MAX_RUNS 100

enum {
	OPT_ALLOC = 'a',
	OPT_OUTPUT = 'o',
	OPT_INTERVAL = 'i',
	OPT_REPEAT = 'r',
	OPT_WARMUP = 0x4002,
	OPT_NO_KCOST = 0x4003
};

static const struct argp_option run_options[] = {
	{ "allocator", OPT_ALLOC, "NAME", 0,
	  "glibc (default), mlalloc, jemalloc, tcmalloc, mimalloc, or a path to a shared library to LD_PRELOAD; NAME:VAR=VALUE[:VAR=VALUE...] also sets its environment (mlalloc:MLALLOC_PURGE_DELAY=0)",
	  0 },
	{ "interval", OPT_INTERVAL, "MS", 0,
	  "sample /proc every MS milliseconds while it runs (default 20)", 0 },
	{ "output", OPT_OUTPUT, "FILE", 0, "write the report to FILE instead of stdout", 0 },
	{ "repeat", OPT_REPEAT, "N", 0,
	  "run it N times (1 to 100, default 1) and report mean, standard deviation, min and max of each figure",
	  0 },
	{ "warmup", OPT_WARMUP, "N", 0,
	  "runs first and not counted (0 to 10; default 1 with -r N > 1, else 0)", 0 },
	{ "no-kcost", OPT_NO_KCOST, NULL, 0,
	  "do not count the memory syscalls, give-backs, refaults and TLB flushes (kcost, BPF)",
	  0 },
	{ 0 }
};

static error_t parse_run(int key, char *arg, struct argp_state *state)
{
	struct run_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		return 0;
	case OPT_ALLOC:
		a->allocator = arg;
		return 0;
	case OPT_OUTPUT:
		a->output = arg;
		return 0;
	case OPT_NO_KCOST:
		a->no_kcost = true;
		return 0;
	case OPT_INTERVAL:
		if (ml_parse_int(arg, 1, 60000, &a->interval_ms)) {
			argp_error(state, "--interval wants milliseconds, 1 to 60000");
			return EINVAL;
		}
		return 0;
	case OPT_REPEAT:
		if (ml_parse_int(arg, 1, MAX_RUNS, &a->repeat)) {
			argp_error(state, "--repeat wants a number from 1 to %d", MAX_RUNS);
			return EINVAL;
		}
		return 0;
	case OPT_WARMUP:
		if (ml_parse_int(arg, 0, 10, &a->warmup)) {
			argp_error(state, "--warmup wants a number from 0 to 10");
			return EINVAL;
		}
		return 0;
	case ARGP_KEY_ARG:
		/* the command and everything after it are the command's */
		a->cmd = state->argv + state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no command given (memlens run [OPTION...] -- CMD ARGS...)");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child run_children[] = { { &ml_common_argp, 0, "Output and backend:", 0 },
						  { 0 } };

static const struct argp run_argp = {
	.options = run_options,
	.parser = parse_run,
	.args_doc = "-- CMD [ARGS...]",
	.doc = "Run CMD with an allocator preloaded and report its memory from exec\n"
	       "to exit: wall and CPU time, peak resident, minor and major faults\n"
	       "(wait4), peak page-table bytes, swap and THP share (sampled from\n"
	       "/proc), dTLB misses (perf, when the CPU has a PMU), and what its\n"
	       "memory management cost in the kernel (kcost, BPF: memory syscalls,\n"
	       "bytes given back, refaults, kernel ns in those syscalls, the TLB\n"
	       "flushes they made; \"unavailable\" with the reason where BPF cannot\n"
	       "load, and the run goes on).  No ptrace.  A\n"
	       "progress line shows on a terminal after one second.  With --json or\n"
	       "--prometheus on stdout (no -o), the command's stdout goes to stderr.\n"
	       "An allocator that LD_PRELOAD cannot load (not a shared library, a\n"
	       "static or set[ug]id command) is refused before the run, one that did\n"
	       "not load (libc mapped, the allocator not) after it.  With -r N, like\n"
	       "perf stat -r: a warm-up run, then N runs, and for each figure the\n"
	       "mean +- sample standard deviation and min - max.\v"
	       "Examples:\n"
	       "  memlens run -- sort -S 200M bigfile\n"
	       "  memlens run -r 10 -- ./bench\n"
	       "  memlens run --allocator mlalloc -- python3 script.py\n"
	       "  memlens run --allocator mlalloc:MLALLOC_PURGE_DELAY=0 --json -- ./bench\n"
	       "  memlens run --allocator /opt/lib/libfoo.so --json -o report.json -- ./server --bench",
	.children = run_children,
};

/* The figures of a run that -r N gives statistics of: key, title, unit. */
static const struct {
	const char *key, *title;
	enum ml_unit unit;
	size_t off;
} figs[] = {
	{ "wall_seconds", "wall time", ML_UNIT_SECONDS, offsetof(struct ml_run_result, wall) },
	{ "user_seconds", "user CPU", ML_UNIT_SECONDS, offsetof(struct ml_run_result, user) },
	{ "sys_seconds", "system CPU", ML_UNIT_SECONDS, offsetof(struct ml_run_result, sys) },
	{ "peak_resident_bytes", "peak resident", ML_UNIT_BYTES,
	  offsetof(struct ml_run_result, peak_rss) },
	{ "minor_faults", "minor faults", ML_UNIT_COUNT, offsetof(struct ml_run_result, minflt) },
	{ "major_faults", "major faults", ML_UNIT_COUNT, offsetof(struct ml_run_result, majflt) },
	{ "peak_pagetable_bytes", "peak page tables (sampled)", ML_UNIT_BYTES,
	  offsetof(struct ml_run_result, peak_pgtable) },
	{ "peak_swap_bytes", "peak swap (sampled)", ML_UNIT_BYTES,
	  offsetof(struct ml_run_result, peak_swap) },
	{ "thp_coverage_percent", "THP at the RSS peak", ML_UNIT_PERCENT,
	  offsetof(struct ml_run_result, thp_coverage) },
	{ "dtlb_read_misses", "dTLB read misses", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, dtlb_misses) },
	{ "tlb_flushes", "TLB flushes", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, tlb_flushes) },
	{ "memory_syscalls", "memory syscalls", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, kc_calls) },
	{ "given_back_bytes", "given back", ML_UNIT_BYTES,
	  offsetof(struct ml_run_result, kc_given_back) },
	{ "refaults", "refaults", ML_UNIT_COUNT, offsetof(struct ml_run_result, kc_refaults) },
	{ "memory_syscall_kernel_ns", "kernel ns in memory syscalls", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, kc_ns) },
	{ "syscall_tlb_flushes", "TLB flushes the calls made", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, kc_tlb) },
	{ "tlb_ipis_received", "TLB flush IPIs received", ML_UNIT_COUNT,
	  offsetof(struct ml_run_result, kc_tlb_received) },
};

#define NFIGS        ((int)(sizeof(figs) / sizeof(figs[0])))
#define KC_FIRST_FIG 11 /* memory_syscalls: the first of kcost's */

static struct ml_val fig(const struct ml_run_result *res, int f)
{
	return *(const struct ml_val *)((const char *)res + figs[f].off);
}

static const char *const stat_keys[4] = { "mean", "stddev", "min", "max" };

/* Each counted run's figures (JSON only): what the statistics come from. */
static const struct ml_col run_cols[] = {
	{ "run", "run", ML_UNIT_ID },
	{ "exit_status", "status", ML_UNIT_ID },
	{ "wall_seconds", "wall", ML_UNIT_SECONDS },
	{ "user_seconds", "user", ML_UNIT_SECONDS },
	{ "sys_seconds", "sys", ML_UNIT_SECONDS },
	{ "peak_resident_bytes", "peak rss", ML_UNIT_BYTES },
	{ "minor_faults", "minflt", ML_UNIT_TOTAL },
	{ "major_faults", "majflt", ML_UNIT_TOTAL },
	{ "peak_pagetable_bytes", "pgtables", ML_UNIT_BYTES },
	{ "peak_swap_bytes", "swap", ML_UNIT_BYTES },
	{ "thp_coverage_percent", "thp", ML_UNIT_PERCENT },
	{ "dtlb_read_misses", "dtlb miss", ML_UNIT_TOTAL },
	{ "tlb_flushes", "flushes", ML_UNIT_TOTAL },
	{ "memory_syscalls", "mem calls", ML_UNIT_TOTAL },
	{ "given_back_bytes", "given back", ML_UNIT_BYTES },
	{ "refaults", "refaults", ML_UNIT_TOTAL },
	{ "memory_syscall_kernel_ns", "kernel ns", ML_UNIT_TOTAL },
	{ "syscall_tlb_flushes", "call flushes", ML_UNIT_TOTAL },
	{ "tlb_ipis_received", "IPIs rcvd", ML_UNIT_TOTAL },
};

static void report(FILE *out, const struct run_args *a, const struct ml_allocator *alloc,
		   const struct ml_run_result *res, int nres, enum ml_backend be)
{
	struct ml_report r;
	char cmd[1024] = "", loaded[128];
	int verified = 0, failed = 0;
	size_t o = 0;

	for (char **p = a->cmd; *p && o < sizeof(cmd); p++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s%s", o ? " " : "", *p);
	for (int i = 0; i < nres; i++) {
		verified += res[i].alloc_loaded > 0;
		failed += res[i].status != 0;
	}
	if (!alloc->path[0])
		snprintf(loaded, sizeof(loaded), "nothing to load (glibc)");
	else if (verified == nres)
		snprintf(loaded, sizeof(loaded), "yes (its library in /proc/PID/maps)%s",
			 nres > 1 ? ", every run" : "");
	else if (nres == 1)
		snprintf(loaded, sizeof(loaded),
			 "not verified (exited before /proc/PID/maps showed its libraries)");
	else
		snprintf(
			loaded, sizeof(loaded),
			"yes in %d of %d runs, the others exited before /proc/PID/maps showed its libraries",
			verified, nres);
	ml_report_begin(&r, out, a->common.format, "run");
	ml_report_label(&r, "allocator", alloc->name);
	if (r.fmt == ML_FMT_TEXT) {
		fprintf(out, "memlens run: %s, allocator %s, backend %s", cmd, alloc->name,
			ml_backend_name(be));
		if (a->repeat > 1)
			fprintf(out, ", %d runs after %d warm-up run%s", nres, a->warmup,
				a->warmup == 1 ? "" : "s");
		fputc('\n', out);
	}
	ml_report_section(&r, "run", NULL);
	if (r.fmt != ML_FMT_TEXT) {
		ml_report_str(&r, "command", "command", cmd);
		ml_report_str(&r, "allocator", "allocator", alloc->name);
	}
	ml_report_str(&r, "preload", "LD_PRELOAD", alloc->path[0] ? alloc->path : "(none)");
	if (alloc->nenv) {
		char env[ML_ALLOC_ENVS * 258] = "";
		size_t e = 0;

		for (int i = 0; i < alloc->nenv && e < sizeof(env); i++)
			e += snprintf(env + e, sizeof(env) - e, "%s%s", i ? " " : "",
				      alloc->env[i]);
		ml_report_str(&r, "environment", "environment", env);
	}
	ml_report_str(&r, "allocator_loaded", "allocator loaded", loaded);
	if (r.fmt != ML_FMT_TEXT)
		ml_report_str(&r, "backend", "backend", ml_backend_name(be));
	if (a->repeat > 1) {
		ml_report_int(&r, "runs", "runs", nres);
		ml_report_int(&r, "warmup", "warm-up runs", a->warmup);
		ml_report_int(&r, "runs_failed", "runs exited non-zero", failed);
	}
	ml_report_section_end(&r);
	if (a->repeat == 1) {
		ml_emit_run(&r, res);
		ml_report_end(&r);
		return;
	}
	if (r.fmt == ML_FMT_TEXT)
		fprintf(out, "\nResult over %d runs (exec to exit): mean +- stddev (min - max)\n",
			nres);
	else
		ml_report_section(&r, "statistics", NULL);
	for (int f = 0; f < NFIGS; f++) {
		struct ml_val v[MAX_RUNS];
		struct ml_stats st;

		for (int i = 0; i < nres; i++)
			v[i] = fig(&res[i], f);
		ml_stats_of(v, nres, &st);
		if (r.fmt != ML_FMT_TEXT) {
			ml_report_section(&r, figs[f].key, figs[f].title);
			for (int c = 0; c < 4; c++) {
				char help[96];

				snprintf(help, sizeof(help), "%s over %d runs: %s", figs[f].title,
					 nres, stat_keys[c]);
				ml_report_val(&r, stat_keys[c], help, figs[f].unit,
					      ml_stats_cell(&st, c));
			}
			ml_report_section_end(&r);
			continue;
		}
		/* kcost unavailable in every run: its reason once, for its six figures */
		if (f > KC_FIRST_FIG && !st.n && !ml_known(fig(&res[0], KC_FIRST_FIG)))
			continue;
		fprintf(out, "  %-28s ",
			f == KC_FIRST_FIG && !st.n ? "kcost figures" : figs[f].title);
		if (!st.n) {
			fprintf(out, "unavailable: %s\n", st.why ? st.why : "no run");
			continue;
		}
		ml_stats_print(out, figs[f].unit, &st);
		fprintf(out, "  [%s]%s\n", ml_src_name(st.src),
			st.n < nres ? "  (some runs unavailable)" : "");
	}
	if (r.fmt != ML_FMT_TEXT)
		ml_report_section_end(&r);
	if (r.fmt == ML_FMT_JSON) {
		ml_report_table(&r, "runs", "Runs", run_cols,
				sizeof(run_cols) / sizeof(run_cols[0]), ML_SRC_RUSAGE);
		for (int i = 0; i < nres; i++) {
			ml_report_cell(&r, ml_have(i, ML_SRC_CLOCK));
			ml_report_cell(&r, ml_have(res[i].status, ML_SRC_RUSAGE));
			for (int f = 0; f < NFIGS; f++)
				ml_report_cell(&r, fig(&res[i], f));
		}
		ml_report_table_end(&r);
	}
	ml_report_end(&r);
}

static void close_out(FILE *out)
{
	if (out != stdout)
		fclose(out);
}

static int run_run(int argc, char **argv)
{
	struct run_args a = {
		{ ML_BACKEND_AUTO, ML_FMT_TEXT, false }, "glibc", NULL, 20, 1, -1, false, NULL
	};
	static struct ml_run_result res[MAX_RUNS];
	struct ml_allocator alloc;
	enum ml_child_out child_out;
	bool tty = isatty(2);
	enum ml_backend be;
	char why[512];
	FILE *out = stdout;
	int ret, status = 0;

	ret = ml_parse(&run_argp, argc, argv, ARGP_IN_ORDER, &a);
	if (ret != ML_PARSED)
		return ret;
	if (a.warmup < 0)
		a.warmup = a.repeat > 1 ? 1 : 0;
	ret = ml_allocator_find(a.allocator, &alloc, why, sizeof(why));
	if (!ret)
		ret = ml_allocator_check(&alloc, a.cmd, why, sizeof(why));
	if (ret)
		return ml_fail(ret, why);
	ret = ml_proc_only(&a.common, "run");
	if (ret)
		return ret;
	be = ML_BACKEND_PROC;
	if (a.output) {
		out = fopen(a.output, "we");
		if (!out) {
			snprintf(why, sizeof(why), "cannot write %s: %s", a.output,
				 strerror(errno));
			return ml_fail(ML_EXIT_ERROR, why);
		}
	}
	/* Ctrl-C is for the command (same process group); we report after. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* JSON or Prometheus on stdout: the command's output must not mix in */
	child_out = !a.output && a.common.format != ML_FMT_TEXT ? ML_CHILD_OUT_STDERR :
								  ML_CHILD_OUT_KEEP;
	for (int run = -a.warmup; run < a.repeat; run++) {
		struct ml_run_result warm, *x = run < 0 ? &warm : &res[run];
		int total = a.warmup + a.repeat;

		if (tty && total > 1)
			fprintf(stderr, "\r\033[K  memlens run: run %d/%d%s", run + a.warmup + 1,
				total, run < 0 ? " (warm-up)" : "");
		ret = ml_run_measure(a.cmd, &alloc, a.interval_ms, tty && total == 1, child_out,
				     !a.no_kcost, x);
		if (tty && total > 1)
			fputs("\r\033[K", stderr);
		if (ret) {
			snprintf(why, sizeof(why), "cannot start %s: %s", a.cmd[0], strerror(-ret));
			close_out(out);
			return ml_fail(ML_EXIT_ERROR, why);
		}
		if (x->exec_errno) {
			/* nothing of the command ran: no report */
			snprintf(why, sizeof(why), "cannot run %s: %s", a.cmd[0],
				 strerror(x->exec_errno));
			close_out(out);
			return ml_fail(127, why);
		}
		if (!x->alloc_loaded) {
			snprintf(
				why, sizeof(why),
				"allocator %.64s was not loaded into %.256s: libc appeared in /proc/PID/maps, its library never did",
				alloc.name, a.cmd[0]);
			close_out(out);
			return ml_fail(ML_EXIT_ERROR, why);
		}
		if (run >= 0 && !status)
			status = x->status;
	}
	report(out, &a, &alloc, res, a.repeat, be);
	close_out(out);
	return status;
}

const struct ml_command ml_cmd_run = {
	.name = "run",
	.summary = "run a command (under an allocator) and report its memory",
	.run = run_run,
};
