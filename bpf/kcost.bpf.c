// SPDX-License-Identifier: GPL-2.0
/*
 * kcost: the kernel cost of one process's memory management, from
 * tracepoints only (no fentry, kprobes or uprobes).
 *
 *  - sys_enter/sys_exit (tp_btf, or raw_tp where BTF lacks them): per
 *    memory syscall (mmap, munmap, mremap, brk, mprotect, madvise by
 *    advice) calls, errors, bytes and the time from entry to exit as a
 *    log2 histogram of ns.
 *  - tlb_flush: the flushes that fire on a thread while it is inside one
 *    of those calls, by reason and pages, charged to the call; but the
 *    flush IPIs it receives (remote_shootdown, remote_wrong_cpu) are
 *    someone else's flush and are counted apart, in or out of a call,
 *    and the flushes it makes outside the calls (in page faults) too.
 *  - page_fault_user/_kernel (user addresses): faults on pages the process
 *    gave back (munmap, MADV_DONTNEED, MADV_FREE, a brk shrink) are
 *    refaults, bucketed by the time since the give-back; other
 *    not-present faults are first touches, faults on present pages are
 *    protection faults.  Given-back pages are kept as a bit per page in
 *    one map entry per 2 MiB region (struct kc_region).
 * x86-64 only (syscall numbers, pt_regs, the exception tracepoints).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "kcost.h"
#include "memlens.bpf.h"

#define NR_MMAP     9
#define NR_MPROTECT 10
#define NR_MUNMAP   11
#define NR_BRK      12
#define NR_MREMAP   25
#define NR_MADVISE  28

#define MADV_FREE_     8
#define MADV_DONTNEED_ 4

#define PAGE_SHIFT_ 12
#define PF_PROT     1 /* X86_PF_PROT: the page was present */

/* Regions one give-back may mark (more: counted as untracked). */
#define KC_MAX_MARK 4096

const volatile __u32 targ_tgid;
/* --timeline: events into tl_ring (sized by the loader only then) */
const volatile __u32 timeline;

/* events the full ring refused (__sync add: any CPU) */
__u64 tl_dropped;

struct inflight {
	__u64 start_ns;
	__u64 arg0, arg1, arg2;
	__u64 brk0; /* mm->brk at entry */
	__u32 call;
	__u32 tlb; /* flushes charged to it so far (for --timeline) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KC_CALLS);
	__type(key, __u32);
	__type(value, struct kc_call_stats);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kc_fault_stats);
} faults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KC_MAX_REGIONS);
	__type(key, __u64);
	__type(value, struct kc_region);
} regions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* the loader sets KC_TL_RING_BYTES for --timeline */
} tl_ring SEC(".maps");

/* A --timeline event, or a count in tl_dropped when the ring is full. */
static __always_inline struct kc_event *tl_reserve(__u16 kind, __u16 what, __u64 t)
{
	struct kc_event *e = bpf_ringbuf_reserve(&tl_ring, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&tl_dropped, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->what = what;
	e->t = t;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	return e;
}

/* No wakeup: the CLI consumes the ring on its own clock (every tick). */
static __always_inline void tl_submit(struct kc_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * Is current a thread of the target?  No test of current->mm: only user
 * threads of the process (io_uring and vhost workers included) share its
 * tgid, and they fault and make syscalls with its mm.  Two helper calls
 * fewer per fault (the overhead benchmark, docs/benchmarks.md).
 */
static __always_inline bool is_target(void)
{
	return ml_current_tgid() == targ_tgid;
}

static __always_inline __u32 tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline int on_enter(struct pt_regs *regs, long id)
{
	struct inflight f = {};
	struct task_struct *t;
	__u32 k;

	switch (id) {
	case NR_MMAP:
		f.call = KC_MMAP;
		break;
	case NR_MUNMAP:
		f.call = KC_MUNMAP;
		break;
	case NR_MREMAP:
		f.call = KC_MREMAP;
		break;
	case NR_BRK:
		f.call = KC_BRK;
		break;
	case NR_MPROTECT:
		f.call = KC_MPROTECT;
		break;
	case NR_MADVISE:
		f.call = KC_MADVISE;
		break;
	default:
		return 0;
	}
	if (!is_target())
		return 0;
	f.arg0 = BPF_CORE_READ(regs, di);
	f.arg1 = BPF_CORE_READ(regs, si);
	f.arg2 = BPF_CORE_READ(regs, dx);
	if (f.call == KC_MADVISE)
		f.call = f.arg2 < KC_ADVICES ? KC_MADVISE + f.arg2 : KC_MADV_OTHER;
	if (f.call == KC_BRK) {
		t = (struct task_struct *)bpf_get_current_task();
		f.brk0 = BPF_CORE_READ(t, mm, brk);
	}
	k = tid();
	f.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &k, &f, BPF_ANY);
	return 0;
}

struct mark_ctx {
	__u64 start, end; /* page-aligned */
	__u64 now;
	__u64 untracked;
};

/* Mark the pages of [start, end) that lie in region @i (from start's). */
static long mark_region(__u32 i, void *data)
{
	struct mark_ctx *m = data;
	__u64 key = (m->start >> KC_REGION_SHIFT) + i;
	__u64 base = key << KC_REGION_SHIFT, lo, hi, w, first, last, mask;
	struct kc_region zero = {}, *r;

	lo = m->start > base ? (m->start - base) >> PAGE_SHIFT_ : 0;
	hi = m->end < base + (1UL << KC_REGION_SHIFT) ? (m->end - base) >> PAGE_SHIFT_ : 512;
	if (lo >= hi)
		return 1;
	r = ml_lookup_or_init(&regions, &key, &zero);
	if (!r) {
		m->untracked += (hi - lo) << PAGE_SHIFT_;
		return 0;
	}
	for (w = 0; w < KC_WORDS; w++) {
		first = lo > w * 64 ? lo - w * 64 : 0;
		last = hi < (w + 1) * 64 ? hi - w * 64 : 64;
		if (first >= last)
			continue;
		mask = last - first == 64 ? ~0ULL : ((1ULL << (last - first)) - 1) << first;
		r->bits[w] |= mask;
		r->ts[w] = m->now;
	}
	return 0;
}

/* Returns the bytes given back; @now is the mark (the CALL event's t). */
static __always_inline __u64 give_back(struct kc_fault_stats *fs, __u64 start, __u64 len, __u64 now)
{
	struct mark_ctx m = {};
	__u64 n;

	m.start = start & ~((1UL << PAGE_SHIFT_) - 1);
	m.end = (start + len + (1UL << PAGE_SHIFT_) - 1) & ~((1UL << PAGE_SHIFT_) - 1);
	if (m.end <= m.start)
		return 0;
	fs->given_back += m.end - m.start;
	n = ((m.end - 1) >> KC_REGION_SHIFT) - (m.start >> KC_REGION_SHIFT) + 1;
	if (n > KC_MAX_MARK) {
		fs->untracked += m.end - m.start;
		return m.end - m.start;
	}
	m.now = now;
	bpf_loop(n, mark_region, &m, 0);
	fs->untracked += m.untracked;
	return m.end - m.start;
}

static __always_inline int on_exit(long ret)
{
	struct kc_fault_stats *fs;
	struct kc_call_stats *c;
	struct inflight *f;
	struct kc_event *e;
	__u64 dt, bytes = 0, brk1, now, given = 0;
	__u32 k = tid(), call, error = 0;

	if (ml_current_tgid() != targ_tgid)
		return 0;
	f = bpf_map_lookup_elem(&inflight, &k);
	if (!f)
		return 0;
	now = bpf_ktime_get_ns();
	dt = now - f->start_ns;
	call = f->call;
	c = bpf_map_lookup_elem(&calls, &call);
	fs = ml_percpu_value(&faults);
	if (!c || !fs)
		goto out;
	c->calls++;
	c->ns += dt;
	ml_hist_add(c->hist, KC_HIST_SLOTS, dt);
	if (call == KC_BRK) {
		/* brk returns the new break (the old one on failure). */
		brk1 = ret;
		bytes = brk1 > f->brk0 ? brk1 - f->brk0 : f->brk0 - brk1;
		if (brk1 < f->brk0)
			given = give_back(fs, brk1, f->brk0 - brk1, now);
		c->bytes += bytes;
		goto out;
	}
	if (ret < 0 && ret > -4096) {
		c->errors++;
		error = 1;
		bytes = 0;
		goto out;
	}
	bytes = call == KC_MREMAP ? f->arg2 : f->arg1;
	c->bytes += bytes;
	if (call == KC_MUNMAP || call == KC_MADVISE + MADV_DONTNEED_ ||
	    call == KC_MADVISE + MADV_FREE_)
		given = give_back(fs, f->arg0, f->arg1, now);
out:
	if (timeline && c && fs) {
		e = tl_reserve(KC_EV_CALL, (__u16)call, now);
		if (e) {
			e->t0 = f->start_ns;
			e->addr = f->arg0;
			e->bytes = bytes;
			e->given = given;
			e->tlb = f->tlb;
			e->error = error;
			tl_submit(e);
		}
	}
	bpf_map_delete_elem(&inflight, &k);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf, struct pt_regs *regs, long id)
{
	return on_enter(regs, id);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter_raw, struct pt_regs *regs, long id)
{
	return on_enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

static __always_inline int on_flush(int reason, unsigned long pages)
{
	struct kc_call_stats *c;
	struct inflight *f;
	__u32 k, call;

	if (ml_current_tgid() != targ_tgid)
		return 0;
	if (TLB_REASON_RECEIVED(reason)) {
		struct kc_fault_stats *fs = ml_percpu_value(&faults);

		if (fs && reason == TLB_REASON_REMOTE_SHOOTDOWN)
			fs->tlb_remote++;
		else if (fs)
			fs->tlb_other_mm++;
		if (timeline) {
			struct kc_event *e =
				tl_reserve(KC_EV_TLB_RECV, (__u16)reason, bpf_ktime_get_ns());

			if (e)
				tl_submit(e);
		}
		return 0;
	}
	k = tid();
	f = bpf_map_lookup_elem(&inflight, &k);
	if (!f) {
		struct kc_fault_stats *fs = ml_percpu_value(&faults);

		if (fs && reason >= 0 && reason < TLB_REASONS)
			fs->tlb_outside[reason]++;
		return 0;
	}
	call = f->call;
	c = bpf_map_lookup_elem(&calls, &call);
	if (!c)
		return 0;
	if (reason >= 0 && reason < TLB_REASONS)
		c->tlb[reason]++;
	f->tlb++;
	if (pages == TLB_FLUSH_ALL_PAGES)
		c->tlb_full++;
	else
		c->tlb_pages += pages;
	return 0;
}

SEC("tp_btf/tlb_flush")
int BPF_PROG(tlb_flush_btf, int reason, unsigned long pages)
{
	return on_flush(reason, pages);
}

SEC("raw_tp/tlb_flush")
int BPF_PROG(tlb_flush_raw, int reason, unsigned long pages)
{
	return on_flush(reason, pages);
}

static __always_inline __u32 age_bucket(__u64 ns)
{
	if (ns < 1000000ULL)
		return 0;
	if (ns < 10000000ULL)
		return 1;
	if (ns < 100000000ULL)
		return 2;
	if (ns < 1000000000ULL)
		return 3;
	return 4;
}

static __always_inline int on_fault(unsigned long address, unsigned long error_code)
{
	struct kc_fault_stats *fs;
	struct kc_region *r;
	struct kc_event *e;
	__u64 key, bit, w, b, now, t0;

	if ((long)address < 0 || !is_target()) /* a kernel address */
		return 0;
	fs = ml_percpu_value(&faults);
	if (!fs)
		return 0;
	if (error_code & PF_PROT) {
		fs->protection++;
		return 0;
	}
	key = address >> KC_REGION_SHIFT;
	r = bpf_map_lookup_elem(&regions, &key);
	w = (address >> (PAGE_SHIFT_ + 6)) & (KC_WORDS - 1);
	bit = 1ULL << ((address >> PAGE_SHIFT_) & 63);
	if (!r || !(r->bits[w] & bit)) {
		fs->first_touch++;
		return 0;
	}
	r->bits[w] &= ~bit;
	now = bpf_ktime_get_ns();
	t0 = r->ts[w];
	b = age_bucket(now - t0);
	barrier_var(b);
	if (b < KC_AGE_BUCKETS)
		fs->refault[b]++;
	if (timeline) {
		e = tl_reserve(KC_EV_REFAULT, (__u16)b, now);
		if (e) {
			e->t0 = t0;
			e->addr = address;
			tl_submit(e);
		}
	}
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user_btf, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, error_code);
}

SEC("raw_tp/page_fault_user")
int BPF_PROG(fault_user_raw, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, error_code);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(fault_kernel_btf, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return on_fault(address, error_code);
}

SEC("raw_tp/page_fault_kernel")
int BPF_PROG(fault_kernel_raw, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return on_fault(address, error_code);
}

char LICENSE[] SEC("license") = "GPL";
