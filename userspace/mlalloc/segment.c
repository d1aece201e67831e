// SPDX-License-Identifier: GPL-2.0
/*
 * segment.c - arenas, segments, slices, and the purge policy.
 *
 * Arenas are 64 MiB mappings aligned to 4 MiB, so every 2 MiB of them can be
 * backed by a transparent huge page (MLALLOC_THP=1 asks for it with
 * MADV_HUGEPAGE).  They are carved into 4 MiB segments, and a segment
 * belongs to one thread heap: carving pages out of it and giving them back
 * needs no lock.  Only taking a segment (from the global cache or a fresh
 * arena) takes ml_pool_lock, once per 4 MiB.
 *
 * Within a segment, slices are tracked with two 64-bit masks: free_mask
 * (slice available) and dirty_mask (slice touched since it was last purged).
 * A page is a run of consecutive free bits, found with shifts and ANDs.
 *
 * Purge policy.  When a page is emptied its slices go back to the segment
 * but stay resident ("dirty"), because the heap is likely to want them
 * again soon.  The segment is purged (madvise(MADV_DONTNEED) on every free
 * dirty run) once MLALLOC_PURGE_DELAY milliseconds have passed, checked on
 * the heap's slow paths.  0 purges at once, a negative value never.  An
 * entirely free segment other than the heap's last one is purged and
 * handed to the global cache, from which any thread may take it.  Segments
 * are never unmapped: other threads may still read a page header while
 * freeing into it (see page.c), and the address space is cheap.
 */
#include <string.h>

#include "mlalloc_types.h"

pthread_mutex_t ml_pool_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t ml_arena_lock = PTHREAD_MUTEX_INITIALIZER;

_Atomic uint8_t ml_segmap[ML_SEGMAP_LEN];

static struct segment *seg_cache; /* free segments, purged */
static int cur_arena = -1;        /* arena being carved */
static uint8_t *cur_arena_base;
static size_t cur_arena_off;

#define ML_ALL_SLICES (~(uint64_t)1) /* slice 0 is the header */
#define ML_HDR_COMMIT ((sizeof(struct segment) + 4095) & ~(size_t)4095)

/* ---- arena table (the published part) --------------------------------- */

static void gen_bump(void)
{
	__atomic_fetch_add(&mlalloc_introspect.generation, 1, __ATOMIC_RELEASE);
}

int ml_arena_add(uint64_t base, uint64_t size, uint32_t role)
{
	int idx = -1;

	ml_lock(&ml_arena_lock);
	for (unsigned i = 0; i < MLALLOC_MAX_ARENAS; i++) {
		if (mlalloc_introspect.arenas[i].role == MLALLOC_ARENA_FREE) {
			idx = (int)i;
			break;
		}
	}
	if (idx >= 0) {
		struct mlalloc_arena *a = &mlalloc_introspect.arenas[idx];
		gen_bump();
		a->base = base;
		a->size = size;
		a->segments = 0;
		a->committed = 0;
		a->used = 0;
		a->purges = 0;
		a->purged = 0;
		__atomic_store_n(&a->role, role, __ATOMIC_RELEASE);
		if ((uint32_t)idx >= mlalloc_introspect.narenas)
			mlalloc_introspect.narenas = (uint32_t)idx + 1;
		gen_bump();
	}
	ml_unlock(&ml_arena_lock);
	return idx; /* -1: table full, the memory is just not listed */
}

void ml_arena_del(int idx)
{
	if (idx < 0)
		return;
	ml_lock(&ml_arena_lock);
	gen_bump();
	__atomic_store_n(&mlalloc_introspect.arenas[idx].role, MLALLOC_ARENA_FREE,
			 __ATOMIC_RELEASE);
	gen_bump();
	ml_unlock(&ml_arena_lock);
}

void ml_arena_move(int idx, uint64_t base, uint64_t size)
{
	if (idx < 0)
		return;
	ml_lock(&ml_arena_lock);
	gen_bump();
	mlalloc_introspect.arenas[idx].base = base;
	mlalloc_introspect.arenas[idx].size = size;
	gen_bump();
	ml_unlock(&ml_arena_lock);
}

void ml_arena_update(int idx, int64_t committed, int64_t used)
{
	if (idx < 0)
		return;
	struct mlalloc_arena *a = &mlalloc_introspect.arenas[idx];
	if (committed)
		__atomic_fetch_add(&a->committed, (uint64_t)committed, __ATOMIC_RELAXED);
	if (used)
		__atomic_fetch_add(&a->used, (uint64_t)used, __ATOMIC_RELAXED);
}

static void arena_purged(int idx, size_t len)
{
	if (idx < 0)
		return;
	struct mlalloc_arena *a = &mlalloc_introspect.arenas[idx];
	__atomic_fetch_add(&a->purges, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&a->purged, len, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&a->committed, len, __ATOMIC_RELAXED);
}

/* segmap entry k chunks into a mapping says "segment starts k chunks back"
 * (stored as k + 1).  Only the first 255 chunks are marked: user pointers
 * of huge blocks are always within them (see huge.c). */
void ml_segmap_set(uintptr_t seg, size_t size, bool on)
{
	size_t n = (size + ML_SEG_SIZE - 1) >> ML_SEG_SHIFT;
	if (n > 255)
		n = 255;
	for (size_t k = 0; k < n; k++)
		atomic_store_explicit(&ml_segmap[(seg >> ML_SEG_SHIFT) + k],
				      on ? (uint8_t)(k + 1) : 0, memory_order_release);
}

/* ---- segments ------------------------------------------------------------ */

/* Purge @mask's slices of @s: one event of @kind for @reason (the ring). */
static void segment_purge(struct segment *s, uint64_t mask, unsigned kind, unsigned reason,
			  int64_t late_ms)
{
	struct ml_ev ev;
	size_t bytes = 0;

	mask &= ML_ALL_SLICES;
	ML_ASSERT(!(mask & ~s->free_mask)); /* only free slices are purged */
	if (!mask)
		return;
	ml_ev_start(&ev);
	while (mask) {
		unsigned i = (unsigned)__builtin_ctzll(mask);
		unsigned j = i;
		while (j < ML_SLICES && (mask >> j) & 1)
			j++;
		size_t len = (size_t)(j - i) * ML_SLICE_SIZE;
		ml_os_purge((uint8_t *)s + (size_t)i * ML_SLICE_SIZE, len);
		arena_purged((int)s->arena, len);
		bytes += len;
		uint64_t run = (j - i == 64) ? ~0ULL : (((1ULL << (j - i)) - 1) << i);
		s->dirty_mask &= ~run;
		mask &= ~run;
	}
	ml_ev_end(&ev, kind, reason, s, bytes, ml_opt.purge_delay_ms, late_ms);
}

struct segment *ml_segment_alloc(struct heap *h)
{
	struct segment *s;

	ml_lock(&ml_pool_lock);
	s = seg_cache;
	if (s) {
		seg_cache = s->next;
	} else {
		if (!cur_arena_base || cur_arena_off >= ML_ARENA_SIZE) {
			struct ml_ev ev;

			ml_ev_start(&ev);
			uint8_t *a = ml_os_map_aligned(ML_ARENA_SIZE, ML_SEG_SIZE);
			if (!a) {
				ml_unlock(&ml_pool_lock);
				return NULL;
			}
			ml_ev_end(&ev, MLALLOC_EV_ARENA_MAP, 0, a, ML_ARENA_SIZE, 0, 0);
			/* -1 when the table is full: the arena is not listed */
			cur_arena =
				ml_arena_add((uintptr_t)a, ML_ARENA_SIZE, MLALLOC_ARENA_SEGMENTS);
			cur_arena_base = a;
			cur_arena_off = 0;
		}
		s = (struct segment *)(cur_arena_base + cur_arena_off);
		cur_arena_off += ML_SEG_SIZE;
		s->arena = (uint32_t)cur_arena;
		ml_segmap_set((uintptr_t)s, ML_SEG_SIZE, true);
		ml_arena_update(cur_arena, ML_HDR_COMMIT, 0);
	}
	if ((int)s->arena >= 0)
		__atomic_fetch_add(&mlalloc_introspect.arenas[s->arena].segments, 1,
				   __ATOMIC_RELAXED);
	ml_unlock(&ml_pool_lock);

	uint32_t arena = s->arena;
	memset(s, 0, sizeof(*s));
	s->kind = ML_SEG_NORMAL;
	s->arena = arena;
	s->heap = h;
	s->free_mask = ML_ALL_SLICES;
	s->dirty_mask = 1; /* the header */
	s->next = h->segs;
	if (h->segs)
		h->segs->prev = s;
	h->segs = s;
	h->nsegs++;
	return s;
}

/* An empty segment leaves its heap: purged, then cached for any thread.
 * @reason: enum mlalloc_purge_reason, for the ring. */
void ml_segment_release(struct heap *h, struct segment *s, unsigned reason)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->segs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsegs--;
	segment_purge(s, s->dirty_mask, MLALLOC_EV_SEG_RELEASE, reason,
		      reason == MLALLOC_PURGE_DEADLINE && s->purge_at ? ml_now_ms() - s->purge_at :
									0);
	s->purge_at = 0;
	s->purge_old = s->purge_new = 0;
	s->heap = NULL;
	ml_lock(&ml_pool_lock);
	if ((int)s->arena >= 0)
		__atomic_fetch_sub(&mlalloc_introspect.arenas[s->arena].segments, 1,
				   __ATOMIC_RELAXED);
	s->next = seg_cache;
	seg_cache = s;
	ml_unlock(&ml_pool_lock);
}

/* Lowest run of n free slices: bit i of m survives iff slices i..i+n-1 are
 * all free. */
static int find_run(uint64_t free, unsigned n)
{
	uint64_t m = free;
	for (unsigned k = 1; k < n && m; k++)
		m &= free >> k;
	return m ? __builtin_ctzll(m) : -1;
}

struct page *ml_span_alloc(struct heap *h, unsigned n)
{
	struct segment *s;
	int i = -1;

	/* resident slices first: a run of fresh ones faults every page in */
	for (s = h->segs; s; s = s->next) {
		i = find_run(s->free_mask & s->dirty_mask, n);
		if (i >= 0)
			break;
	}
	for (s = s ? s : h->segs; s && i < 0; s = s->next) {
		i = find_run(s->free_mask, n);
		if (i >= 0)
			break;
	}
	if (!s) {
		s = ml_segment_alloc(h);
		if (!s)
			return NULL;
		i = find_run(s->free_mask, n);
	}
	uint64_t run = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << i;
	ML_ASSERT(i >= 1 && (s->free_mask & run) == run && s->heap == h);
	s->free_mask &= ~run;
	s->purge_old &= ~run;
	s->purge_new &= ~run;
	uint64_t fresh = run & ~s->dirty_mask;
	s->dirty_mask |= run;
	ml_arena_update((int)s->arena,
			(int64_t)__builtin_popcountll(fresh) * (int64_t)ML_SLICE_SIZE,
			(int64_t)n * (int64_t)ML_SLICE_SIZE);

	struct page *pg = &s->pages[i];
	for (unsigned k = 1; k < n; k++)
		s->pages[i + k].slice_offset = (uint8_t)k;
	pg->slice_offset = 0;
	pg->is_zero = fresh == run;
	pg->slices = n;
	pg->start = (uint8_t *)s + (size_t)i * ML_SLICE_SIZE;
	pg->heap = h;
	pg->in_use = 1;
	pg->flags = 0;
	pg->free = NULL;
	pg->used = 0;
	pg->capacity = 0;
	pg->next = pg->prev = NULL;
	atomic_store_explicit(&pg->xfree, 0, memory_order_relaxed);
	return pg;
}

void ml_span_free(struct heap *h, struct page *pg)
{
	struct segment *s = (struct segment *)((uintptr_t)pg & ~ML_SEG_MASK);
	unsigned i = (unsigned)(pg - s->pages);
	unsigned n = pg->slices;
	uint64_t run = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << i;

	ML_ASSERT(pg->in_use && pg->heap == h && s->heap == h);
	ML_ASSERT(!(s->free_mask & run) && !(run & ~ML_ALL_SLICES));
	pg->in_use = 0;
	pg->heap = NULL;
	s->free_mask |= run;
	ml_arena_update((int)s->arena, 0, -(int64_t)n * (int64_t)ML_SLICE_SIZE);

	/* An entirely free segment waits for the purge deadline like any free
	 * slice, and is released to the global cache when it is purged
	 * (ml_heap_purge): releasing it at once made a program that frees
	 * and allocates large blocks fault every page of each one in again
	 * (`large`, docs/allocator.md). */
	if (s->free_mask == ML_ALL_SLICES && h->nsegs > 1 && ml_opt.purge_delay_ms == 0) {
		ml_segment_release(h, s, MLALLOC_PURGE_NOW);
		return;
	}
	if (ml_opt.purge_delay_ms == 0) {
		segment_purge(s, run, MLALLOC_EV_PURGE, MLALLOC_PURGE_NOW, 0);
	} else if (ml_opt.purge_delay_ms > 0) {
		s->purge_new |= run;
		if (!s->purge_at) {
			s->purge_at = ml_now_ms() + ml_opt.purge_delay_ms;
			if (!h->purge_at || s->purge_at < h->purge_at)
				h->purge_at = s->purge_at;
		}
	}
}

/* A thread adopts an exited thread's heap: the free slices that thread
 * left get a full purge delay from now, since the adopter is about to
 * allocate again (purging them at the old deadline made it fault them back
 * in: mstress, docs/allocator.md). */
void ml_heap_purge_defer(struct heap *h)
{
	if (!h->purge_at || ml_opt.purge_delay_ms <= 0)
		return;
	int64_t at = ml_now_ms() + ml_opt.purge_delay_ms;
	for (struct segment *s = h->segs; s; s = s->next) {
		if (s->purge_at)
			s->purge_at = at;
		s->purge_new |= s->purge_old;
		s->purge_old = 0;
	}
	h->purge_at = at;
}

/* Release the heap's entirely free segments but one (thread exit: a heap
 * nobody adopts keeps no empty segment resident). */
void ml_heap_release_empty(struct heap *h)
{
	for (struct segment *s = h->segs, *n; s && h->nsegs > 1; s = n) {
		n = s->next;
		if (s->free_mask == ML_ALL_SLICES)
			ml_segment_release(h, s, MLALLOC_PURGE_EXIT);
	}
}

/*
 * Purge what has been free for a whole purge delay (everything if `force`).
 * Each segment's free dirty slices are in two generations: purge_new, freed
 * since the segment's last deadline, and purge_old, free since the one
 * before, not reused since (ml_span_alloc clears both).  At a deadline the
 * old ones are purged and the new ones become old; so a slice is purged
 * between one and two delays after it was freed, never just after (one
 * deadline for all made `large` fault its blocks in again, see
 * docs/allocator.md).  An entirely free segment (but the heap's last)
 * whose free slices are all old goes to the global cache.
 */
void ml_heap_purge(struct heap *h, bool force)
{
	int64_t now = force ? 0 : ml_now_ms();
	int64_t next = 0;

	if (!force && (!h->purge_at || now < h->purge_at))
		return;
	for (struct segment *s = h->segs, *n; s; s = n) {
		n = s->next;
		ML_ASSERT(!((s->purge_new | s->purge_old) & ~s->free_mask));
		ML_ASSERT(!(s->purge_new & s->purge_old));
		ML_ASSERT(s->purge_at || !(s->purge_new | s->purge_old));
		if (!force && !(s->purge_at && now >= s->purge_at)) {
			if (s->purge_at && (!next || s->purge_at < next))
				next = s->purge_at;
			continue;
		}
		uint64_t idle = s->free_mask & s->dirty_mask;
		if (!force)
			idle &= s->purge_old;
		if (s->free_mask == ML_ALL_SLICES && h->nsegs > 1 &&
		    !(s->free_mask & s->dirty_mask & ~idle)) {
			/* purges it */
			ml_segment_release(h, s,
					   force ? MLALLOC_PURGE_COLLECT : MLALLOC_PURGE_DEADLINE);
			continue;
		}
		segment_purge(s, idle, MLALLOC_EV_PURGE,
			      force ? MLALLOC_PURGE_COLLECT : MLALLOC_PURGE_DEADLINE,
			      force ? 0 : now - s->purge_at);
		s->purge_old = force ? 0 : s->purge_new & s->free_mask & s->dirty_mask;
		s->purge_new = 0;
		s->purge_at = s->purge_old ? now + ml_opt.purge_delay_ms : 0;
		if (s->purge_at && (!next || s->purge_at < next))
			next = s->purge_at;
	}
	h->purge_at = next;
}
