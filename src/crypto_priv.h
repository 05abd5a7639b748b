/* crypto internals shared by crypto*.c only (no library headers here:
 * each source includes the library it implements). */
#ifndef WORMFS_CRYPTO_PRIV_H
#define WORMFS_CRYPTO_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define WCRYPTO_GCM_NONCE 12   /* of the 24-byte nonce field */

/* OpenSSL AES-256-GCM for one key (crypto_gcm.c). Keyed EVP contexts are
 * parked in idle[] between calls: a caller takes one with an atomic
 * exchange, so concurrent callers never share one, and gives it back to an
 * empty slot (or frees it when all are full). A context holds the expanded
 * key and the GHASH table, so taking one costs no allocation and no key
 * setup; only the nonce is set per block. Lives inside the owner's
 * secure-memory object; key points into that same object. */
#define WCRYPTO_GCM_POOL 8
struct wcrypto_gcm {
	const uint8_t *key;                     /* WCRYPTO_KEYBYTES */
	_Atomic(void *) idle[WCRYPTO_GCM_POOL]; /* EVP_CIPHER_CTX *, or NULL */
};

/* 1 if OpenSSL provides AES-256-GCM (a context can be made and keyed). */
int wcrypto_gcm_available(void);
void wcrypto_gcm_init(struct wcrypto_gcm *g, const uint8_t *key);
/* Free (and so wipe: OpenSSL clears a GCM context when freeing it) every
 * parked context. No call may be in progress. */
void wcrypto_gcm_destroy(struct wcrypto_gcm *g);
/* As wcrypto_aead_seal/open with a 12-byte nonce; mlen/clen within
 * libsodium's AES-GCM limit (the caller checks). open: -EBADMSG when the
 * tag does not verify, -EIO/-ENOMEM on another failure; m wiped on any
 * failure. */
int wcrypto_gcm_seal(struct wcrypto_gcm *g, uint8_t *c, uint8_t tag[WCRYPTO_TAGBYTES],
		     const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[WCRYPTO_GCM_NONCE]);
int wcrypto_gcm_open(struct wcrypto_gcm *g, uint8_t *m, const uint8_t *c, size_t clen,
		     const uint8_t tag[WCRYPTO_TAGBYTES], const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[WCRYPTO_GCM_NONCE]);

#endif
