// SPDX-License-Identifier: GPL-2.0
/*
 * Choosing the inspector's backend and taking a snapshot with it.
 *
 * auto: the module's debugfs when memlens.ko is loaded, else BPF when the
 * loaders can run here, else /proc.  A backend the inspector cannot use
 * yet, or that this system cannot offer, is refused with one line saying
 * why (exit ML_EXIT_BACKEND), never silently replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "memlens.h"

static const char *const src_names[] = {
	[ML_SRC_NONE] = "unavailable",
	[ML_SRC_PROC] = "proc",
	[ML_SRC_MODULE] = "module",
	[ML_SRC_BPF] = "bpf",
	[ML_SRC_PERF] = "perf",
	[ML_SRC_MLALLOC] = "mlalloc",
	[ML_SRC_RUSAGE] = "rusage",
	[ML_SRC_CLOCK] = "clock",
};

const char *ml_src_name(enum ml_src src)
{
	return src_names[src];
}

static const char *const backend_names[] = {
	[ML_BACKEND_AUTO] = "auto",
	[ML_BACKEND_MODULE] = "module",
	[ML_BACKEND_BPF] = "bpf",
	[ML_BACKEND_PROC] = "proc",
};

const char *ml_backend_name(enum ml_backend b)
{
	return backend_names[b];
}

int ml_backend_parse(const char *s, enum ml_backend *out)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++)
		if (!strcmp(s, backend_names[i])) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

/* Why the module backend cannot be used here, or NULL if it can. */
static const char *module_unusable(void)
{
	if (access(ML_DEBUGFS, F_OK))
		return "memlens.ko is not loaded (" ML_DEBUGFS " is missing)";
	if (access(ML_DEBUGFS "/track", W_OK))
		return "cannot write " ML_DEBUGFS "/track (needs root)";
	return NULL;
}

/* Why the BPF backend cannot be used here, or NULL if it can. */
static const char *bpf_unusable(void)
{
	if (geteuid() != 0)
		return "loading BPF programs needs root (CAP_BPF and CAP_PERFMON)";
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

int ml_backend_choose(enum ml_backend want, enum ml_backend *out,
		      char *why, size_t len)
{
	const char *m, *b;

	why[0] = '\0';
	switch (want) {
	case ML_BACKEND_PROC:
		*out = ML_BACKEND_PROC;
		return 0;
	case ML_BACKEND_MODULE:
		m = module_unusable();
		if (!m)
			break;
		snprintf(why, len, "backend module unavailable: %s", m);
		return ML_EXIT_BACKEND;
	case ML_BACKEND_BPF:
		b = bpf_unusable();
		if (!b)
			break;
		snprintf(why, len, "backend bpf unavailable: %s", b);
		return ML_EXIT_BACKEND;
	case ML_BACKEND_AUTO:
		m = module_unusable();
		if (!m) {
			*out = ML_BACKEND_MODULE;
			return 0;
		}
		b = bpf_unusable();
		if (!b) {
			snprintf(why, len, "module: %s", m);
			*out = ML_BACKEND_BPF;
			return 0;
		}
		snprintf(why, len, "module: %s; bpf: %s", m, b);
		*out = ML_BACKEND_PROC;
		return 0;
	}
	*out = want;
	return 0;
}

int ml_snapshot_take(pid_t pid, enum ml_backend backend, struct ml_snapshot *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->backend = backend;
	if (backend == ML_BACKEND_MODULE)
		return ml_module_snapshot(pid, ss);
	if (backend == ML_BACKEND_BPF)
		return ml_bpf_snapshot(pid, ss);
	return ml_proc_snapshot(pid, ss);
}

void ml_snapshot_free(struct ml_snapshot *ss)
{
	free(ss->vmas);
	free(ss->vfaults);
	ss->vmas = NULL;
	ss->vfaults = NULL;
	ss->nvmas = ss->nvfaults = 0;
}

int ml_session_open(struct ml_session *s, pid_t pid, enum ml_backend backend,
		    char *why, size_t len)
{
	int ret = 0;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->backend = backend;
	if (backend == ML_BACKEND_MODULE && !ml_module_tracked(pid)) {
		ret = ml_module_track(pid, true);
		if (ret && ret != -EEXIST) {
			snprintf(why, len, "memlens.ko refused to track %d: %s", (int)pid,
				 strerror(-ret));
			return ret;
		}
		s->tracked_here = !ret;
		ret = 0;
	} else if (backend == ML_BACKEND_BPF) {
		ret = ml_bpf_session_open(pid, &s->bpf, why, len);
	}
	return ret;
}

int ml_session_snapshot(struct ml_session *s, struct ml_snapshot *ss)
{
	if (!s->bpf)
		return ml_snapshot_take(s->pid, s->backend, ss);
	memset(ss, 0, sizeof(*ss));
	ss->backend = s->backend;
	return ml_bpf_session_snapshot(s->bpf, s->pid, ss);
}

void ml_session_close(struct ml_session *s)
{
	if (s->tracked_here)
		ml_module_track(s->pid, false);
	ml_bpf_session_close(s->bpf);
	memset(s, 0, sizeof(*s));
}
