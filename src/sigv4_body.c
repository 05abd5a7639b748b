/* sigv4: a request body as a stream: aws-chunked decoding (sigv4_chunked.c)
 * or plain, the digests the request announced (x-amz-content-sha256,
 * Content-MD5, one x-amz-checksum-*, header or trailer) computed
 * incrementally and compared at the end, and the MD5 for the ETag. */
#include "sigv4.h"
#include "sigv4_priv.h"
#include "crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;     /* header / trailer name */
	const char *label;    /* in messages */
	int alg;
} checksums[] = {
	{ "x-amz-checksum-crc32", "CRC32", WCRYPTO_DIGEST_CRC32 },
	{ "x-amz-checksum-crc32c", "CRC32C", WCRYPTO_DIGEST_CRC32C },
	{ "x-amz-checksum-sha1", "SHA1", WCRYPTO_DIGEST_SHA1 },
	{ "x-amz-checksum-sha256", "SHA256", WCRYPTO_DIGEST_SHA256 },
};
#define NCHECKSUMS (sizeof(checksums) / sizeof(checksums[0]))

/* x-amz-checksum-* names that are not checksums of this body. */
static int checksum_meta_header(const char *lname_rest, size_t n)
{
	return sv4_name_eq(lname_rest, n, "algorithm") || sv4_name_eq(lname_rest, n, "type") ||
	       sv4_name_eq(lname_rest, n, "mode");
}

struct sigv4_body {
	struct sv4_chunked *chunked;   /* NULL: plain body */
	wcrypto_digest *md5;           /* always (ETag) */
	wcrypto_digest *sha256;        /* x-amz-content-sha256 given */
	wcrypto_digest *sum;           /* the x-amz-checksum-* algorithm */
	int sum_idx;                   /* index in checksums[], -1 none */
	int sum_trailer;               /* its value comes in the trailer */
	uint8_t want_sha256[32];
	int have_md5;
	uint8_t want_md5[16];
	uint8_t want_sum[WCRYPTO_DIGEST_MAXBYTES];
	uint8_t got_md5[16];
	uint8_t got_sum[WCRYPTO_DIGEST_MAXBYTES];
	uint64_t length;
	int finished;                  /* 1 after finish returned 0 */
	int rc;                        /* first error, sticky */
	struct sigv4_error err;
	sigv4_sink sink;               /* during a feed */
	void *sink_arg;
};

static const char M_OOM[] = "We encountered an internal error. Please try again.";

static int oom(struct sigv4_error *e)
{
	return sv4_fail(e, -ENOMEM, 500, "InternalError", M_OOM);
}

/* Find the x-amz-checksum-* header: 0 (idx -1 when none) or an error. */
static int find_checksum_header(const struct sigv4_request *req, int *idx, const char **val,
				size_t *vlen, struct sigv4_error *e)
{
	*idx = -1;
	for (size_t i = 0; i < req->n_headers; i++) {
		const char *name = req->headers[i].name;
		size_t nl = strlen(name);
		int k;

		if (nl <= 15 || !sv4_name_eq(name, 15, "x-amz-checksum-") ||
		    checksum_meta_header(name + 15, nl - 15))
			continue;
		for (k = 0; k < (int)NCHECKSUMS; k++)
			if (sv4_name_eq(name, nl, checksums[k].name))
				break;
		if (k == (int)NCHECKSUMS)
			return sv4_fail(e, -EINVAL, 400, "InvalidRequest",
					"The algorithm type you specified in x-amz-checksum- header is invalid.");
		if (*idx >= 0)
			return sv4_fail(e, -EINVAL, 400, "InvalidRequest",
					"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
		*idx = k;
		*val = sv4_header(req, checksums[k].name, vlen, NULL);
	}
	return 0;
}

/* sigv4_body_new and sigv4_body_new_key: the secret or the derived key k. */
static int body_new(const struct sigv4_request *req, const struct sigv4_auth *auth,
		    const uint8_t *secret, size_t secret_len, const sigv4_key *k,
		    sigv4_body **out, struct sigv4_error *e)
{
	sigv4_body *b;
	const char *v = NULL;
	size_t vn = 0, cnt;
	int idx, rc, mode = auth->payload;
	int trailer_mode = mode == SIGV4_PAYLOAD_STREAMING_TRAILER ||
			   mode == SIGV4_PAYLOAD_UNSIGNED_TRAILER;
	int sign = mode == SIGV4_PAYLOAD_STREAMING || mode == SIGV4_PAYLOAD_STREAMING_TRAILER;

	*out = NULL;
	if (sign && ((!secret && !k) || auth->kind != SIGV4_HEADER))
		return sv4_fail(e, -EACCES, 403, "AccessDenied",
				"Signed chunks need a verified Authorization header.");
	if (sign && k && !sigv4_key_fits(k, auth))
		return sv4_fail(e, -ESTALE, 500, "InternalError",
				"The signing key does not fit the request.");
	b = calloc(1, sizeof(*b));
	if (!b)
		return oom(e);
	b->sum_idx = -1;
	if (wcrypto_digest_new(WCRYPTO_DIGEST_MD5, &b->md5) < 0)
		goto nomem;
	if (mode == SIGV4_PAYLOAD_SHA256) {
		memcpy(b->want_sha256, auth->payload_sha256, 32);
		if (wcrypto_digest_new(WCRYPTO_DIGEST_SHA256, &b->sha256) < 0)
			goto nomem;
	}
	v = sv4_header(req, "content-md5", &vn, &cnt);
	if (v) {
		if (cnt > 1 || wcrypto_unb64(b->want_md5, 16, v, vn) != 0) {
			rc = sv4_fail(e, -EINVAL, 400, "InvalidDigest",
				      "The Content-MD5 you specified was invalid.");
			goto fail;
		}
		b->have_md5 = 1;
	}
	rc = find_checksum_header(req, &idx, &v, &vn, e);
	if (rc < 0)
		goto fail;
	if (auth->trailer[0] != '\0') {
		int k;

		for (k = 0; k < (int)NCHECKSUMS; k++)
			if (strcmp(auth->trailer, checksums[k].name) == 0)
				break;
		if (!trailer_mode || k == (int)NCHECKSUMS || idx >= 0) {
			rc = sv4_fail(e, -EINVAL, 400, "InvalidRequest",
				      "The value specified in the x-amz-trailer header is not supported.");
			goto fail;
		}
		b->sum_idx = k;
		b->sum_trailer = 1;
	} else if (idx >= 0) {
		size_t sz = wcrypto_digest_size(checksums[idx].alg);

		if (wcrypto_unb64(b->want_sum, sz, v, vn) != 0) {
			rc = sv4_fail(e, -EINVAL, 400, "InvalidRequest",
				      "Value for x-amz-checksum- header is invalid.");
			goto fail;
		}
		b->sum_idx = idx;
	}
	if (b->sum_idx >= 0 && wcrypto_digest_new(checksums[b->sum_idx].alg, &b->sum) < 0)
		goto nomem;
	if (mode >= SIGV4_PAYLOAD_STREAMING) {
		uint8_t *key = NULL;

		if (sign) {
			key = wcrypto_secure_alloc(SV4_KEY_WORK(k ? 0 : secret_len));
			if (!key)
				goto nomem;
			if (k)
				memcpy(key, sv4_key_bytes(k), 32);
			else
				sv4_signing_key(key, secret, secret_len, auth);
		}
		b->chunked = sv4_chunked_new(mode, key, auth);   /* owns key */
		if (!b->chunked)
			goto nomem;
	}
	*out = b;
	return 0;
nomem:
	rc = oom(e);
fail:
	sigv4_body_free(b);
	return rc;
}

int sigv4_body_new(const struct sigv4_request *req, const struct sigv4_auth *auth,
		   const uint8_t *secret, size_t secret_len, sigv4_body **out,
		   struct sigv4_error *e)
{
	return body_new(req, auth, secret, secret_len, NULL, out, e);
}

int sigv4_body_new_key(const struct sigv4_request *req, const struct sigv4_auth *auth,
		       const sigv4_key *k, sigv4_body **out, struct sigv4_error *e)
{
	return body_new(req, auth, NULL, 0, k, out, e);
}

void sigv4_body_free(sigv4_body *b)
{
	if (!b)
		return;
	sv4_chunked_free(b->chunked);
	wcrypto_digest_free(b->md5);
	wcrypto_digest_free(b->sha256);
	wcrypto_digest_free(b->sum);
	free(b);
}

/* Payload bytes: into every digest, then to the caller's sink. */
static int emit(void *arg, const void *data, size_t len)
{
	sigv4_body *b = arg;

	if (wcrypto_digest_update(b->md5, data, len) < 0 ||
	    (b->sha256 && wcrypto_digest_update(b->sha256, data, len) < 0) ||
	    (b->sum && wcrypto_digest_update(b->sum, data, len) < 0))
		return sv4_fail(&b->err, -EIO, 500, "InternalError", "A digest failed.");
	b->length += len;
	return b->sink ? b->sink(b->sink_arg, data, len) : 0;
}

static int sticky(sigv4_body *b, int rc, struct sigv4_error *e)
{
	b->rc = rc;
	if (e)
		*e = b->err;
	return rc;
}

int sigv4_body_feed(sigv4_body *b, const void *data, size_t len, sigv4_sink sink, void *arg,
		    struct sigv4_error *e)
{
	int rc;

	if (b->rc)
		return sticky(b, b->rc, e);
	if (b->finished)
		return sv4_fail(e, -EINVAL, 400, "IncompleteBody", "The body was already finished.");
	b->sink = sink;
	b->sink_arg = arg;
	/* Errors land in b->err first so they stay for later calls. */
	b->err = (struct sigv4_error){ 500, "InternalError", M_OOM };
	if (b->chunked)
		rc = sv4_chunked_feed(b->chunked, data, len, emit, b, &b->err);
	else
		rc = len ? emit(b, data, len) : 0;
	b->sink = NULL;
	if (rc != 0)
		return sticky(b, rc, e);
	return 0;
}

int sigv4_body_finish(sigv4_body *b, struct sigv4_error *e)
{
	int rc;

	if (b->rc)
		return sticky(b, b->rc, e);
	if (b->finished)
		return 0;
	if (b->chunked) {
		rc = sv4_chunked_finish(b->chunked, &b->err);
		if (rc < 0)
			return sticky(b, rc, e);
	}
	if (wcrypto_digest_final(b->md5, b->got_md5, 16) < 0)
		return sticky(b, sv4_fail(&b->err, -EIO, 500, "InternalError", M_OOM), e);
	if (b->sha256) {
		uint8_t h[32];

		if (wcrypto_digest_final(b->sha256, h, 32) < 0)
			return sticky(b, sv4_fail(&b->err, -EIO, 500, "InternalError", M_OOM), e);
		if (!wcrypto_equal(h, b->want_sha256, 32))
			return sticky(b, sv4_fail(&b->err, -EINVAL, 400, "XAmzContentSHA256Mismatch",
						  "The provided 'x-amz-content-sha256' header does not match what was computed."),
				      e);
	}
	if (b->have_md5 && !wcrypto_equal(b->got_md5, b->want_md5, 16))
		return sticky(b, sv4_fail(&b->err, -EINVAL, 400, "BadDigest",
					  "The Content-MD5 you specified did not match what we received."),
			      e);
	if (b->sum) {
		size_t sz = wcrypto_digest_size(checksums[b->sum_idx].alg);

		if (b->sum_trailer) {
			const char *tv = sv4_chunked_trailer_value(b->chunked);

			if (!tv || wcrypto_unb64(b->want_sum, sz, tv, strlen(tv)) != 0)
				return sticky(b, sv4_fail(&b->err, -EINVAL, 400, "InvalidRequest",
							  "Value for x-amz-checksum- trailing header is invalid."),
					      e);
		}
		if (wcrypto_digest_final(b->sum, b->got_sum, sizeof(b->got_sum)) < 0)
			return sticky(b, sv4_fail(&b->err, -EIO, 500, "InternalError", M_OOM), e);
		if (!wcrypto_equal(b->got_sum, b->want_sum, sz))
			return sticky(b, sv4_fail(&b->err, -EINVAL, 400, "BadDigest",
						  "The checksum you specified (x-amz-checksum-) did not match the calculated checksum."),
				      e);
	}
	b->finished = 1;
	return 0;
}

uint64_t sigv4_body_length(const sigv4_body *b)
{
	return b->length;
}

int sigv4_body_md5(const sigv4_body *b, uint8_t md5[16])
{
	if (!b->finished)
		return -EAGAIN;
	memcpy(md5, b->got_md5, 16);
	return 0;
}

int sigv4_body_etag(const sigv4_body *b, char hex[33])
{
	if (!b->finished)
		return -EAGAIN;
	wcrypto_hex(hex, b->got_md5, 16);
	return 0;
}

int sigv4_body_checksum(const sigv4_body *b, const char **name, char b64[45])
{
	if (!b->finished)
		return -EAGAIN;
	if (b->sum_idx < 0)
		return -ENOENT;
	*name = checksums[b->sum_idx].name;
	wcrypto_b64(b64, b->got_sum, wcrypto_digest_size(checksums[b->sum_idx].alg));
	return 0;
}

int sigv4_multipart_etag(const uint8_t (*md5s)[16], size_t n, char out[44])
{
	wcrypto_digest *d;
	uint8_t h[16];
	int rc;

	if (n == 0 || n > 10000)
		return -EINVAL;
	rc = wcrypto_digest_new(WCRYPTO_DIGEST_MD5, &d);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = wcrypto_digest_update(d, md5s[i], 16);
	if (rc == 0)
		rc = wcrypto_digest_final(d, h, sizeof(h));
	wcrypto_digest_free(d);
	if (rc < 0)
		return rc;
	wcrypto_hex(out, h, 16);
	out[32] = '-';
	/* n <= 10000: at most 5 digits. */
	{
		char num[12];
		int k = 0;

		do {
			num[k++] = (char)('0' + n % 10);
			n /= 10;
		} while (n);
		for (int i = 0; i < k; i++)
			out[33 + i] = num[k - 1 - i];
		out[33 + k] = '\0';
	}
	return 0;
}
