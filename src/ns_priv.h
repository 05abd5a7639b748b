/* ns private: state shared by ns.c (namespace, content) and nsx.c
 * (xattrs, lock attributes, offline tooling). Not a public interface. */
#ifndef WORMFS_NS_PRIV_H
#define WORMFS_NS_PRIV_H

#include <pthread.h>
#include "ns.h"
#include "meta.h"
#include "obj.h"
#include "policy.h"
#include "store.h"
#include "clock.h"
#include "crypto.h"

#define NS_ITAB_SIZE 4096
#define NS_VIRT_MAX 65536

/* In-memory state of an inode with open handles (or in use by an op that
 * must exclude writers). Never holds a file descriptor.
 *
 * Locking rules (the lock decision and the change it allows are made
 * under one lock, or re-checked where the change is made):
 * - Order: in->rw, then a write transaction, then in->mu. (Read
 *   transactions may be opened under in->mu.) LMDB serializes write
 *   transactions: a check made on the record inside the write
 *   transaction that changes it (unlink, rename, setattr other than size,
 *   user xattrs, lock attributes, the default at a commit) is atomic
 *   against every other record change.
 * - sealed: set under in->mu, only ever from 0 to 1: by a lock change
 *   after its commit (still holding in->mu), by a commit applying the
 *   default (holding in->rw), or loaded from a record read under in->mu
 *   (ns_inode_load). Content changes (write, truncate, fallocate, O_TRUNC,
 *   setattr size) hold in->rw for writing and check it themselves, under
 *   in->mu, in the same hold that marks the inode dirty (session_ref), and
 *   inode_commit refuses to record content on a sealed record.
 * - dirty, the write session (ref.write_gen), ref.size/sparse, mtime_ns:
 *   under in->mu, changed only with in->rw held for writing. A lock
 *   change is refused (EBUSY) while writers > 0 or dirty, so a content
 *   change that passed the sealed check cannot be overtaken by a lock.
 * - generation: recorded by inode_commit (in->rw held for writing); ref.gen
 *   follows under in->mu after the commit.
 * - writers / releasing: under in->mu. writers counts write handles until
 *   their release has finished its commit (lock changes stay refused and
 *   ns_settle_writers waits until then); releasing counts releases that
 *   have decided but not finished. A release decides "last" as
 *   ++releasing == writers, with in->rw held for writing, in the same in->mu
 *   hold: exactly the last of the writers released together sees it, after
 *   all the others have committed, and applies the bucket default.
 * - the pending default (META_F_DEFAULT_PENDING): in the record, changed
 *   in write transactions only; set at create or at a write open, cleared
 *   by the commit that applies the default (or finds it no longer due). */
struct ns_inode {
	uint64_t ino;
	unsigned refs;            /* handles + temporary users (itab_mu) */
	unsigned handles;         /* open handles (mu) */
	unsigned writers;         /* write-capable handles (mu), see above */
	unsigned releasing;       /* writer releases under way (mu) */
	int live;                 /* ref below is loaded and authoritative */
	int sealed;               /* content frozen: writes refused */
	int unlinked;             /* node gone; content deleted at last release */
	int dirty;                /* uncommitted content changes */
	int64_t mtime_ns;         /* last write time while dirty */
	int werr;                 /* -errno of a session rolled back after a
				     failed write: the next commit reports it */
	int torn;                 /* that rollback failed: no commit, no write
				     until a retry of it succeeds (nsio.c) */
	int append;               /* append-only ON (mu): writes only at the
				     end; with sealed 0 also on a sealed
				     record (appendable WORM). Set from the
				     record under mu, changed by a lock change
				     (refused while writers > 0 or dirty) */
	int inl;                  /* content is inline (in meta), not a file */
	uint8_t *ibuf;            /* inline plaintext, OBJ_INLINE_MAX bytes,
				     zero past ref.size; NULL until loaded.
				     Contents under rw, the pointer under mu */
	pthread_mutex_t mu;       /* state above + lock changes vs write opens */
	pthread_cond_t idle;      /* signalled when writers drops */
	pthread_rwlock_t rw;      /* content: readers shared, writers exclusive */
	struct obj_ref ref;       /* size, generations while live */
	wcrypto_aead *key;        /* DEK context while live */
	struct ns_inode *next;
};

struct ns_handle {
	struct ns_inode *in;      /* NULL for virtual files */
	int fd;                   /* content file, -1 until needed */
	int flags;
	int writable;
	char *vbuf;               /* virtual file snapshot */
	size_t vlen;
	uint64_t unflushed;       /* bytes written since writeback was started
				     (in->rw held for writing) */
};

struct ns {
	struct cfg cfg;
	int flags;
	store *st;
	meta_env *me;
	kms *km;
	obj_sealer *sealer;       /* second core for large writes (daemon only) */
	uint8_t *reckey;          /* record MAC key, secure memory */
	uint8_t *mkey;            /* MAC key of the other records (ns_auth.c) */
	int rec_strict;           /* records without a MAC are refused */
	int auth_flag_bad;        /* that flag was missing or forged (verify) */
	int clock_forged;         /* the clock record failed at open (verify) */
	int clock_ready;          /* clk loaded from its record (ns_close
				     persists it only then) */
	struct wclock clk;
	struct stats stats;
	int alg;
	pthread_mutex_t itab_mu;
	struct ns_inode *itab[NS_ITAB_SIZE];
	ns_inval_fn inval;
	void *inval_arg;
	/* Inodes whose kernel page cache must be dropped (a write reached a
	 * sealed object); drained by ns_tick outside any request. */
	pthread_mutex_t inval_mu;
	uint64_t inval_q[64];
	size_t inval_n;
	_Atomic int64_t last_sync_ns;
	_Atomic unsigned settling;  /* requests waiting in ns_settle_inode */
	int live;                 /* the last writer's open was not closed: a
				     mount (or a crash), so verify checks the
				     committed state only */
	int marked;               /* this open set the marker (ns_close clears) */
	_Atomic int uncommitted;  /* a release's commit (or the recovery of an
				     object) failed: a session may be left on
				     disk, so the stop is not clean */
	_Atomic int tick_err;     /* the last checkpoint's -errno (ns_tick logs
				     a change) */
	/* Test hook, read once at ns_open from WORMFS_CRASH_AT=STEP[:stop][@N]:
	 * the daemon kills (or stops) itself at the N-th pass of STEP. */
	char crash_at[32];
	int crash_sig;
	unsigned crash_nth;
	_Atomic unsigned crash_hits;
	struct ns_trail *trail;   /* store head and audit trail (trail.c) */
};

/* trail.c: store head and audit trail (include/trail.h). open checks
 * STORE/head against meta/ (a writable open refuses a rolled-back meta/
 * with -ESTALE) and makes the first head; close makes the last. */
int ns_trail_open(ns *n, char *err, size_t errlen);
void ns_trail_final(ns *n);   /* before the database closes */
void ns_trail_close(ns *n);   /* frees */
/* An audit record and a new head in write txn t (uid < 0: none). */
int ns_trail_event(ns *n, meta_txn *t, const char *kind, const char *op, uint64_t ino,
		   const char *attr, int64_t uid, const char *rule, const char *value);
/* A lock attribute change (old: the lock before it) in write txn t. */
int ns_trail_lock(ns *n, meta_txn *t, uint32_t uid, uint64_t ino, const char *attr,
		  int remove, const struct policy_lock *old, const struct meta_node *nd,
		  const char *rule, const char *value, int64_t now);
/* Queue a refusal (bounded; see trail.h). */
void ns_trail_refusal(ns *n, const char *op, const char *path, const char *attr,
		      uint32_t uid, int err, const char *rule);
/* Write queued records and a head (checkpoint: also when the database
 * changed since the last head). No write txn may be held by the caller. */
int ns_trail_flush(ns *n, int checkpoint);
/* The latest head's seq (0: none), read before a meta_sync; after it,
 * STORE/head and the log get that head (upto 0: the latest, for callers
 * no other thread can race). */
uint64_t ns_trail_mark(ns *n);
#define NS_INITIALIZING 0x40000000   /* n->flags: ns_store_init's first head */
void ns_trail_publish(ns *n, uint64_t upto);
/* .wormfs/audit */
int ns_trail_render(ns *n, char **buf, size_t *len);

/* A node whose MAC fails is returned with flags marking it; callers treat
 * it as locked (fail closed). */
#define NS_F_AUTH_FAILED (1u << 31)

/* ns_auth.c: the record MAC key (derived from the record key), the MAC
 * function meta uses, the authenticated-records flag and the upgrade of an
 * older store (ns_auth_open, right after the database is opened), and the
 * compliance clock's record (get: -EIO if it fails authentication, *hwm
 * then 0; -ENOENT if absent). */
int ns_auth_key(ns *n);
int ns_auth_open(ns *n, char *err, size_t errlen);
int ns_auth_init_store(ns *n, meta_env *me, meta_txn *t);
int ns_clock_put(ns *n, meta_txn *t, int64_t hwm);
int ns_clock_get(ns *n, meta_txn *t, int64_t *hwm);

/* Create a node named name in parent (write txn t), as mkdir/create do. */
int ns_node_new(ns *n, meta_txn *t, const struct ns_caller *c, uint64_t parent,
		const char *name, uint32_t mode, struct meta_node *out);

/* ns.c internals used by nsx.c */
/* The MAC of a node record, over the fields its version covers. */
void ns_node_mac(const ns *n, const struct meta_node *nd, uint8_t out[32]);
int ns_node_get(ns *n, meta_txn *t, uint64_t ino, struct meta_node *out);
int ns_node_put(ns *n, meta_txn *t, struct meta_node *nd);
void ns_node_lock(const struct meta_node *nd, struct policy_lock *lk);
void ns_node_attr(ns *n, const struct meta_node *nd, struct ns_attr *a);
struct ns_inode *ns_inode_get(ns *n, uint64_t ino);
void ns_inode_put(ns *n, struct ns_inode *in);
/* Wipe and free an inode's inline plaintext (in->mu held or no sharers). */
void ns_ibuf_free(struct ns_inode *in);
/* Free an inode no one refers to any more (its key, plaintext, locks). */
void ns_inode_free(struct ns_inode *in);
void ns_caller_policy(const struct ns_caller *c, struct policy_caller *pc);
/* The bucket holding nd (a bucket: itself): 0, or -ENOENT for the root,
 * or another -errno (a damaged or looping chain, a bucket record failing
 * authentication). Any error is a refusal for the caller, never "no
 * bucket". */
int ns_bucket_of(ns *n, meta_txn *t, const struct meta_node *nd, struct meta_node *bucket);
/* The bucket inode recorded in a node (0: an older record, not recorded). */
uint64_t ns_node_bucket(const struct meta_node *nd);
int ns_may_write(const struct meta_node *nd, const struct ns_caller *c);
/* Clear S_ISUID (and S_ISGID if group-executable) of a regular file
 * written or truncated by a caller without CAP_FSETID, as the kernel does
 * (fs.c negotiates FUSE_HANDLE_KILLPRIV); nssetid.c. A sealed object:
 * -EPERM (refused and logged like a chmod). */
int ns_kill_setid(ns *n, const struct ns_caller *c, uint64_t ino);
int ns_refuse(ns *n, enum stats_op op, uint64_t ino, const char *name,
	      const struct ns_caller *c, int err, const char *rule);
int ns_durable(ns *n);
/* Objects whose bucket default retention is due at their writers' release
 * are marked in their record (META_F_DEFAULT_PENDING) and counted in kv
 * "pending_defaults", so a crash before that release is repaired at the
 * next open (ns_apply_pending). */
int ns_pending_mark(ns *n, meta_txn *t, struct meta_node *nd, int on);
/* 1 if nd (not sealed) lies in a bucket with a default retention, 0 if
 * not, -errno if its bucket cannot be found. */
int ns_bucket_default(ns *n, meta_txn *t, const struct meta_node *nd);
int ns_apply_pending(ns *n);
/* Autocommit (nsauto.c, design section 15). schedule: in a write
 * transaction, give a regular, unsealed object of a bucket with autocommit
 * and a default retention (bucket: its record, or NULL to look it up) the
 * deadline now + period (replacing any earlier one); 0 when nothing is
 * due. touch: the same in a transaction of its own (no in->mu held; in->rw
 * may be). run: lock every object whose deadline has passed and that has
 * no writer and no uncommitted change (called at mount and by ns_tick);
 * returns the count locked or -errno. */
int ns_autocommit_schedule(ns *n, meta_txn *t, const struct meta_node *nd,
			   const struct meta_node *bucket);
void ns_autocommit_touch(ns *n, uint64_t ino);
long ns_autocommit_run(ns *n);
int ns_path_of(ns *n, uint64_t ino, char *buf, size_t len);
/* The crash-test hook (see struct ns): "write", "truncate", "commit",
 * "create", "spill", "recover". A no-op unless WORMFS_CRASH_AT names the step. */
void ns_crash_point(ns *n, const char *step);
/* 1 if an object anywhere below dir is locked at now (or the walk failed:
 * found then says auth_failed), 0 if none. */
int ns_subtree_locked(ns *n, meta_txn *t, uint64_t dir, int64_t now, struct policy_lock *found);
int ns_is_virtual(uint64_t ino);
int ns_virt_attr(ns *n, uint64_t ino, struct ns_attr *a);
int ns_virt_render(ns *n, uint64_t ino, char **buf, size_t *len);
/* Load an inode's content state from its node (in->mu held). */
void ns_inode_load(struct ns_inode *in, const struct meta_node *nd, int64_t now);
/* Load it from its record read now, under in->mu: a lock committed before
 * this call is seen (lock changes commit holding in->mu). */
int ns_inode_refresh(ns *n, struct ns_inode *in, int64_t now);
void ns_queue_inval(ns *n, uint64_t ino);
/* nsio.c, for setattr in nsx.c: unwrap an object's DEK once (without
 * in->mu); set an object's size and commit (in->rw held for writing). */
int ns_key_ensure(ns *n, struct ns_inode *in);
int ns_content_truncate(ns *n, struct ns_inode *in, ns_handle *h, uint64_t size);
/* Wait (at most about 1 s) for the writers of an inode to release, since
 * close(2) returns before the kernel sends RELEASE. Called outside any
 * transaction and without in->mu; the caller re-checks writers after.
 * Waits only while fewer than a quarter of the daemon threads do, so that
 * writers held open on purpose cannot stall every request. */
void ns_settle_inode(ns *n, struct ns_inode *in);
void ns_settle_writers(ns *n, uint64_t parent, const char *name);

#endif
