/* meta_xattr: extended attributes of the metadata module (include/meta.h),
 * one side table keyed by inode | name, with the per-inode limits. */
#include "meta_priv.h"

#include <limits.h>
#include <sys/xattr.h>

#define META_XATTR_VALUE_MAX 65536 /* XATTR_SIZE_MAX */

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
	return mdb_err(dg_put(t, DB_XATTRS, &k, &v, put_flags));
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
	rc = dg_del(t, DB_XATTRS, &k);
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
