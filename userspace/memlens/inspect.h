/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the inspector's commands share: reading a PID argument, choosing
 * the backend, printing a snapshot, reporting an error.
 */
#ifndef MEMLENS_INSPECT_H
#define MEMLENS_INSPECT_H

#include <sys/types.h>

#include "arena.h"
#include "backend.h"
#include "report.h"
#include "target.h"

/*
 * Resolve opts->backend; on failure print the reason and return
 * ML_EXIT_BACKEND.  @why receives auto's explanation (may be empty).
 */
int ml_choose_or_fail(const struct ml_common_opts *o, enum ml_backend *out, char *why, size_t len);

/*
 * run, compare and top read /proc, rusage and perf only: "auto" and
 * "proc" are accepted, a named other backend is refused (ML_EXIT_BACKEND).
 */
int ml_proc_only(const struct ml_common_opts *o, const char *cmd);

/* Process, backend, summary, faults, TLB, swap and VMA sections. */
void ml_emit_process(struct ml_report *r, const struct ml_snapshot *ss, const char *auto_why);
/* The BPF features this run lost (libmlbpf: userspace/mlbpf/features.c), with their reasons. */
void ml_emit_bpf_losses(struct ml_report *r);
void ml_emit_summary(struct ml_report *r, const struct ml_snapshot *ss);
void ml_emit_vmas(struct ml_report *r, const struct ml_snapshot *ss);
/* "memlens: MESSAGE" on stderr; returns @code. */
int ml_fail(int code, const char *msg);

#endif /* MEMLENS_INSPECT_H */
