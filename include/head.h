/* head: the signed store head (design section 7).
 *
 * A head is a sequence number and a digest of the store's authenticated
 * state, chained to the head before it (prev = hash of that head), MAC'd
 * and signed with Ed25519. Keys: derived from the store's record key (kms,
 * kept in the key ring so it survives master key rotation) with the
 * crypto KDF, so the public key never changes for a store.
 *
 * The digest is a running hash: digest(k) = BLAKE2b("wormfs-state-v1" |
 * digest(k-1) | audit seq | audit hash | clock high-water mark | node
 * count [| state digest]). The state digest (the keyed set-hash of every
 * record of meta/, ns_digest.c) is part of it in every store that keeps
 * one ("wormfs-state-v2"). The audit chain it covers holds every lock change (ns_trail.c), so
 * every lock change changes the digest; a head is only made when the
 * database changed since the last one.
 *
 * Persistence: every head in the metadata kv table ("head/SEQ", 16 hex
 * digits) and the latest as "head"; the latest also in STORE/head, outside
 * meta/, written after meta/ is synced (so it is never ahead of meta/ but
 * may lag it after a crash). Functions return 0 or -errno. */
#ifndef WORMFS_HEAD_H
#define WORMFS_HEAD_H

#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>
#include "meta.h"

#define HEAD_HASHBYTES 32
#define HEAD_BODY_BYTES 124       /* magic 4 | seq | time | digest | prev |
				     audit seq | audit hash (LE); magic
				     WHD2: the digest covers a metadata
				     state digest, WHD1: it does not */
#define HEAD_BYTES (HEAD_BODY_BYTES + 32 + 64)
#define HEAD_ID_MAX 96            /* "SEQ:HASH" + NUL */
#define HEAD_FILE "head"          /* STORE/head */

struct whead {
	uint64_t seq;              /* 1 = the first head of a store */
	int64_t time_s;            /* compliance clock when made */
	uint8_t digest[32];
	uint8_t prev[32];          /* hash of head seq-1; zero for seq 1 */
	uint64_t audit_seq;        /* last audit record covered */
	uint8_t audit_hash[32];    /* its MAC (the audit chain's tip) */
	uint8_t mac[32];           /* keyed BLAKE2b of the body */
	uint8_t sig[64];           /* Ed25519 of the body */
	int has_state;             /* WHD2: the store kept a state digest, so
				      one missing later is a downgrade */
};

/* The state a digest covers (beside the previous digest). */
struct head_state {
	uint64_t audit_seq;
	uint8_t audit_hash[32];
	int64_t clock_hwm;
	uint64_t nodes;
	int has_state;             /* state below is set */
	uint8_t state[32];         /* metadata state digest (meta_digest_get) */
};

/* Keys of a store's heads and audit trail; mac, sk and audit in secure
 * memory. */
struct head_keys {
	uint8_t *mac;              /* 32: head MAC */
	uint8_t *sk;               /* 64: Ed25519 secret key */
	uint8_t *audit;            /* 32: audit record MAC */
	uint8_t pk[32];            /* Ed25519 public key */
};
WORM_MUST_USE
int head_keys_derive(const uint8_t reckey[32], struct head_keys *k);
void head_keys_free(struct head_keys *k);

/* The head after prev (NULL: the first head), signed. */
WORM_MUST_USE
int head_next(const struct whead *prev, const struct head_state *st, int64_t time_s,
	      const struct head_keys *k, struct whead *out);
/* BLAKE2b-256 of the body: what the next head's prev holds and what a
 * head id names. */
WORM_MUST_USE
int head_hash(const struct whead *h, uint8_t out[HEAD_HASHBYTES]);
/* Signature by pk and (mackey not NULL) the MAC: 0 or -EBADMSG. */
WORM_MUST_USE
int head_verify(const struct whead *h, const uint8_t pk[32], const uint8_t *mackey);
/* 0 if next directly follows prev (seq + 1, prev link), -EBADMSG if not. */
int head_follows(const struct whead *prev, const struct whead *next);

void head_encode(const struct whead *h, uint8_t out[HEAD_BYTES]);
/* -EBADMSG for another size or magic. */
WORM_MUST_USE
int head_decode(const uint8_t *in, size_t len, struct whead *h);

/* The copy-pasteable id of a head: "SEQ:HASH" (decimal, 64 hex digits). */
WORM_MUST_USE
int head_id(const struct whead *h, char out[HEAD_ID_MAX]);
/* Strict parse of an id (surrounding blanks allowed): 0 or -EINVAL. */
WORM_MUST_USE
int head_id_parse(const char *s, uint64_t *seq, uint8_t hash[HEAD_HASHBYTES]);

/* STORE/head: two lines (slots) "wormfs-head 1 HEX\n"; a head goes to
 * slot seq % 2, overwritten in place and fdatasync'ed (created whole the
 * first time: temporary file, fsync, rename, directory fsync). read: the
 * newest slot that decodes and verifies (pk, and mackey if not NULL);
 * -ENOENT absent, -EBADMSG if neither does. */
WORM_MUST_USE
int head_file_write(const char *path, const struct whead *h);
WORM_MUST_USE
int head_file_read(const char *path, const uint8_t pk[32], const uint8_t *mackey,
		   struct whead *h);

/* kv: seq 0 = the latest. -ENOENT absent, -EBADMSG malformed. */
WORM_MUST_USE
int head_kv_get(meta_txn *t, uint64_t seq, struct whead *h);
/* Stores head/SEQ and the latest. */
WORM_MUST_USE
int head_kv_put(meta_txn *t, const struct whead *h);

#endif
