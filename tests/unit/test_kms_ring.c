/* kms_ring: the key ring file format API on its own (src/kms_priv.h):
 * encode/decode round trips for both unlock modes, every truncation and
 * every changed byte refused with a clear error (never accepted, never a
 * crash), authentic but malformed payloads refused with what is wrong,
 * and load/store through a directory. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "byteorder.h"
#include "crypto.h"
#include "kms.h"
#include "../../src/kms_priv.h"

static char dir[64];

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
	strcpy(dir, "/tmp/wormfs-kmsring-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

TestSuite(kms_ring, .init = setup, .fini = teardown, .timeout = 60);

static struct kms_ring *ring_new(void)
{
	struct kms_ring *r = wcrypto_secure_alloc(sizeof(*r));

	cr_assert_not_null(r);
	memset(r, 0, sizeof(*r));
	return r;
}

/* A ring of versions 1, 3, 7 (active 3) under a fixed KEK. */
static struct kms_ring *ring_sample(void)
{
	static const uint32_t v[] = { 1, 3, 7 };
	struct kms_ring *r = ring_new();

	memset(r->kek, 0x4b, sizeof(r->kek));
	wcrypto_random(r->record_key, sizeof(r->record_key));
	r->count = 3;
	r->active = 3;
	for (int i = 0; i < 3; i++) {
		r->mk[i].version = v[i];
		r->mk[i].created_s = 1700000000 + i - (i == 2 ? 3000000000LL : 0);
		wcrypto_random(r->mk[i].key, sizeof(r->mk[i].key));
	}
	return r;
}

static void hdr_keyfile(struct kms_ring_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->mode = KMS_RING_KEYFILE;
}

static void hdr_passphrase(struct kms_ring_hdr *h)
{
	size_t mem;

	memset(h, 0, sizeof(*h));
	h->mode = KMS_RING_PASSPHRASE;
	memset(h->salt, 0x5a, sizeof(h->salt));
	wcrypto_pwhash_min(&h->opslimit, &mem);
	h->memlimit = mem;
}

static void assert_same_ring(const struct kms_ring *a, const struct kms_ring *b)
{
	cr_assert_arr_eq(a->record_key, b->record_key, sizeof(a->record_key));
	cr_assert_eq(a->active, b->active);
	cr_assert_eq(a->count, b->count);
	for (uint32_t i = 0; i < a->count; i++) {
		cr_assert_eq(a->mk[i].version, b->mk[i].version);
		cr_assert_eq(a->mk[i].created_s, b->mk[i].created_s);
		cr_assert_arr_eq(a->mk[i].key, b->mk[i].key, sizeof(a->mk[i].key));
	}
}

static void round_trip(const struct kms_ring_hdr *h)
{
	struct kms_ring *r = ring_sample(), *back = ring_new();
	struct kms_ring_hdr h2;
	const char *why = "unset";
	uint8_t *file = NULL;
	size_t len = 0;

	cr_assert_eq(kms_ring_encode(h, r, &file, &len), 0);
	cr_assert_eq(memcmp(file, "WORMFSKR", 8), 0);
	cr_assert_eq(get_le32(file + 12), h->mode);
	cr_assert_eq(kms_ring_decode_hdr(file, len, &h2, &why), 0, "%s", why);
	cr_assert_eq(h2.mode, h->mode);
	cr_assert_arr_eq(h2.salt, h->salt, sizeof(h->salt));
	cr_assert_eq(h2.opslimit, h->opslimit);
	cr_assert_eq(h2.memlimit, h->memlimit);
	memcpy(back->kek, r->kek, sizeof(r->kek));
	cr_assert_eq(kms_ring_decode(file, len, back, &why), 0, "%s", why);
	cr_assert_null(why);
	assert_same_ring(r, back);
	cr_assert_eq(kms_ring_find(back, 7), 2);
	cr_assert_eq(kms_ring_find(back, 2), -1);
	/* Sealed with a fresh nonce each time: never the same file twice. */
	uint8_t *again = NULL;
	size_t len2 = 0;
	cr_assert_eq(kms_ring_encode(h, r, &again, &len2), 0);
	cr_assert_eq(len2, len);
	cr_assert_neq(memcmp(file, again, len), 0);
	free(again);
	free(file);
	wcrypto_secure_free(r);
	wcrypto_secure_free(back);
}

Test(kms_ring, round_trip_keyfile)
{
	struct kms_ring_hdr h;

	hdr_keyfile(&h);
	round_trip(&h);
}

Test(kms_ring, round_trip_passphrase)
{
	struct kms_ring_hdr h;

	hdr_passphrase(&h);
	round_trip(&h);
}

/* Decode as kms_ring_load does: header, then the whole file. */
static int decode_all(const uint8_t *file, size_t len, const uint8_t kek[32], const char **why)
{
	struct kms_ring *r = ring_new();
	struct kms_ring_hdr h;
	int rc;

	*why = NULL;
	rc = kms_ring_decode_hdr(file, len, &h, why);
	if (!rc) {
		memcpy(r->kek, kek, 32);
		rc = kms_ring_decode(file, len, r, why);
	}
	wcrypto_secure_free(r);
	return rc;
}

static void truncations_and_flips(const struct kms_ring_hdr *h, size_t hdr_end)
{
	struct kms_ring *r = ring_sample();
	uint8_t *file = NULL, *buf;
	size_t len = 0;
	const char *why;
	int rc;

	cr_assert_eq(kms_ring_encode(h, r, &file, &len), 0);
	buf = malloc(len + 1);
	cr_assert_not_null(buf);
	/* Every truncation, and one byte more: malformed, before any key. */
	for (size_t n = 0; n <= len + 1; n++) {
		if (n == len)
			continue;
		memcpy(buf, file, n < len ? n : len);
		if (n > len)
			buf[len] = 0;
		rc = decode_all(n ? buf : NULL, n, r->kek, &why);
		cr_assert_eq(rc, -EBADMSG, "length %zu of %zu: %d", n, len, rc);
		cr_assert_not_null(why, "length %zu", n);
	}
	/* Every byte changed: refused, malformed (header fields) or not
	 * authentic (salt, nonce, ciphertext, tag), with a reason. */
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, file, len);
		buf[i] ^= 0x21;
		rc = decode_all(buf, len, r->kek, &why);
		cr_assert(rc == -EBADMSG || rc == -EACCES, "byte %zu: %d", i, rc);
		cr_assert_not_null(why, "byte %zu", i);
		if (i >= hdr_end)
			cr_assert_eq(rc, -EACCES, "byte %zu after the header", i);
	}
	/* Another KEK: not authentic. */
	uint8_t other[32];
	memcpy(other, r->kek, 32);
	other[31] ^= 1;
	cr_assert_eq(decode_all(file, len, other, &why), -EACCES);
	cr_assert_str_eq(why, "does not authenticate under this key");
	free(buf);
	free(file);
	wcrypto_secure_free(r);
}

Test(kms_ring, truncated_or_garbled_keyfile_ring_refused)
{
	struct kms_ring_hdr h;

	hdr_keyfile(&h);
	truncations_and_flips(&h, 16 + WCRYPTO_NONCEBYTES + 4);
}

Test(kms_ring, truncated_or_garbled_passphrase_ring_refused)
{
	struct kms_ring_hdr h;

	hdr_passphrase(&h);
	truncations_and_flips(&h, 16 + 32 + WCRYPTO_NONCEBYTES + 4);
}

Test(kms_ring, header_errors_say_what_is_wrong)
{
	struct kms_ring_hdr h;
	struct kms_ring *r = ring_sample();
	uint8_t *file = NULL;
	size_t len = 0;
	const char *why;

	hdr_passphrase(&h);
	cr_assert_eq(kms_ring_encode(&h, r, &file, &len), 0);
	file[0] = 'X';
	cr_assert_eq(kms_ring_decode_hdr(file, len, &h, &why), -EBADMSG);
	cr_assert_str_eq(why, "not a key ring (magic)");
	file[0] = 'W';
	put_le32(file + 8, 2);
	cr_assert_eq(kms_ring_decode_hdr(file, len, &h, &why), -EBADMSG);
	cr_assert_str_eq(why, "unknown format version");
	put_le32(file + 8, 1);
	put_le32(file + 12, 2);
	cr_assert_eq(kms_ring_decode_hdr(file, len, &h, &why), -EBADMSG);
	cr_assert_str_eq(why, "unknown unlock mode");
	put_le32(file + 12, 1);
	put_le64(file + 16 + 16, UINT64_MAX);   /* opslimit */
	cr_assert_eq(kms_ring_decode_hdr(file, len, &h, &why), -EBADMSG);
	cr_assert_str_eq(why, "Argon2id limits out of range");
	cr_assert_eq(kms_ring_decode_hdr(file, 10, &h, &why), -EBADMSG);
	cr_assert_str_eq(why, "shorter than its header");
	free(file);
	wcrypto_secure_free(r);
}

/* An authentic key-file ring around payload p (as an older or hostile
 * writer could make it), decoded: its error and reason. */
static int decode_payload(const uint8_t *p, size_t plen, const char **why)
{
	uint8_t kek[32], f[512];
	size_t hlen = 16 + WCRYPTO_NONCEBYTES + 4;

	cr_assert(hlen + plen + WCRYPTO_TAGBYTES <= sizeof(f));
	memset(kek, 0x4b, sizeof(kek));
	memcpy(f, "WORMFSKR", 8);
	put_le32(f + 8, 1);
	put_le32(f + 12, KMS_RING_KEYFILE);
	wcrypto_random(f + 16, WCRYPTO_NONCEBYTES);
	put_le32(f + 16 + WCRYPTO_NONCEBYTES, (uint32_t)(plen + WCRYPTO_TAGBYTES));
	cr_assert_eq(wcrypto_wrap(f + hlen, p, plen, f, hlen, f + 16, kek), 0);
	return decode_all(f, hlen + plen + WCRYPTO_TAGBYTES, kek, why);
}

/* record key | active | count | count x { version | created | key }. */
static size_t payload(uint8_t *p, uint32_t active, uint32_t count, const uint32_t *v, size_t n)
{
	memset(p, 0x11, 32);
	put_le32(p + 32, active);
	put_le32(p + 36, count);
	for (size_t i = 0; i < n; i++) {
		put_le32(p + 40 + 44 * i, v[i]);
		put_le64(p + 44 + 44 * i, 1700000000);
		memset(p + 52 + 44 * i, 0x22, 32);
	}
	return 40 + 44 * n;
}

Test(kms_ring, authentic_but_malformed_payload_refused)
{
	static const uint32_t ok[] = { 1, 2 }, unordered[] = { 2, 1 }, zero[] = { 0, 1 },
			      dup[] = { 2, 2 };
	uint8_t p[256];
	const char *why;

	cr_assert_eq(decode_payload(p, payload(p, 2, 2, ok, 2), &why), 0, "%s", why);
	cr_assert_eq(decode_payload(p, payload(p, 2, 2, ok, 2) - 1, &why), -EBADMSG);
	cr_assert_str_eq(why, "key count out of range or not matching the payload");
	cr_assert_eq(decode_payload(p, payload(p, 2, 3, ok, 2), &why), -EBADMSG);
	cr_assert_str_eq(why, "key count out of range or not matching the payload");
	cr_assert_eq(decode_payload(p, payload(p, 1, 0, ok, 0), &why), -EBADMSG);
	cr_assert_str_eq(why, "key count out of range or not matching the payload");
	cr_assert_eq(decode_payload(p, payload(p, 2, 2, unordered, 2), &why), -EBADMSG);
	cr_assert_str_eq(why, "key versions zero or not increasing");
	cr_assert_eq(decode_payload(p, payload(p, 1, 2, zero, 2), &why), -EBADMSG);
	cr_assert_str_eq(why, "key versions zero or not increasing");
	cr_assert_eq(decode_payload(p, payload(p, 2, 2, dup, 2), &why), -EBADMSG);
	cr_assert_str_eq(why, "key versions zero or not increasing");
	cr_assert_eq(decode_payload(p, payload(p, 3, 2, ok, 2), &why), -EBADMSG);
	cr_assert_str_eq(why, "active version not in the ring");
}

Test(kms_ring, store_and_load_through_a_directory)
{
	struct kms_ring *r = ring_sample(), *back = ring_new();
	struct kms_ring_hdr h, h2;
	char err[512] = "", p[512];
	FILE *f;

	hdr_keyfile(&h);
	cr_assert_eq(kms_ring_load(dir, NULL, 0, &h2, back, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "no key ring at") != NULL, "%s", err);
	cr_assert_eq(kms_ring_store(dir, &h, r, 1), 0);
	cr_assert_eq(kms_ring_store(dir, &h, r, 1), -EEXIST);
	/* A key-file ring without its key file. */
	cr_assert_eq(kms_ring_load(dir, NULL, 0, &h2, back, err, sizeof(err)), -ENOKEY);
	snprintf(p, sizeof(p), "%s/kek", dir);
	f = fopen(p, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(r->kek, 1, 32, f), 32);
	fclose(f);
	cr_assert_eq(kms_ring_load(dir, NULL, 0, &h2, back, err, sizeof(err)), 0, "%s", err);
	assert_same_ring(r, back);
	/* Replaced whole; then cut short: the error names the file and why. */
	r->active = 7;
	cr_assert_eq(kms_ring_store(dir, &h, r, 0), 0);
	cr_assert_eq(kms_ring_load(dir, NULL, 0, &h2, back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back->active, 7);
	snprintf(p, sizeof(p), "%s/keyring", dir);
	cr_assert_eq(truncate(p, 20), 0);
	cr_assert_eq(kms_ring_load(dir, NULL, 0, &h2, back, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "malformed key ring") && strstr(err, "keyring: shorter than its header"),
		  "%s", err);
	wcrypto_secure_free(r);
	wcrypto_secure_free(back);
}
