// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: counters kept per CPU and read less a baseline; the rules are
 * beside struct memlens_stats in stats.h.
 */
#include <linux/cpumask.h>
#include <linux/lockdep.h>
#include <linux/percpu.h>
#include <linux/string.h>

#include "memlens.h"
#include "stats.h"

/**
 * memlens_stats_group_init - set up @g before its first use
 * @g: the group
 * @global: the system-wide counters: DEFINE_PER_CPU(struct x[2], ...)
 *	(counters, then baseline), where struct x holds only u64 counters
 * @size: sizeof(struct x)
 * @reset: &memlens_stats_group.reset, or NULL
 */
void memlens_stats_group_init(struct memlens_stats_group *g,
			      void __percpu *global, size_t size,
			      void (*reset)(struct memlens_stats_group *g))
{
	mutex_init(&g->lock);
	INIT_LIST_HEAD(&g->procs);
	g->global.pcpu = global;
	INIT_LIST_HEAD(&g->global.node);
	g->nr = size / sizeof(u64);
	g->reset = reset;
}

/**
 * memlens_stats_add - allocate per-process counters, zero, and add them
 * to @g for reset
 * @g: the group
 * @s: where to set them up
 *
 * Process context, may sleep; takes @g->lock.
 *
 * Return: 0 or -ENOMEM.
 */
int memlens_stats_add(struct memlens_stats_group *g, struct memlens_stats *s)
{
	size_t size = 2 * g->nr * sizeof(u64);

	s->pcpu = memlens_should_fail_percpu(size) ? NULL :
		  __alloc_percpu(size, __alignof__(u64));
	if (!s->pcpu)
		return -ENOMEM;
	mutex_lock(&g->lock);
	list_add(&s->node, &g->procs);
	mutex_unlock(&g->lock);
	return 0;
}

/* Undo memlens_stats_add(), once no probe can see @s any more. */
void memlens_stats_del(struct memlens_stats_group *g, struct memlens_stats *s)
{
	mutex_lock(&g->lock);
	list_del(&s->node);
	mutex_unlock(&g->lock);
	free_percpu(s->pcpu);
	s->pcpu = NULL;
}

/**
 * memlens_stats_cpu - the counters of @s on @cpu since the last reset
 * @g: the group of @s; the caller holds @g->lock
 * @s: the counters
 * @cpu: a possible CPU
 * @out: @g->nr values
 */
void memlens_stats_cpu(struct memlens_stats_group *g,
		       const struct memlens_stats *s, int cpu, u64 *out)
{
	const u64 *c = per_cpu_ptr(s->pcpu, cpu), *base = c + g->nr;
	unsigned int i;

	lockdep_assert_held(&g->lock);
	for (i = 0; i < g->nr; i++)
		out[i] = READ_ONCE(c[i]) - base[i];
}

/**
 * memlens_stats_read - the counters of @s summed over CPUs since the last
 * reset
 * @g: the group of @s; the caller holds @g->lock
 * @s: the counters
 * @out: @g->nr values
 */
void memlens_stats_read(struct memlens_stats_group *g,
			const struct memlens_stats *s, u64 *out)
{
	const u64 *c, *base;
	unsigned int i;
	int cpu;

	lockdep_assert_held(&g->lock);
	memset(out, 0, g->nr * sizeof(u64));
	for_each_possible_cpu(cpu) {
		c = per_cpu_ptr(s->pcpu, cpu);
		base = c + g->nr;
		for (i = 0; i < g->nr; i++)
			out[i] += READ_ONCE(c[i]) - base[i];
	}
}

/* The counters of @s now become its baseline; @g->lock held. */
static void memlens_stats_rebase(struct memlens_stats_group *g,
				 struct memlens_stats *s)
{
	u64 *c, *base;
	unsigned int i;
	int cpu;

	lockdep_assert_held(&g->lock);
	for_each_possible_cpu(cpu) {
		c = per_cpu_ptr(s->pcpu, cpu);
		base = c + g->nr;
		for (i = 0; i < g->nr; i++)
			base[i] = READ_ONCE(c[i]);
	}
}

/**
 * memlens_stats_reset - make every counter of @g read zero
 * @g: the group
 *
 * Takes @g->lock; the probes never take it.  Then @g->reset, if any.
 */
void memlens_stats_reset(struct memlens_stats_group *g)
{
	struct memlens_stats *s;

	mutex_lock(&g->lock);
	memlens_stats_rebase(g, &g->global);
	list_for_each_entry(s, &g->procs, node)
		memlens_stats_rebase(g, s);
	if (g->reset)
		g->reset(g);
	mutex_unlock(&g->lock);
}
