// SPDX-License-Identifier: GPL-2.0
/*
 * A workload with known allocations, run under LD_PRELOAD=libmlalloc.so by
 * introspect_test.  It uses plain malloc (it knows nothing of mlalloc) and
 * talks through raw write/read so that stdio allocates nothing between the
 * phases: "1" at start, then on each byte received it allocates (and
 * touches) / frees its set and answers "2" / "3".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_SMALL 1000	/* 100 B */
#define N_MED	300	/* 5000 B */
#define N_LARGE	7	/* 300 KiB */
#define N_HUGE	3	/* 6 MiB */

static void *s[N_SMALL], *m[N_MED], *l[N_LARGE], *h[N_HUGE];

static void step(const char *msg)
{
	char c;
	if (write(1, msg, 1) != 1 || read(0, &c, 1) != 1)
		exit(1);
}

int main(void)
{
	step("1");
	for (int i = 0; i < N_SMALL; i++)
		memset(s[i] = malloc(100), 1, 100);
	for (int i = 0; i < N_MED; i++)
		memset(m[i] = malloc(5000), 2, 5000);
	for (int i = 0; i < N_LARGE; i++)
		memset(l[i] = malloc(300 << 10), 3, 300 << 10);
	for (int i = 0; i < N_HUGE; i++)
		memset(h[i] = malloc(6 << 20), 4, 6 << 20);
	step("2");
	for (int i = 0; i < N_SMALL; i++)
		free(s[i]);
	for (int i = 0; i < N_MED; i++)
		free(m[i]);
	for (int i = 0; i < N_LARGE; i++)
		free(l[i]);
	for (int i = 0; i < N_HUGE; i++)
		free(h[i]);
	step("3");
	return 0;
}
