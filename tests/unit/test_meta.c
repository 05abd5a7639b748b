/* Unit tests for meta: the LMDB metadata module.
 *
 * The corrupt-record test writes a bad node with LMDB directly: that is the
 * only way to produce one through no public API, so this test (not the
 * library) includes lmdb.h. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <limits.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "meta.h"

static char dir[64];
static meta_env *env;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	char err[256] = "";
	strcpy(dir, "/tmp/test_meta.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(meta_open(dir, 0, &env, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	meta_close(env);
	env = NULL;
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static meta_txn *wbegin(void)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 0, &t), 0);
	return t;
}

static meta_txn *rbegin(void)
{
	meta_txn *t = NULL;
	cr_assert_eq(meta_txn_begin(env, 1, &t), 0);
	return t;
}

static void reopen(int flags)
{
	char err[256] = "";
	meta_close(env);
	env = NULL;
	cr_assert_eq(meta_open(dir, flags, &env, err, sizeof(err)), 0, "%s", err);
}

static struct meta_node mknode(uint64_t ino, uint32_t mode)
{
	struct meta_node n;
	memset(&n, 0, sizeof(n));
	n.version = META_NODE_VERSION;
	n.ino = ino;
	n.parent = META_ROOT_INO;
	n.mode = mode;
	n.nlink = 1;
	n.size = ino * 10;
	n.mtime_ns = 1234567890123456789ll;
	n.objid[0] = (uint8_t)ino;
	n.mac[31] = 0x5a;
	return n;
}

/* A directory node to hold entries. */
static void mkdir_node(meta_txn *t, uint64_t ino)
{
	struct meta_node d = mknode(ino, S_IFDIR | 0755);
	cr_assert_eq(meta_node_put(t, &d), 0);
}

/* ---- environment --------------------------------------------------------- */

TestSuite(meta, .init = setup, .fini = teardown, .timeout = 60);

Test(meta, reopen_persists)
{
	meta_txn *t = wbegin();
	struct meta_node n = mknode(42, S_IFREG | 0644), got;
	uint64_t ino;

	cr_assert_eq(meta_node_put(t, &n), 0);
	mkdir_node(t, META_ROOT_INO);
	cr_assert_eq(meta_dirent_add(t, META_ROOT_INO, "file", 42), 0);
	cr_assert_eq(meta_kv_put(t, "format", "1", 1), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(meta_sync(env), 0);

	reopen(0);
	t = rbegin();
	cr_assert_eq(meta_node_get(t, 42, &got), 0);
	cr_assert_eq(memcmp(&n, &got, sizeof(n)), 0);
	cr_assert_eq(meta_dirent_get(t, META_ROOT_INO, "file", &ino), 0);
	cr_assert_eq(ino, 42);
	meta_txn_abort(t);
}

Test(meta, abort_discards)
{
	meta_txn *t = wbegin();
	struct meta_node n = mknode(50, S_IFREG), got;

	cr_assert_eq(meta_node_put(t, &n), 0);
	meta_txn_abort(t);
	t = rbegin();
	cr_assert_eq(meta_node_get(t, 50, &got), -ENOENT);
	cr_assert_eq(meta_txn_commit(t), 0);   /* commit ends a read txn */
}

Test(meta, ending_twice_is_harmless)
{
	meta_txn *t = wbegin(), *r1, *r2;
	struct meta_node n = mknode(60, S_IFREG), got;

	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_txn_abort(t);                       /* stale: ignored */
	cr_assert_eq(meta_txn_commit(t), -EINVAL);
	r1 = rbegin();
	meta_txn_abort(r1);
	meta_txn_abort(r1);                      /* must not enter the pool twice */
	r1 = rbegin();
	r2 = rbegin();
	cr_assert_neq(r1, r2);
	cr_assert_eq(meta_node_get(r1, 60, &got), 0);
	cr_assert_eq(meta_node_get(r2, 60, &got), 0);
	meta_txn_abort(r1);
	meta_txn_abort(r2);
	t = wbegin();
	cr_assert_eq(meta_node_del(t, 60), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(meta, rdonly_env_refuses_writes)
{
	meta_txn *t = wbegin();
	struct meta_node n = mknode(20, S_IFREG), got;
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);

	reopen(META_RDONLY);
	t = NULL;
	cr_assert_eq(meta_txn_begin(env, 0, &t), -EROFS);
	cr_assert_null(t);
	t = rbegin();
	cr_assert_eq(meta_node_get(t, 20, &got), 0);
	/* A write inside a read transaction is refused too. */
	cr_assert_eq(meta_node_put(t, &n), -EACCES);
	meta_txn_abort(t);
	cr_assert_eq(meta_sync(env), 0);
}

Test(meta, rdonly_missing_creates_nothing)
{
	char err[256] = "", sub[128];
	meta_env *e = NULL;
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/absent", dir);
	cr_assert_eq(meta_open(sub, META_RDONLY, &e, err, sizeof(err)), -ENOENT);
	cr_assert_null(e);
	cr_assert_neq(err[0], '\0');
	cr_assert_null(strchr(err, '\n'));
	cr_assert_eq(stat(sub, &st), -1);
	cr_assert_eq(meta_open(sub, 0, &e, err, sizeof(err)), -ENOENT);
	cr_assert_eq(stat(sub, &st), -1);

	/* An existing but empty directory: nothing may appear in it. */
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(meta_open(sub, META_RDONLY, &e, err, sizeof(err)), -ENOENT);
	cr_assert_null(e);
	cr_assert_eq(rmdir(sub), 0, "something was created in %s", sub);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

Test(meta, corrupt_database_is_ebadmsg)
{
	char err[256] = "", path[128];
	static uint8_t junk[65536];
	meta_env *e = NULL;

	meta_close(env);
	env = NULL;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	write_file(path, junk, sizeof(junk));
	cr_assert_eq(meta_open(dir, 0, &e, err, sizeof(err)), -EBADMSG);
	cr_assert_null(e);
	cr_assert(strstr(err, "corrupt") != NULL, "message: %s", err);
	cr_assert_eq(meta_open(dir, META_RDONLY, &e, err, sizeof(err)), -EBADMSG);
	/* Short garbage as well. */
	write_file(path, "garbage", 7);
	cr_assert_eq(meta_open(dir, 0, &e, err, sizeof(err)), -EBADMSG);
	cr_assert_eq(meta_open(dir, META_RDONLY, &e, err, sizeof(err)), -EBADMSG);
	/* Empty and read-only: not a database. */
	write_file(path, "", 0);
	cr_assert_eq(meta_open(dir, META_RDONLY, &e, err, sizeof(err)), -EBADMSG);
	cr_assert_null(e);
}

Test(meta, corrupt_node_record_is_ebadmsg)
{
	MDB_env *raw;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t key[8] = { 0, 0, 0, 0, 0, 0, 0, 77 }, key2[8] = { 0, 0, 0, 0, 0, 0, 0, 78 };
	uint8_t shortrec[10] = { 0 };
	struct meta_node bad = mknode(78, S_IFREG), got;
	MDB_val k = { 8, key }, v = { sizeof(shortrec), shortrec };
	meta_txn *t;

	bad.version = 99;
	meta_close(env);   /* one handle per process on an environment */
	env = NULL;
	cr_assert_eq(mdb_env_create(&raw), 0);
	cr_assert_eq(mdb_env_set_maxdbs(raw, 16), 0);
	cr_assert_eq(mdb_env_open(raw, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(raw, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "nodes", 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	k.mv_data = key2;
	v = (MDB_val){ sizeof(bad), &bad };
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(raw);

	reopen(0);
	t = rbegin();
	cr_assert_eq(meta_node_get(t, 77, &got), -EBADMSG);
	cr_assert_eq(meta_node_get(t, 78, &got), -EBADMSG);
	meta_txn_abort(t);
}

/* ---- nodes ----------------------------------------------------------------- */

static int count_cb(void *arg, const struct meta_node *n)
{
	uint64_t *last = arg;
	cr_assert_gt(n->ino, last[0], "nodes out of order");
	last[0] = n->ino;
	last[1]++;
	return last[1] == last[2] ? 7 : 0;
}

Test(meta, node_put_get_del)
{
	meta_txn *t = wbegin();
	struct meta_node n = mknode(1000, S_IFREG | 0600), got;
	struct meta_node lnk = mknode(1001, S_IFLNK | 0777);
	char buf[64];
	size_t len = 0;
	uint64_t count = 0;

	n.version = 0;   /* the version says what the MAC covers: required */
	cr_assert_eq(meta_node_put(t, &n), -EINVAL);
	n.version = META_NODE_VERSION;
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_node_add(t, &n), -EEXIST, "add never overwrites");
	cr_assert_eq(meta_node_get(t, 1000, &got), 0);
	cr_assert_eq(got.version, META_NODE_VERSION);
	cr_assert_eq(got.size, 10000);
	cr_assert_eq(got.mac[31], 0x5a);
	n.size = 5;
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_node_get(t, 1000, &got), 0);
	cr_assert_eq(got.size, 5);
	cr_assert_eq(meta_node_put(t, &lnk), 0);
	cr_assert_eq(meta_link_put(t, 1001, "target/path", 11), 0);
	cr_assert_eq(meta_xattr_set(t, 1000, "user.a", "1", 1, 0), 0);
	cr_assert_eq(meta_xattr_set(t, 1000, "user.b", "22", 2, 0), 0);
	cr_assert_eq(meta_xattr_set(t, 1001, "user.keep", "x", 1, 0), 0);
	cr_assert_eq(meta_link_get(t, 1001, buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, 11);
	cr_assert_eq(memcmp(buf, "target/path", 11), 0);
	cr_assert_eq(meta_link_get(t, 1001, buf, 4, &len), -ERANGE);
	cr_assert_eq(meta_node_count(t, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(meta_txn_commit(t), 0);

	t = wbegin();
	cr_assert_eq(meta_node_del(t, 1000), 0);
	cr_assert_eq(meta_node_get(t, 1000, &got), -ENOENT);
	cr_assert_eq(meta_xattr_get(t, 1000, "user.a", buf, sizeof(buf), &len), -ENODATA);
	cr_assert_eq(meta_xattr_get(t, 1000, "user.b", buf, sizeof(buf), &len), -ENODATA);
	cr_assert_eq(meta_xattr_get(t, 1001, "user.keep", buf, sizeof(buf), &len), 0);
	cr_assert_eq(meta_node_del(t, 1001), 0);
	cr_assert_eq(meta_link_get(t, 1001, buf, sizeof(buf), &len), -ENOENT);
	cr_assert_eq(meta_xattr_get(t, 1001, "user.keep", buf, sizeof(buf), &len), -ENODATA);
	cr_assert_eq(meta_node_del(t, 1001), -ENOENT);
	cr_assert_eq(meta_node_count(t, &count), 0);
	cr_assert_eq(count, 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(meta, inline_values_go_with_their_node)
{
	meta_txn *t = wbegin();
	struct meta_node n = mknode(1000, S_IFREG | 0600), m = mknode(1002, S_IFREG | 0600);
	uint8_t val[100], buf[128];
	size_t len = 0;

	memset(val, 0xab, sizeof(val));
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_node_put(t, &m), 0);
	cr_assert_eq(meta_inline_get(t, 1000, buf, sizeof(buf), &len), -ENOENT);
	cr_assert_eq(meta_inline_put(t, 1000, val, sizeof(val)), 0);
	cr_assert_eq(meta_inline_put(t, 1002, val, 10), 0);
	cr_assert_eq(meta_inline_put(t, 1002, val, 0), -EINVAL);
	cr_assert_eq(meta_txn_commit(t), 0);

	t = wbegin();
	cr_assert_eq(meta_inline_get(t, 1000, buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, sizeof(val));
	cr_assert_eq(memcmp(buf, val, sizeof(val)), 0);
	cr_assert_eq(meta_inline_get(t, 1000, buf, 50, &len), -ERANGE);
	cr_assert_eq(meta_inline_del(t, 1002), 0);
	cr_assert_eq(meta_inline_del(t, 1002), -ENOENT);
	cr_assert_eq(meta_node_del(t, 1000), 0);   /* takes its value along */
	cr_assert_eq(meta_inline_get(t, 1000, buf, sizeof(buf), &len), -ENOENT);
	cr_assert_eq(meta_node_del(t, 1002), 0);   /* none left: still fine */
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(meta, node_foreach_order_and_stop)
{
	meta_txn *t = wbegin();
	static const uint64_t inos[] = { 300, 2, 256, 70000, 1, 255 };
	uint64_t st[3] = { 0, 0, 100 };

	for (size_t i = 0; i < 6; i++) {
		struct meta_node n = mknode(inos[i], S_IFREG);
		cr_assert_eq(meta_node_put(t, &n), 0);
	}
	/* Big-endian keys: numeric order (256 after 255, 70000 last). */
	cr_assert_eq(meta_node_foreach(t, count_cb, st), 0);
	cr_assert_eq(st[1], 6);
	cr_assert_eq(st[0], 70000);
	st[0] = 0, st[1] = 0, st[2] = 3;
	cr_assert_eq(meta_node_foreach(t, count_cb, st), 7);
	cr_assert_eq(st[1], 3);
	cr_assert_eq(st[0], 255);
	/* From a given ino: the first node at or after it, then on in order
	 * (a batch walk resumes there instead of from the first node). */
	st[0] = 255, st[1] = 0, st[2] = 100;
	cr_assert_eq(meta_node_foreach_from(t, 256, count_cb, st), 0);
	cr_assert_eq(st[1], 3);      /* 256, 300, 70000 */
	cr_assert_eq(st[0], 70000);
	st[0] = 2, st[1] = 0;
	cr_assert_eq(meta_node_foreach_from(t, 257, count_cb, st), 0);
	cr_assert_eq(st[1], 2);      /* 300 (no node 257), 70000 */
	st[0] = 0, st[1] = 0;
	cr_assert_eq(meta_node_foreach_from(t, 70001, count_cb, st), 0);
	cr_assert_eq(st[1], 0);      /* past the last */
	st[0] = 0, st[1] = 0;
	cr_assert_eq(meta_node_foreach_from(t, 0, count_cb, st), 0);
	cr_assert_eq(st[1], 6);
	meta_txn_abort(t);
}

/* ---- kv, inode numbers ------------------------------------------------------ */

Test(meta, kv)
{
	meta_txn *t = wbegin();
	char buf[16];
	size_t len = 0;

	cr_assert_eq(meta_kv_get(t, "clock", buf, sizeof(buf), &len), -ENOENT);
	cr_assert_eq(meta_kv_put(t, "clock", "123456789", 9), 0);
	cr_assert_eq(meta_kv_get(t, "clock", buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, 9);
	cr_assert_eq(memcmp(buf, "123456789", 9), 0);
	cr_assert_eq(meta_kv_get(t, "clock", buf, 4, &len), -ERANGE);
	cr_assert_eq(len, 9);
	cr_assert_eq(meta_kv_put(t, "clock", "9", 1), 0);
	cr_assert_eq(meta_kv_get(t, "clock", buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, 1);
	cr_assert_eq(meta_kv_put(t, "", "x", 1), -EINVAL);
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(meta, ino_alloc_monotonic_across_reopen)
{
	meta_txn *t = wbegin();
	uint64_t a = 0, b = 0, c = 0;

	cr_assert_eq(meta_ino_alloc(t, &a), 0);
	cr_assert_eq(a, META_FIRST_INO);
	cr_assert_eq(meta_ino_alloc(t, &b), 0);
	cr_assert_eq(b, a + 1);
	cr_assert_eq(meta_txn_commit(t), 0);

	/* An aborted allocation is simply not consumed; reuse is impossible
	 * because nothing referenced it. */
	reopen(0);
	t = wbegin();
	cr_assert_eq(meta_ino_alloc(t, &c), 0);
	cr_assert_eq(c, b + 1);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* ---- directory entries -------------------------------------------------------- */

Test(meta, dirent_add_get_del)
{
	meta_txn *t = wbegin();
	struct meta_node d;
	uint64_t ino = 0;
	char longname[300];

	mkdir_node(t, 10);
	cr_assert_eq(meta_dir_is_empty(t, 10), 1);
	cr_assert_eq(meta_dirent_add(t, 10, "a", 100), 0);
	cr_assert_eq(meta_dirent_add(t, 10, "b", 101), 0);
	cr_assert_eq(meta_dirent_add(t, 10, "a", 102), -EEXIST);
	cr_assert_eq(meta_dirent_add(t, 999, "a", 102), -ENOENT);   /* no parent */
	cr_assert_eq(meta_node_get(t, 10, &d), 0);
	cr_assert_eq(d.next_cookie, META_FIRST_COOKIE + 2, "EEXIST must not burn a cookie");
	cr_assert_eq(meta_dir_is_empty(t, 10), 0);
	/* A neighbour directory's entries do not leak across the prefix. */
	mkdir_node(t, 9);
	mkdir_node(t, 11);
	cr_assert_eq(meta_dir_is_empty(t, 9), 1);
	cr_assert_eq(meta_dir_is_empty(t, 11), 1);

	cr_assert_eq(meta_dirent_get(t, 10, "a", &ino), 0);
	cr_assert_eq(ino, 100);
	cr_assert_eq(meta_dirent_get(t, 10, "c", &ino), -ENOENT);
	cr_assert_eq(meta_dirent_get(t, 11, "a", &ino), -ENOENT);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(meta_dirent_add(t, 10, longname, 5), -ENAMETOOLONG);
	longname[255] = '\0';
	cr_assert_eq(meta_dirent_add(t, 10, longname, 5), 0);
	cr_assert_eq(meta_dirent_get(t, 10, longname, &ino), 0);
	cr_assert_eq(ino, 5);
	cr_assert_eq(meta_dirent_add(t, 10, "", 5), -EINVAL);

	cr_assert_eq(meta_dirent_del(t, 10, "a"), 0);
	cr_assert_eq(meta_dirent_del(t, 10, "a"), -ENOENT);
	cr_assert_eq(meta_dirent_get(t, 10, "a", &ino), -ENOENT);
	cr_assert_eq(meta_dirent_del(t, 10, "b"), 0);
	cr_assert_eq(meta_dirent_del(t, 10, longname), 0);
	cr_assert_eq(meta_dir_is_empty(t, 10), 1);
	cr_assert_eq(meta_txn_commit(t), 0);
}

Test(meta, cookie_counter_starts_when_zero)
{
	meta_txn *t = wbegin();
	struct meta_node d = mknode(10, S_IFDIR | 0755);

	d.next_cookie = 0;
	cr_assert_eq(meta_node_put(t, &d), 0);
	cr_assert_eq(meta_dirent_add(t, 10, "x", 100), 0);
	cr_assert_eq(meta_node_get(t, 10, &d), 0);
	cr_assert_eq(d.next_cookie, META_FIRST_COOKIE + 1);
	cr_assert_eq(d.mac[31], 0x5a, "other node fields must survive");
	meta_txn_abort(t);
}

struct list {
	uint64_t cookies[256];
	uint64_t inos[256];
	char names[256][16];
	int n, max;
};

static int list_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct list *l = arg;
	if (l->n >= l->max)
		return 1;
	cr_assert_lt(strlen(name), 16);
	strcpy(l->names[l->n], name);
	l->inos[l->n] = ino;
	l->cookies[l->n] = cookie;
	l->n++;
	return 0;
}

Test(meta, dirent_set_keeps_cookie)
{
	meta_txn *t = wbegin();
	struct list l = { .max = 256 };
	uint64_t ino = 0;

	mkdir_node(t, 10);
	cr_assert_eq(meta_dirent_add(t, 10, "a", 100), 0);
	cr_assert_eq(meta_dirent_add(t, 10, "b", 101), 0);
	/* rename exchange a <-> b */
	cr_assert_eq(meta_dirent_set(t, 10, "a", 101), 0);
	cr_assert_eq(meta_dirent_set(t, 10, "b", 100), 0);
	cr_assert_eq(meta_dirent_set(t, 10, "zz", 100), -ENOENT);
	cr_assert_eq(meta_dirent_get(t, 10, "a", &ino), 0);
	cr_assert_eq(ino, 101);
	cr_assert_eq(meta_readdir(t, 10, 0, list_cb, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.names[0], "a");
	cr_assert_eq(l.cookies[0], META_FIRST_COOKIE);
	cr_assert_eq(l.inos[0], 101);
	cr_assert_str_eq(l.names[1], "b");
	cr_assert_eq(l.cookies[1], META_FIRST_COOKIE + 1);
	cr_assert_eq(l.inos[1], 100);
	meta_txn_abort(t);
}

Test(meta, readdir_order_stop_and_resume)
{
	meta_txn *t = wbegin();
	struct list l = { .max = 256 };
	char name[16];

	mkdir_node(t, 10);
	mkdir_node(t, 11);
	/* Names in reverse alphabetical order: cookie order is creation order. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%02d", 9 - i);
		cr_assert_eq(meta_dirent_add(t, 10, name, 100 + (uint64_t)i), 0);
	}
	cr_assert_eq(meta_dirent_add(t, 11, "other", 7), 0);
	cr_assert_eq(meta_txn_commit(t), 0);

	t = rbegin();
	cr_assert_eq(meta_readdir(t, 10, 0, list_cb, &l), 0);
	cr_assert_eq(l.n, 10, "directory 11's entry must not appear");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%02d", 9 - i);
		cr_assert_str_eq(l.names[i], name);
		cr_assert_eq(l.cookies[i], META_FIRST_COOKIE + (uint64_t)i);
		cr_assert_eq(l.inos[i], 100 + (uint64_t)i);
	}
	/* Stop after 4 (callback says full): not an error. */
	l = (struct list){ .max = 4 };
	cr_assert_eq(meta_readdir(t, 10, 2, list_cb, &l), 0);
	cr_assert_eq(l.n, 4);
	/* Resume from the last cookie delivered. */
	uint64_t last = l.cookies[3];
	l = (struct list){ .max = 256 };
	cr_assert_eq(meta_readdir(t, 10, last, list_cb, &l), 0);
	cr_assert_eq(l.n, 6);
	cr_assert_eq(l.cookies[0], last + 1);
	l = (struct list){ .max = 256 };
	cr_assert_eq(meta_readdir(t, 10, UINT64_MAX, list_cb, &l), 0);
	cr_assert_eq(l.n, 0);
	cr_assert_eq(meta_readdir(t, 12, 0, list_cb, &l), 0);
	cr_assert_eq(l.n, 0);
	meta_txn_abort(t);
}

Test(meta, readdir_with_concurrent_changes)
{
	meta_txn *t = wbegin();
	struct list l = { .max = 20 };
	int seen[100] = { 0 }, removed[100] = { 0 };
	char name[16];
	uint64_t last;

	mkdir_node(t, 10);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(meta_dirent_add(t, 10, name, 1000 + (uint64_t)i), 0);
	}
	cr_assert_eq(meta_txn_commit(t), 0);

	/* First page. */
	t = rbegin();
	cr_assert_eq(meta_readdir(t, 10, 2, list_cb, &l), 0);
	meta_txn_abort(t);
	cr_assert_eq(l.n, 20);
	for (int i = 0; i < l.n; i++)
		seen[l.inos[i] - 1000]++;
	last = l.cookies[l.n - 1];

	/* Between calls: remove some read and some unread entries, re-create
	 * one read name, add new ones. */
	t = wbegin();
	for (int i = 0; i < 50; i += 3) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(meta_dirent_del(t, 10, name), 0);
		removed[i] = 1;
	}
	cr_assert_eq(meta_dirent_add(t, 10, "f3", 1003), 0);   /* read before, new cookie */
	removed[3] = 2;
	for (int i = 50; i < 60; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(meta_dirent_add(t, 10, name, 1000 + (uint64_t)i), 0);
	}
	cr_assert_eq(meta_txn_commit(t), 0);

	/* Rest, in pages of 7. */
	for (;;) {
		l = (struct list){ .max = 7 };
		t = rbegin();
		cr_assert_eq(meta_readdir(t, 10, last, list_cb, &l), 0);
		meta_txn_abort(t);
		if (l.n == 0)
			break;
		for (int i = 0; i < l.n; i++) {
			cr_assert_gt(l.cookies[i], last);
			seen[l.inos[i] - 1000]++;
			last = l.cookies[i];
		}
	}
	for (int i = 0; i < 60; i++) {
		if (i == 3)
			cr_assert_eq(seen[i], 2, "re-created entry is a new entry");
		else if (i < 20 || !removed[i])
			cr_assert_eq(seen[i], 1, "entry f%d seen %d times", i, seen[i]);
		else
			cr_assert_eq(seen[i], 0, "removed f%d listed", i);
	}
}

struct big {
	uint8_t *seen;
	uint64_t last;
	int n, max;
};

static int big_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct big *b = arg;
	char want[32];
	if (b->n >= b->max)
		return 1;
	snprintf(want, sizeof(want), "entry-%06llu", (unsigned long long)ino);
	if (strcmp(name, want) != 0 || cookie <= b->last)
		return -1;   /* caught below through the counts */
	b->seen[ino]++;
	b->last = cookie;
	b->n++;
	return 0;
}

Test(meta, readdir_100k_entries_each_once)
{
	enum { N = 100000 };
	meta_txn *t = wbegin();
	struct big b = { .seen = calloc(N, 1) };
	char name[32];
	int total = 0;

	cr_assert_not_null(b.seen);
	mkdir_node(t, 10);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%06d", i);
		cr_assert_eq(meta_dirent_add(t, 10, name, (uint64_t)i), 0);
	}
	cr_assert_eq(meta_txn_commit(t), 0);

	/* Like a FUSE readdir: many calls, each a fresh read txn and a page. */
	uint64_t after = 2;
	for (;;) {
		b.n = 0;
		b.max = 300;
		t = rbegin();
		cr_assert_eq(meta_readdir(t, 10, after, big_cb, &b), 0);
		meta_txn_abort(t);
		if (b.n == 0)
			break;
		total += b.n;
		after = b.last;
	}
	cr_assert_eq(total, N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(b.seen[i], 1, "entry %d seen %d times", i, b.seen[i]);
	t = rbegin();
	cr_assert_eq(meta_dir_is_empty(t, 10), 0);
	meta_txn_abort(t);
	free(b.seen);
}

/* ---- xattrs ------------------------------------------------------------------- */

struct names {
	char s[8][64];
	int n, stop;
};

static int xl_cb(void *arg, const char *name)
{
	struct names *x = arg;
	if (x->n == x->stop)
		return 1;
	snprintf(x->s[x->n++], 64, "%s", name);
	return 0;
}

Test(meta, xattr_semantics)
{
	meta_txn *t = wbegin();
	char buf[16];
	size_t len = 99;
	struct names x = { .stop = 8 };
	static uint8_t big[65537];
	char longname[300];

	cr_assert_eq(meta_xattr_get(t, 5, "user.x", buf, sizeof(buf), &len), -ENODATA);
	cr_assert_eq(meta_xattr_set(t, 5, "user.x", "v1", 2, XATTR_REPLACE), -ENODATA);
	cr_assert_eq(meta_xattr_set(t, 5, "user.x", "v1", 2, XATTR_CREATE), 0);
	cr_assert_eq(meta_xattr_set(t, 5, "user.x", "v2", 2, XATTR_CREATE), -EEXIST);
	cr_assert_eq(meta_xattr_set(t, 5, "user.x", "value3", 6, XATTR_REPLACE), 0);
	cr_assert_eq(meta_xattr_set(t, 5, "user.x", "v", 1, XATTR_CREATE | XATTR_REPLACE), -EINVAL);
	/* size query */
	cr_assert_eq(meta_xattr_get(t, 5, "user.x", NULL, 0, &len), 0);
	cr_assert_eq(len, 6);
	cr_assert_eq(meta_xattr_get(t, 5, "user.x", buf, 3, &len), -ERANGE);
	cr_assert_eq(meta_xattr_get(t, 5, "user.x", buf, 6, &len), 0);
	cr_assert_eq(len, 6);
	cr_assert_eq(memcmp(buf, "value3", 6), 0);
	/* empty value */
	cr_assert_eq(meta_xattr_set(t, 5, "user.empty", "", 0, 0), 0);
	cr_assert_eq(meta_xattr_get(t, 5, "user.empty", buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, 0);
	/* limits */
	cr_assert_eq(meta_xattr_set(t, 5, "user.big", big, 65536, 0), 0);
	cr_assert_eq(meta_xattr_get(t, 5, "user.big", NULL, 0, &len), 0);
	cr_assert_eq(len, 65536);
	cr_assert_eq(meta_xattr_set(t, 5, "user.big", big, 65537, 0), -E2BIG);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(meta_xattr_set(t, 5, longname, "v", 1, 0), -ERANGE);
	cr_assert_eq(meta_xattr_set(t, 5, "", "v", 1, 0), -ERANGE);
	longname[255] = '\0';
	cr_assert_eq(meta_xattr_set(t, 5, longname, "v", 1, 0), 0);
	cr_assert_eq(meta_xattr_del(t, 5, longname), 0);
	/* other inodes do not see these */
	cr_assert_eq(meta_xattr_set(t, 4, "user.z", "v", 1, 0), 0);
	cr_assert_eq(meta_xattr_set(t, 6, "user.a", "v", 1, 0), 0);
	cr_assert_eq(meta_xattr_get(t, 6, "user.x", buf, sizeof(buf), &len), -ENODATA);
	/* list in name order */
	cr_assert_eq(meta_xattr_list(t, 5, xl_cb, &x), 0);
	cr_assert_eq(x.n, 3);
	cr_assert_str_eq(x.s[0], "user.big");
	cr_assert_str_eq(x.s[1], "user.empty");
	cr_assert_str_eq(x.s[2], "user.x");
	x = (struct names){ .stop = 1 };
	cr_assert_eq(meta_xattr_list(t, 5, xl_cb, &x), 0);
	cr_assert_eq(x.n, 1);
	/* delete */
	cr_assert_eq(meta_xattr_del(t, 5, "user.x"), 0);
	cr_assert_eq(meta_xattr_del(t, 5, "user.x"), -ENODATA);
	cr_assert_eq(meta_xattr_get(t, 5, "user.x", buf, sizeof(buf), &len), -ENODATA);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* The names and values of one inode total at most META_XATTR_TOTAL_MAX:
 * beyond it ENOSPC, a replacement counts only its new size, other inodes
 * have their own budget, and removing makes room again. */
Test(meta, xattr_total_limit)
{
	static uint8_t v[65536];
	enum { NAME = 7 };   /* "user.aN" */
	const size_t one = NAME + sizeof(v);
	const int fit = (int)(META_XATTR_TOTAL_MAX / one);
	char name[16];
	size_t left;
	meta_txn *t = wbegin();

	for (int i = 0; i < fit; i++) {
		snprintf(name, sizeof(name), "user.a%d", i);
		cr_assert_eq(meta_xattr_set(t, 9, name, v, sizeof(v), 0), 0, "value %d", i);
	}
	left = META_XATTR_TOTAL_MAX - (size_t)fit * one;
	cr_assert_lt(left, one);
	cr_assert_eq(meta_xattr_set(t, 9, "user.more", v, sizeof(v), 0), -ENOSPC);
	cr_assert_eq(meta_xattr_set(t, 9, "user.more", v, sizeof(v), XATTR_CREATE), -ENOSPC);
	cr_assert_eq(meta_xattr_set(t, 9, "user.a0", v, sizeof(v), XATTR_CREATE), -EEXIST);
	cr_assert_eq(meta_xattr_get(t, 9, "user.more", NULL, 0, NULL), -ENODATA);
	/* exactly up to the limit; one byte more is refused */
	cr_assert_eq(meta_xattr_set(t, 9, "user.z", v, left - 6, 0), 0);
	cr_assert_eq(meta_xattr_set(t, 9, "user.y", "", 0, 0), -ENOSPC);
	/* replacing counts the new size only */
	cr_assert_eq(meta_xattr_set(t, 9, "user.a0", v, sizeof(v), XATTR_REPLACE), 0);
	cr_assert_eq(meta_xattr_set(t, 9, "user.z", v, left - 5, 0), -ENOSPC);
	cr_assert_eq(meta_xattr_set(t, 9, "user.z", v, 1, 0), 0);
	/* another inode has its own budget */
	cr_assert_eq(meta_xattr_set(t, 10, "user.a0", v, sizeof(v), 0), 0);
	/* removing makes room */
	cr_assert_eq(meta_xattr_del(t, 9, "user.a1"), 0);
	cr_assert_eq(meta_xattr_set(t, 9, "user.more", v, sizeof(v), 0), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* The names of one inode, as listxattr(2) returns them (each NUL-ended),
 * stay within META_XATTR_LIST_MAX, below the kernel's 64 KiB XATTR_LIST_MAX:
 * many small names must not make the object impossible to list (E2BIG) for
 * cp -a, tar --xattrs or a backup. */
struct lsum {
	size_t bytes;
};

static int lsum_cb(void *arg, const char *name)
{
	((struct lsum *)arg)->bytes += strlen(name) + 1;
	return 0;
}

Test(meta, xattr_name_list_limit)
{
	char name[XATTR_NAME_MAX + 1];
	struct lsum ls = { 0 };
	int i, rc = 0;
	meta_txn *t = wbegin();

	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "user.%06d%0200d", i, 0);
		rc = meta_xattr_set(t, 11, name, "", 0, 0);
		if (rc)
			break;
	}
	cr_assert_eq(rc, -ENOSPC, "name %d: %d", i, rc);
	cr_assert_eq(meta_xattr_list(t, 11, lsum_cb, &ls), 0);
	cr_assert_leq(ls.bytes, META_XATTR_LIST_MAX);
	cr_assert_gt(ls.bytes + strlen(name) + 1, META_XATTR_LIST_MAX);
	/* an existing name can still be replaced; removing one makes room */
	snprintf(name, sizeof(name), "user.%06d%0200d", 0, 0);
	cr_assert_eq(meta_xattr_set(t, 11, name, "v", 1, XATTR_REPLACE), 0);
	cr_assert_eq(meta_xattr_set(t, 11, name, "w", 1, 0), 0);
	cr_assert_eq(meta_xattr_del(t, 11, name), 0);
	cr_assert_eq(meta_xattr_set(t, 11, name, "", 0, XATTR_CREATE), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* A reader in another process with a small address space (ulimit -v: its
 * map is smaller than the writer's) while the writer grows the data past
 * that map: the reader adopts the new size or fails with an error, and
 * never crashes (LMDB unmaps before it maps the larger size; a failed map
 * left dangling pointers). */
static size_t vm_bytes(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static int small_reader(int ready, int go)
{
	struct rlimit rl;
	struct meta_node got;
	meta_env *ro = NULL;
	meta_txn *r = NULL;
	char err[256], c = 'r';
	int rc;

	rl.rlim_cur = rl.rlim_max = vm_bytes() + ((size_t)160 << 20);
	if (setrlimit(RLIMIT_AS, &rl))
		return 10;
	if (meta_open(dir, META_RDONLY, &ro, err, sizeof(err)))
		return 11;
	if (meta_txn_begin(ro, 1, &r) || meta_node_get(r, 16, &got))
		return 12;
	meta_txn_abort(r);
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 13;
	/* The data outgrew the map; a larger one fits: adopted. */
	if (meta_txn_begin(ro, 1, &r))
		return 16;
	rc = meta_node_get(r, 60000, &got);
	meta_txn_abort(r);
	if (rc)
		return 17;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 13;
	/* Now nothing fits: an error, never a crash. */
	for (int i = 0; i < 3; i++) {
		rc = meta_txn_begin(ro, 1, &r);
		if (rc == 0) {
			rc = meta_node_get(r, 70000, &got);
			meta_txn_abort(r);
			if (rc)
				return 14;
		} else if (rc != -ENOMEM && rc != -EAGAIN) {
			return 15;
		}
	}
	meta_close(ro);
	return 0;
}

Test(meta, small_reader_survives_map_growth, .timeout = 120)
{
	static uint8_t v[60000];
	int ready[2], go[2], st = 0;
	char c;
	pid_t pid;
	meta_txn *t = wbegin();
	struct meta_node n = mknode(16, S_IFREG);

#if defined(__SANITIZE_ADDRESS__)
	/* ASan's shadow memory cannot live under a small RLIMIT_AS. */
	meta_txn_abort(t);
	cr_skip_test("address space limits do not work under ASan");
#endif
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(env);
	env = NULL;
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(small_reader(ready[1], go[0]));
	close(ready[1]);   /* a dead reader reads as EOF, not a hang */
	close(go[0]);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(read(ready[0], &c, 1), 1, "reader did not start");
	{
		char err[256] = "";
		cr_assert_eq(meta_open(dir, 0, &env, err, sizeof(err)), 0, "%s", err);
	}
	/* The reader's map is 128 MiB (the largest power of two in its 160
	 * MiB): grow past it to ~145 MB, then to ~300 MB. */
	for (uint64_t ino = 100; ino < 100 + 5000; ino += 50) {
		if (ino == 100 + 2400) {
			t = wbegin();
			n = mknode(60000, S_IFREG);
			cr_assert_eq(meta_node_put(t, &n), 0);
			cr_assert_eq(meta_txn_commit(t), 0);
			cr_assert_eq(write(go[1], "g", 1), 1);
			cr_assert_eq(read(ready[0], &c, 1), 1, "reader died in step 1");
		}
		t = wbegin();
		for (uint64_t i = ino; i < ino + 50; i++)
			cr_assert_eq(meta_xattr_set(t, i, "user.v", v, sizeof(v), 0), 0);
		cr_assert_eq(meta_txn_commit(t), 0);
	}
	t = wbegin();
	n = mknode(70000, S_IFREG);
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "reader died of signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cr_assert_eq(WEXITSTATUS(st), 0, "reader step %d failed", WEXITSTATUS(st));
}

/* ---- orphans ---------------------------------------------------------------- */

struct orph {
	uint64_t ino[8];
	uint8_t id0[8];
	int n;
};

static int orph_cb(void *arg, uint64_t ino, const uint8_t objid[16])
{
	struct orph *o = arg;
	o->ino[o->n] = ino;
	o->id0[o->n] = objid[15];
	o->n++;
	return 0;
}

Test(meta, orphans)
{
	meta_txn *t = wbegin();
	uint8_t id[16] = { 0 };
	struct orph o = { .n = 0 };

	id[15] = 0xa1;
	cr_assert_eq(meta_orphan_add(t, 300, id), 0);
	id[15] = 0xb2;
	cr_assert_eq(meta_orphan_add(t, 20, id), 0);
	cr_assert_eq(meta_txn_commit(t), 0);

	reopen(0);
	t = wbegin();
	cr_assert_eq(meta_orphan_foreach(t, orph_cb, &o), 0);
	cr_assert_eq(o.n, 2);
	cr_assert_eq(o.ino[0], 20);
	cr_assert_eq(o.id0[0], 0xb2);
	cr_assert_eq(o.ino[1], 300);
	cr_assert_eq(o.id0[1], 0xa1);
	cr_assert_eq(meta_orphan_del(t, 20), 0);
	cr_assert_eq(meta_orphan_del(t, 20), -ENOENT);
	o.n = 0;
	cr_assert_eq(meta_orphan_foreach(t, orph_cb, &o), 0);
	cr_assert_eq(o.n, 1);
	cr_assert_eq(o.ino[0], 300);
	cr_assert_eq(meta_txn_commit(t), 0);
}

/* ---- concurrency: readers run beside the writer --------------------------------- */

static void *reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		meta_txn *t = NULL;
		struct meta_node n;
		if (meta_txn_begin(env, 1, &t))
			return (void *)1;
		/* A snapshot is consistent: node 16 exists with size 160. */
		if (meta_node_get(t, 16, &n) || n.size != 160) {
			meta_txn_abort(t);
			return (void *)2;
		}
		meta_txn_abort(t);
	}
	return NULL;
}

Test(meta, readers_beside_writer)
{
	pthread_t th[4];
	meta_txn *t = wbegin(), *r = NULL;
	struct meta_node n = mknode(16, S_IFREG), got;

	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_commit(t), 0);

	/* While a write txn is open, a read txn sees the committed state. */
	t = wbegin();
	n.size = 1;
	cr_assert_eq(meta_node_put(t, &n), 0);
	cr_assert_eq(meta_txn_begin(env, 1, &r), 0);
	cr_assert_eq(meta_node_get(r, 16, &got), 0);
	cr_assert_eq(got.size, 160);
	meta_txn_abort(r);
	meta_txn_abort(t);

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 200; i++) {
		struct meta_node m = mknode(1000 + (uint64_t)i, S_IFREG);
		t = wbegin();
		cr_assert_eq(meta_node_put(t, &m), 0);
		cr_assert_eq(meta_txn_commit(t), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		cr_assert_null(ret, "reader %d failed: %p", i, ret);
	}
}

/* ---- a large store ------------------------------------------------------- */

/* The map is reserved once at its maximum (no resize while in use, no
 * sparse file as large as the map): fill well past the old initial map
 * of 256 MiB with large xattr values, in many small transactions, then
 * check every value after a reopen. */
Test(meta, large_store_many_transactions, .timeout = 120)
{
	enum { VAL = 60000, PER_TXN = 50, TXNS = 120, PER_INO = 4 };   /* ~360 MB */
	static uint8_t val[VAL];
	char path[128], name[32];
	struct stat st;
	meta_txn *t;

	t = wbegin();
	for (int i = 0; i < TXNS * PER_TXN / PER_INO; i++)
		mkdir_node(t, 1000 + (uint64_t)i);
	cr_assert_eq(meta_txn_commit(t), 0);
	for (int k = 0; k < TXNS; k++) {
		t = wbegin();
		for (int i = 0; i < PER_TXN; i++) {
			int id = k * PER_TXN + i;
			memset(val, id & 0xff, sizeof(val));
			snprintf(name, sizeof(name), "user.v%05d", id);
			cr_assert_eq(meta_xattr_set(t, 1000 + (uint64_t)(id / PER_INO), name, val,
						    sizeof(val), 0), 0, "value %d", id);
		}
		cr_assert_eq(meta_txn_commit(t), 0);
		/* readers between writers */
		meta_txn *r = rbegin();
		meta_txn_abort(r);
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, (off_t)256 << 20, "the store holds more than 256 MiB");
	cr_assert_lt(st.st_size, (off_t)1 << 30, "the file is as large as its pages, not the map");
	reopen(0);
	t = rbegin();
	for (int id = 0; id < TXNS * PER_TXN; id += 97) {
		size_t len = 0;
		snprintf(name, sizeof(name), "user.v%05d", id);
		cr_assert_eq(meta_xattr_get(t, 1000 + (uint64_t)(id / PER_INO), name, val,
					    sizeof(val), &len), 0);
		cr_assert_eq(len, (size_t)VAL);
		cr_assert_eq(val[0], (uint8_t)(id & 0xff));
		cr_assert_eq(val[VAL - 1], (uint8_t)(id & 0xff));
	}
	meta_txn_abort(t);
}

/* ---- records from before autocommit_s, and the autocommit index ------- */

Test(meta, node_record_before_autocommit_reads)
{
	struct meta_node nd, out;
	size_t old = offsetof(struct meta_node, autocommit_s) + sizeof(nd.mac);
	uint8_t buf[sizeof(struct meta_node)];

	memset(&nd, 0, sizeof(nd));
	nd.version = META_NODE_VERSION;
	nd.ino = 42;
	nd.size = 7;
	nd.next_cookie = 99;
	memset(nd.mac, 0xab, sizeof(nd.mac));
	/* The old layout: every field up to next_cookie, then the MAC. */
	memcpy(buf, &nd, offsetof(struct meta_node, autocommit_s));
	memcpy(buf + offsetof(struct meta_node, autocommit_s), nd.mac, sizeof(nd.mac));
	memset(&out, 0x55, sizeof(out));
	cr_assert_eq(meta_node_decode(buf, old, &out), 0);
	cr_assert_eq(out.ino, 42);
	cr_assert_eq(out.size, 7);
	cr_assert_eq(out.next_cookie, 99);
	cr_assert_eq(out.autocommit_s, 0);
	cr_assert_eq(out.spare, 0);
	cr_assert_eq(memcmp(out.mac, nd.mac, sizeof(nd.mac)), 0);
	cr_assert_eq(meta_node_decode(buf, old - 1, &out), -EBADMSG);
	cr_assert_eq(meta_node_decode(buf, old + 1, &out), -EBADMSG);
}

/* Records from before the commit field (issue 12): 16 bytes shorter,
 * every field up to it, then the MAC; they read with commit 0. */
Test(meta, node_record_before_commit_reads)
{
	struct meta_node nd, out;
	size_t old = offsetof(struct meta_node, commit) + sizeof(nd.mac);
	uint8_t buf[sizeof(struct meta_node)];
	static const uint8_t zero[META_COMMIT_BYTES];

	memset(&nd, 0, sizeof(nd));
	nd.version = META_NODE_VERSION;
	nd.ino = 43;
	nd.size = 9;
	nd.generation = 5;
	nd.autocommit_s = 3600;
	memset(nd.mac, 0xcd, sizeof(nd.mac));
	memcpy(buf, &nd, offsetof(struct meta_node, commit));
	memcpy(buf + offsetof(struct meta_node, commit), nd.mac, sizeof(nd.mac));
	memset(&out, 0x55, sizeof(out));
	cr_assert_eq(meta_node_decode(buf, old, &out), 0);
	cr_assert_eq(out.ino, 43);
	cr_assert_eq(out.generation, 5);
	cr_assert_eq(out.autocommit_s, 3600);
	cr_assert_eq(memcmp(out.commit, zero, sizeof(zero)), 0);
	cr_assert_eq(memcmp(out.mac, nd.mac, sizeof(nd.mac)), 0);
	cr_assert_eq(meta_node_decode(buf, old - 1, &out), -EBADMSG);
	cr_assert_eq(meta_node_decode(buf, old + 1, &out), -EBADMSG);
	/* The current size keeps the field. */
	memset(nd.commit, 0xa5, sizeof(nd.commit));
	cr_assert_eq(meta_node_decode(&nd, sizeof(nd), &out), 0);
	cr_assert_eq(memcmp(out.commit, nd.commit, sizeof(nd.commit)), 0);
}

Test(meta, due_index_earliest_first_one_per_object)
{
	meta_txn *t = wbegin();
	uint64_t ino, count;
	int64_t d;

	cr_assert_eq(meta_due_first(t, &ino, &d), -ENOENT);
	cr_assert_eq(meta_due_set(t, 20, 500), 0);
	cr_assert_eq(meta_due_set(t, 21, 300), 0);
	cr_assert_eq(meta_due_set(t, 22, 400), 0);
	cr_assert_eq(meta_due_first(t, &ino, &d), 0);
	cr_assert_eq(ino, 21);
	cr_assert_eq(d, 300);
	/* A new deadline replaces the object's entry. */
	cr_assert_eq(meta_due_set(t, 21, 900), 0);
	cr_assert_eq(meta_due_count(t, &count), 0);
	cr_assert_eq(count, 3);
	cr_assert_eq(meta_due_first(t, &ino, &d), 0);
	cr_assert_eq(ino, 22);
	cr_assert_eq(meta_due_get(t, 21, &d), 0);
	cr_assert_eq(d, 900);
	/* Removing the exact entry, or by object. */
	cr_assert_eq(meta_due_del_at(t, 400, 22), 0);
	cr_assert_eq(meta_due_get(t, 22, &d), -ENOENT);
	cr_assert_eq(meta_due_del(t, 20), 0);
	cr_assert_eq(meta_due_del(t, 20), 0);    /* none: fine */
	cr_assert_eq(meta_due_first(t, &ino, &d), 0);
	cr_assert_eq(ino, 21);
	/* A stale entry (not the object's current one) goes alone. */
	cr_assert_eq(meta_due_del_at(t, 123, 21), 0);
	cr_assert_eq(meta_due_get(t, 21, &d), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	t = rbegin();
	cr_assert_eq(meta_due_first(t, &ino, &d), 0);
	cr_assert_eq(ino, 21);
	cr_assert_eq(d, 900);
	meta_txn_abort(t);
}
