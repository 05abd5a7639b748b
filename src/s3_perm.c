/* s3_perm: Unix mode bits for S3 principals. ns leaves permission bits to
 * the front end (ns.h, PERMISSIONS): FUSE has the kernel check them; the
 * S3 front end decides here, as the kernel's generic_permission does
 * (owner class, else group class, else other; no ACLs). Pure. */
#include <sys/stat.h>
#include "s3.h"

static int in_group(const struct ns_caller *c, uint32_t gid)
{
	if (c->gid == gid)
		return 1;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int s3_perm_ok(const struct ns_caller *c, const struct ns_attr *a, unsigned want)
{
	unsigned bits;

	want &= 7;
	if (c->uid == 0) {
		/* root: all but executing a file with no x bit anywhere */
		if ((want & S3_PERM_X) && !S_ISDIR(a->mode) && !(a->mode & 0111))
			return 0;
		return 1;
	}
	if (c->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (in_group(c, a->gid))
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (bits & want) == want;
}

int s3_perm_may_delete(const struct ns_caller *c, const struct ns_attr *dir,
		       const struct ns_attr *victim)
{
	if (!s3_perm_ok(c, dir, S3_PERM_W | S3_PERM_X))
		return 0;
	/* sticky directory: only the owner of the entry or of the directory */
	if ((dir->mode & S_ISVTX) && c->uid != 0 && c->uid != dir->uid &&
	    c->uid != victim->uid)
		return 0;
	return 1;
}
