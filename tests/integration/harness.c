/* harness: syscall-level helper for the integration tests.
 *
 *   harness SUBCOMMAND ARGS...
 *
 * Each subcommand performs one system call (or a short sequence) and prints
 * "OK" or the errno name of the first failure ("EPERM", "EXDEV", ...), so
 * shell tests can assert  [ "$(harness link a b)" = EPERM ].  Subcommands
 * that return data (read, pread, getxattr, listxattr, readdir, statfs) print
 * the data on success. The exit status is 0 whatever the syscall did; 2 is a
 * usage error. Run `harness help` for the list. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Print OK or the errno name for a syscall result (-1 means look at errno). */
static int report(int rc)
{
	if (rc < 0)
		printf("%s\n", errname(errno));
	else
		printf("OK\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: harness CMD ARGS\n"
		"  create P [MODE]            open(O_CREAT|O_WRONLY)\n"
		"  open P FLAGS [MODE]        FLAGS e.g. WRONLY|CREAT|TRUNC\n"
		"  write P DATA               O_WRONLY|O_CREAT|O_TRUNC + write\n"
		"  append P DATA              O_WRONLY|O_APPEND + write\n"
		"  pwrite P OFF DATA          O_WRONLY|O_CREAT + pwrite\n"
		"  pread P OFF LEN            prints the bytes read\n"
		"  read P                     prints the content\n"
		"  truncate P SIZE | ftruncate P SIZE | fallocate P OFF LEN\n"
		"  mkdir P [MODE] | rmdir P | unlink P | symlink TARGET P\n"
		"  link A B | rename A B | rename-noreplace A B | rename-exchange A B\n"
		"  mknod P | mkfifo P | mksock P\n"
		"  chmod P MODE | chown P UID GID | lchown P UID GID | utimens P SEC\n"
		"  utimens2 P A M             each SEC, now (UTIME_NOW) or omit (UTIME_OMIT)\n"
		"  setxattr P NAME VALUE [create|replace] | getxattr P NAME\n"
		"  listxattr P | removexattr P NAME\n"
		"  statfs P | fsync P | fdatasync P | access P r|w|x|f\n"
		"  readdir D (prints entry count) | readdir-dups D (prints dup count)\n"
		"  mkfiles D N                create N empty files, print rates\n"
		"  crashwriter D LOG          write files until an error, log each after close\n"
		"  crashverify D LOG          check every logged file\n"
		"  stalecommit P close|fsync  commit a session through a handle opened earlier\n"
		"  holdspill P                unlink while open, grow past 16 KiB, hold the fd\n");
	return 2;
}

static int parse_flags(const char *s, int *out)
{
	static const struct { const char *n; int f; } tab[] = {
		{ "RDONLY", O_RDONLY }, { "WRONLY", O_WRONLY }, { "RDWR", O_RDWR },
		{ "CREAT", O_CREAT }, { "EXCL", O_EXCL }, { "TRUNC", O_TRUNC },
		{ "APPEND", O_APPEND }, { "NOFOLLOW", O_NOFOLLOW },
		{ "DIRECTORY", O_DIRECTORY }, { "SYNC", O_SYNC }, { "PATH", O_PATH },
	};
	char buf[256], *save = NULL, *tok;
	int flags = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, "|,", &save); tok; tok = strtok_r(NULL, "|,", &save)) {
		size_t i;

		if (strncmp(tok, "O_", 2) == 0)
			tok += 2;
		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			if (strcmp(tok, tab[i].n) == 0)
				break;
		if (i == sizeof(tab) / sizeof(tab[0])) {
			fprintf(stderr, "harness: unknown open flag %s\n", tok);
			return -1;
		}
		flags |= tab[i].f;
	}
	*out = flags;
	return 0;
}

static long long num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "harness: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* open + optional action + close; any failure reported by errno name. */
static int do_open_write(const char *p, int flags, const char *data, off_t off, int positional)
{
	int fd = open(p, flags, 0644), rc = 0;

	if (fd < 0)
		return report(-1);
	if (data) {
		size_t len = strlen(data);
		ssize_t n = positional ? pwrite(fd, data, len, off) : write(fd, data, len);

		if (n < 0)
			rc = -1;
		else if ((size_t)n != len) {
			close(fd);
			printf("SHORT %zd\n", n);
			return 0;
		}
	}
	if (rc == 0 && close(fd) < 0)
		return report(-1);
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return report(rc);
}

static int do_read(const char *p, off_t off, long long len)
{
	int fd = open(p, O_RDONLY);
	char buf[65536];
	long long left = len;

	if (fd < 0)
		return report(-1);
	for (;;) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (len >= 0 && (long long)want > left)
			want = (size_t)left;
		if (want == 0)
			break;
		n = pread(fd, buf, want, off);
		if (n < 0) {
			int e = errno;

			close(fd);
			fflush(stdout);
			printf("%s\n", errname(e));
			return 0;
		}
		if (n == 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		off += n;
		left -= n;
	}
	close(fd);
	return 0;
}

static int do_fsync(const char *p, int data_only)
{
	int fd = open(p, O_RDONLY), rc;

	if (fd < 0)
		return report(-1);
	rc = data_only ? fdatasync(fd) : fsync(fd);
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return report(-1);
	}
	return report(close(fd));
}

static int do_mksock(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc;

	if (fd < 0)
		return report(-1);
	if (strlen(p) >= sizeof(sa.sun_path)) {
		close(fd);
		printf("ENAMETOOLONG\n");
		return 0;
	}
	memcpy(sa.sun_path, p, strlen(p) + 1);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return report(-1);
	}
	close(fd);
	return report(0);
}

static int do_statfs(const char *p)
{
	struct statvfs st;

	if (statvfs(p, &st) < 0)
		return report(-1);
	printf("OK bsize=%lu frsize=%lu blocks=%llu bfree=%llu bavail=%llu files=%llu ffree=%llu namemax=%lu\n",
	       st.f_bsize, st.f_frsize, (unsigned long long)st.f_blocks,
	       (unsigned long long)st.f_bfree, (unsigned long long)st.f_bavail,
	       (unsigned long long)st.f_files, (unsigned long long)st.f_ffree,
	       st.f_namemax);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Count entries other than . and ..; with dups, count names seen twice. */
static int do_readdir(const char *d, int dups)
{
	DIR *dir = opendir(d);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, ndup = 0, i;

	if (!dir)
		return report(-1);
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, cap * sizeof(*names));
			if (!names) {
				perror("harness");
				exit(2);
			}
		}
		names[n++] = strdup(de->d_name);
		errno = 0;
	}
	if (errno) {
		int e = errno;

		closedir(dir);
		printf("%s\n", errname(e));
		goto out;
	}
	closedir(dir);
	if (dups) {
		qsort(names, n, sizeof(*names), cmp_str);
		for (i = 1; i < n; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				ndup++;
		printf("%zu\n", ndup);
	} else {
		printf("%zu\n", n);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_mkfiles(const char *d, long long n)
{
	double t0 = now_s(), tlast = t0;
	long long i, step = n >= 10 ? n / 10 : 1, last = 0;
	char p[4096];

	for (i = 0; i < n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%07lld", d, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd) < 0) {
			printf("%s at file %lld\n", errname(errno), i);
			return 0;
		}
		if ((i + 1) % step == 0 || i + 1 == n) {
			double t = now_s();

			printf("# created %lld/%lld files: %.0f files/s (last %lld: %.0f files/s)\n",
			       i + 1, n, (double)(i + 1) / (t - t0 + 1e-9),
			       i + 1 - last, (double)(i + 1 - last) / (t - tlast + 1e-9));
			fflush(stdout);
			tlast = t;
			last = i + 1;
		}
	}
	printf("OK\n");
	return 0;
}

/* Deterministic content for the crash test: xorshift64 stream from seed. */
static void fill(unsigned char *buf, size_t len, uint64_t *state)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t x = *state;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		buf[i] = (unsigned char)(x >> 24);
	}
}

static uint64_t seed_of(long long i)
{
	return 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ 0xd1b54a32d192ed03ull;
}

/* Size pattern mixes empty, tiny (inline-sized) and multi-block files. */
static size_t size_of(long long i)
{
	static const size_t sizes[] = { 0, 1, 100, 4096, 16384, 16385, 65536, 70000,
					200000, 600000 };
	uint64_t s = seed_of(i);

	return sizes[i % 10] + (size_t)(s % 977) * (i % 10 != 0);
}

static int do_crashwriter(const char *d, const char *logp, const char *prefix)
{
	int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
	unsigned char *buf = malloc(1 << 16);
	long long i;

	if (logfd < 0 || !buf) {
		perror("harness: log");
		return 2;
	}
	for (i = 0;; i++) {
		char p[4096], line[4096];
		uint64_t st = seed_of(i);
		size_t left = size_of(i);
		int fd, n;

		snprintf(p, sizeof(p), "%s/%s%06lld", d, prefix, i);
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			goto fail;
		/* One size class in 4 KiB writes: each such file starts inline and
		 * moves to a content file in the middle of its session. */
		size_t max = i % 10 == 6 ? 4096 : (1 << 16);
		while (left > 0) {
			size_t chunk = left < max ? left : max;

			fill(buf, chunk, &st);
			if (write_all(fd, buf, chunk) < 0) {
				close(fd);
				goto fail;
			}
			left -= chunk;
		}
		if (close(fd) < 0)
			goto fail;
		/* Only now is the file "written and closed". */
		n = snprintf(line, sizeof(line), "%s%06lld %lld %zu\n", prefix, i, i, size_of(i));
		if (write(logfd, line, (size_t)n) != n) {
			perror("harness: log write");
			return 2;
		}
	}
fail:
	fprintf(stderr, "harness crashwriter: stopped at file %lld: %s\n", i, errname(errno));
	free(buf);
	close(logfd);
	return 0;
}

/* A write session committed through another handle than the writer's:
 * handle A is opened first (the object is small, so inline: A has no
 * content file), B writes 40000 'b' bytes (the content moves to a file),
 * C writes "X" at 0 (a session that does not touch the final block), then
 * A ends first: close (FLUSH commits) or, with "fsync", fsync on A opened
 * read-only. The object must read "X" + 39999 'b' afterwards. */
static int do_stalecommit(const char *p, const char *how)
{
	int sync = !strcmp(how, "fsync");
	int a = -1, b = -1, c = -1, rc = -1;
	char *buf = malloc(40000);

	if (!buf)
		return report(-1);
	memset(buf, 'b', 40000);
	a = open(p, sync ? O_RDONLY : O_RDWR);
	b = open(p, O_RDWR);
	if (a < 0 || b < 0 || pwrite(b, buf, 40000, 0) != 40000 || close(b) < 0)
		goto out;
	b = -1;
	c = open(p, O_RDWR);
	if (c < 0 || pwrite(c, "X", 1, 0) != 1)
		goto out;
	if (sync ? fsync(a) < 0 : close(a) < 0)
		goto out;
	if (!sync)
		a = -1;
	rc = close(c);
	c = -1;
out:
	free(buf);
	{
		int e = errno;
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		if (c >= 0)
			close(c);
		errno = e;
	}
	return report(rc);
}

/* An object unlinked while open whose content moves to a file before any
 * commit: create, write 100 bytes (inline, not committed), unlink, write
 * 40000 more (now a content file), print OK, then hold the descriptor
 * until killed, so the test can crash the daemon meanwhile. */
static int do_holdspill(const char *p)
{
	static char buf[40000];
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);

	memset(buf, 'h', sizeof(buf));
	if (fd < 0 || pwrite(fd, buf, 100, 0) != 100 || unlink(p) < 0 ||
	    pwrite(fd, buf, sizeof(buf), 100) != (ssize_t)sizeof(buf))
		return report(-1);
	report(0);
	fflush(stdout);
	for (;;)
		pause();
}

static int do_crashverify(const char *d, const char *logp)
{
	FILE *lf = fopen(logp, "r");
	unsigned char *want = malloc(1 << 16), *got = malloc(1 << 16);
	char name[1024];
	long long idx;
	size_t size;
	long checked = 0, bad = 0;

	if (!lf || !want || !got) {
		perror("harness: log");
		return 2;
	}
	while (fscanf(lf, "%1023s %lld %zu", name, &idx, &size) == 3) {
		char p[4096];
		uint64_t st = seed_of(idx);
		size_t left = size;
		off_t off = 0;
		int fd, ok = 1;
		struct stat sb;

		snprintf(p, sizeof(p), "%s/%s", d, name);
		checked++;
		fd = open(p, O_RDONLY);
		if (fd < 0) {
			printf("# %s: open: %s\n", name, errname(errno));
			bad++;
			continue;
		}
		if (fstat(fd, &sb) < 0 || (size_t)sb.st_size != size) {
			printf("# %s: size %lld, expected %zu\n", name, (long long)sb.st_size, size);
			ok = 0;
		}
		while (ok && left > 0) {
			size_t chunk = left < (1 << 16) ? left : (1 << 16);
			ssize_t n;

			fill(want, chunk, &st);
			n = pread(fd, got, chunk, off);
			if (n < 0) {
				printf("# %s: read at %lld: %s\n", name, (long long)off, errname(errno));
				ok = 0;
			} else if ((size_t)n != chunk || memcmp(want, got, chunk) != 0) {
				printf("# %s: content differs in [%lld, %lld)\n", name,
				       (long long)off, (long long)(off + (off_t)chunk));
				ok = 0;
			}
			off += (off_t)chunk;
			left -= chunk;
		}
		close(fd);
		bad += !ok;
	}
	fclose(lf);
	free(want);
	free(got);
	if (bad)
		printf("FAIL %ld of %ld\n", bad, checked);
	else
		printf("OK %ld\n", checked);
	return 0;
}

/* A digest of a file's data that skips holes (SEEK_DATA/SEEK_HOLE), so the
 * sparse 16 GiB LMDB map file of a store is compared in milliseconds: the
 * size plus FNV-1a 64 over (offset, bytes) of every data extent. All-zero
 * pages inside data extents still count, so any change shows. */
static int do_datahash(const char *path)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 1469598103934665603ull;
	struct stat st;
	off_t pos = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return report(-1);
	for (;;) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		for (off_t at = data; at < hole;) {
			size_t want = (size_t)(hole - at) < sizeof(buf) ? (size_t)(hole - at) : sizeof(buf);
			ssize_t got = pread(fd, buf, want, at);
			if (got <= 0) {
				close(fd);
				return report(-1);
			}
			for (ssize_t i = 0; i < got; i++) {
				unsigned char b = buf[i];
				/* Zero bytes hash like holes would not: mix the offset. */
				h ^= b;
				h *= 1099511628211ull;
			}
			h ^= (uint64_t)at;
			h *= 1099511628211ull;
			at += got;
		}
		pos = hole;
	}
	close(fd);
	printf("%016llx %lld\n", (unsigned long long)h, (long long)st.st_size);
	return 0;
}

int main(int argc, char **argv)
{
	const char *c;
	int fl;

	if (argc < 3)
		return usage();
	c = argv[1];
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

#define NEED(k) do { if (argc < (k) + 2) return usage(); } while (0)
	if (!strcmp(c, "create")) {
		int fd = open(argv[2], O_CREAT | O_WRONLY, argc > 3 ? (mode_t)strtol(argv[3], NULL, 8) : 0644);

		return report(fd < 0 ? -1 : close(fd));
	}
	if (!strcmp(c, "open")) {
		int fd;

		NEED(2);
		if (parse_flags(argv[3], &fl) < 0)
			return 2;
		fd = open(argv[2], fl, argc > 4 ? (mode_t)strtol(argv[4], NULL, 8) : 0644);
		return report(fd < 0 ? -1 : close(fd));
	}
	if (!strcmp(c, "write")) {
		NEED(2);
		return do_open_write(argv[2], O_WRONLY | O_CREAT | O_TRUNC, argv[3], 0, 0);
	}
	if (!strcmp(c, "append")) {
		NEED(2);
		return do_open_write(argv[2], O_WRONLY | O_APPEND, argv[3], 0, 0);
	}
	if (!strcmp(c, "pwrite")) {
		NEED(3);
		return do_open_write(argv[2], O_WRONLY | O_CREAT, argv[4], (off_t)num(argv[3]), 1);
	}
	if (!strcmp(c, "pread")) {
		NEED(3);
		return do_read(argv[2], (off_t)num(argv[3]), num(argv[4]));
	}
	if (!strcmp(c, "read"))
		return do_read(argv[2], 0, -1);
	if (!strcmp(c, "truncate")) {
		NEED(2);
		return report(truncate(argv[2], (off_t)num(argv[3])));
	}
	if (!strcmp(c, "ftruncate")) {
		int fd, rc;

		NEED(2);
		fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return report(-1);
		rc = ftruncate(fd, (off_t)num(argv[3]));
		if (rc < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return report(-1);
		}
		return report(close(fd));
	}
	if (!strcmp(c, "fallocate")) {
		int fd, rc;

		NEED(3);
		fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return report(-1);
		rc = fallocate(fd, 0, (off_t)num(argv[3]), (off_t)num(argv[4]));
		if (rc < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return report(-1);
		}
		return report(close(fd));
	}
	if (!strcmp(c, "mkdir"))
		return report(mkdir(argv[2], argc > 3 ? (mode_t)strtol(argv[3], NULL, 8) : 0755));
	if (!strcmp(c, "rmdir"))
		return report(rmdir(argv[2]));
	if (!strcmp(c, "unlink"))
		return report(unlink(argv[2]));
	if (!strcmp(c, "symlink")) {
		NEED(2);
		return report(symlink(argv[2], argv[3]));
	}
	if (!strcmp(c, "link")) {
		NEED(2);
		return report(link(argv[2], argv[3]));
	}
	if (!strcmp(c, "rename")) {
		NEED(2);
		return report(rename(argv[2], argv[3]));
	}
	if (!strcmp(c, "rename-noreplace")) {
		NEED(2);
		return report(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_NOREPLACE));
	}
	if (!strcmp(c, "rename-exchange")) {
		NEED(2);
		return report(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE));
	}
	if (!strcmp(c, "mknod"))
		return report(mknod(argv[2], S_IFCHR | 0644, makedev(1, 3)));
	if (!strcmp(c, "mkfifo"))
		return report(mkfifo(argv[2], 0644));
	if (!strcmp(c, "mksock"))
		return do_mksock(argv[2]);
	if (!strcmp(c, "chmod")) {
		NEED(2);
		return report(chmod(argv[2], (mode_t)strtol(argv[3], NULL, 8)));
	}
	if (!strcmp(c, "chown")) {
		NEED(3);
		return report(chown(argv[2], (uid_t)num(argv[3]), (gid_t)num(argv[4])));
	}
	if (!strcmp(c, "lchown")) {
		NEED(3);
		return report(lchown(argv[2], (uid_t)num(argv[3]), (gid_t)num(argv[4])));
	}
	if (!strcmp(c, "utimens")) {
		struct timespec ts[2];

		NEED(2);
		ts[0].tv_sec = ts[1].tv_sec = (time_t)num(argv[3]);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		return report(utimensat(AT_FDCWD, argv[2], ts, 0));
	}
	if (!strcmp(c, "utimens2")) {
		struct timespec ts[2];

		NEED(3);
		for (int i = 0; i < 2; i++) {
			const char *a = argv[3 + i];
			ts[i].tv_sec = 0;
			ts[i].tv_nsec = !strcmp(a, "now")    ? UTIME_NOW
					: !strcmp(a, "omit") ? UTIME_OMIT
							     : 0;
			if (ts[i].tv_nsec == 0)
				ts[i].tv_sec = (time_t)num(a);
		}
		return report(utimensat(AT_FDCWD, argv[2], ts, 0));
	}
	if (!strcmp(c, "setxattr")) {
		int f = 0;

		NEED(3);
		if (argc > 5)
			f = !strcmp(argv[5], "create") ? XATTR_CREATE :
			    !strcmp(argv[5], "replace") ? XATTR_REPLACE : 0;
		return report(setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), f));
	}
	if (!strcmp(c, "getxattr")) {
		char buf[65536];
		ssize_t n;

		NEED(2);
		n = getxattr(argv[2], argv[3], buf, sizeof(buf));
		if (n < 0)
			return report(-1);
		fwrite(buf, 1, (size_t)n, stdout);
		return 0;
	}
	if (!strcmp(c, "listxattr")) {
		char buf[65536];
		ssize_t n, i;

		n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return report(-1);
		for (i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			printf("%s\n", buf + i);
		return 0;
	}
	if (!strcmp(c, "removexattr")) {
		NEED(2);
		return report(removexattr(argv[2], argv[3]));
	}
	if (!strcmp(c, "statfs"))
		return do_statfs(argv[2]);
	if (!strcmp(c, "fsync"))
		return do_fsync(argv[2], 0);
	if (!strcmp(c, "fdatasync"))
		return do_fsync(argv[2], 1);
	if (!strcmp(c, "access")) {
		int m = F_OK;

		NEED(2);
		m = argv[3][0] == 'r' ? R_OK : argv[3][0] == 'w' ? W_OK :
		    argv[3][0] == 'x' ? X_OK : F_OK;
		return report(access(argv[2], m));
	}
	if (!strcmp(c, "readdir"))
		return do_readdir(argv[2], 0);
	if (!strcmp(c, "readdir-dups"))
		return do_readdir(argv[2], 1);
	if (!strcmp(c, "mkfiles")) {
		NEED(2);
		return do_mkfiles(argv[2], num(argv[3]));
	}
	if (!strcmp(c, "crashwriter")) {
		NEED(2);
		return do_crashwriter(argv[2], argv[3], argc > 4 ? argv[4] : "c");
	}
	if (!strcmp(c, "holdspill"))
		return do_holdspill(argv[2]);
	if (!strcmp(c, "stalecommit")) {
		NEED(2);
		return do_stalecommit(argv[2], argv[3]);
	}
	if (!strcmp(c, "crashverify")) {
		NEED(2);
		return do_crashverify(argv[2], argv[3]);
	}
	if (!strcmp(c, "datahash"))
		return do_datahash(argv[2]);
	return usage();
}
