// SPDX-License-Identifier: GPL-2.0
/*
 * Choosing the inspector's backend and taking a snapshot with it.
 *
 * auto tries each backend for real, best first: the module's debugfs,
 * then BPF (its programs loaded and run), then /proc, and says which it
 * skipped and why.  A backend named with --backend that cannot run here
 * is refused with its whole reason (exit ML_EXIT_BACKEND), never silently
 * replaced.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "memlens.h"

static const char *const src_names[] = {
	[ML_SRC_NONE] = "unavailable", [ML_SRC_PROC] = "proc",   [ML_SRC_MODULE] = "module",
	[ML_SRC_BPF] = "bpf",          [ML_SRC_PERF] = "perf",   [ML_SRC_MLALLOC] = "mlalloc",
	[ML_SRC_RUSAGE] = "rusage",    [ML_SRC_CLOCK] = "clock",
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

int ml_backend_choose(enum ml_backend want, enum ml_backend *out, char *why, size_t len)
{
	const char *m = NULL, *b = NULL;

	why[0] = '\0';
	*out = want;
	if (want == ML_BACKEND_MODULE)
		m = module_unusable();
	else if (want == ML_BACKEND_BPF)
		b = bpf_unusable();
	if (!m && !b)
		return 0;
	snprintf(why, len, "backend %s unavailable: %s", ml_backend_name(want), m ? m : b);
	return ML_EXIT_BACKEND;
}

/* Append "; @name: @reason" (or the first "@name: @reason") to @why. */
static void skipped(char *why, size_t len, const char *name, const char *reason)
{
	size_t n = strlen(why);

	if (n + 1 < len)
		snprintf(why + n, len - n, "%s%s: %s", n ? "; " : "", name, reason);
}

/* Does @ret say something about the process, which no backend would change? */
static bool process_error(int ret)
{
	return ret == ML_EXIT_NOPROC || ret == ML_EXIT_KTHREAD || ret == ML_EXIT_VANISHED ||
	       ret == ML_EXIT_PERM;
}

const char *ml_backend_unusable(enum ml_backend b)
{
	return b == ML_BACKEND_MODULE ? module_unusable() :
	       b == ML_BACKEND_BPF    ? bpf_unusable() :
					NULL;
}

static const enum ml_backend auto_order[] = { ML_BACKEND_MODULE, ML_BACKEND_BPF };

typedef int (*ml_try_fn)(enum ml_backend backend, void *arg, char *reason, size_t len);

/*
 * Try each backend auto may use, best first, then /proc.  @try returns 0
 * when it took the backend, a status to return at once (the process is
 * gone or not ours: no other backend would do better), or -1 with its
 * reason in @reason to go on to the next.  "name: reason" of every backend
 * passed over goes to @why.
 */
static int try_auto(ml_try_fn try, void *arg, char *why, size_t len)
{
	char reason[ML_WHY_LEN];
	const char *u;
	size_t i;
	int ret;

	why[0] = '\0';
	for (i = 0; i < sizeof(auto_order) / sizeof(auto_order[0]); i++) {
		u = ml_backend_unusable(auto_order[i]);
		if (!u) {
			reason[0] = '\0';
			ret = try(auto_order[i], arg, reason, sizeof(reason));
			if (ret >= 0)
				return ret;
			u = reason;
		}
		skipped(why, len, ml_backend_name(auto_order[i]), u);
	}
	return try(ML_BACKEND_PROC, arg, reason, sizeof(reason));
}

struct snapshot_try {
	pid_t pid;
	struct ml_snapshot *ss;
};

static int snapshot_try(enum ml_backend backend, void *arg, char *reason, size_t len)
{
	struct snapshot_try *t = arg;
	int ret = ml_snapshot_take(t->pid, backend, t->ss);

	if (!ret || process_error(ret) || backend == ML_BACKEND_PROC)
		return ret;
	snprintf(reason, len, "%s", t->ss->errmsg);
	ml_snapshot_free(t->ss);
	return -1;
}

int ml_snapshot_best(pid_t pid, enum ml_backend want, struct ml_snapshot *ss, char *why, size_t len)
{
	struct snapshot_try t = { .pid = pid, .ss = ss };
	int ret;

	if (want == ML_BACKEND_AUTO)
		return try_auto(snapshot_try, &t, why, len);
	why[0] = '\0';
	ret = ml_snapshot_take(pid, want, ss);
	if (ret == ML_EXIT_ERROR && want != ML_BACKEND_PROC) {
		ss->err = ret = ML_EXIT_BACKEND;
		snprintf(why, len, "backend %s failed: %s", ml_backend_name(want), ss->errmsg);
		snprintf(ss->errmsg, sizeof(ss->errmsg), "%s", why);
	}
	return ret;
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

/* Open a session with @backend, which must not be auto. */
static int session_open_one(struct ml_session *s, enum ml_backend backend, char *why, size_t len)
{
	int ret;

	s->backend = backend;
	if (backend == ML_BACKEND_MODULE && !ml_module_tracked(s->pid)) {
		ret = ml_module_track(s->pid, true);
		if (ret && ret != -EEXIST) {
			snprintf(why, len, "memlens.ko refused to track %d: %s", (int)s->pid,
				 strerror(-ret));
			return ret;
		}
		s->tracked_here = !ret;
	} else if (backend == ML_BACKEND_BPF) {
		return ml_bpf_session_open(s->pid, &s->bpf, why, len);
	}
	return 0;
}

static int session_try(enum ml_backend backend, void *arg, char *reason, size_t len)
{
	return session_open_one(arg, backend, reason, len) ? -1 : 0;
}

int ml_session_open(struct ml_session *s, pid_t pid, enum ml_backend backend, char *why, size_t len)
{
	char reason[ML_WHY_LEN];

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if (backend == ML_BACKEND_AUTO)
		return try_auto(session_try, s, why, len);
	why[0] = '\0';
	if (!session_open_one(s, backend, reason, sizeof(reason)))
		return 0;
	snprintf(why, len, "backend %s failed: %s", ml_backend_name(backend), reason);
	return ML_EXIT_BACKEND;
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
