/* Private to the ns module: the S3 ETag sealing key (src/ns_etag.c; the
 * seal and open calls are in include/ns.h). */
#ifndef WORMFS_NS_ETAG_H
#define WORMFS_NS_ETAG_H

#include "ns_priv.h"

/* Derive n's ETag sealing key from its record key (at open, before any
 * thread): 0, -ENOMEM, -EINVAL without a record key. Freed (wiped) with
 * n. */
int ns_etag_attach(ns *n);

#endif
