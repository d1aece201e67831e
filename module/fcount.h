/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: the counting mode of the fault accounting (fcount.c): minor
 * and major faults of a tracked process, and of its VMAs, from its
 * threads' own min_flt/maj_flt, classified lazily.
 */
#ifndef _MEMLENS_FCOUNT_H
#define _MEMLENS_FCOUNT_H

#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct memlens_proc;
struct memlens_vma_faults;
struct memlens_vma_fault_table;
struct task_struct;

/* Threads of one process with a state; faults of further ones: no_slot. */
#define MEMLENS_FCOUNT_THREADS	256

/* What the counting mode gives per process; the names of the file's keys. */
struct memlens_fcount_totals {
	u64 minor, major;	/* growth of the threads' min_flt, maj_flt */
	u64 populated;		/* of those, charged with no exception (GUP) */
	u64 not_charged;	/* exceptions that charged nothing */
	u64 mixed;		/* exceptions followed by minor and major growth */
	u64 unattributed;	/* classified faults with no VMA found */
};

/**
 * struct memlens_fcount_thread - one thread's state
 * @task: the owner; NULL: never used, MEMLENS_FCOUNT_FREE: freed.  Set
 *	by the owner itself (cmpxchg) or at attach, cleared when the task
 *	is freed, under &struct memlens_fcount.lock
 * @seq: written by the owner's fault entries, then by its free, which
 *	never run at once; readers copy the state under it
 * @min_seen: the owner's min_flt when last classified
 * @maj_seen: its maj_flt likewise
 * @pend_start: the VMA of the pending exception, [0, 0) when not found
 * @pend_end: see @pend_start
 * @pend_gen: &struct memlens_fcount.gen at that exception
 * @pending: an exception not classified yet
 * @valid: the fields are the owner's (false until its first exception
 *	when claimed then, and again once it is freed)
 * @t: the classified counts, less nothing (the base is the process's)
 */
struct memlens_fcount_thread {
	struct task_struct *task;
	seqcount_t seq;
	unsigned long min_seen, maj_seen;
	unsigned long pend_start, pend_end;
	unsigned int pend_gen;
	bool pending;
	bool valid;
	struct memlens_fcount_totals t;
};

#define MEMLENS_FCOUNT_FREE	((struct task_struct *)1)

/**
 * struct memlens_fcount - the counting state of a tracked process
 * @lock: the slots' ownership against readers, and @dead
 * @start_ns: ktime_get_ns() before the threads were seeded: a thread
 *	started later has all its faults counted from 0
 * @gen: advanced by each reset; a pending exception of an older
 *	generation is in the baseline already, so not put in a VMA line
 * @dead: the totals of freed threads
 * @base: the totals at the last reset (under the fault group's lock)
 * @no_slot: exceptions of threads that found no free slot
 * @thread: open-addressed by the task pointer's hash
 */
struct memlens_fcount {
	spinlock_t lock;	/* see above */
	u64 start_ns;
	unsigned int gen;
	struct memlens_fcount_totals dead;
	struct memlens_fcount_totals base;
	atomic_t no_slot;
	struct memlens_fcount_thread thread[MEMLENS_FCOUNT_THREADS];
};

struct memlens_fcount *memlens_fcount_alloc(struct memlens_proc *p);
void memlens_fcount_free(struct memlens_fcount *fc);
void memlens_fcount_entry(struct memlens_fcount *fc,
			  struct memlens_vma_faults *vf, unsigned long address);
void memlens_fcount_task_free(struct memlens_fcount *fc,
			      struct memlens_vma_faults *vf,
			      struct task_struct *task);
void memlens_fcount_read(struct memlens_fcount *fc,
			 struct memlens_fcount_totals *out,
			 struct memlens_vma_fault_table *pending);
void memlens_fcount_reset(struct memlens_fcount *fc);

#endif /* _MEMLENS_FCOUNT_H */
