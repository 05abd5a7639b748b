/* ns_user: S3 users (design section 11; include/ns.h). A user record holds
 * the POSIX identity an access key acts as and the secret, sealed under
 * the active master key (kms_encrypt); meta stores it with a MAC, in the
 * state digest, beside an index from key id to name (meta_user.c).
 *
 * Record (little-endian): u8 version | u8 flags (bit 0 admin) | u16
 * ngroups | u32 uid | u32 gid | i64 created_s | u8 keyid length | keyid |
 * u16 sealed length | sealed secret | u32 group * ngroups. The MAC covers
 * it whole, so a sealed secret moved to another user's record fails. */
#include "ns_user.h"
#include "ns_trail.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#define REC_VERSION 1
#define SEALED_MAX (NS_USER_SECRET_MAX + KMS_ENCRYPT_OVERHEAD)

/* 16-bit fields (byteorder.h has 32 and 64). */
static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

struct user_rec {
	struct ns_user u;
	uint8_t sealed[SEALED_MAX];
	size_t sealed_len;
};

/* ---- rules --------------------------------------------------------------- */

static int name_ok(const char *s)
{
	size_t len = s ? strnlen(s, NS_USER_NAME_MAX + 1) : 0;

	if (len == 0 || len > NS_USER_NAME_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789+=,.@_-") == len;
}

static int keyid_ok(const char *s)
{
	size_t len = s ? strnlen(s, NS_USER_KEYID_MAX + 1) : 0;

	if (len < NS_USER_KEYID_MIN || len > NS_USER_KEYID_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789") == len;
}

static int secret_ok(const char *s, size_t size)
{
	size_t len = strnlen(s, size < NS_USER_SECRET_MAX + 1 ? size : NS_USER_SECRET_MAX + 1);

	if (len < NS_USER_SECRET_MIN || len > NS_USER_SECRET_MAX || len == size)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* len characters drawn uniformly from alpha (of alen <= 256) into out. */
static void random_chars(char *out, size_t len, const char *alpha, unsigned alen)
{
	unsigned limit = 256 - 256 % alen;   /* reject above: no bias */
	uint8_t b[64];
	size_t i = 0;

	while (i < len) {
		wcrypto_random(b, sizeof(b));
		for (size_t j = 0; j < sizeof(b) && i < len; j++)
			if (b[j] < limit)
				out[i++] = alpha[b[j] % alen];
	}
	wcrypto_wipe(b, sizeof(b));
	out[len] = '\0';
}

/* ---- the record ----------------------------------------------------------- */

static size_t rec_encode(const struct user_rec *r, uint8_t *buf)
{
	size_t kl = strlen(r->u.access_key_id), p = 0;

	buf[p++] = REC_VERSION;
	buf[p++] = r->u.admin ? 1 : 0;
	put_u16(buf + p, (uint16_t)r->u.ngroups), p += 2;
	put_le32(buf + p, r->u.uid), p += 4;
	put_le32(buf + p, r->u.gid), p += 4;
	put_le64(buf + p, (uint64_t)r->u.created_s), p += 8;
	buf[p++] = (uint8_t)kl;
	memcpy(buf + p, r->u.access_key_id, kl), p += kl;
	put_u16(buf + p, (uint16_t)r->sealed_len), p += 2;
	memcpy(buf + p, r->sealed, r->sealed_len), p += r->sealed_len;
	for (size_t i = 0; i < r->u.ngroups; i++)
		put_le32(buf + p, r->u.groups[i]), p += 4;
	return p;
}

/* -EIO for anything ns_user_add would not have written (the record is
 * authentic, so only a bug or a future version gets here). */
static int rec_decode(const char *name, const uint8_t *b, size_t len, struct user_rec *r)
{
	size_t p = 0, kl, sl, ng;

	memset(r, 0, sizeof(*r));
	if (len < 21 || b[0] != REC_VERSION || (b[1] & ~1u))
		return -EIO;
	r->u.admin = b[1] & 1;
	ng = get_u16(b + 2);
	r->u.uid = get_le32(b + 4);
	r->u.gid = get_le32(b + 8);
	r->u.created_s = (int64_t)get_le64(b + 12);
	kl = b[20];
	p = 21;
	if (ng > NS_USER_GROUPS_MAX || kl > NS_USER_KEYID_MAX || len < p + kl + 2)
		return -EIO;
	memcpy(r->u.access_key_id, b + p, kl);
	r->u.access_key_id[kl] = '\0';
	p += kl;
	sl = get_u16(b + p);
	p += 2;
	if (sl < KMS_ENCRYPT_OVERHEAD || sl > SEALED_MAX || len != p + sl + 4 * ng)
		return -EIO;
	memcpy(r->sealed, b + p, sl);
	r->sealed_len = sl;
	p += sl;
	for (size_t i = 0; i < ng; i++)
		r->u.groups[i] = get_le32(b + p + 4 * i);
	r->u.ngroups = ng;
	snprintf(r->u.name, sizeof(r->u.name), "%s", name);
	return keyid_ok(r->u.access_key_id) && name_ok(name) ? 0 : -EIO;
}

/* ---- add -------------------------------------------------------------------- */

static int count_cb(void *arg, const char *name, const void *rec, size_t len)
{
	(void)name, (void)rec, (void)len;
	return ++*(size_t *)arg >= NS_USER_MAX ? -EDQUOT : 0;
}

/* One write transaction: both records and the audit record. */
static int add_txn(ns *n, uint32_t uid, const struct user_rec *r)
{
	uint8_t buf[META_USER_REC_MAX];
	char text[NS_USER_NAME_MAX + NS_USER_KEYID_MAX + 96];
	meta_txn *t = NULL;
	size_t len = rec_encode(r, buf), count = 0;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	rc = meta_user_foreach(t, count_cb, &count);
	if (!rc)
		rc = meta_user_put(t, r->u.name, buf, len, 1);
	if (!rc)
		rc = meta_userkey_put(t, r->u.access_key_id, r->u.name, 1);
	if (!rc) {
		snprintf(text, sizeof(text), "name=%s key=%s uid=%" PRIu32 " gid=%" PRIu32 "%s",
			 r->u.name, r->u.access_key_id, r->u.uid, r->u.gid,
			 r->u.admin ? " admin" : "");
		rc = ns_trail_event(n, t, "s3-user", "add", 0, NULL, uid, NULL, text);
	}
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	return rc ? rc : ns_durable(n);
}

int ns_user_add(ns *n, const struct ns_caller *c, struct ns_user *u, char *secret,
		size_t secret_size)
{
	static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789+/";
	struct user_rec *r;
	int made = u->access_key_id[0] == '\0', rc;

	if (!name_ok(u->name) || u->ngroups > NS_USER_GROUPS_MAX || !secret)
		return -EINVAL;
	if (made && secret_size < NS_USER_SECRET_MADE + 1)
		return -ERANGE;
	if (!made && (!keyid_ok(u->access_key_id) || !secret_ok(secret, secret_size)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	u->created_s = ns_clock_now(n);   /* seconds (wclock_now) */
	u->admin = !!u->admin;
	for (int tries = 0;; tries++) {
		if (made) {
			memcpy(u->access_key_id, "AKIA", 4);
			random_chars(u->access_key_id + 4, 16, upper, 36);
			random_chars(secret, NS_USER_SECRET_MADE, b64, 64);
		}
		r->u = *u;
		rc = kms_encrypt(n->km, secret, strlen(secret), r->sealed,
				 (uint64_t)clock_monotonic_ns());
		if (rc)
			break;
		r->sealed_len = strlen(secret) + KMS_ENCRYPT_OVERHEAD;
		rc = add_txn(n, c ? c->uid : 0, r);
		/* A made key id that is taken (one in 36^16): make another. A
		 * taken name fails the same way every time. */
		if (rc != -EEXIST || !made || tries == 3)
			break;
		struct ns_user probe;
		char s2[NS_USER_SECRET_MAX + 1];
		size_t l2;
		int lr = ns_user_lookup(n, u->access_key_id, &probe, s2, sizeof(s2), &l2);
		wcrypto_wipe(s2, sizeof(s2));
		if (lr == -ENOENT)
			break;   /* the name is what is taken */
	}
	if (rc && made) {
		wcrypto_wipe(secret, secret_size);
		u->access_key_id[0] = '\0';
	}
	/* after the commit: see ns_user_generation */
	atomic_fetch_add(&n->users_gen, 1);
	if (!rc)
		wlog(WLOG_INFO, "s3 user added: name=%s key=%s uid=%" PRIu32, u->name,
		     u->access_key_id, u->uid);
	free(r);
	return rc;
}

/* ---- remove ----------------------------------------------------------------- */

struct key_list {
	const char *name;
	char (*ids)[NS_USER_KEYID_MAX + 1];
	size_t count, cap;
};

static int collect_keys(void *arg, const char *keyid, const char *name)
{
	struct key_list *l = arg;

	if (!name || strcmp(name, l->name))
		return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		void *p = realloc(l->ids, cap * sizeof(*l->ids));
		if (!p)
			return -ENOMEM;
		l->ids = p;
		l->cap = cap;
	}
	snprintf(l->ids[l->count++], sizeof(l->ids[0]), "%s", keyid);
	return 0;
}

int ns_user_remove(ns *n, const struct ns_caller *c, const char *name)
{
	struct key_list l = { name, NULL, 0, 0 };
	char text[NS_USER_NAME_MAX + 64];
	uint8_t buf[META_USER_REC_MAX];
	meta_txn *t = NULL;
	size_t len;
	int rc, damaged;

	if (!name_ok(name))
		return -EINVAL;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_user_get(t, name, buf, sizeof(buf), &len);
	damaged = rc == -EIO || rc == -ERANGE;
	if (rc && !damaged)
		goto fail;
	/* Every key id naming the user, whether its record is sound or not:
	 * a forged record cannot be trusted to name its key. */
	rc = meta_userkey_foreach(t, collect_keys, &l);
	for (size_t i = 0; !rc && i < l.count; i++)
		rc = meta_userkey_del(t, l.ids[i]);
	if (!rc)
		rc = meta_user_del(t, name);
	if (!rc) {
		snprintf(text, sizeof(text), "name=%s keys=%zu%s", name, l.count,
			 damaged ? " damaged" : "");
		rc = ns_trail_event(n, t, "s3-user", "remove", 0, NULL, c ? c->uid : 0, NULL,
				    text);
	}
	if (rc)
		goto fail;
	free(l.ids);
	rc = meta_txn_commit(t);
	if (!rc)
		rc = ns_durable(n);
	atomic_fetch_add(&n->users_gen, 1);   /* after the commit */
	if (!rc)
		wlog(WLOG_INFO, "s3 user removed: name=%s%s", name,
		     damaged ? " (its record failed authentication)" : "");
	return rc;
fail:
	free(l.ids);
	meta_txn_abort(t);
	return rc;
}

uint64_t ns_user_generation(ns *n)
{
	return atomic_load(&n->users_gen);
}

/* ---- list and lookup -------------------------------------------------------- */

struct list_ctx {
	ns_user_cb cb;
	void *arg;
	struct user_rec r;
};

static int list_step(void *arg, const char *name, const void *rec, size_t len)
{
	struct list_ctx *l = arg;

	if (!rec || rec_decode(name, rec, len, &l->r)) {
		memset(&l->r.u, 0, sizeof(l->r.u));
		snprintf(l->r.u.name, sizeof(l->r.u.name), "%s", name);
		l->r.u.damaged = 1;
	}
	return l->cb(l->arg, &l->r.u);
}

int ns_user_list(ns *n, ns_user_cb cb, void *arg)
{
	struct list_ctx *l = calloc(1, sizeof(*l));
	meta_txn *t = NULL;
	int rc;

	if (!l)
		return -ENOMEM;
	l->cb = cb;
	l->arg = arg;
	rc = meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = meta_user_foreach(t, list_step, l);
		meta_txn_abort(t);
	}
	free(l);
	return rc;
}

/* The record of key id key_id: -ENOENT, or -EIO (logged, counted) when
 * a record fails, or names another key. */
static int find(ns *n, const char *key_id, struct user_rec *r)
{
	char name[META_USER_ID_MAX + 1];
	uint8_t buf[META_USER_REC_MAX];
	meta_txn *t = NULL;
	size_t len = 0;
	int rc;

	if (!keyid_ok(key_id))
		return -ENOENT;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	rc = meta_userkey_get(t, key_id, name, sizeof(name));
	if (!rc)
		rc = meta_user_get(t, name, buf, sizeof(buf), &len);
	if (rc == -ERANGE)
		rc = -EIO;
	if (!rc)
		rc = rec_decode(name, buf, len, r);
	if (!rc && strcmp(r->u.access_key_id, key_id))
		rc = -EIO;   /* an index entry put back from an older copy */
	meta_txn_abort(t);
	if (rc == -EIO) {
		stats_auth_failure(&n->stats);
		wlog(WLOG_ERR, "s3 user of access key %s: record fails authentication "
		     "(refused; wormctl s3 user list shows it)", key_id);
	}
	return rc;
}

int ns_user_lookup(ns *n, const char *key_id, struct ns_user *u, char *secret,
		   size_t secret_size, size_t *secret_len)
{
	struct user_rec *r = calloc(1, sizeof(*r));
	size_t plain;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = find(n, key_id, r);
	if (rc)
		goto out;
	plain = r->sealed_len - KMS_ENCRYPT_OVERHEAD;
	if (plain + 1 > secret_size) {
		rc = -ERANGE;
		goto out;
	}
	rc = kms_decrypt_blob(n->km, r->sealed, r->sealed_len, secret,
			      (uint64_t)clock_monotonic_ns());
	if (!rc)
		secret[plain] = '\0';
	if (rc == -EBADMSG || (!rc && !secret_ok(secret, plain + 1))) {
		wcrypto_wipe(secret, secret_size);
		stats_auth_failure(&n->stats);
		wlog(WLOG_ERR, "s3 user %s: sealed secret fails authentication (refused)",
		     r->u.name);
		rc = -EIO;
	}
	if (rc)
		goto out;
	*u = r->u;
	if (secret_len)
		*secret_len = plain;
out:
	if (rc && rc != -ERANGE && secret_size)
		secret[0] = '\0';
	free(r);
	return rc;
}

/* ---- the master key versions (ns_user.h) ------------------------------------- */

struct names {
	char (*v)[NS_USER_NAME_MAX + 1];
	size_t count, cap;
	uint32_t min, max;
};

static int names_step(void *arg, const char *name, const void *rec, size_t len)
{
	struct names *l = arg;
	struct user_rec r;

	if (!rec || rec_decode(name, rec, len, &r))
		return 0;   /* fails authentication: left alone, list shows it */
	uint32_t ver = get_le32(r.sealed);
	if (!l->min || ver < l->min)
		l->min = ver;
	if (ver > l->max)
		l->max = ver;
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->v, cap * sizeof(*l->v));
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	snprintf(l->v[l->count++], sizeof(l->v[0]), "%s", name);
	return 0;
}

static int scan_names(ns *n, struct names *l)
{
	meta_txn *t = NULL;
	int rc = meta_txn_begin(n->me, 1, &t);

	if (rc)
		return rc;
	rc = meta_user_foreach(t, names_step, l);
	meta_txn_abort(t);
	return rc;
}

int ns_user_key_versions(ns *n, uint32_t *min_version, uint32_t *max_version)
{
	struct names l = { NULL, 0, 0, 0, 0 };
	int rc = scan_names(n, &l);

	free(l.v);
	*min_version = l.min;
	*max_version = l.max;
	return rc;
}

/* Re-seal one user's secret under the active version: 1 if done, 0 if it
 * was sealed so already (or is gone, or fails authentication, or changed
 * meanwhile). The KMS requests come before the write transaction, not in
 * it (as for objects, ns_rewrap): a rewrap waiting for KMS tokens must
 * not hold off every other writer; the record is read again there and
 * replaced only if it is still the one re-sealed. */
static int reseal_one(ns *n, const char *name, uint32_t active, uint8_t *plain)
{
	uint8_t buf[META_USER_REC_MAX], now[META_USER_REC_MAX];
	struct user_rec *r = calloc(1, sizeof(*r));
	meta_txn *t = NULL;
	size_t len = 0, nlen = 0, pl;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		goto out;
	rc = meta_user_get(t, name, buf, sizeof(buf), &len);
	meta_txn_abort(t);
	if (!rc)
		rc = rec_decode(name, buf, len, r);
	if (rc) {
		rc = rc == -ENOENT || rc == -EIO || rc == -ERANGE ? 0 : rc;
		goto out;
	}
	if (get_le32(r->sealed) == active)
		goto out;
	pl = r->sealed_len - KMS_ENCRYPT_OVERHEAD;
	rc = kms_decrypt_blob(n->km, r->sealed, r->sealed_len, plain,
			      (uint64_t)clock_monotonic_ns());
	if (!rc)
		rc = kms_encrypt(n->km, plain, pl, r->sealed, (uint64_t)clock_monotonic_ns());
	wcrypto_wipe(plain, NS_USER_SECRET_MAX);
	if (rc)
		goto out;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		goto out;
	rc = meta_user_get(t, name, now, sizeof(now), &nlen);
	if (rc || nlen != len || memcmp(now, buf, len) != 0) {
		meta_txn_abort(t);
		rc = rc && rc != -ENOENT && rc != -EIO && rc != -ERANGE ? rc : 0;
		goto out;
	}
	len = rec_encode(r, buf);
	rc = meta_user_put(t, name, buf, len, 0);
	if (rc) {
		meta_txn_abort(t);
		goto out;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = 1;
out:
	free(r);
	return rc;
}

long ns_user_rewrap(ns *n, uint32_t active)
{
	struct names l = { NULL, 0, 0, 0, 0 };
	uint8_t *plain = wcrypto_secure_alloc(NS_USER_SECRET_MAX);
	long done = 0;
	int rc = plain ? scan_names(n, &l) : -ENOMEM;

	for (size_t i = 0; !rc && i < l.count; i++) {
		int r = reseal_one(n, l.v[i], active, plain);
		if (r < 0)
			rc = r;
		else
			done += r;
	}
	free(l.v);
	wcrypto_secure_free(plain);
	return rc ? rc : done;
}

/* ---- verify (ns_user.h) -------------------------------------------------------- */

struct verify_ctx {
	ns_damage_cb cb;
	void *arg;
	long count;
	struct user_rec r;
};

static int verify_user(void *arg, const char *name, const void *rec, size_t len)
{
	struct verify_ctx *v = arg;
	char what[NS_USER_NAME_MAX + 16];

	if (rec && !rec_decode(name, rec, len, &v->r))
		return 0;
	snprintf(what, sizeof(what), "s3 user %s", name);
	v->count++;
	return v->cb ? v->cb(v->arg, what, "user record fails authentication (its access key "
			     "is refused; wormctl s3 user remove drops it)") : 0;
}

static int verify_key(void *arg, const char *keyid, const char *name)
{
	struct verify_ctx *v = arg;
	char what[NS_USER_KEYID_MAX + 24];

	if (name)
		return 0;
	snprintf(what, sizeof(what), "s3 access key %s", keyid);
	v->count++;
	return v->cb ? v->cb(v->arg, what, "key id record fails authentication (refused)") : 0;
}

long ns_user_verify(ns *n, ns_damage_cb cb, void *arg)
{
	struct verify_ctx *v = calloc(1, sizeof(*v));
	meta_txn *t = NULL;
	long count;
	int rc;

	if (!v)
		return -ENOMEM;
	v->cb = cb;
	v->arg = arg;
	rc = meta_txn_begin(n->me, 1, &t);
	if (!rc) {
		rc = meta_user_foreach(t, verify_user, v);
		if (!rc)
			rc = meta_userkey_foreach(t, verify_key, v);
		meta_txn_abort(t);
	}
	count = v->count;
	free(v);
	return rc ? rc : count;
}
