/* fileops_model: wormfs's own file-operation exerciser (model checker).
 *
 * Drives one file on a mounted wormfs with a seeded, reproducible
 * sequence of random operations and keeps an in-memory model of what the
 * file must contain. Every read (pread, mmap, the concurrent readers', the
 * whole-file checks) is compared with the model; on a mismatch it prints
 * the seed, the operation, the offset of the first differing byte and the
 * last operations, and exits 1. An unexpected error (EIO, a wrong errno,
 * a short write) is reported the same way.
 *
 *   fileops_model [options] FILE
 *     -s SEED   seed (default: from the clock); always printed
 *     -n OPS    operations in total (default 20000)
 *     -l MAX    largest file size in bytes (default 262144)
 *     -m        also mmap reads and MAP_SHARED writes with msync
 *     -r N      N concurrent reader threads (own descriptors)
 *     -S STATE  segmented run: the model, the RNG and the operation log
 *               live in STATE between runs; a run resumes from it (and
 *               first checks the whole file against it), so the daemon can
 *               be stopped and started between segments
 *     -k K      with -S: at most K operations in this run
 *     -v        print every operation (same seed, same lines)
 *
 * Exit status: 0 all operations done and checked, 3 segment done (more
 * remain, -S), 1 mismatch or unexpected error, 2 usage.
 * The last line on success is "ops=N read=.. write=.. ..." (the counts).
 *
 * Operations: pread and pwrite at offsets biased to 16 KiB block (and the
 * 16 KiB inline/file) boundaries, appends through an O_APPEND descriptor,
 * ftruncate and truncate(2) by path up and down, fallocate (mode 0 and
 * KEEP_SIZE succeed; hole, zero, collapse, insert and unshare modes must
 * fail with EOPNOTSUPP and change nothing), mmap reads (the bytes past
 * EOF in the last page must read zero) and MAP_SHARED writes with msync,
 * fsync/fdatasync, close and reopen, whole-file checks.
 *
 * Concurrent readers check against a valid model state: before an
 * operation the writer publishes the byte range it may change (a
 * truncation or append: everything from the lower size up) and waits
 * until no reader holds an overlapping range; a reader picks a range
 * below the current size that does not overlap the published one, holds
 * it while it reads, then compares with the model (unchanged there).
 * Odd-numbered readers open with O_DIRECT, so their reads reach the
 * daemon instead of the page cache. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 16384u          /* wormfs block size and inline limit */
#define HIST 64u            /* operations printed on a failure */
#define MAXREADERS 16
#define STATE_MAGIC 0x464f504d4f444c31ull  /* "FOPMODL1" */

enum opkind {
	OP_READ, OP_WRITE, OP_MREAD, OP_MWRITE, OP_APPEND, OP_FTRUNC, OP_PTRUNC,
	OP_FALLOC, OP_FALLOC_REFUSED, OP_FSYNC, OP_REOPEN, OP_CHECK, OP_NKINDS
};
static const char *const opname[OP_NKINDS] = {
	"read", "write", "mread", "mwrite", "append", "ftruncate", "truncate",
	"fallocate", "fallocate_refused", "fsync", "reopen", "check"
};

struct op {
	uint64_t no;
	uint32_t kind;
	int32_t mode;
	uint64_t off, len, size_before, size_after;
};

struct range {
	int used;
	uint64_t lo, hi;
};

struct ex {
	const char *path, *state;
	uint64_t seed, rng, nops, opno, seg_ops;
	size_t maxlen, size;
	uint8_t *model, *buf;
	int fd, afd, use_mmap, nreaders, verbose;
	long pagesz;
	struct op hist[HIST];
	uint64_t counts[OP_NKINDS];
	/* Concurrent readers. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy, done;
	uint64_t busy_lo, busy_hi;
	struct range rd[MAXREADERS];
	uint64_t reader_reads, reader_bytes;
};

/* ---- random numbers (splitmix64: tiny state, saved with the model) ----- */

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct ex *e, uint64_t n)
{
	return n ? next_rand(&e->rng) % n : 0;
}

/* ---- reporting ----------------------------------------------------------- */

static void print_op(FILE *f, const struct op *o)
{
	fprintf(f, "op %" PRIu64 " %s off=%" PRIu64 " len=%" PRIu64 " size=%" PRIu64 "->%" PRIu64,
		o->no, opname[o->kind], o->off, o->len, o->size_before, o->size_after);
	if (o->kind == OP_FALLOC || o->kind == OP_FALLOC_REFUSED)
		fprintf(f, " mode=0x%x", (unsigned)o->mode);
	fputc('\n', f);
}

static void print_history(struct ex *e)
{
	uint64_t first = e->opno >= HIST ? e->opno - HIST + 1 : 1, i;

	fprintf(stderr, "last operations (oldest first):\n");
	for (i = first; i <= e->opno; i++) {
		const struct op *o = &e->hist[i % HIST];
		if (o->no == i) {
			fputs("  ", stderr);
			print_op(stderr, o);
		}
	}
}

/* Print why, the seed and the log, and exit 1 (a reader thread may call
 * this with e->mu held; nothing runs after it). */
static void die(struct ex *e, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL seed=%" PRIu64 " op=%" PRIu64 ": ", e->seed, e->opno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_history(e);
	fprintf(stderr, "reproduce: fileops_model -s %" PRIu64 " -n %" PRIu64 " -l %zu%s -r %d FILE\n",
		e->seed, e->opno, e->maxlen, e->use_mmap ? " -m" : "", e->nreaders);
	fflush(stderr);
	_exit(1);
}

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %-9s", label);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fputc('\n', stderr);
}

/* Compare got with the model at file offset off; die at the first
 * difference, naming its offset. */
static void compare(struct ex *e, const char *what, const uint8_t *got, uint64_t off, size_t n)
{
	const uint8_t *want = e->model + off;

	if (!memcmp(got, want, n))
		return;
	size_t i = 0;
	while (got[i] == want[i])
		i++;
	size_t a = i >= 8 ? i - 8 : 0, m = n - a < 24 ? n - a : 24;
	fprintf(stderr, "mismatch in %s of [%" PRIu64 ", %" PRIu64 "): first differing byte at file offset %" PRIu64
		" (model size %zu)\n", what, off, off + n, off + i, e->size);
	fprintf(stderr, "  bytes from file offset %" PRIu64 ":\n", off + a);
	hexdump("expected", want + a, m);
	hexdump("got", got + a, m);
	die(e, "%s returned wrong data at offset %" PRIu64, what, off + i);
}

/* ---- the model ----------------------------------------------------------- */

/* Written bytes are never zero (zeros are what holes and extensions read)
 * and say which operation wrote them. */
static void fill(struct ex *e, uint8_t *p, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(1 + (e->opno * 31 + off + i + ((off + i) >> 9)) % 255);
}

static void model_resize(struct ex *e, size_t nsize)
{
	if (nsize < e->size)
		memset(e->model + nsize, 0, e->size - nsize);
	e->size = nsize;
}

static void model_write(struct ex *e, const uint8_t *p, uint64_t off, size_t n)
{
	memcpy(e->model + off, p, n);
	if (off + n > e->size)
		e->size = off + n;
}

/* ---- concurrent readers: range publication ------------------------------ */

static int overlaps(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return a < d && c < b;
}

/* The writer announces [lo, hi) and waits until no reader reads there. */
static void busy_begin(struct ex *e, uint64_t lo, uint64_t hi)
{
	if (!e->nreaders || lo >= hi)
		return;
	pthread_mutex_lock(&e->mu);
	e->busy = 1;
	e->busy_lo = lo;
	e->busy_hi = hi;
	for (;;) {
		int clash = 0;
		for (int i = 0; i < e->nreaders; i++)
			if (e->rd[i].used && overlaps(lo, hi, e->rd[i].lo, e->rd[i].hi))
				clash = 1;
		if (!clash)
			break;
		pthread_cond_wait(&e->cv, &e->mu);
	}
	pthread_mutex_unlock(&e->mu);
}

/* Model updates happen under e->mu when readers run. */
static void model_lock(struct ex *e)
{
	if (e->nreaders)
		pthread_mutex_lock(&e->mu);
}

static void model_unlock(struct ex *e)
{
	if (e->nreaders) {
		e->busy = 0;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
	}
}

struct reader {
	struct ex *e;
	int id;
	uint64_t rng;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct ex *e = r->e;
	uint8_t *buf = malloc(4 * BLK);
	int fd = -1;

	if (!buf)
		return NULL;
	for (;;) {
		if (fd < 0 || next_rand(&r->rng) % 500 == 0) {
			if (fd >= 0)
				close(fd);
			/* Odd readers bypass the page cache: their reads
			 * reach the daemon while the writer works. */
			fd = open(e->path, O_RDONLY | (r->id % 2 ? O_DIRECT : 0));
			if (fd < 0) {
				pthread_mutex_lock(&e->mu);
				die(e, "reader %d: open: %s", r->id, strerror(errno));
			}
		}
		pthread_mutex_lock(&e->mu);
		if (e->done) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		uint64_t size = e->size, lo, hi;
		if (size == 0) {
			pthread_mutex_unlock(&e->mu);
			usleep(200);
			continue;
		}
		lo = next_rand(&r->rng) % size;
		/* Near a block boundary half of the time. */
		if (next_rand(&r->rng) % 2) {
			uint64_t b = (lo / BLK) * BLK;
			lo = b >= 32 ? b - next_rand(&r->rng) % 32 : b;
		}
		hi = lo + 1 + next_rand(&r->rng) % (4 * BLK);
		if (hi > size)
			hi = size;
		if (e->busy && overlaps(lo, hi, e->busy_lo, e->busy_hi)) {
			pthread_mutex_unlock(&e->mu);
			sched_yield();
			continue;
		}
		e->rd[r->id] = (struct range){ 1, lo, hi };
		pthread_mutex_unlock(&e->mu);

		ssize_t got = pread(fd, buf, hi - lo, (off_t)lo);
		int err = errno;

		pthread_mutex_lock(&e->mu);
		if (got < 0)
			die(e, "reader %d: pread [%" PRIu64 ", %" PRIu64 "): %s", r->id, lo, hi, strerror(err));
		if ((uint64_t)got != hi - lo)
			die(e, "reader %d: pread [%" PRIu64 ", %" PRIu64 ") returned %zd bytes below the size %zu",
			    r->id, lo, hi, got, e->size);
		compare(e, "concurrent read", buf, lo, hi - lo);
		e->rd[r->id].used = 0;
		e->reader_reads++;
		e->reader_bytes += hi - lo;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		/* A breath between reads: the writer must get the CPU too
		 * (two cores shared by everything). */
		usleep(50);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* ---- file operations ----------------------------------------------------- */

static void open_file(struct ex *e, int create)
{
	e->fd = open(e->path, O_RDWR | (create ? O_CREAT : 0), 0644);
	if (e->fd < 0)
		die(e, "open %s: %s", e->path, strerror(errno));
	e->afd = open(e->path, O_WRONLY | O_APPEND);
	if (e->afd < 0)
		die(e, "open %s O_APPEND: %s", e->path, strerror(errno));
}

static void close_file(struct ex *e)
{
	if (close(e->afd))
		die(e, "close (O_APPEND descriptor): %s", strerror(errno));
	if (close(e->fd))
		die(e, "close: %s", strerror(errno));
	e->fd = e->afd = -1;
}

static void check_size(struct ex *e, const char *after)
{
	struct stat st;

	if (fstat(e->fd, &st))
		die(e, "fstat after %s: %s", after, strerror(errno));
	if ((uint64_t)st.st_size != e->size)
		die(e, "size after %s is %lld, model says %zu", after, (long long)st.st_size, e->size);
}

/* The whole file, in reads of up to 128 KiB, and EOF right at the size. */
static void check_all(struct ex *e, const char *why)
{
	uint64_t off = 0;
	char what[64];

	snprintf(what, sizeof(what), "whole-file read (%s)", why);
	check_size(e, why);
	while (off < e->size) {
		size_t n = e->size - off < 8 * BLK ? e->size - off : 8 * BLK;
		ssize_t got = pread(e->fd, e->buf, n, (off_t)off);
		if (got < 0)
			die(e, "%s at %" PRIu64 ": %s", what, off, strerror(errno));
		if ((size_t)got != n)
			die(e, "%s at %" PRIu64 ": %zd bytes, expected %zu", what, off, got, n);
		compare(e, what, e->buf, off, n);
		off += n;
	}
	ssize_t got = pread(e->fd, e->buf, 1, (off_t)e->size);
	if (got != 0)
		die(e, "%s: read at the size %zu returned %zd, expected EOF (0)", what, e->size, got);
}

static uint64_t pick_off(struct ex *e, uint64_t limit)
{
	if (limit == 0)
		return 0;
	uint64_t r = rnd(e, 8), off;
	if (r < 3) {            /* at or near a block (inline) boundary */
		off = rnd(e, limit / BLK + 2) * BLK;
		off += rnd(e, 129);
		off = off >= 64 ? off - 64 : 0;
	} else if (r == 3) {    /* near the current end */
		off = e->size + rnd(e, 129);
		off = off >= 64 ? off - 64 : 0;
	} else {
		off = rnd(e, limit);
	}
	return off < limit ? off : limit - 1;
}

static uint64_t pick_len(struct ex *e)
{
	uint64_t r = rnd(e, 8);
	if (r < 3)
		return 1 + rnd(e, 64);
	if (r < 6)
		return 1 + rnd(e, BLK + 64);
	return 1 + rnd(e, 4 * BLK);
}

static uint64_t pick_size(struct ex *e)
{
	uint64_t r = rnd(e, 6), s;
	if (r == 0)
		s = rnd(e, 65);
	else if (r < 3)
		s = rnd(e, e->maxlen / BLK + 1) * BLK + rnd(e, 5) - 2;   /* 16383/16384/16385... */
	else
		s = rnd(e, e->maxlen + 1);
	if ((int64_t)s < 0)
		s = 0;
	return s > e->maxlen ? e->maxlen : s;
}

static void op_read(struct ex *e, struct op *o)
{
	uint64_t off = pick_off(e, e->size + BLK), len = pick_len(e);
	size_t want = off >= e->size ? 0 : (e->size - off < len ? e->size - off : len);

	o->off = off;
	o->len = len;
	ssize_t got = pread(e->fd, e->buf, len, (off_t)off);
	if (got < 0)
		die(e, "pread [%" PRIu64 ", +%" PRIu64 "): %s", off, len, strerror(errno));
	if ((size_t)got != want)
		die(e, "pread [%" PRIu64 ", +%" PRIu64 ") returned %zd bytes, model says %zu (size %zu)",
		    off, len, got, want, e->size);
	compare(e, "pread", e->buf, off, want);
}

static void op_write(struct ex *e, struct op *o)
{
	uint64_t off = pick_off(e, e->maxlen), len = pick_len(e);

	if (off + len > e->maxlen)
		len = e->maxlen - off;
	o->off = off;
	o->len = len;
	fill(e, e->buf, off, len);
	busy_begin(e, off, off + len);
	ssize_t put = pwrite(e->fd, e->buf, len, (off_t)off);
	if (put < 0)
		die(e, "pwrite [%" PRIu64 ", +%" PRIu64 "): %s", off, len, strerror(errno));
	if ((uint64_t)put != len)
		die(e, "pwrite [%" PRIu64 ", +%" PRIu64 ") wrote %zd bytes", off, len, put);
	model_lock(e);
	model_write(e, e->buf, off, len);
	model_unlock(e);
	if (off + len > o->size_before)
		check_size(e, "pwrite");
}

static void op_append(struct ex *e, struct op *o)
{
	uint64_t off = e->size, len = pick_len(e);

	if (off + len > e->maxlen)
		len = e->maxlen - off;
	o->off = off;
	o->len = len;
	fill(e, e->buf, off, len);
	busy_begin(e, off, UINT64_MAX);
	ssize_t put = write(e->afd, e->buf, len);
	if (put < 0)
		die(e, "append of %" PRIu64 " bytes: %s", len, strerror(errno));
	if ((uint64_t)put != len)
		die(e, "append of %" PRIu64 " bytes wrote %zd", len, put);
	model_lock(e);
	model_write(e, e->buf, off, len);
	model_unlock(e);
	check_size(e, "append");
}

static void op_truncate(struct ex *e, struct op *o, int by_path)
{
	uint64_t s = pick_size(e);

	o->len = s;
	busy_begin(e, s < e->size ? s : e->size, UINT64_MAX);
	int rc = by_path ? truncate(e->path, (off_t)s) : ftruncate(e->fd, (off_t)s);
	if (rc)
		die(e, "%s to %" PRIu64 ": %s", by_path ? "truncate" : "ftruncate", s, strerror(errno));
	model_lock(e);
	model_resize(e, s);
	model_unlock(e);
	check_size(e, by_path ? "truncate" : "ftruncate");
}

/* Modes wormfs refuses (src/nsio.c ns_fallocate: only KEEP_SIZE is
 * accepted); the kernel refuses some of them before wormfs sees them. */
static const int refused_modes[] = {
	FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	FALLOC_FL_ZERO_RANGE,
	FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	FALLOC_FL_COLLAPSE_RANGE,
	FALLOC_FL_INSERT_RANGE,
	FALLOC_FL_UNSHARE_RANGE,
};

static void op_fallocate(struct ex *e, struct op *o)
{
	uint64_t r = rnd(e, 10), off = pick_off(e, e->maxlen), len = pick_len(e);
	int mode;

	if (off + len > e->maxlen)
		len = e->maxlen - off;
	if (len == 0) {     /* fallocate(2) wants len > 0 */
		off = e->maxlen - 1;
		len = 1;
	}
	if (r < 4)
		mode = 0;
	else if (r < 6)
		mode = FALLOC_FL_KEEP_SIZE;
	else
		mode = refused_modes[rnd(e, sizeof(refused_modes) / sizeof(refused_modes[0]))];
	o->off = off;
	o->len = len;
	o->mode = mode;
	if (mode == 0 && off + len > e->size)
		busy_begin(e, e->size, UINT64_MAX);
	int rc = fallocate(e->fd, mode, (off_t)off, (off_t)len);
	int err = errno;
	if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
		if (rc)
			die(e, "fallocate mode 0x%x [%" PRIu64 ", +%" PRIu64 "): %s", (unsigned)mode, off, len,
			    strerror(err));
		model_lock(e);
		if (mode == 0 && off + len > e->size)
			model_resize(e, off + len);
		model_unlock(e);
	} else {
		o->kind = OP_FALLOC_REFUSED;
		if (rc == 0)
			die(e, "fallocate mode 0x%x succeeded; wormfs supports only 0 and KEEP_SIZE",
			    (unsigned)mode);
		if (err != EOPNOTSUPP)
			die(e, "fallocate mode 0x%x: %s, expected EOPNOTSUPP", (unsigned)mode, strerror(err));
	}
	check_size(e, "fallocate");
}

static uint8_t *map_file(struct ex *e, uint64_t pg, size_t maplen, int prot)
{
	void *p = mmap(NULL, maplen, prot, MAP_SHARED, e->fd, (off_t)pg);
	if (p == MAP_FAILED)
		die(e, "mmap [%" PRIu64 ", +%zu): %s", pg, maplen, strerror(errno));
	return p;
}

static void op_mread(struct ex *e, struct op *o)
{
	if (e->size == 0) {
		o->kind = OP_READ;
		op_read(e, o);
		return;
	}
	uint64_t off = pick_off(e, e->size), len = pick_len(e);
	if (off + len > e->size)
		len = e->size - off;
	o->off = off;
	o->len = len;
	uint64_t pg = off & ~(uint64_t)(e->pagesz - 1);
	/* Map to the size: the rest of the last page must read zero. */
	size_t maplen = e->size - pg;
	uint8_t *p = map_file(e, pg, maplen, PROT_READ);
	compare(e, "mmap read", p + (off - pg), off, len);
	size_t tail = (size_t)(-(int64_t)e->size & (e->pagesz - 1));
	for (size_t i = 0; i < tail; i++)
		if (p[maplen + i] != 0)
			die(e, "mmap: byte %zu past EOF (size %zu) reads 0x%02x, not zero", i, e->size,
			    p[maplen + i]);
	if (munmap(p, maplen))
		die(e, "munmap: %s", strerror(errno));
}

static void op_mwrite(struct ex *e, struct op *o)
{
	uint64_t off = pick_off(e, e->maxlen), len = pick_len(e);

	if (off + len > e->maxlen)
		len = e->maxlen - off;
	o->off = off;
	o->len = len;
	/* A mapping cannot extend the file: grow it first (part of the op). */
	if (off + len > e->size) {
		busy_begin(e, e->size, UINT64_MAX);
		if (ftruncate(e->fd, (off_t)(off + len)))
			die(e, "mwrite: ftruncate to %" PRIu64 ": %s", off + len, strerror(errno));
		model_lock(e);
		model_resize(e, off + len);
		model_unlock(e);
	}
	uint64_t pg = off & ~(uint64_t)(e->pagesz - 1);
	size_t maplen = off + len - pg;
	fill(e, e->buf, off, len);
	/* Whole pages go back to the daemon: publish them. */
	uint64_t hi = (off + len + e->pagesz - 1) & ~(uint64_t)(e->pagesz - 1);
	busy_begin(e, pg, hi);
	uint8_t *p = map_file(e, pg, maplen, PROT_READ | PROT_WRITE);
	memcpy(p + (off - pg), e->buf, len);
	if (msync(p, maplen, MS_SYNC))
		die(e, "msync [%" PRIu64 ", +%zu): %s", pg, maplen, strerror(errno));
	if (munmap(p, maplen))
		die(e, "munmap: %s", strerror(errno));
	model_lock(e);
	model_write(e, e->buf, off, len);
	model_unlock(e);
	check_size(e, "mmap write");
}

static void do_op(struct ex *e)
{
	struct op *o = &e->hist[e->opno % HIST];
	uint64_t r = rnd(e, 100);

	*o = (struct op){ .no = e->opno, .size_before = e->size, .size_after = e->size };
	/* Weights: reads 22, writes 22, append 8, ftruncate 6, truncate 4,
	 * fallocate 8, fsync 3, reopen 4, whole check 1, mmap 22 (else plain). */
	if (r < 11)
		o->kind = e->use_mmap ? OP_MREAD : OP_READ;
	else if (r < 22)
		o->kind = e->use_mmap ? OP_MWRITE : OP_WRITE;
	else if (r < 44)
		o->kind = OP_READ;
	else if (r < 66)
		o->kind = OP_WRITE;
	else if (r < 74)
		o->kind = OP_APPEND;
	else if (r < 80)
		o->kind = OP_FTRUNC;
	else if (r < 84)
		o->kind = OP_PTRUNC;
	else if (r < 92)
		o->kind = OP_FALLOC;
	else if (r < 95)
		o->kind = OP_FSYNC;
	else if (r < 99)
		o->kind = OP_REOPEN;
	else
		o->kind = OP_CHECK;

	switch (o->kind) {
	case OP_READ: op_read(e, o); break;
	case OP_WRITE: op_write(e, o); break;
	case OP_MREAD: op_mread(e, o); break;
	case OP_MWRITE: op_mwrite(e, o); break;
	case OP_APPEND: op_append(e, o); break;
	case OP_FTRUNC: op_truncate(e, o, 0); break;
	case OP_PTRUNC: op_truncate(e, o, 1); break;
	case OP_FALLOC: op_fallocate(e, o); break;
	case OP_FSYNC:
		o->mode = (int)rnd(e, 2);
		if ((o->mode ? fdatasync(e->fd) : fsync(e->fd)))
			die(e, "%s: %s", o->mode ? "fdatasync" : "fsync", strerror(errno));
		break;
	case OP_REOPEN:
		close_file(e);
		open_file(e, 0);
		if (rnd(e, 4) == 0)
			check_all(e, "after reopen");
		break;
	case OP_CHECK: check_all(e, "periodic"); break;
	}
	o->size_after = e->size;
	e->counts[o->kind]++;
	if (e->verbose)
		print_op(stdout, o);
}

/* ---- state file (segmented runs) ---------------------------------------- */

struct state_hdr {
	uint64_t magic, seed, rng, nops, opno, maxlen, size, use_mmap;
	uint64_t counts[OP_NKINDS];
};

static int load_state(struct ex *e)
{
	struct state_hdr h;
	FILE *f = fopen(e->state, "rb");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != STATE_MAGIC || h.maxlen != e->maxlen ||
	    h.size > h.maxlen || fread(e->hist, sizeof(e->hist), 1, f) != 1 ||
	    fread(e->model, 1, h.maxlen, f) != h.maxlen) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	e->seed = h.seed;
	e->rng = h.rng;
	e->nops = h.nops;
	e->opno = h.opno;
	e->size = h.size;
	e->use_mmap = (int)h.use_mmap;
	memcpy(e->counts, h.counts, sizeof(e->counts));
	return 1;
}

static int save_state(struct ex *e)
{
	struct state_hdr h = { STATE_MAGIC, e->seed, e->rng, e->nops, e->opno, e->maxlen,
			       e->size, (uint64_t)e->use_mmap, { 0 } };
	char tmp[4096];
	FILE *f;

	memcpy(h.counts, e->counts, sizeof(h.counts));
	snprintf(tmp, sizeof(tmp), "%s.tmp", e->state);
	f = fopen(tmp, "wb");
	if (!f)
		return -errno;
	int bad = fwrite(&h, sizeof(h), 1, f) != 1 || fwrite(e->hist, sizeof(e->hist), 1, f) != 1 ||
		  fwrite(e->model, 1, e->maxlen, f) != e->maxlen;
	if (fclose(f) || bad)
		return -EIO;
	return rename(tmp, e->state) ? -errno : 0;
}

/* ---- main ---------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: fileops_model [-s SEED] [-n OPS] [-l MAXLEN] [-m] [-r READERS] "
			"[-S STATE [-k OPS]] [-v] FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct ex e = { .nops = 20000, .maxlen = 256 * 1024, .fd = -1, .afd = -1 };
	int c, have_seed = 0, resumed = 0;
	pthread_t th[MAXREADERS];
	struct reader rs[MAXREADERS];

	while ((c = getopt(argc, argv, "s:n:l:mr:S:k:v")) != -1) {
		switch (c) {
		case 's': e.seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case 'n': e.nops = strtoull(optarg, NULL, 0); break;
		case 'l': e.maxlen = strtoull(optarg, NULL, 0); break;
		case 'm': e.use_mmap = 1; break;
		case 'r': e.nreaders = atoi(optarg); break;
		case 'S': e.state = optarg; break;
		case 'k': e.seg_ops = strtoull(optarg, NULL, 0); break;
		case 'v': e.verbose = 1; break;
		default: return usage();
		}
	}
	if (optind + 1 != argc || e.maxlen < 1 || e.maxlen > (1u << 30) || e.nreaders < 0 ||
	    e.nreaders > MAXREADERS)
		return usage();
	e.path = argv[optind];
	e.pagesz = sysconf(_SC_PAGESIZE);
	e.model = calloc(1, e.maxlen);
	e.buf = malloc(e.maxlen > 8 * BLK ? e.maxlen : 8 * BLK);
	if (!e.model || !e.buf)
		return 1;
	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		e.seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
	}
	if (e.state) {
		int rc = load_state(&e);
		if (rc < 0) {
			fprintf(stderr, "state file %s: %s\n", e.state, strerror(-rc));
			return 2;
		}
		resumed = rc;
	}
	if (!resumed) {
		e.rng = e.seed;
		/* A fresh run starts from an empty file. */
		int fd = open(e.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || close(fd))
			die(&e, "create %s: %s", e.path, strerror(errno));
	}
	printf("seed=%" PRIu64 " ops=%" PRIu64 " maxlen=%zu mmap=%d readers=%d resumed_after=%" PRIu64 "\n",
	       e.seed, e.nops, e.maxlen, e.use_mmap, e.nreaders, e.opno);
	fflush(stdout);

	open_file(&e, 0);
	/* After a remount, the whole file first. */
	check_all(&e, resumed ? "after remount" : "start");
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.cv, NULL);
	for (int i = 0; i < e.nreaders; i++) {
		rs[i] = (struct reader){ &e, i, e.seed ^ (0x5bd1e995ull * (uint64_t)(i + 1)) };
		if (pthread_create(&th[i], NULL, reader_main, &rs[i]))
			die(&e, "pthread_create failed");
	}
	uint64_t stop = e.nops;
	if (e.state && e.seg_ops && e.opno + e.seg_ops < stop)
		stop = e.opno + e.seg_ops;
	while (e.opno < stop) {
		e.opno++;
		do_op(&e);
	}
	if (e.nreaders) {
		pthread_mutex_lock(&e.mu);
		e.done = 1;
		pthread_mutex_unlock(&e.mu);
		for (int i = 0; i < e.nreaders; i++)
			pthread_join(th[i], NULL);
	}
	check_all(&e, "end");
	close_file(&e);
	if (e.state) {
		int rc = save_state(&e);
		if (rc)
			die(&e, "save state %s: %s", e.state, strerror(-rc));
	}
	printf("ops=%" PRIu64, e.opno);
	for (int k = 0; k < OP_NKINDS; k++)
		printf(" %s=%" PRIu64, opname[k], e.counts[k]);
	if (e.nreaders)
		printf(" concurrent_reads=%" PRIu64 " concurrent_bytes=%" PRIu64, e.reader_reads,
		       e.reader_bytes);
	printf(" size=%zu\n", e.size);
	free(e.model);
	free(e.buf);
	return e.opno < e.nops ? 3 : 0;
}
