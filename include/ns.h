/* ns: the namespace and object-lock layer over meta, store, obj and kms.
 * fs.c (FUSE glue) and wormctl call it; it asks policy before every change
 * and never decides a lock rule itself.
 *
 * Inode numbers are meta inode numbers (stable across remounts). The root
 * is 1; .wormfs is 2 and its files version 3, stats 4, clock 5, audit 6 (virtual,
 * read-only). Functions return 0 or -errno. Times: the compliance clock is
 * read once per operation (ns_clock_now) and passed down. Concurrency: a
 * lock decision and the change it allows are made under one lock or
 * re-checked where the change is made; the rules (which lock guards
 * sealed, writers, size, generation, the pending default) are written at
 * struct ns_inode in src/ns_priv.h. */
#ifndef WORMFS_NS_H
#define WORMFS_NS_H

#include "wormcc.h"

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "config.h"
#include "kms.h"
#include "stats.h"
#include "wormnames.h"   /* NS_INO_*: the root and the .wormfs files */


typedef struct ns ns;
typedef struct ns_handle ns_handle;

struct ns_attr {
	uint64_t ino;
	uint32_t mode, nlink, uid, gid;
	uint64_t size, blocks;
	int64_t atime_ns, mtime_ns, ctime_ns;
	int sealed;      /* content can never change again: cache freely */
};

struct ns_caller {
	uint32_t uid, gid;
	uint32_t pid;
	uint32_t umask;
	const uint32_t *groups;
	size_t ngroups;
	int *setid_cleared;       /* if set: 1 when a write or truncate cleared
				     set-id bits (the kernel's cached mode
				     is stale then) */
};

/* setattr request: valid is a mask of NS_SET_*. */
enum {
	NS_SET_MODE = 1 << 0, NS_SET_UID = 1 << 1, NS_SET_GID = 1 << 2,
	NS_SET_SIZE = 1 << 3, NS_SET_ATIME = 1 << 4, NS_SET_MTIME = 1 << 5,
	NS_SET_ATIME_NOW = 1 << 6, NS_SET_MTIME_NOW = 1 << 7, NS_SET_CTIME = 1 << 8,
};
struct ns_setattr {
	unsigned valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime_ns, mtime_ns, ctime_ns;
};

/* Store creation: layout, database, key ring (passphrase from file or
 * NULL for a key file), default config. Refuses a non-empty dir. */
WORM_MUST_USE
int ns_store_init(const char *path, const char *passphrase_file, char *err, size_t errlen);

#define NS_OFFLINE 1   /* wormctl: no run lock needed for reads */
#define NS_RDONLY 2    /* read-only database (verify, ls while mounted) */
/* Open a store: config (STORE/wormfs.conf already merged into cfg by the
 * caller), key ring, database, compliance clock; purges orphans when
 * writable. The daemon takes the run lock (-EBUSY "already mounted"). */
WORM_MUST_USE
int ns_open(const char *store_path, const struct cfg *cfg, int flags, ns **out,
	    char *err, size_t errlen);
void ns_close(ns *n);
/* Periodic work (timer, <= 1 s): LMDB checkpoint, clock persistence. */
WORM_MUST_USE
int ns_tick(ns *n);
int64_t ns_clock_now(ns *n);
struct stats *ns_stats(ns *n);
kms *ns_kms(ns *n);
/* Kernel cache invalidation hook (fs sets it): called when an inode's
 * cached pages must go (e.g. a write reached a sealed inode). */
typedef void (*ns_inval_fn)(void *arg, uint64_t ino);
void ns_set_inval(ns *n, ns_inval_fn fn, void *arg);
/* Run queued invalidations (from a thread that serves no request). */
void ns_drain_inval(ns *n);

WORM_MUST_USE
int ns_lookup(ns *n, uint64_t parent, const char *name, struct ns_attr *out);
WORM_MUST_USE
int ns_getattr(ns *n, uint64_t ino, struct ns_attr *out);
WORM_MUST_USE
int ns_setattr(ns *n, const struct ns_caller *c, uint64_t ino, const struct ns_setattr *sa,
	       ns_handle *h, struct ns_attr *out);
WORM_MUST_USE
int ns_mkdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out);
/* mode carries the file type: only S_IFREG is allowed (others EPERM). */
WORM_MUST_USE
int ns_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out);
WORM_MUST_USE
int ns_symlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	       const char *target, struct ns_attr *out);
WORM_MUST_USE
int ns_readlink(ns *n, uint64_t ino, char *buf, size_t size);
WORM_MUST_USE
int ns_unlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name);
WORM_MUST_USE
int ns_rmdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name);
#define NS_RENAME_NOREPLACE 1
#define NS_RENAME_EXCHANGE 2
WORM_MUST_USE
int ns_rename(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);
WORM_MUST_USE
int ns_link(ns *n, const struct ns_caller *c, uint64_t ino, uint64_t newparent,
	    const char *newname);

/* Open handles. flags as open(2). keep_cache: content cannot change. */
WORM_MUST_USE
int ns_open_file(ns *n, const struct ns_caller *c, uint64_t ino, int flags,
		 ns_handle **h, int *keep_cache);
WORM_MUST_USE
int ns_create(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint32_t mode, int flags, struct ns_attr *out, ns_handle **h);
WORM_MUST_USE
ssize_t ns_read(ns *n, ns_handle *h, void *buf, size_t size, uint64_t off);
WORM_MUST_USE
ssize_t ns_write(ns *n, const struct ns_caller *c, ns_handle *h, const void *buf,
		 size_t size, uint64_t off);
WORM_MUST_USE
int ns_fsync(ns *n, ns_handle *h, int datasync);
WORM_MUST_USE
int ns_fallocate(ns *n, const struct ns_caller *c, ns_handle *h, int mode,
		 uint64_t off, uint64_t len);
/* close(2): commit a writer's changes (and apply a default retention). */
WORM_MUST_USE
int ns_flush(ns *n, ns_handle *h);
WORM_MUST_USE
int ns_release(ns *n, ns_handle *h);
WORM_MUST_USE
int ns_fsyncdir(ns *n);

/* readdir from cookie `off` (0 = start; "." and ".." are 1 and 2). cb gets
 * the entry's attributes and the offset of the next entry; it returns
 * non-zero when its buffer is full. */
typedef int (*ns_readdir_cb)(void *arg, const char *name, const struct ns_attr *a,
			     uint64_t next_off);
WORM_MUST_USE
int ns_readdir(ns *n, uint64_t ino, uint64_t off, ns_readdir_cb cb, void *arg);

struct ns_statfs {
	uint64_t bsize, blocks, bfree, bavail, files, ffree, namemax;
};
WORM_MUST_USE
int ns_statfs(ns *n, struct ns_statfs *out);

/* xattrs: user.* stored; user.worm.* handled by the lock rules. getxattr
 * and listxattr follow the size-0 query convention (return length). */
WORM_MUST_USE
ssize_t ns_getxattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
		    void *buf, size_t size);
WORM_MUST_USE
int ns_setxattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name,
		const void *val, size_t len, int flags);
WORM_MUST_USE
ssize_t ns_listxattr(ns *n, uint64_t ino, char *buf, size_t size);
WORM_MUST_USE
int ns_removexattr(ns *n, const struct ns_caller *c, uint64_t ino, const char *name);

/* Offline tooling (wormctl). */
struct ns_entry {
	const char *path;          /* "bucket/dir/file" */
	struct ns_attr attr;
	int lock_mode;             /* enum worm_mode */
	int64_t retain_until;
	int hold;                  /* enum worm_hold */
	int state;                 /* enum worm_state */
	int auth_failed;
	int append_only;           /* user.worm.append-only ON */
	const char *damage;        /* NULL, or why the walk cannot check this
				      name or what is below it (a missing
				      record, a directory not entered) */
};
/* Every name reachable from the root, depth first, at any depth (paths
 * of any length). */
typedef int (*ns_walk_cb)(void *arg, const struct ns_entry *e);
WORM_MUST_USE
int ns_walk(ns *n, ns_walk_cb cb, void *arg);
/* Verify every object; damaged ones reported through cb with a reason;
 * progress(arg, done, total) may be NULL. Returns the damaged count or
 * -errno. */
typedef int (*ns_damage_cb)(void *arg, const char *path, const char *what);
typedef void (*ns_progress_cb)(void *arg, uint64_t done, uint64_t total);
WORM_MUST_USE
long ns_verify(ns *n, ns_damage_cb cb, ns_progress_cb progress, void *arg);
/* 1 if the store's last writable open has not been closed (it is mounted,
 * or a crash stopped it; the next mount recovers it): ns_verify then
 * checks the committed state only, not writes in progress. */
int ns_store_live(ns *n);
/* Re-wrap every DEK under the active master key (header first, then meta;
 * a crash in between leaves both copies valid). Returns the count. */
WORM_MUST_USE
long ns_rewrap(ns *n, ns_progress_cb progress, void *arg);
/* Name again a node that no directory entry names (wormctl verify reports
 * it as BUCKET/#INO): offline, as BUCKET/.recovered/INO (a bucket itself:
 * /recovered-INO at the root). Its record, lock included, is kept; only
 * its parent changes. -ENOENT no such node, -EEXIST it is named, -EPERM
 * its record fails authentication (it cannot be written), -EINVAL the
 * root or an object unlinked while open. path gets the new path. */
/* Re-seal the inode counter when it fails authentication or was set back
 * (verify reports both): past the highest inode with a record. 1 if it
 * was changed (logged), 0 if it was sound. */
WORM_MUST_USE
int ns_repair_counter(ns *n);
#define NS_RECOVER_DIR ".recovered"
WORM_MUST_USE
int ns_reattach(ns *n, uint64_t ino, char *path, size_t len);
/* Lowest master key version still referenced by an object (0 if none). */
WORM_MUST_USE
int ns_key_versions_in_use(ns *n, uint32_t *min_version, uint32_t *max_version);

#endif
