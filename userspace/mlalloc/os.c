// SPDX-License-Identifier: GPL-2.0
/*
 * os.c - everything the allocator asks of the OS and of libc.
 *
 * Only calls that never allocate are used here: raw mmap/munmap/madvise,
 * clock_gettime (vDSO), write, abort and pthread mutexes.  No stdio: a
 * replacement malloc that calls printf can recurse into itself.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "mlalloc_types.h"

void *ml_os_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ML_COUNT_CALL();
	if (p == MAP_FAILED)
		return NULL;
	__atomic_fetch_add(&mlalloc_introspect.mmaps, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&mlalloc_introspect.reserved, size, __ATOMIC_RELAXED);
	return p;
}

/* Map `size` bytes aligned to `align` (a power of two) by over-mapping and
 * trimming both ends; the kernel has no aligned mmap. */
void *ml_os_map_aligned(size_t size, size_t align)
{
	if (size > PTRDIFF_MAX - align)
		return NULL;
	uint8_t *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ML_COUNT_CALL();
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p) {
		munmap(p, a - p);
		ML_COUNT_CALL();
	}
	if (p + size + align > a + size) {
		munmap(a + size, p + size + align - (a + size));
		ML_COUNT_CALL();
	}
	__atomic_fetch_add(&mlalloc_introspect.mmaps, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&mlalloc_introspect.reserved, size, __ATOMIC_RELAXED);
	if (ml_opt.thp) {
		int saved = errno; /* EINVAL without THP: not our caller's */
		madvise(a, size, MADV_HUGEPAGE);
		ML_COUNT_CALL();
		errno = saved;
	}
	return a;
}

void ml_os_unmap(void *p, size_t size)
{
	munmap(p, size);
	ML_COUNT_CALL();
	__atomic_fetch_add(&mlalloc_introspect.munmaps, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&mlalloc_introspect.reserved, size, __ATOMIC_RELAXED);
}

/* Return the pages to the kernel but keep the range: the next touch gets
 * zero-filled pages. */
void ml_os_purge(void *p, size_t size)
{
	madvise(p, size, MADV_DONTNEED);
	ML_COUNT_CALL();
	__atomic_fetch_add(&mlalloc_introspect.purges, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&mlalloc_introspect.purged, size, __ATOMIC_RELAXED);
}

int64_t ml_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ml_write(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void fmt_hex(char *buf, uint64_t v)
{
	static const char d[] = "0123456789abcdef";
	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 16; i++)
		buf[2 + i] = d[(v >> (60 - 4 * i)) & 15];
	buf[18] = 0;
}

/* The documented reaction to a corrupted heap: one line on stderr, abort. */
void ml_fatal(const char *what, const void *p)
{
	char hex[19];
	fmt_hex(hex, (uintptr_t)p);
	ml_write(2, "mlalloc: ");
	ml_write(2, what);
	ml_write(2, ": ");
	ml_write(2, hex);
	ml_write(2, "\n");
	abort();
}

#ifdef ML_DEBUG
/* A broken invariant in an ML_DEBUG build: "file:line: expression". */
void ml_assert_fail(const char *what)
{
	ml_write(2, "mlalloc: assertion failed: ");
	ml_write(2, what);
	ml_write(2, "\n");
	abort();
}
#endif

/* Between fork_prepare and fork_parent/fork_child the forking thread holds
 * every global lock (heap.c): an atfork handler that runs in that window
 * and allocates must not wait for itself.  Only that thread sees the flag
 * set, so for every other thread these are plain mutex calls. */
void ml_lock(pthread_mutex_t *m)
{
	if (ML_UNLIKELY(ml_tls_fork_held))
		return;
	pthread_mutex_lock(m);
}

void ml_unlock(pthread_mutex_t *m)
{
	if (ML_UNLIKELY(ml_tls_fork_held))
		return;
	pthread_mutex_unlock(m);
}

unsigned ml_gettid(void)
{
	return (unsigned)syscall(SYS_gettid);
}
