// SPDX-License-Identifier: GPL-2.0
/*
 * alloc.c - the prefixed API: mlalloc_malloc, mlalloc_free, ...
 *
 * Fast paths.  malloc of a small size: one TLS load, a table-free size
 * class computation, pop from h->cur[cls]->free, two counter increments in
 * the thread's own heap.  free: segmap lookup, page header, and for a page
 * of the calling thread a push; for another thread's page a CAS push.
 *
 * Failure semantics are glibc's, entry point by entry point (measured
 * against glibc 2.36, checked against the running glibc by api_test.c):
 * NULL with errno = ENOMEM for sizes above PTRDIFF_MAX, on overflow of
 * n * size and when the OS refuses memory; memalign EINVAL only for an
 * alignment above SIZE_MAX / 2 + 1; aligned_alloc EINVAL for an alignment
 * that is not a power of two (glibc >= 2.38); posix_memalign returns
 * EINVAL with errno untouched, or ENOMEM and also sets errno to ENOMEM as
 * glibc's does.  Success never changes errno (os.c and huge.c restore it
 * around calls that may fail harmlessly), nor does free().
 *
 * Bad pointers.  Every pointer passed to free/realloc/malloc_usable_size
 * is first looked up in segmap; a pointer outside every segment is
 * reported ("pointer not allocated by mlalloc") and the process aborts, in
 * every mode.  A freed block carries a random per-process key in its
 * second word; free() of a block that carries it walks the page's local
 * free list and aborts with "double free" if the block is there.  With
 * MLALLOC_CHECK=1 the key alone is enough (it also catches double frees
 * from another thread) and pointers that are not the start of a block or
 * that point into a free page are reported as "invalid pointer".
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mlalloc_types.h"

#define ML_OVERSIZE(n) ((n) > (size_t)PTRDIFF_MAX)

/*
 * Statistics: per heap, plain stores by the owning thread, summed by the
 * reader (snapshot.c).  Small classes count blocks only (their bytes are
 * blocks x class size, folded on read), so the fast paths do one counter
 * update each plus the requested bytes on malloc.
 */
static inline void stat_alloc(struct heap *h, unsigned cls, size_t bytes, size_t req)
{
	if (ML_UNLIKELY(h == &ml_backup_heap)) {
		__atomic_fetch_add(&h->st.allocs[cls], 1, __ATOMIC_RELAXED);
		if (cls >= MLALLOC_NSMALL)
			__atomic_fetch_add(&h->st.alloc_bytes[cls], bytes, __ATOMIC_RELAXED);
		__atomic_fetch_add(&h->st.requested, req, __ATOMIC_RELAXED);
		return;
	}
	h->st.allocs[cls]++;
	if (cls >= MLALLOC_NSMALL)
		h->st.alloc_bytes[cls] += bytes;
	h->st.requested += req;
}

static inline void stat_free(struct heap *h, unsigned cls, size_t bytes)
{
	if (ML_UNLIKELY(!h || h == &ml_backup_heap)) {
		h = &ml_backup_heap;
		__atomic_fetch_add(&h->st.frees[cls], 1, __ATOMIC_RELAXED);
		if (cls >= MLALLOC_NSMALL)
			__atomic_fetch_add(&h->st.free_bytes[cls], bytes, __ATOMIC_RELAXED);
		return;
	}
	h->st.frees[cls]++;
	if (cls >= MLALLOC_NSMALL)
		h->st.free_bytes[cls] += bytes;
}

static inline uint8_t *block_start(const struct page *pg, const void *p)
{
	size_t off = (size_t)((const uint8_t *)p - pg->start);
	if (pg->cls >= MLALLOC_NSMALL)
		return pg->start;
	return pg->start + off - off % pg->block_size;
}

/* ---- allocation ------------------------------------------------------------ */

static void *alloc_small(struct heap *h, unsigned cls, size_t req)
{
	struct rcache *rc = &h->rc[cls];
	struct page *pg = h->cur[cls];
	struct block *b = rc->head;
	if (b) {
		rc->head = b->next;
		rc->n--;
		b->key = 0;
	} else if (ML_LIKELY((b = pg->free) != NULL)) {
		pg->free = b->next;
		pg->used++;
		b->key = 0;
	} else {
		b = ml_malloc_slow(h, cls);
		if (!b)
			return NULL;
	}
	stat_alloc(h, cls, ml_class_size[cls], req);
	return b;
}

/* Smallest class >= n whose blocks are all `align`-aligned (page starts
 * are 64 KiB aligned, so a class that is a multiple of align will do). */
static int aligned_class(size_t n, size_t align)
{
	if (align > ML_SLICE_SIZE || n > ML_SMALL_MAX)
		return -1;
	for (unsigned c = ml_size_class(n < align ? align : n); c < MLALLOC_NSMALL; c++)
		if (ml_class_size[c] % align == 0)
			return (int)c;
	return -1;
}

static void *alloc_in(struct heap *h, size_t n, size_t align, bool zero)
{
	void *p;

	if (align <= ML_ALIGN) {
		if (n <= ML_SMALL_MAX) {
			unsigned cls = ml_size_class(n);
			p = alloc_small(h, cls, n);
			if (p && zero)
				memset(p, 0, n);
		} else if (n <= ML_LARGE_MAX) {
			p = ml_large_alloc(h, n);
			if (p) {
				struct page *pg = ml_segment_page(ml_ptr_segment(p), p);
				stat_alloc(h, MLALLOC_CLASS_LARGE, pg->block_size, n);
				if (zero && !pg->is_zero)
					memset(p, 0, n);
			}
		} else {
			p = ml_huge_alloc(n, 0, zero);
			if (p)
				stat_alloc(h, MLALLOC_CLASS_HUGE, ml_ptr_segment(p)->huge_size, n);
			return p;
		}
		if (!p)
			errno = ENOMEM;
		return p;
	}

	/* aligned: a naturally aligned class, a big enough span, or over-allocate */
	int c = aligned_class(n, align);
	if (c >= 0)
		return alloc_in(h, ml_class_size[c], 0, zero);
	if (n <= ML_LARGE_MAX && align <= ML_SLICE_SIZE)
		return alloc_in(h, n < ML_SMALL_MAX + 1 ? ML_SMALL_MAX + 1 : n, 0, zero);
	if (n + align > ML_LARGE_MAX) {
		p = ml_huge_alloc(n, align, zero);
		if (p)
			stat_alloc(h, MLALLOC_CLASS_HUGE, ml_ptr_segment(p)->huge_size, n);
		return p;
	}
	uint8_t *raw = alloc_in(h, n + align, 0, zero);
	if (!raw)
		return NULL;
	struct page *pg = ml_segment_page(ml_ptr_segment(raw), raw);
	__atomic_fetch_or(&pg->flags, ML_PG_ALIGNED, __ATOMIC_RELAXED);
	return (void *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
}

static ML_NOINLINE void *malloc_generic(size_t n, size_t align, bool zero)
{
	if (ML_OVERSIZE(n)) {
		errno = ENOMEM;
		return NULL;
	}
	struct heap *h = ml_tls_heap;
	if (ML_UNLIKELY(!h)) {
		h = ml_heap_get_slow();
		if (!h) {
			ml_lock(&ml_backup_lock);
			void *p = alloc_in(&ml_backup_heap, n, align, zero);
			int e = errno;
			ml_unlock(&ml_backup_lock);
			errno = e;
			return p;
		}
	}
	return alloc_in(h, n, align, zero);
}

ML_API void *mlalloc_malloc(size_t n)
{
	struct heap *h = ml_tls_heap;
	if (ML_LIKELY(h != NULL && n <= ML_SMALL_MAX)) {
		unsigned cls = ml_size_class(n);
		struct rcache *rc = &h->rc[cls];
		struct block *b = rc->head;
		if (b) { /* a block this thread freed into another heap's page */
			rc->head = b->next;
			rc->n--;
			b->key = 0;
			h->st.allocs[cls]++;
			h->st.requested += n;
			return b;
		}
		struct page *pg = h->cur[cls];
		b = pg->free;
		if (ML_LIKELY(b)) {
			pg->free = b->next;
			pg->used++;
			b->key = 0;
			h->st.allocs[cls]++;
			h->st.requested += n;
			return b;
		}
	}
	return malloc_generic(n, 0, false);
}

ML_API void *mlalloc_calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (total <= ML_SMALL_MAX) {
		void *p = mlalloc_malloc(total);
		if (p)
			memset(p, 0, total);
		return p;
	}
	return malloc_generic(total, 0, true);
}

/* ---- free ------------------------------------------------------------------- */

/* MLALLOC_CHECK=1: a block that carries the key was freed already (a false
 * positive needs user data equal to a random 64-bit value). */
static ML_NOINLINE void check_block(struct page *pg, struct block *b)
{
	if (b->key == ml_key)
		ml_fatal("free(): double free detected", b);
	(void)pg;
}

static ML_NOINLINE void check_pointer(struct page *pg, const void *p)
{
	if (!pg->in_use)
		ml_fatal("free(): invalid pointer (inside a free page)", p);
	if (pg->cls < MLALLOC_NSMALL && (size_t)((const uint8_t *)p - pg->start) % pg->block_size)
		ml_fatal("free(): invalid pointer (not the start of a block)", p);
	if (pg->cls == MLALLOC_CLASS_LARGE && p != pg->start)
		ml_fatal("free(): invalid pointer (not the start of a block)", p);
}

static ML_NOINLINE void free_huge(struct segment *s, void *p)
{
	int saved = errno;
	struct heap *h = ml_tls_heap;
	size_t sz = s->huge_size;
	ml_huge_free(s);
	stat_free(h, MLALLOC_CLASS_HUGE, sz);
	errno = saved;
}

static ML_NOINLINE void free_remote(struct heap *h, struct page *pg, struct block *b)
{
	struct heap *owner = pg->heap;
	if (ML_UNLIKELY(!owner || !pg->in_use))
		ml_fatal("free(): invalid pointer (inside a free page)", b);
	unsigned cls = pg->cls;
	size_t bytes = cls < MLALLOC_NSMALL ? ml_class_size[cls] : pg->block_size;

	b->key = ml_key;
	if (cls < MLALLOC_NSMALL && h) {
		struct rcache *rc = &h->rc[cls];
		if (rc->max) { /* keep it for this thread's next malloc */
			if (ML_UNLIKELY(b == rc->head))
				ml_fatal("free(): double free detected", b);
			b->next = rc->head;
			rc->head = b;
			h->st.frees[cls]++;
			if (ML_UNLIKELY(++rc->n > rc->max))
				ml_rcache_flush(h, cls);
			return;
		}
	}
	ml_page_push_xfree(pg, b, b, 1);
	stat_free(h, cls, bytes);
}

static ML_NOINLINE void free_local_slow(struct heap *h, struct page *pg, struct block *b, int saved)
{
	unsigned cls = pg->cls;
	stat_free(h, cls, cls < MLALLOC_NSMALL ? ml_class_size[cls] : pg->block_size);
	b->key = ml_key;
	ml_page_free_slow(h, pg, b);
	errno = saved;
}

/*
 * free() reads the segment map, the page descriptor and the heap pointer,
 * never the freed block itself: for a cold or remote block that load is a
 * cache miss the push does not wait for (stores do not stall).  So the
 * default mode detects only what it can see without it: the block freed
 * twice in a row (it is the head of the page's local list).  MLALLOC_CHECK=1
 * reads the key and validates the pointer.
 */
ML_API void mlalloc_free(void *p)
{
	if (ML_UNLIKELY(!p))
		return;
	struct segment *s = ml_ptr_segment(p);
	if (ML_UNLIKELY(!s))
		ml_fatal("free(): pointer not allocated by mlalloc", p);
	if (ML_UNLIKELY(s->kind != ML_SEG_NORMAL)) {
		free_huge(s, p);
		return;
	}
	struct page *pg = ml_segment_page(s, p);
	uint8_t flags = __atomic_load_n(&pg->flags, __ATOMIC_RELAXED);
	struct block *b = p;
	if (ML_UNLIKELY(flags & ML_PG_ALIGNED))
		b = (struct block *)block_start(pg, p);
	if (ML_UNLIKELY(ml_opt.check)) {
		check_pointer(pg, b);
		check_block(pg, b);
	}
	struct heap *h = ml_tls_heap;
	if (ML_LIKELY(pg->heap == h)) {
		struct block *head = pg->free;
		if (ML_UNLIKELY(b == head))
			ml_fatal("free(): double free detected", b);
		/* a page that becomes empty needs the slow path, unless it is
		 * the one malloc allocates from (kept, see page.c) */
		if (ML_LIKELY(!(flags & ML_PG_FULL) && (pg->used > 1 || h->cur[pg->cls] == pg))) {
			b->key = ml_key;
			b->next = head;
			pg->free = b;
			pg->used--;
			h->st.frees[pg->cls]++;
			return;
		}
		free_local_slow(h, pg, b, errno);
		return;
	}
	if (ML_UNLIKELY(!h) && !ml_tls_heap) {
		/* a thread whose first call is free(): give it a heap so that
		 * its frees are counted like everyone else's */
		int saved = errno;
		h = ml_heap_get_slow();
		errno = saved;
		if (h && pg->heap == h) {
			free_local_slow(h, pg, b, saved);
			return;
		}
	}
	free_remote(h, pg, b);
}

/* ---- the rest of the API ---------------------------------------------------- */

ML_API size_t mlalloc_usable_size(const void *p)
{
	if (!p)
		return 0;
	struct segment *s = ml_ptr_segment(p);
	if (!s)
		ml_fatal("malloc_usable_size(): pointer not allocated by mlalloc", p);
	struct page *pg = ml_segment_page(s, p);
	if (s->kind == ML_SEG_HUGE)
		return s->huge_size - (size_t)((const uint8_t *)p - pg->start);
	const uint8_t *bs = block_start(pg, p);
	return pg->block_size - (size_t)((const uint8_t *)p - bs);
}

ML_API void *mlalloc_realloc(void *p, size_t n)
{
	if (!p)
		return mlalloc_malloc(n);
	if (n == 0) { /* glibc: realloc(p, 0) frees and returns NULL */
		mlalloc_free(p);
		return NULL;
	}
	if (ML_OVERSIZE(n)) {
		errno = ENOMEM;
		return NULL;
	}
	struct segment *s = ml_ptr_segment(p);
	if (!s)
		ml_fatal("realloc(): pointer not allocated by mlalloc", p);
	size_t usable = mlalloc_usable_size(p);
	if (s->kind == ML_SEG_HUGE && n > ML_LARGE_MAX) {
		size_t before = s->huge_size;
		void *q = ml_huge_realloc(s, p, n);
		if (q) {
			struct heap *h = ml_tls_heap;
			if (h && h != &ml_backup_heap) {
				stat_free(h, MLALLOC_CLASS_HUGE, before);
				stat_alloc(h, MLALLOC_CLASS_HUGE, ml_ptr_segment(q)->huge_size, n);
			} else {
				stat_free(NULL, MLALLOC_CLASS_HUGE, before);
				stat_alloc(&ml_backup_heap, MLALLOC_CLASS_HUGE,
					   ml_ptr_segment(q)->huge_size, n);
			}
			return q;
		}
	} else if (n <= usable && n >= usable / 2) {
		return p; /* fits, and not wastefully */
	}
	void *q = mlalloc_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, n < usable ? n : usable);
	mlalloc_free(p);
	return q;
}

ML_API void *mlalloc_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return mlalloc_realloc(p, total);
}

static void *aligned(size_t align, size_t n)
{
	if (align <= ML_ALIGN)
		return mlalloc_malloc(n);
	if (align > ((size_t)1 << 40)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc_generic(n, align, false);
}

/* glibc: EINVAL leaves errno alone; ENOMEM is returned and left in errno
 * too (by the allocation that failed); *out untouched on either error. */
ML_API int mlalloc_posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = aligned(align, n);
	if (!p) {
		errno = ENOMEM;
		return ENOMEM;
	}
	*out = p;
	return 0;
}

/* C17: NULL/EINVAL unless align is a power of two (glibc 2.38 behaviour);
 * small alignments such as 1, 2, 4 and 8 are valid. */
ML_API void *mlalloc_aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n);
}

/* glibc's memalign: EINVAL above SIZE_MAX / 2 + 1 (no power of two is
 * left to round up to); otherwise an alignment that is not a power of two
 * is rounded up, and one too big to honour fails with ENOMEM. */
ML_API void *mlalloc_memalign(size_t align, size_t n)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1))
		align = (size_t)1 << (64 - __builtin_clzl(align));
	return aligned(align, n);
}

ML_API void *mlalloc_valloc(size_t n)
{
	return aligned((size_t)sysconf(_SC_PAGESIZE), n);
}

ML_API void *mlalloc_pvalloc(size_t n)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	if (n > PTRDIFF_MAX - ps) {
		errno = ENOMEM;
		return NULL;
	}
	n = n ? (n + ps - 1) & ~(ps - 1) : ps;
	return aligned(ps, n);
}
