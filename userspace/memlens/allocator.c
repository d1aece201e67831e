// SPDX-License-Identifier: GPL-2.0
/*
 * The allocators of run and compare: finding their libraries, and checking
 * that LD_PRELOAD can load one into a command (before it runs: a shared
 * library, a dynamically linked command, no secure-execution mode) and did
 * (while it runs: the library in /proc/PID/maps).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memlens.h"
#include "runner.h"

static const char *const lib_dirs[] = {
	"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
	"/lib/x86_64-linux-gnu",     NULL
};

static const struct {
	const char *name;
	const char *files[3];
} known[] = {
	{ "jemalloc", { "libjemalloc.so.2", "libjemalloc.so" } },
	{ "tcmalloc", { "libtcmalloc_minimal.so.4", "libtcmalloc.so.4" } },
	{ "mimalloc", { "libmimalloc.so.2", "libmimalloc.so" } },
};

/* libmlalloc.so next to this memlens: bin/../lib/libmlalloc.so. */
static int find_mlalloc(char *path, size_t len)
{
	char exe[3072];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	snprintf(path, len, "%s/../lib/libmlalloc.so", exe);
	if (!access(path, R_OK))
		return 0;
	for (int d = 0; lib_dirs[d]; d++) {
		snprintf(path, len, "%s/libmlalloc.so", lib_dirs[d]);
		if (!access(path, R_OK))
			return 0;
	}
	return -1;
}

static int find_base(const char *name, struct ml_allocator *out, char *why, size_t len)
{
	struct stat st;

	if (!strcmp(name, "glibc"))
		return 0;
	if (!strcmp(name, "mlalloc")) {
		if (!find_mlalloc(out->path, sizeof(out->path)))
			return 0;
		snprintf(why, len,
			 "allocator mlalloc not found (build/lib/libmlalloc.so: run make)");
		return ML_EXIT_ERROR;
	}
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		if (strcmp(name, known[k].name))
			continue;
		for (int f = 0; known[k].files[f]; f++)
			for (int d = 0; lib_dirs[d]; d++) {
				snprintf(out->path, sizeof(out->path), "%s/%s", lib_dirs[d],
					 known[k].files[f]);
				if (!access(out->path, R_OK))
					return 0;
			}
		snprintf(why, len,
			 "allocator %s is not installed (no %s in the library directories)", name,
			 known[k].files[0]);
		return ML_EXIT_ERROR;
	}
	if (!strchr(name, '/')) {
		snprintf(
			why, len,
			"unknown allocator '%s' (glibc, mlalloc, jemalloc, tcmalloc, mimalloc or a path to a .so)",
			name);
		return ML_EXIT_USAGE;
	}
	if (stat(name, &st) || !S_ISREG(st.st_mode) || access(name, R_OK)) {
		snprintf(why, len, "allocator '%s': not a readable file", name);
		return ML_EXIT_USAGE;
	}
	snprintf(out->path, sizeof(out->path), "%s", name);
	return 0;
}

/* Does @s start with an environment variable's name and '='? */
static bool is_assignment(const char *s)
{
	const char *p = s;

	if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return false;
	while (*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
	       (*p >= '0' && *p <= '9'))
		p++;
	return *p == '=';
}

/* The variant's "VAR=VALUE" parts of @vars (after NAME:) into @out. */
static int parse_variant(char *vars, struct ml_allocator *out, char *why, size_t len)
{
	char *part = vars, *next;

	while (part) {
		/* a part not starting with VAR= belongs to the value before it */
		for (next = strchr(part, ':'); next && !is_assignment(next + 1);
		     next = strchr(next + 1, ':'))
			;
		if (next)
			*next++ = '\0';
		if (!is_assignment(part)) {
			snprintf(
				why, len,
				"allocator '%s': '%s' is not VAR=VALUE (NAME:VAR=VALUE[:VAR=VALUE...])",
				out->name, part);
			return ML_EXIT_USAGE;
		}
		if (!strncmp(part, "LD_PRELOAD=", 11)) {
			snprintf(
				why, len,
				"allocator '%s': LD_PRELOAD is the allocator's own (give a path instead)",
				out->name);
			return ML_EXIT_USAGE;
		}
		if (out->nenv == ML_ALLOC_ENVS || strlen(part) >= sizeof(out->env[0])) {
			snprintf(why, len, "allocator '%s': at most %d variables of %zu characters",
				 out->name, ML_ALLOC_ENVS, sizeof(out->env[0]) - 1);
			return ML_EXIT_USAGE;
		}
		snprintf(out->env[out->nenv++], sizeof(out->env[0]), "%s", part);
		part = next;
	}
	return 0;
}

int ml_allocator_find(const char *name, struct ml_allocator *out, char *why, size_t len)
{
	char base[4096], *colon;
	int ret;

	memset(out, 0, sizeof(*out));
	if (strlen(name) >= sizeof(out->name) || strlen(name) >= sizeof(base)) {
		snprintf(why, len, "allocator '%.64s...': name too long", name);
		return ML_EXIT_USAGE;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(base, sizeof(base), "%s", name);
	colon = strchr(base, ':');
	if (colon)
		*colon = '\0';
	ret = find_base(base, out, why, len);
	if (!ret && colon)
		ret = parse_variant(colon + 1, out, why, len);
	return ret;
}

/* ELF facts of @path: its type (ET_*) and whether it has a PT_INTERP. */
static int elf_facts(const char *path, int *type, bool *interp)
{
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t n, i;
	Elf *e;
	int fd, ret = -1;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && gelf_getehdr(e, &eh) && !elf_getphdrnum(e, &n)) {
		*type = eh.e_type;
		*interp = false;
		for (i = 0; i < n; i++)
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
				*interp = true;
		ret = 0;
	}
	elf_end(e);
	close(fd);
	return ret;
}

/* The file execvp() would run for @cmd, into @out; -1 if none. */
static int resolve_cmd(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *colon;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK);
	}
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; p; p = colon ? colon + 1 : NULL) {
		colon = strchr(p, ':');
		snprintf(out, len, "%.*s/%s", colon ? (int)(colon - p) : (int)strlen(p), p, cmd);
		if (!access(out, X_OK))
			return 0;
	}
	return -1;
}

/* "#!INTERP ..." of a script into @out; -1 if @path is not one. */
static int script_interp(const char *path, char *out, size_t len)
{
	char line[PATH_MAX + 3];
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f) && line[0] == '#' && line[1] == '!') {
		char *s = line + 2;

		s += strspn(s, " \t");
		s[strcspn(s, " \t\n")] = '\0';
		if (*s) {
			snprintf(out, len, "%s", s);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

int ml_allocator_check(const struct ml_allocator *alloc, char *const argv[], char *why, size_t len)
{
	char file[PATH_MAX], interp[PATH_MAX];
	struct stat st;
	bool has_interp;
	int type;

	if (!alloc->path[0])
		return 0; /* glibc: nothing to load */
	if (elf_facts(alloc->path, &type, &has_interp) || type != ET_DYN) {
		snprintf(why, len, "allocator %s: %s is not a shared library (ELF ET_DYN)",
			 alloc->name, alloc->path);
		return ML_EXIT_USAGE;
	}
	if (resolve_cmd(argv[0], file, sizeof(file)))
		return 0; /* the exec will fail and say so */
	if (!script_interp(file, interp, sizeof(interp)))
		snprintf(file, sizeof(file), "%s", interp);
	if (!stat(file, &st) && (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
				 ((st.st_mode & S_ISGID) && st.st_gid != getgid()))) {
		snprintf(
			why, len,
			"allocator %s cannot load into %s: set%cid (secure-execution mode: the loader ignores LD_PRELOAD)",
			alloc->name, file, (st.st_mode & S_ISUID) ? 'u' : 'g');
		return ML_EXIT_USAGE;
	}
	if (!elf_facts(file, &type, &has_interp) && !has_interp) {
		snprintf(
			why, len,
			"allocator %s cannot load into %s: a static binary (no ELF interpreter: LD_PRELOAD has no effect)",
			alloc->name, file);
		return ML_EXIT_USAGE;
	}
	return 0;
}

/* Is /proc/PID/maps showing @lib?  1 yes, 0 no but libc is mapped, -1 cannot tell. */
int ml_allocator_mapped(pid_t pid, const char *lib)
{
	char path[64], line[PATH_MAX + 128], real[PATH_MAX];
	int found = -1;
	FILE *f;

	if (!realpath(lib, real))
		snprintf(real, sizeof(real), "%s", lib);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '/');

		if (!name)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, real)) {
			found = 1;
			break;
		}
		/* the loader maps LD_PRELOAD libraries before DT_NEEDED ones */
		if (strstr(name, "/libc.so"))
			found = 0;
	}
	fclose(f);
	return found;
}
