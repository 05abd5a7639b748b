/* policy: every Object Lock rule (design sections 4-6), pure.
 *
 * No I/O and no clock reads; see include/policy.h for the decisions taken
 * where the design is silent (error precedence, bypass powers, parsing). */
#include "policy.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VAL_MAX 128          /* longest accepted xattr value */
#define NUM_MAX_DIGITS 10    /* keeps N * seconds-per-year far from overflow */

void policy_rules_default(struct policy_rules *r)
{
	memset(r, 0, sizeof(*r));
	policy_plist_add_uid(&r->bypass, 0);
	policy_plist_add_uid(&r->hold, 0);
}

static int add_id(uint32_t *ids, size_t *n, uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return 0;
	if (*n >= POLICY_MAX_PRINCIPALS)
		return -ENOSPC;
	ids[(*n)++] = id;
	return 0;
}

int policy_plist_add_uid(struct policy_plist *l, uint32_t uid)
{
	return add_id(l->uids, &l->nuids, uid);
}

int policy_plist_add_gid(struct policy_plist *l, uint32_t gid)
{
	return add_id(l->gids, &l->ngids, gid);
}

int policy_in_plist(const struct policy_plist *l, const struct policy_caller *c)
{
	for (size_t i = 0; i < l->nuids; i++)
		if (l->uids[i] == c->uid)
			return 1;
	for (size_t i = 0; i < l->ngids; i++) {
		if (l->gids[i] == c->gid)
			return 1;
		for (size_t k = 0; c->groups && k < c->ngroups; k++)
			if (c->groups[k] == l->gids[i])
				return 1;
	}
	return 0;
}

static int retention_in_force(const struct policy_lock *lk, int64_t now)
{
	return lk->mode != WORM_NONE && lk->retain_until > now;
}

enum worm_state policy_state(const struct policy_lock *lk, int64_t now)
{
	if (lk->auth_failed || lk->hold == HOLD_ON || retention_in_force(lk, now))
		return STATE_LOCKED;
	/* A retention mode without the sealed flag is an inconsistent record:
	 * it was locked at some time, so fail closed and call it expired. */
	if (lk->sealed || lk->mode != WORM_NONE)
		return STATE_EXPIRED;
	return STATE_MUTABLE;
}

int policy_is_locked(const struct policy_lock *lk, int64_t now)
{
	return policy_state(lk, now) == STATE_LOCKED;
}

int policy_is_sealed(const struct policy_lock *lk, int64_t now)
{
	return policy_state(lk, now) != STATE_MUTABLE;
}

/* Why a locked object is locked, most fundamental reason first. */
static const char *lock_reason(const struct policy_lock *lk)
{
	if (lk->auth_failed)
		return "record-auth-failed";
	if (lk->hold == HOLD_ON)
		return "legal-hold";
	return "retention-in-force";
}

int policy_content_frozen(const struct policy_lock *lk, int64_t now)
{
	if (!policy_is_sealed(lk, now))
		return 0;
	return !(lk->append_only && !lk->auth_failed);
}

enum policy_op policy_write_op(uint64_t off, uint64_t size)
{
	return off == size ? POP_WRITE : POP_OVERWRITE;
}

int policy_check(const struct policy_rules *r, const struct policy_caller *c,
		 const struct policy_lock *lk, enum policy_op op, int64_t now,
		 const char **rule)
{
	/* Nobody bypasses these, root included: governance deletion is two
	 * steps (shorten/remove retention first), see policy_retention_change. */
	(void)r;
	(void)c;
	enum worm_state st = policy_state(lk, now);
	const char *why = NULL;
	/* chattr +a: a failed record is never trusted to say "append-only". */
	int append = lk->append_only && !lk->auth_failed;
	const char *sealed = lk->auth_failed ? "record-auth-failed" : "sealed-content";

	switch (op) {
	case POP_OPEN_WRITE:
	case POP_WRITE:
		/* An appendable WORM object grows at its end; the committed
		 * bytes stay as they are (POP_OVERWRITE below). */
		if (st != STATE_MUTABLE && !append)
			why = sealed;
		break;
	case POP_OVERWRITE:
	case POP_OPEN_OVERWRITE:
	case POP_TRUNCATE:
	case POP_FALLOCATE:
	case POP_RENAME_SRC:
	case POP_RENAME_DST:
		if (st != STATE_MUTABLE)
			why = sealed;
		else if (append)
			why = "append-only";
		break;
	case POP_CHMOD:
	case POP_CHOWN:
	case POP_UTIMENS:
	case POP_SETXATTR:
	case POP_REMOVEXATTR:
		/* chattr +a: fs/attr.c refuses ATTR_MODE, ATTR_UID, ATTR_GID
		 * and ATTR_TIMES_SET on an IS_APPEND inode, fs/xattr.c every
		 * xattr change (here also the ETag S3 serves). */
		if (st != STATE_MUTABLE)
			why = sealed;
		else if (append)
			why = op == POP_SETXATTR || op == POP_REMOVEXATTR ? "append-only-xattr"
									 : "append-only-attr";
		break;
	case POP_TOUCH:
	case POP_KILL_SETID:
		if (st != STATE_MUTABLE)
			why = sealed;
		break;
	case POP_UNLINK:
		if (st == STATE_LOCKED)
			why = lock_reason(lk);
		else if (append)
			why = "append-only";
		break;
	case POP_RENAME_DIR:
		if (st == STATE_LOCKED)
			why = lk->auth_failed ? "record-auth-failed" : "locked-descendant";
		break;
	default:
		why = "unknown-operation";   /* fail closed */
		break;
	}
	if (!why)
		return 0;
	if (rule)
		*rule = why;
	return -EPERM;
}

const char *policy_op_name(enum policy_op op)
{
	static const char *const names[POP__COUNT] = {
		[POP_OPEN_WRITE] = "open-write", [POP_WRITE] = "write",
		[POP_TRUNCATE] = "truncate", [POP_FALLOCATE] = "fallocate",
		[POP_CHMOD] = "chmod", [POP_CHOWN] = "chown",
		[POP_UTIMENS] = "utimens", [POP_SETXATTR] = "setxattr",
		[POP_REMOVEXATTR] = "removexattr", [POP_UNLINK] = "unlink",
		[POP_RENAME_SRC] = "rename", [POP_RENAME_DST] = "rename-target",
		[POP_RENAME_DIR] = "rename-dir", [POP_OVERWRITE] = "overwrite",
		[POP_OPEN_OVERWRITE] = "open-write-not-append",
		[POP_TOUCH] = "utimens-now", [POP_KILL_SETID] = "kill-setid",
	};
	if ((int)op < 0 || op >= POP__COUNT)
		return "unknown";
	return names[op];
}

static int refuse(const char **rule, const char *why, int err)
{
	if (rule)
		*rule = why;
	return err;
}

static int valid_mode(int mode)
{
	return mode == WORM_GOVERNANCE || mode == WORM_COMPLIANCE;
}

int policy_retention_change(const struct policy_rules *r,
			    const struct policy_caller *c,
			    const struct policy_lock *cur,
			    const struct policy_retention_req *req,
			    uint32_t owner_uid, int can_write, int has_writers,
			    int64_t now, const char **rule)
{
	int bypass = policy_in_plist(&r->bypass, c);
	int in_force = retention_in_force(cur, now);
	/* Like chmod: a retention is permanent, so write permission alone
	 * does not let anyone lock someone else's object. */
	int may_lock = bypass || c->uid == 0 || c->uid == owner_uid;

	/* 1. EINVAL: the request itself. */
	if (!req->remove) {
		if (!valid_mode(req->mode))
			return refuse(rule, "bad-mode", -EINVAL);
		if (req->retain_until <= now)
			return refuse(rule, "retain-until-not-future", -EINVAL);
		if (now <= INT64_MAX - POLICY_MAX_AHEAD_S &&
		    req->retain_until > now + POLICY_MAX_AHEAD_S)
			return refuse(rule, "retain-until-too-far", -EINVAL);
	}
	/* 2. EPERM (and ENODATA for removing nothing): the rules. */
	if (cur->auth_failed)
		return refuse(rule, "record-auth-failed", -EPERM);
	if (req->remove && cur->mode == WORM_NONE)
		return refuse(rule, "no-retention", -ENODATA);
	if (cur->mode == WORM_GOVERNANCE && bypass) {
		/* Bypass principals hold every power over GOVERNANCE retention:
		 * shorten, remove, or set any valid mode and date. */
	} else {
		/* What the retention in force allows at all, then who asks. */
		if (in_force && cur->mode == WORM_COMPLIANCE &&
		    (req->remove || req->mode != WORM_COMPLIANCE ||
		     req->retain_until < cur->retain_until))
			return refuse(rule, "compliance-retention", -EPERM);
		/* GOVERNANCE in force, caller without bypass: extend only. */
		if (in_force && cur->mode == WORM_GOVERNANCE &&
		    (req->remove || req->retain_until < cur->retain_until))
			return refuse(rule, "governance-retention", -EPERM);
		if (!may_lock)
			return refuse(rule, "not-object-owner", -EPERM);
		if (!can_write)
			return refuse(rule, "no-write-permission", -EPERM);
	}
	/* 3. EBUSY: allowed, but not while someone is writing. */
	if (has_writers)
		return refuse(rule, "open-writers", -EBUSY);
	return 0;
}

int policy_hold_change(const struct policy_rules *r,
		       const struct policy_caller *c,
		       const struct policy_lock *cur, int new_hold,
		       int has_writers, const char **rule)
{
	if (new_hold != HOLD_ON && new_hold != HOLD_OFF)
		return refuse(rule, "bad-hold", -EINVAL);
	if (!policy_in_plist(&r->hold, c))
		return refuse(rule, "not-hold-principal", -EPERM);
	if (cur->auth_failed)
		return refuse(rule, "record-auth-failed", -EPERM);
	if (new_hold == HOLD_ON && has_writers)
		return refuse(rule, "open-writers", -EBUSY);
	return 0;
}

int policy_append_change(const struct policy_rules *r, const struct policy_caller *c,
			 const struct policy_lock *cur, int on, uint32_t owner_uid,
			 int can_write, int has_writers, int64_t now, const char **rule)
{
	int sealed = policy_is_sealed(cur, now);

	if (on != 0 && on != 1)
		return refuse(rule, "bad-append-only", -EINVAL);
	if (cur->auth_failed)
		return refuse(rule, "record-auth-failed", -EPERM);
	if (!policy_in_plist(&r->bypass, c) && c->uid != 0 && c->uid != owner_uid)
		return refuse(rule, "not-object-owner", -EPERM);
	if (!!cur->append_only == on)
		return 0;
	if (on && sealed)
		return refuse(rule, "sealed-content", -EPERM);
	/* OFF on a sealed object freezes what is there: no permission bits
	 * needed (a sealed object's mode can no longer grant them). */
	if (!can_write && !(sealed && !on))
		return refuse(rule, "no-write-permission", -EPERM);
	if (has_writers)
		return refuse(rule, "open-writers", -EBUSY);
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int policy_value_frame(const char *val, size_t len, const char **out, size_t *olen)
{
	if (!val || len == 0 || len > VAL_MAX)
		return -EINVAL;
	if (val[len - 1] == '\0')
		len--;
	if (memchr(val, '\0', len))
		return -EINVAL;
	size_t b = 0, e = len;
	while (b < e && is_blank(val[b]))
		b++;
	while (e > b && is_blank(val[e - 1]))
		e--;
	if (b == e)
		return -EINVAL;
	*out = val + b;
	*olen = e - b;
	return 0;
}

/* Case-insensitive match of s[0..len) against a lowercase word. */
static int word_is(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word), j;
	if (len != wl)
		return 0;
	for (j = 0; j < wl && lower(s[j]) == word[j]; j++)
		;
	return j == wl;
}

/* Splits a framed value into "WORD<spaces/tabs>REST" (rlen 0: no REST).
 * Only spaces and tabs separate: a CR or LF after WORD is -EINVAL (inside
 * REST the caller's parser refuses it). */
static int split_word(const char *v, size_t len, size_t *wlen,
		      const char **rest, size_t *rlen)
{
	size_t m = 0;
	while (m < len && !is_blank(v[m]))
		m++;
	size_t r = m;
	while (r < len && (v[r] == ' ' || v[r] == '\t'))
		r++;
	if (r < len && is_blank(v[r]))
		return -EINVAL;
	*wlen = m;
	*rest = v + r;
	*rlen = len - r;
	return 0;
}

/* "MODE<blanks>REST" after the common framing. */
static int split_value(const char *val, size_t len, int *mode,
		       const char **rest, size_t *rlen)
{
	const char *v;
	size_t vl, ml;
	int rc = policy_value_frame(val, len, &v, &vl);
	if (rc)
		return rc;
	if (split_word(v, vl, &ml, rest, rlen))
		return -EINVAL;
	if (word_is(v, ml, "governance"))
		*mode = WORM_GOVERNANCE;
	else if (word_is(v, ml, "compliance"))
		*mode = WORM_COMPLIANCE;
	else
		return -EINVAL;
	if (*rlen == 0)
		return -EINVAL;
	return 0;
}

int policy_parse_hold(const char *val, size_t len, int *hold)
{
	const char *v;
	size_t vl;
	int rc = policy_value_frame(val, len, &v, &vl);
	if (rc)
		return rc;
	if (word_is(v, vl, "on"))
		*hold = HOLD_ON;
	else if (word_is(v, vl, "off"))
		*hold = HOLD_OFF;
	else
		return -EINVAL;
	return 0;
}

int policy_parse_bucket_lock_req(const char *val, size_t len, int *req,
				 char id[POLICY_LOCKID_LEN + 1])
{
	const char *v, *rest;
	size_t vl, wl, rl;
	int rc = policy_value_frame(val, len, &v, &vl);
	if (rc)
		return rc;
	if (split_word(v, vl, &wl, &rest, &rl))
		return -EINVAL;
	if (rl == 0 && word_is(v, wl, "in-progress")) {
		*req = BREQ_START;
	} else if (rl == 0 && word_is(v, wl, "unlocked")) {
		*req = BREQ_ABORT;
	} else if (rl == POLICY_LOCKID_LEN && word_is(v, wl, "locked")) {
		/* The id's digits are checked by policy_bucket_lock_complete. */
		memcpy(id, rest, POLICY_LOCKID_LEN);
		id[POLICY_LOCKID_LEN] = '\0';
		*req = BREQ_COMPLETE;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* "N" + one unit letter from units (case-insensitive); N decimal, at most
 * NUM_MAX_DIGITS digits, no sign. */
static int parse_count(const char *s, size_t len, const char *units,
		       int64_t *n, char *unit)
{
	if (len < 2 || len - 1 > NUM_MAX_DIGITS)
		return -EINVAL;
	int64_t v = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	char u = lower(s[len - 1]);
	if (u == '\0' || !strchr(units, u))
		return -EINVAL;
	*n = v;
	*unit = u;
	return 0;
}

int policy_parse_retention(const char *val, size_t len, int64_t now,
			   int *mode, int64_t *until)
{
	const char *rest;
	size_t rlen;
	int md, rc;
	int64_t t;

	rc = split_value(val, len, &md, &rest, &rlen);
	if (rc)
		return rc;
	if (rest[0] == '+') {
		int64_t n, unit_s;
		char u;
		if (parse_count(rest + 1, rlen - 1, "dhy", &n, &u))
			return -EINVAL;
		unit_s = u == 'h' ? 3600 : u == 'd' ? 86400 : 365 * 86400;
		/* n < 10^10, so n * unit_s < 3.2e17: only the sum can overflow. */
		if (__builtin_add_overflow(now, n * unit_s, &t))
			return -EINVAL;
	} else {
		/* A fraction rounds up: never shorter than asked. */
		if (clock_parse_rfc3339_ceil(rest, rlen, &t))
			return -EINVAL;
	}
	*mode = md;
	*until = t;
	return 0;
}

int policy_format_retention(int mode, int64_t until, char *buf, size_t len)
{
	char ts[32];
	if (!valid_mode(mode) || clock_format_rfc3339(until, ts, sizeof(ts)))
		return -EINVAL;
	int n = snprintf(buf, len, "%s %s", policy_mode_name(mode), ts);
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

const char *policy_mode_name(int mode)
{
	switch (mode) {
	case WORM_GOVERNANCE: return "GOVERNANCE";
	case WORM_COMPLIANCE: return "COMPLIANCE";
	default: return "NONE";
	}
}

const char *policy_state_name(enum worm_state s)
{
	switch (s) {
	case STATE_MUTABLE: return "mutable";
	case STATE_LOCKED: return "locked";
	case STATE_EXPIRED: return "expired";
	default: return "unknown";
	}
}

/* ---- bucket default retention ----------------------------------------- */

int policy_parse_default(const char *val, size_t len, struct policy_default *out)
{
	const char *rest;
	size_t rlen;
	int md, rc;
	int64_t n;
	char u;

	rc = split_value(val, len, &md, &rest, &rlen);
	if (rc)
		return rc;
	if (parse_count(rest, rlen, "dy", &n, &u))
		return -EINVAL;
	if (u == 'y' ? (n < 1 || n > POLICY_MAX_YEARS) : (n < 1 || n > 36500))
		return -EINVAL;
	out->mode = md;
	out->years = u == 'y';
	out->days = (uint32_t)(u == 'y' ? n * 365 : n);
	return 0;
}

static int valid_default(const struct policy_default *d)
{
	return valid_mode(d->mode) && d->days >= 1 && d->days <= 36500;
}

int policy_format_default(const struct policy_default *d, char *buf, size_t len)
{
	int n;
	if (!valid_default(d))
		return -EINVAL;
	if (d->years && d->days % 365 == 0)
		n = snprintf(buf, len, "%s %uy", policy_mode_name(d->mode), d->days / 365);
	else
		n = snprintf(buf, len, "%s %ud", policy_mode_name(d->mode), d->days);
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

/* ---- bucket lock ------------------------------------------------------ */

int policy_bucket_lock_state(const struct policy_bucket_lock *b, int64_t now)
{
	switch (b->state) {
	case BLOCK_LOCKED:
		return BLOCK_LOCKED;
	case BLOCK_IN_PROGRESS:
		return now < b->expires ? BLOCK_IN_PROGRESS : BLOCK_UNLOCKED;
	default:
		return BLOCK_UNLOCKED;
	}
}

int policy_default_change(const struct policy_caller *c, int is_owner,
			  const struct policy_bucket_lock *bl,
			  const struct policy_default *cur,
			  const struct policy_default *newd, int64_t now,
			  const char **rule)
{
	if (newd && !valid_default(newd))
		return refuse(rule, "bad-default-retention", -EINVAL);
	if (!is_owner && c->uid != 0)
		return refuse(rule, "not-bucket-owner", -EPERM);
	int st = policy_bucket_lock_state(bl, now);
	if (st == BLOCK_IN_PROGRESS) {
		/* Completion locks exactly the default that was initiated
		 * (Glacier Vault Lock): to change it, abort and start again.
		 * Re-setting the same value changes nothing and is allowed. */
		if (newd && newd->mode == cur->mode && newd->days == cur->days &&
		    !newd->years == !cur->years)
			return 0;
		return refuse(rule, "bucket-lock-in-progress", -EPERM);
	}
	if (st != BLOCK_LOCKED || cur->mode == WORM_NONE)
		return 0;
	if (!newd)
		return refuse(rule, "bucket-locked", -EPERM);
	if (newd->days < cur->days)
		return refuse(rule, "bucket-locked", -EPERM);
	if (cur->mode == WORM_COMPLIANCE && newd->mode != WORM_COMPLIANCE)
		return refuse(rule, "bucket-locked", -EPERM);
	return 0;
}

static int valid_lock_id(const char *id)
{
	if (!id || strnlen(id, POLICY_LOCKID_LEN + 1) != POLICY_LOCKID_LEN)
		return 0;
	for (size_t i = 0; i < POLICY_LOCKID_LEN; i++) {
		char ch = lower(id[i]);
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
	}
	return 1;
}

int policy_bucket_lock_start(struct policy_bucket_lock *b,
			     const struct policy_default *cur, const char *new_id,
			     int64_t now)
{
	int st = policy_bucket_lock_state(b, now);
	if (st == BLOCK_LOCKED)
		return -EPERM;
	if (st == BLOCK_IN_PROGRESS)
		return -EBUSY;
	if (!cur || !valid_default(cur) || !valid_lock_id(new_id) ||
	    now > INT64_MAX - POLICY_BUCKET_LOCK_TTL_S)
		return -EINVAL;
	b->state = BLOCK_IN_PROGRESS;
	for (size_t i = 0; i < POLICY_LOCKID_LEN; i++)
		b->lock_id[i] = lower(new_id[i]);
	b->lock_id[POLICY_LOCKID_LEN] = '\0';
	b->expires = now + POLICY_BUCKET_LOCK_TTL_S;
	return 0;
}

int policy_bucket_lock_complete(struct policy_bucket_lock *b,
				const struct policy_default *cur, const char *id,
				int64_t now)
{
	if (policy_bucket_lock_state(b, now) != BLOCK_IN_PROGRESS || !valid_lock_id(id))
		return -EINVAL;
	/* Never lock a bucket without a default (a record from before
	 * default changes were refused while in progress). */
	if (!cur || !valid_default(cur))
		return -EINVAL;
	for (size_t i = 0; i < POLICY_LOCKID_LEN; i++)
		if (lower(id[i]) != lower(b->lock_id[i]))
			return -EINVAL;
	b->state = BLOCK_LOCKED;
	memset(b->lock_id, 0, sizeof(b->lock_id));
	b->expires = 0;
	return 0;
}

int policy_bucket_lock_abort(struct policy_bucket_lock *b, int64_t now)
{
	int st = policy_bucket_lock_state(b, now);
	if (st == BLOCK_LOCKED)
		return -EPERM;
	if (st == BLOCK_UNLOCKED)
		return -EINVAL;
	b->state = BLOCK_UNLOCKED;
	memset(b->lock_id, 0, sizeof(b->lock_id));
	b->expires = 0;
	return 0;
}

int policy_bucket_lock_request(const struct policy_caller *c, int is_owner,
			       struct policy_bucket_lock *b,
			       const struct policy_default *cur, int req,
			       const char *id, int64_t now, const char **rule)
{
	if (!is_owner && c->uid != 0)
		return refuse(rule, "bucket-owner-only", -EPERM);
	if (req == BREQ_START) {
		if (rule)
			*rule = "bucket-lock-start";
		return policy_bucket_lock_start(b, cur, id, now);
	}
	if (req == BREQ_COMPLETE) {
		if (rule)
			*rule = "bucket-lock-complete";
		return policy_bucket_lock_complete(b, cur, id, now);
	}
	if (req == BREQ_ABORT) {
		if (rule)
			*rule = "bucket-lock-abort";
		return policy_bucket_lock_abort(b, now);
	}
	return refuse(rule, "bad-lock-config", -EINVAL);
}

int policy_format_bucket_lock(const struct policy_bucket_lock *b, int64_t now,
			      char *buf, size_t len)
{
	char ts[32];
	int n;
	switch (policy_bucket_lock_state(b, now)) {
	case BLOCK_LOCKED:
		n = snprintf(buf, len, "locked");
		break;
	case BLOCK_IN_PROGRESS:
		if (!valid_lock_id(b->lock_id) || clock_format_rfc3339(b->expires, ts, sizeof(ts)))
			return -EINVAL;
		n = snprintf(buf, len, "in-progress %s %s", b->lock_id, ts);
		break;
	default:
		n = snprintf(buf, len, "unlocked");
		break;
	}
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

/* ---- autocommit (design section 15) ------------------------------------ */

int policy_parse_autocommit(const char *val, size_t len, uint32_t *secs)
{
	const char *v;
	size_t vl;
	int64_t n, unit_s;
	char u;
	int rc = policy_value_frame(val, len, &v, &vl);

	if (rc)
		return rc;
	if (word_is(v, vl, "off")) {
		*secs = 0;
		return 0;
	}
	if (parse_count(v, vl, "smhd", &n, &u))
		return -EINVAL;
	unit_s = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 86400;
	/* n < 10^10: n * 86400 < 8.7e14, no overflow. */
	if (n < 1 || n * unit_s > (int64_t)POLICY_AUTOCOMMIT_MAX_S)
		return -EINVAL;
	*secs = (uint32_t)(n * unit_s);
	return 0;
}

int policy_format_autocommit(uint32_t secs, char *buf, size_t len)
{
	static const struct { uint32_t s; char u; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	int n = -1;

	if (secs < 1 || secs > POLICY_AUTOCOMMIT_MAX_S)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (secs % units[i].s == 0) {
			n = snprintf(buf, len, "%u%c", secs / units[i].s, units[i].u);
			break;
		}
	}
	if (n < 0 || (size_t)n >= len)
		return -ERANGE;
	return 0;
}

int policy_autocommit_change(const struct policy_caller *c, int is_owner,
			     const struct policy_bucket_lock *bl, uint32_t cur_s,
			     uint32_t new_s, int64_t now, const char **rule)
{
	if (new_s > POLICY_AUTOCOMMIT_MAX_S)
		return refuse(rule, "bad-autocommit", -EINVAL);
	if (!is_owner && c->uid != 0)
		return refuse(rule, "not-bucket-owner", -EPERM);
	int st = policy_bucket_lock_state(bl, now);
	if (st == BLOCK_IN_PROGRESS && new_s != cur_s)
		return refuse(rule, "bucket-lock-in-progress", -EPERM);
	/* A locked bucket's objects may be locked sooner, never later: off
	 * is the commit at close, the soonest. */
	if (st == BLOCK_LOCKED && new_s != 0 && (cur_s == 0 || new_s > cur_s))
		return refuse(rule, "bucket-locked", -EPERM);
	return 0;
}

int policy_default_at_close(int def_mode, uint32_t autocommit_s)
{
	return def_mode != WORM_NONE && autocommit_s == 0;
}

int64_t policy_autocommit_deadline(int64_t since, uint32_t autocommit_s)
{
	int64_t d;
	if (__builtin_add_overflow(since, (int64_t)autocommit_s, &d))
		return INT64_MAX;
	return d;
}

int policy_default_append_change(const struct policy_caller *c, int is_owner,
				 const struct policy_bucket_lock *bl, int cur_on, int new_on,
				 int64_t now, const char **rule)
{
	if (!is_owner && c->uid != 0)
		return refuse(rule, "not-bucket-owner", -EPERM);
	if (!cur_on == !new_on)
		return 0;
	int st = policy_bucket_lock_state(bl, now);
	if (st == BLOCK_IN_PROGRESS)
		return refuse(rule, "bucket-lock-in-progress", -EPERM);
	if (st == BLOCK_LOCKED && !new_on)
		return refuse(rule, "bucket-locked", -EPERM);
	return 0;
}
