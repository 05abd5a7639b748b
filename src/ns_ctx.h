/* Private to the ns module: the engine context's small services: durable
 * sync (with the audit trail's head) and the crash-test hook
 * (src/ns_ctx.c). */
#ifndef WORMFS_NS_CTX_H
#define WORMFS_NS_CTX_H

#include "ns_priv.h"

/* The crash-test hook (see struct ns): "write", "truncate", "commit",
 * "create", "spill", "recover", "bind", "rotate". A no-op unless WORMFS_CRASH_AT names the step. */
void ns_crash_point(ns *n, const char *step);
/* Read WORMFS_CRASH_AT once (ns_open). */
void ns_crash_init(ns *n);

#endif
