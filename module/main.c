// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: what really happens to a process's memory.
 *
 * Module entry points and the debugfs root.  Each mechanism lives in a
 * file of its own and registers its files below memlens_debugfs_root.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "acct.h"
#include "memlens.h"

struct dentry *memlens_debugfs_root;

static int version_show(struct seq_file *m, void *v)
{
	seq_printf(m, "version %s\n", MEMLENS_VERSION);
	seq_printf(m, "format %d\n", MEMLENS_FORMAT_VERSION);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(version);

static int __init memlens_setup(void)
{
	struct dentry *d;
	int ret;

	d = debugfs_create_dir("memlens", NULL);
	if (IS_ERR(d))
		return PTR_ERR(d);
	memlens_debugfs_root = d;

	ret = memlens_debugfs_file("version", 0400, d, NULL, &version_fops);
	if (ret)
		goto err_root;
	/* Per-process files in this order: pagetable, vmas, then acct's. */
	ret = memlens_pagetable_init();
	if (!ret)
		ret = memlens_vmas_init();
	if (!ret)
		ret = memlens_acct_init();
	if (ret)
		goto err_root;
	/* Last: the mechanisms' per-process hooks are registered by now. */
	ret = memlens_track_init();
	if (ret)
		goto err_acct;
	pr_info("loaded, version %s\n", MEMLENS_VERSION);
	return 0;

err_acct:
	/* The files go first: no reader is left when the probes go. */
	debugfs_remove_recursive(d);
	memlens_acct_exit();
	return ret;
err_root:
	debugfs_remove_recursive(d);
	return ret;
}

static int __init memlens_init(void)
{
	int ret;

	memlens_fail_init_begin();
	ret = memlens_setup();
	memlens_fail_init_end();
	return ret;
}

static void __exit memlens_exit(void)
{
	memlens_track_exit();
	debugfs_remove_recursive(memlens_debugfs_root);
	memlens_acct_exit();
	pr_info("unloaded\n");
}

module_init(memlens_init);
module_exit(memlens_exit);

MODULE_DESCRIPTION("memlens: page tables, faults, TLB flushes and swap of a process");
MODULE_AUTHOR("memlens developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(MEMLENS_VERSION);
