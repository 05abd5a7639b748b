/* Private to the ns module: the table of open inodes (struct ns_inode),
 * their state loaded from records, attributes with that live state, page-
 * cache invalidation and the wait for writers to release (src/ns_inode.c).
 * */
#ifndef WORMFS_NS_INODE_H
#define WORMFS_NS_INODE_H

#include "ns_priv.h"

void ns_node_attr(ns *n, const struct meta_node *nd, struct ns_attr *a);
struct ns_inode *ns_inode_get(ns *n, uint64_t ino);
void ns_inode_put(ns *n, struct ns_inode *in);
/* Wipe and free an inode's inline plaintext (in->mu held or no sharers). */
void ns_ibuf_free(struct ns_inode *in);
/* Free an inode no one refers to any more (its key, plaintext, locks). */
void ns_inode_free(struct ns_inode *in);
/* Load an inode's content state from its node (in->mu held). */
void ns_inode_load(struct ns_inode *in, const struct meta_node *nd, int64_t now);
/* Load it from its record read now, under in->mu: a lock committed before
 * this call is seen (lock changes commit holding in->mu). */
int ns_inode_refresh(ns *n, struct ns_inode *in, int64_t now);
/* Queue a kernel cache invalidation of ino's pages and attributes for
 * ns_drain_inval (bounded: beyond the queue's size it is dropped, logged). */
void ns_queue_inval(ns *n, uint64_t ino);
/* After a change by c that succeeded: queue what the kernel must forget
 * (kind and arguments of ns_inval_fn), unless c came through the mount
 * (c->via_mount), whose kernel follows its own requests. */
void ns_queue_change(ns *n, const struct ns_caller *c, int kind, uint64_t ino,
		     const char *name);
/* Wait (at most about 1 s) for the writers of an inode to release, since
 * close(2) returns before the kernel sends RELEASE. Called outside any
 * transaction and without in->mu; the caller re-checks writers after.
 * Waits only while fewer than a quarter of the daemon threads do, so that
 * writers held open on purpose cannot stall every request. */
void ns_settle_inode(ns *n, struct ns_inode *in);
/* Returns 1 if the object of parent/name still has writers after that
 * wait (0 also when it is not open or not found). */
int ns_settle_writers(ns *n, uint64_t parent, const char *name);

#endif
