// SPDX-License-Identifier: GPL-2.0
/*
 * pgwalk: walk a process's x86-64 user page tables from BPF.
 *
 * The task_vma iterator hands us each VMA of the target with its mm's
 * mmap_lock held for read.  For each VMA we walk the range from mm->pgd
 * down, reading every page-table page whole, through the kernel's direct
 * map, with bpf_probe_read_kernel() (fault-safe: a page freed under us by
 * a concurrent munmap or khugepaged gives stale or failed reads, never a
 * crash), and bounded bpf_loop() steps (no bpf_for in libbpf 1.1).
 *
 * The walk is a loop over entries with an explicit level, not recursion:
 * one step looks at the entry for "addr" in the table loaded for "level";
 * a table entry descends one level, anything else advances addr to the end
 * of that entry's span and climbs back up whenever addr crosses the end of
 * the current table.
 *
 * A page-table entry holds a physical address; its contents are at
 * direct_map + phys.  The direct-map base (page_offset_base, randomized by
 * KASLR) is found by probe_direct_map() below.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "pgwalk.h"
#include "memlens.bpf.h"

#define ENTRIES        512
#define _PAGE_PRESENT  (1ULL << 0)
#define _PAGE_RW       (1ULL << 1)
#define _PAGE_ACCESSED (1ULL << 5)
#define _PAGE_DIRTY    (1ULL << 6)
#define _PAGE_PSE      (1ULL << 7)
#define _PAGE_PROTNONE (1ULL << 8)
#define _PAGE_SPECIAL  (1ULL << 9)
#define PTE_PFN_MASK   0x000ffffffffff000ULL
#define SWP_TYPE_SHIFT 59 /* 64 - SWP_TYPE_BITS (5) */
#define VM_HUGETLB     0x00400000ULL
#define VM_DONTEXPAND  0x00040000ULL
#define TMPFS_MAGIC    0x01021994
#define GIB            (1ULL << 30)
#define MAX_STEPS      (1U << 23) /* bpf_loop's limit per call */

/* The process walked: set before each run, so one load walks many. */
__u32 targ_tgid;
/* Set by the loader before load. */
const volatile __u32 top_level = 3;       /* 4: 5-level paging (pgd, p4d, ...) */
const volatile __u32 swp_max_type;        /* MAX_SWAPFILES of this kernel */
const volatile __u32 swp_migration_first; /* SWP_MIGRATION_READ */
const volatile __u64 max_phys;            /* highest physical address + 1 */
const volatile __u64 saved_dirty;         /* _PAGE_SAVED_DIRTY (6.6+: bit 58), or 0 */
/* Read special mappings' names here; off: the loader takes them from maps. */
const volatile bool special_names = true;

/* Direct-map probe: inputs set through .bss, result in dm_base. */
__u64 dm_magic[2];     /* random contents of the loader's page ... */
__u64 dm_magic_pa;     /* ... at this physical address */
__u64 dm_kallsyms_pob; /* &page_offset_base from kallsyms, or 0 */
__u32 dm_candidates;   /* 1 GiB steps below mm->pgd to try */
__u64 dm_base;         /* found base, 0 if none */
__u32 dm_tried;

/* Walk results and state (one walk at a time per loaded object). */
struct pgwalk_summary summary;
__u64 direct_map; /* = dm_base, set by the loader */

struct pgwalk_state w;
__u64 table[5][ENTRIES];
__u64 last_counted[5]; /* last table counted per level, across VMAs */
struct pgwalk_vma rec;

static __always_inline __u32 shift_of(__u32 level)
{
	return 12 + 9 * level;
}

static bool is_migration(__u32 type)
{
	return type >= swp_migration_first && type < swp_migration_first + 3;
}

/* Classify a non-zero non-present PTE (inverted swap encoding). */
static void pte_nonpresent(__u64 e)
{
	/*
	 * x86-64 stores swap entries with the offset inverted (L1TF) and the
	 * type, not inverted, in the top 5 bits; soft-dirty, uffd-wp and
	 * exclusive flags live in low bits.  Types at or above MAX_SWAPFILES
	 * are hwpoison, migration, device and marker entries.
	 */
	__u32 type = e >> SWP_TYPE_SHIFT;

	if (type < swp_max_type) {
		summary.swap_entries++;
		rec.swap_pages++;
	} else if (is_migration(type)) {
		summary.migration_entries++;
	} else {
		summary.other_nonpresent++;
	}
}

static void present_bits(__u64 e)
{
	if (e & (_PAGE_DIRTY | saved_dirty))
		summary.present_dirty++;
	if (e & _PAGE_ACCESSED)
		summary.present_young++;
	if (e & _PAGE_RW)
		summary.present_writable++;
}

static void pte_entry(__u64 e)
{
	if (!e)
		return;
	if (!(e & (_PAGE_PRESENT | _PAGE_PROTNONE))) {
		pte_nonpresent(e);
		return;
	}
	summary.leaf_4k++;
	present_bits(e);
	/* As smaps: special mappings (zero page, PFN maps) are not Rss. */
	if (!(e & _PAGE_SPECIAL)) {
		summary.resident_bytes += 4096;
		rec.resident_pages++;
	}
}

/*
 * A present huge PMD or PUD.  As smaps, hugetlb pages are not resident
 * (they are hugetlb_bytes, smaps' Private_Hugetlb + Shared_Hugetlb);
 * an anonymous huge PMD keeps a PTE table deposited behind it, which the
 * kernel counts in VmPTE.
 */
static void huge_entry(__u64 e, __u32 level)
{
	__u64 pages = 1ULL << (9 * level);

	if (level == 1)
		summary.leaf_2m++;
	else
		summary.leaf_1g++;
	present_bits(e);
	if (w.hugetlb) {
		summary.hugetlb_bytes += pages * 4096;
		return;
	}
	summary.resident_bytes += pages * 4096;
	rec.resident_pages += pages;
	if (w.anon && level == 1) {
		summary.anon_thp_bytes += pages * 4096;
		summary.tables_pte_deposited++;
		rec.thp_pages += pages;
	}
}

static void count_table(__u32 level, __u64 pa)
{
	barrier_var(level); /* keep the bound check for older verifiers */
	if (level > 4)
		return;
	if (last_counted[level] != pa) {
		last_counted[level] = pa;
		switch (level) {
		case 0:
			summary.tables_pte++;
			break;
		case 1:
			summary.tables_pmd++;
			break;
		case 2:
			summary.tables_pud++;
			break;
		case 3:
			summary.tables_p4d++;
			break;
		}
	}
	if (level == 0)
		rec.pte_tables++;
}

/* Make table[level] hold the table at @pa; false if it cannot be read. */
static bool load_table(__u32 level, __u64 pa)
{
	barrier_var(level);
	if (level > 4)
		return false;
	if (w.table_pa[level] == pa)
		return true;
	if (pa >= max_phys ||
	    bpf_probe_read_kernel(table[level], sizeof(table[0]), (void *)(direct_map + pa))) {
		summary.read_errors++;
		w.table_pa[level] = 0;
		return false;
	}
	w.table_pa[level] = pa;
	return true;
}

/* Advance past the entry at @level, climbing out of finished tables. */
static void advance(__u32 level)
{
	__u64 span = 1ULL << shift_of(level);
	int i;

	w.addr = (w.addr & ~(span - 1)) + span;
	if (w.addr >= w.end || !w.addr) {
		w.done = 1;
		return;
	}
	for (i = 0; i < 4; i++) {
		if (level >= top_level || ((w.addr >> shift_of(level)) & (ENTRIES - 1)))
			break;
		level++;
	}
	w.level = level;
}

static long walk_step(__u32 i, void *ctx)
{
	__u32 level = w.level, idx;
	__u64 e, pa;

	if (level > 4)
		return 1;
	idx = (w.addr >> shift_of(level)) & (ENTRIES - 1);
	e = table[level][idx];
	if (level == 0) {
		pte_entry(e);
	} else if (e && (level == 1 || level == 2) && (e & _PAGE_PSE)) {
		huge_entry(e, level);
	} else if (e & _PAGE_PRESENT) {
		pa = e & PTE_PFN_MASK;
		count_table(level - 1, pa);
		if (load_table(level - 1, pa)) {
			w.level = level - 1;
			return 0;
		}
	} else if (e && level == 1) {
		/* A non-present PMD: a THP migration entry, or something else. */
		if (is_migration(e >> SWP_TYPE_SHIFT))
			summary.migration_entries++;
		else
			summary.other_nonpresent++;
	} else if (e && level == 2) {
		summary.other_nonpresent++;
	}
	advance(level);
	return w.done ? 1 : 0;
}

/* The name a special mapping gives itself ("[vdso]", "[vvar]"), into rec.name. */
static bool special_name(struct vm_area_struct *vma)
{
	const struct vm_special_mapping *sm = vma->vm_private_data;

	/* _install_special_mapping() sets VM_DONTEXPAND; the name is in
	 * the vm_special_mapping it keeps in vm_private_data.
	 */
	if (!special_names || !vma->vm_ops || !(vma->vm_flags & VM_DONTEXPAND) || !sm)
		return false;
	if (bpf_probe_read_kernel_str(rec.name, sizeof(rec.name), BPF_CORE_READ(sm, name)) > 2 &&
	    rec.name[0] == '[')
		return true;
	rec.name[0] = '\0';
	return false;
}

/* The kind column, in the module's order of tests (module/vmas.c). */
static enum pgwalk_kind vma_kind(struct vm_area_struct *vma, struct mm_struct *mm)
{
	struct file *file = vma->vm_file;

	if (file) {
		if (BPF_CORE_READ(file, f_mapping, host, i_sb, s_magic) == TMPFS_MAGIC)
			return PGWALK_SHMEM;
		return PGWALK_FILE;
	}
	if (special_name(vma)) {
		if (rec.name[1] == 'v' && rec.name[2] == 'd' && rec.name[3] == 's' &&
		    rec.name[4] == 'o' && rec.name[5] == ']')
			return PGWALK_VDSO;
		if (rec.name[1] == 'v' && rec.name[2] == 'v' && rec.name[3] == 'a' &&
		    rec.name[4] == 'r')
			return PGWALK_VVAR;
		return PGWALK_OTHER;
	}
	if (ml_vma_is_heap(vma->vm_start, vma->vm_end, mm))
		return PGWALK_HEAP;
	if (ml_vma_is_stack(vma->vm_start, vma->vm_end, mm))
		return PGWALK_STACK;
	return vma->vm_ops ? PGWALK_OTHER : PGWALK_ANON;
}

/*
 * The name column of the module's vmas file.  A file's path is not read
 * here: the loader joins /proc/PID/maps by VMA range (the same
 * seq_file_path() text the module prints), which needs no bpf_d_path()
 * and none of its argument rules, which differ between kernels.
 */
static void vma_name(struct vm_area_struct *vma, enum pgwalk_kind kind)
{
	if (kind == PGWALK_HEAP)
		__builtin_memcpy(rec.name, "[heap]", 7);
	else if (kind == PGWALK_STACK)
		__builtin_memcpy(rec.name, "[stack]", 8);
}

static void walk_range(struct mm_struct *mm, __u64 start, __u64 end)
{
	__u64 pgd = (__u64)BPF_CORE_READ(mm, pgd);
	int i;

	__builtin_memset(&w.table_pa, 0, sizeof(w.table_pa));
	w.addr = start;
	w.end = end;
	w.level = top_level;
	w.done = 0;
	if (top_level > 4)
		return;
	if (bpf_probe_read_kernel(table[top_level == 4 ? 4 : 3], sizeof(table[0]), (void *)pgd)) {
		summary.read_errors++;
		return;
	}
	w.table_pa[top_level] = 1; /* loaded from mm->pgd, never reloaded */
	for (i = 0; i < 16 && !w.done; i++)
		bpf_loop(MAX_STEPS, walk_step, NULL, 0);
}

SEC("iter/task_vma")
int walk_vmas(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct mm_struct *mm;

	if (!task || !vma || task->tgid != targ_tgid || task->pid != task->tgid)
		return 0;
	mm = vma->vm_mm;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.start = vma->vm_start;
	rec.end = vma->vm_end;
	rec.flags = vma->vm_flags;
	rec.kind = vma_kind(vma, mm);
	vma_name(vma, rec.kind);
	if (!summary.vmas)
		summary.tables_pgd = 1;
	summary.vmas++;
	w.anon = !vma->vm_ops;
	w.hugetlb = !!(rec.flags & VM_HUGETLB);
	walk_range(mm, rec.start, rec.end);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* Is @base the direct map?  The loader's page must read back its magic. */
static bool is_direct_map(__u64 base)
{
	__u64 got[2];

	if (bpf_probe_read_kernel(got, sizeof(got), (void *)(base + dm_magic_pa)))
		return false;
	return got[0] == dm_magic[0] && got[1] == dm_magic[1];
}

static long try_candidate(__u32 i, __u64 *pgd)
{
	__u64 base = (*pgd & ~(GIB - 1)) - (__u64)i * GIB;

	dm_tried++;
	if (!is_direct_map(base))
		return 0;
	dm_base = base;
	return 1;
}

/*
 * Find the direct-map base without page_offset_base (not in kallsyms nor
 * BTF on some kernels, and no /proc/kcore).  KASLR places the direct map
 * at a 1 GiB (PUD) aligned address, and mm->pgd is a direct-map address
 * of a page below the end of RAM, so the base is one of the 1 GiB steps
 * at or below mm->pgd, at most max_phys below it.  The loader filled a
 * locked page with 16 random bytes and looked up its physical address in
 * /proc/self/pagemap: the right candidate reads those bytes back at
 * base + phys; a wrong one reads something else or faults, safely.
 * Where kallsyms has page_offset_base, its value is tried first.
 */
SEC("iter/task")
int probe_direct_map(struct bpf_iter__task *ctx)
{
	struct task_struct *me = bpf_get_current_task_btf();
	__u64 pgd, v;

	if (!ctx->task || dm_base || dm_tried)
		return 0;
	if (dm_kallsyms_pob && !bpf_probe_read_kernel(&v, sizeof(v), (void *)dm_kallsyms_pob) &&
	    is_direct_map(v)) {
		dm_base = v;
		return 0;
	}
	pgd = (__u64)BPF_CORE_READ(me, mm, pgd);
	if (!pgd)
		return 0;
	bpf_loop(dm_candidates, try_candidate, &pgd, 0);
	dm_tried = dm_tried ? dm_tried : 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
