/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One place that turns the inspector's figures into text, JSON or
 * Prometheus text exposition (docs/inspector.md describes all three).
 *
 * A report is a tree of sections holding fields (a struct ml_val with its
 * source) and tables.  The commands describe what they have; the emitters
 * decide how it looks:
 *   text        headings, aligned "label  value  [source]" lines, tables
 *   JSON        one line, {"schema": "memlens/1", "command": ...,
 *               "version", "timestamp", "timestamp_unix", "hostname", ...}
 *               fields as {"value": N, "unit": U, "source": S} or
 *               {"value": null, "unit": U, "unavailable": "why"};
 *               addresses as "0x7f..." strings (jq 1.6 rounds big numbers)
 *   Prometheus  memlens_<section>_<key>{pid=...,...} VALUE with HELP and
 *               TYPE; unavailable figures as "# UNAVAILABLE" comments
 */
#ifndef MEMLENS_REPORT_H
#define MEMLENS_REPORT_H

#include <argp.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "backend.h"

#define ML_SCHEMA "memlens/1"

enum ml_format {
	ML_FMT_TEXT,
	ML_FMT_JSON,
	ML_FMT_PROM
};

enum ml_unit {
	ML_UNIT_BYTES,
	ML_UNIT_COUNT, /* a gauge: entries, pages, processes */
	ML_UNIT_TOTAL, /* a counter since some start */
	ML_UNIT_PERCENT,
	ML_UNIT_SECONDS,
	ML_UNIT_RATIO,
	ML_UNIT_PER_SEC,
	ML_UNIT_ADDR, /* shown in hex; a label in Prometheus */
	ML_UNIT_ID,   /* a PID: a label in Prometheus */
	ML_UNIT_TEXT, /* table cells only: a string */
};

struct ml_col {
	const char *key;   /* JSON and Prometheus name */
	const char *title; /* text heading */
	enum ml_unit unit;
};

#define ML_REPORT_DEPTH 8

struct ml_cell {
	struct ml_val v;
	char *s;                 /* ML_UNIT_TEXT */
	unsigned long long addr; /* ML_UNIT_ADDR, exact (a double is not) */
};

struct ml_report {
	enum ml_format fmt;
	FILE *out;
	int depth;
	bool comma[ML_REPORT_DEPTH];
	const char *path[ML_REPORT_DEPTH]; /* section keys, for names */
	char labels[512];                  /* Prometheus labels of every sample */
	/* the table being filled */
	const char *tkey, *ttitle;
	const struct ml_col *cols;
	int ncols, nrows, ncells, cap;
	enum ml_src tsrc;
	const char *ttotal; /* text: a totals line under the table (pmap -x) */
	struct ml_cell *cells;
	int error; /* ml_report_error()'s exit code: memlens_up 0 */
};

/* Common options of every inspector command (argp child). */
struct ml_common_opts {
	enum ml_backend backend;
	enum ml_format format;
	bool verbose; /* -v: libbpf's messages and verifier logs */
};

extern const struct argp ml_common_argp;
/*
 * --json and --prometheus alone (they exclude each other): an argp child
 * whose input is an enum ml_format (ML_FMT_TEXT when neither is given).
 * ml_common_argp has it as its own child.
 */
extern const struct argp ml_format_argp;

/*
 * The PID operand of inspect and watch, for their argp parsers'
 * ARGP_KEY_ARG and ARGP_KEY_END: exactly one, kept as written (the
 * backends parse and check it).
 */
error_t ml_parse_one_pid(struct argp_state *state, int key, char *arg, const char **pid);

void ml_report_begin(struct ml_report *r, FILE *out, enum ml_format fmt, const char *command);
/* Prometheus: memlens_up (and memlens_scrape_error) close the exposition. */
void ml_report_end(struct ml_report *r);
/* The error section (exit_code, reason, message); memlens_up 0. */
void ml_report_error(struct ml_report *r, int code, const char *message);
/* "no_such_process", "kernel_thread", ... for an ML_EXIT_* code. */
const char *ml_exit_reason(int code);
/*
 * --prometheus only: an exposition for a command that measured nothing
 * (memlens_up 0, memlens_scrape_error{reason}), so that a scrape sees why.
 */
void ml_report_failure(FILE *out, enum ml_format fmt, const char *command, pid_t pid, int code,
		       const char *message);
/* Add label="value" to every Prometheus sample from here on. */
void ml_report_label(struct ml_report *r, const char *key, const char *value);

void ml_report_section(struct ml_report *r, const char *key, const char *title);
void ml_report_section_end(struct ml_report *r);
void ml_report_str(struct ml_report *r, const char *key, const char *label, const char *value);
/* An integer that is an identity, not a measure (JSON and text only). */
void ml_report_int(struct ml_report *r, const char *key, const char *label, long long value);
void ml_report_val(struct ml_report *r, const char *key, const char *label, enum ml_unit unit,
		   struct ml_val v);

void ml_report_table(struct ml_report *r, const char *key, const char *title,
		     const struct ml_col *cols, int ncols, enum ml_src src);
void ml_report_cell(struct ml_report *r, struct ml_val v);
/* An ML_UNIT_ADDR cell: hex in text, "0x..." in JSON and Prometheus labels. */
void ml_report_cell_addr(struct ml_report *r, unsigned long long addr);
void ml_report_cell_str(struct ml_report *r, const char *s);
/*
 * Text only: under the table being filled, a line "@label" with the sum of
 * each bytes, count and total column (pmap -x's total line).
 */
void ml_report_table_totals(struct ml_report *r, const char *label);
void ml_report_table_end(struct ml_report *r);

/* "12.5 MiB" into @buf. */
const char *ml_fmt_bytes(char *buf, size_t len, double bytes);

#endif /* MEMLENS_REPORT_H */
