// SPDX-License-Identifier: GPL-2.0
/*
 * memlens inspect's libmlalloc section against a workload under
 * LD_PRELOAD=libmlalloc.so with an exact number of live blocks: live
 * block and byte deltas, one row per arena whose resident bytes match this
 * test's own read of /proc/PID/pagemap, the reconciliation adding up, and
 * the Prometheus output of the same report parsing.
 */
#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

#define BLOCKS	1000
#define HUGE	3

static char err[256];

struct arena_doc {
	struct workload w;
	struct jval *before, *after;
};

static int inspect_twice(struct arena_doc *d)
{
	char lib[4200];
	char *args[] = { "-b", "1000", "-s", "100", "-H", "3", NULL };

	mlalloc_path(lib, sizeof(lib));
	if (wl_start(&d->w, lib, args))
		return -1;
	d->before = inspect_json(d->w.pid, "--no-vmas", err, sizeof(err));
	if (!d->before || wl_go(&d->w))
		return -1;
	d->after = inspect_json(d->w.pid, "--no-vmas", err, sizeof(err));
	return d->after ? 0 : -1;
}

TEST(live_blocks_exact)
{
	struct arena_doc d;
	double blocks, bytes;

	ASSERT_EQ(0, inspect_twice(&d)) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(d.after, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(NULL, jstr(d.after, "mlalloc.unavailable"));
	blocks = jnum(d.after, "mlalloc.live_blocks.value") -
		 jnum(d.before, "mlalloc.live_blocks.value");
	bytes = jnum(d.after, "mlalloc.live_bytes.value") -
		jnum(d.before, "mlalloc.live_bytes.value");
	EXPECT_EQ(BLOCKS + HUGE, blocks);
	/* 100 B blocks are 112 B (16-byte steps); huge blocks at least 6 MiB */
	EXPECT_GE(bytes, BLOCKS * 112.0 + HUGE * (6 << 20));
	EXPECT_LE(bytes, BLOCKS * 112.0 + HUGE * ((6 << 20) + 4096.0));
	EXPECT_STREQ("mlalloc", jstr(d.after, "mlalloc.live_bytes.source"));
	EXPECT_EQ(0, wl_stop(&d.w));
}

TEST(arenas_match_pagemap)
{
	const struct jval *rows;
	struct arena_doc d;
	int huge = 0, seg = 0;
	double committed = 0, reserved = 0, resident = 0;

	ASSERT_EQ(0, inspect_twice(&d)) TH_LOG("%s", err);
	rows = jget(jpath(d.after, "mlalloc.arenas"), "rows");
	ASSERT_NE(NULL, rows);
	for (int i = 0; i < rows->n; i++) {
		const struct jval *a = rows->items[i];
		double base = jaddr(a, "base"), size = jnum(a, "size_bytes");
		double mine = pagemap_present(d.w.pid, (uint64_t)base, (uint64_t)(base + size));

		/* resident = present - LazyFree; mlalloc purges with DONTNEED */
		EXPECT_EQ(0, jnum(a, "lazyfree_bytes"));
		EXPECT_EQ(mine, jnum(a, "resident_bytes")) TH_LOG("arena %d", i);
		EXPECT_LE(jnum(a, "resident_bytes"), jnum(a, "committed_bytes"));
		EXPECT_EQ(jnum(a, "resident_bytes") - jnum(a, "live_bytes"),
			  jnum(a, "fragmentation_bytes"));
		EXPECT_EQ(J_NULL, jget(a, "faults")->t);
		committed += jnum(a, "committed_bytes");
		reserved += size;
		resident += mine;
		if (!strcmp(jstr(a, "role"), "huge")) {
			huge++;
			EXPECT_GE(jnum(a, "live_bytes"), 6 << 20);
			EXPECT_GE(mine, 6 << 20);	/* touched by memset */
		} else if (!strcmp(jstr(a, "role"), "segments")) {
			seg++;
		}
	}
	EXPECT_EQ(HUGE, huge);
	EXPECT_GE(seg, 1);
	EXPECT_EQ(committed, jnum(d.after, "mlalloc.committed_bytes.value"));
	EXPECT_EQ(reserved, jnum(d.after, "mlalloc.reserved_bytes.value"));
	EXPECT_EQ(resident, jnum(d.after, "mlalloc.resident_bytes.value"));
	EXPECT_EQ(0, wl_stop(&d.w));
}

TEST(reconciliation_adds_up)
{
	struct arena_doc d;
	const struct jval *m;

	ASSERT_EQ(0, inspect_twice(&d)) TH_LOG("%s", err);
	m = jget(d.after, "mlalloc");
	EXPECT_EQ(jnum(m, "committed_bytes.value"),
		  jnum(m, "live_bytes.value") + jnum(m, "free_in_pages_bytes.value") +
		  jnum(m, "free_slices_bytes.value") + jnum(m, "huge_headers_bytes.value") +
		  jnum(m, "huge_cached_bytes.value"));
	EXPECT_EQ(jnum(m, "reserved_bytes.value"),
		  jnum(m, "committed_bytes.value") + jnum(m, "returned_bytes.value"));
	/* mlalloc's process total = arenas + heap metadata mappings (256 KiB
	 * chunks: one for a single-threaded process) */
	EXPECT_EQ(jnum(m, "reserved_published_bytes.value"),
		  jnum(m, "reserved_bytes.value") + jnum(m, "metadata_bytes.value"));
	EXPECT_EQ(256 << 10, jnum(m, "metadata_bytes.value"));
	EXPECT_GE(jnum(m, "free_in_pages_bytes.value"), 0);
	EXPECT_GE(jnum(m, "free_slices_bytes.value"), 0);
	EXPECT_GE(jnum(m, "huge_headers_bytes.value"), 0);
	EXPECT_EQ(0, wl_stop(&d.w));
}

TEST(prometheus_output_parses)
{
	char lib[4200], pid[16], why[160];
	char *args[] = { "-b", "1000", "-s", "100", "-H", "3", NULL };
	char *argv[] = { "memlens", "inspect", "--prometheus", pid, NULL };
	struct workload w;
	double rss;

	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, wl_start(&w, lib, args));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	rss = status_bytes(w.pid, "VmRSS:");
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(rss, prom_value(res.out, "memlens_summary_resident_bytes", "source=\"proc\""));
	EXPECT_EQ(status_bytes(w.pid, "VmPTE:"),
		  prom_value(res.out, "memlens_summary_pagetable_bytes", NULL));
	EXPECT_LE(6 << 20, prom_value(res.out, "memlens_mlalloc_arenas_live_bytes", "role=\"huge\""));
	EXPECT_NE(NULL, strstr(res.out, "# UNAVAILABLE memlens_tlb_flushes_total: "));
	/* the checker itself refuses what is not the format */
	EXPECT_NE(0, prom_check("memlens_x{a=\"1\"} 1\n", why, sizeof(why)));
	EXPECT_NE(0, prom_check("# TYPE a gauge\na{b=c} 1\n", why, sizeof(why)));
	EXPECT_NE(0, prom_check("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", why, sizeof(why)));
	EXPECT_EQ(0, prom_check("# TYPE a gauge\na{b=\"x\\\"y\"} 1.5\na 2\n", why, sizeof(why)));
	/* a label twice, one series twice, a HELP escape the format lacks */
	EXPECT_NE(0, prom_check("# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n", why, sizeof(why)));
	EXPECT_NE(0, prom_check("# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n", why, sizeof(why)));
	EXPECT_NE(0, prom_check("# HELP a x\\\"y\n# TYPE a gauge\na 1\n", why, sizeof(why)));
	EXPECT_EQ(0, prom_check("# HELP a x\\\\y\\nz\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"2\"} 2\n",
				why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(0, wl_stop(&w));
}

#define J_HEAD "{\"schema\":\"memlens/1\",\"command\":\"x\",\"version\":\"0.1.0\"," \
	       "\"timestamp\":\"2026-12-03T09:00:00Z\",\"timestamp_unix\":1796288400,"   \
	       "\"hostname\":\"h\","

static bool check_doc(const char *text)
{
	struct jval *doc = jparse(text, err, sizeof(err));

	return doc && jcheck_schema(doc, err, sizeof(err));
}

TEST(json_checker_refuses_bad_documents)
{
	EXPECT_EQ(NULL, jparse("{\"a\":1,}", err, sizeof(err)));
	EXPECT_EQ(NULL, jparse("{\"a\":1,\"a\":2}", err, sizeof(err)));
	EXPECT_FALSE(check_doc(J_HEAD "\"f\":{\"value\":0,\"unit\":\"bytes\"}}"));
	EXPECT_FALSE(check_doc(J_HEAD "\"f\":{\"value\":0,\"unit\":\"bytes\",\"unavailable\":\"x\"}}"));
	EXPECT_TRUE(check_doc(J_HEAD "\"f\":{\"value\":null,\"unit\":\"bytes\",\"unavailable\":\"x\"}}"))
		TH_LOG("%s", err);
	/* the header: six keys, in order */
	EXPECT_FALSE(check_doc("{\"schema\":\"memlens/1\",\"command\":\"x\"}"));
	EXPECT_FALSE(check_doc("{\"schema\":\"memlens/1\",\"version\":\"0.1.0\",\"command\":\"x\","
			       "\"timestamp\":\"t\",\"timestamp_unix\":1,\"hostname\":\"h\"}"));
	/* addresses: "0x..." strings, never numbers */
	EXPECT_TRUE(check_doc(J_HEAD "\"t\":{\"source\":\"proc\",\"rows\":[{\"start\":\"0xffffffffff600000\"}]}}"))
		TH_LOG("%s", err);
	EXPECT_FALSE(check_doc(J_HEAD "\"t\":{\"source\":\"proc\",\"rows\":[{\"start\":18446744073699065856}]}}"));
	EXPECT_FALSE(check_doc(J_HEAD "\"t\":{\"source\":\"proc\",\"rows\":[{\"base\":\"7f00\"}]}}"));
	EXPECT_EQ(0xffffffffff600000ULL,
		  jaddr(jparse("{\"a\":\"0xffffffffff600000\"}", err, sizeof(err)), "a"));
}

/* memlens inspect --json of @pid (--no-vmas) into @path; 0 or -1. */
static int snapshot_to(pid_t pid, const char *path)
{
	char p[16];
	char *argv[] = { "memlens", "inspect", "--json", "--no-vmas", p, NULL };
	FILE *f;

	snprintf(p, sizeof(p), "%d", pid);
	if (ml_run(&res, argv) || res.status)
		return -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(res.out, f);
	return fclose(f) ? -1 : 0;
}

/* The arena row of @doc's mlalloc.arenas at @base with @role, or NULL. */
static const struct jval *arena_at(const struct jval *doc, const char *table, double base,
				   const char *role)
{
	const struct jval *rows = jget(jpath(doc, table), "rows");

	for (int i = 0; rows && i < rows->n; i++)
		if (jaddr(rows->items[i], "base") == base &&
		    !strcmp(jstr(rows->items[i], "role"), role))
			return rows->items[i];
	return NULL;
}

/*
 * memlens diff per arena: the workload under libmlalloc snapshot once it
 * has 1000 blocks of 100 B and 3 of 6 MiB (A), then after 2000 more
 * blocks of 100 B (B, -g): every arena of B has its diff row (matched by
 * base and role) whose live, committed and resident deltas are B's
 * figures minus A's (the segments arena "grew", the huge ones unchanged
 * and left out); the live deltas add up to mlalloc's own live_bytes
 * delta, 2000 x 112 B exactly (100 B blocks are 112 B: 16-byte steps).
 */
TEST(diff_per_arena)
{
	char a[] = "/tmp/memlens-arena-a-XXXXXX", b[] = "/tmp/memlens-arena-b-XXXXXX";
	char *argv[] = { "memlens", "diff", "--json", a, b, NULL };
	char *args[] = { "-b", "1000", "-s", "100", "-H", "3", "-g", "2000", NULL };
	static const char *const figs[] = { "live_bytes", "committed_bytes", "resident_bytes" };
	const struct jval *rows;
	struct jval *da, *db, *dd;
	char lib[4200], buf[1 << 16];
	double sum = 0, total;
	struct workload w;
	int grew = 0;

	ASSERT_LE(0, close(mkstemp(a)));
	ASSERT_LE(0, close(mkstemp(b)));
	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, wl_start(&w, lib, args));
	ASSERT_EQ(0, wl_go(&w));
	ASSERT_EQ(0, snapshot_to(w.pid, a)) TH_LOG("%s", res.err);
	ASSERT_EQ(1, write(w.to, "g", 1));
	ASSERT_EQ(0, read_line(w.from, buf, sizeof(buf)));
	ASSERT_STREQ("grown\n", buf);
	ASSERT_EQ(0, snapshot_to(w.pid, b)) TH_LOG("%s", res.err);
	EXPECT_EQ(0, wl_stop(&w));
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	dd = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, dd) TH_LOG("%s", err);
	ASSERT_LT(0, ml_read_file(a, buf, sizeof(buf)));
	da = jparse(strdup(buf), err, sizeof(err));
	ASSERT_LT(0, ml_read_file(b, buf, sizeof(buf)));
	db = jparse(strdup(buf), err, sizeof(err));
	unlink(a);
	unlink(b);
	ASSERT_NE(NULL, da);
	ASSERT_NE(NULL, db);
	rows = jget(jpath(db, "mlalloc.arenas"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_LE(4, rows->n);
	for (int i = 0; i < rows->n; i++) {
		const struct jval *rb = rows->items[i], *ra, *rd;
		double base = jaddr(rb, "base");
		const char *role = jstr(rb, "role");

		ra = arena_at(da, "mlalloc.arenas", base, role);
		rd = arena_at(dd, "arenas", base, role);
		ASSERT_NE(NULL, ra) TH_LOG("arena %d (%s) not in A", i, role);
		if (jnum(rb, "live_bytes") == jnum(ra, "live_bytes") &&
		    jnum(rb, "committed_bytes") == jnum(ra, "committed_bytes") &&
		    jnum(rb, "resident_bytes") == jnum(ra, "resident_bytes")) {
			EXPECT_EQ(NULL, rd) TH_LOG("arena %d (%s): unchanged, yet a row", i, role);
			continue;
		}
		ASSERT_NE(NULL, rd) TH_LOG("arena %d (%s) has no diff row", i, role);
		for (int f = 0; f < 3; f++) {
			double want = jnum(rb, figs[f]) - jnum(ra, figs[f]);

			EXPECT_EQ(want, jnum(rd, figs[f])) TH_LOG("arena %d %s", i, figs[f]);
		}
		if (!strcmp(jstr(rd, "change"), "grew") && !strcmp(role, "segments"))
			grew++;
		sum += jnum(rd, "live_bytes");
	}
	EXPECT_LE(1, grew);
	total = jnum(db, "mlalloc.live_bytes.value") - jnum(da, "mlalloc.live_bytes.value");
	EXPECT_EQ(total, sum);
	EXPECT_EQ(2000 * 112.0, sum);
}

TEST_HARNESS_MAIN
