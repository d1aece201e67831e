// SPDX-License-Identifier: GPL-2.0
/*
 * memlens version: the CLI's version and, when memlens.ko is loaded, the
 * module's version and debugfs format.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "memlens.h"

static const struct argp version_argp = {
	.doc = "Print the CLI version, and the module's when it is loaded.\v"
	       "Example:\n  memlens version",
};

static int run_version(int argc, char **argv)
{
	char line[128];
	FILE *f;
	int ret;

	ret = ml_parse(&version_argp, argc, argv, 0, NULL);
	if (ret != ML_PARSED)
		return ret;
	printf("cli %s\n", MEMLENS_VERSION);
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
	.run = run_version,
};
