// SPDX-License-Identifier: GPL-2.0
/*
 * memlens watch: plain lines through a pipe that follow a workload as it
 * touches a known number of pages and end when it exits; the in-place view
 * in a pseudo-terminal (forkpty), redrawn and ended by Ctrl-C typed on the
 * terminal; the view within the terminal's width (TIOCGWINSZ, else
 * $COLUMNS) with libmlalloc's arenas; JSON lines with their refresh index
 * and time, and the arenas against this test's read of pagemap; atomic
 * --output files; the error cases.
 */
#include <math.h>
#include <time.h>
#include <pty.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

static char err[256];

struct line {
	double rss, minflt;
};

static int parse_lines(const char *text, struct line *out, int max)
{
	int n = 0;

	for (const char *l = text; l && *l && n < max; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *r = strstr(l, " rss="), *m = strstr(l, " minflt=");
		const char *nl = strchr(l, '\n');

		if (!r || !m || !nl || r > nl || m > nl)
			continue;
		out[n].rss = strtod(r + 5, NULL);
		out[n].minflt = strtod(m + 8, NULL);
		n++;
	}
	return n;
}

TEST(lines_follow_the_workload_and_end_with_it)
{
	char *args[] = { "-p", "3000", NULL };
	static char text[65536];
	struct line lines[256];
	struct workload w;
	size_t off = 0;
	int po[2], st, n;
	pid_t watch;
	char pid[16];

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	ASSERT_EQ(0, pipe(po));
	watch = fork();
	if (!watch) {
		dup2(po[1], 1);
		close(po[0]);
		execlp("memlens", "memlens", "watch", "-i", "0.1", pid, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	ASSERT_EQ(0, read_until(po[0], text, sizeof(text), &off, "\n", 2, 5000));
	ASSERT_EQ(0, wl_go(&w));	/* it touches 3000 pages now */
	ASSERT_EQ(0, read_until(po[0], text, sizeof(text), &off, "\n", 6, 5000));
	/* the workload exits: watch must notice and end by itself */
	EXPECT_EQ(0, wl_stop(&w));
	/* until EOF: watch closed its stdout (or 3 s passed) */
	read_until(po[0], text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(watch, waitpid(watch, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	n = parse_lines(text, lines, 256);
	ASSERT_GE(n, 6);
	EXPECT_EQ(NULL, strchr(text, '\033'));	/* not a terminal: no escapes */
	/* growth seen: at least the 3000 pages and 3000 faults */
	EXPECT_GE(lines[n - 1].rss - lines[0].rss, 3000 * 4096.0);
	EXPECT_GE(lines[n - 1].minflt - lines[0].minflt, 3000);
	EXPECT_NE(NULL, strstr(text, "minflt_rate="));
	close(po[0]);
}

TEST(pty_view_redraws_and_ctrl_c_ends_it)
{
	static char text[262144];
	struct workload w;
	struct winsize ws = { .ws_row = 40, .ws_col = 120 };
	size_t off = 0;
	char pid[16];
	int master, st, draws = 0;
	pid_t watch;

	ASSERT_EQ(0, wl_start(&w, NULL, NULL));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	watch = forkpty(&master, NULL, NULL, &ws);
	ASSERT_LE(0, watch);
	if (!watch) {
		execlp("memlens", "memlens", "watch", "-i", "0.1", pid, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[H\033[2J", 3, 5000))
		TH_LOG("got: %.300s", text);
	/* Ctrl-C typed on the terminal: SIGINT from the line discipline */
	ASSERT_EQ(1, write(master, "\003", 1));
	read_until(master, text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(watch, waitpid(watch, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	for (const char *q = text; (q = strstr(q, "\033[H\033[2J")); q++)
		draws++;
	EXPECT_GE(draws, 3);
	EXPECT_NE(NULL, strstr(text, "memlens watch: pid "));
	EXPECT_NE(NULL, strstr(text, "faults      minor "));
	/* per-VMA faults with the module or BPF, resident growth with /proc */
	if (strstr(text, ", backend bpf,") || strstr(text, ", backend module,")) {
		EXPECT_NE(NULL, strstr(text, "VMAs by faults ("));
	} else {
		EXPECT_NE(NULL, strstr(text, "VMAs by resident growth"));
	}
	/* rates appear from the second refresh on */
	EXPECT_NE(NULL, strstr(text, "/s  major "));
	close(master);
	EXPECT_EQ(0, wl_stop(&w));
}

/*
 * A workload under libmlalloc in a pseudo-terminal @cols wide (0: the
 * terminal does not say, and $COLUMNS does): three refreshes, Ctrl-C; no
 * line wider than @want, the arenas shown.
 */
static void narrow_view(struct __test_metadata *_metadata, int cols, const char *env, int want)
{
	static char text[262144];
	char *args[] = { "-b", "1000", "-s", "100", NULL };
	struct winsize ws = { .ws_row = 50, .ws_col = cols };
	struct workload w;
	size_t off = 0;
	char pid[16], lib[4200];
	int master, st, lines;
	pid_t watch;

	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, wl_start(&w, lib, args));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	watch = forkpty(&master, NULL, NULL, &ws);
	ASSERT_LE(0, watch);
	if (!watch) {
		if (env)
			setenv("COLUMNS", env, 1);
		else
			unsetenv("COLUMNS");
		execlp("memlens", "memlens", "watch", "-i", "0.1", pid, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[H\033[2J", 3, 5000))
		TH_LOG("got: %.300s", text);
	ASSERT_EQ(1, write(master, "\003", 1));
	read_until(master, text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(watch, waitpid(watch, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	/* the view: from the first redraw on (notes on stderr come before it) */
	ASSERT_NE(NULL, strstr(text, "\033[H\033[2J"));
	/* the terminal's echo of Ctrl-C (ECHOCTL "^C") lands after a line: not the view's */
	for (char *c; (c = strstr(text, "^C"));)
		memmove(c, c + 2, strlen(c + 2) + 1);
	EXPECT_LE(widest_line(strstr(text, "\033[H\033[2J"), &lines), want) TH_LOG("%s", text);
	EXPECT_GE(lines, 3 * 10);
	EXPECT_NE(NULL, strstr(text, "libmlalloc: live "));
	EXPECT_NE(NULL, strstr(text, " segments "));
	close(master);
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(view_fits_80_columns) { narrow_view(_metadata, 80, NULL, 80); }
TEST(view_fits_columns_from_the_environment) { narrow_view(_metadata, 0, "60", 60); }

static long long unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * --json -n 3: three lines, each with its refresh index and the time of
 * its snapshot (within this test's clock around the run, increasing, apart
 * by the interval each line reports from the second on); the arenas'
 * resident bytes equal this test's read of pagemap, the live bytes hold
 * the 1000 blocks of 100 B (112 B each) the workload keeps.
 */
TEST(json_lines_carry_time_and_arenas)
{
	char *args[] = { "-b", "1000", "-s", "100", NULL };
	char pid[16], lib[4200];
	char *argv[] = { "memlens", "watch", "--json", "-n", "3", "-i", "0.1", pid, NULL };
	long long before, after, stamp[3];
	struct workload w;
	char *line, *nl;
	int n = 0;

	mlalloc_path(lib, sizeof(lib));
	ASSERT_EQ(0, wl_start(&w, lib, args));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	before = unix_ms();
	ASSERT_EQ(0, ml_run(&res, argv));
	after = unix_ms();
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	for (line = res.out; (nl = strchr(line, '\n')); line = nl + 1, n++) {
		const struct jval *rows;
		struct jval *doc;

		*nl = '\0';
		ASSERT_LT(n, 3);
		doc = jparse(line, err, sizeof(err));
		ASSERT_NE(NULL, doc) TH_LOG("line %d: %s", n, err);
		ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
		EXPECT_EQ(n, jnum(doc, "frame.index"));
		stamp[n] = (long long)jnum(doc, "frame.time_unix_ms");
		EXPECT_LE(before, stamp[n]);
		EXPECT_GE(after, stamp[n]);
		if (!n) {
			EXPECT_EQ(J_NULL, jget(jpath(doc, "frame.interval_seconds"), "value")->t);
		} else {
			double gap = (stamp[n] - stamp[n - 1]) / 1000.0;

			EXPECT_GT(stamp[n], stamp[n - 1]);
			EXPECT_LE(fabs(gap - jnum(doc, "frame.interval_seconds.value")), 0.005)
				TH_LOG("%g s apart, interval %g s", gap,
				       jnum(doc, "frame.interval_seconds.value"));
		}
		ASSERT_EQ(NULL, jstr(doc, "mlalloc.unavailable")) TH_LOG("%s", jstr(doc, "mlalloc.unavailable"));
		EXPECT_GE(jnum(doc, "mlalloc.live_bytes.value"), 1000 * 112.0);
		rows = jget(jpath(doc, "mlalloc.arenas"), "rows");
		ASSERT_NE(NULL, rows);
		ASSERT_GE(rows->n, 1);
		for (int i = 0; i < rows->n; i++) {
			uint64_t base = jaddr(rows->items[i], "base");
			uint64_t size = jnum(rows->items[i], "size_bytes");

			ASSERT_NE(0, base) TH_LOG("arena base not a 0x... string");
			EXPECT_EQ(pagemap_present(w.pid, base, base + size),
				  jnum(rows->items[i], "resident_bytes"))
				TH_LOG("line %d arena %d", n, i);
		}
	}
	EXPECT_EQ(3, n);
	EXPECT_EQ(0, wl_stop(&w));
}

/* Without libmlalloc: the arenas are unavailable, with the reason. */
TEST(json_without_mlalloc_says_why)
{
	char pid[16];
	char *argv[] = { "memlens", "watch", "--json", "-n", "1", pid, NULL };
	struct workload w;
	struct jval *doc;

	ASSERT_EQ(0, wl_start(&w, NULL, NULL));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_NE(NULL, jstr(doc, "mlalloc.unavailable"));
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(output_file_is_replaced_atomically)
{
	char path[] = "/tmp/memlens-watch-XXXXXX", pid[16], why[160];
	char *argv[] = { "memlens", "watch", "--prometheus", "-n", "3", "-i", "0.05",
			 "-o", path, pid, NULL };
	char *json[] = { "memlens", "watch", "--json", "-n", "2", "-i", "0.05", pid, NULL };
	static char text[65536];
	struct workload w;
	struct jval *doc;
	int fd = mkstemp(path);
	char *nl;

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, wl_start(&w, NULL, NULL));
	ASSERT_EQ(0, wl_go(&w));
	snprintf(pid, sizeof(pid), "%d", w.pid);
	ASSERT_EQ(0, ml_run(&res, argv));
	EXPECT_EQ(0, res.status) TH_LOG("%s", res.err);
	EXPECT_STREQ("", res.out);
	ASSERT_LT(0, ml_read_file(path, text, sizeof(text)));
	EXPECT_EQ(0, prom_check(text, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(status_bytes(w.pid, "VmRSS:"),
		  prom_value(text, "memlens_summary_resident_bytes", NULL));
	EXPECT_LE(0, prom_value(text, "memlens_rates_minor_faults_per_second", NULL));
	unlink(path);
	/* --json: one document per refresh, one per line */
	ASSERT_EQ(0, ml_run(&res, json));
	EXPECT_EQ(0, res.status);
	nl = strchr(res.out, '\n');
	ASSERT_NE(NULL, nl);
	*nl = '\0';
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(J_NULL, jpath(doc, "rates.minor_faults_per_second.value")->t);
	doc = jparse(nl + 1, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_EQ(J_NUM, jpath(doc, "rates.minor_faults_per_second.value")->t);
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(errors)
{
	char *kthread[] = { "memlens", "watch", "2", NULL };
	char *interval[] = { "memlens", "watch", "-i", "0", "1", NULL };
	char *nopid[] = { "memlens", "watch", NULL };
	char gone[16];
	char *noproc[] = { "memlens", "watch", gone, NULL };
	pid_t p = fork();

	if (!p)
		_exit(0);
	waitpid(p, NULL, 0);
	snprintf(gone, sizeof(gone), "%d", p);
	ASSERT_EQ(0, ml_run(&res, noproc));
	EXPECT_EQ(3, res.status);
	EXPECT_NE(NULL, strstr(res.err, "no such process"));
	ASSERT_EQ(0, ml_run(&res, kthread));
	EXPECT_EQ(4, res.status);
	ASSERT_EQ(0, ml_run(&res, interval));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "--interval wants seconds"));
	ASSERT_EQ(0, ml_run(&res, nopid));
	EXPECT_EQ(2, res.status);
}

TEST_HARNESS_MAIN
