// SPDX-License-Identifier: GPL-2.0
/*
 * fork safety of libmlalloc (libc names, linked with -lmlalloc), under the
 * patterns glibc's own malloc tests use:
 *
 *   signal_fork.during_fork     fork from a SIGALRM handler that interrupts
 *                               fork (glibc's tst-mallocfork); the child of
 *                               either fork allocates
 *   signal_fork.during_malloc   fork from a SIGALRM handler that interrupts
 *                               malloc/free of every size range
 *                               (tst-mallocfork2); that child only _exits,
 *                               the only thing POSIX allows it
 *   threads.fork_under_allocators  fork while threads allocate and free; the
 *                               child allocates at once and exits normally
 *   threads.fork_in_child_of_fork  the same, four generations deep
 *   atfork.order                user atfork handlers registered before the
 *                               allocator's (from .preinit_array) and after
 *                               it allocate on paths that take locks
 *
 * A deadlock is a hang: the harness kills the test after FORK_TIMEOUT
 * seconds and reports it as failed.  Every test first checks that malloc is
 * libmlalloc's, so the suite cannot pass on glibc's allocator.  Loops are
 * bounded: each test takes a few seconds on an idle core.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlalloc.h"
#include "kselftest_harness.h"

#define FORK_TIMEOUT	30	/* s; a run without a hang needs a few */

extern struct mlalloc_introspect mlalloc_introspect;

/* malloc is libmlalloc's: the libc name is an alias of the prefixed one,
 * and a 1-byte block is one 16-byte class (glibc's smallest chunk holds 24) */
static int is_mlalloc(void)
{
	void *p = malloc(1);
	int ok = p && (void *)malloc == (void *)mlalloc_malloc &&
		 malloc_usable_size(p) == 16;
	free(p);
	return ok;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* 1 B .. 8 MiB, log-uniform: small classes, large spans, huge mappings */
static size_t rnd_size(uint64_t *s)
{
	unsigned bits = (unsigned)(rnd(s) % 24);
	return ((size_t)1 << bits) + rnd(s) % ((size_t)1 << bits);
}

/* first, middle and last byte (the same for n <= 2) */
static void stamp(uint8_t *p, size_t n, uint8_t tag)
{
	p[0] = p[n / 2] = p[n - 1] = tag;
}

static int stamped(const uint8_t *p, size_t n, uint8_t tag)
{
	return p[0] == tag && p[n / 2] == tag && p[n - 1] == tag;
}

/*
 * What every child does first: allocate and free in every size range,
 * including paths that take the allocator's locks (a new segment for
 * 2 MiB spans, huge mappings), and check that the allocator knows it is
 * in a new process.  Returns 0 or a distinct failure code (exit status).
 */
static int child_work(uint64_t seed)
{
	static const size_t fixed[] = { 1, 100, 5000, 100000, 2 << 20, 2 << 20,
					5 << 20 };
	enum { NF = sizeof(fixed) / sizeof(fixed[0]), NR = 16 };
	uint8_t *v[NF + NR];
	size_t n[NF + NR];

	if (mlalloc_introspect.pid != (uint32_t)getpid())
		return 10;
	for (int i = 0; i < NF + NR; i++) {
		n[i] = i < NF ? fixed[i] : rnd_size(&seed) % (256 << 10) + 1;
		v[i] = malloc(n[i]);
		if (!v[i])
			return 11;
		stamp(v[i], n[i], (uint8_t)i);
	}
	for (int i = 0; i < NF + NR; i++) {
		if (!stamped(v[i], n[i], (uint8_t)i))
			return 12;
		free(v[i]);
	}
	return 0;
}

/* waitpid that a signal handler may interrupt; the exit status, or -1 */
static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static void timer_every_us(long us)
{
	struct itimerval it = { { 0, us }, { 0, us } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- fork from a signal handler (single-threaded, as glibc's tests) ---- */

static volatile sig_atomic_t handler_forks, handler_fails, handler_child_allocs;

/*
 * The signals come on wall time.  On a busy host each handler's fork and
 * wait takes longer while they keep coming, and the loop between them
 * crawled: during_malloc took 12-77 s and hit the time limit.  So the
 * handlers fork this many times at most; later signals return at once.
 */
#define HANDLER_FORKS_MAX	1000

/* The handler's own child: allocates only if it is allowed to, i.e. when
 * the signal cannot have interrupted the allocator (during_fork). */
static void sigalrm_fork(int sig)
{
	int saved = errno;
	pid_t pid;

	if (handler_forks >= HANDLER_FORKS_MAX)
		return;
	pid = fork();
	if (pid == 0)
		_exit(handler_child_allocs ? child_work(handler_forks) : 0);
	if (pid < 0 || wait_status(pid) != 0)
		handler_fails++;
	handler_forks++;
	errno = saved;
}

FIXTURE(signal_fork) {};

FIXTURE_SETUP(signal_fork)
{
	struct sigaction sa = { .sa_handler = sigalrm_fork };

	ASSERT_TRUE(is_mlalloc());
	ASSERT_TRUE(__libc_single_threaded)
		TH_LOG("glibc supports fork in a signal handler only single-threaded");
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	handler_forks = handler_fails = 0;
}

FIXTURE_TEARDOWN(signal_fork)
{
	timer_every_us(0);
	signal(SIGALRM, SIG_DFL);
}

/*
 * The main thread only forks and waits (no malloc), so the handler's child
 * may allocate: what it interrupts is our fork (most often right after the
 * fork system call, between the prepare and the parent handler: signals
 * arriving during the call are delivered on its return) or waitpid.
 */
TEST_F_TIMEOUT(signal_fork, during_fork, FORK_TIMEOUT)
{
	enum { FORKS = 400 };
	int bad = 0;

	handler_child_allocs = 1;
	timer_every_us(1000);
	for (int f = 0; f < FORKS; f++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_work(f + 1));
		if (pid < 0 || wait_status(pid) != 0)
			bad++;
	}
	timer_every_us(0);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, handler_fails);
	EXPECT_LT(FORKS / 4, handler_forks) TH_LOG("too few signals to mean anything");
	/* and the parent's allocator is intact */
	EXPECT_EQ(0, child_work(7));
}

/*
 * The main thread allocates and frees blocks of every size range (huge
 * ones take ml_huge_lock, new segments ml_pool_lock and ml_arena_lock)
 * while SIGALRM handlers fork; their children _exit at once.
 */
TEST_F_TIMEOUT(signal_fork, during_malloc, FORK_TIMEOUT)
{
	enum { SLOTS = 64, ITER = 4000 };
	uint8_t *v[SLOTS] = { NULL };
	size_t n[SLOTS] = { 0 };
	uint64_t seed = 12345;
	int bad = 0;

	handler_child_allocs = 0;
	timer_every_us(500);
	for (int i = 0; i < ITER; i++) {
		unsigned k = (unsigned)(rnd(&seed) % SLOTS);
		if (v[k]) {
			if (!stamped(v[k], n[k], (uint8_t)k))
				bad++;
			free(v[k]);
		}
		n[k] = rnd_size(&seed);
		v[k] = malloc(n[k]);
		if (!v[k]) {
			bad++;
			break;
		}
		stamp(v[k], n[k], (uint8_t)k);
	}
	timer_every_us(0);
	for (int k = 0; k < SLOTS; k++) {
		if (v[k] && !stamped(v[k], n[k], (uint8_t)k))
			bad++;
		free(v[k]);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, handler_fails);
	EXPECT_LT(10, handler_forks) TH_LOG("too few signals to mean anything");
	TH_LOG("%d forks from the handler", (int)handler_forks);
}

/* ---- fork from a threaded process ---------------------------------------- */

static atomic_int stop_allocators;

/* Allocates and frees random sizes, some blocks freed by the next thread
 * (shared slots), until told to stop. */
static uint8_t *_Atomic shared_slot[64];

static void *allocator(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!atomic_load(&stop_allocators)) {
		size_t n = rnd_size(&seed) % (3 << 20) + 1;
		uint8_t *p = malloc(n);
		if (!p)
			abort();
		memset(p, 0x33, n < 256 ? n : 256);
		p = atomic_exchange(&shared_slot[rnd(&seed) % 64], p);
		free(p);
	}
	return NULL;
}

struct allocators {
	pthread_t th[4];
	int n;
};

static int allocators_start(struct allocators *a, int n, uintptr_t seed)
{
	atomic_store(&stop_allocators, 0);
	a->n = 0;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&a->th[i], NULL, allocator, (void *)(seed + i)))
			return -1;
		a->n++;
	}
	return 0;
}

static void allocators_stop(struct allocators *a)
{
	atomic_store(&stop_allocators, 1);
	for (int i = 0; i < a->n; i++)
		pthread_join(a->th[i], NULL);
	for (int i = 0; i < 64; i++)
		free(atomic_exchange(&shared_slot[i], NULL));
}

static void *child_thread(void *arg)
{
	return (void *)(intptr_t)child_work((uintptr_t)arg);
}

/* A child of a threaded process: allocate at once, from a new thread too,
 * then leave with exit() (atexit handlers, TLS destructors). */
static void threaded_child(uint64_t seed)
{
	pthread_t t;
	void *ret = (void *)1;
	int rc = child_work(seed);

	if (rc)
		_exit(rc);
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)seed) ||
	    pthread_join(t, &ret))
		_exit(20);
	exit((int)(intptr_t)ret);
}

FIXTURE(threads) {};
FIXTURE_SETUP(threads)
{
	ASSERT_TRUE(is_mlalloc());
}
FIXTURE_TEARDOWN(threads) {}

TEST_F_TIMEOUT(threads, fork_under_allocators, FORK_TIMEOUT)
{
	enum { FORKS = 100 };
	struct allocators a;

	ASSERT_EQ(0, allocators_start(&a, 4, 1));
	for (int f = 0; f < FORKS; f++) {
		pid_t pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			threaded_child(f + 100);
		int st = wait_status(pid);
		ASSERT_TRUE(WIFEXITED(st)) TH_LOG("fork %d: status %#x", f, st);
		ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("fork %d", f);
	}
	allocators_stop(&a);
}

/* Each generation runs allocating threads while it forks the next one. */
static int generation(int depth, uint64_t seed)
{
	struct allocators a;
	int st;

	if (allocators_start(&a, 2, seed))
		return 30;
	pid_t pid = fork();
	if (pid == 0) {
		int rc = child_work(seed);
		if (!rc && depth > 1)
			rc = generation(depth - 1, seed * 3);
		_exit(rc);
	}
	st = pid < 0 ? -1 : wait_status(pid);
	allocators_stop(&a);
	return st < 0 || !WIFEXITED(st) ? 31 : WEXITSTATUS(st);
}

TEST_F_TIMEOUT(threads, fork_in_child_of_fork, FORK_TIMEOUT)
{
	for (int r = 0; r < 10; r++) {
		ASSERT_EQ(0, generation(4, r + 1)) TH_LOG("round %d", r);
	}
}

/* ---- atfork handler order ------------------------------------------------ */

/*
 * glibc runs prepare handlers in reverse order of registration, parent and
 * child handlers in order.  The allocator registers its handlers in a
 * constructor; .preinit_array functions run before any shared object's
 * constructor, so the "early" handlers below come before the allocator's
 * and "late" ones (registered by the test) after it:
 *
 *   prepare: late, mlalloc, early     parent/child: early, mlalloc, late
 *
 * The early handlers therefore run while the allocator's prepare handler
 * holds its locks.  They allocate on the paths that lock: 2 MiB spans (a
 * segment each) and huge mappings.  They only act while armed, so the
 * other tests' forks are not affected.
 */
static volatile int order_armed;
static char order_log[16];		/* one letter per handler run */
static volatile int order_len, order_fail;

static void order_note(char c)
{
	if (order_len < (int)sizeof(order_log) - 1)
		order_log[order_len++] = c;
}

static void order_alloc(void)
{
	static const size_t ns[] = { 24, 4000, 2 << 20, 2 << 20, 2 << 20, 6 << 20 };
	void *p[6];

	for (int i = 0; i < 6; i++) {
		p[i] = malloc(ns[i]);
		if (!p[i]) {
			order_fail = 1;
			continue;
		}
		memset(p[i], i, ns[i] < 8192 ? ns[i] : 8192);
	}
	for (int i = 0; i < 6; i++)
		free(p[i]);
}

#define ORDER_HANDLER(name, letter)			\
	static void name(void)				\
	{						\
		if (!order_armed)			\
			return;				\
		order_note(letter);			\
		order_alloc();				\
	}
ORDER_HANDLER(early_prepare, 'P')
ORDER_HANDLER(early_parent, 'A')
ORDER_HANDLER(early_child, 'C')
ORDER_HANDLER(late_prepare, 'p')
ORDER_HANDLER(late_parent, 'a')
ORDER_HANDLER(late_child, 'c')

static int early_registered;

static void register_early(void)
{
	early_registered = !pthread_atfork(early_prepare, early_parent, early_child);
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit_register_early)(void) = register_early;

FIXTURE(atfork) {
	struct allocators a;
};

/* single: glibc's single-threaded fork (the allocator takes no lock);
 * threaded: allocating threads run, the allocator takes every lock */
FIXTURE_VARIANT(atfork) {
	int threads;
};
FIXTURE_VARIANT_ADD(atfork, single) { .threads = 0 };
FIXTURE_VARIANT_ADD(atfork, threaded) { .threads = 3 };

FIXTURE_SETUP(atfork)
{
	ASSERT_TRUE(is_mlalloc());
	ASSERT_TRUE(early_registered);
	ASSERT_EQ(0, pthread_atfork(late_prepare, late_parent, late_child));
	ASSERT_EQ(0, allocators_start(&self->a, variant->threads, 5));
}

FIXTURE_TEARDOWN(atfork)
{
	order_armed = 0;
	allocators_stop(&self->a);
}

TEST_F_TIMEOUT(atfork, order, FORK_TIMEOUT)
{
	for (int f = 0; f < 20; f++) {
		order_len = 0;
		order_fail = 0;
		order_armed = 1;
		pid_t pid = fork();
		if (pid == 0) {
			order_log[order_len] = 0;
			/* prepare late then early; child early then late */
			_exit(strcmp(order_log, "pPCc") ? 40 :
			      order_fail ? 41 : child_work(f));
		}
		order_armed = 0;
		ASSERT_LE(0, pid);
		order_log[order_len] = 0;
		EXPECT_STREQ("pPAa", order_log);
		EXPECT_EQ(0, order_fail);
		int st = wait_status(pid);
		ASSERT_TRUE(WIFEXITED(st)) TH_LOG("fork %d: status %#x", f, st);
		ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("fork %d", f);
	}
}

TEST_HARNESS_MAIN
