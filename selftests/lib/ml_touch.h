/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A test program that is also its own workload: "memlens faults -- THIS_TEST"
 * with ML_TOUCH_PAGES=N set makes the program, before main(), only touch
 * N fresh 4 KiB pages of a region of its own (no THP) and exit 0, so the
 * faults of that region are known exactly.  With ML_TOUCH_STOP set too it
 * stops itself (SIGSTOP) after the work instead, to be read while alive.
 * Include in one file of a test.
 */
#ifndef ML_TOUCH_H
#define ML_TOUCH_H

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((constructor)) static void ml_touch_mode(void)
{
	const char *n = getenv("ML_TOUCH_PAGES");
	volatile char *p;
	long i, pages;

	if (!n)
		return;
	pages = atol(n);
	p = mmap(NULL, pages * 4096UL, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	madvise((void *)p, pages * 4096UL, MADV_NOHUGEPAGE);
	for (i = 0; i < pages; i++)
		p[i * 4096UL] = 1;
	if (getenv("ML_TOUCH_STOP"))
		raise(SIGSTOP);
	_exit(0);
}

#endif /* ML_TOUCH_H */
