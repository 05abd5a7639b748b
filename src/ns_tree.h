/* Private to the ns module: the tree (lookup, create, rename, unlink): node
 * creation, for reattach (src/ns_tree.c). */
#ifndef WORMFS_NS_TREE_H
#define WORMFS_NS_TREE_H

#include "ns_priv.h"

/* Create a node named name in parent (write txn t), as mkdir/create do. */
int ns_node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		const char *name, uint32_t mode, struct meta_node *out);

#endif
