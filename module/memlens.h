/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: internal declarations shared by the module's files.
 */
#ifndef _MEMLENS_H
#define _MEMLENS_H

#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/list.h>
#include <linux/mmap_lock.h>
#include <linux/mmdebug.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

struct mm_struct;
struct pid;

/*
 * Names: what a header of the module declares (functions, types, enums,
 * macros) starts with memlens_ / MEMLENS_; names local to one file are
 * short (ml_ or the file's own word).
 */

/*
 * MEMLENS_VERSION (the product version) comes from the top-level VERSION
 * file through Kbuild; this is the version of the debugfs file formats.
 */
#define MEMLENS_FORMAT_VERSION	1

/* Root of everything under /sys/kernel/debug/memlens/. */
extern struct dentry *memlens_debugfs_root;

/*
 * Tracked processes (track.c).
 *
 * Writing a PID to /sys/kernel/debug/memlens/track creates a struct
 * memlens_proc and the directory pid/PID/.  Every mechanism (pagetable,
 * vmas, faults, TLB, swap) hangs its per-process data and files on it
 * through a struct memlens_proc_hooks registered from its init function,
 * which main.c runs before memlens_track_init(); the files appear in the
 * order of registration.
 *
 * Lifetime of a struct memlens_proc, whatever ends the tracking ('-PID'
 * written to track, the process exiting, or the module unloading):
 *  1. it is unhashed, so memlens_proc_find() no longer returns it;
 *  2. its directory is removed; debugfs waits for every read or write in
 *     progress on a file in it, later ones fail with -EIO;
 *  3. an RCU grace period passes: no lockless user still sees it;
 *  4. each hook's ->detach() runs (in process context, may sleep), in the
 *     reverse order of registration, to free what ->attach() allocated;
 *  5. it is freed.
 * So a file created in p->dir may use p and p->data[] freely in its file
 * operations, and a tracepoint probe may use them until it leaves its RCU
 * read-side section.  File operations must not take memlens_track_mutex.
 */

/* Slots of struct memlens_proc.data, one per mechanism. */
enum memlens_proc_slot {
	MEMLENS_SLOT_FAULTS,
	MEMLENS_SLOT_TLB,
	MEMLENS_SLOT_SWAP,
	MEMLENS_NR_SLOTS
};

/* At most this many processes are tracked at once; more gets -ENOSPC. */
#define MEMLENS_MAX_TRACKED	256

struct memlens_proc {
	pid_t tgid;		/* thread group id, initial namespace */
	struct pid *pid;	/* reference held while tracked */
	struct dentry *dir;	/* pid/TGID/ */
	bool exited;		/* the process exited (set before removal) */
	void *data[MEMLENS_NR_SLOTS];	/* owned by the mechanisms' hooks */
	struct hlist_node hash;	/* memlens_proc_find(), RCU */
	struct list_head node;	/* registry, under memlens_track_mutex */
	struct rcu_head rcu;
};

/**
 * struct memlens_proc_hooks - what a mechanism does per tracked process
 * @name: for messages
 * @attach: p->dir exists and holds the files of the hooks registered
 *	before; create files in it (memlens_debugfs_file()), allocate
 *	p->data[slot] if the mechanism keeps per-process data.  Process
 *	context, may sleep, called with memlens_track_mutex held.  An
 *	error aborts the tracking (earlier hooks' ->detach() are called)
 *	and is returned to the writer; the failing hook leaves nothing
 *	behind.
 * @detach: free what ->attach() set up (step 4 above).  Called only if
 *	->attach() succeeded.  May sleep.  Optional: files go with p->dir.
 */
struct memlens_proc_hooks {
	const char *name;
	int (*attach)(struct memlens_proc *p);
	void (*detach)(struct memlens_proc *p);
};

/* Register before memlens_track_init(); at most 8 mechanisms. */
int memlens_proc_hooks_register(const struct memlens_proc_hooks *hooks);

/*
 * memlens_proc_find - the tracked process with this thread group id, or
 * NULL.  Lockless: call inside an RCU read-side section (rcu_read_lock(),
 * or a tracepoint probe, which runs with preemption disabled); the result
 * is valid until that section ends.  memlens_nr_tracked() == 0 is a cheap
 * test for "nothing tracked" to try first on hot paths.
 */
struct memlens_proc *memlens_proc_find(pid_t tgid);
int memlens_nr_tracked(void);

/* mm of a process from any live thread (mmput() it), or NULL; track.c. */
struct mm_struct *memlens_get_mm(struct pid *tgid_pid);

/*
 * Hold memlens_track_mutex while nothing is tracked, for what may change
 * only then (the fault mode): 0 with the mutex held, or -EBUSY.
 */
int memlens_track_lock_untracked(void);
void memlens_track_unlock(void);

int memlens_track_init(void);
void memlens_track_exit(void);

/* Register the per-process files of the page-table walker (hooks). */
int memlens_pagetable_init(void);
int memlens_vmas_init(void);

/**
 * memlens_debugfs_file - debugfs_create_file() that reports failure
 * @name: file name
 * @mode: permissions
 * @parent: directory
 * @data: the file's private data
 * @fops: its operations
 *
 * debugfs files are usually created without looking at the result,
 * since debugfs is only there for debugging.  Here the files are the
 * interface: a module without its "faults" file, or a pid/PID/ without
 * its "swap", would look like a working one to every reader.  So a file
 * that cannot be created fails the load or the tracking instead.
 *
 * Return: 0 or a negative errno.
 */
static inline int memlens_debugfs_file(const char *name, umode_t mode,
				       struct dentry *parent, void *data,
				       const struct file_operations *fops)
{
	return PTR_ERR_OR_ZERO(debugfs_create_file(name, mode, parent, data,
						   fops));
}

/**
 * memlens_assert_mmap_locked - mmap_assert_locked() that a module can use
 * @mm: the mm whose mmap_lock the caller holds (read or write)
 *
 * mmap_assert_locked() is lockdep_assert_held() plus VM_BUG_ON_MM(),
 * which on a CONFIG_DEBUG_VM kernel calls dump_mm(); 6.1 does not export
 * dump_mm(), so a module using it cannot load on the 6.1 debug kernel
 * (modpost: "dump_mm" undefined).  lockdep checks the holder the same way;
 * the DEBUG_VM check warns once instead of dumping the mm.
 */
static inline void memlens_assert_mmap_locked(struct mm_struct *mm)
{
	lockdep_assert_held(&mm->mmap_lock);
	VM_WARN_ON_ONCE(!rwsem_is_locked(&mm->mmap_lock));
}

/*
 * Fault injection (fault_inject.c): per-CPU counters it can fail (the
 * percpu allocator is out of failslab's and fail_page_alloc's reach), and
 * the fail_init_nth parameter's window around memlens_init().
 */
#ifdef CONFIG_FAULT_INJECTION
bool memlens_should_fail_percpu(size_t size);
void memlens_fail_init_begin(void);
void memlens_fail_init_end(void);
#else
static inline bool memlens_should_fail_percpu(size_t size)
{
	return false;
}

static inline void memlens_fail_init_begin(void) {}
static inline void memlens_fail_init_end(void) {}
#endif

#endif /* _MEMLENS_H */
