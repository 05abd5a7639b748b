/* ns private: the types the ns files share (the engine, open inodes and
 * handles) and their locking rules. Functions are declared in one private
 * header per concept (src/ns_CONCEPT.h); the order of the files is in
 * docs/HACKING.md. Not a public interface. */
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
 *   left (under in->mu) is set by a release that was not the last (the
 *   default left to a later one) and cleared by the last: a write-open
 *   refused before it changed anything (its pending mark not recorded)
 *   applies the default only when one was left to it.
 * - the pending default (META_F_DEFAULT_PENDING): in the record, changed
 *   in write transactions only; set at create or at a write open, cleared
 *   by the commit that applies the default (or finds it no longer due). */
struct ns_inode {
	uint64_t ino;
	unsigned refs;            /* handles + temporary users (itab_mu) */
	unsigned handles;         /* open handles (mu) */
	unsigned writers;         /* write-capable handles (mu), see above */
	unsigned releasing;       /* writer releases under way (mu) */
	int left;                 /* a release left the default to the last (mu) */
	int live;                 /* ref below is loaded and authoritative */
	int sealed;               /* content frozen: writes refused */
	int unlinked;             /* node gone; content deleted at last release */
	int dirty;                /* uncommitted content changes */
	int64_t mtime_ns;         /* last write time while dirty */
	int werr;                 /* -errno of a session rolled back after a
				     failed write: the next commit reports it */
	int torn;                 /* that rollback failed: no commit, no write
				     until a retry of it succeeds (ns_io.c) */
	int append;               /* append-only ON (mu): writes only at the
				     end; with sealed 0 also on a sealed
				     record (appendable WORM). Set from the
				     record under mu, changed by a lock change
				     (refused while writers > 0 or dirty) */
	int inl;                  /* content is inline (in meta), not a file */
	int forged;               /* the node last loaded failed authentication
				     (mu): its size, generation and commit
				     record are unproven, so content reads
				     fail (EIO); metadata stays readable */
	int unbound;              /* (mu) 0 unchecked, 1 names its commit
				     record or cannot (formats 1, 2), -1 a
				     format-3 file the bind left unbound,
				     -2 a format-1/2 file after a complete
				     wormctl upgrade (ns_read: EIO); reset
				     at each load */
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

/* One queued kernel invalidation (ns_inval_fn's kinds). */
struct ns_inval_item {
	int kind;
	uint64_t ino;
	char name[META_NAME_MAX + 1];   /* NS_INVAL_ENTRY */
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
	uint8_t *etagkey;         /* S3 ETag sealing key, secure memory (ns_etag.c) */
	int rec_strict;           /* records without a MAC are refused */
	int auth_flag_bad;        /* that flag was missing or forged (verify) */
	int clock_forged;         /* the clock record failed at open (verify) */
	wcrypto_mackey *dmk;      /* state digest key (ns_digest.c) */
	int digest_bad;           /* NS_DIGEST_* found at a wormctl open */
	int digest_required;      /* the auth flag says a digest is kept */
	int digest_head;          /* a store head says a digest was kept
				     (ns_trail_had_digest, read before
				     ns_auth_open) */
	int trail_mac;            /* the audit trail holds a record only a
				     build with record MACs writes (read
				     before ns_auth_open, when digest_head
				     is 0) */
	int clock_ready;          /* clk loaded from its record (ns_close
				     persists it only then) */
	struct wclock clk;
	struct stats stats;
	int alg;
	pthread_mutex_t itab_mu;
	struct ns_inode *itab[NS_ITAB_SIZE];
	/* The hook and its argument: set and read under inval_run, which a
	 * delivery holds throughout (ns_drain_inval), so fs clears the hook
	 * only once no delivery uses its session. */
	pthread_mutex_t inval_run;
	ns_inval_fn inval;
	void *inval_arg;
	/* What the kernel must forget (ns_inode.c): pages of an inode a
	 * write reached once sealed, names and inodes changed outside the
	 * mount. Queued by requests under inval_mu (held briefly, never
	 * while delivering); drained by ns_tick and the S3 front end. */
	pthread_mutex_t inval_mu;
	struct ns_inval_item *inval_q;
	size_t inval_n, inval_cap;
	int inval_dropped;        /* the queue was full: logged once */
	_Atomic int64_t last_sync_ns;
	_Atomic unsigned settling;  /* requests waiting in ns_settle_inode */
	int live;                 /* the last writer's open was not closed: a
				     mount (or a crash), so verify checks the
				     committed state only */
	int marked;               /* this open set the marker (ns_close clears) */
	_Atomic uint32_t key_unrecorded; /* a rotate of this session whose records failed (ns_close) */
	_Atomic int uncommitted;  /* a release's commit (or the recovery of an
				     object) failed: a session may be left on
				     disk, so the stop is not clean */
	_Atomic int owed;         /* a last writer's release could not apply its
				     bucket default (the object is pending and
				     writer-less): ns_tick retries (ns_owed_run) */
	int64_t owed_retry_ns;    /* monotonic: ns_owed_run's next walk, no
				     sooner (ns_tick's thread only) */
	_Atomic int tick_err;     /* the last checkpoint's -errno (ns_tick logs
				     a change) */
	/* Test hook, read once at ns_open from WORMFS_CRASH_AT=STEP[:stop][@N]:
	 * the daemon kills (or stops) itself at the N-th pass of STEP. */
	char crash_at[32];
	int crash_sig;
	unsigned crash_nth;
	_Atomic unsigned crash_hits;
	/* Test hook, WORMFS_TEST_UNBOUND=1 at ns_open: commits name no commit
	 * record and the legacy bind is skipped, as in a build from before
	 * them (ns_bind.c), so the tests can make a legacy store. Honoured
	 * only on a store the bind has not ended on (no marker): cleared by
	 * ns_bind_legacy otherwise, so it cannot unbind a production store. */
	int test_unbound;
	/* The legacy bind has ended on this store (its marker, read at
	 * open): a committed format-3 file node naming no commit record is
	 * one put back from before it, and its content is not served. */
	int bind_done;
	/* A wormctl upgrade run left no format-1/2 file node (its marker,
	 * ns_upgrade.h): a node naming such a file is one put back. */
	int fmt_upgraded;
	struct ns_trail *trail;   /* store head and audit trail (ns_trail.c) */
	struct ns_vcache *vc;     /* node records known to verify (ns_vcache.c) */
	_Atomic uint64_t users_gen; /* bumped after each S3 user add/remove
				       (ns_user_generation) */
};

/* A node whose MAC fails is returned with flags marking it; callers treat
 * it as locked (fail closed). */
#define NS_F_AUTH_FAILED (1u << 31)
/* kv: u32 1 once the legacy bind has ended (ns_bind.c; verify reads it). */
#define NS_KV_BIND_DONE "legacy_bind"
/* u32 1 once a wormctl upgrade run left no file node in format 1 or 2
 * (ns_upgrade.c): such a node after it is a record put back. */
#define NS_KV_UPGRADE_DONE "format_upgrade_done"
/* u32 LE: the highest master key version a key rotate made active
 * (ns_key_mark); a key ring whose active version is below it is an older
 * copy put back (ns_open refuses a writable open). */
#define NS_KV_KEY_ACTIVE "key_ring_active"

#endif
