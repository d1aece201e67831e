// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input must not corrupt memory silently.  Each case runs in a child
 * process (re-executing this binary, so that MLALLOC_CHECK is read at
 * start-up), which must die of SIGABRT after printing mlalloc's message.
 * See docs/allocator.md for the policy.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mlalloc.h"
#include "kselftest_harness.h"

/* the children misbehave on purpose */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

static char *self_exe;

static void *free_it(void *p)
{
	free(p);
	return NULL;
}

/* the misbehaving programs */
static int child(const char *what)
{
	if (!strcmp(what, "double-free-adjacent")) {
		void *a = malloc(40), *b = malloc(40);
		free(b);
		free(a);
		free(a);	/* a is the head of its page's local free list */
	} else if (!strcmp(what, "double-free-local")) {
		void *a = malloc(40), *b = malloc(40);
		free(a);
		free(b);
		free(a);
		mlalloc_collect();	/* ML_DEBUG: walks every page */
	} else if (!strcmp(what, "double-free-remote")) {
		void *a = malloc(40);
		free(a);
		pthread_t t;	/* the second free comes from another thread */
		pthread_create(&t, NULL, free_it, a);
		pthread_join(t, NULL);
	} else if (!strcmp(what, "double-free-huge")) {
		void *a = malloc(8 << 20);
		void *b = malloc(8 << 20);
		free(a);
		free(a);
		free(b);
	} else if (!strcmp(what, "foreign-stack")) {
		int x;
		free(&x);
	} else if (!strcmp(what, "foreign-mmap")) {
		void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		free((char *)m + 4096);
	} else if (!strcmp(what, "interior")) {
		char *a = malloc(100);
		free(a + 8);
	} else if (!strcmp(what, "ok")) {
		void *a = malloc(40);
		free(a);
		a = malloc(40);
		free(a);	/* a reused block is not a double free */
		return 0;
	}
	return 42;	/* not detected */
}

/* Run a case; return the termination status and what it printed. */
static int run(const char *what, int check, char *out, size_t outlen)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (check)
			setenv("MLALLOC_CHECK", "1", 1);
		else
			unsetenv("MLALLOC_CHECK");
		execl(self_exe, self_exe, "--child", what, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < outlen - 1 && (r = read(pfd[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	return st;
}

#define EXPECT_ABORT(what, check, msg) do { \
	char out[4096]; \
	int st = run(what, check, out, sizeof(out)); \
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) \
		TH_LOG("%s (check=%d): status %#x, output: %s", what, check, st, out); \
	EXPECT_NE(NULL, strstr(out, msg)) TH_LOG("%s: output: %s", what, out); \
} while (0)

/* default mode never reads the freed block: only the block freed twice in
 * a row (the head of the page's free list) is seen */
TEST(double_free_same_thread_default_mode)
{
	EXPECT_ABORT("double-free-adjacent", 0, "mlalloc: free(): double free detected");
}

TEST(double_free_adjacent_check_mode)
{
	EXPECT_ABORT("double-free-adjacent", 1, "mlalloc: free(): double free detected");
}

#ifdef ML_TEST_DEBUG
/* the ML_DEBUG build's page check finds the free list a->b->a (the default
 * mode's free() does not see it) */
TEST(debug_build_page_check_finds_double_free)
{
	EXPECT_ABORT("double-free-local", 0, "mlalloc: assertion failed: ");
}
#endif

TEST(double_free_same_thread_check_mode)
{
	EXPECT_ABORT("double-free-local", 1, "mlalloc: free(): double free detected");
}

TEST(double_free_other_thread_check_mode)
{
	EXPECT_ABORT("double-free-remote", 1, "mlalloc: free(): double free detected");
}

TEST(double_free_huge_block)
{
	EXPECT_ABORT("double-free-huge", 0, "mlalloc: free(): double free of a huge block");
}

TEST(foreign_pointer_stack)
{
	EXPECT_ABORT("foreign-stack", 0, "mlalloc: free(): pointer not allocated by mlalloc");
}

TEST(foreign_pointer_mmap)
{
	EXPECT_ABORT("foreign-mmap", 0, "mlalloc: free(): pointer not allocated by mlalloc");
}

TEST(interior_pointer_check_mode)
{
	EXPECT_ABORT("interior", 1, "mlalloc: free(): invalid pointer (not the start of a block)");
}

TEST(reuse_is_not_a_double_free)
{
	char out[4096];
	int st = run("ok", 1, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x: %s", st, out);
}

int main(int argc, char **argv)
{
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	self_exe = exe;
	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
	return test_harness_run(argc, argv);
}
