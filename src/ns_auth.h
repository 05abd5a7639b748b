/* Private to the ns module: the record MAC key, the authenticated-records
 * flag and the upgrade of an older store, and the compliance clock's record
 * (src/ns_auth.c). */
#ifndef WORMFS_NS_AUTH_H
#define WORMFS_NS_AUTH_H

#include "ns_priv.h"

/* ns_auth.c: the record MAC key (derived from the record key), the MAC
 * function meta uses, the authenticated-records flag and the upgrade of an
 * older store (ns_auth_open, right after the database is opened), and the
 * compliance clock's record (get: -EIO if it fails authentication, *hwm
 * then 0; -ENOENT if absent). */
int ns_auth_open(ns *n, char *err, size_t errlen);
int ns_auth_init_store(ns *n, meta_env *me, meta_txn *t);
/* Mark the store as keeping a state digest (auth flag version 2). */
int ns_auth_flag_digest(ns *n, meta_txn *t);
int ns_clock_put(ns *n, meta_txn *t, int64_t hwm);
int ns_clock_get(ns *n, meta_txn *t, int64_t *hwm);

#endif
