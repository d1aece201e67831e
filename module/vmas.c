// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: pid/PID/vmas, one line per VMA with what its page tables map.
 * A header line names the columns; docs/debugfs.md defines them.
 */
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/seq_file.h>

#include "memlens.h"
#include "pgwalk.h"

/* Name a special mapping gives itself ("[vdso]", "[vvar]"...), or NULL. */
static const char *ml_vma_ops_name(struct vm_area_struct *vma)
{
	if (vma->vm_ops && vma->vm_ops->name)
		return vma->vm_ops->name(vma);
	return NULL;
}

static bool ml_vma_is_shmem(struct vm_area_struct *vma)
{
	struct inode *inode = vma->vm_file->f_mapping->host;

	return inode && inode->i_sb->s_magic == TMPFS_MAGIC;
}

/* The kind column, and in *@name what the name column shows if no file. */
static const char *ml_vma_kind(struct vm_area_struct *vma, const char **name)
{
	struct mm_struct *mm = vma->vm_mm;
	const char *special = ml_vma_ops_name(vma);

	*name = NULL;
	if (vma->vm_file)
		return ml_vma_is_shmem(vma) ? "shmem" : "file";
	if (special) {
		*name = special;
		if (!strcmp(special, "[vdso]"))
			return "vdso";
		if (!strncmp(special, "[vvar", 5))
			return "vvar";
		return "other";
	}
	if (vma->vm_start <= mm->brk && vma->vm_end >= mm->start_brk) {
		*name = "[heap]";
		return "heap";
	}
	if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack) {
		*name = "[stack]";
		return "stack";
	}
	return vma_is_anonymous(vma) ? "anon" : "other";
}

static void ml_show_vma(struct seq_file *m, struct vm_area_struct *vma,
			const struct memlens_pt_counts *c)
{
	vm_flags_t f = vma->vm_flags;
	const char *kind, *name;

	kind = ml_vma_kind(vma, &name);
	seq_printf(m, "%08lx %08lx %c%c%c%c %s %llu %llu %lu %lu",
		   vma->vm_start, vma->vm_end,
		   f & VM_READ ? 'r' : '-', f & VM_WRITE ? 'w' : '-',
		   f & VM_EXEC ? 'x' : '-', f & VM_MAYSHARE ? 's' : 'p',
		   kind, c->resident_bytes >> 10, c->anon_thp_bytes >> 10,
		   c->swap_entries << (PAGE_SHIFT - 10), c->tables[MEMLENS_PTE]);
	if (vma->vm_file) {
		seq_putc(m, ' ');
		seq_file_path(m, vma->vm_file, "\n");
	} else if (name) {
		seq_printf(m, " %s", name);
	}
	seq_putc(m, '\n');
}

/*
 * Each VMA's range is walked on its own, so a PTE table that maps two
 * VMAs counts in both.  Output goes to the seq_file buffer only; seq_read
 * copies it to userspace after mmap_lock is dropped.  A VMA is walked
 * with the lock held throughout (its pointer is printed after the walk);
 * between two VMAs a waiting writer gets the lock (memlens_walk_yield()),
 * and the next VMA is looked up afresh from the end of the last.
 */
static int vmas_walk(struct memlens_walk *w, void *priv)
{
	struct seq_file *m = priv;
	struct vm_area_struct *vma;
	unsigned long addr = 0;
	int ret = 0;

	seq_puts(m, "start end perms kind resident_kb thp_kb swap_kb pte_tables name\n");
	while (!ret && !seq_has_overflowed(m) && (vma = find_vma(w->mm, addr))) {
		memset(&w->c, 0, sizeof(w->c));
		ret = memlens_walk_range(w, vma->vm_start, vma->vm_end);
		if (!ret)
			ml_show_vma(m, vma, &w->c);
		addr = vma->vm_end;
		if (!ret)
			ret = memlens_walk_yield(w);
	}
	return ret;
}

static int vmas_show(struct seq_file *m, void *v)
{
	return memlens_walk_proc(m->private, vmas_walk, m);
}

static int vmas_open(struct inode *inode, struct file *file)
{
	struct memlens_proc *p = inode->i_private;

	return single_open_size(file, vmas_show, p, 16 * PAGE_SIZE);
}

static const struct file_operations vmas_fops = {
	.owner		= THIS_MODULE,
	.open		= vmas_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= single_release,
};

/* Hook: the file goes with p->dir, before @p is freed. */
static int vmas_attach(struct memlens_proc *p)
{
	return memlens_debugfs_file("vmas", 0400, p->dir, p, &vmas_fops);
}

static const struct memlens_proc_hooks vmas_hooks = {
	.name = "vmas",
	.attach = vmas_attach,
};

int memlens_vmas_init(void)
{
	return memlens_proc_hooks_register(&vmas_hooks);
}
