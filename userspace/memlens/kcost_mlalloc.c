// SPDX-License-Identifier: GPL-2.0
/*
 * libmlalloc's decision ring, read and joined (kcost_mlalloc.h).
 *
 * Reading: the ring's address is in the target's mlalloc_introspect
 * (found as memlens inspect finds it, mlalloc_inspect_find()); each tick
 * copies the ring twice with process_vm_readv and reads its head after:
 * event s is taken from the second copy iff both copies say it was
 * written (seq == s + 1) and s >= head - slots (nobody claimed its slot
 * again before the head was read).  Events overwritten before a tick
 * took them are counted as lost; one being written is taken next tick.
 *
 * Joining (after counting): a decision's kernel calls are the memory
 * syscalls of the same thread whose entry and exit lie in [t0, t1] (the
 * allocator reads CLOCK_MONOTONIC before its first syscall and after its
 * last); a refault belongs to the decision whose call gave its page back
 * (the BPF side stamps the page's 64-page group with the exit time of the
 * give-back call, which is that call's event time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "kcost_mlalloc.h"

static const char *const kind_names[MLALLOC_EV_KINDS] = {
	[MLALLOC_EV_ARENA_MAP] = "arena_map",   [MLALLOC_EV_META_MAP] = "meta_map",
	[MLALLOC_EV_PURGE] = "purge",           [MLALLOC_EV_SEG_RELEASE] = "segment_release",
	[MLALLOC_EV_HUGE_MAP] = "huge_map",     [MLALLOC_EV_HUGE_UNMAP] = "huge_unmap",
	[MLALLOC_EV_HUGE_REUSE] = "huge_reuse", [MLALLOC_EV_HUGE_RESIZE] = "huge_resize",
};

static const char *const purge_reasons[MLALLOC_PURGE_REASONS] = {
	[MLALLOC_PURGE_NOW] = "now",
	[MLALLOC_PURGE_DEADLINE] = "deadline",
	[MLALLOC_PURGE_COLLECT] = "collect",
	[MLALLOC_PURGE_EXIT] = "thread_exit",
};

static const char *const unmap_reasons[MLALLOC_UNMAP_REASONS] = {
	[MLALLOC_UNMAP_FREE] = "free",
	[MLALLOC_UNMAP_EXPIRED] = "expired",
	[MLALLOC_UNMAP_EVICTED] = "evicted",
	[MLALLOC_UNMAP_TRIM] = "trim",
	[MLALLOC_UNMAP_FAILED] = "resize_failed",
};

static bool is_purge(const struct mlalloc_event *e)
{
	return e->kind == MLALLOC_EV_PURGE || e->kind == MLALLOC_EV_SEG_RELEASE;
}

static const char *kind_name(unsigned k)
{
	return k < MLALLOC_EV_KINDS && kind_names[k] ? kind_names[k] : "?";
}

static const char *reason_name(const struct mlalloc_event *e)
{
	if (is_purge(e))
		return e->reason < MLALLOC_PURGE_REASONS && purge_reasons[e->reason] ?
			       purge_reasons[e->reason] :
			       "?";
	if (e->kind == MLALLOC_EV_HUGE_UNMAP)
		return e->reason < MLALLOC_UNMAP_REASONS && unmap_reasons[e->reason] ?
			       unmap_reasons[e->reason] :
			       "?";
	return "-";
}

static int vm_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -errno;
}

void kc_mlalloc_init(struct kc_mlalloc *m, pid_t pid, bool whole)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
	m->whole = whole;
	snprintf(m->why, sizeof(m->why), "no libmlalloc ring: mlalloc_introspect not found");
}

/* The ring's address, if the target has libmlalloc with one. */
static int find_ring(struct kc_mlalloc *m)
{
	uint64_t addr, ring;
	uint32_t size;
	uint64_t magic;
	int err = mlalloc_inspect_find(m->pid, &addr);

	if (err) {
		snprintf(m->why, sizeof(m->why), "no libmlalloc ring: %s",
			 err == -ENOENT ? "mlalloc_introspect not found (not libmlalloc)" :
					  strerror(-err));
		return err;
	}
	if (vm_read(m->pid, addr + offsetof(struct mlalloc_introspect, size), &size, sizeof(size)))
		return -EFAULT;
	if (size < offsetof(struct mlalloc_introspect, events) + sizeof(uint64_t)) {
		snprintf(m->why, sizeof(m->why),
			 "no libmlalloc ring: this libmlalloc is older than its decision ring");
		return -EPROTO;
	}
	if (vm_read(m->pid, addr + offsetof(struct mlalloc_introspect, events), &ring,
		    sizeof(ring)) ||
	    !ring || vm_read(m->pid, ring, &magic, sizeof(magic)) ||
	    magic != MLALLOC_EVENTS_MAGIC) {
		snprintf(m->why, sizeof(m->why), "no libmlalloc ring: bad ring header");
		return -EPROTO;
	}
	m->ring = ring;
	return 0;
}

static void take(struct kc_mlalloc *m, const struct mlalloc_event *e, uint64_t t_start)
{
	struct kc_decision *d;

	if (e->t0_ns < t_start) {
		m->before++;
		return;
	}
	if (m->nd == m->capd) {
		size_t c = m->capd ? m->capd * 2 : 1024;

		d = realloc(m->d, c * sizeof(*d));
		if (!d) {
			m->lost++;
			return;
		}
		m->d = d;
		m->capd = c;
	}
	d = &m->d[m->nd++];
	memset(d, 0, sizeof(*d));
	d->e = *e;
}

void kc_mlalloc_tick(struct kc_mlalloc *m, uint64_t t_start)
{
	uint64_t head, s, lo;
	const uint64_t n = MLALLOC_EVENT_SLOTS;

	if (m->gone)
		return;
	if (!m->ring) {
		uint64_t now = kc_now_ns();

		if (now < m->next_find)
			return;
		/* CMD may not have exec'd yet: look again, less often as time goes */
		m->next_find = now + (now - t_start > 2000000000ULL ? 500000000ULL : 50000000ULL);
		if (find_ring(m))
			return;
	}
	if (!m->a)
		m->a = malloc(sizeof(*m->a));
	if (!m->b)
		m->b = malloc(sizeof(*m->b));
	if (!m->a || !m->b || vm_read(m->pid, m->ring, m->a, sizeof(*m->a)) ||
	    vm_read(m->pid, m->ring, m->b, sizeof(*m->b)) ||
	    vm_read(m->pid, m->ring + offsetof(struct mlalloc_events, head), &head, sizeof(head))) {
		if (m->found)
			m->gone = true;
		return;
	}
	if (m->b->slots != n || m->b->event_size != sizeof(struct mlalloc_event)) {
		snprintf(m->why, sizeof(m->why),
			 "no libmlalloc ring: %u slots of %u bytes, not %u of %zu", m->b->slots,
			 m->b->event_size, MLALLOC_EVENT_SLOTS, sizeof(struct mlalloc_event));
		m->gone = true;
		m->ring = 0;
		return;
	}
	lo = head > n ? head - n : 0;
	if (!m->found) {
		m->found = true;
		/* with -p, what came before counting is not ours to miss */
		m->next_seq = m->whole ? 0 : lo;
	}
	for (s = m->next_seq; s < head; s++) {
		const struct mlalloc_event *ea = &m->a->ev[s & (n - 1)];
		const struct mlalloc_event *eb = &m->b->ev[s & (n - 1)];

		if (s < lo) {
			m->lost++;
			continue;
		}
		if (ea->seq != s + 1 || eb->seq != s + 1)
			break; /* being written: next tick */
		take(m, eb, t_start);
	}
	m->next_seq = s;
}

/* ---- the join ------------------------------------------------------------- */

static int cmp_call(const void *pa, const void *pb)
{
	const struct kc_event *a = *(const struct kc_event *const *)pa;
	const struct kc_event *b = *(const struct kc_event *const *)pb;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return a->t0 < b->t0 ? -1 : a->t0 > b->t0;
}

struct mark {
	uint64_t t;
	size_t d;
};

static int cmp_mark(const void *pa, const void *pb)
{
	const struct mark *a = pa, *b = pb;

	return a->t < b->t ? -1 : a->t > b->t;
}

static int mark_class(const struct mlalloc_event *e)
{
	if (is_purge(e))
		return e->reason == MLALLOC_PURGE_NOW      ? 0 :
		       e->reason == MLALLOC_PURGE_DEADLINE ? 1 :
							     2;
	switch (e->kind) {
	case MLALLOC_EV_HUGE_MAP:
		return 3;
	case MLALLOC_EV_HUGE_UNMAP:
		return 4;
	case MLALLOC_EV_HUGE_REUSE:
	case MLALLOC_EV_HUGE_RESIZE:
		return 5;
	default:
		return 6;
	}
}

void kc_mlalloc_join(struct kc_mlalloc *m, struct kc_timeline *tl)
{
	static const char *const names[] = {
		"purge: now", "purge: deadline",   "purge: collect/exit", "huge map",
		"huge unmap", "huge reuse/resize", "arena/metadata map",
	};
	struct kc_event **calls = NULL;
	struct mark *marks = NULL;
	size_t nc = 0, nm = 0;
	bool *in = NULL;

	for (size_t i = 0; i < tl->nev; i++)
		nc += tl->ev[i].kind == KC_EV_CALL;
	calls = calloc(nc ? nc : 1, sizeof(*calls));
	in = calloc(nc ? nc : 1, sizeof(*in));
	marks = calloc(nc ? nc : 1, sizeof(*marks));
	if (!calls || !in || !marks)
		goto out;
	nc = 0;
	for (size_t i = 0; i < tl->nev; i++)
		if (tl->ev[i].kind == KC_EV_CALL)
			calls[nc++] = &tl->ev[i];
	qsort(calls, nc, sizeof(*calls), cmp_call);
	for (size_t i = 0; i < m->nd; i++) {
		struct kc_decision *d = &m->d[i];
		size_t lo = 0, hi = nc;

		/* the first call of the thread entered at or after t0 */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			const struct kc_event *c = calls[mid];

			if (c->tid < d->e.tid || (c->tid == d->e.tid && c->t0 < d->e.t0_ns))
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = lo;
		     j < nc && calls[j]->tid == d->e.tid && calls[j]->t0 <= d->e.t1_ns; j++) {
			const struct kc_event *c = calls[j];

			if (c->t > d->e.t1_ns || in[j])
				continue;
			in[j] = true;
			d->kcalls++;
			d->tlb += c->tlb;
			if (c->what == KC_MADVISE + 4 /* MADV_DONTNEED */)
				d->kmadvise++;
			if (c->what == KC_MUNMAP)
				d->kmunmap++;
			if (c->given)
				marks[nm++] = (struct mark){ c->t, i };
		}
		kc_timeline_mark(tl, d->e.t0_ns, mark_class(&d->e));
	}
	for (size_t j = 0; j < nc; j++)
		if (!in[j] && calls[j]->what < KC_CALLS)
			m->outside[calls[j]->what]++;
	qsort(marks, nm, sizeof(*marks), cmp_mark);
	for (size_t i = 0; i < tl->nev; i++) {
		const struct kc_event *e = &tl->ev[i];
		size_t lo = 0, hi = nm;

		if (e->kind != KC_EV_REFAULT || e->what >= KC_AGE_BUCKETS)
			continue;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (marks[mid].t < e->t0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < nm && marks[lo].t == e->t0)
			m->d[marks[lo].d].refault[e->what]++;
	}
	for (int c = 0; c < 7; c++)
		tl->mark_names[c] = names[c];
out:
	free(calls);
	free(in);
	free(marks);
}

/* ---- the report ----------------------------------------------------------- */

static const struct ml_col sum_cols[] = {
	{ "decision", "decision", ML_UNIT_TEXT },
	{ "reason", "reason", ML_UNIT_TEXT },
	{ "events", "events", ML_UNIT_TOTAL },
	{ "bytes", "bytes", ML_UNIT_BYTES },
	{ "calls", "its syscalls", ML_UNIT_TOTAL },
	{ "kernel_calls", "kernel saw", ML_UNIT_TOTAL },
	{ "tlb_flushes", "TLB flushes", ML_UNIT_TOTAL },
	{ "refaults_1ms", "refaults <1ms", ML_UNIT_TOTAL },
	{ "refaults_10ms", "<10ms", ML_UNIT_TOTAL },
	{ "refaults_100ms", "<100ms", ML_UNIT_TOTAL },
	{ "refaults_1s", "<1s", ML_UNIT_TOTAL },
	{ "refaults_more", "later", ML_UNIT_TOTAL },
};

static const struct ml_col purge_cols[] = {
	{ "t", "t (s)", ML_UNIT_SECONDS },
	{ "tid", "tid", ML_UNIT_COUNT },
	{ "decision", "decision", ML_UNIT_TEXT },
	{ "reason", "reason", ML_UNIT_TEXT },
	{ "delay_ms", "delay ms", ML_UNIT_COUNT },
	{ "late_ms", "late ms", ML_UNIT_COUNT },
	{ "bytes", "bytes", ML_UNIT_BYTES },
	{ "calls", "madvise", ML_UNIT_TOTAL },
	{ "kernel_calls", "kernel saw", ML_UNIT_TOTAL },
	{ "tlb_flushes", "TLB flushes", ML_UNIT_TOTAL },
	{ "refaults_1ms", "refaults <1ms", ML_UNIT_TOTAL },
	{ "refaults_10ms", "<10ms", ML_UNIT_TOTAL },
	{ "refaults_100ms", "<100ms", ML_UNIT_TOTAL },
	{ "refaults_1s", "<1s", ML_UNIT_TOTAL },
	{ "refaults_more", "later", ML_UNIT_TOTAL },
};

#define NCOLS(c)       ((int)(sizeof(c) / sizeof((c)[0])))
#define KC_TEXT_PURGES 20 /* purges listed in the text; --json lists all */

static struct ml_val cnt(double v)
{
	return ml_have(v, ML_SRC_BPF);
}

void kc_mlalloc_emit(struct ml_report *r, const struct kc_mlalloc *m, uint64_t t_start,
		     enum ml_format fmt)
{
	/* the sum by (kind, reason): reasons < 8 */
	struct kc_decision sum[MLALLOC_EV_KINDS][8];
	unsigned long long n[MLALLOC_EV_KINDS][8] = { { 0 } };
	unsigned long long purged_pages = 0, refaulted = 0, refaulted_1s = 0, listed = 0,
			   npurge = 0, outside = 0;
	char name[64];

	ml_report_section(r, "allocator",
			  "libmlalloc's decisions (its ring, joined with the kernel's)");
	if (!m->found) {
		ml_report_str(r, "ring", "ring", m->why);
		ml_report_section_end(r);
		return;
	}
	ml_report_str(r, "ring", "ring", "found");
	ml_report_val(r, "events", "decisions read", ML_UNIT_TOTAL,
		      ml_have((double)m->nd, ML_SRC_PROC));
	ml_report_val(r, "lost", "decisions lost (overwritten)", ML_UNIT_TOTAL,
		      ml_have((double)m->lost, ML_SRC_PROC));
	ml_report_val(r, "before", "decisions before counting", ML_UNIT_TOTAL,
		      ml_have((double)m->before, ML_SRC_PROC));
	if (m->lost)
		fprintf(stderr,
			"memlens kcost: libmlalloc's ring overflowed: %llu decisions were "
			"overwritten before they were read (they are missing below)\n",
			m->lost);
	memset(sum, 0, sizeof(sum));
	for (size_t i = 0; i < m->nd; i++) {
		const struct kc_decision *d = &m->d[i];
		unsigned k = d->e.kind < MLALLOC_EV_KINDS ? d->e.kind : 0, re = d->e.reason & 7;
		struct kc_decision *s = &sum[k][re];

		n[k][re]++;
		s->e.bytes += d->e.bytes;
		s->e.calls += d->e.calls;
		s->kcalls += d->kcalls;
		s->tlb += d->tlb;
		for (int b = 0; b < KC_AGE_BUCKETS; b++)
			s->refault[b] += d->refault[b];
		if (is_purge(&d->e)) {
			npurge++;
			purged_pages += d->e.bytes / 4096;
			for (int b = 0; b < KC_AGE_BUCKETS; b++)
				refaulted += d->refault[b];
			for (int b = 0; b < 4; b++)
				refaulted_1s += d->refault[b];
		}
	}
	for (int c = 0; c < KC_CALLS; c++)
		outside += m->outside[c];
	ml_report_val(r, "purged_pages", "pages purged", ML_UNIT_TOTAL,
		      ml_have((double)purged_pages, ML_SRC_PROC));
	ml_report_val(r, "purged_refaulted", "of them refaulted", ML_UNIT_TOTAL, cnt(refaulted));
	ml_report_val(r, "purged_refaulted_1s_pct", "refaulted within 1 s", ML_UNIT_PERCENT,
		      purged_pages ? cnt(100.0 * refaulted_1s / purged_pages) :
				     ml_none("nothing purged"));
	ml_report_val(r, "calls_outside", "syscalls in no decision", ML_UNIT_TOTAL,
		      cnt((double)outside));
	ml_report_table(r, "decisions", "Decisions by kind and reason", sum_cols, NCOLS(sum_cols),
			ML_SRC_BPF);
	for (unsigned k = 1; k < MLALLOC_EV_KINDS; k++)
		for (unsigned re = 0; re < 8; re++) {
			const struct kc_decision *s = &sum[k][re];
			struct mlalloc_event e = { .kind = (uint16_t)k, .reason = (uint16_t)re };

			if (!n[k][re])
				continue;
			ml_report_cell_str(r, kind_name(k));
			ml_report_cell_str(r, reason_name(&e));
			ml_report_cell(r, ml_have((double)n[k][re], ML_SRC_PROC));
			ml_report_cell(r, ml_have((double)s->e.bytes, ML_SRC_PROC));
			ml_report_cell(r, ml_have((double)s->e.calls, ML_SRC_PROC));
			ml_report_cell(r, cnt(s->kcalls));
			ml_report_cell(r, cnt(s->tlb));
			for (int b = 0; b < KC_AGE_BUCKETS; b++)
				ml_report_cell(r, cnt((double)s->refault[b]));
		}
	ml_report_table_end(r);
	ml_report_table(r, "purges", "Each purge: its TLB flushes and the refaults that followed",
			purge_cols, NCOLS(purge_cols), ML_SRC_BPF);
	for (size_t i = 0; i < m->nd; i++) {
		const struct kc_decision *d = &m->d[i];

		if (!is_purge(&d->e))
			continue;
		if (fmt == ML_FMT_TEXT && listed >= KC_TEXT_PURGES)
			break;
		if (fmt == ML_FMT_PROM)
			break; /* one series per purge is no metric */
		listed++;
		ml_report_cell(r, ml_have((d->e.t0_ns - t_start) / 1e9, ML_SRC_PROC));
		ml_report_cell(r, ml_have(d->e.tid, ML_SRC_PROC));
		ml_report_cell_str(r, kind_name(d->e.kind));
		ml_report_cell_str(r, reason_name(&d->e));
		ml_report_cell(r, ml_have(d->e.delay_ms, ML_SRC_PROC));
		ml_report_cell(r, ml_have(d->e.late_ms, ML_SRC_PROC));
		ml_report_cell(r, ml_have((double)d->e.bytes, ML_SRC_PROC));
		ml_report_cell(r, ml_have(d->e.calls, ML_SRC_PROC));
		ml_report_cell(r, cnt(d->kcalls));
		ml_report_cell(r, cnt(d->tlb));
		for (int b = 0; b < KC_AGE_BUCKETS; b++)
			ml_report_cell(r, cnt((double)d->refault[b]));
	}
	ml_report_table_end(r);
	if (fmt == ML_FMT_TEXT && npurge > listed) {
		snprintf(name, sizeof(name), "%llu more (--json lists every purge)",
			 npurge - listed);
		ml_report_str(r, "purges_not_listed", "purges not listed", name);
	}
	ml_report_section_end(r);
}

void kc_mlalloc_free(struct kc_mlalloc *m)
{
	free(m->a);
	free(m->b);
	free(m->d);
	memset(m, 0, sizeof(*m));
}
