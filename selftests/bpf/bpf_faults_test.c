// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF fault counter, filtered to this process's tgid: touching N fresh
 * pages counts at least N faults for us, and nothing for anyone else (a
 * child touching pages of its own is filtered out).  Runs on the host and
 * in both guests.
 */
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "faults.h"
#include "faults.skel.h"

#define NPAGES 1000

static void touch_fresh_pages(long n)
{
	long page = sysconf(_SC_PAGESIZE), i;
	volatile char *p;

	p = mmap(NULL, n * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise((void *)p, n * page, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		p[i * page] = 1;
	munmap((void *)p, n * page);
}

FIXTURE(faults) {
	struct faults_bpf *skel;
};

FIXTURE_SETUP(faults)
{
	int err;

	self->skel = faults_bpf__open();
	ASSERT_NE(NULL, self->skel);
	self->skel->rodata->targ_tgid = getpid();
	err = faults_bpf__load(self->skel);
	if (err == -EPERM || err == -EACCES)
		SKIP(return, "loading BPF needs CAP_BPF and CAP_PERFMON (run as root)");
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, faults_bpf__attach(self->skel));
}

FIXTURE_TEARDOWN(faults)
{
	faults_bpf__destroy(self->skel);
}

TEST_F(faults, counts_own_fresh_pages_and_only_own_tgid)
{
	int fd = bpf_map__fd(self->skel->maps.counts);
	struct fault_counts c = { 0 };
	__u32 key, next, me = getpid(), keys = 0;
	pid_t child;
	int st, err;

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		touch_fresh_pages(NPAGES);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &st, 0));

	touch_fresh_pages(NPAGES);

	ASSERT_EQ(0, bpf_map_lookup_elem(fd, &me, &c));
	EXPECT_GE(c.user, (__u64)NPAGES);
	TH_LOG("counted %llu faults for tgid %u after touching %d pages",
	       (unsigned long long)c.user, me, NPAGES);

	/* The filter admits no other tgid, the child's included. */
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
	     err = bpf_map_get_next_key(fd, &key, &next), key = next) {
		EXPECT_EQ(me, key);
		keys++;
	}
	EXPECT_EQ(1U, keys);
}

TEST_HARNESS_MAIN
