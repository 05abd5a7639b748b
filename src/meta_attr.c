/* meta_attr: the per-inode side tables and the kv store of the metadata
 * module (see include/meta.h and src/meta.c): kv and inode numbers,
 * extended attributes, symlink targets, orphans. */
#include "meta_priv.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/xattr.h>

#define META_XATTR_VALUE_MAX 65536 /* XATTR_SIZE_MAX */
#define META_LINK_MAX 4096

/* Length of an xattr name, or -ERANGE as setxattr(2) reports it. */
static int xname_len(const char *name, size_t *len)
{
	if (!name)
		return -EINVAL;
	*len = strnlen(name, XATTR_NAME_MAX + 1);
	if (*len == 0 || *len > XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* ---- kv -------------------------------------------------------------- */

static int kv_key(const char *key, MDB_val *k)
{
	size_t len;

	if (!key)
		return -EINVAL;
	len = strnlen(key, META_KEY_MAX + 1);
	if (len == 0 || len > META_KEY_MAX)
		return -EINVAL;
	*k = (MDB_val){ .mv_size = len, .mv_data = (void *)key };
	return 0;
}

int meta_kv_get(meta_txn *t, const char *key, void *buf, size_t size, size_t *len)
{
	MDB_val k, v;
	int rc = kv_key(key, &k);

	if (rc)
		return rc;
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_KV), &k, &v));
	if (rc)
		return rc;
	return copy_out(&v, buf, size, len);
}

int meta_kv_put(meta_txn *t, const char *key, const void *val, size_t len)
{
	MDB_val k, v = { .mv_size = len, .mv_data = (void *)val };
	int rc = kv_key(key, &k);

	if (rc)
		return rc;
	if (!val && len)
		return -EINVAL;
	return mdb_err(mdb_put(t->txn, dbi(t, DB_KV), &k, &v, 0));
}

#define KV_NEXT_INO "next_ino"

/* The counter's value: next (be64) | MAC over 'N' | next. */
int meta_ino_peek(meta_txn *t, uint64_t *next, int *authentic)
{
	static const uint8_t key[8] = "next_ino";
	uint8_t buf[8 + META_MAC_BYTES];
	MDB_val v;
	size_t len = 0, plain = 0;
	int rc = meta_kv_get(t, KV_NEXT_INO, buf, sizeof(buf), &len);

	if (rc == -ERANGE)
		rc = -EBADMSG;
	if (rc)
		return rc;
	if (len < 8)
		return -EBADMSG;
	*next = get_be64(buf);
	v = (MDB_val){ len, buf };
	rc = auth_check(t->e, 'N', key, sizeof(key), &v, 8, &plain);
	*authentic = rc == 0;
	return rc == -EBADMSG ? rc : 0;
}

/* 1 if the inode already has a node or an orphan record. */
static int ino_used(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	put_be64(kb, ino);
	rc = mdb_get(t->txn, dbi(t, DB_NODES), &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = mdb_get(t->txn, dbi(t, DB_ORPHANS), &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? mdb_err(rc) : 1;
}

static int ino_store(meta_txn *t, uint64_t next)
{
	static const uint8_t key[8] = "next_ino";
	uint8_t buf[8 + META_MAC_BYTES];
	size_t len = 8;

	put_be64(buf, next);
	if (t->e->auth) {
		int rc = auth_mac(t->e, 'N', key, sizeof(key), buf, 8, buf + 8);
		if (rc)
			return rc;
		len += META_MAC_BYTES;
	}
	return meta_kv_put(t, KV_NEXT_INO, buf, len);
}

/* The highest inode number with a record in database d (0 if none). */
static int ino_last(meta_txn *t, enum meta_db d, uint64_t *last)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, dbi(t, d), &c);

	*last = 0;
	if (rc)
		return mdb_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (!rc && k.mv_size == 8)
		*last = get_be64(k.mv_data);
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
}

int meta_ino_repair(meta_txn *t, uint64_t *before, uint64_t *after)
{
	uint64_t next = 0, a = 0, b = 0;
	int ok = 0, rc = meta_ino_peek(t, &next, &ok);

	*before = rc ? 0 : next;
	if (rc && rc != -ENOENT && rc != -EBADMSG)
		return rc;
	rc = ino_last(t, DB_NODES, &a);
	if (!rc)
		rc = ino_last(t, DB_ORPHANS, &b);
	if (rc)
		return rc;
	if (b > a)
		a = b;
	if (a == UINT64_MAX)
		return -ENOSPC;
	*after = a + 1 < META_FIRST_INO ? META_FIRST_INO : a + 1;
	/* Never lower than an authentic counter already is. */
	if (ok && next > *after)
		*after = next;
	if (ok && next == *after)
		return 0;
	return ino_store(t, *after);
}

int meta_ino_alloc(meta_txn *t, uint64_t *ino)
{
	uint64_t next = META_FIRST_INO;
	int ok = 1;
	int rc = meta_ino_peek(t, &next, &ok);

	if (rc == -ENOENT)
		next = META_FIRST_INO, ok = 1, rc = 0;
	if (rc)
		return rc;
	if (!ok)
		return -EIO;
	if (next < META_FIRST_INO)
		next = META_FIRST_INO;
	if (next == UINT64_MAX)
		return -ENOSPC;
	rc = room_to_add(t);
	if (rc)
		return rc;
	/* A counter set back (an older copy of it is authentic too) would
	 * hand out an inode that has a record: refused, never overwritten. */
	rc = ino_used(t, next);
	if (rc)
		return rc < 0 ? rc : -EUCLEAN;
	rc = ino_store(t, next + 1);
	if (rc)
		return rc;
	*ino = next;
	return 0;
}

/* ---- extended attributes --------------------------------------------- */

int meta_xattr_get(meta_txn *t, uint64_t ino, const char *name, void *buf, size_t size, size_t *len)
{
	uint8_t kb[8 + XATTR_NAME_MAX];
	MDB_val k, v;
	size_t nl;
	int rc = xname_len(name, &nl);

	if (rc)
		return rc;
	k = prefixed_key(kb, ino, name, nl);
	rc = mdb_get(t->txn, dbi(t, DB_XATTRS), &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? -ENODATA : mdb_err(rc);
	if (size == 0) {          /* size query */
		if (len)
			*len = v.mv_size;
		return 0;
	}
	return copy_out(&v, buf, size, len);
}

/* Call fn on each attribute (key, value) of ino in key order; fn returns
 * <0 (an error, returned), >0 (stop, return 0) or 0 (go on). */
typedef int (*xattr_fn)(void *arg, const MDB_val *k, const MDB_val *v);

static int xattr_walk(meta_txn *t, uint64_t ino, xattr_fn fn, void *arg)
{
	uint8_t kb[8];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	put_be64(kb, ino);
	rc = mdb_cursor_open(t->txn, dbi(t, DB_XATTRS), &c);
	if (rc)
		return mdb_err(rc);
	for (;; op = MDB_NEXT) {
		rc = seek_prefix(c, kb, 8, &k, &v, op);
		if (rc <= 0)
			break;
		rc = fn(arg, &k, &v);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc < 0 ? rc : 0;
}

/* Bytes of names and values the inode's attributes hold, and bytes of its
 * name list (names with their NULs), leaving out the one under key skip
 * (about to be replaced). */
struct xsum {
	const MDB_val *skip;
	size_t total, names;
};

static int xsum_fn(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct xsum *x = arg;

	if (k->mv_size == x->skip->mv_size && memcmp(k->mv_data, x->skip->mv_data, k->mv_size) == 0)
		return 0;
	x->total += k->mv_size - 8 + v->mv_size;
	x->names += k->mv_size - 8 + 1;
	return 0;
}

int meta_xattr_set(meta_txn *t, uint64_t ino, const char *name, const void *val, size_t len, int flags)
{
	uint8_t kb[8 + XATTR_NAME_MAX];
	MDB_val k, v = { len, (void *)val }, old;
	unsigned put_flags = 0;
	size_t nl;
	int rc = xname_len(name, &nl);

	if (rc)
		return rc;
	if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) ||
	    flags == (XATTR_CREATE | XATTR_REPLACE) || (!val && len))
		return -EINVAL;
	if (len > META_XATTR_VALUE_MAX)
		return -E2BIG;
	k = prefixed_key(kb, ino, name, nl);
	if (flags & XATTR_REPLACE) {
		rc = mdb_get(t->txn, dbi(t, DB_XATTRS), &k, &old);
		if (rc)
			return rc == MDB_NOTFOUND ? -ENODATA : mdb_err(rc);
	}
	if (flags & XATTR_CREATE)
		put_flags = MDB_NOOVERWRITE;
	/* Counted in this write transaction, so two setters cannot both pass
	 * against the same old total. */
	struct xsum x = { .skip = &k };
	rc = room_to_add(t);
	if (!rc)
		rc = xattr_walk(t, ino, xsum_fn, &x);
	if (!rc && (x.total + nl + len > META_XATTR_TOTAL_MAX ||
		    x.names + nl + 1 > META_XATTR_LIST_MAX))
		rc = -ENOSPC;
	/* XATTR_CREATE of an existing name still reports EEXIST. */
	if (rc == -ENOSPC && (flags & XATTR_CREATE) &&
	    mdb_get(t->txn, dbi(t, DB_XATTRS), &k, &old) == MDB_SUCCESS)
		return -EEXIST;
	if (rc)
		return rc;
	return mdb_err(mdb_put(t->txn, dbi(t, DB_XATTRS), &k, &v, put_flags));
}

int meta_xattr_del(meta_txn *t, uint64_t ino, const char *name)
{
	uint8_t kb[8 + XATTR_NAME_MAX];
	MDB_val k;
	size_t nl;
	int rc = xname_len(name, &nl);

	if (rc)
		return rc;
	k = prefixed_key(kb, ino, name, nl);
	rc = mdb_del(t->txn, dbi(t, DB_XATTRS), &k, NULL);
	return rc == MDB_NOTFOUND ? -ENODATA : mdb_err(rc);
}

struct xlist {
	meta_xattr_cb cb;
	void *arg;
};

static int xlist_fn(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct xlist *x = arg;
	char name[XATTR_NAME_MAX + 1];
	size_t nl = k->mv_size - 8;

	(void)v;
	if (nl == 0 || nl > XATTR_NAME_MAX)
		return -EBADMSG;
	memcpy(name, (uint8_t *)k->mv_data + 8, nl);
	name[nl] = '\0';
	return x->cb(x->arg, name) ? 1 : 0;   /* stop: like readdir, not an error */
}

int meta_xattr_list(meta_txn *t, uint64_t ino, meta_xattr_cb cb, void *arg)
{
	struct xlist x = { cb, arg };

	return xattr_walk(t, ino, xlist_fn, &x);
}

/* ---- inline content ---------------------------------------------------- */

/* The value under an inode number in database d (links, inline). */
static int ino_value_get(meta_txn *t, enum meta_db d, uint64_t ino, void *buf, size_t size,
			 size_t *len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	if (!dbi(t, d))
		return -ENOENT;   /* an optional database this store lacks */
	put_be64(kb, ino);
	rc = mdb_err(mdb_get(t->txn, dbi(t, d), &k, &v));
	if (rc)
		return rc;
	return copy_out(&v, buf, size, len);
}

int meta_inline_get(meta_txn *t, uint64_t ino, void *buf, size_t size, size_t *len)
{
	return ino_value_get(t, DB_INLINE, ino, buf, size, len);
}

int meta_inline_put(meta_txn *t, uint64_t ino, const void *val, size_t len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { len, (void *)val };

	if (!val || !len)
		return -EINVAL;
	if (room_to_add(t))
		return -ENOSPC;
	put_be64(kb, ino);
	return mdb_err(mdb_put(t->txn, dbi(t, DB_INLINE), &k, &v, 0));
}

int meta_inline_del(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };

	if (!dbi(t, DB_INLINE))
		return -ENOENT;
	put_be64(kb, ino);
	return mdb_err(mdb_del(t->txn, dbi(t, DB_INLINE), &k, NULL));
}

/* ---- symlinks -------------------------------------------------------- */

static int link_store(meta_txn *t, const uint8_t kb[8], const char *target, size_t len)
{
	MDB_val k = { 8, (void *)kb }, v = { len, (void *)target };
	uint8_t *buf;
	int rc;

	if (!t->e->auth)
		return mdb_err(mdb_put(t->txn, dbi(t, DB_LINKS), &k, &v, 0));
	v.mv_size = len + META_MAC_BYTES;
	rc = mdb_err(mdb_put(t->txn, dbi(t, DB_LINKS), &k, &v, MDB_RESERVE));
	if (rc)
		return rc;
	buf = v.mv_data;
	if (len)
		memcpy(buf, target, len);
	return auth_mac(t->e, 'L', kb, 8, target, len, buf + len);
}

/* A target is stored as target | MAC over 'L' | ino | target. */
int meta_link_get(meta_txn *t, uint64_t ino, char *buf, size_t size, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	size_t plain = 0;
	int rc;

	put_be64(kb, ino);
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_LINKS), &k, &v));
	if (rc)
		return rc;
	rc = auth_check(t->e, 'L', kb, 8, &v, 0, &plain);
	if (rc)
		return rc;
	v.mv_size = plain;
	return copy_out(&v, buf, size, len);
}

int meta_link_put(meta_txn *t, uint64_t ino, const char *target, size_t len)
{
	uint8_t kb[8];

	if (!target && len)
		return -EINVAL;
	if (len > META_LINK_MAX)
		return -ENAMETOOLONG;
	if (room_to_add(t))
		return -ENOSPC;
	put_be64(kb, ino);
	return link_store(t, kb, target, len);
}

/* ---- orphans --------------------------------------------------------- */

/* An entry is objid | MAC over 'O' | ino | objid. */
int meta_orphan_add(meta_txn *t, uint64_t ino, const uint8_t objid[16])
{
	uint8_t kb[8], vb[16 + META_MAC_BYTES];
	MDB_val k = { 8, kb }, v = { 16, vb };
	int rc;

	put_be64(kb, ino);
	memcpy(vb, objid, 16);
	if (t->e->auth) {
		rc = auth_mac(t->e, 'O', kb, 8, objid, 16, vb + 16);
		if (rc)
			return rc;
		v.mv_size += META_MAC_BYTES;
	}
	return mdb_err(mdb_put(t->txn, dbi(t, DB_ORPHANS), &k, &v, 0));
}

int meta_orphan_del(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };

	put_be64(kb, ino);
	return mdb_err(mdb_del(t->txn, dbi(t, DB_ORPHANS), &k, NULL));
}

int meta_orphan_foreach(meta_txn *t, meta_orphan_cb cb, void *arg)
{
	uint8_t objid[16];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	int rc;

	rc = mdb_cursor_open(t->txn, dbi(t, DB_ORPHANS), &c);
	if (rc)
		return mdb_err(rc);
	for (;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
			break;
		}
		size_t plain = 0;
		if (k.mv_size != 8 || v.mv_size < 16) {
			rc = -EBADMSG;
			break;
		}
		memcpy(objid, v.mv_data, 16);
		/* One that fails authentication is shown, never acted on. */
		rc = auth_check(t->e, 'O', k.mv_data, 8, &v, 16, &plain);
		rc = cb(arg, get_be64(k.mv_data), rc ? NULL : objid);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

/* ---- upgrade to authenticated records --------------------------------- */

int meta_auth_any_new(meta_txn *t)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	uint64_t next;
	int ok, rc;

	rc = meta_ino_peek(t, &next, &ok);
	if (!rc) {
		size_t len = 0;
		uint8_t buf[8 + META_MAC_BYTES];
		if (!meta_kv_get(t, KV_NEXT_INO, buf, sizeof(buf), &len) && len != 8)
			return 1;
	}
	rc = mdb_cursor_open(t->txn, dbi(t, DB_DIRENTS), &c);
	if (rc)
		return mdb_err(rc);
	for (;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
			break;
		}
		if (v.mv_size != 16) {
			rc = 1;
			break;
		}
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_dirent_unlisted(meta_txn *t, meta_unlisted_cb cb, void *arg)
{
	char name[META_NAME_MAX + 1];
	uint8_t ckb[16];
	MDB_cursor *c = NULL;
	MDB_val k, v, ck, cv;
	MDB_cursor_op op = MDB_FIRST;
	int rc = mdb_cursor_open(t->txn, dbi(t, DB_DIRENTS), &c);

	if (rc)
		return mdb_err(rc);
	for (;; op = MDB_NEXT) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
			break;
		}
		if (k.mv_size <= 8 || k.mv_size > 8 + META_NAME_MAX || v.mv_size < 16)
			continue;     /* malformed: the walk reports those */
		memcpy(ckb, k.mv_data, 8);
		memcpy(ckb + 8, (const uint8_t *)v.mv_data + 8, 8);
		ck = (MDB_val){ 16, ckb };
		rc = mdb_get(t->txn, dbi(t, DB_COOKIES), &ck, &cv);
		if (rc && rc != MDB_NOTFOUND) {
			rc = mdb_err(rc);
			break;
		}
		if (!rc && cv.mv_size == k.mv_size - 8 &&
		    !memcmp(cv.mv_data, (const uint8_t *)k.mv_data + 8, cv.mv_size))
			continue;
		memcpy(name, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		name[k.mv_size - 8] = '\0';
		rc = cb(arg, get_be64(k.mv_data), name);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

/* Give every legacy value of database d its MAC; mac_of computes it from
 * key and legacy value into out (which has room for value | MAC). */
typedef int (*upgrade_fn)(meta_txn *t, const MDB_val *k, const MDB_val *v, uint8_t *out,
			  size_t *outlen);

/* New values are collected first and put after the walk: a put that
 * changes a value's size under an open cursor moves records around. */
struct up_rec {
	uint8_t *k, *v;
	size_t kl, vl;
};

static long upgrade_db(meta_txn *t, enum meta_db d, upgrade_fn fn)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	uint8_t *out = malloc(8192);
	struct up_rec *recs = NULL;
	size_t n = 0, cap = 0;
	long done = 0;
	int rc;

	if (!out)
		return -ENOMEM;
	if (!dbi(t, d)) {
		free(out);
		return 0;
	}
	rc = mdb_cursor_open(t->txn, dbi(t, d), &c);
	if (rc) {
		free(out);
		return mdb_err(rc);
	}
	for (;; op = MDB_NEXT) {
		size_t outlen = 0;
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : mdb_err(rc);
			break;
		}
		rc = fn(t, &k, &v, out, &outlen);
		if (rc > 0) {
			rc = 0;
			continue;   /* nothing to do for this one */
		}
		if (rc)
			break;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 256;
			struct up_rec *g = realloc(recs, nc * sizeof(*g));
			if (!g) {
				rc = -ENOMEM;
				break;
			}
			recs = g;
			cap = nc;
		}
		recs[n].k = malloc(k.mv_size + outlen);
		if (!recs[n].k) {
			rc = -ENOMEM;
			break;
		}
		memcpy(recs[n].k, k.mv_data, k.mv_size);
		recs[n].v = recs[n].k + k.mv_size;
		memcpy(recs[n].v, out, outlen);
		recs[n].kl = k.mv_size;
		recs[n].vl = outlen;
		n++;
	}
	mdb_cursor_close(c);
	for (size_t i = 0; !rc && i < n; i++) {
		MDB_val nk = { recs[i].kl, recs[i].k }, nv = { recs[i].vl, recs[i].v };
		rc = mdb_err(mdb_put(t->txn, dbi(t, d), &nk, &nv, 0));
		done++;
	}
	for (size_t i = 0; i < n; i++)
		free(recs[i].k);
	free(recs);
	free(out);
	return rc ? rc : done;
}

static int up_dirent(meta_txn *t, const MDB_val *k, const MDB_val *v, uint8_t *out,
		     size_t *outlen)
{
	size_t len = k->mv_size - 8;
	uint8_t a[24];

	if (v->mv_size != 16 || k->mv_size < 9 || len > META_NAME_MAX)
		return v->mv_size == 16 ? -EBADMSG : 1;
	memcpy(out, v->mv_data, 16);
	memcpy(a, k->mv_data, 8);
	memcpy(a + 8, v->mv_data, 16);
	*outlen = 16 + META_MAC_BYTES;
	return auth_mac(t->e, 'D', a, sizeof(a), (const uint8_t *)k->mv_data + 8, len, out + 16);
}

static int up_orphan(meta_txn *t, const MDB_val *k, const MDB_val *v, uint8_t *out,
		     size_t *outlen)
{
	if (v->mv_size != 16 || k->mv_size != 8)
		return 1;
	memcpy(out, v->mv_data, 16);
	*outlen = 16 + META_MAC_BYTES;
	return auth_mac(t->e, 'O', k->mv_data, 8, v->mv_data, 16, out + 16);
}

static int up_link(meta_txn *t, const MDB_val *k, const MDB_val *v, uint8_t *out,
		   size_t *outlen)
{
	if (k->mv_size != 8 || v->mv_size > META_LINK_MAX)
		return -EBADMSG;
	memcpy(out, v->mv_data, v->mv_size);
	*outlen = v->mv_size + META_MAC_BYTES;
	return auth_mac(t->e, 'L', k->mv_data, 8, v->mv_data, v->mv_size, out + v->mv_size);
}

long meta_auth_upgrade(meta_txn *t)
{
	long total = 0, r;
	uint64_t next;
	int ok, rc;

	if (!t->e->auth || t->e->strict)
		return -EINVAL;
	r = upgrade_db(t, DB_DIRENTS, up_dirent);
	if (r >= 0)
		total += r, r = upgrade_db(t, DB_ORPHANS, up_orphan);
	if (r >= 0)
		total += r, r = upgrade_db(t, DB_LINKS, up_link);
	if (r < 0)
		return r;
	total += r;
	rc = meta_ino_peek(t, &next, &ok);
	if (!rc) {
		rc = ino_store(t, next);
		total++;
	}
	if (rc && rc != -ENOENT)
		return rc;
	return total;
}
