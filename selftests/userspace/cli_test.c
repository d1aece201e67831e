// SPDX-License-Identifier: GPL-2.0
/*
 * The memlens CLI's front door and the conventions every command shares:
 * --version, --help (commands and exit codes from one table, the same in
 * docs/inspector.md), one-line usage errors, one PID parser (a thread id
 * resolves to its process, " 123" is refused), and the documented exit
 * codes of the BPF counting commands (faults, tlb, swap, pagetable, vmas).
 */
#include <pthread.h>
#include <sys/mman.h>

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
	char buf[65536], code[16], meaning[256], codes[16][8], meanings[16][128];
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
		{ "memlens", "faults", "-p", "1", "--", "true", NULL },
		{ "memlens", "tlb", "-p", "x1", NULL },
		{ "memlens", "swap", "--bogus", NULL },
		{ "memlens", "vmas", NULL },
		{ "memlens", "pagetable", "1", "2", NULL },
		{ "memlens", "version", "extra", NULL },
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

/* Every JSON document: schema, command, tool version, UTC timestamp, hostname. */
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
	EXPECT_STREQ(MEMLENS_VERSION, jstr(doc, "version"));
	EXPECT_STREQ(host, jstr(doc, "hostname"));
	snprintf(stamp, sizeof(stamp), "%s", jstr(doc, "timestamp"));
	ASSERT_NE(NULL, strptime(stamp, "%Y-%m-%dT%H:%M:%SZ", &tm)) TH_LOG("%s", stamp);
	at = timegm(&tm);
	EXPECT_LE(before, at);
	EXPECT_GE(time(NULL), at);
}

TEST_HARNESS_MAIN
