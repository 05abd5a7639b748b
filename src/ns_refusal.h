/* Private to the ns module: refusals (src/ns_refusal.c). */
#ifndef WORMFS_NS_REFUSAL_H
#define WORMFS_NS_REFUSAL_H

#include "ns_priv.h"

/* Count a refusal, log it with the object's path and queue it to the
 * audit trail; returns err. ino is the object, or the directory holding
 * name for namespace operations; for xattr operations name is the
 * attribute. */
int ns_refuse(ns *n, enum stats_op op, uint64_t ino, const char *name,
	      const struct ns_caller *c, int err, const char *rule);

#endif
