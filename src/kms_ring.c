/* kms_ring: the key ring file of the local KMS (design section 8).
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
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KR_MAGIC "WORMFSKR"
#define KR_FORMAT 1
#define KR_MODE_KEYFILE 0
#define KR_MODE_PASS 1
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
	return KR_FIXED_HDR + (mode == KR_MODE_PASS ? KR_PASS_HDR : 0) +
	       WCRYPTO_NONCEBYTES + 4;
}

int kms_ring_save(struct kms *k, int noreplace)
{
	const struct kms_ring *r = k->ring;
	size_t plen = KR_PAYLOAD_FIXED + (size_t)r->count * KR_ENTRY_BYTES;
	size_t hlen = kr_header_len(k->mode), flen = hlen + plen + WCRYPTO_TAGBYTES;
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
	put_le32(p + 12, k->mode);
	p += KR_FIXED_HDR;
	if (k->mode == KR_MODE_PASS) {
		memcpy(p, k->salt, WCRYPTO_SALTBYTES);
		put_le64(p + 16, k->opslimit);
		put_le64(p + 24, k->memlimit);
		p += KR_PASS_HDR;
	}
	wcrypto_nonce(p);
	put_le32(p + WCRYPTO_NONCEBYTES, (uint32_t)(plen + WCRYPTO_TAGBYTES));
	rc = wcrypto_wrap(file + hlen, payload, plen, file, hlen, p, r->kek);
	if (!rc)
		rc = write_atomic(k->dir, "keyring", file, flen, noreplace);
out:
	if (payload) {
		wcrypto_wipe(payload, plen);
		wcrypto_secure_free(payload);
	}
	free(file);
	return rc;
}

/* Authentic payload -> ring; -EBADMSG if its structure is wrong. */
static int ring_parse(struct kms_ring *r, const uint8_t *p, size_t len)
{
	uint32_t count;

	if (len < KR_PAYLOAD_FIXED)
		return -EBADMSG;
	count = get_le32(p + 36);
	if (count == 0 || count > KMS_MAX_VERSIONS ||
	    len != KR_PAYLOAD_FIXED + (size_t)count * KR_ENTRY_BYTES)
		return -EBADMSG;
	memcpy(r->record_key, p, 32);
	r->active = get_le32(p + 32);
	r->count = count;
	p += KR_PAYLOAD_FIXED;
	for (uint32_t i = 0; i < count; i++, p += KR_ENTRY_BYTES) {
		r->mk[i].version = get_le32(p);
		r->mk[i].created_s = (int64_t)get_le64(p + 4);
		memcpy(r->mk[i].key, p + 12, WCRYPTO_KEYBYTES);
		if (r->mk[i].version == 0 || (i && r->mk[i].version <= r->mk[i - 1].version))
			return -EBADMSG;
	}
	return kms_ring_find(r, r->active) < 0 ? -EBADMSG : 0;
}

static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
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
	buf = malloc((size_t)st.st_size + 1);
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
	free(buf);
	close(fd);
	return rc;
}

static int read_kek(const char *dir, uint8_t kek[WCRYPTO_KEYBYTES], char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = path_join(path, sizeof(path), dir, "kek");
	if (rc)
		return rc;
	rc = read_file(path, 64, &buf, &len);
	if (rc == -ENOENT) {
		wlog_seterr(err, errlen, "cannot unlock key ring: key file %s is missing", path);
		return -ENOKEY;
	}
	if (!rc && len != WCRYPTO_KEYBYTES)
		rc = -EBADMSG;
	if (rc) {
		wlog_seterr(err, errlen, "cannot read key file %s: %s", path, strerror(-rc));
	} else {
		memcpy(kek, buf, WCRYPTO_KEYBYTES);
	}
	if (buf) {
		wcrypto_wipe(buf, len);
		free(buf);
	}
	return rc;
}

static void pwhash_limits(uint64_t *ops, uint64_t *mem)
{
	const char *fast = getenv("WORMFS_PWHASH_FAST");
	size_t m;

	if (fast && strcmp(fast, "1") == 0)
		wcrypto_pwhash_min(ops, &m);
	else
		wcrypto_pwhash_defaults(ops, &m);
	*mem = m;
}

struct kms *kms_alloc(const char *dir)
{
	struct kms *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->dir = strdup(dir);
	k->ring = wcrypto_secure_alloc(sizeof(*k->ring));
	if (!k->dir || !k->ring) {
		free(k->dir);
		wcrypto_secure_free(k->ring);
		free(k);
		return NULL;
	}
	memset(k->ring, 0, sizeof(*k->ring));
	return k;
}

void kms_free_bare(struct kms *k)
{
	if (!k)
		return;
	wcrypto_secure_free(k->ring);   /* wipes */
	free(k->dir);
	free(k);
}

/* The ring file format is checked field by field before anything is
 * derived from it; only an authentic payload is parsed. */
int kms_ring_load(struct kms *k, const char *passphrase, size_t passlen,
		  char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *file = NULL, *payload = NULL, *q;
	size_t flen = 0, hlen, clen = 0;
	int rc;

	rc = path_join(path, sizeof(path), k->dir, "keyring");
	if (rc)
		return rc;
	rc = read_file(path, KR_MAX_FILE, &file, &flen);
	if (rc == -ENOENT) {
		wlog_seterr(err, errlen, "no key ring at %s", path);
		goto out;
	}
	if (rc && rc != -EBADMSG) {
		wlog_seterr(err, errlen, "cannot read key ring %s: %s", path, strerror(-rc));
		goto out;
	}
	rc = -EBADMSG;
	if (!file || flen < KR_FIXED_HDR || memcmp(file, KR_MAGIC, 8) != 0 ||
	    get_le32(file + 8) != KR_FORMAT)
		goto bad;
	k->mode = get_le32(file + 12);
	if (k->mode != KR_MODE_KEYFILE && k->mode != KR_MODE_PASS)
		goto bad;
	hlen = kr_header_len(k->mode);
	if (flen < hlen)
		goto bad;
	q = file + KR_FIXED_HDR;
	if (k->mode == KR_MODE_PASS) {
		memcpy(k->salt, q, WCRYPTO_SALTBYTES);
		k->opslimit = get_le64(q + 16);
		k->memlimit = get_le64(q + 24);
		if (k->memlimit > SIZE_MAX ||
		    !wcrypto_pwhash_limits_valid(k->opslimit, (size_t)k->memlimit))
			goto bad;
		q += KR_PASS_HDR;
	}
	clen = get_le32(q + WCRYPTO_NONCEBYTES);
	if (clen < WCRYPTO_TAGBYTES + KR_PAYLOAD_FIXED || clen != flen - hlen)
		goto bad;

	if (k->mode == KR_MODE_PASS) {
		if (!passphrase) {
			rc = -ENOKEY;
			wlog_seterr(err, errlen, "key ring %s is protected by a passphrase; none given",
				   path);
			goto out;
		}
		rc = wcrypto_pwhash(k->ring->kek, passphrase, passlen, k->salt, k->opslimit,
				    (size_t)k->memlimit);
		if (rc) {
			wlog_seterr(err, errlen, "cannot derive the key ring key: %s", strerror(-rc));
			goto out;
		}
	} else {
		rc = read_kek(k->dir, k->ring->kek, err, errlen);
		if (rc)
			goto out;
	}
	payload = wcrypto_secure_alloc(clen - WCRYPTO_TAGBYTES);
	if (!payload) {
		rc = -ENOMEM;
		goto out;
	}
	if (wcrypto_unwrap(payload, file + hlen, clen, file, hlen, q, k->ring->kek) != 0) {
		rc = -EACCES;
		wlog_seterr(err, errlen, "cannot unlock key ring: wrong passphrase or damaged key ring");
		goto out;
	}
	rc = ring_parse(k->ring, payload, clen - WCRYPTO_TAGBYTES);
	if (rc)
		goto bad;
	goto out;
bad:
	wlog_seterr(err, errlen, "malformed key ring %s", path);
out:
	if (payload) {
		wcrypto_wipe(payload, clen - WCRYPTO_TAGBYTES);
		wcrypto_secure_free(payload);
	}
	free(file);
	return rc;
}

int kms_create(const char *dir, const char *passphrase, size_t passlen)
{
	char path[PATH_MAX];
	struct kms *k = NULL;
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
	k = kms_alloc(dir);
	if (!k)
		return -ENOMEM;
	k->mode = passphrase ? KR_MODE_PASS : KR_MODE_KEYFILE;
	if (passphrase) {
		wcrypto_random(k->salt, sizeof(k->salt));
		pwhash_limits(&k->opslimit, &k->memlimit);
		rc = wcrypto_pwhash(k->ring->kek, passphrase, passlen, k->salt, k->opslimit,
				    (size_t)k->memlimit);
	} else {
		wcrypto_random(k->ring->kek, WCRYPTO_KEYBYTES);
		rc = write_atomic(dir, "kek", k->ring->kek, WCRYPTO_KEYBYTES, 1);
		made_kek = rc == 0;
	}
	if (rc)
		goto out;
	wcrypto_random(k->ring->record_key, sizeof(k->ring->record_key));
	k->ring->count = 1;
	k->ring->active = 1;
	k->ring->mk[0].version = 1;
	k->ring->mk[0].created_s = (int64_t)time(NULL);
	wcrypto_random(k->ring->mk[0].key, WCRYPTO_KEYBYTES);
	rc = kms_ring_save(k, 1);
out:
	if (rc && made_kek && path_join(path, sizeof(path), dir, "kek") == 0)
		unlink(path);
	kms_free_bare(k);
	return rc;
}

