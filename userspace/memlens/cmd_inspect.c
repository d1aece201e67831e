// SPDX-License-Identifier: GPL-2.0
/*
 * memlens inspect PID: one snapshot of a live process -- summary (resident,
 * swap, page-table bytes, leaf sizes, TLB entries), fault, TLB and swap
 * counters, the VMA table and, under libmlalloc, a section per arena.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlbpf.h"
#include "inspect.h"
#include "memlens.h"
#include "target.h"

#define DTLB_MS 100 /* how long dTLB misses are counted */

int ml_fail(int code, const char *msg)
{
	fprintf(stderr, "memlens: %s\n", msg);
	return code;
}

int ml_choose_or_fail(const struct ml_common_opts *o, enum ml_backend *out, char *why, size_t len)
{
	int ret = ml_backend_choose(o->backend, out, why, len);

	if (ret)
		return ml_fail(ret, why);
	return 0;
}

int ml_proc_only(const struct ml_common_opts *o, const char *cmd)
{
	char why[ML_WHY_LEN];

	if (o->backend == ML_BACKEND_AUTO || o->backend == ML_BACKEND_PROC)
		return 0;
	snprintf(why, sizeof(why),
		 "backend %s unavailable: memlens %s measures with /proc, rusage and perf only",
		 ml_backend_name(o->backend), cmd);
	return ml_fail(ML_EXIT_BACKEND, why);
}

void ml_emit_process(struct ml_report *r, const struct ml_snapshot *ss, const char *auto_why)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)ss->pid);
	ml_report_label(r, "pid", pid);
	ml_report_label(r, "comm", ss->comm);
	if (r->fmt == ML_FMT_TEXT)
		fprintf(r->out, "memlens %s: pid %d (%s), backend %s\n", r->path[0], (int)ss->pid,
			ss->comm, ml_backend_name(ss->backend));
	ml_report_section(r, "process", NULL);
	ml_report_int(r, "pid", "pid", ss->pid);
	if (r->fmt != ML_FMT_TEXT)
		ml_report_str(r, "comm", "comm", ss->comm);
	ml_report_section_end(r);
	ml_report_section(r, "backend", NULL);
	if (r->fmt != ML_FMT_TEXT)
		ml_report_str(r, "name", "backend", ml_backend_name(ss->backend));
	if (auto_why && auto_why[0])
		ml_report_str(r, "auto", "auto skipped", auto_why);
	ml_report_section_end(r);
	if (ss->backend == ML_BACKEND_BPF)
		ml_emit_bpf_losses(r);
}

void ml_emit_bpf_losses(struct ml_report *r)
{
	enum ml_bpf_feat lost[ML_FEAT_COUNT];
	int i, n = ml_bpf_losses(lost, ML_FEAT_COUNT);
	char label[64], text[512];

	ml_report_section(r, "bpf_features", n ? "BPF features lost on this kernel" : NULL);
	ml_report_val(r, "lost", n ? "features lost" : "BPF features lost", ML_UNIT_COUNT,
		      ml_have(n, ML_SRC_BPF));
	for (i = 0; i < n; i++) {
		const struct ml_bpf_feat_info *fi = ml_bpf_feat_info(lost[i]);

		snprintf(label, sizeof(label), "without %s", fi->name);
		snprintf(text, sizeof(text), "%s: %s lost; %s", ml_bpf_feat_why(lost[i]), fi->gives,
			 fi->without);
		ml_report_str(r, fi->name, label, text);
	}
	ml_report_section_end(r);
}

void ml_emit_summary(struct ml_report *r, const struct ml_snapshot *ss)
{
	const struct ml_summary *s = &ss->sum;
	const struct ml_system *y = &ss->sys;

	ml_report_section(r, "summary", "Summary");
	ml_report_val(r, "resident_bytes", "resident", ML_UNIT_BYTES, s->rss);
	ml_report_val(r, "resident_anon_bytes", "  anonymous", ML_UNIT_BYTES, s->rss_anon);
	ml_report_val(r, "resident_file_bytes", "  file", ML_UNIT_BYTES, s->rss_file);
	ml_report_val(r, "resident_shmem_bytes", "  shmem", ML_UNIT_BYTES, s->rss_shmem);
	ml_report_val(r, "pss_bytes", "proportional (PSS)", ML_UNIT_BYTES, s->pss);
	ml_report_val(r, "uss_bytes", "unique (USS)", ML_UNIT_BYTES, s->uss);
	ml_report_val(r, "lazyfree_bytes", "lazily freed (MADV_FREE)", ML_UNIT_BYTES, s->lazyfree);
	ml_report_val(r, "peak_resident_bytes", "peak resident (VmHWM)", ML_UNIT_BYTES, s->hwm);
	ml_report_val(r, "virtual_bytes", "virtual", ML_UNIT_BYTES, s->vm_size);
	ml_report_val(r, "swap_bytes", "swapped out", ML_UNIT_BYTES, s->swap);
	ml_report_val(r, "pagetable_bytes", "page tables (as VmPTE)", ML_UNIT_BYTES, s->pgtable);
	ml_report_val(r, "leaf_4k", "4 KiB leaves", ML_UNIT_COUNT, s->leaf_4k);
	ml_report_val(r, "leaf_2m", "2 MiB leaves", ML_UNIT_COUNT, s->leaf_2m);
	ml_report_val(r, "leaf_1g", "1 GiB leaves", ML_UNIT_COUNT, s->leaf_1g);
	ml_report_val(r, "thp_coverage_percent", "resident in 2M+ leaves", ML_UNIT_PERCENT,
		      s->thp_coverage);
	ml_report_val(r, "threads", "threads", ML_UNIT_COUNT, s->threads);
	ml_report_section_end(r);

	ml_report_section(r, "faults", "Faults (since the process started)");
	ml_report_val(r, "minor_total", "minor", ML_UNIT_TOTAL, s->minflt);
	ml_report_val(r, "major_total", "major", ML_UNIT_TOTAL, s->majflt);
	ml_report_val(r, "minor_tracked_total", "minor since tracking began", ML_UNIT_TOTAL,
		      s->tracked_minflt);
	ml_report_val(r, "major_tracked_total", "major since tracking began", ML_UNIT_TOTAL,
		      s->tracked_majflt);
	if (s->fault_mode[0])
		ml_report_str(r, "tracked_mode", "counted in mode", s->fault_mode);
	ml_report_section_end(r);

	ml_report_section(r, "tlb", "TLB");
	ml_report_val(r, "entries_needed", "entries to map resident", ML_UNIT_COUNT, s->tlb_needed);
	ml_report_val(r, "entries_4k_only", "  if all leaves were 4 KiB", ML_UNIT_COUNT,
		      s->tlb_4k_only);
	ml_report_val(r, "dtlb_read_misses_per_second", "dTLB read misses", ML_UNIT_PER_SEC,
		      s->dtlb_misses);
	ml_report_val(r, "flushes_total", "flushes (this process)", ML_UNIT_TOTAL, s->tlb_flushes);
	ml_report_val(r, "system_remote_flushes_total", "remote flushes (system)", ML_UNIT_TOTAL,
		      y->tlb_remote);
	ml_report_val(r, "system_local_flushes_total", "local full flushes (system)", ML_UNIT_TOTAL,
		      y->tlb_local);
	ml_report_section_end(r);

	ml_report_section(r, "swap", "Swap");
	ml_report_val(r, "process_bytes", "this process", ML_UNIT_BYTES, s->swap);
	ml_report_val(r, "system_total_bytes", "system total", ML_UNIT_BYTES, y->swap_total);
	ml_report_val(r, "system_free_bytes", "system free", ML_UNIT_BYTES, y->swap_free);
	ml_report_val(r, "system_pswpin_total", "pages swapped in (system)", ML_UNIT_TOTAL,
		      y->pswpin);
	ml_report_val(r, "system_pswpout_total", "pages swapped out (system)", ML_UNIT_TOTAL,
		      y->pswpout);
	ml_report_section_end(r);
}

static const struct ml_col vma_cols[] = {
	{ "start", "start", ML_UNIT_ADDR },
	{ "end", "end", ML_UNIT_ADDR },
	{ "perms", "perm", ML_UNIT_TEXT },
	{ "size_bytes", "size", ML_UNIT_BYTES },
	{ "resident_bytes", "rss", ML_UNIT_BYTES },
	{ "anon_bytes", "anon", ML_UNIT_BYTES },
	{ "lazyfree_bytes", "lazyfree", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },
	{ "pmd_mapped_bytes", "2M-mapped", ML_UNIT_BYTES },
	{ "name", "name", ML_UNIT_TEXT },
};

static const struct ml_col vma_fault_cols[] = {
	{ "start", "start", ML_UNIT_ADDR },        { "end", "end", ML_UNIT_ADDR },
	{ "minor_total", "minor", ML_UNIT_TOTAL }, { "major_total", "major", ML_UNIT_TOTAL },
	{ "name", "name", ML_UNIT_TEXT },
};

/* Faults per VMA since tracking began (module, tracked processes). */
static void emit_vma_faults(struct ml_report *r, const struct ml_snapshot *ss)
{
	if (!ss->vfaults)
		return;
	ml_report_table(r, "vma_faults", "Faults by VMA since tracking began", vma_fault_cols,
			sizeof(vma_fault_cols) / sizeof(vma_fault_cols[0]), ML_SRC_MODULE);
	for (int i = 0; i < ss->nvfaults; i++) {
		const struct ml_vma_faults_row *v = &ss->vfaults[i];

		ml_report_cell_addr(r, v->start);
		ml_report_cell_addr(r, v->end);
		ml_report_cell(r, ml_have((double)v->minor, ML_SRC_MODULE));
		ml_report_cell(r, ml_have((double)v->major, ML_SRC_MODULE));
		ml_report_cell_str(r, v->name);
	}
	ml_report_table_end(r);
}

void ml_emit_vmas(struct ml_report *r, const struct ml_snapshot *ss)
{
	emit_vma_faults(r, ss);
	ml_report_table(r, "vmas", "VMAs", vma_cols, sizeof(vma_cols) / sizeof(vma_cols[0]),
			ML_SRC_PROC);
	ml_report_table_totals(r, "total");
	for (int i = 0; i < ss->nvmas; i++) {
		const struct ml_vma *v = &ss->vmas[i];

		ml_report_cell_addr(r, v->start);
		ml_report_cell_addr(r, v->end);
		ml_report_cell_str(r, v->perms);
		ml_report_cell(r, ml_have((double)(v->end - v->start), ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)v->rss, ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)v->anon, ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)v->lazyfree, ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)v->swap, ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)v->pmd_mapped, ML_SRC_PROC));
		ml_report_cell_str(r, v->name);
	}
	ml_report_table_end(r);
}

struct inspect_args {
	struct ml_common_opts common;
	const char *pid;
	bool no_vmas, per_vma;
	struct ml_target_opts target; /* instead of PID */
};

enum {
	OPT_NO_VMAS = 0x3000,
	OPT_PER_VMA
};

static const struct argp_option inspect_options[] = {
	{ "no-vmas", OPT_NO_VMAS, NULL, 0, "leave the VMA table out", 0 },
	{ "per-vma", OPT_PER_VMA, NULL, 0,
	  "--prometheus: also the per-VMA series (labelled by address: one series per VMA and run)",
	  0 },
	{ 0 }
};

static error_t parse_inspect(int key, char *arg, struct argp_state *state)
{
	struct inspect_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->common;
		state->child_inputs[1] = &a->target;
		return 0;
	case OPT_NO_VMAS:
		a->no_vmas = true;
		return 0;
	case OPT_PER_VMA:
		a->per_vma = true;
		return 0;
	case ARGP_KEY_ARG:
	case ARGP_KEY_END:
		return ml_parse_target_pid(state, key, arg, &a->pid, &a->target);
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child inspect_children[] = { { &ml_common_argp, 0,
							"Output and backend:", 0 },
						      { &ml_target_argp, 0, "Target:", 0 },
						      { 0 } };

static const struct argp inspect_argp = {
	.options = inspect_options,
	.parser = parse_inspect,
	.args_doc = "PID",
	.doc = "A snapshot of a live process: resident and swapped memory, page\n"
	       "tables, leaf sizes and TLB reach, faults, TLB and swap counters,\n"
	       "the VMA table, and under libmlalloc one line per arena with its\n"
	       "live, resident, lazily freed bytes and the allocator's accounts\n"
	       "reconciled.  Figures that cannot be measured say why.\v"
	       "Examples:\n"
	       "  memlens inspect 1234\n"
	       "  memlens inspect --no-vmas $(pidof myserver)\n"
	       "  memlens inspect --json 1234 | python3 -m json.tool\n"
	       "  memlens inspect --prometheus 1234 > /var/lib/node_exporter/memlens.prom",
	.children = inspect_children,
};

static int run_inspect(int argc, char **argv)
{
	struct inspect_args a = {
		{ ML_BACKEND_AUTO, ML_FMT_TEXT, false }, NULL, false, false, { NULL, NULL }
	};
	struct ml_alloc_view av = { 0 };
	struct ml_snapshot ss;
	struct ml_report r;
	enum ml_backend be;
	char why[ML_WHY_LEN];
	pid_t pid;
	int ret;

	ret = ml_parse(&inspect_argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	if (ml_target_given(&a.target)) {
		ret = ml_target_one("inspect", a.target.comm, a.target.cgroup, &pid);
		if (ret) {
			ml_report_failure(stdout, a.common.format, "inspect", 0, ret,
					  "the target was refused (see stderr)");
			return ret;
		}
	} else if (ml_pid_parse(a.pid, &pid)) {
		fprintf(stderr, "memlens inspect: '%s' is not a PID\n", a.pid);
		return ML_EXIT_USAGE;
	}
	ret = ml_target_check("inspect", &pid);
	if (ret) {
		ml_report_failure(stdout, a.common.format, "inspect", pid, ret,
				  "the target was refused (see stderr)");
		return ret;
	}
	ret = ml_choose_or_fail(&a.common, &be, why, sizeof(why));
	if (ret) {
		ml_report_failure(stdout, a.common.format, "inspect", pid, ret, why);
		return ret;
	}
	ret = ml_snapshot_best(pid, be, &ss, why, sizeof(why));
	if (ret == ML_EXIT_NOPROC || ret == ML_EXIT_KTHREAD || ret == ML_EXIT_BACKEND) {
		ml_report_failure(stdout, a.common.format, "inspect", pid, ret, ss.errmsg);
		ml_snapshot_free(&ss);
		return ml_fail(ret, ss.errmsg);
	}
	if (!ret) {
		ss.sum.dtlb_misses = ml_perf_dtlb(pid, DTLB_MS);
		if (ml_known(ss.sum.dtlb_misses))
			ss.sum.dtlb_misses.v *= 1000.0 / DTLB_MS;
		ml_alloc_read(&ss, &av);
	} else {
		ss.sum.dtlb_misses = ml_none("not measured: the snapshot failed");
	}
	ml_report_begin(&r, stdout, a.common.format, "inspect");
	ml_emit_process(&r, &ss, why);
	ml_emit_summary(&r, &ss);
	/* per-VMA series are labelled by ASLR addresses: churn, unless asked for */
	if (!a.no_vmas && (a.common.format != ML_FMT_PROM || a.per_vma))
		ml_emit_vmas(&r, &ss);
	else if (!a.no_vmas)
		fputs("# per-VMA series left out (memlens inspect --per-vma adds them)\n", r.out);
	if (!ret)
		ml_alloc_report(&r, &av);
	if (ret)
		ml_report_error(&r, ret, ss.errmsg);
	ml_report_end(&r);
	ml_alloc_free(&av);
	ml_snapshot_free(&ss);
	if (ret)
		return ml_fail(ret, ss.errmsg);
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_inspect = {
	.name = "inspect",
	.summary = "a snapshot of a process: memory, page tables, TLB, swap, arenas",
	.run = run_inspect,
};
