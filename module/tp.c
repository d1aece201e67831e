// SPDX-License-Identifier: GPL-2.0
/*
 * memlens: attach probes to kernel tracepoints by name.
 *
 * The tracepoint symbols (__tracepoint_tlb_flush, ...) are not exported to
 * modules, so the tracepoint is looked up by walking the kernel's
 * tracepoint table with for_each_kernel_tracepoint().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/string.h>
#include <linux/tracepoint.h>

#include "acct.h"

struct tp_lookup {
	const char *name;
	struct tracepoint *tp;
};

static void tp_match(struct tracepoint *tp, void *priv)
{
	struct tp_lookup *l = priv;

	if (!l->tp && !strcmp(tp->name, l->name))
		l->tp = tp;
}

static struct tracepoint *tp_find(const char *name)
{
	struct tp_lookup l = { .name = name };

	for_each_kernel_tracepoint(tp_match, &l);
	return l.tp;
}

/**
 * memlens_tp_register - attach @probe to the kernel tracepoint @name
 * @name: tracepoint name as in tracefs, without the system ("tlb_flush")
 * @probe: probe function with the tracepoint's prototype, @data first
 * @data: passed to @probe
 *
 * Return: 0, -ENOENT when this kernel has no such tracepoint, or the error
 * of tracepoint_probe_register().
 */
int memlens_tp_register(const char *name, void *probe, void *data)
{
	struct tracepoint *tp = tp_find(name);
	int ret;

	if (!tp) {
		pr_err("no tracepoint %s in this kernel\n", name);
		return -ENOENT;
	}
	ret = tracepoint_probe_register(tp, probe, data);
	if (ret)
		pr_err("cannot attach to tracepoint %s: %d\n", name, ret);
	return ret;
}

/**
 * memlens_tp_unregister - detach a probe attached by memlens_tp_register()
 * @name: tracepoint name
 * @probe: the probe
 * @data: the probe's data
 *
 * The probe may still be running on another CPU on return; the caller
 * must tracepoint_synchronize_unregister() before freeing what it uses.
 */
void memlens_tp_unregister(const char *name, void *probe, void *data)
{
	struct tracepoint *tp = tp_find(name);

	if (tp)
		WARN_ON_ONCE(tracepoint_probe_unregister(tp, probe, data));
}
