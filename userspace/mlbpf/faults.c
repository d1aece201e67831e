// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of bpf/faults.bpf.c: page faults per process, per VMA, latency.
 *
 * Entry programs (tp_btf exceptions:page_fault_user/_kernel) load where
 * BTF knows the tracepoints.  For the completion it prefers
 * fexit/handle_mm_fault (exact minor/major/retry as the kernel charges
 * them), and falls back to BPF programs on the page-faults-min/-maj perf
 * software events, one per online CPU, where fexit is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "faults.skel.h"

enum completion {
	DONE_NONE,
	DONE_FEXIT,
	DONE_PERF
};

struct ml_faults {
	struct faults_bpf *skel;
	enum completion done;
	bool entry;
	int nr_links;
	struct bpf_link *links[2 * 1024];
	char path[256];
};

static int open_perf_event(__u64 config, int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = config,
		.sample_period = 1,
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Attach @prog to the @config software event on every online CPU. */
static int attach_perf(struct ml_faults *f, struct bpf_program *prog, __u64 config)
{
	int cpu, ncpu = libbpf_num_possible_cpus(), fd, attached = 0;
	struct bpf_link *link;

	for (cpu = 0; cpu < ncpu && f->nr_links < 2 * 1024; cpu++) {
		fd = open_perf_event(config, cpu);
		if (fd < 0) {
			if (errno == ENODEV) /* offline CPU */
				continue;
			return -errno;
		}
		link = bpf_program__attach_perf_event(prog, fd);
		if (!link) {
			int err = -errno;

			close(fd);
			return err;
		}
		f->links[f->nr_links++] = link;
		attached++;
	}
	return attached ? 0 : -ENODEV;
}

static void choose_programs(struct ml_faults *f)
{
	struct faults_bpf *s = f->skel;

	f->entry = ml_bpf_feat_have(ML_FEAT_TP_PAGE_FAULT);
	if (ml_bpf_feat_have(ML_FEAT_FEXIT_FAULT)) {
		f->done = DONE_FEXIT;
	} else {
		f->done = DONE_PERF;
		/* Only the perf completion looks VMAs up with bpf_find_vma(). */
		s->rodata->find_vma = ml_bpf_feat_have(ML_FEAT_FIND_VMA);
	}
	bpf_program__set_autoload(s->progs.page_fault_user, f->entry);
	bpf_program__set_autoload(s->progs.page_fault_kernel, f->entry);
	bpf_program__set_autoload(s->progs.handle_mm_fault_exit, f->done == DONE_FEXIT);
	bpf_program__set_autoload(s->progs.perf_fault_minor, f->done == DONE_PERF);
	bpf_program__set_autoload(s->progs.perf_fault_major, f->done == DONE_PERF);
}

static int attach_programs(struct ml_faults *f)
{
	struct faults_bpf *s = f->skel;
	int err = 0;

	if (f->entry) {
		s->links.page_fault_user = bpf_program__attach(s->progs.page_fault_user);
		s->links.page_fault_kernel = bpf_program__attach(s->progs.page_fault_kernel);
		if (!s->links.page_fault_user || !s->links.page_fault_kernel)
			return ml_bpf_fail_load(-errno, "attaching tp_btf/page_fault_user");
	}
	if (f->done == DONE_FEXIT) {
		s->links.handle_mm_fault_exit = bpf_program__attach(s->progs.handle_mm_fault_exit);
		if (!s->links.handle_mm_fault_exit)
			return ml_bpf_fail_load(-errno, "attaching fexit/handle_mm_fault");
	} else {
		err = attach_perf(f, s->progs.perf_fault_minor, PERF_COUNT_SW_PAGE_FAULTS_MIN);
		if (!err)
			err = attach_perf(f, s->progs.perf_fault_major,
					  PERF_COUNT_SW_PAGE_FAULTS_MAJ);
		if (err)
			return ml_bpf_fail_load(err, "perf software events page-faults-min/-maj");
	}
	return 0;
}

int ml_faults_open(struct ml_faults **out, pid_t tgid)
{
	struct ml_faults *f;
	int err;

	ml_bpf_init();
	f = calloc(1, sizeof(*f));
	if (!f)
		return ml_bpf_fail(-ENOMEM, "out of memory");
	f->skel = faults_bpf__open();
	if (!f->skel) {
		err = ml_bpf_fail_load(-errno, "opening the faults BPF object");
		free(f);
		return err;
	}
	f->skel->rodata->targ_tgid = tgid;
	choose_programs(f);
	err = faults_bpf__load(f->skel);
	if (err) {
		err = ml_bpf_fail_load(err, "loading the faults BPF programs");
		goto fail;
	}
	err = attach_programs(f);
	if (err)
		goto fail;
	snprintf(
		f->path, sizeof(f->path), "entry %s; completion %s",
		f->entry ?
			"tp_btf/page_fault_user+page_fault_kernel" :
			"none (without tp_page_fault: no read/write/exec/user/kernel/notpresent/protection counts, no latency)",
		f->done == DONE_FEXIT ?
			"fexit/handle_mm_fault" :
			"perf software events page-faults-min/-maj (without fexit_handle_mm_fault: no retry count; GUP faults not seen)");
	*out = f;
	return 0;
fail:
	ml_faults_close(f);
	return err;
}

const char *ml_faults_path(const struct ml_faults *f)
{
	return f->path;
}

bool ml_faults_has_retry(const struct ml_faults *f)
{
	return f->done == DONE_FEXIT;
}

bool ml_faults_has_entry(const struct ml_faults *f)
{
	return f->entry;
}

bool ml_faults_has_vmas(const struct ml_faults *f)
{
	return f->done == DONE_FEXIT || f->skel->rodata->find_vma;
}

static void add_counts(struct fault_counts *sum, const struct fault_counts *c)
{
	const __u64 *src = (const __u64 *)c;
	__u64 *dst = (__u64 *)sum;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(__u64); i++)
		dst[i] += src[i];
}

static int sum_tgid(int fd, __u32 tgid, struct fault_counts *sum)
{
	int i, ncpu = libbpf_num_possible_cpus();
	struct fault_counts *vals;
	int err;

	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	err = bpf_map_lookup_elem(fd, &tgid, vals);
	if (!err)
		for (i = 0; i < ncpu; i++)
			add_counts(sum, &vals[i]);
	free(vals);
	return err && errno != ENOENT ? -errno : 0;
}

int ml_faults_read(struct ml_faults *f, pid_t tgid, struct fault_counts *out)
{
	int fd = bpf_map__fd(f->skel->maps.counts), err;
	__u32 key, next;

	memset(out, 0, sizeof(*out));
	if (tgid)
		return sum_tgid(fd, tgid, out);
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
	     err = bpf_map_get_next_key(fd, &key, &next), key = next) {
		err = sum_tgid(fd, key, out);
		if (err)
			return err;
	}
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct ml_vma_faults *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

int ml_faults_vmas(struct ml_faults *f, pid_t tgid, struct ml_vma_faults **out)
{
	int fd = bpf_map__fd(f->skel->maps.vma_faults), err, n = 0;
	struct fault_vma_key key, next;
	struct fault_vma_val v;
	struct ml_vma_faults *arr;

	arr = calloc(FAULTS_MAX_VMAS, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err && n < FAULTS_MAX_VMAS;
	     err = bpf_map_get_next_key(fd, &key, &next), key = next) {
		if (key.tgid != (__u32)tgid || bpf_map_lookup_elem(fd, &key, &v))
			continue;
		arr[n].start = key.start;
		arr[n].end = key.end;
		arr[n].minor = v.minor;
		arr[n].major = v.major;
		memcpy(arr[n].name, v.name, sizeof(arr[n].name));
		arr[n].name[sizeof(arr[n].name) - 1] = '\0';
		n++;
	}
	qsort(arr, n, sizeof(*arr), by_start);
	*out = arr;
	return n;
}

struct bpf_object *ml_faults_object(const struct ml_faults *f)
{
	return f->skel->obj;
}

void ml_faults_close(struct ml_faults *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < f->nr_links; i++)
		bpf_link__destroy(f->links[i]);
	faults_bpf__destroy(f->skel);
	free(f);
}
