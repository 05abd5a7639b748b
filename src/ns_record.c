/* ns_record: authenticated node records (design section 7): their MAC,
 * get (a record failing it is marked and treated as locked), seal and put,
 * the lock view policy decides on, the caller's view, and the bucket that
 * holds a node. Lock rules come from policy; the ns files only gather the
 * facts and act on its answer. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ns_record.h"
#include "ns_vcache.h"
#include "log.h"

_Static_assert(META_COMMIT_BYTES == OBJ_COMMIT_BYTES, "a node keeps one commit record tag");

/* The authenticated part of a node (design section 7): content identity,
 * size, generation, lock and bucket-lock fields; from record version 2 also
 * the record version, parent, mode, owner, links, the bucket default's
 * years and a directory's count of children (the union with generation).
 * Times are ordinary metadata and not covered; nor is next_cookie, which
 * meta_dirent_add advances on its own. The commit record a file's record
 * committed (nd->commit) is covered when set, appended last: a record
 * without one (all before it existed) MACs as before, and one with it
 * cleared or changed fails. */
void ns_node_mac(const ns *n, const struct meta_node *nd, uint8_t out[32])
{
	static const uint8_t none[META_COMMIT_BYTES];
	int has_commit = memcmp(nd->commit, none, sizeof(none)) != 0;

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
			       META_F_APPEND_ONLY | META_F_DEF_APPEND | META_F_STAGING);
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
		uint8_t buf[sizeof(m) + sizeof(x) + sizeof(acs) + META_COMMIT_BYTES];
		size_t len = sizeof(m) + sizeof(x);
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
		if (acs || has_commit) {
			memcpy(buf + len, &acs, sizeof(acs));
			len += sizeof(acs);
		}
		if (has_commit) {
			memcpy(buf + len, nd->commit, META_COMMIT_BYTES);
			len += META_COMMIT_BYTES;
		}
		wcrypto_mac(out, n->reckey, buf, len);
		return;
	}
	/* A bucket's autocommit period likewise: covered when set, so a
	 * record without one MACs as before (and without a bucket, not at
	 * all, as it always was). */
	uint32_t ac = nd->autocommit_s;
	uint8_t buf[sizeof(m) + sizeof(bucket) + sizeof(ac) + META_COMMIT_BYTES];
	size_t len = sizeof(m);
	memcpy(buf, &m, sizeof(m));
	if (bucket) {
		memcpy(buf + len, &bucket, sizeof(bucket));
		len += sizeof(bucket);
		if (ac || has_commit) {
			memcpy(buf + len, &ac, sizeof(ac));
			len += sizeof(ac);
		}
	}
	if (has_commit) {
		memcpy(buf + len, nd->commit, META_COMMIT_BYTES);
		len += META_COMMIT_BYTES;
	}
	wcrypto_mac(out, n->reckey, buf, len);
}

uint64_t ns_node_bucket(const struct meta_node *nd)
{
	return (uint64_t)nd->bucket_hi << 32 | nd->bucket_lo;
}

void ns_node_set_bucket(struct meta_node *nd, uint64_t bucket)
{
	nd->bucket_lo = (uint32_t)bucket;
	nd->bucket_hi = (uint32_t)(bucket >> 32);
}

int ns_node_get(ns *n, meta_txn *t, uint64_t ino, struct meta_node *out)
{
	int rc = meta_node_get(t, ino, out), ok;
	uint8_t mac[32];

	if (rc)
		return rc;
	/* The MAC does not cover this flag (ns_node_mac). */
	out->flags &= ~NS_F_AUTH_FAILED;
	ok = ns_vcache_known(n->vc, out);
	if (!ok) {
		ns_node_mac(n, out, mac);
		ok = wcrypto_equal(mac, out->mac, sizeof(mac));
		if (ok)
			ns_vcache_note(n->vc, out);
	}
	/* Once the store is upgraded, a version 1 record (whose MAC leaves
	 * out the parent) is an older record put back: refused. */
	if (!ok || (n->rec_strict && out->version < META_NODE_VERSION)) {
		out->flags |= NS_F_AUTH_FAILED;
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "metadata record of inode %llu fails authentication: treated as locked",
		     (unsigned long long)ino);
	}
	return 0;
}

int ns_node_read(ns *n, uint64_t ino, struct meta_node *out)
{
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 1, &t);

	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, out);
	meta_txn_abort(t);
	return rc;
}

/* Stamp the version and the MAC (nd's bucket known, or derived in t). */
int ns_node_seal(ns *n, meta_txn *t, struct meta_node *nd)
{
	struct meta_node b;

	/* Never launder a record that failed authentication. */
	if (nd->flags & NS_F_AUTH_FAILED)
		return -EPERM;
	/* A record from before the bucket was kept learns it when it is next
	 * written. Best effort: an object unlinked while open may have lost
	 * its directory; ns_bucket_of derives (or refuses) at each use. */
	if (!ns_node_bucket(nd) && nd->ino != NS_INO_ROOT && !ns_bucket_of(n, t, nd, &b))
		ns_node_set_bucket(nd, b.ino);
	nd->version = META_NODE_VERSION;
	ns_node_mac(n, nd, nd->mac);
	ns_vcache_note(n->vc, nd);   /* read back next, mostly */
	return 0;
}

int ns_node_put(ns *n, meta_txn *t, struct meta_node *nd)
{
	int rc = ns_node_seal(n, t, nd);
	return rc ? rc : meta_node_put(t, nd);
}

void ns_node_ref(const struct meta_node *nd, struct obj_ref *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->id, nd->objid, 16);
	r->alg = (int)nd->alg;
	memcpy(r->wrapped, nd->wrapped, KMS_WRAPPED_BYTES);
	r->gen = nd->generation;
	memcpy(r->commit, nd->commit, sizeof(r->commit));
	r->size = r->csize = nd->size;
	r->sparse = (nd->flags & META_F_SPARSE) != 0;
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
