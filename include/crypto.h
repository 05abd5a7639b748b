/* crypto: the only user of libsodium and OpenSSL libcrypto. AEAD per block,
 * MACs, KDF, Argon2id, randomness and secure memory. Functions return 0 or
 * -errno; an authentication failure is -EBADMSG.
 *
 * AES-256-GCM content blocks have two implementations that produce the same
 * bytes (so either reads what the other wrote): libsodium's and OpenSSL's
 * EVP (faster where OpenSSL has VAES/VPCLMULQDQ code). Everything else
 * (XChaCha20-Poly1305, key wrapping, MACs, KDF, Argon2id, secure memory) is
 * libsodium. Sources: crypto.c (libsodium, the AEAD object), crypto_gcm.c
 * (OpenSSL EVP), crypto_impl.c (choosing between them). */
#ifndef WORMFS_CRYPTO_H
#define WORMFS_CRYPTO_H

#include <stdint.h>
#include <stddef.h>

#define WCRYPTO_KEYBYTES 32
#define WCRYPTO_NONCEBYTES 24   /* stored nonce field; AES-GCM uses 12 */
#define WCRYPTO_TAGBYTES 16
#define WCRYPTO_MACBYTES 32
#define WCRYPTO_SALTBYTES 16

enum wcrypto_alg {
	WCRYPTO_AES256GCM = 1,
	WCRYPTO_XCHACHA20POLY1305 = 2,
};

/* sodium_init; safe to call more than once. */
int wcrypto_init(void);
/* AES-256-GCM if the CPU has it, else XChaCha20-Poly1305. env
 * WORMFS_FORCE_XCHACHA=1 forces the latter (tests). */
int wcrypto_default_alg(void);
int wcrypto_alg_valid(int alg);      /* 1 if alg is known and usable */
const char *wcrypto_alg_name(int alg);

/* Key material: sodium_malloc'd, guarded, wiped on free. */
void *wcrypto_secure_alloc(size_t n);   /* NULL on ENOMEM */
void wcrypto_secure_free(void *p);      /* NULL ok */
void wcrypto_wipe(void *p, size_t n);   /* sodium_memzero */
int wcrypto_equal(const void *a, const void *b, size_t n); /* constant time; 1 if equal */

void wcrypto_random(void *buf, size_t n);  /* randombytes_buf */
/* A fresh random nonce from a per-thread pool refilled in batches (one
 * getrandom per 4 KiB), not a syscall per block. */
void wcrypto_nonce(uint8_t nonce[WCRYPTO_NONCEBYTES]);

/* Who computes AES-256-GCM (config crypto_impl). AUTO is resolved by
 * wcrypto_impl_choose before any key context is made. */
enum wcrypto_impl {
	WCRYPTO_IMPL_AUTO = 0,
	WCRYPTO_IMPL_SODIUM = 1,
	WCRYPTO_IMPL_OPENSSL = 2,
};
#define WCRYPTO_IMPL__COUNT 3
/* "auto", "sodium", "openssl"; "unknown" out of range. */
const char *wcrypto_impl_name(int impl);
/* Exactly one of the names above (any case, no blanks): 0, else -EINVAL. */
int wcrypto_impl_parse(const char *s, int *impl);
/* 1 if impl can seal AES-256-GCM here (OpenSSL: the cipher can be fetched
 * and the CPU has AES, as wcrypto_alg_valid requires for the algorithm). */
int wcrypto_impl_available(int impl);

/* The outcome of wcrypto_impl_choose. */
struct wcrypto_impl_choice {
	int requested;      /* enum wcrypto_impl as configured */
	int impl;           /* SODIUM or OPENSSL */
	/* AUTO only: seal+open throughput of 16 KiB blocks measured per
	 * implementation, in MB/s (index enum wcrypto_impl); 0 = not measured. */
	uint64_t mbps[WCRYPTO_IMPL__COUNT];
	int openssl_failed; /* AUTO: OpenSSL failed the cross-check (or the
			     * measurement), so libsodium was kept */
};
/* Resolve requested. SODIUM: as is. OPENSSL: -ENOTSUP if not available,
 * -EIO if it does not give libsodium's bytes (a cross-check on random
 * input of several lengths, both directions, and a flipped tag).
 * AUTO: libsodium if the CPU has no AES or OpenSSL fails that check; else
 * a short measurement (a few ms: best of several rounds of 16 KiB
 * seal+open, the implementations alternating) picks OpenSSL when it is at
 * least 10% faster, so a tie keeps libsodium. -EINVAL for a bad value. */
int wcrypto_impl_choose(int requested, struct wcrypto_impl_choice *out);

/* An AEAD key context in secure memory: for libsodium the precomputed AES
 * state or the XChaCha key; for OpenSSL the key and a small lock-free pool
 * of keyed EVP contexts (one per concurrent caller, made on first use, so
 * no context is allocated or keyed per block; freed and wiped with the
 * object). Safe for concurrent seal/open. impl (SODIUM or OPENSSL) applies
 * to AES-256-GCM; XChaCha20-Poly1305 is always libsodium. */
typedef struct wcrypto_aead wcrypto_aead;
int wcrypto_aead_new(int alg, int impl, const uint8_t key[WCRYPTO_KEYBYTES],
		     wcrypto_aead **out);
void wcrypto_aead_free(wcrypto_aead *a);
int wcrypto_aead_alg(const wcrypto_aead *a);
/* The implementation that computes it (SODIUM for XChaCha). */
int wcrypto_aead_impl(const wcrypto_aead *a);
/* Detached: c has mlen bytes (c may equal m), tag 16 bytes. */
int wcrypto_aead_seal(const wcrypto_aead *a, uint8_t *c, uint8_t tag[WCRYPTO_TAGBYTES],
		      const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[WCRYPTO_NONCEBYTES]);
/* m may equal c. -EBADMSG if not authentic (m then wiped), whichever the
 * implementation; another failure (-EIO, -ENOMEM) wipes m too. */
int wcrypto_aead_open(const wcrypto_aead *a, uint8_t *m, const uint8_t *c, size_t clen,
		      const uint8_t tag[WCRYPTO_TAGBYTES], const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[WCRYPTO_NONCEBYTES]);

/* One-shot XChaCha20-Poly1305 (key wrapping, key ring): c = mlen + 16. */
int wcrypto_wrap(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[WCRYPTO_NONCEBYTES], const uint8_t key[WCRYPTO_KEYBYTES]);
int wcrypto_unwrap(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		   const uint8_t nonce[WCRYPTO_NONCEBYTES], const uint8_t key[WCRYPTO_KEYBYTES]);

/* Keyed BLAKE2b-256. */
int wcrypto_mac(uint8_t out[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		const void *msg, size_t len);
/* Keyed BLAKE2b-256 of a | b (two parts without a copy). */
int wcrypto_mac2(uint8_t out[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		 const void *a, size_t alen, const void *b, size_t blen);
/* A MAC key prepared once (secure memory): wcrypto_mac2_k gives the same
 * MAC as wcrypto_mac2 with that key, one compression cheaper. */
typedef struct wcrypto_mackey wcrypto_mackey;
wcrypto_mackey *wcrypto_mackey_new(const uint8_t key[WCRYPTO_KEYBYTES]);
void wcrypto_mackey_free(wcrypto_mackey *k);
int wcrypto_mac2_k(uint8_t out[WCRYPTO_MACBYTES], const wcrypto_mackey *k, const void *a,
		   size_t alen, const void *b, size_t blen);
/* 0 if authentic, -EBADMSG otherwise (constant time). */
int wcrypto_mac_verify(const uint8_t mac[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		       const void *msg, size_t len);
/* Subkey derivation (crypto_kdf, BLAKE2b): ctx is exactly 8 chars. */
int wcrypto_kdf(uint8_t out[WCRYPTO_KEYBYTES], const uint8_t master[WCRYPTO_KEYBYTES],
		uint64_t id, const char ctx[8]);
/* Argon2id (crypto_pwhash, INTERACTIVE-ish limits given by caller; 0 = use
 * MODERATE defaults). */
int wcrypto_pwhash(uint8_t out[WCRYPTO_KEYBYTES], const char *pw, size_t pwlen,
		   const uint8_t salt[WCRYPTO_SALTBYTES], uint64_t opslimit, size_t memlimit);
void wcrypto_pwhash_defaults(uint64_t *opslimit, size_t *memlimit);
/* The smallest Argon2id limits libsodium accepts (tests, WORMFS_PWHASH_FAST). */
void wcrypto_pwhash_min(uint64_t *opslimit, size_t *memlimit);
/* 1 if MIN <= opslimit, memlimit <= SENSITIVE (sane limits read from a file). */
int wcrypto_pwhash_limits_valid(uint64_t opslimit, size_t memlimit);

/* Unkeyed BLAKE2b-256 (chain links: the hash of a store head). */
int wcrypto_hash(uint8_t out[WCRYPTO_MACBYTES], const void *msg, size_t len);

/* Ed25519 (crypto_sign, detached). The secret key is 64 bytes and belongs
 * in wcrypto_secure_alloc memory; it is derived from a 32-byte seed, so a
 * key derived with wcrypto_kdf gives the same key pair every time. */
#define WCRYPTO_SIGN_PKBYTES 32
#define WCRYPTO_SIGN_SKBYTES 64
#define WCRYPTO_SIGNBYTES 64
int wcrypto_sign_keypair(uint8_t pk[WCRYPTO_SIGN_PKBYTES], uint8_t sk[WCRYPTO_SIGN_SKBYTES],
			 const uint8_t seed[WCRYPTO_KEYBYTES]);
int wcrypto_sign(uint8_t sig[WCRYPTO_SIGNBYTES], const void *msg, size_t len,
		 const uint8_t sk[WCRYPTO_SIGN_SKBYTES]);
/* 0 if sig is pk's signature of msg, -EBADMSG otherwise. */
int wcrypto_sign_verify(const uint8_t sig[WCRYPTO_SIGNBYTES], const void *msg, size_t len,
			const uint8_t pk[WCRYPTO_SIGN_PKBYTES]);

/* Keyed SipHash-2-4 (hash tables; not a MAC for stored data). */
#define WCRYPTO_SHORTHASH_KEYBYTES 16
uint64_t wcrypto_shorthash(const uint8_t key[WCRYPTO_SHORTHASH_KEYBYTES],
			   const void *msg, size_t len);

/* Lowercase hex; out needs 2*n+1. */
void wcrypto_hex(char *out, const uint8_t *in, size_t n);
/* Strict hex parse of exactly 2*n chars (0-9, a-f, A-F; nothing else).
 * 0 or -EINVAL (out untouched on error). */
int wcrypto_unhex(uint8_t *out, size_t n, const char *in, size_t inlen);
/* One hex digit (0-9, a-f, A-F): its value 0-15, or -1. */
int wcrypto_hexdigit(char c);

/* Message digests and checksums (crypto_digest.c): SHA-256, SHA-1 and MD5
 * streams (OpenSSL EVP, SHA-256 on the CPU's SHA extensions; MD5 and SHA-1
 * for S3 checksums and ETags, not security), CRC32 (zlib), CRC32C (ISA-L
 * crc32_iscsi); one-shot SHA-256 and HMAC-SHA256 (libsodium). Streaming
 * objects are heap allocated; update may be called with any slices, final
 * once. */
#define WCRYPTO_SHA256BYTES 32
#define WCRYPTO_SHA1BYTES 20
#define WCRYPTO_MD5BYTES 16
#define WCRYPTO_CRC32BYTES 4   /* big-endian, as S3 sends it in base64 */
#define WCRYPTO_DIGEST_MAXBYTES 32
enum wcrypto_digest_alg {
	WCRYPTO_DIGEST_SHA256 = 1,
	WCRYPTO_DIGEST_SHA1 = 2,
	WCRYPTO_DIGEST_MD5 = 3,
	WCRYPTO_DIGEST_CRC32 = 4,
	WCRYPTO_DIGEST_CRC32C = 5,
};
/* Output size of alg in bytes; 0 for an unknown alg. */
size_t wcrypto_digest_size(int alg);
typedef struct wcrypto_digest wcrypto_digest;
/* -EINVAL unknown alg, -ENOMEM. */
int wcrypto_digest_new(int alg, wcrypto_digest **out);
void wcrypto_digest_free(wcrypto_digest *d);     /* NULL ok */
int wcrypto_digest_alg(const wcrypto_digest *d);
/* 0, or -EIO if the library fails (OpenSSL). len 0 is fine. */
int wcrypto_digest_update(wcrypto_digest *d, const void *p, size_t len);
/* Writes wcrypto_digest_size(alg) bytes; outlen must be at least that
 * (-EINVAL otherwise). Once only: a second final is -EINVAL. The CRCs are
 * written big-endian (the byte order S3 base64-encodes). */
int wcrypto_digest_final(wcrypto_digest *d, uint8_t *out, size_t outlen);
/* One-shot SHA-256. */
int wcrypto_sha256(uint8_t out[WCRYPTO_SHA256BYTES], const void *msg, size_t len);
/* HMAC-SHA256 with a key of any length (SigV4). */
int wcrypto_hmac_sha256(uint8_t out[WCRYPTO_SHA256BYTES], const void *key, size_t keylen,
			const void *msg, size_t len);
/* Standard base64 with padding (RFC 4648 section 4). out needs
 * wcrypto_b64_len(n) bytes (with the NUL). */
size_t wcrypto_b64_len(size_t n);
void wcrypto_b64(char *out, const uint8_t *in, size_t n);
/* Strict decode of exactly n bytes from in[0..inlen) (padding required, no
 * blanks, nothing after): 0 or -EINVAL (out untouched on error). */
int wcrypto_unb64(uint8_t *out, size_t n, const char *in, size_t inlen);

#endif
