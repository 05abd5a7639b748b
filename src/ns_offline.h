/* Private to the ns module: whole-store scans (src/ns_offline.c). */
#ifndef WORMFS_NS_OFFLINE_H
#define WORMFS_NS_OFFLINE_H

#include "ns_priv.h"

/* Delete content files no live record names (objects unlinked while open
 * when the daemon stopped); a writable open calls it. */
void ns_purge_orphans(ns *n);

/* The audit trail records a wormctl upgrade run that left no format-1/2
 * file node (kind=format-upgrade ... format=3 done=1) and no later test
 * downgrade: 1 (*seq its record), 0 no, or -errno. For the marker
 * NS_KV_UPGRADE_DONE missing (deleted, the state digest re-sealed): verify
 * names that, and the next run puts it back instead of taking a node
 * record put back from before it. */
int ns_upgrade_audited(ns *n, uint64_t *seq);

/* The audit trail records a legacy bind pass that ended (kind=legacy-bind
 * op=bind), or a store wormctl init made with the bind's marker (its first
 * record, rule=store-init): 1 (*seq that record), 0 no, or -errno. For the
 * marker NS_KV_BIND_DONE missing: the bind's walk is not run again (nor
 * its test hook honoured) and verify names it. */
int ns_bind_audited(ns *n, uint64_t *seq);

/* The highest master key version a key rotate made active by the audit
 * trail (kind=key-ring op=rotate version=N), for NS_KV_KEY_ACTIVE missing
 * (deleted, the state digest re-sealed). Only authentic records count
 * (ns_audit_cb); the highest version a rotate record that fails
 * authentication names is returned apart, to be named, never trusted: a
 * record planted offline would otherwise refuse every writable mount.
 * 0 or -errno. */
struct ns_key_audit {
	uint32_t version;          /* 0: no authentic rotate record */
	uint64_t seq;              /* its record */
	uint32_t unauth_version;   /* 0: no rotate record fails authentication */
	uint64_t unauth_seq;
};
int ns_key_audited(ns *n, struct ns_key_audit *out);

#endif
