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
#include "kcost_mlalloc.h"
#include "kcost_timeline.h"
#include "report.h"

#define KC_PAGE 4096.0

enum {
	OPT_TIMELINE = 0x1000,
	OPT_INTERVAL,
	OPT_ALLOCATOR,
};

struct kcost_args {
	struct ml_count_args count; /* with --json/--prometheus: count.format */
	struct ml_kcost *k;
	const char *timeline; /* --timeline FILE.svg */
	int interval_ms;      /* --interval: RSS samples */
	bool allocator;       /* --allocator, or --timeline */
	struct kc_timeline tl;
	bool tl_open;
	struct kc_mlalloc ml;
};

static const struct argp_option kcost_options[] = {
	{ "timeline", OPT_TIMELINE, "FILE.svg", 0,
	  "Also draw RSS, bytes given back, refaults and TLB flushes over time (SVG)", 0 },
	{ "allocator", OPT_ALLOCATOR, NULL, 0,
	  "Read libmlalloc's decision ring and show each purge with the syscalls, TLB "
	  "flushes and refaults it caused (on with --timeline)",
	  0 },
	{ "interval", OPT_INTERVAL, "MS", 0,
	  "With --timeline: sample RSS every MS milliseconds (1-1000, default 10)", 0 },
	{ 0 }
};

static error_t kcost_parse(int key, char *arg, struct argp_state *state)
{
	struct kcost_args *a = state->input;

	char *end;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->count;
		state->child_inputs[1] = &a->count;
		return 0;
	case OPT_TIMELINE:
		if (!*arg) {
			argp_error(state, "--timeline needs a file name");
			return EINVAL;
		}
		a->timeline = arg;
		return 0;
	case OPT_ALLOCATOR:
		a->allocator = true;
		return 0;
	case OPT_INTERVAL:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || end == arg || v < 1 || v > 1000) {
			argp_error(state, "invalid interval '%s' (1-1000 ms)", arg);
			return EINVAL;
		}
		a->interval_ms = (int)v;
		return 0;
	case ARGP_KEY_END:
		if (!a->count.pid && !ml_target_given(&a->count.target) && !a->count.cmd_index) {
			argp_error(state, "give -p PID, --comm NAME, --cgroup PATH or a command");
			return EINVAL;
		}
		if (a->interval_ms && !a->timeline && !a->allocator) {
			argp_error(state, "--interval goes with --timeline or --allocator");
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
	.options = kcost_options,
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
	       "  memlens kcost --timeline run.svg -- ./a.out\n"
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
	return !TLB_REASON_RECEIVED(r);
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
	ml_report_section(r, "tlb_outside",
			  "TLB flushes made outside the calls (page faults, exit, switches)");
	for (int i = 0; i < TLB_REASONS; i++)
		if (charged_reason(i))
			ml_report_val(r, reason_keys[i], reason_keys[i], ML_UNIT_TOTAL,
				      ml_have((double)f->tlb_outside[i], ML_SRC_BPF));
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

	err = a->tl_open ? ml_kcost_open_timeline(&a->k, tgid) : ml_kcost_open(&a->k, tgid);
	if (err)
		return err;
	if (a->tl_open)
		a->tl.t_start = kc_now_ns();
	if (a->allocator)
		kc_mlalloc_init(&a->ml, tgid, a->count.cmd_index != 0);
	/* No feature losses to print: each tp_btf program has a raw_tp twin. */
	if (a->count.verbose)
		fprintf(stderr, "memlens kcost: %s\n", ml_kcost_path(a->k));
	return 0;
}

static int tick_kcost(pid_t tgid, void *ctx)
{
	struct kcost_args *a = ctx;

	if (!a->tl_open)
		return 1000;
	kc_timeline_tick(&a->tl, a->k, tgid);
	if (a->allocator)
		kc_mlalloc_tick(&a->ml, a->tl.t_start);
	return a->tl.interval_ms;
}

/* Draw the timeline and say what it holds (checked against the counters). */
static int emit_timeline(struct ml_report *r, struct kcost_args *a, const char *title)
{
	unsigned long long drop = ml_kcost_events_dropped(a->k), n[4] = { 0 };
	struct kc_timeline *tl = &a->tl;
	int err;

	for (size_t i = 0; i < tl->nev; i++)
		if (tl->ev[i].kind < 4)
			n[tl->ev[i].kind]++;
	err = kc_timeline_write(tl, title, ml_kcost_has_tlb(a->k), drop);
	if (err)
		fprintf(stderr, "memlens kcost: writing %s: %s\n", a->timeline, strerror(-err));
	if (drop + tl->over_cap)
		fprintf(stderr,
			"memlens kcost: the timeline lost %llu events (%llu: the BPF ring was full; "
			"%llu: over memlens's limit): its bars are short by those\n",
			drop + tl->over_cap, drop, tl->over_cap);
	ml_report_section(r, "timeline", "Timeline");
	ml_report_str(r, "file", "picture", a->timeline);
	ml_report_val(r, "seconds", "counted for", ML_UNIT_SECONDS,
		      ml_have((tl->t_end - tl->t_start) / 1e9, ML_SRC_PROC));
	ml_report_val(r, "rss_samples", "RSS samples", ML_UNIT_TOTAL,
		      ml_have((double)tl->nrss, ML_SRC_PROC));
	ml_report_val(r, "rss_interval_ms", "RSS sampled every (ms)", ML_UNIT_COUNT,
		      ml_have(tl->interval_ms, ML_SRC_PROC));
	ml_report_val(r, "rss_peak", "largest RSS sample", ML_UNIT_BYTES,
		      ml_have((double)kc_timeline_peak_rss(tl), ML_SRC_PROC));
	ml_report_val(r, "call_events", "syscall events", ML_UNIT_TOTAL,
		      ml_have((double)n[KC_EV_CALL], ML_SRC_BPF));
	ml_report_val(r, "refault_events", "refault events", ML_UNIT_TOTAL,
		      ml_have((double)n[KC_EV_REFAULT], ML_SRC_BPF));
	ml_report_val(r, "tlb_received_events", "flush IPI events", ML_UNIT_TOTAL,
		      ml_have((double)n[KC_EV_TLB_RECV], ML_SRC_BPF));
	ml_report_val(r, "events_dropped", "events lost (ring full)", ML_UNIT_TOTAL,
		      ml_have((double)drop, ML_SRC_BPF));
	ml_report_val(r, "events_over_limit", "events lost (limit)", ML_UNIT_TOTAL,
		      ml_have((double)tl->over_cap, ML_SRC_BPF));
	ml_report_section_end(r);
	return err ? ML_EXIT_ERROR : 0;
}

static int report_kcost(pid_t tgid, void *ctx)
{
	struct kcost_args *a = ctx;
	struct kc_call_stats *c = calloc(KC_CALLS, sizeof(*c));
	struct kc_fault_stats f;
	struct ml_report r;
	char pid[16], title[256];
	int ret = 0;

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
	if (a->tl_open) {
		kc_timeline_finish(&a->tl, a->k);
		if (a->allocator)
			kc_mlalloc_tick(&a->ml, a->tl.t_start);
	}
	if (a->allocator) {
		kc_mlalloc_join(&a->ml, &a->tl);
		kc_mlalloc_emit(&r, &a->ml, a->tl.t_start, a->count.format);
	}
	if (a->timeline) {
		snprintf(title, sizeof(title), "memlens kcost: %s (pid %d)",
			 a->count.cmd_name ? a->count.cmd_name : "process", tgid);
		ret = emit_timeline(&r, a, title);
	}
	ml_report_section_end(&r);
	ml_report_end(&r);
	free(c);
	return ret;
}

static void close_kcost(void *ctx)
{
	struct kcost_args *a = ctx;

	ml_kcost_close(a->k);
	a->k = NULL;
	if (a->allocator)
		kc_mlalloc_free(&a->ml);
}

static const struct ml_count_ops kcost_ops = {
	.open = open_kcost,
	.report = report_kcost,
	.close = close_kcost,
	.tick = tick_kcost,
};

static int run_kcost(int argc, char **argv)
{
	struct kcost_args a = { 0 };
	int ret = ml_parse(&kcost_argp, argc, argv, ARGP_IN_ORDER, &a);

	if (ret != ML_PARSED)
		return ret;
	if (a.timeline)
		a.allocator = true;
	if (a.allocator) {
		ret = kc_timeline_init(&a.tl, a.timeline, a.interval_ms ? a.interval_ms : 10);
		if (ret) {
			fprintf(stderr, "memlens kcost: cannot write %s: %s\n", a.timeline,
				strerror(-ret));
			return ML_EXIT_ERROR;
		}
		a.tl_open = true;
	}
	ret = ml_count_run("kcost", &a.count, argv, &kcost_ops, &a);
	if (a.tl_open)
		kc_timeline_free(&a.tl);
	return ret;
}

const struct ml_command ml_cmd_kcost = {
	.name = "kcost",
	.summary = "a process's memory syscalls, their TLB flushes, its refaults",
	.run = run_kcost,
};
