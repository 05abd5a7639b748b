/* meta_attr: the per-inode side tables and the kv store of the metadata
 * module (see include/meta.h and src/meta.c): kv and inode numbers,
 * extended attributes, symlink targets, orphans. */
#include "meta_priv.h"

#include <limits.h>
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

int meta_ino_alloc(meta_txn *t, uint64_t *ino)
{
	uint8_t buf[8];
	size_t len = 0;
	uint64_t next = META_FIRST_INO;
	int rc = meta_kv_get(t, "next_ino", buf, sizeof(buf), &len);

	if (rc == 0) {
		if (len != sizeof(buf))
			return -EBADMSG;
		next = get_be64(buf);
		if (next < META_FIRST_INO)
			next = META_FIRST_INO;
	} else if (rc == -ERANGE) {
		return -EBADMSG;
	} else if (rc != -ENOENT) {
		return rc;
	}
	if (next == UINT64_MAX)
		return -ENOSPC;
	rc = room_to_add(t);
	if (rc)
		return rc;
	put_be64(buf, next + 1);
	rc = meta_kv_put(t, "next_ino", buf, sizeof(buf));
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

int meta_link_get(meta_txn *t, uint64_t ino, char *buf, size_t size, size_t *len)
{
	return ino_value_get(t, DB_LINKS, ino, buf, size, len);
}

int meta_link_put(meta_txn *t, uint64_t ino, const char *target, size_t len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { len, (void *)target };

	if (!target && len)
		return -EINVAL;
	if (len > META_LINK_MAX)
		return -ENAMETOOLONG;
	if (room_to_add(t))
		return -ENOSPC;
	put_be64(kb, ino);
	return mdb_err(mdb_put(t->txn, dbi(t, DB_LINKS), &k, &v, 0));
}

/* ---- orphans --------------------------------------------------------- */

int meta_orphan_add(meta_txn *t, uint64_t ino, const uint8_t objid[16])
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { 16, (void *)objid };

	put_be64(kb, ino);
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
		if (k.mv_size != 8 || v.mv_size != 16) {
			rc = -EBADMSG;
			break;
		}
		memcpy(objid, v.mv_data, 16);
		rc = cb(arg, get_be64(k.mv_data), objid);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}
