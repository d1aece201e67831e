// SPDX-License-Identifier: GPL-2.0
/*
 * faults: page faults per tgid, attributed to VMAs, in one of two modes.
 *
 * Counting mode (the default; the programs below "Counting mode"): one
 * entry program on the exceptions tracepoints and the thread's own
 * min_flt/maj_flt, classified lazily; nothing runs when a fault
 * completes.  See faults.h and docs/bpf.md.
 *
 * Latency mode (opt-in): two kinds of attach point, chosen by the loader
 * (userspace/mlbpf/faults.c) from what the running kernel accepts:
 *
 *  - entry: tp_btf exceptions:page_fault_user / page_fault_kernel (x86).
 *    Classifies by the hardware error code (read/write/exec, user/kernel,
 *    not-present/protection) and stamps the start time of the fault.
 *    Always loaded.
 *
 *  - completion, one of:
 *    fexit/handle_mm_fault  (guests): sees the vm_fault_t result and the
 *        fault flags, so it counts minor/major exactly as mm_account_fault()
 *        charges min_flt/maj_flt (GUP faults included), and counts retries.
 *    perf software events page-faults-min/-maj (hosts that refuse fexit):
 *        fired by mm_account_fault() itself for faults with user or kernel
 *        registers; GUP faults (no registers) are not seen, retries cannot
 *        be told apart.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "faults.h"
#include "memlens.bpf.h"

#define X86_PF_PROT  (1UL << 0)
#define X86_PF_WRITE (1UL << 1)
#define X86_PF_INSTR (1UL << 4)

/* Filter set before load: count only this tgid (0: every tgid). */
const volatile __u32 targ_tgid = 0;
/* bpf_find_vma() may be called (5.17+; the loader probes it). */
const volatile bool find_vma = true;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, FAULTS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, struct fault_counts);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAULTS_MAX_VMAS);
	__type(key, struct fault_vma_key);
	__type(value, struct fault_vma_val);
} vma_faults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fault_inflight);
} inflight SEC(".maps");

static struct fault_inflight *thread_state(void)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* Zero-filled scratch value for creating map entries (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fault_counts);
} zero_counts SEC(".maps");

static __always_inline bool tracked(__u32 tgid)
{
	return !targ_tgid || tgid == targ_tgid;
}

static struct fault_counts *counts_of(__u32 tgid)
{
	struct fault_counts *c = bpf_map_lookup_elem(&counts, &tgid);

	if (c)
		return c;
	c = ml_percpu_value(&zero_counts); /* the first fault of @tgid */
	if (!c)
		return NULL;
	return ml_lookup_or_init(&counts, &tgid, c);
}

/*
 * Count one exception's x86 error code in @c, a struct fault_counts or a
 * struct fault_totals (both modes: the same field names): user or kernel
 * by tracepoint; W -> write, else I -> exec, else read; P -> protection,
 * else notpresent.
 */
#define count_error_code(c, error_code, user)       \
	do {                                        \
		if (user)                           \
			(c)->user++;                \
		else                                \
			(c)->kernel++;              \
		if ((error_code)&X86_PF_WRITE)      \
			(c)->write++;               \
		else if ((error_code)&X86_PF_INSTR) \
			(c)->exec++;                \
		else                                \
			(c)->read++;                \
		if ((error_code)&X86_PF_PROT)       \
			(c)->protection++;          \
		else                                \
			(c)->notpresent++;          \
	} while (0)

/*
 * The bounds and mm of a VMA a thread cached earlier, read fault-safely:
 * VMAs are freed by RCU and their slab is type-safe, so a stale pointer
 * reads as some VMA or fails the read (non-zero).  The caller trusts it
 * only if it belongs to the right mm and covers the address.
 */
static __always_inline long read_vma(struct vm_area_struct *vma, __u64 *start, __u64 *end,
				     __u64 *mm)
{
	return bpf_probe_read_kernel(start, sizeof(*start), &vma->vm_start) ||
	       bpf_probe_read_kernel(end, sizeof(*end), &vma->vm_end) ||
	       bpf_probe_read_kernel(mm, sizeof(*mm), &vma->vm_mm);
}

static int fault_entry(unsigned long error_code, bool user)
{
	__u32 tgid = ml_current_tgid();
	struct fault_inflight *in;
	struct fault_counts *c;

	if (!tracked(tgid))
		return 0;
	c = counts_of(tgid);
	if (!c)
		return 0;
	count_error_code(c, error_code, user);
	in = thread_state();
	if (in)
		in->entry_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(page_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return fault_entry(error_code, true);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(page_fault_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return fault_entry(error_code, false);
}

/*
 * A short name for a VMA, recorded once when its first fault is counted:
 * the file's base name, "[heap]" or "[stack]", else empty (the loader
 * prefers the full name from /proc/PID/maps while the process lives).
 */
static void vma_name(struct vm_area_struct *vma, char *name, int size)
{
	struct mm_struct *mm = BPF_CORE_READ(vma, vm_mm);
	struct file *file = BPF_CORE_READ(vma, vm_file);
	__u64 start = BPF_CORE_READ(vma, vm_start);
	__u64 end = BPF_CORE_READ(vma, vm_end);

	if (file) {
		bpf_probe_read_kernel_str(name, size,
					  BPF_CORE_READ(file, f_path.dentry, d_name.name));
	} else if (ml_vma_is_heap(start, end, mm)) {
		__builtin_memcpy(name, "[heap]", 7);
	} else if (ml_vma_is_stack(start, end, mm)) {
		__builtin_memcpy(name, "[stack]", 8);
	}
}

static void count_vma(__u32 tgid, struct vm_area_struct *vma, bool major)
{
	struct fault_vma_key k = { .tgid = tgid };
	struct fault_vma_val *v, nv = {};

	k.start = BPF_CORE_READ(vma, vm_start);
	k.end = BPF_CORE_READ(vma, vm_end);
	v = bpf_map_lookup_elem(&vma_faults, &k);
	if (!v) {
		vma_name(vma, nv.name, sizeof(nv.name));
		v = ml_lookup_or_init(&vma_faults, &k, &nv);
		if (!v)
			return;
	}
	if (major)
		__sync_fetch_and_add(&v->major, 1);
	else
		__sync_fetch_and_add(&v->minor, 1);
}

/*
 * One completed fault of @tgid: minor or major, latency from the exception
 * entry when there was one, retry if an earlier attempt returned
 * VM_FAULT_RETRY.
 */
static struct fault_counts *fault_done(__u32 tgid, struct fault_inflight *in, bool major)
{
	struct fault_counts *c;

	c = counts_of(tgid);
	if (!c)
		return NULL;
	if (major)
		c->major++;
	else
		c->minor++;
	if (!in)
		return c;
	if (in->retried)
		c->retry++;
	if (in->entry_ns)
		ml_hist_add(major ? c->lat_major : c->lat_minor, FAULTS_LAT_BUCKETS,
			    bpf_ktime_get_ns() - in->entry_ns);
	in->entry_ns = 0;
	in->retried = 0;
	return c;
}

SEC("fexit/handle_mm_fault")
int BPF_PROG(handle_mm_fault_exit, struct vm_area_struct *vma, unsigned long address,
	     unsigned int flags, struct pt_regs *regs, vm_fault_t ret)
{
	__u32 tgid = ml_current_tgid();
	struct fault_inflight *in;
	unsigned int retry = bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_RETRY);
	unsigned int done_unlocked = bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_COMPLETED);
	unsigned int errors = ml_vm_fault_errors();
	struct fault_counts *c;
	bool major;

	if (!tracked(tgid))
		return 0;
	in = thread_state();
	if (ret & (retry | errors)) {
		c = counts_of(tgid);
		if (c && (ret & retry))
			c->retry_returns++;
		else if (c)
			c->errors++;
		if (in && (ret & retry))
			in->retried = 1;
		else if (in)
			in->entry_ns = in->retried = 0;
		return 0;
	}
	/* As mm_account_fault(): a retried fault counts as major. */
	major = (ret & bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_MAJOR)) ||
		(flags & bpf_core_enum_value(enum fault_flag, FAULT_FLAG_TRIED));
	c = fault_done(tgid, in, major);
	if (!c)
		return 0;
	/*
	 * Unless the fault dropped the mmap/VMA lock (VM_FAULT_COMPLETED),
	 * the VMA is still locked by the faulting task: its bounds are stable.
	 */
	if (!(ret & done_unlocked))
		count_vma(tgid, vma, major);
	else
		c->unattributed++;
	return 0;
}

struct perf_fault_ctx {
	__u32 tgid;
	bool major;
	bool found;
	struct fault_inflight *in;
};

static long count_found_vma(struct task_struct *task, struct vm_area_struct *vma,
			    struct perf_fault_ctx *pc)
{
	count_vma(pc->tgid, vma, pc->major);
	pc->found = true;
	if (pc->in)
		pc->in->last_vma = (__u64)vma;
	return 0;
}

/*
 * Is the VMA this thread faulted in last time still the one holding
 * @addr (read_vma(): only if it belongs to our mm and covers @addr now)?
 */
static bool cached_vma(struct perf_fault_ctx *pc, __u64 addr)
{
	struct vm_area_struct *vma;
	__u64 start, end, mm;

	if (!pc->in || !pc->in->last_vma)
		return false;
	vma = (void *)pc->in->last_vma;
	if (read_vma(vma, &start, &end, &mm) || mm != (__u64)bpf_get_current_task_btf()->mm ||
	    addr < start || addr >= end)
		return false;
	count_vma(pc->tgid, vma, pc->major);
	return true;
}

/*
 * A page-faults-min/-maj perf event: mm_account_fault() fires it in the
 * faulting task with the fault address.  The VMA is the thread's cached
 * one when it still covers the address, else bpf_find_vma()'s (a trylock
 * of mmap_lock and, with interrupts off, an irq_work to unlock: costly,
 * so only on a change of VMA).  When that fails the fault is counted,
 * not attributed.
 */
static int perf_fault(struct bpf_perf_event_data *ctx, bool major)
{
	struct perf_fault_ctx pc = {
		.tgid = ml_current_tgid(),
		.major = major,
	};
	struct fault_counts *c;

	if (!tracked(pc.tgid))
		return 0;
	pc.in = thread_state();
	c = fault_done(pc.tgid, pc.in, major);
	if (!c)
		return 0;
	if (cached_vma(&pc, ctx->addr))
		return 0;
	if (!find_vma ||
	    bpf_find_vma(bpf_get_current_task_btf(), ctx->addr, count_found_vma, &pc, 0) ||
	    !pc.found)
		c->unattributed++;
	return 0;
}

SEC("perf_event")
int perf_fault_minor(struct bpf_perf_event_data *ctx)
{
	return perf_fault(ctx, false);
}

SEC("perf_event")
int perf_fault_major(struct bpf_perf_event_data *ctx)
{
	return perf_fault(ctx, true);
}

/* ------------------------------------------------------------------ */
/* Counting mode                                                       */
/* ------------------------------------------------------------------ */

/*
 * CLOCK_MONOTONIC when the programs were attached (set by the loader):
 * a thread started after it has had all its faults under our eyes, so
 * its counters are taken from 0.
 */
__u64 attach_ns = 0;
/* Exception entries of tracked threads whose state could not be created. */
__u64 no_state = 0;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fault_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAULTS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, struct fault_totals);
} totals SEC(".maps");

/* Scratch: a thread's initial state, and the iterator's copy of one. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fault_thread);
} thread_scratch SEC(".maps");

/* mm_lock_seq: an int on 6.4-6.12, a seqcount_t from 6.13 on. */
struct mm_struct___intseq {
	int mm_lock_seq;
} __attribute__((preserve_access_index));

/*
 * A number that changes whenever a writer has held @mm's mmap_lock
 * (mmap_write_unlock() and vma_end_write_all() advance it), so that VMA
 * bounds seen under the same number are still the bounds; 1 (odd: never
 * trusted) where the kernel has no such number (no per-VMA locks: 6.1).
 */
static __always_inline __u32 mm_seq(struct mm_struct *mm)
{
	/* Direct loads (BTF pointers): no helper call on the fault path. */
	if (bpf_core_field_exists(mm->mm_lock_seq))
		return mm->mm_lock_seq.sequence;
	if (bpf_core_field_exists(((struct mm_struct___intseq *)mm)->mm_lock_seq))
		return ((struct mm_struct___intseq *)mm)->mm_lock_seq;
	return 1;
}

/*
 * Classify what @task's counters did since we last looked (@st is its
 * state, or a copy of it when the iterator reads): the growth of
 * min_flt/maj_flt is all counted; if a fault entry was pending, one of
 * the growth is that fault (minor if minor faults grew at all) and goes
 * to its VMA's slot; the rest was charged with no entry (GUP).  An entry
 * with no growth charged nothing.
 */
static __always_inline void settle(struct task_struct *task, struct fault_thread *st)
{
	__u64 min = task->min_flt, maj = task->maj_flt;
	__u64 dmin = min - st->min_seen, dmaj = maj - st->maj_seen;
	__u32 i;
	bool major;

	st->min_seen = min;
	st->maj_seen = maj;
	st->t.minor += dmin;
	st->t.major += dmaj;
	if (st->pending) {
		st->pending = 0;
		if (!dmin && !dmaj) {
			st->t.not_charged++;
			return;
		}
		major = !dmin;
		if (dmin && dmaj)
			st->t.mixed++;
		if (major)
			dmaj--;
		else
			dmin--;
		i = st->pend_slot;
		if (i) {
			i = (i - 1) & (FAULTS_VMA_SLOTS - 1);
			if (major)
				st->slot[i].major++;
			else
				st->slot[i].minor++;
		} else {
			st->t.unattributed++;
		}
	}
	st->t.populated += dmin + dmaj;
}

static void add_totals(struct fault_totals *dst, const struct fault_totals *src)
{
	__sync_fetch_and_add(&dst->minor, src->minor);
	__sync_fetch_and_add(&dst->major, src->major);
	__sync_fetch_and_add(&dst->populated, src->populated);
	__sync_fetch_and_add(&dst->not_charged, src->not_charged);
	__sync_fetch_and_add(&dst->mixed, src->mixed);
	__sync_fetch_and_add(&dst->unattributed, src->unattributed);
	__sync_fetch_and_add(&dst->read, src->read);
	__sync_fetch_and_add(&dst->write, src->write);
	__sync_fetch_and_add(&dst->exec, src->exec);
	__sync_fetch_and_add(&dst->user, src->user);
	__sync_fetch_and_add(&dst->kernel, src->kernel);
	__sync_fetch_and_add(&dst->notpresent, src->notpresent);
	__sync_fetch_and_add(&dst->protection, src->protection);
}

/* Move a slot's counts to "vma_faults" (its entry exists: made at lookup). */
static void flush_slot(__u32 tgid, struct fault_vma_slot *s)
{
	struct fault_vma_key k = { .tgid = tgid, .start = s->start, .end = s->end };
	struct fault_vma_val *v, nv = {};

	if (!s->minor && !s->major)
		return;
	v = ml_lookup_or_init(&vma_faults, &k, &nv);
	if (v) {
		__sync_fetch_and_add(&v->minor, s->minor);
		__sync_fetch_and_add(&v->major, s->major);
	}
	s->minor = s->major = 0;
}

/* Move everything @st holds to the shared maps. */
static void flush_thread(struct fault_thread *st)
{
	struct fault_totals zero = {}, *t;
	__u32 tgid = st->tgid;
	int i;

	t = ml_lookup_or_init(&totals, &tgid, &zero);
	if (t)
		add_totals(t, &st->t);
	__builtin_memset(&st->t, 0, sizeof(st->t));
	for (i = 0; i < FAULTS_VMA_SLOTS; i++)
		flush_slot(tgid, &st->slot[i]);
}

/*
 * The state of @task, created on its first fault: counters taken from 0
 * for a thread started after attach, else from their values now.
 */
static struct fault_thread *thread_of(struct task_struct *task, bool create)
{
	struct fault_thread *st, *init;

	st = bpf_task_storage_get(&threads, task, 0, 0);
	if (st || !create)
		return st;
	init = ml_percpu_value(&thread_scratch);
	if (!init)
		return NULL;
	__builtin_memset(init, 0, sizeof(*init));
	init->tgid = task->tgid;
	init->tid = task->pid;
	if (task->start_time < attach_ns) {
		init->min_seen = task->min_flt;
		init->maj_seen = task->maj_flt;
	}
	st = bpf_task_storage_get(&threads, task, init, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		__sync_fetch_and_add(&no_state, 1);
	return st;
}

struct slot_ctx {
	struct fault_thread *st;
	__u64 mm;
	__u32 seq;
	__u32 found; /* slot + 1 */
};

/* bpf_find_vma()'s callback: @vma (locked by it) into a slot. */
static long fill_slot(struct task_struct *task, struct vm_area_struct *vma, struct slot_ctx *sc)
{
	struct fault_thread *st = sc->st;
	struct fault_vma_key k = { .tgid = st->tgid };
	struct fault_vma_val nv = {};
	struct fault_vma_slot *s;
	__u32 i;

	k.start = vma->vm_start;
	k.end = vma->vm_end;
	/* The "vma_faults" entry, with the name, while the VMA is locked. */
	if (!bpf_map_lookup_elem(&vma_faults, &k)) {
		vma_name(vma, nv.name, sizeof(nv.name));
		bpf_map_update_elem(&vma_faults, &k, &nv, BPF_NOEXIST);
	}
	for (i = 0; i < FAULTS_VMA_SLOTS; i++) {
		s = &st->slot[i];
		if (s->mm == sc->mm && s->start == k.start && s->end == k.end)
			goto fill;
	}
	i = st->next_slot++ & (FAULTS_VMA_SLOTS - 1);
	s = &st->slot[i];
	flush_slot(st->tgid, s);
	s->mm = sc->mm;
	s->start = k.start;
	s->end = k.end;
fill:
	s->vma = (__u64)vma;
	s->seq = sc->seq;
	sc->found = i + 1;
	return 0;
}

/*
 * Is slot @s still the VMA of [start, end)?  Without a change of
 * mm_lock_seq no writer has touched the mm's VMAs.  Otherwise read the
 * VMA again (read_vma()): trusted only if it still has our mm and the
 * same bounds.
 */
static __always_inline bool slot_valid(struct fault_vma_slot *s, __u32 seq)
{
	__u64 start, end, mm;

	if (seq == s->seq && !(seq & 1))
		return true;
	if (read_vma((void *)s->vma, &start, &end, &mm))
		return false;
	if (start != s->start || end != s->end || mm != s->mm)
		return false;
	s->seq = seq;
	return true;
}

/* The slot (+ 1) of the VMA holding @addr; 0 if none. */
static __always_inline __u32 vma_slot(struct task_struct *task, struct fault_thread *st, __u64 addr)
{
	struct mm_struct *mm = task->mm;
	struct slot_ctx sc = { .st = st, .mm = (__u64)mm };
	struct fault_vma_slot *s;
	__u32 i;

	if (!mm)
		return 0;
	sc.seq = mm_seq(mm);
	for (i = 0; i < FAULTS_VMA_SLOTS; i++) {
		s = &st->slot[i];
		if (s->mm == sc.mm && addr >= s->start && addr < s->end && slot_valid(s, sc.seq))
			return i + 1;
	}
	if (!find_vma || bpf_find_vma(task, addr, fill_slot, &sc, 0))
		return 0;
	return sc.found;
}

/*
 * An exception entry of a tracked thread: classify its previous entry,
 * count this one's error code, find its VMA (cached) and leave it pending.
 * Faults on kernel addresses are not the process's memory: skipped.
 */
static __always_inline int count_entry(unsigned long address, unsigned long error_code, bool user)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fault_thread *st;

	if (targ_tgid && task->tgid != targ_tgid)
		return 0;
	if ((long)address < 0)
		return 0;
	st = thread_of(task, true);
	if (!st)
		return 0;
	settle(task, st);
	count_error_code(&st->t, error_code, user);
	st->pend_slot = vma_slot(task, st, address);
	st->pending = 1;
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(count_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return count_entry(address, error_code, true);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(count_fault_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return count_entry(address, error_code, false);
}

/*
 * A thread leaves: flush it.  sched_process_exit fires before exit_mm()
 * on newer kernels (6.16+), after it on older ones; faults of exit_mm()
 * itself (clear_child_tid, the robust futex list) are flushed when the
 * task is freed.
 */
static int flush_task(struct task_struct *task)
{
	struct fault_thread *st = thread_of(task, false);

	if (!st)
		return 0;
	settle(task, st);
	flush_thread(st);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(count_exit, struct task_struct *task)
{
	return flush_task(task);
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(count_free, struct task_struct *task)
{
	return flush_task(task);
}

/*
 * Read: one struct fault_thread per live thread with state, settled on a
 * copy (the thread's own state is only ever changed by the thread, its
 * exit and its free).  The loader adds them to "totals" and "vma_faults".
 */
SEC("iter/task")
int count_read(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct fault_thread *st, *copy;

	if (!task || (targ_tgid && task->tgid != targ_tgid))
		return 0;
	st = bpf_task_storage_get(&threads, task, 0, 0);
	copy = ml_percpu_value(&thread_scratch);
	if (!st || !copy)
		return 0;
	__builtin_memcpy(copy, st, sizeof(*copy));
	settle(task, copy);
	bpf_seq_write(ctx->meta->seq, copy, sizeof(*copy));
	return 0;
}

/* At attach: the threads alive now start from their counters of now. */
SEC("iter/task")
int count_seed(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (task && (!targ_tgid || task->tgid == targ_tgid))
		thread_of(task, true);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
