/* meta: all metadata in one LMDB environment. The only includer of lmdb.h.
 *
 * Sub-databases:
 *   nodes    ino(u64 BE)               -> struct meta_node (raw, versioned)
 *   dirents  parent(u64 BE) | name     -> ino(u64) | cookie(u64) | mac
 *   cookies  parent(u64 BE) | cookie(BE)-> name    (stable readdir offsets)
 *   xattrs   ino(u64 BE) | name        -> value
 *   links    ino(u64 BE)               -> symlink target | mac
 *   orphans  ino(u64 BE)               -> objid (content to delete) | mac
 *   inline   ino(u64 BE)               -> sealed content of a small object
 *   due      deadline(i64 BE) | ino(BE) -> (empty)  autocommit deadlines
 *   dueino   ino(u64 BE)               -> deadline(i64 BE)  (the one entry
 *                                         of ino in due)
 *   kv       string                    -> bytes  (format, next_ino | mac, clock)
 *
 * Record authentication (design section 7): the records this module
 * writes on its own (directory entries, the inode counter, orphan
 * entries, symlink targets) carry a keyed MAC bound to the record's key
 * and value. meta links no crypto: the namespace hands it the MAC
 * function (meta_set_auth). Without one (unit tests) records are written
 * and read without a MAC. A store written before MACs ("legacy" records,
 * the value without its MAC) is read as such until the namespace has
 * upgraded it; once it is marked upgraded (strict), a legacy record is
 * refused like a forged one: -EIO.
 *
 * The environment is opened MDB_NOSYNC (a commit costs ~10 us instead of
 * ~470 us, see notes/performance.md): a process crash loses nothing, and
 * meta_sync() is called on fsync, on every lock change, on a timer and at
 * unmount. Error translation from MDB_* codes to -errno lives in one
 * function in meta.c. Read transactions can run concurrently with the one
 * write transaction (MDB_NOTLS: a thread may hold several).
 *
 * On a full disk (meta.c keeps a small reserve past the pages in use) the
 * calls that add a record (meta_ino_alloc, meta_dirent_add, meta_xattr_set,
 * meta_inline_put, meta_link_put) return -ENOSPC, so deletes and updates of
 * existing records can still commit; a commit that runs out of space
 * returns -ENOSPC and changes nothing. */
#ifndef WORMFS_META_H
#define WORMFS_META_H

#include <stdint.h>
#include <stddef.h>

#include "wormcc.h"

#define META_ROOT_INO 1ull
#define META_FIRST_INO 16ull      /* 2..15 reserved for virtual files */
#define META_WRAPPED_BYTES 76
#define META_NAME_MAX 255
/* 2: the node MAC also covers parent, mode, owner and links (ns_record.c);
 * version 1 records are read (and upgraded once, ns_auth.c). */
#define META_NODE_VERSION 2
#define META_NODE_VERSION_OLDEST 1
#define META_MAC_BYTES 32
#define META_COMMIT_BYTES 16
#define META_FIRST_COOKIE 3ull    /* 1 and 2 are "." and ".." */

enum meta_flags {
	META_F_DIRTY_SIZE = 1u << 0,  /* reserved */
	META_F_SPARSE = 1u << 1,      /* content may hold holes (authenticated) */
	META_F_DEFAULT_PENDING = 1u << 2, /* bucket default retention due at the
					     writers' release (authenticated) */
	META_F_INLINE = 1u << 3,      /* content in the inline database, not a
					 content file (authenticated) */
	META_F_APPEND_ONLY = 1u << 4, /* object: user.worm.append-only ON
					 (authenticated) */
	META_F_DEF_APPEND = 1u << 5,  /* bucket: user.worm.default-append-only
					 ON (authenticated) */
	META_F_STAGING = 1u << 6,     /* a front end's upload in progress
					 (ns_create_staging; authenticated) */
};

struct meta_node {
	uint32_t version;       /* META_NODE_VERSION */
	uint32_t flags;
	uint64_t ino;
	uint64_t parent;        /* directory holding it (root: itself) */
	uint32_t mode;          /* st_mode incl. file type */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;
	int64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
	/* content (regular files) */
	union {
		uint64_t generation; /* files: bumped by each write session,
					bound in AD */
		uint64_t children;   /* directories (node version 2): nodes
					whose parent is this directory and that
					are in the namespace (nlink > 0), named
					or not; an unnamed one keeps rmdir
					refused (ENOTEMPTY) */
	};
	uint8_t objid[16];      /* content file id; all zero = no file yet */
	uint32_t alg;           /* wcrypto alg of the content */
	uint32_t bucket_lo;     /* bucket (top-level directory) holding the
				   node, low and high halves; a bucket names
				   itself. Fixed at creation (a node never
				   leaves its bucket); 0 in records written
				   before it was kept: derived then (ns_record.c) */
	uint8_t wrapped[META_WRAPPED_BYTES];
	/* object lock */
	int32_t lock_mode;      /* enum worm_mode */
	int32_t hold;           /* enum worm_hold */
	int32_t sealed;
	uint32_t bucket_hi;
	int64_t retain_until;
	/* bucket (top-level directories) */
	int32_t def_mode;
	uint32_t def_days;
	int32_t def_years;
	int32_t block_state;
	char block_id[24];
	int64_t block_expires;
	/* directories */
	uint64_t next_cookie;
	/* Added later; a record written before is 8 bytes shorter and reads
	 * with these 0 (meta_node_decode). */
	uint32_t autocommit_s;  /* bucket: user.worm.autocommit, 0 = off */
	uint32_t spare;         /* 0 */
	/* Added later still (issue 12); a record written before is 16 bytes
	 * shorter and reads with it 0. Files: the tag of the commit record of
	 * `generation` in the content file (format 3) that this record
	 * committed, so a killed session's record of the same generation put
	 * back is refused (obj.h, "Commit binding"); all zero: none recorded
	 * (inline, formats 1 and 2, committed before it was kept). */
	uint8_t commit[META_COMMIT_BYTES];
	/* keyed MAC (set by ns) over the authenticated fields, see ns_record.c */
	uint8_t mac[32];
};

typedef struct meta_env meta_env;
typedef struct meta_txn meta_txn;

/* MAC of a record. check 0: write the MAC of msg into mac, return 0;
 * check 1: 0 if mac is msg's MAC, -EBADMSG if not. */
typedef int (*meta_auth_fn)(void *arg, const void *msg, size_t len,
			    uint8_t mac[META_MAC_BYTES], int check);
/* Set the MAC function (NULL: none) and whether legacy records (without
 * a MAC) are refused. Call before any transaction. */
void meta_set_auth(meta_env *e, meta_auth_fn fn, void *arg, int strict);

#define META_RDONLY 1
/* Open (create if absent, unless META_RDONLY) the environment in dir.
 * -ENOENT missing, -EBADMSG corrupt/not an LMDB file, -EBUSY locked. */
WORM_MUST_USE
int meta_open(const char *dir, int flags, meta_env **out, char *err, size_t errlen);
void meta_close(meta_env *e);  /* syncs first when writable */
WORM_MUST_USE
int meta_sync(meta_env *e);    /* force data to disk (mdb_env_sync(1)) */
/* The id of the last committed write transaction (changes at every
 * commit: the store head uses it to see whether anything changed), and
 * the id of a transaction (a write txn: the id its commit will have). */
uint64_t meta_last_txnid(meta_env *e);
uint64_t meta_txn_id(meta_txn *t);

/* A write txn on a META_RDONLY environment: -EROFS. -ENOMEM when another
 * process grew the data past this process's map and no map of that size
 * fits its address space (ulimit -v); -EAGAIN if adopting it timed out. */
WORM_MUST_USE
int meta_txn_begin(meta_env *e, int rdonly, meta_txn **out);
WORM_MUST_USE
int meta_txn_commit(meta_txn *t);  /* also ends a read txn */
void meta_txn_abort(meta_txn *t);
/* A write txn on a store nearly out of room for metadata (the map, or the
 * reserve on a full disk, see meta.c): -ENOSPC, else 0. Past the point
 * where additions are refused, lock changes still commit; past this one
 * the records that only log them (audit records, store heads) are refused
 * too, so that the rest stays for deletes, which need pages as well. */
int meta_txn_room_to_log(const meta_txn *t);

/* kv: small values; get returns -ENOENT if absent, -ERANGE if > size. */
WORM_MUST_USE
int meta_kv_get(meta_txn *t, const char *key, void *buf, size_t size, size_t *len);
WORM_MUST_USE
int meta_kv_put(meta_txn *t, const char *key, const void *val, size_t len);

/* Inode numbers: monotonically increasing, never reused. The counter is
 * authenticated (-EIO if it fails), and a number that already has a node
 * or an orphan record (a counter set back) is never handed out:
 * -EUCLEAN, nothing changed. */
WORM_MUST_USE
int meta_ino_alloc(meta_txn *t, uint64_t *ino);
/* Re-seal the counter (wormctl repair): past the highest inode with a
 * record, never lower than an authentic counter is. before/after: the
 * values (before 0 if absent or unreadable). */
WORM_MUST_USE
int meta_ino_repair(meta_txn *t, uint64_t *before, uint64_t *after);
/* The counter's next value; *authentic 1 if its MAC checks (or the store
 * has no MACs yet and it is a legacy value). -ENOENT if absent. */
WORM_MUST_USE
int meta_ino_peek(meta_txn *t, uint64_t *next, int *authentic);

/* Decode a stored node record of len bytes: -EBADMSG for another size or
 * version (every read of a node goes through it). Three sizes: the
 * current one, and the two older layouts (before commit, before
 * autocommit_s), whose missing fields read as 0. put writes the record's
 * version as given (META_NODE_VERSION_OLDEST..META_NODE_VERSION, else
 * -EINVAL): the version says which fields its MAC covers. add: a new
 * node, -EEXIST (never overwritten) if the inode has a record. */
WORM_MUST_USE
int meta_node_decode(const void *buf, size_t len, struct meta_node *out);
WORM_MUST_USE
int meta_node_get(meta_txn *t, uint64_t ino, struct meta_node *out); /* -ENOENT */
WORM_MUST_USE
int meta_node_put(meta_txn *t, const struct meta_node *n);
WORM_MUST_USE
int meta_node_add(meta_txn *t, const struct meta_node *n);
/* del: also its side tables (xattrs, symlink target, inline content). */
WORM_MUST_USE
int meta_node_del(meta_txn *t, uint64_t ino);
/* Every node in ino order; cb returns non-zero to stop (that value is
 * returned). */
typedef int (*meta_node_cb)(void *arg, const struct meta_node *n);
WORM_MUST_USE
int meta_node_foreach(meta_txn *t, meta_node_cb cb, void *arg);
/* The same from the first node whose ino >= from: a walk in batches
 * resumes where the last batch stopped (one pass, not one per batch). */
WORM_MUST_USE
int meta_node_foreach_from(meta_txn *t, uint64_t from, meta_node_cb cb, void *arg);

/* Directory entries. add: -EEXIST if the name exists; assigns the next
 * cookie from the parent's node (which it updates). An entry whose MAC
 * (over parent, name, inode, cookie) fails: -EIO from get, set and del;
 * meta_readdir passes it with ino META_INO_FORGED (never a real inode),
 * so a walk can report it and a listing fail (EIO). */
#define META_INO_FORGED UINT64_MAX
WORM_MUST_USE
int meta_dirent_get(meta_txn *t, uint64_t parent, const char *name, uint64_t *ino);
WORM_MUST_USE
int meta_dirent_add(meta_txn *t, uint64_t parent, const char *name, uint64_t ino);
WORM_MUST_USE
int meta_dirent_del(meta_txn *t, uint64_t parent, const char *name);  /* -ENOENT */
/* Re-point an existing entry to another inode keeping its cookie. */
WORM_MUST_USE
int meta_dirent_set(meta_txn *t, uint64_t parent, const char *name, uint64_t ino);
/* 1 if the directory has no entries, 0 if it has, <0 on error. */
WORM_MUST_USE
int meta_dir_is_empty(meta_txn *t, uint64_t parent);
/* Entries with cookie > after, in cookie order. cb returns non-zero to
 * stop (buffer full); that is not an error (return 0). */
typedef int (*meta_dirent_cb)(void *arg, const char *name, uint64_t ino, uint64_t cookie);
WORM_MUST_USE
int meta_readdir(meta_txn *t, uint64_t parent, uint64_t after, meta_dirent_cb cb, void *arg);

/* Extended attributes. set flags: 0, XATTR_CREATE (-EEXIST), XATTR_REPLACE
 * (-ENODATA). A value is at most 64 KiB (-E2BIG); the names and values of
 * one inode total at most META_XATTR_TOTAL_MAX bytes (-ENOSPC, as ext4 says
 * when an inode's attribute space is used up), so no caller can fill the
 * store through one object's metadata. The names alone, as listxattr(2)
 * returns them (each NUL-ended), total at most META_XATTR_LIST_MAX (-ENOSPC):
 * below the kernel's 64 KiB XATTR_LIST_MAX with room for the names the
 * namespace adds, so many small names cannot make an object unlistable
 * (E2BIG). get: -ENODATA absent; size 0 = query length into *len; -ERANGE
 * if size too small. */
#define META_XATTR_TOTAL_MAX (256u << 10)
#define META_XATTR_LIST_MAX ((64u << 10) - 256u)
WORM_MUST_USE
int meta_xattr_get(meta_txn *t, uint64_t ino, const char *name, void *buf, size_t size, size_t *len);
WORM_MUST_USE
int meta_xattr_set(meta_txn *t, uint64_t ino, const char *name, const void *val, size_t len, int flags);
WORM_MUST_USE
int meta_xattr_del(meta_txn *t, uint64_t ino, const char *name);  /* -ENODATA */
/* list: names in byte order; cb returns non-zero to stop (returns 0). */
typedef int (*meta_xattr_cb)(void *arg, const char *name);
WORM_MUST_USE
int meta_xattr_list(meta_txn *t, uint64_t ino, meta_xattr_cb cb, void *arg);

/* link get: -ENOENT absent, -ERANGE if > size; no NUL is added. */
WORM_MUST_USE
int meta_link_get(meta_txn *t, uint64_t ino, char *buf, size_t size, size_t *len);
WORM_MUST_USE
int meta_link_put(meta_txn *t, uint64_t ino, const char *target, size_t len);

/* Inline content (objects of at most one block; see obj.h). get: -ENOENT
 * absent, -ERANGE if > size. meta_node_del deletes it too. */
WORM_MUST_USE
int meta_inline_get(meta_txn *t, uint64_t ino, void *buf, size_t size, size_t *len);
WORM_MUST_USE
int meta_inline_put(meta_txn *t, uint64_t ino, const void *val, size_t len);
WORM_MUST_USE
int meta_inline_del(meta_txn *t, uint64_t ino);  /* -ENOENT */

/* Content files whose node is gone but which are still to be deleted (open
 * handles at unlink time, or a crash in between). foreach passes an entry
 * that fails authentication with objid NULL: never acted on. */
WORM_MUST_USE
int meta_orphan_add(meta_txn *t, uint64_t ino, const uint8_t objid[16]);
WORM_MUST_USE
int meta_orphan_del(meta_txn *t, uint64_t ino);
/* foreach: ino order; cb returns non-zero to stop (that value is returned). */
typedef int (*meta_orphan_cb)(void *arg, uint64_t ino, const uint8_t objid[16]);
WORM_MUST_USE
int meta_orphan_foreach(meta_txn *t, meta_orphan_cb cb, void *arg);

/* Autocommit deadlines (design section 15): at most one per object.
 * set replaces the object's entry; del removes it (0 if there was none);
 * first gives the entry with the earliest deadline (-ENOENT if none), so
 * the daemon finds due objects without a walk. get: -ENOENT if none. */
WORM_MUST_USE
int meta_due_set(meta_txn *t, uint64_t ino, int64_t deadline);
WORM_MUST_USE
int meta_due_del(meta_txn *t, uint64_t ino);
WORM_MUST_USE
int meta_due_get(meta_txn *t, uint64_t ino, int64_t *deadline);
WORM_MUST_USE
int meta_due_first(meta_txn *t, uint64_t *ino, int64_t *deadline);
/* Remove exactly the entry (deadline, ino), and ino's pointer to it. */
WORM_MUST_USE
int meta_due_del_at(meta_txn *t, int64_t deadline, uint64_t ino);
WORM_MUST_USE
int meta_due_count(meta_txn *t, uint64_t *count);

/* State digest (issue 12, design section 7): a keyed set-hash of every
 * record of every sub-database, kept in each write transaction with the
 * records it covers (see src/meta_digest.c). meta links no crypto: the
 * namespace hands it the per-record hash H (keyed), called with a header
 * (db | key length | key) and the value. Without one no digest is kept. */
#define META_DIGEST_BYTES 32
typedef int (*meta_rec_hash_fn)(void *arg, const void *hdr, size_t hlen, const void *val,
				size_t vlen, uint8_t out[META_DIGEST_BYTES]);
void meta_set_digest(meta_env *e, meta_rec_hash_fn fn, void *arg);
/* sum += h, sum -= h (mod 2^256, little-endian): the set-hash's group. */
void meta_digest_add(uint8_t sum[META_DIGEST_BYTES], const uint8_t h[META_DIGEST_BYTES]);
void meta_digest_sub(uint8_t sum[META_DIGEST_BYTES], const uint8_t h[META_DIGEST_BYTES]);
/* The sum recomputed from every record in t (a full scan); *records the
 * count hashed (may be NULL). */
WORM_MUST_USE
int meta_digest_scan(meta_txn *t, uint8_t sum[META_DIGEST_BYTES], uint64_t *records);
/* The kept sum: in a write txn as of now in it, else the stored record.
 * -ENOENT if the store keeps none, -EIO if its record fails its MAC. */
WORM_MUST_USE
int meta_digest_get(meta_txn *t, uint8_t sum[META_DIGEST_BYTES]);
/* Write txn: recompute the sum from every record and keep it from now on
 * (first use on a store, or a repair). */
WORM_MUST_USE
int meta_digest_seal(meta_txn *t, uint64_t *records);

/* S3 users (design section 11; ns_user.c encodes the user record, meta
 * only stores and authenticates it). Two record kinds in the kv database,
 * each value followed by its MAC (meta_set_auth's function; without one,
 * stored plain):
 *   "s3user/" NAME  -> user record | MAC over 'U' | key | record
 *   "s3key/" KEYID  -> NAME | MAC over 'K' | key | NAME
 * NAME and KEYID: 1..META_USER_ID_MAX bytes, no NUL (else -EINVAL); a
 * record at most META_USER_REC_MAX bytes. get: -ENOENT absent, -EIO the
 * MAC fails, -ERANGE buf too small (*len the size). put with create:
 * -EEXIST if the name (key id) has a record, also a forged one; del:
 * -ENOENT. foreach: in byte order of the names; a record whose MAC fails
 * is passed with rec (name) NULL; cb returns non-zero to stop (that value
 * is returned). userkey_get writes NAME NUL-terminated. */
#define META_USER_ID_MAX 128
#define META_USER_REC_MAX 1024
WORM_MUST_USE
int meta_user_get(meta_txn *t, const char *name, void *buf, size_t size, size_t *len);
WORM_MUST_USE
int meta_user_put(meta_txn *t, const char *name, const void *rec, size_t len, int create);
WORM_MUST_USE
int meta_user_del(meta_txn *t, const char *name);
typedef int (*meta_user_cb)(void *arg, const char *name, const void *rec, size_t len);
WORM_MUST_USE
int meta_user_foreach(meta_txn *t, meta_user_cb cb, void *arg);
WORM_MUST_USE
int meta_userkey_get(meta_txn *t, const char *keyid, char *name, size_t size);
WORM_MUST_USE
int meta_userkey_put(meta_txn *t, const char *keyid, const char *name, int create);
WORM_MUST_USE
int meta_userkey_del(meta_txn *t, const char *keyid);
typedef int (*meta_userkey_cb)(void *arg, const char *keyid, const char *name);
WORM_MUST_USE
int meta_userkey_foreach(meta_txn *t, meta_userkey_cb cb, void *arg);

/* Entries in the nodes database (for statfs). */
WORM_MUST_USE
int meta_node_count(meta_txn *t, uint64_t *count);

/* Upgrade (ns, once per store): give every legacy directory entry,
 * orphan entry, symlink target and the inode counter its MAC. Returns
 * the count of records changed. meta_auth_any_new: 1 if any record
 * already carries a MAC (so the store was upgraded before). */
WORM_MUST_USE
long meta_auth_upgrade(meta_txn *t);
WORM_MUST_USE
int meta_auth_any_new(meta_txn *t);
/* Every directory entry the readdir index does not list (no index entry
 * at its cookie naming it): one put back alone from an older copy, found
 * by lookup but by no listing or walk. cb returns non-zero to stop. */
typedef int (*meta_unlisted_cb)(void *arg, uint64_t parent, const char *name);
WORM_MUST_USE
int meta_dirent_unlisted(meta_txn *t, meta_unlisted_cb cb, void *arg);

#endif
