/* meta_due: the autocommit index (design section 15), part of the meta
 * module. Two sub-databases kept in step in one transaction: "due" sorted
 * by deadline, so the earliest entry is one cursor step away, and
 * "dueino" naming each object's one entry, so a new deadline replaces the
 * old one. Entries are lock machinery, not new data: they are written
 * from the reserve on a full disk (no room_to_add), since a schedule lost
 * there would leave an object mutable for ever. */
#include "meta_priv.h"

static MDB_val due_key(uint8_t kb[16], int64_t deadline, uint64_t ino)
{
	put_be64(kb, deadline < 0 ? 0 : (uint64_t)deadline);
	put_be64(kb + 8, ino);
	return (MDB_val){ 16, kb };
}

static int usable(meta_txn *t)
{
	/* A read-only store from before the index has no such database. */
	return dbi(t, DB_DUE_BY_TIME) != 0 && dbi(t, DB_DUE_BY_INO) != 0;
}

int meta_due_get(meta_txn *t, uint64_t ino, int64_t *deadline)
{
	uint8_t ib[8];
	MDB_val k = { 8, ib }, v;
	int rc;

	if (!usable(t))
		return -ENOENT;
	put_be64(ib, ino);
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_DUE_BY_INO), &k, &v));
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return -EBADMSG;
	*deadline = (int64_t)get_be64(v.mv_data);
	return 0;
}

int meta_due_del(meta_txn *t, uint64_t ino)
{
	uint8_t ib[8], kb[16];
	MDB_val k = { 8, ib }, dk;
	int64_t old;
	int rc = meta_due_get(t, ino, &old);

	if (rc == -ENOENT)
		return 0;
	if (rc && rc != -EBADMSG)
		return rc;
	if (!rc) {
		dk = due_key(kb, old, ino);
		rc = mdb_err(dg_del(t, DB_DUE_BY_TIME, &dk));
		if (rc && rc != -ENOENT)
			return rc;
	}
	put_be64(ib, ino);
	return mdb_err(dg_del(t, DB_DUE_BY_INO, &k));
}

int meta_due_set(meta_txn *t, uint64_t ino, int64_t deadline)
{
	uint8_t ib[8], db[8], kb[16];
	MDB_val k = { 8, ib }, v = { 8, db }, dk, empty = { 0, NULL };
	int rc;

	if (!usable(t) || t->rdonly)
		return -EROFS;
	if (ino == 0)
		return -EINVAL;
	rc = meta_due_del(t, ino);
	if (rc)
		return rc;
	put_be64(ib, ino);
	put_be64(db, deadline < 0 ? 0 : (uint64_t)deadline);
	dk = due_key(kb, deadline, ino);
	rc = mdb_err(dg_put(t, DB_DUE_BY_TIME, &dk, &empty, 0));
	if (!rc)
		rc = mdb_err(dg_put(t, DB_DUE_BY_INO, &k, &v, 0));
	return rc;
}

int meta_due_first(meta_txn *t, uint64_t *ino, int64_t *deadline)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	if (!usable(t))
		return -ENOENT;
	rc = mdb_err(mdb_cursor_open(t->txn, dbi(t, DB_DUE_BY_TIME), &c));
	if (rc)
		return rc;
	rc = mdb_err(mdb_cursor_get(c, &k, &v, MDB_FIRST));
	if (!rc && k.mv_size != 16)
		rc = -EBADMSG;
	if (!rc) {
		*deadline = (int64_t)get_be64(k.mv_data);
		*ino = get_be64((const uint8_t *)k.mv_data + 8);
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_due_count(meta_txn *t, uint64_t *count)
{
	MDB_stat st;
	int rc;

	*count = 0;
	if (!usable(t))
		return 0;
	rc = mdb_err(mdb_stat(t->txn, dbi(t, DB_DUE_BY_INO), &st));
	if (!rc)
		*count = st.ms_entries;
	return rc;
}

int meta_due_del_at(meta_txn *t, int64_t deadline, uint64_t ino)
{
	uint8_t kb[16], ib[8];
	MDB_val dk = due_key(kb, deadline, ino), k = { 8, ib };
	int64_t cur;
	int rc;

	if (!usable(t))
		return 0;
	rc = mdb_err(dg_del(t, DB_DUE_BY_TIME, &dk));
	if (rc && rc != -ENOENT)
		return rc;
	rc = meta_due_get(t, ino, &cur);
	if (rc == -ENOENT || (!rc && cur != (deadline < 0 ? 0 : deadline)))
		return 0;
	/* The entry's own pointer, or an unreadable one: both go. */
	put_be64(ib, ino);
	rc = mdb_err(dg_del(t, DB_DUE_BY_INO, &k));
	return rc == -ENOENT ? 0 : rc;
}
