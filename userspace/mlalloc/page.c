// SPDX-License-Identifier: GPL-2.0
/*
 * page.c - pages of one size class, and the slow paths around them.
 *
 * A page has two free lists:
 *   free   used only by the owning thread: malloc pops, a local free pushes;
 *   xfree  frees from other threads, pushed with a compare-and-swap and
 *          taken back by the owner with one exchange.
 * So the fast paths touch only the page, and no lock is ever taken for a
 * block.
 *
 * A heap keeps, per class, a queue of pages that may have free blocks and
 * h->cur[cls], the page malloc pops from.  When no page of the queue has a
 * block left, the page is marked ML_PG_FULL and moved to the heap's full list,
 * where the slow path does not have to look at it again.  A remote free
 * into a FULL page tells the owner by setting h->remote_pending, so that
 * the owner moves the page back.  The handshake is ordered by locked
 * instructions on both sides: the owner sets ML_PG_FULL and then re-reads
 * xfree; the freeing thread pushes to xfree and then reads ML_PG_FULL.  Either
 * the owner sees the block or the freeing thread sees the flag.  The
 * freeing thread reads the page after its push, when the owner may already
 * have reused the page: that read is harmless (segments are never unmapped)
 * and at worst raises a spurious remote_pending.
 */
#include <string.h>

#include "mlalloc_types.h"

struct page ml_empty_page; /* h->cur[] before the first page: no blocks */

/* Carve more never-used blocks onto the free list, at most ML_EXTEND_BYTES at
 * a time so that a page is touched only as far as it is used. */
static void page_extend(struct page *pg)
{
	uint32_t n = pg->reserved - pg->capacity;
	uint32_t step = (uint32_t)(ML_EXTEND_BYTES / pg->block_size);

	if (step < 1)
		step = 1;
	if (n > step)
		n = step;
	if (!n)
		return;
	uint8_t *p = pg->start + (size_t)pg->capacity * pg->block_size;
	struct block *first = (struct block *)p, *b = first;
	for (uint32_t i = 1; i < n; i++) {
		struct block *nb = (struct block *)(p + (size_t)i * pg->block_size);
		b->next = nb;
		b = nb;
	}
	b->next = pg->free;
	pg->free = first;
	pg->capacity += n;
	ML_ASSERT(pg->capacity <= pg->reserved);
}

#ifdef ML_DEBUG
/* Page validity: the invariants of struct page (mlalloc_types.h) that the
 * owner can check without racing other threads (xfree is not walked: its
 * blocks are counted in `used`). */
void ml_page_check(const struct page *pg)
{
	const struct segment *s = (const struct segment *)((uintptr_t)pg & ~ML_SEG_MASK);
	unsigned i = (unsigned)(pg - s->pages);
	uint64_t run = (pg->slices == 64 ? ~0ULL : ((1ULL << pg->slices) - 1)) << i;

	ML_ASSERT(s->kind == ML_SEG_NORMAL);
	ML_ASSERT(pg->in_use && pg->heap == s->heap);
	ML_ASSERT(pg->slice_offset == 0 && i >= 1);
	ML_ASSERT(pg->slices >= 1 && i + pg->slices <= ML_SLICES);
	ML_ASSERT(!(s->free_mask & run) && (s->dirty_mask & run) == run);
	ML_ASSERT(pg->start == (const uint8_t *)s + (size_t)i * ML_SLICE_SIZE);
	ML_ASSERT(pg->used <= pg->capacity && pg->capacity <= pg->reserved);
	ML_ASSERT((size_t)pg->reserved * pg->block_size <= (size_t)pg->slices * ML_SLICE_SIZE);
	if (pg->cls >= MLALLOC_NSMALL) { /* one large block */
		ML_ASSERT(pg->cls == MLALLOC_CLASS_LARGE && pg->reserved == 1);
	} else {
		ML_ASSERT(pg->block_size == ml_class_size[pg->cls]);
		ML_ASSERT(pg->slices == ml_class_slices(pg->cls));
	}
	uint32_t n = 0;
	for (const struct block *b = pg->free; b; b = b->next) {
		size_t off = (size_t)((const uint8_t *)b - pg->start);
		ML_ASSERT(n < pg->capacity); /* no cycle, no stray block */
		ML_ASSERT(off < (size_t)pg->capacity * pg->block_size);
		ML_ASSERT(off % pg->block_size == 0);
		n++;
	}
	ML_ASSERT(n + pg->used == pg->capacity);
}
#endif

/* Take the blocks other threads freed into this page: the exchange gives
 * the list and its length (ML_XF_*).  When the owner's list is empty, the
 * usual case (malloc's slow path, full pages), the remote list becomes the
 * free list without touching any of its blocks; otherwise (collect, a large
 * block) it is walked to its tail to splice it. */
static void page_collect_xfree(struct page *pg)
{
	uintptr_t v;

	if (!atomic_load_explicit(&pg->xfree, memory_order_relaxed))
		return;
	v = atomic_exchange_explicit(&pg->xfree, 0, memory_order_acquire);
	struct block *list = ML_XF_PTR(v);
	uint32_t n = ML_XF_COUNT(v);
	if (!list)
		return;
#ifdef ML_DEBUG
	uint32_t len = 0;
	for (struct block *t = list; t; t = t->next) {
		ML_ASSERT(len < pg->capacity); /* no cycle */
		len++;
	}
	ML_ASSERT(len == n);
#endif
	if (pg->free) {
		struct block *t = list;
		while (t->next)
			t = t->next;
		t->next = pg->free;
	}
	pg->free = list;
	ML_ASSERT(pg->used >= n);
	pg->used -= n;
}

static void page_retire(struct heap *h, struct page *pg)
{
	ml_page_check(pg);
	ML_ASSERT(!pg->used && pg->heap == h);
	if (pg->cls < MLALLOC_NSMALL) {
		if (h->cur[pg->cls] == pg)
			h->cur[pg->cls] = &ml_empty_page;
	}
	if (__atomic_load_n(&pg->flags, __ATOMIC_RELAXED) & ML_PG_FULL)
		queue_remove(&h->full, pg);
	else
		queue_remove(&h->q[pg->cls], pg);
	__atomic_store_n(&pg->flags, 0, __ATOMIC_RELAXED);
	ml_span_free(h, pg);
}

/* Only the owner writes a page's flags (other threads only read them), so
 * clearing FULL needs no locked instruction: one would wait for every
 * store still in flight, such as the pushes of the frees just done (it was
 * a third of the CPU time of the `mixed` benchmark).  A freeing thread that
 * still sees FULL raises a spurious remote_pending, which is harmless.
 * Setting FULL is the ordered half of the handshake (page_mark_full). */
static inline void page_clear_full(struct page *pg)
{
	uint8_t f = __atomic_load_n(&pg->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&pg->flags, (uint8_t)(f & ~ML_PG_FULL), __ATOMIC_RELAXED);
}

/* Put a page on the full list; false if a remote free raced with us and the
 * page has blocks again. */
static bool page_mark_full(struct heap *h, struct page *pg)
{
	__atomic_fetch_or(&pg->flags, ML_PG_FULL, __ATOMIC_SEQ_CST);
	if (atomic_load_explicit(&pg->xfree, memory_order_seq_cst)) {
		__atomic_fetch_and(&pg->flags, (uint8_t)~ML_PG_FULL, __ATOMIC_RELAXED);
		return false;
	}
	queue_remove(&h->q[pg->cls], pg);
	queue_push(&h->full, pg);
	return true;
}

/* Move FULL pages that received remote frees back to their queues. */
void ml_page_collect_remote(struct heap *h)
{
	struct page *pg, *next;

	atomic_store_explicit(&h->remote_pending, 0, memory_order_seq_cst);
	for (pg = h->full.first; pg; pg = next) {
		next = pg->next;
		if (!atomic_load_explicit(&pg->xfree, memory_order_relaxed))
			continue;
		page_collect_xfree(pg);
		if (pg->cls >= MLALLOC_NSMALL) { /* a large block */
			if (!pg->used)
				page_retire(h, pg);
			continue;
		}
		queue_remove(&h->full, pg);
		page_clear_full(pg);
		queue_push(&h->q[pg->cls], pg);
		if (!pg->used && h->cur[pg->cls] != pg)
			page_retire(h, pg);
	}
}

static struct page *page_new(struct heap *h, unsigned cls)
{
	struct page *pg = ml_span_alloc(h, ml_class_slices(cls));
	if (!pg)
		return NULL;
	pg->cls = (uint8_t)cls;
	pg->block_size = ml_class_size[cls];
	pg->reserved = (uint32_t)(((size_t)pg->slices * ML_SLICE_SIZE) / pg->block_size);
	page_extend(pg);
	queue_push(&h->q[cls], pg);
	return pg;
}

/* The malloc slow path: h->cur[cls] has no free block. */
void *ml_malloc_slow(struct heap *h, unsigned cls)
{
	struct page *pg, *next;

	if (atomic_load_explicit(&h->remote_pending, memory_order_relaxed))
		ml_page_collect_remote(h);
	if (h->purge_at)
		ml_heap_purge(h, false);

	for (pg = h->q[cls].first; pg; pg = next) {
		next = pg->next;
		if (!pg->free)
			page_collect_xfree(pg);
		if (!pg->free)
			page_extend(pg);
		if (pg->free)
			goto found;
		if (!page_mark_full(h, pg)) {
			page_collect_xfree(pg);
			goto found;
		}
	}
	pg = page_new(h, cls);
	if (!pg)
		return NULL;
found:
	if (h->q[cls].first != pg) {
		queue_remove(&h->q[cls], pg);
		queue_push(&h->q[cls], pg);
	}
	ml_page_check(pg);
	h->cur[cls] = pg;
	struct block *b = pg->free;
	pg->free = b->next;
	pg->used++;
	b->key = 0;
	return b;
}

/*
 * A local free that needs more than a push: the page is FULL (move it back
 * to its queue, or release a large block) or became empty (release it,
 * unless it is the page malloc allocates from, which is kept to avoid
 * thrashing on alloc/free pairs).
 */
void ml_page_free_slow(struct heap *h, struct page *pg, struct block *b)
{
	ML_ASSERT(pg->heap == h);
	if (b) {
		ML_ASSERT(pg->used > 0); /* more frees than blocks handed out */
		b->next = pg->free;
		pg->free = b;
		pg->used--;
	}
	if (__atomic_load_n(&pg->flags, __ATOMIC_RELAXED) & ML_PG_FULL) {
		if (pg->cls >= MLALLOC_NSMALL) {
			page_collect_xfree(pg);
			if (!pg->used)
				page_retire(h, pg);
			goto out;
		}
		queue_remove(&h->full, pg);
		page_clear_full(pg);
		queue_push(&h->q[pg->cls], pg);
	}
	if (!pg->used && h->cur[pg->cls] != pg)
		page_retire(h, pg);
out:
	if (h->purge_at)
		ml_heap_purge(h, false);
}

/* A block of 128 KiB .. 2 MiB: a span of its own, kept on the full list. */
void *ml_large_alloc(struct heap *h, size_t n)
{
	if (atomic_load_explicit(&h->remote_pending, memory_order_relaxed))
		ml_page_collect_remote(h);
	if (h->purge_at)
		ml_heap_purge(h, false);
	unsigned slices = (unsigned)((n + ML_SLICE_SIZE - 1) >> ML_SLICE_SHIFT);
	struct page *pg = ml_span_alloc(h, slices);
	if (!pg)
		return NULL;
	pg->cls = MLALLOC_CLASS_LARGE;
	pg->block_size = (size_t)slices * ML_SLICE_SIZE;
	pg->reserved = pg->capacity = pg->used = 1;
	__atomic_store_n(&pg->flags, ML_PG_FULL, __ATOMIC_RELAXED);
	queue_push(&h->full, pg);
	return pg->start;
}

/* Classes whose blocks a thread keeps when it frees them into another
 * heap's page: at most ML_RCACHE_BYTES per class, ML_RCACHE_BLOCKS blocks,
 * none below ML_RCACHE_MIN bytes: such a block shares its cache line with
 * blocks the owner hands out, and reusing it in this thread would be false
 * sharing (`scratch`, docs/allocator.md). */
void ml_rcache_init(struct heap *h)
{
	for (unsigned c = 0; c < MLALLOC_NSMALL; c++) {
		uint32_t m = (uint32_t)(ML_RCACHE_BYTES / ml_class_size[c]);
		if (ml_class_size[c] < ML_RCACHE_MIN)
			m = 0;
		h->rc[c].max = m > ML_RCACHE_BLOCKS ? ML_RCACHE_BLOCKS : m;
	}
}

/* Return the kept blocks of a class to their pages: runs of blocks of one
 * page (a producer's blocks freed in order) go with one CAS. */
void ml_rcache_flush(struct heap *h, unsigned cls)
{
	struct rcache *rc = &h->rc[cls];
	struct block *b = rc->head, *next;

	rc->head = NULL;
	rc->n = 0;
	while (b) {
		struct page *pg = ml_segment_page(ml_ptr_segment(b), b);
		struct block *last = b;
		uint32_t n = 1;
		ML_ASSERT(pg->in_use && pg->heap != h && pg->cls == cls);
		while ((next = last->next) && ml_segment_page(ml_ptr_segment(next), next) == pg) {
			last = next;
			n++;
		}
		ml_page_push_xfree(pg, b, last, n);
		b = next;
	}
}

/* Everything the heap can give back now: remote frees collected, empty
 * pages released, free slices purged (`force`) or scheduled. */
void ml_heap_collect(struct heap *h, bool force)
{
	struct page *pg, *next;

	for (unsigned c = 0; c < MLALLOC_NSMALL; c++)
		if (h->rc[c].head)
			ml_rcache_flush(h, c);
	ml_page_collect_remote(h);
	for (unsigned c = 0; c < MLALLOC_NSMALL; c++) {
		h->cur[c] = &ml_empty_page;
		for (pg = h->q[c].first; pg; pg = next) {
			next = pg->next;
			page_collect_xfree(pg);
			ml_page_check(pg);
			if (!pg->used)
				page_retire(h, pg);
		}
	}
	if (force && ml_opt.purge_delay_ms >= 0)
		ml_heap_purge(h, true);
	else if (!force)
		ml_heap_release_empty(h);
}
