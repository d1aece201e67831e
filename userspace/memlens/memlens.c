// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: the inspector CLI.
 *
 * "memlens [OPTION...] COMMAND [ARGS...]".  Global options are parsed with
 * glibc's argp in order, stopping at the first non-option, which names the
 * command; each command parses the rest with an argp of its own.
 */
#include <argp.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"

const char *argp_program_version = "memlens " MEMLENS_VERSION;
const char *argp_program_bug_address = "the memlens issue tracker";

static const struct ml_command *commands[] = {
	&ml_cmd_version, &ml_cmd_doctor, &ml_cmd_inspect, &ml_cmd_run,       &ml_cmd_compare,
	&ml_cmd_watch,   &ml_cmd_top,    &ml_cmd_faults,  &ml_cmd_pagetable, &ml_cmd_vmas,
	&ml_cmd_tlb,     &ml_cmd_swap,   &ml_cmd_kcost,   &ml_cmd_diff,
};

const struct ml_exit_code ml_exit_codes[] = {
	{ "0", "success (watch and the -p of faults, tlb, swap: also when it ended)" },
	{ "1", "runtime error; compare: some run failed" },
	{ "2", "usage error: bad option, PID, backend, allocator or diff file" },
	{ "3", "no such process" },
	{ "4", "the PID is a kernel thread (no user memory)" },
	{ "5", "the process exited while being read (partial report), or is a zombie" },
	{ "6", "permission denied (not root, not the owner); partial report if any" },
	{ "7", "the backend asked for is unavailable (the reason on stderr)" },
	{ "127", "-- CMD could not be executed (one line, no report)" },
	{ "other", "-- CMD (run, faults, tlb, swap): its exit status, 128 + signal" },
	{ NULL, NULL },
};

static const char doc[] =
	"memlens -- what really happens to a process's memory: page tables, page\n"
	"faults, TLB flushes and swap, next to what its allocator believes.\v"
	"Examples:\n"
	"  memlens --version\n"
	"  memlens version\n"
	"  memlens doctor\n"
	"  memlens COMMAND --help";

/* The command list after the description: from the command table. */
static char *top_help_filter(int key, const char *text, void *input)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	if (key != ARGP_KEY_HELP_PRE_DOC || !text)
		return (char *)text;
	f = open_memstream(&buf, &len);
	if (!f)
		return (char *)text;
	fprintf(f, "%s\n\nCommands:", text);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "\n  %-11s  %s", commands[i]->name, commands[i]->summary);
	fclose(f);
	return buf;
}

struct global_args {
	int cmd_index;
};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct global_args *g = state->input;

	switch (key) {
	case ARGP_KEY_ARG:
		/* The first non-option is the command: stop here. */
		g->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no command given");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp global_argp = {
	.parser = parse_global,
	.args_doc = "COMMAND [ARGS...]",
	.doc = doc,
	.help_filter = top_help_filter,
};

int main(int argc, char **argv)
{
	struct global_args g = { .cmd_index = -1 };
	const char *name;
	size_t i;

	char cmd_name[64];
	int ret;

	/*
	 * The character type only (no decimal commas in figures): the live
	 * views cut and pad names by display width (term.h).
	 */
	setlocale(LC_CTYPE, "");
	/* Messages and usage lines say "memlens", however it was started. */
	program_invocation_name = "memlens";
	argv[0] = "memlens";
	ret = ml_parse(&global_argp, argc, argv, ARGP_IN_ORDER, &g);
	if (ret != ML_PARSED)
		return ret;

	name = argv[g.cmd_index];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i]->name, name)) {
			snprintf(cmd_name, sizeof(cmd_name), "memlens %s", name);
			argv[g.cmd_index] = cmd_name;
			return commands[i]->run(argc - g.cmd_index, argv + g.cmd_index);
		}

	fprintf(stderr, "memlens: unknown command '%s' (memlens --help lists them)\n", name);
	return ML_EXIT_USAGE;
}
