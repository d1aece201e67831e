/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tlbswap: TLB flushes (x86 tlb:tlb_flush) and swap traffic, counted in
 * BPF.  Shared by tlbswap.bpf.c and its loader (bpf_tlbswap.c).
 */
#ifndef MEMLENS_BPF_TLBSWAP_H
#define MEMLENS_BPF_TLBSWAP_H

#define TLB_MAX_CPUS		1024
/* enum tlb_flush_reason, in the kernel's order. */
#define TLB_REASONS		6
#define TLB_FLUSH_ALL_PAGES	(~0UL)

struct tlb_counts {
	__u64 reason[TLB_REASONS];	/* task_switch remote_shootdown local_shootdown
					 * local_mm_shootdown remote_send_ipi remote_wrong_cpu */
	__u64 pages_flushed;		/* pages of the ranged flushes */
	__u64 full_flushes;		/* flushes of all entries (TLB_FLUSH_ALL) */
};

struct swap_counts {
	__u64 swapin;		/* swap_readpage()/swap_read_folio() calls, pages */
	__u64 swapout;		/* __swap_writepage() calls, pages */
	__u64 swapin_major;	/* major faults that read from swap */
};

#endif /* MEMLENS_BPF_TLBSWAP_H */
