// SPDX-License-Identifier: GPL-2.0
/*
 * memlens swap: count swap traffic with BPF and print it as the module's
 * swap file and, for a process, pid/PID/swap.
 */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlens.h"
#include "count.h"

struct swap_ctx {
	struct ml_tlbswap *t; /* first: ml_count_close_tlbswap() */
	struct ml_count_args a;
};

/* The counting options and --json/--prometheus, over one struct ml_count_args. */
static error_t parse_swap(int key, char *arg, struct argp_state *state)
{
	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = state->input;
	state->child_inputs[1] = state->input;
	return 0;
}

static const struct argp_child swap_children[] = {
	{ &ml_count_argp, 0, NULL, 0 },
	{ &ml_count_format_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp swap_argp = {
	.parser = parse_swap,
	.children = swap_children,
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
	       "  memlens swap -p 1234\n"
	       "  memlens swap --prometheus -d 10 > /var/lib/node_exporter/swap.prom",
};

/* SwapFree of /proc/meminfo and the devices of /proc/swaps, read once. */
#define SWAP_DEVS_MAX 32

struct swap_devs {
	long long free_kb; /* -1: no SwapFree line */
	unsigned long total_kb;
	int n;
	struct {
		char name[256], type[16];
		unsigned long size_kb, used_kb;
		int prio;
	} dev[SWAP_DEVS_MAX];
};

static void read_devices(struct swap_devs *d)
{
	char line[512];
	FILE *f = fopen("/proc/meminfo", "r");

	d->free_kb = -1;
	d->total_kb = 0;
	d->n = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapFree: %lld kB", &d->free_kb) == 1)
			break;
	if (f)
		fclose(f);
	f = fopen("/proc/swaps", "r");
	if (f && fgets(line, sizeof(line), f)) {
		while (d->n < SWAP_DEVS_MAX && fgets(line, sizeof(line), f)) {
			typeof(d->dev[0]) *v = &d->dev[d->n];

			if (sscanf(line, "%255s %15s %lu %lu %d", v->name, v->type, &v->size_kb,
				   &v->used_kb, &v->prio) != 5)
				continue;
			d->total_kb += v->size_kb;
			d->n++;
		}
	}
	if (f)
		fclose(f);
}

/* /proc/swaps lines as the module prints them, then the total. */
static void print_devices(void)
{
	struct swap_devs d;
	int i;

	read_devices(&d);
	printf("swap_free_kb %lld\n", d.free_kb);
	for (i = 0; i < d.n; i++)
		printf("device %s type %s size_kb %lu used_kb %lu priority %d\n", d.dev[i].name,
		       d.dev[i].type, d.dev[i].size_kb, d.dev[i].used_kb, d.dev[i].prio);
	printf("swap_total_kb %lu\n", d.total_kb);
}

static int open_swap(pid_t tgid, void *ctx)
{
	struct ml_tlbswap **t = &((struct swap_ctx *)ctx)->t;
	int err = ml_tlbswap_open(t, tgid);

	if (err)
		return err;
	fprintf(stderr, "memlens swap: %s\n", ml_tlbswap_path(*t));
	ml_bpf_print_losses(stderr, "memlens swap");
	return 0;
}

/* --- JSON and Prometheus (report.h) --- */

static const struct ml_col dev_cols[] = {
	{ "device", "device", ML_UNIT_TEXT },      { "type", "type", ML_UNIT_TEXT },
	{ "size_bytes", "size", ML_UNIT_BYTES },   { "used_bytes", "used", ML_UNIT_BYTES },
	{ "priority", "priority", ML_UNIT_COUNT },
};

/* What print_devices() prints: SwapFree, the devices of /proc/swaps, their total. */
static void emit_devices(struct ml_report *r)
{
	struct swap_devs d;
	int i;

	read_devices(&d);
	ml_report_val(r, "free_bytes", "swap free", ML_UNIT_BYTES,
		      d.free_kb < 0 ? ml_none("no SwapFree in /proc/meminfo") :
				      ml_have(d.free_kb * 1024.0, ML_SRC_PROC));
	ml_report_table(r, "devices", "Swap devices", dev_cols,
			(int)(sizeof(dev_cols) / sizeof(dev_cols[0])), ML_SRC_PROC);
	for (i = 0; i < d.n; i++) {
		ml_report_cell_str(r, d.dev[i].name);
		ml_report_cell_str(r, d.dev[i].type);
		ml_report_cell(r, ml_have(d.dev[i].size_kb * 1024.0, ML_SRC_PROC));
		ml_report_cell(r, ml_have(d.dev[i].used_kb * 1024.0, ML_SRC_PROC));
		ml_report_cell(r, ml_have(d.dev[i].prio, ML_SRC_PROC));
	}
	ml_report_table_end(r);
	ml_report_val(r, "total_bytes", "swap size", ML_UNIT_BYTES,
		      ml_have(d.total_kb * 1024.0, ML_SRC_PROC));
}

static struct ml_val swap_val(bool have, __u64 v, enum ml_bpf_feat f, const char *fallback)
{
	return have ? ml_have((double)v, ML_SRC_BPF) : ml_none(ml_count_feat_why(f, fallback));
}

static void emit_faults(struct ml_report *r, unsigned int ev, const struct swap_counts *c)
{
	ml_report_val(r, "swapin_major_total", "swap-in faults that read the device", ML_UNIT_TOTAL,
		      swap_val(ev & ML_SWAP_FAULTS, c->swapin_major, ML_FEAT_SWAP_FAULT,
			       "no swap fault events on this kernel"));
	ml_report_val(r, "swapcache_minor_total", "swap-in faults found in the swap cache",
		      ML_UNIT_TOTAL,
		      swap_val(ev & ML_SWAP_FAULTS, c->swapcache_minor, ML_FEAT_SWAP_FAULT,
			       "no swap fault events on this kernel"));
}

static void report_structured(struct swap_ctx *x, pid_t tgid)
{
	unsigned int ev = ml_tlbswap_swap_events(x->t);
	struct swap_counts all, mine;
	struct ml_pagetable pt;
	struct ml_report r;
	struct ml_val entries;
	int err = ml_swap_read(x->t, &all, &mine);
	bool read = !err;

	if (!read)
		ev = 0;
	ml_count_report_begin(&r, "swap", &x->a, tgid);
	ml_count_report_target(&r, &x->a, tgid);
	ml_report_str(&r, "attach", "attached to", ml_tlbswap_path(x->t));
	ml_report_section(&r, "swap", "Swap");
	emit_devices(&r);
	if (!read) {
		ml_report_str(&r, "counters", "counters",
			      ml_count_why("unavailable: reading them failed: %s", strerror(-err)));
	} else {
		ml_report_val(&r, "pswpin_total", "pages read from swap", ML_UNIT_TOTAL,
			      swap_val(ev & ML_SWAP_IN, all.swapin, ML_FEAT_SWAP_IN,
				       "no swap-in events on this kernel"));
		ml_report_val(&r, "pswpout_total", "pages written to swap", ML_UNIT_TOTAL,
			      swap_val(ev & ML_SWAP_OUT, all.swapout, ML_FEAT_SWAP_OUT,
				       "no swap-out events on this kernel"));
		emit_faults(&r, ev, &all);
	}
	if (tgid && read) {
		ml_report_section(&r, "process", "The process");
		if (!ml_pid_alive(tgid)) {
			entries = ml_none(ml_count_why(
				"process %d has exited (its page tables are gone)", tgid));
		} else if (ml_pagetable_walk(tgid, &pt)) {
			entries = ml_none(ml_count_why("%s", ml_bpf_error()));
		} else {
			entries = ml_have((double)pt.sum.swap_entries, ML_SRC_BPF);
			ml_pagetable_free(&pt);
		}
		ml_report_val(&r, "swap_entries", "swap entries in its page tables", ML_UNIT_COUNT,
			      entries);
		emit_faults(&r, ev, &mine);
		ml_report_section_end(&r);
	}
	ml_report_section_end(&r);
	ml_report_end(&r);
}

static int report_swap(pid_t tgid, void *ctx)
{
	struct ml_tlbswap *t = ((struct swap_ctx *)ctx)->t;
	unsigned int ev = ml_tlbswap_swap_events(t);
	struct swap_counts all, mine;
	struct ml_pagetable pt;

	if (((struct swap_ctx *)ctx)->a.format != ML_FMT_TEXT) {
		report_structured(ctx, tgid);
		return 0;
	}

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
					"memlens swap: no swapin_major, swapcache_minor for process %d: no swap fault events on this kernel: see memlens doctor\n",
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
	struct swap_ctx x = { 0 };
	int ret = ml_parse(&swap_argp, argc, argv, ARGP_IN_ORDER, &x.a);

	if (ret != ML_PARSED)
		return ret;
	return ml_count_run("swap", &x.a, argv, &swap_ops, &x);
}

const struct ml_command ml_cmd_swap = {
	.name = "swap",
	.summary = "count swap-ins, swap-outs and swap faults with BPF",
	.run = run_swap,
};
