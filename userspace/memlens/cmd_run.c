// SPDX-License-Identifier: GPL-2.0
/*
 * memlens run [--allocator NAME|PATH] -- CMD ARGS...: run a command under
 * an allocator (LD_PRELOAD) and report its memory from exec to exit.
 */
#include <argp.h>
#include <errno.h>
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
	char **cmd;
};

enum {
	OPT_ALLOC = 'a',
	OPT_OUTPUT = 'o',
	OPT_INTERVAL = 'i'
};

static const struct argp_option run_options[] = {
	{ "allocator", OPT_ALLOC, "NAME", 0,
	  "glibc (default), mlalloc, jemalloc, tcmalloc, mimalloc, or a path to a shared library to LD_PRELOAD",
	  0 },
	{ "interval", OPT_INTERVAL, "MS", 0,
	  "sample /proc every MS milliseconds while it runs (default 20)", 0 },
	{ "output", OPT_OUTPUT, "FILE", 0, "write the report to FILE instead of stdout", 0 },
	{ 0 }
};

/* A positive integer option; EINVAL otherwise. */
static int parse_ms(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 60000)
		return EINVAL;
	*out = (int)v;
	return 0;
}

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
	case OPT_INTERVAL:
		if (parse_ms(arg, &a->interval_ms)) {
			argp_error(state, "--interval wants milliseconds, 1 to 60000");
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
	       "/proc), dTLB misses (perf, when the CPU has a PMU).  No ptrace.  A\n"
	       "progress line shows on a terminal after one second.  With --json or\n"
	       "--prometheus on stdout (no -o), the command's stdout goes to stderr.\n"
	       "An allocator that LD_PRELOAD cannot load (not a shared library, a\n"
	       "static or set[ug]id command) is refused before the run, one that did\n"
	       "not load (libc mapped, the allocator not) after it.\v"
	       "Examples:\n"
	       "  memlens run -- sort -S 200M bigfile\n"
	       "  memlens run --allocator mlalloc -- python3 script.py\n"
	       "  memlens run --allocator /opt/lib/libfoo.so --json -o report.json -- ./server --bench",
	.children = run_children,
};

static void report(FILE *out, const struct run_args *a, const struct ml_allocator *alloc,
		   const struct ml_run_result *res, enum ml_backend be)
{
	struct ml_report r;
	char cmd[1024] = "";
	size_t o = 0;

	for (char **p = a->cmd; *p && o < sizeof(cmd); p++)
		o += snprintf(cmd + o, sizeof(cmd) - o, "%s%s", o ? " " : "", *p);
	ml_report_begin(&r, out, a->common.format, "run");
	ml_report_label(&r, "allocator", alloc->name);
	if (r.fmt == ML_FMT_TEXT)
		fprintf(out, "memlens run: %s, allocator %s, backend %s\n", cmd, alloc->name,
			ml_backend_name(be));
	ml_report_section(&r, "run", NULL);
	if (r.fmt != ML_FMT_TEXT) {
		ml_report_str(&r, "command", "command", cmd);
		ml_report_str(&r, "allocator", "allocator", alloc->name);
	}
	ml_report_str(&r, "preload", "LD_PRELOAD", alloc->path[0] ? alloc->path : "(none)");
	ml_report_str(&r, "allocator_loaded", "allocator loaded",
		      !alloc->path[0] ?
			      "nothing to load (glibc)" :
		      res->alloc_loaded > 0 ?
			      "yes (its library in /proc/PID/maps)" :
			      "not verified (exited before /proc/PID/maps showed its libraries)");
	if (r.fmt != ML_FMT_TEXT)
		ml_report_str(&r, "backend", "backend", ml_backend_name(be));
	ml_report_section_end(&r);
	ml_emit_run(&r, res);
	ml_report_end(&r);
}

static int run_run(int argc, char **argv)
{
	struct run_args a = { { ML_BACKEND_AUTO, ML_FMT_TEXT, false }, "glibc", NULL, 20, NULL };
	struct ml_allocator alloc;
	struct ml_run_result res;
	enum ml_backend be;
	char why[512];
	FILE *out = stdout;
	int ret;

	ret = ml_parse(&run_argp, argc, argv, ARGP_IN_ORDER, &a);
	if (ret != ML_PARSED)
		return ret;
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
	ret = ml_run_measure(a.cmd, &alloc, a.interval_ms, isatty(2),
			     !a.output && a.common.format != ML_FMT_TEXT ? ML_CHILD_OUT_STDERR :
									   ML_CHILD_OUT_KEEP,
			     &res);
	if (ret) {
		snprintf(why, sizeof(why), "cannot start %s: %s", a.cmd[0], strerror(-ret));
		return ml_fail(ML_EXIT_ERROR, why);
	}
	if (res.exec_errno) {
		/* nothing of the command ran: no report */
		snprintf(why, sizeof(why), "cannot run %s: %s", a.cmd[0], strerror(res.exec_errno));
		if (out != stdout)
			fclose(out);
		return ml_fail(127, why);
	}
	if (!res.alloc_loaded) {
		snprintf(
			why, sizeof(why),
			"allocator %.64s was not loaded into %.256s: libc appeared in /proc/PID/maps, its library never did",
			alloc.name, a.cmd[0]);
		if (out != stdout)
			fclose(out);
		return ml_fail(ML_EXIT_ERROR, why);
	}
	report(out, &a, &alloc, &res, be);
	if (out != stdout)
		fclose(out);
	return res.status;
}

const struct ml_command ml_cmd_run = {
	.name = "run",
	.summary = "run a command (under an allocator) and report its memory",
	.run = run_run,
};
