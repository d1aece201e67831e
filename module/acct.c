// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: bring the fault, TLB and swap accounting up and down, and the
 * debugfs "reset" file that zeroes all of their counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/kstrtox.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>

#include "acct.h"
#include "memlens.h"

/**
 * memlens_parse_bit - parse a write of "0" or "1", with an optional newline
 * @ubuf: the user's buffer
 * @count: its length
 * @bit: set to 0 or 1
 *
 * Return: 0, -EFAULT, or -EINVAL for anything else ("1 ", "01", "1\0").
 */
int memlens_parse_bit(const char __user *ubuf, size_t count, int *bit)
{
	char buf[4];

	if (!count || count > 2)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	/* a NUL inside ("1\0") makes strlen() shorter than @count */
	if (strlen(buf) != count || (count == 2 && buf[1] != '\n') ||
	    (buf[0] != '0' && buf[0] != '1'))
		return -EINVAL;
	*bit = buf[0] - '0';
	return 0;
}

/* Only "1" (with an optional newline) is accepted. */
static ssize_t reset_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	int bit, ret;

	ret = memlens_parse_bit(ubuf, count, &bit);
	if (ret)
		return ret;
	if (!bit)
		return -EINVAL;
	memlens_faults_reset();
	memlens_tlb_reset();
	memlens_swap_reset();
	return count;
}

static const struct file_operations reset_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = reset_write,
	.llseek = noop_llseek,
};

/**
 * memlens_acct_init - attach the accounting probes and create their files
 *
 * Return: 0, or the first error, with everything attached so far detached.
 */
int memlens_acct_init(void)
{
	int ret;

	ret = memlens_faults_init();
	if (ret)
		return ret;
	ret = memlens_tlb_init();
	if (ret)
		goto err_faults;
	ret = memlens_swap_init();
	if (ret)
		goto err_tlb;
	ret = memlens_debugfs_file("reset", 0200, memlens_debugfs_root, NULL,
				   &reset_fops);
	if (ret)
		memlens_acct_exit();
	return ret;

err_tlb:
	memlens_tlb_exit();
err_faults:
	memlens_faults_exit();
	tracepoint_synchronize_unregister();
	return ret;
}

/**
 * memlens_acct_exit - detach every accounting probe
 *
 * Called after the debugfs files are removed (no reader is left).  On
 * return no probe runs any more.  Grace periods are few, as load/unload is
 * slow under emulation: the tracepoint probes go first, so the RCU grace
 * period that unregister_kretprobe() waits for also covers them (what is
 * left of tracepoint_synchronize_unregister() is the SRCU part).
 */
void memlens_acct_exit(void)
{
	memlens_tlb_exit();
	memlens_faults_exit();
	unregister_kretprobe(memlens_swap_kretprobe());
	memlens_swap_exit();
	synchronize_srcu(&tracepoint_srcu);
}
