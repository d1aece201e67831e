// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of bpf/kcost.bpf.c: the kernel cost of one process's memory
 * syscalls and its refaults.  Each event is taken from tp_btf where the
 * kernel's BTF has the tracepoint, else from the same tracepoint as
 * raw_tp (bpf_program__set_autoload picks one of each pair);
 * ml_kcost_path() says which.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "kcost.skel.h"

struct ml_kcost {
	struct kcost_bpf *skel;
	bool tlb;
	char path[256];
	struct ring_buffer *rb; /* --timeline */
	void (*fn)(const struct kc_event *e, void *ctx);
	void *fn_ctx;
};

/* Load @btf (tp_btf) if BTF names @tp, else @raw; returns the kind. */
static const char *pick(struct bpf_program *btf, struct bpf_program *raw, bool have_btf)
{
	bpf_program__set_autoload(btf, have_btf);
	bpf_program__set_autoload(raw, !have_btf);
	return have_btf ? "tp_btf" : "raw_tp";
}

static void kcost_choose(struct ml_kcost *k)
{
	struct kcost_bpf *s = k->skel;
	const char *sys, *flt, *tlb;
	bool tp_fault = ml_bpf_feat_have(ML_FEAT_TP_PAGE_FAULT);

	sys = pick(s->progs.sys_enter_btf, s->progs.sys_enter_raw,
		   ml_bpf_have_attach("sys_enter", BPF_TRACE_RAW_TP) &&
			   ml_bpf_have_attach("sys_exit", BPF_TRACE_RAW_TP));
	pick(s->progs.sys_exit_btf, s->progs.sys_exit_raw, !strcmp(sys, "tp_btf"));
	flt = pick(s->progs.fault_user_btf, s->progs.fault_user_raw, tp_fault);
	pick(s->progs.fault_kernel_btf, s->progs.fault_kernel_raw, tp_fault);
	k->tlb = ml_bpf_have_attach("tlb_flush", BPF_TRACE_RAW_TP);
	tlb = pick(s->progs.tlb_flush_btf, s->progs.tlb_flush_raw, k->tlb);
	snprintf(
		k->path, sizeof(k->path),
		"syscalls %s/sys_{enter,exit}; faults %s/page_fault_{user,kernel}; tlb %s/tlb_flush",
		sys, flt, tlb);
}

static int open_kcost(struct ml_kcost **out, pid_t tgid, bool timeline);

int ml_kcost_open(struct ml_kcost **out, pid_t tgid)
{
	return open_kcost(out, tgid, false);
}

int ml_kcost_open_timeline(struct ml_kcost **out, pid_t tgid)
{
	return open_kcost(out, tgid, true);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ml_kcost *k = ctx;

	if (size >= sizeof(struct kc_event) && k->fn)
		k->fn(data, k->fn_ctx);
	return 0;
}

int ml_kcost_events(struct ml_kcost *k, void (*fn)(const struct kc_event *e, void *ctx), void *ctx)
{
	int n;

	if (!k->rb)
		return -EINVAL;
	k->fn = fn;
	k->fn_ctx = ctx;
	n = ring_buffer__consume(k->rb);
	k->fn = NULL;
	return n;
}

unsigned long long ml_kcost_events_dropped(const struct ml_kcost *k)
{
	return __atomic_load_n(&k->skel->bss->tl_dropped, __ATOMIC_RELAXED);
}

static int open_kcost(struct ml_kcost **out, pid_t tgid, bool timeline)
{
	struct ml_kcost *k;
	int err;

	ml_bpf_init();
	if (tgid <= 0)
		return ml_bpf_fail(-EINVAL, "kcost counts one process: give -p PID or a command");
	if (!ml_bpf_feat_have(ML_FEAT_BPF_LOOP))
		return ml_bpf_fail(-ENOTSUP, "kcost needs bpf_loop() (Linux 5.17+): %s",
				   ml_bpf_feat_why(ML_FEAT_BPF_LOOP));
	k = calloc(1, sizeof(*k));
	if (!k)
		return ml_bpf_fail(-ENOMEM, "out of memory");
	k->skel = kcost_bpf__open();
	if (!k->skel) {
		err = ml_bpf_fail_load(-errno, "opening the kcost BPF object");
		free(k);
		return err;
	}
	k->skel->rodata->targ_tgid = tgid;
	k->skel->rodata->timeline = timeline;
	if (timeline)
		bpf_map__set_max_entries(k->skel->maps.tl_ring, KC_TL_RING_BYTES);
	kcost_choose(k);
	err = kcost_bpf__load(k->skel);
	if (err) {
		err = ml_bpf_fail_load(err, "loading the kcost BPF programs");
		goto fail;
	}
	err = kcost_bpf__attach(k->skel);
	if (err) {
		err = ml_bpf_fail_load(err, "attaching the kcost BPF programs");
		goto fail;
	}
	if (timeline) {
		k->rb = ring_buffer__new(bpf_map__fd(k->skel->maps.tl_ring), on_event, k, NULL);
		if (!k->rb) {
			err = ml_bpf_fail(-errno, "opening the kcost event ring: %s",
					  strerror(errno));
			goto fail;
		}
	}
	*out = k;
	return 0;
fail:
	ml_kcost_close(k);
	return err;
}

const char *ml_kcost_path(const struct ml_kcost *k)
{
	return k->path;
}

/* Sum the per-CPU values of entry @key of @map (@size bytes of __u64s). */
static int sum_entry(struct bpf_map *map, __u32 key, void *out, size_t size)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
	__u64 *vals, *d = out;
	size_t j, n = size / sizeof(__u64);

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, size);
	if (!vals)
		return -ENOMEM;
	memset(out, 0, size);
	err = bpf_map_lookup_elem(bpf_map__fd(map), &key, vals) ? -errno : 0;
	for (i = 0; !err && i < ncpu; i++)
		for (j = 0; j < n; j++)
			d[j] += vals[i * n + j];
	free(vals);
	return err;
}

int ml_kcost_read(struct ml_kcost *k, struct kc_call_stats *calls, struct kc_fault_stats *faults)
{
	__u32 i;
	int err;

	for (i = 0; i < KC_CALLS; i++) {
		err = sum_entry(k->skel->maps.calls, i, &calls[i], sizeof(calls[i]));
		if (err)
			return ml_bpf_fail(err, "reading the kcost counters: %s", strerror(-err));
	}
	err = sum_entry(k->skel->maps.faults, 0, faults, sizeof(*faults));
	if (err)
		return ml_bpf_fail(err, "reading the kcost counters: %s", strerror(-err));
	return 0;
}

bool ml_kcost_has_tlb(const struct ml_kcost *k)
{
	return k->tlb;
}

struct bpf_object *ml_kcost_object(const struct ml_kcost *k)
{
	return k->skel->obj;
}

void ml_kcost_close(struct ml_kcost *k)
{
	if (!k)
		return;
	ring_buffer__free(k->rb);
	kcost_bpf__destroy(k->skel);
	free(k);
}
