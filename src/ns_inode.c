/* ns_inode: the table of inodes in use (struct ns_inode, ns_priv.h): get,
 * find, put, their content state loaded from records, attributes with that
 * live state, the queue of kernel page-cache invalidations, and the short
 * wait for writers whose close(2) has not yet reached us as a release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ns_inode.h"
#include "ns_record.h"
#include "log.h"

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

/* The inode of ino if it is in the table (a reference), else NULL. */
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
	a->staging = (nd->flags & META_F_STAGING) != 0;
	if (S_ISREG(nd->mode)) {
		struct policy_lock lk;
		a->gen = nd->generation;
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
				if (in->dirty)
					a->gen = UINT64_MAX;
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

void ns_set_inval(ns *n, ns_inval_fn fn, void *arg)
{
	pthread_mutex_lock(&n->inval_run);
	n->inval = fn;
	n->inval_arg = arg;
	pthread_mutex_unlock(&n->inval_run);
}

/* At most this many wait (about 2 MiB): past it a change is not told to
 * the kernel, whose caches then expire by their timeouts (logged once). */
#define NS_INVAL_MAX 8192

static void queue_item(ns *n, int kind, uint64_t ino, const char *name)
{
	struct ns_inval_item *it;

	pthread_mutex_lock(&n->inval_mu);
	/* One still waiting among the last few does it (they are all
	 * delivered after the changes that queued them): an S3 PUT queues
	 * its directory's attributes three times. */
	for (size_t i = n->inval_n, k = 0; i > 0 && k < 16; i--, k++) {
		it = &n->inval_q[i - 1];
		if (it->kind == kind && it->ino == ino && (!name || !strcmp(it->name, name)))
			goto out;
	}
	if (n->inval_n == n->inval_cap) {
		size_t cap = n->inval_cap ? 2 * n->inval_cap : 16;
		void *q = cap <= NS_INVAL_MAX ? realloc(n->inval_q, cap * sizeof(*it)) : NULL;
		if (!q) {
			if (!n->inval_dropped)
				wlog(WLOG_WARN, "kernel cache invalidations dropped (%zu queued): "
				     "the mount may show names changed over S3 as they were "
				     "for up to the cache timeouts", n->inval_n);
			n->inval_dropped = 1;
			goto out;
		}
		n->inval_q = q;
		n->inval_cap = cap;
	}
	it = &n->inval_q[n->inval_n++];
	it->kind = kind;
	it->ino = ino;
	it->name[0] = '\0';
	if (name)
		snprintf(it->name, sizeof(it->name), "%s", name);
out:
	pthread_mutex_unlock(&n->inval_mu);
}

void ns_queue_inval(ns *n, uint64_t ino)
{
	queue_item(n, NS_INVAL_INODE, ino, NULL);
}

void ns_queue_change(ns *n, const struct ns_caller *c, int kind, uint64_t ino,
		     const char *name)
{
	if (c && c->via_mount)
		return;      /* the kernel made the request: it knows */
	if (kind == NS_INVAL_ENTRY && (!name || strlen(name) > META_NAME_MAX))
		return;
	queue_item(n, kind, ino, kind == NS_INVAL_ENTRY ? name : NULL);
	/* and the directory's size and times, also when the kernel holds
	 * no dentry of the name */
	if (kind == NS_INVAL_ENTRY)
		queue_item(n, NS_INVAL_ATTR, ino, NULL);
}

/* Called from the timer thread or the S3 front end, never from a FUSE
 * request: the kernel may hold locks of the inode (or of the directory)
 * while a request on it is in flight. inval_run is held throughout, so a
 * caller returns only once what was queued before its call is delivered,
 * also when another thread took it from the queue first. */
void ns_drain_inval(ns *n)
{
	struct ns_inval_item *q;
	size_t k;

	pthread_mutex_lock(&n->inval_run);
	pthread_mutex_lock(&n->inval_mu);
	q = n->inval_q;
	k = n->inval_n;
	n->inval_q = NULL;
	n->inval_n = n->inval_cap = 0;
	n->inval_dropped = 0;
	pthread_mutex_unlock(&n->inval_mu);
	for (size_t i = 0; i < k && n->inval; i++)
		n->inval(n->inval_arg, q[i].kind, q[i].ino,
			 q[i].kind == NS_INVAL_ENTRY ? q[i].name : NULL);
	pthread_mutex_unlock(&n->inval_run);
	free(q);
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

int ns_settle_writers(ns *n, uint64_t parent, const char *name)
{
	struct ns_inode *in;
	struct meta_node nd, b;
	meta_txn *t = NULL;
	uint64_t ino;
	int rc, pending = 0, left;

	if (meta_txn_begin(n->me, 1, &t))
		return 0;
	rc = meta_dirent_get(t, parent, name, &ino);
	if (rc || !(in = inode_find(n, ino))) {
		meta_txn_abort(t);
		return 0;
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
	pthread_mutex_lock(&in->mu);
	left = in->writers > 0;
	pthread_mutex_unlock(&in->mu);
	ns_inode_put(n, in);
	return left;
}

void ns_inode_load(struct ns_inode *in, const struct meta_node *nd, int64_t now)
{
	struct policy_lock lk;

	if (!in->live) {
		/* The block map is the committed state's again: read anew. */
		obj_map_free(in->ref.map);
		ns_node_ref(nd, &in->ref);
		in->inl = (nd->flags & META_F_INLINE) != 0;
		in->live = 1;
	}
	in->forged = (nd->flags & NS_F_AUTH_FAILED) != 0;
	in->unbound = 0;
	ns_node_lock(nd, &lk);
	/* Sealed is for ever: never cleared by a stale snapshot. An
	 * appendable WORM object is not frozen (its end may grow); the
	 * append-only rule keeps its committed bytes (ns_write). */
	in->sealed |= policy_content_frozen(&lk, now);
	in->append = lk.append_only;
}

int ns_inode_refresh(ns *n, struct ns_inode *in, int64_t now)
{
	struct meta_node nd;
	int rc;

	pthread_mutex_lock(&in->mu);
	rc = ns_node_read(n, in->ino, &nd);
	if (!rc)
		ns_inode_load(in, &nd, now);
	pthread_mutex_unlock(&in->mu);
	return rc;
}
