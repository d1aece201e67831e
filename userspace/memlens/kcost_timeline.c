// SPDX-License-Identifier: GPL-2.0
/*
 * memlens kcost --timeline (kcost_timeline.h): collection and the SVG.
 *
 * The picture: one time axis (seconds since counting started) under four
 * panels, top to bottom: the resident set (a line through the samples),
 * the bytes given back, the refaults and the TLB flushes (made in the
 * calls, and taken as IPIs, stacked), the last three as bars of one bin
 * each (the bin's width is in each panel's title).  Allocator decisions
 * (kcost_mlalloc.c) are vertical lines across every panel, one colour per
 * class, with a legend.  The left margin is as wide as the longest
 * y-axis label, the picture as wide as its longest text.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kcost_timeline.h"
#include "report.h"
#include "svg.h"

#define TL_FONT   12
#define TL_TITLE  15
#define TL_PLOT_W 760 /* the plot area */
#define TL_PANEL  110 /* a panel's height */
#define TL_GAP    34  /* between panels: the next panel's title */
#define TL_MARGIN 16
#define TL_BIN_PX 3
#define TL_LANE   14 /* a lane of allocator decisions */

static const char *const mark_colors[KC_MARK_CLASSES] = {
	"#e15759", "#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#9c755f", "#edc948",
};

uint64_t kc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int kc_timeline_init(struct kc_timeline *tl, const char *path, int interval_ms)
{
	memset(tl, 0, sizeof(*tl));
	tl->svg = path ? fopen(path, "we") : NULL;
	if (path && !tl->svg)
		return -errno;
	tl->path = path;
	tl->interval_ms = interval_ms;
	tl->t_start = kc_now_ns();
	return 0;
}

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 1024;
	void *q;

	if (n < *cap)
		return true;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static void on_event(const struct kc_event *e, void *ctx)
{
	struct kc_timeline *tl = ctx;

	if (tl->nev >= KC_TL_MAX_EVENTS ||
	    !grow((void **)&tl->ev, &tl->capev, tl->nev, sizeof(*tl->ev))) {
		tl->over_cap++;
		return;
	}
	tl->ev[tl->nev++] = *e;
}

/* /proc/PID/statm's resident pages, in bytes; -1 once the process is gone. */
static long long read_rss(pid_t pid)
{
	char path[64], buf[256];
	unsigned long long size, res;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return -1;
	return (long long)(res * (unsigned long long)sysconf(_SC_PAGESIZE));
}

void kc_timeline_tick(struct kc_timeline *tl, struct ml_kcost *k, pid_t pid)
{
	long long rss = read_rss(pid);
	uint64_t t = kc_now_ns();

	/* statm of a zombie reads 0: no sample once the memory is gone */
	if (rss > 0 && grow((void **)&tl->rss, &tl->caprss, tl->nrss, sizeof(*tl->rss)))
		tl->rss[tl->nrss++] = (struct kc_rss){ t, (uint64_t)rss };
	ml_kcost_events(k, on_event, tl);
}

void kc_timeline_finish(struct kc_timeline *tl, struct ml_kcost *k)
{
	ml_kcost_events(k, on_event, tl);
	tl->t_end = kc_now_ns();
}

void kc_timeline_mark(struct kc_timeline *tl, uint64_t t, int cls)
{
	if (cls < 0 || cls >= KC_MARK_CLASSES)
		return;
	tl->mark_count[cls]++;
	if (!grow((void **)&tl->marks, &tl->capmarks, tl->nmarks, sizeof(*tl->marks)))
		return;
	tl->marks[tl->nmarks++] = (struct kc_mark){ t, cls };
}

uint64_t kc_timeline_peak_rss(const struct kc_timeline *tl)
{
	uint64_t m = 0;

	for (size_t i = 0; i < tl->nrss; i++)
		if (tl->rss[i].bytes > m)
			m = tl->rss[i].bytes;
	return m;
}

void kc_timeline_free(struct kc_timeline *tl)
{
	if (tl->svg)
		fclose(tl->svg);
	free(tl->rss);
	free(tl->ev);
	free(tl->marks);
	memset(tl, 0, sizeof(*tl));
}

/* ---- the picture ---------------------------------------------------------- */

/* The smallest 1, 2 or 5 x 10^k at or above @v (> 0). */
static double nice_ceil(double v)
{
	double p = pow(10, floor(log10(v))), m = v / p;

	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* An axis: its top value and how to print a tick. */
struct axis {
	double top;
	double unit; /* bytes: 1, 1024, ...; counts: 1 */
	const char *suffix;
};

static struct axis make_axis(double max, bool bytes)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	struct axis a = { 1, 1, "" };
	int i = 0;

	if (bytes) {
		while (max >= 1024 && i < 4) {
			max /= 1024;
			a.unit *= 1024;
			i++;
		}
		a.suffix = u[i];
	}
	a.top = max > 0 ? nice_ceil(max) : 1;
	return a;
}

static void tick_label(char *buf, size_t len, const struct axis *a, double v)
{
	if (*a->suffix)
		snprintf(buf, len, "%g %s", v, a->suffix);
	else if (v >= 1e6)
		snprintf(buf, len, "%gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%gk", v / 1e3);
	else
		snprintf(buf, len, "%g", v);
}

struct layout {
	int left;  /* x of the plot area */
	int max_x; /* the right end of every text */
	double span_ns;
	int nbins;
	double bin_ns;
};

static int x_of(const struct layout *l, uint64_t t, uint64_t t0)
{
	double x = t > t0 ? (double)(t - t0) / l->span_ns * TL_PLOT_W : 0;

	return l->left + (int)(x > TL_PLOT_W ? TL_PLOT_W : x);
}

/* The frame and y ticks (0, half, top) of a panel whose top is at @y. */
static void panel_frame(FILE *f, struct layout *l, int y, const char *title, const struct axis *a)
{
	char buf[64];

	ml_svg_text(f, &l->max_x, l->left, y - 8, ML_SVG_START, " font-weight=\"bold\"", title,
		    TL_FONT);
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		"stroke=\"#bbb\"/>\n",
		l->left, y, TL_PLOT_W, TL_PANEL);
	for (int i = 0; i <= 2; i++) {
		int ty = y + TL_PANEL - i * TL_PANEL / 2;

		tick_label(buf, sizeof(buf), a, a->top * i / 2);
		ml_svg_text(f, &l->max_x, l->left - 6, ty + 4, ML_SVG_END, "", buf, TL_FONT);
		if (i == 1)
			fprintf(f,
				"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n",
				l->left, ty, l->left + TL_PLOT_W, ty);
	}
}

/* Bars of @vals (l->nbins), @base stacked under them; @a's top is full height. */
static void panel_bars(FILE *f, const struct layout *l, int y, const struct axis *a,
		       const double *vals, const double *base, const char *color)
{
	double scale = TL_PANEL / (a->top * a->unit);
	double w = l->bin_ns / l->span_ns * TL_PLOT_W;

	for (int i = 0; i < l->nbins; i++) {
		double b = base ? base[i] : 0;
		int y0 = (int)lround(b * scale), y1 = (int)lround((b + vals[i]) * scale);

		if (!vals[i])
			continue;
		if (y1 <= y0)
			y1 = y0 + 1; /* a non-zero bin is never invisible */
		fprintf(f,
			"<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			"fill=\"%s\"/>\n",
			l->left + i * w, y + TL_PANEL - y1,
			i == l->nbins - 1 ? TL_PLOT_W - i * w : w, y1 - y0, color);
	}
}

static void panel_rss(FILE *f, const struct layout *l, int y, const struct axis *a,
		      const struct kc_timeline *tl)
{
	double scale = TL_PANEL / (a->top * a->unit);
	int last_x = -1, lo = 0, hi = 0;

	if (!tl->nrss)
		return;
	/* one column of pixels: its lowest and highest samples */
	fputs("<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"1.5\" points=\"", f);
	for (size_t i = 0; i <= tl->nrss; i++) {
		int x = i < tl->nrss ? x_of(l, tl->rss[i].t, tl->t_start) : -2;
		int v = i < tl->nrss ? (int)lround(tl->rss[i].bytes * scale) : 0;

		if (x == last_x) {
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
			continue;
		}
		if (last_x >= 0) {
			fprintf(f, "%d,%d ", last_x, y + TL_PANEL - lo);
			if (hi != lo)
				fprintf(f, "%d,%d ", last_x, y + TL_PANEL - hi);
		}
		last_x = x;
		lo = hi = v;
	}
	fputs("\"/>\n", f);
}

static void x_axis(FILE *f, struct layout *l, int y)
{
	double span_s = l->span_ns / 1e9, step = nice_ceil(span_s / 8);
	char buf[32];

	for (double s = 0; s <= span_s * (1 + 1e-9); s += step) {
		int x = l->left + (int)lround(s / span_s * TL_PLOT_W);

		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", x,
			y, x, y + 4);
		snprintf(buf, sizeof(buf), "%g", s);
		ml_svg_text(f, &l->max_x, x, y + 17, ML_SVG_MIDDLE, "", buf, TL_FONT);
	}
	ml_svg_text(f, &l->max_x, l->left + TL_PLOT_W / 2, y + 34, ML_SVG_MIDDLE, "",
		    "seconds since counting started", TL_FONT);
}

static void bin_label(char *buf, size_t len, const char *what, double bin_ns)
{
	if (bin_ns >= 1e9)
		snprintf(buf, len, "%s per %.3g s", what, bin_ns / 1e9);
	else if (bin_ns >= 1e6)
		snprintf(buf, len, "%s per %.3g ms", what, bin_ns / 1e6);
	else
		snprintf(buf, len, "%s per %.3g us", what, bin_ns / 1e3);
}

int kc_timeline_write(struct kc_timeline *tl, const char *title, bool have_tlb,
		      unsigned long long dropped)
{
	struct layout l = { 0 };
	double *given, *refault, *tlb_made, *tlb_recv, *sum, max_g = 0, max_r = 0, max_t = 0;
	unsigned long long n_refault = 0, n_made = 0, n_recv = 0;
	double g_total = 0;
	struct axis ax[4];
	char buf[256], gb[32], *body = NULL;
	size_t blen = 0;
	int y, h, ret;
	FILE *m;

	l.span_ns = tl->t_end > tl->t_start ? (double)(tl->t_end - tl->t_start) : 1;
	/* bins of a round width, about TL_BIN_PX pixels each */
	l.bin_ns = nice_ceil(l.span_ns / (TL_PLOT_W / TL_BIN_PX));
	l.nbins = (int)ceil(l.span_ns / l.bin_ns);
	given = calloc(l.nbins, sizeof(double));
	refault = calloc(l.nbins, sizeof(double));
	tlb_made = calloc(l.nbins, sizeof(double));
	tlb_recv = calloc(l.nbins, sizeof(double));
	sum = calloc(l.nbins, sizeof(double));
	if (!given || !refault || !tlb_made || !tlb_recv || !sum) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < tl->nev; i++) {
		const struct kc_event *e = &tl->ev[i];
		long b = e->t > tl->t_start ? (long)((e->t - tl->t_start) / l.bin_ns) : 0;

		if (b >= l.nbins)
			b = l.nbins - 1;
		switch (e->kind) {
		case KC_EV_CALL:
			given[b] += e->given;
			g_total += e->given;
			tlb_made[b] += e->tlb;
			n_made += e->tlb;
			break;
		case KC_EV_REFAULT:
			refault[b]++;
			n_refault++;
			break;
		case KC_EV_TLB_RECV:
			tlb_recv[b]++;
			n_recv++;
			break;
		}
	}
	for (int i = 0; i < l.nbins; i++) {
		sum[i] = tlb_made[i] + tlb_recv[i];
		max_g = given[i] > max_g ? given[i] : max_g;
		max_r = refault[i] > max_r ? refault[i] : max_r;
		max_t = sum[i] > max_t ? sum[i] : max_t;
	}
	ax[0] = make_axis((double)kc_timeline_peak_rss(tl), true);
	ax[1] = make_axis(max_g, true);
	ax[2] = make_axis(max_r, false);
	ax[3] = make_axis(max_t, false);
	/* the left margin: the widest y label */
	l.left = 0;
	for (int p = 0; p < 4; p++)
		for (int i = 0; i <= 2; i++) {
			tick_label(buf, sizeof(buf), &ax[p], ax[p].top * i / 2);
			if (ml_svg_text_w(buf, TL_FONT) > l.left)
				l.left = ml_svg_text_w(buf, TL_FONT);
		}
	/* ... or lane label */
	for (int c = 0; c < KC_MARK_CLASSES; c++) {
		if (!tl->mark_count[c] || !tl->mark_names[c])
			continue;
		snprintf(buf, sizeof(buf), "%s (%zu)", tl->mark_names[c], tl->mark_count[c]);
		if (ml_svg_text_w(buf, TL_FONT) > l.left)
			l.left = ml_svg_text_w(buf, TL_FONT);
	}
	l.left += TL_MARGIN + 8;

	m = open_memstream(&body, &blen);
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	ml_svg_text(m, &l.max_x, TL_MARGIN, 24, ML_SVG_START, " font-weight=\"bold\"", title,
		    TL_TITLE);
	snprintf(buf, sizeof(buf),
		 "RSS every %d ms (/proc/PID/statm, %zu samples); given back %s; %llu refaults; "
		 "%llu TLB flushes in calls, %llu IPIs taken; events lost: %llu",
		 tl->interval_ms, tl->nrss, ml_fmt_bytes(gb, sizeof(gb), g_total), n_refault,
		 n_made, n_recv, dropped + tl->over_cap);
	ml_svg_text(m, &l.max_x, TL_MARGIN, 44, ML_SVG_START, " fill=\"#555\"", buf, TL_FONT);
	y = 60;
	if (tl->nmarks) {
		/* a lane per class of marks, labelled on the left */
		int lane[KC_MARK_CLASSES], nl = 0;

		ml_svg_text(m, &l.max_x, l.left, y + 10, ML_SVG_START, " font-weight=\"bold\"",
			    "allocator decisions (purges also as lines across the panels)",
			    TL_FONT);
		y += 16;
		for (int c = 0; c < KC_MARK_CLASSES; c++) {
			lane[c] = -1;
			if (!tl->mark_count[c] || !tl->mark_names[c])
				continue;
			lane[c] = y + nl * TL_LANE;
			snprintf(buf, sizeof(buf), "%s (%zu)", tl->mark_names[c],
				 tl->mark_count[c]);
			ml_svg_text(m, &l.max_x, l.left - 6, lane[c] + TL_LANE - 3, ML_SVG_END, "",
				    buf, TL_FONT);
			fprintf(m,
				"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				"fill=\"#f6f6f6\"/>\n",
				l.left, lane[c] + 1, TL_PLOT_W, TL_LANE - 2);
			nl++;
		}
		for (size_t i = 0; i < tl->nmarks; i++) {
			int x = x_of(&l, tl->marks[i].t, tl->t_start), c = tl->marks[i].cls;

			if (lane[c] < 0)
				continue;
			fprintf(m,
				"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				"stroke=\"%s\"/>\n",
				x, lane[c] + 1, x, lane[c] + TL_LANE - 1, mark_colors[c]);
		}
		y += nl * TL_LANE + 4;
	}
	y += TL_GAP - 8;
	bin_label(buf, sizeof(buf), "given back (munmap, MADV_DONTNEED/FREE, brk)", l.bin_ns);
	{
		const char *titles[4] = { "resident set (RSS)", buf, NULL, NULL };
		char t2[96], t3[128];

		bin_label(t2, sizeof(t2), "refaults", l.bin_ns);
		bin_label(t3, sizeof(t3),
			  have_tlb ? "TLB flushes: made in calls (orange), IPIs taken (purple)" :
				     "TLB flushes: no tlb:tlb_flush tracepoint",
			  l.bin_ns);
		titles[2] = t2;
		titles[3] = t3;
		for (int p = 0; p < 4; p++) {
			int py = y + p * (TL_PANEL + TL_GAP);

			panel_frame(m, &l, py, titles[p], &ax[p]);
			if (p == 0)
				panel_rss(m, &l, py, &ax[0], tl);
			else if (p == 1)
				panel_bars(m, &l, py, &ax[1], given, NULL, "#59a14f");
			else if (p == 2)
				panel_bars(m, &l, py, &ax[2], refault, NULL, "#e15759");
			else {
				panel_bars(m, &l, py, &ax[3], tlb_made, NULL, "#f28e2b");
				panel_bars(m, &l, py, &ax[3], tlb_recv, tlb_made, "#b07aa1");
			}
		}
	}
	/* the purges, across every panel */
	for (size_t i = 0; i < tl->nmarks; i++) {
		int x = x_of(&l, tl->marks[i].t, tl->t_start);

		if (tl->marks[i].cls >= KC_MARK_LINES)
			continue;
		fprintf(m,
			"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			"stroke-opacity=\"0.45\"/>\n",
			x, y, x, y + 4 * TL_PANEL + 3 * TL_GAP, mark_colors[tl->marks[i].cls]);
	}
	y += 4 * TL_PANEL + 3 * TL_GAP;
	x_axis(m, &l, y);
	h = y + 34 + TL_MARGIN;
	fclose(m);
	l.max_x = l.max_x > l.left + TL_PLOT_W ? l.max_x : l.left + TL_PLOT_W;
	ret = ml_svg_write(tl->svg, l.max_x + TL_MARGIN, h, TL_FONT, body);
	tl->svg = NULL;
out:
	free(body);
	free(given);
	free(refault);
	free(tlb_made);
	free(tlb_recv);
	free(sum);
	return ret;
}
