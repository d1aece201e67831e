/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal helpers of libmlbpf's loaders (not part of its API: mlbpf.h).
 */
#ifndef MLBPF_COMMON_H
#define MLBPF_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/types.h>

#include "mlbpf.h"

void ml_bpf_init(void);
int ml_bpf_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ml_bpf_fail_load(int err, const char *what);
bool ml_bpf_have_btf(void);
int ml_kernel_version(void);
bool ml_bpf_have_attach(const char *name, enum bpf_attach_type type);
/* MAX_SWAPFILES and SWP_MIGRATION_READ of the running kernel. */
void ml_swap_layout(__u32 *max_type, __u32 *migration_first);
bool ml_bpf_can_trace(const char *func, enum bpf_attach_type type);
/* The address of @sym in /proc/kallsyms, 0 if absent or hidden. */
__u64 ml_kallsyms_addr(const char *sym);

struct bpf_program;
union bpf_iter_link_info;
int ml_bpf_run_iter(struct bpf_program *prog, union bpf_iter_link_info *linfo,
		    void (*rec)(const void *, void *), size_t rec_size, void *ctx);

#endif /* MLBPF_COMMON_H */
