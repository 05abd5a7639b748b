/* fuzz_s3_xml: the S3 front end's untrusted-input decoders that need no
 * server: the request-body XML (DeleteObjects, CreateBucketConfiguration,
 * CompleteMultipartUpload,
 * expat with every DTD refused), keys as paths, and routing (src/s3_xml.c,
 * s3_key.c, s3_route.c). The first byte picks the decoder. A parsed Delete
 * document is written back with the response escaper and parsed again: the
 * keys must come back byte for byte (a mismatch aborts). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void delete_doc(const char *d, size_t n)
{
	struct s3_delete_req r, r2;
	struct s3_buf b;

	if (s3_xml_parse_delete(d, n, &r))
		return;
	CHECK(r.nkeys >= 1 && r.nkeys <= S3_DELETE_MAX_KEYS);
	s3_buf_init(&b, 0);
	s3_buf_puts(&b, "<Delete>");
	if (r.quiet)
		s3_buf_puts(&b, "<Quiet>true</Quiet>");
	for (size_t i = 0; i < r.nkeys; i++) {
		size_t kl = strlen(r.keys[i]);
		CHECK(kl >= 1 && kl <= S3_KEY_MAX);
		s3_buf_puts(&b, "<Object>");
		s3_xml_elem(&b, "Key", r.keys[i]);
		s3_buf_puts(&b, "</Object>");
	}
	s3_buf_puts(&b, "</Delete>");
	CHECK(!b.failed);
	CHECK(s3_xml_parse_delete(b.p, b.len, &r2) == 0);
	CHECK(r2.nkeys == r.nkeys && r2.quiet == r.quiet);
	for (size_t i = 0; i < r.nkeys; i++)
		CHECK(strcmp(r.keys[i], r2.keys[i]) == 0);
	s3_delete_req_free(&r2);
	s3_delete_req_free(&r);
	s3_buf_free(&b);
}

/* CompleteMultipartUpload: what parses holds the documented bounds. */
static void complete_doc(const char *d, size_t n)
{
	struct s3_complete_req c;
	if (s3_xml_parse_complete(d, n, &c))
		return;
	CHECK(c.nparts >= 1 && c.nparts <= S3_MPU_MAX_PARTS);
	for (size_t i = 0; i < c.nparts; i++) {
		CHECK(c.parts[i].number >= 1 && c.parts[i].number <= S3_MPU_MAX_PARTS);
		CHECK(strlen(c.parts[i].etag) == 32 &&
		      strspn(c.parts[i].etag, "0123456789abcdef") == 32);
	}
	s3_complete_req_free(&c);
}

static void key(const char *d, size_t n)
{
	char buf[S3_KEY_MAX + 1];
	char *comps[S3_KEY_MAXCOMPS];
	int is_dir;
	int k = s3_key_split(d, n, buf, comps, S3_KEY_MAXCOMPS, &is_dir);
	if (k < 0) {
		CHECK(k == -EINVAL);
		return;
	}
	CHECK(k >= 1 && k <= S3_KEY_MAXCOMPS && n <= S3_KEY_MAX);
	size_t total = 0;
	for (int i = 0; i < k; i++) {
		size_t cl = strlen(comps[i]);
		CHECK(cl >= 1 && cl <= 255 && !strchr(comps[i], '/'));
		CHECK(strcmp(comps[i], ".") && strcmp(comps[i], ".."));
		total += cl + 1;
	}
	CHECK(total - 1 + (size_t)is_dir == n);   /* nothing lost or added */
}

static void route(const char *d, size_t n)
{
	static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "X" };
	const char *qk[8];
	char in[4096], buf[S3_KEY_MAX + 320];
	struct s3_route r;

	if (n < 1 || n >= sizeof(in))
		return;
	const char *m = methods[(unsigned char)d[0] % 7];
	memcpy(in, d + 1, n - 1);
	in[n - 1] = '\0';
	/* host \n path \n qkey \n qkey ... */
	char *host = in, *path = strchr(in, '\n');
	size_t nq = 0;
	if (!path)
		return;
	*path++ = '\0';
	for (char *q = strchr(path, '\n'); q && nq < 8; q = strchr(q, '\n')) {
		*q++ = '\0';
		qk[nq++] = q;
	}
	int rc = s3_route(m, *host ? host : NULL, "s3.example.test", path, qk, nq, buf,
			  sizeof(buf), &r);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP || rc == -ENAMETOOLONG);
		return;
	}
	CHECK(r.op > S3_OP_NONE && r.op < S3_OP__COUNT && r.key);
	CHECK(!r.bucket || !strchr(r.bucket, '/') || r.vhost);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char loc[64];
	if (size < 1)
		return 0;
	const char *d = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 5) {
	case 0: delete_doc(d, n); break;
	case 1: (void)s3_xml_parse_create_bucket(d, n, loc, sizeof(loc)); break;
	case 2: key(d, n); break;
	case 4: complete_doc(d, n); break;
	default: route(d, n); break;
	}
	return 0;
}
