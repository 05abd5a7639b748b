/* meta_ino: inode numbers of the metadata module (include/meta.h): the
 * authenticated counter in the kv store, allocation that never hands out
 * a number with a record, and its repair. */
#include "meta_priv.h"

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
	/* In a write transaction (one at a time), the bytes last written or
	 * checked are not checked again: a MAC is a function of the bytes. */
	if (!t->rdonly && t->e->auth && t->e->ino_seen_ok && len == sizeof(t->e->ino_seen) &&
	    !memcmp(buf, t->e->ino_seen, len)) {
		*authentic = 1;
		return 0;
	}
	v = (MDB_val){ len, buf };
	rc = auth_check(t->e, 'N', key, sizeof(key), &v, 8, &plain);
	*authentic = rc == 0;
	if (!rc && !t->rdonly && t->e->auth && len == sizeof(t->e->ino_seen)) {
		memcpy(t->e->ino_seen, buf, len);
		t->e->ino_seen_ok = 1;
	}
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

int ino_counter_store(meta_txn *t, uint64_t next)
{
	static const uint8_t key[8] = "next_ino";
	uint8_t buf[8 + META_MAC_BYTES];
	size_t len = 8;

	int rc;

	put_be64(buf, next);
	if (t->e->auth) {
		rc = auth_mac(t->e, 'N', key, sizeof(key), buf, 8, buf + 8);
		if (rc)
			return rc;
		len += META_MAC_BYTES;
	}
	rc = meta_kv_put(t, KV_NEXT_INO, buf, len);
	/* Right whether or not this transaction commits (meta_ino_peek). */
	if (!rc && t->e->auth && !t->rdonly) {
		memcpy(t->e->ino_seen, buf, sizeof(buf));
		t->e->ino_seen_ok = 1;
	}
	return rc;
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
	return ino_counter_store(t, *after);
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
	rc = ino_counter_store(t, next + 1);
	if (rc)
		return rc;
	*ino = next;
	return 0;
}


int ino_counter_has_mac(meta_txn *t)
{
	uint8_t buf[8 + META_MAC_BYTES];
	uint64_t next;
	size_t len = 0;
	int ok;

	if (meta_ino_peek(t, &next, &ok))
		return 0;
	return !meta_kv_get(t, KV_NEXT_INO, buf, sizeof(buf), &len) && len != 8;
}
