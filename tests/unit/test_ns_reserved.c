/* Engine rules for the names and attributes the S3 front end relies on
 * (wormnames.h), enforced in ns because the mount reaches the same records:
 *  - user.s3.acl (a canned ACL: public-read opens a bucket to anonymous S3
 *    reads) is set or removed only by the node's owner or root;
 *  - .s3-multipart directly in a bucket is made only as the staging
 *    directory (ns_mkdir_staging); no create, symlink or rename there. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"
#include "config.h"
#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };
static const struct ns_caller ALICE = { 1000, 1000, 2, 022, NULL, 0, NULL, 0 };
static const struct ns_caller MALLORY = { 1001, 1001, 3, 022, NULL, 0, NULL, 0 };

TestSuite(ns_reserved, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static ssize_t acl_of(uint64_t ino, char *v, size_t len)
{
	ssize_t k = ns_getxattr(N, &ROOT, ino, WORM_XATTR_S3_ACL, v, len - 1);
	if (k >= 0)
		v[k] = '\0';
	return k;
}

/* A world-writable bucket of alice's: mallory may write in it, but not
 * open it (or alice's object in it) to anonymous reads. */
Test(ns_reserved, s3_acl_owner_or_root_only)
{
	struct ns_attr b, f, m;
	ns_handle *h;
	char v[32];

	cr_assert_eq(ns_mkdir(N, &ALICE, NS_INO_ROOT, "shared", 01777, &b), 0);
	cr_assert_eq(ns_create(N, &ALICE, b.ino, "a.txt", 0666, O_WRONLY, &f, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_create(N, &MALLORY, b.ino, "m.txt", 0644, O_WRONLY, &m, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);

	/* not the owner: EPERM, nothing stored (bucket and object) */
	cr_assert_eq(ns_setxattr(N, &MALLORY, b.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0),
		     -EPERM);
	cr_assert_eq(acl_of(b.ino, v, sizeof(v)), -ENODATA);
	cr_assert_eq(ns_setxattr(N, &MALLORY, f.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0),
		     -EPERM);
	cr_assert_eq(acl_of(f.ino, v, sizeof(v)), -ENODATA);
	/* other user.* attributes still follow the mode bits (the front end's) */
	cr_assert_eq(ns_setxattr(N, &MALLORY, f.ino, "user.note", "x", 1, 0), 0);

	/* the owner sets it; the other may not remove it either */
	cr_assert_eq(ns_setxattr(N, &ALICE, b.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0), 0);
	cr_assert_eq(acl_of(b.ino, v, sizeof(v)), 11);
	cr_assert_str_eq(v, "public-read");
	cr_assert_eq(ns_removexattr(N, &MALLORY, b.ino, WORM_XATTR_S3_ACL), -EPERM);
	cr_assert_eq(ns_setxattr(N, &MALLORY, b.ino, WORM_XATTR_S3_ACL, "private", 7, 0), -EPERM);
	cr_assert_eq(acl_of(b.ino, v, sizeof(v)), 11);
	cr_assert_eq(ns_removexattr(N, &ALICE, b.ino, WORM_XATTR_S3_ACL), 0);
	cr_assert_eq(acl_of(b.ino, v, sizeof(v)), -ENODATA);

	/* on his own object in her bucket: his */
	cr_assert_eq(ns_setxattr(N, &MALLORY, m.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0), 0);
	/* root: anywhere */
	cr_assert_eq(ns_setxattr(N, &ROOT, b.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0), 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, f.ino, WORM_XATTR_S3_ACL, "public-read", 11, 0), 0);
	cr_assert_eq(ns_removexattr(N, &ROOT, f.ino, WORM_XATTR_S3_ACL), 0);
}

Test(ns_reserved, multipart_name_only_as_the_staging_directory)
{
	struct ns_attr b, a, d, s;
	ns_handle *h = NULL;

	cr_assert_eq(ns_mkdir(N, &ALICE, NS_INO_ROOT, "bkt", 0777, &b), 0);
	/* every way to make the name directly in a bucket, root included */
	cr_assert_eq(ns_mkdir(N, &ALICE, b.ino, WORM_S3_MPU_DIR, 0755, &a), -EPERM);
	cr_assert_eq(ns_mkdir(N, &ROOT, b.ino, WORM_S3_MPU_DIR, 0755, &a), -EPERM);
	cr_assert_eq(ns_create(N, &ALICE, b.ino, WORM_S3_MPU_DIR, 0644, O_WRONLY, &a, &h), -EPERM);
	cr_assert_eq(ns_mknod(N, &ROOT, b.ino, WORM_S3_MPU_DIR, S_IFREG | 0644, &a), -EPERM);
	cr_assert_eq(ns_symlink(N, &ALICE, b.ino, WORM_S3_MPU_DIR, "x", &a), -EPERM);
	cr_assert_eq(ns_create_staging(N, &ROOT, b.ino, WORM_S3_MPU_DIR, 0600, &a, &h), -EPERM,
		     "a staging file is not the staging directory");
	cr_assert_eq(ns_lookup(N, b.ino, WORM_S3_MPU_DIR, &a), -ENOENT);
	/* nor by rename, plain or exchange, root included */
	cr_assert_eq(ns_mkdir(N, &ALICE, b.ino, "d", 0755, &d), 0);
	cr_assert_eq(ns_rename(N, &ALICE, b.ino, "d", b.ino, WORM_S3_MPU_DIR, 0), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, b.ino, "d", b.ino, WORM_S3_MPU_DIR,
			       NS_RENAME_NOREPLACE), -EPERM);
	cr_assert_eq(ns_mkdir(N, &ALICE, d.ino, WORM_S3_MPU_DIR, 0755, &s), 0,
		     "deeper than the bucket the name is free");
	cr_assert_eq(ns_rename(N, &ALICE, d.ino, WORM_S3_MPU_DIR, b.ino, WORM_S3_MPU_DIR, 0),
		     -EPERM);
	cr_assert_eq(ns_rename(N, &ALICE, d.ino, WORM_S3_MPU_DIR, b.ino, "d2", 0), 0);
	cr_assert_eq(ns_lookup(N, b.ino, WORM_S3_MPU_DIR, &a), -ENOENT);
	/* the staging directory itself: made as ever; then nothing replaces
	 * it nor takes its name by exchange */
	cr_assert_eq(ns_mkdir_staging(N, &ROOT, b.ino, WORM_S3_MPU_DIR, 0700, &a), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b.ino, "d", b.ino, WORM_S3_MPU_DIR,
			       NS_RENAME_EXCHANGE), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, b.ino, WORM_S3_MPU_DIR, b.ino, "d",
			       NS_RENAME_EXCHANGE), -EPERM);
	cr_assert_eq(ns_lookup(N, b.ino, WORM_S3_MPU_DIR, &s), 0);
	cr_assert_eq(s.ino, a.ino);
	cr_assert_eq(ns_lookup(N, b.ino, "d", &s), 0);
	cr_assert_eq(s.ino, d.ino);
}
