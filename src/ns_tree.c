/* ns_tree: the namespace tree: lookup, getattr, create (mkdir, mknod,
 * symlink), readlink, unlink, rmdir, rename, link (refused), readdir,
 * statfs. Namespace rules of design section 3 are checked here; lock
 * rules come from policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "ns_inode.h"
#include "ns_record.h"
#include "ns_refusal.h"
#include "ns_retention.h"
#include "ns_tree.h"
#include "ns_virt.h"
#include "inoset.h"
#include "names.h"
#include "log.h"

static int64_t now_ns(void) { return clock_realtime_ns(); }

/* The bucket holding directory dir (dir is not the root). */
static int bucket_ino(ns *n, meta_txn *t, uint64_t dir, uint64_t *out)
{
	struct meta_node nd, b;
	int rc = ns_node_get(n, t, dir, &nd);
	if (!rc)
		rc = ns_bucket_of(n, t, &nd, &b);
	if (!rc)
		*out = b.ino;
	return rc == -ENOENT ? -EIO : rc;
}

int ns_lookup(ns *n, uint64_t parent, const char *name, struct ns_attr *out)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	uint64_t ino;
	int rc;

	stats_op(&n->stats, SOP_LOOKUP);
	rc = ns_virt_lookup(parent, name, &ino);
	if (rc <= 0)
		return rc ? rc : ns_virt_attr(ino, out);
	if (strlen(name) > META_NAME_MAX)
		return -ENAMETOOLONG;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = meta_dirent_get(t, parent, name, &ino);
	if (!rc)
		rc = ns_node_get(n, t, ino, &nd);
	meta_txn_abort(t);
	if (!rc)
		ns_node_attr(n, &nd, out);
	return rc;
}

int ns_getattr(ns *n, uint64_t ino, struct ns_attr *out)
{
	struct meta_node nd;
	int rc;

	stats_op(&n->stats, SOP_GETATTR);
	if (ns_is_virtual(ino))
		return ns_virt_attr(ino, out);
	rc = ns_node_read(n, ino, &nd);
	if (!rc)
		ns_node_attr(n, &nd, out);
	return rc;
}

int ns_ino_known(ns *n, uint64_t ino)
{
	struct meta_node nd;
	int rc;

	if (ns_is_virtual(ino))
		return 1;
	rc = ns_node_read(n, ino, &nd);
	if (rc == -ENOENT)
		return 0;
	return !rc && S_ISREG(nd.mode) && nd.nlink == 0 ? 2 : 1;
}

/* Create a node named name in parent (write txn t). Namespace rules of
 * design section 3 are checked here. */
static int node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		    const char *name, uint32_t mode, uint32_t nflags, struct meta_node *out)
{
	struct meta_node p;
	int64_t now = now_ns();
	uint64_t ino;
	int rc;

	if (parent == NS_INO_CTL || ns_is_virtual(parent))
		return -EPERM;
	if (parent == NS_INO_ROOT) {
		if (!S_ISDIR(mode))
			return -EPERM;         /* only buckets at the root */
		if (strcmp(name, NAMES_CTL_DIR) == 0)
			return -EEXIST;
		rc = names_bucket_valid(name);
	} else {
		rc = names_component_valid(name);
	}
	if (rc)
		return rc;
	rc = ns_node_get(n, t, parent, &p);
	if (rc)
		return rc;
	if (!S_ISDIR(p.mode))
		return -ENOTDIR;
	/* A staging node only directly in a bucket or in a staging directory:
	 * a plain directory holding one could be renamed, carrying it out
	 * under a real name (staging nodes themselves never move out). */
	if ((nflags & META_F_STAGING) && p.parent != NS_INO_ROOT && !(p.flags & META_F_STAGING))
		return -EPERM;
	/* The S3 front end's staging directory's name, directly in a bucket:
	 * made only as that (a plain one there made every multipart upload in
	 * the bucket fail, and hid its content from listings). */
	if (p.parent == NS_INO_ROOT && !strcmp(name, WORM_S3_MPU_DIR) &&
	    !((nflags & META_F_STAGING) && S_ISDIR(mode)))
		return -EPERM;
	rc = meta_ino_alloc(t, &ino);
	if (rc == -EUCLEAN || rc == -EIO)
		wlog(WLOG_ERR, "inode counter %s: no object can be created until it is repaired "
		     "(see wormctl verify)", rc == -EIO ? "fails authentication" :
		     "would reuse the inode of an existing record");
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->parent = parent;
	out->mode = mode;
	out->uid = c->uid;
	/* BSD/setgid-directory group inheritance, as local file systems do. */
	out->gid = (p.mode & S_ISGID) ? p.gid : c->gid;
	if (S_ISDIR(mode) && (p.mode & S_ISGID))
		out->mode |= S_ISGID;
	out->nlink = S_ISDIR(mode) ? 2 : 1;
	out->atime_ns = out->mtime_ns = out->ctime_ns = out->btime_ns = now;
	out->next_cookie = META_FIRST_COOKIE;
	out->alg = n->alg;
	out->flags = nflags & META_F_STAGING;
	/* Every new node records its bucket (a bucket itself): known at any
	 * depth in one lookup, and authenticated with the record. */
	struct meta_node b;
	if (parent == NS_INO_ROOT) {
		ns_node_set_bucket(out, ino);
	} else {
		rc = ns_bucket_of(n, t, &p, &b);
		if (rc)
			return rc;
		ns_node_set_bucket(out, b.ino);
	}
	if (S_ISREG(mode) && !(out->flags & META_F_STAGING)) {
		/* The bucket's default append-only holds from creation, so a
		 * log's bytes are protected from its first write on. */
		if (b.flags & META_F_DEF_APPEND)
			out->flags |= META_F_APPEND_ONLY;
		rc = ns_bucket_default(n, t, out);
		if (rc > 0)
			rc = ns_pending_mark(n, t, out, 1);
		if (!rc)
			rc = ns_autocommit_schedule(n, t, out, &b);
		if (rc)
			return rc;
	}
	rc = ns_node_seal(n, t, out);
	if (!rc)
		rc = meta_node_add(t, out);   /* never over an existing record */
	if (rc == -EEXIST) {
		wlog(WLOG_ERR, "inode %llu handed out again: refused (inode counter set back?)",
		     (unsigned long long)ino);
		rc = -EUCLEAN;
	}
	if (rc)
		return rc;
	rc = meta_dirent_add(t, parent, name, ino);
	if (rc)
		return rc;
	/* meta_dirent_add updated the parent's cookie counter: reload. */
	rc = ns_node_get(n, t, parent, &p);
	if (rc)
		return rc;
	if (S_ISDIR(mode))
		p.nlink++;
	p.children++;
	p.mtime_ns = p.ctime_ns = now;
	return ns_node_put(n, t, &p);
}

int ns_node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		const char *name, uint32_t mode, struct meta_node *out)
{
	return node_new(n, t, c, parent, name, mode, 0, out);
}

static int create_common(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
			 uint32_t mode, const char *target, uint32_t nflags, struct ns_attr *out,
			 enum stats_op op)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc;

	stats_op(&n->stats, op);
	if (n->flags & NS_RDONLY)
		return -EROFS;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = node_new(n, t, c, parent, name, mode, nflags, &nd);
	if (!rc && target) {
		nd.size = strlen(target);
		rc = meta_link_put(t, nd.ino, target, nd.size);
		if (!rc)
			rc = ns_node_put(n, t, &nd);
	}
	if (rc) {
		meta_txn_abort(t);
		if (rc == -EPERM || rc == -EINVAL)
			ns_refuse(n, op, parent, name, c, rc, "namespace");
		return rc;
	}
	rc = meta_txn_commit(t);
	/* A new name: the kernel holds no dentry of it (a negative one is
	 * never cached: fs_lookup), only the directory's attributes */
	if (!rc)
		ns_queue_change(n, c, NS_INVAL_ATTR, parent, NULL);
	if (!rc && out)
		ns_node_attr(n, &nd, out);
	return rc;
}

int ns_mkdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out)
{
	return create_common(n, c, parent, name, S_IFDIR | (mode & 07777), NULL, 0, out, SOP_MKDIR);
}

int ns_node_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint32_t mode, struct ns_attr *out)
{
	if (!S_ISREG(mode) && (mode & S_IFMT) != 0)
		return ns_refuse(n, SOP_CREATE, parent, name, c, -EPERM, "special-file");
	return create_common(n, c, parent, name, S_IFREG | (mode & 07777), NULL, 0, out, SOP_CREATE);
}

int ns_node_create_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
			   uint32_t mode, struct ns_attr *out)
{
	if (parent == NS_INO_ROOT)
		return -EPERM;      /* a staging node is never a bucket */
	return create_common(n, c, parent, name, mode, NULL, META_F_STAGING, out,
			     S_ISDIR(mode) ? SOP_MKDIR : SOP_CREATE);
}

int ns_mkdir_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		     uint32_t mode, struct ns_attr *out)
{
	return ns_node_create_staging(n, c, parent, name, S_IFDIR | (mode & 07777), out);
}

int ns_mknod_upload(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		    uint32_t mode, struct ns_attr *out)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc;

	stats_op(&n->stats, SOP_CREATE);
	if (n->flags & NS_RDONLY)
		return -EROFS;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = node_new(n, t, c, parent, name, S_IFREG | (mode & 07777), 0, &nd);
	/* Not due under this temporary name: a crash before the rename must
	 * leave nothing locked (the rename marks it). */
	if (!rc && (nd.flags & META_F_DEFAULT_PENDING)) {
		rc = ns_pending_mark(n, t, &nd, 0);
		if (!rc)
			rc = ns_node_put(n, t, &nd);
	}
	/* Nor its autocommit deadline (the rename schedules it): a start
	 * after the period would lock it before the cleanup. Nor the
	 * default append-only (the rename sets it): an append-only object
	 * can be neither renamed over its key nor removed when stale. */
	if (!rc)
		rc = meta_due_del(t, nd.ino);
	if (!rc && (nd.flags & META_F_APPEND_ONLY)) {
		nd.flags &= ~(uint32_t)META_F_APPEND_ONLY;
		rc = ns_node_put(n, t, &nd);
	}
	if (rc) {
		meta_txn_abort(t);
		if (rc == -EPERM || rc == -EINVAL)
			ns_refuse(n, SOP_CREATE, parent, name, c, rc, "namespace");
		return rc;
	}
	rc = meta_txn_commit(t);
	/* A new name: the kernel holds no dentry of it (a negative one is
	 * never cached: fs_lookup), only the directory's attributes */
	if (!rc)
		ns_queue_change(n, c, NS_INVAL_ATTR, parent, NULL);
	if (!rc && out)
		ns_node_attr(n, &nd, out);
	return rc;
}

int ns_symlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	       const char *target, struct ns_attr *out)
{
	if (strlen(target) >= 4096)
		return -ENAMETOOLONG;
	return create_common(n, c, parent, name, S_IFLNK | 0777, target, 0, out, SOP_SYMLINK);
}

int ns_readlink(ns *n, uint64_t ino, char *buf, size_t size)
{
	meta_txn *t = NULL;
	size_t len = 0;
	int rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = meta_link_get(t, ino, buf, size - 1, &len);
	meta_txn_abort(t);
	if (rc)
		return rc == -ENOENT ? -EINVAL : rc;
	buf[len] = '\0';
	return 0;
}

/* Drop a node that left the namespace. An object that is still open keeps
 * its record (nlink 0) until the last release, so fstat, reads and writes
 * on the open handles go on working; it is recorded as an orphan so a
 * crash in between cannot leak it. Otherwise record and content go now.
 * *pin gets the object's inode, marked unlinked: the caller keeps it in
 * the table until the transaction has committed or aborted (then
 * ns_inode_put), so that an open of it meanwhile finds the mark. */
static int node_drop(ns *n, meta_txn *t, const struct meta_node *nd, int *unlink_now,
		     struct ns_inode **pin)
{
	static const uint8_t zero[16];
	int rc;

	*unlink_now = 0;
	*pin = NULL;
	if (S_ISREG(nd->mode)) {
		/* Marked under in->mu so that an open racing with us either
		 * counted its handle first or sees `unlinked` and fails. The
		 * inode stays in the table until the commit: put back at once,
		 * it was freed, and an open taking it anew read the record
		 * from a snapshot before the commit, counted its handle on an
		 * object about to go and found its content gone (EIO, an
		 * authentication failure logged and counted). */
		struct ns_inode *in = ns_inode_get(n, nd->ino);
		int open = 0;
		if (!in)
			return -ENOMEM;
		pthread_mutex_lock(&in->mu);
		in->unlinked = 1;
		open = in->handles > 0;
		pthread_mutex_unlock(&in->mu);
		*pin = in;
		if (open) {
			struct meta_node keep = *nd;
			keep.nlink = 0;
			keep.ctime_ns = now_ns();
			rc = ns_node_put(n, t, &keep);
			if (!rc)
				rc = meta_orphan_add(t, nd->ino, nd->objid);
			return rc;
		}
		/* Inline content goes with the node (meta_node_del); the file
		 * unlink is then for a leftover of an interrupted move to a
		 * file (usually ENOENT, which is fine). */
		*unlink_now = memcmp(nd->objid, zero, 16) != 0;
	}
	return meta_node_del(t, nd->ino);
}

/* After the commit that dropped the node: its content file. Absent is
 * fine (see node_drop); any other failure leaves a file no node names,
 * which is said now rather than left unnoticed. */
static void content_drop(ns *n, uint64_t ino, const uint8_t objid[16])
{
	int rc = store_obj_unlink(n->st, objid);

	if (rc && rc != -ENOENT)
		wlog(WLOG_WARN, "inode %llu removed but not its content file: %s",
		     (unsigned long long)ino, strerror(-rc));
}

/* The transaction that dropped nd did not commit: the object is still
 * there, so its open handles must not treat it as unlinked (their last
 * release would skip its default retention and delete it). pin: the
 * inode node_drop kept (NULL: none). */
static void node_drop_undo(struct ns_inode *pin)
{
	if (!pin)
		return;
	pthread_mutex_lock(&pin->mu);
	pin->unlinked = 0;
	pthread_mutex_unlock(&pin->mu);
}

/* expect: the inode name must still hold (0: any), else -ESTALE. */
static int unlink_or_rmdir(ns *n, const struct ns_caller *c, uint64_t parent,
			   const char *name, int dir, uint64_t expect)
{
	enum stats_op op = dir ? SOP_RMDIR : SOP_UNLINK;
	meta_txn *t = NULL;
	struct meta_node nd, p;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	struct ns_inode *pin = NULL;   /* the dropped object's inode (node_drop) */
	uint64_t ino;
	int unlink_now = 0, rc;

	stats_op(&n->stats, op);
	if (parent == NS_INO_CTL || (parent == NS_INO_ROOT && !strcmp(name, NAMES_CTL_DIR)))
		return ns_refuse(n, op, parent, name, c, -EPERM, "control-directory");
	if (!dir)
		ns_settle_writers(n, parent, name);
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_dirent_get(t, parent, name, &ino);
	if (!rc && expect && ino != expect)
		rc = -ESTALE;     /* the name was given to another object meanwhile */
	if (!rc)
		rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto fail;
	if (dir && !S_ISDIR(nd.mode)) {
		rc = -ENOTDIR;
		goto fail;
	}
	if (!dir && S_ISDIR(nd.mode)) {
		rc = -EISDIR;
		goto fail;
	}
	if (dir) {
		rc = meta_dir_is_empty(t, ino);
		if (rc <= 0) {
			rc = rc ? rc : -ENOTEMPTY;
			goto fail;
		}
		/* No name left, but a node still says it lives here (its entry
		 * was removed offline): it may be locked, so the directory
		 * stays until it is re-attached (wormctl reattach). */
		if (nd.children > 0 && nd.version >= 2) {
			meta_txn_abort(t);
			wlog(WLOG_ERR, "directory inode %llu has no entries but holds %llu node(s) "
			     "that no entry names: rmdir refused (see wormctl verify, wormctl reattach)",
			     (unsigned long long)ino, (unsigned long long)nd.children);
			return ns_refuse(n, op, parent, name, c, -ENOTEMPTY, "unnamed-node");
		}
	} else if (S_ISREG(nd.mode)) {
		ns_node_lock(&nd, &lk);
		ns_caller_policy(c, &pc);
		rc = policy_check(&n->cfg.rules, &pc, &lk, POP_UNLINK, ns_clock_now(n), &rule);
		/* A default retention due at a release (or left pending by a
		 * crash) whose bucket cannot be found: it may be locked by now,
		 * so it is not deleted on a guess. */
		if (!rc && (nd.flags & META_F_DEFAULT_PENDING) && ns_bucket_default(n, t, &nd) < 0) {
			rc = -EIO;
			rule = "bucket-unknown";
		}
		if (rc) {
			meta_txn_abort(t);
			return ns_refuse(n, op, parent, name, c, rc, rule);
		}
	}
	rc = meta_dirent_del(t, parent, name);
	if (!rc)
		rc = node_drop(n, t, &nd, &unlink_now, &pin);
	if (!rc)
		rc = ns_node_get(n, t, parent, &p);
	if (rc)
		goto fail;
	if (dir)
		p.nlink--;
	if (p.children)
		p.children--;
	p.mtime_ns = p.ctime_ns = now_ns();
	rc = ns_node_put(n, t, &p);
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	if (rc)
		node_drop_undo(pin);
	if (!rc) {
		/* a change outside the mount: the kernel's dentry and the
		 * removed inode's attributes and pages go */
		ns_queue_change(n, c, NS_INVAL_ENTRY, parent, name);
		ns_queue_change(n, c, NS_INVAL_INODE, nd.ino, NULL);
	}
	if (!rc && unlink_now)
		content_drop(n, nd.ino, nd.objid);
	if (pin)
		ns_inode_put(n, pin);
	return rc;
fail:
	meta_txn_abort(t);
	node_drop_undo(pin);
	if (pin)
		ns_inode_put(n, pin);
	return rc;
}

int ns_unlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name)
{
	return unlink_or_rmdir(n, c, parent, name, 0, 0);
}

int ns_unlink_ino(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint64_t ino)
{
	return unlink_or_rmdir(n, c, parent, name, 0, ino);
}

int ns_rmdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name)
{
	return unlink_or_rmdir(n, c, parent, name, 1, 0);
}

/* Is any object below dir locked at now (rename of a directory)?
 * Iterative, so no depth is too deep: directories still to read are kept
 * on a heap stack, and each is entered at most once (a directory is only
 * followed from the parent its record names, and never twice), so even an
 * edited record cannot make the walk loop. Anything unexpected (a record
 * that cannot be read, memory) counts as locked: fail closed. */
struct subtree_ctx {
	ns *n;
	meta_txn *t;
	int64_t now;
	uint64_t dir;             /* directory being read */
	uint64_t *stack;          /* directories to read */
	size_t len, cap;
	struct inoset seen;       /* directories pushed */
	int found;
	struct policy_lock *lk;
};

static void subtree_fail(struct subtree_ctx *s)
{
	s->found = 1;
	if (s->lk) {
		memset(s->lk, 0, sizeof(*s->lk));
		s->lk->auth_failed = 1;
	}
}

static int subtree_push(struct subtree_ctx *s, uint64_t ino)
{
	int rc = inoset_add(&s->seen, ino);
	if (rc <= 0)
		return rc ? rc : -ELOOP;
	if (s->len == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint64_t *grown = realloc(s->stack, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->stack = grown;
		s->cap = cap;
	}
	s->stack[s->len++] = ino;
	return 0;
}

static int subtree_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct subtree_ctx *s = arg;
	struct meta_node nd;
	struct policy_lock lk;
	(void)name;
	(void)cookie;
	if (ns_node_get(s->n, s->t, ino, &nd)) {
		subtree_fail(s);
		return 1;
	}
	if (S_ISREG(nd.mode)) {
		ns_node_lock(&nd, &lk);
		if (policy_is_locked(&lk, s->now)) {
			s->found = 1;
			if (s->lk)
				*s->lk = lk;
		}
	} else if (S_ISDIR(nd.mode)) {
		if (nd.parent != s->dir || subtree_push(s, ino))
			subtree_fail(s);
	}
	return s->found;
}

/* 1 if an object anywhere below dir is locked at now (or the walk failed:
 * found then says auth_failed), 0 if none. */
static int subtree_locked(ns *n, meta_txn *t, uint64_t dir, int64_t now, struct policy_lock *found)
{
	struct subtree_ctx s = { .n = n, .t = t, .now = now, .lk = found };

	if (subtree_push(&s, dir))
		subtree_fail(&s);
	while (!s.found && s.len) {
		s.dir = s.stack[--s.len];
		if (meta_readdir(t, s.dir, 0, subtree_cb, &s))
			subtree_fail(&s);
	}
	free(s.stack);
	inoset_free(&s.seen);
	return s.found;
}

/* 1 if anc is dir or one of its ancestors, 0 if not, or -errno (a parent
 * loop, a missing record): no depth limit, and never a guess. */
static int is_ancestor(ns *n, meta_txn *t, uint64_t anc, uint64_t dir)
{
	struct meta_node nd;
	uint64_t mark = dir, power = 1, lam = 0;
	int rc;

	for (;;) {
		if (dir == anc)
			return 1;
		if (dir == NS_INO_ROOT)
			return 0;
		rc = ns_node_get(n, t, dir, &nd);
		if (rc)
			return rc == -ENOENT ? -EIO : rc;
		dir = nd.parent;
		if (dir == mark)
			return -ELOOP;
		if (++lam == power) {
			mark = dir;
			power *= 2;
			lam = 0;
		}
	}
}

static int rename_check(ns *n, meta_txn *t, const struct ns_caller *c,
			const struct meta_node *nd, enum policy_op op, int64_t now,
			const char **rule)
{
	struct policy_lock lk;
	struct policy_caller pc;

	ns_caller_policy(c, &pc);
	if (S_ISDIR(nd->mode)) {
		/* The directory itself carries no lock: policy judges the first
		 * locked descendant found. */
		if (op == POP_RENAME_SRC && subtree_locked(n, t, nd->ino, now, &lk))
			return policy_check(&n->cfg.rules, &pc, &lk, POP_RENAME_DIR, now, rule);
		return 0;
	}
	if (!S_ISREG(nd->mode))
		return 0;
	ns_node_lock(nd, &lk);
	return policy_check(&n->cfg.rules, &pc, &lk, op, now, rule);
}

/* 1 if name in directory dir (not the root) is the S3 staging directory's
 * reserved name (WORM_S3_MPU_DIR directly in a bucket), 0 if not, or
 * -errno. */
static int reserved_in_bucket(ns *n, meta_txn *t, uint64_t dir, const char *name)
{
	struct meta_node d;
	if (strcmp(name, WORM_S3_MPU_DIR) != 0)
		return 0;
	int rc = ns_node_get(n, t, dir, &d);
	return rc ? rc : d.parent == NS_INO_ROOT;
}

/* expect: the inode the source name must still hold, expect_dst the one
 * the target name must hold (0: any; else an absent target fails too). */
static int rename_impl(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		       uint64_t newparent, const char *newname, unsigned flags, uint64_t expect,
		       uint64_t expect_dst)
{
	meta_txn *t = NULL;
	struct meta_node src, dst, p1, p2;
	const char *rule = NULL;
	uint64_t sino, dino = 0;
	int64_t now = ns_clock_now(n), tnow = now_ns();
	struct ns_inode *pin = NULL;   /* the replaced object's inode (node_drop) */
	int have_dst, unlink_now = 0, rc;

	stats_op(&n->stats, SOP_RENAME);
	if ((flags & ~(NS_RENAME_NOREPLACE | NS_RENAME_EXCHANGE | NS_RENAME_UPLOAD)) ||
	    ((flags & NS_RENAME_UPLOAD) && (flags & NS_RENAME_EXCHANGE)))
		return -EINVAL;
	if (parent == NS_INO_ROOT || newparent == NS_INO_ROOT || parent == NS_INO_CTL ||
	    newparent == NS_INO_CTL)
		return ns_refuse(n, SOP_RENAME, parent, name, c, -EPERM, "bucket-rename");
	rc = names_component_valid(newname);
	if (rc)
		return rc;
	/* A source still open for writing: its release applies the bucket
	 * default, so its pending mark must follow it (an upload's temporary
	 * object has none until now, whoever renames it). Writers that open
	 * after this check mark it at their open. */
	int src_writers = ns_settle_writers(n, parent, name);
	worm_discard(ns_settle_writers(n, newparent, newname));
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_dirent_get(t, parent, name, &sino);
	if (!rc && expect && sino != expect)
		rc = -ESTALE;     /* the name was given to another object meanwhile */
	if (!rc)
		rc = ns_node_get(n, t, sino, &src);
	if (rc)
		goto fail;
	/* Nothing is renamed onto the reserved name (node_new); an exchange
	 * gives the source's name to the target too. Renaming a plain one
	 * away (an old store's) stays allowed: that is how it is cleared. */
	rc = reserved_in_bucket(n, t, newparent, newname);
	if (!rc && (flags & NS_RENAME_EXCHANGE))
		rc = reserved_in_bucket(n, t, parent, name);
	if (rc > 0) {
		meta_txn_abort(t);
		return ns_refuse(n, SOP_RENAME, newparent, newname, c, -EPERM, "reserved-name");
	}
	if (rc)
		goto fail;
	if (parent != newparent) {
		/* An unknown bucket refuses the rename (never "no bucket"). */
		uint64_t b1 = 0, b2 = 0;
		rc = bucket_ino(n, t, parent, &b1);
		if (!rc)
			rc = bucket_ino(n, t, newparent, &b2);
		if (rc)
			goto fail;
		if (b1 != b2) {
			rc = -EXDEV;
			goto fail;
		}
	}
	rc = meta_dirent_get(t, newparent, newname, &dino);
	have_dst = rc == 0;
	if (rc && rc != -ENOENT)
		goto fail;
	if (expect_dst && (!have_dst || dino != expect_dst)) {
		rc = -ESTALE;     /* the target changed since the caller looked */
		goto fail;
	}
	if (have_dst && dino == sino) {
		meta_txn_abort(t);
		return 0;    /* same file: nothing to do */
	}
	if (have_dst && (rc = ns_node_get(n, t, dino, &dst)))
		goto fail;
	if ((flags & NS_RENAME_NOREPLACE) && have_dst) {
		rc = -EEXIST;
		goto fail;
	}
	if ((flags & NS_RENAME_EXCHANGE) && !have_dst) {
		rc = -ENOENT;
		goto fail;
	}
	if (S_ISDIR(src.mode) && (rc = is_ancestor(n, t, sino, newparent))) {
		rc = rc > 0 ? -EINVAL : rc;
		goto fail;
	}
	if ((flags & NS_RENAME_EXCHANGE) && S_ISDIR(dst.mode) &&
	    (rc = is_ancestor(n, t, dino, parent))) {
		rc = rc > 0 ? -EINVAL : rc;
		goto fail;
	}
	/* Staging nodes (ns_create_staging) stay where they were made: only
	 * renamed within their staging directory, over nothing or another
	 * staging node, so their bytes never get a real name without the bucket's
	 * defaults (a copy is a new object, which gets them). */
	if ((src.flags & META_F_STAGING) || (have_dst && (dst.flags & META_F_STAGING))) {
		struct meta_node sp;
		rc = parent == newparent && (src.flags & META_F_STAGING) &&
		     !(have_dst && !(dst.flags & META_F_STAGING)) ? ns_node_get(n, t, parent, &sp) : -EPERM;
		if (!rc && !(sp.flags & META_F_STAGING))
			rc = -EPERM;   /* the staging area itself never moves */
		if (rc == -EPERM) {
			meta_txn_abort(t);
			return ns_refuse(n, SOP_RENAME, parent, name, c, -EPERM, "staging");
		}
		if (rc)
			goto fail;
	}
	rc = rename_check(n, t, c, &src, POP_RENAME_SRC, now, &rule);
	if (!rc && have_dst)
		rc = rename_check(n, t, c, &dst,
				  (flags & NS_RENAME_EXCHANGE) ? POP_RENAME_SRC : POP_RENAME_DST,
				  now, &rule);
	if (rc) {
		meta_txn_abort(t);
		return ns_refuse(n, SOP_RENAME, parent, name, c, rc, rule);
	}
	if (have_dst && !(flags & NS_RENAME_EXCHANGE)) {
		if (S_ISDIR(dst.mode) && !S_ISDIR(src.mode)) {
			rc = -EISDIR;
			goto fail;
		}
		if (!S_ISDIR(dst.mode) && S_ISDIR(src.mode)) {
			rc = -ENOTDIR;
			goto fail;
		}
		if (S_ISDIR(dst.mode)) {
			rc = meta_dir_is_empty(t, dino);
			if (rc <= 0) {
				rc = rc ? rc : -ENOTEMPTY;
				goto fail;
			}
		}
	}

	if (flags & NS_RENAME_EXCHANGE) {
		rc = meta_dirent_set(t, parent, name, dino);
		if (!rc)
			rc = meta_dirent_set(t, newparent, newname, sino);
		if (rc)
			goto fail;
		dst.parent = parent;
		dst.ctime_ns = tnow;
		rc = ns_node_put(n, t, &dst);
	} else {
		rc = meta_dirent_del(t, parent, name);
		if (!rc && have_dst) {
			rc = meta_dirent_set(t, newparent, newname, sino);
			if (!rc)
				rc = node_drop(n, t, &dst, &unlink_now, &pin);
		} else if (!rc) {
			rc = meta_dirent_add(t, newparent, newname, sino);
		}
	}
	if (rc)
		goto fail;
	src.parent = newparent;
	src.ctime_ns = tnow;
	/* A change: a rotated log's autocommit deadline starts again. */
	rc = ns_autocommit_schedule(n, t, &src, NULL);
	/* An upload under its real name from now on: its default is due (an
	 * unknown bucket marks too, as at an open: the release fails closed). */
	if (!rc && ((flags & NS_RENAME_UPLOAD) || src_writers) && S_ISREG(src.mode) &&
	    !src.sealed && !(src.flags & META_F_DEFAULT_PENDING) &&
	    ns_bucket_default(n, t, &src) != 0)
		rc = ns_pending_mark(n, t, &src, 1);
	/* and its bucket's default append-only from now on (ns_create_upload) */
	if (!rc && (flags & NS_RENAME_UPLOAD) && S_ISREG(src.mode) && !src.sealed &&
	    !(src.flags & META_F_STAGING)) {
		struct meta_node bk;
		rc = ns_bucket_of(n, t, &src, &bk);
		if (!rc && (bk.flags & META_F_DEF_APPEND))
			src.flags |= META_F_APPEND_ONLY;
	}
	if (!rc)
		rc = ns_node_put(n, t, &src);
	if (rc)
		goto fail;
	/* Parent link counts and times (reloaded: dirent ops touch cookies). */
	rc = ns_node_get(n, t, parent, &p1);
	if (rc)
		goto fail;
	if (parent != newparent) {
		rc = ns_node_get(n, t, newparent, &p2);
		if (rc)
			goto fail;
		int sdir = S_ISDIR(src.mode);
		int ddir = have_dst && S_ISDIR(dst.mode);
		if (flags & NS_RENAME_EXCHANGE) {
			p1.nlink += ddir - sdir;
			p2.nlink += sdir - ddir;
		} else {
			p1.nlink -= sdir;
			p2.nlink += sdir - ddir;
		}
		if (!(flags & NS_RENAME_EXCHANGE)) {
			/* src moved here from p1, dst (if any) left the namespace */
			p1.children -= p1.children > 0;
			p2.children += 1 - (have_dst && p2.children > 0);
		}
		p2.mtime_ns = p2.ctime_ns = tnow;
		rc = ns_node_put(n, t, &p2);
		if (rc)
			goto fail;
	} else if (have_dst && !(flags & NS_RENAME_EXCHANGE)) {
		if (S_ISDIR(dst.mode))
			p1.nlink--;
		p1.children -= p1.children > 0;   /* dst left the namespace */
	}
	p1.mtime_ns = p1.ctime_ns = tnow;
	rc = ns_node_put(n, t, &p1);
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	if (rc)
		node_drop_undo(pin);
	if (!rc) {
		/* a change outside the mount (an S3 PUT renames its upload
		 * over the key): both names, the moved inode's attributes,
		 * and the replaced inode */
		ns_queue_change(n, c, NS_INVAL_ENTRY, parent, name);
		ns_queue_change(n, c, NS_INVAL_ENTRY, newparent, newname);
		ns_queue_change(n, c, NS_INVAL_ATTR, sino, NULL);
		if (have_dst)
			ns_queue_change(n, c, NS_INVAL_INODE, dino, NULL);
	}
	if (!rc && unlink_now)
		content_drop(n, dst.ino, dst.objid);
	if (pin)
		ns_inode_put(n, pin);
	return rc;
fail:
	meta_txn_abort(t);
	node_drop_undo(pin);
	if (pin)
		ns_inode_put(n, pin);
	return rc;
}

int ns_rename(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	return rename_impl(n, c, parent, name, newparent, newname, flags, 0, 0);
}

int ns_rename_ino(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint64_t ino, uint64_t newparent, const char *newname, uint64_t dst_ino,
		  unsigned flags)
{
	return rename_impl(n, c, parent, name, newparent, newname, flags, ino, dst_ino);
}

/* Hard links are refused everywhere (design section 3): an object has one
 * name, so its lock and its bucket's rules apply through that name only.
 * Refused like every other rule: counted, logged, in the audit trail. */
int ns_link(ns *n, const struct ns_caller *c, uint64_t ino, uint64_t newparent,
	    const char *newname)
{
	(void)ino;
	stats_op(&n->stats, SOP_LINK);
	return ns_refuse(n, SOP_LINK, newparent, newname, c, -EPERM, "hard-links");
}

/* ---- readdir, statfs ------------------------------------------------------ */

struct rd_ctx {
	ns *n;
	meta_txn *t;
	ns_readdir_cb cb;
	void *arg;
	int rc;
};

static int rd_entry(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct rd_ctx *r = arg;
	struct meta_node nd;
	struct ns_attr a;
	if (ino == META_INO_FORGED) {
		/* An entry failing authentication: the listing is not trusted
		 * (fail closed), and not shortened in silence either. */
		wlog(WLOG_ERR, "directory entry \"%s\" fails authentication: listing refused "
		     "(see wormctl verify)", name);
		r->rc = -EIO;
		return 1;
	}
	if (ns_node_get(r->n, r->t, ino, &nd))
		return 0;    /* vanished concurrently: skip */
	ns_node_attr(r->n, &nd, &a);
	return r->cb(r->arg, name, &a, cookie);
}

/* ".." of .wormfs: the root's attributes, or bare ones (ino, one link,
 * now) if its record cannot be read, so .wormfs is still listed. */
static void ctl_parent_attr(ns *n, struct ns_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = NS_INO_ROOT;
	a->nlink = 1;
	a->mtime_ns = a->ctime_ns = a->atime_ns = clock_realtime_ns();
	int rc = ns_getattr(n, NS_INO_ROOT, a);
	(void)rc;   /* failed: a is untouched, the bare attributes stay */
}

int ns_readdir(ns *n, uint64_t ino, uint64_t off, ns_readdir_cb cb, void *arg)
{
	struct rd_ctx r = { n, NULL, cb, arg, 0 };
	struct meta_node self;
	struct ns_attr a;
	int rc;

	stats_op(&n->stats, SOP_READDIR);
	if (ino == NS_INO_CTL) {
		for (uint64_t i = off;; i++) {
			const char *nm = i == 0 ? "." : "..";
			uint64_t vino = NS_INO_CTL;
			if (i >= 2 && ns_virt_entry(i - 2, &nm, &vino))
				break;
			if (i == 1)
				ctl_parent_attr(n, &a);
			else
				ns_virt_attr(vino, &a);
			if (cb(arg, nm, &a, i + 1))
				break;
		}
		return 0;
	}
	rc = meta_txn_begin(n->me, 1, &r.t);
	if (rc)
		return rc;
	rc = ns_node_get(n, r.t, ino, &self);
	if (rc)
		goto out;
	if (!S_ISDIR(self.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (off < 1) {
		ns_node_attr(n, &self, &a);
		if (cb(arg, ".", &a, 1))
			goto out;
	}
	if (off < 2) {
		struct meta_node p;
		if (ns_node_get(n, r.t, self.parent, &p))
			p = self;
		ns_node_attr(n, &p, &a);
		if (cb(arg, "..", &a, 2))
			goto out;
	}
	rc = meta_readdir(r.t, ino, off < 2 ? 2 : off, rd_entry, &r);
	if (!rc)
		rc = r.rc;
out:
	meta_txn_abort(r.t);
	return rc;
}

int ns_statfs(ns *n, struct ns_statfs *out)
{
	struct statvfs sv;
	meta_txn *t = NULL;
	uint64_t count = 0;
	int rc;

	stats_op(&n->stats, SOP_STATFS);
	rc = store_statfs(n->st, &sv);
	if (rc)
		return rc;
	if (!meta_txn_begin(n->me, 1, &t)) {
		/* The inode count is advisory (df -i): a failed count is 0. */
		if (meta_node_count(t, &count))
			count = 0;
		meta_txn_abort(t);
	}
	out->bsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	out->blocks = sv.f_blocks;
	out->bfree = sv.f_bfree;
	out->bavail = sv.f_bavail;
	out->ffree = sv.f_favail > 0 ? sv.f_favail : 1000000;
	out->files = count + out->ffree;
	out->namemax = META_NAME_MAX;
	return 0;
}
