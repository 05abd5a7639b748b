/* ns_upgrade (wormctl upgrade): format-1/2 content files rewritten in
 * format 3 in place, locks kept; a block put back from an older authentic
 * version of itself reads before the upgrade and fails after it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "obj.h"
#include "meta.h"

static const struct ns_caller ROOT = { 0, 0, 1, 022, NULL, 0, NULL, 0 };

static void reopen_as(int flags)
{
	char err[512] = "";
	ns_close(N);
	N = NULL;
	cr_assert_eq(ns_open(spath, &C, flags, &N, err, sizeof(err)), 0, "%s", err);
}

static void reopen(void)
{
	reopen_as(0);
}

static void setup(void)
{
	fixture_ns_setup();
	setenv("WORMFS_TEST_OLD_FORMAT", "1", 1);
}

TestSuite(ns_upgrade, .init = setup, .fini = fixture_ns_teardown, .timeout = 120);

#define BS OBJ_BLOCK_SIZE

/* What the last run reported, by inode. */
struct seen {
	uint64_t ino;
	char old_id[33], new_id[33];
	unsigned format;
	int rc;
	char why[200];
};
static struct seen S[32];
static size_t NS;

static void item_cb(void *arg, const struct ns_upgrade_item *it)
{
	(void)arg;
	cr_assert_lt(NS, 32);
	S[NS].ino = it->ino;
	snprintf(S[NS].old_id, 33, "%s", it->objid);
	snprintf(S[NS].new_id, 33, "%s", it->new_objid ? it->new_objid : "");
	S[NS].format = it->format;
	S[NS].rc = it->rc;
	snprintf(S[NS].why, sizeof(S[NS].why), "%s", it->why ? it->why : "");
	NS++;
}

static const struct seen *seen_of(uint64_t ino)
{
	for (size_t i = 0; i < NS; i++)
		if (S[i].ino == ino)
			return &S[i];
	return NULL;
}

static int run(unsigned fmt, int dry, void (*hook)(void *, uint64_t), struct ns_upgrade_stats *st)
{
	struct ns_upgrade_opts o;
	memset(&o, 0, sizeof(o));
	o.dry_run = dry;
	o.cb = item_cb;
	o.before_swap = hook;
	o.test_format = fmt == 3 ? 0 : fmt;
	NS = 0;
	reopen_as(NS_OFFLINE);   /* as wormctl opens it */
	return ns_upgrade(N, &o, st);
}

static void content_path(const char *hex, char *out, size_t len)
{
	snprintf(out, len, "%s/objects/%.2s/%s", spath, hex, hex);
}

static int file_format(const char *hex)
{
	char p[512];
	uint8_t h[16];
	content_path(hex, p, sizeof(p));
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	cr_assert_eq(pread(fd, h, 16, 0), 16);
	close(fd);
	return h[8];
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + i / 977);
	return p;
}

static uint64_t mkfile(uint64_t parent, const char *name, const void *buf, size_t n,
		       uint64_t off)
{
	struct ns_attr a;
	ns_handle *h;
	cr_assert_eq(ns_create(N, &ROOT, parent, name, 0640, O_WRONLY, &a, &h), 0);
	if (n)
		cr_assert_eq(ns_write(N, &ROOT, h, buf, n, off), (ssize_t)n);
	cr_assert_eq(ns_release(N, h), 0);
	return a.ino;
}

/* The whole content of ino equals want (size n). */
static void check_content(uint64_t ino, const uint8_t *want, size_t n)
{
	ns_handle *h;
	int keep = 0;
	uint8_t *got = malloc(n + 1);
	cr_assert_not_null(got);
	cr_assert_eq(ns_open_file(N, &ROOT, ino, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, got, n + 1, 0), (ssize_t)n);
	cr_assert(memcmp(got, want, n) == 0);
	cr_assert_eq(ns_release(N, h), 0);
	free(got);
}

static int damage_cb(void *arg, const char *path, const char *what)
{
	(void)arg;
	cr_log_error("damage %s: %s", path, what);
	return 0;
}

struct lockview {
	struct ns_attr a;
	char ret[128], hold[16];
	ssize_t rl, hl;
};

static void lock_of(uint64_t ino, struct lockview *v)
{
	memset(v, 0, sizeof(*v));
	cr_assert_eq(ns_getattr(N, ino, &v->a), 0);
	v->rl = ns_getxattr(N, &ROOT, ino, "user.worm.retention", v->ret, sizeof(v->ret));
	v->hl = ns_getxattr(N, &ROOT, ino, "user.worm.legal-hold", v->hold, sizeof(v->hold));
}

static void same_lock(const struct lockview *x, const struct lockview *y)
{
	cr_assert_eq(x->rl, y->rl);
	cr_assert_eq(x->hl, y->hl);
	if (x->rl > 0)
		cr_assert(memcmp(x->ret, y->ret, (size_t)x->rl) == 0);
	if (x->hl > 0)
		cr_assert(memcmp(x->hold, y->hold, (size_t)x->hl) == 0);
	cr_assert_eq(x->a.ino, y->a.ino);
	cr_assert_eq(x->a.mode, y->a.mode);
	cr_assert_eq(x->a.uid, y->a.uid);
	cr_assert_eq(x->a.gid, y->a.gid);
	cr_assert_eq(x->a.size, y->a.size);
	cr_assert_eq(x->a.mtime_ns, y->a.mtime_ns);
	cr_assert_eq(x->a.ctime_ns, y->a.ctime_ns);
	cr_assert_eq(x->a.sealed, y->a.sealed);
}

Test(ns_upgrade, old_formats_rewritten_in_place_locks_kept)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	struct lockview before[5], after;
	const size_t big = 3 * BS + 100, sp_off = 4 * BS + 7, sp_len = 1000;
	uint8_t *d1 = pattern(big, 1), *d2 = pattern(big, 2), *d3 = pattern(2 * BS, 3);
	uint8_t *sp = calloc(1, sp_off + sp_len);
	uint64_t ino[5];

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t b = a.ino;
	/* Format 1: a COMPLIANCE-locked multi-block object and a sparse one. */
	ino[0] = mkfile(b, "compliance", d1, big, 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, ino[0], "user.worm.retention", "COMPLIANCE +1d", 14,
				 0), 0);
	cr_assert_eq(ns_getattr(N, ino[0], &a), 0);
	memset(sp + sp_off, 0x5a, sp_len);
	ino[1] = mkfile(b, "sparse", sp + sp_off, sp_len, sp_off);
	reopen();
	cr_assert_eq(run(1, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 2);
	cr_assert_eq(file_format(seen_of(ino[0])->new_id), 1);
	cr_assert_eq(file_format(seen_of(ino[1])->new_id), 1);
	/* Format 2: one under legal hold, one mutable. */
	ino[2] = mkfile(b, "held", d2, big, 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, ino[2], "user.worm.legal-hold", "ON", 2, 0), 0);
	ino[3] = mkfile(b, "mutable", d3, 2 * BS, 0);
	ino[4] = mkfile(b, "tiny", "x", 1, 0);   /* inline or format 3: never touched */
	reopen();
	cr_assert_eq(run(2, 0, NULL, &st), 0);
	/* held, mutable, and tiny unless it is inline (never touched) */
	cr_assert(st.upgraded == 2 || st.upgraded == 3);
	cr_assert_eq(file_format(seen_of(ino[2])->new_id), 2);
	cr_assert_eq(file_format(seen_of(ino[3])->new_id), 2);
	reopen();
	for (int i = 0; i < 5; i++)
		lock_of(ino[i], &before[i]);
	cr_assert_gt(before[0].rl, 0);
	cr_assert(before[0].a.sealed);
	cr_assert_eq(before[2].hl, 2);
	cr_assert_eq(ns_verify(N, damage_cb, NULL, NULL), 0);

	/* A dry run lists them and changes nothing. */
	cr_assert_eq(run(3, 1, NULL, &st), 0);
	cr_assert_geq(st.upgraded, 4);
	cr_assert_eq(st.failed, 0);
	for (int i = 0; i < 4; i++) {
		const struct seen *s = seen_of(ino[i]);
		cr_assert_not_null(s);
		cr_assert_eq(s->format, i < 2 ? 1u : 2u);
		cr_assert_eq(file_format(s->old_id), i < 2 ? 1 : 2);
	}

	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_geq(st.upgraded, 4);
	cr_assert_eq(st.failed, 0);
	char old[4][33];
	for (int i = 0; i < 4; i++) {
		const struct seen *s = seen_of(ino[i]);
		cr_assert_not_null(s);
		cr_assert_eq(s->rc, 0);
		snprintf(old[i], 33, "%s", s->old_id);
		cr_assert_eq(file_format(s->new_id), 3);
		cr_assert_eq(file_format(s->old_id), -ENOENT);
	}
	reopen();
	check_content(ino[0], d1, big);
	check_content(ino[1], sp, sp_off + sp_len);
	check_content(ino[2], d2, big);
	check_content(ino[3], d3, 2 * BS);
	check_content(ino[4], (const uint8_t *)"x", 1);
	for (int i = 0; i < 5; i++) {
		lock_of(ino[i], &after);
		same_lock(&before[i], &after);
	}
	/* Bound (verify reports a format-3 node naming no commit record) and
	 * sound. */
	cr_assert_eq(ns_verify(N, damage_cb, NULL, NULL), 0);
	/* The locks still hold. */
	cr_assert_eq(ns_unlink(N, &ROOT, b, "compliance"), -EPERM);
	cr_assert_eq(ns_unlink(N, &ROOT, b, "held"), -EPERM);
	/* Nothing left: a second run skips them all. */
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 0);
	cr_assert_geq(st.skipped, 4);
	(void)old;
	free(d1);
	free(d2);
	free(d3);
	free(sp);
}

/* The slot bytes of block i of the content file hex. */
static void slot_io(const char *hex, uint64_t i, uint8_t *buf, int put)
{
	char p[512];
	content_path(hex, p, sizeof(p));
	int fd = open(p, put ? O_WRONLY : O_RDONLY);
	cr_assert_geq(fd, 0, "%s", p);
	off_t off = OBJ_HEADER_SIZE + (off_t)i * OBJ_SLOT_SIZE;
	if (put)
		cr_assert_eq(pwrite(fd, buf, OBJ_SLOT_SIZE, off), (ssize_t)OBJ_SLOT_SIZE);
	else
		cr_assert_eq(pread(fd, buf, OBJ_SLOT_SIZE, off), (ssize_t)OBJ_SLOT_SIZE);
	close(fd);
}

/* One write session rewrites block 1 twice; the first version is put back
 * after the commit. Returns the read of block 1: its bytes or -EIO. */
static ssize_t replay_block1(uint64_t ino, const char *hex, uint8_t *got)
{
	uint8_t *first = malloc(OBJ_SLOT_SIZE), *cur = malloc(OBJ_SLOT_SIZE);
	uint8_t va[64], vb[64];
	ns_handle *h;
	int keep = 0;

	memset(va, 'A', sizeof(va));
	memset(vb, 'B', sizeof(vb));
	cr_assert_eq(ns_open_file(N, &ROOT, ino, O_RDWR, &h, &keep), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, va, sizeof(va), BS), (ssize_t)sizeof(va));
	slot_io(hex, 1, first, 0);
	cr_assert_eq(ns_write(N, &ROOT, h, vb, sizeof(vb), BS), (ssize_t)sizeof(vb));
	cr_assert_eq(ns_release(N, h), 0);
	reopen();
	slot_io(hex, 1, cur, 0);
	cr_assert(memcmp(first, cur, OBJ_SLOT_SIZE) != 0);
	slot_io(hex, 1, first, 1);   /* the older authentic version */
	reopen();
	cr_assert_eq(ns_open_file(N, &ROOT, ino, O_RDONLY, &h, &keep), 0);
	ssize_t r = ns_read(N, h, got, 64, BS);
	cr_assert_eq(ns_release(N, h), 0);
	slot_io(hex, 1, cur, 1);      /* back as it was */
	free(first);
	free(cur);
	return r;
}

Test(ns_upgrade, block_replay_fails_after_upgrade)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	uint8_t *d = pattern(3 * BS, 9), got[64];

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "obj", d, 3 * BS, 0);
	reopen();
	cr_assert_eq(run(2, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 1);
	char hex[33];
	snprintf(hex, sizeof(hex), "%s", seen_of(f)->new_id);
	reopen();
	/* Format 2: the older version of block 1 reads as the object. */
	cr_assert_eq(replay_block1(f, hex, got), 64);
	cr_assert_eq(got[0], 'A');
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 1);
	snprintf(hex, sizeof(hex), "%s", seen_of(f)->new_id);
	reopen();
	/* Format 3: it fails. */
	cr_assert_eq(replay_block1(f, hex, got), -EIO);
	free(d);
}

/* A node changed between the read and the swap: not upgraded, the old
 * file and record stay, the new file is gone. */
static uint64_t HOOK_INO;
static void touch_node(void *arg, uint64_t ino)
{
	struct ns_setattr sa;
	(void)arg;
	cr_assert_eq(ino, HOOK_INO);
	struct ns_attr out;
	memset(&sa, 0, sizeof(sa));
	sa.valid = NS_SET_MODE;
	sa.mode = 0600;
	cr_assert_eq(ns_setattr(N, &ROOT, ino, &sa, NULL, &out), 0);
}

Test(ns_upgrade, node_changed_meanwhile_aborts)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	uint8_t *d = pattern(2 * BS + 5, 4);

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "obj", d, 2 * BS + 5, 0);
	reopen();
	cr_assert_eq(run(1, 0, NULL, &st), 0);
	char v1[33];
	snprintf(v1, sizeof(v1), "%s", seen_of(f)->new_id);
	reopen();
	HOOK_INO = f;
	cr_assert_eq(run(3, 0, touch_node, &st), 0);
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 1);
	const struct seen *s = seen_of(f);
	cr_assert_eq(s->rc, -ESTALE);
	cr_assert_str_eq(s->old_id, v1);
	cr_assert_eq(file_format(v1), 1);
	/* Only the old content file is left. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(find %s/objects -type f | wc -l) -eq 1", spath);
	cr_assert_eq(system(cmd), 0);
	reopen();
	check_content(f, d, 2 * BS + 5);
	cr_assert_eq(ns_verify(N, damage_cb, NULL, NULL), 0);
	free(d);
}

/* A damaged old file: not upgraded, named, nothing changed for it; the
 * others are upgraded. */
Test(ns_upgrade, damaged_old_file_not_upgraded)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	uint8_t *d = pattern(3 * BS, 5), slot[OBJ_SLOT_SIZE];

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "bad", d, 3 * BS, 0);
	uint64_t g = mkfile(a.ino, "good", d, 3 * BS, 0);
	reopen();
	cr_assert_eq(run(2, 0, NULL, &st), 0);
	char bad[33];
	snprintf(bad, sizeof(bad), "%s", seen_of(f)->new_id);
	slot_io(bad, 2, slot, 0);
	slot[100] ^= 1;
	slot_io(bad, 2, slot, 1);
	reopen();
	cr_assert_eq(run(3, 1, NULL, &st), 0);   /* the dry run sees it too */
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(st.upgraded, 1);
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(st.upgraded, 1);
	const struct seen *s = seen_of(f);
	cr_assert_eq(s->rc, -EIO);
	cr_assert_str_eq(s->old_id, bad);
	cr_assert_eq(s->new_id[0], '\0');
	cr_assert_eq(file_format(bad), 2);
	cr_assert_eq(file_format(seen_of(g)->new_id), 3);
	/* The damaged one and the upgraded one: two files. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(find %s/objects -type f | wc -l) -eq 2", spath);
	cr_assert_eq(system(cmd), 0);
	free(d);
}

/* An object cut to size 0 after a commit (a content file with no block):
 * upgraded to an empty format-3 file, reads empty, verifies. */
Test(ns_upgrade, emptied_object)
{
	struct ns_attr a, out;
	struct ns_setattr sa;
	struct ns_upgrade_stats st;
	uint8_t *d = pattern(BS + 9, 6), buf[8];
	ns_handle *h;
	int keep = 0;

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "obj", d, BS + 9, 0);
	memset(&sa, 0, sizeof(sa));
	sa.valid = NS_SET_SIZE;
	sa.size = 0;
	cr_assert_eq(ns_setattr(N, &ROOT, f, &sa, NULL, &out), 0);
	cr_assert_eq(out.size, 0);
	cr_assert_eq(run(1, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 1);
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 1);
	cr_assert_eq(file_format(seen_of(f)->new_id), 3);
	reopen();
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, buf, sizeof(buf), 0), 0);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_eq(ns_verify(N, damage_cb, NULL, NULL), 0);
	free(d);
}

/* The test hook for old formats needs its environment variable; a real
 * run needs an offline open (a daemon's open inodes would keep the old
 * identity). */
Test(ns_upgrade, refusals)
{
	struct ns_upgrade_opts o;
	struct ns_upgrade_stats st;
	unsetenv("WORMFS_TEST_OLD_FORMAT");
	cr_assert_eq(run(2, 0, NULL, &st), -EINVAL);
	memset(&o, 0, sizeof(o));
	reopen();
	cr_assert_eq(ns_upgrade(N, &o, &st), -EBUSY);
	o.dry_run = 1;
	cr_assert_eq(ns_upgrade(N, &o, &st), 0);
}

/* Review (rv-upg): the upgrade must not be undone by putting back what it
 * replaced. After a complete run, root puts back the object's node record
 * from before it (authentic: its MAC was right then) and the old format-2
 * content file, with block 1 replaced by an older authentic version of
 * itself, and re-seals the state digest (wormctl repair digest). The
 * object must not read as that replay again (as after the legacy bind,
 * whose put-back node fails the same way), and verify must name it. */
static int count_cb(void *arg, const char *path, const char *what)
{
	cr_log_info("damage %s: %s", path, what);
	(*(int *)arg)++;
	return 0;
}

Test(ns_upgrade, put_back_record_from_before_the_upgrade_refused)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	struct meta_node old;
	meta_env *me = NULL;
	meta_txn *t = NULL;
	uint8_t *d = pattern(3 * BS, 11), got[64], va[64], vb[64];
	uint8_t *first = malloc(OBJ_SLOT_SIZE);
	char err[512] = "", mpath[400], cmd[1400], hex[33];
	ns_handle *h;
	int keep = 0, bad = 0;

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "obj", d, 3 * BS, 0);
	reopen();
	cr_assert_eq(run(2, 0, NULL, &st), 0);
	snprintf(hex, sizeof(hex), "%s", seen_of(f)->new_id);
	reopen();
	/* One session writes block 1 twice: two authentic versions. */
	memset(va, 'A', sizeof(va));
	memset(vb, 'B', sizeof(vb));
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDWR, &h, &keep), 0);
	cr_assert_eq(ns_write(N, &ROOT, h, va, sizeof(va), BS), (ssize_t)sizeof(va));
	slot_io(hex, 1, first, 0);
	cr_assert_eq(ns_write(N, &ROOT, h, vb, sizeof(vb), BS), (ssize_t)sizeof(vb));
	cr_assert_eq(ns_release(N, h), 0);
	ns_close(N);
	N = NULL;
	/* The attacker's copies: the node record and the old file. */
	snprintf(mpath, sizeof(mpath), "%s/meta", spath);
	cr_assert_eq(meta_open(mpath, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 1, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &old), 0);
	meta_txn_abort(t);
	meta_close(me);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/saved && cp -a %s/objects/%.2s/%s* %s/saved/", dir,
		 spath, hex, hex, dir);
	cr_assert_eq(system(cmd), 0);

	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 1);
	cr_assert_eq(st.failed, 0);
	ns_close(N);
	N = NULL;

	/* Put back: the record, the old file with the replayed block, and
	 * the state digest re-sealed. */
	cr_assert_eq(meta_open(mpath, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_node_put(t, &old), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	snprintf(cmd, sizeof(cmd), "cp -a %s/saved/. %s/objects/%.2s/", dir, spath, hex);
	cr_assert_eq(system(cmd), 0);
	slot_io(hex, 1, first, 1);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_repair_digest(N, 0), 1);
	reopen();

	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, &keep), 0);
	ssize_t r = ns_read(N, h, got, sizeof(got), BS);
	cr_assert_eq(ns_release(N, h), 0);
	cr_expect_neq(r, 64, "the replayed block reads as the object again (%c)", got[0]);
	cr_assert_eq(r, -EIO);
	cr_assert_eq(ns_verify(N, count_cb, NULL, &bad), 1);
	cr_assert_eq(bad, 1, "verify names the put-back object");
	/* A second upgrade run does not take it either (it would bless the
	 * replay in a new format-3 file). */
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 1);
	reopen();
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, got, sizeof(got), BS), -EIO);
	cr_assert_eq(ns_release(N, h), 0);

	/* The marker deleted too (value 0), the digest re-sealed again:
	 * verify names both (the audit trail records the complete run), and
	 * the next run puts the marker back instead of taking the record. */
	ns_close(N);
	N = NULL;
	uint32_t zero = 0;
	cr_assert_eq(meta_open(mpath, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_kv_put(t, "format_upgrade_done", &zero, sizeof(zero)), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_repair_digest(N, 0), 1);
	bad = 0;
	cr_assert_eq(ns_verify(N, count_cb, NULL, &bad), 2);
	cr_assert_eq(run(3, 1, NULL, &st), 0);   /* a dry run sees it too */
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 1);
	reopen();
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, got, sizeof(got), BS), -EIO);
	cr_assert_eq(ns_release(N, h), 0);
	bad = 0;
	cr_assert_eq(ns_verify(N, count_cb, NULL, &bad), 1);
	free(first);
	free(d);
}

/* Review (rv-upg): a node record that fails authentication is never
 * rewritten (ns_node_put would re-MAC it: a retention date moved back by
 * an edit would be laundered, the COMPLIANCE object deletable). */
Test(ns_upgrade, forged_record_not_laundered)
{
	struct ns_attr a;
	struct ns_upgrade_stats st;
	struct meta_node nd;
	meta_env *me = NULL;
	meta_txn *t = NULL;
	uint8_t *d = pattern(3 * BS, 13);
	char err[512] = "", mpath[400], old[33];

	cr_assert_eq(ns_mkdir(N, &ROOT, NS_INO_ROOT, "bkt", 0755, &a), 0);
	uint64_t f = mkfile(a.ino, "obj", d, 3 * BS, 0);
	cr_assert_eq(ns_setxattr(N, &ROOT, f, "user.worm.retention", "COMPLIANCE +1d", 14, 0), 0);
	reopen();
	cr_assert_eq(run(2, 0, NULL, &st), 0);
	snprintf(old, sizeof(old), "%s", seen_of(f)->new_id);
	ns_close(N);
	N = NULL;
	/* Root moves the retention date to 1970: its MAC now fails. */
	snprintf(mpath, sizeof(mpath), "%s/meta", spath);
	cr_assert_eq(meta_open(mpath, 0, &me, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(meta_txn_begin(me, 0, &t), 0);
	cr_assert_eq(meta_node_get(t, f, &nd), 0);
	cr_assert_gt(nd.retain_until, 1);
	nd.retain_until = 1;
	cr_assert_eq(meta_node_put(t, &nd), 0);
	cr_assert_eq(meta_txn_commit(t), 0);
	meta_close(me);
	cr_assert_eq(ns_open(spath, &C, NS_OFFLINE, &N, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ns_repair_digest(N, 0), 1);
	cr_assert_eq(run(3, 0, NULL, &st), 0);
	cr_assert_eq(st.upgraded, 0);
	cr_assert_eq(st.failed, 1);
	cr_assert_eq(seen_of(f)->rc, -EPERM);
	/* Refused before anything is written (ns_node_put would refuse the
	 * swap as well: a second line of defence). */
	cr_assert(strstr(seen_of(f)->why, "fails authentication"), "%s", seen_of(f)->why);
	cr_assert_eq(file_format(old), 2);
	/* Still refused as forged, not an expired object now. */
	reopen();
	ns_handle *h;
	int keep = 0;
	uint8_t got[16];
	cr_assert_eq(ns_open_file(N, &ROOT, f, O_RDONLY, &h, &keep), 0);
	cr_assert_eq(ns_read(N, h, got, sizeof(got), 0), -EIO);
	cr_assert_eq(ns_release(N, h), 0);
	cr_assert_neq(ns_unlink(N, &ROOT, a.ino, "obj"), 0);
	free(d);
}
