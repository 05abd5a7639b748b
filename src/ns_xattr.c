/* ns_xattr: extended attributes: user.* attributes stored in meta, and the
 * lock attributes of design section 5 (user.worm.*). Every lock change is
 * decided by policy, made durable before the reply, logged and counted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "ns_inode.h"
#include "ns_path.h"
#include "ns_record.h"
#include "ns_refusal.h"
#include "ns_trail.h"
#include "ns_virt.h"
#include "log.h"

/* Short local names for the lock attributes (spelled in wormnames.h). */
#define X_RETENTION WORM_XATTR_RETENTION
#define X_HOLD WORM_XATTR_HOLD
#define X_STATE WORM_XATTR_STATE
#define X_DEFAULT WORM_XATTR_DEFAULT
#define X_LOCKCFG WORM_XATTR_LOCKCFG
#define X_APPEND WORM_XATTR_APPEND
#define X_DEFAPPEND WORM_XATTR_DEFAPPEND
#define X_AUTOCOMMIT WORM_XATTR_AUTOCOMMIT
#define X_WORM_PREFIX WORM_XATTR_PREFIX

static int is_bucket(const struct meta_node *nd)
{
	return S_ISDIR(nd->mode) && nd->parent == NS_INO_ROOT && nd->ino != NS_INO_ROOT;
}

static void node_default(const struct meta_node *nd, struct policy_default *d)
{
	d->mode = nd->def_mode;
	d->days = nd->def_days;
	d->years = nd->def_years;
}

static void node_block(const struct meta_node *nd, struct policy_bucket_lock *b)
{
	memset(b, 0, sizeof(*b));
	b->state = nd->block_state;
	memcpy(b->lock_id, nd->block_id, POLICY_LOCKID_LEN);
	b->lock_id[POLICY_LOCKID_LEN] = '\0';
	b->expires = nd->block_expires;
}

static void put_block(struct meta_node *nd, const struct policy_bucket_lock *b)
{
	nd->block_state = b->state;
	memset(nd->block_id, 0, sizeof(nd->block_id));
	memcpy(nd->block_id, b->lock_id, POLICY_LOCKID_LEN);
	nd->block_expires = b->expires;
}

static ssize_t put_value(const char *v, size_t len, void *buf, size_t size)
{
	if (size == 0)
		return (ssize_t)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, v, len);
	return (ssize_t)len;
}

ssize_t ns_getxattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
		    void *buf, size_t size)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	struct policy_lock lk;
	char v[128];
	size_t len = 0;
	ssize_t rc;
	int64_t now;
	(void)c;

	stats_op(&n->stats, SOP_GETXATTR);
	/* The kernel asks for security.capability on every write: answer
	 * without touching the database. */
	if (strncmp(name, "user.", 5) != 0 || ns_is_virtual(ino))
		return -ENODATA;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto out;
	now = ns_clock_now(n);
	if (strncmp(name, X_WORM_PREFIX, strlen(X_WORM_PREFIX)) == 0) {
		rc = -ENODATA;
		if (S_ISREG(nd.mode)) {
			ns_node_lock(&nd, &lk);
			if (!strcmp(name, X_RETENTION) && nd.lock_mode != WORM_NONE) {
				policy_format_retention(nd.lock_mode, nd.retain_until, v, sizeof(v));
				rc = put_value(v, strlen(v), buf, size);
			} else if (!strcmp(name, X_HOLD) && nd.hold != HOLD_UNSET) {
				const char *s = nd.hold == HOLD_ON ? "ON" : "OFF";
				rc = put_value(s, strlen(s), buf, size);
			} else if (!strcmp(name, X_STATE)) {
				const char *s = policy_state_name(policy_state(&lk, now));
				rc = put_value(s, strlen(s), buf, size);
			} else if (!strcmp(name, X_APPEND) && (nd.flags & META_F_APPEND_ONLY)) {
				rc = put_value("ON", 2, buf, size);
			}
		} else if (is_bucket(&nd)) {
			if (!strcmp(name, X_DEFAULT) && nd.def_mode != WORM_NONE) {
				struct policy_default d;
				node_default(&nd, &d);
				policy_format_default(&d, v, sizeof(v));
				rc = put_value(v, strlen(v), buf, size);
			} else if (!strcmp(name, X_LOCKCFG)) {
				struct policy_bucket_lock b;
				node_block(&nd, &b);
				policy_format_bucket_lock(&b, now, v, sizeof(v));
				rc = put_value(v, strlen(v), buf, size);
			} else if (!strcmp(name, X_DEFAPPEND) && (nd.flags & META_F_DEF_APPEND)) {
				rc = put_value("ON", 2, buf, size);
			} else if (!strcmp(name, X_AUTOCOMMIT) && nd.autocommit_s &&
				   !policy_format_autocommit(nd.autocommit_s, v, sizeof(v))) {
				rc = put_value(v, strlen(v), buf, size);
			}
		}
		goto out;
	}
	rc = meta_xattr_get(t, ino, name, buf, size, &len);
	if (!rc)
		rc = (ssize_t)len;
out:
	meta_txn_abort(t);
	return rc;
}

struct list_ctx {
	char *buf;
	size_t size, len;
	int err;
};

static void list_put(struct list_ctx *l, const char *name)
{
	size_t k = strlen(name) + 1;
	if (l->err)
		return;
	if (l->size) {
		if (l->len + k > l->size) {
			l->err = -ERANGE;
			return;
		}
		memcpy(l->buf + l->len, name, k);
	}
	l->len += k;
}

static int list_cb(void *arg, const char *name)
{
	struct list_ctx *l = arg;
	/* Stored names never start with user.worm. (setxattr routes those to
	 * the lock rules); skip defensively so nothing is listed twice. */
	if (strncmp(name, X_WORM_PREFIX, strlen(X_WORM_PREFIX)) != 0)
		list_put(l, name);
	return l->err != 0;
}

ssize_t ns_listxattr(ns *n, uint64_t ino, char *buf, size_t size)
{
	struct list_ctx l = { buf, size, 0, 0 };
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc;

	stats_op(&n->stats, SOP_LISTXATTR);
	if (ns_is_virtual(ino))
		return 0;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto out;
	/* user.worm.state is deliberately not listed (cp -a, rsync -X). */
	if (S_ISREG(nd.mode)) {
		if (nd.lock_mode != WORM_NONE)
			list_put(&l, X_RETENTION);
		if (nd.hold != HOLD_UNSET)
			list_put(&l, X_HOLD);
		if (nd.flags & META_F_APPEND_ONLY)
			list_put(&l, X_APPEND);
	} else if (is_bucket(&nd)) {
		if (nd.def_mode != WORM_NONE)
			list_put(&l, X_DEFAULT);
		list_put(&l, X_LOCKCFG);
		if (nd.flags & META_F_DEF_APPEND)
			list_put(&l, X_DEFAPPEND);
		if (nd.autocommit_s)
			list_put(&l, X_AUTOCOMMIT);
	}
	rc = meta_xattr_list(t, ino, list_cb, &l);
out:
	meta_txn_abort(t);
	if (rc)
		return rc;
	return l.err ? l.err : (ssize_t)l.len;
}

/* Bucket lock protocol over user.worm.lock-config: "in-progress" starts,
 * "locked LOCKID" completes, "unlocked" aborts (parsed and decided by
 * policy, with the same framing as every lock attribute). */
static int lockcfg_change(struct meta_node *nd, const struct policy_caller *pc, int is_owner,
			  const char *v, size_t len, int64_t now, const char **rule)
{
	struct policy_bucket_lock b;
	struct policy_default d;
	char id[POLICY_LOCKID_LEN + 1];
	uint8_t raw[POLICY_LOCKID_LEN / 2];
	int rc, req;

	if (policy_parse_bucket_lock_req(v, len, &req, id))
		return -EINVAL;
	if (req == BREQ_START) {
		wcrypto_random(raw, sizeof(raw));
		wcrypto_hex(id, raw, sizeof(raw));
	}
	node_block(nd, &b);
	node_default(nd, &d);
	rc = policy_bucket_lock_request(pc, is_owner, &b, &d, req, id, now, rule);
	if (!rc)
		put_block(nd, &b);
	return rc;
}

/* Whether a lock attribute is there, as getxattr answers it (a value,
 * not ENODATA): what XATTR_CREATE and XATTR_REPLACE ask about. -1: no
 * such attribute on this node (EINVAL below, as without the flags). */
static int lock_attr_exists(const struct meta_node *nd, const char *name)
{
	if (S_ISREG(nd->mode)) {
		if (!strcmp(name, X_RETENTION))
			return nd->lock_mode != WORM_NONE;
		if (!strcmp(name, X_HOLD))
			return nd->hold != HOLD_UNSET;
		if (!strcmp(name, X_APPEND))
			return (nd->flags & META_F_APPEND_ONLY) != 0;
	} else if (is_bucket(nd)) {
		if (!strcmp(name, X_DEFAULT))
			return nd->def_mode != WORM_NONE;
		if (!strcmp(name, X_LOCKCFG))
			return 1;
		if (!strcmp(name, X_DEFAPPEND))
			return (nd->flags & META_F_DEF_APPEND) != 0;
		if (!strcmp(name, X_AUTOCOMMIT))
			return nd->autocommit_s != 0;
	}
	return -1;
}

static int lock_attr_change(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
			    const char *v, size_t len, int xflags, int remove)
{
	enum stats_op op = remove ? SOP_REMOVEXATTR : SOP_SETXATTR;
	struct ns_inode *in;
	meta_txn *t = NULL;
	struct meta_node nd;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule;
	int64_t now;
	int rc, refusal, busy, settled = 0;

	in = ns_inode_get(n, ino);
	if (!in)
		return -ENOMEM;
again:
	rule = NULL;
	refusal = 0;
	now = ns_clock_now(n);
	/* Lock order: the write transaction, then in->mu (as in unlink). The
	 * commit happens under in->mu, which a write-open also takes. */
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc) {
		ns_inode_put(n, in);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	busy = in->writers > 0 || in->dirty;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto abort;
	ns_caller_policy(c, &pc);
	ns_node_lock(&nd, &lk);
	if (!strcmp(name, X_STATE)) {
		rc = -EPERM;
		rule = "read-only-attribute";
		refusal = 1;
	} else if (S_ISREG(nd.mode) && nd.nlink == 0) {
		/* Unlinked, reached through a descriptor: it goes at its last
		 * close, so a lock on it would be a locked object the mount
		 * deletes (and a lock the audit trail holds with no object). */
		rc = -ENOENT;
		rule = "unlinked";
		refusal = 1;
	} else if ((nd.flags & META_F_STAGING) && !remove) {
		/* an upload in progress must stay removable (ns.h) */
		rc = -EPERM;
		rule = "staging";
		refusal = 1;
	} else if (!remove && (xflags & (XATTR_CREATE | XATTR_REPLACE))) {
		/* setxattr's own conditions, as for any attribute: a create-only
		 * set must not extend a retention in force, a replace-only one
		 * must not lock a mutable object. Nothing changes. */
		int there = lock_attr_exists(&nd, name);
		if (xflags == (XATTR_CREATE | XATTR_REPLACE) || (xflags & ~(XATTR_CREATE | XATTR_REPLACE)))
			rc = -EINVAL;
		else if ((xflags & XATTR_CREATE) && there > 0)
			rc = -EEXIST;
		else if ((xflags & XATTR_REPLACE) && there == 0)
			rc = -ENODATA;
	} else if (remove && lock_attr_exists(&nd, name) == 0) {
		/* removexattr(2) of an attribute that is not there: ENODATA,
		 * as for a retention or a bucket default never set. A legal
		 * hold never set stays never set (design section 5: ENODATA),
		 * and no lock change that changed nothing is recorded. */
		rc = -ENODATA;
	}
	if (rc || refusal)
		goto decided;
	if (S_ISREG(nd.mode) && !strcmp(name, X_RETENTION)) {
		struct policy_retention_req req = { 0 };
		req.remove = remove;
		if (!remove && policy_parse_retention(v, len, now, &req.mode, &req.retain_until)) {
			rc = -EINVAL;
			goto abort;
		}
		if (remove && nd.lock_mode == WORM_NONE) {
			rc = -ENODATA;
			goto abort;
		}
		rc = policy_retention_change(&n->cfg.rules, &pc, &lk, &req, nd.uid,
					     ns_may_write(&nd, c), busy, now, &rule);
		refusal = rc == -EPERM || rc == -EBUSY;
		if (!rc) {
			nd.lock_mode = remove ? WORM_NONE : req.mode;
			nd.retain_until = remove ? 0 : req.retain_until;
			nd.sealed = 1;
		}
	} else if (S_ISREG(nd.mode) && !strcmp(name, X_HOLD)) {
		int hold = HOLD_OFF;
		if (!remove && policy_parse_hold(v, len, &hold)) {
			rc = -EINVAL;
			goto abort;
		}
		rc = policy_hold_change(&n->cfg.rules, &pc, &lk, hold, busy, &rule);
		refusal = rc == -EPERM || rc == -EBUSY;
		if (!rc) {
			nd.hold = hold;
			if (hold == HOLD_ON)
				nd.sealed = 1;
		}
	} else if (is_bucket(&nd) && !strcmp(name, X_DEFAULT)) {
		struct policy_default cur, newd;
		struct policy_bucket_lock b;
		node_default(&nd, &cur);
		node_block(&nd, &b);
		if (!remove && policy_parse_default(v, len, &newd)) {
			rc = -EINVAL;
			goto abort;
		}
		if (remove && cur.mode == WORM_NONE) {
			rc = -ENODATA;
			goto abort;
		}
		rc = policy_default_change(&pc, c->uid == nd.uid, &b, &cur, remove ? NULL : &newd,
					   now, &rule);
		refusal = rc == -EPERM;
		if (!rc) {
			nd.def_mode = remove ? WORM_NONE : newd.mode;
			nd.def_days = remove ? 0 : newd.days;
			nd.def_years = remove ? 0 : newd.years;
		}
	} else if (S_ISREG(nd.mode) && !strcmp(name, X_APPEND)) {
		/* Removing it is OFF (design section 15). */
		int on = HOLD_OFF;
		if (!remove && policy_parse_hold(v, len, &on)) {
			rc = -EINVAL;
			goto abort;
		}
		rc = policy_append_change(&n->cfg.rules, &pc, &lk, on == HOLD_ON, nd.uid,
					  ns_may_write(&nd, c), busy, now, &rule);
		refusal = rc == -EPERM || rc == -EBUSY;
		if (!rc && on == HOLD_ON)
			nd.flags |= META_F_APPEND_ONLY;
		else if (!rc)
			nd.flags &= ~(uint32_t)META_F_APPEND_ONLY;
	} else if (is_bucket(&nd) && !strcmp(name, X_DEFAPPEND)) {
		/* A default for objects created afterwards, like the default
		 * retention: the bucket owner or root. */
		int on = HOLD_OFF;
		if (!remove && policy_parse_hold(v, len, &on)) {
			rc = -EINVAL;
			goto abort;
		}
		struct policy_bucket_lock b;
		node_block(&nd, &b);
		rc = policy_default_append_change(&pc, c->uid == nd.uid, &b,
						  (nd.flags & META_F_DEF_APPEND) != 0, on == HOLD_ON,
						  now, &rule);
		refusal = rc == -EPERM;
		if (rc)
			goto abort;
		if (on == HOLD_ON)
			nd.flags |= META_F_DEF_APPEND;
		else
			nd.flags &= ~(uint32_t)META_F_DEF_APPEND;
	} else if (is_bucket(&nd) && !strcmp(name, X_AUTOCOMMIT)) {
		uint32_t secs = 0;
		struct policy_bucket_lock b;
		if (!remove && policy_parse_autocommit(v, len, &secs)) {
			rc = -EINVAL;
			goto abort;
		}
		node_block(&nd, &b);
		rc = policy_autocommit_change(&pc, c->uid == nd.uid, &b, nd.autocommit_s, secs,
					      now, &rule);
		refusal = rc == -EPERM;
		if (!rc)
			nd.autocommit_s = secs;
	} else if (is_bucket(&nd) && !strcmp(name, X_LOCKCFG)) {
		if (remove) {
			rc = -EPERM;   /* the state is changed by requests, never removed */
			rule = "read-only-attribute";
		} else {
			rc = lockcfg_change(&nd, &pc, c->uid == nd.uid, v, len, now, &rule);
		}
		refusal = rc == -EPERM || rc == -EBUSY;
	} else {
		rc = remove ? -ENODATA : -EINVAL;   /* unknown lock attribute */
	}
decided:
	if (rc)
		goto abort;
	rc = ns_node_put(n, t, &nd);
	if (rc)
		goto abort;
	/* The audit record and a new store head commit with the change. */
	{
		const char *av = "-";
		size_t al = 1;
		char avb[160];
		if (!remove)
			policy_value_frame(v, len, &av, &al);
		snprintf(avb, sizeof(avb), "%.*s", (int)al, av);
		rc = ns_trail_lock(n, t, c->uid, ino, name, remove, &lk, &nd, rule, avb, now);
		if (rc)
			goto abort;
	}
	rc = meta_txn_commit(t);
	if (!rc && S_ISREG(nd.mode)) {
		ns_node_lock(&nd, &lk);
		in->sealed |= policy_content_frozen(&lk, now);
		in->append = lk.append_only;
	}
	pthread_mutex_unlock(&in->mu);
	ns_inode_put(n, in);
	if (rc)
		return rc;
	/* Durable before the reply (design section 6); outside in->mu. */
	rc = ns_durable(n);
	atomic_fetch_add_explicit(&n->stats.lock_changes, 1, memory_order_relaxed);
	char path[900];   /* fits qp below: a deep path keeps its end */
	const char *lv = "-";
	size_t ll = 1;
	/* The value as parsed (framed), not as sent. */
	if (!remove)
		policy_value_frame(v, len, &lv, &ll);
	ns_path_of(n, ino, path, sizeof(path));
	/* Names and values are the caller's: quoted, so they cannot forge
	 * fields or lines. */
	char val[160], qp[1024], qa[300], qv[400];
	snprintf(val, sizeof(val), "%.*s", (int)ll, lv);
	wlog(WLOG_INFO, "lock change op=%s path=%s attr=%s uid=%u rule=%s value=%s",
	     remove ? "remove" : "set", wlog_quote(path, qp, sizeof(qp)),
	     wlog_quote(name, qa, sizeof(qa)), c->uid, rule ? rule : qa,
	     wlog_quote(val, qv, sizeof(qv)));
	return rc;
abort:
	meta_txn_abort(t);
	pthread_mutex_unlock(&in->mu);
	/* Allowed but for writers: one that just closed is still a writer
	 * until its RELEASE arrives (close(2) does not wait for it), so wait
	 * for it, bounded and outside the transaction its commit needs, and
	 * decide again. Refused changes never wait. */
	if (rc == -EBUSY && busy && !settled) {
		settled = 1;
		ns_settle_inode(n, in);
		goto again;
	}
	ns_inode_put(n, in);
	if (refusal || rc == -EPERM)
		ns_refuse(n, op, ino, name, c, rc, rule ? rule : "lock-attribute");
	return rc;
}

static int user_attr_change(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
			    const void *v, size_t len, int flags, int remove)
{
	enum stats_op op = remove ? SOP_REMOVEXATTR : SOP_SETXATTR;
	meta_txn *t = NULL;
	struct meta_node nd;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	int rc;

	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto abort;
	/* A canned ACL opens the node to anonymous S3 reads: like chmod, its
	 * owner or root only, whatever the mode bits let write (S3's
	 * WRITE_ACP is the owner's). */
	if (!strcmp(name, WORM_XATTR_S3_ACL) && c->uid != 0 && c->uid != nd.uid) {
		meta_txn_abort(t);
		return ns_refuse(n, op, ino, name, c, -EPERM, "s3-acl-owner");
	}
	if (S_ISREG(nd.mode)) {
		ns_node_lock(&nd, &lk);
		ns_caller_policy(c, &pc);
		rc = policy_check(&n->cfg.rules, &pc, &lk, remove ? POP_REMOVEXATTR : POP_SETXATTR,
				  ns_clock_now(n), &rule);
		if (rc) {
			meta_txn_abort(t);
			return ns_refuse(n, op, ino, name, c, rc, rule);
		}
	}
	rc = remove ? meta_xattr_del(t, ino, name) : meta_xattr_set(t, ino, name, v, len, flags);
	if (rc)
		goto abort;
	nd.ctime_ns = clock_realtime_ns();
	rc = ns_node_put(n, t, &nd);
	if (rc)
		goto abort;
	return meta_txn_commit(t);
abort:
	meta_txn_abort(t);
	return rc;
}

/* A name outside user.* is never stored, but Linux refuses every xattr
 * change of an append-only or immutable inode before it looks at the
 * namespace (fs/xattr.c): such an object answers EPERM as for user.*,
 * any other node `err`. */
static int other_ns_change(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
			   int remove, int err)
{
	struct meta_node nd;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	int rc;

	rc = ns_node_read(n, ino, &nd);
	if (rc)
		return rc;
	if (!S_ISREG(nd.mode))
		return err;
	ns_node_lock(&nd, &lk);
	ns_caller_policy(c, &pc);
	rc = policy_check(&n->cfg.rules, &pc, &lk, remove ? POP_REMOVEXATTR : POP_SETXATTR,
			  ns_clock_now(n), &rule);
	/* The kernel checks no permission for system.* names: a caller who
	 * may not write the object is refused without a record, or anyone
	 * could spend the audit trail's refusal budget and hide real ones. */
	if (rc && !ns_may_write(&nd, c))
		return rc;
	if (rc)
		return ns_refuse(n, remove ? SOP_REMOVEXATTR : SOP_SETXATTR, ino, name, c, rc, rule);
	return err;
}

static int xattr_set(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
		     const void *val, size_t len, int flags)
{
	stats_op(&n->stats, SOP_SETXATTR);
	if (ns_is_virtual(ino))
		return ns_refuse(n, SOP_SETXATTR, ino, name, c, -EPERM, "control-file");
	if (n->flags & NS_RDONLY)
		return -EROFS;
	if (strncmp(name, "user.", 5) != 0)
		return other_ns_change(n, c, ino, name, 0, -EOPNOTSUPP);
	if (strncmp(name, X_WORM_PREFIX, strlen(X_WORM_PREFIX)) == 0) {
		if (len > 256)
			return -EINVAL;
		return lock_attr_change(n, c, ino, name, val, len, flags, 0);
	}
	return user_attr_change(n, c, ino, name, val, len, flags, 0);
}

static int xattr_remove(ns *n, const struct ns_caller *c, uint64_t ino, const char *name)
{
	stats_op(&n->stats, SOP_REMOVEXATTR);
	if (ns_is_virtual(ino))
		return ns_refuse(n, SOP_REMOVEXATTR, ino, name, c, -EPERM, "control-file");
	if (n->flags & NS_RDONLY)
		return -EROFS;
	if (strncmp(name, "user.", 5) != 0)
		return other_ns_change(n, c, ino, name, 1, -ENODATA);
	if (strncmp(name, X_WORM_PREFIX, strlen(X_WORM_PREFIX)) == 0)
		return lock_attr_change(n, c, ino, name, NULL, 0, 0, 1);
	return user_attr_change(n, c, ino, name, NULL, 0, 0, 1);
}

/* A lock attribute changes the attributes the kernel caches (sealed
 * objects are cached long): one set outside the mount drops them. */
int ns_setxattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
		const void *val, size_t len, int flags)
{
	int rc = xattr_set(n, c, ino, name, val, len, flags);
	if (!rc)
		ns_queue_change(n, c, NS_INVAL_ATTR, ino, NULL);
	return rc;
}

int ns_removexattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name)
{
	int rc = xattr_remove(n, c, ino, name);
	if (!rc)
		ns_queue_change(n, c, NS_INVAL_ATTR, ino, NULL);
	return rc;
}
