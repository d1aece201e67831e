/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the page-table tests: track a process, read its pagetable
 * and vmas files, and the kernel's own views (smaps, status, pagemap,
 * maps) to compare them with.
 */
#ifndef PT_LIB_H
#define PT_LIB_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ML_DIR "/sys/kernel/debug/memlens"
#define PG 4096UL

/* Write @s to the track file: 0 or the errno of the write. */
static inline int pt_track_write(const char *s)
{
	int fd = open(ML_DIR "/track", O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = errno;
	close(fd);
	return ret;
}

static inline int pt_track(pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "%d\n", pid);
	return pt_track_write(s);
}

static inline int pt_untrack(pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "-%d\n", pid);
	return pt_track_write(s);
}

/* Read a whole file of any size into a malloc'd string; NULL on error. */
static inline char *pt_slurp(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static inline char *pt_slurp_pid(pid_t pid, const char *fmt)
{
	char path[128];

	snprintf(path, sizeof(path), fmt, pid);
	return pt_slurp(path);
}

/* Value of "key value" in a pagetable text, or -1. */
static inline long long pt_key(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* "VmPTE:  36 kB" and the like from /proc/PID/status, in kB, or -1. */
static inline long pt_status_kb(pid_t pid, const char *field)
{
	char *s = pt_slurp_pid(pid, "/proc/%d/status");
	char *p;
	long v = -1;

	if (!s)
		return -1;
	p = strstr(s, field);
	if (p)
		v = strtol(p + strlen(field) + 1, NULL, 10);
	free(s);
	return v;
}

struct pt_vma {
	unsigned long start, end;
	char perms[8], kind[16], name[256];
	long rss, thp, swap, ptes;		/* from memlens vmas */
	long s_rss, s_ahp, s_swap;		/* from smaps */
	int in_maps;
};

#define PT_MAX_VMAS 512

/* Parse memlens' vmas file; returns the number of VMAs or -1. */
static inline int pt_read_vmas(pid_t pid, struct pt_vma *v, int max, char **hdr)
{
	char *s = pt_slurp_pid(pid, ML_DIR "/pid/%d/vmas");
	char *line, *save = NULL;
	int n = 0;

	if (!s)
		return -1;
	line = strtok_r(s, "\n", &save);
	if (hdr)
		*hdr = line ? strdup(line) : NULL;
	while ((line = strtok_r(NULL, "\n", &save)) && n < max) {
		struct pt_vma *e = &v[n];

		memset(e, 0, sizeof(*e));
		e->s_rss = e->s_ahp = e->s_swap = -1;
		if (sscanf(line, "%lx %lx %7s %15s %ld %ld %ld %ld %255[^\n]",
			   &e->start, &e->end, e->perms, e->kind, &e->rss,
			   &e->thp, &e->swap, &e->ptes, e->name) < 8) {
			free(s);
			return -1;
		}
		n++;
	}
	free(s);
	return n;
}

static inline struct pt_vma *pt_find(struct pt_vma *v, int n, unsigned long addr)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].start <= addr && addr < v[i].end)
			return &v[i];
	return NULL;
}

/* Fill s_rss, s_ahp, s_swap from smaps; count maps lines in *nmaps. */
static inline int pt_add_smaps(pid_t pid, struct pt_vma *v, int n, int *nmaps)
{
	char *s = pt_slurp_pid(pid, "/proc/%d/smaps");
	char *line, *save = NULL;
	struct pt_vma *cur = NULL;

	if (!s)
		return -1;
	*nmaps = 0;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long a, b;
		char perms[8];
		long kb;

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			int i;

			/* The vsyscall gate is above user space, no VMA of the mm. */
			if (!strstr(line, "[vsyscall]"))
				(*nmaps)++;
			cur = NULL;
			for (i = 0; i < n; i++)
				if (v[i].start == a && v[i].end == b && !strcmp(v[i].perms, perms)) {
					cur = &v[i];
					cur->in_maps = 1;
				}
			continue;
		}
		if (!cur)
			continue;
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			cur->s_rss = kb;
		else if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			cur->s_ahp = kb;
		else if (sscanf(line, "Swap: %ld kB", &kb) == 1)
			cur->s_swap = kb;
	}
	free(s);
	return 0;
}

/* Pages of [start, end) present and swapped according to pagemap. */
static inline int pt_pagemap(pid_t pid, unsigned long start, unsigned long end,
			     long *present, long *swapped)
{
	char path[64];
	uint64_t e[512];
	unsigned long addr = start;
	int fd;

	*present = *swapped = 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (addr < end) {
		size_t n = (end - addr) / PG;
		ssize_t r;
		size_t i;

		if (n > 512)
			n = 512;
		r = pread(fd, e, n * 8, addr / PG * 8);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		for (i = 0; i < (size_t)r / 8; i++) {
			*present += !!(e[i] & (1ULL << 63));
			*swapped += !!(e[i] & (1ULL << 62));
		}
		addr += (r / 8) * PG;
	}
	close(fd);
	return 0;
}

static inline int pt_is_private_anon(const struct pt_vma *v)
{
	return v->perms[3] == 'p' && (!strcmp(v->kind, "anon") ||
				      !strcmp(v->kind, "heap") ||
				      !strcmp(v->kind, "stack"));
}

#endif /* PT_LIB_H */
