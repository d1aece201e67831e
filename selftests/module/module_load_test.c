// SPDX-License-Identifier: GPL-2.0
/*
 * memlens.ko loads and unloads cleanly, creates its debugfs root and the
 * version file, and stays clean over 100 load/unload cycles.  Runs as
 * root inside a test guest (not under the runner's --insmod: it loads the
 * module itself).  MEMLENS_KO names the module (default: where
 * selftests/vm/run puts it).
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "ml_test.h"

#define DEBUGFS "/sys/kernel/debug/memlens"

static int loaded(void)
{
	char buf[65536];

	if (ml_read_file("/proc/modules", buf, sizeof(buf)) < 0)
		return -1;
	return !strncmp(buf, "memlens ", 8) || strstr(buf, "\nmemlens ") != NULL;
}

FIXTURE(module) {};

FIXTURE_SETUP(module)
{
	if (getuid() != 0)
		SKIP(return, "needs root to load modules");
	if (access(ml_ko_path(), R_OK))
		SKIP(return, "no module at %s", ml_ko_path());
	if (loaded() == 1)
		ASSERT_EQ(0, ml_unload_module());
}

FIXTURE_TEARDOWN(module)
{
	if (loaded() == 1)
		ml_unload_module();
}

TEST_F(module, load_creates_version_file)
{
	char buf[256];
	struct stat st;

	ASSERT_EQ(0, ml_load_module());
	ASSERT_EQ(1, loaded());
	ASSERT_EQ(0, stat(DEBUGFS, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(0, stat(DEBUGFS "/version", &st));
	EXPECT_EQ(0400U, st.st_mode & 07777);
	ASSERT_LT(0, ml_read_file(DEBUGFS "/version", buf, sizeof(buf)));
	EXPECT_STREQ("version " MEMLENS_VERSION "\nformat 1\n", buf);
	ASSERT_EQ(0, ml_unload_module());
	EXPECT_EQ(0, loaded());
	EXPECT_EQ(-1, stat(DEBUGFS, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(NULL, ml_kernel_problem());
}

TEST_F(module, second_load_is_refused)
{
	ASSERT_EQ(0, ml_load_module());
	EXPECT_EQ(-EEXIST, ml_load_module());
	ASSERT_EQ(0, ml_unload_module());
	EXPECT_EQ(-ENOENT, ml_unload_module());
}

TEST_F(module, version_matches_cli)
{
	char *argv[] = { "memlens", "version", NULL };
	static struct ml_result r;

	const char *cli = "cli " MEMLENS_VERSION "\n";
	const char *lib = "library " MEMLENS_VERSION " (";
	const char *mod = ")\nmodule version " MEMLENS_VERSION "\nmodule format 1\n";
	char *p, *end, path[4096];

	ASSERT_EQ(0, ml_load_module());
	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(0, r.status);
	/* cli, then the libmlalloc.so.1 the guest's loader finds, then the module */
	ASSERT_EQ(0, strncmp(r.out, cli, strlen(cli))) TH_LOG("%s", r.out);
	p = r.out + strlen(cli);
	ASSERT_EQ(0, strncmp(p, lib, strlen(lib))) TH_LOG("%s", r.out);
	p += strlen(lib);
	end = strstr(p, mod);
	ASSERT_NE(NULL, end) TH_LOG("%s", r.out);
	EXPECT_EQ('\0', end[strlen(mod)]);
	ASSERT_LT(end - p, (long)sizeof(path));
	snprintf(path, sizeof(path), "%.*s", (int)(end - p), p);
	EXPECT_EQ(0, access(path, R_OK)) TH_LOG("library path '%s'", path);
	ASSERT_EQ(0, ml_unload_module());
}

/* Each cycle registers and unregisters tracepoint probes: slow under TCG. */
TEST_F_TIMEOUT(module, hundred_load_unload_cycles, 600)
{
	char buf[256];
	int i;

	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, ml_load_module()) TH_LOG("load %d", i);
		ASSERT_LT(0, ml_read_file(DEBUGFS "/version", buf, sizeof(buf)));
		ASSERT_EQ(0, ml_unload_module()) TH_LOG("unload %d", i);
	}
	EXPECT_EQ(0, loaded());
	EXPECT_EQ(NULL, ml_kernel_problem());
}

TEST_HARNESS_MAIN
