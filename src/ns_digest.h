/* Private to the ns module: the metadata state digest (src/ns_digest.c). */
#ifndef WORMFS_NS_DIGEST_H
#define WORMFS_NS_DIGEST_H

#include "ns_priv.h"

/* ns_digest.c: the metadata state digest (meta keeps the sum; this hands
 * it the keyed hash and checks it). attach right after meta_open, before
 * any write; open after ns_auth_open: seals a store without one, refuses
 * a mismatch (-EUCLEAN, message in err) except for wormctl (NS_OFFLINE);
 * state: NS_DIGEST_* for the state seen by t (a full scan); reseal:
 * wormctl repair (1 re-sealed, 0 nothing to do). */
#define NS_DIGEST_OK 0
#define NS_DIGEST_NONE 1
#define NS_DIGEST_MISMATCH 2
#define NS_DIGEST_FORGED 3
#define NS_DIGEST_MISSING 4
const char *ns_digest_why(int st);
int ns_digest_attach(ns *n, meta_env *me);
int ns_digest_open(ns *n, const char *store_path, char *err, size_t errlen);
int ns_digest_state(ns *n, meta_txn *t, uint64_t *records);
void ns_digest_free(ns *n);
#endif
