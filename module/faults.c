// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: system-wide page-fault accounting, debugfs "faults".
 *
 * Two sources, counted per CPU with no lock on the fault path:
 *
 * - the x86 exceptions:page_fault_user and exceptions:page_fault_kernel
 *   tracepoints: every page-fault exception, classified by its hardware
 *   error code (user, kernel, read, write, exec, notpresent, protection);
 *
 * - a kretprobe on handle_mm_fault(): its return value classifies each
 *   fault the way mm_account_fault() does for the task's min_flt/maj_flt
 *   (and so /proc/PID/stat) on 6.1 and 6.12: VM_FAULT_RETRY and
 *   VM_FAULT_ERROR returns are not counted, a fault is major when it
 *   returned VM_FAULT_MAJOR or had been retried (FAULT_FLAG_TRIED).  The
 *   time spent in handle_mm_fault() goes into log2 histograms.
 *
 * Counters are read as the sum over CPUs minus a baseline taken by
 * "reset", so a reset never races with the fault path.
 *
 * For a tracked process the same counters, attributed to current's
 * thread group (as the kernel charges current->min_flt/maj_flt, also for
 * a fault taken on another mm through GUP), go to pid/PID/faults, and the
 * completed faults by VMA to pid/PID/vma_faults (vma_faults.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <asm/trap_pf.h>

#include "acct.h"
#include "memlens.h"
#include "stats.h"
#include "vma_faults.h"

enum fault_stat {
	FS_MINOR,
	FS_MAJOR,
	FS_RETRY,
	FS_RETRY_RETURNS,
	FS_ERRORS,
	FS_USER,
	FS_KERNEL,
	FS_READ,
	FS_WRITE,
	FS_EXEC,
	FS_NOTPRESENT,
	FS_PROTECTION,
	FS_NR
};

static const char * const fault_stat_names[FS_NR] = {
	[FS_MINOR] = "minor",
	[FS_MAJOR] = "major",
	[FS_RETRY] = "retry",
	[FS_RETRY_RETURNS] = "retry_returns",
	[FS_ERRORS] = "errors",
	[FS_USER] = "user",
	[FS_KERNEL] = "kernel",
	[FS_READ] = "read",
	[FS_WRITE] = "write",
	[FS_EXEC] = "exec",
	[FS_NOTPRESENT] = "notpresent",
	[FS_PROTECTION] = "protection",
};

/* Bucket b holds latencies of fls64(ns) == b: [2^(b-1), 2^b - 1] ns. */
#define LAT_BUCKETS	65

struct fault_stats {
	u64 stat[FS_NR];
	u64 lat_minor[LAT_BUCKETS];
	u64 lat_major[LAT_BUCKETS];
};

/* On each CPU: the counters, then their baseline (stats.h). */
static DEFINE_PER_CPU(struct fault_stats[2], fault_pcpu);
static int fault_base_missed;	/* under fault_group.lock */
static struct memlens_stats_group fault_group;

/* Per tracked process (slot MEMLENS_SLOT_FAULTS). */
struct proc_faults {
	struct memlens_proc_stats ps;	/* struct fault_stats */
	struct memlens_vma_faults vf;
};

static struct fault_stats __percpu *proc_fault_pcpu(struct proc_faults *pf)
{
	return (struct fault_stats __percpu *)pf->ps.stats.pcpu;
}

/* What the entry handler of handle_mm_fault() leaves for the return. */
struct fault_call {
	u64 start_ns;
	unsigned long vm_start, vm_end;
	unsigned int flags;
};

/* The current thread group's counters if it is tracked; under RCU. */
static struct proc_faults *proc_faults_current(void)
{
	struct memlens_proc *p;

	if (!memlens_nr_tracked())
		return NULL;
	p = memlens_proc_find(current->tgid);
	return p ? p->data[MEMLENS_SLOT_FAULTS] : NULL;
}

static void count_exception(struct fault_stats __percpu *fs,
			    enum fault_stat mode, unsigned long error_code)
{
	this_cpu_inc(fs->stat[mode]);
	if (error_code & X86_PF_INSTR)
		this_cpu_inc(fs->stat[FS_EXEC]);
	else if (error_code & X86_PF_WRITE)
		this_cpu_inc(fs->stat[FS_WRITE]);
	else
		this_cpu_inc(fs->stat[FS_READ]);
	if (error_code & X86_PF_PROT)
		this_cpu_inc(fs->stat[FS_PROTECTION]);
	else
		this_cpu_inc(fs->stat[FS_NOTPRESENT]);
}

static void exception(enum fault_stat mode, unsigned long error_code)
{
	struct proc_faults *pf;

	count_exception(&fault_pcpu[0], mode, error_code);
	rcu_read_lock();
	pf = proc_faults_current();
	if (pf)
		count_exception(proc_fault_pcpu(pf), mode, error_code);
	rcu_read_unlock();
}

static void probe_fault_user(void *data, unsigned long address,
			     struct pt_regs *regs, unsigned long error_code)
{
	exception(FS_USER, error_code);
}

static void probe_fault_kernel(void *data, unsigned long address,
			       struct pt_regs *regs, unsigned long error_code)
{
	exception(FS_KERNEL, error_code);
}

/* handle_mm_fault(vma, address, flags, regs): runs with preemption off. */
static int fault_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fault_call *fc = (struct fault_call *)ri->data;

	/*
	 * handle_mm_fault() runs with the VMA locked, by mmap_lock or by its
	 * own VMA lock (6.4+): its bounds hold for the call.  Which of the
	 * two is not ours to assert from a kprobe.
	 */
	struct vm_area_struct *vma =
		(struct vm_area_struct *)regs_get_kernel_argument(regs, 0);

	fc->vm_start = vma->vm_start;
	fc->vm_end = vma->vm_end;
	fc->flags = regs_get_kernel_argument(regs, 2);
	fc->start_ns = local_clock();
	return 0;
}

/* Count one outcome of handle_mm_fault(); see mm_account_fault(). */
static void count_outcome(struct fault_stats __percpu *fs, vm_fault_t ret,
			  unsigned int flags, bool major, int bucket)
{
	if (ret & VM_FAULT_RETRY) {
		this_cpu_inc(fs->stat[FS_RETRY_RETURNS]);
		return;
	}
	if (ret & VM_FAULT_ERROR) {
		this_cpu_inc(fs->stat[FS_ERRORS]);
		return;
	}
	if (flags & FAULT_FLAG_TRIED)
		this_cpu_inc(fs->stat[FS_RETRY]);
	if (major) {
		this_cpu_inc(fs->stat[FS_MAJOR]);
		this_cpu_inc(fs->lat_major[bucket]);
	} else {
		this_cpu_inc(fs->stat[FS_MINOR]);
		this_cpu_inc(fs->lat_minor[bucket]);
	}
}

static int fault_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct fault_call *fc = (struct fault_call *)ri->data;
	vm_fault_t ret = regs_return_value(regs);
	u64 ns = local_clock() - fc->start_ns;
	struct proc_faults *pf;
	int bucket;
	bool major;

	major = (ret & VM_FAULT_MAJOR) || (fc->flags & FAULT_FLAG_TRIED);
	/* local_clock() may step back a little across CPUs after a sleep. */
	bucket = (s64)ns > 0 ? fls64(ns) : 0;
	count_outcome(&fault_pcpu[0], ret, fc->flags, major, bucket);

	rcu_read_lock();
	pf = proc_faults_current();
	if (pf) {
		count_outcome(proc_fault_pcpu(pf), ret, fc->flags, major, bucket);
		if (!(ret & (VM_FAULT_RETRY | VM_FAULT_ERROR)))
			memlens_vma_faults_count(&pf->vf, fc->vm_start,
						 fc->vm_end, major);
	}
	rcu_read_unlock();
	return 0;
}

/*
 * Faults sleep in handle_mm_fault() (I/O, locks), so many may be in
 * flight at once; a fault finding no free instance is counted in "missed".
 * .maxactive is set at init from the number of CPUs.
 */
static struct kretprobe fault_kretprobe = {
	.kp.symbol_name = "handle_mm_fault",
	.entry_handler = fault_entry,
	.handler = fault_return,
	.data_size = sizeof(struct fault_call),
};

static void show_latency(struct seq_file *m, const char *kind, const u64 *lat)
{
	int b;

	for (b = 0; b < LAT_BUCKETS; b++) {
		u64 n = lat[b];
		u64 low = b ? 1ULL << (b - 1) : 0;
		u64 high = b ? low * 2 - 1 : 0;

		if (n)
			seq_printf(m, "lat_%s_ns_%llu_%llu %llu\n", kind, low, high, n);
	}
}

/* @st since the last reset; "missed" (shared by all) only when @missed. */
static int show_stats(struct seq_file *m, const struct memlens_stats *st,
		      bool missed)
{
	struct fault_stats *s = kmalloc(sizeof(*s), GFP_KERNEL);
	int i, nmissed;

	if (!s)
		return -ENOMEM;
	mutex_lock(&fault_group.lock);
	memlens_stats_read(&fault_group, st, (u64 *)s);
	nmissed = READ_ONCE(fault_kretprobe.nmissed) - fault_base_missed;
	mutex_unlock(&fault_group.lock);
	for (i = 0; i < FS_NR; i++)
		seq_printf(m, "%s %llu\n", fault_stat_names[i], s->stat[i]);
	if (missed)
		seq_printf(m, "missed %d\n", nmissed);
	show_latency(m, "minor", s->lat_minor);
	show_latency(m, "major", s->lat_major);
	kfree(s);
	return 0;
}

static int faults_show(struct seq_file *m, void *v)
{
	return show_stats(m, &fault_group.global, true);
}
DEFINE_SHOW_ATTRIBUTE(faults);

static int proc_faults_show(struct seq_file *m, void *v)
{
	struct proc_faults *pf = m->private;

	return show_stats(m, &pf->ps.stats, false);
}
DEFINE_SHOW_ATTRIBUTE(proc_faults);

/* Before the counters join fault_group, whose reset empties @vf. */
static void proc_faults_init(void *data, struct memlens_proc *p)
{
	struct proc_faults *pf = data;

	memlens_vma_faults_init(&pf->vf, p);
}

static void proc_faults_detach(struct memlens_proc *p);

/* Hook: a process starts being tracked; memlens_track_mutex is held. */
static int proc_faults_attach(struct memlens_proc *p)
{
	struct proc_faults *pf;
	int ret;

	pf = memlens_proc_stats_attach(p, MEMLENS_SLOT_FAULTS, &fault_group,
				       sizeof(*pf), proc_faults_init, "faults",
				       &proc_faults_fops);
	if (IS_ERR(pf))
		return PTR_ERR(pf);
	ret = memlens_vma_faults_create(&pf->vf);
	if (ret) {
		/* waits for any reader of the file made above */
		debugfs_lookup_and_remove("faults", p->dir);
		proc_faults_detach(p);
	}
	return ret;
}

/* Hook: the files are gone and no probe sees @p any more. */
static void proc_faults_detach(struct memlens_proc *p)
{
	memlens_proc_stats_detach(p, MEMLENS_SLOT_FAULTS, &fault_group);
}

static const struct memlens_proc_hooks proc_faults_hooks = {
	.name = "faults",
	.attach = proc_faults_attach,
	.detach = proc_faults_detach,
};

/* With the baselines: "missed", and every pid/PID/vma_faults emptied. */
static void fault_reset(struct memlens_stats_group *g)
{
	struct proc_faults *pf;

	lockdep_assert_held(&g->lock);
	fault_base_missed = READ_ONCE(fault_kretprobe.nmissed);
	list_for_each_entry(pf, &g->procs, ps.stats.node)
		memlens_vma_faults_reset(&pf->vf);
}

/**
 * memlens_faults_reset - make every "faults" and pid/PID/faults counter
 * read zero, and empty every pid/PID/vma_faults
 *
 * Faults counted concurrently on other CPUs land on either side of the
 * new baseline; none is lost or counted twice.
 */
void memlens_faults_reset(void)
{
	memlens_stats_reset(&fault_group);
}

int memlens_faults_init(void)
{
	int ret;

	memlens_stats_group_init(&fault_group, &fault_pcpu,
				 sizeof(struct fault_stats), fault_reset);
	ret = memlens_tp_register("page_fault_user", probe_fault_user, NULL);
	if (ret)
		return ret;
	ret = memlens_tp_register("page_fault_kernel", probe_fault_kernel, NULL);
	if (ret)
		goto err_user;
	fault_kretprobe.maxactive = max(256U, 32 * num_possible_cpus());
	ret = register_kretprobe(&fault_kretprobe);
	if (ret) {
		pr_err("cannot probe handle_mm_fault: %d\n", ret);
		goto err_kernel;
	}
	ret = memlens_debugfs_file("faults", 0400, memlens_debugfs_root, NULL,
				   &faults_fops);
	if (!ret)
		ret = memlens_proc_hooks_register(&proc_faults_hooks);
	if (ret)
		goto err_kretprobe;
	return 0;

err_kretprobe:
	unregister_kretprobe(&fault_kretprobe);

err_kernel:
	memlens_tp_unregister("page_fault_kernel", probe_fault_kernel, NULL);
err_user:
	memlens_tp_unregister("page_fault_user", probe_fault_user, NULL);
	return ret;
}

/* For memlens_acct_exit(), which unregisters it with the others. */
struct kretprobe *memlens_faults_kretprobe(void)
{
	return &fault_kretprobe;
}

/* The tracepoint probes; the kretprobe is memlens_acct_exit()'s. */
void memlens_faults_exit(void)
{
	memlens_tp_unregister("page_fault_kernel", probe_fault_kernel, NULL);
	memlens_tp_unregister("page_fault_user", probe_fault_user, NULL);
}
