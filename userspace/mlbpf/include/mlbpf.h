/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmlbpf (userspace/mlbpf, built to build/lib/libmlbpf.a): memlens' BPF
 * loaders, a C API over the programs in bpf/, separate from any printing.
 * The CLI, the tests and the benchmarks link it; this is its one public
 * header (the types it shares with the BPF programs are in bpf/: faults.h,
 * pgwalk.h, tlbswap.h, kcost.h).
 *
 * Every loader probes what the running kernel offers, loads only the
 * programs that can attach there (bpf_program__set_autoload) and says in
 * ml_*_path() which attach points it chose.  Functions return 0 or a
 * negative errno; a human-readable reason for the last failure is in
 * ml_bpf_error().
 */
#ifndef MLBPF_H
#define MLBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "faults.h"
#include "pgwalk.h"
#include "tlbswap.h"
#include "kcost.h"

struct bpf_object;

/* --- shared (common.c) --- */

/* Why the last loader call failed, one line without "memlens: ". */
const char *ml_bpf_error(void);
/* Show libbpf's own messages on stderr (off by default). */
void ml_bpf_set_verbose(bool verbose);
/* May this process load and attach tracing programs (CAP_BPF+PERFMON or SYS_ADMIN)? */
bool ml_bpf_privileged(void);
/* This process's effective capabilities (CapEff of /proc/self/status; 0 if unreadable). */
unsigned long long ml_bpf_cap_eff(void);

/* --- kernel features the programs use (features.c) --- */

enum ml_bpf_feat {
	ML_FEAT_ITER_TASK_VMA, /* iter/task_vma: the page-table walk */
	ML_FEAT_BPF_LOOP,      /* bpf_loop(): the walk's loop */
	ML_FEAT_ITER_TASK_PID, /* iterators bound to one task (6.1+) */
	ML_FEAT_KALLSYMS_POB,  /* page_offset_base in kallsyms */
	ML_FEAT_SPECIAL_NAMES, /* vm_special_mapping names read in BPF */
	ML_FEAT_TP_PAGE_FAULT, /* tp_btf exceptions:page_fault_user/_kernel */
	ML_FEAT_FEXIT_FAULT,   /* fexit/handle_mm_fault */
	ML_FEAT_FIND_VMA,      /* bpf_find_vma(): per-VMA faults on perf events */
	ML_FEAT_TP_TLB_FLUSH,  /* tp_btf tlb:tlb_flush */
	ML_FEAT_SWAP_IN,       /* fentry on a swap-in function */
	ML_FEAT_SWAP_OUT,      /* fentry/__swap_writepage */
	ML_FEAT_SWAP_FAULT,    /* fexit/do_swap_page */
	ML_FEAT_COUNT
};

struct ml_bpf_feat_info {
	const char *name;    /* as MEMLENS_BPF_MASK and the reports name it */
	const char *kernels; /* first kernel version that has it */
	const char *gives;   /* what memlens measures with it */
	const char *without; /* what memlens does without it */
};

const struct ml_bpf_feat_info *ml_bpf_feat_info(enum ml_bpf_feat f);
/* The feature called @name, or -ENOENT. */
int ml_bpf_feat_by_name(const char *name);
/*
 * Does the running kernel offer @f (and MEMLENS_BPF_MASK not mask it)?
 * Probed once; a loader that asks marks the feature as used by this run.
 */
bool ml_bpf_feat_have(enum ml_bpf_feat f);
/* Record that @f is lost, with the reason (a refused trial load). */
void ml_bpf_feat_lose(enum ml_bpf_feat f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Why @f is lost, or NULL if it is not (or was never asked about). */
const char *ml_bpf_feat_why(enum ml_bpf_feat f);
bool ml_bpf_feat_used(enum ml_bpf_feat f);
/* The features used by this run's loaders and lost: count, ids in @out. */
int ml_bpf_losses(enum ml_bpf_feat *out, int max);
/* One line per loss on @f: "CMD: without NAME (WHY): GIVES lost; WITHOUT". */
void ml_bpf_print_losses(FILE *f, const char *cmd);
/* Forget every probe result (tests; memlens features). */
void ml_bpf_feat_forget(void);

/*
 * The run time and runs of every loaded program of @obj, as counted while
 * bpf_enable_stats(BPF_STATS_RUN_TIME) is held (0 otherwise).
 */
void ml_bpf_run_stats(struct bpf_object *obj, __u64 *ns, __u64 *runs);

/* --- faults (faults.c) --- */

struct ml_faults;

/* docs/bpf.md: counting (the default) or latency (opt-in, costlier). */
enum ml_faults_mode {
	ML_FAULTS_COUNTING,
	ML_FAULTS_LATENCY,
};

/* @tgid: count only this process (0: every process).  Counting mode. */
int ml_faults_open(struct ml_faults **out, pid_t tgid);
/*
 * In @mode; counting falls back to latency where the kernel lacks the
 * exceptions tracepoints (ml_faults_mode() says which runs).
 */
int ml_faults_open_mode(struct ml_faults **out, pid_t tgid, enum ml_faults_mode mode);
enum ml_faults_mode ml_faults_mode(const struct ml_faults *f);
/* "counting" or "latency". */
const char *ml_faults_mode_name(const struct ml_faults *f);
/* True in latency mode with entry tracepoints: the lat_* histograms. */
bool ml_faults_has_latency(const struct ml_faults *f);
/*
 * Latency mode: the run time of its programs so far and their runs, from
 * bpf_enable_stats() (every process's faults run them; the perf-event
 * path around them is not included).  -EOPNOTSUPP without run stats.
 */
int ml_faults_cost(const struct ml_faults *f, __u64 *ns, __u64 *runs);
/* Attach points chosen, e.g. "entry tp_btf/page_fault_{user,kernel}; ..." */
const char *ml_faults_path(const struct ml_faults *f);
/* False where minor/major come from perf events (no retry count there). */
bool ml_faults_has_retry(const struct ml_faults *f);
/* False without the exceptions:page_fault_* tracepoints (no classes, latency). */
bool ml_faults_has_entry(const struct ml_faults *f);
/* False where faults cannot be attributed to VMAs (no bpf_find_vma). */
bool ml_faults_has_vmas(const struct ml_faults *f);
/* Counters summed over CPUs; @tgid 0: every process counted. */
int ml_faults_read(struct ml_faults *f, pid_t tgid, struct fault_counts *out);

struct ml_vma_faults {
	__u64 start, end, minor, major;
	char name[48];
};
/*
 * The VMAs of @tgid that faulted, by start address: a malloc()ed array in
 * *@out (free() it), count returned (or a negative errno).
 */
int ml_faults_vmas(struct ml_faults *f, pid_t tgid, struct ml_vma_faults **out);
/* The loaded object (its maps and programs), for tests and benchmarks. */
struct bpf_object *ml_faults_object(const struct ml_faults *f);
void ml_faults_close(struct ml_faults *f);

/* --- page tables and VMAs (pgwalk.c) --- */

struct ml_vma_info {
	__u64 start, end;
	char perms[5];
	const char *kind; /* anon file shmem stack heap vdso vvar other */
	__u64 resident_kb, thp_kb, swap_kb, pte_tables;
	char name[256];
};

struct ml_pagetable {
	struct pgwalk_summary sum;
	struct ml_vma_info *vmas; /* sum.vmas entries */
	int levels;               /* 4 or 5 */
};

/*
 * Walk the user page tables of @pid from BPF (task_vma iterator + a walk
 * through the direct map).  Fills @pt; free with ml_pagetable_free().
 */
int ml_pagetable_walk(pid_t pid, struct ml_pagetable *pt);
void ml_pagetable_free(struct ml_pagetable *pt);
/*
 * The same in steps, to walk one process many times with one load;
 * ml_pgwalk_retarget() points a loaded walker at another process (the
 * next ml_pgwalk_run() walks @pid).  One walker is used by one thread.
 */
struct ml_pgwalk;
int ml_pgwalk_open(struct ml_pgwalk **out, pid_t pid);
int ml_pgwalk_run(struct ml_pgwalk *w, struct ml_pagetable *pt);
void ml_pgwalk_retarget(struct ml_pgwalk *w, pid_t pid);
void ml_pgwalk_close(struct ml_pgwalk *w);
/* How the direct map base was found ("kallsyms", "probed"), for -v. */
const char *ml_pagetable_method(void);

/* --- TLB flushes and swap (tlbswap.c) --- */

struct ml_tlbswap;

/* @tgid: per-process counters for this process only (0: none). */
int ml_tlbswap_open(struct ml_tlbswap **out, pid_t tgid);
const char *ml_tlbswap_path(const struct ml_tlbswap *t);
bool ml_tlbswap_has_tlb(const struct ml_tlbswap *t);
/*
 * Does the running kernel's enum tlb_flush_reason (vmlinux BTF) have
 * TLB_REMOTE_WRONG_CPU (Linux 6.14 and later)?  Where it does not, the
 * remote_wrong_cpu counter cannot count; false with the reason in @why.
 */
bool ml_tlb_has_wrong_cpu(char *why, size_t len);
/* Which swap counters this kernel lets us count (ML_SWAP_* bits). */
enum {
	ML_SWAP_IN = 1,
	ML_SWAP_OUT = 2,
	ML_SWAP_FAULTS = 4
};
unsigned int ml_tlbswap_swap_events(const struct ml_tlbswap *t);
/* System-wide TLB counters, and per CPU (@percpu: nr_cpus entries or NULL). */
int ml_tlb_read(struct ml_tlbswap *t, struct tlb_counts *all, struct tlb_counts *percpu,
		int *nr_cpus);
int ml_tlb_read_tgid(struct ml_tlbswap *t, struct tlb_counts *out);
int ml_swap_read(struct ml_tlbswap *t, struct swap_counts *all, struct swap_counts *tgid);
void ml_tlbswap_close(struct ml_tlbswap *t);

/* --- memory syscalls, their TLB flushes and refaults (kcost.c) --- */

struct ml_kcost;

/* Count the memory syscalls and faults of process @tgid (> 0). */
int ml_kcost_open(struct ml_kcost **out, pid_t tgid);
/* Attach points chosen, e.g. "syscalls tp_btf/sys_{enter,exit}; ..." */
const char *ml_kcost_path(const struct ml_kcost *k);
/* False where the kernel has no tlb:tlb_flush tracepoint (not x86). */
bool ml_kcost_has_tlb(const struct ml_kcost *k);
/* Counters summed over CPUs: @calls has KC_CALLS entries (enum kc_call). */
int ml_kcost_read(struct ml_kcost *k, struct kc_call_stats *calls, struct kc_fault_stats *faults);
struct bpf_object *ml_kcost_object(const struct ml_kcost *k);
void ml_kcost_close(struct ml_kcost *k);
/*
 * --timeline: ml_kcost_open() with the event ring (struct kc_event, in
 * kcost.h) loaded and enabled; without it the programs never touch it.
 */
int ml_kcost_open_timeline(struct ml_kcost **out, pid_t tgid);
/* Hand every event in the ring to @fn; the number handed, or -errno. */
int ml_kcost_events(struct ml_kcost *k, void (*fn)(const struct kc_event *e, void *ctx), void *ctx);
/* Events the full ring refused since the load. */
unsigned long long ml_kcost_events_dropped(const struct ml_kcost *k);

#endif /* MLBPF_H */
