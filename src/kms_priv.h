/* kms_priv.h: what the files of the kms module share; include/kms.h is
 * the module's API. Include only from src/kms*.c (and the unit tests of
 * these pieces). struct kms itself is private to kms.c.
 *
 *   kms.c           parameters, the request gate, the operations
 *   kms_ring.c      the key ring file: its format, load, store, create
 *   kms_dek_cache.c the cache of unwrapped data keys */
#ifndef WORMFS_KMS_PRIV_H
#define WORMFS_KMS_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "kms.h"

/* ---- the key ring and its file (kms_ring.c) ---- */

struct kms_mk {
	uint32_t version;
	int64_t created_s;
	uint8_t key[WCRYPTO_KEYBYTES];
};

/* All key material, in one wcrypto_secure_alloc'd block. */
struct kms_ring {
	uint8_t kek[WCRYPTO_KEYBYTES];
	uint8_t record_key[32];
	uint32_t active;
	uint32_t count;
	struct kms_mk mk[KMS_MAX_VERSIONS + 1];  /* +1: scratch for rollback */
};

/* The ring file's cleartext header: how its KEK is had. */
enum kms_ring_mode { KMS_RING_KEYFILE = 0, KMS_RING_PASSPHRASE = 1 };
struct kms_ring_hdr {
	uint32_t mode;                     /* enum kms_ring_mode */
	uint8_t salt[WCRYPTO_SALTBYTES];   /* passphrase: Argon2id salt, limits */
	uint64_t opslimit;
	uint64_t memlimit;
};

/* Index of version in the ring, or -1. */
int kms_ring_find(const struct kms_ring *r, uint32_t version);

/* Serialize: the ring file of h and r, sealed under r->kek, in a malloc'd
 * *out of *len bytes. -ENOMEM, or the AEAD's error. */
int kms_ring_encode(const struct kms_ring_hdr *h, const struct kms_ring *r, uint8_t **out,
		    size_t *len);
/* Parse the cleartext header of a ring file of len bytes (no key needed):
 * -EBADMSG, *why saying what is wrong, if it is not a well-formed one. */
int kms_ring_decode_hdr(const uint8_t *file, size_t len, struct kms_ring_hdr *h,
			const char **why);
/* Authenticate and parse a whole ring file under r->kek, filling the rest
 * of r: -EBADMSG (*why) if malformed, -EACCES if it does not authenticate
 * (another KEK, a changed byte), -ENOMEM. */
int kms_ring_decode(const uint8_t *file, size_t len, struct kms_ring *r, const char **why);

/* Read DIR/keyring, unlock it (key file DIR/kek, or the passphrase) and
 * fill h and r. Writes nothing. Errors as kms_open, with err set. */
int kms_ring_load(const char *dir, const char *passphrase, size_t passlen,
		  struct kms_ring_hdr *h, struct kms_ring *r, char *err, size_t errlen);
/* Seal the ring and replace DIR/keyring atomically (temp file, fsync,
 * rename, fsync dir); noreplace: -EEXIST if there is one. */
int kms_ring_store(const char *dir, const struct kms_ring_hdr *h, const struct kms_ring *r,
		   int noreplace);

/* ---- the DEK cache (kms_dek_cache.c) ---- */

/* Unwrapped data keys by (ctx, wrapped bytes): bounded entries, least
 * recently used evicted, each valid for a TTL. Thread-safe (one mutex);
 * the DEKs are in secure memory. */
struct kms_dek_cache;

/* entries 0: a cache that holds nothing. -ENOMEM. */
int kms_dek_cache_new(uint64_t entries, uint64_t ttl_s, struct kms_dek_cache **out);
void kms_dek_cache_free(struct kms_dek_cache *c);   /* wipes every DEK */
uint32_t kms_dek_cache_capacity(const struct kms_dek_cache *c);
/* 1 and dek filled on a fresh hit, else 0 (an expired entry is dropped). */
int kms_dek_cache_get(struct kms_dek_cache *c, const uint8_t ctx[KMS_CTX_BYTES],
		      const struct kms_wrapped *w, uint8_t dek[KMS_DEK_BYTES], uint64_t now_ns);
void kms_dek_cache_put(struct kms_dek_cache *c, const uint8_t ctx[KMS_CTX_BYTES],
		       const struct kms_wrapped *w, const uint8_t dek[KMS_DEK_BYTES],
		       uint64_t now_ns);
/* Drop every entry wrapped under version (all if version == 0). */
void kms_dek_cache_purge(struct kms_dek_cache *c, uint32_t version);

#endif
