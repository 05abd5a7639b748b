/* meta_orphan: orphans of the metadata module (include/meta.h): content
 * files whose node is gone but which are still to be deleted. */
#include "meta_priv.h"

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
	return mdb_err(dg_put(t, DB_ORPHANS, &k, &v, 0));
}

int meta_orphan_del(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };

	put_be64(kb, ino);
	return mdb_err(dg_del(t, DB_ORPHANS, &k));
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
	while ((rc = cursor_step(c, &k, &v, &op)) > 0) {
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
