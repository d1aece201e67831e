// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of bpf/tlbswap.bpf.c: TLB flushes (tp_btf tlb_flush) and swap
 * traffic (fentry/fexit on the swap functions this kernel has).  Each
 * program loads only if its attach point exists and accepts it; the
 * others still run, and ml_tlbswap_path() names what is missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "tlbswap.skel.h"

struct ml_tlbswap {
	struct tlbswap_bpf *skel;
	bool tlb, swap_read, swap_write, swap_fault;
	const char *read_fn;
	char path[512];
};

/* Swap-in points, preferred first: see tlbswap.bpf.c. */
static const char *const read_fns[] = {
	"zswap_folio_swapin",
	"swap_readpage",
	"swap_read_folio",
};

static struct bpf_program *read_prog(struct tlbswap_bpf *s, int i)
{
	struct bpf_program *p[] = {
		s->progs.swap_read_zswap,
		s->progs.swap_read_page,
		s->progs.swap_read_folio,
	};

	return p[i];
}

static void tlbswap_choose(struct ml_tlbswap *t)
{
	struct tlbswap_bpf *s = t->skel;
	int i;

	bool swap_in = ml_bpf_feat_have(ML_FEAT_SWAP_IN); /* masked? */

	t->tlb = ml_bpf_feat_have(ML_FEAT_TP_TLB_FLUSH);
	for (i = 0; i < 3; i++) {
		bool use = swap_in && !t->read_fn &&
			   ml_bpf_can_trace(read_fns[i], BPF_TRACE_FENTRY);

		if (use)
			t->read_fn = read_fns[i];
		bpf_program__set_autoload(read_prog(s, i), use);
	}
	if (swap_in && !t->read_fn)
		ml_bpf_feat_lose(
			ML_FEAT_SWAP_IN,
			"the kernel refused fentry on zswap_folio_swapin, swap_readpage and swap_read_folio");
	t->swap_read = t->read_fn;
	t->swap_write = ml_bpf_feat_have(ML_FEAT_SWAP_OUT);
	t->swap_fault = ml_bpf_feat_have(ML_FEAT_SWAP_FAULT);
	bpf_program__set_autoload(s->progs.tlb_flush, t->tlb);
	bpf_program__set_autoload(s->progs.swap_write, t->swap_write);
	bpf_program__set_autoload(s->progs.do_swap_page_exit, t->swap_fault);
	snprintf(t->path, sizeof(t->path), "tlb %s; swap-in %s%s; swap-out %s; swap faults %s",
		 t->tlb ? "tp_btf/tlb_flush" : "unavailable (no tlb:tlb_flush tracepoint in BTF)",
		 t->read_fn ? "fentry/" : "unavailable (fentry refused or no ",
		 t->read_fn ? t->read_fn : "zswap_folio_swapin/swap_readpage/swap_read_folio)",
		 t->swap_write ? "fentry/__swap_writepage" :
				 "unavailable (fentry/__swap_writepage refused)",
		 t->swap_fault ? "fexit/do_swap_page" : "unavailable (fexit/do_swap_page refused)");
}

int ml_tlbswap_open(struct ml_tlbswap **out, pid_t tgid)
{
	struct ml_tlbswap *t;
	__u32 max_type, mig;
	int err;

	ml_bpf_init();
	t = calloc(1, sizeof(*t));
	if (!t)
		return ml_bpf_fail(-ENOMEM, "out of memory");
	t->skel = tlbswap_bpf__open();
	if (!t->skel) {
		err = ml_bpf_fail_load(-errno, "opening the tlbswap BPF object");
		free(t);
		return err;
	}
	ml_swap_layout(&max_type, &mig);
	t->skel->rodata->targ_tgid = tgid;
	t->skel->rodata->swp_max_type = max_type;
	tlbswap_choose(t);
	if (!t->tlb && !t->swap_read && !t->swap_write && !t->swap_fault) {
		err = ml_bpf_privileged() ?
			      ml_bpf_fail(-ENOTSUP, "no attach point for TLB or swap events: %s",
					  t->path) :
			      ml_bpf_fail_load(-EPERM, "tlbswap");
		goto fail;
	}
	err = tlbswap_bpf__load(t->skel);
	if (err) {
		err = ml_bpf_fail_load(err, "loading the tlbswap BPF programs");
		goto fail;
	}
	err = tlbswap_bpf__attach(t->skel);
	if (err) {
		err = ml_bpf_fail_load(err, "attaching the tlbswap BPF programs");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	ml_tlbswap_close(t);
	return err;
}

const char *ml_tlbswap_path(const struct ml_tlbswap *t)
{
	return t->path;
}

bool ml_tlbswap_has_tlb(const struct ml_tlbswap *t)
{
	return t->tlb;
}

unsigned int ml_tlbswap_swap_events(const struct ml_tlbswap *t)
{
	return (t->swap_read ? ML_SWAP_IN : 0) | (t->swap_write ? ML_SWAP_OUT : 0) |
	       (t->swap_fault ? ML_SWAP_FAULTS : 0);
}

static void add_u64s(void *sum, const void *v, size_t size)
{
	const __u64 *s = v;
	__u64 *d = sum;
	size_t i;

	for (i = 0; i < size / sizeof(__u64); i++)
		d[i] += s[i];
}

static int sum_map(struct bpf_map *map, void *out, size_t size, void *percpu, int *nr_cpus)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
	char *vals = calloc(ncpu, size);
	__u32 zero = 0;

	if (!vals)
		return -ENOMEM;
	memset(out, 0, size);
	err = bpf_map_lookup_elem(bpf_map__fd(map), &zero, vals) ? -errno : 0;
	if (!err) {
		for (i = 0; i < ncpu; i++)
			add_u64s(out, vals + i * size, size);
		if (percpu)
			memcpy(percpu, vals, ncpu * size);
		if (nr_cpus)
			*nr_cpus = ncpu;
	}
	free(vals);
	return err;
}

int ml_tlb_read(struct ml_tlbswap *t, struct tlb_counts *all, struct tlb_counts *percpu,
		int *nr_cpus)
{
	return sum_map(t->skel->maps.tlb_all, all, sizeof(*all), percpu, nr_cpus);
}

int ml_tlb_read_tgid(struct ml_tlbswap *t, struct tlb_counts *out)
{
	return sum_map(t->skel->maps.tlb_tgid, out, sizeof(*out), NULL, NULL);
}

int ml_swap_read(struct ml_tlbswap *t, struct swap_counts *all, struct swap_counts *tgid)
{
	int err = sum_map(t->skel->maps.swap_all, all, sizeof(*all), NULL, NULL);

	if (!err && tgid)
		err = sum_map(t->skel->maps.swap_tgid, tgid, sizeof(*tgid), NULL, NULL);
	return err;
}

void ml_tlbswap_close(struct ml_tlbswap *t)
{
	if (!t)
		return;
	tlbswap_bpf__destroy(t->skel);
	free(t);
}
