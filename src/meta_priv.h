/* meta_priv.h: what the files of the metadata module share (include/meta.h
 * is its API). Only src/meta*.c include it (and a unit test that writes
 * legacy records).
 *
 *   meta.c         environment, transactions, map growth,
 *                  nodes (and the side tables dropped with them),
 *                  directory entries and the readdir index
 *   meta_kv.c      the kv store
 *   meta_user.c    S3 user records (in the kv database)
 *   meta_ino.c     inode numbers: the counter, allocation, repair
 *   meta_xattr.c   extended attributes        } side tables: records
 *   meta_symlink.c symlink targets            } under an inode number,
 *   meta_inline.c  inline content             } dropped with its node
 *   meta_orphan.c  content files still to be deleted
 *   meta_due.c     the autocommit deadline index
 *   meta_upgrade.c upgrading a store to authenticated records
 *   meta_auth.c    the MAC of a record (auth_mac, auth_check)
 *   meta_digest.c  the state digest, kept in every write transaction
 *   meta_digest_memo.c  the digest's H of values recently put
 *   meta_auth_memo.c    record MACs last found right */
#ifndef WORMFS_META_PRIV_H
#define WORMFS_META_PRIV_H

#include "byteorder.h"
#include "meta.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define META_KEY_MAX 511          /* LMDB's default maximum key size */
#define META_LINK_MAX 4096        /* a symlink target */

/* The sub-databases (LMDB's name for each in db_names, meta.c: the names
 * on disk never change). Keys are u64 BE inode numbers unless said. */
enum meta_db {
	DB_NODES,           /* "nodes": ino -> struct meta_node */
	DB_DIRENTS,         /* "dirents": parent | name -> ino | cookie [| MAC] */
	DB_COOKIES,         /* "cookies": parent | cookie -> name (readdir order) */
	DB_XATTRS,          /* "xattrs": ino | name -> value (side table) */
	DB_SYMLINKS,        /* "links": ino -> target [| MAC] (side table) */
	DB_ORPHANS,         /* "orphans": ino -> objid [| MAC] */
	DB_KV,              /* "kv": name -> small value */
	DB_INLINE_CONTENT,  /* "inline": ino -> content (side table) */
	DB_DUE_BY_TIME,     /* "due": deadline | ino -> nothing */
	DB_DUE_BY_INO,      /* "dueino": ino -> deadline */
	DB_COUNT
};
/* Sub-databases from DB_INLINE_CONTENT on were added after the first
 * format: a store opened read-only may not have them (handle 0: empty). */
#define DB_FIRST_OPTIONAL DB_INLINE_CONTENT

struct meta_txn {
	MDB_txn *txn;
	meta_env *e;
	int rdonly;
	int active;               /* guards against ending a handle twice */
	pthread_t owner;          /* write txn: the thread holding the lock */
	int low;                  /* write txn: disk full, reserve below half
				     (or the map nearly full): no additions */
	int crit;                 /* write txn: below a quarter (half of the
				     map's margin): no log records either */
	struct meta_txn *next;    /* pool link */
	/* write txn: the state digest (meta_digest.c) */
	int dstate;               /* 0 not loaded yet, else DG_* */
	int ddirty;               /* dsum changed: written at commit */
	uint8_t dsum[META_DIGEST_BYTES];
	/* write txn: one cursor per database for dg_put / dg_del, opened on
	 * first use; LMDB closes them when the transaction ends. */
	MDB_cursor *dcur[DB_COUNT];
};

struct meta_env {
	MDB_env *env;             /* NULL once a map could not be adopted */
	char *dir;                /* for reopening (map_adopt) */
	unsigned eflags;
	MDB_dbi dbi[DB_COUNT];
	int rdonly;
	pthread_mutex_t pool_mu;
	/* Held shared by every transaction (and by meta_sync), exclusively to
	 * adopt a map size another process set: env is then reopened, so no
	 * transaction of this process may be active and pooled handles are
	 * only taken or returned under it. The map is never resized otherwise
	 * (meta.c). */
	pthread_rwlock_t map_lk;
	meta_auth_fn auth;        /* record MACs (meta_set_auth), or NULL */
	void *auth_arg;
	int strict;               /* legacy records (no MAC) refused */
	meta_rec_hash_fn dg_fn;   /* state digest (meta_set_digest), or NULL */
	void *dg_arg;
	struct meta_txn *pool;    /* reset read transactions */
	unsigned pool_n;
	struct meta_txn wtxn;     /* owned by whoever holds LMDB's writer lock */
	/* Space for metadata on a full disk (meta.c, reserve_top_up); both
	 * only touched by the holder of LMDB's writer lock. */
	uint64_t prealloc_end;    /* data.mdb allocated up to here */
	int no_prealloc;          /* the file system cannot fallocate */
	unsigned psize;
	/* The digest record's bytes as last written or checked by a write
	 * transaction (meta_digest.c; writer lock holder only): the same
	 * bytes carry the same right MAC, so they are not checked again.
	 * Cleared when the auth or digest function is set. */
	uint8_t dg_seen[META_DIGEST_BYTES + META_MAC_BYTES];
	int dg_seen_ok;
	/* The same for the inode counter's record (meta_ino.c). */
	uint8_t ino_seen[8 + META_MAC_BYTES];
	int ino_seen_ok;
	/* H of values recently put (meta_digest_memo.c; writer lock holder
	 * only), or NULL. */
	struct dg_memo_slot *dg_memo;
	/* MACs last found right (meta_auth_memo.c), or NULL. */
	struct auth_memo *amemo;
};

/* The one place where LMDB codes become -errno. */
static inline int mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_PAGE_FULL:
	case MDB_CURSOR_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return -EBADMSG;
	case MDB_READERS_FULL:
	case MDB_TLS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;
	case MDB_DBS_FULL:
		return -EMFILE;
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
	case MDB_BAD_RSLOT:
		return -EINVAL;
	case MDB_PANIC:
	case MDB_BAD_TXN:
		return -EIO;
	default:
		return rc > 0 ? -rc : -EIO;   /* LMDB passes errno values through */
	}
}

/* Called by every write that adds a record (a name, an xattr value, inline
 * content, a symlink, an inode number): on a full disk these get ENOSPC,
 * so what is left of the reserve stays for deletes and for updates of
 * existing records (lock changes). See reserve_top_up in meta.c. */
static inline int room_to_add(const meta_txn *t)
{
	return t->low ? -ENOSPC : 0;
}

static inline MDB_dbi dbi(const meta_txn *t, enum meta_db d)
{
	return t->e->dbi[d];
}

/* key = u64 BE | bytes; buf must hold 8 + 255. */
static inline MDB_val prefixed_key(uint8_t *buf, uint64_t id, const char *s, size_t len)
{
	put_be64(buf, id);
	memcpy(buf + 8, s, len);
	return (MDB_val){ .mv_size = 8 + len, .mv_data = buf };
}

/* Copy a value out, -ERANGE if it does not fit; *len gets the full size. */
static inline int copy_out(const MDB_val *v, void *buf, size_t size, size_t *len)
{
	if (len)
		*len = v->mv_size;
	if (v->mv_size > size)
		return -ERANGE;
	if (v->mv_size)
		memcpy(buf, v->mv_data, v->mv_size);
	return 0;
}

/* 1 if the cursor c, positioned with MDB_SET_RANGE on the 8-byte prefix
 * kb, found a key with that prefix; 0 if not; <0 on error. */
static inline int seek_prefix(MDB_cursor *c, const uint8_t *kb, size_t klen, MDB_val *k,
			      MDB_val *v, MDB_cursor_op op)
{
	int rc;

	if (op == MDB_SET_RANGE)
		*k = (MDB_val){ klen, (void *)kb };
	rc = mdb_cursor_get(c, k, v, op);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_err(rc);
	return k->mv_size >= 8 && memcmp(k->mv_data, kb, 8) == 0;
}

/* One step of a walk over a whole database: *op is MDB_FIRST for the
 * first call. 1 with k, v set; 0 past the last record; <0 on error. */
static inline int cursor_step(MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op *op)
{
	int rc = mdb_cursor_get(c, k, v, *op);

	*op = MDB_NEXT;
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? mdb_err(rc) : 1;
}

/* Every write to LMDB goes through these (meta_digest.c): they keep the
 * write transaction's state digest. LMDB-style codes (pass to mdb_err). */
int dg_put(meta_txn *t, enum meta_db d, MDB_val *k, MDB_val *v, unsigned flags);
int dg_del(meta_txn *t, enum meta_db d, MDB_val *k);
int dg_cursor_del(meta_txn *t, enum meta_db d, MDB_cursor *c);
/* Write txn t: position its own cursor on d at key k, the value in v
 * (LMDB-style code); *c is for dg_cursor_del, not to be closed. */
int dg_find(meta_txn *t, enum meta_db d, MDB_val *k, MDB_val *v, MDB_cursor **c);
void meta_digest_txn_begin(meta_txn *t);
int meta_digest_txn_flush(meta_txn *t);   /* before commit; LMDB-style */
/* The digest's H of a value as last put (meta_digest_memo.c): get gives 1
 * and h if db, key and value are the ones memoized, else 0. Values of up
 * to DG_MEMO_VMAX bytes are kept: one inline object's (a 16 KiB block
 * slot and its framing) fits. */
#define DG_MEMO_VMAX (16384 + 256)
int dg_memo_get(meta_env *e, enum meta_db d, const MDB_val *k, const MDB_val *v,
		uint8_t h[META_DIGEST_BYTES]);
void dg_memo_put(meta_env *e, enum meta_db d, const MDB_val *k, const MDB_val *v,
		 const uint8_t h[META_DIGEST_BYTES]);
void dg_memo_forget(meta_env *e, enum meta_db d, const MDB_val *k);
void dg_memo_clear(meta_env *e);          /* drops all; frees */

/* Record MACs last found right (meta_auth_memo.c): known gives 1 if msg
 * (len bytes, at most AUTH_MEMO_MSG_MAX: a directory entry's) carried mac
 * when last checked or made. */
#define AUTH_MEMO_MSG_MAX (1 + 24 + META_NAME_MAX)
struct auth_memo *auth_memo_new(void);
void auth_memo_free(struct auth_memo *m);
void auth_memo_clear(struct auth_memo *m);
int auth_memo_known(struct auth_memo *m, const uint8_t *msg, size_t len,
		    const uint8_t mac[META_MAC_BYTES]);
void auth_memo_note(struct auth_memo *m, const uint8_t *msg, size_t len,
		    const uint8_t mac[META_MAC_BYTES]);

/* Record MACs. msg = tag | key | value fields; each record type has its
 * own tag, and its fields are fixed-size except a last one, so no two
 * records share a message. */
#define AUTH_MSG_MAX (1 + 8 + 8 + 8 + 4096 + 16)
int auth_mac(const meta_env *e, char tag, const void *a, size_t alen, const void *b,
	     size_t blen, uint8_t mac[META_MAC_BYTES]);
/* Value v of a record holding plain bytes then a MAC (a legacy record:
 * plain only, of legacy_len when that is fixed, else 0): 0 with *plain
 * set to the length before the MAC, or -EIO. */
int auth_check(const meta_env *e, char tag, const void *key, size_t klen, const MDB_val *v,
	       size_t legacy_len, size_t *plain);

/* The inode counter (meta_ino.c): store next with its MAC (if the store
 * has MACs); 1 if the stored counter carries a MAC already. */
int ino_counter_store(meta_txn *t, uint64_t next);
int ino_counter_has_mac(meta_txn *t);

#endif
