/* sigv4: AWS's published example requests as known answers (header GET,
 * PUT, query-string GETs, a presigned URL, the chunked upload and the
 * chunked upload with a signed trailer), canonicalization details, every
 * refusal with its S3 code, and the body decoder fed in random slices. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sigv4.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CRED AK "/20130524/us-east-1/s3/aws4_request"
/* 2013-05-24T00:00:00Z */
#define T0 1369353600

static const uint8_t *secret = (const uint8_t *)SECRET;
static const size_t secret_len = sizeof(SECRET) - 1;

static void setup(void)
{
	cr_assert_eq(wcrypto_init(), 0);
}

TestSuite(sigv4, .init = setup);

struct req {
	struct sigv4_header h[24];
	char auth[1024];
	struct sigv4_request r;
};

static void req_init(struct req *q, const char *method, const char *target)
{
	memset(q, 0, sizeof(*q));
	q->r.method = method;
	q->r.target = target;
	q->r.headers = q->h;
}

static void hdr(struct req *q, const char *name, const char *value)
{
	cr_assert_lt(q->r.n_headers, 24);
	q->h[q->r.n_headers].name = name;
	q->h[q->r.n_headers].value = value;
	q->r.n_headers++;
}

static void expect_err(int rc, const struct sigv4_error *e, int want_rc, int status,
		       const char *code)
{
	cr_expect_eq(rc, want_rc, "rc %d, want %d (%s)", rc, want_rc, rc ? e->code : "-");
	if (rc == want_rc && rc != 0) {
		cr_expect_eq(e->status, status);
		cr_expect_str_eq(e->code, code);
		cr_expect_not_null(e->message);
	}
}

/* Parse and verify at time now. */
static int check(struct req *q, int64_t now, struct sigv4_auth *a, struct sigv4_error *e)
{
	int rc = sigv4_parse(&q->r, a, e);

	if (rc < 0)
		return rc;
	return sigv4_verify(&q->r, a, secret, secret_len, "us-east-1", now, e);
}

static void sig_hex(const struct sigv4_auth *a, char hex[65])
{
	wcrypto_hex(hex, a->signature, 32);
}

/* Compute the right signature for q (whose Authorization header, last in
 * h[], has a placeholder signature) and put it in. */
static void sign(struct req *q, const char *signed_headers)
{
	struct sigv4_auth a;
	struct sigv4_error e;
	uint8_t sig[32];
	char hex[65];

	snprintf(q->auth, sizeof(q->auth),
		 "AWS4-HMAC-SHA256 Credential=" CRED ", SignedHeaders=%s, Signature=%064d",
		 signed_headers, 0);
	hdr(q, "Authorization", q->auth);
	cr_assert_eq(sigv4_parse(&q->r, &a, &e), 0, "%s", e.message);
	cr_assert_eq(sigv4_signature(&q->r, &a, secret, secret_len, sig), 0);
	wcrypto_hex(hex, sig, 32);
	snprintf(q->auth, sizeof(q->auth),
		 "AWS4-HMAC-SHA256 Credential=" CRED ", SignedHeaders=%s, Signature=%s",
		 signed_headers, hex);
}

/* ---- AWS's header-auth examples (sig-v4-header-based-auth) ---------- */

static void get_object(struct req *q)
{
	req_init(q, "GET", "/test.txt");
	hdr(q, "Host", "examplebucket.s3.amazonaws.com");
	hdr(q, "Range", "bytes=0-9");
	hdr(q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(q, "x-amz-date", "20130524T000000Z");
	hdr(q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
	    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

Test(sigv4, aws_get_object)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	char *cr;
	uint8_t h[32];
	char hex[65];

	get_object(&q);
	cr_assert_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	cr_expect_eq(a.kind, SIGV4_HEADER);
	cr_expect_str_eq(a.access_key, AK);
	cr_expect_str_eq(a.region, "us-east-1");
	cr_expect_eq(a.time, T0);
	cr_expect_eq(a.payload, SIGV4_PAYLOAD_SHA256);
	cr_assert_eq(sigv4_canonical_request(&q.r, &a, &cr), 0);
	cr_expect_str_eq(cr, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
			     "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
			     "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
	wcrypto_sha256(h, cr, strlen(cr));
	wcrypto_hex(hex, h, 32);
	cr_expect_str_eq(hex, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	free(cr);
	/* Any other secret, method or header value breaks it. */
	cr_expect_eq(sigv4_verify(&q.r, &a, (const uint8_t *)"x", 1, NULL, T0, &e), -EACCES);
	cr_expect_str_eq(e.code, "SignatureDoesNotMatch");
	cr_expect_eq(e.status, 403);
	q.h[1].value = "bytes=0-10";
	expect_err(check(&q, T0, &a, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	get_object(&q);
	q.r.method = "HEAD";
	expect_err(check(&q, T0, &a, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
}

static void put_object(struct req *q)
{
	req_init(q, "PUT", "/test$file.text");
	hdr(q, "Host", "examplebucket.s3.amazonaws.com");
	hdr(q, "Date", "Fri, 24 May 2013 00:00:00 GMT");
	hdr(q, "x-amz-date", "20130524T000000Z");
	hdr(q, "x-amz-storage-class", "REDUCED_REDUNDANCY");
	hdr(q, "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	hdr(q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
	    "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

struct sinkbuf {
	uint8_t *p;
	size_t len, cap;
	int calls;
	int fail_at;    /* fail the call with this number (1-based), 0 never */
};

static int sink(void *arg, const void *data, size_t len)
{
	struct sinkbuf *s = arg;

	s->calls++;
	if (s->fail_at && s->calls == s->fail_at)
		return -ENOSPC;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2 + 64;
		s->p = realloc(s->p, s->cap);
		cr_assert_not_null(s->p);
	}
	memcpy(s->p + s->len, data, len);
	s->len += len;
	return 0;
}

/* Feed body[0..n) in one go and finish: the finish (or first feed) rc. */
static int run_body(const struct req *q, const struct sigv4_auth *a, const void *body, size_t n,
		    struct sinkbuf *out, struct sigv4_error *e)
{
	sigv4_body *b;
	int rc = sigv4_body_new(&q->r, a, secret, secret_len, &b, e);

	if (rc < 0)
		return rc;
	rc = sigv4_body_feed(b, body, n, sink, out, e);
	if (rc == 0)
		rc = sigv4_body_finish(b, e);
	sigv4_body_free(b);
	return rc;
}

Test(sigv4, aws_put_object_and_payload_hash)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };
	char *cr;
	sigv4_body *b;
	char etag[33];
	uint8_t md5[16];
	const char *name;
	char b64[45];

	put_object(&q);
	cr_assert_eq(check(&q, T0 + 899, &a, &e), 0, "%s", e.message);
	cr_assert_eq(sigv4_canonical_request(&q.r, &a, &cr), 0);
	cr_expect_eq(strncmp(cr, "PUT\n/test%24file.text\n\n", 23), 0, "%s", cr);
	free(cr);
	cr_assert_eq(sigv4_body_new(&q.r, &a, NULL, 0, &b, &e), 0);
	cr_expect_eq(sigv4_body_etag(b, etag), -EAGAIN);
	cr_assert_eq(sigv4_body_feed(b, "Welcome to ", 11, sink, &out, &e), 0);
	cr_assert_eq(sigv4_body_feed(b, "Amazon S3.", 10, sink, &out, &e), 0);
	cr_assert_eq(sigv4_body_finish(b, &e), 0, "%s", e.message);
	cr_expect_eq(sigv4_body_finish(b, &e), 0);   /* once; again: same */
	cr_expect_eq(sigv4_body_length(b), 21);
	cr_assert_eq(sigv4_body_etag(b, etag), 0);
	cr_expect_eq(sigv4_body_md5(b, md5), 0);
	cr_expect_eq(md5[0], 0xd4);   /* from the hex below */
	cr_expect_eq(sigv4_body_checksum(b, &name, b64), -ENOENT);
	/* md5("Welcome to Amazon S3.") */
	cr_expect_str_eq(etag, "d447d0e8f289f16a12ff6027ce77c258");
	cr_expect_eq(out.len, 21);
	cr_expect_eq(memcmp(out.p, "Welcome to Amazon S3.", 21), 0);
	sigv4_body_free(b);
	/* Another body: XAmzContentSHA256Mismatch, nothing trusted. */
	out.len = 0;
	expect_err(run_body(&q, &a, "Welcome to Amazon S3!", 21, &out, &e), &e, -EINVAL, 400,
		   "XAmzContentSHA256Mismatch");
	free(out.p);
}

Test(sigv4, aws_get_with_query)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	req_init(&q, "GET", "/?lifecycle");
	hdr(&q, "Host", "examplebucket.s3.amazonaws.com");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
	    "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	cr_expect_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	/* The list example; the client's parameter order does not matter. */
	q.r.target = "/?prefix=J&max-keys=2";
	q.h[3].value = "AWS4-HMAC-SHA256 Credential=" CRED
		       ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
		       "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
	cr_expect_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	q.r.target = "/?max-keys=2&prefix=J";
	cr_expect_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	q.r.target = "/?max-keys=2&prefix=K";
	expect_err(check(&q, T0, &a, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
}

/* ---- presigned URL (sigv4-query-string-auth) ------------------------- */

#define PRESIGNED "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

Test(sigv4, aws_presigned)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	req_init(&q, "GET", PRESIGNED);
	hdr(&q, "Host", "examplebucket.s3.amazonaws.com");
	cr_assert_eq(check(&q, T0 + 3600, &a, &e), 0, "%s", e.message);
	cr_expect_eq(a.kind, SIGV4_PRESIGNED);
	cr_expect_eq(a.expires, 86400);
	cr_expect_eq(a.payload, SIGV4_PAYLOAD_UNSIGNED);
	cr_expect_str_eq(a.access_key, AK);
	cr_expect_eq(check(&q, T0 + 86400, &a, &e), 0);
	expect_err(check(&q, T0 + 86401, &a, &e), &e, -EACCES, 403, "AccessDenied");
	cr_expect_str_eq(e.message, "Request has expired");
	cr_expect_eq(check(&q, T0 - 900, &a, &e), 0);
	expect_err(check(&q, T0 - 901, &a, &e), &e, -EACCES, 403, "AccessDenied");
	cr_expect_str_eq(e.message, "Request is not valid yet");
	/* Another host, or an unsigned x-amz-* header, is refused. */
	q.h[0].value = "otherbucket.s3.amazonaws.com";
	expect_err(check(&q, T0, &a, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	q.h[0].value = "examplebucket.s3.amazonaws.com";
	hdr(&q, "X-Amz-Object-Lock-Legal-Hold", "ON");
	expect_err(check(&q, T0, &a, &e), &e, -EACCES, 403, "AccessDenied");
	/* Bad signatures in time: the signature error wins, not the clock. */
	q.r.n_headers = 1;
	q.r.method = "DELETE";
	expect_err(check(&q, T0 + 999999, &a, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
}

Test(sigv4, presigned_refusals)
{
	static const struct { const char *target; int rc; const char *code; } bad[] = {
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=x&X-Amz-Signature=y",
		  -EINVAL, "InvalidRequest" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130525%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=range&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=2013-05-24&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc",
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AK "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-Expires=61&X-Amz-SignedHeaders=host&X-Amz-Signature=" EMPTY_SHA,
		  -EINVAL, "AuthorizationQueryParametersError" },
		{ "/k?AWSAccessKeyId=" AK "&Expires=1369353600&Signature=abc", -EINVAL, "InvalidRequest" },
	};
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_init(&q, "GET", bad[i].target);
		hdr(&q, "Host", "h");
		cr_expect_eq(sigv4_parse(&q.r, &a, &e), bad[i].rc, "case %zu", i);
		cr_expect_str_eq(e.code, bad[i].code, "case %zu", i);
		cr_expect_eq(e.status, 400, "case %zu", i);
	}
	/* Both mechanisms at once. */
	req_init(&q, "GET", PRESIGNED);
	hdr(&q, "Host", "examplebucket.s3.amazonaws.com");
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host,Signature=" EMPTY_SHA);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
}

/* ---- header refusals ------------------------------------------------- */

Test(sigv4, header_refusals)
{
	static const struct { const char *auth; int rc; int status; const char *code; } bad[] = {
		{ "AWS " AK ":frJIUN8DYpKDtOLCwo//yllqDzg=", -EINVAL, 400, "InvalidRequest" },
		{ "AWS4-ECDSA-P256-SHA256 Credential=x", -EINVAL, 400, "InvalidRequest" },
		{ "Bearer xyz", -EINVAL, 400, "InvalidArgument" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date", -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request/x,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" AK "/2013052/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" AK "/20130525/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=x-amz-date;host;x-amz-content-sha256,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=Host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=xyz", -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA, -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA ",Extra=1", -EINVAL, 400, "AuthorizationHeaderMalformed" },
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature", -EINVAL, 400, "AuthorizationHeaderMalformed" },
		/* x-amz-date present but not signed. */
		{ "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=host;x-amz-content-sha256,Signature=" EMPTY_SHA, -EACCES, 403, "AccessDenied" },
	};
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_init(&q, "GET", "/b/k");
		hdr(&q, "Host", "h");
		hdr(&q, "x-amz-date", "20130524T000000Z");
		hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
		hdr(&q, "Authorization", bad[i].auth);
		e.code = "-";
		cr_expect_eq(sigv4_parse(&q.r, &a, &e), bad[i].rc, "case %zu: %s", i, e.code);
		cr_expect_str_eq(e.code, bad[i].code, "case %zu", i);
		cr_expect_eq(e.status, bad[i].status, "case %zu", i);
	}
}

Test(sigv4, date_payload_and_unsigned_header_refusals)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	static const char *bad_dates[] = { "20130524T000000", "20130524 000000Z", "20130532T000000Z",
					   "20130229T000000Z", "20131324T000000Z", "20130524T240000Z",
					   "19690101T000000Z", "" };
	const char *au = "AWS4-HMAC-SHA256 Credential=" CRED
			 ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA;

	/* No x-amz-date at all: 403 AccessDenied. */
	req_init(&q, "GET", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" CRED
		",SignedHeaders=host;x-amz-content-sha256,Signature=" EMPTY_SHA);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EACCES, 403, "AccessDenied");
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		req_init(&q, "GET", "/b/k");
		hdr(&q, "Host", "h");
		hdr(&q, "x-amz-date", bad_dates[i]);
		hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
		hdr(&q, "Authorization", au);
		cr_expect_eq(sigv4_parse(&q.r, &a, &e), -EACCES, "date %s", bad_dates[i]);
	}
	/* A leap year's Feb 29 is fine. */
	req_init(&q, "GET", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20160229T235959Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" AK "/20160229/us-east-1/s3/aws4_request"
		",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" EMPTY_SHA);
	cr_expect_eq(sigv4_parse(&q.r, &a, &e), 0);
	cr_expect_eq(a.time, 1456790399);
	/* x-amz-content-sha256: missing, bad, twice. */
	req_init(&q, "GET", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" CRED
		",SignedHeaders=host;x-amz-date,Signature=" EMPTY_SHA);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidRequest");
	req_init(&q, "GET", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", "SOMETHING");
	hdr(&q, "Authorization", au);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
	q.h[2].value = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD";
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidRequest");
	q.h[2].value = EMPTY_SHA;
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
	/* An x-amz-* header that is not signed. */
	req_init(&q, "PUT", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "X-Amz-Object-Lock-Retain-Until-Date", "2030-01-01T00:00:00Z");
	hdr(&q, "Authorization", au);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EACCES, 403, "AccessDenied");
	/* Two Authorization headers. */
	req_init(&q, "GET", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "Authorization", au);
	hdr(&q, "Authorization", au);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
	/* Streaming without x-amz-decoded-content-length: 411. */
	req_init(&q, "PUT", "/b/k");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
	hdr(&q, "Authorization", au);
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EMSGSIZE, 411, "MissingContentLength");
	hdr(&q, "x-amz-decoded-content-length", "12x");
	q.h[3].value = "AWS4-HMAC-SHA256 Credential=" CRED
		       ",SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length,Signature=" EMPTY_SHA;
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
}

Test(sigv4, anonymous)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };

	req_init(&q, "GET", "/b/k?versionId=1");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-meta-a", "1");   /* no signature to bind it to */
	cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
	cr_expect_eq(a.kind, SIGV4_ANONYMOUS);
	cr_expect_eq(a.payload, SIGV4_PAYLOAD_PLAIN);
	expect_err(sigv4_verify(&q.r, &a, secret, secret_len, NULL, T0, &e), &e, -EINVAL, 400,
		   "InvalidRequest");
	cr_expect_eq(run_body(&q, &a, "abc", 3, &out, &e), 0);
	cr_expect_eq(out.len, 3);
	free(out.p);
	/* Signed chunks cannot be anonymous. */
	hdr(&q, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
	hdr(&q, "x-amz-decoded-content-length", "3");
	expect_err(sigv4_parse(&q.r, &a, &e), &e, -EINVAL, 400, "InvalidArgument");
}

Test(sigv4, skew_and_region)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	get_object(&q);
	cr_expect_eq(check(&q, T0 + 900, &a, &e), 0);
	cr_expect_eq(check(&q, T0 - 900, &a, &e), 0);
	expect_err(check(&q, T0 + 901, &a, &e), &e, -EACCES, 403, "RequestTimeTooSkewed");
	expect_err(check(&q, T0 - 901, &a, &e), &e, -EACCES, 403, "RequestTimeTooSkewed");
	cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
	expect_err(sigv4_verify(&q.r, &a, secret, secret_len, "eu-west-1", T0, &e), &e, -EINVAL,
		   400, "AuthorizationHeaderMalformed");
	cr_expect_eq(sigv4_verify(&q.r, &a, secret, secret_len, NULL, T0, &e), 0);
}

/* ---- canonicalization details ---------------------------------------- */

static char *canon(struct req *q, const char *signed_headers)
{
	struct sigv4_auth a;
	struct sigv4_error e;
	char *cr;

	snprintf(q->auth, sizeof(q->auth),
		 "AWS4-HMAC-SHA256 Credential=" CRED ", SignedHeaders=%s, Signature=%064d",
		 signed_headers, 0);
	hdr(q, "Authorization", q->auth);
	cr_assert_eq(sigv4_parse(&q->r, &a, &e), 0, "%s", e.message);
	cr_assert_eq(sigv4_canonical_request(&q->r, &a, &cr), 0);
	return cr;
}

Test(sigv4, canonical_forms)
{
	struct req q;
	char *cr;

	/* Path: decoded then encoded once; '/' kept, %2F kept escaped,
	 * lowercase escapes made uppercase, '+' and UTF-8 escaped, no dot
	 * or slash normalization. Query: sorted by name then value, bare
	 * names get '=', values re-encoded. Headers: trimmed, blank runs
	 * folded, repeats joined by ','. */
	req_init(&q, "PUT", "/b/a b/%7e%2Fc+d/./x//\xc3\xa9?z=1&a=2&a=1&uploads&p=a%2fb&s=x+y&e=");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
	hdr(&q, "X-Amz-Meta-A", "  one   two\t three  ");
	hdr(&q, "x-amz-meta-a", "four");
	cr = canon(&q, "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a");
	cr_expect_str_eq(cr, "PUT\n/b/a%20b/~%2Fc%2Bd/./x//%C3%A9\n"
			     "a=1&a=2&e=&p=a%2Fb&s=x%2By&uploads=&z=1\n"
			     "host:h\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20130524T000000Z\n"
			     "x-amz-meta-a:one two three,four\n\n"
			     "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a\nUNSIGNED-PAYLOAD");
	free(cr);
	/* Empty path, empty query. */
	req_init(&q, "GET", "?");
	hdr(&q, "Host", "h");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	cr = canon(&q, "host;x-amz-content-sha256;x-amz-date");
	cr_expect_eq(strncmp(cr, "GET\n/\n\nhost:h\n", 14), 0, "%s", cr);
	free(cr);
	/* Presigned: X-Amz-Signature is left out of the canonical query. */
	req_init(&q, "GET", PRESIGNED);
	hdr(&q, "Host", "examplebucket.s3.amazonaws.com");
	{
		struct sigv4_auth a;
		struct sigv4_error e;

		cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
		cr_assert_eq(sigv4_canonical_request(&q.r, &a, &cr), 0);
		cr_expect_null(strstr(cr, "X-Amz-Signature"));
		cr_expect_not_null(strstr(cr, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"));
		cr_expect(strlen(cr) > 16 && strcmp(cr + strlen(cr) - 16, "UNSIGNED-PAYLOAD") == 0);
		free(cr);
		a.kind = SIGV4_ANONYMOUS;
		cr_expect_eq(sigv4_canonical_request(&q.r, &a, &cr), -EINVAL);
		cr_expect_null(cr);
	}
}

/* A request signed here (sign()) verifies: the helper the body tests use
 * is itself checked. */
Test(sigv4, self_signed_roundtrip)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;

	req_init(&q, "PUT", "/bucket/some%20key?partNumber=2&uploadId=xyz");
	hdr(&q, "Host", "127.0.0.1:8000");
	hdr(&q, "x-amz-date", "20130524T000000Z");
	hdr(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
	sign(&q, "host;x-amz-content-sha256;x-amz-date");
	cr_expect_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	cr_expect_eq(a.payload, SIGV4_PAYLOAD_UNSIGNED);
	{
		char hex[65];

		sig_hex(&a, hex);
		cr_expect_neq(strcmp(hex, "0000000000000000000000000000000000000000000000000000000000000000"), 0);
	}
}

/* ---- aws-chunked: AWS's chunked upload example (sigv4-streaming) ----- */

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define C1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define C2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define C3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

static void chunked_request(struct req *q)
{
	req_init(q, "PUT", "/examplebucket/chunkObject.txt");
	hdr(q, "Host", "s3.amazonaws.com");
	hdr(q, "x-amz-date", "20130524T000000Z");
	hdr(q, "x-amz-storage-class", "REDUCED_REDUNDANCY");
	hdr(q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=" CRED ",SignedHeaders=content-encoding;content-length;host;"
	    "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
	    "Signature=" SEED);
	hdr(q, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
	hdr(q, "Content-Encoding", "aws-chunked");
	hdr(q, "x-amz-decoded-content-length", "66560");
	hdr(q, "Content-Length", "66824");
}

/* The wire body: chunks of 65536 and 1024 'a', the final chunk, with the
 * given signatures; tail is appended after the final chunk header. */
static size_t chunked_body(char **out, const char *s1, const char *s2, const char *s3,
			   const char *tail)
{
	size_t cap = 66560 + 1024, n = 0;
	char *b = malloc(cap);

	cr_assert_not_null(b);
	n += (size_t)sprintf(b + n, "10000;chunk-signature=%s\r\n", s1);
	memset(b + n, 'a', 65536);
	n += 65536;
	n += (size_t)sprintf(b + n, "\r\n400;chunk-signature=%s\r\n", s2);
	memset(b + n, 'a', 1024);
	n += 1024;
	n += (size_t)sprintf(b + n, "\r\n0;chunk-signature=%s\r\n%s", s3, tail);
	*out = b;
	return n;
}

static int all_a(const struct sinkbuf *s, size_t n)
{
	if (s->len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s->p[i] != 'a')
			return 0;
	return 1;
}

/* Feed in slices from a fixed pseudo-random sequence; -1 means one byte
 * at a time. */
static int feed_sliced(sigv4_body *b, const char *body, size_t n, unsigned seed, int max,
		       struct sinkbuf *out, struct sigv4_error *e)
{
	size_t off = 0;
	int rc = 0;

	srand(seed);
	while (off < n && rc == 0) {
		size_t k = max < 0 ? 1 : (size_t)(rand() % max) + (rand() % 4 == 0 ? 0 : 1);

		if (k > n - off)
			k = n - off;
		rc = sigv4_body_feed(b, body + off, k, sink, out, e);
		off += k;
	}
	return rc;
}

Test(sigv4, aws_chunked_upload)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };
	char *body;
	size_t n = chunked_body(&body, C1, C2, C3, "\r\n");
	sigv4_body *b;
	char etag[33];

	cr_expect_eq(n, 66824);   /* the example's Content-Length */
	chunked_request(&q);
	cr_assert_eq(check(&q, T0, &a, &e), 0, "%s", e.message);
	cr_expect_eq(a.payload, SIGV4_PAYLOAD_STREAMING);
	cr_expect_eq(a.decoded_length, 66560);
	cr_expect_eq(run_body(&q, &a, body, n, &out, &e), 0, "%s", e.message);
	cr_expect(all_a(&out, 66560));
	/* Any split, down to one byte at a time, gives the same payload. */
	for (unsigned seed = 1; seed <= 12; seed++) {
		int max = seed == 12 ? -1 : (int)(seed * seed * 97 % 5000) + 1;

		out.len = 0;
		cr_assert_eq(sigv4_body_new(&q.r, &a, secret, secret_len, &b, &e), 0);
		cr_expect_eq(feed_sliced(b, body, n, seed, max, &out, &e), 0, "seed %u: %s", seed,
			     e.message);
		cr_expect_eq(sigv4_body_finish(b, &e), 0, "seed %u: %s", seed, e.message);
		cr_expect(all_a(&out, 66560), "seed %u", seed);
		cr_expect_eq(sigv4_body_etag(b, etag), 0);
		sigv4_body_free(b);
	}
	/* The final CRLF may be missing at the very end. */
	free(body);
	n = chunked_body(&body, C1, C2, C3, "");
	out.len = 0;
	cr_expect_eq(run_body(&q, &a, body, n, &out, &e), 0, "%s", e.message);
	/* Signed chunks need the secret. */
	cr_expect_eq(sigv4_body_new(&q.r, &a, NULL, 0, &b, &e), -EACCES);
	free(body);
	free(out.p);
}

Test(sigv4, chunked_signature_refusals)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };
	char *body;
	size_t n;

	chunked_request(&q);
	cr_assert_eq(check(&q, T0, &a, &e), 0);
	/* A data byte changed: the first chunk's signature fails. */
	n = chunked_body(&body, C1, C2, C3, "\r\n");
	body[1000] = 'b';
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	free(body);
	/* Chunks swapped in signature order, or the final one replaced. */
	n = chunked_body(&body, C2, C1, C3, "\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	free(body);
	n = chunked_body(&body, C1, C2, C2, "\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	free(body);
	/* Another seed (another request's signature). */
	n = chunked_body(&body, C1, C2, C3, "\r\n");
	a.signature[0] ^= 1;
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	a.signature[0] ^= 1;
	/* The wrong secret. */
	{
		sigv4_body *b;

		cr_assert_eq(sigv4_body_new(&q.r, &a, (const uint8_t *)"nope", 4, &b, &e), 0);
		expect_err(sigv4_body_feed(b, body, n, sink, &out, &e), &e, -EACCES, 403,
			   "SignatureDoesNotMatch");
		/* Dead after an error: the same answer, no more output. */
		out.calls = 0;
		expect_err(sigv4_body_feed(b, "x", 1, sink, &out, &e), &e, -EACCES, 403,
			   "SignatureDoesNotMatch");
		expect_err(sigv4_body_finish(b, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
		cr_expect_eq(out.calls, 0);
		sigv4_body_free(b);
	}
	free(body);
	free(out.p);
}

/* Framing errors on a small unsigned-trailer body (STREAMING-UNSIGNED-
 * PAYLOAD-TRAILER, the JS SDK's streaming form). */
static void unsigned_request(struct req *q, const char *decoded, const char *trailer)
{
	req_init(q, "PUT", "/b/k");
	hdr(q, "Host", "h");
	hdr(q, "x-amz-date", "20130524T000000Z");
	hdr(q, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
	hdr(q, "Content-Encoding", "aws-chunked");
	hdr(q, "x-amz-decoded-content-length", decoded);
	if (trailer) {
		hdr(q, "x-amz-trailer", trailer);
		sign(q, "content-encoding;host;x-amz-content-sha256;x-amz-date;"
			"x-amz-decoded-content-length;x-amz-trailer");
	} else {
		sign(q, "content-encoding;host;x-amz-content-sha256;x-amz-date;"
			"x-amz-decoded-content-length");
	}
}

static int run_unsigned(const char *decoded, const char *trailer, const char *body,
			struct sinkbuf *out, struct sigv4_error *e)
{
	struct req q;
	struct sigv4_auth a;
	int rc;

	unsigned_request(&q, decoded, trailer);
	rc = check(&q, T0, &a, e);
	cr_assert_eq(rc, 0, "%s", e->message);
	out->len = 0;
	return run_body(&q, &a, body, strlen(body), out, e);
}

Test(sigv4, unsigned_trailer_and_framing)
{
	struct sinkbuf out = { 0 };
	struct sigv4_error e;
	uint8_t crc[4];
	char b64[16], body[256];
	wcrypto_digest *d;

	cr_assert_eq(wcrypto_digest_new(WCRYPTO_DIGEST_CRC32, &d), 0);
	cr_assert_eq(wcrypto_digest_update(d, "hello world!", 12), 0);
	cr_assert_eq(wcrypto_digest_final(d, crc, 4), 0);
	wcrypto_digest_free(d);
	wcrypto_b64(b64, crc, 4);
	/* The JS SDK's form, with a chunk extension and LF-only trailer. */
	snprintf(body, sizeof(body), "6;ext=1\r\nhello \r\n6\r\nworld!\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64);
	cr_expect_eq(run_unsigned("12", "x-amz-checksum-crc32", body, &out, &e), 0, "%s", e.message);
	cr_expect_eq(out.len, 12);
	cr_expect_eq(memcmp(out.p, "hello world!", 12), 0);
	snprintf(body, sizeof(body), "C\r\nhello world!\r\n0\r\n\r\nX-Amz-Checksum-CRC32 : %s\n\n", b64);
	cr_expect_eq(run_unsigned("12", "x-amz-checksum-crc32", body, &out, &e), 0, "%s", e.message);
	/* No trailer announced: "0" then the empty line. */
	cr_expect_eq(run_unsigned("12", NULL, "c\r\nhello world!\r\n0\r\n\r\n", &out, &e), 0);
	cr_expect_eq(run_unsigned("0", NULL, "0\r\n\r\n", &out, &e), 0);
	cr_expect_eq(out.len, 0);
	/* A wrong checksum: BadDigest; a bad base64 value: InvalidRequest. */
	snprintf(body, sizeof(body), "c\r\nhello world?\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64);
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", body, &out, &e), &e, -EINVAL, 400, "BadDigest");
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", "c\r\nhello world!\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n", &out, &e),
		   &e, -EINVAL, 400, "InvalidRequest");
	/* Framing. */
	static const struct { const char *decoded, *body; int rc; const char *code; } bad[] = {
		{ "12", "zz\r\nhello world!\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "\r\nhello world!\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "c x\r\nhello world!\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "0000000000000000c\r\nhello world!\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "d\r\nhello world!!\r\n0\r\n\r\n", -EINVAL, "InvalidArgument" },
		{ "12", "ffffffffffffffff\r\nhello", -EINVAL, "InvalidArgument" },
		{ "12", "b\r\nhello world\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "c\r\nhello world!XX0\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "c\r\nhello world!\r\n", -EINVAL, "IncompleteBody" },        /* no final chunk */
		{ "12", "c\r\nhello wor", -EINVAL, "IncompleteBody" },               /* cut in data */
		{ "12", "c\r\nhello world!\r\n0\r\n\r\nmore", -EINVAL, "IncompleteBody" },
		{ "12", "c\r\nhello world!\r\n0\r\nx\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "c\r\nhello world!\r\n0\r\n\r\n\r\n", -EINVAL, "IncompleteBody" },
		{ "12", "c\r\nhel\001o world!\r\n0\r\n\r\n", 0, NULL },             /* data is data */
		{ "12", "c\001\r\nhello world!\r\n0\r\n\r\n", -EINVAL, "IncompleteBody" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = run_unsigned(bad[i].decoded, NULL, bad[i].body, &out, &e);

		cr_expect_eq(rc, bad[i].rc, "case %zu: %d %s", i, rc, rc ? e.code : "");
		if (bad[i].code && rc == bad[i].rc)
			cr_expect_str_eq(e.code, bad[i].code, "case %zu", i);
	}
	/* Trailer problems. */
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", "c\r\nhello world!\r\n0\r\n\r\n\r\n", &out, &e),
		   &e, -EINVAL, 400, "IncompleteBody");                      /* missing */
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", "c\r\nhello world!\r\n0\r\n", &out, &e),
		   &e, -EINVAL, 400, "IncompleteBody");                      /* ends early */
	snprintf(body, sizeof(body), "c\r\nhello world!\r\n0\r\nx-amz-checksum-sha1:%s\r\n\r\n", b64);
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", body, &out, &e), &e, -EINVAL, 400,
		   "IncompleteBody");                                        /* another one */
	snprintf(body, sizeof(body), "c\r\nhello world!\r\n0\r\nx-amz-checksum-crc32:%s\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64, b64);
	expect_err(run_unsigned("12", "x-amz-checksum-crc32", body, &out, &e), &e, -EINVAL, 400,
		   "IncompleteBody");                                        /* twice */
	/* Unsupported trailer algorithm. */
	expect_err(run_unsigned("12", "x-amz-checksum-crc64nvme", "0\r\n\r\n", &out, &e), &e, -EINVAL,
		   400, "InvalidRequest");
	/* A line longer than SIGV4_LINE_MAX. */
	{
		char *big = malloc(SIGV4_LINE_MAX + 16);

		memset(big, '0', SIGV4_LINE_MAX + 8);
		big[SIGV4_LINE_MAX + 8] = '\0';
		expect_err(run_unsigned("0", NULL, big, &out, &e), &e, -EINVAL, 400, "IncompleteBody");
		free(big);
	}
	free(out.p);
}

/* ---- the chunked upload with a signed trailer (sigv4-streaming-trailers) */

#define TSEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define T1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define T2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define T3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TSIG "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

/* The example's verified seed, as sigv4_parse + sigv4_verify would give. */
static void trailer_auth(struct sigv4_auth *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = SIGV4_HEADER;
	strcpy(a->access_key, AK);
	strcpy(a->scope_date, "20130524");
	strcpy(a->region, "us-east-1");
	strcpy(a->service, "s3");
	strcpy(a->amz_date, "20130524T000000Z");
	a->time = T0;
	cr_assert_eq(wcrypto_unhex(a->signature, 32, TSEED, 64), 0);
	a->payload = SIGV4_PAYLOAD_STREAMING_TRAILER;
	a->decoded_length = 66560;
	strcpy(a->trailer, "x-amz-checksum-crc32c");
}

Test(sigv4, aws_chunked_signed_trailer)
{
	static const char *tails[] = {
		"\r\nx-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TSIG "\r\n\r\n",
		"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TSIG "\r\n\r\n",
		"x-amz-checksum-crc32c:sOO8/Q==\nx-amz-trailer-signature:" TSIG "\r\n",
		"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" TSIG,
	};
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };
	char *body;
	size_t n;
	sigv4_body *b;
	const char *name;
	char b64[45];

	req_init(&q, "PUT", "/examplebucket/chunkObject.txt");
	trailer_auth(&a);
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		n = chunked_body(&body, T1, T2, T3, tails[t]);
		for (unsigned seed = 0; seed < 4; seed++) {
			out.len = 0;
			cr_assert_eq(sigv4_body_new(&q.r, &a, secret, secret_len, &b, &e), 0);
			cr_expect_eq(feed_sliced(b, body, n, seed + 1, seed ? (int)(seed * 777) : 1 << 20,
						 &out, &e), 0, "tail %zu: %s", t, e.message);
			cr_expect_eq(sigv4_body_finish(b, &e), 0, "tail %zu seed %u: %s", t, seed, e.message);
			cr_expect(all_a(&out, 66560));
			cr_assert_eq(sigv4_body_checksum(b, &name, b64), 0);
			cr_expect_str_eq(name, "x-amz-checksum-crc32c");
			cr_expect_str_eq(b64, "sOO8/Q==");
			sigv4_body_free(b);
		}
		free(body);
	}
	/* Another trailer value: its signature fails (before the CRC). */
	n = chunked_body(&body, T1, T2, T3,
			 "x-amz-checksum-crc32c:sOO8/A==\r\nx-amz-trailer-signature:" TSIG "\r\n\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	free(body);
	/* No trailer signature. */
	n = chunked_body(&body, T1, T2, T3, "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EINVAL, 400, "IncompleteBody");
	free(body);
	/* The signature before the value. */
	n = chunked_body(&body, T1, T2, T3,
			 "x-amz-trailer-signature:" TSIG "\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EINVAL, 400, "IncompleteBody");
	free(body);
	/* A trailer-mode body must not use the no-trailer chain: the first
	 * example's chunk signatures fail here. */
	n = chunked_body(&body, C1, C2, C3, "\r\n");
	expect_err(run_body(&q, &a, body, n, &out, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");
	free(body);
	free(out.p);
}

/* ---- Content-MD5 and x-amz-checksum-* headers on plain bodies -------- */

static int plain(const char *hname, const char *hvalue, const char *h2name, const char *h2value,
		 const char *data, struct sigv4_error *e, char b64out[45], const char **nameout)
{
	struct req q;
	struct sigv4_auth a;
	struct sinkbuf out = { 0 };
	sigv4_body *b;
	int rc;

	req_init(&q, "PUT", "/b/k");
	hdr(&q, "Host", "h");
	if (hname)
		hdr(&q, hname, hvalue);
	if (h2name)
		hdr(&q, h2name, h2value);
	cr_assert_eq(sigv4_parse(&q.r, &a, e), 0);    /* anonymous is enough here */
	rc = sigv4_body_new(&q.r, &a, NULL, 0, &b, e);
	if (rc < 0)
		return rc;
	rc = sigv4_body_feed(b, data, strlen(data), sink, &out, e);
	if (rc == 0)
		rc = sigv4_body_finish(b, e);
	if (rc == 0 && b64out) {
		int k = sigv4_body_checksum(b, nameout, b64out);

		cr_assert(k == 0 || k == -ENOENT);
		if (k == -ENOENT)
			b64out[0] = '\0';
	}
	sigv4_body_free(b);
	free(out.p);
	return rc;
}

Test(sigv4, content_md5_and_checksums)
{
	struct sigv4_error e;
	char b64[45];
	const char *name = NULL;
	/* md5("abc") = 900150983cd24fb0d6963f7d28e17f72 */
	const char *md5 = "kAFQmDzST7DWlj99KOF/cg==";
	/* sha256("abc") */
	const char *sha = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
	/* sha1("abc") */
	const char *sha1 = "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=";
	/* crc32c("123456789") = e3069283, crc32("123456789") = cbf43926 */

	cr_expect_eq(plain("Content-MD5", md5, NULL, NULL, "abc", &e, b64, &name), 0);
	cr_expect_str_eq(b64, "");
	expect_err(plain("Content-MD5", md5, NULL, NULL, "abd", &e, NULL, NULL), &e, -EINVAL, 400,
		   "BadDigest");
	expect_err(plain("Content-MD5", "kAFQmDzST7DWlj99KOF/cg", NULL, NULL, "abc", &e, NULL, NULL),
		   &e, -EINVAL, 400, "InvalidDigest");
	expect_err(plain("Content-MD5", "900150983cd24fb0d6963f7d28e17f72", NULL, NULL, "abc", &e, NULL,
			 NULL), &e, -EINVAL, 400, "InvalidDigest");
	expect_err(plain("Content-MD5", md5, "content-md5", md5, "abc", &e, NULL, NULL), &e, -EINVAL,
		   400, "InvalidDigest");
	cr_expect_eq(plain("x-amz-checksum-sha256", sha, NULL, NULL, "abc", &e, b64, &name), 0);
	cr_expect_str_eq(name, "x-amz-checksum-sha256");
	cr_expect_str_eq(b64, sha);
	cr_expect_eq(plain("X-Amz-Checksum-SHA1", sha1, "Content-MD5", md5, "abc", &e, b64, &name), 0);
	cr_expect_str_eq(b64, sha1);
	cr_expect_eq(plain("x-amz-checksum-crc32c", "4waSgw==", NULL, NULL, "123456789", &e, b64, &name), 0);
	cr_expect_str_eq(name, "x-amz-checksum-crc32c");
	cr_expect_eq(plain("x-amz-checksum-crc32", "y/Q5Jg==", NULL, NULL, "123456789", &e, b64, &name), 0);
	cr_expect_str_eq(b64, "y/Q5Jg==");
	/* The SDK's algorithm header is not a checksum. */
	cr_expect_eq(plain("x-amz-checksum-crc32", "y/Q5Jg==", "x-amz-sdk-checksum-algorithm", "CRC32",
			   "123456789", &e, b64, &name), 0);
	cr_expect_eq(plain("x-amz-checksum-algorithm", "CRC32", NULL, NULL, "x", &e, b64, &name), 0);
	expect_err(plain("x-amz-checksum-crc32", "y/Q5Jg==", NULL, NULL, "123456780", &e, NULL, NULL),
		   &e, -EINVAL, 400, "BadDigest");
	expect_err(plain("x-amz-checksum-crc32", "y/Q5Jg=", NULL, NULL, "123456789", &e, NULL, NULL),
		   &e, -EINVAL, 400, "InvalidRequest");
	expect_err(plain("x-amz-checksum-sha256", md5, NULL, NULL, "abc", &e, NULL, NULL), &e, -EINVAL,
		   400, "InvalidRequest");   /* 16 bytes, not 32 */
	expect_err(plain("x-amz-checksum-crc32", "y/Q5Jg==", "x-amz-checksum-sha256", sha, "abc", &e,
			 NULL, NULL), &e, -EINVAL, 400, "InvalidRequest");
	expect_err(plain("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=", NULL, NULL, "abc", &e, NULL, NULL),
		   &e, -EINVAL, 400, "InvalidRequest");
	/* A trailer announced on a plain body. */
	expect_err(plain("x-amz-trailer", "x-amz-checksum-crc32", NULL, NULL, "abc", &e, NULL, NULL),
		   &e, -EINVAL, 400, "InvalidRequest");
}

Test(sigv4, sink_failure_is_sticky)
{
	struct req q;
	struct sigv4_auth a;
	struct sigv4_error e;
	struct sinkbuf out = { .fail_at = 2 };
	sigv4_body *b;

	req_init(&q, "PUT", "/b/k");
	hdr(&q, "Host", "h");
	cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
	cr_assert_eq(sigv4_body_new(&q.r, &a, NULL, 0, &b, &e), 0);
	cr_expect_eq(sigv4_body_feed(b, "a", 1, sink, &out, &e), 0);
	cr_expect_eq(sigv4_body_feed(b, "b", 1, sink, &out, &e), -ENOSPC);
	cr_expect_eq(e.status, 500);
	cr_expect_eq(sigv4_body_feed(b, "c", 1, sink, &out, &e), -ENOSPC);
	cr_expect_eq(sigv4_body_finish(b, &e), -ENOSPC);
	cr_expect_eq(out.calls, 2);
	sigv4_body_free(b);
	free(out.p);
	sigv4_body_free(NULL);
}

Test(sigv4, multipart_etag)
{
	uint8_t md5s[2][16];
	uint8_t both[32], h[16];
	char out[44], hex[33];

	wcrypto_random(md5s, sizeof(md5s));
	memcpy(both, md5s, 32);
	{
		wcrypto_digest *d;

		cr_assert_eq(wcrypto_digest_new(WCRYPTO_DIGEST_MD5, &d), 0);
		cr_assert_eq(wcrypto_digest_update(d, both, 32), 0);
		cr_assert_eq(wcrypto_digest_final(d, h, 16), 0);
		wcrypto_digest_free(d);
	}
	wcrypto_hex(hex, h, 16);
	cr_assert_eq(sigv4_multipart_etag((const uint8_t (*)[16])md5s, 2, out), 0);
	cr_expect_eq(strncmp(out, hex, 32), 0);
	cr_expect_str_eq(out + 32, "-2");
	cr_expect_eq(sigv4_multipart_etag((const uint8_t (*)[16])md5s, 0, out), -EINVAL);
	cr_expect_eq(sigv4_multipart_etag((const uint8_t (*)[16])md5s, 10001, out), -EINVAL);
	{
		uint8_t (*many)[16] = calloc(10000, 16);

		cr_assert_eq(sigv4_multipart_etag((const uint8_t (*)[16])many, 10000, out), 0);
		cr_expect_str_eq(out + 32, "-10000");
		free(many);
	}
}

/* ---- requests of a real client ----------------------------------------
 * Captured here from Debian's botocore 1.29.27 (put_object with an awkward
 * key, metadata with a double blank, lock headers and Content-MD5;
 * list_objects_v2 with encoded query values; an s3v4 presigned GET), clock
 * fixed at 2026-12-07T01:02:03Z, secret "secret/with+chars=ok". */
#define BT 1796605323
#define BSECRET "secret/with+chars=ok"
#define BCRED "AKIDEXAMPLE00000001/20261207/us-east-1/s3/aws4_request"

static int boto_check(struct req *q, struct sigv4_error *e)
{
	struct sigv4_auth a;
	int rc = sigv4_parse(&q->r, &a, e);

	if (rc < 0)
		return rc;
	cr_expect_str_eq(a.access_key, "AKIDEXAMPLE00000001");
	return sigv4_verify(&q->r, &a, (const uint8_t *)BSECRET, sizeof(BSECRET) - 1, "us-east-1",
			    BT + 5, e);
}

Test(sigv4, botocore_requests)
{
	struct req q;
	struct sigv4_error e;

	req_init(&q, "PUT", "/b1/dir/a%20b%2Bc~d%21e%28f%29%2A%27%C3%A9%25.txt");
	hdr(&q, "x-amz-meta-x", "y  z");
	hdr(&q, "x-amz-object-lock-mode", "GOVERNANCE");
	hdr(&q, "x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z");
	hdr(&q, "User-Agent", "Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v1272 awscrt/1.0.0.dev0");
	hdr(&q, "Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==");
	hdr(&q, "Expect", "100-continue");
	hdr(&q, "host", "127.0.0.1:8000");
	hdr(&q, "X-Amz-Date", "20261207T010203Z");
	hdr(&q, "x-amz-content-sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" BCRED ", SignedHeaders=content-md5;host;"
		"x-amz-content-sha256;x-amz-date;x-amz-meta-x;x-amz-object-lock-mode;"
		"x-amz-object-lock-retain-until-date, Signature=54da00f8ae8c92c2ef6d899e6c66fadd5594d2529df16404c0b9588f72eb8c8f");
	hdr(&q, "amz-sdk-invocation-id", "cc2ab720-c15a-4b42-baa8-5dac613d8364");
	hdr(&q, "amz-sdk-request", "attempt=1");
	hdr(&q, "Content-Length", "5");
	cr_expect_eq(boto_check(&q, &e), 0, "put: %s", e.message);
	{
		struct sigv4_auth a;
		struct sinkbuf out = { 0 };

		cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
		cr_expect_eq(run_body(&q, &a, "hello", 5, &out, &e), 0, "%s", e.message);
		expect_err(run_body(&q, &a, "hellO", 5, &out, &e), &e, -EINVAL, 400,
			   "XAmzContentSHA256Mismatch");
		free(out.p);
	}
	/* A changed lock date (signed) breaks it. */
	q.h[2].value = "2031-01-01T00:00:00Z";
	expect_err(boto_check(&q, &e), &e, -EACCES, 403, "SignatureDoesNotMatch");

	req_init(&q, "GET", "/b1?list-type=2&prefix=a%20b%2F&delimiter=%2F&max-keys=7&start-after=x%3Dy%26z&encoding-type=url");
	hdr(&q, "User-Agent", "Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v1272 awscrt/1.0.0.dev0");
	hdr(&q, "host", "127.0.0.1:8000");
	hdr(&q, "X-Amz-Date", "20261207T010203Z");
	hdr(&q, "x-amz-content-sha256", EMPTY_SHA);
	hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=" BCRED ", SignedHeaders=host;x-amz-content-sha256;"
		"x-amz-date, Signature=6d573b9097a170f20b92f148b45cb697ffd2a28c575ec803878948fd204146d3");
	hdr(&q, "amz-sdk-invocation-id", "5334466b-38ac-42df-b740-2f2e7c57ac6d");
	hdr(&q, "amz-sdk-request", "attempt=1");
	cr_expect_eq(boto_check(&q, &e), 0, "list: %s", e.message);

	req_init(&q, "GET", "/b1/k%20y/z?versionId=v%3D1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
		 "AKIDEXAMPLE00000001%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T010203Z"
		 "&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature="
		 "b610e6fddbacd34c6f343b1fb77c6c82bcde51dd0fc6fa68ea49cb672ccc0638");
	hdr(&q, "Host", "127.0.0.1:8000");
	cr_expect_eq(boto_check(&q, &e), 0, "presigned: %s", e.message);
	/* botocore 1.29 presigns with SigV2 unless told s3v4: refused. */
	req_init(&q, "GET", "/b1/k%20y/z?AWSAccessKeyId=AKIDEXAMPLE00000001&Signature=c2u%2FfkkDzu1HITPwUcwVTo2H6aY%3D&Expires=1796610074");
	hdr(&q, "Host", "127.0.0.1:8000");
	expect_err(boto_check(&q, &e), &e, -EINVAL, 400, "InvalidRequest");
}

/* ---- derived keys kept by the caller ---------------------------------- */

Test(sigv4, derived_key)
{
	struct req q;
	struct sigv4_auth a, a2;
	struct sigv4_error e;
	struct sinkbuf out = { 0 };
	sigv4_key *k, *other;
	sigv4_body *b;
	char *body;
	size_t n;

	get_object(&q);
	cr_assert_eq(sigv4_parse(&q.r, &a, &e), 0);
	cr_assert_eq(sigv4_key_new(secret, secret_len, &a, &k), 0);
	cr_expect_eq(sigv4_key_fits(k, &a), 1);
	cr_expect_eq(sigv4_verify_key(&q.r, &a, k, "us-east-1", T0, &e), 0, "%s", e.message);
	expect_err(sigv4_verify_key(&q.r, &a, k, "us-east-1", T0 + 901, &e), &e, -EACCES, 403,
		   "RequestTimeTooSkewed");
	/* Another secret's key: the signature fails. */
	cr_assert_eq(sigv4_key_new((const uint8_t *)"other", 5, &a, &other), 0);
	expect_err(sigv4_verify_key(&q.r, &a, other, NULL, T0, &e), &e, -EACCES, 403,
		   "SignatureDoesNotMatch");
	sigv4_key_free(other);
	/* The same key for the chunked upload (same scope): verify and the
	 * signed chunks. */
	chunked_request(&q);
	cr_assert_eq(sigv4_parse(&q.r, &a2, &e), 0);
	cr_expect_eq(sigv4_key_fits(k, &a2), 1);
	cr_expect_eq(sigv4_verify_key(&q.r, &a2, k, NULL, T0, &e), 0, "%s", e.message);
	n = chunked_body(&body, C1, C2, C3, "\r\n");
	cr_assert_eq(sigv4_body_new_key(&q.r, &a2, k, &b, &e), 0);
	cr_expect_eq(sigv4_body_feed(b, body, n, sink, &out, &e), 0, "%s", e.message);
	cr_expect_eq(sigv4_body_finish(b, &e), 0, "%s", e.message);
	cr_expect(all_a(&out, 66560));
	sigv4_body_free(b);
	free(body);
	/* Another day, region or access key: the key does not fit. */
	strcpy(a2.scope_date, "20130525");
	cr_expect_eq(sigv4_key_fits(k, &a2), 0);
	expect_err(sigv4_verify_key(&q.r, &a2, k, NULL, T0, &e), &e, -ESTALE, 500, "InternalError");
	expect_err(sigv4_body_new_key(&q.r, &a2, k, &b, &e), &e, -ESTALE, 500, "InternalError");
	strcpy(a2.scope_date, "20130524");
	strcpy(a2.access_key, "AKIAOTHER");
	cr_expect_eq(sigv4_key_fits(k, &a2), 0);
	sigv4_key_free(k);
	sigv4_key_free(NULL);
	/* No key for an anonymous request. */
	a2.kind = SIGV4_ANONYMOUS;
	cr_expect_eq(sigv4_key_new(secret, secret_len, &a2, &k), -EINVAL);
	cr_expect_null(k);
	free(out.p);
}
