/* s3_server: HTTP for the S3 front end, over GNU libmicrohttpd (the only
 * file that includes microhttpd.h). An internal thread pool on epoll
 * serves requests; each request becomes a struct s3_request that the
 * operations fill with a response. Bodies arrive in pieces no larger than
 * the connection's buffer (MHD_OPTION_CONNECTION_MEMORY_LIMIT), so a
 * request holds a bounded amount of memory whatever the object size.
 * Errors found before the body (routing, authentication, a refused PUT)
 * are answered at once, so a client that sent Expect: 100-continue gets
 * the final status instead of 100 and never sends the body. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <microhttpd.h>

#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "s3.h"
#include "s3_keycache.h"
#include "s3_priv.h"

#define S3_CONN_MEMORY (256u << 10)   /* per connection: headers + buffer */
#define S3_CONN_TIMEOUT 120           /* default seconds a connection may idle */
#define S3_MAX_QKEYS 64
#define S3_READ_BLOCK (64u << 10)    /* GetObject: bytes per read_body call */
#define S3_PEM_MAX (1u << 20)
#define S3_PER_IP_MAX 64              /* connections one address may hold */
/* Descriptors S3 connections leave to the rest (with a quarter of the
 * open files limit): the content files, block maps and journals of
 * requests through the mount and S3, LMDB, the FUSE device, the control
 * socket, the log. */
#define S3_FD_RESERVE 64
/* libmicrohttpd out of descriptors with no connection on a thread: that
 * thread's pause before it tries accept() again (see mhd_log). */
#define S3_EMFILE_PAUSE_NS 100000000L
/* Users whose signing key is kept (s3_keycache.h): one entry is a few
 * hundred bytes of secure memory plus the user; past it the least recently
 * used goes (a miss costs one KMS unseal). */
#define S3_KEYCACHE_MAX 64

struct s3_server {
	struct MHD_Daemon *d;
	ns *n;
	struct s3_params p;
	unsigned port;
	_Atomic uint64_t next_id;
	struct s3_mpu_busy *mpu_busy;
	uint64_t id_salt;
	char *cert, *key;        /* PEM text, for MHD's GnuTLS */
	s3_keycache *keys;       /* derived signing keys per access key */
	_Atomic int64_t emfile_logged;       /* monotonic ns: the last "out of descriptors" */
	_Atomic int64_t accept_err_logged;   /* and the last accept error logged */
};

/* ---- request accessors (s3_request's lookup functions) ---------------- */

static const char *lookup_value(void *conn, int kind, const char *name)
{
	return MHD_lookup_connection_value(conn, kind ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND,
					   name);
}

struct hdr_acc {
	struct sigv4_header *h;
	size_t n, max;
	int overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct hdr_acc *a = cls;
	(void)kind;
	if (a->n == a->max) {
		a->overflow = 1;
		return MHD_NO;
	}
	a->h[a->n].name = key;
	a->h[a->n].value = value ? value : "";
	a->n++;
	return MHD_YES;
}

static int all_headers(void *conn, struct sigv4_header *h, size_t max)
{
	struct hdr_acc a = { h, 0, max, 0 };
	(void)MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &a);
	return a.overflow ? -E2BIG : (int)a.n;
}

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct s3_request *r = cls;
	if (pos >= r->rlen)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = r->rlen - pos < max ? (size_t)(r->rlen - pos) : max;
	if (n > S3_STREAM_CHUNK)
		n = S3_STREAM_CHUNK;
	ssize_t k = ns_read(r->n, r->rh, buf, n, r->roff + pos);
	if (k <= 0) {
		/* a block failing authentication (or the object cut short
		 * meanwhile): drop the connection, never send bad data */
		wlog(WLOG_WARN, "s3 GetObject read failed at %llu: %s",
		     (unsigned long long)(r->roff + pos), k ? strerror((int)-k) : "short object");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	stats_add_read(ns_stats(r->n), (uint64_t)k);
	return k;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct s3_request *r)
{
	struct MHD_Response *resp;
	int has_ct = 0;

	/* What this request changed is out of the mount's kernel caches
	 * before the client hears of it (a file read through the mount after
	 * the answer shows the new object, a deleted key is ENOENT). Here no
	 * ns lock is held and no FUSE request is being handled. */
	ns_drain_inval(r->n);
	if (r->rh) {
		/* MHD callocs the block with the response: a small object's
		 * own size, not 64 KiB zeroed per request */
		size_t block = r->rlen < S3_READ_BLOCK ? (size_t)r->rlen : S3_READ_BLOCK;
		resp = MHD_create_response_from_callback(r->rlen, block ? block : 1, read_body, r,
							 NULL);
	} else
		resp = MHD_create_response_from_buffer(r->out.len, r->out.p ? r->out.p : (void *)"",
						       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	for (size_t i = 0; i < r->nhdr; i++) {
		if (strcasecmp(r->hdr[i].name, "Content-Type") == 0)
			has_ct = 1;
		/* MHD refuses an empty value; a blank is optional whitespace
		 * around an empty field value (RFC 7230 3.2): an empty
		 * x-amz-meta-* stays there, empty, as S3 returns it */
		(void)MHD_add_response_header(resp, r->hdr[i].name,
					      r->hdr[i].value[0] ? r->hdr[i].value : " ");
	}
	if (!has_ct && r->out.len)
		(void)MHD_add_response_header(resp, "Content-Type", "application/xml");
	(void)MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
	(void)MHD_add_response_header(resp, "Server", "wormfs");
	stats_s3_request(ns_stats(r->n), r->status ? r->status : 500);
	enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status : 500, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- request flow -------------------------------------------------------- */

struct qkeys {
	const char *k[S3_MAX_QKEYS];
	size_t n;
	int overflow;
};

static enum MHD_Result collect_key(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct qkeys *q = cls;
	(void)kind;
	(void)value;
	if (q->n == S3_MAX_QKEYS) {
		q->overflow = 1;
		return MHD_NO;
	}
	q->k[q->n++] = key;
	return MHD_YES;
}

static void dispatch(struct s3_request *r)
{
	switch (r->route.op) {
	case S3_OP_LIST_BUCKETS: s3_op_list_buckets(r); break;
	case S3_OP_CREATE_BUCKET: s3_op_create_bucket(r); break;
	case S3_OP_HEAD_BUCKET: s3_op_head_bucket(r); break;
	case S3_OP_DELETE_BUCKET: s3_op_delete_bucket_uploads(r); break;
	case S3_OP_GET_BUCKET_LOCATION: s3_op_get_bucket_location(r); break;
	case S3_OP_LIST_OBJECTS: s3_op_list_objects(r, 0); break;
	case S3_OP_LIST_OBJECTS_V2: s3_op_list_objects(r, 1); break;
	case S3_OP_DELETE_OBJECTS: s3_op_delete_objects(r); break;
	case S3_OP_PUT_OBJECT: s3_put_end(r); break;
	case S3_OP_GET_OBJECT: s3_op_get_object(r, 0); break;
	case S3_OP_HEAD_OBJECT: s3_op_get_object(r, 1); break;
	case S3_OP_DELETE_OBJECT: s3_op_delete_object(r); break;
	case S3_OP_COPY_OBJECT: s3_op_copy_object(r); break;
	case S3_OP_CREATE_MPU: s3_op_create_mpu(r); break;
	case S3_OP_UPLOAD_PART: s3_put_end(r); break;
	case S3_OP_UPLOAD_PART_COPY: s3_op_upload_part_copy(r); break;
	case S3_OP_COMPLETE_MPU: s3_op_complete_mpu(r); break;
	case S3_OP_ABORT_MPU: s3_op_abort_mpu(r); break;
	case S3_OP_LIST_PARTS: s3_op_list_parts(r); break;
	case S3_OP_LIST_MPUS: s3_op_list_mpus(r); break;
	default: s3_fail_code(r, S3E_NOT_IMPLEMENTED, NULL); break;
	}
}

/* The first call of a request: route, authenticate, and start a body
 * operation. Sets a response when the request ends here. */
static void begin(struct s3_server *s, struct s3_request *r)
{
	struct qkeys q = { .n = 0 };
	int rc;

	/* A raw space is no valid request-target, and the unescape callback
	 * reads every space as a query's '+' (see there). */
	if (r->target && strchr(r->target, ' ')) {
		s3_fail_code(r, S3E_INVALID_REQUEST, "a space in the request-target must be escaped");
		return;
	}
	(void)MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_key, &q);
	if (q.overflow) {
		s3_fail_code(r, S3E_INVALID_REQUEST, "too many query parameters");
		return;
	}
	rc = s3_route(r->method, s3_req_header(r, "Host"), s->p.base_domain, r->path,
		      q.k, q.n, r->routebuf, sizeof(r->routebuf), &r->route);
	if (rc == -ENOSYS) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED, NULL);
		return;
	}
	if (rc == -EOPNOTSUPP) {
		s3_fail_code(r, S3E_METHOD_NOT_ALLOWED, NULL);
		return;
	}
	if (rc == -ENAMETOOLONG) {
		s3_fail_code(r, S3E_KEY_TOO_LONG, NULL);
		return;
	}
	if (rc) {
		s3_fail_code(r, S3E_INVALID_REQUEST, "no S3 operation matches this request");
		return;
	}
	if (r->route.op == S3_OP_LIST_OBJECTS_V2) {
		const char *lt = s3_req_arg(r, "list-type");
		if (!lt || strcmp(lt, "2") != 0) {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "list-type must be 2");
			return;
		}
	}
	if (r->route.op == S3_OP_PUT_OBJECT && s3_req_header(r, "x-amz-copy-source"))
		r->route.op = S3_OP_COPY_OBJECT;
	if (r->route.op == S3_OP_UPLOAD_PART && s3_req_header(r, "x-amz-copy-source"))
		r->route.op = S3_OP_UPLOAD_PART_COPY;
	r->mpu_busy = s->mpu_busy;
	const char *cl = s3_req_header(r, "Content-Length");
	if (cl) {
		char *e;
		errno = 0;
		unsigned long long v = strtoull(cl, &e, 10);
		if (errno || e == cl || *e || cl[0] == '-') {
			s3_fail_code(r, S3E_INVALID_ARGUMENT, "bad Content-Length");
			return;
		}
		r->has_length = 1;
		r->content_length = v;
	}

	/* Who asks */
	if (s3_auth_request(r, s->p.test_principal, s->p.test_principal_arg))
		return;
	r->now_ns = ns_clock_now(r->n);

	switch (r->route.op) {
	case S3_OP_PUT_OBJECT:
		(void)s3_put_begin(r);
		break;
	case S3_OP_UPLOAD_PART:
		(void)s3_part_begin(r);
		break;
	case S3_OP_DELETE_OBJECTS:
	case S3_OP_CREATE_BUCKET:
	case S3_OP_COMPLETE_MPU:
		if (r->has_length && r->content_length > S3_XML_BODY_MAX) {
			s3_fail_code(r, S3E_MALFORMED_XML, "request body too large");
			return;
		}
		s3_buf_init(&r->body, S3_XML_BODY_MAX);
		break;
	default:
		break;
	}
}

/* XML request bodies are kept whole, up to S3_XML_BODY_MAX. */
static int xml_sink(void *arg, const void *data, size_t len)
{
	struct s3_request *r = arg;
	s3_buf_put(&r->body, data, len);
	if (r->body.failed) {
		s3_fail_code(r, S3E_MALFORMED_XML, "request body too large");
		return -EMSGSIZE;
	}
	return 0;
}

/* Called once per request, before the headers are parsed, with the
 * request-target exactly as sent (SigV4 signs it so): the request object
 * starts here and ends in on_completed. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct s3_server *s = cls;
	struct s3_request *r = calloc(1, sizeof(*r));
	(void)con;
	if (!r)
		return NULL;
	r->target = strdup(uri);
	if (!r->target) {
		free(r);
		return NULL;
	}
	uint64_t id = atomic_fetch_add(&s->next_id, 1) ^ s->id_salt;
	snprintf(r->request_id, sizeof(r->request_id), "%016llX", (unsigned long long)id);
	/* nobody until authenticated (what a refusal before that logs) */
	r->pr.caller.uid = r->pr.caller.gid = 65534;
	r->pr.anonymous = 1;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct s3_server *s = cls;
	struct s3_request *r = *con_cls;
	(void)version;

	if (!r)
		return MHD_NO;   /* the URI callback could not allocate */
	if (!r->started) {
		r->started = 1;
		r->n = s->n;
		r->params = &s->p;
		r->keys = s->keys;
		r->conn = conn;
		r->lookup = lookup_value;
		r->headers = all_headers;
		r->method = method;
		r->path = url;
		begin(s, r);
		if (r->responded)
			return send_response(conn, r);   /* before any body */
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->responded)
			return MHD_YES;   /* an error is set: the rest is dropped */
		if (r->route.op == S3_OP_PUT_OBJECT || r->route.op == S3_OP_UPLOAD_PART)
			(void)s3_put_data(r, upload_data, n);
		else if (r->route.op == S3_OP_DELETE_OBJECTS ||
			 r->route.op == S3_OP_CREATE_BUCKET || r->route.op == S3_OP_COMPLETE_MPU)
			(void)s3_body_feed(r, upload_data, n, xml_sink, r);
		/* a body on other operations is read and ignored */
		return MHD_YES;
	}
	if (!r->responded)
		dispatch(r);
	return send_response(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct s3_request *r = *con_cls;
	(void)cls;
	(void)conn;
	if (!r)
		return;
	if (r->put)
		s3_put_abort(r);   /* dropped mid-body: nothing becomes visible */
	if (r->rh) {
		worm_discard(ns_release(r->n, r->rh));
		r->rh = NULL;
	}
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
		wlog(WLOG_DEBUG, "s3 request %s ended early (%d)", r->request_id, (int)toe);
	s3_resp_clear(r);
	s3_buf_free(&r->body);
	sigv4_body_free(r->sb);
	free(r->target);
	free(r);
	*con_cls = NULL;
}

/* Percent-decoding of the path and query, as SigV4's canonical form
 * decodes them (sigv4_canon.c), so that what is signed is what is served:
 * only '%' with two hex digits is an escape (strtoul alone would take
 * "%\v1" for the byte 1: another key under the same signature). A %00
 * becomes the byte 0xFF, which no UTF-8 key holds: such a key is refused
 * (400) instead of being cut at the NUL into another key. MHD has turned a
 * query's '+' into ' ' before this call; SigV4 signs a '+' as itself, so it
 * is put back (no raw space reaches here: begin refuses one). */
static int hexd(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *w = s;
	(void)cls;
	(void)c;
	for (char *p = s; *p; p++) {
		if (p[0] == '%' && hexd(p[1]) && hexd(p[2])) {
			char hex[3] = { p[1], p[2], 0 };
			unsigned long v = strtoul(hex, NULL, 16);
			*w++ = v ? (char)v : (char)0xff;
			p += 2;
			continue;
		}
		*w++ = *p == ' ' ? '+' : *p;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* Out of descriptors (EMFILE), a libmicrohttpd thread that holds
 * connections stops accepting until one of them closes; one that holds
 * none says so in this message and tries accept() again at once, for as
 * long as a client waits and no descriptor frees up: a core busy (review
 * of hostile sizes: test_s3_fdlimit.sh). The message is logged from that
 * thread's accept path, which has nothing else to serve: it pauses there.
 * Its text is libmicrohttpd's (0.9.x); the test catches a change. */
static const char mhd_emfile_idle[] = "Hit process or system resource limit at FIRST connection";
static const char mhd_accept_err[] = "Error accepting connection";

/* At most once a minute per *last (monotonic ns): 1 to log now. */
static int log_due(_Atomic int64_t *last)
{
	int64_t now = clock_monotonic_ns(), l = atomic_load(last);
	if (l && now - l < 60 * (int64_t)1000000000)
		return 0;
	return atomic_compare_exchange_strong(last, &l, now);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct s3_server *s = cls;
	char msg[512];

	if (!strncmp(fmt, mhd_emfile_idle, sizeof(mhd_emfile_idle) - 1)) {
		struct timespec ts = { 0, S3_EMFILE_PAUSE_NS };
		nanosleep(&ts, NULL);
		if (log_due(&s->emfile_logged))
			wlog(WLOG_ERR, "s3: out of file descriptors: new connections wait (raise "
			     "the daemon's open files limit: ulimit -n, LimitNOFILE=)");
		return;
	}
	/* Each failed try says so: once a minute. */
	if (!strncmp(fmt, mhd_accept_err, sizeof(mhd_accept_err) - 1) &&
	    !log_due(&s->accept_err_logged))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t l = strlen(msg);
	while (l && msg[l - 1] == '\n')
		msg[--l] = '\0';
	wlog(WLOG_INFO, "s3 http: %s", msg);
}

/* ---- start and stop ------------------------------------------------------ */

static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		int e = errno;
		wlog_seterr(err, errlen, "s3: cannot read %s: %s", path, strerror(e));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > S3_PEM_MAX) {
		close(fd);
		wlog_seterr(err, errlen, "s3: %s: not a PEM file of 1 byte..1 MiB", path);
		return -EINVAL;
	}
	char *b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, b + got, (size_t)st.st_size - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		wlog_seterr(err, errlen, "s3: %s: short read", path);
		return -EINVAL;
	}
	b[got] = '\0';
	*out = b;
	return 0;
}

static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
		   char *err, size_t errlen)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *ai = NULL;

	if (listen[0] == '[') {
		const char *e = strchr(listen, ']');
		if (!e || e[1] != ':' || (size_t)(e - listen - 1) >= sizeof(host))
			goto bad;
		memcpy(host, listen + 1, (size_t)(e - listen - 1));
		host[e - listen - 1] = '\0';
		port = e + 2;
	} else {
		const char *c = strrchr(listen, ':');
		if (!c || (size_t)(c - listen) >= sizeof(host) || c == listen)
			goto bad;
		memcpy(host, listen, (size_t)(c - listen));
		host[c - listen] = '\0';
		port = c + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc || !ai) {
		wlog_seterr(err, errlen, "s3: listen address '%s': %s", listen, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sl = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	wlog_seterr(err, errlen, "s3: listen address '%s': expected HOST:PORT or [V6]:PORT",
		    listen);
	return -EINVAL;
}

int s3_start(ns *n, const struct s3_params *p, s3_server **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int rc;

	*out = NULL;
	if ((rc = resolve(p->listen, &ss, &sl, err, errlen)))
		return rc;
	if (!!p->tls_cert[0] != !!p->tls_key[0]) {
		wlog_seterr(err, errlen, "s3: tls_cert and tls_key go together");
		return -EINVAL;
	}
	struct s3_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n;
	s->p = *p;
	if (!s->p.region[0])
		strcpy(s->p.region, "us-east-1");
	if (s->p.threads < 1)
		s->p.threads = 1;
	if (s->p.max_connections < 1)
		s->p.max_connections = 256;
	if (s->p.idle_timeout < 1)
		s->p.idle_timeout = S3_CONN_TIMEOUT;
	wcrypto_random(&s->id_salt, sizeof(s->id_salt));
	if ((rc = s3_keycache_new(S3_KEYCACHE_MAX, &s->keys))) {
		free(s);
		return rc;
	}
	s->mpu_busy = s3_mpu_busy_new();
	if (!s->mpu_busy) {
		s3_keycache_free(s->keys);
		free(s);
		return -ENOMEM;
	}
	if (p->tls_cert[0]) {
		if ((rc = read_pem(p->tls_cert, &s->cert, err, errlen)) ||
		    (rc = read_pem(p->tls_key, &s->key, err, errlen))) {
			s3_stop(s);
			return rc;
		}
		flags |= MHD_USE_TLS;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Connections below the open files limit (main.c raised the soft
	 * limit to the hard one), so that they never take the descriptors the
	 * mount and the requests need (before, idle connections, which need
	 * no credentials, made every open through the mount fail with
	 * ENFILE); more wait in the kernel's backlog. */
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur != RLIM_INFINITY) {
		rlim_t keep = S3_FD_RESERVE + nofile.rlim_cur / 4;
		rlim_t room = nofile.rlim_cur > keep ? nofile.rlim_cur - keep : 0;
		if (room < s->p.threads)
			room = s->p.threads;   /* one per thread at least */
		if (room < s->p.max_connections) {
			wlog(WLOG_WARN, "s3: max_connections %u lowered to %u: the daemon's open "
			     "files limit is %llu (ulimit -n, LimitNOFILE=); %llu are kept for "
			     "the mount and the store", s->p.max_connections, (unsigned)room,
			     (unsigned long long)nofile.rlim_cur, (unsigned long long)keep);
			s->p.max_connections = (unsigned)room;
		}
	}
	/* One address may not hold every connection (idle ones last up to
	 * S3_CONN_TIMEOUT, a byte now and then keeps them, no credentials
	 * needed): at most S3_PER_IP_MAX, and a quarter always left to others. */
	unsigned per_ip = s->p.max_connections - s->p.max_connections / 4;
	if (per_ip > S3_PER_IP_MAX)
		per_ip = S3_PER_IP_MAX;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s },   /* first: MHD wants it so */
		{ MHD_OPTION_SOCK_ADDR, 0, &ss },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->p.threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->p.max_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->p.idle_timeout, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)S3_CONN_MEMORY, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, s },
		{ s->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert },
		{ s->key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->d) {
		int e = errno ? errno : EADDRINUSE;
		wlog_seterr(err, errlen, "s3: cannot serve on %s%s: %s", p->listen,
			    s->cert ? " (TLS: check tls_cert and tls_key)" : "", strerror(e));
		s3_stop(s);
		return -e;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	wlog(WLOG_INFO, "s3: serving on %s (port %u%s)", p->listen, s->port,
	     s->cert ? ", TLS" : "");
	*out = s;
	return 0;
}

unsigned s3_port(const s3_server *s)
{
	return s ? s->port : 0;
}

void s3_stop(s3_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	s3_mpu_busy_free(s->mpu_busy);
	if (s->key) {
		wcrypto_wipe(s->key, strlen(s->key));
		free(s->key);
	}
	free(s->cert);
	s3_keycache_free(s->keys);   /* after the last request */
	free(s);
}
