// SPDX-License-Identifier: GPL-2.0
/*
 * libmlalloc pairing: the allocator's arenas, read from the live process
 * with libmlalloc-inspect.a, next to what the kernel maps in each range.
 *
 * Per arena (range, role):
 *   committed, used   the allocator's counters (mlalloc.h)
 *   live              bytes of live blocks: exact for a huge block (its
 *                     arena's "used"), and for the segment arenas when
 *                     there is only one of them (mlalloc publishes live
 *                     bytes per size class, not per arena)
 *   resident          present pages from /proc/PID/pagemap, less LazyFree
 *   lazyfree          smaps LazyFree of the VMAs inside the range
 *   faults            the module's per-VMA faults inside the range, for a
 *                     process tracked before the snapshot
 *   pte_tables, thp   from pagemap (+ kpageflags), see ml_pagemap_range()
 *   frag              resident - live
 *
 * Reconciliation, the way tcmalloc's stats add up:
 *   live + free in pages + free slices + huge headers + cached huge
 *       = committed                                  (allocator's bytes)
 *   committed + returned (purged or never touched) = reserved in arenas
 *   reserved in arenas + metadata mappings (thread heaps, outside the
 *       arena table) = reserved, mlalloc's own process total
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mlalloc.h"

/*
 * LazyFree of the VMAs inside [a, b).  A VMA that sticks out of the range
 * with LazyFree pages cannot be split: unavailable.
 */
static struct ml_val range_lazyfree(const struct ml_snapshot *ss, uint64_t a, uint64_t b)
{
	double lazy = 0;

	for (int i = 0; i < ss->nvmas; i++) {
		const struct ml_vma *v = &ss->vmas[i];

		if (v->end <= a || v->start >= b || !v->lazyfree)
			continue;
		if (v->start < a || v->end > b)
			return ml_none("a VMA with LazyFree pages spans beyond the arena");
		lazy += v->lazyfree;
	}
	return ml_have(lazy, ML_SRC_PROC);
}

/*
 * Faults in [a, b) since tracking began, from the module's per-VMA rows:
 * a row (a VMA as it was at fault time) sticking out of the range cannot
 * be split.
 */
static struct ml_val range_faults(const struct ml_snapshot *ss, uint64_t a, uint64_t b)
{
	double n = 0;

	if (!ss->vfaults)
		return ml_none("per-range faults need the module backend and a tracked process");
	for (int i = 0; i < ss->nvfaults; i++) {
		const struct ml_vma_faults_row *r = &ss->vfaults[i];

		if (r->end <= a || r->start >= b)
			continue;
		if (r->start < a || r->end > b)
			return ml_none("a VMA with faults spans beyond the arena");
		n += r->minor + r->major;
	}
	return ml_have(n, ML_SRC_MODULE);
}

static void pair_kernel(const struct ml_snapshot *ss, struct ml_arena_view *v)
{
	struct ml_range_pages pg;
	int ret = ml_pagemap_range(ss->pid, v->base, v->base + v->size, &pg);

	v->faults = range_faults(ss, v->base, v->base + v->size);
	if (ret) {
		v->resident = v->swapped = v->pte_tables = v->thp = v->lazyfree =
			ml_none("pagemap unreadable");
		return;
	}
	v->lazyfree = range_lazyfree(ss, v->base, v->base + v->size);
	v->resident = ml_have((double)pg.present - (ml_known(v->lazyfree) ? v->lazyfree.v : 0),
			      ML_SRC_PROC);
	v->swapped = ml_have((double)pg.swapped, ML_SRC_PROC);
	v->thp = pg.thp;
	if (ml_known(pg.thp))
		v->pte_tables = ml_have((double)pg.pte_tables, ML_SRC_PROC);
	else
		v->pte_tables = ml_none("cannot tell PMD from PTE leaves without PFNs");
}

static void arena_live(const struct mlalloc_snapshot *s, int nseg, struct ml_arena_view *v,
		       const struct mlalloc_arena *a)
{
	double seg_live = (double)(s->live_bytes_total - s->live_bytes[MLALLOC_CLASS_HUGE]);

	switch (a->role) {
	case MLALLOC_ARENA_HUGE:
		v->live = ml_have((double)a->used, ML_SRC_MLALLOC);
		break;
	case MLALLOC_ARENA_HUGE_CACHED:
		v->live = ml_have(0, ML_SRC_MLALLOC);
		break;
	default:
		v->live =
			nseg == 1 ?
				ml_have(seg_live, ML_SRC_MLALLOC) :
				ml_none("mlalloc publishes live bytes per class, not per segment arena");
	}
	if (ml_known(v->live) && ml_known(v->resident))
		v->frag = ml_have(v->resident.v - v->live.v, ML_SRC_PROC);
	else
		v->frag = ml_none("needs live and resident");
}

static void reconcile(struct ml_alloc_view *av)
{
	const struct mlalloc_snapshot *s = av->snap;
	struct ml_alloc_totals *t = &av->t;
	double used_seg = 0, com_seg = 0, com_huge = 0, used_huge = 0;
	double cached = 0, size = 0, resident = 0;
	double live = (double)s->live_bytes_total;
	double live_huge = (double)s->live_bytes[MLALLOC_CLASS_HUGE];
	bool res_known = true;

	for (int i = 0; i < av->narenas; i++) {
		const struct ml_arena_view *v = &av->arenas[i];

		size += v->size;
		if (ml_known(v->resident))
			resident += v->resident.v;
		else
			res_known = false;
		if (v->role == MLALLOC_ARENA_SEGMENTS) {
			used_seg += v->used.v;
			com_seg += v->committed.v;
		} else if (v->role == MLALLOC_ARENA_HUGE) {
			used_huge += v->used.v;
			com_huge += v->committed.v;
		} else {
			cached += v->committed.v;
		}
	}
	t->live = ml_have(live, ML_SRC_MLALLOC);
	t->free_in_pages = ml_have(used_seg - (live - live_huge), ML_SRC_MLALLOC);
	t->free_slices = ml_have(com_seg - used_seg, ML_SRC_MLALLOC);
	t->huge_headers = ml_have(com_huge - used_huge + (used_huge - live_huge), ML_SRC_MLALLOC);
	t->huge_cached = ml_have(cached, ML_SRC_MLALLOC);
	t->committed = ml_have(com_seg + com_huge + cached, ML_SRC_MLALLOC);
	t->returned = ml_have(size - t->committed.v, ML_SRC_MLALLOC);
	t->reserved = ml_have(size, ML_SRC_MLALLOC);
	t->reserved_published = ml_have((double)s->in.reserved, ML_SRC_MLALLOC);
	t->metadata = ml_have((double)s->in.reserved - size, ML_SRC_MLALLOC);
	t->resident = res_known ? ml_have(resident, ML_SRC_PROC) :
				  ml_none("pagemap unreadable for an arena");
	t->heaps = ml_have(s->nheaps, ML_SRC_MLALLOC);
	{
		double blocks = 0;

		for (int c = 0; c < MLALLOC_NCLASSES; c++)
			blocks += s->live_blocks[c];
		t->live_blocks = ml_have(blocks, ML_SRC_MLALLOC);
	}
}

static const char *find_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "libmlalloc not in use (no mlalloc_introspect symbol mapped)";
	case -EPERM:
	case -EACCES:
		return "permission denied reading the allocator (process_vm_readv needs ptrace access: run as root)";
	case -ESRCH:
		return "the process exited";
	case -EPROTONOSUPPORT:
		return "libmlalloc's introspection version is not supported";
	default:
		return "reading the allocator failed";
	}
}

int ml_alloc_read(const struct ml_snapshot *ss, struct ml_alloc_view *av)
{
	uint64_t addr;
	int ret, nseg = 0;

	memset(av, 0, sizeof(*av));
	ret = mlalloc_inspect_find(ss->pid, &addr);
	if (!ret) {
		av->snap = malloc(sizeof(*av->snap));
		ret = av->snap ? mlalloc_inspect_read(ss->pid, addr, av->snap) : -ENOMEM;
	}
	if (ret) {
		snprintf(av->why, sizeof(av->why), "%s", find_error(ret));
		return 0;
	}
	av->found = true;
	av->arenas = calloc(av->snap->in.narenas + 1, sizeof(*av->arenas));
	if (!av->arenas)
		return -ENOMEM;
	for (uint32_t i = 0; i < av->snap->in.narenas && i < MLALLOC_MAX_ARENAS; i++)
		nseg += av->snap->in.arenas[i].role == MLALLOC_ARENA_SEGMENTS;
	for (uint32_t i = 0; i < av->snap->in.narenas && i < MLALLOC_MAX_ARENAS; i++) {
		const struct mlalloc_arena *a = &av->snap->in.arenas[i];
		struct ml_arena_view *v = &av->arenas[av->narenas];

		if (a->role == MLALLOC_ARENA_FREE)
			continue;
		av->narenas++;
		v->base = a->base;
		v->size = a->size;
		v->role = a->role;
		v->committed = ml_have((double)a->committed, ML_SRC_MLALLOC);
		v->used = ml_have((double)a->used, ML_SRC_MLALLOC);
		pair_kernel(ss, v);
		arena_live(av->snap, nseg, v, a);
	}
	reconcile(av);
	return 0;
}

static const struct ml_col arena_cols[] = {
	{ "base", "base", ML_UNIT_ADDR },
	{ "size_bytes", "size", ML_UNIT_BYTES },
	{ "role", "role", ML_UNIT_TEXT },
	{ "committed_bytes", "committed", ML_UNIT_BYTES },
	{ "live_bytes", "live", ML_UNIT_BYTES },
	{ "resident_bytes", "resident", ML_UNIT_BYTES },
	{ "lazyfree_bytes", "lazyfree", ML_UNIT_BYTES },
	{ "swapped_bytes", "swapped", ML_UNIT_BYTES },
	{ "faults", "faults", ML_UNIT_TOTAL },
	{ "pte_tables", "pte-tables", ML_UNIT_COUNT },
	{ "thp_bytes", "thp", ML_UNIT_BYTES },
	{ "fragmentation_bytes", "resident-live", ML_UNIT_BYTES },
};

static void arena_table(struct ml_report *r, const struct ml_alloc_view *av)
{
	ml_report_table(r, "arenas", "mlalloc arenas", arena_cols,
			sizeof(arena_cols) / sizeof(arena_cols[0]), ML_SRC_MLALLOC);
	for (int i = 0; i < av->narenas; i++) {
		const struct ml_arena_view *v = &av->arenas[i];

		ml_report_cell_addr(r, v->base);
		ml_report_cell(r, ml_have((double)v->size, ML_SRC_MLALLOC));
		ml_report_cell_str(r, mlalloc_arena_role_name(v->role));
		ml_report_cell(r, v->committed);
		ml_report_cell(r, v->live);
		ml_report_cell(r, v->resident);
		ml_report_cell(r, v->lazyfree);
		ml_report_cell(r, v->swapped);
		ml_report_cell(r, v->faults);
		ml_report_cell(r, v->pte_tables);
		ml_report_cell(r, v->thp);
		ml_report_cell(r, v->frag);
	}
	ml_report_table_end(r);
}

void ml_alloc_report(struct ml_report *r, const struct ml_alloc_view *av)
{
	const struct ml_alloc_totals *t = &av->t;
	char buf[64];

	ml_report_section(r, "mlalloc", "libmlalloc");
	if (!av->found) {
		ml_report_str(r, "unavailable", "allocator", av->why);
		ml_report_section_end(r);
		return;
	}
	snprintf(buf, sizeof(buf), "%u", av->snap->in.version);
	ml_report_str(r, "introspect_version", "introspection version", buf);
	ml_report_val(r, "heaps", "thread heaps", ML_UNIT_COUNT, t->heaps);
	ml_report_val(r, "live_blocks", "live blocks", ML_UNIT_COUNT, t->live_blocks);
	ml_report_val(r, "live_bytes", "live", ML_UNIT_BYTES, t->live);
	ml_report_val(r, "free_in_pages_bytes", "+ free blocks in pages", ML_UNIT_BYTES,
		      t->free_in_pages);
	ml_report_val(r, "free_slices_bytes", "+ free slices, seg. headers", ML_UNIT_BYTES,
		      t->free_slices);
	ml_report_val(r, "huge_headers_bytes", "+ huge block headers", ML_UNIT_BYTES,
		      t->huge_headers);
	ml_report_val(r, "huge_cached_bytes", "+ cached huge mappings", ML_UNIT_BYTES,
		      t->huge_cached);
	ml_report_val(r, "committed_bytes", "= committed", ML_UNIT_BYTES, t->committed);
	ml_report_val(r, "returned_bytes", "+ returned / untouched", ML_UNIT_BYTES, t->returned);
	ml_report_val(r, "reserved_bytes", "= reserved in arenas", ML_UNIT_BYTES, t->reserved);
	ml_report_val(r, "metadata_bytes", "+ metadata mappings", ML_UNIT_BYTES, t->metadata);
	ml_report_val(r, "reserved_published_bytes", "= reserved (mlalloc's total)", ML_UNIT_BYTES,
		      t->reserved_published);
	ml_report_val(r, "resident_bytes", "resident in arenas (kernel)", ML_UNIT_BYTES,
		      t->resident);
	arena_table(r, av);
	ml_report_section_end(r);
}

void ml_alloc_free(struct ml_alloc_view *av)
{
	free(av->snap);
	free(av->arenas);
	av->snap = NULL;
	av->arenas = NULL;
}
