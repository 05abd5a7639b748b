/* nstool: store lifecycle (init, open, close, periodic checkpoint), object
 * paths for refusal and lock-change logs, and the offline tooling behind
 * wormctl (walk, verify, rewrap). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "ns_priv.h"
#include "inoset.h"
#include "log.h"

#define KV_FORMAT "format"
/* 1 while a writer has the store open: still 1 at the next open means the
 * last one was killed (or the machine stopped), so recovery runs. */
#define KV_OPEN "open_unclean"

/* Read a passphrase file: first line, no trailing newline. Like ssh with
 * its keys, refuse a file that others can read or change: the passphrase
 * unlocks every object. Checked on the open descriptor (no race with a
 * rename). */
static int read_passphrase(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t got;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "cannot read passphrase file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "cannot read passphrase file %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	rc = 0;
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		wlog_seterr(err, errlen, "passphrase file %s is a directory", path);
	} else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		rc = -EINVAL;
		wlog_seterr(err, errlen, "passphrase file %s is not a regular file", path);
	} else if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		rc = -EPERM;
		wlog_seterr(err, errlen, "passphrase file %s is %s (mode %04o): "
			    "refusing it; chmod 600 %s", path,
			    st.st_mode & S_IROTH ? "world-readable" : "writable by others",
			    (unsigned)(st.st_mode & 07777), path);
	} else if (st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = -EPERM;
		wlog_seterr(err, errlen, "passphrase file %s belongs to uid %u: refusing it "
			    "(it must belong to you or root)", path, (unsigned)st.st_uid);
	}
	if (rc) {
		close(fd);
		return rc;
	}
	buf = wcrypto_secure_alloc(1024);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	got = read(fd, buf, 1023);
	rc = got < 0 ? -errno : 0;
	close(fd);
	if (got < 0) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "cannot read passphrase file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (got == 0) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "passphrase file %s is empty", path);
		return -EINVAL;
	}
	buf[got] = '\0';
	if (got == 1023 && !strpbrk(buf, "\r\n")) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "passphrase file %s: the passphrase is longer than "
			    "1022 bytes", path);
		return -EINVAL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "passphrase file %s: the first line is empty", path);
		return -EINVAL;
	}
	*out = buf;
	*len = strlen(buf);
	return 0;
}

int ns_store_init(const char *path, const char *passphrase_file, char *err, size_t errlen)
{
	store *st = NULL;
	meta_env *me = NULL;
	meta_txn *t = NULL;
	char *pass = NULL, sub[4096], sub_keys[4096];
	size_t passlen = 0;
	struct meta_node root;
	kms *km = NULL;
	ns *tmp = NULL;
	uint32_t fmt = STORE_FORMAT_VERSION;
	int64_t now = clock_realtime_ns();
	int rc;

	rc = wcrypto_init();
	if (rc)
		return rc;
	if (passphrase_file) {
		rc = read_passphrase(passphrase_file, &pass, &passlen, err, errlen);
		if (rc)
			return rc;
	}
	rc = store_create(path, cfg_default_text(), err, errlen);
	if (rc)
		goto out;
	rc = store_open(path, &st, err, errlen);
	if (rc)
		goto out;
	store_subpath(st, "keys", sub_keys, sizeof(sub_keys));
	rc = kms_create(sub_keys, pass, passlen);
	if (rc) {
		wlog_seterr(err, errlen, "cannot create key ring in %s: %s", sub_keys, strerror(-rc));
		goto out;
	}
	store_subpath(st, "meta", sub, sizeof(sub));
	rc = meta_open(sub, 0, &me, err, errlen);
	if (rc)
		goto out;
	/* The root record is authenticated like every other: borrow the new
	 * ring's record key. */
	struct kms_params kp;
	kms_params_default(&kp);
	rc = kms_open(sub_keys, pass, passlen, &kp, &km, err, errlen);
	if (rc)
		goto out;
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp || !(tmp->reckey = wcrypto_secure_alloc(32))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = kms_record_key(km, tmp->reckey);
	if (rc)
		goto out;
	rc = meta_txn_begin(me, 0, &t);
	if (rc)
		goto out;
	/* A new store is authenticated from its first record on. */
	rc = ns_auth_init_store(tmp, me, t);
	if (rc) {
		meta_txn_abort(t);
		goto out;
	}
	memset(&root, 0, sizeof(root));
	root.version = META_NODE_VERSION;
	root.ino = root.parent = NS_INO_ROOT;
	root.mode = S_IFDIR | 0755;
	root.nlink = 2;
	root.atime_ns = root.mtime_ns = root.ctime_ns = root.btime_ns = now;
	root.next_cookie = META_FIRST_COOKIE;
	rc = ns_node_put(tmp, t, &root);
	if (!rc)
		rc = meta_kv_put(t, KV_FORMAT, &fmt, sizeof(fmt));
	uint32_t closed = 0;
	if (!rc)
		rc = meta_kv_put(t, KV_OPEN, &closed, sizeof(closed));
	if (rc) {
		meta_txn_abort(t);
		goto out;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = meta_sync(me);
	/* The store's first head, in meta/ and STORE/head. */
	if (!rc) {
		tmp->st = st;
		tmp->me = me;
		tmp->flags = NS_INITIALIZING;
		rc = ns_trail_open(tmp, err, errlen);
		ns_trail_close(tmp);
	}
out:
	if (me)
		meta_close(me);
	if (km)
		kms_close(km);
	if (tmp) {
		wcrypto_secure_free(tmp->reckey);
		if (tmp->mkey)
			wcrypto_secure_free(tmp->mkey);
		free(tmp);
	}
	if (st)
		store_close(st);
	if (pass)
		wcrypto_secure_free(pass);
	return rc;
}

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
static void purge_orphans(ns *n)
{
	struct orphan_list o = { 0 };
	struct live_ids live = { 0 };
	meta_txn *t = NULL;

	if (meta_txn_begin(n->me, 1, &t))
		return;
	meta_orphan_foreach(t, orphan_cb, &o);
	if (o.n && !o.rc) {
		meta_node_foreach(t, live_cb, &live);
		if (live.n)
			qsort(live.id, live.n, 16, cmp_id);
	}
	meta_txn_abort(t);
	if (!o.n || o.rc || live.rc || meta_txn_begin(n->me, 0, &t))
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
			store_obj_unlink(n->st, o.id[i]);
			(void)store_aux_unlink(n->st, o.id[i], OBJ_UNDO_SUFFIX);
		}
		meta_node_del(t, o.ino[i]);   /* kept while it was open */
		meta_orphan_del(t, o.ino[i]);
	}
	meta_txn_commit(t);
out:
	free(o.ino);
	free(o.id);
	free(o.forged);
	free(live.id);
}

/* Format 1 -> 2 (inline objects): nothing to convert, only the markers.
 * The database first, then FORMAT: an older build checks FORMAT first, and
 * a crash in between leaves a store this build opens (and finishes). */
static int upgrade_format(ns *n, uint32_t from)
{
	uint32_t fmt = STORE_FORMAT_VERSION;
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (store_format(n->st) < from)
		from = store_format(n->st);

	if (!rc) {
		rc = meta_kv_put(t, KV_FORMAT, &fmt, sizeof(fmt));
		if (rc)
			meta_txn_abort(t);
		else
			rc = meta_txn_commit(t);
	}
	if (!rc)
		rc = meta_sync(n->me);
	if (!rc && store_format(n->st) != STORE_FORMAT_VERSION)
		rc = store_set_format(n->st, STORE_FORMAT_VERSION);
	if (!rc)
		wlog(WLOG_INFO, "store upgraded from format %u to %d", (unsigned)from,
		     STORE_FORMAT_VERSION);
	return rc;
}

static int persist_clock(ns *n, int64_t hwm)
{
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_clock_put(n, t, hwm);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		wclock_mark_persisted(&n->clk, hwm);
	return rc;
}

/* ---- crash recovery -------------------------------------------------------- */

void ns_crash_point(ns *n, const char *step)
{
	if (!n->crash_at[0] || strcmp(n->crash_at, step) != 0)
		return;
	if (atomic_fetch_add(&n->crash_hits, 1) + 1 != n->crash_nth)
		return;
	wlog(WLOG_WARN, "WORMFS_CRASH_AT: %s at step %s", n->crash_sig == SIGSTOP ? "stopping" :
	     "killing the daemon", step);
	raise(n->crash_sig);
}

/* WORMFS_CRASH_AT=STEP[:stop][@N], for the crash tests only. Ignored in
 * a set-id process (secure_getenv): whoever sets it can already kill or
 * stop a daemon running as themselves, and no one else. */
static void crash_hook_init(ns *n)
{
	const char *e = secure_getenv("WORMFS_CRASH_AT");
	char *at;

	if (!e || !*e || strlen(e) >= sizeof(n->crash_at))
		return;
	snprintf(n->crash_at, sizeof(n->crash_at), "%s", e);
	n->crash_sig = SIGKILL;
	n->crash_nth = 1;
	if ((at = strchr(n->crash_at, '@'))) {
		*at = '\0';
		n->crash_nth = (unsigned)strtoul(at + 1, NULL, 10);
	}
	if ((at = strchr(n->crash_at, ':'))) {
		if (!strcmp(at + 1, "stop"))
			n->crash_sig = SIGSTOP;
		*at = '\0';
	}
}

struct rec_obj {
	uint8_t id[16];
	uint64_t ino;
	uint64_t gen;            /* unauthenticated: a filter only */
	int inl;
	int seen;                /* its content file exists */
};

struct rec_ctx {
	ns *n;
	struct rec_obj *v;
	size_t cnt, cap;
	char (*undo)[64];        /* journals found, "XX/<hex>.u" */
	size_t nundo, capundo;
	long rolled, cut, orphans, unreadable;
	int rc;
};

static int rec_node_cb(void *arg, const struct meta_node *nd)
{
	struct rec_ctx *c = arg;
	static const uint8_t zero[16];

	/* Every record that names a file keeps it, authentic or not. */
	if (!memcmp(nd->objid, zero, 16))
		return 0;
	if (c->cnt == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct rec_obj *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			c->rc = -ENOMEM;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	memcpy(c->v[c->cnt].id, nd->objid, 16);
	c->v[c->cnt].ino = nd->ino;
	c->v[c->cnt].inl = (nd->flags & META_F_INLINE) != 0;
	c->v[c->cnt].gen = nd->generation;
	c->v[c->cnt].seen = 0;
	c->cnt++;
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rec_obj *)a)->id, ((const struct rec_obj *)b)->id, 16);
}

static struct rec_obj *rec_find(struct rec_ctx *c, const uint8_t id[16])
{
	struct rec_obj key;
	memcpy(key.id, id, 16);
	return bsearch(&key, c->v, c->cnt, sizeof(*c->v), rec_cmp);
}

static void rec_forget(struct rec_ctx *c, const struct rec_obj *o)
{
	static const uint8_t zero[16];
	meta_txn *t = NULL;
	struct meta_node nd;
	char hex[33];

	if (meta_txn_begin(c->n->me, 0, &t))
		return;
	if (ns_node_get(c->n, t, o->ino, &nd) || nd.generation != 0 ||
	    memcmp(nd.objid, o->id, 16) != 0) {
		meta_txn_abort(t);
		return;
	}
	memcpy(nd.objid, zero, 16);
	nd.size = 0;
	if (ns_node_put(c->n, t, &nd) || meta_txn_commit(t)) {
		meta_txn_abort(t);
		return;
	}
	store_objid_hex(o->id, hex);
	(void)store_obj_unlink(c->n->st, o->id);
	(void)store_aux_unlink(c->n->st, o->id, OBJ_UNDO_SUFFIX);
	c->orphans++;
	wlog(WLOG_INFO, "recovery: removed the content file %s of inode %llu, never committed",
	     hex, (unsigned long long)o->ino);
}

/* Roll one object back to its committed state (authenticated record only:
 * a forged size must not make recovery cut a file). */
static void rec_object(struct rec_ctx *c, const struct rec_obj *o)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	struct obj_ref r;
	char hex[33];
	int rc, changed = 0;
	unsigned rejected = 0;

	if (meta_txn_begin(c->n->me, 1, &t))
		return;
	rc = ns_node_get(c->n, t, o->ino, &nd);
	meta_txn_abort(t);
	if (rc || memcmp(nd.objid, o->id, 16) != 0 || (nd.flags & META_F_INLINE))
		return;
	if (nd.generation == 0) {
		/* Never committed: the file (perhaps cut short before its
		 * header was written) holds nothing; the node forgets it, and
		 * the next write starts a new one. */
		rec_forget(c, o);
		return;
	}
	memset(&r, 0, sizeof(r));
	memcpy(r.id, nd.objid, 16);
	r.alg = (int)nd.alg;
	memcpy(r.wrapped, nd.wrapped, KMS_WRAPPED_BYTES);
	r.gen = nd.generation;
	r.size = nd.size;
	r.sparse = (nd.flags & META_F_SPARSE) != 0;
	rc = obj_recover(c->n->st, c->n->km, &r, (uint64_t)clock_monotonic_ns(), &changed,
			 &rejected);
	store_objid_hex(o->id, hex);
	if (rejected)
		wlog(WLOG_ERR, "recovery: object %s (inode %llu): %u undo journal record(s) do "
		     "not authenticate as its committed blocks: not written back (a damaged or "
		     "planted journal)", hex, (unsigned long long)o->ino, rejected);
	if (rc) {
		wlog(WLOG_ERR, "recovery: object %s (inode %llu): %s%s", hex,
		     (unsigned long long)o->ino, strerror(-rc),
		     rc == -ENOENT ? "" : " (the next mount tries again)");
		/* Its journal stays: the stop of this mount is not clean. */
		if (rc != -ENOENT)
			atomic_store(&c->n->uncommitted, 1);
		return;
	}
	if (!changed)
		return;
	ns_crash_point(c->n, "recover");
	/* Rolled back: it must read as its last commit now. */
	const char *what = NULL;
	uint64_t bad;
	rc = obj_verify(c->n->st, c->n->km, &r, (uint64_t)clock_monotonic_ns(), &what, &bad);
	if (rc == -EAGAIN || rc == -ENOMEM) {
		/* Not checked (a throttled KMS): that is no damage. */
		wlog(WLOG_WARN, "recovery: object %s (inode %llu) rolled back, not verified: %s",
		     hex, (unsigned long long)o->ino, strerror(-rc));
		c->rolled++;
	} else if (rc) {
		c->unreadable++;
		wlog(WLOG_ERR, "recovery: object %s (inode %llu) is unreadable after the rollback: %s",
		     hex, (unsigned long long)o->ino, what ? what : "?");
	} else {
		c->rolled++;
		wlog(WLOG_INFO, "recovery: object %s (inode %llu) rolled back to its last commit "
		     "(generation %llu, %llu bytes)", hex, (unsigned long long)o->ino,
		     (unsigned long long)r.gen, (unsigned long long)r.size);
	}
}

static int rec_file_cb(void *arg, const uint8_t *id, const char *name)
{
	struct rec_ctx *c = arg;
	size_t k = strlen(name);
	struct rec_obj *o;

	if (!id) {
		/* "XX/<32 hex>.u": an undo journal, handled after the files. */
		if (k == 3 + STORE_OBJID_HEX + 2 && !strcmp(name + k - 2, OBJ_UNDO_SUFFIX)) {
			if (c->nundo == c->capundo) {
				size_t cap = c->capundo ? 2 * c->capundo : 64;
				char (*u)[64] = realloc(c->undo, cap * sizeof(*u));
				if (!u)
					return 0;
				c->undo = u;
				c->capundo = cap;
			}
			snprintf(c->undo[c->nundo++], 64, "%s", name);
		}
		return 0;
	}
	o = rec_find(c, id);
	if (!o || o->inl) {
		/* No node names it (created before its id was recorded), or the
		 * node kept its inline value (a move to a file never committed). */
		char hex[33];
		store_objid_hex(id, hex);
		if (!store_obj_unlink(c->n->st, id)) {
			c->orphans++;
			wlog(WLOG_INFO, "recovery: removed orphaned content file %s", hex);
		}
		return 0;
	}
	o->seen = 1;
	rec_object(c, o);
	return 0;
}

/* After an unclean stop: every content file back to its committed state
 * (undo journals written back, bytes past the committed end cut), files no
 * node names removed. O(objects); runs only after a crash. */
static void recover_store(ns *n)
{
	struct rec_ctx c;
	meta_txn *t = NULL;

	memset(&c, 0, sizeof(c));
	c.n = n;
	if (meta_txn_begin(n->me, 1, &t))
		return;
	meta_node_foreach(t, rec_node_cb, &c);
	meta_txn_abort(t);
	if (c.rc) {
		wlog(WLOG_ERR, "recovery skipped: %s", strerror(-c.rc));
		free(c.v);
		return;
	}
	qsort(c.v, c.cnt, sizeof(*c.v), rec_cmp);
	store_obj_foreach(n->st, rec_file_cb, &c);
	/* A move out of inline storage records the id before it creates the
	 * file: a node never committed may name a file that never was. */
	for (size_t i = 0; i < c.cnt; i++)
		if (!c.v[i].seen && !c.v[i].inl && c.v[i].gen == 0)
			rec_forget(&c, &c.v[i]);
	/* Journals whose content file is gone. One of an object handled above
	 * is gone too, unless its recovery failed: then it stays for the next
	 * mount (this one is not a clean stop). */
	for (size_t i = 0; i < c.nundo; i++) {
		uint8_t id[16];
		char hex[STORE_OBJID_HEX + 1];
		const struct rec_obj *o;
		memcpy(hex, c.undo[i] + 3, STORE_OBJID_HEX);
		hex[STORE_OBJID_HEX] = '\0';
		if (store_objid_parse(hex, id))
			continue;
		o = rec_find(&c, id);
		if (!o || !o->seen)
			(void)store_aux_unlink(n->st, id, OBJ_UNDO_SUFFIX);
	}
	wlog(c.unreadable ? WLOG_ERR : WLOG_INFO, "recovery after an unclean stop: %ld object(s) "
	     "rolled back to their last commit, %ld unreadable, %ld orphaned content file(s) "
	     "removed", c.rolled, c.unreadable, c.orphans);
	if (c.unreadable)
		atomic_fetch_add_explicit(&n->stats.auth_failures, (uint64_t)c.unreadable,
					  memory_order_relaxed);
	free(c.v);
	free(c.undo);
}

static int set_open_marker(ns *n, uint32_t v)
{
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_kv_put(t, KV_OPEN, &v, sizeof(v));
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	return meta_txn_commit(t);
}

int ns_open(const char *store_path, const struct cfg *cfg, int flags, ns **out,
	    char *err, size_t errlen)
{
	ns *n;
	meta_txn *t = NULL;
	char sub[4096], *pass = NULL;
	size_t passlen = 0, len;
	uint32_t fmt = 0, unclean = 1;
	int64_t hwm = 0;
	struct stat sb;
	int rc;

	rc = wcrypto_init();
	if (rc)
		return rc;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->cfg = *cfg;
	n->flags = flags;
	n->alg = wcrypto_default_alg();
	pthread_mutex_init(&n->itab_mu, NULL);
	pthread_mutex_init(&n->inval_mu, NULL);
	stats_init(&n->stats);
	rc = store_open(store_path, &n->st, err, errlen);
	if (rc)
		goto fail;
	if (!(flags & NS_RDONLY)) {
		/* A daemon just unmounted may still be closing the store: wait
		 * a little before calling it busy. */
		for (int i = 0; i < 50; i++) {
			rc = store_lock(n->st, 1);
			if (rc != -EBUSY)
				break;
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (rc) {
			wlog_seterr(err, errlen, "%s: store is in use (mounted, or another wormctl is "
				    "changing it)", store_path);
			goto fail;
		}
	}
	store_subpath(n->st, "meta/data.mdb", sub, sizeof(sub));
	if (stat(sub, &sb) != 0) {
		rc = -EBADMSG;
		wlog_seterr(err, errlen, "%s: metadata database missing (%s)", store_path, sub);
		goto fail;
	}
	/* LMDB would initialize an empty or tiny file as a new database:
	 * refuse instead of changing the store. */
	if (!S_ISREG(sb.st_mode) || sb.st_size < 2 * 4096) {
		rc = -EBADMSG;
		wlog_seterr(err, errlen, "%s: metadata database %s is damaged (truncated)",
		       store_path, sub);
		goto fail;
	}
	if (cfg->passphrase_file[0]) {
		rc = read_passphrase(cfg->passphrase_file, &pass, &passlen, err, errlen);
		if (rc)
			goto fail;
	}
	store_subpath(n->st, "keys", sub, sizeof(sub));
	rc = kms_open(sub, pass, passlen, &cfg->kms, &n->km, err, errlen);
	if (rc)
		goto fail;
	n->reckey = wcrypto_secure_alloc(32);
	if (!n->reckey) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = kms_record_key(n->km, n->reckey);
	if (rc)
		goto fail;
	store_subpath(n->st, "meta", sub, sizeof(sub));
	rc = meta_open(sub, (flags & NS_RDONLY) ? META_RDONLY : 0, &n->me, err, errlen);
	if (rc)
		goto fail;
	rc = meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = meta_kv_get(t, KV_FORMAT, &fmt, sizeof(fmt), &len);
		/* No marker: a store from before it, recovered once. */
		if (meta_kv_get(t, KV_OPEN, &unclean, sizeof(unclean), &len))
			unclean = 1;
		meta_txn_abort(t);
	}
	if (rc || fmt < STORE_FORMAT_OLDEST || fmt > STORE_FORMAT_VERSION) {
		if (rc)
			wlog_seterr(err, errlen, "%s: metadata database is damaged (no format record)",
				    store_path);
		else
			wlog_seterr(err, errlen, "%s: metadata database has an unknown format version "
				    "(this wormfs supports %d to %d)", store_path,
				    STORE_FORMAT_OLDEST, STORE_FORMAT_VERSION);
		rc = rc ? -EBADMSG : -EPROTO;
		goto fail;
	}
	/* A rolled-back meta/ is refused before anything is written. */
	rc = ns_trail_open(n, err, errlen);
	if (rc)
		goto fail;
	if (!(flags & NS_RDONLY) &&
	    (fmt < STORE_FORMAT_VERSION || store_format(n->st) < STORE_FORMAT_VERSION)) {
		rc = upgrade_format(n, fmt);
		if (rc) {
			wlog_seterr(err, errlen, "%s: cannot upgrade the store format: %s",
				    store_path, strerror(-rc));
			goto fail;
		}
	}
	rc = ns_auth_open(n, err, errlen);
	if (!rc)
		rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto fail;
	/* A clock record that fails authentication is not trusted, and not
	 * refused either: the clock then follows the system clock, as with
	 * no record. A forged value could only be meant to move the clock
	 * ahead (expire retentions early); ignoring it never does. */
	rc = ns_clock_get(n, t, &hwm);
	meta_txn_abort(t);
	if (rc == -EIO) {
		n->clock_forged = 1;
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "%s: the compliance clock's record fails authentication: ignored "
		     "(the clock follows the system clock; see wormctl verify)", store_path);
	}
	rc = 0;
	wclock_init(&n->clk, hwm);
	n->clock_ready = 1;
	int64_t now = ns_clock_now(n);
	n->live = unclean != 0;
	if (!(flags & NS_RDONLY)) {
		rc = persist_clock(n, now);
		if (!rc)
			rc = set_open_marker(n, 1);
		if (!rc)
			rc = meta_sync(n->me);
		if (rc)
			goto fail;
		crash_hook_init(n);
		purge_orphans(n);
		if (unclean)
			recover_store(n);
		n->marked = 1;
		ns_apply_pending(n);
		/* Objects whose autocommit came due while stopped lock now. */
		ns_autocommit_run(n);
	}
	/* Only the daemon writes content; a sealer that cannot start just
	 * leaves writes on one thread. */
	if (!(flags & (NS_OFFLINE | NS_RDONLY)) && obj_sealer_new(&n->sealer))
		n->sealer = NULL;
	atomic_store(&n->last_sync_ns, clock_monotonic_ns());
	if (pass)
		wcrypto_secure_free(pass);
	*out = n;
	return 0;
fail:
	if (pass)
		wcrypto_secure_free(pass);
	if (err && errlen && !err[0])
		snprintf(err, errlen, "%s: cannot open store: %s", store_path, strerror(-rc));
	ns_close(n);
	return rc;
}

void ns_close(ns *n)
{
	if (!n)
		return;
	if (n->me) {
		if (!(n->flags & NS_RDONLY)) {
			/* Only a clock that was loaded: an open that failed
			 * before must not overwrite the mark (with 0). */
			if (n->clock_ready)
				persist_clock(n, wclock_hwm(&n->clk));
			/* Every handle was released (and committed) before this;
			 * if a commit failed, the next mount recovers. */
			if (n->marked && !atomic_load(&n->uncommitted) && !set_open_marker(n, 0))
				meta_sync(n->me);
		}
		/* The last head covers the final state (refused opens: none). */
		if (n->marked)
			ns_trail_final(n);
		meta_close(n->me);
	}
	/* Handles still open at unmount were released by fs; free the table. */
	for (size_t i = 0; i < NS_ITAB_SIZE; i++) {
		struct ns_inode *in = n->itab[i], *next;
		for (; in; in = next) {
			next = in->next;
			ns_inode_free(in);
		}
	}
	obj_sealer_free(n->sealer);
	if (n->km)
		kms_close(n->km);
	ns_trail_close(n);   /* an open that failed early */
	if (n->reckey)
		wcrypto_secure_free(n->reckey);
	if (n->mkey)
		wcrypto_secure_free(n->mkey);
	if (n->st)
		store_close(n->st);
	pthread_mutex_destroy(&n->itab_mu);
	pthread_mutex_destroy(&n->inval_mu);
	free(n);
}

struct pending_list {
	uint64_t ino[1024];
	size_t n;
	uint64_t after;           /* collect inodes after this one */
	uint64_t left;            /* counting pass: records still pending */
};

static int pending_cb(void *arg, const struct meta_node *nd)
{
	struct pending_list *p = arg;
	if (!(nd->flags & META_F_DEFAULT_PENDING) || nd->ino <= p->after)
		return 0;
	p->ino[p->n++] = nd->ino;
	return p->n == 1024;
}

static int pending_count_cb(void *arg, const struct meta_node *nd)
{
	struct pending_list *p = arg;
	p->left += (nd->flags & META_F_DEFAULT_PENDING) != 0;
	return 0;
}

/* Objects whose writers were never released (the daemon stopped between
 * the last close and its RELEASE) get their bucket's default retention
 * now, from the current compliance time: later than the commit, so never
 * shorter than due. Runs at open only when kv "pending_defaults" is set.
 * One that cannot be settled now (its bucket cannot be found, its record
 * fails authentication) stays pending and counted: tried again at the
 * next open, never forgotten. */
int ns_apply_pending(ns *n)
{
	struct pending_list *p;
	meta_txn *t = NULL;
	uint64_t count = 0;
	size_t len;
	long applied = 0;
	int rc;

	if (meta_txn_begin(n->me, 1, &t))
		return 0;
	rc = meta_kv_get(t, "pending_defaults", &count, sizeof(count), &len);
	meta_txn_abort(t);
	if (rc || !count)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	do {
		p->n = 0;
		if (meta_txn_begin(n->me, 1, &t))
			break;
		meta_node_foreach(t, pending_cb, p);
		meta_txn_abort(t);
		for (size_t i = 0; i < p->n; i++) {
			struct meta_node nd, b;
			int64_t now = ns_clock_now(n);
			p->after = p->ino[i];
			if (meta_txn_begin(n->me, 0, &t))
				continue;
			if (ns_node_get(n, t, p->ino[i], &nd)) {
				meta_txn_abort(t);
				continue;
			}
			/* A bucket that cannot be found leaves it pending. */
			int due = nd.sealed ? 0 : ns_bucket_of(n, t, &nd, &b);
			if (due < 0) {
				meta_txn_abort(t);
				continue;
			}
			int lock = !nd.sealed && policy_default_at_close(b.def_mode, b.autocommit_s);
			/* In an autocommit bucket the writer's release would have
			 * set a deadline: it is set now instead. */
			if (!nd.sealed && !lock && ns_autocommit_schedule(n, t, &nd, &b)) {
				meta_txn_abort(t);
				continue;
			}
			if (lock) {
				nd.lock_mode = b.def_mode;
				nd.retain_until = now + (int64_t)b.def_days * 86400;
				nd.sealed = 1;
				applied++;
			}
			nd.flags &= ~(uint32_t)META_F_DEFAULT_PENDING;
			if (ns_node_put(n, t, &nd) ||
			    (lock && ns_trail_event(n, t, "retention", "commit", nd.ino, NULL, -1,
						    "default-retention-at-mount",
						    policy_mode_name(nd.lock_mode))) ||
			    meta_txn_commit(t))
				meta_txn_abort(t);   /* e.g. a record failing auth: left */
		}
	} while (p->n == 1024);
	/* The count is what is left, so the next open retries it (if it
	 * cannot even be counted, the old count stays). */
	if (!meta_txn_begin(n->me, 1, &t)) {
		rc = meta_node_foreach(t, pending_count_cb, p);
		meta_txn_abort(t);
		if (rc >= 0 && !meta_txn_begin(n->me, 0, &t)) {
			if (meta_kv_put(t, "pending_defaults", &p->left, sizeof(p->left)))
				meta_txn_abort(t);
			else
				meta_txn_commit(t);
		}
	}
	if (p->left)
		wlog(WLOG_WARN, "%llu object(s) still wait for their bucket default retention "
		     "(bucket not found or record damaged; see wormctl verify): retried at the "
		     "next mount", (unsigned long long)p->left);
	free(p);
	if (applied)
		wlog(WLOG_WARN, "applied the bucket default retention to %ld object(s) whose "
		     "writers were not released before the last stop", applied);
	return ns_durable(n);
}

int ns_tick(ns *n)
{
	int64_t now = ns_clock_now(n);
	int64_t mono = clock_monotonic_ns();
	int rc = 0;

	if (n->flags & NS_RDONLY)
		return 0;
	ns_drain_inval(n);
	if (wclock_should_persist(&n->clk, CLOCK_PERSIST_INTERVAL_S))
		rc = persist_clock(n, now);
	/* Its failures are logged there; the entries stay for the next tick. */
	(void)ns_autocommit_run(n);
	if (mono - atomic_load(&n->last_sync_ns) >= (int64_t)n->cfg.sync_interval_ms * 1000000) {
		/* A checkpoint: a new store head if anything changed. */
		ns_trail_flush(n, 1);
		int r2 = ns_durable(n);
		rc = rc ? rc : r2;
	}
	/* Nobody waits for a checkpoint: its failure (a full disk, EIO) goes
	 * to the log, once per change, and the next tick tries again. */
	int was = atomic_exchange(&n->tick_err, rc);
	if (rc && rc != was)
		wlog(WLOG_ERR, "checkpoint (metadata sync, clock) failed: %s; retrying",
		     strerror(-rc));
	else if (!rc && was)
		wlog(WLOG_INFO, "checkpoint works again");
	return rc;
}

/* ---- paths for logs ---------------------------------------------------- */

struct name_find {
	uint64_t ino;
	char *out;
	size_t len;
	int found;
};

static int name_find_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct name_find *f = arg;
	(void)cookie;
	if (ino != f->ino)
		return 0;
	snprintf(f->out, f->len, "%s", name);
	f->found = 1;
	return 1;
}

/* Path of an inode from the root, for logs. Nodes do not store their own
 * names, so each level scans its parent: fine for refusals and lock
 * changes, never used on a hot path. Built from the object up, so when
 * the path does not fit in buf (a deep tree) the object's end is kept and
 * the start shows as "/...". The buffer bounds the levels read, so an
 * edited parent loop ends too. */
int ns_path_of(ns *n, uint64_t ino, char *buf, size_t len)
{
	char comp[META_NAME_MAX + 1];
	meta_txn *t = NULL;
	struct meta_node nd;
	size_t pos;
	int rc;

	if (len < 8)
		return -ERANGE;
	buf[0] = '\0';
	if (ns_is_virtual(ino)) {
		snprintf(buf, len, "/.wormfs%s", ino == NS_INO_CTL ? "" : ino == NS_INO_VERSION
			 ? "/version" : ino == NS_INO_STATS ? "/stats" : ino == NS_INO_AUDIT
			 ? "/audit" : "/clock");
		return 0;
	}
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	pos = len - 1;
	buf[pos] = '\0';
	while (ino != NS_INO_ROOT) {
		struct name_find f = { ino, comp, sizeof(comp), 0 };
		rc = ns_node_get(n, t, ino, &nd);
		if (rc)
			break;
		meta_readdir(t, nd.parent, 0, name_find_cb, &f);
		if (!f.found)
			snprintf(comp, sizeof(comp), "#%llu", (unsigned long long)ino);
		size_t k = strlen(comp);
		if (k + 1 + 4 > pos) {
			/* No room for this level and the marker: cut here. */
			memcpy(buf + pos - 4, "/...", 4);
			pos -= 4;
			break;
		}
		pos -= k + 1;
		buf[pos] = '/';
		memcpy(buf + pos + 1, comp, k);
		ino = nd.parent;
	}
	meta_txn_abort(t);
	memmove(buf, buf + pos, len - pos);
	if (!buf[0])
		snprintf(buf, len, "/");
	return rc;
}

/* ino is the object, or the directory holding `name` for namespace
 * operations; for xattr operations `name` is the attribute. */
int ns_refuse(ns *n, enum stats_op op, uint64_t ino, const char *name,
	      const struct ns_caller *c, int err, const char *rule)
{
	/* Sized to the log field, so a deep path keeps its end (ns_path_of). */
	char path[1536], what[1900];
	int xattr = op == SOP_SETXATTR || op == SOP_REMOVEXATTR || op == SOP_GETXATTR;

	ns_path_of(n, ino, path, sizeof(path));
	if (name && !xattr)
		snprintf(what, sizeof(what), "%s%s%s", path, strcmp(path, "/") ? "/" : "", name);
	else
		snprintf(what, sizeof(what), "%s", path);
	stats_refusal(&n->stats, op);
	/* Path and attribute name are separate fields, each quoted by
	 * wlog_refusal: no name can add fields of its own. */
	wlog_refusal(stats_op_name(op), what, name && xattr ? name : NULL,
		     c ? c->uid : 0, err, rule ? rule : "-");
	ns_trail_refusal(n, stats_op_name(op), what, name && xattr ? name : NULL,
			 c ? c->uid : 0, err, rule ? rule : "-");
	return err;
}

/* ---- walk ---------------------------------------------------------------- */

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
		struct name_find f = { b.ino, bname, sizeof(bname), 0 };
		meta_readdir(w->t, NS_INO_ROOT, 0, name_find_cb, &f);
		if (!f.found)
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

/* ---- verify, rewrap -------------------------------------------------------- */

struct verify_ctx {
	ns *n;
	meta_txn *t;              /* the one snapshot every record is read from */
	ns_damage_cb cb;
	ns_progress_cb progress;
	void *arg;
	uint64_t done, total;
	long damaged;
};

static void node_ref(const struct meta_node *nd, struct obj_ref *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->id, nd->objid, 16);
	r->alg = (int)nd->alg;
	memcpy(r->wrapped, nd->wrapped, KMS_WRAPPED_BYTES);
	r->gen = nd->generation;
	r->size = nd->size;
	r->sparse = (nd->flags & META_F_SPARSE) != 0;
}

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
	node_ref(nd, &r);
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
	int rc;
};

static int vrec_cb(void *arg, const struct meta_node *nd)
{
	struct vrec_ctx *c = arg;

	if (nd->ino > c->max_ino)
		c->max_ino = nd->ino;
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
			      "or fails authentication although records carry MACs (records without "
			      "a MAC are refused)");
	if (v->n->clock_forged)
		verify_damage(v, "meta/kv/clock_hwm", "compliance clock record fails authentication "
			      "(ignored: the clock follows the system clock)");
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
		meta_node_foreach(v->t, live_cb, &live);
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

long ns_verify(ns *n, ns_damage_cb cb, ns_progress_cb progress, void *arg)
{
	struct verify_ctx v = { n, NULL, cb, progress, arg, 0, 0, 0 };
	int rc = meta_txn_begin(n->me, 1, &v.t);

	if (rc)
		return rc;
	rc = walk_in(n, v.t, count_cb, &v);
	if (!rc)
		rc = walk_in(n, v.t, verify_cb, &v);
	if (!rc)
		rc = verify_records(&v);
	meta_txn_abort(v.t);
	if (rc)
		return rc;
	return v.damaged;
}

int ns_store_live(ns *n)
{
	return n->live;
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

/* Header copy first, then the database: a crash in between leaves two
 * wrappings of the same DEK, both valid while the old version exists. */
static int rewrap_one(ns *n, uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	struct kms_wrapped in, out;
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int rc;

	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto fail;
	memcpy(in.b, nd.wrapped, KMS_WRAPPED_BYTES);
	rc = kms_reencrypt(n->km, nd.objid, &in, &out, (uint64_t)clock_monotonic_ns());
	if (rc)
		goto fail;
	node_ref(&nd, &r);
	/* The header is authenticated with the DEK: unwrap it to re-seal. */
	rc = obj_key_open(n->km, &r, &key, (uint64_t)clock_monotonic_ns());
	if (rc)
		goto fail;
	r.key = key;
	/* An inline object has no header: its only wrapped copy is the node's. */
	rc = (nd.flags & META_F_INLINE) ? 0 : obj_set_wrapped(n->st, &r, out.b);
	wcrypto_aead_free(key);
	if (rc)
		goto fail;
	memcpy(nd.wrapped, out.b, KMS_WRAPPED_BYTES);
	rc = ns_node_put(n, t, &nd);
	if (rc)
		goto fail;
	return meta_txn_commit(t);
fail:
	meta_txn_abort(t);
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
		rc = meta_node_foreach(t, rewrap_collect, r);
		meta_txn_abort(t);
		if (rc < 0)
			break;
		rc = 0;
		for (size_t i = 0; i < r->count && !rc; i++) {
			rc = rewrap_one(n, r->ino[i]);
			if (rc == -EPERM)
				rc = 0;    /* auth-failed record: left alone, verify reports it */
			else if (!rc)
				total++;
			r->after = r->ino[i];
			if (progress)
				progress(arg, (uint64_t)total, 0);
		}
	} while (!rc && r->count == 1024);
	if (!rc)
		rc = meta_sync(n->me);
	free(r);
	return rc ? rc : total;
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
	*min_version = v.min;
	*max_version = v.max;
	return rc < 0 ? rc : 0;
}
