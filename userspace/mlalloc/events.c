// SPDX-License-Identifier: GPL-2.0
/*
 * events.c - the decision ring (struct mlalloc_events in mlalloc.h): each
 * decision that calls the OS (a purge, an arena or huge mapping, a huge
 * unmap) and each reuse of a cached huge mapping, with its reason, its
 * CLOCK_MONOTONIC times and the syscalls it made, for a tracer such as
 * memlens kcost to join with the kernel's events.
 *
 * Cost: two vDSO clock reads, one atomic fetch-add and a few stores per
 * decision, beside syscalls that cost microseconds; nothing on the paths
 * that do not call the OS.  The syscalls are counted per thread (ml_tls_calls,
 * bumped by os.c and huge.c next to each call); the tid is cached per
 * thread (reset in the fork child).
 */
#include <time.h>

#include "mlalloc_types.h"

struct mlalloc_events ml_events = {
	.magic = MLALLOC_EVENTS_MAGIC,
	.slots = MLALLOC_EVENT_SLOTS,
	.event_size = sizeof(struct mlalloc_event),
};

__thread uint32_t ml_tls_calls __attribute__((tls_model("initial-exec")));
__thread uint32_t ml_tls_tid __attribute__((tls_model("initial-exec")));

_Static_assert((MLALLOC_EVENT_SLOTS & (MLALLOC_EVENT_SLOTS - 1)) == 0, "slots: a power of two");

uint64_t ml_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#ifndef ML_NO_EVENTS
void ml_ev_end(const struct ml_ev *e, unsigned kind, unsigned reason, const void *addr,
	       size_t bytes, int64_t delay_ms, int64_t late_ms)
{
	uint64_t t1 = ml_now_ns();
	uint64_t s = __atomic_fetch_add(&ml_events.head, 1, __ATOMIC_RELAXED);
	struct mlalloc_event *ev = &ml_events.ev[s & (MLALLOC_EVENT_SLOTS - 1)];

	if (!ml_tls_tid)
		ml_tls_tid = ml_gettid();
	__atomic_store_n(&ev->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ev->t0_ns = e->t0;
	ev->t1_ns = t1;
	ev->addr = (uint64_t)(uintptr_t)addr;
	ev->bytes = bytes;
	ev->tid = ml_tls_tid;
	ev->kind = (uint16_t)kind;
	ev->reason = (uint16_t)reason;
	ev->calls = ml_tls_calls - e->calls0;
	ev->delay_ms = (int32_t)(delay_ms > INT32_MAX ? INT32_MAX : delay_ms);
	ev->late_ms = (uint32_t)(late_ms < 0 ? 0 : late_ms > UINT32_MAX ? UINT32_MAX : late_ms);
	ev->reserved = 0;
	__atomic_store_n(&ev->seq, s + 1, __ATOMIC_RELEASE);
}
#endif
