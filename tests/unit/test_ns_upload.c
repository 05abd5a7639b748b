/* ns_create_upload and NS_RENAME_UPLOAD: a front end's upload under a
 * temporary name carries no pending bucket default (a crash before its
 * rename leaves nothing locked), gets it in the rename's transaction, and
 * its release then locks it as any object's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"
#include "wormnames.h"
#include "config.h"
#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"

#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_upload, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static struct meta_node node(uint64_t ino)
{
	struct meta_node nd;
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_node_get(N, t, ino, &nd), 0);
	meta_txn_abort(t);
	return nd;
}

static uint64_t bucket_with_default(const char *name)
{
	struct ns_attr a;
	const char *v = "COMPLIANCE 1d";
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, name, 0755, &a), 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, a.ino, "user.worm.default-retention", v, strlen(v), 0), 0);
	return a.ino;
}

Test(ns_upload, pending_only_from_the_rename)
{
	uint64_t b = bucket_with_default("upl");
	struct ns_attr a, plain;
	ns_handle *h, *h2;

	/* The mount's create marks it at once (a crash then locks it). */
	cr_assert_eq(ns_create(N, &ROOT, b, "plain", 0644, O_WRONLY, &plain, &h2), 0);
	cr_assert_neq(node(plain.ino).flags & META_F_DEFAULT_PENDING, 0);
	cr_assert_eq(ns_release(N, h2), 0);
	cr_assert_eq(node(plain.ino).sealed, 1);

	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-x", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0, "not due under the temporary name");
	cr_assert_eq(ns_write(N, &ROOT, h, "data", 4, 0), 4);
	cr_assert_eq(ns_flush(N, h), 0);
	cr_assert_eq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0, "nor after a flush");
	cr_assert_eq(node(a.ino).sealed, 0);
	/* EXCHANGE with UPLOAD is refused. */
	cr_assert_eq(ns_rename(N, &ROOT, b, ".s3-upload-x", b, "plain",
			       NS_RENAME_UPLOAD | NS_RENAME_EXCHANGE), -EINVAL);
	cr_assert_eq(ns_rename(N, &ROOT, b, ".s3-upload-x", b, "key", NS_RENAME_UPLOAD), 0);
	cr_assert_neq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0, "due from the rename on");
	cr_assert_eq(ns_release(N, h), 0);
	struct meta_node nd = node(a.ino);
	cr_assert_eq(nd.sealed, 1, "locked by the default at its release");
	cr_assert_eq(nd.flags & META_F_DEFAULT_PENDING, 0);
}

Test(ns_upload, aborted_upload_leaves_nothing_pending)
{
	uint64_t b = bucket_with_default("abt");
	struct ns_attr a;
	ns_handle *h;

	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-y", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "part", 4, 0), 4);
	cr_assert_eq(ns_unlink(N, &ROOT, b, ".s3-upload-y"), 0);
	cr_assert_eq(ns_release(N, h), 0);
	meta_txn *t = NULL;
	uint64_t count = 0;
	size_t len;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	if (meta_kv_get(t, "pending_defaults", &count, sizeof(count), &len))
		count = 0;
	meta_txn_abort(t);
	cr_assert_eq(count, 0, "no pending default counted");
}

Test(ns_upload, any_rename_of_an_open_upload_marks_it)
{
	uint64_t b = bucket_with_default("stl");
	struct ns_attr a, old;
	ns_handle *h, *h2;

	/* Renamed by someone else (e.g. through the mount) while the upload
	 * still writes: due all the same, so a crash before the release
	 * cannot leave it unlocked under a real name. */
	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-z", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "data", 4, 0), 4);
	cr_assert_eq(ns_rename(N, &ROOT, b, ".s3-upload-z", b, "taken", 0), 0);
	cr_assert_neq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(node(a.ino).sealed, 1);

	/* A file no one writes is not marked by a rename (a default is not
	 * retroactive): made before the default, renamed after it. */
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "late", 0755, &old), 0);
	uint64_t lb = old.ino;
	cr_assert_eq(ns_create(N, &ROOT, lb, "f", 0644, O_WRONLY, &a, &h2), 0);
	cr_assert_eq(ns_release(N, h2), 0);
	const char *v = "GOVERNANCE 1d";
	cr_assert_eq(ns_setxattr(N, &ROOT, lb, "user.worm.default-retention", v, strlen(v), 0), 0);
	cr_assert_eq(ns_rename(N, &ROOT, lb, "f", lb, "g", 0), 0);
	cr_assert_eq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0);
	cr_assert_eq(node(a.ino).sealed, 0);
}

/* ns_rename_ino renames only the object it names: another one renamed
 * onto the upload's temporary name meanwhile (a local user who may write
 * the directory) is -ESTALE, nothing renamed, nothing marked. */
Test(ns_upload, rename_ino_refuses_a_swapped_name)
{
	uint64_t b = bucket_with_default("swp");
	struct ns_attr a, evil;
	ns_handle *h, *he;

	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-z", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "honest", 6, 0), 6);
	cr_assert_eq(ns_create(N, &ROOT, b, "evil", 0644, O_WRONLY, &evil, &he), 0);
	cr_assert_eq(ns_write(N, &ROOT, he, "forged", 6, 0), 6);
	cr_assert_eq(ns_rename(N, &ROOT, b, "evil", b, ".s3-upload-z", 0), 0);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-z", a.ino, b, "key", 0, NS_RENAME_UPLOAD),
		     -ESTALE);
	struct ns_attr k;
	cr_assert_eq(ns_lookup(N, b, "key", &k), -ENOENT, "nothing at the key");
	cr_assert_eq(ns_lookup(N, b, ".s3-upload-z", &k), 0);
	cr_assert_eq(k.ino, evil.ino, "the other object stays at the name");
	/* the right inode renames as ns_rename does */
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-z", evil.ino, b, "key2", 0, 0), 0);
	cr_assert_eq(ns_lookup(N, b, "key2", &k), 0);
	cr_assert_eq(k.ino, evil.ino);
	cr_assert_eq(ns_release(N, he), 0);
	cr_assert_eq(ns_release(N, h), 0);
}

/* ns_rename_ino's target pin (S3 If-Match): a target that is not the
 * inode checked, or none, is -ESTALE and nothing is renamed. */
Test(ns_upload, rename_ino_pins_the_target)
{
	uint64_t b = bucket_with_default("pin");
	struct ns_attr a, old, k;
	ns_handle *h, *ho;

	cr_assert_eq(ns_create(N, &ROOT, b, "key", 0644, O_WRONLY, &old, &ho), 0);
	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-p", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-p", a.ino, b, "key", old.ino + 1000,
				   NS_RENAME_UPLOAD), -ESTALE);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-p", a.ino, b, "none", old.ino,
				   NS_RENAME_UPLOAD), -ESTALE, "no target is not the one checked");
	cr_assert_eq(ns_lookup(N, b, "key", &k), 0);
	cr_assert_eq(k.ino, old.ino, "the target stays");
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-p", a.ino, b, "key", old.ino,
				   NS_RENAME_UPLOAD), 0);
	cr_assert_eq(ns_lookup(N, b, "key", &k), 0);
	cr_assert_eq(k.ino, a.ino);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_release(N, ho), 0);
}

/* ns_rename_ino with the right inodes keeps every check ns_rename makes:
 * a locked target (-EPERM), NOREPLACE (-EEXIST), another bucket (-EXDEV),
 * the reserved staging name and the root (-EPERM), a directory target
 * (-EISDIR); nothing moves on any of them. */
Test(ns_upload, rename_ino_keeps_the_rename_checks)
{
	uint64_t b = bucket_with_default("chk");
	struct ns_attr a, lk, other, d, k;
	ns_handle *h, *hl;
	const char *v = "COMPLIANCE +1d";

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "chk2", 0755, &other), 0);
	cr_assert_eq(ns_create(N, &ROOT, b, "locked", 0644, O_WRONLY, &lk, &hl), 0);
	cr_assert_eq(ns_release(N, hl), 0);      /* the bucket default locks it */
	cr_assert_eq(node(lk.ino).sealed, 1);
	cr_assert_eq(ns_setxattr(N, &ROOT, lk.ino, "user.worm.retention", v, strlen(v), 0), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "dir", 0755, &d), 0);
	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-c", 0644, O_WRONLY, &a, &h), 0);

	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, "locked", lk.ino,
				   NS_RENAME_UPLOAD), -EPERM, "a locked target stays");
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, "locked", 0,
				   NS_RENAME_UPLOAD), -EPERM);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, "locked", 0,
				   NS_RENAME_UPLOAD | NS_RENAME_NOREPLACE), -EEXIST);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, other.ino, "x", 0,
				   NS_RENAME_UPLOAD), -EXDEV);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, WORM_S3_MPU_DIR, 0,
				   NS_RENAME_UPLOAD), -EPERM);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, NS_INO_ROOT, "x", 0,
				   NS_RENAME_UPLOAD), -EPERM);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, "dir", d.ino,
				   NS_RENAME_UPLOAD), -EISDIR);
	cr_assert_eq(ns_rename_ino(N, &ROOT, b, ".s3-upload-c", a.ino, b, "x",  0,
				   NS_RENAME_UPLOAD | NS_RENAME_EXCHANGE), -EINVAL);
	cr_assert_eq(ns_lookup(N, b, ".s3-upload-c", &k), 0);
	cr_assert_eq(k.ino, a.ino, "the upload never moved");
	cr_assert_eq(node(a.ino).flags & META_F_DEFAULT_PENDING, 0, "nor was marked");
	cr_assert_eq(ns_lookup(N, b, "locked", &k), 0);
	cr_assert_eq(k.ino, lk.ino);
	cr_assert_eq(ns_unlink(N, &ROOT, b, ".s3-upload-c"), 0);
	cr_assert_eq(ns_release(N, h), 0);
}

/* ns_unlink_ino (an S3 abort) removes only the object it names: another
 * one renamed onto the temporary name meanwhile is -ESTALE and stays. */
Test(ns_upload, unlink_ino_removes_only_its_object)
{
	uint64_t b = bucket_with_default("unl");
	struct ns_attr a, other, k;
	ns_handle *h, *ho;

	cr_assert_eq(ns_create_upload(N, &ROOT, b, ".s3-upload-u", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_create(N, &ROOT, b, "other", 0644, O_WRONLY, &other, &ho), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b, ".s3-upload-u", b, "moved", 0), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b, "other", b, ".s3-upload-u", 0), 0);
	cr_assert_eq(ns_unlink_ino(N, &ROOT, b, ".s3-upload-u", a.ino), -ESTALE);
	cr_assert_eq(ns_lookup(N, b, ".s3-upload-u", &k), 0);
	cr_assert_eq(k.ino, other.ino, "the other object stays");
	cr_assert_eq(ns_unlink_ino(N, &ROOT, b, "nothing", a.ino), -ENOENT);
	cr_assert_eq(ns_unlink_ino(N, &ROOT, b, "moved", a.ino), 0);
	cr_assert_eq(ns_lookup(N, b, "moved", &k), -ENOENT);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_release(N, ho), 0);
}
