/* faultshim: an LD_PRELOAD library for the fault-injection tests. It makes
 * I/O calls on files whose path contains a chosen string fail (or write
 * short), as a failing disk would.
 *
 * Build: cc -shared -fPIC -O2 -o faultshim.so faultshim.c -ldl
 * Control: WORMFS_FAULT_CTL names a file the test (re)writes at run time;
 * the shim rereads it when its mtime or inode changes and then restarts
 * its counters. One "key=value" per line:
 *   match=STR      only paths containing STR (e.g. /store/objects/)
 *   exclude=STR    but not paths containing STR (e.g. ".u", the journals)
 *   ops=a,b,...    pwrite write pread fsync fdatasync ftruncate fallocate
 *                  (pwrite covers pwrite64/pwritev, write covers writev,
 *                  pread covers pread64/preadv)
 *   err=EIO        errno of a failure (EIO, ENOSPC, EDQUOT)
 *   short=1        a failing write first writes half of its bytes and
 *                  reports that count; the call after it gets err
 *   short=2        a failing write only writes short (no error after it)
 *   skip=N         let the first N matching calls through
 *   count=N        inject at most N faults (default unlimited)
 *   prob=P         each eligible call faults with probability P percent
 *   seed=S         for prob
 * An empty or missing file injects nothing. WORMFS_FAULT_LOG, when set,
 * names a file that gets one line per injected fault: "op errno path". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum op { OP_PWRITE, OP_WRITE, OP_PREAD, OP_FSYNC, OP_FDATASYNC, OP_FTRUNCATE, OP_FALLOCATE, OP_N };
static const char *const op_names[OP_N] = {
	"pwrite", "write", "pread", "fsync", "fdatasync", "ftruncate", "fallocate",
};

/* Test-only library: its state is process-wide by nature. */
static struct {
	pthread_mutex_t mu;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	int loaded;
	char match[PATH_MAX];
	char exclude[PATH_MAX];
	unsigned ops;
	int err;
	int shortw;
	long skip, count, prob;
	unsigned seed;
	long seen, injected;
	int pending_err;        /* after a short write: the next write fails */
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

static __thread int in_shim;   /* our own reads of the control file */

static void reload_locked(void)
{
	const char *ctl = getenv("WORMFS_FAULT_CTL");
	struct stat s;
	char line[PATH_MAX + 32];
	FILE *f;

	if (!ctl || stat(ctl, &s) != 0) {
		st.ops = 0;
		st.loaded = 0;
		return;
	}
	if (st.loaded && s.st_dev == st.dev && s.st_ino == st.ino &&
	    s.st_mtim.tv_sec == st.mtime.tv_sec && s.st_mtim.tv_nsec == st.mtime.tv_nsec)
		return;
	st.loaded = 1;
	st.dev = s.st_dev;
	st.ino = s.st_ino;
	st.mtime = s.st_mtim;
	st.match[0] = 0;
	st.exclude[0] = 0;
	st.ops = 0;
	st.err = EIO;
	st.shortw = 0;
	st.skip = 0;
	st.count = -1;
	st.prob = 100;
	st.seed = 1;
	st.seen = st.injected = 0;
	st.pending_err = 0;
	f = fopen(ctl, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = 0;
		v[strcspn(v, "\n")] = 0;
		if (!strcmp(line, "match")) {
			snprintf(st.match, sizeof(st.match), "%s", v);
		} else if (!strcmp(line, "exclude")) {
			snprintf(st.exclude, sizeof(st.exclude), "%s", v);
		} else if (!strcmp(line, "ops")) {
			for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ","))
				for (int i = 0; i < OP_N; i++)
					if (!strcmp(tok, op_names[i]))
						st.ops |= 1u << i;
		} else if (!strcmp(line, "err")) {
			st.err = !strcmp(v, "ENOSPC") ? ENOSPC : !strcmp(v, "EDQUOT") ? EDQUOT : EIO;
		} else if (!strcmp(line, "short")) {
			st.shortw = atoi(v);
		} else if (!strcmp(line, "skip")) {
			st.skip = atol(v);
		} else if (!strcmp(line, "count")) {
			st.count = atol(v);
		} else if (!strcmp(line, "prob")) {
			st.prob = atol(v);
		} else if (!strcmp(line, "seed")) {
			st.seed = (unsigned)strtoul(v, NULL, 10);
		}
	}
	fclose(f);
}

static void log_fault(const char *op, int err, const char *path)
{
	const char *lp = getenv("WORMFS_FAULT_LOG");
	static ssize_t (*real_write)(int, const void *, size_t);
	char line[PATH_MAX + 64];
	int fd, n;

	if (!lp)
		return;
	if (!real_write)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	n = snprintf(line, sizeof(line), "%s %s %s\n", op, err ? strerrorname_np(err) : "SHORT", path);
	fd = open(lp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (n > 0 && real_write)
			(void)real_write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		close(fd);
	}
}

/* What to do with a call of op on fd: 0 = pass, 1 = fail with errno,
 * 2 = short write. */
static int decide(enum op op, int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	int act = 0;

	if (in_shim)
		return 0;
	in_shim = 1;
	pthread_mutex_lock(&st.mu);
	reload_locked();
	if (!(st.ops & (1u << op)))
		goto out;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		goto out;
	path[n] = 0;
	if ((st.match[0] && !strstr(path, st.match)) || (st.exclude[0] && strstr(path, st.exclude)))
		goto out;
	if (st.pending_err && (op == OP_PWRITE || op == OP_WRITE)) {
		st.pending_err = 0;
		act = 1;
		goto hit;
	}
	if (st.count == 0 || (st.count > 0 && st.injected >= st.count))
		goto out;
	if (st.seen++ < st.skip)
		goto out;
	if (st.prob < 100 && (long)(rand_r(&st.seed) % 100) >= st.prob)
		goto out;
	act = 1;
	if (st.shortw && (op == OP_PWRITE || op == OP_WRITE)) {
		act = 2;
		st.pending_err = st.shortw == 1;
	}
	st.injected++;
hit:
	log_fault(op_names[op], act == 1 ? st.err : 0, path);
out:
	pthread_mutex_unlock(&st.mu);
	in_shim = 0;
	return act;
}

#define REAL(name) \
	static __typeof__(name) *real_##name; \
	if (!real_##name) \
		real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite);
	int act = decide(OP_PWRITE, fd);
	if (act == 1) {
		errno = st.err;
		return -1;
	}
	if (act == 2 && n > 1)
		n /= 2;
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev);
	int act = decide(OP_PWRITE, fd);
	if (act == 1 || (act == 2 && cnt > 0)) {
		/* A short vector write: the first buffer only (half of it). */
		if (act == 2)
			return pwrite(fd, iov[0].iov_base, iov[0].iov_len > 1 ? iov[0].iov_len / 2 : 1, off);
		errno = st.err;
		return -1;
	}
	return real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev(fd, iov, cnt, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write);
	int act = decide(OP_WRITE, fd);
	if (act == 1) {
		errno = st.err;
		return -1;
	}
	if (act == 2 && n > 1)
		n /= 2;
	return real_write(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev);
	int act = decide(OP_WRITE, fd);
	if (act == 1) {
		errno = st.err;
		return -1;
	}
	if (act == 2 && cnt > 1)
		cnt = 1;
	return real_writev(fd, iov, cnt);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	REAL(pread);
	if (decide(OP_PREAD, fd)) {
		errno = st.err;
		return -1;
	}
	return real_pread(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(preadv);
	if (decide(OP_PREAD, fd)) {
		errno = st.err;
		return -1;
	}
	return real_preadv(fd, iov, cnt, off);
}

int fsync(int fd)
{
	REAL(fsync);
	if (decide(OP_FSYNC, fd)) {
		errno = st.err;
		return -1;
	}
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	if (decide(OP_FDATASYNC, fd)) {
		errno = st.err;
		return -1;
	}
	return real_fdatasync(fd);
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	if (decide(OP_FTRUNCATE, fd)) {
		errno = st.err;
		return -1;
	}
	return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	REAL(fallocate);
	if (decide(OP_FALLOCATE, fd)) {
		errno = st.err;
		return -1;
	}
	return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}
