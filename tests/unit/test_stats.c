/* Unit tests for stats: counting and the Prometheus rendering. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

static char out[16384];

static void has_line(const char *text, const char *line)
{
	char want[256];

	/* whole lines only, so "x 1" does not match "x 10" */
	snprintf(want, sizeof(want), "\n%s\n", line);
	cr_assert_not_null(strstr(text, want), "missing line '%s' in:\n%s", line, text);
}

Test(stats, op_names)
{
	cr_assert_str_eq(stats_op_name(SOP_LOOKUP), "lookup");
	cr_assert_str_eq(stats_op_name(SOP_GETATTR), "getattr");
	cr_assert_str_eq(stats_op_name(SOP_REMOVEXATTR), "removexattr");
	cr_assert_str_eq(stats_op_name(SOP_FALLOCATE), "fallocate");
	cr_assert_str_eq(stats_op_name(SOP_OTHER), "other");
	cr_assert_str_eq(stats_op_name(SOP__COUNT), "other");
	cr_assert_str_eq(stats_op_name((enum stats_op)-1), "other");
	for (int i = 0; i < SOP__COUNT; i++) {
		const char *n = stats_op_name((enum stats_op)i);

		cr_assert_not_null(n);
		for (const char *p = n; *p; p++)
			cr_assert((*p >= 'a' && *p <= 'z'), "op %d name '%s'", i, n);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(n, stats_op_name((enum stats_op)j));
	}
}

Test(stats, render_counts)
{
	struct stats s;
	struct kms_stats k;
	int n;

	stats_init(&s);
	for (int i = 0; i < 3; i++)
		stats_op(&s, SOP_WRITE);
	stats_op(&s, SOP_LOOKUP);
	stats_op(&s, SOP__COUNT);   /* out of range counts as other */
	stats_refusal(&s, SOP_UNLINK);
	stats_refusal(&s, SOP_UNLINK);
	stats_lock_change(&s);
	stats_auth_failure(&s);
	stats_auth_failure(&s);
	stats_add_read(&s, 4096);
	stats_add_written(&s, 12345);
	stats_add_written(&s, 5);

	memset(&k, 0, sizeof(k));
	k.cls[KMS_CLASS_CRYPTO].requests = 100;
	k.cls[KMS_CLASS_CRYPTO].throttled = 7;
	k.cls[KMS_CLASS_CRYPTO].wait_ns = 1500000000ull;
	k.cls[KMS_CLASS_MGMT].requests = 2;
	k.cls[KMS_CLASS_MGMT].wait_ns = 5;
	k.cache_hits = 40;
	k.cache_misses = 60;

	n = stats_render(&s, &k, 1700000000, out, sizeof(out));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(out));
	cr_assert_eq(out[n - 1], '\n');
	cr_assert_eq(strncmp(out, "# HELP wormfs_operations_total ", 31), 0);
	has_line(out, "# TYPE wormfs_operations_total counter");
	has_line(out, "wormfs_operations_total{op=\"write\"} 3");
	has_line(out, "wormfs_operations_total{op=\"lookup\"} 1");
	has_line(out, "wormfs_operations_total{op=\"other\"} 1");
	has_line(out, "wormfs_operations_total{op=\"read\"} 0");
	has_line(out, "# TYPE wormfs_refusals_total counter");
	has_line(out, "wormfs_refusals_total{op=\"unlink\"} 2");
	has_line(out, "wormfs_refusals_total{op=\"write\"} 0");
	has_line(out, "# TYPE wormfs_lock_changes_total counter");
	has_line(out, "wormfs_lock_changes_total 1");
	has_line(out, "wormfs_auth_failures_total 2");
	has_line(out, "wormfs_bytes_read_total 4096");
	has_line(out, "wormfs_bytes_written_total 12350");
	has_line(out, "# TYPE wormfs_kms_requests_total counter");
	has_line(out, "wormfs_kms_requests_total{class=\"cryptographic\"} 100");
	has_line(out, "wormfs_kms_requests_total{class=\"management\"} 2");
	has_line(out, "wormfs_kms_throttled_total{class=\"cryptographic\"} 7");
	has_line(out, "wormfs_kms_throttled_total{class=\"management\"} 0");
	has_line(out, "wormfs_kms_wait_seconds_total{class=\"cryptographic\"} 1.500000000");
	has_line(out, "wormfs_kms_wait_seconds_total{class=\"management\"} 0.000000005");
	has_line(out, "wormfs_dek_cache_hits_total 40");
	has_line(out, "wormfs_dek_cache_misses_total 60");
	has_line(out, "# TYPE wormfs_compliance_clock_seconds gauge");
	has_line(out, "wormfs_compliance_clock_seconds 1700000000");
	/* No implementation named, nothing measured: no crypto lines. */
	cr_assert_null(strstr(out, "wormfs_crypto_impl"));

	k.crypto_impl = "openssl";
	k.crypto_impl_by = "auto";
	k.crypto_sodium_mbps = 1400;
	k.crypto_openssl_mbps = 3900;
	n = stats_render(&s, &k, 1700000000, out, sizeof(out));
	cr_assert_gt(n, 0);
	has_line(out, "# TYPE wormfs_crypto_impl_info gauge");
	has_line(out, "wormfs_crypto_impl_info{impl=\"openssl\",chosen_by=\"auto\"} 1");
	has_line(out, "# TYPE wormfs_crypto_impl_measured_mbps gauge");
	has_line(out, "wormfs_crypto_impl_measured_mbps{impl=\"sodium\"} 1400");
	has_line(out, "wormfs_crypto_impl_measured_mbps{impl=\"openssl\"} 3900");
	k.crypto_impl = "sodium";
	k.crypto_impl_by = "config";
	k.crypto_sodium_mbps = k.crypto_openssl_mbps = 0;
	n = stats_render(&s, &k, 1700000000, out, sizeof(out));
	cr_assert_gt(n, 0);
	has_line(out, "wormfs_crypto_impl_info{impl=\"sodium\",chosen_by=\"config\"} 1");
	cr_assert_null(strstr(out, "wormfs_crypto_impl_measured_mbps"));
}

/* Every sample line belongs to a metric announced by # HELP and # TYPE
 * before it (the exposition format requires it). */
Test(stats, format_well_formed)
{
	struct stats s;
	struct kms_stats k;
	char copy[sizeof(out)], *save = NULL, typed[64][64];
	int ntyped = 0, samples = 0;

	stats_init(&s);
	memset(&k, 0, sizeof(k));
	cr_assert_gt(stats_render(&s, &k, 0, out, sizeof(out)), 0);
	strcpy(copy, out);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		int found = 0;

		if (strncmp(l, "# HELP ", 7) == 0)
			continue;
		if (strncmp(l, "# TYPE ", 7) == 0) {
			cr_assert_lt(ntyped, 64);
			cr_assert_eq(sscanf(l + 7, "%63s", typed[ntyped]), 1);
			cr_assert(strstr(l, " counter") || strstr(l, " gauge"), "%s", l);
			ntyped++;
			continue;
		}
		cr_assert_eq(sscanf(l, "%63[a-z0-9_]", name), 1, "bad line '%s'", l);
		for (int i = 0; i < ntyped; i++)
			found |= strcmp(typed[i], name) == 0;
		cr_assert(found, "sample '%s' before its # TYPE", l);
		samples++;
	}
	cr_assert_eq(samples, 2 * SOP__COUNT + SREQ__COUNT + 4 + 3 * KMS_CLASS__COUNT + 2 + 1 +
		     3 /* S3 requests, errors 4xx and 5xx */);
}

/* FUSE requests are counted by kernel opcode, apart from the ns-level
 * operation counters; an out-of-range opcode is ignored. */
Test(stats, fuse_requests)
{
	struct stats s;

	stats_init(&s);
	stats_fuse_req(&s, SREQ_FLUSH);
	stats_fuse_req(&s, SREQ_FLUSH);
	stats_fuse_req(&s, SREQ_GETXATTR);
	stats_fuse_req(&s, SREQ__COUNT);
	stats_fuse_req(&s, (enum stats_req)-1);
	cr_assert_gt(stats_render(&s, NULL, 0, out, sizeof(out)), 0);
	has_line(out, "# TYPE wormfs_fuse_requests_total counter");
	has_line(out, "wormfs_fuse_requests_total{op=\"FLUSH\"} 2");
	has_line(out, "wormfs_fuse_requests_total{op=\"GETXATTR\"} 1");
	has_line(out, "wormfs_fuse_requests_total{op=\"LOOKUP\"} 0");
	has_line(out, "wormfs_operations_total{op=\"other\"} 0");
	cr_assert_str_eq(stats_req_name(SREQ_READDIRPLUS), "READDIRPLUS");
	cr_assert_str_eq(stats_req_name(SREQ__COUNT), "?");
	for (int i = 0; i < SREQ__COUNT; i++)
		cr_assert_not_null(stats_req_name((enum stats_req)i), "name of %d", i);
}

Test(stats, render_without_kms)
{
	struct stats s;
	int n;

	stats_init(&s);
	n = stats_render(&s, NULL, -5, out, sizeof(out));
	cr_assert_gt(n, 0);
	cr_assert_null(strstr(out, "wormfs_kms_"));
	cr_assert_null(strstr(out, "wormfs_dek_cache"));
	has_line(out, "wormfs_compliance_clock_seconds -5");
}

Test(stats, render_too_small)
{
	struct stats s;
	char small[100];
	int full;

	stats_init(&s);
	full = stats_render(&s, NULL, 1, out, sizeof(out));
	cr_assert_gt(full, 100);
	memset(small, 'x', sizeof(small));
	cr_assert_eq(stats_render(&s, NULL, 1, small, sizeof(small)), -ERANGE);
	cr_assert_eq(small[sizeof(small) - 1], '\0');
	cr_assert_eq(strncmp(small, out, sizeof(small) - 1), 0, "truncated prefix");
	cr_assert_eq(stats_render(&s, NULL, 1, small, 0), -ERANGE);
	/* exactly enough room */
	cr_assert_eq(stats_render(&s, NULL, 1, out, (size_t)full + 1), full);
	cr_assert_eq(stats_render(&s, NULL, 1, out, (size_t)full), -ERANGE);
}

static void *bump(void *arg)
{
	struct stats *s = arg;

	for (int i = 0; i < 100000; i++) {
		stats_op(s, SOP_READ);
		stats_add_read(s, 2);
	}
	return NULL;
}

Test(stats, concurrent_counting)
{
	struct stats s;
	pthread_t t[4];

	stats_init(&s);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, bump, &s), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&s.ops[SOP_READ]), 400000);
	cr_assert_eq(atomic_load(&s.bytes_read), 800000);
}
