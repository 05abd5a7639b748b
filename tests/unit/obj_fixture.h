/* obj_fixture.h: the store, KMS, random source and helpers shared by the
 * obj unit tests (test_obj.c, test_obj_inline.c): each test runs against
 * a real store and a real local KMS. Included once per test program. */
#ifndef WORMFS_OBJ_FIXTURE_H
#define WORMFS_OBJ_FIXTURE_H
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "clock.h"
#include "crypto.h"
#include "kms.h"
#include "obj.h"
#include "store.h"

#define BS ((uint64_t)OBJ_BLOCK_SIZE)
#define SLOT ((uint64_t)OBJ_SLOT_SIZE)

static struct {
	char dir[64];
	store *s;
	kms *k;
} E;

struct tobj {
	struct obj_ref r;
	wcrypto_aead *key;
	int fd;
};

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static inline void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static inline uint64_t now(void)
{
	return (uint64_t)clock_monotonic_ns();
}

static inline int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static inline void setup(void)
{
	char err[256], path[256], keys[300];
	struct kms_params p;

	cr_assert_eq(wcrypto_init(), 0);
	rng_state = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	if (!rng_state)
		rng_state = 1;
	cr_log_info("seed %llu", (unsigned long long)rng_state);
	strcpy(E.dir, "/tmp/test_obj.XXXXXX");
	cr_assert_not_null(mkdtemp(E.dir));
	snprintf(path, sizeof(path), "%s/store", E.dir);
	cr_assert_eq(store_create(path, "# test\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_open(path, &E.s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_subpath(E.s, "keys", keys, sizeof(keys)), 0);
	cr_assert_eq(kms_create(keys, NULL, 0), 0);
	kms_params_default(&p);
	cr_assert_eq(kms_open(keys, NULL, 0, &p, &E.k, err, sizeof(err)), 0, "%s", err);
}

static inline void teardown(void)
{
	kms_close(E.k);
	store_close(E.s);
	nftw(E.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}


static inline void tobj_new(struct tobj *o, int alg)
{
	cr_assert_eq(obj_create(E.s, E.k, alg, &o->r, &o->fd, &o->key, now()), 0);
	o->r.key = o->key;
	cr_assert_eq(o->r.size, 0);
	cr_assert_eq(o->r.gen, 0);
	o->r.write_gen = 1;
}

static inline void tobj_free(struct tobj *o)
{
	close(o->fd);
	obj_map_free(o->r.map);
	o->r.map = NULL;
	wcrypto_aead_free(o->key);
}

/* The block map of the state o->r names (gen), read from disk as at a
 * mount, in place of the one the session kept in memory. */
static inline void treload(struct tobj *o)
{
	obj_map_free(o->r.map);
	o->r.map = NULL;
	cr_assert_eq(obj_map_load(E.s, o->fd, &o->r, &o->r.map), 0);
}

static inline void tcommit(struct tobj *o)
{
	cr_assert_eq(obj_commit(E.s, o->fd, &o->r, 0), 0);
	cr_assert_eq(obj_settle(o->fd, &o->r), 0);
	o->r.csize = o->r.size;
	o->r.gen = o->r.write_gen;
	/* As the node does: which record of gen was committed. */
	memcpy(o->r.commit, o->r.wcommit, sizeof(o->r.commit));
	o->r.write_gen++;
}

static inline void twrite(struct tobj *o, const uint8_t *buf, size_t n, uint64_t off)
{
	cr_assert_eq(obj_write(o->fd, &o->r, buf, n, off), (ssize_t)n, "write %zu at %llu", n,
		     (unsigned long long)off);
}

/* Read [off, off+n) and compare with the reference model. */
static inline void check_range(struct tobj *o, const uint8_t *ref, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n + 1);
	size_t want = off >= o->r.size ? 0 : (n < o->r.size - off ? n : (size_t)(o->r.size - off));
	ssize_t got;

	cr_assert_not_null(buf);
	got = obj_read(o->fd, &o->r, buf, n, off);
	cr_assert_eq(got, (ssize_t)want, "read %zu at %llu of %llu: %zd", n,
		     (unsigned long long)off, (unsigned long long)o->r.size, got);
	cr_assert(memcmp(buf, ref + off, want) == 0, "content differs at %llu+%zu",
		  (unsigned long long)off, n);
	free(buf);
}

static inline void check_all(struct tobj *o, const uint8_t *ref)
{
	check_range(o, ref, 0, (size_t)o->r.size + 10);
}

static inline off_t flen(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

static inline int verify(struct tobj *o, const char **what, uint64_t *bad)
{
	return obj_verify(E.s, E.k, &o->r, now(), what, bad);
}

static inline void verify_ok(struct tobj *o)
{
	const char *what;
	uint64_t bad;
	int rc = verify(o, &what, &bad);
	cr_assert_eq(rc, 0, "verify: %d %s block %llu", rc, what, (unsigned long long)bad);
}

#endif
