/* SPDX-License-Identifier: GPL-2.0 */
/*
 * errno_cases.h - one table of allocation calls at the edges (failures and
 * the successes next to them), run twice: by errno_probe.c against glibc's
 * own malloc (a binary that does not link libmlalloc), and by api_test.c
 * against libmlalloc, which compares what it gets with the probe's output
 * line by line.  The expected values therefore come from the glibc of the
 * machine, not from this file.
 *
 * The includer defines F(name), the function under test for a libc name
 * (F(malloc) is malloc or mlalloc_malloc), and USABLE_SIZE.
 *
 * Each call reports one line: the call as written, the result (pointers:
 * 1 non-NULL, 0 NULL; posix_memalign: its return value, plus 1000 if it
 * wrote *out; malloc_usable_size: its value) and errno, which is set to
 * EC_SENTINEL before every call so that "unchanged" shows as 4242.
 */
#ifndef MLALLOC_ERRNO_CASES_H
#define MLALLOC_ERRNO_CASES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC diagnostic ignored "-Walloc-size-larger-than="

#define EC_SENTINEL	4242

/* aligned_alloc with an alignment that is not a power of two: glibc < 2.38
 * treats it as memalign (rounds up); 2.38 and libmlalloc fail with EINVAL */
#define EC_C17		1

typedef void (*ec_report_fn)(const char *call, int flags, long result, int err);

/* keeps the compiler from reasoning about the allocation (and deleting it) */
static void *volatile ec_sink;

static void ec_ptr(ec_report_fn report, const char *call, int flags, void *p)
{
	int err = errno;

	ec_sink = p;
	report(call, flags, ec_sink != NULL, err);
	F(free)(ec_sink);
}

#define EC_P(flags, call) do {						\
		errno = EC_SENTINEL;					\
		ec_ptr(report, #call, flags, call);			\
	} while (0)

/* posix_memalign: return value, and whether *out was written.  Called
 * through a volatile pointer: gcc assumes its builtin posix_memalign never
 * writes errno and would forward EC_SENTINEL past the call (glibc's does
 * write it, and so must ours). */
static int (*volatile ec_posix_memalign)(void **, size_t, size_t) = F(posix_memalign);
#define EC_PM(align, size) do {						\
		void *out_ = (void *)&ec_sink;				\
		errno = EC_SENTINEL;					\
		int rc_ = ec_posix_memalign(&out_, align, size);	\
		int err_ = errno;					\
		int wrote_ = out_ != (void *)&ec_sink;			\
		report("posix_memalign(" #align ", " #size ")", 0,	\
		       rc_ + (wrote_ ? 1000 : 0), err_);		\
		if (wrote_)						\
			F(free)(out_);					\
	} while (0)

/* realloc-like calls on a live block: a failure must leave it alone; the
 * ones that free it (size 0) are written out below */
#define EC_RE(call) do {						\
		b = F(malloc)(100);					\
		errno = EC_SENTINEL;					\
		void *r_ = call;					\
		int err_ = errno;					\
		report(#call, 0, r_ != NULL, err_);			\
		F(free)(r_ ? r_ : b);					\
	} while (0)

static void errno_cases(ec_report_fn report)
{
	const size_t PM = (size_t)PTRDIFF_MAX, G = (size_t)1 << 30;
	void *b;

	EC_P(0, F(malloc)(0));
	EC_P(0, F(malloc)(SIZE_MAX));
	EC_P(0, F(malloc)(PM + 1));
	EC_P(0, F(malloc)(PM));
	EC_P(0, F(malloc)(PM - 64));
	EC_P(0, F(malloc)((size_t)1 << 47));

	EC_P(0, F(calloc)(0, SIZE_MAX));
	EC_P(0, F(calloc)(SIZE_MAX, 0));
	EC_P(0, F(calloc)(SIZE_MAX / 2, 3));
	EC_P(0, F(calloc)((size_t)1 << 33, (size_t)1 << 33));
	EC_P(0, F(calloc)(1, SIZE_MAX));
	EC_P(0, F(calloc)(1, PM + 1));
	EC_P(0, F(calloc)(1, PM - 64));

	EC_RE(F(realloc)(b, SIZE_MAX));
	EC_RE(F(realloc)(b, PM + 1));
	EC_RE(F(realloc)(b, PM - 64));
	b = F(malloc)(100);
	errno = EC_SENTINEL;
	ec_sink = F(realloc)(b, 0);	/* glibc: frees b, returns NULL */
	report("realloc(b, 0)", 0, ec_sink != NULL, errno);
	F(free)(ec_sink);
	EC_RE(F(realloc)(b, 300 << 20));
	EC_P(0, F(realloc)(NULL, 0));
	EC_P(0, F(realloc)(NULL, SIZE_MAX));
	EC_P(0, F(realloc)(NULL, PM + 1));
	/* growing a huge block (the in-place attempt fails: not an error) */
	b = F(malloc)(3 << 20);
	for (size_t n = 8 << 20; b && n <= (256 << 20); n *= 4) {
		errno = EC_SENTINEL;
		void *r = F(realloc)(b, n);
		report("realloc(huge, growing)", 0, r != NULL, errno);
		b = r ? r : b;
	}
	F(free)(b);

	EC_RE(F(reallocarray)(b, SIZE_MAX / 2, 4));
	b = F(malloc)(100);
	errno = EC_SENTINEL;
	ec_sink = F(reallocarray)(b, 0, 1);
	report("reallocarray(b, 0, 1)", 0, ec_sink != NULL, errno);
	F(free)(ec_sink);
	EC_P(0, F(reallocarray)(NULL, 0, SIZE_MAX));
	EC_P(0, F(reallocarray)(NULL, SIZE_MAX / 2, 4));
	EC_P(0, F(reallocarray)(NULL, 1, PM + 1));
	EC_P(0, F(reallocarray)(NULL, G, G));

	EC_P(0, F(memalign)(0, 10));
	EC_P(0, F(memalign)(1, 10));
	EC_P(0, F(memalign)(3, 10));
	EC_P(0, F(memalign)(24, 10));
	EC_P(0, F(memalign)(64, SIZE_MAX));
	EC_P(0, F(memalign)(64, SIZE_MAX - 100));
	EC_P(0, F(memalign)(64, PM + 1));
	EC_P(0, F(memalign)(64, PM - 200));
	EC_P(0, F(memalign)((size_t)1 << 47, 1));
	EC_P(0, F(memalign)((size_t)1 << 48, 10));
	EC_P(0, F(memalign)((size_t)1 << 62, 10));
	EC_P(0, F(memalign)(((size_t)1 << 62) + 1, 10));
	EC_P(0, F(memalign)((size_t)1 << 63, 10));
	EC_P(0, F(memalign)(((size_t)1 << 63) + 1, 10));
	EC_P(0, F(memalign)(SIZE_MAX, 10));

	EC_P(EC_C17, F(aligned_alloc)(0, 10));
	EC_P(0, F(aligned_alloc)(1, 10));
	EC_P(0, F(aligned_alloc)(8, 10));
	EC_P(EC_C17, F(aligned_alloc)(3, 10));
	EC_P(EC_C17, F(aligned_alloc)(24, 100));
	EC_P(0, F(aligned_alloc)(4096, 0));
	EC_P(0, F(aligned_alloc)(64, SIZE_MAX));
	EC_P(0, F(aligned_alloc)(4096, PM + 1));
	EC_P(0, F(aligned_alloc)((size_t)1 << 48, 1));
	EC_P(0, F(aligned_alloc)((size_t)1 << 63, 1));
	EC_P(0, F(aligned_alloc)(SIZE_MAX, 1));

	EC_PM(0, 16);
	EC_PM(1, 16);
	EC_PM(4, 16);
	EC_PM(24, 16);
	EC_PM(48, 16);
	EC_PM(8, 16);
	EC_PM(64, 0);
	EC_PM(4096, 5000);
	EC_PM(64, SIZE_MAX);
	EC_PM(4096, PM + 1);
	EC_PM(32, PM - 64);
	EC_PM((size_t)1 << 48, 1);
	EC_PM((size_t)1 << 63, 1);
	EC_PM(((size_t)1 << 63) + 8, 1);

	EC_P(0, F(valloc)(0));
	EC_P(0, F(valloc)(5000));
	EC_P(0, F(valloc)(SIZE_MAX));
	EC_P(0, F(valloc)(SIZE_MAX - 4096));
	EC_P(0, F(valloc)(PM + 1));
	EC_P(0, F(valloc)(PM - 64));

	EC_P(0, F(pvalloc)(0));
	EC_P(0, F(pvalloc)(5000));
	EC_P(0, F(pvalloc)(SIZE_MAX));
	EC_P(0, F(pvalloc)(SIZE_MAX - 10));
	EC_P(0, F(pvalloc)(PM + 1));
	EC_P(0, F(pvalloc)(PM));
	EC_P(0, F(pvalloc)(PM - 64));
	EC_P(0, F(pvalloc)(PM - 8192));

	errno = EC_SENTINEL;
	size_t u = USABLE_SIZE(NULL);
	report("malloc_usable_size(NULL)", 0, (long)u, errno);
	errno = EC_SENTINEL;
	F(free)(NULL);
	report("free(NULL)", 0, 0, errno);
	/* successes in every size range, freed: errno untouched throughout */
	static const size_t ns[] = { 1, 5000, 200000, 3 << 20, 70 << 20 };
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		errno = EC_SENTINEL;
		b = F(malloc)(ns[i]);
		ec_sink = b;
		F(free)(ec_sink);
		report("malloc(n) + free, every range", 0, b != NULL, errno);
	}
}

#endif /* MLALLOC_ERRNO_CASES_H */
