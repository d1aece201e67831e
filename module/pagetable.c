// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: pid/PID/pagetable, the page tables of a whole process summed
 * up, one "name value" pair per line.  Walked afresh on each read; the
 * keys are documented in docs/debugfs.md.
 */
#include <linux/mm.h>
#include <linux/seq_file.h>

#include "memlens.h"
#include "pgwalk.h"

static const char *const ml_table_keys[MEMLENS_NR_LEVELS] = {
	"tables_pgd", "tables_p4d", "tables_pud", "tables_pmd", "tables_pte",
};

static int ml_count_vmas(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned long addr = 0;
	int n = 0;

	memlens_assert_mmap_locked(mm);
	while ((vma = find_vma(mm, addr))) {
		n++;
		addr = vma->vm_end;
	}
	return n;
}

static void ml_show_counts(struct seq_file *m, const struct memlens_pt_counts *c,
			   int vmas)
{
	unsigned long tables = 0;
	int i;

	for (i = 0; i < MEMLENS_NR_LEVELS; i++) {
		seq_printf(m, "%s %lu\n", ml_table_keys[i], c->tables[i]);
		tables += c->tables[i];
	}
	seq_printf(m, "tables_pte_deposited %lu\n", c->pte_deposited);
	seq_printf(m, "table_bytes %lu\n", tables * PAGE_SIZE);
	seq_printf(m, "leaf_4k %lu\n", c->leaf_4k);
	seq_printf(m, "leaf_2m %lu\n", c->leaf_2m);
	seq_printf(m, "leaf_1g %lu\n", c->leaf_1g);
	seq_printf(m, "resident_bytes %llu\n", c->resident_bytes);
	seq_printf(m, "anon_thp_bytes %llu\n", c->anon_thp_bytes);
	seq_printf(m, "hugetlb_bytes %llu\n", c->hugetlb_bytes);
	seq_printf(m, "ksm_pages %lu\n", c->ksm_pages);
	seq_printf(m, "swap_entries %lu\n", c->swap_entries);
	seq_printf(m, "migration_entries %lu\n", c->migration_entries);
	seq_printf(m, "other_nonpresent %lu\n", c->other_nonpresent);
	seq_printf(m, "present_dirty %lu\n", c->present_dirty);
	seq_printf(m, "present_young %lu\n", c->present_young);
	seq_printf(m, "present_writable %lu\n", c->present_writable);
	seq_printf(m, "vmas %d\n", vmas);
	seq_printf(m, "paging_levels %d\n", pgtable_l5_enabled() ? 5 : 4);
}

struct pagetable_walk {
	struct memlens_pt_counts c;
	int vmas;
};

static int pagetable_walk(struct memlens_walk *w, void *priv)
{
	struct pagetable_walk *pw = priv;
	int ret;

	w->may_unlock = true;	/* no VMA pointer held */
	ret = memlens_walk_range(w, 0, memlens_user_end());
	pw->c = w->c;
	pw->vmas = ml_count_vmas(w->mm);
	return ret;
}

/* Walk under mmap_lock; print after the lock is dropped. */
static int pagetable_show(struct seq_file *m, void *v)
{
	struct pagetable_walk pw;
	int ret;

	ret = memlens_walk_proc(m->private, pagetable_walk, &pw);
	if (!ret)
		ml_show_counts(m, &pw.c, pw.vmas);
	return ret;
}

static int pagetable_open(struct inode *inode, struct file *file)
{
	return single_open(file, pagetable_show, inode->i_private);
}

static const struct file_operations pagetable_fops = {
	.owner		= THIS_MODULE,
	.open		= pagetable_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= single_release,
};

/* Hook: the file goes with p->dir, before @p is freed. */
static int pagetable_attach(struct memlens_proc *p)
{
	return memlens_debugfs_file("pagetable", 0400, p->dir, p,
				    &pagetable_fops);
}

static const struct memlens_proc_hooks pagetable_hooks = {
	.name = "pagetable",
	.attach = pagetable_attach,
};

int memlens_pagetable_init(void)
{
	return memlens_proc_hooks_register(&pagetable_hooks);
}
