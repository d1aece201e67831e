// SPDX-License-Identifier: GPL-2.0
/*
 * The memlens CLI's front door: --version, --help and usage errors.
 */
#include "kselftest_harness.h"
#include "ml_test.h"

static struct ml_result r;

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

TEST(unknown_option_exits_2_with_usage)
{
	char *argv[] = { "memlens", "--no-such-option", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unrecognized option '--no-such-option'"));
	EXPECT_NE(NULL, strstr(r.err, "Usage: memlens"));
	EXPECT_STREQ("", r.out);
}

TEST(unknown_command_exits_2)
{
	char *argv[] = { "memlens", "no-such-command", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown command 'no-such-command'"));
}

TEST(no_command_exits_2)
{
	char *argv[] = { "memlens", NULL };

	ASSERT_EQ(0, ml_run(&r, argv));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "Usage: memlens"));
}

TEST_HARNESS_MAIN
