/* Unit tests for the metadata state digest (src/meta_digest.c): the
 * set-hash's group (add, remove, order independence) and its upkeep in
 * write transactions: kept equal to a full scan through every put and
 * delete, untouched by an abort, and different once a record is put back
 * from an older copy, deleted or added behind meta's back (LMDB directly,
 * as root editing a stopped store would). */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "meta.h"
#include "fixture.h"

static meta_env *env;
static uint8_t key[32];

static void reopen(void)
{
	char err[256] = "";
	if (env)
		meta_close(env);
	cr_assert_eq(meta_open(dir, 0, &env, err, sizeof(err)), 0, "%s", err);
	meta_set_auth(env, fixture_mac, key, 1);
	meta_set_digest(env, fixture_hash, key);
}

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
	memset(key, 0x5a, sizeof(key));
	strcpy(dir, "/tmp/test_mdg.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	env = NULL;
	reopen();
}

static void teardown(void)
{
	meta_close(env);
	env = NULL;
	fixture_rmtree(dir);
}

TestSuite(meta_digest, .init = setup, .fini = teardown);

static meta_txn *wbegin(void)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 0, &t), 0);
	return t;
}

/* kept: the stored sum; now: a full scan. */
static void sums(uint8_t kept[32], uint8_t now[32], int *has)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	int rc = meta_digest_get(t, kept);
	*has = rc == 0;
	cr_assert(rc == 0 || rc == -ENOENT, "%d", rc);
	cr_assert_eq(meta_digest_scan(t, now, NULL), 0);
	meta_txn_abort(t);
}

static int intact(void)
{
	uint8_t kept[32], now[32];
	int has;
	sums(kept, now, &has);
	cr_assert(has, "a digest is kept");
	return memcmp(kept, now, 32) == 0;
}

static void seal(void)
{
	meta_txn *t = wbegin();
	cr_assert_eq(meta_digest_seal(t, NULL), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

static struct meta_node node(uint64_t ino, int64_t until)
{
	struct meta_node n;
	memset(&n, 0, sizeof(n));
	n.version = META_NODE_VERSION;
	n.ino = ino;
	n.parent = META_ROOT_INO;
	n.mode = 0100644;
	n.nlink = 1;
	n.retain_until = until;
	return n;
}

Test(meta_digest, prepared_key_gives_the_same_mac)
{
	uint8_t a[32], b[32], c[32], msg[300];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	wcrypto_mackey *k = wcrypto_mackey_new(key);
	cr_assert_not_null(k);
	cr_assert_eq(wcrypto_mac(a, key, msg, sizeof(msg)), 0);
	cr_assert_eq(wcrypto_mac2(b, key, msg, 100, msg + 100, 200), 0);
	cr_assert_eq(wcrypto_mac2_k(c, k, msg, 7, msg + 7, 293), 0);
	cr_assert_eq(memcmp(a, b, 32), 0);
	cr_assert_eq(memcmp(a, c, 32), 0);
	cr_assert_eq(wcrypto_mac2_k(c, k, msg, 7, msg + 7, 292), 0);
	cr_assert_neq(memcmp(a, c, 32), 0);
	wcrypto_mackey_free(k);
}

Test(meta_digest, group_add_remove_and_order)
{
	uint8_t a[32], b[32], s1[32] = { 0 }, s2[32] = { 0 }, zero[32] = { 0 };

	memset(a, 0xff, sizeof(a));     /* carries through every byte */
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(i * 37 + 1);
	meta_digest_add(s1, a);
	meta_digest_add(s1, b);
	meta_digest_add(s2, b);
	meta_digest_add(s2, a);
	cr_assert_eq(memcmp(s1, s2, 32), 0, "order does not matter");
	meta_digest_sub(s1, a);
	meta_digest_sub(s1, b);
	cr_assert_eq(memcmp(s1, zero, 32), 0, "removing what was added gives back the start");
	meta_digest_add(s2, a);
	meta_digest_sub(s2, a);
	meta_digest_sub(s2, b);
	cr_assert_eq(memcmp(s2, a, 32), 0);
	/* A multiset, not a XOR: adding a value twice is not adding none. */
	uint8_t s3[32] = { 0 };
	meta_digest_add(s3, b);
	meta_digest_add(s3, b);
	cr_assert_neq(memcmp(s3, zero, 32), 0);
}

/* The byte-by-byte sum of the first version: stores sealed then must
 * still match, so the 64-bit limb version gives the same bytes. */
static void ref_add(uint8_t *sum, const uint8_t *h)
{
	unsigned carry = 0;
	for (int i = 0; i < 32; i++) {
		unsigned s = (unsigned)sum[i] + h[i] + carry;
		sum[i] = (uint8_t)s;
		carry = s >> 8;
	}
}

static void ref_sub(uint8_t *sum, const uint8_t *h)
{
	unsigned borrow = 0;
	for (int i = 0; i < 32; i++) {
		unsigned d = (unsigned)sum[i] - h[i] - borrow;
		sum[i] = (uint8_t)d;
		borrow = (d >> 8) & 1;
	}
}

Test(meta_digest, limb_sum_equals_the_bytewise_sum)
{
	uint8_t s[32] = { 0 }, r[32] = { 0 }, h[32];
	uint32_t x = 12345;

	for (int round = 0; round < 4000; round++) {
		for (int i = 0; i < 32; i++) {
			x = x * 1103515245u + 12345u;
			/* Runs of 0xff and 0x00 make carries and borrows cross
			 * every limb boundary. */
			h[i] = (round & 3) == 0 ? 0xff : (round & 3) == 1 ? 0 : (uint8_t)(x >> 16);
		}
		if ((round & 7) == 5)
			h[8] = h[16] = h[24] = 1;
		if (round % 3) {
			meta_digest_add(s, h);
			ref_add(r, h);
		} else {
			meta_digest_sub(s, h);
			ref_sub(r, h);
		}
		cr_assert_eq(memcmp(s, r, 32), 0, "round %d", round);
	}
}

Test(meta_digest, kept_through_puts_and_deletes_and_order_independent)
{
	uint8_t kept[32], now[32], first[32];
	int has;
	meta_txn *t;

	seal();
	t = wbegin();
	struct meta_node n1 = node(20, 100), n2 = node(21, 200);
	cr_assert_eq(meta_node_add(t, &n1), 0);
	cr_assert_eq(meta_node_add(t, &n2), 0);
	cr_assert_eq(meta_dirent_add(t, META_ROOT_INO, "x", 20), -ENOENT, "no root yet");
	struct meta_node root = node(META_ROOT_INO, 0);
	root.mode = 040755;
	cr_assert_eq(meta_node_put(t, &root), 0);
	cr_assert_eq(meta_dirent_add(t, META_ROOT_INO, "a", 20), 0);
	cr_assert_eq(meta_dirent_add(t, META_ROOT_INO, "b", 21), 0);
	cr_assert_eq(meta_due_set(t, 20, 5000), 0);
	cr_assert_eq(meta_xattr_set(t, 20, "user.k", "v", 1, 0), 0);
	cr_assert_eq(meta_link_put(t, 21, "target", 6), 0);
	uint64_t ino;
	cr_assert_eq(meta_ino_alloc(t, &ino), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	sums(first, now, &has);

	/* Updates and deletes in another transaction. */
	t = wbegin();
	n1.retain_until = 300;
	cr_assert_eq(meta_node_put(t, &n1), 0);
	cr_assert_eq(meta_due_set(t, 20, 6000), 0);
	cr_assert_eq(meta_dirent_del(t, META_ROOT_INO, "b"), 0);
	cr_assert_eq(meta_node_del(t, 21), 0);
	cr_assert_eq(meta_xattr_del(t, 20, "user.k"), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	sums(kept, now, &has);
	cr_assert_neq(memcmp(kept, first, 32), 0);

	/* Undo the changes in another order: back to the same sum. */
	t = wbegin();
	cr_assert_eq(meta_xattr_set(t, 20, "user.k", "v", 1, 0), 0);
	cr_assert_eq(meta_node_add(t, &n2), 0);
	cr_assert_eq(meta_link_put(t, 21, "target", 6), 0);
	cr_assert_eq(meta_due_set(t, 20, 5000), 0);
	n1.retain_until = 100;
	cr_assert_eq(meta_node_put(t, &n1), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	/* "b" came back with another cookie and the root's cookie counter
	 * moved on: the same records, not the same values. */
	sums(kept, now, &has);
	cr_assert_neq(memcmp(kept, first, 32), 0);

	/* An aborted transaction changes nothing. */
	sums(first, now, &has);
	t = wbegin();
	cr_assert_eq(meta_node_del(t, 20), 0);
	meta_txn_abort(t);
	sums(kept, now, &has);
	cr_assert_eq(memcmp(kept, first, 32), 0);
	cr_assert(intact());
}

/* The counter's and the digest record's bytes, once written or checked,
 * are not checked again in later write transactions: after an aborted
 * transaction the store holds the older bytes, which must be checked
 * (and pass), not taken for the newer ones. */
Test(meta_digest, known_records_after_an_aborted_transaction)
{
	uint64_t a, b, c, d;
	uint8_t s1[32], s2[32];
	meta_txn *t;

	seal();
	t = wbegin();
	cr_assert_eq(meta_ino_alloc(t, &a), 0);
	struct meta_node n1 = node(a, 0);
	cr_assert_eq(meta_node_add(t, &n1), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	t = wbegin();
	cr_assert_eq(meta_ino_alloc(t, &b), 0);
	cr_assert_eq(b, a + 1);
	cr_assert_eq(meta_digest_get(t, s1), 0);
	meta_txn_abort(t);               /* the counter on disk: b again */
	t = wbegin();
	cr_assert_eq(meta_ino_alloc(t, &c), 0);
	cr_assert_eq(c, b, "the aborted allocation is handed out again");
	cr_assert_eq(meta_ino_alloc(t, &d), 0);
	cr_assert_eq(d, c + 1);
	struct meta_node n2 = node(c, 0);
	cr_assert_eq(meta_node_add(t, &n2), 0);
	cr_assert_eq(meta_digest_get(t, s2), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	t = wbegin();
	cr_assert_eq(meta_ino_alloc(t, &a), 0);
	cr_assert_eq(a, d + 1);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
}

/* Put a raw value (key, value) in database name: what an offline edit does. */
static void raw(const char *name, const void *k, size_t kl, const void *v, size_t vl, int del)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val mk = { kl, (void *)k }, mv = { vl, (void *)v };

	meta_close(env);
	env = NULL;
	cr_assert_eq(mdb_env_create(&e), 0);
	cr_assert_eq(mdb_env_set_maxdbs(e, 16), 0);
	cr_assert_eq(mdb_env_set_mapsize(e, (size_t)1 << 30), 0);
	cr_assert_eq(mdb_env_open(e, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(e, NULL, 0, &t), 0);
	cr_assert_eq(mdb_dbi_open(t, name, 0, &d), 0);
	if (del)
		cr_assert_eq(mdb_del(t, d, &mk, NULL), 0);
	else
		cr_assert_eq(mdb_put(t, d, &mk, &mv, 0), 0);
	cr_assert_eq(mdb_txn_commit(t), 0);
	mdb_env_close(e);
	reopen();
}

static void raw_get(const char *name, const void *k, size_t kl, void *v, size_t *vl)
{
	MDB_env *e;
	MDB_txn *t;
	MDB_dbi d;
	MDB_val mk = { kl, (void *)k }, mv;

	meta_close(env);
	env = NULL;
	cr_assert_eq(mdb_env_create(&e), 0);
	cr_assert_eq(mdb_env_set_maxdbs(e, 16), 0);
	cr_assert_eq(mdb_env_set_mapsize(e, (size_t)1 << 30), 0);
	cr_assert_eq(mdb_env_open(e, dir, MDB_RDONLY, 0600), 0);
	cr_assert_eq(mdb_txn_begin(e, NULL, MDB_RDONLY, &t), 0);
	cr_assert_eq(mdb_dbi_open(t, name, 0, &d), 0);
	cr_assert_eq(mdb_get(t, d, &mk, &mv), 0);
	memcpy(v, mv.mv_data, mv.mv_size);
	*vl = mv.mv_size;
	mdb_txn_abort(t);
	mdb_env_close(e);
	reopen();
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

Test(meta_digest, older_record_put_back_alone_is_a_mismatch)
{
	uint8_t k[8], old[512];
	size_t ol = 0;
	meta_txn *t;

	seal();
	t = wbegin();
	struct meta_node n1 = node(20, 0);
	cr_assert_eq(meta_node_add(t, &n1), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	be64(k, 20);
	raw_get("nodes", k, 8, old, &ol);          /* the copy taken before the lock */
	t = wbegin();
	n1.retain_until = 4000000000;
	n1.lock_mode = 2;
	cr_assert_eq(meta_node_put(t, &n1), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	raw("nodes", k, 8, old, ol, 0);            /* put back alone */
	cr_assert_not(intact(), "an older authentic record changes the digest");
	raw("nodes", k, 8, NULL, 0, 1);            /* or deleted */
	cr_assert_not(intact());
}

Test(meta_digest, due_entry_deleted_or_edited_is_a_mismatch)
{
	uint8_t k[16], ik[8], v[8];
	meta_txn *t;

	seal();
	t = wbegin();
	cr_assert_eq(meta_due_set(t, 20, 5000), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	be64(ik, 20);
	be64(v, 9000);
	raw("dueino", ik, 8, v, 8, 0);             /* its deadline pushed back */
	cr_assert_not(intact());
	be64(v, 5000);
	raw("dueino", ik, 8, v, 8, 0);             /* as it was: intact again */
	cr_assert(intact());
	be64(k, 5000);
	be64(k + 8, 20);
	raw("due", k, 16, NULL, 0, 1);             /* the entry deleted */
	cr_assert_not(intact());
}

Test(meta_digest, digest_record_forged_or_without_mac)
{
	uint8_t v[64], zero[32] = { 0 };
	meta_txn *t;

	seal();
	memset(v, 0, sizeof(v));
	raw("kv", "state_digest", 12, v, 64, 0);
	t = NULL;
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_digest_get(t, v), -EIO);
	meta_txn_abort(t);
	raw("kv", "state_digest", 12, zero, 32, 0);   /* a legacy-looking one */
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_digest_get(t, v), -EIO);
	meta_txn_abort(t);
}

Test(meta_digest, store_without_digest_keeps_none_until_sealed)
{
	uint8_t s[32];
	meta_txn *t = wbegin();
	struct meta_node n1 = node(20, 0);
	cr_assert_eq(meta_node_add(t, &n1), 0);
	cr_assert_eq(meta_digest_get(t, s), -ENOENT);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_digest_get(t, s), -ENOENT);
	meta_txn_abort(t);
	seal();
	cr_assert(intact());
}
