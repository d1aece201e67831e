/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens CLI: what the commands share.
 */
#ifndef MEMLENS_CLI_H
#define MEMLENS_CLI_H

/* Exit codes every command uses; documented in docs/inspector.md. */
enum {
	ML_EXIT_OK = 0,
	ML_EXIT_ERROR = 1, /* runtime error: nothing, or part, measured */
	ML_EXIT_USAGE = 2, /* bad option or argument */
};

/* ml_parse(): parsed, carry on (any other value is an exit code). */
#define ML_PARSED (-1)

struct argp;
int ml_parse(const struct argp *argp, int argc, char **argv, unsigned int flags, void *input);

#define ML_DEBUGFS "/sys/kernel/debug/memlens"

struct ml_command {
	const char *name;
	/* argv[0] is the command's name; returns an exit code. */
	int (*run)(int argc, char **argv);
};

extern const struct ml_command ml_cmd_version;
/* the inspector (cmd_inspect.c cmd_watch.c cmd_run.c cmd_compare.c cmd_top.c) */
extern const struct ml_command ml_cmd_inspect;
extern const struct ml_command ml_cmd_run;
extern const struct ml_command ml_cmd_compare;
extern const struct ml_command ml_cmd_watch;
extern const struct ml_command ml_cmd_top;
extern const struct ml_command ml_cmd_faults;
extern const struct ml_command ml_cmd_pagetable;
extern const struct ml_command ml_cmd_vmas;
extern const struct ml_command ml_cmd_tlb;
extern const struct ml_command ml_cmd_swap;
extern const struct ml_command ml_cmd_kcost;

#endif /* MEMLENS_CLI_H */
