/* headbench: cost of the store head (README, Tamper evidence).
 *
 *   headbench STORE [N]
 *
 * On an unmounted store (it is changed: N audit records are added):
 * head_next (MAC + Ed25519 signature) alone, head_file_write (one slot
 * overwritten + fdatasync) alone, and a whole checkpoint with a change
 * (ns_audit_note: an audit record and a head in one transaction, the
 * meta sync, STORE/head). Prints the median and p90 of each in µs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "clock.h"
#include "config.h"
#include "crypto.h"
#include "head.h"
#include "log.h"
#include "trail.h"

int main(int argc, char **argv)
{
	struct cfg cfg;
	struct head_keys k;
	struct head_state st;
	struct whead h, prev;
	uint8_t key[32];
	char err[512] = "", path[4200];
	ns *n = NULL;
	int cnt = argc > 2 ? atoi(argv[2]) : 200;

	if (argc < 2 || cnt < 10) {
		fprintf(stderr, "usage: headbench STORE [N >= 10]\n");
		return 2;
	}
	int64_t *t = calloc((size_t)cnt, sizeof(*t));
	wlog_init(0, WLOG_WARN);
	if (!t || wcrypto_init())
		return 1;
	memset(key, 7, sizeof(key));
	memset(&st, 0, sizeof(st));
	if (head_keys_derive(key, &k))
		return 1;
	memset(&prev, 0, sizeof(prev));
	for (int i = 0; i < cnt; i++) {
		int64_t t0 = clock_monotonic_ns();
		if (head_next(i ? &prev : NULL, &st, 1, &k, &h))
			return 1;
		t[i] = clock_monotonic_ns() - t0;
		prev = h;
	}
	bench_report_ns("head_next (MAC + Ed25519 sign)", 40, 8, t, cnt);
	snprintf(path, sizeof(path), "%s/headbench.tmp", argv[1]);
	for (int i = 0; i < cnt; i++) {
		h.seq = (uint64_t)i + 1;
		int64_t t0 = clock_monotonic_ns();
		if (head_file_write(path, &h))
			return 1;
		t[i] = clock_monotonic_ns() - t0;
	}
	unlink(path);
	bench_report_ns("head_file_write (slot + fdatasync)", 40, 8, t, cnt);
	head_keys_free(&k);
	cfg_defaults(&cfg);
	snprintf(path, sizeof(path), "%s/wormfs.conf", argv[1]);
	int rc = cfg_load(&cfg, path, err, sizeof(err));
	if ((rc < 0 && rc != -ENOENT) || cfg_finish(&cfg, err, sizeof(err)) < 0 ||
	    ns_open(argv[1], &cfg, NS_OFFLINE, &n, err, sizeof(err))) {
		fprintf(stderr, "headbench: %s\n", err);
		return 1;
	}
	for (int i = 0; i < cnt; i++) {
		int64_t t0 = clock_monotonic_ns();
		if (ns_audit_note(n, "bench", "op=checkpoint")) {
			ns_close(n);
			return 1;
		}
		t[i] = clock_monotonic_ns() - t0;
	}
	bench_report_ns("checkpoint: record + head + sync + file", 40, 8, t, cnt);
	ns_close(n);
	free(t);
	return 0;
}
