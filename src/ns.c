/* ns: namespace, handles and content paths. Lock rules come from policy;
 * this file only gathers the facts (lock state, caller, writers) and acts
 * on policy's answer. xattrs, lock attributes and offline tooling are in
 * nsx.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/falloc.h>

#include "ns_priv.h"
#include "inoset.h"
#include "log.h"
#include "names.h"

/* ---- records --------------------------------------------------------- */

/* The authenticated part of a node (design section 7): content identity,
 * size, generation, lock and bucket-lock fields; from record version 2 also
 * the record version, parent, mode, owner, links, the bucket default's
 * years and a directory's count of children (the union with generation).
 * Times are ordinary metadata and not covered; nor is next_cookie, which
 * meta_dirent_add advances on its own. */
void ns_node_mac(const ns *n, const struct meta_node *nd, uint8_t out[32])
{
	struct {
		uint64_t ino, size, gen;
		uint32_t type, alg, flags;
		uint8_t objid[16];
		uint8_t wrapped[META_WRAPPED_BYTES];
		int32_t lock_mode, hold, sealed;
		int64_t retain_until;
		int32_t def_mode;
		uint32_t def_days;
		int32_t block_state;
		char block_id[24];
		int64_t block_expires;
	} m;
	memset(&m, 0, sizeof(m));
	m.ino = nd->ino;
	m.size = nd->size;
	m.gen = nd->generation;
	m.type = nd->mode & S_IFMT;
	m.alg = nd->alg;
	m.flags = nd->flags & (META_F_SPARSE | META_F_DEFAULT_PENDING | META_F_INLINE |
			       META_F_APPEND_ONLY | META_F_DEF_APPEND);
	memcpy(m.objid, nd->objid, 16);
	memcpy(m.wrapped, nd->wrapped, META_WRAPPED_BYTES);
	m.lock_mode = nd->lock_mode;
	m.hold = nd->hold;
	m.sealed = nd->sealed;
	m.retain_until = nd->retain_until;
	m.def_mode = nd->def_mode;
	m.def_days = nd->def_days;
	m.block_state = nd->block_state;
	memcpy(m.block_id, nd->block_id, sizeof(m.block_id));
	m.block_expires = nd->block_expires;
	/* The recorded bucket is authenticated too. Records written before
	 * it was kept carry 0 and the MAC over the fields above only, so they
	 * still verify; clearing the field of a newer record breaks its MAC. */
	uint64_t bucket = ns_node_bucket(nd);
	if (nd->version >= 2) {
		struct {
			uint64_t bucket, parent;
			uint32_t version, mode, uid, gid, nlink;
			int32_t def_years;
		} x;
		/* A bucket's autocommit period: covered when set, so a record
		 * without one (all before it existed) MACs as before. */
		uint32_t acs = nd->autocommit_s;
		uint8_t buf[sizeof(m) + sizeof(x) + sizeof(acs)];
		memset(&x, 0, sizeof(x));
		x.bucket = bucket;
		x.parent = nd->parent;
		x.version = nd->version;
		x.mode = nd->mode;
		x.uid = nd->uid;
		x.gid = nd->gid;
		x.nlink = nd->nlink;
		x.def_years = nd->def_years;
		memcpy(buf, &m, sizeof(m));
		memcpy(buf + sizeof(m), &x, sizeof(x));
		memcpy(buf + sizeof(m) + sizeof(x), &acs, sizeof(acs));
		wcrypto_mac(out, n->reckey, buf, sizeof(buf) - (acs ? 0 : sizeof(acs)));
		return;
	}
	if (!bucket) {
		wcrypto_mac(out, n->reckey, &m, sizeof(m));
		return;
	}
	/* A bucket's autocommit period likewise: covered when set, so a
	 * record without one MACs as before. */
	uint32_t ac = nd->autocommit_s;
	uint8_t buf[sizeof(m) + sizeof(bucket) + sizeof(ac)];
	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), &bucket, sizeof(bucket));
	memcpy(buf + sizeof(m) + sizeof(bucket), &ac, sizeof(ac));
	wcrypto_mac(out, n->reckey, buf, sizeof(buf) - (ac ? 0 : sizeof(ac)));
}

uint64_t ns_node_bucket(const struct meta_node *nd)
{
	return (uint64_t)nd->bucket_hi << 32 | nd->bucket_lo;
}

static void node_set_bucket(struct meta_node *nd, uint64_t bucket)
{
	nd->bucket_lo = (uint32_t)bucket;
	nd->bucket_hi = (uint32_t)(bucket >> 32);
}

int ns_node_get(ns *n, meta_txn *t, uint64_t ino, struct meta_node *out)
{
	int rc = meta_node_get(t, ino, out);
	uint8_t mac[32];

	if (rc)
		return rc;
	ns_node_mac(n, out, mac);
	out->flags &= ~NS_F_AUTH_FAILED;
	/* Once the store is upgraded, a version 1 record (whose MAC leaves
	 * out the parent) is an older record put back: refused. */
	if (!wcrypto_equal(mac, out->mac, sizeof(mac)) ||
	    (n->rec_strict && out->version < META_NODE_VERSION)) {
		out->flags |= NS_F_AUTH_FAILED;
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "metadata record of inode %llu fails authentication: treated as locked",
		     (unsigned long long)ino);
	}
	return 0;
}

/* Stamp the version and the MAC (nd's bucket known, or derived in t). */
static int node_seal(ns *n, meta_txn *t, struct meta_node *nd)
{
	struct meta_node b;

	/* Never launder a record that failed authentication. */
	if (nd->flags & NS_F_AUTH_FAILED)
		return -EPERM;
	/* A record from before the bucket was kept learns it when it is next
	 * written. Best effort: an object unlinked while open may have lost
	 * its directory; ns_bucket_of derives (or refuses) at each use. */
	if (!ns_node_bucket(nd) && nd->ino != NS_INO_ROOT && !ns_bucket_of(n, t, nd, &b))
		node_set_bucket(nd, b.ino);
	nd->version = META_NODE_VERSION;
	ns_node_mac(n, nd, nd->mac);
	return 0;
}

int ns_node_put(ns *n, meta_txn *t, struct meta_node *nd)
{
	int rc = node_seal(n, t, nd);
	return rc ? rc : meta_node_put(t, nd);
}

void ns_node_lock(const struct meta_node *nd, struct policy_lock *lk)
{
	lk->mode = nd->lock_mode;
	lk->retain_until = nd->retain_until;
	lk->hold = nd->hold;
	lk->sealed = nd->sealed;
	lk->auth_failed = (nd->flags & NS_F_AUTH_FAILED) != 0;
	lk->append_only = (nd->flags & META_F_APPEND_ONLY) != 0;
}

void ns_caller_policy(const struct ns_caller *c, struct policy_caller *pc)
{
	pc->uid = c->uid;
	pc->gid = c->gid;
	pc->groups = c->groups;
	pc->ngroups = c->ngroups;
}

int ns_may_write(const struct meta_node *nd, const struct ns_caller *c)
{
	if (c->uid == 0)
		return 1;
	if (c->uid == nd->uid)
		return (nd->mode & S_IWUSR) != 0;
	int ingroup = c->gid == nd->gid;
	for (size_t i = 0; !ingroup && i < c->ngroups; i++)
		ingroup = c->groups[i] == nd->gid;
	if (ingroup)
		return (nd->mode & S_IWGRP) != 0;
	return (nd->mode & S_IWOTH) != 0;
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

/* ---- inode table -------------------------------------------------------- */

struct ns_inode *ns_inode_get(ns *n, uint64_t ino)
{
	size_t b = ino % NS_ITAB_SIZE;
	struct ns_inode *in;

	pthread_mutex_lock(&n->itab_mu);
	for (in = n->itab[b]; in; in = in->next)
		if (in->ino == ino)
			break;
	if (!in) {
		in = calloc(1, sizeof(*in));
		if (!in)
			goto out;
		in->ino = ino;
		pthread_mutex_init(&in->mu, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		/* Timed waits must not follow a system clock set back or ahead. */
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&in->idle, &ca);
		pthread_condattr_destroy(&ca);
		pthread_rwlock_init(&in->rw, NULL);
		in->next = n->itab[b];
		n->itab[b] = in;
	}
	in->refs++;
out:
	pthread_mutex_unlock(&n->itab_mu);
	return in;
}

static struct ns_inode *inode_find(ns *n, uint64_t ino)
{
	struct ns_inode *in;
	pthread_mutex_lock(&n->itab_mu);
	for (in = n->itab[ino % NS_ITAB_SIZE]; in; in = in->next)
		if (in->ino == ino)
			break;
	if (in)
		in->refs++;
	pthread_mutex_unlock(&n->itab_mu);
	return in;
}

void ns_ibuf_free(struct ns_inode *in)
{
	if (in->ibuf) {
		/* Plaintext of an object: not left behind in freed memory. */
		wcrypto_wipe(in->ibuf, OBJ_INLINE_MAX);
		free(in->ibuf);
		in->ibuf = NULL;
	}
}

void ns_inode_put(ns *n, struct ns_inode *in)
{
	struct ns_inode **pp;
	int gone = 0;

	pthread_mutex_lock(&n->itab_mu);
	if (--in->refs == 0) {
		for (pp = &n->itab[in->ino % NS_ITAB_SIZE]; *pp; pp = &(*pp)->next)
			if (*pp == in) {
				*pp = in->next;
				break;
			}
		gone = 1;
	}
	pthread_mutex_unlock(&n->itab_mu);
	if (gone)
		ns_inode_free(in);
}

void ns_inode_free(struct ns_inode *in)
{
	obj_undo_free(in->ref.undo);
	obj_map_free(in->ref.map);
	wcrypto_aead_free(in->key);
	ns_ibuf_free(in);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->idle);
	pthread_rwlock_destroy(&in->rw);
	free(in);
}

/* ---- attributes -------------------------------------------------------- */

void ns_node_attr(ns *n, const struct meta_node *nd, struct ns_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = nd->ino;
	a->mode = nd->mode;
	a->nlink = nd->nlink;
	a->uid = nd->uid;
	a->gid = nd->gid;
	a->size = nd->size;
	a->atime_ns = nd->atime_ns;
	a->mtime_ns = nd->mtime_ns;
	a->ctime_ns = nd->ctime_ns;
	if (S_ISREG(nd->mode)) {
		struct policy_lock lk;
		ns_node_lock(nd, &lk);
		a->sealed = policy_content_frozen(&lk, ns_clock_now(n));
		/* Live size of an open object (uncommitted writes). */
		struct ns_inode *in = inode_find(n, nd->ino);
		if (in) {
			pthread_mutex_lock(&in->mu);
			if (in->live) {
				a->size = in->ref.size;
				if (in->mtime_ns)
					a->mtime_ns = a->ctime_ns = in->mtime_ns;
				a->sealed = a->sealed || in->sealed;
			}
			pthread_mutex_unlock(&in->mu);
			ns_inode_put(n, in);
		}
	}
	/* Only a tampered record can hold more; the kernel would refuse the
	 * attributes (EIO everywhere) instead of the fail-closed EPERM. */
	if (a->size > OBJ_MAX_SIZE)
		a->size = OBJ_MAX_SIZE;
	a->blocks = (a->size + 511) / 512;
}

static int64_t now_ns(void) { return clock_realtime_ns(); }

int64_t ns_clock_now(ns *n)
{
	return wclock_now(&n->clk, clock_realtime_ns() / 1000000000);
}

struct stats *ns_stats(ns *n) { return &n->stats; }
kms *ns_kms(ns *n) { return n->km; }

void ns_set_inval(ns *n, ns_inval_fn fn, void *arg)
{
	n->inval = fn;
	n->inval_arg = arg;
}

void ns_queue_inval(ns *n, uint64_t ino)
{
	pthread_mutex_lock(&n->inval_mu);
	if (n->inval_n < sizeof(n->inval_q) / sizeof(n->inval_q[0]))
		n->inval_q[n->inval_n++] = ino;
	pthread_mutex_unlock(&n->inval_mu);
}

/* Called from the timer thread, never from a request: the kernel may hold
 * locks of the inode while a request on it is in flight. */
void ns_drain_inval(ns *n)
{
	uint64_t q[64];
	size_t k;

	pthread_mutex_lock(&n->inval_mu);
	k = n->inval_n;
	memcpy(q, n->inval_q, k * sizeof(q[0]));
	n->inval_n = 0;
	pthread_mutex_unlock(&n->inval_mu);
	for (size_t i = 0; i < k && n->inval; i++)
		n->inval(n->inval_arg, q[i]);
}

/* Legacy records (no recorded bucket): follow the parents up to the
 * root, without a depth limit. A parent loop (an edited record) is found
 * by Brent's method and is an error, as is a missing parent: the caller
 * refuses, it never goes on as if there were no bucket. */
static int bucket_walk(ns *n, meta_txn *t, const struct meta_node *nd, struct meta_node *bucket)
{
	struct meta_node cur = *nd;
	uint64_t mark = cur.ino, power = 1, lam = 0;
	int rc;

	for (;;) {
		if (cur.parent == NS_INO_ROOT) {
			*bucket = cur;
			return 0;
		}
		rc = ns_node_get(n, t, cur.parent, &cur);
		if (rc)
			return rc == -ENOENT ? -EIO : rc;
		if (cur.ino == mark || cur.ino == NS_INO_ROOT)
			return -ELOOP;
		if (ns_node_bucket(&cur))
			return ns_bucket_of(n, t, &cur, bucket);
		if (++lam == power) {
			mark = cur.ino;
			power *= 2;
			lam = 0;
		}
	}
}

int ns_bucket_of(ns *n, meta_txn *t, const struct meta_node *nd, struct meta_node *bucket)
{
	uint64_t b = ns_node_bucket(nd);
	int rc;

	if (nd->ino == NS_INO_ROOT)
		return -ENOENT;
	if (nd->parent == NS_INO_ROOT)
		rc = (*bucket = *nd, 0);
	else if (b)
		rc = b == nd->ino ? -EIO : ns_node_get(n, t, b, bucket);
	else
		rc = bucket_walk(n, t, nd, bucket);
	if (rc)
		return rc == -ENOENT ? -EIO : rc;
	/* Its default retention is about to be trusted: only an authentic
	 * bucket record will do. */
	if (!S_ISDIR(bucket->mode) || bucket->parent != NS_INO_ROOT ||
	    bucket->ino == NS_INO_ROOT || (bucket->flags & NS_F_AUTH_FAILED))
		return -EIO;
	return 0;
}

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
	if (parent == NS_INO_ROOT && strcmp(name, NAMES_CTL_DIR) == 0)
		return ns_virt_attr(n, NS_INO_CTL, out);
	if (parent == NS_INO_CTL) {
		if (!strcmp(name, "version"))
			return ns_virt_attr(n, NS_INO_VERSION, out);
		if (!strcmp(name, "stats"))
			return ns_virt_attr(n, NS_INO_STATS, out);
		if (!strcmp(name, "clock"))
			return ns_virt_attr(n, NS_INO_CLOCK, out);
		if (!strcmp(name, "audit"))
			return ns_virt_attr(n, NS_INO_AUDIT, out);
		return -ENOENT;
	}
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
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc;

	stats_op(&n->stats, SOP_GETATTR);
	if (ns_is_virtual(ino))
		return ns_virt_attr(n, ino, out);
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	meta_txn_abort(t);
	if (!rc)
		ns_node_attr(n, &nd, out);
	return rc;
}

/* ---- creation ------------------------------------------------------------ */

/* Create a node named name in parent (write txn t). Namespace rules of
 * design section 3 are checked here. */
static int node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		    const char *name, uint32_t mode, struct meta_node *out)
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
	/* Every new node records its bucket (a bucket itself): known at any
	 * depth in one lookup, and authenticated with the record. */
	struct meta_node b;
	if (parent == NS_INO_ROOT) {
		node_set_bucket(out, ino);
	} else {
		rc = ns_bucket_of(n, t, &p, &b);
		if (rc)
			return rc;
		node_set_bucket(out, b.ino);
	}
	if (S_ISREG(mode)) {
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
	rc = node_seal(n, t, out);
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
	return node_new(n, t, c, parent, name, mode, out);
}

static int create_common(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
			 uint32_t mode, const char *target, struct ns_attr *out, enum stats_op op)
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
	rc = node_new(n, t, c, parent, name, mode, &nd);
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
	if (!rc && out)
		ns_node_attr(n, &nd, out);
	return rc;
}

int ns_mkdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out)
{
	return create_common(n, c, parent, name, S_IFDIR | (mode & 07777), NULL, out, SOP_MKDIR);
}

int ns_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out)
{
	if (!S_ISREG(mode) && (mode & S_IFMT) != 0)
		return ns_refuse(n, SOP_CREATE, parent, name, c, -EPERM, "special-file");
	return create_common(n, c, parent, name, S_IFREG | (mode & 07777), NULL, out, SOP_CREATE);
}

int ns_symlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	       const char *target, struct ns_attr *out)
{
	if (strlen(target) >= 4096)
		return -ENAMETOOLONG;
	return create_common(n, c, parent, name, S_IFLNK | 0777, target, out, SOP_SYMLINK);
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

/* ---- removal --------------------------------------------------------- */

/* Drop a node that left the namespace. An object that is still open keeps
 * its record (nlink 0) until the last release, so fstat, reads and writes
 * on the open handles go on working; it is recorded as an orphan so a
 * crash in between cannot leak it. Otherwise record and content go now. */
static int node_drop(ns *n, meta_txn *t, const struct meta_node *nd, int *unlink_now)
{
	static const uint8_t zero[16];
	int rc;

	*unlink_now = 0;
	if (S_ISREG(nd->mode)) {
		/* Marked under in->mu so that an open racing with us either
		 * counted its handle first or sees `unlinked` and fails. */
		struct ns_inode *in = ns_inode_get(n, nd->ino);
		int open = 0;
		if (!in)
			return -ENOMEM;
		pthread_mutex_lock(&in->mu);
		in->unlinked = 1;
		open = in->handles > 0;
		pthread_mutex_unlock(&in->mu);
		ns_inode_put(n, in);
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

/* The transaction that dropped nd did not commit: the object is still
 * there, so its open handles must not treat it as unlinked (their last
 * release would skip its default retention and delete it). */
static void node_drop_undo(ns *n, const struct meta_node *nd)
{
	struct ns_inode *in;

	if (!S_ISREG(nd->mode) || !(in = inode_find(n, nd->ino)))
		return;
	pthread_mutex_lock(&in->mu);
	in->unlinked = 0;
	pthread_mutex_unlock(&in->mu);
	ns_inode_put(n, in);
}

/* close(2) returns before the kernel sends RELEASE, and the last writer's
 * release is the commit that applies a bucket's default retention. So an
 * `rm` right after a writer closed waits (briefly) for that release, and
 * sees the object as it was committed. A writer that stays open longer
 * leaves the object mutable, and the operation goes ahead. Called outside
 * any transaction. */
#define NS_SETTLE_NS 1000000000LL

void ns_settle_inode(ns *n, struct ns_inode *in)
{
	unsigned cap = n->cfg.max_threads / 4 ? n->cfg.max_threads / 4 : 1;

	if (atomic_fetch_add(&n->settling, 1) >= cap) {
		atomic_fetch_sub(&n->settling, 1);
		return;
	}
	pthread_mutex_lock(&in->mu);
	if (in->writers > 0) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += NS_SETTLE_NS / 1000000000LL;
		while (in->writers > 0 && pthread_cond_timedwait(&in->idle, &in->mu, &dl) == 0)
			;
	}
	pthread_mutex_unlock(&in->mu);
	atomic_fetch_sub(&n->settling, 1);
}

void ns_settle_writers(ns *n, uint64_t parent, const char *name)
{
	struct ns_inode *in;
	struct meta_node nd, b;
	meta_txn *t = NULL;
	uint64_t ino;
	int rc, pending = 0;

	if (meta_txn_begin(n->me, 1, &t))
		return;
	rc = meta_dirent_get(t, parent, name, &ino);
	if (rc || !(in = inode_find(n, ino))) {
		meta_txn_abort(t);
		return;
	}
	/* Only where a release will lock the object: a bucket default. */
	pthread_mutex_lock(&in->mu);
	pending = in->writers > 0;
	pthread_mutex_unlock(&in->mu);
	/* A bucket that cannot be found is no reason not to wait. */
	if (pending && !ns_node_get(n, t, ino, &nd))
		pending = !nd.sealed && (ns_bucket_of(n, t, &nd, &b) || b.def_mode != WORM_NONE);
	meta_txn_abort(t);
	if (pending)
		ns_settle_inode(n, in);
	ns_inode_put(n, in);
}

static int unlink_or_rmdir(ns *n, const struct ns_caller *c, uint64_t parent,
			   const char *name, int dir)
{
	enum stats_op op = dir ? SOP_RMDIR : SOP_UNLINK;
	meta_txn *t = NULL;
	struct meta_node nd, p;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	uint64_t ino;
	int unlink_now = 0, dropped = 0, rc;

	stats_op(&n->stats, op);
	if (parent == NS_INO_CTL || (parent == NS_INO_ROOT && !strcmp(name, NAMES_CTL_DIR)))
		return ns_refuse(n, op, parent, name, c, -EPERM, "control-directory");
	if (!dir)
		ns_settle_writers(n, parent, name);
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_dirent_get(t, parent, name, &ino);
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
	if (!rc) {
		rc = node_drop(n, t, &nd, &unlink_now);
		dropped = !rc;
	}
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
	if (rc && dropped)
		node_drop_undo(n, &nd);
	if (!rc && unlink_now)
		store_obj_unlink(n->st, nd.objid);
	return rc;
fail:
	meta_txn_abort(t);
	if (dropped)
		node_drop_undo(n, &nd);
	return rc;
}

int ns_unlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name)
{
	return unlink_or_rmdir(n, c, parent, name, 0);
}

int ns_rmdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name)
{
	return unlink_or_rmdir(n, c, parent, name, 1);
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

int ns_subtree_locked(ns *n, meta_txn *t, uint64_t dir, int64_t now, struct policy_lock *found)
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
		if (op == POP_RENAME_SRC && ns_subtree_locked(n, t, nd->ino, now, &lk))
			return policy_check(&n->cfg.rules, &pc, &lk, POP_RENAME_DIR, now, rule);
		return 0;
	}
	if (!S_ISREG(nd->mode))
		return 0;
	ns_node_lock(nd, &lk);
	return policy_check(&n->cfg.rules, &pc, &lk, op, now, rule);
}

int ns_rename(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	meta_txn *t = NULL;
	struct meta_node src, dst, p1, p2;
	const char *rule = NULL;
	uint64_t sino, dino = 0;
	int64_t now = ns_clock_now(n), tnow = now_ns();
	int have_dst, unlink_now = 0, dropped = 0, rc;

	stats_op(&n->stats, SOP_RENAME);
	if (flags & ~(NS_RENAME_NOREPLACE | NS_RENAME_EXCHANGE))
		return -EINVAL;
	if (parent == NS_INO_ROOT || newparent == NS_INO_ROOT || parent == NS_INO_CTL ||
	    newparent == NS_INO_CTL)
		return ns_refuse(n, SOP_RENAME, parent, name, c, -EPERM, "bucket-rename");
	rc = names_component_valid(newname);
	if (rc)
		return rc;
	ns_settle_writers(n, parent, name);
	ns_settle_writers(n, newparent, newname);
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_dirent_get(t, parent, name, &sino);
	if (!rc)
		rc = ns_node_get(n, t, sino, &src);
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
			if (!rc) {
				rc = node_drop(n, t, &dst, &unlink_now);
				dropped = !rc;
			}
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
	if (rc && dropped)
		node_drop_undo(n, &dst);
	if (!rc && unlink_now)
		store_obj_unlink(n->st, dst.objid);
	return rc;
fail:
	meta_txn_abort(t);
	if (dropped)
		node_drop_undo(n, &dst);
	return rc;
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

int ns_readdir(ns *n, uint64_t ino, uint64_t off, ns_readdir_cb cb, void *arg)
{
	struct rd_ctx r = { n, NULL, cb, arg, 0 };
	struct meta_node self;
	struct ns_attr a;
	int rc;

	stats_op(&n->stats, SOP_READDIR);
	if (ino == NS_INO_CTL) {
		static const char *names[] = { "version", "stats", "clock", "audit" };
		static const uint64_t inos[] = { NS_INO_VERSION, NS_INO_STATS, NS_INO_CLOCK,
						 NS_INO_AUDIT };
		for (uint64_t i = off; i < 6; i++) {
			if (i < 2)
				ns_virt_attr(n, i == 0 ? NS_INO_CTL : NS_INO_ROOT, &a);
			else
				ns_virt_attr(n, inos[i - 2], &a);
			const char *nm = i == 0 ? "." : i == 1 ? ".." : names[i - 2];
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
		meta_node_count(t, &count);
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
