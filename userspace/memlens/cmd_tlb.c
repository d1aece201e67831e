// SPDX-License-Identifier: GPL-2.0
/*
 * memlens tlb: count TLB flushes with BPF and print them as the module's
 * tlb file (totals, then per CPU) and, for a process, pid/PID/tlb.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "memlens.h"
#include "cmd_bpf.h"

static const char *const reasons[] = {
	"task_switch",        "remote_shootdown", "local_shootdown",
	"local_mm_shootdown", "remote_send_ipi",  "remote_wrong_cpu",
};

static const struct argp tlb_argp = {
	.options = ml_count_options,
	.parser = ml_count_parse,
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
	       "  memlens tlb -p 1234 -d 5",
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
	struct ml_tlbswap **t = ctx;
	int err = ml_tlbswap_open(t, tgid);

	if (err)
		return err;
	fprintf(stderr, "memlens tlb: %s\n", ml_tlbswap_path(*t));
	ml_bpf_print_losses(stderr, "memlens tlb");
	if (!ml_tlbswap_has_tlb(*t)) {
		fprintf(stderr,
			"memlens tlb: no TLB flush events on this kernel (tlb:tlb_flush)\n");
		ml_tlbswap_close(*t);
		*t = NULL;
		return -ENOENT;
	}
	return 0;
}

static int report_tlb(pid_t tgid, void *ctx)
{
	struct ml_tlbswap *t = *(struct ml_tlbswap **)ctx;
	struct tlb_counts all, *percpu;
	struct ml_pagetable pt;
	char prefix[32];
	int n = 0, cpu;

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
	struct ml_count_args a = { 0 };
	struct ml_tlbswap *t = NULL;
	int ret = ml_parse(&tlb_argp, argc, argv, ARGP_IN_ORDER, &a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("tlb", &a, argv, &tlb_ops, &t);
}

const struct ml_command ml_cmd_tlb = {
	.name = "tlb",
	.summary = "count TLB flushes by reason and CPU with BPF",
	.run = run_tlb,
};
