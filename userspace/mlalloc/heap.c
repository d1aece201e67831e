// SPDX-License-Identifier: GPL-2.0
/*
 * heap.c - per-thread heaps: creation, thread exit, fork, initialisation.
 *
 * The calling thread's heap is one initial-exec TLS load away
 * (ml_tls_heap): no __tls_get_addr, and no allocation by the dynamic linker
 * when the first thread-local access happens.  A heap is created on the
 * thread's first call, from memory mapped here (never from malloc), and is
 * registered with a pthread key whose destructor runs at thread exit.
 * pthread_key_create and pthread_setspecific do not allocate for the first
 * 32 keys; ml_tls_heap is set before pthread_setspecific anyway, so even a
 * later key would only recurse into an already working heap.
 *
 * Thread exit returns the cache: the destructor collects remote frees and
 * releases empty pages (their slices stay resident until the purge delay
 * passes, checked by the adopter), then puts the heap on the abandoned
 * list, from which the next new thread adopts it whole (pages, counters and
 * all).  Heaps are never freed, so other threads can always free into the
 * pages of an abandoned heap.  If the exiting thread allocates again after
 * its destructor ran (a later TLS destructor calling malloc), it uses the
 * shared backup heap under ml_backup_lock.
 *
 * fork: in a multi-threaded process the prepare handler takes every global
 * lock so that the child inherits them consistent; in a single-threaded one
 * it takes none (see "fork" below for why, and for the locking rules).
 * Heaps of the threads that do not exist in the child may have been in the
 * middle of an operation; the child never touches them again (marked
 * abandoned but not adoptable), and blocks it frees into their pages just
 * wait on the remote lists.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>

#include "mlalloc_types.h"

__thread struct heap *ml_tls_heap __attribute__((tls_model("initial-exec")));
static __thread int tls_exited __attribute__((tls_model("initial-exec")));

struct ml_options ml_opt = {
	.purge_delay_ms = 10,
	.huge_cache = 128 * ML_MIB,
	.huge_delay_ms = 1000,
};
uintptr_t ml_key;
atomic_int ml_inited;
pthread_mutex_t ml_backup_lock = PTHREAD_MUTEX_INITIALIZER;
struct heap ml_backup_heap;

static pthread_key_t heap_key;
static struct heap *abandoned;
static uint8_t *heap_chunk; /* heaps are carved from here */
static size_t heap_chunk_left;

#define ML_HEAP_CHUNK (256 * ML_KIB)
#define ML_HEAP_SIZE  ((sizeof(struct heap) + 63) & ~(size_t)63)

static void heap_init(struct heap *h, uint32_t state)
{
	h->st.magic = MLALLOC_HEAP_MAGIC;
	h->st.state = state;
	for (unsigned c = 0; c < MLALLOC_NSMALL; c++)
		h->cur[c] = &ml_empty_page;
	if (h != &ml_backup_heap) /* shared under a lock: nothing kept */
		ml_rcache_init(h);
	/* publish: readers walk mlalloc_introspect.heaps */
	h->st.next = mlalloc_introspect.heaps;
	__atomic_store_n(&mlalloc_introspect.heaps, (uint64_t)(uintptr_t)h, __ATOMIC_RELEASE);
}

static struct heap *heap_acquire(void)
{
	struct heap *h;

	ml_lock(&ml_pool_lock);
	h = abandoned;
	if (h) {
		abandoned = h->next_free;
		h->next_free = NULL;
	} else {
		if (heap_chunk_left < ML_HEAP_SIZE) {
			struct ml_ev ev;

			ml_ev_start(&ev);
			heap_chunk = ml_os_map(ML_HEAP_CHUNK);
			if (heap_chunk)
				ml_ev_end(&ev, MLALLOC_EV_META_MAP, 0, heap_chunk, ML_HEAP_CHUNK, 0,
					  0);
			if (!heap_chunk) {
				heap_chunk_left = 0;
				ml_unlock(&ml_pool_lock);
				return NULL;
			}
			heap_chunk_left = ML_HEAP_CHUNK;
		}
		h = (struct heap *)heap_chunk;
		heap_chunk += ML_HEAP_SIZE;
		heap_chunk_left -= ML_HEAP_SIZE;
		heap_init(h, 1);
	}
	h->st.state = 1;
	h->st.tid = ml_gettid();
	h->owner = pthread_self();
	ml_unlock(&ml_pool_lock);
	ml_heap_purge_defer(h);
	return h;
}

static void heap_exit(void *arg)
{
	struct heap *h = arg;

	if (!h || h != ml_tls_heap)
		return;
	int saved = errno;
	/* Not forced: the free slices stay resident until their purge
	 * deadline, which the adopting thread's slow paths check.  Purging
	 * here made a thread that replaces an exited one (mstress) fault every
	 * page back in; see docs/allocator.md for the measurement. */
	ml_heap_collect(h, false);
	ml_tls_heap = NULL;
	tls_exited = 1;
	ml_lock(&ml_pool_lock);
	h->st.tid = 0;
	h->st.state = 2;
	h->next_free = abandoned;
	abandoned = h;
	ml_unlock(&ml_pool_lock);
	errno = saved;
}

static int64_t env_num(const char *name, int64_t def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	int neg = *s == '-';
	int64_t v = 0;
	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

static void init_key(void)
{
	uintptr_t k = 0;
	int saved = errno; /* init may run inside the caller's first malloc */
	if (syscall(SYS_getrandom, &k, sizeof(k), 1 /* GRND_NONBLOCK */) != sizeof(k))
		k = 0;
	errno = saved;
	k ^= (uintptr_t)__builtin_ia32_rdtsc() * 0x9e3779b97f4a7c15ULL;
	k ^= (uintptr_t)&k;
	ml_key = k | 1;
}

void ml_init(void)
{
	int expected = 0;

	if (atomic_load(&ml_inited) == 2)
		return;
	if (!atomic_compare_exchange_strong(&ml_inited, &expected, 1)) {
		while (atomic_load(&ml_inited) != 2)
			sched_yield();
		return;
	}
	ml_opt.purge_delay_ms = env_num("MLALLOC_PURGE_DELAY", 10);
	ml_opt.check = (int)env_num("MLALLOC_CHECK", 0);
	ml_opt.stats = (int)env_num("MLALLOC_STATS", 0);
	ml_opt.thp = (int)env_num("MLALLOC_THP", 0);
	ml_opt.huge_cache = (size_t)env_num("MLALLOC_HUGE_CACHE", 128 * ML_MIB);
	ml_opt.huge_delay_ms = env_num("MLALLOC_HUGE_DELAY", 1000);
	init_key();
	ml_stats_init();
	heap_init(&ml_backup_heap, 3);
	pthread_key_create(&heap_key, heap_exit);
	atomic_store(&ml_inited, 2);
}

/* First call of a thread (or a call after its heap was returned). */
struct heap *ml_heap_get_slow(void)
{
	if (atomic_load_explicit(&ml_inited, memory_order_acquire) != 2)
		ml_init();
	if (ml_tls_heap)
		return ml_tls_heap;
	if (tls_exited)
		return NULL; /* the caller uses the backup heap */
	struct heap *h = heap_acquire();
	if (!h)
		return NULL;
	ml_tls_heap = h;
	pthread_setspecific(heap_key, h);
	return h;
}

void mlalloc_collect(void) ML_API;
void mlalloc_collect(void)
{
	struct heap *h = ml_tls_heap;
	int saved = errno;
	if (h) {
		ml_heap_collect(h, true);
		ml_heap_purge(h, true);
	}
	ml_huge_trim();
	errno = saved;
}

/* ---- fork ---------------------------------------------------------------- */

/*
 * The global locks, in lock order: a backup-heap allocation takes the
 * others under ml_backup_lock, ml_segment_alloc takes ml_arena_lock under
 * ml_pool_lock, and no path takes two of them in the other order.
 *
 *   ml_backup_lock  the backup heap (alloc.c)
 *   ml_pool_lock    the abandoned-heap list, heap_chunk (here), the segment
 *                   cache and the arena being carved (segment.c)
 *   ml_huge_lock    the cache of freed huge mappings (huge.c)
 *   ml_arena_lock   the published arena table (segment.c)
 *
 * Locking rules around fork:
 *
 * - Multi-threaded process: fork_prepare takes all four, in order, so that
 *   no other thread is inside a locked section when the address space is
 *   copied.  fork_parent releases them; fork_child re-initialises them (the
 *   only thread left is their owner, the threads that waited are gone).
 *
 * - From the end of fork_prepare to fork_parent/fork_child the forking
 *   thread owns every lock, and ml_tls_fork_held says so: ml_lock and
 *   ml_unlock are no-ops for that thread (os.c).  glibc runs prepare
 *   handlers in reverse order of registration and parent/child handlers in
 *   order, so handlers registered before ours run while we hold the locks;
 *   this way they can still allocate on paths that lock (a new segment, a
 *   huge block) while every other thread that needs a lock waits.
 *
 * - Single-threaded process (__libc_single_threaded: the test glibc's own
 *   fork uses to skip its malloc locks): nothing is taken, and the child
 *   is an exact copy of the only thread's state.  No other thread can hold a
 *   lock; only this thread, interrupted by a signal handler that forks,
 *   can.  Taking the locks here is what deadlocked: a handler that
 *   interrupted fork between our prepare and parent handlers
 *   (glibc's tst-mallocfork) found ml_backup_lock held by itself, and one
 *   that interrupted malloc (tst-mallocfork2) the lock malloc held.  In the
 *   second case the child inherits a half-done operation; POSIX allows it
 *   only async-signal-safe functions, as with glibc's malloc.
 *
 * - Each handler runs its lock sequence with signals blocked, so that a
 *   handler that forks sees either no lock or all of them taken, and
 *   ml_tls_fork_held counts nested forks: in a multi-threaded process a
 *   fork from a signal handler that interrupted our fork finds the locks
 *   already owned and only counts.  (glibc 2.36 itself deadlocks there, on
 *   its atfork_lock, before calling us; a fork from a handler that
 *   interrupted malloc in a multi-threaded process deadlocks on our lock,
 *   as on glibc's own.)
 */
__thread unsigned ml_tls_fork_held __attribute__((tls_model("initial-exec")));

static pthread_mutex_t *const fork_locks[] = {
	&ml_backup_lock,
	&ml_pool_lock,
	&ml_huge_lock,
	&ml_arena_lock,
};
#define NFORK_LOCKS (sizeof(fork_locks) / sizeof(fork_locks[0]))

static void signals_block(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void signals_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void fork_prepare(void)
{
	sigset_t old;

	if (ml_tls_fork_held) { /* forked from a handler, inside our fork */
		ml_tls_fork_held++;
		return;
	}
	if (__libc_single_threaded)
		return;
	signals_block(&old);
	for (unsigned i = 0; i < NFORK_LOCKS; i++)
		pthread_mutex_lock(fork_locks[i]);
	ml_tls_fork_held = 1;
	signals_restore(&old);
}

static void fork_parent(void)
{
	sigset_t old;

	if (!ml_tls_fork_held) /* single-threaded: nothing taken */
		return;
	signals_block(&old);
	if (--ml_tls_fork_held == 0)
		for (unsigned i = NFORK_LOCKS; i-- > 0;)
			pthread_mutex_unlock(fork_locks[i]);
	signals_restore(&old);
}

static void fork_child(void)
{
	static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
	sigset_t old;

	if (ml_tls_fork_held) {
		signals_block(&old);
		for (unsigned i = 0; i < NFORK_LOCKS; i++)
			*fork_locks[i] = init;
		/* still inside an outer fork of this thread: it owns them */
		if (--ml_tls_fork_held)
			for (unsigned i = 0; i < NFORK_LOCKS; i++)
				pthread_mutex_lock(fork_locks[i]);
		signals_restore(&old);
	}
	mlalloc_introspect.pid = (uint32_t)getpid();
	ml_tls_tid = 0; /* the child's own, on its next event */
	/* Heaps of threads that did not survive the fork: leave them be. */
	for (struct heap *h = (struct heap *)(uintptr_t)mlalloc_introspect.heaps; h;
	     h = (struct heap *)(uintptr_t)h->st.next) {
		if (h->st.state == 1 && h != ml_tls_heap) {
			h->st.state = 2;
			h->st.tid = 0;
		}
	}
	if (ml_tls_heap)
		ml_tls_heap->st.tid = ml_gettid();
}

__attribute__((constructor)) static void ml_ctor(void)
{
	ml_init();
	/* pthread_atfork may allocate (through us): fine here, no lock held. */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
