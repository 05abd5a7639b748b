/* crypto digests: published test vectors (FIPS 180 / RFC 6234 examples for
 * SHA-256 and SHA-1, RFC 1321 for MD5, RFC 4231 for HMAC-SHA256, the CRC
 * catalogue's check value of "123456789" for CRC32 and CRC32C, RFC 4648
 * for base64), streaming in every split equal to one-shot, misuse. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
}

TestSuite(crypto_digest, .init = setup);

static void digest_hex(int alg, const void *msg, size_t len, char *hex)
{
	wcrypto_digest *d;
	uint8_t out[WCRYPTO_DIGEST_MAXBYTES];

	cr_assert_eq(wcrypto_digest_new(alg, &d), 0);
	cr_assert_eq(wcrypto_digest_update(d, msg, len), 0);
	cr_assert_eq(wcrypto_digest_final(d, out, sizeof(out)), 0);
	wcrypto_hex(hex, out, wcrypto_digest_size(alg));
	wcrypto_digest_free(d);
}

static const struct {
	int alg;
	const char *msg;
	const char *hex;
} vectors[] = {
	{ WCRYPTO_DIGEST_SHA256, "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ WCRYPTO_DIGEST_SHA256, "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ WCRYPTO_DIGEST_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ WCRYPTO_DIGEST_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ WCRYPTO_DIGEST_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ WCRYPTO_DIGEST_SHA1, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	{ WCRYPTO_DIGEST_MD5, "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ WCRYPTO_DIGEST_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ WCRYPTO_DIGEST_MD5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ WCRYPTO_DIGEST_MD5,
	  "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a" },
	{ WCRYPTO_DIGEST_CRC32, "123456789", "cbf43926" },
	{ WCRYPTO_DIGEST_CRC32, "", "00000000" },
	{ WCRYPTO_DIGEST_CRC32C, "123456789", "e3069283" },
	{ WCRYPTO_DIGEST_CRC32C, "", "00000000" },
};

Test(crypto_digest, known_answers)
{
	char hex[2 * WCRYPTO_DIGEST_MAXBYTES + 1];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		digest_hex(vectors[i].alg, vectors[i].msg, strlen(vectors[i].msg), hex);
		cr_expect_str_eq(hex, vectors[i].hex, "vector %zu (alg %d)", i, vectors[i].alg);
	}
}

/* One million 'a': the long FIPS vectors, fed in uneven slices. */
Test(crypto_digest, million_a_in_slices)
{
	static const struct { int alg; const char *hex; } mv[] = {
		{ WCRYPTO_DIGEST_SHA256,
		  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
		{ WCRYPTO_DIGEST_SHA1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
		{ WCRYPTO_DIGEST_MD5, "7707d6ae4e027c70eea2a935c2296f21" },
	};
	size_t n = 1000000;
	char *a = malloc(n);

	cr_assert_not_null(a);
	memset(a, 'a', n);
	for (size_t v = 0; v < sizeof(mv) / sizeof(mv[0]); v++) {
		wcrypto_digest *d;
		uint8_t out[32];
		char hex[65];
		size_t off = 0, step = 1;

		cr_assert_eq(wcrypto_digest_new(mv[v].alg, &d), 0);
		while (off < n) {
			size_t k = step < n - off ? step : n - off;

			cr_assert_eq(wcrypto_digest_update(d, a + off, k), 0);
			off += k;
			step = step * 7 % 9973 + 1;
		}
		cr_assert_eq(wcrypto_digest_final(d, out, sizeof(out)), 0);
		wcrypto_hex(hex, out, wcrypto_digest_size(mv[v].alg));
		cr_expect_str_eq(hex, mv[v].hex);
		wcrypto_digest_free(d);
	}
	free(a);
}

/* Any split of the input gives the one-shot result, for every algorithm
 * (the CRCs carry their running register across updates). */
Test(crypto_digest, split_equals_whole)
{
	static const int algs[] = { WCRYPTO_DIGEST_SHA256, WCRYPTO_DIGEST_SHA1, WCRYPTO_DIGEST_MD5,
				    WCRYPTO_DIGEST_CRC32, WCRYPTO_DIGEST_CRC32C };
	uint8_t buf[3000];

	wcrypto_random(buf, sizeof(buf));
	for (size_t k = 0; k < sizeof(algs) / sizeof(algs[0]); k++) {
		char whole[65], part[65];

		digest_hex(algs[k], buf, sizeof(buf), whole);
		for (size_t cut = 0; cut <= sizeof(buf); cut += 97) {
			wcrypto_digest *d;
			uint8_t out[32];

			cr_assert_eq(wcrypto_digest_new(algs[k], &d), 0);
			cr_assert_eq(wcrypto_digest_update(d, buf, cut), 0);
			cr_assert_eq(wcrypto_digest_update(d, buf + cut, sizeof(buf) - cut), 0);
			cr_assert_eq(wcrypto_digest_final(d, out, sizeof(out)), 0);
			wcrypto_hex(part, out, wcrypto_digest_size(algs[k]));
			cr_expect_str_eq(part, whole, "alg %d cut %zu", algs[k], cut);
			wcrypto_digest_free(d);
		}
	}
}

Test(crypto_digest, misuse)
{
	wcrypto_digest *d = (wcrypto_digest *)1;
	uint8_t out[32];

	cr_expect_eq(wcrypto_digest_new(0, &d), -EINVAL);
	cr_expect_null(d);
	cr_expect_eq(wcrypto_digest_new(99, &d), -EINVAL);
	cr_expect_eq(wcrypto_digest_size(99), 0);
	cr_assert_eq(wcrypto_digest_new(WCRYPTO_DIGEST_SHA256, &d), 0);
	cr_expect_eq(wcrypto_digest_alg(d), WCRYPTO_DIGEST_SHA256);
	cr_expect_eq(wcrypto_digest_final(d, out, 31), -EINVAL);  /* too small */
	cr_expect_eq(wcrypto_digest_final(d, out, 32), 0);
	cr_expect_eq(wcrypto_digest_final(d, out, 32), -EINVAL);  /* twice */
	cr_expect_eq(wcrypto_digest_update(d, "x", 1), -EINVAL);  /* after final */
	wcrypto_digest_free(d);
	wcrypto_digest_free(NULL);
}

Test(crypto_digest, sha256_oneshot)
{
	uint8_t h[32];
	char hex[65];

	cr_assert_eq(wcrypto_sha256(h, "abc", 3), 0);
	wcrypto_hex(hex, h, 32);
	cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block). */
Test(crypto_digest, hmac_sha256_rfc4231)
{
	uint8_t key[131], mac[32];
	char hex[65];

	memset(key, 0x0b, 20);
	wcrypto_hmac_sha256(mac, key, 20, "Hi There", 8);
	wcrypto_hex(hex, mac, 32);
	cr_expect_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	wcrypto_hmac_sha256(mac, "Jefe", 4, "what do ya want for nothing?", 28);
	wcrypto_hex(hex, mac, 32);
	cr_expect_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	wcrypto_hmac_sha256(mac, key, 131,
			    "Test Using Larger Than Block-Size Key - Hash Key First", 54);
	wcrypto_hex(hex, mac, 32);
	cr_expect_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* RFC 4648 section 10, and strictness. */
Test(crypto_digest, base64)
{
	static const struct { const char *bin, *b64; } v[] = {
		{ "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char out[16];
	uint8_t bin[8];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].bin);

		cr_assert_leq(wcrypto_b64_len(n), sizeof(out));
		wcrypto_b64(out, (const uint8_t *)v[i].bin, n);
		cr_expect_str_eq(out, v[i].b64);
		memset(bin, 0, sizeof(bin));
		cr_expect_eq(wcrypto_unb64(bin, n, v[i].b64, strlen(v[i].b64)), 0);
		cr_expect_eq(memcmp(bin, v[i].bin, n), 0);
	}
	memset(bin, 0x5a, sizeof(bin));
	cr_expect_eq(wcrypto_unb64(bin, 1, "Zg", 2), -EINVAL);        /* no padding */
	cr_expect_eq(wcrypto_unb64(bin, 1, "Zg=", 3), -EINVAL);
	cr_expect_eq(wcrypto_unb64(bin, 2, "Zg==", 4), -EINVAL);      /* wrong size */
	cr_expect_eq(wcrypto_unb64(bin, 3, "Zm9 ", 4), -EINVAL);      /* blank */
	cr_expect_eq(wcrypto_unb64(bin, 3, "Zm9v\n", 5), -EINVAL);    /* trailing */
	cr_expect_eq(wcrypto_unb64(bin, 3, "Zm-v", 4), -EINVAL);      /* url alphabet */
	cr_expect_eq(wcrypto_unb64(bin, 0, "", 0), -EINVAL);
	cr_expect_eq(bin[0], 0x5a);                                   /* untouched */
}
