/* kms: key ring create/open/unlock errors, DEK wrap/unwrap, rotation and
 * removal, the request gate (fail and wait mode), the DEK cache; the key
 * ring file format API on its own (suite kms_ring). Argon2id
 * runs with the minimum limits (WORMFS_PWHASH_FAST=1). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "byteorder.h"
#include "crypto.h"
#include "kms.h"
#include "log.h"
#include "../../src/kms_priv.h"

#define NS 1000000000ull

static char dir[64];

static void setup(void)
{
	setenv("WORMFS_PWHASH_FAST", "1", 1);
	cr_assert_eq(wcrypto_init(), 0);
	strcpy(dir, "/tmp/wormfs-kms-XXXXXX");
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

TestSuite(kms, .init = setup, .fini = teardown, .timeout = 30);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void fast_params(struct kms_params *p)
{
	kms_params_default(p);
	p->crypto_rate = p->crypto_burst = 1000000;
	p->mgmt_rate = p->mgmt_burst = 1000000;
	p->throttle = KMS_THROTTLE_FAIL;
}

static kms *open_ok(const char *pass, const struct kms_params *p)
{
	char err[256] = "";
	kms *k = NULL;
	int rc = kms_open(dir, pass, pass ? strlen(pass) : 0, p, &k, err, sizeof(err));

	cr_assert_eq(rc, 0, "kms_open: %d %s", rc, err);
	cr_assert_not_null(k);
	return k;
}

static kms *create_open(const struct kms_params *p)
{
	struct kms_params d;

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	if (!p) {
		fast_params(&d);
		p = &d;
	}
	return open_ok(NULL, p);
}

static size_t slurp(const char *name, uint8_t *buf, size_t max)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f, "%s", p);
	size_t n = fread(buf, 1, max, f);
	fclose(f);
	return n;
}

static void spit(const char *name, const uint8_t *buf, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

static mode_t file_mode(const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert_eq(stat(p, &st), 0, "%s", p);
	return st.st_mode & 07777;
}

static int try_open(const char *pass, kms **k, char *err, size_t errlen)
{
	struct kms_params p;

	fast_params(&p);
	return kms_open(dir, pass, pass ? strlen(pass) : 0, &p, k, err, errlen);
}

Test(kms, create_open_keyfile)
{
	uint8_t rk[32], rk2[32], zero[32] = { 0 }, kek[64];
	struct kms_key_info info[4];
	size_t n = 0;
	kms *k;

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	cr_assert_eq(file_mode("keyring"), 0600);
	cr_assert_eq(file_mode("kek"), 0600);
	cr_assert_eq(slurp("kek", kek, sizeof(kek)), 32);
	cr_assert_eq(kms_create(dir, NULL, 0), -EEXIST);
	cr_assert_eq(kms_create(dir, "pw", 2), -EEXIST);
	k = open_ok(NULL, NULL);   /* NULL params = defaults */
	cr_assert_eq(kms_record_key(k, rk), 0);
	cr_assert_neq(memcmp(rk, zero, 32), 0);
	cr_assert_eq(kms_list(k, info, 4, &n, mono_ns()), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(info[0].version, 1);
	cr_assert_eq(info[0].active, 1);
	cr_assert(info[0].created_s > 1600000000 && info[0].created_s <= time(NULL));
	kms_close(k);
	/* A passphrase given for a key-file ring is ignored. */
	k = open_ok("whatever", NULL);
	cr_assert_eq(kms_record_key(k, rk2), 0);
	cr_assert_arr_eq(rk, rk2, 32);
	kms_close(k);
}

/* The key file unlocks everything, like a passphrase: one others can
 * read or change is refused as a passphrase file is (review conf: it was
 * used at any mode). Group read stays allowed, as for a passphrase. */
Test(kms, keyfile_others_can_read_or_change_refused)
{
	char p[512], err[256] = "";
	kms *k = NULL;
	static const mode_t refused[] = { 0604, 0644, 0666, 0620, 0602 };

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	snprintf(p, sizeof(p), "%s/kek", dir);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cr_assert_eq(chmod(p, refused[i]), 0);
		err[0] = '\0';
		cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EPERM, "mode %04o",
			     (unsigned)refused[i]);
		cr_assert_null(k);
		cr_assert(strstr(err, "kek") && strstr(err, "chmod 600"), "%s", err);
	}
	cr_assert_eq(chmod(p, 0640), 0);
	k = open_ok(NULL, NULL);
	kms_close(k);
	cr_assert_eq(chmod(p, 0600), 0);
	k = open_ok(NULL, NULL);
	kms_close(k);
}

Test(kms, create_open_passphrase_and_wrong_passphrase)
{
	uint8_t before[4096], after[4096], rk[32], rk2[32];
	size_t nb, na;
	char err[256] = "";
	kms *k = NULL;

	cr_assert_eq(kms_create(dir, "", 0), -EINVAL);
	cr_assert_eq(kms_create(dir, "correct horse", 13), 0);
	cr_assert_eq(access("kek", F_OK), -1);
	char kekpath[512];
	snprintf(kekpath, sizeof(kekpath), "%s/kek", dir);
	cr_assert_eq(access(kekpath, F_OK), -1);   /* no key file in this mode */
	cr_assert_eq(file_mode("keyring"), 0600);
	nb = slurp("keyring", before, sizeof(before));

	k = open_ok("correct horse", NULL);
	cr_assert_eq(kms_record_key(k, rk), 0);
	kms_close(k);

	cr_assert_eq(try_open("correct horsf", &k, err, sizeof(err)), -EACCES);
	cr_assert_null(k);
	cr_assert_str_eq(err, "cannot unlock key ring: wrong passphrase or damaged key ring");
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -ENOKEY);
	cr_assert(strstr(err, "passphrase") != NULL);
	na = slurp("keyring", after, sizeof(after));
	cr_assert_eq(na, nb);
	cr_assert_arr_eq(after, before, nb);   /* failed opens change nothing */

	k = open_ok("correct horse", NULL);
	cr_assert_eq(kms_record_key(k, rk2), 0);
	cr_assert_arr_eq(rk, rk2, 32);
	kms_close(k);
}

Test(kms, damaged_ring)
{
	uint8_t orig[4096], buf[4096];
	char err[256];
	size_t n;
	kms *k = NULL;

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	n = slurp("keyring", orig, sizeof(orig));
	cr_assert(n > 100);

	static const size_t flips[] = { 20, 50, 0 };   /* nonce, ciphertext, last (tag) */
	for (size_t i = 0; i < 3; i++) {
		size_t at = flips[i] ? flips[i] : n - 1;
		memcpy(buf, orig, n);
		buf[at] ^= 0x04;
		spit("keyring", buf, n);
		cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EACCES, "flip at %zu", at);
		cr_assert_str_eq(err, "cannot unlock key ring: wrong passphrase or damaged key ring");
	}
	/* Header damage: magic, format, mode, length, truncation, empty. */
	static const size_t hdr[] = { 0, 8, 12 };
	for (size_t i = 0; i < 3; i++) {
		memcpy(buf, orig, n);
		buf[hdr[i]] ^= 0x10;
		spit("keyring", buf, n);
		cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG, "hdr %zu", hdr[i]);
	}
	spit("keyring", orig, n - 1);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG);
	spit("keyring", orig, 10);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG);
	spit("keyring", orig, 0);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG);
	memcpy(buf, orig, n);
	memcpy(buf + n, "x", 1);
	spit("keyring", buf, n + 1);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG);
	/* Another key file: cannot authenticate. */
	spit("keyring", orig, n);
	uint8_t kek[32];
	cr_assert_eq(slurp("kek", kek, sizeof(kek)), 32);
	kek[0] ^= 1;
	spit("kek", kek, 32);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EACCES);
	spit("kek", kek, 31);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -EBADMSG);
	char p[512];
	snprintf(p, sizeof(p), "%s/kek", dir);
	unlink(p);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -ENOKEY);
	cr_assert(strstr(err, "kek") != NULL);
	snprintf(p, sizeof(p), "%s/keyring", dir);
	unlink(p);
	cr_assert_eq(try_open(NULL, &k, err, sizeof(err)), -ENOENT);
	cr_assert_null(k);
}

Test(kms, passphrase_header_is_authenticated)
{
	uint8_t orig[4096], buf[4096];
	char err[256];
	size_t n;
	kms *k = NULL;

	cr_assert_eq(kms_create(dir, "pw", 2), 0);
	n = slurp("keyring", orig, sizeof(orig));
	memcpy(buf, orig, n);
	buf[16] ^= 1;   /* salt */
	spit("keyring", buf, n);
	cr_assert_eq(try_open("pw", &k, err, sizeof(err)), -EACCES);
	memcpy(buf, orig, n);
	buf[39] ^= 0x40;   /* opslimit high byte: absurd limits */
	spit("keyring", buf, n);
	cr_assert_eq(try_open("pw", &k, err, sizeof(err)), -EBADMSG);
}

Test(kms, bad_params)
{
	struct kms_params p;
	char err[256];
	kms *k = NULL;

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	fast_params(&p);
	p.crypto_rate = 0;
	cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -EINVAL);
	fast_params(&p);
	p.throttle = 7;
	cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -EINVAL);
	fast_params(&p);
	p.cache_entries = (uint64_t)KMS_CACHE_MAX + 1;
	cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -EINVAL);
	fast_params(&p);
	p.crypto_impl = 3;
	cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "crypto_impl"), "err: %s", err);
	fast_params(&p);
	p.crypto_impl = -1;
	cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -EINVAL);
	cr_assert_null(k);
	fast_params(&p);
	p.crypto_burst = 0;   /* = rate */
	p.cache_entries = 0;
	k = open_ok(NULL, &p);
	kms_close(k);
}

/* crypto_impl is resolved at open and reported in the stats: auto picks a
 * concrete implementation (and shows what it measured), a configured one
 * is used as is. */
Test(kms, crypto_impl_resolved_and_reported)
{
	struct kms_params p;
	struct kms_stats st;
	kms *k;

	cr_assert_eq(kms_create(dir, NULL, 0), 0);
	fast_params(&p);
	cr_assert_eq(p.crypto_impl, WCRYPTO_IMPL_AUTO);
	k = open_ok(NULL, &p);
	cr_assert(kms_crypto_impl(k) == WCRYPTO_IMPL_SODIUM ||
		  kms_crypto_impl(k) == WCRYPTO_IMPL_OPENSSL);
	kms_get_stats(k, &st);
	cr_assert_str_eq(st.crypto_impl, wcrypto_impl_name(kms_crypto_impl(k)));
	cr_assert_str_eq(st.crypto_impl_by, "auto");
	if (wcrypto_alg_valid(WCRYPTO_AES256GCM))
		cr_assert(st.crypto_sodium_mbps > 0 && st.crypto_openssl_mbps > 0);
	kms_close(k);

	p.crypto_impl = WCRYPTO_IMPL_SODIUM;
	k = open_ok(NULL, &p);
	cr_assert_eq(kms_crypto_impl(k), WCRYPTO_IMPL_SODIUM);
	kms_get_stats(k, &st);
	cr_assert_str_eq(st.crypto_impl, "sodium");
	cr_assert_str_eq(st.crypto_impl_by, "config");
	cr_assert_eq(st.crypto_sodium_mbps, 0);
	kms_close(k);

	p.crypto_impl = WCRYPTO_IMPL_OPENSSL;
	if (!wcrypto_impl_available(WCRYPTO_IMPL_OPENSSL)) {
		char err[256] = "";

		k = NULL;
		cr_assert_eq(kms_open(dir, NULL, 0, &p, &k, err, sizeof(err)), -ENOTSUP);
		cr_assert_not_null(strstr(err, "crypto_impl = openssl"), "err: %s", err);
		return;
	}
	k = open_ok(NULL, &p);
	cr_assert_eq(kms_crypto_impl(k), WCRYPTO_IMPL_OPENSSL);
	kms_get_stats(k, &st);
	cr_assert_str_eq(st.crypto_impl, "openssl");
	cr_assert_str_eq(st.crypto_impl_by, "config");
	kms_close(k);
}

Test(kms, generate_decrypt_and_errors)
{
	uint8_t ctx[16], ctx2[16], dek[32], out[32];
	struct kms_wrapped w, bad;
	kms *k = create_open(NULL);
	uint64_t now = mono_ns();

	wcrypto_random(ctx, 16);
	memcpy(ctx2, ctx, 16);
	ctx2[15] ^= 1;
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0);
	cr_assert_eq(kms_wrapped_version(&w), 1);
	cr_assert_eq(kms_decrypt_nocache(k, ctx, &w, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	/* Wrong object: -EBADMSG, also when the right one is cached. */
	cr_assert_eq(kms_decrypt(k, ctx2, &w, out, now), -EBADMSG);
	cr_assert_eq(kms_decrypt_nocache(k, ctx2, &w, out, now), -EBADMSG);
	for (size_t i = 4; i < KMS_WRAPPED_BYTES; i += 9) {
		bad = w;
		bad.b[i] ^= 0x20;
		cr_assert_eq(kms_decrypt(k, ctx, &bad, out, now), -EBADMSG, "byte %zu", i);
	}
	bad = w;
	bad.b[0] = 99;   /* unknown version */
	cr_assert_eq(kms_decrypt(k, ctx, &bad, out, now), -ENOKEY);
	cr_assert_eq(kms_reencrypt(k, ctx, &bad, &w, now), -ENOKEY);
	/* Two DEKs for the same object differ, and so do their wrappings. */
	struct kms_wrapped w2;
	uint8_t dek2[32];
	cr_assert_eq(kms_generate_data_key(k, ctx, dek2, &w2, now), 0);
	cr_assert_neq(memcmp(dek, dek2, 32), 0);
	cr_assert_neq(memcmp(w.b + 4, w2.b + 4, 24), 0);
	kms_close(k);
}

Test(kms, encrypt_blob)
{
	uint8_t in[100], enc[100 + KMS_ENCRYPT_OVERHEAD], out[100];
	static uint8_t big[4097 + KMS_ENCRYPT_OVERHEAD];
	kms *k = create_open(NULL);
	uint64_t now = mono_ns();

	wcrypto_random(in, sizeof(in));
	cr_assert_eq(kms_encrypt(k, in, sizeof(in), enc, now), 0);
	cr_assert_eq(kms_decrypt_blob(k, enc, sizeof(enc), out, now), 0);
	cr_assert_arr_eq(out, in, sizeof(in));
	cr_assert_eq(kms_encrypt(k, big, 4097, big, now), -EINVAL);
	cr_assert_eq(kms_decrypt_blob(k, enc, KMS_ENCRYPT_OVERHEAD - 1, out, now), -EINVAL);
	cr_assert_eq(kms_rotate(k, NULL, now), 0);
	cr_assert_eq(kms_decrypt_blob(k, enc, sizeof(enc), out, now), 0);
	cr_assert_arr_eq(out, in, sizeof(in));
	enc[60] ^= 1;
	cr_assert_eq(kms_decrypt_blob(k, enc, sizeof(enc), out, now), -EBADMSG);
	enc[60] ^= 1;
	enc[0] = 9;
	cr_assert_eq(kms_decrypt_blob(k, enc, sizeof(enc), out, now), -ENOKEY);
	kms_close(k);
}

Test(kms, rotate_reencrypt_remove)
{
	uint8_t ctx[16], dek[32], out[32], rk[32], rk2[32];
	struct kms_wrapped w1, w2, w3;
	struct kms_key_info info[8];
	uint32_t v = 0;
	size_t n = 0;
	uint64_t now = mono_ns();
	kms *k = create_open(NULL);

	wcrypto_random(ctx, 16);
	cr_assert_eq(kms_record_key(k, rk), 0);
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w1, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w1, out, now), 0);   /* now cached */
	cr_assert_eq(kms_rotate(k, &v, now), 0);
	cr_assert_eq(v, 2);
	cr_assert_eq(file_mode("keyring"), 0600);
	cr_assert_eq(kms_decrypt_nocache(k, ctx, &w1, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	cr_assert_eq(kms_reencrypt(k, ctx, &w1, &w2, now), 0);
	cr_assert_eq(kms_wrapped_version(&w2), 2);
	cr_assert_eq(kms_decrypt(k, ctx, &w2, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	cr_assert_eq(kms_generate_data_key(k, ctx, out, &w3, now), 0);
	cr_assert_eq(kms_wrapped_version(&w3), 2);
	cr_assert_eq(kms_list(k, info, 8, &n, now), 0);
	cr_assert_eq(n, 2);
	cr_assert(info[0].version == 1 && !info[0].active);
	cr_assert(info[1].version == 2 && info[1].active);
	cr_assert_eq(kms_list(k, info, 1, &n, now), 0);
	cr_assert_eq(n, 1);

	cr_assert_eq(kms_remove_version(k, 2, now), -EBUSY);
	cr_assert_eq(kms_remove_version(k, 7, now), -ENOENT);
	cr_assert_eq(kms_remove_version(k, 1, now), 0);
	/* Gone, even though w1's DEK was cached. */
	cr_assert_eq(kms_decrypt(k, ctx, &w1, out, now), -ENOKEY);
	cr_assert_eq(kms_decrypt(k, ctx, &w2, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	kms_close(k);

	/* All of it persisted. */
	k = open_ok(NULL, NULL);
	cr_assert_eq(kms_record_key(k, rk2), 0);
	cr_assert_arr_eq(rk, rk2, 32);   /* survives rotation */
	cr_assert_eq(kms_list(k, info, 8, &n, now), 0);
	cr_assert_eq(n, 1);
	cr_assert(info[0].version == 2 && info[0].active);
	cr_assert_eq(kms_decrypt(k, ctx, &w2, out, now), 0);
	cr_assert_arr_eq(out, dek, 32);
	cr_assert_eq(kms_decrypt(k, ctx, &w1, out, now), -ENOKEY);
	cr_assert_eq(kms_rotate(k, &v, now), 0);
	cr_assert_eq(v, 3);   /* max + 1 */
	kms_close(k);
}

Test(kms, fail_mode_throttles_11th_call)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 1 }, dek[32];
	struct kms_wrapped w;
	struct kms_key_info info[2];
	size_t n;
	uint64_t now = 1000 * NS;

	fast_params(&p);
	p.crypto_rate = 10;
	p.crypto_burst = 10;
	kms *k = create_open(&p);
	cr_redirect_stderr();
	for (int i = 0; i < 10; i++)
		cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0, "call %d", i);
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), -EAGAIN);
	cr_assert_eq(kms_decrypt_nocache(k, ctx, &w, dek, now), -EAGAIN);
	/* The management class has its own limiter. */
	cr_assert_eq(kms_list(k, info, 2, &n, now), 0);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].requests, 12);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].throttled, 2);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].wait_ns, 0);
	cr_assert_eq(st.cls[KMS_CLASS_MGMT].requests, 1);
	cr_assert_eq(st.cls[KMS_CLASS_MGMT].throttled, 0);
	/* 100 ms later, one more token. */
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now + NS / 10), 0);
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now + NS / 10), -EAGAIN);
	kms_close(k);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"wormfs: ThrottlingException: You have exceeded the rate at which you may call "
		"KMS (class cryptographic)\n"
		"wormfs: ThrottlingException: You have exceeded the rate at which you may call "
		"KMS (class cryptographic)\n"
		"wormfs: ThrottlingException: You have exceeded the rate at which you may call "
		"KMS (class cryptographic)\n");
}

Test(kms, throttle_log_is_rate_limited)
{
	struct kms_params p;
	struct kms_key_info info[2];
	size_t n;
	uint64_t now = 50 * NS;

	fast_params(&p);
	p.mgmt_rate = 1;
	p.mgmt_burst = 1;
	kms *k = create_open(&p);
	cr_redirect_stderr();
	cr_assert_eq(kms_list(k, info, 2, &n, now), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(kms_rotate(k, NULL, now), -EAGAIN);
	kms_close(k);
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	char line[512];
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		cr_assert(strstr(line, "ThrottlingException") && strstr(line, "class management"));
		lines++;
	}
	cr_assert_eq(lines, 5);   /* burst of the log limiter; the rest suppressed */
}

Test(kms, wait_mode_paces_calls)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 2 }, dek[32];
	struct kms_wrapped w;

	fast_params(&p);
	p.throttle = KMS_THROTTLE_WAIT;
	p.crypto_rate = 10;
	p.crypto_burst = 10;
	kms *k = create_open(&p);
	uint64_t t0 = mono_ns();
	for (int i = 0; i < 30; i++)
		cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, mono_ns()), 0);
	uint64_t el = mono_ns() - t0;
	cr_assert(el >= 1800000000ull, "30 calls took %lu ns", (unsigned long)el);
	cr_assert(el < 10 * NS);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].requests, 30);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].throttled, 0);
	cr_assert(st.cls[KMS_CLASS_CRYPTO].wait_ns >= 1700000000ull);
	kms_close(k);
}

Test(kms, wait_mode_max_wait_refuses)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 3 }, dek[32];
	struct kms_wrapped w;

	fast_params(&p);
	p.throttle = KMS_THROTTLE_WAIT;
	p.crypto_rate = 10;
	p.crypto_burst = 1;
	p.max_wait_ms = 150;
	kms *k = create_open(&p);
	cr_redirect_stderr();
	/* On a 100 ms boundary: the limiter's grid (see ratelimit.c) then puts
	 * the next slot exactly 100 ms later. */
	uint64_t now = mono_ns() / (NS / 10) * (NS / 10);
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0);
	uint64_t t0 = mono_ns();
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0);   /* waits ~100 ms */
	uint64_t waited = mono_ns() - t0;
	cr_assert(waited >= 90000000ull, "waited %lu", (unsigned long)waited);
	/* Next slot is 200 ms after now: more than 150 ms away -> at once. */
	t0 = mono_ns();
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), -EAGAIN);
	cr_assert(mono_ns() - t0 < 50000000ull);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].requests, 3);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].throttled, 1);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].wait_ns, 100000000ull);
	kms_close(k);
}

Test(kms, cache_hit_takes_no_token)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 4 }, dek[32], out[32];
	struct kms_wrapped w;
	uint64_t now = 77 * NS;

	fast_params(&p);
	p.crypto_rate = 1;
	p.crypto_burst = 2;
	kms *k = create_open(&p);
	cr_redirect_stderr();
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0);   /* token 1 */
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now), 0);             /* token 2, miss */
	cr_assert_arr_eq(out, dek, 32);
	memset(out, 0, 32);
	for (int i = 0; i < 5; i++) {                                   /* hits: no token */
		cr_assert_eq(kms_decrypt(k, ctx, &w, out, now), 0);
		cr_assert_arr_eq(out, dek, 32);
	}
	cr_assert_eq(kms_decrypt_nocache(k, ctx, &w, out, now), -EAGAIN);  /* no tokens left */
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 5);
	cr_assert_eq(st.cache_misses, 1);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].requests, 3);
	cr_assert_eq(st.cls[KMS_CLASS_CRYPTO].throttled, 1);
	/* Flushed: the next decrypt is a miss and needs a token again. */
	kms_cache_flush(k);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now), -EAGAIN);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now + NS), 0);
	cr_assert_arr_eq(out, dek, 32);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_misses, 3);
	kms_close(k);
}

Test(kms, cache_key_includes_wrapped_bytes)
{
	uint8_t ctx[16] = { 5 }, dek[32], out[32];
	struct kms_wrapped w1, w2;
	struct kms_stats st;
	uint64_t now = 5 * NS;
	kms *k = create_open(NULL);

	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w1, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w1, out, now), 0);
	cr_assert_eq(kms_reencrypt(k, ctx, &w1, &w2, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w2, out, now), 0);   /* same ctx, other bytes: miss */
	cr_assert_arr_eq(out, dek, 32);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 0);
	cr_assert_eq(st.cache_misses, 2);
	cr_assert_eq(kms_decrypt(k, ctx, &w1, out, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w2, out, now), 0);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 2);
	kms_close(k);
}

Test(kms, cache_ttl_expiry)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 6 }, dek[32], out[32];
	struct kms_wrapped w;
	uint64_t now = 1000 * NS;

	fast_params(&p);
	p.cache_ttl_s = 2;
	kms *k = create_open(&p);
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now), 0);              /* miss */
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now + 2 * NS - 1), 0); /* hit */
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 1);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now + 2 * NS), 0);     /* expired: miss */
	cr_assert_arr_eq(out, dek, 32);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 1);
	cr_assert_eq(st.cache_misses, 2);
	/* Re-inserted at now + 2 s. */
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, now + 3 * NS), 0);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 2);
	kms_close(k);
}

Test(kms, cache_bounded_lru)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[6][16], dek[32], out[32];
	struct kms_wrapped w[6];
	uint64_t now = NS;

	fast_params(&p);
	p.cache_entries = 4;
	kms *k = create_open(&p);
	for (int i = 0; i < 6; i++) {
		memset(ctx[i], i + 1, 16);
		cr_assert_eq(kms_generate_data_key(k, ctx[i], dek, &w[i], now), 0);
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kms_decrypt(k, ctx[i], &w[i], out, now), 0);   /* 4 misses */
	cr_assert_eq(kms_decrypt(k, ctx[0], &w[0], out, now), 0);       /* hit: 0 is recent */
	cr_assert_eq(kms_decrypt(k, ctx[4], &w[4], out, now), 0);       /* miss, evicts 1 */
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 1);
	cr_assert_eq(st.cache_misses, 5);
	cr_assert_eq(kms_decrypt(k, ctx[0], &w[0], out, now), 0);       /* still there */
	cr_assert_eq(kms_decrypt(k, ctx[2], &w[2], out, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx[3], &w[3], out, now), 0);
	cr_assert_eq(kms_decrypt(k, ctx[4], &w[4], out, now), 0);
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 5);
	cr_assert_eq(kms_decrypt(k, ctx[1], &w[1], out, now), 0);       /* evicted: miss */
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_misses, 6);
	/* Many more objects than entries: still correct. */
	for (int r = 0; r < 50; r++) {
		int i = (r * 7) % 6;
		cr_assert_eq(kms_decrypt(k, ctx[i], &w[i], out, now), 0);
		uint8_t want[32];
		cr_assert_eq(kms_decrypt_nocache(k, ctx[i], &w[i], want, now), 0);
		cr_assert_arr_eq(out, want, 32);
	}
	kms_close(k);
}

Test(kms, cache_disabled)
{
	struct kms_params p;
	struct kms_stats st;
	uint8_t ctx[16] = { 8 }, dek[32], out[32];
	struct kms_wrapped w;

	fast_params(&p);
	p.cache_entries = 0;
	p.crypto_rate = 1;
	p.crypto_burst = 2;
	kms *k = create_open(&p);
	cr_redirect_stderr();
	cr_assert_eq(kms_generate_data_key(k, ctx, dek, &w, NS), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, NS), 0);
	cr_assert_eq(kms_decrypt(k, ctx, &w, out, NS), -EAGAIN);   /* every decrypt costs */
	kms_get_stats(k, &st);
	cr_assert_eq(st.cache_hits, 0);
	kms_close(k);
}

struct mt_arg {
	kms *k;
	int id;
	int errors;
};

static void *mt_worker(void *arg)
{
	struct mt_arg *a = arg;
	uint8_t ctx[16], dek[32], out[32];
	struct kms_wrapped w, w2;

	for (int i = 0; i < 300; i++) {
		memset(ctx, 0, 16);
		ctx[0] = (uint8_t)a->id;
		ctx[1] = (uint8_t)(i % 40);
		if (kms_generate_data_key(a->k, ctx, dek, &w, mono_ns()) ||
		    kms_decrypt(a->k, ctx, &w, out, mono_ns()) || memcmp(out, dek, 32) ||
		    kms_decrypt(a->k, ctx, &w, out, mono_ns()) || memcmp(out, dek, 32) ||
		    kms_reencrypt(a->k, ctx, &w, &w2, mono_ns()) ||
		    kms_decrypt(a->k, ctx, &w2, out, mono_ns()) || memcmp(out, dek, 32))
			a->errors++;
	}
	return NULL;
}

Test(kms, concurrent_use_with_rotation)
{
	struct kms_params p;
	pthread_t th[4];
	struct mt_arg args[4];

	fast_params(&p);
	p.cache_entries = 64;
	kms *k = create_open(&p);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct mt_arg){ .k = k, .id = i };
		cr_assert_eq(pthread_create(&th[i], NULL, mt_worker, &args[i]), 0);
	}
	for (int r = 0; r < 5; r++)
		cr_assert_eq(kms_rotate(k, NULL, mono_ns()), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(args[i].errors, 0);
	}
	kms_close(k);
}

/* ---- the key ring file format API (src/kms_priv.h) on its own:
 * encode/decode round trips for both unlock modes, every truncation and
 * every changed byte refused with a clear error (never accepted, never a
 * crash), authentic but malformed payloads refused with what is wrong,
 * and load/store through a directory. */

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
	static const struct {
		uint32_t active, count, v[2];
		size_t n, cut;
		const char *why;   /* NULL: well formed */
	} cases[] = {
		{ 2, 2, { 1, 2 }, 2, 0, NULL },
		{ 2, 2, { 1, 2 }, 2, 1, "key count out of range or not matching the payload" },
		{ 2, 3, { 1, 2 }, 2, 0, "key count out of range or not matching the payload" },
		{ 1, 0, { 0, 0 }, 0, 0, "key count out of range or not matching the payload" },
		{ 2, 2, { 2, 1 }, 2, 0, "key versions zero or not increasing" },
		{ 1, 2, { 0, 1 }, 2, 0, "key versions zero or not increasing" },
		{ 2, 2, { 2, 2 }, 2, 0, "key versions zero or not increasing" },
		{ 3, 2, { 1, 2 }, 2, 0, "active version not in the ring" },
	};
	uint8_t p[256];
	const char *why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = payload(p, cases[i].active, cases[i].count, cases[i].v, cases[i].n);
		int rc = decode_payload(p, len - cases[i].cut, &why);

		if (!cases[i].why) {
			cr_assert_eq(rc, 0, "case %zu: %s", i, why);
			continue;
		}
		cr_assert_eq(rc, -EBADMSG, "case %zu", i);
		cr_assert_str_eq(why, cases[i].why, "case %zu", i);
	}
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
	cr_assert_eq(chmod(p, 0600), 0);   /* as kms_create makes it (fopen: 0644) */
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
