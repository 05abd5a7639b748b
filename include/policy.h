/* policy: every Object Lock rule of design sections 4-6, pure.
 *
 * No I/O, no clock reads: the compliance time `now` (seconds) is a
 * parameter. Callers (ns) ask here before any change to an object and act
 * on the answer; they never decide on their own. Every refusal comes with a
 * short rule name (static string) for the log and the stats. */
#ifndef WORMFS_POLICY_H
#define WORMFS_POLICY_H

#include <stdint.h>
#include <stddef.h>

#define POLICY_MAX_YEARS 100
#define POLICY_MAX_AHEAD_S ((int64_t)POLICY_MAX_YEARS * 365 * 86400)
#define POLICY_MAX_PRINCIPALS 32

enum worm_mode { WORM_NONE = 0, WORM_GOVERNANCE = 1, WORM_COMPLIANCE = 2 };
enum worm_hold { HOLD_UNSET = 0, HOLD_OFF = 1, HOLD_ON = 2 };
enum worm_state { STATE_MUTABLE = 0, STATE_LOCKED = 1, STATE_EXPIRED = 2 };

/* Lock state of one object, as stored (authenticated) in metadata. */
struct policy_lock {
	int mode;             /* enum worm_mode; WORM_NONE if no retention */
	int64_t retain_until; /* seconds since epoch; 0 if mode == NONE */
	int hold;             /* enum worm_hold */
	int sealed;           /* 1 once ever locked: content immutable forever */
	int auth_failed;      /* record failed authentication: fail closed */
	int append_only;      /* user.worm.append-only ON (design section 15):
				 writes only at the end; sealed too: an
				 appendable WORM object */
};

/* A principal list: "uid:N", "gid:N", "group:NAME" entries (names resolved
 * to gids by config). */
struct policy_plist {
	uint32_t uids[POLICY_MAX_PRINCIPALS];
	size_t nuids;
	uint32_t gids[POLICY_MAX_PRINCIPALS];
	size_t ngids;
};

struct policy_rules {
	struct policy_plist bypass;  /* governance_bypass; default uid:0 */
	struct policy_plist hold;    /* legal_hold; default uid:0 */
};

/* Who is asking: uid, primary gid and supplementary groups. */
struct policy_caller {
	uint32_t uid;
	uint32_t gid;
	const uint32_t *groups;
	size_t ngroups;
};

enum policy_op {
	POP_OPEN_WRITE,   /* open with O_WRONLY/O_RDWR/O_TRUNC/O_APPEND */
	POP_WRITE,
	POP_TRUNCATE,
	POP_FALLOCATE,
	POP_CHMOD,
	POP_CHOWN,
	POP_UTIMENS,      /* times set to given values (not "now") */
	POP_SETXATTR,     /* a non-lock xattr: set */
	POP_REMOVEXATTR,  /* a non-lock xattr: remove */
	POP_UNLINK,
	POP_RENAME_SRC,
	POP_RENAME_DST,   /* object is the target being replaced */
	POP_RENAME_DIR,   /* directory whose subtree holds a locked object; the
			     caller passes the aggregate lock as `lk` */
	POP_OVERWRITE,    /* a write that does not start at the current end
			     (policy_write_op); refused on append-only */
	POP_OPEN_OVERWRITE, /* open for writing without O_APPEND (of an
			     existing object): as POP_OPEN_WRITE, and refused
			     on append-only, as chattr +a does. A write below
			     the end would reach the kernel's page cache
			     before the daemon refuses it, where a concurrent
			     reader could see it; through O_APPEND the kernel
			     writes at the end only */
	POP_TOUCH,        /* times set to now (utimensat with NULL or
			     UTIME_NOW; a touch): as POP_UTIMENS on a sealed
			     object, allowed on an append-only one, as
			     chattr +a allows it */
	POP_KILL_SETID,   /* the set-id bits a write or truncate clears: a
			     mode change refused on a sealed object, not on
			     an append-only one (Linux clears them on a +a
			     file too: the write it comes with is allowed) */
	POP__COUNT
};

void policy_rules_default(struct policy_rules *r);
int policy_plist_add_uid(struct policy_plist *l, uint32_t uid);
int policy_plist_add_gid(struct policy_plist *l, uint32_t gid);
int policy_in_plist(const struct policy_plist *l, const struct policy_caller *c);

/* mutable / locked / expired at compliance time now. An auth_failed record
 * counts as locked. A record with a retention mode but no sealed flag
 * (inconsistent) counts as expired: fail closed. */
enum worm_state policy_state(const struct policy_lock *lk, int64_t now);
/* 1 if locked (retention in force or hold ON or auth_failed). */
int policy_is_locked(const struct policy_lock *lk, int64_t now);
/* 1 if sealed (locked or expired): content and metadata frozen. */
int policy_is_sealed(const struct policy_lock *lk, int64_t now);

/* 1 if the content can never change again: sealed, and not an appendable
 * WORM object (append-only ON, record authenticated), whose committed
 * bytes are frozen but which may still grow at its end. */
int policy_content_frozen(const struct policy_lock *lk, int64_t now);
/* The op of a write of some bytes at off into an object of size bytes:
 * POP_WRITE at the end, POP_OVERWRITE anywhere else (below the end, or
 * past it, which would leave a hole). */
enum policy_op policy_write_op(uint64_t off, uint64_t size);

/* May caller do op on an object with this lock state? 0 or -EPERM; on
 * refusal *rule names the rule: "sealed-content" (content/metadata change
 * of a sealed object), "retention-in-force" / "legal-hold" (unlink of a
 * locked object), "locked-descendant" (POP_RENAME_DIR), "record-auth-failed",
 * "append-only" (chattr +a semantics: POP_OVERWRITE, POP_TRUNCATE,
 * POP_FALLOCATE, POP_UNLINK, POP_RENAME_SRC/DST on an append-only object;
 * on a sealed append-only object POP_OPEN_WRITE and POP_WRITE are
 * allowed, every other change is refused as sealed), "append-only-xattr"
 * (POP_SETXATTR, POP_REMOVEXATTR on a mutable append-only object: Linux
 * refuses every xattr change of a +a inode, and user.s3.meta holds the
 * ETag and headers S3 returns for the bytes), "append-only-attr"
 * (POP_CHMOD, POP_CHOWN, POP_UTIMENS on a mutable append-only object, as
 * Linux's setattr refuses mode, owner and explicit times of a +a inode;
 * POP_TOUCH and POP_KILL_SETID stay allowed there).
 * No caller bypasses these, root and bypass principals included. */
int policy_check(const struct policy_rules *r, const struct policy_caller *c,
		 const struct policy_lock *lk, enum policy_op op, int64_t now,
		 const char **rule);
const char *policy_op_name(enum policy_op op);

/* A requested retention change. remove = setfattr -x. */
struct policy_retention_req {
	int remove;
	int mode;             /* enum worm_mode (not NONE unless remove) */
	int64_t retain_until;
};

/* Retention change rules (design section 5): -EINVAL (date not later than
 * now or > 100 years ahead), -EBUSY (has_writers), -EPERM (shorten/remove/
 * downgrade not allowed, not the owner, no write permission, auth_failed),
 * else 0. owner_uid: the object's owner; can_write: caller has write
 * permission on the object (mode bits). */
/* Precedence: -EINVAL (bad request) > -EPERM (rules; -ENODATA for removing
 * a retention that does not exist) > -EBUSY (has_writers). Who may do what
 * ("lockers" = the object's owner, uid 0, governance-bypass principals;
 * like chmod, write permission alone is not enough, rule "not-object-owner"):
 * - no retention in force (none or expired): lockers with can_write set or
 *   remove it;
 * - GOVERNANCE in force: lockers with can_write extend (date >= current,
 *   mode GOVERNANCE or COMPLIANCE); shortening or removing: EPERM;
 * - COMPLIANCE in force: lockers with can_write extend keeping COMPLIANCE
 *   (an equal date counts); anything else EPERM for everyone;
 * - governance-bypass principals may make any valid change to a GOVERNANCE
 *   retention (in force or expired), without needing can_write (a sealed
 *   object's mode bits can no longer be changed to grant it).
 * Legal hold does not affect retention changes. */
int policy_retention_change(const struct policy_rules *r,
			    const struct policy_caller *c,
			    const struct policy_lock *cur,
			    const struct policy_retention_req *req,
			    uint32_t owner_uid, int can_write, int has_writers,
			    int64_t now, const char **rule);
/* Legal hold ON/OFF: legal-hold principals only (-EPERM); -EBUSY with open
 * writers when turning ON on an unsealed object; auth_failed -> -EPERM.
 * new_hold other than HOLD_ON/HOLD_OFF -> -EINVAL; OFF when unset is
 * allowed (idempotent). */
int policy_hold_change(const struct policy_rules *r,
		       const struct policy_caller *c,
		       const struct policy_lock *cur, int new_hold,
		       int has_writers, const char **rule);

/* user.worm.append-only ON (on=1) / OFF (on=0) on an object (design
 * section 15). Who: the object's owner, root or a governance-bypass
 * principal ("lockers", as for a retention), else -EPERM
 * "not-object-owner"; auth_failed -> -EPERM. ON: on a sealed object
 * -EPERM "sealed-content"; needs write permission (-EPERM
 * "no-write-permission"). OFF on a mutable object needs write permission
 * too (it lifts a protection); OFF on a sealed (appendable WORM) object
 * only finalizes it (an ordinary locked object from then on), so lockers
 * may do it without write permission, whatever the retention mode.
 * Setting the value in force is a no-op (0). Then -EBUSY while the
 * object has open writers, as for every lock change. */
int policy_append_change(const struct policy_rules *r, const struct policy_caller *c,
			 const struct policy_lock *cur, int on, uint32_t owner_uid,
			 int can_write, int has_writers, int64_t now, const char **rule);

/* The one framing of every written lock attribute value (retention, legal
 * hold, default retention, lock-config): 1..128 bytes; one trailing NUL is
 * tolerated (C callers passing sizeof), any other NUL is -EINVAL;
 * surrounding whitespace (space, tab, CR, LF) is ignored, so `echo`-style
 * values with a trailing newline and " ON" both work; a value that is only
 * whitespace is -EINVAL. Words inside are separated by spaces or tabs.
 * Gives the framed value (a slice of val) or -EINVAL. */
int policy_value_frame(const char *val, size_t len, const char **out, size_t *olen);

/* Parse a user.worm.retention value (framing above):
 * "MODE YYYY-MM-DDTHH:MM:SSZ" (RFC 3339) or "MODE +N[dhy]"
 * relative to now. MODE case-insensitive. Range checks are NOT done here
 * (policy_retention_change does them). 0 or -EINVAL.
 * "+N": N is 1..10 decimal digits, no sign; unit d/h/y (either case);
 * "+0d" parses (until = now) and is then refused by the range check.
 * In RFC 3339 a leap second :60 is read as :59 (see clock.h). */
int policy_parse_retention(const char *val, size_t len, int64_t now,
			   int *mode, int64_t *until);
/* user.worm.legal-hold: "ON" or "OFF", case-insensitive (framing above).
 * 0 or -EINVAL. */
int policy_parse_hold(const char *val, size_t len, int *hold);
/* "MODE YYYY-MM-DDTHH:MM:SSZ". All policy_format_*: -EINVAL for a value
 * that cannot be shown, -ERANGE if buf is too small. */
int policy_format_retention(int mode, int64_t until, char *buf, size_t len);
const char *policy_mode_name(int mode);   /* "GOVERNANCE"/"COMPLIANCE" */
const char *policy_state_name(enum worm_state s);

/* Bucket default retention "MODE Nd" / "MODE Ny" (1..36500 days or 1..100
 * years; a year = 365 days). Stored as days. */
struct policy_default {
	int mode;     /* WORM_NONE if unset */
	uint32_t days;
	int years;    /* 1 if it was given in years (for display) */
};
int policy_parse_default(const char *val, size_t len, struct policy_default *out);
int policy_format_default(const struct policy_default *d, char *buf, size_t len);

/* Bucket lock (Glacier Vault Lock). */
enum bucket_lock_state { BLOCK_UNLOCKED = 0, BLOCK_IN_PROGRESS = 1, BLOCK_LOCKED = 2 };
#define POLICY_LOCKID_LEN 16  /* hex chars */
#define POLICY_BUCKET_LOCK_TTL_S 86400
struct policy_bucket_lock {
	int state;                          /* enum bucket_lock_state */
	char lock_id[POLICY_LOCKID_LEN + 1];
	int64_t expires;                    /* for IN_PROGRESS */
};
/* Effective state at now: an IN_PROGRESS lock past expiry is UNLOCKED. */
int policy_bucket_lock_state(const struct policy_bucket_lock *b, int64_t now);
/* Change of a bucket's default retention (set when new != NULL, remove when
 * new == NULL). is_owner_or_root required (-EPERM); while the bucket lock
 * is IN_PROGRESS: no change at all, since completion locks exactly what was
 * initiated (-EPERM "bucket-lock-in-progress"; setting the identical value
 * is a no-op and allowed; abort first to change it); when LOCKED: no
 * removal, no shortening, no COMPLIANCE->GOVERNANCE (-EPERM). */
int policy_default_change(const struct policy_caller *c, int is_owner,
			  const struct policy_bucket_lock *bl,
			  const struct policy_default *cur,
			  const struct policy_default *newd, int64_t now,
			  const char **rule);
/* Start: needs a default retention set and state UNLOCKED (else -EINVAL /
 * -EBUSY if in progress, -EPERM if locked); fills lock_id (caller supplies
 * random hex, exactly POLICY_LOCKID_LEN chars, else -EINVAL; stored in
 * lowercase, compared case-insensitively) and expires = now + 24h; the lock
 * is in progress while now < expires. */
int policy_bucket_lock_start(struct policy_bucket_lock *b,
			     const struct policy_default *cur, const char *new_id,
			     int64_t now);
/* Complete with the right id within 24 h: LOCKED; wrong id -EINVAL; not in
 * progress/expired -EINVAL; no valid default retention (cur) -EINVAL. */
int policy_bucket_lock_complete(struct policy_bucket_lock *b,
				const struct policy_default *cur, const char *id,
				int64_t now);
/* Abort an in-progress lock: UNLOCKED; when locked -EPERM; when unlocked
 * -EINVAL. */
int policy_bucket_lock_abort(struct policy_bucket_lock *b, int64_t now);
/* A value written to user.worm.lock-config (framing as for retention):
 * "in-progress" starts (BREQ_START), "locked LOCKID" completes
 * (BREQ_COMPLETE; id gets the 16 characters, checked on completion),
 * "unlocked" aborts (BREQ_ABORT); words case-insensitive. 0 or -EINVAL. */
enum policy_block_req { BREQ_START = 1, BREQ_COMPLETE = 2, BREQ_ABORT = 3 };
int policy_parse_bucket_lock_req(const char *val, size_t len, int *req,
				 char id[POLICY_LOCKID_LEN + 1]);
/* A parsed lock-config request: the bucket owner or root only (-EPERM,
 * rule "bucket-owner-only"), then policy_bucket_lock_start (id: the fresh
 * random id), _complete (id: the caller's) or _abort; *rule names the step. */
int policy_bucket_lock_request(const struct policy_caller *c, int is_owner,
			       struct policy_bucket_lock *b,
			       const struct policy_default *cur, int req,
			       const char *id, int64_t now, const char **rule);
/* "unlocked" | "in-progress LOCKID YYYY-MM-DDTHH:MM:SSZ" | "locked" */
int policy_format_bucket_lock(const struct policy_bucket_lock *b, int64_t now,
			      char *buf, size_t len);

/* Bucket autocommit (design section 15), user.worm.autocommit:
 * "Ns", "Nm", "Nh" or "Nd" (unit either case, framing of policy_value_frame), from 1 s
 * to POLICY_AUTOCOMMIT_MAX_S (36500 days); "off" gives 0. 0 or -EINVAL. */
#define POLICY_AUTOCOMMIT_MAX_S ((uint32_t)36500 * 86400)
int policy_parse_autocommit(const char *val, size_t len, uint32_t *secs);
/* The largest unit that divides secs exactly, e.g. "10m", "90s", "7d". */
int policy_format_autocommit(uint32_t secs, char *buf, size_t len);
/* Change of a bucket's autocommit period from cur_s to new_s (0 = off):
 * the bucket owner or root (-EPERM "not-bucket-owner"); new_s out of range
 * -EINVAL; while the bucket lock is in progress no change (-EPERM
 * "bucket-lock-in-progress", the same value is a no-op); once it is
 * locked the lock may only land sooner: shortening, or off (back to the
 * commit at close) are allowed, setting or lengthening it is -EPERM
 * "bucket-locked". */
int policy_autocommit_change(const struct policy_caller *c, int is_owner,
			     const struct policy_bucket_lock *bl, uint32_t cur_s,
			     uint32_t new_s, int64_t now, const char **rule);
/* Is the bucket default applied at the last writer's release (design
 * section 4)? Not in an autocommit bucket: there the default lands when
 * the object has been idle for the period (policy_autocommit_deadline). */
int policy_default_at_close(int def_mode, uint32_t autocommit_s);
/* When an object idle (no write handle, no change) since `since` gets its
 * bucket default in a bucket with autocommit_s > 0. */
int64_t policy_autocommit_deadline(int64_t since, uint32_t autocommit_s);

/* user.worm.default-append-only ON/OFF on a bucket (objects created
 * afterwards get append-only ON): the bucket owner or root (-EPERM
 * "not-bucket-owner"); while the bucket lock is in progress no change
 * ("bucket-lock-in-progress"); once locked it may be turned ON, never OFF
 * ("bucket-locked"). Setting the value in force is a no-op (0). */
int policy_default_append_change(const struct policy_caller *c, int is_owner,
				 const struct policy_bucket_lock *bl, int cur_on, int new_on,
				 int64_t now, const char **rule);

#endif
