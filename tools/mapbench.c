/* mapbench: cost of write tags (content format 3) against format 2, in
 * process (README, Performance).
 *
 *   mapbench DIR [ROUNDS] [MIB]
 *
 * Creates a scratch store under DIR (removed at the end). Each round, for
 * format 2 and format 3 in turn: an object of MIB MiB (default 256)
 * written sequentially in 128 KiB requests and committed, read back whole
 * (128 KiB requests, its map loaded from disk), then one session of 2,000
 * random 4 KiB rewrites (some blocks twice) and a commit, and the whole
 * read again. Prints MB per second of CPU time (medians of the rounds)
 * and the map's bytes on disk (map file + commit record) after each
 * phase. Then the commit binding (issue 12): the CPU time of one map load
 * (what an open pays once per inode) of a format 3 object whose caller
 * names the committed record (r.commit, checked) and of one that names
 * none (not checked), medians of the rounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <time.h>
#include "benchutil.h"
#include "crypto.h"
#include "kms.h"
#include "obj.h"
#include "store.h"

#define REQ (128u * 1024u)
#define REWRITES 2000

static store *S;

/* CPU time of this process (user + system), not wall time: the machine
 * is shared, and a run queue would be measured as well. */
static int64_t cpu_ns(void)
{
	return bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}
static kms *K;

/* Bytes of the map on disk: the map file of gen, + 72 for the commit
 * record (format 3; it lives in the header, which exists anyway). */
static long map_bytes(const struct obj_ref *r, int fmt3)
{
	struct stat st;
	int fd;
	long n = fmt3 ? 72 : 0;

	if (store_aux_open(S, r->id, r->gen & 1 ? OBJ_MAP_SUFFIX1 : OBJ_MAP_SUFFIX0, O_RDONLY,
			   &fd) == 0) {
		if (fstat(fd, &st) == 0)
			n += (long)st.st_size;
		close(fd);
	}
	return n;
}

static void commit(int fd, struct obj_ref *r)
{
	int rc = obj_commit(S, fd, r, 0);
	if (!rc)
		rc = obj_settle(fd, r);
	if (rc)
		bench_die("commit", rc);
	r->csize = r->size;
	memcpy(r->commit, r->wcommit, sizeof(r->commit));   /* as the node */
	r->gen = r->write_gen++;
}

#define LOADS 100000

/* CPU microseconds per obj_map_load of r's committed state (LOADS of
 * them), with the binding checked (bound) or not. */
static double load_us(int fd, struct obj_ref *r, int bound)
{
	uint8_t keep[OBJ_COMMIT_BYTES];
	int64_t t0;
	int rc;

	memcpy(keep, r->commit, sizeof(keep));
	if (!bound)
		memset(r->commit, 0, sizeof(r->commit));
	t0 = cpu_ns();
	for (int i = 0; i < LOADS; i++) {
		obj_map *m = NULL;
		if ((rc = obj_map_load(S, fd, r, &m)) != 0)
			bench_die("map load", rc);
		obj_map_free(m);
	}
	memcpy(r->commit, keep, sizeof(keep));
	return (double)(cpu_ns() - t0) / 1e3 / LOADS;
}

/* One round of the binding: a one-run object of 1 MiB, loaded both ways
 * (alternating which goes first). */
static void round_bind(int i, uint8_t *buf, double *with, double *without)
{
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int fd;

	bench_obj_new(S, K, 0, 1, &r, &key, &fd);
	for (uint64_t off = 0; off < 8 * REQ; off += REQ)
		if (obj_write(fd, &r, buf, REQ, off) != (ssize_t)REQ)
			bench_die("write", EIO);
	commit(fd, &r);
	if (i % 2) {
		*without = load_us(fd, &r, 0);
		*with = load_us(fd, &r, 1);
	} else {
		*with = load_us(fd, &r, 1);
		*without = load_us(fd, &r, 0);
	}
	bench_obj_drop(S, &r, key, fd);
}

static double read_all(int fd, struct obj_ref *r, uint8_t *buf)
{
	int64_t t0;
	int rc;

	obj_map_free(r->map);
	r->map = NULL;
	if ((rc = obj_map_load(S, fd, r, &r->map)) != 0)
		bench_die("map load", rc);
	t0 = cpu_ns();
	for (uint64_t off = 0; off < r->size; off += REQ)
		if (obj_read(fd, r, buf, REQ, off) != (ssize_t)REQ)
			bench_die("read", EIO);
	return (double)r->size / 1e6 / ((double)(cpu_ns() - t0) / 1e9);
}

/* One round of one format: fills the four rates and two map sizes. */
static void round_one(int fmt3, uint64_t size, uint8_t *buf, double *wr, double *rd,
		      double *rw_us, double *rd2, long *m_once, long *m_rw, size_t *runs)
{
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int64_t t0;
	int fd;

	bench_obj_new(S, K, 0, fmt3, &r, &key, &fd);
	t0 = cpu_ns();
	for (uint64_t off = 0; off < size; off += REQ)
		if (obj_write(fd, &r, buf, REQ, off) != (ssize_t)REQ)
			bench_die("write", EIO);
	commit(fd, &r);
	*wr = (double)size / 1e6 / ((double)(cpu_ns() - t0) / 1e9);
	*m_once = map_bytes(&r, fmt3);
	*rd = read_all(fd, &r, buf);
	t0 = cpu_ns();
	for (int i = 0; i < REWRITES; i++) {
		/* Every 10th rewrite hits the block of the one before. */
		static uint64_t prev;
		uint64_t off = i % 10 == 9 ? prev : (uint64_t)(random() % (long)(size / 4096)) * 4096;
		prev = off;
		if (obj_write(fd, &r, buf, 4096, off) != 4096)
			bench_die("rewrite", EIO);
	}
	commit(fd, &r);
	*rw_us = (double)(cpu_ns() - t0) / 1e3 / REWRITES;
	*m_rw = map_bytes(&r, fmt3);
	*rd2 = read_all(fd, &r, buf);
	*runs = obj_map_runs(r.map);
	/* The block maps go with it (store_obj_unlink). */
	bench_obj_drop(S, &r, key, fd);
}

int main(int argc, char **argv)
{
	char dir[512];
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	uint64_t size = (uint64_t)(argc > 3 ? atoi(argv[3]) : 256) << 20;
	uint8_t *buf;
	double v[2][4][64], bw[64], bwo[64];
	long mo[2] = { 0, 0 }, mr[2] = { 0, 0 };
	size_t runs[2] = { 0, 0 };

	if (argc < 2 || rounds < 1 || rounds > 64 || size < REQ) {
		fprintf(stderr, "usage: mapbench DIR [ROUNDS 1-64] [MIB]\n");
		return 2;
	}
	bench_scratch_open(argv[1], dir, sizeof(dir), &S, &K);
	buf = malloc(REQ);
	if (!buf)
		bench_die("malloc", ENOMEM);
	wcrypto_random(buf, REQ);
	srandom(1);
	for (int i = 0; i < rounds; i++)
		for (int f = 0; f < 2; f++) {
			int fmt3 = (i + f) % 2;   /* alternate which goes first */
			round_one(fmt3, size, buf, &v[fmt3][0][i], &v[fmt3][1][i], &v[fmt3][2][i],
				  &v[fmt3][3][i], &mo[fmt3], &mr[fmt3], &runs[fmt3]);
		}
	printf("%d rounds, %llu MiB, medians\n", rounds, (unsigned long long)(size >> 20));
	printf("%-8s %10s %10s %14s %16s %12s %14s %6s\n", "format", "write MB/s", "read MB/s",
	       "rewrite us/4K", "read after MB/s", "map once B", "map rewrite B", "runs");
	for (int f = 0; f < 2; f++)
		printf("%-8s %10.0f %10.0f %14.1f %16.0f %12ld %14ld %6zu\n", f ? "3" : "2",
		       bench_median(v[f][0], rounds), bench_median(v[f][1], rounds),
		       bench_median(v[f][2], rounds), bench_median(v[f][3], rounds), mo[f], mr[f],
		       runs[f]);
	for (int i = 0; i < rounds; i++)
		round_bind(i, buf, &bw[i], &bwo[i]);
	printf("map load (format 3, one run), us of CPU: commit record checked %.2f, "
	       "not checked %.2f\n", bench_median(bw, rounds), bench_median(bwo, rounds));
	free(buf);
	bench_scratch_close(dir, S, K);
	return 0;
}
