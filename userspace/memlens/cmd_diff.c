// SPDX-License-Identifier: GPL-2.0
/*
 * memlens diff A.json B.json: what grew and what shrank between two
 * "memlens inspect --json" documents -- the summary's byte figures, each
 * VMA (matched by name and start, then by a name that is unique in both),
 * each libmlalloc arena (matched by base and role).  Read with json-c.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "memlens.h"
#include "report.h"

struct diff_args {
	enum ml_format format;
	const char *file[2];
	int nfiles;
};

static const struct argp_child diff_children[] = { { &ml_format_argp, 0, NULL, 0 }, { 0 } };

static error_t parse_diff(int key, char *arg, struct argp_state *state)
{
	struct diff_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->format;
		return 0;
	case ARGP_KEY_ARG:
		if (a->nfiles == 2) {
			argp_error(state, "two files only: A.json B.json");
			return EINVAL;
		}
		a->file[a->nfiles++] = arg;
		return 0;
	case ARGP_KEY_END:
		if (a->nfiles != 2) {
			argp_error(state, "give two files: A.json B.json");
			return EINVAL;
		}
		if (a->format == ML_FMT_PROM) {
			argp_error(state, "--prometheus: a diff is no scrape (use --json)");
			return EINVAL;
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp diff_argp = {
	.parser = parse_diff,
	.args_doc = "A.json B.json",
	.doc = "What grew and what shrank between two snapshots taken with "
	       "'memlens inspect --json' (of the same process, or any two): the "
	       "summary's byte figures, each VMA (matched by name and start, else "
	       "by a name unique in both; new and gone VMAs too) and each libmlalloc "
	       "arena (matched by base and role).  B minus A, in bytes.  A file that "
	       "is not an inspect document of schema memlens/1 is exit 2, one line.\v"
	       "Examples:\n"
	       "  memlens inspect --json 1234 > a.json; sleep 60; memlens inspect --json 1234 > b.json\n"
	       "  memlens diff a.json b.json\n"
	       "  memlens diff --json a.json b.json | jq '.vmas.rows[] | select(.change == \"grew\")'",
	.children = diff_children,
};

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A number cell or a field's value; false if absent, null or not a number. */
static bool jnum(json_object *o, const char *key, double *out)
{
	json_object *v = jget(o, key);

	if (v && json_object_is_type(v, json_type_object))
		v = jget(v, "value");
	if (!v ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return false;
	*out = json_object_get_double(v);
	return true;
}

/* An address cell: "0x..." */
static bool jaddr(json_object *o, const char *key, unsigned long long *out)
{
	const char *s = jstr(o, key);
	char *end;

	if (!s || strncmp(s, "0x", 2) || !s[2])
		return false;
	errno = 0;
	*out = strtoull(s + 2, &end, 16);
	return !errno && !*end;
}

static json_object *rows_of(json_object *doc, const char *a, const char *b)
{
	json_object *t = jget(jget(doc, a), b ? b : "rows");

	if (b)
		t = jget(t, "rows");
	return t && json_object_is_type(t, json_type_array) ? t : NULL;
}

/* Load @path: an inspect document of schema memlens/1; else one line, NULL. */
static json_object *load(const char *path)
{
	FILE *f = fopen(path, "r");
	json_object *doc = f ? json_object_from_file(path) : NULL;
	const char *why = NULL;

	if (f)
		fclose(f);
	if (!f)
		why = strerror(errno);
	else if (!doc)
		why = "not valid JSON";
	else if (!json_object_is_type(doc, json_type_object))
		why = "not a JSON object";
	else if (!jstr(doc, "schema") || strcmp(jstr(doc, "schema"), ML_SCHEMA))
		why = "not a memlens/1 document (no \"schema\": \"memlens/1\")";
	else if (!jstr(doc, "command") || strcmp(jstr(doc, "command"), "inspect"))
		why = "not a 'memlens inspect --json' document";
	else if (!jget(doc, "summary"))
		why = "an inspect document without a summary (a failed snapshot)";
	if (!why)
		return doc;
	fprintf(stderr, "memlens diff: %s: %.*s\n", path, (int)strcspn(why, "\n"), why);
	json_object_put(doc);
	return NULL;
}

static void emit_side(struct ml_report *r, const char *key, const char *path, json_object *doc)
{
	json_object *pid = jget(jget(doc, "process"), "pid");

	ml_report_section(r, key, !strcmp(key, "a") ? "A" : "B");
	ml_report_str(r, "file", "file", path);
	if (pid)
		ml_report_int(r, "pid", "pid", json_object_get_int64(pid));
	if (jstr(jget(doc, "process"), "comm"))
		ml_report_str(r, "comm", "comm", jstr(jget(doc, "process"), "comm"));
	if (jstr(doc, "timestamp"))
		ml_report_str(r, "timestamp", "taken", jstr(doc, "timestamp"));
	if (jstr(doc, "hostname"))
		ml_report_str(r, "hostname", "host", jstr(doc, "hostname"));
	ml_report_section_end(r);
}

/* The summary's byte figures, B - A, where both have them. */
static void emit_summary(struct ml_report *r, json_object *a, json_object *b)
{
	json_object *sa = jget(a, "summary"), *sb = jget(b, "summary");

	ml_report_section(r, "summary", "Summary (B - A)");
	json_object_object_foreach(sb, key, fb)
	{
		const char *unit = jstr(fb, "unit");
		double va, vb;

		if (!unit || strcmp(unit, "bytes"))
			continue;
		if (jnum(sa, key, &va) && jnum(sb, key, &vb))
			ml_report_val(r, key, key, ML_UNIT_BYTES, ml_have(vb - va, ML_SRC_PROC));
		else
			ml_report_val(r, key, key, ML_UNIT_BYTES, ml_none("unavailable in A or B"));
	}
	ml_report_section_end(r);
}

static const char *vma_name(json_object *row)
{
	const char *n = jstr(row, "name");

	return n ? n : "";
}

/* Is @name held by exactly one row of @rows not yet matched (@used)? */
static int unique_row(json_object *rows, const bool *used, const char *name)
{
	int found = -1;

	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		if (used[i] || strcmp(vma_name(json_object_array_get_idx(rows, i)), name))
			continue;
		if (found >= 0)
			return -1;
		found = i;
	}
	return found;
}

static const struct ml_col vma_cols[] = {
	{ "start", "start", ML_UNIT_ADDR },         { "end", "end", ML_UNIT_ADDR },
	{ "change", "change", ML_UNIT_TEXT },       { "size_bytes", "size", ML_UNIT_BYTES },
	{ "resident_bytes", "rss", ML_UNIT_BYTES }, { "anon_bytes", "anon", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },    { "lazyfree_bytes", "lazyfree", ML_UNIT_BYTES },
	{ "name", "name", ML_UNIT_TEXT },
};

#define NVMA_COLS (sizeof(vma_cols) / sizeof(vma_cols[0]))

/*
 * One row: B's start and end (A's for a gone VMA), the change, B - A of
 * each byte column (a new VMA counts from 0, a gone one to 0).  Nothing
 * when nothing changed.
 */
static void vma_row(struct ml_report *r, json_object *ra, json_object *rb)
{
	json_object *at = rb ? rb : ra;
	double d[NVMA_COLS] = { 0 };
	bool changed = !ra || !rb;
	unsigned long long s = 0, e = 0, sa = 0, sb = 0;
	const char *change;

	for (size_t c = 3; c < NVMA_COLS - 1; c++) {
		double va = 0, vb = 0;

		if (ra)
			jnum(ra, vma_cols[c].key, &va);
		if (rb)
			jnum(rb, vma_cols[c].key, &vb);
		d[c] = vb - va;
		changed |= d[c] != 0;
	}
	if (ra && rb && jaddr(ra, "start", &sa) && jaddr(rb, "start", &sb))
		changed |= sa != sb;
	if (!changed)
		return;
	jaddr(at, "start", &s);
	jaddr(at, "end", &e);
	if (!ra)
		change = "new";
	else if (!rb)
		change = "gone";
	else if (d[3] > 0 || (d[3] == 0 && d[4] > 0))
		change = "grew";
	else if (d[3] < 0 || d[4] < 0)
		change = "shrank";
	else if (sa != sb)
		change = "moved"; /* matched by its name alone */
	else
		change = "changed";
	ml_report_cell_addr(r, s);
	ml_report_cell_addr(r, e);
	ml_report_cell_str(r, change);
	for (size_t c = 3; c < NVMA_COLS - 1; c++)
		ml_report_cell(r, ml_have(d[c], ML_SRC_PROC));
	ml_report_cell_str(r, vma_name(at));
}

static void emit_vmas(struct ml_report *r, json_object *a, json_object *b)
{
	json_object *ra = rows_of(a, "vmas", NULL), *rb = rows_of(b, "vmas", NULL);
	size_t na = ra ? json_object_array_length(ra) : 0;
	size_t nb = rb ? json_object_array_length(rb) : 0;
	bool *used_a = calloc(na + 1, 1), *used_b = calloc(nb + 1, 1);
	int *match = calloc(nb + 1, sizeof(int));

	if (!used_a || !used_b || !match)
		goto out;
	/* 1: same name and start; 2: the same name, unique on both sides */
	for (size_t j = 0; j < nb; j++) {
		json_object *y = json_object_array_get_idx(rb, j);
		unsigned long long sy = 0, sx;

		match[j] = -1;
		jaddr(y, "start", &sy);
		for (size_t i = 0; i < na; i++) {
			json_object *x = json_object_array_get_idx(ra, i);

			if (!used_a[i] && jaddr(x, "start", &sx) && sx == sy &&
			    !strcmp(vma_name(x), vma_name(y))) {
				match[j] = i;
				used_a[i] = used_b[j] = true;
				break;
			}
		}
	}
	for (size_t j = 0; j < nb; j++) {
		const char *name = vma_name(json_object_array_get_idx(rb, j));
		int i;

		if (used_b[j] || !name[0] || unique_row(rb, used_b, name) != (int)j)
			continue;
		i = unique_row(ra, used_a, name);
		if (i >= 0) {
			match[j] = i;
			used_a[i] = used_b[j] = true;
		}
	}
	ml_report_table(r, "vmas", "VMAs that changed (B - A)", vma_cols, NVMA_COLS, ML_SRC_PROC);
	for (size_t j = 0; j < nb; j++)
		vma_row(r, match[j] >= 0 ? json_object_array_get_idx(ra, match[j]) : NULL,
			json_object_array_get_idx(rb, j));
	for (size_t i = 0; i < na; i++)
		if (!used_a[i])
			vma_row(r, json_object_array_get_idx(ra, i), NULL);
	ml_report_table_totals(r, "total");
	ml_report_table_end(r);
out:
	free(used_a);
	free(used_b);
	free(match);
}

static const struct ml_col arena_cols[] = {
	{ "base", "base", ML_UNIT_ADDR },
	{ "role", "role", ML_UNIT_TEXT },
	{ "change", "change", ML_UNIT_TEXT },
	{ "committed_bytes", "committed", ML_UNIT_BYTES },
	{ "live_bytes", "live", ML_UNIT_BYTES },
	{ "resident_bytes", "resident", ML_UNIT_BYTES },
	{ "fragmentation_bytes", "fragmentation", ML_UNIT_BYTES },
};

#define NARENA_COLS (sizeof(arena_cols) / sizeof(arena_cols[0]))

static json_object *find_arena(json_object *rows, json_object *x)
{
	unsigned long long bx = 0, by;
	const char *role = jstr(x, "role");

	jaddr(x, "base", &bx);
	for (size_t i = 0; rows && i < json_object_array_length(rows); i++) {
		json_object *y = json_object_array_get_idx(rows, i);

		if (jaddr(y, "base", &by) && by == bx && role && jstr(y, "role") &&
		    !strcmp(role, jstr(y, "role")))
			return y;
	}
	return NULL;
}

static void arena_row(struct ml_report *r, json_object *ra, json_object *rb)
{
	json_object *at = rb ? rb : ra;
	struct ml_val d[NARENA_COLS];
	bool changed = !ra || !rb;
	unsigned long long base = 0;
	double grew = 0;

	for (size_t c = 3; c < NARENA_COLS; c++) {
		double va = 0, vb = 0;
		bool ka = !ra || jnum(ra, arena_cols[c].key, &va);
		bool kb = !rb || jnum(rb, arena_cols[c].key, &vb);

		d[c] = ka && kb ? ml_have(vb - va, ML_SRC_MLALLOC) : ml_none("unavailable");
		changed |= ml_known(d[c]) && d[c].v != 0;
		if (c == 5 && ml_known(d[c]))
			grew = d[c].v;
	}
	if (!changed)
		return;
	jaddr(at, "base", &base);
	ml_report_cell_addr(r, base);
	ml_report_cell_str(r, jstr(at, "role") ? jstr(at, "role") : "");
	ml_report_cell_str(r, !ra      ? "new" :
			      !rb      ? "gone" :
			      grew > 0 ? "grew" :
			      grew < 0 ? "shrank" :
					 "changed");
	for (size_t c = 3; c < NARENA_COLS; c++)
		ml_report_cell(r, d[c]);
}

static void emit_arenas(struct ml_report *r, json_object *a, json_object *b)
{
	json_object *ra = rows_of(a, "mlalloc", "arenas"), *rb = rows_of(b, "mlalloc", "arenas");

	if (!ra && !rb)
		return;
	ml_report_table(r, "arenas", "libmlalloc arenas that changed (B - A)", arena_cols,
			NARENA_COLS, ML_SRC_MLALLOC);
	for (size_t j = 0; rb && j < json_object_array_length(rb); j++)
		arena_row(r, find_arena(ra, json_object_array_get_idx(rb, j)),
			  json_object_array_get_idx(rb, j));
	for (size_t i = 0; ra && i < json_object_array_length(ra); i++)
		if (!find_arena(rb, json_object_array_get_idx(ra, i)))
			arena_row(r, json_object_array_get_idx(ra, i), NULL);
	ml_report_table_end(r);
}

static int run_diff(int argc, char **argv)
{
	struct diff_args a = { ML_FMT_TEXT, { NULL, NULL }, 0 };
	json_object *doc[2] = { NULL, NULL };
	struct ml_report r;
	int ret;

	ret = ml_parse(&diff_argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	for (int i = 0; i < 2; i++) {
		doc[i] = load(a.file[i]);
		if (!doc[i]) {
			json_object_put(doc[0]);
			return ML_EXIT_USAGE;
		}
	}
	ml_report_begin(&r, stdout, a.format, "diff");
	if (a.format == ML_FMT_TEXT)
		printf("memlens diff: B - A\n");
	emit_side(&r, "a", a.file[0], doc[0]);
	emit_side(&r, "b", a.file[1], doc[1]);
	emit_summary(&r, doc[0], doc[1]);
	emit_vmas(&r, doc[0], doc[1]);
	emit_arenas(&r, doc[0], doc[1]);
	ml_report_end(&r);
	json_object_put(doc[0]);
	json_object_put(doc[1]);
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_diff = {
	.name = "diff",
	.summary = "what grew and shrank between two inspect --json snapshots",
	.run = run_diff,
};
