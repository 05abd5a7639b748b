/* Unit tests for obj: the encrypted content format, against a real store
 * and a real local KMS. Inline objects and the sealing helper thread are
 * in test_obj_inline.c. */
#include "obj_fixture.h"

TestSuite(obj, .init = setup, .fini = teardown);

/* Write size bytes as random chunks, sequentially or in shuffled order. */
static void write_chunks(struct tobj *o, const uint8_t *ref, uint64_t size, int shuffled)
{
	uint64_t offs[512], lens[512], n = 0, off = 0;

	while (off < size) {
		uint64_t len = 1 + rnd_below(rnd_below(2) ? 300 : 40000);
		if (len > size - off)
			len = size - off;
		cr_assert_lt(n, 512);
		offs[n] = off;
		lens[n++] = len;
		off += len;
	}
	if (shuffled)
		for (uint64_t i = n; i > 1; i--) {
			uint64_t j = rnd_below(i), t;
			t = offs[i - 1]; offs[i - 1] = offs[j]; offs[j] = t;
			t = lens[i - 1]; lens[i - 1] = lens[j]; lens[j] = t;
		}
	for (uint64_t i = 0; i < n; i++)
		twrite(o, ref + offs[i], (size_t)lens[i], offs[i]);
}

static void roundtrip(int alg, uint64_t size, int shuffled)
{
	struct tobj o;
	uint8_t *ref = malloc(size + 64);

	cr_assert_not_null(ref);
	fill_random(ref, size);
	memset(ref + size, 0, 64);
	tobj_new(&o, alg);
	write_chunks(&o, ref, size, shuffled);
	cr_assert_eq(o.r.size, size);
	check_all(&o, ref);
	for (int i = 0; i < 30 && size; i++) {
		uint64_t off = rnd_below(size + 2);
		check_range(&o, ref, off, (size_t)rnd_below(3 * BS) + 1);
	}
	tcommit(&o);
	cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(size));
	check_all(&o, ref);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

static const uint64_t rt_sizes[] = {
	0, 1, OBJ_BLOCK_SIZE - 1, OBJ_BLOCK_SIZE, OBJ_BLOCK_SIZE + 1,
	5 * OBJ_BLOCK_SIZE + 7, (1u << 20) + 3,
};

Test(obj, file_length)
{
	cr_assert_eq(obj_file_length(0), OBJ_HEADER_SIZE);
	cr_assert_eq(obj_file_length(1), OBJ_HEADER_SIZE + 49);
	cr_assert_eq(obj_file_length(BS), OBJ_HEADER_SIZE + SLOT);
	cr_assert_eq(obj_file_length(BS + 1), OBJ_HEADER_SIZE + SLOT + 49);
}

Test(obj, roundtrip_sequential)
{
	for (size_t i = 0; i < sizeof(rt_sizes) / sizeof(rt_sizes[0]); i++)
		roundtrip(0, rt_sizes[i], 0);
}

Test(obj, roundtrip_random_offsets)
{
	for (size_t i = 0; i < sizeof(rt_sizes) / sizeof(rt_sizes[0]); i++)
		roundtrip(0, rt_sizes[i], 1);
}

Test(obj, roundtrip_both_algs)
{
	int algs[] = { WCRYPTO_AES256GCM, WCRYPTO_XCHACHA20POLY1305 };

	for (int a = 0; a < 2; a++) {
		if (!wcrypto_alg_valid(algs[a]))
			continue;
		roundtrip(algs[a], 5 * BS + 7, 1);
		roundtrip(algs[a], 1, 0);
	}
}

/* A file keeps its algorithm whatever the default is later. */
Test(obj, alg_recorded_per_object)
{
	int algs[] = { WCRYPTO_AES256GCM, WCRYPTO_XCHACHA20POLY1305 };
	uint8_t ref[3 * OBJ_BLOCK_SIZE + 5], hdr[16];

	fill_random(ref, sizeof(ref));
	for (int a = 0; a < 2; a++) {
		struct tobj o;
		struct obj_ref r;
		wcrypto_aead *key;
		int fd;

		if (!wcrypto_alg_valid(algs[a]))
			continue;
		unsetenv("WORMFS_FORCE_XCHACHA");
		tobj_new(&o, algs[a]);
		cr_assert_eq(o.r.alg, algs[a]);
		cr_assert_eq(pread(o.fd, hdr, 16, 0), 16);
		cr_assert(memcmp(hdr, "WORMOBJ1", 8) == 0);
		cr_assert_eq(hdr[12], algs[a]);
		twrite(&o, ref, sizeof(ref), 0);
		tcommit(&o);
		setenv("WORMFS_FORCE_XCHACHA", "1", 1);
		cr_assert_eq(wcrypto_default_alg(), WCRYPTO_XCHACHA20POLY1305);
		r = o.r;
		kms_cache_flush(E.k);
		cr_assert_eq(obj_key_open(E.k, &r, &key, now()), 0);
		r.key = key;
		cr_assert_eq(obj_open(E.s, &r, O_RDONLY, &fd), 0);
		uint8_t buf[sizeof(ref)];
		cr_assert_eq(obj_read(fd, &r, buf, sizeof(buf), 0), (ssize_t)sizeof(ref));
		cr_assert(memcmp(buf, ref, sizeof(ref)) == 0);
		verify_ok(&o);
		close(fd);
		wcrypto_aead_free(key);
		tobj_free(&o);
	}
	/* alg 0 picks the default (forced XChaCha here). */
	struct tobj d;
	tobj_new(&d, 0);
	cr_assert_eq(d.r.alg, WCRYPTO_XCHACHA20POLY1305);
	tobj_free(&d);
}

Test(obj, holes)
{
	struct tobj o;
	uint8_t data[100], buf[4 * OBJ_BLOCK_SIZE], raw[3 * OBJ_SLOT_SIZE];
	uint64_t off = 3 * BS + 10;

	fill_random(data, sizeof(data));
	tobj_new(&o, 0);
	twrite(&o, data, sizeof(data), off);
	cr_assert_eq(o.r.size, off + sizeof(data));
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)(off + sizeof(data)));
	for (uint64_t i = 0; i < off; i++)
		cr_assert_eq(buf[i], 0, "byte %llu", (unsigned long long)i);
	cr_assert(memcmp(buf + off, data, sizeof(data)) == 0);
	/* The hole slots were never written. */
	cr_assert_eq(pread(o.fd, raw, sizeof(raw), OBJ_HEADER_SIZE), (ssize_t)sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		cr_assert_eq(raw[i], 0);
	cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(o.r.size));
	tcommit(&o);
	verify_ok(&o);
	/* A partial write into a hole keeps the rest of the block zero. */
	twrite(&o, data, 10, BS + 100);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 2 * BS, 0), (ssize_t)(2 * BS));
	for (uint64_t i = 0; i < 2 * BS; i++)
		cr_assert_eq(buf[i], (i >= BS + 100 && i < BS + 110) ? data[i - BS - 100] : 0);
	/* Hole then extension past the final block of a non-empty object. */
	twrite(&o, data, sizeof(data), 9 * BS + 1);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 100, 3 * BS + 10), 100);
	cr_assert(memcmp(buf, data, 100) == 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 2 * BS, 4 * BS), (ssize_t)(2 * BS));
	for (uint64_t i = 0; i < 2 * BS; i++)
		cr_assert_eq(buf[i], 0);
	tcommit(&o);
	verify_ok(&o);
	tobj_free(&o);
}

Test(obj, read_bounds_and_refusals)
{
	struct tobj o;
	uint8_t data[1000], buf[2000];

	fill_random(data, sizeof(data));
	tobj_new(&o, 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), 0);
	twrite(&o, data, sizeof(data), 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 500), 500);
	cr_assert(memcmp(buf, data + 500, 500) == 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 1000), 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 5000), 0);
	cr_assert_eq(obj_write(o.fd, &o.r, data, 0, 0), 0);
	cr_assert_eq(obj_write(o.fd, &o.r, data, 1, OBJ_MAX_SIZE), -EFBIG);
	cr_assert_eq(obj_write(o.fd, &o.r, data, 2, OBJ_MAX_SIZE - 1), -EFBIG);
	cr_assert_eq(obj_write(o.fd, &o.r, data, 2, UINT64_MAX - 1), -EFBIG);
	cr_assert_eq(obj_truncate(o.fd, &o.r, OBJ_MAX_SIZE + 1), -EFBIG);
	cr_assert_eq(o.r.size, 1000);
	o.r.write_gen = 0;
	cr_assert_eq(obj_write(o.fd, &o.r, data, 1, 0), -EINVAL);
	cr_assert_eq(obj_truncate(o.fd, &o.r, 10), -EINVAL);
	cr_assert_eq(obj_commit(E.s, o.fd, &o.r, 0), -EINVAL);
	cr_assert_eq(o.r.size, 1000);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 1000, 0), 1000);
	cr_assert(memcmp(buf, data, 1000) == 0);
	tobj_free(&o);
}

/* Truncate up, down and to zero, checked against a model. */
Test(obj, truncate_sequences)
{
	static uint8_t ref[8 * OBJ_BLOCK_SIZE];
	uint64_t sizes[] = { 3 * BS + 5, 3 * BS + 1, 2 * BS, 2 * BS - 1, 5, 0, 7 * BS + 9,
			     7 * BS + 100, BS, BS + 1, 0, 100, 4 * BS, 1 };
	struct tobj o;

	tobj_new(&o, 0);
	fill_random(ref, 2 * BS);
	twrite(&o, ref, 2 * BS, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t ns = sizes[i], old = o.r.size;
		cr_assert_eq(obj_truncate(o.fd, &o.r, ns), 0);
		if (ns > old)
			memset(ref + old, 0, ns - old);
		cr_assert_eq(o.r.size, ns);
		/* A cut waits for the commit (the committed state needs it). */
		cr_assert_geq((uint64_t)flen(o.fd), obj_file_length(ns), "step %zu", i);
		check_all(&o, ref);
		if (i % 3 == 0) {
			tcommit(&o);
			cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(ns), "step %zu", i);
			verify_ok(&o);
		}
	}
	tobj_free(&o);
}

/* A mini-fsx: random writes, truncates and reads against a model, with
 * commits and generation bumps along the way. */
Test(obj, fsx)
{
	enum { MAXSZ = 300 * 1024 };
	uint8_t *ref = calloc(1, MAXSZ + 64), *data = malloc(MAXSZ);
	struct tobj o;

	cr_assert(ref && data);
	tobj_new(&o, 0);
	for (int op = 0; op < 2000; op++) {
		uint64_t r = rnd_below(100), size = o.r.size;
		if (r < 50) {
			uint64_t off = rnd_below(MAXSZ - 1);
			uint64_t len = 1 + rnd_below(rnd_below(4) ? 2 * BS : 70000);
			if (off + len > MAXSZ)
				len = MAXSZ - off;
			fill_random(data, len);
			twrite(&o, data, len, off);
			memcpy(ref + off, data, len);
			if (off > size)
				memset(ref + size, 0, off - size);
		} else if (r < 62) {
			uint64_t ns = rnd_below(4) ? rnd_below(MAXSZ) : rnd_below(3) * BS;
			cr_assert_eq(obj_truncate(o.fd, &o.r, ns), 0, "op %d", op);
			if (ns > size)
				memset(ref + size, 0, ns - size);
			else
				memset(ref + ns, 0, size - ns);
		} else {
			uint64_t off = rnd_below(o.r.size + 100);
			check_range(&o, ref, off, (size_t)(1 + rnd_below(3 * BS)));
		}
		cr_assert_geq((uint64_t)flen(o.fd), obj_file_length(o.r.size), "op %d", op);
		if (op % 50 == 49) {
			tcommit(&o);
			cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(o.r.size), "op %d", op);
			check_all(&o, ref);
		}
		if (op % 400 == 399)
			verify_ok(&o);
	}
	tcommit(&o);
	check_all(&o, ref);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
	free(data);
}

/* ---- tamper detection ------------------------------------------------------ */

/* An object of 5*BS+7 random bytes, committed at gen 1. */
static uint8_t *make_committed(struct tobj *o, uint64_t size)
{
	uint8_t *ref = malloc(size);
	cr_assert_not_null(ref);
	fill_random(ref, size);
	tobj_new(o, 0);
	twrite(o, ref, size, 0);
	tcommit(o);
	return ref;
}

static void flip_bit(int fd, uint64_t off, int bit)
{
	uint8_t c;
	cr_assert_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= (uint8_t)(1u << bit);
	cr_assert_eq(pwrite(fd, &c, 1, (off_t)off), 1);
}

static ssize_t read_block_idx(struct tobj *o, uint64_t b, uint8_t *buf)
{
	return obj_read(o->fd, &o->r, buf, BS, b * BS);
}

Test(obj, tamper_block_bits)
{
	struct tobj o;
	uint64_t size = 5 * BS + 7;
	uint8_t *ref = make_committed(&o, size), buf[OBJ_BLOCK_SIZE];

	for (int i = 0; i < 60; i++) {
		uint64_t b = rnd_below(6);
		uint64_t ext = b == 5 ? OBJ_BLOCK_OVERHEAD + 7 : SLOT;
		uint64_t at = OBJ_HEADER_SIZE + b * SLOT + rnd_below(ext);
		int bit = (int)rnd_below(8);
		const char *what;
		uint64_t bad;

		flip_bit(o.fd, at, bit);
		treload(&o);
		cr_assert_eq(read_block_idx(&o, b, buf), -EIO, "block %llu byte %llu",
			     (unsigned long long)b, (unsigned long long)at);
		treload(&o);
		cr_assert_eq(obj_read(o.fd, &o.r, buf, 1, b * BS + 3), -EIO);
		cr_assert_eq(verify(&o, &what, &bad), -EIO);
		cr_assert_eq(bad, b);
		cr_log_info("tamper block %llu: %s", (unsigned long long)b, what);
		/* Once a block failed, the object fails whole (no short read
		 * of what comes before the damage); after a remount the other
		 * blocks read again. */
		uint64_t other = (b + 1) % 6;
		cr_assert_eq(read_block_idx(&o, other, buf), -EIO);
		treload(&o);
		cr_assert_eq(read_block_idx(&o, other, buf), other == 5 ? 7 : (ssize_t)BS);
		cr_assert(memcmp(buf, ref + other * BS, other == 5 ? 7 : BS) == 0);
		flip_bit(o.fd, at, bit);
	}
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

/* gen 0 marks a hole only if the whole slot is zero and the block map
 * says so; the final block is never a hole. A zeroed slot of a block the
 * map names as data fails, also in a sparse object (R9). */
Test(obj, tamper_hole_marker)
{
	struct tobj o;
	uint64_t size = 4 * BS;
	uint8_t *ref = make_committed(&o, size), buf[OBJ_BLOCK_SIZE], zero[OBJ_SLOT_SIZE];
	static uint8_t keep[OBJ_SLOT_SIZE];
	const char *what;
	uint64_t bad;

	memset(zero, 0, sizeof(zero));
	cr_assert_eq(pread(o.fd, keep, SLOT, OBJ_HEADER_SIZE + SLOT), (ssize_t)SLOT);
	cr_assert_eq(pwrite(o.fd, zero, 8, OBJ_HEADER_SIZE + SLOT), 8);
	cr_assert_eq(read_block_idx(&o, 1, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 1);
	cr_assert_eq(pwrite(o.fd, zero, SLOT, OBJ_HEADER_SIZE + SLOT), (ssize_t)SLOT);
	/* A whole slot zeroed in an object not recorded as sparse: tampering. */
	cr_assert_eq(read_block_idx(&o, 1, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 1);
	/* A sparse object: the map still says block 1 holds data. */
	o.r.sparse = 1;
	cr_assert_eq(read_block_idx(&o, 1, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 1);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(pwrite(o.fd, keep, SLOT, OBJ_HEADER_SIZE + SLOT), (ssize_t)SLOT);
	verify_ok(&o);
	cr_assert_eq(pwrite(o.fd, zero, SLOT, OBJ_HEADER_SIZE + 3 * SLOT), (ssize_t)SLOT);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 7, 3 * BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 3);
	tobj_free(&o);
	free(ref);
}

Test(obj, tamper_header)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 2 * BS + 3);

	/* Format 3: bytes 256..399 are the commit records, sealed one by
	 * one (gen 1's at 328..399, parity 1; the other slot, unused, must
	 * stay zero or authentic). A live verify does not check the other
	 * slot (a commit may be writing it). */
	for (int i = 0; i < 60; i++) {
		uint64_t at = rnd_below(OBJ_HEADER_SIZE);
		int bit = (int)rnd_below(8), fd = -1;
		const char *what;
		uint64_t bad;

		flip_bit(o.fd, at, bit);
		if (at >= 256 && at < 328)
			cr_assert_eq(obj_verify_ex(E.s, E.k, &o.r, now(), OBJ_VERIFY_LIVE, &what,
						   &bad), 0);
		if (at >= 256 && at < 400) {
			cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), 0);
			close(fd);
			cr_assert_eq(verify(&o, &what, &bad), -EIO, "record byte %llu",
				     (unsigned long long)at);
			cr_assert_str_eq(what, "block map fails authentication");
		} else {
			cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), -EIO, "header byte %llu",
				     (unsigned long long)at);
			cr_assert_eq(verify(&o, &what, &bad), -EIO);
			cr_assert_str_eq(what, "bad header");
		}
		flip_bit(o.fd, at, bit);
	}
	int fd;
	cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), 0);
	close(fd);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

Test(obj, truncated_file)
{
	struct tobj o;
	uint64_t size = 5 * BS + 7;
	uint8_t *ref = make_committed(&o, size), buf[OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;

	cr_assert_eq(ftruncate(o.fd, (off_t)obj_file_length(size) - 1), 0);
	cr_assert_eq(read_block_idx(&o, 5, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "length mismatch");
	/* At a block boundary: the final block is gone. */
	cr_assert_eq(ftruncate(o.fd, (off_t)(OBJ_HEADER_SIZE + 5 * SLOT)), 0);
	cr_assert_eq(read_block_idx(&o, 5, buf), -EIO);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 5 * BS - 5), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(ftruncate(o.fd, (off_t)(OBJ_HEADER_SIZE + 3 * SLOT)), 0);
	cr_assert_eq(read_block_idx(&o, 4, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	/* A truncated header. */
	cr_assert_eq(ftruncate(o.fd, 100), 0);
	int fd;
	cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), -EIO);
	tobj_free(&o);
	free(ref);
}

Test(obj, trailing_data)
{
	struct tobj o;
	uint64_t size = 2 * BS + 7;
	uint8_t *ref = make_committed(&o, size), junk[100];
	const char *what;
	uint64_t bad;

	fill_random(junk, sizeof(junk));
	cr_assert_eq(pwrite(o.fd, junk, sizeof(junk), (off_t)obj_file_length(size)),
		     (ssize_t)sizeof(junk));
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "trailing data");
	/* Live (a session may be in flight): bytes past the end are not content. */
	cr_assert_eq(obj_verify_ex(E.s, E.k, &o.r, now(), OBJ_VERIFY_LIVE, &what, &bad), 0);
	/* A commit removes what an interrupted session may leave. */
	cr_assert_eq(obj_commit(E.s, o.fd, &o.r, 0), 0);
	cr_assert_eq(obj_settle(o.fd, &o.r), 0);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

static void copy_bytes(int from, uint64_t foff, int to, uint64_t toff, size_t n)
{
	uint8_t *b = malloc(n);
	cr_assert_not_null(b);
	cr_assert_eq(pread(from, b, n, (off_t)foff), (ssize_t)n);
	cr_assert_eq(pwrite(to, b, n, (off_t)toff), (ssize_t)n);
	free(b);
}

Test(obj, swapped_blocks)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 5 * BS + 7), buf[OBJ_BLOCK_SIZE];
	uint8_t *s1 = malloc(SLOT), *s3 = malloc(SLOT);
	const char *what;
	uint64_t bad;

	cr_assert_eq(pread(o.fd, s1, SLOT, OBJ_HEADER_SIZE + 1 * SLOT), (ssize_t)SLOT);
	cr_assert_eq(pread(o.fd, s3, SLOT, OBJ_HEADER_SIZE + 3 * SLOT), (ssize_t)SLOT);
	cr_assert_eq(pwrite(o.fd, s3, SLOT, OBJ_HEADER_SIZE + 1 * SLOT), (ssize_t)SLOT);
	cr_assert_eq(pwrite(o.fd, s1, SLOT, OBJ_HEADER_SIZE + 3 * SLOT), (ssize_t)SLOT);
	cr_assert_eq(read_block_idx(&o, 1, buf), -EIO);
	treload(&o);
	cr_assert_eq(read_block_idx(&o, 3, buf), -EIO);
	treload(&o);
	cr_assert_eq(read_block_idx(&o, 2, buf), (ssize_t)BS);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 1);
	tobj_free(&o);
	free(ref);
	free(s1);
	free(s3);
}

Test(obj, block_from_other_object)
{
	struct tobj a, b;
	uint8_t *ra = make_committed(&a, 4 * BS + 1), *rb = make_committed(&b, 4 * BS + 1);
	uint8_t buf[OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;

	copy_bytes(b.fd, OBJ_HEADER_SIZE + 2 * SLOT, a.fd, OBJ_HEADER_SIZE + 2 * SLOT, SLOT);
	cr_assert_eq(read_block_idx(&a, 2, buf), -EIO);
	cr_assert_eq(verify(&a, &what, &bad), -EIO);
	cr_assert_eq(bad, 2);
	/* Also the final block (same size in both). */
	copy_bytes(b.fd, OBJ_HEADER_SIZE + 4 * SLOT, a.fd, OBJ_HEADER_SIZE + 4 * SLOT,
		   OBJ_BLOCK_OVERHEAD + 1);
	cr_assert_eq(obj_read(a.fd, &a.r, buf, 1, 4 * BS), -EIO);
	/* A whole file under another id: the header names the wrong object. */
	off_t len = flen(b.fd);
	cr_assert_eq(ftruncate(a.fd, 0), 0);
	copy_bytes(b.fd, 0, a.fd, 0, (size_t)len);
	int fd;
	cr_assert_eq(obj_open(E.s, &a.r, O_RDONLY, &fd), -EIO);
	cr_assert_eq(verify(&a, &what, &bad), -EIO);
	tobj_free(&a);
	tobj_free(&b);
	free(ra);
	free(rb);
}

static uint8_t *snapshot(int fd, off_t *len)
{
	*len = flen(fd);
	uint8_t *p = malloc((size_t)*len);
	cr_assert_not_null(p);
	cr_assert_eq(pread(fd, p, (size_t)*len, 0), (ssize_t)*len);
	return p;
}

static void restore(int fd, const uint8_t *p, off_t len)
{
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, p, (size_t)len, 0), (ssize_t)len);
}

Test(obj, older_copy_replay)
{
	struct tobj o;
	uint64_t size = 3 * BS + 5;
	uint8_t *ref = make_committed(&o, size), data[50], buf[OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;
	off_t len;
	uint8_t *old = snapshot(o.fd, &len);

	/* Same size, only a middle block changes, then commit G+1. */
	fill_random(data, sizeof(data));
	twrite(&o, data, sizeof(data), BS + 3);
	tcommit(&o);
	verify_ok(&o);
	/* The slots only (the header of the current copy kept, with its
	 * commit record): the block that changed is refused; the others are
	 * the same bytes in both copies (not stale) and read. */
	cr_assert_eq(pwrite(o.fd, old + OBJ_HEADER_SIZE, (size_t)len - OBJ_HEADER_SIZE,
			    OBJ_HEADER_SIZE), len - OBJ_HEADER_SIZE);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 5, 3 * BS), 5);
	cr_assert(memcmp(buf, ref + 3 * BS, 5) == 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 5, BS), -EIO);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 5, BS - 2), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(bad, 1);
	/* Also as at a mount (the map of generation 2 read from disk). */
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 5, BS), -EIO);
	/* The whole older copy, header too: it holds no commit record of
	 * generation 2, so no block of it is known good. */
	restore(o.fd, old, len);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 5, 3 * BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(bad, 0);
	/* Two generations later, after growing. */
	free(old);
	tobj_free(&o);
	free(ref);

	ref = make_committed(&o, size);
	old = snapshot(o.fd, &len);
	twrite(&o, data, sizeof(data), size);
	tcommit(&o);
	twrite(&o, data, sizeof(data), 0);
	tcommit(&o);
	restore(o.fd, old, len);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 3 * BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	free(old);
	tobj_free(&o);
	free(ref);
}

Test(obj, generation_rules)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 2 * BS + 9), buf[OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;

	/* The committed generation is 1; meta claiming 3 means the file is old. */
	o.r.gen = 3;
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 9, 2 * BS), -EIO);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 9, 0), -EIO);
	o.r.gen = 1;
	treload(&o);
	/* A block from the future (another generation than the map's) is
	 * refused. */
	o.r.write_gen = 5;
	twrite(&o, ref, 10, 0);
	o.r.write_gen = 2;
	treload(&o);
	cr_assert_eq(read_block_idx(&o, 0, buf), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 0);
	tobj_free(&o);
	free(ref);
}

/* A crash during a session: blocks of gen G+1 written, meta still at G. */
Test(obj, interrupted_session)
{
	struct tobj o;
	uint64_t size = 3 * BS + 100;
	uint8_t *ref = make_committed(&o, size);
	uint8_t *model = malloc(8 * BS), *buf = malloc(8 * BS), data[300];
	struct obj_ref crashed;

	memcpy(model, ref, size);
	fill_random(data, sizeof(data));
	/* Session G+1 = 2: overwrite a bit, append up to 5 blocks. */
	twrite(&o, data, sizeof(data), 10);
	memcpy(model + 10, data, sizeof(data));
	twrite(&o, data, sizeof(data), 5 * BS - 300);
	memset(model + size, 0, 5 * BS - 300 - size);
	memcpy(model + 5 * BS - 300, data, sizeof(data));
	/* Read with the session's size but gen G and no session. */
	crashed = o.r;
	crashed.write_gen = 0;
	cr_assert_eq(crashed.gen, 1);
	cr_assert_eq(obj_read(o.fd, &crashed, buf, 5 * BS, 0), (ssize_t)(5 * BS));
	cr_assert(memcmp(buf, model, 5 * BS) == 0);
	/* Meta kept the old size: the old final block was re-sealed as a full
	 * non-final block of gen G+1 and still reads. */
	crashed.size = size;
	cr_assert_eq(obj_read(o.fd, &crashed, buf, 8 * BS, 0), (ssize_t)size);
	cr_assert(memcmp(buf, model, size) == 0);
	/* Restart: a new session (again G+1) from the old size. */
	o.r = crashed;
	o.r.key = o.key;
	o.r.write_gen = 2;
	twrite(&o, data, 5, 0);
	memcpy(model, data, 5);
	/* A hole past the old end must read zeros, not the lost session. */
	twrite(&o, data, 7, 6 * BS);
	memset(model + size, 0, 6 * BS - size);
	memcpy(model + 6 * BS, data, 7);
	tcommit(&o);
	cr_assert_eq(o.r.size, 6 * BS + 7);
	cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(o.r.size));
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 8 * BS, 0), (ssize_t)(6 * BS + 7));
	cr_assert(memcmp(buf, model, 6 * BS + 7) == 0);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
	free(model);
	free(buf);
}

/* Crash after a session grew the object inside its final block, then a
 * new session commits: the stale tail is dropped and the file verifies. */
Test(obj, interrupted_append_then_commit)
{
	struct tobj o;
	uint64_t size = BS + 10;
	uint8_t *ref = make_committed(&o, size), data[BS], buf[3 * OBJ_BLOCK_SIZE];

	fill_random(data, sizeof(data));
	twrite(&o, data, sizeof(data), size);   /* grows to 2*BS+10 */
	o.r.size = size;                         /* crash: meta has the old size */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)size);
	cr_assert(memcmp(buf, ref, size) == 0);
	tcommit(&o);                             /* re-seals block 1 as final */
	cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(size));
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)size);
	cr_assert(memcmp(buf, ref, size) == 0);
	tobj_free(&o);
	free(ref);
}

Test(obj, open_and_rewrap)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, BS + 3), buf[OBJ_BLOCK_SIZE + 3], hdr[OBJ_HEADER_SIZE];
	struct kms_wrapped w, nw;
	struct obj_ref r;
	wcrypto_aead *key;
	uint32_t ver;
	int fd;

	/* open needs a key */
	r = o.r;
	r.key = NULL;
	cr_assert_eq(obj_open(E.s, &r, O_RDONLY, &fd), -EINVAL);
	/* rewrap: the header takes the new wrapped DEK, content unchanged */
	cr_assert_eq(kms_rotate(E.k, &ver, now()), 0);
	memcpy(w.b, o.r.wrapped, KMS_WRAPPED_BYTES);
	cr_assert_eq(kms_reencrypt(E.k, o.r.id, &w, &nw, now()), 0);
	cr_assert_eq(kms_wrapped_version(&nw), ver);
	cr_assert_eq(obj_set_wrapped(E.s, &o.r, nw.b), 0);
	cr_assert_eq(pread(o.fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	cr_assert(memcmp(hdr + 32, nw.b, KMS_WRAPPED_BYTES) == 0);
	/* the old wrapped copy in meta still opens the header (rewrap race) */
	cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), 0);
	close(fd);
	memcpy(o.r.wrapped, nw.b, KMS_WRAPPED_BYTES);
	verify_ok(&o);
	r = o.r;
	kms_cache_flush(E.k);
	cr_assert_eq(obj_key_open(E.k, &r, &key, now()), 0);
	r.key = key;
	cr_assert_eq(obj_open(E.s, &r, O_RDWR, &fd), 0);
	cr_assert_eq(obj_read(fd, &r, buf, sizeof(buf), 0), (ssize_t)(BS + 3));
	cr_assert(memcmp(buf, ref, BS + 3) == 0);
	close(fd);
	wcrypto_aead_free(key);
	/* missing file */
	cr_assert_eq(store_obj_unlink(E.s, o.r.id), 0);
	cr_assert_eq(obj_open(E.s, &o.r, O_RDONLY, &fd), -ENOENT);
	const char *what;
	uint64_t bad;
	cr_assert_eq(verify(&o, &what, &bad), -ENOENT);
	tobj_free(&o);
	free(ref);
}

/* Large aligned writes and reads cross the internal chunk size. */
Test(obj, large_io)
{
	uint64_t size = 3 * 1024 * 1024 + 12345;
	uint8_t *ref = malloc(size), *buf = malloc(size);
	struct tobj o;

	fill_random(ref, size);
	tobj_new(&o, 0);
	twrite(&o, ref, (size_t)size, 0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, size, 0), (ssize_t)size);
	cr_assert(memcmp(buf, ref, size) == 0);
	twrite(&o, ref + 1000, 2 * 1024 * 1024, 777);
	memmove(ref + 777, ref + 1000, 2 * 1024 * 1024);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, size, 0), (ssize_t)size);
	cr_assert(memcmp(buf, ref, size) == 0);
	tcommit(&o);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
	free(buf);
}

/* Issue 11 C1: a session that changes committed blocks in place (growing
 * the partial final block, a pwrite inside, a shrink) and is killed before
 * its commit: the committed state verifies from the undo journal while the
 * session is in flight, and obj_recover rolls the file back to it. */
Test(obj, undo_rollback)
{
	static const struct { uint64_t size, off, len, cut; } cases[] = {
		{ 20314, 20314, 4096, 0 },           /* append inside the final block */
		{ 100000, 99000, 5000, 0 },          /* pwrite over the end */
		{ 100000, 30000, 100, 0 },           /* pwrite inside */
		{ 100000, 0, 0, 50000 },             /* shrink */
		{ 100000, 0, 0, 1 },                 /* shrink to one byte */
		{ 3 * BS, 3 * BS, 7, 0 },            /* append after a full block */
		{ 20000, 70000, 10, 0 },             /* write past the end (holes) */
	};
	uint8_t data[5000], buf[3 * OBJ_BLOCK_SIZE];

	fill_random(data, sizeof(data));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tobj o;
		uint8_t *ref = make_committed(&o, cases[i].size), *all = malloc(cases[i].size);
		struct obj_ref committed;
		const char *what;
		uint64_t bad;
		int changed;
		unsigned rej;

		cr_assert_not_null(all);
		cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
		committed = o.r;
		committed.write_gen = 0;
		if (cases[i].len)
			twrite(&o, data, cases[i].len, cases[i].off);
		else
			cr_assert_eq(obj_truncate(o.fd, &o.r, cases[i].cut), 0);
		/* In flight: the committed state still verifies (live). */
		cr_assert_eq(obj_verify_ex(E.s, E.k, &committed, now(), OBJ_VERIFY_LIVE, &what,
					   &bad), 0, "case %zu: %s", i, what);
		/* Kill: the journal stays; recovery puts the committed state back. */
		obj_undo_free(o.r.undo);
		o.r.undo = NULL;
		cr_assert_eq(obj_recover(E.s, E.k, &committed, now(), &changed, &rej), 0);
		cr_assert_eq(changed, 1, "case %zu", i);
		cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(cases[i].size));
		o.r = committed;
		o.r.key = o.key;
		treload(&o);
		verify_ok(&o);
		cr_assert_eq(obj_read(o.fd, &o.r, all, cases[i].size, 0), (ssize_t)cases[i].size);
		cr_assert(memcmp(all, ref, cases[i].size) == 0, "case %zu", i);
		(void)buf;
		/* The journal is gone; a second recovery changes nothing. */
		cr_assert_eq(obj_recover(E.s, E.k, &committed, now(), &changed, &rej), 0);
		cr_assert_eq(changed, 0);
		tobj_free(&o);
		free(ref);
		free(all);
	}
}

/* After the commit the journal is dropped and the cut done (obj_settle):
 * the next session journals against the new committed state. */
Test(obj, undo_settle)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 40000), data[100];
	struct obj_ref c;
	int changed;
	unsigned rej;

	fill_random(data, sizeof(data));
	cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
	cr_assert_eq(obj_truncate(o.fd, &o.r, 20000), 0);
	cr_assert_geq((uint64_t)flen(o.fd), obj_file_length(40000));
	tcommit(&o);
	cr_assert_eq((uint64_t)flen(o.fd), obj_file_length(20000));
	twrite(&o, data, sizeof(data), 19990);   /* new session, journals block 1 */
	c = o.r;
	c.size = c.csize;
	c.write_gen = 0;
	obj_undo_free(o.r.undo);
	cr_assert_eq(obj_recover(E.s, E.k, &c, now(), &changed, &rej), 0);
	cr_assert_eq(changed, 1);
	o.r = c;
	o.r.key = o.key;
	o.r.undo = NULL;
	treload(&o);
	verify_ok(&o);
	uint8_t back[20000];
	cr_assert_eq(obj_read(o.fd, &o.r, back, sizeof(back), 0), 20000);
	cr_assert(memcmp(back, ref, 20000) == 0);
	tobj_free(&o);
	free(ref);
}

/* A session that shrinks and then leaves holes cuts the content file below
 * the committed length (the committed slots journaled first): the
 * committed state still verifies live, and recovery restores it. Found by
 * tests/fuzz/fuzz_obj (corpus/obj/crash-live-verify-cut). */
Test(obj, undo_live_verify_after_cut)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 100000), data[10] = "0123456789";
	uint8_t *all = malloc(100000);
	struct obj_ref committed;
	const char *what;
	uint64_t bad;
	unsigned rej = 0;
	int changed;

	cr_assert_not_null(all);
	cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
	committed = o.r;
	committed.write_gen = 0;
	cr_assert_eq(obj_truncate(o.fd, &o.r, 10), 0);
	twrite(&o, data, sizeof(data), 90000);
	cr_assert_lt((uint64_t)flen(o.fd), obj_file_length(100000));
	cr_assert_eq(obj_verify_ex(E.s, E.k, &committed, now(), OBJ_VERIFY_LIVE, &what, &bad), 0,
		     "%s", what);
	/* Without the journal's help it is a length mismatch. */
	cr_assert_eq(obj_verify_ex(E.s, E.k, &committed, now(), 0, &what, &bad), -EIO);
	obj_undo_free(o.r.undo);
	o.r.undo = NULL;
	cr_assert_eq(obj_recover(E.s, E.k, &committed, now(), &changed, &rej), 0);
	cr_assert_eq(changed, 1);
	cr_assert_eq(rej, 0);
	o.r = committed;
	o.r.key = o.key;
	treload(&o);
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, all, 100000, 0), 100000);
	cr_assert(memcmp(all, ref, 100000) == 0);
	tobj_free(&o);
	free(ref);
	free(all);
}

/* ---- block maps (format 2): block freshness, issue 12 item 3 ------------ */

/* A slot's bytes as on disk (the final one is shorter), put back as such. */
struct slotcopy {
	uint8_t b[OBJ_SLOT_SIZE];
	ssize_t len;
};

static struct slotcopy *slot_get(struct tobj *o, uint64_t b)
{
	struct slotcopy *p = malloc(sizeof(*p));
	cr_assert_not_null(p);
	p->len = pread(o->fd, p->b, SLOT, (off_t)(OBJ_HEADER_SIZE + b * SLOT));
	cr_assert_gt(p->len, 0);
	return p;
}

static void slot_put(struct tobj *o, uint64_t b, const struct slotcopy *p)
{
	cr_assert_eq(pwrite(o->fd, p->b, (size_t)p->len, (off_t)(OBJ_HEADER_SIZE + b * SLOT)),
		     p->len);
}

static int map_exists(struct tobj *o, uint64_t gen)
{
	int fd;
	if (store_aux_open(E.s, o->r.id, gen & 1 ? OBJ_MAP_SUFFIX1 : OBJ_MAP_SUFFIX0, O_RDONLY,
			   &fd))
		return 0;
	close(fd);
	return 1;
}

/* R8: one slot replaced by its older authentic version (an earlier
 * generation of the same block) fails at read and in verify, a non-final
 * block as well as the final one, also after a remount. */
Test(obj, block_replay_detected)
{
	struct tobj o;
	uint64_t size = 3 * BS + 100;
	uint8_t *ref = make_committed(&o, size);
	struct slotcopy *s0 = slot_get(&o, 0), *s3 = slot_get(&o, 3);
	uint8_t data[64], buf[2 * OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;

	fill_random(data, sizeof(data));
	twrite(&o, data, sizeof(data), 10);          /* block 0: gen 2 */
	tcommit(&o);
	twrite(&o, data, sizeof(data), 3 * BS + 1);  /* final block: gen 3 */
	tcommit(&o);
	verify_ok(&o);
	cr_assert(map_exists(&o, 3));
	slot_put(&o, 0, s0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 100, 0), -EIO);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(bad, 0);
	treload(&o);
	/* Untouched blocks still read (before a read of the damage). */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 100, BS), 100);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 100, 0), -EIO);
	cr_assert(memcmp(buf, ref + BS, 100) == 0);
	/* The final block's older version too. */
	free(s0);
	tobj_free(&o);
	free(ref);
	ref = make_committed(&o, size);
	struct slotcopy *own = slot_get(&o, 3);
	slot_put(&o, 3, s3);   /* another object's slot */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 3 * BS), -EIO);
	slot_put(&o, 3, own);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 3 * BS), 10);
	twrite(&o, data, 5, 3 * BS);   /* final block: gen 2 */
	tcommit(&o);
	slot_put(&o, 3, own);          /* its gen 1 version */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 3 * BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	free(own);
	cr_assert_eq(bad, 3);
	free(s3);
	tobj_free(&o);
	free(ref);
}

/* R8: the whole file replaced by an older copy: a read over changed
 * blocks is EIO, never a short read of stale bytes. */
Test(obj, older_file_no_short_read)
{
	struct tobj o;
	uint64_t size = 3 * BS;
	uint8_t *ref = make_committed(&o, size), *buf = malloc(40000), data[100];
	off_t len;
	uint8_t *old = snapshot(o.fd, &len);

	fill_random(data, sizeof(data));
	for (uint64_t b = 0; b < 3; b++)
		twrite(&o, data, sizeof(data), b * BS + 7);
	tcommit(&o);
	restore(o.fd, old, len);
	for (int remount = 0; remount < 2; remount++) {
		cr_assert_eq(obj_read(o.fd, &o.r, buf, 40000, 0), -EIO);
		cr_assert_eq(obj_read(o.fd, &o.r, buf, 100, 2 * BS), -EIO);
		treload(&o);
	}
	free(old);
	free(buf);
	tobj_free(&o);
	free(ref);
}

/* R9: holes are authenticated. A zeroed data block of a sparse object and
 * a hole filled with an older block of data both fail. */
Test(obj, sparse_holes_authenticated)
{
	struct tobj o;
	uint8_t data[100], buf[OBJ_BLOCK_SIZE];
	const char *what;
	uint64_t bad;

	fill_random(data, sizeof(data));
	tobj_new(&o, 0);
	twrite(&o, data, sizeof(data), 0);
	twrite(&o, data, sizeof(data), 3 * BS);   /* blocks 1, 2: holes */
	cr_assert(o.r.sparse);
	tcommit(&o);
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, BS, BS), (ssize_t)BS);
	cr_assert(map_exists(&o, 1));
	struct slotcopy *s0 = slot_get(&o, 0), *zero = calloc(1, sizeof(*zero));
	cr_assert_not_null(zero);
	zero->len = (ssize_t)SLOT;
	/* A hole filled with data (block 0's slot is authentic, elsewhere). */
	slot_put(&o, 1, s0);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "hole holds data");
	cr_assert_eq(bad, 1);
	slot_put(&o, 1, zero);
	verify_ok(&o);
	/* A data block zeroed: not a hole, whatever the sparse flag. */
	slot_put(&o, 0, zero);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 0);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 0), -EIO);
	free(s0);
	free(zero);
	tobj_free(&o);
}

/* The map is authenticated and bound to its generation: a damaged map of
 * the committed generation fails; an older one or none makes the blocks
 * of older generations fail (never accepts a block it should not). */
Test(obj, map_tamper)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 3 * BS), data[10] = "abcdefghij", buf[100];
	const char *what;
	uint64_t bad;
	obj_map *m = NULL;
	int fd;

	cr_assert(!map_exists(&o, 1));   /* one session: the map is implied */
	twrite(&o, data, sizeof(data), BS);
	tcommit(&o);                      /* gen 2: blocks 0, 2 gen 1 */
	cr_assert(map_exists(&o, 2));
	cr_assert_eq(store_aux_open(E.s, o.r.id, OBJ_MAP_SUFFIX0, O_RDWR, &fd), 0);
	uint8_t c;
	cr_assert_eq(pread(fd, &c, 1, 70), 1);
	c ^= 1;
	cr_assert_eq(pwrite(fd, &c, 1, 70), 1);
	cr_assert_eq(obj_map_load(E.s, o.fd, &o.r, &m), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "block map fails authentication");
	close(fd);
	cr_assert_eq(store_aux_unlink(E.s, o.r.id, OBJ_MAP_SUFFIX0), 0);
	treload(&o);
	/* The commit record names a map file that is gone: no block is
	 * known good (format 3), not even those of generation 2. */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, BS), -EIO);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(bad, 0);
	tobj_free(&o);
	free(ref);
}

/* A session killed after its map was written but before the meta commit:
 * the committed state reads with its own map; the next session (same
 * generation number) replaces or removes the leftover. */
Test(obj, map_of_uncommitted_session)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 3 * BS), data[10] = "0123456789", buf[3 * OBJ_BLOCK_SIZE];
	struct obj_ref c;
	int changed;
	unsigned rej;

	cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
	c = o.r;
	twrite(&o, data, sizeof(data), BS);
	cr_assert_eq(obj_commit(E.s, o.fd, &o.r, 0), 0);   /* map of gen 2 written */
	cr_assert(map_exists(&o, 2));
	obj_undo_free(o.r.undo);
	o.r.undo = NULL;
	c.write_gen = 0;
	cr_assert_eq(obj_recover(E.s, E.k, &c, now(), &changed, &rej), 0);
	cr_assert_eq(changed, 1);
	o.r = c;
	o.r.key = o.key;
	o.r.undo = NULL;
	o.r.write_gen = 2;
	treload(&o);
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	cr_assert(memcmp(buf, ref, sizeof(buf)) == 0);
	/* The next session rewrites everything: gen 2 uniform, leftover gone. */
	twrite(&o, ref, 3 * BS, 0);
	tcommit(&o);
	cr_assert(!map_exists(&o, 2));
	treload(&o);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

/* Files written before block maps (format 1) still read, write and
 * verify under the old rules. */
Test(obj, format1_compat)
{
	struct tobj o;
	uint8_t ref[2 * OBJ_BLOCK_SIZE + 9], buf[sizeof(ref)];
	wcrypto_aead *key;
	uint8_t hdr[16];

	fill_random(ref, sizeof(ref));
	memset(&o, 0, sizeof(o));
	cr_assert_eq(obj_key_new(E.k, 0, &o.r, &key, now()), 0);
	o.key = key;
	o.r.key = key;
	cr_assert_eq(obj_file_create_v1(E.s, &o.r, &o.fd), 0);
	cr_assert_eq(pread(o.fd, hdr, 16, 0), 16);
	cr_assert_eq(hdr[8], 1);
	treload(&o);
	o.r.write_gen = 1;
	twrite(&o, ref, sizeof(ref), 0);
	tcommit(&o);
	twrite(&o, ref, 5, BS);
	tcommit(&o);
	cr_assert(!map_exists(&o, 2));
	close(o.fd);
	cr_assert_eq(obj_open(E.s, &o.r, O_RDWR, &o.fd), 0);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	memcpy(ref + BS, ref, 5);
	cr_assert(memcmp(buf, ref, sizeof(buf)) == 0);
	verify_ok(&o);
	tobj_free(&o);
}

/* After a read met damage the object fails whole; rewriting the damaged
 * block and committing makes it readable again without a remount. */
Test(obj, damage_sticky_until_commit)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 3 * BS), buf[100];

	flip_bit(o.fd, OBJ_HEADER_SIZE + SLOT + 100, 3);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, BS), -EIO);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 0), -EIO);        /* sticky */
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 2 * BS), -EIO);
	twrite(&o, ref + BS, BS, BS);                                  /* whole block 1 */
	tcommit(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, 0), 10);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, BS), 10);
	cr_assert(memcmp(buf, ref + BS, 10) == 0);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}


/* Copy of an aux file's bytes (a map), to put back or plant elsewhere. */
static uint8_t *aux_get(const uint8_t id[16], const char *suf, ssize_t *len)
{
	uint8_t *p = malloc(4096);
	int fd;

	cr_assert_not_null(p);
	cr_assert_eq(store_aux_open(E.s, id, suf, O_RDONLY, &fd), 0);
	*len = pread(fd, p, 4096, 0);
	cr_assert_gt(*len, 0);
	close(fd);
	return p;
}

static void aux_put(const uint8_t id[16], const char *suf, const uint8_t *p, ssize_t len)
{
	int fd;

	cr_assert_eq(store_aux_open(E.s, id, suf, O_WRONLY | O_CREAT | O_TRUNC, &fd), 0);
	cr_assert_eq(pwrite(fd, p, (size_t)len, 0), len);
	close(fd);
}

/* A map is never taken for another state's: one of two commits ago (same
 * parity), of the other parity, of another object, cut short, or removed
 * from a sparse object: the blocks it would misplace fail (EIO), none
 * reads as another version or as a hole. */
Test(obj, map_swaps_fail_closed)
{
	struct tobj o, p;
	uint8_t *ref = make_committed(&o, 4 * BS), data[10] = "abcdefghij", buf[4 * OBJ_BLOCK_SIZE];
	uint8_t *old, *m1, *other;
	ssize_t lold, lm1, lother;
	const char *what;
	uint64_t bad;

	twrite(&o, data, sizeof(data), BS);
	tcommit(&o);                                /* gen 2: block 1 */
	old = aux_get(o.r.id, OBJ_MAP_SUFFIX0, &lold);
	twrite(&o, data, sizeof(data), 2 * BS);
	tcommit(&o);                                /* gen 3: block 2 */
	m1 = aux_get(o.r.id, OBJ_MAP_SUFFIX1, &lm1);   /* gen 3's */
	twrite(&o, data, sizeof(data), 3 * BS);
	tcommit(&o);                                /* gen 4: block 3 */
	verify_ok(&o);
	ssize_t lcur;
	uint8_t *cur = aux_get(o.r.id, OBJ_MAP_SUFFIX0, &lcur);
	/* gen 2's map (same parity, two commits ago). */
	aux_put(o.r.id, OBJ_MAP_SUFFIX0, old, lold);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	/* gen 3's map under the gen 4 name (.m1 moved to .m0). */
	aux_put(o.r.id, OBJ_MAP_SUFFIX0, m1, lm1);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	/* Cut short, at every length. */
	for (ssize_t l = 1; l < lcur; l += 7) {
		aux_put(o.r.id, OBJ_MAP_SUFFIX0, cur, l);
		obj_map_free(o.r.map);
		o.r.map = NULL;
		int rc = obj_map_load(E.s, o.fd, &o.r, &o.r.map);
		if (rc == 0)
			cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO, "cut at %zd", l);
		else
			cr_assert_eq(rc, -EIO, "cut at %zd", l);
	}
	/* Another object's map of the same generation. */
	other = make_committed(&p, 4 * BS);
	for (int g = 2; g <= 4; g++) {
		twrite(&p, data, sizeof(data), (uint64_t)(g - 1) * BS);
		tcommit(&p);
	}
	free(other);
	other = aux_get(p.r.id, OBJ_MAP_SUFFIX0, &lother);
	aux_put(o.r.id, OBJ_MAP_SUFFIX0, other, lother);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	/* Back: reads whole. */
	aux_put(o.r.id, OBJ_MAP_SUFFIX0, cur, lcur);
	treload(&o);
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	tobj_free(&p);
	tobj_free(&o);
	free(ref);
	free(old);
	free(m1);
	free(cur);
	free(other);
	/* A sparse object of one session: its map names the holes. */
	struct tobj q;
	tobj_new(&q, 0);
	twrite(&q, data, sizeof(data), 0);
	twrite(&q, data, sizeof(data), 3 * BS);
	tcommit(&q);
	cr_assert(map_exists(&q, 1));
	cr_assert_eq(store_aux_unlink(E.s, q.r.id, OBJ_MAP_SUFFIX1), 0);
	treload(&q);
	cr_assert_eq(obj_read(q.fd, &q.r, buf, 10, BS), -EIO);
	cr_assert_eq(verify(&q, &what, &bad), -EIO);
	tobj_free(&q);
}

/* A block written twice in one session carries the same generation both
 * times: a copy of its first version, taken while the session ran, must
 * not authenticate after the commit (format 3: the write tag in its AD
 * differs). Was a known hole of format 2. */
Test(obj, same_session_rewrite_replay)
{
	struct tobj o;
	uint64_t size = 3 * BS + 100;
	uint8_t *ref = make_committed(&o, size);
	uint8_t a[64], b[64], buf[64];
	struct slotcopy *sa;

	fill_random(a, sizeof(a));
	fill_random(b, sizeof(b));
	twrite(&o, a, sizeof(a), 10);   /* block 0: gen 2, first version */
	sa = slot_get(&o, 0);
	twrite(&o, b, sizeof(b), 10);   /* block 0: gen 2 again */
	tcommit(&o);
	slot_put(&o, 0, sa);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 10), -EIO);
	free(sa);
	tobj_free(&o);
	free(ref);
}

/* Same session, other shapes: the final block rewritten at the same
 * length, a block made final by a shrink and non-final again, and
 * rewrites after a write that grew the object; every earlier version of
 * each block fails after the commit, at read and in verify, also after a
 * reload of the map from disk. */
Test(obj, same_session_rewrite_shapes)
{
	struct tobj o;
	uint64_t size = 3 * BS + 100;
	uint8_t *ref = make_committed(&o, size);
	uint8_t a[200], buf[64];
	struct slotcopy *c[8];
	uint64_t at[8];
	int n = 0;
	const char *what;
	uint64_t bad;

	fill_random(a, sizeof(a));
	twrite(&o, a, 50, 3 * BS + 10);          /* final block, same length */
	c[n] = slot_get(&o, 3); at[n++] = 3;
	twrite(&o, a + 50, 50, 3 * BS + 20);     /* again, same length */
	c[n] = slot_get(&o, 3); at[n++] = 3;
	twrite(&o, a, 100, size);                /* grows: block 3 longer */
	c[n] = slot_get(&o, 1); at[n++] = 1;     /* gen 1 version of block 1 */
	twrite(&o, a, 10, BS);                   /* block 1: gen 2 */
	c[n] = slot_get(&o, 1); at[n++] = 1;
	cr_assert_eq(obj_truncate(o.fd, &o.r, BS + 20), 0);   /* block 1 final */
	c[n] = slot_get(&o, 1); at[n++] = 1;
	cr_assert_eq(obj_truncate(o.fd, &o.r, 4 * BS - 50), 0);   /* non-final again */
	c[n] = slot_get(&o, 1); at[n++] = 1;
	twrite(&o, a, 30, BS + 5);               /* and rewritten */
	tcommit(&o);
	verify_ok(&o);
	for (int i = 0; i < n; i++) {
		struct slotcopy *cur = slot_get(&o, at[i]);
		slot_put(&o, at[i], c[i]);
		treload(&o);
		cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, at[i] * BS), -EIO, "copy %d", i);
		cr_assert_eq(verify(&o, &what, &bad), -EIO, "copy %d", i);
		cr_assert_eq(bad, at[i]);
		slot_put(&o, at[i], cur);
		treload(&o);
		verify_ok(&o);
		free(cur);
		free(c[i]);
	}
	tobj_free(&o);
	free(ref);
}

/* A session killed before its commit wrote blocks of generation G+1;
 * after the recovery the next session writes G+1 again. A copy of the
 * killed session's block put in place of the new one fails (each session
 * draws its own write tags). */
Test(obj, killed_session_reuse)
{
	struct tobj o;
	uint64_t size = 3 * BS + 100;
	uint8_t *ref = make_committed(&o, size);
	uint8_t a[64], b[64], buf[64];
	struct slotcopy *k1, *k3;
	struct obj_ref c;
	int changed;
	unsigned rej;
	const char *what;
	uint64_t bad;

	fill_random(a, sizeof(a));
	fill_random(b, sizeof(b));
	cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
	c = o.r;
	twrite(&o, a, sizeof(a), BS + 10);        /* killed session: gen 2 */
	twrite(&o, a, sizeof(a), size);           /* and an append */
	k1 = slot_get(&o, 1);
	k3 = slot_get(&o, 3);
	/* Killed: the journal stays, the mount recovers gen 1. */
	obj_undo_free(o.r.undo);
	o.r.undo = NULL;
	c.write_gen = 0;
	c.map = NULL;
	c.undo = NULL;
	cr_assert_eq(obj_recover(E.s, E.k, &c, now(), &changed, &rej), 0);
	cr_assert_eq(changed, 1);
	cr_assert_eq(rej, 0);
	obj_map_free(o.r.map);
	o.r = c;
	o.r.key = o.key;
	o.r.map = NULL;
	treload(&o);
	verify_ok(&o);
	/* The next session: gen 2 again, the same blocks. */
	o.r.write_gen = 2;
	twrite(&o, b, sizeof(b), BS + 10);
	twrite(&o, b, sizeof(b), size);
	tcommit(&o);
	verify_ok(&o);
	struct slotcopy *n1 = slot_get(&o, 1), *n3 = slot_get(&o, 3);
	slot_put(&o, 1, k1);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), BS + 10), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 1);
	slot_put(&o, 1, n1);
	treload(&o);
	verify_ok(&o);
	slot_put(&o, 3, k3);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), size), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_eq(bad, 3);
	free(k1);
	free(k3);
	free(n1);
	free(n3);
	tobj_free(&o);
	free(ref);
}

/* Write tags keep the map compact: an object written sequentially in one
 * session (any request sizes, unaligned appends) has no map file; random
 * rewrites in a later session add runs only where they write. */
Test(obj, write_tags_compact)
{
	struct tobj o;
	uint64_t size = 200 * BS + 77;
	uint8_t *ref = malloc(size);

	cr_assert_not_null(ref);
	fill_random(ref, size);
	tobj_new(&o, 0);
	write_chunks(&o, ref, size, 0);
	cr_assert_eq(obj_map_runs(o.r.map), 2, "%zu runs", obj_map_runs(o.r.map));
	tcommit(&o);
	cr_assert(!map_exists(&o, 1));
	treload(&o);
	check_all(&o, ref);
	/* Rewrites of distinct blocks: one run each, plus the gaps. */
	for (uint64_t b = 10; b < 50; b += 10) {
		ref[b * BS + 3] ^= 1;
		twrite(&o, ref + b * BS + 3, 1, b * BS + 3);
	}
	tcommit(&o);
	cr_assert(map_exists(&o, 2));
	cr_assert_leq(obj_map_runs(o.r.map), 9);
	treload(&o);
	cr_assert_leq(obj_map_runs(o.r.map), 9);
	check_all(&o, ref);
	verify_ok(&o);
	tobj_free(&o);
	free(ref);
}

/* Format 2 files (block maps without write tags) still read, write and
 * verify under their rules: generations exact, map files of format 2. */
Test(obj, format2_compat)
{
	struct tobj o;
	uint8_t ref[4 * OBJ_BLOCK_SIZE + 9], buf[sizeof(ref)];
	wcrypto_aead *key;
	uint8_t hdr[16];
	const char *what;
	uint64_t bad;

	fill_random(ref, sizeof(ref));
	memset(&o, 0, sizeof(o));
	cr_assert_eq(obj_key_new(E.k, 0, &o.r, &key, now()), 0);
	o.key = key;
	o.r.key = key;
	cr_assert_eq(obj_file_create_v2(E.s, &o.r, &o.fd), 0);
	cr_assert_eq(pread(o.fd, hdr, 16, 0), 16);
	cr_assert_eq(hdr[8], 2);
	treload(&o);
	o.r.write_gen = 1;
	twrite(&o, ref, sizeof(ref), 0);
	tcommit(&o);
	cr_assert(!map_exists(&o, 1));
	struct slotcopy *s1 = slot_get(&o, 1);
	twrite(&o, ref + 5, 5, BS + 5);
	memcpy(ref + BS + 5, ref + 5, 5);
	cr_assert_eq(obj_truncate(o.fd, &o.r, sizeof(ref) + 100), 0);
	tcommit(&o);
	cr_assert(map_exists(&o, 2));
	treload(&o);
	verify_ok(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(ref), 0), (ssize_t)sizeof(ref));
	cr_assert(memcmp(buf, ref, sizeof(ref)) == 0);
	slot_put(&o, 1, s1);   /* its gen 1 version: stale */
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 10, BS), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "stale generation");
	cr_assert_eq(bad, 1);
	free(s1);
	tobj_free(&o);
}

/* Same session: truncated to 0, a write past the end (holes where the
 * blocks were), then block 0 written again: its version from before the
 * truncate fails after the commit (the truncate drew a fresh tag). */
Test(obj, same_session_truncate_zero_rewrite)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 3 * BS), a[OBJ_BLOCK_SIZE], buf[64];
	struct slotcopy *c0;

	fill_random(a, sizeof(a));
	twrite(&o, a, sizeof(a), 0);             /* block 0: gen 2, non-final */
	twrite(&o, a, 100, BS);
	c0 = slot_get(&o, 0);
	cr_assert_eq(obj_truncate(o.fd, &o.r, 0), 0);
	twrite(&o, a, 100, 5 * BS);              /* blocks 0-4: holes */
	a[0] ^= 1;
	twrite(&o, a, sizeof(a), 0);             /* block 0 again, non-final */
	tcommit(&o);
	verify_ok(&o);
	slot_put(&o, 0, c0);
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	free(c0);
	tobj_free(&o);
	free(ref);
}

/* Within a session: a write that grows the object re-seals its old final
 * block non-final under the same tag (no fresh tag needed: the flag
 * differs). The earlier, final version put back must not open with the
 * other flag, or a later partial write of that block would carry its
 * stale bytes into the commit. */
Test(obj, same_session_grow_final_flag)
{
	struct tobj o;
	uint8_t *ref = make_committed(&o, 3 * BS), a[100], buf[OBJ_BLOCK_SIZE];
	struct slotcopy *v1;

	fill_random(a, sizeof(a));
	cr_assert_eq(obj_truncate(o.fd, &o.r, BS), 0);   /* block 0: final, full */
	v1 = slot_get(&o, 0);
	twrite(&o, a, sizeof(a), BS - 10);               /* grows: block 0 non-final */
	slot_put(&o, 0, v1);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, 20, BS - 20), -EIO);
	cr_assert_lt(obj_write(o.fd, &o.r, a, 5, 0), 0);
	free(v1);
	tobj_free(&o);
	free(ref);
}

/* Whole content file of o (header, slots) as bytes, and back. */
static uint8_t *file_get(struct tobj *o, off_t *len)
{
	uint8_t *p;

	*len = flen(o->fd);
	p = malloc((size_t)*len);
	cr_assert_not_null(p);
	cr_assert_eq(pread(o->fd, p, (size_t)*len, 0), *len);
	return p;
}

static void file_put(struct tobj *o, const uint8_t *p, off_t len)
{
	cr_assert_eq(ftruncate(o->fd, len), 0);
	cr_assert_eq(pwrite(o->fd, p, (size_t)len, 0), len);
}

/* Review (write tags): a session killed after obj_commit wrote its commit
 * record (ns_io.c crash step "map", before the metadata commit) leaves an
 * authentic record of G+1 naming its own tag. The next session commits
 * G+1 with another tag; a copy of the content file taken at the kill
 * (record and blocks of the killed session) put back in place of the
 * committed one must fail, not serve the never-committed content. The
 * caller (the node) keeps the tag of the record it committed (r->commit,
 * from obj_commit's r->wcommit): another record of that generation makes
 * every read fail and verify report it. partial: the sessions rewrite one
 * block only, so the record names a map file (kind 2), which is put back
 * too, with only the killed session's block slot and header. */
static void killed_record_replay(int partial)
{
	struct tobj o;
	uint64_t size = 2 * BS + 100, off = partial ? BS : 0;
	size_t n = partial ? 300 : (size_t)size;
	uint8_t *ref = make_committed(&o, size), *b = malloc(size), *c = malloc(size);
	uint8_t *k, *buf = malloc(size), *kmap = NULL, *cur;
	ssize_t kmlen = 0;
	off_t klen;
	struct obj_ref r;
	int changed;
	unsigned rej;
	const char *what;
	uint64_t bad;

	cr_assert(b && c && buf);
	memcpy(b, ref, size);
	memcpy(c, ref, size);
	fill_random(b + off, n);
	fill_random(c + off, n);
	cr_assert_eq(obj_undo_new(E.s, &o.r.undo), 0);
	r = o.r;
	twrite(&o, b + off, n, off);                     /* session gen 2 */
	cr_assert_eq(obj_commit(E.s, o.fd, &o.r, 0), 0); /* record written */
	k = file_get(&o, &klen);                         /* killed here */
	if (partial) {
		cr_assert(map_exists(&o, 2));
		kmap = aux_get(o.r.id, OBJ_MAP_SUFFIX0, &kmlen);
	}
	obj_undo_free(o.r.undo);
	o.r.undo = NULL;
	r.write_gen = 0;
	r.map = NULL;
	r.undo = NULL;
	cr_assert_eq(obj_recover(E.s, E.k, &r, now(), &changed, &rej), 0);
	obj_map_free(o.r.map);
	o.r = r;
	o.r.key = o.key;
	o.r.map = NULL;
	treload(&o);
	check_all(&o, ref);
	verify_ok(&o);                                   /* gen 1's record is bound */
	o.r.write_gen = 2;                               /* the next session */
	twrite(&o, c + off, n, off);
	tcommit(&o);
	treload(&o);
	check_all(&o, c);
	verify_ok(&o);
	/* Root puts the copy taken at the kill back: the whole file, or only
	 * its header, the killed session's block slot and its map file. */
	if (partial) {
		cur = file_get(&o, &klen);
		memcpy(cur, k, OBJ_HEADER_SIZE);
		memcpy(cur + OBJ_HEADER_SIZE + SLOT, k + OBJ_HEADER_SIZE + SLOT, (size_t)SLOT);
		file_put(&o, cur, klen);
		free(cur);
		aux_put(o.r.id, OBJ_MAP_SUFFIX0, kmap, kmlen);
	} else {
		file_put(&o, k, klen);
	}
	obj_map_free(o.r.map);
	o.r.map = NULL;
	cr_assert_eq(obj_map_load(E.s, o.fd, &o.r, &o.r.map), 0);
	for (uint64_t at = 0; at < size; at += BS) {
		ssize_t got = obj_read(o.fd, &o.r, buf, size - at, at);
		cr_assert_eq(got, -EIO, "read at %llu: %zd", (unsigned long long)at, got);
	}
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "commit record is not the committed one");
	cr_assert_eq(obj_verify_ex(E.s, E.k, &o.r, now(), OBJ_VERIFY_LIVE, &what, &bad), -EIO);
	/* Without the binding (a node from before it was kept) the replay
	 * is not detected: what the node field adds. */
	memset(o.r.commit, 0, sizeof(o.r.commit));
	obj_map_free(o.r.map);
	o.r.map = NULL;
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, size, 0), (ssize_t)size);
	cr_assert(memcmp(buf, b, size) == 0);
	free(kmap);
	free(k);
	free(b);
	free(c);
	free(buf);
	tobj_free(&o);
	free(ref);
}

Test(obj, killed_commit_record_replay)
{
	killed_record_replay(0);
}

Test(obj, killed_commit_record_replay_map_file)
{
	killed_record_replay(1);
}

/* The commit record's tag that obj_commit hands back names the record it
 * wrote: formats 1 and 2 have none (zero), and a record named for a file
 * of a format without records fails like a foreign one. */
Test(obj, commit_tag_per_format)
{
	struct tobj o;
	uint8_t data[100], buf[100], none[OBJ_COMMIT_BYTES] = { 0 };
	const char *what;
	uint64_t bad;

	fill_random(data, sizeof(data));
	tobj_new(&o, 0);
	twrite(&o, data, sizeof(data), 0);
	cr_assert_eq(obj_commit(E.s, o.fd, &o.r, 0), 0);
	cr_assert_neq(memcmp(o.r.wcommit, none, sizeof(none)), 0);
	tobj_free(&o);

	memset(&o, 0, sizeof(o));
	cr_assert_eq(obj_key_new(E.k, 0, &o.r, &o.key, now()), 0);
	o.r.key = o.key;
	cr_assert_eq(obj_file_create_v2(E.s, &o.r, &o.fd), 0);
	treload(&o);
	o.r.write_gen = 1;
	twrite(&o, data, sizeof(data), 0);
	tcommit(&o);
	cr_assert_eq(memcmp(o.r.commit, none, sizeof(none)), 0);
	treload(&o);
	check_range(&o, data, 0, sizeof(data));
	verify_ok(&o);
	o.r.commit[0] = 1;                    /* a node naming a record */
	treload(&o);
	cr_assert_eq(obj_read(o.fd, &o.r, buf, sizeof(buf), 0), -EIO);
	cr_assert_eq(verify(&o, &what, &bad), -EIO);
	cr_assert_str_eq(what, "commit record is not the committed one");
	tobj_free(&o);
}

/* Review (write tags): random writes, appends and truncates in one session
 * over a committed object; every version any block slot held during the
 * session, put back in place of the current one, must fail or read the
 * current bytes (never other bytes), before and after the commit. */
Test(obj, session_slot_versions_fuzz)
{
	enum { MAXB = 6, NV = 400 };
	static uint8_t ref[MAXB * OBJ_BLOCK_SIZE + 64], data[2 * OBJ_BLOCK_SIZE];
	static uint8_t cur[OBJ_BLOCK_SIZE], got[OBJ_BLOCK_SIZE];
	struct slotcopy *v[NV];
	uint64_t vb[NV];
	size_t nv = 0;

	for (int round = 0; round < 300; round++) {
		struct tobj o;
		uint64_t size = 1 + rnd_below(3 * BS);
		uint8_t *base = make_committed(&o, size);
		memcpy(ref, base, size);
		free(base);
		nv = 0;
		for (int op = 0; op < 12; op++) {
			uint64_t r = rnd_below(10), sz = o.r.size;
			if (r < 7) {
				uint64_t off = r < 4 ? sz : r == 6 ? sz + rnd_below(3 * BS) : rnd_below(sz + 100);
				uint64_t len = 1 + rnd_below(r < 4 ? 300 : BS + 200);
				if (off + len > MAXB * BS)
					continue;
				fill_random(data, len);
				twrite(&o, data, len, off);
				if (off > sz)
					memset(ref + sz, 0, off - sz);
				memcpy(ref + off, data, len);
			} else {
				uint64_t ns = rnd_below(MAXB * BS);
				cr_assert_eq(obj_truncate(o.fd, &o.r, ns), 0);
				if (ns > sz)
					memset(ref + sz, 0, ns - sz);
			}
			for (uint64_t b = 0; o.r.size && b <= (o.r.size - 1) / BS && nv < NV; b++) {
				v[nv] = slot_get(&o, b);
				vb[nv++] = b;
			}
		}
		for (int phase = 0; phase < 2; phase++) {
			if (phase == 1) {
				tcommit(&o);
				treload(&o);
			}
			/* In the session a failure marks the map damaged for
			 * good: one random version there, all after the commit. */
			size_t i0 = phase ? 0 : (size_t)rnd_below(nv ? nv : 1);
			for (size_t i = i0; i < (phase ? nv : (nv ? i0 + 1 : 0)); i++) {
				uint64_t b = vb[i];
				if (!o.r.size || b > (o.r.size - 1) / BS)
					continue;
				size_t n = (size_t)(o.r.size - b * BS < BS ? o.r.size - b * BS : BS);
				struct slotcopy *now_ = slot_get(&o, b);
				cr_assert_eq(obj_read(o.fd, &o.r, cur, n, b * BS), (ssize_t)n);
				cr_assert(memcmp(cur, ref + b * BS, n) == 0);
				slot_put(&o, b, v[i]);
				ssize_t g = obj_read(o.fd, &o.r, got, n, b * BS);
				cr_assert(g == -EIO || (g == (ssize_t)n && memcmp(got, cur, n) == 0),
					  "round %d phase %d: version %zu of block %llu read %zd, other bytes",
					  round, phase, i, (unsigned long long)b, g);
				slot_put(&o, b, now_);
				free(now_);
				/* A failure marks the map damaged: load it anew. */
				if (phase)
					treload(&o);
			}
		}
		for (size_t i = 0; i < nv; i++)
			free(v[i]);
		tobj_free(&o);
	}
}

/* Review of the legacy bind (obj_commit_tag, ns_bind.c): a format-3 file
 * hands back the tag of its committed generation's record (the one a
 * node names after a commit); formats 1 and 2 have none (-ENOTSUP: the
 * bind counts them old_format, reads and verify leave them as before); a
 * header that fails authentication is -EIO (nothing to trust); no record
 * of the generation or no file -ENOENT. */
Test(obj, commit_tag_by_format)
{
	static uint8_t data[2 * OBJ_BLOCK_SIZE + 11];
	uint8_t tag[OBJ_COMMIT_BYTES];
	struct obj_ref r;
	struct tobj o;

	fill_random(data, sizeof(data));
	tobj_new(&o, 0);
	twrite(&o, data, sizeof(data), 0);
	tcommit(&o);
	r = o.r;
	memset(r.commit, 0, sizeof(r.commit));   /* as a legacy node */
	cr_assert_eq(obj_commit_tag(E.s, E.k, &r, now(), tag), 0);
	cr_assert(memcmp(tag, o.r.commit, OBJ_COMMIT_BYTES) == 0, "the committed record's tag");
	r.gen = 2;                                /* no record of that generation */
	cr_assert_eq(obj_commit_tag(E.s, E.k, &r, now(), tag), -ENOENT);
	r.gen = 1;
	uint8_t b;
	cr_assert_eq(pread(o.fd, &b, 1, 40), 1);   /* header byte inside the AEAD'd part */
	b ^= 1;
	cr_assert_eq(pwrite(o.fd, &b, 1, 40), 1);
	cr_assert_eq(obj_commit_tag(E.s, E.k, &r, now(), tag), -EIO);
	cr_assert_eq(store_obj_unlink(E.s, r.id), 0);
	cr_assert_eq(obj_commit_tag(E.s, E.k, &r, now(), tag), -ENOENT);
	tobj_free(&o);

	memset(&o, 0, sizeof(o));
	cr_assert_eq(obj_key_new(E.k, 0, &o.r, &o.key, now()), 0);
	o.r.key = o.key;
	cr_assert_eq(obj_file_create_v2(E.s, &o.r, &o.fd), 0);
	treload(&o);
	o.r.write_gen = 1;
	twrite(&o, data, sizeof(data), 0);
	tcommit(&o);
	cr_assert_eq(obj_commit_tag(E.s, E.k, &o.r, now(), tag), -ENOTSUP, "format 2");
	tobj_free(&o);
}
