/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The terminal of the live views (top, watch): its size, keys without
 * Enter, and frames that fit its width.
 */
#ifndef MEMLENS_TERM_H
#define MEMLENS_TERM_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Columns and rows of the terminal on @fd (TIOCGWINSZ); when that fails
 * or says 0, $COLUMNS / $LINES (1 to 10000); else 80 x 24.
 */
int ml_term_cols(int fd);
int ml_term_rows(int fd);

/*
 * Keys on @fd without Enter and without echo (ICANON and ECHO off; ISIG
 * kept, so Ctrl-C still sends SIGINT), the cursor hidden on @out.
 * ml_term_restore() puts both back; it is also registered with atexit()
 * and safe to call twice.  Returns 0 or -errno (not a terminal).
 */
int ml_term_raw(int fd, FILE *out);
void ml_term_restore(void);
/*
 * In raw mode, Ctrl-Z (SIGTSTP) restores the terminal before the process
 * stops; SIGCONT puts raw mode back and sets a flag this reads and clears:
 * true when the screen should be drawn again.
 */
bool ml_term_resumed(void);
/* A key typed on @fd within @ms milliseconds; -1: none; -2: EOF or hang-up. */
int ml_term_key(int fd, int ms);

/*
 * Display columns: ml_text_width() of a string; ml_text_fit() the bytes of
 * the longest prefix of @s (@n bytes at most) within @cols columns (-1: no
 * limit), a character never split, its columns in *@width; ml_text_put()
 * @s cut to @cols columns and padded with spaces to them, on the right
 * (@left) or the left.  Under a UTF-8 locale (LC_CTYPE) a character's
 * columns are wcwidth()'s; otherwise each UTF-8 character is one column.
 */
int ml_text_width(const char *s);
size_t ml_text_fit(const char *s, size_t n, int cols, int *width);
void ml_text_put(FILE *out, const char *s, int cols, bool left);

/*
 * Draw @text (a frame of '\n'-ended lines) at the top of the terminal on
 * @out, in place: each line cut to @cols - 1 columns (a line as wide as the
 * terminal would wrap on some terminals once ESC[K follows it) and at
 * most @rows lines, each followed by ESC[K, the rest of the screen
 * cleared (ESC[J).
 */
void ml_term_draw(FILE *out, const char *text, int cols, int rows);
/* @text's lines cut to @cols - 1 columns each, written to @out (no escapes). */
void ml_term_fit(FILE *out, const char *text, int cols);

#endif /* MEMLENS_TERM_H */
