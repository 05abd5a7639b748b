/* kms_priv.h: what kms.c (requests, gate, DEK cache) and kms_ring.c (the
 * key ring file) share. Private to the kms module: include only from
 * src/kms*.c. */
#ifndef WORMFS_KMS_PRIV_H
#define WORMFS_KMS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "byteorder.h"
#include "crypto.h"
#include "kms.h"
#include "ratelimit.h"

struct kms_mk {
	uint32_t version;
	int64_t created_s;
	uint8_t key[WCRYPTO_KEYBYTES];
};

/* All key material, in one sodium_malloc'd block. */
struct kms_ring {
	uint8_t kek[WCRYPTO_KEYBYTES];
	uint8_t record_key[32];
	uint32_t active;
	uint32_t count;
	struct kms_mk mk[KMS_MAX_VERSIONS + 1];  /* +1: scratch for rollback */
};

struct cache_meta {
	uint8_t ctx[KMS_CTX_BYTES];
	uint8_t wrapped[KMS_WRAPPED_BYTES];
	uint64_t inserted_ns;
	int32_t hnext;        /* bucket chain, or free list */
	int32_t prev, next;   /* LRU list, most recent at head */
	uint8_t used;
};

struct dek_cache {
	pthread_mutex_t mu;
	uint32_t cap;
	uint32_t nbuckets;    /* power of two */
	int32_t *buckets;
	struct cache_meta *e;
	uint8_t *dek;         /* cap x 32, sodium_malloc'd */
	int32_t lru_head, lru_tail, free_head;
	uint64_t ttl_ns;
	uint8_t hkey[WCRYPTO_SHORTHASH_KEYBYTES];
};

struct kms {
	char *dir;
	uint32_t mode;
	uint8_t salt[WCRYPTO_SALTBYTES];
	uint64_t opslimit;
	uint64_t memlimit;
	struct kms_ring *ring;
	pthread_rwlock_t ring_lock;
	struct kms_params p;
	uint64_t max_wait_ns;
	struct rl_gcra rl[KMS_CLASS__COUNT];
	struct rl_gcra log_rl;        /* throttling log lines: 1/s, burst 5 */
	_Atomic uint64_t log_suppressed;
	_Atomic uint64_t requests[KMS_CLASS__COUNT];
	_Atomic uint64_t throttled[KMS_CLASS__COUNT];
	_Atomic uint64_t wait_ns[KMS_CLASS__COUNT];
	_Atomic uint64_t hits, misses;
	struct dek_cache cache;
	struct wcrypto_impl_choice impl;   /* resolved crypto_impl */
};

/* One line into err (if any), printf style. */
/* Error lines for err/errlen: wlog_seterr (log.h). */

/* A struct kms with dir and a zeroed ring (secure memory); NULL if out of
 * memory. kms_free_bare releases what kms_alloc made (wipes the ring). */
struct kms *kms_alloc(const char *dir);
void kms_free_bare(struct kms *k);

/* Index of version in the ring, or -1. */
int kms_ring_find(const struct kms_ring *r, uint32_t version);
/* Seal the ring under the KEK and replace DIR/keyring atomically (noreplace:
 * -EEXIST if there is one). Caller holds the ring exclusively. */
int kms_ring_save(struct kms *k, int noreplace);
/* Read DIR/keyring, unlock it (key file or passphrase) and fill k->mode,
 * salt, limits and k->ring. Errors as kms_open, with err set. */
int kms_ring_load(struct kms *k, const char *passphrase, size_t passlen,
		  char *err, size_t errlen);

#endif
