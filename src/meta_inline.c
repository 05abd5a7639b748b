/* meta_inline: inline content of the metadata module (include/meta.h): an
 * object of at most one block kept in a side table under its inode number
 * instead of a content file. */
#include "meta_priv.h"

/* The value under an inode number in database d. */
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
	return ino_value_get(t, DB_INLINE_CONTENT, ino, buf, size, len);
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
	return mdb_err(dg_put(t, DB_INLINE_CONTENT, &k, &v, 0));
}

int meta_inline_del(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };

	if (!dbi(t, DB_INLINE_CONTENT))
		return -ENOENT;
	put_be64(kb, ino);
	return mdb_err(dg_del(t, DB_INLINE_CONTENT, &k));
}
