/* Unit tests for policy: every Object Lock rule, one Test per rule, plus a
 * matrix over operations x lock states x callers. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "policy.h"

#define NOW ((int64_t)1900000000)   /* 2030-03-17 */
#define DAY ((int64_t)86400)

/* ---- fixtures --------------------------------------------------------- */

static struct policy_rules rules(void)
{
	struct policy_rules r;
	policy_rules_default(&r);
	policy_plist_add_gid(&r.bypass, 50);   /* group:wormadmin */
	return r;
}

static const uint32_t admin_groups[] = { 10, 50 };
static const uint32_t user_groups[] = { 100 };

enum { C_OWNER, C_OTHER, C_ROOT, C_BYPASS, C_WRITER, C__N };
static const struct policy_caller callers[C__N] = {
	[C_OWNER] = { 1000, 100, user_groups, 1 },
	[C_OTHER] = { 1001, 100, user_groups, 1 },
	[C_ROOT] = { 0, 0, NULL, 0 },
	[C_BYPASS] = { 1002, 100, admin_groups, 2 },
	[C_WRITER] = { 1003, 100, user_groups, 1 },
};
#define OWNER_UID 1000
/* The object is owned by uid 1000, 0644 for everyone but the writer, which
 * has write permission through some other grant (e.g. an ACL): who has
 * write permission. */
static const int can_write[C__N] = { 1, 0, 1, 0, 1 };
static const char *const caller_names[C__N] = { "owner", "other", "root", "bypass", "writer" };

enum { S_MUTABLE, S_GOV, S_COMP, S_HOLD, S_EXPIRED, S_AUTHFAIL, S__N };
static const struct policy_lock states[S__N] = {
	[S_MUTABLE] = { WORM_NONE, 0, HOLD_UNSET, 0, 0 },
	[S_GOV] = { WORM_GOVERNANCE, NOW + 1000, HOLD_UNSET, 1, 0 },
	[S_COMP] = { WORM_COMPLIANCE, NOW + 1000, HOLD_UNSET, 1, 0 },
	[S_HOLD] = { WORM_NONE, 0, HOLD_ON, 1, 0 },
	[S_EXPIRED] = { WORM_GOVERNANCE, NOW - 1000, HOLD_OFF, 1, 0 },
	[S_AUTHFAIL] = { WORM_NONE, 0, HOLD_UNSET, 0, 1 },
};
static const char *const state_names[S__N] = {
	"mutable", "governance", "compliance", "hold", "expired", "auth-failed"
};

static int set_ret(const struct policy_rules *r, int caller, const struct policy_lock *cur,
		   int mode, int64_t until, int writers, const char **rule)
{
	struct policy_retention_req q = { 0, mode, until };
	return policy_retention_change(r, &callers[caller], cur, &q, OWNER_UID,
				       can_write[caller], writers, NOW, rule);
}

static int rm_ret(const struct policy_rules *r, int caller, const struct policy_lock *cur,
		  const char **rule)
{
	struct policy_retention_req q = { 1, WORM_NONE, 0 };
	return policy_retention_change(r, &callers[caller], cur, &q, OWNER_UID,
				       can_write[caller], 0, NOW, rule);
}

/* ---- state ------------------------------------------------------------ */

Test(policy_state, mutable_never_locked)
{
	cr_assert_eq(policy_state(&states[S_MUTABLE], NOW), STATE_MUTABLE);
	cr_assert_eq(policy_is_sealed(&states[S_MUTABLE], NOW), 0);
	cr_assert_eq(policy_is_locked(&states[S_MUTABLE], NOW), 0);
}

Test(policy_state, retention_in_force_is_locked)
{
	cr_assert_eq(policy_state(&states[S_GOV], NOW), STATE_LOCKED);
	cr_assert_eq(policy_state(&states[S_COMP], NOW), STATE_LOCKED);
	cr_assert_eq(policy_is_locked(&states[S_GOV], NOW), 1);
	cr_assert_eq(policy_is_sealed(&states[S_GOV], NOW), 1);
}

Test(policy_state, retain_until_equal_now_is_expired)
{
	/* "later than the clock": at retain_until itself it has expired. */
	struct policy_lock lk = states[S_GOV];
	cr_assert_eq(policy_state(&lk, lk.retain_until - 1), STATE_LOCKED);
	cr_assert_eq(policy_state(&lk, lk.retain_until), STATE_EXPIRED);
	cr_assert_eq(policy_state(&lk, lk.retain_until + 1), STATE_EXPIRED);
}

Test(policy_state, legal_hold_is_locked)
{
	cr_assert_eq(policy_state(&states[S_HOLD], NOW), STATE_LOCKED);
	struct policy_lock lk = states[S_EXPIRED];
	lk.hold = HOLD_ON;
	cr_assert_eq(policy_state(&lk, NOW), STATE_LOCKED);
	lk.hold = HOLD_OFF;
	cr_assert_eq(policy_state(&lk, NOW), STATE_EXPIRED);
}

Test(policy_state, auth_failed_is_locked)
{
	cr_assert_eq(policy_state(&states[S_AUTHFAIL], NOW), STATE_LOCKED);
	struct policy_lock lk = states[S_EXPIRED];
	lk.auth_failed = 1;
	cr_assert_eq(policy_state(&lk, NOW), STATE_LOCKED);
}

Test(policy_state, expired_stays_sealed)
{
	cr_assert_eq(policy_state(&states[S_EXPIRED], NOW), STATE_EXPIRED);
	cr_assert_eq(policy_is_sealed(&states[S_EXPIRED], NOW), 1);
	cr_assert_eq(policy_is_locked(&states[S_EXPIRED], NOW), 0);
	/* A hold released on an object without retention: expired too. */
	struct policy_lock lk = { WORM_NONE, 0, HOLD_OFF, 1, 0, 0 };
	cr_assert_eq(policy_state(&lk, NOW), STATE_EXPIRED);
}

Test(policy_state, retention_without_sealed_flag_fails_closed)
{
	struct policy_lock lk = { WORM_GOVERNANCE, NOW - 5, HOLD_UNSET, 0, 0, 0 };
	cr_assert_eq(policy_state(&lk, NOW), STATE_EXPIRED);
}

Test(policy_state, names)
{
	cr_assert_str_eq(policy_state_name(STATE_MUTABLE), "mutable");
	cr_assert_str_eq(policy_state_name(STATE_LOCKED), "locked");
	cr_assert_str_eq(policy_state_name(STATE_EXPIRED), "expired");
	cr_assert_str_eq(policy_mode_name(WORM_GOVERNANCE), "GOVERNANCE");
	cr_assert_str_eq(policy_mode_name(WORM_COMPLIANCE), "COMPLIANCE");
	cr_assert_str_eq(policy_op_name(POP_UNLINK), "unlink");
	cr_assert_str_eq(policy_op_name(POP__COUNT), "unknown");
	for (int op = 0; op < POP__COUNT; op++)
		cr_assert_not_null(policy_op_name(op));
}

/* ---- principals ------------------------------------------------------- */

Test(policy_plist, default_is_root_only)
{
	struct policy_rules r;
	policy_rules_default(&r);
	cr_assert_eq(policy_in_plist(&r.bypass, &callers[C_ROOT]), 1);
	cr_assert_eq(policy_in_plist(&r.hold, &callers[C_ROOT]), 1);
	cr_assert_eq(policy_in_plist(&r.bypass, &callers[C_OWNER]), 0);
	cr_assert_eq(policy_in_plist(&r.bypass, &callers[C_BYPASS]), 0);
}

Test(policy_plist, uid_primary_gid_and_supplementary_groups)
{
	struct policy_plist l;
	memset(&l, 0, sizeof(l));
	cr_assert_eq(policy_plist_add_uid(&l, 1001), 0);
	cr_assert_eq(policy_plist_add_gid(&l, 50), 0);
	cr_assert_eq(policy_in_plist(&l, &callers[C_OTHER]), 1);    /* uid */
	cr_assert_eq(policy_in_plist(&l, &callers[C_BYPASS]), 1);   /* supplementary */
	cr_assert_eq(policy_in_plist(&l, &callers[C_OWNER]), 0);
	cr_assert_eq(policy_in_plist(&l, &callers[C_ROOT]), 0);     /* root not implied */
	struct policy_caller prim = { 2000, 50, NULL, 0 };
	cr_assert_eq(policy_in_plist(&l, &prim), 1);                /* primary gid */
}

Test(policy_plist, full_list_and_duplicates)
{
	struct policy_plist l;
	memset(&l, 0, sizeof(l));
	for (uint32_t i = 0; i < POLICY_MAX_PRINCIPALS; i++)
		cr_assert_eq(policy_plist_add_uid(&l, i + 10), 0);
	cr_assert_eq(policy_plist_add_uid(&l, 10), 0);   /* already there */
	cr_assert_eq(policy_plist_add_uid(&l, 9999), -ENOSPC);
	cr_assert_eq(l.nuids, POLICY_MAX_PRINCIPALS);
}

/* ---- policy_check, rule by rule --------------------------------------- */

static int check(int state, enum policy_op op, const char **rule)
{
	struct policy_rules r = rules();
	return policy_check(&r, &callers[C_OWNER], &states[state], op, NOW, rule);
}

Test(policy_check, sealed_content_refuses_writes)
{
	const char *rule = NULL;
	cr_assert_eq(check(S_GOV, POP_WRITE, &rule), -EPERM);
	cr_assert_str_eq(rule, "sealed-content");
	rule = NULL;
	cr_assert_eq(check(S_EXPIRED, POP_OPEN_WRITE, &rule), -EPERM);
	cr_assert_str_eq(rule, "sealed-content");
}

Test(policy_check, expired_may_be_unlinked)
{
	cr_assert_eq(check(S_EXPIRED, POP_UNLINK, NULL), 0);
}

Test(policy_check, retention_in_force_blocks_unlink)
{
	const char *rule = NULL;
	cr_assert_eq(check(S_COMP, POP_UNLINK, &rule), -EPERM);
	cr_assert_str_eq(rule, "retention-in-force");
}

Test(policy_check, legal_hold_blocks_unlink)
{
	const char *rule = NULL;
	struct policy_lock lk = states[S_EXPIRED];
	lk.hold = HOLD_ON;
	struct policy_rules r = rules();
	cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_UNLINK, NOW, &rule), -EPERM);
	cr_assert_str_eq(rule, "legal-hold");
}

Test(policy_check, auth_failed_blocks_everything)
{
	const char *rule = NULL;
	for (int op = 0; op < POP__COUNT; op++) {
		rule = NULL;
		cr_assert_eq(check(S_AUTHFAIL, op, &rule), -EPERM, "%s", policy_op_name(op));
		cr_assert_str_eq(rule, "record-auth-failed");
	}
}

Test(policy_check, rename_dir_with_locked_descendant)
{
	const char *rule = NULL;
	cr_assert_eq(check(S_HOLD, POP_RENAME_DIR, &rule), -EPERM);
	cr_assert_str_eq(rule, "locked-descendant");
	cr_assert_eq(check(S_EXPIRED, POP_RENAME_DIR, NULL), 0);
	cr_assert_eq(check(S_MUTABLE, POP_RENAME_DIR, NULL), 0);
}

Test(policy_check, root_does_not_bypass)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(policy_check(&r, &callers[C_ROOT], &states[S_GOV], POP_UNLINK, NOW, &rule),
		     -EPERM);
	cr_assert_eq(policy_check(&r, &callers[C_BYPASS], &states[S_GOV], POP_UNLINK, NOW,
				  &rule), -EPERM);
}

Test(policy_check, lock_expires_with_the_clock)
{
	struct policy_rules r = rules();
	const struct policy_lock *lk = &states[S_GOV];
	cr_assert_eq(policy_check(&r, &callers[C_OWNER], lk, POP_UNLINK, lk->retain_until - 1,
				  NULL), -EPERM);
	cr_assert_eq(policy_check(&r, &callers[C_OWNER], lk, POP_UNLINK, lk->retain_until,
				  NULL), 0);
	cr_assert_eq(policy_check(&r, &callers[C_OWNER], lk, POP_WRITE, lk->retain_until,
				  NULL), -EPERM);
}

Test(policy_check, unknown_op_fails_closed)
{
	cr_assert_eq(check(S_MUTABLE, POP__COUNT, NULL), -EPERM);
}

/* ---- the matrix ------------------------------------------------------- */

/* Operations beyond policy_check: lock-attribute changes. */
enum {
	L_EXTEND = POP__COUNT, /* same mode (GOVERNANCE if none), later date */
	L_SHORTEN,             /* same mode (GOVERNANCE if none), earlier date */
	L_REMOVE,              /* setfattr -x user.worm.retention */
	L_TO_COMP,             /* COMPLIANCE, same date (now + 2000 if none) */
	L_TO_GOV,              /* GOVERNANCE, later date */
	L_HOLD_ON,
	L_HOLD_OFF,
	M__N
};
static const char *const lop_names[] = {
	"extend", "shorten", "remove", "to-compliance", "to-governance", "hold-on", "hold-off"
};

static int matrix_op(int op, int st, int who)
{
	struct policy_rules r = rules();
	const struct policy_lock *lk = &states[st];
	int mode = lk->mode == WORM_NONE ? WORM_GOVERNANCE : lk->mode;
	int64_t cur = lk->retain_until > NOW ? lk->retain_until : NOW + 1000;
	if (op < POP__COUNT)
		return policy_check(&r, &callers[who], lk, op, NOW, NULL);
	switch (op) {
	case L_EXTEND: return set_ret(&r, who, lk, mode, cur + 1000, 0, NULL);
	case L_SHORTEN: return set_ret(&r, who, lk, mode, cur - 500, 0, NULL);
	case L_REMOVE: return rm_ret(&r, who, lk, NULL);
	case L_TO_COMP: return set_ret(&r, who, lk, WORM_COMPLIANCE, cur, 0, NULL);
	case L_TO_GOV: return set_ret(&r, who, lk, WORM_GOVERNANCE, cur + 1000, 0, NULL);
	case L_HOLD_ON: return policy_hold_change(&r, &callers[who], lk, HOLD_ON, 0, NULL);
	case L_HOLD_OFF: return policy_hold_change(&r, &callers[who], lk, HOLD_OFF, 0, NULL);
	}
	return 1;
}

#define P (-EPERM)
#define N (-ENODATA)
/* expected[state][op] = { owner, other, root, bypass, writer }; the writer
 * (write permission, not the owner) may never lock: like "other". */
static const int expected[S__N][M__N][C__N] = {
	[S_MUTABLE] = {
		[POP_OPEN_WRITE ... POP_KILL_SETID] = { 0, 0, 0, 0, 0 },
		[L_EXTEND] = { 0, P, 0, P, P }, [L_SHORTEN] = { 0, P, 0, P, P },
		[L_REMOVE] = { N, N, N, N, N }, [L_TO_COMP] = { 0, P, 0, P, P },
		[L_TO_GOV] = { 0, P, 0, P, P },
		[L_HOLD_ON] = { P, P, 0, P, P }, [L_HOLD_OFF] = { P, P, 0, P, P },
	},
	[S_GOV] = {
		[POP_OPEN_WRITE ... POP_KILL_SETID] = { P, P, P, P, P },
		[L_EXTEND] = { 0, P, 0, 0, P }, [L_SHORTEN] = { P, P, 0, 0, P },
		[L_REMOVE] = { P, P, 0, 0, P }, [L_TO_COMP] = { 0, P, 0, 0, P },
		[L_TO_GOV] = { 0, P, 0, 0, P },
		[L_HOLD_ON] = { P, P, 0, P, P }, [L_HOLD_OFF] = { P, P, 0, P, P },
	},
	[S_COMP] = {
		[POP_OPEN_WRITE ... POP_KILL_SETID] = { P, P, P, P, P },
		[L_EXTEND] = { 0, P, 0, P, P }, [L_SHORTEN] = { P, P, P, P, P },
		[L_REMOVE] = { P, P, P, P, P }, [L_TO_COMP] = { 0, P, 0, P, P },
		[L_TO_GOV] = { P, P, P, P, P },
		[L_HOLD_ON] = { P, P, 0, P, P }, [L_HOLD_OFF] = { P, P, 0, P, P },
	},
	[S_HOLD] = {
		[POP_OPEN_WRITE ... POP_KILL_SETID] = { P, P, P, P, P },
		[L_EXTEND] = { 0, P, 0, P, P }, [L_SHORTEN] = { 0, P, 0, P, P },
		[L_REMOVE] = { N, N, N, N, N }, [L_TO_COMP] = { 0, P, 0, P, P },
		[L_TO_GOV] = { 0, P, 0, P, P },
		[L_HOLD_ON] = { P, P, 0, P, P }, [L_HOLD_OFF] = { P, P, 0, P, P },
	},
	[S_EXPIRED] = {
		[POP_OPEN_WRITE ... POP_REMOVEXATTR] = { P, P, P, P, P },
		[POP_UNLINK] = { 0, 0, 0, 0, 0 },
		[POP_RENAME_SRC] = { P, P, P, P, P }, [POP_RENAME_DST] = { P, P, P, P, P },
		[POP_RENAME_DIR] = { 0, 0, 0, 0, 0 },
		[POP_OVERWRITE] = { P, P, P, P, P },
		[POP_OPEN_OVERWRITE] = { P, P, P, P, P },
		[POP_TOUCH] = { P, P, P, P, P }, [POP_KILL_SETID] = { P, P, P, P, P },
		/* An expired GOVERNANCE retention: writers, and bypass principals
		 * (they govern GOVERNANCE retention in force or not). */
		[L_EXTEND] = { 0, P, 0, 0, P }, [L_SHORTEN] = { 0, P, 0, 0, P },
		[L_REMOVE] = { 0, P, 0, 0, P }, [L_TO_COMP] = { 0, P, 0, 0, P },
		[L_TO_GOV] = { 0, P, 0, 0, P },
		[L_HOLD_ON] = { P, P, 0, P, P }, [L_HOLD_OFF] = { P, P, 0, P, P },
	},
	[S_AUTHFAIL] = {
		[POP_OPEN_WRITE ... POP_KILL_SETID] = { P, P, P, P, P },
		[L_EXTEND ... L_HOLD_OFF] = { P, P, P, P, P },
	},
};

Test(policy_matrix, ops_states_callers)
{
	int n = 0;
	for (int st = 0; st < S__N; st++)
		for (int op = 0; op < M__N; op++)
			for (int who = 0; who < C__N; who++) {
				int got = matrix_op(op, st, who);
				cr_expect_eq(got, expected[st][op][who],
					     "state=%s op=%s caller=%s: got %d want %d",
					     state_names[st],
					     op < POP__COUNT ? policy_op_name(op)
							     : lop_names[op - POP__COUNT],
					     caller_names[who], got, expected[st][op][who]);
				n++;
			}
	cr_assert_eq(n, S__N * M__N * C__N);
}

/* ---- retention changes, rule by rule ---------------------------------- */

Test(policy_retention, date_not_in_future_einval)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW, 0, &rule),
		     -EINVAL);
	cr_assert_str_eq(rule, "retain-until-not-future");
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW - 1, 0, NULL),
		     -EINVAL);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW + 1, 0, NULL),
		     0);
}

Test(policy_retention, more_than_100_years_einval)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_COMPLIANCE,
			     NOW + POLICY_MAX_AHEAD_S, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_COMPLIANCE,
			     NOW + POLICY_MAX_AHEAD_S + 1, 0, &rule), -EINVAL);
	cr_assert_str_eq(rule, "retain-until-too-far");
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_COMPLIANCE, INT64_MAX, 0,
			     NULL), -EINVAL);
}

Test(policy_retention, bad_mode_einval)
{
	struct policy_rules r = rules();
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_NONE, NOW + 10, 0, NULL),
		     -EINVAL);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], 7, NOW + 10, 0, NULL), -EINVAL);
}

Test(policy_retention, open_writers_ebusy)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW + 10, 1, &rule),
		     -EBUSY);
	cr_assert_str_eq(rule, "open-writers");
}

Test(policy_retention, precedence_einval_eperm_ebusy)
{
	struct policy_rules r = rules();
	/* Bad date beats no permission beats open writers. */
	cr_assert_eq(set_ret(&r, C_OTHER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW, 1, NULL),
		     -EINVAL);
	cr_assert_eq(set_ret(&r, C_OTHER, &states[S_MUTABLE], WORM_GOVERNANCE, NOW + 5, 1, NULL),
		     -EPERM);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_COMP], WORM_COMPLIANCE, NOW + 5, 1, NULL),
		     -EPERM);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_AUTHFAIL], WORM_GOVERNANCE, NOW - 5, 1, NULL),
		     -EINVAL);
}

Test(policy_retention, writer_sets_on_unlocked)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], WORM_COMPLIANCE, NOW + DAY, 0, NULL),
		     0);
	cr_assert_eq(set_ret(&r, C_OTHER, &states[S_MUTABLE], WORM_COMPLIANCE, NOW + DAY, 0, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "not-object-owner");
}

/* Design 5: only the owner, root or a bypass principal may set or extend a
 * retention (like chmod); write permission alone gives EPERM. */
Test(policy_retention, only_owner_root_bypass_may_lock)
{
	struct policy_rules r = rules();
	const struct policy_lock *m = &states[S_MUTABLE], *g = &states[S_GOV];
	const struct policy_lock *c = &states[S_COMP], *e = &states[S_EXPIRED];
	const char *rule = NULL;
	struct policy_retention_req q = { 0, WORM_COMPLIANCE, NOW + DAY };

	cr_assert_eq(set_ret(&r, C_WRITER, m, WORM_COMPLIANCE, NOW + DAY, 0, &rule), -EPERM);
	cr_assert_str_eq(rule, "not-object-owner");
	cr_assert_eq(set_ret(&r, C_WRITER, g, WORM_GOVERNANCE, g->retain_until + DAY, 0, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "not-object-owner");
	cr_assert_eq(set_ret(&r, C_WRITER, c, WORM_COMPLIANCE, c->retain_until + DAY, 0, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "not-object-owner");
	cr_assert_eq(rm_ret(&r, C_WRITER, e, &rule), -EPERM);
	cr_assert_str_eq(rule, "not-object-owner");
	/* Open writers do not hide the refusal. */
	cr_assert_eq(set_ret(&r, C_WRITER, m, WORM_COMPLIANCE, NOW + DAY, 1, NULL), -EPERM);
	/* The owner and root may. */
	cr_assert_eq(set_ret(&r, C_OWNER, m, WORM_COMPLIANCE, NOW + DAY, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_ROOT, m, WORM_COMPLIANCE, NOW + DAY, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, c, WORM_COMPLIANCE, c->retain_until + DAY, 0, NULL), 0);
	/* Root is a locker even when it is not a bypass principal. */
	struct policy_rules r2 = rules();
	r2.bypass.nuids = 0;
	cr_assert_eq(set_ret(&r2, C_ROOT, m, WORM_GOVERNANCE, NOW + DAY, 0, NULL), 0);
	/* A bypass principal with write permission may set and extend. */
	cr_assert_eq(policy_retention_change(&r, &callers[C_BYPASS], m, &q, OWNER_UID, 1, 0, NOW,
					     NULL), 0);
	q.retain_until = c->retain_until + DAY;
	cr_assert_eq(policy_retention_change(&r, &callers[C_BYPASS], c, &q, OWNER_UID, 1, 0, NOW,
					     NULL), 0);
	/* The same caller owning the object may; the uid decides, not the
	 * write permission. */
	cr_assert_eq(policy_retention_change(&r, &callers[C_WRITER], m, &q, 1003, 1, 0, NOW,
					     NULL), 0);
	cr_assert_eq(policy_retention_change(&r, &callers[C_WRITER], m, &q, 1004, 1, 0, NOW,
					     NULL), -EPERM);
}

Test(policy_retention, governance_extend_by_writer)
{
	struct policy_rules r = rules();
	const struct policy_lock *g = &states[S_GOV];
	cr_assert_eq(set_ret(&r, C_OWNER, g, WORM_GOVERNANCE, g->retain_until, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, g, WORM_GOVERNANCE, g->retain_until + 1, 0, NULL), 0);
}

Test(policy_retention, governance_to_compliance_if_not_shorter)
{
	struct policy_rules r = rules();
	const struct policy_lock *g = &states[S_GOV];
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, g, WORM_COMPLIANCE, g->retain_until, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, g, WORM_COMPLIANCE, g->retain_until - 1, 0, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "governance-retention");
	/* A bypass principal may (it could shorten first, then upgrade). */
	cr_assert_eq(set_ret(&r, C_BYPASS, g, WORM_COMPLIANCE, g->retain_until - 1, 0, NULL), 0);
}

Test(policy_retention, governance_shorten_remove_bypass_only)
{
	struct policy_rules r = rules();
	const struct policy_lock *g = &states[S_GOV];
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, g, WORM_GOVERNANCE, g->retain_until - 1, 0, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "governance-retention");
	cr_assert_eq(rm_ret(&r, C_OWNER, g, &rule), -EPERM);
	cr_assert_eq(rm_ret(&r, C_BYPASS, g, NULL), 0);
	cr_assert_eq(rm_ret(&r, C_ROOT, g, NULL), 0);
	cr_assert_eq(set_ret(&r, C_BYPASS, g, WORM_GOVERNANCE, NOW + 1, 0, NULL), 0);
	/* Root is a bypass principal only through the default list. */
	struct policy_rules r2 = rules();
	r2.bypass.nuids = 0;
	cr_assert_eq(rm_ret(&r2, C_ROOT, g, NULL), -EPERM);
	cr_assert_eq(rm_ret(&r2, C_BYPASS, g, NULL), 0);
}

Test(policy_retention, compliance_extend_only)
{
	struct policy_rules r = rules();
	const struct policy_lock *c = &states[S_COMP];
	const char *rule = NULL;
	cr_assert_eq(set_ret(&r, C_OWNER, c, WORM_COMPLIANCE, c->retain_until, 0, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, c, WORM_COMPLIANCE, c->retain_until + DAY, 0, NULL), 0);
	for (int who = 0; who < C__N; who++) {
		rule = NULL;
		cr_assert_eq(set_ret(&r, who, c, WORM_COMPLIANCE, c->retain_until - 1, 0, &rule),
			     -EPERM);
		cr_assert_str_eq(rule, "compliance-retention");
		cr_assert_eq(set_ret(&r, who, c, WORM_GOVERNANCE, c->retain_until + DAY, 0, NULL),
			     -EPERM);
		cr_assert_eq(rm_ret(&r, who, c, NULL), -EPERM);
	}
}

Test(policy_retention, remove_absent_enodata)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(rm_ret(&r, C_OWNER, &states[S_MUTABLE], &rule), -ENODATA);
	cr_assert_str_eq(rule, "no-retention");
}

Test(policy_retention, remove_expired_by_writer)
{
	struct policy_rules r = rules();
	struct policy_lock lk = { WORM_COMPLIANCE, NOW - 1, HOLD_UNSET, 1, 0, 0 };
	cr_assert_eq(rm_ret(&r, C_OWNER, &lk, NULL), 0);
	cr_assert_eq(rm_ret(&r, C_OTHER, &lk, NULL), -EPERM);
	/* Bypass has no power over COMPLIANCE, expired or not. */
	cr_assert_eq(rm_ret(&r, C_BYPASS, &lk, NULL), -EPERM);
}

Test(policy_retention, auth_failed_eperm)
{
	struct policy_rules r = rules();
	struct policy_lock lk = states[S_GOV];
	const char *rule = NULL;
	lk.auth_failed = 1;
	cr_assert_eq(rm_ret(&r, C_ROOT, &lk, &rule), -EPERM);
	cr_assert_str_eq(rule, "record-auth-failed");
	cr_assert_eq(set_ret(&r, C_ROOT, &lk, WORM_GOVERNANCE, lk.retain_until + 5, 0, NULL),
		     -EPERM);
}

Test(policy_retention, legal_hold_does_not_matter)
{
	struct policy_rules r = rules();
	struct policy_lock lk = states[S_GOV];
	lk.hold = HOLD_ON;
	cr_assert_eq(rm_ret(&r, C_BYPASS, &lk, NULL), 0);
	cr_assert_eq(set_ret(&r, C_OWNER, &lk, WORM_GOVERNANCE, lk.retain_until + 5, 0, NULL), 0);
}

Test(policy_retention, plus_zero_days_parses_but_is_refused)
{
	struct policy_rules r = rules();
	int mode;
	int64_t until;
	cr_assert_eq(policy_parse_retention("GOVERNANCE +0d", 14, NOW, &mode, &until), 0);
	cr_assert_eq(until, NOW);
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], mode, until, 0, NULL), -EINVAL);
}

/* ---- legal hold ------------------------------------------------------- */

Test(policy_hold, principals_only)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(policy_hold_change(&r, &callers[C_OWNER], &states[S_MUTABLE], HOLD_ON, 0,
					&rule), -EPERM);
	cr_assert_str_eq(rule, "not-hold-principal");
	/* Bypass is not hold. */
	cr_assert_eq(policy_hold_change(&r, &callers[C_BYPASS], &states[S_GOV], HOLD_OFF, 0,
					NULL), -EPERM);
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_MUTABLE], HOLD_ON, 0,
					NULL), 0);
	policy_plist_add_gid(&r.hold, 50);
	cr_assert_eq(policy_hold_change(&r, &callers[C_BYPASS], &states[S_HOLD], HOLD_OFF, 0,
					NULL), 0);
	r.hold.nuids = 0;   /* root only through the list */
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_HOLD], HOLD_OFF, 0,
					NULL), -EPERM);
}

Test(policy_hold, on_with_writers_ebusy)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_MUTABLE], HOLD_ON, 1,
					&rule), -EBUSY);
	cr_assert_str_eq(rule, "open-writers");
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_MUTABLE], HOLD_OFF, 1,
					NULL), 0);
}

Test(policy_hold, off_when_unset_idempotent)
{
	struct policy_rules r = rules();
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_MUTABLE], HOLD_OFF, 0,
					NULL), 0);
}

Test(policy_hold, auth_failed_eperm)
{
	struct policy_rules r = rules();
	const char *rule = NULL;
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_AUTHFAIL], HOLD_OFF, 0,
					&rule), -EPERM);
	cr_assert_str_eq(rule, "record-auth-failed");
}

Test(policy_hold, bad_value_einval)
{
	struct policy_rules r = rules();
	cr_assert_eq(policy_hold_change(&r, &callers[C_ROOT], &states[S_MUTABLE], HOLD_UNSET, 0,
					NULL), -EINVAL);
}

/* ---- parsing user.worm.retention -------------------------------------- */

static int pret(const char *s, int *mode, int64_t *until)
{
	return policy_parse_retention(s, strlen(s), NOW, mode, until);
}

Test(policy_parse, absolute_dates)
{
	int m = -1;
	int64_t u = -1;
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T00:00:00Z", &m, &u), 0);
	cr_assert_eq(m, WORM_COMPLIANCE);
	cr_assert_eq(u, 1924992000);
	cr_assert_eq(pret("GOVERNANCE 2031-01-01T02:00:00+02:00", &m, &u), 0);
	cr_assert_eq(m, WORM_GOVERNANCE);
	cr_assert_eq(u, 1924992000);
	cr_assert_eq(pret("GOVERNANCE 2032-02-29T00:00:00Z", &m, &u), 0);   /* leap day */
	cr_assert_eq(u, 1961625600);
	cr_assert_eq(pret("GOVERNANCE 2031-02-29T00:00:00Z", &m, &u), -EINVAL);
}

/* A retain-until with a fraction of a second is kept to the whole second
 * at or after it: a retention is never shorter than asked (review
 * rv-claims; truncated, "...00.5Z" locked half a second less). */
Test(policy_parse, fraction_rounds_up)
{
	int m = -1;
	int64_t u = -1;
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T00:00:00.5Z", &m, &u), 0);
	cr_assert_eq(u, 1924992001);
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T00:00:00.000001Z", &m, &u), 0);
	cr_assert_eq(u, 1924992001);
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T01:59:59.25+02:00", &m, &u), 0);
	cr_assert_eq(u, 1924992000);
	/* A fraction of zeros is the whole second. */
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T00:00:00.000Z", &m, &u), 0);
	cr_assert_eq(u, 1924992000);
	/* The last second there is: no rounding past it. */
	cr_assert_eq(pret("COMPLIANCE 9999-12-31T23:59:59.5Z", &m, &u), -EINVAL);
}

Test(policy_parse, mode_case_insensitive)
{
	int m = -1;
	int64_t u;
	cr_assert_eq(pret("compliance 2031-01-01T00:00:00z", &m, &u), 0);
	cr_assert_eq(m, WORM_COMPLIANCE);
	cr_assert_eq(pret("Governance +1d", &m, &u), 0);
	cr_assert_eq(m, WORM_GOVERNANCE);
}

Test(policy_parse, relative_periods)
{
	int m;
	int64_t u;
	cr_assert_eq(pret("GOVERNANCE +30d", &m, &u), 0);
	cr_assert_eq(u, NOW + 30 * DAY);
	cr_assert_eq(pret("GOVERNANCE +12h", &m, &u), 0);
	cr_assert_eq(u, NOW + 12 * 3600);
	cr_assert_eq(pret("COMPLIANCE +2y", &m, &u), 0);
	cr_assert_eq(u, NOW + 2 * 365 * DAY);
	cr_assert_eq(pret("COMPLIANCE +2Y", &m, &u), 0);
	cr_assert_eq(pret("COMPLIANCE +007d", &m, &u), 0);
	cr_assert_eq(u, NOW + 7 * DAY);
	/* Beyond 100 years still parses; the range check refuses it. */
	cr_assert_eq(pret("COMPLIANCE +101y", &m, &u), 0);
	struct policy_rules r = rules();
	cr_assert_eq(set_ret(&r, C_OWNER, &states[S_MUTABLE], m, u, 0, NULL), -EINVAL);
}

Test(policy_parse, whitespace_and_newline)
{
	int m;
	int64_t u;
	cr_assert_eq(pret("GOVERNANCE +1d\n", &m, &u), 0);
	cr_assert_eq(u, NOW + DAY);
	cr_assert_eq(pret("  GOVERNANCE\t +1d \r\n", &m, &u), 0);
	cr_assert_eq(pret("COMPLIANCE 2031-01-01T00:00:00Z\n", &m, &u), 0);
	cr_assert_eq(u, 1924992000);
	/* One trailing NUL (a C caller passing sizeof) is tolerated. */
	cr_assert_eq(policy_parse_retention("GOVERNANCE +1d", 15, NOW, &m, &u), 0);
}

Test(policy_parse, rejects_garbage)
{
	static const char *bad[] = {
		"COMPLIANCE 99999-01-01T00:00:00Z", "COMPLIANCE 1969-12-31T23:59:59Z",
		"GOVERNANCE +-1d", "GOVERNANCE -1d", "GOVERNANCE +1", "GOVERNANCE +d",
		"GOVERNANCE +1w", "GOVERNANCE +1dd", "GOVERNANCE + 1d", "GOVERNANCE +1 d",
		"GOVERNANCE ++1d", "GOVERNANCE +1.5d", "GOVERNANCE +0x10d",
		"GOVERNANCE +99999999999999999999d", "GOVERNANCE +99999999999d",
		"GOVERNANCE", "GOVERNANCE ", "+1d", "NONE +1d", "GOVERN +1d",
		"GOVERNANCEX +1d", "GOVERNANCE+1d", "COMPLIANCE 2031-01-01T00:00:00Z x",
		"COMPLIANCE 2031-13-01T00:00:00Z", "COMPLIANCE 2031-01-01T00:00:00",
		"GOVERNANCE\n+1d", "", " ", "\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int m = -7;
		int64_t u = -7;
		cr_assert_eq(pret(bad[i], &m, &u), -EINVAL, "accepted '%s'", bad[i]);
		cr_assert_eq(m, -7);
		cr_assert_eq(u, -7);
	}
}

/* One framing for every lock attribute: surrounding whitespace (echo's
 * trailing newline included) is ignored by retention, legal hold, default
 * retention and lock-config alike. */
Test(policy_parse, one_framing_for_all_lock_attributes)
{
	static const char *const pads[][2] = {
		{ "", "" }, { " ", "" }, { "", "\n" }, { "  ", " \r\n" }, { "\t", "\t" },
	};
	char b[96];
	for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		int m, h = -1, req = -1;
		int64_t u;
		struct policy_default d;
		char id[POLICY_LOCKID_LEN + 1];
		const char *v;
		size_t vl;

		snprintf(b, sizeof(b), "%sGOVERNANCE +1d%s", pads[i][0], pads[i][1]);
		cr_assert_eq(pret(b, &m, &u), 0, "retention '%s'", b);
		snprintf(b, sizeof(b), "%sON%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_hold(b, strlen(b), &h), 0, "hold '%s'", b);
		cr_assert_eq(h, HOLD_ON);
		snprintf(b, sizeof(b), "%soff%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_hold(b, strlen(b), &h), 0, "hold '%s'", b);
		cr_assert_eq(h, HOLD_OFF);
		snprintf(b, sizeof(b), "%sCOMPLIANCE 1y%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_default(b, strlen(b), &d), 0, "default '%s'", b);
		snprintf(b, sizeof(b), "%sin-progress%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_bucket_lock_req(b, strlen(b), &req, id), 0, "'%s'", b);
		cr_assert_eq(req, BREQ_START);
		snprintf(b, sizeof(b), "%slocked 0123456789ABCDEF%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_bucket_lock_req(b, strlen(b), &req, id), 0, "'%s'", b);
		cr_assert_eq(req, BREQ_COMPLETE);
		cr_assert_str_eq(id, "0123456789ABCDEF");
		snprintf(b, sizeof(b), "%sUnlocked%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_parse_bucket_lock_req(b, strlen(b), &req, id), 0, "'%s'", b);
		cr_assert_eq(req, BREQ_ABORT);
		snprintf(b, sizeof(b), "%sON%s", pads[i][0], pads[i][1]);
		cr_assert_eq(policy_value_frame(b, strlen(b), &v, &vl), 0);
		cr_assert_eq(vl, 2);
		cr_assert_eq(memcmp(v, "ON", 2), 0);
	}
	/* One trailing NUL tolerated by all, like retention. */
	int h;
	cr_assert_eq(policy_parse_hold("ON", 3, &h), 0);
}

Test(policy_parse, hold_and_lock_config_reject)
{
	static const char *const bad_hold[] = {
		"", " ", "\n", "O N", "ONN", "OF", "OFF OFF", "ON\nOFF", "yes", "1", "ON\n\nx",
	};
	static const char *const bad_req[] = {
		"", "frozen", "in-progress now", "in progress", "locked", "locked 1234",
		"locked 0123456789abcdef0", "locked\n0123456789abcdef", "unlocked x",
		"lockedd 0123456789abcdef",
	};
	for (size_t i = 0; i < sizeof(bad_hold) / sizeof(bad_hold[0]); i++) {
		int h = -7;
		cr_assert_eq(policy_parse_hold(bad_hold[i], strlen(bad_hold[i]), &h), -EINVAL,
			     "accepted hold '%s'", bad_hold[i]);
		cr_assert_eq(h, -7);
	}
	for (size_t i = 0; i < sizeof(bad_req) / sizeof(bad_req[0]); i++) {
		int req = -7;
		char id[POLICY_LOCKID_LEN + 1];
		cr_assert_eq(policy_parse_bucket_lock_req(bad_req[i], strlen(bad_req[i]), &req, id),
			     -EINVAL, "accepted lock-config '%s'", bad_req[i]);
		cr_assert_eq(req, -7);
	}
	int h;
	char id[POLICY_LOCKID_LEN + 1];
	cr_assert_eq(policy_parse_hold("O\0N", 3, &h), -EINVAL);
	cr_assert_eq(policy_parse_hold(NULL, 2, &h), -EINVAL);
	cr_assert_eq(policy_parse_bucket_lock_req("in-progress\0x", 13, &h, id), -EINVAL);
	char big[200];
	memset(big, ' ', sizeof(big));
	memcpy(big, "ON", 2);
	cr_assert_eq(policy_parse_hold(big, 128, &h), 0);
	cr_assert_eq(policy_parse_hold(big, 129, &h), -EINVAL);
}

Test(policy_parse, embedded_nul_and_lengths)
{
	int m;
	int64_t u;
	cr_assert_eq(policy_parse_retention("GOVERNANCE\0+1d", 14, NOW, &m, &u), -EINVAL);
	cr_assert_eq(policy_parse_retention("GOVERNANCE +1d\0\0", 16, NOW, &m, &u), -EINVAL);
	cr_assert_eq(policy_parse_retention("GOVERNANCE +1d", 0, NOW, &m, &u), -EINVAL);
	cr_assert_eq(policy_parse_retention(NULL, 5, NOW, &m, &u), -EINVAL);
	/* Length-bounded: bytes past len are not read. */
	cr_assert_eq(policy_parse_retention("GOVERNANCE +1dXYZ", 14, NOW, &m, &u), 0);
	char big[200];
	memset(big, ' ', sizeof(big));
	memcpy(big, "GOVERNANCE +1d", 14);
	cr_assert_eq(policy_parse_retention(big, 128, NOW, &m, &u), 0);
	cr_assert_eq(policy_parse_retention(big, 129, NOW, &m, &u), -EINVAL);
}

Test(policy_parse, relative_overflow)
{
	int m;
	int64_t u;
	cr_assert_eq(policy_parse_retention("GOVERNANCE +9999999999y", 23, INT64_MAX - 10, &m, &u),
		     -EINVAL);
}

Test(policy_format, retention)
{
	char b[64];
	cr_assert_eq(policy_format_retention(WORM_COMPLIANCE, 1924992000, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "COMPLIANCE 2031-01-01T00:00:00Z");
	cr_assert_eq(policy_format_retention(WORM_GOVERNANCE, 1924992001, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "GOVERNANCE 2031-01-01T00:00:01Z");
	cr_assert_eq(policy_format_retention(WORM_NONE, 1924992000, b, sizeof(b)), -EINVAL);
	cr_assert_eq(policy_format_retention(WORM_GOVERNANCE, -1, b, sizeof(b)), -EINVAL);
	cr_assert_eq(policy_format_retention(WORM_GOVERNANCE, 1924992000, b, 31), -ERANGE);
	cr_assert_eq(policy_format_retention(WORM_GOVERNANCE, 1924992000, b, 32), 0);
}

Test(policy_format, retention_roundtrip)
{
	char b[64];
	int m;
	int64_t u;
	for (int64_t t = NOW; t < NOW + 400 * DAY; t += 7 * 3600 + 13) {
		cr_assert_eq(policy_format_retention(WORM_COMPLIANCE, t, b, sizeof(b)), 0);
		cr_assert_eq(pret(b, &m, &u), 0, "%s", b);
		cr_assert_eq(m, WORM_COMPLIANCE);
		cr_assert_eq(u, t);
	}
}

/* ---- bucket default retention ----------------------------------------- */

static int pdef(const char *s, struct policy_default *d)
{
	return policy_parse_default(s, strlen(s), d);
}

Test(policy_default, parse_days_and_years)
{
	struct policy_default d;
	cr_assert_eq(pdef("COMPLIANCE 30d", &d), 0);
	cr_assert_eq(d.mode, WORM_COMPLIANCE);
	cr_assert_eq(d.days, 30);
	cr_assert_eq(d.years, 0);
	cr_assert_eq(pdef("governance 1y\n", &d), 0);
	cr_assert_eq(d.mode, WORM_GOVERNANCE);
	cr_assert_eq(d.days, 365);
	cr_assert_eq(d.years, 1);
	cr_assert_eq(pdef("GOVERNANCE 36500d", &d), 0);
	cr_assert_eq(d.days, 36500);
	cr_assert_eq(pdef("GOVERNANCE 100y", &d), 0);
	cr_assert_eq(d.days, 36500);
	cr_assert_eq(pdef("GOVERNANCE 1d", &d), 0);
}

Test(policy_default, parse_rejects)
{
	static const char *bad[] = {
		"GOVERNANCE 0d", "GOVERNANCE 36501d", "GOVERNANCE 0y", "GOVERNANCE 101y",
		"GOVERNANCE +1d", "GOVERNANCE 1h", "GOVERNANCE 1", "GOVERNANCE d",
		"GOVERNANCE -1d", "GOVERNANCE 99999999999999999999d", "NONE 1d", "1d",
		"GOVERNANCE 1d 1d", "GOVERNANCE 2031-01-01T00:00:00Z", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_default d = { 99, 99, 99 };
		cr_assert_eq(pdef(bad[i], &d), -EINVAL, "accepted '%s'", bad[i]);
		cr_assert_eq(d.mode, 99);
	}
	struct policy_default d;
	cr_assert_eq(policy_parse_default("GOVERNANCE\0001d", 13, &d), -EINVAL);
}

Test(policy_default, format)
{
	char b[32];
	struct policy_default d = { WORM_COMPLIANCE, 30, 0 };
	cr_assert_eq(policy_format_default(&d, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "COMPLIANCE 30d");
	d = (struct policy_default){ WORM_GOVERNANCE, 365, 1 };
	cr_assert_eq(policy_format_default(&d, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "GOVERNANCE 1y");
	d = (struct policy_default){ WORM_GOVERNANCE, 730, 0 };
	cr_assert_eq(policy_format_default(&d, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "GOVERNANCE 730d");
	d = (struct policy_default){ WORM_NONE, 0, 0 };
	cr_assert_eq(policy_format_default(&d, b, sizeof(b)), -EINVAL);
	d = (struct policy_default){ WORM_GOVERNANCE, 365, 1 };
	cr_assert_eq(policy_format_default(&d, b, 13), -ERANGE);
	/* parse -> format roundtrip */
	cr_assert_eq(pdef("compliance 7Y", &d), 0);
	cr_assert_eq(policy_format_default(&d, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "COMPLIANCE 7y");
}

static const struct policy_bucket_lock bl_unlocked = { BLOCK_UNLOCKED, "", 0 };
static const struct policy_bucket_lock bl_locked = { BLOCK_LOCKED, "", 0 };

Test(policy_default, owner_or_root_only)
{
	struct policy_default cur = { WORM_NONE, 0, 0 }, nd = { WORM_GOVERNANCE, 30, 0 };
	const char *rule = NULL;
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_unlocked, &cur, &nd, NOW,
					   NULL), 0);
	cr_assert_eq(policy_default_change(&callers[C_ROOT], 0, &bl_unlocked, &cur, &nd, NOW,
					   NULL), 0);
	cr_assert_eq(policy_default_change(&callers[C_OTHER], 0, &bl_unlocked, &cur, &nd, NOW,
					   &rule), -EPERM);
	cr_assert_str_eq(rule, "not-bucket-owner");
	cr_assert_eq(policy_default_change(&callers[C_BYPASS], 0, &bl_unlocked, &cur, NULL, NOW,
					   NULL), -EPERM);
}

Test(policy_default, unlocked_bucket_any_change)
{
	struct policy_default cur = { WORM_COMPLIANCE, 365, 0 }, nd = { WORM_GOVERNANCE, 1, 0 };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_unlocked, &cur, &nd, NOW,
					   NULL), 0);
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_unlocked, &cur, NULL, NOW,
					   NULL), 0);
	/* An expired in-progress lock is no lock. */
	struct policy_bucket_lock ip = { BLOCK_IN_PROGRESS, "0123456789abcdef", NOW };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &ip, &cur, NULL, NOW, NULL), 0);
}

Test(policy_default, locked_bucket_no_remove_shorten_downgrade)
{
	struct policy_default cur = { WORM_COMPLIANCE, 365, 1 };
	struct policy_default longer = { WORM_COMPLIANCE, 366, 0 };
	struct policy_default shorter = { WORM_COMPLIANCE, 364, 0 };
	struct policy_default gov = { WORM_GOVERNANCE, 400, 0 };
	const char *rule = NULL;
	cr_assert_eq(policy_default_change(&callers[C_ROOT], 0, &bl_locked, &cur, NULL, NOW,
					   &rule), -EPERM);
	cr_assert_str_eq(rule, "bucket-locked");
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_locked, &cur, &shorter, NOW,
					   NULL), -EPERM);
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_locked, &cur, &gov, NOW,
					   NULL), -EPERM);
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_locked, &cur, &longer, NOW,
					   NULL), 0);
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_locked, &cur, &cur, NOW,
					   NULL), 0);
	/* GOVERNANCE -> COMPLIANCE is a strengthening: allowed. */
	struct policy_default gcur = { WORM_GOVERNANCE, 30, 0 }, comp = { WORM_COMPLIANCE, 30, 0 };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_locked, &gcur, &comp, NOW,
					   NULL), 0);
}

/* Completion locks exactly the default that was initiated: while a lock is
 * in progress the default cannot change at all (abort first). */
Test(policy_default, in_progress_freezes_the_default)
{
	struct policy_default cur = { WORM_COMPLIANCE, 36500, 1 };
	struct policy_default weak = { WORM_GOVERNANCE, 1, 0 };
	struct policy_default longer_gov = { WORM_GOVERNANCE, 36500, 1 };
	struct policy_default shorter = { WORM_COMPLIANCE, 365, 0 };
	struct policy_default same_days = { WORM_COMPLIANCE, 36500, 0 };
	struct policy_default stronger = { WORM_COMPLIANCE, 30, 0 };
	struct policy_default gcur = { WORM_GOVERNANCE, 30, 0 };
	struct policy_bucket_lock ip = { BLOCK_IN_PROGRESS, "0123456789abcdef", NOW + 10 };
	const char *rule = NULL;

	static const int whos[] = { C_OWNER, C_ROOT };
	for (size_t i = 0; i < 2; i++) {
		int who = whos[i], own = who == C_OWNER;
		rule = NULL;
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, NULL, NOW, &rule),
			     -EPERM);
		cr_assert_str_eq(rule, "bucket-lock-in-progress");
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, &weak, NOW, NULL),
			     -EPERM);
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, &longer_gov, NOW,
						   NULL), -EPERM);
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, &shorter, NOW,
						   NULL), -EPERM);
		/* Same period written in days: a change of what was initiated. */
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, &same_days, NOW,
						   NULL), -EPERM);
		/* Even strengthening: completion must lock what was initiated. */
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &gcur, &stronger, NOW,
						   NULL), -EPERM);
		/* The identical value changes nothing. */
		cr_assert_eq(policy_default_change(&callers[who], own, &ip, &cur, &cur, NOW, NULL),
			     0);
	}
	/* Not the owner: that rule first. */
	cr_assert_eq(policy_default_change(&callers[C_OTHER], 0, &ip, &cur, NULL, NOW, &rule),
		     -EPERM);
	cr_assert_str_eq(rule, "not-bucket-owner");
	/* A bad value is still EINVAL. */
	struct policy_default bad = { WORM_GOVERNANCE, 0, 0 };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &ip, &cur, &bad, NOW, NULL),
		     -EINVAL);
	/* Once the in-progress lock expired (or was aborted) it may change. */
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &ip, &cur, &weak, NOW + 10,
					   NULL), 0);
	struct policy_bucket_lock b = ip;
	cr_assert_eq(policy_bucket_lock_abort(&b, NOW), 0);
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &b, &cur, NULL, NOW, NULL), 0);
}

Test(policy_default, invalid_new_value_einval)
{
	struct policy_default cur = { WORM_NONE, 0, 0 }, nd = { WORM_GOVERNANCE, 0, 0 };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_unlocked, &cur, &nd, NOW,
					   NULL), -EINVAL);
	nd = (struct policy_default){ WORM_NONE, 30, 0 };
	cr_assert_eq(policy_default_change(&callers[C_OWNER], 1, &bl_unlocked, &cur, &nd, NOW,
					   NULL), -EINVAL);
}

/* ---- bucket lock ------------------------------------------------------ */

static const struct policy_default def30 = { WORM_COMPLIANCE, 30, 0 };
#define LID "0123456789abcdef"

Test(policy_block, start_complete)
{
	struct policy_bucket_lock b = bl_unlocked;
	char s[96];
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(b.state, BLOCK_IN_PROGRESS);
	cr_assert_str_eq(b.lock_id, LID);
	cr_assert_eq(b.expires, NOW + 86400);
	cr_assert_eq(policy_bucket_lock_state(&b, NOW), BLOCK_IN_PROGRESS);
	cr_assert_eq(policy_format_bucket_lock(&b, NOW, s, sizeof(s)), 0);
	cr_assert_str_eq(s, "in-progress 0123456789abcdef 2030-03-18T17:46:40Z");
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW + 86399), 0);
	cr_assert_eq(policy_bucket_lock_state(&b, NOW + 86400 * 1000), BLOCK_LOCKED);
	cr_assert_eq(policy_format_bucket_lock(&b, NOW, s, sizeof(s)), 0);
	cr_assert_str_eq(s, "locked");
}

Test(policy_block, start_needs_default_and_unlocked)
{
	struct policy_bucket_lock b = bl_unlocked;
	struct policy_default none = { WORM_NONE, 0, 0 };
	cr_assert_eq(policy_bucket_lock_start(&b, &none, LID, NOW), -EINVAL);
	cr_assert_eq(b.state, BLOCK_UNLOCKED);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, "short", NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, "0123456789abcdeg", NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID "0", NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, "fedcba9876543210", NOW + 1), -EBUSY);
	cr_assert_str_eq(b.lock_id, LID);
	struct policy_bucket_lock l = bl_locked;
	cr_assert_eq(policy_bucket_lock_start(&l, &def30, LID, NOW), -EPERM);
}

Test(policy_block, in_progress_expires_after_24h)
{
	struct policy_bucket_lock b = bl_unlocked;
	char s[96];
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(policy_bucket_lock_state(&b, NOW + 86400), BLOCK_UNLOCKED);
	cr_assert_eq(policy_format_bucket_lock(&b, NOW + 86400, s, sizeof(s)), 0);
	cr_assert_str_eq(s, "unlocked");
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW + 86400), -EINVAL);
	cr_assert_eq(policy_bucket_lock_abort(&b, NOW + 86400), -EINVAL);
	/* A new start after expiry is allowed. */
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, "fedcba9876543210", NOW + 86400), 0);
	cr_assert_str_eq(b.lock_id, "fedcba9876543210");
}

Test(policy_block, complete_wrong_id_einval)
{
	struct policy_bucket_lock b = bl_unlocked;
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW), -EINVAL);   /* not started */
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, "0123456789abcdee", NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, NULL, NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID "ff", NOW), -EINVAL);
	cr_assert_eq(b.state, BLOCK_IN_PROGRESS);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, "0123456789ABCDEF", NOW), 0);
	cr_assert_eq(b.state, BLOCK_LOCKED);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW), -EINVAL);   /* already */
}

/* A lock is never completed on a bucket without a default retention (a
 * record from a version that let the default be removed meanwhile). */
Test(policy_block, complete_needs_default)
{
	struct policy_bucket_lock b = bl_unlocked;
	struct policy_default none = { WORM_NONE, 0, 0 };
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(policy_bucket_lock_complete(&b, &none, LID, NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_complete(&b, NULL, LID, NOW), -EINVAL);
	cr_assert_eq(b.state, BLOCK_IN_PROGRESS);
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW), 0);
}

Test(policy_block, request_owner_or_root_then_protocol)
{
	struct policy_bucket_lock b = bl_unlocked;
	const char *rule = NULL;
	cr_assert_eq(policy_bucket_lock_request(&callers[C_OTHER], 0, &b, &def30, BREQ_START, LID,
						NOW, &rule), -EPERM);
	cr_assert_str_eq(rule, "bucket-owner-only");
	cr_assert_eq(policy_bucket_lock_request(&callers[C_BYPASS], 0, &b, &def30, BREQ_START,
						LID, NOW, NULL), -EPERM);
	cr_assert_eq(b.state, BLOCK_UNLOCKED);
	cr_assert_eq(policy_bucket_lock_request(&callers[C_OWNER], 1, &b, &def30, BREQ_START, LID,
						NOW, &rule), 0);
	cr_assert_str_eq(rule, "bucket-lock-start");
	cr_assert_eq(policy_bucket_lock_request(&callers[C_OTHER], 0, &b, &def30, BREQ_ABORT, NULL,
						NOW, NULL), -EPERM);
	cr_assert_eq(policy_bucket_lock_request(&callers[C_OTHER], 0, &b, &def30, BREQ_COMPLETE,
						LID, NOW, NULL), -EPERM);
	cr_assert_eq(b.state, BLOCK_IN_PROGRESS);
	cr_assert_eq(policy_bucket_lock_request(&callers[C_ROOT], 0, &b, &def30, 99, LID, NOW,
						&rule), -EINVAL);
	cr_assert_eq(policy_bucket_lock_request(&callers[C_ROOT], 0, &b, &def30, BREQ_COMPLETE,
						LID, NOW, &rule), 0);
	cr_assert_str_eq(rule, "bucket-lock-complete");
	cr_assert_eq(b.state, BLOCK_LOCKED);
	cr_assert_eq(policy_bucket_lock_request(&callers[C_OWNER], 1, &b, &def30, BREQ_ABORT, NULL,
						NOW, &rule), -EPERM);
	cr_assert_str_eq(rule, "bucket-lock-abort");
}

Test(policy_block, abort)
{
	struct policy_bucket_lock b = bl_unlocked;
	char s[96];
	cr_assert_eq(policy_bucket_lock_abort(&b, NOW), -EINVAL);
	cr_assert_eq(policy_bucket_lock_start(&b, &def30, LID, NOW), 0);
	cr_assert_eq(policy_bucket_lock_abort(&b, NOW + 5), 0);
	cr_assert_eq(policy_bucket_lock_state(&b, NOW + 5), BLOCK_UNLOCKED);
	cr_assert_eq(policy_format_bucket_lock(&b, NOW, s, sizeof(s)), 0);
	cr_assert_str_eq(s, "unlocked");
	cr_assert_eq(policy_bucket_lock_complete(&b, &def30, LID, NOW + 6), -EINVAL);
	struct policy_bucket_lock l = bl_locked;
	cr_assert_eq(policy_bucket_lock_abort(&l, NOW), -EPERM);
	cr_assert_eq(l.state, BLOCK_LOCKED);
}

Test(policy_block, format_small_buffer)
{
	struct policy_bucket_lock b = bl_unlocked;
	char s[16];
	cr_assert_eq(policy_format_bucket_lock(&b, NOW, s, 8), -ERANGE);
	cr_assert_eq(policy_format_bucket_lock(&b, NOW, s, 9), 0);
}

/* ---- append-only objects and autocommit (design section 15) ------------ */

static struct policy_lock appendable(int st)
{
	struct policy_lock lk = states[st];
	lk.append_only = 1;
	return lk;
}

Test(policy_append, mutable_append_only_is_chattr_a)
{
	struct policy_rules r = rules();
	struct policy_lock lk = appendable(S_MUTABLE);
	const char *rule = NULL;
	for (int who = 0; who < C__N; who++) {
		cr_assert_eq(policy_check(&r, &callers[who], &lk, POP_OPEN_WRITE, NOW, NULL), 0);
		cr_assert_eq(policy_check(&r, &callers[who], &lk, POP_WRITE, NOW, NULL), 0);
		/* a touch, and the set-id bits an append clears: allowed */
		cr_assert_eq(policy_check(&r, &callers[who], &lk, POP_TOUCH, NOW, NULL), 0);
		cr_assert_eq(policy_check(&r, &callers[who], &lk, POP_KILL_SETID, NOW, NULL), 0);
		const enum policy_op refused[] = { POP_OVERWRITE, POP_OPEN_OVERWRITE,
						   POP_TRUNCATE, POP_FALLOCATE,
						   POP_UNLINK, POP_RENAME_SRC, POP_RENAME_DST };
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			rule = NULL;
			cr_assert_eq(policy_check(&r, &callers[who], &lk, refused[i], NOW, &rule),
				     -EPERM, "op %s", policy_op_name(refused[i]));
			cr_assert_str_eq(rule, "append-only");
		}
		/* chattr +a: no xattr change (user.s3.meta holds the ETag),
		 * no chmod, chown or given times; root and bypass included */
		const enum policy_op xattr[] = { POP_SETXATTR, POP_REMOVEXATTR };
		for (size_t i = 0; i < 2; i++) {
			rule = NULL;
			cr_assert_eq(policy_check(&r, &callers[who], &lk, xattr[i], NOW, &rule),
				     -EPERM, "op %s", policy_op_name(xattr[i]));
			cr_assert_str_eq(rule, "append-only-xattr");
		}
		const enum policy_op attr[] = { POP_CHMOD, POP_CHOWN, POP_UTIMENS };
		for (size_t i = 0; i < 3; i++) {
			rule = NULL;
			cr_assert_eq(policy_check(&r, &callers[who], &lk, attr[i], NOW, &rule),
				     -EPERM, "op %s", policy_op_name(attr[i]));
			cr_assert_str_eq(rule, "append-only-attr");
		}
	}
	cr_assert(!policy_content_frozen(&lk, NOW));
}

Test(policy_append, sealed_append_only_grows_only)
{
	struct policy_rules r = rules();
	const int sts[] = { S_GOV, S_COMP, S_HOLD, S_EXPIRED };
	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
		struct policy_lock lk = appendable(sts[i]);
		const char *rule = NULL;
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_OPEN_WRITE, NOW, NULL), 0);
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_WRITE, NOW, NULL), 0);
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_OVERWRITE, NOW, &rule), -EPERM);
		cr_assert_str_eq(rule, "sealed-content");
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_TRUNCATE, NOW, NULL), -EPERM);
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_OPEN_OVERWRITE, NOW, NULL),
			     -EPERM);
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_CHMOD, NOW, NULL), -EPERM);
		/* sealed first: the rule names the stronger protection */
		const enum policy_op meta[] = { POP_SETXATTR, POP_REMOVEXATTR, POP_UTIMENS,
						POP_TOUCH, POP_KILL_SETID };
		for (size_t j = 0; j < sizeof(meta) / sizeof(meta[0]); j++) {
			rule = NULL;
			cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, meta[j], NOW, &rule),
				     -EPERM, "op %s", policy_op_name(meta[j]));
			cr_assert_str_eq(rule, "sealed-content");
		}
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_RENAME_SRC, NOW, NULL), -EPERM);
		cr_assert_eq(policy_check(&r, &callers[C_ROOT], &lk, POP_UNLINK, NOW, NULL), -EPERM);
		cr_assert(!policy_content_frozen(&lk, NOW));
		cr_assert(policy_is_sealed(&lk, NOW));
	}
	/* A failed record is never trusted to say append-only. */
	struct policy_lock bad = appendable(S_AUTHFAIL);
	cr_assert_eq(policy_check(&r, &callers[C_ROOT], &bad, POP_WRITE, NOW, NULL), -EPERM);
	cr_assert_eq(policy_check(&r, &callers[C_ROOT], &bad, POP_OPEN_WRITE, NOW, NULL), -EPERM);
	cr_assert(policy_content_frozen(&bad, NOW));
	/* Without append-only a sealed object is frozen. */
	cr_assert(policy_content_frozen(&states[S_GOV], NOW));
	cr_assert(!policy_content_frozen(&states[S_MUTABLE], NOW));
}

Test(policy_append, off_restores_metadata_changes)
{
	/* append-only OFF on a mutable object: an ordinary object again */
	struct policy_rules r = rules();
	const enum policy_op ops[] = { POP_SETXATTR, POP_REMOVEXATTR, POP_CHMOD, POP_CHOWN,
				       POP_UTIMENS, POP_TOUCH, POP_KILL_SETID };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		cr_assert_eq(policy_check(&r, &callers[C_OWNER], &states[S_MUTABLE], ops[i], NOW,
					  NULL), 0, "op %s", policy_op_name(ops[i]));
	cr_assert_str_eq(policy_op_name(POP_TOUCH), "utimens-now");
	cr_assert_str_eq(policy_op_name(POP_KILL_SETID), "kill-setid");
}

Test(policy_append, write_op_at_end_only)
{
	cr_assert_eq(policy_write_op(10, 10), POP_WRITE);
	cr_assert_eq(policy_write_op(0, 10), POP_OVERWRITE);
	cr_assert_eq(policy_write_op(9, 10), POP_OVERWRITE);
	cr_assert_eq(policy_write_op(11, 10), POP_OVERWRITE);   /* a hole */
	cr_assert_eq(policy_write_op(0, 0), POP_WRITE);
	cr_assert_str_eq(policy_op_name(POP_OVERWRITE), "overwrite");
}

static int app(int st, int append, int who, int on, int writers)
{
	struct policy_rules r = rules();
	struct policy_lock lk = states[st];
	lk.append_only = append;
	return policy_append_change(&r, &callers[who], &lk, on, OWNER_UID, can_write[who], writers,
				    NOW, NULL);
}

Test(policy_append, change_rules)
{
	/* ON on a mutable object: lockers with write permission. */
	cr_assert_eq(app(S_MUTABLE, 0, C_OWNER, 1, 0), 0);
	cr_assert_eq(app(S_MUTABLE, 0, C_ROOT, 1, 0), 0);
	cr_assert_eq(app(S_MUTABLE, 0, C_OTHER, 1, 0), -EPERM);
	cr_assert_eq(app(S_MUTABLE, 0, C_WRITER, 1, 0), -EPERM);
	cr_assert_eq(app(S_MUTABLE, 0, C_OWNER, 1, 1), -EBUSY);
	/* ON on a sealed object: EPERM for everyone. */
	for (int who = 0; who < C__N; who++) {
		cr_assert_eq(app(S_GOV, 0, who, 1, 0), -EPERM);
		cr_assert_eq(app(S_COMP, 0, who, 1, 0), -EPERM);
		cr_assert_eq(app(S_EXPIRED, 0, who, 1, 0), -EPERM);
		cr_assert_eq(app(S_HOLD, 0, who, 1, 0), -EPERM);
	}
	/* OFF finalizes an appendable WORM object: the owner or root, under
	 * any retention mode; nobody else; not while written. */
	cr_assert_eq(app(S_COMP, 1, C_OWNER, 0, 0), 0);
	cr_assert_eq(app(S_COMP, 1, C_ROOT, 0, 0), 0);
	cr_assert_eq(app(S_GOV, 1, C_OWNER, 0, 0), 0);
	cr_assert_eq(app(S_COMP, 1, C_OTHER, 0, 0), -EPERM);
	cr_assert_eq(app(S_COMP, 1, C_WRITER, 0, 0), -EPERM);
	cr_assert_eq(app(S_COMP, 1, C_OWNER, 0, 1), -EBUSY);
	/* OFF on a mutable append-only object lifts a protection. */
	cr_assert_eq(app(S_MUTABLE, 1, C_OWNER, 0, 0), 0);
	cr_assert_eq(app(S_MUTABLE, 1, C_WRITER, 0, 0), -EPERM);
	/* The value in force: a no-op; a bad value, a failed record. */
	cr_assert_eq(app(S_COMP, 1, C_OWNER, 1, 1), 0);
	cr_assert_eq(app(S_MUTABLE, 0, C_OWNER, 0, 1), 0);
	cr_assert_eq(app(S_MUTABLE, 0, C_OWNER, 2, 0), -EINVAL);
	cr_assert_eq(app(S_AUTHFAIL, 1, C_ROOT, 0, 0), -EPERM);
}

Test(policy_autocommit, parse_format)
{
	uint32_t s = 7;
	cr_assert_eq(policy_parse_autocommit("10m", 3, &s), 0);
	cr_assert_eq(s, 600);
	cr_assert_eq(policy_parse_autocommit(" 5S\n", 4, &s), 0);
	cr_assert_eq(s, 5);
	cr_assert_eq(policy_parse_autocommit("2h", 2, &s), 0);
	cr_assert_eq(s, 7200);
	cr_assert_eq(policy_parse_autocommit("36500d", 6, &s), 0);
	cr_assert_eq(s, POLICY_AUTOCOMMIT_MAX_S);
	cr_assert_eq(policy_parse_autocommit("OFF", 3, &s), 0);
	cr_assert_eq(s, 0);
	const char *bad[] = { "0s", "36501d", "10", "m", "-1s", "1y", "1 d", "1.5h", "",
			      "99999999999s" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(policy_parse_autocommit(bad[i], strlen(bad[i]), &s), -EINVAL,
			     "%s", bad[i]);
	char buf[16];
	cr_assert_eq(policy_format_autocommit(600, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "10m");
	cr_assert_eq(policy_format_autocommit(90, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "90s");
	cr_assert_eq(policy_format_autocommit(7 * 86400, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "7d");
	cr_assert_eq(policy_format_autocommit(0, buf, sizeof(buf)), -EINVAL);
	cr_assert_eq(policy_format_autocommit(600, buf, 3), -ERANGE);
}

Test(policy_autocommit, change_and_timing)
{
	struct policy_bucket_lock none = { 0 }, inprog = { BLOCK_IN_PROGRESS, "0123456789abcdef", NOW + 10 };
	struct policy_bucket_lock locked = { BLOCK_LOCKED, "0123456789abcdef", 0 };
	const struct policy_caller *o = &callers[C_OTHER], *root = &callers[C_ROOT];
	cr_assert_eq(policy_autocommit_change(o, 1, &none, 0, 600, NOW, NULL), 0);
	cr_assert_eq(policy_autocommit_change(o, 0, &none, 0, 600, NOW, NULL), -EPERM);
	cr_assert_eq(policy_autocommit_change(root, 0, &none, 600, 0, NOW, NULL), 0);
	cr_assert_eq(policy_autocommit_change(root, 0, &none, 0, POLICY_AUTOCOMMIT_MAX_S + 1, NOW, NULL),
		     -EINVAL);
	cr_assert_eq(policy_autocommit_change(root, 0, &inprog, 600, 60, NOW, NULL), -EPERM);
	cr_assert_eq(policy_autocommit_change(root, 0, &inprog, 600, 600, NOW, NULL), 0);
	/* Locked bucket: the lock may land sooner, never later. */
	cr_assert_eq(policy_autocommit_change(root, 0, &locked, 600, 60, NOW, NULL), 0);
	cr_assert_eq(policy_autocommit_change(root, 0, &locked, 600, 0, NOW, NULL), 0);
	cr_assert_eq(policy_autocommit_change(root, 0, &locked, 600, 601, NOW, NULL), -EPERM);
	cr_assert_eq(policy_autocommit_change(root, 0, &locked, 0, 60, NOW, NULL), -EPERM);
	/* Commit at close only without autocommit. */
	cr_assert(policy_default_at_close(WORM_COMPLIANCE, 0));
	cr_assert(!policy_default_at_close(WORM_COMPLIANCE, 600));
	cr_assert(!policy_default_at_close(WORM_NONE, 0));
	cr_assert_eq(policy_autocommit_deadline(NOW, 600), NOW + 600);
	cr_assert_eq(policy_autocommit_deadline(INT64_MAX - 5, 600), INT64_MAX);
	/* Default append-only: owner or root; a locked bucket keeps it ON. */
	cr_assert_eq(policy_default_append_change(o, 1, &none, 0, 1, NOW, NULL), 0);
	cr_assert_eq(policy_default_append_change(o, 0, &none, 0, 1, NOW, NULL), -EPERM);
	cr_assert_eq(policy_default_append_change(root, 0, &locked, 0, 1, NOW, NULL), 0);
	cr_assert_eq(policy_default_append_change(root, 0, &locked, 1, 0, NOW, NULL), -EPERM);
	cr_assert_eq(policy_default_append_change(root, 0, &inprog, 1, 0, NOW, NULL), -EPERM);
	cr_assert_eq(policy_default_append_change(root, 0, &inprog, 1, 1, NOW, NULL), 0);
}
