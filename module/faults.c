// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: page-fault accounting, debugfs "faults", "latency" and
 * pid/PID/faults.
 *
 * Two modes, switched by writing 0 or 1 to "latency" while nothing is
 * tracked:
 *
 * - counting (the default): nothing runs when a fault completes; the
 *   minor and major faults of tracked processes and of their VMAs come
 *   from their threads' own counters (fcount.c);
 *
 * - latency: a kretprobe on handle_mm_fault() also classifies every
 *   fault of every process by its result and times it, as below.
 *
 * The sources, counted per CPU with no lock on the fault path:
 *
 * - the x86 exceptions:page_fault_user and exceptions:page_fault_kernel
 *   tracepoints: every page-fault exception, classified by its hardware
 *   error code (user, kernel, read, write, exec, notpresent, protection);
 *
 * - (latency mode) a kretprobe on handle_mm_fault(): its return value
 *   classifies each fault the way mm_account_fault() does for the task's
 *   min_flt/maj_flt (and so /proc/PID/stat) on 6.1 and 6.12:
 *   VM_FAULT_RETRY and VM_FAULT_ERROR returns are not counted, a fault is
 *   major when it returned VM_FAULT_MAJOR or had been retried
 *   (FAULT_FLAG_TRIED).  The time spent in handle_mm_fault() goes into
 *   log2 histograms.
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
#include "fcount.h"
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

/*
 * The mode: true while the kretprobe is registered.  Changed only with
 * memlens_track_mutex held and nothing tracked, so a tracked process is
 * counted in one mode from its start to its end.
 */
static bool fault_latency;

/* Per tracked process (slot MEMLENS_SLOT_FAULTS). */
struct proc_faults {
	struct memlens_proc_stats ps;	/* struct fault_stats */
	struct memlens_vma_faults vf;
	struct memlens_fcount *fc;	/* counting mode */
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

static void exception(enum fault_stat mode, unsigned long address,
		      unsigned long error_code)
{
	struct proc_faults *pf;

	count_exception(&fault_pcpu[0], mode, error_code);
	rcu_read_lock();
	pf = proc_faults_current();
	if (pf) {
		struct memlens_fcount *fc = READ_ONCE(pf->vf.fc);

		count_exception(proc_fault_pcpu(pf), mode, error_code);
		if (fc)
			memlens_fcount_entry(fc, &pf->vf, address);
	}
	rcu_read_unlock();
}

static void probe_fault_user(void *data, unsigned long address,
			     struct pt_regs *regs, unsigned long error_code)
{
	exception(FS_USER, address, error_code);
}

static void probe_fault_kernel(void *data, unsigned long address,
			       struct pt_regs *regs, unsigned long error_code)
{
	exception(FS_KERNEL, address, error_code);
}

/* sched_process_free: a thread's last exception, in counting mode. */
static void probe_task_free(void *data, struct task_struct *task)
{
	struct memlens_proc *p;
	struct proc_faults *pf;

	if (!memlens_nr_tracked())
		return;
	rcu_read_lock();
	p = memlens_proc_find(task->tgid);
	pf = p ? p->data[MEMLENS_SLOT_FAULTS] : NULL;
	if (pf && READ_ONCE(pf->vf.fc))
		memlens_fcount_task_free(pf->fc, &pf->vf, task);
	rcu_read_unlock();
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
 * .kp and .maxactive are set by latency_on().
 */
static struct kretprobe fault_kretprobe = {
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

static void show_unavailable(struct seq_file *m, bool minor_major)
{
	static const char * const keys[] = {
		"minor", "major", "retry", "retry_returns", "errors", "latency",
	};
	int i;

	for (i = minor_major ? 0 : 2; i < ARRAY_SIZE(keys); i++)
		seq_printf(m, "%s unavailable: needs latency\n", keys[i]);
}

static void show_fcount(struct seq_file *m, const struct memlens_fcount *fc,
			const struct memlens_fcount_totals *t)
{
	seq_printf(m, "minor %llu\nmajor %llu\npopulated %llu\n",
		   t->minor, t->major, t->populated);
	seq_printf(m, "not_charged %llu\nmixed %llu\nunattributed %llu\n",
		   t->not_charged, t->mixed, t->unattributed);
	seq_printf(m, "no_slot %d\n", atomic_read(&fc->no_slot));
}

/*
 * @st since the last reset in the mode of the file: for a tracked
 * process, counting if it has @fc; system-wide (@global), the current
 * one, with "missed" in latency mode.
 */
static int show_stats(struct seq_file *m, const struct memlens_stats *st,
		      struct memlens_fcount *fc, bool global)
{
	struct fault_stats *s = kmalloc(sizeof(*s), GFP_KERNEL);
	bool latency = global ? READ_ONCE(fault_latency) : !fc;
	struct memlens_fcount_totals t;
	int i, nmissed;

	if (!s)
		return -ENOMEM;
	mutex_lock(&fault_group.lock);
	memlens_stats_read(&fault_group, st, (u64 *)s);
	nmissed = READ_ONCE(fault_kretprobe.nmissed) - fault_base_missed;
	if (fc)
		memlens_fcount_read(fc, &t, NULL);
	mutex_unlock(&fault_group.lock);
	seq_printf(m, "mode %s\n", latency ? "latency" : "counting");
	if (fc)
		show_fcount(m, fc, &t);
	for (i = 0; i < FS_NR; i++) {
		if (!latency && i < FS_USER)
			continue;
		seq_printf(m, "%s %llu\n", fault_stat_names[i], s->stat[i]);
	}
	if (!latency) {
		show_unavailable(m, !fc);
		kfree(s);
		return 0;
	}
	if (global)
		seq_printf(m, "missed %d\n", nmissed);
	/* a probe cannot time its own trampolines: the benchmark does */
	seq_puts(m, "lat_cost unavailable: measured by make bench-acct\n");
	show_latency(m, "minor", s->lat_minor);
	show_latency(m, "major", s->lat_major);
	kfree(s);
	return 0;
}

static int faults_show(struct seq_file *m, void *v)
{
	return show_stats(m, &fault_group.global, NULL, true);
}
DEFINE_SHOW_ATTRIBUTE(faults);

static int proc_faults_show(struct seq_file *m, void *v)
{
	struct proc_faults *pf = m->private;

	return show_stats(m, &pf->ps.stats, READ_ONCE(pf->vf.fc), false);
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
	pf->fc = memlens_fcount_alloc(p);
	ret = pf->fc ? memlens_vma_faults_create(&pf->vf) : -ENOMEM;
	/*
	 * No probe sees @p before it is hashed, after this; a reset or a
	 * read may, and finds the counting state whole or NULL.  The mode
	 * cannot change while @p is tracked (memlens_track_mutex is held).
	 */
	if (!ret && !READ_ONCE(fault_latency))
		WRITE_ONCE(pf->vf.fc, pf->fc);
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
	struct proc_faults *pf = p->data[MEMLENS_SLOT_FAULTS];
	struct memlens_fcount *fc = pf->fc;

	memlens_proc_stats_detach(p, MEMLENS_SLOT_FAULTS, &fault_group);
	memlens_fcount_free(fc);
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
	list_for_each_entry(pf, &g->procs, ps.stats.node) {
		memlens_vma_faults_reset(&pf->vf);
		if (pf->vf.fc)
			memlens_fcount_reset(pf->fc);
	}
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

/* handle_mm_fault() is probed again for each switch to the latency mode. */
static int latency_on(void)
{
	int ret;

	memset(&fault_kretprobe.kp, 0, sizeof(fault_kretprobe.kp));
	fault_kretprobe.kp.symbol_name = "handle_mm_fault";
	fault_kretprobe.maxactive = max(256U, 32 * num_possible_cpus());
	ret = register_kretprobe(&fault_kretprobe);
	if (ret)
		pr_err("cannot probe handle_mm_fault: %d\n", ret);
	return ret;
}

static int latency_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", READ_ONCE(fault_latency));
	return 0;
}

static int latency_open(struct inode *inode, struct file *file)
{
	return single_open(file, latency_show, NULL);
}

/*
 * "1": the latency mode, "0": counting; -EBUSY while a process is
 * tracked.  Either way the fault counters start again from zero.
 */
static ssize_t latency_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	int bit, ret;

	ret = memlens_parse_bit(ubuf, count, &bit);
	if (ret)
		return ret;
	ret = memlens_track_lock_untracked();
	if (ret)
		return ret;
	if (bit && !fault_latency)
		ret = latency_on();
	else if (!bit && fault_latency)
		unregister_kretprobe(&fault_kretprobe);
	if (!ret) {
		WRITE_ONCE(fault_latency, bit);
		memlens_faults_reset();
	}
	memlens_track_unlock();
	return ret ? ret : count;
}

static const struct file_operations latency_fops = {
	.owner = THIS_MODULE,
	.open = latency_open,
	.read = seq_read,
	.write = latency_write,
	.llseek = seq_lseek,
	.release = single_release,
};

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
	ret = memlens_tp_register("sched_process_free", probe_task_free, NULL);
	if (ret)
		goto err_kernel;
	ret = memlens_debugfs_file("faults", 0400, memlens_debugfs_root, NULL,
				   &faults_fops);
	if (!ret)
		ret = memlens_debugfs_file("latency", 0600,
					   memlens_debugfs_root, NULL,
					   &latency_fops);
	if (!ret)
		ret = memlens_proc_hooks_register(&proc_faults_hooks);
	if (ret)
		goto err_free;
	return 0;

err_free:
	memlens_tp_unregister("sched_process_free", probe_task_free, NULL);
err_kernel:
	memlens_tp_unregister("page_fault_kernel", probe_fault_kernel, NULL);
err_user:
	memlens_tp_unregister("page_fault_user", probe_fault_user, NULL);
	return ret;
}

/*
 * The probes; the caller waits for the tracepoint probes to finish
 * (memlens_acct_exit()).  Nothing is tracked any more.
 */
void memlens_faults_exit(void)
{
	memlens_tp_unregister("sched_process_free", probe_task_free, NULL);
	memlens_tp_unregister("page_fault_kernel", probe_fault_kernel, NULL);
	memlens_tp_unregister("page_fault_user", probe_fault_user, NULL);
	if (fault_latency)
		unregister_kretprobe(&fault_kretprobe);
	fault_latency = false;
}
