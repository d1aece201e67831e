/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the inspector's tests: start inspect_workload, read /proc
 * independently of memlens, run memlens and parse its JSON.
 */
#ifndef INSPECT_LIB_H
#define INSPECT_LIB_H

#include <signal.h>
#include <stdint.h>

#include "ml_test.h"
#include "ml_json.h"

struct workload {
	pid_t pid;
	int to, from;
	uint64_t region, region_len, thp, thp_len;
	unsigned long minflt, hwm_kb;
};

/* libmlalloc.so next to the test binaries: build/selftests/../lib. */
static inline void mlalloc_path(char *buf, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	snprintf(buf, len, "%s/../lib/libmlalloc.so", exe);
}

/* Read one '\n'-terminated line from @fd (byte by byte: small). */
static inline int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

/* Start the workload with @args (NULL-terminated), stopped at "base". */
static inline int wl_start(struct workload *w, const char *preload, char *const args[])
{
	int in[2], out[2];
	char line[64];
	char *argv[16] = { "inspect_workload" };

	for (int i = 0; args && args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	memset(w, 0, sizeof(*w));
	/* close-on-exec: a memlens started later must not hold them open */
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (!w->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w->to = in[1];
	w->from = out[0];
	if (read_line(w->from, line, sizeof(line)) || strcmp(line, "base\n"))
		return -1;
	return 0;
}

/* Let it do its work; parse the ready line. */
static inline int wl_go(struct workload *w)
{
	char line[256];
	unsigned long long r, rl, t, tl;

	if (write(w->to, "g", 1) != 1 || read_line(w->from, line, sizeof(line)))
		return -1;
	if (sscanf(line, "ready %llx %llx %llx %llx %lu %lu", &r, &rl, &t, &tl,
		   &w->minflt, &w->hwm_kb) != 6)
		return -1;
	w->region = r;
	w->region_len = rl;
	w->thp = t;
	w->thp_len = tl;
	return 0;
}

static inline int wl_stop(struct workload *w)
{
	int st = 0;

	close(w->to);
	close(w->from);
	waitpid(w->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A "Key: N kB" of /proc/PID/status, in bytes (or -1). */
static inline double status_bytes(pid_t pid, const char *key)
{
	char path[64], buf[8192], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, key)))
		return -1;
	return strtod(p + strlen(key) + 1, NULL) * 1024;
}

/* Field @idx (1-based, as in proc(5)) of /proc/PID/stat. */
static inline double stat_field(pid_t pid, int idx)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return -1;
	for (int i = 2; p && i < idx; i++)
		p = strchr(p + 1, ' ');
	return p ? strtod(p + 1, NULL) : -1;
}

/* Present and swapped bytes of [a, b) from /proc/PID/pagemap. */
static inline double pagemap_present(pid_t pid, uint64_t a, uint64_t b)
{
	char path[64];
	uint64_t e[512];
	double present = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	for (uint64_t va = a; va < b; va += sizeof(e) / 8 * 4096) {
		size_t n = (b - va) / 4096 < 512 ? (b - va) / 4096 : 512;
		ssize_t r = pread(fd, e, n * 8, (off_t)(va / 4096 * 8));

		for (ssize_t i = 0; i < r / 8; i++)
			present += (e[i] >> 63) ? 4096 : 0;
	}
	close(fd);
	return present;
}

/* The smaps key @key (kB) of the VMA starting at @start, in bytes. */
static inline double smaps_bytes(pid_t pid, uint64_t start, const char *key)
{
	char path[64], line[512];
	bool in = false;
	double v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx-%llx ", &s, &e) == 2) {
			in = s <= start && start < e;
			continue;
		}
		if (in && !strncmp(line, key, strlen(key))) {
			v = strtod(line + strlen(key) + 1, NULL) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Read what @fd has until @want appears @times times or @ms pass. */
static inline int read_until(int fd, char *buf, size_t len, size_t *off, const char *want,
		      int times, int ms)
{
	for (int waited = 0; waited < ms; ) {
		struct pollfd p = { fd, POLLIN, 0 };
		int found = 0;

		for (const char *q = buf; (q = strstr(q, want)); q++)
			found++;
		if (found >= times)
			return 0;
		if (poll(&p, 1, 50) > 0) {
			ssize_t n = read(fd, buf + *off, len - 1 - *off);

			if (n <= 0)
				return -1;
			*off += n;
			buf[*off] = '\0';
		} else {
			waited += 50;
		}
	}
	return -1;
}

/* The widest line of @text once escapes (ESC [ ... letter) and \r are left out. */
static inline int widest_line(const char *text, int *lines)
{
	int w = 0, max = 0;

	*lines = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\033' && p[1] == '[') {
			for (p += 2; *p && !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'));
			     p++)
				;
			if (!*p)
				break;
			continue;
		}
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			(*lines)++;
			w = 0;
			continue;
		}
		if (++w > max)
			max = w;
	}
	return max;
}

static struct ml_result res;

/* Run "memlens inspect --json PID EXTRA..." and parse it. */
static inline struct jval *inspect_json(pid_t pid, const char *extra, char *err, size_t len)
{
	char p[16];
	char *argv[] = { "memlens", "inspect", "--json", p, (char *)extra, NULL };

	snprintf(p, sizeof(p), "%d", pid);
	if (ml_run(&res, argv) || res.status) {
		snprintf(err, len, "memlens exited %d: %.200s", res.status, res.err);
		return NULL;
	}
	return jparse(res.out, err, len);
}

#endif /* INSPECT_LIB_H */
