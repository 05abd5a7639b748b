/* ns_locktrail and the re-seal of the state digest, on a store through the
 * private headers (no mount): an object holding less lock than the audit
 * trail's latest change of it (also an extension undone), a lock in force
 * that no object holds any more, the legal ways for a locked object to go
 * (expiry, hold removed, a GOVERNANCE bypass), unnamed and re-attached
 * objects, records from before ino= and until=; a re-seal in the audit
 * trail; a downgrade of the authenticated-records flag refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <lmdb.h>

#include "ns.h"
#include "config.h"
#include "crypto.h"
#include "trail.h"
#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"
#include "../../src/ns_locktrail.h"
#include "../../src/meta_priv.h"
#include "clock.h"

#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_locktrail, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static uint64_t mkfile(uint64_t parent, const char *name)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_create(N, &ROOT, parent, name, 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "content", 7, 0), 7);
	cr_assert_eq(ns_release(N, h), 0);
	return a.ino;
}

static int set_x(uint64_t ino, const char *name, const char *v)
{
	return ns_setxattr(N, &ROOT, ino, name, v, strlen(v), 0);
}

static struct meta_node node_of(uint64_t ino)
{
	struct meta_node nd;
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_node_get(N, t, ino, &nd), 0);
	meta_txn_abort(t);
	return nd;
}

struct seen {
	int n;
	char what[16][600];
};

static void seen_cb(void *arg, const char *path, const char *why)
{
	struct seen *s = arg;
	if (s->n < 16)
		snprintf(s->what[s->n++], sizeof(s->what[0]), "%s: %s", path, why);
}

static int has(const struct seen *s, const char *what)
{
	for (int i = 0; i < s->n; i++)
		if (strstr(s->what[i], what))
			return 1;
	return 0;
}

/* The check on the state as committed: older count, *missing. */
static long check(struct seen *s, long *missing)
{
	meta_txn *t = NULL;
	memset(s, 0, sizeof(*s));
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	long r = ns_lock_trail_check(N, t, seen_cb, s, missing);
	meta_txn_abort(t);
	cr_assert_geq(r, 0, "%ld", r);
	return r;
}

/* Offline deletion of an object: its node and its entry, the digest kept
 * along (as after an operator's re-seal). */
static void delete_offline(uint64_t parent, const char *name, uint64_t ino)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_dirent_del(t, parent, name), 0);
	cr_assert_eq(meta_node_del(t, ino), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* As root with the store's keys would: the record authentic. */
static void node_put_mac(struct meta_node *nd)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_put(N, t, nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

static void node_put(const struct meta_node *nd)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_put(t, nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* A node put back from before a retention *extension*: it still runs past
 * the change's time, but not to the date the change set. */
Test(ns_locktrail, extension_undone_is_named)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "ext");
	uint64_t f = mkfile(b, "f"), h = mkfile(b, "held");
	struct seen s;
	long miss = -1;

	cr_assert_eq(set_x(f, "user.worm.retention", "COMPLIANCE +365d"), 0);
	cr_assert_eq(set_x(h, "user.worm.legal-hold", "on"), 0);   /* lower case */
	struct meta_node before = node_of(f);
	cr_assert_eq(set_x(f, "user.worm.retention", "COMPLIANCE +730d"), 0);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 0, "%s", s.what[0]);
	node_put(&before);
	cr_assert_eq(check(&s, &miss), 1);
	cr_assert(has(&s, "ext/f: older lock state than the audit trail (retention date "),
		  "%s", s.what[0]);
	cr_assert_eq(miss, 0);
}

/* A lock in force whose object is gone; and every legal way to go. */
Test(ns_locktrail, locked_objects_deleted_offline_are_named)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "gone");
	uint64_t d = fixture_mkdir(b, "sub");
	uint64_t hf = mkfile(d, "held"), cf = mkfile(b, "comp");
	uint64_t q = mkfile(b, "a ino=5"), off = mkfile(b, "off"), gov = mkfile(b, "gov");
	struct seen s;
	long miss = 0;

	cr_assert_eq(set_x(hf, "user.worm.legal-hold", "ON"), 0);
	cr_assert_eq(set_x(cf, "user.worm.retention", "COMPLIANCE +2d"), 0);
	cr_assert_eq(set_x(q, "user.worm.legal-hold", "ON"), 0);
	/* Legal: a hold set and removed, a GOVERNANCE retention removed by a
	 * bypass principal (root), then deleted through the namespace. */
	cr_assert_eq(set_x(off, "user.worm.legal-hold", "ON"), 0);
	cr_assert_eq(set_x(off, "user.worm.legal-hold", "OFF"), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "off"), 0);
	cr_assert_eq(set_x(gov, "user.worm.retention", "GOVERNANCE +2d"), 0);
	cr_assert_eq(ns_removexattr(N, &ROOT, gov, "user.worm.retention"), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "gov"), 0);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 0, "%s", s.what[0]);

	delete_offline(d, "held", hf);
	delete_offline(b, "comp", cf);
	delete_offline(b, "a ino=5", q);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 3, "%ld: %s | %s", miss, s.what[0], s.what[1]);
	cr_assert(has(&s, "gone/sub/held: the audit trail records a lock in force on it (legal "
		      "hold ON, audit record "), "%s", s.what[0]);
	cr_assert(has(&s, "gone/comp: the audit trail records a lock in force on it (COMPLIANCE "
		      "until "), "%s", s.what[1]);
	cr_assert(has(&s, "gone/a ino=5: the audit trail records a lock in force on it"),
		  "%s", s.what[2]);
}

/* Expired: gone is allowed. The compliance clock moved past the date. */
Test(ns_locktrail, expired_object_may_be_gone)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "exp");
	uint64_t f = mkfile(b, "f");
	struct seen s;
	long miss = 0;

	cr_assert_eq(set_x(f, "user.worm.retention", "GOVERNANCE +1h"), 0);
	delete_offline(b, "f", f);
	check(&s, &miss);
	cr_assert_eq(miss, 1, "still in force: named");
	wclock_init(&N->clk, ns_clock_now(N) + 7200);
	check(&s, &miss);
	cr_assert_eq(miss, 0, "expired: %s", s.what[0]);
}

/* Unnamed (its entry deleted) or re-attached: the object is there, found
 * by its inode, whatever its path. */
Test(ns_locktrail, unnamed_and_reattached_objects_hold_their_lock)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "una");
	uint64_t f = mkfile(b, "f"), g = mkfile(b, "g");
	struct seen s;
	long miss = 0;
	char path[256];
	meta_txn *t = NULL;

	cr_assert_eq(set_x(f, "user.worm.legal-hold", "ON"), 0);
	cr_assert_eq(set_x(g, "user.worm.retention", "COMPLIANCE +2d"), 0);
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_dirent_del(t, b, "f"), 0);
	cr_assert_eq(meta_dirent_del(t, b, "g"), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 0, "%s", s.what[0]);
	cr_assert_eq(ns_reattach(N, f, path, sizeof(path)), 0);
	char want[64];
	snprintf(want, sizeof(want), "/una/.recovered/%llu", (unsigned long long)f);
	cr_assert_str_eq(path, want);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 0, "%s", s.what[0]);
	/* A later change at the new path is the object's latest. */
	cr_assert_eq(set_x(f, "user.worm.legal-hold", "OFF"), 0);
	cr_assert_eq(check(&s, &miss), 0, "%s", s.what[0]);
	cr_assert_eq(miss, 0, "%s", s.what[0]);
}

/* Records from before ino= and until= (as an older build wrote them). */
Test(ns_locktrail, older_records_without_ino_or_until)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "old");
	uint64_t f = mkfile(b, "f"), r = mkfile(b, "r");
	struct seen s;
	long miss = 0;

	/* A lock on a path whose object is gone. */
	cr_assert_eq(ns_audit_note(N, "retention", "op=set path=/old/x attr=user.worm.retention "
				   "uid=0 rule=- value=\"COMPLIANCE 2099-01-01T00:00:00Z\""), 0);
	/* A lock of f, an absolute date: f holds less. */
	cr_assert_eq(set_x(f, "user.worm.retention", "COMPLIANCE +1d"), 0);
	cr_assert_eq(ns_audit_note(N, "retention", "op=set path=/old/f attr=user.worm.retention "
				   "uid=0 rule=- value=\"COMPLIANCE 2099-01-01T00:00:00Z\""), 0);
	/* A lock of r, relative: r holds it (resolved a moment before). */
	cr_assert_eq(set_x(r, "user.worm.retention", "COMPLIANCE +2d"), 0);
	cr_assert_eq(ns_audit_note(N, "retention", "op=set path=/old/r attr=user.worm.retention "
				   "uid=0 rule=- value=\"COMPLIANCE +2d\""), 0);
	cr_assert_eq(check(&s, &miss), 1, "%s", s.what[0]);
	cr_assert(has(&s, "old/f: older lock state than the audit trail (retention date"),
		  "%s", s.what[0]);
	cr_assert_eq(miss, 1);
	cr_assert(has(&s, "old/x: the audit trail records a lock in force on it (COMPLIANCE "
		      "until 2099-01-01T00:00:00Z"), "%s | %s", s.what[0], s.what[1]);
}

/* A record without until= (an older build) of an absolute date with a
 * fraction: the older build truncated it, so the node may hold the date
 * without its fraction, never a second less (da96d91). A zero fraction
 * was never rounded: no slack. */
static void older_fraction_case(uint64_t b, const char *name, const char *value,
				const char *stored)
{
	char rec[300], path[64];
	int64_t t;
	struct seen s;
	long miss = 0;
	uint64_t f = mkfile(b, name);

	cr_assert_eq(clock_parse_rfc3339(stored, strlen(stored), &t), 0);
	cr_assert_eq(set_x(f, "user.worm.retention", "COMPLIANCE +1d"), 0);
	snprintf(path, sizeof(path), "/oldf/%s", name);
	snprintf(rec, sizeof(rec), "op=set path=%s attr=user.worm.retention uid=0 rule=- "
		 "value=\"%s\"", path, value);
	cr_assert_eq(ns_audit_note(N, "retention", rec), 0);
	struct meta_node nd = node_of(f);
	nd.retain_until = t;   /* as the older build stored it */
	node_put_mac(&nd);
	cr_assert_eq(check(&s, &miss), 0, "%s: %s", value, s.what[0]);
	nd.retain_until = t - 1;   /* a second less: put back, or edited */
	node_put_mac(&nd);
	cr_assert_eq(check(&s, &miss), 1, "%s: a second less accepted (miss %ld, %s)", value, miss, s.what[0]);
	cr_assert(has(&s, "older lock state than the audit trail (retention date"), "%s",
		  s.what[0]);
	nd.retain_until = t;
	node_put_mac(&nd);
}

Test(ns_locktrail, older_records_with_a_fraction_no_second_less)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "oldf");

	older_fraction_case(b, "half", "COMPLIANCE 2099-01-01T00:00:00.5Z",
			    "2099-01-01T00:00:00Z");
	older_fraction_case(b, "zero", "COMPLIANCE 2099-01-01T00:00:00.000Z",
			    "2099-01-01T00:00:00Z");
	older_fraction_case(b, "leap", "COMPLIANCE 2098-12-31T23:59:60.5Z",
			    "2098-12-31T23:59:59Z");
}

/* An absolute date with a positive UTC offset, in a record without
 * until=: it is a date, not a relative "+1d" resolved a moment before its
 * record, so no 5 minutes' slack either. */
Test(ns_locktrail, older_records_with_a_positive_offset_no_slack)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "oldf");

	older_fraction_case(b, "plus", "COMPLIANCE 2099-01-01T01:00:00+01:00",
			    "2099-01-01T00:00:00Z");
	older_fraction_case(b, "plusfrac", "COMPLIANCE 2099-01-01T01:00:00.25+01:00",
			    "2099-01-01T00:00:00Z");
}

struct grep {
	const char *want;
	int found;
};

static int grep_cb(void *arg, uint64_t seq, int64_t time_s, const char *text, int authentic)
{
	struct grep *g = arg;
	(void)seq;
	(void)time_s;
	if (authentic && strstr(text, g->want))
		g->found++;
	return 0;
}

static int raw_kv(const char *key, const void *val, size_t len)
{
	meta_txn *t = NULL;
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	int rc = val ? mdb_put(t->txn, t->e->dbi[DB_KV], &k, &v, 0)
		     : mdb_del(t->txn, t->e->dbi[DB_KV], &k, NULL);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	return meta_txn_commit(t);
}

/* The authenticated-records flag of version 1 (before the digest), put
 * back, and the digest record deleted: the store looks older than
 * digests. Its head says otherwise: the mount is refused; wormctl repair
 * digest is the way out, and it is in the audit trail. */
Test(ns_locktrail, downgrade_of_the_digest_is_refused_and_reseal_audited)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "dgr");
	mkfile(b, "f");
	uint8_t flag[4 + 32], msg[1 + 12 + 4];
	uint32_t v1 = 1;
	char err[1024] = "";
	struct whead h0, h1;
	ns *o = NULL;

	/* Offline, as root with the store unmounted would: the daemon's own
	 * close makes a head. */
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	memcpy(flag, &v1, 4);
	msg[0] = 'F';
	memcpy(msg + 1, "auth_records", 12);
	memcpy(msg + 13, &v1, 4);
	cr_assert_eq(wcrypto_mac(flag + 4, N->mkey, msg, sizeof(msg)), 0);
	cr_assert_eq(raw_kv("auth_records", flag, sizeof(flag)), 0);
	cr_assert_eq(raw_kv("state_digest", NULL, 0), 0);
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(spath, &C, 0, &o, err, sizeof(err)), -EUCLEAN, "%s", err);
	cr_assert(strstr(err, "refused: the metadata state digest record is missing but the "
			 "store head records a store that kept one"), "%s", err);
	/* Read-only deciding opens are told; verify's open is not. */
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE | NS_RDONLY | NS_CHECK_DIGEST, &o, err,
			     sizeof(err)), 0, "%s", err);
	cr_assert_not_null(ns_digest_problem(o));
	cr_assert(strstr(ns_digest_problem(o), "record is missing"), "%s", ns_digest_problem(o));
	ns_close(o);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE | NS_RDONLY, &o, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_null(ns_digest_problem(o));
	ns_close(o);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_head_get(N, &h0, NULL), 0);
	cr_assert_eq(ns_repair_digest(N, 0), 1);
	cr_assert_eq(ns_head_get(N, &h1, NULL), 0);
	cr_assert_gt(h1.seq, h0.seq, "the re-seal advanced the head");
	cr_assert(h1.has_state);
	struct grep g = { "kind=digest-reseal op=repair uid=", 0 };
	cr_assert_eq(ns_audit_list(N, INT64_MIN, grep_cb, &g), 0);
	cr_assert_eq(g.found, 1);
	g = (struct grep){ "rule=wormctl-repair-digest old=none new=", 0 };
	cr_assert_eq(ns_audit_list(N, INT64_MIN, grep_cb, &g), 0);
	cr_assert_eq(g.found, 1);
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}
