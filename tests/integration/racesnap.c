/* racesnap: lock-decision races through a mounted wormfs, checked against a
 * snapshot taken the moment a lock was acknowledged (test_rv_race.sh).
 * Prints "key=value" counters on one line and exits 0 (a broken invariant
 * is a counter the test asserts on; 2 is a usage error).
 *
 *   racesnap appendcut FILE ITER THREADS
 *       FILE (a mutable object of some KiB, no other handle open) gets
 *       user.worm.append-only ON, ITER times, while THREADS threads
 *       truncate(2) it by path to changing sizes. Between each ON and the
 *       OFF that follows, the object's size and content must stay what
 *       they were right after the ON was acknowledged: a truncate that
 *       passed its check before the ON and cut the content after it is a
 *       "violation".
 *   racesnap snap DIR N THREADS
 *       N objects in DIR; per object, THREADS mutators (writes through a
 *       new descriptor, truncate(2), ftruncate, fallocate, O_TRUNC opens,
 *       renames away and back, a replace by rename of another object over
 *       it, chmod, user xattrs, utimens) while the main thread sets a
 *       COMPLIANCE retention (even objects) or a legal hold (odd ones),
 *       retrying while writers are open. The object's inode, mode, owner,
 *       size, mtime, content hash and name are recorded right after the
 *       lock was acknowledged; the mutators go on for a while; any
 *       difference at the end is a "violation".
 *   racesnap openunlink FILE SIZE CYCLES
 *       One thread creates FILE (SIZE bytes), closes and unlinks it, CYCLES
 *       times, while three threads open and read it. An open or a read
 *       racing the unlink may find the name gone (ENOENT), or the object
 *       whole: "eio" counts EIO (an object reported damaged that is not),
 *       "short" reads of fewer than SIZE bytes of a file opened whole.
 *   racesnap setidcut FILE ITER
 *       Run as root. FILE is owned by a user (its uid) and is set-user-ID;
 *       a child with that uid (no CAP_FSETID) truncates it by path to a
 *       size new each time, while the parent sets a COMPLIANCE retention
 *       at a random moment. A truncate that answers EPERM although the
 *       object now has the size it asked for (the cut was made, the
 *       refusal came after) is "refused_but_done"; a truncate that
 *       answers 0 although the size differs is "done_but_lost".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: racesnap appendcut FILE ITER THREADS | snap DIR N THREADS | "
		"openunlink FILE SIZE CYCLES | setidcut FILE ITER\n");
	return 2;
}

static long num(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (*e || v < 0) {
		fprintf(stderr, "racesnap: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int fill(const char *path, size_t len, unsigned char seed, mode_t mode)
{
	unsigned char *b = malloc(len ? len : 1);
	int fd, rc = -1;

	if (!b)
		return -1;
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seed + i * 7);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd >= 0 && write(fd, b, len) == (ssize_t)len)
		rc = 0;
	if (fd >= 0 && close(fd))
		rc = -1;
	free(b);
	return rc;
}

/* ---- appendcut: truncate(2) racing append-only ON ---------------------- */

struct cut_arg {
	const char *path;
	off_t base;
	int id;
	atomic_int *stop;
	long done, refused;
};

static void *cutter(void *p)
{
	struct cut_arg *a = p;
	uint64_t s = 0xC0FFEEull + (uint64_t)a->id;

	while (!atomic_load(a->stop)) {
		off_t sz = a->base + (off_t)(rnd(&s) % (uint64_t)a->base);
		if (truncate(a->path, sz) == 0)
			a->done++;
		else
			a->refused++;
	}
	return NULL;
}

static int set_append(const char *path, int on)
{
	for (int k = 0; k < 20000; k++) {
		if (!setxattr(path, "user.worm.append-only", on ? "ON" : "OFF", on ? 2 : 3, 0))
			return 0;
		if (errno != EBUSY)
			return -errno;
		usleep(100);
	}
	return -EBUSY;
}

/* Size and a hash of the first 64 KiB: a cut shows in the size. */
static int size_hash(const char *path, off_t *size, uint64_t *h)
{
	unsigned char buf[65536];
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t k;

	*h = 0xcbf29ce484222325ull;
	if (fd < 0)
		return errno;
	if (fstat(fd, &st)) {
		close(fd);
		return errno;
	}
	*size = st.st_size;
	k = pread(fd, buf, sizeof(buf), 0);
	for (ssize_t i = 0; i < k; i++) {
		*h ^= buf[i];
		*h *= 0x100000001b3ull;
	}
	close(fd);
	return k < 0 ? errno : 0;
}

static int cmd_appendcut(const char *path, long iter, long threads)
{
	struct stat st0;

	if (stat(path, &st0) || st0.st_size < 2)
		return usage();
	atomic_int stop = 0;
	struct cut_arg a[16];
	pthread_t th[16];
	long violations = 0, rounds = 0, done = 0, refused = 0, errs = 0;
	char last[200] = "";

	if (threads < 1 || threads > 16)
		return usage();
	for (long t = 0; t < threads; t++) {
		a[t] = (struct cut_arg){ path, st0.st_size / 2, (int)t, &stop, 0, 0 };
		pthread_create(&th[t], NULL, cutter, &a[t]);
	}
	for (long i = 0; i < iter; i++) {
		off_t l1 = 0, l2 = 0;
		uint64_t h1, h2;
		int e1, e2, rc;

		usleep((useconds_t)(i % 5) * 150);
		rc = set_append(path, 1);
		if (rc) {
			errs++;
			snprintf(last, sizeof(last), "ON: %s", strerror(-rc));
			continue;
		}
		e1 = size_hash(path, &l1, &h1);
		usleep(2000);
		e2 = size_hash(path, &l2, &h2);
		rounds++;
		if (e1 || e2 || l1 != l2 || h1 != h2) {
			violations++;
			snprintf(last, sizeof(last), "round %ld: size %lld then %lld while append-only ON",
				 i, (long long)l1, (long long)l2);
		}
		rc = set_append(path, 0);
		if (rc) {
			errs++;
			snprintf(last, sizeof(last), "OFF: %s", strerror(-rc));
			break;
		}
		usleep((useconds_t)(i % 3) * 300);   /* truncates flow again */
	}
	atomic_store(&stop, 1);
	for (long t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		done += a[t].done;
		refused += a[t].refused;
	}
	printf("rounds=%ld truncates=%ld refused=%ld errors=%ld violations=%ld", rounds, done,
	       refused, errs, violations);
	if (last[0])
		printf(" last=\"%s\"", last);
	printf("\n");
	return 0;
}

/* ---- snap: every change path against a lock, snapshot at the ack ------- */

struct snap {
	ino_t ino;
	mode_t mode;
	uid_t uid;
	off_t size;
	struct timespec mtime;
	uint64_t hash, len;
	int err;
};

/* Content hash through a descriptor (pread from 0). */
static uint64_t fd_hash(int fd, uint64_t *len, int *err)
{
	uint64_t h = 0xcbf29ce484222325ull, n = 0;
	unsigned char buf[65536];
	ssize_t k;

	*err = 0;
	while ((k = pread(fd, buf, sizeof(buf), (off_t)n)) > 0) {
		for (ssize_t i = 0; i < k; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ull;
		}
		n += (uint64_t)k;
	}
	if (k < 0)
		*err = errno;
	*len = n;
	return h;
}

static int take_snap(int fd, struct snap *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st))
		return s->err = errno;
	s->ino = st.st_ino;
	s->mode = st.st_mode;
	s->uid = st.st_uid;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
	s->hash = fd_hash(fd, &s->len, &s->err);
	return s->err;
}

static int snap_eq(const struct snap *a, const struct snap *b, char *why, size_t len)
{
	if (a->err || b->err)
		snprintf(why, len, "errors %d/%d", a->err, b->err);
	else if (a->ino != b->ino)
		snprintf(why, len, "inode %lu became %lu", (unsigned long)a->ino,
			 (unsigned long)b->ino);
	else if (a->mode != b->mode)
		snprintf(why, len, "mode %o became %o", a->mode, b->mode);
	else if (a->uid != b->uid)
		snprintf(why, len, "owner changed");
	else if (a->size != b->size || a->len != b->len)
		snprintf(why, len, "size %lld became %lld", (long long)a->size, (long long)b->size);
	else if (a->hash != b->hash)
		snprintf(why, len, "content changed");
	else if (a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec)
		snprintf(why, len, "mtime changed");
	else
		return 1;
	return 0;
}

struct mut_arg {
	const char *path, *dir;
	int id;
	atomic_int *acked, *stop;
	long ops, after;
};

static void *mutator(void *p)
{
	struct mut_arg *a = p;
	uint64_t s = 0x5EED0000ull + (uint64_t)a->id * 7919;
	char tmp[600], other[600], buf[8192];

	snprintf(tmp, sizeof(tmp), "%s.t%d", a->path, a->id);
	snprintf(other, sizeof(other), "%s.o%d", a->path, a->id);
	memset(buf, 'A' + a->id, sizeof(buf));
	while (!atomic_load(a->stop)) {
		int op = (int)(rnd(&s) % 11), fd;
		off_t off = (off_t)(rnd(&s) % 40000);
		if (atomic_load(a->acked) && ++a->after > 40)
			break;
		a->ops++;
		switch (op) {
		case 0:   /* overwrite through a new descriptor */
			fd = open(a->path, O_WRONLY);
			if (fd >= 0) {
				(void)!pwrite(fd, buf, 1 + rnd(&s) % sizeof(buf), off);
				close(fd);
			}
			break;
		case 1:   /* append */
			fd = open(a->path, O_WRONLY | O_APPEND);
			if (fd >= 0) {
				(void)!write(fd, buf, 100);
				close(fd);
			}
			break;
		case 2:
			(void)!truncate(a->path, off);
			break;
		case 3:
			fd = open(a->path, O_RDWR);
			if (fd >= 0) {
				(void)!ftruncate(fd, off);
				close(fd);
			}
			break;
		case 4:
			fd = open(a->path, O_RDWR);
			if (fd >= 0) {
				(void)!fallocate(fd, 0, 0, off + 70000);
				close(fd);
			}
			break;
		case 5:
			fd = open(a->path, O_WRONLY | O_TRUNC);
			if (fd >= 0) {
				(void)!write(fd, buf, 10);
				close(fd);
			}
			break;
		case 6:
			if (!rename(a->path, tmp))
				(void)!rename(tmp, a->path);
			break;
		case 7:   /* replace: another object renamed over the name */
			if (!fill(other, 3000, (unsigned char)a->id, 0644))
				(void)!rename(other, a->path);
			unlink(other);
			break;
		case 8:
			(void)!chmod(a->path, rnd(&s) % 2 ? 0600 : 0644);
			break;
		case 9:
			(void)!setxattr(a->path, "user.note", buf, 1 + rnd(&s) % 64, 0);
			break;
		case 10: {
			struct timespec tv[2] = { { 1000, 0 }, { (time_t)(rnd(&s) % 100000), 0 } };
			(void)!utimensat(AT_FDCWD, a->path, tv, 0);
			break;
		}
		}
	}
	return NULL;
}

static int cmd_snap(const char *dir, long n, long threads)
{
	long locked = 0, violations = 0, unlocked = 0;
	char last[800] = "";

	if (threads < 1 || threads > 16)
		return usage();
	for (long i = 0; i < n; i++) {
		char path[512], why[200];
		atomic_int acked = 0, stop = 0;
		struct mut_arg a[16];
		pthread_t th[16];
		struct snap s1, s2;
		int got = 0;

		snprintf(path, sizeof(path), "%s/s%ld", dir, i);
		if (fill(path, 30000, (unsigned char)i, 0644))
			continue;
		for (long t = 0; t < threads; t++) {
			a[t] = (struct mut_arg){ path, dir, (int)t, &acked, &stop, 0, 0 };
			pthread_create(&th[t], NULL, mutator, &a[t]);
		}
		usleep((useconds_t)(i % 7) * 400);
		/* Locked through a descriptor: the inode the lock is on, whatever
		 * a rename does to the name meanwhile. */
		int fd = open(path, O_RDONLY);
		for (int k = 0; k < 4000 && !got && fd >= 0; k++) {
			int rc = i % 2 ? fsetxattr(fd, "user.worm.legal-hold", "ON", 2, 0)
				       : fsetxattr(fd, "user.worm.retention", "COMPLIANCE +1d", 14, 0);
			if (!rc) {
				got = 1;
				break;
			}
			if (errno == ENOENT) {   /* replaced meanwhile: the new one */
				close(fd);
				fd = open(path, O_RDONLY);
				continue;
			}
			if (errno != EBUSY)
				break;
			usleep(100);
		}
		struct stat nm;
		int named = 0;
		if (got) {
			take_snap(fd, &s1);
			named = !stat(path, &nm) && nm.st_ino == s1.ino;
			atomic_store(&acked, 1);
			locked++;
		} else {
			atomic_store(&stop, 1);
			unlocked++;
		}
		for (long t = 0; t < threads; t++)
			pthread_join(th[t], NULL);
		if (got) {
			take_snap(fd, &s2);
			if (!snap_eq(&s1, &s2, why, sizeof(why)))
				;
			else if (named && (stat(path, &nm) || nm.st_ino != s1.ino))
				snprintf(why, sizeof(why), "its name was taken");
			else
				why[0] = '\0';
			if (why[0]) {
				violations++;
				snprintf(last, sizeof(last), "%s: %s", path, why);
				fprintf(stderr, "racesnap snap %s: %s after the lock\n", path, why);
			}
		}
		if (fd >= 0)
			close(fd);
	}
	printf("locked=%ld unlocked=%ld violations=%ld", locked, unlocked, violations);
	if (last[0])
		printf(" last=\"%s\"", last);
	printf("\n");
	return 0;
}

/* ---- setidcut: truncate(2) of a set-user-ID object racing a lock ------- */

static int cmd_setidcut(const char *path, long iter)
{
	long refused_but_done = 0, done_but_lost = 0, rounds = 0, locked = 0;
	char last[800] = "";
	struct stat st;
	uint64_t s = 0xABCDEFull;

	if (stat(path, &st))
		return usage();
	uid_t uid = st.st_uid;
	for (long i = 0; i < iter; i++) {
		char p[600];
		int pfd[2];
		snprintf(p, sizeof(p), "%s.%ld", path, i);
		if (fill(p, 20000, (unsigned char)i, 0755) || chown(p, uid, uid) || chmod(p, 04755))
			break;
		if (pipe(pfd))
			break;
		pid_t pid = fork();
		if (pid == 0) {
			/* The user: no CAP_FSETID, so a truncate clears S_ISUID. */
			long bad1 = 0, bad2 = 0;
			close(pfd[0]);
			if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
				_exit(3);
			for (off_t sz = 19999; sz > 19000; sz--) {
				int rc = truncate(p, sz) ? errno : 0;
				struct stat now;
				if (stat(p, &now))
					break;
				if (rc == EPERM && now.st_size == sz)
					bad1++;
				if (rc == 0 && now.st_size != sz)
					bad2++;
				if (rc == EPERM)
					break;
				/* the bit back for the next cut (a chmod: refused once locked) */
				if (chmod(p, 04755))
					break;
			}
			char msg[64];
			int k = snprintf(msg, sizeof(msg), "%ld %ld\n", bad1, bad2);
			(void)!write(pfd[1], msg, (size_t)k);
			_exit(0);
		}
		close(pfd[1]);
		usleep((useconds_t)(rnd(&s) % 3000));
		for (int k = 0; k < 2000; k++) {
			if (!setxattr(p, "user.worm.retention", "COMPLIANCE +1d", 14, 0)) {
				locked++;
				break;
			}
			if (errno != EBUSY)
				break;
			usleep(50);
		}
		char msg[64] = "";
		ssize_t k = read(pfd[0], msg, sizeof(msg) - 1);
		close(pfd[0]);
		waitpid(pid, NULL, 0);
		long b1 = 0, b2 = 0;
		if (k > 0) {
			msg[k] = '\0';
			sscanf(msg, "%ld %ld", &b1, &b2);
		}
		rounds++;
		refused_but_done += b1;
		done_but_lost += b2;
		if (b1 || b2)
			snprintf(last, sizeof(last), "%s: %ld refused but done, %ld done but lost", p,
				 b1, b2);
	}
	printf("rounds=%ld locked=%ld refused_but_done=%ld done_but_lost=%ld", rounds, locked,
	       refused_but_done, done_but_lost);
	if (last[0])
		printf(" last=\"%s\"", last);
	printf("\n");
	return 0;
}

/* ---- openunlink: opens and reads racing an unlink -------------------- */

struct ou_arg {
	const char *path;
	size_t size;
	atomic_int *stop;
	long opened, eio, shorts, other;
};

static void *ou_reader(void *p)
{
	struct ou_arg *a = p;
	char *buf = malloc(a->size + 1);

	while (buf && !atomic_load(a->stop)) {
		int fd = open(a->path, O_RDONLY);
		if (fd < 0) {
			if (errno == EIO)
				a->eio++;
			else if (errno != ENOENT)
				a->other++;
			continue;
		}
		a->opened++;
		ssize_t got = 0, k = 0;
		while ((size_t)got < a->size + 1 &&
		       (k = pread(fd, buf + got, a->size + 1 - (size_t)got, got)) > 0)
			got += k;
		if (k < 0 && errno == EIO)
			a->eio++;
		else if (got > 0 && (size_t)got != a->size)
			a->shorts++;
		close(fd);
	}
	free(buf);
	return NULL;
}

static int cmd_openunlink(const char *path, long size, long cycles)
{
	atomic_int stop = 0;
	struct ou_arg a[3];
	pthread_t th[3];
	long opened = 0, eio = 0, shorts = 0, other = 0, made = 0;

	if (size < 1 || size > (64L << 20))
		return usage();
	for (int t = 0; t < 3; t++) {
		a[t] = (struct ou_arg){ path, (size_t)size, &stop, 0, 0, 0, 0 };
		pthread_create(&th[t], NULL, ou_reader, &a[t]);
	}
	for (long i = 0; i < cycles; i++) {
		if (!fill(path, (size_t)size, (unsigned char)i, 0644))
			made++;
		unlink(path);
	}
	atomic_store(&stop, 1);
	for (int t = 0; t < 3; t++) {
		pthread_join(th[t], NULL);
		opened += a[t].opened;
		eio += a[t].eio;
		shorts += a[t].shorts;
		other += a[t].other;
	}
	printf("made=%ld opened=%ld eio=%ld short=%ld other=%ld\n", made, opened, eio, shorts,
	       other);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "appendcut") && argc == 5)
		return cmd_appendcut(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(argv[1], "snap") && argc == 5)
		return cmd_snap(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(argv[1], "openunlink") && argc == 5)
		return cmd_openunlink(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(argv[1], "setidcut") && argc == 4)
		return cmd_setidcut(argv[2], num(argv[3]));
	return usage();
}
