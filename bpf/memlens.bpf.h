/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every BPF program of memlens shares (the idea of bcc libbpf-tools'
 * maps.bpf.h and bits.bpf.h): map entries created on first use, per-CPU
 * scratch values, log2 histogram slots, the current tgid, the vm_fault_t
 * error bits and the heap and stack tests of the module's vmas file.
 * Included after vmlinux.h by every program of bpf/; nothing here is a
 * program or a map of its own.
 */
#ifndef MEMLENS_BPF_H
#define MEMLENS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* The process (thread group) of the current task. */
static __always_inline __u32 ml_current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/*
 * The value of @key in the hash @map, created from @init if it is not
 * there yet.  BPF_NOEXIST: when another CPU created it in between, its
 * entry is kept and returned.  NULL when @map is full.
 */
static __always_inline void *ml_lookup_or_init(void *map, const void *key, const void *init)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/*
 * This CPU's value in a one-entry BPF_MAP_TYPE_PERCPU_ARRAY: per-CPU
 * counters, or a zeroed scratch value too big for the BPF stack.
 */
static __always_inline void *ml_percpu_value(void *map)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(map, &zero);
}

/*
 * floor(log2(v)) for v > 0: a binary search over shifts of 32, 16, ... 1
 * (unrolled: no loop for the verifier).
 */
static __always_inline __u32 ml_log2_u64(__u64 v)
{
	__u32 r = 0, s;
	int i;

#pragma unroll
	for (i = 5; i >= 0; i--) {
		s = (v >> (1U << i)) ? 1U << i : 0;
		v >>= s;
		r |= s;
	}
	return r;
}

/*
 * Count @v in the log2 histogram @hist of @nslots slots: slot 0 holds 0,
 * slot i holds [2^(i-1), 2^i) (fls64(v)), the last slot everything above.
 */
static __always_inline void ml_hist_add(__u64 *hist, __u32 nslots, __u64 v)
{
	__u32 slot = v ? ml_log2_u64(v) + 1 : 0;

	if (slot >= nslots)
		slot = nslots - 1;
	barrier_var(slot); /* 6.1's verifier needs the bound it checks */
	if (slot < nslots)
		hist[slot]++;
}

/*
 * The vm_fault_t bits of a fault that did not complete (OOM, SIGBUS,
 * SIGSEGV, HWPOISON, FALLBACK), as this kernel numbers them (CO-RE: the
 * values moved between kernels).
 */
static __always_inline unsigned int ml_vm_fault_errors(void)
{
	return bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_OOM) |
	       bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_SIGBUS) |
	       bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_SIGSEGV) |
	       bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_HWPOISON) |
	       bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_HWPOISON_LARGE) |
	       bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_FALLBACK);
}

/*
 * The module's (and /proc/PID/maps') tests for "[heap]" and "[stack]" on
 * the anonymous VMA [@start, @end) of @mm.  BPF_CORE_READ: @mm may come
 * from a tracing argument (faults) or an iterator (pgwalk).
 */
static __always_inline bool ml_vma_is_heap(__u64 start, __u64 end, struct mm_struct *mm)
{
	return start <= BPF_CORE_READ(mm, brk) && end >= BPF_CORE_READ(mm, start_brk);
}

static __always_inline bool ml_vma_is_stack(__u64 start, __u64 end, struct mm_struct *mm)
{
	__u64 stack = BPF_CORE_READ(mm, start_stack);

	return start <= stack && end >= stack;
}

#endif /* MEMLENS_BPF_H */
