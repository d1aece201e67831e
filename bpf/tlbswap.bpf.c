// SPDX-License-Identifier: GPL-2.0
/*
 * tlbswap: TLB flushes and swap traffic, system-wide and for one tgid,
 * with the module's definitions (module/tlb.c, module/swap.c).
 *
 *  - tlb_flush (tp_btf, x86 tlb:tlb_flush): per CPU by reason, pages of
 *    ranged flushes, flushes of everything (TLB_FLUSH_ALL).  A flush
 *    counts for the tracked process when one of its threads is current
 *    (it initiated the flush, received the IPI, or is being switched away
 *    from), as in the module.
 *  - swap device reads: fentry on the first of zswap_folio_swapin (6.12:
 *    reached only when swap_read_folio() reads the device, like PSWPIN),
 *    swap_readpage (6.1), swap_read_folio (any other kernel: also counts
 *    zswap and zero-map hits) that the kernel lets us attach to.
 *  - swap device writes: fentry/__swap_writepage.
 *  - swapin_major, swapcache_minor: fexit/do_swap_page on a real swap
 *    entry, by VM_FAULT_MAJOR, not counting retries and errors.
 * Reads and writes count calls: a large folio counts once (see docs/bpf.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "tlbswap.h"
#include "memlens.bpf.h"

#define SWP_TYPE_SHIFT 59

const volatile __u32 targ_tgid;
const volatile __u32 swp_max_type = 26;

struct counts_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tlb_counts);
};

struct counts_map tlb_all SEC(".maps");
struct counts_map tlb_tgid SEC(".maps");

struct swap_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct swap_counts);
};

struct swap_map swap_all SEC(".maps");
struct swap_map swap_tgid SEC(".maps");

static bool current_is_target(void)
{
	struct task_struct *t;

	if (!targ_tgid || (ml_current_tgid()) != targ_tgid)
		return false;
	t = bpf_get_current_task_btf();
	return t->mm; /* not a kernel thread borrowing the tgid */
}

static void count_flush(void *map, int reason, unsigned long pages)
{
	struct tlb_counts *c = ml_percpu_value(map);

	if (!c)
		return;
	if (reason >= 0 && reason < TLB_REASONS)
		c->reason[reason]++;
	if (pages == TLB_FLUSH_ALL_PAGES)
		c->full_flushes++;
	else
		c->pages_flushed += pages;
}

SEC("tp_btf/tlb_flush")
int BPF_PROG(tlb_flush, int reason, unsigned long pages)
{
	count_flush(&tlb_all, reason, pages);
	if (current_is_target())
		count_flush(&tlb_tgid, reason, pages);
	return 0;
}

/*
 * One swap event: the counter at @off (offsetof(struct swap_counts, ...))
 * of the system-wide counters, and of the tracked process's when one of
 * its threads is current.  Inlined, so that @off is a constant offset
 * into the map value for the verifier.
 */
_Static_assert(sizeof(struct swap_counts) % sizeof(__u64) == 0, "swap_counts: __u64s only");

static __always_inline int swap_event(unsigned long off)
{
	__u64 *c = ml_percpu_value(&swap_all);

	if (c)
		c[off / sizeof(*c)]++;
	if (current_is_target()) {
		c = ml_percpu_value(&swap_tgid);
		if (c)
			c[off / sizeof(*c)]++;
	}
	return 0;
}

SEC("fentry/zswap_folio_swapin")
int BPF_PROG(swap_read_zswap)
{
	return swap_event(offsetof(struct swap_counts, swapin));
}

SEC("fentry/swap_readpage")
int BPF_PROG(swap_read_page)
{
	return swap_event(offsetof(struct swap_counts, swapin));
}

SEC("fentry/swap_read_folio")
int BPF_PROG(swap_read_folio)
{
	return swap_event(offsetof(struct swap_counts, swapin));
}

SEC("fentry/__swap_writepage")
int BPF_PROG(swap_write)
{
	return swap_event(offsetof(struct swap_counts, swapout));
}

SEC("fexit/do_swap_page")
int BPF_PROG(do_swap_page_exit, struct vm_fault *vmf, vm_fault_t ret)
{
	unsigned int skip = bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_RETRY) |
			    ml_vm_fault_errors();
	__u64 pte = BPF_CORE_READ(vmf, orig_pte.pte);

	/* do_swap_page() also takes migration, device and marker entries. */
	if ((pte >> SWP_TYPE_SHIFT) >= swp_max_type || (ret & skip))
		return 0;
	if (ret & bpf_core_enum_value(enum vm_fault_reason, VM_FAULT_MAJOR))
		return swap_event(offsetof(struct swap_counts, swapin_major));
	return swap_event(offsetof(struct swap_counts, swapcache_minor));
}

char LICENSE[] SEC("license") = "GPL";
