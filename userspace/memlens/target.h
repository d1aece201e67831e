/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target of a command: one PID parser and one check for every command
 * (inspect, watch, pagetable, vmas, faults -p, tlb -p, swap -p), and the
 * processes --comm and --cgroup name (top, inspect).
 */
#ifndef MEMLENS_TARGET_H
#define MEMLENS_TARGET_H

#include <argp.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * --comm NAME and --cgroup PATH, as an argp child (its input a struct
 * ml_target_opts; at most one of the two): ml_target_argp for a command
 * with one target (instead of its PID), ml_target_filter_argp for top.
 */
struct ml_target_opts {
	const char *comm, *cgroup;
};

extern const struct argp ml_target_argp;
extern const struct argp ml_target_filter_argp;

static inline bool ml_target_given(const struct ml_target_opts *t)
{
	return t->comm || t->cgroup;
}

/*
 * The PID operand of a command that also takes --comm/--cgroup, for its
 * argp parser's ARGP_KEY_ARG and ARGP_KEY_END: one PID, or none with @t
 * given, not both (ml_parse_one_pid() otherwise).
 */
error_t ml_parse_target_pid(struct argp_state *state, int key, char *arg, const char **pid,
			    const struct ml_target_opts *t);

/* Decimal digits only (no sign, no blanks), 1 to 4194304 (PID_MAX_LIMIT); else -EINVAL. */
int ml_pid_parse(const char *s, pid_t *out);

/*
 * Is *@pid a process with user memory?  A thread id is replaced by its
 * process's (with a note on stderr).  Returns 0, or ML_EXIT_NOPROC,
 * ML_EXIT_KTHREAD or ML_EXIT_VANISHED (a zombie: its parent named) after
 * one line "memlens CMD: ..." on stderr.
 */
int ml_target_check(const char *cmd, pid_t *pid);

/*
 * The processes --comm NAME or --cgroup PATH names (one of @comm and
 * @cgroup is set), sorted, in *@out (malloc'd, *@n of them): by comm,
 * every process (not a thread, not a kernel thread, not a zombie) whose
 * /proc/PID/comm is NAME exactly; by cgroup, those in PATH's cgroup.procs,
 * PATH a cgroup directory, or a cgroup's path as /proc/PID/cgroup writes
 * it, looked up under each cgroup mount (v2 first).  Returns 0, or after
 * one line "memlens CMD: ..." on stderr ML_EXIT_NOPROC (nothing matches,
 * no such cgroup), ML_EXIT_USAGE (a name longer than the kernel keeps) or
 * ML_EXIT_ERROR.
 */
int ml_target_resolve(const char *cmd, const char *comm, const char *cgroup, pid_t **out, int *n);
/* The same for a command with one target: more than one match is ML_EXIT_USAGE. */
int ml_target_one(const char *cmd, const char *comm, const char *cgroup, pid_t *pid);

#endif /* MEMLENS_TARGET_H */
