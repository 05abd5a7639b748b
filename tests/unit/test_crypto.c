/* crypto: AEAD round trips and tampering for both ciphers and both
 * AES-256-GCM implementations (libsodium, OpenSSL) including each opening
 * the other's output, the crypto_impl choice, nonce pool uniqueness
 * (threads, fork), MAC, KDF, Argon2id, hex. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
}

TestSuite(crypto, .init = setup);

/* Every (algorithm, implementation) pair a context can be made with. */
static const struct { int alg, impl; } combos[] = {
	{ WCRYPTO_AES256GCM, WCRYPTO_IMPL_SODIUM },
	{ WCRYPTO_AES256GCM, WCRYPTO_IMPL_OPENSSL },
	{ WCRYPTO_XCHACHA20POLY1305, WCRYPTO_IMPL_SODIUM },
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

Test(crypto, init_twice_and_algs)
{
	cr_assert_eq(wcrypto_init(), 0);
	cr_assert_eq(wcrypto_alg_valid(WCRYPTO_XCHACHA20POLY1305), 1);
	cr_assert_eq(wcrypto_alg_valid(0), 0);
	cr_assert_eq(wcrypto_alg_valid(3), 0);
	cr_assert_str_eq(wcrypto_alg_name(WCRYPTO_AES256GCM), "aes-256-gcm");
	cr_assert_str_eq(wcrypto_alg_name(WCRYPTO_XCHACHA20POLY1305), "xchacha20-poly1305");
	unsetenv("WORMFS_FORCE_XCHACHA");
	int def = wcrypto_default_alg();
	cr_assert_eq(def, wcrypto_alg_valid(WCRYPTO_AES256GCM) ? WCRYPTO_AES256GCM
							       : WCRYPTO_XCHACHA20POLY1305);
	setenv("WORMFS_FORCE_XCHACHA", "1", 1);
	cr_assert_eq(wcrypto_default_alg(), WCRYPTO_XCHACHA20POLY1305);
	setenv("WORMFS_FORCE_XCHACHA", "0", 1);
	cr_assert_eq(wcrypto_default_alg(), def);
	unsetenv("WORMFS_FORCE_XCHACHA");
}

Test(crypto, aead_new_rejects_unknown_alg)
{
	uint8_t key[WCRYPTO_KEYBYTES] = { 0 };
	wcrypto_aead *a = (wcrypto_aead *)1;

	cr_assert_eq(wcrypto_aead_new(0, WCRYPTO_IMPL_SODIUM, key, &a), -EINVAL);
	cr_assert_null(a);
	cr_assert_eq(wcrypto_aead_new(7, WCRYPTO_IMPL_SODIUM, key, &a), -EINVAL);
	/* The implementation must be resolved (not auto) and known. */
	a = (wcrypto_aead *)1;
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, WCRYPTO_IMPL_AUTO, key, &a),
		     -EINVAL);
	cr_assert_null(a);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, 3, key, &a), -EINVAL);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, -1, key, &a), -EINVAL);
	/* XChaCha is libsodium's whatever the AES implementation. */
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, WCRYPTO_IMPL_OPENSSL, key, &a), 0);
	cr_assert_eq(wcrypto_aead_impl(a), WCRYPTO_IMPL_SODIUM);
	wcrypto_aead_free(a);
	wcrypto_aead_free(NULL);
}

Test(crypto, aead_roundtrip_and_tamper_both_algs)
{
	uint8_t key[WCRYPTO_KEYBYTES], nonce[WCRYPTO_NONCEBYTES], tag[WCRYPTO_TAGBYTES];
	uint8_t m[1000], c[1000], out[1000], ad[] = "object-id|block 7|last";

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < NCOMBOS; k++) {
		wcrypto_aead *a;
		int alg = combos[k].alg, impl = combos[k].impl;

		if (!wcrypto_alg_valid(alg)) {
			uint8_t zk[WCRYPTO_KEYBYTES] = { 0 };
			cr_assert_eq(wcrypto_aead_new(alg, impl, zk, &a), -ENOTSUP);
			continue;
		}
		wcrypto_random(key, sizeof(key));
		wcrypto_nonce(nonce);
		cr_assert_eq(wcrypto_aead_new(alg, impl, key, &a), 0);
		cr_assert_eq(wcrypto_aead_alg(a), alg);
		cr_assert_eq(wcrypto_aead_impl(a), impl);
		cr_assert_eq(wcrypto_aead_seal(a, c, tag, m, sizeof(m), ad, sizeof(ad), nonce), 0);
		cr_assert(memcmp(c, m, sizeof(m)) != 0);
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), 0);
		cr_assert_arr_eq(out, m, sizeof(m));

		/* In place, both directions. */
		uint8_t buf[1000];
		memcpy(buf, m, sizeof(m));
		cr_assert_eq(wcrypto_aead_seal(a, buf, tag, buf, sizeof(buf), ad, sizeof(ad), nonce), 0);
		cr_assert_arr_eq(buf, c, sizeof(c));
		cr_assert_eq(wcrypto_aead_open(a, buf, buf, sizeof(buf), tag, ad, sizeof(ad), nonce), 0);
		cr_assert_arr_eq(buf, m, sizeof(m));

		/* Flipped ciphertext, tag, AD, nonce: -EBADMSG, output wiped. */
		c[500] ^= 1;
		memset(out, 0xaa, sizeof(out));
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), -EBADMSG);
		cr_assert(all_zero(out, sizeof(out)));
		c[500] ^= 1;
		tag[0] ^= 0x80;
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), -EBADMSG);
		tag[0] ^= 0x80;
		ad[0] ^= 1;
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), -EBADMSG);
		ad[0] ^= 1;
		nonce[3] ^= 1;
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), -EBADMSG);
		nonce[3] ^= 1;
		/* Truncated: fewer bytes do not authenticate. */
		cr_assert_eq(wcrypto_aead_open(a, out, c, sizeof(c) - 1, tag, ad, sizeof(ad), nonce), -EBADMSG);
		/* AES-GCM uses the first 12 nonce bytes only; XChaCha all 24. */
		nonce[20] ^= 1;
		int rc = wcrypto_aead_open(a, out, c, sizeof(c), tag, ad, sizeof(ad), nonce);
		cr_assert_eq(rc, alg == WCRYPTO_AES256GCM ? 0 : -EBADMSG);
		nonce[20] ^= 1;

		/* Another key does not open it. */
		wcrypto_aead *b;
		key[0] ^= 1;
		cr_assert_eq(wcrypto_aead_new(alg, impl, key, &b), 0);
		cr_assert_eq(wcrypto_aead_open(b, out, c, sizeof(c), tag, ad, sizeof(ad), nonce), -EBADMSG);
		wcrypto_aead_free(b);
		/* Empty message, no AD: still authenticated. */
		cr_assert_eq(wcrypto_aead_seal(a, NULL, tag, NULL, 0, NULL, 0, nonce), 0);
		cr_assert_eq(wcrypto_aead_open(a, NULL, NULL, 0, tag, NULL, 0, nonce), 0);
		tag[5] ^= 1;
		cr_assert_eq(wcrypto_aead_open(a, NULL, NULL, 0, tag, NULL, 0, nonce), -EBADMSG);
		wcrypto_aead_free(a);
	}
}

Test(crypto, algorithms_are_different)
{
	uint8_t key[WCRYPTO_KEYBYTES], nonce[WCRYPTO_NONCEBYTES], t1[16], t2[16];
	uint8_t m[64] = "same input", c1[64], c2[64];
	wcrypto_aead *a, *x;

	if (!wcrypto_alg_valid(WCRYPTO_AES256GCM))
		cr_skip_test("no AES-NI");
	wcrypto_random(key, sizeof(key));
	wcrypto_nonce(nonce);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_SODIUM, key, &a), 0);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, WCRYPTO_IMPL_SODIUM, key, &x), 0);
	cr_assert_eq(wcrypto_aead_seal(a, c1, t1, m, sizeof(m), NULL, 0, nonce), 0);
	cr_assert_eq(wcrypto_aead_seal(x, c2, t2, m, sizeof(m), NULL, 0, nonce), 0);
	cr_assert(memcmp(c1, c2, sizeof(c1)) != 0);
	cr_assert_eq(wcrypto_aead_open(x, m, c1, sizeof(c1), t1, NULL, 0, nonce), -EBADMSG);
	wcrypto_aead_free(a);
	wcrypto_aead_free(x);
}

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, WCRYPTO_NONCEBYTES);
}

#define NONCES_PER_THREAD 20000

static void *nonce_worker(void *arg)
{
	uint8_t *out = arg;

	for (int i = 0; i < NONCES_PER_THREAD; i++)
		wcrypto_nonce(out + (size_t)i * WCRYPTO_NONCEBYTES);
	return NULL;
}

Test(crypto, nonces_unique_across_threads)
{
	size_t n = 4 * NONCES_PER_THREAD;
	uint8_t *all = calloc(n, WCRYPTO_NONCEBYTES);
	pthread_t th[4];

	cr_assert_not_null(all);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, nonce_worker,
					    all + (size_t)i * NONCES_PER_THREAD * WCRYPTO_NONCEBYTES), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	qsort(all, n, WCRYPTO_NONCEBYTES, cmp_nonce);
	for (size_t i = 1; i < n; i++) {
		cr_assert_neq(memcmp(all + (i - 1) * WCRYPTO_NONCEBYTES,
				     all + i * WCRYPTO_NONCEBYTES, 12), 0,
			      "repeated nonce (first 12 bytes) at %zu", i);
	}
	free(all);
}

Test(crypto, fork_does_not_repeat_nonces)
{
	uint8_t first[WCRYPTO_NONCEBYTES], parent[WCRYPTO_NONCEBYTES], child[WCRYPTO_NONCEBYTES];
	int fds[2];
	pid_t pid;
	int st;

	wcrypto_nonce(first);   /* the pool is filled now */
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		wcrypto_nonce(child);
		_exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	wcrypto_nonce(parent);
	cr_assert_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_neq(memcmp(parent, child, sizeof(child)), 0);
	cr_assert_neq(memcmp(first, child, sizeof(child)), 0);
}

Test(crypto, wrap_unwrap)
{
	uint8_t key[32], nonce[24], m[32], c[48], out[32], ad[8] = "WORMDEK1";

	wcrypto_random(key, sizeof(key));
	wcrypto_random(m, sizeof(m));
	wcrypto_nonce(nonce);
	cr_assert_eq(wcrypto_wrap(c, m, sizeof(m), ad, sizeof(ad), nonce, key), 0);
	cr_assert_eq(wcrypto_unwrap(out, c, sizeof(c), ad, sizeof(ad), nonce, key), 0);
	cr_assert_arr_eq(out, m, sizeof(m));
	ad[7] = '2';
	memset(out, 0x55, sizeof(out));
	cr_assert_eq(wcrypto_unwrap(out, c, sizeof(c), ad, sizeof(ad), nonce, key), -EBADMSG);
	cr_assert(all_zero(out, sizeof(out)));
	ad[7] = '1';
	c[47] ^= 1;
	cr_assert_eq(wcrypto_unwrap(out, c, sizeof(c), ad, sizeof(ad), nonce, key), -EBADMSG);
	cr_assert_eq(wcrypto_unwrap(out, c, 15, ad, sizeof(ad), nonce, key), -EBADMSG);
}

Test(crypto, mac_and_verify)
{
	uint8_t key[32], key2[32], mac[32], mac2[32];
	char msg[] = "retention=COMPLIANCE until=2030-01-01";

	wcrypto_random(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 1;
	cr_assert_eq(wcrypto_mac(mac, key, msg, sizeof(msg)), 0);
	cr_assert_eq(wcrypto_mac(mac2, key, msg, sizeof(msg)), 0);
	cr_assert_arr_eq(mac, mac2, 32);
	cr_assert_eq(wcrypto_mac_verify(mac, key, msg, sizeof(msg)), 0);
	cr_assert_eq(wcrypto_mac_verify(mac, key2, msg, sizeof(msg)), -EBADMSG);
	msg[0] ^= 1;
	cr_assert_eq(wcrypto_mac_verify(mac, key, msg, sizeof(msg)), -EBADMSG);
	msg[0] ^= 1;
	mac[31] ^= 1;
	cr_assert_eq(wcrypto_mac_verify(mac, key, msg, sizeof(msg)), -EBADMSG);
	cr_assert_eq(wcrypto_mac(mac2, key2, msg, sizeof(msg)), 0);
	cr_assert_neq(memcmp(mac, mac2, 32), 0);
	cr_assert_eq(wcrypto_equal(mac, mac, 32), 1);
	cr_assert_eq(wcrypto_equal(mac, mac2, 32), 0);
}

Test(crypto, kdf_subkeys)
{
	uint8_t master[32], a[32], b[32], c[32], d[32];

	wcrypto_random(master, sizeof(master));
	cr_assert_eq(wcrypto_kdf(a, master, 1, "wormrec1"), 0);
	cr_assert_eq(wcrypto_kdf(b, master, 1, "wormrec1"), 0);
	cr_assert_eq(wcrypto_kdf(c, master, 2, "wormrec1"), 0);
	cr_assert_eq(wcrypto_kdf(d, master, 1, "wormrec2"), 0);
	cr_assert_arr_eq(a, b, 32);
	cr_assert_neq(memcmp(a, c, 32), 0);
	cr_assert_neq(memcmp(a, d, 32), 0);
	cr_assert_neq(memcmp(a, master, 32), 0);
}

Test(crypto, pwhash_min_limits)
{
	uint8_t salt[16], salt2[16], a[32], b[32], c[32], d[32];
	uint64_t ops, dops;
	size_t mem, dmem;

	wcrypto_pwhash_min(&ops, &mem);
	wcrypto_pwhash_defaults(&dops, &dmem);
	cr_assert(ops <= dops && mem < dmem);
	cr_assert_eq(wcrypto_pwhash_limits_valid(ops, mem), 1);
	cr_assert_eq(wcrypto_pwhash_limits_valid(ops, mem - 1), 0);
	cr_assert_eq(wcrypto_pwhash_limits_valid(0, mem), 0);
	cr_assert_eq(wcrypto_pwhash_limits_valid(dops, dmem), 1);
	wcrypto_random(salt, sizeof(salt));
	memcpy(salt2, salt, sizeof(salt));
	salt2[0] ^= 1;
	cr_assert_eq(wcrypto_pwhash(a, "hunter2", 7, salt, ops, mem), 0);
	cr_assert_eq(wcrypto_pwhash(b, "hunter2", 7, salt, ops, mem), 0);
	cr_assert_eq(wcrypto_pwhash(c, "hunter3", 7, salt, ops, mem), 0);
	cr_assert_eq(wcrypto_pwhash(d, "hunter2", 7, salt2, ops, mem), 0);
	cr_assert_arr_eq(a, b, 32);
	cr_assert_neq(memcmp(a, c, 32), 0);
	cr_assert_neq(memcmp(a, d, 32), 0);
	cr_assert_eq(wcrypto_pwhash(a, "x", 1, salt, ops, 1024), -EINVAL);
}

Test(crypto, hex_strict)
{
	uint8_t in[4] = { 0x00, 0x9f, 0xab, 0xff }, out[4], keep[4];
	char hex[9];

	wcrypto_hex(hex, in, 4);
	cr_assert_str_eq(hex, "009fabff");
	cr_assert_eq(wcrypto_unhex(out, 4, hex, 8), 0);
	cr_assert_arr_eq(out, in, 4);
	cr_assert_eq(wcrypto_unhex(out, 4, "009FABFF", 8), 0);
	cr_assert_arr_eq(out, in, 4);
	memset(out, 0x11, 4);
	memcpy(keep, out, 4);
	cr_assert_eq(wcrypto_unhex(out, 4, "009fabf", 7), -EINVAL);
	cr_assert_eq(wcrypto_unhex(out, 4, "009fabff0", 9), -EINVAL);
	cr_assert_eq(wcrypto_unhex(out, 4, "009fabfg", 8), -EINVAL);
	cr_assert_eq(wcrypto_unhex(out, 4, " 09fabff", 8), -EINVAL);
	cr_assert_eq(wcrypto_unhex(out, 4, "0x9fabff", 8), -EINVAL);
	cr_assert_eq(wcrypto_unhex(out, 4, "009f\0bff", 8), -EINVAL);
	cr_assert_arr_eq(out, keep, 4);
	wcrypto_hex(hex, in, 0);
	cr_assert_str_eq(hex, "");
	cr_assert_eq(wcrypto_unhex(out, 0, "", 0), 0);
}

Test(crypto, secure_memory_and_shorthash)
{
	uint8_t *p = wcrypto_secure_alloc(64);
	uint8_t k1[16] = { 1 }, k2[16] = { 2 };

	cr_assert_not_null(p);
	memset(p, 0xee, 64);
	wcrypto_wipe(p, 64);
	cr_assert(all_zero(p, 64));
	wcrypto_secure_free(p);
	wcrypto_secure_free(NULL);
	cr_assert_eq(wcrypto_shorthash(k1, "abc", 3), wcrypto_shorthash(k1, "abc", 3));
	cr_assert_neq(wcrypto_shorthash(k1, "abc", 3), wcrypto_shorthash(k2, "abc", 3));
	cr_assert_neq(wcrypto_shorthash(k1, "abc", 3), wcrypto_shorthash(k1, "abd", 3));
}

/* ---- AES-256-GCM: libsodium and OpenSSL --------------------------------- */

static void need_both_impls(void)
{
	if (!wcrypto_alg_valid(WCRYPTO_AES256GCM))
		cr_skip_test("no AES instructions: AES-256-GCM is not offered");
	cr_assert_eq(wcrypto_impl_available(WCRYPTO_IMPL_OPENSSL), 1,
		     "OpenSSL AES-256-GCM must be usable where libsodium's is");
}

static void gcm_pair(const uint8_t key[WCRYPTO_KEYBYTES], wcrypto_aead *a[2])
{
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_SODIUM, key, &a[0]), 0);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_OPENSSL, key, &a[1]), 0);
	cr_assert_eq(wcrypto_aead_impl(a[0]), WCRYPTO_IMPL_SODIUM);
	cr_assert_eq(wcrypto_aead_impl(a[1]), WCRYPTO_IMPL_OPENSSL);
}

static void gcm_nonce(uint8_t nonce[WCRYPTO_NONCEBYTES])
{
	wcrypto_nonce(nonce);
	memset(nonce + 12, 0, WCRYPTO_NONCEBYTES - 12);   /* as obj stores it */
}

/* The on-disk format does not depend on the implementation: same bytes,
 * and each opens what the other sealed, for lengths around the AES block
 * and the 16 KiB content block, in place and not, with and without AD. */
Test(crypto, gcm_implementations_interchangeable)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 255, 4096, 16383, 16384, 16384 + 13,
				       100000 };
	uint8_t key[WCRYPTO_KEYBYTES], nonce[WCRYPTO_NONCEBYTES], ad[41];
	uint8_t tag[2][WCRYPTO_TAGBYTES];
	size_t max = 100000;
	uint8_t *m = malloc(max), *c[2] = { malloc(max), malloc(max) }, *out = malloc(max);
	wcrypto_aead *a[2];

	need_both_impls();
	cr_assert(m && c[0] && c[1] && out);
	wcrypto_random(key, sizeof(key));
	wcrypto_random(ad, sizeof(ad));
	wcrypto_random(m, max);
	gcm_pair(key, a);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		for (int withad = 0; withad < 2; withad++) {
			const uint8_t *adp = withad ? ad : NULL;
			size_t adn = withad ? sizeof(ad) : 0;

			gcm_nonce(nonce);
			for (int w = 0; w < 2; w++)
				cr_assert_eq(wcrypto_aead_seal(a[w], c[w], tag[w], m, n, adp, adn,
							       nonce), 0);
			cr_assert_arr_eq(c[0], c[1], n, "ciphertexts differ at len %zu", n);
			cr_assert_arr_eq(tag[0], tag[1], WCRYPTO_TAGBYTES, "tags differ at len %zu", n);
			for (int w = 0; w < 2; w++) {
				int r = 1 - w;   /* the other implementation reads */

				memset(out, 0x5a, n);
				cr_assert_eq(wcrypto_aead_open(a[r], out, c[w], n, tag[w], adp, adn,
							       nonce), 0, "len %zu w %d", n, w);
				cr_assert_arr_eq(out, m, n);
				/* In place. */
				memcpy(out, c[w], n);
				cr_assert_eq(wcrypto_aead_open(a[r], out, out, n, tag[w], adp, adn,
							       nonce), 0);
				cr_assert_arr_eq(out, m, n);
			}
			/* In-place seal gives the same bytes too. */
			memcpy(out, m, n);
			cr_assert_eq(wcrypto_aead_seal(a[1], out, tag[1], out, n, adp, adn, nonce), 0);
			cr_assert_arr_eq(out, c[0], n);
			cr_assert_arr_eq(tag[1], tag[0], WCRYPTO_TAGBYTES);
		}
	}
	wcrypto_aead_free(a[0]);
	wcrypto_aead_free(a[1]);
	free(m);
	free(c[0]);
	free(c[1]);
	free(out);
}

/* A known answer, so both are checked against GCM itself and not only
 * against each other: the 256-bit test case of the GCM specification
 * (McGrew and Viega, test case 16: key feffe9..., 60-byte message, 20-byte
 * AD). */
Test(crypto, gcm_known_answer_both_impls)
{
	static const char *khex = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
	static const char *nhex = "cafebabefacedbaddecaf888";
	static const char *phex =
		"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
	static const char *ahex = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
	static const char *chex =
		"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
	static const char *thex = "76fc6ece0f4e1768cddf8853bb2d551b";
	uint8_t key[32], nonce[WCRYPTO_NONCEBYTES] = { 0 }, p[60], ad[20], want[60], wtag[16];
	uint8_t c[60], tag[16], out[60];
	wcrypto_aead *a[2];

	need_both_impls();
	cr_assert_eq(wcrypto_unhex(key, 32, khex, strlen(khex)), 0);
	cr_assert_eq(wcrypto_unhex(nonce, 12, nhex, strlen(nhex)), 0);
	cr_assert_eq(wcrypto_unhex(p, 60, phex, strlen(phex)), 0);
	cr_assert_eq(wcrypto_unhex(ad, 20, ahex, strlen(ahex)), 0);
	cr_assert_eq(wcrypto_unhex(want, 60, chex, strlen(chex)), 0);
	cr_assert_eq(wcrypto_unhex(wtag, 16, thex, strlen(thex)), 0);
	gcm_pair(key, a);
	for (int w = 0; w < 2; w++) {
		cr_assert_eq(wcrypto_aead_seal(a[w], c, tag, p, sizeof(p), ad, sizeof(ad), nonce), 0);
		cr_assert_arr_eq(c, want, sizeof(c), "impl %d", w);
		cr_assert_arr_eq(tag, wtag, sizeof(tag), "impl %d", w);
		cr_assert_eq(wcrypto_aead_open(a[w], out, want, sizeof(want), wtag, ad, sizeof(ad),
					       nonce), 0);
		cr_assert_arr_eq(out, p, sizeof(p));
	}
	wcrypto_aead_free(a[0]);
	wcrypto_aead_free(a[1]);
}

/* Tampering with the tag, the AD, the ciphertext, the nonce or the length
 * fails with -EBADMSG and a wiped output, whichever implementation sealed
 * and whichever opens. */
Test(crypto, gcm_tamper_fails_both_ways)
{
	enum { N = 16384 };
	uint8_t key[WCRYPTO_KEYBYTES], nonce[WCRYPTO_NONCEBYTES], ad[41], tag[16];
	uint8_t *m = malloc(N), *c = malloc(N), *out = malloc(N);
	wcrypto_aead *a[2];

	need_both_impls();
	cr_assert(m && c && out);
	wcrypto_random(key, sizeof(key));
	wcrypto_random(ad, sizeof(ad));
	wcrypto_random(m, N);
	gcm_pair(key, a);
	for (int w = 0; w < 2; w++) {
		gcm_nonce(nonce);
		cr_assert_eq(wcrypto_aead_seal(a[w], c, tag, m, N, ad, sizeof(ad), nonce), 0);
		for (int r = 0; r < 2; r++) {
			struct { uint8_t *p; size_t off; } flips[] = {
				{ tag, 0 }, { tag, 15 }, { ad, 0 }, { ad, 40 },
				{ c, 0 }, { c, N / 2 }, { c, N - 1 }, { nonce, 0 }, { nonce, 11 },
			};
			for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
				flips[f].p[flips[f].off] ^= 0x01;
				memset(out, 0xaa, N);
				cr_assert_eq(wcrypto_aead_open(a[r], out, c, N, tag, ad, sizeof(ad),
							       nonce), -EBADMSG,
					     "sealed by %d, opened by %d, flip %zu", w, r, f);
				cr_assert(all_zero(out, N), "output not wiped (flip %zu)", f);
				flips[f].p[flips[f].off] ^= 0x01;
			}
			/* Truncated, and in place: the ciphertext is wiped too. */
			cr_assert_eq(wcrypto_aead_open(a[r], out, c, N - 16, tag, ad, sizeof(ad),
						       nonce), -EBADMSG);
			memcpy(out, c, N);
			out[100] ^= 0x80;
			cr_assert_eq(wcrypto_aead_open(a[r], out, out, N, tag, ad, sizeof(ad), nonce),
				     -EBADMSG);
			cr_assert(all_zero(out, N));
			/* Untouched: still opens (the flips were undone). */
			cr_assert_eq(wcrypto_aead_open(a[r], out, c, N, tag, ad, sizeof(ad), nonce), 0);
			cr_assert_arr_eq(out, m, N);
		}
		/* A context that failed is still good for the next block. */
		cr_assert_eq(wcrypto_aead_seal(a[w], c, tag, m, N, ad, sizeof(ad), nonce), 0);
		cr_assert_eq(wcrypto_aead_open(a[w], out, c, N, tag, ad, sizeof(ad), nonce), 0);
	}
	/* Another key does not open it (OpenSSL contexts are per key). */
	wcrypto_aead *b;
	key[31] ^= 1;
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_OPENSSL, key, &b), 0);
	cr_assert_eq(wcrypto_aead_open(b, out, c, N, tag, ad, sizeof(ad), nonce), -EBADMSG);
	wcrypto_aead_free(b);
	wcrypto_aead_free(a[0]);
	wcrypto_aead_free(a[1]);
	free(m);
	free(c);
	free(out);
}

/* One OpenSSL context shared by more threads than its pool has slots:
 * every thread gets the bytes libsodium computes (no context is used by
 * two callers at once). */
#define GCM_THREADS 12
#define GCM_ITERS 300

struct gcm_worker {
	const wcrypto_aead *o, *s;
	int id, failures;
};

static void *gcm_worker_run(void *arg)
{
	struct gcm_worker *w = arg;
	uint8_t m[2048], c1[2048], c2[2048], t1[16], t2[16], nonce[WCRYPTO_NONCEBYTES];
	uint8_t ad[8] = { (uint8_t)w->id };

	for (int i = 0; i < GCM_ITERS; i++) {
		size_t n = (size_t)(i * 37 + w->id) % sizeof(m);

		wcrypto_random(m, n);
		gcm_nonce(nonce);
		if (wcrypto_aead_seal(w->o, c1, t1, m, n, ad, sizeof(ad), nonce) ||
		    wcrypto_aead_seal(w->s, c2, t2, m, n, ad, sizeof(ad), nonce) ||
		    memcmp(c1, c2, n) || memcmp(t1, t2, 16) ||
		    wcrypto_aead_open(w->o, c2, c2, n, t2, ad, sizeof(ad), nonce) ||
		    memcmp(c2, m, n))
			w->failures++;
		if (i % 50 == 0) {   /* failures on a shared context, too */
			t1[3] ^= 4;
			if (wcrypto_aead_open(w->o, c2, c1, n, t1, ad, sizeof(ad), nonce) != -EBADMSG)
				w->failures++;
		}
	}
	return NULL;
}

Test(crypto, gcm_openssl_context_shared_by_threads)
{
	uint8_t key[WCRYPTO_KEYBYTES];
	wcrypto_aead *a[2];
	pthread_t th[GCM_THREADS];
	struct gcm_worker w[GCM_THREADS];

	need_both_impls();
	wcrypto_random(key, sizeof(key));
	gcm_pair(key, a);
	for (int i = 0; i < GCM_THREADS; i++) {
		w[i] = (struct gcm_worker){ a[1], a[0], i, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, gcm_worker_run, &w[i]), 0);
	}
	for (int i = 0; i < GCM_THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(w[i].failures, 0, "thread %d: %d failures", i, w[i].failures);
	}
	wcrypto_aead_free(a[0]);
	wcrypto_aead_free(a[1]);
}

Test(crypto, impl_names_and_parse)
{
	int v = -1;

	cr_assert_str_eq(wcrypto_impl_name(WCRYPTO_IMPL_AUTO), "auto");
	cr_assert_str_eq(wcrypto_impl_name(WCRYPTO_IMPL_SODIUM), "sodium");
	cr_assert_str_eq(wcrypto_impl_name(WCRYPTO_IMPL_OPENSSL), "openssl");
	cr_assert_str_eq(wcrypto_impl_name(3), "unknown");
	cr_assert_str_eq(wcrypto_impl_name(-1), "unknown");
	cr_assert_eq(wcrypto_impl_parse("openssl", &v), 0);
	cr_assert_eq(v, WCRYPTO_IMPL_OPENSSL);
	cr_assert_eq(wcrypto_impl_parse("SODIUM", &v), 0);
	cr_assert_eq(v, WCRYPTO_IMPL_SODIUM);
	cr_assert_eq(wcrypto_impl_parse("auto", &v), 0);
	cr_assert_eq(v, WCRYPTO_IMPL_AUTO);
	v = 42;
	cr_assert_eq(wcrypto_impl_parse("", &v), -EINVAL);
	cr_assert_eq(wcrypto_impl_parse("libsodium", &v), -EINVAL);
	cr_assert_eq(wcrypto_impl_parse("openssl ", &v), -EINVAL);
	cr_assert_eq(wcrypto_impl_parse("open", &v), -EINVAL);
	cr_assert_eq(wcrypto_impl_parse(NULL, &v), -EINVAL);
	cr_assert_eq(v, 42);
	cr_assert_eq(wcrypto_impl_available(WCRYPTO_IMPL_SODIUM), 1);
	cr_assert_eq(wcrypto_impl_available(WCRYPTO_IMPL_AUTO), 0);
	cr_assert_eq(wcrypto_impl_available(9), 0);
}

Test(crypto, impl_choose)
{
	struct wcrypto_impl_choice ch;

	cr_assert_eq(wcrypto_impl_choose(WCRYPTO_IMPL_SODIUM, &ch), 0);
	cr_assert_eq(ch.impl, WCRYPTO_IMPL_SODIUM);
	cr_assert_eq(ch.requested, WCRYPTO_IMPL_SODIUM);
	cr_assert_eq(ch.mbps[WCRYPTO_IMPL_SODIUM], 0);
	cr_assert_eq(wcrypto_impl_choose(7, &ch), -EINVAL);
	cr_assert_eq(wcrypto_impl_choose(-1, &ch), -EINVAL);

	/* auto always resolves to something that makes contexts. */
	cr_assert_eq(wcrypto_impl_choose(WCRYPTO_IMPL_AUTO, &ch), 0);
	cr_assert_eq(ch.requested, WCRYPTO_IMPL_AUTO);
	cr_assert(ch.impl == WCRYPTO_IMPL_SODIUM || ch.impl == WCRYPTO_IMPL_OPENSSL);
	cr_assert_eq(ch.openssl_failed, 0);
	if (wcrypto_alg_valid(WCRYPTO_AES256GCM)) {
		uint8_t key[WCRYPTO_KEYBYTES] = { 1 };
		wcrypto_aead *a;

		/* It measured both, and chose by its rule. */
		cr_assert_gt(ch.mbps[WCRYPTO_IMPL_SODIUM], 0);
		cr_assert_gt(ch.mbps[WCRYPTO_IMPL_OPENSSL], 0);
		cr_assert_eq(ch.impl == WCRYPTO_IMPL_OPENSSL,
			     ch.mbps[WCRYPTO_IMPL_OPENSSL] * 10 >= ch.mbps[WCRYPTO_IMPL_SODIUM] * 11);
		cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, ch.impl, key, &a), 0);
		wcrypto_aead_free(a);
		cr_assert_eq(wcrypto_impl_choose(WCRYPTO_IMPL_OPENSSL, &ch), 0);
		cr_assert_eq(ch.impl, WCRYPTO_IMPL_OPENSSL);
	} else {
		cr_assert_eq(ch.impl, WCRYPTO_IMPL_SODIUM);
		cr_assert_eq(wcrypto_impl_choose(WCRYPTO_IMPL_OPENSSL, &ch), -ENOTSUP);
	}
}
