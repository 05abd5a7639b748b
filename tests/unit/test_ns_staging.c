/* ns staging nodes (ns_create_staging, ns_mkdir_staging): exempt from a
 * bucket's defaults so an upload in progress can always be removed, and in
 * exchange never lockable nor movable out of their directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"
#include "config.h"

static char dir[256], store[300];
static ns *N;
static struct cfg C;
static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL };

static void setup(void)
{
	char err[512] = "";
	snprintf(dir, sizeof(dir), "/tmp/wormfs-test-stg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_store_init(store, NULL, err, sizeof(err)), 0, "%s", err);
	cfg_defaults(&C);
	cr_assert_eq(cfg_finish(&C, err, sizeof(err)), 0);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	char cmd[300];
	ns_close(N);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ns_staging, .init = setup, .fini = teardown, .timeout = 60);

/* A COMPLIANCE-default bucket with a staging directory and a written,
 * released staging file in it. */
static uint64_t bucket(uint64_t *sdir, uint64_t *sfile)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "stg", 0777, &a), 0);
	uint64_t b = a.ino;
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0), 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-append-only", "ON", 2, 0), 0);
	cr_assert_eq(ns_mkdir_staging(N, &ROOT, b, "up", 0700, &a), 0);
	*sdir = a.ino;
	cr_assert_eq(ns_create_staging(N, &ROOT, *sdir, "p1", 0600, &a, &h), 0);
	*sfile = a.ino;
	cr_assert_eq(ns_write(N, &ROOT, h, "part", 4, 0), 4);
	cr_assert_eq(ns_write(N, &ROOT, h, "P", 1, 0), 1, "not append-only");
	cr_assert_eq(ns_release(N, h), 0);
	return b;
}

Test(ns_staging, exempt_from_defaults_and_removable)
{
	uint64_t b, d, f;
	char v[64];
	b = bucket(&d, &f);
	cr_assert_eq(ns_getxattr(N, &ROOT, f, "user.worm.state", v, sizeof(v)), 7);
	cr_assert_eq(memcmp(v, "mutable", 7), 0);
	/* reopened for write and released: still not locked */
	ns_handle *h;
	int keep;
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDWR, &h, &keep), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, d, "p1"), 0);
	cr_assert_eq(ns_rmdir(N, &ROOT, b, "up"), 0);
	/* an ordinary file beside it still gets the default */
	struct ns_attr a;
	cr_assert_eq(ns_create(N, &ROOT, b, "obj", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "obj"), -EPERM);
}

Test(ns_staging, never_locked_never_moved_out)
{
	uint64_t b, d, f;
	struct ns_attr a;
	ns_handle *h;
	b = bucket(&d, &f);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.retention", "COMPLIANCE +1d", 14, 0), -EPERM);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.legal-hold", "ON", 2, 0), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, d, "p1", b, "escaped", 0), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, b, "up", b, "escaped", 0), -EPERM);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "plain", 0755, &a), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b, "plain", b, "up", NS_RENAME_EXCHANGE), -EPERM);
	/* an ordinary file cannot replace a part either */
	cr_assert_eq(ns_create(N, &ROOT, d, "x", 0600, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_rename(N, &ROOT, d, "x", d, "p1", 0), -EPERM);
	/* within its staging directory, onto another staging node: allowed */
	cr_assert_eq(ns_create_staging(N, &ROOT, d, "tmp", 0600, &a, &h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_rename(N, &ROOT, d, "tmp", d, "p1", 0), 0);
	cr_assert_eq(ns_lookup(N, d, "p1", &a), 0);
	cr_assert_eq(a.size, 0);
	cr_assert_eq(ns_mkdir_staging(N, &ROOT, NS_INO_ROOT, "nobucket", 0700, &a), -EPERM);
}

Test(ns_staging, survives_reopen)
{
	uint64_t b, d, f;
	char err[512];
	b = bucket(&d, &f);
	ns_close(N);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.retention", "COMPLIANCE +1d", 14, 0), -EPERM);
	cr_assert_eq(ns_unlink(N, &ROOT, d, "p1"), 0);
	cr_assert_eq(ns_rmdir(N, &ROOT, b, "up"), 0);
}
