// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the BPF-backed commands: PIDs, /proc/PID/maps names, and the
 * counting-mode driver (ml_count_run) that faults, tlb, swap and kcost share.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#include "count.h"
#include "memlens.h"
#include "target.h"

/* /proc/PID/stat of @pid, from the state field on (after "comm) "). */
static int read_stat(pid_t pid, char *buf, size_t size, char **after_comm)
{
	char path[64], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return -1;
	*after_comm = p + 2;
	return 0;
}

bool ml_pid_alive(pid_t pid)
{
	char buf[512], *p;

	if (read_stat(pid, buf, sizeof(buf), &p))
		return false;
	/* A zombie (Z) or dead (X) process has no memory left to fault. */
	return *p != 'Z' && *p != 'X';
}

int ml_maps_name(pid_t pid, unsigned long long start, char *buf, size_t size)
{
	unsigned long long lo, hi;
	char path[64], line[4096 + 128];
	int name_at, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		name_at = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &name_at) < 2 ||
		    lo != start)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, size, "%s", name_at ? line + name_at : "");
		found = 0;
		break;
	}
	fclose(f);
	return found;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

void ml_catch_stop_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

/*
 * Start CMD stopped on a pipe, so that counting starts before its exec.
 * *@execd is the read end of a close-on-exec pipe: EOF once the exec
 * happened, or the exec's errno if it failed.
 */
pid_t ml_spawn_waiting(const char *cmd, char **argv, int *release, int *execd)
{
	int p[2], e[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	if (pipe2(e, O_CLOEXEC)) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int err;

		close(p[1]);
		close(e[0]);
		if (read(p[0], &c, 1) != 1)
			_exit(ML_EXIT_NOEXEC);
		execvp(argv[0], argv);
		err = errno;
		if (write(e[1], &err, sizeof(err)) != sizeof(err))
			_exit(ML_EXIT_NOEXEC);
		_exit(ML_EXIT_NOEXEC);
	}
	close(p[0]);
	close(e[1]);
	*release = p[1];
	*execd = e[0];
	return pid;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000L * 1000 };

	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for the end: child exit, target exit, duration, or a signal. */
int ml_wait_end(const char *cmd, pid_t child, pid_t target, double duration)
{
	return ml_wait_end_tick(cmd, child, target, duration, NULL, NULL);
}

int ml_wait_end_tick(const char *cmd, pid_t child, pid_t target, double duration,
		     int (*tick)(pid_t target, void *ctx), void *ctx)
{
	double end = duration > 0 ? now_s() + duration : 0, next_tick = 0, t;
	int status = 0, wait;

	while (!stop) {
		t = now_s();
		if (tick && t >= next_tick)
			next_tick = t + tick(target, ctx) / 1e3;
		if (child) {
			pid_t r = waitpid(child, &status, WNOHANG);

			if (r == child)
				return WIFEXITED(status) ? WEXITSTATUS(status) :
							   128 + WTERMSIG(status);
		} else if (target && !ml_pid_alive(target)) {
			fprintf(stderr, "memlens %s: process %d exited\n", cmd, target);
			return 0;
		}
		t = now_s();
		if (end && t >= end)
			break;
		wait = 50;
		if (tick && (next_tick - t) * 1e3 < wait)
			wait = next_tick > t ? (int)((next_tick - t) * 1e3) : 0;
		if (wait > 0)
			sleep_ms(wait);
	}
	if (child) {
		kill(child, SIGTERM);
		waitpid(child, &status, 0);
	}
	return 0;
}

const struct argp_option ml_count_options[] = {
	{ "pid", 'p', "PID", 0, "Count for this running process (and system-wide)", 0 },
	{ "duration", 'd', "SECONDS", 0,
	  "Stop after this long (default: until the command or process exits, or Ctrl-C)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages", 0 },
	{ 0 }
};

int ml_count_parse(int key, char *arg, struct argp_state *state)
{
	struct ml_count_args *a = state->input;

	switch (key) {
	case 'p':
		if (ml_pid_parse(arg, &a->pid)) {
			argp_error(state, "invalid PID '%s'", arg);
			return EINVAL;
		}
		return 0;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &a->target;
		return 0;
	case 'd':
		/* a year at most; not NaN, not inf */
		if (ml_parse_double(arg, 0, 31536000, &a->duration) || a->duration <= 0) {
			argp_error(state, "invalid duration '%s'", arg);
			return EINVAL;
		}
		return 0;
	case 'v':
		a->verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		a->cmd_index = state->next - 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_END:
		if (!!a->pid + ml_target_given(&a->target) + !!a->cmd_index > 1) {
			argp_error(state,
				   "give one of -p PID, --comm NAME, --cgroup PATH or a command");
			return EINVAL;
		}
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* The counting options as an argp child, for commands with options of their own. */
static const struct argp_child count_children[] = { { &ml_target_argp, 0, NULL, 0 }, { 0 } };

const struct argp ml_count_argp = {
	.options = ml_count_options,
	.parser = ml_count_parse,
	.children = count_children,
};

/* ml_format_argp (args.c) over the format of a struct ml_count_args. */
static error_t parse_count_format(int key, char *arg, struct argp_state *state)
{
	struct ml_count_args *a = state->input;

	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = &a->format;
	return 0;
}

static const struct argp_child count_format_children[] = { { &ml_format_argp, 0, NULL, 0 }, { 0 } };

const struct argp ml_count_format_argp = {
	.parser = parse_count_format,
	.children = count_format_children,
};

void ml_count_report_begin(struct ml_report *r, const char *cmd, const struct ml_count_args *a,
			   pid_t tgid)
{
	char spid[16];

	ml_report_begin(r, stdout, a->format, cmd);
	if (tgid) {
		snprintf(spid, sizeof(spid), "%d", (int)tgid);
		ml_report_label(r, "pid", spid);
	}
}

void ml_count_report_target(struct ml_report *r, const struct ml_count_args *a, pid_t tgid)
{
	ml_report_section(r, "target", NULL);
	ml_report_str(r, "scope", "scope", tgid ? "process" : "system");
	if (tgid)
		ml_report_int(r, "pid", "pid", tgid);
	if (a->cmd_name) {
		ml_report_str(r, "command", "command", a->cmd_name);
		ml_report_int(r, "exit_status", "exit status", a->cmd_status);
	}
	ml_report_section_end(r);
}

const char *ml_count_why(const char *fmt, ...)
{
	static char bufs[16][320];
	static unsigned int next;
	char *b = bufs[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

const char *ml_count_feat_why(enum ml_bpf_feat f, const char *fallback)
{
	const char *why = ml_bpf_feat_why(f);

	if (why)
		return ml_count_why("without %s (%s): see memlens doctor",
				    ml_bpf_feat_info(f)->name, why);
	return ml_count_why("%s: see memlens doctor", fallback);
}

/* --prometheus: an exposition that says why nothing was measured. */
static void report_failure(const char *cmd, const struct ml_count_args *a, pid_t tgid, int code,
			   const char *message)
{
	struct ml_report r;

	if (a->format != ML_FMT_PROM)
		return;
	ml_count_report_begin(&r, cmd, a, tgid);
	ml_report_error(&r, code, message);
	ml_report_end(&r);
}

/* The exit code for a BPF load that failed with @err (-errno). */
int ml_bpf_exit_code(int err)
{
	if ((err == -EPERM || err == -EACCES) && !ml_bpf_privileged())
		return ML_EXIT_PERM;
	return ML_EXIT_ERROR;
}

void ml_count_close_tlbswap(void *ctx)
{
	ml_tlbswap_close(*(struct ml_tlbswap **)ctx);
	*(struct ml_tlbswap **)ctx = NULL;
}

/* Release CMD; 0 once it exec'd, else ML_EXIT_NOEXEC after one line. */
static int release_child(const char *cmd, pid_t child, int release, int execd, char **argv)
{
	int err = 0;

	if (write(release, "g", 1) != 1)
		kill(child, SIGKILL);
	close(release);
	if (read(execd, &err, sizeof(err)) != sizeof(err))
		err = 0; /* EOF: the exec happened */
	close(execd);
	if (!err)
		return 0;
	fprintf(stderr, "memlens %s: cannot run %s: %s\n", cmd, argv[0], strerror(err));
	waitpid(child, NULL, 0);
	return ML_EXIT_NOEXEC;
}

int ml_count_run(const char *cmd, struct ml_count_args *a, char **argv,
		 const struct ml_count_ops *ops, void *ctx)
{
	pid_t child = 0, target;
	int release = -1, execd = -1, ret, err;
	char who[64];

	ml_bpf_set_verbose(a->verbose);
	if (ml_target_given(&a->target)) {
		ret = ml_target_one(cmd, a->target.comm, a->target.cgroup, &a->pid);
		if (ret) {
			report_failure(cmd, a, 0, ret, "the target was refused (see stderr)");
			return ret;
		}
	}
	if (a->pid) {
		ret = ml_target_check(cmd, &a->pid);
		if (ret) {
			report_failure(cmd, a, a->pid, ret, "the target was refused (see stderr)");
			return ret;
		}
	}
	if (a->cmd_index) {
		child = ml_spawn_waiting(cmd, argv + a->cmd_index, &release, &execd);
		if (child < 0) {
			fprintf(stderr, "memlens %s: fork: %s\n", cmd, strerror(errno));
			return ML_EXIT_ERROR;
		}
	}
	target = child ? child : a->pid;
	ml_catch_stop_signals(); /* before @open says it is counting */
	err = ops->open(target, ctx);
	if (err) {
		fprintf(stderr, "memlens %s: %s\n", cmd, ml_bpf_error());
		report_failure(cmd, a, a->pid, ml_bpf_exit_code(err), ml_bpf_error());
		snprintf(who, sizeof(who), "memlens %s", cmd);
		/* what a load that was refused outright would have lost: beside the point */
		if (ml_bpf_exit_code(err) != ML_EXIT_PERM)
			ml_bpf_print_losses(stderr, who);
		if (child) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		return ml_bpf_exit_code(err);
	}
	if (child) {
		ret = release_child(cmd, child, release, execd, argv + a->cmd_index);
		if (ret) {
			ops->close(ctx);
			return ret;
		}
	}
	ret = ml_wait_end_tick(cmd, child, target, a->duration, ops->tick, ctx);
	if (child && ret)
		fprintf(stderr, "memlens %s: %s exited with status %d\n", cmd, argv[a->cmd_index],
			ret);
	if (child) {
		a->cmd_name = argv[a->cmd_index];
		a->cmd_status = ret;
	}
	err = ops->report(target, ctx);
	ops->close(ctx);
	if (err)
		return err;
	/* the command's own status, as perf stat and time(1) give it */
	return child ? ret : ML_EXIT_OK;
}
