// SPDX-License-Identifier: GPL-2.0
/*
 * The memlens CLI's front door and the conventions every command shares:
 * --version, --help (commands and exit codes from one table, the same in
 * docs/inspector.md), one-line usage errors, one PID parser (a thread id
 * resolves to its process, " 123" is refused), and the documented exit
 * codes of the BPF counting commands (faults, tlb, swap, pagetable, vmas),
 * and memlens doctor's verdicts against what this machine says itself.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>

#include <sys/prctl.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "ml_json.h"
#include "ml_prom.h"

static struct ml_result r;

/* The exit codes every --help and docs/inspector.md must list. */
static const char *const exit_codes[] = { "0", "1", "2", "3", "4", "5", "6", "7", "127", "other" };
#define N_CODES (sizeof(exit_codes) / sizeof(exit_codes[0]))

/* "Exit status:" section of a --help: the code of each line into @codes. */
static int help_exit_codes(const char *help, char codes[][8], char meanings[][128], int max)
{
	const char *p = strstr(help, "\nExit status:\n");
	int n = 0;

	if (!p)
		return -1;
	p = strchr(p + 1, '\n') + 1;
	while (n < max && p[0] == ' ' && p[1] == ' ' && p[2] != ' ') {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (sscanf(p, " %7s", codes[n]) != 1)
			break;
		snprintf(meanings[n], 128, "%.*s", len, p);
		n++;
		if (!nl)
			break;
		p = nl + 1;
		/* a wrapped meaning continues on a line of its own */
		while (*p && *p != ' ' && *p != '\n')
			p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
	}
	return n;
}

/* Exactly one line on stderr, nothing on stdout. */
static int one_line_error(const struct ml_result *res)
{
	const char *nl = strchr(res->err, '\n');

	return res->out[0] == '\0' && nl && nl != res->err && nl[1] == '\0';
}

/* The commands listed by memlens --help, into @cmds. */
static int list_commands(char cmds[][16], int max)
{
	char *argv[] = { "memlens", "--help", NULL };
	const char *p;
	int n = 0;

	if (ml_run(&r, argv) || !(p = strstr(r.out, "\nCommands:\n")))
		return -1;
	p = strchr(p + 1, '\n') + 1;
	while (n < max && p[0] == ' ' && p[1] == ' ' && sscanf(p, " %15s", cmds[n]) == 1) {
		n++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

/* A child that exits at once and is left a zombie; its PID. */
static pid_t make_zombie(void)
{
	char path[64], buf[512];
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < 5000; i++) {
		if (ml_read_file(path, buf, sizeof(buf)) > 0 && strstr(buf, ") Z "))
			break;
		usleep(1000);
	}
	return pid;
}

/* A PID that was just freed (its process reaped). */
static pid_t gone_pid(void)
{
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/* Can this run load BPF programs (root, BTF)? */
static bool bpf_usable(void)
{
	return !geteuid() && !access("/sys/kernel/btf/vmlinux", R_OK);
}

TEST(version_option)
{
	char *argv[] = { "memlens", "--version", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("memlens " MEMLENS_VERSION "\n", r.out);
}

TEST(version_command)
{
	char *argv[] = { "memlens", "version", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0, strncmp(r.out, "cli " MEMLENS_VERSION "\n", strlen("cli " MEMLENS_VERSION "\n")));
}

TEST(help_lists_usage_commands_and_examples)
{
	char *argv[] = { "memlens", "--help", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "Usage: memlens [OPTION...] COMMAND"));
	EXPECT_NE(NULL, strstr(r.out, "Commands:"));
	EXPECT_NE(NULL, strstr(r.out, "  version "));
	EXPECT_NE(NULL, strstr(r.out, "Examples:"));
}

TEST(unknown_option_exits_2_with_one_line)
{
	char *argv[] = { "memlens", "--no-such-option", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unrecognized option '--no-such-option'"));
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("stderr: %s", r.err);
}

TEST(unknown_command_exits_2)
{
	char *argv[] = { "memlens", "no-such-command", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown command 'no-such-command'"));
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("stderr: %s", r.err);
}

TEST(no_command_exits_2)
{
	char *argv[] = { "memlens", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "no command given"));
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("stderr: %s", r.err);
}

/* Top-level --help lists every exit code, and so does every command's. */
TEST(every_help_lists_every_exit_code)
{
	char cmds[32][16], codes[16][8], meanings[16][128], top[16][128];
	int n = list_commands(cmds, 32), m;

	ASSERT_LE(11, n) TH_LOG("%s", r.out);
	m = help_exit_codes(r.out, codes, top, 16);
	ASSERT_EQ(N_CODES, m) TH_LOG("%s", r.out);
	for (size_t i = 0; i < N_CODES; i++)
		EXPECT_STREQ(exit_codes[i], codes[i]);
	for (int c = 0; c < n; c++) {
		char *argv[] = { "memlens", cmds[c], "--help", NULL };

		ASSERT_EQ(0, ml_run(&r, argv));
		EXPECT_EQ(0, r.status) TH_LOG("%s --help", cmds[c]);
		EXPECT_NE(NULL, strstr(r.out, "Usage: memlens ")) TH_LOG("%s --help", cmds[c]);
		EXPECT_NE(NULL, strstr(r.out, "Examples:")) TH_LOG("%s --help", cmds[c]);
		/* an escaped \\v shows as a literal backslash-v */
		EXPECT_EQ(NULL, strstr(r.out, "\\v")) TH_LOG("%s --help: %s", cmds[c], r.out);
		EXPECT_EQ(N_CODES, help_exit_codes(r.out, codes, meanings, 16))
			TH_LOG("%s --help: %s", cmds[c], r.out);
		for (size_t i = 0; i < N_CODES; i++)
			EXPECT_STREQ(top[i], meanings[i]) TH_LOG("%s --help", cmds[c]);
	}
}

/* docs/inspector.md's exit-code table is the one --help prints, row for row. */
TEST(docs_exit_codes_match_help)
{
	/* the whole of docs/inspector.md (over 64 KiB), its exit-code table near the end */
	static char buf[262144];
	char code[16], meaning[256], codes[16][8], meanings[16][128];
	char *argv[] = { "memlens", "--help", NULL };
	const char *p;
	int i = 0, n;

	if (ml_read_file("docs/inspector.md", buf, sizeof(buf)) < 0)
		SKIP(return, "docs/inspector.md not here (run from the source tree)");
	ASSERT_EQ(0, ml_run(&r, argv));
	n = help_exit_codes(r.out, codes, meanings, 16);
	ASSERT_EQ(N_CODES, n) TH_LOG("%s", r.out);
	p = strstr(buf, "\n## Exit codes\n");
	ASSERT_NE(NULL, p);
	p = strstr(p, "|---|---|\n");
	ASSERT_NE(NULL, p);
	p += strlen("|---|---|\n");
	while (*p == '|' && sscanf(p, "| %15[^ |] | %255[^|\n]|", code, meaning) == 2) {
		char help_line[300];

		ASSERT_GT(n, i) TH_LOG("extra row %s", code);
		EXPECT_STREQ(codes[i], code);
		/* the help's line is "  CODE   MEANING" */
		meaning[strcspn(meaning, "\n")] = '\0';
		while (meaning[0] && meaning[strlen(meaning) - 1] == ' ')
			meaning[strlen(meaning) - 1] = '\0';
		snprintf(help_line, sizeof(help_line), "  %-5s  %s", code, meaning);
		EXPECT_STREQ(meanings[i], help_line);
		i++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	EXPECT_EQ(n, i);
}

/* Usage errors of every command: exit 2, one line on stderr, nothing on stdout. */
TEST(usage_errors_are_one_line)
{
	char *bad[][8] = {
		{ "memlens", "inspect", "--bogus", "1", NULL },
		{ "memlens", "inspect", NULL },
		{ "memlens", "inspect", "--backend", "nope", "1", NULL },
		{ "memlens", "watch", "--json", "--prometheus", "1", NULL },
		{ "memlens", "run", "--bogus", "--", "true", NULL },
		{ "memlens", "compare", "--bogus", NULL },
		{ "memlens", "top", "--bogus", NULL },
		{ "memlens", "faults", "-d", "x", NULL },
		{ "memlens", "faults", "-d", "nan", NULL },
		{ "memlens", "tlb", "-d", "inf", NULL },
		{ "memlens", "top", "-i", "nan", NULL },
		{ "memlens", "watch", "-i", "1e999", "1", NULL },
		{ "memlens", "faults", "-p", "1", "--", "true", NULL },
		{ "memlens", "tlb", "-p", "x1", NULL },
		{ "memlens", "swap", "--bogus", NULL },
		{ "memlens", "vmas", NULL },
		{ "memlens", "pagetable", "1", "2", NULL },
		{ "memlens", "version", "extra", NULL },
		{ "memlens", "doctor", "--bogus", NULL },
		{ "memlens", "doctor", "extra", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, ml_run(&r, bad[i]));
		EXPECT_EQ(2, r.status) TH_LOG("%s %s: %s", bad[i][1], bad[i][2], r.err);
		EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s %s: %s", bad[i][1], bad[i][2], r.err);
	}
}

/* One PID parser: digits only; blanks, signs, 0 and overflow are refused. */
TEST(pid_parser_is_strict_everywhere)
{
	char spid[32], *cmds[] = { "inspect", "watch", "pagetable", "vmas" };
	const char *forms[] = { " %d", "+%d", "%d ", "0x%x", "%d.0" };
	char *big[] = { "memlens", "inspect", "99999999999999999999", NULL };
	char *zero[] = { "memlens", "inspect", "0", NULL };

	for (size_t c = 0; c < 4; c++)
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			char *argv[] = { "memlens", cmds[c], spid, NULL };

			snprintf(spid, sizeof(spid), forms[f], getpid());
			ASSERT_EQ(0, ml_run(&r, argv));
			EXPECT_EQ(2, r.status) TH_LOG("%s '%s': %s", cmds[c], spid, r.err);
			EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s '%s': %s", cmds[c], spid, r.err);
		}
	snprintf(spid, sizeof(spid), " %d", getpid());
	{
		char *argv[] = { "memlens", "faults", "-p", spid, NULL };

		ASSERT_EQ(0, ml_run(&r, argv));
		EXPECT_EQ(2, r.status) TH_LOG("faults -p '%s': %s", spid, r.err);
	}
	ASSERT_EQ(0, ml_run(&r, big));
	EXPECT_EQ(2, r.status);
	ASSERT_EQ(0, ml_run(&r, zero));
	EXPECT_EQ(2, r.status);
}

static volatile pid_t parked_tid;

static void *parked(void *arg)
{
	parked_tid = (pid_t)syscall(SYS_gettid);
	pause();
	return NULL;
}

/* A thread id is its process, with a note on stderr. */
TEST(thread_id_resolves_to_its_process)
{
	char stid[16], spid[32], note[128];
	char *argv[] = { "memlens", "inspect", "--backend", "proc", "--no-vmas", "--json", stid, NULL };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, parked, NULL));
	for (int i = 0; i < 5000 && !parked_tid; i++)
		usleep(1000);
	ASSERT_NE(0, parked_tid);
	ASSERT_NE(getpid(), parked_tid);
	snprintf(stid, sizeof(stid), "%d", parked_tid);
	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(note, sizeof(note), "%d is a thread of process %d", parked_tid, getpid());
	EXPECT_NE(NULL, strstr(r.err, note)) TH_LOG("%s", r.err);
	snprintf(spid, sizeof(spid), "\"pid\":%d,", getpid());
	EXPECT_NE(NULL, strstr(r.out, spid)) TH_LOG("%.300s", r.out);
	pthread_cancel(t);
	pthread_join(t, NULL);
}

/* A zombie: exit 5 and one line naming the parent, no page of "unavailable". */
TEST(zombie_is_named_with_its_parent)
{
	char spid[16], want[64], *cmds[] = { "inspect", "watch" };
	pid_t z = make_zombie();

	snprintf(spid, sizeof(spid), "%d", z);
	snprintf(want, sizeof(want), "parent %d has not reaped it", getpid());
	for (size_t c = 0; c < 2; c++) {
		char *argv[] = { "memlens", cmds[c], "--backend", "proc", spid, NULL };

		ASSERT_EQ(0, ml_run(&r, argv));
		EXPECT_EQ(5, r.status) TH_LOG("%s: %s", cmds[c], r.err);
		EXPECT_NE(NULL, strstr(r.err, "zombie")) TH_LOG("%s: %s", cmds[c], r.err);
		EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("%s: %s", cmds[c], r.err);
		EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s: %s", cmds[c], r.err);
	}
	waitpid(z, NULL, 0);
}

/*
 * The exit codes of the BPF counting commands: 127 for a command that
 * cannot run, the command's own status, 3 no such process, 4 kernel
 * thread, 5 zombie -- not 0 or 1 for all of them.
 */
TEST(bpf_commands_exit_codes)
{
	char sgone[16], szombie[16];
	char *noexec[] = { "memlens", "faults", "--", "/nonexistent/cmd", NULL };
	char *status4[] = { "memlens", "tlb", "--", "sh", "-c", "exit 4", NULL };
	char *status3[] = { "memlens", "swap", "--", "sh", "-c", "exit 3", NULL };
	char *signal9[] = { "memlens", "faults", "--", "sh", "-c", "kill -9 $$", NULL };
	char *kthread[] = { "memlens", "faults", "-p", "2", NULL };
	char *gone[] = { "memlens", "tlb", "-p", sgone, NULL };
	char *zombie[] = { "memlens", "swap", "-p", szombie, NULL };
	char *vmas_k[] = { "memlens", "vmas", "2", NULL };
	char *pt_gone[] = { "memlens", "pagetable", sgone, NULL };
	pid_t z;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	ASSERT_EQ(0, ml_run(&r, noexec));
	EXPECT_EQ(127, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "cannot run /nonexistent/cmd")) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);	/* no report of a command that never ran */
	ASSERT_EQ(0, ml_run(&r, status4));
	EXPECT_EQ(4, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "task_switch ")) TH_LOG("%s", r.out);
	ASSERT_EQ(0, ml_run(&r, status3));
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "swap_total_kb ")) TH_LOG("%s", r.out);
	ASSERT_EQ(0, ml_run(&r, signal9));
	EXPECT_EQ(128 + 9, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "minor ")) TH_LOG("%s", r.out);

	ASSERT_EQ(0, ml_run(&r, kthread));
	EXPECT_EQ(4, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "kernel thread")) TH_LOG("%s", r.err);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, vmas_k));
	EXPECT_EQ(4, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	snprintf(sgone, sizeof(sgone), "%d", gone_pid());
	ASSERT_EQ(0, ml_run(&r, gone));
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, pt_gone));
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	z = make_zombie();
	snprintf(szombie, sizeof(szombie), "%d", z);
	ASSERT_EQ(0, ml_run(&r, zombie));
	EXPECT_EQ(5, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "zombie")) TH_LOG("%s", r.err);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	waitpid(z, NULL, 0);
}

/* Not root: exit 6 (permission), one line naming the capability. */
TEST(bpf_commands_unprivileged_exit_6)
{
	struct ml_result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const char *cmds[] = { "faults", "tlb", "swap" };
	struct ml_copy bin;

	ASSERT_NE(MAP_FAILED, res);
	if (!bpf_usable())
		SKIP(return, "needs root to drop to nobody");
	ASSERT_EQ(0, ml_copy_for_all("memlens", &bin));
	for (size_t c = 0; c < 3; c++) {
		char *argv[] = { bin.path, (char *)cmds[c], "--", "true", NULL };
		pid_t pid = fork();
		int st;

		ASSERT_LE(0, pid);
		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(2);
			_exit(ml_run(res, argv) ? 3 : 0);
		}
		waitpid(pid, &st, 0);
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_EQ(0, WEXITSTATUS(st));
		EXPECT_EQ(6, res->status) TH_LOG("%s: %s", cmds[c], res->err);
		EXPECT_NE(NULL, strstr(res->err, "CAP_BPF")) TH_LOG("%s: %s", cmds[c], res->err);
		EXPECT_TRUE(one_line_error(res)) TH_LOG("%s: %s", cmds[c], res->err);
	}
	ml_copy_remove(&bin);
}

/*
 * Run by "memlens faults -- cli_test" (CLI_TEST_GROW_HEAP=1): grow the
 * heap with brk() 32 times, touching each new page, then print the
 * [heap] line of /proc/self/maps and this process's minflt.
 */
__attribute__((constructor)) static void grow_heap_mode(void)
{
	char line[512];
	unsigned long long minflt = 0, majflt = 0;
	FILE *f;

	if (!getenv("CLI_TEST_GROW_HEAP"))
		return;
	for (int i = 0; i < 32; i++) {
		char *p = sbrk(16 * 4096);

		if (p == (void *)-1)
			_exit(1);
		for (int pg = 0; pg < 16; pg++)
			p[pg * 4096] = 1;
	}
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[heap]"))
			printf("heap %.*s\n", (int)strcspn(line, " "), line);
	if (f)
		fclose(f);
	ml_stat_faults(getpid(), &minflt, &majflt);
	printf("self_minflt %llu\n", minflt);
	fflush(stdout);
	_exit(0);
}

/* A VMA that grew (the heap after brk()) is one row, not one per size. */
TEST(faults_lists_a_grown_heap_once)
{
	char exe[4096];
	char *argv[] = { "memlens", "faults", "--", exe, NULL };
	unsigned long long hs, he, s, e, minor, major, self_minflt = 0;
	int rows = 0;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *p, *q;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	ASSERT_LT(0, n);
	exe[n] = '\0';
	setenv("CLI_TEST_GROW_HEAP", "1", 1);
	ASSERT_EQ(0, ml_run(&r, argv));
	unsetenv("CLI_TEST_GROW_HEAP");
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	p = strstr(r.out, "heap ");
	ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
	ASSERT_EQ(2, sscanf(p, "heap %llx-%llx", &hs, &he));
	q = strstr(r.out, "self_minflt ");
	ASSERT_NE(NULL, q);
	sscanf(q, "self_minflt %llu", &self_minflt);
	for (p = r.out; (p = strstr(p, " [heap]\n")); p++) {
		char *bol = p;

		while (bol > r.out && bol[-1] != '\n')
			bol--;
		ASSERT_EQ(4, sscanf(bol, "%llx %llx %llu %llu", &s, &e, &minor, &major))
			TH_LOG("%.100s", bol);
		rows++;
	}
	ASSERT_EQ(1, rows) TH_LOG("%s", r.out);
	EXPECT_EQ(hs, s);
	EXPECT_EQ(he, e);
	/* the 512 pages touched, within the process's own count */
	EXPECT_LE(512, minor);
	EXPECT_GE(self_minflt, minor);
}

/* tlb and swap keep their -p promises, or say on stderr why not, once. */
TEST(tlb_swap_per_process_part)
{
	char spid[16];
	char *tlb_p[] = { "memlens", "tlb", "-p", spid, "-d", "0.3", NULL };
	char *tlb_cmd[] = { "memlens", "tlb", "--", "true", NULL };
	char *swap_p[] = { "memlens", "swap", "-p", spid, "-d", "0.3", NULL };
	unsigned long long needed, needed_4k;
	pid_t child;
	char *p;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	snprintf(spid, sizeof(spid), "%d", child);
	ASSERT_EQ(0, ml_run(&r, tlb_p));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	p = strstr(r.out, "\ntlb_entries_needed ");
	ASSERT_NE(NULL, p) TH_LOG("%s", r.out);
	ASSERT_EQ(2, sscanf(p, "\ntlb_entries_needed %llu\ntlb_entries_needed_4k %llu",
			    &needed, &needed_4k));
	EXPECT_LT(0, needed);
	EXPECT_LE(needed, needed_4k);
	ASSERT_EQ(0, ml_run(&r, tlb_cmd));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "tlb_entries_needed"));
	EXPECT_NE(NULL, strstr(r.err, "no TLB reach: process")) TH_LOG("%s", r.err);

	ASSERT_EQ(0, ml_run(&r, swap_p));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n\nswap_entries ")) TH_LOG("%s", r.out);
	/* the per-process swap fault counts, or a line saying they are not counted */
	if (!strstr(strstr(r.out, "\n\nswap_entries "), "swapin_major "))
		EXPECT_NE(NULL, strstr(r.err, "no swapin_major, swapcache_minor for process"))
			TH_LOG("%s", r.err);
	/* no diagnostic line twice */
	for (char *l = r.err; *l;) {
		size_t len = strcspn(l, "\n");
		char line[1024];

		snprintf(line, sizeof(line), "\n%.*s\n", (int)len, l);
		EXPECT_EQ(NULL, strstr(l + len, line)) TH_LOG("twice:%s", line);
		l += len + (l[len] == '\n');
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/*
 * Prometheus: a process name holding ", \\ and a newline is escaped into
 * a valid exposition; memlens_up closes it; per-VMA series only with
 * --per-vma; counters end in _total (the checker enforces it).
 */
TEST(prometheus_escapes_every_byte_and_says_up)
{
	char spid[16], why[160];
	char *argv[] = { "memlens", "inspect", "--backend", "proc", "--prometheus", spid, NULL };
	char *per_vma[] = { "memlens", "inspect", "--backend", "proc", "--prometheus", "--per-vma",
			    spid, NULL };
	char *kthread[] = { "memlens", "inspect", "--prometheus", "2", NULL };
	int ready[2];
	pid_t child;
	char c;

	ASSERT_EQ(0, pipe(ready));
	child = fork();
	if (!child) {
		/* 15 bytes: quote, backslash, newline, a byte that is not UTF-8 */
		prctl(PR_SET_NAME, "a\"b\\c\nd\xff" "e", 0, 0, 0);
		ml_ready_then_pause(ready[1], 1);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	snprintf(spid, sizeof(spid), "%d", child);
	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(r.out, "comm=\"a\\\"b\\\\c\\nd\xef\xbf\xbd" "e\"")) TH_LOG("%.600s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\nmemlens_up{pid=\"")) TH_LOG("%.300s", r.out);
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
	EXPECT_EQ(NULL, strstr(r.out, "memlens_vmas_"));
	EXPECT_NE(NULL, strstr(r.out, "memlens_faults_minor_total{"));
	ASSERT_EQ(0, ml_run(&r, per_vma));
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(r.out, "\nmemlens_vmas_resident_bytes{"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* nothing measured: still an exposition, saying why */
	ASSERT_EQ(0, ml_run(&r, kthread));
	EXPECT_EQ(4, r.status);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(0, prom_value(r.out, "memlens_up", NULL)) TH_LOG("%s", r.out);
	EXPECT_EQ(1, prom_value(r.out, "memlens_scrape_error", "reason=\"kernel_thread\""));
}

/* compare's counters get _total too: its exposition passes the checker. */
TEST(prometheus_counters_end_in_total)
{
	char *argv[] = { "memlens", "compare", "--allocators", "glibc", "-r", "2", "--prometheus",
			 "--", "true", NULL };
	char why[160];

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(r.out, "\nmemlens_allocators_minor_faults_total{"));
}

/*
 * Every JSON document: schema, command, tool version, UTC timestamp (RFC
 * 3339 and unix seconds, the same second), hostname, in that order.
 */
TEST(json_says_version_time_and_host)
{
	char spid[16], host[256] = "", stamp[32], err[160];
	char *argv[] = { "memlens", "inspect", "--backend", "proc", "--json", "--no-vmas", spid, NULL };
	time_t before = time(NULL), at;
	struct jval *doc;
	struct tm tm = { 0 };

	snprintf(spid, sizeof(spid), "%d", getpid());
	ASSERT_EQ(0, gethostname(host, sizeof(host) - 1));
	ASSERT_EQ(0, ml_run(&r, argv));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "{\"schema\":\"memlens/1\",\"command\":\"inspect\",\"version\":",
			     strlen("{\"schema\":\"memlens/1\",\"command\":\"inspect\",\"version\":")));
	doc = jparse(r.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ(MEMLENS_VERSION, jstr(doc, "version"));
	EXPECT_STREQ(host, jstr(doc, "hostname"));
	snprintf(stamp, sizeof(stamp), "%s", jstr(doc, "timestamp"));
	ASSERT_NE(NULL, strptime(stamp, "%Y-%m-%dT%H:%M:%SZ", &tm)) TH_LOG("%s", stamp);
	at = timegm(&tm);
	EXPECT_LE(before, at);
	EXPECT_GE(time(NULL), at);
	EXPECT_EQ((double)at, jnum(doc, "timestamp_unix"));
}

/*
 * Addresses are "0x..." strings, exact: every VMA row of a stopped child
 * is a line of its /proc/PID/maps, start and end to the byte, the
 * [vsyscall] page above 2^63 included where the kernel maps it.
 */
TEST(json_addresses_are_exact_hex_strings)
{
	char spid[16], path[64], err[160], maps[32768], hi[40], lo[40];
	char *argv[] = { "memlens", "inspect", "--backend", "proc", "--json", spid, NULL };
	const struct jval *rows, *doc;
	int lines = 0, matched = 0, ready[2];
	pid_t child;
	char c;

	ASSERT_EQ(0, pipe(ready));
	child = fork();
	if (!child)
		ml_ready_then_pause(ready[1], 1);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	snprintf(spid, sizeof(spid), "%d", child);
	snprintf(path, sizeof(path), "/proc/%d/maps", child);
	ASSERT_LT(0, ml_read_file(path, maps, sizeof(maps)));
	ASSERT_EQ(0, ml_run(&r, argv));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	ASSERT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	rows = jget(jpath(doc, "vmas"), "rows");
	ASSERT_NE(NULL, rows);
	for (const char *l = maps; *l; l = strchr(l, '\n') + 1) {
		unsigned long long start, end;

		ASSERT_EQ(2, sscanf(l, "%llx-%llx", &start, &end));
		lines++;
		for (int i = 0; i < rows->n; i++) {
			snprintf(lo, sizeof(lo), "0x%llx", start);
			snprintf(hi, sizeof(hi), "0x%llx", end);
			if (jstr(rows->items[i], "start") && !strcmp(jstr(rows->items[i], "start"), lo) &&
			    jstr(rows->items[i], "end") && !strcmp(jstr(rows->items[i], "end"), hi)) {
				matched++;
				break;
			}
		}
		if (strstr(l, "[vsyscall]"))
			EXPECT_NE(NULL, jrow_addr(doc, "vmas", "start", 0xffffffffff600000ULL));
	}
	EXPECT_EQ(lines, rows->n);
	EXPECT_EQ(lines, matched) TH_LOG("%s", maps);
}

/*
 * memlens doctor: "group" headings, then "  name:   verdict[: text]" lines.
 * Each verdict is checked against what the machine says when asked
 * here, without memlens: files, mounts, perf_event_open, bpftool's dump
 * of the kernel's BTF and a trial fentry/fexit attach by raw bpf(2).
 */
struct doc_line {
	char group[32], name[48], verdict[16], text[1024];
};

#define DOC_MAX 64
static struct doc_line doc_lines[DOC_MAX];
static int doc_n;

/* Parse doctor's text output into doc_lines[]; the count, or -1. */
static int doctor_parse(const char *out)
{
	char group[32] = "", line[1200];
	const char *p = out, *nl;

	doc_n = 0;
	if (strncmp(out, "memlens doctor: Linux ", strlen("memlens doctor: Linux ")))
		return -1;
	for (p = strchr(p, '\n'); p && p[1]; p = nl) {
		struct doc_line *d = &doc_lines[doc_n];
		char *colon, *v;

		p++;
		nl = strchr(p, '\n');
		if (!nl)
			return -1;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (!line[0])
			continue;
		if (line[0] != ' ') {
			snprintf(group, sizeof(group), "%.31s", line);
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || doc_n == DOC_MAX || !group[0])
			return -1;
		*colon = '\0';
		for (v = colon + 1; *v == ' '; v++)
			;
		snprintf(d->group, sizeof(d->group), "%s", group);
		snprintf(d->name, sizeof(d->name), "%.47s", line + 2);
		snprintf(d->verdict, sizeof(d->verdict), "%.*s", (int)strcspn(v, ":"), v);
		snprintf(d->text, sizeof(d->text), "%s",
			 v[strcspn(v, ":")] ? v + strcspn(v, ":") + 2 : "");
		doc_n++;
	}
	return doc_n;
}

static const struct doc_line *doc_find(const char *group, const char *name)
{
	for (int i = 0; i < doc_n; i++)
		if (!strcmp(doc_lines[i].group, group) && !strcmp(doc_lines[i].name, name))
			return &doc_lines[i];
	return NULL;
}

/* The line group.name says ok when @ok, unavailable otherwise. */
#define EXPECT_VERDICT(group, name, ok)                                      \
	do {                                                                 \
		const struct doc_line *_l = doc_find(group, name);           \
		ASSERT_NE(NULL, _l) TH_LOG("no line %s.%s", group, name);    \
		EXPECT_STREQ((ok) ? "ok" : "unavailable", _l->verdict)       \
		TH_LOG("%s.%s: %s: %s", group, name, _l->verdict, _l->text); \
	} while (0)

/* Does "sh -c @cmd" exit 0? */
static bool sh_ok(const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	static struct ml_result sr;

	return !ml_run(&sr, argv) && sr.status == 0;
}

static bool file_has(const char *path, const char *needle)
{
	static char buf[1 << 20];

	return ml_read_file(path, buf, sizeof(buf)) > 0 && strstr(buf, needle);
}

/* The BTF id of function @func, from bpftool's dump of vmlinux (0 if none). */
static int btf_func_id(const char *func)
{
	char cmd[256], *argv[] = { "sh", "-c", cmd, NULL };
	static struct ml_result br;
	int id = 0;

	snprintf(cmd, sizeof(cmd),
		 "bpftool btf dump file /sys/kernel/btf/vmlinux | grep -m1 \"FUNC '%s' \"", func);
	if (!ml_run(&br, argv) && br.status == 0)
		sscanf(br.out, "[%d]", &id);
	return id;
}

/* Does the kernel load and attach an empty fentry/fexit program on @func (raw bpf(2))? */
static bool trace_attaches(const char *func, enum bpf_attach_type type)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int id = btf_func_id(func), prog, link;

	if (id <= 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_TRACING;
	a.insns = (unsigned long)insns;
	a.insn_cnt = 2;
	a.license = (unsigned long)"GPL";
	a.expected_attach_type = type;
	a.attach_btf_id = id;
	prog = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (prog < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.raw_tracepoint.prog_fd = prog;
	link = syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &a, sizeof(a));
	if (link >= 0)
		close(link);
	close(prog);
	return link >= 0;
}

/* The helpers bpftool finds for perf_event programs, one "\t- NAME" a line. */
#define PERF_HELPERS                                                                    \
	"bpftool feature probe kernel 2>/dev/null | awk '/^eBPF helpers supported for " \
	"program type /{on = ($0 ~ / perf_event:$/)} on'"

static int perf_open_self(__u32 type, __u64 config)
{
	struct perf_event_attr attr = {
		.type = type,
		.size = sizeof(attr),
		.config = config,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return syscall(__NR_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static unsigned long long cap_eff_here(void)
{
	char buf[4096], *p;

	if (ml_read_file("/proc/self/status", buf, sizeof(buf)) < 0 ||
	    !(p = strstr(buf, "\nCapEff:")))
		return 0;
	return strtoull(p + strlen("\nCapEff:"), NULL, 16);
}

/* Does "memlens ARGS" exit 0?  Its stderr in r. */
static bool memlens_ok(char *const argv[])
{
	return !ml_run(&r, argv) && r.status == 0;
}

static int run_doctor(struct __test_metadata *_metadata, char *const argv[])
{
	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	return doctor_parse(r.out);
}

TEST(doctor_module_perf_kernel_privileges_match_this_machine)
{
	char *argv[] = { "memlens", "doctor", NULL };
	char buf[4096], path[300], *lb, *rb;
	unsigned long long caps = cap_eff_here();
	const struct doc_line *l;
	int n = run_doctor(_metadata, argv), fd, err, swaps = -1;
	struct utsname u;
	bool config;
	FILE *f;

	ASSERT_LE(30, n) TH_LOG("%s", r.out);
	for (int i = 0; i < n; i++) {
		EXPECT_TRUE(!strcmp(doc_lines[i].verdict, "ok") ||
			    !strcmp(doc_lines[i].verdict, "unavailable") ||
			    !strcmp(doc_lines[i].verdict, "unknown"))
		TH_LOG("%s.%s: %s", doc_lines[i].group, doc_lines[i].name, doc_lines[i].verdict);
	}

	/* module */
	EXPECT_VERDICT("module", "debugfs",
		       file_has("/proc/mounts", " /sys/kernel/debug debugfs "));
	EXPECT_VERDICT("module", "modules",
		       !access("/proc/modules", F_OK) &&
			       !file_has("/proc/sys/kernel/modules_disabled", "1"));
	EXPECT_VERDICT("module", "memlens_ko", !access("/sys/module/memlens", F_OK));
	EXPECT_VERDICT("backends", "module", !access("/sys/kernel/debug/memlens/track", W_OK));
	EXPECT_VERDICT("backends", "proc", true);
	if (access("/proc/modules", F_OK)) {
		/* the host: no module support, so none loaded, and doctor says why */
		EXPECT_NE(NULL, strstr(doc_find("module", "modules")->text, "cannot load modules"));
		EXPECT_NE(NULL, strstr(doc_find("module", "memlens_ko")->text, "not loaded"));
	}

	/* perf and tracing */
	fd = perf_open_self(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS);
	EXPECT_VERDICT("perf", "page_faults", fd >= 0);
	if (fd >= 0)
		close(fd);
	fd = perf_open_self(PERF_TYPE_HW_CACHE, PERF_COUNT_HW_CACHE_DTLB |
							(PERF_COUNT_HW_CACHE_OP_READ << 8) |
							(PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
	err = errno;
	EXPECT_VERDICT("perf", "dtlb_read_misses", fd >= 0);
	if (fd < 0 && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)) {
		EXPECT_EQ(0, strncmp(doc_find("perf", "dtlb_read_misses")->text,
				     "not supported: no hardware PMU", 30));
	}
	if (fd >= 0)
		close(fd);
	EXPECT_VERDICT("perf", "tracefs",
		       file_has("/proc/mounts", " /sys/kernel/tracing tracefs ") ||
			       file_has("/proc/mounts", " /sys/kernel/debug/tracing tracefs "));

	/* kernel: the config against /proc/vmstat, swap, THP */
	l = doc_find("kernel", "config_debug_tlbflush");
	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, uname(&u));
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	config = !access(path, R_OK) || !access("/proc/config.gz", R_OK);
	if (config) {
		EXPECT_VERDICT("kernel", "config_debug_tlbflush",
			       file_has("/proc/vmstat", "\nnr_tlb_remote_flush "));
	} else {
		EXPECT_STREQ("unknown", l->verdict);
	}
	f = fopen("/proc/swaps", "r");
	ASSERT_NE(NULL, f);
	while (fgets(buf, sizeof(buf), f))
		swaps++;
	fclose(f);
	EXPECT_VERDICT("kernel", "swap", swaps > 0);
	if (swaps > 0) {
		EXPECT_EQ(swaps, atoi(doc_find("kernel", "swap")->text));
	}
	if (ml_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0 &&
	    (lb = strchr(buf, '[')) && (rb = strchr(lb, ']'))) {
		char want[64];

		snprintf(want, sizeof(want), "mode %.*s", (int)(rb - lb - 1), lb + 1);
		EXPECT_VERDICT("kernel", "thp", strcmp(want, "mode never"));
		EXPECT_STREQ(want, doc_find("kernel", "thp")->text);
	} else {
		EXPECT_VERDICT("kernel", "thp", false);
	}

	/* privileges */
	EXPECT_VERDICT("privileges", "root", geteuid() == 0);
	EXPECT_VERDICT("privileges", "cap_bpf", caps >> 39 & 1);
	EXPECT_VERDICT("privileges", "cap_perfmon", caps >> 38 & 1);
	EXPECT_VERDICT("privileges", "cap_sys_admin", caps >> 21 & 1);
}

TEST(doctor_bpf_matches_the_kernel_and_the_commands)
{
	char *argv[] = { "memlens", "doctor", NULL };
	char spid[16], line[1200];
	char *faults[] = { "memlens", "faults", "--", "true", NULL };
	char *latency[] = { "memlens", "faults", "--latency", "--", "true", NULL };
	char *swap[] = { "memlens", "swap", "--", "true", NULL };
	char *vmas[] = { "memlens", "vmas", spid, NULL };
	char *kcost[] = { "memlens", "kcost", "--", "true", NULL };
	char *inspect[] = { "memlens", "inspect", "--backend", "bpf", "--no-vmas", spid, NULL };
	struct {
		const char *name;
		char **argv;
		const char *path_prefix; /* its stderr line with the attach points */
	} progs[] = {
		{ "faults", faults, "memlens faults: " },
		{ "faults_latency", latency, "memlens faults: " },
		{ "tlb_swap", swap, "memlens swap: " },
		{ "pagetable_walk", vmas, NULL },
		{ "kcost", kcost, NULL },
	};
	const struct doc_line *l;
	char *tracing = file_has("/proc/mounts", " /sys/kernel/tracing tracefs ") ?
				"/sys/kernel/tracing/events" :
				NULL;
	int n;

	snprintf(spid, sizeof(spid), "%d", getpid());
	n = run_doctor(_metadata, argv);
	ASSERT_LE(30, n) TH_LOG("%s", r.out);
	EXPECT_VERDICT("bpf", "btf", !access("/sys/kernel/btf/vmlinux", R_OK));
	/* every loader: ok exactly when its command runs, with the same attach points */
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct doc_line copy;

		l = doc_find("bpf", progs[i].name);
		ASSERT_NE(NULL, l) TH_LOG("no bpf.%s", progs[i].name);
		copy = *l;
		EXPECT_VERDICT("bpf", progs[i].name, memlens_ok(progs[i].argv));
		if (progs[i].path_prefix && !strcmp(copy.verdict, "ok")) {
			snprintf(line, sizeof(line), "%s%s\n", progs[i].path_prefix, copy.text);
			EXPECT_NE(NULL, strstr(r.err, line))
			TH_LOG("%s: doctor says %s; the command: %s", progs[i].name, copy.text,
			       r.err);
		}
	}
	EXPECT_VERDICT("backends", "bpf", memlens_ok(inspect));

	if (geteuid() != 0 || access("/sys/kernel/btf/vmlinux", R_OK) ||
	    !sh_ok("command -v bpftool >/dev/null"))
		SKIP(return, "the features need root, BTF and bpftool to be checked");
	/* the features: BTF as bpftool dumps it, tracefs, kallsyms, trial attaches */
	EXPECT_VERDICT("bpf_features", "iter_task_vma", btf_func_id("bpf_iter_task_vma") > 0);
	EXPECT_VERDICT(
		"bpf_features", "iter_task_pid",
		sh_ok("bpftool btf dump file /sys/kernel/btf/vmlinux | "
		      "sed -n \"/UNION 'bpf_iter_link_info'/,/^\\[/p\" | grep -q \"'task'\""));
	EXPECT_VERDICT("bpf_features", "bpf_loop", sh_ok(PERF_HELPERS "| grep -qx '	- bpf_loop'"));
	EXPECT_VERDICT("bpf_features", "bpf_find_vma",
		       sh_ok(PERF_HELPERS "| grep -qx '	- bpf_find_vma'"));
	EXPECT_VERDICT("bpf_features", "kallsyms_page_offset_base",
		       sh_ok("grep ' page_offset_base$' /proc/kallsyms | grep -qv '^0* '"));
	if (tracing) {
		EXPECT_VERDICT(
			"bpf_features", "tp_page_fault",
			!access("/sys/kernel/tracing/events/exceptions/page_fault_user", F_OK) &&
				!access("/sys/kernel/tracing/events/exceptions/page_fault_kernel",
					F_OK));
		EXPECT_VERDICT("bpf_features", "tp_tlb_flush",
			       !access("/sys/kernel/tracing/events/tlb/tlb_flush", F_OK));
	}
	if (!tracing)
		TH_LOG("tracefs not mounted: tp_page_fault and tp_tlb_flush not checked");
	EXPECT_VERDICT("bpf_features", "fexit_handle_mm_fault",
		       trace_attaches("handle_mm_fault", BPF_TRACE_FEXIT));
	EXPECT_VERDICT("bpf_features", "fentry_swap_writepage",
		       trace_attaches("__swap_writepage", BPF_TRACE_FENTRY));
	EXPECT_VERDICT("bpf_features", "fexit_do_swap_page",
		       trace_attaches("do_swap_page", BPF_TRACE_FEXIT));
	EXPECT_VERDICT("bpf_features", "fentry_swap_in",
		       trace_attaches("zswap_folio_swapin", BPF_TRACE_FENTRY) ||
			       trace_attaches("swap_readpage", BPF_TRACE_FENTRY) ||
			       trace_attaches("swap_read_folio", BPF_TRACE_FENTRY));
	/* known only from the walker's trial load: ok needs the walk to load */
	l = doc_find("bpf_features", "vma_special_names");
	ASSERT_NE(NULL, l);
	if (!strcmp(l->verdict, "ok")) {
		EXPECT_VERDICT("bpf", "pagetable_walk", true);
	}
	TH_LOG("vma_special_names (%s) checked only against the walk's load", l->verdict);
}

/* --json: the schema, the five opening keys, the same verdicts and texts. */
TEST(doctor_json_has_the_same_verdicts)
{
	char *text[] = { "memlens", "doctor", NULL };
	char *json[] = { "memlens", "doctor", "--json", NULL };
	char host[256] = "", err[160], key[128];
	int n = run_doctor(_metadata, text), checks = 0;
	struct jval *doc;

	ASSERT_LE(30, n) TH_LOG("%s", r.out);
	ASSERT_EQ(0, gethostname(host, sizeof(host) - 1));
	ASSERT_EQ(0, ml_run(&r, json));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s: %s", err, r.out);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("doctor", jstr(doc, "command"));
	EXPECT_STREQ(MEMLENS_VERSION, jstr(doc, "version"));
	EXPECT_STREQ(host, jstr(doc, "hostname"));
	EXPECT_NE(NULL, jstr(doc, "timestamp"));
	EXPECT_NE(NULL, jstr(doc, "kernel_release"));
	for (int i = 0; i < n; i++) {
		const struct doc_line *l = &doc_lines[i];
		bool ok = !strcmp(l->verdict, "ok");

		snprintf(key, sizeof(key), "%s.%s.status", l->group, l->name);
		EXPECT_STREQ(l->verdict, jstr(doc, key)) TH_LOG("%s", key);
		snprintf(key, sizeof(key), "%s.%s.%s", l->group, l->name, ok ? "detail" : "reason");
		if (l->text[0]) {
			EXPECT_STREQ(l->text, jstr(doc, key)) TH_LOG("%s", key);
		}
	}
	/* no check in JSON that the text lacks */
	for (int g = 0; g < doc->n; g++)
		checks += doc->items[g]->t == J_OBJ ? doc->items[g]->n : 0;
	EXPECT_EQ(n, checks);
}

/* As nobody: doctor still runs, and says what is missing, from the probes. */
TEST(doctor_unprivileged_says_why)
{
	struct ml_result *res =
		mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *args[] = { "doctor", NULL };

	ASSERT_NE(MAP_FAILED, res);
	if (geteuid() != 0)
		SKIP(return, "needs root to drop to nobody");
	ASSERT_EQ(0, ml_run_memlens_as_nobody(res, args));
	EXPECT_EQ(0, res->status) TH_LOG("%s", res->err);
	ASSERT_LE(30, doctor_parse(res->out)) TH_LOG("%s", res->out);
	EXPECT_VERDICT("privileges", "root", false);
	EXPECT_NE(NULL, strstr(doc_find("privileges", "root")->text, "euid 65534"));
	EXPECT_VERDICT("privileges", "cap_bpf", false);
	EXPECT_VERDICT("privileges", "cap_sys_admin", false);
	EXPECT_VERDICT("backends", "bpf", false);
	EXPECT_VERDICT("bpf", "faults", false);
	EXPECT_NE(NULL, strstr(doc_find("bpf", "faults")->text, "CAP_BPF"))
	TH_LOG("%s", doc_find("bpf", "faults")->text);
	munmap(res, sizeof(*res));
}

/* The features are libmlbpf's table, docs/bpf.md's rows; a mask is named. */
TEST(doctor_features_are_the_documented_ones)
{
	char *argv[] = { "memlens", "doctor", NULL };
	static char buf[65536];
	const char *p;
	char name[64];
	int n, rows = 0, features = 0;

	setenv("MEMLENS_BPF_MASK", "bpf_find_vma", 1);
	n = run_doctor(_metadata, argv);
	unsetenv("MEMLENS_BPF_MASK");
	ASSERT_LE(30, n);
	EXPECT_VERDICT("bpf_features", "bpf_find_vma", false);
	EXPECT_EQ(0, strncmp(doc_find("bpf_features", "bpf_find_vma")->text,
			     "masked by MEMLENS_BPF_MASK", 26));
	for (int i = 0; i < n; i++)
		features += !strcmp(doc_lines[i].group, "bpf_features");
	if (ml_read_file("docs/bpf.md", buf, sizeof(buf)) < 0)
		SKIP(return, "docs/bpf.md not here (run from the source tree)");
	p = strstr(buf, "\n| feature (`MEMLENS_BPF_MASK` name) |");
	ASSERT_NE(NULL, p);
	p = strstr(p, "|---");
	for (p = strchr(p, '\n') + 1; sscanf(p, "| `%63[^`]` |", name) == 1;
	     p = strchr(p, '\n') + 1) {
		EXPECT_NE(NULL, doc_find("bpf_features", name)) TH_LOG("%s", name);
		rows++;
	}
	EXPECT_EQ(features, rows);
}

/*
 * --json and --prometheus of the BPF counting commands (faults, tlb,
 * swap), checked against the text output of the same kind of run and
 * against what the kernel says without memlens: /proc/PID/stat's minflt
 * and majflt over the counted window, the exact pages a child touched,
 * /proc/swaps, /proc/meminfo and smaps_rollup.
 */
#define CT_PAGES 1000

struct counted {
	pid_t child;
	unsigned long region;		/* the child's fresh region */
	unsigned long long minflt, majflt;	/* its stat deltas over the window */
	long long present;			/* its present pages (pagemap), while counted */
	long long present_after;		/* likewise once memlens exited */
	char smaps_swap[32];			/* smaps_rollup's Swap, kB, likewise */
};

/*
 * Unmap [vvar] and [vvar_vclock] (VM_PFNMAP): the page-table walk counts
 * their present entries, inherited from the parent's clock reads, and
 * pagemap cannot see them.  The child makes no clock reads after this.
 */
static void drop_vvar(void)
{
	unsigned long a[8], b[8];
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && n < 8 && fgets(line, sizeof(line), f))
		if (strstr(line, "[vvar") && sscanf(line, "%lx-%lx", &a[n], &b[n]) == 2)
			n++;
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++)
		munmap((void *)a[i], b[i] - a[i]);
}

/* Wait until @pid sleeps (S): after its "ready" write, only in pause(). */
static void wait_sleeping(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < 5000; i++) {
		if (ml_read_file(path, buf, sizeof(buf)) < 0)
			return;
		p = strrchr(buf, ')');
		if (p && p[1] && p[2] == 'S')
			return;
		usleep(1000);
	}
}

/* Present pages of every VMA of @pid, from /proc/PID/pagemap (root: every entry). */
static long long pagemap_present_pages(pid_t pid)
{
	unsigned long long a, b, e[512];
	char path[64], line[512];
	long long present = 0;
	FILE *maps;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	while (maps && fd >= 0 && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%llx-%llx", &a, &b) != 2 || strstr(line, "[vsyscall]"))
			continue;
		for (unsigned long long va = a; va < b; va += 512 * 4096ULL) {
			size_t n = (b - va) / 4096 < 512 ? (b - va) / 4096 : 512;
			ssize_t got = pread(fd, e, n * 8, (off_t)(va / 4096 * 8));

			for (ssize_t i = 0; i < got / 8; i++)
				present += e[i] >> 63;
		}
	}
	if (maps)
		fclose(maps);
	if (fd >= 0)
		close(fd);
	return maps && fd >= 0 ? present : -1;
}

/* smaps_rollup's @key ("Rss:") of @pid, in kB, or -1. */
static long long rollup_kb(pid_t pid, const char *key)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	if (ml_read_file(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, key)))
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

/*
 * "memlens CMD [OPTS...] -p CHILD": the child touches CT_PAGES fresh
 * pages once memlens has attached (its first stderr line), and is blocked
 * in read() or pause() before and after, so that it faults only then;
 * memlens is stopped with SIGINT after the child's second stat read.
 * Output and status in r; returns 0 or -1.
 */
static int run_counted(const char *cmd, const char *const *opts, bool touch, struct counted *c)
{
	int go[2], done[2], errp[2], out, st;
	unsigned long long min0, maj0, min1, maj1;
	unsigned long *region;
	char spid[16], *argv[16], path[] = "/tmp/ml_cli_out.XXXXXX", ch;
	size_t n = 0, le = 0;
	ssize_t k;
	pid_t m;

	region = mmap(NULL, sizeof(*region), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (region == MAP_FAILED || pipe(go) || pipe(done) || pipe(errp))
		return -1;
	c->child = fork();
	if (!c->child) {
		volatile char *p;

		close(errp[0]);
		close(errp[1]);
		drop_vvar();
		if (read(go[0], &ch, 1) != 1)
			_exit(2);
		if (touch) {
			p = mmap(NULL, CT_PAGES * 4096UL, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(3);
			madvise((void *)p, CT_PAGES * 4096UL, MADV_NOHUGEPAGE);
			for (long i = 0; i < CT_PAGES; i++)
				p[i * 4096UL] = 1;
			*region = (unsigned long)p;
		}
		ml_ready_then_pause(done[1], 4);
	}
	snprintf(spid, sizeof(spid), "%d", c->child);
	argv[n++] = "memlens";
	argv[n++] = (char *)cmd;
	for (; opts && *opts; opts++)
		argv[n++] = (char *)*opts;
	argv[n++] = "-p";
	argv[n++] = spid;
	argv[n] = NULL;
	out = mkstemp(path);
	if (out < 0)
		return -1;
	unlink(path);
	m = fork();
	if (!m) {
		dup2(out, 1);
		dup2(errp[1], 2);
		execvp("memlens", argv);
		_exit(127);
	}
	close(errp[1]);
	/* attached once its first line is on stderr (the attach points) */
	while (le < sizeof(r.err) - 1 && (k = read(errp[0], r.err + le, 1)) == 1)
		if (r.err[le++] == '\n')
			break;
	if (ml_stat_faults(c->child, &min0, &maj0) || write(go[1], "g", 1) != 1 ||
	    read(done[0], &ch, 1) != 1)
		return -1;
	wait_sleeping(c->child);
	if (ml_stat_faults(c->child, &min1, &maj1))
		return -1;
	c->region = *region;
	c->present = pagemap_present_pages(c->child);
	snprintf(c->smaps_swap, sizeof(c->smaps_swap), "%lld", rollup_kb(c->child, "\nSwap:"));
	c->minflt = min1 - min0;
	c->majflt = maj1 - maj0;
	kill(m, SIGINT);
	while (le < sizeof(r.err) - 1 && (k = read(errp[0], r.err + le, sizeof(r.err) - 1 - le)) > 0)
		le += k;
	r.err[le] = '\0';
	close(errp[0]);
	waitpid(m, &st, 0);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	c->present_after = pagemap_present_pages(c->child);
	k = pread(out, r.out, sizeof(r.out) - 1, 0);
	r.out[k > 0 ? k : 0] = '\0';
	close(out);
	kill(c->child, SIGKILL);
	waitpid(c->child, NULL, 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(region, sizeof(*region));
	return 0;
}

/* The value of text line "KEY N" (after a newline or at the start), or -1. */
static long long text_value(const char *out, const char *key)
{
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "%s ", key);
	if (!strncmp(out, pat, strlen(pat)))
		return strtoll(out + strlen(pat), NULL, 10);
	snprintf(pat, sizeof(pat), "\n%s ", key);
	p = strstr(out, pat);
	if (!p || !isdigit((unsigned char)p[strlen(pat)]))
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* A field's value, or -1; -2 when it is unavailable with a reason. */
static double jfield(const struct jval *doc, const char *path)
{
	const struct jval *f = jpath(doc, path);

	if (!f || f->t != J_OBJ)
		return -1;
	if (jget(f, "value") && jget(f, "value")->t == J_NULL)
		return jstr(f, "unavailable") && jstr(f, "unavailable")[0] ? -2 : -1;
	return jnum(f, "value");
}

static const char *jwhy(const struct jval *doc, const char *path)
{
	const char *w = jstr(jpath(doc, path), "unavailable");

	return w ? w : "";
}

/* The memlens/1 document in r.out: parsed and schema-checked, or NULL. */
static struct jval *json_doc(struct __test_metadata *_metadata, const char *command)
{
	char err[160];
	struct jval *doc = jparse(r.out, err, sizeof(err));

	EXPECT_NE(NULL, doc) TH_LOG("%s: %s", err, r.out);
	if (!doc)
		return NULL;
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ(command, jstr(doc, "command"));
	EXPECT_STREQ(MEMLENS_VERSION, jstr(doc, "version"));
	EXPECT_NE(NULL, jstr(doc, "timestamp"));
	EXPECT_NE(NULL, jstr(doc, "hostname"));
	return doc;
}

/* The counters of faults' text and their JSON fields. */
static const char *const fault_keys[] = { "minor",  "major",	 "populated",  "not_charged",
					  "mixed",  "retry",	 "retry_returns", "errors",
					  "user",   "kernel",	 "read",       "write",
					  "exec",   "notpresent", "protection" };

static void check_faults(struct __test_metadata *_metadata, bool latency)
{
	const char *lat[] = { "--latency", NULL }, *lat_json[] = { "--latency", "--json", NULL };
	const char *json[] = { "--json", NULL };
	struct counted t, j;
	struct jval *doc;
	const struct jval *rows;
	char text[sizeof(r.out)], key[64], hex[32], hexend[32];
	int exact = 0;
	double sum = 0;

	ASSERT_EQ(0, run_counted("faults", latency ? lat : NULL, true, &t));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	memcpy(text, r.out, sizeof(text));
	/* the text: its minor and major are the stat deltas */
	EXPECT_EQ((long long)t.minflt, text_value(text, "minor")) TH_LOG("%s", text);
	EXPECT_EQ((long long)t.majflt, text_value(text, "major"));

	ASSERT_EQ(0, run_counted("faults", latency ? lat_json : json, true, &j));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_doc(_metadata, "faults");
	ASSERT_NE(NULL, doc);
	/* the mode first after the six header keys, as in the text */
	ASSERT_LT(6, doc->n);
	EXPECT_STREQ("mode", doc->keys[6]);
	EXPECT_STREQ(latency ? "latency" : "counting", jstr(doc, "mode"));
	EXPECT_EQ(0, strncmp(text, latency ? "mode latency\n" : "mode counting\n",
			     latency ? 13 : 14));
	EXPECT_STREQ("process", jstr(doc, "target.scope"));
	EXPECT_EQ(j.child, jnum(doc, "target.pid"));
	EXPECT_EQ((double)j.minflt, jfield(doc, "faults.minor_total")) TH_LOG("%s", r.out);
	EXPECT_EQ((double)j.majflt, jfield(doc, "faults.major_total"));
	/* every counter: a number where the text has it, else unavailable with the reason */
	for (size_t i = 0; i < sizeof(fault_keys) / sizeof(fault_keys[0]); i++) {
		snprintf(key, sizeof(key), "faults.%s_total", fault_keys[i]);
		if (text_value(text, fault_keys[i]) >= 0) {
			EXPECT_LE(0, jfield(doc, key)) TH_LOG("%s", key);
		} else {
			EXPECT_EQ(-2, jfield(doc, key)) TH_LOG("%s", key);
		}
	}
	if (!latency) {
		/* "retry unavailable: needs --latency" and "latency unavailable: ..." */
		EXPECT_NE(NULL, strstr(text, "\nretry unavailable: needs --latency\n"));
		EXPECT_STREQ("needs --latency", jwhy(doc, "faults.retry_total"));
		EXPECT_STREQ("needs --latency", jwhy(doc, "faults.errors_total"));
		EXPECT_STREQ("needs --latency", jwhy(doc, "fault_latency.timed_minor_total"));
		EXPECT_STREQ("needs --latency", jwhy(doc, "fault_latency.cost_bpf_ns_per_run"));
		EXPECT_EQ(NULL, jpath(doc, "fault_latency.histogram"));
		EXPECT_EQ(t.minflt + t.majflt + text_value(text, "not_charged") -
				  text_value(text, "populated"),
			  (unsigned long long)(text_value(text, "user") + text_value(text, "kernel")));
	} else {
		EXPECT_EQ(-2, jfield(doc, "faults.populated_total"));
		if (text_value(text, "retry") < 0)
			EXPECT_NE(NULL, strstr(jwhy(doc, "faults.retry_total"), "see memlens doctor"))
			TH_LOG("%s", jwhy(doc, "faults.retry_total"));
		/* every fault of the window timed: the histogram's rows sum to minflt */
		EXPECT_EQ((double)j.minflt, jfield(doc, "fault_latency.timed_minor_total"));
		rows = jget(jpath(doc, "fault_latency.histogram"), "rows");
		ASSERT_NE(NULL, rows);
		for (int i = 0; i < rows->n; i++)
			if (!strcmp(jstr(rows->items[i], "kind"), "minor"))
				sum += jnum(rows->items[i], "faults_total");
		EXPECT_EQ((double)j.minflt, sum);
		EXPECT_LT(0, jfield(doc, "fault_latency.cost_bpf_runs_total"));
		EXPECT_EQ(text_value(text, "lat_cost_bpf_runs") > 0,
			  jfield(doc, "fault_latency.cost_bpf_ns_per_run") >= 0);
	}
	/* the region's row: hex strings, exactly CT_PAGES minor faults */
	snprintf(hex, sizeof(hex), "0x%lx", j.region);
	snprintf(hexend, sizeof(hexend), "0x%lx", j.region + CT_PAGES * 4096UL);
	rows = jget(jpath(doc, "vma_faults"), "rows");
	ASSERT_NE(NULL, rows) TH_LOG("%s", r.out);
	for (int i = 0; i < rows->n; i++) {
		const struct jval *row = rows->items[i];

		ASSERT_NE(NULL, jstr(row, "start"));
		ASSERT_NE(NULL, jstr(row, "end"));
		if (strcmp(jstr(row, "start"), hex))
			continue;
		EXPECT_STREQ(hexend, jstr(row, "end"));
		EXPECT_EQ(CT_PAGES, jnum(row, "minor_total"));
		EXPECT_EQ(0, jnum(row, "major_total"));
		EXPECT_NE(NULL, jstr(row, "name"));
		exact++;
	}
	EXPECT_EQ(1, exact) TH_LOG("%s", r.out);
	/* the text's row of the same region in its run */
	snprintf(hex, sizeof(hex), "\n%lx %lx %d 0 ", t.region, t.region + CT_PAGES * 4096UL,
		 CT_PAGES);
	EXPECT_NE(NULL, strstr(text, hex)) TH_LOG("%s", text);
}

TEST(faults_json_counting_equals_text_and_proc)
{
	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	check_faults(_metadata, false);
}

TEST(faults_json_latency_equals_text_and_proc)
{
	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	check_faults(_metadata, true);
}

TEST(faults_prometheus)
{
	const char *prom[] = { "--prometheus", NULL }, *per_vma[] = { "--prometheus", "--per-vma", NULL };
	char why[160], has[96];
	struct counted c;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	ASSERT_EQ(0, run_counted("faults", prom, true, &c));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ((double)c.minflt, prom_value(r.out, "memlens_faults_minor_total", NULL))
		TH_LOG("%s", r.out);
	EXPECT_EQ((double)c.majflt, prom_value(r.out, "memlens_faults_major_total", NULL));
	EXPECT_EQ(0, strncmp(r.out, "# mode: counting\n", 17)) TH_LOG("%.100s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n# UNAVAILABLE memlens_faults_retry_total: needs --latency\n"));
	EXPECT_EQ(NULL, strstr(r.out, "memlens_vma_faults_"));
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));

	ASSERT_EQ(0, run_counted("faults", per_vma, true, &c));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	snprintf(has, sizeof(has), "start=\"0x%lx\"", c.region);
	EXPECT_EQ(CT_PAGES, prom_value(r.out, "memlens_vma_faults_minor_total", has))
		TH_LOG("%s", r.out);
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
}

/* tlb: the text's figures, the per-CPU rows summing to the totals, TLB reach. */
/* Is @name in the kernel's BTF strings (read raw, not through libbpf)?  -1: unreadable. */
static int btf_names(const char *name)
{
	static char blob[64 << 20];
	char key[64];
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);
	size_t n = 0;
	ssize_t got;

	if (fd < 0)
		return -1;
	while (n < sizeof(blob) && (got = read(fd, blob + n, sizeof(blob) - n)) > 0)
		n += got;
	close(fd);
	/* a whole string of the string section: NUL before and after */
	key[0] = '\0';
	snprintf(key + 1, sizeof(key) - 1, "%s", name);
	return memmem(blob, n, key, strlen(name) + 2) != NULL;
}

TEST(tlb_json_and_prometheus)
{
	const char *json[] = { "--json", NULL }, *prom[] = { "--prometheus", NULL };
	static const char *const keys[] = { "task_switch", "remote_shootdown", "local_shootdown",
					     "local_mm_shootdown", "remote_send_ipi",
					     "pages_flushed", "full_flushes" };
	char text[sizeof(r.out)], key[96], why[160];
	const struct jval *rows;
	struct counted t, j;
	struct jval *doc;
	int wrong;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	ASSERT_EQ(0, run_counted("tlb", NULL, false, &t));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	memcpy(text, r.out, sizeof(text));
	ASSERT_EQ(0, run_counted("tlb", json, false, &j));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_doc(_metadata, "tlb");
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(j.child, jnum(doc, "target.pid"));
	rows = jget(jpath(doc, "tlb.per_cpu"), "rows");
	ASSERT_NE(NULL, rows);
	EXPECT_LE(1, rows->n);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		double sum = 0;

		snprintf(key, sizeof(key), "%s_total", keys[k]);
		for (int i = 0; i < rows->n; i++) {
			EXPECT_EQ(i, jnum(rows->items[i], "cpu"));
			sum += jnum(rows->items[i], key);
		}
		snprintf(key, sizeof(key), "tlb.%s_total", keys[k]);
		EXPECT_EQ(sum, jfield(doc, key)) TH_LOG("%s", key);
		/* the same lines in the text, the process's part after the empty line */
		EXPECT_LE(0, text_value(text, keys[k])) TH_LOG("%s", keys[k]);
		EXPECT_LE(0, text_value(strstr(text, "\n\n") + 1, keys[k]));
		snprintf(key, sizeof(key), "tlb.process.%s_total", keys[k]);
		EXPECT_LE(0, jfield(doc, key)) TH_LOG("%s", key);
	}
	/*
	 * TLB reach of the child, blocked in pause() from the pagemap read to
	 * the walk: with 4 KiB pages only, one entry per present page.
	 */
	EXPECT_EQ(t.present, text_value(text, "tlb_entries_needed_4k"));
	EXPECT_EQ(j.present, jfield(doc, "tlb.process.entries_4k_only"));
	EXPECT_LE(1, jfield(doc, "tlb.process.entries_needed"));
	EXPECT_GE(jfield(doc, "tlb.process.entries_4k_only"),
		  jfield(doc, "tlb.process.entries_needed"));

	/*
	 * remote_wrong_cpu_total in every document, seen or not: a count (the
	 * per-CPU rows summing to it) where the kernel's BTF names the reason,
	 * else unavailable with the reason.
	 */
	wrong = btf_names("TLB_REMOTE_WRONG_CPU");
	ASSERT_LE(0, wrong) TH_LOG("cannot read /sys/kernel/btf/vmlinux");
	if (wrong) {
		double sum = 0;

		for (int i = 0; i < rows->n; i++)
			sum += jnum(rows->items[i], "remote_wrong_cpu_total");
		EXPECT_EQ(sum, jfield(doc, "tlb.remote_wrong_cpu_total"));
		EXPECT_LE(0, jfield(doc, "tlb.process.remote_wrong_cpu_total"));
	} else {
		EXPECT_EQ(-2, jfield(doc, "tlb.remote_wrong_cpu_total"));
		EXPECT_EQ(-2, jfield(doc, "tlb.process.remote_wrong_cpu_total"));
		EXPECT_NE(NULL, strstr(jwhy(doc, "tlb.process.remote_wrong_cpu_total"),
				       "TLB_REMOTE_WRONG_CPU"));
	}

	ASSERT_EQ(0, run_counted("tlb", prom, false, &j));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_LE(0, prom_value(r.out, "memlens_tlb_per_cpu_task_switch_total", "cpu=\"0\""));
	if (wrong) {
		EXPECT_LE(0, prom_value(r.out, "memlens_tlb_remote_wrong_cpu_total", NULL));
		EXPECT_LE(0, prom_value(r.out, "memlens_tlb_process_remote_wrong_cpu_total", NULL));
	} else {
		EXPECT_NE(NULL, strstr(r.out, "# UNAVAILABLE memlens_tlb_remote_wrong_cpu_total: "));
	}
	EXPECT_EQ(j.present, prom_value(r.out, "memlens_tlb_process_entries_4k_only", NULL))
		TH_LOG("present after %lld", j.present_after);
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
}

/* swap: /proc/swaps and /proc/meminfo; what the kernel cannot count says why. */
TEST(swap_json_and_prometheus)
{
	const char *json[] = { "--json", NULL }, *prom[] = { "--prometheus", NULL };
	static const char *const keys[] = { "pswpin", "pswpout", "swapin_major",
					    "swapcache_minor" };
	char text[sizeof(r.out)], key[96], why[160], line[512], name[256];
	const struct jval *rows;
	unsigned long long size, total = 0;
	struct counted t, j;
	struct jval *doc;
	int devs = 0;
	FILE *f;

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	ASSERT_EQ(0, run_counted("swap", NULL, false, &t));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	memcpy(text, r.out, sizeof(text));
	ASSERT_EQ(0, run_counted("swap", json, false, &j));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_doc(_metadata, "swap");
	ASSERT_NE(NULL, doc);
	f = fopen("/proc/swaps", "r");
	ASSERT_NE(NULL, f);
	rows = jget(jpath(doc, "swap.devices"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	while (fgets(line, sizeof(line), f) && sscanf(line, "%255s %*s %llu", name, &size) == 2) {
		ASSERT_LT(devs, rows->n);
		EXPECT_STREQ(name, jstr(rows->items[devs], "device"));
		EXPECT_EQ(size * 1024.0, jnum(rows->items[devs], "size_bytes"));
		total += size;
		devs++;
	}
	fclose(f);
	EXPECT_EQ(devs, rows->n);
	EXPECT_EQ(total * 1024.0, jfield(doc, "swap.total_bytes"));
	EXPECT_EQ(text_value(text, "swap_total_kb") * 1024.0, jfield(doc, "swap.total_bytes"));
	if (!total)	/* no swap: nothing can be freed or used in between */
		EXPECT_EQ(0, jfield(doc, "swap.free_bytes"));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		snprintf(key, sizeof(key), "swap.%s_total", keys[k]);
		if (text_value(text, keys[k]) >= 0) {
			EXPECT_LE(0, jfield(doc, key)) TH_LOG("%s", key);
		} else {
			EXPECT_EQ(-2, jfield(doc, key)) TH_LOG("%s", key);
			EXPECT_NE(NULL, strstr(jwhy(doc, key), "see memlens doctor"))
			TH_LOG("%s: %s", key, jwhy(doc, key));
		}
	}
	/* swap entries: smaps_rollup's Swap in pages, and the text's */
	EXPECT_EQ(atoll(j.smaps_swap) / 4, jfield(doc, "swap.process.swap_entries"));
	EXPECT_EQ(text_value(text, "swap_entries"), jfield(doc, "swap.process.swap_entries"));

	ASSERT_EQ(0, run_counted("swap", prom, false, &j));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(total * 1024.0, prom_value(r.out, "memlens_swap_total_bytes", NULL));
	EXPECT_EQ(atoll(j.smaps_swap) / 4,
		  prom_value(r.out, "memlens_swap_process_swap_entries", NULL));
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
}

/* A refused target: still an exposition, memlens_up 0 with the reason; JSON prints nothing. */
TEST(counting_commands_prometheus_on_failure)
{
	const char *cmds[] = { "faults", "tlb", "swap" };
	char why[160];

	if (!bpf_usable())
		SKIP(return, "needs root and BTF to load BPF programs");
	for (size_t c = 0; c < 3; c++) {
		char *prom[] = { "memlens", (char *)cmds[c], "--prometheus", "-p", "2", NULL };
		char *json[] = { "memlens", (char *)cmds[c], "--json", "-p", "2", NULL };

		ASSERT_EQ(0, ml_run(&r, prom));
		EXPECT_EQ(4, r.status) TH_LOG("%s: %s", cmds[c], r.err);
		EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
		EXPECT_EQ(0, prom_value(r.out, "memlens_up", NULL)) TH_LOG("%s", r.out);
		EXPECT_EQ(1, prom_value(r.out, "memlens_scrape_error", "reason=\"kernel_thread\""));
		ASSERT_EQ(0, ml_run(&r, json));
		EXPECT_EQ(4, r.status);
		EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s: %s", cmds[c], r.err);
	}
}

/* A child named @name (prctl) that waits for EOF on its pipe; its PID. */
static pid_t named_child(const char *name, int *hold)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		/* the other children's pipes too: each must see its own EOF */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		prctl(PR_SET_NAME, name);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	*hold = p[1];
	/* until the kernel shows the new name */
	for (int i = 0; i < 5000; i++) {
		char path[64], comm[64] = "";

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (ml_read_file(path, comm, sizeof(comm)) > 0 && !strncmp(comm, name, strlen(name)))
			break;
		usleep(1000);
	}
	return pid;
}

static void end_child(pid_t pid, int hold)
{
	close(hold);
	waitpid(pid, NULL, 0);
}

/* The PIDs of the rows of top's JSON @out, in *@pids; their count. */
static int top_pids(const char *out, pid_t *pids, int max)
{
	struct jval *doc = jparse(out, NULL, 0);
	const struct jval *rows = doc ? jget(jpath(doc, "processes"), "rows") : NULL;
	int n = 0;

	for (int i = 0; rows && i < rows->n && n < max; i++)
		pids[n++] = (pid_t)jnum(rows->items[i], "pid");
	return rows ? n : -1;
}

/*
 * --comm NAME: top shows exactly the processes of that name (two children
 * named by this test); a counting command targets the one of that name
 * (its JSON's target.pid) and refuses a name two processes have.
 */
TEST(comm_targets_the_named_processes)
{
	char name[16], two[16];
	char *top[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--comm", name, "--json", NULL };
	char *top2[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--comm", two, "--json", NULL };
	char *faults[] = { "memlens", "faults", "--comm", name, "-d", "0.2", "--json", NULL };
	char *ambiguous[] = { "memlens", "tlb", "--comm", two, "-d", "0.2", NULL };
	char *inspect[] = { "memlens", "inspect", "--comm", name, "--json", "--no-vmas", NULL };
	char *inspect2[] = { "memlens", "inspect", "--comm", two, NULL };
	char *watch[] = { "memlens", "watch", "--comm", name, "--json", "-n", "1", NULL };
	pid_t a, b, c, pids[8];
	int ha, hb, hc, n;
	struct jval *doc;

	snprintf(name, sizeof(name), "mlone%d", getpid() % 100000);
	snprintf(two, sizeof(two), "mltwo%d", getpid() % 100000);
	a = named_child(name, &ha);
	b = named_child(two, &hb);
	c = named_child(two, &hc);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_LT(0, c);
	ASSERT_EQ(0, ml_run(&r, top));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	n = top_pids(r.out, pids, 8);
	ASSERT_EQ(1, n) TH_LOG("%s", r.out);
	EXPECT_EQ(a, pids[0]);
	ASSERT_EQ(0, ml_run(&r, top2));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	n = top_pids(r.out, pids, 8);
	ASSERT_EQ(2, n) TH_LOG("%s", r.out);
	EXPECT_TRUE((pids[0] == b && pids[1] == c) || (pids[0] == c && pids[1] == b));
	ASSERT_EQ(0, ml_run(&r, inspect));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, NULL, 0);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	EXPECT_EQ(a, jnum(doc, "process.pid"));
	EXPECT_STREQ(name, jstr(doc, "process.comm"));
	ASSERT_EQ(0, ml_run(&r, inspect2));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "memlens inspect: --comm matches 2 processes")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, ml_run(&r, watch));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, NULL, 0);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	EXPECT_EQ(a, jnum(doc, "process.pid"));
	ASSERT_EQ(0, ml_run(&r, faults));
	if (r.status == 6 || r.status == 7) {
		end_child(a, ha);
		end_child(b, hb);
		end_child(c, hc);
		SKIP(return, "BPF unavailable here: %.200s", r.err);
	}
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, NULL, 0);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	EXPECT_EQ(a, jnum(doc, "target.pid"));
	ASSERT_EQ(0, ml_run(&r, ambiguous));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "--comm matches 2 processes")) TH_LOG("%s", r.err);
	end_child(a, ha);
	end_child(b, hb);
	end_child(c, hc);
}

/* The cgroup2 mount (from /proc/self/mounts) into @dir, or -1. */
static int cgroup2_mount(char *dir, size_t len)
{
	char line[4096], d[4096], type[64];
	FILE *m = fopen("/proc/self/mounts", "r");
	int ret = -1;

	while (m && fgets(line, sizeof(line), m))
		if (sscanf(line, "%*s %4095s %63s", d, type) == 2 && !strcmp(type, "cgroup2")) {
			snprintf(dir, len, "%s", d);
			ret = 0;
			break;
		}
	if (m)
		fclose(m);
	return ret;
}

/*
 * --cgroup PATH: a cgroup made here holding one child; top shows it alone,
 * by the cgroup's directory and by its path below the mount, and so does a
 * counting command; an empty cgroup and a missing one are exit 3.
 */
TEST(cgroup_targets_its_processes)
{
	char mnt[4096], dir[4200], rel[64], procs[4300], pid_s[16];
	char *by_dir[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--cgroup", dir, "--json", NULL };
	char *by_rel[] = { "memlens", "top", "-n", "0", "-i", "0.05", "--cgroup", rel, "--json", NULL };
	char *count[] = { "memlens", "swap", "--cgroup", rel, "-d", "0.2", "--json", NULL };
	char *walk[] = { "memlens", "pagetable", "--cgroup", dir, "--json", NULL };
	char *empty[] = { "memlens", "top", "--cgroup", dir, NULL };
	pid_t child, pids[8];
	struct jval *doc;
	int hold;

	if (cgroup2_mount(mnt, sizeof(mnt)))
		SKIP(return, "no cgroup2 mount");
	snprintf(rel, sizeof(rel), "memlens-test-%d", getpid());
	snprintf(dir, sizeof(dir), "%s/%s", mnt, rel);
	if (mkdir(dir, 0755))
		SKIP(return, "cannot make a cgroup in %.200s: %s", mnt, strerror(errno));
	child = named_child("mlcgroup", &hold);
	ASSERT_LT(0, child);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	snprintf(pid_s, sizeof(pid_s), "%d", child);
	if (write_str(procs, pid_s)) {
		end_child(child, hold);
		rmdir(dir);
		SKIP(return, "cannot move a process into %.200s", dir);
	}
	ASSERT_EQ(0, ml_run(&r, by_dir));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(1, top_pids(r.out, pids, 8)) TH_LOG("%s", r.out);
	EXPECT_EQ(child, pids[0]);
	ASSERT_EQ(0, ml_run(&r, by_rel));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(1, top_pids(r.out, pids, 8)) TH_LOG("%s", r.out);
	EXPECT_EQ(child, pids[0]);
	ASSERT_EQ(0, ml_run(&r, count));
	if (r.status != 6 && r.status != 7) {
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		doc = jparse(r.out, NULL, 0);
		ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
		EXPECT_EQ(child, jnum(doc, "target.pid"));
		ASSERT_EQ(0, ml_run(&r, walk));
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		doc = jparse(r.out, NULL, 0);
		ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
		EXPECT_EQ(child, jnum(doc, "target.pid"));
	}
	end_child(child, hold);
	/* its only process gone: nothing to show */
	ASSERT_EQ(0, ml_run(&r, empty));
	EXPECT_EQ(3, r.status);
	EXPECT_NE(NULL, strstr(r.err, "memlens top: no process in cgroup ")) TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strchr(strchr(r.err, '\n') + 1, '\n')) TH_LOG("one line: %s", r.err);
	EXPECT_EQ(0, rmdir(dir)) TH_LOG("%s", strerror(errno));
}

/* No match: exit 3, one line, no report; a name too long or two targets: exit 2. */
TEST(target_errors)
{
	static char *const cmds[][10] = {
		{ "memlens", "top", "--comm", "no-such-name", NULL },
		{ "memlens", "top", "--cgroup", "/no/such/cgroup", NULL },
		{ "memlens", "faults", "--comm", "no-such-name", NULL },
		{ "memlens", "tlb", "--comm", "no-such-name", NULL },
		{ "memlens", "swap", "--cgroup", "/no/such/cgroup", NULL },
		{ "memlens", "kcost", "--comm", "no-such-name", NULL },
		{ "memlens", "inspect", "--comm", "no-such-name", NULL },
		{ "memlens", "inspect", "--cgroup", "/no/such/cgroup", NULL },
		{ "memlens", "watch", "--comm", "no-such-name", NULL },
		{ "memlens", "pagetable", "--comm", "no-such-name", NULL },
		{ "memlens", "vmas", "--cgroup", "/no/such/cgroup", NULL },
	};
	static char *const usage[][10] = {
		{ "memlens", "top", "--comm", "a-name-of-16-chr", NULL },
		{ "memlens", "top", "--comm", "a", "--cgroup", "b", NULL },
		{ "memlens", "faults", "--comm", "a", "-p", "1", NULL },
		{ "memlens", "kcost", "--comm", "a", "--", "true", NULL },
		{ "memlens", "inspect", "--comm", "a", "1", NULL },
		{ "memlens", "watch", "--comm", "a", "--cgroup", "b", NULL },
		{ "memlens", "pagetable", "--comm", "a", "--cgroup", "b", NULL },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ASSERT_EQ(0, ml_run(&r, cmds[i]));
		EXPECT_EQ(3, r.status) TH_LOG("%s %s: %s", cmds[i][1], cmds[i][2], r.err);
		EXPECT_TRUE(strstr(r.err, "no process named 'no-such-name'") ||
			    strstr(r.err, "no such cgroup: /no/such/cgroup"))
			TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strchr(r.err, '\n'));
		EXPECT_EQ(NULL, strchr(strchr(r.err, '\n') + 1, '\n')) TH_LOG("one line: %s", r.err);
		EXPECT_STREQ("", r.out);
	}
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		ASSERT_EQ(0, ml_run(&r, usage[i]));
		EXPECT_EQ(2, r.status) TH_LOG("%s %s: %s", usage[i][1], usage[i][2], r.err);
		EXPECT_EQ(NULL, strchr(strchr(r.err, '\n') + 1, '\n')) TH_LOG("one line: %s", r.err);
	}
}

/*
 * A quiescent child for pagetable, vmas and the every-command test: 1000
 * fresh pages written, [vvar] unmapped (the walk sees its PFN-mapped
 * entries, smaps does not), its name @comm (NULL: unchanged); sleeping in
 * pause() when this returns.  *@region: the pages' address.
 */
static pid_t quiet_child(const char *comm, unsigned long *region)
{
	unsigned long *shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2];
	pid_t child;
	char c;

	if (shared == MAP_FAILED || pipe(ready))
		return -1;
	child = fork();
	if (!child) {
		char *p = mmap(NULL, CT_PAGES * 4096UL, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		/* gone with the test even when an assertion ends it early */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (p == MAP_FAILED)
			_exit(1);
		for (unsigned long i = 0; i < CT_PAGES; i++)
			p[i * 4096] = 1;
		*shared = (unsigned long)p;
		if (comm)
			prctl(PR_SET_NAME, comm, 0, 0, 0);
		drop_vvar();
		ml_ready_then_pause(ready[1], 1);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	wait_sleeping(child);
	*region = *shared;
	munmap(shared, sizeof(*shared));
	return child;
}

/* The "KEY: N kB" line of a /proc file, in kB (or -1). */
static long long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], buf[8192];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (ml_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, key)))
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

/*
 * pagetable --json and --prometheus: the text's every key with its value
 * (kB as bytes), table pages = VmPTE, resident = smaps_rollup's Rss, on a
 * child that does nothing meanwhile; a kernel thread is exit 4 with
 * memlens_up 0.
 */
TEST(pagetable_json_and_prometheus)
{
	static const char *const keys[] = {
		"tables_pgd", "tables_p4d", "tables_pud", "tables_pmd", "tables_pte",
		"tables_pte_deposited", "table_bytes", "leaf_4k", "leaf_2m", "leaf_1g",
		"resident_bytes", "anon_thp_bytes", "hugetlb_bytes", "swap_entries", "migration_entries",
		"other_nonpresent", "present_dirty", "present_young", "present_writable", "vmas",
		"paging_levels",
	};
	char spid[16], text[sizeof(r.out)], key[96], why[160];
	char *txt[] = { "memlens", "pagetable", spid, NULL };
	char *json[] = { "memlens", "pagetable", "--json", spid, NULL };
	char *prom[] = { "memlens", "pagetable", "--prometheus", spid, NULL };
	char *kthread[] = { "memlens", "pagetable", "--prometheus", "2", NULL };
	unsigned long region;
	struct jval *doc;
	pid_t child;

	if (!bpf_usable())
		SKIP(return, "BPF needs root and BTF");
	child = quiet_child(NULL, &region);
	ASSERT_LT(0, child);
	snprintf(spid, sizeof(spid), "%d", child);
	ASSERT_EQ(0, ml_run(&r, txt));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(text, sizeof(text), "%s", r.out);
	ASSERT_EQ(0, ml_run(&r, json));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_doc(_metadata, "pagetable");
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(child, jnum(doc, "target.pid"));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "pagetable.%s.value", keys[i]);
		/* the kernel may age young bits between the two walks, never set them */
		if (!strcmp(keys[i], "present_young")) {
			EXPECT_GE(text_value(text, keys[i]), jnum(doc, key));
		} else {
			EXPECT_EQ(text_value(text, keys[i]), jnum(doc, key)) TH_LOG("%s", keys[i]);
		}
		snprintf(key, sizeof(key), "pagetable.%s.source", keys[i]);
		EXPECT_STREQ("bpf", jstr(doc, key));
	}
	/* VmPTE: PUD, PMD, PTE tables and deposited PTE tables */
	EXPECT_EQ(proc_kb(child, "status", "VmPTE:") * 1024,
		  (jnum(doc, "pagetable.tables_pud.value") + jnum(doc, "pagetable.tables_pmd.value") +
		   jnum(doc, "pagetable.tables_pte.value") +
		   jnum(doc, "pagetable.tables_pte_deposited.value")) * 4096);
	EXPECT_EQ(proc_kb(child, "smaps_rollup", "\nRss:") * 1024,
		  jnum(doc, "pagetable.resident_bytes.value"));
	EXPECT_EQ(0, jnum(doc, "pagetable.unreadable_tables.value"));
	ASSERT_EQ(0, ml_run(&r, prom));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(jnum(doc, "pagetable.resident_bytes.value"),
		  prom_value(r.out, "memlens_pagetable_resident_bytes", NULL));
	EXPECT_EQ(text_value(text, "leaf_4k"), prom_value(r.out, "memlens_pagetable_leaf_4k", NULL));
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ASSERT_EQ(0, ml_run(&r, kthread));
	EXPECT_EQ(4, r.status);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(0, prom_value(r.out, "memlens_up", NULL));
	EXPECT_EQ(1, prom_value(r.out, "memlens_scrape_error", "reason=\"kernel_thread\""));
}

/*
 * vmas --json: one row per line of the text, each the text's figures in
 * bytes, start and end "0x..." equal to /proc/PID/maps; the child's 1000
 * pages are its region's resident bytes exactly; the totals are the rows'
 * sums and smaps_rollup's Rss.  --prometheus: the totals, the per-VMA
 * series only with --per-vma.
 */
TEST(vmas_json_and_prometheus)
{
	char spid[16], text[sizeof(r.out)], maps[32768], path[64], why[160], has[64];
	char *txt[] = { "memlens", "vmas", spid, NULL };
	char *json[] = { "memlens", "vmas", "--json", spid, NULL };
	char *prom[] = { "memlens", "vmas", "--prometheus", spid, NULL };
	char *per_vma[] = { "memlens", "vmas", "--prometheus", "--per-vma", spid, NULL };
	double res = 0, thp = 0, swap = 0, pte = 0;
	const struct jval *rows, *row;
	const char *l;
	unsigned long region;
	struct jval *doc;
	int lines = 0, maps_lines = 0;
	pid_t child;

	if (!bpf_usable())
		SKIP(return, "BPF needs root and BTF");
	child = quiet_child(NULL, &region);
	ASSERT_LT(0, child);
	snprintf(spid, sizeof(spid), "%d", child);
	snprintf(path, sizeof(path), "/proc/%d/maps", child);
	ASSERT_LT(0, ml_read_file(path, maps, sizeof(maps)));
	ASSERT_EQ(0, ml_run(&r, txt));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(text, sizeof(text), "%s", r.out);
	ASSERT_EQ(0, ml_run(&r, json));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_doc(_metadata, "vmas");
	ASSERT_NE(NULL, doc);
	rows = jget(jpath(doc, "vmas"), "rows");
	ASSERT_NE(NULL, rows);
	/* the text's rows, in order */
	l = strchr(text, '\n');
	ASSERT_NE(NULL, l);
	for (l++; *l; l = strchr(l, '\n') + 1, lines++) {
		unsigned long long s, e, rk, tk, sk, pt;
		char perms[8], kind[16], lo[24], hi[24];

		ASSERT_EQ(7, sscanf(l, "%llx %llx %7s %15s %llu %llu %llu %llu", &s, &e, perms, kind,
				    &rk, &tk, &sk, &pt) - 1);
		ASSERT_LT(lines, rows->n);
		row = rows->items[lines];
		EXPECT_EQ(s, jaddr(row, "start"));
		EXPECT_EQ(e, jaddr(row, "end"));
		EXPECT_STREQ(perms, jstr(row, "perms"));
		EXPECT_STREQ(kind, jstr(row, "kind"));
		EXPECT_EQ(rk * 1024.0, jnum(row, "resident_bytes"));
		EXPECT_EQ(tk * 1024.0, jnum(row, "thp_bytes"));
		EXPECT_EQ(sk * 1024.0, jnum(row, "swap_bytes"));
		EXPECT_EQ((double)pt, jnum(row, "pte_tables"));
		/* a line of /proc/PID/maps, to the byte */
		snprintf(lo, sizeof(lo), "\n%llx-", s);
		snprintf(hi, sizeof(hi), "-%llx ", e);
		EXPECT_TRUE(!strncmp(maps, lo + 1, strlen(lo + 1)) || strstr(maps, lo))
			TH_LOG("%s not in maps", lo + 1);
		EXPECT_NE(NULL, strstr(maps, hi));
		res += jnum(row, "resident_bytes");
		thp += jnum(row, "thp_bytes");
		swap += jnum(row, "swap_bytes");
		pte += jnum(row, "pte_tables");
	}
	EXPECT_EQ(lines, rows->n);
	for (l = maps; *l; l = strchr(l, '\n') + 1)
		maps_lines += !strstr(l, "[vsyscall]") || strchr(l, '\n') < strstr(l, "[vsyscall]");
	EXPECT_EQ(maps_lines, rows->n);
	row = jrow_addr(doc, "vmas", "start", region);
	ASSERT_NE(NULL, row);
	EXPECT_EQ(region + CT_PAGES * 4096UL, jaddr(row, "end"));
	EXPECT_EQ(CT_PAGES * 4096.0, jnum(row, "resident_bytes"));
	EXPECT_EQ((double)rows->n, jnum(doc, "vma_totals.vmas.value"));
	EXPECT_EQ(res, jnum(doc, "vma_totals.resident_bytes.value"));
	EXPECT_EQ(thp, jnum(doc, "vma_totals.thp_bytes.value"));
	EXPECT_EQ(swap, jnum(doc, "vma_totals.swap_bytes.value"));
	EXPECT_EQ(pte, jnum(doc, "vma_totals.pte_tables.value"));
	EXPECT_EQ(proc_kb(child, "smaps_rollup", "\nRss:") * 1024, res);

	ASSERT_EQ(0, ml_run(&r, prom));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(res, prom_value(r.out, "memlens_vma_totals_resident_bytes", NULL));
	EXPECT_EQ(NULL, strstr(r.out, "memlens_vmas_"));
	EXPECT_EQ(1, prom_value(r.out, "memlens_up", NULL));
	ASSERT_EQ(0, ml_run(&r, per_vma));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, prom_check(r.out, why, sizeof(why))) TH_LOG("%s", why);
	snprintf(has, sizeof(has), "start=\"0x%lx\"", region);
	EXPECT_EQ(CT_PAGES * 4096.0, prom_value(r.out, "memlens_vmas_resident_bytes", has))
		TH_LOG("%.2000s", r.out);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* The value of the last sample of @text, and its name into @name. */
static double prom_last_sample(const char *text, char *name, size_t len)
{
	const char *l = text, *last = NULL;

	for (; *l; l = strchr(l, '\n') + 1)
		if (l[0] != '#' && l[0] != '\n')
			last = l;
	if (!last)
		return -1;
	snprintf(name, len, "%.*s", (int)strcspn(last, "{ "), last);
	return strtod(strchr(last, ' ') + 1, NULL);
}

/* @text without its line starting with @key. */
static void drop_line(char *text, const char *key)
{
	char *l = strstr(text, key), *nl;

	if (l && (l == text || l[-1] == '\n')) {
		nl = strchr(l, '\n');
		memmove(l, nl ? nl + 1 : l + strlen(l), strlen(nl ? nl + 1 : l + strlen(l)) + 1);
	}
}

/*
 * pagetable and vmas take --comm and --cgroup as the other commands do:
 * one match is that process (its report equal to the one by PID, the
 * child quiescent), several matches exit 2 naming their PIDs, none exits
 * 3 (target_errors); a PID and --comm together exit 2.
 */
TEST(pagetable_and_vmas_by_comm)
{
	char name[16], two[16], spid[16], text[sizeof(r.out)];
	char *by_pid[] = { "memlens", "pagetable", spid, NULL };
	char *pt[] = { "memlens", "pagetable", "--comm", name, NULL };
	char *vmas[] = { "memlens", "vmas", "--comm", name, "--json", NULL };
	char *vmas_pid[] = { "memlens", "vmas", "--json", spid, NULL };
	char *amb[2][6] = { { "memlens", "pagetable", "--comm", two, "--json", NULL },
			    { "memlens", "vmas", "--comm", two, NULL } };
	char *both[] = { "memlens", "vmas", "--comm", name, spid, NULL };
	const struct jval *rows, *rows_pid;
	unsigned long region;
	struct jval *doc, *doc_pid;
	pid_t child, b, c;
	int hb, hc;
	char list[64];

	if (!bpf_usable())
		SKIP(return, "BPF needs root and BTF");
	snprintf(name, sizeof(name), "mlpt%d", getpid() % 100000);
	snprintf(two, sizeof(two), "mlpt2%d", getpid() % 100000);
	child = quiet_child(name, &region);
	ASSERT_LT(0, child);
	snprintf(spid, sizeof(spid), "%d", child);
	ASSERT_EQ(0, ml_run(&r, by_pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(text, sizeof(text), "%s", r.out);
	ASSERT_EQ(0, ml_run(&r, pt));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* the same lines but present_young: the kernel ages accessed bits meanwhile */
	drop_line(text, "present_young ");
	drop_line(r.out, "present_young ");
	EXPECT_STREQ(text, r.out);
	ASSERT_EQ(0, ml_run(&r, vmas_pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc_pid = jparse(r.out, NULL, 0);
	ASSERT_NE(NULL, doc_pid) TH_LOG("%s", r.out);
	ASSERT_EQ(0, ml_run(&r, vmas));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, NULL, 0);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	EXPECT_EQ(child, jnum(doc, "target.pid"));
	rows = jget(jpath(doc, "vmas"), "rows");
	rows_pid = jget(jpath(doc_pid, "vmas"), "rows");
	ASSERT_NE(NULL, rows);
	ASSERT_NE(NULL, rows_pid);
	EXPECT_EQ(rows_pid->n, rows->n);
	EXPECT_NE(NULL, jrow_addr(doc, "vmas", "start", region));
	ASSERT_EQ(0, ml_run(&r, both));
	EXPECT_EQ(2, r.status);
	EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	b = named_child(two, &hb);
	c = named_child(two, &hc);
	ASSERT_LT(0, b);
	ASSERT_LT(0, c);
	snprintf(list, sizeof(list), "--comm matches 2 processes (%d,%d)", b < c ? b : c,
		 b < c ? c : b);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, ml_run(&r, amb[i]));
		EXPECT_EQ(2, r.status) TH_LOG("%s: %s", amb[i][1], r.err);
		EXPECT_NE(NULL, strstr(r.err, list)) TH_LOG("%s", r.err);
		EXPECT_TRUE(one_line_error(&r)) TH_LOG("%s", r.err);
	}
	end_child(b, hb);
	end_child(c, hc);
}

/*
 * Every command of memlens --help but version: --json parses and passes
 * the memlens/1 checker (one document per line: watch prints one per
 * refresh), --prometheus passes the exposition checker and ends in
 * memlens_up 1.  The target's name holds ", \ and a newline: it comes
 * back byte for byte from JSON and escaped in every comm label (top lists
 * it among all processes).  A command added to --help without a row here
 * fails the test.
 */
FIXTURE(all_commands) {};
FIXTURE_SETUP(all_commands) {}
FIXTURE_TEARDOWN(all_commands) {}

/* about 25 runs of memlens, BPF loads among them: more than 30 s on a loaded host */
TEST_F_TIMEOUT(all_commands, every_command_json_and_prometheus_parse, 240)
{
	static const char comm[] = "q\"b\\s\nn";
	char spid[16], cmds[32][16], why[160], err[160], name[96];
	char *const table[][12] = {
		{ "doctor", NULL },
		{ "inspect", spid, NULL },
		{ "run", "--", "true", NULL },
		{ "compare", "-a", "glibc", "-r", "1", "--warmup", "0", "--", "true", NULL },
		{ "watch", "-n", "1", "-i", "0.1", spid, NULL },
		{ "top", "-i", "0.2", "-n", "0", NULL },
		{ "faults", "-d", "0.2", "-p", spid, NULL },
		{ "pagetable", spid, NULL },
		{ "vmas", spid, NULL },
		{ "tlb", "-d", "0.2", "-p", spid, NULL },
		{ "swap", "-d", "0.2", "-p", spid, NULL },
		{ "kcost", "-d", "0.2", "-p", spid, NULL },
	};
	const int nt = sizeof(table) / sizeof(table[0]);
	unsigned long region;
	int n = list_commands(cmds, 32);
	pid_t child;

	if (!bpf_usable())
		SKIP(return, "faults, pagetable, vmas, tlb, swap, kcost need root and BTF");
	ASSERT_LT(0, n);
	for (int i = 0; i < n; i++) {
		/* version prints no report; diff reads two documents: diff_shows_exact_growth */
		bool have = !strcmp(cmds[i], "version") || !strcmp(cmds[i], "diff");

		for (int t = 0; t < nt; t++)
			have |= !strcmp(cmds[i], table[t][0]);
		EXPECT_TRUE(have) TH_LOG("%s has no row in this test", cmds[i]);
	}
	child = quiet_child(comm, &region);
	ASSERT_LT(0, child);
	snprintf(spid, sizeof(spid), "%d", child);
	for (int t = 0; t < nt; t++) {
		for (int f = 0; f < 2; f++) {
			char *argv[16] = { "memlens", table[t][0], f ? "--prometheus" : "--json" };
			int k = 3;

			for (int j = 1; table[t][j]; j++)
				argv[k++] = table[t][j];
			argv[k] = NULL;
			ASSERT_EQ(0, ml_run(&r, argv));
			EXPECT_EQ(0, r.status) TH_LOG("%s %s: %s", argv[1], argv[2], r.err);
			if (!f) {
				struct jval *doc = jparse(r.out, err, sizeof(err));

				EXPECT_NE(NULL, doc) TH_LOG("%s --json: %s: %.300s", argv[1], err, r.out);
				if (!doc)
					continue;
				EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err)))
					TH_LOG("%s --json: %s", argv[1], err);
				EXPECT_STREQ(table[t][0], jstr(doc, "command"));
				if (jstr(doc, "process.comm"))
					EXPECT_STREQ(comm, jstr(doc, "process.comm"));
				continue;
			}
			EXPECT_EQ(0, prom_check(r.out, why, sizeof(why)))
				TH_LOG("%s --prometheus: %s", argv[1], why);
			EXPECT_EQ(1, prom_last_sample(r.out, name, sizeof(name)))
				TH_LOG("%s --prometheus: %.300s", argv[1], r.out);
			EXPECT_STREQ("memlens_up", name);
			if (!strcmp(argv[1], "inspect") || !strcmp(argv[1], "watch") ||
			    !strcmp(argv[1], "top"))
				EXPECT_NE(NULL, strstr(r.out, "comm=\"q\\\"b\\\\s\\nn\""))
					TH_LOG("%s --prometheus: the comm label", argv[1]);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* "memlens inspect --json PID" into a new temporary file @path (XXXXXX). */
static int inspect_to_file(pid_t pid, char *path)
{
	char spid[16];
	char *argv[] = { "memlens", "inspect", "--backend", "proc", "--json", spid, NULL };
	int fd;

	snprintf(spid, sizeof(spid), "%d", pid);
	if (ml_run(&r, argv) || r.status)
		return -1;
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, r.out, strlen(r.out)) != (ssize_t)strlen(r.out)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* The row of @doc's table @path whose address column @key is @addr and whose change is @change. */
static const struct jval *diff_row(const struct jval *doc, unsigned long long addr,
				   const char *change)
{
	const struct jval *row = jrow_addr(doc, "vmas", "start", addr);

	return row && jstr(row, "change") && !strcmp(jstr(row, "change"), change) ? row : NULL;
}

/*
 * memlens diff of two inspect snapshots of a child that, between them,
 * touches 300 more pages of its 1000-page region (500 touched before) and
 * maps and touches a new 64-page region: the region's row grew by exactly
 * 300 pages resident and nothing in size, the new one is "new" with 64
 * pages, the summary's resident delta is VmRSS's (read by this test at
 * each snapshot) and the sum of the rows' (the totals line); bad files are
 * exit 2 with one line.
 */
TEST(diff_shows_exact_growth)
{
	char a[] = "/tmp/ml_diff_a.XXXXXX", b[] = "/tmp/ml_diff_b.XXXXXX", bad[] = "/tmp/ml_diff_x.XXXXXX";
	char doc_file[] = "/tmp/ml_diff_d.XXXXXX", err[160], c;
	char *json[] = { "memlens", "diff", "--json", a, b, NULL };
	char *text[] = { "memlens", "diff", a, b, NULL };
	unsigned long *shared = mmap(NULL, 2 * sizeof(long), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long rss0, rss1;
	const struct jval *row, *rows;
	struct jval *doc;
	double sum = 0;
	int go[2], ready[2], fd;
	pid_t child;

	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	if (!child) {
		char *p = mmap(NULL, 1000 * 4096UL, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		madvise(p, 1000 * 4096UL, MADV_NOHUGEPAGE);
		for (unsigned long i = 0; i < 500; i++)
			p[i * 4096] = 1;
		shared[0] = (unsigned long)p;
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		for (unsigned long i = 500; i < 800; i++)
			p[i * 4096] = 1;
		q = mmap(NULL, 64 * 4096UL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		/* no MADV_NOHUGEPAGE here (64 pages get no THP): its flags differ, so
		 * the kernel does not merge it with the region above */
		for (unsigned long i = 0; i < 64; i++)
			q[i * 4096] = 1;
		shared[1] = (unsigned long)q;
		ml_ready_then_pause(ready[1], 1);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	wait_sleeping(child);
	rss0 = proc_kb(child, "status", "VmRSS:");
	ASSERT_EQ(0, inspect_to_file(child, a)) TH_LOG("%s", r.err);
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(ready[0], &c, 1));
	wait_sleeping(child);
	rss1 = proc_kb(child, "status", "VmRSS:");
	ASSERT_EQ(0, inspect_to_file(child, b)) TH_LOG("%s", r.err);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	ASSERT_EQ(0, ml_run(&r, json));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = jparse(r.out, err, sizeof(err));
	ASSERT_NE(NULL, doc) TH_LOG("%s", err);
	EXPECT_TRUE(jcheck_schema(doc, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("diff", jstr(doc, "command"));
	EXPECT_EQ(child, jnum(doc, "a.pid"));
	EXPECT_EQ(child, jnum(doc, "b.pid"));
	EXPECT_EQ((rss1 - rss0) * 1024.0, jnum(doc, "summary.resident_bytes.value"));
	row = diff_row(doc, shared[0], "grew");
	ASSERT_NE(NULL, row) TH_LOG("%s", r.out);
	EXPECT_EQ(shared[0] + 1000 * 4096UL, jaddr(row, "end"));
	EXPECT_EQ(300 * 4096.0, jnum(row, "resident_bytes"));
	EXPECT_EQ(300 * 4096.0, jnum(row, "anon_bytes"));
	EXPECT_EQ(0, jnum(row, "size_bytes"));
	row = diff_row(doc, shared[1], "new");
	ASSERT_NE(NULL, row) TH_LOG("%s", r.out);
	EXPECT_EQ(64 * 4096.0, jnum(row, "resident_bytes"));
	EXPECT_EQ(64 * 4096.0, jnum(row, "size_bytes"));
	rows = jget(jpath(doc, "vmas"), "rows");
	ASSERT_NE(NULL, rows);
	for (int i = 0; i < rows->n; i++)
		sum += jnum(rows->items[i], "resident_bytes");
	EXPECT_EQ(jnum(doc, "summary.resident_bytes.value"), sum);

	ASSERT_EQ(0, ml_run(&r, text));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "  grew ")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  new ")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  total ")) TH_LOG("%s", r.out);

	/* bad input: exit 2, one line on stderr, nothing on stdout */
	fd = mkstemp(bad);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, write(fd, "{\n", 2));
	close(fd);
	{
		char *doctor[] = { "memlens", "doctor", "--json", NULL };

		ASSERT_EQ(0, ml_run(&r, doctor));
		fd = mkstemp(doc_file);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)strlen(r.out), write(fd, r.out, strlen(r.out)));
		close(fd);
	}
	{
		char *const cases[][7] = {
			{ "memlens", "diff", a, "/nonexistent/b.json", NULL },
			{ "memlens", "diff", a, bad, NULL },
			{ "memlens", "diff", doc_file, b, NULL },
			{ "memlens", "diff", a, NULL },
			{ "memlens", "diff", a, b, a, NULL },
			{ "memlens", "diff", "--prometheus", a, b, NULL },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			ASSERT_EQ(0, ml_run(&r, cases[i]));
			EXPECT_EQ(2, r.status) TH_LOG("case %zu", i);
			EXPECT_TRUE(one_line_error(&r)) TH_LOG("case %zu: %s|%s", i, r.out, r.err);
		}
	}
	unlink(a);
	unlink(b);
	unlink(bad);
	unlink(doc_file);
	munmap(shared, 2 * sizeof(long));
}

TEST_HARNESS_MAIN
