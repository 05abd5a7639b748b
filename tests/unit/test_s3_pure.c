/* The pure parts of the S3 front end: routing, keys to paths, XML
 * escaping and parsing (expat with entity attacks), error mapping,
 * permissions. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "s3.h"
#include "../../src/s3_priv.h"

static int route(const char *method, const char *host, const char *path,
		 const char *q1, struct s3_route *out, char *buf, size_t len)
{
	const char *qk[1] = { q1 };
	return s3_route(method, host, "s3.example.test", path, qk, q1 ? 1 : 0, buf, len, out);
}

Test(s3_route, path_style)
{
	struct s3_route r;
	char buf[2048];
	cr_assert_eq(route("GET", "127.0.0.1:9000", "/", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_BUCKETS);
	cr_assert_null(r.bucket);
	cr_assert_eq(route("PUT", "127.0.0.1:9000", "/b1", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_CREATE_BUCKET);
	cr_assert_str_eq(r.bucket, "b1");
	cr_assert_str_eq(r.key, "");
	/* the JS SDK sends bucket operations with a trailing slash */
	cr_assert_eq(route("DELETE", "localhost", "/b1/", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_DELETE_BUCKET);
	cr_assert_eq(route("PUT", NULL, "/b1/a/b/c.txt", "x-id", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_PUT_OBJECT);
	cr_assert_str_eq(r.bucket, "b1");
	cr_assert_str_eq(r.key, "a/b/c.txt");
	cr_assert_eq(route("HEAD", NULL, "/b1/k", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_HEAD_OBJECT);
	cr_assert_eq(route("GET", NULL, "/b1", "list-type", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_OBJECTS_V2);
	cr_assert_eq(route("GET", NULL, "/b1", "prefix", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_OBJECTS);
	cr_assert_eq(route("GET", NULL, "/b1", "location", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_GET_BUCKET_LOCATION);
	cr_assert_eq(route("POST", NULL, "/b1", "delete", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_DELETE_OBJECTS);
	/* the JS SDK v3 presigner signs these into a GetObject URL: still a GET */
	cr_assert_eq(route("GET", NULL, "/b1/k", "X-Amz-Content-Sha256", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_GET_OBJECT);
	cr_assert_eq(route("GET", NULL, "/b1/k", "x-amz-checksum-mode", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_GET_OBJECT);
}

Test(s3_route, virtual_host)
{
	struct s3_route r;
	char buf[2048];
	cr_assert_eq(route("GET", "b1.s3.example.test:9000", "/dir/k", NULL, &r, buf,
			   sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_GET_OBJECT);
	cr_assert(r.vhost);
	cr_assert_str_eq(r.bucket, "b1");
	cr_assert_str_eq(r.key, "dir/k");
	cr_assert_eq(route("GET", "B1.S3.Example.Test", "/", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_OBJECTS);
	cr_assert_str_eq(r.bucket, "b1");
	/* the base domain itself is path style */
	cr_assert_eq(route("GET", "s3.example.test", "/b2/x", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_str_eq(r.bucket, "b2");
	cr_assert_str_eq(r.key, "x");
	cr_assert_eq(r.vhost, 0);
	/* a suffix that only looks alike is path style */
	cr_assert_eq(route("GET", "b1.xs3.example.test", "/b2/x", NULL, &r, buf, sizeof(buf)), 0);
	cr_assert_str_eq(r.bucket, "b2");
}

Test(s3_route, refusals)
{
	struct s3_route r;
	char buf[2048];
	/* subresources S3 has and this server does not serve yet: 501 */
	cr_assert_eq(route("GET", NULL, "/b1", "acl", &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("PUT", NULL, "/b1", "object-lock", &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("GET", NULL, "/b1", "versions", &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("GET", NULL, "/b1/k", "partNumber", &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("PUT", NULL, "/b1/k", "retention", &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("OPTIONS", NULL, "/b1/k", NULL, &r, buf, sizeof(buf)), -ENOSYS);
	cr_assert_eq(route("POST", NULL, "/b1/k", NULL, &r, buf, sizeof(buf)), -ENOSYS);
	/* IAM calls on the same endpoint: a fast 4xx (405), never a 5xx */
	cr_assert_eq(route("POST", NULL, "/", NULL, &r, buf, sizeof(buf)), -EOPNOTSUPP);
	cr_assert_eq(route("PATCH", NULL, "/b1/k", NULL, &r, buf, sizeof(buf)), -EOPNOTSUPP);
	cr_assert_eq(route("GET", NULL, "b1/k", NULL, &r, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(route("GET", NULL, "/b1/k", NULL, &r, buf, 4), -ENAMETOOLONG);
	cr_assert_eq(route("GET", NULL, "/b1/k", "delete", &r, buf, sizeof(buf)), -EINVAL);
}

static int split(const char *key, char *buf, char **c, int *is_dir)
{
	return s3_key_split(key, strlen(key), buf, c, S3_KEY_MAXCOMPS, is_dir);
}

Test(s3_key, split)
{
	char buf[S3_KEY_MAX + 8];
	char *c[S3_KEY_MAXCOMPS];
	int d;
	cr_assert_eq(split("a/b/c", buf, c, &d), 3);
	cr_assert_str_eq(c[0], "a");
	cr_assert_str_eq(c[2], "c");
	cr_assert_eq(d, 0);
	cr_assert_eq(split("dir/", buf, c, &d), 1);
	cr_assert_eq(d, 1);
	cr_assert_str_eq(c[0], "dir");
	cr_assert_eq(split("x y+z\xc3\xa9", buf, c, &d), 1);
}

Test(s3_key, refused)
{
	char buf[S3_KEY_MAX + 8];
	char *c[S3_KEY_MAXCOMPS];
	char big[S3_KEY_MAX + 2], comp[300];
	int d;
	const char *bad[] = { "", "/", "/a", "a//b", "a/./b", "a/../b", "..", ".", "a/.",
			      "\xff", "a\xc3", "\xed\xa0\x80", NULL };
	for (int i = 0; bad[i]; i++)
		cr_assert_eq(split(bad[i], buf, c, &d), -EINVAL, "key '%s'", bad[i]);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(split(big, buf, c, &d), -EINVAL);
	big[S3_KEY_MAX] = '\0';
	for (int i = 1; i < S3_KEY_MAX; i += 2)
		big[i] = '/';
	cr_assert_eq(split(big, buf, c, &d), 512);
	memset(comp, 'b', 256);
	comp[256] = '\0';
	cr_assert_eq(split(comp, buf, c, &d), -EINVAL);
	comp[255] = '\0';
	cr_assert_eq(split(comp, buf, c, &d), 1);
	/* a NUL inside the key */
	cr_assert_eq(s3_key_split("a\0b", 3, buf, c, S3_KEY_MAXCOMPS, &d), -EINVAL);
}

Test(s3_xml, escape)
{
	struct s3_buf b;
	s3_buf_init(&b, 0);
	s3_xml_elem(&b, "Key", "a<b>&\"c'\x01\n\xff\xc3\xa9");
	cr_assert_str_eq(b.p, "<Key>a&lt;b&gt;&amp;&quot;c&apos;\xef\xbf\xbd&#10;\xef\xbf\xbd\xc3\xa9</Key>");
	s3_buf_free(&b);
	/* DEL and C1 controls are XML characters; U+FFFE is not (fuzz_s3_xml) */
	s3_buf_init(&b, 0);
	s3_xml_text(&b, "\x7f\xc2\x85\xef\xbf\xbe\xef\xbf\xbc", 9);
	cr_assert_str_eq(b.p, "\x7f\xc2\x85\xef\xbf\xbd\xef\xbf\xbc");
	s3_buf_free(&b);
	s3_buf_init(&b, 0);
	s3_xml_error(&b, "NoSuchKey", "gone", "/b/<k>", "ID1");
	cr_assert(strstr(b.p, "<Error><Code>NoSuchKey</Code><Message>gone</Message>"
			 "<Resource>/b/&lt;k&gt;</Resource><RequestId>ID1</RequestId></Error>"));
	s3_buf_free(&b);
	s3_buf_init(&b, 0);
	s3_url_encode(&b, "a b/c+d~\xc3\xa9", strlen("a b/c+d~\xc3\xa9"));
	cr_assert_str_eq(b.p, "a%20b/c%2Bd~%C3%A9");
	s3_buf_free(&b);
	/* a limit is a failure, never an overflow */
	s3_buf_init(&b, 8);
	s3_buf_puts(&b, "0123456789");
	cr_assert(b.failed);
	s3_buf_free(&b);
}

static int parse_delete(const char *doc, struct s3_delete_req *d)
{
	return s3_xml_parse_delete(doc, strlen(doc), d);
}

Test(s3_xml, delete_doc)
{
	struct s3_delete_req d;
	cr_assert_eq(parse_delete("<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				  "<Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
				  "<Object><Key>c/d</Key><VersionId>null</VersionId></Object></Delete>", &d), 0);
	cr_assert_eq(d.nkeys, 2);
	cr_assert_str_eq(d.keys[0], "a&b");
	cr_assert_str_eq(d.keys[1], "c/d");
	cr_assert_eq(d.quiet, 1);
	s3_delete_req_free(&d);
}

Test(s3_xml, delete_malformed)
{
	struct s3_delete_req d;
	const char *bad[] = {
		"", "<Delete>", "<Delete><Object><Key>a</Key></Object>",
		"<Other><Object><Key>a</Key></Object></Other>",
		"<Delete></Delete>",                                   /* no Object */
		"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
		"<Delete><Object><Key></Key></Object></Delete>",
		"<Delete><Object><Key>a</Key></Object></Delete><x/>",
		NULL,
	};
	for (int i = 0; bad[i]; i++)
		cr_assert_eq(parse_delete(bad[i], &d), -EBADMSG, "doc %d", i);
}

Test(s3_xml, entity_attacks_refused)
{
	struct s3_delete_req d;
	/* billion laughs: internal entities, refused at the DTD */
	const char *laughs =
		"<?xml version=\"1.0\"?><!DOCTYPE Delete [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<Delete><Object><Key>&c;</Key></Object></Delete>";
	/* XXE: an external entity naming a local file */
	const char *xxe =
		"<?xml version=\"1.0\"?><!DOCTYPE Delete [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Delete><Object><Key>&x;</Key></Object></Delete>";
	const char *ext_dtd =
		"<?xml version=\"1.0\"?><!DOCTYPE Delete SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<Delete><Object><Key>k</Key></Object></Delete>";
	const char *undeclared = "<Delete><Object><Key>&nope;</Key></Object></Delete>";
	cr_assert_eq(parse_delete(laughs, &d), -EBADMSG);
	cr_assert_eq(parse_delete(xxe, &d), -EBADMSG);
	cr_assert_eq(parse_delete(ext_dtd, &d), -EBADMSG);
	cr_assert_eq(parse_delete(undeclared, &d), -EBADMSG);
}

Test(s3_xml, delete_limits)
{
	struct s3_delete_req d;
	struct s3_buf b;
	s3_buf_init(&b, 0);
	s3_buf_puts(&b, "<Delete>");
	for (int i = 0; i < 1001; i++)
		s3_buf_printf(&b, "<Object><Key>k%d</Key></Object>", i);
	s3_buf_puts(&b, "</Delete>");
	cr_assert_eq(s3_xml_parse_delete(b.p, b.len, &d), -EBADMSG);   /* > 1000 keys */
	s3_buf_free(&b);
	char deep[400] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "<x>");
	char doc[600];
	snprintf(doc, sizeof(doc), "<Delete>%s</Delete>", deep);
	cr_assert_eq(parse_delete(doc, &d), -EBADMSG);
}

Test(s3_xml, create_bucket_doc)
{
	char loc[64];
	cr_assert_eq(s3_xml_parse_create_bucket("", 0, loc, sizeof(loc)), 0);
	cr_assert_str_eq(loc, "");
	const char *doc = "<CreateBucketConfiguration><LocationConstraint>eu-west-1"
			  "</LocationConstraint></CreateBucketConfiguration>";
	cr_assert_eq(s3_xml_parse_create_bucket(doc, strlen(doc), loc, sizeof(loc)), 0);
	cr_assert_str_eq(loc, "eu-west-1");
	cr_assert_eq(s3_xml_parse_create_bucket("<Create", 7, loc, sizeof(loc)), -EBADMSG);
}

Test(s3_error, map)
{
	cr_assert_str_eq(s3_error_from_errno(-ENOENT, S3E_NO_SUCH_KEY)->code, "NoSuchKey");
	cr_assert_str_eq(s3_error_from_errno(-ENOENT, S3E_NO_SUCH_BUCKET)->code, "NoSuchBucket");
	/* a lock refusal */
	cr_assert_str_eq(s3_error_from_errno(-EPERM, S3E_NO_SUCH_KEY)->code, "AccessDenied");
	cr_assert_eq(s3_error_from_errno(-EPERM, S3E_NO_SUCH_KEY)->status, 403);
	/* a KMS quota */
	cr_assert_str_eq(s3_error_from_errno(-EAGAIN, S3E_NO_SUCH_KEY)->code, "SlowDown");
	cr_assert_eq(s3_error_from_errno(-EAGAIN, S3E_NO_SUCH_KEY)->status, 503);
	cr_assert_eq(s3_error_from_errno(-ENOTDIR, S3E_NO_SUCH_KEY)->status, 409);
	cr_assert_eq(s3_error_from_errno(-EISDIR, S3E_NO_SUCH_KEY)->status, 409);
	cr_assert_str_eq(s3_error_from_errno(-ENOTEMPTY, S3E_NO_SUCH_KEY)->code, "BucketNotEmpty");
	cr_assert_eq(s3_error_from_errno(-ENOSPC, S3E_NO_SUCH_KEY)->status, 503);
	cr_assert_eq(s3_error_from_errno(-E2BIG, S3E_NO_SUCH_KEY)->status, 500);
	cr_assert_eq(s3_error_get(S3E_NOT_IMPLEMENTED)->status, 501);
	cr_assert_eq(s3_error_get(S3E_MALFORMED_XML)->status, 400);
	cr_assert_eq(s3_error_get(S3E__COUNT)->status, 500);
}

/* The dates of the times a record holds (fs.c clamps utimensat to them):
 * the earliest, 1677, with its fraction, computed without an overflow
 * (-Db_sanitize=undefined reports one), and the latest. */
Test(s3_xml, dates_at_the_record_limits)
{
	char d[40];
	cr_assert_eq(s3_seconds(INT64_MIN), INT64_C(-9223372037));
	s3_iso_date(INT64_MIN, d, sizeof(d));
	cr_assert_str_eq(d, "1677-09-21T00:12:43.145Z");
	s3_iso_date(INT64_MAX, d, sizeof(d));
	cr_assert_str_eq(d, "2262-04-11T23:47:16.854Z");
	s3_iso_date(-1500000000, d, sizeof(d));
	cr_assert_str_eq(d, "1969-12-31T23:59:58.500Z");
}

Test(s3_perm, mode_bits)
{
	uint32_t groups[1] = { 50 };
	struct ns_caller owner = { 1000, 1000, 0, 022, NULL, 0, NULL, 0 };
	struct ns_caller member = { 2000, 2000, 0, 022, groups, 1, NULL, 0 };
	struct ns_caller other = { 3000, 3000, 0, 022, NULL, 0, NULL, 0 };
	struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	struct ns_attr f = { .mode = S_IFREG | 0640, .uid = 1000, .gid = 50 };
	cr_assert(s3_perm_ok(&owner, &f, S3_PERM_R | S3_PERM_W));
	cr_assert(s3_perm_ok(&member, &f, S3_PERM_R));
	cr_assert_not(s3_perm_ok(&member, &f, S3_PERM_W));
	cr_assert_not(s3_perm_ok(&other, &f, S3_PERM_R));
	cr_assert(s3_perm_ok(&root, &f, S3_PERM_R | S3_PERM_W));
	cr_assert_not(s3_perm_ok(&root, &f, S3_PERM_X));
	/* the owner class decides for the owner, even if others have more */
	struct ns_attr g = { .mode = S_IFREG | 0077, .uid = 1000, .gid = 50 };
	cr_assert_not(s3_perm_ok(&owner, &g, S3_PERM_R));
	/* sticky directory */
	struct ns_attr d = { .mode = S_IFDIR | 01777, .uid = 0, .gid = 0 };
	struct ns_attr mine = { .mode = S_IFREG | 0644, .uid = 3000 };
	cr_assert(s3_perm_may_delete(&other, &d, &mine));
	cr_assert_not(s3_perm_may_delete(&owner, &d, &mine));
	cr_assert(s3_perm_may_delete(&root, &d, &mine));
}

/* Multipart routes: one query key per call here, so the two-key UploadPart
 * goes through s3_route directly. */
Test(s3_route, multipart)
{
	struct s3_route r;
	char buf[2048];
	const char *both[2] = { "partNumber", "uploadId" };
	cr_assert_eq(route("POST", NULL, "/b1/k", "uploads", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_CREATE_MPU);
	cr_assert_eq(s3_route("PUT", NULL, "", "/b1/k", both, 2, buf, sizeof(buf), &r), 0);
	cr_assert_eq(r.op, S3_OP_UPLOAD_PART);
	cr_assert_eq(route("POST", NULL, "/b1/k", "uploadId", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_COMPLETE_MPU);
	cr_assert_eq(route("DELETE", NULL, "/b1/k", "uploadId", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_ABORT_MPU);
	cr_assert_eq(route("GET", NULL, "/b1/k", "uploadId", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_PARTS);
	cr_assert_eq(route("GET", NULL, "/b1", "uploads", &r, buf, sizeof(buf)), 0);
	cr_assert_eq(r.op, S3_OP_LIST_MPUS);
	cr_assert_str_eq(r.bucket, "b1");
	cr_assert_eq(route("PUT", NULL, "/b1/k", "uploadId", &r, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(route("GET", NULL, "/b1/k", "uploads", &r, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(route("POST", NULL, "/b1", "uploads", &r, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(route("GET", NULL, "/", "uploads", &r, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(route("GET", NULL, "/b1", "uploadId", &r, buf, sizeof(buf)), -EINVAL);
}

static const char *const E1 = "0123456789abcdef0123456789abcdef";

Test(s3_xml, complete_parse)
{
	struct s3_complete_req c;
	const char *ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
		"<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Part><ETag>&quot;0123456789ABCDEF0123456789abcdef&quot;</ETag>"
		"<PartNumber>1</PartNumber></Part>"
		"<Part><PartNumber> 3 </PartNumber><ETag>0123456789abcdef0123456789abcdef</ETag>"
		"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>";
	cr_assert_eq(s3_xml_parse_complete(ok, strlen(ok), &c), 0);
	cr_assert_eq(c.nparts, 2);
	cr_assert_eq(c.parts[0].number, 1);
	cr_assert_str_eq(c.parts[0].etag, E1, "quotes dropped, hex lowercased");
	cr_assert_eq(c.parts[1].number, 3);
	s3_complete_req_free(&c);
	/* the order is the caller's to judge (InvalidPartOrder) */
	const char *desc = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdef</ETag></Part><Part><PartNumber>1</PartNumber>"
		"<ETag>0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>";
	cr_assert_eq(s3_xml_parse_complete(desc, strlen(desc), &c), 0);
	cr_assert_eq(c.parts[0].number, 2);
	s3_complete_req_free(&c);
	static const char *const bad[] = {
		"",
		"<CompleteMultipartUpload/>",                        /* no part */
		"<Delete><Part><PartNumber>1</PartNumber><ETag>0123456789abcdef0123456789abcdef"
		"</ETag></Part></Delete>",                            /* other root */
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
		"</CompleteMultipartUpload>",                         /* no ETag */
		"<CompleteMultipartUpload><Part><ETag>0123456789abcdef0123456789abcdef</ETag>"
		"</Part></CompleteMultipartUpload>",                  /* no number */
		"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdeg</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>abc</ETag>"
		"</Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber>"
		"<ETag>0123456789abcdef0123456789abcdef</ETag></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
		"0123456789abcdef0123456789abcdef</ETag></Part>",   /* unclosed */
		"<!DOCTYPE CompleteMultipartUpload [<!ENTITY a \"1\">]><CompleteMultipartUpload>"
		"<Part><PartNumber>&a;</PartNumber><ETag>0123456789abcdef0123456789abcdef</ETag>"
		"</Part></CompleteMultipartUpload>",                 /* entities */
		"<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><CompleteMultipartUpload/>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(s3_xml_parse_complete(bad[i], strlen(bad[i]), &c), -EBADMSG,
			     "bad document %zu", i);
	/* 10000 parts parse; 10001 do not (oversized) */
	struct s3_buf b;
	s3_buf_init(&b, 0);
	s3_buf_puts(&b, "<CompleteMultipartUpload>");
	for (int i = 1; i <= 10001; i++) {
		if (i == 10001) {
			s3_buf_puts(&b, "</CompleteMultipartUpload>");
			cr_assert_eq(s3_xml_parse_complete(b.p, b.len, &c), 0);
			cr_assert_eq(c.nparts, 10000);
			s3_complete_req_free(&c);
			b.len -= strlen("</CompleteMultipartUpload>");
		}
		s3_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
			      i > 10000 ? 1 : i, E1);
	}
	s3_buf_puts(&b, "</CompleteMultipartUpload>");
	cr_assert(!b.failed);
	cr_assert_eq(s3_xml_parse_complete(b.p, b.len, &c), -EBADMSG);
	s3_buf_free(&b);
}
