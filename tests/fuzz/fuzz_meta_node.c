/* fuzz_meta_node: a node record as LMDB hands it back (meta_node_decode,
 * src/meta.c), then what the daemon derives from a decoded record's lock
 * fields without further checks: the lock state and every lock decision
 * (policy_state, policy_check), and the attribute values getfattr shows
 * (retention, default retention, bucket lock), mapped as ns_xattr.c maps them.
 * Whatever the fields hold (an offline edit with a forged MAC, a bug), no
 * UB, no overread, and a locked record never allows a change. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "policy.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define NOW 1700000000
#define CLOCK_MAX 253402300799LL   /* 9999-12-31T23:59:59Z: the clock's range */

/* A compliance time at a record's boundary, inside the clock's range
 * (now comes from the clock, never from a record). */
static int64_t clock_time(int64_t t)
{
	return t < 0 ? 0 : t > CLOCK_MAX ? CLOCK_MAX : t;
}

static void lock_rules(const struct meta_node *nd, int64_t now)
{
	struct policy_lock lk = { nd->lock_mode, nd->retain_until, nd->hold, nd->sealed,
				  (int)(nd->flags >> 31),
				  (nd->flags & META_F_APPEND_ONLY) != 0 };
	struct policy_rules r;
	uint32_t groups[2] = { nd->gid, 0 };
	struct policy_caller c = { nd->uid, nd->gid, groups, 2 };
	const char *rule = NULL;
	char buf[128];

	policy_rules_default(&r);
	enum worm_state st = policy_state(&lk, now);
	CHECK(st == STATE_MUTABLE || st == STATE_LOCKED || st == STATE_EXPIRED);
	int locked = policy_is_locked(&lk, now), sealed = policy_is_sealed(&lk, now);
	CHECK(!locked || sealed);
	for (int op = 0; op < POP__COUNT; op++) {
		rule = NULL;
		int rc = policy_check(&r, &c, &lk, (enum policy_op)op, now, &rule);
		CHECK(rc == 0 || (rc == -EPERM && rule));
		/* Fail closed: no content change to a sealed object (an
		 * appendable one may only grow at its end), no unlink of a
		 * locked one, root included. */
		if (sealed && (op == POP_TRUNCATE || op == POP_FALLOCATE || op == POP_OVERWRITE ||
			       op == POP_OPEN_OVERWRITE))
			CHECK(rc == -EPERM);
		if (sealed && !lk.append_only && (op == POP_WRITE || op == POP_OPEN_WRITE))
			CHECK(rc == -EPERM);
		if (locked && op == POP_UNLINK)
			CHECK(rc == -EPERM);
	}
	if (policy_format_retention(nd->lock_mode, nd->retain_until, buf, sizeof(buf)) == 0)
		CHECK(strlen(buf) < sizeof(buf));
	struct policy_retention_req req = { 0, WORM_COMPLIANCE, now + 86400 };
	(void)policy_retention_change(&r, &c, &lk, &req, nd->uid, 1, 0, now, &rule);
	req.remove = 1;
	(void)policy_retention_change(&r, &c, &lk, &req, nd->uid, 1, 0, now, &rule);
	(void)policy_hold_change(&r, &c, &lk, HOLD_OFF, 0, &rule);
}

static void bucket_rules(const struct meta_node *nd, int64_t now)
{
	struct policy_default d = { nd->def_mode, nd->def_days, nd->def_years };
	struct policy_default newd = { WORM_GOVERNANCE, 1, 0 };
	struct policy_bucket_lock b;
	struct policy_caller c = { nd->uid, nd->gid, NULL, 0 };
	const char *rule = NULL;
	char buf[128];

	memset(&b, 0, sizeof(b));
	b.state = nd->block_state;
	memcpy(b.lock_id, nd->block_id, POLICY_LOCKID_LEN);
	b.lock_id[POLICY_LOCKID_LEN] = '\0';
	b.expires = nd->block_expires;
	if (policy_format_default(&d, buf, sizeof(buf)) == 0)
		CHECK(strlen(buf) < sizeof(buf));
	int st = policy_bucket_lock_state(&b, now);
	CHECK(st == BLOCK_UNLOCKED || st == BLOCK_IN_PROGRESS || st == BLOCK_LOCKED);
	if (policy_format_bucket_lock(&b, now, buf, sizeof(buf)) == 0)
		CHECK(strlen(buf) < sizeof(buf));
	/* A locked bucket never loses its default (one without a default
	 * has nothing to lose). */
	int rc = policy_default_change(&c, 1, &b, &d, NULL, now, &rule);
	if (st == BLOCK_LOCKED && d.mode != WORM_NONE)
		CHECK(rc != 0);
	(void)policy_default_change(&c, 1, &b, &d, &newd, now, &rule);
	struct policy_bucket_lock b2 = b;
	(void)policy_bucket_lock_request(&c, 1, &b2, &d, BREQ_COMPLETE, b.lock_id, now, &rule);
	b2 = b;
	(void)policy_bucket_lock_request(&c, 1, &b2, &d, BREQ_ABORT, NULL, now, &rule);
}

/* Records written before the bucket's autocommit field, and before the
 * commit field (meta.c decodes them with those 0): the fields up to it,
 * then the MAC. */
#define MAC_SIZE sizeof(((struct meta_node *)0)->mac)
#define OLD_SIZE (offsetof(struct meta_node, autocommit_s) + MAC_SIZE)
#define OLD_SIZE2 (offsetof(struct meta_node, commit) + MAC_SIZE)

static int known_size(size_t size)
{
	return size == sizeof(struct meta_node) || size == OLD_SIZE || size == OLD_SIZE2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta_node nd;
	uint8_t *copy;

	/* An exact-size heap copy: a read past the record is an ASan report. */
	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	if (meta_node_decode(copy, size, &nd) == 0) {
		CHECK(known_size(size) &&
		      nd.version >= META_NODE_VERSION_OLDEST && nd.version <= META_NODE_VERSION);
		/* An older record has no commit field: it reads as none, and
		 * its MAC comes right after the fields it has. */
		if (size != sizeof(nd)) {
			static const uint8_t none[META_COMMIT_BYTES];
			CHECK(!memcmp(nd.commit, none, sizeof(none)));
			CHECK(!memcmp(nd.mac, copy + size - MAC_SIZE, MAC_SIZE));
		}
		lock_rules(&nd, NOW);
		lock_rules(&nd, clock_time(nd.retain_until));   /* the boundary itself */
		bucket_rules(&nd, NOW);
		bucket_rules(&nd, clock_time(nd.block_expires));
	} else {
		uint32_t v;

		/* The version is the record's first field in every size. */
		memcpy(&v, copy, size >= sizeof(v) ? sizeof(v) : 0);
		CHECK(!known_size(size) || v < META_NODE_VERSION_OLDEST || v > META_NODE_VERSION);
	}
	free(copy);
	return 0;
}
