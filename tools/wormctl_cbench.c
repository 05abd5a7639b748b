/* wormctl crypto bench: seal and open 16 KiB content blocks with each
 * content cipher implementation (AES-256-GCM by libsodium and by OpenSSL,
 * XChaCha20-Poly1305 by libsodium for reference) on one thread, and show
 * what crypto_impl = auto would choose here.
 *
 * The time (--seconds, default 5) is split into rounds; within a round
 * every (implementation, operation) runs for the same slice, in turn, so
 * load from other processes hits all alike. Each line shows the median of
 * the rounds and every sample, per second of this thread's CPU time. No
 * store is needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wormctl.h"
#include "crypto.h"

#define CB_BLOCK 16384
#define CB_ROUNDS 5
#define CB_AD 41   /* a content block's associated data */

struct cb_case {
	const char *name;
	int alg, impl;
};

static const struct cb_case cases[] = {
	{ "aes-256-gcm sodium", WCRYPTO_AES256GCM, WCRYPTO_IMPL_SODIUM },
	{ "aes-256-gcm openssl", WCRYPTO_AES256GCM, WCRYPTO_IMPL_OPENSSL },
	{ "xchacha20-poly1305 sodium", WCRYPTO_XCHACHA20POLY1305, WCRYPTO_IMPL_SODIUM },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* This thread's CPU time: on a loaded machine the wall clock would count
 * other processes' time slices; what is wanted is the cost per core. */
static uint64_t cb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct cb_bufs {
	uint8_t *m, *c, *out;
	uint8_t tag[WCRYPTO_TAGBYTES], nonce[WCRYPTO_NONCEBYTES], ad[CB_AD];
};

/* Blocks per second for slice_ns of seals (op 0) or opens (op 1); < 0 on a
 * crypto failure. */
static double cb_slice(const wcrypto_aead *a, struct cb_bufs *b, int op, uint64_t slice_ns)
{
	uint64_t t0 = cb_now(), t, n = 0;
	int rc;

	do {
		for (int i = 0; i < 8; i++, n++) {
			if (op == 0)
				rc = wcrypto_aead_seal(a, b->c, b->tag, b->m, CB_BLOCK, b->ad,
						       CB_AD, b->nonce);
			else
				rc = wcrypto_aead_open(a, b->out, b->c, CB_BLOCK, b->tag, b->ad,
						       CB_AD, b->nonce);
			if (rc)
				return -1;
		}
		t = cb_now();
	} while (t - t0 < slice_ns);
	return (double)n * 1e9 / (double)(t - t0);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double mbps(double blocks_per_s)
{
	return blocks_per_s * CB_BLOCK / 1e6;
}

int wctl_crypto_bench(const struct wctl_opts *o)
{
	static const char *const ops[2] = { "seal", "open" };
	double samples[NCASES][2][CB_ROUNDS], med[NCASES][2];
	int usable[NCASES];
	wcrypto_aead *a[NCASES] = { NULL };
	struct wcrypto_impl_choice ch;
	struct cb_bufs b;
	uint8_t key[WCRYPTO_KEYBYTES];
	uint64_t slice;
	int rc = WCTL_OK, nusable = 0;

	memset(&b, 0, sizeof(b));
	b.m = malloc(CB_BLOCK);
	b.c = malloc(CB_BLOCK);
	b.out = malloc(CB_BLOCK);
	if (!b.m || !b.c || !b.out) {
		rc = wctl_err("crypto bench: %s", strerror(ENOMEM));
		goto out;
	}
	wcrypto_random(key, sizeof(key));
	wcrypto_random(b.m, CB_BLOCK);
	wcrypto_random(b.ad, sizeof(b.ad));
	wcrypto_nonce(b.nonce);
	memset(b.nonce + 12, 0, sizeof(b.nonce) - 12);   /* valid for both ciphers */
	for (size_t i = 0; i < NCASES; i++) {
		int r = wcrypto_aead_new(cases[i].alg, cases[i].impl, key, &a[i]);

		usable[i] = r == 0;
		nusable += usable[i];
		if (r && r != -ENOTSUP) {
			rc = wctl_err("crypto bench: %s: %s", cases[i].name, strerror(-r));
			goto out;
		}
	}
	slice = (uint64_t)(o->seconds * 1e9 / (CB_ROUNDS * 2.0 * nusable));
	if (slice < 1000000)
		slice = 1000000;
	for (int r = 0; r < CB_ROUNDS; r++)
		for (size_t k = 0; k < NCASES; k++) {
			/* Alternate the order from round to round. */
			size_t i = r % 2 ? NCASES - 1 - k : k;

			if (!usable[i])
				continue;
			for (int op = 0; op < 2; op++) {
				/* open needs this case's ciphertext */
				if (op == 1 && cb_slice(a[i], &b, 0, 1) < 0)
					goto crypto_fail;
				samples[i][op][r] = cb_slice(a[i], &b, op, slice);
				if (samples[i][op][r] < 0)
					goto crypto_fail;
			}
		}
	for (size_t i = 0; i < NCASES; i++)
		for (int op = 0; usable[i] && op < 2; op++) {
			double s[CB_ROUNDS];

			memcpy(s, samples[i][op], sizeof(s));
			qsort(s, CB_ROUNDS, sizeof(double), cmp_double);
			med[i][op] = s[CB_ROUNDS / 2];
		}
	if (wcrypto_impl_choose(WCRYPTO_IMPL_AUTO, &ch) != 0) {
		rc = wctl_err("crypto bench: cannot resolve crypto_impl = auto");
		goto out;
	}

	if (o->json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(j, "block_bytes", json_object_new_int(CB_BLOCK));
		json_object_object_add(j, "rounds", json_object_new_int(CB_ROUNDS));
		json_object_object_add(j, "slice_seconds", wctl_json_double(slice / 1e9, 3));
		for (size_t i = 0; i < NCASES; i++) {
			if (!usable[i])
				continue;
			for (int op = 0; op < 2; op++) {
				json_object *e = json_object_new_object(), *sa = json_object_new_array();

				json_object_object_add(e, "cipher",
						       json_object_new_string(wcrypto_alg_name(cases[i].alg)));
				json_object_object_add(e, "impl",
						       json_object_new_string(wcrypto_impl_name(cases[i].impl)));
				json_object_object_add(e, "op", json_object_new_string(ops[op]));
				json_object_object_add(e, "median_mbps", wctl_json_double(mbps(med[i][op]), 1));
				for (int r = 0; r < CB_ROUNDS; r++)
					json_object_array_add(sa, wctl_json_double(mbps(samples[i][op][r]), 1));
				json_object_object_add(e, "samples_mbps", sa);
				json_object_array_add(arr, e);
			}
		}
		json_object_object_add(j, "results", arr);
		json_object_object_add(j, "auto_choice", json_object_new_string(wcrypto_impl_name(ch.impl)));
		json_object_object_add(j, "auto_sodium_mbps",
				       json_object_new_int64((int64_t)ch.mbps[WCRYPTO_IMPL_SODIUM]));
		json_object_object_add(j, "auto_openssl_mbps",
				       json_object_new_int64((int64_t)ch.mbps[WCRYPTO_IMPL_OPENSSL]));
		wctl_json_print(j);
		goto out;
	}
	printf("crypto bench: %d-byte blocks, one thread, %d rounds of %.3f CPU s per case "
	       "and operation; MB per CPU second, median [samples]\n", CB_BLOCK, CB_ROUNDS,
	       slice / 1e9);
	for (size_t i = 0; i < NCASES; i++) {
		if (!usable[i]) {
			printf("%-26s not available here\n", cases[i].name);
			continue;
		}
		for (int op = 0; op < 2; op++) {
			printf("%-26s %s %8.0f  [", cases[i].name, ops[op], mbps(med[i][op]));
			for (int r = 0; r < CB_ROUNDS; r++)
				printf("%s%.0f", r ? " " : "", mbps(samples[i][op][r]));
			printf("]\n");
		}
	}
	if (ch.mbps[WCRYPTO_IMPL_SODIUM])
		printf("crypto_impl = auto chooses %s here (its startup measurement, 16 KiB "
		       "seal+open: sodium %llu MB/s, openssl %llu MB/s)\n", wcrypto_impl_name(ch.impl),
		       (unsigned long long)ch.mbps[WCRYPTO_IMPL_SODIUM],
		       (unsigned long long)ch.mbps[WCRYPTO_IMPL_OPENSSL]);
	else
		printf("crypto_impl = auto chooses %s here (nothing to measure)\n",
		       wcrypto_impl_name(ch.impl));
	goto out;

crypto_fail:
	rc = wctl_err("crypto bench: a seal or open failed");
out:
	for (size_t i = 0; i < NCASES; i++)
		wcrypto_aead_free(a[i]);
	wcrypto_wipe(key, sizeof(key));
	free(b.m);
	free(b.c);
	free(b.out);
	return rc;
}
