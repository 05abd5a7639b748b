/* Private to the ns module: the marker of a complete wormctl upgrade
 * (src/ns_upgrade.c). */
#ifndef WORMFS_NS_UPGRADE_H
#define WORMFS_NS_UPGRADE_H

#include "ns_priv.h"

/* n->fmt_upgraded from the marker NS_KV_UPGRADE_DONE (every open): once a
 * run left no file node in format 1 or 2, such a node can only be a record
 * from before the run put back (with its old file, perhaps replayed): its
 * content is refused (ns_read), verify names it, no run upgrades it. */
void ns_upgrade_load(ns *n);

#endif
