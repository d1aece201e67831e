// SPDX-License-Identifier: GPL-2.0
/*
 * errno_probe - the calls of errno_cases.h against glibc's own malloc.
 * Built without libmlalloc; api_test.c runs it and compares.  Prints
 * "glibc VERSION", then one line per call: call<TAB>flags<TAB>result<TAB>errno.
 * Refuses to run (exit 2) if libmlalloc was preloaded after all.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define F(name)		name
#define USABLE_SIZE	malloc_usable_size
#include "errno_cases.h"

static void report(const char *call, int flags, long result, int err)
{
	printf("%s\t%d\t%ld\t%d\n", call, flags, result, err);
}

int main(void)
{
	if (dlsym(RTLD_DEFAULT, "mlalloc_introspect")) {
		fprintf(stderr, "errno_probe: libmlalloc is loaded, not glibc's malloc\n");
		return 2;
	}
	printf("glibc %s\n", gnu_get_libc_version());
	errno_cases(report);
	return fflush(stdout) ? 1 : 0;
}
