/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: the page-table walker (pgwalk.c) and what it counts.
 */
#ifndef _MEMLENS_PGWALK_H
#define _MEMLENS_PGWALK_H

#include <linux/types.h>

/*
 * Non-present entries: kernels with linux/leafops.h (7.x) decode them as
 * a softleaf_t (softleaf_from_pte(), softleaf_is_swap(), ...) and no
 * longer have pte_to_swp_entry() or non_swap_entry(); older ones use a
 * swp_entry_t.  Both classify the same bits the same way.
 */
#if __has_include("linux/leafops.h")
#include <linux/leafops.h>
#define MEMLENS_HAVE_SOFTLEAF 1
#endif

struct mm_struct;

/* Page-table levels, from the top; a level folded at run time is skipped. */
enum memlens_pt_level {
	MEMLENS_PGD, MEMLENS_P4D, MEMLENS_PUD, MEMLENS_PMD, MEMLENS_PTE,
	MEMLENS_NR_LEVELS
};

/* What one walk of a range found; the keys of the pagetable file. */
struct memlens_pt_counts {
	unsigned long tables[MEMLENS_NR_LEVELS];	/* table pages reached */
	unsigned long pte_deposited;	/* PTE tables kept behind anon PMD leaves */
	unsigned long leaf_4k, leaf_2m, leaf_1g;	/* present leaves */
	u64 resident_bytes;		/* present leaves mapping normal pages */
	u64 anon_thp_bytes;		/* PMD leaves in anonymous VMAs */
	u64 hugetlb_bytes;		/* PMD and PUD leaves in hugetlb VMAs */
	unsigned long ksm_pages;	/* present PTEs mapping a KSM page */
	unsigned long swap_entries, migration_entries, other_nonpresent;
	unsigned long present_dirty, present_young, present_writable;
};

/*
 * One walk (memlens_walk_proc()): the mm, a page of entries per level.
 * may_unlock: memlens_walk_range() may drop and retake mmap_lock between
 * two tables when a writer waits for it (memlens_walk_yield()); set it
 * only while no pointer to a VMA is held across the call.
 */
struct memlens_walk {
	struct mm_struct *mm;
	u64 *buf[MEMLENS_NR_LEVELS];
	struct memlens_pt_counts c;
	bool may_unlock;
};

struct memlens_proc;

/**
 * typedef memlens_walk_fn - what a user of memlens_walk_proc() does
 * @w: the walk: w->mm with its mmap_lock held for read, w->c zeroed
 * @priv: the user's
 *
 * Calls memlens_walk_range() on the ranges it wants, reads w->c (reset
 * it between ranges to count them apart) and may look at the VMAs.  It
 * never unlocks the mm itself; the lock is dropped for a moment only
 * inside memlens_walk_range() with w->may_unlock set, or in
 * memlens_walk_yield(), so no VMA pointer may be kept across those.  Its
 * return value is memlens_walk_proc()'s.
 */
typedef int (*memlens_walk_fn)(struct memlens_walk *w, void *priv);

int memlens_walk_proc(struct memlens_proc *p, memlens_walk_fn fn, void *priv);
int memlens_walk_proc_all(struct memlens_proc *p, struct memlens_pt_counts *c);
int memlens_walk_range(struct memlens_walk *w, unsigned long start,
		       unsigned long end);
int memlens_walk_yield(struct memlens_walk *w);
unsigned long memlens_user_end(void);

/* The mm of a tracked process with mmap_lock held for read, or ERR_PTR. */
struct mm_struct *memlens_proc_lock_mm(struct memlens_proc *p);
void memlens_proc_unlock_mm(struct mm_struct *mm);

#endif /* _MEMLENS_PGWALK_H */
