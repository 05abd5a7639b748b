/* obj: the encrypted content format of one object (see include/obj.h).
 *
 * Every block read goes through obj_open_block(), which applies the
 * generation and final-flag rules; every block written goes through
 * seal_block(). Reads and writes work on runs of up to CHUNK_SLOTS slots
 * with one pread/pwrite per run, so a FUSE request is one syscall. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "obj.h"
#include "obj_priv.h"

#define CHUNK_SLOTS 72u   /* > 1 MiB of plaintext: a misaligned 1 MiB request fits */

/* Header field offsets. */
#define H_MAGIC 0
#define H_FORMAT 8
#define H_ALG 12
#define H_ID 16
#define H_WRAPPED 32
#define H_NONCE (H_WRAPPED + KMS_WRAPPED_BYTES)
#define H_PAD (H_NONCE + WCRYPTO_NONCEBYTES)
#define H_TAG (OBJ_HEADER_SIZE - WCRYPTO_TAGBYTES)

/* Slot field offsets (S_GEN: obj_priv.h). */
#define S_NONCE 8
#define S_CT 32

#define BLK_AD_LEN (8 + 16 + 8 + 1 + 8)       /* formats 1, 2, inline values */
#define BLK_AD_LEN3 (BLK_AD_LEN + 8)          /* format 3: + u64 write tag */

static const char obj_magic[8] = { 'W', 'O', 'R', 'M', 'O', 'B', 'J', '1' };
static const char blk_magic[8] = { 'W', 'O', 'R', 'M', 'B', 'L', 'K', '1' };

uint64_t obj_file_length(uint64_t size)
{
	uint64_t last;

	if (size == 0)
		return OBJ_HEADER_SIZE;
	last = (size - 1) / BS;
	return OBJ_HEADER_SIZE + last * SLOT + OBJ_BLOCK_OVERHEAD + (size - last * BS);
}

/* ---- raw I/O --------------------------------------------------------------- */

/* Read up to n bytes; fewer only at EOF. Returns the count or -errno. */
ssize_t obj_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int obj_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = pwrite(fd, (const uint8_t *)buf + put, n - put, (off_t)(off + put));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		put += (size_t)r;
	}
	return 0;
}

int obj_ftruncate(int fd, uint64_t len)
{
	int rc;

	do
		rc = ftruncate(fd, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

/* AES-GCM uses 12 of the 24 nonce bytes: the rest are stored as zeros and
 * must read back as zeros, so that every stored bit is authenticated. */
#define GCM_NONCE 12

void obj_nonce_fresh(const wcrypto_aead *key, uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	wcrypto_nonce(nonce);
	if (wcrypto_aead_alg(key) == WCRYPTO_AES256GCM)
		memset(nonce + GCM_NONCE, 0, WCRYPTO_NONCEBYTES - GCM_NONCE);
}

int obj_nonce_ok(const wcrypto_aead *key, const uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	if (wcrypto_aead_alg(key) != WCRYPTO_AES256GCM)
		return 1;
	for (int i = GCM_NONCE; i < WCRYPTO_NONCEBYTES; i++)
		if (nonce[i])
			return 0;
	return 1;
}

/* ---- header ---------------------------------------------------------------- */

/* Bytes the header's tag covers: all before it, except in format 3 the
 * commit records and what follows them (each record is sealed alone). */
static size_t header_ad_len(const uint8_t hdr[OBJ_HEADER_SIZE])
{
	return get_le32(hdr + H_FORMAT) >= OBJ_FORMAT_V3 ? H_REC : H_TAG;
}

static int header_seal(const wcrypto_aead *key, uint8_t hdr[OBJ_HEADER_SIZE])
{
	uint8_t dummy = 0;

	obj_nonce_fresh(key, hdr + H_NONCE);
	return wcrypto_aead_seal(key, &dummy, hdr + H_TAG, &dummy, 0, hdr, header_ad_len(hdr),
				 hdr + H_NONCE);
}

static int header_build(const wcrypto_aead *key, int alg, const uint8_t id[16],
			const uint8_t wrapped[KMS_WRAPPED_BYTES], unsigned fmt,
			uint8_t hdr[OBJ_HEADER_SIZE])
{
	memset(hdr, 0, OBJ_HEADER_SIZE);
	memcpy(hdr + H_MAGIC, obj_magic, sizeof(obj_magic));
	put_le32(hdr + H_FORMAT, fmt);
	put_le32(hdr + H_ALG, (uint32_t)alg);
	memcpy(hdr + H_ID, id, 16);
	memcpy(hdr + H_WRAPPED, wrapped, KMS_WRAPPED_BYTES);
	return header_seal(key, hdr);
}

/* 0 if hdr belongs to r and authenticates under key, else -EIO. */
static int header_check(const struct obj_ref *r, const wcrypto_aead *key,
			const uint8_t hdr[OBJ_HEADER_SIZE])
{
	uint8_t dummy = 0;

	uint32_t fmt = get_le32(hdr + H_FORMAT);

	if (memcmp(hdr + H_MAGIC, obj_magic, sizeof(obj_magic)) != 0 ||
	    (fmt != OBJ_FORMAT_V1 && fmt != OBJ_FORMAT_V2 && fmt != OBJ_FORMAT_V3) ||
	    get_le32(hdr + H_ALG) != (uint32_t)r->alg || !wcrypto_alg_valid(r->alg) ||
	    memcmp(hdr + H_ID, r->id, 16) != 0)
		return -EIO;
	for (size_t i = H_PAD; i < H_TAG; i++)
		if (hdr[i] && (fmt < OBJ_FORMAT_V3 || i < H_REC || i >= H_REC_END))
			return -EIO;
	if (!obj_nonce_ok(key, hdr + H_NONCE) ||
	    wcrypto_aead_open(key, &dummy, &dummy, 0, hdr + H_TAG, hdr, header_ad_len(hdr),
			      hdr + H_NONCE))
		return -EIO;
	return 0;
}

static int header_read_check(int fd, const struct obj_ref *r, const wcrypto_aead *key,
			     uint8_t hdr[OBJ_HEADER_SIZE])
{
	ssize_t got = obj_pread_full(fd, hdr, OBJ_HEADER_SIZE, 0);

	if (got < 0)
		return (int)got;
	if (got != OBJ_HEADER_SIZE)
		return -EIO;
	return header_check(r, key, hdr);
}

int obj_header_read(int fd, const struct obj_ref *r, unsigned *fmt,
		    uint8_t hdr[OBJ_HEADER_SIZE])
{
	int rc = header_read_check(fd, r, r->key, hdr);

	if (!rc)
		*fmt = get_le32(hdr + H_FORMAT);
	return rc;
}

/* ---- blocks ---------------------------------------------------------------- */

/* The AD of a block; tag 0: formats 1 and 2 and inline values (no write
 * tag), else format 3 (the tag appended). Returns its length. */
static size_t block_ad(uint8_t ad[BLK_AD_LEN3], const uint8_t id[16], uint64_t idx, int final,
		       uint64_t gen, uint64_t tag)
{
	memcpy(ad, blk_magic, 8);
	memcpy(ad + 8, id, 16);
	put_le64(ad + 24, idx);
	ad[32] = (uint8_t)(final ? 1 : 0);
	put_le64(ad + 33, gen);
	if (!tag)
		return BLK_AD_LEN;
	put_le64(ad + BLK_AD_LEN, tag);
	return BLK_AD_LEN3;
}

/* Seal len bytes of plain as block idx with write tag tag (0: none) into
 * slot (48 + len bytes). */
static int seal_block(const struct obj_ref *r, uint64_t idx, int final, const uint8_t *plain,
		      size_t len, uint64_t tag, uint8_t *slot)
{
	uint8_t ad[BLK_AD_LEN3];
	size_t adlen = block_ad(ad, r->id, idx, final, r->write_gen, tag);

	put_le64(slot + S_GEN, r->write_gen);
	obj_nonce_fresh(r->key, slot + S_NONCE);
	return wcrypto_aead_seal(r->key, slot + S_CT, slot + S_CT + len, plain, len, ad, adlen,
				 slot + S_NONCE);
}

static int try_open(const struct obj_ref *r, uint64_t idx, int final, uint64_t gen,
		    uint64_t tag, uint8_t *dst, const uint8_t *slot, size_t len)
{
	uint8_t ad[BLK_AD_LEN3];
	size_t adlen;

	if (!obj_nonce_ok(r->key, slot + S_NONCE))
		return -EBADMSG;
	adlen = block_ad(ad, r->id, idx, final, gen, tag);
	return wcrypto_aead_open(r->key, dst, slot + S_CT, len, slot + S_CT + len, ad, adlen,
				 slot + S_NONCE);
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The other final flag, for a block of the session in flight (gen G+1):
 * a write that failed part way may have left it so. As a full block; a
 * shorter final one is decrypted in place, then cut. */
static int open_alt(const struct obj_ref *r, uint64_t idx, int final, size_t len,
		    uint64_t gen, uint64_t tag, uint8_t *slot, uint8_t *dst)
{
	if (final && len < BS) {
		if (try_open(r, idx, 0, gen, tag, slot + S_CT, slot, BS))
			return -EIO;
		memcpy(dst, slot + S_CT, len);
		return 0;
	}
	return try_open(r, idx, !final, gen, tag, dst, slot, BS) ? -EIO : 0;
}

/* Formats 2 and 3: the block must carry exactly the generation its map
 * names (format 3: and its write tag, in the AD); a hole (gen 0 in the
 * map) must be an all-zero slot. */
static int open_exact(const struct obj_ref *r, uint64_t idx, int final, size_t len,
		      uint8_t *slot, size_t avail, uint8_t *dst, enum why *why, int *alt)
{
	uint64_t tag = 0, want = obj_map_gen(r->map, idx, &tag);

	if (want == 0) {
		/* Only an object recorded as sparse has holes, never at the
		 * final block. */
		*why = WHY_HOLE;
		if (!r->sparse || final || avail < SLOT || !all_zero(slot, SLOT))
			return -EIO;
		memset(dst, 0, len);
		*why = WHY_NONE;
		return 0;
	}
	*why = WHY_SHORT;
	if (avail < OBJ_BLOCK_OVERHEAD + len)
		return -EIO;
	*why = WHY_STALE;
	/* Format 3 without a commit record of this generation (an older
	 * copy of the file): no version of the block is known good. */
	if (get_le64(slot + S_GEN) != want || (r->map->fmt >= OBJ_FORMAT_V3 && !tag))
		return -EIO;
	*why = WHY_AUTH;
	if (try_open(r, idx, final, want, tag, dst, slot, len) == 0) {
		*why = WHY_NONE;
		return 0;
	}
	/* Format 3: only a block expected final may be read with the other
	 * flag (a write that grew the object and failed part way left it
	 * non-final). The other way round would accept the earlier, final
	 * version of the old final block that a write growing the object
	 * re-sealed non-final under the same tag. */
	if (want <= r->gen || avail < SLOT || (r->map->fmt >= OBJ_FORMAT_V3 && !final) ||
	    open_alt(r, idx, final, len, want, tag, slot, dst))
		return -EIO;
	*alt = 1;
	*why = WHY_NONE;
	return 0;
}

/* Open block idx of an object of the given size from its slot bytes (avail
 * of them were on disk, up to a full slot). Writes exactly the block's
 * logical length (size - idx*BS, at most BS) to dst; may clobber slot.
 * *alt is set when an interrupted session left a gen G+1 block whose
 * final flag disagrees with the size (obj_commit re-seals it). */
int obj_open_block(const struct obj_ref *r, uint64_t size, uint64_t idx, uint8_t *slot,
		      size_t avail, uint8_t *dst, enum why *why, int *alt)
{
	uint64_t fin_idx = (size - 1) / BS, gen, g = r->gen;
	int final = idx == fin_idx;
	size_t len = final ? (size_t)(size - idx * BS) : (size_t)BS;

	*alt = 0;
	if (r->map && r->map->fmt >= OBJ_FORMAT_V2)
		return open_exact(r, idx, final, len, slot, avail, dst, why, alt);
	*why = WHY_SHORT;
	if (avail < OBJ_BLOCK_OVERHEAD + len)
		return -EIO;
	gen = get_le64(slot + S_GEN);
	if (gen == 0) {
		/* A hole: the whole slot is zero. The final block never is. */
		*why = WHY_AUTH;
		/* Only an object recorded as sparse may have holes: a block
		 * zeroed on disk in any other object is tampering. */
		if (!r->sparse || final || avail < SLOT || !all_zero(slot, SLOT))
			return -EIO;
		memset(dst, 0, len);
		*why = WHY_NONE;
		return 0;
	}
	*why = WHY_STALE;
	if (gen > g && gen - g > 1)
		return -EIO;
	if (final && gen < g)
		return -EIO;
	*why = WHY_AUTH;
	if (try_open(r, idx, final, gen, 0, dst, slot, len) == 0) {
		*why = WHY_NONE;
		return 0;
	}
	if (gen <= g || avail < SLOT)
		return -EIO;
	/* gen G+1 (a session in flight or interrupted): the other flag. */
	if (open_alt(r, idx, final, len, gen, 0, slot, dst))
		return -EIO;
	*alt = 1;
	*why = WHY_NONE;
	return 0;
}

/* Read and open one block into dst (room for BS; zero-filled past the
 * block's logical length). slotbuf holds SLOT bytes. */
static int read_block(int fd, const struct obj_ref *r, uint64_t size, uint64_t idx,
		      uint8_t *slotbuf, uint8_t *dst, int *alt)
{
	enum why why;
	ssize_t got = obj_pread_full(fd, slotbuf, SLOT, slot_off(idx));

	if (got < 0)
		return (int)got;
	memset(dst, 0, BS);
	return obj_open_block(r, size, idx, slotbuf, (size_t)got, dst, &why, alt);
}

/* ---- create / open / keys ---------------------------------------------------- */

int obj_key_from_wrapped(kms *k, const struct obj_ref *r, int nocache, uint64_t now_ns,
			    wcrypto_aead **key)
{
	struct kms_wrapped w;
	uint8_t *dek;
	int rc;

	if (!wcrypto_alg_valid(r->alg))
		return -EINVAL;
	dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	if (!dek)
		return -ENOMEM;
	memcpy(w.b, r->wrapped, KMS_WRAPPED_BYTES);
	rc = nocache ? kms_decrypt_nocache(k, r->id, &w, dek, now_ns)
		     : kms_decrypt(k, r->id, &w, dek, now_ns);
	if (!rc)
		rc = wcrypto_aead_new(r->alg, kms_crypto_impl(k), dek, key);
	wcrypto_secure_free(dek);
	return rc;
}

int obj_key_open(kms *k, const struct obj_ref *r, wcrypto_aead **key, uint64_t now_ns)
{
	return obj_key_from_wrapped(k, r, 0, now_ns, key);
}

int obj_key_new(kms *k, int alg, struct obj_ref *r, wcrypto_aead **key, uint64_t now_ns)
{
	struct kms_wrapped w;
	wcrypto_aead *a = NULL;
	uint8_t *dek;
	int rc;

	if (alg == 0)
		alg = wcrypto_default_alg();
	if (!wcrypto_alg_valid(alg))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	store_objid_new(r->id);
	r->alg = alg;
	dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	if (!dek)
		return -ENOMEM;
	rc = kms_generate_data_key(k, r->id, dek, &w, now_ns);
	if (!rc)
		rc = wcrypto_aead_new(alg, kms_crypto_impl(k), dek, &a);
	wcrypto_secure_free(dek);
	if (rc)
		return rc;
	memcpy(r->wrapped, w.b, KMS_WRAPPED_BYTES);
	*key = a;
	return 0;
}

static int file_create(store *s, const struct obj_ref *r, int excl, unsigned fmt, int *fd)
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	int rc, f = -1;

	if (!r->key)
		return -EINVAL;
	rc = header_build(r->key, r->alg, r->id, r->wrapped, fmt, hdr);
	if (rc)
		return rc;
	rc = store_obj_open(s, r->id, O_RDWR | O_CREAT | (excl ? O_EXCL : O_TRUNC), &f);
	if (rc)
		return rc;
	/* No fsync here: creating a file per object is the hot path of an
	 * untar. Durability comes with the caller's fsync (which also syncs
	 * the object directory); a process crash loses nothing. */
	rc = obj_pwrite_full(f, hdr, sizeof(hdr), 0);
	if (rc) {
		close(f);
		/* rc is the failure to report; a file left behind is named by
		 * no node (removed by the recovery, reported by verify). */
		worm_discard(store_obj_unlink(s, r->id));
		return rc;
	}
	*fd = f;
	return 0;
}

int obj_file_create(store *s, const struct obj_ref *r, int excl, int *fd)
{
	return file_create(s, r, excl, OBJ_FORMAT_V3, fd);
}

int obj_file_create_v2(store *s, const struct obj_ref *r, int *fd)
{
	return file_create(s, r, 1, OBJ_FORMAT_V2, fd);
}

int obj_file_create_v1(store *s, const struct obj_ref *r, int *fd)
{
	return file_create(s, r, 1, OBJ_FORMAT_V1, fd);
}

int obj_create(store *s, kms *k, int alg, struct obj_ref *r, int *fd, wcrypto_aead **key,
	       uint64_t now_ns)
{
	wcrypto_aead *a = NULL;
	int rc = obj_key_new(k, alg, r, &a, now_ns);

	if (rc)
		return rc;
	r->key = a;
	rc = obj_file_create(s, r, 1, fd);
	r->key = NULL;
	if (!rc) {
		rc = obj_map_new(&r->map);
		if (rc) {
			close(*fd);
			/* As in obj_file_create: rc is what counts. */
			worm_discard(store_obj_unlink(s, r->id));
		}
	}
	if (rc) {
		wcrypto_aead_free(a);
		return rc;
	}
	*key = a;
	return 0;
}

int obj_open(store *s, const struct obj_ref *r, int flags, int *fd)
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	int rc, f;

	if (!r->key)
		return -EINVAL;
	rc = store_obj_open(s, r->id, flags, &f);
	if (rc)
		return rc;
	rc = header_read_check(f, r, r->key, hdr);
	if (rc) {
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

int obj_set_wrapped(store *s, const struct obj_ref *r, const uint8_t wrapped[KMS_WRAPPED_BYTES])
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	int rc, f;

	if (!r->key)
		return -EINVAL;
	rc = store_obj_open(s, r->id, O_RDWR, &f);
	if (rc)
		return rc;
	rc = header_read_check(f, r, r->key, hdr);
	if (rc)
		goto out;
	memcpy(hdr + H_WRAPPED, wrapped, KMS_WRAPPED_BYTES);
	rc = header_seal(r->key, hdr);
	if (!rc)
		rc = obj_pwrite_full(f, hdr, sizeof(hdr), 0);
	if (!rc && fsync(f) < 0)
		rc = -errno;
out:
	close(f);
	return rc;
}

/* ---- read ------------------------------------------------------------------ */

ssize_t obj_read(int fd, const struct obj_ref *r, void *buf, size_t n, uint64_t off)
{
	uint64_t size = r->size, end, first, last, b;
	uint8_t *cbuf = NULL, *bounce;
	size_t done = 0, nslots;
	ssize_t rc = 0;

	if (!r->key || !r->map)
		return -EINVAL;
	if (off >= size || n == 0)
		return 0;
	/* Once a block of the object failed, the object fails whole: the
	 * kernel, when a request fails, reads again page by page and would
	 * return the pages before the damage as a short read. */
	if (atomic_load_explicit(&r->map->damaged, memory_order_relaxed))
		return -EIO;
	if (n > size - off)
		n = (size_t)(size - off);
	end = off + n;
	first = off / BS;
	last = (end - 1) / BS;
	nslots = last - first + 1 < CHUNK_SLOTS ? (size_t)(last - first + 1) : CHUNK_SLOTS;
	cbuf = malloc(nslots * SLOT + BS);
	if (!cbuf)
		return -ENOMEM;
	bounce = cbuf + nslots * SLOT;
	for (uint64_t cb = first; cb <= last; cb += nslots) {
		uint64_t ce = last - cb + 1 < nslots ? last : cb + nslots - 1;
		ssize_t got = obj_pread_full(fd, cbuf, (size_t)((ce - cb + 1) * SLOT), slot_off(cb));

		if (got < 0) {
			rc = got;
			goto out;
		}
		for (b = cb; b <= ce; b++) {
			size_t at = (size_t)((b - cb) * SLOT);
			size_t avail = (size_t)got > at ? (size_t)got - at : 0;
			uint64_t bstart = b * BS;
			uint64_t blen = size - bstart < BS ? size - bstart : BS;
			uint64_t lo = off > bstart ? off : bstart;
			uint64_t hi = end < bstart + blen ? end : bstart + blen;
			int whole = lo == bstart && hi == bstart + blen, alt;
			uint8_t *dst = whole ? (uint8_t *)buf + (lo - off) : bounce;
			enum why why;

			if (avail > SLOT)
				avail = SLOT;
			rc = obj_open_block(r, size, b, cbuf + at, avail, dst, &why, &alt);
			if (rc) {
				atomic_store_explicit(&r->map->damaged, 1, memory_order_relaxed);
				goto out;
			}
			if (!whole)
				memcpy((uint8_t *)buf + (lo - off), bounce + (lo - bstart), hi - lo);
			done += hi - lo;
		}
	}
	rc = (ssize_t)done;
out:
	free(cbuf);
	return rc;
}

/* ---- write / truncate / commit ----------------------------------------------- */

/* Write n bytes of sealed slots of blocks [first, last] at off and record
 * them in the map as the session's (room made first: once on disk they
 * must be in the map, or they read as damage). */
static int map_written(struct obj_ref *r, uint64_t first, uint64_t last, uint64_t tag, int fd,
		       const uint8_t *buf, size_t n, uint64_t off)
{
	int rc = obj_map_reserve(r->map);

	if (!rc)
		rc = obj_pwrite_full(fd, buf, n, off);
	if (!rc)
		obj_map_set(r->map, first, last, r->write_gen, tag);
	return rc;
}

/* Blocks [first, last] are holes now (the file was cut before them). */
static int map_holes(struct obj_ref *r, uint64_t first, uint64_t last)
{
	int rc = obj_map_reserve(r->map);

	if (!rc && first <= last)
		obj_map_set(r->map, first, last, 0, 0);
	return rc;
}

/* Re-seal the final block of an object of size old (> 0) as a full
 * non-final block, zero padded: the object grows past it. */
static int reseal_nonfinal(int fd, struct obj_ref *r, uint64_t old, uint64_t tag,
			   uint8_t *slotbuf, uint8_t *plain)
{
	uint64_t idx = (old - 1) / BS;
	int alt, rc = read_block(fd, r, old, idx, slotbuf, plain, &alt);

	if (!rc)
		rc = seal_block(r, idx, 0, plain, BS, tag, slotbuf);
	if (!rc)
		rc = obj_undo_save(fd, r, idx, idx);
	if (!rc)
		rc = map_written(r, idx, idx, tag, fd, slotbuf, SLOT, slot_off(idx));
	return rc;
}

static int write_checks(const struct obj_ref *r)
{
	if (!r->write_gen || !r->key || !r->map)
		return -EINVAL;
	return 0;
}

/* Sealing and writing of one run of blocks: block cb + i from plain[i]
 * (len[i] bytes, final flag fin[i]) into slot i of cbuf, then to the file
 * at slot_off(cb + i). The run is cut into pieces of `piece` blocks; each
 * thread (the caller and the sealer helper) takes the next piece, seals
 * it and writes it with one pwrite, so one thread's pwrite (into the page
 * cache, under the content file's inode lock) overlaps the other's
 * sealing instead of following all of it. */
struct seal_job {
	const struct obj_ref *r;
	uint64_t cb, tag;
	const uint8_t *plain[CHUNK_SLOTS];
	size_t len[CHUNK_SLOTS];
	int fin[CHUNK_SLOTS];
	uint8_t *cbuf;
	int fd;
	size_t count, piece;
	atomic_size_t next;        /* the next piece to take */
	atomic_int failed;         /* a piece failed: take no more */
};

struct seal_worker {
	struct seal_job *j;
	int rc;
};

/* Bytes of slots [i, i + n) of the run: the last block of the run may be
 * short (the object's final block). */
static size_t run_bytes(const struct seal_job *j, size_t i, size_t n)
{
	size_t end = i + n;

	if (end < j->count)
		return n * SLOT;
	return (n - 1) * SLOT + OBJ_BLOCK_OVERHEAD + j->len[j->count - 1];
}

static void seal_pieces(void *arg)
{
	struct seal_worker *w = arg;
	struct seal_job *j = w->j;

	while (!w->rc && !atomic_load_explicit(&j->failed, memory_order_relaxed)) {
		size_t p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		size_t from = p * j->piece, n;

		if (from >= j->count)
			break;
		n = j->count - from < j->piece ? j->count - from : j->piece;
		for (size_t i = from; i < from + n && !w->rc; i++)
			w->rc = seal_block(j->r, j->cb + i, j->fin[i], j->plain[i], j->len[i],
					   j->tag, j->cbuf + i * SLOT);
		if (!w->rc)
			w->rc = obj_pwrite_full(j->fd, j->cbuf + from * SLOT, run_bytes(j, from, n),
						slot_off(j->cb + from));
		if (w->rc)
			atomic_store_explicit(&j->failed, 1, memory_order_relaxed);
	}
}

/* Below this many blocks the hand-off costs more than it saves. */
#define SEALER_MIN_BLOCKS 8u
/* Blocks per piece when two threads share a run: small enough that the
 * two threads' pwrites rarely wait for each other, large enough that the
 * extra pwrites (one per piece, not one per run) cost little. */
#define SEALER_PIECE_BLOCKS 8u

/* Seal and write the run's count blocks. 0, or the first error (then any
 * subset of the run's slots may be on disk). */
static int seal_write_all(struct seal_job *j, size_t count)
{
	struct seal_worker me = { j, 0 }, other = { j, 0 };

	j->count = count;
	j->piece = count;     /* alone: one pwrite for the run */
	atomic_init(&j->next, 0);
	atomic_init(&j->failed, 0);
	if (j->r->sealer && count >= SEALER_MIN_BLOCKS) {
		j->piece = SEALER_PIECE_BLOCKS;
		if (obj_sealer_start(j->r->sealer, seal_pieces, &other)) {
			seal_pieces(&me);
			obj_sealer_wait(j->r->sealer);
			return me.rc ? me.rc : other.rc;
		}
		j->piece = count;
	}
	seal_pieces(&me);
	return me.rc;
}

ssize_t obj_write(int fd, struct obj_ref *r, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *src = buf;
	uint64_t old = r->size, end, new_size, first, last, lo, new_last, old_last;
	uint8_t *cbuf = NULL, *bounce, *rbuf, *save = NULL;
	struct seal_job job;   /* ~1.5 KiB: on the stack, not a malloc per request */
	size_t nslots;
	int rc;

	rc = write_checks(r);
	if (rc)
		return rc;
	if (n == 0)
		return 0;
	if (off > OBJ_MAX_SIZE || n > OBJ_MAX_SIZE - off)
		return -EFBIG;
	if (n > SSIZE_MAX)
		return -EINVAL;
	end = off + n;
	new_size = end > old ? end : old;
	first = off / BS;
	last = (end - 1) / BS;
	new_last = (new_size - 1) / BS;
	old_last = old ? (old - 1) / BS : 0;
	lo = first;
	/* The old final block is re-sealed as non-final when the write starts
	 * past it: in the same pwrite if adjacent, else separately and the
	 * blocks between stay holes. */
	if (old && first == old_last + 1)
		lo = old_last;
	nslots = last - lo + 1 < CHUNK_SLOTS ? (size_t)(last - lo + 1) : CHUNK_SLOTS;
	/* Format 3: a block sealed twice under one write tag and generation
	 * would leave an authentic older version; the old final block of a
	 * write that grows the object is the one exception (see
	 * obj_map_write_tag). */
	job.tag = obj_map_write_tag(r->map, r->write_gen, lo, last,
				    old && new_size > old ? old_last : UINT64_MAX);
	/* Partial blocks need their own plaintext copy: at most three per
	 * call (the old final block, the first and the last written). */
	cbuf = malloc(nslots * SLOT + 3 * BS + SLOT);
	if (!cbuf) {
		obj_map_retag(r->map);
		return -ENOMEM;
	}
	bounce = cbuf + nslots * SLOT;
	rbuf = bounce + 3 * BS;
	job.r = r;
	job.cbuf = cbuf;
	job.fd = fd;
	if ((old && first > old_last + 1) || (!old && first > 0)) {
		r->sparse = 1;
		if (old && (rc = reseal_nonfinal(fd, r, old, job.tag, rbuf, bounce)) != 0)
			r->torn = 1;   /* the final block may be half rewritten */
		/* Drop bytes an interrupted session may have left where the
		 * holes will be, so they read as zeros (committed ones, left by
		 * an uncommitted shrink, journaled first). */
		if (!rc)
			rc = obj_undo_save(fd, r, old ? old_last + 1 : 0, UINT64_MAX);
		if (!rc)
			rc = obj_ftruncate(fd, old ? slot_off(old_last + 1) : OBJ_HEADER_SIZE);
		if (!rc)
			rc = map_holes(r, old ? old_last + 1 : 0, first - 1);
		if (rc)
			goto out;
	}
	size_t nbounce = 0;
	for (uint64_t cb = lo; cb <= last; cb += nslots) {
		uint64_t ce = last - cb + 1 < nslots ? last : cb + nslots - 1;

		job.cb = cb;
		for (uint64_t b = cb; b <= ce; b++) {
			uint64_t bstart = b * BS;
			int final = b == new_last, alt;
			size_t blen = final ? (size_t)(new_size - bstart) : (size_t)BS;
			uint64_t wlo = off > bstart ? off : bstart;
			uint64_t whi = end < bstart + blen ? end : bstart + blen;
			const uint8_t *plain;

			if (wlo == bstart && whi == bstart + blen) {
				plain = src + (wlo - off);
			} else {
				/* Partial: old content if the block existed, else zeros. */
				uint8_t *bb = bounce + (nbounce++ % 3) * BS;
				if (old && b <= old_last) {
					rc = read_block(fd, r, old, b, rbuf, bb, &alt);
					if (rc)
						goto out;
				} else {
					memset(bb, 0, BS);
				}
				if (whi > wlo)
					memcpy(bb + (wlo - bstart), src + (wlo - off), whi - wlo);
				plain = bb;
			}
			job.plain[b - cb] = plain;
			job.len[b - cb] = blen;
			job.fin[b - cb] = final;
		}
		rc = obj_undo_save(fd, r, cb, ce);
		if (rc)
			goto out;
		/* Blocks inside the current size are rewritten in place: keep
		 * them as they are, so that a write failing part way (EIO,
		 * ENOSPC) can put them back instead of leaving one torn. For
		 * an append that is the old final block only. */
		ssize_t keep = 0;
		if (old && cb <= old_last) {
			uint64_t ke = ce < old_last ? ce : old_last;
			size_t want = (size_t)((ke - cb + 1) * SLOT);
			if (!save && !(save = malloc(nslots * SLOT))) {
				rc = -ENOMEM;
				goto out;
			}
			keep = obj_pread_full(fd, save, want, slot_off(cb));
			if (keep < 0) {
				rc = (int)keep;
				goto out;
			}
		}
		/* Room in the map first: once on disk the blocks must be in it,
		 * or they read as damage. */
		rc = obj_map_reserve(r->map);
		if (rc)
			goto out;
		rc = seal_write_all(&job, (size_t)(ce - cb + 1));
		if (rc) {
			if (keep > 0 && obj_pwrite_full(fd, save, (size_t)keep, slot_off(cb)))
				r->torn = 1;
			goto out;
		}
		obj_map_set(r->map, cb, ce, r->write_gen, job.tag);
	}
	r->size = new_size;
out:
	/* Versions sealed by a failed write may be on disk (or in a copy):
	 * the next write must not seal under the same tag. */
	if (rc)
		obj_map_retag(r->map);
	free(save);
	free(cbuf);
	return rc ? rc : (ssize_t)n;
}

int obj_truncate(int fd, struct obj_ref *r, uint64_t new_size)
{
	uint64_t old = r->size, nl, ol, tag;
	uint8_t *mem, *plain, *slot;
	size_t nlen;
	int rc, alt;

	rc = write_checks(r);
	if (rc)
		return rc;
	if (new_size > OBJ_MAX_SIZE)
		return -EFBIG;
	if (new_size == old)
		return 0;
	/* A shrink makes a block final again that may have been sealed
	 * non-final (or final, longer) under the session's tag, and blocks
	 * it drops lose their record of the tag in the map: a fresh tag from
	 * here on (truncates are rare). */
	obj_map_retag(r->map);
	if (new_size == 0) {
		/* The cut waits for the commit (obj_settle). */
		r->size = 0;
		return 0;
	}
	mem = malloc(BS + SLOT);
	if (!mem)
		return -ENOMEM;
	plain = mem;
	slot = mem + BS;
	tag = obj_map_write_tag(r->map, r->write_gen, 0, 0, UINT64_MAX);
	nl = (new_size - 1) / BS;
	nlen = (size_t)(new_size - nl * BS);
	if (new_size < old) {
		/* The new final block keeps its first nlen bytes, sealed final. */
		rc = read_block(fd, r, old, nl, slot, plain, &alt);
		if (!rc)
			rc = seal_block(r, nl, 1, plain, nlen, tag, slot);
		if (!rc)
			rc = obj_undo_save(fd, r, nl, nl);
		if (!rc)
			rc = map_written(r, nl, nl, tag, fd, slot, OBJ_BLOCK_OVERHEAD + nlen,
					 slot_off(nl));
		/* The slots past the new end stay until the commit (obj_settle). */
		goto out;
	}
	ol = old ? (old - 1) / BS : 0;
	if (old && nl == ol) {
		/* Same final block, longer: zero-extended. */
		rc = read_block(fd, r, old, nl, slot, plain, &alt);
	} else {
		rc = 0;
		if (nl > (old ? ol + 1 : 0))
			r->sparse = 1;
		if (old)
			rc = reseal_nonfinal(fd, r, old, tag, slot, plain);
		if (!rc)
			rc = obj_undo_save(fd, r, old ? ol + 1 : 0, UINT64_MAX);
		if (!rc)
			rc = obj_ftruncate(fd, old ? slot_off(ol + 1) : OBJ_HEADER_SIZE);
		if (!rc && nl > (old ? ol + 1 : 0))
			rc = map_holes(r, old ? ol + 1 : 0, nl - 1);
		memset(plain, 0, BS);
	}
	if (!rc)
		rc = seal_block(r, nl, 1, plain, nlen, tag, slot);
	if (!rc)
		rc = obj_undo_save(fd, r, nl, nl);
	if (!rc)
		rc = map_written(r, nl, nl, tag, fd, slot, OBJ_BLOCK_OVERHEAD + nlen,
				 slot_off(nl));
out:
	if (!rc)
		r->size = new_size;
	else
		obj_map_retag(r->map);
	free(mem);
	return rc;
}

int obj_damaged(const struct obj_ref *r)
{
	return r->map && atomic_load_explicit(&r->map->damaged, memory_order_relaxed);
}

int obj_commit(store *s, int fd, struct obj_ref *r, int durable)
{
	uint64_t size = r->size, fl, want = obj_file_length(r->size);
	uint8_t *mem = NULL;
	struct stat st;
	int rc, alt;

	rc = write_checks(r);
	if (rc)
		return rc;
	memset(r->wcommit, 0, sizeof(r->wcommit));
	if (size) {
		size_t len;

		mem = malloc(BS + SLOT);
		if (!mem)
			return -ENOMEM;
		fl = (size - 1) / BS;
		len = (size_t)(size - fl * BS);
		ssize_t got = obj_pread_full(fd, mem + BS, SLOT, slot_off(fl));
		enum why why;

		memset(mem, 0, BS);
		rc = got < 0 ? (int)got
			     : obj_open_block(r, size, fl, mem + BS, (size_t)got, mem, &why, &alt);
		/* A final block failing authentication is damage, as at a read
		 * (obj_damaged); a failing pread is a disk error. */
		if (rc && got >= 0)
			atomic_store_explicit(&r->map->damaged, 1, memory_order_relaxed);
		if (rc)
			goto out;
		/* Format 1 tells an older copy by its final block, which
		 * therefore always carries the newest generation. */
		if (alt || (r->map->fmt < OBJ_FORMAT_V2 &&
			    get_le64(mem + BS + S_GEN) < r->write_gen)) {
			uint64_t tag;

			/* Sealed before under the session's tag with the
			 * other flag: a fresh tag. */
			obj_map_retag(r->map);
			tag = obj_map_write_tag(r->map, r->write_gen, fl, fl, UINT64_MAX);
			rc = seal_block(r, fl, 1, mem, len, tag, mem + BS);
			if (!rc)
				rc = map_written(r, fl, fl, tag, fd, mem + BS,
						 OBJ_BLOCK_OVERHEAD + len, slot_off(fl));
			if (rc) {
				obj_map_retag(r->map);
				goto out;
			}
		}
	}
	if (r->map->fmt >= OBJ_FORMAT_V2 &&
	    (rc = obj_map_save(s, fd, r, durable, r->wcommit)) != 0)
		goto out;
	/* Slots past the end (a shrink, an interrupted session) stay until
	 * obj_settle: the committed state may still need them. */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size < want)
		rc = -EIO;
	/* New content: a block that fails still fails at its next read. Its
	 * record is the one written now. */
	if (!rc) {
		atomic_store_explicit(&r->map->damaged, 0, memory_order_relaxed);
		r->map->unbound = 0;
	}
out:
	free(mem);
	return rc;
}

int obj_settle(int fd, struct obj_ref *r)
{
	uint64_t want = obj_file_length(r->size);
	struct stat st;
	int rc = 0;

	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if ((uint64_t)st.st_size > want)
		rc = obj_ftruncate(fd, want);
	/* Cut first: a kill in between leaves a journal of an older
	 * generation, which recovery ignores. */
	obj_undo_drop(r->undo);
	return rc;
}

/* ---- inline objects -------------------------------------------------------- */

size_t obj_inline_len(uint64_t size)
{
	return OBJ_BLOCK_OVERHEAD + (size_t)size;
}

int obj_inline_seal(const struct obj_ref *r, const void *plain, size_t n, uint8_t *slot)
{
	if (!r->key || !r->write_gen || n > OBJ_INLINE_MAX)
		return -EINVAL;
	return seal_block(r, 0, 1, plain, n, 0, slot);
}

int obj_inline_open(const struct obj_ref *r, const uint8_t *slot, size_t len, void *plain)
{
	/* Committed in the same transaction as the node: exactly the
	 * recorded generation and size, nothing in flight to allow for. */
	if (!r->key || r->size > OBJ_INLINE_MAX || len != obj_inline_len(r->size) ||
	    get_le64(slot + S_GEN) != r->gen)
		return -EIO;
	return try_open(r, 0, 1, r->gen, 0, plain, slot, (size_t)r->size) ? -EIO : 0;
}

int obj_inline_verify(kms *k, const struct obj_ref *r, const uint8_t *slot, size_t len,
		      uint64_t now_ns, const char **what)
{
	struct obj_ref v = *r;
	wcrypto_aead *key = NULL;
	uint8_t *plain = NULL;
	int rc;

	*what = "ok";
	rc = obj_key_from_wrapped(k, r, 1, now_ns, &key);
	if (rc) {
		*what = "cannot unwrap the data key";
		return rc;
	}
	v.key = key;
	plain = malloc(OBJ_INLINE_MAX);
	rc = plain ? obj_inline_open(&v, slot, len, plain) : -ENOMEM;
	if (rc == -EIO)
		*what = len != obj_inline_len(r->size) ? "length mismatch" :
			get_le64(slot + S_GEN) != r->gen ? "stale generation" :
			"inline content fails authentication";
	if (plain) {
		wcrypto_wipe(plain, OBJ_INLINE_MAX);
		free(plain);
	}
	wcrypto_aead_free(key);
	return rc;
}

/* ---- verify ---------------------------------------------------------------- */

int obj_commit_tag(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns,
		   uint8_t tag[OBJ_COMMIT_BYTES])
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	struct obj_ref v = *r;
	wcrypto_aead *key = NULL;
	int rc, f = -1;

	rc = store_obj_open(s, r->id, O_RDONLY, &f);
	if (rc)
		return rc;
	rc = obj_key_from_wrapped(k, r, 1, now_ns, &key);
	if (!rc) {
		v.key = key;
		rc = header_read_check(f, &v, key, hdr);
	}
	if (!rc && get_le32(hdr + H_FORMAT) < OBJ_FORMAT_V3)
		rc = -ENOTSUP;
	if (!rc)
		rc = obj_map_commit_tag(hdr, &v, tag);
	wcrypto_aead_free(key);
	close(f);
	return rc;
}

int obj_verify(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns,
	       const char **what, uint64_t *bad_block)
{
	return obj_verify_ex(s, k, r, now_ns, 0, what, bad_block);
}

/* The first block from cb on that verify must read: the blocks before it
 * lie wholly in a hole of the content file (SEEK_DATA, below its length
 * end), so their slots read as zeros, and each is one obj_open_block
 * takes as a hole without reading it: a sparse object, not the final
 * block, and a hole by the map (format 2 and 3; format 1 has no map).
 * A 3-byte write at 1 TiB made verify read a terabyte of zeros (any user
 * could keep wormctl verify busy for hours). Any other block is read and
 * checked as before. */
static uint64_t verify_hole_end(int f, const struct obj_ref *r, uint64_t cb, uint64_t nblocks,
				uint64_t flen)
{
	uint64_t end, b;
	off_t data;

	if (!r->sparse)
		return cb;
	data = lseek(f, (off_t)slot_off(cb), SEEK_DATA);
	if (data < 0 && errno != ENXIO)
		return cb;
	end = data < 0 ? flen : (uint64_t)data;   /* ENXIO: a hole up to the end */
	if (end > flen)
		end = flen;
	for (b = cb; b + 1 < nblocks && slot_off(b) + SLOT <= end; b++)
		if (r->map && r->map->fmt >= OBJ_FORMAT_V2 && obj_map_gen(r->map, b, NULL) != 0)
			break;
	return b;
}

int obj_verify_ex(store *s, kms *k, const struct obj_ref *r, uint64_t now_ns, int flags,
		  const char **what, uint64_t *bad_block)
{
	static const char *const why_text[] = {
		[WHY_NONE] = "ok",
		[WHY_AUTH] = "block fails authentication",
		[WHY_STALE] = "stale generation",
		[WHY_SHORT] = "length mismatch",
		[WHY_HOLE] = "hole holds data",
	};
	uint8_t hdr[OBJ_HEADER_SIZE];
	struct obj_ref v = *r;
	wcrypto_aead *key = NULL;
	uint8_t *cbuf = NULL, *plain;
	uint64_t want, nblocks;
	obj_undo_scan *scan = NULL;
	obj_map *map = NULL;
	struct stat st;
	int rc, f = -1;

	*what = "ok";
	*bad_block = UINT64_MAX;
	rc = store_obj_open(s, r->id, O_RDONLY, &f);
	if (rc) {
		*what = rc == -ENOENT ? "missing" : "cannot open";
		return rc;
	}
	rc = obj_key_from_wrapped(k, r, 1, now_ns, &key);
	if (rc) {
		*what = "cannot unwrap the data key";
		goto out;
	}
	v.key = key;
	rc = header_read_check(f, &v, key, hdr);
	if (rc) {
		*what = "bad header";
		goto out;
	}
	/* The committed state's map, from disk (not the caller's). */
	rc = obj_map_load_ex(s, f, &v, !(flags & OBJ_VERIFY_LIVE), &map);
	if (rc) {
		*what = rc == -EIO ? "block map fails authentication" : "cannot read the block map";
		goto out;
	}
	v.map = map;
	if (map->unbound) {
		rc = -EIO;
		*what = "commit record is not the committed one";
		goto out;
	}
	if (fstat(f, &st) < 0) {
		rc = -errno;
		*what = "cannot stat";
		goto out;
	}
	want = obj_file_length(r->size);
	if ((uint64_t)st.st_size > want && (flags & OBJ_VERIFY_LIVE))
		st.st_size = (off_t)want;   /* in flight or due to be cut: not content */
	/* Live, a shorter file is no verdict yet: a session that leaves holes
	 * cuts the file after journaling the committed slots it drops, so
	 * each missing block is checked from the journal below. */
	if ((uint64_t)st.st_size != want && !(flags & OBJ_VERIFY_LIVE)) {
		*what = (uint64_t)st.st_size > want ? "trailing data" : "length mismatch";
		rc = -EIO;
		goto out;
	}
	if (r->size == 0)
		goto out;
	nblocks = (r->size - 1) / BS + 1;
	cbuf = malloc(CHUNK_SLOTS * SLOT + BS + SLOT);
	if (!cbuf) {
		rc = -ENOMEM;
		goto out;
	}
	plain = cbuf + CHUNK_SLOTS * SLOT;
	(void)posix_fadvise(f, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (uint64_t cb = 0; cb < nblocks; cb += CHUNK_SLOTS) {
		cb = verify_hole_end(f, &v, cb, nblocks, (uint64_t)st.st_size);
		uint64_t ce = nblocks - cb < CHUNK_SLOTS ? nblocks - 1 : cb + CHUNK_SLOTS - 1;
		ssize_t got = obj_pread_full(f, cbuf, (size_t)((ce - cb + 1) * SLOT), slot_off(cb));

		if (got < 0) {
			rc = (int)got;
			*what = "read error";
			goto out;
		}
		if (ce + 1 < nblocks)   /* let the disk work while we decrypt */
			(void)readahead(f, (off64_t)slot_off(ce + 1), (size_t)(CHUNK_SLOTS * SLOT));
		for (uint64_t b = cb; b <= ce; b++) {
			size_t at = (size_t)((b - cb) * SLOT);
			size_t avail = (size_t)got > at ? (size_t)got - at : 0;
			enum why why;
			int alt;

			if (avail > SLOT)
				avail = SLOT;
			rc = obj_open_block(&v, r->size, b, cbuf + at, avail, plain, &why, &alt);
			/* Only while a session may be in flight: after a clean
			 * stop a journal is no content (a planted one must not
			 * hide damage that every read reports). */
			if (rc && (flags & OBJ_VERIFY_LIVE))
				rc = obj_undo_verify_block(s, &v, &scan, b, plain + BS, plain,
							   &why);
			if (rc) {
				*what = why_text[why];
				*bad_block = b;
				goto out;
			}
		}
	}
out:
	obj_undo_scan_free(scan);
	obj_map_free(map);
	free(cbuf);
	wcrypto_aead_free(key);
	close(f);
	return rc;
}
