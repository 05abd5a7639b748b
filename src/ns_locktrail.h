/* Private to the ns module: the objects' lock state against the audit
 * trail (src/ns_locktrail.c). */
#ifndef WORMFS_NS_LOCKTRAIL_H
#define WORMFS_NS_LOCKTRAIL_H

#include "ns_priv.h"

/* One pass over the audit trail (the latest legal-hold and retention
 * record of each object), then each object the trail names against its
 * node:
 *  - a node that holds less lock than its latest change recorded (legal
 *    hold OFF where it was set ON, a weaker mode, an earlier retain-until
 *    date): "older" (its record put back from an older copy);
 *  - no node holding a lock that the trail says is in force now (hold ON,
 *    or retain-until after the compliance clock): "missing" (deleted
 *    offline).
 * fn(arg, path, why) for each (path without its leading /). Returns the
 * number of older ones (what a re-seal must refuse), *missing (may be
 * NULL) the others, or -errno. */
typedef void (*ns_locktrail_fn)(void *arg, const char *path, const char *why);
long ns_lock_trail_check(ns *n, meta_txn *t, ns_locktrail_fn fn, void *arg, long *missing);

#endif
