// SPDX-License-Identifier: GPL-2.0
/*
 * The emitters of the inspector's reports: text, JSON, Prometheus.
 * See report.h for the model and docs/inspector.md for the formats.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "term.h"

static const char *const unit_names[] = {
	[ML_UNIT_BYTES] = "bytes",        [ML_UNIT_COUNT] = "count",     [ML_UNIT_TOTAL] = "total",
	[ML_UNIT_PERCENT] = "percent",    [ML_UNIT_SECONDS] = "seconds", [ML_UNIT_RATIO] = "ratio",
	[ML_UNIT_PER_SEC] = "per_second", [ML_UNIT_ADDR] = "address",    [ML_UNIT_ID] = "id",
	[ML_UNIT_TEXT] = "text",
};

const char *ml_fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (fabs(b) >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f B", b);
	else
		snprintf(buf, len, "%.1f %s", b, u[i]);
	return buf;
}

/* A value as text (for the text emitter). */
static const char *fmt_text(char *buf, size_t len, enum ml_unit unit, double v)
{
	switch (unit) {
	case ML_UNIT_BYTES:
		return ml_fmt_bytes(buf, len, v);
	case ML_UNIT_PERCENT:
		snprintf(buf, len, "%.1f%%", v);
		break;
	case ML_UNIT_SECONDS:
		snprintf(buf, len, "%.3f s", v);
		break;
	case ML_UNIT_RATIO:
		snprintf(buf, len, "%.2fx", v);
		break;
	case ML_UNIT_PER_SEC:
		snprintf(buf, len, "%.1f/s", v);
		break;
	case ML_UNIT_ADDR:
		snprintf(buf, len, "%llx", (unsigned long long)v);
		break;
	default:
		snprintf(buf, len, "%.0f", v);
	}
	return buf;
}

/* A number as JSON or Prometheus: integers exactly, others with %.6g. */
static void put_num(FILE *f, enum ml_unit unit, double v)
{
	if (unit == ML_UNIT_PERCENT || unit == ML_UNIT_SECONDS || unit == ML_UNIT_RATIO ||
	    unit == ML_UNIT_PER_SEC || v != floor(v) || fabs(v) >= 9007199254740992.0)
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "%.0f", v);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Length of the valid UTF-8 sequence at @s, or 0. */
static int utf8_len(const unsigned char *s)
{
	int n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Prometheus label values and HELP/comment text: backslash, quote (labels
 * only) and newline escaped, the only escapes the format has; bytes that
 * are not UTF-8, and control bytes but tab, become U+FFFD, so that any
 * process name gives a valid exposition.
 */
static void prom_escape_as(char *dst, size_t len, const char *src, bool quote)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s && o + 4 < len) {
		int n = utf8_len(s);

		if (*s == '\\' || (quote && *s == '"')) {
			dst[o++] = '\\';
			dst[o++] = *s++;
		} else if (*s == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
			s++;
		} else if (!n || (*s < 0x20 && *s != '\t')) {
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		} else {
			memcpy(dst + o, s, n);
			o += n;
			s += n;
		}
	}
	dst[o] = '\0';
}

static void prom_escape(char *dst, size_t len, const char *s)
{
	prom_escape_as(dst, len, s, true);
}

static void json_key(struct ml_report *r, const char *key)
{
	if (r->comma[r->depth])
		fputc(',', r->out);
	r->comma[r->depth] = true;
	if (key) {
		json_str(r->out, key);
		fputc(':', r->out);
	}
}

/* memlens_<section>_..._<key> */
static void prom_name(struct ml_report *r, char *buf, size_t len, const char *table,
		      const char *key)
{
	size_t o = snprintf(buf, len, "memlens");

	for (int i = 1; i <= r->depth && o < len; i++)
		o += snprintf(buf + o, len - o, "_%s", r->path[i]);
	if (table && o < len)
		o += snprintf(buf + o, len - o, "_%s", table);
	if (o < len)
		snprintf(buf + o, len - o, "_%s", key);
}

static const char *prom_type(enum ml_unit unit)
{
	return unit == ML_UNIT_TOTAL ? "counter" : "gauge";
}

/* Counters end in _total (the exposition's convention and OpenMetrics' rule). */
static void prom_counter_suffix(char *name, size_t len, enum ml_unit unit)
{
	size_t n = strlen(name);

	if (unit == ML_UNIT_TOTAL && (n < 6 || strcmp(name + n - 6, "_total")))
		snprintf(name + n, len - n, "_total");
}

void ml_report_begin(struct ml_report *r, FILE *out, enum ml_format fmt, const char *command)
{
	memset(r, 0, sizeof(*r));
	r->fmt = fmt;
	r->out = out;
	r->path[0] = command;
	if (fmt == ML_FMT_JSON) {
		char host[256] = "", stamp[32] = "";
		time_t t = time(NULL);
		struct tm tm;

		if (gethostname(host, sizeof(host) - 1))
			host[0] = '\0';
		if (gmtime_r(&t, &tm))
			strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fputs("{\"schema\":\"" ML_SCHEMA "\",\"command\":", out);
		json_str(out, command);
		fputs(",\"version\":\"" MEMLENS_VERSION "\",\"timestamp\":", out);
		json_str(out, stamp);
		fprintf(out, ",\"timestamp_unix\":%lld,\"hostname\":", (long long)t);
		json_str(out, host);
		r->comma[0] = true;
	}
}

const char *ml_exit_reason(int code)
{
	switch (code) {
	case ML_EXIT_NOPROC:
		return "no_such_process";
	case ML_EXIT_KTHREAD:
		return "kernel_thread";
	case ML_EXIT_VANISHED:
		return "process_exited";
	case ML_EXIT_PERM:
		return "permission_denied";
	case ML_EXIT_BACKEND:
		return "backend_unavailable";
	default:
		return "error";
	}
}

void ml_report_error(struct ml_report *r, int code, const char *message)
{
	r->error = code;
	ml_report_section(r, "error", NULL);
	ml_report_int(r, "exit_code", "exit code", code);
	ml_report_str(r, "reason", "reason", ml_exit_reason(code));
	ml_report_str(r, "message", "error", message);
	ml_report_section_end(r);
}

void ml_report_end(struct ml_report *r)
{
	if (r->fmt == ML_FMT_JSON)
		fputs("}\n", r->out);
	if (r->fmt == ML_FMT_PROM) {
		fprintf(r->out,
			"# HELP memlens_up 1 when memlens measured its target, 0 when it failed\n"
			"# TYPE memlens_up gauge\nmemlens_up%s%s%s %d\n",
			r->labels[0] ? "{" : "", r->labels, r->labels[0] ? "}" : "", !r->error);
		if (r->error)
			fprintf(r->out,
				"# HELP memlens_scrape_error 1 with the reason the report is partial or empty\n"
				"# TYPE memlens_scrape_error gauge\nmemlens_scrape_error{%s%sreason=\"%s\"} 1\n",
				r->labels, r->labels[0] ? "," : "", ml_exit_reason(r->error));
	}
	fflush(r->out);
}

void ml_report_failure(FILE *out, enum ml_format fmt, const char *command, pid_t pid, int code,
		       const char *message)
{
	struct ml_report r;
	char spid[16];

	if (fmt != ML_FMT_PROM)
		return;
	ml_report_begin(&r, out, fmt, command);
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	ml_report_label(&r, "pid", spid);
	ml_report_error(&r, code, message);
	ml_report_end(&r);
}

void ml_report_label(struct ml_report *r, const char *key, const char *value)
{
	size_t o = strlen(r->labels);
	char esc[256];

	prom_escape(esc, sizeof(esc), value);
	snprintf(r->labels + o, sizeof(r->labels) - o, "%s%s=\"%s\"", o ? "," : "", key, esc);
}

void ml_report_section(struct ml_report *r, const char *key, const char *title)
{
	if (r->fmt == ML_FMT_JSON) {
		json_key(r, key);
		fputc('{', r->out);
	} else if (r->fmt == ML_FMT_TEXT && title) {
		fprintf(r->out, "%s%s\n", r->depth ? "" : "\n", title);
	}
	if (r->depth + 1 < ML_REPORT_DEPTH) {
		r->depth++;
		r->comma[r->depth] = false;
		r->path[r->depth] = key;
	}
}

void ml_report_section_end(struct ml_report *r)
{
	if (r->fmt == ML_FMT_JSON)
		fputc('}', r->out);
	if (r->depth)
		r->depth--;
}

void ml_report_str(struct ml_report *r, const char *key, const char *label, const char *value)
{
	if (r->fmt == ML_FMT_JSON) {
		json_key(r, key);
		json_str(r->out, value);
	} else if (r->fmt == ML_FMT_TEXT) {
		fprintf(r->out, "  %-28s %s\n", label, value);
	} else {
		char esc[1024];

		prom_escape_as(esc, sizeof(esc), value, false);
		fprintf(r->out, "# %s: %s\n", label, esc);
	}
}

void ml_report_int(struct ml_report *r, const char *key, const char *label, long long value)
{
	if (r->fmt == ML_FMT_JSON) {
		json_key(r, key);
		fprintf(r->out, "%lld", value);
	} else if (r->fmt == ML_FMT_TEXT) {
		fprintf(r->out, "  %-28s %lld\n", label, value);
	}
}

void ml_report_val(struct ml_report *r, const char *key, const char *label, enum ml_unit unit,
		   struct ml_val v)
{
	char buf[64], name[256];

	switch (r->fmt) {
	case ML_FMT_JSON:
		json_key(r, key);
		fputs("{\"value\":", r->out);
		if (ml_known(v))
			put_num(r->out, unit, v.v);
		else
			fputs("null", r->out);
		fprintf(r->out, ",\"unit\":\"%s\",", unit_names[unit]);
		if (ml_known(v)) {
			fprintf(r->out, "\"source\":\"%s\"}", ml_src_name(v.src));
		} else {
			fputs("\"unavailable\":", r->out);
			json_str(r->out, v.why ? v.why : "unknown");
			fputc('}', r->out);
		}
		break;
	case ML_FMT_TEXT:
		if (ml_known(v))
			fprintf(r->out, "  %-28s %-14s [%s]\n", label,
				fmt_text(buf, sizeof(buf), unit, v.v), ml_src_name(v.src));
		else
			fprintf(r->out, "  %-28s unavailable: %s\n", label,
				v.why ? v.why : "unknown");
		break;
	case ML_FMT_PROM:
		prom_name(r, name, sizeof(name), NULL, key);
		prom_counter_suffix(name, sizeof(name), unit);
		if (!ml_known(v)) {
			fprintf(r->out, "# UNAVAILABLE %s: %s\n", name, v.why ? v.why : "unknown");
			break;
		}
		while (*label == ' ')
			label++;
		fprintf(r->out, "# HELP %s %s\n# TYPE %s %s\n%s{%s%ssource=\"%s\"} ", name, label,
			name, prom_type(unit), name, r->labels, r->labels[0] ? "," : "",
			ml_src_name(v.src));
		put_num(r->out, unit, v.v);
		fputc('\n', r->out);
		break;
	}
}

void ml_report_table(struct ml_report *r, const char *key, const char *title,
		     const struct ml_col *cols, int ncols, enum ml_src src)
{
	r->tkey = key;
	r->ttitle = title;
	r->cols = cols;
	r->ncols = ncols;
	r->nrows = 0;
	r->ncells = 0;
	r->tsrc = src;
	r->ttotal = NULL;
}

void ml_report_table_totals(struct ml_report *r, const char *label)
{
	r->ttotal = label;
}

static bool summed(enum ml_unit unit)
{
	return unit == ML_UNIT_BYTES || unit == ML_UNIT_COUNT || unit == ML_UNIT_TOTAL;
}

/* The totals line's cell of column @c: "" when the column is not summed. */
static void total_text(const struct ml_report *r, int c, char *buf, size_t len)
{
	double sum = 0;

	buf[0] = '\0';
	if (!c) {
		snprintf(buf, len, "%s", r->ttotal);
		return;
	}
	if (!summed(r->cols[c].unit))
		return;
	for (int row = 0; row < r->nrows; row++) {
		const struct ml_cell *cell = &r->cells[row * r->ncols + c];

		if (ml_known(cell->v))
			sum += cell->v.v;
	}
	fmt_text(buf, len, r->cols[c].unit, sum);
}

static struct ml_cell *next_cell(struct ml_report *r)
{
	if (r->ncells == r->cap) {
		int cap = r->cap ? r->cap * 2 : 256;
		struct ml_cell *c = realloc(r->cells, cap * sizeof(*c));

		if (!c)
			return NULL;
		r->cells = c;
		r->cap = cap;
	}
	memset(&r->cells[r->ncells], 0, sizeof(r->cells[0]));
	return &r->cells[r->ncells++];
}

void ml_report_cell(struct ml_report *r, struct ml_val v)
{
	struct ml_cell *c = next_cell(r);

	if (c) {
		c->v = v;
		c->addr = ml_known(v) ? (unsigned long long)v.v : 0;
	}
}

void ml_report_cell_addr(struct ml_report *r, unsigned long long addr)
{
	struct ml_cell *c = next_cell(r);

	if (c) {
		c->v = ml_have((double)addr, r->tsrc);
		c->addr = addr;
	}
}

void ml_report_cell_str(struct ml_report *r, const char *s)
{
	struct ml_cell *c = next_cell(r);

	if (c) {
		c->s = strdup(s);
		c->v = ml_have(0, r->tsrc);
	}
}

static void cell_text(const struct ml_report *r, int i, char *buf, size_t len)
{
	const struct ml_cell *c = &r->cells[i];
	enum ml_unit unit = r->cols[i % r->ncols].unit;

	if (c->s)
		snprintf(buf, len, "%s", c->s);
	else if (!ml_known(c->v))
		snprintf(buf, len, "-");
	else if (unit == ML_UNIT_ADDR)
		snprintf(buf, len, "%llx", c->addr);
	else
		fmt_text(buf, len, unit, c->v.v);
}

static void table_text(struct ml_report *r)
{
	int w[32] = { 0 }, nc = r->ncols < 32 ? r->ncols : 32;
	char buf[256];

	fprintf(r->out, "\n%s [%s]\n", r->ttitle, ml_src_name(r->tsrc));
	/* widths in display columns (term.h): a name in UTF-8 keeps the columns aligned */
	for (int c = 0; c < nc; c++)
		w[c] = ml_text_width(r->cols[c].title);
	for (int i = 0; i < r->ncells; i++) {
		int c = i % r->ncols, l;

		if (c >= nc)
			continue;
		cell_text(r, i, buf, sizeof(buf));
		l = ml_text_width(buf);
		if (l > w[c])
			w[c] = l > 60 ? 60 : l;
	}
	for (int c = 0; r->ttotal && c < nc; c++) {
		int l;

		total_text(r, c, buf, sizeof(buf));
		l = ml_text_width(buf);
		if (l > w[c])
			w[c] = l > 60 ? 60 : l;
	}
	for (int c = 0; c < nc; c++) {
		bool left = r->cols[c].unit == ML_UNIT_TEXT || c == nc - 1;

		fputs("  ", r->out);
		if (c == nc - 1 && left)
			fputs(r->cols[c].title, r->out);
		else
			ml_text_put(r->out, r->cols[c].title, w[c], left);
	}
	fputc('\n', r->out);
	for (int i = 0; i < r->ncells; i++) {
		int c = i % r->ncols;
		bool left;

		if (c >= nc)
			continue;
		left = r->cols[c].unit == ML_UNIT_TEXT || c == nc - 1;
		cell_text(r, i, buf, sizeof(buf));
		fputs("  ", r->out);
		if (c == nc - 1 && left)
			fputs(buf, r->out);
		else
			ml_text_put(r->out, buf, w[c], left);
		if (c == r->ncols - 1)
			fputc('\n', r->out);
	}
	for (int c = 0; r->ttotal && c < nc; c++) {
		bool left = r->cols[c].unit == ML_UNIT_TEXT || c == nc - 1 || !c;

		total_text(r, c, buf, sizeof(buf));
		if (c == nc - 1 && left) {
			fprintf(r->out, "%s%s", buf[0] ? "  " : "", buf);
		} else {
			fputs("  ", r->out);
			ml_text_put(r->out, buf, w[c], left);
		}
		if (c == nc - 1)
			fputc('\n', r->out);
	}
}

static void table_json(struct ml_report *r)
{
	json_key(r, r->tkey);
	fprintf(r->out, "{\"source\":\"%s\",\"rows\":[", ml_src_name(r->tsrc));
	for (int i = 0; i < r->ncells; i++) {
		const struct ml_cell *c = &r->cells[i];
		int col = i % r->ncols;

		if (!col)
			fputs(i ? ",{" : "{", r->out);
		else
			fputc(',', r->out);
		json_str(r->out, r->cols[col].key);
		fputc(':', r->out);
		if (c->s)
			json_str(r->out, c->s);
		else if (!ml_known(c->v))
			fputs("null", r->out);
		else if (r->cols[col].unit == ML_UNIT_ADDR)
			fprintf(r->out, "\"0x%llx\"", c->addr);
		else
			put_num(r->out, r->cols[col].unit, c->v.v);
		if (col == r->ncols - 1)
			fputc('}', r->out);
	}
	fputs("]}", r->out);
}

/* The labels of one row: the table's TEXT and ADDR columns. */
static void row_labels(struct ml_report *r, int row, char *buf, size_t len)
{
	size_t o = snprintf(buf, len, "%s", r->labels);

	for (int c = 0; c < r->ncols && o < len; c++) {
		const struct ml_cell *cell = &r->cells[row * r->ncols + c];
		char val[256], esc[300];

		if (r->cols[c].unit == ML_UNIT_TEXT)
			prom_escape(esc, sizeof(esc), cell->s ? cell->s : "");
		else if (r->cols[c].unit == ML_UNIT_ADDR)
			snprintf(esc, sizeof(esc), "0x%llx", cell->addr);
		else if (r->cols[c].unit == ML_UNIT_ID)
			snprintf(esc, sizeof(esc), "%s",
				 fmt_text(val, sizeof(val), r->cols[c].unit, cell->v.v));
		else
			continue;
		o += snprintf(buf + o, len - o, "%s%s=\"%s\"", o ? "," : "", r->cols[c].key, esc);
	}
}

static void table_prom(struct ml_report *r)
{
	char name[256], labels[1024];

	for (int c = 0; c < r->ncols; c++) {
		enum ml_unit unit = r->cols[c].unit;

		if (unit == ML_UNIT_TEXT || unit == ML_UNIT_ADDR || unit == ML_UNIT_ID)
			continue;
		prom_name(r, name, sizeof(name), r->tkey, r->cols[c].key);
		prom_counter_suffix(name, sizeof(name), unit);
		fprintf(r->out, "# HELP %s %s: %s\n# TYPE %s %s\n", name, r->ttitle,
			r->cols[c].title, name, prom_type(unit));
		for (int row = 0; row < r->nrows; row++) {
			const struct ml_cell *cell = &r->cells[row * r->ncols + c];

			if (!ml_known(cell->v))
				continue;
			row_labels(r, row, labels, sizeof(labels));
			fprintf(r->out, "%s{%s%ssource=\"%s\"} ", name, labels,
				labels[0] ? "," : "", ml_src_name(cell->v.src));
			put_num(r->out, unit, cell->v.v);
			fputc('\n', r->out);
		}
	}
}

void ml_report_table_end(struct ml_report *r)
{
	r->nrows = r->ncols ? r->ncells / r->ncols : 0;
	r->ncells = r->nrows * r->ncols;
	if (r->fmt == ML_FMT_TEXT)
		table_text(r);
	else if (r->fmt == ML_FMT_JSON)
		table_json(r);
	else
		table_prom(r);
	for (int i = 0; i < r->ncells; i++)
		free(r->cells[i].s);
	free(r->cells);
	r->cells = NULL;
	r->ncells = r->cap = r->nrows = 0;
}
