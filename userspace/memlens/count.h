/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF-backed commands (faults, pagetable, vmas, tlb, swap) share.
 */
#ifndef MEMLENS_COUNT_H
#define MEMLENS_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <argp.h>

#include "mlbpf.h"
#include "report.h"
#include "target.h"

/* Is @pid running (not gone, not a zombie)? */
bool ml_pid_alive(pid_t pid);
/* The name /proc/PID/maps shows for the VMA starting at @start; 0 if found. */
int ml_maps_name(pid_t pid, unsigned long long start, char *buf, size_t size);
/*
 * Counting mode: start CMD blocked until *@release is written (so that
 * counting starts before its exec), stop on SIGINT/SIGTERM, and wait for
 * the child's exit, the target's exit (a zombie counts as gone), or
 * @duration seconds (0: no limit).  ml_wait_end() returns the child's
 * exit status, or 0.
 */
pid_t ml_spawn_waiting(const char *cmd, char **argv, int *release, int *execd);
void ml_catch_stop_signals(void);
int ml_wait_end(const char *cmd, pid_t child, pid_t target, double duration);
/*
 * The same, calling @tick(@target, @ctx) first and then again when the
 * number of ms it returned has passed (polls every 50 ms at most).
 */
int ml_wait_end_tick(const char *cmd, pid_t child, pid_t target, double duration,
		     int (*tick)(pid_t target, void *ctx), void *ctx);
/* -p PID, -d SECONDS, -v, -- CMD: the options of every counting command. */
struct ml_count_args {
	pid_t pid;
	struct ml_target_opts target; /* --comm, --cgroup: resolved to pid */
	double duration;
	bool verbose;
	int cmd_index; /* argv index of CMD, or 0 */
	/* ml_count_format_argp: --json, --prometheus (ML_FMT_TEXT without) */
	enum ml_format format;
	/* set by ml_count_run() before the report */
	const char *cmd_name; /* CMD's argv[0], or NULL */
	int cmd_status;       /* CMD's exit status (128 + signal) */
};

extern const struct argp_option ml_count_options[];
int ml_count_parse(int key, char *arg, struct argp_state *state);
/*
 * Both as an argp child: the parent's parser sets state->child_inputs[0]
 * to its struct ml_count_args at ARGP_KEY_INIT.
 */
extern const struct argp ml_count_argp;
/*
 * --json and --prometheus for faults, tlb and swap: another child over the
 * same struct ml_count_args (its format).
 */
extern const struct argp ml_count_format_argp;
/*
 * The report of a counting command in JSON or Prometheus: the header
 * (report.h), a pid label for a process, then ml_count_report_target()
 * emits the "target" section: scope (process or system), pid, and for
 * -- CMD the command and its exit status.
 */
void ml_count_report_begin(struct ml_report *r, const char *cmd, const struct ml_count_args *a,
			   pid_t tgid);
void ml_count_report_target(struct ml_report *r, const struct ml_count_args *a, pid_t tgid);
/*
 * An unavailable figure's reason, formatted into one of a few static
 * buffers that live until the report is printed.
 */
const char *ml_count_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Why a figure that needs BPF feature @f is unavailable: the loader's
 * reason when it tried and lost it, else @fallback; both end in ": see
 * memlens doctor".
 */
const char *ml_count_feat_why(enum ml_bpf_feat f, const char *fallback);
struct ml_count_ops {
	/* load and attach for the target tgid (0: system-wide); -errno */
	int (*open)(pid_t tgid, void *ctx);
	/* print the counts; 0 or an exit code */
	int (*report)(pid_t tgid, void *ctx);
	void (*close)(void *ctx);
	/* optional: called while counting, see ml_wait_end_tick() */
	int (*tick)(pid_t tgid, void *ctx);
};

/* The close of tlb and swap: @ctx is a struct ml_tlbswap **. */
void ml_count_close_tlbswap(void *ctx);
/* ML_EXIT_PERM for a BPF load refused for want of privileges, else ML_EXIT_ERROR. */
int ml_bpf_exit_code(int err);
/*
 * Run a counting command: check the PID (target.h) or start CMD, open,
 * release CMD (127 if it cannot be executed), wait for the end, report,
 * close.  Returns an exit code: CMD's own status with -- CMD (the
 * documented table in memlens.h).
 */
int ml_count_run(const char *cmd, struct ml_count_args *a, char **argv,
		 const struct ml_count_ops *ops, void *ctx);
void ml_print_faults(const struct fault_counts *c, struct ml_faults *f);

#endif /* MEMLENS_COUNT_H */
