/* SPDX-License-Identifier: GPL-2.0 */
/*
 * faults: page faults of the processes memlens traces, counted in BPF.
 * Shared by faults.bpf.c and the userspace programs that load it.
 *
 * The counters have the meaning of the module's "faults" debugfs file
 * (docs/debugfs.md, docs/bpf.md):
 *   minor, major, retry   from the return of handle_mm_fault() (fexit), or,
 *                         where fexit is refused, from the perf software
 *                         events page-faults-min/-maj (no retry there);
 *                         counted as mm_account_fault() counts min_flt and
 *                         maj_flt, so they match /proc/PID/stat.
 *   read write exec user kernel notpresent protection
 *                         from the x86 error code at the
 *                         exceptions:page_fault_{user,kernel} tracepoints.
 */
#ifndef MEMLENS_BPF_FAULTS_H
#define MEMLENS_BPF_FAULTS_H

/* Largest number of distinct tgids counted at once. */
#define FAULTS_MAX_TGIDS    10240
/* Largest number of (tgid, VMA) pairs attributed at once. */
#define FAULTS_MAX_VMAS     16384
/* Threads with a fault in flight (entry seen, completion not yet). */
#define FAULTS_MAX_INFLIGHT 16384
/* Latency buckets as the module's: bucket b = fls64(ns), [2^(b-1), 2^b - 1] ns. */
#define FAULTS_LAT_BUCKETS  40

/* Per-tgid counters, value of the per-CPU "counts" map (key: tgid). */
struct fault_counts {
	__u64 minor;
	__u64 major;
	__u64 read;
	__u64 write;
	__u64 exec;
	__u64 user;   /* exceptions:page_fault_user events */
	__u64 kernel; /* exceptions:page_fault_kernel events */
	__u64 notpresent;
	__u64 protection;
	__u64 retry;
	__u64 retry_returns; /* handle_mm_fault() returns with VM_FAULT_RETRY */
	__u64 errors;        /* ... with an error (OOM, SIGBUS, SIGSEGV, ...) */
	__u64 unattributed;  /* completions not matched to a VMA */
	__u64 lat_minor[FAULTS_LAT_BUCKETS];
	__u64 lat_major[FAULTS_LAT_BUCKETS];
};

/* Key and value of the "vma_faults" map. */
/* A VMA is its bounds when the fault happened, as in the module. */
struct fault_vma_key {
	__u32 tgid;
	__u32 pad;
	__u64 start;
	__u64 end;
};

struct fault_vma_val {
	__u64 minor;
	__u64 major;
	char name[48]; /* see vma_name() in faults.bpf.c */
};

/* Per thread (task storage): the fault in flight and the last VMA. */
struct fault_inflight {
	__u64 entry_ns; /* 0: none in flight, or entered through GUP */
	__u32 retried;  /* handle_mm_fault() returned VM_FAULT_RETRY */
	__u32 pad;
	__u64 last_vma; /* VMA of this thread's last attributed fault */
};

#endif /* MEMLENS_BPF_FAULTS_H */
