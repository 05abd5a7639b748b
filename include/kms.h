/* kms: a local key management service shaped like AWS KMS.
 *
 * A versioned master key ring lives in one file (STORE/keys/keyring),
 * itself sealed under a key-encryption key: either a 256-bit random key
 * file (STORE/keys/kek, 0600) or Argon2id(passphrase) (salt in the ring).
 * Master keys and unwrapped DEKs exist only in sodium_malloc'd memory.
 *
 * Every operation enters through one gate (kms_gate in kms.c) that takes a
 * token from its class's GCRA limiter (ratelimit) first: throttle=wait
 * blocks FCFS up to max_wait_ms, throttle=fail refuses at once; a refusal is
 * -EAGAIN and logs "ThrottlingException: You have exceeded the rate at which
 * you may call KMS" with the class.
 *
 * Unwrapped DEKs are cached by object id (bounded entries, TTL); a cache hit
 * makes no Decrypt call and takes no token. */
#ifndef WORMFS_KMS_H
#define WORMFS_KMS_H

#include "byteorder.h"
#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>

#define KMS_DEK_BYTES 32
#define KMS_CTX_BYTES 16          /* encryption context: the object id */
#define KMS_WRAPPED_BYTES 76      /* u32 version | nonce 24 | 32 | tag 16 */
#define KMS_MAX_VERSIONS 1024
#define KMS_CACHE_MAX (1u << 22)  /* cache_entries above this: -EINVAL */

enum kms_class { KMS_CLASS_CRYPTO = 0, KMS_CLASS_MGMT = 1, KMS_CLASS__COUNT };
enum kms_throttle { KMS_THROTTLE_WAIT = 0, KMS_THROTTLE_FAIL = 1 };

struct kms_params {
	uint64_t crypto_rate;      /* default 5000 */
	uint64_t crypto_burst;     /* default = crypto_rate */
	uint64_t mgmt_rate;        /* default 100 */
	uint64_t mgmt_burst;       /* default = mgmt_rate */
	int throttle;              /* enum kms_throttle, default WAIT */
	uint64_t max_wait_ms;      /* default 5000 */
	uint64_t cache_entries;    /* default 10000; 0 disables the cache */
	uint64_t cache_ttl_s;      /* default 300 */
	/* Who computes AES-256-GCM for the data keys handed out here:
	 * enum wcrypto_impl (crypto.h), default AUTO (0), resolved at open. */
	int crypto_impl;
};
void kms_params_default(struct kms_params *p);

struct kms_class_stats {
	uint64_t requests;   /* admitted + throttled */
	uint64_t throttled;  /* refused with -EAGAIN (waits that succeed are
			      * counted in wait_ns only) */
	uint64_t wait_ns;    /* total time callers waited for tokens */
};
struct kms_stats {
	struct kms_class_stats cls[KMS_CLASS__COUNT];
	uint64_t cache_hits, cache_misses;
	/* Content cipher implementation (static names, NULL in a zeroed
	 * struct): the one in use, and "auto" or "config" for how it was
	 * chosen; auto's measurement in MB/s (0 = not measured). */
	const char *crypto_impl, *crypto_impl_by;
	uint64_t crypto_sodium_mbps, crypto_openssl_mbps;
};

struct kms_wrapped {
	uint8_t b[KMS_WRAPPED_BYTES];
};
static inline uint32_t kms_wrapped_version(const struct kms_wrapped *w)
{
	return get_le32(w->b);   /* the version leads the wrapped bytes */
}

typedef struct kms kms;

/* Create a key ring with master key version 1 in dir (which must exist):
 * dir/keyring, and dir/kek unless passphrase != NULL. Files 0600. Fails
 * with -EEXIST if a ring (or a kek file) is there. The passphrase is
 * stretched with Argon2id MODERATE limits; env WORMFS_PWHASH_FAST=1 uses
 * the minimum limits instead (tests only: weak). The limits are stored in
 * the ring, so open uses whatever create chose. */
WORM_MUST_USE
int kms_create(const char *dir, const char *passphrase, size_t passlen);
/* Open the ring (writes nothing). -EACCES: wrong passphrase or damaged ring
 * (cannot authenticate); -ENOKEY: passphrase needed but not given, or the
 * kek file is missing; -EBADMSG: malformed file; -ENOENT: missing; -EINVAL:
 * bad params. A passphrase given for a key-file ring is ignored. p NULL =
 * defaults; a burst of 0 means = rate. err (optional) gets one clear line. */
WORM_MUST_USE
int kms_open(const char *dir, const char *passphrase, size_t passlen,
	     const struct kms_params *p, kms **out, char *err, size_t errlen);
void kms_close(kms *k);   /* wipes cache and keys */
/* The implementation (WCRYPTO_IMPL_SODIUM or _OPENSSL) the owner of a data
 * key makes its AEAD context with (wcrypto_aead_new). kms_open resolves the
 * crypto_impl parameter (auto: a few ms of measurement) and refuses
 * (-ENOTSUP, -EIO, -EINVAL; err says why) an implementation that is not
 * usable here. */
int kms_crypto_impl(const kms *k);

/* Cryptographic class (now_ns: monotonic ns, read once by the caller). */
WORM_MUST_USE
int kms_generate_data_key(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			  uint8_t dek[KMS_DEK_BYTES], struct kms_wrapped *w,
			  uint64_t now_ns);
/* Decrypt through the DEK cache: a hit takes no token. The cache key is
 * ctx + the wrapped bytes. Errors (all decrypts): -EBADMSG if w does not
 * authenticate for ctx (wrong object, tampered); -ENOKEY if its master key
 * version is not in the ring; -EAGAIN when throttled. */
WORM_MUST_USE
int kms_decrypt(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
		const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES],
		uint64_t now_ns);
/* Decrypt bypassing the cache (bench, verify). */
WORM_MUST_USE
int kms_decrypt_nocache(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
			const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES],
			uint64_t now_ns);
/* Re-wrap under the active version without exposing the DEK. */
WORM_MUST_USE
int kms_reencrypt(kms *k, const uint8_t ctx[KMS_CTX_BYTES],
		  const struct kms_wrapped *in, struct kms_wrapped *out,
		  uint64_t now_ns);
/* Encrypt/Decrypt small data (<= 4096 bytes) under the active master key:
 * out = in + KMS_ENCRYPT_OVERHEAD. */
#define KMS_ENCRYPT_OVERHEAD (4 + 24 + 16)
WORM_MUST_USE
int kms_encrypt(kms *k, const void *in, size_t len, uint8_t *out, uint64_t now_ns);
WORM_MUST_USE
int kms_decrypt_blob(kms *k, const uint8_t *in, size_t len, void *out, uint64_t now_ns);

/* Management class. RotateKey: a new active version, saved to the ring
 * file atomically (write temp, fsync, rename). */
WORM_MUST_USE
int kms_rotate(kms *k, uint32_t *new_version, uint64_t now_ns);
struct kms_key_info {
	uint32_t version;
	int active;
	int64_t created_s;   /* realtime seconds */
};
/* ListKeys/DescribeKey: up to max entries, oldest first; *n = number
 * written (pass max = KMS_MAX_VERSIONS to get all). */
WORM_MUST_USE
int kms_list(kms *k, struct kms_key_info *out, size_t max, size_t *n, uint64_t now_ns);
/* Remove a non-active version from the ring (after rewrap). -EBUSY if it
 * is the active one, -ENOENT if unknown. */
WORM_MUST_USE
int kms_remove_version(kms *k, uint32_t version, uint64_t now_ns);

/* The key that authenticates metadata records (design section 7): a random
 * 256-bit key stored in the ring beside the master keys, so it survives
 * rotation. Not a KMS request (no token): called once at open. */
WORM_MUST_USE
int kms_record_key(kms *k, uint8_t out[32]);

void kms_get_stats(kms *k, struct kms_stats *out);
void kms_cache_flush(kms *k);  /* wipe all cached DEKs */

#endif
