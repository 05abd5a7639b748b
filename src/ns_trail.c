/* ns_trail: store head and audit trail of an open store (see include/trail.h,
 * head.h, audit.h). Hooks for the ns files are declared in ns_trail.h;
 * ns_durable (a sync that publishes the head) is here too, so the trail
 * calls no ns file above it (docs/HACKING.md). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trail.h"
#include "audit.h"
#include "log.h"
#include "ns_auth.h"
#include "ns_path.h"
#include "ns_trail.h"

struct ns_trail {
	struct head_keys keys;
	char head_path[4096];
	pthread_mutex_t mu;             /* the refusal queue */
	char (*q)[AUDIT_TEXT_MAX + 1];
	int64_t qt[TRAIL_QUEUE_MAX];    /* when each queued refusal happened */
	size_t qn;
	uint64_t dropped;
	int64_t win_ns;                 /* refusal budget: window start (monotonic) */
	unsigned win_n;                 /* refusals queued in the window */
	int64_t drop_rec_ns;            /* last audit-dropped record written */
	pthread_mutex_t pub_mu;         /* STORE/head and its log line */
	uint64_t published;
	_Atomic uint64_t head_txnid;    /* write txn that made the last head */
	int64_t tip_time_s;             /* the audit trail's last record at open */
};

/* ---- making heads ------------------------------------------------------- */

/* The next head in write txn t: covers the audit tip as of now in t. */
static int advance(ns *n, meta_txn *t)
{
	struct ns_trail *tr = n->trail;
	struct whead prev, h;
	struct head_state st;
	int rc = head_kv_get(t, 0, &prev);

	if (rc && rc != -ENOENT)
		return rc;
	memset(&st, 0, sizeof(st));
	int r2 = audit_tip(t, &st.audit_seq, st.audit_hash);
	if (r2)
		return r2;
	/* Its MAC checked (ns_auth.c); one that fails counts as none. */
	if (ns_clock_get(n, t, &st.clock_hwm))
		st.clock_hwm = 0;
	if (meta_node_count(t, &st.nodes))
		st.nodes = 0;
	/* The state digest as of now in t (none in a store not sealed yet). */
	st.has_state = meta_digest_get(t, st.state) == 0;
	/* Once a store kept a digest its heads say so, also while the record
	 * is missing (an offline command after a downgrade must not make a
	 * head that looks older than the digest): the state hashed as zeros. */
	if (!st.has_state && !rc && prev.has_state) {
		st.has_state = 1;
		memset(st.state, 0, sizeof(st.state));
	}
	r2 = head_next(rc ? NULL : &prev, &st, ns_clock_now(n), &tr->keys, &h);
	if (!r2)
		r2 = head_kv_put(t, &h);
	if (!r2)
		atomic_store(&tr->head_txnid, meta_txn_id(t));
	return r2;
}

/* The latest head's seq (0: none), read before a meta_sync; after it,
 * STORE/head and the log get that head (ns_trail_publish; upto 0: the
 * latest, for callers no other thread can race). */
static uint64_t ns_trail_mark(ns *n)
{
	struct whead h;
	meta_txn *t = NULL;
	uint64_t seq = 0;

	if (!n->trail || (n->flags & NS_RDONLY) || meta_txn_begin(n->me, 1, &t))
		return 0;
	if (!head_kv_get(t, 0, &h))
		seq = h.seq;
	meta_txn_abort(t);
	return seq;
}

/* Write STORE/head and log head upto (0: the latest) if it is newer than
 * the last published one. Called once meta/ is synced; upto is read
 * before that sync (ns_trail_mark), so a head committed by another thread
 * after it never reaches STORE/head ahead of meta/ on disk. */
static void ns_trail_publish(ns *n, uint64_t upto)
{
	struct ns_trail *tr = n->trail;
	struct whead h;
	meta_txn *t = NULL;
	char id[HEAD_ID_MAX], dg[65], sig[129];
	int rc;

	if (!tr || (n->flags & NS_RDONLY))
		return;
	pthread_mutex_lock(&tr->pub_mu);
	rc = meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = head_kv_get(t, upto, &h);
		meta_txn_abort(t);
	}
	if (!rc && h.seq > tr->published) {
		rc = head_file_write(tr->head_path, &h);
		if (rc) {
			wlog(WLOG_ERR, "cannot write %s: %s (retried at the next head)",
			     tr->head_path, strerror(-rc));
		} else {
			tr->published = h.seq;
			if (head_id(&h, id))   /* its hash failed: log the rest */
				snprintf(id, sizeof(id), "?");
			wcrypto_hex(dg, h.digest, 32);
			wcrypto_hex(sig, h.sig, 64);
			wlog(WLOG_INFO, "store head seq=%" PRIu64 " id=%s digest=%s audit_seq=%"
			     PRIu64 " sig=%s", h.seq, id, dg, h.audit_seq, sig);
		}
	}
	pthread_mutex_unlock(&tr->pub_mu);
}

static void quote_into(char *out, size_t cap, size_t *pos, const char *key, const char *v)
{
	char q[1100];
	if (*pos >= cap)
		return;
	int k = snprintf(out + *pos, cap - *pos, "%s%s=%s", *pos ? " " : "", key,
			 wlog_quote(v, q, sizeof(q)));
	*pos = k < 0 ? cap : *pos + (size_t)k >= cap ? cap : *pos + (size_t)k;
}

/* Lock changes and fsync must be on disk before the reply. */
int ns_durable(ns *n)
{
	/* Queued audit records (refusals) and their head go with it. */
	int rc = ns_trail_flush(n, 0);
	uint64_t upto = ns_trail_mark(n);   /* what this sync covers */
	int r2 = meta_sync(n->me);
	if (!r2) {
		atomic_store(&n->last_sync_ns, clock_monotonic_ns());
		if (upto)
			ns_trail_publish(n, upto);
	}
	(void)rc;   /* a failed flush counts its records as dropped */
	return r2;
}

/* The record's text: kind op [path] [attr] uid rule [value] [extra]
 * [ino]; extra is fields already quoted. ino= (the object, whatever its
 * path later) and until= come last, so the fields before keep their
 * places. */
static int event(ns *n, meta_txn *t, const char *kind, const char *op, uint64_t ino,
		 const char *attr, int64_t uid, const char *rule, const char *value,
		 const char *extra)
{
	struct audit_rec *r;
	char text[AUDIT_TEXT_MAX + 1], path[1024], us[24];
	size_t pos = 0;
	int rc;

	if (!n->trail)
		return 0;
	quote_into(text, sizeof(text), &pos, "kind", kind);
	quote_into(text, sizeof(text), &pos, "op", op);
	if (ino) {
		if (ns_path_of(n, ino, path, sizeof(path)))
			snprintf(path, sizeof(path), "#%" PRIu64, ino);
		quote_into(text, sizeof(text), &pos, "path", path);
	}
	if (attr)
		quote_into(text, sizeof(text), &pos, "attr", attr);
	if (uid >= 0)
		snprintf(us, sizeof(us), "%" PRId64, uid);
	else
		snprintf(us, sizeof(us), "-");
	quote_into(text, sizeof(text), &pos, "uid", us);
	quote_into(text, sizeof(text), &pos, "rule", rule ? rule : "-");
	if (value)
		quote_into(text, sizeof(text), &pos, "value", value);
	if (extra && pos < sizeof(text)) {
		int k = snprintf(text + pos, sizeof(text) - pos, " %s", extra);
		pos = k < 0 || pos + (size_t)k >= sizeof(text) ? sizeof(text) : pos + (size_t)k;
	}
	if (ino && pos < sizeof(text)) {
		int k = snprintf(text + pos, sizeof(text) - pos, " ino=%" PRIu64, ino);
		pos = k < 0 || pos + (size_t)k >= sizeof(text) ? sizeof(text) : pos + (size_t)k;
	}
	text[pos < sizeof(text) ? pos : sizeof(text) - 1] = '\0';
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = audit_append(t, n->trail->keys.audit, ns_clock_now(n), text, r);
	free(r);
	if (!rc)
		rc = advance(n, t);
	return rc;
}

int ns_trail_event(ns *n, meta_txn *t, const char *kind, const char *op, uint64_t ino,
		   const char *attr, int64_t uid, const char *rule, const char *value)
{
	return event(n, t, kind, op, ino, attr, uid, rule, value, NULL);
}

int ns_trail_note(ns *n, meta_txn *t, const char *kind, const char *op, const char *rule,
		  const char *extra)
{
	struct whead h;
	uint64_t tip = 0;
	uint8_t th[32];
	struct audit_rec *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	/* An operator's record (a re-seal) after a tip record edited past
	 * the chain (no record there, beyond the signed head's tip) follows
	 * the chain the head covers, not the edited number: else it lands
	 * 2^62 records on, where no reader walks (audit verify named the
	 * tip before; the chain is whole again after). */
	if (n->trail && !head_kv_get(t, 0, &h) &&
	    !head_verify(&h, n->trail->keys.pk, n->trail->keys.mac) &&
	    !audit_tip(t, &tip, th) && tip > h.audit_seq && audit_get(t, tip, r) == -ENOENT &&
	    (h.audit_seq == 0 || !audit_get(t, h.audit_seq, r))) {
		int rc = audit_tip_put(t, h.audit_seq, h.audit_hash);
		if (rc) {
			free(r);
			return rc;
		}
		wlog(WLOG_WARN, "audit tip record pointed at %" PRIu64 " (no record there): set back "
		     "to %" PRIu64 ", the store head's", tip, h.audit_seq);
	}
	free(r);
	return event(n, t, kind, op, 0, NULL, (int64_t)getuid(), rule, NULL, extra);
}

int ns_trail_lock(ns *n, meta_txn *t, uint32_t uid, uint64_t ino, const char *attr,
		  int remove, const struct policy_lock *old, const struct meta_node *nd,
		  const char *rule, const char *value, int64_t now)
{
	const char *kind = "lock";
	/* A lock change may be repeated at will (a retention extended by a
	 * second): on a store nearly out of room its record is refused, so
	 * that what is left stays for deletes. Not a legal hold turned on:
	 * only a hold principal changes holds (policy), so no other caller
	 * can repeat one, and an owner who filled the rest by extending a
	 * retention must not keep an administrator from holding an object
	 * that is still mutable (its owner could then delete it). */
	int hold_on = !strcmp(attr, WORM_XATTR_HOLD) && !remove && nd->hold == HOLD_ON &&
		      old->hold != HOLD_ON;
	int rc = hold_on ? 0 : meta_txn_room_to_log(t);
	if (rc)
		return rc;
	if (!strcmp(attr, WORM_XATTR_RETENTION)) {
		/* Shortening or removing a GOVERNANCE retention in force is
		 * what only a bypass principal may do. */
		int bypass = old->mode == WORM_GOVERNANCE && old->retain_until > now &&
			     (remove || nd->retain_until < old->retain_until);
		kind = bypass ? "governance-bypass" : "retention";
	} else if (!strcmp(attr, WORM_XATTR_HOLD)) {
		kind = "legal-hold";
	} else if (!strcmp(attr, WORM_XATTR_DEFAULT)) {
		kind = "default-retention";
	} else if (!strcmp(attr, WORM_XATTR_LOCKCFG)) {
		kind = "bucket-lock";
	} else if (!strcmp(attr, WORM_XATTR_APPEND) ||
		   !strcmp(attr, WORM_XATTR_DEFAPPEND)) {
		kind = "append-only";
	} else if (!strcmp(attr, WORM_XATTR_AUTOCOMMIT)) {
		kind = "autocommit";
	}
	/* The date a retention resolved to ("+1d" is relative to the
	 * change): what the node must hold from now on (ns_locktrail.c). */
	char until[48] = "", ts[32];
	if (!remove && !strcmp(attr, WORM_XATTR_RETENTION) &&
	    !clock_format_rfc3339(nd->retain_until, ts, sizeof(ts)))
		snprintf(until, sizeof(until), "until=%s", ts);
	return event(n, t, kind, remove ? "remove" : "set", ino, attr, uid, rule,
		     remove ? NULL : value, until[0] ? until : NULL);
}

void ns_trail_refusal(ns *n, const char *op, const char *path, const char *attr,
		      uint32_t uid, int err, const char *rule)
{
	struct ns_trail *tr = n->trail;
	char text[AUDIT_TEXT_MAX + 1], us[16], es[16];
	size_t pos = 0;

	if (!tr || (n->flags & NS_RDONLY))
		return;
	pthread_mutex_lock(&tr->mu);
	/* A budget per minute, not only per flush: any user who can open a
	 * directory can force a flush (fsyncdir), so a per-flush bound alone
	 * lets a refusal flood grow meta/ without limit. */
	int64_t mono = clock_monotonic_ns();
	if (mono - tr->win_ns >= TRAIL_WINDOW_NS) {
		tr->win_ns = mono;
		tr->win_n = 0;
	}
	if (tr->qn >= TRAIL_QUEUE_MAX || tr->win_n >= TRAIL_REFUSALS_PER_MIN) {
		tr->dropped++;
		pthread_mutex_unlock(&tr->mu);
		return;
	}
	tr->win_n++;
	pthread_mutex_unlock(&tr->mu);
	snprintf(us, sizeof(us), "%u", uid);
	snprintf(es, sizeof(es), "%d", err < 0 ? -err : err);
	quote_into(text, sizeof(text), &pos, "kind", "refusal");
	quote_into(text, sizeof(text), &pos, "op", op);
	quote_into(text, sizeof(text), &pos, "path", path);
	if (attr)
		quote_into(text, sizeof(text), &pos, "attr", attr);
	quote_into(text, sizeof(text), &pos, "uid", us);
	quote_into(text, sizeof(text), &pos, "errno", es);
	quote_into(text, sizeof(text), &pos, "rule", rule ? rule : "-");
	text[pos < sizeof(text) ? pos : sizeof(text) - 1] = '\0';
	pthread_mutex_lock(&tr->mu);
	if (tr->qn < TRAIL_QUEUE_MAX) {
		tr->qt[tr->qn] = ns_clock_now(n);
		memcpy(tr->q[tr->qn++], text, sizeof(text));
	} else
		tr->dropped++;
	pthread_mutex_unlock(&tr->mu);
}

int ns_trail_flush(ns *n, int checkpoint)
{
	struct ns_trail *tr = n->trail;
	char (*q)[AUDIT_TEXT_MAX + 1] = NULL;
	int64_t qt[TRAIL_QUEUE_MAX];
	size_t qn;
	uint64_t dropped;
	meta_txn *t = NULL;
	struct audit_rec *r = NULL;
	int rc;

	if (!tr || (n->flags & NS_RDONLY))
		return 0;
	pthread_mutex_lock(&tr->mu);
	qn = tr->qn;
	/* The dropped count is written at most once a minute (and at
	 * unmount): in between it is carried, so a flood costs O(1) records
	 * per minute once its budget is spent. */
	int64_t mono = clock_monotonic_ns();
	dropped = 0;
	if (tr->dropped && ((checkpoint & TRAIL_FINAL) || !tr->drop_rec_ns ||
			    mono - tr->drop_rec_ns >= TRAIL_WINDOW_NS)) {
		dropped = tr->dropped;
		tr->drop_rec_ns = mono;
	}
	if (qn) {
		q = malloc(qn * sizeof(*q));
		if (q) {
			memcpy(q, tr->q, qn * sizeof(*q));
			memcpy(qt, tr->qt, qn * sizeof(qt[0]));
		}
		else
			dropped += qn;
	}
	tr->qn = 0;
	tr->dropped -= dropped;
	pthread_mutex_unlock(&tr->mu);
	if (!q)
		qn = 0;
	if (!qn && !dropped &&
	    (!(checkpoint & 1) || meta_last_txnid(n->me) == atomic_load(&tr->head_txnid)))
		return 0;
	r = malloc(sizeof(*r));
	rc = r ? meta_txn_begin(n->me, 0, &t) : -ENOMEM;
	/* Refusals and heads at each checkpoint keep coming: on a store
	 * nearly out of room they wait (back in the queue, below), so
	 * deletes still commit. */
	int room = 0;
	if (!rc && (rc = meta_txn_room_to_log(t)) != 0)
		room = 1;
	for (size_t i = 0; !rc && i < qn; i++)
		rc = audit_append(t, tr->keys.audit, qt[i], q[i], r);
	if (!rc && dropped) {
		char text[96];
		snprintf(text, sizeof(text), "kind=audit-dropped count=%" PRIu64
			 " rule=refusal-queue-full", dropped);
		rc = audit_append(t, tr->keys.audit, ns_clock_now(n), text, r);
	}
	if (!rc)
		rc = advance(n, t);
	if (!rc) {
		rc = meta_txn_commit(t);
	} else if (t) {
		meta_txn_abort(t);
	}
	if (rc) {
		/* Lost records are counted: the next flush says how many. Ones
		 * refused for want of room wait, ahead of those queued since,
		 * as far as the queue holds them: the refusals themselves are
		 * recorded once room is made, not only their count. */
		size_t keep = 0;
		pthread_mutex_lock(&tr->mu);
		if (room && qn) {
			keep = TRAIL_QUEUE_MAX - tr->qn;
			if (keep > qn)
				keep = qn;
			memmove(tr->q + keep, tr->q, tr->qn * sizeof(*tr->q));
			memmove(tr->qt + keep, tr->qt, tr->qn * sizeof(tr->qt[0]));
			memcpy(tr->q, q, keep * sizeof(*q));
			memcpy(tr->qt, qt, keep * sizeof(qt[0]));
			tr->qn += keep;
		}
		tr->dropped += qn - keep + dropped;
		pthread_mutex_unlock(&tr->mu);
	}
	free(q);
	free(r);
	return rc;
}

int ns_audit_note_txn(ns *n, meta_txn *t, const char *kind, const char *text)
{
	char line[AUDIT_TEXT_MAX + 1];
	struct audit_rec *r;
	int rc;

	if (!n->trail || (n->flags & NS_RDONLY))
		return -EROFS;
	snprintf(line, sizeof(line), "kind=%s %s uid=%u", kind, text, (unsigned)getuid());
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = audit_append(t, n->trail->keys.audit, ns_clock_now(n), line, r);
	free(r);
	return rc ? rc : advance(n, t);
}

int ns_audit_note(ns *n, const char *kind, const char *text)
{
	meta_txn *t = NULL;
	int rc;

	if (!n->trail || (n->flags & NS_RDONLY))
		return -EROFS;
	rc = meta_txn_begin(n->me, 0, &t);
	if (!rc)
		rc = ns_audit_note_txn(n, t, kind, text);
	if (!rc)
		rc = meta_txn_commit(t);
	else if (t)
		meta_txn_abort(t);
	if (!rc)
		rc = ns_durable(n);
	return rc;
}

/* ---- open / close ------------------------------------------------------- */

static int same_head(const struct whead *a, const struct whead *b)
{
	uint8_t ea[HEAD_BYTES], eb[HEAD_BYTES];
	head_encode(a, ea);
	head_encode(b, eb);
	return !memcmp(ea, eb, sizeof(ea));
}

/* STORE/head against meta/: 0, or -ESTALE with the reason in msg. */
static int check_file(ns *n, meta_txn *t, int have_m, const struct whead *m,
		      char *msg, size_t len)
{
	struct ns_trail *tr = n->trail;
	struct whead f, x;
	int rc = head_file_read(tr->head_path, tr->keys.pk, tr->keys.mac, &f);

	if (rc == -ENOENT) {
		/* The first head reaches STORE/head before meta/ (ns_trail_open):
		 * a head in meta/ without the file means the file was deleted. */
		if (!have_m)
			return 0;
		snprintf(msg, len, "%s is missing but meta/ is at store head %" PRIu64
			 ": the head file was deleted (restore it from a backup)",
			 tr->head_path, m->seq);
		return -ESTALE;
	}
	if (rc) {
		snprintf(msg, len, "%s is damaged or not signed by this store's key",
			 tr->head_path);
		return -ESTALE;
	}
	if (!have_m && f.seq == 1) {
		/* A crash after STORE/head got the first head, before meta/ did:
		 * the first head is made again. */
		wlog(WLOG_WARN, "%s holds a first store head that meta/ lacks (an interrupted "
		     "first head): making it again", tr->head_path);
		return 0;
	}
	if (!have_m) {
		snprintf(msg, len, "metadata rollback: meta/ has no store head but %s records "
			 "head %" PRIu64 ": meta/ was replaced by an older copy", tr->head_path,
			 f.seq);
		return -ESTALE;
	}
	if (f.seq > m->seq) {
		snprintf(msg, len, "metadata rollback: meta/ is at store head %" PRIu64 " but %s "
			 "records head %" PRIu64 ": meta/ was restored from an older copy",
			 m->seq, tr->head_path, f.seq);
		return -ESTALE;
	}
	/* meta/ may be ahead of the file (a crash before the file was
	 * written), but only along the same chain. */
	if (head_kv_get(t, f.seq, &x) || !same_head(&x, &f)) {
		snprintf(msg, len, "metadata rollback: head %" PRIu64 " in %s is not in meta/'s "
			 "chain: meta/ was replaced by another copy", f.seq, tr->head_path);
		return -ESTALE;
	}
	tr->published = f.seq;
	return 0;
}

/* The time of the audit trail's last record, if authentic (0: none). */
static int64_t tip_time(struct ns_trail *tr, meta_txn *t)
{
	struct audit_rec *r = malloc(sizeof(*r));
	uint64_t tip = 0;
	uint8_t th[32];
	int64_t time_s = 0;

	if (r && !audit_tip(t, &tip, th) && tip && !audit_get(t, tip, r) && r->seq == tip &&
	    !audit_check(r, tr->keys.audit))
		time_s = r->time_s;
	free(r);
	return time_s;
}

int ns_trail_open(ns *n, char *err, size_t errlen)
{
	struct ns_trail *tr = calloc(1, sizeof(*tr));
	struct whead m;
	meta_txn *t = NULL;
	char msg[8192] = "";
	int rc, have_m;

	if (!tr)
		return -ENOMEM;
	pthread_mutex_init(&tr->mu, NULL);
	pthread_mutex_init(&tr->pub_mu, NULL);
	n->trail = tr;
	rc = head_keys_derive(n->reckey, &tr->keys);
	if (rc)
		return rc;
	/* A cut path would read and write the head elsewhere. */
	rc = store_subpath(n->st, HEAD_FILE, tr->head_path, sizeof(tr->head_path));
	if (rc)
		return rc;
	/* Before a first head is made below, at a clock not started yet. */
	if (!meta_txn_begin(n->me, 1, &t)) {
		tr->tip_time_s = tip_time(tr, t);
		meta_txn_abort(t);
		t = NULL;
	}
	if (n->flags & NS_RDONLY)
		return 0;   /* readers report (ns_head_verify), never refuse */
	tr->q = calloc(TRAIL_QUEUE_MAX, sizeof(*tr->q));
	if (!tr->q)
		return -ENOMEM;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = head_kv_get(t, 0, &m);
	have_m = rc == 0;
	if (rc && rc != -ENOENT) {
		snprintf(msg, sizeof(msg), "the store head record in meta/ is damaged");
		rc = -ESTALE;
	} else if (have_m && head_verify(&m, tr->keys.pk, tr->keys.mac)) {
		snprintf(msg, sizeof(msg), "the store head in meta/ fails authentication");
		rc = -ESTALE;
	} else {
		rc = check_file(n, t, have_m, &m, msg, sizeof(msg));
	}
	meta_txn_abort(t);
	if (rc) {
		wlog_seterr(err, errlen, "%s: refusing to open: %s (wormctl verify shows "
			    "more; see README, Tamper evidence)", store_path(n->st), msg);
		if (!err)
			wlog(WLOG_ERR, "%s", msg);
		return rc;
	}
	if (!have_m) {
		/* A new store, or one from before heads: its first head, in
		 * STORE/head before meta/ commits it, so that a head in meta/
		 * always has its file and deleting the file is never taken for
		 * a crash. */
		struct whead h1;
		if (!(n->flags & NS_INITIALIZING))
			wlog(WLOG_WARN, "%s: meta/ has no store head: making the first one (a "
			     "store from before store heads; if it had heads, meta/ and %s were "
			     "restored from before them: check wormctl verify --since against a "
			     "head kept off-host)", store_path(n->st), tr->head_path);
		/* A store wormctl init makes with the legacy bind's marker (not
		 * under its test hook) says so in this first record, which
		 * outlives a deleted marker (ns_bind.c: the walk is then not
		 * run, and the hook refused, as after a pass). */
		const char *rule = (n->flags & NS_INITIALIZING) && !n->test_unbound ?
				   NS_TRAIL_RULE_INIT : NULL;
		rc = meta_txn_begin(n->me, 0, &t);
		if (!rc)
			rc = ns_trail_event(n, t, "store-head", "start", 0, NULL, -1, rule, NULL);
		if (!rc)
			rc = head_kv_get(t, 0, &h1);
		if (!rc)
			rc = head_file_write(tr->head_path, &h1);
		if (!rc)
			rc = meta_txn_commit(t);
		else if (t)
			meta_txn_abort(t);
		if (!rc)
			rc = meta_sync(n->me);
		if (rc)
			return rc;
	}
	ns_trail_publish(n, 0);
	return 0;
}

void ns_trail_final(ns *n)
{
	/* The daemon's unmount is a checkpoint. An offline wormctl open
	 * makes its heads with its records (ns_audit_note): a refused
	 * command changes neither the head nor STORE/head. */
	int checkpoint = !(n->flags & NS_OFFLINE);
	if (n->trail && !(n->flags & NS_RDONLY) && n->trail->q &&
	    !ns_trail_flush(n, checkpoint | TRAIL_FINAL) && !meta_sync(n->me))
		ns_trail_publish(n, 0);
}

void ns_trail_close(ns *n)
{
	struct ns_trail *tr = n->trail;
	if (!tr)
		return;
	head_keys_free(&tr->keys);
	free(tr->q);
	pthread_mutex_destroy(&tr->mu);
	pthread_mutex_destroy(&tr->pub_mu);
	free(tr);
	n->trail = NULL;
}

/* ---- reading ------------------------------------------------------------ */

int ns_trail_had_digest(ns *n)
{
	struct ns_trail *tr = n->trail;
	struct whead h;
	meta_txn *t = NULL;
	int had = 0;

	if (!tr)
		return 0;
	/* STORE/head first: outside meta/, what a downgrade of meta/ cannot
	 * reach; then meta/'s own latest head (signed: it cannot be edited). */
	if (!head_file_read(tr->head_path, tr->keys.pk, tr->keys.mac, &h))
		had = h.has_state;
	if (!had && !meta_txn_begin(n->me, 1, &t)) {
		if (!head_kv_get(t, 0, &h) && !head_verify(&h, tr->keys.pk, tr->keys.mac))
			had = h.has_state;
		meta_txn_abort(t);
	}
	return had;
}

int64_t ns_trail_time(ns *n)
{
	struct ns_trail *tr = n->trail;
	struct whead h;
	meta_txn *t = NULL;
	int64_t time_s = 0;

	if (!tr || meta_txn_begin(n->me, 1, &t))
		return 0;
	if (!head_kv_get(t, 0, &h) && !head_verify(&h, tr->keys.pk, tr->keys.mac))
		time_s = h.time_s;
	meta_txn_abort(t);
	/* The audit trail's last record as the open found it: a
	 * compliance-clock time too, still there when every head was
	 * deleted (meta/'s and STORE/head: the open then makes a first head,
	 * as for a store from before heads, before the clock starts). */
	return tr->tip_time_s > time_s ? tr->tip_time_s : time_s;
}

int ns_head_get(ns *n, struct whead *out, uint8_t pk[32])
{
	meta_txn *t = NULL;
	int rc;

	if (!n->trail)
		return -ENOENT;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = head_kv_get(t, 0, out);
	meta_txn_abort(t);
	if (pk)
		memcpy(pk, n->trail->keys.pk, 32);
	return rc;
}

/* Walk the chain from head `from` to cur: each head present, signed,
 * linked to the one before. 0 or the seq where it breaks (*why set). */
static uint64_t chain_break(ns *n, meta_txn *t, const struct whead *from,
			    const struct whead *cur, const char **why)
{
	struct whead a = *from, b;
	for (uint64_t s = from->seq + 1; s <= cur->seq; s++) {
		if (head_kv_get(t, s, &b)) {
			*why = "missing or malformed";
			return s;
		}
		if (head_verify(&b, n->trail->keys.pk, n->trail->keys.mac)) {
			*why = "fails authentication";
			return s;
		}
		if (head_follows(&a, &b)) {
			*why = "does not follow the head before it";
			return s;
		}
		a = b;
	}
	if (!same_head(&a, cur)) {
		*why = "differs from the latest head";
		return cur->seq;
	}
	return 0;
}

int ns_head_since(ns *n, uint64_t seq, const uint8_t hash[32], char *msg, size_t len)
{
	struct whead cur, x;
	uint8_t hx[HEAD_HASHBYTES];
	meta_txn *t = NULL;
	const char *why = NULL;
	uint64_t at;
	int rc;

	if (!n->trail)
		return -ENOENT;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = head_kv_get(t, 0, &cur);
	if (rc == -ENOENT) {
		snprintf(msg, len, "rollback: the store has no head, the given head is %" PRIu64,
			 seq);
		rc = -ESTALE;
	} else if (rc) {
		snprintf(msg, len, "the store head record is damaged");
	} else if (head_verify(&cur, n->trail->keys.pk, n->trail->keys.mac)) {
		snprintf(msg, len, "the store head fails authentication");
		rc = -EBADMSG;
	} else if (seq > cur.seq) {
		snprintf(msg, len, "rollback: the store is at head %" PRIu64 ", before the given "
			 "head %" PRIu64 " (restored from an older copy)", cur.seq, seq);
		rc = -ESTALE;
	} else if (head_kv_get(t, seq, &x) || head_hash(&x, hx) ||
		   !wcrypto_equal(hx, hash, sizeof(hx))) {
		snprintf(msg, len, "rollback: the store's head %" PRIu64 " is not the given one "
			 "(an older copy changed since, or another store)", seq);
		rc = -ESTALE;
	} else if ((at = chain_break(n, t, &x, &cur, &why)) != 0) {
		snprintf(msg, len, "the head chain is broken at head %" PRIu64 " (%s)", at, why);
		rc = -ESTALE;
	} else {
		snprintf(msg, len, "the store is at head %" PRIu64 ", at or after head %" PRIu64,
			 cur.seq, seq);
	}
	meta_txn_abort(t);
	return rc;
}

long ns_head_verify(ns *n, ns_damage_cb cb, void *arg)
{
	struct ns_trail *tr = n->trail;
	struct whead cur, first, f;
	meta_txn *t = NULL;
	const char *why = NULL;
	char what[8192];
	uint64_t at, aseq;
	uint8_t ah[32];
	long bad = 0;
	int rc, frc;

	if (!tr)
		return -ENOENT;
	/* STORE/head first, then the snapshot of meta/: on a mounted store the
	 * daemon writes STORE/head only after meta/ holds that head, so read in
	 * this order meta/ is never behind the file unless it was rolled back
	 * (read the other way round, a head made in between looked like one). */
	frc = head_file_read(tr->head_path, tr->keys.pk, tr->keys.mac, &f);
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
#define BAD(...) do { snprintf(what, sizeof(what), __VA_ARGS__); bad++; \
		if (cb) cb(arg, "store-head", what); } while (0)
	rc = head_kv_get(t, 0, &cur);
	if (rc == -ENOENT) {
		/* A store never opened for writing by a build with heads. */
		/* A first head interrupted after STORE/head (see check_file) is
		 * made again at the next writable open. */
		rc = frc == -ENOENT || frc == 0 ? frc
			: head_file_read(tr->head_path, tr->keys.pk, NULL, &f);
		if (rc != -ENOENT && (rc || f.seq != 1))
			BAD("metadata rollback: meta/ has no store head but %s exists",
			    tr->head_path);
		meta_txn_abort(t);
		return bad;
	}
	if (rc) {
		BAD("the latest store head record is damaged");
		meta_txn_abort(t);
		return bad;
	}
	if (head_verify(&cur, tr->keys.pk, tr->keys.mac))
		BAD("the latest store head (%" PRIu64 ") fails authentication", cur.seq);
	if (head_kv_get(t, 1, &first) || head_verify(&first, tr->keys.pk, tr->keys.mac))
		BAD("store head 1 is missing or fails authentication");
	else if ((at = chain_break(n, t, &first, &cur, &why)) != 0)
		BAD("the head chain is broken at head %" PRIu64 " (%s)", at, why);
	rc = frc;
	if (rc == -ENOENT) {
		if (cur.seq >= 1)
			BAD("%s is missing (meta/ is at head %" PRIu64 ")", tr->head_path, cur.seq);
	} else if (rc) {
		BAD("%s is damaged or not signed by this store's key", tr->head_path);
	} else if (f.seq > cur.seq) {
		BAD("metadata rollback: meta/ is at store head %" PRIu64 " but %s records head %"
		    PRIu64, cur.seq, tr->head_path, f.seq);
	} else {
		struct whead x;
		if (head_kv_get(t, f.seq, &x) || !same_head(&x, &f))
			BAD("metadata rollback: head %" PRIu64 " in %s is not in meta/'s chain",
			    f.seq, tr->head_path);
	}
	if (audit_tip(t, &aseq, ah) || aseq != cur.audit_seq ||
	    !wcrypto_equal(ah, cur.audit_hash, 32))
		BAD("the audit trail's tip does not match the store head (wormctl audit verify)");
#undef BAD
	meta_txn_abort(t);
	return bad;
}

struct audit_vctx {
	ns_damage_cb cb;
	void *arg;
};

static int audit_damage(void *arg, uint64_t seq, const char *what)
{
	struct audit_vctx *v = arg;
	char where[48];
	snprintf(where, sizeof(where), "audit record %" PRIu64, seq);
	return v->cb ? v->cb(v->arg, where, what) : 0;
}

long ns_audit_verify(ns *n, ns_damage_cb cb, void *arg)
{
	struct audit_vctx v = { cb, arg };
	struct whead cur;
	meta_txn *t = NULL;
	long bad = 0;
	int rc;

	if (!n->trail)
		return -ENOENT;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = head_kv_get(t, 0, &cur);
	if (rc == -ENOENT) {
		memset(&cur, 0, sizeof(cur));
	} else if (rc || head_verify(&cur, n->trail->keys.pk, n->trail->keys.mac)) {
		bad++;
		if (cb)
			cb(arg, "store-head", "the store head is damaged: the audit tail cannot "
			   "be checked");
		memset(&cur, 0, sizeof(cur));
		uint64_t s = 0;
		/* A damaged tip record too: check the records alone (it was
		 * read uninitialized before). */
		if (audit_tip(t, &s, cur.audit_hash)) {
			s = 0;
			memset(cur.audit_hash, 0, sizeof(cur.audit_hash));
		}
		cur.audit_seq = s;
	}
	long r = audit_verify(t, n->trail->keys.audit, cur.audit_seq, cur.audit_hash,
			      audit_damage, &v);
	meta_txn_abort(t);
	return r < 0 ? r : bad + r;
}

/* The last record to show: the authenticated head's audit tip, else
 * audit_tip. Either may be edited offline to a huge number, so the walks
 * below also stop after AUDIT_GAP_MAX missing records in a row (a reader
 * of .wormfs/audit must not spin the daemon; audit verify names the
 * damage). */
#define AUDIT_GAP_MAX 1024
static uint64_t shown_tip(ns *n, meta_txn *t)
{
	struct whead cur;
	uint8_t h[32];
	uint64_t tip = 0;

	if (!head_kv_get(t, 0, &cur) &&
	    !head_verify(&cur, n->trail->keys.pk, n->trail->keys.mac))
		return cur.audit_seq;
	/* A damaged tip record leaves tip 0: nothing beyond what the
	 * head vouches for is shown, and audit verify names the damage. */
	if (audit_tip(t, &tip, h))
		tip = 0;
	return tip;
}

int ns_audit_list(ns *n, int64_t since_s, ns_audit_cb cb, void *arg)
{
	struct audit_rec *r;
	meta_txn *t = NULL;
	uint64_t tip = 0;
	int rc;

	if (!n->trail)
		return -ENOENT;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc) {
		free(r);
		return rc;
	}
	tip = shown_tip(n, t);
	rc = 0;
	for (uint64_t s = 1, gap = 0; !rc && s <= tip && gap < AUDIT_GAP_MAX; s++) {
		int g = audit_get(t, s, r);
		gap = g == -ENOENT ? gap + 1 : 0;
		if (g || r->time_s < since_s)
			continue;
		rc = cb(arg, s, r->time_s, r->text,
			r->seq == s && !audit_check(r, n->trail->keys.audit));
	}
	meta_txn_abort(t);
	free(r);
	return rc > 0 ? 0 : rc;
}

int ns_trail_render(ns *n, char **buf, size_t *len)
{
	struct audit_rec *r = malloc(sizeof(*r));
	meta_txn *t = NULL;
	uint64_t tip = 0, start;
	size_t need = 0, cap = 0, pos = 0;
	char *b = NULL, ts[32];
	int rc;

	if (!r)
		return -ENOMEM;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc) {
		free(r);
		return rc;
	}
	tip = shown_tip(n, t);
	/* The latest records that fit TRAIL_RENDER_MAX. */
	for (uint64_t gap = 0; tip >= 1 && audit_get(t, tip, r) == -ENOENT; tip--)
		if (++gap >= AUDIT_GAP_MAX)
			tip = 1;   /* nothing near the tip: show nothing */
	/* Bounded like the walks above: records far below an edited tip
	 * (a re-seal appends after it) are not walked to one by one. */
	start = tip;
	for (uint64_t gap = 0; start >= 1; start--) {
		if (audit_get(t, start, r)) {
			if (++gap >= AUDIT_GAP_MAX)
				break;
			continue;
		}
		gap = 0;
		size_t l = 20 + 21 + 2 + r->len + 1;
		if (need + l > TRAIL_RENDER_MAX)
			break;
		need += l;
	}
	start++;
	cap = need + 128;
	b = malloc(cap);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	if (start > 1)
		pos += (size_t)snprintf(b, cap, "# records 1..%" PRIu64 " omitted: wormctl audit "
					"STORE lists all\n", start - 1);
	for (uint64_t s = start; s <= tip && s > 0; s++) {
		if (audit_get(t, s, r))
			continue;
		if (clock_format_rfc3339(r->time_s, ts, sizeof(ts)))
			snprintf(ts, sizeof(ts), "-");
		int k = snprintf(b + pos, cap - pos, "%" PRIu64 " %s %s\n", s, ts, r->text);
		if (k < 0 || (size_t)k >= cap - pos)
			break;
		pos += (size_t)k;
	}
	*buf = b;
	*len = pos;
out:
	meta_txn_abort(t);
	free(r);
	return rc;
}
