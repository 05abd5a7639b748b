/* fusefloor: the FUSE request floor for tools/bench.sh.
 *
 *   fusefloor MNT [-f] (goes to the background once mounted, or stays in
 *                       the foreground with -f; ends when MNT is
 *                       unmounted)
 *
 * A file system that keeps names, modes, owners, sizes and times in memory
 * and throws file content away. It does no I/O and no cryptography, so
 * the time a workload takes on it is what the kernel's request hand-off
 * alone costs: no FUSE file system (wormfs, gocryptfs) can be faster on
 * the same requests. It negotiates what wormfs negotiates (low-level API,
 * multithreaded loop of 8, readdirplus always, no opendir, no writeback
 * cache, atomic O_TRUNC, default_permissions, 1 s timeouts, 1 MiB
 * read_ahead_kb).
 *
 * A benchmark tool, not part of wormfs: it is the one file outside fs.c
 * that includes fuse_lowlevel.h, and it is not linked with wormcore. Not
 * for real data: content reads back as zeros, rename is ENOSYS, and nodes
 * are never freed. */
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FLOOR_TIMEOUT 1.0
#define FLOOR_HASH (1u << 20)

struct fnode {
	uint64_t parent;
	char *name;                 /* NULL once removed */
	struct stat st;
	char *link;                 /* symlink target */
	uint64_t *kids;             /* directories: child inodes, 0 = removed */
	size_t nkids, capkids, live_kids;
	uint64_t hnext;             /* next inode in the same hash chain */
};

struct floor {
	pthread_mutex_t mu;
	struct fnode *nodes;        /* inode i is nodes[i - 1] */
	size_t n, cap;
	uint64_t *hash;             /* (parent, name) -> first inode of chain */
	_Atomic uint64_t init_unique; /* as in wormfs (fs.c): INIT gets */
	atomic_uint init_kflags;
	atomic_int init_done;         /* FUSE_HANDLE_KILLPRIV, which libfuse */
	atomic_int killpriv;          /* 3.14.0 leaves out of its reply */
};

static struct floor *fl_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static uint32_t name_hash(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;

	while (*name)
		h = (h ^ (unsigned char)*name++) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32)) & (FLOOR_HASH - 1);
}

static struct fnode *node(struct floor *f, uint64_t ino)
{
	return (ino >= 1 && ino <= f->n && (ino == 1 || f->nodes[ino - 1].name)) ?
		&f->nodes[ino - 1] : NULL;
}

static uint64_t find(struct floor *f, uint64_t parent, const char *name)
{
	uint64_t i = f->hash[name_hash(parent, name)];

	for (; i; i = f->nodes[i - 1].hnext) {
		struct fnode *x = &f->nodes[i - 1];
		if (x->name && x->parent == parent && strcmp(x->name, name) == 0)
			return i;
	}
	return 0;
}

static void now_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Add a node under parent (mu held). Returns the inode or 0 (ENOMEM). */
static uint64_t add(struct floor *f, uint64_t parent, const char *name, mode_t mode,
		    const struct fuse_ctx *c)
{
	struct fnode *p, *x;
	uint64_t ino;
	uint32_t h;

	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 1024;
		struct fnode *nn = realloc(f->nodes, nc * sizeof(*nn));
		if (!nn)
			return 0;
		f->nodes = nn;
		f->cap = nc;
	}
	p = &f->nodes[parent - 1];
	if (p->nkids == p->capkids) {
		size_t nc = p->capkids ? p->capkids * 2 : 16;
		uint64_t *nk = realloc(p->kids, nc * sizeof(*nk));
		if (!nk)
			return 0;
		p->kids = nk;
		p->capkids = nc;
	}
	x = &f->nodes[f->n];
	memset(x, 0, sizeof(*x));
	x->name = strdup(name);
	if (!x->name)
		return 0;
	ino = ++f->n;
	x->parent = parent;
	x->st.st_ino = ino;
	x->st.st_mode = mode;
	x->st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	x->st.st_uid = c ? c->uid : 0;
	x->st.st_gid = c ? c->gid : 0;
	x->st.st_blksize = 4096;
	now_ts(&x->st.st_mtim);
	x->st.st_atim = x->st.st_ctim = x->st.st_mtim;
	h = name_hash(parent, name);
	x->hnext = f->hash[h];
	f->hash[h] = ino;
	p->kids[p->nkids++] = ino;
	p->live_kids++;
	return ino;
}

static void drop(struct floor *f, uint64_t ino)
{
	struct fnode *x = &f->nodes[ino - 1], *p = &f->nodes[x->parent - 1];

	for (size_t i = p->nkids; i-- > 0;)
		if (p->kids[i] == ino) {
			p->kids[i] = 0;
			break;
		}
	p->live_kids--;
	free(x->name);
	x->name = NULL;     /* the hash chain skips it; the slot is not reused */
}

static void entry_of(const struct fnode *x, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = x->st.st_ino;
	e->generation = 1;
	e->attr = x->st;
	e->attr_timeout = FLOOR_TIMEOUT;
	e->entry_timeout = FLOOR_TIMEOUT;
}

static void fl_init(void *data, struct fuse_conn_info *conn)
{
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
	if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV) {
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
		atomic_store(&((struct floor *)data)->killpriv, 1);
	}
}

/* As wormfs (fs.c raise_readahead): the mount's read_ahead_kb raised to
 * 1 MiB, so cold reads come as 1 MiB READs here too. */
static void *raise_readahead(void *arg)
{
	const char *mnt = arg;
	char path[80];
	struct statx sx;

	if (statx(AT_FDCWD, mnt, AT_STATX_DONT_SYNC, STATX_INO, &sx) == 0 &&
	    sx.stx_dev_major == 0 && sx.stx_ino == 1) {
		FILE *f;
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
			 sx.stx_dev_major, sx.stx_dev_minor);
		f = fopen(path, "w");
		if (f) {
			fputs("1024\n", f);
			fclose(f);
		}
	}
	return NULL;
}

/* The same device I/O as wormfs's (fs.c io_read, io_writev). */
static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	struct floor *f = ud;
	ssize_t k = read(fd, buf, len);

	if (k >= (ssize_t)sizeof(struct fuse_in_header) && !atomic_load(&f->init_done)) {
		const struct fuse_in_header *ih = buf;
		if (ih->opcode == FUSE_INIT &&
		    k >= (ssize_t)(sizeof(*ih) + offsetof(struct fuse_init_in, flags) +
				   sizeof(uint32_t))) {
			const struct fuse_init_in *ii = (const void *)(ih + 1);
			atomic_store(&f->init_kflags, ii->flags);
			atomic_store(&f->init_unique, ih->unique);
		}
	}
	return k;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	struct floor *f = ud;

	if (!atomic_load(&f->init_done) && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		const struct fuse_out_header *oh = iov[0].iov_base;
		uint64_t u = atomic_load(&f->init_unique);
		if (u && oh->unique == u && oh->error == 0) {
			struct fuse_init_out *o = iov[1].iov_base;
			if (atomic_load(&f->killpriv))
				o->flags |= FUSE_HANDLE_KILLPRIV |
					(atomic_load(&f->init_kflags) & FUSE_HANDLE_KILLPRIV_V2);
			atomic_store(&f->init_done, 1);
		}
	}
	return writev(fd, iov, count);
}

static void fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct floor *f = fl_of(req);
	struct fuse_entry_param e;
	uint64_t ino;

	pthread_mutex_lock(&f->mu);
	ino = node(f, parent) ? find(f, parent, name) : 0;
	if (ino)
		entry_of(&f->nodes[ino - 1], &e);
	pthread_mutex_unlock(&f->mu);
	if (ino)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, ENOENT);
}

static void fl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *x;
	struct stat st;

	(void)fi;
	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x)
		st = x->st;
	pthread_mutex_unlock(&f->mu);
	if (x)
		fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
	else
		fuse_reply_err(req, ENOENT);
}

static void fl_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int valid,
		       struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *x;
	struct stat st;

	(void)fi;
	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x) {
		if (valid & FUSE_SET_ATTR_MODE)
			x->st.st_mode = (x->st.st_mode & S_IFMT) | (a->st_mode & 07777);
		if (valid & FUSE_SET_ATTR_UID)
			x->st.st_uid = a->st_uid;
		if (valid & FUSE_SET_ATTR_GID)
			x->st.st_gid = a->st_gid;
		/* HANDLE_KILLPRIV: chown clears set-id bits (writes are not
		 * kept, so only chown matters here). */
		if ((valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) && !S_ISDIR(x->st.st_mode))
			x->st.st_mode &= ~(mode_t)(S_ISUID |
				((x->st.st_mode & S_IXGRP) ? S_ISGID : 0));
		if (valid & FUSE_SET_ATTR_SIZE)
			x->st.st_size = a->st_size;
		if (valid & FUSE_SET_ATTR_ATIME)
			x->st.st_atim = a->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME)
			x->st.st_mtim = a->st_mtim;
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			now_ts(&x->st.st_atim);
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			now_ts(&x->st.st_mtim);
		now_ts(&x->st.st_ctim);
		st = x->st;
	}
	pthread_mutex_unlock(&f->mu);
	if (x)
		fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
	else
		fuse_reply_err(req, ENOENT);
}

/* Shared by mkdir, mknod, symlink and create. */
static int make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		const char *link, struct fuse_entry_param *e)
{
	struct floor *f = fl_of(req);
	struct fnode *p;
	uint64_t ino;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	p = node(f, parent);
	if (!p || !S_ISDIR(p->st.st_mode))
		rc = ENOENT;
	else if (find(f, parent, name))
		rc = EEXIST;
	else if (!(ino = add(f, parent, name, mode, fuse_req_ctx(req))))
		rc = ENOMEM;
	else {
		struct fnode *x = &f->nodes[ino - 1];
		if (link && !(x->link = strdup(link))) {
			drop(f, ino);
			rc = ENOMEM;
		} else {
			x->st.st_size = link ? (off_t)strlen(link) : 0;
			entry_of(x, e);
		}
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void fl_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int rc = make(req, parent, name, S_IFDIR | (mode & 07777), NULL, &e);

	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void fl_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = make(req, parent, name, S_IFLNK | 0777, link, &e);

	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

static void fl_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int rc = make(req, parent, name, S_IFREG | (mode & 07777), NULL, &e);

	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_create(req, &e, fi);
}

static void fl_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct floor *f = fl_of(req);
	struct fnode *x;
	char *t = NULL;

	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x && x->link)
		t = strdup(x->link);
	pthread_mutex_unlock(&f->mu);
	if (t)
		fuse_reply_readlink(req, t);
	else
		fuse_reply_err(req, x ? EINVAL : ENOENT);
	free(t);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int dir)
{
	struct floor *f = fl_of(req);
	uint64_t ino;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	ino = node(f, parent) ? find(f, parent, name) : 0;
	if (!ino)
		rc = ENOENT;
	else if (dir && !S_ISDIR(f->nodes[ino - 1].st.st_mode))
		rc = ENOTDIR;
	else if (!dir && S_ISDIR(f->nodes[ino - 1].st.st_mode))
		rc = EISDIR;
	else if (dir && f->nodes[ino - 1].live_kids)
		rc = ENOTEMPTY;
	else
		drop(f, ino);
	pthread_mutex_unlock(&f->mu);
	fuse_reply_err(req, rc);
}

static void fl_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

static void fl_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 1);
}

static void fl_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void fl_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	fl_ok(req, ino, fi);
}

static void fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *x;

	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x && (fi->flags & O_TRUNC))
		x->st.st_size = 0;
	pthread_mutex_unlock(&f->mu);
	/* As wormfs: a read-only handle has nothing to flush. */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & (O_TRUNC | O_APPEND));
	if (x)
		fuse_reply_open(req, fi);
	else
		fuse_reply_err(req, ENOENT);
}

static void fl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *x;
	size_t n = 0;
	char *buf;

	(void)fi;
	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x && off < x->st.st_size)
		n = (size_t)(x->st.st_size - off) < size ? (size_t)(x->st.st_size - off) : size;
	pthread_mutex_unlock(&f->mu);
	buf = calloc(1, n ? n : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fuse_reply_buf(req, buf, n);
	free(buf);
}

static void fl_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *x;

	(void)buf;
	(void)fi;
	pthread_mutex_lock(&f->mu);
	x = node(f, ino);
	if (x) {
		if (off + (off_t)size > x->st.st_size)
			x->st.st_size = off + (off_t)size;
		now_ts(&x->st.st_mtim);
		x->st.st_ctim = x->st.st_mtim;
	}
	pthread_mutex_unlock(&f->mu);
	if (x)
		fuse_reply_write(req, size);
	else
		fuse_reply_err(req, ENOENT);
}

static void fl_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	struct floor *f = fl_of(req);
	struct fnode *d;
	char *buf = malloc(size);
	size_t used = 0;

	(void)fi;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&f->mu);
	d = node(f, ino);
	/* The offset is an index into the child array: entries removed while
	 * a listing is under way leave a 0 there, so nothing shifts. */
	for (size_t i = (size_t)off; d && i < d->nkids; i++) {
		struct fuse_entry_param e;
		size_t need;

		if (!d->kids[i])
			continue;
		entry_of(&f->nodes[d->kids[i] - 1], &e);
		need = fuse_add_direntry_plus(req, buf + used, size - used,
					      f->nodes[d->kids[i] - 1].name, &e, (off_t)i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	pthread_mutex_unlock(&f->mu);
	if (d)
		fuse_reply_buf(req, buf, used);
	else
		fuse_reply_err(req, ENOENT);
	free(buf);
}

static void fl_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = fl_init,
	.lookup = fl_lookup,
	.getattr = fl_getattr,
	.setattr = fl_setattr,
	.mkdir = fl_mkdir,
	.symlink = fl_symlink,
	.create = fl_create,
	.readlink = fl_readlink,
	.unlink = fl_unlink,
	.rmdir = fl_rmdir,
	.open = fl_open,
	.read = fl_read,
	.write = fl_write,
	.flush = fl_ok,
	.release = fl_ok,
	.fsync = fl_fsync,
	.readdirplus = fl_readdirplus,
	.getxattr = fl_getxattr,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc = NULL;
	struct fuse_session *se = NULL;
	struct floor f = { .mu = PTHREAD_MUTEX_INITIALIZER };
	int rc = 1, fg = argc == 3 && strcmp(argv[2], "-f") == 0;
	char *mnt_abs = NULL;

	if (argc != 2 && !fg) {
		fprintf(stderr, "usage: fusefloor MNT [-f]\n");
		return 2;
	}
	mnt_abs = realpath(argv[1], NULL);
	f.hash = calloc(FLOOR_HASH, sizeof(*f.hash));
	f.nodes = calloc(1024, sizeof(*f.nodes));
	if (!f.hash || !f.nodes)
		goto out;
	f.cap = 1024;
	f.n = 1;                         /* the root, inode 1, has no name */
	f.nodes[0].st.st_ino = 1;
	f.nodes[0].st.st_mode = S_IFDIR | 0755;
	f.nodes[0].st.st_nlink = 2;
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "default_permissions,fsname=fusefloor,subtype=fusefloor"))
		goto out;
	se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), &f);
	if (!se || fuse_session_mount(se, argv[1]))
		goto out;
	{
		static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };
		if (fuse_session_custom_io(se, &io, fuse_session_fd(se)))
			goto out_unmount;
	}
	if (fuse_daemonize(fg))
		goto out_unmount;
	if (mnt_abs) {   /* an absolute path: daemonizing went to / */
		pthread_t th;
		if (pthread_create(&th, NULL, raise_readahead, mnt_abs) == 0)
			pthread_detach(th);
	}
	lc = fuse_loop_cfg_create();
	if (!lc)
		goto out_unmount;
	fuse_loop_cfg_set_max_threads(lc, 8);
	fuse_loop_cfg_set_idle_threads(lc, 4);
	rc = fuse_session_loop_mt(se, lc) ? 1 : 0;
out_unmount:
	fuse_session_unmount(se);
out:
	if (lc)
		fuse_loop_cfg_destroy(lc);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(f.hash);   /* not mnt_abs: the readahead thread may still hold it */
	return rc;
}
