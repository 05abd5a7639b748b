/* config: wormfs.conf (INI via libinih) and -o overrides.
 *
 * Every value is validated strictly (no trailing garbage, no silent
 * clamping) and every error names the place, the key and what is allowed.
 * Loads work on a copy that is committed only when the whole file is good,
 * so a bad file changes nothing. */
#include "config.h"
#include "crypto.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <ini.h>

/* A sanity bound on wormfs.conf as a whole; lines have no limit of their
 * own. */
#define CFG_MAX_FILE (64 << 20)

_Static_assert(CFG_MAX_RATE == 10000000ull,
	       "update the allowed-range texts below");

enum key_id {
	KEY_BYPASS, KEY_HOLD, KEY_MAX_THREADS, KEY_ATTR_TIMEOUT,
	KEY_SYNC_INTERVAL, KEY_PASSPHRASE_FILE, KEY_LOG_LEVEL, KEY_CRYPTO_IMPL,
	KEY_CRYPTO_RATE, KEY_CRYPTO_BURST, KEY_MGMT_RATE, KEY_MGMT_BURST,
	KEY_THROTTLE, KEY_MAX_WAIT, KEY_CACHE_ENTRIES, KEY_CACHE_TTL,
	KEY_S3_LISTEN, KEY_S3_REGION, KEY_S3_BASE_DOMAIN, KEY_S3_TLS_CERT, KEY_S3_TLS_KEY,
	KEY_S3_THREADS, KEY_S3_MAX_CONN, KEY_S3_IDLE, KEY_S3_ACCOUNT,
};

struct cfg_key {
	const char *section;
	const char *name;
	enum key_id id;
	const char *allowed;
};

#define PLIST_ALLOWED \
	"comma-separated uid:N, gid:N or group:NAME entries; empty = nobody"
#define RATE_ALLOWED "an integer 1..10000000"

/* Names are unique across sections, so "-o key" needs no section. */
static const struct cfg_key cfg_keys[] = {
	{ "wormfs", "governance_bypass", KEY_BYPASS, PLIST_ALLOWED },
	{ "wormfs", "legal_hold", KEY_HOLD, PLIST_ALLOWED },
	{ "wormfs", "max_threads", KEY_MAX_THREADS, "an integer 1..64" },
	{ "wormfs", "attr_timeout", KEY_ATTR_TIMEOUT, "seconds, a number 0..3600" },
	{ "wormfs", "sync_interval_ms", KEY_SYNC_INTERVAL, "an integer 10..60000" },
	{ "wormfs", "passphrase_file", KEY_PASSPHRASE_FILE, "a file path" },
	{ "wormfs", "log_level", KEY_LOG_LEVEL, "err, warn, info or debug" },
	{ "wormfs", "crypto_impl", KEY_CRYPTO_IMPL, "auto, openssl or sodium" },
	{ "kms", "crypto_rate", KEY_CRYPTO_RATE, RATE_ALLOWED },
	{ "kms", "crypto_burst", KEY_CRYPTO_BURST, RATE_ALLOWED },
	{ "kms", "management_rate", KEY_MGMT_RATE, RATE_ALLOWED },
	{ "kms", "management_burst", KEY_MGMT_BURST, RATE_ALLOWED },
	{ "kms", "throttle", KEY_THROTTLE, "wait or fail" },
	{ "kms", "max_wait_ms", KEY_MAX_WAIT, "an integer 0..600000" },
	{ "kms", "dek_cache_entries", KEY_CACHE_ENTRIES, "an integer 0..10000000" },
	{ "kms", "dek_cache_ttl_s", KEY_CACHE_TTL, "an integer 0..86400" },
	{ "s3", "listen", KEY_S3_LISTEN, "HOST:PORT or [IPV6]:PORT, or empty for none" },
	{ "s3", "region", KEY_S3_REGION, "a region name of [a-z0-9-], 1..63 chars" },
	{ "s3", "base_domain", KEY_S3_BASE_DOMAIN, "a DNS name of [a-z0-9.-], 1..253 chars" },
	{ "s3", "tls_cert", KEY_S3_TLS_CERT, "a PEM file path, or empty" },
	{ "s3", "tls_key", KEY_S3_TLS_KEY, "a PEM file path, or empty" },
	{ "s3", "threads", KEY_S3_THREADS, "an integer 1..64" },
	{ "s3", "max_connections", KEY_S3_MAX_CONN, "an integer 1..100000" },
	{ "s3", "idle_timeout", KEY_S3_IDLE, "an integer 1..3600 (seconds)" },
	{ "s3", "account_id", KEY_S3_ACCOUNT, "12 digits, or empty" },
};
#define NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const char *const wormfs_keys_list =
	"governance_bypass, legal_hold, max_threads, attr_timeout, "
	"sync_interval_ms, passphrase_file, log_level, crypto_impl";
static const char *const kms_keys_list =
	"crypto_rate, crypto_burst, management_rate, management_burst, "
	"throttle, max_wait_ms, dek_cache_entries, dek_cache_ttl_s";

static const char *const s3_keys_list =
	"listen, region, base_domain, tls_cert, tls_key, threads, max_connections, idle_timeout, account_id";

static int section_known(const char *s)
{
	return strcmp(s, "wormfs") == 0 || strcmp(s, "kms") == 0 || strcmp(s, "s3") == 0;
}

/* A value of chars from set, min..max long, into buf (size > max). */
static int copy_charset(const char *v, const char *set, size_t min, size_t max, char *buf)
{
	size_t n = strlen(v);
	if (n < min || n > max || strspn(v, set) != n)
		return -EINVAL;
	memcpy(buf, v, n + 1);
	return 0;
}

static const struct cfg_key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if ((!section || strcmp(cfg_keys[i].section, section) == 0) &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* Copy s without surrounding whitespace into buf; 0 or -ENAMETOOLONG. */
static int trim_copy(const char *s, size_t n, char *buf, size_t len)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/* Decimal digits only: no sign, no trailing garbage, overflow checked. */
static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char buf[32];
	uint64_t x = 0;

	if (trim_copy(v, strlen(v), buf, sizeof(buf)) < 0 || !buf[0])
		return -EINVAL;
	for (const char *p = buf; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	if (x < min || x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

/* Plain decimal seconds ("1", "0.25"): no exponent, hex, inf or nan. */
static int parse_seconds(const char *v, double min, double max, double *out)
{
	char buf[32], *end;
	int dots = 0, digits = 0;
	double x;

	if (trim_copy(v, strlen(v), buf, sizeof(buf)) < 0 || !buf[0])
		return -EINVAL;
	for (const char *p = buf; *p; p++) {
		if (*p == '.')
			dots++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return -EINVAL;
	}
	if (dots > 1 || digits == 0)
		return -EINVAL;
	errno = 0;
	x = strtod(buf, &end);
	if (*end || errno || !isfinite(x) || x < min || x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

static int plist_add(uint32_t *arr, size_t *n, uint32_t v)
{
	for (size_t i = 0; i < *n; i++)
		if (arr[i] == v)
			return 0;
	if (*n >= POLICY_MAX_PRINCIPALS)
		return -ENOSPC;
	arr[(*n)++] = v;
	return 0;
}

static int lookup_group(const char *name, uint32_t *gid)
{
	struct group gr, *res = NULL;
	size_t len = 1024;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *nb = realloc(buf, len);

		if (!nb) {
			rc = -ENOMEM;
			goto out;
		}
		buf = nb;
		rc = getgrnam_r(name, &gr, buf, len, &res);
		if (rc != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (rc != 0) {
		rc = -rc;
		goto out;
	}
	if (!res) {
		rc = -ENOENT;
		goto out;
	}
	*gid = (uint32_t)res->gr_gid;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* One "uid:N" / "gid:N" / "group:NAME" entry (already trimmed). */
static int plist_entry(const char *ent, struct policy_plist *l, char *why,
		       size_t wl)
{
	const char *colon = strchr(ent, ':');
	char type[16], arg[256];
	uint64_t n;
	uint32_t gid = 0;
	int rc;

	if (!colon || trim_copy(ent, (size_t)(colon - ent), type, sizeof(type)) < 0 ||
	    trim_copy(colon + 1, strlen(colon + 1), arg, sizeof(arg)) < 0 || !arg[0]) {
		wlog_seterr(why, wl, "bad entry '%.64s'", ent);
		return -EINVAL;
	}
	if (strcmp(type, "uid") == 0 || strcmp(type, "gid") == 0) {
		/* (uint32_t)-1 means "no id" to chown(2); never a principal */
		if (parse_u64(arg, 0, UINT32_MAX - 1, &n) < 0) {
			wlog_seterr(why, wl, "bad %s '%.64s' in entry '%.64s'", type,
			       arg, ent);
			return -EINVAL;
		}
		rc = type[0] == 'u' ? plist_add(l->uids, &l->nuids, (uint32_t)n)
				    : plist_add(l->gids, &l->ngids, (uint32_t)n);
	} else if (strcmp(type, "group") == 0) {
		rc = lookup_group(arg, &gid);
		if (rc == -ENOENT) {
			wlog_seterr(why, wl, "unknown group '%.64s'", arg);
			return -EINVAL;
		}
		if (rc < 0) {
			wlog_seterr(why, wl, "cannot look up group '%.64s': %s", arg,
			       strerror(-rc));
			return -EINVAL;
		}
		rc = plist_add(l->gids, &l->ngids, gid);
	} else {
		wlog_seterr(why, wl, "bad entry '%.64s'", ent);
		return -EINVAL;
	}
	if (rc == -ENOSPC) {
		wlog_seterr(why, wl, "too many entries (at most %d uids and %d gids)",
		       POLICY_MAX_PRINCIPALS, POLICY_MAX_PRINCIPALS);
		return -EINVAL;
	}
	return rc;
}

static int parse_plist(const char *v, struct policy_plist *out, char *why,
		       size_t wl)
{
	struct policy_plist l;
	char ent[512];
	const char *p = v;

	memset(&l, 0, sizeof(l));
	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		goto done;   /* empty list: nobody */
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		int rc;

		if (trim_copy(p, n, ent, sizeof(ent)) < 0) {
			wlog_seterr(why, wl, "entry too long");
			return -EINVAL;
		}
		if (!ent[0]) {
			wlog_seterr(why, wl, "empty entry in list");
			return -EINVAL;
		}
		rc = plist_entry(ent, &l, why, wl);
		if (rc < 0)
			return rc;
		if (!comma)
			break;
		p = comma + 1;
	}
done:
	*out = l;
	return 0;
}

static int parse_level(const char *v, enum wlog_level *out)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };
	char buf[16];

	if (trim_copy(v, strlen(v), buf, sizeof(buf)) < 0)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(buf, names[i]) == 0) {
			*out = (enum wlog_level)i;
			return 0;
		}
	return -EINVAL;
}

/* Apply one validated value; on error why gets the reason (without the
 * place and the allowed text, which the caller adds). */
static int apply_key(struct cfg *c, const struct cfg_key *k, const char *v,
		     char *why, size_t wl)
{
	uint64_t n;
	double d;
	char buf[16];
	int rc = 0;

	switch (k->id) {
	case KEY_BYPASS:
		return parse_plist(v, &c->rules.bypass, why, wl);
	case KEY_HOLD:
		return parse_plist(v, &c->rules.hold, why, wl);
	case KEY_MAX_THREADS:
		if ((rc = parse_u64(v, 1, 64, &n)) == 0)
			c->max_threads = (unsigned)n;
		break;
	case KEY_ATTR_TIMEOUT:
		if ((rc = parse_seconds(v, 0.0, 3600.0, &d)) == 0)
			c->attr_timeout = d;
		break;
	case KEY_SYNC_INTERVAL:
		if ((rc = parse_u64(v, 10, 60000, &n)) == 0)
			c->sync_interval_ms = (unsigned)n;
		break;
	case KEY_PASSPHRASE_FILE:
		if (!*v || strlen(v) >= sizeof(c->passphrase_file)) {
			rc = -EINVAL;
			break;
		}
		strcpy(c->passphrase_file, v);
		break;
	case KEY_LOG_LEVEL:
		rc = parse_level(v, &c->log_level);
		break;
	case KEY_CRYPTO_IMPL:
		/* Kept with the KMS parameters: kms_open resolves it. */
		if (trim_copy(v, strlen(v), buf, sizeof(buf)) < 0)
			rc = -EINVAL;
		else
			rc = wcrypto_impl_parse(buf, &c->kms.crypto_impl);
		break;
	case KEY_CRYPTO_RATE:
		rc = parse_u64(v, 1, CFG_MAX_RATE, &c->kms.crypto_rate);
		break;
	case KEY_CRYPTO_BURST:
		rc = parse_u64(v, 1, CFG_MAX_RATE, &c->kms.crypto_burst);
		break;
	case KEY_MGMT_RATE:
		rc = parse_u64(v, 1, CFG_MAX_RATE, &c->kms.mgmt_rate);
		break;
	case KEY_MGMT_BURST:
		rc = parse_u64(v, 1, CFG_MAX_RATE, &c->kms.mgmt_burst);
		break;
	case KEY_THROTTLE:
		if (trim_copy(v, strlen(v), buf, sizeof(buf)) < 0)
			rc = -EINVAL;
		else if (strcasecmp(buf, "wait") == 0)
			c->kms.throttle = KMS_THROTTLE_WAIT;
		else if (strcasecmp(buf, "fail") == 0)
			c->kms.throttle = KMS_THROTTLE_FAIL;
		else
			rc = -EINVAL;
		break;
	case KEY_MAX_WAIT:
		rc = parse_u64(v, 0, 600000, &c->kms.max_wait_ms);
		break;
	case KEY_CACHE_ENTRIES:
		rc = parse_u64(v, 0, 10000000, &c->kms.cache_entries);
		break;
	case KEY_CACHE_TTL:
		rc = parse_u64(v, 0, 86400, &c->kms.cache_ttl_s);
		break;
	case KEY_S3_LISTEN:
		/* syntax only: the address is resolved when the server starts */
		rc = copy_charset(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789.-:[]", 0, sizeof(c->s3.listen) - 1, c->s3.listen);
		if (!rc && c->s3.listen[0] && !strchr(c->s3.listen, ':'))
			rc = -EINVAL;
		break;
	case KEY_S3_REGION:
		rc = copy_charset(v, "abcdefghijklmnopqrstuvwxyz0123456789-", 1, 63, c->s3.region);
		break;
	case KEY_S3_BASE_DOMAIN:
		rc = copy_charset(v, "abcdefghijklmnopqrstuvwxyz0123456789.-", 1, 253,
				  c->s3.base_domain);
		break;
	case KEY_S3_TLS_CERT:
	case KEY_S3_TLS_KEY: {
		char *dst = k->id == KEY_S3_TLS_CERT ? c->s3.tls_cert : c->s3.tls_key;
		if (strlen(v) >= PATH_MAX)
			rc = -EINVAL;
		else
			strcpy(dst, v);
		break;
	}
	case KEY_S3_THREADS:
		if ((rc = parse_u64(v, 1, 64, &n)) == 0)
			c->s3.threads = (unsigned)n;
		break;
	case KEY_S3_MAX_CONN:
		if ((rc = parse_u64(v, 1, 100000, &n)) == 0)
			c->s3.max_connections = (unsigned)n;
		break;
	case KEY_S3_IDLE:
		if ((rc = parse_u64(v, 1, 3600, &n)) == 0)
			c->s3.idle_timeout = (unsigned)n;
		break;
	case KEY_S3_ACCOUNT:
		rc = copy_charset(v, "0123456789", 0, 12, c->s3.account_id);
		if (!rc && c->s3.account_id[0] && strlen(c->s3.account_id) != 12)
			rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		wlog_seterr(why, wl, "bad value '%.64s'", v);
		return -EINVAL;
	}
	return 0;
}

/* Look up section/key and apply value; where = "FILE:LINE" or "-o". */
static int set_one(struct cfg *c, const char *where, const char *section,
		   const char *name, const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k;
	char why[256];

	if (section && !*section) {
		wlog_seterr(err, errlen,
		       "%s: key '%.64s' outside any section (allowed sections: "
		       "[wormfs], [kms], [s3])", where, name);
		return -EINVAL;
	}
	if (section && !section_known(section)) {
		wlog_seterr(err, errlen,
		       "%s: unknown section [%.64s] (allowed: [wormfs], [kms], [s3])",
		       where, section);
		return -EINVAL;
	}
	k = find_key(section, name);
	if (!k) {
		if (section)
			wlog_seterr(err, errlen,
			       "%s: unknown key '%.64s' in section [%s] (allowed: %s)",
			       where, name, section,
			       strcmp(section, "kms") == 0 ? kms_keys_list :
			       strcmp(section, "s3") == 0 ? s3_keys_list : wormfs_keys_list);
		else
			wlog_seterr(err, errlen,
			       "%s: unknown key '%.64s' (allowed: %s, kms.%s, s3.%s)",
			       where, name, wormfs_keys_list, kms_keys_list, s3_keys_list);
		return -EINVAL;
	}
	why[0] = '\0';
	if (apply_key(c, k, value, why, sizeof(why)) < 0) {
		wlog_seterr(err, errlen, "%s: key '%s' in section [%s]: %s (allowed: %s)",
		       where, k->name, k->section, why, k->allowed);
		return -EINVAL;
	}
	return 0;
}

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	/* design section 5: bypass and legal hold = uid 0 only */
	c->rules.bypass.uids[0] = 0;
	c->rules.bypass.nuids = 1;
	c->rules.hold.uids[0] = 0;
	c->rules.hold.nuids = 1;
	c->max_threads = 8;
	c->attr_timeout = 1.0;
	c->sync_interval_ms = 1000;
	c->log_level = WLOG_INFO;
	c->passphrase_file[0] = '\0';
	/* design section 8; bursts 0 = follow the rate (cfg_finish) */
	c->kms.crypto_rate = 5000;
	c->kms.crypto_burst = 0;
	c->kms.mgmt_rate = 100;
	c->kms.mgmt_burst = 0;
	c->kms.throttle = KMS_THROTTLE_WAIT;
	c->kms.max_wait_ms = 5000;
	c->kms.cache_entries = 10000;
	c->kms.cache_ttl_s = 300;
	c->kms.crypto_impl = WCRYPTO_IMPL_AUTO;
	/* design section 11 */
	strcpy(c->s3.region, "us-east-1");
	strcpy(c->s3.base_domain, "localhost");
	c->s3.threads = 4;
	c->s3.max_connections = 256;
	c->s3.idle_timeout = 120;
}

struct load_ctx {
	struct cfg *work;
	FILE *f;
	const char *file;
	int lineno;
	int failed;      /* first error recorded in err; stop there */
	int io_err;      /* errno of a read error */
	char *line;      /* the current physical line (getline buffer) */
	size_t cap;
	const char *rest; /* the part of it inih has not taken yet */
	size_t nrest;
	size_t max_line; /* the longest line inih takes whole, incl. "\r\n\0" */
	char *err;
	size_t errlen;
};

/* Read the next physical line and prepare it for inih: count it (the
 * packaged inih passes no line number to the handler), strip indentation
 * (so inih never sees a "continuation line"), drop comments, and check
 * section names even for sections without keys. 0, or -1 at the end or on
 * an error (recorded in x). */
static int load_next_line(struct load_ctx *x)
{
	ssize_t n;
	char *p, *end;

	errno = 0;
	n = getline(&x->line, &x->cap, x->f);
	if (n < 0) {
		if (ferror(x->f))
			x->io_err = errno ? errno : EIO;
		return -1;
	}
	x->lineno++;
	if ((size_t)n != strlen(x->line)) {
		wlog_seterr(x->err, x->errlen, "%s:%d: NUL byte in line", x->file,
		       x->lineno);
		x->failed = 1;
		return -1;
	}
	/* Only when the file grew while we read it, or without the runtime
	 * limits of Debian's inih (then INI_MAX_LINE applies). */
	if ((size_t)n + 3 > x->max_line) {
		wlog_seterr(x->err, x->errlen, "%s:%d: line too long (at most %zu characters)",
		       x->file, x->lineno, x->max_line - 3);
		x->failed = 1;
		return -1;
	}
	p = x->line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '#' || *p == ';')
		p = "\n";
	if (*p == '[') {
		char name[80];

		end = strchr(p, ']');
		if (end && trim_copy(p + 1, (size_t)(end - p - 1), name,
				     sizeof(name)) == 0 && !section_known(name)) {
			wlog_seterr(x->err, x->errlen,
			       "%s:%d: unknown section [%s] (allowed: [wormfs], [kms], [s3])",
			       x->file, x->lineno, name);
			x->failed = 1;
			return -1;
		}
	}
	x->rest = p;
	x->nrest = strlen(p);
	return 0;
}

/* fgets-style reader for inih. A line longer than inih's buffer is handed
 * over in parts, as fgets would: inih grows its buffer and asks for the
 * rest (up to max_line, which cfg_load sets from the file size). */
static char *load_reader(char *str, int num, void *stream)
{
	struct load_ctx *x = stream;
	size_t k;

	if (x->failed || num < 2)
		return NULL;
	if (!x->nrest && load_next_line(x) < 0)
		return NULL;
	k = x->nrest < (size_t)num - 1 ? x->nrest : (size_t)num - 1;
	memcpy(str, x->rest, k);
	str[k] = '\0';
	x->rest += k;
	x->nrest -= k;
	return str;
}

static int load_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct load_ctx *x = user;
	char where[PATH_MAX + 32];

	if (x->failed)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", x->file, x->lineno);
	if (set_one(x->work, where, section, name, value, x->err, x->errlen) < 0) {
		x->failed = 1;
		return 0;
	}
	return 1;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	struct load_ctx x;
	struct cfg *work = NULL;
	struct stat st;
	int rc, ret;

	memset(&x, 0, sizeof(x));
	x.f = fopen(path, "re");
	if (!x.f) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fileno(x.f), &st) != 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
#ifdef WORMFS_INI_RUNTIME_LIMITS
	/* No fixed line limit: no line is longer than the file, so let inih
	 * grow its line buffer up to that. These are process-wide settings of
	 * the library; wormfs and wormctl use inih only here, before any
	 * thread starts. */
	if (S_ISREG(st.st_mode) && st.st_size > CFG_MAX_FILE) {
		rc = -EFBIG;
		wlog_seterr(err, errlen, "%s: file too large (at most %d MiB)", path,
		       CFG_MAX_FILE >> 20);
		goto out;
	}
	x.max_line = S_ISREG(st.st_mode) ? (size_t)st.st_size + 3 : CFG_MAX_FILE;
	if (x.max_line < INI_MAX_LINE)
		x.max_line = INI_MAX_LINE;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = (int)x.max_line;
#else
	x.max_line = INI_MAX_LINE;
#endif
	work = malloc(sizeof(*work));
	if (!work) {
		rc = -ENOMEM;
		wlog_seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	*work = *c;
	x.work = work;
	x.file = path;
	x.err = err;
	x.errlen = errlen;
	ret = ini_parse_stream(load_reader, &x, load_handler, &x);
	if (x.failed) {
		rc = -EINVAL;
	} else if (x.io_err) {
		rc = -x.io_err;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(x.io_err));
	} else if (ret > 0) {
		rc = -EINVAL;
		wlog_seterr(err, errlen,
		       "%s:%d: syntax error (allowed: [section], key = value, "
		       "or a # comment)", path, ret);
	} else if (ret < 0) {
		rc = -ENOMEM;
		wlog_seterr(err, errlen, "%s: cannot parse (out of memory)", path);
	} else {
		*c = *work;   /* whole file good: commit */
		rc = 0;
	}
out:
	free(work);
	free(x.line);
	fclose(x.f);
	return rc;
}

int cfg_set(struct cfg *c, const char *key, const char *value, char *err,
	    size_t errlen)
{
	struct cfg *work;
	char section[16];
	const char *dot, *name = key;
	int rc;

	if (!key || !*key) {
		wlog_seterr(err, errlen, "-o: empty key");
		return -EINVAL;
	}
	if (!value) {
		wlog_seterr(err, errlen, "-o: key '%.64s' needs a value (KEY=VALUE)", key);
		return -EINVAL;
	}
	dot = strchr(key, '.');
	if (dot) {
		if ((size_t)(dot - key) >= sizeof(section) || dot == key) {
			wlog_seterr(err, errlen,
			       "-o: unknown section in '%.64s' (allowed: wormfs., kms., s3.)",
			       key);
			return -EINVAL;
		}
		memcpy(section, key, (size_t)(dot - key));
		section[dot - key] = '\0';
		name = dot + 1;
	}
	work = malloc(sizeof(*work));
	if (!work) {
		wlog_seterr(err, errlen, "-o: out of memory");
		return -ENOMEM;
	}
	*work = *c;
	rc = set_one(work, "-o", dot ? section : NULL, name, value, err, errlen);
	if (rc == 0)
		*c = *work;
	free(work);
	return rc;
}

/* ---- -o option lists ----------------------------------------------------- */

/* Options handed to libfuse / mount(2) as they are. */
static const char *const fuse_opts[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions", "ro", "rw",
	"suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "dirsync",
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime",
	"strictatime", "nostrictatime", "lazytime", "nolazytime", NULL,
};
static const char *const fuse_opt_prefixes[] = { "fsname=", "subtype=", "max_read=", NULL };

static int is_fuse_opt(const char *o)
{
	for (size_t i = 0; fuse_opts[i]; i++)
		if (!strcmp(o, fuse_opts[i]))
			return 1;
	for (size_t i = 0; fuse_opt_prefixes[i]; i++)
		if (!strncmp(o, fuse_opt_prefixes[i], strlen(fuse_opt_prefixes[i])))
			return 1;
	return 0;
}

static size_t opt_key_len(const char *o)
{
	const char *eq = strchr(o, '=');
	return eq ? (size_t)(eq - o) + 1 : strlen(o) + 1;
}

/* A repeated option is kept once (the last value of a key=value one), so
 * the kernel's option page never overflows from repetition. */
static int mopts_add(struct cfg_mopts *m, char *o)
{
	size_t k = opt_key_len(o);

	for (size_t i = 0; i < m->n; i++)
		if (opt_key_len(m->v[i]) == k && !strncmp(m->v[i], o, k)) {
			memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof(*m->v));
			m->n--;
			break;
		}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		char **nv = realloc(m->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = o;
	return 0;
}

char *cfg_mopts_join(const struct cfg_mopts *m)
{
	size_t len = 1;
	char *s, *d;

	for (size_t i = 0; i < m->n; i++)
		len += strlen(m->v[i]) + 1;
	s = d = malloc(len);
	if (!s)
		return NULL;
	*d = '\0';
	for (size_t i = 0; i < m->n; i++)
		d += sprintf(d, "%s%s", i ? "," : "", m->v[i]);
	return s;
}

void cfg_mopts_free(struct cfg_mopts *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

/* Cut the next option off *p at the first comma that is not escaped. As
 * in libfuse's own parser, a backslash escapes the next character (so
 * "fsname=a\,b" or a principal list "uid:1\,uid:2" stay one option).
 * Returns the option (escapes kept) or NULL at the end. */
static char *next_opt(char **p)
{
	char *o = *p, *s = *p;

	if (!o)
		return NULL;
	for (; *s && *s != ','; s++)
		if (*s == '\\' && s[1])
			s++;
	*p = *s ? s + 1 : NULL;
	*s = '\0';
	return o;
}

/* Drop the escaping backslashes of a config value in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		*d++ = *s;
	}
	*d = '\0';
}

/* max_read must reach libfuse's INIT handshake intact (fs_init repeats
 * it): check it here, so a bad value fails before anything is mounted
 * instead of right after "mounted". The kernel raises anything below one
 * page to 4096 and caps reads at 1 MiB, so only that range means what it
 * says. */
static int parse_max_read(const char *v, unsigned *out)
{
	unsigned long long x = 0;

	if (!*v)
		return -EINVAL;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || x > CFG_MAX_READ)
			return -EINVAL;
		x = x * 10 + (unsigned)(*p - '0');
	}
	if (x < 4096 || x > CFG_MAX_READ)
		return -EINVAL;
	*out = (unsigned)x;
	return 0;
}

int cfg_take_opts(struct cfg *c, char *list, struct cfg_mopts *m, char *err,
		  size_t errlen)
{
	char *rest = list, *o;

	while ((o = next_opt(&rest))) {
		if (!*o)
			continue;
		if (is_fuse_opt(o)) {
			if (!strncmp(o, "max_read=", 9) && parse_max_read(o + 9, &m->max_read)) {
				wlog_seterr(err, errlen, "-o %s: bad value (allowed: an integer "
					    "4096..%u)", o, CFG_MAX_READ);
				return -EINVAL;
			}
			if (mopts_add(m, o)) {
				wlog_seterr(err, errlen, "-o: out of memory");
				return -ENOMEM;
			}
			continue;
		}
		char *eq = strchr(o, '=');
		if (!eq) {
			wlog_seterr(err, errlen, "unknown option '%s'", o);
			return -EINVAL;
		}
		*eq = '\0';
		unescape(eq + 1);
		char why[512] = "";
		int rc = cfg_set(c, o, eq + 1, why, sizeof(why));
		if (rc) {
			wlog_seterr(err, errlen, "-o %s=%s: %s", o, eq + 1,
				    why[0] ? why : "unknown option");
			return rc == -ENOMEM ? rc : -EINVAL;
		}
	}
	return 0;
}

int cfg_finish(struct cfg *c, char *err, size_t errlen)
{
	if (c->kms.crypto_burst == 0)
		c->kms.crypto_burst = c->kms.crypto_rate;
	if (c->kms.mgmt_burst == 0)
		c->kms.mgmt_burst = c->kms.mgmt_rate;
	/* Values can only come through apply_key, but a caller may have
	 * filled the struct by hand: keep the invariants the KMS relies on. */
	if (c->kms.crypto_rate < 1 || c->kms.crypto_rate > CFG_MAX_RATE ||
	    c->kms.mgmt_rate < 1 || c->kms.mgmt_rate > CFG_MAX_RATE ||
	    c->kms.crypto_burst > CFG_MAX_RATE || c->kms.mgmt_burst > CFG_MAX_RATE) {
		wlog_seterr(err, errlen, "kms rates and bursts must be 1..%llu",
		       (unsigned long long)CFG_MAX_RATE);
		return -EINVAL;
	}
	if (c->max_threads < 1 || c->max_threads > 64) {
		wlog_seterr(err, errlen, "max_threads must be 1..64");
		return -EINVAL;
	}
	return 0;
}

static const char cfg_text[] =
"# wormfs.conf: configuration of this wormfs store.\n"
"#\n"
"# Every key is listed with its default value, commented out, so the\n"
"# defaults apply. To change one, remove the leading '#' and edit the\n"
"# value. Any key can also be given at mount time: -o KEY=VALUE\n"
"# (e.g. -o kms.crypto_rate=100). Unknown keys and bad values are errors.\n"
"\n"
"[wormfs]\n"
"\n"
"# Who may shorten or remove a GOVERNANCE retention (governance bypass):\n"
"# comma-separated uid:N, gid:N, group:NAME. Empty means nobody.\n"
"# governance_bypass = uid:0\n"
"\n"
"# Who may turn a legal hold on or off (same syntax).\n"
"# legal_hold = uid:0\n"
"\n"
"# FUSE worker threads (1..64).\n"
"# max_threads = 8\n"
"\n"
"# Seconds the kernel may cache attributes of mutable objects (0..3600).\n"
"# attr_timeout = 1.0\n"
"\n"
"# Metadata checkpoint interval in milliseconds (10..60000).\n"
"# sync_interval_ms = 1000\n"
"\n"
"# File holding the key ring passphrase, for stores created with\n"
"# --passphrase-file. Default: none (key file inside the store).\n"
"# passphrase_file = /path/to/passphrase\n"
"\n"
"# Log level: err, warn, info or debug.\n"
"# log_level = info\n"
"\n"
"# Who computes AES-256-GCM for file contents: openssl (OpenSSL libcrypto),\n"
"# sodium (libsodium), or auto (a short measurement at mount picks the\n"
"# faster). Both write the same format, so this can change at any mount.\n"
"# crypto_impl = auto\n"
"\n"
"[kms]\n"
"\n"
"# Request quotas of the local KMS, per class, in requests per second\n"
"# (1..10000000), and bucket sizes (burst; default: the rate).\n"
"# Cryptographic class: GenerateDataKey, Encrypt, Decrypt, ReEncrypt.\n"
"# crypto_rate = 5000\n"
"# crypto_burst = 5000\n"
"# Management class: CreateKey, DescribeKey, ListKeys, RotateKey.\n"
"# management_rate = 100\n"
"# management_burst = 100\n"
"\n"
"# When a quota is used up: wait (block up to max_wait_ms, then EAGAIN)\n"
"# or fail (EAGAIN at once, like a ThrottlingException).\n"
"# throttle = wait\n"
"# max_wait_ms = 5000\n"
"\n"
"# Cache of unwrapped data keys: entries (0 disables it) and lifetime in\n"
"# seconds.\n"
"# dek_cache_entries = 10000\n"
"# dek_cache_ttl_s = 300\n"
"\n"
"[s3]\n"
"\n"
"# The S3 REST endpoint of this daemon (README, S3 endpoint): HOST:PORT to\n"
"# serve on, e.g. 127.0.0.1:9000. Empty: no endpoint. Also -o s3.listen=...\n"
"# listen =\n"
"# region = us-east-1\n"
"# Virtual-host style requests: Host BUCKET.base_domain.\n"
"# base_domain = localhost\n"
"# HTTPS when both are set (PEM files).\n"
"# tls_cert =\n"
"# tls_key =\n"
"# HTTP worker threads (1..64) and open connections (1..100000).\n"
"# threads = 4\n"
"# max_connections = 256\n"
"# Seconds a connection may stay idle or stalled mid-request (1..3600).\n"
"# idle_timeout = 120\n"
"# account_id =\n";

const char *cfg_default_text(void)
{
	return cfg_text;
}
