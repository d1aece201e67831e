// SPDX-License-Identifier: GPL-2.0
/*
 * memlens compare --allocators A,B,... [-n RUNS] [--plot FILE.svg] -- CMD:
 * the same command under each allocator, runs interleaved (A B C A B C ...)
 * so that a drift of the machine hits every allocator alike; the table
 * shows medians and ratios to the first allocator, a second table what
 * each run's memory management cost in the kernel (kcost, BPF: memory
 * syscalls, bytes given back, refaults, kernel ns, TLB flushes).  An
 * allocator may be given with a variant's environment,
 * NAME:VAR=VALUE[:VAR=VALUE...] (allocator.c).
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inspect.h"
#include "memlens.h"
#include "runner.h"
#include "svg.h"

#define MAX_ALLOCS 8
#define MAX_RUNS   100

struct compare_args {
	struct ml_common_opts common;
	char *allocators;
	const char *plot;
	int runs, warmup, interval_ms;
	bool show_output, no_kcost;
	char **cmd;
};

/*
 * The figures with a spread: key prefix, text title, unit, the short
 * title of the kcost table's column, where in a run's result.  The first
 * KC_FIRST are the allocators table's, the others the kcost table's.
 */
static const struct {
	const char *key, *title;
	enum ml_unit unit;
	const char *col;
	size_t off;
} spread_figs[] = {
	{ "wall", "wall time", ML_UNIT_SECONDS, NULL, offsetof(struct ml_run_result, wall) },
	{ "peak_resident", "peak resident", ML_UNIT_BYTES, NULL,
	  offsetof(struct ml_run_result, peak_rss) },
	{ "minor_faults", "minor faults", ML_UNIT_TOTAL, NULL,
	  offsetof(struct ml_run_result, minflt) },
	{ "pagetable", "peak page tables", ML_UNIT_BYTES, NULL,
	  offsetof(struct ml_run_result, peak_pgtable) },
	{ "memory_syscalls", "memory syscalls (kcost)", ML_UNIT_TOTAL, "mem calls",
	  offsetof(struct ml_run_result, kc_calls) },
	{ "given_back", "given back (kcost)", ML_UNIT_BYTES, "given back",
	  offsetof(struct ml_run_result, kc_given_back) },
	{ "refaults", "refaults (kcost)", ML_UNIT_TOTAL, "refaults",
	  offsetof(struct ml_run_result, kc_refaults) },
	{ "memory_syscall_kernel_ns", "kernel ns in memory syscalls (kcost)", ML_UNIT_TOTAL,
	  "kernel ns", offsetof(struct ml_run_result, kc_ns) },
	{ "syscall_tlb_flushes", "TLB flushes the calls made (kcost)", ML_UNIT_TOTAL,
	  "call flushes", offsetof(struct ml_run_result, kc_tlb) },
	{ "tlb_ipis_received", "TLB flush IPIs received (kcost)", ML_UNIT_TOTAL, "IPIs rcvd",
	  offsetof(struct ml_run_result, kc_tlb_received) },
};

#define NSPREAD  ((int)(sizeof(spread_figs) / sizeof(spread_figs[0])))
#define KC_FIRST 4

static struct ml_val run_fig(const struct ml_run_result *r, int f)
{
	return *(const struct ml_val *)((const char *)r + spread_figs[f].off);
}

/* The medians of one allocator's runs. */
struct outcome {
	struct ml_allocator alloc;
	int ok, failed;
	struct ml_val wall, rss, minflt, majflt, pte, thp, dtlb, flushes;
	struct ml_val med[NSPREAD]; /* the medians of spread_figs */
	/* over the successful runs, each of spread_figs */
	struct ml_stats st[NSPREAD];
};

enum {
	OPT_ALLOCS = 'a',
	OPT_RUNS = 'n',
	OPT_PLOT = 0x4000,
	OPT_INTERVAL = 'i',
	OPT_SHOW = 0x4001,
	OPT_WARMUP = 0x4002,
	OPT_NO_KCOST = 0x4003
};

static const struct argp_option compare_options[] = {
	{ "allocators", OPT_ALLOCS, "A,B,...", 0,
	  "allocators to compare (glibc, mlalloc, jemalloc, tcmalloc, mimalloc, or paths), each optionally NAME:VAR=VALUE[:VAR=VALUE...] to run it with those variables set (mlalloc:MLALLOC_PURGE_DELAY=0); the first is the baseline",
	  0 },
	{ "runs", OPT_RUNS, "N", 0,
	  "runs per allocator (default 5): mean, standard deviation, min and max, and medians", 0 },
	{ "repeat", 'r', "N", OPTION_ALIAS, NULL, 0 },
	{ "warmup", OPT_WARMUP, "N", 0,
	  "rounds (every allocator once) run first and not counted (default 1)", 0 },
	{ "plot", OPT_PLOT, "FILE.svg", 0, "also write a bar chart as SVG", 0 },
	{ "interval", OPT_INTERVAL, "MS", 0, "/proc sampling interval (default 20)", 0 },
	{ "show-output", OPT_SHOW, NULL, 0, "keep the command's stdout (default: /dev/null)", 0 },
	{ "no-kcost", OPT_NO_KCOST, NULL, 0,
	  "do not count the memory syscalls, give-backs, refaults and TLB flushes (kcost, BPF)",
	  0 },
	{ 0 }
};

static error_t parse_compare(int key, char *arg, struct argp_state *state)
{
	struct compare_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		return 0;
	case OPT_ALLOCS:
		a->allocators = arg;
		return 0;
	case OPT_WARMUP:
		if (ml_parse_int(arg, 0, 10, &a->warmup)) {
			argp_error(state, "--warmup wants a number from 0 to 10");
			return EINVAL;
		}
		return 0;
	case 'r':
	case OPT_RUNS:
		if (ml_parse_int(arg, 1, MAX_RUNS, &a->runs)) {
			argp_error(state, "--runs wants a number from 1 to %d", MAX_RUNS);
			return EINVAL;
		}
		return 0;
	case OPT_INTERVAL:
		if (ml_parse_int(arg, 1, 60000, &a->interval_ms)) {
			argp_error(state, "--interval wants milliseconds, 1 to 60000");
			return EINVAL;
		}
		return 0;
	case OPT_PLOT:
		a->plot = arg;
		return 0;
	case OPT_SHOW:
		a->show_output = true;
		return 0;
	case OPT_NO_KCOST:
		a->no_kcost = true;
		return 0;
	case ARGP_KEY_ARG:
		a->cmd = state->argv + state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state,
			   "no command given (memlens compare --allocators A,B -- CMD ARGS...)");
		return EINVAL;
	case ARGP_KEY_END:
		if (!a->allocators) {
			argp_error(state, "--allocators is required");
			return EINVAL;
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child compare_children[] = {
	{ &ml_common_argp, 0, "Output and backend:", 0 }, { 0 }
};

static const struct argp compare_argp = {
	.options = compare_options,
	.parser = parse_compare,
	.args_doc = "-- CMD [ARGS...]",
	.doc = "Run CMD under each allocator (LD_PRELOAD), RUNS times each, runs\n"
	       "interleaved, and show side by side the medians of wall time, peak\n"
	       "resident, minor and major faults, peak page-table bytes, THP share,\n"
	       "TLB flushes and dTLB misses, with ratios to the first allocator;\n"
	       "then what the allocator made the kernel do (kcost, BPF, attached\n"
	       "before each exec): memory syscalls, bytes given back, refaults,\n"
	       "kernel ns in those syscalls, the TLB flushes they made and the flush\n"
	       "IPIs received.  Each figure also as mean +- stddev (min - max) and\n"
	       "the ratio of the means, marked when the spread holds 1.0.  Where\n"
	       "BPF cannot load, the kcost figures say unavailable, with the reason,\n"
	       "and the runs go on.  NAME:VAR=VALUE runs an allocator with\n"
	       "variables set, so that one allocator's settings can be compared.\v"
	       "Examples:\n"
	       "  memlens compare --allocators glibc,mlalloc -- sort -n numbers.txt\n"
	       "  memlens compare --allocators glibc,mlalloc,jemalloc,tcmalloc,mimalloc \\\n"
	       "      -n 5 --plot allocators.svg -- python3 bench.py\n"
	       "  memlens compare --allocators glibc,./libmy.so --json -- ./app\n"
	       "  memlens compare --allocators mlalloc,mlalloc:MLALLOC_PURGE_DELAY=0 -- ./app",
	.children = compare_children,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the known values of @v[@n]; unavailable with the first reason. */
static struct ml_val median(const struct ml_val *v, int n)
{
	enum ml_src src = ML_SRC_NONE;
	double xs[MAX_RUNS];
	int k = 0;

	for (int i = 0; i < n; i++)
		if (ml_known(v[i])) {
			xs[k++] = v[i].v;
			src = v[i].src;
		}
	if (!k)
		return n ? v[0] : ml_none("no successful run");
	qsort(xs, k, sizeof(xs[0]), cmp_double);
	return ml_have(k % 2 ? xs[k / 2] : (xs[k / 2 - 1] + xs[k / 2]) / 2, src);
}

static struct ml_val ratio(struct ml_val v, struct ml_val base)
{
	if (!ml_known(v) || !ml_known(base))
		return ml_none("value unavailable");
	if (!base.v)
		return ml_none("baseline is zero");
	return ml_have(v.v / base.v, v.src);
}

/* Split "a,b,c" and find each allocator before anything runs. */
static int find_allocators(char *list, struct outcome *o, int *n, char **cmd)
{
	char why[512], *save, *name;
	int ret;

	*n = 0;
	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_ALLOCS)
			return ml_fail(ML_EXIT_USAGE, "at most 8 allocators");
		ret = ml_allocator_find(name, &o[*n].alloc, why, sizeof(why));
		if (!ret)
			ret = ml_allocator_check(&o[*n].alloc, cmd, why, sizeof(why));
		if (ret)
			return ml_fail(ret, why);
		(*n)++;
	}
	if (!*n)
		return ml_fail(ML_EXIT_USAGE, "--allocators is empty");
	return 0;
}

/* Known values of successful runs only. */
static struct ml_val ok_only(const struct ml_run_result *r, struct ml_val v)
{
	return r->status ? ml_none("the run failed") : v;
}

static void summarize(struct outcome *o, const struct ml_run_result *r, int n)
{
	struct ml_val w[MAX_RUNS], rss[MAX_RUNS], mn[MAX_RUNS], mj[MAX_RUNS];
	struct ml_val pte[MAX_RUNS], thp[MAX_RUNS], dt[MAX_RUNS], fl[MAX_RUNS];
	struct ml_val v[MAX_RUNS];

	for (int i = 0; i < n; i++) {
		o->ok += !r[i].status;
		o->failed += !!r[i].status;
		w[i] = ok_only(&r[i], r[i].wall);
		rss[i] = ok_only(&r[i], r[i].peak_rss);
		mn[i] = ok_only(&r[i], r[i].minflt);
		mj[i] = ok_only(&r[i], r[i].majflt);
		pte[i] = ok_only(&r[i], r[i].peak_pgtable);
		thp[i] = ok_only(&r[i], r[i].thp_coverage);
		dt[i] = ok_only(&r[i], r[i].dtlb_misses);
		fl[i] = r[i].tlb_flushes;
	}
	for (int f = 0; f < NSPREAD; f++) {
		for (int i = 0; i < n; i++)
			v[i] = ok_only(&r[i], run_fig(&r[i], f));
		ml_stats_of(v, n, &o->st[f]);
		o->med[f] = median(v, n);
	}
	o->wall = median(w, n);
	o->rss = median(rss, n);
	o->minflt = median(mn, n);
	o->majflt = median(mj, n);
	o->pte = median(pte, n);
	o->thp = median(thp, n);
	o->dtlb = median(dt, n);
	o->flushes = median(fl, n);
}

static const struct ml_col cols[] = {
	{ "allocator", "allocator", ML_UNIT_TEXT },
	{ "runs_ok", "ok", ML_UNIT_COUNT },
	{ "runs_failed", "failed", ML_UNIT_COUNT },
	{ "wall_seconds", "wall", ML_UNIT_SECONDS },
	{ "wall_ratio", "x", ML_UNIT_RATIO },
	{ "peak_resident_bytes", "peak rss", ML_UNIT_BYTES },
	{ "peak_resident_ratio", "x", ML_UNIT_RATIO },
	{ "minor_faults", "minflt", ML_UNIT_TOTAL },
	{ "minor_faults_ratio", "x", ML_UNIT_RATIO },
	{ "major_faults", "majflt", ML_UNIT_TOTAL },
	{ "pagetable_bytes", "pgtables", ML_UNIT_BYTES },
	{ "pagetable_ratio", "x", ML_UNIT_RATIO },
	{ "thp_percent", "thp", ML_UNIT_PERCENT },
	{ "tlb_flushes", "flushes", ML_UNIT_TOTAL },
	{ "dtlb_misses", "dtlb miss", ML_UNIT_TOTAL },
};

/* JSON and Prometheus: per figure of spread_figs, these six columns. */
static const char *const spread_cols[6] = { "mean", "stddev",     "min",
					    "max",  "mean_ratio", "ratio_significant" };

static struct ml_val stat_cell(const struct ml_stats *st, int c, const struct ml_stats *base)
{
	int sig;

	if (c < 4 || !st->n)
		return ml_stats_cell(st, c);
	if (c == 4)
		return base->n && base->mean ? ml_have(st->mean / base->mean, st->src) :
					       ml_none("baseline unavailable or zero");
	sig = ml_stats_significant(st, base);
	return sig < 0 ? ml_none("fewer than two runs, or a mean unavailable or zero") :
			 ml_have(sig, st->src);
}

/* Each run's figures (JSON only): what the statistics were computed from. */
static const struct ml_col run_cols[] = {
	{ "allocator", "allocator", ML_UNIT_TEXT },
	{ "run", "run", ML_UNIT_ID },
	{ "exit_status", "status", ML_UNIT_ID },
	{ "wall_seconds", "wall", ML_UNIT_SECONDS },
	{ "peak_resident_bytes", "peak rss", ML_UNIT_BYTES },
	{ "minor_faults", "minflt", ML_UNIT_TOTAL },
	{ "pagetable_bytes", "pgtables", ML_UNIT_BYTES },
	{ "memory_syscalls", "mem calls", ML_UNIT_TOTAL },
	{ "given_back_bytes", "given back", ML_UNIT_BYTES },
	{ "refaults", "refaults", ML_UNIT_TOTAL },
	{ "memory_syscall_kernel_ns", "kernel ns", ML_UNIT_TOTAL },
	{ "syscall_tlb_flushes", "call flushes", ML_UNIT_TOTAL },
	{ "tlb_ipis_received", "IPIs rcvd", ML_UNIT_TOTAL },
};

/* JSON and Prometheus: the six spread columns of figures @from to @to, after @all[@ncols]. */
static int spread_columns(struct ml_col *all, int ncols, int from, int to)
{
	static char names[NSPREAD * 6][80];

	for (int f = from; f < to; f++)
		for (int c = 0; c < 6; c++) {
			const char *unit = c >= 4                                 ? "" :
					   spread_figs[f].unit == ML_UNIT_SECONDS ? "_seconds" :
					   spread_figs[f].unit == ML_UNIT_BYTES   ? "_bytes" :
										    "";
			struct ml_col *col = &all[ncols++];

			snprintf(names[f * 6 + c], sizeof(names[0]), "%s_%s%s", spread_figs[f].key,
				 spread_cols[c], unit);
			col->key = col->title = names[f * 6 + c];
			col->unit = c == 4 ? ML_UNIT_RATIO :
				    c == 5 ? ML_UNIT_COUNT :
					     spread_figs[f].unit;
		}
	return ncols;
}

static void table(struct ml_report *r, const struct outcome *o, int n)
{
	static struct ml_col all[sizeof(cols) / sizeof(cols[0]) + KC_FIRST * 6];
	int ncols = sizeof(cols) / sizeof(cols[0]);

	memcpy(all, cols, sizeof(cols));
	if (r->fmt != ML_FMT_TEXT)
		ncols = spread_columns(all, ncols, 0, KC_FIRST);
	ml_report_table(r, "allocators", "Medians per allocator (x: ratio to the first)", all,
			ncols, ML_SRC_RUSAGE);
	for (int i = 0; i < n; i++) {
		ml_report_cell_str(r, o[i].alloc.name);
		ml_report_cell(r, ml_have(o[i].ok, ML_SRC_RUSAGE));
		ml_report_cell(r, ml_have(o[i].failed, ML_SRC_RUSAGE));
		ml_report_cell(r, o[i].wall);
		ml_report_cell(r, ratio(o[i].wall, o[0].wall));
		ml_report_cell(r, o[i].rss);
		ml_report_cell(r, ratio(o[i].rss, o[0].rss));
		ml_report_cell(r, o[i].minflt);
		ml_report_cell(r, ratio(o[i].minflt, o[0].minflt));
		ml_report_cell(r, o[i].majflt);
		ml_report_cell(r, o[i].pte);
		ml_report_cell(r, ratio(o[i].pte, o[0].pte));
		ml_report_cell(r, o[i].thp);
		ml_report_cell(r, o[i].flushes);
		ml_report_cell(r, o[i].dtlb);
		if (r->fmt != ML_FMT_TEXT)
			for (int f = 0; f < KC_FIRST; f++)
				for (int c = 0; c < 6; c++)
					ml_report_cell(r, stat_cell(&o[i].st[f], c, &o[0].st[f]));
	}
	ml_report_table_end(r);
}

/* What the allocators made the kernel do: the kcost figures' medians and ratios. */
static void kcost_table(struct ml_report *r, const struct outcome *o, int n)
{
	static struct ml_col all[1 + 2 * NSPREAD + NSPREAD * 6];
	static char keys[NSPREAD][80], rkeys[NSPREAD][80];
	int ncols = 1;

	all[0] = (struct ml_col){ "allocator", "allocator", ML_UNIT_TEXT };
	for (int f = KC_FIRST; f < NSPREAD; f++) {
		const char *unit = spread_figs[f].unit == ML_UNIT_BYTES ? "_bytes" : "";

		snprintf(keys[f], sizeof(keys[0]), "%s%s", spread_figs[f].key, unit);
		snprintf(rkeys[f], sizeof(rkeys[0]), "%s_ratio", spread_figs[f].key);
		all[ncols++] = (struct ml_col){ keys[f], spread_figs[f].col, spread_figs[f].unit };
		all[ncols++] = (struct ml_col){ rkeys[f], "x", ML_UNIT_RATIO };
	}
	if (r->fmt != ML_FMT_TEXT)
		ncols = spread_columns(all, ncols, KC_FIRST, NSPREAD);
	ml_report_table(
		r, "kcost",
		"Kernel cost of memory management, medians (kcost, BPF; x: ratio to the first)",
		all, ncols, ML_SRC_BPF);
	for (int i = 0; i < n; i++) {
		ml_report_cell_str(r, o[i].alloc.name);
		for (int f = KC_FIRST; f < NSPREAD; f++) {
			ml_report_cell(r, o[i].med[f]);
			ml_report_cell(r, ratio(o[i].med[f], o[0].med[f]));
		}
		if (r->fmt != ML_FMT_TEXT)
			for (int f = KC_FIRST; f < NSPREAD; f++)
				for (int c = 0; c < 6; c++)
					ml_report_cell(r, stat_cell(&o[i].st[f], c, &o[0].st[f]));
	}
	ml_report_table_end(r);
}

/*
 * Whether kcost counted: 1, or unavailable with the first reason (a value
 * in JSON and Prometheus, a line in text).
 */
static struct ml_val kcost_state(const struct outcome *o, int n)
{
	for (int i = 0; i < n; i++)
		if (o[i].st[KC_FIRST].n)
			return ml_have(1, ML_SRC_BPF);
	return ml_none(o[0].st[KC_FIRST].why ? o[0].st[KC_FIRST].why : "no successful run");
}

/* Text: mean +- sd, min-max and the ratio of the means, per figure. */
static void spread_text(FILE *out, const struct outcome *o, int n)
{
	int w = 10;

	for (int i = 0; i < n; i++)
		if ((int)strlen(o[i].alloc.name) > w)
			w = (int)strlen(o[i].alloc.name);
	for (int f = 0; f < NSPREAD; f++) {
		/* kcost unavailable for every allocator: said once, above */
		if (f >= KC_FIRST && !ml_known(kcost_state(o, n)))
			break;
		fprintf(out, "\n%s: mean +- stddev (min - max), ratio of the means\n",
			spread_figs[f].title);
		for (int i = 0; i < n; i++) {
			const struct ml_stats *st = &o[i].st[f], *b = &o[0].st[f];
			int sig = ml_stats_significant(st, b);

			if (!st->n) {
				fprintf(out, "  %-*s unavailable: %s\n", w, o[i].alloc.name,
					st->why ? st->why : "no successful run");
				continue;
			}
			fprintf(out, "  %-*s ", w, o[i].alloc.name);
			ml_stats_print(out, spread_figs[f].unit, st);
			if (b->n && b->mean)
				fprintf(out, "  %.2fx%s", st->mean / b->mean,
					!i       ? "" :
					sig == 0 ? "  not significant (spread holds 1.0)" :
					sig < 0  ? "  (one run: no spread)" :
						   "");
			fputc('\n', out);
		}
	}
}

/* Why a column is blank, once, under the table (text only). */
static void footnotes(FILE *out, const struct outcome *o)
{
	if (!ml_known(o->flushes))
		fprintf(out, "  flushes: unavailable: %s\n", o->flushes.why);
	if (!ml_known(o->dtlb))
		fprintf(out, "  dtlb miss: unavailable: %s\n", o->dtlb.why);
	if (!ml_known(o->pte))
		fprintf(out, "  pgtables: unavailable: %s\n", o->pte.why);
}

static const char *const colors[MAX_ALLOCS] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
};

/* The SVG's layout: text widths are estimated (svg.h, ML_SVG_EM). */
#define SVG_FONT   13 /* the root's font-size */
#define SVG_TITLE  16
#define SVG_BAR    260 /* the longest bar */
#define SVG_MARGIN 16
#define SVG_CMD    160 /* characters of the command in the title, at most */

struct svg_layout {
	int name_w;  /* the allocator names' column, right-aligned */
	int label_w; /* "value (ratio)" after the longest bar */
	int panel_w, width;
	int max_x; /* the right end of every text written, estimated */
};

static int text_w(const char *s, int size)
{
	return ml_svg_text_w(s, size);
}

/* "52.5 MiB (1.05x)" of allocator @i in a panel at @off; "" if unknown. */
static void svg_label(char *buf, size_t len, enum ml_unit unit, const struct outcome *o, int i,
		      size_t off)
{
	const struct ml_val *v = (const void *)((const char *)&o[i] + off);
	const struct ml_val *b = (const void *)((const char *)&o[0] + off);
	char num[48];
	int n;

	if (!ml_known(*v)) {
		snprintf(buf, len, "unavailable");
		return;
	}
	ml_stats_fmt(num, sizeof(num), unit, v->v);
	n = snprintf(buf, len, "%s", num);
	if (i && ml_known(*b) && b->v && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " (%.2fx)", v->v / b->v);
}

/* One <text>: its estimated right end goes into @l->max_x. */
static void svg_put_text(FILE *f, struct svg_layout *l, int x, int y, bool end, const char *attrs,
			 const char *s, int size)
{
	ml_svg_text(f, &l->max_x, x, y, end ? ML_SVG_END : ML_SVG_START, attrs, s, size);
}

/* One panel: a horizontal bar per allocator, value and ratio at its end. */
static void svg_panel(FILE *f, struct svg_layout *l, int x, int y, const char *title,
		      enum ml_unit unit, const struct outcome *o, int n, size_t off)
{
	int bar_x = x + l->name_w + 6;
	double max = 0;
	char buf[96];

	for (int i = 0; i < n; i++) {
		const struct ml_val *v = (const void *)((const char *)&o[i] + off);

		if (ml_known(*v) && v->v > max)
			max = v->v;
	}
	svg_put_text(f, l, x, y + 16, false, " font-weight=\"bold\"", title, SVG_FONT);
	for (int i = 0; i < n; i++) {
		const struct ml_val *v = (const void *)((const char *)&o[i] + off);
		int by = y + 28 + i * 26, w;

		svg_put_text(f, l, x + l->name_w, by + 14, true, "", o[i].alloc.name, SVG_FONT);
		svg_label(buf, sizeof(buf), unit, o, i, off);
		if (!ml_known(*v)) {
			svg_put_text(f, l, bar_x + 2, by + 14, false, " fill=\"#888\"", buf,
				     SVG_FONT);
			continue;
		}
		w = max > 0 ? (int)(SVG_BAR * v->v / max) : 0;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" fill=\"%s\"/>\n",
			bar_x, by, w > 1 ? w : 1, colors[i % MAX_ALLOCS]);
		svg_put_text(f, l, bar_x + 4 + w, by + 14, false, "", buf, SVG_FONT);
	}
}

static const struct {
	const char *title;
	enum ml_unit unit;
	size_t off;
} svg_panels[4] = {
	{ "wall time", ML_UNIT_SECONDS, offsetof(struct outcome, wall) },
	{ "peak resident", ML_UNIT_BYTES, offsetof(struct outcome, rss) },
	{ "minor faults", ML_UNIT_TOTAL, offsetof(struct outcome, minflt) },
	{ "peak page tables", ML_UNIT_BYTES, offsetof(struct outcome, pte) },
};

/*
 * The columns' widths from the longest name and label, so that every
 * label fits inside the image: the names' column, the longest bar, the
 * longest label, for two panels side by side; the image as wide as that or
 * as the title.  The body is written first, the <svg> element with the
 * width every text needed after.
 */
static int write_svg(FILE *f, const struct outcome *o, int n, char **cmd)
{
	int ph = 40 + 26 * n, h = 70 + 2 * ph, err;
	struct svg_layout l = { 0 };
	char title[SVG_CMD + 32] = "memlens compare:", buf[96], *body = NULL;
	size_t tlen = strlen(title), blen = 0;
	FILE *m;

	for (int i = 0; i < n; i++) {
		if (text_w(o[i].alloc.name, SVG_FONT) > l.name_w)
			l.name_w = text_w(o[i].alloc.name, SVG_FONT);
		for (int p = 0; p < 4; p++) {
			svg_label(buf, sizeof(buf), svg_panels[p].unit, o, i, svg_panels[p].off);
			if (text_w(buf, SVG_FONT) > l.label_w)
				l.label_w = text_w(buf, SVG_FONT);
		}
	}
	l.panel_w = l.name_w + 6 + SVG_BAR + 4 + l.label_w + SVG_MARGIN;
	for (char **p = cmd; *p && tlen < SVG_CMD; p++)
		tlen += snprintf(title + tlen, sizeof(title) - tlen, " %s", *p);
	if (tlen >= SVG_CMD)
		snprintf(title + SVG_CMD, sizeof(title) - SVG_CMD, " ...");
	m = open_memstream(&body, &blen);
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	svg_put_text(m, &l, SVG_MARGIN, 26, false, " font-size=\"16\" font-weight=\"bold\"", title,
		     SVG_TITLE);
	svg_put_text(m, &l, SVG_MARGIN, 46, false, " fill=\"#555\"",
		     "medians; shorter is better; (x) ratio to the first allocator", SVG_FONT);
	for (int p = 0; p < 4; p++)
		svg_panel(m, &l, SVG_MARGIN + (p % 2) * l.panel_w, 60 + (p / 2) * ph,
			  svg_panels[p].title, svg_panels[p].unit, o, n, svg_panels[p].off);
	fclose(m);
	l.width = l.max_x + SVG_MARGIN;
	if (l.width < SVG_MARGIN + 2 * l.panel_w)
		l.width = SVG_MARGIN + 2 * l.panel_w;
	err = ml_svg_write(f, l.width, h, SVG_FONT, body);
	free(body);
	return err;
}

static void progress(int done, int total, const char *name)
{
	fprintf(stderr, "\r\033[K  memlens compare: run %d/%d (%s)", done + 1, total, name);
}

static int run_compare(int argc, char **argv)
{
	struct compare_args a = {
		{ ML_BACKEND_AUTO, ML_FMT_TEXT, false }, NULL, NULL, 5, 1, 20, false, false, NULL
	};
	static struct ml_run_result results[MAX_ALLOCS][MAX_RUNS];
	struct outcome o[MAX_ALLOCS] = { 0 };
	bool tty = isatty(2), failed = false;
	enum ml_child_out child_out = ML_CHILD_OUT_NULL;
	FILE *plot = NULL;
	char cmdline[1024] = "";
	size_t o_len = 0;
	struct ml_report r;
	enum ml_backend be;
	char why[512];
	int n, ret;

	ret = ml_parse(&compare_argp, argc, argv, ARGP_IN_ORDER, &a);
	if (ret != ML_PARSED)
		return ret;
	ret = find_allocators(a.allocators, o, &n, a.cmd);
	if (ret)
		return ret;
	ret = ml_proc_only(&a.common, "compare");
	if (ret)
		return ret;
	if (a.plot) {
		plot = fopen(a.plot, "we");
		if (!plot) {
			snprintf(why, sizeof(why), "cannot write %s: %s", a.plot, strerror(errno));
			return ml_fail(ML_EXIT_ERROR, why);
		}
	}
	if (a.show_output)
		child_out = a.common.format == ML_FMT_TEXT ? ML_CHILD_OUT_KEEP :
							     ML_CHILD_OUT_STDERR;
	be = ML_BACKEND_PROC;
	signal(SIGINT, SIG_IGN);
	/* warm-up rounds first (page cache, CPU frequency), then the counted ones */
	for (int run = -a.warmup; run < a.runs; run++)
		for (int i = 0; i < n; i++) {
			struct ml_run_result warm, *res = run < 0 ? &warm : &results[i][run];

			if (tty)
				progress((run + a.warmup) * n + i, (a.runs + a.warmup) * n,
					 o[i].alloc.name);
			ret = ml_run_measure(a.cmd, &o[i].alloc, a.interval_ms, false, child_out,
					     !a.no_kcost, res);
			if (ret || res->exec_errno || !res->alloc_loaded) {
				if (tty)
					fputs("\r\033[K", stderr);
				if (ret || res->exec_errno)
					snprintf(why, sizeof(why), "cannot run %s: %s", a.cmd[0],
						 strerror(ret ? -ret : res->exec_errno));
				else
					snprintf(
						why, sizeof(why),
						"allocator %.64s was not loaded into %.256s: libc appeared in /proc/PID/maps, its library never did",
						o[i].alloc.name, a.cmd[0]);
				if (plot) {
					fclose(plot);
					unlink(a.plot);
				}
				return ml_fail(ML_EXIT_ERROR, why);
			}
			if (run >= 0)
				failed |= res->status != 0;
		}
	if (tty)
		fputs("\r\033[K", stderr);
	for (int i = 0; i < n; i++)
		summarize(&o[i], results[i], a.runs);
	for (char **p = a.cmd; *p && o_len < sizeof(cmdline); p++)
		o_len += snprintf(cmdline + o_len, sizeof(cmdline) - o_len, "%s%s",
				  o_len ? " " : "", *p);
	ml_report_begin(&r, stdout, a.common.format, "compare");
	if (r.fmt == ML_FMT_TEXT) {
		printf("memlens compare: %d run%s each after %d warm-up round%s, backend %s:",
		       a.runs, a.runs > 1 ? "s" : "", a.warmup, a.warmup == 1 ? "" : "s",
		       ml_backend_name(be));
		for (char **p = a.cmd; *p; p++)
			printf(" %s", *p);
		printf("\n");
	} else {
		ml_report_section(&r, "compare", NULL);
		ml_report_int(&r, "runs", "runs", a.runs);
		ml_report_int(&r, "warmup", "warm-up rounds", a.warmup);
		ml_report_str(&r, "command", "command", cmdline);
		ml_report_str(&r, "backend", "backend", ml_backend_name(be));
		ml_report_val(&r, "kcost", "kcost counted", ML_UNIT_COUNT, kcost_state(o, n));
		ml_report_section_end(&r);
	}
	table(&r, o, n);
	if (r.fmt == ML_FMT_TEXT)
		footnotes(stdout, &o[0]);
	if (r.fmt == ML_FMT_TEXT && !ml_known(kcost_state(o, n)))
		printf("\nKernel cost (memory syscalls, given back, refaults, TLB flushes): unavailable: %s\n",
		       kcost_state(o, n).why);
	else
		kcost_table(&r, o, n);
	if (r.fmt == ML_FMT_TEXT)
		spread_text(stdout, o, n);
	if (r.fmt == ML_FMT_JSON) {
		ml_report_table(&r, "runs", "Runs", run_cols,
				sizeof(run_cols) / sizeof(run_cols[0]), ML_SRC_RUSAGE);
		for (int run = 0; run < a.runs; run++)
			for (int i = 0; i < n; i++) {
				const struct ml_run_result *x = &results[i][run];

				ml_report_cell_str(&r, o[i].alloc.name);
				ml_report_cell(&r, ml_have(run, ML_SRC_CLOCK));
				ml_report_cell(&r, ml_have(x->status, ML_SRC_RUSAGE));
				ml_report_cell(&r, x->wall);
				ml_report_cell(&r, x->peak_rss);
				ml_report_cell(&r, x->minflt);
				ml_report_cell(&r, x->peak_pgtable);
				for (int f = KC_FIRST; f < NSPREAD; f++)
					ml_report_cell(&r, run_fig(x, f));
			}
		ml_report_table_end(&r);
	}
	ml_report_end(&r);
	if (plot) {
		ret = write_svg(plot, o, n, a.cmd);
		if (ret) {
			snprintf(why, sizeof(why), "cannot write %s: %s", a.plot, strerror(-ret));
			return ml_fail(ML_EXIT_ERROR, why);
		}
	}
	if (failed)
		return ml_fail(ML_EXIT_ERROR, "some runs exited non-zero (see runs_failed)");
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_compare = {
	.name = "compare",
	.summary = "one command under several allocators, side by side",
	.run = run_compare,
};
