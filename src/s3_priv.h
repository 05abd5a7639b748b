/* s3 internals shared by the s3_*.c files: the request as the operations
 * see it (no libmicrohttpd types: only s3_server.c knows the HTTP
 * library) and the operation entry points. */
#ifndef WORMFS_S3_PRIV_H
#define WORMFS_S3_PRIV_H

#include <stdint.h>
#include "s3.h"
#include "sigv4.h"
#include "crypto.h"

#define S3_MAX_RESP_HEADERS 32
/* A small XML request body (DeleteObjects: 1000 keys of 1024 bytes with
 * their markup) is read whole, up to this size; larger: 400. */
#define S3_XML_BODY_MAX (2u << 20)
/* Bytes written to ns per call while streaming a PUT: MHD hands the body
 * over in pieces no bigger than its connection buffer, so this is the
 * bound of what one request holds. */
#define S3_STREAM_CHUNK (256u << 10)

/* Reserved names: PutObject's temporary objects, and the directory at
 * the top of each bucket that holds its multipart uploads (s3_multipart.c
 * says how; the engine reserves that name too). Keys using them are
 * refused; listings skip the directory and files (not directories) with
 * the prefix. */
#define S3_TMP_PREFIX ".s3-upload-"
#define S3_MPU_DIR WORM_S3_MPU_DIR

/* One upload in progress (s3_object.c): PutObject's body, a copy, a part
 * (part: the temporary object is a staging node in the upload's
 * directory, renamed over the part's name at the end). */
struct s3_put {
	ns_handle *h;
	struct ns_attr tmpdir;       /* where the temporary object is */
	int depth;                   /* components of the key's parent that exist */
	char tmpname[64];
	uint64_t tmpino;             /* the object made under tmpname: the only
					one committed or removed (a local user may
					rename another onto that name meanwhile) */
	int cond_none;               /* If-None-Match: * (create only) */
	const char *cond_match;      /* If-Match: the ETags it may replace */
	struct ns_attr bucket;
	char keybuf[S3_KEY_MAX + 1];
	char *comps[S3_KEY_MAXCOMPS];
	int ncomps, is_dir;
	int part;                    /* UploadPart(Copy): comps[0] is the part name */
	uint64_t written;
	struct s3_buf meta;
};
struct s3_mpu_busy;   /* s3_multipart.c: uploads being completed or aborted */

struct s3_request {
	/* set by s3_server.c */
	ns *n;
	const struct s3_params *params;
	struct s3_keycache *keys;        /* the server's signing keys (s3_keycache.h) */
	void *conn;                      /* the HTTP connection (server only) */
	/* set by the server: a header (kind 0) or query argument (kind 1)
	 * by name, NULL if absent; all headers in order (count or -E2BIG) */
	const char *(*lookup)(void *conn, int kind, const char *name);
	int (*headers)(void *conn, struct sigv4_header *h, size_t max);
	const char *method;
	const char *path;                /* decoded; valid for the request */
	char *target;                    /* the request-target as sent (SigV4) */
	int started;                     /* the first handler call is done */
	struct sigv4_auth sv;            /* the parsed authentication */
	sigv4_body *sb;                  /* body decoder and digests */
	char request_id[24];
	struct s3_route route;
	char routebuf[S3_KEY_MAX + 320];
	struct s3_principal pr;
	int64_t now_ns;                  /* compliance clock at the start */
	int has_length;
	uint64_t content_length;

	/* the request body: XML ops read it whole (bounded), PutObject streams */
	struct s3_buf body;
	struct s3_put *put;
	struct s3_mpu_busy *mpu_busy;    /* the server's (s3_mpu_busy_new) */
	int body_failed;                 /* an error response is already set */

	/* the response */
	unsigned status;
	struct { char *name, *value; } hdr[S3_MAX_RESP_HEADERS];
	size_t nhdr;
	struct s3_buf out;               /* the body (XML, or nothing) */
	ns_handle *rh;                   /* GetObject: stream from this handle */
	uint64_t roff, rlen;             /* its range */
	int responded;
};

/* Request accessors (s3_req.c): a header by name (case-insensitive), a
 * query argument (decoded), NULL if absent; all headers in order into h
 * (max entries): the count, or -E2BIG more than max. */
const char *s3_req_header(struct s3_request *r, const char *name);
const char *s3_req_arg(struct s3_request *r, const char *name);
int s3_req_headers(struct s3_request *r, struct sigv4_header *h, size_t max);

/* Authenticate r (s3_auth.c): SigV4 (header or presigned) against the
 * user's secret from ns_user_lookup; an anonymous request gets the test
 * hook's principal if the embedding program set one (tests only: the
 * daemon never does), else stays anonymous. Prepares r->sb for the body.
 * 0, or -1 with an error response set. */
int s3_auth_request(struct s3_request *r, s3_auth_fn hook, void *hook_arg);
/* Feed body bytes through r->sb to sink (s3_auth.c): 0, or -1 with an
 * error response set. finish: the digests and framing at the end. */
int s3_body_feed(struct s3_request *r, const char *data, size_t len, sigv4_sink sink,
		 void *arg);
int s3_body_finish(struct s3_request *r);

/* Response helpers (s3_req.c). */
void s3_resp_header(struct s3_request *r, const char *name, const char *value);
void s3_resp_clear(struct s3_request *r);
void s3_resp_del_header(struct s3_request *r, const char *name);
/* An S3 error: status, code and XML body; message NULL = the default.
 * 403s and lock refusals are logged with the access key. */
void s3_fail(struct s3_request *r, const struct s3_error *e, const char *message);
void s3_fail_code(struct s3_request *r, enum s3_err e, const char *message);
/* An ns error (s3_error_from_errno). */
void s3_fail_errno(struct s3_request *r, int err, enum s3_err notfound);
/* 200 with the XML in r->out (or an InternalError if building it failed). */
void s3_ok_xml(struct s3_request *r);

/* Resolving names (s3_ns.c). Each checks search (x) permission on every
 * directory it passes, as a path walk would. */
/* The bucket's attributes; -ENOENT none; -EACCES not searchable. */
int s3_ns_bucket(struct s3_request *r, struct ns_attr *out);
/* The parent directory of comps[0..ncomps-1] (comps[ncomps-1] is the
 * name in it) below bucket attr b. mkdirs: create missing directories
 * (mode 0777 & ~umask, owned by the caller; needs w+x). -ENOENT missing,
 * -ENOTDIR a component is an object (the S3 409 case), -EACCES. */
int s3_ns_parent(struct s3_request *r, const struct ns_attr *b, char **comps, int ncomps,
		 int mkdirs, struct ns_attr *out);

/* Operations (s3_bucket.c, s3_object.c, s3_list.c). Each sets a response. */
void s3_op_list_buckets(struct s3_request *r);
void s3_op_create_bucket(struct s3_request *r);
void s3_op_head_bucket(struct s3_request *r);
void s3_op_delete_bucket(struct s3_request *r);
void s3_op_get_bucket_location(struct s3_request *r);
void s3_op_list_objects(struct s3_request *r, int v2);
void s3_op_delete_objects(struct s3_request *r);
void s3_op_get_object(struct s3_request *r, int head);
void s3_op_delete_object(struct s3_request *r);
/* CopyObject (no body): the source read and written to a temporary
 * object, then committed as PutObject commits. */
void s3_op_copy_object(struct s3_request *r);
/* PutObject in three steps: begin (before the body: checks, a hidden
 * temporary object; on error a response is set and -1 returned), data
 * (each piece), end (commit: the name appears) or abort (a dropped
 * connection or an error: nothing appears). */
int s3_put_begin(struct s3_request *r);
/* Commit r->put whose bytes are all written (etag: its ETag text): the
 * name appears; 0, or -1 with an error response and nothing visible. */
int s3_put_commit(struct s3_request *r, const char *etag);
void s3_put_free(struct s3_request *r);
/* Copy len bytes of object src from off to dst at doff through a bounded
 * buffer, into md5 too (may be NULL). -EIO the source is shorter. */
int s3_copy_range(struct s3_request *r, uint64_t src, uint64_t off, uint64_t len,
		  ns_handle *dst, uint64_t doff, wcrypto_digest *md5);
/* The source of a copy (CopyObject, UploadPartCopy): x-amz-copy-source
 * parsed into bucket and key (in buf), resolved as a GET of it would be,
 * readable by the caller, and its x-amz-copy-source-if-* conditions met.
 * 0 and *src, or -1 with the error answered (412 PreconditionFailed for a
 * failed condition, as AWS). */
int s3_copy_source_find(struct s3_request *r, char *buf, size_t buflen, char **bucket,
			char **key, struct ns_attr *src);
/* Copy len bytes of object src from off into r->put (just begun), its MD5
 * as hex into etag: 0, or -1 with the error answered and r->put aborted. */
int s3_copy_into_put(struct s3_request *r, uint64_t src, uint64_t off, uint64_t len,
		     char etag[33]);

/* Multipart upload (s3_multipart.c: uploads; s3_parts.c: parts). The
 * server keeps one busy set for the uploads being completed or aborted. */
struct s3_mpu_busy *s3_mpu_busy_new(void);
void s3_mpu_busy_free(struct s3_mpu_busy *b);
void s3_op_create_mpu(struct s3_request *r);
void s3_op_complete_mpu(struct s3_request *r);
void s3_op_abort_mpu(struct s3_request *r);
void s3_op_list_mpus(struct s3_request *r);
/* DeleteBucket: a bucket holding only uploads in progress loses them
 * (as on AWS), then s3_op_delete_bucket. */
void s3_op_delete_bucket_uploads(struct s3_request *r);
void s3_op_list_parts(struct s3_request *r);
void s3_op_upload_part_copy(struct s3_request *r);
/* UploadPart's begin (before the body): as s3_put_begin; the body then
 * goes through s3_put_data and s3_put_end like PutObject's. */
int s3_part_begin(struct s3_request *r);

/* The upload directory (s3_multipart.c) named by the request's uploadId,
 * after checking that it belongs to this key and that the caller is its
 * initiator (or uid 0, or an admin). 0, or -1 with an error response
 * (NoSuchUpload, AccessDenied, ...). bucket may be NULL. */
int s3_mpu_resolve(struct s3_request *r, struct ns_attr *bucket, struct ns_attr *updir);
/* The part name of number n (1..10000) into buf (>= 8 bytes). */
void s3_mpu_part_name(unsigned n, char *buf, size_t len);
/* The caller for work inside the reserved directory (owner: root). */
extern const struct ns_caller s3_mpu_root;

int s3_put_data(struct s3_request *r, const char *data, size_t len);
void s3_put_end(struct s3_request *r);
void s3_put_abort(struct s3_request *r);

/* Metadata kept with an object (s3_meta.c): the Content-* headers and
 * x-amz-meta-* of a PUT, in one user.s3.meta xattr. */
#define S3_META_XATTR "user.s3.meta"
/* Collect them from r's headers into b (a compact text form). */
int s3_meta_collect(struct s3_request *r, struct s3_buf *b);
/* Add them, as stored, to r's response headers (not ours: ":etag"...). */
void s3_meta_emit(struct s3_request *r, const char *stored, size_t len);
/* One stored value by name (NULL if none), and adding one. */
const char *s3_meta_get(const char *stored, size_t len, const char *name);
void s3_meta_add(struct s3_buf *b, const char *name, const char *value);
/* The quoted ETag of object a: the stored MD5 while it still describes
 * the content (same size and mtime), else one derived from inode, size
 * and mtime (objects written through the mount: not an MD5, see docs).
 * The stored MD5 is sealed (ns_etag_seal, bound to a's inode and the
 * stamp); one that does not open is not used (n NULL: none opens). An
 * older clear one is still read. */
void s3_meta_etag(ns *n, const struct ns_attr *a, const char *meta, size_t mlen, char *out,
		  size_t len);

/* A bucket's canned ACL (set by s3_bucket.c, read by s3_ns.c), kept in this xattr of its
 * directory: only "public-read" is stored (no xattr: private). It lets
 * anonymous requests read (GET/HEAD objects, list, HEAD bucket); mode bits
 * still apply to them, as to the uid nobody (65534). */
#define S3_ACL_XATTR WORM_XATTR_S3_ACL
/* 1 if the request's bucket exists and is public-read. */
int s3_bucket_public_read(struct s3_request *r);

/* HTTP dates (s3_xml.c): RFC 7231 IMF-fixdate and ISO 8601 with ms. */
void s3_http_date(int64_t sec, char *buf, size_t len);
void s3_iso_date(int64_t ns, char *buf, size_t len);
/* Whole seconds of a time in nanoseconds, rounded down (also before 1970). */
int64_t s3_seconds(int64_t ns);
/* Parse an HTTP date (IMF-fixdate, RFC 850 or asctime): -EINVAL. */
int s3_parse_http_date(const char *s, int64_t *sec);

#endif
