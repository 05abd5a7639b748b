/* s3_auth: who a request is, and its body's integrity. SigV4 (the sigv4
 * module) checks the signature with the secret of the user that
 * ns_user_lookup finds by access key id; the user's uid, gid and groups
 * become the request's ns_caller. Secrets live in secure memory for the
 * verification only. The body decoder (aws-chunked, Content-MD5,
 * x-amz-checksum-*, the MD5 for the ETag) is prepared here too, since
 * signed streaming bodies need the signing key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "crypto.h"
#include "s3_keycache.h"
#include "s3_priv.h"

#define S3_MAX_HEADERS 128

static void s3_fail_sigv4(struct s3_request *r, const struct sigv4_error *e)
{
	struct s3_error se = { (unsigned)e->status, e->code, e->message };
	if (!se.code)
		se = *s3_error_get(S3E_INTERNAL);
	s3_fail(r, &se, NULL);
}

static int body_needed(enum s3_op op)
{
	return op == S3_OP_PUT_OBJECT || op == S3_OP_DELETE_OBJECTS ||
	       op == S3_OP_CREATE_BUCKET || op == S3_OP_UPLOAD_PART ||
	       op == S3_OP_COMPLETE_MPU;
}

/* What a public-read bucket lets anonymous requests do. */
static int anonymous_read(enum s3_op op)
{
	return op == S3_OP_GET_OBJECT || op == S3_OP_HEAD_OBJECT || op == S3_OP_LIST_OBJECTS ||
	       op == S3_OP_LIST_OBJECTS_V2 || op == S3_OP_HEAD_BUCKET;
}

/* The user of r's access key and the signing key for r's scope, from the
 * sealed secret (a KMS unseal): 0, or -1 with an error response set. The
 * secret lives in secure memory only while the key is derived. */
static int derive_key(struct s3_request *r, struct ns_user *u, sigv4_key **out)
{
	uint8_t *secret = wcrypto_secure_alloc(NS_USER_SECRET_MAX + 1);
	size_t slen = 0;
	int rc;

	if (!secret) {
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
		return -1;
	}
	rc = ns_user_lookup(r->n, r->sv.access_key, u, (char *)secret, NS_USER_SECRET_MAX + 1,
			    &slen);
	if (!rc)
		rc = sigv4_key_new(secret, slen, &r->sv, out);
	wcrypto_secure_free(secret);   /* wipes */
	if (rc == -ENOENT)
		s3_fail_code(r, S3E_INVALID_ACCESS_KEY, NULL);
	else if (rc == -ENOMEM)
		s3_fail_code(r, S3E_INTERNAL, "out of memory");
	else if (rc)
		s3_fail_errno(r, rc == -EIO ? -EACCES : rc, S3E_INVALID_ACCESS_KEY);
	return rc ? -1 : 0;
}

int s3_auth_request(struct s3_request *r, s3_auth_fn hook, void *hook_arg)
{
	struct sigv4_header h[S3_MAX_HEADERS];
	struct sigv4_error e = { 0, NULL, NULL };
	struct sigv4_request rq;
	int nh, rc;

	nh = s3_req_headers(r, h, S3_MAX_HEADERS);
	if (nh < 0) {
		s3_fail_code(r, S3E_INVALID_REQUEST, "too many request headers");
		return -1;
	}
	rq.method = r->method;
	rq.target = r->target ? r->target : r->path;
	rq.headers = h;
	rq.n_headers = (size_t)nh;
	r->pr.anonymous = 0;
	if (sigv4_parse(&rq, &r->sv, &e) < 0) {
		s3_fail_sigv4(r, &e);
		return -1;
	}
	if (r->sv.kind == SIGV4_ANONYMOUS) {
		r->pr.anonymous = 1;
		r->pr.caller.uid = r->pr.caller.gid = 65534;
		if (hook && hook(hook_arg, r, &r->pr) == 0)
			r->pr.anonymous = 0;
		/* (tests only) an unsigned body for the hook's principal */
		if (!r->pr.anonymous && body_needed(r->route.op) &&
		    sigv4_body_new(&rq, &r->sv, NULL, 0, &r->sb, &e) < 0) {
			s3_fail_sigv4(r, &e);
			return -1;
		}
	} else {
		struct s3_keycache_hit hit;
		const sigv4_key *k;
		sigv4_key *made = NULL;
		struct ns_user u;
		/* read before the lookup: see ns_user_generation */
		uint64_t gen = ns_user_generation(r->n);

		memset(&hit, 0, sizeof(hit));
		snprintf(r->pr.access_key, sizeof(r->pr.access_key), "%s", r->sv.access_key);
		/* The region and the time first: a request no key could make
		 * valid costs no KMS unseal (anyone may send one). */
		if (sigv4_check_scope(&r->sv, r->params->region, (int64_t)time(NULL), &e) < 0) {
			s3_fail_sigv4(r, &e);
			return -1;
		}
		if (r->keys && s3_keycache_get(r->keys, &r->sv, gen, &hit)) {
			k = hit.key;
			u = hit.user;
		} else {
			rc = derive_key(r, &u, &made);
			if (rc)
				return -1;
			k = made;
		}
		rc = sigv4_verify_key(&rq, &r->sv, k, r->params->region, (int64_t)time(NULL),
				      &e);
		int verified = rc == 0;
		if (verified && body_needed(r->route.op))
			rc = sigv4_body_new_key(&rq, &r->sv, k, &r->sb, &e);
		/* The key derived from the user's secret is kept even when the
		 * signature did not match: it is right for that scope all the
		 * same, and a stream of forged requests naming a known access
		 * key id then costs one KMS unseal, not one each. */
		if (hit.ref)
			s3_keycache_release(r->keys, &hit);
		else if (r->keys)
			s3_keycache_put(r->keys, &r->sv, gen, made, &u);  /* takes made */
		else
			sigv4_key_free(made);
		if (rc < 0) {
			s3_fail_sigv4(r, &e);
			return -1;
		}
		r->pr.caller.uid = u.uid;
		r->pr.caller.gid = u.gid;
		r->pr.admin = u.admin;
		size_t ng = u.ngroups < S3_MAX_GROUPS ? u.ngroups : S3_MAX_GROUPS;
		memcpy(r->pr.groups, u.groups, ng * sizeof(uint32_t));
		r->pr.caller.ngroups = ng;
	}
	r->pr.caller.groups = r->pr.caller.ngroups ? r->pr.groups : NULL;
	r->pr.caller.umask = 022;
	if (r->pr.anonymous) {
		/* design section 11: only where a public-read ACL grants read */
		if (anonymous_read(r->route.op) && s3_bucket_public_read(r))
			return 0;
		s3_fail_code(r, S3E_ACCESS_DENIED, "anonymous access is not allowed");
		return -1;
	}
	return 0;
}

int s3_body_feed(struct s3_request *r, const char *data, size_t len, sigv4_sink sink,
		 void *arg)
{
	struct sigv4_error e = { 0, NULL, NULL };
	int rc = sigv4_body_feed(r->sb, data, len, sink, arg, &e);
	if (rc == 0)
		return 0;
	if (!r->responded)      /* else the sink has answered */
		s3_fail_sigv4(r, &e);
	return -1;
}

int s3_body_finish(struct s3_request *r)
{
	struct sigv4_error e = { 0, NULL, NULL };
	if (sigv4_body_finish(r->sb, &e) < 0) {
		s3_fail_sigv4(r, &e);
		return -1;
	}
	return 0;
}
