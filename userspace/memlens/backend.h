/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The inspector's backends: what a snapshot of a process contains, and who
 * produced each number.
 *
 * Every figure is a struct ml_val: a value plus the source that measured it,
 * or ML_SRC_NONE and a reason when nothing could.  Reports print the reason
 * ("unavailable: ...") and never a zero for an unknown.
 *
 * Backends: "proc" reads /proc/PID/{stat,status,smaps,pagemap} and
 * /proc/vmstat (always present); "module" reads memlens.ko's debugfs and
 * "bpf" the BPF loaders (mlbpf.h).  ml_backend_choose() resolves
 * "auto" and explains why a backend cannot be used.
 */
#ifndef MEMLENS_BACKEND_H
#define MEMLENS_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "memlens.h" /* the exit codes */

/* Who produced a number. */
enum ml_src {
	ML_SRC_NONE, /* unavailable: see ml_val.why */
	ML_SRC_PROC,
	ML_SRC_MODULE,
	ML_SRC_BPF,
	ML_SRC_PERF,    /* perf_event_open() */
	ML_SRC_MLALLOC, /* the allocator's introspection structure */
	ML_SRC_RUSAGE,  /* wait4()'s struct rusage */
	ML_SRC_CLOCK,   /* clock_gettime() */
};

const char *ml_src_name(enum ml_src src);

struct ml_val {
	double v;
	enum ml_src src;
	const char *why; /* static text, when src == ML_SRC_NONE */
};

static inline struct ml_val ml_have(double v, enum ml_src src)
{
	return (struct ml_val){ .v = v, .src = src };
}

static inline struct ml_val ml_none(const char *why)
{
	return (struct ml_val){ .src = ML_SRC_NONE, .why = why };
}

static inline bool ml_known(struct ml_val v)
{
	return v.src != ML_SRC_NONE;
}

enum ml_backend {
	ML_BACKEND_AUTO,
	ML_BACKEND_MODULE,
	ML_BACKEND_BPF,
	ML_BACKEND_PROC,
};

const char *ml_backend_name(enum ml_backend b);
int ml_backend_parse(const char *s, enum ml_backend *out);

/* Room for a reason: whole, with the reasons of every backend skipped. */
#define ML_WHY_LEN 1024

struct ml_snapshot;

/*
 * Check that a named backend's preconditions hold here (auto: nothing to
 * check; *@out = @want).  Returns 0, or ML_EXIT_BACKEND with a one-line
 * reason in @why.
 */
int ml_backend_choose(enum ml_backend want, enum ml_backend *out, char *why, size_t len);
/*
 * Why backend @b cannot run here (its preconditions: the module's debugfs,
 * root and BTF for BPF), or NULL when it may be tried (proc: always).
 */
const char *ml_backend_unusable(enum ml_backend b);
/*
 * A snapshot with @want; auto tries module, then BPF, then proc, falling
 * back on any failure that is not the process's own (no such process,
 * kernel thread, exited, permission), and says in @why which it skipped
 * and why.  ss->backend is the backend that took the snapshot.  A named
 * backend that fails is ML_EXIT_BACKEND with its whole reason in @why
 * and ss->errmsg.
 */
int ml_snapshot_best(pid_t pid, enum ml_backend want, struct ml_snapshot *ss, char *why,
		     size_t len);

/* One VMA, from /proc/PID/smaps. */
struct ml_vma {
	uint64_t start, end, offset;
	char perms[8];
	char name[128];                          /* path, [heap], [stack], [anon] ... */
	uint64_t rss, anon, lazyfree, swap, thp; /* bytes */
	uint64_t pmd_mapped; /* AnonHugePages + ShmemPmdMapped + FilePmdMapped */
	uint64_t hugetlb;    /* Private_Hugetlb + Shared_Hugetlb */
	uint64_t page_size;  /* KernelPageSize */
};

/* Process-wide figures. */
struct ml_summary {
	struct ml_val rss, rss_anon, rss_file, rss_shmem, swap, hwm, vm_size;
	/* smaps_rollup: Pss, and Private_Clean + Private_Dirty (USS) */
	struct ml_val pss, uss;
	struct ml_val pgtable;                   /* VmPTE: bytes of page-table pages */
	struct ml_val lazyfree;                  /* smaps LazyFree: MADV_FREE, not yet reclaimed */
	struct ml_val leaf_4k, leaf_2m, leaf_1g; /* resident leaf mappings */
	struct ml_val tlb_needed;                /* entries to map resident memory as is */
	struct ml_val tlb_4k_only;               /* ... if every leaf were 4 KiB */
	struct ml_val thp_coverage;              /* PMD-mapped share of resident, % */
	struct ml_val minflt, majflt;            /* since the process started */
	struct ml_val tracked_minflt, tracked_majflt; /* since tracking began */
	char fault_mode[12];       /* what counted them: "counting", "latency"; "" if none */
	struct ml_val dtlb_misses; /* hardware dTLB read misses */
	struct ml_val tlb_flushes; /* TLB flushes of this process */
	struct ml_val threads;
};

/* System-wide swap and TLB figures, from /proc/vmstat and /proc/meminfo. */
struct ml_system {
	struct ml_val swap_total, swap_free; /* bytes */
	struct ml_val pswpin, pswpout;       /* pages since boot */
	struct ml_val tlb_remote, tlb_local; /* nr_tlb_* (CONFIG_DEBUG_TLBFLUSH) */
};

/* Faults of one VMA since tracking began (module: pid/PID/vma_faults). */
struct ml_vma_faults_row {
	uint64_t start, end, minor, major;
	char name[128];
};

struct ml_snapshot {
	pid_t pid;
	char comm[32];
	char state;
	enum ml_backend backend;
	struct ml_summary sum;
	struct ml_system sys;
	struct ml_vma *vmas;
	int nvmas;
	struct ml_vma_faults_row *vfaults; /* module, tracked only */
	int nvfaults;
	int err;                 /* 0, or the ML_EXIT_* of a partial snapshot */
	char errmsg[ML_WHY_LEN]; /* one line, when err */
};

/*
 * Take a snapshot of @pid with @backend (already chosen).  Returns 0, or
 * an ML_EXIT_* code with ss->errmsg set; what was measured before the
 * failure is kept in @ss (ss->err says it is partial).
 */
int ml_snapshot_take(pid_t pid, enum ml_backend backend, struct ml_snapshot *ss);
void ml_snapshot_free(struct ml_snapshot *ss);

/*
 * A session: snapshots of one process with one backend over time (memlens
 * watch).  The module tracks the process for the session's lifetime (if
 * it was not tracked already); BPF keeps its programs loaded.  Counters
 * "since tracking began" then count from the session's opening.
 */
struct ml_bpf_session;

struct ml_session {
	pid_t pid;
	enum ml_backend backend;
	bool tracked_here; /* module: untrack on close */
	struct ml_bpf_session *bpf;
};

/*
 * Open a session with @backend; auto falls back as ml_snapshot_best()
 * does, naming what it skipped in @why, and always opens one (proc last).
 * A named backend that fails is ML_EXIT_BACKEND with its reason in @why.
 */
int ml_session_open(struct ml_session *s, pid_t pid, enum ml_backend backend, char *why,
		    size_t len);
int ml_session_snapshot(struct ml_session *s, struct ml_snapshot *ss);
void ml_session_close(struct ml_session *s);

int ml_bpf_session_open(pid_t pid, struct ml_bpf_session **out, char *why, size_t len);
int ml_bpf_session_snapshot(struct ml_bpf_session *s, pid_t pid, struct ml_snapshot *ss);
void ml_bpf_session_close(struct ml_bpf_session *s);

/* proc backend pieces, also used by the other backends and commands. */
int ml_proc_snapshot(pid_t pid, struct ml_snapshot *ss);
int ml_perf_open_dtlb(pid_t pid, bool on_exec);
int ml_module_snapshot(pid_t pid, struct ml_snapshot *ss);
/* Start (@on) or stop tracking @pid with memlens.ko; 0 or -errno. */
int ml_module_track(pid_t pid, bool on);
bool ml_module_tracked(pid_t pid);
int ml_bpf_snapshot(pid_t pid, struct ml_snapshot *ss);
int ml_proc_stat(pid_t pid, char *comm, size_t len, char *state, uint64_t *minflt, uint64_t *majflt,
		 unsigned long *flags);
int ml_proc_status_kb(pid_t pid, const char *field, uint64_t *kb);
void ml_proc_system(struct ml_system *sys);
/* Hardware dTLB read misses of @pid over @ms milliseconds (perf). */
struct ml_val ml_perf_dtlb(pid_t pid, int ms);

/*
 * Per-page facts over [start, end) of @pid from /proc/PID/pagemap (and
 * /proc/kpageflags for THP, which needs CAP_SYS_ADMIN for the PFNs).
 */
struct ml_range_pages {
	uint64_t present, swapped; /* bytes */
	uint64_t pte_tables;       /* 2 MiB regions holding 4 KiB leaves */
	struct ml_val thp;         /* bytes in transparent huge pages */
};

int ml_pagemap_range(pid_t pid, uint64_t start, uint64_t end, struct ml_range_pages *out);

#endif /* MEMLENS_BACKEND_H */
