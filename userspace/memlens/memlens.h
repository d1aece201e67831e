/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens CLI: what the commands share.
 */
#ifndef MEMLENS_CLI_H
#define MEMLENS_CLI_H

/*
 * Exit codes every command uses.  ml_exit_codes[] (memlens.c) describes
 * them for every --help; docs/inspector.md has the same table (cli_test
 * checks both).
 */
enum {
	ML_EXIT_OK = 0,
	ML_EXIT_ERROR = 1,    /* runtime error: nothing, or part, measured */
	ML_EXIT_USAGE = 2,    /* bad option or argument */
	ML_EXIT_NOPROC = 3,   /* no such process */
	ML_EXIT_KTHREAD = 4,  /* a kernel thread: no user memory */
	ML_EXIT_VANISHED = 5, /* exited mid-way (partial report), or a zombie */
	ML_EXIT_PERM = 6,     /* permission denied (not root); partial report */
	ML_EXIT_BACKEND = 7,  /* the requested backend is unavailable */
	ML_EXIT_NOEXEC = 127, /* -- CMD could not be executed */
};

struct ml_exit_code {
	const char *code; /* "0" ... "127", or "other" */
	const char *meaning;
};

/* Every exit code, in order, NULL-terminated: the one table of them. */
extern const struct ml_exit_code ml_exit_codes[];

/* ml_parse(): parsed, carry on (any other value is an exit code). */
#define ML_PARSED (-1)

struct argp;
int ml_parse(const struct argp *argp, int argc, char **argv, unsigned int flags, void *input);
/* A decimal integer option from @lo to @hi into *@out: 0, or EINVAL (nothing stored). */
int ml_parse_int(const char *s, int lo, int hi, int *out);
/* A decimal number within [@lo, @hi] (no NaN, no infinity); EINVAL otherwise. */
int ml_parse_double(const char *s, double lo, double hi, double *out);

#define ML_DEBUGFS "/sys/kernel/debug/memlens"

struct ml_command {
	const char *name;
	const char *summary; /* one line for memlens --help */
	/* argv[0] is the command's name; returns an exit code. */
	int (*run)(int argc, char **argv);
};

extern const struct ml_command ml_cmd_version;
extern const struct ml_command ml_cmd_doctor;
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
extern const struct ml_command ml_cmd_diff;

#endif /* MEMLENS_CLI_H */
