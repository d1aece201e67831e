// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of bpf/faults.bpf.c: page faults per process, per VMA, latency.
 *
 * Counting mode (the default) loads the count_* programs: the entry
 * tracepoints, the thread exit and free tracepoints and a task iterator
 * that reads live threads.  It needs the exceptions tracepoints in BTF;
 * without them the latency mode's completion path counts instead.
 *
 * Latency mode: entry programs (tp_btf exceptions:page_fault_user/_kernel)
 * load where BTF knows the tracepoints.  For the completion it prefers
 * fexit/handle_mm_fault (exact minor/major/retry as the kernel charges
 * them), and falls back to BPF programs on the page-faults-min/-maj perf
 * software events, one per online CPU, where fexit is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
	enum ml_faults_mode mode;
	enum completion done;
	bool entry;
	pid_t tgid;
	int stats_fd; /* bpf_enable_stats() in latency mode, or -1 */
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
	bool counting;

	f->entry = ml_bpf_feat_have(ML_FEAT_TP_PAGE_FAULT);
	/* Counting needs the entry tracepoints; else the completion counts. */
	if (f->mode == ML_FAULTS_COUNTING && !f->entry)
		f->mode = ML_FAULTS_LATENCY;
	counting = f->mode == ML_FAULTS_COUNTING;
	bpf_program__set_autoload(s->progs.count_fault_user, counting);
	bpf_program__set_autoload(s->progs.count_fault_kernel, counting);
	bpf_program__set_autoload(s->progs.count_exit, counting);
	bpf_program__set_autoload(s->progs.count_free, counting);
	bpf_program__set_autoload(s->progs.count_read, counting);
	bpf_program__set_autoload(s->progs.count_seed, counting);
	if (counting) {
		f->done = DONE_NONE;
		s->rodata->find_vma = ml_bpf_feat_have(ML_FEAT_FIND_VMA);
		f->entry = false; /* the latency mode's entry programs */
	} else if (ml_bpf_feat_have(ML_FEAT_FEXIT_FAULT)) {
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

static struct timespec mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* The iterator's task parameter: the tracked process, where there is one. */
static union bpf_iter_link_info *iter_task(struct ml_faults *f, union bpf_iter_link_info *li)
{
	if (!f->tgid)
		return NULL;
	memset(li, 0, sizeof(*li));
	li->task.pid = f->tgid;
	return li;
}

/*
 * Counting mode: the threads started after attach_ns count from 0, those
 * alive now from their counters of now (count_seed, after the entry
 * programs are attached so that no thread is missed in between).
 */
static int attach_counting(struct ml_faults *f)
{
	struct faults_bpf *s = f->skel;
	union bpf_iter_link_info li;
	struct timespec ts = mono_now();
	int err;

	s->bss->attach_ns = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	s->links.count_fault_user = bpf_program__attach(s->progs.count_fault_user);
	s->links.count_fault_kernel = bpf_program__attach(s->progs.count_fault_kernel);
	if (!s->links.count_fault_user || !s->links.count_fault_kernel)
		return ml_bpf_fail_load(-errno,
					"attaching tp_btf/page_fault_user+page_fault_kernel");
	s->links.count_exit = bpf_program__attach(s->progs.count_exit);
	s->links.count_free = bpf_program__attach(s->progs.count_free);
	if (!s->links.count_exit || !s->links.count_free)
		return ml_bpf_fail_load(-errno,
					"attaching tp_btf/sched_process_exit+sched_process_free");
	err = ml_bpf_run_iter(s->progs.count_seed, iter_task(f, &li), NULL, 1, NULL);
	if (err)
		return ml_bpf_fail_load(err, "running the faults seed iterator (iter/task)");
	return 0;
}

static int attach_programs(struct ml_faults *f)
{
	struct faults_bpf *s = f->skel;
	int err = 0;

	if (f->mode == ML_FAULTS_COUNTING)
		return attach_counting(f);

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

static void describe(struct ml_faults *f)
{
	if (f->mode == ML_FAULTS_COUNTING) {
		snprintf(f->path, sizeof(f->path),
			 "counting: tp_btf/page_fault_user+page_fault_kernel, "
			 "sched_process_exit+free, iter/task (minor/major from the "
			 "threads' own counters; no latency, no retry: --latency)");
		return;
	}
	snprintf(
		f->path, sizeof(f->path), "latency: entry %s; completion %s",
		f->entry ?
			"tp_btf/page_fault_user+page_fault_kernel" :
			"none (without tp_page_fault: no read/write/exec/user/kernel/notpresent/protection counts, no latency)",
		f->done == DONE_FEXIT ?
			"fexit/handle_mm_fault" :
			"perf software events page-faults-min/-maj (without fexit_handle_mm_fault: no retry count; GUP faults not seen)");
}

int ml_faults_open(struct ml_faults **out, pid_t tgid)
{
	return ml_faults_open_mode(out, tgid, ML_FAULTS_COUNTING);
}

int ml_faults_open_mode(struct ml_faults **out, pid_t tgid, enum ml_faults_mode mode)
{
	struct ml_faults *f;
	int err;

	ml_bpf_init();
	f = calloc(1, sizeof(*f));
	if (!f)
		return ml_bpf_fail(-ENOMEM, "out of memory");
	f->mode = mode;
	f->tgid = tgid;
	f->stats_fd = -1;
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
	/* The latency mode shows what it costs: its programs' own run time. */
	if (f->mode == ML_FAULTS_LATENCY)
		f->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	describe(f);
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

enum ml_faults_mode ml_faults_mode(const struct ml_faults *f)
{
	return f->mode;
}

const char *ml_faults_mode_name(const struct ml_faults *f)
{
	return f->mode == ML_FAULTS_COUNTING ? "counting" : "latency";
}

bool ml_faults_has_retry(const struct ml_faults *f)
{
	return f->done == DONE_FEXIT;
}

bool ml_faults_has_latency(const struct ml_faults *f)
{
	return f->mode == ML_FAULTS_LATENCY && f->entry;
}

bool ml_faults_has_entry(const struct ml_faults *f)
{
	return f->entry || f->mode == ML_FAULTS_COUNTING;
}

bool ml_faults_has_vmas(const struct ml_faults *f)
{
	return f->done == DONE_FEXIT || f->skel->rodata->find_vma;
}

/* Counting mode: the fields of @t into the counters of @c. */
static void add_totals(struct fault_counts *c, const struct fault_totals *t)
{
	c->minor += t->minor;
	c->major += t->major;
	c->populated += t->populated;
	c->not_charged += t->not_charged;
	c->mixed += t->mixed;
	c->unattributed += t->unattributed;
	c->read += t->read;
	c->write += t->write;
	c->exec += t->exec;
	c->user += t->user;
	c->kernel += t->kernel;
	c->notpresent += t->notpresent;
	c->protection += t->protection;
}

struct thread_walk {
	pid_t tgid; /* 0: every process */
	struct fault_counts *counts;
	struct ml_vma_faults *vmas;
	int nr_vmas;
};

static void add_vma(struct thread_walk *w, const struct fault_vma_slot *s)
{
	int i;

	if (!s->minor && !s->major)
		return;
	for (i = 0; i < w->nr_vmas; i++)
		if (w->vmas[i].start == s->start && w->vmas[i].end == s->end)
			break;
	if (i == w->nr_vmas) {
		if (i == FAULTS_MAX_VMAS)
			return;
		memset(&w->vmas[i], 0, sizeof(w->vmas[i]));
		w->vmas[i].start = s->start;
		w->vmas[i].end = s->end;
		w->nr_vmas++;
	}
	w->vmas[i].minor += s->minor;
	w->vmas[i].major += s->major;
}

static void add_thread(const void *rec, void *ctx)
{
	const struct fault_thread *t = rec;
	struct thread_walk *w = ctx;
	int i;

	if (w->tgid && t->tgid != (__u32)w->tgid)
		return;
	if (w->counts)
		add_totals(w->counts, &t->t);
	for (i = 0; w->vmas && i < FAULTS_VMA_SLOTS; i++)
		add_vma(w, &t->slot[i]);
}

/* Counting mode: what the live threads hold beside the maps. */
static int walk_threads(struct ml_faults *f, struct thread_walk *w)
{
	union bpf_iter_link_info li;

	return ml_bpf_run_iter(f->skel->progs.count_read, iter_task(f, &li), add_thread,
			       sizeof(struct fault_thread), w);
}

static int read_counting(struct ml_faults *f, pid_t tgid, struct fault_counts *out)
{
	int fd = bpf_map__fd(f->skel->maps.totals), err;
	struct thread_walk w = { .tgid = tgid, .counts = out };
	struct fault_totals t;
	__u32 key, next;

	if (tgid) {
		key = tgid;
		if (!bpf_map_lookup_elem(fd, &key, &t))
			add_totals(out, &t);
	} else {
		for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
		     err = bpf_map_get_next_key(fd, &key, &next), key = next)
			if (!bpf_map_lookup_elem(fd, &key, &t))
				add_totals(out, &t);
	}
	return walk_threads(f, &w);
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
	if (f->mode == ML_FAULTS_COUNTING)
		return read_counting(f, tgid, out);
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
	int i;

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
	if (f->mode == ML_FAULTS_COUNTING) {
		struct thread_walk w = { .tgid = tgid, .vmas = arr, .nr_vmas = n };

		err = walk_threads(f, &w);
		if (err) {
			free(arr);
			return err;
		}
		/* Entries are made at lookup, named: drop those never counted. */
		for (i = n = 0; i < w.nr_vmas; i++)
			if (arr[i].minor || arr[i].major)
				arr[n++] = arr[i];
	}
	qsort(arr, n, sizeof(*arr), by_start);
	*out = arr;
	return n;
}

struct bpf_object *ml_faults_object(const struct ml_faults *f)
{
	return f->skel->obj;
}

int ml_faults_cost(const struct ml_faults *f, __u64 *ns, __u64 *runs)
{
	*ns = *runs = 0;
	if (f->stats_fd < 0)
		return -EOPNOTSUPP;
	ml_bpf_run_stats(f->skel->obj, ns, runs);
	return 0;
}

void ml_faults_close(struct ml_faults *f)
{
	int i;

	if (!f)
		return;
	if (f->stats_fd >= 0)
		close(f->stats_fd);
	for (i = 0; i < f->nr_links; i++)
		bpf_link__destroy(f->links[i]);
	faults_bpf__destroy(f->skel);
	free(f);
}
