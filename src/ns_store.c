/* ns_store: the store's lifecycle: init, open (format upgrade, recovery
 * of objects a crash left mid-write, orphan purge, pending defaults,
 * autocommit due), close, and the periodic checkpoint (ns_tick). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "byteorder.h"
#include "ns_auth.h"
#include "ns_bind.h"
#include "ns_upgrade.h"
#include "ns_digest.h"
#include "ns_etag.h"
#include "ns_ctx.h"
#include "ns_inode.h"
#include "ns_io.h"
#include "ns_offline.h"
#include "ns_record.h"
#include "ns_retention.h"
#include "ns_trail.h"
#include "trail.h"
#include "ns_vcache.h"
#include "log.h"

#define KV_FORMAT "format"

/* 1 while a writer has the store open: still 1 at the next open means the
 * last one was killed (or the machine stopped), so recovery runs. */
#define KV_OPEN "open_unclean"

/* Read a passphrase file: first line, no trailing newline. Like ssh with
 * its keys, refuse a file that others can read or change: the passphrase
 * unlocks every object. Checked on the open descriptor (no race with a
 * rename). A pipe is read to its end (or 1023 bytes), not one read's
 * worth. A NUL byte in the first line would end the passphrase there
 * (random bytes made a 38-byte file the passphrase "ab"): a new key ring
 * (init: making) refuses it; opening one keeps the old reading, so that a
 * store made so still opens, and warns. */
static int read_passphrase(const char *path, int making, char **out, size_t *len, char *err,
			   size_t errlen)
{
	size_t line;
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
	got = 0;
	while (got < 1023) {
		ssize_t r = read(fd, buf + got, (size_t)(1023 - got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			got = -1;
			break;
		}
		if (r == 0)
			break;
		got += r;
	}
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
	for (line = 0; line < (size_t)got && buf[line] != '\r' && buf[line] != '\n'; line++)
		;
	if (line == 1023) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "passphrase file %s: the passphrase is longer than "
			    "1022 bytes", path);
		return -EINVAL;
	}
	if (memchr(buf, '\0', line)) {
		if (making) {
			wcrypto_secure_free(buf);
			wlog_seterr(err, errlen, "passphrase file %s: the first line holds a NUL "
				    "byte (a passphrase is one line of text)", path);
			return -EINVAL;
		}
		wlog(WLOG_WARN, "passphrase file %s: the first line holds a NUL byte; the "
		     "passphrase ends there", path);
	}
	buf[line] = '\0';
	if (!buf[0]) {
		wcrypto_secure_free(buf);
		wlog_seterr(err, errlen, "passphrase file %s: the first line is empty", path);
		return -EINVAL;
	}
	*out = buf;
	*len = strlen(buf);
	return 0;
}

/* The key ring's active version against the highest one a key rotate
 * recorded in the metadata (ns_key_mark; the state digest covers it): a
 * ring below it is a copy from before that rotate, put back, whose
 * versions removed since (maybe because they leaked) would wrap new data
 * keys again. A writable open refuses it; a read-only one (verify, key
 * list) warns and goes on. */
static int key_ring_check(ns *n, const char *store_path, char *err, size_t errlen)
{
	struct kms_key_info *info = calloc(KMS_MAX_VERSIONS, sizeof(*info));
	uint32_t active = 0, recorded;
	uint8_t buf[4];
	meta_txn *t = NULL;
	size_t cnt = 0, len = 0;
	int rc;

	if (!info)
		return -ENOMEM;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto out;
	rc = meta_kv_get(t, NS_KV_KEY_ACTIVE, buf, sizeof(buf), &len);
	meta_txn_abort(t);
	if (rc && rc != -ENOENT)
		goto out;
	recorded = !rc && len == sizeof(buf) ? get_le32(buf) : 0;
	rc = 0;
	/* Every open also reads the audit trail's rotate records: the
	 * record deleted (as in a store from before it) or set back to a
	 * version from before the rotate (the value a first mount records,
	 * put back), the state digest re-sealed, leaves only the trail
	 * (review rv-legacy: before, an older ring was then taken, its
	 * removed versions active again). Without a record or a rotate, a
	 * writable open records the ring's active version; a read-only one
	 * (verify, key list) warns as a writable one refuses (review rvleg3:
	 * it read the record only, so key list showed the older ring with
	 * no word while the mount refused it). */
	{
		struct ns_key_audit ka;
		uint32_t audited;
		rc = ns_key_audited(n, &ka);
		if (rc && !(n->flags & NS_RDONLY))
			goto out;
		audited = rc ? 0 : ka.version;
		/* A rotate record that fails authentication (edited, or planted
		 * offline by someone without the key) is named, not trusted:
		 * taken at its word it refused every writable mount. */
		if (!rc && ka.unauth_seq)
			wlog(WLOG_WARN, "%s: audit record %" PRIu64 " names a key rotate to version "
			     "%" PRIu32 " but fails authentication (edited or planted offline): not "
			     "taken as evidence of a rotate (wormctl audit verify names it)",
			     store_path, ka.unauth_seq, ka.unauth_version);
		rc = 0;
		if (!recorded && !audited && !(n->flags & NS_RDONLY)) {
			/* Best effort (a full disk): the next open reads the
			 * trail again. */
			int r2 = kms_list(n->km, info, KMS_MAX_VERSIONS, &cnt,
					  (uint64_t)clock_monotonic_ns());
			for (size_t i = 0; !r2 && i < cnt; i++)
				if (info[i].active)
					active = info[i].version;
			if (!r2 && active)
				r2 = ns_key_mark(n, active, NULL);
			if (r2)
				wlog(WLOG_WARN, "%s: the key ring's active version not recorded: %s",
				     store_path, strerror(-r2));
			goto out;
		}
		if (audited > recorded)
			recorded = audited;
		if (!recorded)
			goto out;   /* no rotate recorded (or a store from before the record) */
	}
	rc = kms_list(n->km, info, KMS_MAX_VERSIONS, &cnt, (uint64_t)clock_monotonic_ns());
	if (rc)
		goto out;
	for (size_t i = 0; i < cnt; i++)
		if (info[i].active)
			active = info[i].version;
	if (active > recorded && !(n->flags & NS_RDONLY)) {
		/* The ring ahead of its records: a key rotate stopped (a crash,
		 * a metadata write error) after the ring file was replaced and
		 * before its records committed (ns_key_rotate writes them in
		 * that order). Recorded now, with the audit record it lacks;
		 * before, nothing recorded it and the ring from before that
		 * rotate, put back, was taken. Best effort, as above. */
		char text[96];
		snprintf(text, sizeof(text), "op=rotate version=%" PRIu32 " via=open recorded=%"
			 PRIu32, active, recorded);
		int r2 = ns_key_mark(n, active, text);
		if (r2)
			wlog(WLOG_WARN, "%s: the key ring's active version %" PRIu32 " is above the "
			     "recorded %" PRIu32 " and could not be recorded: %s", store_path, active,
			     recorded, strerror(-r2));
		else
			wlog(WLOG_WARN, "%s: the key ring's active version %" PRIu32 " was above the "
			     "recorded %" PRIu32 " (a key rotate stopped before its record): "
			     "recorded now, in the audit trail", store_path, active, recorded);
		goto out;
	}
	if (active >= recorded)
		goto out;
	if (n->flags & NS_RDONLY) {
		wlog(WLOG_WARN, "%s: the key ring's active master key version %" PRIu32 " is "
		     "below version %" PRIu32 ", which a key rotate made active: keys/keyring "
		     "is an older copy", store_path, active, recorded);
		goto out;
	}
	wlog_seterr(err, errlen, "%s: refused: the key ring's active master key version "
		    "%" PRIu32 " is below version %" PRIu32 ", which a key rotate made active "
		    "(keys/keyring is an older copy put back; restore the current one)",
		    store_path, active, recorded);
	rc = -EKEYREJECTED;
out:
	free(info);
	return rc;
}

/* A record only a build with record MACs writes: a state digest's seal
 * (a store upgraded to record MACs is sealed at once) or the legacy
 * bind's (which came later still). */
static int mac_era_cb(void *arg, uint64_t seq, int64_t time_s, const char *text,
		      int authentic)
{
	(void)seq;
	(void)time_s;
	if (!authentic || (strncmp(text, "kind=digest-reseal ", 19) != 0 &&
			   strncmp(text, "kind=legacy-bind ", 17) != 0))
		return 0;
	*(int *)arg = 1;
	return 1;
}

/* A path inside the store: a store path too long for it is an error (a
 * cut path could name another directory). */
static int store_part(const store *st, const char *rel, char *buf, size_t len, char *err,
		      size_t errlen)
{
	int rc = store_subpath(st, rel, buf, len);

	if (rc)
		wlog_seterr(err, errlen, "%s/%s: %s", store_path(st), rel, strerror(-rc));
	return rc;
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
		rc = read_passphrase(passphrase_file, 1, &pass, &passlen, err, errlen);
		if (rc)
			return rc;
	}
	rc = store_create(path, cfg_default_text(), err, errlen);
	if (rc)
		goto out;
	rc = store_open(path, &st, err, errlen);
	if (rc)
		goto out;
	rc = store_part(st, "keys", sub_keys, sizeof(sub_keys), err, errlen);
	if (rc)
		goto out;
	rc = kms_create(sub_keys, pass, passlen);
	if (rc) {
		wlog_seterr(err, errlen, "cannot create key ring in %s: %s", sub_keys, strerror(-rc));
		goto out;
	}
	rc = store_part(st, "meta", sub, sizeof(sub), err, errlen);
	if (rc)
		goto out;
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
	rc = ns_digest_attach(tmp, me);
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
	if (!rc)
		rc = ns_bind_init_store(t);
	/* ... and its state digest kept from here on (ns_digest.c). */
	if (!rc)
		rc = meta_digest_seal(t, NULL);
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
		/* Its first record then says it has the bind's marker (or not). */
		tmp->test_unbound = ns_bind_hook();
		rc = ns_trail_open(tmp, err, errlen);
		ns_trail_close(tmp);
	}
out:
	if (me)
		meta_close(me);
	if (km)
		kms_close(km);
	if (tmp) {
		ns_digest_free(tmp);
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
	memset(nd.commit, 0, sizeof(nd.commit));
	nd.size = 0;
	if (ns_node_put(c->n, t, &nd) || meta_txn_commit(t)) {
		meta_txn_abort(t);
		return;
	}
	store_objid_hex(o->id, hex);
	/* The node no longer names it: a file that stays is found again
	 * by the next recovery (no node names it), so the count only
	 * reports the attempt. */
	worm_discard(store_obj_unlink(c->n->st, o->id));
	worm_discard(store_aux_unlink(c->n->st, o->id, OBJ_UNDO_SUFFIX));
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
	ns_node_ref(&nd, &r);
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
	/* Any part left undone keeps the open marker at this mount's stop
	 * (n->uncommitted), so the next mount recovers again. */
	if (meta_txn_begin(n->me, 1, &t)) {
		atomic_store(&n->uncommitted, 1);
		return;
	}
	/* A walk cut short would leave live objects out of the list, and
	 * their content files would look orphaned below. */
	int rc = meta_node_foreach(t, rec_node_cb, &c);
	meta_txn_abort(t);
	if (rc < 0 && !c.rc)
		c.rc = rc;
	if (c.rc) {
		wlog(WLOG_ERR, "recovery skipped: %s", strerror(-c.rc));
		atomic_store(&n->uncommitted, 1);
		free(c.v);
		return;
	}
	qsort(c.v, c.cnt, sizeof(*c.v), rec_cmp);
	rc = store_obj_foreach(n->st, rec_file_cb, &c);
	/* A walk cut short saw only some files: what was not seen is left as
	 * it is (its journal too) for the next mount, not taken as absent. */
	size_t nundo = c.nundo;
	if (rc < 0) {
		wlog(WLOG_ERR, "recovery: objects directory walk failed: %s (the next mount "
		     "tries again)", strerror(-rc));
		atomic_store(&n->uncommitted, 1);
		c.unreadable++;
		nundo = 0;
	}
	/* A move out of inline storage records the id before it creates the
	 * file: a node never committed may name a file that never was. */
	for (size_t i = 0; rc >= 0 && i < c.cnt; i++)
		if (!c.v[i].seen && !c.v[i].inl && c.v[i].gen == 0)
			rec_forget(&c, &c.v[i]);
	/* Journals whose content file is gone. One of an object handled above
	 * is gone too, unless its recovery failed: then it stays for the next
	 * mount (this one is not a clean stop). */
	for (size_t i = 0; i < nundo; i++) {
		uint8_t id[16];
		char hex[STORE_OBJID_HEX + 1];
		const struct rec_obj *o;
		memcpy(hex, c.undo[i] + 3, STORE_OBJID_HEX);
		hex[STORE_OBJID_HEX] = '\0';
		if (store_objid_parse(hex, id))
			continue;
		o = rec_find(&c, id);
		if (!o || !o->seen)
			/* One that stays is found again by the next recovery. */
			worm_discard(store_aux_unlink(n->st, id, OBJ_UNDO_SUFFIX));
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
	pthread_mutex_init(&n->inval_run, NULL);
	stats_init(&n->stats);
	n->vc = ns_vcache_new();   /* NULL: every read checks the MAC */
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
	rc = store_part(n->st, "meta/data.mdb", sub, sizeof(sub), err, errlen);
	if (rc)
		goto fail;
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
		rc = read_passphrase(cfg->passphrase_file, 0, &pass, &passlen, err, errlen);
		if (rc)
			goto fail;
	}
	rc = store_part(n->st, "keys", sub, sizeof(sub), err, errlen);
	if (rc)
		goto fail;
	rc = kms_open(sub, pass, passlen, &cfg->kms, &n->km, err, errlen);
	if (rc)
		goto fail;
	n->reckey = wcrypto_secure_alloc(32);
	if (!n->reckey) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = kms_record_key(n->km, n->reckey);
	if (!rc)
		rc = ns_etag_attach(n);
	if (rc)
		goto fail;
	rc = store_part(n->st, "meta", sub, sizeof(sub), err, errlen);
	if (rc)
		goto fail;
	rc = meta_open(sub, (flags & NS_RDONLY) ? META_RDONLY : 0, &n->me, err, errlen);
	if (rc)
		goto fail;
	/* Before anything is written: every write keeps the state digest. */
	rc = ns_digest_attach(n, n->me);
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
	/* A store that kept a state digest was written with record MACs:
	 * never upgraded to them again (ns_auth_open). */
	n->digest_head = ns_trail_had_digest(n);
	/* Nor one whose trail holds a record only such a build writes (the
	 * store heads deleted: review of a144df4). */
	if (!n->digest_head && ns_audit_list(n, 0, mac_era_cb, &n->trail_mac) < 0)
		n->trail_mac = 1;
	rc = ns_auth_open(n, err, errlen);
	if (!rc)
		rc = ns_digest_open(n, store_path, err, errlen);
	if (!rc)
		rc = key_ring_check(n, store_path, err, errlen);
	if (!rc)
		rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto fail;
	/* A clock record that fails authentication is not trusted, and not
	 * refused either: the clock then follows the system clock, as with
	 * no record, from the latest store head's time (below). A forged
	 * value could only be meant to move the clock ahead (expire
	 * retentions early); ignoring it never does. */
	rc = ns_clock_get(n, t, &hwm);
	meta_txn_abort(t);
	if (rc == -EIO) {
		n->clock_forged = 1;
		atomic_fetch_add_explicit(&n->stats.auth_failures, 1, memory_order_relaxed);
		wlog(WLOG_ERR, "%s: the compliance clock's record fails authentication: ignored "
		     "(the clock follows the system clock from the latest store head's time; see "
		     "wormctl verify)", store_path);
	}
	int have_hwm = rc == 0 && hwm > 0;
	rc = 0;
	/* Every head's time is a compliance-clock time and heads are signed
	 * and chained to STORE/head: the clock never starts below the
	 * latest one, also when its own record was deleted or put back from
	 * an older copy (and the state digest re-sealed). The record lags it
	 * by up to the persist interval in normal operation. */
	int64_t floor_s = ns_trail_time(n);
	if (floor_s > hwm) {
		if (have_hwm && floor_s - hwm > 2 * CLOCK_PERSIST_INTERVAL_S)
			wlog(WLOG_WARN, "%s: the compliance clock's record (%lld) is behind the "
			     "latest store head (%lld): the clock starts at the head's time",
			     store_path, (long long)hwm, (long long)floor_s);
		hwm = floor_s;
	}
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
		ns_crash_init(n);
		ns_purge_orphans(n);
		if (unclean)
			recover_store(n);
		/* Recovered: each file holds its committed state. */
		ns_bind_legacy(n);
		n->marked = 1;
		ns_apply_pending(n);
		/* Objects whose autocommit came due while stopped lock now. */
		ns_autocommit_run(n);
	}
	ns_bind_load(n);
	ns_upgrade_load(n);
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

/* At the end of a writable session: a key rotate of this session whose
 * records failed (ns_key_rotate through the control socket, a metadata
 * write error) left the ring ahead of them while the session wrapped new
 * data keys under it; recorded now if the metadata writes again (review
 * rvleft of 0adcdde: before, only the next writable open did, and the
 * ring from before that rotate, put back in between, was taken). */
static void key_ring_close(ns *n, uint32_t active)
{
	uint32_t recorded = 0;
	uint8_t buf[4];
	meta_txn *t = NULL;
	size_t len = 0;
	char text[96];
	int rc;

	if (meta_txn_begin(n->me, 1, &t))
		return;
	if (!meta_kv_get(t, NS_KV_KEY_ACTIVE, buf, sizeof(buf), &len) && len == sizeof(buf))
		recorded = get_le32(buf);
	meta_txn_abort(t);
	if (active <= recorded)
		return;   /* recorded since (a later rotate) */
	snprintf(text, sizeof(text), "op=rotate version=%" PRIu32 " via=close recorded=%" PRIu32,
		 active, recorded);
	rc = ns_key_mark(n, active, text);
	if (rc)
		wlog(WLOG_WARN, "the key ring's active version %" PRIu32 " is above the recorded %"
		     PRIu32 " and could not be recorded: %s (the next writable open records it)",
		     active, recorded, strerror(-rc));
	else
		wlog(WLOG_WARN, "the key ring's active version %" PRIu32 " was above the recorded %"
		     PRIu32 " (a key rotate of this session whose record failed): recorded now, "
		     "in the audit trail", active, recorded);
}

void ns_close(ns *n)
{
	if (!n)
		return;
	if (n->me) {
		if (!(n->flags & NS_RDONLY)) {
			uint32_t kv = atomic_load(&n->key_unrecorded);
			if (n->marked && kv)
				key_ring_close(n, kv);
			/* Only a clock that was loaded: an open that failed
			 * before must not overwrite the mark (with 0). */
			if (n->clock_ready)
				persist_clock(n, wclock_hwm(&n->clk));
			/* Every handle was released (and committed) before this;
			 * if a commit failed, the next mount recovers. */
			if (n->marked && !atomic_load(&n->uncommitted) && !set_open_marker(n, 0))
				/* meta_close syncs again; a marker that never
				 * reaches the disk only makes the next mount
				 * recover. */
				worm_discard(meta_sync(n->me));
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
	wcrypto_secure_free(n->etagkey);   /* NULL ok; wipes */
	ns_digest_free(n);
	if (n->st)
		store_close(n->st);
	pthread_mutex_destroy(&n->itab_mu);
	pthread_mutex_destroy(&n->inval_mu);
	pthread_mutex_destroy(&n->inval_run);
	free(n->inval_q);
	ns_vcache_free(n->vc);
	free(n);
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
	ns_owed_run(n);
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

int ns_store_live(ns *n)
{
	return n->live;
}
