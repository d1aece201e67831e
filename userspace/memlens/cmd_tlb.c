// SPDX-License-Identifier: GPL-2.0
/*
 * memlens tlb: count TLB flushes with BPF and print them as the module's
 * tlb file (totals, then per CPU) and, for a process, pid/PID/tlb.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"
#include "count.h"

static const char *const reasons[] = {
	"task_switch",        "remote_shootdown", "local_shootdown",
	"local_mm_shootdown", "remote_send_ipi",  "remote_wrong_cpu",
};

/* The counting options and --json/--prometheus, over one struct ml_count_args. */
static error_t parse_tlb(int key, char *arg, struct argp_state *state)
{
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = state->input;
	state->child_inputs[1] = state->input;
	return 0;
}

static const struct argp_child tlb_children[] = {
	{ &ml_count_argp, 0, NULL, 0 },
	{ &ml_count_format_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp tlb_argp = {
	.parser = parse_tlb,
	.children = tlb_children,
	.args_doc = "[-p PID | -- CMD [ARGS...]]",
	.doc = "Count TLB flushes from the x86 tlb:tlb_flush tracepoint with BPF "
	       "(no module needed), by reason, pages flushed and full flushes, "
	       "in total and per CPU (cpuN_ lines), as the module's tlb file.  "
	       "With -p or a command, also that process's flushes (those that "
	       "fire while one of its threads is current), after an empty line, "
	       "as pid/PID/tlb; with -p, for a process still running at the end, "
	       "its TLB reach from a page-table walk (tlb_entries_needed, "
	       "tlb_entries_needed_4k).\v"
	       "Examples:\n"
	       "  memlens tlb -d 1\n"
	       "  memlens tlb -- ./a.out\n"
	       "  memlens tlb -p 1234 -d 5\n"
	       "  memlens tlb --json -- ./a.out",
};

struct tlb_ctx {
	struct ml_tlbswap *t; /* first: ml_count_close_tlbswap() */
	struct ml_count_args a;
};

static void print_tlb(const char *prefix, const struct tlb_counts *c)
{
	int r;

	for (r = 0; r < TLB_REASONS; r++)
		if (r < 5 || c->reason[r]) /* remote_wrong_cpu: 6.x later */
			printf("%s%s %llu\n", prefix, reasons[r], (unsigned long long)c->reason[r]);
	printf("%spages_flushed %llu\n%sfull_flushes %llu\n", prefix,
	       (unsigned long long)c->pages_flushed, prefix, (unsigned long long)c->full_flushes);
}

static int open_tlb(pid_t tgid, void *ctx)
{
	struct ml_tlbswap **t = &((struct tlb_ctx *)ctx)->t;
	int err = ml_tlbswap_open(t, tgid);

	if (err)
		return err;
	fprintf(stderr, "memlens tlb: %s\n", ml_tlbswap_path(*t));
	ml_bpf_print_losses(stderr, "memlens tlb");
	if (!ml_tlbswap_has_tlb(*t)) {
		fprintf(stderr,
			"memlens tlb: no TLB flush events on this kernel (tlb:tlb_flush): see memlens doctor\n");
		ml_tlbswap_close(*t);
		*t = NULL;
		return -ENOENT;
	}
	return 0;
}

/* --- JSON and Prometheus (report.h) --- */

/*
 * remote_wrong_cpu, in JSON and Prometheus always (a stable set of
 * fields): its count where the kernel has the reason, else unavailable
 * with the reason.  The text, as the module's tlb file, has its line only
 * when it is not zero.
 */
static struct ml_val reason_val(const struct tlb_counts *c, int i)
{
	static char why[128];
	static int known = -1;

	if (i == TLB_REASON_REMOTE_WRONG_CPU) {
		if (known < 0)
			known = ml_tlb_has_wrong_cpu(why, sizeof(why));
		if (!known)
			return ml_none(why);
	}
	return ml_have((double)c->reason[i], ML_SRC_BPF);
}

static void emit_counts(struct ml_report *r, const struct tlb_counts *c)
{
	char key[48];

	for (int i = 0; i < TLB_REASONS; i++) {
		snprintf(key, sizeof(key), "%s_total", reasons[i]);
		ml_report_val(r, key, reasons[i], ML_UNIT_TOTAL, reason_val(c, i));
	}
	ml_report_val(r, "pages_flushed_total", "pages flushed", ML_UNIT_TOTAL,
		      ml_have((double)c->pages_flushed, ML_SRC_BPF));
	ml_report_val(r, "full_flushes_total", "full flushes", ML_UNIT_TOTAL,
		      ml_have((double)c->full_flushes, ML_SRC_BPF));
}

/* One row per CPU, every reason's column. */
static void emit_percpu(struct ml_report *r, const struct tlb_counts *percpu, int n)
{
	struct ml_col cols[2 + TLB_REASONS + 2];
	char keys[TLB_REASONS][48];
	int nc = 0;

	cols[nc++] = (struct ml_col){ "cpu", "cpu", ML_UNIT_ID };
	for (int i = 0; i < TLB_REASONS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s_total", reasons[i]);
		cols[nc++] = (struct ml_col){ keys[i], reasons[i], ML_UNIT_TOTAL };
	}
	cols[nc++] = (struct ml_col){ "pages_flushed_total", "pages flushed", ML_UNIT_TOTAL };
	cols[nc++] = (struct ml_col){ "full_flushes_total", "full flushes", ML_UNIT_TOTAL };
	ml_report_table(r, "per_cpu", "TLB flushes per CPU", cols, nc, ML_SRC_BPF);
	for (int cpu = 0; cpu < n && cpu < TLB_MAX_CPUS; cpu++) {
		const struct tlb_counts *c = &percpu[cpu];

		ml_report_cell(r, ml_have(cpu, ML_SRC_BPF));
		for (int i = 0; i < TLB_REASONS; i++)
			ml_report_cell(r, reason_val(c, i));
		ml_report_cell(r, ml_have((double)c->pages_flushed, ML_SRC_BPF));
		ml_report_cell(r, ml_have((double)c->full_flushes, ML_SRC_BPF));
	}
	ml_report_table_end(r);
}

/* TLB reach from a page-table walk, or why there is none. */
static void emit_reach(struct ml_report *r, pid_t tgid)
{
	struct ml_val need, need4k;
	struct ml_pagetable pt;

	if (!ml_pid_alive(tgid)) {
		need = need4k = ml_none(
			ml_count_why("process %d has exited (its page tables are gone)", tgid));
	} else if (ml_pagetable_walk(tgid, &pt)) {
		need = need4k = ml_none(ml_count_why("%s", ml_bpf_error()));
	} else {
		need = ml_have((double)(pt.sum.leaf_4k + pt.sum.leaf_2m + pt.sum.leaf_1g),
			       ML_SRC_BPF);
		need4k = ml_have((double)(pt.sum.leaf_4k + pt.sum.leaf_2m * 512 +
					  pt.sum.leaf_1g * 512 * 512),
				 ML_SRC_BPF);
		ml_pagetable_free(&pt);
	}
	ml_report_val(r, "entries_needed", "TLB entries needed", ML_UNIT_COUNT, need);
	ml_report_val(r, "entries_4k_only", "TLB entries needed, 4 KiB pages only", ML_UNIT_COUNT,
		      need4k);
}

static void report_structured(struct tlb_ctx *x, pid_t tgid)
{
	struct tlb_counts all, *percpu = calloc(TLB_MAX_CPUS, sizeof(*percpu));
	struct ml_report r;
	int n = 0, err;

	ml_count_report_begin(&r, "tlb", &x->a, tgid);
	ml_count_report_target(&r, &x->a, tgid);
	ml_report_str(&r, "attach", "attached to", ml_tlbswap_path(x->t));
	ml_report_section(&r, "tlb", "TLB flushes");
	err = percpu ? ml_tlb_read(x->t, &all, percpu, &n) : -ENOMEM;
	if (!err) {
		emit_counts(&r, &all);
		emit_percpu(&r, percpu, n);
	} else {
		ml_report_str(&r, "counters", "counters",
			      ml_count_why("unavailable: reading them failed: %s", strerror(-err)));
	}
	if (tgid && !ml_tlb_read_tgid(x->t, &all)) {
		ml_report_section(&r, "process", "Flushes while the process ran");
		emit_counts(&r, &all);
		emit_reach(&r, tgid);
		ml_report_section_end(&r);
	}
	ml_report_section_end(&r);
	ml_report_end(&r);
	free(percpu);
}

static int report_tlb(pid_t tgid, void *ctx)
{
	struct ml_tlbswap *t = ((struct tlb_ctx *)ctx)->t;
	struct tlb_counts all, *percpu;
	struct ml_pagetable pt;
	char prefix[32];
	int n = 0, cpu;

	if (((struct tlb_ctx *)ctx)->a.format != ML_FMT_TEXT) {
		report_structured(ctx, tgid);
		return 0;
	}
	percpu = calloc(TLB_MAX_CPUS, sizeof(*percpu));
	if (percpu && !ml_tlb_read(t, &all, percpu, &n)) {
		print_tlb("", &all);
		for (cpu = 0; cpu < n && cpu < TLB_MAX_CPUS; cpu++) {
			snprintf(prefix, sizeof(prefix), "cpu%d_", cpu);
			print_tlb(prefix, &percpu[cpu]);
		}
	}
	free(percpu);
	if (tgid && !ml_tlb_read_tgid(t, &all)) {
		printf("\n");
		print_tlb("", &all);
		if (!ml_pid_alive(tgid)) {
			fprintf(stderr,
				"memlens tlb: no TLB reach: process %d has exited (its page tables are gone)\n",
				tgid);
		} else if (ml_pagetable_walk(tgid, &pt)) {
			fprintf(stderr, "memlens tlb: no TLB reach: %s\n", ml_bpf_error());
		} else {
			printf("tlb_entries_needed %llu\ntlb_entries_needed_4k %llu\n",
			       (unsigned long long)(pt.sum.leaf_4k + pt.sum.leaf_2m +
						    pt.sum.leaf_1g),
			       (unsigned long long)(pt.sum.leaf_4k + pt.sum.leaf_2m * 512 +
						    pt.sum.leaf_1g * 512 * 512));
			ml_pagetable_free(&pt);
		}
	}
	return 0;
}

static const struct ml_count_ops tlb_ops = {
	.open = open_tlb,
	.report = report_tlb,
	.close = ml_count_close_tlbswap,
};

static int run_tlb(int argc, char **argv)
{
	struct tlb_ctx x = { 0 };
	int ret = ml_parse(&tlb_argp, argc, argv, ARGP_IN_ORDER, &x.a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("tlb", &x.a, argv, &tlb_ops, &x);
}

const struct ml_command ml_cmd_tlb = {
	.name = "tlb",
	.summary = "count TLB flushes by reason and CPU with BPF",
	.run = run_tlb,
};
