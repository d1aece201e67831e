// SPDX-License-Identifier: GPL-2.0
/*
 * memlens faults: count page faults with BPF, without the module, and print
 * them as the module's faults and pid/PID/vma_faults files do.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "memlens.h"
#include "mlbpf.h"
#include "count.h"

/* The counting commands' arguments (ml_count_argp's input) and -L. */
struct faults_args {
	struct ml_count_args c;
	bool latency, per_vma;
	struct ml_faults *f;
};

enum {
	OPT_PER_VMA = 0x3100,
};

static const struct argp_option faults_options[] = {
	{ "latency", 'L', NULL, 0,
	  "Also time each fault and count retries (costlier: docs/benchmarks.md)", 0 },
	{ "per-vma", OPT_PER_VMA, NULL, 0,
	  "--prometheus: also the per-VMA series (labelled by address: one series per VMA and run)",
	  0 },
	{ 0 }
};

static error_t parse_faults(int key, char *arg, struct argp_state *state)
{
	struct faults_args *a = state->input;

	switch (key) {
	case 'L':
		a->latency = true;
		return 0;
	case OPT_PER_VMA:
		a->per_vma = true;
		return 0;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->c;
		state->child_inputs[1] = &a->c;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child faults_children[] = {
	{ &ml_count_argp, 0, NULL, 0 },
	{ &ml_count_format_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp faults_argp = {
	.options = faults_options,
	.parser = parse_faults,
	.children = faults_children,
	.args_doc = "[-p PID | -- CMD [ARGS...]]",
	.doc = "Count page faults with BPF (no module needed) and print them in the "
	       "format of the module's faults and vma_faults files: the mode, minor, "
	       "major, populated, not_charged, read, write, exec, user, kernel, "
	       "notpresent, protection, then the faults per VMA.  The counting mode "
	       "(default) costs about what perf stat does; --latency adds retry "
	       "and log2-ns latency histograms at a higher cost.  Without -p or a "
	       "command, counts every process until Ctrl-C.\v"
	       "Examples:\n"
	       "  memlens faults -- dd if=/dev/zero of=/dev/null bs=1M count=100\n"
	       "  memlens faults -p 1234 -d 5\n"
	       "  memlens faults --latency -- ./a.out   # with the time of each fault\n"
	       "  memlens faults            # system-wide, until Ctrl-C\n"
	       "  memlens faults --json -- ./a.out\n"
	       "The attach points chosen for this kernel are reported on stderr.",
};

static void print_hist(const char *name, const __u64 *h)
{
	unsigned long long low, high;
	int b;

	for (b = 0; b < FAULTS_LAT_BUCKETS; b++) {
		if (!h[b])
			continue;
		low = b ? 1ULL << (b - 1) : 0;
		high = b ? low * 2 - 1 : 0;
		printf("lat_%s_ns_%llu_%llu %llu\n", name, low, high, (unsigned long long)h[b]);
	}
}

/*
 * What the latency mode cost, beside its histograms: the mean run time of
 * its programs in this run, measured by the kernel (bpf_enable_stats).
 * Every process's faults run them (the filter is inside); a fault of the
 * target runs two or three; the perf-event path around them on hosts
 * without fexit is not included (docs/benchmarks.md has the whole cost).
 */
static void print_cost(struct ml_faults *f)
{
	__u64 ns, runs;

	if (ml_faults_cost(f, &ns, &runs) || !runs) {
		printf("lat_cost unavailable: no BPF run-time statistics (bpf_enable_stats)\n");
		return;
	}
	printf("lat_cost_bpf_ns_per_run %llu\n", (unsigned long long)(ns / runs));
	printf("lat_cost_bpf_runs %llu\n", (unsigned long long)runs);
}

/*
 * The counters in the order of the module's faults file, after the mode.
 * retry, retry_returns and errors need the return of handle_mm_fault(),
 * the latency the latency mode: "unavailable" in counting mode, left out
 * where the latency mode only has the perf events; populated, not_charged
 * and mixed exist in counting mode only; the error-code classes need the
 * entry tracepoints.
 */
void ml_print_faults(const struct fault_counts *c, struct ml_faults *f)
{
	bool counting = ml_faults_mode(f) == ML_FAULTS_COUNTING;
	bool has_retry = ml_faults_has_retry(f), has_entry = ml_faults_has_entry(f);
	const struct {
		const char *key;
		__u64 v;
		bool exact;
	} kv[] = {
		{ "minor", c->minor, true },
		{ "major", c->major, true },
		{ "populated", c->populated, counting },
		{ "not_charged", c->not_charged, counting },
		{ "mixed", c->mixed, counting },
		{ "retry", c->retry, has_retry },
		{ "retry_returns", c->retry_returns, has_retry },
		{ "errors", c->errors, has_retry },
		{ "user", c->user, has_entry },
		{ "kernel", c->kernel, has_entry },
		{ "read", c->read, has_entry },
		{ "write", c->write, has_entry },
		{ "exec", c->exec, has_entry },
		{ "notpresent", c->notpresent, has_entry },
		{ "protection", c->protection, has_entry },
	};
	size_t i;

	printf("mode %s\n", ml_faults_mode_name(f));
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (kv[i].exact)
			printf("%s %llu\n", kv[i].key, (unsigned long long)kv[i].v);
	if (counting) {
		printf("retry unavailable: needs --latency\n");
		printf("latency unavailable: needs --latency\n");
		return;
	}
	if (!ml_faults_has_latency(f))
		return; /* latency is stamped at the entry */
	print_cost(f);
	print_hist("minor", c->lat_minor);
	print_hist("major", c->lat_major);
}

/*
 * One row per VMA: the counters are keyed by (start, end) as the fault saw
 * the VMA, so a VMA that grew (the heap after brk(), a stack) has several
 * rows with one start.  They are one VMA: summed, with the largest end.
 * @v is sorted by start; returns the new count.
 */
static int merge_grown_vmas(struct ml_vma_faults *v, int n)
{
	int i, out = 0;

	for (i = 0; i < n; i++) {
		if (out && v[out - 1].start == v[i].start) {
			v[out - 1].minor += v[i].minor;
			v[out - 1].major += v[i].major;
			if (v[i].end > v[out - 1].end)
				v[out - 1].end = v[i].end;
			continue;
		}
		v[out++] = v[i];
	}
	return out;
}

/* The per-VMA table, as the module's pid/PID/vma_faults prints it. */
static void print_vma_faults(struct ml_faults *f, pid_t pid)
{
	struct ml_vma_faults *v;
	char name[4096];
	int n, i;

	n = ml_faults_vmas(f, pid, &v);
	if (n < 0)
		return;
	n = merge_grown_vmas(v, n);
	printf("start end minor major name\n");
	for (i = 0; i < n; i++) {
		if (ml_maps_name(pid, v[i].start, name, sizeof(name)))
			snprintf(name, sizeof(name), "%s", v[i].name);
		printf("%llx %llx %llu %llu %s\n", (unsigned long long)v[i].start,
		       (unsigned long long)v[i].end, (unsigned long long)v[i].minor,
		       (unsigned long long)v[i].major, name);
	}
	free(v);
}

/* --- JSON and Prometheus (report.h) --- */

#define NCOLS(c) ((int)(sizeof(c) / sizeof((c)[0])))

static struct ml_val bpf_val(__u64 v)
{
	return ml_have((double)v, ML_SRC_BPF);
}

/*
 * The counters as the text prints them, each a field: what a mode or
 * this kernel cannot give is unavailable with the reason, never 0.
 */
static void emit_counts(struct ml_report *r, const struct fault_counts *c, struct ml_faults *f)
{
	bool counting = ml_faults_mode(f) == ML_FAULTS_COUNTING;
	bool has_retry = ml_faults_has_retry(f), has_entry = ml_faults_has_entry(f);
	const char *no_retry =
		counting ? "needs --latency" :
			   ml_count_feat_why(ML_FEAT_FEXIT_FAULT,
					     "no fexit on handle_mm_fault on this kernel");
	const char *no_entry = ml_count_feat_why(
		ML_FEAT_TP_PAGE_FAULT, "no exceptions:page_fault_user/_kernel tracepoints");
	const char *no_counting = "counted in counting mode only (without --latency)";
	const struct {
		const char *key, *label;
		__u64 v;
		bool have;
		const char *why;
	} kv[] = {
		{ "minor_total", "minor", c->minor, true, NULL },
		{ "major_total", "major", c->major, true, NULL },
		{ "populated_total", "populated", c->populated, counting, no_counting },
		{ "not_charged_total", "not charged", c->not_charged, counting, no_counting },
		{ "mixed_total", "mixed", c->mixed, counting, no_counting },
		{ "retry_total", "retry", c->retry, has_retry, no_retry },
		{ "retry_returns_total", "retry returns", c->retry_returns, has_retry, no_retry },
		{ "errors_total", "errors", c->errors, has_retry, no_retry },
		{ "user_total", "user", c->user, has_entry, no_entry },
		{ "kernel_total", "kernel", c->kernel, has_entry, no_entry },
		{ "read_total", "read", c->read, has_entry, no_entry },
		{ "write_total", "write", c->write, has_entry, no_entry },
		{ "exec_total", "exec", c->exec, has_entry, no_entry },
		{ "notpresent_total", "not present", c->notpresent, has_entry, no_entry },
		{ "protection_total", "protection", c->protection, has_entry, no_entry },
	};

	ml_report_section(r, "faults", "Page faults");
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		ml_report_val(r, kv[i].key, kv[i].label, ML_UNIT_TOTAL,
			      kv[i].have ? bpf_val(kv[i].v) : ml_none(kv[i].why));
	ml_report_section_end(r);
}

static const struct ml_col hist_cols[] = {
	{ "kind", "kind", ML_UNIT_TEXT },
	{ "low_ns", "ns from", ML_UNIT_ID },
	{ "high_ns", "ns to", ML_UNIT_ID },
	{ "faults_total", "faults", ML_UNIT_TOTAL },
};

static __u64 hist_sum(const __u64 *h)
{
	__u64 s = 0;

	for (int b = 0; b < FAULTS_LAT_BUCKETS; b++)
		s += h[b];
	return s;
}

static void hist_rows(struct ml_report *r, const char *kind, const __u64 *h)
{
	for (int b = 0; b < FAULTS_LAT_BUCKETS; b++) {
		unsigned long long low = b ? 1ULL << (b - 1) : 0, high = b ? low * 2 - 1 : 0;

		if (!h[b])
			continue;
		ml_report_cell_str(r, kind);
		ml_report_cell(r, bpf_val(low));
		ml_report_cell(r, bpf_val(high));
		ml_report_cell(r, bpf_val(h[b]));
	}
}

/* The latency mode's figures: faults timed, its cost, the log2-ns histogram. */
static void emit_latency(struct ml_report *r, const struct fault_counts *c, struct ml_faults *f)
{
	struct ml_val minor, major, ns, runs;
	__u64 cns, cruns;

	if (ml_faults_mode(f) == ML_FAULTS_COUNTING) {
		minor = major = ns = runs = ml_none("needs --latency");
	} else if (!ml_faults_has_latency(f)) {
		minor = major = ns = runs = ml_none(ml_count_feat_why(
			ML_FEAT_TP_PAGE_FAULT,
			"latency is stamped at the exceptions:page_fault_* tracepoints, missing here"));
	} else {
		minor = bpf_val(hist_sum(c->lat_minor));
		major = bpf_val(hist_sum(c->lat_major));
		if (ml_faults_cost(f, &cns, &cruns) || !cruns) {
			ns = runs = ml_none("no BPF run-time statistics (bpf_enable_stats)");
		} else {
			ns = bpf_val(cns / cruns);
			runs = bpf_val(cruns);
		}
	}
	ml_report_section(r, "fault_latency", "Fault latency");
	ml_report_val(r, "timed_minor_total", "minor faults timed", ML_UNIT_TOTAL, minor);
	ml_report_val(r, "timed_major_total", "major faults timed", ML_UNIT_TOTAL, major);
	ml_report_val(r, "cost_bpf_ns_per_run", "BPF ns per program run", ML_UNIT_COUNT, ns);
	ml_report_val(r, "cost_bpf_runs_total", "BPF program runs", ML_UNIT_TOTAL, runs);
	if (ml_faults_has_latency(f)) {
		ml_report_table(r, "histogram", "Fault latency (log2 ns)", hist_cols,
				NCOLS(hist_cols), ML_SRC_BPF);
		hist_rows(r, "minor", c->lat_minor);
		hist_rows(r, "major", c->lat_major);
		ml_report_table_end(r);
	}
	ml_report_section_end(r);
}

static const struct ml_col vma_cols[] = {
	{ "start", "start", ML_UNIT_ADDR },        { "end", "end", ML_UNIT_ADDR },
	{ "minor_total", "minor", ML_UNIT_TOTAL }, { "major_total", "major", ML_UNIT_TOTAL },
	{ "name", "name", ML_UNIT_TEXT },
};

/* The per-VMA table of the text, addresses as "0x..." strings (exact in any JSON reader). */
static void emit_vma_faults(struct ml_report *r, struct ml_faults *f, pid_t pid)
{
	struct ml_vma_faults *v;
	char name[4096];
	int n, i;

	n = ml_faults_vmas(f, pid, &v);
	if (n < 0)
		return;
	n = merge_grown_vmas(v, n);
	ml_report_table(r, "vma_faults", "Faults by VMA", vma_cols, NCOLS(vma_cols), ML_SRC_BPF);
	for (i = 0; i < n; i++) {
		if (ml_maps_name(pid, v[i].start, name, sizeof(name)))
			snprintf(name, sizeof(name), "%s", v[i].name);
		ml_report_cell_addr(r, v[i].start);
		ml_report_cell_addr(r, v[i].end);
		ml_report_cell(r, bpf_val(v[i].minor));
		ml_report_cell(r, bpf_val(v[i].major));
		ml_report_cell_str(r, name);
	}
	ml_report_table_end(r);
	free(v);
}

static void report_structured(struct faults_args *a, pid_t tgid, const struct fault_counts *c)
{
	struct ml_report r;

	ml_count_report_begin(&r, "faults", &a->c, tgid);
	ml_report_str(&r, "mode", "mode", ml_faults_mode_name(a->f));
	ml_count_report_target(&r, &a->c, tgid);
	ml_report_str(&r, "attach", "attached to", ml_faults_path(a->f));
	emit_counts(&r, c, a->f);
	emit_latency(&r, c, a->f);
	/* per-VMA series are labelled by ASLR addresses: churn, unless asked for */
	if (tgid && ml_faults_has_vmas(a->f)) {
		if (a->c.format != ML_FMT_PROM || a->per_vma)
			emit_vma_faults(&r, a->f, tgid);
		else
			fputs("# per-VMA series left out (memlens faults --per-vma adds them)\n",
			      r.out);
	}
	ml_report_end(&r);
}

static int open_faults(pid_t tgid, void *ctx)
{
	struct faults_args *a = ctx;
	int err = ml_faults_open_mode(&a->f, tgid,
				      a->latency ? ML_FAULTS_LATENCY : ML_FAULTS_COUNTING);

	if (err)
		return err;
	fprintf(stderr, "memlens faults: %s\n", ml_faults_path(a->f));
	ml_bpf_print_losses(stderr, "memlens faults");
	return 0;
}

static int report_faults(pid_t tgid, void *ctx)
{
	struct ml_faults *f = ((struct faults_args *)ctx)->f;
	struct fault_counts c;
	int err = ml_faults_read(f, tgid, &c);

	if (err) {
		fprintf(stderr, "memlens faults: reading the counters: %s\n", strerror(-err));
		return ML_EXIT_ERROR;
	}
	if (((struct faults_args *)ctx)->c.format != ML_FMT_TEXT) {
		report_structured(ctx, tgid, &c);
		return 0;
	}
	ml_print_faults(&c, f);
	if (tgid && ml_faults_has_vmas(f)) {
		printf("\n");
		print_vma_faults(f, tgid);
	}
	return 0;
}

static void close_faults(void *ctx)
{
	struct faults_args *a = ctx;

	ml_faults_close(a->f);
	a->f = NULL;
}

static const struct ml_count_ops faults_ops = {
	.open = open_faults,
	.report = report_faults,
	.close = close_faults,
};

static int run_faults(int argc, char **argv)
{
	struct faults_args a = { 0 };
	int ret = ml_parse(&faults_argp, argc, argv, ARGP_IN_ORDER, &a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("faults", &a.c, argv, &faults_ops, &a);
}

const struct ml_command ml_cmd_faults = {
	.name = "faults",
	.summary = "count page faults with BPF (-p PID, -- CMD, or all)",
	.run = run_faults,
};
