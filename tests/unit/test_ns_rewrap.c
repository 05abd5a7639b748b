/* ns_rewrap while the store is in use (the control socket's key-rewrap,
 * design section 16): objects removed while it runs are no error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns.h"
#include "config.h"
#include "kms.h"

#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_rewrap, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static uint64_t B;

/* After the first object: the others are removed, as a client might
 * while the daemon re-wraps (between its listing and their turn). */
static void remove_rest(void *arg, uint64_t done, uint64_t total)
{
	char name[16];
	(void)total;
	if (done != 1 || *(int *)arg)
		return;
	*(int *)arg = 1;
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		int rc = ns_unlink(N, &ROOT, B, name);
		cr_assert(rc == 0 || rc == -ENOENT);
	}
}

Test(ns_rewrap, objects_removed_meanwhile_are_skipped)
{
	struct ns_attr a;
	ns_handle *h;
	char name[16], big[8192];
	uint32_t ver = 0, lo = 0, hi = 0;
	int fired = 0;

	memset(big, 'x', sizeof(big));   /* beyond inline: a content file */
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "rwrap", 0777, &a), 0);
	B = a.ino;
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(ns_create(N, &ROOT, B, name, 0644, O_WRONLY, &a, &h), 0);
		cr_assert_eq(ns_write(N, &ROOT, h, big, sizeof(big), 0), (ssize_t)sizeof(big));
		cr_assert_eq(ns_release(N, h), 0);
	}
	cr_assert_eq(ns_create(N, &ROOT, B, "keep", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, big, sizeof(big), 0), (ssize_t)sizeof(big));
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(kms_rotate(ns_kms(N), &ver, 0), 0);
	long done = ns_rewrap(N, remove_rest, &fired);
	cr_assert(fired);
	cr_assert_geq(done, 1, "rewrap failed: %ld", done);
	cr_assert_eq(ns_key_versions_in_use(N, &lo, &hi), 0);
	cr_assert_eq(lo, ver);
	cr_assert_eq(hi, ver);
}
