// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing and checking the PID a command is pointed at (target.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
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
