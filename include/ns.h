/* ns: the engine. The namespace and object-lock layer over meta, store,
 * obj and kms, called by every front end: fs.c (FUSE), wormctl (offline)
 * and the S3 front end. It asks policy before every change and never
 * decides a lock rule itself; a front end decides none either.
 *
 * INODES. Meta inode numbers, stable across remounts. The root is 1, the
 * virtual read-only .wormfs directory 2 and its files 3-6 (wormnames.h).
 * Object names go through names.h's rules: buckets (S3 names) at the root,
 * any name of <= 255 bytes without '/' below.
 *
 * RESULTS. Every int/ssize_t/long function returns 0 (or a count) or
 * -errno, never sets errno, and is WORM_MUST_USE. On an error nothing
 * changed, unless the function says otherwise. Besides the errors listed
 * at each function, any call that reaches the store may return:
 *   -EIO     a record, directory entry or content block fails
 *            authentication (tampered or damaged store; logged, counted in
 *            .wormfs/stats), or the disk failed;
 *   -ENOSPC, -EDQUOT  the store's disk or the database map is full
 *            (deletes still work: meta.h);
 *   -ENOMEM  out of memory;  -EAGAIN  the database's reader table is full;
 *   -EMFILE, -ENFILE  the daemon is out of file descriptors;
 *   -EROFS   a change on a store opened NS_RDONLY;
 *   -EBADMSG a database that is not ours or is corrupt.
 *
 * REFUSALS. A change the lock rules forbid returns -EPERM (or the errno
 * the rule names: -EBUSY while writers are open, -EXDEV across buckets)
 * and is logged as "refused op=OP path=PATH ... rule=RULE" (log.h), counted
 * in .wormfs/stats and queued for the audit trail (trail.h), each time.
 * Objects whose record fails authentication are treated as locked (fail
 * closed): changes are refused, reads of their content get -EIO.
 *
 * PERMISSIONS. ns does not check Unix permission bits on namespace and
 * content calls (no -EACCES): fs.c mounts with default_permissions and
 * the kernel checks them first. Another front end must check mode bits
 * against struct ns_caller itself before calling. ns looks at the caller
 * only where a rule needs it (who may change lock attributes, write
 * user xattrs, keep set-id bits).
 *
 * TIME. The compliance clock (ns_clock_now; never behind its high-water
 * mark) is read once per operation and passed down.
 *
 * THREADS. After ns_open, every function except ns_close may be called
 * from any number of threads at once, on the same or different inodes and
 * handles (ns locks per inode), except that ns_release must be the last
 * call on a handle. ns_close runs alone, after every other call has
 * returned. Internally: LMDB serializes write transactions; per open
 * inode, in->rw orders content changes against reads and in->mu guards
 * its small state; the lock order and the rules (which lock guards
 * sealed, writers, size, generation, the pending default) are written at
 * struct ns_inode in src/ns_priv.h. A lock decision and the change it
 * allows are made under one lock or re-checked where the change is made.
 * unlink, rename and lock changes wait (about 1 s at most) for writers
 * still releasing. Callbacks (ns_readdir_cb, ns_walk_cb, ...) may run
 * with a read transaction open: they must not call into ns. */
#ifndef WORMFS_NS_H
#define WORMFS_NS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "config.h"
#include "kms.h"
#include "stats.h"
#include "wormcc.h"
#include "wormnames.h"   /* NS_INO_*: the root and the .wormfs files */

typedef struct ns ns;
typedef struct ns_handle ns_handle;

/* Attributes of one node, as stat(2) shows them. */
struct ns_attr {
	uint64_t ino;
	uint32_t mode, nlink, uid, gid;
	uint64_t size, blocks;
	int64_t atime_ns, mtime_ns, ctime_ns;
	/* Content generation: changes with every content change committed
	 * (no caller can set it, unlike the times); UINT64_MAX while an open
	 * handle holds uncommitted writes. 0 for anything but a file. */
	uint64_t gen;
	int sealed;      /* content can never change again: cache freely */
	int staging;     /* made by ns_mkdir_staging / ns_create_staging */
};

/* Who asks: the front end fills it per request (fs.c: from the FUSE
 * request; groups only for user.worm.* calls, where principals matter:
 * who may lock, hold or bypass is configured, policy.h). Read only during
 * the call. */
struct ns_caller {
	uint32_t uid, gid;
	uint32_t pid;
	uint32_t umask;
	const uint32_t *groups;
	size_t ngroups;
	int *setid_cleared;       /* if set: 1 when a write or truncate cleared
				     set-id bits (the kernel's cached mode
				     is stale then) */
	int via_mount;            /* 1: the request came through the mount,
				     whose kernel caches follow it already;
				     0 (S3, ctl, the daemon itself): a change
				     queues kernel invalidations of the names
				     and inodes it touched (ns_drain_inval) */
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

/* Create a store in path: layout, database, key ring (passphrase read
 * from passphrase_file, or NULL for a key file), default wormfs.conf.
 * Offline, single-threaded. Errors (err gets a one-line reason for
 * each): -ENOTEMPTY path is a non-empty directory, -ENOTDIR not a
 * directory (nothing written); the passphrase file: -ENOENT/-EACCES it
 * cannot be read, -EISDIR/-EINVAL not a regular file, -EPERM readable by
 * others or owned by another user. */
WORM_MUST_USE
int ns_store_init(const char *path, const char *passphrase_file, char *err, size_t errlen);

#define NS_OFFLINE 1   /* wormctl: no run lock needed for reads */
#define NS_RDONLY 2    /* read-only database (verify, ls while mounted) */
/* A wormctl command that decides from the records: the metadata state
 * digest is checked also at a read-only open. Writable (key remove): a
 * mismatch refuses the open (-EUCLEAN, reason in err). Read-only (ls,
 * bucket list, key list): the open succeeds and ns_digest_problem says
 * why the caller must fail (it may still show what it read, e.g. an
 * unnamed locked object). verify, head and audit report damage
 * themselves and open without it. */
#define NS_CHECK_DIGEST 4
/* NULL, or why the records cannot be trusted (the state digest "does not
 * match ...", "record is missing ..."), as found by an NS_CHECK_DIGEST
 * open. */
const char *ns_digest_problem(ns *n);
/* Open a store: config (STORE/wormfs.conf already merged into cfg by the
 * caller; ns keeps a copy), key ring, database, compliance clock. A
 * writable open takes the run lock, recovers what a crash left (objects
 * written but not committed, pending defaults, due autocommits) and
 * purges orphans. *out is the caller's until ns_close. Errors (err gets a
 * one-line reason for each): -EBUSY the run lock is held (already
 * mounted, or a writing wormctl runs); -ESTALE the database is older
 * than the store head (rolled back); -EBADMSG/-EPROTO a database or key
 * ring that is damaged or of an unknown format; -EACCES a wrong
 * passphrase or a key ring that fails authentication; -ENOKEY a
 * passphrase needed but not given, or the key file missing; -ENOENT no
 * store; the passphrase file's errors as ns_store_init. */
WORM_MUST_USE
int ns_open(const char *store_path, const struct cfg *cfg, int flags, ns **out,
	    char *err, size_t errlen);
/* Final checkpoint and clock record, then free everything (n may be
 * NULL). Every handle must have been released; nothing else may run. */
void ns_close(ns *n);
/* Periodic work (a timer thread, <= 1 s apart, never a request thread):
 * database checkpoint, clock persistence, audit records and store head,
 * due autocommits, queued cache invalidations. Returns the checkpoint's
 * -errno; ns logs a failure once (and its recovery) and retries at the
 * next tick, so the caller may discard it. */
WORM_MUST_USE
int ns_tick(ns *n);
/* The compliance clock, seconds since the epoch (never behind its
 * high-water mark, so monotonic across mounts). */
int64_t ns_clock_now(ns *n);
/* Counters (relaxed atomics; any thread) and the key service. Owned by n:
 * valid until ns_close, never freed by the caller. */
struct stats *ns_stats(ns *n);
kms *ns_kms(ns *n);
/* Kernel cache invalidation hook (fs sets it once mounted and clears it
 * with NULL before the session ends; it waits for a delivery in progress).
 * Called by ns_drain_inval only, never from a request, with what the
 * kernel must forget:
 *   NS_INVAL_INODE  ino's attributes and cached pages (a write reached an
 *                   object sealed meanwhile; an object replaced or removed
 *                   outside the mount)
 *   NS_INVAL_ATTR   ino's attributes (changed outside the mount)
 *   NS_INVAL_ENTRY  the name `name` in directory ino (a name removed or
 *                   replaced outside the mount: S3, the daemon's own
 *                   cleanup; an NS_INVAL_ATTR of the directory follows). */
enum { NS_INVAL_INODE, NS_INVAL_ATTR, NS_INVAL_ENTRY };
typedef void (*ns_inval_fn)(void *arg, int kind, uint64_t ino, const char *name);
void ns_set_inval(ns *n, ns_inval_fn fn, void *arg);
/* Run the queued invalidations now; returns when they are delivered
 * (also those another thread took first). From a thread that serves no
 * FUSE request and holds no ns lock (the kernel may hold an inode's or a
 * directory's lock while a request on it is in flight): ns_tick's, and
 * the S3 front end's before each answer, so that a client that got the
 * answer of a change finds it in the mount too. Without a hook (no mount,
 * or not yet) the queue is dropped. */
void ns_drain_inval(ns *n);

/* The node name in directory parent: its attributes in *out. -ENOENT no
 * such name (or parent); -ENAMETOOLONG name over 255 bytes. */
WORM_MUST_USE
int ns_lookup(ns *n, uint64_t parent, const char *name, struct ns_attr *out);
/* -ENOENT no such inode. */
WORM_MUST_USE
int ns_getattr(ns *n, uint64_t ino, struct ns_attr *out);
/* 0 if no node has inode number ino (any more), 2 if it is an object
 * unlinked but kept for its open handles, else 1 (also when the record
 * cannot be read: only a sure answer counts). Counts no operation. */
int ns_ino_known(ns *n, uint64_t ino);
/* chmod, chown, utimes, truncate (NS_SET_SIZE; through handle h if the
 * front end has one, else NULL). *out: the attributes after. Refusals:
 * -EPERM a lock rule (mode and owner of a locked object, the size of a
 * sealed one; logged), .wormfs files; -EISDIR or -EINVAL a size on a
 * directory or another non-regular node; -EFBIG a size past the largest
 * object. Clears set-id bits as the kernel would (c->setid_cleared). */
WORM_MUST_USE
int ns_setattr(ns *n, const struct ns_caller *c, uint64_t ino, const struct ns_setattr *sa,
	       ns_handle *h, struct ns_attr *out);
/* Create a directory (at the root: a bucket). The next four calls share
 * their errors: -EEXIST the name exists; -EINVAL a name (or at the root a
 * bucket name) names.h refuses; -ENAMETOOLONG over 255 bytes; -ENOTDIR
 * parent is no directory; -ENOENT no parent; -EPERM at the root anything
 * but a bucket, anything in .wormfs (logged as rule=namespace); -EUCLEAN
 * or -EIO the inode counter is damaged (wormctl verify, repair). mode is
 * used as given (the front end applies the umask). *out: the new node. */
WORM_MUST_USE
int ns_mkdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out);
/* mode carries the file type: only S_IFREG (or none) is allowed; device
 * nodes, FIFOs and sockets get -EPERM (rule=special-file). A new regular
 * file is created and closed at once, as a create followed by a release:
 * it is committed (the bucket's default retention applies, an autocommit
 * deadline starts), never left uncommitted for want of a write handle.
 * A commit that fails leaves the default pending for the next mount's
 * recovery and still returns 0 (the node exists). */
WORM_MUST_USE
int ns_mknod(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	     uint32_t mode, struct ns_attr *out);
/* target: any string of <= 4095 bytes (-ENAMETOOLONG). */
WORM_MUST_USE
int ns_symlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	       const char *target, struct ns_attr *out);
/* The target, NUL-terminated, into buf (size >= 4097 always fits).
 * -EINVAL not a symlink; -ERANGE buf too small. */
WORM_MUST_USE
int ns_readlink(ns *n, uint64_t ino, char *buf, size_t size);
/* Remove a name. An object open elsewhere stays readable through its
 * handles until the last release. Refusals (logged): -EPERM the object is
 * under retention or legal hold (or its record fails authentication),
 * .wormfs or its files; -EISDIR unlink of a directory; -ENOTDIR rmdir of
 * a non-directory; -ENOTEMPTY rmdir of a non-empty directory (or one
 * still counting a node no entry names: wormctl reattach); -ENOENT no
 * such name. Waits up to about 1 s for writers still releasing. */
WORM_MUST_USE
int ns_unlink(ns *n, const struct ns_caller *c, uint64_t parent, const char *name);
/* As ns_unlink, only if name still names ino, checked in the unlink's own
 * transaction, else -ESTALE and nothing removed: a front end removes the
 * upload it wrote, never a file renamed onto its temporary name since. */
WORM_MUST_USE
int ns_unlink_ino(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint64_t ino);
WORM_MUST_USE
int ns_rmdir(ns *n, const struct ns_caller *c, uint64_t parent, const char *name);
/* rename(2) and renameat2's NOREPLACE and EXCHANGE. Refusals (logged):
 * -EXDEV across buckets (mv copies, and the copy gets the target bucket's
 * default); -EPERM a bucket or .wormfs name, replacing or moving a locked
 * object, a directory holding a locked object; -EINVAL unknown flags, a
 * directory into its own subtree, or a name names.h refuses; -EEXIST
 * NOREPLACE and the target exists; -ENOENT no source (EXCHANGE: or no
 * target); -ENOTDIR/-EISDIR/-ENOTEMPTY as rename(2). */
#define NS_RENAME_NOREPLACE 1
#define NS_RENAME_EXCHANGE 2
/* The source is an upload made with ns_create_upload (a front end's, never
 * the mount's): its bucket's default retention becomes pending in the
 * rename's own transaction, so a crash after the rename still locks it at
 * the next open. Not with EXCHANGE (-EINVAL). */
#define NS_RENAME_UPLOAD 4
WORM_MUST_USE
int ns_rename(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);
/* As ns_rename, only if name still names ino and (dst_ino not 0) newname
 * names dst_ino, both checked in the rename's own transaction, else
 * -ESTALE and nothing renamed: a front end renames the upload it wrote,
 * never an object a local user renamed onto its temporary name meanwhile
 * (a writable directory lets anyone do that), and replaces only the
 * object its conditions were checked against (S3 If-Match). */
WORM_MUST_USE
int ns_rename_ino(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		  uint64_t ino, uint64_t newparent, const char *newname, uint64_t dst_ino,
		  unsigned flags);
/* Hard links are refused everywhere: always -EPERM (logged as op=link
 * rule=hard-links, counted, in the audit trail). ino is the object the
 * caller wanted to link, newparent/newname the name it asked for. */
WORM_MUST_USE
int ns_link(ns *n, const struct ns_caller *c, uint64_t ino, uint64_t newparent,
	    const char *newname);

/* Open a handle on ino; flags as open(2) (O_TRUNC truncates, O_APPEND
 * writes at the end). *h is the caller's until ns_release (exactly once,
 * also after a failed ns_flush); *keep_cache 1 when the content can never
 * change (the front end may cache it). A write open of an unsealed object
 * in a bucket with a default retention marks it pending: its default is
 * applied when the last writer releases. Refusals (logged): -EPERM a
 * write open (or O_TRUNC, which counts as one) of a sealed object,
 * -EROFS a write open of a .wormfs file; -EISDIR a directory (listings
 * need no handle: ns_readdir); -EINVAL another non-regular node;
 * -ENOENT no such inode, or unlinked meanwhile; -EIO its record or
 * content fails authentication. */
WORM_MUST_USE
int ns_open_file(ns *n, const struct ns_caller *c, uint64_t ino, int flags,
		 ns_handle **h, int *keep_cache);
/* ns_mknod of a regular file and a read-write handle on it, in one call
 * (flags as open(2); the creator may write even if mode is read-only).
 * Errors as ns_mknod, then as ns_open_file (the node then exists). */
WORM_MUST_USE
int ns_create(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
	      uint32_t mode, int flags, struct ns_attr *out, ns_handle **h);
/* ns_create for a front end's upload under a temporary name, renamed
 * over its real name with NS_RENAME_UPLOAD when complete: the open does
 * not mark the bucket default pending (the rename does), so a crash
 * before the rename leaves an unlocked temporary object that the front
 * end's cleanup at start can remove, never a locked leak. Its last
 * writer's release still applies the default, as for any object. */
WORM_MUST_USE
int ns_create_upload(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		     uint32_t mode, int flags, struct ns_attr *out, ns_handle **h);
/* Staging: a front end's upload in progress (S3 multipart parts and the
 * directories holding them). ns_mkdir_staging and ns_create_staging work
 * as ns_mkdir and ns_create (same errors; -EPERM at the root), but the
 * node is marked staging in its authenticated record: it is exempt from
 * its bucket's defaults (retention, autocommit, append-only), so that it
 * can always be removed, and in exchange it can never be locked (setting
 * user.worm.retention, legal-hold or append-only: -EPERM, rule=staging)
 * nor leave its directory: a rename is allowed only within the same
 * staging directory, from a staging node onto nothing or another one
 * (anything else involving one: -EPERM, rule=staging). Its bytes reach a
 * real name only by being copied into a new object, which gets the
 * defaults. */
WORM_MUST_USE
int ns_mkdir_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		     uint32_t mode, struct ns_attr *out);
WORM_MUST_USE
int ns_create_staging(ns *n, const struct ns_caller *c, uint64_t parent, const char *name,
		      uint32_t mode, struct ns_attr *out, ns_handle **h);
/* Read up to size bytes at off: the count (0 at or past the end). -EIO a
 * block fails authentication (the read fails, never returns bad data). */
WORM_MUST_USE
ssize_t ns_read(ns *n, ns_handle *h, void *buf, size_t size, uint64_t off);
/* Write size bytes at off (O_APPEND handles: at the end): the count
 * written (all of it, or an error). Nothing is durable before ns_flush,
 * ns_fsync or the release. Refusals (logged): -EPERM the object was
 * sealed meanwhile (retention, hold or default applied by another
 * handle), an appendable object written below its end; -EBADF a
 * read-only handle; -EROFS a .wormfs file; -EFBIG past the largest
 * object. -EIO/-ENOSPC/-EDQUOT: the write failed and this object's
 * writes since its last commit are rolled back (the writer is told once,
 * at its next commit).
 * Clears set-id bits as the kernel would (c->setid_cleared). */
WORM_MUST_USE
ssize_t ns_write(ns *n, const struct ns_caller *c, ns_handle *h, const void *buf,
		 size_t size, uint64_t off);
/* Commit this handle's writes and make them durable with the namespace
 * (datasync is treated as a full sync). -EIO, -ENOSPC, -EDQUOT: the
 * commit failed; the content on disk is the last committed one, and the
 * writer learns (once) that its writes since then are gone. */
WORM_MUST_USE
int ns_fsync(ns *n, ns_handle *h, int datasync);
/* fallocate(2) mode 0 or FALLOC_FL_KEEP_SIZE only: -EOPNOTSUPP for other
 * modes (holes and ranges would bypass the format); -EPERM sealed
 * (logged); -EROFS .wormfs; -EFBIG past the largest object. */
WORM_MUST_USE
int ns_fallocate(ns *n, const struct ns_caller *c, ns_handle *h, int mode,
		 uint64_t off, uint64_t len);
/* close(2) of one descriptor: commit a writer's content, so that a file
 * closed before a crash is whole afterwards (old or new content, never
 * torn); durable at the next checkpoint (ns_tick), at once if the commit
 * applied a lock. A read-only handle: 0. Errors as ns_fsync; the handle
 * stays valid. */
WORM_MUST_USE
int ns_flush(ns *n, ns_handle *h);
/* The last close of a handle: frees h whatever it returns. The last
 * writer's release commits and applies the bucket's default retention
 * (or starts its autocommit period). An error means that commit failed:
 * it is logged and the next mount recovers the object; no one may be left
 * to tell (an interrupted open), so callers may discard it. */
WORM_MUST_USE
int ns_release(ns *n, ns_handle *h);
/* Make the namespace durable: a database sync (with the queued audit
 * records and store head). */
WORM_MUST_USE
int ns_fsyncdir(ns *n);

/* readdir from cookie `off` (0 = start; "." and ".." are 1 and 2). cb gets
 * the entry's attributes and the offset of the next entry; it returns
 * non-zero when its buffer is full (the listing stops there; resume with
 * that entry's offset; cookies are stable across calls). -ENOTDIR not a
 * directory; -ENOENT no such inode; -EIO an entry fails authentication
 * (the listing is refused, logged).
 * name and attributes are valid during the callback only. */
typedef int (*ns_readdir_cb)(void *arg, const char *name, const struct ns_attr *a,
			     uint64_t next_off);
WORM_MUST_USE
int ns_readdir(ns *n, uint64_t ino, uint64_t off, ns_readdir_cb cb, void *arg);

struct ns_statfs {
	uint64_t bsize, blocks, bfree, bavail, files, ffree, namemax;
};
/* The store's file system (blocks) and its inode count. */
WORM_MUST_USE
int ns_statfs(ns *n, struct ns_statfs *out);

/* xattrs: user.* stored; user.worm.* (wormnames.h) handled by the lock
 * rules: design section 5 says what each value means and who may set it.
 * getxattr and listxattr follow the size-0 query convention (return the
 * length; -ERANGE when size is too small). Errors: -ENODATA no such
 * attribute (get, remove; set with XATTR_REPLACE); -EEXIST set with
 * XATTR_CREATE and it exists; -EOPNOTSUPP a namespace other than user.*;
 * -EINVAL a malformed lock value; -EPERM a lock rule refuses (shortening a
 * retention, a hold by a non-principal, a locked bucket's default, ...)
 * or the caller may not write the object (logged); -EBUSY a lock change
 * while writers are open (close them first); -E2BIG a value over 64 KiB;
 * -EROFS/-EPERM on .wormfs files. A lock change is durable before it
 * returns 0, logged as a lock change and in the audit trail. */
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

/* S3 ETags sealed at rest (src/ns_etag.c): the MD5 of an object's
 * plaintext is not kept in clear. ns_etag_seal writes into out (at least
 * NS_ETAG_SEALED_MAX bytes for an ETag of up to 64 characters) a text
 * value bound to the object's inode and to stamp (what the ETag was
 * computed for); ns_etag_open gives the ETag back only for that inode
 * and stamp: -EBADMSG for a value that fails (edited, moved, forged),
 * -EINVAL for one that is not sealed (ns_etag_is_sealed: 0), -ERANGE for
 * a short out. No KMS request (a subkey of the store's record key). */
#define NS_ETAG_SEALED_MAX 216
WORM_MUST_USE
int ns_etag_seal(ns *n, uint64_t ino, const char *stamp, const char *etag, char *out,
		 size_t outlen);
WORM_MUST_USE
int ns_etag_open(ns *n, uint64_t ino, const char *stamp, const char *stored, char *out,
		 size_t outlen);
int ns_etag_is_sealed(const char *stored);

/* S3 users (design section 11). A user maps an access key id to a POSIX
 * identity; its secret is stored sealed under the active master key
 * (kms_encrypt), never in plaintext, and its records are authenticated
 * and part of the state digest like every other record. ns checks no
 * permission here: the caller (wormctl on a store, the control socket,
 * ctl.h) is the store's administrator. Every add and remove is durable
 * before it returns and written to the audit trail (kind "s3-user").
 *
 * Rules: NAME 1..64 bytes of [A-Za-z0-9+=,.@_-] (IAM user names), unique;
 * ACCESS KEY ID 16..128 bytes of [A-Za-z0-9], unique (made: "AKIA" and 16
 * of [A-Z0-9], 20 in all); SECRET 8..128 bytes of printable ASCII without
 * space (made: 40 of [A-Za-z0-9+/]); at most NS_USER_GROUPS_MAX groups;
 * at most NS_USER_MAX users. */
#define NS_USER_NAME_MAX 64
#define NS_USER_KEYID_MIN 16
#define NS_USER_KEYID_MAX 128
#define NS_USER_SECRET_MIN 8
#define NS_USER_SECRET_MAX 128
#define NS_USER_SECRET_MADE 40     /* length of a secret ns_user_add makes */
#define NS_USER_GROUPS_MAX 32
#define NS_USER_MAX 10000
struct ns_user {
	char name[NS_USER_NAME_MAX + 1];
	char access_key_id[NS_USER_KEYID_MAX + 1];
	uint32_t uid, gid;
	uint32_t groups[NS_USER_GROUPS_MAX];   /* supplementary groups */
	size_t ngroups;
	int admin;                 /* may manage access points (section 14) */
	int64_t created_s;         /* compliance clock, seconds */
	int damaged;               /* ns_user_list only: the record fails
				      authentication (only name is valid) */
};
/* Add user u (name, uid, gid, groups, admin as the caller sets them;
 * created_s is set). access_key_id "" makes a new key id and secret: the
 * key id into u->access_key_id, the secret (NUL-terminated) into secret,
 * which must hold NS_USER_SECRET_MADE + 1 bytes (else -ERANGE, nothing
 * added). access_key_id set imports that pair: secret holds the secret
 * (NUL-terminated) on entry. The caller wipes secret after use. c: who
 * asks (its uid goes to the audit record; NULL = uid 0). Errors: -EINVAL
 * a name, key id, secret or group count the rules above refuse; -EEXIST
 * the name or the key id is taken (also by a record that fails
 * authentication); -EDQUOT NS_USER_MAX users exist; -EAGAIN the KMS
 * throttled the seal; -EROFS opened NS_RDONLY. */
WORM_MUST_USE
int ns_user_add(ns *n, const struct ns_caller *c, struct ns_user *u, char *secret,
		size_t secret_size);
/* Remove user name (its key id stops working at once). A record that
 * fails authentication can be removed too (with every key id naming it).
 * -ENOENT no such user; -EINVAL a name the rules refuse; -EROFS. */
WORM_MUST_USE
int ns_user_remove(ns *n, const struct ns_caller *c, const char *name);
/* Every user in name order; the secret is never passed. A record that
 * fails authentication is passed with u->damaged 1 (name only). cb
 * returns non-zero to stop (that value is returned); u is valid during
 * the call only, and cb must not call into ns. */
typedef int (*ns_user_cb)(void *arg, const struct ns_user *u);
WORM_MUST_USE
int ns_user_list(ns *n, ns_user_cb cb, void *arg);
/* The user holding access key id key_id into *u, and its secret
 * (NUL-terminated) into secret of secret_size bytes; *secret_len (may be
 * NULL) its length. Any thread, any time after ns_open. The caller wipes
 * secret after use. Errors: -ENOENT no such key id (or a malformed one);
 * -EIO the user's record (or its sealed secret) fails authentication
 * (fail closed; logged); -ERANGE secret too small (NS_USER_SECRET_MAX + 1
 * always fits); -ENOKEY the secret is sealed under a master key version
 * no longer in the ring; -EAGAIN the KMS throttled the unseal. */
WORM_MUST_USE
int ns_user_lookup(ns *n, const char *key_id, struct ns_user *u, char *secret,
		   size_t secret_size, size_t *secret_len);
/* A counter that grows after every ns_user_add or ns_user_remove has
 * ended (committed or not). What a caller derives from a lookup (a cached
 * signing key) is current only while the counter it read BEFORE that
 * lookup is still the counter's value. */
uint64_t ns_user_generation(ns *n);

/* Offline tooling (wormctl). These walk the whole store: run them on a
 * store opened NS_OFFLINE or NS_RDONLY, from one thread. */
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
 * of any length). The entry (path included) is valid during the callback
 * only; a non-zero return from cb stops the walk and is returned. */
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
 * a crash in between leaves both copies valid), then re-seal every S3
 * user's secret under it. Returns the count of DEKs and secrets. */
WORM_MUST_USE
long ns_rewrap(ns *n, ns_progress_cb progress, void *arg);
/* Re-seal the inode counter when it fails authentication or was set back
 * (verify reports both): past the highest inode with a record. 1 if it
 * was changed (logged), 0 if it was sound. -EROFS opened NS_RDONLY. */
WORM_MUST_USE
int ns_repair_counter(ns *n);
/* Re-seal the metadata state digest when it does not match meta/ (verify
 * reports it; a writable mount is refused): the state as it is now is
 * accepted. 1 if re-sealed (logged), 0 if it matched. -EUCLEAN an object
 * or bucket holds less lock than the audit trail records (never
 * accepted). -EBADMSG the audit trail itself fails verification (a record
 * removed or edited blinds that check), unless flags has
 * NS_REPAIR_ACCEPT_AUDIT_DAMAGE: then re-sealed, the count of problems
 * accepted named in the re-seal's audit record. */
#define NS_REPAIR_ACCEPT_AUDIT_DAMAGE 1u
WORM_MUST_USE
int ns_repair_digest(ns *n, unsigned flags);
/* Name again a node that no directory entry names (wormctl verify reports
 * it as BUCKET/#INO): offline, as BUCKET/.recovered/INO (a bucket itself:
 * /recovered-INO at the root). Its record, lock included, is kept; only
 * its parent changes. -ENOENT no such node, -EEXIST it is named, -EPERM
 * its record fails authentication (it cannot be written), -EINVAL the
 * root or an object unlinked while open, -EROFS opened NS_RDONLY. path
 * (len bytes, the caller's) gets the new path. */
#define NS_RECOVER_DIR ".recovered"
WORM_MUST_USE
int ns_reattach(ns *n, uint64_t ino, char *path, size_t len);
/* Lowest and highest master key versions still referenced by an object
 * or an S3 user's sealed secret (0 if none). */
WORM_MUST_USE
int ns_key_versions_in_use(ns *n, uint32_t *min_version, uint32_t *max_version);
/* After a key rotate made version active: record it in the metadata (kept
 * if a higher one is recorded), so that a key ring file put back from a
 * copy older than the rotate is refused at the next writable open (its
 * removed, maybe compromised, versions would be active again); with
 * audit_text (fields "op=rotate version=N ..."), its kind=key-ring audit
 * record in the same write transaction. -EROFS opened NS_RDONLY. */
WORM_MUST_USE
int ns_key_mark(ns *n, uint32_t active, const char *audit_text);
/* wormctl key rotate, offline or through the control socket (via: more
 * fields for its audit record, or NULL): a new active master key version
 * in the key ring file, then ns_key_mark with its audit record. *version
 * is set once the ring holds it (an error after that: the ring is
 * rotated, its records not written; the next writable open writes them).
 * 0 or -errno. */
WORM_MUST_USE
int ns_key_rotate(ns *n, const char *via, uint32_t *version);

/* Rewrite every file whose content file is in format 1 or 2 (written by
 * an older build: no write tags, no commit record, so a block put back
 * from an older authentic version of itself may read) in format 3, in
 * place: same inode, lock, mode, owner, times and xattrs; a new content
 * file (new id and data key) bound to its commit record. Offline, on a
 * store opened writable (dry run: NS_RDONLY is enough). Per object: the
 * old plaintext read whole (every block authenticated), written to the new
 * file, committed, read back and compared by hash; then one transaction
 * re-reads the node, refuses it if its record changed since the read,
 * and points it at the new file; then the old file goes. An object that
 * fails any step keeps its old file and record and is reported. One audit
 * record per run (kind=format-upgrade), with a new store head. Inline
 * objects and format-3 files are never touched. Trust: whatever the old
 * file holds now (authentic under the record) is taken as the content.
 * cb (may be NULL) is called once per format-1/2 object, and per object
 * not upgraded because its record or its content file's header fails
 * (its format unknown: also counted as failed). Returns 0 (see
 * st->failed), -EUCLEAN the metadata state digest does not match, -EROFS
 * a real run on a read-only open, -EBUSY a real run on a store not opened
 * NS_OFFLINE (a daemon's), other -errno (the run stopped: KMS, I/O). */
struct ns_upgrade_item {
	uint64_t ino;
	const char *path;      /* for reports (may be "#INO") */
	const char *objid;     /* hex id of the old content file */
	const char *new_objid; /* hex id of the new one (upgraded), else NULL */
	unsigned format;       /* of the old content file */
	uint64_t size;
	int rc;                /* 0: upgraded (dry run: would be); else -errno */
	const char *why;       /* rc != 0: why it was not upgraded */
};
typedef void (*ns_upgrade_cb)(void *arg, const struct ns_upgrade_item *it);
struct ns_upgrade_stats {
	uint64_t upgraded, failed, skipped, bytes;
};
struct ns_upgrade_opts {
	int dry_run;                    /* read and check only; nothing written */
	ns_upgrade_cb cb;
	void *arg;
	/* Tests only (NULL/0 otherwise): called between an object's new file
	 * being checked and its swap; and, with WORMFS_TEST_OLD_FORMAT=1 in
	 * the environment, 1 or 2 rewrites format-3 files in that format
	 * instead (a store as an older build left it). */
	void (*before_swap)(void *arg, uint64_t ino);
	unsigned test_format;
};
WORM_MUST_USE
int ns_upgrade(ns *n, const struct ns_upgrade_opts *o, struct ns_upgrade_stats *st);

#endif
