// SPDX-License-Identifier: GPL-2.0
/*
 * What the SVG pictures share (svg.h).
 */
#include <errno.h>
#include <string.h>

#include "svg.h"

void ml_svg_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

int ml_svg_text_w(const char *s, int size)
{
	return (int)(strlen(s) * size * ML_SVG_EM + 0.999);
}

void ml_svg_text(FILE *f, int *max_x, int x, int y, enum ml_svg_anchor anchor, const char *attrs,
		 const char *s, int size)
{
	static const char *const anchors[] = { "", " text-anchor=\"middle\"",
					       " text-anchor=\"end\"" };
	int w = ml_svg_text_w(s, size);
	int right = anchor == ML_SVG_END ? x : anchor == ML_SVG_MIDDLE ? x + (w + 1) / 2 : x + w;

	fprintf(f, "<text x=\"%d\" y=\"%d\"%s%s>", x, y, anchors[anchor], attrs);
	ml_svg_escape(f, s);
	fputs("</text>\n", f);
	if (max_x && right > *max_x)
		*max_x = right;
}

int ml_svg_write(FILE *f, int width, int height, int font, const char *body)
{
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"%d\">\n",
		width, height, width, height, font);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height);
	fputs(body ? body : "", f);
	fputs("</svg>\n", f);
	return fclose(f) ? -errno : 0;
}
