/* s3_ns: S3 names to ns inodes, with the search permission a path walk
 * needs on every directory on the way (ns leaves mode bits to the front
 * end: ns.h, PERMISSIONS); and the bucket's canned ACL, which
 * authentication asks about before any operation runs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "names.h"
#include "s3_priv.h"

int s3_ns_bucket(struct s3_request *r, struct ns_attr *out)
{
	struct ns_attr root;
	int rc;

	if (names_bucket_valid(r->route.bucket))
		return -ENOENT;      /* no such bucket can exist */
	if ((rc = ns_getattr(r->n, NS_INO_ROOT, &root)))
		return rc;
	if (!s3_perm_ok(&r->pr.caller, &root, S3_PERM_X))
		return -EACCES;
	if ((rc = ns_lookup(r->n, NS_INO_ROOT, r->route.bucket, out)))
		return rc;
	if (!S_ISDIR(out->mode))
		return -ENOENT;
	if (!s3_perm_ok(&r->pr.caller, out, S3_PERM_X))
		return -EACCES;
	return 0;
}

int s3_ns_parent(struct s3_request *r, const struct ns_attr *b, char **comps, int ncomps,
		 int mkdirs, struct ns_attr *out)
{
	struct ns_attr cur = *b, next;
	int rc;

	for (int i = 0; i + 1 < ncomps; i++) {
		rc = ns_lookup(r->n, cur.ino, comps[i], &next);
		if (rc == -ENOENT && mkdirs) {
			if (!s3_perm_ok(&r->pr.caller, &cur, S3_PERM_W | S3_PERM_X))
				return -EACCES;
			rc = ns_mkdir(r->n, &r->pr.caller, cur.ino, comps[i],
				      0777 & ~r->pr.caller.umask, &next);
			if (rc == -EEXIST)   /* a concurrent PUT made it */
				rc = ns_lookup(r->n, cur.ino, comps[i], &next);
		}
		if (rc)
			return rc;
		if (!S_ISDIR(next.mode))
			return -ENOTDIR;
		if (!s3_perm_ok(&r->pr.caller, &next, S3_PERM_X))
			return -EACCES;
		cur = next;
	}
	*out = cur;
	return 0;
}

int s3_bucket_public_read(struct s3_request *r)
{
	struct ns_attr b;
	char v[32];
	if (!r->route.bucket || s3_ns_bucket(r, &b))
		return 0;
	ssize_t n = ns_getxattr(r->n, &r->pr.caller, b.ino, S3_ACL_XATTR, v, sizeof(v) - 1);
	if (n < 0)
		return 0;
	v[n] = '\0';
	return strcmp(v, "public-read") == 0;
}
