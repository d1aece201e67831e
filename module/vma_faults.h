/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: faults of a tracked process by VMA (vma_faults.c).
 */
#ifndef _MEMLENS_VMA_FAULTS_H
#define _MEMLENS_VMA_FAULTS_H

#include <linux/spinlock.h>
#include <linux/types.h>

struct dentry;
struct memlens_proc;

/* VMAs remembered per process; faults in more are summed on one line. */
#define MEMLENS_VMA_FAULT_SLOTS	128

struct memlens_vma_fault_count {
	unsigned long start, end;	/* the VMA when it faulted */
	u64 minor, major;
};

/* The lines of the file, or a copy of them being read. */
struct memlens_vma_fault_table {
	int nr;
	int last;		/* slot of the last fault: checked first */
	struct memlens_vma_fault_count slot[MEMLENS_VMA_FAULT_SLOTS];
	u64 other_minor, other_major;	/* faults in VMAs beyond the slots */
};

struct memlens_fcount;

struct memlens_vma_faults {
	struct memlens_proc *proc;	/* whose faults */
	spinlock_t lock;	/* guards @t */
	struct memlens_vma_fault_table t;
	/* counting mode: its threads' pending faults are added when read */
	struct memlens_fcount *fc;
};

void memlens_vma_fault_table_count(struct memlens_vma_fault_table *t,
				   unsigned long start, unsigned long end,
				   bool major);
void memlens_vma_faults_count(struct memlens_vma_faults *vf, unsigned long start,
			      unsigned long end, bool major);
void memlens_vma_faults_init(struct memlens_vma_faults *vf, struct memlens_proc *p);
void memlens_vma_faults_reset(struct memlens_vma_faults *vf);
int memlens_vma_faults_create(struct memlens_vma_faults *vf);

#endif /* _MEMLENS_VMA_FAULTS_H */
