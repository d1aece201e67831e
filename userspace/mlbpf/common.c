// SPDX-License-Identifier: GPL-2.0
/*
 * What memlens' BPF loaders share: error text, libbpf's log, and probes of
 * what the running kernel offers (BTF, attach points, fexit).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"

static char last_error[1024];
static bool verbose;

const char *ml_bpf_error(void)
{
	return last_error[0] ? last_error : "unknown error";
}

int ml_bpf_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

unsigned long long ml_bpf_cap_eff(void)
{
	unsigned long long caps = 0;
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

bool ml_bpf_privileged(void)
{
	unsigned long long caps = ml_bpf_cap_eff();

	return (caps >> 21 & 1) ||                     /* CAP_SYS_ADMIN */
	       ((caps >> 39 & 1) && (caps >> 38 & 1)); /* CAP_BPF + CAP_PERFMON */
}

/*
 * The reason a load or attach failed, for errors every program shares: no
 * privilege, no BTF.  Falls back to @what and the errno text.
 */
int ml_bpf_fail_load(int err, const char *what)
{
	if (err > 0)
		err = -err;
	if ((err == -EPERM || err == -EACCES) && !ml_bpf_privileged())
		return ml_bpf_fail(
			err,
			"loading BPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root");
	if (!ml_bpf_have_btf())
		return ml_bpf_fail(
			err,
			"the kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF): %s cannot load",
			what);
	if (err == -EACCES || err == -EINVAL)
		return ml_bpf_fail(
			err,
			"%s: %s (the kernel's verifier or attach check refused it; -v shows its log)",
			what, strerror(-err));
	return ml_bpf_fail(err, "%s: %s", what, strerror(-err));
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void ml_bpf_set_verbose(bool v)
{
	verbose = v;
}

void ml_bpf_init(void)
{
	libbpf_set_print(print_fn);
}

/* The running kernel's version as major * 100 + minor (6.12: 612). */
int ml_kernel_version(void)
{
	int major = 0, minor = 0;
	struct utsname u;

	if (!uname(&u))
		sscanf(u.release, "%d.%d", &major, &minor);
	return major * 100 + minor;
}

bool ml_bpf_have_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

/* Does vmlinux BTF know @name as an attach point of @type? */
bool ml_bpf_have_attach(const char *name, enum bpf_attach_type type)
{
	return ml_bpf_have_btf() && libbpf_find_vmlinux_btf_id(name, type) > 0;
}

/*
 * Can a tracing program of @type (BPF_TRACE_FENTRY/FEXIT) attach to @func?
 * Loads "r0 = 0; exit" and attaches it: some kernels refuse fentry/fexit
 * (EPERM under a lockdown or BPF LSM policy, ENOTSUPP without trampolines)
 * although BTF has the function.
 */
bool ml_bpf_can_trace(const char *func, enum bpf_attach_type type)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	int id, prog, link;

	if (!ml_bpf_have_btf())
		return false;
	id = libbpf_find_vmlinux_btf_id(func, type);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (prog < 0)
		return false;
	link = bpf_raw_tracepoint_open(NULL, prog);
	if (link >= 0)
		close(link);
	close(prog);
	return link >= 0;
}

static bool config_has(const char *config, const char *opt)
{
	char key[128];

	snprintf(key, sizeof(key), "\n%s=y", opt);
	return config && strstr(config, key);
}

/*
 * MAX_SWAPFILES and SWP_MIGRATION_READ of the running kernel
 * (include/linux/swap.h): 32 types, the top ones taken by special entries
 * that depend on the version and on CONFIG_DEVICE_PRIVATE,
 * CONFIG_MIGRATION, CONFIG_MEMORY_FAILURE, CONFIG_PTE_MARKER.  The config
 * comes from /proc/config.gz where the kernel has it, else Debian's
 * choices for its 6.1 and 6.12 kernels (all y but DEVICE_PRIVATE).
 */
void ml_swap_layout(__u32 *max_type, __u32 *migration_first)
{
	static char config[1 << 20];
	const char *cfg = NULL;
	int n, marker, swapin_err, hwpoison, device, migration;
	gzFile gz = gzopen("/proc/config.gz", "r");

	if (gz) {
		config[0] = '\n';
		n = gzread(gz, config + 1, sizeof(config) - 2);
		if (n > 0) {
			config[n + 1] = '\0';
			cfg = config;
		}
		gzclose(gz);
	}
	n = ml_kernel_version();
	migration = !cfg || config_has(cfg, "CONFIG_MIGRATION") ? 3 : 0;
	hwpoison = !cfg || config_has(cfg, "CONFIG_MEMORY_FAILURE") ? 1 : 0;
	device = cfg && config_has(cfg, "CONFIG_DEVICE_PRIVATE") ? 4 : 0;
	/* PTE markers: optional before 6.5, always since. */
	marker = n >= 605 || !cfg || config_has(cfg, "CONFIG_PTE_MARKER") ? 1 : 0;
	/* SWP_SWAPIN_ERROR existed from 6.1 to 6.4. */
	swapin_err = n >= 601 && n < 605 ? 1 : 0;
	*max_type = 32 - device - migration - hwpoison - marker - swapin_err;
	*migration_first = migration ? *max_type + hwpoison : 32;
}

/*
 * Run the iterator @prog once (bound to one task by @linfo where the
 * kernel can, else over every task: the program filters), handing each
 * whole record of @rec_size bytes it writes to @rec.
 */
int ml_bpf_run_iter(struct bpf_program *prog, union bpf_iter_link_info *linfo,
		    void (*rec)(const void *, void *), size_t rec_size, void *ctx)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	struct bpf_link *link;
	char buf[16384];
	size_t have = 0, i;
	ssize_t n;
	int fd, err = 0;

	if (rec_size > sizeof(buf))
		return -EINVAL;

	if (linfo) {
		opts.link_info = linfo;
		opts.link_info_len = sizeof(*linfo);
	}
	if (linfo && !ml_bpf_feat_have(ML_FEAT_ITER_TASK_PID))
		linfo = NULL; /* no task parameter before 6.1: filter in BPF */
	link = bpf_program__attach_iter(prog, linfo ? &opts : NULL);
	if (!link && linfo && errno == ESRCH)
		return 0; /* the task is gone: nothing to iterate */
	if (!link && linfo) {
		ml_bpf_feat_lose(ML_FEAT_ITER_TASK_PID,
				 "attaching an iterator to one task failed: %s", strerror(errno));
		link = bpf_program__attach_iter(prog, NULL);
	}
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		have += n;
		for (i = 0; rec && i + rec_size <= have; i += rec_size)
			rec(buf + i, ctx);
		memmove(buf, buf + i, have - i);
		have -= i;
	}
	if (n < 0)
		err = -errno;
	close(fd);
out:
	bpf_link__destroy(link);
	return err;
}

void ml_bpf_run_stats(struct bpf_object *obj, __u64 *ns, __u64 *runs)
{
	struct bpf_program *p;

	*ns = *runs = 0;
	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		*ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
}
