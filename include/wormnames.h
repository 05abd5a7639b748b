/* wormnames: the names the outside world sees, in one place: the
 * user.worm.* extended attributes (design section 5) and the virtual
 * .wormfs directory (its files and their fixed inode numbers). Shared by
 * the engine (ns), the FUSE glue (fs.c), wormctl and the S3 front end, so
 * a name is spelled once. Header only, no dependencies beyond libc. */
#ifndef WORMFS_WORMNAMES_H
#define WORMFS_WORMNAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- lock attributes (user.worm.*) -------------------------------------- */

#define WORM_XATTR_PREFIX "user.worm."
#define WORM_XATTR_RETENTION "user.worm.retention"       /* object: MODE UNTIL */
#define WORM_XATTR_HOLD "user.worm.legal-hold"           /* object: ON | OFF */
#define WORM_XATTR_STATE "user.worm.state"               /* object: read-only */
#define WORM_XATTR_APPEND "user.worm.append-only"        /* object: ON | OFF */
#define WORM_XATTR_DEFAULT "user.worm.default-retention" /* bucket */
#define WORM_XATTR_DEFAPPEND "user.worm.default-append-only" /* bucket */
#define WORM_XATTR_LOCKCFG "user.worm.lock-config"       /* bucket: lock state */
#define WORM_XATTR_AUTOCOMMIT "user.worm.autocommit"     /* bucket: period */

/* ---- S3 names the engine also enforces ----------------------------------- */

/* A bucket's (or object's) canned ACL: public-read opens it to anonymous
 * S3 reads, so only its owner or root may set or remove it (ns_xattr). */
#define WORM_XATTR_S3_ACL "user.s3.acl"
/* Directly in a bucket: the S3 front end's multipart staging directory.
 * Only ns_mkdir_staging may make it; any other create or rename onto
 * that name there is -EPERM (ns_tree). */
#define WORM_S3_MPU_DIR ".s3-multipart"

/* 1 if name is in the user.worm.* namespace (handled by the lock rules,
 * where the caller's supplementary groups matter), 0 if not. */
static inline int worm_xattr_is_lock(const char *name)
{
	return strncmp(name, WORM_XATTR_PREFIX, sizeof(WORM_XATTR_PREFIX) - 1) == 0;
}

/* ---- the virtual .wormfs directory ------------------------------------- */

/* Inode numbers are fixed (stable across remounts): the root is 1, the
 * .wormfs directory 2 and its files 3 to 6. Other inodes come from meta
 * and are above these. */
#define NS_INO_ROOT 1ull
#define NS_INO_CTL 2ull
#define NS_INO_VERSION 3ull    /* "wormfs VERSION\nstore-format N\n" */
#define NS_INO_STATS 4ull      /* Prometheus text (stats.h) */
#define NS_INO_CLOCK 5ull      /* the compliance clock, RFC 3339 */
#define NS_INO_AUDIT 6ull      /* the audit trail (trail.h) */

#define WORM_CTL_DIR ".wormfs"         /* at the root; no bucket has it */
#define WORM_CTL_VERSION "version"
#define WORM_CTL_STATS "stats"
#define WORM_CTL_CLOCK "clock"
#define WORM_CTL_AUDIT "audit"

/* The files of .wormfs, in listing order (readdir cookies 3.. follow it). */
struct worm_ctl_file {
	const char *name;
	uint64_t ino;
};
#define WORM_CTL_NFILES 4
static inline const struct worm_ctl_file *worm_ctl_files(void)
{
	static const struct worm_ctl_file files[WORM_CTL_NFILES] = {
		{ WORM_CTL_VERSION, NS_INO_VERSION },
		{ WORM_CTL_STATS, NS_INO_STATS },
		{ WORM_CTL_CLOCK, NS_INO_CLOCK },
		{ WORM_CTL_AUDIT, NS_INO_AUDIT },
	};
	return files;
}

/* The inode of .wormfs/name, 0 if there is no such file. */
static inline uint64_t worm_ctl_ino(const char *name)
{
	for (size_t i = 0; i < WORM_CTL_NFILES; i++)
		if (!strcmp(worm_ctl_files()[i].name, name))
			return worm_ctl_files()[i].ino;
	return 0;
}

/* The name of a .wormfs file by inode, NULL if ino is none of them. */
static inline const char *worm_ctl_name(uint64_t ino)
{
	for (size_t i = 0; i < WORM_CTL_NFILES; i++)
		if (worm_ctl_files()[i].ino == ino)
			return worm_ctl_files()[i].name;
	return NULL;
}

#endif
