/* wormctl: the wormfs administration tool (docs/CLI.md, design section 9).
 *
 * This file: command table, argument parsing, help and helpers shared by
 * the command files. Commands on a mounted path go through the mount
 * (wormctl_mnt.c); offline commands open the store (wormctl_store.c,
 * wormctl_bench.c). Arguments are fully validated before anything is
 * touched. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "wormctl.h"
#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "store.h"

#ifndef WORMFS_VERSION
#define WORMFS_VERSION "0.1.0"
#endif


/* ---- helpers ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s (at most n bytes) and its
 * code point, or 0 if the bytes there are not one (overlong forms,
 * surrogates and values above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters a terminal may act on or that reorder a line: C0, DEL, C1,
 * the line and paragraph separators and the bidirectional controls. */
static int cp_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       c == 0x200e || c == 0x200f || c == 0x061c || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069);
}

/* s to f with the escapes described for ls in wormctl(1): \\ \n \t \r, and
 * \ooo (octal) for each byte of a control character, line/paragraph
 * separator or bidirectional control and for each byte that is not valid
 * UTF-8; other UTF-8 as is. So a name cannot forge a line or drive the
 * terminal. */
static void fput_escaped(const char *str, FILE *f)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = utf8_seq(s + i, n - i, &cp);

		if (len && !cp_unsafe(cp) && cp != '\\') {
			fwrite(s + i, 1, len, f);
			i += len;
			continue;
		}
		if (!len)
			len = 1;    /* a stray byte: escaped alone */
		for (size_t k = 0; k < len; k++, i++) {
			unsigned char b = s[i];
			const char *e = b == '\\' ? "\\\\" : b == '\n' ? "\\n" :
					b == '\t' ? "\\t" : b == '\r' ? "\\r" : NULL;
			if (e)
				fputs(e, f);
			else
				fprintf(f, "\\%03o", b);
		}
	}
}

/* prefix, the formatted message escaped (it may hold names from users or
 * the command line), and a newline. */
static void put_msg(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	char *m;

	if (vasprintf(&m, fmt, ap) < 0) {
		fprintf(f, "%s(out of memory)\n", prefix);
		return;
	}
	fputs(prefix, f);
	fput_escaped(m, f);
	fputc('\n', f);
	free(m);
}

int wctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	put_msg(stderr, "wormctl: ", fmt, ap);
	va_end(ap);
	return WCTL_FAIL;
}

int wctl_usage(const struct wctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_msg(stderr, "wormctl: ", fmt, ap);
	va_end(ap);
	if (o && o->usage)
		fprintf(stderr, "usage: wormctl %s\n", o->usage);
	else
		fputs("usage: wormctl COMMAND [ARGS] (see wormctl --help)\n", stderr);
	return WCTL_USAGE;
}

void wctl_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_msg(stdout, "", fmt, ap);
	va_end(ap);
}

void wctl_json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

json_object *wctl_json_double(double v, int decimals)
{
	char b[64];

	/* An explicit text form: json-c would print 17 significant digits. */
	snprintf(b, sizeof(b), "%.*f", decimals, v);
	return json_object_new_double_s(v, b);
}

json_object *wctl_json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

int wctl_is_store(const char *path)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/FORMAT", path) >= (int)sizeof(p))
		return 0;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void wctl_json_add_path(json_object *obj, const char *key, const char *str)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), o = 0, i;
	char *rep, *enc, k2[64];
	int valid = 1;

	for (i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(s + i, n - i, &cp);
		valid &= len != 0;
		i += len ? len : 1;
	}
	if (valid) {
		json_object_object_add(obj, key, json_object_new_string(str));
		return;
	}
	/* U+FFFD (3 bytes) for each byte outside a valid sequence. */
	rep = malloc(n * 3 + 1);
	enc = malloc((n + 2) / 3 * 4 + 1);
	if (!rep || !enc) {
		free(rep);
		free(enc);
		json_object_object_add(obj, key, NULL);
		return;
	}
	for (i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(s + i, n - i, &cp);
		if (len) {
			memcpy(rep + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(rep + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	rep[o] = '\0';
	for (i = 0, o = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		enc[o++] = b64[v >> 18];
		enc[o++] = b64[(v >> 12) & 63];
		enc[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		enc[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	enc[o] = '\0';
	snprintf(k2, sizeof(k2), "%s_b64", key);
	json_object_object_add(obj, key, json_object_new_string(rep));
	json_object_object_add(obj, k2, json_object_new_string(enc));
	free(rep);
	free(enc);
}

int wctl_load_cfg(const struct wctl_opts *o, const char *store, struct cfg *cfg)
{
	char path[PATH_MAX], err[512] = "";
	int rc;

	cfg_defaults(cfg);
	if (snprintf(path, sizeof(path), "%s/wormfs.conf", store) >= (int)sizeof(path))
		return wctl_err("%s %s: %s", o->cmd, store, strerror(ENAMETOOLONG));
	rc = cfg_load(cfg, path, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT)
		return wctl_err("%s: %s", o->cmd, err[0] ? err : strerror(-rc));
	struct { const char *key, *val; } ov[] = {
		{ "passphrase_file", o->passphrase_file },
		{ "kms.crypto_rate", o->rate },
		{ "kms.crypto_burst", o->burst },
		{ "kms.throttle", o->throttle },
		{ "kms.max_wait_ms", o->max_wait_ms },
	};
	for (size_t i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
		if (!ov[i].val)
			continue;
		rc = cfg_set(cfg, ov[i].key, ov[i].val, err, sizeof(err));
		if (rc < 0)
			return wctl_err("%s: %s", o->cmd, err[0] ? err : strerror(-rc));
	}
	/* A rate given without a burst gets burst = rate, not the file's. */
	if (o->rate && !o->burst)
		cfg->kms.crypto_burst = 0;
	rc = cfg_finish(cfg, err, sizeof(err));
	if (rc < 0)
		return wctl_err("%s: %s: %s", o->cmd, path, err[0] ? err : strerror(-rc));
	return 0;
}

int wctl_open_store(const struct wctl_opts *o, const char *store, int flags, ns **out)
{
	struct cfg cfg;
	char err[512] = "";
	int rc;

	if (wctl_load_cfg(o, store, &cfg))
		return WCTL_FAIL;
	/* ns_open takes the run lock (held by the daemon while mounted) and
	 * waits briefly for a daemon that is still shutting down. */
	rc = ns_open(store, &cfg, NS_OFFLINE | flags, out, err, sizeof(err));
	if (rc == -EBUSY && !(flags & NS_RDONLY))
		return wctl_err("%s is mounted: unmount it first (while mounted the "
				"daemon is the store's only writer)", store);
	if (rc < 0)
		return wctl_err("%s: %s", o->cmd, err[0] ? err : strerror(-rc));
	return 0;
}

void wctl_progress_init(struct wctl_progress *p, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->tty = isatty(2);
}

void wctl_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct wctl_progress *p = arg;
	int64_t now;

	p->done = done;
	p->total = total;
	if (!p->tty)
		return;
	/* Redraw at most 10 times a second, and always at the end. */
	now = clock_monotonic_ns();
	if ((total == 0 || done < total) && now - p->last_ns < 100000000)
		return;
	p->last_ns = now;
	/* total 0: unknown in advance (rewrap counts as it goes). */
	if (total)
		fprintf(stderr, "\r%s %llu/%llu", p->label, (unsigned long long)done,
			(unsigned long long)total);
	else
		fprintf(stderr, "\r%s %llu", p->label, (unsigned long long)done);
	fflush(stderr);
}

void wctl_progress_end(struct wctl_progress *p)
{
	if (p->tty && p->last_ns)
		fputs("\r\033[K", stderr);
}

/* ---- command table and parsing --------------------------------------- */

/* One bit per long option, named after it: the options a command accepts
 * (cmddef.opts). OPT_, not O_: those are open(2)'s flags. */
enum {
	OPT_JSON = 1 << 0, OPT_LOCKED = 1 << 1, OPT_BYPASS_GOVERNANCE = 1 << 2,
	OPT_COMPLETE = 1 << 3, OPT_ABORT = 1 << 4, OPT_PASSPHRASE_FILE = 1 << 5,
	OPT_THREADS = 1 << 6, OPT_SECONDS = 1 << 7, OPT_OP = 1 << 8, OPT_RATE = 1 << 9,
	OPT_BURST = 1 << 10, OPT_THROTTLE = 1 << 11, OPT_MAX_WAIT_MS = 1 << 12,
	OPT_SINCE = 1 << 13, OPT_UID = 1 << 14, OPT_GID = 1 << 15, OPT_GROUPS = 1 << 16,
	OPT_ADMIN = 1 << 17, OPT_ACCESS_KEY = 1 << 18, OPT_SECRET_FILE = 1 << 19,
	OPT_DRY_RUN = 1 << 20, OPT_ACCEPT_AUDIT_DAMAGE = 1 << 21,
};

static const struct optdef {
	const char *name;
	unsigned bit;
	int has_arg;
} optdefs[] = {
	{ "json", OPT_JSON, 0 }, { "locked", OPT_LOCKED, 0 },
	{ "bypass-governance", OPT_BYPASS_GOVERNANCE, 0 }, { "complete", OPT_COMPLETE, 1 },
	{ "abort", OPT_ABORT, 0 }, { "passphrase-file", OPT_PASSPHRASE_FILE, 1 },
	{ "threads", OPT_THREADS, 1 }, { "seconds", OPT_SECONDS, 1 }, { "op", OPT_OP, 1 },
	{ "rate", OPT_RATE, 1 }, { "burst", OPT_BURST, 1 }, { "throttle", OPT_THROTTLE, 1 },
	{ "max-wait-ms", OPT_MAX_WAIT_MS, 1 }, { "since", OPT_SINCE, 1 },
	{ "uid", OPT_UID, 1 }, { "gid", OPT_GID, 1 }, { "groups", OPT_GROUPS, 1 },
	{ "admin", OPT_ADMIN, 0 }, { "access-key", OPT_ACCESS_KEY, 1 },
	{ "secret-file", OPT_SECRET_FILE, 1 }, { "dry-run", OPT_DRY_RUN, 0 },
	{ "accept-audit-damage", OPT_ACCEPT_AUDIT_DAMAGE, 0 },
};

static int run_bucket_list(const struct wctl_opts *o);
static int run_ls(const struct wctl_opts *o);
static int run_hold_on(const struct wctl_opts *o) { return wctl_hold_set(o, 1); }
static int run_hold_off(const struct wctl_opts *o) { return wctl_hold_set(o, 0); }
static int run_append_on(const struct wctl_opts *o) { return wctl_append_set(o, 1); }
static int run_append_off(const struct wctl_opts *o) { return wctl_append_set(o, 0); }

static const struct cmddef {
	const char *w1, *w2;
	int minpos, maxpos;        /* maxpos < 0: unbounded */
	unsigned opts;
	const char *usage;
	int (*fn)(const struct wctl_opts *o);
} cmds[] = {
	{ "init", NULL, 1, 1, OPT_PASSPHRASE_FILE, "init [--passphrase-file F] STORE", wctl_init },
	{ "bucket", "create", 1, 1, 0, "bucket create MNT/BUCKET", wctl_bucket_create },
	{ "bucket", "list", 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE, "bucket list MNT|STORE [--json]",
	  run_bucket_list },
	{ "bucket", "lock", 1, 1, OPT_COMPLETE | OPT_ABORT | OPT_JSON,
	  "bucket lock MNT/BUCKET [--complete LOCKID | --abort]", wctl_bucket_lock },
	{ "retention", "get", 1, 1, OPT_JSON, "retention get PATH [--json]",
	  wctl_retention_get },
	{ "retention", "set", 3, 3, 0, "retention set PATH MODE DATE|+Nd|+Nh|+Ny",
	  wctl_retention_set },
	{ "legal-hold", "on", 1, 1, 0, "legal-hold on|off PATH", run_hold_on },
	{ "legal-hold", "off", 1, 1, 0, "legal-hold on|off PATH", run_hold_off },
	{ "legal-hold", "get", 1, 1, OPT_JSON, "legal-hold get PATH [--json]", wctl_hold_get },
	{ "bucket", "autocommit", 2, 2, 0, "bucket autocommit MNT/BUCKET DURATION|off",
	  wctl_bucket_autocommit },
	{ "append-only", "on", 1, 1, 0, "append-only on|off PATH", run_append_on },
	{ "append-only", "off", 1, 1, 0, "append-only on|off PATH", run_append_off },
	{ "rm", NULL, 1, -1, OPT_BYPASS_GOVERNANCE, "rm --bypass-governance PATH...", wctl_rm },
	{ "ls", NULL, 1, 1, OPT_LOCKED | OPT_JSON | OPT_PASSPHRASE_FILE,
	  "ls --locked [--json] MNT-PATH|STORE", run_ls },
	{ "key", "list", 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE,
	  "key list STORE [--json] [--passphrase-file F]", wctl_key_list },
	{ "key", "rotate", 1, 1, OPT_PASSPHRASE_FILE, "key rotate STORE [--passphrase-file F]",
	  wctl_key_rotate },
	{ "key", "rewrap", 1, 1, OPT_PASSPHRASE_FILE, "key rewrap STORE [--passphrase-file F]",
	  wctl_key_rewrap },
	{ "key", "remove", 2, 2, OPT_PASSPHRASE_FILE, "key remove STORE VERSION [--passphrase-file F]",
	  wctl_key_remove },
	{ "verify", NULL, 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE | OPT_SINCE,
	  "verify STORE [--since HEAD] [--json] [--passphrase-file F]", wctl_verify },
	{ "head", NULL, 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE,
	  "head STORE [--json] [--passphrase-file F]", wctl_head },
	/* "audit verify" before "audit": the first match wins. */
	{ "audit", "verify", 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE,
	  "audit verify STORE [--json] [--passphrase-file F]", wctl_audit_verify },
	{ "audit", NULL, 1, 1, OPT_JSON | OPT_PASSPHRASE_FILE | OPT_SINCE,
	  "audit STORE [--since TIME] [--json] [--passphrase-file F]", wctl_audit },
	{ "reattach", NULL, 2, 2, OPT_PASSPHRASE_FILE, "reattach STORE INO [--passphrase-file F]",
	  wctl_reattach },
	{ "repair", "digest", 1, 1, OPT_PASSPHRASE_FILE | OPT_ACCEPT_AUDIT_DAMAGE,
	  "repair digest STORE [--accept-audit-damage] [--passphrase-file F]", wctl_repair_digest },
	{ "repair", NULL, 1, 1, OPT_PASSPHRASE_FILE | OPT_ACCEPT_AUDIT_DAMAGE,
	  "repair STORE [--accept-audit-damage] [--passphrase-file F]", wctl_repair },
	{ "upgrade", NULL, 1, 1, OPT_DRY_RUN | OPT_JSON | OPT_PASSPHRASE_FILE,
	  "upgrade STORE [--dry-run] [--json] [--passphrase-file F]", wctl_upgrade },
	{ "stats", NULL, 1, 1, OPT_JSON, "stats MNT [--json]", wctl_stats },
	{ "kms", "bench", 1, 1,
	  OPT_THREADS | OPT_SECONDS | OPT_OP | OPT_RATE | OPT_BURST | OPT_THROTTLE |
	  OPT_MAX_WAIT_MS | OPT_JSON | OPT_PASSPHRASE_FILE,
	  "kms bench STORE [--threads N] [--seconds S] [--op decrypt|generate] "
	  "[--rate R] [--burst B] [--throttle wait|fail] [--max-wait-ms MS] [--json]",
	  wctl_kms_bench },
	{ "s3", "user", 2, 3,
	  OPT_UID | OPT_GID | OPT_GROUPS | OPT_ADMIN | OPT_ACCESS_KEY | OPT_SECRET_FILE | OPT_JSON |
	  OPT_PASSPHRASE_FILE,
	  "s3 user add STORE NAME --uid N [--gid N] [--groups G,...] [--admin] [--json] "
	  "[--access-key ID --secret-file F] | s3 user list STORE [--json] | "
	  "s3 user remove STORE NAME", wctl_s3_user },
	{ "crypto", "bench", 0, 0, OPT_SECONDS | OPT_JSON, "crypto bench [--seconds S] [--json]",
	  wctl_crypto_bench },
};

static const char help_text[] =
"usage: wormctl COMMAND [ARGS]\n"
"\n"
"Administration tool for wormfs, an S3 Object Lock style WORM archive.\n"
"Commands on a PATH inside a mount work through the mount (extended\n"
"attributes), only inside a wormfs mount and never through a final\n"
"symbolic link; commands on a STORE directory work offline. Exit status:\n"
"0 ok, 1 failure (verify: damage found), 2 usage error.\n"
"\n"
"Store:\n"
"  init [--passphrase-file F] STORE\n"
"      Create a store in STORE (absent or empty): metadata database, object\n"
"      area, key ring with master key version 1, commented wormfs.conf.\n"
"      With a passphrase file the key ring is protected by Argon2id(passphrase),\n"
"      else by a random key file inside the store.\n"
"  verify STORE [--json] [--passphrase-file F]\n"
"      Check every object is present, authentic and of its recorded size, and\n"
"      every lock record authentic. Lists \"DAMAGED path: reason\"; exit 1 if\n"
"      any. Works while mounted (read only). Also checks the store head chain,\n"
"      STORE/head against meta/ (a rolled-back meta/) and the audit tip.\n"
"      --since HEAD: also prove the store is at or after HEAD (an id printed\n"
"      by 'wormctl head', or its --json output); else \"ROLLBACK\", exit 1.\n"
"      Also checks every metadata record beyond the namespace: a node no\n"
"      directory entry names (BUCKET/#INO), directory entries, the inode\n"
"      counter, the clock, orphan entries.\n"
"  head STORE [--json] [--passphrase-file F]\n"
"      The store head: id (SEQ:HASH, for verify --since), sequence, digest,\n"
"      previous head hash, audit tip, Ed25519 signature and public key.\n"
"  audit STORE [--since TIME] [--json] [--passphrase-file F]\n"
"      The audit trail: lock changes, bucket lock steps, governance bypasses,\n"
"      legal holds, refusals, key ring operations (TIME: RFC 3339).\n"
"  audit verify STORE [--json] [--passphrase-file F]\n"
"      Check the audit chain: an edited, removed, reordered or cut record is\n"
"      listed (\"DAMAGED audit record N: ...\"); exit 1 if any.\n"
"  reattach STORE INO [--passphrase-file F]\n"
"      Name again a node that verify reports as not named by any directory\n"
"      entry (BUCKET/#INO), offline: it becomes BUCKET/.recovered/INO (a\n"
"      bucket: /recovered-INO), its record and lock unchanged.\n"
"  repair STORE [--accept-audit-damage] [--passphrase-file F]\n"
"      Re-seal the inode counter when verify reports it failing or set back\n"
"      (no object can be created until then): past the highest inode. Then\n"
"      re-seals the metadata state digest if it does not match.\n"
"  repair digest STORE [--accept-audit-damage] [--passphrase-file F]\n"
"      Only re-seal the metadata state digest that verify reports as not\n"
"      matching (a writable mount is refused until then): the records as\n"
"      they are now are accepted; each keeps its own MAC check. Refused\n"
"      when an object or bucket holds less lock than the audit trail\n"
"      records, and when the audit trail fails verification (a removed\n"
"      record would hide such a lock) unless --accept-audit-damage is\n"
"      given: recorded in the re-seal's audit record.\n"
"  upgrade STORE [--dry-run] [--json] [--passphrase-file F]\n"
"      Rewrite every object whose content file is in format 1 or 2 (older\n"
"      builds) in format 3, in place: inode, lock, legal hold, owner, times\n"
"      and xattrs unchanged. Each object's plaintext is read (authenticated),\n"
"      written anew, read back and compared before its record is switched.\n"
"      Offline (refused while mounted). Exit 1 if any object was not\n"
"      upgraded (each named with the reason). --dry-run lists, changes nothing.\n"
"\n"
"Buckets:\n"
"  bucket create MNT/BUCKET\n"
"      Create a bucket (a top-level directory; S3 naming rules).\n"
"  bucket list MNT|STORE [--json]\n"
"      List buckets with their default retention and bucket lock state.\n"
"  bucket lock MNT/BUCKET [--complete LOCKID | --abort] [--json]\n"
"      Start a bucket lock (prints a lock id valid for 24 h); --complete LOCKID\n"
"      makes the default retention permanent; --abort ends an in-progress lock.\n"
"\n"
"Objects (through the mount):\n"
"  retention get PATH [--json]\n"
"      Show the retention: MODE YYYY-MM-DDTHH:MM:SSZ, or \"none\".\n"
"  retention set PATH MODE DATE|+Nd|+Nh|+Ny\n"
"      MODE is GOVERNANCE or COMPLIANCE (any case); DATE is RFC 3339 (e.g.\n"
"      2031-01-01T00:00:00Z or 2031-01-01) or relative: days, hours, years\n"
"      (365 days), counted from the mount's compliance clock.\n"
"  legal-hold on|off PATH\n"
"  legal-hold get PATH [--json]\n"
"      Set or show the legal hold (ON or OFF).\n"
"  bucket autocommit MNT/BUCKET DURATION|off\n"
"      DURATION Ns, Nm, Nh or Nd: objects idle that long (no write handle,\n"
"      no change) get the bucket's default retention; this replaces the\n"
"      commit at close in that bucket. off: back to the commit at close.\n"
"  append-only on|off PATH\n"
"      chattr +a semantics: writes only at the end; no truncate, rename or\n"
"      delete. off finalizes an appendable locked object.\n"
"  rm --bypass-governance PATH...\n"
"      Delete objects under GOVERNANCE retention: removes the retention (needs\n"
"      a governance-bypass principal), then deletes. COMPLIANCE retention and\n"
"      legal holds cannot be bypassed.\n"
"  ls [--locked] [--json] MNT-PATH|STORE\n"
"      List objects with their lock state (--locked: locked ones only):\n"
"      mode, retain-until, legal hold, path. Paths are printed with C-style\n"
"      escapes (\\n, \\ooo); in JSON a non-UTF-8 path also gets path_b64.\n"
"  stats MNT [--json]\n"
"      Show MNT/.wormfs/stats (Prometheus text; --json as an object).\n"
"\n"
"Keys (remove refused while the store is mounted):\n"
"  key list STORE [--json] [--passphrase-file F]\n"
"      Master key versions, the active one, and the versions objects (and\n"
"      S3 users' secrets) use.\n"
"  key rotate STORE [--passphrase-file F]\n"
"      Make a new active master key version for new data keys (while\n"
"      mounted: through the daemon's control socket STORE/ctl.sock).\n"
"  key rewrap STORE [--passphrase-file F]\n"
"      Re-wrap every data key and re-seal every S3 user's secret under the\n"
"      active version (contents untouched; while mounted: by the daemon,\n"
"      through its control socket, reads and writes going on).\n"
"  key remove STORE VERSION [--passphrase-file F]\n"
"      Remove a master key version no object uses any more (after rewrap).\n"
"\n"
"S3 users (while mounted: through the daemon's control socket, root or the\n"
"store's owner only; else offline on the store):\n"
"  s3 user add STORE NAME --uid N [--gid N] [--groups G,...] [--admin] [--json]\n"
"              [--access-key ID --secret-file F]\n"
"      Make an access key id and secret for a user acting as uid N (gid\n"
"      default N) and print \"ACCESS_KEY_ID SECRET\" once; with --access-key\n"
"      and --secret-file import that pair. NAME: 1..64 of A-Za-z0-9+=,.@_-.\n"
"  s3 user list STORE [--json]\n"
"      Users, their key ids and identities (never a secret).\n"
"  s3 user remove STORE NAME\n"
"      Remove a user; its key stops working at once.\n"
"\n"
"KMS:\n"
"  kms bench STORE [--threads N] [--seconds S] [--op decrypt|generate]\n"
"            [--rate R] [--burst B] [--throttle wait|fail] [--max-wait-ms MS]\n"
"            [--json] [--passphrase-file F]\n"
"      Load the store's KMS quota with N threads (default 4) of uncached\n"
"      Decrypt (default) or GenerateDataKey calls. A warm-up drains the\n"
"      burst (until the first throttled call, or in wait mode the first\n"
"      wait); then a measured window of S seconds (default 5) reports\n"
"      attempts, admitted, throttled, the steady-state rate vs the\n"
"      configured rate with its deviation %, in fail mode admitted vs\n"
"      rate x time, and p50/p90/p99/max latency of admitted calls (wait\n"
"      mode: including the wait) and of throttled calls. JSON: warmup,\n"
"      measured, after_window, kms_crypto_stats. --rate/--burst/--throttle/\n"
"      --max-wait-ms override the store's [kms] settings for the bench only\n"
"      (--rate alone sets the burst to the rate).\n"
"\n"
"Content cipher:\n"
"  crypto bench [--seconds S] [--json]\n"
"      Seal and open 16 KiB blocks on one thread with AES-256-GCM by\n"
"      libsodium and by OpenSSL (and XChaCha20-Poly1305): MB per second of\n"
"      CPU time, median of 5 rounds and every sample, over about S CPU\n"
"      seconds (default 5); and what crypto_impl = auto chooses on this\n"
"      machine. No store needed.\n"
"\n"
"Options:\n"
"  --json                 machine-readable output (read commands)\n"
"  --passphrase-file F    key ring passphrase (default: the store's\n"
"                         passphrase_file setting)\n"
"  --help, --version\n";

/* For commands taking MNT|STORE: one message naming both choices. */
static int not_mount_or_store(const struct wctl_opts *o)
{
	struct statfs sf;

	if (statfs(o->pos[0], &sf) < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(errno));
	if ((unsigned long)sf.f_type != FUSE_SUPER_MAGIC)
		return wctl_err("%s %s: not a wormfs mount or store", o->cmd, o->pos[0]);
	return 0;
}

static int run_bucket_list(const struct wctl_opts *o)
{
	if (wctl_is_store(o->pos[0]))
		return wctl_bucket_list_store(o);
	if (not_mount_or_store(o))
		return WCTL_FAIL;
	if (o->passphrase_file)
		return wctl_usage(o, "--passphrase-file applies to a STORE only");
	return wctl_bucket_list_mnt(o);
}

static int run_ls(const struct wctl_opts *o)
{
	if (wctl_is_store(o->pos[0]))
		return wctl_ls_store(o);
	if (not_mount_or_store(o))
		return WCTL_FAIL;
	if (o->passphrase_file)
		return wctl_usage(o, "--passphrase-file applies to a STORE only");
	return wctl_ls_mnt(o);
}

static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Check an option's value; usage error if bad. */
static int set_opt(struct wctl_opts *o, unsigned bit, const char *name, const char *v)
{
	unsigned long long n;
	char *end;

	switch (bit) {
	case OPT_JSON: o->json = 1; break;
	case OPT_SINCE:
		if (!*v)
			return wctl_usage(o, "--%s: empty value", name);
		o->since = v;
		break;
	case OPT_LOCKED: o->locked = 1; break;
	case OPT_UID:
	case OPT_GID:
		/* 4294967295 is (uid_t)-1, "no change" to chown(2): never an id. */
		if (parse_uint(v, 0, UINT32_MAX - 1, &n))
			return wctl_usage(o, "--%s: expected 0..4294967294, got '%s'", name, v);
		*(bit == OPT_UID ? &o->uid : &o->gid) = (int64_t)n;
		break;
	case OPT_GROUPS: o->groups = v; break;
	case OPT_ADMIN: o->admin = 1; break;
	case OPT_DRY_RUN: o->dry_run = 1; break;
	case OPT_ACCEPT_AUDIT_DAMAGE: o->accept_audit_damage = 1; break;
	case OPT_ACCESS_KEY:
		if (!*v)
			return wctl_usage(o, "--%s: empty value", name);
		o->access_key = v;
		break;
	case OPT_SECRET_FILE:
		if (!*v)
			return wctl_usage(o, "--%s: empty file name", name);
		o->secret_file = v;
		break;
	case OPT_BYPASS_GOVERNANCE: o->bypass = 1; break;
	case OPT_ABORT: o->abort_lock = 1; break;
	case OPT_PASSPHRASE_FILE:
		if (!*v)
			return wctl_usage(o, "--%s: empty file name", name);
		o->passphrase_file = v;
		break;
	case OPT_COMPLETE:
		if (strlen(v) != POLICY_LOCKID_LEN || strspn(v, "0123456789abcdefABCDEF") !=
		    POLICY_LOCKID_LEN)
			return wctl_usage(o, "--complete: bad lock id '%s' (expected %d hex "
					  "digits)", v, POLICY_LOCKID_LEN);
		o->complete = v;
		break;
	case OPT_THREADS:
		if (parse_uint(v, 1, 1024, &n))
			return wctl_usage(o, "--threads: expected 1..1024, got '%s'", v);
		o->threads = (unsigned)n;
		break;
	case OPT_SECONDS:
		errno = 0;
		o->seconds = strtod(v, &end);
		if (errno || end == v || *end || !(o->seconds > 0) || o->seconds > 86400)
			return wctl_usage(o, "--seconds: expected a number of seconds in "
					  "(0, 86400], got '%s'", v);
		break;
	case OPT_OP:
		if (!strcmp(v, "decrypt"))
			o->op_generate = 0;
		else if (!strcmp(v, "generate"))
			o->op_generate = 1;
		else
			return wctl_usage(o, "--op: expected decrypt or generate, got '%s'", v);
		break;
	case OPT_RATE:
	case OPT_BURST:
		if (parse_uint(v, 1, CFG_MAX_RATE, &n))
			return wctl_usage(o, "--%s: expected 1..%llu, got '%s'", name,
					  (unsigned long long)CFG_MAX_RATE, v);
		*(bit == OPT_RATE ? &o->rate : &o->burst) = v;
		break;
	case OPT_THROTTLE:
		if (strcmp(v, "wait") && strcmp(v, "fail"))
			return wctl_usage(o, "--throttle: expected wait or fail, got '%s'", v);
		o->throttle = v;
		break;
	case OPT_MAX_WAIT_MS:
		if (parse_uint(v, 0, 600000, &n))
			return wctl_usage(o, "--max-wait-ms: expected 0..600000, got '%s'", v);
		o->max_wait_ms = v;
		break;
	}
	return 0;
}

static int parse_args(const struct cmddef *c, int argc, char **argv, struct wctl_opts *o)
{
	int only_pos = 0;

	o->pos = calloc((size_t)argc + 1, sizeof(char *));
	if (!o->pos)
		return wctl_err("%s", strerror(ENOMEM));
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		const struct optdef *d = NULL;
		const char *val = NULL;
		size_t nlen;

		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			o->pos[o->npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (a[1] != '-')
			return wctl_usage(o, "unknown option '%s'", a);
		nlen = strcspn(a + 2, "=");
		for (size_t k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
			if (strlen(optdefs[k].name) == nlen && !strncmp(optdefs[k].name, a + 2, nlen))
				d = &optdefs[k];
		if (!d || !(c->opts & d->bit))
			return wctl_usage(o, "unknown option '%.*s' for '%s'", (int)nlen + 2, a,
					  o->cmd);
		if (d->has_arg) {
			if (a[2 + nlen] == '=')
				val = a + 3 + nlen;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return wctl_usage(o, "option '--%s' needs an argument", d->name);
		} else if (a[2 + nlen] == '=') {
			return wctl_usage(o, "option '--%s' takes no argument", d->name);
		}
		if (set_opt(o, d->bit, d->name, val))
			return WCTL_USAGE;
	}
	if (o->npos < c->minpos)
		return wctl_usage(o, "missing argument");
	if (c->maxpos >= 0 && o->npos > c->maxpos)
		return wctl_usage(o, "unexpected argument '%s'", o->pos[c->maxpos]);
	for (int i = 0; i < o->npos; i++)
		if (!o->pos[i][0])
			return wctl_usage(o, "empty argument");
	if (o->complete && o->abort_lock)
		return wctl_usage(o, "--complete and --abort exclude each other");
	if (c->fn == wctl_rm && !o->bypass)
		return wctl_usage(o, "rm needs --bypass-governance (use plain rm otherwise)");
	return 0;
}

static int has_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

/* An unknown command, or a group word ("key") with a bad subcommand: the
 * group's usage lines help more than the generic one. */
static int unknown_cmd(int argc, char **argv)
{
	const char *last = NULL;
	int group = 0;

	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		group |= cmds[k].w2 && !strcmp(cmds[k].w1, argv[1]);
	if (!group)
		return wctl_usage(NULL, "unknown command '%s'", argv[1]);
	if (argc >= 3)
		fprintf(stderr, "wormctl: unknown %s command '%s'\n", argv[1], argv[2]);
	else
		fprintf(stderr, "wormctl: %s needs a subcommand\n", argv[1]);
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(cmds[k].w1, argv[1]) || (last && !strcmp(last, cmds[k].usage)))
			continue;
		fprintf(stderr, "usage: wormctl %s\n", cmds[k].usage);
		last = cmds[k].usage;
	}
	return WCTL_USAGE;
}

int main(int argc, char **argv)
{
	const struct cmddef *c = NULL;
	struct wctl_opts o;
	char name[64];
	int nw = 1, rc;

	/* verify and key rewrap hold key material and plaintext: no core
	 * dumps, as in the daemon. */
	struct rlimit no_core = { 0, 0 };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || setrlimit(RLIMIT_CORE, &no_core)) {
		fprintf(stderr, "wormctl: cannot disable core dumps: %s\n", strerror(errno));
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.threads = 4;
	o.seconds = 5;
	o.uid = o.gid = -1;
	if (has_help(argc, argv)) {
		fputs(help_text, stdout);
		return WCTL_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		if (argc > 2)
			return wctl_usage(NULL, "--version takes no argument");
		printf("wormctl (wormfs) %s\n", WORMFS_VERSION);
		return WCTL_OK;
	}
	if (argc < 2)
		return wctl_usage(NULL, "missing command");
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(cmds[k].w1, argv[1]))
			continue;
		if (!cmds[k].w2) {
			c = &cmds[k];
			break;
		}
		if (argc >= 3 && !strcmp(cmds[k].w2, argv[2])) {
			c = &cmds[k];
			nw = 2;
			break;
		}
	}
	if (!c)
		return unknown_cmd(argc, argv);
	snprintf(name, sizeof(name), "%s%s%s", c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "");
	o.cmd = name;
	o.usage = c->usage;
	rc = parse_args(c, argc - 1 - nw, argv + 1 + nw, &o);
	/* wormctl reports its own errors; library warnings stay visible except
	 * in the bench, where every refusal would log a ThrottlingException. */
	wlog_init(0, c->fn == wctl_kms_bench ? WLOG_ERR : WLOG_WARN);
	if (rc == 0) {
		if (wcrypto_init() < 0)
			rc = wctl_err("cannot initialise libsodium");
		else
			rc = c->fn(&o);
	}
	free(o.pos);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "wormctl: writing output: %s\n", strerror(errno));
		return WCTL_FAIL;
	}
	return rc;
}
