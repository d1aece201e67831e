// SPDX-License-Identifier: GPL-2.0
/*
 * One way to parse arguments for the CLI and every command.
 *
 * glibc's argp exits from inside argp_parse() on --help and on errors, and
 * on an error it adds a two-line "Try --help" hint.  memlens wants one line
 * on every usage error and one exit code for it, so argp runs with
 * ARGP_NO_EXIT | ARGP_NO_HELP, the help options are ours, and argp's error
 * stream goes to memory, of which only the message line is printed.  Every
 * command's --help ends with the exit codes (ml_exit_codes[]).
 *
 * The options every inspector command accepts after its name:
 * --backend auto|module|bpf|proc, --json, --prometheus, -v.  Commands add
 * ml_common_argp as a child of their own argp and pass a struct
 * ml_common_opts as the child's input.
 *
 * --json and --prometheus are one argp of their own, ml_format_argp (input:
 * an enum ml_format), that ml_common_argp, the counting commands'
 * ml_count_format_argp (count.c), pagetable, vmas and doctor share.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"
#include "mlbpf.h"
#include "report.h"

#define ML_HELP_SHOWN ECANCELED /* not an error: help was printed */

enum {
	OPT_USAGE = 0x1000
};

static const struct argp_option help_options[] = {
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print program version", -1 },
	{ 0 }
};

struct parse_ctx {
	void *input; /* the command's */
	FILE *err;   /* argp's error stream */
	const struct argp *argp;
};

static error_t help_parser(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		/* argp_error()'s message and hint: kept in memory, see ml_parse() */
		state->err_stream = ((struct parse_ctx *)state->input)->err;
		state->child_inputs[0] = ((struct parse_ctx *)state->input)->input;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return ML_HELP_SHOWN;
	case OPT_USAGE:
		argp_state_help(state, stdout, ARGP_HELP_USAGE);
		return ML_HELP_SHOWN;
	case 'V':
		printf("%s\n", argp_program_version);
		return ML_HELP_SHOWN;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* The command's own filter, then the exit codes after its text. */
static char *help_filter(int key, const char *text, void *input)
{
	const struct parse_ctx *ctx = input;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	if (ctx && ctx->argp->help_filter)
		text = ctx->argp->help_filter(key, text, ctx->input);
	if (key != ARGP_KEY_HELP_EXTRA)
		return (char *)text;
	f = open_memstream(&buf, &len);
	if (!f)
		return (char *)text;
	fprintf(f, "Exit status:");
	for (i = 0; ml_exit_codes[i].code; i++)
		fprintf(f, "\n  %-5s  %s", ml_exit_codes[i].code, ml_exit_codes[i].meaning);
	fclose(f);
	return buf;
}

/* The first line of argp's error output, unless it is only the hint. */
static void print_error_line(char *msg)
{
	char *nl;

	if (!msg || !msg[0] || !strncmp(msg, "Try ", 4))
		return;
	nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	fprintf(stderr, "%s\n", msg);
}

/**
 * ml_parse() - parse argv with a command's argp
 * @argp: the command's options and parser
 * @argc, @argv: argv[0] is the program or command name
 * @flags: extra ARGP_* flags (ARGP_IN_ORDER for the top level)
 * @input: passed to @argp's parser as state->input
 *
 * Return: ML_PARSED to go on, ML_EXIT_OK after printing help, usage or
 * version, or ML_EXIT_USAGE after an error (one line on stderr: getopt's
 * or the parser's argp_error() message).
 */
int ml_parse(const struct argp *argp, int argc, char **argv, unsigned int flags, void *input)
{
	struct argp inner = *argp;
	const struct argp_child children[] = { { &inner, 0, NULL, 0 }, { 0 } };
	const struct argp wrapper = {
		.options = help_options,
		.parser = help_parser,
		.args_doc = argp->args_doc,
		.doc = argp->doc,
		.children = children,
		.help_filter = help_filter,
	};
	struct parse_ctx ctx = { input, NULL, argp };
	char *msg = NULL;
	size_t len = 0;
	error_t err;

	/* The wrapper shows the command's text once, not the child too. */
	inner.doc = NULL;
	inner.args_doc = NULL;
	inner.help_filter = NULL;
	ctx.err = open_memstream(&msg, &len);
	if (!ctx.err)
		ctx.err = stderr;
	err = argp_parse(&wrapper, argc, argv, flags | ARGP_NO_EXIT | ARGP_NO_HELP, NULL, &ctx);
	if (ctx.err != stderr)
		fclose(ctx.err);
	if (err && err != ML_HELP_SHOWN)
		print_error_line(msg);
	free(msg);
	if (err == ML_HELP_SHOWN)
		return ML_EXIT_OK;
	return err ? ML_EXIT_USAGE : ML_PARSED;
}

int ml_parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return EINVAL;
	*out = (int)v;
	return 0;
}

int ml_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* NaN fails both comparisons; inf is above any bound */
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return EINVAL;
	*out = v;
	return 0;
}

/* --- the options every command shares --- */

enum {
	OPT_JSON = 0x2000,
	OPT_PROM,
	OPT_BACKEND
};

static const struct argp_option format_options[] = {
	{ "json", OPT_JSON, NULL, 0, "print JSON (schema memlens/1, docs/inspector.md)", 0 },
	{ "prometheus", OPT_PROM, NULL, 0,
	  "print Prometheus text exposition (node_exporter textfile)", 0 },
	{ 0 }
};

static error_t parse_format(int key, char *arg, struct argp_state *state)
{
	enum ml_format *fmt = state->input;

	switch (key) {
	case OPT_JSON:
	case OPT_PROM:
		if (*fmt != ML_FMT_TEXT) {
			argp_error(state, "--json and --prometheus exclude each other");
			return EINVAL;
		}
		*fmt = key == OPT_JSON ? ML_FMT_JSON : ML_FMT_PROM;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_format_argp = {
	.options = format_options,
	.parser = parse_format,
};

static const struct argp_option common_options[] = {
	{ "backend", OPT_BACKEND, "NAME", 0, "auto (default), module, bpf or proc", 0 },
	{ "verbose", 'v', NULL, 0,
	  "show libbpf's messages, and the verifier's log when a BPF load fails", 0 },
	{ 0 }
};

static const struct argp_child common_children[] = { { &ml_format_argp, 0, NULL, 0 }, { 0 } };

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct ml_common_opts *o = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->format;
		return 0;
	case OPT_BACKEND:
		if (ml_backend_parse(arg, &o->backend)) {
			argp_error(state, "unknown backend '%s' (auto, module, bpf, proc)", arg);
			return EINVAL;
		}
		return 0;
	case 'v':
		o->verbose = true;
		ml_bpf_set_verbose(true);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_common_argp = {
	.options = common_options,
	.parser = parse_common,
	.children = common_children,
};

error_t ml_parse_one_pid(struct argp_state *state, int key, char *arg, const char **pid)
{
	if (key == ARGP_KEY_ARG) {
		if (*pid) {
			argp_error(state, "one PID only");
			return EINVAL;
		}
		*pid = arg;
	} else if (key == ARGP_KEY_END && !*pid) {
		argp_error(state, "no PID given");
		return EINVAL;
	}
	return 0;
}
