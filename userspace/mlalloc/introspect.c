// SPDX-License-Identifier: GPL-2.0
/*
 * introspect.c - read a live process's allocator from outside
 * (libmlalloc-inspect.a).
 *
 * Finding the structure: every ELF file mapped by the target is a candidate
 * (libmlalloc.so first, then the executable for -lmlalloc builds, then the
 * rest).  For each, the symbol "mlalloc_introspect" is looked up in .dynsym
 * and then .symtab of the file on disk (/proc/PID/map_files would need
 * CAP_SYS_ADMIN; the path in maps is enough for files that were not
 * replaced).  Its address is the load bias (start of the mapping at file
 * offset 0 minus the first PT_LOAD's page-aligned vaddr) plus st_value.
 * The magic number then confirms it.  Reading uses process_vm_readv, which
 * needs the same ptrace permission as reading /proc/PID/mem, and never
 * stops the target.
 */
#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "include/mlalloc.h"

static int vm_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	pid_t pid = *(pid_t *)ctx;
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -1;
}

/* st_value of `name` in the ELF file at `path`, and the page-aligned vaddr
 * of its first PT_LOAD; 0 if absent. */
static int elf_lookup(const char *path, const char *name, uint64_t *value, uint64_t *first_load)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int ret = -ENOENT;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -ENOEXEC;
	}
	uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	size_t sz = (size_t)st.st_size;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > sz ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > sz) {
		ret = -ENOEXEC;
		goto out;
	}
	Elf64_Phdr *ph = (Elf64_Phdr *)(m + eh->e_phoff);
	*first_load = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			*first_load = ph[i].p_vaddr & ~(uint64_t)0xfff;
			break;
		}
	}
	Elf64_Shdr *sh = (Elf64_Shdr *)(m + eh->e_shoff);
	for (int pass = 0; pass < 2 && ret; pass++) {
		uint32_t want = pass ? SHT_SYMTAB : SHT_DYNSYM;
		for (int i = 0; i < eh->e_shnum && ret; i++) {
			if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum)
				continue;
			Elf64_Shdr *strs = &sh[sh[i].sh_link];
			if (sh[i].sh_offset + sh[i].sh_size > sz ||
			    strs->sh_offset + strs->sh_size > sz)
				continue;
			Elf64_Sym *sym = (Elf64_Sym *)(m + sh[i].sh_offset);
			size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
			const char *str = (const char *)m + strs->sh_offset;
			for (size_t k = 0; k < n; k++) {
				if (sym[k].st_name >= strs->sh_size || sym[k].st_shndx == SHN_UNDEF)
					continue;
				if (!strcmp(str + sym[k].st_name, name)) {
					*value = sym[k].st_value;
					ret = 0;
					break;
				}
			}
		}
	}
out:
	munmap(m, sz);
	return ret;
}

struct mapping {
	uint64_t start;
	char path[4096];
};

static int try_mapping(pid_t pid, const struct mapping *mp, bool is_exec, uint64_t *addr)
{
	uint64_t value = 0, first_load = 0;
	if (elf_lookup(mp->path, MLALLOC_INTROSPECT_SYMBOL, &value, &first_load))
		return -ENOENT;
	uint64_t bias = mp->start - first_load;
	Elf64_Ehdr eh;
	int fd = open(mp->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && eh.e_type == ET_EXEC)
			bias = 0;
		close(fd);
	}
	(void)is_exec;
	uint64_t magic;
	if (vm_read(&pid, bias + value, &magic, sizeof(magic)))
		return -errno ? -errno : -EFAULT;
	if (magic != MLALLOC_INTROSPECT_MAGIC)
		return -EPROTO;
	*addr = bias + value;
	return 0;
}

int mlalloc_inspect_find(pid_t pid, uint64_t *addr)
{
	char path[64], line[4400];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	/* candidates: mappings at file offset 0 of a real file */
	struct mapping *maps = NULL;
	size_t n = 0, cap = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pos) <
			    4 ||
		    !pos || off != 0)
			continue;
		char *p = line + pos;
		p[strcspn(p, "\n")] = 0;
		if (p[0] != '/')
			continue;
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(maps[i].path, p);
		if (dup)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct mapping *nm = realloc(maps, cap * sizeof(*maps));
			if (!nm) {
				free(maps);
				fclose(f);
				return -ENOMEM;
			}
			maps = nm;
		}
		maps[n].start = start;
		snprintf(maps[n].path, sizeof(maps[n].path), "%s", p);
		n++;
	}
	fclose(f);

	char exe[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t el = readlink(path, exe, sizeof(exe) - 1);
	exe[el > 0 ? el : 0] = 0;

	int ret = -ENOENT;
	/* pass 0: libmlalloc; pass 1: the executable; pass 2: everything */
	for (int pass = 0; pass < 3 && ret; pass++) {
		for (size_t i = 0; i < n && ret; i++) {
			bool is_lib = strstr(maps[i].path, "libmlalloc") != NULL;
			bool is_exe = !strcmp(maps[i].path, exe);
			if ((pass == 0 && !is_lib) || (pass == 1 && !is_exe) ||
			    (pass == 2 && (is_lib || is_exe)))
				continue;
			int r = try_mapping(pid, &maps[i], is_exe, addr);
			if (!r || r == -EPERM || r == -ESRCH)
				ret = r;
		}
	}
	free(maps);
	return ret;
}

int mlalloc_inspect_read(pid_t pid, uint64_t addr, struct mlalloc_snapshot *out)
{
	return mlalloc_snapshot_read(vm_read, &pid, addr, out);
}
