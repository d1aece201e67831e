/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the acct_* tests: "name value" files of memlens' debugfs,
 * /proc/vmstat, /proc/PID/stat and a child process driven by a pipe.
 */
#ifndef ACCT_TEST_H
#define ACCT_TEST_H

#include <stdint.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "ml_test.h"

#define ML_DIR		"/sys/kernel/debug/memlens"
#define PAGE		4096UL

/* Value of the line "KEY value" in BUF (KEY at a line start), or -1. */
static inline int64_t acct_key(const char *buf, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == ':'))
			return strtoll(p + kl + 1 + (p[kl] == ':'), NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* KEY from file PATH, or -1. */
static inline int64_t acct_get(const char *path, const char *key)
{
	static char buf[1 << 16] = { 1 };	/* .data: touched up front */

	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return acct_key(buf, key);
}

/* Sum of the values of all lines starting with PREFIX. */
static inline int64_t acct_sum_prefix(const char *buf, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *p = buf;
	int64_t sum = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, pl)) {
			const char *sp = strchr(p, ' ');

			if (sp)
				sum += strtoll(sp + 1, NULL, 10);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return sum;
}

static inline int64_t vmstat(const char *key)
{
	return acct_get("/proc/vmstat", key);
}

/* Field 10 (minflt) or 12 (majflt) of /proc/PID/stat. */
static inline int64_t proc_stat_field(pid_t pid, int field)
{
	char path[64], buf[1024], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');	/* comm may hold spaces */
	if (!p)
		return -1;
	/* after ") " comes field 3 */
	for (i = 3, p += 2; i < field && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoll(p, NULL, 10) : -1;
}

static inline int64_t minflt(pid_t pid) { return proc_stat_field(pid, 10); }
static inline int64_t majflt(pid_t pid) { return proc_stat_field(pid, 12); }

/* The tlb_flush reasons, in the order of enum tlb_flush_reason. */
static const char *const tlb_reasons[] = {
	"task_switch", "remote_shootdown", "local_shootdown",
	"local_mm_shootdown", "remote_send_ipi",
};

/* Hit counts by reason from the tracefs histogram of tlb:tlb_flush. */
static inline void tlb_hist_counts(int64_t out[5])
{
	static char buf[1 << 16];
	const char *p = buf;

	memset(out, 0, 5 * sizeof(out[0]));
	if (ml_read_file("/sys/kernel/tracing/events/tlb/tlb_flush/hist",
			 buf, sizeof(buf)) < 0)
		return;
	while ((p = strstr(p, "{ reason:"))) {
		int r = atoi(p + 9);
		const char *h = strstr(p, "hitcount:");

		if (!h)
			break;
		if (r >= 0 && r < 5)
			out[r] = atoll(h + 9);
		p = h;
	}
}

static inline int kernel_is_612(void)
{
	struct utsname u;

	uname(&u);
	return !strncmp(u.release, "6.12", 4);
}

/* Fresh anonymous mapping of n pages, never backed by huge pages. */
static inline char *anon_pages(size_t n)
{
	char *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, n * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/*
 * A child that runs step(arg, i) for i = 0, 1, ... each time the parent
 * calls child_step(), so the parent can read counters around exactly one
 * step of the child's work.
 */
struct child {
	pid_t pid;
	int go, done;
};

static inline int child_start(struct child *c, void (*step)(int i))
{
	int a[2], b[2];

	if (pipe(a) || pipe(b))
		return -1;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (!c->pid) {
		char x = 0;
		int i = 0;

		close(a[1]);
		close(b[0]);
		/* One round trip first: the pipe code paths are warm. */
		while (read(a[0], &x, 1) == 1) {
			if (x == 'q')
				_exit(0);
			if (x == 's')
				step(i++);
			if (write(b[1], &x, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	c->go = a[1];
	c->done = b[0];
	return 0;
}

/* cmd 's': one step; 'n': only a round trip. */
static inline int child_cmd(struct child *c, char cmd)
{
	char x = cmd;

	if (write(c->go, &x, 1) != 1 || read(c->done, &x, 1) != 1)
		return -1;
	return 0;
}

static inline void child_stop(struct child *c)
{
	int st;

	child_cmd(c, 'q');
	close(c->go);
	close(c->done);
	waitpid(c->pid, &st, 0);
}

#endif /* ACCT_TEST_H */
