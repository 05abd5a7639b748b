/* s3_bucket: the bucket operations. Buckets are the directories at the
 * root (design section 3): their names follow names.h, their owner is
 * the uid that made them, and mode bits decide who may do what. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "names.h"
#include "s3_priv.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

struct bucket_ent {
	char *name;
	int64_t mtime_ns;
};

struct bucket_list {
	struct bucket_ent *v;
	size_t n, cap;
	uint32_t uid;            /* list the buckets this uid owns (0: all) */
	int oom;
};

static int collect_bucket(void *arg, const char *name, const struct ns_attr *a,
			  uint64_t next_off)
{
	struct bucket_list *l = arg;
	(void)next_off;
	if (!S_ISDIR(a->mode) || names_bucket_valid(name))
		return 0;        /* ".", "..", .wormfs */
	if (l->uid != 0 && a->uid != l->uid)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct bucket_ent *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name) {
		l->oom = 1;
		return 1;
	}
	l->v[l->n++].mtime_ns = a->mtime_ns;
	return 0;
}

static int cmp_bucket(const void *a, const void *b)
{
	return strcmp(((const struct bucket_ent *)a)->name, ((const struct bucket_ent *)b)->name);
}

void s3_op_list_buckets(struct s3_request *r)
{
	struct bucket_list l = { .uid = r->pr.caller.uid };
	char date[64], id[32];
	int rc = ns_readdir(r->n, NS_INO_ROOT, 0, collect_bucket, &l);

	if (!rc && l.oom)
		rc = -ENOMEM;
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		goto out;
	}
	if (l.n)   /* qsort's array must not be NULL, even when empty */
		qsort(l.v, l.n, sizeof(*l.v), cmp_bucket);
	snprintf(id, sizeof(id), "%u", r->pr.caller.uid);
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<ListAllMyBucketsResult xmlns=\"" S3_XMLNS "\"><Owner>");
	s3_xml_elem(&r->out, "ID", id);
	s3_xml_elem(&r->out, "DisplayName", r->pr.access_key[0] ? r->pr.access_key : id);
	s3_buf_puts(&r->out, "</Owner><Buckets>");
	for (size_t i = 0; i < l.n; i++) {
		s3_buf_puts(&r->out, "<Bucket>");
		s3_xml_elem(&r->out, "Name", l.v[i].name);
		s3_iso_date(l.v[i].mtime_ns, date, sizeof(date));
		s3_xml_elem(&r->out, "CreationDate", date);
		s3_buf_puts(&r->out, "</Bucket>");
	}
	s3_buf_puts(&r->out, "</Buckets></ListAllMyBucketsResult>");
	s3_ok_xml(r);
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
}

void s3_op_create_bucket(struct s3_request *r)
{
	struct ns_attr root, b;
	char loc[64], where[300];
	const char *acl = s3_req_header(r, "x-amz-acl");
	const char *lock = s3_req_header(r, "x-amz-bucket-object-lock-enabled");
	int rc;

	if (r->sb && s3_body_finish(r))
		return;
	if (names_bucket_valid(r->route.bucket)) {
		s3_fail_code(r, S3E_INVALID_BUCKET_NAME, NULL);
		return;
	}
	if (s3_xml_parse_create_bucket(r->body.p ? r->body.p : "", r->body.len, loc,
				       sizeof(loc))) {
		s3_fail_code(r, S3E_MALFORMED_XML, NULL);
		return;
	}
	if (loc[0] && strcmp(loc, r->params->region) != 0) {
		static const struct s3_error bad_loc = { 400, "InvalidLocationConstraint",
			"The specified location-constraint is not valid for this endpoint" };
		s3_fail(r, &bad_loc, NULL);
		return;
	}
	int public_read = acl && strcmp(acl, "public-read") == 0;
	if (acl && strcmp(acl, "private") != 0 && !public_read) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED,
			     "canned ACLs other than private and public-read are not implemented");
		return;
	}
	if (lock && strcasecmp(lock, "false") != 0) {
		s3_fail_code(r, S3E_NOT_IMPLEMENTED, "Object Lock over S3 is not implemented yet");
		return;
	}
	if ((rc = ns_getattr(r->n, NS_INO_ROOT, &root))) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	/* a name taken is 409 whoever asks (S3's names are global), before
	 * whether this caller could make buckets at all */
	if (s3_perm_ok(&r->pr.caller, &root, S3_PERM_X) &&
	    ns_lookup(r->n, NS_INO_ROOT, r->route.bucket, &b) == 0) {
		if (b.uid == r->pr.caller.uid) {
			s3_fail_code(r, S3E_BUCKET_EXISTS, NULL);
		} else {
			static const struct s3_error taken = { 409, "BucketAlreadyExists",
				"The requested bucket name is not available." };
			s3_fail(r, &taken, NULL);
		}
		return;
	}
	if (!s3_perm_ok(&r->pr.caller, &root, S3_PERM_W | S3_PERM_X)) {
		s3_fail_code(r, S3E_ACCESS_DENIED, "no write permission on the store root");
		return;
	}
	rc = ns_mkdir(r->n, &r->pr.caller, NS_INO_ROOT, r->route.bucket,
		      0777 & ~r->pr.caller.umask, &b);
	if (rc == -EEXIST) {
		static const struct s3_error taken = { 409, "BucketAlreadyExists",
			"The requested bucket name is not available." };
		if (ns_lookup(r->n, NS_INO_ROOT, r->route.bucket, &b) == 0 &&
		    b.uid == r->pr.caller.uid)
			s3_fail_code(r, S3E_BUCKET_EXISTS, NULL);
		else
			s3_fail(r, &taken, NULL);
		return;
	}
	if (rc == -EINVAL) {
		s3_fail_code(r, S3E_INVALID_BUCKET_NAME, NULL);
		return;
	}
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	if (public_read) {
		rc = ns_setxattr(r->n, &r->pr.caller, b.ino, S3_ACL_XATTR, "public-read",
				 strlen("public-read"), 0);
		if (rc) {
			/* no bucket rather than one without the ACL asked for */
			worm_discard(ns_rmdir(r->n, &r->pr.caller, NS_INO_ROOT, r->route.bucket));
			s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
			return;
		}
	}
	snprintf(where, sizeof(where), "/%s", r->route.bucket);
	s3_resp_header(r, "Location", where);
	r->status = 200;
	r->responded = 1;
}

void s3_op_head_bucket(struct s3_request *r)
{
	struct ns_attr b;
	int rc = s3_ns_bucket(r, &b);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	s3_resp_header(r, "x-amz-bucket-region", r->params->region);
	r->status = 200;
	r->responded = 1;
}

void s3_op_delete_bucket(struct s3_request *r)
{
	struct ns_attr root, b;
	int rc = s3_ns_bucket(r, &b);

	if (!rc)
		rc = ns_getattr(r->n, NS_INO_ROOT, &root);
	if (!rc && !s3_perm_may_delete(&r->pr.caller, &root, &b))
		rc = -EACCES;
	struct ns_attr md;
	/* multipart's reserved directory (root's), when no upload is left;
	 * a plain one of that name (an old store's, made through the mount)
	 * is its owner's, never removed as root */
	if (!rc && !ns_lookup(r->n, b.ino, S3_MPU_DIR, &md) && md.staging) {
		static const struct ns_caller root = { 0, 0, 0, 022, NULL, 0, NULL, 0 };
		worm_discard(ns_rmdir(r->n, &root, b.ino, S3_MPU_DIR));
	}
	if (!rc)
		rc = ns_rmdir(r->n, &r->pr.caller, NS_INO_ROOT, r->route.bucket);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	r->status = 204;
	r->responded = 1;
}

void s3_op_get_bucket_location(struct s3_request *r)
{
	struct ns_attr b;
	int rc = s3_ns_bucket(r, &b);
	if (rc) {
		s3_fail_errno(r, rc, S3E_NO_SUCH_BUCKET);
		return;
	}
	s3_xml_start(&r->out);
	s3_buf_puts(&r->out, "<LocationConstraint xmlns=\"" S3_XMLNS "\">");
	/* AWS answers us-east-1 with an empty constraint */
	if (strcmp(r->params->region, "us-east-1") != 0)
		s3_xml_text(&r->out, r->params->region, strlen(r->params->region));
	s3_buf_puts(&r->out, "</LocationConstraint>");
	s3_ok_xml(r);
}
