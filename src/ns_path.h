/* Private to the ns module: object paths for logs and reports
 * (src/ns_path.c). */
#ifndef WORMFS_NS_PATH_H
#define WORMFS_NS_PATH_H

#include "ns_priv.h"

/* The path of ino from the root, for logs (a scan of each parent; a path
 * that does not fit keeps its end, the start shows as "/..."). */
int ns_path_of(ns *n, uint64_t ino, char *buf, size_t len);
/* The name of ino in directory dir (a scan of dir: logs and reports
 * only): 1 and out set, or 0 if no entry names it. */
int ns_entry_name(meta_txn *t, uint64_t dir, uint64_t ino, char *out, size_t len);

#endif
