/* SPDX-License-Identifier: GPL-2.0 */
/*
 * faults: page faults of the processes memlens traces, counted in BPF.
 * Shared by faults.bpf.c and the userspace programs that load it.
 */
#ifndef MEMLENS_BPF_FAULTS_H
#define MEMLENS_BPF_FAULTS_H

/* Largest number of distinct tgids counted at once. */
#define FAULTS_MAX_TGIDS	10240

/* Per-tgid counters, value of the "counts" map (key: tgid). */
struct fault_counts {
	__u64 user;	/* exceptions:page_fault_user events */
};

#endif /* MEMLENS_BPF_FAULTS_H */
