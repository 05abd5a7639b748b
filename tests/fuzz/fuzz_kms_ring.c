/* fuzz_kms_ring: the key ring file DIR/keyring (src/kms_ring.c), read by
 * kms_open with a fixed key file DIR/kek. Input byte 0 picks the form:
 *   even: the rest is the key ring file as it is (header checks, the
 *         Argon2 limits of a passphrase ring, lengths, authentication);
 *   odd:  the rest is the plaintext payload, which this harness seals
 *         into a well-formed key-file ring with the right key, so the
 *         payload parser (versions, count, active key) is reached.
 * bit 1: the last 76 bytes are not part of the ring: XORed onto a freshly
 *   wrapped data key (version, nonce, ciphertext, tag) before unwrapping.
 * A ring that opens must then wrap and unwrap a data key; a wrapped key
 * with any bit changed must not unwrap. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "byteorder.h"
#include "crypto.h"
#include "kms.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static char dir[256];
static uint8_t kek[WCRYPTO_KEYBYTES];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (dir[0])
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	while (n) {
		ssize_t w = write(fd, p, n);
		CHECK(w > 0);
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

/* WORMFS_FUZZ_TMP (test_fuzz.sh removes it even after a crash), else
 * /dev/shm (fast), else /tmp. */
static const char *tmp_base(void)
{
	const char *t = getenv("WORMFS_FUZZ_TMP");

	if (t && *t)
		return t;
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	CHECK(wcrypto_init() == 0);
	snprintf(dir, sizeof(dir), "%s/wormfs-fuzz-kr.XXXXXX",
		 tmp_base());
	CHECK(mkdtemp(dir));
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(kek); i++)
		kek[i] = (uint8_t)(i * 7 + 1);
	put_file("kek", kek, sizeof(kek));
	return 0;
}

/* A key-file ring around payload, sealed with kek (format in kms_ring.c). */
static void put_sealed(const uint8_t *payload, size_t plen)
{
	size_t hlen = 16 + WCRYPTO_NONCEBYTES + 4, flen = hlen + plen + WCRYPTO_TAGBYTES;
	uint8_t *f = malloc(flen);

	CHECK(f);
	memcpy(f, "WORMFSKR", 8);
	put_le32(f + 8, 1);
	put_le32(f + 12, 0);
	memset(f + 16, 0x5a, WCRYPTO_NONCEBYTES);
	put_le32(f + 16 + WCRYPTO_NONCEBYTES, (uint32_t)(plen + WCRYPTO_TAGBYTES));
	CHECK(wcrypto_wrap(f + hlen, payload, plen, f, hlen, f + 16, kek) == 0);
	put_file("keyring", f, flen);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kms_params p;
	kms *k = NULL;
	char err[512];
	int rc;

	const uint8_t *flip = NULL;

	if (size < 1 || size > (2u << 20))
		return 0;
	if ((data[0] & 2) && size - 1 >= KMS_WRAPPED_BYTES) {
		size -= KMS_WRAPPED_BYTES;
		flip = data + size;
	}
	if (data[0] & 1)
		put_sealed(data + 1, size - 1);
	else
		put_file("keyring", data + 1, size - 1);
	kms_params_default(&p);
	/* No throttling, a small cache: the harness calls fast. */
	p.crypto_rate = p.crypto_burst = 10000000;
	p.throttle = KMS_THROTTLE_FAIL;
	p.cache_entries = 4;
	err[0] = '\0';
	rc = kms_open(dir, NULL, 0, &p, &k, err, sizeof(err));
	if (rc) {
		CHECK(k == NULL);
		CHECK(rc == -EBADMSG || rc == -EACCES || rc == -ENOKEY || rc == -ENOMEM);
		CHECK(err[0] != '\0');
		return 0;
	}
	/* An authentic, well-formed ring: its active key works. */
	uint8_t ctx[KMS_CTX_BYTES] = { 1, 2, 3 }, dek[KMS_DEK_BYTES], dek2[KMS_DEK_BYTES];
	struct kms_wrapped w;
	CHECK(kms_generate_data_key(k, ctx, dek, &w, 1) == 0);
	CHECK(kms_decrypt_nocache(k, ctx, &w, dek2, 2) == 0);
	CHECK(memcmp(dek, dek2, sizeof(dek)) == 0);
	if (flip) {
		int changed = 0;
		for (size_t i = 0; i < KMS_WRAPPED_BYTES; i++) {
			w.b[i] ^= flip[i];
			changed |= flip[i];
		}
		rc = kms_decrypt_nocache(k, ctx, &w, dek2, 3);
		CHECK(changed ? rc != 0 : rc == 0);
		rc = kms_decrypt(k, ctx, &w, dek2, 4);
		CHECK(changed ? rc != 0 : rc == 0);
	}
	kms_close(k);
	return 0;
}
