/* meta_user: the S3 user records of the metadata module (include/meta.h):
 * "s3user/NAME" -> record | MAC and "s3key/KEYID" -> NAME | MAC in the kv
 * database. ns_user.c decides what a record holds; here they are stored,
 * authenticated and listed. Every write goes through dg_put/dg_del, so
 * the records are in the state digest. */
#include "meta_priv.h"

#include <stdlib.h>

#define USER_PREFIX "s3user/"
#define KEY_PREFIX "s3key/"
#define PREFIX_MAX 8
#define VAL_MAX (META_USER_REC_MAX + META_MAC_BYTES)

/* kb = prefix | id; -EINVAL for an empty, over-long or NUL-holding id. */
static int rec_key(const char *prefix, const char *id, uint8_t *kb, MDB_val *k)
{
	size_t pl = strlen(prefix), il;

	if (!id)
		return -EINVAL;
	il = strnlen(id, META_USER_ID_MAX + 1);
	if (il == 0 || il > META_USER_ID_MAX)
		return -EINVAL;
	memcpy(kb, prefix, pl);
	memcpy(kb + pl, id, il);
	*k = (MDB_val){ pl + il, kb };
	return 0;
}

/* The message a MAC covers: tag | key | value. */
static int rec_mac(const meta_env *e, char tag, const MDB_val *k, const void *val, size_t len,
		   uint8_t mac[META_MAC_BYTES], int check)
{
	uint8_t msg[1 + PREFIX_MAX + META_USER_ID_MAX + META_USER_REC_MAX];

	if (1 + k->mv_size + len > sizeof(msg))
		return -EINVAL;
	msg[0] = (uint8_t)tag;
	memcpy(msg + 1, k->mv_data, k->mv_size);
	if (len)
		memcpy(msg + 1 + k->mv_size, val, len);
	return e->auth(e->auth_arg, msg, 1 + k->mv_size + len, mac, check);
}

/* The plain part of stored value v (its MAC checked): 0 or -EIO. */
static int rec_open(const meta_env *e, char tag, const MDB_val *k, const MDB_val *v,
		    size_t *plain)
{
	uint8_t mac[META_MAC_BYTES];

	if (!e->auth) {
		*plain = v->mv_size;
		return v->mv_size <= META_USER_REC_MAX ? 0 : -EIO;
	}
	if (v->mv_size < META_MAC_BYTES || v->mv_size > VAL_MAX)
		return -EIO;
	*plain = v->mv_size - META_MAC_BYTES;
	memcpy(mac, (const uint8_t *)v->mv_data + *plain, sizeof(mac));
	return rec_mac(e, tag, k, v->mv_data, *plain, mac, 1) ? -EIO : 0;
}

static int rec_store(meta_txn *t, char tag, MDB_val *k, const void *val, size_t len,
		     int create)
{
	uint8_t buf[VAL_MAX];
	MDB_val v = { len, buf };
	int rc;

	if ((!val && len) || len > META_USER_REC_MAX)
		return -EINVAL;
	if (create) {
		MDB_val old;
		rc = mdb_get(t->txn, dbi(t, DB_KV), k, &old);
		if (rc == 0)
			return -EEXIST;
		if (rc != MDB_NOTFOUND)
			return mdb_err(rc);
		if (room_to_add(t))
			return -ENOSPC;
	}
	if (len)
		memcpy(buf, val, len);
	if (t->e->auth) {
		rc = rec_mac(t->e, tag, k, val, len, buf + len, 0);
		if (rc)
			return rc;
		v.mv_size += META_MAC_BYTES;
	}
	return mdb_err(dg_put(t, DB_KV, k, &v, 0));
}

static int rec_get(meta_txn *t, char tag, const char *prefix, const char *id, MDB_val *v)
{
	uint8_t kb[PREFIX_MAX + META_USER_ID_MAX];
	MDB_val k;
	size_t plain = 0;
	int rc = rec_key(prefix, id, kb, &k);

	if (rc)
		return rc;
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_KV), &k, v));
	if (rc)
		return rc;
	rc = rec_open(t->e, tag, &k, v, &plain);
	v->mv_size = plain;
	return rc;
}

static int rec_del(meta_txn *t, const char *prefix, const char *id)
{
	uint8_t kb[PREFIX_MAX + META_USER_ID_MAX];
	MDB_val k;
	int rc = rec_key(prefix, id, kb, &k);

	return rc ? rc : mdb_err(dg_del(t, DB_KV, &k));
}

/* Every record under prefix: cb(arg, id, plain value or NULL, len). */
typedef meta_user_cb rec_cb;   /* the same shape */
static int rec_foreach(meta_txn *t, char tag, const char *prefix, rec_cb cb, void *arg)
{
	size_t pl = strlen(prefix);
	char id[META_USER_ID_MAX + 1];
	MDB_cursor *c = NULL;
	MDB_val k = { pl, (void *)prefix }, v;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc = mdb_err(mdb_cursor_open(t->txn, dbi(t, DB_KV), &c));

	if (rc)
		return rc;
	for (;;) {
		size_t plain = 0, il;
		int bad;

		rc = mdb_cursor_get(c, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			rc = mdb_err(rc);
			break;
		}
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl))
			break;
		il = k.mv_size - pl;
		if (il == 0 || il > META_USER_ID_MAX ||
		    memchr((const char *)k.mv_data + pl, '\0', il))
			continue;   /* no id names this: not one of ours */
		memcpy(id, (const char *)k.mv_data + pl, il);
		id[il] = '\0';
		bad = rec_open(t->e, tag, &k, &v, &plain) != 0;
		rc = cb(arg, id, bad ? NULL : v.mv_data, bad ? 0 : plain);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_user_get(meta_txn *t, const char *name, void *buf, size_t size, size_t *len)
{
	MDB_val v;
	int rc = rec_get(t, 'U', USER_PREFIX, name, &v);

	return rc ? rc : copy_out(&v, buf, size, len);
}

int meta_user_put(meta_txn *t, const char *name, const void *rec, size_t len, int create)
{
	uint8_t kb[PREFIX_MAX + META_USER_ID_MAX];
	MDB_val k;
	int rc = rec_key(USER_PREFIX, name, kb, &k);

	return rc ? rc : rec_store(t, 'U', &k, rec, len, create);
}

int meta_user_del(meta_txn *t, const char *name)
{
	return rec_del(t, USER_PREFIX, name);
}

int meta_user_foreach(meta_txn *t, meta_user_cb cb, void *arg)
{
	return rec_foreach(t, 'U', USER_PREFIX, cb, arg);
}

int meta_userkey_get(meta_txn *t, const char *keyid, char *name, size_t size)
{
	MDB_val v;
	int rc = rec_get(t, 'K', KEY_PREFIX, keyid, &v);

	if (rc)
		return rc;
	if (v.mv_size == 0 || v.mv_size > META_USER_ID_MAX || memchr(v.mv_data, '\0', v.mv_size))
		return -EIO;   /* authentic but no name: never written so */
	if (v.mv_size + 1 > size)
		return -ERANGE;
	memcpy(name, v.mv_data, v.mv_size);
	name[v.mv_size] = '\0';
	return 0;
}

int meta_userkey_put(meta_txn *t, const char *keyid, const char *name, int create)
{
	uint8_t kb[PREFIX_MAX + META_USER_ID_MAX];
	MDB_val k;
	size_t nl = name ? strnlen(name, META_USER_ID_MAX + 1) : 0;
	int rc = rec_key(KEY_PREFIX, keyid, kb, &k);

	if (rc)
		return rc;
	if (nl == 0 || nl > META_USER_ID_MAX)
		return -EINVAL;
	return rec_store(t, 'K', &k, name, nl, create);
}

int meta_userkey_del(meta_txn *t, const char *keyid)
{
	return rec_del(t, KEY_PREFIX, keyid);
}

struct key_walk {
	meta_userkey_cb cb;
	void *arg;
};

/* The value of a key record is a name without NUL: hand it on as a string. */
static int key_step(void *arg, const char *id, const void *val, size_t len)
{
	struct key_walk *w = arg;
	char name[META_USER_ID_MAX + 1];

	if (!val || len == 0 || len > META_USER_ID_MAX || memchr(val, '\0', len))
		return w->cb(w->arg, id, NULL);
	memcpy(name, val, len);
	name[len] = '\0';
	return w->cb(w->arg, id, name);
}

int meta_userkey_foreach(meta_txn *t, meta_userkey_cb cb, void *arg)
{
	struct key_walk w = { cb, arg };

	return rec_foreach(t, 'K', KEY_PREFIX, key_step, &w);
}
