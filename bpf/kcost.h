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
	__u64 tlb[TLB_REASONS]; /* TLB flushes the call made, by reason (not 1, 5) */
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
	/*
	 * Flush IPIs the target's threads took, in a call or not; the
	 * interrupted call did not cause them, so they are not charged to it.
	 * tlb_remote: TLB_REMOTE_SHOOTDOWN, for this mm (another of its
	 * threads changed it) or a batched flush of reclaim; tlb_other_mm:
	 * TLB_REMOTE_WRONG_CPU (6.14+), for an mm this CPU had left, never
	 * the target's own.
	 */
	__u64 tlb_remote;
	__u64 tlb_other_mm;
	/*
	 * Flushes the target's threads made outside the memory syscalls, by
	 * reason (not 1, 5): in page faults (a copy-on-write break clears and
	 * flushes the old PTE), at exit, on task switches.
	 */
	__u64 tlb_outside[TLB_REASONS];
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

/*
 * --timeline: one event per memory syscall, refault and flush IPI taken,
 * in a BPF ring buffer (loaded with its size only when asked for; the
 * programs skip it otherwise: const volatile timeline).  Times are
 * bpf_ktime_get_ns(), CLOCK_MONOTONIC.  A full ring drops the event and
 * counts it in tl_dropped: the CLI prints the count.
 */
enum kc_event_kind {
	KC_EV_CALL = 1,     /* a memory syscall returned */
	KC_EV_REFAULT = 2,  /* a not-present fault on a given-back page */
	KC_EV_TLB_RECV = 3, /* a flush IPI taken (remote_shootdown, remote_wrong_cpu) */
};

struct kc_event {
	__u64 t;     /* CALL: exit (also the give-back's mark); REFAULT, TLB_RECV: now */
	__u64 t0;    /* CALL: entry; REFAULT: the give-back's t (its 64-page group's) */
	__u64 addr;  /* CALL: first argument; REFAULT: the faulting address */
	__u64 bytes; /* CALL: the call's bytes (as in kc_call_stats) */
	__u64 given; /* CALL: bytes given back by it */
	__u32 tid;
	__u16 kind;  /* enum kc_event_kind */
	__u16 what;  /* CALL: enum kc_call; REFAULT: age bucket; TLB_RECV: reason */
	__u32 tlb;   /* CALL: flushes it made (the reasons charged to calls) */
	__u32 error; /* CALL: 1 if it returned an error */
};

#define KC_TL_RING_BYTES (16U << 20)

#endif /* MEMLENS_BPF_KCOST_H */
