// SPDX-License-Identifier: GPL-2.0
/*
 * The proc backend: a snapshot of a process from /proc alone.
 *
 *   /proc/PID/stat     comm, state, kernel-thread flag, minflt, majflt
 *   /proc/PID/status   VmRSS, RssAnon/File/Shmem, VmSwap, VmPTE, VmHWM
 *   /proc/PID/smaps    the VMA table; LazyFree; leaf sizes (PMD-mapped
 *                      AnonHugePages/ShmemPmdMapped/FilePmdMapped, hugetlb
 *                      by KernelPageSize, the rest 4 KiB)
 *   /proc/vmstat       pswpin, pswpout, nr_tlb_* (system-wide)
 *   /proc/meminfo      SwapTotal, SwapFree
 *
 * What /proc cannot say is marked unavailable with the reason: per-process
 * TLB flushes (module or BPF backend), hardware dTLB misses without a PMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "backend.h"
#include "memlens.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

static FILE *proc_open(pid_t pid, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return fopen(path, "re");
}

/**
 * ml_proc_stat() - the fields of /proc/PID/stat the inspector uses
 *
 * Return: 0, or -errno of the open (-ENOENT: no such process).
 */
int ml_proc_stat(pid_t pid, char *comm, size_t len, char *state, uint64_t *minflt, uint64_t *majflt,
		 unsigned long *flags)
{
	char buf[1024], *open_paren, *close_paren;
	unsigned long long mn = 0, mj = 0;
	unsigned long fl = 0;
	char st = '?';
	FILE *f = proc_open(pid, "stat");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!n || !open_paren || !close_paren)
		return -ESRCH;
	if (comm) {
		size_t clen = close_paren - open_paren - 1;

		if (clen >= len)
			clen = len - 1;
		memcpy(comm, open_paren + 1, clen);
		comm[clen] = '\0';
	}
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt */
	if (sscanf(close_paren + 2, "%c %*d %*d %*d %*d %*d %lu %llu %*u %llu", &st, &fl, &mn,
		   &mj) != 4)
		return -ESRCH;
	if (state)
		*state = st;
	if (minflt)
		*minflt = mn;
	if (majflt)
		*majflt = mj;
	if (flags)
		*flags = fl;
	return 0;
}

/* "Field:   N kB" of /proc/PID/status; -ENOENT if the field is absent. */
int ml_proc_status_kb(pid_t pid, const char *field, uint64_t *kb)
{
	char line[256];
	size_t flen = strlen(field);
	FILE *f = proc_open(pid, "status");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (!strncmp(line, field, flen) && line[flen] == ':' &&
		    sscanf(line + flen + 1, "%llu", &v) == 1) {
			*kb = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void status_into(pid_t pid, const char *field, struct ml_val *v, double scale)
{
	uint64_t kb;

	if (ml_proc_status_kb(pid, field, &kb))
		*v = ml_none("not in /proc/PID/status");
	else
		*v = ml_have((double)kb * scale, ML_SRC_PROC);
}

/* One "Key: value" line of a file like /proc/vmstat or /proc/meminfo. */
static int file_field(const char *path, const char *key, uint64_t *out)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (!strncmp(line, key, klen) && (line[klen] == ' ' || line[klen] == ':') &&
		    sscanf(line + klen + 1, "%llu", &v) == 1) {
			*out = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static struct ml_val file_val(const char *path, const char *key, double scale, const char *why)
{
	uint64_t v;

	if (file_field(path, key, &v))
		return ml_none(why);
	return ml_have((double)v * scale, ML_SRC_PROC);
}

void ml_proc_system(struct ml_system *sys)
{
	sys->swap_total =
		file_val("/proc/meminfo", "SwapTotal", 1024, "no SwapTotal in /proc/meminfo");
	sys->swap_free =
		file_val("/proc/meminfo", "SwapFree", 1024, "no SwapFree in /proc/meminfo");
	sys->pswpin = file_val("/proc/vmstat", "pswpin", 1, "no pswpin in /proc/vmstat");
	sys->pswpout = file_val("/proc/vmstat", "pswpout", 1, "no pswpout in /proc/vmstat");
	sys->tlb_remote =
		file_val("/proc/vmstat", "nr_tlb_remote_flush", 1,
			 "kernel built without CONFIG_DEBUG_TLBFLUSH: see memlens doctor");
	sys->tlb_local = file_val("/proc/vmstat", "nr_tlb_local_flush_all", 1,
				  "kernel built without CONFIG_DEBUG_TLBFLUSH: see memlens doctor");
}

/*
 * A user-space dTLB read-miss counter for @pid, disabled; with
 * @on_exec it starts at the target's exec (memlens run).  -1 where the
 * machine has no hardware PMU event for it.
 */
int ml_perf_open_dtlb(pid_t pid, bool on_exec)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_HW_CACHE,
		.size = sizeof(attr),
		.config = PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
			  (PERF_COUNT_HW_CACHE_RESULT_MISS << 16),
		.disabled = 1,
		.enable_on_exec = on_exec,
		.inherit = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/**
 * ml_perf_dtlb() - hardware dTLB read misses of @pid over @ms milliseconds
 *
 * Without a PMU (most VMs, QEMU TCG) perf_event_open() fails with ENOENT or
 * EOPNOTSUPP: the value is then unavailable with that reason, never 0.
 */
struct ml_val ml_perf_dtlb(pid_t pid, int ms)
{
	uint64_t count = 0;
	int fd = ml_perf_open_dtlb(pid, false);

	if (fd < 0) {
		switch (errno) {
		case ENOENT:
		case EOPNOTSUPP:
		case ENODEV:
			return ml_none(
				"not supported: no hardware PMU dTLB event (perf_event_open): see memlens doctor");
		case EACCES:
		case EPERM:
			return ml_none(
				"perf_event_open denied (perf_event_paranoid; run as root): see memlens doctor");
		case ESRCH:
			return ml_none("process gone");
		default:
			return ml_none("perf_event_open failed");
		}
	}
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	usleep(ms * 1000);
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	if (read(fd, &count, sizeof(count)) != sizeof(count)) {
		close(fd);
		return ml_none("reading the perf counter failed");
	}
	close(fd);
	return ml_have((double)count, ML_SRC_PERF);
}

static void vma_name(struct ml_vma *v, const char *rest)
{
	while (*rest == ' ')
		rest++;
	snprintf(v->name, sizeof(v->name), "%s", rest);
	v->name[strcspn(v->name, "\n")] = '\0';
	if (!v->name[0])
		snprintf(v->name, sizeof(v->name), "[anon]");
}

/* "Key:  N kB" lines of one smaps entry into @v. */
static void smaps_field(struct ml_vma *v, const char *line)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "Rss:", offsetof(struct ml_vma, rss) },
		{ "Anonymous:", offsetof(struct ml_vma, anon) },
		{ "LazyFree:", offsetof(struct ml_vma, lazyfree) },
		{ "Swap:", offsetof(struct ml_vma, swap) },
		{ "AnonHugePages:", offsetof(struct ml_vma, thp) },
		{ "KernelPageSize:", offsetof(struct ml_vma, page_size) },
	};
	unsigned long long kb;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t klen = strlen(keys[i].key);

		if (!strncmp(line, keys[i].key, klen) && sscanf(line + klen, "%llu", &kb) == 1) {
			*(uint64_t *)((char *)v + keys[i].off) = kb << 10;
			return;
		}
	}
	if ((!strncmp(line, "ShmemPmdMapped:", 15) && sscanf(line + 15, "%llu", &kb) == 1) ||
	    (!strncmp(line, "FilePmdMapped:", 14) && sscanf(line + 14, "%llu", &kb) == 1))
		v->pmd_mapped += kb << 10;
	else if ((!strncmp(line, "Private_Hugetlb:", 16) && sscanf(line + 16, "%llu", &kb) == 1) ||
		 (!strncmp(line, "Shared_Hugetlb:", 15) && sscanf(line + 15, "%llu", &kb) == 1))
		v->hugetlb += kb << 10;
}

/* Parse /proc/PID/smaps into ss->vmas; -errno on failure. */
static int read_smaps(pid_t pid, struct ml_snapshot *ss)
{
	char line[1024];
	int cap = 0, err = 0;
	FILE *f = proc_open(pid, "smaps");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, off;
		char perms[8];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &s, &e, perms, &off, &pos) == 4 &&
		    pos) {
			struct ml_vma *v;

			if (ss->nvmas == cap) {
				struct ml_vma *nv;

				cap = cap ? cap * 2 : 64;
				nv = realloc(ss->vmas, cap * sizeof(*nv));
				if (!nv) {
					err = -ENOMEM;
					break;
				}
				ss->vmas = nv;
			}
			v = &ss->vmas[ss->nvmas++];
			memset(v, 0, sizeof(*v));
			v->start = s;
			v->end = e;
			v->offset = off;
			snprintf(v->perms, sizeof(v->perms), "%s", perms);
			vma_name(v, line + pos);
		} else if (ss->nvmas) {
			smaps_field(&ss->vmas[ss->nvmas - 1], line);
		}
	}
	if (ferror(f) && !err)
		err = -errno;
	fclose(f);
	/* AnonHugePages is PMD-mapped anonymous memory too */
	for (int i = 0; i < ss->nvmas; i++)
		ss->vmas[i].pmd_mapped += ss->vmas[i].thp;
	return err;
}

/* Leaf sizes and TLB reach from the VMA table. */
static void leaf_sizes(struct ml_snapshot *ss)
{
	double l4k = 0, l2m = 0, l1g = 0, rss = 0, pmd = 0;

	for (int i = 0; i < ss->nvmas; i++) {
		const struct ml_vma *v = &ss->vmas[i];

		if (v->hugetlb) {
			if (v->page_size >= (1ULL << 30))
				l1g += v->hugetlb >> 30;
			else
				l2m += v->hugetlb / v->page_size;
			rss += v->hugetlb;
			continue;
		}
		l2m += v->pmd_mapped >> 21;
		l4k += (v->rss - v->pmd_mapped) >> 12;
		pmd += v->pmd_mapped;
		rss += v->rss;
	}
	ss->sum.leaf_4k = ml_have(l4k, ML_SRC_PROC);
	ss->sum.leaf_2m = ml_have(l2m, ML_SRC_PROC);
	ss->sum.leaf_1g = ml_have(l1g, ML_SRC_PROC);
	ss->sum.tlb_needed = ml_have(l4k + l2m + l1g, ML_SRC_PROC);
	ss->sum.tlb_4k_only = ml_have(rss / 4096, ML_SRC_PROC);
	ss->sum.thp_coverage = rss ? ml_have(100.0 * pmd / rss, ML_SRC_PROC) :
				     ml_none("nothing resident");
}

static int fail(struct ml_snapshot *ss, int code, const char *fmt, int pid, const char *what)
{
	ss->err = code;
	snprintf(ss->errmsg, sizeof(ss->errmsg), fmt, pid, what);
	return code;
}

/* Is @pid still alive (not gone, not a zombie)? */
static bool alive(pid_t pid)
{
	char state;

	return !ml_proc_stat(pid, NULL, 0, &state, NULL, NULL, NULL) && state != 'Z' &&
	       state != 'X';
}

/*
 * PSS and USS from /proc/PID/smaps_rollup: Pss, and Private_Clean +
 * Private_Dirty (what freeing the process would give back).
 */
static void rollup_into(pid_t pid, struct ml_summary *s)
{
	unsigned long long pss = 0, clean = 0, dirty = 0, v;
	char path[64], line[256];
	int seen = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	/* one read of the file: the three figures of one moment */
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Pss: %llu kB", &v) == 1)
			pss = v, seen |= 1;
		else if (sscanf(line, "Private_Clean: %llu kB", &v) == 1)
			clean = v, seen |= 2;
		else if (sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
			dirty = v, seen |= 4;
	}
	if (f)
		fclose(f);
	if (seen != 7) {
		s->pss = s->uss = ml_none("/proc/PID/smaps_rollup is unreadable");
		return;
	}
	s->pss = ml_have((double)pss * 1024, ML_SRC_PROC);
	s->uss = ml_have((double)(clean + dirty) * 1024, ML_SRC_PROC);
}

static void unavailable_by_proc(struct ml_summary *s)
{
	s->pss = s->uss = ml_none("not read: the snapshot failed first");
	s->tlb_flushes = ml_none("per-process TLB flushes need the module or BPF backend");
	s->tracked_minflt = s->tracked_majflt = ml_none(
		"counted by the module for a tracked process (echo PID > " ML_DEBUGFS "/track)");
}

/**
 * ml_proc_snapshot() - fill @ss from /proc
 *
 * Return: 0, or ML_EXIT_NOPROC, ML_EXIT_KTHREAD, ML_EXIT_PERM or
 * ML_EXIT_VANISHED with ss->errmsg set; the fields read before the error
 * stay filled in.
 */
int ml_proc_snapshot(pid_t pid, struct ml_snapshot *ss)
{
	uint64_t minflt, majflt, kb;
	unsigned long flags;
	int ret;

	ss->pid = pid;
	ml_proc_system(&ss->sys);
	unavailable_by_proc(&ss->sum);
	ret = ml_proc_stat(pid, ss->comm, sizeof(ss->comm), &ss->state, &minflt, &majflt, &flags);
	if (ret == -ENOENT || ret == -ESRCH)
		return fail(ss, ML_EXIT_NOPROC, "no such process: %d%s", pid, "");
	if (ret)
		return fail(ss, ML_EXIT_ERROR, "cannot read /proc/%d/stat%s", pid, "");
	if (flags & PF_KTHREAD)
		return fail(ss, ML_EXIT_KTHREAD,
			    "%d is a kernel thread (%s): it has no user memory", pid, ss->comm);
	ss->sum.minflt = ml_have((double)minflt, ML_SRC_PROC);
	ss->sum.majflt = ml_have((double)majflt, ML_SRC_PROC);
	if (!ml_proc_status_kb(pid, "Threads", &kb))
		ss->sum.threads = ml_have((double)kb, ML_SRC_PROC);
	status_into(pid, "VmRSS", &ss->sum.rss, 1024);
	status_into(pid, "RssAnon", &ss->sum.rss_anon, 1024);
	status_into(pid, "RssFile", &ss->sum.rss_file, 1024);
	status_into(pid, "RssShmem", &ss->sum.rss_shmem, 1024);
	status_into(pid, "VmSwap", &ss->sum.swap, 1024);
	status_into(pid, "VmHWM", &ss->sum.hwm, 1024);
	status_into(pid, "VmSize", &ss->sum.vm_size, 1024);
	status_into(pid, "VmPTE", &ss->sum.pgtable, 1024);
	rollup_into(pid, &ss->sum);
	ret = read_smaps(pid, ss);
	if (ret == -EACCES || ret == -EPERM)
		return fail(
			ss, ML_EXIT_PERM,
			"permission denied reading /proc/%d/smaps%s (run as root or as the process's owner)",
			pid, "");
	if (ret || !alive(pid))
		return fail(ss, alive(pid) ? ML_EXIT_ERROR : ML_EXIT_VANISHED,
			    "process %d exited while being read%s", pid,
			    "; the figures above were read before it did");
	if (!ml_known(ss->sum.rss))
		return fail(ss, ML_EXIT_VANISHED, "process %d exited while being read%s", pid, "");
	leaf_sizes(ss);
	{
		double lazy = 0;

		for (int i = 0; i < ss->nvmas; i++)
			lazy += ss->vmas[i].lazyfree;
		ss->sum.lazyfree = ml_have(lazy, ML_SRC_PROC);
	}
	return 0;
}

/* Read @n pagemap entries of @pid at @va; returns entries read. */
static ssize_t pagemap_read(int fd, uint64_t va, uint64_t *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n * 8, (off_t)(va >> 12) * 8);

	return r < 0 ? r : r / 8;
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP    (1ULL << 62)
#define PM_PFN     ((1ULL << 55) - 1)
#define KPF_THP    22

/* Is the 2 MiB region in @e[512] one aligned, fully present THP? */
static int region_is_thp(int kpf, const uint64_t *e)
{
	uint64_t pfn0 = e[0] & PM_PFN, flags;

	if (!pfn0 || (pfn0 & 511))
		return 0;
	for (int i = 0; i < 512; i++)
		if (!(e[i] & PM_PRESENT) || (e[i] & PM_PFN) != pfn0 + i)
			return 0;
	if (pread(kpf, &flags, 8, (off_t)pfn0 * 8) != 8)
		return 0;
	return !!(flags & (1ULL << KPF_THP));
}

/**
 * ml_pagemap_range() - page facts of [@start, @end) of @pid
 *
 * Present and swapped bytes come from the pagemap bits alone.  THP bytes
 * need the PFNs (CAP_SYS_ADMIN) and /proc/kpageflags: a 2 MiB region is
 * counted as a huge leaf when it is fully present, 2 MiB aligned in both
 * the virtual and physical address, physically contiguous and a THP.
 * Every other region holding a present or swapped entry needs a PTE table.
 *
 * Return: 0, or -errno (e.g. -ENOENT: the process is gone).
 */
int ml_pagemap_range(pid_t pid, uint64_t start, uint64_t end, struct ml_range_pages *out)
{
	static uint64_t e[512];
	char path[64];
	int fd, kpf;
	bool pfns = false;
	uint64_t thp = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	kpf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	for (uint64_t r = start & ~0x1fffffULL; r < end; r += 1 << 21) {
		uint64_t a = r > start ? r : start;
		uint64_t b = r + (1 << 21) < end ? r + (1 << 21) : end;
		ssize_t n = pagemap_read(fd, a, e, (b - a) >> 12);
		bool populated = false;

		if (n < 0) {
			close(fd);
			if (kpf >= 0)
				close(kpf);
			return -errno;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (e[i] & PM_PRESENT) {
				out->present += 4096;
				populated = true;
				pfns |= (e[i] & PM_PFN) != 0;
			} else if (e[i] & PM_SWAP) {
				out->swapped += 4096;
				populated = true;
			}
		}
		if (n == 512 && kpf >= 0 && region_is_thp(kpf, e))
			thp += 1 << 21;
		else if (populated)
			out->pte_tables++;
	}
	close(fd);
	if (kpf < 0)
		out->thp = ml_none("/proc/kpageflags unreadable (needs root): see memlens doctor");
	else if (!pfns && out->present)
		out->thp = ml_none("pagemap hides PFNs (needs CAP_SYS_ADMIN): see memlens doctor");
	else
		out->thp = ml_have((double)thp, ML_SRC_PROC);
	if (kpf >= 0)
		close(kpf);
	return 0;
}
