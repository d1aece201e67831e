/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pairing a process's libmlalloc arenas with what the kernel maps there.
 */
#ifndef MEMLENS_ARENA_H
#define MEMLENS_ARENA_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "report.h"

struct mlalloc_snapshot;

struct ml_arena_view {
	uint64_t base, size;
	uint32_t role;
	struct ml_val committed, used, live, resident, lazyfree, swapped;
	struct ml_val faults, pte_tables, thp, frag;
};

/* The allocator's own accounts, reconciled (docs/inspector.md). */
struct ml_alloc_totals {
	struct ml_val live, free_in_pages, free_slices, huge_headers;
	struct ml_val huge_cached, committed, returned, reserved;
	struct ml_val metadata, reserved_published, resident, live_blocks, heaps;
};

struct ml_alloc_view {
	bool found;
	char why[160]; /* when !found */
	struct mlalloc_snapshot *snap;
	struct ml_arena_view *arenas;
	int narenas;
	struct ml_alloc_totals t;
};

/*
 * Find libmlalloc in @ss->pid and pair each arena with /proc's view.
 * Returns 0 (av->found says whether mlalloc is there; av->why if not).
 */
int ml_alloc_read(const struct ml_snapshot *ss, struct ml_alloc_view *av);
void ml_alloc_report(struct ml_report *r, const struct ml_alloc_view *av);
void ml_alloc_free(struct ml_alloc_view *av);

#endif /* MEMLENS_ARENA_H */
