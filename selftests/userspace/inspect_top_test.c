// SPDX-License-Identifier: GPL-2.0
/*
 * memlens top: a workload faulting in a loop is ranked by its fault rate,
 * bounded by its own /proc counters read around the measurement; an idle
 * workload's row matches its /proc/PID/status; rss and pss of a child
 * sharing a known region with this test, against smaps_rollup and the sum
 * over smaps (within the share of file pages, which other processes
 * starting and ending move); batch frames with their timestamps; the live screen in a
 * pseudo-terminal (its width, q and Ctrl-C, the terminal restored);
 * orders, Prometheus output, kernel threads left out, usage errors.
 */
#include <math.h>
#include <pthread.h>
#include <pty.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>

#include "kselftest_harness.h"
#include "inspect_lib.h"
#include "ml_prom.h"

static char err[256];

static const struct jval *row_of(const struct jval *doc, pid_t pid)
{
	return jrow(doc, "processes", "pid", pid);
}

TEST(fault_rate_ranked_and_bounded)
{
	char *args[] = { "-f", NULL };
	char *argv[] = { "memlens", "top", "-n", "0", "-i", "0.5", "--json", NULL };
	const struct jval *rows, *row;
	struct workload w;
	struct jval *doc;
	double before, after, prev = 1e300;


	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	before = stat_field(w.pid, 10);
	ASSERT_EQ(0, ml_run(&res, argv));
	after = stat_field(w.pid, 10);
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("faults", jstr(doc, "top.sort"));
	row = row_of(doc, w.pid);
	ASSERT_NE(NULL, row);
	/*
	 * memlens counted within [before, after] over at least 0.5 s; no
	 * floor on the rate, which depends on the machine
	 */
	EXPECT_GT(jnum(row, "faults_per_second"), 0);
	EXPECT_LE(jnum(row, "faults_per_second") * 0.5, after - before);
	EXPECT_STREQ("inspect_workloa", jstr(row, "comm"));
	rows = jget(jpath(doc, "processes"), "rows");
	for (int i = 0; i < rows->n; i++) {
		double r = jnum(rows->items[i], "faults_per_second");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
		EXPECT_NE(2, jnum(rows->items[i], "pid"));	/* kthreadd */
	}
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(pgtables_rows_match_status)
{
	char *args[] = { "-p", "16384", NULL };
	char *argv[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--sort", "pgtables",
			 "--json", NULL };
	const struct jval *rows, *row;
	struct workload w;
	struct jval *doc;
	double prev = 1e300;

	ASSERT_EQ(0, wl_start(&w, NULL, args));
	ASSERT_EQ(0, wl_go(&w));
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	row = row_of(doc, w.pid);
	ASSERT_NE(NULL, row);
	EXPECT_EQ(status_bytes(w.pid, "VmPTE:"), jnum(row, "pagetable_bytes"));
	EXPECT_EQ(status_bytes(w.pid, "VmRSS:"), jnum(row, "resident_bytes"));
	EXPECT_EQ(status_bytes(w.pid, "VmSwap:"), jnum(row, "swap_bytes"));
	/* 64 MiB touched in 4 KiB pages: 32 PTE tables at least */
	EXPECT_GE(jnum(row, "pagetable_bytes"), 32 * 4096);
	EXPECT_EQ(0, jnum(row, "faults_per_second"));	/* idle */
	rows = jget(jpath(doc, "processes"), "rows");
	for (int i = 0; i < rows->n; i++) {
		double r = jnum(rows->items[i], "pagetable_bytes");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
	}
	EXPECT_EQ(0, wl_stop(&w));
}

TEST(text_and_prometheus)
{
	char *text[] = { "memlens", "top", "-n", "3", "-i", "0.05", "--sort", "swap", NULL };
	char *prom[] = { "memlens", "top", "-n", "5", "-i", "0.05", "--prometheus", NULL };
	char why[160];
	int lines = 0;

	ASSERT_EQ(0, ml_run(&res, text));
	EXPECT_EQ(0, res.status);
	EXPECT_NE(NULL, strstr(res.out, "memlens top: "));
	EXPECT_NE(NULL, strstr(res.out, "by swap"));
	for (const char *p = res.out; (p = strchr(p, '\n')); p++)
		lines++;
	EXPECT_EQ(3 + 4, lines);	/* title, blank, table title, header, 3 rows */
	ASSERT_EQ(0, ml_run(&res, prom));
	EXPECT_EQ(0, res.status);
	EXPECT_EQ(0, prom_check(res.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(res.out, "memlens_processes_pagetable_bytes{pid=\""));
}

/* "Key: N kB" of smaps_rollup (@sum false) or summed over smaps' VMAs, in bytes. */
static double smaps_total(pid_t pid, const char *key, bool sum, int *nvmas)
{
	char path[64], line[512];
	double v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, sum ? "smaps" : "smaps_rollup");
	f = fopen(path, "r");
	if (!f)
		return -1;
	*nvmas = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (sscanf(line, "%llx-%llx ", &a, &b) == 2)
			(*nvmas)++;
		else if (!strncmp(line, key, strlen(key)))
			v += strtod(line + strlen(key), NULL) * 1024;
	}
	fclose(f);
	return v;
}

#define SHARED (32UL << 20)

/*
 * A child shares SHARED bytes of anonymous memory, touched before the
 * fork, with this test: each maps them once, so each one's PSS holds half
 * of them and its RSS all of them.  The child's row: rss = VmRSS; pss =
 * smaps_rollup's Pss and the sum over smaps (rounded down to a kB per
 * VMA), give or take its Pss_File: the share of a library page moves when
 * another process mapping it (memlens itself) starts or ends; rss - pss at
 * least SHARED / 2; rows in order of pss, then of rss.
 */
TEST(rss_and_pss_of_a_known_shared_region)
{
	char *pss[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--sort", "pss", "--json", NULL };
	char *rss[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--sort", "rss", "--json", NULL };
	const struct jval *rows, *row;
	double prev = 1e300, rollup, sum, file;
	int go[2], nv, nvs;
	struct jval *doc;
	char *region, c;
	pid_t child;

	region = mmap(NULL, SHARED, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, region);
	madvise(region, SHARED, MADV_NOHUGEPAGE);
	memset(region, 1, SHARED);
	ASSERT_EQ(0, pipe(go));
	child = fork();
	if (!child) {
		close(go[1]);
		while (read(go[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, ml_run(&res, pss));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	rollup = smaps_total(child, "Pss:", false, &nv);
	file = smaps_total(child, "Pss_File:", false, &nv);
	sum = smaps_total(child, "Pss:", true, &nvs);
	ASSERT_LE(0, file) TH_LOG("no Pss_File in smaps_rollup (Linux 5.7+)");
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("pss", jstr(doc, "top.sort"));
	row = row_of(doc, child);
	ASSERT_NE(NULL, row);
	EXPECT_EQ(status_bytes(child, "VmRSS:"), jnum(row, "resident_bytes"));
	EXPECT_LE(fabs(rollup - jnum(row, "pss_bytes")), file)
		TH_LOG("pss %g, smaps_rollup %g", jnum(row, "pss_bytes"), rollup);
	EXPECT_LE(sum - file, jnum(row, "pss_bytes"));
	EXPECT_GE(sum + nvs * 1024.0 + file, jnum(row, "pss_bytes"));
	EXPECT_GE(jnum(row, "resident_bytes"), SHARED);
	EXPECT_GE(jnum(row, "resident_bytes") - jnum(row, "pss_bytes"), SHARED / 2);
	EXPECT_GE(jnum(row, "pss_bytes"), SHARED / 2);
	rows = jget(jpath(doc, "processes"), "rows");
	for (int i = 0; i < rows->n; i++) {
		const struct jval *v = jget(rows->items[i], "pss_bytes");
		double r = v->t == J_NULL ? -1 : jnum(rows->items[i], "pss_bytes");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
	}
	ASSERT_EQ(0, ml_run(&res, rss));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	row = row_of(doc, child);
	ASSERT_NE(NULL, row);
	EXPECT_EQ(status_bytes(child, "VmRSS:"), jnum(row, "resident_bytes"));
	rows = jget(jpath(doc, "processes"), "rows");
	prev = 1e300;
	for (int i = 0; i < rows->n; i++) {
		double r = jnum(rows->items[i], "resident_bytes");

		EXPECT_LE(r, prev) TH_LOG("row %d out of order", i);
		prev = r;
	}
	close(go[1]);
	waitpid(child, NULL, 0);
	munmap(region, SHARED);
}

static long long unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * -b -d 3: three frames, one JSON document a line, each with its index
 * and the time its sample began: within this test's clock around the run,
 * increasing, and apart by the measured interval each frame reports (both
 * clocks are read together); frames are due every 0.1 s from the first
 * sample, so the intervals add up to 0.3 s at least.
 */
TEST(batch_frames_carry_timestamps)
{
	char *argv[] = { "memlens", "top", "-b", "--iterations", "3", "-i", "0.1", "-n", "2", "--json", NULL };
	long long before, after, stamp[3];
	double total = 0;
	char *line = res.out, *nl;
	int n = 0;

	before = unix_ms();
	ASSERT_EQ(0, ml_run(&res, argv));
	after = unix_ms();
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	for (; (nl = strchr(line, '\n')); line = nl + 1, n++) {
		struct jval *doc;

		*nl = '\0';
		ASSERT_LT(n, 3) TH_LOG("more than 3 frames");
		doc = jparse(line, err, sizeof(err));
		ASSERT_NE(NULL, doc) TH_LOG("frame %d: %s", n, err);
		ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
		EXPECT_EQ(n, jnum(doc, "frame.index"));
		stamp[n] = (long long)jnum(doc, "frame.time_unix_ms");
		EXPECT_LE(before, stamp[n]);
		EXPECT_GE(after, stamp[n]);
		total += jnum(doc, "frame.interval_seconds.value");
		if (n) {
			double gap = (stamp[n] - stamp[n - 1]) / 1000.0;

			EXPECT_GT(stamp[n], stamp[n - 1]);
			EXPECT_LE(fabs(gap - jnum(doc, "frame.interval_seconds.value")), 0.005)
				TH_LOG("frame %d: %g s apart, measured over %g s", n, gap,
				       jnum(doc, "frame.interval_seconds.value"));
		}
		EXPECT_LE(jget(jpath(doc, "processes"), "rows")->n, 2);
	}
	EXPECT_EQ(3, n);
	EXPECT_STREQ("", line);
	EXPECT_GE(total, 0.3 * (1 - 1e-5));
}

/* Three frames of the live screen at 80 x 24, then @key ends it. */
static void live_screen(struct __test_metadata *_metadata, const char *key)
{
	static char text[262144];
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios t;
	size_t off = 0;
	int master, st, draws = 0, lines;
	pid_t top;

	top = forkpty(&master, NULL, NULL, &ws);
	ASSERT_LE(0, top);
	if (!top) {
		execlp("memlens", "memlens", "top", "-i", "0.1", (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[H", 3, 5000))
		TH_LOG("got: %.300s", text);
	/* keys without Enter, no echo while it runs */
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(0, t.c_lflag & (ICANON | ECHO));
	ASSERT_EQ(1, write(master, key, 1));
	read_until(master, text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(top, waitpid(top, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	for (const char *q = text; (q = strstr(q, "\033[H")); q++)
		draws++;
	EXPECT_GE(draws, 3);
	EXPECT_NE(NULL, strstr(text, "memlens top: "));
	EXPECT_NE(NULL, strstr(text, "q quits"));
	EXPECT_NE(NULL, strstr(text, "faults/s"));
	/* 80 columns: the table without major/s, its last column whole */
	EXPECT_EQ(NULL, strstr(text, "major/s"));
	EXPECT_NE(NULL, strstr(text, " pgtables\033[K"));
	/* each frame in place: 24 rows at most, no line wider than 80 columns */
	for (char *f = strstr(text, "\033[H"), *next; f; f = next) {
		next = strstr(f + 3, "\033[H");
		if (next)
			*next = '\0';
		EXPECT_LE(widest_line(f, &lines), 80);
		EXPECT_LE(lines, 24);
		if (next)
			*next = '\033';
	}
	/* the terminal as it was: cursor shown, line mode and echo back */
	EXPECT_NE(NULL, strstr(text, "\033[?25h"));
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(ICANON | ECHO, t.c_lflag & (ICANON | ECHO));
	close(master);
}

TEST(live_screen_q_quits) { live_screen(_metadata, "q"); }
TEST(live_screen_ctrl_c_quits) { live_screen(_metadata, "\003"); }

/*
 * Ctrl-Z in the live screen, with a job-control shell between this test
 * and memlens (the pty's session leader: memlens in a process group of
 * its own in the foreground, so that the kernel stops it; an orphaned
 * group would not stop): before memlens stops, the terminal is back in
 * line mode with echo and the cursor shown; on SIGCONT raw mode is back,
 * the cursor hidden, and the last frame drawn again at once (the same
 * bytes: a new sample would say "over 1.x s", the stop lasting a second
 * at least, where frames say "over 0.5 s"); q still quits, exit 0.
 */
TEST(live_screen_ctrl_z_restores_then_resumes)
{
	static char text[262144];
	struct winsize ws = { .ws_row = 24, .ws_col = 100 };
	size_t off = 0, at_stop, at_cont;
	char *before, *after, *end, *h;
	struct termios t;
	int master, st;
	pid_t sh;

	sh = forkpty(&master, NULL, NULL, &ws);
	ASSERT_LE(0, sh);
	if (!sh) {
		pid_t job = fork();
		char go[8];

		if (!job) {
			setpgid(0, 0);
			signal(SIGTTOU, SIG_IGN);
			tcsetpgrp(0, getpid());
			signal(SIGTTOU, SIG_DFL);
			execlp("memlens", "memlens", "top", "-i", "0.5", (char *)NULL);
			_exit(127);
		}
		setpgid(job, job);
		if (waitpid(job, &st, WUNTRACED) != job || !WIFSTOPPED(st))
			_exit(10);
		/* the shell takes the terminal back, says so, waits for Enter */
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpgrp());
		printf("[stopped by signal %d]\n", WSTOPSIG(st));
		fflush(stdout);
		if (read(0, go, sizeof(go)) <= 0)
			_exit(11);
		tcsetpgrp(0, job);
		kill(-job, SIGCONT);
		if (waitpid(job, &st, 0) != job)
			_exit(12);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 13);
	}
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[J", 2, 10000))
		TH_LOG("got: %.300s", text);
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(0, t.c_lflag & (ICANON | ECHO));
	ASSERT_EQ(1, write(master, "\032", 1)); /* Ctrl-Z: VSUSP */
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "[stopped by signal", 1, 5000))
		TH_LOG("got: %.300s", text + (off > 300 ? off - 300 : 0));
	EXPECT_NE(NULL, strstr(text, "[stopped by signal 20]")) TH_LOG("SIGTSTP is 20");
	/* restored before the stop: cursor shown after the last frame, line mode, echo */
	at_stop = off;
	for (h = text; (end = strstr(h + 1, "\033[H")); h = end)
		;
	EXPECT_NE(NULL, strstr(h, "\033[?25h"));
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(ICANON | ECHO, t.c_lflag & (ICANON | ECHO));
	/* the last frame before the stop */
	before = strndup(h, strstr(h, "\033[J") ? (size_t)(strstr(h, "\033[J") - h) : 0);
	ASSERT_NE(NULL, before);
	sleep(1);
	ASSERT_EQ(1, write(master, "\n", 1));
	ASSERT_EQ(0, read_until(master, text + at_stop, sizeof(text) - at_stop, &(size_t){ 0 },
				"\033[J", 1, 5000));
	at_cont = strlen(text + at_stop);
	off = at_stop + at_cont;
	/* raw mode again, the cursor hidden, the frame drawn again as it was */
	after = strstr(text + at_stop, "\033[?25l");
	EXPECT_NE(NULL, after);
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(0, t.c_lflag & (ICANON | ECHO));
	h = strstr(text + at_stop, "\033[H");
	ASSERT_NE(NULL, h);
	end = strstr(h, "\033[J");
	ASSERT_NE(NULL, end);
	EXPECT_EQ(strlen(before), (size_t)(end - h));
	EXPECT_EQ(0, strncmp(before, h, end - h)) TH_LOG("redrawn: %.*s", (int)(end - h), h);
	EXPECT_NE(NULL, strstr(before, "over 0.5 s"));
	free(before);
	ASSERT_EQ(1, write(master, "q", 1));
	read_until(master, text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(sh, waitpid(sh, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	ASSERT_EQ(0, tcgetattr(master, &t));
	EXPECT_EQ(ICANON | ECHO, t.c_lflag & (ICANON | ECHO));
	close(master);
}

/* East Asian wide code points (two columns), as Unicode's EastAsianWidth.txt lists them, roughly. */
static bool wide_cp(unsigned int cp)
{
	return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	       (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/*
 * Columns of @s up to @end (or its end) by decoding UTF-8 here: each code
 * point one column, two if @wide and it is wide; escapes and \r none.
 * -1: a malformed or cut sequence.
 */
static int columns(const char *s, const char *end, bool wide)
{
	const unsigned char *p = (const unsigned char *)s, *e;
	int w = 0;

	e = end ? (const unsigned char *)end : p + strlen(s);
	while (p < e) {
		unsigned int cp, n;

		if (*p == '\033' && p + 1 < e && p[1] == '[') {
			for (p += 2; p < e && !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'));
			     p++)
				;
			p++;
			continue;
		}
		if (*p == '\r') {
			p++;
			continue;
		}
		n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
				   (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (!n || p + n > e)
			return -1;
		cp = n == 1 ? *p : *p & (0x7f >> n);
		for (unsigned int i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		w += wide && wide_cp(cp) ? 2 : 1;
		p += n;
	}
	return w;
}

/* A child named @name until @hold's write end closes. */
static pid_t named(const char *name, int *hold)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		close(p[1]);
		prctl(PR_SET_NAME, name);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	*hold = p[1];
	for (int i = 0; i < 2000; i++) {
		char path[64], comm[64] = "";

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (ml_read_file(path, comm, sizeof(comm)) > 0 && !strncmp(comm, name, strlen(name)))
			break;
		usleep(1000);
	}
	return pid;
}

#define UTF8_NAME "ml\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\xc3\xbc" /* mlé日本ü: 12 bytes, 8 columns */

/*
 * A process named in UTF-8 (two-column CJK characters among them): in
 * top's table under LC_ALL=C.UTF-8 its row's faults/s ends in the column
 * the header's does (widths in display columns, not bytes); under LC_ALL=C
 * each character counts one column, and the same holds counting so.
 */
TEST(utf8_name_keeps_columns_aligned)
{
	char name[24];
	char *argv[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--comm", name, NULL };
	const char *locales[] = { "C.UTF-8", "C" };
	int hold;
	pid_t pid;

	snprintf(name, sizeof(name), UTF8_NAME "%03d", getpid() % 1000);
	pid = named(name, &hold);
	ASSERT_LT(0, pid);
	for (int l = 0; l < 2; l++) {
		char *head, *row, *nl, *p;
		int tok = 0, hcol, rcol;

		setenv("LC_ALL", locales[l], 1);
		ASSERT_EQ(0, ml_run(&res, argv));
		unsetenv("LC_ALL");
		ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
		head = strstr(res.out, "faults/s");
		ASSERT_NE(NULL, head) TH_LOG("%s", res.out);
		row = strstr(res.out, name);
		ASSERT_NE(NULL, row) TH_LOG("%s", res.out);
		hcol = columns(strrchr(strndup(res.out, head - res.out), '\n') + 1, NULL, !l) +
		       (int)strlen("faults/s");
		while (row > res.out && row[-1] != '\n')
			row--;
		nl = strchr(row, '\n');
		ASSERT_NE(NULL, nl);
		/* the end of the row's third field: pid, command, faults/s */
		for (p = row; p < nl; p++)
			if (*p != ' ' && (p[1] == ' ' || p + 1 == nl) && ++tok == 3)
				break;
		ASSERT_EQ(3, tok) TH_LOG("%.*s", (int)(nl - row), row);
		rcol = columns(row, p + 1, !l);
		EXPECT_EQ(hcol, rcol) TH_LOG("LC_ALL=%s: %s", locales[l], res.out);
	}
	close(hold);
	waitpid(pid, NULL, 0);
}

/*
 * The live screen cuts lines by display columns: a terminal resized from
 * 10 to 40 columns while the UTF-8-named process is shown (under
 * C.UTF-8), the frame drawn after each size has no character cut in two
 * and no line wider than the terminal.
 */
TEST(live_screen_cuts_utf8_by_columns)
{
	static char text[1 << 20];
	struct winsize ws = { .ws_row = 24, .ws_col = 40 };
	char name[24];
	size_t off = 0;
	int master, st, hold;
	pid_t top, pid;

	snprintf(name, sizeof(name), UTF8_NAME "%03d", getpid() % 1000);
	pid = named(name, &hold);
	ASSERT_LT(0, pid);
	setenv("LC_ALL", "C.UTF-8", 1);
	top = forkpty(&master, NULL, NULL, &ws);
	unsetenv("LC_ALL");
	ASSERT_LE(0, top);
	if (!top) {
		execlp("memlens", "memlens", "top", "-i", "0.05", "--comm", name, (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[J", 1, 5000));
	for (int cols = 10; cols <= 40; cols++) {
		int frames = 0, lines;
		char *f, *e;

		for (const char *q = text; (q = strstr(q, "\033[J")); q++)
			frames++;
		ws.ws_col = cols;
		ASSERT_EQ(0, ioctl(master, TIOCSWINSZ, &ws));
		/* the second frame from now was laid out at this size */
		ASSERT_EQ(0, read_until(master, text, sizeof(text), &off, "\033[J", frames + 2, 5000));
		for (e = strstr(text, "\033[J"); strstr(e + 1, "\033[J");)
			e = strstr(e + 1, "\033[J");
		for (f = e; f > text && strncmp(f, "\033[H", 3); f--)
			;
		ASSERT_EQ(0, strncmp(f, "\033[H", 3));
		for (char *line = f + 3, *nl; line < e; line = nl + 2) {
			nl = strstr(line, "\r\n");
			if (!nl || nl > e)
				nl = e;
			EXPECT_LE(0, columns(line, nl, true))
				TH_LOG("%d columns: a character cut: %.*s", cols, (int)(nl - line), line);
			EXPECT_GE(cols - 1, columns(line, nl, true))
				TH_LOG("%d columns: %.*s", cols, (int)(nl - line), line);
		}
		(void)lines;
	}
	EXPECT_NE(NULL, strstr(text, "ml\xc3\xa9\xe6\x97\xa5"));
	ASSERT_EQ(1, write(master, "q", 1));
	read_until(master, text, sizeof(text), &off, "never printed", 1, 3000);
	ASSERT_EQ(top, waitpid(top, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	close(master);
	close(hold);
	waitpid(pid, NULL, 0);
}

static volatile pid_t parked_tid;

static void *parked(void *arg)
{
	parked_tid = (pid_t)syscall(SYS_gettid);
	pause();
	return NULL;
}

/*
 * -p PID[,PID...]: exactly those processes' rows; a thread id is its
 * process (one row, a note on stderr); a bad item is exit 2, a PID that
 * is no process 3, a kernel thread 4, each with one line; -p with --comm 2.
 */
TEST(pid_list_shows_those_processes)
{
	char list[64], gone_s[16], bad[64];
	char *argv[] = { "memlens", "top", "-p", list, "-n", "0", "-i", "0.05", "--json", NULL };
	char *errs[][6] = { { "memlens", "top", "-p", bad, NULL },
			    { "memlens", "top", "-p", gone_s, NULL },
			    { "memlens", "top", "-p", "1,2", NULL },
			    { "memlens", "top", "-p", "1", "--comm=x", NULL } };
	const int codes[] = { 2, 3, 4, 2 };
	const struct jval *rows;
	struct jval *doc;
	int ha, hb, found = 0;
	pthread_t th;
	pid_t a, b, gone;

	a = named("mltopa", &ha);
	b = named("mltopb", &hb);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_EQ(0, pthread_create(&th, NULL, parked, NULL));
	while (!parked_tid)
		usleep(1000);
	snprintf(list, sizeof(list), "%d,%d,%d", a, b, parked_tid);
	ASSERT_EQ(0, ml_run(&res, argv));
	ASSERT_EQ(0, res.status) TH_LOG("%s", res.err);
	snprintf(bad, sizeof(bad), "%d is a thread of process %d: reporting the process",
		 parked_tid, getpid());
	EXPECT_NE(NULL, strstr(res.err, bad)) TH_LOG("%s", res.err);
	doc = jparse(res.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	rows = jget(jpath(doc, "processes"), "rows");
	ASSERT_NE(NULL, rows);
	EXPECT_EQ(3, rows->n);
	for (int i = 0; i < rows->n; i++) {
		pid_t p = (pid_t)jnum(rows->items[i], "pid");

		found |= (p == a) | (p == b) << 1 | (p == getpid()) << 2;
	}
	EXPECT_EQ(7, found);
	close(ha);
	close(hb);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	gone = fork();
	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(gone_s, sizeof(gone_s), "%d", gone);
	snprintf(bad, sizeof(bad), "%d,x", getpid());
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, ml_run(&res, errs[i]));
		EXPECT_EQ(codes[i], res.status) TH_LOG("-p %s: %s", errs[i][3], res.err);
		EXPECT_NE(NULL, strchr(res.err, '\n'));
		EXPECT_EQ(NULL, strchr(strchr(res.err, '\n') + 1, '\n')) TH_LOG("%s", res.err);
		EXPECT_STREQ("", res.out);
	}
	pthread_cancel(th);
	pthread_join(th, NULL);
}

TEST(usage_errors)
{
	char *sort[] = { "memlens", "top", "--sort", "bogus", NULL };
	char *iter[] = { "memlens", "top", "--iterations", "-1", NULL };
	char *iterw[] = { "memlens", "top", "--iterations", "x", NULL };
	char *arg[] = { "memlens", "top", "1234", NULL };
	char *n[] = { "memlens", "top", "-n", "-1", NULL };

	ASSERT_EQ(0, ml_run(&res, sort));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "unknown sort key 'bogus'"));
	EXPECT_EQ(NULL, strchr(strchr(res.err, '\n') + 1, '\n')) TH_LOG("one line: %s", res.err);
	ASSERT_EQ(0, ml_run(&res, iter));
	EXPECT_EQ(2, res.status);
	EXPECT_NE(NULL, strstr(res.err, "--iterations wants a number of frames"));
	ASSERT_EQ(0, ml_run(&res, iterw));
	EXPECT_EQ(2, res.status);
	ASSERT_EQ(0, ml_run(&res, arg));
	EXPECT_EQ(2, res.status);
	ASSERT_EQ(0, ml_run(&res, n));
	EXPECT_EQ(2, res.status);
}

TEST_HARNESS_MAIN
