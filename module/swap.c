// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: swap accounting, debugfs "swap".
 *
 * - pswpin, pswpout: pages read from and written to a swap device, counted
 *   where the kernel counts PSWPIN/PSWPOUT: __swap_writepage() for writes
 *   (after zswap and, on 6.12, the zero-page map have taken theirs); for
 *   reads swap_readpage() on 6.1 and zswap_folio_swapin() on 6.12 and
 *   7.x (the point where swap_read_folio() has decided to read from the
 *   device; 7.x counts PSWPIN when that read completes without error).
 *   On 6.1 a zswap hit is counted here and not in /proc/vmstat; zswap is
 *   off by default.
 * - swapin_major, swapcache_minor: completed do_swap_page() calls on a
 *   real swap entry, split by VM_FAULT_MAJOR: the page had to be read (or
 *   was being read) versus found in the swap cache.
 * - swap_free_kb from nr_swap_pages (exported); swap_total_kb and the
 *   device lines from /proc/swaps, since no swap device table is exported
 *   to modules (swap_info, si_swapinfo and total_swap_pages are not).
 *
 * pid/PID/swap: swap_entries (swap PTEs found by a page-table walk now)
 * and swapin_major, swapcache_minor of the faults its threads took.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/uio.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "acct.h"
#include "memlens.h"
#include "pgwalk.h"
#include "stats.h"

enum swap_stat {
	SW_PSWPIN,
	SW_PSWPOUT,
	SW_SWAPIN_MAJOR,
	SW_SWAPCACHE_MINOR,
	SW_NR
};

static const char * const swap_stat_names[SW_NR] = {
	[SW_PSWPIN] = "pswpin",
	[SW_PSWPOUT] = "pswpout",
	[SW_SWAPIN_MAJOR] = "swapin_major",
	[SW_SWAPCACHE_MINOR] = "swapcache_minor",
};

struct swap_stats {
	u64 stat[SW_NR];
};

/* On each CPU: the counters, then their baseline (stats.h). */
static DEFINE_PER_CPU(struct swap_stats[2], swap_pcpu);
static struct memlens_stats_group swap_group;

/* Where a swap-in read is counted: the first that this kernel has. */
static const char * const swap_read_symbols[] = {
	"zswap_folio_swapin",	/* 6.12: reached only for device reads */
	"swap_readpage",	/* 6.1 */
};

/*
 * Argument @n of the probed I/O function: a struct page * of the head page
 * on 6.1, a struct folio * on 6.12; the same address either way.
 */
static unsigned long io_pages(struct pt_regs *regs, unsigned int n)
{
	struct page *page = (struct page *)regs_get_kernel_argument(regs, n);

	return page ? folio_nr_pages(page_folio(page)) : 0;
}

/*
 * Kernels with linux/swap_ops.h (7.x) batch swap I/O in a struct
 * swap_io_ctx, which __swap_writepage(ctx, folio) takes first; before, the
 * folio (page) came first.  zswap_folio_swapin(folio) is unchanged.
 */
#if __has_include("linux/swap_ops.h")
#define ML_SWAP_WRITE_FOLIO_ARG	1
#else
#define ML_SWAP_WRITE_FOLIO_ARG	0
#endif

static int swap_read_pre(struct kprobe *kp, struct pt_regs *regs)
{
	this_cpu_add(swap_pcpu[0].stat[SW_PSWPIN], io_pages(regs, 0));
	return 0;
}

static int swap_write_pre(struct kprobe *kp, struct pt_regs *regs)
{
	this_cpu_add(swap_pcpu[0].stat[SW_PSWPOUT],
		     io_pages(regs, ML_SWAP_WRITE_FOLIO_ARG));
	return 0;
}

static struct kprobe swap_read_kprobe = {
	.pre_handler = swap_read_pre,
};

static struct kprobe swap_write_kprobe = {
	.symbol_name = "__swap_writepage",
	.pre_handler = swap_write_pre,
};

/*
 * A real swap entry, not a migration, device-private, hwpoison or marker
 * one; kernels with leafops.h decode entries as softleaf_t.
 */
static bool ml_pte_is_swap(pte_t pte)
{
#ifdef MEMLENS_HAVE_SOFTLEAF
	return softleaf_is_swap(softleaf_from_pte(pte));
#else
	return !non_swap_entry(pte_to_swp_entry(pte));
#endif
}

/*
 * do_swap_page(vmf) also handles migration, device-private, hwpoison and
 * marker entries; only a real swap entry is counted at the return.  The
 * entry handler notes which it is and always returns 0, so every instance
 * takes the same path through the kretprobe code.
 */
static int swapfault_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	bool *real = (bool *)ri->data;

	*real = ml_pte_is_swap(vmf->orig_pte);
	return 0;
}

/* Per tracked process (slot MEMLENS_SLOT_SWAP). */
struct proc_swap {
	struct memlens_proc_stats ps;	/* struct swap_stats */
};

static int swapfault_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	vm_fault_t ret = regs_return_value(regs);
	enum swap_stat which;
	struct memlens_proc *p;
	struct proc_swap *ps;

	if (!*(bool *)ri->data || (ret & (VM_FAULT_RETRY | VM_FAULT_ERROR)))
		return 0;
	which = ret & VM_FAULT_MAJOR ? SW_SWAPIN_MAJOR : SW_SWAPCACHE_MINOR;
	this_cpu_inc(swap_pcpu[0].stat[which]);
	if (!memlens_nr_tracked())
		return 0;
	rcu_read_lock();
	p = memlens_proc_find(current->tgid);
	ps = p ? p->data[MEMLENS_SLOT_SWAP] : NULL;
	if (ps)
		this_cpu_inc(((struct swap_stats __percpu *)ps->ps.stats.pcpu)->stat[which]);
	rcu_read_unlock();
	return 0;
}

static struct kretprobe swapfault_kretprobe = {
	.kp.symbol_name = "do_swap_page",
	.entry_handler = swapfault_entry,
	.handler = swapfault_return,
	.data_size = sizeof(bool),
};

/* One /proc/swaps line: "Filename Type Size Used Priority" (sizes in KiB). */
struct swap_dev {
	char name[256];
	char type[16];
	unsigned long size_kb;
	unsigned long used_kb;
	int prio;
};

#define PROC_SWAPS_MAX	(16 * PAGE_SIZE)

/*
 * Read /proc/swaps into a NUL-terminated buffer; NULL when the reader's
 * mount namespace has no procfs (no device lines then, as documented);
 * ERR_PTR on any other failure.
 * kernel_read() wants ->read_iter, which proc files with only ->proc_read
 * lack; /proc/swaps is a seq_file (swaps_open() calls seq_open(), which
 * points seq_file.file back at the file), so read it with seq_read_iter().
 * The entry is permanent (PROC_ENTRY_PERMANENT): no removal to guard.
 *
 * Called from swap_open(), not from swap_show(): seq_read_iter() takes
 * the seq_file's mutex, and taking one seq_file mutex under another (our
 * own, held around ->show()) is recursive locking to lockdep.
 */
static char *proc_swaps_read(void)
{
	struct file *f = filp_open("/proc/swaps", O_RDONLY, 0);
	struct seq_file *seq;
	struct kiocb kiocb;
	struct iov_iter iter;
	struct kvec kv;
	char *buf;
	ssize_t n = 0;
	size_t len = 0;

	if (IS_ERR(f))
		return PTR_ERR(f) == -ENOMEM ? ERR_CAST(f) : NULL;
	seq = f->private_data;
	buf = ERR_PTR(-EIO);
	if (!seq || seq->file != f)
		goto out;
	buf = kvmalloc(PROC_SWAPS_MAX, GFP_KERNEL);
	if (!buf) {
		buf = ERR_PTR(-ENOMEM);
		goto out;
	}
	init_sync_kiocb(&kiocb, f);
	while (len < PROC_SWAPS_MAX - 1) {
		kv.iov_base = buf + len;
		kv.iov_len = PROC_SWAPS_MAX - 1 - len;
		iov_iter_kvec(&iter, ITER_DEST, &kv, 1, kv.iov_len);
		n = seq_read_iter(&kiocb, &iter);
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (n < 0) {
		kvfree(buf);
		buf = ERR_PTR(n);
	}
out:
	filp_close(f, NULL);
	return buf;
}

/*
 * The device lines and the total, from a copy of /proc/swaps.  The copy
 * is not modified: seq_read() calls ->show() again with a bigger buffer
 * when the output overflows the first one.
 */
static void swap_show_devices(struct seq_file *m, const char *swaps)
{
	unsigned long total_kb = 0;
	const char *line, *end;
	struct swap_dev d;
	char buf[320];
	size_t n;

	/* The first line is the header. */
	for (line = swaps ? strchr(swaps, '\n') : NULL; line && *++line; line = end) {
		end = strchrnul(line, '\n');
		n = min_t(size_t, end - line, sizeof(buf) - 1);
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (!*end)
			end = NULL;
		if (sscanf(buf, "%255s %15s %lu %lu %d", d.name, d.type,
			   &d.size_kb, &d.used_kb, &d.prio) != 5)
			continue;
		total_kb += d.size_kb;
		seq_printf(m, "device %s type %s size_kb %lu used_kb %lu priority %d\n",
			   d.name, d.type, d.size_kb, d.used_kb, d.prio);
	}
	seq_printf(m, "swap_total_kb %lu\n", total_kb);
}

static int swap_show(struct seq_file *m, void *v)
{
	struct swap_stats s;
	int i;

	seq_printf(m, "swap_free_kb %ld\n",
		   get_nr_swap_pages() << (PAGE_SHIFT - 10));
	swap_show_devices(m, m->private);
	mutex_lock(&swap_group.lock);
	memlens_stats_read(&swap_group, &swap_group.global, s.stat);
	mutex_unlock(&swap_group.lock);
	for (i = 0; i < SW_NR; i++)
		seq_printf(m, "%s %llu\n", swap_stat_names[i], s.stat[i]);
	return 0;
}

/*
 * A copy of /proc/swaps is taken at open and parsed by swap_show(): the
 * device lines come from one snapshot per open.  A failure to take it
 * (other than a missing procfs) fails the open, rather than showing no
 * devices.
 */
static int swap_open(struct inode *inode, struct file *file)
{
	char *swaps = proc_swaps_read();
	int ret;

	if (IS_ERR(swaps))
		return PTR_ERR(swaps);
	ret = single_open(file, swap_show, swaps);
	if (ret)
		kvfree(swaps);
	return ret;
}

static int swap_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	kvfree(m->private);
	return single_release(inode, file);
}

static const struct file_operations swap_fops = {
	.owner		= THIS_MODULE,
	.open		= swap_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= swap_release,
};

/**
 * memlens_swap_reset - make the swap event counters read zero
 *
 * swap_total_kb, swap_free_kb and the device lines are states, not
 * counters, and are not affected.
 */
void memlens_swap_reset(void)
{
	memlens_stats_reset(&swap_group);
}

static int proc_swap_show(struct seq_file *m, void *v)
{
	struct proc_swap *ps = m->private;
	struct memlens_pt_counts c;
	struct swap_stats s;
	int ret;

	/* A process gone leaves the line out; anything else is an error. */
	ret = memlens_walk_proc_all(ps->ps.proc, &c);
	if (ret && ret != -ESRCH)
		return ret;
	if (!ret)
		seq_printf(m, "swap_entries %lu\n", c.swap_entries);
	mutex_lock(&swap_group.lock);
	memlens_stats_read(&swap_group, &ps->ps.stats, s.stat);
	mutex_unlock(&swap_group.lock);
	seq_printf(m, "swapin_major %llu\n", s.stat[SW_SWAPIN_MAJOR]);
	seq_printf(m, "swapcache_minor %llu\n", s.stat[SW_SWAPCACHE_MINOR]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(proc_swap);

/* Hook: a process starts being tracked; memlens_track_mutex is held. */
static int proc_swap_attach(struct memlens_proc *p)
{
	return PTR_ERR_OR_ZERO(memlens_proc_stats_attach(p, MEMLENS_SLOT_SWAP,
			&swap_group, sizeof(struct proc_swap), NULL, "swap",
			&proc_swap_fops));
}

/* Hook: the files are gone and no probe sees @p any more. */
static void proc_swap_detach(struct memlens_proc *p)
{
	memlens_proc_stats_detach(p, MEMLENS_SLOT_SWAP, &swap_group);
}

static const struct memlens_proc_hooks proc_swap_hooks = {
	.name = "swap",
	.attach = proc_swap_attach,
	.detach = proc_swap_detach,
};

int memlens_swap_init(void)
{
	int ret = -ENOENT;
	int i;

	memlens_stats_group_init(&swap_group, &swap_pcpu,
				 sizeof(struct swap_stats), NULL);
	for (i = 0; i < ARRAY_SIZE(swap_read_symbols) && ret; i++) {
		swap_read_kprobe.addr = NULL;
		swap_read_kprobe.symbol_name = swap_read_symbols[i];
		ret = register_kprobe(&swap_read_kprobe);
	}
	if (ret) {
		pr_err("cannot probe the swap-in path: %d\n", ret);
		return ret;
	}
	ret = register_kprobe(&swap_write_kprobe);
	if (ret) {
		pr_err("cannot probe __swap_writepage: %d\n", ret);
		goto err_read;
	}
	swapfault_kretprobe.maxactive = max(64U, 8 * num_possible_cpus());
	ret = register_kretprobe(&swapfault_kretprobe);
	if (ret) {
		pr_err("cannot probe do_swap_page: %d\n", ret);
		goto err_write;
	}
	ret = memlens_debugfs_file("swap", 0400, memlens_debugfs_root, NULL,
				   &swap_fops);
	if (!ret)
		ret = memlens_proc_hooks_register(&proc_swap_hooks);
	if (ret)
		goto err_fault;
	return 0;

err_fault:
	unregister_kretprobe(&swapfault_kretprobe);
err_write:
	unregister_kprobe(&swap_write_kprobe);
err_read:
	unregister_kprobe(&swap_read_kprobe);
	return ret;
}

/* For memlens_acct_exit(), which unregisters it with the others. */
struct kretprobe *memlens_swap_kretprobe(void)
{
	return &swapfault_kretprobe;
}

/* The kprobes; the kretprobe is memlens_acct_exit()'s. */
void memlens_swap_exit(void)
{
	struct kprobe *kps[] = { &swap_write_kprobe, &swap_read_kprobe };

	/* one RCU grace period for both */
	unregister_kprobes(kps, ARRAY_SIZE(kps));
}
