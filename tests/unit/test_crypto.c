/* crypto: AEAD round trips and tampering for both ciphers, nonce pool
 * uniqueness (threads, fork), MAC, KDF, Argon2id, hex. */
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

static const int algs[] = { WCRYPTO_AES256GCM, WCRYPTO_XCHACHA20POLY1305 };

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

	cr_assert_eq(wcrypto_aead_new(0, key, &a), -EINVAL);
	cr_assert_null(a);
	cr_assert_eq(wcrypto_aead_new(7, key, &a), -EINVAL);
	wcrypto_aead_free(NULL);
}

Test(crypto, aead_roundtrip_and_tamper_both_algs)
{
	uint8_t key[WCRYPTO_KEYBYTES], nonce[WCRYPTO_NONCEBYTES], tag[WCRYPTO_TAGBYTES];
	uint8_t m[1000], c[1000], out[1000], ad[] = "object-id|block 7|last";

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 7 + 3);
	for (int k = 0; k < 2; k++) {
		wcrypto_aead *a;
		int alg = algs[k];

		if (!wcrypto_alg_valid(alg)) {
			uint8_t zk[WCRYPTO_KEYBYTES] = { 0 };
			cr_assert_eq(wcrypto_aead_new(alg, zk, &a), -ENOTSUP);
			continue;
		}
		wcrypto_random(key, sizeof(key));
		wcrypto_nonce(nonce);
		cr_assert_eq(wcrypto_aead_new(alg, key, &a), 0);
		cr_assert_eq(wcrypto_aead_alg(a), alg);
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
		cr_assert_eq(wcrypto_aead_new(alg, key, &b), 0);
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
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_AES256GCM, key, &a), 0);
	cr_assert_eq(wcrypto_aead_new(WCRYPTO_XCHACHA20POLY1305, key, &x), 0);
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
