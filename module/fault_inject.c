// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: fault injection where failslab and fail_page_alloc cannot
 * reach, and where fail-nth cannot aim.
 *
 * alloc_percpu() is served from chunks the percpu allocator already
 * holds; only the rare new chunk goes to the page allocator.  So neither
 * failslab nor fail_page_alloc fails it, and the -ENOMEM paths of the
 * ->attach() hooks that allocate per-CPU counters would never run under
 * test.  memlens_fail_percpu is a fault attribute of probability 0: it
 * never fails by itself, but as a should_fail() call site it counts for
 * a task's /proc/thread-self/fail-nth like any slab or page allocation,
 * and fails when its turn comes (Documentation/fault-injection/
 * fault-injection.rst).
 *
 * fail-nth counts from the system call on, so for finit_module() it
 * spends most of its count in the module loader, whose own failures are
 * not memlens' to handle (some WARN: jump_label_module_notify()).  The
 * fail_init_nth parameter starts the count at memlens_init() instead:
 * its Nth allocation fails, and "memlens: fail_init_nth N: injected" or
 * "... not reached" in the kernel log says whether there was one.
 *
 * Built only with CONFIG_FAULT_INJECTION, which the debug guest kernel
 * has and Debian's kernels do not.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fault-inject.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>

#include "memlens.h"

static DECLARE_FAULT_ATTR(memlens_fail_percpu);

static unsigned int fail_init_nth;
module_param(fail_init_nth, uint, 0);
MODULE_PARM_DESC(fail_init_nth,
		 "fail the Nth allocation of the module's init (fault-injection kernels)");

bool memlens_should_fail_percpu(size_t size)
{
	return should_fail(&memlens_fail_percpu, size);
}

/* At the start of memlens_init(): arm the loading task's fail-nth. */
void memlens_fail_init_begin(void)
{
	if (fail_init_nth)
		WRITE_ONCE(current->fail_nth, fail_init_nth);
}

/* At its end: report, and disarm what was not spent. */
void memlens_fail_init_end(void)
{
	if (!fail_init_nth)
		return;
	pr_info("fail_init_nth %u: %s\n", fail_init_nth,
		READ_ONCE(current->fail_nth) ? "not reached" : "injected");
	WRITE_ONCE(current->fail_nth, 0);
}
