/* meta_upgrade: upgrading a store to authenticated records (include/meta.h):
 * whether any record carries a MAC yet, and giving every legacy directory
 * entry, orphan entry, symlink target and the inode counter its MAC. */
#include "meta_priv.h"

#include <stdlib.h>

int meta_auth_any_new(meta_txn *t)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	int rc;

	if (ino_counter_has_mac(t))
		return 1;
	rc = mdb_cursor_open(t->txn, dbi(t, DB_DIRENTS), &c);
	if (rc)
		return mdb_err(rc);
	while ((rc = cursor_step(c, &k, &v, &op)) > 0) {
		if (v.mv_size != 16) {
			rc = 1;
			break;
		}
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
	while ((rc = cursor_step(c, &k, &v, &op)) > 0) {
		size_t outlen = 0;

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
		rc = mdb_err(dg_put(t, d, &nk, &nv, 0));
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
		total += r, r = upgrade_db(t, DB_SYMLINKS, up_link);
	if (r < 0)
		return r;
	total += r;
	rc = meta_ino_peek(t, &next, &ok);
	if (!rc) {
		rc = ino_counter_store(t, next);
		total++;
	}
	if (rc && rc != -ENOENT)
		return rc;
	return total;
}
