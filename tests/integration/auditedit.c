/* auditedit: offline edits of a store's audit trail, as root with the
 * store unmounted would make them (tests/integration/test_audit.sh).
 *
 *   auditedit META flip SEQ     change one byte of record SEQ's text
 *   auditedit META del SEQ      delete record SEQ
 *   auditedit META swap A B     exchange records A and B
 *   auditedit META cut SEQ      delete records SEQ.. and point audit_tip at
 *                               record SEQ-1 (a consistent-looking cut tail)
 *   auditedit META count        print the number of audit records
 *   auditedit META tip SEQ      point audit_tip at SEQ (MAC unchanged)
 *   auditedit META nohead       delete every head and audit record (kv
 *                               "head*", "audit*"): meta/ as a store from
 *                               before store heads had it
 *
 * Record layout (src/audit.c): magic 4 | seq 8 | time 8 | prev 32 | mac 32 |
 * len 4 | text. Exit 0 on success. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>

static MDB_env *env;
static MDB_txn *txn;
static MDB_dbi kv;

static void key(uint64_t seq, char out[32], MDB_val *k)
{
	snprintf(out, 32, "audit/%016" PRIx64, seq);
	k->mv_data = out;
	k->mv_size = strlen(out);
}

static int die(const char *what, int rc)
{
	fprintf(stderr, "auditedit: %s: %s\n", what, mdb_strerror(rc));
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return 1;
}

int main(int argc, char **argv)
{
	char kb[32], kb2[32];
	MDB_val k, v, k2, v2;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: auditedit META flip|del|swap|cut|count ...\n");
		return 2;
	}
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, (size_t)1 << 36)) ||
	    (rc = mdb_env_set_maxdbs(env, 16)) || (rc = mdb_env_open(env, argv[1], 0, 0600)) ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, "kv", 0, &kv)))
		return die(argv[1], rc);
	const char *op = argv[2];
	uint64_t a = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
	uint64_t b = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
	if (!strcmp(op, "count")) {
		uint64_t n = 0;
		for (;; n++) {
			key(n + 1, kb, &k);
			if (mdb_get(txn, kv, &k, &v))
				break;
		}
		printf("%" PRIu64 "\n", n);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return 0;
	} else if (!strcmp(op, "flip")) {
		key(a, kb, &k);
		if ((rc = mdb_get(txn, kv, &k, &v)))
			return die("get", rc);
		unsigned char *c = malloc(v.mv_size);
		memcpy(c, v.mv_data, v.mv_size);
		c[v.mv_size - 1] ^= 0x01;   /* last text byte */
		v.mv_data = c;
		rc = mdb_put(txn, kv, &k, &v, 0);
		free(c);
		if (rc)
			return die("put", rc);
	} else if (!strcmp(op, "del")) {
		key(a, kb, &k);
		if ((rc = mdb_del(txn, kv, &k, NULL)))
			return die("del", rc);
	} else if (!strcmp(op, "swap")) {
		key(a, kb, &k);
		key(b, kb2, &k2);
		if ((rc = mdb_get(txn, kv, &k, &v)) || (rc = mdb_get(txn, kv, &k2, &v2)))
			return die("get", rc);
		void *c = malloc(v.mv_size), *c2 = malloc(v2.mv_size);
		memcpy(c, v.mv_data, v.mv_size);
		memcpy(c2, v2.mv_data, v2.mv_size);
		MDB_val n1 = { v2.mv_size, c2 }, n2 = { v.mv_size, c };
		rc = mdb_put(txn, kv, &k, &n1, 0);
		if (!rc)
			rc = mdb_put(txn, kv, &k2, &n2, 0);
		free(c);
		free(c2);
		if (rc)
			return die("put", rc);
	} else if (!strcmp(op, "cut")) {
		unsigned char tip[40] = { 0 };
		if (a > 1) {
			key(a - 1, kb, &k);
			if ((rc = mdb_get(txn, kv, &k, &v)) || v.mv_size < 88)
				return die("get", rc ? rc : MDB_CORRUPTED);
			for (int i = 0; i < 8; i++)
				tip[i] = (unsigned char)((a - 1) >> (8 * i));
			memcpy(tip + 8, (unsigned char *)v.mv_data + 52, 32);
		}
		for (uint64_t s = a;; s++) {
			key(s, kb, &k);
			if (mdb_del(txn, kv, &k, NULL))
				break;
		}
		k.mv_data = "audit_tip";
		k.mv_size = 9;
		v.mv_data = tip;
		v.mv_size = sizeof(tip);
		if ((rc = mdb_put(txn, kv, &k, &v, 0)))
			return die("put", rc);
	} else if (!strcmp(op, "tip")) {
		k.mv_data = "audit_tip";
		k.mv_size = 9;
		if ((rc = mdb_get(txn, kv, &k, &v)) || v.mv_size != 40)
			return die("get", rc ? rc : MDB_CORRUPTED);
		unsigned char tip[40];
		memcpy(tip, v.mv_data, 40);
		for (int i = 0; i < 8; i++)
			tip[i] = (unsigned char)(a >> (8 * i));
		v.mv_data = tip;
		if ((rc = mdb_put(txn, kv, &k, &v, 0)))
			return die("put", rc);
	} else if (!strcmp(op, "nohead")) {
		MDB_cursor *cur;
		if ((rc = mdb_cursor_open(txn, kv, &cur)))
			return die("cursor", rc);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if ((k.mv_size >= 4 && !memcmp(k.mv_data, "head", 4)) ||
			    (k.mv_size >= 5 && !memcmp(k.mv_data, "audit", 5)))
				if ((rc = mdb_cursor_del(cur, 0)))
					break;
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND)
			return die("nohead", rc);
	} else {
		fprintf(stderr, "auditedit: unknown op %s\n", op);
		return 2;
	}
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		return die("commit", rc);
	}
	mdb_env_sync(env, 1);
	mdb_env_close(env);
	return 0;
}
