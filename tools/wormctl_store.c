/* wormctl, store side: offline commands on a store directory. Read-only
 * ones open the store NS_RDONLY (they may run while it is mounted); the
 * ones that change it refuse while it is mounted (wctl_open_store). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wormctl.h"
#include "clock.h"
#include "kms.h"
#include "policy.h"
#include "trail.h"

#define XVAL_MAX 256

static const struct ns_caller root_caller = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

static uint64_t mono_ns(void)
{
	return (uint64_t)clock_monotonic_ns();
}

int wctl_init(const struct wctl_opts *o)
{
	const char *s = o->pos[0];
	char err[512] = "";
	int rc;

	if (o->passphrase_file) {
		struct stat st;
		if (stat(o->passphrase_file, &st) < 0)
			return wctl_err("%s: passphrase file %s: %s", o->cmd, o->passphrase_file,
					strerror(errno));
	}
	rc = ns_store_init(s, o->passphrase_file, err, sizeof(err));
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, s, err[0] ? err : strerror(-rc));
	wctl_out("created store %s (key ring protected by %s)", s,
		 o->passphrase_file ? "a passphrase" : "a key file inside the store");
	return WCTL_OK;
}

/* ---- bucket list, ls ------------------------------------------------------ */

struct bucket {
	char *name;
	uint64_t ino;
};

struct blist {
	struct bucket *v;
	size_t n, cap;
	uint64_t next;
	size_t seen;
	int err;
};

static int blist_cb(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct blist *b = arg;

	b->next = next_off;
	b->seen++;
	if (!strcmp(name, ".") || !strcmp(name, "..") || name[0] == '.' ||
	    !S_ISDIR(a->mode))
		return 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].ino == a->ino)
			return 0;
	if (b->n == b->cap) {
		struct bucket *nv = realloc(b->v, (b->cap = b->cap ? b->cap * 2 : 32) *
					    sizeof(*nv));
		if (!nv) {
			b->err = -ENOMEM;
			return 1;
		}
		b->v = nv;
	}
	if (!(b->v[b->n].name = strdup(name))) {
		b->err = -ENOMEM;
		return 1;
	}
	b->v[b->n++].ino = a->ino;
	return 0;
}

static int cmp_bucket(const void *a, const void *b)
{
	return strcmp(((const struct bucket *)a)->name, ((const struct bucket *)b)->name);
}

/* ns_getxattr into a NUL-terminated buffer; "" when absent. */
static int nsx_get(ns *n, uint64_t ino, const char *name, char *buf, size_t len)
{
	ssize_t r = ns_getxattr(n, &root_caller, ino, name, buf, len - 1);

	if (r < 0)
		buf[0] = '\0';
	if (r == -ENODATA)
		return 0;
	if (r < 0)
		return (int)r;
	buf[r] = '\0';
	while (r > 0 && buf[r - 1] == '\n')
		buf[--r] = '\0';
	return 0;
}

/* A read-only listing of a store whose state digest does not match: what
 * was read is shown (an unnamed locked object too), and the command fails
 * (exit 1): records may have been put back from an older copy. */
static int digest_fail(const struct wctl_opts *o, ns *n)
{
	const char *why = ns_digest_problem(n);
	if (!why)
		return 0;
	wctl_err("%s %s: refused: the metadata state digest %s (a record of meta/ was edited, "
		 "deleted or put back from an older copy: what is shown cannot be trusted; run "
		 "wormctl verify %s)", o->cmd, o->pos[0], why, o->pos[0]);
	return 1;
}

int wctl_bucket_list_store(const struct wctl_opts *o)
{
	struct blist b = { 0 };
	json_object *arr = NULL;
	uint64_t off = 0;
	ns *n = NULL;
	int rc, ret = WCTL_OK;

	if (wctl_open_store(o, o->pos[0], NS_RDONLY | NS_CHECK_DIGEST, &n))
		return WCTL_FAIL;
	/* Repeat from the last cookie until a call yields nothing new, in
	 * case ns_readdir delivers a directory in pieces. */
	for (;;) {
		b.seen = 0;
		rc = ns_readdir(n, NS_INO_ROOT, off, blist_cb, &b);
		if (rc < 0 || b.err) {
			ret = wctl_err("%s %s: %s", o->cmd, o->pos[0],
				       strerror(b.err ? -b.err : -rc));
			goto out;
		}
		if (!b.seen || b.next == off)
			break;
		off = b.next;
	}
	if (b.n)
		qsort(b.v, b.n, sizeof(*b.v), cmp_bucket);
	arr = o->json ? json_object_new_array() : NULL;
	for (size_t i = 0; i < b.n; i++) {
		char def[XVAL_MAX], lock[XVAL_MAX];
		if ((rc = nsx_get(n, b.v[i].ino, WORM_XATTR_DEFAULT, def, sizeof(def))) < 0 ||
		    (rc = nsx_get(n, b.v[i].ino, WORM_XATTR_LOCKCFG, lock, sizeof(lock))) < 0) {
			ret = wctl_err("%s %s: bucket %s: %s", o->cmd, o->pos[0], b.v[i].name,
				       strerror(-rc));
			continue;
		}
		wctl_bucket_out(arr, b.v[i].name, def[0] ? def : NULL, lock);
	}
	if (arr)
		wctl_json_print(arr);
out:
	for (size_t i = 0; i < b.n; i++)
		free(b.v[i].name);
	free(b.v);
	if (digest_fail(o, n))
		ret = WCTL_FAIL;
	ns_close(n);
	return ret;
}

struct lsctx {
	const struct wctl_opts *o;
	json_object *arr;
};

static int ls_cb(void *arg, const struct ns_entry *e)
{
	struct lsctx *x = arg;
	char until[32] = "";
	const char *state;

	if (e->damage)
		wctl_err("%s: %s: %s (see wormctl verify)", x->o->cmd, e->path, e->damage);
	if (!S_ISREG(e->attr.mode))
		return 0;
	if (e->auth_failed)
		wctl_err("%s: %s: lock record fails authentication (treated as locked; "
			 "see wormctl verify)", x->o->cmd, e->path);
	state = e->auth_failed ? "locked" : policy_state_name(e->state);
	int append = e->append_only && !e->auth_failed;
	if (x->o->locked && strcmp(state, "locked") && !append)
		return 0;
	if (e->lock_mode != WORM_NONE)
		clock_format_rfc3339(e->retain_until, until, sizeof(until));
	wctl_ls_out(x->arr, e->path, e->lock_mode != WORM_NONE ?
		    policy_mode_name(e->lock_mode) : NULL, until[0] ? until : NULL,
		    e->hold == HOLD_ON ? "ON" : "OFF", state, append);
	return 0;
}

int wctl_ls_store(const struct wctl_opts *o)
{
	struct lsctx x = { .o = o };
	ns *n = NULL;
	int rc;

	if (wctl_open_store(o, o->pos[0], NS_RDONLY | NS_CHECK_DIGEST, &n))
		return WCTL_FAIL;
	x.arr = o->json ? json_object_new_array() : NULL;
	rc = ns_walk(n, ls_cb, &x);
	if (rc < 0) {
		ns_close(n);
		json_object_put(x.arr);
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	}
	if (x.arr)
		wctl_json_print(x.arr);
	rc = digest_fail(o, n);
	ns_close(n);
	return rc ? WCTL_FAIL : WCTL_OK;
}

/* ---- keys ------------------------------------------------------------------- */

static int list_keys(const struct wctl_opts *o, ns *n, struct kms_key_info **v, size_t *cnt)
{
	int rc;

	*v = calloc(KMS_MAX_VERSIONS, sizeof(**v));
	if (!*v)
		return wctl_err("%s: %s", o->cmd, strerror(ENOMEM));
	rc = kms_list(ns_kms(n), *v, KMS_MAX_VERSIONS, cnt, mono_ns());
	if (rc < 0) {
		free(*v);
		*v = NULL;
		return wctl_err("%s %s: listing keys: %s", o->cmd, o->pos[0], strerror(-rc));
	}
	return 0;
}

static uint32_t active_version(const struct kms_key_info *v, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++)
		if (v[i].active)
			return v[i].version;
	return 0;
}

int wctl_key_list(const struct wctl_opts *o)
{
	struct kms_key_info *v = NULL;
	uint32_t lo = 0, hi = 0;
	size_t cnt = 0;
	ns *n = NULL;
	int rc, ret = WCTL_FAIL;

	if (wctl_open_store(o, o->pos[0], NS_RDONLY | NS_CHECK_DIGEST, &n))
		return WCTL_FAIL;
	if (list_keys(o, n, &v, &cnt))
		goto out;
	rc = ns_key_versions_in_use(n, &lo, &hi);
	if (rc < 0) {
		wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
		goto out;
	}
	if (o->json) {
		json_object *j = json_object_new_object(), *keys = json_object_new_array();
		for (size_t i = 0; i < cnt; i++) {
			json_object *k = json_object_new_object();
			char ts[32];
			clock_format_rfc3339(v[i].created_s, ts, sizeof(ts));
			json_object_object_add(k, "version", json_object_new_int64(v[i].version));
			json_object_object_add(k, "active", json_object_new_boolean(v[i].active));
			json_object_object_add(k, "created", json_object_new_string(ts));
			json_object_object_add(k, "in_use", json_object_new_boolean(
				lo && v[i].version >= lo && v[i].version <= hi));
			json_object_array_add(keys, k);
		}
		json_object_object_add(j, "keys", keys);
		json_object_object_add(j, "active", json_object_new_int64(active_version(v, cnt)));
		if (lo) {
			json_object *u = json_object_new_object();
			json_object_object_add(u, "min", json_object_new_int64(lo));
			json_object_object_add(u, "max", json_object_new_int64(hi));
			json_object_object_add(j, "versions_in_use", u);
		} else {
			json_object_object_add(j, "versions_in_use", NULL);
		}
		wctl_json_print(j);
	} else {
		for (size_t i = 0; i < cnt; i++) {
			char ts[32];
			clock_format_rfc3339(v[i].created_s, ts, sizeof(ts));
			printf("%-8u %-7s %s%s\n", v[i].version, v[i].active ? "active" : "-", ts,
			       lo && v[i].version >= lo && v[i].version <= hi ? "  in-use" : "");
		}
		if (lo)
			printf("objects use versions %u..%u\n", lo, hi);
		else
			printf("no object uses a master key yet\n");
	}
	ret = WCTL_OK;
out:
	free(v);
	if (digest_fail(o, n))
		ret = WCTL_FAIL;
	ns_close(n);
	return ret;
}

int wctl_key_rotate(const struct wctl_opts *o)
{
	uint32_t ver = 0;
	ns *n = NULL;
	json_object *req = json_object_new_object(), *reply = NULL, *v;
	int rc;

	/* Mounted: the daemon rotates its own ring (design section 16). */
	json_object_object_add(req, "op", json_object_new_string("key-rotate"));
	rc = wctl_ctl_call(o, o->pos[0], req, &reply);
	if (rc == 0) {
		rc = wctl_ctl_failed(o, o->pos[0], reply);
		if (!rc && json_object_object_get_ex(reply, "version", &v))
			ver = (uint32_t)json_object_get_int64(v);
		json_object_put(reply);
		if (rc)
			return rc;
		goto done;
	}
	if (rc != WCTL_NO_DAEMON)
		return WCTL_FAIL;
	if (wctl_open_store(o, o->pos[0], 0, &n))
		return WCTL_FAIL;
	rc = ns_key_rotate(n, NULL, &ver);
	ns_close(n);
	if (rc < 0 && ver)
		return wctl_err("%s %s: rotated to version %u, but recording it in the metadata "
				"and the audit trail failed: %s (the next writable open records it)",
				o->cmd, o->pos[0], ver, strerror(-rc));
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
done:
	printf("active master key is now version %u; new data keys use it "
	       "(wormctl key rewrap re-wraps existing ones)\n", ver);
	return WCTL_OK;
}

int wctl_key_rewrap(const struct wctl_opts *o)
{
	struct kms_key_info *v = NULL;
	struct wctl_progress pr;
	size_t cnt = 0;
	ns *n = NULL;
	long done;
	int ret = WCTL_FAIL, rc;
	json_object *req = json_object_new_object(), *reply = NULL, *jv;

	/* Mounted: the daemon re-wraps while it serves (design section 16). */
	json_object_object_add(req, "op", json_object_new_string("key-rewrap"));
	rc = wctl_ctl_call_long(o, o->pos[0], req, &reply);
	if (rc == 0) {
		long cntd = 0, ver = 0;
		rc = wctl_ctl_failed(o, o->pos[0], reply);
		if (!rc && json_object_object_get_ex(reply, "count", &jv))
			cntd = (long)json_object_get_int64(jv);
		if (!rc && json_object_object_get_ex(reply, "version", &jv))
			ver = (long)json_object_get_int64(jv);
		json_object_put(reply);
		if (rc)
			return rc;
		printf("re-wrapped %ld data keys under master key version %ld (by the daemon)\n",
		       cntd, ver);
		return WCTL_OK;
	}
	if (rc != WCTL_NO_DAEMON)
		return WCTL_FAIL;
	if (wctl_open_store(o, o->pos[0], 0, &n))
		return WCTL_FAIL;
	if (list_keys(o, n, &v, &cnt))
		goto out;
	wctl_progress_init(&pr, "rewrapping");
	done = ns_rewrap(n, wctl_progress_cb, &pr);
	wctl_progress_end(&pr);
	if (done < 0) {
		wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror((int)-done));
		goto out;
	}
	char t[96];
	snprintf(t, sizeof(t), "op=rewrap count=%ld version=%u", done, active_version(v, cnt));
	int ar = ns_audit_note(n, "key-ring", t);
	if (ar) {
		wctl_err("%s %s: audit record: %s", o->cmd, o->pos[0], strerror(-ar));
		goto out;
	}
	printf("re-wrapped %ld data keys under master key version %u\n", done,
	       active_version(v, cnt));
	ret = WCTL_OK;
out:
	free(v);
	ns_close(n);
	return ret;
}

int wctl_key_remove(const struct wctl_opts *o)
{
	const char *vs = o->pos[1];
	uint32_t lo = 0, hi = 0;
	unsigned long long ver;
	char *end;
	ns *n = NULL;
	int rc;

	errno = 0;
	ver = strtoull(vs, &end, 10);
	if (vs[0] < '0' || vs[0] > '9' || *end || errno || ver == 0 || ver > UINT32_MAX)
		return wctl_usage(o, "bad key version '%s'", vs);
	if (wctl_open_store(o, o->pos[0], NS_CHECK_DIGEST, &n))
		return WCTL_FAIL;
	rc = ns_key_versions_in_use(n, &lo, &hi);
	if (rc < 0) {
		ns_close(n);
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	}
	if (lo && ver >= lo && ver <= hi) {
		ns_close(n);
		return wctl_err("%s %s: version %llu may still be in use (objects use "
				"versions %u..%u); run 'wormctl key rewrap %s' first", o->cmd,
				o->pos[0], ver, lo, hi, o->pos[0]);
	}
	rc = kms_remove_version(ns_kms(n), (uint32_t)ver, mono_ns());
	if (!rc) {
		char t[64];
		snprintf(t, sizeof(t), "op=remove version=%llu", ver);
		rc = ns_audit_note(n, "key-ring", t);
	}
	ns_close(n);
	if (rc == -EBUSY)
		return wctl_err("%s %s: version %llu is the active version (rotate first)",
				o->cmd, o->pos[0], ver);
	if (rc == -ENOENT)
		return wctl_err("%s %s: no master key version %llu", o->cmd, o->pos[0], ver);
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	printf("removed master key version %llu\n", ver);
	return WCTL_OK;
}

/* ---- verify ----------------------------------------------------------------- */

struct vctx {
	struct wctl_progress pr;
	json_object *damaged;   /* --json: collected, else printed at once */
	long count;
};

static int damage_cb(void *arg, const char *path, const char *what)
{
	struct vctx *v = arg;

	v->count++;
	if (v->damaged) {
		json_object *d = json_object_new_object();
		wctl_json_add_path(d, "path", path);
		json_object_object_add(d, "reason", json_object_new_string(what));
		json_object_array_add(v->damaged, d);
		return 0;
	}
	if (v->pr.tty && v->pr.last_ns) {
		fputs("\r\033[K", stderr);   /* keep the progress line off the list */
		v->pr.last_ns = 0;
	}
	wctl_out("DAMAGED %s: %s", path, what);
	fflush(stdout);
	return 0;
}

int wctl_verify(const struct wctl_opts *o)
{
	struct vctx v;
	ns *n = NULL;
	long bad;
	int live;

	memset(&v, 0, sizeof(v));
	/* A bad HEAD is a usage error (exit 2), found before the whole store
	 * is read: exit 1 means damage. */
	if (o->since) {
		uint64_t seq;
		uint8_t hash[32];
		if (wctl_parse_since(o->since, &seq, hash))
			return wctl_usage(o, "--since: not a head id (SEQ:HASH as 'wormctl head' "
					  "prints it, or its --json output)");
	}
	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	wctl_progress_init(&v.pr, "verifying");
	v.damaged = o->json ? json_object_new_array() : NULL;
	bad = ns_verify(n, damage_cb, wctl_progress_cb, &v);
	wctl_progress_end(&v.pr);
	if (bad >= 0) {
		long hb = wctl_verify_head(o, n, damage_cb, &v);
		if (hb < 0) {
			ns_close(n);
			json_object_put(v.damaged);
			return WCTL_FAIL;
		}
		bad += hb;
	}
	live = ns_store_live(n);
	ns_close(n);
	if (bad < 0) {
		json_object_put(v.damaged);
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror((int)-bad));
	}
	if (v.count > bad)
		bad = v.count;
	if (o->json) {
		json_object *j = json_object_new_object();
		wctl_json_add_path(j, "store", o->pos[0]);
		json_object_object_add(j, "objects", json_object_new_int64((int64_t)v.pr.total));
		json_object_object_add(j, "damaged_count", json_object_new_int64(bad));
		json_object_object_add(j, "damaged", v.damaged);
		json_object_object_add(j, "ok", json_object_new_boolean(bad == 0));
		json_object_object_add(j, "in_use", json_object_new_boolean(live));
		wctl_json_print(j);
	} else if (bad) {
		wctl_out("%s: %llu objects checked, %ld damaged", o->pos[0],
			 (unsigned long long)v.pr.total, bad);
	} else {
		wctl_out("%s: %llu objects checked, all intact", o->pos[0],
			 (unsigned long long)v.pr.total);
	}
	/* Mounted, or stopped by a crash: writes in flight are not damage. */
	if (live && !o->json)
		wctl_out("%s: in use or not closed cleanly: checked the committed state; writes "
			 "in progress (or interrupted, rolled back at the next mount) are not "
			 "counted", o->pos[0]);
	return bad ? WCTL_FAIL : WCTL_OK;
}

int wctl_reattach(const struct wctl_opts *o)
{
	char path[4096] = "", *end;
	unsigned long long ino;
	ns *n = NULL;
	int rc;

	errno = 0;
	ino = strtoull(o->pos[1], &end, 10);
	if (errno || end == o->pos[1] || *end || ino == 0)
		return wctl_usage(o, "INO must be an inode number (as verify prints it: "
				  "BUCKET/#INO)");
	if (wctl_open_store(o, o->pos[0], 0, &n))
		return WCTL_FAIL;
	rc = ns_reattach(n, ino, path, sizeof(path));
	ns_close(n);
	if (rc == -EEXIST)
		return wctl_err("%s %s %llu: the node is named by its directory already", o->cmd,
				o->pos[0], ino);
	if (rc == -EPERM)
		return wctl_err("%s %s %llu: its record fails authentication: it cannot be "
				"written (see wormctl verify)", o->cmd, o->pos[0], ino);
	if (rc)
		return wctl_err("%s %s %llu: %s", o->cmd, o->pos[0], ino, strerror(-rc));
	wctl_out("inode %llu re-attached as %s", ino, path);
	return WCTL_OK;
}

/* Only the state digest: after an offline change an operator has looked at
 * (wormctl verify) and accepts; every record keeps its own MAC check. */
int wctl_repair_digest(const struct wctl_opts *o)
{
	ns *n = NULL;
	int rc;

	if (wctl_open_store(o, o->pos[0], 0, &n))
		return WCTL_FAIL;
	rc = ns_repair_digest(n, o->accept_audit_damage ? NS_REPAIR_ACCEPT_AUDIT_DAMAGE : 0);
	ns_close(n);
	if (rc == -EBADMSG)
		return wctl_err("%s %s: refused: the audit trail fails verification (wormctl audit "
				"verify %s names the records), so a lock whose record was removed "
				"cannot be checked; --accept-audit-damage re-seals anyway (recorded)",
				o->cmd, o->pos[0], o->pos[0]);
	if (rc == -EUCLEAN)
		return wctl_err("%s %s: refused: an object holds less lock than the audit trail "
				"records (wormctl verify %s names it); a state that undoes a lock "
				"is never accepted", o->cmd, o->pos[0], o->pos[0]);
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	wctl_out("%s: metadata state digest %s", o->pos[0],
		 rc ? "re-sealed (the state as it is now is accepted)" : "sound: nothing to do");
	return WCTL_OK;
}

int wctl_repair(const struct wctl_opts *o)
{
	ns *n = NULL;
	int rc;

	if (wctl_open_store(o, o->pos[0], 0, &n))
		return WCTL_FAIL;
	rc = ns_repair_counter(n);
	/* Last: the digest then covers the repaired counter. */
	int drc = rc < 0 ? 0 : ns_repair_digest(n, o->accept_audit_damage ?
					       NS_REPAIR_ACCEPT_AUDIT_DAMAGE : 0);
	ns_close(n);
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(-rc));
	wctl_out("%s: inode counter %s", o->pos[0], rc ? "re-sealed" : "sound: nothing to do");
	if (drc == -EBADMSG)
		return wctl_err("%s %s: state digest not re-sealed: the audit trail fails "
				"verification (wormctl audit verify %s); --accept-audit-damage "
				"re-seals anyway (recorded)", o->cmd, o->pos[0], o->pos[0]);
	if (drc == -EUCLEAN)
		return wctl_err("%s %s: state digest not re-sealed: an object holds less lock "
				"than the audit trail records (wormctl verify %s names it)",
				o->cmd, o->pos[0], o->pos[0]);
	if (drc < 0)
		return wctl_err("%s %s: state digest: %s", o->cmd, o->pos[0], strerror(-drc));
	wctl_out("%s: metadata state digest %s", o->pos[0],
		 drc ? "re-sealed (the state as it is now is accepted)" : "sound: nothing to do");
	return WCTL_OK;
}
