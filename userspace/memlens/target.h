/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target of a command: one PID parser and one check for every command
 * (inspect, watch, pagetable, vmas, faults -p, tlb -p, swap -p).
 */
#ifndef MEMLENS_TARGET_H
#define MEMLENS_TARGET_H

#include <sys/types.h>

/* Decimal digits only (no sign, no blanks), 1 to 4194304 (PID_MAX_LIMIT); else -EINVAL. */
int ml_pid_parse(const char *s, pid_t *out);

/*
 * Is *@pid a process with user memory?  A thread id is replaced by its
 * process's (with a note on stderr).  Returns 0, or ML_EXIT_NOPROC,
 * ML_EXIT_KTHREAD or ML_EXIT_VANISHED (a zombie: its parent named) after
 * one line "memlens CMD: ..." on stderr.
 */
int ml_target_check(const char *cmd, pid_t *pid);

#endif /* MEMLENS_TARGET_H */
