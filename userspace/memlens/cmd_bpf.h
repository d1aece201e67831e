/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF-backed commands (faults, pagetable, vmas, tlb, swap) share.
 */
#ifndef MEMLENS_CMD_BPF_H
#define MEMLENS_CMD_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bpf_loaders.h"

/* A decimal PID > 0; non-zero on anything else. */
int ml_parse_pid(const char *s, pid_t *pid);
/* Does @pid exist?  If not, says so ("memlens CMD: ...") and returns -1. */
int ml_check_pid(const char *cmd, pid_t pid);
/* Is @pid running (not gone, not a zombie)? */
bool ml_pid_alive(pid_t pid);
/* The name /proc/PID/maps shows for the VMA starting at @start; 0 if found. */
int ml_maps_name(pid_t pid, unsigned long long start, char *buf, size_t size);
void ml_print_faults(const struct fault_counts *c, bool has_retry);

#endif /* MEMLENS_CMD_BPF_H */
