// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: walk a process's page tables and count what they hold.
 *
 * The walk follows the hardware's tables from mm->pgd over the user
 * address space (or a part of it), not the VMAs, so it sees every table
 * page reachable from the pgd.  walk_page_range() and pte_offset_map()
 * are not available to modules, so the tables are read directly, one
 * table at a time, with the locking argument below (see ml_copy()).
 */
#include <linux/delay.h>
#include <linux/hugetlb_inline.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pgtable.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "memlens.h"
#include "pgwalk.h"

#define ML_PTRS		512	/* entries per table at every level on x86-64 */

static unsigned int ml_shift(enum memlens_pt_level level)
{
	switch (level) {
	case MEMLENS_PGD:
		return PGDIR_SHIFT;	/* 48, or 39 with 4-level paging */
	case MEMLENS_P4D:
		return P4D_SHIFT;
	case MEMLENS_PUD:
		return PUD_SHIFT;
	case MEMLENS_PMD:
		return PMD_SHIFT;
	default:
		return PAGE_SHIFT;
	}
}

/* With 4-level paging the p4d level is folded into the pgd at run time. */
static enum memlens_pt_level ml_next_level(enum memlens_pt_level level)
{
	if (level == MEMLENS_PGD && !pgtable_l5_enabled())
		return MEMLENS_PUD;
	return level + 1;
}

/* A pgd (5-level) or p4d entry that points to a table below it. */
static bool ml_upper_is_table(u64 v)
{
	p4d_t e = __p4d(v);

	return !p4d_none(e) && p4d_present(e) && !p4d_bad(e);
}

static bool ml_pud_is_table(pud_t e)
{
	return !pud_none(e) && pud_present(e) && !pud_leaf(e) && !pud_bad(e);
}

static bool ml_pmd_is_table(pmd_t e)
{
	return !pmd_none(e) && pmd_present(e) && !pmd_leaf(e) && !pmd_bad(e);
}

static u64 *ml_table_base(void *entry)
{
	return (u64 *)((unsigned long)entry & PAGE_MASK);
}

/*
 * ml_table_at - the table at @level that maps @addr, or NULL
 *
 * Follows the entries from mm->pgd down, reading each entry once into a
 * local copy and checking it points to a table before going below it.
 * Must run with interrupts disabled (see ml_copy()).
 */
static u64 *ml_table_at(struct mm_struct *mm, enum memlens_pt_level level,
			unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr);
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;

	lockdep_assert_irqs_disabled();
	if (level == MEMLENS_PGD)
		return (u64 *)mm->pgd;
	if (pgtable_l5_enabled()) {
		pgd_t pgd = READ_ONCE(*pgdp);

		if (!ml_upper_is_table(pgd_val(pgd)))
			return NULL;
		p4dp = p4d_offset(&pgd, addr);
	} else {
		p4dp = (p4d_t *)pgdp;
	}
	if (level == MEMLENS_P4D)
		return ml_table_base(p4dp);
	p4d = READ_ONCE(*p4dp);
	if (!ml_upper_is_table(p4d_val(p4d)))
		return NULL;
	pudp = pud_offset(&p4d, addr);
	if (level == MEMLENS_PUD)
		return ml_table_base(pudp);
	pud = READ_ONCE(*pudp);
	if (!ml_pud_is_table(pud))
		return NULL;
	pmdp = pmd_offset(&pud, addr);
	if (level == MEMLENS_PMD)
		return ml_table_base(pmdp);
	pmd = READ_ONCE(*pmdp);
	if (!ml_pmd_is_table(pmd))
		return NULL;
	return (u64 *)pmd_page_vaddr(pmd);
}

/**
 * ml_copy - copy entries of the table at @level that maps @addr
 * @w: the walk; the entries land in w->buf[@level][@first..]
 * @level: the level of the table
 * @addr: an address that table maps
 * @first: index of the first entry to copy
 * @n: number of entries
 *
 * Locking.  The caller holds mmap_lock for read and a reference on
 * mm_users, so the pgd page lives and no VMA is added or removed, but
 * that alone does not keep lower tables alive:
 *  - munmap() downgrades mmap_lock to read before free_pgtables(), so
 *    tables of an unmapped range may be freed while we hold it for read
 *    (the VMAs are gone already; this walk does not go by VMAs);
 *  - on 6.12, khugepaged and MADV_COLLAPSE retract PTE tables of file
 *    and shmem ranges without mmap_lock (retract_page_tables(),
 *    collapse_pte_mapped_thp()): pmd cleared under the pmd lock, the
 *    table freed by pte_free_defer(), i.e. after an RCU grace period.
 *    This is why 6.12 has pte_offset_map() take rcu_read_lock(); it is
 *    not exported to modules there;
 *  - on x86 (MMU_GATHER_RCU_TABLE_FREE) free_pgtables() frees tables of
 *    every level through tlb_remove_table(): after an RCU grace period,
 *    or, when no batch page can be allocated, after an IPI to every CPU
 *    (tlb_remove_table_sync_one()).
 * So, as GUP-fast does, each descent from the pgd to a table and the copy
 * of its entries happen with interrupts disabled: a table seen through
 * an entry read in that section cannot be freed before the section ends
 * (an RCU grace period waits for IRQ-disabled code; the IPI waits for it
 * too).  Each entry is read once, whole (READ_ONCE(), as ptep_get() does;
 * a memcpy() may copy an entry in pieces and mix an old and a new one),
 * and only a copy is interpreted, so a concurrent change yields a stale
 * but well-formed value; the descent is redone for every table, so
 * nothing read in an earlier section is dereferenced later.  The section
 * is short (at most one 4 KiB copy), and the walk yields the CPU between
 * tables with interrupts enabled (and mmap_lock, to a writer waiting for
 * it: memlens_walk_yield()).
 * No page-table lock is taken: the counts are a snapshot, exact for a
 * quiescent process, never a reason to touch freed memory.
 *
 * Return: false if the path to that table does not (or no longer) exist.
 */
static bool ml_copy(struct memlens_walk *w, enum memlens_pt_level level,
		    unsigned long addr, unsigned int first, unsigned int n)
{
	unsigned long flags;
	unsigned int i;
	u64 *table;

	memlens_assert_mmap_locked(w->mm);
	local_irq_save(flags);
	table = ml_table_at(w->mm, level, addr);
	for (i = 0; table && i < n; i++)
		w->buf[level][first + i] = READ_ONCE(table[first + i]);
	local_irq_restore(flags);
	return table;
}

/* The VMA holding @addr, if any (mmap_lock held). */
static struct vm_area_struct *ml_vma_at(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	memlens_assert_mmap_locked(mm);
	vma = find_vma(mm, addr);
	return vma && vma->vm_start <= addr ? vma : NULL;
}

/*
 * A PMD leaf in an anonymous VMA maps either an anonymous THP or the huge
 * zero page (a read fault with use_zero_page), which is not anonymous.
 * The pmd may have changed since it was read: its struct page is only
 * looked at, never used, and always exists for a RAM pfn.
 */
static bool ml_pmd_maps_anon(pmd_t pmd)
{
	unsigned long pfn = pmd_pfn(pmd);

	return pfn_valid(pfn) && PageAnon(pfn_to_page(pfn));
}

/*
 * A present PMD or PUD leaf.  Like smaps, hugetlb pages and the huge zero
 * page are not resident bytes.  An anonymous VMA's PMD leaf has a PTE
 * table deposited behind it (pgtable_trans_huge_deposit(), the huge zero
 * page's too), which the kernel counts in VmPTE.
 */
static void ml_huge_leaf(struct memlens_walk *w, unsigned long addr,
			 unsigned long size, pmd_t pmd, bool dirty, bool young,
			 bool writable)
{
	struct vm_area_struct *vma = ml_vma_at(w->mm, addr);
	bool hugetlb = vma && is_vm_hugetlb_page(vma);
	bool anon_vma = vma && !hugetlb && vma_is_anonymous(vma);
	bool zero = false;

	if (size == PMD_SIZE)
		w->c.leaf_2m++;
	else
		w->c.leaf_1g++;
	w->c.present_dirty += dirty;
	w->c.present_young += young;
	w->c.present_writable += writable;
	if (size == PMD_SIZE && anon_vma) {
		w->c.pte_deposited++;
		zero = !ml_pmd_maps_anon(pmd);
		if (!zero)
			w->c.anon_thp_bytes += size;
	}
	if (hugetlb)
		w->c.hugetlb_bytes += size;
	else if (!zero)
		w->c.resident_bytes += size;
}

/*
 * A non-present, non-empty PTE: swap, migration or something else.  Newer
 * kernels (leafops.h) decode it as a softleaf_t instead of a swp_entry_t;
 * the same three classes.  The value is our copy of the entry, so either
 * decoding only reads bits.
 */
#ifdef MEMLENS_HAVE_SOFTLEAF
static void ml_pte_nonpresent(struct memlens_walk *w, pte_t pte)
{
	softleaf_t entry = softleaf_from_pte(pte);

	if (softleaf_is_swap(entry))
		w->c.swap_entries++;
	else if (softleaf_is_migration(entry))
		w->c.migration_entries++;
	else
		w->c.other_nonpresent++;
}

static bool ml_pmd_is_migration(pmd_t pmd)
{
	return pmd_is_migration_entry(pmd);
}
#else
static void ml_pte_nonpresent(struct memlens_walk *w, pte_t pte)
{
	swp_entry_t entry = pte_to_swp_entry(pte);

	if (!non_swap_entry(entry))
		w->c.swap_entries++;
	else if (is_migration_entry(entry))
		w->c.migration_entries++;
	else
		w->c.other_nonpresent++;
}

static bool ml_pmd_is_migration(pmd_t pmd)
{
	return is_pmd_migration_entry(pmd);
}
#endif

/*
 * Does a present PTE map a page KSM merged (a stable-tree page, always
 * order 0)?  As in ml_pmd_maps_anon(), the struct page is only looked
 * at: the PTE may have changed since it was copied.
 */
static bool ml_pte_maps_ksm(pte_t pte)
{
	unsigned long pfn = pte_pfn(pte);

	return pfn_valid(pfn) && folio_test_ksm(page_folio(pfn_to_page(pfn)));
}

/*
 * May a PTE of the table mapping [@start, @end) map a KSM page?  Only in a
 * VM_MERGEABLE VMA (MADV_UNMERGEABLE and prctl's undo break the merged
 * pages first), so most tables need no look at their pages' flags.
 */
static bool ml_table_mergeable(struct mm_struct *mm, unsigned long start,
			       unsigned long end)
{
	struct vm_area_struct *vma;

	memlens_assert_mmap_locked(mm);
	for (vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = find_vma(mm, vma->vm_end))
		if (vma->vm_flags & VM_MERGEABLE)
			return true;
	return false;
}

/*
 * Present PTEs map a normal page unless special (the zero page, PFN maps
 * such as [vvar]): smaps' Rss leaves those out too (vm_normal_page()).
 */
static void ml_ptes(struct memlens_walk *w, unsigned int first, unsigned int last,
		    bool mergeable)
{
	u64 *ents = w->buf[MEMLENS_PTE];
	unsigned int i;

	for (i = first; i <= last; i++) {
		pte_t pte = __pte(ents[i]);

		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			ml_pte_nonpresent(w, pte);
			continue;
		}
		w->c.leaf_4k++;
		w->c.present_dirty += !!pte_dirty(pte);
		w->c.present_young += !!pte_young(pte);
		w->c.present_writable += !!pte_write(pte);
		if (pte_special(pte))
			continue;
		w->c.resident_bytes += PAGE_SIZE;
		if (mergeable)
			w->c.ksm_pages += ml_pte_maps_ksm(pte);
	}
}

static int ml_walk_table(struct memlens_walk *w, enum memlens_pt_level level,
			 unsigned long start, unsigned long end);

static int ml_pmd_entry(struct memlens_walk *w, pmd_t pmd, unsigned long addr,
			unsigned long next)
{
	if (pmd_none(pmd))
		return 0;
	if (!pmd_present(pmd)) {
		if (ml_pmd_is_migration(pmd))
			w->c.migration_entries++;
		else
			w->c.other_nonpresent++;
		return 0;
	}
	if (pmd_leaf(pmd)) {
		ml_huge_leaf(w, addr, PMD_SIZE, pmd, pmd_dirty(pmd),
			     pmd_young(pmd), pmd_write(pmd));
		return 0;
	}
	if (pmd_bad(pmd))
		return 0;
	return ml_walk_table(w, MEMLENS_PTE, addr, next);
}

static int ml_pud_entry(struct memlens_walk *w, pud_t pud, unsigned long addr,
			unsigned long next)
{
	if (pud_none(pud))
		return 0;
	if (!pud_present(pud)) {
		w->c.other_nonpresent++;
		return 0;
	}
	if (pud_leaf(pud)) {
		ml_huge_leaf(w, addr, PUD_SIZE, __pmd(0), pud_dirty(pud),
			     pud_young(pud), pud_write(pud));
		return 0;
	}
	if (pud_bad(pud))
		return 0;
	return ml_walk_table(w, MEMLENS_PMD, addr, next);
}

static int ml_entry(struct memlens_walk *w, enum memlens_pt_level level, u64 v,
		    unsigned long addr, unsigned long next)
{
	switch (level) {
	case MEMLENS_PGD:
	case MEMLENS_P4D:
		if (!ml_upper_is_table(v))
			return 0;
		return ml_walk_table(w, ml_next_level(level), addr, next);
	case MEMLENS_PUD:
		return ml_pud_entry(w, __pud(v), addr, next);
	default:
		return ml_pmd_entry(w, __pmd(v), addr, next);
	}
}

/* Let others have the CPU; -EINTR when we are being killed. */
static int ml_relax(void)
{
	cond_resched();
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/**
 * memlens_walk_yield - let a writer waiting for w->mm's mmap_lock have it
 * @w: a walk, w->mm's mmap_lock held for read
 *
 * A walk of a large address space holds mmap_lock for read for as long
 * as it runs, preemption included; a writer (mmap, munmap, mprotect,
 * clear_refs of the soft-dirty bits) waits all that time, and so does
 * every reader queued behind that writer: the process's own page faults.
 * So when the lock is contended it is dropped here and taken again.
 *
 * Safe for the walk: nothing read under the lock is used after it: the
 * entries are copies in w->buf, every table is reached by a fresh
 * descent from the pgd (ml_copy()), and the mm and its pgd live on our
 * mm_users reference (memlens_proc_lock_mm()).  The counts then mix the
 * moments before and after the writer, as they do for any process that
 * changes while it is read.  The caller must hold no VMA pointer across
 * the call.  The lock is retaken uninterruptibly, as page faults take
 * it, so that the caller always returns with it held; a kill is then
 * reported.  Sleeps.
 *
 * Return: 0, or -EINTR if a fatal signal is pending (lock held either way).
 */
int memlens_walk_yield(struct memlens_walk *w)
{
	int i;

	memlens_assert_mmap_locked(w->mm);
	if (!mmap_lock_is_contended(w->mm))
		return ml_relax();
	mmap_read_unlock(w->mm);
	/*
	 * An rwsem lets a reader take a free lock ahead of a queued writer
	 * ("reader optimistic lock stealing", rwsem_down_read_slowpath())
	 * until that writer has waited RWSEM_WAIT_TIMEOUT (4 ms at HZ=250)
	 * and set the handoff bit: retaken at once, the lock would be ours
	 * again before the woken writer runs (measured: mprotect() waited
	 * 15 ms, median, beside a reader of pagetable in a 6.12 guest).  So
	 * sleep until nobody waits, the writer and the readers queued
	 * behind it served, for 2 ms at most; sleeping, not spinning, also
	 * lets the writer have this CPU.
	 */
	for (i = 0; i < 100 && mmap_lock_is_contended(w->mm); i++)
		usleep_range(10, 20);
	mmap_read_lock(w->mm);
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/*
 * ml_walk_table - count the table at @level mapping [@start, @end) and
 * everything below it in that range.  The range lies within that table.
 */
static int ml_walk_table(struct memlens_walk *w, enum memlens_pt_level level,
			 unsigned long start, unsigned long end)
{
	unsigned int shift = ml_shift(level);
	unsigned long size = 1UL << shift, addr, next;
	unsigned int first = (start >> shift) & (ML_PTRS - 1);
	unsigned int last = ((end - 1) >> shift) & (ML_PTRS - 1);
	unsigned int i;
	int ret;

	if (!ml_copy(w, level, start, first, last - first + 1))
		return 0;
	w->c.tables[level]++;
	/* Between tables, interrupts on: let others run, and give up on kill. */
	ret = w->may_unlock ? memlens_walk_yield(w) : ml_relax();
	if (ret)
		return ret;
	if (level == MEMLENS_PTE) {
		ml_ptes(w, first, last, ml_table_mergeable(w->mm, start, end));
		return 0;
	}
	for (i = first, addr = start; i <= last; i++, addr = next) {
		next = (addr & ~(size - 1)) + size;
		if (next > end)
			next = end;
		ret = ml_entry(w, level, w->buf[level][i], addr, next);
		if (ret)
			return ret;
	}
	return 0;
}

/* End of the user address space: 2^47 or 2^56 bytes less the guard page. */
unsigned long memlens_user_end(void)
{
	return TASK_SIZE_MAX;
}

/**
 * memlens_walk_range - add what the page tables map in [@start, @end) to w->c
 * @w: the walk memlens_walk_proc() passes to its callback (mmap_lock of
 *	w->mm held for read)
 * @start: page-aligned start
 * @end: end, at most memlens_user_end()
 *
 * A table is counted once for each call that reaches it.  Sleeps.
 *
 * Return: 0, or -EINTR if a fatal signal is pending.
 */
int memlens_walk_range(struct memlens_walk *w, unsigned long start,
		       unsigned long end)
{
	memlens_assert_mmap_locked(w->mm);
	if (start >= end)
		return 0;
	return ml_walk_table(w, MEMLENS_PGD, start, end);
}

/*
 * One page per level.  Not inlined: fault_inject_test names this frame as
 * where a read of pagetable, vmas, tlb or pid/PID/swap allocates.
 */
static noinline int ml_walk_init(struct memlens_walk *w)
{
	u64 *buf = kmalloc_array(MEMLENS_NR_LEVELS, PAGE_SIZE, GFP_KERNEL);
	int i;

	if (!buf)
		return -ENOMEM;
	memset(w, 0, sizeof(*w));
	for (i = 0; i < MEMLENS_NR_LEVELS; i++)
		w->buf[i] = buf + i * ML_PTRS;
	return 0;
}

/**
 * memlens_proc_lock_mm - the mm of @p with its mmap_lock held for read
 * @p: a tracked process
 *
 * Return: the mm, with a reference on mm_users; ERR_PTR(-ESRCH) if the
 * process has no mm any more, ERR_PTR(-EINTR) on a fatal signal.
 * Undone by memlens_proc_unlock_mm().
 */
struct mm_struct *memlens_proc_lock_mm(struct memlens_proc *p)
{
	struct mm_struct *mm = memlens_get_mm(p->pid);

	if (!mm)
		return ERR_PTR(-ESRCH);
	if (mmap_read_lock_killable(mm)) {
		mmput(mm);
		return ERR_PTR(-EINTR);
	}
	return mm;
}

void memlens_proc_unlock_mm(struct mm_struct *mm)
{
	memlens_assert_mmap_locked(mm);
	mmap_read_unlock(mm);
	mmput(mm);
}

/**
 * memlens_walk_proc - walk the page tables of a tracked process
 * @p: the process
 * @fn: what to walk and count, called once with the lock held
 * @priv: passed to @fn
 *
 * Owns what every walk needs: the buffers, the mm and its mmap_lock
 * (read), taken here and dropped before returning, so that @fn cannot
 * get the locking wrong.  Output for userspace should be produced after
 * the return (or into a seq_file buffer, which seq_read copies out after
 * the lock is dropped).  Process context; sleeps.
 *
 * Return: @fn's return value, or -ENOMEM, -ESRCH (no mm: the process is
 * exiting), -EINTR (fatal signal) before @fn was called.
 */
int memlens_walk_proc(struct memlens_proc *p, memlens_walk_fn fn, void *priv)
{
	struct memlens_walk w;
	struct mm_struct *mm;
	int ret;

	ret = ml_walk_init(&w);
	if (ret)
		return ret;
	mm = memlens_proc_lock_mm(p);
	if (IS_ERR(mm)) {
		ret = PTR_ERR(mm);
	} else {
		w.mm = mm;
		ret = fn(&w, priv);
		memlens_proc_unlock_mm(mm);
	}
	kfree(w.buf[0]);
	return ret;
}

static int ml_walk_all(struct memlens_walk *w, void *priv)
{
	struct memlens_pt_counts *c = priv;
	int ret;

	w->may_unlock = true;	/* no VMA pointer held */
	ret = memlens_walk_range(w, 0, memlens_user_end());
	if (!ret)
		*c = w->c;
	return ret;
}

/**
 * memlens_walk_proc_all - count what the page tables of @p map over the
 * whole user address space
 * @p: a tracked process
 * @c: the counts, set on success
 *
 * Return: 0 or as memlens_walk_proc().
 */
int memlens_walk_proc_all(struct memlens_proc *p, struct memlens_pt_counts *c)
{
	return memlens_walk_proc(p, ml_walk_all, c);
}
