/* ns: namespace and lock enforcement through the API fs.c uses, without a
 * mount. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ns.h"
#include "config.h"
#include "policy.h"
#include "meta.h"
#include "fixture.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };
static const struct ns_caller USER = { 1000, 1000, 1, 022, NULL, 0, NULL, 0 };

TestSuite(ns, .init = fixture_ns_setup, .fini = fixture_ns_teardown, .timeout = 60);

static uint64_t mkbucket(const char *name)
{
	struct ns_attr a;
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, name, 0777, &a), 0);
	return a.ino;
}

static uint64_t mkfile(uint64_t parent, const char *name, const char *content)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_create(N, &ROOT, parent, name, 0644, O_WRONLY, &a, &h), 0);
	if (content)
		cr_assert_eq(ns_write(N, &ROOT, h, content, strlen(content), 0),
			     (ssize_t)strlen(content));
	cr_assert_eq(ns_flush(N, h), 0);
	cr_assert_eq(ns_release(N, h), 0);
	return a.ino;
}

static int set_ret(uint64_t ino, const char *v, const struct ns_caller *c)
{
	return ns_setxattr(N, c, ino, "user.worm.retention", v, strlen(v), 0);
}

Test(ns, namespace_rules)
{
	struct ns_attr a;
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "AB", 0755, &a), -EINVAL);
	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "192.168.0.1", 0755, &a), -EINVAL);
	cr_assert_eq(ns_mknod(N, &ROOT, NS_INO_ROOT, "file", S_IFREG | 0644, &a), -EPERM);
	cr_assert_eq(ns_symlink(N, &ROOT, NS_INO_ROOT, "ln", "x", &a), -EPERM);
	uint64_t b = mkbucket("bucket-one");
	uint64_t b2 = mkbucket("bucket-two");
	cr_assert_eq(ns_mknod(N, &ROOT, b, "fifo", S_IFIFO | 0644, &a), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, NS_INO_ROOT, "bucket-one", NS_INO_ROOT, "bucket-3", 0),
		     -EPERM);
	mkfile(b, "f", "hello");
	cr_assert_eq(ns_rename(N, &ROOT, b, "f", b2, "f", 0), -EXDEV);
	cr_assert_eq(ns_rmdir(N, &ROOT, NS_INO_ROOT, "bucket-one"), -ENOTEMPTY);
	cr_assert_eq(ns_rmdir(N, &ROOT, NS_INO_ROOT, "bucket-two"), 0);
	cr_assert_eq(ns_lookup(N, NS_INO_ROOT, ".wormfs", &a), 0);
	cr_assert_eq(a.ino, NS_INO_CTL);
}

/* link(2) is refused by ns itself (fs.c decides nothing): -EPERM anywhere,
 * counted as a link refusal, nothing created. */
Test(ns, hard_links_refused)
{
	struct ns_attr a;
	uint64_t b = mkbucket("links");
	uint64_t f = mkfile(b, "f", "x");
	uint64_t before = atomic_load(&ns_stats(N)->refusals[SOP_LINK]);
	cr_assert_eq(ns_link(N, &ROOT, f, b, "hard"), -EPERM);
	cr_assert_eq(ns_link(N, &USER, f, NS_INO_ROOT, "hard"), -EPERM);
	cr_assert_eq(ns_link(N, &ROOT, f, NS_INO_CTL, "hard"), -EPERM);
	cr_assert_eq(atomic_load(&ns_stats(N)->refusals[SOP_LINK]), before + 3);
	cr_assert_eq(ns_lookup(N, b, "hard", &a), -ENOENT);
	cr_assert_str_eq(stats_op_name(SOP_LINK), "link");
}

/* Every file of the wormnames.h table is found by its name, at its fixed
 * inode, and listed in .wormfs in table order. */
static int ctl_list(void *arg, const char *name, const struct ns_attr *a, uint64_t next)
{
	size_t *i = arg;
	(void)next;
	if (*i >= 2) {
		cr_assert_lt(*i - 2, WORM_CTL_NFILES);
		cr_assert_str_eq(name, worm_ctl_files()[*i - 2].name);
		cr_assert_eq(a->ino, worm_ctl_files()[*i - 2].ino);
	}
	(*i)++;
	return 0;
}

Test(ns, wormfs_table)
{
	struct ns_attr a;
	size_t i = 0;
	for (size_t k = 0; k < WORM_CTL_NFILES; k++) {
		cr_assert_eq(ns_lookup(N, NS_INO_CTL, worm_ctl_files()[k].name, &a), 0);
		cr_assert_eq(a.ino, worm_ctl_files()[k].ino);
		cr_assert_str_eq(worm_ctl_name(a.ino), worm_ctl_files()[k].name);
	}
	cr_assert_eq(ns_lookup(N, NS_INO_CTL, "nope", &a), -ENOENT);
	cr_assert_eq(worm_ctl_ino("nope"), 0);
	cr_assert_null(worm_ctl_name(NS_INO_CTL));
	cr_assert_eq(ns_readdir(N, NS_INO_CTL, 0, ctl_list, &i), 0);
	cr_assert_eq(i, 2 + WORM_CTL_NFILES);
	cr_assert(worm_xattr_is_lock(WORM_XATTR_RETENTION));
	cr_assert(!worm_xattr_is_lock("user.wormx"));
}

Test(ns, write_read_roundtrip_and_size)
{
	uint64_t b = mkbucket("data");
	struct ns_attr a;
	ns_handle *h;
	char buf[64] = "";
	uint64_t f = mkfile(b, "f", "hello world");
	cr_assert_eq(ns_getattr(N, f, &a), 0);
	cr_assert_eq(a.size, 11);
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, NULL), 0);
	cr_assert_eq(ns_read(N, h, buf, sizeof(buf), 6), 5);
	cr_assert_str_eq(buf, "world");
	cr_assert_eq(ns_release(N, h), 0);
}

Test(ns, compliance_lock_blocks_everything)
{
	uint64_t b = mkbucket("locks");
	uint64_t f = mkfile(b, "f", "data");
	ns_handle *h;
	struct ns_setattr sa = { .valid = NS_SET_MODE, .mode = 0600 };
	struct ns_attr a;
	char v[128];

	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_WRONLY, &h, NULL), -EPERM);
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY | O_TRUNC, &h, NULL), -EPERM);
	cr_assert_eq(ns_setattr(N, &ROOT, f, &sa, NULL, &a), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, b, "f", b, "g", 0), -EPERM);
	cr_assert_eq(ns_removexattr(N, &ROOT, f, "user.worm.retention"), -EPERM);
	cr_assert_eq(set_ret(f, "GOVERNANCE +2d", &ROOT), -EPERM);
	cr_assert_eq(set_ret(f, "COMPLIANCE +2d", &ROOT), 0);
	ssize_t n = ns_getxattr(N, &ROOT, f, "user.worm.state", v, sizeof(v));
	cr_assert_eq(n, 6);
	cr_assert_eq(memcmp(v, "locked", 6), 0);
	/* the rename target is protected too */
	mkfile(b, "g", "other");
	cr_assert_eq(ns_rename(N, &ROOT, b, "g", b, "f", 0), -EPERM);
}

Test(ns, governance_bypass_two_steps)
{
	uint64_t b = mkbucket("gov");
	uint64_t f = mkfile(b, "f", "data");
	cr_assert_eq(set_ret(f, "GOVERNANCE +1d", &ROOT), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
	cr_assert_eq(ns_removexattr(N, &USER, f, "user.worm.retention"), -EPERM);
	cr_assert_eq(ns_removexattr(N, &ROOT, f, "user.worm.retention"), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), 0);
}

Test(ns, bad_retention_values)
{
	uint64_t b = mkbucket("bad");
	uint64_t f = mkfile(b, "f", "data");
	const char *bad[] = { "garbage", "COMPLIANCE 99999-01-01T00:00:00Z", "COMPLIANCE +-1d",
			      "COMPLIANCE 2001-01-01T00:00:00Z", "COMPLIANCE +200y", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(set_ret(f, bad[i], &ROOT), -EINVAL, "%s", bad[i]);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.retention", "COMPLIANCE\0+1d", 14, 0),
		     -EINVAL);
	char v[64];
	cr_assert_eq(ns_getxattr(N, &ROOT, f, "user.worm.retention", v, sizeof(v)), -ENODATA);
	ns_handle *h;
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_WRONLY, &h, NULL), 0);
	/* open writers: EBUSY */
	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), -EBUSY);
	cr_assert_eq(ns_release(N, h), 0);
}

Test(ns, default_retention_applies_at_commit)
{
	uint64_t b = mkbucket("defaults");
	uint64_t old = mkfile(b, "old", "x");
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0),
		     0);
	uint64_t f = mkfile(b, "new", "y");
	cr_assert_eq(ns_unlink(N, &ROOT, b, "new"), -EPERM);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "old"), 0, "never retroactive");
	(void)old;
	(void)f;
}

Test(ns, legal_hold_needs_principal)
{
	uint64_t b = mkbucket("holds");
	uint64_t f = mkfile(b, "f", "x");
	cr_assert_eq(ns_setxattr(N, &USER, f, "user.worm.legal-hold", "ON", 2, 0), -EPERM);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.legal-hold", "ON", 2, 0), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.legal-hold", "OFF", 3, 0), 0);
	/* sealed forever, but deletable once no longer locked */
	ns_handle *h;
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_WRONLY, &h, NULL), -EPERM);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), 0);
}

Test(ns, directory_with_locked_descendant_cannot_move)
{
	uint64_t b = mkbucket("tree");
	struct ns_attr d;
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "dir", 0755, &d), 0);
	uint64_t f = mkfile(d.ino, "f", "x");
	cr_assert_eq(ns_rename(N, &ROOT, b, "dir", b, "dir2", 0), 0);
	cr_assert_eq(set_ret(f, "GOVERNANCE +1d", &ROOT), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b, "dir2", b, "dir3", 0), -EPERM);
}

Test(ns, readdir_lists_each_once)
{
	uint64_t b = mkbucket("many");
	char name[32];
	for (int i = 0; i < 500; i++) {
		struct ns_attr a;
		snprintf(name, sizeof(name), "f%04d", i);
		cr_assert_eq(ns_mknod(N, &ROOT, b, name, S_IFREG | 0644, &a), 0);
	}
	struct { int count; uint64_t last; } st = { 0, 0 };
	int cb(void *arg, const char *nm, const struct ns_attr *a, uint64_t next);
	(void)cb;
	uint64_t off = 0;
	int total = 0;
	for (;;) {
		struct { int n; uint64_t next; } r = { 0, 0 };
		int take(void *arg, const char *nm, const struct ns_attr *a, uint64_t next)
		{
			(void)nm; (void)a;
			struct { int n; uint64_t next; } *rr = arg;
			if (rr->n == 37)
				return 1;
			rr->n++;
			rr->next = next;
			return 0;
		}
		cr_assert_eq(ns_readdir(N, b, off, take, &r), 0);
		if (!r.n)
			break;
		total += r.n;
		off = r.next;
	}
	(void)st;
	cr_assert_eq(total, 502);   /* . .. and 500 files */
}

/* A stop between a writer's last close (FLUSH) and its RELEASE must not
 * leave an object of a bucket with a default retention unlocked: the next
 * open applies the due default. The "crash" is ns_close with the handle
 * still open; the handle is then freed by hand (ns_priv.h). */
#include "../../src/ns_priv.h"
#include "../../src/ns_record.h"
#include "../../src/ns_path.h"
#include "../../src/ns_auth.h"

Test(ns, pending_default_applied_after_unclean_stop)
{
	char err[512] = "", store[300];
	uint64_t b = mkbucket("pending");
	struct ns_attr a;
	ns_handle *h;
	char v[128];

	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 2d", 13, 0),
		     0);
	cr_assert_eq(ns_create(N, &ROOT, b, "f", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "data", 4, 0), 4);
	cr_assert_eq(ns_flush(N, h), 0);     /* close(2) returned ... */
	ns_close(N);                          /* ... and the daemon died */
	if (h->fd >= 0)
		close(h->fd);
	free(h);
	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
	ssize_t k = ns_getxattr(N, &ROOT, a.ino, "user.worm.retention", v, sizeof(v));
	cr_assert_gt(k, 11);
	cr_assert_eq(memcmp(v, "COMPLIANCE ", 11), 0);
	/* content committed at the flush */
	ns_handle *r;
	char buf[8] = "";
	cr_assert_eq(ns_open_file(N, &ROOT, a.ino, O_RDONLY, &r, NULL), 0);
	cr_assert_eq(ns_read(N, r, buf, sizeof(buf), 0), 4);
	cr_assert_eq(memcmp(buf, "data", 4), 0);
	cr_assert_eq(ns_release(N, r), 0);
}

Test(ns, pending_default_cleared_by_release)
{
	uint64_t b = mkbucket("released");
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "GOVERNANCE 1d", 13, 0),
		     0);
	mkfile(b, "f", "x");
	uint64_t f = mkfile(b, "g", "y");
	(void)f;
	/* applied at release, nothing left pending: remove the default, then
	 * a reopen must not lock anything new */
	cr_assert_eq(ns_removexattr(N, &ROOT, b, "user.worm.default-retention"), 0);
	uint64_t h2 = mkfile(b, "h", "z");
	(void)h2;
	cr_assert_eq(ns_unlink(N, &ROOT, b, "h"), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
}

/* A store from before inline objects (format 1 in FORMAT and in the
 * database): read-only opens leave it alone, the first writable open
 * upgrades both markers to 2. */
Test(ns, format1_store_upgraded_by_first_writable_open)
{
	char err[512] = "", store[300], path[400], buf[64] = "";
	uint32_t fmt = 1;
	size_t len = 0;
	meta_env *me = NULL;
	meta_txn *t = NULL;
	FILE *f;

	ns_close(N);
	N = NULL;
	snprintf(store, sizeof(store), "%s/s", dir);
	snprintf(path, sizeof(path), "%s/meta", store);
	cr_assert_eq(meta_open(path, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_kv_put(t, "format", &fmt, sizeof(fmt)), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	snprintf(path, sizeof(path), "%s/FORMAT", store);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("wormfs-store 1\n", f);
	fclose(f);

	cr_assert_eq(ns_open(store, &C, NS_OFFLINE | NS_RDONLY, &N, err, sizeof(err)), 0, "%s", err);
	ns_close(N);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "wormfs-store 1\n");

	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "wormfs-store 2\n");
	ns_close(N);
	snprintf(path, sizeof(path), "%s/meta", store);
	cr_assert_eq(meta_open(path, META_RDONLY, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 1, &t), 0);
	cr_assert_eq(meta_kv_get(t, "format", &fmt, sizeof(fmt), &len), 0);
	meta_txn_abort(t);
	meta_close(me);
	cr_assert_eq(fmt, 2);
	/* teardown closes N again: reopen it */
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

/* ---- the bucket of a record --------------------------------------------- */

/* Rewrite a node as a record from before buckets were recorded: version
 * 1, no bucket, MAC over the older fields only (which leave out the
 * parent). Such records are read only in a store not yet upgraded to
 * version 2 records (as one is until its first writable open): the test
 * store is made to look like one. */
static void make_legacy(uint64_t ino, uint64_t parent)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	N->rec_strict = 0;
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(ns_node_get(N, t, ino, &nd), 0);
	nd.bucket_lo = nd.bucket_hi = 0;
	nd.parent = parent;
	nd.version = 1;
	ns_node_mac(N, &nd, nd.mac);
	cr_assert_eq(ns_node_bucket(&nd), 0);
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

static struct meta_node node_of(uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(ns_node_get(N, t, ino, &nd), 0);
	meta_txn_abort(t);
	return nd;
}

Test(ns, version1_records_are_refused_once_upgraded)
{
	uint64_t b = mkbucket("strict");
	struct ns_attr d;
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d", 0755, &d), 0);
	make_legacy(d.ino, b);
	cr_assert_eq(node_of(d.ino).flags & (1u << 31), 0, "read before the upgrade");
	N->rec_strict = 1;
	cr_assert_neq(node_of(d.ino).flags & (1u << 31), 0, "an older record put back");
}

Test(ns, node_mac_covers_parent_and_owner)
{
	uint64_t b = mkbucket("covered");
	struct ns_attr d, d2;
	meta_txn *t = NULL;
	struct meta_node nd;
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d", 0755, &d), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d2", 0755, &d2), 0);
	uint64_t f = mkfile(d.ino, "f", "x");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
		cr_assert_eq(meta_node_get(t, f, &nd), 0);
		if (i == 0)
			nd.parent = d2.ino;
		else if (i == 1)
			nd.uid = 4242;
		else
			nd.mode ^= 0002;
		cr_assert_eq(meta_node_put(t, &nd), 0);
		cr_assert_eq(meta_txn_commit(t), 0);
		cr_assert_neq(node_of(f).flags & (1u << 31), 0, "edit %d detected", i);
	}
}

Test(ns, new_records_name_their_bucket)
{
	uint64_t b = mkbucket("named");
	struct ns_attr d;
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d", 0755, &d), 0);
	uint64_t f = mkfile(d.ino, "f", "x");
	cr_assert_eq(ns_node_bucket(&(struct meta_node){ 0 }), 0);
	struct meta_node nb = node_of(b), nd = node_of(d.ino), nf = node_of(f);
	cr_assert_eq(ns_node_bucket(&nb), b);
	cr_assert_eq(ns_node_bucket(&nd), b);
	cr_assert_eq(ns_node_bucket(&nf), b);
	cr_assert_eq(nf.flags & (1u << 31), 0, "authenticates");
}

Test(ns, older_records_derive_their_bucket_and_learn_it)
{
	uint64_t b = mkbucket("legacy"), b2 = mkbucket("other");
	struct ns_attr d1, d2, e, s;
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0),
		     0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d1", 0755, &d1), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, d1.ino, "d2", 0755, &d2), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, d2.ino, "sub", 0755, &s), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b2, "e", 0755, &e), 0);
	make_legacy(d1.ino, b);
	make_legacy(d2.ino, d1.ino);
	make_legacy(s.ino, d2.ino);
	struct meta_node nd = node_of(d2.ino);
	cr_assert_eq(ns_node_bucket(&nd), 0);
	cr_assert_eq(nd.flags & (1u << 31), 0, "an older record still authenticates");
	/* The default applies below it, and it stays in its bucket. */
	uint64_t f = mkfile(d2.ino, "f", "x");
	cr_assert_eq(ns_unlink(N, &ROOT, d2.ino, "f"), -EPERM);
	struct meta_node nf = node_of(f);
	cr_assert_eq(ns_node_bucket(&nf), b);
	cr_assert_eq(ns_rename(N, &ROOT, d2.ino, "sub", e.ino, "sub", 0), -EXDEV);
	/* Written again: it learns its bucket, and still authenticates. */
	struct ns_setattr sa = { .valid = NS_SET_MODE, .mode = 0750 };
	cr_assert_eq(ns_setattr(N, &ROOT, d2.ino, &sa, NULL, NULL), 0);
	nd = node_of(d2.ino);
	cr_assert_eq(ns_node_bucket(&nd), b);
	cr_assert_eq(nd.flags & (1u << 31), 0);
}

Test(ns, parent_loop_of_older_records_fails_closed)
{
	uint64_t b = mkbucket("loops"), b2 = mkbucket("elsewhere");
	struct ns_attr d1, d2, s, e;
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0),
		     0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d1", 0755, &d1), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, d1.ino, "d2", 0755, &d2), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, d2.ino, "sub", 0755, &s), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b2, "e", 0755, &e), 0);
	/* An edited record: d1's parent is d2, whose parent is d1. */
	make_legacy(d2.ino, d1.ino);
	make_legacy(d1.ino, d2.ino);
	make_legacy(s.ino, d2.ino);
	struct ns_attr a;
	ns_handle *h;
	/* No bucket found is a refusal, never "no default" or "no bucket". */
	cr_assert_eq(ns_create(N, &ROOT, d2.ino, "f", 0644, O_WRONLY, &a, &h), -ELOOP);
	cr_assert_eq(ns_rename(N, &ROOT, d2.ino, "sub", e.ino, "sub", 0), -ELOOP);
}

Test(ns, deep_trees_have_no_depth_limit)
{
	uint64_t b = mkbucket("deeptree"), b2 = mkbucket("deepother");
	uint64_t cur = b, cur2 = b2;
	struct ns_attr a;
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0),
		     0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "top", 0755, &a), 0);
	uint64_t top = a.ino;
	cur = top;
	for (int i = 0; i < 5000; i++) {
		cr_assert_eq(ns_mkdir(N, &ROOT, cur, "d", 0755, &a), 0);
		cur = a.ino;
		cr_assert_eq(ns_mkdir(N, &ROOT, cur2, "d", 0755, &a), 0);
		cur2 = a.ino;
	}
	/* No locked object below: the 5,000-deep directory moves. */
	cr_assert_eq(ns_rename(N, &ROOT, b, "top", b, "top2", 0), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, cur, "sub", 0755, &a), 0);
	cr_assert_eq(ns_rename(N, &ROOT, cur, "sub", cur2, "sub", 0), -EXDEV);
	cr_assert_eq(ns_rename(N, &ROOT, cur, "sub", top, "sub", 0), 0);
	/* The default at the bottom, and then the tree is pinned. */
	mkfile(cur, "f", "x");
	cr_assert_eq(ns_unlink(N, &ROOT, cur, "f"), -EPERM);
	cr_assert_eq(ns_rename(N, &ROOT, b, "top2", b, "top3", 0), -EPERM);
}

/* ---- walk and verify at any depth --------------------------------------- */

struct walk_seen {
	uint64_t total, done;
	char *deep;               /* path of the entry named "deepest" */
	int damaged;
	char what[8][128];
};

static int seen_cb(void *arg, const struct ns_entry *e)
{
	struct walk_seen *s = arg;
	size_t k = strlen(e->path);
	if (k >= 7 && !strcmp(e->path + k - 7, "deepest")) {
		free(s->deep);
		s->deep = strdup(e->path);
	}
	return 0;
}

static int damage_seen(void *arg, const char *path, const char *what)
{
	struct walk_seen *s = arg;
	size_t k = strlen(path);
	if (s->damaged < 8)
		snprintf(s->what[s->damaged], sizeof(s->what[0]), "%s: %s",
			 k > 40 ? path + k - 40 : path, what);
	s->damaged++;
	return 0;
}

static void progress_seen(void *arg, uint64_t done, uint64_t total)
{
	struct walk_seen *s = arg;
	s->done = done;
	s->total = total;
}

/* Rewrite a record raw with one MAC-covered byte changed (an offline
 * edit): it then fails authentication. */
static void tamper_size(uint64_t ino)
{
	meta_txn *t = NULL;
	struct meta_node nd;
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, ino, &nd), 0);
	nd.size ^= 1;
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(ns, walk_and_verify_reach_every_depth)
{
	uint64_t b = mkbucket("walkdeep"), cur = b;
	struct ns_attr a;
	struct walk_seen s = { 0 };

	mkfile(b, "top", "t");
	/* 5,000 levels of 9-byte names: a path of about 50,000 bytes. */
	for (int i = 0; i < 5000; i++) {
		cr_assert_eq(ns_mkdir(N, &ROOT, cur, "level-dir", 0755, &a), 0);
		cur = a.ino;
	}
	uint64_t f = mkfile(cur, "deepest", "x");
	cr_assert_eq(ns_walk(N, seen_cb, &s), 0);
	cr_assert_not_null(s.deep, "the deepest object is walked");
	cr_assert_eq(strlen(s.deep), strlen("walkdeep") + 5000 * 10 + 8, "its full path");
	cr_assert_eq(ns_verify(N, damage_seen, progress_seen, &s), 0);
	cr_assert_eq(s.total, 2, "both objects counted");
	cr_assert_eq(s.done, 2, "both objects checked");
	/* Logs name it by the end of its path, marked as cut. */
	char lp[1536];
	cr_assert_eq(ns_path_of(N, f, lp, sizeof(lp)), 0);
	size_t lk = strlen(lp);
	cr_assert_eq(strncmp(lp, "/.../", 5), 0, "%.40s", lp);
	cr_assert(lk > 1400 && !strcmp(lp + lk - 18, "/level-dir/deepest"), "%s", lp + lk - 30);
	/* A damaged record that deep is found and reported with its path. */
	tamper_size(f);
	cr_assert_eq(ns_verify(N, damage_seen, progress_seen, &s), 1);
	cr_assert(strstr(s.what[0], "level-dir/deepest: metadata record fails authentication"),
		  "%s", s.what[0]);
	free(s.deep);
}

Test(ns, verify_reports_what_the_walk_cannot_enter)
{
	uint64_t b = mkbucket("walkodd");
	struct ns_attr d1, d2;
	struct walk_seen s = { 0 };
	meta_txn *t = NULL;

	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d1", 0755, &d1), 0);
	cr_assert_eq(ns_mkdir(N, &ROOT, d1.ino, "d2", 0755, &d2), 0);
	mkfile(d2.ino, "f", "x");
	/* Offline edits: a name whose record is gone, and a second name of a
	 * directory that loops back to its own ancestor. */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_dirent_add(t, b, "ghost", 0x7fff0000ull), 0);
	cr_assert_eq(meta_dirent_add(t, d2.ino, "back", d1.ino), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	long bad = ns_verify(N, damage_seen, progress_seen, &s);
	cr_assert_eq(bad, 2, "%ld: %s / %s", bad, s.what[0], s.what[1]);
	int ghost = 0, back = 0;
	for (int i = 0; i < 2; i++) {
		ghost |= strstr(s.what[i], "walkodd/ghost: metadata record missing") != NULL;
		back |= strstr(s.what[i], "d2/back: directory not walked") != NULL;
	}
	cr_assert(ghost && back, "%s / %s", s.what[0], s.what[1]);
	cr_assert_eq(s.done, s.total);
}

/* The same edit with the store closed. */
static void tamper_offline(uint64_t ino)
{
	char err[512] = "", path[400];
	meta_env *me = NULL;
	meta_txn *t = NULL;
	struct meta_node nd;
	snprintf(path, sizeof(path), "%s/s/meta", dir);
	cr_assert_eq(meta_open(path, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, ino, &nd), 0);
	nd.size ^= 1;
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	/* The edit changed the state digest: an operator re-seals it
	 * (wormctl repair), or no writable open is allowed at all. */
	char err2[512] = "", store[300];
	ns *o = NULL;
	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_open(store, &C, 0, &o, err2, sizeof(err2)), -EUCLEAN);
	cr_assert(strstr(err2, "state digest"), "%s", err2);
	cr_assert_eq(ns_open(store, &C, NS_OFFLINE, &o, err2, sizeof(err2)), 0, "%s", err2);
	cr_assert_eq(ns_repair_digest(o, 0), 1);
	cr_assert_eq(ns_repair_digest(o, 0), 0);
	ns_close(o);
}

/* An object left pending whose bucket cannot be found at the next open
 * (its record fails authentication) stays pending and counted: once the
 * bucket is readable again, the open after that applies the default. */
Test(ns, pending_default_retried_while_its_bucket_is_unreadable)
{
	char err[512] = "", store[300];
	uint64_t b = mkbucket("retry");
	struct ns_attr a;
	ns_handle *h;
	char v[128];

	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 2d", 13, 0),
		     0);
	cr_assert_eq(ns_create(N, &ROOT, b, "f", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "data", 4, 0), 4);
	cr_assert_eq(ns_flush(N, h), 0);
	ns_close(N);                          /* the daemon died before RELEASE */
	if (h->fd >= 0)
		close(h->fd);
	free(h);
	tamper_offline(b);                    /* the bucket cannot be trusted */
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(node_of(a.ino).flags & META_F_DEFAULT_PENDING, META_F_DEFAULT_PENDING);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EIO, "its bucket unknown: refused");
	ns_close(N);
	tamper_offline(b);                    /* repaired */
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	ssize_t k = ns_getxattr(N, &ROOT, a.ino, "user.worm.retention", v, sizeof(v));
	cr_assert_gt(k, 11, "the default was applied at this open");
	cr_assert_eq(memcmp(v, "COMPLIANCE ", 11), 0);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "f"), -EPERM);
	cr_assert_eq(node_of(a.ino).flags & META_F_DEFAULT_PENDING, 0);
}

/* An unlink that fails after the object was marked gone (here: its
 * directory's record fails authentication, so the transaction cannot be
 * written) leaves it in place: the open writer's release still applies
 * the bucket default and deletes nothing. */
Test(ns, failed_unlink_of_an_open_object_forgets_nothing)
{
	uint64_t b = mkbucket("failunlink");
	struct ns_attr d, a;
	ns_handle *h;
	char v[64];

	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "COMPLIANCE 1d", 13, 0),
		     0);
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "d", 0755, &d), 0);
	cr_assert_eq(ns_create(N, &ROOT, d.ino, "f", 0644, O_WRONLY, &a, &h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "data", 4, 0), 4);
	tamper_size(d.ino);
	cr_assert_eq(ns_unlink(N, &ROOT, d.ino, "f"), -EPERM);
	cr_assert_eq(ns_release(N, h), 0);
	struct ns_attr got;
	cr_assert_eq(ns_lookup(N, d.ino, "f", &got), 0);
	cr_assert_eq(got.size, 4);
	ssize_t k = ns_getxattr(N, &ROOT, a.ino, "user.worm.state", v, sizeof(v));
	cr_assert_eq(k, 6);
	cr_assert_eq(memcmp(v, "locked", 6), 0, "the default was applied at the release");
	ns_handle *r;
	char buf[8] = "";
	cr_assert_eq(ns_open_file(N, &ROOT, a.ino, O_RDONLY, &r, NULL), 0);
	cr_assert_eq(ns_read(N, r, buf, sizeof(buf), 0), 4);
	cr_assert_eq(memcmp(buf, "data", 4), 0);
	cr_assert_eq(ns_release(N, r), 0);
}

/* ---- authenticated records beyond the node (issue 12) ------------------- */

/* Is any of the first reports of s about what? */
static int reported(const struct walk_seen *s, const char *what)
{
	for (int i = 0; i < s->damaged && i < 8; i++)
		if (strstr(s->what[i], what))
			return 1;
	return 0;
}

static int rd_count(void *arg, const char *name, const struct ns_attr *a, uint64_t next)
{
	(void)name;
	(void)a;
	(void)next;
	(*(int *)arg)++;
	return 0;
}

Test(ns, edited_directory_entry_fails_closed)
{
	uint64_t b = mkbucket("dents");
	uint64_t f = mkfile(b, "locked", "content");
	mkfile(b, "plain", "x");
	struct ns_attr a;
	struct walk_seen s = { 0 };
	meta_txn *t = NULL;
	char buf[64];

	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	/* Offline, without the key: a second name for the locked object, in
	 * the form an older store wrote (no MAC). */
	meta_set_auth(N->me, NULL, NULL, 0);
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	int rc = meta_dirent_add(t, b, "alias", f);
	if (rc)
		meta_txn_abort(t);
	cr_assert_eq(rc, 0, "%d", rc);
	cr_assert_eq(meta_txn_commit(t), 0);
	N->rec_strict = 0;
	cr_assert_eq(ns_auth_open(N, buf, sizeof(buf)), 0);
	cr_assert_eq(N->rec_strict, 1);
	cr_assert_eq(ns_lookup(N, b, "alias", &a), -EIO);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "alias"), -EIO);
	cr_assert_eq(ns_rename(N, &ROOT, b, "alias", b, "other", 0), -EIO);
	cr_assert_eq(ns_lookup(N, b, "locked", &a), 0);
	cr_assert_eq(ns_lookup(N, b, "plain", &a), 0);
	cr_assert_eq(ns_readdir(N, b, 0, rd_count, &(int){ 0 }), -EIO, "no shortened listing");
	/* Written past the digest too (no key): both reported. */
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 2);
	cr_assert(reported(&s, "dents/alias: directory entry fails authentication"), "%s", s.what[0]);
	cr_assert(reported(&s, "meta/kv/state_digest: the metadata state digest does not match"),
		  "%s", s.what[0]);
}

Test(ns, counter_set_back_never_overwrites)
{
	uint64_t b = mkbucket("counter");
	uint8_t old[64];
	size_t len = 0;
	meta_txn *t = NULL;
	struct ns_attr a;
	ns_handle *h;
	struct walk_seen s = { 0 };

	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(meta_kv_get(t, "next_ino", old, sizeof(old), &len), 0);
	meta_txn_abort(t);
	uint64_t f = mkfile(b, "locked", "content");
	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	/* An older, authentic counter put back: it would hand out f again. */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_kv_put(t, "next_ino", old, len), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(ns_create(N, &ROOT, b, "new", 0644, O_WRONLY, &a, &h), -EUCLEAN);
	cr_assert_eq(ns_lookup(N, b, "locked", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(a.size, 7, "the locked record is untouched");
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 1);
	cr_assert(reported(&s, "meta/kv/next_ino: inode counter"), "%s", s.what[0]);
	cr_assert_eq(ns_repair_counter(N), 1);
	cr_assert_eq(ns_repair_counter(N), 0);
	mkfile(b, "new", "y");
	s.damaged = 0;
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0);
}

Test(ns, unnamed_locked_object_pins_its_bucket_until_reattached)
{
	uint64_t b = mkbucket("unnamed");
	struct ns_attr d;
	cr_assert_eq(ns_mkdir(N, &ROOT, b, "dir", 0755, &d), 0);
	uint64_t f = mkfile(d.ino, "held", "evidence");
	struct walk_seen s = { 0 };
	meta_txn *t = NULL;
	char path[256], want[64];
	struct ns_attr a;

	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.legal-hold", "ON", 2, 0), 0);
	/* Offline: only the entry goes (an attacker needs no key for it). */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_dirent_del(t, d.ino, "held"), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 1);
	snprintf(want, sizeof(want), "unnamed/#%llu: not named", (unsigned long long)f);
	cr_assert(reported(&s, want), "%s", s.what[0]);
	cr_assert_eq(ns_rmdir(N, &ROOT, b, "dir"), -ENOTEMPTY, "its directory stays");
	cr_assert_eq(ns_reattach(N, f, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/unnamed/.recovered/%llu", (unsigned long long)f);
	cr_assert_str_eq(path, want);
	cr_assert_eq(ns_reattach(N, f, path, sizeof(path)), -EEXIST);
	s.damaged = 0;
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
	cr_assert_eq(ns_rmdir(N, &ROOT, b, "dir"), 0, "the empty directory goes now");
	uint64_t rec;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(meta_dirent_get(t, b, NS_RECOVER_DIR, &rec), 0);
	meta_txn_abort(t);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)f);
	cr_assert_eq(ns_unlink(N, &ROOT, rec, want), -EPERM, "the hold holds");
	cr_assert_eq(ns_rmdir(N, &ROOT, NS_INO_ROOT, "unnamed"), -ENOTEMPTY);
	cr_assert_eq(ns_lookup(N, rec, want, &a), 0);
	cr_assert_eq(a.size, 8);
}

Test(ns, orphan_entry_never_deletes_a_live_object)
{
	uint64_t b = mkbucket("orphans");
	char content[20000];
	memset(content, 'z', sizeof(content) - 1);
	content[sizeof(content) - 1] = '\0';
	uint64_t f = mkfile(b, "locked", content);
	struct meta_node nd;
	meta_txn *t = NULL;
	struct walk_seen s = { 0 };
	char err[512] = "", store[300];
	struct ns_attr a;

	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &nd), 0);
	/* Authentic entries (as if replayed), one per way to name it. */
	cr_assert_eq(meta_orphan_add(t, f, nd.objid), 0);
	cr_assert_eq(meta_orphan_add(t, 999999, nd.objid), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	/* The next open purges orphans: these are refused. */
	ns_close(N);
	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_lookup(N, b, "locked", &a), 0);
	ns_handle *h;
	int keep = 0;
	char back[100];
	cr_assert_eq(ns_open_file(N, &ROOT, a.ino, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, back, sizeof(back), 0), (ssize_t)sizeof(back));
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(memcmp(back, content, sizeof(back)), 0, "content still there");
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 2);
	cr_assert(reported(&s, "its node is still in the namespace"), "%s", s.what[0]);
	cr_assert(reported(&s, "its content belongs to a live object"), "%s", s.what[0]);
}

/* Each directory's count of children (which keeps rmdir refused while an
 * unnamed node says it lives there) stays exact through every namespace
 * change: verify compares it with the nodes naming it as parent. */
Test(ns, children_counts_stay_exact)
{
	uint64_t b = mkbucket("counts");
	uint64_t dirs[4] = { b, 0, 0, 0 };
	struct ns_attr a;
	struct walk_seen s = { 0 };
	const char *names[] = { "a", "b", "c", "d" };
	unsigned seed = 12345;

	for (int i = 1; i < 4; i++) {
		cr_assert_eq(ns_mkdir(N, &ROOT, b, names[i], 0755, &a), 0);
		dirs[i] = a.ino;
	}
	for (int i = 0; i < 3000; i++) {
		uint64_t p = dirs[rand_r(&seed) % 4], q = dirs[rand_r(&seed) % 4];
		const char *x = names[rand_r(&seed) % 4], *y = names[rand_r(&seed) % 4];
		ns_handle *h;
		/* Random operations: many fail on purpose (a name taken or
		 * missing); what the test checks is the state afterwards. */
		switch (rand_r(&seed) % 6) {
		case 0:
			if (!ns_create(N, &ROOT, p, x, 0644, O_WRONLY, &a, &h))
				cr_assert_eq(ns_release(N, h), 0);
			break;
		case 1:
			worm_discard(ns_mkdir(N, &ROOT, p, y, 0755, &a));
			break;
		case 2:
			worm_discard(ns_rename(N, &ROOT, p, x, q, y, 0));
			break;
		case 3:
			worm_discard(ns_rename(N, &ROOT, p, x, q, y, NS_RENAME_EXCHANGE));
			break;
		case 4:
			worm_discard(ns_unlink(N, &ROOT, p, x));
			break;
		default:
			worm_discard(ns_rmdir(N, &ROOT, p, y));
			break;
		}
	}
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
}

/* Downgrade with an older root record: root, offline and without the key,
 * puts back the authentic version 1 root record of a backup taken before
 * the store's upgrade, deletes the authenticated-records flag and writes
 * every directory entry and the counter in the older form (without MAC),
 * with two names swapped. The other node records are version 2, which
 * only an upgraded store writes: the store stays strict and the swapped
 * entries are refused, instead of being sealed by a second upgrade. */
#include <lmdb.h>
#include "../../src/meta_priv.h"

/* An entry in the older form (ino | cookie, no MAC) naming ino. */
static int legacy_dent(meta_txn *t, uint64_t parent, const char *name, uint64_t ino)
{
	uint8_t kb[8 + 256], vb[16];
	size_t len = strlen(name);
	MDB_val k = { 8 + len, kb }, v;
	for (int i = 0; i < 8; i++)
		kb[i] = (uint8_t)(parent >> (56 - 8 * i));
	memcpy(kb + 8, name, len);
	int rc = mdb_get(t->txn, t->e->dbi[DB_DIRENTS], &k, &v);
	if (rc)
		return rc;
	memcpy(vb, v.mv_data, 16);
	for (int i = 0; i < 8; i++)
		vb[i] = (uint8_t)(ino >> (56 - 8 * i));
	v = (MDB_val){ 16, vb };
	return mdb_put(t->txn, t->e->dbi[DB_DIRENTS], &k, &v, 0);
}

Test(ns, downgrade_with_an_older_root_record_is_not_upgraded_again)
{
	uint64_t b = mkbucket("down");
	uint64_t f = mkfile(b, "locked", "content");
	uint64_t p = mkfile(b, "plain", "x");
	uint64_t next = 0;
	struct ns_attr a;
	meta_txn *t = NULL;
	char err[128] = "";
	MDB_val k = { strlen("auth_records"), "auth_records" };

	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	make_legacy(NS_INO_ROOT, node_of(NS_INO_ROOT).parent);
	meta_set_auth(N->me, NULL, NULL, 0);
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	int rc = legacy_dent(t, NS_INO_ROOT, "down", b);
	rc = rc ? rc : legacy_dent(t, b, "locked", p);
	rc = rc ? rc : legacy_dent(t, b, "plain", f);
	MDB_val nk = { strlen("next_ino"), "next_ino" }, nv;
	rc = rc ? rc : mdb_get(t->txn, t->e->dbi[DB_KV], &nk, &nv);
	if (!rc)
		memcpy(&next, nv.mv_data, 8);
	rc = rc ? rc : meta_kv_put(t, "next_ino", &next, 8);
	rc = rc ? rc : mdb_del(t->txn, t->e->dbi[DB_KV], &k, NULL);
	if (rc)
		meta_txn_abort(t);
	cr_assert_eq(rc, 0, "%d", rc);
	cr_assert_eq(meta_txn_commit(t), 0);
	N->rec_strict = 0;
	cr_assert_eq(ns_auth_open(N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(N->rec_strict, 1, "records of an upgraded store remain: strict");
	cr_assert_eq(N->auth_flag_bad, 1, "reported by verify");
	cr_assert_eq(ns_lookup(N, b, "locked", &a), -EIO, "swapped entry refused");
	cr_assert_eq(ns_lookup(N, b, "plain", &a), -EIO, "swapped entry refused");
}

static int raw_get(int db, const void *key, size_t klen, uint8_t *out, size_t *olen)
{
	meta_txn *t = NULL;
	MDB_val k = { klen, (void *)key }, v;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	int rc = mdb_get(t->txn, t->e->dbi[db], &k, &v);
	if (!rc) {
		memcpy(out, v.mv_data, v.mv_size);
		*olen = v.mv_size;
	}
	meta_txn_abort(t);
	return rc;
}

static int raw_put(int db, const void *key, size_t klen, const uint8_t *val, size_t vlen)
{
	meta_txn *t = NULL;
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	int rc = mdb_put(t->txn, t->e->dbi[db], &k, &v, 0);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	return meta_txn_commit(t);
}

/* A directory entry put back alone from an older copy after a rename: it
 * passes its MAC and lookup finds it, but the readdir index no longer
 * lists it, so the walk never met it and verify was clean while a second,
 * hidden name could unlink the object out from under its real one. */
Test(ns, entry_put_back_after_rename_is_reported_by_verify)
{
	uint64_t b = mkbucket("rep");
	uint8_t dk[16], dv[128];
	size_t dvl = 0;
	struct walk_seen s = { 0 };
	struct ns_attr a;

	mkfile(b, "a", "content");
	for (int i = 0; i < 8; i++)
		dk[i] = (uint8_t)(b >> (56 - 8 * i));
	dk[8] = 'a';
	cr_assert_eq(raw_get(DB_DIRENTS, dk, 9, dv, &dvl), 0);
	cr_assert_eq(ns_rename(N, &ROOT, b, "a", b, "b", 0), 0);
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
	cr_assert_eq(raw_put(DB_DIRENTS, dk, 9, dv, dvl), 0);
	cr_assert_eq(ns_lookup(N, b, "a", &a), 0, "authentic: lookup finds it");
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 2);
	cr_assert(reported(&s, "/a: directory entry missing from its directory's listing"),
		  "%s", s.what[0]);
	cr_assert(reported(&s, "meta/kv/state_digest: the metadata state digest does not match"),
		  "%s", s.what[0]);
}

/* Counts of children with objects open across unlink and rename over
 * them (kept, unnamed, until released), symlinks and nested directories:
 * no directory may end up refusing rmdir when empty, nor allowing it when
 * not (checked by verify, and by removing everything at the end). */
Test(ns, children_counts_with_open_objects_and_symlinks)
{
	uint64_t b = mkbucket("counts2");
	uint64_t dirs[6] = { b };
	int nd = 1;
	ns_handle *open_h[64];
	int nopen = 0;
	struct ns_attr a;
	struct walk_seen s = { 0 };
	const char *names[] = { "a", "b", "c", "d", "e" };
	unsigned seed = 777;

	for (int i = 0; i < 4000; i++) {
		uint64_t p = dirs[rand_r(&seed) % nd], q = dirs[rand_r(&seed) % nd];
		const char *x = names[rand_r(&seed) % 5], *y = names[rand_r(&seed) % 5];
		ns_handle *h;
		/* As above: failures are expected, the state is checked. */
		switch (rand_r(&seed) % 8) {
		case 0:
			if (!ns_create(N, &ROOT, p, x, 0644, O_WRONLY, &a, &h)) {
				if (nopen < 64)
					open_h[nopen++] = h;
				else
					cr_assert_eq(ns_release(N, h), 0);
			}
			break;
		case 1:
			if (!ns_mkdir(N, &ROOT, p, y, 0755, &a) && nd < 6)
				dirs[nd++] = a.ino;
			break;
		case 2:
			worm_discard(ns_rename(N, &ROOT, p, x, q, y, 0));
			break;
		case 3:
			worm_discard(ns_symlink(N, &ROOT, p, x, "target", &a));
			break;
		case 4:
			worm_discard(ns_unlink(N, &ROOT, p, x));
			break;
		case 5:
			if (nopen)
				cr_assert_eq(ns_release(N, open_h[--nopen]), 0);
			break;
		case 6:
			worm_discard(ns_rename(N, &ROOT, p, x, q, y, NS_RENAME_EXCHANGE));
			break;
		default:
			worm_discard(ns_rmdir(N, &ROOT, p, y));
			break;
		}
	}
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
	while (nopen)
		cr_assert_eq(ns_release(N, open_h[--nopen]), 0);
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
}

/* A node record from before its lock, put back with the state digest
 * brought along (as after a downgrade of the digest, or an operator's
 * re-seal): verify still names the object by its lock state against the
 * audit trail; an object whose lock matches the trail is not named. */
Test(ns, older_lock_state_than_the_audit_trail_is_named)
{
	uint64_t b = mkbucket("trail");
	uint64_t f = mkfile(b, "held", "content"), g = mkfile(b, "ret", "content");
	uint64_t ok = mkfile(b, "fine", "content");
	struct meta_node hf = node_of(f), rg = node_of(g);
	struct walk_seen s = { 0 };
	meta_txn *t = NULL;

	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.legal-hold", "ON", 2, 0), 0);
	cr_assert_eq(set_ret(g, "COMPLIANCE +1d", &ROOT), 0);
	cr_assert_eq(set_ret(ok, "GOVERNANCE +1d", &ROOT), 0);
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 0, "%s", s.what[0]);
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_put(t, &hf), 0);
	cr_assert_eq(meta_node_put(t, &rg), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(ns_verify(N, damage_seen, NULL, &s), 2);
	cr_assert(reported(&s, "trail/held: older lock state than the audit trail (legal hold OFF"),
		  "%s", s.what[0]);
	cr_assert(reported(&s, "trail/ret: older lock state than the audit trail (retention"),
		  "%s", s.what[1]);
}

/* ---- the committed commit record (issue 12) ----------------------------- */

static void ns_reopen(void)
{
	char err[512] = "", store[300];
	ns_close(N);
	N = NULL;
	snprintf(store, sizeof(store), "%s/s", dir);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

static void read_back(uint64_t ino, const char *want, size_t n)
{
	ns_handle *h;
	char *buf = malloc(n + 16);
	cr_assert_not_null(buf);
	cr_assert_eq(ns_open_file(N, &ROOT, ino, O_RDONLY, &h, NULL), 0);
	cr_assert_eq(ns_read(N, h, buf, n + 16, 0), (ssize_t)n);
	cr_assert(memcmp(buf, want, n) == 0);
	cr_assert_eq(ns_release(N, h), 0);
	free(buf);
}

/* A file's node names the commit record it committed (MAC'd); an inline
 * object's names none. A node from before the field (commit all zero, its
 * MAC as before) is authentic; on a store the legacy bind has ended on
 * (this one: new stores have its marker) it can only be a node record put
 * back from before the bind, so its content reads EIO and verify names it
 * (review of the legacy bind); its next commit records the field and it
 * reads again. An edited field fails the node's MAC. */
Test(ns, node_names_its_commit_record)
{
	static char big[3 * 16384 + 6];
	static const uint8_t zero[META_COMMIT_BYTES];
	uint64_t b = mkbucket("bound");
	struct walk_seen w = { 0 };
	meta_txn *t = NULL;
	struct meta_node nd;
	ns_handle *h;

	memset(big, 'q', sizeof(big) - 1);
	uint64_t f = mkfile(b, "f", big);
	uint64_t s = mkfile(b, "small", "tiny");
	nd = node_of(f);
	cr_assert_eq(nd.flags & (1u << 31), 0);
	cr_assert_neq(memcmp(nd.commit, zero, sizeof(zero)), 0, "a file names its record");
	cr_assert_eq(memcmp(node_of(s).commit, zero, sizeof(zero)), 0, "inline: none");

	/* A node as written before the field existed. */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &nd), 0);
	memset(nd.commit, 0, sizeof(nd.commit));
	ns_node_mac(N, &nd, nd.mac);
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	ns_reopen();
	cr_assert_eq(node_of(f).flags & (1u << 31), 0, "an older node is authentic");
	{
		char buf[64];
		cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, NULL), 0);
		cr_assert_eq(ns_read(N, h, buf, sizeof(buf), 0), -EIO, "unbound after the bind");
		cr_assert_eq(ns_release(N, h), 0);
	}
	cr_assert_eq(ns_verify(N, damage_seen, progress_seen, &w), 1, "%s", w.what[0]);
	cr_assert(strstr(w.what[0], "names no commit record although the legacy bind has run"),
		  "%s", w.what[0]);
	w.damaged = 0;
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_WRONLY, &h, NULL), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "z", 1, 0), 1);
	cr_assert_eq(ns_release(N, h), 0);
	big[0] = 'z';
	cr_assert_neq(memcmp(node_of(f).commit, zero, sizeof(zero)), 0, "recorded at the commit");
	ns_reopen();
	read_back(f, big, sizeof(big) - 1);
	cr_assert_eq(ns_verify(N, damage_seen, progress_seen, &w), 0, "%s", w.what[0]);

	/* An edited field: the node fails authentication. */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &nd), 0);
	nd.commit[5] ^= 0x10;
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_neq(node_of(f).flags & (1u << 31), 0, "an edited commit field is detected");
	/* Cleared, too (the MAC covers it when set, so none is no escape). */
	cr_assert_eq(meta_txn_begin(N->me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &nd), 0);
	memset(nd.commit, 0, sizeof(nd.commit));
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_neq(node_of(f).flags & (1u << 31), 0, "a cleared commit field is detected");
}

/* ---- legacy nodes bound on upgrade (issue 12, src/ns_bind.c) ------------ */

static uint64_t kv_u64(const char *key)
{
	meta_txn *t = NULL;
	uint64_t v = 0;
	size_t len = 0;
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	if (meta_kv_get(t, key, &v, sizeof(v), &len) || len > sizeof(v))
		v = 0;
	meta_txn_abort(t);
	return v;
}

/* A store made as an older build made it (WORMFS_TEST_UNBOUND=1: commits
 * name no commit record, no bind, no marker at init) with more file
 * objects than one bind transaction takes. The first open of this build
 * binds every one of them (not the inline object); a KMS that refuses part
 * way stops the pass without failing the open, and the next open finishes
 * it; later opens change nothing. */
Test(ns, legacy_nodes_bound_on_upgrade)
{
	static char big[20000];
	static const uint8_t zero[META_COMMIT_BYTES];
	enum { NF = 130 };
	char err[512] = "", store[300], name[32];
	uint64_t f[NF], s;
	struct cfg tight = C;
	struct walk_seen w = { 0 };
	uint8_t first[META_COMMIT_BYTES];

	memset(big, 'L', sizeof(big) - 1);
	ns_close(N);
	N = NULL;
	snprintf(store, sizeof(store), "%s/legacy", dir);
	cr_assert_eq(setenv("WORMFS_TEST_UNBOUND", "1", 1), 0);
	cr_assert_eq(ns_store_init(store, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	uint64_t b = mkbucket("old");
	for (int i = 0; i < NF; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		f[i] = mkfile(b, name, big);
	}
	s = mkfile(b, "small", "inline");
	for (int i = 0; i < NF; i++)
		cr_assert_eq(memcmp(node_of(f[i]).commit, zero, sizeof(zero)), 0, "legacy: none");
	ns_close(N);
	N = NULL;
	cr_assert_eq(unsetenv("WORMFS_TEST_UNBOUND"), 0);

	/* The KMS lets a few unwraps through, then refuses: the pass stops
	 * part way, the open does not fail, nothing is half done. */
	tight.kms.crypto_rate = 1;
	tight.kms.crypto_burst = 40;
	tight.kms.throttle = KMS_THROTTLE_FAIL;
	cr_assert_eq(ns_open(store, &tight, 0, &N, err, sizeof(err)), 0, "%s", err);
	uint64_t part = kv_u64("legacy_bind_count");
	cr_assert(part > 0 && part < NF, "bound part way: %llu", (unsigned long long)part);
	cr_assert_eq(kv_u64("legacy_bind"), 0, "no marker before the pass ends");
	ns_close(N);
	N = NULL;

	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kv_u64("legacy_bind_count"), NF);
	cr_assert_eq(kv_u64("legacy_bind"), 1);
	for (int i = 0; i < NF; i++) {
		struct meta_node nd = node_of(f[i]);
		cr_assert_eq(nd.flags & NS_F_AUTH_FAILED, 0, "bound and re-MAC'd");
		cr_assert_neq(memcmp(nd.commit, zero, sizeof(zero)), 0, "bound: %d", i);
	}
	cr_assert_eq(memcmp(node_of(s).commit, zero, sizeof(zero)), 0, "inline: none");
	memcpy(first, node_of(f[0]).commit, sizeof(first));
	read_back(f[NF - 1], big, sizeof(big) - 1);
	cr_assert_eq(ns_verify(N, damage_seen, progress_seen, &w), 0, "%s", w.what[0]);

	/* Idempotent. */
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(store, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kv_u64("legacy_bind_count"), NF);
	cr_assert(memcmp(node_of(f[0]).commit, first, sizeof(first)) == 0);
	read_back(f[0], big, sizeof(big) - 1);
}

/* A new store needs no bind: its marker is set at init, so its first open
 * walks nothing and writes no audit record. */
Test(ns, new_store_has_nothing_to_bind)
{
	cr_assert_eq(kv_u64("legacy_bind"), 1);
	cr_assert_eq(kv_u64("legacy_bind_count"), 0);
}

/* Review of the legacy bind's read check: a small (inline) object grown
 * past OBJ_INLINE_MAX moves to a content file in the session; until its
 * commit the inode's generation is the inline one and no record is named.
 * A read in that session (the writer's, or another handle's) must see the
 * session's bytes, not be taken for a node put back from before the bind. */
Test(ns, spill_session_reads_on_bound_store)
{
	static char big[OBJ_INLINE_MAX + 5000];
	char *buf = malloc(sizeof(big) + 16);
	ns_handle *h, *r2;

	cr_assert_not_null(buf);
	cr_assert_eq(kv_u64("legacy_bind"), 1);
	uint64_t b = mkbucket("spill");
	uint64_t f = mkfile(b, "f", "small");
	uint64_t f2 = mkfile(b, "g", "small");
	cr_assert_eq(ns_open_file(N, &ROOT, f2, O_RDWR, &h, NULL), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "more", 4, 5), 4);   /* inline session, gen 2 */
	cr_assert_eq(ns_release(N, h), 0);
	memset(big, 'S', sizeof(big));
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDWR, &h, NULL), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, "again", 5, 0), 5);
	cr_assert_eq(ns_flush(N, h), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, big, sizeof(big), 0), (ssize_t)sizeof(big));
	cr_assert_eq(ns_read(N, h, buf, sizeof(big) + 16, 0), (ssize_t)sizeof(big),
		     "the writer reads its session");
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &r2, NULL), 0);
	cr_assert_eq(ns_read(N, r2, buf, sizeof(big) + 16, 0), (ssize_t)sizeof(big),
		     "another handle reads the session");
	cr_assert(memcmp(buf, big, sizeof(big)) == 0);
	cr_assert_eq(ns_release(N, r2), 0);
	cr_assert_eq(ns_release(N, h), 0);
	read_back(f, big, sizeof(big));
	free(buf);
}

/* A truncate(2) that passed its policy check before append-only was set
 * ON must not truncate the append-only object afterwards: the set (which
 * waits for no truncate without a handle) lands between the check and
 * the content change, here held open by a reader of in->rw. */
#include <pthread.h>
#include <sys/syscall.h>
#include "../../src/ns_inode.h"

struct trunc_arg {
	uint64_t ino;
	pid_t tid;
	int rc;
};

static void *trunc_thread(void *p)
{
	struct trunc_arg *a = p;
	struct ns_setattr sa = { .valid = NS_SET_SIZE | NS_SET_MTIME_NOW, .size = 0 };
	__atomic_store_n(&a->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	a->rc = ns_setattr(N, &ROOT, a->ino, &sa, NULL, NULL);
	return NULL;
}

/* Whether thread tid sleeps in futex(2), i.e. waits for a lock. */
static int in_futex(pid_t tid)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atol(buf) == SYS_futex;
}

Test(ns, truncate_racing_append_only_on_is_refused)
{
	uint64_t b = mkbucket("aorace");
	uint64_t f = mkfile(b, "log", "committed");
	struct trunc_arg ta = { f, 0, 1 };
	struct ns_inode *in = ns_inode_get(N, f);
	struct ns_attr a;
	pthread_t th;

	cr_assert_not_null(in);
	pthread_rwlock_rdlock(&in->rw);
	cr_assert_eq(pthread_create(&th, NULL, trunc_thread, &ta), 0);
	/* until the truncate waits for in->rw (its policy check is behind
	 * it); bounded, a wait and not a pass/fail timing */
	for (int i = 0; i < 20000; i++) {
		pid_t tid = __atomic_load_n(&ta.tid, __ATOMIC_SEQ_CST);
		if (tid && in_futex(tid))
			break;
		usleep(500);
	}
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.append-only", "ON", 2, 0), 0);
	pthread_rwlock_unlock(&in->rw);
	pthread_join(th, NULL);
	ns_inode_put(N, in);
	cr_assert_eq(ta.rc, -EPERM);
	cr_assert_eq(ns_getattr(N, f, &a), 0);
	cr_assert_eq(a.size, 9, "append-only object truncated to %llu",
		     (unsigned long long)a.size);
}

/* chown(path, -1, -1) reaches the daemon as a setattr that sets nothing,
 * from anyone: the kernel checks no permission for it. It must change
 * nothing: neither the record of a locked object (its ctime) nor the
 * autocommit deadline of a mutable one, which a user without write
 * permission could otherwise push back forever, so that it never locks. */
Test(ns, empty_setattr_changes_nothing)
{
	uint64_t b = mkbucket("emptysa");
	uint64_t f = mkfile(b, "locked", "x");
	struct ns_setattr none = { .valid = 0 };
	struct ns_attr a1, a2, out;
	meta_txn *t = NULL;
	int64_t d1 = 0, d2 = 0;

	cr_assert_eq(set_ret(f, "COMPLIANCE +1d", &ROOT), 0);
	cr_assert_eq(ns_getattr(N, f, &a1), 0);
	cr_assert_eq(ns_setattr(N, &USER, f, &none, NULL, &out), 0);
	cr_assert_eq(ns_getattr(N, f, &a2), 0);
	cr_assert_eq(a2.ctime_ns, a1.ctime_ns, "locked object's record rewritten by uid 1000");
	cr_assert_eq(out.ctime_ns, a1.ctime_ns);

	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.default-retention", "GOVERNANCE 1d", 13,
				 0), 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, b, "user.worm.autocommit", "1h", 2, 0), 0);
	uint64_t g = mkfile(b, "idle", "y");
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(meta_due_get(t, g, &d1), 0);
	meta_txn_abort(t);
	usleep(1100 * 1000);   /* a later deadline would differ even in seconds */
	cr_assert_eq(ns_setattr(N, &USER, g, &none, NULL, NULL), 0);
	cr_assert_eq(meta_txn_begin(N->me, 1, &t), 0);
	cr_assert_eq(meta_due_get(t, g, &d2), 0);
	meta_txn_abort(t);
	cr_assert_eq(d2, d1, "autocommit deadline pushed back by uid 1000");
}

/* .wormfs/audit (paths, S3 users) opens for root and the daemon's user
 * only, whatever the front end's options (review conf); the other
 * .wormfs files for everyone. */
Test(ns, audit_view_only_for_root_and_the_daemons_user)
{
	struct ns_caller other = USER;
	ns_handle *h = NULL;

	other.uid = (uint32_t)geteuid() + 1000;
	cr_assert_eq(ns_open_file(N, &other, NS_INO_AUDIT, O_RDONLY, &h, NULL), -EACCES);
	cr_assert_null(h);
	cr_assert_eq(ns_open_file(N, &ROOT, NS_INO_AUDIT, O_RDONLY, &h, NULL), 0);
	cr_assert_eq(ns_release(N, h), 0);
	h = NULL;
	cr_assert_eq(ns_open_file(N, &other, NS_INO_STATS, O_RDONLY, &h, NULL), 0);
	cr_assert_eq(ns_release(N, h), 0);
}

/* S3 ETags sealed at rest (review conf): only the inode and stamp they
 * were sealed for open them; nothing of the MD5 shows in the value. */
Test(ns, etag_sealed_bound_to_inode_and_stamp)
{
	const char *md5 = "098890dde069e9abad63f19a0d9e1f32", *mp = "0123456789abcdef0123456789abcdef-12";
	char sealed[NS_ETAG_SEALED_MAX], again[NS_ETAG_SEALED_MAX], out[72];

	cr_assert_eq(ns_etag_seal(N, 42, "4:100:1", md5, sealed, sizeof(sealed)), 0);
	cr_assert(ns_etag_is_sealed(sealed));
	cr_assert_null(strstr(sealed, "098890dd"));
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", sealed, out, sizeof(out)), 0);
	cr_assert_str_eq(out, md5);
	/* random nonce: equal ETags do not seal alike */
	cr_assert_eq(ns_etag_seal(N, 42, "4:100:1", md5, again, sizeof(again)), 0);
	cr_assert_str_neq(sealed, again);
	/* another object, another stamp: -EBADMSG */
	cr_assert_eq(ns_etag_open(N, 43, "4:100:1", sealed, out, sizeof(out)), -EBADMSG);
	cr_assert_eq(ns_etag_open(N, 42, "4:100:2", sealed, out, sizeof(out)), -EBADMSG);
	cr_assert_eq(ns_etag_open(N, 42, "4:100", sealed, out, sizeof(out)), -EBADMSG);
	/* edited, cut, not hex */
	strcpy(again, sealed);
	again[10] = again[10] == '0' ? '1' : '0';
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", again, out, sizeof(out)), -EBADMSG);
	again[strlen(again) - 2] = '\0';
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", again, out, sizeof(out)), -EBADMSG);
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", "x1zz", out, sizeof(out)), -EBADMSG);
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", "x1", out, sizeof(out)), -EBADMSG);
	/* a clear (older) value is not a sealed one */
	cr_assert_not(ns_etag_is_sealed(md5));
	cr_assert_eq(ns_etag_open(N, 42, "4:100:1", md5, out, sizeof(out)), -EINVAL);
	/* a multipart ETag; short buffers */
	cr_assert_eq(ns_etag_seal(N, 7, "s", mp, sealed, sizeof(sealed)), 0);
	cr_assert_eq(ns_etag_open(N, 7, "s", sealed, out, sizeof(out)), 0);
	cr_assert_str_eq(out, mp);
	cr_assert_eq(ns_etag_open(N, 7, "s", sealed, out, strlen(mp)), -ERANGE);
	cr_assert_eq(ns_etag_seal(N, 7, "s", mp, sealed, 40), -ERANGE);
	cr_assert_eq(ns_etag_seal(N, 7, "s", "", sealed, sizeof(sealed)), -EINVAL);
}
