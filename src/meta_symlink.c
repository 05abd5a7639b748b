/* meta_symlink: symlink targets of the metadata module (include/meta.h),
 * a side table under the inode number, each target with its MAC. */
#include "meta_priv.h"

static int link_store(meta_txn *t, const uint8_t kb[8], const char *target, size_t len)
{
	MDB_val k = { 8, (void *)kb }, v = { len, (void *)target };
	uint8_t buf[META_LINK_MAX + META_MAC_BYTES];
	int rc;

	if (!t->e->auth)
		return mdb_err(dg_put(t, DB_SYMLINKS, &k, &v, 0));
	if (len > META_LINK_MAX)
		return -ENAMETOOLONG;
	/* Built whole first (no MDB_RESERVE): the state digest hashes the
	 * value as it is put. */
	if (len)
		memcpy(buf, target, len);
	rc = auth_mac(t->e, 'L', kb, 8, target, len, buf + len);
	if (rc)
		return rc;
	v = (MDB_val){ len + META_MAC_BYTES, buf };
	return mdb_err(dg_put(t, DB_SYMLINKS, &k, &v, 0));
}

/* A target is stored as target | MAC over 'L' | ino | target. */
int meta_link_get(meta_txn *t, uint64_t ino, char *buf, size_t size, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	size_t plain = 0;
	int rc;

	put_be64(kb, ino);
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_SYMLINKS), &k, &v));
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
