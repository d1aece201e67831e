// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: the counting mode of the fault accounting, for tracked
 * processes (the default; faults.c picks the mode).
 *
 * Nothing runs when a fault completes.  The exception tracepoints call
 * memlens_fcount_entry() in the faulting thread, which classifies the
 * thread's previous exception from what its own min_flt/maj_flt did
 * since (mm_account_fault() charges them when a fault completes, so
 * /proc/PID/stat agrees by construction), finds the VMA of this one and
 * leaves it pending.  A thread's last exception is classified when the
 * task is freed (sched_process_free, after exit_mm() on every kernel),
 * and on a copy whenever a file is read.  The classification:
 *
 *  - all growth of min_flt and maj_flt is counted (minor, major);
 *  - a pending exception with no growth charged nothing (not_charged: a
 *    SIGSEGV, a spurious fault, a fault of a pagefault_disabled() copy);
 *  - otherwise one unit of the growth is that exception: a minor one if
 *    min_flt grew at all (mixed counts the cases where both grew), and it
 *    goes to its VMA's line in vma_faults (unattributed if none was
 *    found);
 *  - the rest of the growth was charged with no exception (populated:
 *    GUP from MAP_POPULATE, mlock, MADV_POPULATE_*, /proc/PID/mem).
 *
 * Retries are invisible here: a retried fault is one exception, and the
 * kernel charges it as major.  The latency mode (faults.c) sees them.
 *
 * Per-thread state lives in a table of the process, open-addressed by
 * the task pointer: a slot is claimed by its thread on its first
 * exception (or for it when tracking starts) and released when the task
 * is freed, as a tombstone so that probe chains stay whole.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "fcount.h"
#include "memlens.h"
#include "vma_faults.h"

#define FCOUNT_BITS	ilog2(MEMLENS_FCOUNT_THREADS)

/* What settle() found about the pending exception. */
struct fcount_vma {
	bool counted;		/* it was classified into a VMA's line */
	bool major;
	unsigned long start, end;
};

/*
 * Classify what the counters @min and @maj of @th's task did since it
 * last looked: see the head of the file.  @th is the thread's state
 * (writer) or a copy of it (reader).
 */
static void settle(struct memlens_fcount_thread *th, unsigned long min,
		   unsigned long maj, unsigned int gen, struct fcount_vma *v)
{
	unsigned long dmin = min - th->min_seen, dmaj = maj - th->maj_seen;
	bool major;

	v->counted = false;
	th->min_seen = min;
	th->maj_seen = maj;
	th->t.minor += dmin;
	th->t.major += dmaj;
	if (th->pending) {
		th->pending = false;
		if (!dmin && !dmaj) {
			th->t.not_charged++;
			return;
		}
		major = !dmin;
		if (dmin && dmaj)
			th->t.mixed++;
		if (major)
			dmaj--;
		else
			dmin--;
		if (!th->pend_end) {
			th->t.unattributed++;
		} else if (th->pend_gen == gen) {
			v->counted = true;
			v->major = major;
			v->start = th->pend_start;
			v->end = th->pend_end;
		}
	}
	th->t.populated += dmin + dmaj;
}

static void totals_add(struct memlens_fcount_totals *dst,
		       const struct memlens_fcount_totals *src)
{
	dst->minor += src->minor;
	dst->major += src->major;
	dst->populated += src->populated;
	dst->not_charged += src->not_charged;
	dst->mixed += src->mixed;
	dst->unattributed += src->unattributed;
}

/* The slot of @task, or NULL; with @claim, a free one claimed for it. */
static struct memlens_fcount_thread *
thread_slot(struct memlens_fcount *fc, struct task_struct *task, bool claim)
{
	unsigned int h = hash_ptr(task, FCOUNT_BITS), i;
	struct memlens_fcount_thread *th;
	struct task_struct *owner;

	for (i = 0; i < MEMLENS_FCOUNT_THREADS; i++) {
		th = &fc->thread[(h + i) & (MEMLENS_FCOUNT_THREADS - 1)];
		owner = READ_ONCE(th->task);
		if (owner == task)
			return th;
		if (!owner)
			break;
	}
	if (!claim)
		return NULL;
	/*
	 * Not in its chain, and only @task itself claims a slot for itself
	 * once tracking began, so it cannot appear meanwhile: take the first
	 * free slot or tombstone of the chain (other threads may race for
	 * it: then the next).  Every slot before it stays taken or a
	 * tombstone, so a lookup reaches it.
	 */
	for (i = 0; i < MEMLENS_FCOUNT_THREADS; i++) {
		th = &fc->thread[(h + i) & (MEMLENS_FCOUNT_THREADS - 1)];
		owner = READ_ONCE(th->task);
		if (owner && owner != MEMLENS_FCOUNT_FREE)
			continue;
		if (cmpxchg(&th->task, owner, task) == owner)
			return th;
	}
	return NULL;
}

/*
 * The first state of @task in a slot just claimed for it (inside its
 * write section, or before anyone can see the slot): counters from 0 for
 * a thread started after tracking began, else from their values now.
 */
static void thread_init(struct memlens_fcount *fc,
			struct memlens_fcount_thread *th,
			struct task_struct *task)
{
	memset(&th->t, 0, sizeof(th->t));
	th->pending = false;
	if (task->start_time >= fc->start_ns) {
		th->min_seen = 0;
		th->maj_seen = 0;
	} else {
		th->min_seen = READ_ONCE(task->min_flt);
		th->maj_seen = READ_ONCE(task->maj_flt);
	}
	th->valid = true;
	/*
	 * A slot holds a reference on its task, dropped when the task is
	 * freed or the state is: a thread seeded at attach may be freed
	 * before the process is hashed, where no probe of ours sees it.
	 */
	get_task_struct(task);
}

/**
 * memlens_fcount_alloc - the counting state of a process about to be tracked
 * @p: the process, not hashed yet: no probe sees it
 *
 * Every live thread gets its slot now, its counters taken from their
 * values now; threads started later count from 0.
 *
 * Return: the state, or NULL when out of memory.
 */
struct memlens_fcount *memlens_fcount_alloc(struct memlens_proc *p)
{
	struct memlens_fcount *fc = kvzalloc(sizeof(*fc), GFP_KERNEL);
	struct task_struct *leader, *t;
	int i;

	if (!fc)
		return NULL;
	spin_lock_init(&fc->lock);
	for (i = 0; i < MEMLENS_FCOUNT_THREADS; i++)
		seqcount_init(&fc->thread[i].seq);
	fc->start_ns = ktime_get_ns();
	rcu_read_lock();
	leader = pid_task(p->pid, PIDTYPE_TGID);
	if (leader) {
		for_each_thread(leader, t) {
			struct memlens_fcount_thread *th;

			th = thread_slot(fc, t, true);
			if (th)
				thread_init(fc, th, t);
		}
	}
	rcu_read_unlock();
	return fc;
}

/* No probe sees @fc any more: drop the slots' task references. */
void memlens_fcount_free(struct memlens_fcount *fc)
{
	int i;

	for (i = 0; fc && i < MEMLENS_FCOUNT_THREADS; i++) {
		struct memlens_fcount_thread *th = &fc->thread[i];

		if (th->task && th->task != MEMLENS_FCOUNT_FREE && th->valid)
			put_task_struct(th->task);
	}
	kvfree(fc);
}

/*
 * The VMA holding @address in current's mm, into @th's pending bounds.
 * Exception entry: interrupts may be off, so only a trylock of mmap_lock
 * (what bpf_find_vma() does too); no fault path of the kernel holds it
 * here (the exception has not reached do_user_addr_fault() yet, and
 * faults on user addresses are not taken with it held).  A contended
 * lock leaves the exception without a VMA (unattributed).
 */
static void pending_vma(struct memlens_fcount_thread *th,
			unsigned long address)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	th->pend_start = 0;
	th->pend_end = 0;
	if (!mm || !mmap_read_trylock(mm))
		return;
	memlens_assert_mmap_locked(mm);
	vma = vma_lookup(mm, address);
	if (vma) {
		th->pend_start = vma->vm_start;
		th->pend_end = vma->vm_end;
	}
	mmap_read_unlock(mm);
}

/**
 * memlens_fcount_entry - an exception of a thread of the tracked process
 * @fc: the process's counting state
 * @vf: its VMA lines
 * @address: the faulting address
 *
 * Called from the exception tracepoints, in current, preemption off.
 * Faults on kernel addresses are not the process's memory: skipped, as
 * the BPF programs do.  So are exceptions in interrupt or NMI context
 * (perf's user stack walks): they may come in the middle of the thread's
 * own fault, whose pending state they must not classify or replace, and
 * they are never charged.  An exception with page faults disabled in the
 * thread itself (a *_nofault copy) is classified like any other: it
 * charges nothing (not_charged).
 */
void memlens_fcount_entry(struct memlens_fcount *fc,
			  struct memlens_vma_faults *vf, unsigned long address)
{
	struct memlens_fcount_thread *th;
	struct fcount_vma v;

	if ((long)address < 0 || in_interrupt())
		return;
	th = thread_slot(fc, current, true);
	if (!th) {
		atomic_inc(&fc->no_slot);
		return;
	}
	write_seqcount_begin(&th->seq);
	if (!th->valid)
		thread_init(fc, th, current);
	settle(th, READ_ONCE(current->min_flt), READ_ONCE(current->maj_flt),
	       READ_ONCE(fc->gen), &v);
	th->pend_gen = READ_ONCE(fc->gen);
	pending_vma(th, address);
	th->pending = true;
	write_seqcount_end(&th->seq);
	if (v.counted)
		memlens_vma_faults_count(vf, v.start, v.end, v.major);
}

/**
 * memlens_fcount_task_free - a thread of the tracked process is freed
 * @fc: the process's counting state
 * @vf: its VMA lines
 * @task: the thread; it no longer runs, its counters are final
 *
 * From sched_process_free (an RCU callback, so softirq context).  The
 * thread's last exception is classified and its totals move to @fc->dead
 * under @fc->lock, which readers hold while they look at @task.
 */
void memlens_fcount_task_free(struct memlens_fcount *fc,
			      struct memlens_vma_faults *vf,
			      struct task_struct *task)
{
	struct memlens_fcount_thread *th = thread_slot(fc, task, false);
	struct fcount_vma v;
	unsigned long flags;

	if (!th)
		return;
	spin_lock_irqsave(&fc->lock, flags);
	write_seqcount_begin(&th->seq);
	settle(th, READ_ONCE(task->min_flt), READ_ONCE(task->maj_flt),
	       READ_ONCE(fc->gen), &v);
	totals_add(&fc->dead, &th->t);
	th->valid = false;
	write_seqcount_end(&th->seq);
	WRITE_ONCE(th->task, MEMLENS_FCOUNT_FREE);
	spin_unlock_irqrestore(&fc->lock, flags);
	put_task_struct(task);	/* the slot's, not the last one */
	if (v.counted)
		memlens_vma_faults_count(vf, v.start, v.end, v.major);
}

/**
 * memlens_fcount_read - the process's counts now, less the last reset's
 * @fc: the process's counting state
 * @out: the totals, or NULL
 * @pending: a copy of the VMA lines, to which the pending exceptions of
 *	the live threads are added as classified now; or NULL
 *
 * Each thread's state is copied under its seqcount and settled on the
 * copy: the threads' own states only ever change in the threads.  Takes
 * @fc->lock, so that no task is freed while its counters are read.
 */
void memlens_fcount_read(struct memlens_fcount *fc,
			 struct memlens_fcount_totals *out,
			 struct memlens_vma_fault_table *pending)
{
	struct memlens_fcount_totals sum;
	unsigned int gen = READ_ONCE(fc->gen);
	unsigned long flags;
	int i;

	spin_lock_irqsave(&fc->lock, flags);
	sum = fc->dead;
	for (i = 0; i < MEMLENS_FCOUNT_THREADS; i++) {
		struct memlens_fcount_thread *th = &fc->thread[i], copy;
		struct task_struct *task = READ_ONCE(th->task);
		struct fcount_vma v;
		unsigned int seq;

		if (!task || task == MEMLENS_FCOUNT_FREE)
			continue;
		do {
			seq = read_seqcount_begin(&th->seq);
			copy = *th;
		} while (read_seqcount_retry(&th->seq, seq));
		if (!copy.valid)
			continue;
		settle(&copy, READ_ONCE(task->min_flt),
		       READ_ONCE(task->maj_flt), gen, &v);
		totals_add(&sum, &copy.t);
		if (pending && v.counted)
			memlens_vma_fault_table_count(pending, v.start, v.end,
						      v.major);
	}
	spin_unlock_irqrestore(&fc->lock, flags);
	if (!out)
		return;
	out->minor = sum.minor - fc->base.minor;
	out->major = sum.major - fc->base.major;
	out->populated = sum.populated - fc->base.populated;
	out->not_charged = sum.not_charged - fc->base.not_charged;
	out->mixed = sum.mixed - fc->base.mixed;
	out->unattributed = sum.unattributed - fc->base.unattributed;
}

/**
 * memlens_fcount_reset - make the process's counts read zero
 * @fc: the process's counting state
 *
 * Under the fault group's lock, with its VMA lines emptied.  The
 * generation advances first: an exception pending now is in the new
 * baseline, and so is not put in a VMA line when it is classified.
 */
void memlens_fcount_reset(struct memlens_fcount *fc)
{
	struct memlens_fcount_totals now;

	WRITE_ONCE(fc->gen, fc->gen + 1);
	memset(&fc->base, 0, sizeof(fc->base));
	memlens_fcount_read(fc, &now, NULL);
	fc->base = now;
}
