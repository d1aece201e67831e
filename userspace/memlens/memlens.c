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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"

const char *argp_program_version = "memlens " MEMLENS_VERSION;
const char *argp_program_bug_address = "the memlens issue tracker";

static const struct ml_command *commands[] = {
	&ml_cmd_version, &ml_cmd_inspect, &ml_cmd_run,    &ml_cmd_compare,
	&ml_cmd_watch,   &ml_cmd_top,     &ml_cmd_faults, &ml_cmd_pagetable,
	&ml_cmd_vmas,    &ml_cmd_tlb,     &ml_cmd_swap,   &ml_cmd_kcost,
};

static const char doc[] =
	"memlens -- what really happens to a process's memory: page tables, page\n"
	"faults, TLB flushes and swap, next to what its allocator believes.\n"
	"\n"
	"Commands:\n"
	"  version      print the versions of the CLI, libmlalloc and the module\n"
	"  inspect      a snapshot of a process: memory, page tables, TLB, swap, arenas\n"
	"  run          run a command (under an allocator) and report its memory\n"
	"  compare      one command under several allocators, side by side\n"
	"  watch        a live view of a process, refreshed in place\n"
	"  top          processes ranked by fault rate, swap or page-table bytes\n"
	"  faults       count page faults with BPF (-p PID, -- CMD, or all)\n"
	"  pagetable    a process's page-table summary, walked from BPF\n"
	"  vmas         a process's VMAs with resident/THP/swap/PTE tables, BPF\n"
	"  tlb          count TLB flushes by reason and CPU with BPF\n"
	"  swap         count swap-ins, swap-outs and swap faults with BPF\n"
	"  kcost        a process's memory syscalls, their TLB flushes, its refaults\n"
	"\n"
	"Examples:\n"
	"  memlens --version\n"
	"  memlens version\n"
	"  memlens COMMAND --help\n"
	"\v"
	"Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.";

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
};

int main(int argc, char **argv)
{
	struct global_args g = { .cmd_index = -1 };
	const char *name;
	size_t i;

	char cmd_name[64];
	int ret;

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

	fprintf(stderr, "memlens: unknown command '%s'\n", name);
	fprintf(stderr, "Try 'memlens --help' for the list of commands.\n");
	return ML_EXIT_USAGE;
}
