/* sigv4: reading the authentication of a request (Authorization header or
 * presigned query) and verifying it against a secret and a time. */
#include "sigv4.h"
#include "sigv4_priv.h"
#include "crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define E400 400
#define E403 403

static const char M_SIGV4_ONLY[] =
	"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.";
static const char M_HDR_MALFORMED[] = "The authorization header is malformed.";
static const char M_QUERY_MALFORMED[] =
	"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
	"X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYYMMDDTHHMMSSZ" to Unix seconds: 0 or -EINVAL. */
static int parse_amz_date(const char *s, size_t n, int64_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, se;

	if (n != 16 || !is_digits(s, 8) || s[8] != 'T' || !is_digits(s + 9, 6) || s[15] != 'Z')
		return -EINVAL;
	y = num(s, 4);
	mo = num(s + 4, 2);
	d = num(s + 6, 2);
	h = num(s + 9, 2);
	mi = num(s + 11, 2);
	se = num(s + 13, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	if (se == 60)
		se = 59;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

/* Copy s[0..n) into dst[cap] with a NUL: -1 if it does not fit or is empty. */
static int field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* "AKID/YYYYMMDD/region/service/aws4_request" into a. */
static int parse_credential(struct sigv4_auth *a, const char *s, size_t n)
{
	const char *part[5];
	size_t plen[5], k = 0, i, start = 0;

	for (i = 0; i <= n && k < 5; i++) {
		if (i == n || s[i] == '/') {
			part[k] = s + start;
			plen[k++] = i - start;
			start = i + 1;
		}
	}
	if (k != 5 || i != n + 1)
		return -1;
	if (plen[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0)
		return -1;
	if (plen[1] != 8 || !is_digits(part[1], 8))
		return -1;
	for (i = 0; i < plen[0]; i++) {
		char c = part[0][i];

		/* Access key ids are printable ASCII without blanks. */
		if (c <= ' ' || c > '~')
			return -1;
	}
	if (field(a->access_key, sizeof(a->access_key), part[0], plen[0]) ||
	    field(a->scope_date, sizeof(a->scope_date), part[1], plen[1]) ||
	    field(a->region, sizeof(a->region), part[2], plen[2]) ||
	    field(a->service, sizeof(a->service), part[3], plen[3]))
		return -1;
	return 0;
}

/* Lowercase names of [a-z0-9-_.], ';'-separated, strictly ascending, host
 * among them. */
static int parse_signed_headers(struct sigv4_auth *a, const char *s, size_t n)
{
	size_t i, start = 0;
	int host = 0;
	const char *prev = NULL;
	size_t prevlen = 0;

	if (field(a->signed_headers, sizeof(a->signed_headers), s, n))
		return -1;
	for (i = 0; i <= n; i++) {
		size_t len;

		if (i < n && s[i] != ';') {
			char c = s[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '_' || c == '.'))
				return -1;
			continue;
		}
		len = i - start;
		if (len == 0)
			return -1;
		if (prev) {
			size_t m = prevlen < len ? prevlen : len;
			int c = memcmp(prev, s + start, m);

			if (c > 0 || (c == 0 && prevlen >= len))
				return -1;
		}
		if (len == 4 && memcmp(s + start, "host", 4) == 0)
			host = 1;
		prev = s + start;
		prevlen = len;
		start = i + 1;
	}
	return host ? 0 : -1;
}

static int header_is_signed(const struct sigv4_auth *a, const char *name)
{
	const char *sh = a->signed_headers;
	size_t nl = strlen(name);

	for (;;) {
		const char *end = strchr(sh, ';');
		size_t len = end ? (size_t)(end - sh) : strlen(sh), k;

		if (len == nl) {
			for (k = 0; k < nl; k++) {
				char c = name[k];

				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				if (c != sh[k])
					break;
			}
			if (k == nl)
				return 1;
		}
		if (!end)
			return 0;
		sh = end + 1;
	}
}

/* The value of query parameter name (exact, case-sensitive) in the raw
 * query q, still percent-encoded; NULL if absent. count: occurrences. */
static const char *query_param(const char *q, const char *name, size_t *len, int *count)
{
	const char *found = NULL;
	size_t nl = strlen(name);

	*count = 0;
	*len = 0;
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q);

		if (plen >= nl && memcmp(q, name, nl) == 0 && (plen == nl || q[nl] == '=')) {
			if ((*count)++ == 0) {
				found = plen == nl ? q + nl : q + nl + 1;
				*len = plen == nl ? 0 : plen - nl - 1;
			}
		}
		if (!amp)
			break;
		q = amp + 1;
	}
	return found;
}

/* Percent-decode s[0..n) into out[cap] (NUL-terminated): -1 if too long. */
static int pct_decode(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		uint8_t byte;

		if (c == '%' && i + 2 < n && wcrypto_unhex(&byte, 1, s + i + 1, 2) == 0) {
			c = (char)byte;
			i += 2;
		}
		if (c == '\0' || o + 1 >= cap) {
			out[0] = '\0';
			return -1;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* x-amz-trailer, lowercased into a->trailer (sigv4_body_new checks it
 * fits the payload mode). */
static int parse_trailer(const struct sigv4_request *req, struct sigv4_auth *a,
			 struct sigv4_error *e)
{
	size_t n, cnt;
	const char *v = sv4_header(req, "x-amz-trailer", &n, &cnt);

	if (!v || n == 0)
		return 0;
	if (cnt > 1 || n > SIGV4_TRAILER_MAX)
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest",
				"The value specified in the x-amz-trailer header is not supported.");
	for (size_t i = 0; i < n; i++)
		a->trailer[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] - 'A' + 'a') : v[i];
	a->trailer[n] = '\0';
	return 0;
}

static int parse_payload(const struct sigv4_request *req, struct sigv4_auth *a,
			 struct sigv4_error *e)
{
	static const char M_BAD[] =
		"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
		"a valid sha256 value.";
	size_t n, cnt;
	const char *v = sv4_header(req, "x-amz-content-sha256", &n, &cnt);
	int streaming;

	if (cnt > 1)
		return sv4_fail(e, -EINVAL, E400, "InvalidArgument", M_BAD);
	if (!v) {
		if (a->kind == SIGV4_HEADER)
			return sv4_fail(e, -EINVAL, E400, "InvalidRequest",
					"Missing required header for this request: x-amz-content-sha256");
		a->payload = a->kind == SIGV4_PRESIGNED ? SIGV4_PAYLOAD_UNSIGNED : SIGV4_PAYLOAD_PLAIN;
		return parse_trailer(req, a, e);
	}
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(v, lit, n) == 0)
	if (IS("UNSIGNED-PAYLOAD"))
		a->payload = SIGV4_PAYLOAD_UNSIGNED;
	else if (IS("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"))
		a->payload = SIGV4_PAYLOAD_STREAMING;
	else if (IS("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"))
		a->payload = SIGV4_PAYLOAD_STREAMING_TRAILER;
	else if (IS("STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
		a->payload = SIGV4_PAYLOAD_UNSIGNED_TRAILER;
	else if (IS("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") ||
		 IS("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"))
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", M_SIGV4_ONLY);
	else if (wcrypto_unhex(a->payload_sha256, 32, v, n) == 0)
		a->payload = SIGV4_PAYLOAD_SHA256;
	else
		return sv4_fail(e, -EINVAL, E400, "InvalidArgument", M_BAD);
#undef IS
	streaming = a->payload >= SIGV4_PAYLOAD_STREAMING;
	/* Signed chunks chain from a header signature: not from a presigned
	 * URL and not without credentials. */
	if ((a->payload == SIGV4_PAYLOAD_STREAMING || a->payload == SIGV4_PAYLOAD_STREAMING_TRAILER) &&
	    a->kind != SIGV4_HEADER)
		return sv4_fail(e, -EINVAL, E400, "InvalidArgument", M_BAD);
	if (streaming) {
		const char *d = sv4_header(req, "x-amz-decoded-content-length", &n, &cnt);

		if (!d)
			return sv4_fail(e, -EMSGSIZE, 411, "MissingContentLength",
					"You must provide the Content-Length HTTP header.");
		if (cnt > 1 || n == 0 || n > 18 || !is_digits(d, n))
			return sv4_fail(e, -EINVAL, E400, "InvalidArgument",
					"x-amz-decoded-content-length is not a valid length.");
		a->decoded_length = 0;
		for (size_t i = 0; i < n; i++)
			a->decoded_length = a->decoded_length * 10 + (d[i] - '0');
	}
	return parse_trailer(req, a, e);
}

/* Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=... */
static int parse_header_auth(const struct sigv4_request *req, const char *v, size_t n,
			     struct sigv4_auth *a, struct sigv4_error *e)
{
	static const size_t alen = sizeof(SV4_ALGORITHM) - 1;
	const char *p, *end = v + n, *dv;
	int have_cred = 0, have_sh = 0, have_sig = 0;
	size_t dn, dcnt;

	if (n >= 4 && memcmp(v, "AWS ", 4) == 0)
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", M_SIGV4_ONLY);
	if (n >= 22 && memcmp(v, "AWS4-ECDSA-P256-SHA256", 22) == 0)
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", M_SIGV4_ONLY);
	if (n <= alen || memcmp(v, SV4_ALGORITHM, alen) != 0 || v[alen] != ' ')
		return sv4_fail(e, -EINVAL, E400, "InvalidArgument", "Unsupported Authorization Type");
	a->kind = SIGV4_HEADER;
	p = v + alen;
	/* Components separated by ',' with optional blanks, any order, each
	 * once. */
	while (p < end) {
		const char *c, *eq, *val;
		size_t cl, vl;

		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p == end)
			break;
		c = p;
		while (p < end && *p != ',')
			p++;
		cl = (size_t)(p - c);
		while (cl > 0 && c[cl - 1] == ' ')
			cl--;
		eq = memchr(c, '=', cl);
		if (!eq)
			return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed", M_HDR_MALFORMED);
		val = eq + 1;
		vl = cl - (size_t)(val - c);
		if ((size_t)(eq - c) == 10 && memcmp(c, "Credential", 10) == 0 && !have_cred) {
			if (parse_credential(a, val, vl))
				return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed",
						"The authorization header is malformed; the Credential is mal-formed.");
			have_cred = 1;
		} else if ((size_t)(eq - c) == 13 && memcmp(c, "SignedHeaders", 13) == 0 && !have_sh) {
			if (parse_signed_headers(a, val, vl))
				return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed",
						"The authorization header is malformed; SignedHeaders must be "
						"lowercase, sorted, separated by ';' and include host.");
			have_sh = 1;
		} else if ((size_t)(eq - c) == 9 && memcmp(c, "Signature", 9) == 0 && !have_sig) {
			if (wcrypto_unhex(a->signature, 32, val, vl))
				return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed",
						"The authorization header is malformed; the Signature is not 64 hex digits.");
			have_sig = 1;
		} else {
			return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed", M_HDR_MALFORMED);
		}
	}
	if (!have_cred || !have_sh || !have_sig)
		return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed", M_HDR_MALFORMED);
	dv = sv4_header(req, "x-amz-date", &dn, &dcnt);
	if (!dv || dcnt > 1 || parse_amz_date(dv, dn, &a->time))
		return sv4_fail(e, -EACCES, E403, "AccessDenied",
				"AWS authentication requires a valid Date or x-amz-date header");
	memcpy(a->amz_date, dv, 16);
	a->amz_date[16] = '\0';
	if (memcmp(a->scope_date, a->amz_date, 8) != 0)
		return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed",
				"Invalid credential date. Date is not the same as X-Amz-Date.");
	if (strcmp(a->service, "s3") != 0)
		return sv4_fail(e, -EINVAL, E400, "AuthorizationHeaderMalformed",
				"The authorization header is malformed; incorrect service. This endpoint belongs to \"s3\".");
	return 0;
}

static int parse_query_auth(const char *q, struct sigv4_auth *a, struct sigv4_error *e)
{
	static const char QE[] = "AuthorizationQueryParametersError";
	char buf[SIGV4_SIGNED_HEADERS_MAX + 256];
	const char *v;
	size_t n;
	int cnt;

	a->kind = SIGV4_PRESIGNED;
	v = query_param(q, "X-Amz-Algorithm", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (pct_decode(buf, sizeof(buf), v, n) || strcmp(buf, SV4_ALGORITHM) != 0) {
		if (strcmp(buf, "AWS4-ECDSA-P256-SHA256") == 0)
			return sv4_fail(e, -EINVAL, E400, "InvalidRequest", M_SIGV4_ONLY);
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
	}
	v = query_param(q, "X-Amz-Credential", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (pct_decode(buf, sizeof(buf), v, n) || parse_credential(a, buf, strlen(buf)))
		return sv4_fail(e, -EINVAL, E400, QE,
				"Error parsing the X-Amz-Credential parameter; the Credential is mal-formed.");
	v = query_param(q, "X-Amz-Date", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (pct_decode(buf, sizeof(buf), v, n) || parse_amz_date(buf, strlen(buf), &a->time))
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
	memcpy(a->amz_date, buf, 17);
	v = query_param(q, "X-Amz-Expires", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (pct_decode(buf, sizeof(buf), v, n) || buf[0] == '\0' || strlen(buf) > 9 ||
	    !is_digits(buf, strlen(buf)))
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-Expires should be a number");
	a->expires = 0;
	for (size_t i = 0; buf[i]; i++)
		a->expires = a->expires * 10 + (buf[i] - '0');
	if (a->expires > SIGV4_MAX_EXPIRES)
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-Expires must be less than a week (in seconds) that is 604800");
	v = query_param(q, "X-Amz-SignedHeaders", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (pct_decode(buf, sizeof(buf), v, n) || parse_signed_headers(a, buf, strlen(buf)))
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-SignedHeaders must be lowercase, sorted, separated by ';' and include host.");
	v = query_param(q, "X-Amz-Signature", &n, &cnt);
	if (!v || cnt != 1)
		return sv4_fail(e, -EINVAL, E400, QE, M_QUERY_MALFORMED);
	if (wcrypto_unhex(a->signature, 32, v, n))
		return sv4_fail(e, -EINVAL, E400, QE,
				"X-Amz-Signature must be 64 hex digits.");
	if (memcmp(a->scope_date, a->amz_date, 8) != 0)
		return sv4_fail(e, -EINVAL, E400, QE,
				"Invalid credential date. Date is not the same as X-Amz-Date.");
	if (strcmp(a->service, "s3") != 0)
		return sv4_fail(e, -EINVAL, E400, QE,
				"Error parsing the X-Amz-Credential parameter; incorrect service. This endpoint belongs to \"s3\".");
	return 0;
}

int sigv4_parse(const struct sigv4_request *req, struct sigv4_auth *a, struct sigv4_error *e)
{
	const char *t = req->target ? req->target : "";
	const char *q = strchr(t, '?');
	const char *hv;
	size_t hn, hcnt, pn;
	int qalg, qcred, qsig, v2key, v2sig, rc;

	memset(a, 0, sizeof(*a));
	a->decoded_length = -1;
	q = q ? q + 1 : NULL;
	hv = sv4_header(req, "authorization", &hn, &hcnt);
	(void)query_param(q, "X-Amz-Algorithm", &pn, &qalg);
	(void)query_param(q, "X-Amz-Credential", &pn, &qcred);
	(void)query_param(q, "X-Amz-Signature", &pn, &qsig);
	(void)query_param(q, "AWSAccessKeyId", &pn, &v2key);
	(void)query_param(q, "Signature", &pn, &v2sig);
	if (hv && (qalg || qcred || qsig))
		return sv4_fail(e, -EINVAL, E400, "InvalidArgument",
				"Only one auth mechanism allowed; only the X-Amz-Algorithm query "
				"parameter, Signature query string parameter or the Authorization "
				"header should be specified");
	if (hv) {
		if (hcnt > 1)
			return sv4_fail(e, -EINVAL, E400, "InvalidArgument",
					"Only one Authorization header is allowed");
		rc = parse_header_auth(req, hv, hn, a, e);
	} else if (qalg || qcred || qsig) {
		rc = parse_query_auth(q, a, e);
	} else if (v2key || v2sig) {
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", M_SIGV4_ONLY);
	} else {
		a->kind = SIGV4_ANONYMOUS;
		rc = 0;
	}
	if (rc < 0)
		return rc;
	/* Every x-amz-* header the request carries must be signed, or a
	 * relay could add one (a retention date, a legal hold). */
	if (a->kind != SIGV4_ANONYMOUS) {
		for (size_t i = 0; i < req->n_headers; i++) {
			const char *name = req->headers[i].name;

			if (strlen(name) > 6 && sv4_name_eq(name, 6, "x-amz-") &&
			    !header_is_signed(a, name))
				return sv4_fail(e, -EACCES, E403, "AccessDenied",
						"There were headers present in the request which were not signed");
		}
	}
	return parse_payload(req, a, e);
}

static int check_region(const struct sigv4_auth *a, const char *region, struct sigv4_error *e)
{
	if (region && strcmp(region, a->region) != 0)
		return sv4_fail(e, -EINVAL, E400,
				a->kind == SIGV4_HEADER ? "AuthorizationHeaderMalformed"
							: "AuthorizationQueryParametersError",
				"The authorization header is malformed; the region is wrong.");
	return 0;
}

static int check_time(const struct sigv4_auth *a, int64_t now, struct sigv4_error *e)
{
	if (a->kind == SIGV4_HEADER) {
		if (a->time > now + SIGV4_MAX_SKEW || now > a->time + SIGV4_MAX_SKEW)
			return sv4_fail(e, -EACCES, E403, "RequestTimeTooSkewed",
					"The difference between the request time and the current time is too large.");
		return 0;
	}
	if (a->time > now + SIGV4_MAX_SKEW)
		return sv4_fail(e, -EACCES, E403, "AccessDenied", "Request is not valid yet");
	if (now > a->time + a->expires)
		return sv4_fail(e, -EACCES, E403, "AccessDenied", "Request has expired");
	return 0;
}

int sigv4_check_scope(const struct sigv4_auth *a, const char *region, int64_t now,
		      struct sigv4_error *e)
{
	int rc;

	if (a->kind != SIGV4_HEADER && a->kind != SIGV4_PRESIGNED)
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", "The request is not signed.");
	rc = check_region(a, region, e);
	return rc ? rc : check_time(a, now, e);
}

/* The common part of sigv4_verify and sigv4_verify_key: the secret or the
 * derived key k. */
static int verify(const struct sigv4_request *req, const struct sigv4_auth *a,
		  const uint8_t *secret, size_t secret_len, const sigv4_key *k, const char *region,
		  int64_t now, struct sigv4_error *e)
{
	uint8_t sig[32];
	int rc, ok;

	if (a->kind != SIGV4_HEADER && a->kind != SIGV4_PRESIGNED)
		return sv4_fail(e, -EINVAL, E400, "InvalidRequest", "The request is not signed.");
	rc = check_region(a, region, e);
	if (rc < 0)
		return rc;
	if (k && !sigv4_key_fits(k, a))
		return sv4_fail(e, -ESTALE, 500, "InternalError",
				"The signing key does not fit the request.");
	rc = k ? sv4_signature_key(req, a, sv4_key_bytes(k), sig)
	       : sigv4_signature(req, a, secret, secret_len, sig);
	if (rc < 0)
		return sv4_fail(e, rc, 500, "InternalError", "We encountered an internal error. Please try again.");
	ok = wcrypto_equal(sig, a->signature, 32);
	wcrypto_wipe(sig, sizeof(sig));
	if (!ok)
		return sv4_fail(e, -EACCES, E403, "SignatureDoesNotMatch",
				"The request signature we calculated does not match the signature you "
				"provided. Check your key and signing method.");
	return check_time(a, now, e);
}

int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *a,
		 const uint8_t *secret, size_t secret_len, const char *region, int64_t now,
		 struct sigv4_error *e)
{
	return verify(req, a, secret, secret_len, NULL, region, now, e);
}

int sigv4_verify_key(const struct sigv4_request *req, const struct sigv4_auth *a,
		     const sigv4_key *k, const char *region, int64_t now, struct sigv4_error *e)
{
	return verify(req, a, NULL, 0, k, region, now, e);
}
