/* Private to the ns module: whole-store scans (src/ns_offline.c). */
#ifndef WORMFS_NS_OFFLINE_H
#define WORMFS_NS_OFFLINE_H

#include "ns_priv.h"

/* Delete content files no live record names (objects unlinked while open
 * when the daemon stopped); a writable open calls it. */
void ns_purge_orphans(ns *n);

#endif
