/* ns_offline: whole-store scans behind wormctl: walk (ls --locked), verify
 * (every record and content file checked, damage reported), orphaned
 * content (purged at a writable open, reported by verify), rewrap of the
 * DEKs to a new master key and the key versions in use. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "ns_ctx.h"
#include "ns_digest.h"
#include "ns_locktrail.h"
#include "ns_trail.h"
#include "trail.h"
#include "ns_inode.h"
#include "ns_offline.h"
#include "ns_path.h"
#include "ns_record.h"
#include "ns_user.h"
#include "ns_virt.h"
#include "byteorder.h"
#include "inoset.h"
#include "log.h"

struct orphan_list {
	uint64_t *ino;
	uint8_t (*id)[16];
	uint8_t *forged;
	size_t n, cap;
	int rc;
};

static int orphan_cb(void *arg, uint64_t ino, const uint8_t objid[16])
{
	struct orphan_list *o = arg;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		uint64_t *gi = realloc(o->ino, cap * sizeof(*gi));
		if (gi)
			o->ino = gi;
		uint8_t (*gd)[16] = realloc(o->id, cap * sizeof(*gd));
		if (gd)
			o->id = gd;
		uint8_t *gf = realloc(o->forged, cap);
		if (gf)
			o->forged = gf;
		if (!gi || !gd || !gf) {
			o->rc = -ENOMEM;
			return 1;
		}
		o->cap = cap;
	}
	o->ino[o->n] = ino;
	o->forged[o->n] = objid == NULL;
	if (objid)
		memcpy(o->id[o->n], objid, 16);
	else
		memset(o->id[o->n], 0, 16);
	o->n++;
	return 0;
}

/* Content ids of the nodes in the namespace (nlink > 0), sorted. */
struct live_ids {
	uint8_t (*id)[16];
	size_t n, cap;
	int rc;
};

static int live_cb(void *arg, const struct meta_node *nd)
{
	static const uint8_t zero[16];
	struct live_ids *l = arg;

	if (nd->nlink == 0 || !S_ISREG(nd->mode) || !memcmp(nd->objid, zero, 16))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		uint8_t (*g)[16] = realloc(l->id, cap * sizeof(*g));
		if (!g) {
			l->rc = -ENOMEM;
			return 1;
		}
		l->id = g;
		l->cap = cap;
	}
	memcpy(l->id[l->n++], nd->objid, 16);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Why the orphan entry (ino, id) must not be acted on, or NULL. An entry
 * names content to delete: one added or edited offline could name a live
 * (locked) object's record or content. Only a record that left the
 * namespace (nlink 0, its own content) or none at all may go, and only
 * content no live node refers to. */
static const char *orphan_refused(ns *n, meta_txn *t, const struct live_ids *live,
				  uint64_t ino, const uint8_t id[16], int forged)
{
	static const uint8_t zero[16];
	struct meta_node nd;
	int rc;

	if (forged)
		return "entry fails authentication";
	rc = ns_node_get(n, t, ino, &nd);
	if (rc && rc != -ENOENT)
		return "its node record cannot be read";
	if (!rc && (nd.flags & NS_F_AUTH_FAILED))
		return "its node record fails authentication";
	if (!rc && nd.nlink > 0)
		return "its node is still in the namespace";
	if (!rc && memcmp(nd.objid, zero, 16) && memcmp(nd.objid, id, 16))
		return "it names another content file than its node";
	if (memcmp(id, zero, 16) && live->n &&
	    bsearch(id, live->id, live->n, 16, cmp_id))
		return "its content belongs to a live object";
	return NULL;
}

/* Content left by objects unlinked while open (crash before release). */
void ns_purge_orphans(ns *n)
{
	struct orphan_list o = { 0 };
	struct live_ids live = { 0 };
	meta_txn *t = NULL;
	int rc;

	if (meta_txn_begin(n->me, 1, &t))
		return;
	/* A walk cut short by an error stops the purge: a partial list of
	 * live content could let an entry delete a live object's file. */
	rc = meta_orphan_foreach(t, orphan_cb, &o);
	if (o.n && !o.rc && rc >= 0) {
		rc = meta_node_foreach(t, live_cb, &live);
		if (live.n)
			qsort(live.id, live.n, 16, cmp_id);
	}
	meta_txn_abort(t);
	if (rc < 0)
		wlog(WLOG_ERR, "orphan purge skipped: %s", strerror(-rc));
	if (rc < 0 || !o.n || o.rc || live.rc || meta_txn_begin(n->me, 0, &t))
		goto out;
	for (size_t i = 0; i < o.n; i++) {
		static const uint8_t zero[16];
		const char *why = orphan_refused(n, t, &live, o.ino[i], o.id[i], o.forged[i]);
		if (why) {
			atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
			wlog(WLOG_ERR, "orphan entry of inode %llu not acted on: %s (see wormctl verify)",
			     (unsigned long long)o.ino[i], why);
			continue;
		}
		if (memcmp(o.id[i], zero, 16) != 0) {
			/* Not removed: the entry stays, retried at the next mount. */
			rc = store_obj_unlink(n->st, o.id[i]);
			if (rc && rc != -ENOENT) {
				wlog(WLOG_WARN, "orphan content of inode %llu not removed: %s",
				     (unsigned long long)o.ino[i], strerror(-rc));
				continue;
			}
			/* A journal left behind names a file that is gone:
			 * nothing reads it, a later recovery removes it. */
			worm_discard(store_aux_unlink(n->st, o.id[i], OBJ_UNDO_SUFFIX));
		}
		rc = meta_node_del(t, o.ino[i]);   /* kept while it was open */
		if (!rc || rc == -ENOENT)
			rc = meta_orphan_del(t, o.ino[i]);
		if (rc && rc != -ENOENT) {
			/* Nothing half done: the file is gone, the entries stay
			 * (an entry whose file is absent is removed next time). */
			meta_txn_abort(t);
			wlog(WLOG_ERR, "orphan purge stopped: %s", strerror(-rc));
			goto out;
		}
	}
	rc = meta_txn_commit(t);
	if (rc)
		wlog(WLOG_ERR, "orphan purge not recorded: %s", strerror(-rc));
out:
	free(o.ino);
	free(o.id);
	free(o.forged);
	free(live.id);
}

/* Depth-first and iterative: no depth is too deep and no path too long.
 * A frame per open directory (where its listing resumes, and the length
 * of its path); the listing of a directory stops at each subdirectory,
 * which is walked next. A directory is entered only from the parent its
 * record names, and only once, so an edited record cannot make the walk
 * loop; one that is not entered, or a name whose record is missing, is
 * still reported (ns_entry.damage), never skipped in silence. */
struct walk_frame {
	uint64_t dir, after;      /* resume the listing after this cookie */
	size_t plen;              /* length of the directory's path */
};

struct walk_ctx {
	ns *n;
	meta_txn *t;
	ns_walk_cb cb;
	void *arg;
	int64_t now;
	char *path;               /* grows as needed */
	size_t plen, pcap;
	struct walk_frame *st;    /* stack of open directories */
	size_t depth, cap;
	struct inoset seen;       /* directories entered */
	struct inoset named;      /* inodes some entry names */
	uint64_t down, down_after; /* set by walk_entry: enter this dir next */
	int rc;
};

static int walk_push(struct walk_ctx *w, uint64_t dir, size_t plen)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct walk_frame *g = realloc(w->st, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		w->st = g;
		w->cap = cap;
	}
	w->st[w->depth++] = (struct walk_frame){ dir, 0, plen };
	return 0;
}

/* Append "/name" (or "name" at the top) to the path. */
static int walk_path_add(struct walk_ctx *w, const char *name)
{
	size_t k = strlen(name), need = w->plen + k + 2;
	if (need > w->pcap) {
		size_t cap = w->pcap ? w->pcap : 4096;
		while (cap < need)
			cap *= 2;
		char *g = realloc(w->path, cap);
		if (!g)
			return -ENOMEM;
		w->path = g;
		w->pcap = cap;
	}
	if (w->plen)
		w->path[w->plen++] = '/';
	memcpy(w->path + w->plen, name, k + 1);
	w->plen += k;
	return 0;
}

static int walk_entry(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct walk_ctx *w = arg;
	struct walk_frame *f = &w->st[w->depth - 1];
	struct meta_node nd;
	struct ns_entry e;
	struct policy_lock lk;
	int rc, enter = 0;

	w->plen = f->plen;
	rc = walk_path_add(w, name);
	if (rc)
		return w->rc = rc;
	memset(&e, 0, sizeof(e));
	e.path = w->path;
	if (ino == META_INO_FORGED) {
		e.damage = "directory entry fails authentication (edited, or put back from an "
			   "older copy)";
		w->rc = w->cb(w->arg, &e);
		return w->rc;
	}
	rc = inoset_add(&w->named, ino);
	if (rc < 0)
		return w->rc = rc;
	int twice = rc == 0;
	rc = ns_node_get(w->n, w->t, ino, &nd);
	if (rc) {
		/* A name without its record: reported, not skipped. */
		if (rc != -ENOENT)
			return w->rc = rc;
		e.attr.ino = ino;
		e.damage = "metadata record missing";
		w->rc = w->cb(w->arg, &e);
		return w->rc;
	}
	ns_node_attr(w->n, &nd, &e.attr);
	ns_node_lock(&nd, &lk);
	e.lock_mode = nd.lock_mode;
	e.retain_until = nd.retain_until;
	e.hold = nd.hold;
	e.append_only = (nd.flags & META_F_APPEND_ONLY) != 0;
	e.auth_failed = lk.auth_failed;
	e.state = S_ISREG(nd.mode) ? (int)policy_state(&lk, w->now) : STATE_MUTABLE;
	if (twice && !S_ISDIR(nd.mode))
		e.damage = "object named by a second directory entry (an entry put back?)";
	if (S_ISDIR(nd.mode)) {
		rc = nd.parent == f->dir ? inoset_add(&w->seen, ino) : 0;
		if (rc < 0)
			return w->rc = rc;
		enter = rc;
		if (!enter)
			e.damage = "directory not walked: its record names another parent, "
				   "or it was reached twice";
	}
	w->rc = w->cb(w->arg, &e);
	if (!w->rc && enter) {
		/* Stop this listing here; walk_in enters the directory. */
		w->down = ino;
		w->down_after = cookie;
		return 1;
	}
	return w->rc;
}

/* A node in the namespace (nlink > 0) that no entry walked names: its
 * entry was removed (or it was never named). Reported with its lock, as
 * BUCKET/#INO, so verify counts it and ls --locked lists it. */
static int unnamed_cb(void *arg, const struct meta_node *raw)
{
	struct walk_ctx *w = arg;
	struct meta_node nd, b;
	struct ns_entry e;
	struct policy_lock lk;
	char bname[META_NAME_MAX + 1], comp[32];
	int rc;

	if (raw->ino == NS_INO_ROOT || ns_is_virtual(raw->ino))
		return 0;
	rc = inoset_add(&w->named, raw->ino);
	if (rc <= 0)
		return rc < 0 ? (w->rc = rc) : 0;
	if (ns_node_get(w->n, w->t, raw->ino, &nd))
		return 0;
	/* Unlinked while open (kept until its last release), authentic. */
	if (nd.nlink == 0 && !(nd.flags & NS_F_AUTH_FAILED))
		return 0;
	snprintf(bname, sizeof(bname), "?");
	if (!ns_bucket_of(w->n, w->t, &nd, &b) && b.ino != nd.ino) {
		if (!ns_entry_name(w->t, NS_INO_ROOT, b.ino, bname, sizeof(bname)))
			snprintf(bname, sizeof(bname), "#%llu", (unsigned long long)b.ino);
	}
	w->plen = 0;
	if (b.ino != nd.ino && (rc = walk_path_add(w, bname)))
		return w->rc = rc;
	snprintf(comp, sizeof(comp), "#%llu", (unsigned long long)nd.ino);
	if ((rc = walk_path_add(w, comp)))
		return w->rc = rc;
	memset(&e, 0, sizeof(e));
	e.path = w->path;
	ns_node_attr(w->n, &nd, &e.attr);
	ns_node_lock(&nd, &lk);
	e.lock_mode = nd.lock_mode;
	e.retain_until = nd.retain_until;
	e.hold = nd.hold;
	e.auth_failed = lk.auth_failed;
	e.state = S_ISREG(nd.mode) ? (int)policy_state(&lk, w->now) : STATE_MUTABLE;
	e.damage = "not named by any directory entry (its lock still holds; "
		   "wormctl reattach names it again)";
	w->rc = w->cb(w->arg, &e);
	return w->rc;
}

static int walk_unnamed(struct walk_ctx *w)
{
	int rc = meta_node_foreach(w->t, unnamed_cb, w);
	return rc ? rc : w->rc;
}

/* Walk in the read snapshot t. */
static int walk_in(ns *n, meta_txn *t, ns_walk_cb cb, void *arg)
{
	struct walk_ctx *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->n = n;
	w->cb = cb;
	w->arg = arg;
	w->now = ns_clock_now(n);
	w->t = t;
	rc = inoset_add(&w->seen, NS_INO_ROOT);
	rc = rc < 0 ? rc : walk_push(w, NS_INO_ROOT, 0);
	while (!rc && w->depth) {
		struct walk_frame *f = &w->st[w->depth - 1];
		w->down = 0;
		rc = meta_readdir(t, f->dir, f->after, walk_entry, w);
		if (!rc)
			rc = w->rc;
		if (rc)
			break;
		if (w->down) {
			f->after = w->down_after;
			rc = walk_push(w, w->down, w->plen);
		} else {
			w->depth--;
		}
	}
	if (!rc)
		rc = walk_unnamed(w);
	free(w->path);
	free(w->st);
	inoset_free(&w->seen);
	inoset_free(&w->named);
	free(w);
	return rc;
}

int ns_walk(ns *n, ns_walk_cb cb, void *arg)
{
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 1, &t);

	if (!rc) {
		rc = walk_in(n, t, cb, arg);
		meta_txn_abort(t);
	}
	return rc;
}

struct verify_ctx {
	ns *n;
	meta_txn *t;              /* the one snapshot every record is read from */
	ns_damage_cb cb;
	ns_progress_cb progress;
	void *arg;
	uint64_t done, total;
	long damaged;
	int bound;                /* the legacy bind has ended (NS_KV_BIND_DONE) */
	int upgraded;             /* wormctl upgrade left no format 1/2 (ns_upgrade.h) */
};

/* An inline object's value lives in meta: read it (from the snapshot t
 * its node came from), then check it. */
static int verify_inline(ns *n, meta_txn *t, const struct meta_node *nd,
			 const struct obj_ref *r, const char **what)
{
	uint8_t *slot = malloc(obj_inline_len(OBJ_INLINE_MAX));
	size_t len = 0;
	int rc;

	*what = NULL;
	if (!slot)
		return -ENOMEM;
	rc = meta_inline_get(t, nd->ino, slot, obj_inline_len(OBJ_INLINE_MAX), &len);
	if (rc == -ERANGE) {
		*what = "length mismatch";
		rc = -EIO;
	} else if (!rc) {
		rc = obj_inline_verify(n->km, r, slot, len, (uint64_t)clock_monotonic_ns(), what);
	}
	free(slot);
	return rc;
}

static int count_cb(void *arg, const struct ns_entry *e)
{
	struct verify_ctx *v = arg;
	if (S_ISREG(e->attr.mode) || e->damage)
		v->total++;
	return 0;
}

/* Check one object's committed state as recorded in nd (read in t). */
static int verify_node(struct verify_ctx *v, meta_txn *t, const struct meta_node *nd,
		       const char **what, uint64_t *bad)
{
	struct obj_ref r;

	*what = NULL;
	*bad = UINT64_MAX;
	ns_node_ref(nd, &r);
	if (nd->flags & META_F_INLINE)
		return verify_inline(v->n, t, nd, &r, what);
	return obj_verify_ex(v->n->st, v->n->km, &r, (uint64_t)clock_monotonic_ns(),
			     v->n->live ? OBJ_VERIFY_LIVE : 0, what, bad);
}

/* The store is in use (or was not closed): an object that fails may have
 * been committed anew since the snapshot (and its content moved on). Check
 * it again from a fresh snapshot while its record keeps changing; one that
 * fails against an unchanged record is damaged. */
static int verify_again(struct verify_ctx *v, struct meta_node *nd, const char **what,
			uint64_t *bad)
{
	int rc = -EIO;

	for (int i = 0; i < 20 && rc; i++) {
		meta_txn *t = NULL;
		struct meta_node now;

		if (meta_txn_begin(v->n->me, 1, &t))
			break;
		rc = ns_node_get(v->n, t, nd->ino, &now);
		if (rc == -ENOENT) {
			meta_txn_abort(t);
			return 0;   /* deleted meanwhile: nothing to check */
		}
		if (!rc && now.generation == nd->generation && now.size == nd->size &&
		    !memcmp(now.objid, nd->objid, 16) && now.flags == nd->flags) {
			meta_txn_abort(t);
			return -EIO;
		}
		if (!rc) {
			*nd = now;
			rc = verify_node(v, t, nd, what, bad);
		}
		meta_txn_abort(t);
	}
	return rc;
}

/* After the legacy bind (ns_bind.c) every committed format-3 file node
 * names its commit record. One that names none is a node record from
 * before the bind put back (with the state digest re-sealed), or a commit
 * by an older build since: either way a killed session's record of its
 * generation would read as the object, so it is reported, not trusted.
 * Formats 1 and 2 have no commit record (never bound). */
static int unbound_v3(struct verify_ctx *v, const struct meta_node *nd)
{
	static const uint8_t none[META_COMMIT_BYTES];
	uint8_t tag[OBJ_COMMIT_BYTES];
	struct obj_ref r;

	int rc;

	if ((!v->bound && !v->upgraded) || (nd->flags & META_F_INLINE) || nd->generation == 0 ||
	    memcmp(nd->commit, none, sizeof(none)) != 0)
		return 0;
	ns_node_ref(nd, &r);
	rc = obj_commit_tag(v->n->st, v->n->km, &r, (uint64_t)clock_monotonic_ns(), tag);
	/* -ENOTSUP: format 1 or 2, none left by a complete wormctl upgrade
	 * (ns_upgrade.h): a record from before it put back. */
	return rc == 0 ? v->bound : rc == -ENOTSUP && v->upgraded ? 2 : 0;
}

static int verify_cb(void *arg, const struct ns_entry *e)
{
	struct verify_ctx *v = arg;
	static const uint8_t zero[16];
	struct meta_node nd;
	const char *what = NULL;
	uint64_t bad = UINT64_MAX;
	int rc;

	if (e->damage) {
		/* The walk could not check what is below or behind this name. */
		v->damaged++;
		v->cb(v->arg, e->path, e->damage);
		goto out;
	}
	if (e->auth_failed && !S_ISREG(e->attr.mode)) {
		/* A bucket's or directory's record too (no object to count):
		 * its default retention and bucket lock are in it. */
		v->damaged++;
		v->cb(v->arg, e->path, "metadata record fails authentication");
		return 0;
	}
	if (!S_ISREG(e->attr.mode))
		return 0;
	if (e->auth_failed) {
		v->damaged++;
		v->cb(v->arg, e->path, "metadata record fails authentication");
		goto out;
	}
	rc = ns_node_get(v->n, v->t, e->attr.ino, &nd);
	if (rc || memcmp(nd.objid, zero, 16) == 0) {
		if (!rc && nd.size != 0) {
			v->damaged++;
			v->cb(v->arg, e->path, "content missing");
		}
		goto out;
	}
	rc = verify_node(v, v->t, &nd, &what, &bad);
	if (rc && v->n->live) {
		const char *what0 = what;
		uint64_t bad0 = bad;
		rc = verify_again(v, &nd, &what, &bad);
		if (rc && !what) {
			what = what0;
			bad = bad0;
		}
	}
	if (rc) {
		char why[160];
		if (rc == -ENOENT)
			snprintf(why, sizeof(why), "%s", (nd.flags & META_F_INLINE) ?
				 "inline content missing" : "content file missing");
		else if (bad != UINT64_MAX && what)
			snprintf(why, sizeof(why), "%s (block %llu)", what, (unsigned long long)bad);
		else
			snprintf(why, sizeof(why), "%s", what ? what : strerror(-rc));
		v->damaged++;
		v->cb(v->arg, e->path, why);
	} else if ((rc = unbound_v3(v, &nd)) != 0) {
		v->damaged++;
		v->cb(v->arg, e->path, rc == 1 ? "names no commit record although the legacy bind "
		      "has run (a node record from before it put back?)" : "content file in format "
		      "1 or 2 although wormctl upgrade has run (a node record from before it put "
		      "back?)");
	}
out:
	v->done++;
	if (v->progress)
		v->progress(v->arg, v->done, v->total);
	return 0;
}

/* The records beyond the walk (design section 7): the store's flag, the
 * clock, the inode counter, orphan entries and directories' counts of
 * children. Each problem is reported once, named by its record. */
struct vrec_node {
	uint64_t ino, parent, children;
	int dir, counted;
};

struct vrec_ctx {
	struct vrec_node *v;
	size_t n, cap;
	uint64_t max_ino;
	uint64_t pending;         /* nodes marked META_F_DEFAULT_PENDING */
	int rc;
};

static int vrec_cb(void *arg, const struct meta_node *nd)
{
	struct vrec_ctx *c = arg;

	if (nd->ino > c->max_ino)
		c->max_ino = nd->ino;
	c->pending += (nd->flags & META_F_DEFAULT_PENDING) != 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct vrec_node *g = realloc(c->v, cap * sizeof(*g));
		if (!g) {
			c->rc = -ENOMEM;
			return 1;
		}
		c->v = g;
		c->cap = cap;
	}
	c->v[c->n++] = (struct vrec_node){ nd->ino, nd->parent, nd->children,
					   S_ISDIR(nd->mode) && nd->version >= 2,
					   nd->nlink > 0 && nd->ino != NS_INO_ROOT };
	return 0;
}

static int cmp_parent(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void verify_damage(struct verify_ctx *v, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void verify_damage(struct verify_ctx *v, const char *what, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	v->damaged++;
	v->cb(v->arg, what, why);
}

static int unlisted_cb(void *arg, uint64_t parent, const char *name)
{
	char what[64];

	snprintf(what, sizeof(what), "#%llu/%.40s", (unsigned long long)parent, name);
	verify_damage(arg, what, "directory entry missing from its directory's listing (put "
		      "back from an older copy? lookup finds it, readdir does not)");
	return 0;
}

static void lock_trail_cb(void *arg, const char *path, const char *why)
{
	verify_damage(arg, path, "%s", why);
}

static int verify_records(struct verify_ctx *v)
{
	struct vrec_ctx c = { 0 };
	struct orphan_list o = { 0 };
	struct live_ids live = { 0 };
	uint64_t next = 0, *par = NULL;
	size_t np = 0;
	int ok = 0, rc;

	if (v->n->auth_flag_bad)
		verify_damage(v, "meta/kv/auth_records", "the authenticated-records flag is missing "
			      "or fails authentication although the store was written with record "
			      "MACs (records without a MAC are refused)");
	if (v->n->clock_forged)
		verify_damage(v, "meta/kv/clock_hwm", "compliance clock record fails authentication "
			      "(ignored: the clock follows the system clock)");
	/* The state digest: an older authentic record put back alone (or one
	 * deleted, or added) changes it (ns_digest.c). */
	rc = ns_digest_state(v->n, v->t, NULL);
	/* Missing in a store that kept one: by its flag, or by a head made
	 * while it did (a downgrade of the flag). */
	if (rc == NS_DIGEST_NONE && (v->n->digest_required || ns_trail_had_digest(v->n)))
		rc = NS_DIGEST_MISSING;
	if (rc < 0)
		goto out;
	if (rc != NS_DIGEST_OK && rc != NS_DIGEST_NONE)
		verify_damage(v, "meta/kv/state_digest", "the metadata state digest %s (a record "
			      "was edited, deleted or put back from an older copy; a writable "
			      "mount is refused, wormctl repair re-seals it once explained)",
			      ns_digest_why(rc));
	/* Names a node put back from before a lock change, and a lock in
	 * force that no object holds any more. */
	long lrc = ns_lock_trail_check(v->n, v->t, lock_trail_cb, v, NULL);
	if (lrc < 0) {
		rc = (int)lrc;
		goto out;
	}
	rc = meta_node_foreach(v->t, vrec_cb, &c);
	if (!rc)
		rc = c.rc;
	if (rc)
		goto out;
	rc = meta_ino_peek(v->t, &next, &ok);
	if (rc == -ENOENT) {
		if (c.max_ino >= META_FIRST_INO)
			verify_damage(v, "meta/kv/next_ino", "inode counter missing although inodes "
				      "up to %llu exist", (unsigned long long)c.max_ino);
	} else if (rc) {
		verify_damage(v, "meta/kv/next_ino", "inode counter damaged (%s)", strerror(-rc));
	} else if (!ok) {
		verify_damage(v, "meta/kv/next_ino", "inode counter fails authentication");
	} else if (next <= c.max_ino && c.max_ino >= META_FIRST_INO) {
		verify_damage(v, "meta/kv/next_ino", "inode counter %llu is at or below the highest "
			      "inode %llu (set back: the next create would reuse an inode)",
			      (unsigned long long)next, (unsigned long long)c.max_ino);
	}
	/* The mount applies pending bucket defaults only while kv
	 * "pending_defaults" counts some (ns_apply_pending): a count set
	 * below the marked nodes (and the digest re-sealed) would leave a
	 * crashed writer's object mutable for good. */
	uint64_t pcount = 0;
	size_t plen = 0;
	if (meta_kv_get(v->t, "pending_defaults", &pcount, sizeof(pcount), &plen) ||
	    plen != sizeof(pcount))
		pcount = 0;
	if (c.pending > pcount)
		verify_damage(v, "meta/kv/pending_defaults", "%llu object(s) wait for their bucket "
			      "default retention but the count records %llu (set back offline: the "
			      "next mount would not apply it)", (unsigned long long)c.pending,
			      (unsigned long long)pcount);
	rc = 0;
	/* Children per directory, against each directory's recorded count. */
	par = malloc((c.n ? c.n : 1) * sizeof(*par));
	if (!par) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].counted)
			par[np++] = c.v[i].parent;
	qsort(par, np, sizeof(*par), cmp_parent);
	for (size_t i = 0; i < c.n; i++) {
		if (!c.v[i].dir)
			continue;
		uint64_t k = 0;
		size_t lo = 0, hi = np;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (par[mid] < c.v[i].ino)
				lo = mid + 1;
			else
				hi = mid;
		}
		while (lo + k < np && par[lo + k] == c.v[i].ino)
			k++;
		if (k != c.v[i].children) {
			char what[64];
			snprintf(what, sizeof(what), "#%llu", (unsigned long long)c.v[i].ino);
			verify_damage(v, what, "directory records %llu node(s) but %llu name it as "
				      "their parent (a node record added or removed offline)",
				      (unsigned long long)c.v[i].children, (unsigned long long)k);
		}
	}
	/* Entries no listing shows: lookup finds them, the walk does not. */
	rc = meta_dirent_unlisted(v->t, unlisted_cb, v);
	if (rc)
		goto out;
	/* Orphan entries: each one is content the next mount deletes. */
	rc = meta_orphan_foreach(v->t, orphan_cb, &o);
	if (!rc)
		rc = o.rc;
	if (!rc && o.n) {
		/* A partial list of live content would hide an entry naming
		 * a live object's file: the verify fails instead. */
		rc = meta_node_foreach(v->t, live_cb, &live);
		if (rc >= 0)
			rc = live.rc;
		if (rc)
			goto out;
		if (live.n)
			qsort(live.id, live.n, 16, cmp_id);
		for (size_t i = 0; i < o.n; i++) {
			const char *why = orphan_refused(v->n, v->t, &live, o.ino[i], o.id[i],
							 o.forged[i]);
			char what[64];
			if (!why)
				continue;
			snprintf(what, sizeof(what), "meta/orphans/%llu", (unsigned long long)o.ino[i]);
			verify_damage(v, what, "orphan entry never acted on: %s", why);
		}
	}
out:
	free(par);
	free(c.v);
	free(o.ino);
	free(o.id);
	free(o.forged);
	free(live.id);
	return rc;
}

struct up_audit {
	uint64_t seq;
	int done;
};

static int up_audit_cb(void *arg, uint64_t seq, int64_t time_s, const char *text,
		       int authentic)
{
	struct up_audit *u = arg;

	(void)time_s;
	if (!authentic || strncmp(text, "kind=format-upgrade op=upgrade ", 31) != 0)
		return 0;
	if (strstr(text, " format=3") && strstr(text, " done=1")) {
		u->done = 1;
		u->seq = seq;
	} else if (!strstr(text, " format=3")) {
		u->done = 0;   /* the tests' downgrade (mkoldfmt) */
	}
	return 0;
}

int ns_upgrade_audited(ns *n, uint64_t *seq)
{
	struct up_audit u = { 0, 0 };
	int rc = ns_audit_list(n, 0, up_audit_cb, &u);

	if (rc < 0)
		return rc;
	*seq = u.seq;
	return u.done;
}

static int bind_audit_cb(void *arg, uint64_t seq, int64_t time_s, const char *text,
			 int authentic)
{
	static const char init[] = "kind=store-head op=start uid=- rule=" NS_TRAIL_RULE_INIT;

	(void)time_s;
	/* A pass, or a store made with the marker (nothing to bind: see
	 * ns_trail_open), which a deleted marker must not make look older. */
	if (!authentic || (strncmp(text, "kind=legacy-bind op=bind ", 25) != 0 &&
			   strncmp(text, init, sizeof(init) - 1) != 0))
		return 0;
	*(uint64_t *)arg = seq;
	return 1;
}

int ns_bind_audited(ns *n, uint64_t *seq)
{
	uint64_t s = 0;
	int rc = ns_audit_list(n, 0, bind_audit_cb, &s);

	if (rc < 0)
		return rc;
	*seq = s;
	return s != 0;
}

static int key_audit_cb(void *arg, uint64_t seq, int64_t time_s, const char *text,
			int authentic)
{
	struct ns_key_audit *k = arg;
	uint32_t *max = authentic ? &k->version : &k->unauth_version;
	uint64_t *at = authentic ? &k->seq : &k->unauth_seq;
	const char *v;
	char *end = NULL;

	(void)time_s;
	if (strncmp(text, "kind=key-ring op=rotate ", 24) != 0 || !(v = strstr(text, " version=")))
		return 0;
	unsigned long long x = strtoull(v + 9, &end, 10);
	if (end != v + 9 && x <= UINT32_MAX && x > *max) {
		*max = (uint32_t)x;
		*at = seq;
	}
	return 0;
}

int ns_key_audited(ns *n, struct ns_key_audit *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ns_audit_list(n, 0, key_audit_cb, out);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return 0;
}

/* The key ring's active version against the highest one a key rotate made
 * active, by its record (NS_KV_KEY_ACTIVE) and by the audit trail: a ring
 * below it is an older copy put back (a writable open refuses it while
 * the record holds; the record deleted or put back from before the rotate,
 * with the state digest re-sealed, leaves only the trail). */
static void verify_key_ring(struct verify_ctx *v)
{
	struct kms_key_info *info = calloc(KMS_MAX_VERSIONS, sizeof(*info));
	uint32_t active = 0, recorded = 0, audited = 0;
	uint64_t seq = 0;
	struct ns_key_audit ka;
	uint8_t buf[4];
	size_t cnt = 0, len = 0;
	char why[256];

	if (!info)
		return;
	if (!meta_kv_get(v->t, NS_KV_KEY_ACTIVE, buf, sizeof(buf), &len) && len == sizeof(buf))
		recorded = get_le32(buf);
	/* A rotate record that fails authentication is not evidence: the
	 * audit trail's check names it (audit record N fails authentication). */
	if (!ns_key_audited(v->n, &ka)) {
		audited = ka.version;
		seq = ka.seq;
	}
	if (!kms_list(v->n->km, info, KMS_MAX_VERSIONS, &cnt, (uint64_t)clock_monotonic_ns())) {
		for (size_t i = 0; i < cnt; i++)
			if (info[i].active)
				active = info[i].version;
		if (active < recorded || active < audited) {
			if (audited > recorded)
				snprintf(why, sizeof(why), "the key ring's active master key version %"
					 PRIu32 " is below version %" PRIu32 ", which a key rotate made "
					 "active (audit record %" PRIu64 "): an older copy put back", active,
					 audited, seq);
			else
				snprintf(why, sizeof(why), "the key ring's active master key version %"
					 PRIu32 " is below version %" PRIu32 ", which a key rotate made "
					 "active: an older copy put back", active, recorded);
			v->damaged++;
			v->cb(v->arg, "keys/keyring", why);
		}
	}
	free(info);
}

long ns_verify(ns *n, ns_damage_cb cb, ns_progress_cb progress, void *arg)
{
	struct verify_ctx v = { n, NULL, cb, progress, arg, 0, 0, 0, 0, 0 };
	uint32_t done = 0;
	size_t len = 0;
	uint64_t aseq = 0;
	/* Before the snapshot: the trail is read in its own transaction. */
	int audited = ns_upgrade_audited(n, &aseq);
	uint64_t bseq = 0;
	int bind_audited = ns_bind_audited(n, &bseq);
	int rc = meta_txn_begin(n->me, 1, &v.t);

	if (rc)
		return rc;
	v.bound = !meta_kv_get(v.t, NS_KV_BIND_DONE, &done, sizeof(done), &len) &&
		  len == sizeof(done) && done == 1;
	v.upgraded = !meta_kv_get(v.t, NS_KV_UPGRADE_DONE, &done, sizeof(done), &len) &&
		     len == sizeof(done) && done == 1;
	/* A done-marker deleted (the state digest re-sealed) while the audit
	 * trail says its work ended: reported, and the objects are checked as
	 * if it were there (the next writable mount puts the bind's back). */
	if (!v.bound && bind_audited > 0) {
		verify_damage(&v, "meta/kv/" NS_KV_BIND_DONE, "missing, although audit record %"
			      PRIu64 " records a pass that ended (put back at the next writable "
			      "mount)", bseq);
		v.bound = 1;
	}
	if (!v.upgraded && audited > 0) {
		verify_damage(&v, "meta/kv/" NS_KV_UPGRADE_DONE, "missing, although audit record %"
			      PRIu64 " records a wormctl upgrade that left no object in format 1 "
			      "or 2", aseq);
		v.upgraded = 1;
	}
	verify_key_ring(&v);
	rc = walk_in(n, v.t, count_cb, &v);
	if (!rc)
		rc = walk_in(n, v.t, verify_cb, &v);
	if (!rc)
		rc = verify_records(&v);
	meta_txn_abort(v.t);
	if (rc)
		return rc;
	long u = ns_user_verify(n, cb, arg);   /* S3 user records */
	return u < 0 ? u : (long)v.damaged + u;
}

struct rewrap_ctx {
	ns *n;
	ns_progress_cb progress;
	void *arg;
	uint64_t ino[1024];
	size_t count;
	uint32_t active;
	uint64_t after;
};

static int rewrap_collect(void *arg, const struct meta_node *nd)
{
	struct rewrap_ctx *r = arg;
	static const uint8_t zero[16];
	struct kms_wrapped w;

	if (nd->ino <= r->after || !S_ISREG(nd->mode) || !memcmp(nd->objid, zero, 16))
		return 0;
	memcpy(w.b, nd->wrapped, KMS_WRAPPED_BYTES);
	if (kms_wrapped_version(&w) == r->active)
		return 0;
	r->ino[r->count++] = nd->ino;
	return r->count == 1024;
}

/* 1 if the object nd described is no longer ino's (record removed, or
 * another content identity, or unlinked and waiting for its release). */
static int rewrap_gone(ns *n, uint64_t ino, const struct meta_node *nd)
{
	struct meta_node cur;
	int rc = ns_node_read(n, ino, &cur);

	if (rc)
		return rc == -ENOENT;
	return memcmp(cur.objid, nd->objid, 16) != 0 || cur.nlink == 0;
}

/* Header copy first, then the database: a crash in between leaves two
 * wrappings of the same DEK, both valid while the old version exists.
 * out gets the new wrapping of the object nd names.
 *
 * The KMS requests and the header's write (with its fsync) come before
 * the write transaction, not inside it: a rewrap that waits for KMS
 * tokens (throttle = wait) or for the disk must not hold off every other
 * writer of the store (a chmod elsewhere waited for a whole online
 * rewrap). The caller holds the object's content lock, so its content
 * identity cannot change meanwhile; the record is read again in the
 * transaction and gets the new wrapping only if it still holds the one
 * that was re-wrapped (else 1: a later rewrap finds it). */
static int rewrap_txn(ns *n, uint64_t ino, struct meta_node *ndout, struct kms_wrapped *wout)
{
	meta_txn *t = NULL;
	struct meta_node nd, cur;
	struct kms_wrapped in, out;
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int rc;

	rc = ns_node_read(n, ino, &nd);
	if (rc == -ENOENT)
		return 1;     /* removed since the listing (online): nothing to do */
	if (rc)
		return rc;
	memcpy(in.b, nd.wrapped, KMS_WRAPPED_BYTES);
	rc = kms_reencrypt(n->km, nd.objid, &in, &out, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	ns_node_ref(&nd, &r);
	/* The header is authenticated with the DEK: unwrap it to re-seal. */
	rc = obj_key_open(n->km, &r, &key, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	r.key = key;
	/* An inline object has no header: its only wrapped copy is the node's. */
	rc = (nd.flags & META_F_INLINE) ? 0 : obj_set_wrapped(n->st, &r, out.b);
	wcrypto_aead_free(key);
	/* The content lock does not keep an unlink (or a rename over it, or
	 * the last release of an unlinked object) out: its commit may drop
	 * the record and then the content file between the read above and
	 * the header's write. Gone meanwhile: nothing to do, as above; a
	 * record that still names the file: the file is missing (an error). */
	if (rc == -ENOENT && rewrap_gone(n, ino, &nd))
		return 1;
	if (rc)
		return rc;
	ns_crash_point(n, "rewrap");   /* header re-wrapped, record not yet */
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &cur);
	if (rc == -ENOENT ||
	    (!rc && (memcmp(cur.objid, nd.objid, 16) != 0 ||
		     memcmp(cur.wrapped, nd.wrapped, KMS_WRAPPED_BYTES) != 0)))
		rc = 1;
	if (rc)
		goto fail;
	memcpy(cur.wrapped, out.b, KMS_WRAPPED_BYTES);
	rc = ns_node_put(n, t, &cur);
	if (rc)
		goto fail;
	*ndout = cur;
	*wout = out;
	return meta_txn_commit(t);
fail:
	meta_txn_abort(t);
	return rc;
}

/* One object, also while mounted (the control socket's key-rewrap): its
 * content lock held for writing keeps reads, writes and commits of it
 * out, and an open session's in-memory wrapping follows the record, so a
 * later commit never writes the old wrapping back. The inode is taken
 * into the table, so an open that loads its record meanwhile meets the
 * same locks. */
static int rewrap_one(ns *n, uint64_t ino)
{
	struct ns_inode *in = ns_inode_get(n, ino);
	struct meta_node nd;
	struct kms_wrapped w;
	int rc;

	if (!in)
		return -ENOMEM;
	pthread_rwlock_wrlock(&in->rw);
	rc = rewrap_txn(n, ino, &nd, &w);   /* 1: gone meanwhile */
	if (!rc) {
		pthread_mutex_lock(&in->mu);
		if (in->live && memcmp(in->ref.id, nd.objid, 16) == 0)
			memcpy(in->ref.wrapped, w.b, KMS_WRAPPED_BYTES);
		pthread_mutex_unlock(&in->mu);
	}
	pthread_rwlock_unlock(&in->rw);
	ns_inode_put(n, in);
	return rc;
}

static uint32_t active_version(ns *n)
{
	struct kms_key_info info[KMS_MAX_VERSIONS];
	size_t cnt = 0;
	if (kms_list(n->km, info, KMS_MAX_VERSIONS, &cnt, (uint64_t)clock_monotonic_ns()))
		return 0;
	for (size_t i = 0; i < cnt; i++)
		if (info[i].active)
			return info[i].version;
	return 0;
}

long ns_rewrap(ns *n, ns_progress_cb progress, void *arg)
{
	struct rewrap_ctx *r = calloc(1, sizeof(*r));
	meta_txn *t = NULL;
	long total = 0;
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r->n = n;
	r->progress = progress;
	r->arg = arg;
	r->active = active_version(n);
	if (!r->active) {
		free(r);
		return -ENOKEY;
	}
	do {
		r->count = 0;
		rc = meta_txn_begin(n->me, 1, &t);
		if (rc)
			break;
		rc = meta_node_foreach_from(t, r->after, rewrap_collect, r);
		meta_txn_abort(t);
		if (rc < 0)
			break;
		rc = 0;
		for (size_t i = 0; i < r->count && !rc; i++) {
			rc = rewrap_one(n, r->ino[i]);
			if (rc == -EPERM || rc == 1)
				rc = 0;    /* auth-failed record: left alone, verify reports it;
					    * or removed meanwhile */
			else if (!rc)
				total++;
			r->after = r->ino[i];
			if (progress)
				progress(arg, (uint64_t)total, 0);
		}
	} while (!rc && r->count == 1024);
	if (!rc) {   /* S3 users' secrets: so that the old version can go */
		long u = ns_user_rewrap(n, r->active);
		if (u < 0)
			rc = (int)u;
		else
			total += u;
	}
	if (!rc)
		rc = meta_sync(n->me);
	free(r);
	return rc ? rc : total;
}

int ns_key_mark(ns *n, uint32_t active, const char *audit_text)
{
	uint8_t buf[4];
	meta_txn *t = NULL;
	size_t len = 0;
	int rc;

	if (n->flags & NS_RDONLY)
		return -EROFS;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_kv_get(t, NS_KV_KEY_ACTIVE, buf, sizeof(buf), &len);
	if (!rc && len == sizeof(buf) && get_le32(buf) >= active) {
		rc = 0;   /* a higher one is kept */
	} else {
		put_le32(buf, active);
		rc = meta_kv_put(t, NS_KV_KEY_ACTIVE, buf, sizeof(buf));
	}
	/* The record and its audit record commit together: a crash never
	 * keeps one without the other. */
	if (!rc && audit_text)
		rc = ns_audit_note_txn(n, t, "key-ring", audit_text);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	return rc ? rc : ns_durable(n);
}

int ns_key_rotate(ns *n, const char *via, uint32_t *version)
{
	char text[128];
	uint32_t v = 0;
	int rc;

	*version = 0;
	if (n->flags & NS_RDONLY)
		return -EROFS;
	/* The ring file first (sealed, replaced whole), then its records:
	 * a crash in between leaves the ring ahead of them, which the next
	 * writable open records (ns_store.c, key_ring_check). The other
	 * order would leave a record above the ring on disk, and every
	 * later open refused. */
	rc = kms_rotate(n->km, &v, (uint64_t)clock_monotonic_ns());
	if (rc)
		return rc;
	*version = v;
	ns_crash_point(n, "rotate");   /* the ring written, its records not yet */
	snprintf(text, sizeof(text), "op=rotate version=%" PRIu32 "%s%s", v, via ? " " : "",
		 via ? via : "");
	rc = ns_key_mark(n, v, text);
	if (rc) {
		/* This session's close tries again (the highest of them). */
		uint32_t cur = atomic_load(&n->key_unrecorded);
		while (cur < v && !atomic_compare_exchange_weak(&n->key_unrecorded, &cur, v))
			;
	}
	return rc;
}

struct ver_ctx {
	uint32_t min, max;
};

static int ver_cb(void *arg, const struct meta_node *nd)
{
	struct ver_ctx *v = arg;
	static const uint8_t zero[16];
	struct kms_wrapped w;
	if (!S_ISREG(nd->mode) || !memcmp(nd->objid, zero, 16))
		return 0;
	memcpy(w.b, nd->wrapped, KMS_WRAPPED_BYTES);
	uint32_t ver = kms_wrapped_version(&w);
	if (!v->min || ver < v->min)
		v->min = ver;
	if (ver > v->max)
		v->max = ver;
	return 0;
}

int ns_key_versions_in_use(ns *n, uint32_t *min_version, uint32_t *max_version)
{
	struct ver_ctx v = { 0, 0 };
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = meta_node_foreach(t, ver_cb, &v);
	meta_txn_abort(t);
	if (rc >= 0) {   /* and S3 users' sealed secrets */
		uint32_t lo = 0, hi = 0;
		rc = ns_user_key_versions(n, &lo, &hi);
		if (lo && (!v.min || lo < v.min))
			v.min = lo;
		if (hi > v.max)
			v.max = hi;
	}
	*min_version = v.min;
	*max_version = v.max;
	return rc < 0 ? rc : 0;
}
