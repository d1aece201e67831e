// SPDX-License-Identifier: GPL-2.0
/*
 * huge.c - blocks above 2 MiB, mapped directly.
 *
 * A huge block gets a mapping of its own, aligned to 4 MiB so that segmap
 * finds its header; the first 4 KiB (or `align` bytes) hold a segment
 * header of kind ML_SEG_HUGE and the block follows.  Each mapping is an arena
 * of role MLALLOC_ARENA_HUGE in the published table.
 *
 * munmap + mmap + page faults for every huge block would make programs that
 * repeatedly allocate big buffers pay the kernel each time, so a few freed
 * mappings (MLALLOC_HUGE_CACHE bytes, default 128 MiB) are kept, resident,
 * for MLALLOC_HUGE_DELAY ms (default 1 s) and reused for any request: the
 * smallest that holds it, used whole unless it is more than ML_HUGE_WASTE
 * times bigger (then shrunk: mremap unmaps the tail), else the biggest,
 * grown with mremap (keeping the resident pages, adding fresh ones).  Growing realloc moves pages
 * with mremap instead of copying.
 * These paths take ml_huge_lock only around the cache.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mlalloc_types.h"

pthread_mutex_t ml_huge_lock = PTHREAD_MUTEX_INITIALIZER;

#define ML_HUGE_CACHE_SLOTS 16
/* see cache_take; -D for the measurement in docs/allocator.md */
#ifndef ML_HUGE_WASTE
#define ML_HUGE_WASTE 4
#endif

static struct {
	struct segment *s;
	int64_t since;
} cache[ML_HUGE_CACHE_SLOTS];
static size_t cache_bytes;

_Static_assert(offsetof(struct segment, pages[1]) <= ML_HUGE_HDR, "huge header");

static struct segment *huge_resize(struct segment *s, size_t need);

static size_t map_len(size_t need)
{
	return (need + 4095) & ~(size_t)4095;
}

/* @reason: enum mlalloc_unmap_reason, for the ring. */
static void huge_unmap(struct segment *s, unsigned reason)
{
	size_t size = s->map_size;
	struct ml_ev ev;

	ml_segmap_set((uintptr_t)s, size, false);
	ml_arena_del((int)s->arena);
	ml_ev_start(&ev);
	ml_os_unmap(s, size);
	ml_ev_end(&ev, MLALLOC_EV_HUGE_UNMAP, reason, s, size,
		  reason == MLALLOC_UNMAP_EXPIRED ? ml_opt.huge_delay_ms : ml_opt.purge_delay_ms,
		  0);
}

/* old[0..nexp) expired, old[nexp..n) evicted */
static void unmap_old(struct segment **old, int nexp, int n)
{
	for (int i = 0; i < n; i++)
		huge_unmap(old[i], i < nexp ? MLALLOC_UNMAP_EXPIRED : MLALLOC_UNMAP_EVICTED);
}

/* Drop cached mappings older than the purge delay (all if `all`). */
static void cache_expire(bool all, struct segment **out, int *nout)
{
	int64_t now = all ? 0 : ml_now_ms();
	for (int i = 0; i < ML_HUGE_CACHE_SLOTS; i++) {
		if (!cache[i].s)
			continue;
		if (all ||
		    (ml_opt.huge_delay_ms >= 0 && now - cache[i].since >= ml_opt.huge_delay_ms)) {
			out[(*nout)++] = cache[i].s;
			cache_bytes -= cache[i].s->map_size;
			cache[i].s = NULL;
		}
	}
}

static struct segment *cache_take(size_t need)
{
	struct segment *got = NULL, *old[ML_HUGE_CACHE_SLOTS];
	int nold = 0, best = -1;

	if (!cache_bytes)
		return NULL;
	ml_lock(&ml_huge_lock);
	cache_expire(false, old, &nold);
	/* The smallest mapping that holds the request, used whole (its pages
	 * are resident: cutting the tail would make the next bigger request
	 * fault them in again), else the biggest, grown (fewest pages to
	 * fault in).  One more than ML_HUGE_WASTE times the request is
	 * shrunk to it instead. */
	for (int i = 0; i < ML_HUGE_CACHE_SLOTS; i++) {
		struct segment *s = cache[i].s;
		if (!s)
			continue;
		struct segment *b = best >= 0 ? cache[best].s : NULL;
		if (!b || (s->map_size >= need ? b->map_size < need || s->map_size < b->map_size :
						 b->map_size < need && s->map_size > b->map_size))
			best = i;
	}
	if (best >= 0) {
		got = cache[best].s;
		cache[best].s = NULL;
		cache_bytes -= got->map_size;
	}
	ml_unlock(&ml_huge_lock);
	unmap_old(old, nold, nold);
	return got;
}

void *ml_huge_alloc(size_t n, size_t align, bool zero)
{
	size_t off = align > ML_HUGE_HDR ? align : ML_HUGE_HDR;

	/* segmap marks 255 chunks: the user pointer must be within them */
	if (off > 254 * ML_SEG_SIZE || n > PTRDIFF_MAX - off - ML_SEG_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	/* at least one byte past the header, or p would be off the end */
	size_t need = map_len(off + (n ? n : 1));
	/* cached mappings are 4 MiB-aligned: no use for a bigger alignment */
	struct segment *s = align <= ML_SEG_SIZE ? cache_take(need) : NULL;
	struct ml_ev ev;

	if (s) {
		ml_ev_start(&ev);
		ml_ev_end(&ev, MLALLOC_EV_HUGE_REUSE, 0, s, s->map_size, ml_opt.huge_delay_ms, 0);
	}
	if (s && (s->map_size < need || s->map_size / ML_HUGE_WASTE > need)) {
		int saved = errno;
		struct segment *r = huge_resize(s, need);
		errno = saved;
		if (!r)
			huge_unmap(s, MLALLOC_UNMAP_FAILED);
		s = r;
	}
	bool fresh = !s;

	if (s) {
		if (zero)
			memset((uint8_t *)s + off, 0, n);
		ml_arena_update((int)s->arena, 0, 0);
		if ((int)s->arena >= 0)
			__atomic_store_n(&mlalloc_introspect.arenas[s->arena].role,
					 MLALLOC_ARENA_HUGE, __ATOMIC_RELEASE);
	} else {
		ml_ev_start(&ev);
		s = ml_os_map_aligned(need, align > ML_SEG_SIZE ? align : ML_SEG_SIZE);
		if (!s) {
			errno = ENOMEM;
			return NULL;
		}
		ml_ev_end(&ev, MLALLOC_EV_HUGE_MAP, 0, s, need, 0, 0);
		s->map_size = need;
		s->map_base = (uint8_t *)s;
		s->arena = (uint32_t)ml_arena_add((uintptr_t)s, need, MLALLOC_ARENA_HUGE);
		ml_arena_update((int)s->arena, (int64_t)need, 0);
		s->kind = ML_SEG_HUGE;
		ml_segmap_set((uintptr_t)s, need, true);
	}
	struct page *pg = &s->pages[0];
	pg->start = (uint8_t *)s + off;
	pg->cls = MLALLOC_CLASS_HUGE;
	pg->block_size = s->map_size - off;
	pg->is_zero = fresh;
	pg->slice_offset = 0;
	pg->heap = NULL;
	s->huge_size = pg->block_size;
	if ((int)s->arena >= 0)
		__atomic_store_n(&mlalloc_introspect.arenas[s->arena].used, s->huge_size,
				 __ATOMIC_RELAXED);
	__atomic_store_n(&pg->in_use, 1, __ATOMIC_RELEASE);
	return pg->start;
}

void ml_huge_free(struct segment *s)
{
	struct page *pg = &s->pages[0];
	struct segment *old[ML_HUGE_CACHE_SLOTS];
	int nold = 0;

	if (!__atomic_exchange_n(&pg->in_use, 0, __ATOMIC_ACQ_REL))
		ml_fatal("free(): double free of a huge block", pg->start);
	if ((int)s->arena >= 0)
		__atomic_store_n(&mlalloc_introspect.arenas[s->arena].used, 0, __ATOMIC_RELAXED);
	if (s->map_size > ml_opt.huge_cache || ml_opt.purge_delay_ms == 0) {
		huge_unmap(s, MLALLOC_UNMAP_FREE);
		return;
	}
	ml_lock(&ml_huge_lock);
	cache_expire(false, old, &nold);
	int nexp = nold;
	while (cache_bytes + s->map_size > ml_opt.huge_cache) {
		/* evict the oldest to make room */
		int o = -1;
		for (int i = 0; i < ML_HUGE_CACHE_SLOTS; i++)
			if (cache[i].s && (o < 0 || cache[i].since < cache[o].since))
				o = i;
		old[nold++] = cache[o].s;
		cache_bytes -= cache[o].s->map_size;
		cache[o].s = NULL;
	}
	int slot = -1;
	for (int i = 0; i < ML_HUGE_CACHE_SLOTS && slot < 0; i++)
		if (!cache[i].s)
			slot = i;
	if (slot < 0) {
		int o = 0;
		for (int i = 1; i < ML_HUGE_CACHE_SLOTS; i++)
			if (cache[i].since < cache[o].since)
				o = i;
		old[nold++] = cache[o].s;
		cache_bytes -= cache[o].s->map_size;
		cache[o].s = NULL;
		slot = o;
	}
	cache[slot].s = s;
	cache[slot].since = ml_now_ms();
	cache_bytes += s->map_size;
	if ((int)s->arena >= 0)
		__atomic_store_n(&mlalloc_introspect.arenas[s->arena].role,
				 MLALLOC_ARENA_HUGE_CACHED, __ATOMIC_RELEASE);
	ml_unlock(&ml_huge_lock);
	unmap_old(old, nexp, nold);
}

/* Unmap every cached mapping (mlalloc_collect, exit). */
void ml_huge_trim(void)
{
	struct segment *old[ML_HUGE_CACHE_SLOTS];
	int nold = 0;

	ml_lock(&ml_huge_lock);
	cache_expire(true, old, &nold);
	ml_unlock(&ml_huge_lock);
	for (int i = 0; i < nold; i++)
		huge_unmap(old[i], MLALLOC_UNMAP_TRIM);
}

/* Change the mapping of `s` to `need` bytes: in place, or moved to a new
 * 4 MiB-aligned range with its pages (mremap never copies).  Returns the
 * header at its new address, NULL if the kernel refused (s unchanged).
 * Only the mapping and its accounting change; the caller sets the block. */
static struct segment *huge_resize(struct segment *s, size_t need)
{
	size_t old = s->map_size;
	struct ml_ev ev;

	ml_ev_start(&ev);
	/* The range's segmap entries are cleared before mremap, not after:
	 * once the kernel has released the old range (a tail, or all of it on
	 * a move), another thread's new mapping may land there and set its
	 * own entries, which a late clear would wipe (a live huge block
	 * "not allocated by mlalloc", seen in cross_thread_random_sizes).
	 * Nobody else looks this block up meanwhile: it is cached, or
	 * the caller's realloc owns it. */
	ml_segmap_set((uintptr_t)s, old, false);
	void *q = mremap(s, old, need, 0);
	ML_COUNT_CALL();
	if (q == MAP_FAILED) {
		/* Reserve an aligned range and move the pages there. */
		void *r = ml_os_map_aligned(need, ML_SEG_SIZE);
		if (r) {
			q = mremap(s, old, need, MREMAP_MAYMOVE | MREMAP_FIXED, r);
			ML_COUNT_CALL();
		}
		if (q == MAP_FAILED) {
			if (r)
				ml_os_unmap(r, need);
			ml_segmap_set((uintptr_t)s, old, true);
			ml_ev_end(&ev, MLALLOC_EV_HUGE_RESIZE, 0, s, old, 0, 0);
			return NULL;
		}
		/* r was replaced, s is gone: account as one mapping of `need` */
		__atomic_fetch_sub(&mlalloc_introspect.reserved, old, __ATOMIC_RELAXED);
		s = q;
		ml_segmap_set((uintptr_t)s, need, true);
	} else {
		__atomic_fetch_add(&mlalloc_introspect.reserved, need - old, __ATOMIC_RELAXED);
		ml_segmap_set((uintptr_t)s, need, true);
	}
	s->map_size = need;
	s->map_base = (uint8_t *)s;
	ml_arena_move((int)s->arena, (uintptr_t)s, need);
	if ((int)s->arena >= 0)
		__atomic_store_n(&mlalloc_introspect.arenas[s->arena].committed, need,
				 __ATOMIC_RELAXED);
	ml_ev_end(&ev, MLALLOC_EV_HUGE_RESIZE, 0, s, need, 0, 0);
	return s;
}

/* Resize in place or move the pages with mremap; NULL: let the caller copy.
 * errno is left as it was: the in-place attempt failing is the common case
 * of a growing realloc, not an error (the caller sets ENOMEM if its
 * fallback fails too). */
void *ml_huge_realloc(struct segment *s, void *p, size_t n)
{
	size_t off = (size_t)((uint8_t *)p - (uint8_t *)s);
	if (n > PTRDIFF_MAX - off - ML_SEG_SIZE)
		return NULL;
	size_t need = map_len(off + n);
	size_t old = s->map_size;
	int saved = errno;

	if (need <= old && need >= old / 2)
		return p;
	s = huge_resize(s, need);
	errno = saved;
	if (!s)
		return NULL;
	struct page *pg = &s->pages[0];
	pg->start = (uint8_t *)s + off;
	pg->block_size = need - off;
	s->huge_size = pg->block_size;
	if ((int)s->arena >= 0)
		__atomic_store_n(&mlalloc_introspect.arenas[s->arena].used, s->huge_size,
				 __ATOMIC_RELAXED);
	return pg->start;
}
