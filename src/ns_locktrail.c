/* ns_locktrail: the objects' lock state against the audit trail (issue 12;
 * design sections 5 and 15).
 *
 * Why: the state digest (ns_digest.c) says that some record of meta/ is not
 * as the daemon left it, not which; and a re-seal (wormctl repair digest,
 * or the seal of a store without a digest) must never accept a state in
 * which an object holds less lock than it did. Every lock change is in the
 * audit trail, in the transaction of the change, with the object's path,
 * its inode (ino=, since this check) and the resolved retain-until date
 * (until=), so the latest legal-hold and retention record of each object
 * says what its node must at least hold, and whether a lock is in force
 * now, when the object must still exist.
 *
 * Cost: one pass over the trail into a hash table (path or inode -> the
 * latest state), then one node lookup per object named (a path lookup for
 * records from before ino=). Records written before ino= and until= are
 * compared as well as they allow: an absolute value gives the date; a
 * relative one ("+1d") a date 5 minutes short of the one resolved; an
 * object they name whose path no longer leads to it may be any node with
 * that lock that no other record claims (it may have been re-attached).
 * Buckets: the latest default retention record (with ino=) and a completed
 * bucket lock say what a bucket node must still hold. */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns_locktrail.h"
#include "ns_record.h"
#include "audit.h"
#include "clock.h"
#include "inoset.h"
#include "policy.h"

#define LT_HOLD 0
#define LT_RET 1
#define LT_SLACK_S 300            /* a relative value resolved before its record */
#define LT_GAP_MAX 1024           /* missing records in a row: stop (as the readers) */

/* The latest record of one kind for one object. */
struct lt_kind {
	uint64_t seq;             /* 0: none */
	int64_t t;                /* its time (compliance clock) */
	uint64_t ino;             /* its ino= field, 0 in older records */
	int hold;                 /* HOLD_ON / HOLD_OFF */
	int mode;                 /* WORM_*; 0 removed */
	int64_t until;            /* what the node must hold at least */
};

struct lt_ent {
	char *key;                /* "ino:N", or the path of an older record */
	char *path;               /* the latest path recorded, for reports */
	struct lt_kind k[2];
	int done[2];              /* matched to a node */
	/* A bucket (records with ino= only): its latest default retention
	 * change and whether its bucket lock was completed. */
	uint64_t dseq, lseq;      /* 0: none */
	int dmode;                /* WORM_*; 0 removed */
	uint32_t ddays;
	uint64_t aseq, cseq;      /* latest default append-only / autocommit change */
	int append;               /* it set default append-only ON */
	uint32_t acs;             /* the autocommit period it set (0: off) */
};

struct lt_map {
	struct lt_ent *v;
	size_t n, cap;
	struct hsearch_data h;
	size_t hcap;              /* 0: no table yet */
};

/* ---- the table ------------------------------------------------------------ */

static int lt_rehash(struct lt_map *m, size_t want)
{
	ENTRY e, *r;

	if (m->hcap)
		hdestroy_r(&m->h);
	memset(&m->h, 0, sizeof(m->h));
	m->hcap = 0;
	if (!hcreate_r(want, &m->h))
		return -ENOMEM;
	m->hcap = want;
	for (size_t i = 0; i < m->n; i++) {
		e.key = m->v[i].key;
		e.data = (void *)(uintptr_t)i;
		if (!hsearch_r(e, ENTER, &r, &m->h))
			return -ENOMEM;
	}
	return 0;
}

/* The entry of key, added if add: NULL if absent (or out of memory, *err
 * then set). */
static struct lt_ent *lt_find(struct lt_map *m, const char *key, int add, int *err)
{
	ENTRY e = { (char *)key, NULL }, *r = NULL;

	if (m->hcap && hsearch_r(e, FIND, &r, &m->h))
		return &m->v[(uintptr_t)r->data];
	if (!add)
		return NULL;
	/* hsearch tables do not grow: a new one, twice the size, at 3/4. */
	if ((m->n + 1) * 4 > m->hcap * 3 && lt_rehash(m, m->hcap ? 2 * m->hcap : 1024)) {
		*err = -ENOMEM;
		return NULL;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		struct lt_ent *g = realloc(m->v, cap * sizeof(*g));
		if (!g) {
			*err = -ENOMEM;
			return NULL;
		}
		m->v = g;
		m->cap = cap;
	}
	struct lt_ent *x = &m->v[m->n];
	memset(x, 0, sizeof(*x));
	if (!(x->key = strdup(key))) {
		*err = -ENOMEM;
		return NULL;
	}
	e.key = x->key;
	e.data = (void *)(uintptr_t)m->n;
	if (!hsearch_r(e, ENTER, &r, &m->h)) {
		free(x->key);
		*err = -ENOMEM;
		return NULL;
	}
	m->n++;
	return x;
}

static void lt_free(struct lt_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].path);
	}
	free(m->v);
	if (m->hcap)
		hdestroy_r(&m->h);
}

/* ---- reading records -------------------------------------------------------- */

/* The next key=value field of an audit text, left to right: a value bare
 * (to the next space) or "quoted" (\" and \\ escapes; any other escape, or
 * a value cut, leaves *ok 0). 0 at the end. Field by field, so a quoted
 * path holding " ino=5" is never read as a field. */
static int next_field(const char **pp, char *key, size_t kcap, char *val, size_t vcap,
		      int *ok)
{
	const char *p = *pp;
	size_t kl = 0, vl = 0;

	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	*ok = 1;
	for (; *p && *p != '=' && *p != ' '; p++)
		if (kl + 1 < kcap)
			key[kl++] = *p;
		else
			*ok = 0;
	key[kl] = '\0';
	if (*p == '=' && p[1] == '"') {
		for (p += 2; *p && *p != '"'; p++) {
			char ch = *p;
			if (*p == '\\') {
				/* wlog_quote's escapes: \" \\ and a tab, LF, CR
				 * (a tab may separate a value's words); any
				 * other makes the field unreadable. */
				ch = p[1] == 't' ? '\t' : p[1] == 'n' ? '\n' : p[1] == 'r' ? '\r' : p[1];
				if (ch == p[1] && p[1] != '"' && p[1] != '\\')
					*ok = 0;
				if (!p[1])
					break;
				p++;
			}
			if (vl + 1 < vcap)
				val[vl++] = ch;
			else
				*ok = 0;
		}
		if (*p == '"')
			p++;
		else
			*ok = 0;
	} else if (*p == '=') {
		for (p++; *p && *p != ' '; p++)
			if (vl + 1 < vcap)
				val[vl++] = *p;
			else
				*ok = 0;
	}
	val[vl] = '\0';
	*pp = p;
	return 1;
}

struct lt_text {
	char kind[32], op[16], path[1100], value[200], until[40], ino[24], attr[40];
};

/* The fields a lock record has; the first of each name counts. */
static void lt_parse(const char *text, struct lt_text *x)
{
	char key[16], val[1100];
	const char *p = text;
	int ok, seen = 0;

	memset(x, 0, sizeof(*x));
	while (next_field(&p, key, sizeof(key), val, sizeof(val), &ok)) {
		static const char *const names[] = { "kind", "op", "path", "value", "until", "ino",
						     "attr" };
		char *const dst[] = { x->kind, x->op, x->path, x->value, x->until, x->ino, x->attr };
		const size_t cap[] = { sizeof(x->kind), sizeof(x->op), sizeof(x->path),
				       sizeof(x->value), sizeof(x->until), sizeof(x->ino),
				       sizeof(x->attr) };
		for (int i = 0; i < 7; i++) {
			if (strcmp(key, names[i]) || (seen & (1 << i)))
				continue;
			seen |= 1 << i;
			if (ok && strlen(val) < cap[i])
				memcpy(dst[i], val, strlen(val) + 1);
		}
	}
}

/* A bucket's default retention or bucket lock change. Only records that
 * name the inode: a bucket is never renamed, but older records are not
 * needed to keep a lock from being undone from now on. */
static int lt_note_bucket(struct lt_map *m, const struct audit_rec *a, const struct lt_text *x)
{
	char key[32], *end = NULL;
	int err = 0;
	uint64_t ino = x->ino[0] ? strtoull(x->ino, &end, 10) : 0;

	if (!ino || (end && *end))
		return 0;
	snprintf(key, sizeof(key), "ino:%" PRIu64, ino);
	struct lt_ent *e = lt_find(m, key, 1, &err);
	if (!e)
		return err;
	if (x->path[0]) {
		char *p = strdup(x->path);
		if (!p)
			return -ENOMEM;
		free(e->path);
		e->path = p;
	}
	if (!strcmp(x->kind, "default-retention")) {
		struct policy_default d;
		e->dseq = a->seq;
		e->dmode = 0;
		e->ddays = 0;
		if (!strcmp(x->op, "set") && !policy_parse_default(x->value, strlen(x->value), &d)) {
			e->dmode = d.mode;
			e->ddays = d.days;
		}
	} else if (!strcmp(x->kind, "append-only")) {
		e->aseq = a->seq;
		int h = HOLD_OFF;   /* ON / OFF, read as a legal hold's */
		e->append = !strcmp(x->op, "set") &&
			    !policy_parse_hold(x->value, strlen(x->value), &h) && h == HOLD_ON;
	} else if (!strcmp(x->kind, "autocommit")) {
		uint32_t secs = 0;
		/* A value this cannot read requires nothing (never a false
		 * alarm); a removal, no period. */
		e->cseq = a->seq;
		if (strcmp(x->op, "set"))
			secs = 0;
		else if (policy_parse_autocommit(x->value, strlen(x->value), &secs))
			e->cseq = 0;
		e->acs = secs;
	} else if (!strcmp(x->op, "set")) {
		/* Read as the request was ("LOCKED ID" completes it too). */
		int req = 0;
		char id[POLICY_LOCKID_LEN + 1];
		if (!policy_parse_bucket_lock_req(x->value, strlen(x->value), &req, id) &&
		    req == BREQ_COMPLETE)
			e->lseq = a->seq;   /* completed: permanent */
	}
	return 0;
}

/* Why bucket node nd holds less than e recorded, or NULL. */
static const char *lt_bucket_less(const struct lt_ent *e, const struct meta_node *nd,
				  char *buf, size_t len)
{
	if (e->lseq && nd->block_state != BLOCK_LOCKED) {
		snprintf(buf, len, "bucket lock not locked but audit record %" PRIu64 " completed "
			 "it", e->lseq);
		return buf;
	}
	if (e->dseq && e->dmode && (nd->def_mode < e->dmode || nd->def_days < e->ddays)) {
		snprintf(buf, len, "default retention %s %ud weaker than the %s %ud of its latest "
			 "default retention change, audit record %" PRIu64,
			 nd->def_mode ? policy_mode_name(nd->def_mode) : "none",
			 (unsigned)nd->def_days, policy_mode_name(e->dmode), (unsigned)e->ddays,
			 e->dseq);
		return buf;
	}
	if (e->aseq && e->append && !(nd->flags & META_F_DEF_APPEND)) {
		snprintf(buf, len, "default append-only OFF but its latest change, audit record %"
			 PRIu64 ", set it ON", e->aseq);
		return buf;
	}
	/* A longer period (or one the trail turned off) lands locks later;
	 * a shorter one, or none, sooner. */
	if (e->cseq && nd->autocommit_s > e->acs) {
		snprintf(buf, len, "autocommit period %us longer than the %us of its latest change, "
			 "audit record %" PRIu64, (unsigned)nd->autocommit_s, (unsigned)e->acs,
			 e->cseq);
		return buf;
	}
	return NULL;
}

static int lt_note(struct lt_map *m, const struct audit_rec *a)
{
	struct lt_text x;
	char key[32];
	int which, err = 0;

	lt_parse(a->text, &x);
	if (!strcmp(x.kind, "default-retention") || !strcmp(x.kind, "bucket-lock") ||
	    !strcmp(x.kind, "autocommit") ||
	    (!strcmp(x.kind, "append-only") && !strcmp(x.attr, WORM_XATTR_DEFAPPEND)))
		return lt_note_bucket(m, a, &x);
	if (!strcmp(x.kind, "legal-hold"))
		which = LT_HOLD;
	else if (!strcmp(x.kind, "retention") || !strcmp(x.kind, "governance-bypass"))
		which = LT_RET;
	else
		return 0;
	char *end = NULL;
	uint64_t ino = x.ino[0] ? strtoull(x.ino, &end, 10) : 0;
	if (end && *end)
		ino = 0;
	if (!ino && x.path[0] != '/')
		return 0;   /* an older record of a path that could not be named */
	if (ino) {
		/* A record of this path from before ino= is superseded. */
		struct lt_ent *old = x.path[0] == '/' ? lt_find(m, x.path, 0, &err) : NULL;
		if (old)
			old->k[which].seq = 0;
		snprintf(key, sizeof(key), "ino:%" PRIu64, ino);
	}
	struct lt_ent *e = lt_find(m, ino ? key : x.path, 1, &err);
	if (!e)
		return err;
	if (x.path[0]) {
		char *p = strdup(x.path);
		if (!p)
			return -ENOMEM;
		free(e->path);
		e->path = p;
	}
	struct lt_kind *k = &e->k[which];
	memset(k, 0, sizeof(*k));
	k->seq = a->seq;
	k->t = a->time_s;
	k->ino = ino;
	if (which == LT_HOLD) {
		int h = HOLD_OFF;
		if (strcmp(x.op, "set") || policy_parse_hold(x.value, strlen(x.value), &h))
			h = HOLD_OFF;
		k->hold = h;
		return 0;
	}
	int mode = 0;
	int64_t until = 0, u2 = 0;
	const char *plus;
	if (!strcmp(x.op, "remove") ||
	    policy_parse_retention(x.value, strlen(x.value), a->time_s, &mode, &until)) {
		/* Removed; or a mode alone (an older default applied at mount):
		 * the mode, running past the record's time. */
		mode = strcmp(x.op, "remove") ? !strcasecmp(x.value, "COMPLIANCE") ? WORM_COMPLIANCE :
			!strcasecmp(x.value, "GOVERNANCE") ? WORM_GOVERNANCE : 0 : 0;
		until = a->time_s + 1;
	} else if ((plus = strchr(x.value, '+')) &&
		   !(plus > x.value && plus[-1] >= '0' && plus[-1] <= '9')) {
		/* "+1d", resolved a little before the record's time; not the
		 * UTC offset of a date ("...T01:00:00+01:00"). */
		until -= LT_SLACK_S;
	} else if (strchr(x.value, '.')) {
		/* A fraction: rounded up now, truncated by older builds. What
		 * they stored is the date without it, exactly: not a second
		 * less (a zero fraction, or a leap second, never rounded). */
		char v[sizeof(x.value)];
		const char *dot = strchr(x.value, '.');
		size_t k = (size_t)(dot - x.value), d = strspn(dot + 1, "0123456789");
		int m2;
		int64_t u3;
		snprintf(v, sizeof(v), "%.*s%s", (int)k, x.value, dot + 1 + d);
		if (!policy_parse_retention(v, strlen(v), a->time_s, &m2, &u3))
			until = u3;
	}
	if (x.until[0] && !clock_parse_rfc3339(x.until, strlen(x.until), &u2))
		until = u2;   /* the date the change resolved to */
	k->mode = mode;
	k->until = mode ? until : 0;
	return 0;
}

/* ---- against the nodes -------------------------------------------------------- */

/* The inode a path leads to: 0, or -ENOENT (also for a path that does not
 * name it: "#INO" of an unnamed node, "/..." of a cut one). */
static int lt_resolve(meta_txn *t, const char *path, uint64_t *ino)
{
	char comp[META_NAME_MAX + 1];
	uint64_t cur = NS_INO_ROOT;
	const char *p = path;

	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, "/");
		if (l > META_NAME_MAX || *p == '#' || (l == 3 && !memcmp(p, "...", 3)))
			return -ENOENT;
		memcpy(comp, p, l);
		comp[l] = '\0';
		if (meta_dirent_get(t, cur, comp, &cur))
			return -ENOENT;
		p += l;
	}
	*ino = cur;
	return 0;
}

/* The node a record is about: 1 (nd set), 2 (its record fails
 * authentication: treated as locked), 0 none (gone, or a later object
 * at the path of a record without ino=), or -errno. */
static int lt_node(ns *n, meta_txn *t, const struct lt_ent *e, const struct lt_kind *k,
		   struct meta_node *nd)
{
	uint64_t ino = k->ino;
	int rc;

	if (!ino && lt_resolve(t, e->path ? e->path : e->key, &ino))
		return 0;
	rc = ns_node_get(n, t, ino, nd);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc == -EIO ? 2 : rc;
	if (nd->flags & NS_F_AUTH_FAILED)
		return 2;
	/* A later object at its path is no match for a record found by its
	 * path. A record that names the inode names the object itself (an
	 * inode is never reused): its birth time, which no MAC covers, is no
	 * reason to look away (an older node put back with a later btime
	 * would pass for "gone", which repair digest accepts). */
	if (!S_ISREG(nd->mode) || nd->nlink == 0 ||
	    (!k->ino && nd->btime_ns / 1000000000 > k->t))
		return 0;
	return 1;
}

/* Why nd holds less lock than k recorded, or NULL. */
static const char *lt_less(int which, const struct lt_kind *k, const struct meta_node *nd,
			   char *buf, size_t len)
{
	char a[32], b[32];

	if (which == LT_HOLD) {
		if (k->hold == HOLD_ON && nd->hold != HOLD_ON) {
			snprintf(buf, len, "legal hold OFF but its latest legal-hold change, "
				 "audit record %" PRIu64 ", set it ON", k->seq);
			return buf;
		}
		return NULL;
	}
	if (!k->mode)
		return NULL;
	if (nd->lock_mode < k->mode) {
		snprintf(buf, len, "retention mode %s weaker than the %s of its latest retention "
			 "change, audit record %" PRIu64, nd->lock_mode ? policy_mode_name(nd->lock_mode) :
			 "none", policy_mode_name(k->mode), k->seq);
		return buf;
	}
	if (nd->retain_until < k->until) {
		if (clock_format_rfc3339(nd->retain_until, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		if (clock_format_rfc3339(k->until, b, sizeof(b)))
			snprintf(b, sizeof(b), "?");
		snprintf(buf, len, "retention date %s before %s, the date of its latest retention "
			 "change, audit record %" PRIu64, a, b, k->seq);
		return buf;
	}
	return NULL;
}

static int lt_locked_now(int which, const struct lt_kind *k, int64_t now)
{
	return which == LT_HOLD ? k->hold == HOLD_ON : k->mode && k->until > now;
}

static int lt_satisfies(int which, const struct lt_kind *k, const struct meta_node *nd)
{
	char buf[8];
	return nd->btime_ns / 1000000000 <= k->t && !lt_less(which, k, nd, buf, sizeof(buf));
}

struct lt_walk {
	struct lt_map *m;
	struct inoset *claimed;
	ns *n;
	meta_txn *t;
	size_t left;              /* unmatched entries of older records */
};

/* Older records whose path leads nowhere: a node with that lock that no
 * other record claims (re-attached, or unnamed: verify names those) is
 * taken as theirs. */
static int lt_cand(void *arg, const struct meta_node *raw)
{
	struct lt_walk *w = arg;
	struct meta_node nd;

	if (!S_ISREG(raw->mode) || raw->nlink == 0 || ns_node_get(w->n, w->t, raw->ino, &nd) ||
	    (nd.flags & NS_F_AUTH_FAILED))
		return 0;
	int r = inoset_add(w->claimed, nd.ino);
	if (r < 0)
		return r;
	if (!r)
		return 0;   /* some record's own object */
	for (size_t i = 0; i < w->m->n && w->left; i++)
		for (int which = 0; which < 2; which++) {
			struct lt_ent *e = &w->m->v[i];
			if (e->k[which].seq && !e->done[which] && !e->k[which].ino &&
			    lt_satisfies(which, &e->k[which], &nd)) {
				e->done[which] = 1;
				w->left--;
				return 0;
			}
		}
	return w->left ? 0 : 1;
}

static void lt_what(int which, const struct lt_kind *k, char *buf, size_t len)
{
	char u[32];
	if (which == LT_HOLD) {
		snprintf(buf, len, "legal hold ON");
		return;
	}
	if (clock_format_rfc3339(k->until, u, sizeof(u)))
		snprintf(u, sizeof(u), "?");
	snprintf(buf, len, "%s until %s", policy_mode_name(k->mode), u);
}

long ns_lock_trail_check(ns *n, meta_txn *t, ns_locktrail_fn fn, void *arg, long *missing)
{
	struct lt_map m;
	struct inoset claimed = { 0 };
	struct audit_rec *a = malloc(sizeof(*a));
	uint64_t tip = 0;
	uint8_t th[32];
	long older = 0, gone = 0;
	size_t left = 0;
	int64_t now = ns_clock_now(n);
	int rc;

	memset(&m, 0, sizeof(m));
	if (!a)
		return -ENOMEM;
	rc = audit_tip(t, &tip, th);
	/* Records that fail or are missing are audit verify's to report. The
	 * tip may be edited offline to a huge number: like the audit readers
	 * (ns_trail.c), stop after 1,024 missing records in a row. */
	for (uint64_t s = 1, gap = 0; !rc && s <= tip && gap < LT_GAP_MAX; s++) {
		if (!audit_get(t, s, a)) {
			rc = lt_note(&m, a);
			gap = 0;
		} else {
			gap++;
		}
	}
	free(a);
	for (size_t i = 0; !rc && i < m.n; i++) {
		struct lt_ent *e = &m.v[i];
		for (int which = 0; !rc && which < 2; which++) {
			struct lt_kind *k = &e->k[which];
			struct meta_node nd;
			char why[256], msg[400];
			if (!k->seq)
				continue;
			int f = lt_node(n, t, e, k, &nd);
			if (f < 0) {
				rc = f;
				break;
			}
			if (f == 1 && inoset_add(&claimed, nd.ino) < 0) {
				rc = -ENOMEM;
				break;
			}
			if (f) {
				e->done[which] = 1;
				if (f == 1 && lt_less(which, k, &nd, why, sizeof(why))) {
					snprintf(msg, sizeof(msg), "older lock state than the audit "
						 "trail (%s; its node record put back from an older "
						 "copy?)", why);
					fn(arg, e->path && e->path[0] == '/' ? e->path + 1 : e->key, msg);
					older++;
				}
			} else if (!lt_locked_now(which, k, now)) {
				e->done[which] = 1;   /* gone once its lock had ended: allowed */
			} else if (!k->ino) {
				left++;               /* an older record: looked for below */
			}
		}
	}
	/* Buckets: a default retention or a completed bucket lock undone (a
	 * bucket record put back from before it). A bucket gone, or whose
	 * record fails (treated as locked; verify names it), is not. */
	for (size_t i = 0; !rc && i < m.n; i++) {
		struct lt_ent *e = &m.v[i];
		struct meta_node nd;
		char why[256], msg[400];
		uint64_t ino;
		if (!e->dseq && !e->lseq && !e->aseq && !e->cseq)
			continue;
		if (sscanf(e->key, "ino:%" SCNu64, &ino) != 1)
			continue;
		int r = ns_node_get(n, t, ino, &nd);
		if (r == -ENOENT || r == -EIO)
			continue;
		if (r) {
			rc = r;
			break;
		}
		if (!S_ISDIR(nd.mode) || (nd.flags & NS_F_AUTH_FAILED) ||
		    !lt_bucket_less(e, &nd, why, sizeof(why)))
			continue;
		snprintf(msg, sizeof(msg), "older lock state than the audit trail (%s; its bucket "
			 "record put back from an older copy?)", why);
		fn(arg, e->path && e->path[0] == '/' ? e->path + 1 : e->key, msg);
		older++;
	}
	if (!rc && left) {
		struct lt_walk w = { &m, &claimed, n, t, left };
		int r = meta_node_foreach(t, lt_cand, &w);
		if (r < 0)
			rc = r;
	}
	for (size_t i = 0; !rc && i < m.n; i++) {
		struct lt_ent *e = &m.v[i];
		for (int which = 0; which < 2; which++) {
			struct lt_kind *k = &e->k[which];
			char what[64], msg[400];
			if (!k->seq || e->done[which])
				continue;
			lt_what(which, k, what, sizeof(what));
			snprintf(msg, sizeof(msg), "the audit trail records a lock in force on it "
				 "(%s, audit record %" PRIu64 ") but no object holds it (deleted "
				 "offline?)", what, k->seq);
			fn(arg, e->path && e->path[0] == '/' ? e->path + 1 : e->key, msg);
			gone++;
		}
	}
	inoset_free(&claimed);
	lt_free(&m);
	if (missing)
		*missing = gone;
	return rc ? rc : older;
}
