/* crypto_gcm: AES-256-GCM content blocks through OpenSSL's EVP interface,
 * the only file that includes OpenSSL headers. The construction is plain
 * GCM with a 96-bit nonce and a 128-bit tag, as libsodium's
 * crypto_aead_aes256gcm: same key, nonce, AD and message give the same
 * ciphertext and tag, so either implementation opens what the other
 * sealed.
 *
 * No global state: keyed contexts live in the per-key pool (crypto_priv.h).
 * Every EVP return value is checked; a context that failed is freed, never
 * parked again. */
#include "crypto_priv.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* EVP lengths are int: feed larger inputs in pieces (GCM is a stream). */
#define EVP_CHUNK (1 << 30)

/* A new context keyed for g (encryption direction; open switches it). */
static EVP_CIPHER_CTX *ctx_new(const uint8_t *key)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

	if (!x)
		return NULL;
	if (EVP_CipherInit_ex2(x, EVP_aes_256_gcm(), key, NULL, 1, NULL) != 1 ||
	    EVP_CIPHER_CTX_get_iv_length(x) != WCRYPTO_GCM_NONCE ||
	    EVP_CIPHER_CTX_get_key_length(x) != WCRYPTO_KEYBYTES) {
		EVP_CIPHER_CTX_free(x);
		return NULL;
	}
	return x;
}

int wcrypto_gcm_available(void)
{
	uint8_t zero[WCRYPTO_KEYBYTES] = { 0 };
	EVP_CIPHER_CTX *x = ctx_new(zero);

	if (!x)
		return 0;
	EVP_CIPHER_CTX_free(x);
	return 1;
}

void wcrypto_gcm_init(struct wcrypto_gcm *g, const uint8_t *key)
{
	g->key = key;
	for (int i = 0; i < WCRYPTO_GCM_POOL; i++)
		atomic_init(&g->idle[i], NULL);
}

void wcrypto_gcm_destroy(struct wcrypto_gcm *g)
{
	for (int i = 0; i < WCRYPTO_GCM_POOL; i++) {
		EVP_CIPHER_CTX *x = atomic_exchange(&g->idle[i], NULL);

		EVP_CIPHER_CTX_free(x);   /* NULL ok; clears the key schedule */
	}
}

static EVP_CIPHER_CTX *ctx_take(struct wcrypto_gcm *g)
{
	for (int i = 0; i < WCRYPTO_GCM_POOL; i++) {
		/* A load first: an empty slot costs no write (no cache-line
		 * ping-pong between threads scanning the pool). */
		if (!atomic_load_explicit(&g->idle[i], memory_order_relaxed))
			continue;
		EVP_CIPHER_CTX *x = atomic_exchange_explicit(&g->idle[i], NULL,
							     memory_order_acquire);
		if (x)
			return x;
	}
	return ctx_new(g->key);
}

static void ctx_give(struct wcrypto_gcm *g, EVP_CIPHER_CTX *x)
{
	for (int i = 0; i < WCRYPTO_GCM_POOL; i++) {
		void *expect = NULL;

		if (atomic_compare_exchange_strong_explicit(&g->idle[i], &expect, x,
							    memory_order_release,
							    memory_order_relaxed))
			return;
	}
	EVP_CIPHER_CTX_free(x);   /* more concurrent callers than slots */
}

/* Feed in (AD when out is NULL) in int-sized pieces; 1 ok, 0 failed. */
static int update(EVP_CIPHER_CTX *x, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		int n = len > EVP_CHUNK ? EVP_CHUNK : (int)len;
		int outl = -1;

		if (EVP_CipherUpdate(x, out, &outl, in, n) != 1)
			return 0;
		/* GCM is a stream: every input byte is output at once. */
		if (out && outl != n)
			return 0;
		in += n;
		if (out)
			out += n;
		len -= (size_t)n;
	}
	return 1;
}

int wcrypto_gcm_seal(struct wcrypto_gcm *g, uint8_t *c, uint8_t tag[WCRYPTO_TAGBYTES],
		     const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[WCRYPTO_GCM_NONCE])
{
	EVP_CIPHER_CTX *x = ctx_take(g);
	uint8_t fin[16];
	int outl = -1;

	if (!x)
		return -ENOMEM;
	if (EVP_CipherInit_ex2(x, NULL, NULL, nonce, 1, NULL) != 1 ||
	    !update(x, NULL, ad, adlen) || !update(x, c, m, mlen) ||
	    EVP_CipherFinal_ex(x, fin, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, WCRYPTO_TAGBYTES, tag) != 1) {
		EVP_CIPHER_CTX_free(x);
		/* Nothing half-sealed may be mistaken for output. */
		OPENSSL_cleanse(tag, WCRYPTO_TAGBYTES);
		return -EIO;
	}
	ctx_give(g, x);
	return 0;
}

int wcrypto_gcm_open(struct wcrypto_gcm *g, uint8_t *m, const uint8_t *c, size_t clen,
		     const uint8_t tag[WCRYPTO_TAGBYTES], const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[WCRYPTO_GCM_NONCE])
{
	EVP_CIPHER_CTX *x = ctx_take(g);
	uint8_t fin[16], t[WCRYPTO_TAGBYTES];
	int outl = -1, rc;

	if (!x) {
		OPENSSL_cleanse(m, clen);
		return -ENOMEM;
	}
	/* The ctrl takes a non-const pointer. */
	memcpy(t, tag, sizeof(t));
	if (EVP_CipherInit_ex2(x, NULL, NULL, nonce, 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, WCRYPTO_TAGBYTES, t) != 1 ||
	    !update(x, NULL, ad, adlen) || !update(x, m, c, clen)) {
		rc = -EIO;
		goto fail;
	}
	/* Final compares the tag (in constant time); <= 0 = not authentic. */
	if (EVP_CipherFinal_ex(x, fin, &outl) != 1 || outl != 0) {
		rc = -EBADMSG;
		goto fail;
	}
	ctx_give(g, x);
	return 0;
fail:
	EVP_CIPHER_CTX_free(x);
	/* Never leave unauthenticated plaintext (or, in place, the
	 * ciphertext) behind. */
	OPENSSL_cleanse(m, clen);
	return rc;
}
