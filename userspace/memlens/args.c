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
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"

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
