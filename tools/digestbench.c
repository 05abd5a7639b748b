/* digestbench: cost of the metadata state digest (README, Tamper evidence).
 *
 *   digestbench DIR N [INLINE_BYTES]
 *
 * In an empty directory DIR: N objects as the namespace stores them (a
 * node record, a directory entry and its readdir cookie, optionally an
 * inline value of INLINE_BYTES), written with the digest kept, 1,000 per
 * transaction. Then prints: the full scan that a writable mount and
 * wormctl verify make (records, ms), and the cost per write transaction
 * of one node update with and without the digest kept (median and p90,
 * µs; no sync, as the daemon commits). Times are wall clock and CPU
 * (user + system: what the scan costs on a machine shared with other
 * jobs). A DIR that holds objects already is only measured. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "benchutil.h"
#include "clock.h"
#include "crypto.h"
#include "meta.h"

static uint8_t key[32];
static wcrypto_mackey *mk;

static int hash_fn(void *arg, const void *hdr, size_t hlen, const void *val, size_t vlen,
		   uint8_t out[META_DIGEST_BYTES])
{
	(void)arg;
	return wcrypto_mac2_k(out, mk, hdr, hlen, val, vlen);
}

static int mac_fn(void *arg, const void *msg, size_t len, uint8_t mac[META_MAC_BYTES], int check)
{
	uint8_t m[32];
	(void)arg;
	if (wcrypto_mac(m, key, msg, len))
		return -EIO;
	if (!check) {
		memcpy(mac, m, 32);
		return 0;
	}
	return memcmp(m, mac, 32) ? -EBADMSG : 0;
}

static int64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void upd(meta_env *e, int64_t *t, int n, uint64_t ino)
{
	struct meta_node nd;
	meta_txn *x = NULL;

	for (int i = 0; i < n; i++) {
		int64_t t0 = clock_monotonic_ns();
		if (meta_txn_begin(e, 0, &x) || meta_node_get(x, ino, &nd))
			exit(1);
		nd.mtime_ns = i;
		if (meta_node_put(x, &nd) || meta_txn_commit(x))
			exit(1);
		t[i] = clock_monotonic_ns() - t0;
	}
}

int main(int argc, char **argv)
{
	char err[256] = "", name[32];
	long n = argc > 2 ? atol(argv[2]) : 0, inl = argc > 3 ? atol(argv[3]) : 0;
	uint8_t *ibuf, sum[META_DIGEST_BYTES];
	meta_env *e = NULL;
	meta_txn *t = NULL;
	struct meta_node nd;
	uint64_t recs = 0;
	int64_t tm[2000];

	if (argc < 3 || n < 1 || inl < 0 || inl > 65536) {
		fprintf(stderr, "usage: digestbench DIR N [INLINE_BYTES]\n");
		return 2;
	}
	if (wcrypto_init() || meta_open(argv[1], 0, &e, err, sizeof(err))) {
		fprintf(stderr, "digestbench: %s\n", err);
		return 1;
	}
	memset(key, 3, sizeof(key));
	if (!(mk = wcrypto_mackey_new(key)))
		return 1;
	meta_set_auth(e, mac_fn, NULL, 1);
	meta_set_digest(e, hash_fn, NULL);
	ibuf = calloc(1, inl ? (size_t)inl : 1);
	memset(&nd, 0, sizeof(nd));
	nd.version = META_NODE_VERSION;
	nd.ino = nd.parent = META_ROOT_INO;
	nd.mode = S_IFDIR | 0755;
	nd.nlink = 2;
	nd.next_cookie = META_FIRST_COOKIE;
	uint64_t have = 0;
	if (!ibuf || meta_txn_begin(e, 1, &t) || meta_node_count(t, &have))
		return 1;
	meta_txn_abort(t);
	if (have > 1)
		n = 0;   /* made before: measure only */
	else if (meta_txn_begin(e, 0, &t) || meta_node_put(t, &nd) ||
		 meta_digest_seal(t, NULL) || meta_txn_commit(t))
		return 1;
	for (long i = 0; i < n; i += 1000) {
		if (meta_txn_begin(e, 0, &t))
			return 1;
		for (long j = i; j < n && j < i + 1000; j++) {
			uint64_t ino = 0;
			if (meta_ino_alloc(t, &ino))
				return 1;
			nd.ino = ino;
			nd.mode = S_IFREG | 0644;
			nd.nlink = 1;
			nd.parent = META_ROOT_INO;
			snprintf(name, sizeof(name), "f%07ld", j);
			if (meta_node_add(t, &nd) || meta_dirent_add(t, META_ROOT_INO, name, ino))
				return 1;
			if (inl && meta_inline_put(t, ino, ibuf, (size_t)inl))
				return 1;
		}
		if (meta_txn_commit(t))
			return 1;
	}
	if (meta_sync(e))
		return 1;
	for (int r = 0; r < 2; r++) {
		int64_t t0 = clock_monotonic_ns(), c0 = cpu_ns();
		if (meta_txn_begin(e, 1, &t) || meta_digest_scan(t, sum, &recs))
			return 1;
		meta_txn_abort(t);
		printf("full scan (mount, verify) %s: %llu records in %.0f ms wall, %.0f ms CPU\n",
		       r ? "again" : "first", (unsigned long long)recs,
		       (clock_monotonic_ns() - t0) / 1e6, (cpu_ns() - c0) / 1e6);
	}
	upd(e, tm, 2000, META_FIRST_INO + 1);
	bench_report_ns("write txn, one node update, digest kept", 44, 7, tm, 2000);
	meta_set_digest(e, NULL, NULL);
	upd(e, tm, 2000, META_FIRST_INO + 1);
	bench_report_ns("write txn, one node update, no digest", 44, 7, tm, 2000);
	meta_close(e);
	free(ibuf);
	return 0;
}
