// SPDX-License-Identifier: GPL-2.0
/*
 * memlens swap: count swap traffic with BPF and print it as the module's
 * swap file and, for a process, pid/PID/swap.
 */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>

#include "memlens.h"
#include "cmd_bpf.h"

static const struct argp swap_argp = {
	.options = ml_count_options,
	.parser = ml_count_parse,
	.args_doc = "[-p PID | -- CMD [ARGS...]]",
	.doc = "Count swap traffic with BPF (no module needed): swap device reads "
	       "and writes (pswpin, pswpout), swap-in faults that read the device "
	       "(swapin_major) or found the page in the swap cache "
	       "(swapcache_minor), with the swap devices of /proc/swaps, as the "
	       "module's swap file.  With -p or a command, after an empty line, "
	       "that process's swapin_major and swapcache_minor (where the kernel "
	       "lets them be counted) and, with -p for a process still running at "
	       "the end, its swap_entries (page-table walk), as pid/PID/swap.  "
	       "Counters this kernel cannot give are left out and named on "
	       "stderr.\v"
	       "Examples:\n"
	       "  memlens swap -d 5\n"
	       "  memlens swap -- ./a.out\n"
	       "  memlens swap -p 1234",
};

/* /proc/swaps lines as the module prints them, then the total. */
static void print_devices(void)
{
	unsigned long total = 0, size, used;
	char line[512], name[256], type[16];
	long long free_kb = -1;
	int prio;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapFree: %lld kB", &free_kb) == 1)
			break;
	if (f)
		fclose(f);
	printf("swap_free_kb %lld\n", free_kb);
	f = fopen("/proc/swaps", "r");
	if (f && fgets(line, sizeof(line), f)) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%255s %15s %lu %lu %d", name, type, &size, &used,
				   &prio) != 5)
				continue;
			total += size;
			printf("device %s type %s size_kb %lu used_kb %lu priority %d\n", name,
			       type, size, used, prio);
		}
	}
	if (f)
		fclose(f);
	printf("swap_total_kb %lu\n", total);
}

static int open_swap(pid_t tgid, void *ctx)
{
	struct ml_tlbswap **t = ctx;
	int err = ml_tlbswap_open(t, tgid);

	if (err)
		return err;
	fprintf(stderr, "memlens swap: %s\n", ml_tlbswap_path(*t));
	ml_bpf_print_losses(stderr, "memlens swap");
	return 0;
}

static int report_swap(pid_t tgid, void *ctx)
{
	struct ml_tlbswap *t = *(struct ml_tlbswap **)ctx;
	unsigned int ev = ml_tlbswap_swap_events(t);
	struct swap_counts all, mine;
	struct ml_pagetable pt;

	/* Counters this kernel cannot give are left out, not printed as 0. */
	print_devices();
	if (!ml_swap_read(t, &all, &mine)) {
		if (ev & ML_SWAP_IN)
			printf("pswpin %llu\n", (unsigned long long)all.swapin);
		if (ev & ML_SWAP_OUT)
			printf("pswpout %llu\n", (unsigned long long)all.swapout);
		if (ev & ML_SWAP_FAULTS)
			printf("swapin_major %llu\nswapcache_minor %llu\n",
			       (unsigned long long)all.swapin_major,
			       (unsigned long long)all.swapcache_minor);
		if (tgid) {
			printf("\n");
			if (!ml_pid_alive(tgid)) {
				fprintf(stderr,
					"memlens swap: no swap_entries: process %d has exited (its page tables are gone)\n",
					tgid);
			} else if (ml_pagetable_walk(tgid, &pt)) {
				fprintf(stderr, "memlens swap: no swap_entries: %s\n",
					ml_bpf_error());
			} else {
				printf("swap_entries %llu\n",
				       (unsigned long long)pt.sum.swap_entries);
				ml_pagetable_free(&pt);
			}
			if (ev & ML_SWAP_FAULTS)
				printf("swapin_major %llu\nswapcache_minor %llu\n",
				       (unsigned long long)mine.swapin_major,
				       (unsigned long long)mine.swapcache_minor);
			else
				fprintf(stderr,
					"memlens swap: no swapin_major, swapcache_minor for process %d: no swap fault events on this kernel\n",
					tgid);
		}
	}
	return 0;
}

static const struct ml_count_ops swap_ops = {
	.open = open_swap,
	.report = report_swap,
	.close = ml_count_close_tlbswap,
};

static int run_swap(int argc, char **argv)
{
	struct ml_count_args a = { 0 };
	struct ml_tlbswap *t = NULL;
	int ret = ml_parse(&swap_argp, argc, argv, ARGP_IN_ORDER, &a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("swap", &a, argv, &swap_ops, &t);
}

const struct ml_command ml_cmd_swap = {
	.name = "swap",
	.summary = "count swap-ins, swap-outs and swap faults with BPF",
	.run = run_swap,
};
