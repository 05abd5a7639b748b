/* sigv4: AWS Signature Version 4 for the S3 front end, pure (no I/O, no
 * clock reads: time is a parameter). Header auth, presigned URLs,
 * UNSIGNED-PAYLOAD, aws-chunked bodies (signed chunks, signed or unsigned
 * trailers), Content-MD5 / x-amz-checksum-* / x-amz-content-sha256
 * verification and the MD5 ETag. The primitives are the crypto module's.
 *
 * Functions return 0 or -errno. Where a request is refused, the
 * struct sigv4_error out-parameter names the S3 answer: HTTP status, error
 * code and a fixed message (static strings).
 *
 * Usage sketch (the s3 front end, one request):
 *
 *   struct sigv4_header h[N];        // every request header, as received
 *   struct sigv4_request rq = { .method = "PUT",
 *       .target = raw_uri,           // "/b/k%20x?uploads" exactly as sent
 *       .headers = h, .n_headers = n };
 *   struct sigv4_auth a; struct sigv4_error e;
 *   if (sigv4_parse(&rq, &a, &e) < 0) reply(e.status, e.code, e.message);
 *   if (a.kind != SIGV4_ANONYMOUS) {
 *       secret = lookup(a.access_key);   // none: 403 InvalidAccessKeyId
 *       if (sigv4_verify(&rq, &a, secret, slen, region_or_NULL, now, &e) < 0)
 *           reply(e...);
 *   }
 *   sigv4_body *b;                   // every request with a body
 *   if (sigv4_body_new(&rq, &a, secret, slen, &b, &e) < 0) reply(e...);
 *   // wipe the secret now: b keeps only the derived chunk key
 *   for each slice of the HTTP body (any size, any split):
 *       rc = sigv4_body_feed(b, p, n, sink, ctx, &e);   // sink gets payload
 *   rc = sigv4_body_finish(b, &e);   // only now is the payload trusted
 *   sigv4_body_etag(b, etag);        // "hex" (no quotes)
 *   sigv4_body_free(b);
 *
 * Payload bytes handed to the sink are tentative: a bad chunk signature,
 * a bad digest or a short body is known only later (at the end of the
 * chunk, or at finish). The front end stores nothing (discards the new
 * object) unless sigv4_body_finish returns 0.
 *
 * The raw request-target: with libmicrohttpd, the URI as sent is what
 * MHD_OPTION_URI_LOG_CALLBACK receives (the access handler's url is already
 * unescaped and has no query). Content-Encoding: the front end drops the
 * "aws-chunked" token before storing the header. */
#ifndef WORMFS_SIGV4_H
#define WORMFS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

/* Longest accepted fields (longer: AuthorizationHeaderMalformed or
 * AuthorizationQueryParametersError). */
#define SIGV4_ACCESS_KEY_MAX 128
#define SIGV4_REGION_MAX 64
#define SIGV4_SERVICE_MAX 32
#define SIGV4_SIGNED_HEADERS_MAX 2048
#define SIGV4_TRAILER_MAX 64
/* Presigned URLs: X-Amz-Expires at most 7 days. */
#define SIGV4_MAX_EXPIRES 604800
/* Allowed distance between X-Amz-Date and now (header auth; presigned:
 * a date this far in the future). */
#define SIGV4_MAX_SKEW 900
/* Longest line of aws-chunked framing (a chunk header or a trailer); the
 * only bytes of a body the decoder buffers. */
#define SIGV4_LINE_MAX 4096

/* An S3 refusal. Strings are static. */
struct sigv4_error {
	int status;            /* HTTP status: 400, 403, 411 */
	const char *code;      /* S3 error code, e.g. "SignatureDoesNotMatch" */
	const char *message;   /* English message for the error body */
};

/* One request header as received (NUL-terminated; the name in any case,
 * the value untrimmed). A header sent twice is passed twice. */
struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;    /* "GET", "PUT", ... (as sent) */
	/* The request-target exactly as sent: path, percent-encoded as the
	 * client sent it, then optionally '?' and the raw query. */
	const char *target;
	const struct sigv4_header *headers;
	size_t n_headers;
};

enum sigv4_kind {
	SIGV4_ANONYMOUS = 0,   /* no credentials at all */
	SIGV4_HEADER = 1,      /* Authorization: AWS4-HMAC-SHA256 ... */
	SIGV4_PRESIGNED = 2,   /* X-Amz-Algorithm=AWS4-HMAC-SHA256&... */
};

/* What the body is (x-amz-content-sha256; presigned: UNSIGNED unless the
 * header gives a hash; anonymous: PLAIN unless the header says more). */
enum sigv4_payload {
	SIGV4_PAYLOAD_PLAIN = 0,           /* anonymous without the header */
	SIGV4_PAYLOAD_SHA256 = 1,          /* hex sha256: the body must match */
	SIGV4_PAYLOAD_UNSIGNED = 2,        /* UNSIGNED-PAYLOAD */
	SIGV4_PAYLOAD_STREAMING = 3,       /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
	SIGV4_PAYLOAD_STREAMING_TRAILER = 4, /* ...-PAYLOAD-TRAILER (signed) */
	SIGV4_PAYLOAD_UNSIGNED_TRAILER = 5,  /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

/* The parsed authentication of one request (no secret involved). */
struct sigv4_auth {
	int kind;                                  /* enum sigv4_kind */
	char access_key[SIGV4_ACCESS_KEY_MAX + 1]; /* look the secret up by it */
	char scope_date[9];                        /* YYYYMMDD */
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SERVICE_MAX + 1];       /* "s3" */
	char amz_date[17];                         /* YYYYMMDDTHHMMSSZ */
	int64_t time;                              /* amz_date, Unix seconds */
	int64_t expires;                           /* presigned: X-Amz-Expires */
	/* Lowercase names, ';'-separated, as signed ("host;x-amz-date"). */
	char signed_headers[SIGV4_SIGNED_HEADERS_MAX + 1];
	uint8_t signature[32];                     /* the request's (the seed) */
	int payload;                               /* enum sigv4_payload */
	uint8_t payload_sha256[32];                /* SIGV4_PAYLOAD_SHA256 only */
	/* Streaming payloads: x-amz-decoded-content-length (-1 if absent) and
	 * x-amz-trailer lowercased ("" if none). */
	int64_t decoded_length;
	char trailer[SIGV4_TRAILER_MAX + 1];
};

/* Parse the request's authentication from the Authorization header or
 * the X-Amz-* query parameters. Nothing is verified against a secret.
 * 0: *auth filled (kind ANONYMOUS when neither is present: the caller
 * decides what an anonymous request may do).
 * -EINVAL, e filled (400):
 *   AuthorizationHeaderMalformed   bad header syntax, missing component,
 *                                  bad credential scope (date not the
 *                                  X-Amz-Date's, service not s3, terminal
 *                                  not aws4_request), field too long
 *   AuthorizationQueryParametersError  the same for a presigned URL, also a
 *                                  missing parameter and X-Amz-Expires not
 *                                  in 0 .. 604800
 *   InvalidArgument                both header and query auth; two
 *                                  Authorization headers; bad
 *                                  x-amz-content-sha256 value (or signed
 *                                  chunks without header auth); bad
 *                                  x-amz-decoded-content-length; an
 *                                  unknown Authorization scheme
 *   InvalidRequest                 x-amz-trailer sent twice or too long
 *   InvalidRequest                 a signing method other than SigV4
 *                                  (SigV2, SigV4a): "use AWS4-HMAC-SHA256"
 *   InvalidRequest                 header auth without x-amz-content-sha256
 * -EACCES, e filled (403):
 *   AccessDenied                   no valid X-Amz-Date (header auth)
 *   AccessDenied                   an x-amz-* header present but not signed
 *                                  ("There were headers present in the
 *                                  request which were not signed")
 * -EMSGSIZE, e filled (411 MissingContentLength): a streaming payload
 * without x-amz-decoded-content-length. */
int sigv4_parse(const struct sigv4_request *req, struct sigv4_auth *auth,
		struct sigv4_error *e);

/* Verify a parsed (non-anonymous) request with the user's secret (in the
 * caller's secure memory; never copied, derived keys wiped) at time now
 * (Unix seconds). region: the endpoint's region, or NULL to accept the
 * scope's. 0 when authentic and in time.
 * -EINVAL (400): AuthorizationHeaderMalformed /
 *   AuthorizationQueryParametersError: the scope's region is not region.
 * -EACCES (403): SignatureDoesNotMatch; RequestTimeTooSkewed (header auth,
 *   |now - X-Amz-Date| > 15 min); AccessDenied "Request has expired"
 *   (presigned, now > X-Amz-Date + X-Amz-Expires); AccessDenied "Request
 *   is not valid yet" (presigned, X-Amz-Date more than 15 min ahead).
 * The time checks come after the signature check here; a front end that
 * must unseal the secret first calls sigv4_check_scope before (below).
 * -ENOMEM, e = 500 InternalError. */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth,
		 const uint8_t *secret, size_t secret_len, const char *region, int64_t now,
		 struct sigv4_error *e);

/* The checks of sigv4_verify that need no secret: the scope's region and
 * the time (the same errors). A front end calls it before it unseals a
 * user's secret, so that a request signed for another region or a day
 * long past (which anyone who knows an access key id can send) costs no
 * KMS request; the server's clock is no secret (every response's Date). */
int sigv4_check_scope(const struct sigv4_auth *auth, const char *region, int64_t now,
		      struct sigv4_error *e);

/* The canonical request (malloc'd, NUL-terminated; caller frees) and the
 * signature this secret gives for it (what sigv4_verify compares). For
 * tests and for an error body's CanonicalRequest. -ENOMEM, -EINVAL for an
 * anonymous auth. */
int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *auth,
			    char **out);
int sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *auth,
		    const uint8_t *secret, size_t secret_len, uint8_t sig[32]);

/* A signing key derived once: kSigning of one user's secret for one
 * scope (date, region, service), in secure memory. The front end may keep
 * one per access key id and reuse it while sigv4_key_fits: a request then
 * needs neither the secret nor a secure allocation (sodium_malloc costs
 * about 50 us of CPU here: parse + sigv4_verify take about 70 us, parse +
 * sigv4_verify_key about 9 us). Read-only after sigv4_key_new: threads may
 * share one. */
typedef struct sigv4_key sigv4_key;
/* -EINVAL for an anonymous auth, -ENOMEM. */
int sigv4_key_new(const uint8_t *secret, size_t secret_len, const struct sigv4_auth *auth,
		  sigv4_key **out);
void sigv4_key_free(sigv4_key *k);   /* wipes; NULL ok */
/* 1 if k was made for auth's access key id and scope, else 0. */
int sigv4_key_fits(const sigv4_key *k, const struct sigv4_auth *auth);
/* sigv4_verify and sigv4_body_new with a derived key instead of the
 * secret: the same results; a key that does not fit the request is
 * -ESTALE (e: 500 InternalError; make a new one). */
int sigv4_verify_key(const struct sigv4_request *req, const struct sigv4_auth *auth,
		     const sigv4_key *k, const char *region, int64_t now, struct sigv4_error *e);

/* The request body, whatever its encoding: decodes aws-chunked (checking
 * each chunk signature and the trailer signature in the signed modes),
 * hashes the decoded payload incrementally and checks at the end the
 * digests the request announced: x-amz-content-sha256 (hex), Content-MD5,
 * one x-amz-checksum-{crc32,crc32c,sha1,sha256} header or trailer. Memory
 * is bounded (SIGV4_LINE_MAX of framing); payload bytes pass through. */
typedef struct sigv4_body sigv4_body;

/* Receives decoded payload bytes in order (pointers into the fed slice;
 * valid during the call). Nonzero aborts the feed; the feed returns it. */
typedef int (*sigv4_sink)(void *arg, const void *data, size_t len);

/* auth: from sigv4_parse (and sigv4_verify, unless ANONYMOUS). secret: the
 * user's, needed only for the signed streaming modes (NULL otherwise); the
 * body keeps only the derived signing key (secure memory, wiped on free).
 * -EINVAL, e filled (400):
 *   InvalidDigest      Content-MD5 not base64 of 16 bytes
 *   InvalidRequest     an x-amz-checksum-* header whose value does not
 *                      decode, more than one of them, an unknown algorithm
 *                      (e.g. crc64nvme) in a header or x-amz-trailer, a
 *                      trailer on a mode without trailers, or a checksum
 *                      header and a trailer both
 * -EACCES: the auth is signed streaming but no secret (403 AccessDenied).
 * -ENOMEM (500 InternalError). */
int sigv4_body_new(const struct sigv4_request *req, const struct sigv4_auth *auth,
		   const uint8_t *secret, size_t secret_len, sigv4_body **out,
		   struct sigv4_error *e);
int sigv4_body_new_key(const struct sigv4_request *req, const struct sigv4_auth *auth,
		       const sigv4_key *k, sigv4_body **out, struct sigv4_error *e);
void sigv4_body_free(sigv4_body *b);   /* NULL ok */

/* Feed the next len bytes of the HTTP body (after any Transfer-Encoding is
 * removed). Any split is fine: the result never depends on it.
 * 0, or the sink's nonzero return (e: 500 InternalError), or:
 * -EINVAL (400) IncompleteBody: aws-chunked framing broken (bad hex, size
 *   field over 16 digits, missing CRLF, chunk-signature missing or not 64
 *   hex, a line over SIGV4_LINE_MAX, payload beyond the decoded length,
 *   bytes after the end, a trailer other than the announced one or a bad
 *   trailer line); InvalidArgument: more payload than
 *   x-amz-decoded-content-length.
 * -EACCES (403) SignatureDoesNotMatch: a chunk or trailer signature.
 * -EIO (500): a digest failed in the library.
 * After an error the body is dead: later feeds and finish return the first
 * error again (the sink is not called again). */
int sigv4_body_feed(sigv4_body *b, const void *data, size_t len, sigv4_sink sink, void *arg,
		    struct sigv4_error *e);

/* The body is complete: framing finished, decoded length as announced,
 * digests equal. 0, or:
 * -EINVAL (400): IncompleteBody (framing not finished: no final chunk, no
 *   trailer, fewer payload bytes than x-amz-decoded-content-length);
 *   BadDigest (Content-MD5 or x-amz-checksum-* differs);
 *   XAmzContentSHA256Mismatch (x-amz-content-sha256 differs).
 * -EACCES (403) SignatureDoesNotMatch (a trailer signature).
 * Once: a second call returns the first result. */
int sigv4_body_finish(sigv4_body *b, struct sigv4_error *e);

/* Decoded payload bytes fed so far. */
uint64_t sigv4_body_length(const sigv4_body *b);
/* After finish returned 0: the payload's MD5 (the ETag), raw or as 32
 * lowercase hex + NUL. -EAGAIN before a successful finish. */
int sigv4_body_md5(const sigv4_body *b, uint8_t md5[16]);
int sigv4_body_etag(const sigv4_body *b, char hex[33]);
/* After finish returned 0: the x-amz-checksum-* checked, if any: its
 * header name ("x-amz-checksum-crc32") and base64 value (NUL-terminated,
 * b64 needs 45 bytes), for the response and to keep with the object.
 * -ENOENT if the request announced none, -EAGAIN before finish. */
int sigv4_body_checksum(const sigv4_body *b, const char **name, char b64[45]);

/* Multipart ETag: hex MD5 of the parts' raw MD5s concatenated, then "-N".
 * out needs 32 + 1 + 10 + 1 bytes. -EINVAL for n == 0 or n > 10000. */
int sigv4_multipart_etag(const uint8_t (*md5s)[16], size_t n, char out[44]);

#endif
