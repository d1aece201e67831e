/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mlalloc_types.h - the allocator's internal types and constants.
 *
 * Memory map, from big to small:
 *
 *   arena    one mmap from the OS, 64 MiB, aligned to 4 MiB (so also to the
 *            2 MiB of a transparent huge page).  Carved into segments.
 *   segment  4 MiB, aligned to 4 MiB, owned by one thread heap.  Its first
 *            64 KiB slice holds the segment header and one page descriptor
 *            per slice; the other 63 slices hold pages.
 *   page     a run of slices (1..32) holding blocks of one size class, or a
 *            single large block.  Each page has its own free lists: the free
 *            lists are sharded per page, which keeps the owning thread's
 *            operations local and lets other threads free into a page with
 *            one compare-and-swap.
 *   huge     a block above ML_LARGE_MAX (2 MiB) gets a mapping of its own
 *            whose first 4 KiB hold a segment header (kind ML_SEG_HUGE).
 *
 * Any pointer we handed out maps back to its segment through segmap[], one
 * byte per 4 MiB of address space, so free() recognises foreign pointers
 * without touching memory that may not be mapped.
 *
 * Glossary
 *
 *   block     what malloc returns; a free one is a struct block on a list
 *   class     one of MLALLOC_NSMALL block sizes (ml_class_size[]); LARGE
 *             and HUGE are pseudo-classes for the statistics
 *   slice     64 KiB, the unit a segment hands out; slice 0 is the header
 *   span      a run of free slices taken for one page (ml_span_alloc)
 *   carve     put never-used blocks of a page on its free list, 4 KiB at a
 *             time (page_extend): `capacity` grows towards `reserved`
 *   owner     the heap a page or segment belongs to; only its thread
 *             touches the page's owner fields
 *   local / remote free   by the owner's thread / by any other thread
 *   rcache    a thread's remote cache: blocks it freed into other heaps'
 *             pages, reused by its own next malloc of the class
 *   dirty     a slice that may be resident (touched since its last purge)
 *   purge     madvise(MADV_DONTNEED) of free dirty slices
 *   abandoned a heap whose thread exited; adopted whole by a new thread
 *   backup    the shared heap for threads past their TLS destructor
 *
 * Invariants (checked by ml_page_check and ML_ASSERT in ML_DEBUG builds)
 *
 *   page      used + |free| == capacity <= reserved, and
 *             reserved * block_size <= slices * ML_SLICE_SIZE;
 *             `used` counts blocks handed out, including those freed
 *             remotely onto xfree and not yet collected, and those
 *             freed by another thread into its heap's rcache (so a page
 *             with used == 0 has no block anywhere and may be retired);
 *             every block on `free` is inside the carved part, at a
 *             multiple of block_size from `start`; a large page has
 *             reserved == capacity == 1.
 *   lists     `free` is touched only by the owner; `xfree` is pushed by
 *             anyone with a CAS and emptied only by the owner with an
 *             exchange; ML_XF_COUNT(xfree) is the length of the list at
 *             ML_XF_PTR(xfree) (0 iff the list is empty).  A page is on
 *             exactly one of h->q[cls] (it may have free blocks) or h->full
 *             (ML_PG_FULL set; large pages always).
 *   segment   free_mask bit i: slice i belongs to no page (bit 0, the
 *             header, is never set); dirty_mask bit i: slice i may be
 *             resident (bit 0 always); a page's slices are clear in
 *             free_mask and set in dirty_mask; only free slices are purged.
 *             pages[i].slice_offset is 0 for a page's first slice, k for
 *             the slice k after it.  purge_new and purge_old are disjoint
 *             subsets of free_mask (ml_span_alloc clears a run from both);
 *             purge_at != 0 when either is not empty (delay > 0).
 *   heap      cur[cls] is &ml_empty_page or a page of class cls of this
 *             heap (on q[cls]; on full only after a refill failed); segs lists
 *             every segment with s->heap == h; nsegs counts them.
 *             rc[cls] holds rc[cls].n <= rc[cls].max blocks of class cls,
 *             each the start of a block of an in-use page of another heap
 *             (pages never change heap while a thread lives), key set;
 *             rc[].max is 0 for the backup heap.
 *   segmap    ml_segmap[a >> 22] == k + 1 iff a is in the k-th 4 MiB chunk
 *             of a live segment or huge mapping (first 255 chunks only).
 *
 * Locks (lock order as listed; see also the fork handlers in heap.c).  The
 * fast paths take none: a heap, its pages and segments are the owner's.
 *
 *   ml_backup_lock  ml_backup_heap: every call on it (alloc.c)
 *   ml_pool_lock    the abandoned-heap list and the heap chunk (heap.c), the
 *                   cache of free segments and the arena being carved
 *                   (segment.c)
 *   ml_huge_lock    the cache of freed huge mappings, cache_bytes (huge.c)
 *   ml_arena_lock   the published arena table mlalloc_introspect.arenas[]
 *                   and its generation seqlock (segment.c)
 */
#ifndef MLALLOC_TYPES_H
#define MLALLOC_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "include/mlalloc.h"

#define ML_API         __attribute__((visibility("default")))
#define ML_HIDDEN      __attribute__((visibility("hidden")))
#define ML_LIKELY(x)   __builtin_expect(!!(x), 1)
#define ML_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ML_NOINLINE    __attribute__((noinline))
#define ML_STR_(x)     #x
#define ML_STR(x)      ML_STR_(x)

/* ML_DEBUG builds (libmlalloc-debug.so) check the invariants below on the
 * slow paths; release builds compile the checks away. */
#ifdef ML_DEBUG
#define ML_ASSERT(c) ((c) ? (void)0 : ml_assert_fail(__FILE__ ":" ML_STR(__LINE__) ": " #c))
#else
#define ML_ASSERT(c) ((void)0)
#endif

#define ML_KIB ((size_t)1 << 10)
#define ML_MIB ((size_t)1 << 20)

#define ML_ALIGN       16 /* malloc's guaranteed alignment */
#define ML_SEG_SHIFT   22
#define ML_SEG_SIZE    ((size_t)1 << ML_SEG_SHIFT) /* 4 MiB */
#define ML_SEG_MASK    (ML_SEG_SIZE - 1)
#define ML_SLICE_SHIFT 16
#define ML_SLICE_SIZE  ((size_t)1 << ML_SLICE_SHIFT) /* 64 KiB */
#define ML_SLICES      (ML_SEG_SIZE / ML_SLICE_SIZE) /* 64 */
#define ML_ARENA_SIZE  (64 * ML_MIB)
#define ML_ADDR_BITS   47
#define ML_SEGMAP_LEN  ((size_t)1 << (ML_ADDR_BITS - ML_SEG_SHIFT))

#define ML_SMALL_MAX       (128 * ML_KIB) /* largest size class */
#define ML_LARGE_MAX       (2 * ML_MIB)   /* largest block in a segment */
#define ML_HUGE_HDR        (4 * ML_KIB)   /* header of a huge mapping */
#define ML_PAGE_MAX_SLICES 8              /* span of a small page */
#define ML_EXTEND_BYTES    (4 * ML_KIB)   /* free list growth step */

/* A free block: the first word links, the second holds the freed key
 * (which detects most double frees cheaply, see alloc.c). */
struct block {
	struct block *next;
	uintptr_t key;
};

struct heap;

/* A page's remote-free word packs the head of the list (user addresses are
 * below 2^47) and the number of blocks on it (a page holds fewer than 2^16),
 * so that the owner takes the list and its count with one exchange and
 * never walks it: the walk was a cache miss per block freed by another core
 * (37 % of larson's samples, issue 14). */
#define ML_XF_SHIFT    48
#define ML_XF_ONE      ((uintptr_t)1 << ML_XF_SHIFT)
#define ML_XF_PTR(v)   ((struct block *)((v) & (ML_XF_ONE - 1)))
#define ML_XF_COUNT(v) ((uint32_t)((v) >> ML_XF_SHIFT))
_Static_assert(ML_ADDR_BITS <= ML_XF_SHIFT, "xfree head bits");
#define ML_PAGE_MAX_BLOCKS (ML_PAGE_MAX_SLICES * ML_SLICE_SIZE / ML_ALIGN)
_Static_assert(ML_PAGE_MAX_BLOCKS < ((size_t)1 << (64 - ML_XF_SHIFT)), "xfree count bits");

/* page flags: FULL is read by other threads, so it is accessed atomically */
#define ML_PG_FULL    0x1 /* on the heap's full list */
#define ML_PG_ALIGNED 0x2 /* holds blocks returned at an inner offset */

/* A page: blocks of one class in a span of slices, or one large block.
 * Invariants: see "page" and "lists" at the top of this file. */
struct page {
	struct block *free;   /* owner's free list (alloc + local free) */
	uint8_t flags;        /* PG_* */
	uint8_t cls;          /* size class, or MLALLOC_CLASS_LARGE/HUGE */
	uint8_t in_use;       /* page handed to a heap */
	uint8_t slice_offset; /* >0: a tail slice; head is this far back */
	uint8_t is_zero;      /* LARGE: the span was never touched */
	uint32_t used;        /* blocks not on `free`: handed out, incl.
					 * remote frees not yet collected */
	uint32_t capacity;    /* blocks carved so far (used + |free|) */
	uint32_t reserved;    /* blocks that fit in the span */
	uint32_t slices;      /* span in slices */
	size_t block_size;
	uint8_t *start;           /* first block */
	_Atomic uintptr_t xfree;  /* frees from other threads (CAS push;
				   * owner takes all by exchange): the
				   * list head and its length, ML_XF_* */
	struct heap *heap;        /* owner */
	struct page *next, *prev; /* in a heap queue */
};

enum seg_kind {
	ML_SEG_NORMAL = 1,
	ML_SEG_HUGE = 2
};

struct segment {
	uint32_t kind;
	uint32_t arena;               /* index in mlalloc_introspect.arenas */
	struct heap *heap;            /* owner (NORMAL) */
	struct segment *next, *prev;  /* heap's segment list / global cache */
	uint64_t free_mask;           /* bit i: slice i is in no page (never 0) */
	uint64_t dirty_mask;          /* bit i: slice i may be resident; free
					 * & dirty is what a purge returns */
	int64_t purge_at;             /* ms deadline of a pending purge, 0 none */
	uint64_t purge_new;           /* free slices freed since the deadline */
	uint64_t purge_old;           /* free slices free since the one before:
				       * purged at the deadline (segment.c) */
	size_t map_size;              /* HUGE: length of the mapping */
	uint8_t *map_base;            /* HUGE: start of the mapping */
	size_t huge_size;             /* HUGE: usable bytes at pages[0].start */
	struct page pages[ML_SLICES]; /* NORMAL: one per slice; HUGE: [0] */
};

struct queue {
	struct page *first, *last;
};

/* Blocks of other heaps' pages that this thread freed, kept to be reused by
 * its next malloc of the class (the block is in this core's cache: the
 * owner would take a miss per block, and each free a contended CAS).
 * Returned to their pages' xfree, chained per page, when more than `max`
 * are kept, and by collect / thread exit. */
struct rcache {
	struct block *head;
	uint32_t n;   /* blocks on head */
	uint32_t max; /* 0: this class is not cached (large classes, backup heap) */
};
/* per class; -D for the measurement in docs/allocator.md */
#ifndef ML_RCACHE_BYTES
#define ML_RCACHE_BYTES (16 * ML_KIB)
#endif
#define ML_RCACHE_BLOCKS 64
#ifndef ML_RCACHE_MIN
#define ML_RCACHE_MIN 64 /* a cache line */
#endif

struct heap {
	struct mlalloc_heap_stats st;     /* first: published for readers */
	struct page *cur[MLALLOC_NSMALL]; /* fast path: page to allocate from */
	struct rcache rc[MLALLOC_NSMALL]; /* fast path: remote blocks to reuse */
	struct queue q[MLALLOC_NSMALL];   /* pages with (maybe) free blocks */
	struct queue full;                /* pages without free blocks, and large */
	struct segment *segs;             /* owned segments */
	unsigned nsegs;
	atomic_int remote_pending; /* a remote free hit a FULL page */
	int64_t purge_at;          /* earliest pending purge deadline */
	struct heap *next_free;    /* in the abandoned pool */
	pthread_t owner;
};

/* ---- globals (defined in heap.c / segment.c / stats.c) ----------------- */

struct ml_options {
	int64_t purge_delay_ms; /* <0 never, 0 immediately */
	int check;              /* MLALLOC_CHECK */
	int stats;              /* MLALLOC_STATS */
	int thp;                /* MLALLOC_THP: madvise(MADV_HUGEPAGE) */
	size_t huge_cache;      /* bytes of freed huge mappings kept */
	int64_t huge_delay_ms;  /* how long they are kept; <0 forever */
};

extern struct ml_options ml_opt ML_HIDDEN;
extern struct mlalloc_introspect mlalloc_introspect ML_API;
extern uintptr_t ml_key ML_HIDDEN;
extern _Atomic uint8_t ml_segmap[ML_SEGMAP_LEN] ML_HIDDEN;
extern struct page ml_empty_page ML_HIDDEN;
extern __thread struct heap *ml_tls_heap __attribute__((tls_model("initial-exec"))) ML_HIDDEN;
extern struct mlalloc_heap_stats ml_orphan_stats ML_HIDDEN;

/* ---- size classes (size_class.c) --------------------------------------- */

extern const uint32_t ml_class_size[MLALLOC_NSMALL] ML_HIDDEN;

static inline unsigned ml_size_class(size_t n)
{
	if (n <= 128)
		return n <= 16 ? 0 : (unsigned)((n - 1) >> 4);
	/* 4 classes per doubling: (2^b, 2^(b+1)] splits in quarters */
	unsigned b = 63 - __builtin_clzl(n - 1);
	unsigned q = (unsigned)((n - 1 - ((size_t)1 << b)) >> (b - 2));
	return 8 + (b - 7) * 4 + q;
}
unsigned ml_class_slices(unsigned cls) ML_HIDDEN;

/* ---- OS layer (os.c) ---------------------------------------------------- */

void *ml_os_map(size_t size) ML_HIDDEN;
void *ml_os_map_aligned(size_t size, size_t align) ML_HIDDEN;
void ml_os_unmap(void *p, size_t size) ML_HIDDEN;
void ml_os_purge(void *p, size_t size) ML_HIDDEN;
int64_t ml_now_ms(void) ML_HIDDEN;
void ml_write(int fd, const char *s) ML_HIDDEN;
__attribute__((noreturn)) void ml_fatal(const char *what, const void *p) ML_HIDDEN;
__attribute__((noreturn)) void ml_assert_fail(const char *what) ML_HIDDEN;
/* The global locks (listed, with what each guards and their order, above
 * the fork handlers in heap.c).  No-ops on the thread that is forking,
 * which owns them all until its parent/child handler runs. */
void ml_lock(pthread_mutex_t *m) ML_HIDDEN;
void ml_unlock(pthread_mutex_t *m) ML_HIDDEN;
unsigned ml_gettid(void) ML_HIDDEN;

/* ---- arenas and segments (segment.c) ------------------------------------ */

extern pthread_mutex_t ml_pool_lock ML_HIDDEN;
extern pthread_mutex_t ml_arena_lock ML_HIDDEN;
void ml_arena_move(int idx, uint64_t base, uint64_t size) ML_HIDDEN;
struct segment *ml_segment_alloc(struct heap *h) ML_HIDDEN;
void ml_segment_release(struct heap *h, struct segment *s, unsigned reason) ML_HIDDEN;
struct page *ml_span_alloc(struct heap *h, unsigned slices) ML_HIDDEN;
void ml_span_free(struct heap *h, struct page *pg) ML_HIDDEN;
void ml_heap_purge(struct heap *h, bool force) ML_HIDDEN;
void ml_heap_purge_defer(struct heap *h) ML_HIDDEN;
void ml_heap_release_empty(struct heap *h) ML_HIDDEN;
int ml_arena_add(uint64_t base, uint64_t size, uint32_t role) ML_HIDDEN;
void ml_arena_del(int idx) ML_HIDDEN;
void ml_arena_update(int idx, int64_t committed, int64_t used) ML_HIDDEN;
void ml_segmap_set(uintptr_t seg, size_t size, bool on) ML_HIDDEN;

static inline struct segment *ml_ptr_segment(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (ML_UNLIKELY(a >> ML_ADDR_BITS))
		return NULL;
	uint8_t v = atomic_load_explicit(&ml_segmap[a >> ML_SEG_SHIFT], memory_order_relaxed);
	if (ML_UNLIKELY(!v))
		return NULL;
	return (struct segment *)(((a >> ML_SEG_SHIFT) - (v - 1)) << ML_SEG_SHIFT);
}

static inline struct page *ml_segment_page(struct segment *s, const void *p)
{
	if (s->kind != ML_SEG_NORMAL)
		return &s->pages[0];
	struct page *pg = &s->pages[((uintptr_t)p - (uintptr_t)s) >> ML_SLICE_SHIFT];
	return pg - pg->slice_offset;
}

/* ---- pages (page.c) ----------------------------------------------------- */

void *ml_malloc_slow(struct heap *h, unsigned cls) ML_HIDDEN;
void ml_page_free_slow(struct heap *h, struct page *pg, struct block *b) ML_HIDDEN;
void ml_page_collect_remote(struct heap *h) ML_HIDDEN;
void ml_heap_collect(struct heap *h, bool force) ML_HIDDEN;
void ml_rcache_flush(struct heap *h, unsigned cls) ML_HIDDEN;
void ml_rcache_init(struct heap *h) ML_HIDDEN;

/* Push the chain first..last (n blocks) onto pg's remote list, then tell
 * the owner if the page is FULL (the handshake argued in page.c).  The
 * owner is read before the push: after it the page may be collected,
 * retired and reused (reading its flags then is harmless, segments are
 * never unmapped, and raises at worst a spurious remote_pending). */
static inline void ml_page_push_xfree(struct page *pg, struct block *first, struct block *last,
				      uint32_t n)
{
	struct heap *owner = pg->heap;
	uintptr_t old = atomic_load_explicit(&pg->xfree, memory_order_relaxed), nv;
	do {
		last->next = ML_XF_PTR(old);
		nv = (uintptr_t)first | ((old & ~(ML_XF_ONE - 1)) + (uintptr_t)n * ML_XF_ONE);
	} while (!atomic_compare_exchange_weak_explicit(&pg->xfree, &old, nv, memory_order_seq_cst,
							memory_order_relaxed));
	if (__atomic_load_n(&pg->flags, __ATOMIC_SEQ_CST) & ML_PG_FULL)
		atomic_store_explicit(&owner->remote_pending, 1, memory_order_relaxed);
}
#ifdef ML_DEBUG
void ml_page_check(const struct page *pg) ML_HIDDEN;
#else
static inline void ml_page_check(const struct page *pg)
{
	(void)pg;
}
#endif
void *ml_large_alloc(struct heap *h, size_t n) ML_HIDDEN;

static inline void queue_push(struct queue *q, struct page *pg)
{
	pg->prev = NULL;
	pg->next = q->first;
	if (q->first)
		q->first->prev = pg;
	else
		q->last = pg;
	q->first = pg;
}

static inline void queue_remove(struct queue *q, struct page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		q->first = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	else
		q->last = pg->prev;
	pg->next = pg->prev = NULL;
}

/* ---- heaps (heap.c) ----------------------------------------------------- */

struct heap *ml_heap_get_slow(void) ML_HIDDEN;
void ml_init(void) ML_HIDDEN;
extern atomic_int ml_inited ML_HIDDEN;
extern pthread_mutex_t ml_backup_lock ML_HIDDEN;
/* >0: this thread is forking and owns every global lock (heap.c) */
extern __thread unsigned ml_tls_fork_held __attribute__((tls_model("initial-exec"))) ML_HIDDEN;
extern struct heap ml_backup_heap ML_HIDDEN;

/* ---- huge blocks (huge.c) ----------------------------------------------- */

extern pthread_mutex_t ml_huge_lock ML_HIDDEN;
void *ml_huge_alloc(size_t n, size_t align, bool zero) ML_HIDDEN;
void ml_huge_free(struct segment *s) ML_HIDDEN;
void *ml_huge_realloc(struct segment *s, void *p, size_t n) ML_HIDDEN;
void ml_huge_trim(void) ML_HIDDEN;

/* ---- the decision ring (events.c) --------------------------------------- */

extern struct mlalloc_events ml_events ML_HIDDEN;
/* syscalls this thread made through os.c and huge.c; its cached tid */
extern __thread uint32_t ml_tls_calls __attribute__((tls_model("initial-exec"))) ML_HIDDEN;
extern __thread uint32_t ml_tls_tid __attribute__((tls_model("initial-exec"))) ML_HIDDEN;

/* A decision under way: ml_ev_start before its first syscall, ml_ev_end
 * after its last one writes the event. */
struct ml_ev {
	uint64_t t0;
	uint32_t calls0;
};

uint64_t ml_now_ns(void) ML_HIDDEN;

/* -DML_NO_EVENTS: the ring compiled out, for its cost (docs/allocator.md) */
#ifndef ML_NO_EVENTS
#define ML_COUNT_CALL() (ml_tls_calls++)

static inline void ml_ev_start(struct ml_ev *e)
{
	e->t0 = ml_now_ns();
	e->calls0 = ml_tls_calls;
}

void ml_ev_end(const struct ml_ev *e, unsigned kind, unsigned reason, const void *addr,
	       size_t bytes, int64_t delay_ms, int64_t late_ms) ML_HIDDEN;
#else
#define ML_COUNT_CALL() ((void)0)

static inline void ml_ev_start(struct ml_ev *e)
{
	(void)e;
}

#define ml_ev_end(e, kind, reason, addr, bytes, delay, late) ((void)(e), (void)(bytes))
#endif

/* ---- stats (stats.c) ---------------------------------------------------- */

void ml_stats_init(void) ML_HIDDEN;

#endif /* MLALLOC_TYPES_H */
