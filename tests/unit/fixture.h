/* fixture.h: setup shared by unit tests, header only (each test program
 * includes it once):
 *   - fixture_rmtree: remove a scratch directory (no shell);
 *   - fixture_mac, fixture_hash: the keyed record MAC and per-record hash
 *     that meta tests hand to meta_set_auth and meta_set_digest (arg: the
 *     32-byte key, read at each call, so a test can change it);
 *   - fixture_ns_setup, fixture_ns_teardown: a new store in dir/s (its
 *     path in spath) opened through the namespace engine as N with the
 *     default configuration C, and removed at the end. Usable directly as
 *     a TestSuite's .init and .fini; a test may reopen spath with C;
 *   - fixture_mkdir: a directory (0755) made in N by root. */
#ifndef WORMFS_TEST_FIXTURE_H
#define WORMFS_TEST_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "meta.h"
#include "ns.h"

static inline int fixture_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* 0, or nftw's failure (a file that could not be removed). */
static inline int fixture_rmtree(const char *dir)
{
	return nftw(dir, fixture_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static inline int fixture_hash(void *key, const void *hdr, size_t hlen, const void *val,
			       size_t vlen, uint8_t out[META_DIGEST_BYTES])
{
	return wcrypto_mac2(out, key, hdr, hlen, val, vlen);
}

/* meta_auth_fn: write the MAC (check 0) or compare it (check 1). */
static inline int fixture_mac(void *key, const void *msg, size_t len,
			      uint8_t mac[META_MAC_BYTES], int check)
{
	uint8_t m[32];

	if (wcrypto_mac(m, key, msg, len))
		return -EIO;
	if (!check) {
		memcpy(mac, m, 32);
		return 0;
	}
	return memcmp(m, mac, 32) ? -EBADMSG : 0;
}

static char dir[256], spath[300];
static ns *N;
static struct cfg C;

static inline void fixture_ns_setup(void)
{
	char err[512] = "";

	/* Named for the test program, so a leftover says whose it is. */
	snprintf(dir, sizeof(dir), "/tmp/wormfs-%s-XXXXXX", program_invocation_short_name);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	cr_assert_eq(ns_store_init(spath, NULL, err, sizeof(err)), 0, "%s", err);
	cfg_defaults(&C);
	cr_assert_eq(cfg_finish(&C, err, sizeof(err)), 0);
	cr_assert_eq(ns_open(spath, &C, 0, &N, err, sizeof(err)), 0, "%s", err);
}

static inline uint64_t fixture_mkdir(uint64_t parent, const char *name)
{
	static const struct ns_caller root = { 0, 0, 1, 022, NULL, 0, NULL, 0 };
	struct ns_attr a;

	cr_assert_eq(ns_mkdir(N, &root, parent, name, 0755, &a), 0);
	return a.ino;
}

static inline void fixture_ns_teardown(void)
{
	ns_close(N);
	N = NULL;
	cr_assert_eq(fixture_rmtree(dir), 0);
}

#endif
