/* meta: all metadata in one LMDB environment (see include/meta.h).
 *
 * Keys are big-endian so that cursor order is numeric order. Values that
 * hold integers are big-endian too, for one rule everywhere.
 *
 * Transactions: write transactions are serialised by LMDB's writer lock, so
 * once mdb_txn_begin() returns the caller owns the environment's single
 * write handle and no allocation is needed. Read transactions are kept in a
 * small pool of reset handles (mdb_txn_reset/renew): renewing one costs no
 * malloc and no search of the reader table.
 *
 * This file: environment, transactions, map growth, nodes,
 * directory entries. The other files of the module and what they share
 * are listed in src/meta_priv.h. */
#include "meta_priv.h"

#include <stddef.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* The map is reserved once, at its largest, and never resized while the
 * environment is open: without MDB_WRITEMAP (see meta_open) the map is
 * read-only address space over a file only as large as the pages in use,
 * so its size costs no disk. A map that is never replaced can never be read
 * while being replaced (a resize under load crashed in mdb_env_info). When
 * the address space is limited (ulimit -v) the map is halved until it fits. */
#define META_MAPSIZE_MAX (sizeof(size_t) >= 8 ? (size_t)1 << 40 : (size_t)1 << 30)
#define META_MAPSIZE_MIN ((size_t)64 << 20)
#define META_ADOPT_WAIT_S 2
/* A commit that fails with a short write (LMDB reports EIO) on a file
 * system with less than this left free ran out of space. */
#define META_FULL_MARGIN ((uint64_t)1 << 20)
/* Allocated beyond the pages in use of data.mdb (fallocate KEEP_SIZE), so
 * that metadata can still be written when content has filled the disk:
 * LMDB's new pages land there without asking the file system for space. */
#define META_RESERVE ((uint64_t)1 << 20)
#define META_MAXREADERS 256
#define META_MAXDBS 16
#define META_POOL_MAX 32          /* idle read handles kept per env */

static const char *const db_names[DB_COUNT] = {
	"nodes", "dirents", "cookies", "xattrs", "links", "orphans", "kv", "inline",
	"due", "dueino",
};

/* Length of a directory entry name, or -errno. */
static int name_len(const char *name, size_t *len)
{
	if (!name)
		return -EINVAL;
	*len = strnlen(name, META_NAME_MAX + 1);
	if (*len == 0)
		return -EINVAL;
	if (*len > META_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- record authentication ------------------------------------------- */

void meta_set_auth(meta_env *e, meta_auth_fn fn, void *arg, int strict)
{
	e->auth = fn;
	e->auth_arg = arg;
	e->strict = fn && strict;
	e->dg_seen_ok = e->ino_seen_ok = 0;
	auth_memo_clear(e->amemo);   /* another key: other MACs */
}

/* ---- environment ----------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *dir, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, dir, why);
}

static const char *open_reason(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "no such database";
	case -EBADMSG:
		return "corrupt or not an LMDB database";
	case -EBUSY:
	case -EAGAIN:
		return "database is locked";
	default:
		return strerror(-rc);
	}
}

static int open_dbis(meta_env *e)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(e->env, NULL, e->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return mdb_err(rc);
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], e->rdonly ? 0 : MDB_CREATE, &e->dbi[i]);
		if (rc == MDB_NOTFOUND && i >= DB_FIRST_OPTIONAL) {
			/* A store from before inline objects (or the autocommit
			 * index), opened read-only: it has none (0 is never a
			 * named database's handle). */
			e->dbi[i] = 0;
			rc = 0;
		}
		if (rc)
			break;
	}
	if (rc) {
		mdb_txn_abort(txn);
		/* A valid LMDB file without our sub-databases is not ours. */
		return rc == MDB_NOTFOUND ? -EBADMSG : mdb_err(rc);
	}
	return mdb_err(mdb_txn_commit(txn));
}

/* Create and open the LMDB environment with the largest map the address
 * space allows (see META_MAPSIZE_MAX). */
static int env_open(meta_env *e, const char *dir, unsigned eflags)
{
	size_t map = META_MAPSIZE_MAX;
	struct rlimit as;
	int rc;

	/* Under a limit, the largest map that fits would leave no room for
	 * the daemon's threads (libfuse then fails to start a worker and the
	 * mount ends): a quarter of the limit at most. */
	if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
		while (map > META_MAPSIZE_MIN && (uint64_t)map > (uint64_t)as.rlim_cur / 4)
			map /= 2;
	}

	for (;;) {
		rc = mdb_err(mdb_env_create(&e->env));
		if (rc)
			return rc;
		rc = mdb_err(mdb_env_set_mapsize(e->env, map));
		if (!rc)
			rc = mdb_err(mdb_env_set_maxreaders(e->env, META_MAXREADERS));
		if (!rc)
			rc = mdb_err(mdb_env_set_maxdbs(e->env, META_MAXDBS));
		if (!rc)
			rc = mdb_err(mdb_env_open(e->env, dir, eflags, 0600));
		if (rc != -ENOMEM || map / 2 < META_MAPSIZE_MIN)
			return rc;
		/* mmap refused the size: a failed open needs a fresh handle. */
		mdb_env_close(e->env);
		e->env = NULL;
		map /= 2;
	}
}

/* Everything meta_open made, closed and freed (no read handle pooled). */
static void env_free(meta_env *e)
{
	if (e->env)
		mdb_env_close(e->env);
	dg_memo_clear(e);
	auth_memo_free(e->amemo);
	pthread_mutex_destroy(&e->pool_mu);
	pthread_rwlock_destroy(&e->map_lk);
	free(e->dir);
	free(e);
}

int meta_open(const char *dir, int flags, meta_env **out, char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	meta_env *e = NULL;
	/* No MDB_WRITEMAP: under it LMDB writes through a shared mapping of a
	 * sparse file, and a full disk is a SIGBUS that kills the daemon. With
	 * pwrite at commit it is an error (ENOSPC) that aborts the commit and
	 * leaves the last committed state as it was. It costs a pwrite per run
	 * of dirty pages (README, Decisions, gives the measurement). With
	 * NOSYNC a process crash still loses nothing; meta_sync() fdatasyncs. */
	unsigned eflags = MDB_NOSYNC | MDB_NOTLS;
	int rc;

	*out = NULL;
	if (!dir || (flags & ~META_RDONLY))
		return -EINVAL;
	if (stat(dir, &st) != 0) {
		rc = -errno;
		set_err(err, errlen, "metadata directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "metadata directory %s: %s", dir, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	if (flags & META_RDONLY) {
		/* LMDB would create lock.mdb even read-only: look first. */
		if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		if (stat(path, &st) != 0) {
			rc = -errno;
			set_err(err, errlen, "metadata database %s: %s", dir, open_reason(rc));
			return rc;
		}
		if (st.st_size == 0) {
			/* An empty file is a new environment only when writable. */
			set_err(err, errlen, "metadata database %s: %s", dir, "empty data.mdb");
			return -EBADMSG;
		}
		eflags = MDB_RDONLY | MDB_NOTLS;
	}

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->rdonly = !!(flags & META_RDONLY);
	e->amemo = auth_memo_new();   /* NULL: every MAC is checked */
	pthread_mutex_init(&e->pool_mu, NULL);
	{
		/* Writer-preferring, so a resize is not starved by readers; a
		 * resize only ever waits with a timeout (nested read txns). */
		pthread_rwlockattr_t a;
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&e->map_lk, &a);
		pthread_rwlockattr_destroy(&a);
	}
	e->eflags = eflags;
	e->dir = strdup(dir);
	rc = e->dir ? env_open(e, dir, eflags) : -ENOMEM;
	if (!rc && !e->rdonly) {
		int dead = 0;
		mdb_reader_check(e->env, &dead);   /* slots of crashed processes */
	}
	if (!rc) {
		MDB_stat ms;
		rc = mdb_err(mdb_env_stat(e->env, &ms));
		e->psize = ms.ms_psize;
	}
	if (!rc)
		rc = open_dbis(e);
	if (!rc && mdb_env_get_maxkeysize(e->env) < META_KEY_MAX)
		rc = -EINVAL;  /* built with a smaller key limit than we rely on */
	if (rc) {
		set_err(err, errlen, "metadata database %s: %s", dir, open_reason(rc));
		env_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

/* Free the idle read handles (they belong to the current LMDB env). */
static void pool_drain(meta_env *e)
{
	pthread_mutex_lock(&e->pool_mu);
	while (e->pool) {
		struct meta_txn *t = e->pool;
		e->pool = t->next;
		mdb_txn_abort(t->txn);
		free(t);
	}
	e->pool_n = 0;
	pthread_mutex_unlock(&e->pool_mu);
}

void meta_close(meta_env *e)
{
	if (!e)
		return;
	if (!e->rdonly && e->env)
		mdb_env_sync(e->env, 1);
	pool_drain(e);
	env_free(e);
}

uint64_t meta_last_txnid(meta_env *e)
{
	MDB_envinfo info;
	uint64_t id = 0;

	pthread_rwlock_rdlock(&e->map_lk);
	if (e->env && !mdb_env_info(e->env, &info))
		id = (uint64_t)info.me_last_txnid;
	pthread_rwlock_unlock(&e->map_lk);
	return id;
}

uint64_t meta_txn_id(meta_txn *t)
{
	return (uint64_t)mdb_txn_id(t->txn);
}

int meta_sync(meta_env *e)
{
	int rc;

	if (e->rdonly)
		return 0;
	pthread_rwlock_rdlock(&e->map_lk);   /* map_adopt may reopen env */
	rc = e->env ? mdb_err(mdb_env_sync(e->env, 1)) : -ENOMEM;
	pthread_rwlock_unlock(&e->map_lk);
	return rc;
}

/* ---- transactions ---------------------------------------------------- */

static int map_lock_excl(meta_env *e)
{
	struct timespec dl;
	/* Monotonic: a system clock set back must not stretch the wait. */
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += META_ADOPT_WAIT_S;
	return pthread_rwlock_clockwrlock(&e->map_lk, CLOCK_MONOTONIC, &dl) == 0;
}

/* Another process grew the data past this process's map (only possible
 * when the address space limited it, see env_open): reopen the environment
 * with the largest map that fits now. Not mdb_env_set_mapsize: it unmaps
 * first and, when the larger map does not fit, leaves LMDB's pointers into
 * the unmapped range (a later transaction crashed). Holding map_lk
 * exclusively no transaction of ours is active; old is the env the caller
 * saw, so that a second caller does not reopen again. If nothing fits, env
 * stays NULL and every later transaction gets -ENOMEM. */
static void map_adopt(meta_env *e, MDB_env *old)
{
	int rc;

	if (!map_lock_excl(e))
		return;
	if (e->env == old && old) {
		pool_drain(e);
		mdb_env_close(old);
		e->env = NULL;
		rc = env_open(e, e->dir, e->eflags);
		if (!rc)
			rc = open_dbis(e);
		if (rc && e->env) {
			mdb_env_close(e->env);
			e->env = NULL;
		}
	}
	pthread_rwlock_unlock(&e->map_lk);
}

/* Keep META_RESERVE allocated past the pages in use; called holding the
 * writer lock. Returns 1 when the disk is full and less than half the
 * reserve is left: the transaction then adds nothing (room_to_add); 2 when
 * less than a quarter is left: no log records either (room_to_log). */
static int reserve_top_up(meta_env *e)
{
	MDB_envinfo info;
	uint64_t used;
	int fd;

	if (e->no_prealloc || mdb_env_info(e->env, &info) || mdb_env_get_fd(e->env, &fd))
		return 0;
	used = ((uint64_t)info.me_last_pgno + 1) * e->psize;
	if (e->prealloc_end >= used + META_RESERVE / 2)
		return 0;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)used, (off_t)META_RESERVE) == 0) {
		e->prealloc_end = used + META_RESERVE;
		return 0;
	}
	if (errno == ENOSPC || errno == EDQUOT) {
		struct stat st;
		/* Opened on a full disk: what an earlier run allocated past
		 * its pages is still there (KEEP_SIZE), and is the reserve. */
		if (fstat(fd, &st) == 0 && (uint64_t)st.st_blocks * 512 > e->prealloc_end)
			e->prealloc_end = (uint64_t)st.st_blocks * 512;
		if (e->prealloc_end >= used + META_RESERVE / 2)
			return 0;
		return e->prealloc_end < used + META_RESERVE / 4 ? 2 : 1;
	}
	e->no_prealloc = 1;   /* not supported here: no reserve, no refusals */
	return 0;
}

/* 1 when the map is nearly full: less than 1/32 of it is left, counting
 * the pages LMDB's free list holds for reuse. A transaction then adds
 * nothing (room_to_add), so that deletes, which need pages too (copy on
 * write), can always make room. 2 below 1/64: lock changes, which still
 * commit at 1, each log an audit record and a store head, so a caller
 * repeating one (extending a retention by a second) filled the rest and
 * deletes failed; from here those records are refused too (room_to_log).
 * Called holding the writer lock; the free list is walked only near the
 * end of the map. */
static int map_low(meta_env *e)
{
	MDB_envinfo info;
	MDB_cursor *c = NULL;
	MDB_txn *rt = NULL;
	MDB_val k, v;
	uint64_t left, room, freep = 0;

	if (mdb_env_info(e->env, &info))
		return 0;
	room = (uint64_t)info.me_mapsize / 32;
	left = (uint64_t)info.me_mapsize - ((uint64_t)info.me_last_pgno + 1) * e->psize;
	if (left >= room)
		return 0;
	/* The free list (database 0; LMDB opens cursors on it in read
	 * transactions only, and MDB_NOTLS allows one next to our write
	 * transaction): each value starts with its count of page numbers. */
	if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &rt))
		return left < room / 2 ? 2 : 1;
	if (mdb_cursor_open(rt, 0, &c)) {
		mdb_txn_abort(rt);
		return left < room / 2 ? 2 : 1;
	}
	while (!mdb_cursor_get(c, &k, &v, MDB_NEXT) && left + freep * e->psize < room)
		if (v.mv_size >= sizeof(size_t))
			freep += *(const size_t *)v.mv_data;
	mdb_cursor_close(c);
	mdb_txn_abort(rt);
	left += freep * e->psize;
	return left < room / 2 ? 2 : left < room;
}

static int read_begin(meta_env *e, meta_txn **out)
{
	struct meta_txn *t;
	int rc;

	/* Pooled handles belong to the env of the moment: take one only
	 * under map_lk (map_adopt may replace env). */
	pthread_rwlock_rdlock(&e->map_lk);
	if (!e->env) {
		pthread_rwlock_unlock(&e->map_lk);
		return -ENOMEM;
	}
	pthread_mutex_lock(&e->pool_mu);
	t = e->pool;
	if (t) {
		e->pool = t->next;
		e->pool_n--;
	}
	pthread_mutex_unlock(&e->pool_mu);
	if (t) {
		rc = mdb_txn_renew(t->txn);
		if (!rc) {
			t->active = 1;
			*out = t;
			return 0;
		}
		mdb_txn_abort(t->txn);   /* unusable handle: start afresh */
	} else {
		t = malloc(sizeof(*t));
		if (!t) {
			pthread_rwlock_unlock(&e->map_lk);
			return -ENOMEM;
		}
	}
	t->e = e;
	t->rdonly = 1;
	t->next = NULL;
	rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t->txn);
	/* MDB_PANIC: an I/O error on the meta page made LMDB refuse every
	 * transaction until the environment is opened again (the state on
	 * disk is the last commit): reopen, as for a larger map. */
	if (rc == MDB_MAP_RESIZED || rc == MDB_PANIC) {
		MDB_env *seen = e->env;
		pthread_rwlock_unlock(&e->map_lk);
		map_adopt(e, seen);
		pthread_rwlock_rdlock(&e->map_lk);
		rc = e->env ? mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t->txn) : ENOMEM;
	}
	if (rc) {
		pthread_rwlock_unlock(&e->map_lk);
		free(t);
		return mdb_err(rc);
	}
	t->active = 1;
	*out = t;
	return 0;
}

static void read_end(meta_txn *t)
{
	meta_env *e = t->e;

	if (!t->active)
		return;
	t->active = 0;
	mdb_txn_reset(t->txn);
	pthread_mutex_lock(&e->pool_mu);
	if (e->pool_n < META_POOL_MAX) {
		t->next = e->pool;
		e->pool = t;
		e->pool_n++;
		t = NULL;
	}
	pthread_mutex_unlock(&e->pool_mu);
	if (t)
		mdb_txn_abort(t->txn);
	pthread_rwlock_unlock(&e->map_lk);   /* after: the handle is env's */
	free(t);
}

int meta_txn_begin(meta_env *e, int rdonly, meta_txn **out)
{
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (rdonly)
		return read_begin(e, out);
	if (e->rdonly)
		return -EROFS;
	pthread_rwlock_rdlock(&e->map_lk);
	if (!e->env) {
		pthread_rwlock_unlock(&e->map_lk);
		return -ENOMEM;
	}
	rc = mdb_txn_begin(e->env, NULL, 0, &txn);   /* waits for the writer lock */
	if (rc == MDB_PANIC) {
		/* See read_begin. */
		MDB_env *seen = e->env;
		pthread_rwlock_unlock(&e->map_lk);
		map_adopt(e, seen);
		pthread_rwlock_rdlock(&e->map_lk);
		rc = e->env ? mdb_txn_begin(e->env, NULL, 0, &txn) : ENOMEM;
	}
	if (rc) {
		pthread_rwlock_unlock(&e->map_lk);
		return mdb_err(rc);
	}
	e->wtxn.txn = txn;
	e->wtxn.e = e;
	e->wtxn.rdonly = 0;
	e->wtxn.owner = pthread_self();
	int disk = reserve_top_up(e), map = map_low(e);
	e->wtxn.low = disk || map;
	e->wtxn.crit = disk == 2 || map == 2;
	e->wtxn.active = 1;
	meta_digest_txn_begin(&e->wtxn);
	*out = &e->wtxn;
	return 0;
}

int meta_txn_room_to_log(const meta_txn *t)
{
	return t && !t->rdonly && t->crit ? -ENOSPC : 0;
}

/* LMDB reports a short write at commit as EIO; a file system that is
 * (nearly) full says why. */
static int disk_full(meta_env *e)
{
	struct statvfs sv;
	int fd;

	if (mdb_env_get_fd(e->env, &fd) || fstatvfs(fd, &sv))
		return 0;
	return (uint64_t)sv.f_bfree * sv.f_frsize < META_FULL_MARGIN;
}

int meta_txn_commit(meta_txn *t)
{
	MDB_txn *txn;

	if (!t)
		return -EINVAL;
	if (t->rdonly) {
		read_end(t);
		return 0;
	}
	/* The write handle is shared: only its owner may end it, once. */
	if (!t->active || !pthread_equal(t->owner, pthread_self()))
		return -EINVAL;
	/* t is e->wtxn: once LMDB's writer lock is released at commit the
	 * next writer refills it, so nothing of t is read after that. */
	meta_env *e = t->e;
	txn = t->txn;
	/* The state digest goes with the records it covers, in this txn. */
	int lrc = meta_digest_txn_flush(t);
	t->active = 0;
	t->txn = NULL;
	if (lrc)
		mdb_txn_abort(txn);
	else
		lrc = mdb_txn_commit(txn);   /* frees txn even on failure */
	if (lrc == EIO && disk_full(e))
		lrc = ENOSPC;
	pthread_rwlock_unlock(&e->map_lk);
	return mdb_err(lrc);
}

void meta_txn_abort(meta_txn *t)
{
	MDB_txn *txn;

	if (!t)
		return;
	if (t->rdonly) {
		read_end(t);
		return;
	}
	if (!t->active || !pthread_equal(t->owner, pthread_self()))
		return;
	meta_env *e = t->e;   /* t is reused by the next writer once aborted */
	txn = t->txn;
	t->active = 0;
	t->txn = NULL;
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&e->map_lk);
}

/* ---- nodes ----------------------------------------------------------- */

/* Records written before autocommit_s existed (8 bytes shorter), and
 * before commit existed (16 bytes shorter): the fields up to there, then
 * the MAC. They read with the new fields 0 (and are written back whole). */
#define META_NODE_V1_0 (offsetof(struct meta_node, autocommit_s) + META_MAC_BYTES)
#define META_NODE_V1_1 (offsetof(struct meta_node, commit) + META_MAC_BYTES)

int meta_node_decode(const void *buf, size_t len, struct meta_node *out)
{
	_Static_assert(offsetof(struct meta_node, mac) == offsetof(struct meta_node, autocommit_s) +
		       8 + META_COMMIT_BYTES, "the new fields sit right before the MAC");
	_Static_assert(offsetof(struct meta_node, commit) == offsetof(struct meta_node, autocommit_s) +
		       8, "commit follows autocommit_s and spare");
	if (len == META_NODE_V1_0 || len == META_NODE_V1_1) {
		size_t head = len - META_MAC_BYTES;
		memset(out, 0, sizeof(*out));
		memcpy(out, buf, head);
		memcpy(out->mac, (const uint8_t *)buf + head, sizeof(out->mac));
	} else if (len == sizeof(*out)) {
		memcpy(out, buf, sizeof(*out));   /* LMDB data may be unaligned */
	} else {
		return -EBADMSG;
	}
	if (out->version < META_NODE_VERSION_OLDEST || out->version > META_NODE_VERSION)
		return -EBADMSG;
	return 0;
}

static int node_decode(const MDB_val *v, struct meta_node *out)
{
	return meta_node_decode(v->mv_data, v->mv_size, out);
}

int meta_node_get(meta_txn *t, uint64_t ino, struct meta_node *out)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	put_be64(kb, ino);
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_NODES), &k, &v));
	if (rc)
		return rc;
	rc = node_decode(&v, out);
	if (!rc && out->ino != ino)
		rc = -EBADMSG;
	return rc;
}

static int node_put(meta_txn *t, const struct meta_node *n, unsigned flags)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { sizeof(*n), (void *)n };

	if (!n || n->ino == 0 || n->version < META_NODE_VERSION_OLDEST ||
	    n->version > META_NODE_VERSION)
		return -EINVAL;
	put_be64(kb, n->ino);
	/* The version is kept as given: it says which fields the record's
	 * MAC covers (ns_record.c). Not MDB_RESERVE: the state digest hashes the
	 * value as it is put. */
	return mdb_err(dg_put(t, DB_NODES, &k, &v, flags));
}

int meta_node_put(meta_txn *t, const struct meta_node *n)
{
	return node_put(t, n, 0);
}

int meta_node_add(meta_txn *t, const struct meta_node *n)
{
	return node_put(t, n, MDB_NOOVERWRITE);
}

/* Delete every key of db starting with the 8-byte prefix id. */
static int prefix_delete(meta_txn *t, enum meta_db d, uint64_t id)
{
	uint8_t kb[8];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	put_be64(kb, id);
	rc = mdb_cursor_open(t->txn, dbi(t, d), &c);
	if (rc)
		return mdb_err(rc);
	for (;;) {
		/* Re-seek after each delete: robust and the sets are small. */
		k = (MDB_val){ 8, kb };
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (k.mv_size < 8 || memcmp(k.mv_data, kb, 8) != 0)
			break;
		rc = dg_cursor_del(t, d, c);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return mdb_err(rc);
}

/* The side tables: records under an inode number that live and die with
 * its node (xattrs keyed by ino | name, the others by ino alone). A
 * node's deletion drops them all, here and nowhere else. */
static const struct side_table {
	enum meta_db db;
	int prefixed;
} side_tables[] = {
	{ DB_XATTRS, 1 },
	{ DB_SYMLINKS, 0 },
	{ DB_INLINE_CONTENT, 0 },
};

static int side_tables_drop(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };
	int rc = 0;

	put_be64(kb, ino);
	for (size_t i = 0; !rc && i < sizeof(side_tables) / sizeof(side_tables[0]); i++) {
		enum meta_db d = side_tables[i].db;

		if (!dbi(t, d))
			continue;   /* an optional database this store lacks */
		if (side_tables[i].prefixed)
			rc = prefix_delete(t, d, ino);
		else
			rc = mdb_err(dg_del(t, d, &k));
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

int meta_node_del(meta_txn *t, uint64_t ino)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb };
	int rc;

	put_be64(kb, ino);
	rc = mdb_err(dg_del(t, DB_NODES, &k));
	if (rc)
		return rc;
	return side_tables_drop(t, ino);
}

int meta_node_foreach(meta_txn *t, meta_node_cb cb, void *arg)
{
	return meta_node_foreach_from(t, 0, cb, arg);
}

int meta_node_foreach_from(meta_txn *t, uint64_t from, meta_node_cb cb, void *arg)
{
	struct meta_node n;
	MDB_cursor *c = NULL;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	/* Keys are big-endian inode numbers: SET_RANGE lands on the first
	 * ino >= from, so a walk in batches resumes instead of restarting. */
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	put_be64(kb, from);
	rc = mdb_cursor_open(t->txn, dbi(t, DB_NODES), &c);
	if (rc)
		return mdb_err(rc);
	while ((rc = cursor_step(c, &k, &v, &op)) > 0) {
		rc = node_decode(&v, &n);
		if (rc)
			break;
		rc = cb(arg, &n);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}

int meta_node_count(meta_txn *t, uint64_t *count)
{
	MDB_stat st;
	int rc = mdb_err(mdb_stat(t->txn, dbi(t, DB_NODES), &st));

	if (!rc)
		*count = st.ms_entries;
	return rc;
}

/* ---- directory entries ----------------------------------------------- */

#define DIRENT_LEGACY 16
#define DIRENT_AUTH (16 + META_MAC_BYTES)

/* The MAC of the entry (parent, name) -> ino | cookie (vb: 16 bytes). */
static int dirent_mac(const meta_env *e, uint64_t parent, const char *name, size_t len,
		      const uint8_t *vb, uint8_t mac[META_MAC_BYTES])
{
	uint8_t a[24];

	put_be64(a, parent);
	memcpy(a + 8, vb, 16);
	return auth_mac(e, 'D', a, sizeof(a), name, len, mac);
}

/* Check a stored entry value: 0, -EIO (fails authentication, or a legacy
 * entry in an upgraded store), -EBADMSG (not an entry at all). */
static int dirent_check(const meta_env *e, uint64_t parent, const char *name, size_t len,
			const MDB_val *v)
{
	uint8_t msg[1 + 24 + META_NAME_MAX], mac[META_MAC_BYTES];

	if (v->mv_size == DIRENT_LEGACY && (!e->auth || !e->strict))
		return 0;
	if (v->mv_size != DIRENT_AUTH || !e->auth)
		return v->mv_size == DIRENT_LEGACY ? -EIO : -EBADMSG;
	if (len > META_NAME_MAX)
		return -EIO;
	msg[0] = 'D';
	put_be64(msg + 1, parent);
	memcpy(msg + 9, v->mv_data, 16);
	memcpy(msg + 25, name, len);
	memcpy(mac, (const uint8_t *)v->mv_data + 16, sizeof(mac));
	if (auth_memo_known(e->amemo, msg, 25 + len, mac))
		return 0;
	if (e->auth(e->auth_arg, msg, 25 + len, mac, 1))
		return -EIO;
	auth_memo_note(e->amemo, msg, 25 + len, mac);
	return 0;
}

/* Build the value of an entry in vb (DIRENT_AUTH bytes): its length. */
static int dirent_value(const meta_env *e, uint64_t parent, const char *name, size_t len,
			uint64_t ino, const uint8_t cookie_be[8], uint8_t *vb, size_t *vlen)
{
	put_be64(vb, ino);
	memcpy(vb + 8, cookie_be, 8);
	if (!e->auth) {
		*vlen = DIRENT_LEGACY;
		return 0;
	}
	*vlen = DIRENT_AUTH;
	int rc = dirent_mac(e, parent, name, len, vb, vb + 16);
	if (!rc && len <= META_NAME_MAX) {
		/* Right by construction: noted for the checks of its next reads. */
		uint8_t msg[1 + 24 + META_NAME_MAX];
		msg[0] = 'D';
		put_be64(msg + 1, parent);
		memcpy(msg + 9, vb, 16);
		memcpy(msg + 25, name, len);
		auth_memo_note(e->amemo, msg, 25 + len, vb + 16);
	}
	return rc;
}

/* Find the entry (parent, name): its key (built in kb) and its value
 * ino | cookie [| mac], authenticated. */
static int dirent_find(meta_txn *t, uint64_t parent, const char *name,
		       uint8_t kb[8 + META_NAME_MAX], MDB_val *k, MDB_val *v)
{
	size_t len;
	int rc = name_len(name, &len);

	if (rc)
		return rc;
	*k = prefixed_key(kb, parent, name, len);
	rc = mdb_err(mdb_get(t->txn, dbi(t, DB_DIRENTS), k, v));
	if (rc)
		return rc;
	return dirent_check(t->e, parent, name, len, v);
}

int meta_dirent_get(meta_txn *t, uint64_t parent, const char *name, uint64_t *ino)
{
	uint8_t kb[8 + META_NAME_MAX];
	MDB_val k, v;
	int rc = dirent_find(t, parent, name, kb, &k, &v);

	if (!rc)
		*ino = get_be64(v.mv_data);
	return rc;
}

int meta_dirent_add(meta_txn *t, uint64_t parent, const char *name, uint64_t ino)
{
	uint8_t kb[8 + META_NAME_MAX], vb[DIRENT_AUTH], cb[16], cbe[8];
	struct meta_node p;
	uint64_t cookie;
	MDB_val k, v, ck, cv;
	size_t len, vlen;
	int rc = name_len(name, &len);

	if (rc)
		return rc;
	rc = meta_node_get(t, parent, &p);
	if (rc)
		return rc;
	rc = room_to_add(t);
	if (rc)
		return rc;
	cookie = p.next_cookie < META_FIRST_COOKIE ? META_FIRST_COOKIE : p.next_cookie;
	if (cookie == UINT64_MAX)
		return -ENOSPC;
	k = prefixed_key(kb, parent, name, len);
	put_be64(cbe, cookie);
	rc = dirent_value(t->e, parent, name, len, ino, cbe, vb, &vlen);
	if (rc)
		return rc;
	v = (MDB_val){ vlen, vb };
	rc = mdb_err(dg_put(t, DB_DIRENTS, &k, &v, MDB_NOOVERWRITE));
	if (rc)
		return rc;
	put_be64(cb, parent);
	put_be64(cb + 8, cookie);
	ck = (MDB_val){ 16, cb };
	cv = (MDB_val){ len, (void *)name };
	rc = mdb_err(dg_put(t, DB_COOKIES, &ck, &cv, MDB_NOOVERWRITE));
	if (rc)
		return rc == -EEXIST ? -EBADMSG : rc;   /* counter behind the index */
	p.next_cookie = cookie + 1;
	return meta_node_put(t, &p);
}

int meta_dirent_del(meta_txn *t, uint64_t parent, const char *name)
{
	uint8_t kb[8 + META_NAME_MAX], cb[16];
	MDB_cursor *c = NULL;
	MDB_val k, v, ck;
	size_t len;
	int rc = name_len(name, &len);

	if (rc)
		return rc;
	k = prefixed_key(kb, parent, name, len);
	/* Found once: the cursor then deletes what was checked. */
	rc = mdb_err(dg_find(t, DB_DIRENTS, &k, &v, &c));
	if (rc)
		return rc;
	rc = dirent_check(t->e, parent, name, len, &v);
	if (rc)
		return rc;
	put_be64(cb, parent);
	memcpy(cb + 8, (uint8_t *)v.mv_data + 8, 8);   /* cookie, already BE */
	ck = (MDB_val){ 16, cb };
	rc = mdb_err(dg_cursor_del(t, DB_DIRENTS, c));
	if (rc)
		return rc;
	rc = mdb_err(dg_del(t, DB_COOKIES, &ck));
	return rc == -ENOENT ? 0 : rc;
}

int meta_dirent_set(meta_txn *t, uint64_t parent, const char *name, uint64_t ino)
{
	uint8_t kb[8 + META_NAME_MAX], vb[DIRENT_AUTH], cbe[8];
	MDB_val k, v;
	size_t vlen;
	int rc = dirent_find(t, parent, name, kb, &k, &v);

	if (rc)
		return rc;
	memcpy(cbe, (uint8_t *)v.mv_data + 8, 8);   /* keep the cookie */
	rc = dirent_value(t->e, parent, name, k.mv_size - 8, ino, cbe, vb, &vlen);
	if (rc)
		return rc;
	v = (MDB_val){ vlen, vb };
	return mdb_err(dg_put(t, DB_DIRENTS, &k, &v, 0));
}

int meta_dir_is_empty(meta_txn *t, uint64_t parent)
{
	uint8_t kb[8];
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;

	put_be64(kb, parent);
	rc = mdb_cursor_open(t->txn, dbi(t, DB_DIRENTS), &c);
	if (rc)
		return mdb_err(rc);
	rc = seek_prefix(c, kb, 8, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(c);
	return rc < 0 ? rc : !rc;
}

int meta_readdir(meta_txn *t, uint64_t parent, uint64_t after, meta_dirent_cb cb, void *arg)
{
	uint8_t start[16], db[8 + META_NAME_MAX];
	char name[META_NAME_MAX + 1];
	MDB_cursor *c = NULL;
	MDB_val k, v, dk, dv;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	if (after == UINT64_MAX)
		return 0;
	put_be64(start, parent);
	put_be64(start + 8, after + 1);
	rc = mdb_cursor_open(t->txn, dbi(t, DB_COOKIES), &c);
	if (rc)
		return mdb_err(rc);
	/* Seek once, then walk: cost is O(log n + entries returned). */
	for (;; op = MDB_NEXT) {
		uint64_t cookie;
		rc = seek_prefix(c, start, 16, &k, &v, op);
		if (rc <= 0)
			break;
		if (k.mv_size != 16 || v.mv_size == 0 || v.mv_size > META_NAME_MAX) {
			rc = -EBADMSG;
			break;
		}
		cookie = get_be64((uint8_t *)k.mv_data + 8);
		memcpy(name, v.mv_data, v.mv_size);
		name[v.mv_size] = '\0';
		dk = prefixed_key(db, parent, name, v.mv_size);
		rc = mdb_get(t->txn, dbi(t, DB_DIRENTS), &dk, &dv);
		if (rc == MDB_NOTFOUND)
			continue;     /* stale index entry: the name is gone */
		if (rc) {
			rc = mdb_err(rc);
			break;
		}
		if (dv.mv_size < 16) {
			rc = -EBADMSG;
			break;
		}
		/* Authenticated before anything of it is believed, the cookie
		 * too: a value moved here from another name must not pass as a
		 * stale index entry and hide in silence. */
		uint64_t child = get_be64(dv.mv_data);
		rc = dirent_check(t->e, parent, name, v.mv_size, &dv);
		if (rc == -EBADMSG)
			break;
		if (rc)
			child = META_INO_FORGED;
		else if (get_be64((uint8_t *)dv.mv_data + 8) != cookie)
			continue;     /* stale: the name was re-added later */
		rc = 0;
		if (cb(arg, name, child, cookie)) {
			rc = 0;       /* caller's buffer is full: not an error */
			break;
		}
	}
	mdb_cursor_close(c);
	return rc < 0 ? rc : 0;
}

int meta_dirent_unlisted(meta_txn *t, meta_unlisted_cb cb, void *arg)
{
	char name[META_NAME_MAX + 1];
	uint8_t ckb[16];
	MDB_cursor *c = NULL;
	MDB_val k, v, ck, cv;
	MDB_cursor_op op = MDB_FIRST;
	int rc = mdb_cursor_open(t->txn, dbi(t, DB_DIRENTS), &c);

	if (rc)
		return mdb_err(rc);
	while ((rc = cursor_step(c, &k, &v, &op)) > 0) {
		if (k.mv_size <= 8 || k.mv_size > 8 + META_NAME_MAX || v.mv_size < 16)
			continue;     /* malformed: the walk reports those */
		memcpy(ckb, k.mv_data, 8);
		memcpy(ckb + 8, (const uint8_t *)v.mv_data + 8, 8);
		ck = (MDB_val){ 16, ckb };
		rc = mdb_get(t->txn, dbi(t, DB_COOKIES), &ck, &cv);
		if (rc && rc != MDB_NOTFOUND) {
			rc = mdb_err(rc);
			break;
		}
		if (!rc && cv.mv_size == k.mv_size - 8 &&
		    !memcmp(cv.mv_data, (const uint8_t *)k.mv_data + 8, cv.mv_size))
			continue;
		memcpy(name, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		name[k.mv_size - 8] = '\0';
		rc = cb(arg, get_be64(k.mv_data), name);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc;
}
