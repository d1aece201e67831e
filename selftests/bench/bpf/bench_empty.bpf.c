// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of any fault-counting BPF program: empty programs on the
 * exceptions tracepoints, attached by bpf_bench's "empty program" row.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/page_fault_user")
int BPF_PROG(empty_user)
{
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(empty_kernel)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
