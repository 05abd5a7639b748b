/* ns_etag: S3 ETags sealed at rest (include/ns.h, ns_etag_seal). An ETag
 * of an object written over S3 is the MD5 of its plaintext (design
 * section 11); kept in clear in the metadata it told anyone who can read
 * the store which objects hold equal bytes, and confirmed a guessed
 * content (review conf). Sealed: "x1" | hex(nonce 24 | XChaCha20-
 * Poly1305(etag) | tag 16) under a subkey of the store's record key
 * (crypto_kdf, context "wfsetag1"), the associated data binding the
 * object's inode and the stamp the ETag was computed for, so a value
 * moved to another object or stamp does not open. No KMS request: the
 * record key is the store's; the subkey is derived once at open
 * (ns_etag_attach) and kept in secure memory. */
#include <errno.h>
#include <string.h>

#include "ns_etag.h"
#include "byteorder.h"
#include "crypto.h"

#define ETAG_PREFIX "x1"
#define ETAG_PLAIN_MAX 64

int ns_etag_attach(ns *n)
{
	if (!n->reckey)
		return -EINVAL;
	if (!n->etagkey && !(n->etagkey = wcrypto_secure_alloc(WCRYPTO_KEYBYTES)))
		return -ENOMEM;
	return wcrypto_kdf(n->etagkey, n->reckey, 1, "wfsetag1");
}

/* "WFSETAG1" | u64 ino | stamp */
static size_t etag_ad(uint8_t *ad, size_t cap, uint64_t ino, const char *stamp)
{
	size_t sl = strlen(stamp);

	if (16 + sl > cap)
		return 0;
	memcpy(ad, "WFSETAG1", 8);
	put_le64(ad + 8, ino);
	memcpy(ad + 16, stamp, sl);
	return 16 + sl;
}

int ns_etag_seal(ns *n, uint64_t ino, const char *stamp, const char *etag, char *out,
		 size_t outlen)
{
	uint8_t ad[16 + 128];
	uint8_t buf[WCRYPTO_NONCEBYTES + ETAG_PLAIN_MAX + WCRYPTO_TAGBYTES];
	size_t el = etag ? strlen(etag) : 0, adl, bl;
	int rc;

	if (!stamp || !etag || el == 0 || el > ETAG_PLAIN_MAX)
		return -EINVAL;
	adl = etag_ad(ad, sizeof(ad), ino, stamp);
	if (!adl)
		return -EINVAL;
	bl = WCRYPTO_NONCEBYTES + el + WCRYPTO_TAGBYTES;
	if (outlen < 2 + 2 * bl + 1)
		return -ERANGE;
	if (!n || !n->etagkey)
		return -EINVAL;
	wcrypto_nonce(buf);
	rc = wcrypto_wrap(buf + WCRYPTO_NONCEBYTES, (const uint8_t *)etag, el, ad, adl, buf,
			  n->etagkey);
	if (rc)
		return rc;
	memcpy(out, ETAG_PREFIX, 2);
	wcrypto_hex(out + 2, buf, bl);
	return 0;
}

int ns_etag_is_sealed(const char *stored)
{
	return stored && strncmp(stored, ETAG_PREFIX, 2) == 0;
}

int ns_etag_open(ns *n, uint64_t ino, const char *stamp, const char *stored, char *out,
		 size_t outlen)
{
	uint8_t ad[16 + 128];
	uint8_t buf[WCRYPTO_NONCEBYTES + ETAG_PLAIN_MAX + WCRYPTO_TAGBYTES];
	size_t hl, bl, el, adl;
	int rc;

	if (!stamp || !ns_etag_is_sealed(stored))
		return -EINVAL;
	hl = strlen(stored + 2);
	if (hl % 2 || hl / 2 > sizeof(buf) || hl / 2 <= WCRYPTO_NONCEBYTES + WCRYPTO_TAGBYTES)
		return -EBADMSG;
	bl = hl / 2;
	el = bl - WCRYPTO_NONCEBYTES - WCRYPTO_TAGBYTES;
	if (outlen < el + 1)
		return -ERANGE;
	if (wcrypto_unhex(buf, bl, stored + 2, hl))
		return -EBADMSG;
	adl = etag_ad(ad, sizeof(ad), ino, stamp);
	if (!adl)
		return -EINVAL;
	if (!n || !n->etagkey)
		return -EINVAL;
	rc = wcrypto_unwrap((uint8_t *)out, buf + WCRYPTO_NONCEBYTES, bl - WCRYPTO_NONCEBYTES, ad,
			    adl, buf, n->etagkey);
	if (rc)
		return -EBADMSG;
	out[el] = '\0';
	if (strlen(out) != el)
		return -EBADMSG;
	return 0;
}
