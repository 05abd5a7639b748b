/* ns_auth: authentication of the metadata records beyond the node MAC
 * (design section 7): the MAC function meta uses for directory entries,
 * the inode counter, orphan entries and symlink targets; the compliance
 * clock's high-water mark; the store's "records authenticated" flag; and
 * the one-time upgrade of a store written before them.
 *
 * Keys: one subkey of the ring's record key (which the KMS holds with the
 * master keys, random per store, so every MAC is bound to its store),
 * derived with crypto_kdf, context "wfsrecs1". Node MACs keep the record
 * key itself. Every message starts with a tag naming its record type.
 *
 * Downgrade: once the flag is written (at init, or by the upgrade), a
 * record without a MAC is refused like a forged one. A flag that is
 * missing or fails while records with MACs exist (an edit to make the
 * store look old) keeps the store strict and is reported by verify. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns_auth.h"
#include "ns_record.h"
#include "log.h"

#define KV_AUTH_FLAG "auth_records"
#define KV_CLOCK_HWM "clock_hwm"
/* 1: records carry MACs; 2: and the store keeps a state digest
 * (ns_digest.c): a store at 2 without a digest record is refused. */
#define AUTH_FLAG_VERSION 1u
#define AUTH_FLAG_DIGEST 2u

static int rec_auth(void *arg, const void *msg, size_t len, uint8_t mac[32], int check)
{
	ns *n = arg;

	if (check)
		return wcrypto_mac_verify(mac, n->mkey, msg, len) ? -EBADMSG : 0;
	return wcrypto_mac(mac, n->mkey, msg, len);
}

/* MAC of a kv record: tag | key | value. */
static int kv_mac(ns *n, char tag, const char *key, const void *val, size_t len,
		  uint8_t mac[32])
{
	uint8_t msg[1 + 32 + 16];
	size_t kl = strlen(key);

	if (1 + kl + len > sizeof(msg))
		return -EINVAL;
	msg[0] = (uint8_t)tag;
	memcpy(msg + 1, key, kl);
	memcpy(msg + 1 + kl, val, len);
	return wcrypto_mac(mac, n->mkey, msg, 1 + kl + len);
}

static int kv_mac_ok(ns *n, char tag, const char *key, const void *val, size_t len,
		     const uint8_t mac[32])
{
	uint8_t m[32];

	/* Before ns_auth_open derived the key (the first store head is made
	 * earlier in ns_open): fail closed, never a MAC with no key. */
	if (!n->mkey || kv_mac(n, tag, key, val, len, m))
		return 0;
	return wcrypto_equal(m, mac, 32);
}

static int ns_auth_key(ns *n)
{
	if (!n->mkey && !(n->mkey = wcrypto_secure_alloc(32)))
		return -ENOMEM;
	return wcrypto_kdf(n->mkey, n->reckey, 1, "wfsrecs1");
}

static int flag_put_v(ns *n, meta_txn *t, uint32_t v)
{
	uint8_t buf[4 + 32];
	int rc;

	memcpy(buf, &v, 4);
	rc = kv_mac(n, 'F', KV_AUTH_FLAG, buf, 4, buf + 4);
	return rc ? rc : meta_kv_put(t, KV_AUTH_FLAG, buf, sizeof(buf));
}

static int flag_put(ns *n, meta_txn *t)
{
	return flag_put_v(n, t, n->digest_required ? AUTH_FLAG_DIGEST : AUTH_FLAG_VERSION);
}

int ns_auth_flag_digest(ns *n, meta_txn *t)
{
	n->digest_required = 1;
	return flag_put_v(n, t, AUTH_FLAG_DIGEST);
}

/* Its version (1 or 2) if valid, 0 absent, -EIO present but failing. */
static int flag_get(ns *n, meta_txn *t)
{
	uint8_t buf[4 + 32];
	size_t len = 0;
	int rc = meta_kv_get(t, KV_AUTH_FLAG, buf, sizeof(buf), &len);

	if (rc == -ENOENT)
		return 0;
	uint32_t v;

	if (rc || len != sizeof(buf) || !kv_mac_ok(n, 'F', KV_AUTH_FLAG, buf, 4, buf + 4))
		return -EIO;
	memcpy(&v, buf, 4);
	if (v != AUTH_FLAG_VERSION && v != AUTH_FLAG_DIGEST)
		return -EIO;
	return (int)v;
}

int ns_auth_init_store(ns *n, meta_env *me, meta_txn *t)
{
	int rc = ns_auth_key(n);

	if (rc)
		return rc;
	meta_set_auth(me, rec_auth, n, 1);
	n->rec_strict = 1;
	/* A new store keeps its state digest from the start (nstool.c). */
	return ns_auth_flag_digest(n, t);
}

int ns_clock_put(ns *n, meta_txn *t, int64_t hwm)
{
	uint8_t buf[8 + 32];
	int rc;

	memcpy(buf, &hwm, 8);
	rc = kv_mac(n, 'C', KV_CLOCK_HWM, buf, 8, buf + 8);
	return rc ? rc : meta_kv_put(t, KV_CLOCK_HWM, buf, sizeof(buf));
}

int ns_clock_get(ns *n, meta_txn *t, int64_t *hwm)
{
	uint8_t buf[8 + 32];
	size_t len = 0;
	int rc = meta_kv_get(t, KV_CLOCK_HWM, buf, sizeof(buf), &len);

	*hwm = 0;
	if (rc == -ERANGE)
		return -EIO;
	if (rc)
		return rc;
	if (len == 8 && !n->rec_strict) {
		memcpy(hwm, buf, 8);   /* a store not upgraded yet */
		return 0;
	}
	if (len != sizeof(buf) || !kv_mac_ok(n, 'C', KV_CLOCK_HWM, buf, 8, buf + 8))
		return -EIO;
	memcpy(hwm, buf, 8);
	return 0;
}

/* ---- upgrade ------------------------------------------------------------ */

struct up_node {
	uint64_t ino, parent;
	int counted;              /* in the namespace (nlink > 0), not the root */
};

struct up_ctx {
	struct up_node *v;
	size_t n, cap;
	int rc;
};

static int up_collect(void *arg, const struct meta_node *nd)
{
	struct up_ctx *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct up_node *g = realloc(c->v, cap * sizeof(*g));
		if (!g) {
			c->rc = -ENOMEM;
			return 1;
		}
		c->v = g;
		c->cap = cap;
	}
	c->v[c->n++] = (struct up_node){ nd->ino, nd->parent,
					 nd->nlink > 0 && nd->ino != NS_INO_ROOT };
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* How many of the sorted parents are dir. */
static uint64_t count_of(const uint64_t *par, size_t n, uint64_t dir)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (par[mid] < dir)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t k = 0;
	while (lo + k < n && par[lo + k] == dir)
		k++;
	return k;
}

/* Every record gets its MAC and every node record version 2 (with its
 * directory's count of children), in one transaction: a crash leaves the
 * store as it was. A node record that fails authentication stays as it
 * is (version 1): refused from then on, as before. */
static int upgrade(ns *n)
{
	struct up_ctx c = { 0 };
	meta_txn *t = NULL;
	uint64_t *par = NULL;
	size_t np = 0;
	long recs = 0, nodes = 0, bad = 0;
	int rc = meta_txn_begin(n->me, 0, &t);

	if (rc)
		return rc;
	rc = meta_node_foreach(t, up_collect, &c);
	if (!rc)
		rc = c.rc;
	if (!rc && !(par = malloc((c.n ? c.n : 1) * sizeof(*par))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < c.n; i++)
		if (c.v[i].counted)
			par[np++] = c.v[i].parent;
	if (!rc)
		qsort(par, np, sizeof(*par), cmp_u64);
	for (size_t i = 0; !rc && i < c.n; i++) {
		struct meta_node nd;
		rc = ns_node_get(n, t, c.v[i].ino, &nd);
		if (rc)
			break;
		if (nd.flags & NS_F_AUTH_FAILED) {
			bad++;
			continue;
		}
		if (S_ISDIR(nd.mode))
			nd.children = count_of(par, np, nd.ino);
		rc = ns_node_put(n, t, &nd);
		nodes++;
	}
	if (!rc) {
		recs = meta_auth_upgrade(t);
		if (recs < 0)
			rc = (int)recs;
	}
	if (!rc) {
		int64_t hwm;
		/* The clock as it is now (legacy, 8 bytes): sealed too. */
		if (!ns_clock_get(n, t, &hwm))
			rc = ns_clock_put(n, t, hwm);
	}
	if (!rc)
		rc = flag_put(n, t);
	if (rc)
		meta_txn_abort(t);
	else
		rc = meta_txn_commit(t);
	if (!rc)
		rc = meta_sync(n->me);
	free(par);
	free(c.v);
	if (!rc) {
		wlog(WLOG_WARN, "store upgraded to authenticated metadata records: %ld node "
		     "records, %ld other records; from now on a record without its MAC is refused",
		     nodes, recs);
		if (bad)
			wlog(WLOG_ERR, "%ld node record(s) failed authentication before the upgrade "
			     "and were left as they were (treated as locked; see wormctl verify)", bad);
	}
	return rc;
}

/* Stops the walk at the first node record of version 2 or later. */
static int any_v2(void *arg, const struct meta_node *nd)
{
	(void)arg;
	return nd->version >= 2;
}

int ns_auth_open(ns *n, char *err, size_t errlen)
{
	meta_txn *t = NULL;
	struct meta_node root;
	int flag, any_new = 0, rc;

	rc = ns_auth_key(n);
	if (rc)
		return rc;
	meta_set_auth(n->me, rec_auth, n, 0);
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	flag = flag_get(n, t);
	if (flag == (int)AUTH_FLAG_DIGEST)
		n->digest_required = 1;
	if (flag < 1) {
		uint8_t dg[META_DIGEST_BYTES];
		/* The state digest came after record MACs: a store that has its
		 * record, or whose store head says it kept one (n->digest_head,
		 * STORE/head is outside meta/), was written with MACs, however
		 * old its records look now. Without this, a whole store made to
		 * look older (the flag deleted, every entry's MAC stripped,
		 * every node record's version set to 1: those fail, but none
		 * says version 2) was upgraded below, before the digest is
		 * checked, and entries edited meanwhile got fresh MACs. Its
		 * audit trail tells too (n->trail_mac: a seal's record), also
		 * with every store head deleted and the root's version-1
		 * record of before the upgrade put back. */
		any_new = n->digest_head || n->trail_mac || meta_digest_get(t, dg) != -ENOENT;
		if (!any_new)
			any_new = meta_auth_any_new(t);
		/* A store from before record MACs has an authentic root record
		 * of version 1 (node MACs are older): one missing, failing
		 * authentication (a version-2 record with its version word
		 * set to 1 fails) or of version 2 does not show an older
		 * store, whatever else was deleted or hidden meanwhile. */
		if (!any_new) {
			int r = ns_node_get(n, t, NS_INO_ROOT, &root);
			if (r && r != -ENOENT)
				any_new = r;
			else
				any_new = r == -ENOENT || (root.flags & NS_F_AUTH_FAILED) ||
					  root.version >= 2;
		}
		/* Any node record of version 2 was written by an upgraded
		 * store: the root's record alone can be an older one put back
		 * from a backup (then this walk, once per such open, sees the
		 * others). */
		if (!any_new) {
			int r = meta_node_foreach(t, any_v2, NULL);
			any_new = r < 0 ? r : r > 0;
		}
	}
	meta_txn_abort(t);
	if (flag >= 1) {
		n->rec_strict = 1;
	} else if (flag < 0 || any_new > 0) {
		/* Records with MACs exist: the flag was removed or edited to make
		 * the store look as if written before them. Stay strict. */
		n->rec_strict = 1;
		n->auth_flag_bad = 1;
		wlog(WLOG_ERR, "the store's authenticated-records flag is %s although the store "
		     "was written with record MACs (records carry them, a state digest was kept, or "
		     "the root's record is not an older store's): records without a MAC are "
		     "refused, nothing is upgraded (see wormctl verify)",
		     flag < 0 ? "damaged" : "missing");
	} else if (any_new < 0) {
		return any_new;
	} else if (!(n->flags & NS_RDONLY)) {
		rc = upgrade(n);
		if (rc) {
			wlog_seterr(err, errlen, "cannot upgrade the store to authenticated metadata "
				    "records: %s", strerror(-rc));
			return rc;
		}
		n->rec_strict = 1;
	}
	meta_set_auth(n->me, rec_auth, n, n->rec_strict);
	return 0;
}
