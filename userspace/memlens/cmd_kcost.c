// SPDX-License-Identifier: GPL-2.0
/*
 * memlens kcost: what a process's memory management costs in the kernel,
 * counted with BPF from tracepoints (bpf/kcost.bpf.c): its memory
 * syscalls with their time in the kernel and the TLB flushes they caused,
 * and the faults on memory it gave back and took again.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"
#include "count.h"
#include "report.h"

#define KC_PAGE 4096.0

struct kcost_args {
	struct ml_count_args count; /* with --json/--prometheus: count.format */
	struct ml_kcost *k;
};

static error_t kcost_parse(int key, char *arg, struct argp_state *state)
{
	struct kcost_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->count;
		state->child_inputs[1] = &a->count;
		return 0;
	case ARGP_KEY_END:
		if (!a->count.pid && !ml_target_given(&a->count.target) && !a->count.cmd_index) {
			argp_error(state, "give -p PID, --comm NAME, --cgroup PATH or a command");
			return EINVAL;
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child kcost_children[] = {
	{ &ml_count_argp, 0, NULL, 0 },
	{ &ml_count_format_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp kcost_argp = {
	.parser = kcost_parse,
	.children = kcost_children,
	.args_doc = "-p PID | -- CMD [ARGS...]",
	.doc = "What a process's memory management costs in the kernel, counted with "
	       "BPF from tracepoints (no module, no uprobes): per memory syscall "
	       "(mmap, munmap, mremap, brk, mprotect, madvise by advice) its calls, "
	       "errors, bytes, time in the kernel (log2 histogram of ns) and the TLB "
	       "flushes that fired while it ran; and the page faults on pages the "
	       "process gave back (munmap, MADV_DONTNEED, MADV_FREE, a brk shrink), "
	       "by the time since the give-back, apart from first touches and "
	       "protection faults.  docs/kcost.md explains each figure.\v"
	       "Examples:\n"
	       "  memlens kcost -- ./a.out\n"
	       "  memlens kcost -p 1234 -d 10\n"
	       "  memlens kcost --json -- ./a.out\n"
	       "\n"
	       "Exit status: 0 when counted (also when the process exits first), 1 "
	       "when nothing could be counted (no privilege, a kernel thread, no such "
	       "process, BPF refused), 2 on a usage error.",
};

static const char *const advice_names[KC_ADVICES] = {
	[0] = "normal",           [1] = "random",         [2] = "sequential",
	[3] = "willneed",         [4] = "dontneed",       [8] = "free",
	[9] = "remove",           [10] = "dontfork",      [11] = "dofork",
	[12] = "mergeable",       [13] = "unmergeable",   [14] = "hugepage",
	[15] = "nohugepage",      [16] = "dontdump",      [17] = "dodump",
	[18] = "wipeonfork",      [19] = "keeponfork",    [20] = "cold",
	[21] = "pageout",         [22] = "populate_read", [23] = "populate_write",
	[24] = "dontneed_locked", [25] = "collapse",      [26] = "guard_install",
	[27] = "guard_remove",
};

static const char *const reason_keys[TLB_REASONS] = {
	"task_switch",        "remote_shootdown", "local_shootdown",
	"local_mm_shootdown", "remote_send_ipi",  "remote_wrong_cpu",
};

static void call_name(int i, char *buf, size_t len)
{
	static const char *const base[] = { "mmap", "munmap", "mremap", "brk", "mprotect" };

	if (i < KC_MADVISE)
		snprintf(buf, len, "%s", base[i]);
	else if (i == KC_MADV_OTHER)
		snprintf(buf, len, "madvise_other");
	else if (advice_names[i - KC_MADVISE])
		snprintf(buf, len, "madvise_%s", advice_names[i - KC_MADVISE]);
	else
		snprintf(buf, len, "madvise_%d", i - KC_MADVISE);
}

static const struct ml_col call_cols[] = {
	{ "call", "call", ML_UNIT_TEXT },
	{ "calls", "calls", ML_UNIT_TOTAL },
	{ "errors", "errors", ML_UNIT_TOTAL },
	{ "bytes", "bytes", ML_UNIT_BYTES },
	{ "kernel_ns", "kernel ns", ML_UNIT_TOTAL },
	{ "mean_ns", "mean ns", ML_UNIT_COUNT },
	{ "tlb_flushes", "TLB flushes", ML_UNIT_TOTAL },
	{ "tlb_pages", "pages flushed", ML_UNIT_TOTAL },
	{ "tlb_full", "full flushes", ML_UNIT_TOTAL },
};

#define NCOLS(c) ((int)(sizeof(c) / sizeof((c)[0])))

static __u64 flushes(const struct kc_call_stats *c)
{
	__u64 n = 0;

	for (int r = 0; r < TLB_REASONS; r++)
		n += c->tlb[r];
	return n;
}

static struct ml_val tlb_val(const struct ml_kcost *k, __u64 v)
{
	return ml_kcost_has_tlb(k) ? ml_have((double)v, ML_SRC_BPF) :
				     ml_none("no tlb:tlb_flush tracepoint: see memlens doctor");
}

static void emit_calls(struct ml_report *r, const struct ml_kcost *k, const struct kc_call_stats *c)
{
	char name[64];

	ml_report_table(r, "syscalls", "Memory syscalls", call_cols, NCOLS(call_cols), ML_SRC_BPF);
	for (int i = 0; i < KC_CALLS; i++) {
		if (!c[i].calls)
			continue;
		call_name(i, name, sizeof(name));
		ml_report_cell_str(r, name);
		ml_report_cell(r, ml_have((double)c[i].calls, ML_SRC_BPF));
		ml_report_cell(r, ml_have((double)c[i].errors, ML_SRC_BPF));
		ml_report_cell(r, ml_have((double)c[i].bytes, ML_SRC_BPF));
		ml_report_cell(r, ml_have((double)c[i].ns, ML_SRC_BPF));
		ml_report_cell(r, ml_have((double)(c[i].ns / c[i].calls), ML_SRC_BPF));
		ml_report_cell(r, tlb_val(k, flushes(&c[i])));
		ml_report_cell(r, tlb_val(k, c[i].tlb_pages));
		ml_report_cell(r, tlb_val(k, c[i].tlb_full));
	}
	ml_report_table_end(r);
}

/* The reasons a call makes; the received ones (1, 5) are emit_tlb_received's. */
static bool charged_reason(int r)
{
	return r != TLB_REASON_REMOTE_SHOOTDOWN && r != TLB_REASON_REMOTE_WRONG_CPU;
}

static void emit_tlb(struct ml_report *r, const struct ml_kcost *k, const struct kc_call_stats *c)
{
	struct ml_col cols[1 + TLB_REASONS];
	char name[64];
	int n = 1;

	if (!ml_kcost_has_tlb(k))
		return;
	cols[0] = call_cols[0];
	for (int i = 0; i < TLB_REASONS; i++)
		if (charged_reason(i))
			cols[n++] =
				(struct ml_col){ reason_keys[i], reason_keys[i], ML_UNIT_TOTAL };
	ml_report_table(r, "tlb_by_reason", "TLB flushes the calls made, by reason", cols, n,
			ML_SRC_BPF);
	for (int i = 0; i < KC_CALLS; i++) {
		if (!flushes(&c[i]))
			continue;
		call_name(i, name, sizeof(name));
		ml_report_cell_str(r, name);
		for (int j = 0; j < TLB_REASONS; j++)
			if (charged_reason(j))
				ml_report_cell(r, ml_have((double)c[i].tlb[j], ML_SRC_BPF));
	}
	ml_report_table_end(r);
}

/* Flush IPIs the threads took: another thread's or another process's flush. */
static void emit_tlb_received(struct ml_report *r, const struct ml_kcost *k,
			      const struct kc_fault_stats *f)
{
	if (!ml_kcost_has_tlb(k))
		return;
	ml_report_section(r, "tlb_received", "TLB flush IPIs received (not charged to a call)");
	ml_report_val(r, "remote_shootdown", "for this process's mm", ML_UNIT_TOTAL,
		      ml_have((double)f->tlb_remote, ML_SRC_BPF));
	ml_report_val(r, "remote_wrong_cpu", "for an mm the CPU had left", ML_UNIT_TOTAL,
		      ml_have((double)f->tlb_other_mm, ML_SRC_BPF));
	ml_report_section_end(r);
}

static const struct ml_col hist_cols[] = {
	{ "call", "call", ML_UNIT_TEXT },
	{ "ns_from", "ns from", ML_UNIT_COUNT },
	{ "ns_to", "ns below", ML_UNIT_COUNT },
	{ "calls", "calls", ML_UNIT_TOTAL },
};

/* The log2 histograms: slot 0 holds 0 ns, slot i [2^(i-1), 2^i). */
static void emit_hist(struct ml_report *r, const struct kc_call_stats *c)
{
	char name[64];

	ml_report_table(r, "latency", "Time in the kernel per call (log2 ns)", hist_cols,
			NCOLS(hist_cols), ML_SRC_BPF);
	for (int i = 0; i < KC_CALLS; i++) {
		call_name(i, name, sizeof(name));
		for (int s = 0; s < KC_HIST_SLOTS; s++) {
			if (!c[i].hist[s])
				continue;
			ml_report_cell_str(r, name);
			ml_report_cell(r, ml_have(s ? (double)(1ULL << (s - 1)) : 0, ML_SRC_BPF));
			ml_report_cell(r, s == KC_HIST_SLOTS - 1 ?
						  ml_none("open-ended") :
						  ml_have((double)(1ULL << s), ML_SRC_BPF));
			ml_report_cell(r, ml_have((double)c[i].hist[s], ML_SRC_BPF));
		}
	}
	ml_report_table_end(r);
}

static void emit_faults(struct ml_report *r, const struct kc_fault_stats *f)
{
	static const char *const ages[KC_AGE_BUCKETS][2] = {
		{ "refaults_1ms", "refaults < 1 ms" },
		{ "refaults_10ms", "refaults 1-10 ms" },
		{ "refaults_100ms", "refaults 10-100 ms" },
		{ "refaults_1s", "refaults 100 ms-1 s" },
		{ "refaults_more", "refaults >= 1 s" },
	};
	__u64 refaults = 0;

	for (int i = 0; i < KC_AGE_BUCKETS; i++)
		refaults += f->refault[i];
	ml_report_section(r, "faults", "Page faults and give-backs");
	ml_report_val(r, "faults", "faults (all)", ML_UNIT_TOTAL,
		      ml_have((double)(f->first_touch + f->protection + refaults), ML_SRC_BPF));
	ml_report_val(r, "first_touch", "first touches", ML_UNIT_TOTAL,
		      ml_have((double)f->first_touch, ML_SRC_BPF));
	ml_report_val(r, "protection", "protection faults", ML_UNIT_TOTAL,
		      ml_have((double)f->protection, ML_SRC_BPF));
	ml_report_val(r, "refaults", "refaults", ML_UNIT_TOTAL,
		      ml_have((double)refaults, ML_SRC_BPF));
	for (int i = 0; i < KC_AGE_BUCKETS; i++)
		ml_report_val(r, ages[i][0], ages[i][1], ML_UNIT_TOTAL,
			      ml_have((double)f->refault[i], ML_SRC_BPF));
	ml_report_val(r, "given_back", "given back", ML_UNIT_BYTES,
		      ml_have((double)f->given_back, ML_SRC_BPF));
	ml_report_val(r, "churn", "churn (refaulted)", ML_UNIT_BYTES,
		      ml_have(refaults * KC_PAGE, ML_SRC_BPF));
	ml_report_val(r, "untracked", "given back, untracked", ML_UNIT_BYTES,
		      ml_have((double)f->untracked, ML_SRC_BPF));
	ml_report_section_end(r);
}

static int open_kcost(pid_t tgid, void *ctx)
{
	struct kcost_args *a = ctx;
	int err;

	err = ml_kcost_open(&a->k, tgid);
	if (err)
		return err;
	/* No feature losses to print: each tp_btf program has a raw_tp twin. */
	if (a->count.verbose)
		fprintf(stderr, "memlens kcost: %s\n", ml_kcost_path(a->k));
	return 0;
}

static int report_kcost(pid_t tgid, void *ctx)
{
	struct kcost_args *a = ctx;
	struct kc_call_stats *c = calloc(KC_CALLS, sizeof(*c));
	struct kc_fault_stats f;
	struct ml_report r;
	char pid[16];

	if (!c || ml_kcost_read(a->k, c, &f)) {
		fprintf(stderr, "memlens kcost: %s\n", c ? ml_bpf_error() : "out of memory");
		free(c);
		return ML_EXIT_ERROR;
	}
	snprintf(pid, sizeof(pid), "%d", tgid);
	ml_report_begin(&r, stdout, a->count.format, "kcost");
	ml_report_label(&r, "pid", pid);
	ml_report_section(&r, "kcost", NULL);
	ml_report_int(&r, "pid", "pid", tgid);
	ml_report_str(&r, "attach", "attached to", ml_kcost_path(a->k));
	emit_calls(&r, a->k, c);
	emit_tlb(&r, a->k, c);
	emit_tlb_received(&r, a->k, &f);
	emit_hist(&r, c);
	emit_faults(&r, &f);
	ml_report_section_end(&r);
	ml_report_end(&r);
	free(c);
	return 0;
}

static void close_kcost(void *ctx)
{
	struct kcost_args *a = ctx;

	ml_kcost_close(a->k);
	a->k = NULL;
}

static const struct ml_count_ops kcost_ops = {
	.open = open_kcost,
	.report = report_kcost,
	.close = close_kcost,
};

static int run_kcost(int argc, char **argv)
{
	struct kcost_args a = { 0 };
	int ret = ml_parse(&kcost_argp, argc, argv, ARGP_IN_ORDER, &a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("kcost", &a.count, argv, &kcost_ops, &a);
}

const struct ml_command ml_cmd_kcost = {
	.name = "kcost",
	.summary = "a process's memory syscalls, their TLB flushes, its refaults",
	.run = run_kcost,
};
