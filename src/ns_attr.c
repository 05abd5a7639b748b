/* ns_attr: setattr (chmod, chown, utimes, truncate). Each change is decided
 * by policy on the facts gathered here (lock state, caller); a size change
 * goes through the content path (ns_io.c). */
#include <errno.h>
#include <sys/stat.h>

#include "ns_inode.h"
#include "ns_io.h"
#include "ns_record.h"
#include "ns_refusal.h"
#include "ns_retention.h"
#include "ns_setid.h"
#include "ns_virt.h"

/* Which policy op a request's times are. A touch is utimensat with no
 * times or both UTIME_NOW, which the kernel sends as both *_NOW bits;
 * one time set to now with the other omitted or given is an explicit
 * change (Linux's ATTR_TIMES_SET, refused on a chattr +a inode). A ctime
 * alone is the kernel's own. -1: no time. */
static int times_op(unsigned valid)
{
	const unsigned now = NS_SET_ATIME_NOW | NS_SET_MTIME_NOW;
	unsigned tm = valid & (NS_SET_ATIME | NS_SET_MTIME | now);

	if (tm)
		return tm == now ? POP_TOUCH : POP_UTIMENS;
	return (valid & NS_SET_CTIME) ? POP_TOUCH : -1;
}

/* Which lock rules a setattr request touches. */
static int setattr_policy(ns *n, const struct ns_caller *c, const struct meta_node *nd,
			  const struct ns_setattr *sa, int64_t now, const char **rule)
{
	static const struct { unsigned mask; enum policy_op op; } checks[] = {
		{ NS_SET_SIZE, POP_TRUNCATE }, { NS_SET_MODE, POP_CHMOD },
		{ NS_SET_UID | NS_SET_GID, POP_CHOWN },
	};
	struct policy_lock lk;
	struct policy_caller pc;
	int top = times_op(sa->valid);
	int rc;

	ns_node_lock(nd, &lk);
	ns_caller_policy(c, &pc);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (!(sa->valid & checks[i].mask))
			continue;
		rc = policy_check(&n->cfg.rules, &pc, &lk, checks[i].op, now, rule);
		if (rc)
			return rc;
	}
	return top < 0 ? 0 : policy_check(&n->cfg.rules, &pc, &lk, (enum policy_op)top, now, rule);
}

int ns_setattr(ns *n, const struct ns_caller *c, uint64_t ino, const struct ns_setattr *sa,
	       ns_handle *h, struct ns_attr *out)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	struct ns_inode *in = NULL;
	const char *rule = NULL;
	int64_t cnow = ns_clock_now(n), tnow = clock_realtime_ns();
	int rc;

	stats_op(&n->stats, SOP_SETATTR);
	if (ns_is_virtual(ino))
		return ns_refuse(n, SOP_SETATTR, ino, NULL, c, -EPERM, "control-file");
	/* Nothing to set: chown(path, -1, -1), which the kernel lets anyone
	 * send. No ctime update (POSIX allows it), no record rewritten (of a
	 * locked object either), and no autocommit restarted: else a user
	 * without write permission could keep an idle object from locking. */
	if (!sa->valid)
		return out ? ns_getattr(n, ino, out) : 0;
	rc = ns_node_read(n, ino, &nd);
	if (rc)
		return rc;
	if (S_ISREG(nd.mode)) {
		rc = setattr_policy(n, c, &nd, sa, cnow, &rule);
		if (rc)
			return ns_refuse(n, SOP_SETATTR, ino, NULL, c, rc, rule);
		in = h ? h->in : ns_inode_get(n, ino);
		if (!in)
			return -ENOMEM;
		/* Not from nd: a lock may have landed since it was read. */
		if (!h && (rc = ns_inode_refresh(n, in, cnow)))
			goto out;
	}
	if (sa->valid & NS_SET_SIZE) {
		if (!S_ISREG(nd.mode)) {
			rc = S_ISDIR(nd.mode) ? -EISDIR : -EINVAL;
			goto out;
		}
		pthread_rwlock_wrlock(&in->rw);
		pthread_mutex_lock(&in->mu);
		rc = in->sealed ? -EPERM : 0;
		pthread_mutex_unlock(&in->mu);
		if (!rc)
			rc = ns_key_ensure(n, in);
		if (!rc)
			rc = ns_content_truncate(n, in, h, sa->size);
		if (!rc)
			rc = ns_kill_setid(n, c, ino);
		pthread_rwlock_unlock(&in->rw);
		if (rc == -EPERM)
			ns_refuse(n, SOP_SETATTR, ino, NULL, c, rc, "sealed");
		if (rc)
			goto out;
	}
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		goto out;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto abort;
	/* Again on the record this transaction writes: a lock may have
	 * landed since the first check (e.g. a default retention at a
	 * writer's release). */
	if (S_ISREG(nd.mode)) {
		struct ns_setattr rest = *sa;
		rest.valid &= ~(unsigned)NS_SET_SIZE;
		rc = setattr_policy(n, c, &nd, &rest, cnow, &rule);
		if (rc) {
			meta_txn_abort(t);
			ns_refuse(n, SOP_SETATTR, ino, NULL, c, rc, rule);
			goto out;
		}
	}
	if (sa->valid & NS_SET_MODE)
		nd.mode = (nd.mode & S_IFMT) | (sa->mode & 07777);
	if (sa->valid & NS_SET_UID)
		nd.uid = sa->uid;
	if (sa->valid & NS_SET_GID)
		nd.gid = sa->gid;
	/* chown by non-root clears set-id bits, as on local file systems. */
	if ((sa->valid & (NS_SET_UID | NS_SET_GID)) && !S_ISDIR(nd.mode) &&
	    !(sa->valid & NS_SET_MODE))
		nd.mode &= ~(uint32_t)(S_ISUID | ((nd.mode & S_IXGRP) ? S_ISGID : 0));
	if (sa->valid & NS_SET_ATIME_NOW)
		nd.atime_ns = tnow;
	else if (sa->valid & NS_SET_ATIME)
		nd.atime_ns = sa->atime_ns;
	if (sa->valid & NS_SET_MTIME_NOW)
		nd.mtime_ns = tnow;
	else if (sa->valid & NS_SET_MTIME)
		nd.mtime_ns = sa->mtime_ns;
	if (sa->valid & NS_SET_CTIME)
		nd.ctime_ns = sa->ctime_ns;
	else
		nd.ctime_ns = tnow;
	/* A change: an autocommit deadline starts again from now. */
	if (S_ISREG(nd.mode) && (rc = ns_autocommit_schedule(n, t, &nd, NULL)) != 0)
		goto abort;
	if (in && (sa->valid & (NS_SET_MTIME | NS_SET_MTIME_NOW))) {
		/* An explicit mtime wins over the pending write time. */
		pthread_mutex_lock(&in->mu);
		in->mtime_ns = 0;
		pthread_mutex_unlock(&in->mu);
	}
	rc = ns_node_put(n, t, &nd);
	if (rc)
		goto abort;
	rc = meta_txn_commit(t);
	if (!rc && out)
		ns_node_attr(n, &nd, out);
	goto out;
abort:
	meta_txn_abort(t);
out:
	if (in && !h)
		ns_inode_put(n, in);
	return rc;
}
