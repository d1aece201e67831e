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
#define ML_HAVE_SOFTLEAF 1
#endif

struct mm_struct;

/* Page-table levels, from the top; a level folded at run time is skipped. */
enum ml_level { ML_PGD, ML_P4D, ML_PUD, ML_PMD, ML_PTE, ML_NR_LEVELS };

/* What one walk of a range found; the keys of the pagetable file. */
struct ml_pt_counts {
	unsigned long tables[ML_NR_LEVELS];	/* table pages reached */
	unsigned long pte_deposited;	/* PTE tables kept behind anon PMD leaves */
	unsigned long leaf_4k, leaf_2m, leaf_1g;	/* present leaves */
	u64 resident_bytes;		/* present leaves mapping normal pages */
	u64 anon_thp_bytes;		/* PMD leaves in anonymous VMAs */
	unsigned long swap_entries, migration_entries, other_nonpresent;
	unsigned long present_dirty, present_young, present_writable;
};

/* State of one walk: the mm and one page of entries per level. */
struct ml_walk {
	struct mm_struct *mm;
	u64 *buf[ML_NR_LEVELS];
	struct ml_pt_counts c;
};

int ml_walk_init(struct ml_walk *w);
void ml_walk_free(struct ml_walk *w);
int ml_walk_range(struct ml_walk *w, unsigned long start, unsigned long end);
unsigned long ml_user_end(void);

/* The mm of a tracked process with mmap_lock held for read, or ERR_PTR. */
struct memlens_proc;
struct mm_struct *ml_lock_proc_mm(struct memlens_proc *p);
void ml_unlock_mm(struct mm_struct *mm);

#endif /* _MEMLENS_PGWALK_H */
