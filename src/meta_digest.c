/* meta_digest: the state digest of the metadata (issue 12; design section
 * 7), part of the meta module. See include/meta.h.
 *
 * The digest is a keyed set-hash: the sum mod 2^256 of H(db | key | value)
 * over every record of every sub-database (the digest record itself
 * aside), H a keyed BLAKE2b the namespace hands in (meta links no crypto).
 * A sum, not a running hash, so that it is updated per record in O(1): a
 * put subtracts the old value's H and adds the new one, a delete
 * subtracts. It is kept in the same LMDB write transaction as the records
 * it covers, so a crash leaves both as they were or both as committed.
 * H is keyed and its key never leaves the daemon: without it no one can
 * find another set of records with the same sum, and a record put back
 * from an older copy, or deleted, or added, changes the sum.
 *
 * Every write to LMDB in meta*.c goes through dg_put / dg_del /
 * dg_cursor_del (meta_priv.h). The digest record, kv "state_digest" =
 * sum | MAC (tag 'S', meta_set_auth's function), is written once per
 * write transaction, at commit, when the sum changed. A store without
 * it keeps none until the namespace seals one (meta_digest_seal). */
#include "meta_priv.h"

#include <stdlib.h>

#define KV_DIGEST "state_digest"
#define DG_NONE 2                 /* t->dstate: this store keeps no digest */
#define DG_BAD 3                  /* its record fails authentication */
#define DG_KEPT 1

void meta_set_digest(meta_env *e, meta_rec_hash_fn fn, void *arg)
{
	e->dg_fn = fn;
	e->dg_arg = arg;
	e->dg_seen_ok = 0;
	dg_memo_clear(e);   /* another key: other H */
}

/* ---- the sum ------------------------------------------------------------ */

/* Little-endian 256-bit add and subtract, mod 2^256, in 64-bit limbs
 * (byte by byte, these were 2 % of a create's instructions). */
void meta_digest_add(uint8_t sum[META_DIGEST_BYTES], const uint8_t h[META_DIGEST_BYTES])
{
	uint64_t carry = 0;

	for (int i = 0; i < META_DIGEST_BYTES; i += 8) {
		uint64_t a = get_le64(sum + i), b = get_le64(h + i), s = a + b;
		uint64_t c = s < a;
		s += carry;
		c |= s < carry;
		put_le64(sum + i, s);
		carry = c;
	}
}

void meta_digest_sub(uint8_t sum[META_DIGEST_BYTES], const uint8_t h[META_DIGEST_BYTES])
{
	uint64_t borrow = 0;

	for (int i = 0; i < META_DIGEST_BYTES; i += 8) {
		uint64_t a = get_le64(sum + i), b = get_le64(h + i), d = a - b;
		uint64_t c = a < b;
		c |= d < borrow;
		d -= borrow;
		put_le64(sum + i, d);
		borrow = c;
	}
}

/* The digest record is the one record the sum does not cover. */
static int is_digest_key(enum meta_db d, const MDB_val *k)
{
	return d == DB_KV && k->mv_size == sizeof(KV_DIGEST) - 1 &&
	       !memcmp(k->mv_data, KV_DIGEST, sizeof(KV_DIGEST) - 1);
}

/* H(db | key length | key | value); LMDB-style code (errno > 0). */
static int rec_hash(const meta_env *e, enum meta_db d, const MDB_val *k, const MDB_val *v,
		    uint8_t out[META_DIGEST_BYTES])
{
	uint8_t hdr[3 + META_KEY_MAX];

	if (k->mv_size > META_KEY_MAX)
		return EINVAL;
	hdr[0] = (uint8_t)d;
	hdr[1] = (uint8_t)(k->mv_size >> 8);
	hdr[2] = (uint8_t)k->mv_size;
	memcpy(hdr + 3, k->mv_data, k->mv_size);
	return e->dg_fn(e->dg_arg, hdr, 3 + k->mv_size, v->mv_data, v->mv_size, out) ? EIO : 0;
}

/* ---- the record --------------------------------------------------------- */

/* MAC of the record: 'S' | key | sum, with meta_set_auth's function
 * (called directly: this file calls no other file of the module). */
static int record_mac(const meta_env *e, const char *key, size_t kl,
		      const uint8_t sum[META_DIGEST_BYTES], uint8_t mac[META_MAC_BYTES])
{
	uint8_t msg[1 + 32 + META_DIGEST_BYTES];

	if (1 + kl + META_DIGEST_BYTES > sizeof(msg))
		return -EINVAL;
	msg[0] = 'S';
	memcpy(msg + 1, key, kl);
	memcpy(msg + 1 + kl, sum, META_DIGEST_BYTES);
	return e->auth(e->auth_arg, msg, 1 + kl + META_DIGEST_BYTES, mac, 0);
}

/* Read the stored sum: 0, ENOENT (none), EBADMSG (fails its MAC or its
 * size); LMDB-style codes. */
static int record_read(meta_txn *t, uint8_t sum[META_DIGEST_BYTES])
{
	static const char key[] = KV_DIGEST;
	MDB_val k = { sizeof(key) - 1, (void *)key }, v;
	uint8_t m[META_MAC_BYTES];
	int rc = mdb_get(t->txn, dbi(t, DB_KV), &k, &v);

	if (rc)
		return rc == MDB_NOTFOUND ? ENOENT : rc;
	if (!t->e->auth) {
		if (v.mv_size != META_DIGEST_BYTES)
			return EBADMSG;
		memcpy(sum, v.mv_data, META_DIGEST_BYTES);
		return 0;
	}
	if (v.mv_size != META_DIGEST_BYTES + META_MAC_BYTES)
		return EBADMSG;
	memcpy(sum, v.mv_data, META_DIGEST_BYTES);
	/* Once per write transaction otherwise: the bytes last written or
	 * checked are known good (a MAC is a function of the bytes). Only
	 * write transactions use e->dg_seen: they run one at a time. */
	if (!t->rdonly && t->e->dg_seen_ok && !memcmp(v.mv_data, t->e->dg_seen, v.mv_size))
		return 0;
	if (record_mac(t->e, key, sizeof(key) - 1, sum, m) ||
	    memcmp(m, (const uint8_t *)v.mv_data + META_DIGEST_BYTES, sizeof(m)))
		return EBADMSG;
	if (!t->rdonly) {
		memcpy(t->e->dg_seen, v.mv_data, v.mv_size);
		t->e->dg_seen_ok = 1;
	}
	return 0;
}

static int record_write(meta_txn *t, const uint8_t sum[META_DIGEST_BYTES])
{
	static const char key[] = KV_DIGEST;
	uint8_t buf[META_DIGEST_BYTES + META_MAC_BYTES];
	MDB_val k = { sizeof(key) - 1, (void *)key }, v = { META_DIGEST_BYTES, buf };

	int rc;

	memcpy(buf, sum, META_DIGEST_BYTES);
	if (t->e->auth) {
		if (record_mac(t->e, key, sizeof(key) - 1, sum, buf + META_DIGEST_BYTES))
			return EIO;
		v.mv_size += META_MAC_BYTES;
	}
	rc = mdb_put(t->txn, dbi(t, DB_KV), &k, &v, 0);
	/* Right whether or not this transaction commits (record_read). */
	if (!rc && t->e->auth) {
		memcpy(t->e->dg_seen, buf, sizeof(buf));
		t->e->dg_seen_ok = 1;
	}
	return rc;
}

/* 1 if write txn t keeps the sum (loaded on first use), 0 if not. A
 * record that fails its MAC is not maintained (the namespace refuses the
 * mount on it, see ns_digest.c); neither is a store without one. */
static int dg_on(meta_txn *t)
{
	int rc;

	if (!t->e->dg_fn || t->rdonly)
		return 0;
	if (!t->dstate) {
		rc = record_read(t, t->dsum);
		t->dstate = rc == 0 ? DG_KEPT : rc == ENOENT ? DG_NONE : DG_BAD;
	}
	return t->dstate == DG_KEPT;
}

void meta_digest_txn_begin(meta_txn *t)
{
	t->dstate = 0;
	t->ddirty = 0;
	memset(t->dcur, 0, sizeof(t->dcur));   /* the last transaction's are gone */
}

int meta_digest_txn_flush(meta_txn *t)
{
	if (!t->ddirty || t->dstate != DG_KEPT)
		return 0;
	t->ddirty = 0;
	return record_write(t, t->dsum);
}

/* ---- hooks (meta_priv.h) ------------------------------------------------ */

/* H of a value: memoized if this write transaction (or one before it)
 * put exactly these bytes under this key (meta_digest_memo.c). */
static int rec_hash_memo(meta_txn *t, enum meta_db d, const MDB_val *k, const MDB_val *v,
			 uint8_t out[META_DIGEST_BYTES])
{
	if (dg_memo_get(t->e, d, k, v, out))
		return 0;
	return rec_hash(t->e, d, k, v, out);
}

/* The write transaction's cursor on d (not closed by the caller): opening
 * one per call cost a malloc and a free each. Every use positions it
 * first (MDB_SET_KEY). */
static int txn_cursor(meta_txn *t, enum meta_db d, MDB_cursor **c)
{
	int rc = 0;

	if (!t->dcur[d])
		rc = mdb_cursor_open(t->txn, dbi(t, d), &t->dcur[d]);
	*c = t->dcur[d];
	return rc;
}

int dg_find(meta_txn *t, enum meta_db d, MDB_val *k, MDB_val *v, MDB_cursor **c)
{
	MDB_val key = *k;
	int rc = t->rdonly ? EINVAL : txn_cursor(t, d, c);

	return rc ? rc : mdb_cursor_get(*c, &key, v, MDB_SET_KEY);
}

/* One cursor finds the old value and replaces or deletes it: one B-tree
 * descent, not one for mdb_get and another in mdb_put or mdb_del. */
int dg_put(meta_txn *t, enum meta_db d, MDB_val *k, MDB_val *v, unsigned flags)
{
	uint8_t hold[META_DIGEST_BYTES], hnew[META_DIGEST_BYTES];
	MDB_cursor *c = NULL;
	MDB_val key = *k, old;
	int had = 0, rc;

	if (!dg_on(t) || is_digest_key(d, k))
		return mdb_put(t->txn, dbi(t, d), k, v, flags);
	rc = rec_hash(t->e, d, k, v, hnew);
	if (rc)
		return rc;
	if (flags & MDB_NOOVERWRITE) {
		rc = mdb_put(t->txn, dbi(t, d), k, v, flags);
	} else {
		rc = txn_cursor(t, d, &c);
		if (rc)
			return rc;
		rc = mdb_cursor_get(c, &key, &old, MDB_SET_KEY);
		/* Hashed before the put: the old value's page may be reused. */
		if (!rc && !(rc = rec_hash_memo(t, d, k, &old, hold))) {
			had = 1;
			rc = mdb_cursor_put(c, k, v, MDB_CURRENT);
		} else if (rc == MDB_NOTFOUND) {
			rc = mdb_cursor_put(c, k, v, flags);
		}
	}
	if (rc)
		return rc;
	if (had)
		meta_digest_sub(t->dsum, hold);
	meta_digest_add(t->dsum, hnew);
	t->ddirty = 1;
	dg_memo_put(t->e, d, k, v, hnew);
	return 0;
}

/* Subtract H of the record under cursor c (positioned, its value v) and
 * delete it. */
static int del_at(meta_txn *t, enum meta_db d, MDB_cursor *c, const MDB_val *k,
		  const MDB_val *v)
{
	uint8_t h[META_DIGEST_BYTES];
	int rc = rec_hash_memo(t, d, k, v, h);

	if (rc)
		return rc;
	dg_memo_forget(t->e, d, k);   /* before the delete: k may point into the page */
	rc = mdb_cursor_del(c, 0);
	if (rc)
		return rc;
	meta_digest_sub(t->dsum, h);
	t->ddirty = 1;
	return 0;
}

int dg_del(meta_txn *t, enum meta_db d, MDB_val *k)
{
	MDB_cursor *c = NULL;
	MDB_val key = *k, old;
	int rc;

	if (!dg_on(t) || is_digest_key(d, k))
		return mdb_del(t->txn, dbi(t, d), k, NULL);
	rc = txn_cursor(t, d, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &key, &old, MDB_SET_KEY);
	return rc ? rc : del_at(t, d, c, k, &old);
}

int dg_cursor_del(meta_txn *t, enum meta_db d, MDB_cursor *c)
{
	MDB_val k, v;
	int rc;

	if (!dg_on(t))
		return mdb_cursor_del(c, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
	if (rc)
		return rc;
	if (is_digest_key(d, &k))
		return mdb_cursor_del(c, 0);
	return del_at(t, d, c, &k, &v);
}

/* ---- whole-store operations --------------------------------------------- */

int meta_digest_scan(meta_txn *t, uint8_t sum[META_DIGEST_BYTES], uint64_t *records)
{
	uint8_t h[META_DIGEST_BYTES];
	uint64_t n = 0;
	int rc = 0;

	memset(sum, 0, META_DIGEST_BYTES);
	if (!t->e->dg_fn)
		return -EINVAL;
	for (int d = 0; d < DB_COUNT && !rc; d++) {
		MDB_cursor *c = NULL;
		MDB_val k, v;
		MDB_cursor_op op = MDB_FIRST;

		if (!dbi(t, d))
			continue;   /* read-only store from before that table */
		rc = mdb_err(mdb_cursor_open(t->txn, dbi(t, d), &c));
		if (rc)
			break;
		for (;; op = MDB_NEXT) {
			rc = mdb_cursor_get(c, &k, &v, op);
			if (rc) {
				rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
				break;
			}
			if (is_digest_key(d, &k))
				continue;
			rc = rec_hash(t->e, d, &k, &v, h);
			if (rc) {
				rc = -rc;
				break;
			}
			meta_digest_add(sum, h);
			n++;
		}
		mdb_cursor_close(c);
	}
	if (records)
		*records = n;
	return rc;
}

int meta_digest_get(meta_txn *t, uint8_t sum[META_DIGEST_BYTES])
{
	int rc;

	if (!t->rdonly && dg_on(t)) {
		memcpy(sum, t->dsum, META_DIGEST_BYTES);   /* as of now in t */
		return 0;
	}
	if (!t->rdonly && t->dstate == DG_NONE)
		return -ENOENT;
	rc = record_read(t, sum);
	return rc == ENOENT ? -ENOENT : rc == EBADMSG ? -EIO : mdb_err(rc);
}

int meta_digest_seal(meta_txn *t, uint64_t *records)
{
	int rc;

	if (t->rdonly)
		return -EROFS;
	rc = meta_digest_scan(t, t->dsum, records);
	if (rc)
		return rc;
	t->dstate = DG_KEPT;
	t->ddirty = 1;
	return 0;
}
