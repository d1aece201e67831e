/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlens kcost --timeline: what is collected while counting (the BPF
 * events of bpf/kcost.bpf.c, the RSS sampled from /proc/PID/statm, the
 * marks of the allocator's own decisions) and the SVG drawn from it.
 * All times are CLOCK_MONOTONIC ns, bpf_ktime_get_ns()'s clock.
 */
#ifndef MEMLENS_KCOST_TIMELINE_H
#define MEMLENS_KCOST_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mlbpf.h"

struct kc_rss {
	uint64_t t;
	uint64_t bytes;
};

/* A vertical mark on every panel: an allocator decision of class @cls. */
struct kc_mark {
	uint64_t t;
	int cls;
};

/* The classes of the marks: their names (legend) and colours. */
#define KC_MARK_CLASSES 8
/* Classes below this one are also drawn as lines across the panels. */
#define KC_MARK_LINES   3

struct kc_timeline {
	FILE *svg;
	const char *path;
	int interval_ms;
	uint64_t t_start, t_end;
	struct kc_rss *rss;
	size_t nrss, caprss;
	struct kc_event *ev;
	size_t nev, capev;
	unsigned long long over_cap; /* events past KC_TL_MAX_EVENTS: not kept */
	struct kc_mark *marks;
	size_t nmarks, capmarks;
	const char *mark_names[KC_MARK_CLASSES];
	size_t mark_count[KC_MARK_CLASSES];
};

/* Events kept at most (48 bytes each). */
#define KC_TL_MAX_EVENTS (8u << 20)

uint64_t kc_now_ns(void);
/* Open @path for writing (NULL: events only, no picture): 0 or -errno. */
int kc_timeline_init(struct kc_timeline *tl, const char *path, int interval_ms);
/* A tick: sample @pid's RSS and take the BPF events. */
void kc_timeline_tick(struct kc_timeline *tl, struct ml_kcost *k, pid_t pid);
/* The end: the last events; t_end. */
void kc_timeline_finish(struct kc_timeline *tl, struct ml_kcost *k);
void kc_timeline_mark(struct kc_timeline *tl, uint64_t t, int cls);
/* Write the picture; @title is escaped.  0 or -errno. */
int kc_timeline_write(struct kc_timeline *tl, const char *title, bool have_tlb,
		      unsigned long long dropped);
void kc_timeline_free(struct kc_timeline *tl);
/* The largest RSS sample, 0 without samples. */
uint64_t kc_timeline_peak_rss(const struct kc_timeline *tl);

#endif /* MEMLENS_KCOST_TIMELINE_H */
