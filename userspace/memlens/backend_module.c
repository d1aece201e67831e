// SPDX-License-Identifier: GPL-2.0
/*
 * The module backend: memlens.ko's debugfs files (docs/debugfs.md) layered
 * over the proc backend's snapshot.
 *
 *   pid/PID/pagetable   leaf sizes and table pages from a walk of the
 *                       page tables: leaf_4k/2m/1g, TLB reach, THP share,
 *                       page-table bytes counted the way VmPTE counts them
 *   pid/PID/tlb         TLB flushes of the process since tracking began
 *   pid/PID/faults      minor and major faults since tracking began
 *   pid/PID/vma_faults  the same per VMA
 *
 * The process is tracked for the read (echo PID > track) and untracked
 * again if it was not tracked before; counters "since tracking began" are
 * then reported only for a process that was already tracked, since a
 * fresh tracking has counted nothing yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "memlens.h"

/* Write @s to the track file; 0 or -errno. */
static int track_write(const char *s)
{
	int fd = open(ML_DEBUGFS "/track", O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

int ml_module_track(pid_t pid, bool on)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%s%d", on ? "" : "-", (int)pid);
	return track_write(cmd);
}

static bool is_tracked(pid_t pid)
{
	char path[96];

	snprintf(path, sizeof(path), ML_DEBUGFS "/pid/%d", (int)pid);
	return access(path, F_OK) == 0;
}

/* "key value" of pid/PID/@file into *@out; -errno if absent. */
static int module_key(pid_t pid, const char *file, const char *key, double *out)
{
	char path[128], line[256];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), ML_DEBUGFS "/pid/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			*out = strtod(line + klen + 1, NULL);
			ret = 0;
			break;
		}
	}
	if (ferror(f))
		ret = -EIO;
	fclose(f);
	return ret;
}

static int pagetable_figures(pid_t pid, struct ml_summary *s)
{
	static const char *const keys[] = {
		"leaf_4k",
		"leaf_2m",
		"leaf_1g",
		"tables_pud",
		"tables_pmd",
		"tables_pte",
		"tables_pte_deposited",
		"resident_bytes",
		"anon_thp_bytes",
	};
	double v[9];

	for (int i = 0; i < 9; i++)
		if (module_key(pid, "pagetable", keys[i], &v[i]))
			return -EIO;
	s->leaf_4k = ml_have(v[0], ML_SRC_MODULE);
	s->leaf_2m = ml_have(v[1], ML_SRC_MODULE);
	s->leaf_1g = ml_have(v[2], ML_SRC_MODULE);
	s->tlb_needed = ml_have(v[0] + v[1] + v[2], ML_SRC_MODULE);
	s->tlb_4k_only = ml_have(v[0] + v[1] * 512 + v[2] * 512 * 512, ML_SRC_MODULE);
	/* what VmPTE counts: pud, pmd, pte and deposited pte tables */
	s->pgtable = ml_have((v[3] + v[4] + v[5] + v[6]) * 4096, ML_SRC_MODULE);
	s->thp_coverage = v[7] ? ml_have(100.0 * v[8] / v[7], ML_SRC_MODULE) :
				 ml_none("nothing resident");
	return 0;
}

static void tlb_figures(pid_t pid, struct ml_summary *s)
{
	static const char *const reasons[] = {
		"task_switch",        "remote_shootdown", "local_shootdown",
		"local_mm_shootdown", "remote_send_ipi",
	};
	double sum = 0, v;

	for (int i = 0; i < 5; i++) {
		if (module_key(pid, "tlb", reasons[i], &v)) {
			s->tlb_flushes = ml_none("pid/PID/tlb unreadable");
			return;
		}
		sum += v;
	}
	s->tlb_flushes = ml_have(sum, ML_SRC_MODULE);
}

bool ml_module_tracked(pid_t pid)
{
	return is_tracked(pid);
}

/* The first line of pid/PID/faults, "mode counting|latency", into @mode. */
static void fault_mode(pid_t pid, char *mode, size_t size)
{
	char path[128], line[64];
	FILE *f;

	snprintf(path, sizeof(path), ML_DEBUGFS "/pid/%d/faults", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "mode ", 5))
		snprintf(mode, size, "%.*s", (int)strcspn(line + 5, "\n"), line + 5);
	fclose(f);
}

static void fault_figures(pid_t pid, struct ml_summary *s)
{
	double minor, major;

	if (module_key(pid, "faults", "minor", &minor) ||
	    module_key(pid, "faults", "major", &major)) {
		s->tracked_minflt = s->tracked_majflt = ml_none("pid/PID/faults unreadable");
		return;
	}
	s->tracked_minflt = ml_have(minor, ML_SRC_MODULE);
	s->tracked_majflt = ml_have(major, ML_SRC_MODULE);
	fault_mode(pid, s->fault_mode, sizeof(s->fault_mode));
}

/* pid/PID/vma_faults: "start end minor major name" after a header line. */
static void vma_fault_rows(pid_t pid, struct ml_snapshot *ss)
{
	char path[128], line[512];
	int cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), ML_DEBUGFS "/pid/%d/vma_faults", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long st, en, mn, mj;
		struct ml_vma_faults_row *r;
		int pos = 0;

		if (sscanf(line, "%llx %llx %llu %llu %n", &st, &en, &mn, &mj, &pos) != 4)
			continue;
		if (ss->nvfaults == cap) {
			cap = cap ? cap * 2 : 64;
			r = realloc(ss->vfaults, cap * sizeof(*r));
			if (!r)
				break;
			ss->vfaults = r;
		}
		r = &ss->vfaults[ss->nvfaults++];
		r->start = st;
		r->end = en;
		r->minor = mn;
		r->major = mj;
		snprintf(r->name, sizeof(r->name), "%s", line + pos);
		r->name[strcspn(r->name, "\n")] = '\0';
	}
	fclose(f);
}

/**
 * ml_module_snapshot() - the proc snapshot, refined by memlens.ko
 *
 * Return: as ml_proc_snapshot(); a module failure on a live process is
 * ML_EXIT_ERROR with the reason in ss->errmsg.
 */
int ml_module_snapshot(pid_t pid, struct ml_snapshot *ss)
{
	char cmd[32];
	bool was_tracked;
	int ret = ml_proc_snapshot(pid, ss);

	if (ret)
		return ret;
	was_tracked = is_tracked(pid);
	snprintf(cmd, sizeof(cmd), "%d", (int)pid);
	if (!was_tracked) {
		ret = track_write(cmd);
		if (ret == -ESRCH) {
			ss->err = ML_EXIT_VANISHED;
			snprintf(ss->errmsg, sizeof(ss->errmsg),
				 "process %d exited while being read", (int)pid);
			return ss->err;
		}
		if (ret && ret != -EEXIST) {
			ss->err = ML_EXIT_ERROR;
			snprintf(ss->errmsg, sizeof(ss->errmsg),
				 "memlens.ko refused to track %d: %s", (int)pid, strerror(-ret));
			return ss->err;
		}
	}
	ret = pagetable_figures(pid, &ss->sum);
	if (was_tracked) {
		tlb_figures(pid, &ss->sum);
		fault_figures(pid, &ss->sum);
		vma_fault_rows(pid, ss);
	} else {
		ss->sum.tracked_minflt = ss->sum.tracked_majflt = ss->sum.tlb_flushes =
			ml_none("not tracked before this snapshot (echo PID > " ML_DEBUGFS
				"/track counts from then on)");
		snprintf(cmd, sizeof(cmd), "-%d", (int)pid);
		track_write(cmd);
	}
	if (ret) {
		ss->err = ML_EXIT_ERROR;
		snprintf(ss->errmsg, sizeof(ss->errmsg),
			 "cannot read " ML_DEBUGFS "/pid/%d/pagetable", (int)pid);
		return ss->err;
	}
	return 0;
}
