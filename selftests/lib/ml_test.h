/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by memlens' kselftest programs.
 */
#ifndef ML_TEST_H
#define ML_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Output and status of a command run by ml_run(). */
struct ml_result {
	int status;		/* exit code, or 128 + signal */
	char out[65536];	/* stdout, NUL-terminated, truncated to fit */
	char err[16384];	/* stderr, likewise */
};

static inline void ml_drain(int fd, char *buf, size_t size, size_t *len, int *open)
{
	ssize_t n = read(fd, buf + *len, size - 1 - *len);

	if (n > 0)
		*len += n;
	else if (*len < size - 1)
		*open = 0;
	else {
		char sink[4096];	/* buffer full: keep reading, drop the rest */

		if (read(fd, sink, sizeof(sink)) <= 0)
			*open = 0;
	}
	buf[*len] = '\0';
}

/* Run argv (searched in PATH) with stdin from /dev/null; -1 if it could not start. */
static inline int ml_run(struct ml_result *r, char *const argv[])
{
	int po[2], pe[2], st, oo = 1, eo = 1;
	size_t lo = 0, le = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (oo || eo) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (oo && p[0].revents)
			ml_drain(po[0], r->out, sizeof(r->out), &lo, &oo);
		if (eo && p[1].revents)
			ml_drain(pe[0], r->err, sizeof(r->err), &le, &eo);
		if (!oo)
			p[0].fd = -1;
	}
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/*
 * A child's last step once its layout is built: tell the parent on @fd
 * (one byte), then wait to be killed.  _exit(@code) if the parent is gone.
 */
static inline void __attribute__((noreturn)) ml_ready_then_pause(int fd, int code)
{
	if (write(fd, "r", 1) != 1)
		_exit(code);
	for (;;)
		pause();
}

/* "memlens CMD PID" through ml_run(). */
static inline int ml_run_memlens_pid(struct ml_result *r, const char *cmd, pid_t pid)
{
	char spid[16];
	char *argv[] = { "memlens", (char *)cmd, spid, NULL };

	snprintf(spid, sizeof(spid), "%d", pid);
	return ml_run(r, argv);
}

/*
 * A copy of the program @name, as found in PATH, that any user can run:
 * for the tests that drop to user nobody before running a program of the
 * tree.  build/bin may lie under a directory only root can traverse (a
 * clone in /root, or under mktemp -d: both 0700), where nobody's exec
 * fails with EACCES and the test saw exit 127 instead of what the program
 * says.  The copy is DIR/NAME, DIR a fresh directory under /tmp (not
 * $TMPDIR, which may be private too) made 0755, the file 0755: the same
 * program, run from where nobody can reach it.  ml_copy_remove() removes
 * both.  0, or -errno with nothing left behind.
 */
struct ml_copy {
	char dir[32];
	char path[PATH_MAX];
};

static inline void ml_copy_remove(struct ml_copy *c)
{
	if (c->path[0])
		unlink(c->path);
	if (c->dir[0])
		rmdir(c->dir);
	memset(c, 0, sizeof(*c));
}

static inline int ml_copy_for_all(const char *name, struct ml_copy *c)
{
	const char *p = getenv("PATH"), *e;
	char src[PATH_MAX], buf[65536];
	int in = -1, out = -1, err = 0;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	for (; p && *p && in < 0; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		if ((size_t)snprintf(src, sizeof(src), "%.*s/%s", (int)(e - p), p,
				     name) < sizeof(src) && !access(src, X_OK))
			in = open(src, O_RDONLY | O_CLOEXEC);
	}
	if (in < 0)
		return -ENOENT;
	strcpy(c->dir, "/tmp/memlens-bin.XXXXXX");
	if (!mkdtemp(c->dir)) {
		err = -errno;
		close(in);
		memset(c, 0, sizeof(*c));
		return err;
	}
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, name);
	if (chmod(c->dir, 0755))
		err = -errno;
	else
		out = open(c->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (!err && out < 0)
		err = -errno;
	while (!err && (n = read(in, buf, sizeof(buf))) != 0)
		if (n < 0 || write(out, buf, n) != n)
			err = -(errno ? errno : EIO);
	if (!err && fchmod(out, 0755))
		err = -errno;
	if (out >= 0 && close(out) && !err)
		err = -errno;
	close(in);
	if (err)
		ml_copy_remove(c);
	return err;
}

/*
 * Run "memlens ARGS..." (@args: NULL-terminated, without the program) as
 * user nobody, from a copy nobody can reach (ml_copy_for_all()), into @r,
 * which must be shared memory (MAP_SHARED: the run happens in a child).
 * 0, or -1 if it could not be run.  Needs root.
 */
static inline int ml_run_memlens_as_nobody(struct ml_result *r, char *const args[])
{
	struct ml_copy bin;
	char *argv[16];
	int i, st;
	pid_t pid;

	if (ml_copy_for_all("memlens", &bin))
		return -1;
	argv[0] = bin.path;
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(ml_run(r, argv) ? 3 : 0);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	ml_copy_remove(&bin);
	return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Read a whole (small) file into buf; returns bytes read or -errno. */
static inline ssize_t ml_read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	if (n < 0)
		return -errno;
	buf[len] = '\0';
	return len;
}

/* Write @s to the file @path (tracefs, sysfs): 0 or -errno. */
static inline int ml_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC), ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -errno;
	close(fd);
	return ret;
}

/*
 * tlb:tlb_flush in a private tracefs instance, filtered (@filter, e.g.
 * "common_pid == 123"), counted by reason: the independent count the TLB
 * tests compare BPF's with.  ml_tlb_trace_setup() makes the instance,
 * ml_tlb_trace_enable() starts and stops recording, ml_tlb_trace_count()
 * adds the recorded flushes by reason number "(N)" to @by_reason[@n] and
 * removes the instance.  -ENOENT where the kernel has no such event.
 */
#define ML_TRACEFS "/sys/kernel/tracing"

struct ml_tlb_trace {
	char inst[128];
};

static inline int ml_tlb_trace_setup(struct ml_tlb_trace *t, const char *filter)
{
	char path[192];
	int err;

	if (access(ML_TRACEFS "/instances", F_OK))
		mount("nodev", ML_TRACEFS, "tracefs", 0, NULL);
	if (access(ML_TRACEFS "/events/tlb/tlb_flush", F_OK))
		return -ENOENT;
	snprintf(t->inst, sizeof(t->inst), ML_TRACEFS "/instances/ml_tlb_%d", getpid());
	if (mkdir(t->inst, 0700))
		return -errno;
	snprintf(path, sizeof(path), "%s/events/tlb/tlb_flush/filter", t->inst);
	err = ml_write_file(path, filter);
	snprintf(path, sizeof(path), "%s/buffer_size_kb", t->inst);
	ml_write_file(path, "4096");
	return err;
}

static inline int ml_tlb_trace_enable(struct ml_tlb_trace *t, bool on)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/events/tlb/tlb_flush/enable", t->inst);
	return ml_write_file(path, on ? "1" : "0");
}

static inline int ml_tlb_trace_count(struct ml_tlb_trace *t, unsigned long long *by_reason,
				     int n)
{
	static char trace[1 << 20];
	const char *p = trace;
	char path[192];
	int r, err;

	snprintf(path, sizeof(path), "%s/trace", t->inst);
	err = ml_read_file(path, trace, sizeof(trace)) < 0 ? -errno : 0;
	while (!err && (p = strstr(p, "tlb_flush: "))) {
		const char *q = strchr(p, '(');
		const char *eol = strchr(p, '\n');

		if (q && (!eol || q < eol) && sscanf(q, "(%d)", &r) == 1 && r >= 0 && r < n)
			by_reason[r]++;
		p += 10;
	}
	rmdir(t->inst);
	return err;
}

/* minflt and majflt of /proc/@pid/stat (as the kernel charges them); 0 or -1. */
static inline int ml_stat_faults(pid_t pid, unsigned long long *minflt,
				 unsigned long long *majflt)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu",
			 minflt, majflt) != 2)
		return -1;
	return 0;
}

/*
 * The first report of a kernel problem in the kernel log, or NULL.  The
 * same phrases selftests/vm/run looks for on the guest's console (lockdep
 * reports begin with WARNING: or BUG:; the debug kernel's banners mention
 * "lockdep" and "memory leak detector" harmlessly, so neither word alone).
 */
static inline const char *ml_kernel_problem(void)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "Call Trace:", "general protection",
		"possible circular locking", "possible recursive locking",
		"inconsistent lock state", "lockdep is turned off", "KASAN:",
		"UBSAN:", "soft lockup", "suspected memory leak",
		"unreferenced object",
	};
	static char log[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	size_t i;

	if (n < 0)
		return "cannot read the kernel log";
	log[n] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(log, bad[i]))
			return bad[i];
	return NULL;
}

/* SIGKILL @pid, a child of ours, and reap it. */
static inline void ml_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* memlens.ko: $MEMLENS_KO, or where selftests/vm/run puts it. */
static inline const char *ml_ko_path(void)
{
	const char *p = getenv("MEMLENS_KO");

	return p ? p : "/opt/memlens/memlens.ko";
}

/* finit_module() of ml_ko_path(): 0 or -errno. */
static inline int ml_load_module(void)
{
	int fd = open(ml_ko_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* delete_module("memlens"), not waiting for users: 0 or -errno. */
static inline int ml_unload_module(void)
{
	return syscall(SYS_delete_module, "memlens", O_NONBLOCK) ? -errno : 0;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * Every test's time limit (the harness's, 30 s unless the test says) times
 * $ML_SLOWDOWN, which selftests/check sets to DEBUG_SLOWDOWN for the
 * suites of the debug kernel, whose suite limits it scales alike: lockdep,
 * KASAN and kmemleak make everything slower.  Limits sized for the Debian
 * kernels killed tests on the debug kernel (bpf_vs_module's at 30 s) when
 * the host was loaded.  Tests include this after kselftest_harness.h.
 */
static inline void ml_scale_timeouts(void)
{
	const char *s = getenv("ML_SLOWDOWN");
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	int k = s ? atoi(s) : 1;

	if (k <= 1)
		return;
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= k;
}

#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	static void __attribute__((constructor)) \
	__constructor_order_last(void) \
	{ \
		if (!__constructor_order) \
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	} \
	int main(int argc, char **argv) { \
		ml_scale_timeouts(); \
		return test_harness_run(argc, argv); \
	}
#endif

/* Write @s to the file @path in one write(): 0 or -errno. */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : n == (ssize_t)strlen(s) ? 0 : -EIO;
	close(fd);
	return n;
}

#endif /* ML_TEST_H */
