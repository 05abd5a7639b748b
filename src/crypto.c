/* crypto: libsodium (crypto_gcm.c holds the OpenSSL side) and the AEAD
 * object that dispatches AES-256-GCM to either.
 *
 * Global state: the per-thread nonce pool below (and the once-flag that
 * registers its fork handler) is the one documented exception to "no global
 * mutable state" (docs/HACKING.md). Everything else is per call or per
 * wcrypto_aead object. */
#include "crypto.h"
#include "crypto_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* The nonce pool: one getrandom per 4 KiB instead of one per block (a
 * syscall costs 0.5-1.7 us, see notes/performance.md). Each byte is handed
 * out once, so nonces from one pool never repeat; pools of different
 * threads are independent random draws. */
#define NONCE_POOL_BYTES 4096

struct nonce_pool {
	uint8_t buf[NONCE_POOL_BYTES];
	size_t avail;   /* unused bytes at the end of buf */
};

static _Thread_local struct nonce_pool tl_nonce_pool;
static pthread_once_t nonce_fork_once = PTHREAD_ONCE_INIT;

/* A forked child inherits the forking thread's pool: drop it, or parent and
 * child would hand out the same nonces. Only the forking thread survives in
 * the child, so resetting its pool is enough. */
static void nonce_pool_child_reset(void)
{
	sodium_memzero(&tl_nonce_pool, sizeof(tl_nonce_pool));
}

static void nonce_fork_register(void)
{
	(void)pthread_atfork(NULL, NULL, nonce_pool_child_reset);
}

int wcrypto_init(void)
{
	if (sodium_init() < 0)
		return -EIO;
	(void)pthread_once(&nonce_fork_once, nonce_fork_register);
	return 0;
}

static int force_xchacha(void)
{
	const char *v = getenv("WORMFS_FORCE_XCHACHA");

	return v && strcmp(v, "1") == 0;
}

int wcrypto_default_alg(void)
{
	if (!force_xchacha() && crypto_aead_aes256gcm_is_available())
		return WCRYPTO_AES256GCM;
	return WCRYPTO_XCHACHA20POLY1305;
}

int wcrypto_alg_valid(int alg)
{
	switch (alg) {
	case WCRYPTO_AES256GCM:
		return crypto_aead_aes256gcm_is_available() ? 1 : 0;
	case WCRYPTO_XCHACHA20POLY1305:
		return 1;
	default:
		return 0;
	}
}

const char *wcrypto_alg_name(int alg)
{
	switch (alg) {
	case WCRYPTO_AES256GCM:
		return "aes-256-gcm";
	case WCRYPTO_XCHACHA20POLY1305:
		return "xchacha20-poly1305";
	default:
		return "unknown";
	}
}

void *wcrypto_secure_alloc(size_t n)
{
	return sodium_malloc(n);
}

void wcrypto_secure_free(void *p)
{
	if (p)
		sodium_free(p);
}

void wcrypto_wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

int wcrypto_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	return sodium_memcmp(a, b, n) == 0 ? 1 : 0;
}

void wcrypto_random(void *buf, size_t n)
{
	if (n)
		randombytes_buf(buf, n);
}

void wcrypto_nonce(uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	struct nonce_pool *p = &tl_nonce_pool;

	if (p->avail < WCRYPTO_NONCEBYTES || p->avail > NONCE_POOL_BYTES) {
		randombytes_buf(p->buf, sizeof(p->buf));
		p->avail = sizeof(p->buf);
	}
	uint8_t *src = p->buf + sizeof(p->buf) - p->avail;
	memcpy(nonce, src, WCRYPTO_NONCEBYTES);
	/* Used bytes are not handed out again; zero them so a stale copy of
	 * the pool (core dump) does not show past nonces next to future ones. */
	memset(src, 0, WCRYPTO_NONCEBYTES);
	p->avail -= WCRYPTO_NONCEBYTES;
}

uint64_t wcrypto_shorthash(const uint8_t key[WCRYPTO_SHORTHASH_KEYBYTES],
			   const void *msg, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, msg, len, key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The AES state must be 16-byte aligned. sodium_malloc places the object at
 * the end of a page, so its address is aligned to the size's alignment; the
 * _Alignas makes sizeof a multiple of 16 and the checks below enforce it.
 * A context is shared by threads as const: the OpenSSL pool is its one
 * mutable part (atomics, see crypto_priv.h). */
struct wcrypto_aead {
	_Alignas(16) crypto_aead_aes256gcm_state aes;   /* libsodium AES only */
	uint8_t key[WCRYPTO_KEYBYTES];   /* XChaCha, OpenSSL (new contexts) */
	struct wcrypto_gcm gcm;          /* OpenSSL only */
	int alg;
	int impl;
};

_Static_assert(sizeof(struct wcrypto_aead) % 16 == 0, "aead size alignment");

int wcrypto_aead_new(int alg, int impl, const uint8_t key[WCRYPTO_KEYBYTES],
		     wcrypto_aead **out)
{
	struct wcrypto_aead *a;

	*out = NULL;
	if (alg != WCRYPTO_AES256GCM && alg != WCRYPTO_XCHACHA20POLY1305)
		return -EINVAL;
	if (impl != WCRYPTO_IMPL_SODIUM && impl != WCRYPTO_IMPL_OPENSSL)
		return -EINVAL;
	if (alg == WCRYPTO_AES256GCM && !crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;
	if (alg == WCRYPTO_XCHACHA20POLY1305)
		impl = WCRYPTO_IMPL_SODIUM;
	a = sodium_malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (((uintptr_t)a & 15) != 0) {
		sodium_free(a);
		return -EFAULT;
	}
	sodium_memzero(a, sizeof(*a));
	a->alg = alg;
	a->impl = impl;
	if (alg == WCRYPTO_AES256GCM && impl == WCRYPTO_IMPL_SODIUM) {
		crypto_aead_aes256gcm_beforenm(&a->aes, key);
	} else {
		memcpy(a->key, key, WCRYPTO_KEYBYTES);
		if (alg == WCRYPTO_AES256GCM)
			wcrypto_gcm_init(&a->gcm, a->key);
	}
	*out = a;
	return 0;
}

void wcrypto_aead_free(wcrypto_aead *a)
{
	if (!a)
		return;
	if (a->alg == WCRYPTO_AES256GCM && a->impl == WCRYPTO_IMPL_OPENSSL)
		wcrypto_gcm_destroy(&a->gcm);
	sodium_free(a);   /* sodium_free wipes */
}

int wcrypto_aead_alg(const wcrypto_aead *a)
{
	return a->alg;
}

int wcrypto_aead_impl(const wcrypto_aead *a)
{
	return a->impl;
}

static int use_openssl(const struct wcrypto_aead *a)
{
	return a->alg == WCRYPTO_AES256GCM && a->impl == WCRYPTO_IMPL_OPENSSL;
}

/* The pool is the part of a shared const context that callers change. */
static struct wcrypto_gcm *gcm_of(const struct wcrypto_aead *a)
{
	return (struct wcrypto_gcm *)&a->gcm;
}

int wcrypto_aead_seal(const wcrypto_aead *a, uint8_t *c, uint8_t tag[WCRYPTO_TAGBYTES],
		      const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	unsigned long long taglen = 0;
	uint8_t dummy[1] = { 0 };
	int rc;

	/* libsodium declares the buffers nonnull even for empty messages. */
	if (mlen == 0) {
		c = dummy;
		m = dummy;
	}
	if (adlen == 0 && !ad)
		ad = dummy;
	if (a->alg == WCRYPTO_AES256GCM) {
		/* One limit for both implementations: what one seals, the
		 * other must open. */
		if (mlen > crypto_aead_aes256gcm_MESSAGEBYTES_MAX)
			return -EMSGSIZE;
		if (use_openssl(a))
			return wcrypto_gcm_seal(gcm_of(a), c, tag, m, mlen, ad, adlen, nonce);
		rc = crypto_aead_aes256gcm_encrypt_detached_afternm(c, tag, &taglen, m, mlen,
				ad, adlen, NULL, nonce, &a->aes);
	} else {
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, tag, &taglen, m,
				mlen, ad, adlen, NULL, nonce, a->key);
	}
	return rc == 0 ? 0 : -EIO;
}

int wcrypto_aead_open(const wcrypto_aead *a, uint8_t *m, const uint8_t *c, size_t clen,
		      const uint8_t tag[WCRYPTO_TAGBYTES], const uint8_t *ad, size_t adlen,
		      const uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	uint8_t dummy[1] = { 0 };
	int rc;

	if (clen == 0) {
		c = dummy;
		m = dummy;
	}
	if (adlen == 0 && !ad)
		ad = dummy;
	/* Longer than anything either implementation seals: not authentic
	 * (libsodium would abort on it). */
	if (a->alg == WCRYPTO_AES256GCM && clen > crypto_aead_aes256gcm_MESSAGEBYTES_MAX) {
		wcrypto_wipe(m, clen);
		return -EBADMSG;
	}
	if (use_openssl(a))
		return wcrypto_gcm_open(gcm_of(a), m, c, clen, tag, ad, adlen, nonce);
	if (a->alg == WCRYPTO_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(m, NULL, c, clen, tag,
				ad, adlen, nonce, &a->aes);
	else
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(m, NULL, c, clen,
				tag, ad, adlen, nonce, a->key);
	if (rc != 0) {
		/* Never leave unauthenticated plaintext (or, in place, the
		 * ciphertext) behind for a careless caller. */
		wcrypto_wipe(m, clen);
		return -EBADMSG;
	}
	return 0;
}

int wcrypto_wrap(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[WCRYPTO_NONCEBYTES], const uint8_t key[WCRYPTO_KEYBYTES])
{
	unsigned long long clen = 0;

	if (crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, mlen, ad, adlen, NULL,
						       nonce, key) != 0)
		return -EIO;
	return 0;
}

int wcrypto_unwrap(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
		   const uint8_t nonce[WCRYPTO_NONCEBYTES], const uint8_t key[WCRYPTO_KEYBYTES])
{
	unsigned long long mlen = 0;

	if (clen < WCRYPTO_TAGBYTES)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, adlen,
						       nonce, key) != 0) {
		wcrypto_wipe(m, clen - WCRYPTO_TAGBYTES);
		return -EBADMSG;
	}
	return 0;
}

int wcrypto_mac(uint8_t out[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		const void *msg, size_t len)
{
	if (crypto_generichash(out, WCRYPTO_MACBYTES, msg, len, key, WCRYPTO_KEYBYTES) != 0)
		return -EIO;
	return 0;
}

int wcrypto_mac2(uint8_t out[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		 const void *a, size_t alen, const void *b, size_t blen)
{
	crypto_generichash_state st;
	int rc = crypto_generichash_init(&st, key, WCRYPTO_KEYBYTES, WCRYPTO_MACBYTES);

	if (!rc && alen)
		rc = crypto_generichash_update(&st, a, alen);
	if (!rc && blen)
		rc = crypto_generichash_update(&st, b, blen);
	if (!rc)
		rc = crypto_generichash_final(&st, out, WCRYPTO_MACBYTES);
	sodium_memzero(&st, sizeof(st));
	return rc ? -EIO : 0;
}

/* The keyed state after the key block, kept so that each MAC under the
 * same key costs one compression less (the state digest hashes every
 * record of a store at mount). */
struct wcrypto_mackey {
	crypto_generichash_state st;
};

wcrypto_mackey *wcrypto_mackey_new(const uint8_t key[WCRYPTO_KEYBYTES])
{
	wcrypto_mackey *k = wcrypto_secure_alloc(sizeof(*k));

	if (k && crypto_generichash_init(&k->st, key, WCRYPTO_KEYBYTES, WCRYPTO_MACBYTES)) {
		wcrypto_secure_free(k);
		k = NULL;
	}
	return k;
}

void wcrypto_mackey_free(wcrypto_mackey *k)
{
	if (k)
		wcrypto_secure_free(k);
}

int wcrypto_mac2_k(uint8_t out[WCRYPTO_MACBYTES], const wcrypto_mackey *k, const void *a,
		   size_t alen, const void *b, size_t blen)
{
	crypto_generichash_state st;
	int rc;

	memcpy(&st, &k->st, sizeof(st));
	rc = alen ? crypto_generichash_update(&st, a, alen) : 0;
	if (!rc && blen)
		rc = crypto_generichash_update(&st, b, blen);
	if (!rc)
		rc = crypto_generichash_final(&st, out, WCRYPTO_MACBYTES);
	sodium_memzero(&st, sizeof(st));
	return rc ? -EIO : 0;
}

int wcrypto_mac_verify(const uint8_t mac[WCRYPTO_MACBYTES], const uint8_t key[WCRYPTO_KEYBYTES],
		       const void *msg, size_t len)
{
	uint8_t want[WCRYPTO_MACBYTES];
	int rc;

	rc = wcrypto_mac(want, key, msg, len);
	if (rc == 0)
		rc = crypto_verify_32(want, mac) == 0 ? 0 : -EBADMSG;
	sodium_memzero(want, sizeof(want));
	return rc;
}

int wcrypto_hash(uint8_t out[WCRYPTO_MACBYTES], const void *msg, size_t len)
{
	if (crypto_generichash(out, WCRYPTO_MACBYTES, msg, len, NULL, 0) != 0)
		return -EIO;
	return 0;
}

int wcrypto_sign_keypair(uint8_t pk[WCRYPTO_SIGN_PKBYTES], uint8_t sk[WCRYPTO_SIGN_SKBYTES],
			 const uint8_t seed[WCRYPTO_KEYBYTES])
{
	_Static_assert(WCRYPTO_SIGN_PKBYTES == crypto_sign_PUBLICKEYBYTES &&
		       WCRYPTO_SIGN_SKBYTES == crypto_sign_SECRETKEYBYTES &&
		       WCRYPTO_SIGNBYTES == crypto_sign_BYTES &&
		       WCRYPTO_KEYBYTES == crypto_sign_SEEDBYTES, "sign sizes");
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		return -EIO;
	return 0;
}

int wcrypto_sign(uint8_t sig[WCRYPTO_SIGNBYTES], const void *msg, size_t len,
		 const uint8_t sk[WCRYPTO_SIGN_SKBYTES])
{
	if (crypto_sign_detached(sig, NULL, msg, len, sk) != 0)
		return -EIO;
	return 0;
}

int wcrypto_sign_verify(const uint8_t sig[WCRYPTO_SIGNBYTES], const void *msg, size_t len,
			const uint8_t pk[WCRYPTO_SIGN_PKBYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? 0 : -EBADMSG;
}

int wcrypto_kdf(uint8_t out[WCRYPTO_KEYBYTES], const uint8_t master[WCRYPTO_KEYBYTES],
		uint64_t id, const char ctx[8])
{
	if (crypto_kdf_derive_from_key(out, WCRYPTO_KEYBYTES, id, ctx, master) != 0)
		return -EIO;
	return 0;
}

void wcrypto_pwhash_defaults(uint64_t *opslimit, size_t *memlimit)
{
	*opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
	*memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
}

void wcrypto_pwhash_min(uint64_t *opslimit, size_t *memlimit)
{
	*opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
	*memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
}

int wcrypto_pwhash_limits_valid(uint64_t opslimit, size_t memlimit)
{
	return opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
	       opslimit <= crypto_pwhash_OPSLIMIT_SENSITIVE &&
	       memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
	       memlimit <= crypto_pwhash_MEMLIMIT_SENSITIVE;
}

int wcrypto_pwhash(uint8_t out[WCRYPTO_KEYBYTES], const char *pw, size_t pwlen,
		   const uint8_t salt[WCRYPTO_SALTBYTES], uint64_t opslimit, size_t memlimit)
{
	_Static_assert(WCRYPTO_SALTBYTES == crypto_pwhash_SALTBYTES, "salt size");
	uint64_t dops;
	size_t dmem;

	wcrypto_pwhash_defaults(&dops, &dmem);
	if (opslimit == 0)
		opslimit = dops;
	if (memlimit == 0)
		memlimit = dmem;
	if (!wcrypto_pwhash_limits_valid(opslimit, memlimit) ||
	    pwlen > crypto_pwhash_PASSWD_MAX)
		return -EINVAL;
	if (crypto_pwhash(out, WCRYPTO_KEYBYTES, pw, pwlen, salt, opslimit, memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;   /* the only runtime failure: memory */
	return 0;
}

void wcrypto_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int wcrypto_hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wcrypto_unhex(uint8_t *out, size_t n, const char *in, size_t inlen)
{
	size_t i;

	if (n > SIZE_MAX / 2 || inlen != 2 * n)
		return -EINVAL;
	for (i = 0; i < inlen; i++)
		if (wcrypto_hexdigit(in[i]) < 0)
			return -EINVAL;
	/* Validate everything first so a bad string leaves out untouched. */
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(wcrypto_hexdigit(in[2 * i]) << 4 |
				   wcrypto_hexdigit(in[2 * i + 1]));
	return 0;
}
