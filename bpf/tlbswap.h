/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tlbswap: TLB flushes (x86 tlb:tlb_flush) and swap traffic, counted in
 * BPF.  Shared by tlbswap.bpf.c and its loader (userspace/mlbpf/tlbswap.c).
 */
#ifndef MEMLENS_BPF_TLBSWAP_H
#define MEMLENS_BPF_TLBSWAP_H

#define TLB_MAX_CPUS                1024
/* enum tlb_flush_reason, in the kernel's order. */
#define TLB_REASONS                 6
#define TLB_REASON_REMOTE_SHOOTDOWN 1 /* the flush IPI's handler */
#define TLB_REASON_REMOTE_WRONG_CPU 5 /* ... on a CPU that left the mm (6.14+) */
#define TLB_FLUSH_ALL_PAGES         (~0UL)
/* A flush the CPU did at another's request: received, not made. */
#define TLB_REASON_RECEIVED(r) \
	((r) == TLB_REASON_REMOTE_SHOOTDOWN || (r) == TLB_REASON_REMOTE_WRONG_CPU)

struct tlb_counts {
	__u64 reason[TLB_REASONS]; /* task_switch remote_shootdown local_shootdown
					 * local_mm_shootdown remote_send_ipi remote_wrong_cpu */
	__u64 pages_flushed;       /* pages of the ranged flushes */
	__u64 full_flushes;        /* flushes of all entries (TLB_FLUSH_ALL) */
};

/* The module's swap keys: pswpin pswpout swapin_major swapcache_minor. */
struct swap_counts {
	__u64 swapin;          /* swap device reads (calls) */
	__u64 swapout;         /* __swap_writepage() calls */
	__u64 swapin_major;    /* do_swap_page() on swap entries, VM_FAULT_MAJOR */
	__u64 swapcache_minor; /* ... found in the swap cache */
};

#endif /* MEMLENS_BPF_TLBSWAP_H */
