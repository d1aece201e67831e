// SPDX-License-Identifier: GPL-2.0
/*
 * memlens watch: plain lines through a pipe that follow a workload as it
 * touches a known number of pages and end when it exits; the in-place view
 * in a pseudo-terminal (forkpty), redrawn and ended by Ctrl-C typed on the
 * terminal; atomic --output files; the error cases.
 */
#include <pty.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

static char err[256];

/* Read what @fd has until @want appears @times times or @ms pass. */
static int read_until(int fd, char *buf, size_t len, size_t *off, const char *want,
		      int times, int ms)
{
	for (int waited = 0; waited < ms; ) {
		struct pollfd p = { fd, POLLIN, 0 };
		int found = 0;

		for (const char *q = buf; (q = strstr(q, want)); q++)
			found++;
		if (found >= times)
			return 0;
		if (poll(&p, 1, 50) > 0) {
			ssize_t n = read(fd, buf + *off, len - 1 - *off);

			if (n <= 0)
				return -1;
			*off += n;
			buf[*off] = '\0';
		} else {
			waited += 50;
		}
	}
	return -1;
}

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
