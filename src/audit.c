/* audit: records of the audit trail and their chain (see include/audit.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "byteorder.h"
#include "crypto.h"

static const uint8_t audit_magic[4] = { 'W', 'A', 'U', '1' };

/* What the MAC covers: everything but the MAC itself. */
static size_t mac_input(const struct audit_rec *r, uint8_t *b)
{
	memcpy(b, audit_magic, 4);
	put_le64(b + 4, r->seq);
	put_le64(b + 12, (uint64_t)r->time_s);
	memcpy(b + 20, r->prev, 32);
	put_le32(b + 52, r->len);
	memcpy(b + 56, r->text, r->len);
	return 56 + r->len;
}

int audit_seal(struct audit_rec *r, const uint8_t key[32])
{
	uint8_t b[56 + AUDIT_TEXT_MAX];
	if (r->len > AUDIT_TEXT_MAX)
		return -EINVAL;
	return wcrypto_mac(r->mac, key, b, mac_input(r, b));
}

int audit_check(const struct audit_rec *r, const uint8_t key[32])
{
	uint8_t b[56 + AUDIT_TEXT_MAX];
	if (r->len > AUDIT_TEXT_MAX)
		return -EBADMSG;
	return wcrypto_mac_verify(r->mac, key, b, mac_input(r, b));
}

size_t audit_encode(const struct audit_rec *r, uint8_t *out, size_t cap)
{
	size_t n = AUDIT_HDR_BYTES + r->len;
	if (r->len > AUDIT_TEXT_MAX || cap < n)
		return 0;
	memcpy(out, audit_magic, 4);
	put_le64(out + 4, r->seq);
	put_le64(out + 12, (uint64_t)r->time_s);
	memcpy(out + 20, r->prev, 32);
	memcpy(out + 52, r->mac, 32);
	put_le32(out + 84, r->len);
	memcpy(out + AUDIT_HDR_BYTES, r->text, r->len);
	return n;
}

int audit_decode(const uint8_t *in, size_t len, struct audit_rec *r)
{
	uint32_t tl;
	if (len < AUDIT_HDR_BYTES || memcmp(in, audit_magic, 4))
		return -EBADMSG;
	tl = get_le32(in + 84);
	if (tl > AUDIT_TEXT_MAX || len != AUDIT_HDR_BYTES + tl)
		return -EBADMSG;
	r->seq = get_le64(in + 4);
	r->time_s = (int64_t)get_le64(in + 12);
	memcpy(r->prev, in + 20, 32);
	memcpy(r->mac, in + 52, 32);
	r->len = tl;
	memcpy(r->text, in + AUDIT_HDR_BYTES, tl);
	r->text[tl] = '\0';
	/* A NUL inside would hide the rest of the line from every reader. */
	if (strlen(r->text) != tl)
		return -EBADMSG;
	return 0;
}

int audit_tip(meta_txn *t, uint64_t *seq, uint8_t hash[32])
{
	uint8_t v[40];
	size_t len = 0;
	int rc = meta_kv_get(t, "audit_tip", v, sizeof(v), &len);

	if (rc == -ENOENT) {
		*seq = 0;
		memset(hash, 0, 32);
		return 0;
	}
	if (rc == -ERANGE || (!rc && len != sizeof(v)))
		return -EBADMSG;
	if (rc)
		return rc;
	*seq = get_le64(v);
	memcpy(hash, v + 8, 32);
	return 0;
}

static void rec_key(uint64_t seq, char out[32])
{
	snprintf(out, 32, "audit/%016" PRIx64, seq);
}

int audit_append(meta_txn *t, const uint8_t key[32], int64_t time_s, const char *text,
		 struct audit_rec *out)
{
	uint8_t enc[AUDIT_REC_MAX], tip[40];
	char name[32];
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = audit_tip(t, &out->seq, out->prev);
	if (rc)
		return rc;
	out->seq++;
	out->time_s = time_s;
	n = strnlen(text, AUDIT_TEXT_MAX);
	memcpy(out->text, text, n);
	out->text[n] = '\0';
	out->len = (uint32_t)n;
	rc = audit_seal(out, key);
	if (rc)
		return rc;
	n = audit_encode(out, enc, sizeof(enc));
	rec_key(out->seq, name);
	rc = meta_kv_put(t, name, enc, n);
	if (rc)
		return rc;
	put_le64(tip, out->seq);
	memcpy(tip + 8, out->mac, 32);
	return meta_kv_put(t, "audit_tip", tip, sizeof(tip));
}

int audit_tip_put(meta_txn *t, uint64_t seq, const uint8_t hash[32])
{
	uint8_t tip[40];

	put_le64(tip, seq);
	memcpy(tip + 8, hash, 32);
	return meta_kv_put(t, "audit_tip", tip, sizeof(tip));
}

int audit_get(meta_txn *t, uint64_t seq, struct audit_rec *r)
{
	uint8_t enc[AUDIT_REC_MAX];
	char name[32];
	size_t len = 0;
	int rc;

	rec_key(seq, name);
	rc = meta_kv_get(t, name, enc, sizeof(enc), &len);
	if (rc == -ERANGE)
		return -EBADMSG;
	if (rc)
		return rc;
	return audit_decode(enc, len, r);
}

long audit_verify(meta_txn *t, const uint8_t key[32], uint64_t want_seq,
		  const uint8_t want_hash[32], audit_damage_cb cb, void *arg)
{
	struct audit_rec *r = malloc(sizeof(*r));
	uint8_t prev[32] = { 0 };
	char what[200];
	long bad = 0;
	uint64_t last = 0, tseq;
	uint8_t thash[32];
	int rc, linked = 1;

	if (!r)
		return -ENOMEM;
#define BAD(seq, ...) do { snprintf(what, sizeof(what), __VA_ARGS__); bad++; \
		if (cb) cb(arg, (seq), what); } while (0)
	for (uint64_t s = 1; s <= want_seq; s++) {
		rc = audit_get(t, s, r);
		if (rc == -ENOENT) {
			BAD(s, "audit record %" PRIu64 " is missing (removed)", s);
			linked = 0;
			continue;
		}
		if (rc) {
			BAD(s, "audit record %" PRIu64 " is malformed (edited)", s);
			linked = 0;
			continue;
		}
		if (audit_check(r, key)) {
			BAD(s, "audit record %" PRIu64 " fails authentication (edited)", s);
			linked = 0;
			continue;
		}
		if (r->seq != s) {
			BAD(s, "audit record %" PRIu64 " holds record %" PRIu64
			    " (reordered or moved)", s, r->seq);
			linked = 0;
			continue;
		}
		/* After a damaged record the next link cannot be judged: the
		 * damage is already reported. */
		if (linked && !wcrypto_equal(r->prev, prev, 32))
			BAD(s, "audit record %" PRIu64 " does not follow record %" PRIu64
			    " (a record removed or reordered before it)", s, s - 1);
		memcpy(prev, r->mac, 32);
		linked = 1;
		last = s;
	}
	if (want_seq && last == want_seq && !wcrypto_equal(prev, want_hash, 32))
		BAD(want_seq, "audit record %" PRIu64 " is not the one the store head "
		    "recorded", want_seq);
	if (want_seq && last < want_seq) {
		/* Reported above record by record; say what it means once. */
		uint64_t s = want_seq;
		while (s > 0 && audit_get(t, s, r) == -ENOENT)
			s--;
		if (s < want_seq)
			BAD(s + 1, "audit tail cut: records %" PRIu64 "..%" PRIu64
			    " missing (the store head records %" PRIu64 ")", s + 1, want_seq,
			    want_seq);
	}
	for (uint64_t s = want_seq + 1; audit_get(t, s, r) != -ENOENT; s++)
		BAD(s, "audit record %" PRIu64 " is not covered by the store head "
		    "(appended after it)", s);
	rc = audit_tip(t, &tseq, thash);
	if (rc || tseq != want_seq || !wcrypto_equal(thash, want_hash, 32))
		BAD(want_seq, "audit tip record does not match the store head "
		    "(head: %" PRIu64 ", tip: %" PRIu64 ")", want_seq, rc ? 0 : tseq);
#undef BAD
	free(r);
	return bad;
}
