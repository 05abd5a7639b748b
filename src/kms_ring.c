/* kms_ring: the key ring file of the local KMS (design section 8): its
 * format (encode, decode), loading and storing it, and creating the first
 * one (kms_create). It knows the ring and the file, never struct kms.
 *
 * Key ring file DIR/keyring (integers little-endian):
 *
 *   "WORMFSKR" | u32 format (1) | u32 mode (0 key file, 1 passphrase)
 *   [mode 1: salt 16 | u64 opslimit | u64 memlimit]
 *   nonce 24 | u32 clen | XChaCha20-Poly1305(payload), clen = len + 16
 *
 * The AEAD's associated data is every byte before the ciphertext, so a
 * changed header (mode, Argon2 limits) fails authentication too. Payload:
 *
 *   record key 32 | u32 active | u32 count | count x {u32 version |
 *   i64 created_s | key 32}, versions strictly increasing.
 *
 * The KEK is DIR/kek (32 random bytes, 0600) or Argon2id(passphrase, salt).
 * The ring is only ever replaced whole (temp file, fsync, rename, fsync
 * dir), and opening it writes nothing. */
#include "kms_priv.h"
#include "byteorder.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KR_MAGIC "WORMFSKR"
#define KR_FORMAT 1
#define KR_FIXED_HDR 16            /* magic | format | mode */
#define KR_PASS_HDR 32             /* salt | opslimit | memlimit */
#define KR_ENTRY_BYTES 44          /* version | created_s | key */
#define KR_PAYLOAD_FIXED 40        /* record key | active | count */
#define KR_MAX_FILE (1u << 20)

static int path_join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Write dir/name atomically: temp file 0600, fsync, rename, fsync dir.
 * noreplace: -EEXIST instead of replacing an existing file. */
static int write_atomic(const char *dir, const char *name, const uint8_t *buf,
			size_t len, int noreplace)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd = -1, rc;

	rc = path_join(dst, sizeof(dst), dir, name);
	if (rc)
		return rc;
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);   /* created 0600 */
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
	if (!rc)
		rc = write_all(fd, buf, len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		goto out;
	if (noreplace) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) != 0)
			rc = -errno;
	} else if (rename(tmp, dst) != 0) {
		rc = -errno;
	}
	if (!rc)
		rc = fsync_dir(dir);
	if (!rc)
		return 0;
out:
	unlink(tmp);
	return rc;
}

/* ---- the ring ---- */

int kms_ring_find(const struct kms_ring *r, uint32_t version)
{
	int lo = 0, hi = (int)r->count - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (r->mk[mid].version == version)
			return mid;
		if (r->mk[mid].version < version)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static size_t kr_header_len(uint32_t mode)
{
	return KR_FIXED_HDR + (mode == KMS_RING_PASSPHRASE ? KR_PASS_HDR : 0) +
	       WCRYPTO_NONCEBYTES + 4;
}

int kms_ring_encode(const struct kms_ring_hdr *h, const struct kms_ring *r, uint8_t **out,
		    size_t *len)
{
	size_t plen = KR_PAYLOAD_FIXED + (size_t)r->count * KR_ENTRY_BYTES;
	size_t hlen = kr_header_len(h->mode), flen = hlen + plen + WCRYPTO_TAGBYTES;
	uint8_t *payload = wcrypto_secure_alloc(plen), *file = malloc(flen), *p;
	int rc;

	if (!payload || !file) {
		rc = -ENOMEM;
		goto out;
	}
	p = payload;
	memcpy(p, r->record_key, 32);
	put_le32(p + 32, r->active);
	put_le32(p + 36, r->count);
	p += KR_PAYLOAD_FIXED;
	for (uint32_t i = 0; i < r->count; i++, p += KR_ENTRY_BYTES) {
		put_le32(p, r->mk[i].version);
		put_le64(p + 4, (uint64_t)r->mk[i].created_s);
		memcpy(p + 12, r->mk[i].key, WCRYPTO_KEYBYTES);
	}
	p = file;
	memcpy(p, KR_MAGIC, 8);
	put_le32(p + 8, KR_FORMAT);
	put_le32(p + 12, h->mode);
	p += KR_FIXED_HDR;
	if (h->mode == KMS_RING_PASSPHRASE) {
		memcpy(p, h->salt, WCRYPTO_SALTBYTES);
		put_le64(p + 16, h->opslimit);
		put_le64(p + 24, h->memlimit);
		p += KR_PASS_HDR;
	}
	wcrypto_nonce(p);
	put_le32(p + WCRYPTO_NONCEBYTES, (uint32_t)(plen + WCRYPTO_TAGBYTES));
	rc = wcrypto_wrap(file + hlen, payload, plen, file, hlen, p, r->kek);
	if (!rc) {
		*out = file;
		*len = flen;
		file = NULL;
	}
out:
	if (payload) {
		wcrypto_wipe(payload, plen);
		wcrypto_secure_free(payload);
	}
	free(file);
	return rc;
}

int kms_ring_store(const char *dir, const struct kms_ring_hdr *h, const struct kms_ring *r,
		   int noreplace)
{
	uint8_t *file = NULL;
	size_t len = 0;
	int rc = kms_ring_encode(h, r, &file, &len);

	if (!rc)
		rc = write_atomic(dir, "keyring", file, len, noreplace);
	free(file);
	return rc;
}

/* Authentic payload -> ring; -EBADMSG (*why) if its structure is wrong. */
static int ring_parse(struct kms_ring *r, const uint8_t *p, size_t len, const char **why)
{
	uint32_t count;

	*why = "payload shorter than its fixed part";
	if (len < KR_PAYLOAD_FIXED)
		return -EBADMSG;
	count = get_le32(p + 36);
	*why = "key count out of range or not matching the payload";
	if (count == 0 || count > KMS_MAX_VERSIONS ||
	    len != KR_PAYLOAD_FIXED + (size_t)count * KR_ENTRY_BYTES)
		return -EBADMSG;
	memcpy(r->record_key, p, 32);
	r->active = get_le32(p + 32);
	r->count = count;
	p += KR_PAYLOAD_FIXED;
	*why = "key versions zero or not increasing";
	for (uint32_t i = 0; i < count; i++, p += KR_ENTRY_BYTES) {
		r->mk[i].version = get_le32(p);
		r->mk[i].created_s = (int64_t)get_le64(p + 4);
		memcpy(r->mk[i].key, p + 12, WCRYPTO_KEYBYTES);
		if (r->mk[i].version == 0 || (i && r->mk[i].version <= r->mk[i - 1].version))
			return -EBADMSG;
	}
	*why = "active version not in the ring";
	return kms_ring_find(r, r->active) < 0 ? -EBADMSG : 0;
}

/* The header is checked field by field before anything is derived from
 * it (the Argon2 limits decide how much memory unlocking takes). */
int kms_ring_decode_hdr(const uint8_t *file, size_t len, struct kms_ring_hdr *h,
			const char **why)
{
	const uint8_t *q;
	size_t hlen;

	memset(h, 0, sizeof(*h));
	*why = "shorter than its header";
	if (!file || len < KR_FIXED_HDR)
		return -EBADMSG;
	*why = "not a key ring (magic)";
	if (memcmp(file, KR_MAGIC, 8) != 0)
		return -EBADMSG;
	*why = "unknown format version";
	if (get_le32(file + 8) != KR_FORMAT)
		return -EBADMSG;
	h->mode = get_le32(file + 12);
	*why = "unknown unlock mode";
	if (h->mode != KMS_RING_KEYFILE && h->mode != KMS_RING_PASSPHRASE)
		return -EBADMSG;
	hlen = kr_header_len(h->mode);
	*why = "shorter than its header";
	if (len < hlen)
		return -EBADMSG;
	q = file + KR_FIXED_HDR;
	if (h->mode == KMS_RING_PASSPHRASE) {
		memcpy(h->salt, q, WCRYPTO_SALTBYTES);
		h->opslimit = get_le64(q + 16);
		h->memlimit = get_le64(q + 24);
		*why = "Argon2id limits out of range";
		if (h->memlimit > SIZE_MAX ||
		    !wcrypto_pwhash_limits_valid(h->opslimit, (size_t)h->memlimit))
			return -EBADMSG;
	}
	*why = "ciphertext length does not match the file";
	if (get_le32(file + hlen - 4) < WCRYPTO_TAGBYTES + KR_PAYLOAD_FIXED ||
	    get_le32(file + hlen - 4) != len - hlen)
		return -EBADMSG;
	*why = NULL;
	return 0;
}

/* Only an authentic payload is parsed. */
int kms_ring_decode(const uint8_t *file, size_t len, struct kms_ring *r, const char **why)
{
	struct kms_ring_hdr h;
	uint8_t *payload;
	size_t hlen, plen;
	int rc = kms_ring_decode_hdr(file, len, &h, why);

	if (rc)
		return rc;
	hlen = kr_header_len(h.mode);
	plen = len - hlen - WCRYPTO_TAGBYTES;
	payload = wcrypto_secure_alloc(plen);
	if (!payload)
		return -ENOMEM;
	if (wcrypto_unwrap(payload, file + hlen, len - hlen, file, hlen,
			   file + hlen - 4 - WCRYPTO_NONCEBYTES, r->kek) != 0) {
		*why = "does not authenticate under this key";
		rc = -EACCES;
	} else {
		rc = ring_parse(r, payload, plen, why);
		if (!rc)
			*why = NULL;
	}
	wcrypto_wipe(payload, plen);
	wcrypto_secure_free(payload);
	return rc;
}

/* mode: the file's st_mode (checked on the descriptor read), or NULL. A
 * key (mode set) is read into secure memory, which every path wipes: the
 * caller frees it with wcrypto_secure_free. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len, mode_t *mode)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		rc = -EBADMSG;
		goto out;
	}
	if (mode)
		*mode = st.st_mode;
	buf = mode ? wcrypto_secure_alloc((size_t)st.st_size + 1)
		   : malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EBADMSG;
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (mode)
		wcrypto_secure_free(buf);   /* wipes what a failed read got */
	else
		free(buf);
	close(fd);
	return rc;
}

static int read_kek(const char *dir, uint8_t kek[WCRYPTO_KEYBYTES], char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int rc;

	rc = path_join(path, sizeof(path), dir, "kek");
	if (rc)
		return rc;
	rc = read_file(path, 64, &buf, &len, &mode);
	if (rc == -ENOENT) {
		wlog_seterr(err, errlen, "cannot unlock key ring: key file %s is missing", path);
		return -ENOKEY;
	}
	if (!rc && len != WCRYPTO_KEYBYTES)
		rc = -EBADMSG;
	/* The key file unlocks every object, as a passphrase does: refused
	 * on the same terms as a passphrase file (ns_store.c), one that
	 * others can read or change. It is made 0600 inside a 0700 store;
	 * a copy or restore that widened it is said, not used. */
	if (!rc && (mode & (S_IROTH | S_IWOTH | S_IWGRP))) {
		wlog_seterr(err, errlen, "key file %s is %s (mode %04o): refusing it; chmod 600 %s",
			    path, mode & S_IROTH ? "world-readable" : "writable by others",
			    (unsigned)(mode & 07777), path);
		rc = -EPERM;
	} else if (rc) {
		wlog_seterr(err, errlen, "cannot read key file %s: %s", path, strerror(-rc));
	} else {
		memcpy(kek, buf, WCRYPTO_KEYBYTES);
	}
	wcrypto_secure_free(buf);   /* wipes */
	return rc;
}

/* WORMFS_PWHASH_FAST=1 (tests only) makes a new ring with Argon2id's
 * minimum cost, which the ring keeps for good (a rotate reuses its
 * header): said every time, so that it is never used unnoticed (review
 * conf: it was silent, and undocumented). */
static void pwhash_limits(uint64_t *ops, uint64_t *mem)
{
	const char *fast = secure_getenv("WORMFS_PWHASH_FAST");
	size_t m;

	if (fast && strcmp(fast, "1") == 0) {
		wcrypto_pwhash_min(ops, &m);
		wlog(WLOG_WARN, "WORMFS_PWHASH_FAST=1: the key ring's passphrase is hashed with "
		     "Argon2id's minimum cost (%llu pass, %zu KiB), for tests only: a copy of "
		     "the key ring is then cheap to guess at; unset it and init again",
		     (unsigned long long)*ops, m / 1024);
	} else {
		wcrypto_pwhash_defaults(ops, &m);
	}
	*mem = m;
}

/* The KEK of a ring with header h: Argon2id(passphrase) or DIR/kek. */
static int ring_kek(const char *dir, const char *path, const struct kms_ring_hdr *h,
		    const char *passphrase, size_t passlen, uint8_t kek[WCRYPTO_KEYBYTES],
		    char *err, size_t errlen)
{
	int rc;

	if (h->mode != KMS_RING_PASSPHRASE)
		return read_kek(dir, kek, err, errlen);
	if (!passphrase) {
		wlog_seterr(err, errlen, "key ring %s is protected by a passphrase; none given",
			    path);
		return -ENOKEY;
	}
	rc = wcrypto_pwhash(kek, passphrase, passlen, h->salt, h->opslimit, (size_t)h->memlimit);
	if (rc)
		wlog_seterr(err, errlen, "cannot derive the key ring key: %s", strerror(-rc));
	return rc;
}

int kms_ring_load(const char *dir, const char *passphrase, size_t passlen,
		  struct kms_ring_hdr *h, struct kms_ring *r, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *why = "not a regular file of at most 1 MiB (or it changed while read)";
	uint8_t *file = NULL;
	size_t flen = 0;
	int rc;

	rc = path_join(path, sizeof(path), dir, "keyring");
	if (rc)
		return rc;
	rc = read_file(path, KR_MAX_FILE, &file, &flen, NULL);
	if (rc == -ENOENT) {
		wlog_seterr(err, errlen, "no key ring at %s", path);
		goto out;
	}
	if (rc && rc != -EBADMSG) {
		wlog_seterr(err, errlen, "cannot read key ring %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!rc)
		rc = kms_ring_decode_hdr(file, flen, h, &why);
	if (rc)
		goto bad;
	rc = ring_kek(dir, path, h, passphrase, passlen, r->kek, err, errlen);
	if (rc)
		goto out;
	rc = kms_ring_decode(file, flen, r, &why);
	if (rc == -EACCES)
		wlog_seterr(err, errlen, "cannot unlock key ring: wrong passphrase or damaged key ring");
	if (rc != -EBADMSG)
		goto out;
bad:
	wlog_seterr(err, errlen, "malformed key ring %s: %s", path, why);
out:
	free(file);
	return rc;
}

int kms_create(const char *dir, const char *passphrase, size_t passlen)
{
	char path[PATH_MAX];
	struct kms_ring_hdr h = { 0 };
	struct kms_ring *r = NULL;
	int rc, made_kek = 0;

	if (!dir || (passphrase && passlen == 0))
		return -EINVAL;
	rc = wcrypto_init();
	if (rc)
		return rc;
	rc = path_join(path, sizeof(path), dir, "keyring");
	if (rc)
		return rc;
	if (access(path, F_OK) == 0)
		return -EEXIST;
	r = wcrypto_secure_alloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	h.mode = passphrase ? KMS_RING_PASSPHRASE : KMS_RING_KEYFILE;
	if (passphrase) {
		wcrypto_random(h.salt, sizeof(h.salt));
		pwhash_limits(&h.opslimit, &h.memlimit);
		rc = wcrypto_pwhash(r->kek, passphrase, passlen, h.salt, h.opslimit,
				    (size_t)h.memlimit);
	} else {
		wcrypto_random(r->kek, WCRYPTO_KEYBYTES);
		rc = write_atomic(dir, "kek", r->kek, WCRYPTO_KEYBYTES, 1);
		made_kek = rc == 0;
	}
	if (rc)
		goto out;
	wcrypto_random(r->record_key, sizeof(r->record_key));
	r->count = 1;
	r->active = 1;
	r->mk[0].version = 1;
	r->mk[0].created_s = (int64_t)time(NULL);
	wcrypto_random(r->mk[0].key, WCRYPTO_KEYBYTES);
	rc = kms_ring_store(dir, &h, r, 1);
out:
	if (rc && made_kek && path_join(path, sizeof(path), dir, "kek") == 0)
		unlink(path);
	wcrypto_secure_free(r);   /* wipes */
	return rc;
}
