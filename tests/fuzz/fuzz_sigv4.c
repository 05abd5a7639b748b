/* fuzz_sigv4: the S3 request authentication and body decoding of the sigv4
 * module (src/sigv4_*.c), which read what any network client sends.
 *
 * Input: 4 control bytes (payload mode, slicing seed, trailer choice,
 * decoded length), then the request as text up to the first NUL
 * ("METHOD TARGET" then "name: value" lines), then the body. The request
 * goes through sigv4_parse, sigv4_verify (a fixed secret and time) and
 * sigv4_canonical_request; the body through a decoder of the chosen mode,
 * once whole and once in slices: both must give the same payload and the
 * same result (a difference aborts: a fuzzer finding). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sigv4.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)
#define MAXH 32

static const uint8_t SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct out {
	uint8_t *p;
	size_t len, cap;
};

static int sink(void *arg, const void *data, size_t len)
{
	struct out *o = arg;

	if (o->len + len > o->cap) {
		size_t cap = (o->len + len) * 2;
		uint8_t *p = realloc(o->p, cap);

		if (!p)
			return -ENOMEM;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, data, len);
	o->len += len;
	return 0;
}

static void request(char *text, struct sigv4_request *r, struct sigv4_header *h)
{
	char *line = text, *next, *sp;
	int first = 1;

	r->method = "GET";
	r->target = "/";
	r->headers = h;
	r->n_headers = 0;
	for (; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (first) {
			first = 0;
			sp = strchr(line, ' ');
			if (sp) {
				*sp = '\0';
				r->method = line;
				r->target = sp + 1;
			}
			continue;
		}
		sp = strchr(line, ':');
		if (!sp || r->n_headers == MAXH)
			continue;
		*sp = '\0';
		h[r->n_headers].name = line;
		h[r->n_headers].value = sp + 1;
		r->n_headers++;
	}
}

/* Decode body once whole and once in slices; compare. */
static void body(const struct sigv4_request *r, const struct sigv4_auth *a, const uint8_t *b,
		 size_t n, unsigned seed)
{
	sigv4_body *d1 = NULL, *d2 = NULL;
	struct sigv4_error e1, e2;
	struct out o1 = { 0 }, o2 = { 0 };
	int rc1, rc2, f1, f2;
	size_t off = 0;

	rc1 = sigv4_body_new(r, a, SECRET, sizeof(SECRET) - 1, &d1, &e1);
	rc2 = sigv4_body_new(r, a, SECRET, sizeof(SECRET) - 1, &d2, &e2);
	CHECK(rc1 == rc2);
	if (rc1 < 0)
		return;
	rc1 = sigv4_body_feed(d1, b, n, sink, &o1, &e1);
	f1 = sigv4_body_finish(d1, &e1);
	rc2 = 0;
	while (off < n && rc2 == 0) {
		size_t k = (seed = seed * 1103515245u + 12345u) >> 16 & 63;

		if (k > n - off)
			k = n - off;
		rc2 = sigv4_body_feed(d2, b + off, k, sink, &o2, &e2);
		off += k;
	}
	f2 = sigv4_body_finish(d2, &e2);
	/* Same verdict; the payload handed out up to an error may differ only
	 * in how far it got, so compare it only on success. */
	CHECK((rc1 == 0) == (rc2 == 0));
	CHECK(f1 == f2);
	if (rc1 == 0 && f1 == 0) {
		char t1[33], t2[33];

		CHECK(o1.len == o2.len && (o1.len == 0 || memcmp(o1.p, o2.p, o1.len) == 0));
		CHECK(sigv4_body_length(d1) == o1.len);
		CHECK(sigv4_body_etag(d1, t1) == 0 && sigv4_body_etag(d2, t2) == 0);
		CHECK(strcmp(t1, t2) == 0);
	} else if (rc1 == 0) {
		CHECK(strcmp(e1.code, e2.code) == 0);
	}
	sigv4_body_free(d1);
	sigv4_body_free(d2);
	free(o1.p);
	free(o2.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The daemon calls it at startup: secure memory needs it. */
	return wcrypto_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *trailers[] = { "", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
					  "x-amz-checksum-sha1", "x-amz-checksum-sha256" };
	struct sigv4_header h[MAXH];
	struct sigv4_request r;
	struct sigv4_auth a;
	struct sigv4_error e;
	const uint8_t *nul;
	char *text, *cr;
	size_t tlen;

	if (size < 4)
		return 0;
	nul = memchr(data + 4, '\0', size - 4);
	tlen = nul ? (size_t)(nul - data - 4) : size - 4;
	text = malloc(tlen + 1);
	if (!text)
		return 0;
	memcpy(text, data + 4, tlen);
	text[tlen] = '\0';
	request(text, &r, h);
	if (sigv4_parse(&r, &a, &e) == 0 && a.kind != SIGV4_ANONYMOUS) {
		(void)sigv4_verify(&r, &a, SECRET, sizeof(SECRET) - 1, NULL, 1369353600, &e);
		if (sigv4_canonical_request(&r, &a, &cr) == 0)
			free(cr);
	} else {
		/* A body of the chosen mode even when the headers do not parse:
		 * the decoder is the larger surface. */
		memset(&a, 0, sizeof(a));
		a.kind = SIGV4_HEADER;
		strcpy(a.scope_date, "20130524");
		strcpy(a.region, "us-east-1");
		strcpy(a.service, "s3");
		strcpy(a.amz_date, "20130524T000000Z");
		a.payload = data[0] % 6;
		a.decoded_length = data[3] * 97;
		strcpy(a.trailer, trailers[data[2] % 5]);
	}
	if (nul)
		body(&r, &a, nul + 1, size - (size_t)(nul + 1 - data), data[1]);
	free(text);
	return 0;
}
