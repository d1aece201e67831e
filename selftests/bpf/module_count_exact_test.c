// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_count_exact_test.c's cases against memlens.ko's counting mode
 * (module/fcount.c): the same workloads, read from debugfs.  Runs in the
 * guests with the module loaded (suite flag insmod).
 */
#define ML_COUNT_MODULE
#include <ctype.h>

#include "bpf_count_exact_test.c"
