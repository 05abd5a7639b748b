/* Private to the ns module: authenticated node records (MAC, get, seal,
 * put, lock view), the caller's policy view and the bucket chain
 * (src/ns_record.c). */
#ifndef WORMFS_NS_RECORD_H
#define WORMFS_NS_RECORD_H

#include "ns_priv.h"

/* The MAC of a node record, over the fields its version covers. */
void ns_node_mac(const ns *n, const struct meta_node *nd, uint8_t out[32]);
int ns_node_get(ns *n, meta_txn *t, uint64_t ino, struct meta_node *out);
/* ns_node_get in a read transaction of its own (a snapshot: a lock
 * decision taken on it is checked again where the change is written). */
int ns_node_read(ns *n, uint64_t ino, struct meta_node *out);
int ns_node_put(ns *n, meta_txn *t, struct meta_node *nd);
/* The committed object a file's record names (content identity, key,
 * generation, commit record, size, sparse): no key opened, no map, no
 * undo journal. The one conversion every ns file uses. */
void ns_node_ref(const struct meta_node *nd, struct obj_ref *r);
void ns_node_lock(const struct meta_node *nd, struct policy_lock *lk);
void ns_caller_policy(const struct ns_caller *c, struct policy_caller *pc);
/* The bucket holding nd (a bucket: itself): 0, or -ENOENT for the root,
 * or another -errno (a damaged or looping chain, a bucket record failing
 * authentication). Any error is a refusal for the caller, never "no
 * bucket". */
int ns_bucket_of(ns *n, meta_txn *t, const struct meta_node *nd, struct meta_node *bucket);
/* The bucket inode recorded in a node (0: an older record, not recorded). */
uint64_t ns_node_bucket(const struct meta_node *nd);
void ns_node_set_bucket(struct meta_node *nd, uint64_t bucket);
/* Stamp the version and the MAC (nd's bucket known, or derived in t);
 * -EPERM for a record that failed authentication (never laundered). */
int ns_node_seal(ns *n, meta_txn *t, struct meta_node *nd);
int ns_may_write(const struct meta_node *nd, const struct ns_caller *c);

#endif
