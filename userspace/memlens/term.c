// SPDX-License-Identifier: GPL-2.0
/*
 * The terminal of the live views (term.h).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

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

static struct termios saved, raw;
static int raw_fd = -1, cursor_fd = -1;
/* while stopped by Ctrl-Z: the terminal to put back in raw mode on SIGCONT */
static volatile int stopped_fd = -1, stopped_cursor = -1;
static volatile sig_atomic_t resumed;

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

/* Keys without Enter and the cursor hidden again (async-signal-safe). */
static void reenter_raw(int fd, int cfd)
{
	if (tcsetattr(fd, TCSAFLUSH, &raw))
		return;
	raw_fd = fd;
	if (cfd >= 0 && write(cfd, "\033[?25l", 6) == 6)
		cursor_fd = cfd;
}

static void on_tstp(int sig);

static void catch_tstp(void)
{
	struct sigaction sa = { .sa_handler = on_tstp };

	sigaction(SIGTSTP, &sa, NULL);
}

/*
 * Ctrl-Z: the terminal as it was (line mode, echo, the cursor), then stop
 * as SIGTSTP's default would; SIGCONT goes on below.  (In an orphaned
 * process group the kernel discards the stop: the view goes on at once.)
 */
static void on_tstp(int sig)
{
	int err = errno, fd = raw_fd, cfd = cursor_fd;
	sigset_t set;

	ml_term_restore();
	stopped_cursor = cfd;
	stopped_fd = fd;
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGTSTP);
	/* continued: on_cont() has run, or the stop was discarded */
	sigprocmask(SIG_BLOCK, &set, NULL);
	catch_tstp();
	if (stopped_fd >= 0) {
		reenter_raw(stopped_fd, stopped_cursor);
		stopped_fd = -1;
		resumed = 1;
	}
	errno = err;
}

/* SIGCONT, after Ctrl-Z or a SIGSTOP: raw mode again (a shell may have reset it), a redraw due. */
static void on_cont(int sig)
{
	int err = errno;

	if (stopped_fd >= 0) {
		reenter_raw(stopped_fd, stopped_cursor);
		stopped_fd = -1;
	} else if (raw_fd >= 0) {
		reenter_raw(raw_fd, cursor_fd);
	}
	resumed = 1;
	errno = err;
}

bool ml_term_resumed(void)
{
	bool r = resumed;

	resumed = 0;
	return r;
}

int ml_term_raw(int fd, FILE *out)
{
	static bool registered;
	struct sigaction cont = { .sa_handler = on_cont };

	if (tcgetattr(fd, &saved))
		return -errno;
	raw = saved;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSAFLUSH, &raw))
		return -errno;
	raw_fd = fd;
	if (!registered)
		atexit(ml_term_restore);
	registered = true;
	/* SA_RESTART off: a wait in poll() ends, and the caller redraws */
	catch_tstp();
	sigaction(SIGCONT, &cont, NULL);
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

/*
 * The character at @s (at most @n > 0 bytes): its length in bytes, its
 * columns in *@w.  Under a multibyte locale (UTF-8) mbrtowc() and
 * wcwidth(); in the C locale a well-formed UTF-8 sequence is one column.
 * A byte that starts no character is one column of its own.
 */
static size_t char_at(const char *s, size_t n, int *w)
{
	unsigned char c = *s;
	size_t len, i;

	*w = 1;
	if (c < 0x80)
		return 1;
	if (MB_CUR_MAX > 1) {
		mbstate_t st;
		wchar_t wc;
		int cw;

		memset(&st, 0, sizeof(st));
		len = mbrtowc(&wc, s, n, &st);
		if (len == (size_t)-1 || len == (size_t)-2 || !len)
			return 1;
		cw = wcwidth(wc);
		*w = cw < 0 ? 1 : cw;
		return len;
	}
	len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 1;
	if (len > n)
		return 1;
	for (i = 1; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return len;
}

size_t ml_text_fit(const char *s, size_t n, int cols, int *width)
{
	size_t off = 0;
	int used = 0;

	while (off < n && s[off]) {
		int w;
		size_t len = char_at(s + off, n - off, &w);

		if (cols >= 0 && used + w > cols)
			break;
		used += w;
		off += len;
	}
	if (width)
		*width = used;
	return off;
}

int ml_text_width(const char *s)
{
	int w;

	ml_text_fit(s, strlen(s), -1, &w);
	return w;
}

void ml_text_put(FILE *out, const char *s, int cols, bool left)
{
	int w;
	size_t n = ml_text_fit(s, strlen(s), cols, &w);

	if (!left)
		fprintf(out, "%*s", cols - w, "");
	fwrite(s, 1, n, out);
	if (left)
		fprintf(out, "%*s", cols - w, "");
}

/* The length of the next line of @s (without its '\n'), cut to @max columns. */
static size_t line_len(const char *s, size_t *full, int max)
{
	const char *nl = strchr(s, '\n');
	size_t n = nl ? (size_t)(nl - s) : strlen(s);

	*full = n + !!nl;
	return max > 0 ? ml_text_fit(s, n, max, NULL) : n;
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
