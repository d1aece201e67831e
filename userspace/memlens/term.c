// SPDX-License-Identifier: GPL-2.0
/*
 * The terminal of the live views (term.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

static int env_size(const char *name, int dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return dflt;
	v = strtol(s, &end, 10);
	return *end || v < 1 || v > 10000 ? dflt : (int)v;
}

int ml_term_cols(int fd)
{
	struct winsize ws;

	if (!ioctl(fd, TIOCGWINSZ, &ws) && ws.ws_col)
		return ws.ws_col;
	return env_size("COLUMNS", 80);
}

int ml_term_rows(int fd)
{
	struct winsize ws;

	if (!ioctl(fd, TIOCGWINSZ, &ws) && ws.ws_row)
		return ws.ws_row;
	return env_size("LINES", 24);
}

static struct termios saved;
static int raw_fd = -1, cursor_fd = -1;

void ml_term_restore(void)
{
	/* write() and tcsetattr() only: also called from a signal handler */
	if (cursor_fd >= 0 && write(cursor_fd, "\033[?25h", 6) < 0)
		cursor_fd = -1;
	cursor_fd = -1;
	if (raw_fd >= 0)
		tcsetattr(raw_fd, TCSAFLUSH, &saved);
	raw_fd = -1;
}

int ml_term_raw(int fd, FILE *out)
{
	static bool registered;
	struct termios t;

	if (tcgetattr(fd, &saved))
		return -errno;
	t = saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSAFLUSH, &t))
		return -errno;
	raw_fd = fd;
	if (!registered)
		atexit(ml_term_restore);
	registered = true;
	fflush(out);
	cursor_fd = fileno(out);
	if (write(cursor_fd, "\033[?25l", 6) < 0)
		cursor_fd = -1;
	return 0;
}

int ml_term_key(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	unsigned char c;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	if (!(p.revents & POLLIN))
		return -2;
	return read(fd, &c, 1) == 1 ? c : -2;
}

/* The length of the next line of @s (without its '\n'), cut to @max. */
static size_t line_len(const char *s, size_t *full, int max)
{
	const char *nl = strchr(s, '\n');
	size_t n = nl ? (size_t)(nl - s) : strlen(s);

	*full = n + !!nl;
	return max > 0 && n > (size_t)max ? (size_t)max : n;
}

void ml_term_draw(FILE *out, const char *text, int cols, int rows)
{
	int row = 0;

	fputs("\033[H", out);
	while (*text && row < rows) {
		size_t full, n = line_len(text, &full, cols - 1);

		fwrite(text, 1, n, out);
		fputs("\033[K", out);
		text += full;
		/* no newline after the last row: the screen would scroll */
		if (++row < rows && *text)
			fputs("\r\n", out);
	}
	fputs("\033[J", out);
	fflush(out);
}

void ml_term_fit(FILE *out, const char *text, int cols)
{
	while (*text) {
		size_t full, n = line_len(text, &full, cols - 1);

		fwrite(text, 1, n, out);
		fputc('\n', out);
		text += full;
	}
	fflush(out);
}
