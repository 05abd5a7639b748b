/* Private to the ns module: the virtual .wormfs files (src/ns_virt.c). No
 * function here reads the store or takes a lock. */
#ifndef WORMFS_NS_VIRT_H
#define WORMFS_NS_VIRT_H

#include "ns_priv.h"

/* 1 if ino is .wormfs or a file in it. */
int ns_is_virtual(uint64_t ino);
/* name in parent: 0 and *ino set (.wormfs at the root, its files in it);
 * -ENOENT for another name in .wormfs; 1 when parent/name is not
 * virtual (an ordinary lookup). */
int ns_virt_lookup(uint64_t parent, const char *name, uint64_t *ino);
/* The i-th file of .wormfs (readdir order): 0, or -ENOENT past the end. */
int ns_virt_entry(size_t i, const char **name, uint64_t *ino);
/* Attributes of .wormfs (a directory, 0555) or a file in it (0444, size
 * 0: served with direct I/O; audit 0400, the daemon's euid's); -ENOENT
 * for another ino. */
int ns_virt_attr(uint64_t ino, struct ns_attr *a);
/* 1 if uid may read virtual file ino: audit only root and the daemon's
 * euid, the others everyone. */
int ns_virt_may_read(uint64_t ino, uint32_t uid);
/* The content of .wormfs/version, stats or clock, in a new buffer the
 * caller frees; -EISDIR for .wormfs, -EINVAL for audit (ns_trail_render)
 * or an ino that is not virtual. */
int ns_virt_render(ns *n, uint64_t ino, char **buf, size_t *len);

#endif
