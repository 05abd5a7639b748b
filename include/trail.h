/* trail: the store head and the audit trail of an open store (ns level;
 * formats in head.h and audit.h). wormctl and fs call these.
 *
 * When a head is made: in the same write transaction as every audit
 * record (so the head always covers the whole audit chain: a lock change,
 * a bucket lock step, a governance bypass, a legal hold change, a key ring
 * operation), and at a checkpoint (the metadata sync timer, unmount) when
 * the database changed since the last head. Each head is logged ("store
 * head seq=... id=SEQ:HASH ...", INFO) and written to STORE/head once
 * meta/ is synced.
 *
 * Refusals are not written one by one: they are queued (at most
 * TRAIL_QUEUE_MAX between two flushes and TRAIL_REFUSALS_PER_MIN a
 * minute; more are counted and recorded as one "kind=audit-dropped
 * count=N" record at most once a minute and at unmount) and written at the
 * next checkpoint or durable point, so a flood of refused requests costs
 * at most one write transaction per flush and a bounded number of records
 * a minute. */
#ifndef WORMFS_TRAIL_H
#define WORMFS_TRAIL_H

#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>
#include "ns.h"
#include "head.h"

#define TRAIL_QUEUE_MAX 64
#define TRAIL_REFUSALS_PER_MIN 60     /* refusal records per minute, then counted */
#define TRAIL_WINDOW_NS (60ll * 1000000000ll)
#define TRAIL_FINAL 2                 /* ns_trail_flush at close: write every count */
#define TRAIL_RENDER_MAX (1u << 20)   /* .wormfs/audit shows the latest 1 MiB */

/* The store's latest head (from meta/) and its public key. */
WORM_MUST_USE
int ns_head_get(ns *n, struct whead *out, uint8_t pk[32]);
/* 0 if the store's chain holds head (seq, hash) and leads from it to the
 * latest head (each link and signature checked). -ESTALE: a rollback (or
 * another history): msg says which. Other -errno: cannot tell. */
WORM_MUST_USE
int ns_head_since(ns *n, uint64_t seq, const uint8_t hash[32], char *msg, size_t len);
/* For wormctl verify: the head chain (links, signatures), STORE/head
 * against meta/, the audit tip against the head. Problems through cb
 * (path "store-head"); returns their count or -errno. */
WORM_MUST_USE
long ns_head_verify(ns *n, ns_damage_cb cb, void *arg);
/* Record an event (key ring operations from wormctl): text is fields
 * "k=v ...", already quoted. Writes at once (own transaction, synced). */
WORM_MUST_USE
int ns_audit_note(ns *n, const char *kind, const char *text);
/* Every readable record with time >= since_s, in order. authentic: its
 * MAC verifies under the store's audit key and it sits at its own place
 * (seq). Only such a record is evidence for a check (a key rotate, a
 * legacy-bind pass, an upgrade run): one that fails was edited or planted
 * offline, by someone without the key, and taken at its word it would
 * refuse every writable mount (or let one through); wormctl audit verify
 * names it. Its predecessor's link is not required: deleting one record
 * must not void the next. */
typedef int (*ns_audit_cb)(void *arg, uint64_t seq, int64_t time_s, const char *text,
			   int authentic);
WORM_MUST_USE
int ns_audit_list(ns *n, int64_t since_s, ns_audit_cb cb, void *arg);
/* The chain against the latest head: problems through cb (path "audit
 * record N"); returns their count or -errno. */
WORM_MUST_USE
long ns_audit_verify(ns *n, ns_damage_cb cb, void *arg);

#endif
