// SPDX-License-Identifier: GPL-2.0
/*
 * memlens top [-n N] [--sort faults|rss|pss|swap|pgtables] [-i SECONDS]
 * [-b] [--iterations N] [-p PID[,PID...] | --comm NAME | --cgroup PATH]: every user process ranked by page-fault rate (two reads of
 * /proc/PID/stat an interval apart), resident (VmRSS), proportional set
 * size (smaps_rollup's Pss), swap or page-table bytes (/proc/PID/status).
 * On a terminal the screen is redrawn in place every interval, like
 * top(1), until q or Ctrl-C (the terminal restored; Ctrl-Z restores it
 * too, and SIGCONT puts raw mode back and redraws); otherwise, or with
 * -b, one frame per interval is printed (one by default, -d N frames, -d 0
 * until interrupted).  Kernel threads have no user memory and are left
 * out; processes that exit during the interval are left out too.
 */
#include <argp.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inspect.h"
#include "memlens.h"
#include "runner.h"
#include "term.h"

#define PF_KTHREAD 0x00200000

enum sort_key {
	SORT_FAULTS,
	SORT_RSS,
	SORT_PSS,
	SORT_SWAP,
	SORT_PGTABLES
};

static const char *const sort_names[] = { "faults", "rss", "pss", "swap", "pgtables" };

struct top_args {
	struct ml_common_opts common;
	long n;
	bool n_given;
	double interval;
	enum sort_key sort;
	bool batch;
	long iterations;              /* -1: until q on a terminal, 1 in batch mode */
	struct ml_target_opts target; /* only these processes */
	const char *pid_list;         /* -p PID[,PID...] */
	pid_t *pids;                  /* ... parsed, each checked (a thread: its process) */
	int npids;
};

struct proc_row {
	pid_t pid;
	char comm[32];
	double minflt, majflt;
	double rss, swap, pte;
	struct ml_val pss;
	struct ml_val fault_rate, major_rate;
};

enum {
	OPT_N = 'n',
	OPT_SORT = 's',
	OPT_INTERVAL = 'i',
	OPT_BATCH = 'b',
	OPT_PID = 'p',
	/* long only: -d is a duration in faults, tlb and swap, a delay in top(1) */
	OPT_ITER = 0x100
};

static const struct argp_option top_options[] = {
	{ "lines", OPT_N, "N", 0,
	  "show the first N processes (default 15, or what fits a terminal; 0: all)", 0 },
	{ "sort", OPT_SORT, "KEY", 0,
	  "faults (default: minor + major per second), rss, pss, swap or pgtables", 0 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0,
	  "measure fault rates over SECONDS, one frame each (default 1)", 0 },
	{ "batch", OPT_BATCH, NULL, 0,
	  "batch mode for scripts: frames printed one after the other, not redrawn (the default when stdout is not a terminal)",
	  0 },
	{ "iterations", OPT_ITER, "N", 0,
	  "stop after N frames (batch mode's default 1; 0: until interrupted)", 0 },
	{ "pid", OPT_PID, "PID[,PID...]", 0,
	  "only these processes (a thread id: its process, with a note)", 0 },
	{ 0 }
};

static error_t parse_top(int key, char *arg, struct argp_state *state)
{
	struct top_args *a = state->input;
	char *end;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		state->child_inputs[1] = &a->target;
		return 0;
	case OPT_N:
		errno = 0;
		a->n = strtol(arg, &end, 10);
		if (errno || end == arg || *end || a->n < 0) {
			argp_error(state, "-n wants a number, 0 for all");
			return EINVAL;
		}
		a->n_given = true;
		return 0;
	case OPT_INTERVAL:
		if (ml_parse_double(arg, 0.05, 3600, &a->interval)) {
			argp_error(state, "--interval wants seconds, 0.05 to 3600");
			return EINVAL;
		}
		return 0;
	case OPT_BATCH:
		a->batch = true;
		return 0;
	case OPT_PID: {
		char *list = strdup(arg), *save = NULL, *tok;

		a->pid_list = arg;
		a->npids = 0;
		a->pids = list ? calloc(strlen(arg) / 2 + 1, sizeof(*a->pids)) : NULL;
		if (!a->pids) {
			free(list);
			argp_error(state, "out of memory");
			return ENOMEM;
		}
		/* strtok_r() would skip an empty item: "1,,2" is refused */
		for (tok = list; tok; tok = save) {
			save = strchr(tok, ',');
			if (save)
				*save++ = '\0';
			if (ml_pid_parse(tok, &a->pids[a->npids])) {
				argp_error(state, "invalid PID '%s' in -p %s", tok, arg);
				free(list);
				return EINVAL;
			}
			a->npids++;
		}
		free(list);
		return 0;
	}
	case ARGP_KEY_END:
		if (a->pid_list && ml_target_given(&a->target)) {
			argp_error(state, "give -p or --comm/--cgroup, not both");
			return EINVAL;
		}
		return 0;
	case OPT_ITER:
		errno = 0;
		a->iterations = strtol(arg, &end, 10);
		if (errno || end == arg || *end || a->iterations < 0 ||
		    a->iterations > 1000000000) {
			argp_error(state,
				   "--iterations wants a number of frames, 0 for until stopped");
			return EINVAL;
		}
		return 0;
	case OPT_SORT:
		for (unsigned int i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
			if (!strcmp(arg, sort_names[i])) {
				a->sort = i;
				return 0;
			}
		argp_error(state, "unknown sort key '%s' (faults, rss, pss, swap, pgtables)", arg);
		return EINVAL;
	case ARGP_KEY_ARG:
		argp_error(state, "no arguments expected");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child top_children[] = { { &ml_common_argp, 0, "Output and backend:", 0 },
						  { &ml_target_filter_argp, 0,
						    "Which processes:", 0 },
						  { 0 } };

static const struct argp top_argp = {
	.options = top_options,
	.parser = parse_top,
	.doc = "Every user process ranked by page-fault rate, resident, PSS, swap or\n"
	       "page-table bytes, measured over one interval.  On a terminal the\n"
	       "screen is redrawn in place every interval until q or Ctrl-C; with -b\n"
	       "or when stdout is not a terminal, frames are printed one after the\n"
	       "other (one JSON document per line with --json), one by default.\v"
	       "Examples:\n"
	       "  memlens top\n"
	       "  memlens top -n 5 --sort pss\n"
	       "  memlens top --comm postgres --sort rss\n"
	       "  memlens top -p 1234,5678 -n 0\n"
	       "  memlens top -b --iterations 10 -i 2 --json > frames.ndjson\n"
	       "  memlens top --sort swap -n 0 --json\n"
	       "  memlens top --prometheus -n 20 > /var/lib/node_exporter/memlens_top.prom",
	.children = top_children,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* One read of a process; false if it is gone or a kernel thread. */
static bool read_proc(pid_t pid, struct proc_row *r)
{
	uint64_t mn, mj, kb;
	unsigned long flags;
	char state;

	memset(r, 0, sizeof(*r));
	r->pid = pid;
	if (ml_proc_stat(pid, r->comm, sizeof(r->comm), &state, &mn, &mj, &flags) ||
	    (flags & PF_KTHREAD) || state == 'Z')
		return false;
	r->minflt = mn;
	r->majflt = mj;
	if (ml_proc_status_kb(pid, "VmRSS", &kb))
		return false;
	r->rss = kb * 1024.0;
	r->swap = ml_proc_status_kb(pid, "VmSwap", &kb) ? 0 : kb * 1024.0;
	r->pte = ml_proc_status_kb(pid, "VmPTE", &kb) ? 0 : kb * 1024.0;
	return true;
}

/*
 * Pss of smaps_rollup, which walks the page tables: read for the rows
 * shown only, unless they are sorted by it (a large process's walk, under
 * its mmap lock, costs more than all of /proc/PID/status).
 */
static void read_pss(struct proc_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		double pss = ml_proc_rollup(rows[i].pid, "Pss");

		rows[i].pss = pss >= 0 ?
				      ml_have(pss, ML_SRC_PROC) :
				      ml_none("smaps_rollup unreadable (another user's process?)");
	}
}

static int list_pids(pid_t **out)
{
	struct dirent *d;
	int n = 0, cap = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (n == cap) {
			pid_t *p = realloc(*out, (cap = cap ? 2 * cap : 1024) * sizeof(**out));

			if (!p) {
				closedir(dir);
				return -ENOMEM;
			}
			*out = p;
		}
		(*out)[n++] = atoi(d->d_name);
	}
	closedir(dir);
	return n;
}

static enum sort_key sort_by;

static double known_or(struct ml_val v, double dflt)
{
	return ml_known(v) ? v.v : dflt;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;
	double kx, ky;

	switch (sort_by) {
	case SORT_RSS:
		kx = x->rss;
		ky = y->rss;
		break;
	case SORT_PSS:
		kx = known_or(x->pss, -1);
		ky = known_or(y->pss, -1);
		break;
	case SORT_SWAP:
		kx = x->swap;
		ky = y->swap;
		break;
	case SORT_PGTABLES:
		kx = x->pte;
		ky = y->pte;
		break;
	default:
		kx = known_or(x->fault_rate, -1);
		ky = known_or(y->fault_rate, -1);
	}
	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x->pid - y->pid;
}

static int cmp_pid(const void *a, const void *b)
{
	return ((const struct proc_row *)a)->pid - ((const struct proc_row *)b)->pid;
}

static const struct ml_col cols[] = {
	{ "pid", "pid", ML_UNIT_ID },
	{ "comm", "command", ML_UNIT_TEXT },
	{ "faults_per_second", "faults/s", ML_UNIT_PER_SEC },
	{ "major_faults_per_second", "major/s", ML_UNIT_PER_SEC },
	{ "resident_bytes", "rss", ML_UNIT_BYTES },
	{ "pss_bytes", "pss", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },
	{ "pagetable_bytes", "pgtables", ML_UNIT_BYTES },
};

/* A terminal narrower than NARROW_COLS: the table without major/s (about 9 columns). */
#define NARROW_COLS 90

static const struct ml_col narrow_cols[] = {
	{ "pid", "pid", ML_UNIT_ID },
	{ "comm", "command", ML_UNIT_TEXT },
	{ "faults_per_second", "faults/s", ML_UNIT_PER_SEC },
	{ "resident_bytes", "rss", ML_UNIT_BYTES },
	{ "pss_bytes", "pss", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },
	{ "pagetable_bytes", "pgtables", ML_UNIT_BYTES },
};

struct frame {
	int index;
	double dt;         /* seconds since the previous sample */
	long long unix_ms; /* CLOCK_REALTIME when this frame's sample began */
	enum ml_backend be;
	bool live;   /* redrawn on a terminal */
	bool narrow; /* ... narrower than NARROW_COLS */
	long rows;   /* rows to show, 0: all */
};

static void emit(FILE *out, const struct top_args *a, const struct frame *fr,
		 const struct proc_row *rows, int n)
{
	struct ml_report r;

	ml_report_begin(&r, out, a->common.format, "top");
	if (r.fmt == ML_FMT_TEXT) {
		/* on a terminal, what matters first: the line is cut to fit */
		if (fr->live) {
			char tb[16];
			time_t t = fr->unix_ms / 1000;
			struct tm tm;

			strftime(tb, sizeof(tb), "%H:%M:%S", localtime_r(&t, &tm));
			fprintf(out, "memlens top: q quits  %s  ", tb);
		} else {
			fputs("memlens top: ", out);
		}
		fprintf(out, "%d processes by %s over %.2g s, backend %s\n", n, sort_names[a->sort],
			fr->dt, ml_backend_name(fr->be));
	} else {
		ml_report_section(&r, "top", NULL);
		ml_report_str(&r, "sort", "sort", sort_names[a->sort]);
		ml_report_str(&r, "backend", "backend", ml_backend_name(fr->be));
		ml_report_section_end(&r);
		ml_report_section(&r, "frame", NULL);
		ml_report_int(&r, "index", "frame", fr->index);
		ml_report_int(&r, "time_unix_ms", "time (ms since the epoch)", fr->unix_ms);
		ml_report_val(&r, "interval_seconds", "measured over", ML_UNIT_SECONDS,
			      ml_have(fr->dt, ML_SRC_CLOCK));
		ml_report_section_end(&r);
	}
	if (fr->narrow)
		ml_report_table(&r, "processes", "Processes", narrow_cols,
				sizeof(narrow_cols) / sizeof(narrow_cols[0]), ML_SRC_PROC);
	else
		ml_report_table(&r, "processes", "Processes", cols, sizeof(cols) / sizeof(cols[0]),
				ML_SRC_PROC);
	for (int i = 0; i < n && (!fr->rows || i < fr->rows); i++) {
		ml_report_cell(&r, ml_have(rows[i].pid, ML_SRC_PROC));
		ml_report_cell_str(&r, rows[i].comm);
		ml_report_cell(&r, rows[i].fault_rate);
		if (!fr->narrow)
			ml_report_cell(&r, rows[i].major_rate);
		ml_report_cell(&r, ml_have(rows[i].rss, ML_SRC_PROC));
		ml_report_cell(&r, rows[i].pss);
		ml_report_cell(&r, ml_have(rows[i].swap, ML_SRC_PROC));
		ml_report_cell(&r, ml_have(rows[i].pte, ML_SRC_PROC));
	}
	ml_report_table_end(&r);
	ml_report_end(&r);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const struct top_args *filter; /* --comm, --cgroup */

/*
 * Every user process but memlens itself (or those --comm or --cgroup
 * names, found again at each sample), sorted by PID; -errno.
 */
static int sample(struct proc_row **out)
{
	pid_t *pids = NULL, self = getpid();
	struct proc_row *rows;
	int n, kept = 0;

	if (filter->npids) {
		/* those of -p still there; gone ones leave their rows */
		pids = malloc(filter->npids * sizeof(*pids));
		if (!pids)
			return -ENOMEM;
		memcpy(pids, filter->pids, filter->npids * sizeof(*pids));
		n = filter->npids;
	} else if (ml_target_given(&filter->target)) {
		/* quiet: a frame where none is left has no rows */
		if (ml_target_resolve(NULL, filter->target.comm, filter->target.cgroup, &pids, &n))
			n = 0;
	} else {
		n = list_pids(&pids);
	}
	if (n < 0)
		return n;
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(pids);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		if (pids[i] != self && read_proc(pids[i], &rows[kept]))
			kept++;
	free(pids);
	qsort(rows, kept, sizeof(*rows), cmp_pid);
	*out = rows;
	return kept;
}

/* Rates of @cur against @prev (both by PID), dt seconds apart. */
static void rates(struct proc_row *cur, int n, const struct proc_row *prev, int np, double dt)
{
	for (int i = 0; i < n; i++) {
		const struct proc_row *p = bsearch(&cur[i], prev, np, sizeof(*prev), cmp_pid);

		if (!p || strcmp(p->comm, cur[i].comm) || p->minflt > cur[i].minflt) {
			cur[i].fault_rate = cur[i].major_rate =
				ml_none("new since the last sample");
			continue;
		}
		cur[i].fault_rate = ml_have(
			(cur[i].minflt - p->minflt + cur[i].majflt - p->majflt) / dt, ML_SRC_PROC);
		cur[i].major_rate = ml_have((cur[i].majflt - p->majflt) / dt, ML_SRC_PROC);
	}
}

/*
 * Until @t, or a signal; on a terminal, or until q.  Keys are looked at
 * even when @t has passed already: on a loaded machine every frame can be
 * late, and q must still quit.  True when the wait ended on a SIGCONT
 * after Ctrl-Z (term.c restored the terminal for the stop and put raw mode
 * back): the screen is to be drawn again.
 */
static bool wait_until(double t, bool keys)
{
	while (!stop) {
		double left = t - now();
		struct timespec ts;
		int c;

		if (ml_term_resumed())
			return true;
		if (keys) {
			c = ml_term_key(0, left > 0 ? (int)(left * 1000) + 1 : 0);
			if (c == 'q' || c == 'Q')
				stop = SIGINT;
			if (c == -2)
				keys = false; /* the terminal hung up: sleep instead */
			if (now() >= t)
				return ml_term_resumed();
			continue;
		}
		if (left <= 0)
			return false;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL); /* EINTR on a signal: the loop checks stop */
	}
	return false;
}

/* The last frame drawn on the terminal, at its current size. */
static void redraw(const char *last)
{
	if (last)
		ml_term_draw(stdout, last, ml_term_cols(1), ml_term_rows(1));
}

static int top_loop(const struct top_args *a, struct frame *fr)
{
	struct proc_row *prev = NULL, *cur = NULL;
	bool keys = fr->live && isatty(0) && !ml_term_raw(0, stdout);
	char *last = NULL; /* the frame on the screen */
	double t_prev, t0;
	int np, n, ret = 0;

	np = sample(&prev);
	if (np < 0)
		return ml_fail(ML_EXIT_ERROR, "cannot read /proc");
	t0 = t_prev = now();
	for (fr->index = 0; !stop && (!a->iterations || fr->index < a->iterations); fr->index++) {
		struct timespec rt;
		double t;

		while (wait_until(t0 + (fr->index + 1) * a->interval, keys)) {
			/* back from Ctrl-Z: the screen as it was, the next frame an interval on */
			redraw(last);
			t0 = now() - fr->index * a->interval;
		}
		if (stop)
			break;
		t = now();
		clock_gettime(CLOCK_REALTIME, &rt);
		n = sample(&cur);
		if (n < 0) {
			ret = ml_fail(ML_EXIT_ERROR, "cannot read /proc");
			break;
		}
		fr->dt = t - t_prev;
		fr->unix_ms = rt.tv_sec * 1000LL + rt.tv_nsec / 1000000;
		rates(cur, n, prev, np, fr->dt);
		free(prev);
		prev = cur;
		np = n;
		t_prev = t;
		if (fr->live && !a->n_given) {
			int rows = ml_term_rows(1);

			fr->rows = rows > 5 ? rows - 5 : 1;
		}
		if (a->sort == SORT_PSS)
			read_pss(cur, n);
		sort_by = a->sort;
		qsort(cur, n, sizeof(*cur), cmp_rows);
		if (a->sort != SORT_PSS)
			read_pss(cur, fr->rows && fr->rows < n ? (int)fr->rows : n);
		if (fr->live) {
			char *buf = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&buf, &len);
			int rows = ml_term_rows(1), cols = ml_term_cols(1);

			if (!m)
				break;
			fr->narrow = cols < NARROW_COLS;
			emit(m, a, fr, cur, n);
			fclose(m);
			ml_term_draw(stdout, buf, cols, rows);
			free(last);
			last = buf;
		} else {
			emit(stdout, a, fr, cur, n);
		}
		/* prev holds this sample, sorted for the screen: by PID again */
		qsort(prev, np, sizeof(*prev), cmp_pid);
	}
	free(prev);
	free(last);
	if (fr->live) {
		ml_term_restore();
		fputs("\n", stdout);
	}
	return ret;
}

static int run_top(int argc, char **argv)
{
	struct top_args a = { { ML_BACKEND_AUTO, ML_FMT_TEXT, false },
			      15,
			      false,
			      1.0,
			      SORT_FAULTS,
			      false,
			      -1,
			      { NULL, NULL },
			      NULL,
			      NULL,
			      0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct frame fr = { 0 };
	int ret;

	ret = ml_parse(&top_argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	ret = ml_proc_only(&a.common, "top");
	if (ret)
		return ret;
	fr.be = ML_BACKEND_PROC;
	if (ml_target_given(&a.target)) {
		pid_t *pids;
		int n;

		/* nothing to show: exit 3 with one line, before any frame */
		ret = ml_target_resolve("top", a.target.comm, a.target.cgroup, &pids, &n);
		if (ret)
			return ret;
		free(pids);
	}
	/* -p: every PID a process with user memory, else its exit code (one line each) */
	for (int i = 0; i < a.npids; i++) {
		ret = ml_target_check("top", &a.pids[i]);
		if (ret)
			return ret;
		/* a thread and its process given both: one row */
		for (int j = 0; j < i; j++)
			if (a.pids[j] == a.pids[i]) {
				a.pids[i--] = a.pids[--a.npids];
				break;
			}
	}
	filter = &a;
	fr.live = !a.batch && a.common.format == ML_FMT_TEXT && isatty(1);
	fr.rows = a.n;
	if (a.iterations < 0)
		a.iterations = fr.live ? 0 : 1;
	/* no SA_RESTART: a signal ends the wait at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = top_loop(&a, &fr);
	if (stop && fr.live)
		return ML_EXIT_OK;
	return ret;
}

const struct ml_command ml_cmd_top = {
	.name = "top",
	.summary = "processes ranked live by faults, rss, pss, swap or page tables",
	.run = run_top,
};
