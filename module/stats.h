/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: counters kept per CPU and read less a baseline (stats.c), for
 * the fault, TLB and swap accounting.
 */
#ifndef _MEMLENS_STATS_H
#define _MEMLENS_STATS_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/types.h>

/**
 * struct memlens_stats - one set of counters, per CPU, with a baseline
 * @pcpu: on each CPU, the counters (a struct of u64 only) followed by
 *	their baseline, a copy of the counters at the last reset
 * @node: in &memlens_stats_group.procs (per-process counters only)
 *
 * The probes add to the counters of their CPU with this_cpu_*() and no
 * lock.  A reader sees, per CPU, counter minus baseline.  Baselines are
 * written (reset) and read only under the group's @lock, so a reset
 * never races with the probes: an event counted meanwhile lands on one
 * side of the new baseline, never lost nor counted twice.
 */
struct memlens_stats {
	u64 __percpu *pcpu;
	struct list_head node;
};

/**
 * struct memlens_stats_group - the counters of one mechanism
 * @lock: guards every baseline of the group and @procs
 * @procs: the per-process &struct memlens_stats, for reset
 * @global: the system-wide counters (static, not on @procs)
 * @nr: counters (u64) in each
 * @reset: if set, called by memlens_stats_reset() with @lock held, after
 *	the baselines are taken: what else the mechanism resets with them
 */
struct memlens_stats_group {
	struct mutex lock;	/* see above */
	struct list_head procs;
	struct memlens_stats global;
	unsigned int nr;
	void (*reset)(struct memlens_stats_group *g);
};

void memlens_stats_group_init(struct memlens_stats_group *g,
			      void __percpu *global, size_t size,
			      void (*reset)(struct memlens_stats_group *g));
int memlens_stats_add(struct memlens_stats_group *g, struct memlens_stats *s);
void memlens_stats_del(struct memlens_stats_group *g, struct memlens_stats *s);
void memlens_stats_cpu(struct memlens_stats_group *g,
		       const struct memlens_stats *s, int cpu, u64 *out);
void memlens_stats_read(struct memlens_stats_group *g,
			const struct memlens_stats *s, u64 *out);
void memlens_stats_reset(struct memlens_stats_group *g);

struct memlens_proc;

/**
 * struct memlens_proc_stats - the head of a mechanism's per-process data
 * @proc: the tracked process
 * @stats: its counters, in the mechanism's group
 */
struct memlens_proc_stats {
	struct memlens_proc *proc;
	struct memlens_stats stats;
};

void *memlens_proc_stats_attach(struct memlens_proc *p, int slot,
				struct memlens_stats_group *g, size_t size,
				void (*init)(void *data, struct memlens_proc *p),
				const char *name,
				const struct file_operations *fops);
void memlens_proc_stats_detach(struct memlens_proc *p, int slot,
			       struct memlens_stats_group *g);

#endif /* _MEMLENS_STATS_H */
