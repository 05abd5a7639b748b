/* racer: concurrency helper for tests/integration/test_lock_race.sh.
 * Drives the races of the lock paths through a mounted wormfs and checks
 * the invariants itself; prints "key=value" counters on one line, and
 * exits 0 (a failed invariant is a counter the test asserts on; 2 is a
 * usage error).
 *
 *   racer r2 BUCKET N PROCS
 *       (bucket with a default retention) each object: write, close, and
 *       at once open(O_RDWR|O_TRUNC) + write + close. Counts "violations":
 *       an open that succeeded and whose write was then refused, or a
 *       final content that is neither the original (open refused) nor the
 *       second writer's.
 *   r1 BUCKET N THREADS
 *       (bucket with a default retention) each object: two write handles,
 *       one write, both closed at the same moment by two threads, while a
 *       third opens and closes it read-only in a loop (contention on the
 *       inode). Counts "mutable": objects not locked once every release had
 *       time to run (polled, 30 s at most).
 *   deep BUCKET1 BUCKET2 DEPTH
 *       (BUCKET1 with a default retention) DEPTH nested directories in
 *       each bucket; an object committed at the bottom of BUCKET1 (its
 *       state); a directory renamed from the bottom of BUCKET1 to the
 *       bottom of BUCKET2 (errno); a directory renamed from the top of
 *       BUCKET1 to its bottom (errno).
 *   deeprename BUCKET DEPTH
 *       DEPTH nested directories below BUCKET/top, no locked object:
 *       rename top (errno); an object locked at the bottom: rename again
 *       (errno).
 *   meta BUCKET N THREADS
 *       each object: THREADS mutators (chmod, utimens, user xattr,
 *       truncate(2), write-open with or without O_APPEND, rename, fallocate)
 *       while a retention is set on it. Counts "violations": a change that
 *       succeeded although it started after the lock was acknowledged.
 *   metadef BUCKET N THREADS
 *       the same in a bucket with a default retention, the lock landing at
 *       the creator's release (seen as "locked" by a poll).
 *   stress BUCKET_DEFAULT BUCKET_PLAIN ITER PROCS
 *       PROCS processes do ITER random operations each (writes, O_TRUNC
 *       opens, truncates, renames, unlinks, retention and hold setters)
 *       on a moving window of names in both buckets, while an observer
 *       records every object it sees locked. Then checks: every object seen locked still
 *       has its name, inode, size and content; every object in
 *       BUCKET_DEFAULT is locked; no content is the bytes of a refused
 *       write. Counts "violations".
 *   append BUCKET N MS
 *       (bucket with a default retention, default append-only ON and an
 *       autocommit of about a second) N objects, each for MS ms: two
 *       appenders (open O_APPEND, one line, close, pauses around the
 *       autocommit period), an overwriter (open without O_APPEND and
 *       pwrite at 0, ftruncate through O_APPEND, of a non-empty object),
 *       a lock changer (retention +1d, legal hold ON/OFF) and an
 *       observer reading content and state; then append-only OFF
 *       (finalize). Counts "violations": content that is not an extension
 *       of what was read before (a committed byte changed), "locked" seen
 *       and later "mutable" (a lock lost), an overwrite that succeeded, a
 *       change after the finalize was acknowledged, an acknowledged line
 *       missing or doubled, a final state other than locked. */
#include <dirent.h>
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

static const char *errname(int e)
{
	static __thread char buf[32];
	const char *n = e ? strerrorname_np(e) : "OK";
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: racer r2|r1|deep|deeprename|meta|metadef|stress|append ARGS (see racer.c)\n");
	return 2;
}

static long num(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (*e || v < 0) {
		fprintf(stderr, "racer: bad number %s\n", s);
		exit(2);
	}
	return v;
}

/* The object's lock state ("locked", "mutable", ...) or the errno name. */
static void state_of(int dirfd, const char *path, char *out, size_t len)
{
	ssize_t k;
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK);

	if (fd < 0) {
		snprintf(out, len, "%s", errname(errno));
		return;
	}
	k = fgetxattr(fd, "user.worm.state", out, len - 1);
	if (k < 0)
		snprintf(out, len, "%s", errname(errno));
	else
		out[k] = '\0';
	close(fd);
}

/* Poll until the object is locked: releases are asynchronous. All waits
 * of a process share one 30 s budget, and only "mutable" is waited on. */
static int wait_locked(int dirfd, const char *path)
{
	static __thread struct timespec deadline;
	struct timespec now;
	char st[64];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!deadline.tv_sec)
		deadline.tv_sec = now.tv_sec + 30;
	for (;;) {
		state_of(dirfd, path, st, sizeof(st));
		if (!strcmp(st, "locked"))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (strcmp(st, "mutable") || now.tv_sec > deadline.tv_sec)
			return 0;
		usleep(10000);
	}
}

static ssize_t read_all(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY);
	ssize_t got = 0, k;
	if (fd < 0)
		return -errno;
	while ((size_t)got < len && (k = read(fd, buf + got, len - (size_t)got)) > 0)
		got += k;
	close(fd);
	return got;
}

/* ---- R2: O_TRUNC open against the default applied at a release ---------- */

static void r2_proc(const char *dir, long from, long to, long *out)
{
	char name[64], want[64], buf[128];
	int dfd = open(dir, O_DIRECTORY | O_RDONLY);
	long refused = 0, opened = 0, bad = 0;

	for (long i = from; i < to; i++) {
		snprintf(name, sizeof(name), "r2-%ld", i);
		snprintf(want, sizeof(want), "original content of %ld", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, want, strlen(want)) != (ssize_t)strlen(want) || close(fd)) {
			bad++;
			continue;
		}
		/* Right after close(2): the release (the commit that applies the
		 * default) runs in the daemon while this open is served. */
		int fd2 = openat(dfd, name, O_RDWR | O_TRUNC);
		if (fd2 < 0) {
			refused++;
			if (errno != EPERM)
				bad++;
		} else {
			opened++;
			int w = write(fd2, "B", 1) == 1;
			int c = close(fd2) == 0;
			if (!w || !c)
				bad++;   /* truncated, then refused: the bug */
		}
	}
	/* Every object must end locked, with the content of whoever won. */
	for (long i = from; i < to; i++) {
		snprintf(name, sizeof(name), "r2-%ld", i);
		snprintf(want, sizeof(want), "original content of %ld", i);
		if (!wait_locked(dfd, name)) {
			bad++;
			continue;
		}
		ssize_t k = read_all(dfd, name, buf, sizeof(buf));
		if (!(k == 1 && buf[0] == 'B') &&
		    !(k == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)k)))
			bad++;
	}
	close(dfd);
	out[0] = refused;
	out[1] = opened;
	out[2] = bad;
}

static int run_procs(long procs, long n, const char *dir,
		     void (*fn)(const char *, long, long, long *), int nout, const char **keys)
{
	long tot[8] = { 0 };
	int pipes[64][2];
	pid_t pids[64];

	if (procs < 1 || procs > 64)
		return usage();
	for (long p = 0; p < procs; p++) {
		if (pipe(pipes[p]))
			return 1;
		pids[p] = fork();
		if (pids[p] == 0) {
			long out[8] = { 0 };
			fn(dir, n * p / procs, n * (p + 1) / procs, out);
			if (write(pipes[p][1], out, sizeof(out)) != sizeof(out))
				_exit(1);
			_exit(0);
		}
		close(pipes[p][1]);
	}
	for (long p = 0; p < procs; p++) {
		long out[8] = { 0 };
		if (read(pipes[p][0], out, sizeof(out)) != sizeof(out))
			tot[nout - 1]++;   /* a dead child counts as a violation */
		for (int k = 0; k < nout; k++)
			tot[k] += out[k];
		close(pipes[p][0]);
		waitpid(pids[p], NULL, 0);
	}
	for (int k = 0; k < nout; k++)
		printf("%s%s=%ld", k ? " " : "", keys[k], tot[k]);
	printf("\n");
	return 0;
}

/* ---- R1: two write handles released at once ------------------------------ */

struct r1_arg {
	const char *dir;
	long id, n, mutable_;
	volatile long group;   /* the object being written */
	volatile int done;
};

/* Opens and closes the object being written, read-only, without pause:
 * an open holds the inode's in->mu in the daemon while it reads the
 * record, and a release takes in->mu too, so the releases of the writers
 * are delayed at the worst moments. */
static void *r1_hammer(void *p)
{
	struct r1_arg *a = p;
	char path[300];
	while (!a->done) {
		long i = a->group;
		snprintf(path, sizeof(path), "%s/t%ld/g%ld/o%ld", a->dir, a->id, i / 16, i);
		int fd = open(path, O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* The closing partner of a worker: closes its descriptor of each object
 * at the same moment as the worker closes its own. */
struct r1_pair {
	pthread_barrier_t bar;
	volatile int fd;
	volatile int stop;
};

static void *r1_partner(void *p)
{
	struct r1_pair *pr = p;
	for (;;) {
		pthread_barrier_wait(&pr->bar);    /* fd ready */
		if (pr->stop)
			return NULL;
		if (pr->fd >= 0)
			close(pr->fd);
		pthread_barrier_wait(&pr->bar);    /* both closed */
	}
}

static void *r1_thread(void *p)
{
	struct r1_arg *a = p;
	char name[64], sub[300];
	pthread_t hm, pt;
	struct r1_pair pr = { .fd = -1 };

	pthread_barrier_init(&pr.bar, NULL, 2);
	snprintf(sub, sizeof(sub), "%s/t%ld", a->dir, a->id);
	mkdir(sub, 0755);
	pthread_create(&hm, NULL, r1_hammer, a);
	pthread_create(&pt, NULL, r1_partner, &pr);
	for (long i = 0; i < a->n; i++) {
		/* 16 objects per directory keep the hammer's listing short. */
		snprintf(name, sizeof(name), "t%ld/g%ld/o%ld", a->id, i / 16, i);
		if (i % 16 == 0) {
			snprintf(sub, sizeof(sub), "%s/t%ld/g%ld", a->dir, a->id, i / 16);
			mkdir(sub, 0755);
		}
		a->group = i;
		snprintf(sub, sizeof(sub), "%s/%s", a->dir, name);
		int f1 = open(sub, O_WRONLY | O_CREAT, 0644);
		int f2 = open(sub, O_WRONLY);
		if (f1 < 0 || f2 < 0 || write(f1, "x", 1) != 1)
			a->mutable_++;
		/* Both handles closed at the same moment from two threads: the
		 * two releases reach the daemon together. */
		pr.fd = f2;
		pthread_barrier_wait(&pr.bar);
		if (f1 >= 0)
			close(f1);
		pthread_barrier_wait(&pr.bar);
	}
	pr.stop = 1;
	pthread_barrier_wait(&pr.bar);
	pthread_join(pt, NULL);
	pthread_barrier_destroy(&pr.bar);
	a->done = 1;
	pthread_join(hm, NULL);
	int dfd = open(a->dir, O_DIRECTORY | O_RDONLY);
	for (long i = 0; i < a->n; i++) {
		snprintf(name, sizeof(name), "t%ld/g%ld/o%ld", a->id, i / 16, i);
		if (!wait_locked(dfd, name))
			a->mutable_++;
	}
	close(dfd);
	return NULL;
}

static int cmd_r1(const char *dir, long n, long threads)
{
	pthread_t th[64];
	struct r1_arg a[64];
	long mut = 0;

	if (threads < 1 || threads > 64)
		return usage();
	for (long t = 0; t < threads; t++) {
		a[t] = (struct r1_arg){ dir, t, n, 0, 0, 0 };
		pthread_create(&th[t], NULL, r1_thread, &a[t]);
	}
	for (long t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		mut += a[t].mutable_;
	}
	printf("objects=%ld mutable=%ld\n", n * threads, mut);
	return 0;
}

/* ---- deep paths ----------------------------------------------------------- */

/* Descend DEPTH levels of "d" below dirfd (created), return the bottom fd. */
static int dig(int dirfd, long depth)
{
	int fd = dup(dirfd);
	for (long i = 0; i < depth && fd >= 0; i++) {
		if (mkdirat(fd, "d", 0755) && errno != EEXIST) {
			close(fd);
			return -1;
		}
		int nfd = openat(fd, "d", O_DIRECTORY | O_RDONLY);
		close(fd);
		fd = nfd;
	}
	return fd;
}

static int cmd_deep(const char *b1, const char *b2, long depth)
{
	int d1 = open(b1, O_DIRECTORY | O_RDONLY), d2 = open(b2, O_DIRECTORY | O_RDONLY);
	char st[64] = "none";
	int e1, e2 = 0, e3 = 0;

	if (d1 < 0 || d2 < 0)
		return usage();
	int bot1 = dig(d1, depth), bot2 = dig(d2, depth);
	if (bot1 < 0 || bot2 < 0) {
		printf("dig=%s\n", errname(errno));
		return 0;
	}
	int fd = openat(bot1, "obj", O_WRONLY | O_CREAT, 0644);
	e1 = fd < 0 || write(fd, "deep", 4) != 4 || close(fd) ? errno : 0;
	if (!e1)
		wait_locked(bot1, "obj");
	state_of(bot1, "obj", st, sizeof(st));
	struct stat sb;
	unsigned long long ino = fstatat(bot1, "obj", &sb, 0) ? 0 : (unsigned long long)sb.st_ino;
	if (mkdirat(bot1, "sub", 0755) == 0)
		e2 = renameat(bot1, "sub", bot2, "sub") ? errno : 0;
	else
		e2 = errno;
	if (mkdirat(d1, "x", 0755) == 0)
		e3 = renameat(d1, "x", bot1, "x") ? errno : 0;
	else
		e3 = errno;
	printf("write=%s state=%s xbucket=%s", errname(e1), st, errname(e2));
	printf(" intodeep=%s ino=%llu\n", errname(e3), ino);
	return 0;
}

static int cmd_deeprename(const char *b, long depth)
{
	int d = open(b, O_DIRECTORY | O_RDONLY);
	int e1, e2, e3;

	if (d < 0 || mkdirat(d, "top", 0755))
		return usage();
	int top = openat(d, "top", O_DIRECTORY | O_RDONLY);
	int bot = dig(top, depth);
	if (bot < 0) {
		printf("dig=%s\n", errname(errno));
		return 0;
	}
	e1 = renameat(d, "top", d, "top2") ? errno : 0;
	int fd = openat(bot, "obj", O_WRONLY | O_CREAT, 0644);
	const char *v = "COMPLIANCE +1d";
	e2 = fd < 0 || write(fd, "x", 1) != 1 || close(fd) ? errno : 0;
	if (!e2) {
		fd = openat(bot, "obj", O_RDONLY);
		e2 = fd < 0 || fsetxattr(fd, "user.worm.retention", v, strlen(v), 0) ? errno : 0;
		if (fd >= 0)
			close(fd);
	}
	e3 = renameat(d, e1 ? "top" : "top2", d, "top3") ? errno : 0;
	printf("rename=%s lock=%s", errname(e1), errname(e2));
	printf(" lockedrename=%s\n", errname(e3));
	return 0;
}

/* ---- stress ------------------------------------------------------------- */

/* Each process works on a window of names that moves on every 8
 * operations, so there are always fresh (mutable) objects to fight over. */
#define S_WINDOW 4
#define S_NAMES(iter) ((iter) / 8 + S_WINDOW)
#define TOKLEN 24

/* A record per locked object seen: name, inode, size, content. */
struct seen {
	char path[160];
	ino_t ino;
	size_t len;
	char data[TOKLEN];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Refused tokens are logged to a file per process; seen locked ones too. */
static void stress_proc(const char *bdef, const char *bplain, long iter, long id, int observer,
			const char *logdir)
{
	char path[200], tok[TOKLEN + 1], buf[64], lp[300];
	uint64_t s = 0x9E3779B97F4A7C15ull ^ (uint64_t)(id + 1) * 7919u;
	snprintf(lp, sizeof(lp), "%s/refused.%ld", logdir, id);
	FILE *rf = fopen(lp, "w");
	snprintf(lp, sizeof(lp), "%s/seen.%ld", logdir, id);
	FILE *sf = fopen(lp, "w");
	if (!rf || !sf)
		_exit(1);

	/* The observer looks at any name, four times as often. */
	for (long i = 0; i < (observer ? 4 * iter : iter); i++) {
		const char *b = rnd(&s) % 2 ? bdef : bplain;
		unsigned k = (unsigned)(observer ? rnd(&s) % S_NAMES(iter) : i / 8 + rnd(&s) % S_WINDOW);
		snprintf(path, sizeof(path), "%s/o%u", b, k);
		char tb[64];
		snprintf(tb, sizeof(tb), "p%02ld-i%08ld-xxxxxxxxxxxxxxxxxxxx", id % 100, i % 100000000);
		memcpy(tok, tb, TOKLEN);
		tok[TOKLEN] = '\0';
		if (observer) {
			struct stat st;
			int fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			ssize_t k2 = fgetxattr(fd, "user.worm.state", buf, sizeof(buf) - 1);
			if (k2 > 0 && (buf[k2] = '\0', !strcmp(buf, "locked")) && !fstat(fd, &st)) {
				char data[TOKLEN + 8];
				ssize_t got = pread(fd, data, sizeof(data), 0);
				if (got >= 0 && got <= TOKLEN) {
					fprintf(sf, "%s %lu %zd ", path, (unsigned long)st.st_ino, got);
					for (ssize_t j = 0; j < got; j++)
						fprintf(sf, "%02x", (unsigned char)data[j]);
					fprintf(sf, "\n");
				}
			}
			close(fd);
			continue;
		}
		switch (rnd(&s) % 9) {
		case 0:
		case 1: {  /* a writer: O_TRUNC open, one token, close */
			int fl = O_WRONLY | O_CREAT | (rnd(&s) % 2 ? O_TRUNC : 0);
			int fd = open(path, fl, 0644);
			if (fd < 0)
				break;
			ssize_t w = pwrite(fd, tok, TOKLEN, 0);
			int c = close(fd);
			if (w != TOKLEN || c)
				fprintf(rf, "%s\n", tok);
			/* An O_TRUNC open that succeeded made this a writer before
			 * any lock: its write cannot be refused (else the open
			 * truncated a locked object). */
			if ((fl & O_TRUNC) && w != TOKLEN)
				fprintf(rf, "TRUNC-THEN-REFUSED %s\n", path);
			break;
		}
		case 2: {  /* two writers closed back to back */
			int f1 = open(path, O_WRONLY | O_CREAT, 0644), f2 = open(path, O_WRONLY);
			ssize_t w = f1 >= 0 ? pwrite(f1, tok, TOKLEN, 0) : -1;
			int c1 = f1 >= 0 ? close(f1) : -1;
			if (f2 >= 0)
				close(f2);
			if (w != TOKLEN || c1)
				fprintf(rf, "%s\n", tok);
			break;
		}
		case 3:
			(void)truncate(path, rnd(&s) % 2 ? 0 : TOKLEN / 2);
			break;
		case 4: {  /* open(O_RDWR|O_TRUNC), one byte */
			int fd = open(path, O_RDWR | O_TRUNC);
			if (fd >= 0) {
				if (write(fd, "t", 1) != 1)
					fprintf(rf, "TRUNC-THEN-REFUSED %s\n", path);
				close(fd);
			}
			break;
		}
		case 5: {
			char to[200];
			snprintf(to, sizeof(to), "%s/o%u", b, (unsigned)(i / 8 + rnd(&s) % S_WINDOW));
			(void)rename(path, to);
			break;
		}
		case 6:
			(void)unlink(path);
			break;
		case 7: {
			const char *v = rnd(&s) % 2 ? "GOVERNANCE +1d" : "COMPLIANCE +1d";
			(void)setxattr(path, "user.worm.retention", v, strlen(v), 0);
			break;
		}
		case 8: {
			int fd = open(path, O_WRONLY);
			if (fd >= 0) {
				(void)ftruncate(fd, TOKLEN / 2);
				if (pwrite(fd, tok, TOKLEN, 0) != TOKLEN)
					fprintf(rf, "%s\n", tok);
				close(fd);
			}
			break;
		}
		}
	}
	fclose(rf);
	fclose(sf);
}

static int in_file(const char *file, const char *line)
{
	char buf[512];
	FILE *f = fopen(file, "r");
	int found = 0;
	if (!f)
		return 0;
	while (!found && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		found = !strcmp(buf, line);
	}
	fclose(f);
	return found;
}

static int cmd_stress(const char *bdef, const char *bplain, long iter, long procs)
{
	char logdir[] = "/tmp/racer.XXXXXX", lp[300], line[512];
	pid_t pids[64];
	long bad = 0, seen = 0, lockedend = 0;

	if (procs < 2 || procs > 64 || !mkdtemp(logdir))
		return usage();
	for (long p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			stress_proc(bdef, bplain, iter, p, p == 0, logdir);
			_exit(0);
		}
	}
	for (long p = 0; p < procs; p++) {
		int ws = 0;
		waitpid(pids[p], &ws, 0);
		if (!WIFEXITED(ws) || WEXITSTATUS(ws))
			bad++;
	}
	/* 0. No write was refused on a handle whose O_TRUNC open succeeded. */
	for (long p = 0; p < procs; p++) {
		snprintf(lp, sizeof(lp), "%s/refused.%ld", logdir, p);
		FILE *f = fopen(lp, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, "TRUNC-THEN-REFUSED ", 19))
				continue;
			if (bad < 5)
				fprintf(stderr, "racer: O_TRUNC open succeeded, then its write was "
					"refused: %s", line + 19);
			bad++;
		}
		if (f)
			fclose(f);
	}
	/* 1. Whatever was seen locked is still there, unchanged. */
	for (long p = 0; p < procs; p++) {
		snprintf(lp, sizeof(lp), "%s/seen.%ld", logdir, p);
		FILE *f = fopen(lp, "r");
		while (f && fgets(line, sizeof(line), f)) {
			char path[200], hex[2 * TOKLEN + 2] = "", data[TOKLEN + 8], now[2 * TOKLEN + 2];
			unsigned long ino;
			long len;
			struct stat st;
			if (sscanf(line, "%199s %lu %ld %51s", path, &ino, &len, hex) < 3)
				continue;
			seen++;
			ssize_t got = stat(path, &st) ? -1 : read_all(AT_FDCWD, path, data, sizeof(data));
			now[0] = '\0';
			for (ssize_t j = 0; j < got; j++)
				sprintf(now + 2 * j, "%02x", (unsigned char)data[j]);
			if (got != len || st.st_ino != ino || strcmp(now, hex)) {
				if (bad < 5)
					fprintf(stderr, "racer: locked %s (ino %lu, %ld bytes %s) now: "
						"ino %lu, %zd bytes %s\n", path, ino, len, hex,
						got < 0 ? 0ul : (unsigned long)st.st_ino, got, now);
				bad++;
			}
		}
		if (f)
			fclose(f);
	}
	/* 2. Every object in the default bucket is locked; 3. no content is a
	 * refused write's token. */
	for (int pass = 0; pass < 2; pass++) {
		const char *b = pass ? bplain : bdef;
		for (unsigned k = 0; k < S_NAMES(iter); k++) {
			char path[200], data[TOKLEN + 8], tok[TOKLEN + 1];
			snprintf(path, sizeof(path), "%s/o%u", b, k);
			if (access(path, F_OK))
				continue;
			if (!pass) {
				char st[64];
				snprintf(path, sizeof(path), "o%u", k);
				int dfd = open(b, O_DIRECTORY | O_RDONLY);
				if (!wait_locked(dfd, path)) {
					state_of(dfd, path, st, sizeof(st));
					fprintf(stderr, "racer: %s/%s not locked: %s\n", b, path, st);
					bad++;
				} else {
					lockedend++;
				}
				close(dfd);
				snprintf(path, sizeof(path), "%s/o%u", b, k);
			}
			ssize_t got = read_all(AT_FDCWD, path, data, sizeof(data));
			if (got < TOKLEN)
				continue;
			memcpy(tok, data, TOKLEN);
			tok[TOKLEN] = '\0';
			for (long p = 0; p < procs; p++) {
				snprintf(lp, sizeof(lp), "%s/refused.%ld", logdir, p);
				if (in_file(lp, tok)) {
					fprintf(stderr, "racer: %s holds the refused write %s\n", path, tok);
					bad++;
				}
			}
		}
	}
	for (long p = 0; p < procs; p++) {
		snprintf(lp, sizeof(lp), "%s/refused.%ld", logdir, p);
		unlink(lp);
		snprintf(lp, sizeof(lp), "%s/seen.%ld", logdir, p);
		unlink(lp);
	}
	rmdir(logdir);
	printf("seen_locked=%ld locked_at_end=%ld violations=%ld\n", seen, lockedend, bad);
	return 0;
}

/* ---- meta: every change path against a retention landing ---------------- */

struct meta_arg {
	const char *path;
	int id;
	_Atomic int64_t *ack;     /* monotonic ns the lock was acknowledged, 0 before */
	_Atomic int *stop;        /* no lock landed in time: stop, count nothing */
	long violations;
	char what[160];
};

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Mutators: chmod, utimens, user xattr, truncate(2), write-open, rename
 * away and back, O_APPEND. Each success that started after the lock was
 * acknowledged is a violation (it must have been refused). */
static void *meta_mutator(void *p)
{
	struct meta_arg *a = p;
	uint64_t s = 0x51ED2701ull * (uint64_t)(a->id + 7);
	char to[600];
	int after = 0;

	snprintf(to, sizeof(to), "%s.m%d", a->path, a->id);
	while (after < 20 && !atomic_load(a->stop)) {
		int64_t t0 = mono();
		int ok = 0, op = (int)(rnd(&s) % 7);
		switch (op) {
		case 0:
			ok = chmod(a->path, rnd(&s) % 2 ? 0644 : 0664) == 0;
			break;
		case 1: {
			struct timespec tv[2] = { { 1000, 0 }, { (time_t)(rnd(&s) % 100000), 0 } };
			ok = utimensat(AT_FDCWD, a->path, tv, 0) == 0;
			break;
		}
		case 2:
			ok = setxattr(a->path, "user.note", "v", 1, 0) == 0;
			break;
		case 3:
			ok = truncate(a->path, (off_t)(rnd(&s) % 2 ? 1 : 5)) == 0;
			break;
		case 4: {
			int fd = open(a->path, O_WRONLY | (rnd(&s) % 2 ? O_APPEND : 0));
			/* the open itself is the change to refuse */
			ok = fd >= 0;
			if (fd >= 0) {
				(void)!write(fd, "w", 1);
				close(fd);
			}
			break;
		}
		case 5:
			ok = rename(a->path, to) == 0;
			if (ok)
				(void)!rename(to, a->path);
			break;
		case 6: {
			int fd = open(a->path, O_WRONLY);
			if (fd >= 0) {
				ok = 1;
				(void)!fallocate(fd, 0, 0, 4096 + (off_t)(rnd(&s) % 4096));
				close(fd);
			}
			break;
		}
		}
		int64_t ack = atomic_load(a->ack);
		if (ack && t0 > ack) {
			after++;
			if (ok) {
				a->violations++;
				snprintf(a->what, sizeof(a->what), "op %d succeeded after the lock", op);
			}
		}
	}
	return NULL;
}

static int cmd_meta(const char *dir, long n, long threads, int bydefault)
{
	long violations = 0, locked = 0;
	char last[800] = "";

	if (threads < 1 || threads > 16)
		return usage();
	for (long i = 0; i < n; i++) {
		char path[512];
		_Atomic int64_t ack = 0;
		_Atomic int stop = 0;
		struct meta_arg a[16];
		pthread_t th[16];

		snprintf(path, sizeof(path), "%s/m%ld", dir, i);
		/* With a bucket default, the creator's handle stays open until
		 * the mutators run: its release applies the default. */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "abc", 3) != 3 || (!bydefault && close(fd)))
			continue;
		for (long t = 0; t < threads; t++) {
			a[t] = (struct meta_arg){ path, (int)t, &ack, &stop, 0, "" };
			pthread_create(&th[t], NULL, meta_mutator, &a[t]);
		}
		usleep((useconds_t)(i % 7) * 300);
		if (bydefault) {
			/* A writer's release applies the bucket default: once the
			 * state reads locked, the lock has landed. */
			close(fd);
			for (int k = 0; k < 20000 && !atomic_load(&ack); k++) {
				char st[64];
				state_of(AT_FDCWD, path, st, sizeof(st));
				if (!strcmp(st, "locked")) {
					atomic_store(&ack, mono());
					locked++;
				}
			}
		}
		/* EBUSY while a mutator holds a write handle: try again. */
		for (int k = 0; k < 2000 && !bydefault; k++) {
			if (!setxattr(path, "user.worm.retention", "COMPLIANCE +1d", 14, 0)) {
				atomic_store(&ack, mono());
				locked++;
				break;
			}
			if (errno != EBUSY && errno != ENOENT)
				break;
			usleep(200);
		}
		if (!atomic_load(&ack))
			atomic_store(&stop, 1);
		for (long t = 0; t < threads; t++) {
			pthread_join(th[t], NULL);
			violations += a[t].violations;
			if (a[t].what[0])
				snprintf(last, sizeof(last), "%s:%s", path, a[t].what);
		}
	}
	printf("locked=%ld violations=%ld", locked, violations);
	if (last[0])
		printf(" last=%s", last);
	printf("\n");
	return 0;
}

/* ---- append: appends racing autocommit and lock changes ------------- */

#define AP_MAX (1 << 20)

struct ap_obj {
	int dirfd;
	char name[32];
	atomic_int stop, finalized;
	atomic_long appends, refused, violations, locked_seen, lock_changes;
	pthread_mutex_t mu;
	char *acked;            /* acknowledged lines, '\n'-separated */
	size_t acked_len;
	char *final_seen;       /* content read right after the finalize */
	ssize_t final_len;
};

struct ap_arg {
	struct ap_obj *o;
	int id;
};

static void ap_violation(struct ap_obj *o, const char *what)
{
	fprintf(stderr, "racer append %s: %s\n", o->name, what);
	atomic_fetch_add(&o->violations, 1);
}

static void *ap_appender(void *p)
{
	struct ap_arg *a = p;
	struct ap_obj *o = a->o;
	uint64_t seed = (uint64_t)a->id * 7919 + (uint64_t)(uintptr_t)o;
	long seq = 0;
	char line[64];

	while (!atomic_load(&o->stop)) {
		int fd = openat(o->dirfd, o->name, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd < 0) {
			atomic_fetch_add(&o->refused, 1);
			usleep(20000);
			continue;
		}
		int n = snprintf(line, sizeof(line), "a%d-%ld\n", a->id, ++seq);
		ssize_t w = write(fd, line, (size_t)n);
		int crc = close(fd);
		if (w == n && crc == 0) {
			if (atomic_load(&o->finalized))
				ap_violation(o, "an append acknowledged after the finalize");
			pthread_mutex_lock(&o->mu);
			if (o->acked_len + (size_t)n < AP_MAX) {
				memcpy(o->acked + o->acked_len, line, (size_t)n);
				o->acked_len += (size_t)n;
			}
			pthread_mutex_unlock(&o->mu);
			atomic_fetch_add(&o->appends, 1);
		} else {
			atomic_fetch_add(&o->refused, 1);
		}
		/* Pauses around the autocommit period: sometimes it lands
		 * between two appends, sometimes not. */
		usleep((useconds_t)(rnd(&seed) % 1600) * 1000);
	}
	return NULL;
}

static void *ap_overwriter(void *p)
{
	struct ap_obj *o = p;
	struct stat st;

	while (!atomic_load(&o->stop)) {
		usleep(30000);
		if (fstatat(o->dirfd, o->name, &st, 0) || st.st_size == 0)
			continue;
		/* Non-empty, append-only: a write at 0 never lands (chattr +a
		 * refuses the open without O_APPEND), nor a truncate. */
		int fd = openat(o->dirfd, o->name, O_WRONLY);
		if (fd >= 0) {
			if (pwrite(fd, "X", 1, 0) == 1)
				ap_violation(o, "a write at offset 0 succeeded");
			close(fd);
		}
		fd = openat(o->dirfd, o->name, O_WRONLY | O_APPEND);
		if (fd >= 0) {
			if (ftruncate(fd, 1) == 0)
				ap_violation(o, "a truncate succeeded");
			close(fd);
		}
	}
	return NULL;
}

static void *ap_locker(void *p)
{
	struct ap_obj *o = p;
	uint64_t seed = (uint64_t)(uintptr_t)o;

	while (!atomic_load(&o->stop)) {
		usleep((useconds_t)(100 + rnd(&seed) % 400) * 1000);
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", o->dirfd, o->name);
		int r = (int)(rnd(&seed) % 3), rc;
		if (r == 0)
			rc = setxattr(path, "user.worm.retention", "GOVERNANCE +1d", 14, 0);
		else if (r == 1)
			rc = setxattr(path, "user.worm.legal-hold", "ON", 2, 0);
		else
			rc = setxattr(path, "user.worm.legal-hold", "OFF", 3, 0);
		if (!rc)
			atomic_fetch_add(&o->lock_changes, 1);
	}
	return NULL;
}

static void *ap_observer(void *p)
{
	struct ap_obj *o = p;
	char *prev = malloc(AP_MAX), *cur = malloc(AP_MAX), st[64];
	ssize_t plen = 0;
	int locked = 0;

	while (prev && cur) {
		int last = atomic_load(&o->stop) == 2;
		/* State first: a lock seen then holds for the content read after. */
		state_of(o->dirfd, o->name, st, sizeof(st));
		ssize_t len = read_all(o->dirfd, o->name, cur, AP_MAX);
		if (!strcmp(st, "locked")) {
			if (!locked)
				atomic_fetch_add(&o->locked_seen, 1);
			locked = 1;
		} else if (locked && !strcmp(st, "mutable")) {
			ap_violation(o, "locked, then mutable: a lock was lost");
		}
		if (len >= 0) {
			if (len < plen || memcmp(prev, cur, (size_t)plen)) {
				fprintf(stderr, "racer append %s: was %zd bytes \"%.16s...\", now %zd \"%.16s...\"\n",
					o->name, plen, prev, len, cur);
				ap_violation(o, "content is not an extension of what was read before");
			}
			memcpy(prev, cur, (size_t)len);
			plen = len;
		}
		if (last)
			break;
		usleep(15000);
	}
	free(prev);
	free(cur);
	return NULL;
}

static void *ap_run(void *p)
{
	struct ap_obj *o = p;
	long ms = (long)o->final_len;
	pthread_t t[5];
	struct ap_arg aa[2] = { { o, 1 }, { o, 2 } };

	pthread_create(&t[0], NULL, ap_appender, &aa[0]);
	pthread_create(&t[1], NULL, ap_appender, &aa[1]);
	pthread_create(&t[2], NULL, ap_overwriter, o);
	pthread_create(&t[3], NULL, ap_locker, o);
	pthread_create(&t[4], NULL, ap_observer, o);
	usleep((useconds_t)ms * 1000);
	atomic_store(&o->stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Finalize: append-only OFF, retried while a release is under way. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", o->dirfd, o->name);
	/* A retention in force at the end, whatever the hold did (a hold ON
	 * then OFF seals an object, so no default lands on it any more). */
	setxattr(path, "user.worm.legal-hold", "OFF", 3, 0);
	for (int i = 0; i < 500; i++) {
		if (!setxattr(path, "user.worm.retention", "GOVERNANCE +1d", 14, 0))
			break;
		usleep(10000);
	}
	for (int i = 0; i < 500; i++) {
		if (!setxattr(path, "user.worm.append-only", "OFF", 3, 0))
			break;
		usleep(10000);
	}
	atomic_store(&o->finalized, 1);
	o->final_seen = malloc(AP_MAX);
	o->final_len = o->final_seen ? read_all(o->dirfd, o->name, o->final_seen, AP_MAX) : -1;
	/* After the finalize nothing changes: one more appender round. */
	int fd = openat(o->dirfd, o->name, O_WRONLY | O_APPEND);
	if (fd >= 0) {
		if (write(fd, "late\n", 5) == 5)
			ap_violation(o, "an append succeeded after the finalize");
		close(fd);
	}
	atomic_store(&o->stop, 2);
	pthread_join(t[4], NULL);
	return NULL;
}

/* Each acknowledged line exactly once in content, and nothing else. */
static void ap_check_lines(struct ap_obj *o, const char *content, size_t len)
{
	size_t i = 0, nc = 0, na = 0;
	for (i = 0; i < len; i++)
		nc += content[i] == '\n';
	for (i = 0; i < o->acked_len; i++)
		na += o->acked[i] == '\n';
	if (len && content[len - 1] != '\n')
		ap_violation(o, "torn last line");
	if (nc != na)
		fprintf(stderr, "racer append %s: %zu lines, %zu acknowledged\n", o->name, nc, na);
	for (i = 0; i < o->acked_len;) {
		const char *e = memchr(o->acked + i, '\n', o->acked_len - i);
		size_t l = (size_t)(e - (o->acked + i)) + 1;
		int found = 0;
		for (size_t k = 0; k + l <= len; ) {
			const char *ce = memchr(content + k, '\n', len - k);
			size_t cl = ce ? (size_t)(ce - (content + k)) + 1 : len - k;
			if (cl == l && !memcmp(content + k, o->acked + i, l))
				found++;
			k += cl;
		}
		if (found != 1)
			ap_violation(o, found ? "an acknowledged line twice" : "an acknowledged line lost");
		i += l;
	}
	if (nc > na)
		ap_violation(o, "lines nobody acknowledged");
}

static int cmd_append(const char *dir, long n, long ms)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct ap_obj *objs = calloc((size_t)n, sizeof(*objs));
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	long v = 0, appends = 0, refused = 0, seen = 0, changes = 0, unlocked = 0;

	if (dirfd < 0 || !objs || !t) {
		perror("racer append");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		struct ap_obj *o = &objs[i];
		o->dirfd = dirfd;
		snprintf(o->name, sizeof(o->name), "log-%ld", i);
		pthread_mutex_init(&o->mu, NULL);
		o->acked = malloc(AP_MAX);
		o->final_len = ms;   /* the run's length, until it holds the length read */
		pthread_create(&t[i], NULL, ap_run, o);
	}
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (long i = 0; i < n; i++) {
		struct ap_obj *o = &objs[i];
		char st[64], *content = malloc(AP_MAX);
		ssize_t len = content ? read_all(dirfd, o->name, content, AP_MAX) : -1;
		if (len < 0 || o->final_len < 0) {
			ap_violation(o, "cannot read the object");
		} else {
			if (len != o->final_len || memcmp(content, o->final_seen, (size_t)len))
				ap_violation(o, "changed after the finalize");
			ap_check_lines(o, content, (size_t)len);
		}
		/* The last change may be a moment ago: the autocommit lands then. */
		if (!wait_locked(dirfd, o->name)) {
			state_of(dirfd, o->name, st, sizeof(st));
			fprintf(stderr, "racer append %s: final state %s\n", o->name, st);
			unlocked++;
		}
		free(content);
		free(o->final_seen);
		free(o->acked);
		v += atomic_load(&o->violations);
		appends += atomic_load(&o->appends);
		refused += atomic_load(&o->refused);
		seen += atomic_load(&o->locked_seen);
		changes += atomic_load(&o->lock_changes);
	}
	printf("appends=%ld refused=%ld locked_seen=%ld lock_changes=%ld unlocked=%ld violations=%ld\n",
	       appends, refused, seen, changes, unlocked, v + unlocked);
	free(objs);
	free(t);
	close(dirfd);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *r2keys[] = { "refused", "opened", "violations" };

	if (argc < 2)
		return usage();
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "r2") && argc == 5)
		return run_procs(num(argv[4]), num(argv[3]), argv[2], r2_proc, 3, r2keys);
	if (!strcmp(argv[1], "r1") && argc == 5)
		return cmd_r1(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(argv[1], "deep") && argc == 5)
		return cmd_deep(argv[2], argv[3], num(argv[4]));
	if (!strcmp(argv[1], "deeprename") && argc == 4)
		return cmd_deeprename(argv[2], num(argv[3]));
	if (!strcmp(argv[1], "meta") && argc == 5)
		return cmd_meta(argv[2], num(argv[3]), num(argv[4]), 0);
	if (!strcmp(argv[1], "metadef") && argc == 5)
		return cmd_meta(argv[2], num(argv[3]), num(argv[4]), 1);
	if (!strcmp(argv[1], "append") && argc == 5)
		return cmd_append(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(argv[1], "stress") && argc == 6)
		return cmd_stress(argv[2], argv[3], num(argv[4]), num(argv[5]));
	return usage();
}
