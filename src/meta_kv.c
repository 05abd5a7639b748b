/* meta_kv: the kv store of the metadata module (include/meta.h): small
 * values under names of at most META_KEY_MAX bytes (the inode counter,
 * the audit trail, store flags). */
#include "meta_priv.h"

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
	return mdb_err(dg_put(t, DB_KV, &k, &v, 0));
}
