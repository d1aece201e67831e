// SPDX-License-Identifier: GPL-2.0
/*
 * memlens version: the CLI's version, libmlalloc's when the dynamic
 * loader finds libmlalloc.so.1 (already loaded, say by LD_PRELOAD, or on
 * its search path), and, when memlens.ko is loaded, the module's version
 * and debugfs format.  All three come from the top-level VERSION file.
 */
#include <argp.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "memlens.h"

static const struct argp version_argp = {
	.doc = "Print the CLI version, libmlalloc's when the dynamic loader "
	       "finds libmlalloc.so.1, and the module's when it is loaded.\v"
	       "Examples:\n  memlens version\n  memlens --version",
};

#define ML_LIBMLALLOC "libmlalloc.so.1"

/*
 * "library VERSION (PATH)": the one in this process if it has one (the
 * CLI does not link it), else the one dlopen finds, kept open until exit
 * (its constructor registers fork handlers).
 */
static void print_library(void)
{
	struct link_map *map = NULL;
	const char *ver;
	void *h;

	h = dlopen(ML_LIBMLALLOC, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
	if (!h)
		h = dlopen(ML_LIBMLALLOC, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		printf("library unavailable (%s)\n", dlerror());
		return;
	}
	ver = dlsym(h, "mlalloc_version");
	if (dlinfo(h, RTLD_DI_LINKMAP, &map) || !map)
		map = NULL;
	printf("library %s (%s)\n", ver ? ver : "without mlalloc_version",
	       map && map->l_name[0] ? map->l_name : ML_LIBMLALLOC);
}

static int run_version(int argc, char **argv)
{
	char line[128];
	FILE *f;
	int ret;

	ret = ml_parse(&version_argp, argc, argv, 0, NULL);
	if (ret != ML_PARSED)
		return ret;
	printf("cli %s\n", MEMLENS_VERSION);
	print_library();
	f = fopen(ML_DEBUGFS "/version", "r");
	if (!f) {
		printf("module unavailable (%s)\n", strerror(errno));
		return ML_EXIT_OK;
	}
	while (fgets(line, sizeof(line), f))
		printf("module %s", line);
	fclose(f);
	return ML_EXIT_OK;
}

const struct ml_command ml_cmd_version = {
	.name = "version",
	.summary = "print the versions of the CLI, libmlalloc and the module",
	.run = run_version,
};
