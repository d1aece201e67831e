// SPDX-License-Identifier: GPL-2.0
/*
 * Which allocator runs this process: for the packaging suite (run), built
 * twice from the packaged files.  With -DLINKED it is linked by
 * `pkg-config --libs mlalloc` (and libmlalloc-inspect.a); without, it
 * knows nothing of libmlalloc and meets it only through LD_PRELOAD.
 *
 * Prints "malloc PATH" (the file the dynamic loader took malloc from,
 * dladdr), "mlalloc_malloc yes|no" (is malloc the same function as
 * libmlalloc's mlalloc_malloc), "version V|none" (mlalloc_version), and
 * with -DLINKED "inspect ok|ERR" (mlalloc_inspect_find on this process
 * finds the mlalloc_introspect the loader resolves) and "usable N" for a
 * 100-byte block.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef LINKED
#include <mlalloc.h>
#endif

int main(void)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	void *mm = dlsym(RTLD_DEFAULT, "mlalloc_malloc");
	const char *ver = dlsym(RTLD_DEFAULT, "mlalloc_version");
	Dl_info info = { 0 };
	void *p;

	if (!m || !dladdr(m, &info) || !info.dli_fname) {
		fprintf(stderr, "probe: no malloc in the global scope\n");
		return 1;
	}
	printf("malloc %s\n", info.dli_fname);
	printf("mlalloc_malloc %s\n", mm && mm == m ? "yes" : "no");
	printf("version %s\n", ver ? ver : "none");
	p = malloc(100);
	if (!p)
		return 1;
#ifdef LINKED
	{
		uint64_t addr = 0;
		int ret = mlalloc_inspect_find(getpid(), &addr);

		if (ret)
			printf("inspect %d\n", ret);
		else if (addr != (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "mlalloc_introspect"))
			printf("inspect wrong-address\n");
		else
			printf("inspect ok\n");
		printf("usable %zu\n", mlalloc_usable_size(p));
	}
#endif
	free(p);
	return 0;
}
