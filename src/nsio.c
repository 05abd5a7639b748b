/* nsio: open handles, content reads and writes, commits, setattr.
 *
 * Concurrency per inode: in->rw serializes writers against readers and
 * each other; in->mu guards the small state (writers, sealed, size) and is
 * the lock under which a write-open and a lock change exclude each other
 * (a lock change gets EBUSY while writers > 0). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/falloc.h>

#include "ns_priv.h"
#include "log.h"

static const uint8_t zero_id[16];

static int has_content(const struct obj_ref *r)
{
	return memcmp(r->id, zero_id, sizeof(zero_id)) != 0;
}

void ns_inode_load(struct ns_inode *in, const struct meta_node *nd, int64_t now)
{
	struct policy_lock lk;

	if (!in->live) {
		memset(&in->ref, 0, sizeof(in->ref));
		memcpy(in->ref.id, nd->objid, 16);
		in->ref.alg = (int)nd->alg;
		memcpy(in->ref.wrapped, nd->wrapped, KMS_WRAPPED_BYTES);
		in->ref.gen = nd->generation;
		in->ref.size = nd->size;
		in->ref.sparse = (nd->flags & META_F_SPARSE) != 0;
		in->live = 1;
	}
	ns_node_lock(nd, &lk);
	/* Sealed is for ever: never cleared by a stale snapshot. */
	in->sealed |= policy_is_sealed(&lk, now);
}

static void auth_failure(ns *n, const struct ns_inode *in)
{
	char id[33];
	wcrypto_hex(id, in->ref.id, 16);
	atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
	wlog(WLOG_ERR, "object %s (inode %llu): content fails authentication, read refused",
	     id, (unsigned long long)in->ino);
}

/* Open (once) the handle's content file if the object has one. */
static int handle_fd(ns *n, ns_handle *h)
{
	struct ns_inode *in = h->in;
	int rc = 0;

	pthread_mutex_lock(&in->mu);
	if (h->fd < 0 && has_content(&in->ref)) {
		in->ref.key = in->key;
		rc = obj_open(n->st, &in->ref, h->writable ? O_RDWR : O_RDONLY, &h->fd);
		if (rc == -EIO)
			auth_failure(n, in);
	}
	pthread_mutex_unlock(&in->mu);
	return rc;
}

/* Make sure the object has a content file and a key (first write). Called
 * with in->rw held for writing. */
static int content_ensure(ns *n, struct ns_inode *in, ns_handle *h, int *fd)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	wcrypto_aead *key = NULL;
	struct obj_ref r;
	int rc, nfd = -1;

	if (h && h->fd >= 0) {
		*fd = h->fd;
		return 0;
	}
	if (has_content(&in->ref)) {
		in->ref.key = in->key;
		rc = obj_open(n->st, &in->ref, O_RDWR, &nfd);
		if (rc)
			return rc;
		goto done;
	}
	memset(&r, 0, sizeof(r));
	rc = obj_create(n->st, n->km, n->alg, &r, &nfd, &key, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	rc = meta_txn_begin(n->me, 0, &t);
	if (!rc)
		rc = ns_node_get(n, t, in->ino, &nd);
	if (rc)
		goto fail;
	memcpy(nd.objid, r.id, 16);
	memcpy(nd.wrapped, r.wrapped, KMS_WRAPPED_BYTES);
	nd.alg = (uint32_t)r.alg;
	nd.generation = 0;
	rc = ns_node_put(n, t, &nd);
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	t = NULL;
	if (rc)
		goto fail;
	pthread_mutex_lock(&in->mu);
	memcpy(in->ref.id, r.id, 16);
	memcpy(in->ref.wrapped, r.wrapped, KMS_WRAPPED_BYTES);
	in->ref.alg = r.alg;
	in->ref.gen = 0;
	wcrypto_aead_free(in->key);
	in->key = key;
	pthread_mutex_unlock(&in->mu);
done:
	if (h)
		h->fd = nfd;
	*fd = nfd;
	return 0;
fail:
	if (t)
		meta_txn_abort(t);
	close(nfd);
	store_obj_unlink(n->st, r.id);
	wcrypto_aead_free(key);
	return rc;
}

/* Unwrap the DEK of an open object once. Called without in->mu: a
 * throttled KMS Decrypt may wait (throttle=wait), and nobody else should
 * wait on the inode meanwhile. */
static int key_ensure(ns *n, struct ns_inode *in)
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

/* Commit pending content changes: final block re-sealed, size and
 * generation recorded; at a writer's close the bucket's default retention
 * is applied. Called with in->rw held for writing. */
/* 1 if nd (not yet sealed) lies in a bucket with a default retention. */
int ns_bucket_default(ns *n, meta_txn *t, const struct meta_node *nd)
{
	struct meta_node b;
	return S_ISREG(nd->mode) && !nd->sealed && !ns_bucket_of(n, t, nd, &b) &&
	       b.def_mode != WORM_NONE;
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

/* 1 if committing this object would apply its bucket's default retention
 * (read transaction only). */
static int default_pending(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd, b;
	int pending;

	if (meta_txn_begin(n->me, 1, &t))
		return 1;   /* let the write path decide */
	pending = !ns_node_get(n, t, ino, &nd) &&
		  ((nd.flags & META_F_DEFAULT_PENDING) ||
		   (!nd.sealed && !ns_bucket_of(n, t, &nd, &b) && b.def_mode != WORM_NONE));
	meta_txn_abort(t);
	return pending;
}

static int inode_commit(ns *n, struct ns_inode *in, int fd, int apply_default, int durable)
{
	meta_txn *t = NULL;
	struct meta_node nd, b;
	struct obj_ref r;
	int64_t cnow = ns_clock_now(n);
	int rc = 0, dirty, locked_now = 0;

	int unlinked;
	int64_t mtime;

	pthread_mutex_lock(&in->mu);
	dirty = in->dirty;
	r = in->ref;
	r.key = in->key;
	unlinked = in->unlinked;
	mtime = in->mtime_ns;
	pthread_mutex_unlock(&in->mu);
	if (!dirty && !apply_default)
		return 0;
	if (!dirty && !default_pending(n, in->ino))
		return 0;   /* the common release: no write transaction at all */
	if (dirty && fd >= 0) {
		rc = obj_commit(fd, &r);
		if (!rc && durable)
			rc = fdatasync(fd) ? -errno : 0;
		if (!rc && durable)
			rc = store_obj_syncdir(n->st, r.id);
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
		return 0;
	}
	if (rc)
		goto fail;
	if (dirty) {
		nd.size = r.size;
		if (r.sparse)
			nd.flags |= META_F_SPARSE;
		nd.generation = r.write_gen ? r.write_gen : r.gen;
		nd.mtime_ns = nd.ctime_ns = mtime ? mtime : clock_realtime_ns();
	}
	if (apply_default && !nd.sealed && !(nd.flags & (1u << 31)) &&
	    ns_bucket_of(n, t, &nd, &b) == 0 && b.def_mode != WORM_NONE) {
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
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	t = NULL;
	if (rc)
		return rc;
	pthread_mutex_lock(&in->mu);
	if (dirty) {
		in->ref.gen = nd.generation;
		in->ref.write_gen = 0;
		in->dirty = 0;
		in->mtime_ns = 0;
	}
	if (locked_now)
		in->sealed = 1;
	pthread_mutex_unlock(&in->mu);
	if (locked_now) {
		atomic_fetch_add_explicit(&n->stats.lock_changes, 1, memory_order_relaxed);
		char path[4096], until[32];
		ns_path_of(n, in->ino, path, sizeof(path));
		clock_format_rfc3339(nd.retain_until, until, sizeof(until));
		wlog(WLOG_INFO, "lock change op=commit path=%s uid=- rule=default-retention "
		     "value=%s %s", path, policy_mode_name(nd.lock_mode), until);
	}
	if (durable || locked_now)
		rc = ns_durable(n);
	return rc;
fail:
	if (t)
		meta_txn_abort(t);
	return rc;
}

/* Start a write session (generation G+1) if none is running. in->mu held. */
static void session_begin(struct ns_inode *in)
{
	if (!in->ref.write_gen)
		in->ref.write_gen = in->ref.gen + 1;
	in->dirty = 1;
}

/* Set the size of an object: policy was asked by the caller. in->rw held
 * for writing. */
static int content_truncate(ns *n, struct ns_inode *in, ns_handle *h, uint64_t size)
{
	struct obj_ref r;
	int fd = -1, rc, own_fd;

	if (size > OBJ_MAX_SIZE)
		return -EFBIG;
	pthread_mutex_lock(&in->mu);
	int same = in->ref.size == size;
	pthread_mutex_unlock(&in->mu);
	if (same)
		return 0;
	own_fd = !(h && h->fd >= 0);
	rc = content_ensure(n, in, own_fd ? NULL : h, &fd);
	if (rc)
		return rc;
	pthread_mutex_lock(&in->mu);
	session_begin(in);
	r = in->ref;
	r.key = in->key;
	pthread_mutex_unlock(&in->mu);
	rc = obj_truncate(fd, &r, size);
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
	if (own_fd)
		close(fd);
	return rc;
}

/* ---- open / create / release ---------------------------------------------- */

static int is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND));
}

static void mark_pending(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;

	if (meta_txn_begin(n->me, 1, &t))
		return;
	int due = !ns_node_get(n, t, ino, &nd) && !(nd.flags & META_F_DEFAULT_PENDING) &&
		  ns_bucket_default(n, t, &nd);
	meta_txn_abort(t);
	if (!due || meta_txn_begin(n->me, 0, &t))
		return;
	if (!ns_node_get(n, t, ino, &nd) && ns_bucket_default(n, t, &nd) &&
	    !ns_pending_mark(n, t, &nd, 1) && !ns_node_put(n, t, &nd))
		meta_txn_commit(t);
	else
		meta_txn_abort(t);
}

/* Open a handle on a regular file. The node is read again under in->mu:
 * lock changes commit while holding in->mu, so a lock acknowledged before
 * this point is seen here, and a write-open cannot slip past it. */
static int open_node(ns *n, const struct ns_caller *c, uint64_t ino, int flags,
		     ns_handle **out, int *keep_cache)
{
	struct ns_inode *in;
	struct meta_node nd;
	struct policy_lock lk;
	struct policy_caller pc;
	const char *rule = NULL;
	meta_txn *t = NULL;
	int64_t cnow = ns_clock_now(n);
	int writable = is_write_open(flags), rc;
	ns_handle *h;

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
	if (writable) {
		ns_node_lock(&nd, &lk);
		ns_caller_policy(c, &pc);
		rc = policy_check(&n->cfg.rules, &pc, &lk, POP_OPEN_WRITE, cnow, &rule);
		if (!rc && in->sealed) {
			rc = -EPERM;
			rule = "sealed";
		}
		if (rc) {
			pthread_mutex_unlock(&in->mu);
			ns_refuse(n, SOP_OPEN, ino, NULL, c, rc, rule);
			goto fail;
		}
		in->writers++;
	}
	in->handles++;
	if (keep_cache)
		*keep_cache = in->sealed && !writable;
	pthread_mutex_unlock(&in->mu);
	/* A writer's release will apply the bucket default: record that it
	 * is due, so a crash first is repaired at the next open. (After
	 * in->mu: the write transaction comes first in the lock order.) */
	if (writable && !(nd.flags & META_F_DEFAULT_PENDING) && !nd.sealed)
		mark_pending(n, ino);
	rc = key_ensure(n, in);
	if (!rc)
		rc = handle_fd(n, h);
	if (rc)
		goto fail_h;
	if (flags & O_TRUNC) {
		pthread_rwlock_wrlock(&in->rw);
		rc = content_truncate(n, in, h, 0);
		pthread_rwlock_unlock(&in->rw);
		if (rc)
			goto fail_h;
	}
	*out = h;
	return 0;
fail_h:
	pthread_mutex_lock(&in->mu);
	in->handles--;
	if (writable)
		in->writers--;
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
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		h->fd = -1;
		rc = ns_virt_render(n, ino, &h->vbuf, &h->vlen);
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
	return open_node(n, c, ino, flags, out, keep_cache);
}

int ns_create(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint32_t mode, int flags, struct ns_attr *out, ns_handle **h)
{
	int rc;

	rc = ns_mknod(n, c, parent, name, S_IFREG | (mode & 07777), out);
	if (rc)
		return rc;
	/* The creator may write even if the new mode says read-only. */
	return open_node(n, c, out->ino, (flags & ~O_TRUNC) | O_RDWR, h, NULL);
}

/* The last writer's release is the commit of design section 4: content
 * and, if the bucket has one, its default retention. (close(2) of one of
 * several descriptors of the same open file, e.g. after dup2 in a shell
 * redirection, reaches us as FLUSH only, so FLUSH commits content alone.) */
int ns_release(ns *n, ns_handle *h)
{
	struct ns_inode *in = h->in;
	int rc = 0, drop = 0, last_writer, unlinked, content;
	uint8_t objid[16];

	stats_op(&n->stats, SOP_RELEASE);
	if (!in) {
		free(h->vbuf);
		free(h);
		return 0;
	}
	if (h->writable) {
		pthread_rwlock_wrlock(&in->rw);
		pthread_mutex_lock(&in->mu);
		last_writer = in->writers == 1;
		unlinked = in->unlinked;
		pthread_mutex_unlock(&in->mu);
		rc = inode_commit(n, in, h->fd, last_writer && !unlinked, 0);
		pthread_rwlock_unlock(&in->rw);
		if (rc)
			wlog(WLOG_ERR, "commit of inode %llu at release failed: %s",
			     (unsigned long long)in->ino, strerror(-rc));
	}
	pthread_mutex_lock(&in->mu);
	if (h->writable && --in->writers == 0)
		pthread_cond_broadcast(&in->idle);
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
		if (content)
			store_obj_unlink(n->st, objid);
		if (!meta_txn_begin(n->me, 0, &t)) {
			meta_node_del(t, in->ino);
			meta_orphan_del(t, in->ino);
			meta_txn_commit(t);
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

/* ---- read / write -------------------------------------------------------- */

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
	rc = handle_fd(n, h);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&in->rw);
	pthread_mutex_lock(&in->mu);
	r = in->ref;
	r.key = in->key;
	pthread_mutex_unlock(&in->mu);
	if (h->fd < 0 || r.size == 0 || off >= r.size)
		got = 0;
	else
		got = obj_read(h->fd, &r, buf, size, off);
	pthread_rwlock_unlock(&in->rw);
	if (got == -EIO)
		auth_failure(n, in);
	if (got > 0)
		atomic_fetch_add_explicit(&n->stats.bytes_read, (uint64_t)got, memory_order_relaxed);
	return got;
}

ssize_t ns_write(ns *n, const struct ns_caller *c, ns_handle *h, const void *buf,
		 size_t size, uint64_t off)
{
	struct ns_inode *in = h->in;
	struct obj_ref r;
	ssize_t put;
	int fd = -1, rc;

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
	pthread_mutex_unlock(&in->mu);
	rc = content_ensure(n, in, h, &fd);
	if (rc) {
		pthread_rwlock_unlock(&in->rw);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	session_begin(in);
	if (h->flags & O_APPEND)
		off = in->ref.size;
	r = in->ref;
	r.key = in->key;
	pthread_mutex_unlock(&in->mu);
	put = obj_write(fd, &r, buf, size, off);
	pthread_mutex_lock(&in->mu);
	if (put > 0) {
		in->ref.size = r.size;
		in->ref.sparse = r.sparse;
		in->mtime_ns = clock_realtime_ns();
	}
	pthread_mutex_unlock(&in->mu);
	pthread_rwlock_unlock(&in->rw);
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
	int sealed = in->sealed;
	uint64_t size = in->ref.size;
	pthread_mutex_unlock(&in->mu);
	if (sealed) {
		rc = ns_refuse(n, SOP_FALLOCATE, in->ino, NULL, c, -EPERM, "sealed");
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
		rc = content_truncate(n, in, h, off + len);
out:
	pthread_rwlock_unlock(&in->rw);
	return rc;
}

/* ---- setattr ------------------------------------------------------------- */

/* Which lock rules a setattr request touches. */
static int setattr_policy(ns *n, const struct ns_caller *c, const struct meta_node *nd,
			  const struct ns_setattr *sa, int64_t now, const char **rule)
{
	static const struct { unsigned mask; enum policy_op op; } checks[] = {
		{ NS_SET_SIZE, POP_TRUNCATE }, { NS_SET_MODE, POP_CHMOD },
		{ NS_SET_UID | NS_SET_GID, POP_CHOWN },
		{ NS_SET_ATIME | NS_SET_MTIME | NS_SET_ATIME_NOW | NS_SET_MTIME_NOW |
		  NS_SET_CTIME, POP_UTIMENS },
	};
	struct policy_lock lk;
	struct policy_caller pc;
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
	return 0;
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
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	meta_txn_abort(t);
	if (rc)
		return rc;
	if (S_ISREG(nd.mode)) {
		rc = setattr_policy(n, c, &nd, sa, cnow, &rule);
		if (rc)
			return ns_refuse(n, SOP_SETATTR, ino, NULL, c, rc, rule);
		in = h ? h->in : ns_inode_get(n, ino);
		if (!in)
			return -ENOMEM;
		if (!h) {
			pthread_mutex_lock(&in->mu);
			ns_inode_load(in, &nd, cnow);
			pthread_mutex_unlock(&in->mu);
		}
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
			rc = key_ensure(n, in);
		if (!rc)
			rc = content_truncate(n, in, h, sa->size);
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
