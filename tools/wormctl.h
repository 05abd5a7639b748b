/* wormctl internals shared by tools/wormctl*.c (not a library interface).
 *
 * Commands return an exit status: 0 ok, 1 failure, 2 usage error. Every
 * failure prints one line "wormctl: ..." on stderr. */
#ifndef WORMCTL_H
#define WORMCTL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config.h"
#include "ns.h"
#include "wormnames.h"

#define WCTL_OK 0
#define WCTL_FAIL 1
#define WCTL_USAGE 2
#define WCTL_NO_DAEMON 3   /* wctl_ctl_call: no daemon answers (never an exit status) */


/* statfs f_type of every FUSE file system (wormfs or not). */
#define FUSE_SUPER_MAGIC 0x65735546

/* Parsed command line of one command. Values are validated syntactically
 * by the parser (numbers, enums) before any command runs. */
struct wctl_opts {
	const char *cmd;          /* "bucket lock", for messages */
	const char *usage;        /* the command's usage line */
	int json, locked, bypass, abort_lock;
	const char *complete;     /* bucket lock --complete LOCKID */
	const char *passphrase_file;
	/* kms bench */
	unsigned threads;
	double seconds;
	int op_generate;
	const char *rate, *burst, *throttle, *max_wait_ms;
	const char *since;        /* verify --since HEAD, audit --since TIME */
	/* s3 user add */
	int64_t uid, gid;         /* -1: not given */
	const char *groups;       /* "G,G,..." (checked by the command) */
	int admin;
	int dry_run;              /* upgrade --dry-run */
	int accept_audit_damage;  /* repair --accept-audit-damage */
	const char *access_key, *secret_file;
	char **pos;               /* positional arguments */
	int npos;
};

/* "wormctl: MSG" on stderr; returns WCTL_FAIL. MSG (like that of
 * wctl_usage and wctl_out) is escaped C-style as wormctl(1) describes for
 * ls (\\ \n \t \r, \ooo for control, bidi and non-UTF-8 bytes): paths in
 * it come from users and must not forge a line or drive the terminal. */
int wctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "wormctl: MSG" and the command's usage line; returns WCTL_USAGE. */
int wctl_usage(const struct wctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One line on stdout: MSG (escaped), then a newline. For every line that
 * shows a path. */
void wctl_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print o to stdout (pretty) and release it. */
void wctl_json_print(json_object *o);
/* A double printed with this many decimals. */
json_object *wctl_json_double(double v, int decimals);
/* json string or null. */
json_object *wctl_json_str(const char *s);

/* 1 if path is a directory holding a FORMAT file (a store). */
int wctl_is_store(const char *path);
/* obj[key] = s as a JSON string. If s is not valid UTF-8, each byte outside
 * a valid sequence becomes U+FFFD and obj[key "_b64"] holds the exact bytes
 * (standard base64), so JSON output is always valid and still exact. */
void wctl_json_add_path(json_object *obj, const char *key, const char *s);

/* Load STORE/wormfs.conf plus the command-line overrides (passphrase file,
 * bench rate options) into cfg; prints the error and returns WCTL_FAIL. */
int wctl_load_cfg(const struct wctl_opts *o, const char *store, struct cfg *cfg);
/* wctl_load_cfg + ns_open(NS_OFFLINE | flags). A writable open first makes
 * sure the store is not mounted. */
int wctl_open_store(const struct wctl_opts *o, const char *store, int flags, ns **out);

/* Progress line on stderr, only when stderr is a terminal. */
struct wctl_progress {
	const char *label;
	int tty;
	int64_t last_ns;
	uint64_t done, total;
};
void wctl_progress_init(struct wctl_progress *p, const char *label);
void wctl_progress_cb(void *arg, uint64_t done, uint64_t total);
void wctl_progress_end(struct wctl_progress *p);

/* Shared output of bucket list (mount or store): text line or JSON item
 * into arr (when not NULL). def/lock: xattr values, NULL if none. */
void wctl_bucket_out(json_object *arr, const char *name, const char *def,
		     const char *lock);
/* Shared output of ls: one object. mode/until NULL if no retention; hold
 * "ON"/"OFF"; state "mutable"/"locked"/"expired". */
void wctl_ls_out(json_object *arr, const char *path, const char *mode,
		 const char *until, const char *hold, const char *state, int append);
/* Logs (design section 15): bucket autocommit DURATION|off, append-only
 * on|off PATH (through the mount). */
int wctl_bucket_autocommit(const struct wctl_opts *o);
int wctl_append_set(const struct wctl_opts *o, int on);

/* Commands: mount side (wormctl_mnt.c). */
int wctl_bucket_create(const struct wctl_opts *o);
int wctl_bucket_list_mnt(const struct wctl_opts *o);
int wctl_bucket_lock(const struct wctl_opts *o);
int wctl_retention_get(const struct wctl_opts *o);
int wctl_retention_set(const struct wctl_opts *o);
int wctl_hold_set(const struct wctl_opts *o, int on);
int wctl_hold_get(const struct wctl_opts *o);
int wctl_rm(const struct wctl_opts *o);
int wctl_ls_mnt(const struct wctl_opts *o);
int wctl_stats(const struct wctl_opts *o);

/* Commands: store side (wormctl_store.c). */
int wctl_init(const struct wctl_opts *o);
int wctl_bucket_list_store(const struct wctl_opts *o);
int wctl_ls_store(const struct wctl_opts *o);
int wctl_key_list(const struct wctl_opts *o);
int wctl_key_rotate(const struct wctl_opts *o);
int wctl_key_rewrap(const struct wctl_opts *o);
int wctl_key_remove(const struct wctl_opts *o);
int wctl_verify(const struct wctl_opts *o);
int wctl_reattach(const struct wctl_opts *o);
int wctl_repair(const struct wctl_opts *o);
/* wormctl_upgrade.c */
int wctl_upgrade(const struct wctl_opts *o);

/* S3 users and the control socket (wormctl_user.c). */
int wctl_s3_user(const struct wctl_opts *o);
/* Send req (consumed) to the daemon serving store over STORE/ctl.sock:
 * 0 and *reply (the caller's) when it answered;
 * WCTL_NO_DAEMON when no daemon listens (no socket, or a dead daemon's:
 * the caller may go offline); WCTL_FAIL
 * after printing why (refused, timed out, bad reply). */
int wctl_ctl_call(const struct wctl_opts *o, const char *store, json_object *req,
		  json_object **reply);
/* The same without a reply deadline (key rewrap: as long as it takes). */
int wctl_ctl_call_long(const struct wctl_opts *o, const char *store, json_object *req,
		       json_object **reply);
/* The reply's error as "wormctl: CMD STORE: MESSAGE"; 0 if it says ok. */
int wctl_ctl_failed(const struct wctl_opts *o, const char *store, json_object *reply);
int wctl_repair_digest(const struct wctl_opts *o);

/* Store head and audit trail (wormctl_trail.c). */
int wctl_head(const struct wctl_opts *o);
int wctl_audit(const struct wctl_opts *o);
int wctl_audit_verify(const struct wctl_opts *o);
/* verify: head checks (and --since) on an open store; problems through
 * cb; returns their count, -1 after printing an error. */
long wctl_verify_head(const struct wctl_opts *o, ns *n, ns_damage_cb cb, void *arg);
/* verify --since HEAD: "SEQ:HASH" or 'wormctl head --json' output; 0 or -EINVAL. */
int wctl_parse_since(const char *s, uint64_t *seq, uint8_t hash[32]);

/* kms bench (wormctl_bench.c). */
int wctl_kms_bench(const struct wctl_opts *o);
/* crypto bench (wormctl_cbench.c). */
int wctl_crypto_bench(const struct wctl_opts *o);

#endif
