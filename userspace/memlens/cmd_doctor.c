// SPDX-License-Identifier: GPL-2.0
/*
 * memlens doctor: which backends work on this machine, and why not.
 *
 * One line per check, "name: ok[: detail]", "name: unavailable: reason" or
 * "name: unknown: reason", in groups: the backends, the module, BTF and the
 * BPF loaders, the BPF features they probe (libmlbpf's own table and
 * probes, features.c), perf events and tracefs, the kernel's config, swap
 * and THP, and this process's privileges.  The BPF loaders are opened for
 * real, on this process, and closed again: what they report is what
 * faults, tlb, swap, vmas and kcost would do here.  doctor reports
 * problems, it does not fail on them: it exits 0 when it could look.
 */
#include <argp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <zlib.h>

#include "backend.h"
#include "memlens.h"
#include "mlbpf.h"
#include "report.h"

enum verdict {
	OK,
	UNAVAILABLE,
	UNKNOWN
};

static const char *const verdicts[] = { "ok", "unavailable", "unknown" };

/* The BPF loaders, opened before anything is printed (they decide features). */
enum prog {
	PROG_FAULTS,
	PROG_FAULTS_LATENCY,
	PROG_TLBSWAP,
	PROG_PGWALK,
	PROG_KCOST,
	PROG_COUNT
};

struct prog_result {
	const char *name;
	bool ok;
	char text[1024]; /* the attach path, or the loader's error */
};

static void check(struct ml_report *r, const char *name, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One check: "name: VERDICT[: text]", or {"status": VERDICT, "detail"|"reason": text}. */
static void check(struct ml_report *r, const char *name, enum verdict v, const char *fmt, ...)
{
	char text[1024], line[1100], label[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt ? fmt : "", ap);
	va_end(ap);
	if (r->fmt == ML_FMT_JSON) {
		ml_report_section(r, name, NULL);
		ml_report_str(r, "status", NULL, verdicts[v]);
		if (text[0])
			ml_report_str(r, v == OK ? "detail" : "reason", NULL, text);
		ml_report_section_end(r);
		return;
	}
	if (r->fmt == ML_FMT_PROM) {
		static bool described;

		/* the reason as a comment, then one sample per check */
		if (text[0])
			ml_report_str(r, name, name, text);
		if (!described)
			fputs("# HELP memlens_doctor_check 1 for each check, labelled by its group, "
			      "name and verdict (ok, unavailable, unknown)\n"
			      "# TYPE memlens_doctor_check gauge\n",
			      r->out);
		described = true;
		fprintf(r->out, "memlens_doctor_check{group=\"%s\",check=\"%s\",status=\"%s\"} 1\n",
			r->path[r->depth], name, verdicts[v]);
		return;
	}
	snprintf(label, sizeof(label), "%s:", name);
	snprintf(line, sizeof(line), "%s%s%s", verdicts[v], text[0] ? ": " : "", text);
	ml_report_str(r, name, label, line);
}

/* Is a filesystem of type @magic mounted at @path? */
static bool mounted(const char *path, long magic)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == magic;
}

/* The first line of @path into @buf, without its newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, len, f);
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

static void check_module(struct ml_report *r)
{
	char line[128], ver[64] = "?", disabled[16];
	int format = -1;
	FILE *f;

	ml_report_section(r, "module", "module");
	if (mounted("/sys/kernel/debug", DEBUGFS_MAGIC))
		check(r, "debugfs", OK, "mounted at /sys/kernel/debug");
	else
		check(r, "debugfs", UNAVAILABLE,
		      "not mounted at /sys/kernel/debug (mount -t debugfs none /sys/kernel/debug)");

	if (access("/proc/modules", F_OK))
		check(r, "modules", UNAVAILABLE,
		      "this kernel cannot load modules (no /proc/modules: built without CONFIG_MODULES)");
	else if (read_line("/proc/sys/kernel/modules_disabled", disabled, sizeof(disabled)) &&
		 strcmp(disabled, "0"))
		check(r, "modules", UNAVAILABLE,
		      "module loading is disabled (/proc/sys/kernel/modules_disabled is %s)",
		      disabled);
	else
		check(r, "modules", OK, "this kernel can load modules");

	f = fopen(ML_DEBUGFS "/version", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "version %63s", ver) != 1)
				sscanf(line, "format %d", &format);
		fclose(f);
		check(r, "memlens_ko", OK, "loaded, version %s, format %d%s", ver, format,
		      strcmp(ver, MEMLENS_VERSION) ? " (not the CLI's " MEMLENS_VERSION ")" : "");
	} else if (!access("/sys/module/memlens", F_OK)) {
		check(r, "memlens_ko", UNAVAILABLE, "loaded, but %s/version is unreadable: %s",
		      ML_DEBUGFS, strerror(errno));
	} else {
		check(r, "memlens_ko", UNAVAILABLE, "not loaded (no /sys/module/memlens)");
	}
	ml_report_section_end(r);
}

static void prog_fail(struct prog_result *p)
{
	p->ok = false;
	snprintf(p->text, sizeof(p->text), "%s", ml_bpf_error());
}

static void prog_ok(struct prog_result *p, const char *path)
{
	p->ok = true;
	snprintf(p->text, sizeof(p->text), "%s", path);
}

/* Open each loader as its command would, on this process, and close it. */
static void open_programs(struct prog_result *p)
{
	struct ml_pagetable pt = {};
	struct ml_tlbswap *t;
	struct ml_faults *f;
	struct ml_kcost *k;
	char buf[256];

	p[PROG_FAULTS].name = "faults";
	if (ml_faults_open(&f, getpid())) {
		prog_fail(&p[PROG_FAULTS]);
	} else {
		prog_ok(&p[PROG_FAULTS], ml_faults_path(f));
		ml_faults_close(f);
	}
	p[PROG_FAULTS_LATENCY].name = "faults_latency";
	if (ml_faults_open_mode(&f, getpid(), ML_FAULTS_LATENCY)) {
		prog_fail(&p[PROG_FAULTS_LATENCY]);
	} else {
		prog_ok(&p[PROG_FAULTS_LATENCY], ml_faults_path(f));
		ml_faults_close(f);
	}
	p[PROG_TLBSWAP].name = "tlb_swap";
	if (ml_tlbswap_open(&t, getpid())) {
		prog_fail(&p[PROG_TLBSWAP]);
	} else {
		prog_ok(&p[PROG_TLBSWAP], ml_tlbswap_path(t));
		ml_tlbswap_close(t);
	}
	p[PROG_PGWALK].name = "pagetable_walk";
	if (ml_pagetable_walk(getpid(), &pt)) {
		prog_fail(&p[PROG_PGWALK]);
	} else {
		snprintf(buf, sizeof(buf),
			 "iter/task_vma, %d-level page tables, direct map base %s", pt.levels,
			 ml_pagetable_method());
		prog_ok(&p[PROG_PGWALK], buf);
		ml_pagetable_free(&pt);
	}
	p[PROG_KCOST].name = "kcost";
	if (ml_kcost_open(&k, getpid())) {
		prog_fail(&p[PROG_KCOST]);
	} else {
		prog_ok(&p[PROG_KCOST], ml_kcost_path(k));
		ml_kcost_close(k);
	}
}

static void check_backends(struct ml_report *r, const struct prog_result *p)
{
	const char *why;

	ml_report_section(r, "backends", "backends");
	why = ml_backend_unusable(ML_BACKEND_MODULE);
	if (why)
		check(r, "module", UNAVAILABLE, "%s", why);
	else
		check(r, "module", OK, "memlens.ko's debugfs (" ML_DEBUGFS ")");
	why = ml_backend_unusable(ML_BACKEND_BPF);
	if (why)
		check(r, "bpf", UNAVAILABLE, "%s", why);
	else if (!p[PROG_PGWALK].ok)
		check(r, "bpf", UNAVAILABLE, "the BPF page-table walk does not load: %s",
		      p[PROG_PGWALK].text);
	else
		check(r, "bpf", OK, "the BPF page-table walk loads");
	if (access("/proc/self/smaps", R_OK))
		check(r, "proc", UNAVAILABLE, "/proc/self/smaps: %s", strerror(errno));
	else
		check(r, "proc", OK, "/proc");
	ml_report_section_end(r);
}

/*
 * The features libmlbpf has no probe of its own for: decided by a trial
 * load in a loader (features.c), unknown when that loader failed first.
 */
static const struct {
	enum ml_bpf_feat feat;
	enum prog prog;
} decided_by_load[] = {
	{ ML_FEAT_SPECIAL_NAMES, PROG_PGWALK },
	{ ML_FEAT_SWAP_IN, PROG_TLBSWAP },
};

static void check_bpf(struct ml_report *r, const struct prog_result *p)
{
	int i, f;

	ml_report_section(r, "bpf", "bpf");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		check(r, "btf", UNAVAILABLE,
		      "no /sys/kernel/btf/vmlinux: %s (the kernel needs CONFIG_DEBUG_INFO_BTF)",
		      strerror(errno));
	else
		check(r, "btf", OK, "/sys/kernel/btf/vmlinux");
	for (i = 0; i < PROG_COUNT; i++)
		check(r, p[i].name, p[i].ok ? OK : UNAVAILABLE, "%s", p[i].text);
	ml_report_section_end(r);

	ml_report_section(r, "bpf_features", "bpf_features");
	for (f = 0; f < ML_FEAT_COUNT; f++) {
		const struct ml_bpf_feat_info *fi = ml_bpf_feat_info(f);
		const char *why, *by = NULL;

		for (i = 0; i < (int)(sizeof(decided_by_load) / sizeof(decided_by_load[0])); i++)
			if (decided_by_load[i].feat == (enum ml_bpf_feat)f &&
			    !p[decided_by_load[i].prog].ok && !ml_bpf_feat_why(f))
				by = p[decided_by_load[i].prog].name;
		if (by) {
			check(r, fi->name, UNKNOWN,
			      "known only from a trial load of %s, which failed", by);
			continue;
		}
		if (ml_bpf_feat_have(f)) {
			check(r, fi->name, OK, "%s", fi->gives);
			continue;
		}
		why = ml_bpf_feat_why(f);
		check(r, fi->name, UNAVAILABLE, "%s (without it: %s)", why ? why : "unknown",
		      fi->without);
	}
	ml_report_section_end(r);
}

/* perf_event_open(@type, @config) on this process, user space only. */
static int perf_open(__u32 type, __u64 config)
{
	struct perf_event_attr attr = {
		.type = type,
		.size = sizeof(attr),
		.config = config,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return syscall(__NR_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void check_perf(struct ml_report *r)
{
	int fd;

	ml_report_section(r, "perf", "perf");
	fd = perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS);
	if (fd >= 0)
		check(r, "page_faults", OK, "software event page-faults");
	else
		check(r, "page_faults", UNAVAILABLE, "perf_event_open(page-faults): %s",
		      strerror(errno));
	if (fd >= 0)
		close(fd);

	/* the counter memlens run and inspect read */
	fd = ml_perf_open_dtlb(getpid(), false);
	if (fd >= 0)
		check(r, "dtlb_read_misses", OK, "hardware dTLB read-miss event");
	else if (errno == ENOENT || errno == EOPNOTSUPP || errno == ENODEV)
		check(r, "dtlb_read_misses", UNAVAILABLE,
		      "not supported: no hardware PMU (perf_event_open: %s)", strerror(errno));
	else
		check(r, "dtlb_read_misses", UNAVAILABLE, "perf_event_open: %s", strerror(errno));
	if (fd >= 0)
		close(fd);

	if (mounted("/sys/kernel/tracing", TRACEFS_MAGIC))
		check(r, "tracefs", OK, "mounted at /sys/kernel/tracing");
	else if (mounted("/sys/kernel/debug/tracing", TRACEFS_MAGIC))
		check(r, "tracefs", OK, "mounted at /sys/kernel/debug/tracing");
	else
		check(r, "tracefs", UNAVAILABLE,
		      "not mounted at /sys/kernel/tracing (mount -t tracefs none /sys/kernel/tracing)");
	ml_report_section_end(r);
}

/*
 * CONFIG_DEBUG_TLBFLUSH from /boot/config-RELEASE or /proc/config.gz
 * (gzread reads a plain file as it is): 'y', 'n', or 0 without a config.
 */
static char config_tlbflush(const char *release, char *src, size_t len)
{
	const char *opt = "CONFIG_DEBUG_TLBFLUSH=y";
	char line[256], path[300];
	const char *paths[] = { path, "/proc/config.gz" };
	char found = 0;
	gzFile gz = NULL;
	size_t i;

	snprintf(path, sizeof(path), "/boot/config-%s", release);
	for (i = 0; i < 2 && !gz; i++)
		gz = gzopen(paths[i], "r");
	if (!gz)
		return 0;
	snprintf(src, len, "%s", paths[i - 1]);
	found = 'n';
	while (gzgets(gz, line, sizeof(line)))
		if (!strncmp(line, opt, strlen(opt)))
			found = 'y';
	gzclose(gz);
	return found;
}

static void check_swap(struct ml_report *r)
{
	char line[512], names[512] = "", name[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f) {
		check(r, "swap", UNKNOWN, "/proc/swaps: %s", strerror(errno));
		return;
	}
	/* after the header: "Filename Type Size Used Priority" */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s", name) == 1 && strcmp(name, "Filename")) {
			size_t o = strlen(names);

			snprintf(names + o, sizeof(names) - o, "%s%s", n ? ", " : "", name);
			n++;
		}
	fclose(f);
	if (n)
		check(r, "swap", OK, "%d device%s: %s", n, n > 1 ? "s" : "", names);
	else
		check(r, "swap", UNAVAILABLE, "no swap devices in /proc/swaps");
}

static void check_kernel(struct ml_report *r, const char *release)
{
	char src[300], thp[256];
	const char *open, *close;

	ml_report_section(r, "kernel", "kernel");
	switch (config_tlbflush(release, src, sizeof(src))) {
	case 'y':
		check(r, "config_debug_tlbflush", OK, "y in %s: nr_tlb_* in /proc/vmstat", src);
		break;
	case 'n':
		check(r, "config_debug_tlbflush", UNAVAILABLE,
		      "not set in %s: no system-wide nr_tlb_* in /proc/vmstat", src);
		break;
	default:
		check(r, "config_debug_tlbflush", UNKNOWN,
		      "no kernel config (/boot/config-%s, /proc/config.gz)", release);
	}
	check_swap(r);
	if (!read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp))) {
		check(r, "thp", UNAVAILABLE,
		      "no /sys/kernel/mm/transparent_hugepage (CONFIG_TRANSPARENT_HUGEPAGE)");
	} else if (!(open = strchr(thp, '[')) || !(close = strchr(open, ']'))) {
		check(r, "thp", UNKNOWN, "no [mode] in transparent_hugepage/enabled: %s", thp);
	} else {
		int n = (int)(close - open - 1);

		if (!strncmp(open + 1, "never", n))
			check(r, "thp", UNAVAILABLE, "mode %.*s", n, open + 1);
		else
			check(r, "thp", OK, "mode %.*s", n, open + 1);
	}
	ml_report_section_end(r);
}

static void check_privileges(struct ml_report *r)
{
	static const struct {
		const char *name;
		int bit;
	} caps[] = { { "cap_bpf", 39 }, { "cap_perfmon", 38 }, { "cap_sys_admin", 21 } };
	unsigned long long eff = ml_bpf_cap_eff();
	uid_t euid = geteuid();
	size_t i;

	ml_report_section(r, "privileges", "privileges");
	if (!euid)
		check(r, "root", OK, "euid 0");
	else
		check(r, "root", UNAVAILABLE,
		      "euid %u: the module's track file and BPF loading need root", euid);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		check(r, caps[i].name, eff >> caps[i].bit & 1 ? OK : UNAVAILABLE,
		      eff >> caps[i].bit & 1 ? "in CapEff" : "not in CapEff (/proc/self/status)");
	ml_report_section_end(r);
}

static const struct argp_option doctor_options[] = {
	{ "verbose", 'v', NULL, 0, "show libbpf's messages while the BPF loaders are tried", 0 },
	{ 0 }
};

static error_t parse_doctor(int key, char *arg, struct argp_state *state)
{
	enum ml_format *fmt = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = fmt;
		return 0;
	case 'v':
		ml_bpf_set_verbose(true);
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "doctor takes no arguments");
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child doctor_children[] = { { &ml_format_argp, 0, NULL, 0 }, { 0 } };

static const struct argp doctor_argp = {
	.options = doctor_options,
	.parser = parse_doctor,
	.children = doctor_children,
	.doc = "Say which backends work on this machine and why not: the module, BTF, "
	       "each BPF loader and the kernel features it probes, perf events, tracefs, "
	       "CONFIG_DEBUG_TLBFLUSH, swap, THP and this process's privileges.  One line per "
	       "check, \"name: ok\", \"name: unavailable: reason\" or \"name: unknown: reason\".  "
	       "The BPF loaders are loaded and attached for real on this process, and "
	       "closed.  Exit 0 whatever it finds.\v"
	       "Examples:\n"
	       "  memlens doctor\n"
	       "  sudo memlens doctor --json | python3 -m json.tool\n"
	       "  sudo memlens doctor --prometheus > /var/lib/node_exporter/memlens_doctor.prom\n"
	       "  MEMLENS_BPF_MASK=bpf_find_vma memlens doctor   (as if the kernel lacked it)",
};

static int run_doctor(int argc, char **argv)
{
	struct prog_result progs[PROG_COUNT] = {};
	enum ml_format fmt = ML_FMT_TEXT;
	struct ml_report r;
	struct utsname u;
	int ret;

	ret = ml_parse(&doctor_argp, argc, argv, 0, &fmt);
	if (ret != ML_PARSED)
		return ret;
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	open_programs(progs);

	ml_report_begin(&r, stdout, fmt, "doctor");
	if (fmt != ML_FMT_TEXT) {
		ml_report_str(&r, "kernel_release", "kernel_release", u.release);
		ml_report_str(&r, "machine", "machine", u.machine);
	} else {
		printf("memlens doctor: Linux %s %s, memlens %s\n", u.release, u.machine,
		       MEMLENS_VERSION);
	}
	check_backends(&r, progs);
	check_module(&r);
	check_bpf(&r, progs);
	check_perf(&r);
	check_kernel(&r, u.release);
	check_privileges(&r);
	ml_report_end(&r);
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_doctor = {
	.name = "doctor",
	.summary = "which backends work on this machine, and why not",
	.run = run_doctor,
};
