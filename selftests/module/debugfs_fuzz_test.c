// SPDX-License-Identifier: GPL-2.0
/*
 * A fuzz of memlens' debugfs interface.  Writer threads send many
 * thousands of writes (random bytes of 0..64 KiB, boundary numbers, PIDs
 * of live, exiting and reaped children, of the test's own threads, of
 * kthreadd, bad and half-mapped user buffers) to every writable file,
 * through long-lived fds and open/write/close cycles, while reader
 * threads read every readable file (global and under every pid/PID/) in
 * small and large chunks, with lseek and pread, and hold fds across the
 * processes' exit, and a spawner process forks short-lived children (they
 * map and touch memory, some start a thread, some are SIGKILLed) so that
 * tracked processes keep exiting under the readers.
 *
 * Each write must return its length or fail with an errno of the
 * documented set of its file (docs/debugfs.md); on top of that, a model
 * of the parsers (memlens_parse_track() in module/track.c, reset_write()
 * in module/acct.c: strim(), kstrtoint()) predicts the exact errno of
 * every input the parser refuses, and what a parsed PID may give given
 * what the test knows of it.  Reads of global files always succeed and
 * are never empty (track may be); reads under pid/PID/ give data or fail
 * with ENOENT, EIO or ESRCH only.  At the end no directory of a dead
 * process is left, the track file lists no dead PID, and the module still
 * tracks a new process.  Why: the interface is fed by root tools and
 * scripts; no input and no interleaving may crash, leak or wedge it (the
 * VM runner fails the run on any WARNING, BUG, lockdep, KASAN or
 * kmemleak report).
 *
 * $ML_FUZZ_SEED (default: from the clock) fixes the inputs; it is
 * printed first.  $ML_FUZZ_WRITES (default 20000) is the total number
 * of writes.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ml_test.h"
#include "pt_lib.h"

/* The debug kernel under TCG is slow; the whole fuzz is one test. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 900

#define NR_WRITERS	2
#define NR_READERS	2
#define DEFAULT_WRITES	20000
#define MAX_LIVE	6		/* children alive at once */
#define RING		64		/* children remembered for the writers */
#define POOL		(192 << 10)	/* random bytes writes are cut from */
#define MAX_WRITE	65536
#define READ_BUF	(256 << 10)
#define NR_STALE	8		/* per-pid fds a reader holds on to */
#define MAX_LOGS	20		/* failures printed per thread */
#define TRACK_MAX	31		/* TRACK_WRITE_MAX in module/track.c */

/* Outcomes of a write or read: success or one errno. */
enum {
	RS_OK, RS_EINVAL, RS_ERANGE, RS_ESRCH, RS_EEXIST, RS_ENOSPC, RS_ENOENT,
	RS_EFAULT, RS_EIO, RS_EBUSY, RS_OTHER, RS_NR
};

static const int r_errno[RS_NR] = {
	0, EINVAL, ERANGE, ESRCH, EEXIST, ENOSPC, ENOENT, EFAULT, EIO, EBUSY, -1
};

static const char *const r_name[RS_NR] = {
	"accepted", "EINVAL", "ERANGE", "ESRCH", "EEXIST", "ENOSPC", "ENOENT",
	"EFAULT", "EIO", "EBUSY", "other",
};

#define B(r)	(1u << (r))

static int r_of(int err)
{
	int r;

	for (r = 0; r < RS_OTHER; r++)
		if (r_errno[r] == err)
			return r;
	return RS_OTHER;
}

/* The writable files and the errnos docs/debugfs.md allows each. */
enum { W_TRACK, W_RESET, W_LATENCY, NR_WFILES };
static const char *const wfile_name[NR_WFILES] = { "track", "reset", "latency" };
static const unsigned int wfile_doc[NR_WFILES] = {
	B(RS_OK) | B(RS_EINVAL) | B(RS_ERANGE) | B(RS_ESRCH) | B(RS_EEXIST) |
		B(RS_ENOSPC) | B(RS_ENOENT) | B(RS_EFAULT),
	B(RS_OK) | B(RS_EINVAL) | B(RS_EFAULT),
	B(RS_OK) | B(RS_EINVAL) | B(RS_EBUSY) | B(RS_EFAULT),
};

static const size_t wfile_max[NR_WFILES] = { TRACK_MAX, 2, 2 };

/*
 * Every file of memlens' debugfs: the one list of this test.  TEST_F(fuzz,
 * files) checks it against the module's own directories (no file missing,
 * none unknown, the same modes); a writable one names its rules above.
 */
enum { IN_ROOT = 1, IN_PID = 2 };

struct ml_dfile {
	const char *name;
	unsigned int where;	/* IN_ROOT: memlens/, IN_PID: pid/PID/ */
	mode_t mode;		/* permission bits */
	int wfile;		/* W_*, or -1 */
};

static const struct ml_dfile dfiles[] = {
	{ "version",	IN_ROOT,		0400, -1 },
	{ "track",	IN_ROOT,		0600, W_TRACK },
	{ "reset",	IN_ROOT,		0200, W_RESET },
	{ "latency",	IN_ROOT,		0600, W_LATENCY },
	{ "faults",	IN_ROOT | IN_PID,	0400, -1 },
	{ "tlb",	IN_ROOT | IN_PID,	0400, -1 },
	{ "swap",	IN_ROOT | IN_PID,	0400, -1 },
	{ "pagetable",	IN_PID,			0400, -1 },
	{ "vmas",	IN_PID,			0400, -1 },
	{ "vma_faults",	IN_PID,			0400, -1 },
};

static const struct ml_dfile *dfile_find(const char *name, unsigned int where)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dfiles); i++)
		if ((dfiles[i].where & where) && !strcmp(dfiles[i].name, name))
			return &dfiles[i];
	return NULL;
}

enum { C_LIVE, C_REAPED };

struct child_rec {
	pid_t pid;
	int state;
};

/*
 * The spawner is a process of its own, forked while the test is still
 * small and single-threaded (forks of the grown, threaded test were the
 * bulk of the debug kernel's run time); it shares the ring of its
 * children with the writers.
 */
struct shared {
	pthread_mutex_t lock;		/* process-shared */
	struct child_rec ring[RING];
	int ring_next, ring_used;
	pid_t last_child, max_child;
	bool wrapped;
	int stop;			/* __atomic */
	long spawned, killed;
};

struct fuzz {
	struct __test_metadata *md;
	struct shared *sh;
	uint64_t seed;
	long writes_per_writer;
	long pid_max;
	pid_t self;
	bool kthreadd_is_2;
	pid_t tids[NR_READERS];		/* reader threads: alive throughout */
	int ntids;
	char version[256];
	size_t version_len;
	unsigned char *pool;
	pthread_barrier_t ready;
	int stop_readers;		/* __atomic */
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(uint64_t *s, unsigned int n)
{
	return n ? rnd(s) % n : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* "len=N 31 32 0a ..." of at most 40 bytes. */
static void hex(char *out, size_t size, const unsigned char *b, size_t len)
{
	size_t i, n = len < 40 ? len : 40;
	int o = snprintf(out, size, "len=%zu", len);

	for (i = 0; i < n && o < (int)size - 4; i++)
		o += snprintf(out + o, size - o, " %02x", b[i]);
	if (n < len && o < (int)size - 4)
		snprintf(out + o, size - o, " ...");
}

/* Kernel ctype (lib/ctype.c): white space includes 0xa0. */
static bool k_isspace(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static bool k_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * What memlens_parse_track() makes of @len bytes: 0 with *nr and *stop,
 * or -errno.  Same steps: length bounds, no NUL, strim(), '-',
 * isdigit(), kstrtoint(s, 10) (digits, overflow, one '\n', nothing
 * after), positive.
 */
static int model_parse_track(const unsigned char *b, size_t len, long long *nr, bool *stop)
{
	char buf[TRACK_MAX + 1];
	unsigned long long v = 0;
	bool ovf = false;
	size_t n;
	char *s, *end;

	if (!len || len > TRACK_MAX || memchr(b, '\0', len))
		return -EINVAL;
	memcpy(buf, b, len);
	buf[len] = '\0';
	n = strlen(buf);
	s = buf;
	if (n) {
		end = buf + n - 1;
		while (end >= buf && k_isspace(*end))
			end--;
		end[1] = '\0';
		while (k_isspace(*s))
			s++;
	}
	*stop = *s == '-';
	if (*stop)
		s++;
	if (!k_isdigit(*s))
		return -EINVAL;
	while (k_isdigit(*s)) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(*s - '0'), &v))
			ovf = true;
		s++;
	}
	if (ovf)
		return -ERANGE;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	if (v > 2147483647ULL)
		return -ERANGE;
	*nr = v;
	return v > 0 ? 0 : -EINVAL;
}

/* reset_write(): "1" or "1\n" as a C string of at most 2 bytes. */
static unsigned int model_reset(const unsigned char *b, size_t len)
{
	char buf[4];

	if (!len || len > 2 || memchr(b, '\0', len))
		return B(RS_EINVAL);
	memcpy(buf, b, len);
	buf[len] = '\0';
	return !strcmp(buf, "1") || !strcmp(buf, "1\n") ? B(RS_OK) : B(RS_EINVAL);
}

/*
 * latency takes "0" or "1" with an optional newline; EBUSY while any
 * process is tracked, which the other writers change at any time.
 */
static unsigned int model_latency(const unsigned char *b, size_t len)
{
	if (!len || len > 2 || (b[0] != '0' && b[0] != '1') ||
	    (len == 2 && b[1] != '\n'))
		return B(RS_EINVAL);
	return B(RS_OK) | B(RS_EBUSY);
}

/* What the test knows of a PID it writes. */
enum { K_ANY, K_LIVE_CHILD, K_REAPED_CHILD };

static unsigned int track_expect_nr(struct fuzz *f, long long nr, bool stop,
				    pid_t known, int kind, pid_t my_tid)
{
	int i;

	if (nr >= f->pid_max)
		return stop ? B(RS_ENOENT) : B(RS_ESRCH);
	for (i = 0; i < f->ntids; i++)
		if (nr == f->tids[i])
			return stop ? B(RS_ENOENT) : B(RS_EINVAL);
	if (nr == my_tid || (nr == 2 && f->kthreadd_is_2))
		return stop ? B(RS_ENOENT) : B(RS_EINVAL);
	if (stop)
		return nr == known && kind == K_REAPED_CHILD ? B(RS_ENOENT) :
			B(RS_OK) | B(RS_ENOENT);
	if (nr == f->self)
		return B(RS_OK) | B(RS_EEXIST) | B(RS_ENOSPC);
	if (nr == known && kind == K_REAPED_CHILD)
		return B(RS_ESRCH);
	if (nr == known && kind == K_LIVE_CHILD)
		return B(RS_OK) | B(RS_ESRCH) | B(RS_EEXIST) | B(RS_ENOSPC);
	return B(RS_OK) | B(RS_ESRCH) | B(RS_EINVAL) | B(RS_EEXIST) | B(RS_ENOSPC);
}

static unsigned int track_expect(struct fuzz *f, const unsigned char *b, size_t len,
				 pid_t known, int kind, pid_t my_tid)
{
	long long nr;
	bool stop;
	int err = model_parse_track(b, len, &nr, &stop);

	if (err)
		return B(r_of(-err));
	return track_expect_nr(f, nr, stop, known, kind, my_tid);
}

/* --- the children ------------------------------------------------------ */

static void *child_thread(void *arg)
{
	char *p = arg;
	int i;

	for (i = 0; i < 16; i++)
		p[i * PG] = (char)i;
	usleep(1000 + (uintptr_t)p % 20000);
	return NULL;
}

/* A short life: map, touch, maybe a thread, maybe the leader leaves first. */
static void child_main(uint64_t seed)
{
	size_t pages = 1 + rnd_below(&seed, 256), i;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	bool thread = false;

	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < pages; i += 1 + rnd_below(&seed, 8))
		p[i * PG] = 1;
	if (rnd_below(&seed, 3) == 0) {
		char *q = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		thread = q != MAP_FAILED && !pthread_create(&t, NULL, child_thread, q);
	}
	usleep(500 + rnd_below(&seed, 40000));
	if (pages > 8 && rnd_below(&seed, 2))
		mprotect(p + 4 * PG, 2 * PG, PROT_READ);	/* split a VMA */
	if (thread && rnd_below(&seed, 4) == 0)
		pthread_exit(NULL);	/* the thread is the last to go */
	_exit(0);
}

static void ring_add(struct shared *sh, pid_t pid)
{
	pthread_mutex_lock(&sh->lock);
	sh->ring[sh->ring_next].pid = pid;
	sh->ring[sh->ring_next].state = C_LIVE;
	sh->ring_next = (sh->ring_next + 1) % RING;
	if (sh->ring_used < RING)
		sh->ring_used++;
	if (sh->last_child && pid < sh->last_child)
		sh->wrapped = true;
	sh->last_child = pid;
	if (pid > sh->max_child)
		sh->max_child = pid;
	sh->spawned++;
	pthread_mutex_unlock(&sh->lock);
}

static void ring_reaped(struct shared *sh, pid_t pid)
{
	int i;

	pthread_mutex_lock(&sh->lock);
	for (i = 0; i < sh->ring_used; i++)
		if (sh->ring[i].pid == pid)
			sh->ring[i].state = C_REAPED;
	pthread_mutex_unlock(&sh->lock);
}

/*
 * A child PID in @state, or 0.  A reaped PID is returned only while PIDs
 * cannot have been reused (no wrap of the PID counter in sight).
 */
static pid_t ring_pick(struct fuzz *f, uint64_t *rng, int state)
{
	struct shared *sh = f->sh;
	pid_t cand[RING];
	int i, n = 0;

	pthread_mutex_lock(&sh->lock);
	if (state == C_REAPED && (sh->wrapped || sh->max_child > f->pid_max - 4096)) {
		pthread_mutex_unlock(&sh->lock);
		return 0;
	}
	for (i = 0; i < sh->ring_used; i++)
		if (sh->ring[i].state == state)
			cand[n++] = sh->ring[i].pid;
	pthread_mutex_unlock(&sh->lock);
	return n ? cand[rnd_below(rng, n)] : 0;
}

struct live {
	pid_t pid;
	uint64_t kill_at;
};

/* Keep MAX_LIVE children, some SIGKILLed, reap them; until told to stop. */
static void spawner(struct shared *sh, uint64_t rng, pid_t parent)
{
	struct live live[MAX_LIVE];
	int nlive = 0, i, st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE) && getppid() == parent) {
		uint64_t now = now_ns();

		for (i = 0; i < nlive; i++) {
			if (live[i].kill_at && now >= live[i].kill_at) {
				kill(live[i].pid, SIGKILL);
				live[i].kill_at = 0;
				__atomic_add_fetch(&sh->killed, 1, __ATOMIC_RELAXED);
			}
			if (waitpid(live[i].pid, &st, WNOHANG) == live[i].pid) {
				ring_reaped(sh, live[i].pid);
				live[i--] = live[--nlive];
			}
		}
		if (nlive < MAX_LIVE) {
			uint64_t cseed = rnd(&rng);
			pid_t pid = fork();

			if (pid == 0)
				child_main(cseed);
			if (pid > 0) {
				live[nlive].pid = pid;
				live[nlive].kill_at = rnd_below(&rng, 4) ? 0 :
					now + 1000000ULL * (1 + rnd_below(&rng, 30));
				nlive++;
				ring_add(sh, pid);
			}
		}
		usleep(500 + rnd_below(&rng, 2000));
	}
	for (i = 0; i < nlive; i++) {
		kill(live[i].pid, SIGKILL);
		waitpid(live[i].pid, &st, 0);
		ring_reaped(sh, live[i].pid);
	}
	_exit(0);
}

/* --- the writers ------------------------------------------------------- */

struct writer {
	struct fuzz *f;
	int idx;
	uint64_t rng;
	pid_t tid;
	int fd[NR_WFILES];
	unsigned char *guard;		/* a page, then a PROT_NONE page */
	unsigned char *digits;		/* MAX_WRITE + 64 */
	long count[NR_WFILES][RS_NR];
	long bad, cycles, live_tracked;
	int logs;
};

/* One write to send: bytes (or a bad pointer) and what it may give. */
struct wop {
	int file;
	const unsigned char *buf;
	size_t len;
	unsigned int expect;	/* the model's outcomes */
	bool readable;		/* buf can be dumped */
	const char *what;
	pid_t known;		/* K_LIVE_CHILD, K_REAPED_CHILD: that child */
	int kind;
	unsigned char small[96];
};

/* Byte strings, NULs inside included. */
struct bytes {
	const char *s;
	size_t len;
};

#define BYTES(x)	{ x, sizeof(x) - 1 }

static const struct bytes track_boundaries[] = {
	BYTES("0"), BYTES("-0"), BYTES("1"), BYTES("-1"), BYTES("2147483647"),
	BYTES("2147483648"), BYTES("-2147483648"), BYTES("-2147483647"),
	BYTES("4294967295"), BYTES("4294967296"), BYTES("9223372036854775807"),
	BYTES("9223372036854775808"), BYTES("18446744073709551615"),
	BYTES("18446744073709551616"), BYTES("99999999999999999999"),
	BYTES("+5"), BYTES(" 5"), BYTES("5 "), BYTES("5\n"), BYTES("5\n\n"),
	BYTES("\n5"), BYTES("0x10"), BYTES("010"),
	BYTES("00000000000000000000000000005"), BYTES("5x"), BYTES("x5"),
	BYTES("--5"), BYTES("+-5"), BYTES("-+5"), BYTES("- 5"), BYTES("5 5"),
	BYTES("5\t"), BYTES("\t5"), BYTES("\v5\f"), BYTES("\r5\r"),
	BYTES("\xa0" "5\xa0"), BYTES("5\n6"), BYTES("5\0"), BYTES("5\0junk"),
	BYTES("\0" "5"), BYTES("-\0" "5"), BYTES("\0"), BYTES(""), BYTES(" "),
	BYTES("\n"), BYTES("-"), BYTES("-\n"), BYTES("abc"), BYTES("12abc"),
	BYTES("1e3"), BYTES("1.5"), BYTES("\xff\xfe"), BYTES("-2"), BYTES("2"),
	BYTES("3"), BYTES("-3"), BYTES("1234567890123456789012345678901"),
	BYTES("12345678901234567890123456789012"),
	BYTES("                             1\n"),
	BYTES("                              1\n"),
};

static const struct bytes reset_specials[] = {
	BYTES("1"), BYTES("1\n"), BYTES("0"), BYTES("11"), BYTES("1\n\n"),
	BYTES(" 1"), BYTES("1 "), BYTES("\0"), BYTES("1\0"), BYTES("\0" "1"),
	BYTES("\n"), BYTES("-1"), BYTES("+1"), BYTES("01"), BYTES("1\r"),
	BYTES("2"), BYTES("\x01"), BYTES("1\t"), BYTES("y"), BYTES(""),
	BYTES("1\n\0"),
};

/* A PID in one of many spellings, parsed or not (the model says). */
static void spell_pid(struct writer *w, struct wop *op, pid_t pid)
{
	char *s = (char *)op->small;
	int n;

	switch (rnd_below(&w->rng, 20)) {
	case 0: case 1: case 2: case 3:
		n = snprintf(s, 64, "%d", pid);
		break;
	case 4: case 5: case 6:
		n = snprintf(s, 64, "%d\n", pid);
		break;
	case 7: case 8:
		n = snprintf(s, 64, "-%d", pid);
		break;
	case 9:
		n = snprintf(s, 64, "-%d\n", pid);
		break;
	case 10:
		n = snprintf(s, 64, " \t%d \n\n", pid);
		break;
	case 11:
		n = snprintf(s, 64, "%0*d", TRACK_MAX, pid);		/* exactly 31 */
		break;
	case 12:
		n = snprintf(s, 64, "%*d", TRACK_MAX, pid);		/* 31, spaces */
		break;
	case 13:
		n = snprintf(s, 64, "%0*d", TRACK_MAX + 1, pid);	/* 32 */
		break;
	case 14:
		n = snprintf(s, 64, "-%0*d", TRACK_MAX - 1, pid);	/* 31 */
		break;
	case 15:
		n = snprintf(s, 64, "%d%cjunk", pid, '\0');
		break;
	case 16:
		n = snprintf(s, 64, "%dx", pid);
		break;
	case 17:
		n = snprintf(s, 64, "+%d", pid);
		break;
	case 18:
		n = snprintf(s, 64, "\xa0%d\xa0", pid);
		break;
	default:
		n = snprintf(s, 64, "--%d", pid);
		break;
	}
	op->buf = op->small;
	op->len = n;
}

/* Random bytes from the pool: mostly short, up to 64 KiB. */
static void pool_bytes(struct writer *w, struct wop *op)
{
	unsigned int r = rnd_below(&w->rng, 10);
	size_t len = r < 4 ? rnd_below(&w->rng, 41) :
		     r < 7 ? rnd_below(&w->rng, 4097) : rnd_below(&w->rng, MAX_WRITE + 1);

	op->buf = w->f->pool + rnd_below(&w->rng, POOL - MAX_WRITE);
	op->len = len;
	op->what = "random bytes";
}

/* Short strings of what the parsers look at. */
static void parser_chars(struct writer *w, struct wop *op, size_t maxlen)
{
	static const char set[] = " \t\n\v\f\r\xa0-+0x\0a9";
	size_t i, len = rnd_below(&w->rng, maxlen + 1);

	for (i = 0; i < len; i++) {
		unsigned int r = rnd_below(&w->rng, 2 * (sizeof(set) - 1));

		op->small[i] = r < sizeof(set) - 1 ? set[r] : '0' + rnd_below(&w->rng, 10);
	}
	op->buf = op->small;
	op->len = len;
	op->what = "structured random";
}

/* Digits: short ones near the int limits, long ones up to 64 KiB. */
static void long_digits(struct writer *w, struct wop *op)
{
	size_t i, len = rnd_below(&w->rng, 2) ? 10 + rnd_below(&w->rng, 30) :
			rnd_below(&w->rng, MAX_WRITE + 1);
	unsigned char *d = w->digits;

	memset(d, '9', len);
	for (i = 0; len && i < 16; i++)		/* other digits, leading zeros */
		d[rnd_below(&w->rng, len)] = '0' + rnd_below(&w->rng, 10);
	if (len && rnd_below(&w->rng, 4) == 0)
		d[0] = '-';
	if (len > 2 && rnd_below(&w->rng, 2))
		d[len - 1] = '\n';
	op->buf = d;
	op->len = len;
	op->what = "long digits";
}

/*
 * Buffers the kernel cannot read whole: (void *)1, NULL, a kernel
 * address, and a buffer running into a PROT_NONE page after 0..len-1
 * good bytes.  Within the file's length limit the write is EFAULT; a
 * length the file refuses is EINVAL (checked before the copy), or EFAULT
 * when the VFS refuses a non-user range first.
 */
static void bad_buffer(struct writer *w, struct wop *op)
{
	size_t max = wfile_max[op->file];
	unsigned int r = rnd_below(&w->rng, 4);
	size_t len = rnd_below(&w->rng, 4) ? 1 + rnd_below(&w->rng, max) :
		     rnd_below(&w->rng, 2) ? 0 : max + 1 + rnd_below(&w->rng, 100);
	uintptr_t addr;
	bool user = true;

	if (r == 0) {
		addr = 1;
		op->what = "pointer 1";
	} else if (r == 1) {
		addr = 0;
		op->what = "NULL pointer";
	} else if (r == 2) {
		addr = 0xffffffff81000000ULL;
		op->what = "kernel pointer";
		user = false;
	} else {
		size_t good = len ? rnd_below(&w->rng, len) : 0;

		addr = (uintptr_t)(w->guard + PG - good);
		memset(w->guard + PG - good, '1', good);
		op->what = "buffer into a PROT_NONE page";
	}
	op->buf = (const unsigned char *)addr;
	op->len = len;
	op->readable = false;
	if (len && len <= max)
		op->expect = B(RS_EFAULT);
	else
		op->expect = user ? B(RS_EINVAL) : B(RS_EINVAL) | B(RS_EFAULT);
}

static void make_track_op(struct writer *w, struct wop *op)
{
	struct fuzz *f = w->f;
	unsigned int r = rnd_below(&w->rng, 100);
	pid_t live = r < 30 ? ring_pick(f, &w->rng, C_LIVE) : 0;
	pid_t reaped = !live && r < 36 ? ring_pick(f, &w->rng, C_REAPED) : 0;

	op->file = W_TRACK;
	op->readable = true;
	op->known = 0;
	op->kind = K_ANY;
	if (live) {
		spell_pid(w, op, live);
		op->known = live;
		op->kind = K_LIVE_CHILD;
		op->what = "live child";
	} else if (reaped) {
		spell_pid(w, op, reaped);
		op->known = reaped;
		op->kind = K_REAPED_CHILD;
		op->what = "reaped child";
	} else if (r < 40) {
		int i = rnd_below(&w->rng, f->ntids + 1);

		spell_pid(w, op, i < f->ntids ? f->tids[i] : w->tid);
		op->what = "thread of the test";
	} else if (r < 42) {
		spell_pid(w, op, f->self);
		op->what = "the test itself";
	} else if (r < 44) {
		spell_pid(w, op, 2);
		op->what = "PID 2";
	} else if (r < 50) {
		long v = f->pid_max - 1 + rnd_below(&w->rng, 3);

		spell_pid(w, op, (pid_t)v);
		op->what = "pid_max -1/0/+1";
	} else if (r < 64) {
		const struct bytes *b = &track_boundaries[rnd_below(&w->rng,
						ARRAY_SIZE(track_boundaries))];

		memcpy(op->small, b->s, b->len);
		op->buf = op->small;
		op->len = b->len;
		op->what = "boundary";
	} else if (r < 76) {
		pool_bytes(w, op);
	} else if (r < 88) {
		parser_chars(w, op, TRACK_MAX + 4);
	} else if (r < 96) {
		long_digits(w, op);
	} else {
		bad_buffer(w, op);
		return;
	}
	op->expect = track_expect(f, op->buf, op->len, op->known, op->kind, w->tid);
}

static void make_reset_op(struct writer *w, struct wop *op)
{
	unsigned int r = rnd_below(&w->rng, 100);

	op->file = W_RESET;
	op->readable = true;
	if (r < 15) {
		op->len = rnd_below(&w->rng, 2) + 1;
		memcpy(op->small, "1\n", 2);
		op->buf = op->small;
		op->what = "reset";
	} else if (r < 40) {
		const struct bytes *b = &reset_specials[rnd_below(&w->rng,
						ARRAY_SIZE(reset_specials))];

		memcpy(op->small, b->s, b->len);
		op->buf = op->small;
		op->len = b->len;
		op->what = "reset special";
	} else if (r < 60) {
		pool_bytes(w, op);
	} else if (r < 80) {
		parser_chars(w, op, 4);
	} else if (r < 90) {
		long_digits(w, op);
	} else {
		bad_buffer(w, op);
		return;
	}
	op->expect = model_reset(op->buf, op->len);
}

static void make_latency_op(struct writer *w, struct wop *op)
{
	unsigned int r = rnd_below(&w->rng, 100);

	op->file = W_LATENCY;
	op->readable = true;
	if (r < 20) {
		/* "0", "1", "0\n" or "1\n" */
		op->len = rnd_below(&w->rng, 2) + 1;
		op->small[0] = '0' + rnd_below(&w->rng, 2);
		op->small[1] = '\n';
		op->buf = op->small;
		op->what = "mode";
	} else if (r < 45) {
		const struct bytes *b = &reset_specials[rnd_below(&w->rng,
						ARRAY_SIZE(reset_specials))];

		memcpy(op->small, b->s, b->len);
		op->buf = op->small;
		op->len = b->len;
		op->what = "latency special";
	} else if (r < 65) {
		pool_bytes(w, op);
	} else if (r < 85) {
		parser_chars(w, op, 4);
	} else {
		bad_buffer(w, op);
		return;
	}
	op->expect = model_latency(op->buf, op->len);
}

/* "success EINVAL" for a mask of outcomes. */
static void mask_names(char *out, size_t size, unsigned int mask)
{
	int r, o = 0;

	out[0] = '\0';
	for (r = 0; r < RS_NR; r++)
		if (mask & B(r))
			o += snprintf(out + o, size - o, "%s%s", o ? " " : "",
				      r == RS_OK ? "success" : r_name[r]);
}

static void writer_log(struct writer *w, const struct wop *op, int res, bool doc_ok)
{
	struct __test_metadata *_metadata = w->f->md;
	char h[256], m[128];

	if (w->logs++ >= MAX_LOGS)
		return;
	if (op->readable)
		hex(h, sizeof(h), op->buf, op->len);
	else
		snprintf(h, sizeof(h), "buf=%p len=%zu", (void *)op->buf, op->len);
	mask_names(m, sizeof(m), op->expect);
	TH_LOG("writer %d: %s write (%s) %s: got %s%s%s, expected %s",
	       w->idx, wfile_name[op->file], op->what, h,
	       res == RS_OK ? "success" : r_name[res],
	       res == RS_OTHER ? " " : "", res == RS_OTHER ? strerror(errno) : "", m);
	if (!doc_ok)
		TH_LOG("writer %d: that errno is outside the documented set of %s",
		       w->idx, wfile_name[op->file]);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct fuzz *f = w->f;
	unsigned int r;
	long i;

	w->tid = gettid();
	pthread_barrier_wait(&f->ready);
	for (i = 0; i < f->writes_per_writer; i++) {
		struct wop op = { 0 };
		char path[128];
		ssize_t n;
		int fd, res, saved;
		bool cycle = rnd_below(&w->rng, 5) == 0;

		r = rnd_below(&w->rng, 20);
		if (r < 14)
			make_track_op(w, &op);
		else if (r < 18)
			make_reset_op(w, &op);
		else
			make_latency_op(w, &op);
		fd = w->fd[op.file];
		if (cycle) {
			snprintf(path, sizeof(path), ML_DIR "/%s", wfile_name[op.file]);
			fd = open(path, op.file == W_TRACK && rnd_below(&w->rng, 2) ?
				  O_RDWR : O_WRONLY);
			if (fd < 0) {
				struct __test_metadata *_metadata = f->md;

				w->bad++;
				TH_LOG("writer %d: open %s: %s", w->idx, path, strerror(errno));
				continue;
			}
			w->cycles++;
		}
		n = write(fd, op.buf, op.len);
		saved = errno;
		if (cycle)
			close(fd);
		errno = saved;
		if (n == (ssize_t)op.len)
			res = RS_OK;
		else if (n < 0)
			res = r_of(saved);
		else
			res = RS_OTHER;	/* a short write */
		w->count[op.file][res]++;
		if (res == RS_OK && op.kind == K_LIVE_CHILD)
			w->live_tracked++;
		if (!(B(res) & wfile_doc[op.file]) || !(B(res) & op.expect)) {
			w->bad++;
			writer_log(w, &op, res, B(res) & wfile_doc[op.file]);
		}
	}
	return NULL;
}

/* --- the readers ------------------------------------------------------- */

struct reader {
	struct fuzz *f;
	int idx;
	uint64_t rng;
	char *buf;
	int stale_fd[NR_STALE];
	char stale_path[NR_STALE][192];
	int nstale;
	long global_reads, pid_reads, stale_reads, passes;
	long pid_errors[RS_NR];
	long bad;
	int logs;
};

static void reader_fail(struct reader *r, const char *path, const char *op, int err)
{
	struct __test_metadata *_metadata = r->f->md;

	r->bad++;
	if (r->logs++ < MAX_LOGS)
		TH_LOG("reader %d: %s %s: %s", r->idx, op, path,
		       err ? strerror(err) : "bad content");
}

/* A syscall failed with @err: allowed only under pid/ and only these. */
static bool read_error_ok(struct reader *r, const char *path, const char *op,
			  int err, bool global)
{
	int res = r_of(err);

	if (!global && (res == RS_ENOENT || res == RS_EIO || res == RS_ESRCH)) {
		r->pid_errors[res]++;
		return true;
	}
	reader_fail(r, path, op, err);
	return false;
}

static bool has_line(const char *s, const char *key)
{
	size_t k = strlen(key);

	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
		if (!strncmp(s, key, k))
			return true;
	return false;
}

/* A whole file read from offset 0: what it must look like. */
static bool content_ok(struct fuzz *f, const char *name, const char *s, size_t len,
		       bool global)
{
	const char *p;

	if (memchr(s, '\0', len))
		return false;
	if (!len)
		return global && !strcmp(name, "track");
	if (s[len - 1] != '\n')
		return false;
	if (!strcmp(name, "version"))
		return len == f->version_len && !memcmp(s, f->version, len);
	if (!strcmp(name, "track")) {
		for (p = s; *p; p++)
			if (!k_isdigit(*p) && *p != '\n')
				return false;
		return s[0] != '0' && !strstr(s, "\n0");
	}
	if (!strcmp(name, "faults"))
		return has_line(s, "minor ") && has_line(s, "major ");
	if (!strcmp(name, "tlb"))
		return has_line(s, "task_switch ") && has_line(s, "full_flushes ");
	if (!strcmp(name, "swap"))
		return has_line(s, global ? "swap_free_kb " : "swapin_major ");
	if (!strcmp(name, "pagetable"))
		return has_line(s, "leaf_4k ") && has_line(s, "paging_levels ");
	if (!strcmp(name, "vmas"))
		return !strncmp(s, "start end perms kind ", 21);
	if (!strcmp(name, "vma_faults"))
		return !strncmp(s, "start end minor major name\n", 27);
	return true;	/* a file this test does not know: data is enough */
}

static void read_one(struct reader *r, const char *path, const char *name, bool global)
{
	static const size_t chunks[] = { 1, 2, 7, 64, 512, 4096, 65536 };
	struct fuzz *f = r->f;
	unsigned int mode = rnd_below(&r->rng, 8);
	size_t len = 0, chunk = chunks[rnd_below(&r->rng, ARRAY_SIZE(chunks))];
	ssize_t n;
	off_t off;
	int fd, i;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		read_error_ok(r, path, "open", errno, global);
		return;
	}
	if (mode == 5) {		/* lseek somewhere, read, back to 0 */
		off = rnd_below(&r->rng, 300);
		if (lseek(fd, off, SEEK_SET) != off) {
			if (global || errno == 0)
				reader_fail(r, path, "lseek", errno);
			else
				read_error_ok(r, path, "lseek", errno, global);
			goto out;
		}
		n = read(fd, r->buf, chunk);
		if (n < 0 && !read_error_ok(r, path, "read after lseek", errno, global))
			goto out;
		if (lseek(fd, 0, SEEK_SET) != 0) {
			read_error_ok(r, path, "lseek 0", errno, global);
			goto out;
		}
	} else if (mode == 6) {		/* pread at random places */
		for (i = 0; i < 4; i++) {
			off = rnd_below(&r->rng, 300);
			n = pread(fd, r->buf, chunk, off);
			if (n < 0) {
				read_error_ok(r, path, "pread", errno, global);
				goto out;
			}
			if (!strcmp(name, "version") &&
			    ((size_t)off >= f->version_len ? n != 0 :
			     n != (ssize_t)(f->version_len - off < chunk ?
					    f->version_len - off : chunk) ||
			     memcmp(r->buf, f->version + off, n))) {
				reader_fail(r, path, "pread (content)", 0);
				goto out;
			}
		}
		if (global)
			r->global_reads++;
		else
			r->pid_reads++;
		goto out;
	} else if (mode == 7 && !global) {	/* keep it open for later */
		n = read(fd, r->buf, 64);
		if (n < 0 && !read_error_ok(r, path, "read", errno, global))
			goto out;
		if (r->nstale == NR_STALE) {
			int old = rnd_below(&r->rng, NR_STALE);

			n = pread(r->stale_fd[old], r->buf, 4096, 0);
			if (n < 0)
				read_error_ok(r, r->stale_path[old], "pread (held fd)", errno,
					      false);
			r->stale_reads++;
			close(r->stale_fd[old]);
			r->stale_fd[old] = r->stale_fd[--r->nstale];
			memcpy(r->stale_path[old], r->stale_path[r->nstale], 192);
		}
		r->stale_fd[r->nstale] = fd;
		snprintf(r->stale_path[r->nstale++], 192, "%s", path);
		return;
	}
	/* The whole file from 0 in chunks of one size. */
	for (;;) {
		size_t want = chunk < READ_BUF - 1 - len ? chunk : READ_BUF - 1 - len;

		if (!want) {
			reader_fail(r, path, "read (larger than 256 KiB)", 0);
			goto out;
		}
		n = read(fd, r->buf + len, want);
		if (n < 0) {
			read_error_ok(r, path, "read", errno, global);
			goto out;
		}
		if (!n)
			break;
		len += n;
	}
	r->buf[len] = '\0';
	if (!content_ok(f, name, r->buf, len, global)) {
		reader_fail(r, path, "read (content)", 0);
		goto out;
	}
	if (global)
		r->global_reads++;
	else
		r->pid_reads++;
out:
	close(fd);
}

/* Every file of one pid/PID/ directory; it may go away at any time. */
static void read_pid_dir(struct reader *r, const char *pid)
{
	char dir[96], path[192];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), ML_DIR "/pid/%.32s", pid);
	d = opendir(dir);
	if (!d) {
		read_error_ok(r, dir, "opendir", errno, false);
		return;
	}
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%.64s", dir, e->d_name);
		read_one(r, path, e->d_name, false);
		errno = 0;
	}
	if (errno)
		read_error_ok(r, dir, "readdir", errno, false);
	closedir(d);
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct fuzz *f = r->f;
	char path[192];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int i;

	f->tids[r->idx] = gettid();
	pthread_barrier_wait(&f->ready);
	while (!__atomic_load_n(&f->stop_readers, __ATOMIC_ACQUIRE)) {
		d = opendir(ML_DIR);
		if (!d) {
			reader_fail(r, ML_DIR, "opendir", errno);
			break;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || !strcmp(e->d_name, "pid"))
				continue;
			snprintf(path, sizeof(path), ML_DIR "/%.64s", e->d_name);
			if (stat(path, &st)) {
				reader_fail(r, path, "stat", errno);
				continue;
			}
			if (S_ISREG(st.st_mode) && (st.st_mode & 0444))
				read_one(r, path, e->d_name, true);
		}
		closedir(d);
		d = opendir(ML_DIR "/pid");
		if (!d) {
			reader_fail(r, ML_DIR "/pid", "opendir", errno);
			break;
		}
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				read_pid_dir(r, e->d_name);
		closedir(d);
		r->passes++;
	}
	for (i = 0; i < r->nstale; i++) {
		ssize_t n = pread(r->stale_fd[i], r->buf, 4096, 0);

		if (n < 0)
			read_error_ok(r, r->stale_path[i], "pread (held fd)", errno, false);
		r->stale_reads++;
		close(r->stale_fd[i]);
	}
	return NULL;
}

/* --- checks at the end ------------------------------------------------- */

/* Alive as memlens sees it: some thread of the process has not exited. */
static bool alive(pid_t pid)
{
	char path[64], buf[4096], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = ml_read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	p = strrchr(buf, ')');
	if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X')
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (ml_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	p = strstr(buf, "\nThreads:");
	return p && atoi(p + 9) > 1;
}

/* PIDs of pid/'s directories; returns how many. */
static int pid_dirs(pid_t *out, int max)
{
	DIR *d = opendir(ML_DIR "/pid");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && n < max)
			out[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

/* PIDs listed by track; -1 if it cannot be read. */
static int track_list(pid_t *out, int max)
{
	char *s = pt_slurp(ML_DIR "/track"), *line, *save = NULL;
	int n = 0;

	if (!s)
		return -1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (n < max)
			out[n++] = atoi(line);
	free(s);
	return n;
}

static unsigned char *random_pool(uint64_t seed)
{
	unsigned char *p = malloc(POOL);
	int i;

	for (i = 0; p && i < POOL; i += 8) {
		uint64_t v = rnd(&seed);

		memcpy(p + i, &v, 8);
	}
	return p;
}

/*
 * The files of one directory (IN_ROOT: memlens/, IN_PID: pid/PID/)
 * against the table: each of the table there, with its mode, and nothing
 * else (but pid/ in memlens/).  Returns the number of differences.
 */
static int check_listing(struct __test_metadata *_metadata, const char *dir,
			 unsigned int where)
{
	bool seen[ARRAY_SIZE(dfiles)] = { false };
	const struct ml_dfile *df;
	char path[192];
	struct dirent *e;
	struct stat st;
	int bad = 0;
	size_t i;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		TH_LOG("opendir %s: %s", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (where == IN_ROOT && !strcmp(e->d_name, "pid")))
			continue;
		snprintf(path, sizeof(path), "%s/%.64s", dir, e->d_name);
		df = dfile_find(e->d_name, where);
		if (!df) {
			TH_LOG("%s: not in the test's table of files", path);
			bad++;
			continue;
		}
		seen[df - dfiles] = true;
		if (stat(path, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != df->mode) {
			TH_LOG("%s: not a regular file of mode %o", path, df->mode);
			bad++;
		}
		if ((df->mode & 0222) && (df->wfile < 0 || strcmp(wfile_name[df->wfile], df->name))) {
			TH_LOG("writable %s: the test does not know its rules", path);
			bad++;
		}
	}
	closedir(d);
	for (i = 0; i < ARRAY_SIZE(dfiles); i++) {
		if ((dfiles[i].where & where) && !seen[i]) {
			TH_LOG("no %s/%s", dir, dfiles[i].name);
			bad++;
		}
	}
	return bad;
}

/* What every test needs to know of the system and of the module. */
static struct fuzz *fuzz_new(struct __test_metadata *_metadata)
{
	struct fuzz *f = calloc(1, sizeof(*f));
	char buf[4096];

	if (!f)
		return NULL;
	f->md = _metadata;
	if (ml_read_file(ML_DIR "/version", f->version, sizeof(f->version)) <= 0 ||
	    ml_read_file("/proc/sys/kernel/pid_max", buf, sizeof(buf)) <= 0) {
		free(f);
		return NULL;
	}
	f->version_len = strlen(f->version);
	f->pid_max = atol(buf);
	f->kthreadd_is_2 = ml_read_file("/proc/2/stat", buf, sizeof(buf)) > 0 &&
			   strstr(buf, "(kthreadd)");
	f->self = getpid();
	return f;
}

/*
 * A new process is tracked, its pid/PID/ holds the table's files, each
 * reads as it must; reset works; it is untracked and nothing is left.
 */
static void check_fresh_process(struct __test_metadata *_metadata, struct fuzz *f)
{
	const struct ml_dfile *df;
	char dir[96], path[192], buf[8], *s;
	pid_t fresh, list[16];
	int ready[2], status, fd, n;
	size_t i;

	ASSERT_EQ(0, pipe(ready));
	fresh = fork();
	if (fresh == 0) {
		char *p = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (p != MAP_FAILED)
			memset(p, 1, 64 * PG);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ASSERT_LT(0, fresh);
	ASSERT_EQ(1, read(ready[0], buf, 1));
	close(ready[0]);
	close(ready[1]);
	EXPECT_EQ(0, pt_track(fresh));
	snprintf(dir, sizeof(dir), ML_DIR "/pid/%d", fresh);
	EXPECT_EQ(0, check_listing(_metadata, dir, IN_PID));
	for (i = 0; i < ARRAY_SIZE(dfiles); i++) {
		df = &dfiles[i];
		if (!(df->where & IN_PID))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, df->name);
		s = pt_slurp(path);
		EXPECT_NE(NULL, s) TH_LOG("%s: %s", path, strerror(errno));
		if (s)
			EXPECT_TRUE(content_ok(f, df->name, s, strlen(s), false))
				TH_LOG("%s:\n%s", path, s);
		if (s && !strcmp(df->name, "pagetable"))
			EXPECT_LE(64, pt_key(s, "leaf_4k"));
		free(s);
	}
	n = track_list(list, ARRAY_SIZE(list));
	EXPECT_EQ(1, n);
	EXPECT_EQ(fresh, list[0]);
	fd = open(ML_DIR "/reset", O_WRONLY);
	EXPECT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "1\n", 2));
	close(fd);
	EXPECT_EQ(0, pt_untrack(fresh));
	EXPECT_EQ(ENOENT, pt_untrack(fresh));
	kill(fresh, SIGKILL);
	EXPECT_EQ(fresh, waitpid(fresh, &status, 0));
	EXPECT_EQ(0, pid_dirs(list, ARRAY_SIZE(list)));
	EXPECT_EQ(0, track_list(list, ARRAY_SIZE(list)));
}

FIXTURE(fuzz) {
	struct fuzz *f;
};

/* Without the module, self->f stays NULL and each test skips. */
FIXTURE_SETUP(fuzz)
{
	pid_t l[8];

	self->f = NULL;
	if (access(ML_DIR "/track", W_OK))
		SKIP(return, "memlens.ko not loaded (run with the insmod flag)");
	ASSERT_EQ(0, track_list(l, 8)) TH_LOG("processes are tracked already");
	self->f = fuzz_new(_metadata);
	ASSERT_NE(NULL, self->f);
	ASSERT_LT(300, self->f->pid_max);
}

FIXTURE_TEARDOWN(fuzz)
{
	const char *problem;

	if (!self->f)
		return;
	problem = ml_kernel_problem();
	EXPECT_EQ(NULL, problem) TH_LOG("kernel log: %s", problem);
	free(self->f);
}

#define NEED_MODULE()							\
	do {								\
		if (!self->f)						\
			SKIP(return, "memlens.ko not loaded");		\
	} while (0)

/* The model of the parsers against the table of docs/debugfs.md. */
TEST_F(fuzz, parser_model)
{
	static const struct { const char *s; int err; long long nr; bool stop; } doc[] = {
		{ "", EINVAL, 0, 0 }, { " ", EINVAL, 0, 0 }, { "\n", EINVAL, 0, 0 },
		{ "abc", EINVAL, 0, 0 }, { "12abc", EINVAL, 0, 0 }, { "0", EINVAL, 0, 0 },
		{ "-0", EINVAL, 0, 0 }, { "--5", EINVAL, 0, 0 }, { "+-5", EINVAL, 0, 0 },
		{ "0x10", EINVAL, 0, 0 }, { "1 2", EINVAL, 0, 0 },
		{ "2147483648", ERANGE, 0, 0 }, { "-2147483648", ERANGE, 0, 0 },
		{ "99999999999999999999", ERANGE, 0, 0 },
		{ "123456789012345678901234567890123", EINVAL, 0, 0 },
		{ "5", 0, 5, false }, { "-5\n", 0, 5, true },
		{ " 7 \n", 0, 7, false }, { "2147483647", 0, 2147483647, false },
	};
	long long nr;
	bool stop;
	int i;

	NEED_MODULE();
	for (i = 0; i < (int)ARRAY_SIZE(doc); i++) {
		nr = 0;
		ASSERT_EQ(-doc[i].err, model_parse_track((const unsigned char *)doc[i].s,
							 strlen(doc[i].s), &nr, &stop))
			TH_LOG("model on '%s'", doc[i].s);
		if (!doc[i].err) {
			ASSERT_EQ(doc[i].nr, nr);
			ASSERT_EQ(doc[i].stop, stop);
		}
	}
	ASSERT_EQ(B(RS_OK), model_reset((const unsigned char *)"1\n", 2));
	ASSERT_EQ(B(RS_EINVAL), model_reset((const unsigned char *)"0", 1));
	ASSERT_EQ(B(RS_EINVAL), model_reset((const unsigned char *)"1\n\n", 3));
	ASSERT_EQ(B(RS_OK) | B(RS_EBUSY), model_latency((const unsigned char *)"0\n", 2));
	ASSERT_EQ(B(RS_EINVAL), model_latency((const unsigned char *)"1\0", 2));
	ASSERT_EQ(B(RS_EINVAL), model_latency((const unsigned char *)"01", 2));
}

/* The module's files are those of the table, globally and per process. */
TEST_F(fuzz, files)
{
	NEED_MODULE();
	EXPECT_EQ(0, check_listing(_metadata, ML_DIR, IN_ROOT));
	check_fresh_process(_metadata, self->f);
}

/* The storm's threads and spawner, and what they counted. */
struct storm {
	struct writer wr[NR_WRITERS];
	struct reader rd[NR_READERS];
	pthread_t wt[NR_WRITERS], rt[NR_READERS];
	pid_t spawner_pid;
	uint64_t t0, t1;
};

/* Seed, number of writes, the spawner, the threads' buffers and fds. */
static void storm_setup(struct __test_metadata *_metadata, struct fuzz *f,
			struct storm *st)
{
	long total = DEFAULT_WRITES;
	pthread_mutexattr_t ma;
	const char *env;
	int i, k;

	env = getenv("ML_FUZZ_SEED");
	if (env) {
		f->seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		f->seed = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	}
	env = getenv("ML_FUZZ_WRITES");
	if (env)
		total = atol(env);
	ASSERT_LT(0, total);
	f->writes_per_writer = (total + NR_WRITERS - 1) / NR_WRITERS;
	ksft_print_msg("seed %llu (ML_FUZZ_SEED=%llu repeats the inputs), %ld writes\n",
		       (unsigned long long)f->seed, (unsigned long long)f->seed,
		       f->writes_per_writer * NR_WRITERS);
	f->ntids = NR_READERS;
	f->sh = mmap(NULL, sizeof(*f->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->sh);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&f->sh->lock, &ma);
	st->spawner_pid = fork();
	if (st->spawner_pid == 0)
		spawner(f->sh, f->seed ^ 0x5eed5eed, f->self);
	ASSERT_LT(0, st->spawner_pid);
	f->pool = random_pool(f->seed);
	ASSERT_NE(NULL, f->pool);
	pthread_barrier_init(&f->ready, NULL, NR_WRITERS + NR_READERS + 1);

	for (i = 0; i < NR_WRITERS; i++) {
		struct writer *w = &st->wr[i];

		w->f = f;
		w->idx = i;
		w->rng = f->seed + 1000 * (i + 1);
		for (k = 0; k < NR_WFILES; k++) {
			char path[128];

			snprintf(path, sizeof(path), ML_DIR "/%s", wfile_name[k]);
			w->fd[k] = open(path, k == W_TRACK && i == 0 ? O_RDWR : O_WRONLY);
			ASSERT_LE(0, w->fd[k]) TH_LOG("open %s", path);
		}
		w->guard = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, w->guard);
		ASSERT_EQ(0, mprotect(w->guard + PG, PG, PROT_NONE));
		w->digits = malloc(MAX_WRITE + 64);
		ASSERT_NE(NULL, w->digits);
	}
	for (i = 0; i < NR_READERS; i++) {
		st->rd[i].f = f;
		st->rd[i].idx = i;
		st->rd[i].rng = f->seed + 77 * (i + 1);
		st->rd[i].buf = malloc(READ_BUF);
		ASSERT_NE(NULL, st->rd[i].buf);
	}
}

/* Readers and writers until the writers are done, then the spawner. */
static void storm_run(struct __test_metadata *_metadata, struct fuzz *f,
		      struct storm *st)
{
	int i, status;

	st->t0 = now_ns();
	for (i = 0; i < NR_READERS; i++)
		ASSERT_EQ(0, pthread_create(&st->rt[i], NULL, reader_main, &st->rd[i]));
	for (i = 0; i < NR_WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&st->wt[i], NULL, writer_main, &st->wr[i]));
	pthread_barrier_wait(&f->ready);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_join(st->wt[i], NULL);
	st->t1 = now_ns();
	__atomic_store_n(&f->stop_readers, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NR_READERS; i++)
		pthread_join(st->rt[i], NULL);
	__atomic_store_n(&f->sh->stop, 1, __ATOMIC_RELEASE);
	EXPECT_EQ(st->spawner_pid, waitpid(st->spawner_pid, &status, 0));
	EXPECT_EQ(0, status);
}

/* Sum the threads' counts, print them, check none was unexpected. */
static void storm_report(struct __test_metadata *_metadata, struct fuzz *f,
			 struct storm *st)
{
	long wsum[NR_WFILES][RS_NR] = { 0 }, perr[RS_NR] = { 0 };
	long bad_w = 0, bad_r = 0, cycles = 0, live_tracked = 0;
	long greads = 0, preads = 0, sreads = 0, passes = 0;
	int i, j, k;

	for (i = 0; i < NR_WRITERS; i++) {
		struct writer *w = &st->wr[i];

		for (k = 0; k < NR_WFILES; k++) {
			for (j = 0; j < RS_NR; j++)
				wsum[k][j] += w->count[k][j];
			close(w->fd[k]);
		}
		bad_w += w->bad;
		cycles += w->cycles;
		live_tracked += w->live_tracked;
		munmap(w->guard, 2 * PG);
		free(w->digits);
	}
	for (i = 0; i < NR_READERS; i++) {
		struct reader *r = &st->rd[i];

		greads += r->global_reads;
		preads += r->pid_reads;
		sreads += r->stale_reads;
		passes += r->passes;
		bad_r += r->bad;
		for (j = 0; j < RS_NR; j++)
			perr[j] += r->pid_errors[j];
		free(r->buf);
	}
	for (k = 0; k < NR_WFILES; k++) {
		char line[512];
		int o = snprintf(line, sizeof(line), "%s:", wfile_name[k]);

		for (j = 0; j < RS_NR; j++)
			if (wsum[k][j])
				o += snprintf(line + o, sizeof(line) - o, " %s %ld",
					      r_name[j], wsum[k][j]);
		ksft_print_msg("writes to %s\n", line);
	}
	ksft_print_msg("%ld writes in %.1f s (%ld through open/write/close), %ld unexpected;"
		       " %ld live children tracked\n",
		       f->writes_per_writer * NR_WRITERS, (st->t1 - st->t0) / 1e9, cycles,
		       bad_w, live_tracked);
	ksft_print_msg("reads: %ld of global files, %ld under pid/ (+%ld on held fds), %ld passes;"
		       " pid/ errors ENOENT %ld EIO %ld ESRCH %ld; %ld unexpected\n",
		       greads, preads, sreads, passes, perr[RS_ENOENT], perr[RS_EIO],
		       perr[RS_ESRCH], bad_r);
	ksft_print_msg("children: %ld spawned, %ld SIGKILLed; PIDs up to %d (pid_max %ld)%s\n",
		       f->sh->spawned, f->sh->killed, f->sh->max_child, f->pid_max,
		       f->sh->wrapped ? ", wrapped" : "");
	EXPECT_EQ(0, bad_w);
	EXPECT_EQ(0, bad_r);
	/* Not vacuous: processes were tracked and their files were read. */
	EXPECT_LT(0, f->sh->spawned);
	EXPECT_LT(0, live_tracked);
	EXPECT_LT(0, preads);
	EXPECT_LT(0, greads);
}

/*
 * Every child is reaped: their directories go within seconds, track
 * lists no dead PID; the live ones left are untracked.
 */
static void check_reaped(struct __test_metadata *_metadata)
{
	pid_t list[1024];
	int i, j, n;

	for (i = 0; i < 200; i++) {
		n = pid_dirs(list, ARRAY_SIZE(list));
		ASSERT_LE(0, n);
		for (j = 0; j < n && alive(list[j]); j++)
			;
		if (j == n)
			break;
		usleep(100000);
	}
	n = pid_dirs(list, ARRAY_SIZE(list));
	for (j = 0; j < n; j++)
		EXPECT_TRUE(alive(list[j])) TH_LOG("pid/%d/ left after the process died", list[j]);
	n = track_list(list, ARRAY_SIZE(list));
	ASSERT_LE(0, n);
	for (j = 0; j < n; j++) {
		EXPECT_TRUE(alive(list[j])) TH_LOG("track lists dead %d", list[j]);
		EXPECT_EQ(0, pt_untrack(list[j])) TH_LOG("untrack %d", list[j]);
	}
	ksft_print_msg("left tracked at the end (alive, untracked now): %d\n", n);
	EXPECT_EQ(0, track_list(list, ARRAY_SIZE(list)));
	EXPECT_EQ(0, pid_dirs(list, ARRAY_SIZE(list)));
}

/* The storm, then nothing left behind, then the module still works. */
TEST_F(fuzz, debugfs)
{
	struct fuzz *f = self->f;
	uint64_t t0 = now_ns();
	struct storm *st;

	NEED_MODULE();
	st = calloc(1, sizeof(*st));
	ASSERT_NE(NULL, st);
	storm_setup(_metadata, f, st);
	storm_run(_metadata, f, st);
	storm_report(_metadata, f, st);
	check_reaped(_metadata);
	check_fresh_process(_metadata, f);
	ksft_print_msg("total %.1f s\n", (now_ns() - t0) / 1e9);
	free(f->pool);
	munmap(f->sh, sizeof(*f->sh));
	free(st);
}

TEST_HARNESS_MAIN
