// SPDX-License-Identifier: GPL-2.0
/*
 * A workload with exactly known memory for the inspector's tests.
 *
 *   inspect_workload [-p PAGES] [-t THP_MB] [-l LAZY] [-b BLOCKS] [-s SIZE]
 *                    [-H HUGE] [-x [-w MS]] [-f] [-c MS] [-o FILE] [-g BLOCKS]
 *
 * Maps a 64 MiB anonymous region, 2 MiB aligned, MADV_NOHUGEPAGE, and
 * touches its first PAGES pages (so exactly ceil(PAGES / 512) PTE tables);
 * MADV_FREEs the last LAZY of them; maps THP_MB MiB more with
 * MADV_HUGEPAGE and touches it; then mallocs BLOCKS blocks of SIZE bytes
 * and HUGE blocks of 6 MiB, all touched.
 *
 * Protocol (stdout, raw write: stdio would allocate): "base\n" before any
 * malloc, then waits for one byte on stdin; after the work,
 * "ready REGION LEN THP THPLEN MINFLT HWM_KB MALLOC_LIB\n" (hex addresses,
 * decimal figures read from /proc/self, the file defining malloc), then waits for EOF on stdin and exits.
 * With -x it does not wait: it does the work, prints the ready line and
 * exits (for memlens run), after -w MS milliseconds.  With -f, while it
 * waits for EOF it faults in 256 pages and drops them, over and over.
 * With -c MS it first burns MS milliseconds of user CPU (getrusage), and
 * with -o FILE it appends "cpu UTIME STIME\n" to FILE as the last thing
 * before it returns from main: its utime and stime from /proc/self/stat
 * (fields 14 and 15, clock ticks), what memlens run's rusage is checked
 * against.  With -g BLOCKS, after the ready line it waits for one more
 * byte, mallocs BLOCKS more blocks of SIZE bytes (touched), says "grown\n"
 * and waits for EOF.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define REGION	(64UL << 20)

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		exit(1);
}

static unsigned long self_field(const char *file, const char *key, int idx)
{
	char buf[4096], *p;
	int fd = open(file, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (!key) {	/* /proc/self/stat field number idx (1-based) */
		p = strrchr(buf, ')');
		for (int i = 2; p && i < idx; i++)
			p = strchr(p + 1, ' ');
		return p ? strtoul(p + 1, NULL, 10) : 0;
	}
	p = strstr(buf, key);
	return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

static char *map_aligned(size_t len, int advice)
{
	char *p = mmap(NULL, len + (2UL << 20), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(2);
	p = (char *)(((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	madvise(p, len, advice);
	return p;
}

/* mlock() drains this CPU's LRU batches (lru_add_drain() in do_mlock()). */
static void drain_lru(void)
{
	static char page[4096] __attribute__((aligned(4096)));

	page[0] = 1;
	mlock(page, sizeof(page));
	munlock(page, sizeof(page));
}

int main(int argc, char **argv)
{
	long pages = 0, lazy = 0, blocks = 0, size = 100, huge = 0, thp_mb = 0;
	volatile char *region, *thp = NULL;
	char line[512], c;
	Dl_info dl;
	int opt, wait = 1, linger_ms = 0, fault_loop = 0;
	long burn_ms = 0, grow = 0;
	const char *cpu_log = NULL;

	while ((opt = getopt(argc, argv, "p:t:l:b:s:H:xw:fc:o:g:")) != -1) {
		switch (opt) {
		case 'p': pages = atol(optarg); break;
		case 't': thp_mb = atol(optarg); break;
		case 'l': lazy = atol(optarg); break;
		case 'b': blocks = atol(optarg); break;
		case 's': size = atol(optarg); break;
		case 'H': huge = atol(optarg); break;
		case 'x': wait = 0; break;
		case 'w': linger_ms = atoi(optarg); break;
		case 'f': fault_loop = 1; break;
		case 'c': burn_ms = atol(optarg); break;
		case 'o': cpu_log = optarg; break;
		case 'g': grow = atol(optarg); break;
		default: return 2;
		}
	}
	if (pages * 4096 > (long)REGION || lazy > pages)
		return 2;
	for (volatile unsigned long spin = 0;; spin++) {
		struct rusage ru;

		if (spin % 65536)
			continue;
		getrusage(RUSAGE_SELF, &ru);
		if (ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 >= burn_ms)
			break;
	}
	region = map_aligned(REGION, MADV_NOHUGEPAGE);
	if (thp_mb)
		thp = map_aligned(thp_mb << 20, MADV_HUGEPAGE);
	if (wait) {
		say("base\n");
		if (read(0, &c, 1) != 1)
			return 1;
	}
	if (lazy) {
		/* pinned, so that drain_lru() drains the batches the pages
		 * went to: MADV_FREE skips pages not yet on an LRU list, and
		 * they count as LazyFree only once its own batch is drained */
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	for (long i = 0; i < pages; i++)
		region[i * 4096] = 1;
	if (lazy) {
		drain_lru();
		madvise((char *)region + (pages - lazy) * 4096, lazy * 4096, MADV_FREE);
		drain_lru();
	}
	for (long i = 0; i < thp_mb << 20; i += 4096)
		thp[i] = 1;
	for (long i = 0; i < blocks; i++)
		memset(malloc(size), 1, size);
	for (long i = 0; i < huge; i++)
		memset(malloc(6 << 20), 1, 6 << 20);
	if (!dladdr((void *)malloc, &dl) || !dl.dli_fname)
		dl.dli_fname = "?";
	snprintf(line, sizeof(line), "ready %lx %lx %lx %lx %lu %lu %s\n",
		 (unsigned long)region, REGION, (unsigned long)thp,
		 (unsigned long)thp_mb << 20, self_field("/proc/self/stat", NULL, 10),
		 self_field("/proc/self/status", "VmHWM:", 0), dl.dli_fname);
	say(line);
	if (wait && grow) {
		if (read(0, &c, 1) != 1)
			return 1;
		for (long i = 0; i < grow; i++)
			memset(malloc(size), 1, size);
		say("grown\n");
	}
	while (wait && fault_loop) {
		struct pollfd in = { 0, POLLIN, 0 };

		/* fault 256 pages, give them back, again, until stdin ends */
		for (long i = 0; i < 256; i++)
			region[i * 4096] = 1;
		madvise((char *)region, 256 * 4096, MADV_DONTNEED);
		if (poll(&in, 1, 0) > 0 && read(0, &c, 1) <= 0)
			break;
	}
	while (wait && !fault_loop && read(0, &c, 1) > 0)
		;
	usleep(linger_ms * 1000);
	if (cpu_log) {
		int fd = open(cpu_log, O_WRONLY | O_APPEND | O_CREAT, 0600);

		snprintf(line, sizeof(line), "cpu %lu %lu\n", self_field("/proc/self/stat", NULL, 14),
			 self_field("/proc/self/stat", NULL, 15));
		if (fd < 0 || write(fd, line, strlen(line)) < 0)
			return 1;
		close(fd);
	}
	return 0;
}
