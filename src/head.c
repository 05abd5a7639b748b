/* head: the signed, chained store head (see include/head.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "head.h"
#include "byteorder.h"
#include "crypto.h"

static const uint8_t head_magic[4] = { 'W', 'H', 'D', '1' };
/* A head of a store that keeps a state digest says so in its signed body,
 * so that STORE/head, outside meta/, tells a later missing digest record
 * from a store that never had one (and a build from before it refuses the
 * head rather than accept that downgrade). */
static const uint8_t head_magic2[4] = { 'W', 'H', 'D', '2' };

static void body(const struct whead *h, uint8_t b[HEAD_BODY_BYTES])
{
	memcpy(b, h->has_state ? head_magic2 : head_magic, 4);
	put_le64(b + 4, h->seq);
	put_le64(b + 12, (uint64_t)h->time_s);
	memcpy(b + 20, h->digest, 32);
	memcpy(b + 52, h->prev, 32);
	put_le64(b + 84, h->audit_seq);
	memcpy(b + 92, h->audit_hash, 32);
}

void head_keys_free(struct head_keys *k)
{
	wcrypto_secure_free(k->mac);
	wcrypto_secure_free(k->sk);
	wcrypto_secure_free(k->audit);
	memset(k, 0, sizeof(*k));
}

int head_keys_derive(const uint8_t reckey[32], struct head_keys *k)
{
	uint8_t *seed;
	int rc;

	memset(k, 0, sizeof(*k));
	k->mac = wcrypto_secure_alloc(32);
	k->sk = wcrypto_secure_alloc(WCRYPTO_SIGN_SKBYTES);
	k->audit = wcrypto_secure_alloc(32);
	seed = wcrypto_secure_alloc(32);
	if (!k->mac || !k->sk || !k->audit || !seed) {
		rc = -ENOMEM;
		goto out;
	}
	/* Separate subkeys of the record key, one per purpose. */
	rc = wcrypto_kdf(k->mac, reckey, 1, "wormhmac");
	if (!rc)
		rc = wcrypto_kdf(k->audit, reckey, 2, "wormaudt");
	if (!rc)
		rc = wcrypto_kdf(seed, reckey, 3, "wormsign");
	if (!rc)
		rc = wcrypto_sign_keypair(k->pk, k->sk, seed);
out:
	wcrypto_secure_free(seed);
	if (rc)
		head_keys_free(k);
	return rc;
}

int head_hash(const struct whead *h, uint8_t out[HEAD_HASHBYTES])
{
	uint8_t b[HEAD_BODY_BYTES];
	body(h, b);
	return wcrypto_hash(out, b, sizeof(b));
}

int head_next(const struct whead *prev, const struct head_state *st, int64_t time_s,
	      const struct head_keys *k, struct whead *out)
{
	uint8_t d[16 + 32 + 8 + 32 + 8 + 8 + 32], b[HEAD_BODY_BYTES];
	int rc;

	memset(out, 0, sizeof(*out));
	out->seq = prev ? prev->seq + 1 : 1;
	/* The head time never goes back along the chain. */
	out->time_s = prev && prev->time_s > time_s ? prev->time_s : time_s;
	if (prev) {
		rc = head_hash(prev, out->prev);
		if (rc)
			return rc;
	}
	memcpy(d, st->has_state ? "wormfs-state-v2\0" : "wormfs-state-v1\0", 16);
	if (prev)
		memcpy(d + 16, prev->digest, 32);
	else
		memset(d + 16, 0, 32);
	put_le64(d + 48, st->audit_seq);
	memcpy(d + 56, st->audit_hash, 32);
	put_le64(d + 88, (uint64_t)st->clock_hwm);
	put_le64(d + 96, st->nodes);
	memcpy(d + 104, st->state, 32);
	rc = wcrypto_hash(out->digest, d, st->has_state ? sizeof(d) : sizeof(d) - 32);
	if (rc)
		return rc;
	out->audit_seq = st->audit_seq;
	memcpy(out->audit_hash, st->audit_hash, 32);
	out->has_state = st->has_state != 0;
	body(out, b);
	rc = wcrypto_mac(out->mac, k->mac, b, sizeof(b));
	if (!rc)
		rc = wcrypto_sign(out->sig, b, sizeof(b), k->sk);
	return rc;
}

int head_verify(const struct whead *h, const uint8_t pk[32], const uint8_t *mackey)
{
	uint8_t b[HEAD_BODY_BYTES];
	body(h, b);
	if (wcrypto_sign_verify(h->sig, b, sizeof(b), pk))
		return -EBADMSG;
	if (mackey && wcrypto_mac_verify(h->mac, mackey, b, sizeof(b)))
		return -EBADMSG;
	return 0;
}

int head_follows(const struct whead *prev, const struct whead *next)
{
	uint8_t hp[HEAD_HASHBYTES];
	if (next->seq != prev->seq + 1 || head_hash(prev, hp))
		return -EBADMSG;
	return wcrypto_equal(hp, next->prev, sizeof(hp)) ? 0 : -EBADMSG;
}

void head_encode(const struct whead *h, uint8_t out[HEAD_BYTES])
{
	body(h, out);
	memcpy(out + HEAD_BODY_BYTES, h->mac, 32);
	memcpy(out + HEAD_BODY_BYTES + 32, h->sig, 64);
}

int head_decode(const uint8_t *in, size_t len, struct whead *h)
{
	if (len != HEAD_BYTES || (memcmp(in, head_magic, 4) && memcmp(in, head_magic2, 4)))
		return -EBADMSG;
	memset(h, 0, sizeof(*h));
	h->has_state = !memcmp(in, head_magic2, 4);
	h->seq = get_le64(in + 4);
	h->time_s = (int64_t)get_le64(in + 12);
	memcpy(h->digest, in + 20, 32);
	memcpy(h->prev, in + 52, 32);
	h->audit_seq = get_le64(in + 84);
	memcpy(h->audit_hash, in + 92, 32);
	memcpy(h->mac, in + HEAD_BODY_BYTES, 32);
	memcpy(h->sig, in + HEAD_BODY_BYTES + 32, 64);
	return h->seq ? 0 : -EBADMSG;
}

int head_id(const struct whead *h, char out[HEAD_ID_MAX])
{
	uint8_t hh[HEAD_HASHBYTES];
	char hex[2 * HEAD_HASHBYTES + 1];
	int rc = head_hash(h, hh);
	if (rc)
		return rc;
	wcrypto_hex(hex, hh, sizeof(hh));
	snprintf(out, HEAD_ID_MAX, "%" PRIu64 ":%s", h->seq, hex);
	return 0;
}

int head_id_parse(const char *s, uint64_t *seq, uint8_t hash[HEAD_HASHBYTES])
{
	const char *p = s, *colon, *end;
	uint64_t v = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	colon = strchr(p, ':');
	if (!colon || colon == p || colon - p > 20)
		return -EINVAL;
	for (const char *q = p; q < colon; q++) {
		if (*q < '0' || *q > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	end = colon + 1 + strcspn(colon + 1, " \t\n");
	for (const char *q = end; *q; q++)
		if (*q != ' ' && *q != '\t' && *q != '\n')
			return -EINVAL;
	if (!v || wcrypto_unhex(hash, HEAD_HASHBYTES, colon + 1, (size_t)(end - colon - 1)))
		return -EINVAL;
	*seq = v;
	return 0;
}

#define HEAD_FILE_TAG "wormfs-head 1 "
#define HEAD_LINE (sizeof(HEAD_FILE_TAG) - 1 + 2 * HEAD_BYTES + 1)

static void file_line(const struct whead *h, char *line)
{
	uint8_t raw[HEAD_BYTES];
	char hex[2 * HEAD_BYTES + 1];
	head_encode(h, raw);
	wcrypto_hex(hex, raw, sizeof(raw));
	memcpy(line, HEAD_FILE_TAG, sizeof(HEAD_FILE_TAG) - 1);
	memcpy(line + sizeof(HEAD_FILE_TAG) - 1, hex, 2 * HEAD_BYTES);
	line[HEAD_LINE - 1] = '\n';
}

/* A new file: both slots = h; temporary file, fsync, rename, dir fsync. */
static int file_create(const char *path, const struct whead *h)
{
	char buf[2 * HEAD_LINE], tmp[4200], dir[4200];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	file_line(h, buf);
	memcpy(buf + HEAD_LINE, buf, HEAD_LINE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		rc = errno ? -errno : -EIO;
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int head_file_write(const char *path, const struct whead *h)
{
	char line[HEAD_LINE];
	struct stat st;
	int fd, rc = 0;

	/* A first head replaces the whole file: a stale one left by an
	 * interrupted first head must not keep a slot. */
	if (h->seq == 1)
		return file_create(path, h);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return file_create(path, h);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 2 * (off_t)HEAD_LINE) {
		close(fd);
		return file_create(path, h);
	}
	/* Two slots, by the parity of seq: a write torn by a power loss
	 * damages one slot only, and the other still holds the head before
	 * (a head file that lags meta/ is accepted). Overwriting in place
	 * costs one fdatasync, no new inode and no directory sync. */
	file_line(h, line);
	if (pwrite(fd, line, sizeof(line), (off_t)(h->seq % 2) * (off_t)HEAD_LINE) !=
	    (ssize_t)sizeof(line))
		rc = errno ? -errno : -EIO;
	if (!rc && fdatasync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	return rc;
}

int head_file_read(const char *path, const uint8_t pk[32], const uint8_t *mackey,
		   struct whead *h)
{
	char buf[2 * HEAD_LINE + 1];
	size_t tl = sizeof(HEAD_FILE_TAG) - 1;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), found = 0;

	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf));
	close(fd);
	if (got < 0)
		return -EIO;
	if ((size_t)got != 2 * HEAD_LINE)
		return -EBADMSG;
	for (int i = 0; i < 2; i++) {
		const char *l = buf + (size_t)i * HEAD_LINE;
		uint8_t raw[HEAD_BYTES];
		struct whead x;
		if (memcmp(l, HEAD_FILE_TAG, tl) || l[HEAD_LINE - 1] != '\n' ||
		    wcrypto_unhex(raw, sizeof(raw), l + tl, 2 * HEAD_BYTES) ||
		    head_decode(raw, sizeof(raw), &x) || head_verify(&x, pk, mackey))
			continue;
		if (!found || x.seq > h->seq)
			*h = x;
		found = 1;
	}
	return found ? 0 : -EBADMSG;
}

static void kv_name(uint64_t seq, char out[32])
{
	if (seq)
		snprintf(out, 32, "head/%016" PRIx64, seq);
	else
		snprintf(out, 32, "head");
}

int head_kv_get(meta_txn *t, uint64_t seq, struct whead *h)
{
	uint8_t raw[HEAD_BYTES];
	char key[32];
	size_t len = 0;
	int rc;

	kv_name(seq, key);
	rc = meta_kv_get(t, key, raw, sizeof(raw), &len);
	if (rc == -ERANGE)
		return -EBADMSG;
	if (rc)
		return rc;
	rc = head_decode(raw, len, h);
	if (!rc && seq && h->seq != seq)
		return -EBADMSG;
	return rc;
}

int head_kv_put(meta_txn *t, const struct whead *h)
{
	uint8_t raw[HEAD_BYTES];
	char key[32];
	int rc;

	head_encode(h, raw);
	kv_name(h->seq, key);
	rc = meta_kv_put(t, key, raw, sizeof(raw));
	if (!rc)
		rc = meta_kv_put(t, "head", raw, sizeof(raw));
	return rc;
}
