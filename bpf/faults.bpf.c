// SPDX-License-Identifier: GPL-2.0
/*
 * faults: count user page faults per tgid from the x86
 * exceptions:page_fault_user tracepoint (tp_btf: works without kprobes
 * and without fentry, which the host kernel refuses).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "faults.h"

/* Filter set before load: count only this tgid (0: every tgid). */
const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FAULTS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, struct fault_counts);
} counts SEC(".maps");

SEC("tp_btf/page_fault_user")
int BPF_PROG(page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	static const struct fault_counts zero;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fault_counts *c;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	c = bpf_map_lookup_elem(&counts, &tgid);
	if (!c) {
		bpf_map_update_elem(&counts, &tgid, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counts, &tgid);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->user, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
