// SPDX-License-Identifier: GPL-2.0
/*
 * Loader of bpf/pgwalk.bpf.c: the VMAs and page tables of one process.
 *
 * Before a walk it tells the program what BPF cannot find out by itself:
 * the paging depth (4 or 5 levels, from whether the kernel hands out
 * addresses above 47 bits), the swap-type layout of this kernel, the end
 * of physical memory, and the direct-map base (see probe_direct_map() in
 * the BPF program; the result is cached for the life of this process).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "pgwalk.skel.h"

static __u64 direct_map_base;
static const char *direct_map_method = "not probed";

const char *ml_pagetable_method(void)
{
	return direct_map_method;
}

/* 5-level paging: can a page be mapped above the 47-bit boundary? */
static int paging_levels(void)
{
	void *hint = (void *)(1UL << 48), *p;

	p = mmap(hint, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 4;
	munmap(p, 4096);
	return p == hint ? 5 : 4;
}

/* End of the highest "System RAM" range in /proc/iomem (root sees it). */
static __u64 phys_end(void)
{
	unsigned long long lo, hi, best = 0;
	char line[256];
	FILE *f = fopen("/proc/iomem", "r");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "System RAM") &&
			    sscanf(line, " %llx-%llx", &lo, &hi) == 2 && hi + 1 > best)
				best = hi + 1;
		fclose(f);
	}
	return best ? best : 1ULL << 46; /* x86-64's 64 TiB limit */
}

/* Physical address of the page at @p (locked, touched) from pagemap. */
static __u64 phys_of(void *p)
{
	__u64 ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), (unsigned long)p / 4096 * 8) != sizeof(ent))
		ent = 0;
	close(fd);
	if (!(ent & (1ULL << 63)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * 4096;
}

/* Find the direct map once: see probe_direct_map() in pgwalk.bpf.c. */
static int find_direct_map(struct pgwalk_bpf *skel, __u64 pend)
{
	union bpf_iter_link_info linfo = { .task.pid = getpid() };
	volatile __u64 *page;
	int err;

	if (direct_map_base)
		return 0;
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
	if (page == MAP_FAILED)
		return ml_bpf_fail(-errno, "direct map probe: mmap: %s", strerror(errno));
	if (getrandom((void *)page, 16, 0) != 16) {
		munmap((void *)page, 4096);
		return ml_bpf_fail(-EIO, "direct map probe: getrandom failed");
	}
	skel->bss->dm_magic[0] = page[0];
	skel->bss->dm_magic[1] = page[1];
	skel->bss->dm_magic_pa = phys_of((void *)page);
	skel->bss->dm_kallsyms_pob =
		ml_bpf_feat_have(ML_FEAT_KALLSYMS_POB) ? ml_kallsyms_addr("page_offset_base") : 0;
	skel->bss->dm_candidates = pend / (1ULL << 30) + 2;
	if (!skel->bss->dm_magic_pa) {
		munmap((void *)page, 4096);
		return ml_bpf_fail(
			-EPERM,
			"reading physical addresses from /proc/self/pagemap needs CAP_SYS_ADMIN: run as root");
	}
	err = ml_bpf_run_iter(skel->progs.probe_direct_map, &linfo, NULL, 0, NULL);
	munmap((void *)page, 4096);
	if (err)
		return ml_bpf_fail_load(err, "running iter/task probe_direct_map");
	if (!skel->bss->dm_base)
		return ml_bpf_fail(-ENOENT,
				   "the kernel's direct map was not found (%u candidates tried)",
				   skel->bss->dm_tried);
	direct_map_base = skel->bss->dm_base;
	direct_map_method =
		skel->bss->dm_kallsyms_pob && !skel->bss->dm_tried ?
			"page_offset_base from kallsyms, verified" :
			"probed: 1 GiB steps below mm->pgd, checked against a known page";
	return 0;
}

static const char *const kind_names[] = {
	"anon", "file", "shmem", "stack", "heap", "vdso", "vvar", "other",
};

struct collect {
	struct ml_pagetable *pt;
	int cap;
	int err;
};

static void add_vma(const void *data, void *ctx)
{
	const struct pgwalk_vma *r = data;
	struct collect *c = ctx;
	struct ml_vma_info *v;

	if (c->pt->sum.vmas >= (__u64)c->cap) {
		int cap = c->cap ? 2 * c->cap : 256;
		void *n = realloc(c->pt->vmas, cap * sizeof(*v));

		if (!n) {
			c->err = -ENOMEM;
			return;
		}
		c->pt->vmas = n;
		c->cap = cap;
	}
	v = &c->pt->vmas[c->pt->sum.vmas++];
	memset(v, 0, sizeof(*v));
	v->start = r->start;
	v->end = r->end;
	v->perms[0] = r->flags & 1 ? 'r' : '-';
	v->perms[1] = r->flags & 2 ? 'w' : '-';
	v->perms[2] = r->flags & 4 ? 'x' : '-';
	v->perms[3] = r->flags & 0x80 ? 's' : 'p'; /* VM_MAYSHARE */
	v->kind = kind_names[r->kind < 8 ? r->kind : 7];
	v->resident_kb = r->resident_pages * 4;
	v->thp_kb = r->thp_pages * 4;
	v->swap_kb = r->swap_pages * 4;
	v->pte_tables = r->pte_tables;
	memcpy(v->name, r->name, sizeof(v->name));
	v->name[sizeof(v->name) - 1] = '\0';
}

struct ml_pgwalk {
	struct pgwalk_bpf *skel;
	pid_t pid;
	int levels;
	bool special_names; /* the BPF side names special mappings */
};

/* The kind of a special mapping, from its name, as module/vmas.c. */
static const char *special_kind(const char *name)
{
	if (!strcmp(name, "[vdso]"))
		return "vdso";
	if (!strncmp(name, "[vvar", 5))
		return "vvar";
	return "other";
}

/*
 * Names from /proc/PID/maps, joined by VMA range: file paths (the same
 * seq_file_path() text as the module's vmas file) and, where the BPF side
 * does not read them, the names of special mappings.  A VMA that changed
 * between the walk and the read of maps keeps an empty name.
 */
static int names_from_maps(const struct ml_pgwalk *w, struct ml_pagetable *pt)
{
	unsigned long long lo, hi;
	char path[64], *line = NULL;
	size_t cap = 0, k = 0;
	ssize_t n;
	FILE *f;
	int pos;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)w->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct ml_vma_info *v;
		char *name;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &pos) != 2)
			continue;
		name = line + pos;
		/* Both lists are sorted by address. */
		while (k < pt->sum.vmas && pt->vmas[k].start < lo)
			k++;
		if (k == pt->sum.vmas)
			break;
		v = &pt->vmas[k];
		if (v->start != lo || v->end != hi || !*name)
			continue;
		if (!strcmp(v->kind, "file") || !strcmp(v->kind, "shmem")) {
			snprintf(v->name, sizeof(v->name), "%s", name);
		} else if (!w->special_names && !strcmp(v->kind, "other") && !v->name[0] &&
			   name[0] == '[' && strncmp(name, "[anon", 5)) {
			snprintf(v->name, sizeof(v->name), "%s", name);
			v->kind = special_kind(name);
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/*
 * Load the walker; if the kernel refuses it, try again without reading
 * special mappings' names in BPF (its one optional part), so that a
 * verifier rule that tightens costs that, not the walk.  A second load
 * needs a second open: libbpf loads an object once.
 */
static int load_walker(struct ml_pgwalk *w)
{
	struct pgwalk_bpf__rodata ro;
	int err;

	w->special_names = ml_bpf_feat_have(ML_FEAT_SPECIAL_NAMES);
	w->skel->rodata->special_names = w->special_names;
	err = pgwalk_bpf__load(w->skel);
	if (!err || !w->special_names)
		return err ? ml_bpf_fail_load(
				     err,
				     "loading iter/task_vma walk_vmas (task_vma iterator, bpf_loop)") :
			     0;
	ro = *w->skel->rodata;
	pgwalk_bpf__destroy(w->skel);
	w->skel = pgwalk_bpf__open();
	if (!w->skel)
		return ml_bpf_fail_load(-errno, "opening the pgwalk BPF object");
	*w->skel->rodata = ro;
	w->skel->rodata->special_names = false;
	w->special_names = false;
	if (pgwalk_bpf__load(w->skel))
		return ml_bpf_fail_load(
			err, "loading iter/task_vma walk_vmas (task_vma iterator, bpf_loop)");
	ml_bpf_feat_lose(
		ML_FEAT_SPECIAL_NAMES,
		"the kernel refused the walker that reads vm_special_mapping (%s); it loads without",
		strerror(-err));
	return 0;
}

int ml_pgwalk_open(struct ml_pgwalk **out, pid_t pid)
{
	struct ml_pgwalk *w;
	__u32 max_type, mig;
	__u64 pend = phys_end();
	int err;

	ml_bpf_init();
	if (!ml_bpf_have_btf())
		return ml_bpf_fail(
			-ENOTSUP,
			"the kernel has no BTF (/sys/kernel/btf/vmlinux): the task_vma iterator cannot load");
	if (!ml_bpf_feat_have(ML_FEAT_ITER_TASK_VMA))
		return ml_bpf_fail(-ENOTSUP,
				   "the BPF page-table walk needs the task_vma iterator: %s",
				   ml_bpf_feat_why(ML_FEAT_ITER_TASK_VMA));
	if (!ml_bpf_feat_have(ML_FEAT_BPF_LOOP))
		return ml_bpf_fail(-ENOTSUP, "the BPF page-table walk needs bpf_loop(): %s",
				   ml_bpf_feat_why(ML_FEAT_BPF_LOOP));
	w = calloc(1, sizeof(*w));
	if (!w)
		return ml_bpf_fail(-ENOMEM, "out of memory");
	w->pid = pid;
	w->skel = pgwalk_bpf__open();
	if (!w->skel) {
		err = ml_bpf_fail_load(-errno, "opening the pgwalk BPF object");
		free(w);
		return err;
	}
	w->levels = paging_levels();
	ml_swap_layout(&max_type, &mig);
	w->skel->rodata->top_level = w->levels - 1;
	w->skel->rodata->swp_max_type = max_type;
	w->skel->rodata->swp_migration_first = mig;
	w->skel->rodata->max_phys = pend;
	/* pte_dirty() also tests _PAGE_SAVED_DIRTY (bit 58) since 6.6. */
	w->skel->rodata->saved_dirty = ml_kernel_version() >= 606 ? 1ULL << 58 : 0;
	err = load_walker(w);
	if (err)
		goto fail;
	err = find_direct_map(w->skel, pend);
	if (err)
		goto fail;
	w->skel->bss->direct_map = direct_map_base;
	w->skel->bss->targ_tgid = pid;
	*out = w;
	return 0;
fail:
	ml_pgwalk_close(w);
	return err;
}

int ml_pgwalk_run(struct ml_pgwalk *w, struct ml_pagetable *pt)
{
	union bpf_iter_link_info linfo = { .task.pid = w->pid };
	struct collect c = { .pt = pt };
	struct pgwalk_bpf__bss *bss = w->skel->bss;
	int err;

	memset(pt, 0, sizeof(*pt));
	pt->levels = w->levels;
	memset(&bss->summary, 0, sizeof(bss->summary));
	memset(bss->last_counted, 0, sizeof(bss->last_counted));
	err = ml_bpf_run_iter(w->skel->progs.walk_vmas, &linfo, add_vma, sizeof(struct pgwalk_vma),
			      &c);
	if (!err && c.err)
		err = ml_bpf_fail(c.err, "out of memory");
	else if (err)
		err = ml_bpf_fail_load(err, "running iter/task_vma walk_vmas");
	if (err) {
		ml_pagetable_free(pt);
		return err;
	}
	pt->sum = bss->summary;
	err = names_from_maps(w, pt);
	if (err == -ENOENT || err == -ESRCH) {
		ml_pagetable_free(pt);
		return ml_bpf_fail(-ESRCH, "process %d exited during the walk", (int)w->pid);
	}
	if (err) {
		ml_pagetable_free(pt);
		return ml_bpf_fail(err, "reading /proc/%d/maps for the VMA names: %s", (int)w->pid,
				   strerror(-err));
	}
	return 0;
}

void ml_pgwalk_retarget(struct ml_pgwalk *w, pid_t pid)
{
	w->pid = pid;
	w->skel->bss->targ_tgid = pid;
}

void ml_pgwalk_close(struct ml_pgwalk *w)
{
	if (!w)
		return;
	pgwalk_bpf__destroy(w->skel);
	free(w);
}

int ml_pagetable_walk(pid_t pid, struct ml_pagetable *pt)
{
	struct ml_pgwalk *w;
	int err;

	memset(pt, 0, sizeof(*pt));
	err = ml_pgwalk_open(&w, pid);
	if (err)
		return err;
	err = ml_pgwalk_run(w, pt);
	ml_pgwalk_close(w);
	return err;
}

void ml_pagetable_free(struct ml_pagetable *pt)
{
	free(pt->vmas);
	pt->vmas = NULL;
}
