/* sigv4: the aws-chunked framing decoder (Content-Encoding: aws-chunked).
 *
 *   chunk   = hex-size [";chunk-signature=" 64hex] CRLF data CRLF
 *   final   = "0" [";chunk-signature=" 64hex] CRLF
 *   then    CRLF                                  (no trailer modes)
 *   or      [CRLF] trailer-line* CRLF             (trailer modes)
 *   trailer = name ":" value CRLF; signed mode adds
 *             "x-amz-trailer-signature:" 64hex CRLF
 *
 * Signed chunks chain: chunk n's signature signs the hash of its data and
 * chunk n-1's signature (the first chains from the request's, the seed);
 * the trailer signature chains from the final chunk's. Only the current
 * line is buffered (at most SIGV4_LINE_MAX); data bytes pass straight to
 * the emitter. Lines may end in LF or CRLF (some clients end trailer lines
 * with LF only); the CRLF after chunk data is required. */
#include "sigv4.h"
#include "sigv4_priv.h"
#include "crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	ST_HEAD,      /* reading a chunk header line */
	ST_DATA,      /* inside chunk data */
	ST_DATA_CR,   /* the CR after chunk data */
	ST_DATA_LF,   /* the LF after chunk data */
	ST_END,       /* after the final chunk: the closing empty line */
	ST_TRAILER,   /* after the final chunk: trailer lines */
	ST_DONE,      /* the body is complete: nothing may follow */
};

#define TRAILER_VALUE_MAX 128

struct sv4_chunked {
	int mode;
	int sign;                   /* chunk signatures expected */
	uint8_t *key;               /* signing key first, secure memory (sign only) */
	struct sigv4_auth a;        /* date, scope, decoded length */
	uint8_t prev[32];           /* last verified signature (seed first) */
	uint8_t want[32];           /* the current chunk's announced signature */
	wcrypto_digest *h;          /* SHA-256 of the current chunk's data */
	uint64_t remaining;         /* data bytes left in the current chunk */
	uint64_t total;             /* payload bytes so far */
	int state;
	int blank_skipped;          /* the empty line before trailers */
	int have_value, have_sig;
	char value[TRAILER_VALUE_MAX + 1];
	size_t linelen;
	char line[SIGV4_LINE_MAX + 1];
};

static const char INCOMPLETE[] = "IncompleteBody";

static int bad_framing(struct sigv4_error *e, const char *why)
{
	return sv4_fail(e, -EINVAL, 400, INCOMPLETE, why);
}

static int bad_signature(struct sigv4_error *e)
{
	return sv4_fail(e, -EACCES, 403, "SignatureDoesNotMatch",
			"The chunk signature we calculated does not match the signature you provided.");
}

struct sv4_chunked *sv4_chunked_new(int mode, uint8_t *key, const struct sigv4_auth *a)
{
	struct sv4_chunked *c = calloc(1, sizeof(*c));

	if (!c) {
		wcrypto_secure_free(key);
		return NULL;
	}
	c->mode = mode;
	c->sign = mode == SIGV4_PAYLOAD_STREAMING || mode == SIGV4_PAYLOAD_STREAMING_TRAILER;
	c->a = *a;
	c->key = key;
	if (c->sign) {
		if (!c->key || wcrypto_digest_new(WCRYPTO_DIGEST_SHA256, &c->h) < 0) {
			sv4_chunked_free(c);
			return NULL;
		}
		memcpy(c->prev, a->signature, 32);
	}
	c->state = ST_HEAD;
	return c;
}

void sv4_chunked_free(struct sv4_chunked *c)
{
	if (!c)
		return;
	wcrypto_secure_free(c->key);
	wcrypto_digest_free(c->h);
	free(c);
}

const char *sv4_chunked_trailer_value(const struct sv4_chunked *c)
{
	return c->have_value ? c->value : NULL;
}

/* Check the signature of the chunk whose data hash is the digest's state
 * (or of the empty final chunk), then chain from it. */
static int check_chunk(struct sv4_chunked *c, struct sigv4_error *e)
{
	uint8_t h[32], sig[32];
	char rest[sizeof(SV4_EMPTY_SHA256) + 65];
	int rc, ok;

	rc = wcrypto_digest_final(c->h, h, sizeof(h));
	wcrypto_digest_free(c->h);
	c->h = NULL;
	if (rc == 0)
		rc = wcrypto_digest_new(WCRYPTO_DIGEST_SHA256, &c->h);
	if (rc < 0)
		return sv4_fail(e, rc, 500, "InternalError", "A digest failed.");
	memcpy(rest, SV4_EMPTY_SHA256 "\n", sizeof(SV4_EMPTY_SHA256));
	wcrypto_hex(rest + sizeof(SV4_EMPTY_SHA256), h, 32);
	rc = sv4_chain_signature(sig, c->key, "AWS4-HMAC-SHA256-PAYLOAD", &c->a, c->prev, rest);
	if (rc < 0)
		return sv4_fail(e, rc, 500, "InternalError", "Out of memory.");
	ok = wcrypto_equal(sig, c->want, 32);
	if (!ok)
		return bad_signature(e);
	memcpy(c->prev, c->want, 32);
	return 0;
}

static int chunk_header(struct sv4_chunked *c, const char *l, size_t n, struct sigv4_error *e)
{
	static const char ext[] = ";chunk-signature=";
	size_t i = 0;
	uint64_t size = 0;
	uint64_t left = (uint64_t)c->a.decoded_length - c->total;

	while (i < n && wcrypto_hexdigit(l[i]) >= 0) {
		if (i == 16)
			return bad_framing(e, "A chunk size has more than 16 hex digits.");
		size = size << 4 | (uint64_t)wcrypto_hexdigit(l[i]);
		i++;
	}
	if (i == 0)
		return bad_framing(e, "A chunk does not start with its size in hex.");
	if (c->sign) {
		if (n - i != sizeof(ext) - 1 + 64 || memcmp(l + i, ext, sizeof(ext) - 1) != 0 ||
		    wcrypto_unhex(c->want, 32, l + i + sizeof(ext) - 1, 64) != 0)
			return bad_framing(e, "A chunk header lacks a valid chunk-signature.");
	} else if (i < n && l[i] != ';') {
		/* Unsigned chunks may carry extensions (ignored), nothing else. */
		return bad_framing(e, "A chunk size is followed by garbage.");
	}
	if (size > left)
		return sv4_fail(e, -EINVAL, 400, "InvalidArgument",
				"The chunks hold more data than x-amz-decoded-content-length.");
	if (size > 0) {
		c->remaining = size;
		c->state = ST_DATA;
		return 0;
	}
	/* The final chunk. */
	if (c->sign) {
		int rc = check_chunk(c, e);

		if (rc < 0)
			return rc;
	}
	if (left != 0)
		return bad_framing(e, "The body holds less data than x-amz-decoded-content-length.");
	c->state = c->mode == SIGV4_PAYLOAD_STREAMING ? ST_END : ST_TRAILER;
	return 0;
}

static int trailer_complete(const struct sv4_chunked *c)
{
	return (c->a.trailer[0] == '\0' || c->have_value) &&
	       (c->mode != SIGV4_PAYLOAD_STREAMING_TRAILER || c->have_sig);
}

static int trailer_signature(struct sv4_chunked *c, const char *v, size_t vn,
			     struct sigv4_error *e)
{
	uint8_t want[32], sig[32], h[32];
	char rest[65];
	size_t tl = strlen(c->a.trailer), vl = strlen(c->value);
	char *canon;
	int rc;

	if (wcrypto_unhex(want, 32, v, vn) != 0)
		return bad_framing(e, "x-amz-trailer-signature is not 64 hex digits.");
	/* The signed trailer text: each trailer as "name:value\n". */
	canon = malloc(tl + vl + 3);
	if (!canon)
		return sv4_fail(e, -ENOMEM, 500, "InternalError", "Out of memory.");
	if (c->have_value) {
		memcpy(canon, c->a.trailer, tl);
		canon[tl] = ':';
		memcpy(canon + tl + 1, c->value, vl);
		canon[tl + 1 + vl] = '\n';
		wcrypto_sha256(h, canon, tl + vl + 2);
	} else {
		wcrypto_sha256(h, "", 0);
	}
	free(canon);
	wcrypto_hex(rest, h, 32);
	rc = sv4_chain_signature(sig, c->key, "AWS4-HMAC-SHA256-TRAILER", &c->a, c->prev, rest);
	if (rc < 0)
		return sv4_fail(e, rc, 500, "InternalError", "Out of memory.");
	if (!wcrypto_equal(sig, want, 32))
		return bad_signature(e);
	c->have_sig = 1;
	return 0;
}

static int trailer_line(struct sv4_chunked *c, const char *l, size_t n, struct sigv4_error *e)
{
	const char *colon, *v;
	size_t nl, vn;

	if (n == 0) {
		if (trailer_complete(c)) {
			c->state = ST_DONE;
			return 0;
		}
		/* One empty line may come between the final chunk and the
		 * trailers (clients differ). */
		if (!c->blank_skipped && !c->have_value && !c->have_sig) {
			c->blank_skipped = 1;
			return 0;
		}
		return bad_framing(e, "The announced trailer is missing.");
	}
	colon = memchr(l, ':', n);
	if (!colon)
		return bad_framing(e, "A trailer line has no ':'.");
	nl = (size_t)(colon - l);
	while (nl > 0 && (l[nl - 1] == ' ' || l[nl - 1] == '\t'))
		nl--;
	v = colon + 1;
	vn = n - (size_t)(v - l);
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (c->mode == SIGV4_PAYLOAD_STREAMING_TRAILER && !c->have_sig &&
	    sv4_name_eq(l, nl, "x-amz-trailer-signature")) {
		if (c->a.trailer[0] != '\0' && !c->have_value)
			return bad_framing(e, "The trailer signature comes before the trailer.");
		return trailer_signature(c, v, vn, e);
	}
	if (c->a.trailer[0] != '\0' && !c->have_value && !c->have_sig &&
	    sv4_name_eq(l, nl, c->a.trailer)) {
		if (vn == 0 || vn > TRAILER_VALUE_MAX)
			return bad_framing(e, "The trailer value is empty or too long.");
		memcpy(c->value, v, vn);
		c->value[vn] = '\0';
		c->have_value = 1;
		return 0;
	}
	return bad_framing(e, "A trailer other than the announced one.");
}

static int full_line(struct sv4_chunked *c, struct sigv4_error *e)
{
	size_t n = c->linelen;
	char *l = c->line;

	c->linelen = 0;
	if (n > 0 && l[n - 1] == '\n')
		n--;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
			return bad_framing(e, "A control byte in chunk framing.");
	l[n] = '\0';
	switch (c->state) {
	case ST_HEAD:
		return chunk_header(c, l, n, e);
	case ST_END:
		if (n != 0)
			return bad_framing(e, "Bytes after the final chunk.");
		c->state = ST_DONE;
		return 0;
	default:
		return trailer_line(c, l, n, e);
	}
}

int sv4_chunked_feed(struct sv4_chunked *c, const uint8_t *p, size_t n, sv4_emit emit,
		     void *arg, struct sigv4_error *e)
{
	int rc;

	while (n > 0) {
		switch (c->state) {
		case ST_HEAD:
		case ST_END:
		case ST_TRAILER: {
			const uint8_t *nl = memchr(p, '\n', n);
			size_t take = nl ? (size_t)(nl - p) + 1 : n;

			if (c->linelen + take > SIGV4_LINE_MAX)
				return bad_framing(e, "A chunk framing line is too long.");
			memcpy(c->line + c->linelen, p, take);
			c->linelen += take;
			p += take;
			n -= take;
			if (nl) {
				rc = full_line(c, e);
				if (rc < 0)
					return rc;
			}
			break;
		}
		case ST_DATA: {
			size_t take = c->remaining < n ? (size_t)c->remaining : n;

			if (c->sign) {
				rc = wcrypto_digest_update(c->h, p, take);
				if (rc < 0)
					return sv4_fail(e, rc, 500, "InternalError", "A digest failed.");
			}
			rc = emit(arg, p, take);
			if (rc != 0)
				return rc;
			c->total += take;
			c->remaining -= take;
			p += take;
			n -= take;
			if (c->remaining == 0) {
				if (c->sign) {
					rc = check_chunk(c, e);
					if (rc < 0)
						return rc;
				}
				c->state = ST_DATA_CR;
			}
			break;
		}
		case ST_DATA_CR:
			if (*p != '\r')
				return bad_framing(e, "Chunk data is not followed by CRLF.");
			p++;
			n--;
			c->state = ST_DATA_LF;
			break;
		case ST_DATA_LF:
			if (*p != '\n')
				return bad_framing(e, "Chunk data is not followed by CRLF.");
			p++;
			n--;
			c->state = ST_HEAD;
			break;
		default:
			return bad_framing(e, "Bytes after the end of the aws-chunked body.");
		}
	}
	return 0;
}

int sv4_chunked_finish(struct sv4_chunked *c, struct sigv4_error *e)
{
	int rc;

	if (c->state == ST_DONE)
		return 0;
	/* The closing empty line may be missing at the very end: the body's
	 * end is as clear as the line would be. */
	if (c->state == ST_END && c->linelen == 0)
		return 0;
	if (c->state == ST_TRAILER) {
		if (c->linelen > 0) {
			rc = full_line(c, e);
			if (rc < 0)
				return rc;
		}
		if (c->state == ST_DONE || trailer_complete(c))
			return 0;
	}
	return bad_framing(e, "The aws-chunked body ended early.");
}
