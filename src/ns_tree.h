/* Private to the ns module: the tree (lookup, create, rename, unlink): node
 * creation, for reattach (src/ns_tree.c). */
#ifndef WORMFS_NS_TREE_H
#define WORMFS_NS_TREE_H

#include "ns_priv.h"

/* Create a node named name in parent (write txn t), as mkdir/create do. */
int ns_node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		const char *name, uint32_t mode, struct meta_node *out);
/* The node of a regular file, no handle, nothing committed (ns_create
 * opens it; ns_mknod in ns.h also closes it); special files refused. */
int ns_node_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint32_t mode, struct ns_attr *out);
/* ns_mknod of a regular file for ns_create_upload: without the pending
 * mark of its bucket's default (the rename with NS_RENAME_UPLOAD sets it). */
int ns_mknod_upload(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		    uint32_t mode, struct ns_attr *out);

/* Make a staging node (mode with its type: S_IFREG or S_IFDIR); see
 * ns_create_staging in ns.h. */
int ns_node_create_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
			   uint32_t mode, struct ns_attr *out);

#endif
