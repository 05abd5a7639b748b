/* Unit tests for store: layout, refusals, FORMAT checks, run lock, object
 * files. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store.h"

static char tmpdir[64];
static char sp[128];   /* tmpdir/store */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void setup(void)
{
	strcpy(tmpdir, "/tmp/wormfs-store-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(sp, sizeof(sp), "%s/store", tmpdir);
}

static void teardown(void)
{
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = setup, .fini = teardown);

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_store(void)
{
	char err[256] = "";

	cr_assert_eq(store_create(sp, "# conf\n", err, sizeof(err)), 0, "%s", err);
}

Test(store, create_layout)
{
	char p[256], buf[64];
	struct stat st;
	FILE *f;

	make_store();
	cr_assert_eq(stat(sp, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	snprintf(p, sizeof(p), "%s/keys", sp);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	snprintf(p, sizeof(p), "%s/meta", sp);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	for (int i = 0; i < 256; i++) {
		snprintf(p, sizeof(p), "%s/objects/%02x", sp, i);
		cr_assert_eq(stat(p, &st), 0, "%s missing", p);
		cr_assert(S_ISDIR(st.st_mode));
	}
	snprintf(p, sizeof(p), "%s/FORMAT", sp);
	f = fopen(p, "r");
	cr_assert_not_null(f);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f), 15);
	fclose(f);
	cr_assert_str_eq(buf, "wormfs-store 2\n");
	snprintf(p, sizeof(p), "%s/wormfs.conf", sp);
	f = fopen(p, "r");
	cr_assert_not_null(f);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f), 7);
	fclose(f);
	cr_assert_str_eq(buf, "# conf\n");
	/* no temp files left */
	snprintf(p, sizeof(p), "%s/.FORMAT.tmp", sp);
	cr_assert_neq(access(p, F_OK), 0);
}

Test(store, create_in_existing_empty_dir_fixes_mode)
{
	struct stat st;
	char err[256] = "";

	cr_assert_eq(mkdir(sp, 0755), 0);
	cr_assert_eq(store_create(sp, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(sp, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
}

Test(store, create_refuses_non_empty)
{
	char p[256], err[256] = "";

	cr_assert_eq(mkdir(sp, 0755), 0);
	snprintf(p, sizeof(p), "%s/precious", sp);
	write_text(p, "data");
	cr_assert_eq(store_create(sp, "x", err, sizeof(err)), -ENOTEMPTY);
	cr_assert_not_null(strstr(err, "is not empty"), "err: %s", err);
	cr_assert_eq(access(p, F_OK), 0, "existing content untouched");
	snprintf(p, sizeof(p), "%s/FORMAT", sp);
	cr_assert_neq(access(p, F_OK), 0);
}

Test(store, create_twice_refused)
{
	char err[256] = "";

	make_store();
	cr_assert_eq(store_create(sp, "x", err, sizeof(err)), -ENOTEMPTY);
}

Test(store, create_on_file_refused)
{
	char err[256] = "";

	write_text(sp, "file");
	cr_assert_eq(store_create(sp, NULL, err, sizeof(err)), -ENOTDIR);
}

Test(store, open_and_paths)
{
	store *s = NULL;
	char err[256] = "", rel[256], buf[256], want[256], *real;

	make_store();
	/* a non-canonical path is made absolute */
	snprintf(rel, sizeof(rel), "%s/../store/", sp);
	cr_assert_eq(store_open(rel, &s, err, sizeof(err)), 0, "%s", err);
	real = realpath(sp, NULL);
	cr_assert_str_eq(store_path(s), real);
	cr_assert_eq(store_subpath(s, "meta", buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%s/meta", real);
	cr_assert_str_eq(buf, want);
	cr_assert_eq(store_subpath(s, NULL, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, real);
	cr_assert_eq(store_subpath(s, "meta", buf, 5), -ENAMETOOLONG);
	free(real);
	store_close(s);
	store_close(NULL);
}

Test(store, open_not_a_store)
{
	store *s = (store *)1;
	char err[256] = "", p[256];

	cr_assert_eq(mkdir(sp, 0700), 0);
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), -ENOENT);
	cr_assert_null(s);
	snprintf(p, sizeof(p), "%s is not a wormfs store (no FORMAT file)", sp);
	cr_assert_str_eq(err, p);

	snprintf(p, sizeof(p), "%s/missing", tmpdir);
	cr_assert_eq(store_open(p, &s, err, sizeof(err)), -ENOENT);

	snprintf(p, sizeof(p), "%s/plainfile", tmpdir);
	write_text(p, "x");
	cr_assert_eq(store_open(p, &s, err, sizeof(err)), -ENOTDIR);
	cr_assert_not_null(strstr(err, "is not a wormfs store"), "err: %s", err);
}

Test(store, open_unknown_version)
{
	store *s = NULL;
	char err[256] = "", p[256], want[300];

	make_store();
	snprintf(p, sizeof(p), "%s/FORMAT", sp);
	write_text(p, "wormfs-store 7\n");
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), -EPROTO);
	cr_assert_null(s);
	snprintf(want, sizeof(want),
		 "%s: unknown store format version 7 (this wormfs supports 1 to 2)", sp);
	cr_assert_str_eq(err, want);
}

Test(store, open_damaged_format)
{
	static const char *const bad[] = {
		"", "wormfs-store\n", "wormfs-store 1", "wormfs-store 1\nx",
		"wormfs-store x\n", "other-store 1\n", "wormfs-store 99999999999\n",
		"wormfs-store -1\n",
	};
	store *s = NULL;
	char err[256] = "", p[256];

	make_store();
	snprintf(p, sizeof(p), "%s/FORMAT", sp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(p, bad[i]);
		cr_assert_eq(store_open(sp, &s, err, sizeof(err)), -EBADMSG,
			     "'%s' accepted", bad[i]);
		cr_assert_not_null(strstr(err, "FORMAT"), "err: %s", err);
	}
	write_text(p, "wormfs-store 2\n");
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
}

/* Format 1 (before inline objects) still opens; store_set_format moves
 * the marker on (ns_open does it at the first writable open). */
Test(store, oldest_format_opens_and_is_upgraded)
{
	store *s = NULL;
	char err[256] = "", p[256], buf[64] = "";
	FILE *f;

	make_store();
	snprintf(p, sizeof(p), "%s/FORMAT", sp);
	write_text(p, "wormfs-store 1\n");
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_format(s), 1);
	cr_assert_eq(store_set_format(s, STORE_FORMAT_VERSION), 0);
	cr_assert_eq(store_format(s), 2);
	store_close(s);
	f = fopen(p, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f), 15);
	fclose(f);
	cr_assert_str_eq(buf, "wormfs-store 2\n");
	write_text(p, "wormfs-store 0\n");
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), -EPROTO);
}

Test(store, lock_contention)
{
	store *a = NULL, *b = NULL;
	char err[256] = "", p[256];
	struct stat st;

	make_store();
	cr_assert_eq(store_open(sp, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_open(sp, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lock(a, 1), 0);
	snprintf(p, sizeof(p), "%s/run.lock", sp);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(store_lock(b, 1), -EBUSY);
	cr_assert_eq(store_lock(b, 0), -EBUSY);
	store_close(a);   /* releases */
	cr_assert_eq(store_lock(b, 0), 0, "shared after release");
	cr_assert_eq(store_open(sp, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lock(a, 0), 0, "two shared holders");
	cr_assert_eq(store_lock(a, 1), -EBUSY, "exclusive while shared elsewhere");
	store_close(b);
	cr_assert_eq(store_lock(a, 1), 0, "upgrade once alone");
	store_close(a);
}

Test(store, objid_unique_and_hex)
{
	uint8_t a[STORE_OBJID_BYTES], b[STORE_OBJID_BYTES], c[STORE_OBJID_BYTES];
	char hex[STORE_OBJID_HEX + 1];
	static const uint8_t fixed[STORE_OBJID_BYTES] = {
		0x00, 0x01, 0xab, 0xff, 0x10, 0x20, 0x30, 0x40,
		0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0 };

	store_objid_new(a);
	store_objid_new(b);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
	store_objid_hex(fixed, hex);
	cr_assert_str_eq(hex, "0001abff102030405060708090a0b0c0");
	cr_assert_eq(store_objid_parse(hex, c), 0);
	cr_assert_eq(memcmp(c, fixed, sizeof(c)), 0);
	cr_assert_eq(store_objid_parse("0001ABFF102030405060708090a0b0c0", c), -EINVAL);
	cr_assert_eq(store_objid_parse("0001abff102030405060708090a0b0c", c), -EINVAL);
	cr_assert_eq(store_objid_parse("0001abff102030405060708090a0b0c00", c), -EINVAL);
	cr_assert_eq(store_objid_parse("0001abff102030405060708090a0b0cg", c), -EINVAL);
}

struct walk {
	int nids, nother;
	uint8_t ids[8][STORE_OBJID_BYTES];
	char other[8][64];
};

static int walk_cb(void *arg, const uint8_t *id, const char *name)
{
	struct walk *w = arg;

	if (id) {
		if (w->nids < 8)
			memcpy(w->ids[w->nids], id, STORE_OBJID_BYTES);
		w->nids++;
	} else {
		if (w->nother < 8)
			snprintf(w->other[w->nother], 64, "%s", name);
		w->nother++;
	}
	return 0;
}

static int stop_cb(void *arg, const uint8_t *id, const char *name)
{
	(void)id;
	(void)name;
	++*(int *)arg;
	return 42;
}

Test(store, objects_open_unlink_foreach)
{
	store *s = NULL;
	char err[256] = "", hex[STORE_OBJID_HEX + 1], p[256];
	uint8_t ids[3][STORE_OBJID_BYTES];
	struct walk w;
	struct stat st;
	int fd, calls = 0;

	make_store();
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 3; i++) {
		store_objid_new(ids[i]);
		cr_assert_eq(store_obj_open(s, ids[i], O_WRONLY | O_CREAT | O_EXCL, &fd), 0);
		cr_assert_eq(write(fd, "abc", 3), 3);
		close(fd);
		cr_assert_eq(store_obj_syncdir(s, ids[i]), 0);
	}
	/* file name and mode */
	store_objid_hex(ids[0], hex);
	snprintf(p, sizeof(p), "%s/objects/%.2s/%s", sp, hex, hex);
	cr_assert_eq(stat(p, &st), 0, "%s", p);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(store_obj_open(s, ids[0], O_WRONLY | O_CREAT | O_EXCL, &fd), -EEXIST);
	cr_assert_eq(store_obj_open(s, ids[1], O_RDONLY, &fd), 0);
	close(fd);

	/* a stray file and a misplaced id are reported without an id */
	snprintf(p, sizeof(p), "%s/objects/7f/junk.tmp", sp);
	write_text(p, "x");
	snprintf(p, sizeof(p), "%s/objects/%s/%s", sp,
		 hex[0] == '0' && hex[1] == '0' ? "01" : "00", hex);
	write_text(p, "x");

	memset(&w, 0, sizeof(w));
	cr_assert_eq(store_obj_foreach(s, walk_cb, &w), 0);
	cr_assert_eq(w.nids, 3);
	cr_assert_eq(w.nother, 2);
	for (int i = 0; i < 3; i++) {
		int found = 0;

		for (int j = 0; j < 3; j++)
			found |= memcmp(w.ids[j], ids[i], STORE_OBJID_BYTES) == 0;
		cr_assert(found, "id %d not reported", i);
	}
	cr_assert(strcmp(w.other[0], "7f/junk.tmp") == 0 ||
		  strcmp(w.other[1], "7f/junk.tmp") == 0);

	cr_assert_eq(store_obj_foreach(s, stop_cb, &calls), 42);
	cr_assert_eq(calls, 1);

	cr_assert_eq(store_obj_unlink(s, ids[0]), 0);
	cr_assert_eq(store_obj_unlink(s, ids[0]), -ENOENT);
	cr_assert_eq(store_obj_open(s, ids[0], O_RDONLY, &fd), -ENOENT);
	memset(&w, 0, sizeof(w));
	cr_assert_eq(store_obj_foreach(s, walk_cb, &w), 0);
	cr_assert_eq(w.nids, 2);
	store_close(s);
}

Test(store, statfs)
{
	store *s = NULL;
	char err[256] = "";
	struct statvfs st;

	make_store();
	cr_assert_eq(store_open(sp, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_statfs(s, &st), 0);
	cr_assert_gt(st.f_bsize, 0);
	store_close(s);
}
