// SPDX-License-Identifier: GPL-2.0
/*
 * memlens pagetable PID / memlens vmas PID (or --comm NAME, --cgroup PATH:
 * the one process they name): a process's page tables and VMAs walked from BPF, printed as the module's pid/PID/pagetable and
 * pid/PID/vmas files, or with --json / --prometheus through report.h.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "memlens.h"
#include "count.h"
#include "target.h"

struct walk_args {
	const char *pid_arg; /* the PID operand, or NULL with --comm/--cgroup */
	pid_t pid;
	bool verbose, per_vma;
	enum ml_format format;
	struct ml_target_opts target;
};

enum {
	OPT_PER_VMA = 0x3100
};

static const struct argp_option walk_options[] = {
	{ "verbose", 'v', NULL, 0, "Say how the direct map was found; show libbpf's messages", 0 },
	{ 0 }
};

static const struct argp_option vmas_options[] = {
	{ "verbose", 'v', NULL, 0, "Say how the direct map was found; show libbpf's messages", 0 },
	{ "per-vma", OPT_PER_VMA, NULL, 0,
	  "--prometheus: also the per-VMA series (labelled by address: one series per VMA and run)",
	  0 },
	{ 0 }
};

static const struct argp_child walk_children[] = { { &ml_format_argp, 0, NULL, 0 },
						   { &ml_target_argp, 0, "Target:", 0 },
						   { 0 } };

static error_t parse_walk(int key, char *arg, struct argp_state *state)
{
	struct walk_args *a = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->format;
		state->child_inputs[1] = &a->target;
		return 0;
	case OPT_PER_VMA:
		a->per_vma = true;
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	case ARGP_KEY_ARG:
	case ARGP_KEY_END:
		return ml_parse_target_pid(state, key, arg, &a->pid_arg, &a->target);
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp pagetable_argp = {
	.options = walk_options,
	.parser = parse_walk,
	.args_doc = "PID",
	.doc = "Walk the user page tables of process PID from BPF (no module "
	       "needed) and print the summary as the module's pid/PID/pagetable "
	       "file: page-table pages per level, leaf mappings per size, "
	       "resident bytes, swap, migration and other non-present entries, "
	       "dirty/young/writable leaves, VMAs.  --json and --prometheus give "
	       "the same figures (docs/inspector.md).\v"
	       "Examples:\n"
	       "  memlens pagetable $$\n"
	       "  memlens pagetable -v 1234\n"
	       "  memlens pagetable --comm postgres\n"
	       "  memlens pagetable --json 1234 | jq .pagetable.table_bytes.value",
	.children = walk_children,
};

static const struct argp vmas_argp = {
	.options = vmas_options,
	.parser = parse_walk,
	.args_doc = "PID",
	.doc = "List the VMAs of process PID from BPF's task_vma iterator, with "
	       "what the page-table walk found in each, as the module's "
	       "pid/PID/vmas file: start end perms kind resident_kb thp_kb "
	       "swap_kb pte_tables name.  --json gives the table and the totals; "
	       "--prometheus the totals, and the per-VMA series with --per-vma.\v"
	       "Examples:\n"
	       "  memlens vmas $$\n"
	       "  memlens vmas 1234 | sort -k5 -n\n"
	       "  memlens vmas --cgroup system.slice/nginx.service\n"
	       "  memlens vmas --prometheus --per-vma 1234",
	.children = walk_children,
};

/* One figure of the summary: its key, its label in reports, its unit. */
struct summary_kv {
	const char *key, *label;
	enum ml_unit unit;
	__u64 v;
};

#define SUMMARY_KEYS 22

/*
 * The keys and order of the module's pid/PID/pagetable (module/pagetable.c),
 * for the text and for --json/--prometheus; the last, unreadable_tables,
 * is the BPF walk's own and only in the reports.
 */
static void summary_kvs(const struct ml_pagetable *pt, struct summary_kv kv[SUMMARY_KEYS])
{
	const struct pgwalk_summary *s = &pt->sum;
	__u64 tables =
		s->tables_pgd + s->tables_p4d + s->tables_pud + s->tables_pmd + s->tables_pte;
	const struct summary_kv all[SUMMARY_KEYS] = {
		{ "tables_pgd", "PGD tables", ML_UNIT_COUNT, s->tables_pgd },
		{ "tables_p4d", "P4D tables", ML_UNIT_COUNT, s->tables_p4d },
		{ "tables_pud", "PUD tables", ML_UNIT_COUNT, s->tables_pud },
		{ "tables_pmd", "PMD tables", ML_UNIT_COUNT, s->tables_pmd },
		{ "tables_pte", "PTE tables", ML_UNIT_COUNT, s->tables_pte },
		{ "tables_pte_deposited", "PTE tables deposited for THPs", ML_UNIT_COUNT,
		  s->tables_pte_deposited },
		{ "table_bytes", "page-table bytes", ML_UNIT_BYTES, tables * 4096 },
		{ "leaf_4k", "4 KiB leaves", ML_UNIT_COUNT, s->leaf_4k },
		{ "leaf_2m", "2 MiB leaves", ML_UNIT_COUNT, s->leaf_2m },
		{ "leaf_1g", "1 GiB leaves", ML_UNIT_COUNT, s->leaf_1g },
		{ "resident_bytes", "resident", ML_UNIT_BYTES, s->resident_bytes },
		{ "anon_thp_bytes", "anonymous THP", ML_UNIT_BYTES, s->anon_thp_bytes },
		{ "hugetlb_bytes", "hugetlb", ML_UNIT_BYTES, s->hugetlb_bytes },
		{ "swap_entries", "swap entries", ML_UNIT_COUNT, s->swap_entries },
		{ "migration_entries", "migration entries", ML_UNIT_COUNT, s->migration_entries },
		{ "other_nonpresent", "other non-present entries", ML_UNIT_COUNT,
		  s->other_nonpresent },
		{ "present_dirty", "dirty leaves", ML_UNIT_COUNT, s->present_dirty },
		{ "present_young", "young leaves", ML_UNIT_COUNT, s->present_young },
		{ "present_writable", "writable leaves", ML_UNIT_COUNT, s->present_writable },
		{ "vmas", "VMAs", ML_UNIT_COUNT, s->vmas },
		{ "paging_levels", "paging levels", ML_UNIT_COUNT, pt->levels },
		{ "unreadable_tables", "tables the walk could not read", ML_UNIT_COUNT,
		  s->read_errors },
	};

	memcpy(kv, all, sizeof(all));
}

static void print_summary(const struct ml_pagetable *pt)
{
	struct summary_kv kv[SUMMARY_KEYS];
	size_t i;

	summary_kvs(pt, kv);
	for (i = 0; i < SUMMARY_KEYS - 1; i++)
		printf("%s %llu\n", kv[i].key, (unsigned long long)kv[i].v);
}

static void print_vmas(const struct ml_pagetable *pt)
{
	__u64 i;

	printf("start end perms kind resident_kb thp_kb swap_kb pte_tables name\n");
	for (i = 0; i < pt->sum.vmas; i++) {
		const struct ml_vma_info *v = &pt->vmas[i];

		printf("%08llx %08llx %s %s %llu %llu %llu %llu%s%s\n",
		       (unsigned long long)v->start, (unsigned long long)v->end, v->perms, v->kind,
		       (unsigned long long)v->resident_kb, (unsigned long long)v->thp_kb,
		       (unsigned long long)v->swap_kb, (unsigned long long)v->pte_tables,
		       v->name[0] ? " " : "", v->name);
	}
}

static struct ml_val bpf_count(__u64 v)
{
	return ml_have((double)v, ML_SRC_BPF);
}

/* The report's header, a pid label and the target section (as faults, tlb, swap). */
static void begin_structured(struct ml_report *r, const char *cmd, const struct walk_args *a)
{
	struct ml_count_args c = { .pid = a->pid, .format = a->format };

	ml_count_report_begin(r, cmd, &c, a->pid);
	ml_count_report_target(r, &c, a->pid);
}

/* pagetable --json/--prometheus: the text's keys, in its order; kB are bytes. */
static void report_summary(const struct walk_args *a, const struct ml_pagetable *pt)
{
	struct summary_kv kv[SUMMARY_KEYS];
	struct ml_report r;
	size_t i;

	summary_kvs(pt, kv);
	begin_structured(&r, "pagetable", a);
	ml_report_section(&r, "pagetable", NULL);
	for (i = 0; i < SUMMARY_KEYS; i++)
		ml_report_val(&r, kv[i].key, kv[i].label, kv[i].unit, bpf_count(kv[i].v));
	ml_report_section_end(&r);
	ml_report_end(&r);
}

static const struct ml_col vma_cols[] = {
	{ "start", "start", ML_UNIT_ADDR },
	{ "end", "end", ML_UNIT_ADDR },
	{ "perms", "perms", ML_UNIT_TEXT },
	{ "kind", "kind", ML_UNIT_TEXT },
	{ "resident_bytes", "resident", ML_UNIT_BYTES },
	{ "thp_bytes", "THP", ML_UNIT_BYTES },
	{ "swap_bytes", "swap", ML_UNIT_BYTES },
	{ "pte_tables", "PTE tables", ML_UNIT_COUNT },
	{ "name", "name", ML_UNIT_TEXT },
};

/*
 * vmas --json/--prometheus: the totals over the rows (what pmap -x's total
 * line gives), then the table (JSON always, Prometheus with --per-vma:
 * its labels are ASLR addresses, one new series per VMA and run).
 */
static void report_vmas(const struct walk_args *a, const struct ml_pagetable *pt)
{
	__u64 i, res = 0, thp = 0, swap = 0, pte = 0;
	struct ml_report r;

	for (i = 0; i < pt->sum.vmas; i++) {
		res += pt->vmas[i].resident_kb;
		thp += pt->vmas[i].thp_kb;
		swap += pt->vmas[i].swap_kb;
		pte += pt->vmas[i].pte_tables;
	}
	begin_structured(&r, "vmas", a);
	ml_report_section(&r, "vma_totals", NULL);
	ml_report_val(&r, "vmas", "VMAs", ML_UNIT_COUNT, bpf_count(pt->sum.vmas));
	ml_report_val(&r, "resident_bytes", "resident", ML_UNIT_BYTES, bpf_count(res * 1024));
	ml_report_val(&r, "thp_bytes", "THP", ML_UNIT_BYTES, bpf_count(thp * 1024));
	ml_report_val(&r, "swap_bytes", "swap", ML_UNIT_BYTES, bpf_count(swap * 1024));
	ml_report_val(&r, "pte_tables", "PTE tables", ML_UNIT_COUNT, bpf_count(pte));
	ml_report_section_end(&r);
	if (a->format == ML_FMT_PROM && !a->per_vma) {
		fputs("# per-VMA series left out (memlens vmas --per-vma adds them)\n", r.out);
		ml_report_end(&r);
		return;
	}
	ml_report_table(&r, "vmas", "VMAs", vma_cols, sizeof(vma_cols) / sizeof(vma_cols[0]),
			ML_SRC_BPF);
	for (i = 0; i < pt->sum.vmas; i++) {
		const struct ml_vma_info *v = &pt->vmas[i];

		ml_report_cell_addr(&r, v->start);
		ml_report_cell_addr(&r, v->end);
		ml_report_cell_str(&r, v->perms);
		ml_report_cell_str(&r, v->kind);
		ml_report_cell(&r, bpf_count(v->resident_kb * 1024));
		ml_report_cell(&r, bpf_count(v->thp_kb * 1024));
		ml_report_cell(&r, bpf_count(v->swap_kb * 1024));
		ml_report_cell(&r, bpf_count(v->pte_tables));
		ml_report_cell_str(&r, v->name);
	}
	ml_report_table_end(&r);
	ml_report_end(&r);
}

static int run_walk(int argc, char **argv, const struct argp *argp, const char *cmd, bool vmas)
{
	struct walk_args a = { 0 };
	struct ml_pagetable pt;
	char who[32];
	int ret;

	ret = ml_parse(argp, argc, argv, 0, &a);
	if (ret != ML_PARSED)
		return ret;
	ml_bpf_set_verbose(a.verbose);
	if (ml_target_given(&a.target)) {
		/* exactly one process: none is exit 3, several exit 2 (their PIDs listed) */
		ret = ml_target_one(cmd, a.target.comm, a.target.cgroup, &a.pid);
		if (ret) {
			ml_report_failure(stdout, a.format, cmd, 0, ret,
					  "the target was refused (see stderr)");
			return ret;
		}
	} else if (ml_pid_parse(a.pid_arg, &a.pid)) {
		fprintf(stderr, "memlens %s: '%s' is not a PID\n", cmd, a.pid_arg);
		return ML_EXIT_USAGE;
	}
	ret = ml_target_check(cmd, &a.pid);
	if (ret) {
		ml_report_failure(stdout, a.format, cmd, a.pid, ret,
				  "the target was refused (see stderr)");
		return ret;
	}
	ret = ml_pagetable_walk(a.pid, &pt);
	if (ret) {
		fprintf(stderr, "memlens %s: %s\n", cmd, ml_bpf_error());
		ml_report_failure(stdout, a.format, cmd, a.pid, ml_bpf_exit_code(ret),
				  ml_bpf_error());
		return ml_bpf_exit_code(ret);
	}
	snprintf(who, sizeof(who), "memlens %s", cmd);
	ml_bpf_print_losses(stderr, who);
	if (a.verbose)
		fprintf(stderr,
			"memlens %s: %d-level paging; direct map %s; %llu unreadable tables\n", cmd,
			pt.levels, ml_pagetable_method(), (unsigned long long)pt.sum.read_errors);
	if (!pt.sum.vmas) {
		/* Checked above: it exited (or became a zombie) meanwhile. */
		ml_pagetable_free(&pt);
		ret = ml_target_check(cmd, &a.pid);
		if (!ret)
			fprintf(stderr, "memlens %s: process %d has no VMAs\n", cmd, a.pid);
		ret = ret ? ret : ML_EXIT_ERROR;
		ml_report_failure(stdout, a.format, cmd, a.pid, ret, "the process has no VMAs");
		return ret;
	}
	if (a.format != ML_FMT_TEXT && vmas)
		report_vmas(&a, &pt);
	else if (a.format != ML_FMT_TEXT)
		report_summary(&a, &pt);
	else if (vmas)
		print_vmas(&pt);
	else
		print_summary(&pt);
	ml_pagetable_free(&pt);
	return ML_EXIT_OK;
}

static int run_pagetable(int argc, char **argv)
{
	return run_walk(argc, argv, &pagetable_argp, "pagetable", false);
}

static int run_vmas(int argc, char **argv)
{
	return run_walk(argc, argv, &vmas_argp, "vmas", true);
}

const struct ml_command ml_cmd_pagetable = {
	.name = "pagetable",
	.summary = "a process's page-table summary, walked from BPF",
	.run = run_pagetable,
};

const struct ml_command ml_cmd_vmas = {
	.name = "vmas",
	.summary = "a process's VMAs with resident/THP/swap/PTE tables, BPF",
	.run = run_vmas,
};
