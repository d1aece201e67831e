// SPDX-License-Identifier: GPL-2.0
/*
 * version.c - the library's version, for "memlens version" and programs
 * that want to know which libmlalloc they run under.
 */
#include "mlalloc_types.h"

ML_API const char mlalloc_version[] = MEMLENS_VERSION;
