// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: counters kept per CPU and read less a baseline; the rules are
 * beside struct memlens_stats in stats.h.
 */
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/lockdep.h>
#include <linux/percpu.h>
#include <linux/slab.h>
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

/**
 * memlens_proc_stats_attach - a mechanism's per-process data and file
 * @p: the process (memlens_proc_hooks.attach)
 * @slot: its slot in p->data
 * @g: the mechanism's counters
 * @size: size of the data, a struct that begins with struct
 *	memlens_proc_stats
 * @init: sets up the rest of the data before anything can see it, or NULL
 * @name: the file in p->dir, 0400, whose private data is the data
 * @fops: its operations
 *
 * Return: the data, zeroed but for what @init set, also in
 * p->data[@slot]; or ERR_PTR, with nothing left behind.
 */
void *memlens_proc_stats_attach(struct memlens_proc *p, int slot,
				struct memlens_stats_group *g, size_t size,
				void (*init)(void *data, struct memlens_proc *p),
				const char *name,
				const struct file_operations *fops)
{
	struct memlens_proc_stats *ps = kzalloc(size, GFP_KERNEL);
	int ret;

	if (!ps)
		return ERR_PTR(-ENOMEM);
	ps->proc = p;
	if (init)
		init(ps, p);
	ret = memlens_stats_add(g, &ps->stats);
	if (ret) {
		kfree(ps);
		return ERR_PTR(ret);
	}
	p->data[slot] = ps;
	ret = memlens_debugfs_file(name, 0400, p->dir, ps, fops);
	if (ret) {
		memlens_proc_stats_detach(p, slot, g);
		return ERR_PTR(ret);
	}
	return ps;
}

/* Undo memlens_proc_stats_attach(): its file is gone, no probe sees @p. */
void memlens_proc_stats_detach(struct memlens_proc *p, int slot,
			       struct memlens_stats_group *g)
{
	struct memlens_proc_stats *ps = p->data[slot];

	memlens_stats_del(g, &ps->stats);
	p->data[slot] = NULL;
	kfree(ps);
}
