// SPDX-License-Identifier: GPL-2.0
/*
 * interpose.c - the libc names, as aliases of the prefixed functions.
 *
 * Aliases rather than wrappers: no extra call, and the symbols resolve
 * without any dlsym bootstrap.  glibc supports replacing its malloc this
 * way (all of malloc, free, calloc, realloc and the aligned variants must
 * come from the same allocator, which is why every one is here).  An
 * alias must live in the translation unit of its target, so this file
 * includes alloc.c; the libraries are built from it.  alloc.c alone (the
 * prefixed API) never interposes.
 */
#include <malloc.h>
#include <stdlib.h>

#include "alloc.c"

#define ALIAS(f) __attribute__((alias(#f), visibility("default"), used))

void *malloc(size_t n) ALIAS(mlalloc_malloc);
void free(void *p) ALIAS(mlalloc_free);
void *calloc(size_t n, size_t s) ALIAS(mlalloc_calloc);
void *realloc(void *p, size_t n) ALIAS(mlalloc_realloc);
void *reallocarray(void *p, size_t n, size_t s) ALIAS(mlalloc_reallocarray);
int posix_memalign(void **out, size_t a, size_t n) ALIAS(mlalloc_posix_memalign);
void *aligned_alloc(size_t a, size_t n) ALIAS(mlalloc_aligned_alloc);
void *memalign(size_t a, size_t n) ALIAS(mlalloc_memalign);
void *valloc(size_t n) ALIAS(mlalloc_valloc);
void *pvalloc(size_t n) ALIAS(mlalloc_pvalloc);
size_t malloc_usable_size(void *p) ALIAS(mlalloc_usable_size);
/* obsolete, still linked against by old binaries */
void cfree(void *p) ALIAS(mlalloc_free);
