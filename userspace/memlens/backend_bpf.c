// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF backend: the proc snapshot refined by a walk of the process's
 * page tables from BPF (ml_pagetable_walk(), mlbpf.h): leaf sizes,
 * TLB reach, THP share and page-table bytes counted the way VmPTE counts
 * them.  The fault and TLB-flush counters of the BPF loaders count from
 * the moment they are loaded, so a one-shot snapshot has none to give.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "mlbpf.h"
#include "memlens.h"

static void from_walk(const struct pgwalk_summary *w, struct ml_summary *s)
{
	double l4k = (double)w->leaf_4k, l2m = (double)w->leaf_2m;
	double l1g = (double)w->leaf_1g;

	s->leaf_4k = ml_have(l4k, ML_SRC_BPF);
	s->leaf_2m = ml_have(l2m, ML_SRC_BPF);
	s->leaf_1g = ml_have(l1g, ML_SRC_BPF);
	s->tlb_needed = ml_have(l4k + l2m + l1g, ML_SRC_BPF);
	s->tlb_4k_only = ml_have(l4k + l2m * 512 + l1g * 512 * 512, ML_SRC_BPF);
	s->pgtable = ml_have(
		(double)(w->tables_pud + w->tables_pmd + w->tables_pte + w->tables_pte_deposited) *
			4096,
		ML_SRC_BPF);
	s->thp_coverage = w->resident_bytes ? ml_have(100.0 * w->anon_thp_bytes / w->resident_bytes,
						      ML_SRC_BPF) :
					      ml_none("nothing resident");
	s->tlb_flushes =
		ml_none("the BPF counters count from their loading: see memlens tlb -p PID");
}

/**
 * ml_bpf_snapshot() - the proc snapshot, refined by a BPF page-table walk
 *
 * Return: as ml_proc_snapshot(); a failed walk of a live process is
 * ML_EXIT_ERROR with the loader's reason in ss->errmsg.
 */
int ml_bpf_snapshot(pid_t pid, struct ml_snapshot *ss)
{
	struct ml_pagetable pt;
	int ret = ml_proc_snapshot(pid, ss);

	if (ret)
		return ret;
	ret = ml_pagetable_walk(pid, &pt);
	if (ret == -ESRCH) {
		ss->err = ML_EXIT_VANISHED;
		snprintf(ss->errmsg, sizeof(ss->errmsg), "process %d exited while being read",
			 (int)pid);
		return ss->err;
	}
	if (ret) {
		ss->err = ML_EXIT_ERROR;
		snprintf(ss->errmsg, sizeof(ss->errmsg), "BPF page-table walk failed: %s",
			 ml_bpf_error());
		return ss->err;
	}
	if (pt.sum.read_errors) {
		ss->err = ML_EXIT_ERROR;
		snprintf(ss->errmsg, sizeof(ss->errmsg),
			 "BPF page-table walk could not read %llu table pages",
			 (unsigned long long)pt.sum.read_errors);
		ml_pagetable_free(&pt);
		return ss->err;
	}
	from_walk(&pt.sum, &ss->sum);
	ml_pagetable_free(&pt);
	return 0;
}

/*
 * A BPF session keeps the walker and the fault counters loaded across
 * snapshots (memlens watch): loading costs about 100 ms, a walk a few.
 * Faults are counted from the session's opening, like the module's
 * counters from the start of tracking.
 */
struct ml_bpf_session {
	struct ml_pgwalk *walk;
	struct ml_faults *faults;
};

int ml_bpf_session_open(pid_t pid, struct ml_bpf_session **out, char *why, size_t len)
{
	struct ml_bpf_session *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = ml_pgwalk_open(&s->walk, pid);
	if (!ret)
		ret = ml_faults_open(&s->faults, pid);
	if (ret) {
		snprintf(why, len, "loading the BPF programs failed: %s", ml_bpf_error());
		ml_bpf_session_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

/* Faults counted since the session opened, in total and per VMA. */
static void session_faults(struct ml_bpf_session *s, pid_t pid, struct ml_snapshot *ss)
{
	struct ml_vma_faults *v = NULL;
	struct fault_counts c;
	int n;

	if (ml_faults_read(s->faults, pid, &c)) {
		ss->sum.tracked_minflt = ss->sum.tracked_majflt =
			ml_none("reading the BPF fault counters failed");
		return;
	}
	ss->sum.tracked_minflt = ml_have((double)c.minor, ML_SRC_BPF);
	snprintf(ss->sum.fault_mode, sizeof(ss->sum.fault_mode), "%s",
		 ml_faults_mode_name(s->faults));
	ss->sum.tracked_majflt = ml_have((double)c.major, ML_SRC_BPF);
	n = ml_faults_vmas(s->faults, pid, &v);
	if (n < 0)
		return;
	ss->vfaults = calloc(n + 1, sizeof(*ss->vfaults));
	if (!ss->vfaults) {
		free(v);
		return;
	}
	for (int i = 0; i < n; i++) {
		ss->vfaults[i].start = v[i].start;
		ss->vfaults[i].end = v[i].end;
		ss->vfaults[i].minor = v[i].minor;
		ss->vfaults[i].major = v[i].major;
		snprintf(ss->vfaults[i].name, sizeof(ss->vfaults[i].name), "%s",
			 v[i].name[0] ? v[i].name : "[anon]");
	}
	ss->nvfaults = n;
	free(v);
}

int ml_bpf_session_snapshot(struct ml_bpf_session *s, pid_t pid, struct ml_snapshot *ss)
{
	struct ml_pagetable pt = { 0 };
	int ret = ml_proc_snapshot(pid, ss);

	if (ret)
		return ret;
	ret = ml_pgwalk_run(s->walk, &pt);
	if (ret || pt.sum.read_errors) {
		ml_pagetable_free(&pt);
		ss->err = ret == -ESRCH ? ML_EXIT_VANISHED : ML_EXIT_ERROR;
		snprintf(ss->errmsg, sizeof(ss->errmsg), "BPF page-table walk failed: %s",
			 ret ? ml_bpf_error() : "unreadable table pages");
		return ss->err;
	}
	from_walk(&pt.sum, &ss->sum);
	ml_pagetable_free(&pt);
	session_faults(s, pid, ss);
	return 0;
}

void ml_bpf_session_close(struct ml_bpf_session *s)
{
	if (!s)
		return;
	ml_pgwalk_close(s->walk);
	ml_faults_close(s->faults);
	free(s);
}
