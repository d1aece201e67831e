// SPDX-License-Identifier: GPL-2.0
/*
 * memlens inspect with the BPF backend: the page-table figures come from
 * the BPF walk and match /proc/PID/status (VmPTE) and the proc backend's
 * smaps-derived leaves; auto picks BPF when the module is not loaded; the
 * commands that measure with /proc only refuse a named BPF backend.
 */
#include "kselftest_harness.h"
#include "inspect_lib.h"

static char err[256];

FIXTURE(wl) {
	struct workload w;
};

FIXTURE_SETUP(wl)
{
	char *args[] = { "-p", "1000", "-t", "4", NULL };

	if (geteuid() || access("/sys/kernel/btf/vmlinux", R_OK))
		SKIP(return, "BPF needs root and BTF");
	ASSERT_EQ(0, wl_start(&self->w, NULL, args));
	ASSERT_EQ(0, wl_go(&self->w));
}

FIXTURE_TEARDOWN(wl)
{
	if (self->w.pid)
		wl_stop(&self->w);
}

TEST_F(wl, bpf_matches_status_and_proc_backend)
{
	struct jval *bpf, *proc;

	bpf = inspect_json(self->w.pid, "--backend=bpf", err, sizeof(err));
	ASSERT_NE(NULL, bpf) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(bpf, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("bpf", jstr(bpf, "backend.name"));
	EXPECT_STREQ("bpf", jstr(bpf, "summary.pagetable_bytes.source"));
	EXPECT_STREQ("bpf", jstr(bpf, "summary.leaf_2m.source"));
	EXPECT_EQ(status_bytes(self->w.pid, "VmPTE:"), jnum(bpf, "summary.pagetable_bytes.value"));
	proc = inspect_json(self->w.pid, "--backend=proc", err, sizeof(err));
	ASSERT_NE(NULL, proc) TH_LOG("%s", err);
	EXPECT_EQ(jnum(proc, "summary.leaf_4k.value"), jnum(bpf, "summary.leaf_4k.value"));
	EXPECT_EQ(jnum(proc, "summary.leaf_2m.value"), jnum(bpf, "summary.leaf_2m.value"));
	EXPECT_EQ(jnum(proc, "tlb.entries_4k_only.value"), jnum(bpf, "tlb.entries_4k_only.value"));
	EXPECT_EQ(jnum(proc, "summary.thp_coverage_percent.value"),
		  jnum(bpf, "summary.thp_coverage_percent.value"));
	EXPECT_GE(jnum(bpf, "summary.leaf_4k.value"), 1000);
	EXPECT_EQ(J_NULL, jpath(bpf, "tlb.flushes_total.value")->t);
}

TEST_F(wl, auto_picks_module_else_bpf)
{
	struct jval *doc = inspect_json(self->w.pid, NULL, err, sizeof(err));

	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_STREQ(access("/sys/kernel/debug/memlens", F_OK) ? "bpf" : "module",
		     jstr(doc, "backend.name"));
}

TEST(proc_only_commands_refuse_bpf)
{
	char *run[] = { "memlens", "run", "--backend", "bpf", "--", "true", NULL };
	char *top[] = { "memlens", "top", "--backend=bpf", NULL };
	char *autorun[] = { "memlens", "run", "--json", "--", "true", NULL };

	ASSERT_EQ(0, ml_run(&res, run));
	EXPECT_EQ(7, res.status);
	EXPECT_NE(NULL, strstr(res.err, "backend bpf unavailable: memlens run measures with /proc"));
	EXPECT_STREQ("", res.out);
	ASSERT_EQ(0, ml_run(&res, top));
	EXPECT_EQ(7, res.status);
	ASSERT_EQ(0, ml_run(&res, autorun));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "\"backend\":\"proc\""));
}

TEST_HARNESS_MAIN
