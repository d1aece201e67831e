/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens: internal declarations shared by the module's files.
 */
#ifndef _MEMLENS_H
#define _MEMLENS_H

#include <linux/dcache.h>

/*
 * MEMLENS_VERSION (the product version) comes from the top-level VERSION
 * file through Kbuild; this is the version of the debugfs file formats.
 */
#define MEMLENS_FORMAT_VERSION	1

/* Root of everything under /sys/kernel/debug/memlens/. */
extern struct dentry *memlens_debugfs_root;

#endif /* _MEMLENS_H */
