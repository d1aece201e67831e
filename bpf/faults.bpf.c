// SPDX-License-Identifier: GPL-2.0
/*
 * faults: page faults per tgid, attributed to VMAs, with latency.
 *
 * Two kinds of attach point, chosen by the loader (userspace/mlbpf/faults.c) from what
 * the running kernel accepts:
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
	if (user)
		c->user++;
	else
		c->kernel++;
	if (error_code & X86_PF_WRITE)
		c->write++;
	else if (error_code & X86_PF_INSTR)
		c->exec++;
	else
		c->read++;
	if (error_code & X86_PF_PROT)
		c->protection++;
	else
		c->notpresent++;
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
 * @addr?  VMAs are freed by RCU and their slab is type-safe, so a stale
 * pointer reads as some VMA or fails the read; it is only trusted if it
 * belongs to our mm and covers @addr now.
 */
static bool cached_vma(struct perf_fault_ctx *pc, __u64 addr)
{
	struct vm_area_struct *vma;
	__u64 start, end;
	void *mm;

	if (!pc->in || !pc->in->last_vma)
		return false;
	vma = (void *)pc->in->last_vma;
	if (bpf_probe_read_kernel(&start, sizeof(start), &vma->vm_start) ||
	    bpf_probe_read_kernel(&end, sizeof(end), &vma->vm_end) ||
	    bpf_probe_read_kernel(&mm, sizeof(mm), &vma->vm_mm) ||
	    mm != bpf_get_current_task_btf()->mm || addr < start || addr >= end)
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

char LICENSE[] SEC("license") = "GPL";
