/* Unit tests for config: defaults, every key, errors with file:line, atomic
 * loads, -o overrides, and the default text. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"

static char tmpdir[64];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/wormfs-cfg-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/wormfs.conf", tmpdir);
	unlink(p);
	rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Field-wise comparison (memcmp would also compare struct padding). */
static int plist_eq(const struct policy_plist *a, const struct policy_plist *b)
{
	return a->nuids == b->nuids && a->ngids == b->ngids &&
	       memcmp(a->uids, b->uids, a->nuids * sizeof(a->uids[0])) == 0 &&
	       memcmp(a->gids, b->gids, a->ngids * sizeof(a->gids[0])) == 0;
}

static int cfg_eq(const struct cfg *a, const struct cfg *b)
{
	return plist_eq(&a->rules.bypass, &b->rules.bypass) &&
	       plist_eq(&a->rules.hold, &b->rules.hold) &&
	       a->kms.crypto_rate == b->kms.crypto_rate &&
	       a->kms.crypto_burst == b->kms.crypto_burst &&
	       a->kms.mgmt_rate == b->kms.mgmt_rate &&
	       a->kms.mgmt_burst == b->kms.mgmt_burst &&
	       a->kms.throttle == b->kms.throttle &&
	       a->kms.max_wait_ms == b->kms.max_wait_ms &&
	       a->kms.cache_entries == b->kms.cache_entries &&
	       a->kms.cache_ttl_s == b->kms.cache_ttl_s &&
	       a->kms.crypto_impl == b->kms.crypto_impl &&
	       a->max_threads == b->max_threads &&
	       a->attr_timeout == b->attr_timeout &&
	       a->sync_interval_ms == b->sync_interval_ms &&
	       a->log_level == b->log_level &&
	       strcmp(a->passphrase_file, b->passphrase_file) == 0;
}

/* Write text to tmpdir/wormfs.conf; returns its path (static buffer). */
static const char *write_conf(const char *text)
{
	static char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/wormfs.conf", tmpdir);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static int load_text(struct cfg *c, const char *text, char *err, size_t len)
{
	return cfg_load(c, write_conf(text), err, len);
}

Test(config, defaults)
{
	struct cfg c;
	char err[512];

	cfg_defaults(&c);
	cr_assert_eq(c.rules.bypass.nuids, 1);
	cr_assert_eq(c.rules.bypass.uids[0], 0);
	cr_assert_eq(c.rules.bypass.ngids, 0);
	cr_assert_eq(c.rules.hold.nuids, 1);
	cr_assert_eq(c.rules.hold.uids[0], 0);
	cr_assert_eq(c.rules.hold.ngids, 0);
	cr_assert_eq(c.max_threads, 8);
	cr_assert_float_eq(c.attr_timeout, 1.0, 1e-9);
	cr_assert_eq(c.sync_interval_ms, 1000);
	cr_assert_eq(c.log_level, WLOG_INFO);
	cr_assert_str_empty(c.passphrase_file);
	cr_assert_eq(c.kms.crypto_rate, 5000);
	cr_assert_eq(c.kms.crypto_burst, 0);
	cr_assert_eq(c.kms.mgmt_rate, 100);
	cr_assert_eq(c.kms.mgmt_burst, 0);
	cr_assert_eq(c.kms.throttle, KMS_THROTTLE_WAIT);
	cr_assert_eq(c.kms.max_wait_ms, 5000);
	cr_assert_eq(c.kms.cache_entries, 10000);
	cr_assert_eq(c.kms.cache_ttl_s, 300);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_AUTO);
	cr_assert_eq(cfg_finish(&c, err, sizeof(err)), 0);
	cr_assert_eq(c.kms.crypto_burst, 5000);
	cr_assert_eq(c.kms.mgmt_burst, 100);
}

Test(config, finish_burst_follows_overridden_rate)
{
	struct cfg c;
	char err[512];

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "crypto_rate", "42", err, sizeof(err)), 0);
	cr_assert_eq(cfg_set(&c, "kms.management_burst", "7", err, sizeof(err)), 0);
	cr_assert_eq(cfg_finish(&c, err, sizeof(err)), 0);
	cr_assert_eq(c.kms.crypto_burst, 42);
	cr_assert_eq(c.kms.mgmt_rate, 100);
	cr_assert_eq(c.kms.mgmt_burst, 7);
}

Test(config, load_all_keys)
{
	struct cfg c;
	char err[512] = "";
	int rc;

	cfg_defaults(&c);
	rc = load_text(&c,
		"# comment\n"
		"[wormfs]\n"
		"governance_bypass = uid:1000, gid:50 ,uid:1000\n"
		"  legal_hold = uid:7\n"
		"max_threads = 64\n"
		"attr_timeout = 0.25\n"
		"sync_interval_ms = 10\n"
		"passphrase_file = /etc/wormfs/pass\n"
		"log_level = debug\n"
		"crypto_impl = openssl\n"
		"\n"
		"  [kms]\n"
		"crypto_rate = 10000000\n"
		"crypto_burst = 1\n"
		"management_rate = 3\n"
		"management_burst = 4\n"
		"throttle = fail\n"
		"max_wait_ms = 600000\n"
		"dek_cache_entries = 0\n"
		"dek_cache_ttl_s = 86400\n",
		err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.rules.bypass.nuids, 1, "duplicate uid is merged");
	cr_assert_eq(c.rules.bypass.uids[0], 1000);
	cr_assert_eq(c.rules.bypass.ngids, 1);
	cr_assert_eq(c.rules.bypass.gids[0], 50);
	cr_assert_eq(c.rules.hold.nuids, 1);
	cr_assert_eq(c.rules.hold.uids[0], 7);
	cr_assert_eq(c.max_threads, 64);
	cr_assert_float_eq(c.attr_timeout, 0.25, 1e-9);
	cr_assert_eq(c.sync_interval_ms, 10);
	cr_assert_str_eq(c.passphrase_file, "/etc/wormfs/pass");
	cr_assert_eq(c.log_level, WLOG_DEBUG);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_OPENSSL);
	cr_assert_eq(c.kms.crypto_rate, 10000000);
	cr_assert_eq(c.kms.crypto_burst, 1);
	cr_assert_eq(c.kms.mgmt_rate, 3);
	cr_assert_eq(c.kms.mgmt_burst, 4);
	cr_assert_eq(c.kms.throttle, KMS_THROTTLE_FAIL);
	cr_assert_eq(c.kms.max_wait_ms, 600000);
	cr_assert_eq(c.kms.cache_entries, 0);
	cr_assert_eq(c.kms.cache_ttl_s, 86400);
}

struct kv {
	const char *key;
	const char *value;
};

/* Every key with values that must be refused. */
static const struct kv bad_values[] = {
	{ "max_threads", "0" }, { "max_threads", "65" }, { "max_threads", "-1" },
	{ "max_threads", "abc" }, { "max_threads", "5000x" }, { "max_threads", "" },
	{ "max_threads", "99999999999999999999" }, { "max_threads", "8.0" },
	{ "attr_timeout", "-1" }, { "attr_timeout", "3600.5" }, { "attr_timeout", "abc" },
	{ "attr_timeout", "1x" }, { "attr_timeout", "nan" }, { "attr_timeout", "inf" },
	{ "attr_timeout", "1e3" }, { "attr_timeout", "" }, { "attr_timeout", "1.2.3" },
	{ "attr_timeout", "." },
	{ "sync_interval_ms", "9" }, { "sync_interval_ms", "60001" },
	{ "sync_interval_ms", "0" }, { "sync_interval_ms", "-5" },
	{ "sync_interval_ms", "abc" },
	{ "passphrase_file", "" },
	{ "log_level", "verbose" }, { "log_level", "" }, { "log_level", "3" },
	{ "crypto_impl", "fast" }, { "crypto_impl", "" }, { "crypto_impl", "libsodium" },
	{ "crypto_impl", "1" }, { "crypto_impl", "open ssl" }, { "crypto_impl", "openssl,sodium" },
	{ "governance_bypass", "uid:" }, { "governance_bypass", "uid:abc" },
	{ "governance_bypass", "uid:-1" }, { "governance_bypass", "uid:4294967295" },
	{ "governance_bypass", "uid:99999999999999999999" },
	{ "governance_bypass", "user:root" }, { "governance_bypass", "0" },
	{ "governance_bypass", "uid:0,,uid:1" }, { "governance_bypass", "uid:0," },
	{ "legal_hold", "gid:5x" }, { "legal_hold", "group:" },
	{ "crypto_rate", "0" }, { "crypto_rate", "-1" }, { "crypto_rate", "abc" },
	{ "crypto_rate", "5000x" }, { "crypto_rate", "99999999999999999999" },
	{ "crypto_rate", "10000001" }, { "crypto_rate", "18446744073709551615" },
	{ "crypto_rate", "" }, { "crypto_rate", "+5" }, { "crypto_rate", "0x10" },
	{ "crypto_burst", "0" }, { "crypto_burst", "10000001" }, { "crypto_burst", "1.5" },
	{ "management_rate", "0" }, { "management_rate", "-100" },
	{ "management_rate", "99999999999999999999" },
	{ "management_burst", "0" }, { "management_burst", "abc" },
	{ "throttle", "sometimes" }, { "throttle", "" }, { "throttle", "1" },
	{ "max_wait_ms", "-1" }, { "max_wait_ms", "600001" }, { "max_wait_ms", "5s" },
	{ "dek_cache_entries", "10000001" }, { "dek_cache_entries", "-1" },
	{ "dek_cache_entries", "many" },
	{ "dek_cache_ttl_s", "86401" }, { "dek_cache_ttl_s", "-1" },
	{ "dek_cache_ttl_s", "99999999999999999999" },
};

Test(config, set_rejects_bad_values_and_changes_nothing)
{
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		struct cfg c, ref;
		char err[512] = "";

		cfg_defaults(&c);
		ref = c;
		cr_assert_eq(cfg_set(&c, bad_values[i].key, bad_values[i].value,
				     err, sizeof(err)), -EINVAL,
			     "%s=%s accepted", bad_values[i].key, bad_values[i].value);
		cr_assert(cfg_eq(&c, &ref), "%s changed the config",
			     bad_values[i].key);
		cr_assert_not_null(strstr(err, bad_values[i].key), "err: %s", err);
		cr_assert_not_null(strstr(err, "allowed"), "err: %s", err);
	}
}

Test(config, load_rejects_bad_values_with_line)
{
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		struct cfg c, ref;
		char text[256], err[512] = "", want[160];
		const char *sec = strstr("crypto_rate crypto_burst management_rate "
					 "management_burst throttle max_wait_ms "
					 "dek_cache_entries dek_cache_ttl_s",
					 bad_values[i].key) ? "kms" : "wormfs";
		const char *path;

		/* "passphrase_file =" with an empty value is the one that only
		 * makes sense through -o; in a file it is the same rule. */
		snprintf(text, sizeof(text), "[%s]\n\n%s = %s\n", sec,
			 bad_values[i].key, bad_values[i].value);
		cfg_defaults(&c);
		ref = c;
		path = write_conf(text);
		cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL,
			     "%s accepted", text);
		cr_assert(cfg_eq(&c, &ref));
		snprintf(want, sizeof(want), "%s:3: key '%s' in section [%s]", path,
			 bad_values[i].key, sec);
		cr_assert_not_null(strstr(err, want), "err: %s (want %s)", err, want);
		cr_assert_not_null(strstr(err, "allowed"), "err: %s", err);
	}
}

Test(config, valid_boundaries)
{
	static const struct kv good[] = {
		{ "max_threads", "1" }, { "max_threads", " 64 " },
		{ "attr_timeout", "0" }, { "attr_timeout", "3600" },
		{ "attr_timeout", ".5" }, { "attr_timeout", "2." },
		{ "sync_interval_ms", "60000" }, { "log_level", "ERR" },
		{ "log_level", "warn" }, { "throttle", "wait" },
		{ "max_wait_ms", "0" }, { "dek_cache_entries", "10000000" },
		{ "dek_cache_ttl_s", "0" }, { "crypto_rate", "1" },
		{ "management_burst", "10000000" },
		{ "governance_bypass", "" }, { "legal_hold", "  " },
		{ "legal_hold", "uid : 5 , gid:6" },
		{ "crypto_impl", "openssl" }, { "crypto_impl", " Sodium " },
		{ "crypto_impl", "AUTO" },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cfg c;
		char err[512] = "";

		cfg_defaults(&c);
		cr_assert_eq(cfg_set(&c, good[i].key, good[i].value, err, sizeof(err)),
			     0, "%s=%s: %s", good[i].key, good[i].value, err);
	}
}

Test(config, empty_list_means_nobody)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(load_text(&c, "[wormfs]\ngovernance_bypass =\n", err,
			       sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.rules.bypass.nuids, 0);
	cr_assert_eq(c.rules.bypass.ngids, 0);
	cr_assert_eq(c.rules.hold.nuids, 1, "other list untouched");
}

Test(config, group_resolution)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "legal_hold", "group:root, uid:12", err,
			     sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.rules.hold.ngids, 1);
	cr_assert_eq(c.rules.hold.gids[0], 0);
	cr_assert_eq(c.rules.hold.nuids, 1);
	cr_assert_eq(c.rules.hold.uids[0], 12);
}

Test(config, unknown_group_is_error)
{
	struct cfg c, ref;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	ref = c;
	path = write_conf("[wormfs]\n# admins\ngovernance_bypass = uid:0, "
			  "group:no-such-group-wormfs\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: key 'governance_bypass'", path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
	cr_assert_not_null(strstr(err, "unknown group 'no-such-group-wormfs'"),
			   "err: %s", err);
	cr_assert(cfg_eq(&c, &ref));
}

Test(config, too_many_principals)
{
	struct cfg c;
	char val[1024] = "", err[512] = "";

	for (int i = 0; i < POLICY_MAX_PRINCIPALS + 1; i++) {
		char e[16];

		snprintf(e, sizeof(e), "%suid:%d", i ? "," : "", i);
		strcat(val, e);
	}
	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "legal_hold", val, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "too many"), "err: %s", err);
}

Test(config, unknown_key_with_line)
{
	struct cfg c;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	path = write_conf("[wormfs]\nmax_threads = 4\n\n[kms]\ncrypto_rat = 5\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:5: unknown key 'crypto_rat' in section [kms]",
		 path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
	cr_assert_not_null(strstr(err, "crypto_rate"), "lists allowed keys: %s", err);
	cr_assert_eq(c.max_threads, 8, "failed load changed max_threads");
}

Test(config, key_in_wrong_section)
{
	struct cfg c;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	path = write_conf("[wormfs]\ncrypto_rate = 5\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2: unknown key 'crypto_rate' in section [wormfs]", path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
}

Test(config, unknown_section_with_line)
{
	struct cfg c;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	/* also an empty unknown section is caught */
	path = write_conf("[wormfs]\nmax_threads = 2\n[extra]\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: unknown section [extra]", path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
	cr_assert_eq(c.max_threads, 8);
}

Test(config, key_outside_section)
{
	struct cfg c;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	path = write_conf("max_threads = 2\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: key 'max_threads' outside any section",
		 path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
}

Test(config, syntax_error_with_line)
{
	struct cfg c;
	char err[512] = "", want[200];
	const char *path;

	cfg_defaults(&c);
	path = write_conf("[wormfs]\nmax_threads = 2\nthis is not ini\n");
	cr_assert_eq(cfg_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: syntax error", path);
	cr_assert_not_null(strstr(err, want), "err: %s", err);
	cr_assert_eq(c.max_threads, 8);
}

/* No fixed line limit (the packaged inih alone stops near 200 characters):
 * a 4 KiB principal list and a long path load whole. */
Test(config, long_lines_load_whole)
{
	struct cfg c;
	static char text[16384];
	char err[512] = "", e[64];
	size_t n;

#ifndef WORMFS_INI_RUNTIME_LIMITS
	cr_skip_test("this inih has a fixed line limit (INI_MAX_LINE)");
#endif

	strcpy(text, "[wormfs]\ngovernance_bypass = ");
	for (int i = 0; i < POLICY_MAX_PRINCIPALS; i++) {
		snprintf(e, sizeof(e), "%suid:%d ,  gid:%d", i ? " ,   " : "", 1000 + i, 2000 + i);
		strcat(text, e);
	}
	/* repeats count once: pad the line to over 4 KiB */
	while (strlen(text) < 4200)
		strcat(text, " , uid:1000");
	strcat(text, " ; comment\nlegal_hold = uid:7\npassphrase_file = /");
	n = strlen(text);
	memset(text + n, 'p', 3000);
	strcpy(text + n + 3000, "\nmax_threads = 5\n");
	cfg_defaults(&c);
	cr_assert_eq(load_text(&c, text, err, sizeof(err)), 0, "err: %s", err);
	cr_assert_eq(c.rules.bypass.nuids, POLICY_MAX_PRINCIPALS);
	cr_assert_eq(c.rules.bypass.ngids, POLICY_MAX_PRINCIPALS);
	cr_assert_eq(c.rules.bypass.uids[31], 1031);
	cr_assert_eq(c.rules.bypass.gids[31], 2031);
	cr_assert_eq(c.rules.hold.nuids, 1);
	cr_assert_eq(c.rules.hold.uids[0], 7, "the line after a long one is its own line");
	cr_assert_eq(strlen(c.passphrase_file), 3001);
	cr_assert_eq(c.max_threads, 5);
}

/* An error on a long line names that line, and the lines are counted
 * right after it. */
Test(config, long_line_error_names_its_line)
{
	struct cfg c;
	static char text[8192];
	char err[512] = "";

#ifndef WORMFS_INI_RUNTIME_LIMITS
	cr_skip_test("this inih has a fixed line limit (INI_MAX_LINE)");
#endif

	strcpy(text, "[wormfs]\nlegal_hold = ");
	for (int i = 0; i < 500; i++)
		strcat(text, "uid:1, ");
	strcat(text, "uid:x\n");
	cfg_defaults(&c);
	cr_assert_eq(load_text(&c, text, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, ":2: key 'legal_hold'"), "err: %s", err);
	strcpy(text, "[wormfs]\nlegal_hold = ");
	for (int i = 0; i < 500; i++)
		strcat(text, "uid:1, ");
	strcat(text, "uid:2\nmax_threads = 99\n");
	cr_assert_eq(load_text(&c, text, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, ":3: key 'max_threads'"), "err: %s", err);
}

Test(config, failed_load_leaves_struct_unchanged)
{
	struct cfg c, ref;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "max_threads", "3", err, sizeof(err)), 0);
	ref = c;
	/* good keys first, then a bad one: none of them may stick */
	cr_assert_eq(load_text(&c,
			       "[wormfs]\nmax_threads = 17\nlegal_hold = gid:9\n"
			       "[kms]\ncrypto_rate = 77\nthrottle = fail\n"
			       "max_wait_ms = lots\n", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, ":7: key 'max_wait_ms'"), "err: %s", err);
	cr_assert(cfg_eq(&c, &ref));
	cr_assert_eq(c.max_threads, 3);
	cr_assert_eq(c.kms.crypto_rate, 5000);
}

Test(config, load_missing_file)
{
	struct cfg c;
	char err[512] = "", p[128];

	cfg_defaults(&c);
	snprintf(p, sizeof(p), "%s/absent.conf", tmpdir);
	cr_assert_eq(cfg_load(&c, p, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, p));
}

Test(config, load_on_top_of_current_values)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "kms.crypto_rate", "9", err, sizeof(err)), 0);
	cr_assert_eq(load_text(&c, "[wormfs]\nmax_threads = 2\n", err, sizeof(err)), 0);
	cr_assert_eq(c.kms.crypto_rate, 9);
	cr_assert_eq(c.max_threads, 2);
}

Test(config, set_forms)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "wormfs.max_threads", "5", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.max_threads, 5);
	cr_assert_eq(cfg_set(&c, "throttle", "fail", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kms.throttle, KMS_THROTTLE_FAIL);
	cr_assert_eq(cfg_set(&c, "kms.dek_cache_ttl_s", "12", err, sizeof(err)), 0);
	cr_assert_eq(c.kms.cache_ttl_s, 12);
	cr_assert_eq(cfg_set(&c, "log_level", "warn", err, sizeof(err)), 0);
	cr_assert_eq(c.log_level, WLOG_WARN);

	cr_assert_eq(cfg_set(&c, "kms.max_threads", "5", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "unknown key 'max_threads' in section [kms]"),
			   "err: %s", err);
	cr_assert_eq(cfg_set(&c, "wormfs.crypto_rate", "5", err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg_set(&c, "bogus.max_threads", "5", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "unknown section"), "err: %s", err);
	cr_assert_eq(cfg_set(&c, "nosuchkey", "5", err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "unknown key 'nosuchkey'"), "err: %s", err);
	cr_assert_eq(cfg_set(&c, "max_threads", NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg_set(&c, "", "1", err, sizeof(err)), -EINVAL);
	cr_assert_eq(c.max_threads, 5, "failed sets changed nothing");
}

Test(config, default_text_loads_unchanged)
{
	struct cfg c, ref;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "max_threads", "3", err, sizeof(err)), 0);
	ref = c;
	cr_assert_eq(load_text(&c, cfg_default_text(), err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg_eq(&c, &ref), "all keys are commented out");
}

/* Uncommenting every "# key = value" line (but the passphrase example)
 * must give exactly the defaults: the text documents them truthfully and
 * lists every key. */
Test(config, default_text_uncommented_equals_defaults)
{
	struct cfg c, ref;
	const char *t = cfg_default_text();
	char *out = calloc(1, strlen(t) + 1), *o = out, err[512] = "";
	int nkeys = 0;

	cr_assert_not_null(out);
	while (*t) {
		const char *nl = strchr(t, '\n');
		size_t n = nl ? (size_t)(nl - t + 1) : strlen(t);
		const char *eq = memchr(t, '=', n);
		const char *sp = memchr(t + 2, ' ', n > 2 ? n - 2 : 0);

		if (n > 2 && t[0] == '#' && t[1] == ' ' && eq && sp && sp + 1 == eq &&
		    strncmp(t, "# passphrase_file", 17) != 0) {
			memcpy(o, t + 2, n - 2);
			o += n - 2;
			nkeys++;
		} else {
			memcpy(o, t, n);
			o += n;
		}
		t += n;
	}
	cr_assert_eq(nkeys, 24, "every key but passphrase_file listed (%d)", nkeys);
	cfg_defaults(&c);
	cfg_defaults(&ref);
	cr_assert_eq(load_text(&c, out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_finish(&c, err, sizeof(err)), 0);
	cr_assert_eq(cfg_finish(&ref, err, sizeof(err)), 0);
	cr_assert(cfg_eq(&c, &ref));
	cr_assert_not_null(strstr(cfg_default_text(), "# passphrase_file = "));
	free(out);
}

Test(config, comments_crlf_bom_indent)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_eq(load_text(&c,
			       "\xef\xbb\xbf; leading comment\r\n"
			       "  [wormfs]  \r\n"
			       "\t# indented comment\r\n"
			       "max_threads = 3 ; inline comment\r\n"
			       "    log_level=warn\r\n"
			       "[kms]\r\n"
			       "\tthrottle = fail\r\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.max_threads, 3);
	cr_assert_eq(c.log_level, WLOG_WARN, "indented key is a key, not a continuation");
	cr_assert_eq(c.kms.throttle, KMS_THROTTLE_FAIL);
}

/* -o lists (cfg_take_opts, what wormfs's main calls): FUSE options are
 * collected once each with escapes kept, the rest goes to cfg_set. */
Test(config, take_opts)
{
	struct cfg c;
	struct cfg_mopts m = { NULL, 0, 0, 0 };
	char l1[] = "ro,fsname=a\\,b,crypto_rate=100,,max_read=8192";
	char l2[] = "ro,max_read=4096,legal_hold=uid:1\\,uid:2";
	char l3[] = "frobnicate", l4[] = "max_read=4k", l5[] = "kms.nope=1";
	char err[256], *j;

	cfg_defaults(&c);
	cr_assert_eq(cfg_take_opts(&c, l1, &m, err, sizeof(err)), 0);
	cr_assert_eq(cfg_take_opts(&c, l2, &m, err, sizeof(err)), 0);
	j = cfg_mopts_join(&m);
	cr_assert_str_eq(j, "fsname=a\\,b,ro,max_read=4096");
	free(j);
	cr_assert_eq(m.max_read, 4096);
	cr_assert_eq(c.kms.crypto_rate, 100);
	cr_assert_eq(c.rules.hold.nuids, 2);
	cr_assert_eq(cfg_take_opts(&c, l3, &m, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown option 'frobnicate'");
	cr_assert_eq(cfg_take_opts(&c, l4, &m, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "-o max_read=4k: bad value (allowed: an integer 4096..1048576)");
	cr_assert_eq(cfg_take_opts(&c, l5, &m, err, sizeof(err)), -EINVAL);
	cr_assert(strncmp(err, "-o kms.nope=1: ", 15) == 0, "%s", err);
	cfg_mopts_free(&m);
}

/* crypto_impl: in [wormfs], by name or as -o; a bad value names the key
 * and the allowed values and changes nothing. */
Test(config, crypto_impl_key)
{
	struct cfg c, ref;
	struct cfg_mopts m = { NULL, 0, 0, 0 };
	char err[512] = "", list[64];

	cfg_defaults(&c);
	cr_assert_eq(cfg_set(&c, "crypto_impl", "sodium", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_SODIUM);
	cr_assert_eq(cfg_set(&c, "wormfs.crypto_impl", "openssl", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_OPENSSL);
	cr_assert_eq(cfg_set(&c, "kms.crypto_impl", "auto", err, sizeof(err)), -EINVAL);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_OPENSSL);
	strcpy(list, "crypto_impl=auto");
	cr_assert_eq(cfg_take_opts(&c, list, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.kms.crypto_impl, WCRYPTO_IMPL_AUTO);
	ref = c;
	strcpy(list, "crypto_impl=gpu");
	err[0] = '\0';
	cr_assert_eq(cfg_take_opts(&c, list, &m, err, sizeof(err)), -EINVAL);
	cr_assert(cfg_eq(&c, &ref));
	cr_assert_not_null(strstr(err, "crypto_impl"), "err: %s", err);
	cr_assert_not_null(strstr(err, "'gpu'"), "err: %s", err);
	cr_assert_not_null(strstr(err, "auto, openssl or sodium"), "err: %s", err);
	cfg_mopts_free(&m);
}

/* [s3] keys (design section 11): defaults, values from -o, refusals. */
Test(config, s3_keys)
{
	struct cfg c;
	char err[512] = "";

	cfg_defaults(&c);
	cr_assert_str_eq(c.s3.listen, "");
	cr_assert_str_eq(c.s3.region, "us-east-1");
	cr_assert_str_eq(c.s3.base_domain, "localhost");
	cr_assert_eq(c.s3.threads, 4);
	cr_assert_eq(cfg_set(&c, "s3.listen", "127.0.0.1:9000", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.s3.listen, "127.0.0.1:9000");
	cr_assert_eq(cfg_set(&c, "s3.listen", "[::1]:9000", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_set(&c, "s3.threads", "16", err, sizeof(err)), 0);
	cr_assert_eq(c.s3.threads, 16);
	cr_assert_eq(c.s3.idle_timeout, 120);
	cr_assert_eq(cfg_set(&c, "s3.idle_timeout", "5", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.s3.idle_timeout, 5);
	cr_assert_eq(cfg_set(&c, "s3.account_id", "123456789012", err, sizeof(err)), 0);
	cr_assert_eq(cfg_set(&c, "s3.region", "eu-west-1", err, sizeof(err)), 0);
	const char *bad[][2] = {
		{ "s3.listen", "nonsense" }, { "s3.listen", "a b:1" }, { "s3.threads", "0" },
		{ "s3.threads", "65" }, { "s3.max_connections", "0" },
		{ "s3.idle_timeout", "0" }, { "s3.idle_timeout", "3601" }, { "s3.account_id", "12345" },
		{ "s3.account_id", "12345678901a" }, { "s3.region", "EU" }, { "s3.region", "" },
		{ "s3.base_domain", "a/b" }, { "s3.nope", "1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg before = c;
		err[0] = '\0';
		cr_assert_eq(cfg_set(&c, bad[i][0], bad[i][1], err, sizeof(err)), -EINVAL,
			     "%s=%s", bad[i][0], bad[i][1]);
		cr_assert_neq(err[0], '\0');
		cr_assert(cfg_eq(&c, &before), "nothing changed by %s", bad[i][0]);
	}
	cr_assert_str_eq(c.s3.listen, "[::1]:9000");
}
