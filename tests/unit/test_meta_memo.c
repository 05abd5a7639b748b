/* Unit tests for meta's two memos (src/meta_digest_memo.c: the state
 * digest's H of values recently put; src/meta_auth_memo.c: record MACs
 * last found right). Each must answer exactly what the computation would:
 * a hit needs equal bytes (database, key, value; message and MAC), an
 * aborted transaction leaves nothing that is taken for the bytes on disk,
 * and another key (meta_set_digest, meta_set_auth) drops every entry. */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "meta.h"
#include "fixture.h"
#include "../../src/meta_priv.h"

static meta_env *env;
static uint8_t dkey[32], akey[32];

static void setup(void)
{
	char err[256] = "";
	cr_assert_eq(wcrypto_init(), 0);
	memset(dkey, 0x5a, sizeof(dkey));
	memset(akey, 0x3c, sizeof(akey));
	strcpy(dir, "/tmp/test_mmemo.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(meta_open(dir, 0, &env, err, sizeof(err)), 0, "%s", err);
	meta_set_auth(env, fixture_mac, akey, 1);
	meta_set_digest(env, fixture_hash, dkey);
}

static void teardown(void)
{
	meta_close(env);
	env = NULL;
	fixture_rmtree(dir);
}

TestSuite(meta_memo, .init = setup, .fini = teardown);

static meta_txn *wbegin(void)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 0, &t), 0);
	return t;
}

static void seal(void)
{
	meta_txn *t = wbegin();
	cr_assert_eq(meta_digest_seal(t, NULL), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* The kept sum equals a full scan. */
static int intact(void)
{
	uint8_t kept[32], now[32];
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_digest_get(t, kept), 0);
	cr_assert_eq(meta_digest_scan(t, now, NULL), 0);
	meta_txn_abort(t);
	return memcmp(kept, now, 32) == 0;
}

static struct meta_node node(uint64_t ino, uint32_t mode)
{
	struct meta_node n;
	memset(&n, 0, sizeof(n));
	n.version = META_NODE_VERSION;
	n.ino = ino;
	n.parent = META_ROOT_INO;
	n.mode = mode;
	n.nlink = 1;
	return n;
}

static void put_node(uint64_t ino, uint32_t mode, int commit)
{
	meta_txn *t = wbegin();
	struct meta_node n = node(ino, mode);
	cr_assert_eq(meta_node_put(t, &n), 0);
	if (commit)
		cr_assert_eq(meta_txn_commit(t), 0);
	else
		meta_txn_abort(t);
}

Test(meta_memo, digest_memo_needs_the_same_db_key_and_bytes)
{
	uint8_t kb[8] = { 0, 0, 0, 0, 0, 0, 0, 7 }, kb2[8] = { 0, 0, 0, 0, 0, 0, 0, 8 };
	uint8_t v1[40], v2[40], h[32], h1[32], big[DG_MEMO_VMAX + 1];
	MDB_val k = { 8, kb }, k2 = { 8, kb2 }, a = { sizeof(v1), v1 }, b = { sizeof(v2), v2 };
	MDB_val shorter = { sizeof(v1) - 1, v1 }, vbig = { sizeof(big), big };

	memset(v1, 1, sizeof(v1));
	memcpy(v2, v1, sizeof(v2));
	v2[39] ^= 1;   /* one bit in the last byte */
	memset(h1, 0xab, sizeof(h1));
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &a, h), 0, "empty");
	dg_memo_put(env, DB_NODES, &k, &a, h1);
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &a, h), 1);
	cr_assert_eq(memcmp(h, h1, 32), 0);
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &b, h), 0, "other bytes");
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &shorter, h), 0, "a prefix");
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k2, &a, h), 0, "other key");
	cr_assert_eq(dg_memo_get(env, DB_KV, &k, &a, h), 0, "other database");
	dg_memo_forget(env, DB_NODES, &k);
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &a, h), 0, "forgotten");
	/* Too big to keep: not kept, and the older entry of the key is not
	 * taken for it either. */
	dg_memo_put(env, DB_NODES, &k, &a, h1);
	memset(big, 1, sizeof(big));
	dg_memo_put(env, DB_NODES, &k, &vbig, h1);
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &vbig, h), 0);
	/* Another hash function (key): nothing memoized stays. */
	dg_memo_put(env, DB_NODES, &k, &a, h1);
	meta_set_digest(env, fixture_hash, dkey);
	cr_assert_eq(dg_memo_get(env, DB_NODES, &k, &a, h), 0);
}

Test(meta_memo, aborted_put_is_not_taken_for_the_bytes_on_disk)
{
	seal();
	put_node(100, 0100644, 1);
	cr_assert(intact());
	/* The memo now holds the aborted value's H (the crash between the put
	 * and the commit: nothing applied); the next put replaces the
	 * committed bytes and must subtract their H, not the memo's. */
	put_node(100, 0100600, 0);
	cr_assert(intact());
	put_node(100, 0100400, 1);
	cr_assert(intact());
	/* Written twice in one transaction, then deleted in the next. */
	meta_txn *t = wbegin();
	struct meta_node n = node(100, 0100640);
	cr_assert_eq(meta_node_put(t, &n), 0);
	n.mode = 0100444;
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	t = wbegin();
	cr_assert_eq(meta_node_del(t, 100), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert(intact());
	/* Deleted in an aborted transaction, then put again. */
	put_node(101, 0100644, 1);
	t = wbegin();
	cr_assert_eq(meta_node_del(t, 101), 0);
	meta_txn_abort(t);
	put_node(101, 0100640, 1);
	cr_assert(intact());
}

Test(meta_memo, another_digest_key_is_not_served_old_hashes)
{
	seal();
	put_node(200, 0100644, 1);
	/* Re-keyed: sealed anew under the new H; the record's old H (of the
	 * bytes still on disk) must not be subtracted at the next put. */
	dkey[0] ^= 0xff;
	meta_set_digest(env, fixture_hash, dkey);
	seal();
	put_node(200, 0100600, 1);
	cr_assert(intact());
}

Test(meta_memo, auth_memo_needs_the_same_message_and_mac)
{
	struct auth_memo *m = auth_memo_new();
	uint8_t msg[AUTH_MEMO_MSG_MAX + 1], mac[32], mac2[32];

	cr_assert_not_null(m);
	memset(msg, 'x', sizeof(msg));
	memset(mac, 1, sizeof(mac));
	memcpy(mac2, mac, sizeof(mac2));
	mac2[31] ^= 0x80;
	cr_assert_eq(auth_memo_known(m, msg, 30, mac), 0);
	auth_memo_note(m, msg, 30, mac);
	cr_assert_eq(auth_memo_known(m, msg, 30, mac), 1);
	cr_assert_eq(auth_memo_known(m, msg, 30, mac2), 0, "other MAC");
	cr_assert_eq(auth_memo_known(m, msg, 29, mac), 0, "a prefix");
	msg[5] = 'y';
	cr_assert_eq(auth_memo_known(m, msg, 30, mac), 0, "other message");
	msg[5] = 'x';
	auth_memo_note(m, msg, sizeof(msg), mac);   /* too long: not kept */
	cr_assert_eq(auth_memo_known(m, msg, sizeof(msg), mac), 0);
	auth_memo_clear(m);
	cr_assert_eq(auth_memo_known(m, msg, 30, mac), 0, "cleared");
	auth_memo_free(m);
}

Test(meta_memo, another_record_key_checks_entries_again)
{
	uint64_t ino = 0;
	meta_txn *t = wbegin();
	struct meta_node root = node(META_ROOT_INO, 040755);
	root.parent = META_ROOT_INO;
	cr_assert_eq(meta_node_put(t, &root), 0);
	cr_assert_eq(meta_dirent_add(t, META_ROOT_INO, "a", 300), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_dirent_get(t, META_ROOT_INO, "a", &ino), 0);
	cr_assert_eq(ino, 300);
	meta_txn_abort(t);
	/* The entry's MAC was made under the old key: under another one it
	 * fails, memo or not. */
	akey[0] ^= 0xff;
	meta_set_auth(env, fixture_mac, akey, 1);
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	cr_assert_eq(meta_dirent_get(t, META_ROOT_INO, "a", &ino), -EIO);
	meta_txn_abort(t);
}
