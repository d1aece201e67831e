// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the BPF-backed commands: PIDs and /proc/PID/maps names.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_bpf.h"

int ml_parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -1;
	*pid = v;
	return 0;
}

int ml_check_pid(const char *cmd, pid_t pid)
{
	if (kill(pid, 0) == 0 || errno == EPERM)
		return 0;
	fprintf(stderr, "memlens %s: no process with PID %d (%s)\n", cmd, pid,
		strerror(ESRCH));
	return -1;
}

bool ml_pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* A zombie (Z) or dead (X) process has no memory left to fault. */
	return p && p[1] && p[2] != 'Z' && p[2] != 'X';
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
