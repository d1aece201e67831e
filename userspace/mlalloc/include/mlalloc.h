/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mlalloc.h - public interface of libmlalloc, the allocator under test.
 *
 * Three parts:
 *   1. the prefixed allocation API (mlalloc_malloc ...), which never
 *      interposes on anything; libmlalloc.so additionally exports the libc
 *      names (malloc, free, ...) so that LD_PRELOAD or -lmlalloc replaces
 *      glibc's allocator;
 *   2. the introspection structure, a versioned description of the live
 *      allocator that another process can read with process_vm_readv after
 *      finding the exported symbol "mlalloc_introspect" (dynamic symbol table
 *      of libmlalloc.so plus /proc/PID/maps);
 *   3. the reader (libmlalloc-inspect.a) that does exactly that for a PID.
 *
 * Layout rules of the introspection structures: fixed-width fields only,
 * naturally aligned, no pointers (addresses are uint64_t in the target's
 * address space).  Any incompatible change bumps MLALLOC_INTROSPECT_VERSION;
 * fields are only ever appended within a version and `size` says how many
 * bytes the target wrote.
 */
#ifndef MLALLOC_H
#define MLALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. prefixed API ---------------------------------------------------- */

void *mlalloc_malloc(size_t size);
void mlalloc_free(void *p);
void *mlalloc_calloc(size_t n, size_t size);
void *mlalloc_realloc(void *p, size_t size);
void *mlalloc_reallocarray(void *p, size_t n, size_t size);
int mlalloc_posix_memalign(void **out, size_t align, size_t size);
void *mlalloc_aligned_alloc(size_t align, size_t size);
void *mlalloc_memalign(size_t align, size_t size);
void *mlalloc_valloc(size_t size);
void *mlalloc_pvalloc(size_t size);
size_t mlalloc_usable_size(const void *p);
/* Return unused memory of the calling thread's heap to the OS now. */
void mlalloc_collect(void);
/* The library's version, the project's VERSION ("0.1.0"). */
extern const char mlalloc_version[];

/* ---- 2. introspection structure (version 2) ----------------------------- */

#define MLALLOC_INTROSPECT_MAGIC   0x31636f6c6c616c6dULL /* "mlalloc1" */
#define MLALLOC_HEAP_MAGIC         0x3170616568616c6dULL /* "mlaheap1" */
#define MLALLOC_INTROSPECT_VERSION 2
#define MLALLOC_INTROSPECT_SYMBOL  "mlalloc_introspect"

/*
 * Size classes.  Classes 0..MLALLOC_NSMALL-1 are small blocks carved out of
 * pages (class_size[] gives each block size); MLALLOC_CLASS_LARGE counts
 * blocks that own a span of a segment; MLALLOC_CLASS_HUGE counts blocks
 * mapped directly.
 */
#define MLALLOC_NSMALL      48
#define MLALLOC_CLASS_LARGE MLALLOC_NSMALL
#define MLALLOC_CLASS_HUGE  (MLALLOC_NSMALL + 1)
#define MLALLOC_NCLASSES    (MLALLOC_NSMALL + 2)

#define MLALLOC_MAX_ARENAS 1024

/* Role of an arena (a range obtained from the OS with one mmap). */
enum mlalloc_arena_role {
	MLALLOC_ARENA_FREE = 0,        /* slot unused */
	MLALLOC_ARENA_SEGMENTS = 1,    /* carved into 4 MiB segments of pages */
	MLALLOC_ARENA_HUGE = 2,        /* one huge block mapped directly */
	MLALLOC_ARENA_HUGE_CACHED = 3, /* a freed huge mapping kept for reuse */
};

/* The name of an arena role, as the snapshot and the inspector print it. */
static inline const char *mlalloc_arena_role_name(uint32_t role)
{
	switch (role) {
	case MLALLOC_ARENA_SEGMENTS:
		return "segments";
	case MLALLOC_ARENA_HUGE:
		return "huge";
	case MLALLOC_ARENA_HUGE_CACHED:
		return "huge-cached";
	default:
		return "?";
	}
}

struct mlalloc_arena {
	uint64_t base;      /* first byte of the mapping */
	uint64_t size;      /* bytes reserved (the mapping's length) */
	uint32_t role;      /* enum mlalloc_arena_role */
	uint32_t segments;  /* SEGMENTS: segments handed out so far */
	uint64_t committed; /* bytes the allocator may have touched and
				 * not purged since (upper bound of RSS) */
	uint64_t used;      /* SEGMENTS: bytes in pages in use;
				 * HUGE: bytes of the block */
	uint64_t purges;    /* madvise(MADV_DONTNEED) calls on this arena */
	uint64_t purged;    /* bytes purged */
};

/*
 * Per-thread heap counters.  Each thread's heap writes only its own counters
 * (plain stores, no atomics: near-zero cost), and heaps are never freed, so
 * a reader sums them over the list.  A block freed by another thread is
 * counted in the freeing thread's heap, so the sums are exact whenever no
 * call is in flight.
 */
struct mlalloc_heap_stats {
	uint64_t magic;                    /* MLALLOC_HEAP_MAGIC */
	uint64_t next;                     /* address of the next heap, 0 at end */
	uint32_t tid;                      /* owning thread, 0 when abandoned */
	uint32_t state;                    /* 1 in use, 2 abandoned, 3 backup */
	uint64_t allocs[MLALLOC_NCLASSES]; /* blocks allocated */
	uint64_t frees[MLALLOC_NCLASSES];  /* blocks freed */
	/* block bytes allocated / freed: LARGE and HUGE only (version 2);
	 * 0 for the small classes, whose bytes are blocks x class_size[] */
	uint64_t alloc_bytes[MLALLOC_NCLASSES];
	uint64_t free_bytes[MLALLOC_NCLASSES];
	uint64_t requested; /* bytes asked for by the callers */
};

struct mlalloc_introspect {
	uint64_t magic;   /* MLALLOC_INTROSPECT_MAGIC */
	uint32_t version; /* MLALLOC_INTROSPECT_VERSION */
	uint32_t size;    /* sizeof(struct mlalloc_introspect) */
	/* Incremented before and after every change of arenas[] (seqlock:
	 * odd means a change is in progress; re-read if it changed). */
	uint64_t generation;
	uint32_t nclasses;                     /* MLALLOC_NCLASSES */
	uint32_t max_arenas;                   /* MLALLOC_MAX_ARENAS */
	uint64_t segment_size;                 /* 4 MiB */
	uint64_t slice_size;                   /* 64 KiB: page granularity */
	uint64_t class_size[MLALLOC_NCLASSES]; /* 0 for LARGE and HUGE */
	uint64_t heaps;                        /* address of the first heap's stats */
	uint32_t narenas;                      /* arenas[] slots ever used */
	uint32_t pid;                          /* getpid() at initialisation */
	int64_t purge_delay_ms;                /* MLALLOC_PURGE_DELAY */
	uint32_t check;                        /* MLALLOC_CHECK */
	uint32_t reserved0;
	uint64_t reserved; /* bytes mapped from the OS now */
	uint64_t purges;   /* madvise(MADV_DONTNEED) calls */
	uint64_t purged;   /* bytes purged */
	uint64_t mmaps;    /* mmap calls */
	uint64_t munmaps;  /* munmap calls */
	struct mlalloc_arena arenas[MLALLOC_MAX_ARENAS];
	/* appended in version 2 (present when size covers it): the address
	 * of the decision ring, struct mlalloc_events */
	uint64_t events;
};

/*
 * The decision ring: what the allocator asked of the OS and why, one
 * event per decision (a segment's purge, an arena or huge mapping, a huge
 * unmap or reuse), written when the decision's syscalls are done.  Times
 * are CLOCK_MONOTONIC ns (the clock of bpf_ktime_get_ns()), the thread is
 * the kernel's tid: a tracer joins each event with the syscalls the
 * thread made between t0_ns and t1_ns.
 *
 * Writer (any thread, no lock): s = fetch_add(&head, 1); slot s % slots:
 * seq = 0, the fields, then seq = s + 1 (release).  Reader: copy the
 * slots, copy them again, read head; slot s is event s iff both copies
 * have seq == s + 1 and s >= head - slots (not claimed again since).
 * Events before head - slots were overwritten before they were read: the
 * reader counts them as lost.  docs/allocator.md, "The decision ring".
 */
#define MLALLOC_EVENTS_MAGIC 0x3176656f6c616c6dULL /* "mlaloev1" */
#define MLALLOC_EVENT_SLOTS  1024                  /* a power of two */

enum mlalloc_event_kind {
	MLALLOC_EV_ARENA_MAP = 1,   /* a 64 MiB arena of segments mapped */
	MLALLOC_EV_META_MAP = 2,    /* a chunk of heap structures mapped */
	MLALLOC_EV_PURGE = 3,       /* free slices of a segment purged (MADV_DONTNEED) */
	MLALLOC_EV_SEG_RELEASE = 4, /* an empty segment purged and given to the cache */
	MLALLOC_EV_HUGE_MAP = 5,    /* a huge block mapped */
	MLALLOC_EV_HUGE_UNMAP = 6, /* a huge mapping unmapped (reason: enum mlalloc_unmap_reason) */
	MLALLOC_EV_HUGE_REUSE = 7, /* a cached huge mapping reused: no syscall */
	MLALLOC_EV_HUGE_RESIZE = 8, /* a huge mapping resized with mremap */
	MLALLOC_EV_KINDS
};

/* Why a PURGE or SEG_RELEASE happened. */
enum mlalloc_purge_reason {
	MLALLOC_PURGE_NOW = 1,      /* MLALLOC_PURGE_DELAY=0: a span freed */
	MLALLOC_PURGE_DEADLINE = 2, /* free for a whole delay (late_ms after its deadline) */
	MLALLOC_PURGE_COLLECT = 3,  /* mlalloc_collect() */
	MLALLOC_PURGE_EXIT = 4,     /* a thread exited: its empty segments */
	MLALLOC_PURGE_REASONS
};

/* Why a HUGE_UNMAP happened. */
enum mlalloc_unmap_reason {
	MLALLOC_UNMAP_FREE = 1,    /* freed, not cached (delay 0, or too big) */
	MLALLOC_UNMAP_EXPIRED = 2, /* cached for MLALLOC_HUGE_DELAY ms */
	MLALLOC_UNMAP_EVICTED = 3, /* cached, pushed out by a newer one */
	MLALLOC_UNMAP_TRIM = 4,    /* mlalloc_collect() or exit */
	MLALLOC_UNMAP_FAILED = 5,  /* reused, but mremap refused to resize it */
	MLALLOC_UNMAP_REASONS
};

struct mlalloc_event {
	uint64_t seq;     /* s + 1 once event s is written; 0 while written */
	uint64_t t0_ns;   /* CLOCK_MONOTONIC: before the first syscall */
	uint64_t t1_ns;   /* after the last */
	uint64_t addr;    /* PURGE, SEG_RELEASE: the segment; else the mapping */
	uint64_t bytes;   /* purged, mapped, unmapped, or the new size */
	uint32_t tid;     /* gettid() of the thread */
	uint16_t kind;    /* enum mlalloc_event_kind */
	uint16_t reason;  /* enum mlalloc_purge_reason / mlalloc_unmap_reason */
	uint32_t calls;   /* syscalls the decision made (mmap, munmap, madvise, mremap) */
	int32_t delay_ms; /* the delay in force: MLALLOC_PURGE_DELAY, or HUGE_DELAY */
	uint32_t late_ms; /* DEADLINE: how long after the deadline it ran */
	uint32_t reserved;
};

struct mlalloc_events {
	uint64_t magic;      /* MLALLOC_EVENTS_MAGIC */
	uint32_t slots;      /* MLALLOC_EVENT_SLOTS */
	uint32_t event_size; /* sizeof(struct mlalloc_event) */
	uint64_t head;       /* events ever claimed: the next one's number */
	struct mlalloc_event ev[MLALLOC_EVENT_SLOTS];
};

/* ---- 3. reader ---------------------------------------------------------- */

/* What a reader derives from one read of a process's structure. */
struct mlalloc_snapshot {
	struct mlalloc_introspect in; /* copy of the target's structure */
	uint32_t nheaps;              /* heaps found on the list */
	uint32_t heaps_in_use;
	int64_t live_blocks[MLALLOC_NCLASSES];
	int64_t live_bytes[MLALLOC_NCLASSES]; /* block bytes */
	uint64_t total_allocs;
	uint64_t total_frees;
	int64_t live_bytes_total;
	uint64_t requested; /* bytes asked for, cumulated */
	uint64_t committed; /* sum of arenas[].committed */
};

/*
 * Reading memory: `read(ctx, addr, buf, len)` returns 0 on success.  The
 * summing code is shared by MLALLOC_STATS (which reads its own memory) and
 * the out-of-process reader.
 */
typedef int (*mlalloc_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
int mlalloc_snapshot_read(mlalloc_read_fn read, void *ctx, uint64_t addr,
			  struct mlalloc_snapshot *out);

/* libmlalloc-inspect.a: find the structure in process `pid` (looks for the
 * symbol in every ELF file mapped by the process, libmlalloc.so first).
 * Returns 0 and its address, or -errno. */
int mlalloc_inspect_find(pid_t pid, uint64_t *addr);
/* Read and sum it; retries while the target changes its arena table. */
int mlalloc_inspect_read(pid_t pid, uint64_t addr, struct mlalloc_snapshot *out);
/* Print a snapshot as text (what MLALLOC_STATS=1 prints); fd is written
 * with write(2), nothing is allocated. */
void mlalloc_snapshot_print(int fd, const struct mlalloc_snapshot *s);

#ifdef __cplusplus
}
#endif
#endif /* MLALLOC_H */
