/* kms: local key management shaped like AWS KMS (design section 8):
 * parameters, the request gate and the operations. The key ring file is
 * kms_ring.c, the DEK cache kms_dek_cache.c; struct kms is known here only.
 *
 * Locks: ring_lock (rwlock) guards the ring; the DEK cache has its own
 * mutex inside. Order: ring_lock before the cache's, never the reverse. A
 * Decrypt unwraps and inserts into the cache under one read lock, so a
 * version removal (write lock, then purge) can never leave a DEK of a
 * removed version cached. */
#include "kms_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "byteorder.h"
#include "log.h"
#include "ratelimit.h"

#define DEK_AD_BYTES 28            /* "WORMDEK1" | ctx | version */
#define BLOB_MAX 4096
#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

struct kms {
	char *dir;
	struct kms_ring_hdr hdr;      /* how the ring file is unlocked */
	struct kms_ring *ring;
	pthread_rwlock_t ring_lock;
	struct kms_params p;
	uint64_t max_wait_ns;
	struct rl_gcra rl[KMS_CLASS__COUNT];
	struct rl_gcra log_rl;        /* throttling log lines: 1/s, burst 5 */
	_Atomic uint64_t log_suppressed;
	_Atomic uint64_t requests[KMS_CLASS__COUNT];
	_Atomic uint64_t throttled[KMS_CLASS__COUNT];
	_Atomic uint64_t wait_ns[KMS_CLASS__COUNT];
	_Atomic uint64_t hits, misses;
	struct kms_dek_cache *cache;
	struct wcrypto_impl_choice impl;   /* resolved crypto_impl */
};

static const char *const class_names[KMS_CLASS__COUNT] = { "cryptographic", "management" };

void kms_params_default(struct kms_params *p)
{
	p->crypto_rate = 5000;
	p->crypto_burst = 5000;
	p->mgmt_rate = 100;
	p->mgmt_burst = 100;
	p->throttle = KMS_THROTTLE_WAIT;
	p->max_wait_ms = 5000;
	p->cache_entries = 10000;
	p->cache_ttl_s = 300;
	p->crypto_impl = WCRYPTO_IMPL_AUTO;
}

/* ---- open / close ---- */

/* A struct kms with dir and a zeroed ring (secure memory); NULL if out of
 * memory. kms_free_bare releases what kms_alloc made (wipes the ring). */
static struct kms *kms_alloc(const char *dir)
{
	struct kms *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->dir = strdup(dir);
	k->ring = wcrypto_secure_alloc(sizeof(*k->ring));
	if (!k->dir || !k->ring) {
		free(k->dir);
		wcrypto_secure_free(k->ring);
		free(k);
		return NULL;
	}
	memset(k->ring, 0, sizeof(*k->ring));
	return k;
}

static void kms_free_bare(struct kms *k)
{
	if (!k)
		return;
	wcrypto_secure_free(k->ring);   /* wipes */
	free(k->dir);
	free(k);
}

static int params_check(const struct kms_params *in, struct kms_params *out)
{
	*out = *in;
	if (out->crypto_burst == 0)
		out->crypto_burst = out->crypto_rate;
	if (out->mgmt_burst == 0)
		out->mgmt_burst = out->mgmt_rate;
	if (out->throttle != KMS_THROTTLE_WAIT && out->throttle != KMS_THROTTLE_FAIL)
		return -EINVAL;
	if (out->cache_entries > KMS_CACHE_MAX)
		return -EINVAL;
	if (out->crypto_impl < 0 || out->crypto_impl >= WCRYPTO_IMPL__COUNT)
		return -EINVAL;
	return 0;
}

/* Resolve crypto_impl (after params_check) and say what was chosen. */
static int impl_choose(struct kms *k, char *err, size_t errlen)
{
	struct wcrypto_impl_choice *c = &k->impl;
	int rc = wcrypto_impl_choose(k->p.crypto_impl, c);

	if (rc == -ENOTSUP) {
		wlog_seterr(err, errlen, "crypto_impl = openssl: OpenSSL AES-256-GCM is not "
			    "usable on this machine (no AES instructions, or the cipher is "
			    "not available); use auto or sodium");
		return rc;
	}
	if (rc) {
		wlog_seterr(err, errlen, "crypto_impl = %s: %s",
			    wcrypto_impl_name(k->p.crypto_impl),
			    rc == -EIO ? "OpenSSL AES-256-GCM does not match libsodium's "
					 "(self-test failed)" : strerror(-rc));
		return rc;
	}
	if (c->openssl_failed)
		wlog(WLOG_WARN, "crypto_impl = auto: OpenSSL AES-256-GCM failed its self-test "
		     "against libsodium; using libsodium");
	/* Debug only: a mount prints nothing on success; .wormfs/stats shows
	 * the choice. */
	if (c->requested == WCRYPTO_IMPL_AUTO && c->mbps[WCRYPTO_IMPL_SODIUM])
		wlog(WLOG_DEBUG, "content cipher AES-256-GCM by %s (crypto_impl = auto; "
		     "measured 16 KiB seal+open: sodium %llu MB/s, openssl %llu MB/s)",
		     wcrypto_impl_name(c->impl),
		     (unsigned long long)c->mbps[WCRYPTO_IMPL_SODIUM],
		     (unsigned long long)c->mbps[WCRYPTO_IMPL_OPENSSL]);
	else
		wlog(WLOG_DEBUG, "content cipher AES-256-GCM by %s (crypto_impl = %s)",
		     wcrypto_impl_name(c->impl), wcrypto_impl_name(c->requested));
	return 0;
}

int kms_crypto_impl(const kms *k)
{
	return k->impl.impl;
}

int kms_open(const char *dir, const char *passphrase, size_t passlen,
	     const struct kms_params *p, kms **out, char *err, size_t errlen)
{
	struct kms_params defaults;
	struct kms *k = NULL;
	int rc, lock_init = 0;

	*out = NULL;
	if (!dir)
		return -EINVAL;
	if (!p) {
		kms_params_default(&defaults);
		p = &defaults;
	}
	rc = wcrypto_init();
	if (rc)
		return rc;
	k = kms_alloc(dir);
	if (!k)
		return -ENOMEM;
	rc = params_check(p, &k->p);
	if (!rc)
		rc = rl_init(&k->rl[KMS_CLASS_CRYPTO], k->p.crypto_rate, k->p.crypto_burst);
	if (!rc)
		rc = rl_init(&k->rl[KMS_CLASS_MGMT], k->p.mgmt_rate, k->p.mgmt_burst);
	if (!rc)
		rc = rl_init(&k->log_rl, 1, 5);
	if (rc) {
		wlog_seterr(err, errlen, "invalid KMS parameters (rates 1..%llu, bursts 1..%llu, "
			   "cache entries <= %u, crypto_impl auto, sodium or openssl)",
			   RL_MAX_RATE, RL_MAX_BURST, KMS_CACHE_MAX);
		goto out;
	}
	k->max_wait_ns = k->p.max_wait_ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX
								   : k->p.max_wait_ms * NS_PER_MS;

	rc = kms_ring_load(k->dir, passphrase, passlen, &k->hdr, k->ring, err, errlen);
	if (rc)
		goto out;
	if (pthread_rwlock_init(&k->ring_lock, NULL) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	lock_init = 1;
	rc = kms_dek_cache_new(k->p.cache_entries, k->p.cache_ttl_s, &k->cache);
	if (rc) {
		wlog_seterr(err, errlen, "cannot allocate the DEK cache");
		goto out;
	}
	rc = impl_choose(k, err, errlen);
	if (rc)
		goto out;
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (k) {
		kms_dek_cache_free(k->cache);
		if (lock_init)
			pthread_rwlock_destroy(&k->ring_lock);
		kms_free_bare(k);
	}
	return rc;
}

void kms_close(kms *k)
{
	if (!k)
		return;
	kms_dek_cache_free(k->cache);
	pthread_rwlock_destroy(&k->ring_lock);
	kms_free_bare(k);
}

/* ---- the gate ---- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S),
			       .tv_nsec = (long)(ns % NS_PER_S) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void throttle_log(struct kms *k, enum kms_class cls, uint64_t now_ns)
{
	uint64_t dropped;

	/* A throttled client retries in a loop: at most ~1 line a second. */
	if (rl_take(&k->log_rl, now_ns, NULL) != 0) {
		atomic_fetch_add(&k->log_suppressed, 1);
		return;
	}
	dropped = atomic_exchange(&k->log_suppressed, 0);
	if (dropped)
		wlog(WLOG_WARN, "ThrottlingException: You have exceeded the rate at which you "
		     "may call KMS (class %s; %llu similar messages suppressed)",
		     class_names[cls], (unsigned long long)dropped);
	else
		wlog(WLOG_WARN, "ThrottlingException: You have exceeded the rate at which you "
		     "may call KMS (class %s)", class_names[cls]);
}

/* Every KMS request passes here first: one token from its class, or
 * -EAGAIN (fail mode at once; wait mode when the FCFS slot is more than
 * max_wait_ms away). */
static int kms_gate(struct kms *k, enum kms_class cls, uint64_t now_ns)
{
	uint64_t wait = 0;
	int rc;

	atomic_fetch_add_explicit(&k->requests[cls], 1, memory_order_relaxed);
	if (k->p.throttle == KMS_THROTTLE_FAIL)
		rc = rl_take(&k->rl[cls], now_ns, NULL);
	else
		rc = rl_reserve(&k->rl[cls], now_ns, k->max_wait_ns, &wait);
	if (rc) {
		atomic_fetch_add_explicit(&k->throttled[cls], 1, memory_order_relaxed);
		throttle_log(k, cls, now_ns);
		return -EAGAIN;
	}
	if (wait) {
		sleep_ns(wait);
		atomic_fetch_add_explicit(&k->wait_ns[cls], wait, memory_order_relaxed);
	}
	return 0;
}

/* ---- cryptographic class ---- */

static void dek_ad(uint8_t ad[DEK_AD_BYTES], const uint8_t ctx[KMS_CTX_BYTES], uint32_t version)
{
	memcpy(ad, "WORMDEK1", 8);
	memcpy(ad + 8, ctx, KMS_CTX_BYTES);
	put_le32(ad + 24, version);
}

/* Caller holds ring_lock. */
static int wrap_active(struct kms *k, const uint8_t ctx[KMS_CTX_BYTES],
		       const uint8_t dek[KMS_DEK_BYTES], struct kms_wrapped *w)
{
	const struct kms_mk *mk = &k->ring->mk[kms_ring_find(k->ring, k->ring->active)];
	uint8_t ad[DEK_AD_BYTES];

	put_le32(w->b, mk->version);
	wcrypto_nonce(w->b + 4);
	dek_ad(ad, ctx, mk->version);
	return wcrypto_wrap(w->b + 28, dek, KMS_DEK_BYTES, ad, sizeof(ad), w->b + 4, mk->key);
}

/* Caller holds ring_lock. */
static int unwrap_locked(struct kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			 const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES])
{
	uint32_t version = get_le32(w->b);
	int i = kms_ring_find(k->ring, version);
	uint8_t ad[DEK_AD_BYTES];

	if (i < 0)
		return -ENOKEY;
	dek_ad(ad, ctx, version);
	return wcrypto_unwrap(dek, w->b + 28, KMS_DEK_BYTES + WCRYPTO_TAGBYTES, ad, sizeof(ad),
			      w->b + 4, k->ring->mk[i].key);
}

int kms_generate_data_key(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			  uint8_t dek[KMS_DEK_BYTES], struct kms_wrapped *w,
			  uint64_t now_ns)
{
	int rc = kms_gate(k, KMS_CLASS_CRYPTO, now_ns);

	if (rc)
		return rc;
	wcrypto_random(dek, KMS_DEK_BYTES);
	pthread_rwlock_rdlock(&k->ring_lock);
	rc = wrap_active(k, ctx, dek, w);
	pthread_rwlock_unlock(&k->ring_lock);
	if (rc)
		wcrypto_wipe(dek, KMS_DEK_BYTES);
	return rc;
}

static int decrypt_common(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			  const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES],
			  uint64_t now_ns, int use_cache)
{
	int rc;

	if (use_cache) {
		if (kms_dek_cache_get(k->cache, ctx, w, dek, now_ns)) {
			atomic_fetch_add_explicit(&k->hits, 1, memory_order_relaxed);
			return 0;
		}
		atomic_fetch_add_explicit(&k->misses, 1, memory_order_relaxed);
	}
	rc = kms_gate(k, KMS_CLASS_CRYPTO, now_ns);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&k->ring_lock);
	rc = unwrap_locked(k, ctx, w, dek);
	if (!rc && use_cache)
		kms_dek_cache_put(k->cache, ctx, w, dek, now_ns);
	pthread_rwlock_unlock(&k->ring_lock);
	return rc;
}

int kms_decrypt(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
		const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES],
		uint64_t now_ns)
{
	return decrypt_common(k, ctx, w, dek, now_ns, kms_dek_cache_capacity(k->cache) > 0);
}

int kms_decrypt_nocache(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES],
			uint64_t now_ns)
{
	return decrypt_common(k, ctx, w, dek, now_ns, 0);
}

int kms_reencrypt(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
		  const struct kms_wrapped *in, struct kms_wrapped *out,
		  uint64_t now_ns)
{
	uint8_t *dek;
	int rc = kms_gate(k, KMS_CLASS_CRYPTO, now_ns);

	if (rc)
		return rc;
	dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	if (!dek)
		return -ENOMEM;
	pthread_rwlock_rdlock(&k->ring_lock);
	rc = unwrap_locked(k, ctx, in, dek);
	if (!rc)
		rc = wrap_active(k, ctx, dek, out);
	pthread_rwlock_unlock(&k->ring_lock);
	wcrypto_secure_free(dek);
	return rc;
}

static void blob_ad(uint8_t ad[12], uint32_t version)
{
	memcpy(ad, "WORMBLB1", 8);
	put_le32(ad + 8, version);
}

int kms_encrypt(kms *k, const void *in, size_t len, uint8_t *out, uint64_t now_ns)
{
	uint8_t ad[12];
	int rc;

	if (len > BLOB_MAX)
		return -EINVAL;
	rc = kms_gate(k, KMS_CLASS_CRYPTO, now_ns);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&k->ring_lock);
	const struct kms_mk *mk = &k->ring->mk[kms_ring_find(k->ring, k->ring->active)];
	put_le32(out, mk->version);
	wcrypto_nonce(out + 4);
	blob_ad(ad, mk->version);
	rc = wcrypto_wrap(out + 28, in, len, ad, sizeof(ad), out + 4, mk->key);
	pthread_rwlock_unlock(&k->ring_lock);
	return rc;
}

int kms_decrypt_blob(kms *k, const uint8_t *in, size_t len, void *out, uint64_t now_ns)
{
	uint8_t ad[12];
	uint32_t version;
	int rc, i;

	if (len < KMS_ENCRYPT_OVERHEAD || len - KMS_ENCRYPT_OVERHEAD > BLOB_MAX)
		return -EINVAL;
	rc = kms_gate(k, KMS_CLASS_CRYPTO, now_ns);
	if (rc)
		return rc;
	version = get_le32(in);
	pthread_rwlock_rdlock(&k->ring_lock);
	i = kms_ring_find(k->ring, version);
	if (i < 0) {
		rc = -ENOKEY;
	} else {
		blob_ad(ad, version);
		rc = wcrypto_unwrap(out, in + 28, len - 28, ad, sizeof(ad), in + 4,
				    k->ring->mk[i].key);
	}
	pthread_rwlock_unlock(&k->ring_lock);
	return rc;
}

/* ---- management class ---- */

int kms_rotate(kms *k, uint32_t *new_version, uint64_t now_ns)
{
	struct kms_ring *r = k->ring;
	uint32_t old_active, v;
	int rc = kms_gate(k, KMS_CLASS_MGMT, now_ns);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&k->ring_lock);
	if (r->count >= KMS_MAX_VERSIONS) {
		rc = -ENOSPC;
		goto out;
	}
	if (r->mk[r->count - 1].version == UINT32_MAX) {
		rc = -EOVERFLOW;
		goto out;
	}
	v = r->mk[r->count - 1].version + 1;
	old_active = r->active;
	r->mk[r->count].version = v;
	r->mk[r->count].created_s = (int64_t)time(NULL);
	wcrypto_random(r->mk[r->count].key, WCRYPTO_KEYBYTES);
	r->count++;
	r->active = v;
	rc = kms_ring_store(k->dir, &k->hdr, r, 0);
	if (rc) {   /* not saved: as if it never happened */
		r->count--;
		r->active = old_active;
		wcrypto_wipe(&r->mk[r->count], sizeof(r->mk[0]));
		goto out;
	}
	if (new_version)
		*new_version = v;
out:
	pthread_rwlock_unlock(&k->ring_lock);
	return rc;
}

int kms_list(kms *k, struct kms_key_info *out, size_t max, size_t *n, uint64_t now_ns)
{
	int rc = kms_gate(k, KMS_CLASS_MGMT, now_ns);
	size_t i;

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&k->ring_lock);
	for (i = 0; i < k->ring->count && i < max; i++) {
		out[i].version = k->ring->mk[i].version;
		out[i].active = k->ring->mk[i].version == k->ring->active;
		out[i].created_s = k->ring->mk[i].created_s;
	}
	pthread_rwlock_unlock(&k->ring_lock);
	*n = i;
	return 0;
}

int kms_remove_version(kms *k, uint32_t version, uint64_t now_ns)
{
	struct kms_ring *r = k->ring;
	struct kms_mk *scratch = &r->mk[KMS_MAX_VERSIONS];
	int rc = kms_gate(k, KMS_CLASS_MGMT, now_ns), i;

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&k->ring_lock);
	i = kms_ring_find(r, version);
	if (i < 0) {
		rc = -ENOENT;
		goto out;
	}
	if (version == r->active) {
		rc = -EBUSY;
		goto out;
	}
	*scratch = r->mk[i];
	memmove(&r->mk[i], &r->mk[i + 1], (r->count - (uint32_t)i - 1) * sizeof(r->mk[0]));
	r->count--;
	wcrypto_wipe(&r->mk[r->count], sizeof(r->mk[0]));
	rc = kms_ring_store(k->dir, &k->hdr, r, 0);
	if (rc) {   /* put it back where it was */
		memmove(&r->mk[i + 1], &r->mk[i], (r->count - (uint32_t)i) * sizeof(r->mk[0]));
		r->mk[i] = *scratch;
		r->count++;
	} else {
		kms_dek_cache_purge(k->cache, version);
	}
	wcrypto_wipe(scratch, sizeof(*scratch));
out:
	pthread_rwlock_unlock(&k->ring_lock);
	return rc;
}

int kms_record_key(kms *k, uint8_t out[32])
{
	pthread_rwlock_rdlock(&k->ring_lock);
	memcpy(out, k->ring->record_key, 32);
	pthread_rwlock_unlock(&k->ring_lock);
	return 0;
}

void kms_get_stats(kms *k, struct kms_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < KMS_CLASS__COUNT; c++) {
		out->cls[c].requests = atomic_load_explicit(&k->requests[c], memory_order_relaxed);
		out->cls[c].throttled = atomic_load_explicit(&k->throttled[c], memory_order_relaxed);
		out->cls[c].wait_ns = atomic_load_explicit(&k->wait_ns[c], memory_order_relaxed);
	}
	out->cache_hits = atomic_load_explicit(&k->hits, memory_order_relaxed);
	out->cache_misses = atomic_load_explicit(&k->misses, memory_order_relaxed);
	out->crypto_impl = wcrypto_impl_name(k->impl.impl);
	out->crypto_impl_by = k->impl.requested == WCRYPTO_IMPL_AUTO ? "auto" : "config";
	out->crypto_sodium_mbps = k->impl.mbps[WCRYPTO_IMPL_SODIUM];
	out->crypto_openssl_mbps = k->impl.mbps[WCRYPTO_IMPL_OPENSSL];
}

void kms_cache_flush(kms *k)
{
	kms_dek_cache_purge(k->cache, 0);
}
