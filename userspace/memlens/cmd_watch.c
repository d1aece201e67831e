// SPDX-License-Identifier: GPL-2.0
/*
 * memlens watch PID [-i SECONDS]: a live view of a process.  On a terminal
 * the view is redrawn in place; otherwise one plain line per refresh (or one
 * JSON document per line, or a Prometheus exposition per refresh, written
 * atomically to --output FILE for node_exporter's textfile collector).
 * Ctrl-C, SIGTERM or the process's exit end it cleanly with status 0.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlalloc.h"
#include "mlbpf.h"
#include "inspect.h"
#include "memlens.h"
#include "term.h"

#define TOP_VMAS   8
#define TOP_ARENAS 4

struct watch_args {
	struct ml_common_opts common;
	const char *pid;
	const char *output;
	double interval;
	long count;                   /* refreshes, 0: until stopped */
	struct ml_target_opts target; /* instead of PID */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

enum {
	OPT_INTERVAL = 'i',
	OPT_COUNT = 'n',
	OPT_OUTPUT = 'o'
};

static const struct argp_option watch_options[] = {
	{ "interval", OPT_INTERVAL, "SECONDS", 0,
	  "refresh every SECONDS (default 1, at least 0.05)", 0 },
	{ "count", OPT_COUNT, "N", 0, "stop after N refreshes", 0 },
	{ "output", OPT_OUTPUT, "FILE", 0,
	  "write each refresh to FILE (replaced atomically) instead of stdout", 0 },
	{ 0 }
};

static error_t parse_watch(int key, char *arg, struct argp_state *state)
{
	struct watch_args *a = state->input;
	char *end;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		state->child_inputs[1] = &a->target;
		return 0;
	case OPT_INTERVAL:
		if (ml_parse_double(arg, 0.05, 3600, &a->interval)) {
			argp_error(state, "--interval wants seconds, 0.05 to 3600");
			return EINVAL;
		}
		return 0;
	case OPT_COUNT:
		errno = 0;
		a->count = strtol(arg, &end, 10);
		if (errno || end == arg || *end || a->count < 1) {
			argp_error(state, "--count wants a positive number");
			return EINVAL;
		}
		return 0;
	case OPT_OUTPUT:
		a->output = arg;
		return 0;
	case ARGP_KEY_ARG:
	case ARGP_KEY_END:
		return ml_parse_target_pid(state, key, arg, &a->pid, &a->target);
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child watch_children[] = { { &ml_common_argp, 0,
						      "Output and backend:", 0 },
						    { &ml_target_argp, 0, "Target:", 0 },
						    { 0 } };

static const struct argp watch_argp = {
	.options = watch_options,
	.parser = parse_watch,
	.args_doc = "PID",
	.doc = "A live view of a process: resident, swap, page tables, THP share,\n"
	       "fault rates per second, and the VMAs with the most faults (module\n"
	       "backend: the process is tracked while watched; bpf: counted while\n"
	       "watched) or else whose resident memory grew most.\n"
	       "Redrawn in place on a terminal, one line per refresh otherwise.\n"
	       "Ends cleanly on Ctrl-C or when the process exits.\v"
	       "Examples:\n"
	       "  memlens watch 1234\n"
	       "  memlens watch -i 0.5 $(pidof myserver)\n"
	       "  memlens watch -n 60 1234 > rss.log\n"
	       "  memlens watch --prometheus -i 15 -o /var/lib/node_exporter/memlens.prom 1234",
	.children = watch_children,
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* (cur - prev) / dt, unavailable without a previous sample. */
static struct ml_val rate(struct ml_val cur, struct ml_val prev, double dt)
{
	if (!ml_known(cur) || !ml_known(prev) || dt <= 0)
		return ml_none("needs two samples");
	return ml_have((cur.v - prev.v) / dt, cur.src);
}

struct growth {
	const struct ml_vma *v;
	double delta;
};

static int by_delta(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;

	return fabs(y->delta) > fabs(x->delta) ? 1 : fabs(y->delta) < fabs(x->delta) ? -1 : 0;
}

/* VMAs of @cur by resident growth since @prev (same start address). */
static int top_growth(const struct ml_snapshot *cur, const struct ml_snapshot *prev,
		      struct growth *out)
{
	static struct growth all[65536];
	int n = 0;

	for (int i = 0; i < cur->nvmas && n < 65536; i++) {
		double before = 0;

		for (int j = 0; prev && j < prev->nvmas; j++)
			if (prev->vmas[j].start == cur->vmas[i].start) {
				before = prev->vmas[j].rss;
				break;
			}
		all[n].v = &cur->vmas[i];
		/* first refresh: no change to show, order by size */
		all[n++].delta = prev ? (double)cur->vmas[i].rss - before :
					(double)cur->vmas[i].rss;
	}
	qsort(all, n, sizeof(all[0]), by_delta);
	n = n < TOP_VMAS ? n : TOP_VMAS;
	memcpy(out, all, n * sizeof(*out));
	return n;
}

struct fault_growth {
	const struct ml_vma_faults_row *v;
	double delta;
};

static int by_fault_delta(const void *a, const void *b)
{
	const struct fault_growth *x = a, *y = b;

	return y->delta > x->delta ? 1 : y->delta < x->delta ? -1 : 0;
}

/* VMAs of @cur by faults since @prev (module, tracked), most first. */
static int top_faults(const struct ml_snapshot *cur, const struct ml_snapshot *prev,
		      struct fault_growth *out)
{
	static struct fault_growth all[8192];
	int n = 0;

	for (int i = 0; i < cur->nvfaults && n < 8192; i++) {
		const struct ml_vma_faults_row *v = &cur->vfaults[i];
		double before = 0;

		for (int j = 0; prev && j < prev->nvfaults; j++)
			if (prev->vfaults[j].start == v->start) {
				before = prev->vfaults[j].minor + prev->vfaults[j].major;
				break;
			}
		all[n].v = v;
		all[n++].delta = (double)(v->minor + v->major) - before;
	}
	qsort(all, n, sizeof(all[0]), by_fault_delta);
	n = n < TOP_VMAS ? n : TOP_VMAS;
	memcpy(out, all, n * sizeof(*out));
	return n;
}

/* Fault rate from the module's counters when both refreshes have them. */
static struct ml_val fault_rate(struct ml_val tracked, struct ml_val tracked_prev,
				struct ml_val all, struct ml_val all_prev, double dt)
{
	if (ml_known(tracked) && ml_known(tracked_prev))
		return rate(tracked, tracked_prev, dt);
	return rate(all, all_prev, dt);
}

struct view {
	const struct ml_snapshot *cur;
	struct fault_growth topf[TOP_VMAS];
	int ntopf;
	struct ml_val min_rate, maj_rate, rss_rate;
	struct growth top[TOP_VMAS];
	int ntop;
	bool first; /* no previous refresh */
	double interval;
	const struct ml_alloc_view *av; /* libmlalloc's arenas */
	int index;                      /* refresh 0, 1, ... */
	long long unix_ms;              /* CLOCK_REALTIME at this refresh's snapshot */
	double dt;                      /* seconds since the previous one, or 0 */
};

static const char *val_text(char *buf, size_t len, struct ml_val v, bool bytes, const char *suffix)
{
	char tmp[32];

	if (!ml_known(v))
		snprintf(buf, len, "-");
	else if (bytes)
		snprintf(buf, len, "%s%s", ml_fmt_bytes(tmp, sizeof(tmp), v.v), suffix);
	else
		snprintf(buf, len, "%.0f%s", v.v, suffix);
	return buf;
}

/* Arena totals and the largest arenas (libmlalloc's introspection). */
static void draw_arenas(FILE *f, const struct view *w)
{
	const struct ml_alloc_view *av = w->av;
	char a[48], b[48], c[48];

	if (!av || !av->found) {
		fprintf(f, "\n  libmlalloc: %s\n", av ? av->why : "not read");
		return;
	}
	fprintf(f, "\n  libmlalloc: live %s  committed %s  resident %s  (%d arenas)\n",
		val_text(a, sizeof(a), av->t.live, true, ""),
		val_text(b, sizeof(b), av->t.committed, true, ""),
		val_text(c, sizeof(c), av->t.resident, true, ""), av->narenas);
	fprintf(f, "  %-14s %-10s %10s %10s %10s\n", "base", "role", "committed", "live",
		"resident");
	for (int i = 0; i < av->narenas && i < TOP_ARENAS; i++) {
		const struct ml_arena_view *v = &av->arenas[i];
		char base[24], d[48];

		snprintf(base, sizeof(base), "%llx", (unsigned long long)v->base);
		fprintf(f, "  %-14s %-10s %10s %10s %10s\n", base, mlalloc_arena_role_name(v->role),
			val_text(a, sizeof(a), v->committed, true, ""),
			val_text(b, sizeof(b), v->live, true, ""),
			val_text(d, sizeof(d), v->resident, true, ""));
	}
	if (av->narenas > TOP_ARENAS)
		fprintf(f, "  (%d more: memlens inspect PID)\n", av->narenas - TOP_ARENAS);
}

/*
 * The screen of one refresh, for a terminal @cols wide: the VMA name takes
 * what the other columns leave, and every line is cut to fit (term.c).
 */
static void draw_frame(FILE *f, const struct view *w, int cols)
{
	const struct ml_summary *s = &w->cur->sum;
	char a[48], b[48], c[48], d[48];
	char tb[16];
	time_t t = w->unix_ms / 1000;
	struct tm tm;
	int name_w;

	strftime(tb, sizeof(tb), "%H:%M:%S", localtime_r(&t, &tm));
	fprintf(f, "memlens watch: pid %d (%s), backend %s, every %.2g s  %s  Ctrl-C quits\n\n",
		(int)w->cur->pid, w->cur->comm, ml_backend_name(w->cur->backend), w->interval, tb);
	fprintf(f, "  resident    %-12s  %s\n", val_text(a, sizeof(a), s->rss, true, ""),
		ml_known(w->rss_rate) ? val_text(b, sizeof(b), w->rss_rate, true, "/s") : "");
	fprintf(f, "  swap        %-12s  page tables %-12s  THP %s\n",
		val_text(a, sizeof(a), s->swap, true, ""),
		val_text(b, sizeof(b), s->pgtable, true, ""),
		ml_known(s->thp_coverage) ?
			(snprintf(c, sizeof(c), "%.1f%%", s->thp_coverage.v), c) :
			"-");
	fprintf(f, "  faults      minor %s  major %s   (since start: %s / %s)\n",
		val_text(a, sizeof(a), w->min_rate, false, "/s"),
		val_text(b, sizeof(b), w->maj_rate, false, "/s"),
		val_text(c, sizeof(c), s->minflt, false, ""),
		val_text(d, sizeof(d), s->majflt, false, ""));
	fprintf(f, "  TLB         entries %s (4 KiB only: %s)   flushes: %s\n",
		val_text(a, sizeof(a), s->tlb_needed, false, ""),
		val_text(b, sizeof(b), s->tlb_4k_only, false, ""),
		ml_known(s->tlb_flushes) ? val_text(c, sizeof(c), s->tlb_flushes, false, "") :
					   s->tlb_flushes.why);
	if (w->cur->vfaults) {
		/* 2 + 25 + 1 + 12 + 1 + 12 + 2 columns before the name */
		name_w = cols - 1 - 55 > 8 ? cols - 1 - 55 : 8;
		fprintf(f, "\n  VMAs by faults (%s, since watching began)\n",
			ml_backend_name(w->cur->backend));
		fprintf(f, "  %-25s %12s %12s  %s\n", "range", "faults/s", "total", "name");
		for (int i = 0; i < w->ntopf; i++) {
			const struct ml_vma_faults_row *v = w->topf[i].v;
			char range[40];

			snprintf(range, sizeof(range), "%llx-%llx", (unsigned long long)v->start,
				 (unsigned long long)v->end);
			if (w->first)
				snprintf(a, sizeof(a), "-");
			else
				snprintf(a, sizeof(a), "%.0f", w->topf[i].delta / w->interval);
			fprintf(f, "  %-25s %12s %12llu  %.*s\n", range, a,
				(unsigned long long)(v->minor + v->major),
				(int)ml_text_fit(v->name, strlen(v->name), name_w, NULL), v->name);
		}
		draw_arenas(f, w);
		return;
	}
	/* 2 + 25 + 1 + 5 + 1 + 10 + 1 + 12 + 2 columns before the name */
	name_w = cols - 1 - 59 > 8 ? cols - 1 - 59 : 8;
	fprintf(f, "\n  VMAs by resident growth (faults per VMA need the module or bpf backend)\n");
	fprintf(f, "  %-25s %-5s %10s %12s  %s\n", "range", "perm", "rss", "change", "name");
	for (int i = 0; i < w->ntop; i++) {
		const struct ml_vma *v = w->top[i].v;
		char range[40];

		snprintf(range, sizeof(range), "%llx-%llx", (unsigned long long)v->start,
			 (unsigned long long)v->end);
		ml_fmt_bytes(a, sizeof(a), (double)v->rss);
		if (w->first)
			snprintf(b, sizeof(b), "-");
		else
			ml_fmt_bytes(b, sizeof(b), w->top[i].delta);
		/* the name cut to name_w columns, never inside a character */
		fprintf(f, "  %-25s %-5s %10s %12s  %.*s\n", range, v->perms, a, b,
			(int)ml_text_fit(v->name, strlen(v->name), name_w, NULL), v->name);
	}
	draw_arenas(f, w);
}

/* Redrawn in place, every line within the terminal's width. */
static void draw_tty(FILE *f, const struct view *w)
{
	int cols = ml_term_cols(fileno(f));
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	draw_frame(m, w, cols);
	fclose(m);
	fprintf(f, "\033[H\033[2J");
	ml_term_fit(f, buf, cols);
	free(buf);
}

static void draw_line(FILE *f, const struct view *w)
{
	const struct ml_summary *s = &w->cur->sum;
	char tb[16];
	time_t t = time(NULL);

	strftime(tb, sizeof(tb), "%H:%M:%S", localtime(&t));
	fprintf(f, "%s pid=%d rss=%.0f swap=%.0f pgtables=%.0f minflt=%.0f majflt=%.0f", tb,
		(int)w->cur->pid, s->rss.v, s->swap.v, s->pgtable.v, s->minflt.v, s->majflt.v);
	if (ml_known(w->min_rate))
		fprintf(f, " minflt_rate=%.1f majflt_rate=%.1f\n", w->min_rate.v, w->maj_rate.v);
	else
		fprintf(f, " minflt_rate=- majflt_rate=-\n");
	fflush(f);
}

static void emit_report(FILE *f, enum ml_format fmt, const struct view *w)
{
	struct ml_report r;

	ml_report_begin(&r, f, fmt, "watch");
	if (fmt == ML_FMT_JSON) {
		ml_report_section(&r, "frame", NULL);
		ml_report_int(&r, "index", "refresh", w->index);
		ml_report_int(&r, "time_unix_ms", "time (ms since the epoch)", w->unix_ms);
		ml_report_val(&r, "interval_seconds", "since the previous refresh", ML_UNIT_SECONDS,
			      w->first ? ml_none("first refresh") : ml_have(w->dt, ML_SRC_CLOCK));
		ml_report_section_end(&r);
	}
	ml_emit_process(&r, w->cur, NULL);
	ml_emit_summary(&r, w->cur);
	ml_report_section(&r, "rates", "Rates");
	ml_report_val(&r, "minor_faults_per_second", "minor faults", ML_UNIT_PER_SEC, w->min_rate);
	ml_report_val(&r, "major_faults_per_second", "major faults", ML_UNIT_PER_SEC, w->maj_rate);
	ml_report_val(&r, "resident_bytes_per_second", "resident growth", ML_UNIT_PER_SEC,
		      w->rss_rate);
	ml_report_section_end(&r);
	if (w->av)
		ml_alloc_report(&r, w->av);
	ml_report_end(&r);
}

/* Write to @path atomically: PATH.tmp, then rename. */
static int emit_file(const char *path, const struct watch_args *a, const struct view *w)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (a->common.format == ML_FMT_TEXT)
		draw_line(f, w);
	else
		emit_report(f, a->common.format, w);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

static void sleep_until(double t)
{
	while (!stop) {
		double left = t - now();
		struct timespec ts;

		if (left <= 0)
			return;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL); /* EINTR on a signal: loop checks stop */
	}
}

static int watch_loop(struct ml_session *sess, const struct watch_args *a)
{
	pid_t pid = sess->pid;
	static struct ml_snapshot snaps[2];
	bool tty = !a->output && a->common.format == ML_FMT_TEXT && isatty(1);
	struct ml_snapshot *cur = &snaps[0], *prev = NULL;
	double t_prev = 0, next = now();
	int ret = 0;

	for (long n = 0; !stop && (!a->count || n < a->count); n++) {
		struct view w = { .cur = cur, .interval = a->interval, .first = !prev, .index = n };
		struct ml_alloc_view av = { 0 };
		struct timespec rt;
		double t = now();

		clock_gettime(CLOCK_REALTIME, &rt);
		w.unix_ms = rt.tv_sec * 1000LL + rt.tv_nsec / 1000000;
		w.dt = prev ? t - t_prev : 0;
		ret = ml_session_snapshot(sess, cur);
		if (ret)
			break;
		/* the arenas: in the view on a terminal, and in JSON and Prometheus */
		if (tty || a->common.format != ML_FMT_TEXT) {
			if (ml_alloc_read(cur, &av))
				snprintf(av.why, sizeof(av.why), "out of memory");
			w.av = &av;
		}
		w.min_rate = fault_rate(cur->sum.tracked_minflt,
					prev ? prev->sum.tracked_minflt : ml_none(""),
					cur->sum.minflt, prev ? prev->sum.minflt : ml_none(""),
					t - t_prev);
		w.maj_rate = fault_rate(cur->sum.tracked_majflt,
					prev ? prev->sum.tracked_majflt : ml_none(""),
					cur->sum.majflt, prev ? prev->sum.majflt : ml_none(""),
					t - t_prev);
		w.ntopf = top_faults(cur, prev, w.topf);
		w.rss_rate = rate(cur->sum.rss, prev ? prev->sum.rss : ml_none(""), t - t_prev);
		w.ntop = top_growth(cur, prev, w.top);
		if (a->output)
			ret = emit_file(a->output, a, &w);
		else if (tty)
			draw_tty(stdout, &w);
		else if (a->common.format == ML_FMT_TEXT)
			draw_line(stdout, &w);
		else
			emit_report(stdout, a->common.format, &w);
		ml_alloc_free(&av);
		if (ret) {
			fprintf(stderr, "memlens: cannot write %s: %s\n", a->output,
				strerror(-ret));
			return ML_EXIT_ERROR;
		}
		if (prev)
			ml_snapshot_free(prev);
		prev = cur;
		cur = cur == &snaps[0] ? &snaps[1] : &snaps[0];
		t_prev = t;
		next += a->interval;
		if (!a->count || n + 1 < a->count)
			sleep_until(next);
	}
	if (prev)
		ml_snapshot_free(prev);
	if (tty)
		fputs("\n", stdout);
	if (ret == ML_EXIT_NOPROC || ret == ML_EXIT_VANISHED) {
		/* the process ended while watched: a normal end */
		fprintf(stderr, "memlens: process %d exited\n", (int)pid);
		ml_snapshot_free(cur);
		return ML_EXIT_OK;
	}
	if (ret) {
		fprintf(stderr, "memlens: %s\n", cur->errmsg);
		ml_snapshot_free(cur);
	}
	return ret;
}

static int run_watch(int argc, char **argv)
{
	struct watch_args a = {
		{ ML_BACKEND_AUTO, ML_FMT_TEXT, false }, NULL, NULL, 1.0, 0, { NULL, NULL }
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct ml_snapshot probe;
	struct ml_session sess;
	enum ml_backend be;
	char why[ML_WHY_LEN];
	pid_t pid;
	int ret;

	ret = ml_parse(&watch_argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	if (ml_target_given(&a.target)) {
		ret = ml_target_one("watch", a.target.comm, a.target.cgroup, &pid);
		if (ret)
			return ret;
	} else if (ml_pid_parse(a.pid, &pid)) {
		fprintf(stderr, "memlens watch: '%s' is not a PID\n", a.pid);
		return ML_EXIT_USAGE;
	}
	ret = ml_target_check("watch", &pid);
	if (ret)
		return ret;
	ret = ml_choose_or_fail(&a.common, &be, why, sizeof(why));
	if (ret)
		return ret;
	/* errors before the first refresh are errors, not an end */
	ret = ml_snapshot_take(pid, ML_BACKEND_PROC, &probe);
	ml_snapshot_free(&probe);
	if (ret)
		return ml_fail(ret, probe.errmsg);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* the module tracks it meanwhile; BPF stays loaded */
	ret = ml_session_open(&sess, pid, be, why, sizeof(why));
	if (ret)
		return ml_fail(ML_EXIT_BACKEND, why);
	if (why[0])
		fprintf(stderr, "memlens watch: backend %s; auto skipped %s\n",
			ml_backend_name(sess.backend), why);
	if (sess.backend == ML_BACKEND_BPF)
		ml_bpf_print_losses(stderr, "memlens watch");
	ret = watch_loop(&sess, &a);
	ml_session_close(&sess);
	return ret;
}

const struct ml_command ml_cmd_watch = {
	.name = "watch",
	.summary = "a live view of a process, refreshed in place",
	.run = run_watch,
};
