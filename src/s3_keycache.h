/* s3_keycache: derived SigV4 signing keys kept per access key id, so that
 * a signed request needs no KMS unseal of the user's secret (a KMS quota
 * token and two secure allocations each) once its user has been seen on
 * that day. One cache per server (the daemon context: no global state).
 *
 * Entries hold the sigv4_key (secure memory, wiped when dropped) and the
 * user's identity, tagged with ns_user_generation() as read BEFORE the
 * lookup that found the user. ns bumps the generation after every user
 * add or remove commits, so an entry made before a removal never matches
 * a generation read after it: a removed user's key stops working with the
 * next request (see s3_auth.c). A key for another scope (the date
 * changed, another region) is a miss; entries are per access key id and
 * scope. Bounded: at most cap entries, the least recently used one goes. */
#ifndef WORMFS_S3_KEYCACHE_H
#define WORMFS_S3_KEYCACHE_H

#include <stdint.h>
#include "ns.h"
#include "sigv4.h"

typedef struct s3_keycache s3_keycache;

/* A hit: the key stays valid until s3_keycache_release, even if the entry
 * is dropped meanwhile (reference counted). */
struct s3_keycache_hit {
	const sigv4_key *key;
	struct ns_user user;       /* name, key id, uid, gid, groups */
	void *ref;                 /* private */
};

/* cap: 1 .. 4096 entries. -EINVAL, -ENOMEM. */
int s3_keycache_new(unsigned cap, s3_keycache **out);
void s3_keycache_free(s3_keycache *c);   /* NULL ok; no hit may be held */

/* 1 and *hit filled when an entry for auth's access key id and scope
 * exists with generation gen; 0 otherwise (nothing to release). Entries
 * of an older generation are dropped here. */
int s3_keycache_get(s3_keycache *c, const struct sigv4_auth *auth, uint64_t gen,
		    struct s3_keycache_hit *hit);
void s3_keycache_release(s3_keycache *c, struct s3_keycache_hit *hit);

/* Keep key (ownership passes to the cache, always: it is freed when not
 * kept) for user u, made under generation gen (read before the user was
 * looked up). A gen older than the newest seen is not kept. */
void s3_keycache_put(s3_keycache *c, const struct sigv4_auth *auth, uint64_t gen,
		     sigv4_key *key, const struct ns_user *u);

/* Entries held (tests). */
unsigned s3_keycache_count(s3_keycache *c);

#endif
