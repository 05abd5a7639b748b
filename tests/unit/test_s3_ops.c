/* The S3 operations end to end over HTTP on 127.0.0.1, on a real store,
 * with the test principal hook standing in for SigV4 users (the daemon
 * never sets it; test_s3.sh covers signed requests). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "ns.h"
#include "s3.h"
#include "fixture.h"

static s3_server *S;
static unsigned PORT;
/* who the next requests are: uid, or -1 for a request that stays anonymous */
static long who = 0;

static int test_principal(void *arg, struct s3_request *r, struct s3_principal *p)
{
	(void)arg;
	(void)r;
	if (who < 0)
		return -EACCES;
	p->caller.uid = p->caller.gid = (uint32_t)who;
	snprintf(p->access_key, sizeof(p->access_key), "TESTUID%ld", who);
	return 0;
}

static void setup(void)
{
	char err[512];
	struct s3_params sp;

	fixture_ns_setup();
	memset(&sp, 0, sizeof(sp));
	strcpy(sp.listen, "127.0.0.1:0");
	strcpy(sp.region, "us-east-1");
	strcpy(sp.base_domain, "localhost");
	sp.threads = 2;
	sp.max_connections = 32;
	sp.test_principal = test_principal;
	cr_assert_eq(s3_start(N, &sp, &S, err, sizeof(err)), 0, "%s", err);
	PORT = s3_port(S);
	cr_assert_neq(PORT, 0);
	who = 0;
}

static void teardown(void)
{
	s3_stop(S);
	fixture_ns_teardown();
}

struct resp {
	int status;
	char head[16384];
	char *body;
	size_t blen;
	char raw[1 << 20];
};

static int connect_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)PORT) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;   /* the server may close early (an error before the body) */
		c += k;
		n -= (size_t)k;
	}
}

static void read_resp(int fd, struct resp *r)
{
	size_t got = 0;
	ssize_t k;
	while (got < sizeof(r->raw) - 1 && (k = recv(fd, r->raw + got, sizeof(r->raw) - 1 - got, 0)) > 0)
		got += (size_t)k;
	r->raw[got] = '\0';
	r->status = 0;
	sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
	char *e = strstr(r->raw, "\r\n\r\n");
	size_t hl = e ? (size_t)(e - r->raw) : got;
	if (hl >= sizeof(r->head))
		hl = sizeof(r->head) - 1;
	memcpy(r->head, r->raw, hl);
	r->head[hl] = '\0';
	r->body = e ? e + 4 : r->raw + got;
	r->blen = (size_t)(r->raw + got - r->body);
}

/* One request; extra: more header lines, each ending in \r\n. PUT and
 * POST always carry a Content-Length. */
static struct resp *req(const char *method, const char *target, const char *extra,
			const char *body, size_t blen)
{
	static struct resp r;
	size_t cap = 1024 + (extra ? strlen(extra) : 0);
	char *head = malloc(cap);
	int fd = connect_server(), n;
	cr_assert_not_null(head);
	n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s",
		     method, target, PORT, extra ? extra : "");
	if (body || !strcmp(method, "PUT") || !strcmp(method, "POST"))
		n += snprintf(head + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
	n += snprintf(head + n, cap - (size_t)n, "\r\n");
	send_all(fd, head, (size_t)n);
	free(head);
	if (blen)
		send_all(fd, body, blen);
	read_resp(fd, &r);
	close(fd);
	return &r;
}

/* A response header's value (case-insensitive name), into buf. */
static const char *hdr(struct resp *r, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);
	for (char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 3 + nl;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r");
			if (l >= len)
				l = len - 1;
			memcpy(buf, v, l);
			buf[l] = '\0';
			return buf;
		}
	}
	return NULL;
}

static int body_has(struct resp *r, const char *s)
{
	return r->body && strstr(r->body, s) != NULL;
}

static void mkbucket(const char *b)
{
	char t[300];
	snprintf(t, sizeof(t), "/%s", b);
	struct resp *r = req("PUT", t, NULL, "", 0);
	cr_assert_eq(r->status, 200, "create bucket %s: %d %s", b, r->status, r->body);
}

static int put(const char *target, const char *body, const char *extra)
{
	return req("PUT", target, extra, body, strlen(body))->status;
}

/* The node at bucket/path via ns, or -ENOENT. */
static int ns_find(const char *path, struct ns_attr *out)
{
	char buf[1024], *save = NULL;
	uint64_t ino = NS_INO_ROOT;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int rc = ns_lookup(N, ino, c, out);
		if (rc)
			return rc;
		ino = out->ino;
	}
	return 0;
}

static int count_uploads(void *arg, const char *name, const struct ns_attr *a, uint64_t off)
{
	(void)a;
	(void)off;
	if (strncmp(name, ".s3-upload-", 11) == 0)
		(*(int *)arg)++;
	return 0;
}

TestSuite(s3_ops, .init = setup, .fini = teardown, .timeout = 120);

Test(s3_ops, buckets)
{
	struct resp *r;
	mkbucket("bkt");
	cr_assert_eq(req("HEAD", "/bkt", NULL, NULL, 0)->status, 200);
	r = req("GET", "/", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert(body_has(r, "<Name>bkt</Name>"), "%s", r->body);
	r = req("PUT", "/bkt", NULL, "", 0);
	cr_assert_eq(r->status, 409);
	cr_assert(body_has(r, "<Code>BucketAlreadyOwnedByYou</Code>"));
	r = req("PUT", "/Bad_Name", NULL, "", 0);
	cr_assert_eq(r->status, 400);
	cr_assert(body_has(r, "<Code>InvalidBucketName</Code>"));
	r = req("GET", "/bkt?location", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert(body_has(r, "<LocationConstraint"));
	/* not empty */
	cr_assert_eq(put("/bkt/k", "x", NULL), 200);
	r = req("DELETE", "/bkt", NULL, NULL, 0);
	cr_assert_eq(r->status, 409);
	cr_assert(body_has(r, "<Code>BucketNotEmpty</Code>"));
	cr_assert_eq(req("DELETE", "/bkt/k", NULL, NULL, 0)->status, 204);
	cr_assert_eq(req("DELETE", "/bkt", NULL, NULL, 0)->status, 204);
	cr_assert_eq(req("HEAD", "/bkt", NULL, NULL, 0)->status, 404);
	r = req("GET", "/bkt/k", NULL, NULL, 0);
	cr_assert_eq(r->status, 404);
	cr_assert(body_has(r, "<Code>NoSuchBucket</Code>"));
	/* the bucket is the mount's directory: ns sees it gone */
	struct ns_attr a;
	cr_assert_eq(ns_find("bkt", &a), -ENOENT);
}

Test(s3_ops, put_get_head)
{
	struct resp *r;
	char v[256];
	mkbucket("bkt");
	r = req("PUT", "/bkt/a/b/c.txt", "Content-Type: text/plain\r\nx-amz-meta-Color: blue\r\n"
		"Cache-Control: no-cache\r\n", "hello", 5);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	cr_assert_str_eq(hdr(r, "ETag", v, sizeof(v)), "\"5d41402abc4b2a76b9719d911017c592\"");
	/* one namespace: the object is the file bkt/a/b/c.txt */
	struct ns_attr a;
	cr_assert_eq(ns_find("bkt/a/b/c.txt", &a), 0);
	cr_assert_eq(a.size, 5);
	r = req("GET", "/bkt/a/b/c.txt", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->blen, 5);
	cr_assert_eq(memcmp(r->body, "hello", 5), 0);
	cr_assert_str_eq(hdr(r, "Content-Type", v, sizeof(v)), "text/plain");
	cr_assert_str_eq(hdr(r, "x-amz-meta-color", v, sizeof(v)), "blue");
	cr_assert_str_eq(hdr(r, "Cache-Control", v, sizeof(v)), "no-cache");
	cr_assert_str_eq(hdr(r, "ETag", v, sizeof(v)), "\"5d41402abc4b2a76b9719d911017c592\"");
	r = req("HEAD", "/bkt/a/b/c.txt", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(hdr(r, "Content-Length", v, sizeof(v)), "5");
	cr_assert_eq(r->blen, 0);
	/* Range */
	r = req("GET", "/bkt/a/b/c.txt", "Range: bytes=1-3\r\n", NULL, 0);
	cr_assert_eq(r->status, 206);
	cr_assert_eq(r->blen, 3);
	cr_assert_eq(memcmp(r->body, "ell", 3), 0);
	cr_assert_str_eq(hdr(r, "Content-Range", v, sizeof(v)), "bytes 1-3/5");
	r = req("GET", "/bkt/a/b/c.txt", "Range: bytes=-2\r\n", NULL, 0);
	cr_assert_eq(r->status, 206);
	cr_assert_eq(memcmp(r->body, "lo", 2), 0);
	r = req("GET", "/bkt/a/b/c.txt", "Range: bytes=9-\r\n", NULL, 0);
	cr_assert_eq(r->status, 416);
	cr_assert(body_has(r, "<Code>InvalidRange</Code>"));
	/* conditionals */
	r = req("GET", "/bkt/a/b/c.txt", "If-None-Match: \"5d41402abc4b2a76b9719d911017c592\"\r\n",
		NULL, 0);
	cr_assert_eq(r->status, 304);
	r = req("GET", "/bkt/a/b/c.txt", "If-Match: \"0000\"\r\n", NULL, 0);
	cr_assert_eq(r->status, 412);
	r = req("GET", "/bkt/a/b/c.txt", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
		NULL, 0);
	cr_assert_eq(r->status, 304);
	r = req("GET", "/bkt/a/b/c.txt", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
		NULL, 0);
	cr_assert_eq(r->status, 412);
	/* response-* overrides */
	r = req("GET", "/bkt/a/b/c.txt?response-content-type=application/x-test", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(hdr(r, "Content-Type", v, sizeof(v)), "application/x-test");
	/* overwrite */
	cr_assert_eq(put("/bkt/a/b/c.txt", "bye", NULL), 200);
	r = req("GET", "/bkt/a/b/c.txt", NULL, NULL, 0);
	cr_assert_eq(r->blen, 3);
	cr_assert_null(hdr(r, "x-amz-meta-color", v, sizeof(v)));
	/* missing */
	r = req("GET", "/bkt/nope", NULL, NULL, 0);
	cr_assert_eq(r->status, 404);
	cr_assert(body_has(r, "<Code>NoSuchKey</Code>"));
	cr_assert(body_has(r, "<Resource>/bkt/nope</Resource>"));
	cr_assert(body_has(r, "<RequestId>"));
	/* a directory key */
	cr_assert_eq(put("/bkt/d1/", "", NULL), 200);
	cr_assert_eq(ns_find("bkt/d1", &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(req("HEAD", "/bkt/d1/", NULL, NULL, 0)->status, 200);
	cr_assert_eq(req("HEAD", "/bkt/d1", NULL, NULL, 0)->status, 404);
}

Test(s3_ops, big_object_streamed)
{
	size_t n = 3u << 20;
	char *big = malloc(n);
	char v[64];
	cr_assert_not_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 + (i >> 12));
	mkbucket("bkt");
	struct resp *r = req("PUT", "/bkt/big", NULL, big, n);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	r = req("HEAD", "/bkt/big", NULL, NULL, 0);
	cr_assert_str_eq(hdr(r, "Content-Length", v, sizeof(v)), "3145728");
	r = req("GET", "/bkt/big", "Range: bytes=1048570-1048585\r\n", NULL, 0);
	cr_assert_eq(r->status, 206);
	cr_assert_eq(r->blen, 16);
	cr_assert_eq(memcmp(r->body, big + 1048570, 16), 0);
	free(big);
}

/* GetObject's read block is the object's size below 64 KiB: sizes around
 * that edge (and empty) come back whole, also as ranges across it. */
Test(s3_ops, get_sizes_around_the_read_block)
{
	static const size_t sizes[] = { 0, 1, 4096, 65535, 65536, 65537, 200000 };
	size_t n = 200000;
	char *data = malloc(n), path[64];
	cr_assert_not_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 13 + (i >> 9));
	mkbucket("bkt");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		snprintf(path, sizeof(path), "/bkt/s%zu", sizes[k]);
		struct resp *r = req("PUT", path, NULL, data, sizes[k]);
		cr_assert_eq(r->status, 200, "%zu: %s", sizes[k], r->raw);
		r = req("GET", path, NULL, NULL, 0);
		cr_assert_eq(r->status, 200, "%zu", sizes[k]);
		cr_assert_eq(r->blen, sizes[k]);
		cr_assert_eq(memcmp(r->body, data, sizes[k]), 0, "%zu", sizes[k]);
	}
	struct resp *r = req("GET", "/bkt/s65537", "Range: bytes=65530-65536\r\n", NULL, 0);
	cr_assert_eq(r->status, 206);
	cr_assert_eq(r->blen, 7);
	cr_assert_eq(memcmp(r->body, data + 65530, 7), 0);
	free(data);
}

Test(s3_ops, key_rules)
{
	struct resp *r;
	mkbucket("bkt");
	r = req("PUT", "/bkt/a//b", NULL, "x", 1);
	cr_assert_eq(r->status, 400);
	cr_assert(body_has(r, "<Code>InvalidArgument</Code>"));
	cr_assert_eq(put("/bkt/a/./b", "x", NULL), 400);
	cr_assert_eq(put("/bkt/a/%2e%2e/b", "x", NULL), 400);
	cr_assert_eq(put("/bkt/a%00b", "x", NULL), 400);   /* never cut into "a" */
	cr_assert_eq(put("/bkt/.s3-upload-x", "x", NULL), 400);
	cr_assert_eq(put("/bkt/x", "1", NULL), 200);
	r = req("PUT", "/bkt/x/y", NULL, "2", 1);
	cr_assert_eq(r->status, 409);
	cr_assert(body_has(r, "<Code>ParentIsObject</Code>"));
	cr_assert_eq(put("/bkt/d/e", "1", NULL), 200);
	r = req("PUT", "/bkt/d", NULL, "2", 1);
	cr_assert_eq(r->status, 409);
	cr_assert(body_has(r, "<Code>KeyIsDirectory</Code>"));
	/* nothing was left behind by the refusals */
	struct ns_attr a;
	cr_assert_eq(ns_find("bkt/a", &a), -ENOENT);
	cr_assert_eq(ns_find("bkt/x", &a), 0);
	cr_assert_eq(a.size, 1);
}

Test(s3_ops, listing)
{
	struct resp *r;
	const char *keys[] = { "a/1", "a/2", "b", "c/d/e", "c-x", "sp ace", NULL };
	mkbucket("bkt");
	for (int i = 0; keys[i]; i++) {
		char t[64];
		snprintf(t, sizeof(t), "/bkt/%s", keys[i]);
		if (strchr(t, ' '))
			strcpy(t, "/bkt/sp%20ace");
		cr_assert_eq(put(t, "x", NULL), 200, "%s", t);
	}
	r = req("GET", "/bkt?list-type=2&delimiter=/", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert(body_has(r, "<Contents><Key>b</Key>"), "%s", r->body);
	cr_assert(body_has(r, "<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"
			   "<CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes>"), "%s", r->body);
	cr_assert(body_has(r, "<KeyCount>5</KeyCount>"), "%s", r->body);
	/* key order is byte order: "c-x" < "c/" */
	const char *cx = strstr(r->body, "<Key>c-x</Key>"), *b = strstr(r->body, "<Key>b</Key>");
	cr_assert(cx && b && b < cx);
	r = req("GET", "/bkt?list-type=2&prefix=a/", NULL, NULL, 0);
	cr_assert(body_has(r, "<Key>a/1</Key>"));
	cr_assert(body_has(r, "<Key>a/2</Key>"));
	cr_assert_not(body_has(r, "<Key>b</Key>"));
	/* all keys, in order, one page at a time */
	const char *want[] = { "a/1", "a/2", "b", "c-x", "c/d/e", "sp ace" };
	char token[256] = "";
	for (int i = 0; i < 6; i++) {
		char t[512], k[64];
		if (token[0])
			snprintf(t, sizeof(t), "/bkt?list-type=2&max-keys=1&continuation-token=%s", token);
		else
			snprintf(t, sizeof(t), "/bkt?list-type=2&max-keys=1");
		for (char *p = t; *p; p++)
			if (*p == ' ')
				*p = '+';
		r = req("GET", t, NULL, NULL, 0);
		cr_assert_eq(r->status, 200);
		snprintf(k, sizeof(k), "<Key>%s</Key>", want[i]);
		cr_assert(body_has(r, k), "page %d: %s", i, r->body);
		cr_assert(body_has(r, i < 5 ? "<IsTruncated>true</IsTruncated>" :
				   "<IsTruncated>false</IsTruncated>"), "page %d: %s", i, r->body);
		if (i < 5) {
			char *s = strstr(r->body, "<NextContinuationToken>");
			cr_assert_not_null(s);
			s += strlen("<NextContinuationToken>");
			size_t l = strcspn(s, "<");
			memcpy(token, s, l);
			token[l] = '\0';
			/* the token goes back in a query */
			char enc[256];
			size_t o = 0;
			for (size_t q = 0; q < l; q++) {
				if (token[q] == '/') {
					memcpy(enc + o, "%2F", 3);
					o += 3;
				} else if (token[q] == ' ') {
					memcpy(enc + o, "%20", 3);
					o += 3;
				} else {
					enc[o++] = token[q];
				}
			}
			enc[o] = '\0';
			strcpy(token, enc);
		}
	}
	/* v1 with marker, and url encoding */
	r = req("GET", "/bkt?marker=c-x&encoding-type=url", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_not(body_has(r, "<Key>b</Key>"));
	cr_assert(body_has(r, "<Key>c/d/e</Key>"));
	cr_assert(body_has(r, "<Key>sp%20ace</Key>"), "%s", r->body);
	cr_assert(body_has(r, "<EncodingType>url</EncodingType>"));
	r = req("GET", "/bkt?encoding-type=bogus", NULL, NULL, 0);
	cr_assert_eq(r->status, 400);
	r = req("GET", "/bkt?max-keys=-1", NULL, NULL, 0);
	cr_assert_eq(r->status, 400);
}

Test(s3_ops, lock_refusals)
{
	struct resp *r;
	struct ns_attr a;
	struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	mkbucket("bkt");
	cr_assert_eq(put("/bkt/locked", "keep me", NULL), 200);
	cr_assert_eq(put("/bkt/free", "x", NULL), 200);
	cr_assert_eq(ns_find("bkt/locked", &a), 0);
	const char *v = "GOVERNANCE +1d";
	cr_assert_eq(ns_setxattr(N, &root, a.ino, "user.worm.retention", v, strlen(v), 0), 0);
	r = req("DELETE", "/bkt/locked", NULL, NULL, 0);
	cr_assert_eq(r->status, 403);
	cr_assert(body_has(r, "<Code>AccessDenied</Code>"));
	r = req("PUT", "/bkt/locked", NULL, "new", 3);
	cr_assert_eq(r->status, 403);
	cr_assert(body_has(r, "<Code>AccessDenied</Code>"));
	const char *del = "<Delete><Object><Key>locked</Key></Object><Object><Key>free</Key>"
			  "</Object><Object><Key>never/was</Key></Object></Delete>";
	r = req("POST", "/bkt?delete", NULL, del, strlen(del));
	cr_assert_eq(r->status, 200, "%s", r->raw);
	cr_assert(body_has(r, "<Error><Key>locked</Key><Code>AccessDenied</Code>"), "%s", r->body);
	cr_assert(body_has(r, "<Deleted><Key>free</Key></Deleted>"));
	cr_assert(body_has(r, "<Deleted><Key>never/was</Key></Deleted>"));
	/* intact */
	r = req("GET", "/bkt/locked", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(r->blen, 7);
	cr_assert_eq(memcmp(r->body, "keep me", 7), 0);
	cr_assert_eq(ns_find("bkt/free", &a), -ENOENT);
}

Test(s3_ops, default_retention_applies_at_commit)
{
	struct ns_attr b, a;
	struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	char st[32];
	mkbucket("bk2");
	cr_assert_eq(ns_find("bk2", &b), 0);
	const char *v = "GOVERNANCE 1d";
	cr_assert_eq(ns_setxattr(N, &root, b.ino, "user.worm.default-retention", v, strlen(v), 0), 0);
	cr_assert_eq(put("/bk2/k", "data", NULL), 200);
	cr_assert_eq(ns_find("bk2/k", &a), 0);
	ssize_t n = ns_getxattr(N, &root, a.ino, "user.worm.state", st, sizeof(st) - 1);
	cr_assert_gt(n, 0);
	st[n] = '\0';
	cr_assert_str_eq(st, "locked");
	cr_assert_eq(req("DELETE", "/bk2/k", NULL, NULL, 0)->status, 403);
}

Test(s3_ops, dropped_put_leaves_nothing)
{
	struct ns_attr b, a;
	mkbucket("bkt");
	int fd = connect_server();
	char head[512];
	int n = snprintf(head, sizeof(head), "PUT /bkt/half HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
			 "Content-Length: 100000\r\n\r\n0123456789", PORT);
	send_all(fd, head, (size_t)n);
	close(fd);
	cr_assert_eq(ns_find("bkt", &b), 0);
	/* the server sees the close on its own schedule: wait for the abort
	 * (no timing is asserted: only that it happens) */
	int uploads = 1;
	for (int i = 0; i < 600 && uploads; i++) {
		uploads = 0;
		cr_assert_eq(ns_readdir(N, b.ino, 0, count_uploads, &uploads), 0);
		if (uploads)
			usleep(50000);
	}
	cr_assert_eq(uploads, 0);
	cr_assert_eq(ns_find("bkt/half", &a), -ENOENT);
	/* alive */
	cr_assert_eq(req("GET", "/", NULL, NULL, 0)->status, 200);
}

Test(s3_ops, bad_input)
{
	struct resp *r;
	mkbucket("bkt");
	const char *bad = "<Delete><Object><Key>k</Key></Object>";
	r = req("POST", "/bkt?delete", NULL, bad, strlen(bad));
	cr_assert_eq(r->status, 400);
	cr_assert(body_has(r, "<Code>MalformedXML</Code>"));
	const char *laughs = "<!DOCTYPE Delete [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
			     "<Delete><Object><Key>&b;</Key></Object></Delete>";
	r = req("POST", "/bkt?delete", NULL, laughs, strlen(laughs));
	cr_assert_eq(r->status, 400);
	cr_assert(body_has(r, "<Code>MalformedXML</Code>"));
	/* a huge header */
	size_t hn = 400 * 1024;
	char *h = malloc(hn + 32);
	cr_assert_not_null(h);
	strcpy(h, "x-amz-meta-big: ");
	memset(h + 16, 'a', hn);
	strcpy(h + 16 + hn, "\r\n");
	r = req("GET", "/bkt/k", h, NULL, 0);
	cr_assert(r->status >= 400 && r->status < 500, "status %d", r->status);
	free(h);
	/* a Content-Length that is no number */
	int fd = connect_server();
	const char *cl = "PUT /bkt/k HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
	send_all(fd, cl, strlen(cl));
	static struct resp rr;
	read_resp(fd, &rr);
	close(fd);
	cr_assert(rr.status >= 400 && rr.status < 500, "status %d", rr.status);
	/* a bad Content-MD5: nothing stored */
	r = req("PUT", "/bkt/md5", "Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==\r\n", "abc", 3);
	cr_assert_eq(r->status, 400, "%s", r->raw);
	cr_assert(body_has(r, "<Code>BadDigest</Code>"));
	struct ns_attr a;
	cr_assert_eq(ns_find("bkt/md5", &a), -ENOENT);
	/* not implemented, and a fast 4xx for IAM calls */
	r = req("GET", "/bkt?acl", NULL, NULL, 0);
	cr_assert_eq(r->status, 501);
	cr_assert(body_has(r, "<Code>NotImplemented</Code>"));
	cr_assert_eq(req("POST", "/", NULL, "Action=ListRoles", 16)->status, 405);
	/* alive */
	cr_assert_eq(req("GET", "/", NULL, NULL, 0)->status, 200);
}

Test(s3_ops, permissions)
{
	struct resp *r;
	mkbucket("rootb");     /* as uid 0: 0755 */
	cr_assert_eq(put("/rootb/secret", "s", NULL), 200);
	struct ns_attr a;
	struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	struct ns_setattr sa = { .valid = NS_SET_MODE, .mode = 0600 };
	cr_assert_eq(ns_find("rootb/secret", &a), 0);
	cr_assert_eq(ns_setattr(N, &root, a.ino, &sa, NULL, &a), 0);
	who = 1000;
	r = req("GET", "/rootb/secret", NULL, NULL, 0);
	cr_assert_eq(r->status, 403);
	cr_assert(body_has(r, "<Code>AccessDenied</Code>"));
	cr_assert_eq(put("/rootb/mine", "x", NULL), 403);
	cr_assert_eq(req("DELETE", "/rootb/secret", NULL, NULL, 0)->status, 403);
	/* the store root is root's 0755: no buckets for uid 1000 */
	cr_assert_eq(req("PUT", "/userb", NULL, "", 0)->status, 403);
	/* ListBuckets lists the caller's buckets only */
	r = req("GET", "/", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert_not(body_has(r, "rootb"));
	/* anonymous: refused */
	who = -1;
	r = req("GET", "/rootb/secret", NULL, NULL, 0);
	cr_assert_eq(r->status, 403);
	cr_assert(body_has(r, "<Code>AccessDenied</Code>"));
	who = 0;
	cr_assert_eq(req("GET", "/rootb/secret", NULL, NULL, 0)->status, 200);
}

Test(s3_ops, copy_object)
{
	struct resp *r;
	char v[256];
	struct ns_attr a;
	struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	mkbucket("bkt");
	mkbucket("bk2");
	cr_assert_eq(req("PUT", "/bkt/src", "Content-Type: text/x-src\r\nx-amz-meta-a: 1\r\n",
			 "copy me", 7)->status, 200);
	/* into another bucket and a new directory, metadata copied */
	r = req("PUT", "/bk2/d/dst", "x-amz-copy-source: /bkt/src\r\n", "", 0);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	cr_assert(body_has(r, "<ETag>&quot;"), "%s", r->body);
	r = req("GET", "/bk2/d/dst", NULL, NULL, 0);
	cr_assert_eq(r->blen, 7);
	cr_assert_eq(memcmp(r->body, "copy me", 7), 0);
	cr_assert_str_eq(hdr(r, "Content-Type", v, sizeof(v)), "text/x-src");
	cr_assert_str_eq(hdr(r, "x-amz-meta-a", v, sizeof(v)), "1");
	cr_assert_str_eq(hdr(r, "ETag", v, sizeof(v)), "\"56fe0b1409a5662d70cfedc4555d4771\"");
	/* REPLACE: the request's metadata; encoded source key */
	cr_assert_eq(put("/bkt/sp%20ace", "x", NULL), 200);
	r = req("PUT", "/bkt/rep", "x-amz-copy-source: bkt/sp%20ace\r\n"
		"x-amz-metadata-directive: REPLACE\r\nContent-Type: text/x-new\r\n", "", 0);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	r = req("HEAD", "/bkt/rep", NULL, NULL, 0);
	cr_assert_str_eq(hdr(r, "Content-Type", v, sizeof(v)), "text/x-new");
	/* onto itself without REPLACE: 400; missing source: 404; versions: 501 */
	cr_assert_eq(req("PUT", "/bkt/src", "x-amz-copy-source: /bkt/src\r\n", "", 0)->status, 400);
	r = req("PUT", "/bkt/x", "x-amz-copy-source: /bkt/none\r\n", "", 0);
	cr_assert_eq(r->status, 404);
	cr_assert(body_has(r, "<Code>NoSuchKey</Code>"));
	cr_assert_eq(req("PUT", "/bkt/x", "x-amz-copy-source: /bkt/src?versionId=v1\r\n", "", 0)->status, 501);
	cr_assert_eq(req("PUT", "/bkt/x", "x-amz-copy-source: nobucket\r\n", "", 0)->status, 400);
	/* over a locked object: 403, both intact */
	cr_assert_eq(ns_find("bk2/d/dst", &a), 0);
	const char *ret = "GOVERNANCE +1d";
	cr_assert_eq(ns_setxattr(N, &root, a.ino, "user.worm.retention", ret, strlen(ret), 0), 0);
	r = req("PUT", "/bk2/d/dst", "x-amz-copy-source: /bkt/rep\r\n", "", 0);
	cr_assert_eq(r->status, 403);
	r = req("GET", "/bk2/d/dst", NULL, NULL, 0);
	cr_assert_eq(memcmp(r->body, "copy me", 7), 0);
	/* no read permission on the source */
	struct ns_setattr sa = { .valid = NS_SET_MODE, .mode = 0600 };
	cr_assert_eq(ns_find("bkt/src", &a), 0);
	cr_assert_eq(ns_setattr(N, &root, a.ino, &sa, NULL, &a), 0);
	who = 1000;
	cr_assert_eq(req("PUT", "/bkt/y", "x-amz-copy-source: /bkt/src\r\n", "", 0)->status, 403);
	who = 0;
	int uploads = 0;
	cr_assert_eq(ns_find("bkt", &a), 0);
	cr_assert_eq(ns_readdir(N, a.ino, 0, count_uploads, &uploads), 0);
	cr_assert_eq(uploads, 0);
}

/* ---- s3-gaps: multipart privacy, reserved names (README S3 endpoint) ---- */

/* CreateMultipartUpload of target as uid u: 200 and the upload id. */
static void mpu_create(long u, const char *target, char *id, size_t len)
{
	char t[600];
	long was = who;
	who = u;
	snprintf(t, sizeof(t), "%s?uploads", target);
	struct resp *r = req("POST", t, NULL, "", 0);
	who = was;
	cr_assert_eq(r->status, 200, "create upload %s: %s", target, r->raw);
	const char *p = r->body ? strstr(r->body, "<UploadId>") : NULL;
	cr_assert_not_null(p);
	p += strlen("<UploadId>");
	size_t l = strcspn(p, "<");
	cr_assert_lt(l, len);
	memcpy(id, p, l);
	id[l] = '\0';
}

/* Review: ListMultipartUploads listed every user's uploads, with their
 * access key ids, to anyone who could list the bucket. Now a caller sees
 * its own uploads only; the bucket's owner and root see all. */
Test(s3_ops, list_uploads_only_own_unless_bucket_owner)
{
	struct ns_attr b;
	struct resp *r;
	char id1[64], id2[64], id3[64];
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	struct ns_setattr sa = { .valid = NS_SET_MODE | NS_SET_UID, .mode = 0777, .uid = 2000 };

	mkbucket("mpl");    /* then given to uid 2000, world-writable */
	cr_assert_eq(ns_find("mpl", &b), 0);
	cr_assert_eq(ns_setattr(N, &root, b.ino, &sa, NULL, &b), 0);
	mpu_create(1000, "/mpl/a/k1", id1, sizeof(id1));
	mpu_create(1001, "/mpl/b/k2", id2, sizeof(id2));
	mpu_create(1001, "/mpl/k3", id3, sizeof(id3));

	who = 1000;
	r = req("GET", "/mpl?uploads", NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	cr_assert(body_has(r, "<Key>a/k1</Key>"), "%s", r->body);
	cr_assert(body_has(r, id1));
	cr_assert(body_has(r, "TESTUID1000"));
	cr_assert(!body_has(r, "b/k2") && !body_has(r, "k3") && !body_has(r, id2) &&
		  !body_has(r, id3) && !body_has(r, "TESTUID1001"), "%s", r->body);
	/* nor as a common prefix, nor counted in a page */
	r = req("GET", "/mpl?uploads&delimiter=/", NULL, NULL, 0);
	cr_assert(body_has(r, "<Prefix>a/</Prefix>"), "%s", r->body);
	cr_assert(!body_has(r, "b/"), "%s", r->body);
	r = req("GET", "/mpl?uploads&max-uploads=1", NULL, NULL, 0);
	cr_assert(body_has(r, "<IsTruncated>false</IsTruncated>"), "%s", r->body);
	/* and not usable (as before) */
	char t[200];
	snprintf(t, sizeof(t), "/mpl/k3?uploadId=%s", id3);
	cr_assert_eq(req("GET", t, NULL, NULL, 0)->status, 403);

	who = 1001;
	r = req("GET", "/mpl?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, id2) && body_has(r, id3), "%s", r->body);
	cr_assert(!body_has(r, id1) && !body_has(r, "TESTUID1000"), "%s", r->body);

	/* the bucket's owner and root: all, with the initiators' key ids */
	for (long u = 2000; u >= 0; u -= 2000) {
		who = u;
		r = req("GET", "/mpl?uploads", NULL, NULL, 0);
		cr_assert_eq(r->status, 200);
		cr_assert(body_has(r, id1) && body_has(r, id2) && body_has(r, id3), "%s", r->body);
		cr_assert(body_has(r, "TESTUID1000") && body_has(r, "TESTUID1001"), "%s", r->body);
	}
	who = 0;
}

#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"

/* Review: a plain BUCKET/.s3-multipart (made through the mount before the
 * engine reserved the name: simulated by clearing the staging flag) made
 * every CreateMultipartUpload 403, and its content was read as uploads.
 * Now Create is 409 ReservedNameInUse with what to do, the directory is
 * never read, and renaming it away through the mount makes multipart work. */
Test(s3_ops, plain_multipart_directory_of_an_old_store)
{
	struct ns_attr b, md, ud;
	struct meta_node nd;
	meta_txn *t = NULL;
	struct resp *r;
	char id[64];
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

	mkbucket("old");
	cr_assert_eq(ns_find("old", &b), 0);
	cr_assert_eq(ns_mkdir_staging(N, &root, b.ino, ".s3-multipart", 0777, &md), 0);
	cr_assert_eq(ns_mkdir_staging(N, &root, md.ino, "0123456789abcdef0123456789abcdef",
				      0777, &ud), 0);
	static const char rec[] = "key\0forged\0initiator\0FORGED\0initiated\0" "1";
	cr_assert_eq(ns_setxattr(N, &root, ud.ino, "user.s3.upload", rec, sizeof(rec), 0), 0);
	cr_assert_eq(put("/old/forged", "x", NULL), 200);
	r = req("GET", "/old?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, "FORGED"), "the record is well formed (read while staging)");
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_get(N, t, md.ino, &nd), 0);
	nd.flags &= ~(uint32_t)META_F_STAGING;
	cr_assert_eq(ns_node_put(N, t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(ns_find("old/.s3-multipart", &md), 0);
	cr_assert_eq(md.staging, 0);

	r = req("POST", "/old/k?uploads", NULL, "", 0);
	cr_assert_eq(r->status, 409, "%s", r->raw);
	cr_assert(body_has(r, "<Code>ReservedNameInUse</Code>"), "%s", r->body);
	r = req("GET", "/old?uploads", NULL, NULL, 0);
	cr_assert_eq(r->status, 200);
	cr_assert(!body_has(r, "<Upload>"), "a plain directory is never read: %s", r->body);
	r = req("DELETE", "/old/forged?uploadId=0123456789abcdef0123456789abcdef", NULL, NULL, 0);
	cr_assert_eq(r->status, 404, "%s", r->raw);
	cr_assert(body_has(r, "<Code>NoSuchUpload</Code>"));

	/* the fix the message names: rename it away (allowed, unlike onto it) */
	cr_assert_eq(ns_rename(N, &root, b.ino, ".s3-multipart", b.ino, "old-uploads", 0), 0);
	cr_assert_eq(ns_rename(N, &root, b.ino, "old-uploads", b.ino, ".s3-multipart", 0), -EPERM);
	mpu_create(0, "/old/k", id, sizeof(id));
	cr_assert_eq(ns_find("old/.s3-multipart", &md), 0);
	cr_assert_eq(md.staging, 1);
}

/* Review: a directory named .s3-upload-... (made through the mount) hid
 * the real keys under it from listings; only upload temporaries (files)
 * are hidden. */
Test(s3_ops, upload_prefix_directory_is_listed)
{
	struct ns_attr b, d;
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

	mkbucket("upd");
	cr_assert_eq(ns_find("upd", &b), 0);
	cr_assert_eq(ns_mkdir(N, &root, b.ino, ".s3-upload-dir", 0755, &d), 0);
	cr_assert_eq(put("/upd/.s3-upload-dir/real", "data", NULL), 200);
	struct resp *r = req("GET", "/upd?list-type=2", NULL, NULL, 0);
	cr_assert(body_has(r, "<Key>.s3-upload-dir/real</Key>"), "%s", r->body);
	r = req("GET", "/upd?list-type=2&delimiter=/", NULL, NULL, 0);
	cr_assert(body_has(r, "<Prefix>.s3-upload-dir/</Prefix>"), "%s", r->body);
	cr_assert_eq(req("GET", "/upd/.s3-upload-dir/real", NULL, NULL, 0)->status, 200);
}

/* DeleteBucket of a bucket holding only uploads in progress removes them
 * and the bucket (as AWS does; it was 409), also under a COMPLIANCE
 * default (parts are staging nodes, never locked); with anything else in
 * the bucket, or for a caller who may not delete it, the uploads stay. */
Test(s3_ops, delete_bucket_with_uploads_in_progress)
{
	struct ns_attr b, a;
	struct resp *r;
	char id[64], id2[64], t[300];
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

	mkbucket("dbu");
	cr_assert_eq(ns_find("dbu", &b), 0);
	cr_assert_eq(ns_setxattr(N, &root, b.ino, "user.worm.default-retention", "COMPLIANCE 1d",
				 13, 0), 0);
	mpu_create(0, "/dbu/d/k", id, sizeof(id));
	snprintf(t, sizeof(t), "/dbu/d/k?partNumber=1&uploadId=%s", id);
	cr_assert_eq(put(t, "part one", NULL), 200);
	mpu_create(0, "/dbu/k2", id2, sizeof(id2));
	/* not deletable by this caller: 403, the uploads stay */
	who = 1000;
	cr_assert_eq(req("DELETE", "/dbu", NULL, NULL, 0)->status, 403);
	who = 0;
	cr_assert_eq(ns_find("dbu/.s3-multipart", &a), 0);
	cr_assert(body_has(req("GET", "/dbu?uploads", NULL, NULL, 0), id2));
	/* may delete an empty bucket (the store root is 0777) but does not
	 * own this one: other users' uploads are not his to remove (409) */
	struct ns_setattr sa = { .valid = NS_SET_MODE, .mode = 0777 };
	cr_assert_eq(ns_setattr(N, &root, NS_INO_ROOT, &sa, NULL, &a), 0);
	who = 1000;
	r = req("DELETE", "/dbu", NULL, NULL, 0);
	cr_assert_eq(r->status, 409, "%s", r->raw);
	cr_assert(body_has(r, "<Code>BucketNotEmpty</Code>"));
	who = 0;
	r = req("GET", "/dbu?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, id) && body_has(r, id2), "%s", r->body);
	sa.mode = 0755;
	cr_assert_eq(ns_setattr(N, &root, NS_INO_ROOT, &sa, NULL, &a), 0);
	/* an object too: 409 BucketNotEmpty, the uploads stay */
	cr_assert_eq(put("/dbu/obj", "x", NULL), 200);
	r = req("DELETE", "/dbu", NULL, NULL, 0);
	cr_assert_eq(r->status, 409, "%s", r->raw);
	cr_assert(body_has(r, "<Code>BucketNotEmpty</Code>"));
	r = req("GET", "/dbu?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, id) && body_has(r, id2), "%s", r->body);

	/* only uploads: 204, all gone */
	mkbucket("dbv");
	mpu_create(0, "/dbv/k", id, sizeof(id));
	snprintf(t, sizeof(t), "/dbv/k?partNumber=1&uploadId=%s", id);
	cr_assert_eq(put(t, "part", NULL), 200);
	mpu_create(0, "/dbv/a/b", id2, sizeof(id2));
	cr_assert_eq(ns_find("dbv", &b), 0);
	cr_assert_eq(ns_setxattr(N, &root, b.ino, "user.worm.default-retention", "COMPLIANCE 1d",
				 13, 0), 0);
	r = req("DELETE", "/dbv", NULL, NULL, 0);
	cr_assert_eq(r->status, 204, "%s", r->raw);
	cr_assert_eq(ns_find("dbv", &a), -ENOENT);
	cr_assert_eq(req("HEAD", "/dbv", NULL, NULL, 0)->status, 404);
}

/* Review (rv-s3g): DeleteBucket removed the uploads first and found out
 * only then that the bucket could not go (anything but uploads in
 * .s3-multipart: here a directory root made there through the mount): 409
 * BucketNotEmpty with every upload in progress destroyed. Now nothing is
 * removed unless every entry there is an upload this request could claim. */
Test(s3_ops, delete_bucket_keeps_uploads_when_it_cannot_go)
{
	struct ns_attr md, x;
	struct resp *r;
	char id[64], t[300];
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };

	mkbucket("dbk");
	mpu_create(0, "/dbk/k", id, sizeof(id));
	snprintf(t, sizeof(t), "/dbk/k?partNumber=1&uploadId=%s", id);
	cr_assert_eq(put(t, "part", NULL), 200);
	cr_assert_eq(ns_find("dbk/.s3-multipart", &md), 0);
	cr_assert_eq(ns_mkdir(N, &root, md.ino, "notes", 0700, &x), 0);

	r = req("DELETE", "/dbk", NULL, NULL, 0);
	cr_assert_eq(r->status, 409, "%s", r->raw);
	cr_assert(body_has(r, "<Code>BucketNotEmpty</Code>"), "%s", r->body);
	r = req("GET", "/dbk?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, id), "the upload was removed: %s", r->body);
	snprintf(t, sizeof(t), "/dbk/k?uploadId=%s", id);
	r = req("GET", t, NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "ListParts: %s", r->raw);

	/* the obstacle gone: DeleteBucket works, the upload with it */
	cr_assert_eq(ns_rmdir(N, &root, md.ino, "notes"), 0);
	cr_assert_eq(req("DELETE", "/dbk", NULL, NULL, 0)->status, 204);
	cr_assert_eq(ns_find("dbk", &x), -ENOENT);
}

/* Review (rv-s3g): one uid may hold several access keys; ListMultipartUploads
 * shows a non-owner the uploads of its uid but the initiator's key id only
 * when it is the caller's own (the record is rewritten here as if another
 * key of uid 1000 had made the upload). */
Test(s3_ops, list_uploads_hides_the_uids_other_access_keys)
{
	struct ns_attr b, u;
	struct resp *r;
	char id[64], path[128];
	const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
	struct ns_setattr sa = { .valid = NS_SET_MODE | NS_SET_UID, .mode = 0777, .uid = 2000 };

	mkbucket("mpk");
	cr_assert_eq(ns_find("mpk", &b), 0);
	cr_assert_eq(ns_setattr(N, &root, b.ino, &sa, NULL, &b), 0);
	mpu_create(1000, "/mpk/k", id, sizeof(id));
	snprintf(path, sizeof(path), "mpk/.s3-multipart/%s", id);
	cr_assert_eq(ns_find(path, &u), 0);
	static const char rec[] = "key\0k\0initiator\0SECONDKEYOF1000\0initiated\0" "1";
	cr_assert_eq(ns_setxattr(N, &root, u.ino, "user.s3.upload", rec, sizeof(rec), 0), 0);

	who = 1000;
	r = req("GET", "/mpk?uploads", NULL, NULL, 0);
	cr_assert_eq(r->status, 200, "%s", r->raw);
	cr_assert(body_has(r, id), "its uid's upload is listed: %s", r->body);
	cr_assert(!body_has(r, "SECONDKEYOF1000"), "another key's id shown: %s", r->body);
	who = 2000;
	r = req("GET", "/mpk?uploads", NULL, NULL, 0);
	cr_assert(body_has(r, "SECONDKEYOF1000"), "the bucket owner sees it: %s", r->body);
	who = 0;
}
