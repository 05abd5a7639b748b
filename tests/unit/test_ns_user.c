/* ns_user: S3 users in the engine (include/ns.h): add, lookup, list,
 * remove, the rules and their errnos, secrets sealed (never in the store's
 * bytes), records authenticated (a tampered one fails closed), and the
 * key ring work (rewrap, versions in use) covering the secrets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns.h"
#include "config.h"
#include "kms.h"
#include "meta.h"

#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_user, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static struct ns_user mk(const char *name, uint32_t uid)
{
	struct ns_user u;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.uid = uid;
	u.gid = uid + 1;
	return u;
}

static int add_made(const char *name, uint32_t uid, struct ns_user *out, char *secret)
{
	*out = mk(name, uid);
	return ns_user_add(N, &ROOT, out, secret, NS_USER_SECRET_MAX + 1);
}

Test(ns_user, add_makes_a_key_and_lookup_returns_it)
{
	struct ns_user u, got;
	char secret[NS_USER_SECRET_MAX + 1], s2[NS_USER_SECRET_MAX + 1];
	size_t len = 0;

	u = mk("alice", 1000);
	u.groups[0] = 10;
	u.groups[1] = 20;
	u.ngroups = 2;
	u.admin = 1;
	cr_assert_eq(ns_user_add(N, &ROOT, &u, secret, sizeof(secret)), 0);
	cr_assert_eq(strlen(u.access_key_id), 20);
	cr_assert_eq(strncmp(u.access_key_id, "AKIA", 4), 0);
	cr_assert_eq(strspn(u.access_key_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 20);
	cr_assert_eq(strlen(secret), NS_USER_SECRET_MADE);
	cr_assert_eq(strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789+/"), NS_USER_SECRET_MADE);
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, sizeof(s2), &len), 0);
	cr_assert_str_eq(s2, secret);
	cr_assert_eq(len, NS_USER_SECRET_MADE);
	cr_assert_str_eq(got.name, "alice");
	cr_assert_eq(got.uid, 1000);
	cr_assert_eq(got.gid, 1001);
	cr_assert_eq(got.ngroups, 2);
	cr_assert_eq(got.groups[1], 20);
	cr_assert_eq(got.admin, 1);
	cr_assert_eq(got.damaged, 0);
	/* Too small a buffer: -ERANGE, nothing leaked. */
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, 10, &len), -ERANGE);
	cr_assert_eq(ns_user_lookup(N, "AKIAAAAAAAAAAAAAAAAA", &got, s2, sizeof(s2), &len),
		     -ENOENT);
	cr_assert_eq(ns_user_lookup(N, "short", &got, s2, sizeof(s2), &len), -ENOENT);
	cr_assert_eq(ns_user_lookup(N, "AKIA/../../xxxxxxxxxxxx", &got, s2, sizeof(s2), &len),
		     -ENOENT);
	/* Survives a reopen. */
	char err[512] = "";
	ns_close(N);
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, sizeof(s2), &len), 0);
	cr_assert_str_eq(s2, secret);
}

Test(ns_user, import_and_rules)
{
	struct ns_user u = mk("bob", 7), got;
	char secret[NS_USER_SECRET_MAX + 1] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	char s2[NS_USER_SECRET_MAX + 1];

	snprintf(u.access_key_id, sizeof(u.access_key_id), "AKIAIOSFODNN7EXAMPLE");
	cr_assert_eq(ns_user_add(N, &ROOT, &u, secret, sizeof(secret)), 0);
	cr_assert_eq(ns_user_lookup(N, "AKIAIOSFODNN7EXAMPLE", &got, s2, sizeof(s2), NULL), 0);
	cr_assert_str_eq(s2, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	cr_assert_str_eq(got.name, "bob");

	/* Duplicate name (new key) and duplicate key id (new name). */
	struct ns_user d = mk("bob", 8);
	char s3[NS_USER_SECRET_MAX + 1];
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EEXIST);
	cr_assert_eq(d.access_key_id[0], '\0');
	d = mk("carol", 8);
	snprintf(d.access_key_id, sizeof(d.access_key_id), "AKIAIOSFODNN7EXAMPLE");
	snprintf(s3, sizeof(s3), "another-secret");
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EEXIST);
	/* carol was not added half-way */
	cr_assert_eq(ns_user_remove(N, &ROOT, "carol"), -ENOENT);

	/* Names, key ids, secrets, groups. */
	const char *bad_names[] = { "", "has space", "slash/name", "tab\t",
		"x12345678901234567890123456789012345678901234567890123456789012345" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		d = mk("ok", 1);
		snprintf(d.name, sizeof(d.name), "%s", bad_names[i]);
		if (strlen(bad_names[i]) > NS_USER_NAME_MAX)   /* fill it unterminated-long */
			memset(d.name, 'x', sizeof(d.name));
		cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL, "%s",
			     bad_names[i]);
	}
	d = mk("dave", 9);
	snprintf(d.access_key_id, sizeof(d.access_key_id), "SHORTKEY");
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL);
	snprintf(d.access_key_id, sizeof(d.access_key_id), "AKIA_WITH_UNDERSCORE");
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL);
	snprintf(d.access_key_id, sizeof(d.access_key_id), "AKIADAVEDAVEDAVE1234");
	snprintf(s3, sizeof(s3), "short");
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL);
	snprintf(s3, sizeof(s3), "has a space in it");
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL);
	snprintf(s3, sizeof(s3), "fine-secret-123");
	d.ngroups = NS_USER_GROUPS_MAX + 1;
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), -EINVAL);
	d.ngroups = NS_USER_GROUPS_MAX;
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, sizeof(s3)), 0);
	/* A made secret needs room for 40 characters. */
	d = mk("erin", 10);
	cr_assert_eq(ns_user_add(N, &ROOT, &d, s3, NS_USER_SECRET_MADE), -ERANGE);
}

struct seen {
	char names[8][NS_USER_NAME_MAX + 1];
	int damaged[8];
	int n;
};

static int seen_cb(void *arg, const struct ns_user *u)
{
	struct seen *s = arg;
	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", u->name);
		s->damaged[s->n] = u->damaged;
	}
	s->n++;
	return 0;
}

Test(ns_user, list_and_remove)
{
	struct ns_user u, got;
	char secret[NS_USER_SECRET_MAX + 1], s2[NS_USER_SECRET_MAX + 1];
	char keyb[NS_USER_KEYID_MAX + 1];
	struct seen s = { 0 };

	cr_assert_eq(add_made("zed", 1, &u, secret), 0);
	cr_assert_eq(add_made("amy", 2, &u, secret), 0);
	snprintf(keyb, sizeof(keyb), "%s", u.access_key_id);
	cr_assert_eq(add_made("mia", 3, &u, secret), 0);
	cr_assert_eq(ns_user_list(N, seen_cb, &s), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.names[0], "amy");
	cr_assert_str_eq(s.names[1], "mia");
	cr_assert_str_eq(s.names[2], "zed");
	cr_assert_eq(ns_user_remove(N, &ROOT, "amy"), 0);
	cr_assert_eq(ns_user_remove(N, &ROOT, "amy"), -ENOENT);
	cr_assert_eq(ns_user_remove(N, &ROOT, "bad name"), -EINVAL);
	cr_assert_eq(ns_user_lookup(N, keyb, &got, s2, sizeof(s2), NULL), -ENOENT);
	/* The name can be used again, with a new key. */
	cr_assert_eq(add_made("amy", 2, &u, secret), 0);
	cr_assert_str_neq(u.access_key_id, keyb);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(ns_user_list(N, seen_cb, &s), 0);
	cr_assert_eq(s.n, 3);
}

/* Every byte of the store's files, searched for the secret. */
static int store_holds(const char *needle)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "grep -rqaF -- '%s' '%s'", needle, spath);
	return system(cmd) == 0;
}

Test(ns_user, secret_never_in_the_store)
{
	struct ns_user u;
	char secret[NS_USER_SECRET_MAX + 1];
	char err[512] = "";

	cr_assert_eq(add_made("sam", 5, &u, secret), 0);
	ns_close(N);
	N = NULL;
	cr_assert(store_holds(u.access_key_id), "the key id is stored (the check can hit)");
	cr_assert(!store_holds(secret), "the secret is in the store's bytes");
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

/* Flip one byte of kv record key with the store closed, re-seal the state
 * digest (an operator's repair), reopen. */
static void tamper(const char *key, size_t at)
{
	char err[512] = "", path[400];
	uint8_t buf[2048];
	size_t len = 0;
	meta_env *me = NULL;
	meta_txn *t = NULL;
	ns *o = NULL;

	ns_close(N);
	N = NULL;
	snprintf(path, sizeof(path), "%s/meta", spath);
	cr_assert_eq(meta_open(path, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_kv_get(t, key, buf, sizeof(buf), &len), 0, "%s", key);
	cr_assert(at < len);
	buf[at] ^= 1;
	cr_assert_eq(meta_kv_put(t, key, buf, len), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_repair_digest(o, 0), 1);
	ns_close(o);
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

Test(ns_user, tampered_record_fails_closed)
{
	struct ns_user u, v, got;
	char secret[NS_USER_SECRET_MAX + 1], s2[NS_USER_SECRET_MAX + 1], key[160];
	struct seen s = { 0 };

	cr_assert_eq(add_made("tim", 1000, &u, secret), 0);
	cr_assert_eq(add_made("ann", 1001, &v, secret), 0);
	/* uid 1000 -> 1001 (byte 4 is the low byte of uid). */
	tamper("s3user/tim", 4);
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, sizeof(s2), NULL), -EIO);
	cr_assert_eq(s2[0], '\0');
	cr_assert_eq(ns_user_lookup(N, v.access_key_id, &got, s2, sizeof(s2), NULL), 0);
	cr_assert_eq(ns_user_list(N, seen_cb, &s), 0);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.names[1], "tim");
	cr_assert_eq(s.damaged[1], 1);
	cr_assert_eq(s.damaged[0], 0);
	/* verify reports it. */
	cr_assert_eq(ns_verify(N, NULL, NULL, NULL), 1);
	/* A damaged user keeps its name and key taken, and can be removed. */
	struct ns_user d = mk("tim", 5);
	cr_assert_eq(ns_user_add(N, &ROOT, &d, secret, sizeof(secret)), -EEXIST);
	cr_assert_eq(ns_user_remove(N, &ROOT, "tim"), 0);
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, sizeof(s2), NULL), -ENOENT);

	/* The key index pointed at another user: refused too. */
	snprintf(key, sizeof(key), "s3key/%s", v.access_key_id);
	cr_assert_eq(ns_verify(N, NULL, NULL, NULL), 0);
	tamper(key, 0);
	cr_assert_eq(ns_user_lookup(N, v.access_key_id, &got, s2, sizeof(s2), NULL), -EIO);
	cr_assert_eq(ns_verify(N, NULL, NULL, NULL), 1);
}

Test(ns_user, rewrap_reseals_secrets_and_versions_count_them)
{
	struct ns_user u, got;
	char secret[NS_USER_SECRET_MAX + 1], s2[NS_USER_SECRET_MAX + 1], err[512] = "";
	uint32_t lo = 0, hi = 0, ver = 0;

	cr_assert_eq(add_made("kim", 1, &u, secret), 0);
	cr_assert_eq(ns_key_versions_in_use(N, &lo, &hi), 0);
	cr_assert_eq(lo, 1);
	cr_assert_eq(hi, 1);
	ns_close(N);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kms_rotate(ns_kms(N), &ver, 0), 0);
	cr_assert_eq(ver, 2);
	cr_assert_eq(ns_rewrap(N, NULL, NULL), 1);
	cr_assert_eq(ns_key_versions_in_use(N, &lo, &hi), 0);
	cr_assert_eq(lo, 2);
	cr_assert_eq(hi, 2);
	cr_assert_eq(kms_remove_version(ns_kms(N), 1, 0), 0);
	cr_assert_eq(ns_user_lookup(N, u.access_key_id, &got, s2, sizeof(s2), NULL), 0);
	cr_assert_str_eq(s2, secret);
	cr_assert_eq(ns_rewrap(N, NULL, NULL), 0);
}
