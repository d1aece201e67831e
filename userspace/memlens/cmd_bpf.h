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

/* A decimal PID > 0; non-zero on anything else. */
int ml_parse_pid(const char *s, pid_t *pid);
/* Does @pid exist?  If not, says so ("memlens CMD: ...") and returns -1. */
int ml_check_pid(const char *cmd, pid_t pid);
/* Is @pid a kernel thread (PF_KTHREAD in /proc/PID/stat)? */
bool ml_is_kthread(pid_t pid);
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
pid_t ml_spawn_waiting(const char *cmd, char **argv, int *release);
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
 * Run a counting command: check the PID or start CMD, call @open with the
 * target tgid (0: system-wide), release CMD, wait for the end, then call
 * @report.  Returns an exit code.
 */
int ml_count_run(const char *cmd, struct ml_count_args *a, char **argv,
		 int (*open)(pid_t tgid, void *ctx), void (*report)(pid_t tgid, void *ctx),
		 void *ctx);
void ml_print_faults(const struct fault_counts *c, bool has_retry, bool has_entry);

#endif /* MEMLENS_CMD_BPF_H */
