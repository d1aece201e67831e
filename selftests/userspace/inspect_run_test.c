// SPDX-License-Identifier: GPL-2.0
/*
 * memlens run and memlens compare with every installed allocator, against
 * what the workload reports about itself (its own minflt and VmHWM read
 * just before it exits, and which library defines its malloc), the exit
 * status passed through, ratios recomputed from the table, the SVG plot,
 * and the error cases.
 */
#include <math.h>

#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

static char err[256];

/*
 * Touched by "-p 3000 -b 1000 -H 2": 3000 pages + 2 x 6 MiB; "-w 100": it
 * lingers 100 ms after reading its own counters, so that memlens samples
 * its VmHWM at least once after that read.
 */
#define WL_ARGS		"inspect_workload", "-x", "-w", "100", "-p", "3000", "-b", "1000", "-H", "2"
#define WL_MIN_BYTES	(3000 * 4096.0 + 2 * (6 << 20))
#define WL_MIN_FAULTS	(3000 + 2 * 1536)

static const struct {
	const char *name, *lib;
} allocators[] = {
	{ "glibc", "libc.so" },
	{ "mlalloc", "libmlalloc.so" },
	{ "jemalloc", "jemalloc" },
	{ "tcmalloc", "tcmalloc" },
	{ "mimalloc", "mimalloc" },
};

static void run_one(struct __test_metadata *_metadata, int k)
{
	char out[] = "/tmp/memlens-run-XXXXXX", text[65536], lib[256];
	char *argv[] = { "memlens", "run", "--allocator", (char *)allocators[k].name,
			 "--json", "-o", out, "--", WL_ARGS, NULL };
	unsigned long minflt, hwm;
	struct jval *doc;
	int fd = mkstemp(out);

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s: %s", allocators[k].name, res.err);
	ASSERT_EQ(3, sscanf(res.out, "ready %*x %*x %*x %*x %lu %lu %255s", &minflt, &hwm, lib));
	/* LD_PRELOAD took effect: malloc comes from the allocator asked for */
	EXPECT_NE(NULL, strstr(lib, allocators[k].lib)) TH_LOG("malloc from %s", lib);
	ASSERT_LT(0, ml_read_file(out, text, sizeof(text)));
	unlink(out);
	doc = jparse(text, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ(allocators[k].name, jstr(doc, "run.allocator"));
	EXPECT_EQ(0, jnum(doc, "result.exit_status"));
	/* the workload read its own counters just before exiting */
	EXPECT_GE(jnum(doc, "result.minor_faults_total.value"), minflt);
	EXPECT_LE(jnum(doc, "result.minor_faults_total.value"), minflt + 300);
	EXPECT_GE(minflt, WL_MIN_FAULTS);
	/*
	 * RSS counters are per-CPU since 6.2: two reads of the same value
	 * may differ by a batch (32 pages) per CPU; allow 1 MiB.
	 */
	EXPECT_GE(jnum(doc, "result.peak_resident_bytes.value"), hwm * 1024.0 - (1 << 20));
	EXPECT_LE(jnum(doc, "result.peak_resident_bytes.value"), hwm * 1024.0 + (2 << 20));
	EXPECT_GE(hwm * 1024.0, WL_MIN_BYTES);
	EXPECT_STREQ("rusage", jstr(doc, "result.minor_faults_total.source"));
	EXPECT_GT(jnum(doc, "result.wall_seconds.value"), 0);
}

TEST(run_glibc) { run_one(_metadata, 0); }
TEST(run_mlalloc) { run_one(_metadata, 1); }
TEST(run_jemalloc) { run_one(_metadata, 2); }
TEST(run_tcmalloc) { run_one(_metadata, 3); }
TEST(run_mimalloc) { run_one(_metadata, 4); }

/* The "cpu UTIME STIME" lines inspect_workload -o appended to @path, in seconds; their count. */
static int cpu_lines(const char *path, double *user, double *sys, int max)
{
	char buf[4096], *p = buf;
	double tck = sysconf(_SC_CLK_TCK);
	unsigned long u, s;
	int n = 0;

	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	while (n < max && sscanf(p, "cpu %lu %lu", &u, &s) == 2) {
		user[n] = u / tck;
		sys[n++] = s / tck;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

/*
 * user_seconds and sys_seconds (wait4()'s rusage at exit) against the
 * child's own utime and stime in /proc/self/stat, read as the last thing
 * before it returns from main, after burning 300 ms of user CPU: not
 * below them (the kernel keeps a process's adjusted times monotonic), and
 * above them by one clock tick at most (/proc truncates to ticks) plus
 * what the child spends after the read: a write() and exit, whose
 * teardown of ~80 MiB of mappings is system time (allowed 30 ms; user 20
 * ms, as the kernel splits new runtime between the two by the ratio of
 * the ticks sampled so far).  For run and for each counted run of run -r 2.
 */
TEST(run_cpu_times_match_the_childs_stat)
{
	char dir[] = "/tmp/memlens-cpu-XXXXXX", logf[64];
	char *one[] = { "memlens", "run", "--json", "--", "inspect_workload", "-x", "-c", "300",
			"-p", "3000", "-o", logf, NULL };
	char *rep[] = { "memlens", "run", "--json", "-r", "2", "--warmup", "1", "--",
			"inspect_workload", "-x", "-c", "300", "-p", "3000", "-o", logf, NULL };
	double tick = 1.0 / sysconf(_SC_CLK_TCK), user[4], sys[4], u, s;
	const struct jval *rows;
	struct jval *doc;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(logf, sizeof(logf), "%s/cpu", dir);
	ASSERT_EQ(0, ml_run(&res, one));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	ASSERT_EQ(1, cpu_lines(logf, user, sys, 4));
	unlink(logf);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	u = jnum(doc, "result.user_seconds.value");
	s = jnum(doc, "result.sys_seconds.value");
	EXPECT_STREQ("rusage", jstr(doc, "result.user_seconds.source"));
	EXPECT_GE(user[0], 0.3 - tick);
	EXPECT_GE(u, user[0] - 1e-9) TH_LOG("user %g, stat %g", u, user[0]);
	EXPECT_LE(u, user[0] + tick + 0.02) TH_LOG("user %g, stat %g", u, user[0]);
	EXPECT_GE(s, sys[0] - 1e-9) TH_LOG("sys %g, stat %g", s, sys[0]);
	EXPECT_LE(s, sys[0] + tick + 0.03) TH_LOG("sys %g, stat %g", s, sys[0]);

	ASSERT_EQ(0, ml_run(&res, rep));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	/* the warm-up run's line first, then the two counted runs' */
	ASSERT_EQ(3, cpu_lines(logf, user, sys, 4));
	unlink(logf);
	rmdir(dir);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	rows = jget(jpath(doc, "runs"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_EQ(2, rows->n);
	for (int i = 0; i < 2; i++) {
		u = jnum(rows->items[i], "user_seconds");
		s = jnum(rows->items[i], "sys_seconds");
		EXPECT_GE(u, user[i + 1] - 1e-9) TH_LOG("run %d: user %g, stat %g", i, u, user[i + 1]);
		EXPECT_LE(u, user[i + 1] + tick + 0.02)
			TH_LOG("run %d: user %g, stat %g", i, u, user[i + 1]);
		EXPECT_GE(s, sys[i + 1] - 1e-9) TH_LOG("run %d: sys %g, stat %g", i, s, sys[i + 1]);
		EXPECT_LE(s, sys[i + 1] + tick + 0.03)
			TH_LOG("run %d: sys %g, stat %g", i, s, sys[i + 1]);
	}
}

TEST(run_passes_exit_status_through)
{
	char *exit3[] = { "memlens", "run", "--", "sh", "-c", "exit 3", NULL };
	char *killed[] = { "memlens", "run", "--json", "--", "sh", "-c", "kill -9 $$", NULL };
	struct jval *doc;

	ASSERT_EQ(0, ml_run(&res, exit3));
	EXPECT_EQ(3, res.status);
	EXPECT_NE(NULL, strstr(res.out, "exit status                  3"));
	ASSERT_EQ(0, ml_run(&res, killed));
	EXPECT_EQ(128 + 9, res.status);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(137, jnum(doc, "result.exit_status"));
}

TEST(run_prometheus_parses)
{
	char *argv[] = { "memlens", "run", "--prometheus", "--", "sh", "-c", "true", NULL };
	char why[160];

	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status);
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_LT(0, prom_value(res.out, "memlens_result_minor_faults_total", "allocator=\"glibc\""));
}

/* @argv fails with @code and one line on stderr holding @msg, no report. */
static void expect_error(struct __test_metadata *_metadata, char *argv[], int code,
			 const char *msg)
{
	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(code, res.status) TH_LOG("%s", res.err);
	EXPECT_NE(NULL, strstr(res.err, msg)) TH_LOG("%s", res.err);
	EXPECT_EQ(NULL, strstr(res.out, "Result"));
}

TEST(run_errors)
{
	char *bad[] = { "memlens", "run", "--allocator", "ptmalloc9", "--", "true", NULL };
	char *path[] = { "memlens", "run", "--allocator", "/nonexistent/lib.so", "--", "true", NULL };
	char *nocmd[] = { "memlens", "run", "--", "/nonexistent/cmd", NULL };
	char *none[] = { "memlens", "run", NULL };

	expect_error(_metadata, bad, 2, "unknown allocator 'ptmalloc9'");
	expect_error(_metadata, path, 2, "not a readable file");
	expect_error(_metadata, nocmd, 127, "cannot run /nonexistent/cmd: No such file");
	EXPECT_STREQ("", res.out);
	expect_error(_metadata, none, 2, "no command given");
}

/*
 * Every <text> of the SVG @svg inside its width: x plus the text's
 * estimated width (0.6 of the font size per character, entities counted
 * as one), or for text-anchor="end" x minus it at least 0; the width
 * attribute and the viewBox's agree.  0, or -1 with @why.
 */
static int svg_texts_fit(const char *svg, char *why, size_t len)
{
	double width = 0, vbw = 0;
	const char *p = strstr(svg, "<svg ");
	int texts = 0;

	if (!p || sscanf(strstr(p, " width=\"") ?: "", " width=\"%lf\"", &width) != 1 ||
	    !strstr(p, "viewBox=\"0 0 ") ||
	    sscanf(strstr(p, "viewBox=\"0 0 "), "viewBox=\"0 0 %lf", &vbw) != 1 || vbw != width) {
		snprintf(why, len, "no width, or no viewBox of the same width");
		return -1;
	}
	for (p = svg; (p = strstr(p, "<text ")); p++) {
		const char *gt = strchr(p, '>'), *end = strstr(p, "</text>"), *fs;
		double x = -1, size = 13, w;
		int chars = 0;

		if (!gt || !end || sscanf(p, "<text x=\"%lf\"", &x) != 1) {
			snprintf(why, len, "a <text> without x: %.60s", p);
			return -1;
		}
		fs = strstr(p, "font-size=\"");
		if (fs && fs < gt)
			size = strtod(fs + 11, NULL);
		for (const char *c = gt + 1; c < end; c++, chars++)
			if (*c == '&')
				c = strchr(c, ';');
		w = chars * size * 0.6;
		texts++;
		if (strstr(p, "text-anchor=\"end\"") && strstr(p, "text-anchor=\"end\"") < gt ?
			    x > width || x - w < 0 :
			    x + w > width) {
			snprintf(why, len, "%.*s: x %g, about %g wide, in %g", (int)(end - gt - 1),
				 gt + 1, x, w, width);
			return -1;
		}
	}
	if (!texts) {
		snprintf(why, len, "no <text>");
		return -1;
	}
	return 0;
}

TEST(compare_every_allocator)
{
	char svg[] = "/tmp/memlens-plot-XXXXXX";
	char *argv[] = { "memlens", "compare", "--allocators",
			 "glibc,mlalloc,jemalloc,tcmalloc,mimalloc", "-n", "3",
			 "--plot", svg, "--json", "--", WL_ARGS, NULL };
	static char text[65536];
	const struct jval *rows;
	struct jval *doc;
	int fd = mkstemp(svg), rects = 0;

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	rows = jget(jpath(doc, "allocators"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_EQ(5, rows->n);
	for (int i = 0; i < 5; i++) {
		const struct jval *row = rows->items[i], *base = rows->items[0];

		EXPECT_STREQ(allocators[i].name, jstr(row, "allocator"));
		EXPECT_EQ(3, jnum(row, "runs_ok"));
		EXPECT_EQ(0, jnum(row, "runs_failed"));
		EXPECT_GE(jnum(row, "peak_resident_bytes"), WL_MIN_BYTES);
		EXPECT_GE(jnum(row, "minor_faults"), WL_MIN_FAULTS);
		/* ratios recomputed from the medians in the same table */
		EXPECT_LT(fabs(jnum(row, "peak_resident_ratio") -
			       jnum(row, "peak_resident_bytes") / jnum(base, "peak_resident_bytes")), 1e-5);
		EXPECT_LT(fabs(jnum(row, "wall_ratio") -
			       jnum(row, "wall_seconds") / jnum(base, "wall_seconds")), 1e-3);
		EXPECT_LT(fabs(jnum(row, "minor_faults_ratio") -
			       jnum(row, "minor_faults") / jnum(base, "minor_faults")), 1e-5);
	}
	EXPECT_EQ(1, jnum(rows->items[0], "wall_ratio"));
	/* the plot: well-formed ends, every allocator, a bar per known value */
	ASSERT_LT(0, ml_read_file(svg, text, sizeof(text)));
	unlink(svg);
	EXPECT_EQ(0, strncmp(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
	EXPECT_STREQ("</svg>\n", text + strlen(text) - 7);
	for (int i = 0; i < 5; i++)
		EXPECT_NE(NULL, strstr(text, allocators[i].name));
	EXPECT_EQ(0, svg_texts_fit(text, err, sizeof(err))) TH_LOG("%s", err);
	for (const char *p = text; (p = strstr(p, "<rect")); p++)
		rects++;
	EXPECT_GE(rects, 1 + 3 * 5);
}

/*
 * The plot's labels fit inside it: a long allocator name (a path) and the
 * values with their ratios at the end of the longest bars.
 */
TEST(compare_plot_labels_fit)
{
	char svg[] = "/tmp/memlens-plot-XXXXXX", lib[4096], allocs[4200];
	char *argv[] = { "memlens", "compare", "--allocators", allocs, "-n", "1", "--warmup", "0",
			 "--plot", svg, "--", WL_ARGS, NULL };
	static char text[65536];
	int fd = mkstemp(svg);

	ASSERT_LE(0, fd);
	close(fd);
	mlalloc_path(lib, sizeof(lib));
	snprintf(allocs, sizeof(allocs), "glibc,%s", lib);
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	ASSERT_LT(0, ml_read_file(svg, text, sizeof(text)));
	unlink(svg);
	EXPECT_NE(NULL, strstr(text, lib));
	EXPECT_NE(NULL, strstr(text, "x)</text>"));
	EXPECT_EQ(0, svg_texts_fit(text, err, sizeof(err))) TH_LOG("%s", err);
}

TEST(compare_text_and_failures)
{
	char *text[] = { "memlens", "compare", "--allocators", "glibc,mlalloc", "-n", "1",
			 "--", "true", NULL };
	char *failing[] = { "memlens", "compare", "--allocators", "glibc,jemalloc", "-n", "2",
			    "--json", "--", "false", NULL };
	char *bad[] = { "memlens", "compare", "--allocators", "glibc,nope", "--", "true", NULL };
	char *noalloc[] = { "memlens", "compare", "--", "true", NULL };
	struct jval *doc;

	ASSERT_EQ(0, ml_run(&res, text));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_NE(NULL, strstr(res.out, "\n  glibc "));
	EXPECT_NE(NULL, strstr(res.out, "\n  mlalloc "));
	EXPECT_NE(NULL, strstr(res.out, "flushes: unavailable: "));
	ASSERT_EQ(0, ml_run(&res, failing));
	EXPECT_EQ(1, res.status);
	EXPECT_NE(NULL, strstr(res.err, "some runs exited non-zero"));
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(2, jnum(jget(jpath(doc, "allocators"), "rows")->items[1], "runs_failed"));
	EXPECT_EQ(J_NULL, jget(jget(jpath(doc, "allocators"), "rows")->items[1], "wall_seconds")->t);
	ASSERT_EQ(0, ml_run(&res, bad));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "unknown allocator 'nope'"));
	EXPECT_STREQ("", res.out);
	ASSERT_EQ(0, ml_run(&res, noalloc));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "--allocators is required"));
}

/*
 * NAME:VAR=VALUE: the allocator run with those variables set, shown in the
 * report; a value may hold ':' (GLIBC_TUNABLES's separator) when what
 * follows is not VAR=; compare tells the variant from its allocator.
 */
TEST(allocator_variants_set_the_environment)
{
	char *run[] = { "memlens", "run", "--allocator",
			"glibc:GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=4096:ML_T=3",
			"--json", "--", "sh", "-c",
			"test \"$GLIBC_TUNABLES\" = glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=4096 && exit $ML_T",
			NULL };
	char *cmp[] = { "memlens", "compare", "--allocators", "glibc,glibc:ML_T=3", "-n", "2",
			"--warmup", "0", "--json", "--", "sh", "-c", "exit ${ML_T:-0}", NULL };
	char *notvar[] = { "memlens", "compare", "--allocators", "glibc,glibc:nope", "--", "true",
			   NULL };
	char *preload[] = { "memlens", "run", "--allocator", "mlalloc:LD_PRELOAD=/x.so", "--",
			    "true", NULL };
	char *empty[] = { "memlens", "run", "--allocator", "glibc:", "--", "true", NULL };
	const struct jval *rows;
	struct jval *doc;

	ASSERT_EQ(0, ml_run(&res, run));
	EXPECT_EQ(3, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(3, jnum(doc, "result.exit_status"));
	EXPECT_STREQ("GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=4096 ML_T=3",
		     jstr(doc, "run.environment"));
	ASSERT_EQ(0, ml_run(&res, cmp));
	EXPECT_EQ(1, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	rows = jget(jpath(doc, "allocators"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_EQ(2, rows->n);
	EXPECT_STREQ("glibc", jstr(rows->items[0], "allocator"));
	EXPECT_STREQ("glibc:ML_T=3", jstr(rows->items[1], "allocator"));
	EXPECT_EQ(0, jnum(rows->items[0], "runs_failed"));
	EXPECT_EQ(2, jnum(rows->items[1], "runs_failed"));
	expect_error(_metadata, notvar, 2, "allocator 'glibc:nope': 'nope' is not VAR=VALUE");
	/* one line */
	EXPECT_EQ(res.err + strlen(res.err) - 1, strchr(res.err, '\n')) TH_LOG("%s", res.err);
	expect_error(_metadata, preload, 2, "LD_PRELOAD is the allocator's own");
	expect_error(_metadata, empty, 2, "'' is not VAR=VALUE");
}

TEST(help_has_examples)
{
	char *run[] = { "memlens", "run", "--help", NULL };
	char *cmp[] = { "memlens", "compare", "--help", NULL };

	ASSERT_EQ(0, ml_run(&res, run));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "Examples:"));
	EXPECT_NE(NULL, strstr(res.out, "--allocator"));
	ASSERT_EQ(0, ml_run(&res, cmp));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "Examples:"));
	EXPECT_NE(NULL, strstr(res.out, "--plot"));
}

/* --json on stdout: the command's stdout goes to stderr, the JSON parses. */
TEST(run_json_keeps_the_commands_output_out)
{
	char *json[] = { "memlens", "run", "--json", "--", "echo", "hello", NULL };
	char *prom[] = { "memlens", "run", "--prometheus", "--", "echo", "hello", NULL };
	struct jval *doc;
	char why[160];

	ASSERT_EQ(0, ml_run(&res, json));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s: %s", err, res.out);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("echo hello", jstr(doc, "run.command"));
	EXPECT_NE(NULL, strstr(res.err, "hello\n"));
	ASSERT_EQ(0, ml_run(&res, prom));
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	/* (the command line is in a "# command: echo hello" comment) */
	EXPECT_EQ(NULL, strstr(res.out, "\nhello\n"));
	EXPECT_NE(0, strncmp(res.out, "hello\n", 6));
	EXPECT_NE(NULL, strstr(res.err, "hello\n"));
}

/*
 * An allocator LD_PRELOAD cannot load is refused before anything runs:
 * not a shared library, a static command, a command set-uid to another
 * user.  The command here would create @flag: it must not exist after.
 */
TEST(allocator_that_cannot_load_is_refused)
{
	char dir[] = "/tmp/memlens-suid-XXXXXX", touch[64], flag[64], cmd[256];
	char *notlib[] = { "memlens", "run", "--allocator", "/etc/passwd", "--", "true", NULL };
	char *stat_[] = { "memlens", "run", "--allocator", "mlalloc", "--", "/sbin/ldconfig",
			  "-p", NULL };
	char *suid[] = { "memlens", "run", "--allocator", "mlalloc", "--", touch, flag, NULL };
	char *csuid[] = { "memlens", "compare", "--allocators", "glibc,mlalloc", "-n", "1",
			  "--", touch, flag, NULL };
	char *cnotlib[] = { "memlens", "compare", "--allocators", "glibc,/etc/passwd", "--",
			    "true", NULL };

	expect_error(_metadata, notlib, 2, "is not a shared library");
	expect_error(_metadata, cnotlib, 2, "is not a shared library");
	/* Debian's ldconfig is static-pie */
	if (!access("/sbin/ldconfig", X_OK))
		expect_error(_metadata, stat_, 2, "a static binary");
	if (geteuid())
		SKIP(return, "needs root to make a set-uid copy owned by nobody");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(touch, sizeof(touch), "%s/touch", dir);
	snprintf(flag, sizeof(flag), "%s/flag", dir);
	snprintf(cmd, sizeof(cmd), "cp /usr/bin/touch %s && chown 65534 %s && chmod 4755 %s",
		 touch, touch, touch);
	ASSERT_EQ(0, system(cmd));
	expect_error(_metadata, suid, 2, "setuid (secure-execution mode");
	expect_error(_metadata, csuid, 2, "setuid (secure-execution mode");
	EXPECT_NE(0, access(flag, F_OK)) TH_LOG("the command ran");
	unlink(touch);
	rmdir(dir);
}

/* Loaded: seen in /proc/PID/maps; not loaded (ld.so ignored it): refused. */
TEST(allocator_load_is_checked_in_the_child)
{
	char lib[4096];
	char *ok[] = { "memlens", "run", "--json", "--allocator", lib, "--", "sleep", "0.3", NULL };
	char *pie[] = { "memlens", "run", "--allocator", "/usr/bin/true", "--", "sleep", "0.3",
			NULL };
	char *cpie[] = { "memlens", "compare", "--allocators", "glibc,/usr/bin/true", "-n", "1",
			 "--", "sleep", "0.3", NULL };
	struct jval *doc;

	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, ml_run(&res, ok));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_STREQ("yes (its library in /proc/PID/maps)", jstr(doc, "run.allocator_loaded"));
	/* a PIE is ET_DYN, but ld.so refuses to preload it and goes on */
	expect_error(_metadata, pie, 1, "was not loaded into sleep");
	expect_error(_metadata, cpie, 1, "was not loaded into sleep");
	EXPECT_STREQ("", res.out);
}

/* An unwritable --plot is an error before the first run. */
TEST(compare_plot_checked_before_running)
{
	char dir[] = "/tmp/memlens-plot-XXXXXX", flag[64];
	char *argv[] = { "memlens", "compare", "--allocators", "glibc", "-n", "1",
			 "--plot", "/nonexistent/dir/p.svg", "--", "touch", flag, NULL };

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(flag, sizeof(flag), "%s/flag", dir);
	expect_error(_metadata, argv, 1, "cannot write /nonexistent/dir/p.svg");
	EXPECT_NE(0, access(flag, F_OK)) TH_LOG("a run happened first");
	unlink(flag);
	rmdir(dir);
}

/* compare's JSON keeps the whole command line. */
TEST(compare_json_keeps_the_arguments)
{
	char *argv[] = { "memlens", "compare", "--allocators", "glibc", "-n", "1", "--json",
			 "--", "sh", "-c", "true", NULL };
	struct jval *doc;

	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_STREQ("sh -c true", jstr(doc, "compare.command"));
}

/* Within the 6 significant digits the JSON numbers carry. */
#define NEAR(a, b) (fabs((a) - (b)) <= 1e-5 * fabs(b) + 1e-9)

/*
 * compare -r N as perf stat -r: one warm-up round not counted (the
 * command logs each run to a file: (N + 1) x allocators lines), N runs
 * interleaved; mean, stddev, min, max and the ratio's significance
 * recomputed here from the JSON's own per-run table.
 */
TEST(compare_repeats_with_warmup_mean_and_spread)
{
	char dir[] = "/tmp/memlens-runs-XXXXXX", script[256], logf[64], lib[4096], allocs[4200];
	char *argv[] = { "memlens", "compare", "--allocators", allocs, "-r", "4", "--json", "--",
			 "sh", "-c", script, NULL };
	static const char *const figs[] = { "wall", "peak_resident", "minor_faults", "pagetable" };
	static const char *const runcol[] = { "wall_seconds", "peak_resident_bytes",
					      "minor_faults", "pagetable_bytes" };
	static const char *const unit[] = { "_seconds", "_bytes", "", "_bytes" };
	const char *names[2] = { "glibc", NULL };
	double mean[2][4], sd[2][4];
	const struct jval *rows, *runs;
	struct jval *doc;
	char buf[4096], key[96];
	int lines = 0;

	mlalloc_path(lib, sizeof(lib));
	snprintf(allocs, sizeof(allocs), "glibc,%s", lib);
	names[1] = lib;
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(logf, sizeof(logf), "%s/log", dir);
	snprintf(script, sizeof(script), "echo run >> %s; head -c 3000000 /dev/zero | wc -c", logf);
	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	ASSERT_LT(0, ml_read_file(logf, buf, sizeof(buf)));
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	EXPECT_EQ((4 + 1) * 2, lines);
	unlink(logf);
	rmdir(dir);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(4, jnum(doc, "compare.runs"));
	EXPECT_EQ(1, jnum(doc, "compare.warmup"));
	rows = jget(jpath(doc, "allocators"), "rows");
	runs = jget(jpath(doc, "runs"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_NE(NULL, runs);
	ASSERT_EQ(2, rows->n);
	ASSERT_EQ(8, runs->n);
	for (int a = 0; a < 2; a++)
		for (int f = 0; f < 4; f++) {
			double x[4], sum = 0, sq = 0, lo = 1e300, hi = -1e300;
			int k = 0;

			for (int i = 0; i < runs->n; i++)
				if (!strcmp(jstr(runs->items[i], "allocator"), names[a]))
					x[k++] = jnum(runs->items[i], runcol[f]);
			ASSERT_EQ(4, k);
			for (int i = 0; i < 4; i++) {
				sum += x[i];
				lo = x[i] < lo ? x[i] : lo;
				hi = x[i] > hi ? x[i] : hi;
			}
			mean[a][f] = sum / 4;
			for (int i = 0; i < 4; i++)
				sq += (x[i] - mean[a][f]) * (x[i] - mean[a][f]);
			snprintf(key, sizeof(key), "%s_mean%s", figs[f], unit[f]);
			EXPECT_TRUE(NEAR(jnum(rows->items[a], key), mean[a][f]))
				TH_LOG("%s %s: %g vs %g", names[a], key, jnum(rows->items[a], key), mean[a][f]);
			/* the sample variance (no libm here): stddev squared */
			snprintf(key, sizeof(key), "%s_stddev%s", figs[f], unit[f]);
			sd[a][f] = jnum(rows->items[a], key);
			EXPECT_TRUE(fabs(sd[a][f] * sd[a][f] - sq / 3) <= 3e-5 * (sq / 3) + 1e-12)
				TH_LOG("%s %s: %g^2 vs %g", names[a], key, sd[a][f], sq / 3);
			snprintf(key, sizeof(key), "%s_min%s", figs[f], unit[f]);
			EXPECT_TRUE(NEAR(jnum(rows->items[a], key), lo)) TH_LOG("%s", key);
			snprintf(key, sizeof(key), "%s_max%s", figs[f], unit[f]);
			EXPECT_TRUE(NEAR(jnum(rows->items[a], key), hi)) TH_LOG("%s", key);
		}
	/* the ratio of the means, significant unless its spread holds 1.0 */
	for (int f = 0; f < 4; f++) {
		double r = mean[1][f] / mean[0][f];
		double rlo = (mean[1][f] - sd[1][f]) / (mean[0][f] + sd[0][f]);
		double rhi = mean[0][f] - sd[0][f] > 0 ?
				     (mean[1][f] + sd[1][f]) / (mean[0][f] - sd[0][f]) : 1e300;

		snprintf(key, sizeof(key), "%s_mean_ratio", figs[f]);
		EXPECT_TRUE(NEAR(jnum(rows->items[1], key), r)) TH_LOG("%s", key);
		snprintf(key, sizeof(key), "%s_ratio_significant", figs[f]);
		/* not decided here when the spread's end is within rounding of 1.0 */
		if (fabs(rlo - 1) > 1e-4 && fabs(rhi - 1) > 1e-4)
			EXPECT_EQ(rlo > 1 || rhi < 1, jnum(rows->items[1], key))
				TH_LOG("%s: %g..%g", key, rlo, rhi);
	}
}

/* Text: the spread per figure, a "not significant" mark where it applies. */
TEST(compare_text_shows_the_spread)
{
	char *argv[] = { "memlens", "compare", "--allocators", "glibc,glibc", "-r", "3", "--",
			 "sh", "-c", "true", NULL };

	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_NE(NULL, strstr(res.out, "3 runs each after 1 warm-up round")) TH_LOG("%s", res.out);
	EXPECT_NE(NULL, strstr(res.out, "\nwall time: mean +- stddev (min - max), ratio of the means\n"));
	EXPECT_NE(NULL, strstr(res.out, "\nminor faults: mean +- stddev"));
}

/*
 * run -r N as perf stat -r: one warm-up run, then N counted; each counted
 * run's minor faults and peak resident checked against what the workload
 * read of itself just before exiting (its ready line, on stderr with
 * --json), and mean, stddev, min and max recomputed from the per-run table.
 */
TEST(run_repeat_mean_and_spread)
{
	char *argv[] = { "memlens", "run", "-r", "4", "--json", "--", WL_ARGS, NULL };
	static const char *const figs[] = { "wall_seconds", "user_seconds", "sys_seconds",
					    "peak_resident_bytes", "minor_faults",
					    "major_faults", "peak_pagetable_bytes" };
	unsigned long minflt[5], hwm[5];
	const struct jval *runs;
	struct jval *doc;
	const char *p = res.err;
	char key[96];
	int n = 0;

	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	/* the workload's own lines: 1 warm-up + 4 runs, in order */
	while (n < 5 && (p = strstr(p, "ready "))) {
		ASSERT_EQ(2, sscanf(p, "ready %*x %*x %*x %*x %lu %lu", &minflt[n], &hwm[n]));
		n++;
		p++;
	}
	EXPECT_EQ(5, n);
	EXPECT_EQ(NULL, strstr(p, "ready ")) TH_LOG("more runs than 1 + 4");
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(4, jnum(doc, "run.runs"));
	EXPECT_EQ(1, jnum(doc, "run.warmup"));
	EXPECT_EQ(0, jnum(doc, "run.runs_failed"));
	runs = jget(jpath(doc, "runs"), "rows");
	ASSERT_NE(NULL, runs);
	ASSERT_EQ(4, runs->n);
	for (int i = 0; i < 4; i++) {
		const struct jval *row = runs->items[i];

		EXPECT_EQ(i, jnum(row, "run"));
		EXPECT_EQ(0, jnum(row, "exit_status"));
		EXPECT_GE(jnum(row, "minor_faults"), minflt[i + 1]);
		EXPECT_LE(jnum(row, "minor_faults"), minflt[i + 1] + 300);
		EXPECT_GE(jnum(row, "peak_resident_bytes"), hwm[i + 1] * 1024.0 - (1 << 20));
		EXPECT_LE(jnum(row, "peak_resident_bytes"), hwm[i + 1] * 1024.0 + (2 << 20));
	}
	for (unsigned int f = 0; f < sizeof(figs) / sizeof(figs[0]); f++) {
		double x[4], sum = 0, sq = 0, lo = 1e300, hi = -1e300, mean, sd, slack = 0;

		for (int i = 0; i < 4; i++) {
			x[i] = jnum(runs->items[i], figs[f]);
			sum += x[i];
			lo = x[i] < lo ? x[i] : lo;
			hi = x[i] > hi ? x[i] : hi;
		}
		mean = sum / 4;
		/*
		 * each x is rounded to 6 significant digits (5e-6 of it at
		 * most): the sum of squares here may be off by 2 |x - mean|
		 * times that, per run
		 */
		for (int i = 0; i < 4; i++) {
			sq += (x[i] - mean) * (x[i] - mean);
			slack += 2 * fabs(x[i] - mean) * 5e-6 * fabs(x[i]) + 1e-12;
		}
		snprintf(key, sizeof(key), "statistics.%s.mean.value", figs[f]);
		EXPECT_TRUE(NEAR(jnum(doc, key), mean)) TH_LOG("%s: %g vs %g", key, jnum(doc, key), mean);
		snprintf(key, sizeof(key), "statistics.%s.stddev.value", figs[f]);
		sd = jnum(doc, key);
		EXPECT_TRUE(fabs(sd * sd - sq / 3) <= 3e-5 * (sq / 3) + slack / 3)
			TH_LOG("%s: %g^2 vs %g", key, sd, sq / 3);
		snprintf(key, sizeof(key), "statistics.%s.min.value", figs[f]);
		EXPECT_TRUE(NEAR(jnum(doc, key), lo)) TH_LOG("%s", key);
		snprintf(key, sizeof(key), "statistics.%s.max.value", figs[f]);
		EXPECT_TRUE(NEAR(jnum(doc, key), hi)) TH_LOG("%s", key);
	}
	/* what the backend cannot give stays unavailable, never 0 */
	EXPECT_EQ(J_NULL, jget(jpath(doc, "statistics.tlb_flushes.mean"), "value")->t);
	EXPECT_NE(NULL, jstr(doc, "statistics.tlb_flushes.mean.unavailable"));
}

/* Text and Prometheus of run -r; a failing command's status; bad counts. */
TEST(run_repeat_text_prometheus_and_errors)
{
	char *text[] = { "memlens", "run", "-r", "3", "--", "sh", "-c", "true", NULL };
	char *prom[] = { "memlens", "run", "-r", "2", "--warmup", "0", "--prometheus", "--",
			 "sh", "-c", "true", NULL };
	char *fail[] = { "memlens", "run", "-r", "2", "--json", "--", "sh", "-c", "exit 3", NULL };
	char *zero[] = { "memlens", "run", "-r", "0", "--", "true", NULL };
	char *many[] = { "memlens", "run", "-r", "101", "--", "true", NULL };
	char *word[] = { "memlens", "run", "--repeat", "x", "--", "true", NULL };
	char *warm[] = { "memlens", "run", "-r", "2", "--warmup", "11", "--", "true", NULL };
	struct jval *doc;
	char why[160];

	ASSERT_EQ(0, ml_run(&res, text));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_NE(NULL, strstr(res.out, ", 3 runs after 1 warm-up run\n")) TH_LOG("%s", res.out);
	EXPECT_NE(NULL, strstr(res.out, "\nResult over 3 runs (exec to exit): mean +- stddev (min - max)\n"));
	EXPECT_NE(NULL, strstr(res.out, "\n  minor faults  "));
	ASSERT_EQ(0, ml_run(&res, prom));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_LT(0, prom_value(res.out, "memlens_statistics_minor_faults_mean",
				"allocator=\"glibc\""));
	ASSERT_EQ(0, ml_run(&res, fail));
	EXPECT_EQ(3, res.status);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(2, jnum(doc, "run.runs_failed"));
	expect_error(_metadata, zero, 2, "--repeat wants a number from 1 to 100");
	expect_error(_metadata, many, 2, "--repeat wants a number from 1 to 100");
	expect_error(_metadata, word, 2, "--repeat wants a number from 1 to 100");
	expect_error(_metadata, warm, 2, "--warmup wants a number from 0 to 10");
	EXPECT_EQ(NULL, strchr(strchr(res.err, '\n') + 1, '\n')) TH_LOG("one line: %s", res.err);
}

TEST_HARNESS_MAIN
