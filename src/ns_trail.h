/* Private to the ns module: store head and audit trail (src/ns_trail.c,
 * include/trail.h). */
#ifndef WORMFS_NS_TRAIL_H
#define WORMFS_NS_TRAIL_H

#include "ns_priv.h"

/* ns_trail.c: store head and audit trail (include/trail.h). open checks
 * STORE/head against meta/ (a writable open refuses a rolled-back meta/
 * with -ESTALE) and makes the first head; close makes the last. */
int ns_trail_open(ns *n, char *err, size_t errlen);
void ns_trail_final(ns *n);   /* before the database closes */
void ns_trail_close(ns *n);   /* frees */
/* An audit record and a new head in write txn t (uid < 0: none). */
int ns_trail_event(ns *n, meta_txn *t, const char *kind, const char *op, uint64_t ino,
		   const char *attr, int64_t uid, const char *rule, const char *value);
/* A record of the store itself (kind, op, rule and extra fields already
 * quoted, uid = the process's) and a new head in write txn t. */
int ns_trail_note(ns *n, meta_txn *t, const char *kind, const char *op, const char *rule,
		  const char *extra);
/* As ns_audit_note (trail.h), in write txn t: with the change it records. */
int ns_audit_note_txn(ns *n, meta_txn *t, const char *kind, const char *text);
/* 1 if STORE/head or meta/'s latest head (each authentic) was made while
 * the store kept a metadata state digest. */
int ns_trail_had_digest(ns *n);
/* The time of the latest head in meta/ or of the audit trail's last
 * record at open, the later (each authentic; 0 when none):
 * compliance-clock times, never going back along the chain, so the clock
 * never starts below it (ns_store.c). */
int64_t ns_trail_time(ns *n);
/* A lock attribute change (old: the lock before it) in write txn t. */
int ns_trail_lock(ns *n, meta_txn *t, uint32_t uid, uint64_t ino, const char *attr,
		  int remove, const struct policy_lock *old, const struct meta_node *nd,
		  const char *rule, const char *value, int64_t now);
/* Queue a refusal (bounded; see trail.h). */
void ns_trail_refusal(ns *n, const char *op, const char *path, const char *attr,
		      uint32_t uid, int err, const char *rule);
/* Write queued records and a head (checkpoint: also when the database
 * changed since the last head). No write txn may be held by the caller. */
int ns_trail_flush(ns *n, int checkpoint);
#define NS_INITIALIZING 0x40000000   /* n->flags: ns_store_init's first head */
/* The rule of that first head's record (kind=store-head op=start) when
 * wormctl init gave the store the legacy bind's marker (ns_bind.c). */
#define NS_TRAIL_RULE_INIT "store-init"
/* .wormfs/audit */
int ns_trail_render(ns *n, char **buf, size_t *len);

/* Lock changes and fsync: on disk (with queued audit records and their
 * head) before the reply. */
int ns_durable(ns *n);

#endif
