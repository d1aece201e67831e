/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcost: what a process's memory syscalls cost in the kernel, and the
 * faults on memory it gave back.  Shared by kcost.bpf.c and its loader
 * (userspace/mlbpf/kcost.c).
 */
#ifndef MEMLENS_BPF_KCOST_H
#define MEMLENS_BPF_KCOST_H

#include "tlbswap.h" /* TLB_REASONS, TLB_FLUSH_ALL_PAGES */

/* The syscalls counted, and madvise by advice (KC_MADVISE + advice). */
enum kc_call {
	KC_MMAP,
	KC_MUNMAP,
	KC_MREMAP,
	KC_BRK,
	KC_MPROTECT,
	KC_MADVISE,                      /* + advice, advice < KC_ADVICES */
	KC_MADV_OTHER = KC_MADVISE + 32, /* advice >= 32 (MADV_HWPOISON...) */
	KC_CALLS
};

#define KC_ADVICES    32
#define KC_HIST_SLOTS 32 /* log2 ns: slot i holds [2^(i-1), 2^i) */

struct kc_call_stats {
	__u64 calls;
	__u64 errors; /* returned < 0 */
	__u64 bytes;  /* of the successful calls: length (brk: |change|) */
	__u64 ns;     /* time from entry to exit, summed */
	__u64 hist[KC_HIST_SLOTS];
	__u64 tlb[TLB_REASONS]; /* TLB flushes while the call ran, by reason */
	__u64 tlb_pages;        /* pages of its ranged flushes */
	__u64 tlb_full;         /* flushes of everything */
};

/* Time from give-back to refault: < 1 ms, 10 ms, 100 ms, 1 s, more. */
#define KC_AGE_BUCKETS 5

struct kc_fault_stats {
	__u64 first_touch;             /* not-present faults on pages not given back */
	__u64 protection;              /* faults on present pages (COW, write to zero page) */
	__u64 refault[KC_AGE_BUCKETS]; /* not-present faults on given-back pages */
	__u64 given_back; /* bytes given back: munmap, MADV_DONTNEED/FREE, brk shrink */
	__u64 untracked;  /* ... not kept as intervals (map full, too big) */
};

/*
 * Given-back pages, one entry per 2 MiB region of the address space:
 * a bit per 4 KiB page, and per 64 pages the time of the latest give-back.
 */
#define KC_REGION_SHIFT 21
#define KC_WORDS        8
struct kc_region {
	__u64 bits[KC_WORDS];
	__u64 ts[KC_WORDS];
};

#define KC_MAX_REGIONS 32768 /* 64 GiB of given-back address space */

#endif /* MEMLENS_BPF_KCOST_H */
