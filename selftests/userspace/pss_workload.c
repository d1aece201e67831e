// SPDX-License-Identifier: GPL-2.0
/*
 * The PSS/USS workload of inspect_proc_test: statically linked, so that
 * the only pages it shares are those it shares with its own forked child
 * (memlens maps libc, and the PSS of a page shared with memlens changes
 * while memlens reads it).
 *
 * It writes PAGES fresh anonymous pages (no THP), forks, and the child
 * writes the first COPIED of them again (copy-on-write): each process
 * then has COPIED private pages and PAGES - COPIED shared with the other,
 * so the region's PSS in each is COPIED + (PAGES - COPIED) / 2 pages and
 * its USS COPIED pages.  Both drop [vdso] and [vvar*] (every process maps
 * those pages), then the parent prints "ready PARENT CHILD REGION" and
 * both sleep until killed.  The child exits with its parent.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PAGES 1000
#define COPIED 200
#define PAGE 4096UL

/* Unmap the mappings every process shares: [vdso], [vvar], [vvar_vclock]. */
static void drop_shared_specials(void)
{
	unsigned long a[8], b[8];
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && n < 8 && fgets(line, sizeof(line), f))
		if ((strstr(line, "[vvar") || strstr(line, "[vdso]")) &&
		    sscanf(line, "%lx-%lx", &a[n], &b[n]) == 2)
			n++;
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++)
		munmap((void *)a[i], b[i] - a[i]);
}

int main(void)
{
	int done[2];
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	pid_t child;
	char c;

	if (p == MAP_FAILED || madvise(p, PAGES * PAGE, MADV_NOHUGEPAGE) || pipe(done))
		return 1;
	for (unsigned long i = 0; i < PAGES; i++)
		p[i * PAGE] = 1;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return 1;
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (unsigned long i = 0; i < COPIED; i++)
			p[i * PAGE] = 2;
		drop_shared_specials();
		if (write(done[1], "d", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(done[0], &c, 1) != 1)
		return 1;
	drop_shared_specials();
	printf("ready %d %d %lx\n", (int)getpid(), (int)child, (unsigned long)p);
	fflush(stdout);
	for (;;)
		pause();
}
