/* audit: the hash-chained, MAC'd audit trail (design section 15).
 *
 * A record is a sequence number, the compliance time, the MAC of the
 * record before it (zero for record 1), one text line of key=value fields
 * (values quoted as in the log, see wlog_quote) and its own MAC (keyed
 * BLAKE2b under a key derived from the record key, over every other
 * field). Records live in the metadata kv table as "audit/SEQ" (16 hex
 * digits); kv "audit_tip" holds the last sequence number and MAC. The
 * store head (head.h) records the tip too, so a cut tail is detected
 * against the head even when audit_tip is edited with it.
 *
 * Functions return 0 or -errno. */
#ifndef WORMFS_AUDIT_H
#define WORMFS_AUDIT_H

#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>
#include "meta.h"

#define AUDIT_TEXT_MAX 2048
#define AUDIT_HDR_BYTES (4 + 8 + 8 + 32 + 32 + 4)
#define AUDIT_REC_MAX (AUDIT_HDR_BYTES + AUDIT_TEXT_MAX)

struct audit_rec {
	uint64_t seq;
	int64_t time_s;
	uint8_t prev[32];
	uint8_t mac[32];
	uint32_t len;
	char text[AUDIT_TEXT_MAX + 1];   /* NUL-terminated */
};

/* Compute (seal) or check (0 / -EBADMSG) a record's MAC. */
WORM_MUST_USE
int audit_seal(struct audit_rec *r, const uint8_t key[32]);
WORM_MUST_USE
int audit_check(const struct audit_rec *r, const uint8_t key[32]);
/* Encoded size, or 0 if it does not fit cap. */
size_t audit_encode(const struct audit_rec *r, uint8_t *out, size_t cap);
/* -EBADMSG for a malformed record. */
WORM_MUST_USE
int audit_decode(const uint8_t *in, size_t len, struct audit_rec *r);

/* The chain's tip (seq 0 and a zero hash when empty). */
WORM_MUST_USE
int audit_tip(meta_txn *t, uint64_t *seq, uint8_t hash[32]);
/* Point the tip at seq (its record's MAC hash): an operator's repair of a
 * tip record edited past the chain (ns_trail.c), never on its own. */
WORM_MUST_USE
int audit_tip_put(meta_txn *t, uint64_t seq, const uint8_t hash[32]);
/* Append a record with text (cut to AUDIT_TEXT_MAX, never split inside a
 * line: control characters are the caller's to quote) in write txn t. */
WORM_MUST_USE
int audit_append(meta_txn *t, const uint8_t key[32], int64_t time_s, const char *text,
		 struct audit_rec *out);
/* Record seq as stored: -ENOENT absent, -EBADMSG malformed. */
WORM_MUST_USE
int audit_get(meta_txn *t, uint64_t seq, struct audit_rec *r);

/* Check the chain 1..want_seq against the tip a head recorded (want_seq,
 * want_hash): every record present, at its place, authentic, linked to
 * the one before; nothing after want_seq. cb(arg, seq, what) for each
 * problem. Returns the number of problems or -errno. */
typedef int (*audit_damage_cb)(void *arg, uint64_t seq, const char *what);
WORM_MUST_USE
long audit_verify(meta_txn *t, const uint8_t key[32], uint64_t want_seq,
		  const uint8_t want_hash[32], audit_damage_cb cb, void *arg);

#endif
