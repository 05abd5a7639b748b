/* ns_io: open handles, content reads and writes (inline or in a content
 * file), commits.
 *
 * Concurrency per inode: in->rw serializes writers against readers and
 * each other; in->mu guards the small state (writers, sealed, size) and is
 * the lock under which a write-open and a lock change exclude each other
 * (a lock change gets EBUSY while writers > 0). The full rules are at
 * struct ns_inode in ns_priv.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/falloc.h>

#include "ns_ctx.h"
#include "ns_inode.h"
#include "ns_tree.h"
#include "ns_io.h"
#include "ns_path.h"
#include "ns_record.h"
#include "ns_refusal.h"
#include "ns_retention.h"
#include "ns_setid.h"
#include "ns_trail.h"
#include "ns_tree.h"
#include "ns_virt.h"
#include "log.h"

static const uint8_t zero_id[16];

static int has_content(const struct obj_ref *r)
{
	return memcmp(r->id, zero_id, sizeof(zero_id)) != 0;
}

/* policy_check on an inode's in-memory state (in->mu held): frozen, or
 * append-only, as loaded from the record and changed by lock changes. */
static int inode_check(ns *n, const struct ns_inode *in, enum policy_op op, const char **rule)
{
	struct policy_lock lk = { 0 };
	struct policy_caller pc = { 0 };

	lk.sealed = in->sealed;
	lk.append_only = in->append && !in->sealed;
	return policy_check(&n->cfg.rules, &pc, &lk, op, ns_clock_now(n), rule);
}

static void auth_failure(ns *n, const struct ns_inode *in)
{
	char id[33];
	wcrypto_hex(id, in->ref.id, 16);
	atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
	wlog(WLOG_ERR, "object %s (inode %llu): content fails authentication, read refused",
	     id, (unsigned long long)in->ino);
}

/* Opening the content file of an object that has one: a missing file is
 * damage like a failing block (EIO, logged, counted), never ENOENT. */
static int content_open(ns *n, struct ns_inode *in, int flags, int *fd)
{
	char id[33];
	int rc = obj_open(n->st, &in->ref, flags, fd);

	if (rc == -EIO) {
		auth_failure(n, in);
	} else if (rc == -ENOENT) {
		wcrypto_hex(id, in->ref.id, 16);
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "object %s (inode %llu): content file missing, read refused",
		     id, (unsigned long long)in->ino);
		rc = -EIO;
	}
	return rc;
}

/* The block map of the object, read at the first open of its content
 * file and kept in memory with the inode (no fd kept); a session updates
 * it. Called with in->mu held (an open copies in->ref under in->mu alone). */
static int map_attach(ns *n, struct ns_inode *in, int fd)
{
	struct obj_ref r;
	int rc;

	if (in->ref.map)
		return 0;
	r = in->ref;
	r.key = in->key;
	rc = obj_map_load(n->st, fd, &r, &in->ref.map);
	if (rc == -EIO)
		auth_failure(n, in);
	return rc;
}

/* Start a write session (generation G+1) if none is running, and take a
 * snapshot of the object, with its key, for obj_*. Every content change
 * passes here before it touches the content: the sealed check and the
 * dirty mark are one in->mu hold, so a lock change (refused while dirty)
 * either comes first and is seen, or waits for the commit. */
static int session_ref(struct ns_inode *in, struct obj_ref *r)
{
	pthread_mutex_lock(&in->mu);
	if (in->sealed) {
		pthread_mutex_unlock(&in->mu);
		return -EPERM;
	}
	if (!in->ref.write_gen)
		in->ref.write_gen = in->ref.gen + 1;
	in->dirty = 1;
	*r = in->ref;
	r->key = in->key;
	pthread_mutex_unlock(&in->mu);
	return 0;
}

/* Load an inline object's plaintext once (its value is committed with the
 * node, so it holds exactly the recorded size and generation). Called
 * without in->mu, with in->rw held: a writer that would change the
 * content needs the plaintext first, so nobody changes it meanwhile. */
static int inline_load(ns *n, struct ns_inode *in)
{
	size_t cap = obj_inline_len(OBJ_INLINE_MAX), len = 0;
	uint8_t *slot = NULL, *buf = NULL;
	meta_txn *t = NULL;
	struct obj_ref r;
	int rc, need;

	pthread_mutex_lock(&in->mu);
	need = in->inl && !in->ibuf;
	pthread_mutex_unlock(&in->mu);
	if (!need)
		return 0;
	rc = ns_key_ensure(n, in);
	if (rc)
		return rc;
	pthread_mutex_lock(&in->mu);
	r = in->ref;
	r.key = in->key;
	pthread_mutex_unlock(&in->mu);
	slot = malloc(cap);
	buf = calloc(1, OBJ_INLINE_MAX);
	rc = slot && buf ? meta_txn_begin(n->me, 1, &t) : -ENOMEM;
	if (!rc) {
		rc = meta_inline_get(t, in->ino, slot, cap, &len);
		meta_txn_abort(t);
		/* Recorded (authenticated) as inline: no value is damage too. */
		if (rc == -ENOENT || rc == -ERANGE)
			rc = -EIO;
	}
	if (!rc)
		rc = obj_inline_open(&r, slot, len, buf);
	if (rc == -EIO)
		auth_failure(n, in);
	pthread_mutex_lock(&in->mu);
	if (!rc && !in->ibuf) {
		in->ibuf = buf;
		buf = NULL;
	}
	pthread_mutex_unlock(&in->mu);
	free(slot);
	if (buf) {
		wcrypto_wipe(buf, OBJ_INLINE_MAX);
		free(buf);
	}
	return rc;
}

/* Open (once) the handle's content file if the object has one, or load
 * its inline content. */
static int handle_fd(ns *n, ns_handle *h)
{
	struct ns_inode *in = h->in;
	int rc = 0, inl;

	pthread_mutex_lock(&in->mu);
	inl = in->inl;
	if (!inl && h->fd < 0 && has_content(&in->ref)) {
		in->ref.key = in->key;
		rc = content_open(n, in, h->writable ? O_RDWR : O_RDONLY, &h->fd);
	}
	if (!rc && !inl && h->fd >= 0)
		rc = map_attach(n, in, h->fd);
	pthread_mutex_unlock(&in->mu);
	if (!rc && inl)
		rc = inline_load(n, in);
	return rc;
}

/* Record a content file's id in the node, and in the orphan record of an
 * object unlinked while open, so the file is deleted with its object
 * (also after a crash). */
static int record_objid(ns *n, uint64_t ino, const struct obj_ref *r)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (!rc)
		rc = ns_node_get(n, t, ino, &nd);
	/* Content identity of a sealed object never changes. */
	if (!rc && nd.sealed)
		rc = -EPERM;
	if (rc)
		goto fail;
	memcpy(nd.objid, r->id, 16);
	memcpy(nd.wrapped, r->wrapped, KMS_WRAPPED_BYTES);
	nd.alg = (uint32_t)r->alg;
	if (!(nd.flags & META_F_INLINE))
		nd.generation = r->gen;
	/* A new content file: no record of it is committed yet. */
	memset(nd.commit, 0, sizeof(nd.commit));
	rc = ns_node_put(n, t, &nd);
	if (!rc && nd.nlink == 0 && S_ISREG(nd.mode))
		rc = meta_orphan_add(t, ino, r->id);
	if (rc)
		goto fail;
	return meta_txn_commit(t);
fail:
	if (t)
		meta_txn_abort(t);
	return rc;
}

/* Move inline content that is about to outgrow OBJ_INLINE_MAX into a
 * content file. The node keeps the inline value (and META_F_INLINE) until
 * the session commits, which deletes it; the file carries the session's
 * generation, so a crash before that commit leaves the inline value in
 * force (and a file of the same id that the next move truncates). Called
 * with in->rw held for writing and the plaintext loaded. */
static int inline_spill(ns *n, struct ns_inode *in, ns_handle *h, int *fd)
{
	struct obj_ref r;
	ssize_t put = 0;
	int rc, nfd = -1;

	rc = session_ref(in, &r);
	/* The committed content is the inline value: nothing in the new file
	 * needs journaling. */
	r.csize = 0;
	if (!rc)
		rc = record_objid(n, in->ino, &r);
	if (!rc)
		ns_crash_point(n, "spill");
	if (!rc)
		rc = obj_file_create(n->st, &r, 0, &nfd);
	if (rc)
		return rc;
	r.map = NULL;
	put = obj_map_new(&r.map);
	if (r.size && !put)
		put = obj_write(nfd, &r, in->ibuf, (size_t)r.size, 0);
	if (put < 0) {
		close(nfd);
		/* The failure is what the caller gets; a file no node names
		 * is removed by the recovery or reported by verify. */
		worm_discard(store_obj_unlink(n->st, r.id));
		obj_map_free(r.map);
		return (int)put;
	}
	pthread_mutex_lock(&in->mu);
	obj_map_free(in->ref.map);
	in->ref.map = r.map;
	in->inl = 0;
	in->ref.csize = 0;
	in->ref.sparse = r.sparse;
	ns_ibuf_free(in);
	pthread_mutex_unlock(&in->mu);
	if (h)
		h->fd = nfd;
	*fd = nfd;
	return 0;
}

/* A new object's id and DEK become the inode's (generation 0); ibuf, when
 * given, makes it inline. */
static void adopt_identity(struct ns_inode *in, const struct obj_ref *r, wcrypto_aead *key,
			   uint8_t *ibuf)
{
	pthread_mutex_lock(&in->mu);
	memcpy(in->ref.id, r->id, 16);
	memcpy(in->ref.wrapped, r->wrapped, KMS_WRAPPED_BYTES);
	in->ref.alg = r->alg;
	in->ref.gen = 0;
	memset(in->ref.commit, 0, sizeof(in->ref.commit));
	in->ref.csize = 0;
	obj_map_free(in->ref.map);
	in->ref.map = r->map;   /* a new file's, or none (inline) */
	wcrypto_aead_free(in->key);
	in->key = key;
	if (ibuf) {
		in->inl = 1;
		ns_ibuf_free(in);
		in->ibuf = ibuf;
	}
	pthread_mutex_unlock(&in->mu);
}

/* Make sure the object has a key and somewhere to hold content up to
 * `end`: *fd = -1 means the inline plaintext (in->ibuf), else a content
 * file (the handle's, or a new one the caller closes when h is NULL).
 * New objects start inline when end <= OBJ_INLINE_MAX. Called with in->rw
 * held for writing. */
static int content_ensure(ns *n, struct ns_inode *in, ns_handle *h, uint64_t end, int *fd)
{
	wcrypto_aead *key = NULL;
	struct obj_ref r;
	int rc, nfd = -1, inl;

	if (!in->ref.undo) {
		/* One undo journal per inode, used under in->rw (obj.h). */
		obj_undo *u = NULL;
		rc = obj_undo_new(n->st, &u);
		if (rc)
			return rc;
		pthread_mutex_lock(&in->mu);
		in->ref.undo = u;
		pthread_mutex_unlock(&in->mu);
	}
	/* in->ref (its key, its map) changes under in->mu: an open reads
	 * it under in->mu alone (ns_key_ensure), without in->rw. */
	if (h && h->fd >= 0) {
		*fd = h->fd;
		pthread_mutex_lock(&in->mu);
		rc = map_attach(n, in, h->fd);   /* dropped by a rollback */
		pthread_mutex_unlock(&in->mu);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	inl = in->inl;
	pthread_mutex_unlock(&in->mu);
	if (inl) {
		rc = inline_load(n, in);
		if (rc)
			return rc;
		if (end > OBJ_INLINE_MAX)
			return inline_spill(n, in, h, fd);
		*fd = -1;
		return 0;
	}
	if (has_content(&in->ref)) {
		pthread_mutex_lock(&in->mu);
		in->ref.key = in->key;
		rc = content_open(n, in, O_RDWR, &nfd);
		if (!rc && (rc = map_attach(n, in, nfd)) != 0)
			close(nfd);
		pthread_mutex_unlock(&in->mu);
		if (rc)
			return rc;
		goto done;
	}
	if (end <= OBJ_INLINE_MAX) {
		/* The node learns id and DEK at the commit, with the value. */
		uint8_t *buf = calloc(1, OBJ_INLINE_MAX);
		rc = buf ? obj_key_new(n->km, n->alg, &r, &key, (uint64_t)clock_monotonic_ns()) :
			   -ENOMEM;
		if (rc) {
			free(buf);
			return rc;
		}
		adopt_identity(in, &r, key, buf);
		*fd = -1;
		return 0;
	}
	rc = obj_create(n->st, n->km, n->alg, &r, &nfd, &key, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	/* A kill here leaves a file no node names: reclaimed by the recovery
	 * at the next mount (ns_store.c). */
	ns_crash_point(n, "create");
	rc = record_objid(n, in->ino, &r);
	if (rc)
		goto fail;
	adopt_identity(in, &r, key, NULL);
done:
	if (h)
		h->fd = nfd;
	*fd = nfd;
	return 0;
fail:
	close(nfd);
	/* As above: rc is what matters; a leftover file names no node. */
	worm_discard(store_obj_unlink(n->st, r.id));
	obj_map_free(r.map);
	wcrypto_aead_free(key);
	return rc;
}

/* A write, truncate or re-seal of the content file failed part way (EIO,
 * ENOSPC): a block of the committed content may be torn. Roll the object
 * back to its last commit at once, as the recovery after a crash would
 * (obj_recover: journaled blocks written back, the file cut to its
 * committed length), and end the session: its uncommitted changes are gone
 * and the next commit reports err. If the rollback fails too, the session
 * stays (reads of the torn block get EIO) and the store is left marked, so
 * the next mount recovers it. Called with in->rw held for writing. */
static void session_abort(ns *n, struct ns_inode *in, int err)
{
	struct meta_node nd;
	struct obj_ref r;
	obj_undo *u;
	int rc, changed = 0, inl;
	int64_t now;
	char id[33];

	pthread_mutex_lock(&in->mu);
	r = in->ref;
	inl = in->inl;
	pthread_mutex_unlock(&in->mu);
	if (inl || !has_content(&r))
		return;   /* nothing on disk changed */
	rc = ns_node_read(n, in->ino, &nd);
	if (rc == -ENOENT && in->unlinked)
		return;   /* its content goes at the last release */
	/* Moved out of inline storage in this session: the committed content
	 * is the inline value, and the new file is dropped or redone. */
	if (!rc && ((nd.flags & META_F_INLINE) || memcmp(nd.objid, r.id, 16) != 0))
		return;
	if (!rc) {
		/* The committed state, as the recovery reads it. */
		r.size = r.csize = nd.size;
		r.gen = nd.generation;
		memcpy(r.commit, nd.commit, sizeof(r.commit));
		unsigned rejected = 0;
		rc = obj_recover(n->st, n->km, &r, (uint64_t)clock_monotonic_ns(), &changed,
				 &rejected);
	}
	wcrypto_hex(id, r.id, 16);
	if (rc) {
		atomic_store(&n->uncommitted, 1);
		pthread_mutex_lock(&in->mu);
		in->torn = 1;
		pthread_mutex_unlock(&in->mu);
		wlog(WLOG_ERR, "object %s (inode %llu): a write failed (%s) and the rollback to "
		     "its last commit failed too (%s); the next mount recovers it", id,
		     (unsigned long long)in->ino, strerror(-err), strerror(-rc));
		return;
	}
	wlog(WLOG_WARN, "object %s (inode %llu): a write failed (%s): uncommitted changes "
	     "rolled back to the last commit", id, (unsigned long long)in->ino, strerror(-err));
	now = ns_clock_now(n);
	pthread_mutex_lock(&in->mu);
	u = in->ref.undo;   /* its journal is gone: a fresh one next time */
	in->live = 0;       /* size, generation, sparse: the record's again */
	ns_inode_load(in, &nd, now);
	in->dirty = 0;
	in->torn = 0;
	in->mtime_ns = 0;
	in->werr = err;
	pthread_mutex_unlock(&in->mu);
	obj_undo_free(u);
}

/* A session whose rollback failed (session_abort) must never commit the
 * torn content: try the rollback again. The request gets -EIO either way
 * (its session is gone); the next ones work once the rollback is done.
 * Called with in->rw held for writing. */
static int torn_retry(ns *n, struct ns_inode *in)
{
	int torn;

	pthread_mutex_lock(&in->mu);
	torn = in->torn;
	pthread_mutex_unlock(&in->mu);
	if (!torn)
		return 0;
	session_abort(n, in, -EIO);
	pthread_mutex_lock(&in->mu);
	in->werr = 0;   /* reported here */
	pthread_mutex_unlock(&in->mu);
	return -EIO;
}

/* Errors of the content file's I/O, after which a block may be torn. */
static int io_failure(int rc)
{
	return rc == -EIO || rc == -ENOSPC || rc == -EDQUOT;
}

/* Unwrap the DEK of an open object once. Called without in->mu: a
 * throttled KMS Decrypt may wait (throttle=wait), and nobody else should
 * wait on the inode meanwhile. */
int ns_key_ensure(ns *n, struct ns_inode *in)
{
	wcrypto_aead *key = NULL;
	struct obj_ref r;
	int need, rc;

	pthread_mutex_lock(&in->mu);
	need = !in->key && has_content(&in->ref);
	r = in->ref;
	pthread_mutex_unlock(&in->mu);
	if (!need)
		return 0;
	rc = obj_key_open(n->km, &r, &key, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	pthread_mutex_lock(&in->mu);
	if (!in->key) {
		in->key = key;
		key = NULL;
	}
	pthread_mutex_unlock(&in->mu);
	wcrypto_aead_free(key);
	return 0;
}

/* 1 if committing this object would apply its bucket's default retention
 * (read transaction only). */
static int default_pending(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int pending;

	if (meta_txn_begin(n->me, 1, &t))
		return 1;   /* let the write path decide */
	/* An unknown bucket is "pending" too: the commit then fails closed. */
	pending = !ns_node_get(n, t, ino, &nd) &&
		  ((nd.flags & META_F_DEFAULT_PENDING) || ns_bucket_default(n, t, &nd) != 0);
	meta_txn_abort(t);
	return pending;
}

/* After the meta commit: cut what the committed size no longer covers and
 * drop the undo journal (obj_settle). A failure leaves bytes past the end
 * that no read reaches; the recovery after an unclean stop cuts them. */
static void content_settle(ns *n, struct ns_inode *in, int fd, struct obj_ref *r)
{
	int cfd = fd, rc = 0;

	if (cfd < 0)
		rc = obj_open(n->st, r, O_RDWR, &cfd);
	if (!rc)
		rc = obj_settle(cfd, r);
	if (cfd >= 0 && fd < 0)
		close(cfd);
	if (rc)
		wlog(WLOG_WARN, "inode %llu: cannot settle the content file after a commit: %s",
		     (unsigned long long)in->ino, strerror(-rc));
}

static int commit_once(ns *n, struct ns_inode *in, int fd, int apply_default, int durable)
{
	meta_txn *t = NULL;
	struct meta_node nd, b;
	struct obj_ref r;
	int64_t cnow = ns_clock_now(n);
	int rc = 0, dirty, locked_now = 0, inl, unlinked;
	uint8_t *slot = NULL;
	int64_t mtime;

	pthread_mutex_lock(&in->mu);
	dirty = in->dirty;
	r = in->ref;
	r.key = in->key;
	unlinked = in->unlinked;
	mtime = in->mtime_ns;
	inl = in->inl;
	pthread_mutex_unlock(&in->mu);
	if (!dirty && !apply_default)
		return 0;
	if (!dirty && !default_pending(n, in->ino))
		return 0;   /* the common release: no write transaction at all */
	if (dirty && inl) {
		/* in->rw is held for writing: the plaintext is stable. */
		slot = malloc(obj_inline_len(OBJ_INLINE_MAX));
		if (!slot)
			return -ENOMEM;
		rc = in->ibuf ? obj_inline_seal(&r, in->ibuf, (size_t)r.size, slot) : -EIO;
		if (rc)
			goto fail;
	} else if (dirty) {
		/* A handle without a descriptor (opened while the object was
		 * empty or inline) may be the one that commits: open the file
		 * for it, so the final block is re-sealed all the same. */
		int cfd = fd;
		if (cfd < 0)
			rc = obj_open(n->st, &r, O_RDWR, &cfd);
		if (!rc) {
			int was = obj_damaged(&r);
			rc = obj_commit(n->st, cfd, &r, durable);
			if (io_failure(rc))
				session_abort(n, in, rc);
			if (!rc)   /* block map written, the record not yet */
				ns_crash_point(n, "map");
			else if (rc == -EIO && !was && obj_damaged(&r))
				auth_failure(n, in);   /* not a disk error (a write's EIO) */
		}
		/* A failing sync is a disk error, not damage: not counted as
		 * an authentication failure. */
		if (!rc && durable)
			rc = fdatasync(cfd) ? -errno : 0;
		if (!rc && durable)
			rc = store_obj_syncdir(n->st, r.id);
		if (fd < 0 && cfd >= 0)
			close(cfd);
		if (rc)
			return rc;
	}
	rc = meta_txn_begin(n->me, 0, &t);
	if (!rc)
		rc = ns_node_get(n, t, in->ino, &nd);
	if (rc == -ENOENT && unlinked) {
		/* Unlinked while open: nothing left to record. */
		meta_txn_abort(t);
		pthread_mutex_lock(&in->mu);
		in->dirty = 0;
		pthread_mutex_unlock(&in->mu);
		free(slot);
		return 0;
	}
	if (rc)
		goto fail;
	/* An appendable WORM object records appends: its content grows, the
	 * committed bytes stay (writes below the end never got here). */
	int appendable = (nd.flags & META_F_APPEND_ONLY) && r.size >= nd.size;
	if (dirty && nd.sealed && !appendable) {
		/* Never reached while the rules in ns_priv.h hold: the last
		 * guard of a locked object's content. */
		rc = -EPERM;
		wlog(WLOG_ERR, "refused op=commit inode=%llu rule=sealed: uncommitted changes "
		     "of a sealed object", (unsigned long long)in->ino);
		goto fail;
	}
	if (dirty) {
		nd.size = r.size;
		if (r.sparse)
			nd.flags |= META_F_SPARSE;
		nd.generation = r.write_gen ? r.write_gen : r.gen;
		/* Which record of that generation is committed: a killed
		 * session's one put back is refused (obj.h). */
		if (inl || n->test_unbound)
			memset(nd.commit, 0, sizeof(nd.commit));
		else
			memcpy(nd.commit, r.wcommit, sizeof(nd.commit));
		nd.mtime_ns = nd.ctime_ns = mtime ? mtime : clock_realtime_ns();
		/* A new inline object gets its id and DEK recorded here. */
		memcpy(nd.objid, r.id, 16);
		memcpy(nd.wrapped, r.wrapped, KMS_WRAPPED_BYTES);
		nd.alg = (uint32_t)r.alg;
		if (inl) {
			rc = meta_inline_put(t, in->ino, slot, obj_inline_len(r.size));
			nd.flags |= META_F_INLINE;
		} else if (nd.flags & META_F_INLINE) {
			/* Moved to a file in this session: the file is the content now. */
			rc = meta_inline_del(t, in->ino);
			rc = rc == -ENOENT ? 0 : rc;
			nd.flags &= ~(uint32_t)META_F_INLINE;
		}
		if (rc)
			goto fail;
	}
	/* An object unlinked while open (nlink 0) is on its way out. A bucket
	 * that cannot be found fails the commit (the pending mark stays, for
	 * the next try): never committed as if there were no default. */
	int due = apply_default && !nd.sealed && nd.nlink > 0 &&
		  !(nd.flags & ((1u << 31) | META_F_STAGING));   /* staging: ns.h */
	memset(&b, 0, sizeof(b));
	if (due && (rc = ns_bucket_of(n, t, &nd, &b)) != 0)
		goto fail;
	if (due && policy_default_at_close(b.def_mode, b.autocommit_s)) {
		nd.lock_mode = b.def_mode;
		nd.retain_until = cnow + (int64_t)b.def_days * 86400;
		nd.sealed = 1;
		locked_now = 1;
	}
	int cleared = apply_default && (nd.flags & META_F_DEFAULT_PENDING);
	if (cleared) {
		rc = ns_pending_mark(n, t, &nd, 0);
		if (rc)
			goto fail;
	}
	if (!dirty && !locked_now && !cleared) {
		meta_txn_abort(t);
		return 0;
	}
	rc = ns_node_put(n, t, &nd);
	if (!rc && locked_now) {
		char v[64], until[32];
		clock_format_rfc3339(nd.retain_until, until, sizeof(until));
		snprintf(v, sizeof(v), "%s %s", policy_mode_name(nd.lock_mode), until);
		rc = ns_trail_event(n, t, "retention", "commit", in->ino, NULL, -1,
				    "default-retention", v);
	}
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	t = NULL;
	free(slot);
	slot = NULL;
	if (rc)
		return rc;
	ns_crash_point(n, "commit");
	if (dirty && !inl)
		content_settle(n, in, fd, &r);
	pthread_mutex_lock(&in->mu);
	if (dirty) {
		in->ref.csize = r.size;
		in->ref.gen = nd.generation;
		memcpy(in->ref.commit, nd.commit, sizeof(in->ref.commit));
		in->ref.write_gen = 0;
		in->dirty = 0;
		in->mtime_ns = 0;
	}
	if (locked_now && !(nd.flags & META_F_APPEND_ONLY))
		in->sealed = 1;
	pthread_mutex_unlock(&in->mu);
	if (locked_now) {
		atomic_fetch_add_explicit(&n->stats.lock_changes, 1, memory_order_relaxed);
		char path[900], until[32], qp[1024];   /* a deep path keeps its end */
		ns_path_of(n, in->ino, path, sizeof(path));
		clock_format_rfc3339(nd.retain_until, until, sizeof(until));
		wlog(WLOG_INFO, "lock change op=commit path=%s uid=- rule=default-retention "
		     "value=\"%s %s\"", wlog_quote(path, qp, sizeof(qp)),
		     policy_mode_name(nd.lock_mode), until);
	}
	if (durable || locked_now)
		rc = ns_durable(n);
	return rc;
fail:
	if (t)
		meta_txn_abort(t);
	free(slot);
	return rc;
}

/* The last writer's commit failed (a full disk refusing a new inline
 * value, EIO, the daemon out of file descriptors or memory) where a bucket
 * default retention is due. Leaving the object
 * mutable with no writer would fail open, so its uncommitted changes are
 * dropped (the writer is told the commit failed) and the committed state
 * is locked instead, but only once nothing but the committed state can be
 * read: a file session is rolled back as after a failed write; inline
 * plaintext, or a file the record does not name as content (moved out of
 * inline storage in this session), is forgotten in memory. A session whose
 * rollback failed stays torn and unlocked, its default pending: the next
 * mount's recovery rolls it back first, then applies the default. Returns
 * 0 when the inode holds the committed state again. in->rw held for
 * writing. */
static int session_discard(ns *n, struct ns_inode *in, int err)
{
	struct meta_node nd;
	obj_undo *u;
	int rc, dirty, torn, inl;

	session_abort(n, in, err);
	pthread_mutex_lock(&in->mu);
	dirty = in->dirty;
	torn = in->torn;
	inl = in->inl;
	pthread_mutex_unlock(&in->mu);
	if (torn)
		return -EIO;
	if (dirty) {
		rc = ns_node_read(n, in->ino, &nd);
		if (rc)
			return rc;
		/* A content file the record names was not rolled back: its
		 * uncommitted blocks would authenticate. Not locked now. */
		if (!inl && !(nd.flags & META_F_INLINE) && memcmp(nd.objid, in->ref.id, 16) == 0 &&
		    has_content(&in->ref))
			return -EIO;
		atomic_store(&n->uncommitted, 1);   /* a spilled file: recovery's */
		pthread_mutex_lock(&in->mu);
		u = in->ref.undo;
		ns_ibuf_free(in);
		in->live = 0;
		ns_inode_load(in, &nd, ns_clock_now(n));
		in->dirty = 0;
		in->mtime_ns = 0;
		pthread_mutex_unlock(&in->mu);
		obj_undo_free(u);
	}
	/* Pages the kernel took from the failed writes are not the content. */
	ns_queue_inval(n, in->ino);
	wlog(WLOG_WARN, "inode %llu: the commit at its last writer's release failed (%s): "
	     "uncommitted changes dropped, the committed state gets the bucket default",
	     (unsigned long long)in->ino, strerror(-err));
	return 0;
}

/* 1 only when the bucket default is certainly due for ino (a failed
 * lookup is no reason to drop a writer's changes). */
static int default_due(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int due = 0;

	if (meta_txn_begin(n->me, 1, &t))
		return 0;
	if (!ns_node_get(n, t, ino, &nd) && !nd.sealed && nd.nlink > 0)
		due = ns_bucket_default(n, t, &nd) == 1;
	meta_txn_abort(t);
	return due;
}

/* A commit, which also reports (once) a session rolled back by a failed
 * write since the last one: the writer learns that its earlier writes are
 * gone. The default retention is applied all the same, also when the
 * content commit fails (session_discard), whatever the error: a commit
 * that needs a new descriptor (a block map file) fails with EMFILE when
 * the daemon is at its fd limit, and that too left the object mutable
 * with no writer. */
static int inode_commit(ns *n, struct ns_inode *in, int fd, int apply_default, int durable)
{
	int rc = torn_retry(n, in), werr;

	if (!rc)
		rc = commit_once(n, in, fd, apply_default, durable);
	if (rc && apply_default && default_due(n, in->ino)) {
		int lrc = session_discard(n, in, rc);
		if (!lrc)
			lrc = commit_once(n, in, fd, 1, durable);
		if (lrc) {
			atomic_store(&n->uncommitted, 1);   /* the next mount retries */
			atomic_store(&n->owed, 1);          /* and ns_tick before it */
			wlog(WLOG_ERR, "inode %llu: the bucket default could not be applied after "
			     "a failed commit (%s); it stays pending", (unsigned long long)in->ino,
			     strerror(-lrc));
		}
	}

	pthread_mutex_lock(&in->mu);
	werr = in->werr;
	in->werr = 0;
	pthread_mutex_unlock(&in->mu);
	return rc ? rc : werr;
}

/* 1 if ino's record carries the pending mark (read transaction only). */
static int pending_marked(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int marked;

	if (meta_txn_begin(n->me, 1, &t))
		return 0;
	marked = !ns_node_get(n, t, ino, &nd) && (nd.flags & META_F_DEFAULT_PENDING);
	meta_txn_abort(t);
	return marked;
}

/* An object whose last writer's release could not apply its bucket
 * default (inode_commit: the commit and its retry both failed) is left
 * pending with no writer: apply the default now, as that release would
 * have, and as there, in a bucket that has autocommit now, the deadline
 * starts (the commit applied no lock). An object with a writer is left
 * to that writer's release. 0 when nothing was owed or it is applied
 * now, else the commit's error. in->rw held for writing. */
static int owed_apply_one(ns *n, struct ns_inode *in)
{
	int idle, rc;

	pthread_mutex_lock(&in->mu);
	idle = in->writers == 0 && in->releasing == 0 && !in->unlinked && !in->sealed;
	pthread_mutex_unlock(&in->mu);
	if (!idle || !pending_marked(n, in->ino))
		return 0;
	rc = inode_commit(n, in, -1, 1, 0);
	if (!rc)
		ns_autocommit_touch(n, in->ino);
	return rc;
}

/* Before a change to in: nothing else leaves a pending mark on an object
 * with no writer while mounted (a create marks and opens in one call, an
 * upload's rename marks while its handle is open), and n->owed is set
 * only by a failed release, so the common path costs one atomic load.
 * An error refuses the caller's change (fail closed). */
static int owed_apply(ns *n, struct ns_inode *in)
{
	if (!atomic_load(&n->owed))
		return 0;
	return owed_apply_one(n, in);
}

struct owed_list {
	uint64_t ino[64];
	size_t n;
	uint64_t after;
};

static int owed_cb(void *arg, const struct meta_node *nd)
{
	struct owed_list *l = arg;

	if (!(nd->flags & META_F_DEFAULT_PENDING) || nd->ino <= l->after)
		return 0;
	l->ino[l->n++] = nd->ino;
	return l->n == sizeof(l->ino) / sizeof(l->ino[0]);
}

#define OWED_RETRY_NS (5 * 1000000000LL)

void ns_owed_run(ns *n)
{
	struct owed_list l = { .n = 0 };
	long left = 0;
	int64_t mono = clock_monotonic_ns();

	/* Each walk reads every record: one failing for good (a full disk)
	 * is retried every few seconds, not at each tick. */
	if (mono < n->owed_retry_ns || !atomic_exchange(&n->owed, 0))
		return;
	do {
		meta_txn *t = NULL;
		int rc;

		l.n = 0;
		rc = meta_txn_begin(n->me, 1, &t);
		if (!rc) {
			rc = meta_node_foreach_from(t, l.after, owed_cb, &l);
			meta_txn_abort(t);
		}
		if (rc < 0) {
			left++;
			break;
		}
		for (size_t i = 0; i < l.n; i++) {
			struct ns_inode *in = ns_inode_get(n, l.ino[i]);
			l.after = l.ino[i];
			if (!in) {
				left++;
				continue;
			}
			/* Never wait on a request here (the tick's checkpoint
			 * would): an object in use is tried again later. */
			if (pthread_rwlock_trywrlock(&in->rw)) {
				left++;
				ns_inode_put(n, in);
				continue;
			}
			if (owed_apply_one(n, in) && pending_marked(n, in->ino))
				left++;
			pthread_rwlock_unlock(&in->rw);
			ns_inode_put(n, in);
		}
	} while (l.n == sizeof(l.ino) / sizeof(l.ino[0]));
	if (left) {
		atomic_store(&n->owed, 1);   /* a later tick again */
		n->owed_retry_ns = mono + OWED_RETRY_NS;
	}
}

/* Set the size of an object: policy was asked by the caller, and a sealed
 * object is refused here too (-EPERM), whatever the caller saw before.
 * in->rw held for writing. */
int ns_content_truncate(ns *n, struct ns_inode *in, ns_handle *h, uint64_t size)
{
	struct obj_ref r;
	int fd = -1, rc, own_fd;

	if (size > OBJ_MAX_SIZE)
		return -EFBIG;
	/* A bucket default owed since a failed release lands first. */
	rc = owed_apply(n, in);
	if (rc)
		return rc;
	pthread_mutex_lock(&in->mu);
	int same = in->ref.size == size, sealed = in->sealed || in->append;
	pthread_mutex_unlock(&in->mu);
	if (sealed)
		return -EPERM;   /* sealed, or append-only (chattr +a) */
	if (same)
		return 0;
	own_fd = !(h && h->fd >= 0);
	rc = torn_retry(n, in);
	if (!rc)
		rc = content_ensure(n, in, own_fd ? NULL : h, size, &fd);
	if (!rc)
		rc = session_ref(in, &r);
	if (rc) {
		if (own_fd && fd >= 0)
			close(fd);
		return rc;
	}
	if (fd < 0) {
		/* Inline: the bytes past the size stay zero (holes read so). */
		if (size < r.size)
			memset(in->ibuf + size, 0, (size_t)(r.size - size));
		r.size = size;
		rc = 0;
	} else {
		rc = obj_truncate(fd, &r, size);
		if (!rc)
			ns_crash_point(n, "truncate");
		else if (io_failure(rc))
			session_abort(n, in, rc);
	}
	pthread_mutex_lock(&in->mu);
	if (!rc) {
		in->ref.size = r.size;
		in->ref.sparse = r.sparse;
		in->mtime_ns = clock_realtime_ns();
	}
	pthread_mutex_unlock(&in->mu);
	/* Commit at once: the file is already cut, so meta must not keep a
	 * larger size past a crash. */
	if (!rc)
		rc = inode_commit(n, in, fd, 0, 0);
	if (own_fd && fd >= 0)
		close(fd);
	return rc;
}

/* O_APPEND alone is no write: the kernel asks no write permission for
 * O_RDONLY|O_APPEND and refuses writes on it, so counting it as a writer
 * let a mere reader hold off (or, closing, push) someone else's
 * autocommit. O_TRUNC does ask for write permission. */
static int is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Record that a writer's release will apply the bucket default (the
 * pending mark), or -errno: the write-open is refused then (fail closed).
 * Before, it went on without the mark: a writer that committed (fsync)
 * and was killed before its release left the object mutable after the
 * restart, the default never applied. */
static int mark_pending(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc, due;

	/* An unknown bucket (error) marks too: the release then fails closed. */
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	due = !rc && !(nd.flags & META_F_DEFAULT_PENDING) && ns_bucket_default(n, t, &nd) != 0;
	meta_txn_abort(t);
	if (rc || !due)
		return rc;
	rc = meta_txn_begin(n->me, 0, &t);
	if (!rc) {
		rc = ns_node_get(n, t, ino, &nd);
		if (!rc && ns_bucket_default(n, t, &nd) != 0) {
			rc = ns_pending_mark(n, t, &nd, 1);
			if (!rc)
				rc = ns_node_put(n, t, &nd);
		}
		if (rc)
			meta_txn_abort(t);
		else
			rc = meta_txn_commit(t);
	}
	if (rc)
		wlog(WLOG_WARN, "inode %llu: pending bucket default not recorded (%s): the "
		     "write-open is refused", (unsigned long long)ino, strerror(-rc));
	return rc;
}

/* A write handle goes away (its release, or an open that failed after it
 * was counted): commit, and if it is the last writer, apply the bucket
 * default. "Last" is decided and counted in one in->mu hold with in->rw
 * held for writing (rules in ns_priv.h), so of writers released together
 * exactly the one committing after all the others applies the default.
 * writers drops only after the commit: until then lock changes stay
 * refused and ns_settle_writers keeps waiting. */
static int writer_done(ns *n, struct ns_inode *in, int fd, int untouched)
{
	int rc, last, unlinked, apply;

	pthread_rwlock_wrlock(&in->rw);
	pthread_mutex_lock(&in->mu);
	last = ++in->releasing == in->writers;
	unlinked = in->unlinked;
	/* untouched: a write-open refused before it changed anything (its
	 * pending mark not recorded). It applies the default only when
	 * another writer's release left it to this one; else the refused
	 * open changes nothing (the object is not locked with the content it
	 * had before the open). */
	apply = last && !unlinked && (!untouched || in->left || in->dirty);
	if (!last && !untouched)
		in->left = 1;
	if (last)
		in->left = 0;
	pthread_mutex_unlock(&in->mu);
	rc = inode_commit(n, in, fd, apply, 0);
	/* The last writer gone: an autocommit deadline starts now (a file
	 * held open for days never autocommits while open). */
	if (apply)
		ns_autocommit_touch(n, in->ino);
	pthread_mutex_lock(&in->mu);
	in->releasing--;
	if (--in->writers == 0)
		pthread_cond_broadcast(&in->idle);
	pthread_mutex_unlock(&in->mu);
	pthread_rwlock_unlock(&in->rw);
	if (rc) {
		wlog(WLOG_ERR, "commit of inode %llu at release failed: %s",
		     (unsigned long long)in->ino, strerror(-rc));
		atomic_store(&n->uncommitted, 1);   /* next mount recovers */
	}
	return rc;
}

/* open_node's flag for ns_create_upload: no pending mark (never an open(2)
 * flag: ns_open_file and ns_create clear it). */
#define OPEN_UPLOAD 010000000000

/* Open a handle on a regular file. The node is read again under in->mu:
 * lock changes commit while holding in->mu, so a lock acknowledged before
 * this point is seen here, and a write-open cannot slip past it. */
static int open_node(ns *n, const struct ns_caller *c, uint64_t ino, int flags,
		     ns_handle **out, int *keep_cache)
{
	int upload = (flags & OPEN_UPLOAD) != 0;
	struct ns_inode *in;
	struct meta_node nd;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	meta_txn *t = NULL;
	int64_t cnow = ns_clock_now(n);
	int writable, rc, untouched = 0;
	ns_handle *h;

	flags &= ~OPEN_UPLOAD;
	writable = is_write_open(flags);

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->flags = flags;
	h->writable = writable;
	in = ns_inode_get(n, ino);
	if (!in) {
		free(h);
		return -ENOMEM;
	}
	h->in = in;
	pthread_mutex_lock(&in->mu);
	rc = in->unlinked ? -ENOENT : meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = ns_node_get(n, t, ino, &nd);
		meta_txn_abort(t);
	}
	if (!rc && !S_ISREG(nd.mode))
		rc = S_ISDIR(nd.mode) ? -EISDIR : -EINVAL;
	if (rc) {
		pthread_mutex_unlock(&in->mu);
		goto fail;
	}
	ns_inode_load(in, &nd, cnow);
	/* O_RDONLY|O_APPEND is checked as a write open (design section 4:
	 * EPERM on a sealed object) but, writing nothing, is no writer. */
	if (writable || (flags & O_APPEND)) {
		ns_node_lock(&nd, &lk);
		ns_caller_policy(c, &pc);
		/* The creator's own open (ns_create, O_CREAT in flags) of a
		 * new, empty object needs no O_APPEND: writes still go at the
		 * end only (ns_write). */
		enum policy_op op = (flags & (O_APPEND | O_CREAT)) ? POP_OPEN_WRITE
								    : POP_OPEN_OVERWRITE;
		rc = policy_check(&n->cfg.rules, &pc, &lk, op, cnow, &rule);
		if (!rc && (flags & O_TRUNC))
			rc = policy_check(&n->cfg.rules, &pc, &lk, POP_TRUNCATE, cnow, &rule);
		if (!rc && in->sealed) {
			rc = -EPERM;
			rule = "sealed";
		}
		if (rc) {
			pthread_mutex_unlock(&in->mu);
			ns_refuse(n, SOP_OPEN, ino, NULL, c, rc, rule);
			goto fail;
		}
		if (writable)
			in->writers++;
	}
	in->handles++;
	if (keep_cache)
		*keep_cache = in->sealed && !writable;
	pthread_mutex_unlock(&in->mu);
	/* A writer's release will apply the bucket default: record that it
	 * is due, so a crash first is repaired at the next open. (After
	 * in->mu: the write transaction comes first in the lock order.) */
	rc = 0;
	if (writable && !upload && !(nd.flags & META_F_DEFAULT_PENDING) && !nd.sealed)
		rc = mark_pending(n, ino);
	if (rc) {
		untouched = 1;
		goto fail_h;
	}
	/* Its autocommit counterpart: in an autocommit bucket a deadline
	 * from this open, so a writer killed before its release (its
	 * changes committed at a flush or an fsync) still locks once idle
	 * after the restart; while the writer is open, the daemon only
	 * moves the deadline on, and the release sets it anew. */
	if (writable && !upload && !nd.sealed)
		ns_autocommit_touch(n, ino);
	rc = ns_key_ensure(n, in);
	if (!rc) {
		/* Under in->rw like a read: no writer moves or commits the
		 * content while it is found and loaded. */
		pthread_rwlock_rdlock(&in->rw);
		rc = handle_fd(n, h);
		pthread_rwlock_unlock(&in->rw);
	}
	if (rc)
		goto fail_h;
	if (flags & O_TRUNC) {
		/* The lock may have landed since the check above (a default
		 * applied at another writer's release): the truncation checks
		 * again, under in->rw, and refuses. */
		pthread_rwlock_wrlock(&in->rw);
		rc = ns_content_truncate(n, in, h, 0);
		if (!rc)
			rc = ns_kill_setid(n, c, ino);
		pthread_rwlock_unlock(&in->rw);
		if (rc == -EPERM)
			ns_refuse(n, SOP_OPEN, ino, NULL, c, rc, "sealed");
		if (rc)
			goto fail_h;
	}
	*out = h;
	return 0;
fail_h:
	/* Counted as a writer: it may be the last one (the others' default
	 * was left to it), so it goes like a release. */
	if (writable)
		writer_done(n, in, h->fd, untouched);
	pthread_mutex_lock(&in->mu);
	in->handles--;
	pthread_mutex_unlock(&in->mu);
fail:
	if (h->fd >= 0)
		close(h->fd);
	ns_inode_put(n, in);
	free(h);
	return rc;
}

int ns_open_file(ns *n, const struct ns_caller *c, uint64_t ino, int flags,
		 ns_handle **out, int *keep_cache)
{
	int rc;

	stats_op(&n->stats, SOP_OPEN);
	if (ns_is_virtual(ino)) {
		ns_handle *h;
		if (is_write_open(flags))
			return ns_refuse(n, SOP_OPEN, ino, NULL, c, -EROFS, "control-file");
		/* The kernel checks the mode (default_permissions); this
		 * holds whatever the front end's options. */
		if (c && !ns_virt_may_read(ino, c->uid))
			return -EACCES;
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		h->fd = -1;
		rc = ino == NS_INO_AUDIT ? ns_trail_render(n, &h->vbuf, &h->vlen)
					 : ns_virt_render(n, ino, &h->vbuf, &h->vlen);
		if (rc) {
			free(h);
			return rc;
		}
		*out = h;
		if (keep_cache)
			*keep_cache = 0;
		return 0;
	}
	if (is_write_open(flags) && (n->flags & NS_RDONLY))
		return -EROFS;
	/* O_CREAT marks ns_create's own open (see open_node); the kernel
	 * sends none with an open of an existing object, and none counts. */
	return open_node(n, c, ino, flags & ~(O_CREAT | OPEN_UPLOAD), out, keep_cache);
}

int ns_create(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint32_t mode, int flags, struct ns_attr *out, ns_handle **h)
{
	int rc;

	rc = ns_node_mknod(n, c, parent, name, S_IFREG | (mode & 07777), out);
	if (rc)
		return rc;
	/* The creator may write even if the new mode says read-only. */
	return open_node(n, c, out->ino, (flags & ~(O_TRUNC | OPEN_UPLOAD)) | O_RDWR | O_CREAT,
			 h, NULL);
}

int ns_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out)
{
	ns_handle *h = NULL;
	int rc;

	if ((mode & S_IFMT) != 0 && !S_ISREG(mode))
		return ns_node_mknod(n, c, parent, name, mode, out);   /* refused */
	/* Created and closed: the release commits it like any other new
	 * object, so a file made without a handle (mknod(2)) does not stay
	 * mutable, outside its bucket's default retention, for ever. */
	rc = ns_create(n, c, parent, name, mode & 07777, O_WRONLY, out, &h);
	if (rc)
		return rc;
	struct ns_attr now;
	if (ns_release(n, h) == 0 && ns_getattr(n, out->ino, &now) == 0)
		*out = now;     /* as committed; else the attributes at creation */
	return 0;
}

int ns_create_upload(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		     uint32_t mode, int flags, struct ns_attr *out, ns_handle **h)
{
	int rc;

	rc = ns_mknod_upload(n, c, parent, name, mode, out);
	if (rc)
		return rc;
	return open_node(n, c, out->ino, (flags & ~O_TRUNC) | O_RDWR | O_CREAT | OPEN_UPLOAD,
			 h, NULL);
}

int ns_create_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		      uint32_t mode, struct ns_attr *out, ns_handle **h)
{
	int rc = ns_node_create_staging(n, c, parent, name, S_IFREG | (mode & 07777), out);
	if (rc)
		return rc;
	return open_node(n, c, out->ino, O_RDWR | O_CREAT, h, NULL);
}

/* The last writer's release is the commit of design section 4: content
 * and, if the bucket has one, its default retention. (close(2) of one of
 * several descriptors of the same open file, e.g. after dup2 in a shell
 * redirection, reaches us as FLUSH only, so FLUSH commits content alone.) */
int ns_release(ns *n, ns_handle *h)
{
	struct ns_inode *in = h->in;
	int rc = 0, drop = 0, content;
	uint8_t objid[16];

	stats_op(&n->stats, SOP_RELEASE);
	if (!in) {
		free(h->vbuf);
		free(h);
		return 0;
	}
	if (h->writable)
		rc = writer_done(n, in, h->fd, 0);
	pthread_mutex_lock(&in->mu);
	in->handles--;
	if (in->unlinked && in->handles == 0) {
		drop = 1;
		content = has_content(&in->ref);
		memcpy(objid, in->ref.id, 16);
	}
	pthread_mutex_unlock(&in->mu);
	if (h->fd >= 0)
		close(h->fd);
	if (drop) {
		meta_txn *t = NULL;
		struct meta_node nd;
		/* Only what the namespace really let go (nlink 0, or no record):
		 * an unlink whose transaction failed left the object in place
		 * (node_drop_undo in ns_tree.c resets `unlinked`; this check, in the write transaction
		 * that an unlink holds until it ends, closes the window). */
		if (!meta_txn_begin(n->me, 0, &t)) {
			int rc2 = meta_node_get(t, in->ino, &nd);
			if (rc2 == 0 && nd.nlink > 0) {
				meta_txn_abort(t);
			} else if (rc2 == 0 || rc2 == -ENOENT) {
				/* A content file that could not be removed keeps its
				 * orphan entry, so the purge at the next mount retries
				 * it instead of leaking it; likewise a record delete
				 * that failed (absent records are fine). */
				int u = content ? store_obj_unlink(n->st, objid) : 0;
				if (u == 0 || u == -ENOENT) {
					if (content)
						/* A journal left behind names a file that
						 * is gone: nothing reads it, and a recovery
						 * (after an unclean stop) removes it. */
						worm_discard(store_aux_unlink(n->st, objid,
									      OBJ_UNDO_SUFFIX));
					u = meta_node_del(t, in->ino);
					if (u == -ENOENT)
						u = 0;
					if (!u)
						u = meta_orphan_del(t, in->ino);
					if (u == -ENOENT)
						u = 0;
				}
				if (u)
					meta_txn_abort(t);
				else
					u = meta_txn_commit(t);
				if (u)
					wlog(WLOG_WARN, "inode %llu: unlinked content not removed at its "
					     "last close (%s): left for the orphan purge",
					     (unsigned long long)in->ino, strerror(-u));
			} else {
				meta_txn_abort(t);   /* left for the orphan purge */
			}
		}
	}
	ns_inode_put(n, in);
	free(h);
	return rc;
}

/* close(2) reaches us as FLUSH before it returns: commit there so that a
 * file closed before a crash is complete afterwards. */
int ns_flush(ns *n, ns_handle *h)
{
	struct ns_inode *in = h->in;
	int rc;

	if (!in || !h->writable)
		return 0;
	pthread_rwlock_wrlock(&in->rw);
	rc = inode_commit(n, in, h->fd, 0, 0);
	pthread_rwlock_unlock(&in->rw);
	return rc;
}

int ns_fsync(ns *n, ns_handle *h, int datasync)
{
	struct ns_inode *in = h->in;
	int rc;
	(void)datasync;

	stats_op(&n->stats, SOP_FSYNC);
	if (!in)
		return 0;
	pthread_rwlock_wrlock(&in->rw);
	rc = inode_commit(n, in, h->fd, 0, 1);
	pthread_rwlock_unlock(&in->rw);
	if (!rc)
		rc = ns_durable(n);
	return rc;
}

int ns_fsyncdir(ns *n)
{
	return ns_durable(n);
}

/* After the legacy bind every committed format-3 file node names its
 * commit record (ns_bind.c); one that names none is a node record from
 * before the bind put back (the state digest re-sealed): a killed
 * session's record would read as the object, so its content is refused.
 * Checked once per load (a DEK unwrap and a header read), and only for
 * such a node: formats 1 and 2 have no commit record and read as ever.
 * Not in a write session (dirty, from session_ref on): ref is then the
 * session's (an inline object moved to a file names no record until its
 * commit). Left: a write session on such a node (a mutable object only,
 * a locked one takes none) is not refused, and its commit names a record
 * of whatever it kept of the file. */
static int unbound_check(ns *n, struct ns_inode *in, const struct obj_ref *r)
{
	static const uint8_t none[OBJ_COMMIT_BYTES];
	uint8_t tag[OBJ_COMMIT_BYTES];
	int st, rc;

	if ((!n->bind_done && !n->fmt_upgraded) || r->gen == 0 ||
	    memcmp(r->commit, none, sizeof(none)) != 0)
		return 0;
	pthread_mutex_lock(&in->mu);
	st = in->unbound;
	pthread_mutex_unlock(&in->mu);
	if (st == 0) {
		rc = obj_commit_tag(n->st, n->km, r, (uint64_t)clock_monotonic_ns(), tag);
		if (rc && rc != -ENOTSUP)
			return -EIO;   /* KMS, I/O: fail closed, asked again next read */
		/* -ENOTSUP: format 1 or 2, refused once a wormctl upgrade left
		 * none (ns_upgrade.h: a record from before it put back). */
		st = rc ? (n->fmt_upgraded ? -2 : 1) : (n->bind_done ? -1 : 1);
		pthread_mutex_lock(&in->mu);
		in->unbound = st;
		pthread_mutex_unlock(&in->mu);
		if (st < 0) {
			char id[33];
			wcrypto_hex(id, r->id, 16);
			wlog(WLOG_ERR, "object %s (inode %llu): %s (a node record from before it put "
			     "back?): content read refused (see wormctl verify)", id,
			     (unsigned long long)in->ino, st == -1 ? "names no commit record although "
			     "the legacy bind has run" : "its content file is in format 1 or 2 "
			     "although wormctl upgrade has run");
		}
	}
	if (st > 0)
		return 0;
	atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
	return -EIO;
}

ssize_t ns_read(ns *n, ns_handle *h, void *buf, size_t size, uint64_t off)
{
	struct ns_inode *in = h->in;
	struct obj_ref r;
	ssize_t got;
	int rc;

	stats_op(&n->stats, SOP_READ);
	if (!in) {
		if (off >= h->vlen)
			return 0;
		if (size > h->vlen - off)
			size = h->vlen - off;
		memcpy(buf, h->vbuf + off, size);
		return (ssize_t)size;
	}
	/* Under in->rw: a writer cannot move the content (inline to file)
	 * between finding it and reading it. */
	pthread_rwlock_rdlock(&in->rw);
	rc = handle_fd(n, h);
	if (rc) {
		pthread_rwlock_unlock(&in->rw);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	r = in->ref;
	r.key = in->key;
	const uint8_t *ibuf = in->inl ? in->ibuf : NULL;
	int forged = in->forged, dirty = in->dirty;
	pthread_mutex_unlock(&in->mu);
	if (forged) {
		/* Design section 7: unauthenticated plaintext is never
		 * returned. A node that fails its MAC says nothing trustworthy
		 * about which bytes are current (its generation, size and commit
		 * record may be an older copy's or an edit): a content file put
		 * back with it would read as the object. */
		pthread_rwlock_unlock(&in->rw);
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "inode %llu: metadata record fails authentication, content read "
		     "refused", (unsigned long long)in->ino);
		return -EIO;
	}
	if (!ibuf && !dirty && h->fd >= 0 && (rc = unbound_check(n, in, &r)) != 0) {
		pthread_rwlock_unlock(&in->rw);
		return rc;
	}
	if (r.size == 0 || off >= r.size) {
		got = 0;
	} else if (ibuf) {
		got = (ssize_t)(size < r.size - off ? size : r.size - off);
		memcpy(buf, ibuf + off, (size_t)got);
	} else if (h->fd < 0) {
		got = 0;
	} else {
		got = obj_read(h->fd, &r, buf, size, off);
	}
	pthread_rwlock_unlock(&in->rw);
	if (got == -EIO)
		auth_failure(n, in);
	if (got > 0)
		atomic_fetch_add_explicit(&n->stats.bytes_read, (uint64_t)got, memory_order_relaxed);
	return got;
}

#define NS_WRITEBACK_STEP (8u << 20)

ssize_t ns_write(ns *n, const struct ns_caller *c, ns_handle *h, const void *buf,
		 size_t size, uint64_t off)
{
	struct ns_inode *in = h->in;
	struct obj_ref r;
	ssize_t put;
	int fd = -1, rc, start_writeback = 0;

	stats_op(&n->stats, SOP_WRITE);
	if (!in)
		return -EROFS;
	if (!h->writable)
		return -EBADF;
	pthread_rwlock_wrlock(&in->rw);
	pthread_mutex_lock(&in->mu);
	/* A handle opened before a lock was applied (default retention at a
	 * commit) must not write past it. */
	if (in->sealed) {
		pthread_mutex_unlock(&in->mu);
		pthread_rwlock_unlock(&in->rw);
		/* Whatever the kernel may hold for it must go (mmap'ed pages). */
		ns_queue_inval(n, in->ino);
		return ns_refuse(n, SOP_WRITE, in->ino, NULL, c, -EPERM, "sealed");
	}
	/* O_APPEND: the kernel sends the end it knows; only an offset past
	 * ours moves back to it. One below the end is the kernel writing
	 * back an mmap'ed page at its own place: moved to the end, it
	 * appended a copy of the page (on an append-only object too, where
	 * it is refused below instead). */
	if ((h->flags & O_APPEND) && off > in->ref.size)
		off = in->ref.size;
	/* chattr +a: only at the end. in->rw is held for writing from here
	 * to the size update, so the end cannot move meanwhile. */
	const char *arule = NULL;
	if (inode_check(n, in, policy_write_op(off, in->ref.size), &arule)) {
		pthread_mutex_unlock(&in->mu);
		pthread_rwlock_unlock(&in->rw);
		/* The kernel copied the refused bytes into its page cache
		 * before asking: they must go, never to be read. */
		ns_queue_inval(n, in->ino);
		return ns_refuse(n, SOP_WRITE, in->ino, NULL, c, -EPERM, arule);
	}
	pthread_mutex_unlock(&in->mu);
	/* Set-id bits go before the data, as in the kernel (HANDLE_KILLPRIV). */
	rc = ns_kill_setid(n, c, in->ino);
	/* off + size cannot wrap: off < 2^63 and a request is small. */
	if (!rc)
		rc = torn_retry(n, in);
	if (!rc)
		rc = content_ensure(n, in, h, off + size, &fd);
	if (rc) {
		pthread_rwlock_unlock(&in->rw);
		return rc;
	}
	rc = session_ref(in, &r);
	if (rc) {
		pthread_rwlock_unlock(&in->rw);
		ns_queue_inval(n, in->ino);
		return ns_refuse(n, SOP_WRITE, in->ino, NULL, c, rc, "sealed");
	}
	if (fd < 0) {
		/* Inline, and off + size <= OBJ_INLINE_MAX (content_ensure). */
		memcpy(in->ibuf + off, buf, size);
		if (off + size > r.size)
			r.size = off + size;
		put = (ssize_t)size;
	} else {
		r.sealer = n->sealer;
		r.torn = 0;
		put = obj_write(fd, &r, buf, size, off);
		if (put > 0)
			ns_crash_point(n, "write");
		else if (r.torn)
			session_abort(n, in, (int)put);
		if (put > 0 && (h->unflushed += (uint64_t)put) >= NS_WRITEBACK_STEP) {
			start_writeback = 1;
			h->unflushed = 0;
		}
	}
	pthread_mutex_lock(&in->mu);
	if (put > 0) {
		in->ref.size = r.size;
		in->ref.sparse = r.sparse;
		in->mtime_ns = clock_realtime_ns();
	}
	pthread_mutex_unlock(&in->mu);
	pthread_rwlock_unlock(&in->rw);
	/* Start writeback every few MiB (outside in->rw: it may wait for
	 * the disk queue): a later fsync then has little left to write, and
	 * the disk works while the next requests are encrypted. On the
	 * helper thread when it can take it, so the reply does not wait for
	 * it (0.4-0.5 ms per 8 MiB); else here. The fd is the handle's and
	 * stays open for this request. */
	if (start_writeback && !(n->sealer && obj_sealer_writeback(n->sealer, fd)))
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (put > 0)
		atomic_fetch_add_explicit(&n->stats.bytes_written, (uint64_t)put, memory_order_relaxed);
	return put;
}

int ns_fallocate(ns *n, const struct ns_caller *c, ns_handle *h, int mode,
		 uint64_t off, uint64_t len)
{
	struct ns_inode *in = h->in;
	int rc = 0;

	stats_op(&n->stats, SOP_FALLOCATE);
	if (!in)
		return -EROFS;
	pthread_rwlock_wrlock(&in->rw);
	pthread_mutex_lock(&in->mu);
	const char *frule = NULL;
	int refused = inode_check(n, in, POP_FALLOCATE, &frule);
	uint64_t size = in->ref.size;
	pthread_mutex_unlock(&in->mu);
	if (refused) {
		rc = ns_refuse(n, SOP_FALLOCATE, in->ino, NULL, c, -EPERM, frule);
		goto out;
	}
	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		rc = -EOPNOTSUPP;   /* holes and ranges would bypass the format */
		goto out;
	}
	if (off + len < off || off + len > OBJ_MAX_SIZE) {
		rc = -EFBIG;
		goto out;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > size)
		rc = ns_content_truncate(n, in, h, off + len);
out:
	pthread_rwlock_unlock(&in->rw);
	return rc;
}
