/* ns_upgrade: rewrite format-1/2 content files in format 3, in place
 * (wormctl upgrade; issue 12, design sections 6, 7 and 15).
 *
 * Why: a content file keeps the format it was created in. Formats 1 and 2
 * have no write tags and no commit record, so a block replaced by an
 * older authentic version of itself (one written twice in a session) may
 * read, and the legacy bind (ns_bind.c) cannot bind them. Copying such an
 * object is no answer for a locked one (the copy is a new, unlocked
 * object, the original stays weak). So the object keeps its node (inode,
 * lock, owner, times, xattrs) and gets a new content file.
 *
 * Per object, offline (nothing else writes the store):
 *   1. the node read through its MAC; the old file opened, its header and
 *      block map authenticated, and the whole plaintext read (every block
 *      authenticated) while it is written to a new format-3 file (new id
 *      and data key, the object's alg) and hashed;
 *   2. the new file committed (its commit record's tag kept), synced, read
 *      back whole through a fresh map bound to that tag, hashed and fully
 *      verified: the two hashes must match;
 *   3. one write transaction re-reads the node: any byte of its record
 *      changed since step 1 aborts this object; else the node names the
 *      new file (id, wrapped key, alg, generation 1, commit tag, sparse
 *      flag) and is re-MAC'd by ns_node_put (state digest kept by the
 *      normal path); the database is synced;
 *   4. the old file (and its maps and journal) is removed.
 * A crash before 3 leaves the new file named by no node; after 3, the old
 * one: the open marker this writable open set makes the next writable
 * open recover the store, which removes content files no node names
 * (ns_store.c, recover_store). Either way the object reads as before.
 *
 * Trust (as the legacy bind): whatever the old file holds now, if it
 * authenticates under the node, is taken as the object's content. Not
 * upgraded: a node whose record fails authentication, a content file
 * that fails any check, a full disk (ENOSPC: the new file removed). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_ctx.h"
#include "ns_offline.h"
#include "ns_record.h"
#include "ns_trail.h"
#include "ns_upgrade.h"
#include "log.h"

#define UP_CHUNK (64 * (size_t)OBJ_BLOCK_SIZE)   /* 1 MiB per read */

struct up_list {
	uint64_t *ino;
	size_t n, cap;
	int rc;
};

/* Unauthenticated here: a filter only; each node is read again through
 * its MAC before anything is done with it. */
static int collect_cb(void *arg, const struct meta_node *nd)
{
	static const uint8_t zero[16];
	struct up_list *l = arg;

	if (!S_ISREG(nd->mode) || nd->nlink == 0 || (nd->flags & META_F_INLINE) ||
	    !memcmp(nd->objid, zero, 16))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		uint64_t *v = realloc(l->ino, cap * sizeof(*v));
		if (!v) {
			l->rc = -ENOMEM;
			return 1;
		}
		l->ino = v;
		l->cap = cap;
	}
	l->ino[l->n++] = nd->ino;
	return 0;
}

/* Paths for the report, from one walk (ns_path_of scans each parent: per
 * object that would be quadratic in a large directory). */
struct up_path {
	uint64_t ino;
	char *path;
};
struct up_paths {
	struct up_path *v;
	size_t n, cap, bytes;
};

/* Paths of every file are kept (the format is known only once each is
 * opened): a bound, so that a large store, or a user's files under very
 * deep directories, cannot make the run fail for memory (review rv-upg).
 * Past it, or out of memory, the rest are reported by inode. */
#define UP_PATHS_MAX ((size_t)64 << 20)

static int path_cb(void *arg, const struct ns_entry *e)
{
	struct up_paths *p = arg;
	size_t len;

	if (e->damage || !S_ISREG(e->attr.mode))
		return 0;
	len = strlen(e->path) + 1 + sizeof(struct up_path);
	if (p->bytes + len > UP_PATHS_MAX)
		return 1;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		struct up_path *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return 1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n].ino = e->attr.ino;
	p->v[p->n].path = strdup(e->path);
	if (!p->v[p->n].path)
		return 1;
	p->bytes += len;
	p->n++;
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	uint64_t x = ((const struct up_path *)a)->ino, y = ((const struct up_path *)b)->ino;
	return x < y ? -1 : x > y;
}

static void paths_free(struct up_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].path);
	free(p->v);
}

struct up_ctx {
	struct up_paths paths;    /* sorted by inode */
	ns *n;
	const struct ns_upgrade_opts *o;
	struct ns_upgrade_stats *st;
	unsigned to_fmt;          /* 3, or (tests) 1 or 2 */
	uint8_t *buf;             /* UP_CHUNK bytes */
	int started;              /* the run's start record is committed */
	size_t candidates;        /* file nodes with a content file, for that record */
};

/* One content file open for reading its committed state. */
struct up_file {
	struct obj_ref r;
	wcrypto_aead *key;
	int fd;
};

static void file_close(struct up_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	obj_map_free(f->r.map);
	wcrypto_aead_free(f->key);
	f->fd = -1;
	f->r.map = NULL;
	f->key = NULL;
}

static int file_open(ns *n, struct up_file *f)
{
	int rc = obj_key_open(n->km, &f->r, &f->key, (uint64_t)clock_monotonic_ns());

	f->fd = -1;
	f->r.map = NULL;
	if (rc)
		return rc;
	f->r.key = f->key;
	rc = obj_open(n->st, &f->r, O_RDONLY, &f->fd);
	if (!rc)
		rc = obj_map_load(n->st, f->fd, &f->r, &f->r.map);
	return rc;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Read f's whole committed plaintext (every block authenticated) into the
 * digest d and, if out is set, write it to out (a session of generation
 * 1). In a sparse object, whole blocks of zeros (not the final one) are
 * left as holes, so the new file is no larger than the old one. */
static int copy_through(struct up_ctx *c, struct up_file *f, wcrypto_digest *d, int ofd,
			struct obj_ref *out)
{
	uint64_t size = f->r.size;

	for (uint64_t off = 0; off < size;) {
		size_t len = size - off < UP_CHUNK ? (size_t)(size - off) : UP_CHUNK;
		ssize_t got = obj_read(f->fd, &f->r, c->buf, len, off);
		int rc;

		if (got < 0)
			return (int)got;
		if ((size_t)got != len)
			return -EIO;   /* short: the file is not as long as its record */
		rc = wcrypto_digest_update(d, c->buf, len);
		if (rc)
			return rc;
		for (size_t p = 0; out && p < len;) {
			size_t q = p, blk;

			/* A run of blocks to write: up to the next whole block of
			 * zeros that may stay a hole. */
			for (; q < len; q += blk) {
				blk = len - q < OBJ_BLOCK_SIZE ? len - q : OBJ_BLOCK_SIZE;
				if (f->r.sparse && blk == OBJ_BLOCK_SIZE && off + q + blk < size &&
				    all_zero(c->buf + q, blk))
					break;
			}
			if (q > p) {
				ssize_t put = obj_write(ofd, out, c->buf + p, q - p, off + p);
				if (put < 0)
					return (int)put;
				if ((size_t)put != q - p)
					return -EIO;
			}
			p = q < len ? q + OBJ_BLOCK_SIZE : q;   /* skip the hole */
		}
		off += len;
	}
	/* Trailing holes cannot be: the final block is always written. */
	if (out && out->size != size)
		return -EIO;
	return 0;
}

static int digest_of(struct up_ctx *c, struct up_file *f, int ofd, struct obj_ref *out,
		     uint8_t h[WCRYPTO_SHA256BYTES])
{
	wcrypto_digest *d = NULL;
	int rc = wcrypto_digest_new(WCRYPTO_DIGEST_SHA256, &d);

	if (!rc)
		rc = copy_through(c, f, d, ofd, out);
	if (!rc)
		rc = wcrypto_digest_final(d, h, WCRYPTO_SHA256BYTES);
	wcrypto_digest_free(d);
	return rc;
}

/* Remove a content file no node names (and its maps and journal). If that
 * fails, the store is left marked as not closed cleanly, so the next
 * writable open's recovery removes it (ns_store.c). */
static void drop_file(ns *n, const uint8_t id[16])
{
	int rc = store_obj_unlink(n->st, id), ru = store_aux_unlink(n->st, id, OBJ_UNDO_SUFFIX);

	if (!rc)
		rc = store_obj_syncdir(n->st, id);
	if ((rc && rc != -ENOENT) || (ru && ru != -ENOENT))
		atomic_store(&n->uncommitted, 1);
}

static int create_file(struct up_ctx *c, struct obj_ref *r, int *fd)
{
	switch (c->to_fmt) {
	case 1:
		return obj_file_create_v1(c->n->st, r, fd);
	case 2:
		return obj_file_create_v2(c->n->st, r, fd);
	default:
		return obj_file_create(c->n->st, r, 1, fd);
	}
}

/* Steps 1 and 2: the new file written, committed, synced and checked.
 * nf->r is then its committed state (gen 1, commit tag); on failure no
 * new file is left. */
static int write_new(struct up_ctx *c, struct up_file *of, struct up_file *nf,
		     const char **why)
{
	uint8_t h_old[WCRYPTO_SHA256BYTES], h_new[WCRYPTO_SHA256BYTES];
	struct obj_ref w;
	const char *what = NULL;
	uint64_t bad = 0;
	int rc, made = 0;

	memset(&w, 0, sizeof(w));
	nf->fd = -1;
	rc = obj_key_new(c->n->km, of->r.alg, &w, &nf->key, (uint64_t)clock_monotonic_ns());
	if (rc) {
		*why = "no new data key";
		return rc;
	}
	w.key = nf->key;
	rc = create_file(c, &w, &nf->fd);
	if (rc) {
		*why = "the new content file cannot be created";
		goto fail;
	}
	made = 1;
	rc = obj_map_load(c->n->st, nf->fd, &w, &w.map);
	if (rc) {
		*why = "the new content file cannot be read back";
		goto fail;
	}
	w.write_gen = 1;
	rc = digest_of(c, of, nf->fd, &w, h_old);
	if (rc) {
		*why = rc == -EIO ? "the old content file fails authentication (a block, its "
				    "header or its block map; see wormctl verify)"
		     : rc == -ENOSPC || rc == -EDQUOT ? "the disk is full: the new content file "
				    "was removed, the old one is intact"
				  : "reading the old or writing the new content file failed";
		goto fail;
	}
	rc = obj_commit(c->n->st, nf->fd, &w, 1);
	if (!rc && fdatasync(nf->fd))
		rc = -errno;
	if (!rc)
		rc = store_obj_syncdir(c->n->st, w.id);
	if (rc) {
		*why = "the new content file cannot be committed";
		goto fail;
	}
	/* Read back from the file as committed: a fresh map bound to the
	 * record's tag, every block, then the full check. */
	obj_map_free(w.map);
	w.map = NULL;
	nf->r = w;
	nf->r.gen = 1;
	nf->r.write_gen = 0;
	nf->r.csize = w.size;
	memcpy(nf->r.commit, w.wcommit, sizeof(nf->r.commit));
	memset(nf->r.wcommit, 0, sizeof(nf->r.wcommit));
	rc = obj_map_load(c->n->st, nf->fd, &nf->r, &nf->r.map);
	if (!rc)
		rc = digest_of(c, nf, -1, NULL, h_new);
	if (!rc)
		rc = obj_verify(c->n->st, c->n->km, &nf->r, (uint64_t)clock_monotonic_ns(), &what,
				&bad);
	if (!rc && memcmp(h_old, h_new, sizeof(h_old)) != 0)
		rc = -EIO;
	if (rc) {
		*why = "the new content file does not read back as the old one";
		goto fail;
	}
	return 0;
fail:
	if (nf->fd >= 0)
		close(nf->fd);
	nf->fd = -1;
	if (made)
		drop_file(c->n, w.id);
	obj_map_free(w.map);
	if (nf->r.map != w.map)
		obj_map_free(nf->r.map);
	nf->r.map = NULL;
	wcrypto_aead_free(nf->key);
	nf->key = NULL;
	return rc;
}

/* Step 3: the node names the new file, if its record is still nd0. */
static int swap_node(struct up_ctx *c, const struct meta_node *nd0, const struct obj_ref *nr,
		     const char **why, int *swapped)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	int rc = meta_txn_begin(c->n->me, 0, &t);

	if (rc)
		return rc;
	rc = ns_node_get(c->n, t, nd0->ino, &nd);
	if (!rc && memcmp(&nd, nd0, sizeof(nd)) != 0) {
		*why = "its record changed while it was being rewritten";
		rc = -ESTALE;
	}
	if (rc)
		goto fail;
	memcpy(nd.objid, nr->id, 16);
	memcpy(nd.wrapped, nr->wrapped, KMS_WRAPPED_BYTES);
	nd.alg = (uint32_t)nr->alg;
	nd.generation = nr->gen;
	memcpy(nd.commit, nr->commit, sizeof(nd.commit));
	if (nr->sparse)
		nd.flags |= META_F_SPARSE;
	else
		nd.flags &= ~(uint32_t)META_F_SPARSE;
	rc = ns_node_put(c->n, t, &nd);
	/* The first object swapped brings the run's start record with it, so
	 * a run killed before its closing record still left a trace of the
	 * objects it rewrote (audit: op=upgrade-start without op=upgrade). */
	if (!rc && !c->started) {
		char extra[64];
		snprintf(extra, sizeof(extra), "objects=%zu format=%u", c->candidates, c->to_fmt);
		rc = ns_trail_note(c->n, t, "format-upgrade", "upgrade-start", "store-upgrade", extra);
	}
	if (rc)
		goto fail;
	rc = meta_txn_commit(t);
	if (rc) {
		*why = "the metadata commit failed";   /* nothing changed (meta.h) */
		return rc;
	}
	c->started = 1;
	*swapped = 1;
	rc = meta_sync(c->n->me);   /* durable before the old file goes */
	if (rc)
		*why = "the metadata sync failed (the node names the new content file; the "
		       "old one is kept)";
	return rc;
fail:
	meta_txn_abort(t);
	if (!*why)
		*why = "its record cannot be updated";
	return rc;
}

static void report(struct up_ctx *c, const struct meta_node *nd, unsigned fmt, int rc,
		   const char *why, const uint8_t *new_id)
{
	struct ns_upgrade_item it;
	char path[32], hex[33], nhex[33];

	if (rc) {
		c->st->failed++;
	} else {
		c->st->upgraded++;
		c->st->bytes += nd->size;
	}
	struct up_path key = { nd->ino, NULL }, *hit = c->paths.n ?
		bsearch(&key, c->paths.v, c->paths.n, sizeof(key), cmp_path) : NULL;
	const char *pp = path;

	/* Named by no entry the walk reached: its inode. Paths may be of any
	 * length (kept whole). */
	if (hit)
		pp = hit->path;
	else
		snprintf(path, sizeof(path), "#%" PRIu64, nd->ino);
	store_objid_hex(nd->objid, hex);
	if (rc && !c->o->dry_run)
		wlog(WLOG_ERR, "upgrade: object %s (inode %" PRIu64 ", content file %s): not "
		     "upgraded: %s (%s)", pp, nd->ino, hex, why, strerror(-rc));
	if (!c->o->cb)
		return;
	memset(&it, 0, sizeof(it));
	it.ino = nd->ino;
	it.path = pp;
	it.objid = hex;
	if (new_id) {
		store_objid_hex(new_id, nhex);
		it.new_objid = nhex;
	}
	it.format = fmt;
	it.size = nd->size;
	it.rc = rc;
	it.why = rc ? why : NULL;
	c->o->cb(c->o->arg, &it);
}

/* One object. 0 (done, skipped or reported as failed) or a -errno that
 * stops the run (KMS unavailable, out of memory). */
static int upgrade_one(struct up_ctx *c, uint64_t ino)
{
	struct up_file of = { .fd = -1 }, nf = { .fd = -1 };
	struct meta_node nd0;
	meta_txn *t = NULL;
	const char *why = NULL;
	unsigned fmt = 0;
	int swapped = 0, rc = meta_txn_begin(c->n->me, 1, &t);

	if (rc)
		return rc;
	rc = ns_node_get(c->n, t, ino, &nd0);
	meta_txn_abort(t);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (nd0.flags & NS_F_AUTH_FAILED) {
		report(c, &nd0, 0, -EPERM, "its record fails authentication (never laundered; see "
		       "wormctl verify)", NULL);
		return 0;
	}
	if (nd0.generation == 0) {   /* never committed: nothing to keep */
		c->st->skipped++;
		return 0;
	}
	ns_node_ref(&nd0, &of.r);
	rc = file_open(c->n, &of);
	if (rc == -EAGAIN || rc == -ENOMEM) {
		file_close(&of);
		return rc;   /* the KMS or the process, not this object */
	}
	if (rc) {
		file_close(&of);
		report(c, &nd0, 0, rc, rc == -ENOENT ? "its content file is missing"
		       : rc == -ENOKEY ? "its master key version is not in the key ring"
		       : "its content file's header or block map fails authentication", NULL);
		return 0;
	}
	fmt = obj_map_format(of.r.map);
	if (c->to_fmt == 3 ? fmt >= 3 : fmt != 3) {
		file_close(&of);
		c->st->skipped++;
		return 0;
	}
	if (c->to_fmt == 3 && c->n->fmt_upgraded) {
		/* A run already left no such node: this record is one from
		 * before it put back, with whatever its old file holds now (a
		 * replayed block): taking it would bless the replay. */
		file_close(&of);
		report(c, &nd0, fmt, -EIO, "in format 1 or 2 although an earlier upgrade left none "
		       "(a node record from before it put back?); see wormctl verify", NULL);
		return 0;
	}
	if (c->o->dry_run) {
		uint8_t h[WCRYPTO_SHA256BYTES];
		rc = digest_of(c, &of, -1, NULL, h);
		file_close(&of);
		report(c, &nd0, fmt, rc, rc ? "the old content file fails authentication or "
		       "cannot be read: would not be upgraded" : NULL, NULL);
		return rc == -ENOMEM ? rc : 0;
	}
	rc = write_new(c, &of, &nf, &why);
	if (rc) {
		file_close(&of);
		report(c, &nd0, fmt, rc, why, NULL);
		return rc == -ENOMEM || rc == -EAGAIN ? rc : 0;
	}
	ns_crash_point(c->n, "upgrade-new");   /* new file synced, node not yet */
	if (c->o->before_swap)
		c->o->before_swap(c->o->arg, ino);
	rc = swap_node(c, &nd0, &nf.r, &why, &swapped);
	if (rc) {
		/* Not swapped: the new file is nobody's. Swapped but not synced:
		 * both files stay (a power loss may bring back either record); the
		 * next recovery removes the one no node names. */
		file_close(&nf);
		if (!swapped)
			drop_file(c->n, nf.r.id);
		else
			atomic_store(&c->n->uncommitted, 1);
		file_close(&of);
		report(c, &nd0, fmt, rc, why, NULL);
		return 0;
	}
	ns_crash_point(c->n, "upgrade-old");   /* node swapped, old file not removed */
	file_close(&nf);
	file_close(&of);
	drop_file(c->n, nd0.objid);
	report(c, &nd0, fmt, 0, NULL, nf.r.id);
	return 0;
}

/* The run's audit record, with a new store head. */
static int note_run(ns *n, const struct ns_upgrade_stats *st, unsigned to_fmt, int complete)
{
	char extra[160];
	meta_txn *t = NULL;
	/* Complete: every file node was looked at and none is left in format
	 * 1 or 2; the tests' downgrade (to_fmt 1 or 2) clears the marker. */
	uint32_t done = to_fmt == 3 && complete && !st->failed;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	snprintf(extra, sizeof(extra), "count=%" PRIu64 " failed=%" PRIu64 " skipped=%" PRIu64
		 " bytes=%" PRIu64 " format=%u%s", st->upgraded, st->failed, st->skipped, st->bytes,
		 to_fmt, done ? " done=1" : "");
	rc = ns_trail_note(n, t, "format-upgrade", "upgrade", "store-upgrade", extra);
	if (!rc && (done || to_fmt != 3))
		rc = meta_kv_put(t, NS_KV_UPGRADE_DONE, &done, sizeof(done));
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc && (done || to_fmt != 3))
		n->fmt_upgraded = (int)done;
	if (!rc)
		rc = ns_durable(n);
	return rc;
}

static int restore_marker(ns *n)
{
	uint32_t one = 1;
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	rc = meta_kv_put(t, NS_KV_UPGRADE_DONE, &one, sizeof(one));
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc) {
		n->fmt_upgraded = 1;
		rc = meta_sync(n->me);
	}
	return rc;
}

void ns_upgrade_load(ns *n)
{
	uint32_t done = 0;
	size_t len = 0;
	meta_txn *t = NULL;

	n->fmt_upgraded = 0;
	if (meta_txn_begin(n->me, 1, &t))
		return;
	n->fmt_upgraded = !meta_kv_get(t, NS_KV_UPGRADE_DONE, &done, sizeof(done), &len) &&
			  len == sizeof(done) && done == 1;
	meta_txn_abort(t);
}

int ns_upgrade(ns *n, const struct ns_upgrade_opts *o, struct ns_upgrade_stats *st)
{
	struct up_list l = { 0 };
	struct up_ctx c;
	meta_txn *t = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.n = n;
	c.o = o;
	c.st = st;
	c.to_fmt = 3;
	if (o->test_format) {
		const char *e = secure_getenv("WORMFS_TEST_OLD_FORMAT");
		if (!e || strcmp(e, "1") != 0 || (o->test_format != 1 && o->test_format != 2))
			return -EINVAL;
		c.to_fmt = o->test_format;
	}
	if (!o->dry_run && (n->flags & NS_RDONLY))
		return -EROFS;
	/* Offline only: a daemon's open inode keeps the old content file's
	 * identity in memory, and its next commit would name it again. */
	if (!o->dry_run && !(n->flags & NS_OFFLINE))
		return -EBUSY;
	/* Records that cannot be trusted as a whole are not rewritten from. */
	if (n->digest_bad)
		return -EUCLEAN;
	if (!o->dry_run && c.to_fmt == 3 && !n->fmt_upgraded) {
		/* The marker deleted (the digest re-sealed): put it back rather
		 * than take a node record put back from before that run. */
		uint64_t seq = 0;
		rc = ns_upgrade_audited(n, &seq);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			rc = restore_marker(n);
			wlog(WLOG_ERR, "upgrade: the marker is missing but audit record %" PRIu64
			     " records a run that left no object in format 1 or 2: %s", seq,
			     rc ? "not restored, nothing upgraded" : "restored (an object in those "
			     "formats now is a record put back from before it)");
			if (rc)
				return rc;
		}
	} else if (o->dry_run && c.to_fmt == 3 && !n->fmt_upgraded) {
		uint64_t seq = 0;
		/* Read only: the same refusals, the marker not written. */
		n->fmt_upgraded = ns_upgrade_audited(n, &seq) > 0;
	}
	c.buf = malloc(UP_CHUNK);
	if (!c.buf)
		return -ENOMEM;
	if (o->cb) {
		/* Stopped (the bound, memory, a damaged directory): what was
		 * found is used, the rest reported by inode; never fatal. */
		worm_discard(ns_walk(n, path_cb, &c.paths));
		qsort(c.paths.v, c.paths.n, sizeof(*c.paths.v), cmp_path);
	}
	rc = meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = meta_node_foreach(t, collect_cb, &l);
		meta_txn_abort(t);
		if (!rc)
			rc = l.rc;
	}
	c.candidates = l.n;
	for (size_t i = 0; !rc && i < l.n; i++)
		rc = upgrade_one(&c, l.ino[i]);
	if (!o->dry_run && (st->upgraded || st->failed || !rc)) {
		int r2 = note_run(n, st, c.to_fmt, !rc);
		rc = rc ? rc : r2;
	}
	paths_free(&c.paths);
	wcrypto_wipe(c.buf, UP_CHUNK);   /* plaintext */
	free(c.buf);
	free(l.ino);
	return rc;
}
