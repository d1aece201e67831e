// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel features memlens' BPF programs use beyond the core of BPF,
 * probed before each load, and what is lost without each.
 *
 * A loader asks ml_bpf_feat_have() before it loads a program that needs a
 * feature; the answer is probed once (BTF lookups, libbpf's helper probes,
 * trial attaches of an empty program) and cached.  A feature that a loader
 * found missing only when the kernel refused a whole object (a verifier
 * rule that changed) is reported with ml_bpf_feat_lose().  Either way the
 * loss is recorded with its reason, and the commands name it: a missing
 * feature costs the figures that depend on it, never the whole tool.
 *
 * MEMLENS_BPF_MASK=name[,name...] masks features as if the kernel had none
 * of them ("all" masks every feature), so that tests can check each loss.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common.h"

static const struct ml_bpf_feat_info feats[ML_FEAT_COUNT] = {
	[ML_FEAT_ITER_TASK_VMA] = {
		"iter_task_vma", "5.12",
		"the BPF page-table walk (pagetable, vmas, inspect --backend bpf)",
		"no BPF walk: auto falls back to /proc",
	},
	[ML_FEAT_BPF_LOOP] = {
		"bpf_loop", "5.17",
		"the BPF page-table walk's loop over entries",
		"no BPF walk: auto falls back to /proc",
	},
	[ML_FEAT_ITER_TASK_PID] = {
		"iter_task_pid", "6.1",
		"iterators bound to the target process",
		"every task's VMAs are visited and filtered in BPF (slower walks)",
	},
	[ML_FEAT_KALLSYMS_POB] = {
		"kallsyms_page_offset_base", "any (with kallsyms)",
		"the direct-map base read from page_offset_base",
		"the direct map is found by trying 1 GiB steps against a known page",
	},
	[ML_FEAT_SPECIAL_NAMES] = {
		"vma_special_names", "any",
		"names and kinds of special mappings ([vdso], [vvar]) read from the VMA in BPF",
		"their names from /proc/PID/maps, their kinds from the names",
	},
	[ML_FEAT_TP_PAGE_FAULT] = {
		"tp_page_fault", "5.5 (x86)",
		"read/write/exec, user/kernel, not-present/protection counts and fault latency",
		"only minor/major/retry counts",
	},
	[ML_FEAT_FEXIT_FAULT] = {
		"fexit_handle_mm_fault", "5.5 (where fexit is allowed)",
		"minor/major exactly as min_flt/maj_flt count them (GUP faults included) and retries",
		"minor/major from perf software events page-faults-min/-maj (no GUP faults, no retry count)",
	},
	[ML_FEAT_FIND_VMA] = {
		"bpf_find_vma", "5.17",
		"faults per VMA when minor/major come from perf software events",
		"faults counted, not attributed to VMAs",
	},
	[ML_FEAT_TP_TLB_FLUSH] = {
		"tp_tlb_flush", "4.x (x86)",
		"TLB flush counts by reason, system-wide and per process",
		"no TLB flush counts",
	},
	[ML_FEAT_SWAP_IN] = {
		"fentry_swap_in", "5.5 (where fentry is allowed)",
		"swap-in counts (zswap_folio_swapin, swap_readpage or swap_read_folio)",
		"no swap-in count",
	},
	[ML_FEAT_SWAP_OUT] = {
		"fentry_swap_writepage", "5.5 (where fentry is allowed)",
		"swap-out counts (__swap_writepage)",
		"no swap-out count",
	},
	[ML_FEAT_SWAP_FAULT] = {
		"fexit_do_swap_page", "5.5 (where fexit is allowed)",
		"swap faults: major swap-ins and minor swap-cache hits",
		"no swap fault counts",
	},
};

enum feat_state {
	FEAT_UNKNOWN,
	FEAT_HAVE,
	FEAT_LOST
};

static struct {
	enum feat_state state;
	bool used; /* consulted by a loader of this process */
	char why[256];
} st[ML_FEAT_COUNT];

const struct ml_bpf_feat_info *ml_bpf_feat_info(enum ml_bpf_feat f)
{
	return f < ML_FEAT_COUNT ? &feats[f] : NULL;
}

int ml_bpf_feat_by_name(const char *name)
{
	for (int i = 0; i < ML_FEAT_COUNT; i++)
		if (!strcmp(feats[i].name, name))
			return i;
	return -ENOENT;
}

/* Is @f named in MEMLENS_BPF_MASK ("all": every feature)? */
static bool masked(enum ml_bpf_feat f)
{
	const char *mask = getenv("MEMLENS_BPF_MASK");
	size_t n = strlen(feats[f].name);
	const char *p;

	if (!mask)
		return false;
	for (p = mask; *p; p += strcspn(p, ","), p += *p == ',') {
		size_t len = strcspn(p, ",");

		if ((len == 3 && !strncmp(p, "all", 3)) ||
		    (len == n && !strncmp(p, feats[f].name, n)))
			return true;
	}
	return false;
}

static bool helper_ok(enum bpf_func_id id, char *why, size_t len, const char *name)
{
	int ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_PERF_EVENT, id, NULL);

	if (ret == 1)
		return true;
	snprintf(why, len, "helper %s not offered by this kernel%s%s", name, ret < 0 ? ": " : "",
		 ret < 0 ? strerror(-ret) : "");
	return false;
}

/* Does vmlinux BTF have @member in struct or union @type? */
static bool btf_has_member(const char *type, const char *member)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_member *m;
	const struct btf_type *t;
	bool found = false;
	int id, i;

	if (!btf)
		return false;
	id = btf__find_by_name(btf, type);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (t && (btf_is_struct(t) || btf_is_union(t)))
		for (i = 0, m = btf_members(t); i < btf_vlen(t) && !found; i++, m++)
			found = !strcmp(btf__name_by_offset(btf, m->name_off), member);
	btf__free(btf);
	return found;
}

/* Does vmlinux BTF have the enumerator @name in enum @type? -1: no BTF. */
static int btf_has_enumerator(const char *type, const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	int id, i, found = 0;

	if (!btf)
		return -1;
	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0; t && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off), name);
	btf__free(btf);
	return found;
}

bool ml_tlb_has_wrong_cpu(char *why, size_t len)
{
	int ret = btf_has_enumerator("tlb_flush_reason", "TLB_REMOTE_WRONG_CPU");

	if (ret > 0)
		return true;
	snprintf(
		why, len, "%s",
		ret < 0 ?
			"no kernel BTF (/sys/kernel/btf/vmlinux) to look for TLB_REMOTE_WRONG_CPU" :
			"this kernel has no TLB_REMOTE_WRONG_CPU flush reason (Linux 6.14 and later)");
	return false;
}

/* The address of @sym in /proc/kallsyms (0 if absent or hidden). */
__u64 ml_kallsyms_addr(const char *sym)
{
	unsigned long long addr = 0, a;
	char line[256], type, name[128];
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &type, name) == 3 && !strcmp(name, sym)) {
			addr = a;
			break;
		}
	fclose(f);
	return addr;
}

/* Probe @f on the running kernel; false with the reason in @why. */
static bool probe(enum ml_bpf_feat f, char *why, size_t len)
{
	const char *miss = NULL;

	switch (f) {
	case ML_FEAT_ITER_TASK_VMA:
		if (!ml_bpf_have_attach("task_vma", BPF_TRACE_ITER))
			miss = "no task_vma iterator (bpf_iter_task_vma) in the kernel's BTF";
		break;
	case ML_FEAT_BPF_LOOP:
		return helper_ok(BPF_FUNC_loop, why, len, "bpf_loop");
	case ML_FEAT_FIND_VMA:
		return helper_ok(BPF_FUNC_find_vma, why, len, "bpf_find_vma");
	case ML_FEAT_ITER_TASK_PID:
		if (!btf_has_member("bpf_iter_link_info", "task"))
			miss = "the kernel's bpf_iter_link_info has no task member";
		break;
	case ML_FEAT_KALLSYMS_POB:
		if (!ml_kallsyms_addr("page_offset_base"))
			miss = "page_offset_base is not in /proc/kallsyms (or its addresses are hidden)";
		break;
	case ML_FEAT_TP_PAGE_FAULT:
		if (!ml_bpf_have_attach("page_fault_user", BPF_TRACE_RAW_TP) ||
		    !ml_bpf_have_attach("page_fault_kernel", BPF_TRACE_RAW_TP))
			miss = "no exceptions:page_fault_user/_kernel tracepoints in the kernel's BTF";
		break;
	case ML_FEAT_FEXIT_FAULT:
		if (!ml_bpf_can_trace("handle_mm_fault", BPF_TRACE_FEXIT))
			miss = "the kernel refused an fexit program on handle_mm_fault";
		break;
	case ML_FEAT_TP_TLB_FLUSH:
		if (!ml_bpf_have_attach("tlb_flush", BPF_TRACE_RAW_TP))
			miss = "no tlb:tlb_flush tracepoint in the kernel's BTF";
		break;
	case ML_FEAT_SWAP_OUT:
		if (!ml_bpf_can_trace("__swap_writepage", BPF_TRACE_FENTRY))
			miss = "the kernel refused an fentry program on __swap_writepage";
		break;
	case ML_FEAT_SWAP_FAULT:
		if (!ml_bpf_can_trace("do_swap_page", BPF_TRACE_FEXIT))
			miss = "the kernel refused an fexit program on do_swap_page";
		break;
	case ML_FEAT_SPECIAL_NAMES: /* known only from a trial load */
	case ML_FEAT_SWAP_IN:       /* probed by the loader: one of three */
	case ML_FEAT_COUNT:
		break;
	}
	if (miss)
		snprintf(why, len, "%s", miss);
	return !miss;
}

bool ml_bpf_feat_have(enum ml_bpf_feat f)
{
	if (f >= ML_FEAT_COUNT)
		return false;
	st[f].used = true;
	if (st[f].state == FEAT_UNKNOWN) {
		if (masked(f)) {
			snprintf(st[f].why, sizeof(st[f].why), "masked by MEMLENS_BPF_MASK");
			st[f].state = FEAT_LOST;
		} else {
			st[f].state = probe(f, st[f].why, sizeof(st[f].why)) ? FEAT_HAVE :
									       FEAT_LOST;
		}
	}
	return st[f].state == FEAT_HAVE;
}

void ml_bpf_feat_lose(enum ml_bpf_feat f, const char *fmt, ...)
{
	va_list ap;

	if (f >= ML_FEAT_COUNT)
		return;
	st[f].used = true;
	st[f].state = FEAT_LOST;
	va_start(ap, fmt);
	vsnprintf(st[f].why, sizeof(st[f].why), fmt, ap);
	va_end(ap);
}

const char *ml_bpf_feat_why(enum ml_bpf_feat f)
{
	if (f >= ML_FEAT_COUNT || st[f].state != FEAT_LOST)
		return NULL;
	return st[f].why;
}

bool ml_bpf_feat_used(enum ml_bpf_feat f)
{
	return f < ML_FEAT_COUNT && st[f].used;
}

void ml_bpf_feat_forget(void)
{
	memset(st, 0, sizeof(st));
}

int ml_bpf_losses(enum ml_bpf_feat *out, int max)
{
	int n = 0;

	for (int i = 0; i < ML_FEAT_COUNT; i++)
		if (st[i].used && st[i].state == FEAT_LOST && n < max)
			out[n++] = i;
	return n;
}

void ml_bpf_print_losses(FILE *f, const char *cmd)
{
	enum ml_bpf_feat lost[ML_FEAT_COUNT];
	int n = ml_bpf_losses(lost, ML_FEAT_COUNT);

	for (int i = 0; i < n; i++)
		fprintf(f, "%s: without %s (%s): %s lost; %s\n", cmd, feats[lost[i]].name,
			st[lost[i]].why, feats[lost[i]].gives, feats[lost[i]].without);
}
