/* ns_virt: the virtual .wormfs files: lookup and listing (over the one
 * table of names and inode numbers, wormnames.h), attributes and contents
 * (.wormfs/audit's content is the audit trail's, ns_trail_render). Not
 * stored: rendered at each open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns_virt.h"
#include "names.h"
#include "wormnames.h"   /* the .wormfs file table */

int ns_is_virtual(uint64_t ino)
{
	return ino >= NS_INO_CTL && ino <= NS_INO_AUDIT;
}

int ns_virt_lookup(uint64_t parent, const char *name, uint64_t *ino)
{
	if (parent == NS_INO_ROOT && strcmp(name, NAMES_CTL_DIR) == 0) {
		*ino = NS_INO_CTL;
		return 0;
	}
	if (parent != NS_INO_CTL)
		return 1;
	*ino = worm_ctl_ino(name);
	if (*ino)
		return 0;
	return -ENOENT;
}

int ns_virt_entry(size_t i, const char **name, uint64_t *ino)
{
	if (i >= WORM_CTL_NFILES)
		return -ENOENT;
	*name = worm_ctl_files()[i].name;
	*ino = worm_ctl_files()[i].ino;
	return 0;
}

int ns_virt_attr(uint64_t ino, struct ns_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = 1;
	a->mtime_ns = a->ctime_ns = a->atime_ns = clock_realtime_ns();
	if (ino == NS_INO_CTL) {
		a->mode = S_IFDIR | 0555;
		a->nlink = 2;
		return 0;
	}
	if (!ns_is_virtual(ino))
		return -ENOENT;
	/* Size 0 like /proc: fs.c serves these with direct I/O. */
	a->mode = S_IFREG | 0444;
	if (ino == NS_INO_AUDIT) {
		/* Paths of every lock change and refusal, S3 users' names and
		 * access key ids: for root and the daemon's user only (who can
		 * read the store, and so `wormctl audit STORE`, anyway), not
		 * for every user of an allow_other mount, whatever directory
		 * modes hide those names from them. */
		a->mode = S_IFREG | 0400;
		a->uid = (uint32_t)geteuid();
		a->gid = (uint32_t)getegid();
	}
	return 0;
}

int ns_virt_may_read(uint64_t ino, uint32_t uid)
{
	if (ino != NS_INO_AUDIT)
		return 1;
	return uid == 0 || uid == (uint32_t)geteuid();
}

int ns_virt_render(ns *n, uint64_t ino, char **buf, size_t *len)
{
	struct kms_stats ks;
	size_t cap = ino == NS_INO_STATS ? NS_VIRT_MAX : 256;
	char *b;
	int rc = 0;

	if (ino == NS_INO_AUDIT || !ns_is_virtual(ino))
		return -EINVAL;   /* the trail's (ns_trail_render), or not ours */
	b = malloc(cap);
	if (!b)
		return -ENOMEM;
	if (ino == NS_INO_VERSION) {
		rc = snprintf(b, cap, "wormfs %s\nstore-format %d\n", WORMFS_VERSION,
			      STORE_FORMAT_VERSION);
	} else if (ino == NS_INO_CLOCK) {
		char ts[32];
		clock_format_rfc3339(ns_clock_now(n), ts, sizeof(ts));
		rc = snprintf(b, cap, "%s\n", ts);
	} else if (ino == NS_INO_STATS) {
		kms_get_stats(n->km, &ks);
		rc = stats_render(&n->stats, &ks, ns_clock_now(n), b, cap);
	} else {
		rc = -EISDIR;
	}
	if (rc < 0) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = (size_t)rc;
	return 0;
}
