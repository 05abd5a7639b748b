/* Private to the ns module: clearing set-id bits on a write by a caller
 * without CAP_FSETID (src/ns_setid.c). */
#ifndef WORMFS_NS_SETID_H
#define WORMFS_NS_SETID_H

#include "ns_priv.h"

/* Clear S_ISUID (and S_ISGID if group-executable) of a regular file
 * written or truncated by a caller without CAP_FSETID, as the kernel does
 * (fs.c negotiates FUSE_HANDLE_KILLPRIV). A sealed object:
 * -EPERM (refused and logged like a chmod). */
int ns_kill_setid(ns *n, const struct ns_caller *c, uint64_t ino);

#endif
