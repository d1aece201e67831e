/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens kcost --allocator (and --timeline): libmlalloc's decision ring
 * (struct mlalloc_events, mlalloc.h), read from the target while counting
 * and joined with the kernel's events: each decision with the syscalls its
 * thread made while it ran, their TLB flushes, and the refaults of what it
 * gave back.
 */
#ifndef MEMLENS_KCOST_MLALLOC_H
#define MEMLENS_KCOST_MLALLOC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mlalloc.h"
#include "kcost_timeline.h"
#include "report.h"

struct kc_decision {
	struct mlalloc_event e;
	uint32_t kcalls;   /* the thread's memory syscalls inside [t0, t1] */
	uint32_t kmadvise; /* of which madvise(MADV_DONTNEED) */
	uint32_t kmunmap;  /* of which munmap */
	uint32_t tlb;      /* the flushes those calls made */
	uint64_t refault[KC_AGE_BUCKETS];
};

struct kc_mlalloc {
	pid_t pid;
	bool whole;    /* the target started under kcost: every event is ours */
	bool found;    /* the ring was read once */
	bool gone;     /* reading failed after that */
	char why[160]; /* no ring: why */
	uint64_t ring; /* its address in the target */
	uint64_t next_find;
	uint64_t next_seq;
	unsigned long long lost, before;
	struct mlalloc_events *a, *b;
	struct kc_decision *d;
	size_t nd, capd;
	/* the join's totals */
	unsigned long long outside[KC_CALLS]; /* kernel calls in no decision */
};

void kc_mlalloc_init(struct kc_mlalloc *m, pid_t pid, bool whole);
/* Find the ring, or take its new events (those of t0 >= @t_start). */
void kc_mlalloc_tick(struct kc_mlalloc *m, uint64_t t_start);
/* Join with the BPF events of @tl; mark the decisions on it. */
void kc_mlalloc_join(struct kc_mlalloc *m, struct kc_timeline *tl);
void kc_mlalloc_emit(struct ml_report *r, const struct kc_mlalloc *m, uint64_t t_start,
		     enum ml_format fmt);
void kc_mlalloc_free(struct kc_mlalloc *m);

#endif /* MEMLENS_KCOST_MLALLOC_H */
