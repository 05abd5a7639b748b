/* Private to the ns module: bucket default retention: when it applies, the
 * pending mark that survives a crash, its repair at open, and autocommit
 * (src/ns_retention.c). */
#ifndef WORMFS_NS_RETENTION_H
#define WORMFS_NS_RETENTION_H

#include "ns_priv.h"

/* Objects whose bucket default retention is due at their writers' release
 * are marked in their record (META_F_DEFAULT_PENDING) and counted in kv
 * "pending_defaults", so a crash before that release is repaired at the
 * next open (ns_apply_pending). */
int ns_pending_mark(ns *n, meta_txn *t, struct meta_node *nd, int on);
/* 1 if nd (not sealed) lies in a bucket with a default retention, 0 if
 * not, -errno if its bucket cannot be found. */
int ns_bucket_default(ns *n, meta_txn *t, const struct meta_node *nd);
int ns_apply_pending(ns *n);
/* Autocommit (design section 15). schedule: in a write
 * transaction, give a regular, unsealed object of a bucket with autocommit
 * and a default retention (bucket: its record, or NULL to look it up) the
 * deadline now + period (replacing any earlier one); 0 when nothing is
 * due. touch: the same in a transaction of its own (no in->mu held; in->rw
 * may be). run: lock every object whose deadline has passed and that has
 * no writer and no uncommitted change (called at mount and by ns_tick);
 * returns the count locked or -errno. */
int ns_autocommit_schedule(ns *n, meta_txn *t, const struct meta_node *nd,
			   const struct meta_node *bucket);
void ns_autocommit_touch(ns *n, uint64_t ino);
long ns_autocommit_run(ns *n);

#endif
