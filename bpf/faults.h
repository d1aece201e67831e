/* SPDX-License-Identifier: GPL-2.0 */
/*
 * faults: page faults of the processes memlens traces, counted in BPF.
 * Shared by faults.bpf.c and the userspace programs that load it.
 *
 * Two modes (docs/bpf.md):
 *
 *  counting (the default): one entry program on the exceptions tracepoints.
 *   minor, major          the growth of the thread's own min_flt/maj_flt
 *                         (what /proc/PID/stat sums), read lazily at the
 *                         thread's next fault, at its exit and at read time;
 *                         the growth since the last fault entry classifies
 *                         that fault, the rest is "populated".
 *   populated             faults charged with no exception entry: GUP
 *                         (MAP_POPULATE, mlock, MADV_POPULATE_*, ptrace).
 *   not_charged           exception entries that charged no fault (SIGSEGV,
 *                         exception fixups, spurious faults).
 *   mixed                 entries whose window also held populated faults of
 *                         the other class: their VMA class is a guess.
 *   no latency, no retry: those need the latency mode.
 *
 *  latency (opt-in): minor, major, retry and the latency histograms from
 *   the return of handle_mm_fault() (fexit), or, where fexit is refused,
 *   from the perf software events page-faults-min/-maj (no retry there).
 *
 * In both: read write exec user kernel notpresent protection from the x86
 * error code at the exceptions:page_fault_{user,kernel} tracepoints.
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
	__u64 populated;     /* counting mode: charged with no exception entry */
	__u64 not_charged;   /* counting mode: entries that charged nothing */
	__u64 mixed;         /* counting mode: entries of a guessed class */
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

/*
 * Counting mode.  Per thread (task storage "threads"): the task counters
 * seen last, the fault entry not yet classified, and a few VMAs with
 * their counts not yet flushed to "vma_faults" (threads alternate between
 * a few VMAs: code, stack, heap, a buffer).  Flushed to "totals" and
 * "vma_faults" when the thread exits; the read iterator reports the rest
 * of every live thread without changing it.
 */
#define FAULTS_VMA_SLOTS 4 /* a power of two */

struct fault_vma_slot {
	__u64 mm;    /* the mm the VMA belongs to (exec replaces it) */
	__u64 vma;   /* the vm_area_struct, revalidated before use */
	__u64 start; /* bounds when it was looked up: the map key */
	__u64 end;
	__u64 minor; /* counts not yet flushed */
	__u64 major;
	__u32 seq; /* mm_lock_seq when last validated */
	__u32 pad;
};

/* The counters "totals" holds per tgid, and each thread until it exits. */
struct fault_totals {
	__u64 minor;
	__u64 major;
	__u64 populated;
	__u64 not_charged;
	__u64 mixed;
	__u64 unattributed;
	__u64 read;
	__u64 write;
	__u64 exec;
	__u64 user;
	__u64 kernel;
	__u64 notpresent;
	__u64 protection;
};

struct fault_thread {
	struct fault_totals t;
	__u64 min_seen; /* task->min_flt when last classified */
	__u64 maj_seen;
	__u32 tgid;
	__u32 tid;
	__u32 pending;   /* a fault entry not yet classified */
	__u32 pend_slot; /* its VMA: slot + 1, 0 when not found */
	__u32 next_slot; /* round-robin victim */
	__u32 flushed;   /* sched_process_exit flushed it once */
	struct fault_vma_slot slot[FAULTS_VMA_SLOTS];
};

#endif /* MEMLENS_BPF_FAULTS_H */
