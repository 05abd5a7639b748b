/* crypto_impl: which implementation computes AES-256-GCM (crypto_impl =
 * auto|openssl|sodium): names, a known-answer cross-check of the two, and
 * the startup measurement behind "auto". Uses only the module's own
 * interface; no library headers. */
#include "crypto_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The content block size (obj: 16 KiB), so the measurement is the work a
 * read or write does. */
#define MEASURE_BLOCK 16384
#define MEASURE_ROUNDS 7
#define MEASURE_OPS 16   /* seal+open pairs per round and implementation */

static const char *const impl_names[WCRYPTO_IMPL__COUNT] = {
	[WCRYPTO_IMPL_AUTO] = "auto",
	[WCRYPTO_IMPL_SODIUM] = "sodium",
	[WCRYPTO_IMPL_OPENSSL] = "openssl",
};

const char *wcrypto_impl_name(int impl)
{
	if (impl < 0 || impl >= WCRYPTO_IMPL__COUNT)
		return "unknown";
	return impl_names[impl];
}

int wcrypto_impl_parse(const char *s, int *impl)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < WCRYPTO_IMPL__COUNT; i++)
		if (strcasecmp(s, impl_names[i]) == 0) {
			*impl = i;
			return 0;
		}
	return -EINVAL;
}

int wcrypto_impl_available(int impl)
{
	switch (impl) {
	case WCRYPTO_IMPL_SODIUM:
		return 1;
	case WCRYPTO_IMPL_OPENSSL:
		/* The algorithm itself is offered only with hardware AES
		 * (wcrypto_alg_valid); without it OpenSSL has nothing to do. */
		return wcrypto_alg_valid(WCRYPTO_AES256GCM) && wcrypto_gcm_available();
	default:
		return 0;
	}
}

/* This thread's CPU time, not the wall clock: on a loaded machine a round
 * that is preempted would otherwise count the other processes' time. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct bench {
	uint8_t key[WCRYPTO_KEYBYTES];
	uint8_t nonce[WCRYPTO_NONCEBYTES];
	uint8_t ad[41];   /* the size of a block's associated data */
	uint8_t *plain, *c1, *c2;   /* MEASURE_BLOCK each */
	wcrypto_aead *a[WCRYPTO_IMPL__COUNT];
};

/* Both implementations seal the same input to the same bytes and each
 * opens the other's output; a flipped tag fails with both. 0 or -EIO. */
static int cross_check(struct bench *b)
{
	uint8_t t1[WCRYPTO_TAGBYTES], t2[WCRYPTO_TAGBYTES];
	wcrypto_aead *s = b->a[WCRYPTO_IMPL_SODIUM], *o = b->a[WCRYPTO_IMPL_OPENSSL];

	/* Lengths that end mid-block of AES, and a full content block. */
	static const size_t lens[] = { 0, 1, 15, 17, 1000, MEASURE_BLOCK };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		if (wcrypto_aead_seal(s, b->c1, t1, b->plain, n, b->ad, sizeof(b->ad), b->nonce) ||
		    wcrypto_aead_seal(o, b->c2, t2, b->plain, n, b->ad, sizeof(b->ad), b->nonce) ||
		    memcmp(b->c1, b->c2, n) != 0 || memcmp(t1, t2, sizeof(t1)) != 0)
			return -EIO;
		if (wcrypto_aead_open(o, b->c1, b->c1, n, t1, b->ad, sizeof(b->ad), b->nonce) ||
		    wcrypto_aead_open(s, b->c2, b->c2, n, t2, b->ad, sizeof(b->ad), b->nonce) ||
		    memcmp(b->c1, b->plain, n) != 0 || memcmp(b->c2, b->plain, n) != 0)
			return -EIO;
		t1[0] ^= 1;
		if (wcrypto_aead_seal(s, b->c1, t2, b->plain, n, b->ad, sizeof(b->ad), b->nonce) ||
		    wcrypto_aead_open(o, b->c2, b->c1, n, t1, b->ad, sizeof(b->ad), b->nonce) != -EBADMSG ||
		    wcrypto_aead_open(s, b->c2, b->c1, n, t1, b->ad, sizeof(b->ad), b->nonce) != -EBADMSG)
			return -EIO;
	}
	return 0;
}

/* Nanoseconds for MEASURE_OPS seal+open pairs of one block, in place (so
 * the buffer comes back as it was); 0 on failure. */
static uint64_t time_round(struct bench *b, const wcrypto_aead *a)
{
	uint8_t tag[WCRYPTO_TAGBYTES];
	uint64_t t0 = cpu_ns(), t1;

	for (int i = 0; i < MEASURE_OPS; i++)
		if (wcrypto_aead_seal(a, b->c1, tag, b->c1, MEASURE_BLOCK, b->ad, sizeof(b->ad),
				      b->nonce) ||
		    wcrypto_aead_open(a, b->c1, b->c1, MEASURE_BLOCK, tag, b->ad, sizeof(b->ad),
				      b->nonce))
			return 0;
	t1 = cpu_ns();
	return t1 > t0 ? t1 - t0 : 1;
}

/* Best of the rounds (the least disturbed by other load), the two
 * implementations alternating so a burst of load hits both alike. */
static int measure(struct bench *b, uint64_t mbps[WCRYPTO_IMPL__COUNT])
{
	static const int impls[] = { WCRYPTO_IMPL_SODIUM, WCRYPTO_IMPL_OPENSSL };
	uint64_t best[2] = { UINT64_MAX, UINT64_MAX };

	memcpy(b->c1, b->plain, MEASURE_BLOCK);
	for (int r = 0; r <= MEASURE_ROUNDS; r++)
		for (int i = 0; i < 2; i++) {
			uint64_t ns = time_round(b, b->a[impls[i]]);

			if (!ns)
				return -EIO;
			if (r > 0 && ns < best[i])   /* round 0 warms up */
				best[i] = ns;
		}
	for (int i = 0; i < 2; i++)
		mbps[impls[i]] = (uint64_t)2 * MEASURE_OPS * MEASURE_BLOCK * 1000u / best[i];
	return 0;
}

static void bench_free(struct bench *b)
{
	for (int i = 0; i < WCRYPTO_IMPL__COUNT; i++)
		wcrypto_aead_free(b->a[i]);
	free(b->plain);
	free(b->c1);
	free(b->c2);
	wcrypto_wipe(b->key, sizeof(b->key));
}

/* Cross-check, then measure when mbps is not NULL. */
static int compare(uint64_t mbps[WCRYPTO_IMPL__COUNT])
{
	struct bench b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.plain = malloc(MEASURE_BLOCK);
	b.c1 = malloc(MEASURE_BLOCK);
	b.c2 = malloc(MEASURE_BLOCK);
	rc = b.plain && b.c1 && b.c2 ? 0 : -ENOMEM;
	if (!rc) {
		wcrypto_random(b.key, sizeof(b.key));
		wcrypto_nonce(b.nonce);
		memset(b.nonce + WCRYPTO_GCM_NONCE, 0, WCRYPTO_NONCEBYTES - WCRYPTO_GCM_NONCE);
		wcrypto_random(b.ad, sizeof(b.ad));
		wcrypto_random(b.plain, MEASURE_BLOCK);
		rc = wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_SODIUM, b.key,
				      &b.a[WCRYPTO_IMPL_SODIUM]);
	}
	if (!rc)
		rc = wcrypto_aead_new(WCRYPTO_AES256GCM, WCRYPTO_IMPL_OPENSSL, b.key,
				      &b.a[WCRYPTO_IMPL_OPENSSL]);
	if (!rc)
		rc = cross_check(&b);
	if (!rc && mbps)
		rc = measure(&b, mbps);
	bench_free(&b);
	return rc;
}

int wcrypto_impl_choose(int requested, struct wcrypto_impl_choice *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->requested = requested;
	switch (requested) {
	case WCRYPTO_IMPL_SODIUM:
		out->impl = WCRYPTO_IMPL_SODIUM;
		return 0;
	case WCRYPTO_IMPL_OPENSSL:
		if (!wcrypto_impl_available(WCRYPTO_IMPL_OPENSSL))
			return -ENOTSUP;
		rc = compare(NULL);
		if (rc)
			return rc;
		out->impl = WCRYPTO_IMPL_OPENSSL;
		return 0;
	case WCRYPTO_IMPL_AUTO:
		out->impl = WCRYPTO_IMPL_SODIUM;
		if (!wcrypto_impl_available(WCRYPTO_IMPL_OPENSSL))
			return 0;
		if (compare(out->mbps) != 0) {
			memset(out->mbps, 0, sizeof(out->mbps));
			out->openssl_failed = 1;
			return 0;
		}
		/* At least 10% faster, so a measurement inside the noise keeps
		 * libsodium. */
		if (out->mbps[WCRYPTO_IMPL_OPENSSL] * 10 >= out->mbps[WCRYPTO_IMPL_SODIUM] * 11)
			out->impl = WCRYPTO_IMPL_OPENSSL;
		return 0;
	default:
		return -EINVAL;
	}
}
