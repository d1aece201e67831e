/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running a command under an allocator and measuring it from exec to exit
 * (memlens run, memlens compare).
 */
#ifndef MEMLENS_RUNNER_H
#define MEMLENS_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "backend.h"
#include "report.h"

#define ML_ALLOC_ENVS 8

struct ml_allocator {
	char name[128];  /* glibc, mlalloc, ... or the path given, with its variables */
	char path[4096]; /* the library to LD_PRELOAD; "" for glibc */
	int nenv;        /* a variant's environment: "VAR=VALUE" each */
	char env[ML_ALLOC_ENVS][256];
};

/*
 * @name: glibc, mlalloc, jemalloc, tcmalloc, mimalloc or a path to a
 * shared library, optionally followed by a variant's environment,
 * NAME:VAR=VALUE[:VAR=VALUE...] (a part after a ':' that does not start
 * with VAR= belongs to the value before it, as in GLIBC_TUNABLES=a=1:b=2).
 * Returns 0, ML_EXIT_USAGE for an unknown name, a missing path or a bad
 * variable, ML_EXIT_ERROR for a known allocator not installed here; @why
 * says which, in one line.
 */
int ml_allocator_find(const char *name, struct ml_allocator *out, char *why, size_t len);
/*
 * Can LD_PRELOAD load @alloc into @argv?  ML_EXIT_USAGE, with the reason in
 * @why, when the library is not a shared library, or the command (or its
 * #! interpreter) is static or set[ug]id to someone else (allocator.c).
 */
int ml_allocator_check(const struct ml_allocator *alloc, char *const argv[], char *why, size_t len);
/* @lib in /proc/@pid/maps: 1; not, though libc is mapped: 0; cannot tell: -1. */
int ml_allocator_mapped(pid_t pid, const char *lib);

/* "Key: N kB" of /proc/@pid/smaps_rollup, in bytes (-1 if unreadable). */
double ml_proc_rollup(pid_t pid, const char *key);

/* Where the command's stdout goes while memlens measures it. */
enum ml_child_out {
	ML_CHILD_OUT_KEEP,   /* memlens' stdout (a text report follows it) */
	ML_CHILD_OUT_NULL,   /* /dev/null (compare) */
	ML_CHILD_OUT_STDERR, /* memlens' stderr: the report on stdout is JSON or Prometheus */
};

struct ml_run_result {
	int status;     /* exit code, 128 + signal, 127 exec failed */
	int exec_errno; /* why exec failed, or 0 */
	int samples;    /* /proc samples taken while it ran */
	struct ml_val wall, user, sys;
	struct ml_val peak_rss;       /* wait4: ru_maxrss */
	struct ml_val minflt, majflt; /* wait4: ru_minflt, ru_majflt */
	struct ml_val peak_pgtable;   /* VmPTE, sampled */
	struct ml_val peak_swap;      /* VmSwap, sampled */
	struct ml_val thp_coverage;   /* AnonHugePages / Rss at the RSS peak */
	struct ml_val dtlb_misses;    /* perf, from exec to exit */
	struct ml_val tlb_flushes;
	/*
	 * kcost (BPF, attached before exec, read at exit): memory syscalls,
	 * bytes given back, refaults, time in the kernel in the memory
	 * syscalls (ns), the TLB flushes they made, flush IPIs received.
	 */
	struct ml_val kc_calls, kc_given_back, kc_refaults, kc_ns, kc_tlb, kc_tlb_received;
	/* the allocator's library seen in /proc/PID/maps: 1, 0 not loaded, -1 not seen either way */
	int alloc_loaded;
};

/*
 * Run @argv with @alloc preloaded (and its variant's environment),
 * sampling /proc/PID every @interval_ms ms; with @progress, a progress
 * line on stderr after one second; with @out, where the command's stdout
 * goes; with @kcost, kcost's counters (ml_kcost_open() on the child while
 * it waits before its exec; unavailable with the reason where BPF cannot
 * load: the run goes on).  Never
 * ptraces: the counters come from wait4() and perf (enable_on_exec).
 * Returns 0 once the command ran (whatever its exit status), or -errno
 * when it could not be started at all.
 */
int ml_run_measure(char *const argv[], const struct ml_allocator *alloc, int interval_ms,
		   bool progress, enum ml_child_out out, bool kcost, struct ml_run_result *res);
void ml_emit_run(struct ml_report *r, const struct ml_run_result *res);

/* Mean, sample standard deviation, min and max of the known values. */
struct ml_stats {
	int n; /* known values */
	double mean, sd, min, max;
	enum ml_src src;
	const char *why; /* n == 0: the first value's reason */
};

void ml_stats_of(const struct ml_val *v, int n, struct ml_stats *out);
/*
 * @a over @base (means): 1 significant, 0 not (the ratio's spread, from
 * (mean - sd) / (base + sd) to (mean + sd) / (base - sd), holds 1.0), -1
 * unknown (a mean unavailable or zero, or fewer than two runs).
 */
int ml_stats_significant(const struct ml_stats *a, const struct ml_stats *base);
/* Statistic @c of @st (0 mean, 1 stddev, 2 min, 3 max), unavailable with its reason. */
struct ml_val ml_stats_cell(const struct ml_stats *st, int c);
/* "0.079 s" / "52.5 MiB" / "13143" for a figure of @unit. */
const char *ml_stats_fmt(char *buf, size_t len, enum ml_unit unit, double v);
/* Text: "MEAN +- SD (MIN - MAX)" of @st, aligned (no newline). */
void ml_stats_print(FILE *out, enum ml_unit unit, const struct ml_stats *st);

#endif /* MEMLENS_RUNNER_H */
