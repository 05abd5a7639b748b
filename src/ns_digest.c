/* ns_digest: the namespace's side of the metadata state digest (issue 12;
 * design section 7; the sum itself is kept by meta, src/meta_digest.c).
 *
 * Why: every record carries its own MAC, but an older authentic record put
 * back alone (a node from before its lock, a directory entry, a counter,
 * the clock mark, an orphan entry, an autocommit deadline) passes its MAC.
 * The digest is a keyed set-hash over all of them, so such a record
 * changes it; it is checked at every writable mount (refused on a
 * mismatch), by wormctl verify, and is part of every store head
 * (ns_trail.c), so a rollback of the whole of meta/ is caught against a head
 * kept outside it.
 *
 * The layering: meta keeps the sum in its write transactions (so it is
 * crash-consistent with the records) but links no crypto: this file hands
 * it H = keyed BLAKE2b-256 with a subkey of the record key (context
 * "wfsdigst"), through meta_set_digest, right after the database opens
 * and before anything is written.
 *
 * Upgrade, one way: a store without the digest record gets one at its
 * first writable open (a full scan, logged). A digest record that is
 * present is never recomputed on its own: a mismatch refuses the mount
 * until an operator runs wormctl repair (which re-seals, in the audit
 * trail) after wormctl verify. A missing record in a store whose head
 * says it kept one (STORE/head, outside meta/) is a downgrade, refused
 * the same way. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <unistd.h>

#include "ns_auth.h"
#include "ns_digest.h"
#include "ns_locktrail.h"
#include "ns_trail.h"
#include "trail.h"
#include "log.h"

static int rec_hash(void *arg, const void *hdr, size_t hlen, const void *val, size_t vlen,
		    uint8_t out[META_DIGEST_BYTES])
{
	ns *n = arg;

	return wcrypto_mac2_k(out, n->dmk, hdr, hlen, val, vlen);
}

int ns_digest_attach(ns *n, meta_env *me)
{
	uint8_t *key = wcrypto_secure_alloc(32);
	int rc;

	if (!key)
		return -ENOMEM;
	rc = wcrypto_kdf(key, n->reckey, 4, "wfsdigst");
	if (!rc) {
		wcrypto_mackey_free(n->dmk);
		n->dmk = wcrypto_mackey_new(key);
		rc = n->dmk ? 0 : -ENOMEM;
	}
	wcrypto_secure_free(key);
	if (!rc)
		meta_set_digest(me, rec_hash, n);
	return rc;
}

static int64_t ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (int64_t)(b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

int ns_digest_state(ns *n, meta_txn *t, uint64_t *records)
{
	uint8_t kept[META_DIGEST_BYTES], now[META_DIGEST_BYTES];
	int rc = meta_digest_get(t, kept);

	(void)n;
	if (rc == -ENOENT)
		return NS_DIGEST_NONE;
	if (rc == -EIO)
		return NS_DIGEST_FORGED;
	if (rc)
		return rc;
	rc = meta_digest_scan(t, now, records);
	if (rc)
		return rc;
	return wcrypto_equal(kept, now, META_DIGEST_BYTES) ? NS_DIGEST_OK : NS_DIGEST_MISMATCH;
}

/* Seal the state as it is: the digest record, and an audit record
 * (kind=digest-reseal: the digest before and after, who, why) with a new
 * store head in the same transaction, so a re-seal is never silent. */
/* audit_problems: the count of audit trail problems the operator
 * accepted (wormctl repair --accept-audit-damage), named in the record. */
static int seal(ns *n, const char *op, const char *rule, const char *why, long audit_problems)
{
	uint8_t was[META_DIGEST_BYTES], now[META_DIGEST_BYTES];
	char oh[2 * META_DIGEST_BYTES + 1], nh[2 * META_DIGEST_BYTES + 1], extra[256];
	meta_txn *t = NULL;
	uint64_t recs = 0;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	int g = meta_digest_get(t, was);
	if (!g)
		wcrypto_hex(oh, was, META_DIGEST_BYTES);
	else
		snprintf(oh, sizeof(oh), "%s", g == -ENOENT ? "none" : "forged");
	rc = meta_digest_seal(t, &recs);
	if (!rc)
		rc = meta_digest_get(t, now);
	/* From now on a missing digest record is damage, not an old store. */
	if (!rc && !n->digest_required && !n->auth_flag_bad)
		rc = ns_auth_flag_digest(n, t);   /* a damaged flag stays reported */
	if (!rc) {
		wcrypto_hex(nh, now, META_DIGEST_BYTES);
		int l = snprintf(extra, sizeof(extra), "old=%s new=%s records=%" PRIu64, oh, nh, recs);
		if (audit_problems && l > 0 && (size_t)l < sizeof(extra))
			snprintf(extra + l, sizeof(extra) - (size_t)l, " audit_problems_accepted=%ld",
				 audit_problems);
		rc = ns_trail_note(n, t, "digest-reseal", op, rule, extra);
	}
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = ns_durable(n);   /* synced, and the head published */
	if (!rc)
		wlog(WLOG_WARN, "metadata state digest %s over %" PRIu64 " records (old %s, new "
		     "%s; in the audit trail)", why, recs, oh, nh);
	return rc;
}

static void seal_refuse_cb(void *arg, const char *path, const char *why)
{
	wlog(WLOG_ERR, "%s: %s: %s", (const char *)arg, path, why);
}

int ns_digest_open(ns *n, const char *store_path, char *err, size_t errlen)
{
	struct timespec t0;
	meta_txn *t = NULL;
	uint64_t recs = 0;
	int st, rc, had = 0, ro = (n->flags & NS_RDONLY) != 0;

	/* Read-only opens that only report (verify, head, audit) skip the
	 * scan: verify makes it itself. */
	if (ro && !(n->flags & NS_CHECK_DIGEST))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	st = ns_digest_state(n, t, &recs);
	meta_txn_abort(t);
	if (st < 0)
		return st;
	/* A store that kept a digest, by its flag or by a head (STORE/head is
	 * outside meta/: a downgrade of meta/ cannot take that back). */
	if (st == NS_DIGEST_NONE && !n->digest_required && (had = ns_trail_had_digest(n)))
		st = NS_DIGEST_MISSING;
	if (st == NS_DIGEST_NONE && n->digest_required)
		st = NS_DIGEST_MISSING;
	if (st == NS_DIGEST_NONE && ro)
		return 0;   /* a store from before digests: sealed by its next mount */
	if (st == NS_DIGEST_NONE) {
		/* Sealing accepts the state as it is: not with an object whose
		 * lock is older than the audit trail says (a store made to look
		 * older than digests, with a node record put back). */
		long bad = 0;
		rc = meta_txn_begin(n->me, 1, &t);
		if (rc)
			return rc;
		bad = ns_lock_trail_check(n, t, seal_refuse_cb, (void *)store_path, NULL);
		meta_txn_abort(t);
		if (bad < 0)
			return (int)bad;
		if (bad) {
			wlog_seterr(err, errlen, "%s: refused: %ld object(s) have an older lock state "
				    "than the audit trail (run wormctl verify %s)", store_path, bad,
				    store_path);
			return -EUCLEAN;
		}
		return seal(n, "create", "store-without-digest", "created (store upgraded: an "
			    "older record put back alone is detected from now on)", 0);
	}
	if (st == NS_DIGEST_OK) {
		wlog(WLOG_DEBUG, "metadata state digest checked: %" PRIu64 " records in %" PRId64
		     " ms", recs, ms_since(&t0));
		return 0;
	}
	n->digest_bad = st;
	if (ro)
		return 0;   /* the command fails itself (ns_digest_problem) */
	if ((n->flags & NS_OFFLINE) && !(n->flags & NS_CHECK_DIGEST)) {
		/* wormctl repair and reattach: allowed, loudly; the mismatch
		 * stays until wormctl repair re-seals. */
		wlog(WLOG_ERR, "%s: the metadata state digest %s (see wormctl verify)", store_path,
		     ns_digest_why(st));
		return 0;
	}
	if (had)
		wlog_seterr(err, errlen, "%s: refused: the metadata state digest record is missing "
			    "but the store head records a store that kept one (a downgrade: the "
			    "record deleted, the authenticated-records flag put back from before "
			    "it or removed); run wormctl verify %s; wormctl repair digest %s "
			    "re-seals the state as it is (in the audit trail) once explained",
			    store_path, store_path, store_path);
	else
		wlog_seterr(err, errlen, "%s: refused: the metadata state digest %s (a record of "
			    "meta/ was edited, deleted or put back from an older copy; run wormctl "
			    "verify %s)", store_path, ns_digest_why(st), store_path);
	return -EUCLEAN;
}

const char *ns_digest_problem(ns *n)
{
	return n->digest_bad ? ns_digest_why(n->digest_bad) : NULL;
}

const char *ns_digest_why(int st)
{
	switch (st) {
	case NS_DIGEST_FORGED:
		return "record fails authentication";
	case NS_DIGEST_MISSING:
		return "record is missing although the store keeps one";
	case NS_DIGEST_MISMATCH:
		return "does not match the records of meta";
	default:
		return "is sound";
	}
}

static int audit_problem_cb(void *arg, const char *path, const char *what)
{
	wlog(WLOG_ERR, "repair: %s: %s", path, what);
	(void)arg;
	return 0;
}

int ns_repair_digest(ns *n, unsigned flags)
{
	meta_txn *t = NULL;
	long gone = 0;
	int st, rc;

	if (n->flags & NS_RDONLY)
		return -EROFS;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	st = ns_digest_state(n, t, NULL);
	meta_txn_abort(t);
	if (st < 0)
		return st;
	if (st == NS_DIGEST_OK ||
	    (st == NS_DIGEST_NONE && !n->digest_required && !ns_trail_had_digest(n)))
		return 0;   /* a store not sealed yet is sealed at its next mount */
	/* Never accept a state in which an object holds less lock than the
	 * audit trail recorded for it (a node record put back from before its
	 * lock or its extension): re-sealing that would make the object
	 * deletable (or deletable sooner) again. An object deleted while
	 * locked is gone already: logged, verify goes on naming it. */
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	long bad = ns_lock_trail_check(n, t, seal_refuse_cb, (void *)"repair", &gone);
	meta_txn_abort(t);
	if (bad < 0)
		return (int)bad;
	if (bad)
		return -EUCLEAN;
	/* That check reads the audit trail: with a lock's record removed (or
	 * edited) it cannot see the lock a put-back node record undoes. A
	 * damaged trail is accepted only when the operator says so, and
	 * that is recorded in the re-seal's own audit record. */
	long abad = ns_audit_verify(n, audit_problem_cb, NULL);
	if (abad < 0)
		return (int)abad;
	if (abad && !(flags & NS_REPAIR_ACCEPT_AUDIT_DAMAGE))
		return -EBADMSG;
	rc = seal(n, "repair", abad ? "wormctl-repair-digest-audit-damage-accepted"
				    : "wormctl-repair-digest",
		  abad ? "re-sealed by wormctl repair --accept-audit-damage (the state as it "
			 "is now is accepted, with an audit trail that fails verification)"
		       : "re-sealed by wormctl repair (the state as it is now is accepted)", abad);
	if (!rc)
		n->digest_bad = 0;
	return rc ? rc : 1;
}

void ns_digest_free(ns *n)
{
	wcrypto_mackey_free(n->dmk);
	n->dmk = NULL;
}
