// SPDX-License-Identifier: GPL-2.0
/*
 * alloc-bench WORKLOAD - allocator workloads modelled on the classic
 * benchmarks, written for memlens.  Plain malloc/free: the allocator is
 * chosen with LD_PRELOAD by the driver (run).  Prints a checksum so that
 * the work cannot be optimised away.
 *
 *   larson     threads free each other's objects (server-like)
 *   xmalloc    producer threads allocate, consumer threads free
 *   scratch    cache-scratch: objects handed out by one thread, then each
 *              thread churns its own small object (passive false sharing)
 *   thrash     cache-thrash: each thread churns small objects (active)
 *   churn      single thread, small objects, bounded live set
 *   realloc    buffers grown by small steps
 *   mixed      long-lived working set of mixed sizes plus churn
 *   large      256 KiB .. 8 MiB blocks, touched
 *   huge       5 .. 25 MiB blocks, 20 live, reused (malloc-large-like)
 *   mstress    generations of short-lived threads; objects of sizes in
 *              powers of two, some handed to the next generation
 *   frag       fragmentation-prone: many small blocks, every other one
 *              freed, then bigger ones allocated, repeated
 *   simple     single thread, one 64-byte malloc/free pair in a loop
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static atomic_ulong sum;

/* ---- larson ---- */
#define L_SLOTS 20000
static _Atomic(char *) lslots[L_SLOTS];

static void *larson_thr(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7919 + 1, acc = 0;
	for (int i = 0; i < 400000; i++) {
		size_t n = 16 + rnd(&s) % 240;
		char *p = malloc(n);
		p[0] = (char)n;
		char *old = atomic_exchange(&lslots[rnd(&s) % L_SLOTS], p);
		if (old) {
			acc += (unsigned char)old[0];
			free(old);
		}
	}
	sum += acc;
	return NULL;
}

/* ---- xmalloc: THREADS/2 producer-consumer pairs over SPSC rings ---- */
#define RING 4096
struct ring {
	_Atomic(void *) slot[RING];
	char pad[64];
};
static struct ring rings[THREADS / 2];
#define X_ITEMS 1000000

static void *producer(void *arg)
{
	struct ring *r = arg;
	uint64_t s = (uintptr_t)arg;
	for (unsigned i = 0; i < X_ITEMS; i++) {
		size_t n = 16 + rnd(&s) % 112;
		char *p = malloc(n);
		p[0] = 1;
		while (atomic_load_explicit(&r->slot[i % RING], memory_order_acquire))
			sched_yield();	/* ring full: CPU time is what is measured */
		atomic_store_explicit(&r->slot[i % RING], p, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	uint64_t acc = 0;
	for (unsigned i = 0; i < X_ITEMS; i++) {
		char *p;
		while (!(p = atomic_load_explicit(&r->slot[i % RING], memory_order_acquire)))
			sched_yield();
		atomic_store_explicit(&r->slot[i % RING], NULL, memory_order_release);
		acc += (unsigned char)p[0];
		free(p);
	}
	sum += acc;
	return NULL;
}

/* ---- cache-scratch / cache-thrash ---- */
static void *scratch_thr(void *arg)
{
	char *given = arg;
	free(given);		/* passive: the first object came from main */
	uint64_t acc = 0;
	for (int i = 0; i < 10000; i++) {
		volatile char *p = malloc(8);
		for (int k = 0; k < 500; k++)
			for (int j = 0; j < 8; j++)
				p[j] = (char)(p[j] + j + k);
		acc += (unsigned char)p[3];
		free((void *)p);
	}
	sum += acc;
	return NULL;
}

static void *thrash_thr(void *arg)
{
	(void)arg;
	return scratch_thr(NULL);	/* active: every object is the thread's own */
}

/* ---- mstress: generations of threads, survivors passed on ---- */
#define M_KEEP 2000
/* mkeep[gen & 1][t]: objects thread t of generation gen hands on; thread
 * t + 1 of generation gen + 1 frees them.  Each slot has one writer and one
 * reader per generation, generations are joined one after the other. */
static void *mkeep[2][THREADS][M_KEEP];

static void *mstress_thr(void *arg)
{
	unsigned id = (unsigned)((uintptr_t)arg - 1) % THREADS;
	unsigned gen = (unsigned)((uintptr_t)arg - 1) / THREADS;
	void **in = mkeep[(gen + 1) & 1][(id + THREADS - 1) % THREADS];
	void **out = mkeep[gen & 1][id];
	uint64_t s = (uintptr_t)arg * 104729 + 7, acc = 0;
	void *local[256] = { 0 };

	for (int j = 0; j < M_KEEP; j++) {	/* the previous generation's */
		char *old = in[j];
		in[j] = NULL;
		if (old) {
			acc += (unsigned char)old[0];
			free(old);
		}
	}
	for (int i = 0; i < 20000; i++) {
		unsigned k = (unsigned)(rnd(&s) % 256);
		free(local[k]);
		size_t n = (size_t)8 << (rnd(&s) % 9);	/* 8 B .. 2 KiB */
		char *p = malloc(n);
		p[0] = (char)n;
		p[n - 1] = 1;
		local[k] = p;
		if (rnd(&s) % 8 == 0) {		/* hand an object on */
			unsigned j = (unsigned)(rnd(&s) % M_KEEP);
			free(out[j]);
			out[j] = p;
			local[k] = NULL;
		}
	}
	for (int k = 0; k < 256; k++)
		free(local[k]);
	sum += acc;
	return NULL;
}

static void run_threads(void *(*fn)(void *), void **args, int n)
{
	pthread_t t[THREADS * 2];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, args ? args[i] : (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "";
	uint64_t s = 12345;

	if (!strcmp(w, "larson")) {
		run_threads(larson_thr, NULL, THREADS);
		for (int i = 0; i < L_SLOTS; i++)
			free(lslots[i]);
	} else if (!strcmp(w, "xmalloc")) {
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS / 2; i++) {
			pthread_create(&t[2 * i], NULL, producer, &rings[i]);
			pthread_create(&t[2 * i + 1], NULL, consumer, &rings[i]);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
	} else if (!strcmp(w, "scratch")) {
		void *args[THREADS];
		for (int i = 0; i < THREADS; i++)
			args[i] = malloc(8);	/* adjacent objects from one thread */
		run_threads(scratch_thr, args, THREADS);
	} else if (!strcmp(w, "thrash")) {
		void *args[THREADS];
		for (int i = 0; i < THREADS; i++)
			args[i] = NULL;
		run_threads(thrash_thr, args, THREADS);
	} else if (!strcmp(w, "churn")) {
		enum { LIVE = 1000 };
		char *live[LIVE] = { 0 };
		for (int i = 0; i < 8000000; i++) {
			unsigned k = (unsigned)(rnd(&s) % LIVE);
			if (live[k]) {
				sum += (unsigned char)live[k][0];
				free(live[k]);
			}
			size_t n = 8 + rnd(&s) % 248;
			live[k] = malloc(n);
			live[k][0] = (char)n;
		}
		for (int k = 0; k < LIVE; k++)
			free(live[k]);
	} else if (!strcmp(w, "realloc")) {
		enum { N = 2000 };
		char *b[N] = { 0 };
		size_t len[N] = { 0 };
		for (int round = 0; round < 100; round++) {
			for (int i = 0; i < N; i++) {
				len[i] += 16 + rnd(&s) % 200;
				b[i] = realloc(b[i], len[i]);
				b[i][len[i] - 1] = 1;
			}
		}
		char *big = NULL;
		for (size_t n = 4096; n <= (256u << 20); n += n / 8) {
			big = realloc(big, n);
			big[n - 1] = 2;
		}
		for (int i = 0; i < N; i++)
			free(b[i]);
		free(big);
	} else if (!strcmp(w, "mixed")) {
		enum { WS = 200000 };
		char **ws = malloc(WS * sizeof(*ws));
		for (int i = 0; i < WS; i++) {
			size_t n = (rnd(&s) % 16 == 0) ? 1024 + rnd(&s) % 7168 : 8 + rnd(&s) % 200;
			ws[i] = malloc(n);
			memset(ws[i], 1, n);
		}
		for (int i = 0; i < 1000000; i++) {
			unsigned k = (unsigned)(rnd(&s) % WS);
			free(ws[k]);
			size_t n = (rnd(&s) % 16 == 0) ? 1024 + rnd(&s) % 7168 : 8 + rnd(&s) % 200;
			ws[k] = malloc(n);
			ws[k][0] = 1;
			ws[k][n - 1] = 1;
		}
		for (int i = 0; i < WS; i++)
			free(ws[i]);
		free(ws);
	} else if (!strcmp(w, "large")) {
		enum { LIVE = 16 };
		char *live[LIVE] = { 0 };
		for (int i = 0; i < 1000; i++) {
			unsigned k = (unsigned)(rnd(&s) % LIVE);
			free(live[k]);
			size_t n = (256u << 10) + rnd(&s) % (8u << 20);
			live[k] = malloc(n);
			for (size_t off = 0; off < n; off += 4096)
				live[k][off] = 1;
		}
		for (int k = 0; k < LIVE; k++)
			free(live[k]);
	} else if (!strcmp(w, "huge")) {
		enum { LIVE = 20 };
		char *live[LIVE] = { 0 };
		for (int i = 0; i < 1000; i++) {
			unsigned k = (unsigned)(rnd(&s) % LIVE);
			free(live[k]);
			size_t n = (5u << 20) + rnd(&s) % (20u << 20);
			live[k] = malloc(n);
			/* touch the first and last 256 KiB, as a buffer partly used */
			for (size_t off = 0; off < (256u << 10); off += 4096) {
				live[k][off] = 1;
				live[k][n - 1 - off] = 1;
			}
		}
		for (int k = 0; k < LIVE; k++)
			free(live[k]);
	} else if (!strcmp(w, "mstress")) {
		for (int gen = 0; gen < 40; gen++) {
			pthread_t t[THREADS];
			for (int i = 0; i < THREADS; i++)
				pthread_create(&t[i], NULL, mstress_thr,
					       (void *)(uintptr_t)(i + 1 + gen * THREADS));
			for (int i = 0; i < THREADS; i++)
				pthread_join(t[i], NULL);
		}
		for (int g = 0; g < 2; g++)
			for (int i = 0; i < THREADS; i++)
				for (int j = 0; j < M_KEEP; j++)
					free(mkeep[g][i][j]);
	} else if (!strcmp(w, "frag")) {
		enum { N = 400000 };
		char **v = malloc(N * sizeof(*v));
		for (int round = 0; round < 2; round++) {
			size_t small = 16 + 16 * (size_t)(round % 4), big = 4 * small + 64;
			for (int i = 0; i < N; i++) {
				v[i] = malloc(small);
				v[i][0] = 1;
			}
			for (int i = 0; i < N; i += 2) {
				free(v[i]);
				v[i] = malloc(big);
				memset(v[i], 2, big);
			}
			for (int i = 1; i < N; i += 2) {
				sum += (unsigned char)v[i][0];
				free(v[i]);
			}
			for (int i = 0; i < N; i += 2)
				free(v[i]);
		}
		free(v);
	} else if (!strcmp(w, "simple")) {
		for (int i = 0; i < 8000000; i++) {
			char *volatile p = malloc(64);
			p[0] = (char)i;
			sum += (unsigned char)p[0];
			free(p);
		}
	} else {
		fprintf(stderr, "usage: alloc-bench larson|xmalloc|scratch|thrash|churn|realloc|mixed|large|huge|mstress|frag|simple\n");
		return 2;
	}
	printf("%s %lu\n", w, (unsigned long)sum);
	return 0;
}
