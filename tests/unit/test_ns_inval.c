/* ns kernel cache invalidations of changes made outside the mount
 * (ns_queue_change, ns_drain_inval): what a change by S3 or the daemon
 * queues, that a change through the mount (via_mount) queues nothing, and
 * ns_ino_known, which the FUSE front end asks before it answers ESTALE. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "ns.h"
#include "config.h"
#include "fixture.h"

static const struct ns_caller S3 = { 0, 0, 1, 022, NULL, 0, NULL, 0 };
static const struct ns_caller MOUNT = { 0, 0, 1, 022, NULL, 0, NULL, 1 };

TestSuite(ns_inval, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static char got[4096];

static void record(void *arg, int kind, uint64_t ino, const char *name)
{
	size_t k = strlen(got);
	(void)arg;
	snprintf(got + k, sizeof(got) - k, "%s%s:%llu%s%s",
		 k ? " " : "",
		 kind == NS_INVAL_ENTRY ? "entry" : kind == NS_INVAL_ATTR ? "attr" : "inode",
		 (unsigned long long)ino, name ? "/" : "", name ? name : "");
}

static const char *drained(void)
{
	got[0] = '\0';
	ns_drain_inval(N);
	return got;
}

static uint64_t put(const struct ns_caller *c, uint64_t dir, const char *name, const char *data)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_create(N, c, dir, name, 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, c, h, data, strlen(data), 0), (ssize_t)strlen(data));
	cr_assert_eq(ns_release(N, h), 0);
	return a.ino;
}

Test(ns_inval, changes_outside_the_mount_are_queued)
{
	char want[512];
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "bkt");

	ns_set_inval(N, record, NULL);
	(void)drained();
	uint64_t old = put(&S3, b, "key", "old bytes");
	snprintf(want, sizeof(want), "attr:%llu", (unsigned long long)b);
	cr_assert_str_eq(drained(), want);

	/* a rename over the key (an S3 PUT's last step) */
	uint64_t tmp = put(&S3, b, "tmp", "new");
	(void)drained();
	cr_assert_eq(ns_rename(N, &S3, b, "tmp", b, "key", 0), 0);
	snprintf(want, sizeof(want), "entry:%llu/tmp attr:%llu entry:%llu/key attr:%llu inode:%llu",
		 (unsigned long long)b, (unsigned long long)b, (unsigned long long)b,
		 (unsigned long long)tmp, (unsigned long long)old);
	cr_assert_str_eq(drained(), want);
	cr_assert_eq(ns_ino_known(N, old), 0, "the replaced inode is gone");
	cr_assert_eq(ns_ino_known(N, tmp), 1);

	/* a delete, an attribute */
	cr_assert_eq(ns_setxattr(N, &S3, tmp, "user.x", "1", 1, 0), 0);
	cr_assert_eq(ns_unlink(N, &S3, b, "key"), 0);
	snprintf(want, sizeof(want), "attr:%llu entry:%llu/key attr:%llu inode:%llu",
		 (unsigned long long)tmp, (unsigned long long)b, (unsigned long long)b,
		 (unsigned long long)tmp);
	cr_assert_str_eq(drained(), want);
	cr_assert_str_eq(drained(), "", "delivered once");
	ns_set_inval(N, NULL, NULL);
}

Test(ns_inval, changes_through_the_mount_queue_nothing)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "bkt");
	struct ns_attr a;

	ns_set_inval(N, record, NULL);
	(void)drained();
	uint64_t x = put(&MOUNT, b, "x", "one");
	(void)put(&MOUNT, b, "y", "two");
	cr_assert_eq(ns_rename(N, &MOUNT, b, "y", b, "x", 0), 0);
	cr_assert_eq(ns_mkdir(N, &MOUNT, b, "d", 0755, &a), 0);
	cr_assert_eq(ns_rmdir(N, &MOUNT, b, "d"), 0);
	cr_assert_eq(ns_unlink(N, &MOUNT, b, "x"), 0);
	cr_assert_str_eq(drained(), "");
	cr_assert_eq(ns_ino_known(N, x), 0);
	/* a missing name is no change */
	cr_assert_eq(ns_unlink(N, &S3, b, "nope"), -ENOENT);
	cr_assert_str_eq(drained(), "");
	ns_set_inval(N, NULL, NULL);
}

Test(ns_inval, unhooked_queue_is_dropped_and_unlinked_open_is_known)
{
	uint64_t b = fixture_mkdir(NS_INO_ROOT, "bkt");
	ns_handle *h;
	int keep = 0;

	uint64_t x = put(&S3, b, "x", "kept open");
	ns_drain_inval(N);          /* no hook: dropped */
	ns_set_inval(N, record, NULL);
	cr_assert_str_eq(drained(), "");
	cr_assert_eq(ns_open_file(N, &MOUNT, x, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_unlink(N, &MOUNT, b, "x"), 0);
	cr_assert_eq(ns_ino_known(N, x), 2, "unlinked, kept for its handle");
	cr_assert_eq(ns_ino_known(N, b), 1);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_ino_known(N, x), 0);
	ns_set_inval(N, NULL, NULL);
}
