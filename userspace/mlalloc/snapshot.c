// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot.c - turn an mlalloc_introspect structure into totals, and print
 * them.  Built into libmlalloc (for MLALLOC_STATS=1, reading its own
 * memory) and into libmlalloc-inspect (reading another process).  Uses no
 * allocation and no stdio, so it is safe inside the allocator.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "include/mlalloc.h"

/* public functions of libmlalloc.so, which is built with hidden default */
#pragma GCC visibility push(default)

#define MAX_HEAPS 1000000 /* a cycle guard for a corrupted list */
#define MAX_TRIES 1000

int mlalloc_snapshot_read(mlalloc_read_fn read, void *ctx, uint64_t addr,
			  struct mlalloc_snapshot *out)
{
	struct mlalloc_introspect *in = &out->in;
	uint64_t gen;
	int tries = 0;

	memset(out, 0, sizeof(*out));
	/* seqlock: the arena table is consistent if the generation was even
	 * and unchanged across the copy */
	for (;;) {
		if (read(ctx, addr + offsetof(struct mlalloc_introspect, generation), &gen,
			 sizeof(gen)))
			return -EFAULT;
		if (read(ctx, addr, in, sizeof(*in)))
			return -EFAULT;
		if (in->magic != MLALLOC_INTROSPECT_MAGIC)
			return -EPROTO;
		if (in->version != MLALLOC_INTROSPECT_VERSION || in->nclasses != MLALLOC_NCLASSES ||
		    in->max_arenas != MLALLOC_MAX_ARENAS)
			return -EPROTONOSUPPORT;
		if (!(gen & 1) && gen == in->generation)
			break;
		if (++tries > MAX_TRIES)
			return -EAGAIN;
		usleep(100);
	}
	for (uint32_t i = 0; i < in->narenas && i < MLALLOC_MAX_ARENAS; i++)
		if (in->arenas[i].role != MLALLOC_ARENA_FREE)
			out->committed += in->arenas[i].committed;

	uint64_t h = in->heaps;
	struct mlalloc_heap_stats st;
	while (h && out->nheaps < MAX_HEAPS) {
		if (read(ctx, h, &st, sizeof(st)))
			return -EFAULT;
		if (st.magic != MLALLOC_HEAP_MAGIC)
			return -EPROTO;
		out->nheaps++;
		if (st.state == 1)
			out->heaps_in_use++;
		for (int c = 0; c < MLALLOC_NCLASSES; c++) {
			out->live_blocks[c] += (int64_t)(st.allocs[c] - st.frees[c]);
			/* small classes count blocks only: bytes = blocks x size */
			if (c < MLALLOC_NSMALL)
				out->live_bytes[c] += (int64_t)(st.allocs[c] - st.frees[c]) *
						      (int64_t)in->class_size[c];
			else
				out->live_bytes[c] +=
					(int64_t)(st.alloc_bytes[c] - st.free_bytes[c]);
			out->total_allocs += st.allocs[c];
			out->total_frees += st.frees[c];
		}
		out->requested += st.requested;
		h = st.next;
	}
	for (int c = 0; c < MLALLOC_NCLASSES; c++)
		out->live_bytes_total += out->live_bytes[c];
	return 0;
}

/* ---- printing without stdio ---- */

struct buf {
	char b[256];
	size_t n;
};

static void put(struct buf *o, const char *s)
{
	while (*s && o->n < sizeof(o->b) - 1)
		o->b[o->n++] = *s++;
}

static void put_u(struct buf *o, uint64_t v, int width)
{
	char t[24];
	int i = 0;
	do {
		t[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (; width > i; width--)
		put(o, " ");
	while (i)
		o->b[o->n < sizeof(o->b) - 1 ? o->n++ : o->n] = t[--i];
}

static void put_i(struct buf *o, int64_t v, int width)
{
	if (v < 0) {
		put(o, "-");
		put_u(o, (uint64_t)-v, width - 1);
	} else {
		put_u(o, (uint64_t)v, width);
	}
}

static void put_x(struct buf *o, uint64_t v)
{
	static const char d[] = "0123456789abcdef";
	put(o, "0x");
	for (int i = 44; i >= 0; i -= 4)
		o->b[o->n < sizeof(o->b) - 1 ? o->n++ : o->n] = d[(v >> i) & 15];
}

static void flush(int fd, struct buf *o)
{
	put(o, "\n");
	size_t off = 0;
	while (off < o->n) {
		ssize_t w = write(fd, o->b + off, o->n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	o->n = 0;
}

void mlalloc_snapshot_print(int fd, const struct mlalloc_snapshot *s)
{
	struct buf o = { .n = 0 };
	const struct mlalloc_introspect *in = &s->in;

	put(&o, "mlalloc: pid ");
	put_u(&o, in->pid, 0);
	put(&o, ", heaps ");
	put_u(&o, s->nheaps, 0);
	put(&o, " (");
	put_u(&o, s->heaps_in_use, 0);
	put(&o, " in use), reserved ");
	put_u(&o, in->reserved, 0);
	put(&o, " B, committed ");
	put_u(&o, s->committed, 0);
	put(&o, " B, live ");
	put_i(&o, s->live_bytes_total, 0);
	put(&o, " B, requested (cumulative) ");
	put_u(&o, s->requested, 0);
	put(&o, " B");
	flush(fd, &o);
	put(&o, "mlalloc: mmaps ");
	put_u(&o, in->mmaps, 0);
	put(&o, ", munmaps ");
	put_u(&o, in->munmaps, 0);
	put(&o, ", purges ");
	put_u(&o, in->purges, 0);
	put(&o, " (");
	put_u(&o, in->purged, 0);
	put(&o, " B), purge delay ");
	put_i(&o, in->purge_delay_ms, 0);
	put(&o, " ms, allocs ");
	put_u(&o, s->total_allocs, 0);
	put(&o, ", frees ");
	put_u(&o, s->total_frees, 0);
	flush(fd, &o);
	put(&o, "mlalloc: class   block      live-blocks       live-bytes");
	flush(fd, &o);
	for (int c = 0; c < MLALLOC_NCLASSES; c++) {
		if (!s->live_blocks[c] && !s->live_bytes[c])
			continue;
		put(&o, "mlalloc: ");
		if (c == MLALLOC_CLASS_LARGE)
			put(&o, "large          -");
		else if (c == MLALLOC_CLASS_HUGE)
			put(&o, "huge           -");
		else {
			put_u(&o, (uint64_t)c, 5);
			put_u(&o, in->class_size[c], 11);
		}
		put_i(&o, s->live_blocks[c], 17);
		put_i(&o, s->live_bytes[c], 17);
		flush(fd, &o);
	}
	for (uint32_t i = 0; i < in->narenas && i < MLALLOC_MAX_ARENAS; i++) {
		const struct mlalloc_arena *a = &in->arenas[i];
		if (a->role == MLALLOC_ARENA_FREE)
			continue;
		put(&o, "mlalloc: arena ");
		put_u(&o, i, 0);
		put(&o, " ");
		put_x(&o, a->base);
		put(&o, "-");
		put_x(&o, a->base + a->size);
		put(&o, " ");
		put(&o, mlalloc_arena_role_name(a->role));
		put(&o, " segments ");
		put_u(&o, a->segments, 0);
		put(&o, " committed ");
		put_u(&o, a->committed, 0);
		put(&o, " used ");
		put_u(&o, a->used, 0);
		put(&o, " purges ");
		put_u(&o, a->purges, 0);
		flush(fd, &o);
	}
}
