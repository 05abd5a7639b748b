/* s3: the S3 REST front end (design Part II section 11), a second caller
 * of ns beside fs.c. It never decides a lock rule: ns does. It checks
 * Unix mode bits itself against the request's principal (ns.h,
 * PERMISSIONS), because no kernel does that for it.
 *
 * Files, one concept each: s3_server (HTTP over libmicrohttpd: the only
 * file that includes microhttpd.h), s3_route (host/path/query ->
 * operation), s3_xml (response writer with escaping, request parsing with
 * expat), s3_error (-errno -> S3 code and status), s3_key (key <-> path
 * rules), s3_perm (mode bits), s3_req (request accessors, responses),
 * s3_auth (SigV4 and users), s3_ns (names to inodes), s3_meta (stored
 * headers, ETag), s3_bucket, s3_object, s3_list, s3_multipart (uploads),
 * s3_parts (their parts) (operations), s3_stale (cut-off uploads removed
 * at start).
 *
 * Functions return 0 or -errno unless they say otherwise. */
#ifndef WORMFS_S3_H
#define WORMFS_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ns.h"

/* ---- operations and routing (s3_route.c, pure) -------------------------- */

enum s3_op {
	S3_OP_NONE = 0,          /* routing refused the request: see err */
	S3_OP_LIST_BUCKETS,      /* GET / */
	S3_OP_CREATE_BUCKET,     /* PUT /b */
	S3_OP_HEAD_BUCKET,       /* HEAD /b */
	S3_OP_DELETE_BUCKET,     /* DELETE /b */
	S3_OP_GET_BUCKET_LOCATION, /* GET /b?location */
	S3_OP_LIST_OBJECTS,      /* GET /b (v1) */
	S3_OP_LIST_OBJECTS_V2,   /* GET /b?list-type=2 */
	S3_OP_DELETE_OBJECTS,    /* POST /b?delete */
	S3_OP_PUT_OBJECT,        /* PUT /b/k */
	S3_OP_GET_OBJECT,        /* GET /b/k */
	S3_OP_HEAD_OBJECT,       /* HEAD /b/k */
	S3_OP_DELETE_OBJECT,     /* DELETE /b/k */
	S3_OP_COPY_OBJECT,       /* PUT /b/k with x-amz-copy-source (the
				    server sets it: routing sees no headers) */
	/* multipart upload (s3_multipart.c, s3_parts.c) */
	S3_OP_CREATE_MPU,        /* POST /b/k?uploads */
	S3_OP_UPLOAD_PART,       /* PUT /b/k?partNumber=N&uploadId=U */
	S3_OP_UPLOAD_PART_COPY,  /* the same with x-amz-copy-source (server) */
	S3_OP_COMPLETE_MPU,      /* POST /b/k?uploadId=U */
	S3_OP_ABORT_MPU,         /* DELETE /b/k?uploadId=U */
	S3_OP_LIST_PARTS,        /* GET /b/k?uploadId=U */
	S3_OP_LIST_MPUS,         /* GET /b?uploads */
	S3_OP__COUNT
};
const char *s3_op_name(enum s3_op op);

/* Where a request goes. bucket and key are the caller's buffers (see
 * s3_route); key is "" for bucket-level requests. */
struct s3_route {
	enum s3_op op;
	char *bucket;            /* NULL for service-level (ListBuckets) */
	char *key;               /* never NULL after a 0 return */
	int vhost;               /* bucket came from the Host header */
};

/* Route one request. method: the HTTP method; host: the Host header (may
 * be NULL; a port is ignored); base_domain: virtual-host base (a Host of
 * BUCKET.base_domain names the bucket, else path style); path: the
 * decoded request path, starting with '/'; qkeys/nq: the query parameter
 * names present. path is copied into buf (buflen bytes), which then holds
 * bucket and key. Errors: -ENOSYS a subresource or method S3 has that
 * this server does not implement (501 NotImplemented); -EINVAL a request
 * no S3 operation matches (400 InvalidRequest, or 405 for an unknown
 * method: -EOPNOTSUPP); -ENAMETOOLONG path over buflen. */
int s3_route(const char *method, const char *host, const char *base_domain,
	     const char *path, const char *const *qkeys, size_t nq,
	     char *buf, size_t buflen, struct s3_route *out);

/* ---- keys <-> paths (s3_key.c, pure) ------------------------------------ */

#define S3_KEY_MAX 1024

#define S3_KEY_MAXCOMPS 512
/* Split key (len bytes, may hold no NUL) into path components, copied into
 * buf (>= len + 1 bytes); comps gets pointers into buf. *is_dir: 1 when
 * the key ends in '/' (a directory key). Returns the component count.
 * -EINVAL: empty key, not UTF-8 or a NUL byte, an empty component ("a//b", "/a"), "."
 * or ".." components, a component over 255 bytes, a key over 1024 bytes
 * (S3's InvalidArgument: no path can hold it). */
int s3_key_split(const char *key, size_t len, char *buf, char **comps, int maxcomps,
		 int *is_dir);
/* Length of the UTF-8 sequence at s (n >= 1 bytes left): 1-4, or 0 when
 * it is not one (overlong, a surrogate, past U+10FFFF, cut short). */
size_t s3_utf8_len(const unsigned char *s, size_t n);

/* ---- errors (s3_error.c, pure) ----------------------------------------- */

struct s3_error {
	unsigned status;         /* HTTP status */
	const char *code;        /* S3 error code, e.g. "NoSuchKey" */
	const char *message;     /* a default message */
};
/* Codes the operations name directly. */
enum s3_err {
	S3E_ACCESS_DENIED, S3E_NO_SUCH_BUCKET, S3E_NO_SUCH_KEY, S3E_BUCKET_EXISTS,
	S3E_BUCKET_NOT_EMPTY, S3E_INVALID_BUCKET_NAME, S3E_INVALID_ARGUMENT,
	S3E_INVALID_REQUEST, S3E_MALFORMED_XML, S3E_NOT_IMPLEMENTED,
	S3E_METHOD_NOT_ALLOWED, S3E_INTERNAL, S3E_SLOW_DOWN, S3E_INVALID_RANGE,
	S3E_PRECONDITION_FAILED, S3E_NOT_MODIFIED, S3E_KEY_TOO_LONG,
	S3E_ENTITY_TOO_LARGE, S3E_MISSING_LENGTH, S3E_INCOMPLETE_BODY,
	S3E_PARENT_IS_OBJECT, S3E_KEY_IS_DIRECTORY, S3E_INVALID_DIGEST,
	S3E_BAD_DIGEST, S3E_SERVICE_UNAVAILABLE, S3E_INVALID_ACCESS_KEY,
	S3E_SIGNATURE_MISMATCH,
	/* multipart upload */
	S3E_NO_SUCH_UPLOAD, S3E_INVALID_PART, S3E_INVALID_PART_ORDER, S3E_ENTITY_TOO_SMALL,
	S3E_OPERATION_ABORTED,
	/* conditional writes */
	S3E_CONDITIONAL_CONFLICT,
	S3E__COUNT
};
const struct s3_error *s3_error_get(enum s3_err e);
/* An ns error on an object or bucket call -> the S3 error: -ENOENT ->
 * notfound (NoSuchKey or NoSuchBucket, the caller's choice); -EPERM/
 * -EACCES -> AccessDenied (lock refusals and mode bits); -EAGAIN ->
 * SlowDown (503; a KMS quota); -ENOSPC/-EDQUOT -> 507? no: S3 has none,
 * so 503 ServiceUnavailable; -EBUSY -> 409 OperationAborted style
 * (a write in progress); -EINVAL/-ENAMETOOLONG -> InvalidArgument;
 * -ENOTDIR -> 409 ParentIsObject; -EISDIR -> 409 KeyIsDirectory;
 * -ENOTEMPTY -> BucketNotEmpty; -EEXIST -> BucketAlreadyOwnedByYou;
 * anything else -> 500 InternalError. */
const struct s3_error *s3_error_from_errno(int err, enum s3_err notfound);

/* ---- XML (s3_xml.c) ----------------------------------------------------- */

/* A growing text buffer. On allocation failure it remembers the failure
 * (failed = 1) and keeps its old text; the caller checks once at the end. */
struct s3_buf {
	char *p;
	size_t len, cap;
	size_t limit;            /* 0: no limit; else at most this many bytes */
	int failed;
};
void s3_buf_init(struct s3_buf *b, size_t limit);
void s3_buf_free(struct s3_buf *b);
void s3_buf_put(struct s3_buf *b, const void *s, size_t n);
void s3_buf_puts(struct s3_buf *b, const char *s);
void s3_buf_printf(struct s3_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s escaped for XML text and attribute values: & < > " ' as entities,
 * tab, LF and CR as character references (kept exactly); what XML 1.0
 * cannot carry (other C0 controls, invalid UTF-8, U+FFFE, U+FFFF)
 * becomes U+FFFD. */
void s3_xml_text(struct s3_buf *b, const char *s, size_t n);
/* <name>escaped value</name> */
void s3_xml_elem(struct s3_buf *b, const char *name, const char *value);
/* The XML declaration. */
void s3_xml_start(struct s3_buf *b);
/* A complete S3 error document. */
void s3_xml_error(struct s3_buf *b, const char *code, const char *message,
		  const char *resource, const char *request_id);
/* s URL-encoded as S3's encoding-type=url does (RFC 3986 unreserved kept,
 * '/' kept). */
void s3_url_encode(struct s3_buf *b, const char *s, size_t n);

/* The parsed body of DeleteObjects. */
struct s3_delete_req {
	char **keys;
	size_t nkeys;
	int quiet;
};
#define S3_DELETE_MAX_KEYS 1000
/* Parse a <Delete> document (len bytes) with expat: no DTD, no entities,
 * no external entities. -EBADMSG malformed XML, a DTD or entity, an
 * unexpected root, more than 1000 keys, an empty or over-long key (S3's
 * MalformedXML); -ENOMEM. On success free with s3_delete_req_free. */
int s3_xml_parse_delete(const char *doc, size_t len, struct s3_delete_req *out);
void s3_delete_req_free(struct s3_delete_req *r);
/* Parse a CreateBucketConfiguration (may be empty): the LocationConstraint
 * into loc (loclen bytes, "" when none). -EBADMSG malformed (as above). */
int s3_xml_parse_create_bucket(const char *doc, size_t len, char *loc, size_t loclen);

/* The parsed body of CompleteMultipartUpload: parts in document order. */
#define S3_MPU_MAX_PARTS 10000
struct s3_complete_part {
	unsigned number;         /* 1..10000 */
	char etag[36];           /* 32 hex digits, lowercase, unquoted */
};
struct s3_complete_req {
	struct s3_complete_part *parts;
	size_t nparts;
};
/* Parse a <CompleteMultipartUpload> document (len bytes) with expat, as
 * s3_xml_parse_delete: -EBADMSG malformed XML, a DTD or entity, another
 * root, no part, more than 10000 parts, a Part without exactly one
 * PartNumber (1..10000) and one ETag (32 hex digits, quoted or not);
 * -ENOMEM. Order is not checked here (InvalidPartOrder is the caller's).
 * Free with s3_complete_req_free. */
int s3_xml_parse_complete(const char *doc, size_t len, struct s3_complete_req *out);
void s3_complete_req_free(struct s3_complete_req *r);

/* ---- permissions (s3_perm.c, pure) ------------------------------------- */

#define S3_PERM_R 4
#define S3_PERM_W 2
#define S3_PERM_X 1
/* 1 if the caller may access a node of mode/uid/gid with all bits of
 * want (S3_PERM_*), as the kernel decides for a local process (root:
 * everything, except x on a file with no x bit at all). */
int s3_perm_ok(const struct ns_caller *c, const struct ns_attr *a, unsigned want);
/* 1 if the caller may remove (or replace) victim's name in dir: w and x
 * on dir, and in a sticky directory own dir or victim (or be root). */
int s3_perm_may_delete(const struct ns_caller *c, const struct ns_attr *dir,
		       const struct ns_attr *victim);

/* ---- the server (s3_server.c) ------------------------------------------ */

struct s3_request;   /* one HTTP request, opaque to the operations' callers */

/* Who a request acts as: from the S3 user (ns_user_lookup) whose
 * signature verified. */
#define S3_MAX_GROUPS 64
struct s3_principal {
	struct ns_caller caller;
	uint32_t groups[S3_MAX_GROUPS];
	char access_key[129];
	int anonymous;
	int admin;               /* the S3 user's --admin flag */
};
/* TESTS ONLY: a program embedding the server (the unit tests) may set a
 * hook that gives requests without credentials a principal, to test the
 * operations before users exist. The daemon never sets it, and no
 * configuration key or environment variable can. 0 and *p filled, or
 * -EACCES (the request stays anonymous). */
typedef int (*s3_auth_fn)(void *arg, struct s3_request *r, struct s3_principal *p);

struct s3_params {
	char listen[128];        /* "HOST:PORT" ("[v6]:PORT"); port 0: any free */
	char region[64];
	char base_domain[256];
	char tls_cert[4096], tls_key[4096]; /* PEM file paths; "" = plain HTTP */
	unsigned threads;        /* MHD thread pool size (1..64) */
	unsigned max_connections;
	unsigned idle_timeout;   /* seconds a connection may idle or stall (0: 120) */
	s3_auth_fn test_principal;   /* NULL in the daemon: see s3_auth_fn */
	void *test_principal_arg;
};

typedef struct s3_server s3_server;
/* Start serving (own threads) on n, which must outlive s3_stop. Errors:
 * -EINVAL a bad listen address or TLS file (err says which), -EADDRINUSE
 * and the other bind errors, -ENOMEM. */
int s3_start(ns *n, const struct s3_params *p, s3_server **out, char *err, size_t errlen);
/* The bound TCP port (for port 0). */
unsigned s3_port(const s3_server *s);
/* Stop accepting, finish or drop requests in flight, free (s may be NULL). */
void s3_stop(s3_server *s);

/* ---- stale uploads (s3_stale.c) ---------------------------------------- */

/* Remove the temporary objects of uploads a stopped daemon left (PutObject
 * and CopyObject bodies, multipart part uploads): names with this front
 * end's upload prefixes only, regular files only, unlocked only (a locked
 * one is logged and left). Each removal is logged. Walks the whole
 * namespace: the daemon calls it at start after an unclean stop only (a
 * clean stop aborts its uploads). Returns how many were removed, or -errno
 * when the walk failed (those found are still removed). */
long s3_remove_stale_uploads(ns *n);

#endif
