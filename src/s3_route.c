/* s3_route: which operation a request is. Virtual-host style
 * (Host: BUCKET.base_domain) or path style (/BUCKET/KEY); query keys
 * that name a subresource pick the operation. A subresource or method S3
 * has but this server does not implement is refused as such (501), never
 * served as a plain GET or PUT of something else. Pure. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "s3.h"

static const char *const op_names[S3_OP__COUNT] = {
	[S3_OP_NONE] = "none",
	[S3_OP_LIST_BUCKETS] = "ListBuckets",
	[S3_OP_CREATE_BUCKET] = "CreateBucket",
	[S3_OP_HEAD_BUCKET] = "HeadBucket",
	[S3_OP_DELETE_BUCKET] = "DeleteBucket",
	[S3_OP_GET_BUCKET_LOCATION] = "GetBucketLocation",
	[S3_OP_LIST_OBJECTS] = "ListObjects",
	[S3_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
	[S3_OP_DELETE_OBJECTS] = "DeleteObjects",
	[S3_OP_PUT_OBJECT] = "PutObject",
	[S3_OP_GET_OBJECT] = "GetObject",
	[S3_OP_HEAD_OBJECT] = "HeadObject",
	[S3_OP_DELETE_OBJECT] = "DeleteObject",
	[S3_OP_COPY_OBJECT] = "CopyObject",
	[S3_OP_CREATE_MPU] = "CreateMultipartUpload",
	[S3_OP_UPLOAD_PART] = "UploadPart",
	[S3_OP_UPLOAD_PART_COPY] = "UploadPartCopy",
	[S3_OP_COMPLETE_MPU] = "CompleteMultipartUpload",
	[S3_OP_ABORT_MPU] = "AbortMultipartUpload",
	[S3_OP_LIST_PARTS] = "ListParts",
	[S3_OP_LIST_MPUS] = "ListMultipartUploads",
};

const char *s3_op_name(enum s3_op op)
{
	if ((unsigned)op >= S3_OP__COUNT || !op_names[op])
		return "none";
	return op_names[op];
}

/* Query parameters of the implemented operations and of presigned URLs:
 * they never select an operation. */
static const char *const params[] = {
	"list-type", "prefix", "delimiter", "marker", "max-keys", "encoding-type",
	"continuation-token", "start-after", "fetch-owner", "x-id",
	"max-parts", "part-number-marker", "max-uploads", "key-marker", "upload-id-marker",
	"response-content-type", "response-content-language", "response-expires",
	"response-cache-control", "response-content-disposition",
	"response-content-encoding",
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
	/* the JS SDK v3 presigner signs these into every GET URL */
	"X-Amz-Content-Sha256", "x-amz-checksum-mode",
	/* SigV2 presigned URLs: routed, so that authentication refuses them
	 * with its clear 400 */
	"AWSAccessKeyId", "Signature", "Expires",
	NULL,
};

static int is_param(const char *k)
{
	for (size_t i = 0; params[i]; i++)
		if (strcmp(params[i], k) == 0)
			return 1;
	return 0;
}

/* Host without its port, lowercased, into buf; 0 or -1 too long. */
static int host_name(const char *host, char *buf, size_t len)
{
	size_t n = strlen(host);
	if (host[0] == '[') {
		const char *e = strchr(host, ']');
		n = e ? (size_t)(e - host) + 1 : n;
	} else {
		const char *c = strrchr(host, ':');
		if (c)
			n = (size_t)(c - host);
	}
	if (n >= len)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = host[i];
		buf[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	buf[n] = '\0';
	return 0;
}

int s3_route(const char *method, const char *host, const char *base_domain,
	     const char *path, const char *const *qkeys, size_t nq,
	     char *buf, size_t buflen, struct s3_route *out)
{
	int has_location = 0, has_delete = 0, has_listtype = 0;
	int has_uploads = 0, has_upid = 0, has_partno = 0;
	char hn[300];
	size_t pl;

	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < nq; i++) {
		if (is_param(qkeys[i]))
			has_listtype |= strcmp(qkeys[i], "list-type") == 0;
		else if (strcmp(qkeys[i], "location") == 0)
			has_location = 1;
		else if (strcmp(qkeys[i], "delete") == 0)
			has_delete = 1;
		else if (strcmp(qkeys[i], "uploads") == 0)
			has_uploads = 1;
		else if (strcmp(qkeys[i], "uploadId") == 0)
			has_upid = 1;
		else if (strcmp(qkeys[i], "partNumber") == 0)
			has_partno = 1;
		else
			return -ENOSYS;  /* acl, versioning, uploads, ... */
	}
	if (strcmp(method, "OPTIONS") == 0)
		return -ENOSYS;      /* CORS preflight: section 13, not yet */
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "PUT") &&
	    strcmp(method, "DELETE") && strcmp(method, "POST"))
		return -EOPNOTSUPP;

	/* bucket and key into buf */
	pl = strlen(path);
	if (pl + 2 > buflen)
		return -ENAMETOOLONG;
	if (host && base_domain && *base_domain && host_name(host, hn, sizeof(hn)) == 0) {
		size_t hl = strlen(hn), bl = strlen(base_domain);
		if (hl > bl + 1 && hn[hl - bl - 1] == '.' &&
		    strcasecmp(hn + hl - bl, base_domain) == 0) {
			size_t blen = hl - bl - 1;
			if (blen + pl + 2 > buflen)
				return -ENAMETOOLONG;
			memcpy(buf, hn, blen);
			buf[blen] = '\0';
			memcpy(buf + blen + 1, path + 1, pl);  /* key with its NUL */
			out->bucket = buf;
			out->key = buf + blen + 1;
			out->vhost = 1;
		}
	}
	if (!out->vhost) {
		memcpy(buf, path + 1, pl);   /* "bucket/key" with its NUL */
		if (buf[0]) {
			char *slash = strchr(buf, '/');
			out->bucket = buf;
			if (slash) {
				*slash = '\0';
				out->key = slash + 1;
			} else {
				out->key = buf + strlen(buf);   /* its NUL: "" */
			}
		} else {
			out->key = buf;
		}
	}

	if (!out->bucket) {
		if (has_location || has_delete || has_uploads || has_upid || has_partno)
			return -EINVAL;
		if (strcmp(method, "GET") == 0) {
			out->op = S3_OP_LIST_BUCKETS;
			return 0;
		}
		/* IAM and STS calls (POST /, Action=...) land here: a fast
		 * 4xx, never a 5xx that clients retry */
		return -EOPNOTSUPP;
	}
	if (!*out->key) {
		if (has_upid || has_partno)
			return -EINVAL;
		if (has_uploads) {
			if (has_location || has_delete || strcmp(method, "GET"))
				return -EINVAL;
			out->op = S3_OP_LIST_MPUS;
			return 0;
		}
		if (strcmp(method, "GET") == 0)
			out->op = has_location ? S3_OP_GET_BUCKET_LOCATION :
				has_listtype ? S3_OP_LIST_OBJECTS_V2 : S3_OP_LIST_OBJECTS;
		else if (has_location)
			return -ENOSYS;
		else if (strcmp(method, "PUT") == 0)
			out->op = has_delete ? S3_OP_NONE : S3_OP_CREATE_BUCKET;
		else if (strcmp(method, "HEAD") == 0)
			out->op = S3_OP_HEAD_BUCKET;
		else if (strcmp(method, "DELETE") == 0)
			out->op = S3_OP_DELETE_BUCKET;
		else if (has_delete)
			out->op = S3_OP_DELETE_OBJECTS;
		else
			return -ENOSYS;  /* POST object (browser form upload) */
		if (has_delete && out->op != S3_OP_DELETE_OBJECTS)
			return -EINVAL;
		return 0;
	}
	if (has_location || has_delete)
		return -EINVAL;
	if (has_uploads) {
		if (has_upid || has_partno || strcmp(method, "POST"))
			return -EINVAL;
		out->op = S3_OP_CREATE_MPU;
		return 0;
	}
	if (has_upid) {
		if (strcmp(method, "PUT") == 0 && has_partno)
			out->op = S3_OP_UPLOAD_PART;
		else if (has_partno)
			return -EINVAL;
		else if (strcmp(method, "POST") == 0)
			out->op = S3_OP_COMPLETE_MPU;
		else if (strcmp(method, "DELETE") == 0)
			out->op = S3_OP_ABORT_MPU;
		else if (strcmp(method, "GET") == 0)
			out->op = S3_OP_LIST_PARTS;
		else
			return -EINVAL;
		return 0;
	}
	if (has_partno)
		return -ENOSYS;      /* GET/HEAD of one part of an object */
	if (strcmp(method, "GET") == 0)
		out->op = S3_OP_GET_OBJECT;
	else if (strcmp(method, "HEAD") == 0)
		out->op = S3_OP_HEAD_OBJECT;
	else if (strcmp(method, "PUT") == 0)
		out->op = S3_OP_PUT_OBJECT;
	else if (strcmp(method, "DELETE") == 0)
		out->op = S3_OP_DELETE_OBJECT;
	else
		return -ENOSYS;      /* POST on a key: multipart, restore, select */
	return 0;
}
