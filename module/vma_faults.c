// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: faults of a tracked process by VMA, debugfs pid/PID/vma_faults.
 *
 * The fault path (faults.c, fcount.c) passes the VMA's bounds as they were when the
 * fault started; they key a small table, so a VMA that is later split,
 * merged or unmapped keeps its old line.  Names are looked up when the
 * file is read: the VMA that now starts at that address, if any.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "fcount.h"
#include "memlens.h"
#include "pgwalk.h"
#include "vma_faults.h"

void memlens_vma_faults_init(struct memlens_vma_faults *vf, struct memlens_proc *p)
{
	vf->proc = p;
	spin_lock_init(&vf->lock);
	vf->t.nr = 0;
	vf->t.last = 0;
	vf->t.other_minor = 0;
	vf->t.other_major = 0;
	vf->fc = NULL;
}

/**
 * memlens_vma_fault_table_count - count one fault in VMA [start, end)
 * @t: the table, locked by its owner
 * @start: vm_start of the VMA when the fault began
 * @end: vm_end likewise
 * @major: counted as a major fault
 */
void memlens_vma_fault_table_count(struct memlens_vma_fault_table *t,
				   unsigned long start, unsigned long end,
				   bool major)
{
	struct memlens_vma_fault_count *c = NULL;
	int i;

	/* Faults come in runs in one VMA: try the last one first. */
	i = t->last;
	if (i < t->nr && t->slot[i].start == start && t->slot[i].end == end)
		c = &t->slot[i];
	for (i = 0; !c && i < t->nr; i++) {
		if (t->slot[i].start == start && t->slot[i].end == end) {
			c = &t->slot[i];
			t->last = i;
		}
	}
	if (!c && t->nr < MEMLENS_VMA_FAULT_SLOTS) {
		t->last = t->nr;
		c = &t->slot[t->nr++];
		c->start = start;
		c->end = end;
		c->minor = 0;
		c->major = 0;
	}
	if (c && major)
		c->major++;
	else if (c)
		c->minor++;
	else if (major)
		t->other_major++;
	else
		t->other_minor++;
}

/**
 * memlens_vma_faults_count - count one completed fault in VMA [start, end)
 * @vf: the process's table
 * @start: vm_start of the VMA when the fault began
 * @end: vm_end likewise
 * @major: counted as a major fault
 *
 * Called from the fault probes (faults.c, fcount.c); takes vf->lock
 * (irq-safe, never held for more than a scan of the table).
 */
void memlens_vma_faults_count(struct memlens_vma_faults *vf, unsigned long start,
			      unsigned long end, bool major)
{
	unsigned long flags;

	spin_lock_irqsave(&vf->lock, flags);
	memlens_vma_fault_table_count(&vf->t, start, end, major);
	spin_unlock_irqrestore(&vf->lock, flags);
}

void memlens_vma_faults_reset(struct memlens_vma_faults *vf)
{
	unsigned long flags;

	spin_lock_irqsave(&vf->lock, flags);
	vf->t.nr = 0;
	vf->t.last = 0;
	vf->t.other_minor = 0;
	vf->t.other_major = 0;
	spin_unlock_irqrestore(&vf->lock, flags);
}

static int cmp_start(const void *a, const void *b)
{
	const struct memlens_vma_fault_count *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Name of @vma as /proc/PID/maps would show it, into @buf. */
static const char *vma_name(struct mm_struct *mm, struct vm_area_struct *vma,
			    char *buf, int len)
{
	const char *name;

	if (vma->vm_file) {
		name = file_path(vma->vm_file, buf, len);
		return IS_ERR(name) ? "[file]" : name;
	}
	if (vma->vm_ops && vma->vm_ops->name) {
		name = vma->vm_ops->name(vma);
		if (name)
			return name;
	}
	if (vma->vm_start <= mm->brk && vma->vm_end >= mm->start_brk)
		return "[heap]";
	if (vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack)
		return "[stack]";
	return "[anon]";
}

/*
 * The name of the VMA that still starts at @c->start; @mm is NULL or
 * locked (mmap_lock, read).
 */
static void show_one(struct seq_file *m, struct mm_struct *mm,
		     const struct memlens_vma_fault_count *c, char *buf)
{
	const char *name = "[unmapped]";
	struct vm_area_struct *vma = NULL;

	if (mm) {
		memlens_assert_mmap_locked(mm);
		vma = find_vma(mm, c->start);
	}

	if (vma && vma->vm_start == c->start)
		name = vma_name(mm, vma, buf, PATH_MAX);
	seq_printf(m, "%lx %lx %llu %llu %s\n", c->start, c->end, c->minor,
		   c->major, name);
}

static int vma_faults_show(struct seq_file *m, void *v)
{
	struct memlens_vma_faults *vf = m->private;
	struct memlens_vma_fault_table *copy;
	struct memlens_fcount *fc;
	struct mm_struct *mm;
	unsigned long flags;
	char *buf;
	int i;

	copy = kmalloc(sizeof(*copy), GFP_KERNEL);
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!copy || !buf) {
		kfree(copy);
		kfree(buf);
		return -ENOMEM;
	}
	spin_lock_irqsave(&vf->lock, flags);
	memcpy(copy, &vf->t, sizeof(*copy));
	spin_unlock_irqrestore(&vf->lock, flags);
	fc = READ_ONCE(vf->fc);
	if (fc)
		memlens_fcount_read(fc, NULL, copy);
	sort(copy->slot, copy->nr, sizeof(copy->slot[0]), cmp_start, NULL);

	seq_puts(m, "start end minor major name\n");
	mm = memlens_proc_lock_mm(vf->proc);
	for (i = 0; i < copy->nr; i++)
		show_one(m, IS_ERR(mm) ? NULL : mm, &copy->slot[i], buf);
	if (!IS_ERR(mm))
		memlens_proc_unlock_mm(mm);
	if (copy->other_minor || copy->other_major)
		seq_printf(m, "0 0 %llu %llu [other]\n", copy->other_minor,
			   copy->other_major);
	kfree(buf);
	kfree(copy);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vma_faults);

/* pid/PID/vma_faults; removed with the directory before @vf is freed. */
int memlens_vma_faults_create(struct memlens_vma_faults *vf)
{
	return memlens_debugfs_file("vma_faults", 0400, vf->proc->dir, vf,
				    &vma_faults_fops);
}
