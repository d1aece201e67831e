/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small JSON parser for the inspector's tests (the guests have no
 * python): parses a document into a tree, looks values up by a dotted path,
 * and checks the memlens/1 schema (docs/inspector.md).
 */
#ifndef ML_JSON_H
#define ML_JSON_H

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype t;
	double num;
	char *str;		/* J_STR */
	int n;			/* J_ARR, J_OBJ: entries */
	char **keys;		/* J_OBJ */
	struct jval **items;
};

struct jparser {
	const char *p;
	char err[128];
};

static inline struct jval *jparse_value(struct jparser *ps);

static inline void jskip(struct jparser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static inline struct jval *jfail(struct jparser *ps, const char *what)
{
	if (!ps->err[0])
		snprintf(ps->err, sizeof(ps->err), "%s at '%.20s'", what, ps->p);
	return NULL;
}

static inline char *jparse_string(struct jparser *ps)
{
	size_t cap = 64, n = 0;
	char *s = malloc(cap);

	ps->p++;	/* opening quote */
	while (*ps->p && *ps->p != '"') {
		char c = *ps->p++;

		if ((unsigned char)c < 0x20) {
			free(s);
			jfail(ps, "control character in string");
			return NULL;
		}
		if (c == '\\') {
			c = *ps->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (!isxdigit((unsigned char)ps->p[0]) || !isxdigit((unsigned char)ps->p[1]) ||
				    !isxdigit((unsigned char)ps->p[2]) || !isxdigit((unsigned char)ps->p[3])) {
					free(s);
					jfail(ps, "bad \\u escape");
					return NULL;
				}
				c = (char)strtol((char[]){ ps->p[2], ps->p[3], 0 }, NULL, 16);
				ps->p += 4;
				break;
			case '"': case '\\': case '/':
				break;
			default:
				free(s);
				jfail(ps, "bad escape");
				return NULL;
			}
		}
		if (n + 2 > cap)
			s = realloc(s, cap *= 2);
		s[n++] = c;
	}
	if (*ps->p != '"') {
		free(s);
		jfail(ps, "unterminated string");
		return NULL;
	}
	ps->p++;
	s[n] = '\0';
	return s;
}

static inline struct jval *jnew(enum jtype t)
{
	struct jval *v = calloc(1, sizeof(*v));

	v->t = t;
	return v;
}

static inline void jadd(struct jval *v, char *key, struct jval *item)
{
	v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
	if (v->t == J_OBJ)
		v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
	if (v->t == J_OBJ)
		v->keys[v->n] = key;
	v->items[v->n++] = item;
}

static inline struct jval *jparse_container(struct jparser *ps, bool obj)
{
	struct jval *v = jnew(obj ? J_OBJ : J_ARR);

	ps->p++;
	jskip(ps);
	if (*ps->p == (obj ? '}' : ']')) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jval *item;

		jskip(ps);
		if (obj) {
			if (*ps->p != '"')
				return jfail(ps, "expected a key");
			key = jparse_string(ps);
			if (!key)
				return NULL;
			for (int i = 0; i < v->n; i++)
				if (!strcmp(v->keys[i], key))
					return jfail(ps, "duplicate key");
			jskip(ps);
			if (*ps->p++ != ':')
				return jfail(ps, "expected ':'");
		}
		item = jparse_value(ps);
		if (!item)
			return NULL;
		jadd(v, key, item);
		jskip(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == (obj ? '}' : ']')) {
			ps->p++;
			return v;
		}
		return jfail(ps, "expected ',' or end of container");
	}
}

static inline struct jval *jparse_value(struct jparser *ps)
{
	struct jval *v;

	jskip(ps);
	switch (*ps->p) {
	case '{':
		return jparse_container(ps, true);
	case '[':
		return jparse_container(ps, false);
	case '"':
		v = jnew(J_STR);
		v->str = jparse_string(ps);
		return v->str ? v : NULL;
	case 'n':
		if (strncmp(ps->p, "null", 4))
			return jfail(ps, "bad literal");
		ps->p += 4;
		return jnew(J_NULL);
	case 't':
	case 'f':
		v = jnew(J_BOOL);
		v->num = *ps->p == 't';
		if (strncmp(ps->p, v->num ? "true" : "false", v->num ? 4 : 5))
			return jfail(ps, "bad literal");
		ps->p += v->num ? 4 : 5;
		return v;
	default: {
		char *end;

		if (*ps->p != '-' && !isdigit((unsigned char)*ps->p))
			return jfail(ps, "unexpected character");
		v = jnew(J_NUM);
		v->num = strtod(ps->p, &end);
		if (end == ps->p)
			return jfail(ps, "bad number");
		ps->p = end;
		return v;
	}
	}
}

/* Parse a whole document (one value, then only whitespace). */
static inline struct jval *jparse(const char *text, char *err, size_t errlen)
{
	struct jparser ps = { .p = text };
	struct jval *v = jparse_value(&ps);

	if (v) {
		jskip(&ps);
		if (*ps.p)
			v = jfail(&ps, "trailing characters");
	}
	if (!v && err)
		snprintf(err, errlen, "%s", ps.err);
	return v;
}

static inline struct jval *jget(const struct jval *v, const char *key)
{
	if (!v || v->t != J_OBJ)
		return NULL;
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->keys[i], key))
			return v->items[i];
	return NULL;
}

/* "a.b.c" */
static inline struct jval *jpath(const struct jval *v, const char *path)
{
	char buf[256], *save, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = jget(v, k);
	return (struct jval *)v;
}

/* The number at @path, or -1 if absent or not a number. */
static inline double jnum(const struct jval *v, const char *path)
{
	const struct jval *n = jpath(v, path);

	return n && n->t == J_NUM ? n->num : -1;
}

static inline const char *jstr(const struct jval *v, const char *path)
{
	const struct jval *s = jpath(v, path);

	return s && s->t == J_STR ? s->str : NULL;
}

/*
 * The address at @path: a "0x..." string of lowercase hex digits (never a
 * number: jq 1.6 rounds those above 2^53).  0 if absent or malformed.
 */
static inline unsigned long long jaddr(const struct jval *v, const char *path)
{
	const char *s = jstr(v, path);
	char *end;
	unsigned long long a;

	if (!s || strncmp(s, "0x", 2) || !s[2] || strspn(s + 2, "0123456789abcdef") != strlen(s + 2))
		return 0;
	a = strtoull(s + 2, &end, 16);
	return *end ? 0 : a;
}

static inline bool jin(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static const char *const j_units[] = { "bytes", "count", "total", "percent",
	"seconds", "ratio", "per_second", "address", "id", "text", NULL };
static const char *const j_sources[] = { "proc", "module", "bpf", "perf",
	"mlalloc", "rusage", "clock", NULL };

/* The table columns that hold addresses in every memlens/1 document. */
static const char *const j_addr_cols[] = { "start", "end", "base", NULL };

/*
 * Check the memlens/1 schema below @v: every object with a "unit" is a
 * field {value: number|null, unit, source | unavailable}, exactly one of
 * source and unavailable, value null iff unavailable; every object with
 * "rows" is a table {source, rows: [objects of scalars]}.  Writes the first
 * problem into @err; returns true when the tree conforms.
 */
static inline bool jcheck_tree(const struct jval *v, const char *where, char *err, size_t len)
{
	if (v->t == J_ARR) {
		for (int i = 0; i < v->n; i++)
			if (!jcheck_tree(v->items[i], where, err, len))
				return false;
		return true;
	}
	if (v->t != J_OBJ)
		return true;
	if (jget(v, "unit")) {
		const struct jval *val = jget(v, "value");
		const char *src = jstr(v, "source"), *why = jstr(v, "unavailable");

		if (!val || (val->t != J_NUM && val->t != J_NULL) ||
		    !jin(jstr(v, "unit"), j_units) || !!src == !!why ||
		    (src && !jin(src, j_sources)) || (val->t == J_NULL) != !!why ||
		    v->n != 3) {
			snprintf(err, len, "bad field at %s", where);
			return false;
		}
		return true;
	}
	if (jget(v, "rows")) {
		const struct jval *rows = jget(v, "rows");

		if (!jin(jstr(v, "source"), j_sources) || rows->t != J_ARR) {
			snprintf(err, len, "bad table at %s", where);
			return false;
		}
		for (int i = 0; i < rows->n; i++) {
			const struct jval *row = rows->items[i];

			if (row->t != J_OBJ || (i && row->n != rows->items[0]->n)) {
				snprintf(err, len, "bad row %d at %s", i, where);
				return false;
			}
			for (int k = 0; k < row->n; k++) {
				if (row->items[k]->t == J_OBJ || row->items[k]->t == J_ARR) {
					snprintf(err, len, "bad cell %s.%s", where, row->keys[k]);
					return false;
				}
				/* address columns: "0x..." strings */
				if (jin(row->keys[k], j_addr_cols) && row->items[k]->t != J_NULL &&
				    !jaddr(row, row->keys[k])) {
					snprintf(err, len, "address %s.%s is not a \"0x...\" string",
						 where, row->keys[k]);
					return false;
				}
			}
		}
		return true;
	}
	for (int i = 0; i < v->n; i++) {
		char w[256];

		snprintf(w, sizeof(w), "%s.%s", where, v->keys[i]);
		if (!jcheck_tree(v->items[i], w, err, len))
			return false;
	}
	return true;
}

static inline bool jcheck_schema(const struct jval *doc, char *err, size_t len)
{
	if (!doc || doc->t != J_OBJ) {
		snprintf(err, len, "not an object");
		return false;
	}
	if (!jstr(doc, "schema") || strcmp(jstr(doc, "schema"), "memlens/1")) {
		snprintf(err, len, "schema is not memlens/1");
		return false;
	}
	/* the header: these six keys first, in this order */
	{
		static const char *const head[] = { "schema", "command", "version", "timestamp",
						    "timestamp_unix", "hostname" };

		for (int i = 0; i < 6; i++)
			if (doc->n <= i || strcmp(doc->keys[i], head[i])) {
				snprintf(err, len, "header key %d is not %s", i, head[i]);
				return false;
			}
	}
	if (!jstr(doc, "command") || !jstr(doc, "version") || !jstr(doc, "timestamp") ||
	    jnum(doc, "timestamp_unix") <= 0 || !jstr(doc, "hostname")) {
		snprintf(err, len, "bad header (command, version, timestamp, hostname)");
		return false;
	}
	return jcheck_tree(doc, "", err, len);
}

/* The row of table @path whose address column @key is @addr. */
static inline const struct jval *jrow_addr(const struct jval *doc, const char *path,
					   const char *key, unsigned long long addr)
{
	const struct jval *rows = jget(jpath(doc, path), "rows");

	for (int i = 0; rows && i < rows->n; i++)
		if (jaddr(rows->items[i], key) == addr)
			return rows->items[i];
	return NULL;
}

/* The row of table @path whose @key equals @num (or -1). */
static inline const struct jval *jrow(const struct jval *doc, const char *path,
			       const char *key, double num)
{
	const struct jval *rows = jpath(doc, path);

	rows = jget(rows, "rows");
	for (int i = 0; rows && i < rows->n; i++)
		if (jnum(rows->items[i], key) == num)
			return rows->items[i];
	return NULL;
}

#endif /* ML_JSON_H */
