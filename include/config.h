/* config: wormfs.conf (INI, read with libinih) and -o overrides.
 *
 * Keys (section [wormfs] unless noted):
 *   governance_bypass = uid:0, group:wormadmin     (policy principals)
 *   legal_hold        = uid:0
 *   max_threads       = 8          (1..64)
 *   attr_timeout      = 1.0        (seconds, 0..3600; mutable objects)
 *   sync_interval_ms  = 1000       (LMDB checkpoint timer, 10..60000)
 *   passphrase_file   = PATH       (key ring passphrase)
 *   log_level         = info       (err|warn|info|debug)
 *   crypto_impl       = auto       (auto|openssl|sodium: AES-256-GCM for
 *                                   contents; kept in kms.crypto_impl)
 *   [s3] listen (HOST:PORT; default off), region (us-east-1), base_domain
 *        (localhost), tls_cert, tls_key (PEM paths; HTTPS when both set),
 *        threads (1..64, default 4), max_connections (1..100000, default
 *        256), idle_timeout (1..3600 s, default 120), account_id
 *        (12 digits)
 *   [kms] crypto_rate, crypto_burst, management_rate, management_burst,
 *         throttle = wait|fail, max_wait_ms, dek_cache_entries, dek_cache_ttl_s
 * Unknown sections/keys and bad values are errors with file:line.
 * Comments: lines starting with '#' or ';' (and " ; text" after a value).
 * Lines have no fixed length limit (with Debian's inih, whose line limit
 * is set at run time; the file as a whole is at most 64 MiB). */
#ifndef WORMFS_CONFIG_H
#define WORMFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include "policy.h"
#include "kms.h"
#include "log.h"

#define CFG_MAX_RATE 10000000ull   /* "absurdly large" cut-off for rates */

struct cfg_s3 {
	char listen[128];          /* "" = no S3 endpoint */
	char region[64];
	char base_domain[256];
	char tls_cert[PATH_MAX], tls_key[PATH_MAX];
	unsigned threads, max_connections;
	unsigned idle_timeout;     /* seconds */
	char account_id[13];
};

struct cfg {
	struct policy_rules rules;
	struct kms_params kms;
	unsigned max_threads;
	double attr_timeout;
	unsigned sync_interval_ms;
	enum wlog_level log_level;
	char passphrase_file[PATH_MAX];
	struct cfg_s3 s3;
};

/* Bursts are left 0 (= follow the rate) until cfg_finish resolves them. */
void cfg_defaults(struct cfg *c);
/* Load an INI file on top of the current values. -ENOENT if missing (the
 * caller decides whether that is fatal); -EINVAL with err = "FILE:LINE: ..."
 * on any bad section, key or value. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);
/* Set one key: "key" or "section.key" (e.g. "kms.crypto_rate" or
 * "crypto_rate"); used for -o overrides. -EINVAL with err on an unknown key
 * or bad value. */
int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen);
/* -o option lists (wormfs's command line). FUSE options (allow_other, ro,
 * fsname=, max_read=, ...) are collected in a cfg_mopts, escapes kept, each
 * option once (the last value wins); every other option must be KEY=VALUE
 * for cfg_set (backslash escapes dropped from the value). A backslash
 * escapes the next character, so "a\\,b" is one option. */
#define CFG_MAX_READ (1u << 20)   /* the kernel never reads more at once */
struct cfg_mopts {
	char **v;           /* pointers into the lists given to cfg_take_opts */
	size_t n, cap;
	unsigned max_read;  /* max_read=N (4096..CFG_MAX_READ), 0 if not given */
};
/* Take one list (cut in place; m keeps pointers into it). 0, or -EINVAL /
 * -ENOMEM with err = one line ("unknown option 'x'", "-o k=v: why"). */
int cfg_take_opts(struct cfg *c, char *list, struct cfg_mopts *m, char *err,
		  size_t errlen);
/* The collected FUSE options as one comma list (malloc'd; NULL: no memory). */
char *cfg_mopts_join(const struct cfg_mopts *m);
void cfg_mopts_free(struct cfg_mopts *m);
/* After all loads/sets: fill derived defaults (burst = rate when unset) and
 * cross-check. */
int cfg_finish(struct cfg *c, char *err, size_t errlen);
/* The commented default wormfs.conf written by init (static text). */
const char *cfg_default_text(void);

#endif
