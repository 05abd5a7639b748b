/* fuzz_policy: the lock attribute values a caller writes through
 * setxattr (user.worm.retention, legal-hold, default-retention,
 * lock-config) and their common framing (src/policy.c). Every parser gets
 * the same bytes, exactly len of them (no NUL added: a read past the value
 * is an ASan report). What parses must format and parse back to the same
 * value; a mismatch aborts (a fuzzer finding). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define NOW 1700000000   /* 2023-11-14: a fixed compliance time */

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void retention(const char *v, size_t len, int64_t now)
{
	int mode = 0, mode2 = 0;
	int64_t until = 0, until2 = 0;
	char buf[128];

	if (policy_parse_retention(v, len, now, &mode, &until))
		return;
	CHECK(mode == WORM_GOVERNANCE || mode == WORM_COMPLIANCE);
	/* Shown as getfattr shows it, then written back: same lock. */
	if (policy_format_retention(mode, until, buf, sizeof(buf)) == 0) {
		CHECK(policy_parse_retention(buf, strlen(buf), now, &mode2, &until2) == 0);
		CHECK(mode2 == mode && until2 == until);
	}
	/* The range rules must take any parsed date without UB. */
	struct policy_rules r;
	struct policy_lock cur = { 0 };
	struct policy_retention_req req = { 0, mode, until };
	struct policy_caller c = { 0, 0, NULL, 0 };
	const char *rule = NULL;
	policy_rules_default(&r);
	(void)policy_retention_change(&r, &c, &cur, &req, 0, 1, 0, now, &rule);
}

static void def_retention(const char *v, size_t len)
{
	struct policy_default d, d2;
	char buf[64];

	if (policy_parse_default(v, len, &d))
		return;
	CHECK(d.mode == WORM_GOVERNANCE || d.mode == WORM_COMPLIANCE);
	CHECK(d.days >= 1 && d.days <= 36500);
	CHECK(policy_format_default(&d, buf, sizeof(buf)) == 0);
	CHECK(policy_parse_default(buf, strlen(buf), &d2) == 0);
	CHECK(d2.mode == d.mode && d2.days == d.days);
}

static void lock_config(const char *v, size_t len)
{
	struct policy_default d = { WORM_COMPLIANCE, 30, 0 };
	struct policy_bucket_lock b = { 0 };
	struct policy_caller c = { 0, 0, NULL, 0 };
	char id[POLICY_LOCKID_LEN + 1], buf[128];
	const char *rule = NULL;
	int req = 0;

	memset(id, 'x', sizeof(id));
	if (policy_parse_bucket_lock_req(v, len, &req, id))
		return;
	CHECK(req == BREQ_START || req == BREQ_COMPLETE || req == BREQ_ABORT);
	if (req == BREQ_COMPLETE)
		CHECK(memchr(id, '\0', sizeof(id)) != NULL);
	/* Run it against an in-progress lock, as the daemon would. */
	CHECK(policy_bucket_lock_start(&b, &d, "0123456789abcdef", NOW) == 0);
	(void)policy_bucket_lock_request(&c, 1, &b, &d, req,
					 req == BREQ_START ? "fedcba9876543210" : id, NOW + 1, &rule);
	CHECK(policy_format_bucket_lock(&b, NOW + 2, buf, sizeof(buf)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data, *f;
	size_t flen;
	int hold;

	if (policy_value_frame(v, size, &f, &flen) == 0) {
		CHECK(flen >= 1 && flen <= size);
		CHECK(f >= v && f + flen <= v + size);
	}
	if (policy_parse_hold(v, size, &hold) == 0)
		CHECK(hold == HOLD_ON || hold == HOLD_OFF);
	retention(v, size, NOW);
	/* A relative date near the ends of the clock. */
	retention(v, size, INT64_MAX - 1000);
	retention(v, size, INT64_MIN + 1000);
	def_retention(v, size);
	lock_config(v, size);
	return 0;
}
