// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: the registry of tracked processes.
 *
 * /sys/kernel/debug/memlens/track takes "PID" (start tracking) and "-PID"
 * (stop) and lists the tracked processes.  Each tracked process gets
 * pid/TGID/ with the files every mechanism adds through its struct
 * memlens_proc_hooks.
 *
 * Locking: memlens_track_mutex serialises every change of the registry
 * (the list, the hash, the directories).  Readers of the hash use RCU
 * (memlens_proc_find()).  The sched_process_exit probe only looks up the
 * hash and queues the reaper, which removes exited processes in process
 * context.  The lifetime rules are in memlens.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <trace/events/sched.h>

#include "memlens.h"

#define MEMLENS_MAX_HOOKS	8
/* Longest write accepted by track: "-" and a PID, with room to spare. */
#define TRACK_WRITE_MAX		31

static DEFINE_MUTEX(memlens_track_mutex);
static LIST_HEAD(memlens_procs);		/* under memlens_track_mutex */
static DEFINE_HASHTABLE(memlens_proc_hash, 6);	/* RCU, by tgid */
static atomic_t memlens_tracked = ATOMIC_INIT(0);
static const struct memlens_proc_hooks *memlens_hooks[MEMLENS_MAX_HOOKS];
static int memlens_nr_hooks;
static struct dentry *memlens_pid_dir;
static struct tracepoint *exit_tp;
static bool exit_probe_on;

static void memlens_reap(struct work_struct *work);
static DECLARE_WORK(memlens_reap_work, memlens_reap);

int memlens_proc_hooks_register(const struct memlens_proc_hooks *hooks)
{
	if (memlens_nr_hooks >= MEMLENS_MAX_HOOKS)
		return -ENOSPC;
	memlens_hooks[memlens_nr_hooks++] = hooks;
	return 0;
}

int memlens_nr_tracked(void)
{
	return atomic_read(&memlens_tracked);
}

struct memlens_proc *memlens_proc_find(pid_t tgid)
{
	struct memlens_proc *p;

	hash_for_each_possible_rcu(memlens_proc_hash, p, hash, tgid,
				   rcu_read_lock_any_held() ||
				   lockdep_is_held(&memlens_track_mutex))
		if (p->tgid == tgid)
			return p;
	return NULL;
}

/* Has the process of @p exited (or is it exiting: no thread left alive)? */
static bool memlens_proc_gone(struct memlens_proc *p)
{
	struct task_struct *task;
	bool gone;

	if (READ_ONCE(p->exited))
		return true;
	task = get_pid_task(p->pid, PIDTYPE_TGID);
	if (!task)
		return true;
	gone = !atomic_read(&task->signal->live);
	put_task_struct(task);
	return gone;
}

static void memlens_detach_hooks(struct memlens_proc *p, int n)
{
	while (n-- > 0)
		if (memlens_hooks[n]->detach)
			memlens_hooks[n]->detach(p);
}

/*
 * Steps 2 to 5 of memlens.h for a list of processes already unhashed and
 * off the registry list: one grace period for the whole batch.  Caller
 * holds memlens_track_mutex (->detach() runs under it).
 */
static void memlens_free_procs(struct list_head *dead)
{
	struct memlens_proc *p, *tmp;

	lockdep_assert_held(&memlens_track_mutex);
	if (list_empty(dead))
		return;
	list_for_each_entry(p, dead, node)
		debugfs_remove_recursive(p->dir);
	synchronize_rcu();
	list_for_each_entry_safe(p, tmp, dead, node) {
		memlens_detach_hooks(p, memlens_nr_hooks);
		put_pid(p->pid);
		list_del(&p->node);
		kfree(p);
	}
}

/* Step 1: caller holds memlens_track_mutex. */
static void memlens_unlink(struct memlens_proc *p, struct list_head *dead)
{
	lockdep_assert_held(&memlens_track_mutex);
	hash_del_rcu(&p->hash);
	list_move(&p->node, dead);
	atomic_dec(&memlens_tracked);
}

/* Remove every tracked process that has exited. */
static void memlens_reap(struct work_struct *work)
{
	struct memlens_proc *p, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&memlens_track_mutex);
	list_for_each_entry_safe(p, tmp, &memlens_procs, node)
		if (memlens_proc_gone(p))
			memlens_unlink(p, &dead);
	memlens_free_procs(&dead);
	mutex_unlock(&memlens_track_mutex);
}

/*
 * sched_process_exit runs in every exiting thread after exit_mm(), once
 * signal->live has been decremented: the thread that finds it zero is
 * the last one of its process.  Atomic context: only look up and queue.
 */
static void memlens_exit_probe(void *data, struct task_struct *task)
{
	struct memlens_proc *p;

	if (!memlens_nr_tracked() || atomic_read(&task->signal->live))
		return;
	rcu_read_lock();
	p = memlens_proc_find(task->tgid);
	if (p) {
		WRITE_ONCE(p->exited, true);
		queue_work(system_wq, &memlens_reap_work);
	}
	rcu_read_unlock();
}

/*
 * 7.x fires sched_process_exit(p, group_dead) (still after signal->live
 * went down); before, sched_process_exit(p).  The probe registered has
 * the prototype of this kernel's tracepoint, picked by the type of its
 * register_trace_sched_process_exit() (declared, never called: the
 * tracepoint is not exported; for_each_kernel_tracepoint() finds it).
 */
static void memlens_exit_probe_gd(void *data, struct task_struct *task,
				  bool group_dead)
{
	memlens_exit_probe(data, task);
}

typedef int ml_reg_exit_gd(void (*)(void *, struct task_struct *, bool),
			   void *);
#define ML_EXIT_PROBE							\
	(__builtin_choose_expr(__builtin_types_compatible_p(		\
		typeof(register_trace_sched_process_exit), ml_reg_exit_gd), \
		(void *)memlens_exit_probe_gd, (void *)memlens_exit_probe))

/**
 * memlens_get_mm - the mm of the process @tgid_pid names, or NULL
 * @tgid_pid: a thread-group pid
 *
 * From any live thread: the main thread may have exited (pthread_exit())
 * while others still run, and its ->mm is NULL then.  The caller owns a
 * reference on mm_users, dropped with mmput().
 */
struct mm_struct *memlens_get_mm(struct pid *tgid_pid)
{
	struct task_struct *leader, *t;
	struct mm_struct *mm = NULL;

	rcu_read_lock();
	leader = pid_task(tgid_pid, PIDTYPE_TGID);
	if (leader) {
		for_each_thread(leader, t) {
			mm = get_task_mm(t);	/* task_lock(), a spinlock */
			if (mm)
				break;
		}
	}
	rcu_read_unlock();
	return mm;
}

/* The task a PID written to track names, checked; a reference or ERR_PTR. */
static struct task_struct *memlens_task_to_track(int nr)
{
	struct task_struct *task;
	struct mm_struct *mm;

	rcu_read_lock();
	task = pid_task(find_vpid(nr), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	if (!task)
		return ERR_PTR(-ESRCH);
	if (task->flags & PF_KTHREAD) {
		put_task_struct(task);
		return ERR_PTR(-EINVAL);	/* kernel thread: no mm */
	}
	if (!thread_group_leader(task)) {
		put_task_struct(task);
		return ERR_PTR(-EINVAL);	/* a thread, not a process */
	}
	mm = memlens_get_mm(task_tgid(task));
	if (!mm) {
		put_task_struct(task);
		return ERR_PTR(-ESRCH);		/* zombie or exiting */
	}
	mmput(mm);
	return task;
}

/*
 * Directory and files of @p; on error nothing is left behind.  Caller
 * holds memlens_track_mutex, under which the hooks' ->attach() run.
 */
static int memlens_proc_populate(struct memlens_proc *p)
{
	char name[16];
	int i, ret;

	lockdep_assert_held(&memlens_track_mutex);
	snprintf(name, sizeof(name), "%d", p->tgid);
	p->dir = debugfs_create_dir(name, memlens_pid_dir);
	if (IS_ERR(p->dir))
		return PTR_ERR(p->dir);
	ret = 0;
	for (i = 0; !ret && i < memlens_nr_hooks; i++) {
		ret = memlens_hooks[i]->attach ? memlens_hooks[i]->attach(p) : 0;
		if (ret)
			pr_debug("%s: attach to %d: %d\n", memlens_hooks[i]->name,
				 p->tgid, ret);
	}
	if (ret) {
		/*
		 * The files go first, as in memlens_free_procs(): removal waits
		 * for readers, who found the directory although p is not
		 * hashed yet.  Then the hooks that attached (not the one that
		 * failed: it cleaned up after itself) free their data.
		 */
		debugfs_remove_recursive(p->dir);
		memlens_detach_hooks(p, i - 1);
	}
	return ret;
}

/* Start tracking; caller holds memlens_track_mutex. */
static int memlens_track_start(int nr)
{
	struct task_struct *task;
	struct memlens_proc *p;
	LIST_HEAD(dead);
	bool gone;
	int ret;

	lockdep_assert_held(&memlens_track_mutex);
	task = memlens_task_to_track(nr);
	if (IS_ERR(task))
		return PTR_ERR(task);
	p = memlens_proc_find(task->tgid);
	if (p && memlens_proc_gone(p)) {
		/* An exited process whose PID was reused, not reaped yet. */
		memlens_unlink(p, &dead);
		memlens_free_procs(&dead);
		p = NULL;
	}
	ret = -EEXIST;
	if (p)
		goto out;
	ret = -ENOSPC;
	if (memlens_nr_tracked() >= MEMLENS_MAX_TRACKED)
		goto out;
	ret = -ENOMEM;
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		goto out;
	p->tgid = task->tgid;
	p->pid = get_task_pid(task, PIDTYPE_TGID);
	ret = memlens_proc_populate(p);
	if (ret) {
		put_pid(p->pid);
		kfree(p);
		goto out;
	}
	list_add_tail(&p->node, &memlens_procs);
	hash_add_rcu(memlens_proc_hash, &p->hash, p->tgid);
	atomic_inc(&memlens_tracked);
	/*
	 * The process may have exited since memlens_task_to_track(): its
	 * probe ran before it could find p.  The probe runs after the
	 * decrement of signal->live, so either it sees p or we see zero.
	 */
	smp_mb();
	gone = !atomic_read(&task->signal->live);
	if (gone)
		queue_work(system_wq, &memlens_reap_work);
	ret = 0;
out:
	put_task_struct(task);
	return ret;
}

/* Stop tracking; caller holds memlens_track_mutex. */
static int memlens_track_stop(int nr)
{
	struct memlens_proc *p;
	struct pid *pid;
	LIST_HEAD(dead);
	pid_t tgid;

	lockdep_assert_held(&memlens_track_mutex);
	rcu_read_lock();
	pid = find_vpid(nr);
	tgid = pid ? pid_nr(pid) : 0;
	rcu_read_unlock();
	p = tgid ? memlens_proc_find(tgid) : NULL;
	if (!p)
		return -ENOENT;
	memlens_unlink(p, &dead);
	memlens_free_procs(&dead);
	return 0;
}

/*
 * "PID" or "-PID" with an optional newline, white space around it
 * allowed; a positive int PID.  No NUL byte anywhere.
 */
static int memlens_parse_track(const char __user *ubuf, size_t count,
			       int *nr, bool *stop)
{
	char buf[TRACK_WRITE_MAX + 1];
	char *s;
	int ret;

	if (!count || count > TRACK_WRITE_MAX)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	if (memchr(buf, '\0', count))
		return -EINVAL;		/* "5\0junk" is not "5" */
	buf[count] = '\0';
	s = strim(buf);
	*stop = *s == '-';
	if (*stop)
		s++;
	if (!isdigit(*s))
		return -EINVAL;
	ret = kstrtoint(s, 10, nr);
	if (ret)
		return ret;
	return *nr > 0 ? 0 : -EINVAL;
}

static ssize_t track_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	bool stop;
	int nr, ret;

	ret = memlens_parse_track(ubuf, count, &nr, &stop);
	if (ret)
		return ret;
	mutex_lock(&memlens_track_mutex);
	ret = stop ? memlens_track_stop(nr) : memlens_track_start(nr);
	mutex_unlock(&memlens_track_mutex);
	return ret ? ret : count;
}

static int track_show(struct seq_file *m, void *v)
{
	struct memlens_proc *p;

	mutex_lock(&memlens_track_mutex);
	list_for_each_entry(p, &memlens_procs, node)
		if (!memlens_proc_gone(p))
			seq_printf(m, "%d\n", p->tgid);
	mutex_unlock(&memlens_track_mutex);
	return 0;
}

static int track_open(struct inode *inode, struct file *file)
{
	return single_open(file, track_show, NULL);
}

static const struct file_operations track_fops = {
	.owner		= THIS_MODULE,
	.open		= track_open,
	.read		= seq_read,
	.write		= track_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

int memlens_track_lock_untracked(void)
{
	mutex_lock(&memlens_track_mutex);
	if (list_empty(&memlens_procs))
		return 0;
	mutex_unlock(&memlens_track_mutex);
	return -EBUSY;
}

void memlens_track_unlock(void)
{
	mutex_unlock(&memlens_track_mutex);
}

static void memlens_find_exit_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		exit_tp = tp;
}

int memlens_track_init(void)
{
	int ret;

	for_each_kernel_tracepoint(memlens_find_exit_tp, NULL);
	if (!exit_tp) {
		pr_err("no sched_process_exit tracepoint\n");
		return -ENOENT;
	}
	ret = tracepoint_probe_register(exit_tp, ML_EXIT_PROBE, NULL);
	if (ret)
		return ret;
	exit_probe_on = true;
	memlens_pid_dir = debugfs_create_dir("pid", memlens_debugfs_root);
	ret = PTR_ERR_OR_ZERO(memlens_pid_dir);
	if (!ret)
		ret = memlens_debugfs_file("track", 0600, memlens_debugfs_root,
					   NULL, &track_fops);
	if (ret)
		memlens_track_exit();
	return ret;
}

/*
 * Called before the debugfs root goes: no probe left running, no reaper
 * queued, every process removed with its hooks' ->detach().
 */
void memlens_track_exit(void)
{
	struct memlens_proc *p, *tmp;
	LIST_HEAD(dead);

	debugfs_lookup_and_remove("track", memlens_debugfs_root);
	if (exit_probe_on) {
		tracepoint_probe_unregister(exit_tp, ML_EXIT_PROBE, NULL);
		tracepoint_synchronize_unregister();
		exit_probe_on = false;
	}
	cancel_work_sync(&memlens_reap_work);
	mutex_lock(&memlens_track_mutex);
	list_for_each_entry_safe(p, tmp, &memlens_procs, node)
		memlens_unlink(p, &dead);
	memlens_free_procs(&dead);
	mutex_unlock(&memlens_track_mutex);
	debugfs_remove_recursive(memlens_pid_dir);
}
