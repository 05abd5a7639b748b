/* store: the on-disk layout of a store directory (see store.h). */
#include "store.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FORMAT_NAME "FORMAT"
#define FORMAT_PREFIX "wormfs-store "
#define CONF_NAME "wormfs.conf"
#define LOCK_NAME "run.lock"

struct store {
	char *path;    /* absolute (realpath) */
	int dirfd;     /* STORE/ */
	int objfd;     /* STORE/objects/, for openat */
	int lockfd;    /* run.lock while locked, else -1 */
	unsigned format;   /* FORMAT version */
};

/* "00".."ff": the objects/ subdirectory for first id byte b. */
static void subdir_name(unsigned b, char sub[3])
{
	static const char hx[] = "0123456789abcdef";

	sub[0] = hx[(b >> 4) & 15];
	sub[1] = hx[b & 15];
	sub[2] = '\0';
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write name in dirfd atomically: temp file, fsync, rename, fsync dir. */
static int write_file_atomic(int dirfd, const char *name, const char *text,
			     mode_t mode)
{
	char tmp[64];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	else if (fsync(dirfd) < 0)
		rc = -errno;
	return rc;
}

/* 0 if the directory has no entries, -ENOTEMPTY if it has, or -errno. */
static int dir_is_empty(int dirfd)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			rc = -ENOTEMPTY;
			break;
		}
	}
	if (!de && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

/* Best-effort removal of what store_create made (the directory was empty
 * before, so only our names can be there). */
static void undo_create(int dirfd)
{
	int ofd = openat(dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (ofd >= 0) {
		for (int i = 0; i < 256; i++) {
			char sub[3];

			subdir_name((unsigned)i, sub);
			unlinkat(ofd, sub, AT_REMOVEDIR);
		}
		close(ofd);
	}
	unlinkat(dirfd, "objects", AT_REMOVEDIR);
	unlinkat(dirfd, "meta", AT_REMOVEDIR);
	unlinkat(dirfd, "keys", AT_REMOVEDIR);
	unlinkat(dirfd, CONF_NAME, 0);
	unlinkat(dirfd, "." CONF_NAME ".tmp", 0);
	unlinkat(dirfd, "." FORMAT_NAME ".tmp", 0);
	unlinkat(dirfd, FORMAT_NAME, 0);
}

static void fsync_parent(const char *path)
{
	char *dup = strdup(path);
	int fd;

	if (!dup)
		return;
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dup);
}

int store_create(const char *path, const char *conf_text, char *err, size_t errlen)
{
	char format[32];
	int dirfd = -1, ofd = -1, created = 0, rc;
	const char *step = "";

	if (mkdir(path, 0700) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: cannot create directory: %s", path,
		       strerror(-rc));
		return rc;
	}
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		if (rc == -ENOTDIR)
			wlog_seterr(err, errlen, "%s exists and is not a directory", path);
		else
			wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		goto out_nodir;
	}
	rc = dir_is_empty(dirfd);
	if (rc == -ENOTEMPTY) {
		wlog_seterr(err, errlen, "%s is not empty", path);
		goto out_nodir;   /* not ours: touch nothing */
	}
	if (rc < 0) {
		wlog_seterr(err, errlen, "%s: cannot read directory: %s", path,
		       strerror(-rc));
		goto out_nodir;
	}

	step = "chmod";
	if (fchmod(dirfd, 0700) < 0)
		goto fail_errno;
	step = "meta/";
	if (mkdirat(dirfd, "meta", 0700) < 0)
		goto fail_errno;
	step = "keys/";
	if (mkdirat(dirfd, "keys", 0700) < 0)
		goto fail_errno;
	step = "objects/";
	if (mkdirat(dirfd, "objects", 0700) < 0)
		goto fail_errno;
	ofd = openat(dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ofd < 0)
		goto fail_errno;
	for (int i = 0; i < 256; i++) {
		char sub[3];

		subdir_name((unsigned)i, sub);
		if (mkdirat(ofd, sub, 0700) < 0)
			goto fail_errno;
	}
	step = "fsync objects/";
	if (fsync(ofd) < 0)
		goto fail_errno;
	if (conf_text) {
		step = CONF_NAME;
		rc = write_file_atomic(dirfd, CONF_NAME, conf_text, 0600);
		if (rc < 0)
			goto fail;
	}
	/* FORMAT last: a half-created store is never taken for a store. */
	step = FORMAT_NAME;
	snprintf(format, sizeof(format), FORMAT_PREFIX "%d\n", STORE_FORMAT_VERSION);
	rc = write_file_atomic(dirfd, FORMAT_NAME, format, 0600);
	if (rc < 0)
		goto fail;
	step = "fsync";
	if (fsync(dirfd) < 0)
		goto fail_errno;
	if (created)
		fsync_parent(path);
	rc = 0;
	goto out;

fail_errno:
	rc = -errno;
fail:
	wlog_seterr(err, errlen, "%s: cannot create store (%s): %s", path, step,
	       strerror(-rc));
	undo_create(dirfd);
out_nodir:
	if (rc < 0 && created)
		rmdir(path);
out:
	if (ofd >= 0)
		close(ofd);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* Read and check FORMAT: 0, -ENOENT, -EBADMSG or -EPROTO (*version set). */
static int read_format(int dirfd, unsigned long *version)
{
	char buf[64];
	ssize_t n;
	const char *p;
	unsigned long v = 0;
	int fd, digits = 0;

	fd = openat(dirfd, FORMAT_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if ((size_t)n != strlen(buf) ||
	    strncmp(buf, FORMAT_PREFIX, strlen(FORMAT_PREFIX)) != 0)
		return -EBADMSG;
	for (p = buf + strlen(FORMAT_PREFIX); *p >= '0' && *p <= '9'; p++) {
		if (++digits > 9)
			return -EBADMSG;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (digits == 0 || strcmp(p, "\n") != 0)
		return -EBADMSG;
	*version = v;
	return v >= STORE_FORMAT_OLDEST && v <= STORE_FORMAT_VERSION ? 0 : -EPROTO;
}

unsigned store_format(const store *s)
{
	return s->format;
}

int store_set_format(store *s, unsigned v)
{
	char text[32];
	int rc;

	snprintf(text, sizeof(text), FORMAT_PREFIX "%u\n", v);
	rc = write_file_atomic(s->dirfd, FORMAT_NAME, text, 0600);
	if (!rc)
		s->format = v;
	return rc;
}

int store_open(const char *path, store **out, char *err, size_t errlen)
{
	struct store *s;
	struct stat st;
	unsigned long version = 0;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		wlog_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	s->dirfd = s->objfd = s->lockfd = -1;
	s->path = realpath(path, NULL);
	if (!s->path) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	if (stat(s->path, &st) < 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		wlog_seterr(err, errlen, "%s is not a wormfs store (not a directory)", path);
		goto fail;
	}
	s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	rc = read_format(s->dirfd, &version);
	if (rc == -ENOENT) {
		wlog_seterr(err, errlen, "%s is not a wormfs store (no FORMAT file)", path);
		goto fail;
	}
	if (rc == -EPROTO) {
		wlog_seterr(err, errlen,
		       "%s: unknown store format version %lu (this wormfs supports %d to %d)",
		       path, version, STORE_FORMAT_OLDEST, STORE_FORMAT_VERSION);
		goto fail;
	}
	if (rc == -EBADMSG) {
		wlog_seterr(err, errlen, "%s: damaged FORMAT file (expected '"
		       FORMAT_PREFIX "%d')", path, STORE_FORMAT_VERSION);
		goto fail;
	}
	if (rc < 0) {
		wlog_seterr(err, errlen, "%s/" FORMAT_NAME ": %s", path, strerror(-rc));
		goto fail;
	}
	s->format = (unsigned)version;
	s->objfd = openat(s->dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->objfd < 0) {
		rc = -errno;
		wlog_seterr(err, errlen, "%s: damaged store: objects/: %s", path,
		       strerror(-rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(store *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);   /* releases the flock */
	if (s->objfd >= 0)
		close(s->objfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	free(s);
}

const char *store_path(const store *s)
{
	return s->path;
}

int store_subpath(const store *s, const char *rel, char *buf, size_t len)
{
	int n;

	if (!rel || !*rel)
		n = snprintf(buf, len, "%s", s->path);
	else
		n = snprintf(buf, len, "%s/%s", s->path, rel);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int store_lock(store *s, int exclusive)
{
	int fd = s->lockfd, opened = 0, rc;

	if (fd < 0) {
		fd = openat(s->dirfd, LOCK_NAME,
			    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		/* a reader on a read-only store can still take a shared lock */
		if (fd < 0 && !exclusive && (errno == EROFS || errno == EACCES))
			fd = openat(s->dirfd, LOCK_NAME,
				    O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return -errno;
		opened = 1;
	}
	do
		rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (opened)
			close(fd);
		return rc;
	}
	s->lockfd = fd;
	return 0;
}

void store_objid_new(uint8_t id[STORE_OBJID_BYTES])
{
	size_t got = 0;

	while (got < STORE_OBJID_BYTES) {
		ssize_t n = getrandom(id + got, STORE_OBJID_BYTES - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Reusing an id could expose another object's data:
			 * no fallback that might repeat. */
			abort();
		}
		got += (size_t)n;
	}
}

void store_objid_hex(const uint8_t id[STORE_OBJID_BYTES],
		     char out[STORE_OBJID_HEX + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < STORE_OBJID_BYTES; i++) {
		out[2 * i] = hx[id[i] >> 4];
		out[2 * i + 1] = hx[id[i] & 15];
	}
	out[STORE_OBJID_HEX] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int store_objid_parse(const char *hex, uint8_t id[STORE_OBJID_BYTES])
{
	for (int i = 0; i < STORE_OBJID_HEX; i++)
		if (hexval(hex[i]) < 0)
			return -EINVAL;
	if (hex[STORE_OBJID_HEX] != '\0')
		return -EINVAL;
	for (int i = 0; i < STORE_OBJID_BYTES; i++)
		id[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	return 0;
}

/* "XX/<32 hex>" relative to objects/ */
static void obj_relname(const uint8_t id[STORE_OBJID_BYTES], char name[36])
{
	char hex[STORE_OBJID_HEX + 1];

	store_objid_hex(id, hex);
	snprintf(name, 36, "%.2s/%s", hex, hex);
}

int store_obj_open(store *s, const uint8_t id[STORE_OBJID_BYTES], int flags, int *fd)
{
	char name[36];
	int f;

	obj_relname(id, name);
	do
		f = openat(s->objfd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	while (f < 0 && errno == EINTR);
	if (f < 0)
		return -errno;
	*fd = f;
	return 0;
}

static int aux_relname(const uint8_t id[STORE_OBJID_BYTES], const char *suffix, char *name,
		       size_t len);

int store_obj_unlink(store *s, const uint8_t id[STORE_OBJID_BYTES])
{
	/* The block maps (obj.h) go with the content they describe. */
	static const char *const maps[] = { ".m0", ".m1" };
	char name[48];

	obj_relname(id, name);
	if (unlinkat(s->objfd, name, 0) < 0)
		return -errno;
	for (size_t i = 0; i < 2; i++)
		if (!aux_relname(id, maps[i], name, sizeof(name)))
			(void)unlinkat(s->objfd, name, 0);
	return 0;
}

/* A side file of an object ("XX/<hex><suffix>", e.g. its undo journal). */
static int aux_relname(const uint8_t id[STORE_OBJID_BYTES], const char *suffix, char *name,
		       size_t len)
{
	char hex[STORE_OBJID_HEX + 1];

	if (strlen(suffix) > 8 || strchr(suffix, '/'))
		return -EINVAL;
	store_objid_hex(id, hex);
	snprintf(name, len, "%.2s/%s%s", hex, hex, suffix);
	return 0;
}

int store_aux_open(store *s, const uint8_t id[STORE_OBJID_BYTES], const char *suffix,
		   int flags, int *fd)
{
	char name[48];
	int f, rc = aux_relname(id, suffix, name, sizeof(name));

	if (rc)
		return rc;
	do
		f = openat(s->objfd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	while (f < 0 && errno == EINTR);
	if (f < 0)
		return -errno;
	*fd = f;
	return 0;
}

int store_aux_unlink(store *s, const uint8_t id[STORE_OBJID_BYTES], const char *suffix)
{
	char name[48];
	int rc = aux_relname(id, suffix, name, sizeof(name));

	if (rc)
		return rc;
	if (unlinkat(s->objfd, name, 0) < 0)
		return -errno;
	return 0;
}

static int is_regular(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_REG;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return S_ISREG(st.st_mode);
}

/* One objects/XX directory. */
static int foreach_sub(store *s, int i, store_obj_cb cb, void *arg)
{
	char sub[3], rel[3 + NAME_MAX + 1];
	uint8_t id[STORE_OBJID_BYTES];
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	subdir_name((unsigned)i, sub);
	fd = openat(s->objfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		int wellnamed;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", sub, de->d_name);
		wellnamed = store_objid_parse(de->d_name, id) == 0 &&
			    memcmp(de->d_name, sub, 2) == 0 &&
			    is_regular(fd, de);
		rc = cb(arg, wellnamed ? id : NULL, rel);
		if (rc != 0)
			break;
	}
	closedir(d);
	return rc;
}

int store_obj_foreach(store *s, store_obj_cb cb, void *arg)
{
	for (int i = 0; i < 256; i++) {
		int rc = foreach_sub(s, i, cb, arg);

		if (rc != 0)
			return rc;
	}
	return 0;
}

int store_obj_syncdir(store *s, const uint8_t id[STORE_OBJID_BYTES])
{
	char sub[3];
	int fd, rc = 0;

	subdir_name(id[0], sub);
	fd = openat(s->objfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int store_statfs(store *s, struct statvfs *st)
{
	if (fstatvfs(s->dirfd, st) < 0)
		return -errno;
	return 0;
}
