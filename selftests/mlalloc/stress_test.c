// SPDX-License-Identifier: GPL-2.0
/*
 * Multi-threaded stress of libmlalloc (libc names, linked with -lmlalloc):
 * cross-thread frees with random sizes from 1 byte to 4 MiB and content
 * checks, fork from a threaded process, thread creation/exit churn (the
 * heap count must stay bounded: exited threads' caches are reused), malloc
 * after a thread's destructors ran, and purging (RSS must drop).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlalloc.h"
#include "kselftest_harness.h"

extern struct mlalloc_introspect mlalloc_introspect;

static int self_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, (void *)(uintptr_t)addr, len);
	return 0;
}

static void snap(struct mlalloc_snapshot *s)
{
	if (mlalloc_snapshot_read(self_read, NULL, (uintptr_t)&mlalloc_introspect, s))
		abort();
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* 1 B .. 4 MiB, log-uniform, so most blocks are small but every range
 * (classes, large spans, huge mappings) is hit */
static size_t rnd_size(uint64_t *s)
{
	unsigned bits = (unsigned)(rnd(s) % 23);	/* 2^0 .. 2^22 */
	size_t n = ((size_t)1 << bits) + rnd(s) % ((size_t)1 << bits);
	return n > (4 << 20) ? (4 << 20) : n;
}

/* header: size + tag; body: pattern from the tag (first/last 256 bytes and
 * a stride for big blocks, everything for small ones) */
struct hdr {
	size_t n;
	uint64_t tag;
};

static void stamp(uint8_t *p, size_t n, uint64_t tag)
{
	if (n >= sizeof(struct hdr)) {
		((struct hdr *)p)->n = n;
		((struct hdr *)p)->tag = tag;
	}
	for (size_t i = sizeof(struct hdr); i < n; i += (n > 4096 && i > 256 && i < n - 256) ? 4093 : 1)
		p[i] = (uint8_t)(tag + i);
}

static int verify(const uint8_t *p, size_t n)
{
	if (n < sizeof(struct hdr))
		return 1;
	const struct hdr *h = (const void *)p;
	if (h->n != n)
		return 0;
	for (size_t i = sizeof(struct hdr); i < n; i += (n > 4096 && i > 256 && i < n - 256) ? 4093 : 1)
		if (p[i] != (uint8_t)(h->tag + i))
			return 0;
	return 1;
}

#define SLOTS 4096
static _Atomic(uint8_t *) slots[SLOTS];
static atomic_int corrupt;

static void *xthread_worker(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	for (int i = 0; i < 60000; i++) {
		size_t n = rnd_size(&s);
		if (n > 65536 && rnd(&s) % 8)	/* keep big blocks rarer */
			n = n % 65536 + 1;
		uint8_t *p = malloc(n);
		if (!p) {
			atomic_fetch_add(&corrupt, 1000);
			break;
		}
		if (malloc_usable_size(p) < n || ((uintptr_t)p & 15))
			atomic_fetch_add(&corrupt, 1);
		if (n < sizeof(struct hdr)) {	/* too small to carry a header */
			memset(p, 0x11, n);
			free(p);
			continue;
		}
		stamp(p, n, rnd(&s));
		/* publish; whatever was there was most likely allocated by
		 * another thread: check it and free it here */
		uint8_t *old = atomic_exchange(&slots[rnd(&s) % SLOTS], p);
		if (old) {
			size_t on = ((struct hdr *)old)->n;
			if (malloc_usable_size(old) >= sizeof(struct hdr) && !verify(old, on))
				atomic_fetch_add(&corrupt, 1);
			free(old);
		}
	}
	return NULL;
}

TEST(cross_thread_random_sizes)
{
	enum { T = 4 };
	pthread_t th[T];

	/* sizes < 16 carry no header: store 16+ so the freeing side can check */
	for (int i = 0; i < T; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, xthread_worker, (void *)(uintptr_t)(i + 1)));
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(0, (int)atomic_load(&corrupt));
	for (int i = 0; i < SLOTS; i++) {
		uint8_t *p = atomic_exchange(&slots[i], NULL);
		if (p) {
			if (malloc_usable_size(p) >= sizeof(struct hdr))
				EXPECT_TRUE(verify(p, ((struct hdr *)p)->n));
			free(p);
		}
	}
	/* every block was freed: nothing live beyond what the harness holds */
	struct mlalloc_snapshot sn;
	snap(&sn);
	EXPECT_LT(sn.live_bytes_total, 1 << 20);
}

static atomic_int stop;

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	void *keep[64] = { 0 };
	while (!atomic_load(&stop)) {
		unsigned k = (unsigned)(rnd(&s) % 64);
		free(keep[k]);
		keep[k] = malloc(rnd(&s) % 3000 + 1);
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

static void *child_thread(void *arg)
{
	void *v[100];
	for (int i = 0; i < 100; i++) {
		v[i] = malloc(i * 37 + 1);
		if (!v[i])
			return (void *)1;
		memset(v[i], i, i * 37 + 1);
	}
	for (int i = 0; i < 100; i++)
		free(v[i]);
	return arg;
}

/*
 * 40 children each touching up to 4 MiB blocks: a few seconds alone, but
 * well over the harness's default 30 s on a loaded 2-core machine, so
 * this one runs in a fixture for TEST_F_TIMEOUT.
 */
FIXTURE(forking) {};
FIXTURE_SETUP(forking) {}
FIXTURE_TEARDOWN(forking) {}

TEST_F_TIMEOUT(forking, fork_from_threaded_process, 300)
{
	enum { T = 3, FORKS = 40 };
	pthread_t th[T];

	atomic_store(&stop, 0);
	for (int i = 0; i < T; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 7)));
	for (int f = 0; f < FORKS; f++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			/* the child: allocate in every size range, and from a thread */
			uint64_t s = 99 + f;
			for (int i = 0; i < 2000; i++) {
				size_t n = rnd_size(&s);
				uint8_t *p = malloc(n);
				if (!p)
					_exit(2);
				stamp(p, n, 5);
				if (!verify(p, n))
					_exit(3);
				free(p);
			}
			pthread_t t;
			void *ret = (void *)1;
			if (pthread_create(&t, NULL, child_thread, NULL) || pthread_join(t, &ret) || ret)
				_exit(4);
			_exit(0);
		}
		int st = 0;
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st)) TH_LOG("fork %d: child status %#x", f, st);
		ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("fork %d", f);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
}

static void *short_lived(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 50; i++) {
		void *p = malloc(i * 100 + 1);
		memset(p, 1, i * 100 + 1);
		if (i % 2)
			free(p);
		else
			out[i / 2] = p;	/* freed by the main thread after exit */
	}
	return NULL;
}

TEST(thread_churn_reuses_heaps)
{
	enum { ROUNDS = 300, PAR = 2 };
	static void *handed[ROUNDS][PAR][25];
	struct mlalloc_snapshot before, after;

	snap(&before);
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t th[PAR];
		for (int k = 0; k < PAR; k++)
			ASSERT_EQ(0, pthread_create(&th[k], NULL, short_lived, handed[r][k]));
		for (int k = 0; k < PAR; k++)
			pthread_join(th[k], NULL);
		for (int k = 0; k < PAR; k++)
			for (int i = 0; i < 25; i++)
				free(handed[r][k][i]);
	}
	snap(&after);
	/* 600 threads came and went: their heaps were handed on, not leaked */
	EXPECT_LE(after.nheaps, before.nheaps + PAR + 1)
		TH_LOG("heaps %u -> %u", before.nheaps, after.nheaps);
	/* and every block the threads allocated was counted freed, whoever
	 * freed it (a few may be held by glibc's thread-stack cache) */
	int64_t lb = 0, la = 0;
	for (int c = 0; c < MLALLOC_NCLASSES; c++) {
		lb += before.live_blocks[c];
		la += after.live_blocks[c];
	}
	EXPECT_LT(la - lb, 64) TH_LOG("live blocks %ld -> %ld", (long)lb, (long)la);
}

static pthread_key_t late_key;
static atomic_int late_ok;

static void late_destructor(void *arg)
{
	/* runs after mlalloc's own destructor returned the thread's heap */
	free(arg);
	void *v[300];
	for (int i = 0; i < 300; i++) {
		v[i] = malloc(i * 11 + 1);
		if (!v[i])
			return;
		memset(v[i], 3, i * 11 + 1);
	}
	for (int i = 0; i < 300; i++)
		free(v[i]);
	atomic_fetch_add(&late_ok, 1);
}

static void *late_thread(void *arg)
{
	(void)arg;
	void *p = malloc(100);	/* mlalloc's key is created before ours */
	pthread_setspecific(late_key, malloc(10));
	free(p);
	return NULL;
}

TEST(malloc_after_thread_destructors)
{
	ASSERT_EQ(0, pthread_key_create(&late_key, late_destructor));
	for (int i = 0; i < 20; i++) {
		pthread_t t;
		ASSERT_EQ(0, pthread_create(&t, NULL, late_thread, NULL));
		pthread_join(t, NULL);
	}
	EXPECT_EQ(20, (int)atomic_load(&late_ok));
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

TEST(purge_returns_memory)
{
	enum { N = 100000 };	/* 100 MB of 1000-byte blocks */
	void **v = malloc(N * sizeof(*v));
	ASSERT_NE(NULL, v);
	long base = rss_kib();
	for (int i = 0; i < N; i++) {
		v[i] = malloc(1000);
		ASSERT_NE(NULL, v[i]);
		memset(v[i], 1, 1000);
	}
	long peak = rss_kib();
	EXPECT_GT(peak - base, 90000);
	struct mlalloc_snapshot s1, s2;
	snap(&s1);
	for (int i = 0; i < N; i++)
		free(v[i]);
	mlalloc_collect();
	snap(&s2);
	long after = rss_kib();
	TH_LOG("rss base %ld peak %ld after %ld KiB; committed %lu -> %lu",
	       base, peak, after, (unsigned long)s1.committed, (unsigned long)s2.committed);
	EXPECT_LT(after - base, 10000);
	EXPECT_LT(s2.committed, s1.committed / 4);
	EXPECT_GT(s2.in.purges, s1.in.purges);
	free(v);
}

TEST_HARNESS_MAIN
