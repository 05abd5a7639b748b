/* ns_retention and ns_record, alone: when a bucket default applies to an
 * object, the pending mark and its counter, and the record seal, on a
 * store through the private headers (no mount). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"
#include "config.h"
#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"
#include "../../src/ns_retention.h"
#include "../../src/ns_path.h"

#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_retention, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static uint64_t mkfile(uint64_t parent, const char *name)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_create(N, &ROOT, parent, name, 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	return a.ino;
}

static int set_x(uint64_t ino, const char *name, const char *v)
{
	return ns_setxattr(N, &ROOT, ino, name, v, strlen(v), 0);
}

/* ns_bucket_default for ino, in a read transaction. */
static int due(uint64_t ino, struct meta_node *nd)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_node_get(N, t, ino, nd), 0);
	int rc = ns_bucket_default(N, t, nd);
	meta_txn_abort(t);
	return rc;
}

static uint64_t pending_count(void)
{
	meta_txn *t = NULL;
	uint64_t count = 0;
	size_t len;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	if (meta_kv_get(t, "pending_defaults", &count, sizeof(count), &len))
		count = 0;
	meta_txn_abort(t);
	return count;
}

Test(ns_retention, bucket_default_applies_to_unsealed_objects_only)
{
	struct meta_node nd;
	uint64_t plain = fixture_mkdir(NS_INO_ROOT, "plain");
	uint64_t withdef = fixture_mkdir(NS_INO_ROOT, "withdef");
	uint64_t deep = fixture_mkdir(withdef, "a");
	uint64_t f0 = mkfile(plain, "f");
	/* Made before the default, so its release did not lock it. */
	uint64_t f1 = mkfile(deep, "f");   /* below the bucket, two levels */
	cr_assert_eq(set_x(withdef, "user.worm.default-retention", "GOVERNANCE 1d"), 0);

	cr_assert_eq(due(f0, &nd), 0, "no default in its bucket");
	cr_assert_eq(due(f1, &nd), 1, "a default in its bucket");
	cr_assert_eq(due(deep, &nd), 0, "a directory takes no retention");
	cr_assert_eq(due(withdef, &nd), 0, "nor does the bucket itself");
	/* A sealed object (locked by that default at its release) is done. */
	cr_assert(nd.ino == withdef);
	cr_assert_eq(due(f1, &nd), 1);
	nd.sealed = 1;
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_bucket_default(N, t, &nd), 0);
	meta_txn_abort(t);
}

Test(ns_retention, autocommit_bucket_defers_the_default)
{
	struct meta_node nd;
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "auto");
	cr_assert_eq(set_x(b, "user.worm.default-retention", "GOVERNANCE 1d"), 0);
	cr_assert_eq(set_x(b, "user.worm.autocommit", "1h"), 0);
	uint64_t f = mkfile(b, "f");
	/* With autocommit the default lands after the idle period, not at
	 * the release: nothing is due then. */
	cr_assert_eq(due(f, &nd), 0);
	cr_assert_eq(nd.sealed, 0, "not locked at its release either");
}

Test(ns_retention, pending_mark_counts_each_object_once)
{
	struct meta_node a, b2;
	meta_txn *t = NULL;
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "marks");
	uint64_t fa = mkfile(b, "a"), fb = mkfile(b, "b");
	uint64_t base = pending_count();

	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_get(N, t, fa, &a), 0);
	cr_assert_eq(ns_node_get(N, t, fb, &b2), 0);
	cr_assert_eq(ns_pending_mark(N, t, &a, 1), 0);
	cr_assert_neq(a.flags & META_F_DEFAULT_PENDING, 0);
	cr_assert_eq(ns_pending_mark(N, t, &a, 1), 0);   /* again: no change */
	cr_assert_eq(ns_pending_mark(N, t, &b2, 1), 0);
	cr_assert_eq(ns_node_put(N, t, &a), 0);
	cr_assert_eq(ns_node_put(N, t, &b2), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(pending_count(), base + 2);

	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_get(N, t, fa, &a), 0);
	cr_assert_neq(a.flags & META_F_DEFAULT_PENDING, 0, "the mark is in the record");
	cr_assert_eq(ns_pending_mark(N, t, &a, 0), 0);
	cr_assert_eq(a.flags & META_F_DEFAULT_PENDING, 0);
	cr_assert_eq(ns_pending_mark(N, t, &a, 0), 0);   /* again: no change */
	cr_assert_eq(ns_node_put(N, t, &a), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(pending_count(), base + 1);
}

Test(ns_retention, seal_refuses_a_record_that_failed_authentication)
{
	struct meta_node nd;
	meta_txn *t = NULL;
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "sealed");
	uint64_t f = mkfile(b, "f");

	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_get(N, t, f, &nd), 0);
	cr_assert_eq(nd.flags & NS_F_AUTH_FAILED, 0);
	cr_assert_eq(ns_node_bucket(&nd), b);
	/* An edit behind the MAC's back is seen at the next read ... */
	nd.uid = 4242;
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(ns_node_get(N, t, f, &nd), 0);
	cr_assert_neq(nd.flags & NS_F_AUTH_FAILED, 0);
	struct policy_lock lk;
	ns_node_lock(&nd, &lk);
	cr_assert(lk.auth_failed, "treated as locked");
	/* ... and never laundered by a write through ns. */
	cr_assert_eq(ns_node_seal(N, t, &nd), -EPERM);
	cr_assert_eq(ns_node_put(N, t, &nd), -EPERM);
	meta_txn_abort(t);
}

Test(ns_retention, bucket_field_round_trip_and_entry_name)
{
	struct meta_node nd;
	memset(&nd, 0, sizeof(nd));
	ns_node_set_bucket(&nd, 0x123456789abcull);
	cr_assert_eq(ns_node_bucket(&nd), 0x123456789abcull);
	ns_node_set_bucket(&nd, 7);
	cr_assert_eq(ns_node_bucket(&nd), 7);

	uint64_t b = fixture_mkdir(NS_INO_ROOT, "names");
	uint64_t f = mkfile(b, "the-file");
	char name[64];
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_entry_name(t, b, f, name, sizeof(name)), 1);
	cr_assert_str_eq(name, "the-file");
	cr_assert_eq(ns_entry_name(t, NS_INO_ROOT, f, name, sizeof(name)), 0);
	meta_txn_abort(t);
}

/* Defaults left pending on more objects than one batch of the walk
 * (1,024): each batch resumes after the last inode of the one before, and
 * every object gets its default, each once. */
Test(ns_retention, apply_pending_walks_every_batch)
{
	enum { COUNT = 2 * 1024 + 37 };
	static uint64_t ino[COUNT];
	struct meta_node nd;
	meta_txn *t = NULL;
	char name[32];
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "many");

	for (int i = 0; i < COUNT; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ino[i] = mkfile(b, name);
	}
	cr_assert_eq(set_x(b, "user.worm.default-retention", "GOVERNANCE 1d"), 0);
	uint64_t base = pending_count();
	/* As a daemon stopped before the writers' releases leaves them. */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	for (int i = 0; i < COUNT; i++) {
		cr_assert_eq(ns_node_get(N, t, ino[i], &nd), 0);
		cr_assert_eq(ns_pending_mark(N, t, &nd, 1), 0);
		cr_assert_eq(ns_node_put(N, t, &nd), 0);
	}
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(pending_count(), base + COUNT);

	cr_assert_eq(ns_apply_pending(N), 0);
	cr_assert_eq(pending_count(), 0);
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	for (int i = 0; i < COUNT; i++) {
		cr_assert_eq(ns_node_get(N, t, ino[i], &nd), 0);
		cr_assert(nd.sealed, "object %d got its default", i);
		cr_assert_eq(nd.flags & META_F_DEFAULT_PENDING, 0);
	}
	meta_txn_abort(t);
}
