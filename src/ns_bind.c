/* ns_bind: trust on upgrade for objects last committed by an older build
 * (issue 12, design section 7).
 *
 * Why: a node names the commit record it committed (meta_node.commit), so
 * a killed session's record of the same generation put back with its
 * blocks is refused. A node written before that field existed names none,
 * and is never committed again once it is locked; an older authentic copy
 * of its content file would read as its content for ever. So the first
 * writable mount of this build takes the record each such file holds now
 * as the committed one and records its tag in the node (re-MAC'd). That
 * is a trust decision (whatever the file holds at the upgrade is
 * accepted), so it is in the audit trail: one record, kind=legacy-bind,
 * with the count of nodes bound, in the transaction that ends the pass,
 * with a new store head.
 *
 * Bounded: NS_BIND_BATCH nodes per write transaction (a store of 100k
 * objects never holds one large transaction); the running count is kept
 * in kv in each batch's transaction, so a crash or a full disk part way
 * leaves the bound nodes bound and the next open goes on from there; the
 * audit record and the marker (kv legacy_bind) come only at the end.
 *
 * Not bound: a node that fails authentication (never laundered: it stays
 * fail closed and verify names it), a content file whose header or record
 * of the node's generation fails or is missing (reads fail already;
 * verify names it), and content files of formats 1 and 2, which have no
 * commit record (README, Limitations: copy them to rewrite them in
 * format 3). Each kind is counted in the audit record. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns_bind.h"
#include "ns_ctx.h"
#include "ns_offline.h"
#include "ns_record.h"
#include "ns_trail.h"
#include "trail.h"
#include "log.h"

#define KV_BIND_DONE NS_KV_BIND_DONE       /* u32 1: the pass has ended */
#define KV_BIND_COUNT "legacy_bind_count" /* u64: nodes bound so far */
/* u32 1: the audit trail is known to record the pass (or a store made with
 * the marker): stores marked before every pass and init left such a
 * record get one once (note_marked); deleted, it is only looked up again. */
#define KV_BIND_AUDITED "legacy_bind_audited"

struct bind_walk {
	uint64_t *ino;
	size_t n, cap;
	uint64_t named;   /* file nodes that name their commit record */
	int rc;
};

static int is_unbound(const struct meta_node *nd)
{
	static const uint8_t none[META_COMMIT_BYTES], zero_id[16];

	return S_ISREG(nd->mode) && !(nd->flags & META_F_INLINE) &&
	       memcmp(nd->objid, zero_id, sizeof(zero_id)) != 0 &&
	       memcmp(nd->commit, none, sizeof(none)) == 0;
}

/* Unauthenticated here: a filter only; each node is read again through
 * its MAC before it is bound. */
static int walk_cb(void *arg, const struct meta_node *nd)
{
	struct bind_walk *w = arg;
	static const uint8_t none[META_COMMIT_BYTES];

	if (S_ISREG(nd->mode) && memcmp(nd->commit, none, sizeof(none)) != 0)
		w->named++;
	if (!is_unbound(nd))
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 1024;
		uint64_t *v = realloc(w->ino, cap * sizeof(*v));
		if (!v) {
			w->rc = -ENOMEM;
			return 1;
		}
		w->ino = v;
		w->cap = cap;
	}
	w->ino[w->n++] = nd->ino;
	return 0;
}

struct bind_count {
	uint64_t bound, old_format, failed, forged;
};

/* The tag of ino's committed record, or 1 (not to bind; counted). */
static int tag_of(ns *n, uint64_t ino, uint8_t tag[OBJ_COMMIT_BYTES], uint64_t *gen,
		  struct bind_count *c)
{
	struct meta_node nd;
	struct obj_ref r;
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 1, &t);

	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	meta_txn_abort(t);
	if (rc == -ENOENT)
		return 1;   /* gone meanwhile */
	if (rc)
		return rc;
	if (nd.flags & NS_F_AUTH_FAILED) {
		c->forged++;
		return 1;
	}
	if (!is_unbound(&nd))
		return 1;
	/* The commit record is unset here (is_unbound) and the tag read
	 * looks at no block: the common conversion gives the same ref. */
	ns_node_ref(&nd, &r);
	*gen = nd.generation;
	rc = obj_commit_tag(n->st, n->km, &r, (uint64_t)clock_monotonic_ns(), tag);
	if (rc == -ENOTSUP) {
		c->old_format++;
		return 1;
	}
	if (rc == -ENOENT && nd.generation == 0)
		return 1;   /* nothing committed into it yet */
	if (rc == -EIO || rc == -ENOENT) {
		char id[33];
		wcrypto_hex(id, nd.objid, 16);
		wlog(WLOG_ERR, "legacy bind: object %s (inode %" PRIu64 "): %s: not bound (see "
		     "wormctl verify)", id, ino, rc == -EIO ? "its header or commit record fails "
		     "authentication" : "no content file or no commit record of its generation");
		c->failed++;
		return 1;
	}
	return rc;
}

/* One batch: tags read outside the transaction (file I/O, KMS), then
 * each node re-read, checked unchanged and bound in one write txn. */
static int bind_batch(ns *n, const uint64_t *ino, size_t cnt, struct bind_count *c)
{
	uint8_t (*tags)[OBJ_COMMIT_BYTES] = calloc(cnt, OBJ_COMMIT_BYTES);
	uint64_t gens[NS_BIND_BATCH], total = 0;
	int have[NS_BIND_BATCH] = { 0 };
	uint64_t bound = 0;
	meta_txn *t = NULL;
	size_t len = 0;
	int rc, stop = 0;

	if (!tags)
		return -ENOMEM;
	for (size_t i = 0; i < cnt && !stop; i++) {
		int r = tag_of(n, ino[i], tags[i], &gens[i], c);

		if (r < 0)
			stop = r;   /* KMS, I/O: bind what was read, then stop */
		else
			have[i] = r == 0;
	}
	rc = meta_txn_begin(n->me, 0, &t);
	for (size_t i = 0; i < cnt && !rc; i++) {
		struct meta_node nd;

		if (!have[i])
			continue;
		rc = ns_node_get(n, t, ino[i], &nd);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc || (nd.flags & NS_F_AUTH_FAILED) || !is_unbound(&nd) ||
		    nd.generation != gens[i])
			continue;
		memcpy(nd.commit, tags[i], OBJ_COMMIT_BYTES);
		rc = ns_node_put(n, t, &nd);
		if (!rc)
			bound++;
	}
	if (!rc && bound) {
		if (meta_kv_get(t, KV_BIND_COUNT, &total, sizeof(total), &len) || len != sizeof(total))
			total = 0;
		total += bound;
		rc = meta_kv_put(t, KV_BIND_COUNT, &total, sizeof(total));
	}
	if (t) {
		if (rc || !bound)
			meta_txn_abort(t);
		else
			rc = meta_txn_commit(t);
	}
	if (!rc) {
		c->bound += bound;
		ns_crash_point(n, "bind");
	}
	free(tags);
	return rc ? rc : stop;
}

/* The end of the pass: the audit record (with a head) and the marker. */
static int bind_done(ns *n, const struct bind_count *c, int64_t t0)
{
	uint64_t total = 0;
	uint32_t one = 1;
	size_t len = 0;
	char extra[200];
	meta_txn *t = NULL;
	int quiet, rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	if (meta_kv_get(t, KV_BIND_COUNT, &total, sizeof(total), &len) || len != sizeof(total))
		total = 0;
	snprintf(extra, sizeof(extra), "count=%" PRIu64 " old_format=%" PRIu64 " unreadable=%"
		 PRIu64 " forged=%" PRIu64, total, c->old_format, c->failed, c->forged);
	/* Nothing found (a store with no file content, or bound already):
	 * no trust decision was made, only the marker, and quietly; the
	 * audit record all the same: it, not the marker, tells a later open
	 * that a pass ended (a marker deleted is then put back). */
	quiet = !total && !c->old_format && !c->failed && !c->forged;
	rc = ns_trail_note(n, t, "legacy-bind", "bind", "store-upgrade", extra);
	if (!rc)
		rc = meta_kv_put(t, KV_BIND_DONE, &one, sizeof(one));
	if (!rc)
		rc = meta_kv_put(t, KV_BIND_AUDITED, &one, sizeof(one));
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = ns_durable(n);   /* synced, and the head published */
	if (!rc && !quiet)
		wlog(WLOG_WARN, "legacy bind: %" PRIu64 " object(s) committed by an older build "
		     "bound to the commit record their content file holds now (trust on upgrade, "
		     "in the audit trail); not bound: %" PRIu64 " in format 1 or 2, %" PRIu64
		     " unreadable, %" PRIu64 " whose record fails authentication; %" PRId64
		     " ms", total, c->old_format, c->failed, c->forged,
		     (clock_monotonic_ns() - t0) / 1000000);
	return rc;
}

int ns_bind_hook(void)
{
	const char *e = secure_getenv("WORMFS_TEST_UNBOUND");

	return e && !strcmp(e, "1");
}

int ns_bind_init_store(meta_txn *t)
{
	uint32_t one = 1;

	if (ns_bind_hook())
		return 0;   /* a store as an older build made it */
	int rc = meta_kv_put(t, KV_BIND_DONE, &one, sizeof(one));
	/* Its first audit record says so (ns_trail_open, rule=store-init). */
	return rc ? rc : meta_kv_put(t, KV_BIND_AUDITED, &one, sizeof(one));
}

/* wormctl upgrade ran (kind=format-upgrade): it names the commit record
 * of each object it rewrote, also on a store from before the bind whose
 * pass has not run yet. A run killed after its first swap left only its
 * start record (op=upgrade-start, committed with that swap). */
static int upgraded_cb(void *arg, uint64_t seq, int64_t time_s, const char *text,
		       int authentic)
{
	(void)seq;
	(void)time_s;
	if (!authentic || (strncmp(text, "kind=format-upgrade op=upgrade ", 31) != 0 &&
			   strncmp(text, "kind=format-upgrade op=upgrade-start ", 37) != 0))
		return 0;
	*(int *)arg = 1;
	return 1;
}

static int restore_marker(ns *n, uint64_t seq)
{
	uint32_t one = 1;
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (!rc)
		rc = meta_kv_put(t, KV_BIND_DONE, &one, sizeof(one));
	if (!rc)
		rc = meta_txn_commit(t);
	else if (t)
		meta_txn_abort(t);
	if (seq)
		wlog(WLOG_ERR, "legacy bind: the marker is missing but audit record %" PRIu64
		     " records a pass that ended: not run again (it would bind a node record put "
		     "back from before it to whatever its content file holds now); marker %s", seq,
		     rc ? "not restored" : "restored");
	else
		wlog(WLOG_ERR, "legacy bind: the marker is missing but file nodes name their "
		     "commit record and no pass is in progress (a store made, or committed into, "
		     "by a build with the bind): not run (it would bind a node record put back "
		     "to whatever its content file holds now); marker %s",
		     rc ? "not restored" : "restored");
	return rc;
}

void ns_bind_load(ns *n)
{
	uint32_t done = 0;
	size_t len = 0;
	meta_txn *t = NULL;

	n->bind_done = 0;
	if (meta_txn_begin(n->me, 1, &t))
		return;
	n->bind_done = !meta_kv_get(t, KV_BIND_DONE, &done, sizeof(done), &len) &&
		       len == sizeof(done) && done == 1;
	meta_txn_abort(t);
}

/* A marked store whose trail may not say so (made, or its pass ended
 * quietly, before every marked store's trail did): the trail is read once;
 * if it records no pass (nor the store's making with the marker), a
 * legacy-bind record (count=0, rule=store-marked) is written, so a marker
 * deleted later is put back rather than taken for a store from before the
 * bind. Best effort: logged, tried again at the next mount. */
static void note_marked(ns *n)
{
	uint32_t one = 1, a = 0;
	size_t len = 0;
	uint64_t seq = 0;
	meta_txn *t = NULL;
	int had, rc = meta_txn_begin(n->me, 1, &t);

	if (rc)
		goto out;
	rc = meta_kv_get(t, KV_BIND_AUDITED, &a, sizeof(a), &len);
	meta_txn_abort(t);
	if (!rc && len == sizeof(a) && a == 1)
		return;
	had = ns_bind_audited(n, &seq);
	if (had < 0 && had != -ENOENT) {
		rc = had;
		goto out;
	}
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		goto out;
	if (had <= 0)
		rc = ns_trail_note(n, t, "legacy-bind", "bind", "store-marked",
				   "count=0 old_format=0 unreadable=0 forged=0");
	if (!rc)
		rc = meta_kv_put(t, KV_BIND_AUDITED, &one, sizeof(one));
	if (rc) {
		meta_txn_abort(t);
		goto out;
	}
	rc = meta_txn_commit(t);
	if (!rc && had <= 0)
		rc = ns_durable(n);
out:
	if (rc)
		wlog(WLOG_WARN, "legacy bind: the marker's audit record not checked or written: %s "
		     "(tried again at the next mount)", strerror(-rc));
}

/* A pass stopped before it bound anything: its running count set to 0
 * (a pass in progress), unless one is there already. */
static void in_progress(ns *n)
{
	uint64_t zero = 0, cnt = 0;
	size_t len = 0;
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (!rc && meta_kv_get(t, KV_BIND_COUNT, &cnt, sizeof(cnt), &len) == -ENOENT)
		rc = meta_kv_put(t, KV_BIND_COUNT, &zero, sizeof(zero));
	if (!rc)
		rc = meta_txn_commit(t);
	else if (t)
		meta_txn_abort(t);
	if (rc)
		wlog(WLOG_ERR, "legacy bind: the pass not recorded as in progress: %s (commits of "
		     "this session may make the next mount take the store for a bound one)",
		     strerror(-rc));
}

void ns_bind_legacy(ns *n)
{
	struct bind_walk w = { 0 };
	struct bind_count c = { 0 };
	uint32_t done = 0;
	size_t len = 0;
	meta_txn *t = NULL;
	int64_t t0 = clock_monotonic_ns();
	int rc;

	if (n->flags & (NS_RDONLY | NS_OFFLINE)) {
		n->test_unbound = 0;   /* no commits here anyway */
		return;
	}
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto fail;
	if (!meta_kv_get(t, KV_BIND_DONE, &done, sizeof(done), &len) && len == sizeof(done) &&
	    done == 1) {
		meta_txn_abort(t);
		/* The test hook only makes a store as an older build made it:
		 * on a store bound already (or new) it would leave every commit
		 * unbound for good, a killed session's record then readable as
		 * the object (review of issue 12). */
		if (n->test_unbound) {
			n->test_unbound = 0;
			wlog(WLOG_ERR, "WORMFS_TEST_UNBOUND=1 ignored: this store's objects are "
			     "bound to their commit record (a test hook for stores made by an "
			     "older build only)");
		}
		note_marked(n);
		return;
	}
	meta_txn_abort(t);
	t = NULL;
	if (n->digest_bad) {
		wlog(WLOG_ERR, "legacy bind skipped: the metadata state digest does not match");
		return;
	}
	{
		/* A pass already ended on this store, by its audit trail: a
		 * marker deleted (the state digest then re-sealed) must not
		 * re-run the walk, which would take a node record put back from
		 * before the bind, with a replayed content file, as never bound
		 * and bind the replay. */
		uint64_t seq = 0;
		rc = ns_bind_audited(n, &seq);
		if (rc < 0 && rc != -ENOENT)
			goto fail;
		if (rc > 0) {
			n->test_unbound = 0;
			(void)restore_marker(n, seq);
			return;
		}
	}
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto fail;
	rc = meta_node_foreach(t, walk_cb, &w);
	{
		uint64_t cnt = 0;
		/* A pass in progress (killed between batches) has its count. */
		int counting = !rc && !meta_kv_get(t, KV_BIND_COUNT, &cnt, sizeof(cnt), &len);
		meta_txn_abort(t);
		if (!rc)
			rc = w.rc;
		/* A store made by a build with the bind (before its first audit
		 * record said so, 8dc80a9) has no record of a pass either: its
		 * file nodes naming their commit record tell (an older build's
		 * never do until a pass binds them, which keeps its count, or
		 * wormctl upgrade rewrites them, which is in the trail). The
		 * marker deleted, the digest re-sealed, must not let the hook
		 * or the walk in (review of 8dc80a9). */
		int upgraded = 0;
		if (!rc && w.named && !counting) {
			rc = ns_audit_list(n, 0, upgraded_cb, &upgraded);
			if (rc == -ENOENT)
				rc = 0;
		}
		if (!rc && w.named && !counting && !upgraded) {
			n->test_unbound = 0;
			(void)restore_marker(n, 0);
			free(w.ino);
			return;
		}
	}
	/* Nor the hook on a store with such nodes at all (a running count
	 * is a plain record: one added must not let it in): it only makes
	 * a store as an older build made it, whose nodes never name one. */
	if (!rc && n->test_unbound && w.named) {
		n->test_unbound = 0;
		wlog(WLOG_ERR, "WORMFS_TEST_UNBOUND=1 ignored: file nodes of this store name "
		     "their commit record (a test hook for stores made by an older build only)");
	}
	if (!rc && n->test_unbound) {
		free(w.ino);
		wlog(WLOG_WARN, "WORMFS_TEST_UNBOUND=1: legacy bind skipped and commits name no "
		     "commit record (a test hook: the store stays as an older build leaves it)");
		return;
	}
	for (size_t i = 0; !rc && i < w.n; i += NS_BIND_BATCH)
		rc = bind_batch(n, w.ino + i, w.n - i < NS_BIND_BATCH ? w.n - i : NS_BIND_BATCH, &c);
	if (!rc)
		rc = bind_done(n, &c, t0);
	free(w.ino);
	if (!rc)
		return;
fail:
	n->test_unbound = 0;
	wlog(WLOG_ERR, "legacy bind stopped: %s (%" PRIu64 " object(s) bound in this pass; the "
	     "rest is bound at the next mount)", strerror(-rc), c.bound);
	/* This session's commits name their commit record: without a
	 * running count (nothing bound yet) the next mount would take those
	 * nodes for a store made with the bind, put the marker back and
	 * leave the older objects unbound (reading EIO). A count of 0 keeps
	 * the pass in progress (review rvleg3). */
	in_progress(n);
}
