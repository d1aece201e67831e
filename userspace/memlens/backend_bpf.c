// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF backend: the proc snapshot refined by a walk of the process's
 * page tables from BPF (ml_pagetable_walk(), bpf_loaders.h): leaf sizes,
 * TLB reach, THP share and page-table bytes counted the way VmPTE counts
 * them.  The fault and TLB-flush counters of the BPF loaders count from
 * the moment they are loaded, so a one-shot snapshot has none to give.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "bpf_loaders.h"
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
	s->pgtable = ml_have((double)(w->tables_pud + w->tables_pmd + w->tables_pte +
				      w->tables_pte_deposited) * 4096, ML_SRC_BPF);
	s->thp_coverage = w->resident_bytes ?
		ml_have(100.0 * w->anon_thp_bytes / w->resident_bytes, ML_SRC_BPF) :
		ml_none("nothing resident");
	s->tlb_flushes = ml_none("the BPF counters count from their loading: see memlens tlb -p PID");
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
