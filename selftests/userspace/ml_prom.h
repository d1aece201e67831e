/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus text exposition checks for the inspector's tests.
 */
#ifndef ML_PROM_H
#define ML_PROM_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Is [s, end) UTF-8? */
static inline int prom_utf8_ok(const unsigned char *s, const unsigned char *end)
{
	while (s < end) {
		int n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4 :
			s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

		if (!n || s + n > end)
			return 0;
		for (int i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return 0;
		s += n;
	}
	return 1;
}

/*
 * A checker of the text exposition format (version 0.0.4): every line is
 * blank, a comment, HELP/TYPE for a metric not described before, or a
 * sample "name{l="v",...} value" whose metric's samples are contiguous.
 * A counter's name ends in _total; label values use only the escapes
 * \\, \" and \n and are UTF-8; HELP text only \\ and \n; a sample names
 * a label once, and no two samples are the same series (name and labels);
 * every line is UTF-8.
 */
static inline int prom_check(const char *text, char *why, size_t len)
{
	char seen[512][96], last[96] = "";
	int nseen = 0, lineno = 0, nseries = 0;
	const char *l = text;
	char **series = NULL;
	int ret = -1;

	while (*l) {
		const char *nl = strchr(l, '\n'), *p;
		char name[96] = "", type[16];
		int n = 0;

		lineno++;
		if (!nl) {
			snprintf(why, len, "line %d: no final newline", lineno);
			goto out;
		}
		if (!prom_utf8_ok((const unsigned char *)l, (const unsigned char *)nl)) {
			snprintf(why, len, "line %d: not UTF-8", lineno);
			goto out;
		}
		if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
			if (sscanf(l + 7, "%95[a-zA-Z0-9_:]%n", name, &n) != 1 || l[7 + n] != ' ') {
				snprintf(why, len, "line %d: bad HELP/TYPE", lineno);
				goto out;
			}
			for (p = l + 8 + n; l[2] == 'H' && p < nl; p++) {
				if (*p == '\\' && p[1] != '\\' && p[1] != 'n') {
					snprintf(why, len, "line %d: bad escape in HELP", lineno);
					goto out;
				}
				p += *p == '\\';
			}
			if (l[2] == 'T') {
				if (sscanf(l + 8 + n, "%15s", type) != 1 ||
				    (strcmp(type, "gauge") && strcmp(type, "counter"))) {
					snprintf(why, len, "line %d: bad type", lineno);
					goto out;
				}
				if (!strcmp(type, "counter") &&
				    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total"))) {
					snprintf(why, len, "line %d: counter %s without _total", lineno,
						 name);
					goto out;
				}
				for (int i = 0; i < nseen; i++)
					if (!strcmp(seen[i], name)) {
						snprintf(why, len, "line %d: %s described twice", lineno, name);
						goto out;
					}
				if (nseen < 512)
					snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			}
		} else if (l[0] != '#' && l[0] != '\n') {
			char *end;

			if (sscanf(l, "%95[a-zA-Z0-9_:]%n", name, &n) != 1 ||
			    !(name[0] < '0' || name[0] > '9')) {
				snprintf(why, len, "line %d: bad metric name", lineno);
				goto out;
			}
			char lnames[32][64];
			int nl_names = 0;

			p = l + n;
			if (*p == '{') {
				p++;
				while (*p != '}') {
					int k = 0;
					char lname[64];

					if (sscanf(p, "%63[a-zA-Z0-9_]%n", lname, &k) != 1 ||
					    p[k] != '=' || p[k + 1] != '"') {
						snprintf(why, len, "line %d: bad label", lineno);
						goto out;
					}
					for (int i = 0; i < nl_names; i++)
						if (!strcmp(lnames[i], lname)) {
							snprintf(why, len, "line %d: label %s twice", lineno,
								 lname);
							goto out;
						}
					if (nl_names < 32)
						snprintf(lnames[nl_names++], sizeof(lnames[0]), "%s", lname);
					p += k + 2;
					while (*p && *p != '"' && *p != '\n') {
						if (*p == '\\' && p[1] != '\\' && p[1] != '"' &&
						    p[1] != 'n') {
							snprintf(why, len, "line %d: bad escape", lineno);
							goto out;
						}
						p += *p == '\\' ? 2 : 1;
					}
					if (*p != '"') {
						snprintf(why, len, "line %d: unterminated label", lineno);
						goto out;
					}
					p++;
					if (*p == ',')
						p++;
					else if (*p != '}') {
						snprintf(why, len, "line %d: bad label list", lineno);
						goto out;
					}
				}
				p++;
			}
			/* the series, name and labels as written: once per exposition */
			for (int i = 0; i < nseries; i++)
				if (!strncmp(series[i], l, p - l) && !series[i][p - l]) {
					snprintf(why, len, "line %d: a second sample of one series",
						 lineno);
					goto out;
				}
			series = realloc(series, (nseries + 1) * sizeof(*series));
			series[nseries++] = strndup(l, p - l);
			if (*p++ != ' ') {
				snprintf(why, len, "line %d: no value", lineno);
				goto out;
			}
			strtod(p, &end);
			if (end == p || end != nl) {
				snprintf(why, len, "line %d: bad value", lineno);
				goto out;
			}
			if (strcmp(last, name)) {
				bool typed = false;

				for (int i = 0; i < nseen; i++)
					typed |= !strcmp(seen[i], name);
				if (!typed) {
					snprintf(why, len, "line %d: %s has no TYPE before it or is split",
						 lineno, name);
					goto out;
				}
				/* a metric's samples must be contiguous */
				for (int i = 0; i < nseen; i++)
					if (!strcmp(seen[i], name))
						seen[i][0] = '\0';
				snprintf(last, sizeof(last), "%s", name);
			}
		}
		l = nl + 1;
	}
	ret = 0;
out:
	for (int i = 0; i < nseries; i++)
		free(series[i]);
	free(series);
	return ret;
}

/* The value of the first sample of @metric in @text whose labels hold @has. */
static inline double prom_value(const char *text, const char *metric, const char *has)
{
	char key[160];
	const char *p = text;

	snprintf(key, sizeof(key), "\n%s{", metric);
	while ((p = strstr(p, key))) {
		const char *nl = strchr(p + 1, '\n');
		const char *sp = strstr(p, "} ");

		if (sp && sp < nl && (!has || (strstr(p, has) && strstr(p, has) < sp)))
			return strtod(sp + 2, NULL);
		p = nl;
	}
	return -1;
}

#endif /* ML_PROM_H */
