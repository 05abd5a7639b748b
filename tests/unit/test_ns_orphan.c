/* ns orphans: an object unlinked while open keeps an orphan entry until
 * its content file is really gone. When the file cannot be removed (here
 * a directory stands in its place: unlink fails with EISDIR) neither the
 * last close nor the purge at the next open drops the entry, so nothing
 * leaks; once the file can go, the purge removes file and entry. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ns.h"
#include "config.h"
#include "store.h"
#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"
#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns_orphan, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static int count_cb(void *arg, uint64_t ino, const uint8_t objid[16])
{
	(void)ino;
	(void)objid;
	++*(int *)arg;
	return 0;
}

static int orphans(void)
{
	meta_txn *t = NULL;
	int count = 0;

	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(meta_orphan_foreach(t, count_cb, &count), 0);
	meta_txn_abort(t);
	return count;
}

Test(ns_orphan, entry_kept_while_the_content_cannot_be_removed)
{
	struct ns_attr a;
	struct meta_node nd;
	meta_txn *t = NULL;
	ns_handle *h;
	static char big[40000];
	char hex[STORE_OBJID_HEX + 1], file[700], aside[720], err[512];

	memset(big, 'x', sizeof(big));   /* past OBJ_INLINE_MAX: a content file */
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "orph", 0755, &a), 0);
	uint64_t b = a.ino;
	cr_assert_eq(ns_create(N, &ROOT, b, "f", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, big, sizeof(big), 0), (ssize_t)sizeof(big));
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_node_get(N, t, a.ino, &nd), 0);
	meta_txn_abort(t);
	store_objid_hex(nd.objid, hex);
	snprintf(file, sizeof(file), "%s/objects/%.2s/%s", spath, hex, hex);
	snprintf(aside, sizeof(aside), "%s.aside", file);
	struct stat st;
	cr_assert_eq(stat(file, &st), 0, "a content file");

	/* Open, unlinked: an orphan entry until the last close. */
	cr_assert_eq(ns_open_file(N, &ROOT, a.ino, O_RDONLY, &h, NULL), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), 0);
	cr_assert_eq(orphans(), 1);

	/* The content file cannot be removed at the last close. */
	cr_assert_eq(rename(file, aside), 0);
	cr_assert_eq(mkdir(file, 0700), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(orphans(), 1, "the entry stays while its file is there");

	/* Nor by the purge at the next open. */
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(orphans(), 1, "the purge keeps it too");

	/* Once it can go, the next purge removes the file and the entry. */
	ns_close(N);
	N = NULL;
	cr_assert_eq(rmdir(file), 0);
	cr_assert_eq(rename(aside, file), 0);
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(orphans(), 0);
	cr_assert_neq(stat(file, &st), 0, "the content file is gone");
	cr_assert_eq(errno, ENOENT);
}
