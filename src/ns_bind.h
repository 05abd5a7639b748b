/* Private to the ns module: binding legacy nodes to the commit record
 * their content file holds (trust on upgrade, issue 12; src/ns_bind.c). */
#ifndef WORMFS_NS_BIND_H
#define WORMFS_NS_BIND_H

#include "ns_priv.h"

/* Nodes bound per write transaction. */
#define NS_BIND_BATCH 128

/* At a writable daemon open, after recovery: give every file node that
 * names no commit record (committed by a build that did not keep it) the
 * tag of the record its content file holds now, re-MAC'd, in bounded
 * transactions; when all are done, one audit record (kind=legacy-bind)
 * and a marker, so later opens skip the walk. A failure (full disk, KMS)
 * is logged and left for the next open: never fatal, and what was bound
 * stays bound. Skipped on a store whose state digest does not match.
 * Clears n->test_unbound on a store that has the marker (the hook cannot
 * unbind a bound store). */
void ns_bind_legacy(ns *n);
/* A new store has nothing to bind: the marker in its first transaction
 * (not under WORMFS_TEST_UNBOUND=1, which makes a store as an older build
 * did, for the tests). */
int ns_bind_init_store(meta_txn *t);
/* Whether that test hook is set (WORMFS_TEST_UNBOUND=1, secure_getenv). */
int ns_bind_hook(void);
/* n->bind_done from the marker (every open, after ns_bind_legacy): reads
 * then refuse a format-3 file node that names no commit record. */
void ns_bind_load(ns *n);

#endif
