/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: fault, TLB-flush and swap accounting (faults.c, tlb.c, swap.c,
 * acct.c, tp.c).
 */
#ifndef _MEMLENS_ACCT_H
#define _MEMLENS_ACCT_H

#include <linux/types.h>

/* Kernel tracepoints by name (their symbols are not exported). */
int memlens_tp_register(const char *name, void *probe, void *data);
void memlens_tp_unregister(const char *name, void *probe, void *data);

struct kretprobe;

int memlens_faults_init(void);
void memlens_faults_exit(void);
void memlens_faults_reset(void);

int memlens_tlb_init(void);
void memlens_tlb_exit(void);
void memlens_tlb_reset(void);

int memlens_swap_init(void);
struct kretprobe *memlens_swap_kretprobe(void);
void memlens_swap_exit(void);
void memlens_swap_reset(void);

int memlens_parse_bit(const char __user *ubuf, size_t count, int *bit);
int memlens_acct_init(void);
void memlens_acct_exit(void);

#endif /* _MEMLENS_ACCT_H */
