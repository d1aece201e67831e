// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: TLB-flush accounting from the x86 tlb:tlb_flush tracepoint,
 * debugfs "tlb".
 *
 * Every event is counted on the CPU it fires on, by reason; "pages" is
 * either a page count or TLB_FLUSH_ALL (a flush of all entries).  A task
 * switch that keeps the TLB (pages 0) still counts as task_switch.
 *
 * pid/PID/tlb counts the events that fire while a thread of the tracked
 * process is current on that CPU: the flushes it initiated
 * (local_shootdown, local_mm_shootdown, remote_send_ipi), the flush IPIs
 * its threads received (remote_shootdown) and the switches away from its
 * threads (task_switch: switch_mm runs before current changes).  It also
 * shows the TLB reach of the process from a page-table walk.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <asm/tlbflush.h>

#include "acct.h"
#include "memlens.h"
#include "pgwalk.h"
#include "stats.h"

/*
 * Reasons by their value.  6.14 added TLB_REMOTE_WRONG_CPU (5: a flush
 * IPI reached a CPU that no longer runs the mm and drops out of its
 * mm_cpumask; pages 0), where earlier kernels return without an event and
 * have NR_TLB_FLUSH_REASONS (5) instead.  So 5 is counted on every kernel
 * and fires only on newer ones; remote_wrong_cpu is shown only when it is
 * not zero, which leaves the files of older kernels as they were.
 */
#define ML_TLB_WRONG_CPU	5
#define ML_TLB_REASONS		6

struct tlb_stats {
	u64 reason[ML_TLB_REASONS];
	u64 pages_flushed;
	u64 full_flushes;
};

static const char * const tlb_reason_names[ML_TLB_REASONS] = {
	[TLB_FLUSH_ON_TASK_SWITCH] = "task_switch",
	[TLB_REMOTE_SHOOTDOWN] = "remote_shootdown",
	[TLB_LOCAL_SHOOTDOWN] = "local_shootdown",
	[TLB_LOCAL_MM_SHOOTDOWN] = "local_mm_shootdown",
	[TLB_REMOTE_SEND_IPI] = "remote_send_ipi",
	[ML_TLB_WRONG_CPU] = "remote_wrong_cpu",
};

/* On each CPU: the counters, then their baseline (stats.h). */
static DEFINE_PER_CPU(struct tlb_stats[2], tlb_pcpu);
static struct memlens_stats_group tlb_group;

/* Per tracked process (slot MEMLENS_SLOT_TLB). */
struct proc_tlb {
	struct memlens_proc_stats ps;	/* struct tlb_stats */
};

static void count_flush(struct tlb_stats __percpu *ts, int reason,
			unsigned long pages)
{
	this_cpu_inc(ts->reason[reason]);
	if (pages == TLB_FLUSH_ALL)
		this_cpu_inc(ts->full_flushes);
	else
		this_cpu_add(ts->pages_flushed, pages);
}

/* May run with the runqueue lock held (switch_mm): takes no lock. */
static void probe_tlb_flush(void *data, int reason, unsigned long pages)
{
	struct memlens_proc *p;
	struct proc_tlb *pt;

	if (reason < 0 || reason >= ML_TLB_REASONS)
		return;
	count_flush(&tlb_pcpu[0], reason, pages);
	if (!memlens_nr_tracked() || !current->mm)
		return;
	rcu_read_lock();
	p = memlens_proc_find(current->tgid);
	pt = p ? p->data[MEMLENS_SLOT_TLB] : NULL;
	if (pt)
		count_flush((struct tlb_stats __percpu *)pt->ps.stats.pcpu, reason,
			    pages);
	rcu_read_unlock();
}

static void tlb_stats_add(struct tlb_stats *sum, const struct tlb_stats *d)
{
	int r;

	for (r = 0; r < ML_TLB_REASONS; r++)
		sum->reason[r] += d->reason[r];
	sum->pages_flushed += d->pages_flushed;
	sum->full_flushes += d->full_flushes;
}

static void tlb_show_stats(struct seq_file *m, const char *prefix,
			   const struct tlb_stats *s)
{
	int r;

	for (r = 0; r < ML_TLB_REASONS; r++) {
		if (r == ML_TLB_WRONG_CPU && !s->reason[r])
			continue;
		seq_printf(m, "%s%s %llu\n", prefix, tlb_reason_names[r],
			   s->reason[r]);
	}
	seq_printf(m, "%spages_flushed %llu\n", prefix, s->pages_flushed);
	seq_printf(m, "%sfull_flushes %llu\n", prefix, s->full_flushes);
}

/* Totals first, then the same lines per possible CPU as cpuN_<name>. */
static int tlb_show(struct seq_file *m, void *v)
{
	struct memlens_stats *st = &tlb_group.global;
	struct tlb_stats sum = {}, d;
	char prefix[24];
	int cpu;

	mutex_lock(&tlb_group.lock);
	for_each_possible_cpu(cpu) {
		memlens_stats_cpu(&tlb_group, st, cpu, (u64 *)&d);
		tlb_stats_add(&sum, &d);
	}
	tlb_show_stats(m, "", &sum);
	for_each_possible_cpu(cpu) {
		memlens_stats_cpu(&tlb_group, st, cpu, (u64 *)&d);
		snprintf(prefix, sizeof(prefix), "cpu%d_", cpu);
		tlb_show_stats(m, prefix, &d);
	}
	mutex_unlock(&tlb_group.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tlb);

/*
 * TLB reach: one entry per present leaf mapping, against one per 4 KiB
 * page if the same memory were mapped with small pages only.  A process
 * gone leaves the lines out; any other failure fails the read.
 */
static int proc_tlb_reach(struct seq_file *m, struct memlens_proc *p)
{
	struct memlens_pt_counts c;
	int ret;

	ret = memlens_walk_proc_all(p, &c);
	if (ret)
		return ret == -ESRCH ? 0 : ret;
	seq_printf(m, "tlb_entries_needed %lu\n",
		   c.leaf_4k + c.leaf_2m + c.leaf_1g);
	seq_printf(m, "tlb_entries_needed_4k %lu\n",
		   c.leaf_4k + c.leaf_2m * (PMD_SIZE / PAGE_SIZE) +
		   c.leaf_1g * (PUD_SIZE / PAGE_SIZE));
	return 0;
}

static int proc_tlb_show(struct seq_file *m, void *v)
{
	struct proc_tlb *pt = m->private;
	struct tlb_stats s;

	mutex_lock(&tlb_group.lock);
	memlens_stats_read(&tlb_group, &pt->ps.stats, (u64 *)&s);
	mutex_unlock(&tlb_group.lock);
	tlb_show_stats(m, "", &s);
	return proc_tlb_reach(m, pt->ps.proc);
}
DEFINE_SHOW_ATTRIBUTE(proc_tlb);

/* Hook: a process starts being tracked; memlens_track_mutex is held. */
static int proc_tlb_attach(struct memlens_proc *p)
{
	return PTR_ERR_OR_ZERO(memlens_proc_stats_attach(p, MEMLENS_SLOT_TLB,
			&tlb_group, sizeof(struct proc_tlb), NULL, "tlb",
			&proc_tlb_fops));
}

/* Hook: the files are gone and no probe sees @p any more. */
static void proc_tlb_detach(struct memlens_proc *p)
{
	memlens_proc_stats_detach(p, MEMLENS_SLOT_TLB, &tlb_group);
}

static const struct memlens_proc_hooks proc_tlb_hooks = {
	.name = "tlb",
	.attach = proc_tlb_attach,
	.detach = proc_tlb_detach,
};

/**
 * memlens_tlb_reset - make every "tlb" and pid/PID/tlb counter read zero
 *
 * The tracepoint probe never takes the lock memlens_stats_reset() takes.
 */
void memlens_tlb_reset(void)
{
	memlens_stats_reset(&tlb_group);
}

int memlens_tlb_init(void)
{
	int ret;

	BUILD_BUG_ON(TLB_REMOTE_SEND_IPI + 1 != ML_TLB_WRONG_CPU);
	memlens_stats_group_init(&tlb_group, &tlb_pcpu,
				 sizeof(struct tlb_stats), NULL);
	ret = memlens_tp_register("tlb_flush", probe_tlb_flush, NULL);
	if (ret)
		return ret;
	ret = memlens_debugfs_file("tlb", 0400, memlens_debugfs_root, NULL,
				   &tlb_fops);
	if (!ret)
		ret = memlens_proc_hooks_register(&proc_tlb_hooks);
	if (ret) {
		memlens_tp_unregister("tlb_flush", probe_tlb_flush, NULL);
		tracepoint_synchronize_unregister();
	}
	return ret;
}

/* The caller runs tracepoint_synchronize_unregister() afterwards. */
void memlens_tlb_exit(void)
{
	memlens_tp_unregister("tlb_flush", probe_tlb_flush, NULL);
}
