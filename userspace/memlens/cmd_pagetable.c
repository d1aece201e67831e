// SPDX-License-Identifier: GPL-2.0
/*
 * memlens pagetable PID / memlens vmas PID: a process's page tables and
 * VMAs walked from BPF, printed as the module's pid/PID/pagetable and
 * pid/PID/vmas files.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "memlens.h"
#include "cmd_bpf.h"
#include "target.h"

struct walk_args {
	pid_t pid;
	bool verbose;
};

static const struct argp_option walk_options[] = {
	{ "verbose", 'v', NULL, 0, "Say how the direct map was found; show libbpf's messages", 0 },
	{ 0 }
};

static error_t parse_walk(int key, char *arg, struct argp_state *state)
{
	struct walk_args *a = state->input;

	switch (key) {
	case 'v':
		a->verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		if (a->pid) {
			argp_error(state, "one PID only");
			return EINVAL;
		}
		if (ml_pid_parse(arg, &a->pid)) {
			argp_error(state, "invalid PID '%s'", arg);
			return EINVAL;
		}
		return 0;
	case ARGP_KEY_END:
		if (!a->pid) {
			argp_error(state, "no PID given");
			return EINVAL;
		}
		return 0;
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
	       "dirty/young/writable leaves, VMAs.\v"
	       "Examples:\n"
	       "  memlens pagetable $$\n"
	       "  memlens pagetable -v 1234",
};

static const struct argp vmas_argp = {
	.options = walk_options,
	.parser = parse_walk,
	.args_doc = "PID",
	.doc = "List the VMAs of process PID from BPF's task_vma iterator, with "
	       "what the page-table walk found in each, as the module's "
	       "pid/PID/vmas file: start end perms kind resident_kb thp_kb "
	       "swap_kb pte_tables name.\v"
	       "Examples:\n"
	       "  memlens vmas $$\n"
	       "  memlens vmas 1234 | sort -k5 -n",
};

/* The keys and order of the module's pid/PID/pagetable (module/pagetable.c). */
static void print_summary(const struct ml_pagetable *pt)
{
	const struct pgwalk_summary *s = &pt->sum;
	__u64 tables =
		s->tables_pgd + s->tables_p4d + s->tables_pud + s->tables_pmd + s->tables_pte;
	const struct {
		const char *key;
		__u64 v;
	} kv[] = {
		{ "tables_pgd", s->tables_pgd },
		{ "tables_p4d", s->tables_p4d },
		{ "tables_pud", s->tables_pud },
		{ "tables_pmd", s->tables_pmd },
		{ "tables_pte", s->tables_pte },
		{ "tables_pte_deposited", s->tables_pte_deposited },
		{ "table_bytes", tables * 4096 },
		{ "leaf_4k", s->leaf_4k },
		{ "leaf_2m", s->leaf_2m },
		{ "leaf_1g", s->leaf_1g },
		{ "resident_bytes", s->resident_bytes },
		{ "anon_thp_bytes", s->anon_thp_bytes },
		{ "hugetlb_bytes", s->hugetlb_bytes },
		{ "swap_entries", s->swap_entries },
		{ "migration_entries", s->migration_entries },
		{ "other_nonpresent", s->other_nonpresent },
		{ "present_dirty", s->present_dirty },
		{ "present_young", s->present_young },
		{ "present_writable", s->present_writable },
		{ "vmas", s->vmas },
		{ "paging_levels", pt->levels },
	};
	size_t i;

	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
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
	ret = ml_target_check(cmd, &a.pid);
	if (ret)
		return ret;
	ret = ml_pagetable_walk(a.pid, &pt);
	if (ret) {
		fprintf(stderr, "memlens %s: %s\n", cmd, ml_bpf_error());
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
		return ret ? ret : ML_EXIT_ERROR;
	}
	if (vmas)
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
