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
 * until an operator runs wormctl repair (which re-seals, logged) after
 * wormctl verify. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "ns_auth.h"
#include "ns_digest.h"
#include "ns_path.h"
#include "ns_record.h"
#include "audit.h"
#include "log.h"
#include "policy.h"

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

static int seal(ns *n, const char *why)
{
	meta_txn *t = NULL;
	uint64_t recs = 0;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	rc = meta_digest_seal(t, &recs);
	/* From now on a missing digest record is damage, not an old store. */
	if (!rc && !n->digest_required && !n->auth_flag_bad)
		rc = ns_auth_flag_digest(n, t);   /* a damaged flag stays reported */
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = meta_sync(n->me);
	if (!rc)
		wlog(WLOG_WARN, "metadata state digest %s over %" PRIu64 " records", why, recs);
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
	int st, rc;

	/* Read-only opens (ls, head, audit) skip the scan: verify does it. */
	if (n->flags & NS_RDONLY)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	st = ns_digest_state(n, t, &recs);
	meta_txn_abort(t);
	if (st < 0)
		return st;
	if (st == NS_DIGEST_NONE && n->digest_required)
		st = NS_DIGEST_MISSING;
	if (st == NS_DIGEST_NONE) {
		/* Sealing accepts the state as it is: not with an object whose
		 * lock is older than the audit trail says (a store made to look
		 * older than digests, with a node record put back). */
		long bad = 0;
		rc = meta_txn_begin(n->me, 1, &t);
		if (rc)
			return rc;
		bad = ns_lock_trail_check(n, t, seal_refuse_cb, (void *)store_path);
		meta_txn_abort(t);
		if (bad < 0)
			return (int)bad;
		if (bad) {
			wlog_seterr(err, errlen, "%s: refused: %ld object(s) have an older lock state "
				    "than the audit trail (run wormctl verify %s)", store_path, bad,
				    store_path);
			return -EUCLEAN;
		}
		return seal(n, "created (store upgraded: an older record put back alone is "
			    "detected from now on)");
	}
	if (st == NS_DIGEST_OK) {
		wlog(WLOG_DEBUG, "metadata state digest checked: %" PRIu64 " records in %" PRId64
		     " ms", recs, ms_since(&t0));
		return 0;
	}
	n->digest_bad = st;
	if (n->flags & NS_OFFLINE) {
		/* wormctl with the store's keys (repair, re-attach): allowed,
		 * loudly; the mismatch stays until wormctl repair re-seals. */
		wlog(WLOG_ERR, "%s: the metadata state digest %s (see wormctl verify)", store_path,
		     ns_digest_why(st));
		return 0;
	}
	wlog_seterr(err, errlen, "%s: refused: the metadata state digest %s (a record of meta/ "
		    "was edited, deleted or put back from an older copy; run wormctl verify %s)",
		    store_path, ns_digest_why(st), store_path);
	return -EUCLEAN;
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

int ns_repair_digest(ns *n)
{
	meta_txn *t = NULL;
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
	if (st == NS_DIGEST_OK || (st == NS_DIGEST_NONE && !n->digest_required))
		return 0;   /* a store not sealed yet is sealed at its next mount */
	/* Never accept a state in which an object holds less lock than the
	 * audit trail recorded for it (a node record put back from before its
	 * lock): re-sealing that would make the object deletable again. */
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	long bad = ns_lock_trail_check(n, t, seal_refuse_cb, (void *)"repair refused");
	meta_txn_abort(t);
	if (bad < 0)
		return (int)bad;
	if (bad)
		return -EUCLEAN;
	rc = seal(n, "re-sealed by wormctl repair (the state as it is now is accepted)");
	if (!rc)
		n->digest_bad = 0;
	return rc ? rc : 1;
}

void ns_digest_free(ns *n)
{
	wcrypto_mackey_free(n->dmk);
	n->dmk = NULL;
}

/* ---- lock state against the audit trail ----------------------------------
 *
 * The digest says that some record is not as the daemon left it, not
 * which. A node record put back from before a lock change is named here:
 * every lock change is in the audit trail (trail.c) with the object's path
 * and the compliance clock's time, so the latest retention and legal-hold
 * record of each path says what the node must at least show. Only a node
 * created before that record is compared (a path can be reused by a later
 * object). A retention value is the request ("GOVERNANCE +1d"), so only
 * its mode and time are checked: the node must hold that mode (or a
 * stronger one) until after the record's time. */

struct lk_rec {
	char *path;
	int hold;                 /* legal-hold: HOLD_ON / HOLD_OFF, else 0 */
	int mode;                 /* retention set: WORM_*, else 0 */
	int64_t hold_t, ret_t;    /* times of the latest of each */
};

struct lk_map {
	struct lk_rec *v;
	size_t n, cap;
};

/* The value of key= in text (bare or "quoted" with \" and \\ escapes);
 * 0 if absent or escaped otherwise (a path with control bytes is skipped). */
static int field(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key), o = 0;
	const char *p = text;

	for (;;) {
		p = strstr(p, key);
		if (!p)
			return 0;
		if ((p == text || p[-1] == ' ') && p[kl] == '=')
			break;
		p += kl;
	}
	p += kl + 1;
	if (*p != '"') {
		while (*p && *p != ' ' && o + 1 < cap)
			out[o++] = *p++;
		out[o] = '\0';
		return o > 0;
	}
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return 0;
			p++;
		}
		if (o + 1 >= cap)
			return 0;
		out[o++] = *p;
	}
	out[o] = '\0';
	return *p == '"';
}

static struct lk_rec *lk_find(struct lk_map *m, const char *path, int add)
{
	for (size_t i = 0; i < m->n; i++)   /* linear: distinct locked paths are few */
		if (!strcmp(m->v[i].path, path))
			return &m->v[i];
	if (!add)
		return NULL;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct lk_rec *g = realloc(m->v, cap * sizeof(*g));
		if (!g)
			return NULL;
		m->v = g;
		m->cap = cap;
	}
	struct lk_rec *r = &m->v[m->n];
	memset(r, 0, sizeof(*r));
	if (!(r->path = strdup(path)))
		return NULL;
	m->n++;
	return r;
}

static void lk_note(struct lk_map *m, const struct audit_rec *a)
{
	char kind[32], op[16], path[1100], value[200];
	struct lk_rec *r;

	if (!field(a->text, "kind", kind, sizeof(kind)) || !field(a->text, "op", op, sizeof(op)) ||
	    !field(a->text, "path", path, sizeof(path)))
		return;
	int hold = !strcmp(kind, "legal-hold");
	int ret = !strcmp(kind, "retention") || !strcmp(kind, "governance-bypass");
	if ((!hold && !ret) || path[0] != '/' || !(r = lk_find(m, path, 1)))
		return;
	if (hold) {
		if (!strcmp(op, "set") && field(a->text, "value", value, sizeof(value)))
			r->hold = !strcmp(value, "ON") ? HOLD_ON : HOLD_OFF;
		else
			r->hold = HOLD_OFF;
		r->hold_t = a->time_s;
	} else {
		r->mode = 0;
		if (!strcmp(op, "set") && field(a->text, "value", value, sizeof(value)))
			r->mode = !strncmp(value, "COMPLIANCE", 10) ? WORM_COMPLIANCE :
				  !strncmp(value, "GOVERNANCE", 10) ? WORM_GOVERNANCE : 0;
		r->ret_t = a->time_s;
	}
}

struct lk_walk {
	ns *n;
	meta_txn *t;
	struct lk_map *m;
	ns_digest_damage_fn fn;
	void *arg;
	long found;
};

static int lk_node(void *arg, const struct meta_node *nd)
{
	struct lk_walk *w = arg;
	char path[1100];
	struct lk_rec *r;
	int64_t born = nd->btime_ns / 1000000000;

	struct meta_node an;

	/* The record as the namespace reads it: one that fails its MAC is
	 * reported as such already (and treated as locked). */
	if (!S_ISREG(nd->mode) || nd->nlink == 0 || ns_node_get(w->n, w->t, nd->ino, &an) ||
	    (an.flags & NS_F_AUTH_FAILED) || ns_path_of(w->n, nd->ino, path, sizeof(path)))
		return 0;
	nd = &an;
	if (!(r = lk_find(w->m, path, 0)))
		return 0;
	const char *why = NULL;
	if (r->hold && born <= r->hold_t && nd->hold != r->hold)
		why = r->hold == HOLD_ON ? "legal hold OFF but its latest legal-hold change set it ON" :
					  "legal hold ON but its latest legal-hold change set it OFF";
	else if (r->mode && born <= r->ret_t &&
		 (nd->lock_mode < r->mode || nd->retain_until <= r->ret_t))
		why = "retention mode or date before its latest retention change";
	if (why) {
		char msg[256];
		snprintf(msg, sizeof(msg), "older lock state than the audit trail (%s; its node "
			 "record put back from an older copy?)", why);
		w->fn(w->arg, path + 1, msg);   /* as verify names objects: no leading / */
		w->found++;
	}
	return 0;
}

long ns_lock_trail_check(ns *n, meta_txn *t, ns_digest_damage_fn fn, void *arg)
{
	struct lk_map m = { 0 };
	struct audit_rec *a = malloc(sizeof(*a));
	uint64_t tip = 0;
	uint8_t th[32];
	int rc;

	if (!a)
		return -ENOMEM;
	rc = audit_tip(t, &tip, th);
	/* Records that fail or are missing are audit verify's to report. The
	 * tip may be edited offline to a huge number: like the audit readers
	 * (ns_trail.c), stop after 1,024 missing records in a row. */
	for (uint64_t s = 1, gap = 0; !rc && s <= tip && gap < 1024; s++) {
		if (!audit_get(t, s, a)) {
			lk_note(&m, a);
			gap = 0;
		} else {
			gap++;
		}
	}
	free(a);
	struct lk_walk w = { n, t, &m, fn, arg, 0 };
	if (!rc && m.n)
		rc = meta_node_foreach(t, lk_node, &w);
	for (size_t i = 0; i < m.n; i++)
		free(m.v[i].path);
	free(m.v);
	return rc ? rc : w.found;
}
