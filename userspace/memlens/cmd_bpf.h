/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF-backed commands (faults, pagetable, vmas, tlb, swap) share.
 */
#ifndef MEMLENS_CMD_BPF_H
#define MEMLENS_CMD_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <argp.h>

#include "mlbpf.h"

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
/* -p PID, -d SECONDS, -v, -- CMD: the options of every counting command. */
struct ml_count_args {
	pid_t pid;
	double duration;
	bool verbose;
	int cmd_index; /* argv index of CMD, or 0 */
};

extern const struct argp_option ml_count_options[];
int ml_count_parse(int key, char *arg, struct argp_state *state);
/*
 * Both as an argp child: the parent's parser sets state->child_inputs[0]
 * to its struct ml_count_args at ARGP_KEY_INIT.
 */
extern const struct argp ml_count_argp;
struct ml_count_ops {
	/* load and attach for the target tgid (0: system-wide); -errno */
	int (*open)(pid_t tgid, void *ctx);
	/* print the counts; 0 or an exit code */
	int (*report)(pid_t tgid, void *ctx);
	void (*close)(void *ctx);
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

#endif /* MEMLENS_CMD_BPF_H */
