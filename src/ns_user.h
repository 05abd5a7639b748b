/* Private to the ns module: what the key ring work needs of the S3 users
 * (src/ns_user.c; the users API is in include/ns.h). */
#ifndef WORMFS_NS_USER_H
#define WORMFS_NS_USER_H

#include "ns_priv.h"

/* Lowest and highest master key versions sealing a user's secret (0 if
 * none); records that fail authentication are not counted. */
int ns_user_key_versions(ns *n, uint32_t *min_version, uint32_t *max_version);
/* Re-seal every user's secret not sealed under version active (one write
 * transaction each): the count re-sealed, or -errno. */
long ns_user_rewrap(ns *n, uint32_t active);

/* For ns_verify: every user record and key id entry that fails
 * authentication or decoding, through cb; their count or -errno. */
long ns_user_verify(ns *n, ns_damage_cb cb, void *arg);

#endif
