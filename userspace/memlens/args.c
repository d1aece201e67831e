// SPDX-License-Identifier: GPL-2.0
/*
 * One way to parse arguments for the CLI and every command.
 *
 * glibc's argp exits from inside argp_parse() on --help and on errors, and
 * on an error it prints only a "Try --help" hint.  memlens wants a usage
 * line on every usage error and one exit code for it, so argp runs with
 * ARGP_NO_EXIT | ARGP_NO_HELP and the help options are ours.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>

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

static error_t help_parser(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = state->input;
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

/**
 * ml_parse() - parse argv with a command's argp
 * @argp: the command's options and parser
 * @argc, @argv: argv[0] is the program or command name
 * @flags: extra ARGP_* flags (ARGP_IN_ORDER for the top level)
 * @input: passed to @argp's parser as state->input
 *
 * Return: ML_PARSED to go on, ML_EXIT_OK after printing help, usage or
 * version, or ML_EXIT_USAGE after an error (message and a usage line on
 * stderr).
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
	};
	error_t err;

	/* The wrapper shows the command's text once, not the child too. */
	inner.doc = NULL;
	inner.args_doc = NULL;
	err = argp_parse(&wrapper, argc, argv, flags | ARGP_NO_EXIT | ARGP_NO_HELP, NULL, input);
	if (err == ML_HELP_SHOWN)
		return ML_EXIT_OK;
	if (err) {
		argp_help(&wrapper, stderr, ARGP_HELP_USAGE, argv[0]);
		return ML_EXIT_USAGE;
	}
	return ML_PARSED;
}
