/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SVG pictures (compare --plot, kcost --timeline): escaped text whose
 * width is estimated so that every label fits, and the document around a
 * body written first (the <svg> element needs the width the texts took).
 */
#ifndef MEMLENS_SVG_H
#define MEMLENS_SVG_H

#include <stdbool.h>
#include <stdio.h>

/*
 * A viewer's sans-serif has no fixed advance, so text widths are
 * estimated: ML_SVG_EM of the font size per character, above the average
 * of the usual sans-serif faces for digits and lower-case letters (about
 * 0.55), so that the estimate errs on the wide side.
 */
#define ML_SVG_EM 0.62

enum ml_svg_anchor {
	ML_SVG_START,
	ML_SVG_MIDDLE,
	ML_SVG_END
};

/* @s with <, > and & escaped. */
void ml_svg_escape(FILE *f, const char *s);
/* The estimated width of @s at font size @size. */
int ml_svg_text_w(const char *s, int size);
/*
 * One <text> at (@x, @y) anchored at @anchor, @attrs (" fill=..." or "")
 * inside the tag; its estimated right end raises *@max_x.
 */
void ml_svg_text(FILE *f, int *max_x, int x, int y, enum ml_svg_anchor anchor, const char *attrs,
		 const char *s, int size);
/*
 * The document: an <svg> of @width x @height with a white background,
 * sans-serif at @font, then @body; closes @f.  0 or -errno.
 */
int ml_svg_write(FILE *f, int width, int height, int font, const char *body);

#endif /* MEMLENS_SVG_H */
