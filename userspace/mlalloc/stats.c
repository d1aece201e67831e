// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - the published introspection structure and MLALLOC_STATS.
 *
 * mlalloc_introspect is an exported data symbol: another process finds it
 * in the dynamic symbol table of libmlalloc.so, adds the load address
 * from /proc/PID/maps and reads it with process_vm_readv (introspect.c).
 * Everything it points to (the heap list) lives in memory that is never
 * unmapped, so a reader racing with the process reads stale numbers at
 * worst, never garbage addresses; the arena table is guarded by a seqlock.
 */
#include <unistd.h>

#include "mlalloc_types.h"

struct mlalloc_introspect mlalloc_introspect = {
	.magic = MLALLOC_INTROSPECT_MAGIC,
	.version = MLALLOC_INTROSPECT_VERSION,
	.size = sizeof(struct mlalloc_introspect),
	.nclasses = MLALLOC_NCLASSES,
	.max_arenas = MLALLOC_MAX_ARENAS,
	.segment_size = ML_SEG_SIZE,
	.slice_size = ML_SLICE_SIZE,
	.events = (uint64_t)(uintptr_t)&ml_events,
};

static int local_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	__builtin_memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

/* Runs at exit (and dlclose); prints without allocating.  The snapshot is
 * large, so it lives in static storage rather than on the stack. */
__attribute__((destructor)) static void ml_stats_exit(void)
{
	static struct mlalloc_snapshot snap;

	if (!ml_opt.stats)
		return;
	if (mlalloc_snapshot_read(local_read, NULL, (uint64_t)(uintptr_t)&mlalloc_introspect,
				  &snap) == 0)
		mlalloc_snapshot_print(2, &snap);
}

void ml_stats_init(void)
{
	for (unsigned c = 0; c < MLALLOC_NSMALL; c++)
		mlalloc_introspect.class_size[c] = ml_class_size[c];
	mlalloc_introspect.pid = (uint32_t)getpid();
	mlalloc_introspect.purge_delay_ms = ml_opt.purge_delay_ms;
	mlalloc_introspect.check = (uint32_t)ml_opt.check;
}
