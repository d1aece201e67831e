// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing and checking the PID a command is pointed at, and finding the
 * processes --comm and --cgroup name (target.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "memlens.h"
#include "report.h"
#include "target.h"

#define ML_PID_MAX 4194304    /* PID_MAX_LIMIT on 64-bit */
#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

int ml_pid_parse(const char *s, pid_t *out)
{
	long v = 0;

	if (!s || !*s || *s == '0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
		if (v > ML_PID_MAX)
			return -EINVAL;
	}
	*out = (pid_t)v;
	return 0;
}

int ml_target_check(const char *cmd, pid_t *pid)
{
	uint64_t tgid = 0, ppid = 0, minflt, majflt;
	unsigned long flags;
	char comm[64], state;
	int ret;

	ret = ml_proc_stat(*pid, comm, sizeof(comm), &state, &minflt, &majflt, &flags);
	if (ret) {
		fprintf(stderr, "memlens %s: no such process: %d\n", cmd, *pid);
		return ML_EXIT_NOPROC;
	}
	if (!ml_proc_status_kb(*pid, "Tgid", &tgid) && tgid && (pid_t)tgid != *pid) {
		fprintf(stderr,
			"memlens %s: %d is a thread of process %llu: reporting the process\n", cmd,
			*pid, (unsigned long long)tgid);
		*pid = (pid_t)tgid;
		return ml_target_check(cmd, pid);
	}
	if (flags & PF_KTHREAD) {
		fprintf(stderr, "memlens %s: %d is a kernel thread (%s): it has no user memory\n",
			cmd, *pid, comm);
		return ML_EXIT_KTHREAD;
	}
	if (state == 'Z' || state == 'X') {
		ml_proc_status_kb(*pid, "PPid", &ppid);
		fprintf(stderr,
			"memlens %s: process %d (%s) is a zombie: it exited and its parent %llu has not reaped it\n",
			cmd, *pid, comm, (unsigned long long)ppid);
		return ML_EXIT_VANISHED;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* Append @pid to *@out (of *@n, room for *@cap); -ENOMEM. */
static int add_pid(pid_t **out, int *n, int *cap, pid_t pid)
{
	if (*n == *cap) {
		pid_t *p = realloc(*out, (*cap = *cap ? 2 * *cap : 64) * sizeof(**out));

		if (!p)
			return -ENOMEM;
		*out = p;
	}
	(*out)[(*n)++] = pid;
	return 0;
}

/* A process with user memory (not a thread id, not a kernel thread, not a zombie). */
static bool user_process(pid_t pid, char *comm, size_t len)
{
	uint64_t minflt, majflt, tgid = 0;
	unsigned long flags;
	char state;

	if (ml_proc_stat(pid, comm, len, &state, &minflt, &majflt, &flags))
		return false;
	if (!ml_proc_status_kb(pid, "Tgid", &tgid) && tgid && (pid_t)tgid != pid)
		return false;
	return !(flags & PF_KTHREAD) && state != 'Z' && state != 'X';
}

static int by_comm(const char *name, pid_t **out, int *n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int cap = 0, ret = 0;

	if (!d)
		return -errno;
	while (!ret && (e = readdir(d))) {
		char comm[64];
		pid_t pid;

		if (ml_pid_parse(e->d_name, &pid) || !user_process(pid, comm, sizeof(comm)))
			continue;
		if (!strcmp(comm, name))
			ret = add_pid(out, n, &cap, pid);
	}
	closedir(d);
	return ret;
}

/* PATH's cgroup.procs: PATH itself, or PATH under a cgroup mount (v2 first). */
static FILE *open_procs(const char *path, char *where, size_t len)
{
	char line[4096], dir[4096], type[64];
	FILE *m, *f;

	snprintf(where, len, "%s/cgroup.procs", path);
	if (path[0] == '/' && (f = fopen(where, "re")))
		return f;
	for (int pass = 0; pass < 2; pass++) {
		m = fopen("/proc/self/mounts", "re");
		if (!m)
			return NULL;
		while (fgets(line, sizeof(line), m)) {
			if (sscanf(line, "%*s %4095s %63s", dir, type) != 2 ||
			    strcmp(type, pass ? "cgroup" : "cgroup2"))
				continue;
			snprintf(where, len, "%s/%s/cgroup.procs", dir, path + strspn(path, "/"));
			f = fopen(where, "re");
			if (f) {
				fclose(m);
				return f;
			}
		}
		fclose(m);
	}
	return NULL;
}

static int by_cgroup(const char *path, pid_t **out, int *n, char *where, size_t len)
{
	int cap = 0, ret = 0;
	FILE *f = open_procs(path, where, len);
	char comm[64];
	long pid;

	if (!f)
		return -ENOENT;
	while (!ret && fscanf(f, "%ld", &pid) == 1)
		if (user_process((pid_t)pid, comm, sizeof(comm)))
			ret = add_pid(out, n, &cap, (pid_t)pid);
	fclose(f);
	return ret;
}

/* "memlens CMD: ..." on stderr; nothing when @cmd is NULL. */
static void __attribute__((format(printf, 2, 3))) note(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (!cmd)
		return;
	fprintf(stderr, "memlens %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ml_target_resolve(const char *cmd, const char *comm, const char *cgroup, pid_t **out, int *n)
{
	char where[8192];
	int ret;

	*out = NULL;
	*n = 0;
	if (comm && strlen(comm) > 15) {
		note(cmd,
		     "--comm '%s' is longer than 15 characters: the kernel keeps 15 (/proc/PID/comm)",
		     comm);
		return ML_EXIT_USAGE;
	}
	if (comm && !*comm) {
		note(cmd, "--comm wants a name");
		return ML_EXIT_USAGE;
	}
	ret = comm ? by_comm(comm, out, n) : by_cgroup(cgroup, out, n, where, sizeof(where));
	if (ret == -ENOENT && cgroup) {
		note(cmd, "no such cgroup: %s (no cgroup.procs under any cgroup mount)", cgroup);
		return ML_EXIT_NOPROC;
	}
	if (ret) {
		note(cmd, "cannot list the processes of %s: %s", comm ? "/proc" : where,
		     strerror(-ret));
		return ML_EXIT_ERROR;
	}
	if (!*n) {
		if (comm)
			note(cmd, "no process named '%s'", comm);
		else
			note(cmd, "no process in cgroup %s (%s)", cgroup, where);
		free(*out);
		*out = NULL;
		return ML_EXIT_NOPROC;
	}
	qsort(*out, *n, sizeof(**out), cmp_pid);
	return 0;
}

int ml_target_one(const char *cmd, const char *comm, const char *cgroup, pid_t *pid)
{
	pid_t *pids;
	int n, ret = ml_target_resolve(cmd, comm, cgroup, &pids, &n);

	if (ret)
		return ret;
	if (n > 1) {
		char list[256];
		size_t o = 0;

		for (int i = 0; i < n && o < sizeof(list) - 16; i++)
			o += snprintf(list + o, sizeof(list) - o, "%s%d", i ? "," : "", pids[i]);
		fprintf(stderr,
			"memlens %s: %s matches %d processes (%s%s): give one with its PID\n", cmd,
			comm ? "--comm" : "--cgroup", n, list,
			o >= sizeof(list) - 16 ? ",..." : "");
		free(pids);
		return ML_EXIT_USAGE;
	}
	*pid = pids[0];
	free(pids);
	return 0;
}

enum {
	OPT_COMM = 0x5100,
	OPT_CGROUP
};

static const struct argp_option target_options[] = {
	{ "comm", OPT_COMM, "NAME", 0, "instead of a PID: the process named NAME (one only)", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "instead of a PID: the process in cgroup PATH (a directory, or as /proc/PID/cgroup says; one only)",
	  0 },
	{ 0 }
};

static const struct argp_option filter_options[] = {
	{ "comm", OPT_COMM, "NAME", 0, "only the processes named NAME (/proc/PID/comm)", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "only the processes in cgroup PATH (a directory, or as /proc/PID/cgroup says)", 0 },
	{ 0 }
};

static error_t parse_target(int key, char *arg, struct argp_state *state)
{
	struct ml_target_opts *t = state->input;

	switch (key) {
	case OPT_COMM:
		t->comm = arg;
		return 0;
	case OPT_CGROUP:
		t->cgroup = arg;
		return 0;
	case ARGP_KEY_END:
		if (t->comm && t->cgroup) {
			argp_error(state, "give --comm or --cgroup, not both");
			return EINVAL;
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_target_argp = {
	.options = target_options,
	.parser = parse_target,
};

const struct argp ml_target_filter_argp = {
	.options = filter_options,
	.parser = parse_target,
};

error_t ml_parse_target_pid(struct argp_state *state, int key, char *arg, const char **pid,
			    const struct ml_target_opts *t)
{
	if (key == ARGP_KEY_END && ml_target_given(t)) {
		if (*pid) {
			argp_error(state, "give a PID or --comm/--cgroup, not both");
			return EINVAL;
		}
		return 0;
	}
	return ml_parse_one_pid(state, key, arg, pid);
}
