/* sigv4: the canonical request, the string to sign and the signing key.
 *
 * S3's canonical form: the path is percent-decoded and re-encoded once
 * (unreserved bytes kept, '/' kept, everything else %XX uppercase; no
 * dot-segment or slash normalization, S3 keys keep them); the query
 * parameters likewise, sorted by name then value, "name=" for a bare name,
 * X-Amz-Signature left out; each signed header lowercase with its values
 * trimmed, inner blank runs folded to one space, repeats joined by ','. */
#include "sigv4.h"
#include "sigv4_priv.h"
#include "crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; on ENOMEM it stays failed and the caller checks once. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *q;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_chr(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int sv4_name_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || lower(a[i]) != b[i])
			return 0;
	return b[alen] == '\0';
}

const char *sv4_header(const struct sigv4_request *req, const char *lname, size_t *len,
		       size_t *count)
{
	const char *found = NULL;
	size_t i, n = 0, flen = 0;

	for (i = 0; i < req->n_headers; i++) {
		const char *v = req->headers[i].value ? req->headers[i].value : "";
		size_t vl;

		if (!sv4_name_eq(req->headers[i].name, strlen(req->headers[i].name), lname))
			continue;
		if (n++ > 0)
			continue;
		while (is_blank(*v))
			v++;
		vl = strlen(v);
		while (vl > 0 && is_blank(v[vl - 1]))
			vl--;
		found = v;
		flen = vl;
	}
	if (len)
		*len = flen;
	if (count)
		*count = n;
	return found;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-decode s[0..n) and re-encode it the SigV4 way ('/' kept when
 * keep_slash). A '%' not followed by two hex digits is a literal '%'. */
static void sb_reencode(struct sbuf *b, const char *s, size_t n, int keep_slash)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int escaped = 0;
		char enc[3];
		uint8_t byte;

		if (c == '%' && i + 2 < n && wcrypto_unhex(&byte, 1, s + i + 1, 2) == 0) {
			c = byte;
			i += 2;
			escaped = 1;
		}
		/* A '/' the client escaped (%2F, part of a key) stays escaped:
		 * that is how it signed it. */
		if (unreserved(c) || (keep_slash && c == '/' && !escaped)) {
			sb_chr(b, (char)c);
			continue;
		}
		enc[0] = '%';
		enc[1] = hx[c >> 4];
		enc[2] = hx[c & 15];
		sb_add(b, enc, 3);
	}
}

struct qparam {
	char *name, *value;   /* canonical (re-encoded), malloc'd */
};

static int qparam_cmp(const void *x, const void *y)
{
	const struct qparam *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

static char *reencoded(const char *s, size_t n)
{
	struct sbuf b = { 0 };

	sb_add(&b, "", 0);
	sb_reencode(&b, s, n, 0);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The canonical query string of the raw query q[0..n) (presigned: without
 * X-Amz-Signature). */
static int canon_query(struct sbuf *out, const char *q, size_t n, int presigned)
{
	struct qparam *ps = NULL;
	size_t np = 0, cap = 0, i = 0, k;
	int rc = 0;

	while (i < n) {
		size_t j = i, eq;

		while (j < n && q[j] != '&')
			j++;
		if (j > i) {
			eq = i;
			while (eq < j && q[eq] != '=')
				eq++;
			if (presigned && eq - i == 15 && memcmp(q + i, "X-Amz-Signature", 15) == 0) {
				i = j + 1;
				continue;
			}
			if (np == cap) {
				struct qparam *g;

				cap = cap ? cap * 2 : 16;
				g = realloc(ps, cap * sizeof(*ps));
				if (!g) {
					rc = -ENOMEM;
					goto out;
				}
				ps = g;
			}
			ps[np].name = reencoded(q + i, eq - i);
			ps[np].value = reencoded(q + eq + (eq < j), eq < j ? j - eq - 1 : 0);
			np++;
			if (!ps[np - 1].name || !ps[np - 1].value) {
				rc = -ENOMEM;
				goto out;
			}
		}
		i = j + 1;
	}
	if (np > 1)
		qsort(ps, np, sizeof(*ps), qparam_cmp);
	for (k = 0; k < np; k++) {
		if (k)
			sb_chr(out, '&');
		sb_str(out, ps[k].name);
		sb_chr(out, '=');
		sb_str(out, ps[k].value);
	}
out:
	for (k = 0; k < np; k++) {
		free(ps[k].name);
		free(ps[k].value);
	}
	free(ps);
	return rc;
}

/* Append a header value trimmed, with blank runs folded to one space. */
static void sb_folded(struct sbuf *b, const char *v)
{
	size_t n;
	int blank = 0;

	while (is_blank(*v))
		v++;
	n = strlen(v);
	while (n > 0 && is_blank(v[n - 1]))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (is_blank(v[i])) {
			blank = 1;
			continue;
		}
		if (blank)
			sb_chr(b, ' ');
		blank = 0;
		sb_chr(b, v[i]);
	}
}

static int build_canonical(const struct sigv4_request *req, const struct sigv4_auth *a,
			   struct sbuf *b)
{
	const char *t = req->target ? req->target : "";
	const char *qm = strchr(t, '?');
	size_t plen = qm ? (size_t)(qm - t) : strlen(t);
	const char *sh = a->signed_headers, *pv;
	size_t pvlen;
	int rc;

	sb_str(b, req->method ? req->method : "");
	sb_chr(b, '\n');
	if (plen == 0)
		sb_chr(b, '/');
	else
		sb_reencode(b, t, plen, 1);
	sb_chr(b, '\n');
	if (qm) {
		rc = canon_query(b, qm + 1, strlen(qm + 1), a->kind == SIGV4_PRESIGNED);
		if (rc < 0)
			return rc;
	}
	sb_chr(b, '\n');
	/* Each signed header in the order signed (sigv4_parse checked it is
	 * ascending), every value of a repeated header joined by ','. */
	while (*sh) {
		const char *end = strchr(sh, ';');
		size_t nl = end ? (size_t)(end - sh) : strlen(sh);
		int first = 1;

		sb_add(b, sh, nl);
		sb_chr(b, ':');
		for (size_t i = 0; i < req->n_headers; i++) {
			const char *hn = req->headers[i].name;
			size_t hl = strlen(hn);

			if (hl != nl)
				continue;
			for (size_t k = 0; k < nl; k++)
				if (lower(hn[k]) != sh[k])
					goto next;
			if (!first)
				sb_chr(b, ',');
			first = 0;
			sb_folded(b, req->headers[i].value ? req->headers[i].value : "");
next:;
		}
		sb_chr(b, '\n');
		sh += nl + (end != NULL);
	}
	sb_chr(b, '\n');
	sb_str(b, a->signed_headers);
	sb_chr(b, '\n');
	/* The payload hash as the client sent it; a presigned URL without one
	 * signs the literal UNSIGNED-PAYLOAD. */
	pv = sv4_header(req, "x-amz-content-sha256", &pvlen, NULL);
	if (pv)
		sb_add(b, pv, pvlen);
	else
		sb_str(b, "UNSIGNED-PAYLOAD");
	return b->oom ? -ENOMEM : 0;
}

int sigv4_canonical_request(const struct sigv4_request *req, const struct sigv4_auth *auth,
			    char **out)
{
	struct sbuf b = { 0 };
	int rc;

	*out = NULL;
	if (auth->kind != SIGV4_HEADER && auth->kind != SIGV4_PRESIGNED)
		return -EINVAL;
	rc = build_canonical(req, auth, &b);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	return 0;
}

/* The credential scope "date/region/service/aws4_request". */
static void sv4_scope(const struct sigv4_auth *a, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s/%s/aws4_request", a->scope_date, a->region, a->service);
}

void sv4_signing_key(uint8_t *work, const uint8_t *secret, size_t secret_len,
		     const struct sigv4_auth *a)
{
	uint8_t *mid = work + 32, *k = work + 64;

	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, secret_len);
	wcrypto_hmac_sha256(mid, k, 4 + secret_len, a->scope_date, strlen(a->scope_date));
	wcrypto_hmac_sha256(mid, mid, 32, a->region, strlen(a->region));
	wcrypto_hmac_sha256(mid, mid, 32, a->service, strlen(a->service));
	wcrypto_hmac_sha256(work, mid, 32, "aws4_request", 12);
	wcrypto_wipe(mid, 32 + 4 + secret_len);
}

int sv4_signature_key(const struct sigv4_request *req, const struct sigv4_auth *auth,
		      const uint8_t key[32], uint8_t sig[32])
{
	struct sbuf cr = { 0 }, sts = { 0 };
	uint8_t h[32];
	char hex[65], scope[256];
	int rc;

	rc = build_canonical(req, auth, &cr);
	if (rc < 0)
		goto out;
	wcrypto_sha256(h, cr.p, cr.len);
	wcrypto_hex(hex, h, 32);
	sv4_scope(auth, scope, sizeof(scope));
	sb_str(&sts, SV4_ALGORITHM "\n");
	sb_str(&sts, auth->amz_date);
	sb_chr(&sts, '\n');
	sb_str(&sts, scope);
	sb_chr(&sts, '\n');
	sb_str(&sts, hex);
	if (sts.oom) {
		rc = -ENOMEM;
		goto out;
	}
	wcrypto_hmac_sha256(sig, key, 32, sts.p, sts.len);
out:
	free(cr.p);
	free(sts.p);
	return rc;
}

int sigv4_signature(const struct sigv4_request *req, const struct sigv4_auth *auth,
		    const uint8_t *secret, size_t secret_len, uint8_t sig[32])
{
	uint8_t *key;
	int rc;

	if (auth->kind != SIGV4_HEADER && auth->kind != SIGV4_PRESIGNED)
		return -EINVAL;
	key = wcrypto_secure_alloc(SV4_KEY_WORK(secret_len));
	if (!key)
		return -ENOMEM;
	sv4_signing_key(key, secret, secret_len, auth);
	rc = sv4_signature_key(req, auth, key, sig);
	wcrypto_secure_free(key);   /* wipes */
	return rc;
}

/* A derived key and what it was derived for. */
struct sigv4_key {
	uint8_t key[32];
	char access_key[SIGV4_ACCESS_KEY_MAX + 1];
	char scope_date[9];
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SERVICE_MAX + 1];
};

int sigv4_key_new(const uint8_t *secret, size_t secret_len, const struct sigv4_auth *auth,
		  sigv4_key **out)
{
	sigv4_key *k;
	uint8_t *work;

	*out = NULL;
	if (auth->kind != SIGV4_HEADER && auth->kind != SIGV4_PRESIGNED)
		return -EINVAL;
	k = wcrypto_secure_alloc(sizeof(*k));
	work = wcrypto_secure_alloc(SV4_KEY_WORK(secret_len));
	if (!k || !work) {
		wcrypto_secure_free(k);
		wcrypto_secure_free(work);
		return -ENOMEM;
	}
	memset(k, 0, sizeof(*k));
	sv4_signing_key(work, secret, secret_len, auth);
	memcpy(k->key, work, 32);
	wcrypto_secure_free(work);
	memcpy(k->access_key, auth->access_key, sizeof(k->access_key));
	memcpy(k->scope_date, auth->scope_date, sizeof(k->scope_date));
	memcpy(k->region, auth->region, sizeof(k->region));
	memcpy(k->service, auth->service, sizeof(k->service));
	*out = k;
	return 0;
}

void sigv4_key_free(sigv4_key *k)
{
	wcrypto_secure_free(k);   /* wipes; NULL ok */
}

int sigv4_key_fits(const sigv4_key *k, const struct sigv4_auth *auth)
{
	return strcmp(k->access_key, auth->access_key) == 0 &&
	       strcmp(k->scope_date, auth->scope_date) == 0 &&
	       strcmp(k->region, auth->region) == 0 && strcmp(k->service, auth->service) == 0;
}

const uint8_t *sv4_key_bytes(const sigv4_key *k)
{
	return k->key;
}

int sv4_chain_signature(uint8_t sig[32], const uint8_t key[32], const char *alg,
			const struct sigv4_auth *a, const uint8_t prev[32], const char *rest)
{
	char scope[256], prevhex[65];
	struct sbuf s = { 0 };

	sv4_scope(a, scope, sizeof(scope));
	wcrypto_hex(prevhex, prev, 32);
	sb_str(&s, alg);
	sb_chr(&s, '\n');
	sb_str(&s, a->amz_date);
	sb_chr(&s, '\n');
	sb_str(&s, scope);
	sb_chr(&s, '\n');
	sb_str(&s, prevhex);
	sb_chr(&s, '\n');
	sb_str(&s, rest);
	if (s.oom) {
		free(s.p);
		return -ENOMEM;
	}
	wcrypto_hmac_sha256(sig, key, 32, s.p, s.len);
	free(s.p);
	return 0;
}
