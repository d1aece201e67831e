// SPDX-License-Identifier: GPL-2.0
/*
 * memlens top [-n N] [--sort faults|swap|pgtables]: every user process
 * ranked by page-fault rate (two reads of /proc/PID/stat an interval
 * apart), swap or page-table bytes (/proc/PID/status).  Kernel threads
 * have no user memory and are left out; processes that exit during the
 * interval are left out too.
 */
#include <argp.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inspect.h"
#include "memlens.h"

#define PF_KTHREAD 0x00200000

enum sort_key {
	SORT_FAULTS,
	SORT_SWAP,
	SORT_PGTABLES
};

struct top_args {
	struct ml_common_opts common;
	long n;
	double interval;
	enum sort_key sort;
};

struct proc_row {
	pid_t pid;
	char comm[32];
	double minflt0, majflt0, minflt, majflt;
	double rss, swap, pte;
	double fault_rate, major_rate;
};

enum {
	OPT_N = 'n',
	OPT_SORT = 's',
	OPT_INTERVAL = 'i'
};

static const struct argp_option top_options[] = {
	{ "lines", OPT_N, "N", 0, "show the first N processes (default 15, 0: all)", 0 },
	{ "sort", OPT_SORT, "KEY", 0,
	  "faults (default: minor + major per second), swap or pgtables", 0 },
	{ "interval", OPT_INTERVAL, "SECONDS", 0, "measure fault rates over SECONDS (default 1)",
	  0 },
	{ 0 }
};

static error_t parse_top(int key, char *arg, struct argp_state *state)
{
	struct top_args *a = state->input;
	char *end;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		return 0;
	case OPT_N:
		errno = 0;
		a->n = strtol(arg, &end, 10);
		if (errno || end == arg || *end || a->n < 0) {
			argp_error(state, "-n wants a number, 0 for all");
			return EINVAL;
		}
		return 0;
	case OPT_INTERVAL:
		errno = 0;
		a->interval = strtod(arg, &end);
		if (errno || end == arg || *end || !(a->interval >= 0.05) || a->interval > 3600) {
			argp_error(state, "--interval wants seconds, 0.05 to 3600");
			return EINVAL;
		}
		return 0;
	case OPT_SORT:
		if (!strcmp(arg, "faults"))
			a->sort = SORT_FAULTS;
		else if (!strcmp(arg, "swap"))
			a->sort = SORT_SWAP;
		else if (!strcmp(arg, "pgtables"))
			a->sort = SORT_PGTABLES;
		else {
			argp_error(state, "unknown sort key '%s' (faults, swap, pgtables)", arg);
			return EINVAL;
		}
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "no arguments expected");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child top_children[] = { { &ml_common_argp, 0, "Output and backend:", 0 },
						  { 0 } };

static const struct argp top_argp = {
	.options = top_options,
	.parser = parse_top,
	.doc = "Every user process ranked by page-fault rate, swap or page-table\n"
	       "bytes, measured over one interval.\v"
	       "Examples:\n"
	       "  memlens top\n"
	       "  memlens top -n 5 --sort pgtables\n"
	       "  memlens top --sort swap -n 0 --json\n"
	       "  memlens top --prometheus -n 20 > /var/lib/node_exporter/memlens_top.prom",
	.children = top_children,
};

/* One read of a process; false if it is gone or a kernel thread. */
static bool read_proc(pid_t pid, struct proc_row *r, bool first)
{
	uint64_t mn, mj, kb;
	unsigned long flags;
	char state;

	if (ml_proc_stat(pid, r->comm, sizeof(r->comm), &state, &mn, &mj, &flags) ||
	    (flags & PF_KTHREAD) || state == 'Z')
		return false;
	if (first) {
		r->minflt0 = mn;
		r->majflt0 = mj;
		return true;
	}
	r->minflt = mn;
	r->majflt = mj;
	if (ml_proc_status_kb(pid, "VmRSS", &kb))
		return false;
	r->rss = kb * 1024.0;
	r->swap = ml_proc_status_kb(pid, "VmSwap", &kb) ? 0 : kb * 1024.0;
	r->pte = ml_proc_status_kb(pid, "VmPTE", &kb) ? 0 : kb * 1024.0;
	return true;
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

static int cmp_rows(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;
	double kx, ky;

	switch (sort_by) {
	case SORT_SWAP:
		kx = x->swap;
		ky = y->swap;
		break;
	case SORT_PGTABLES:
		kx = x->pte;
		ky = y->pte;
		break;
	default:
		kx = x->fault_rate;
		ky = y->fault_rate;
	}
	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x->pid - y->pid;
}

static const struct ml_col cols[] = {
	{ "pid", "pid", ML_UNIT_ID },
	{ "comm", "command", ML_UNIT_TEXT },
	{ "faults_per_second", "faults/s", ML_UNIT_PER_SEC },
	{ "major_faults_per_second", "major/s", ML_UNIT_PER_SEC },
	{ "resident_bytes", "rss", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },
	{ "pagetable_bytes", "pgtables", ML_UNIT_BYTES },
};

static void emit(const struct top_args *a, const struct proc_row *rows, int n, enum ml_backend be)
{
	static const char *const keys[] = { "faults", "swap", "pgtables" };
	struct ml_report r;

	ml_report_begin(&r, stdout, a->common.format, "top");
	if (r.fmt == ML_FMT_TEXT) {
		printf("memlens top: %d processes by %s over %.2g s, backend %s\n", n,
		       keys[a->sort], a->interval, ml_backend_name(be));
	} else {
		ml_report_section(&r, "top", NULL);
		ml_report_str(&r, "sort", "sort", keys[a->sort]);
		ml_report_str(&r, "backend", "backend", ml_backend_name(be));
		ml_report_section_end(&r);
	}
	ml_report_table(&r, "processes", "Processes", cols, sizeof(cols) / sizeof(cols[0]),
			ML_SRC_PROC);
	for (int i = 0; i < n && (!a->n || i < a->n); i++) {
		ml_report_cell(&r, ml_have(rows[i].pid, ML_SRC_PROC));
		ml_report_cell_str(&r, rows[i].comm);
		ml_report_cell(&r, ml_have(rows[i].fault_rate, ML_SRC_PROC));
		ml_report_cell(&r, ml_have(rows[i].major_rate, ML_SRC_PROC));
		ml_report_cell(&r, ml_have(rows[i].rss, ML_SRC_PROC));
		ml_report_cell(&r, ml_have(rows[i].swap, ML_SRC_PROC));
		ml_report_cell(&r, ml_have(rows[i].pte, ML_SRC_PROC));
	}
	ml_report_table_end(&r);
	ml_report_end(&r);
}

static int run_top(int argc, char **argv)
{
	struct top_args a = { { ML_BACKEND_AUTO, ML_FMT_TEXT, false }, 15, 1.0, SORT_FAULTS };
	struct proc_row *rows;
	struct timespec ts, t0, t1;
	double dt;
	pid_t *pids = NULL, self = getpid();
	enum ml_backend be;
	int n, kept = 0, ret;

	ret = ml_parse(&top_argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	ret = ml_proc_only(&a.common, "top");
	if (ret)
		return ret;
	be = ML_BACKEND_PROC;
	n = list_pids(&pids);
	if (n < 0)
		return ml_fail(ML_EXIT_ERROR, "cannot read /proc");
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return ml_fail(ML_EXIT_ERROR, "out of memory");
	for (int i = 0; i < n; i++) {
		rows[kept].pid = pids[i];
		if (pids[i] != self && read_proc(pids[i], &rows[kept], true))
			kept++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ts.tv_sec = (time_t)a.interval;
	ts.tv_nsec = (long)((a.interval - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	n = 0;
	for (int i = 0; i < kept; i++) {
		struct proc_row r = rows[i];

		if (!read_proc(r.pid, &r, false))
			continue;
		r.fault_rate = (r.minflt - r.minflt0 + r.majflt - r.majflt0) / dt;
		r.major_rate = (r.majflt - r.majflt0) / dt;
		rows[n++] = r;
	}
	sort_by = a.sort;
	qsort(rows, n, sizeof(*rows), cmp_rows);
	emit(&a, rows, n, be);
	free(rows);
	free(pids);
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_top = {
	.name = "top",
	.summary = "processes ranked by fault rate, swap or page-table bytes",
	.run = run_top,
};
