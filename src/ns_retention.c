/* ns_retention: a bucket's default retention reaching its objects: whether
 * it applies to an object, the pending mark (META_F_DEFAULT_PENDING) that
 * lets a crash before the last writer's release be repaired at the next
 * open, that repair, and autocommit (below). The lock attributes
 * themselves are set in ns_xattr.c. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ns_inode.h"
#include "ns_path.h"
#include "ns_record.h"
#include "ns_retention.h"
#include "ns_trail.h"
#include "log.h"

/* Commit pending content changes: final block re-sealed, size and
 * generation recorded; at a writer's close the bucket's default retention
 * is applied. Called with in->rw held for writing. */
int ns_bucket_default(ns *n, meta_txn *t, const struct meta_node *nd)
{
	struct meta_node b;
	int rc;

	if (!S_ISREG(nd->mode) || nd->sealed || (nd->flags & META_F_STAGING))
		return 0;     /* staging: exempt (ns.h, ns_create_staging) */
	rc = ns_bucket_of(n, t, nd, &b);
	/* In an autocommit bucket the default lands when the object has
	 * been idle for the period (autocommit, below), not at the release. */
	return rc ? rc : policy_default_at_close(b.def_mode, b.autocommit_s);
}

int ns_pending_mark(ns *n, meta_txn *t, struct meta_node *nd, int on)
{
	uint64_t count = 0;
	size_t len;
	int was = (nd->flags & META_F_DEFAULT_PENDING) != 0, rc;
	(void)n;

	if (was == !!on)
		return 0;
	if (meta_kv_get(t, "pending_defaults", &count, sizeof(count), &len))
		count = 0;
	count = on ? count + 1 : (count ? count - 1 : 0);
	rc = meta_kv_put(t, "pending_defaults", &count, sizeof(count));
	if (on)
		nd->flags |= META_F_DEFAULT_PENDING;
	else
		nd->flags &= ~(uint32_t)META_F_DEFAULT_PENDING;
	return rc;
}

struct pending_list {
	uint64_t ino[1024];
	size_t n;
	uint64_t after;           /* collect inodes after this one */
	uint64_t left;            /* counting pass: records still pending */
};

static int pending_cb(void *arg, const struct meta_node *nd)
{
	struct pending_list *p = arg;
	if (!(nd->flags & META_F_DEFAULT_PENDING) || nd->ino <= p->after)
		return 0;
	p->ino[p->n++] = nd->ino;
	return p->n == 1024;
}

static int pending_count_cb(void *arg, const struct meta_node *nd)
{
	struct pending_list *p = arg;
	p->left += (nd->flags & META_F_DEFAULT_PENDING) != 0;
	return 0;
}

/* Objects whose writers were never released (the daemon stopped between
 * the last close and its RELEASE) get their bucket's default retention
 * now, from the current compliance time: later than the commit, so never
 * shorter than due. Runs at open only when kv "pending_defaults" is set.
 * One that cannot be settled now (its bucket cannot be found, its record
 * fails authentication) stays pending and counted: tried again at the
 * next open, never forgotten. */
int ns_apply_pending(ns *n)
{
	struct pending_list *p;
	meta_txn *t = NULL;
	uint64_t count = 0;
	size_t len;
	long applied = 0;
	int rc;

	if (meta_txn_begin(n->me, 1, &t))
		return 0;
	rc = meta_kv_get(t, "pending_defaults", &count, sizeof(count), &len);
	meta_txn_abort(t);
	if (rc || !count)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	do {
		p->n = 0;
		if (meta_txn_begin(n->me, 1, &t))
			break;
		rc = meta_node_foreach_from(t, p->after, pending_cb, p);
		meta_txn_abort(t);
		/* A walk that failed: the count stays, the next open retries. */
		if (rc < 0)
			break;
		for (size_t i = 0; i < p->n; i++) {
			struct meta_node nd, b;
			int64_t now = ns_clock_now(n);
			p->after = p->ino[i];
			if (meta_txn_begin(n->me, 0, &t))
				continue;
			if (ns_node_get(n, t, p->ino[i], &nd)) {
				meta_txn_abort(t);
				continue;
			}
			/* A bucket that cannot be found leaves it pending. */
			int due = nd.sealed ? 0 : ns_bucket_of(n, t, &nd, &b);
			if (due < 0) {
				meta_txn_abort(t);
				continue;
			}
			int lock = !nd.sealed && policy_default_at_close(b.def_mode, b.autocommit_s);
			/* In an autocommit bucket the writer's release would have
			 * set a deadline: it is set now instead. */
			if (!nd.sealed && !lock && ns_autocommit_schedule(n, t, &nd, &b)) {
				meta_txn_abort(t);
				continue;
			}
			if (lock) {
				nd.lock_mode = b.def_mode;
				nd.retain_until = now + (int64_t)b.def_days * 86400;
				nd.sealed = 1;
				applied++;
			}
			nd.flags &= ~(uint32_t)META_F_DEFAULT_PENDING;
			/* The date too, as at a close: what the node must hold. */
			char v[64] = "", until[32];
			if (lock && !clock_format_rfc3339(nd.retain_until, until, sizeof(until)))
				snprintf(v, sizeof(v), "%s %s", policy_mode_name(nd.lock_mode),
					 until);
			if (ns_node_put(n, t, &nd) ||
			    (lock && ns_trail_event(n, t, "retention", "commit", nd.ino, NULL, -1,
						    "default-retention-at-mount",
						    v[0] ? v : policy_mode_name(nd.lock_mode))))
				meta_txn_abort(t);   /* e.g. a record failing auth: left */
			else if (meta_txn_commit(t))
				/* A disk error: owed to this mount too, not only
				 * the next (ns_owed_run, from ns_tick). */
				atomic_store(&n->owed, 1);
		}
	} while (p->n == 1024);
	/* The count is what is left, so the next open retries it (if it
	 * cannot even be counted, the old count stays). */
	if (!meta_txn_begin(n->me, 1, &t)) {
		rc = meta_node_foreach(t, pending_count_cb, p);
		meta_txn_abort(t);
		if (rc >= 0 && !meta_txn_begin(n->me, 0, &t)) {
			if (meta_kv_put(t, "pending_defaults", &p->left, sizeof(p->left)))
				meta_txn_abort(t);
			else
				/* Not recorded: the old count stays, as above. */
				worm_discard(meta_txn_commit(t));
		}
	}
	if (p->left)
		wlog(WLOG_WARN, "%llu object(s) still wait for their bucket default retention "
		     "(bucket not found or record damaged; see wormctl verify): retried at the "
		     "next mount", (unsigned long long)p->left);
	free(p);
	if (applied)
		wlog(WLOG_WARN, "applied the bucket default retention to %ld object(s) whose "
		     "writers were not released before the last stop", applied);
	return ns_durable(n);
}

/* Autocommit (design section 15). In a bucket with user.worm.autocommit
 * and a default retention, an object's default is not applied at its last
 * writer's release (policy_default_at_close) but once it has had no write
 * handle and no change for the period. Each change (create, last writer's
 * release, rename, setattr) sets the object's deadline in the meta "due"
 * index; ns_tick and the mount take the entries whose deadline has
 * passed, earliest first, without a walk.
 *
 * The lock lands under the same rule as every lock change (ns_priv.h):
 * in a write transaction, holding in->mu, and only while the object has
 * no writer and no uncommitted change; otherwise the deadline moves on by
 * the period. Deadlines are compliance-clock times and the retention
 * counts from the moment the lock lands, so a stop of the daemon delays a
 * lock but never shortens one. */
#define AUTO_BATCH 256          /* entries per tick: a tick stays short */
#define AUTO_RETRY_S 60         /* after a bucket that cannot be read */

static int schedulable(const struct meta_node *nd)
{
	return S_ISREG(nd->mode) && !nd->sealed && nd->nlink > 0 &&
	       !(nd->flags & (NS_F_AUTH_FAILED | META_F_STAGING));
}

int ns_autocommit_schedule(ns *n, meta_txn *t, const struct meta_node *nd,
			   const struct meta_node *bucket)
{
	struct meta_node b;
	int rc;

	if (!schedulable(nd))
		return 0;
	if (!bucket) {
		rc = ns_bucket_of(n, t, nd, &b);
		if (rc)
			return rc;
		bucket = &b;
	}
	if (!bucket->autocommit_s || bucket->def_mode == WORM_NONE)
		return 0;
	return meta_due_set(t, nd->ino,
			    policy_autocommit_deadline(ns_clock_now(n), bucket->autocommit_s));
}

void ns_autocommit_touch(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd, b;
	int due = 0, rc;

	if (n->flags & NS_RDONLY)
		return;
	/* Most releases are in buckets without autocommit: a read first. */
	if (meta_txn_begin(n->me, 1, &t))
		return;
	if (!ns_node_get(n, t, ino, &nd) && schedulable(&nd) && !ns_bucket_of(n, t, &nd, &b))
		due = b.autocommit_s && b.def_mode != WORM_NONE;
	meta_txn_abort(t);
	if (!due || meta_txn_begin(n->me, 0, &t))
		return;
	rc = ns_node_get(n, t, ino, &nd);
	if (!rc)
		rc = ns_autocommit_schedule(n, t, &nd, NULL);
	if (!rc)
		rc = meta_txn_commit(t);
	else
		meta_txn_abort(t);
	if (rc)
		wlog(WLOG_ERR, "inode %llu: cannot set its autocommit deadline: %s",
		     (unsigned long long)ino, strerror(-rc));
}

/* Lock one due object, or move or drop its entry. 1 if locked, 0 if not,
 * -errno if the transaction failed (the entry stays). */
static int autocommit_one(ns *n, uint64_t ino, int64_t deadline, int64_t now)
{
	struct ns_inode *in = ns_inode_get(n, ino);
	struct meta_node nd, b;
	meta_txn *t = NULL;
	int64_t next = 0;       /* > 0: move the entry there */
	int rc, lock = 0;

	if (!in)
		return -ENOMEM;
	/* Lock order as for every lock change: the write transaction, then
	 * in->mu, held until the commit, so a write-open after it sees the
	 * lock and one before it is counted in writers. */
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc) {
		ns_inode_put(n, in);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	int busy = in->writers > 0 || in->dirty || in->releasing > 0;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc == -ENOENT) {
		rc = 0;                         /* gone: drop the entry */
	} else if (rc) {
		goto out;
	} else if (!schedulable(&nd)) {
		;                               /* sealed, unlinked, damaged: drop */
	} else if (ns_bucket_of(n, t, &nd, &b)) {
		next = now + AUTO_RETRY_S;      /* never "no bucket": try again */
	} else if (b.def_mode == WORM_NONE) {
		;                               /* no default to apply: drop */
	} else if (busy) {
		/* A writer (its release sets a new deadline too) or changes
		 * not yet committed: not idle. */
		next = policy_autocommit_deadline(now, b.autocommit_s ? b.autocommit_s : AUTO_RETRY_S);
	} else {
		/* Also when autocommit was turned off since: this object's
		 * release did not apply the default, so it is applied now. */
		nd.lock_mode = b.def_mode;
		nd.retain_until = now + (int64_t)b.def_days * 86400;
		nd.sealed = 1;
		rc = ns_pending_mark(n, t, &nd, 0);
		if (!rc)
			rc = ns_node_put(n, t, &nd);
		if (!rc) {
			/* In the audit trail with the change, like the default
			 * applied at a close. */
			char v[64], until[32];
			clock_format_rfc3339(nd.retain_until, until, sizeof(until));
			snprintf(v, sizeof(v), "%s %s", policy_mode_name(nd.lock_mode), until);
			rc = ns_trail_event(n, t, "retention", "autocommit", ino, NULL, -1,
					    "default-retention", v);
		}
		lock = !rc;
	}
	if (!rc)
		rc = meta_due_del_at(t, deadline, ino);
	if (!rc && next > 0)
		rc = meta_due_set(t, ino, next);
	if (!rc)
		rc = meta_txn_commit(t);
	else
		meta_txn_abort(t);
	t = NULL;
	if (!rc && lock) {
		struct policy_lock lk;
		ns_node_lock(&nd, &lk);
		in->sealed |= policy_content_frozen(&lk, now);
	}
out:
	if (t)
		meta_txn_abort(t);
	pthread_mutex_unlock(&in->mu);
	ns_inode_put(n, in);
	if (rc)
		return rc;
	if (lock) {
		char path[900], until[32], qp[1024];
		ns_path_of(n, ino, path, sizeof(path));
		clock_format_rfc3339(nd.retain_until, until, sizeof(until));
		atomic_fetch_add_explicit(&n->stats.lock_changes, 1, memory_order_relaxed);
		wlog(WLOG_INFO, "lock change op=autocommit path=%s uid=- rule=default-retention "
		     "value=\"%s %s\"", wlog_quote(path, qp, sizeof(qp)),
		     policy_mode_name(nd.lock_mode), until);
	}
	return lock;
}

long ns_autocommit_run(ns *n)
{
	int64_t now = ns_clock_now(n), deadline;
	uint64_t ino;
	long locked = 0;
	int rc = 0;

	if (n->flags & NS_RDONLY)
		return 0;
	for (int i = 0; i < AUTO_BATCH; i++) {
		meta_txn *t = NULL;
		rc = meta_txn_begin(n->me, 1, &t);
		if (rc)
			break;
		rc = meta_due_first(t, &ino, &deadline);
		meta_txn_abort(t);
		if (rc == -ENOENT || (!rc && deadline > now)) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		rc = autocommit_one(n, ino, deadline, now);
		if (rc < 0) {
			/* Move the entry on, so one object that cannot be locked
			 * now (a failing record read, a full disk) neither blocks
			 * the others nor fills the log every tick. */
			wlog(WLOG_ERR, "autocommit of inode %llu failed: %s; retried in %d s",
			     (unsigned long long)ino, strerror(-rc), AUTO_RETRY_S);
			meta_txn *w = NULL;
			int r2 = meta_txn_begin(n->me, 0, &w);
			if (!r2) {
				r2 = meta_due_del_at(w, deadline, ino);
				if (!r2)
					r2 = meta_due_set(w, ino, now + AUTO_RETRY_S);
				if (!r2)
					r2 = meta_txn_commit(w);
				else
					meta_txn_abort(w);
			}
			if (r2)
				break;   /* the index itself fails: the next tick tries */
			rc = 0;
			continue;
		}
		locked += rc;
		rc = 0;
	}
	if (rc)
		return rc;
	if (locked)
		rc = ns_durable(n);   /* lock changes are durable (section 6) */
	return rc ? rc : locked;
}
