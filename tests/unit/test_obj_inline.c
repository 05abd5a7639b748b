/* Unit tests for obj: inline objects (one block kept in meta), moving
 * them to a file, and two threads sealing one write (obj_sealer). */
#include <signal.h>
#include <sys/resource.h>

#include "obj_fixture.h"

TestSuite(obj, .init = setup, .fini = teardown);

/* ---- inline objects (one block kept in meta) ---------------------------- */

static void tinl_new(struct tobj *o)
{
	cr_assert_eq(obj_key_new(E.k, 0, &o->r, &o->key, now()), 0);
	o->r.key = o->key;
	o->r.write_gen = 1;
	o->fd = -1;
}

/* Seal n bytes with write_gen and commit that generation. */
static size_t tinl_seal(struct tobj *o, const uint8_t *p, size_t n, uint8_t *slot)
{
	cr_assert_eq(obj_inline_seal(&o->r, p, n, slot), 0);
	o->r.size = n;
	o->r.gen = o->r.write_gen++;
	return obj_inline_len(n);
}

Test(obj, inline_roundtrip_and_limits)
{
	static const size_t sizes[] = { 0, 1, 100, 4095, OBJ_INLINE_MAX - 1, OBJ_INLINE_MAX };
	uint8_t *p = malloc(OBJ_INLINE_MAX), *q = malloc(OBJ_INLINE_MAX),
		*slot = malloc(obj_inline_len(OBJ_INLINE_MAX) + 1);
	struct tobj o;

	cr_assert(p && q && slot);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		tinl_new(&o);
		fill_random(p, sizes[i]);
		size_t len = tinl_seal(&o, p, sizes[i], slot);
		cr_assert_eq(len, sizes[i] + OBJ_BLOCK_OVERHEAD);
		cr_assert_eq(obj_inline_open(&o.r, slot, len, q), 0, "size %zu", sizes[i]);
		cr_assert_eq(memcmp(p, q, sizes[i]), 0);
		tobj_free(&o);
	}
	tinl_new(&o);
	cr_assert_eq(obj_inline_seal(&o.r, p, OBJ_INLINE_MAX + 1, slot), -EINVAL);
	o.r.write_gen = 0;   /* no session: nothing to seal with */
	cr_assert_eq(obj_inline_seal(&o.r, p, 1, slot), -EINVAL);
	tobj_free(&o);
	free(p);
	free(q);
	free(slot);
}

Test(obj, inline_fresh_nonce_per_seal)
{
	uint8_t p[64], a[64 + OBJ_BLOCK_OVERHEAD], b[64 + OBJ_BLOCK_OVERHEAD];
	struct tobj o;

	tinl_new(&o);
	fill_random(p, sizeof(p));
	tinl_seal(&o, p, sizeof(p), a);
	o.r.write_gen = o.r.gen;   /* the same generation again */
	tinl_seal(&o, p, sizeof(p), b);
	cr_assert_neq(memcmp(a + 8, b + 8, sizeof(a) - 8), 0, "equal plaintexts, equal ciphertexts");
	tobj_free(&o);
}

Test(obj, inline_tamper)
{
	uint8_t p[300], q[300], old[300 + OBJ_BLOCK_OVERHEAD], cur[301 + OBJ_BLOCK_OVERHEAD],
		bad[301 + OBJ_BLOCK_OVERHEAD];
	size_t len = sizeof(p) + OBJ_BLOCK_OVERHEAD;
	struct tobj o, other;
	const char *what;

	tinl_new(&o);
	fill_random(p, sizeof(p));
	tinl_seal(&o, p, sizeof(p), old);
	tinl_seal(&o, p, sizeof(p), cur);
	cr_assert_eq(obj_inline_open(&o.r, cur, len, q), 0);
	/* Every byte, one random bit each: never opens. */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, cur, len);
		bad[i] ^= (uint8_t)(1u << rnd_below(8));
		cr_assert_eq(obj_inline_open(&o.r, bad, len, q), -EIO, "flip in byte %zu", i);
	}
	/* An older value of the same object (generation bound in the AD). */
	cr_assert_eq(obj_inline_open(&o.r, old, len, q), -EIO);
	cr_assert_eq(obj_inline_verify(E.k, &o.r, old, len, now(), &what), -EIO);
	cr_assert_str_eq(what, "stale generation");
	/* Cut and extended. */
	cr_assert_eq(obj_inline_open(&o.r, cur, len - 1, q), -EIO);
	memcpy(bad, cur, len);
	bad[len] = 0;
	cr_assert_eq(obj_inline_open(&o.r, bad, len + 1, q), -EIO);
	cr_assert_eq(obj_inline_verify(E.k, &o.r, bad, len + 1, now(), &what), -EIO);
	cr_assert_str_eq(what, "length mismatch");
	/* Another object's value of the same size and generation. */
	tinl_new(&other);
	tinl_seal(&other, p, sizeof(p), bad);
	tinl_seal(&other, p, sizeof(p), bad);
	cr_assert_eq(other.r.gen, o.r.gen);
	cr_assert_eq(obj_inline_open(&o.r, bad, len, q), -EIO);
	cr_assert_eq(obj_inline_verify(E.k, &o.r, bad, len, now(), &what), -EIO);
	cr_assert_str_eq(what, "inline content fails authentication");
	cr_assert_eq(obj_inline_verify(E.k, &o.r, cur, len, now(), &what), 0);
	tobj_free(&other);
	tobj_free(&o);
}

/* Moving an inline object to a file reuses its id: a file left by an
 * interrupted move is truncated, never appended to. */
Test(obj, file_create_excl_and_truncate)
{
	struct tobj o;
	struct stat st;
	int fd;

	tinl_new(&o);
	cr_assert_eq(obj_file_create(E.s, &o.r, 1, &fd), 0);
	cr_assert_eq(pwrite(fd, "junk", 4, 100000), 4);
	close(fd);
	cr_assert_eq(obj_file_create(E.s, &o.r, 1, &fd), -EEXIST);
	cr_assert_eq(obj_file_create(E.s, &o.r, 0, &fd), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, OBJ_HEADER_SIZE);
	o.fd = fd;
	o.r.size = 0;
	cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), 0);
	close(fd);
	tobj_free(&o);
}

/* ---- two threads sealing one write (obj_sealer) ------------------------- */

/* Large writes at odd offsets (partial first and last blocks, several
 * pwrite chunks) with the helper sealing half of each chunk. */
static uint64_t lrnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static void lfill(uint64_t *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)lrnd(s);
}

/* Thread-safe: its own random state (the writers run at once). */
static void sealer_writes(obj_sealer *sealer, uint64_t seed)
{
	const uint64_t size = 3 * (1u << 20) + 123;
	uint8_t *ref = calloc(1, size + 64);
	uint64_t s = seed | 1;
	struct tobj o;

	cr_assert_not_null(ref);
	lfill(&s, ref, size);
	tobj_new(&o, 0);
	o.r.sealer = sealer;
	twrite(&o, ref, (1u << 20) + 5, 0);
	twrite(&o, ref + (1u << 20) + 5, size - (1u << 20) - 5, (1u << 20) + 5);
	for (int i = 0; i < 12; i++) {
		uint64_t len = (128u << 10) + lrnd(&s) % (1200u << 10);
		uint64_t off = lrnd(&s) % (size - len);
		lfill(&s, ref + off, (size_t)len);
		twrite(&o, ref + off, (size_t)len, off);
	}
	check_all(&o, ref);
	tcommit(&o);
	check_all(&o, ref);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

static void *sealer_writer(void *arg)
{
	static _Atomic uint64_t next = 0x9e3779b97f4a7c15ull;
	sealer_writes(arg, atomic_fetch_add(&next, 0x632be59bd9b4e019ull));
	return NULL;
}

Test(obj, parallel_seal_large_writes)
{
	obj_sealer *sealer = NULL;
	pthread_t t[3];

	cr_assert_eq(obj_sealer_new(&sealer), 0);
	sealer_writes(sealer, rnd());
	/* Three writers share one helper: whoever finds it busy seals alone. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, sealer_writer, sealer), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	obj_sealer_free(sealer);
}

/* A 1 MiB write whose pieces (sealed and written by both threads, one
 * pwrite each) partly fail: the first pieces rewrite blocks in place, the
 * later ones cross a file size limit (EFBIG part way). The write fails, the
 * blocks it rewrote are put back, nothing reads as damage, and the next
 * write (limit lifted) and the commit are whole. */
Test(obj, parallel_seal_write_failing_part_way)
{
	const uint64_t size = 2u << 20, off = size - (512u << 10), len = 1u << 20;
	uint8_t *ref = malloc(size + len + 64), *neu = malloc(len);
	obj_sealer *sealer = NULL;
	struct rlimit keep, lim;
	struct tobj o;
	uint64_t s = rnd() | 1;

	cr_assert(ref && neu);
	lfill(&s, ref, size);
	lfill(&s, neu, len);
	cr_assert_eq(obj_sealer_new(&sealer), 0);
	tobj_new(&o, 0);
	o.r.sealer = sealer;
	twrite(&o, ref, size, 0);
	tcommit(&o);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &keep), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = keep;
	lim.rlim_cur = (rlim_t)flen(o.fd) + (300u << 10);   /* inside the 6th piece */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	o.r.torn = 0;
	cr_assert_eq(obj_write(o.fd, &o.r, neu, len, off), -EFBIG);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &keep), 0);
	cr_assert_eq(o.r.torn, 0);
	cr_assert_eq(o.r.size, size);
	check_all(&o, ref);
	memcpy(ref + off, neu, len);
	twrite(&o, neu, len, off);
	check_all(&o, ref);
	tcommit(&o);
	treload(&o);
	check_all(&o, ref);
	verify_ok(&o);
	tobj_free(&o);
	obj_sealer_free(sealer);
	free(ref);
	free(neu);
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* The helper's writeback works on its own dup of the file, closed when
 * done (at the latest when the helper stops): no descriptor is left, the
 * caller's stays open, and a bad one is refused (the caller then does it
 * itself). */
Test(obj, sealer_writeback_closes_its_dup)
{
	obj_sealer *sealer = NULL;
	uint8_t buf[4096];
	struct tobj o;
	int before;

	fill_random(buf, sizeof(buf));
	tobj_new(&o, 0);
	twrite(&o, buf, sizeof(buf), 0);
	cr_assert_eq(obj_sealer_new(&sealer), 0);
	before = open_fds();
	cr_assert_eq(obj_sealer_writeback(sealer, -1), 0);
	int queued = 0;
	for (int i = 0; i < 50; i++)
		queued += obj_sealer_writeback(sealer, o.fd);   /* or one is queued */
	cr_assert_geq(queued, 1);
	obj_sealer_free(sealer);
	cr_assert_eq(open_fds(), before);
	cr_assert_geq(fcntl(o.fd, F_GETFD), 0);
	check_all(&o, buf);
	tobj_free(&o);
}
