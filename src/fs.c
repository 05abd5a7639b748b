/* fs: FUSE low-level callbacks. Each one reads the caller, calls ns and
 * replies; errors come back as -errno from ns. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include <fuse_lowlevel.h>
#include <linux/fuse.h>

#include "fs.h"
#include "log.h"
#include "clock.h"

#define SEALED_TIMEOUT 3600.0
#define MAX_GROUPS 64
/* The READ size the kernel's readahead may reach (INIT max_readahead, and
 * the mount's read_ahead_kb: raise_readahead). */
#define READAHEAD_KB 1024u

struct fs_ctx {
	ns *n;
	const struct fs_params *p;
	struct fuse_session *se;
	atomic_int stop; /* set by the main thread, read by the ticker */
	_Atomic int64_t nofile_logged;   /* monotonic ns of the last EMFILE log */
	_Atomic uint64_t init_unique;    /* the INIT request's id (io_read) */
	atomic_uint init_kflags;         /* and the flags the kernel offered */
	atomic_int init_done;            /* INIT reply sent (io_writev) */
	atomic_int killpriv;             /* fs_init: add FUSE_HANDLE_KILLPRIV */
	atomic_int closing;              /* the loop ended: fs_inval sends nothing */
	atomic_int delivering;           /* fs_inval calls in progress */
};

static struct fs_ctx *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The daemon out of file descriptors (EMFILE: its RLIMIT_NOFILE) is not
 * the caller's table being full: the caller gets ENFILE ("too many open
 * files in system"), and the log says whose limit it is, once a minute. */
static void reply_err(fuse_req_t req, int err)
{
	if (err == EMFILE || err == ENFILE) {
		struct fs_ctx *x = ctx_of(req);
		int64_t now = clock_monotonic_ns(), last = atomic_load(&x->nofile_logged);
		if ((last == 0 || now - last > 60 * (int64_t)1000000000) &&
		    atomic_compare_exchange_strong(&x->nofile_logged, &last, now))
			wlog(WLOG_ERR, "out of file descriptors (%s): requests get ENFILE; raise "
			     "the daemon's open files limit (ulimit -n, LimitNOFILE=)", strerror(err));
		err = ENFILE;
	}
	fuse_reply_err(req, err);
}

/* Every request, by opcode, for .wormfs/stats (requests per file). */
static void count_req(fuse_req_t req, enum stats_req op)
{
	stats_fuse_req(ns_stats(ctx_of(req)->n), op);
}

/* The daemon cleared set-id bits the kernel still has in its cached mode
 * (HANDLE_KILLPRIV): drop its attributes before the reply, so the next
 * stat sees the new mode. Offset -1: attributes only, no page cache (the
 * writer holds the pages of this request locked). */
static void setid_inval(fuse_req_t req, fuse_ino_t ino, int cleared)
{
	if (cleared)
		fuse_lowlevel_notify_inval_inode(ctx_of(req)->se, ino, -1, 0);
}

static void caller_of(fuse_req_t req, struct ns_caller *c)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	memset(c, 0, sizeof(*c));
	c->uid = fc->uid;
	c->gid = fc->gid;
	c->pid = (uint32_t)fc->pid;
	c->umask = fc->umask;
	c->via_mount = 1;     /* the kernel follows its own requests */
}

/* -ENOENT for an inode number the engine no longer knows: the kernel
 * reached it through a dentry it cached before the name was removed or
 * replaced outside the mount (S3; the invalidation ns queued for it was
 * not delivered yet). ESTALE makes the VFS walk the path again once with
 * LOOKUP_REVAL, a fresh LOOKUP of each name (as on NFS), so the caller
 * gets the name's present object or ENOENT. A missing name in a known
 * directory, or an unlinked object reached through its descriptor (its
 * node stays until the last close), stays ENOENT. */
static int stale(fuse_req_t req, int rc, fuse_ino_t ino)
{
	if (rc == -ENOENT && ns_ino_known(ctx_of(req)->n, ino) == 0)
		return -ESTALE;
	return rc;
}

/* Supplementary groups cost a /proc read: only fetched where principals
 * matter (lock attributes). */
static void caller_groups(fuse_req_t req, struct ns_caller *c, gid_t *buf)
{
	int k = fuse_req_getgroups(req, MAX_GROUPS, buf);
	if (k > MAX_GROUPS)
		k = MAX_GROUPS;
	if (k > 0) {
		c->groups = buf;
		c->ngroups = (size_t)k;
	}
}

/* A time in nanoseconds as a timespec: tv_nsec in [0, 1e9) also before
 * 1970 (C division truncates toward zero, which gave a negative tv_nsec). */
static struct timespec ts_of_ns(int64_t ns)
{
	struct timespec ts;
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)r;
	return ts;
}

/* A requested time in nanoseconds, clamped to what a record holds (about
 * 1677 to 2262), as the kernel clamps to a local file system's range:
 * the product overflowed before and stored another year. */
static int64_t ns_of_ts(const struct timespec *ts)
{
	int64_t ns;
	if (__builtin_mul_overflow((int64_t)ts->tv_sec, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)ts->tv_nsec, &ns))
		ns = ts->tv_sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

static void to_stat(const struct ns_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = 16384;
	st->st_atim = ts_of_ns(a->atime_ns);
	st->st_mtim = ts_of_ns(a->mtime_ns);
	st->st_ctim = ts_of_ns(a->ctime_ns);
}

/* Sealed objects never change: cache them long. Mutable ones change
 * through this mount, or outside it (S3), which ns then tells the kernel
 * (fs_inval), so the configured timeout is safe too. */
static double timeout_for(struct fs_ctx *x, const struct ns_attr *a)
{
	return a->sealed ? SEALED_TIMEOUT : x->p->attr_timeout;
}

static void reply_entry(fuse_req_t req, const struct ns_attr *a)
{
	struct fs_ctx *x = ctx_of(req);
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.ino = a->ino;
	e.generation = 1;
	to_stat(a, &e.attr);
	e.attr_timeout = timeout_for(x, a);
	e.entry_timeout = x->p->attr_timeout;
	fuse_reply_entry(req, &e);
}

/* The reply of the calls that create a node: the entry, or the error. */
static void reply_created(fuse_req_t req, int rc, const struct ns_attr *a)
{
	if (rc)
		reply_err(req, -rc);
	else
		reply_entry(req, a);
}

static void reply_attr(fuse_req_t req, const struct ns_attr *a)
{
	struct stat st;
	to_stat(a, &st);
	fuse_reply_attr(req, &st, timeout_for(ctx_of(req), a));
}

static void fs_init(void *data, struct fuse_conn_info *conn)
{
	struct fs_ctx *x = data;

	/* libfuse refuses INIT unless this repeats the max_read= option. */
	if (x->p->max_read)
		conn->max_read = x->p->max_read;
	/* No writeback cache: a refused write must fail, never be cached
	 * (notes/performance.md). */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~FUSE_CAP_SPLICE_WRITE & ~FUSE_CAP_SPLICE_MOVE & ~FUSE_CAP_SPLICE_READ;
	conn->max_readahead = READAHEAD_KB << 10;
	/* The daemon clears set-id bits on write, truncate and chown itself
	 * (ns_setid.c, ns_attr.c), by the kernel's rules (libfuse does not pass
	 * the kernel's kill flags on), which spares a GETATTR before every
	 * chown. libfuse
	 * 3.14.0 wants HANDLE_KILLPRIV by default but leaves the flag out of
	 * its INIT reply, and knows no HANDLE_KILLPRIV_V2; io_writev adds
	 * both (V2 if the kernel offers it). Under V2 the kernel also stops
	 * asking for security.capability before every write (SB_NOSEC): it
	 * asks once after each refresh of the inode's attributes. */
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV) {
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
		atomic_store(&x->killpriv, 1);
	}
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_req(req, SREQ_LOOKUP);
	struct ns_attr a;
	int rc = stale(req, ns_lookup(ctx_of(req)->n, parent, name, &a), parent);
	if (rc) {
		/* A negative entry with entry_timeout 0: the kernel caches
		 * nothing (the same as ENOENT), so a name created by another
		 * request right after this lookup is seen at once. */
		if (rc == -ENOENT) {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			e.entry_timeout = 0;
			fuse_reply_entry(req, &e);
			return;
		}
		reply_err(req, -rc);
		return;
	}
	reply_entry(req, &a);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count_req(req, SREQ_FORGET);
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	count_req(req, SREQ_FORGET);
	(void)count;
	(void)f;
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_req(req, SREQ_GETATTR);
	struct ns_attr a;
	(void)fi;
	int rc = stale(req, ns_getattr(ctx_of(req)->n, ino, &a), ino);
	if (rc)
		reply_err(req, -rc);
	else
		reply_attr(req, &a);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set,
		       struct fuse_file_info *fi)
{
	count_req(req, SREQ_SETATTR);
	struct ns_setattr sa;
	struct ns_caller c;
	struct ns_attr a;
	int rc, cleared = 0;

	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= NS_SET_MODE;
		sa.mode = st->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= NS_SET_UID;
		sa.uid = st->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= NS_SET_GID;
		sa.gid = st->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= NS_SET_SIZE;
		sa.size = (uint64_t)st->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		sa.valid |= NS_SET_ATIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= NS_SET_ATIME;
		sa.atime_ns = ns_of_ts(&st->st_atim);
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		sa.valid |= NS_SET_MTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= NS_SET_MTIME;
		sa.mtime_ns = ns_of_ts(&st->st_mtim);
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa.valid |= NS_SET_CTIME;
		sa.ctime_ns = ns_of_ts(&st->st_ctim);
	}
	caller_of(req, &c);
	c.setid_cleared = &cleared;
	rc = ns_setattr(ctx_of(req)->n, &c, ino, &sa,
			fi ? (ns_handle *)(uintptr_t)fi->fh : NULL, &a);
	setid_inval(req, ino, cleared);
	rc = fi ? rc : stale(req, rc, ino);
	if (rc)
		reply_err(req, -rc);
	else
		reply_attr(req, &a);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	count_req(req, SREQ_READLINK);
	char buf[4097];
	int rc = stale(req, ns_readlink(ctx_of(req)->n, ino, buf, sizeof(buf)), ino);
	if (rc)
		reply_err(req, -rc);
	else
		fuse_reply_readlink(req, buf);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	count_req(req, SREQ_MKNOD);
	struct ns_caller c;
	struct ns_attr a;
	(void)rdev;
	caller_of(req, &c);
	int rc = ns_mknod(ctx_of(req)->n, &c, parent, name, mode, &a);
	reply_created(req, stale(req, rc, parent), &a);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	count_req(req, SREQ_MKDIR);
	struct ns_caller c;
	struct ns_attr a;
	caller_of(req, &c);
	int rc = ns_mkdir(ctx_of(req)->n, &c, parent, name, mode, &a);
	reply_created(req, stale(req, rc, parent), &a);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	count_req(req, SREQ_SYMLINK);
	struct ns_caller c;
	struct ns_attr a;
	caller_of(req, &c);
	int rc = ns_symlink(ctx_of(req)->n, &c, parent, name, link, &a);
	reply_created(req, stale(req, rc, parent), &a);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_req(req, SREQ_UNLINK);
	struct ns_caller c;
	caller_of(req, &c);
	reply_err(req, -stale(req, ns_unlink(ctx_of(req)->n, &c, parent, name), parent));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_req(req, SREQ_RMDIR);
	struct ns_caller c;
	caller_of(req, &c);
	reply_err(req, -stale(req, ns_rmdir(ctx_of(req)->n, &c, parent, name), parent));
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	count_req(req, SREQ_RENAME);
	struct ns_caller c;
	unsigned f = 0;
	if (flags & RENAME_NOREPLACE)
		f |= NS_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		f |= NS_RENAME_EXCHANGE;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		reply_err(req, EINVAL);
		return;
	}
	caller_of(req, &c);
	int rc = ns_rename(ctx_of(req)->n, &c, parent, name, newparent, newname, f);
	rc = stale(req, rc, parent);
	reply_err(req, -stale(req, rc, newparent));
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	count_req(req, SREQ_LINK);
	struct ns_caller c;
	caller_of(req, &c);
	reply_err(req, -ns_link(ctx_of(req)->n, &c, ino, newparent, newname));
}

static void fill_open(struct fuse_file_info *fi, ns_handle *h, fuse_ino_t ino, int keep,
		      int flags)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = keep ? 1 : 0;
	/* Read-only handles have nothing to commit at close. */
	fi->noflush = ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_APPEND))) ? 1 : 0;
	/* Virtual files are generated: no size, no page cache. */
	fi->direct_io = (ino >= NS_INO_CTL && ino <= NS_INO_AUDIT) ? 1 : 0;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_req(req, SREQ_OPEN);
	struct ns_caller c;
	ns_handle *h = NULL;
	int keep = 0, cleared = 0;
	caller_of(req, &c);
	c.setid_cleared = &cleared;
	int rc = ns_open_file(ctx_of(req)->n, &c, ino, fi->flags, &h, &keep);
	setid_inval(req, ino, cleared);
	/* An open reaches an object with no name left only through a dentry
	 * the kernel kept (replaced or deleted over S3 while someone holds
	 * it open): ESTALE too, so the path is looked up again. */
	if (rc == -ENOENT && ns_ino_known(ctx_of(req)->n, ino) != 1)
		rc = -ESTALE;
	if (rc) {
		reply_err(req, -rc);
		return;
	}
	fill_open(fi, h, ino, keep, fi->flags);
	/* An interrupted open: no one is left to get an error. ns_release
	 * frees the handle whatever it returns and logs a failed commit. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		worm_discard(ns_release(ctx_of(req)->n, h));
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	count_req(req, SREQ_CREATE);
	struct ns_caller c;
	struct ns_attr a;
	struct fuse_entry_param e;
	ns_handle *h = NULL;
	caller_of(req, &c);
	int rc = ns_create(ctx_of(req)->n, &c, parent, name, mode, fi->flags, &a, &h);
	if (rc) {
		rc = stale(req, rc, parent);
		reply_err(req, -rc);
		return;
	}
	fill_open(fi, h, a.ino, 0, O_RDWR);
	memset(&e, 0, sizeof(e));
	e.ino = a.ino;
	e.generation = 1;
	to_stat(&a, &e.attr);
	e.attr_timeout = ctx_of(req)->p->attr_timeout;
	e.entry_timeout = ctx_of(req)->p->attr_timeout;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)   /* as in fs_open */
		worm_discard(ns_release(ctx_of(req)->n, h));
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	count_req(req, SREQ_READ);
	char *buf = malloc(size ? size : 1);
	(void)ino;
	if (!buf) {
		reply_err(req, ENOMEM);
		return;
	}
	ssize_t got = ns_read(ctx_of(req)->n, (ns_handle *)(uintptr_t)fi->fh, buf, size,
			      (uint64_t)off);
	if (got < 0)
		reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	count_req(req, SREQ_WRITE);
	struct ns_caller c;
	int cleared = 0;
	caller_of(req, &c);
	c.setid_cleared = &cleared;
	ssize_t put = ns_write(ctx_of(req)->n, &c, (ns_handle *)(uintptr_t)fi->fh, buf, size,
			       (uint64_t)off);
	setid_inval(req, ino, cleared);
	if (put < 0)
		reply_err(req, (int)-put);
	else
		fuse_reply_write(req, (size_t)put);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_req(req, SREQ_FLUSH);
	(void)ino;
	reply_err(req, -ns_flush(ctx_of(req)->n, (ns_handle *)(uintptr_t)fi->fh));
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_req(req, SREQ_RELEASE);
	(void)ino;
	reply_err(req, -ns_release(ctx_of(req)->n, (ns_handle *)(uintptr_t)fi->fh));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	count_req(req, SREQ_FSYNC);
	(void)ino;
	reply_err(req, -ns_fsync(ctx_of(req)->n, (ns_handle *)(uintptr_t)fi->fh, datasync));
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_req(req, SREQ_OPENDIR);
	(void)ino;
	(void)fi;
	/* readdir is stateless (cookies): no opendir round trips needed. */
	reply_err(req, ENOSYS);
}

struct rd_buf {
	fuse_req_t req;
	char *buf;
	size_t size, len;
	int plus;
};

static int rd_add(void *arg, const char *name, const struct ns_attr *a, uint64_t next_off)
{
	struct rd_buf *r = arg;
	size_t k;
	if (r->plus) {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		int dot = !strcmp(name, ".") || !strcmp(name, "..");
		to_stat(a, &e.attr);
		if (!dot) {
			e.ino = a->ino;
			e.generation = 1;
			e.attr_timeout = timeout_for(ctx_of(r->req), a);
			e.entry_timeout = ctx_of(r->req)->p->attr_timeout;
		}
		k = fuse_add_direntry_plus(r->req, r->buf + r->len, r->size - r->len, name, &e,
					   (off_t)next_off);
	} else {
		struct stat st;
		to_stat(a, &st);
		k = fuse_add_direntry(r->req, r->buf + r->len, r->size - r->len, name, &st,
				      (off_t)next_off);
	}
	if (k > r->size - r->len)
		return 1;
	r->len += k;
	return 0;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct rd_buf r = { req, malloc(size), size, 0, plus };
	if (!r.buf) {
		reply_err(req, ENOMEM);
		return;
	}
	int rc = stale(req, ns_readdir(ctx_of(req)->n, ino, (uint64_t)off, rd_add, &r), ino);
	if (rc)
		reply_err(req, -rc);
	else
		fuse_reply_buf(req, r.buf, r.len);
	free(r.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	count_req(req, SREQ_READDIR);
	(void)fi;
	readdir_common(req, ino, size, off, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	count_req(req, SREQ_READDIRPLUS);
	(void)fi;
	readdir_common(req, ino, size, off, 1);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	count_req(req, SREQ_FSYNCDIR);
	(void)ino;
	(void)datasync;
	(void)fi;
	reply_err(req, -ns_fsyncdir(ctx_of(req)->n));
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	count_req(req, SREQ_STATFS);
	struct ns_statfs s;
	struct statvfs sv;
	(void)ino;
	int rc = ns_statfs(ctx_of(req)->n, &s);
	if (rc) {
		reply_err(req, -rc);
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = (unsigned long)s.bsize;
	sv.f_blocks = s.blocks;
	sv.f_bfree = s.bfree;
	sv.f_bavail = s.bavail;
	sv.f_files = s.files;
	sv.f_ffree = sv.f_favail = s.ffree;
	sv.f_namemax = s.namemax;
	fuse_reply_statfs(req, &sv);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	count_req(req, SREQ_SETXATTR);
	struct ns_caller c;
	gid_t groups[MAX_GROUPS];
	caller_of(req, &c);
	if (worm_xattr_is_lock(name))
		caller_groups(req, &c, groups);
	reply_err(req, -stale(req, ns_setxattr(ctx_of(req)->n, &c, ino, name, value, size, flags),
			      ino));
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	count_req(req, SREQ_GETXATTR);
	struct ns_caller c;
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		reply_err(req, ENOMEM);
		return;
	}
	caller_of(req, &c);
	ssize_t rc = ns_getxattr(ctx_of(req)->n, &c, ino, name, buf, size);
	if (rc == -ENOENT)
		rc = stale(req, -ENOENT, ino);
	if (rc < 0)
		reply_err(req, (int)-rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	count_req(req, SREQ_LISTXATTR);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		reply_err(req, ENOMEM);
		return;
	}
	ssize_t rc = ns_listxattr(ctx_of(req)->n, ino, buf, size);
	if (rc == -ENOENT)
		rc = stale(req, -ENOENT, ino);
	if (rc < 0)
		reply_err(req, (int)-rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	count_req(req, SREQ_REMOVEXATTR);
	struct ns_caller c;
	gid_t groups[MAX_GROUPS];
	caller_of(req, &c);
	if (worm_xattr_is_lock(name))
		caller_groups(req, &c, groups);
	reply_err(req, -stale(req, ns_removexattr(ctx_of(req)->n, &c, ino, name), ino));
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	count_req(req, SREQ_FALLOCATE);
	struct ns_caller c;
	(void)ino;
	caller_of(req, &c);
	if (off < 0 || len <= 0) {
		reply_err(req, EINVAL);
		return;
	}
	reply_err(req, -ns_fallocate(ctx_of(req)->n, &c, (ns_handle *)(uintptr_t)fi->fh,
					  mode, (uint64_t)off, (uint64_t)len));
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
};

/* What the kernel must forget (queued by ns: a write reached a sealed
 * object; a name or an object changed outside the mount, by S3 or the
 * daemon). Called by ns_drain_inval from the ticker or an S3 thread,
 * never while this session handles a request of its own (libfuse: a
 * notification from a request's handler may deadlock). The kernel answers
 * ENOENT for what it does not cache: nothing to forget then. */
static void fs_inval(void *arg, int kind, uint64_t ino, const char *name)
{
	struct fs_ctx *x = arg;

	/* Counted before closing is read (fs_run sets closing, then reads
	 * the count: it sees this call, or this call sees closing). */
	atomic_fetch_add(&x->delivering, 1);
	if (atomic_load(&x->closing)) {
		atomic_fetch_sub(&x->delivering, 1);
		return;
	}
	switch (kind) {
	case NS_INVAL_ENTRY:
		/* the dentry: the kernel looks the name up again (ns queues
		 * the directory's attributes too) */
		fuse_lowlevel_notify_inval_entry(x->se, ino, name, strlen(name));
		break;
	case NS_INVAL_ATTR:
		fuse_lowlevel_notify_inval_inode(x->se, ino, -1, 0);
		break;
	default:
		fuse_lowlevel_notify_inval_inode(x->se, ino, 0, 0);
		break;
	}
	atomic_fetch_sub(&x->delivering, 1);
}

/* After the session loop ended (an unmount, SIGTERM): a notification
 * still in the kernel may wait for a directory's lock (inval_entry) or a
 * page lock (inval_inode) held by a process whose request waits in the
 * kernel's queue, read by nobody now; and nothing ends that wait (the
 * connection is aborted only once our descriptor is released, which the
 * delivering thread holds): the stop would hang, and with it that
 * process, even after a SIGKILL of the daemon. So the requests are still
 * answered, here, until no delivery is in progress; none starts now
 * (closing is set). */
static void serve_while_delivering(struct fs_ctx *x)
{
	struct fuse_buf buf = { 0 };
	struct pollfd pfd = { .fd = fuse_session_fd(x->se), .events = POLLIN };
	int idle = 0;

	while (atomic_load(&x->delivering) > 0) {
		/* libfuse's workers drop a request they read once the session
		 * has exited: its caller may hold the lock a delivery waits
		 * for, and no request comes. After 2 s of that, abort the
		 * connection (root: a forced unmount aborts it first), which
		 * ends every wait; the unmount below clears the rest. */
		if (idle == 20) {
			wlog(WLOG_WARN, "stopping: a kernel invalidation waits for a request "
			     "nobody answers; aborting the connection of %s", x->p->mountpoint);
			worm_discard(umount2(x->p->mountpoint, MNT_FORCE) ? -errno : 0);
		}
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) <= 0 || !(pfd.revents & POLLIN)) {
			if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
				/* aborted or unmounted: the kernel ends the
				 * waits itself */
				nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
			} else {
				idle++;
			}
			continue;
		}
		/* libfuse drops what it reads once the session has exited */
		fuse_session_reset(x->se);
		int k = fuse_session_receive_buf(x->se, &buf);
		if (k > 0) {
			idle = 0;
			fuse_session_process_buf(x->se, &buf);
		}
		else if (k < 0 && k != -EINTR && k != -EAGAIN)
			nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	free(buf.mem);
	fuse_session_exit(x->se);
}

/* The session's device I/O, plain read and writev, except that the INIT
 * reply gets FUSE_HANDLE_KILLPRIV(_V2) when fs_init asked for it (see
 * there).
 * INIT is the first request and nothing else is answered before it. */
static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	struct fs_ctx *x = ud;
	ssize_t k = read(fd, buf, len);

	if (k >= (ssize_t)sizeof(struct fuse_in_header) && !atomic_load(&x->init_done)) {
		const struct fuse_in_header *ih = buf;
		if (ih->opcode == FUSE_INIT &&
		    k >= (ssize_t)(sizeof(*ih) + offsetof(struct fuse_init_in, flags) +
				   sizeof(uint32_t))) {
			const struct fuse_init_in *ii = (const void *)(ih + 1);
			atomic_store(&x->init_kflags, ii->flags);
			atomic_store(&x->init_unique, ih->unique);
		}
	}
	return k;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	struct fs_ctx *x = ud;

	if (!atomic_load(&x->init_done) && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		const struct fuse_out_header *oh = iov[0].iov_base;
		uint64_t u = atomic_load(&x->init_unique);
		if (u && oh->unique == u && oh->error == 0) {
			struct fuse_init_out *o = iov[1].iov_base;
			if (atomic_load(&x->killpriv))
				o->flags |= FUSE_HANDLE_KILLPRIV |
					(atomic_load(&x->init_kflags) & FUSE_HANDLE_KILLPRIV_V2);
			atomic_store(&x->init_done, 1);
		}
	}
	return writev(fd, iov, count);
}

/* LMDB checkpoint and compliance-clock persistence, <= 1 s apart. */
static void *ticker(void *arg)
{
	struct fs_ctx *x = arg;
	struct timespec ts = { 0, 250 * 1000000L };
	while (!atomic_load(&x->stop)) {
		nanosleep(&ts, NULL);
		/* A failed checkpoint is logged by ns_tick (once, and again
		 * when it works) and retried at the next tick. */
		worm_discard(ns_tick(x->n));
	}
	return NULL;
}

/* The kernel takes INIT's max_readahead only up to the mount's default
 * read_ahead_kb (128 KiB), so a cold sequential read came as READs of
 * 256 KiB (4 per MiB). Raised to READAHEAD_KB (writable by root only;
 * otherwise the default stays), a READ is 1 MiB: a quarter of the
 * requests, 10-50 % less daemon CPU per MiB (README, Performance). Only
 * how much the kernel reads ahead changes: every READ still comes to the
 * daemon, which checks each block's tag; no page is served that the
 * daemon did not send. On a thread of its own, detached, holding nothing
 * of fs_run's (it may end first), in case the stat of the mount point
 * waits for the mount. */
static void *raise_readahead(void *arg)
{
	char *mnt = arg, path[80], val[16];
	struct statx sx;

	/* AT_STATX_DONT_SYNC: the device number without a request to this
	 * daemon (which may not answer yet: under valgrind a thread blocked
	 * in stat holds the others). A FUSE mount is an anonymous device
	 * (major 0) whose root is inode 1. */
	if (statx(AT_FDCWD, mnt, AT_STATX_DONT_SYNC, STATX_INO, &sx) == 0 &&
	    sx.stx_dev_major == 0 && sx.stx_ino == NS_INO_ROOT) {
		int fd, k = snprintf(val, sizeof(val), "%u\n", READAHEAD_KB);
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
			 sx.stx_dev_major, sx.stx_dev_minor);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val, (size_t)k) != k)
			wlog(WLOG_DEBUG, "read_ahead_kb of %s stays the kernel's: %s", mnt,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(mnt);
	return NULL;
}

static void start_raise_readahead(const char *mountpoint)
{
	pthread_attr_t a;
	pthread_t th;
	char *mnt = strdup(mountpoint);

	if (!mnt || pthread_attr_init(&a)) {
		free(mnt);
		return;
	}
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, raise_readahead, mnt))
		free(mnt);
	pthread_attr_destroy(&a);
}

static int add_arg(struct fuse_args *args, const char *a)
{
	return fuse_opt_add_arg(args, a) ? -ENOMEM : 0;
}

/* libfuse splits an -o list at commas and takes a backslash as an escape.
 * The fsname comes from the store path, which may hold both: escape them,
 * or a path like "/srv/s,allow_other" would add mount options. */
static char *escape_opt_value(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *d = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*d++ = '\\';
		*d++ = *s;
	}
	*d = '\0';
	return out;
}

int fs_run(ns *n, const struct fs_params *p)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fs_ctx x = { n, p, NULL, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct fuse_loop_config *lc = NULL;
	pthread_t tick;
	char *opts = NULL, *fsname = escape_opt_value(p->fsname);
	int rc = 1, mounted = 0, ticking = 0;

	if (!fsname || asprintf(&opts, "default_permissions,fsname=%s,subtype=wormfs%s%s",
				fsname, p->mount_opts && *p->mount_opts ? "," : "",
				p->mount_opts ? p->mount_opts : "") < 0) {
		opts = NULL;
		fprintf(stderr, "wormfs: out of memory\n");
		goto out;
	}
	if (add_arg(&args, "wormfs") || add_arg(&args, "-o") || add_arg(&args, opts) ||
	    (p->debug && add_arg(&args, "-d")))
		goto out;
	x.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &x);
	if (!x.se) {
		fprintf(stderr, "wormfs: invalid mount options: %s\n", opts);
		goto out;
	}
	if (fuse_set_signal_handlers(x.se)) {
		fprintf(stderr, "wormfs: cannot set signal handlers\n");
		goto out;
	}
	if (fuse_session_mount(x.se, p->mountpoint)) {
		/* libfuse printed the reason ("fuse: mount failed: ...") */
		fprintf(stderr, "wormfs: cannot mount on %s\n", p->mountpoint);
		goto out;
	}
	mounted = 1;
	{
		static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };
		if (fuse_session_custom_io(x.se, &io, fuse_session_fd(x.se))) {
			fprintf(stderr, "wormfs: cannot set the session's I/O\n");
			goto out;
		}
	}
	/* Before the ticker starts: the hook may switch the log sink, which
	 * must not change under a running thread (log.c). */
	if (p->on_mounted)
		p->on_mounted(p->on_mounted_arg);
	ns_set_inval(n, fs_inval, &x);
	if (pthread_create(&tick, NULL, ticker, &x) == 0)
		ticking = 1;
	wlog(WLOG_INFO, "mounted %s on %s", p->fsname, p->mountpoint);
	start_raise_readahead(p->mountpoint);
	if (p->single_thread) {
		rc = fuse_session_loop(x.se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out;
		fuse_loop_cfg_set_max_threads(lc, p->max_threads);
		fuse_loop_cfg_set_idle_threads(lc, p->max_threads / 2 ? p->max_threads / 2 : 1);
		rc = fuse_session_loop_mt(x.se, lc);
	}
	rc = rc ? 1 : 0;
out:
	atomic_store(&x.closing, 1);
	if (mounted)
		serve_while_delivering(&x);
	atomic_store(&x.stop, 1);
	if (ticking)
		pthread_join(tick, NULL);
	ns_set_inval(n, NULL, NULL);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	if (x.se) {
		if (mounted)
			fuse_session_unmount(x.se);
		fuse_remove_signal_handlers(x.se);
		fuse_session_destroy(x.se);
	}
	fuse_opt_free_args(&args);
	free(opts);
	free(fsname);
	if (mounted)
		wlog(WLOG_INFO, "unmounted %s", p->mountpoint);
	return rc;
}
