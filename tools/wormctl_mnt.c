/* wormctl, mount side: every change goes through the mount as an xattr
 * call, so the daemon (the only writer of a mounted store) decides and
 * logs it exactly as it would for setfattr/rm. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#include "wormctl.h"
#include "clock.h"
#include "policy.h"

#define XVAL_MAX 256

/* getxattr into a NUL-terminated buffer, trailing newline dropped.
 * Returns the length or -errno. */
static ssize_t xget(const char *path, const char *name, char *buf, size_t len, int follow)
{
	ssize_t n = follow ? getxattr(path, name, buf, len - 1)
			   : lgetxattr(path, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	return n;
}

static int xset(const char *path, const char *name, const char *val)
{
	return setxattr(path, name, val, strlen(val), 0) < 0 ? -errno : 0;
}

/* strerror plus what the daemon means by it for lock attributes. */
static int fail_x(const struct wctl_opts *o, const char *path, int err, const char *hint)
{
	return wctl_err("%s %s: %s%s%s%s", o->cmd, path, strerror(err), hint ? " (" : "",
			hint ? hint : "", hint ? ")" : "");
}

/* Path without trailing slashes (kept "/"); buf has PATH_MAX. */
static int trim_path(const char *in, char *buf)
{
	size_t n = strlen(in);

	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, in, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

/* ---- finding the object, safely ------------------------------------------ */

/* A path opened for acting on it through a wormfs mount. Every action goes
 * through these fds, never through the path again, so a path component
 * swapped after the check (say, for a symlink) cannot redirect it. */
struct target {
	int dirfd;                 /* directory holding the entry (O_PATH), or -1 */
	int fd;                    /* the entry itself (O_PATH, final symlink not followed) */
	char name[NAME_MAX + 1];   /* its name in dirfd; "" when dirfd is -1 */
	struct stat st;            /* of the entry */
	struct stat root;          /* of the mount's root directory */
	char px[40];               /* /proc/self/fd/N: xattr calls on fd itself */
};

#define T_LINK_OK 1            /* rm: a symlink in the mount is deleted itself */

static void target_close(struct target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	t->fd = t->dirfd = -1;
}

/* 1 if the file system of device dev is mounted with type fuse.wormfs
 * (the subtype wormfs sets), 0 if not, -errno. The kernel records the type
 * when the file system is mounted: unlike a file's content (a fake
 * .wormfs/version written to some other FUSE file system), a user of that
 * file system cannot change it. */
static int dev_is_wormfs(dev_t dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep;
	size_t cap = 0;
	unsigned maj, min;
	int rc = 0;

	if (!f)
		return -errno;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - TYPE SOURCE SUPER;
	 * paths are octal-escaped, so " - " only ends the tags. */
	while (!rc && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%*d %*d %u:%u", &maj, &min) != 2 || makedev(maj, min) != dev)
			continue;
		sep = strstr(line, " - ");
		rc = sep && !strncmp(sep + 3, "fuse.wormfs ", 12);
	}
	free(line);
	fclose(f);
	return rc;
}

/* 1 if dirfd (a directory) lies on a wormfs mount, with the stat of the
 * mount's root in *root; 0 if not; -errno. Any FUSE file system can be
 * mounted by a user, so the FUSE magic alone proves nothing: the mount's
 * type must be fuse.wormfs, and walking ".." up to the top of this file
 * system (the kernel resolves ".." from its own dentry tree; the file
 * system cannot fake it) must lead to wormfs's .wormfs/version, which a
 * bind mount of a directory inside the mount lacks. */
static int on_wormfs(int dirfd, struct stat *root)
{
	struct statfs sf;
	struct stat cur, up, vs;
	char buf[8];
	ssize_t n;
	int fd, ufd, vfd, rc = 0;

	if (fstatfs(dirfd, &sf) < 0 || fstat(dirfd, &cur) < 0)
		return -errno;
	if ((unsigned long)sf.f_type != FUSE_SUPER_MAGIC)
		return 0;
	rc = dev_is_wormfs(cur.st_dev);
	if (rc <= 0)
		return rc;
	rc = 0;
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		ufd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (ufd < 0 || fstat(ufd, &up) < 0) {
			rc = -errno;
			if (ufd >= 0)
				close(ufd);
			close(fd);
			return rc;
		}
		if (up.st_dev != cur.st_dev || up.st_ino == cur.st_ino) {
			close(ufd);
			break;
		}
		close(fd);
		fd = ufd;
		cur = up;
	}
	vfd = openat(fd, WORM_CTL_DIR "/" WORM_CTL_VERSION, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(fd);
	if (vfd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
		       errno == EACCES ? 0 : -errno;
	if (fstat(vfd, &vs) == 0 && S_ISREG(vs.st_mode) && vs.st_dev == cur.st_dev) {
		n = read(vfd, buf, 7);
		rc = n == 7 && !memcmp(buf, "wormfs ", 7);
	}
	close(vfd);
	if (rc)
		*root = cur;
	return rc;
}

/* Open path for cmd: the final component is not followed (a symlink is
 * refused, or with T_LINK_OK kept as the entry itself), and the entry must
 * be on a wormfs mount: a directory is checked itself, anything else by
 * the directory holding it. Prints the error and returns WCTL_FAIL. */
static int target_open(const struct wctl_opts *o, const char *path, int flags,
		       struct target *t)
{
	char buf[PATH_MAX], *slash;
	const char *base, *dir;
	struct stat ps;
	int rc;

	t->fd = t->dirfd = -1;
	t->name[0] = '\0';
	if (trim_path(path, buf) < 0)
		return wctl_err("%s %s: %s", o->cmd, path, strerror(ENAMETOOLONG));
	slash = strrchr(buf, '/');
	base = slash ? slash + 1 : buf;
	if (!strcmp(buf, "/") || !strcmp(base, ".") || !strcmp(base, "..")) {
		/* A directory named by itself; never a symlink. */
		t->fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		if (strlen(base) > NAME_MAX)
			return wctl_err("%s %s: %s", o->cmd, path, strerror(ENAMETOOLONG));
		strcpy(t->name, base);
		if (!slash) {
			dir = ".";
		} else if (slash == buf) {
			dir = "/";
		} else {
			*slash = '\0';
			dir = buf;
		}
		t->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (t->dirfd >= 0)
			t->fd = openat(t->dirfd, t->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (t->fd < 0 || fstat(t->fd, &t->st) < 0) {
		rc = errno;
		target_close(t);
		return wctl_err("%s %s: %s", o->cmd, path, strerror(rc));
	}
	if (S_ISLNK(t->st.st_mode) && !(flags & T_LINK_OK)) {
		target_close(t);
		return wctl_err("%s %s: is a symbolic link; wormctl does not follow it (name "
				"the object inside the mount)", o->cmd, path);
	}
	rc = on_wormfs(S_ISDIR(t->st.st_mode) ? t->fd : t->dirfd, &t->root);
	if (rc == 1 && !S_ISDIR(t->st.st_mode) && t->st.st_dev != t->root.st_dev)
		rc = 0;         /* something mounted over a name in the mount */
	if (rc <= 0) {
		target_close(t);
		if (rc < 0)
			return wctl_err("%s %s: checking for a wormfs mount: %s", o->cmd, path,
					strerror(-rc));
		return wctl_err("%s %s: not on a wormfs mount (refused)", o->cmd, path);
	}
	snprintf(t->px, sizeof(t->px), "/proc/self/fd/%d", t->fd);
	/* xattr calls reach the entry through /proc: make sure they do. */
	if (!S_ISLNK(t->st.st_mode) && (stat(t->px, &ps) < 0 || ps.st_dev != t->st.st_dev ||
					ps.st_ino != t->st.st_ino)) {
		target_close(t);
		return wctl_err("%s %s: cannot reach it through /proc/self/fd (is /proc "
				"mounted?)", o->cmd, path);
	}
	return 0;
}

/* target_open + the entry must be the mount's root directory. */
static int target_open_root(const struct wctl_opts *o, const char *path, struct target *t)
{
	if (target_open(o, path, 0, t))
		return WCTL_FAIL;
	if (t->st.st_dev != t->root.st_dev || t->st.st_ino != t->root.st_ino) {
		target_close(t);
		return wctl_err("%s %s: not the root of a wormfs mount", o->cmd, path);
	}
	return 0;
}

/* ---- buckets ------------------------------------------------------------ */

int wctl_bucket_create(const struct wctl_opts *o)
{
	char path[PATH_MAX], parent[PATH_MAX];
	struct target t;
	char *slash;

	if (trim_path(o->pos[0], path) < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(ENAMETOOLONG));
	strcpy(parent, path);
	slash = strrchr(parent, '/');
	if (!slash)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (target_open_root(o, parent, &t))
		return WCTL_FAIL;
	if (mkdirat(t.fd, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, 0777) < 0) {
		int e = errno;
		target_close(&t);
		return fail_x(o, path, e, e == EINVAL ?
			      "bucket names: 3-63 characters a-z 0-9 . -, starting and "
			      "ending with a letter or digit, no '..', not an IP address" : NULL);
	}
	target_close(&t);
	wctl_out("created bucket %s", path);
	return WCTL_OK;
}

void wctl_bucket_out(json_object *arr, const char *name, const char *def, const char *lock)
{
	char state[32] = "unlocked", id[64] = "", exp[64] = "";

	if (lock && *lock)
		sscanf(lock, "%31s %63s %63s", state, id, exp);
	if (!arr) {
		wctl_out("%-24s %-18s %s", name, def ? def : "-", lock && *lock ? lock : "unlocked");
		return;
	}
	json_object *b = json_object_new_object();
	wctl_json_add_path(b, "name", name);
	json_object_object_add(b, "default_retention", wctl_json_str(def));
	json_object_object_add(b, "lock", json_object_new_string(state));
	if (id[0])
		json_object_object_add(b, "lock_id", json_object_new_string(id));
	if (exp[0])
		json_object_object_add(b, "lock_expires", json_object_new_string(exp));
	json_object_array_add(arr, b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir, or in dirfd if dir is NULL (without "." and
 * ".."); caller frees. */
static int list_dir(const char *dir, int dirfd, char ***names, size_t *count)
{
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) :
		 openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (rc) {
		while (n)
			free(v[--n]);
		free(v);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	*count = n;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int wctl_bucket_list_mnt(const struct wctl_opts *o)
{
	const char *mnt = o->pos[0];
	json_object *arr;
	struct target t;
	char **names = NULL;
	size_t n = 0;
	int rc, ret = WCTL_OK;

	if (target_open_root(o, mnt, &t))
		return WCTL_FAIL;
	rc = list_dir(NULL, t.fd, &names, &n);
	if (rc < 0) {
		target_close(&t);
		return wctl_err("%s %s: %s", o->cmd, mnt, strerror(-rc));
	}
	arr = o->json ? json_object_new_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		char px[40], def[XVAL_MAX], lock[XVAL_MAX];
		struct stat st;
		ssize_t r;
		int fd;

		if (names[i][0] == '.')
			continue;
		fd = openat(t.fd, names[i], O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;       /* gone, or not a directory: not a bucket */
		snprintf(px, sizeof(px), "/proc/self/fd/%d", fd);
		if (fstat(fd, &st) < 0 || st.st_dev != t.root.st_dev) {
			close(fd);
			continue;
		}
		r = xget(px, WORM_XATTR_DEFAULT, def, sizeof(def), 1);
		if (r < 0 && r != -ENODATA) {
			ret = wctl_err("%s %s/%s: %s", o->cmd, mnt, names[i], strerror((int)-r));
			close(fd);
			continue;
		}
		if (r < 0)
			def[0] = '\0';
		r = xget(px, WORM_XATTR_LOCKCFG, lock, sizeof(lock), 1);
		if (r < 0)
			lock[0] = '\0';
		close(fd);
		wctl_bucket_out(arr, names[i], def[0] ? def : NULL, lock);
	}
	free_names(names, n);
	target_close(&t);
	if (arr)
		wctl_json_print(arr);
	return ret;
}

/* Why the daemon refused a bucket lock step with EPERM (design section 5):
 * only the bucket's owner or root may take one, and a locked bucket's lock
 * is final. The daemon checks ownership first; so do we. */
static const char *lock_eperm_reason(const struct target *t, char *buf, size_t len)
{
	char cur[XVAL_MAX];
	uid_t me = geteuid();

	if (me != 0 && me != t->st.st_uid) {
		snprintf(buf, len, "only the bucket's owner (uid %u) or root may start, "
			 "complete or abort its lock; you are uid %u", (unsigned)t->st.st_uid,
			 (unsigned)me);
		return buf;
	}
	if (xget(t->px, WORM_XATTR_LOCKCFG, cur, sizeof(cur), 1) >= 0 && !strncmp(cur, "locked", 6) &&
	    (cur[6] == '\0' || cur[6] == ' '))
		return "the bucket is locked; its lock cannot be changed";
	return "refused by the daemon; its log names the rule";
}

/* 1 if t is a bucket: a directory right below the mount's root. */
static int target_is_bucket(const struct target *t)
{
	struct stat up;
	int fd, ok;

	if (!S_ISDIR(t->st.st_mode))
		return 0;
	fd = openat(t->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = fstat(fd, &up) == 0 && up.st_dev == t->root.st_dev && up.st_ino == t->root.st_ino;
	close(fd);
	return ok;
}

int wctl_bucket_lock(const struct wctl_opts *o)
{
	const char *b = o->pos[0];
	char cur[XVAL_MAX], state[32] = "", id[64] = "", exp[64] = "", why[160];
	struct target t;
	int rc, ret = WCTL_FAIL;

	if (target_open(o, b, 0, &t))
		return WCTL_FAIL;
	if (!target_is_bucket(&t)) {
		/* The daemon's EINVAL would read as "needs a default retention". */
		wctl_err("%s %s: not a bucket (a directory at the top of a wormfs mount)",
			 o->cmd, b);
		goto out;
	}
	if (o->complete) {
		char v[64];
		snprintf(v, sizeof(v), "locked %s", o->complete);
		rc = xset(t.px, WORM_XATTR_LOCKCFG, v);
		if (rc < 0) {
			fail_x(o, b, -rc, rc == -EINVAL ? "wrong lock id, no lock in "
			       "progress, or the lock expired" :
			       rc == -EPERM ? lock_eperm_reason(&t, why, sizeof(why)) : NULL);
			goto out;
		}
		wctl_out("%s: bucket locked; its default retention is now permanent", b);
		ret = WCTL_OK;
		goto out;
	}
	if (o->abort_lock) {
		rc = xset(t.px, WORM_XATTR_LOCKCFG, "unlocked");
		if (rc < 0) {
			fail_x(o, b, -rc, rc == -EINVAL ? "no lock in progress" :
			       rc == -EPERM ? lock_eperm_reason(&t, why, sizeof(why)) : NULL);
			goto out;
		}
		wctl_out("%s: bucket lock aborted", b);
		ret = WCTL_OK;
		goto out;
	}
	rc = xset(t.px, WORM_XATTR_LOCKCFG, "in-progress");
	if (rc < 0) {
		fail_x(o, b, -rc, rc == -EINVAL ? "the bucket needs a default "
		       "retention (user.worm.default-retention) first" :
		       rc == -EBUSY ? "a bucket lock is already in progress" :
		       rc == -EPERM ? lock_eperm_reason(&t, why, sizeof(why)) : NULL);
		goto out;
	}
	rc = (int)xget(t.px, WORM_XATTR_LOCKCFG, cur, sizeof(cur), 1);
	if (rc < 0) {
		fail_x(o, b, -rc, "reading the lock id back");
		goto out;
	}
	if (sscanf(cur, "%31s %63s %63s", state, id, exp) != 3 || strcmp(state, "in-progress")) {
		wctl_err("%s %s: unexpected lock state '%s'", o->cmd, b, cur);
		goto out;
	}
	ret = WCTL_OK;
	if (o->json) {
		json_object *j = json_object_new_object();
		wctl_json_add_path(j, "bucket", b);
		json_object_object_add(j, "lock", json_object_new_string(state));
		json_object_object_add(j, "lock_id", json_object_new_string(id));
		json_object_object_add(j, "lock_expires", json_object_new_string(exp));
		wctl_json_print(j);
		goto out;
	}
	printf("lock-id: %s\nexpires: %s\n", id, exp);
	wctl_out("complete with: wormctl bucket lock %s --complete %s", b, id);
out:
	target_close(&t);
	return ret;
}

/* ---- retention and legal hold -------------------------------------------- */

int wctl_retention_get(const struct wctl_opts *o)
{
	const char *p = o->pos[0];
	char ret[XVAL_MAX], st[64], mode[32] = "", until[64] = "";
	struct target t;
	ssize_t r;

	if (target_open(o, p, 0, &t))
		return WCTL_FAIL;
	r = xget(t.px, WORM_XATTR_RETENTION, ret, sizeof(ret), 1);
	if (r < 0 && r != -ENODATA) {
		target_close(&t);
		return fail_x(o, p, (int)-r, NULL);
	}
	if (r < 0)
		ret[0] = '\0';
	else
		sscanf(ret, "%31s %63s", mode, until);
	if (xget(t.px, WORM_XATTR_STATE, st, sizeof(st), 1) < 0)
		st[0] = '\0';
	target_close(&t);
	if (!o->json) {
		puts(ret[0] ? ret : "none");
		return WCTL_OK;
	}
	json_object *j = json_object_new_object();
	wctl_json_add_path(j, "path", p);
	json_object_object_add(j, "mode", wctl_json_str(mode[0] ? mode : NULL));
	json_object_object_add(j, "retain_until", wctl_json_str(until[0] ? until : NULL));
	json_object_object_add(j, "state", wctl_json_str(st[0] ? st : NULL));
	wctl_json_print(j);
	return WCTL_OK;
}

int wctl_retention_set(const struct wctl_opts *o)
{
	const char *p = o->pos[0], *m = o->pos[1], *d = o->pos[2];
	char val[XVAL_MAX], now_s[32], back[XVAL_MAX];
	int64_t now = clock_realtime_ns() / 1000000000, until;
	struct target t;
	int mode, pm, rc;

	if (!strcasecmp(m, "governance"))
		mode = WORM_GOVERNANCE;
	else if (!strcasecmp(m, "compliance"))
		mode = WORM_COMPLIANCE;
	else
		return wctl_usage(o, "bad mode '%s' (GOVERNANCE or COMPLIANCE)", m);
	if (d[0] == '+') {
		/* Relative: the daemon counts it from its compliance clock. */
		const char *num = d + 1;
		size_t nd = strspn(num, "0123456789");

		snprintf(val, sizeof(val), "%s %s", policy_mode_name(mode), d);
		if (nd == 0 || nd > 9 || !num[nd] || num[nd + 1] || !strchr("dhyDHY", num[nd]) ||
		    policy_parse_retention(val, strlen(val), now, &pm, &until) < 0)
			return wctl_usage(o, "bad date '%s' (RFC 3339 date, or +Nd, +Nh, +Ny)", d);
	} else {
		if (clock_parse_rfc3339_ceil(d, strlen(d), &until) < 0)
			return wctl_usage(o, "bad date '%s' (RFC 3339 date, or +Nd, +Nh, +Ny)", d);
		if (policy_format_retention(mode, until, val, sizeof(val)) < 0)
			return wctl_usage(o, "bad date '%s'", d);
	}
	if (until <= now) {
		clock_format_rfc3339(now, now_s, sizeof(now_s));
		return wctl_usage(o, "date '%s' is not in the future (now %s)", d, now_s);
	}
	if (until - now > POLICY_MAX_AHEAD_S)
		return wctl_usage(o, "date '%s' is more than %d years ahead", d,
				  POLICY_MAX_YEARS);
	if (target_open(o, p, 0, &t))
		return WCTL_FAIL;
	rc = xset(t.px, WORM_XATTR_RETENTION, val);
	if (rc < 0) {
		target_close(&t);
		return fail_x(o, p, -rc, rc == -EBUSY ? "the object is open for writing" :
			      rc == -EINVAL ? "date not later than the compliance clock, or "
			      "more than 100 years ahead" : NULL);
	}
	if (xget(t.px, WORM_XATTR_RETENTION, back, sizeof(back), 1) < 0)
		strcpy(back, val);
	target_close(&t);
	wctl_out("%s: %s", p, back);
	return WCTL_OK;
}

int wctl_hold_set(const struct wctl_opts *o, int on)
{
	const char *p = o->pos[0];
	struct target t;
	int rc;

	if (target_open(o, p, 0, &t))
		return WCTL_FAIL;
	rc = xset(t.px, WORM_XATTR_HOLD, on ? "ON" : "OFF");
	target_close(&t);
	if (rc < 0)
		return fail_x(o, p, -rc, rc == -EPERM ? "legal hold needs a legal-hold "
			      "principal (wormfs.conf legal_hold)" :
			      rc == -EBUSY ? "the object is open for writing" : NULL);
	wctl_out("%s: legal hold %s", p, on ? "ON" : "OFF");
	return WCTL_OK;
}

/* ---- logs: autocommit and append-only ------------------------------------ */

int wctl_bucket_autocommit(const struct wctl_opts *o)
{
	const char *b = o->pos[0], *d = o->pos[1];
	char why[160];
	struct target t;
	int rc, ret = WCTL_FAIL;

	if (target_open(o, b, 0, &t))
		return WCTL_FAIL;
	if (!target_is_bucket(&t)) {
		wctl_err("%s %s: not a bucket (a directory at the top of a wormfs mount)",
			 o->cmd, b);
		goto out;
	}
	rc = xset(t.px, WORM_XATTR_AUTOCOMMIT, d);
	if (rc < 0) {
		fail_x(o, b, -rc, rc == -EINVAL ? "DURATION is Ns, Nm, Nh or Nd (at most "
		       "36500d), or off" :
		       rc == -EPERM ? lock_eperm_reason(&t, why, sizeof(why)) : NULL);
		goto out;
	}
	if (!strcasecmp(d, "off"))
		wctl_out("%s: autocommit off (the default retention applies at close)", b);
	else
		wctl_out("%s: autocommit %s (idle objects get the default retention)", b, d);
	ret = WCTL_OK;
out:
	target_close(&t);
	return ret;
}

int wctl_append_set(const struct wctl_opts *o, int on)
{
	const char *p = o->pos[0];
	struct target t;
	int rc;

	if (target_open(o, p, 0, &t))
		return WCTL_FAIL;
	rc = xset(t.px, WORM_XATTR_APPEND, on ? "ON" : "OFF");
	target_close(&t);
	if (rc < 0)
		return fail_x(o, p, -rc, rc == -EPERM ? (on ? "the object is sealed, or you "
			      "are not its owner" : "only the object's owner or root") :
			      rc == -EBUSY ? "the object is open for writing" : NULL);
	wctl_out("%s: append-only %s", p, on ? "ON" : "OFF (finalized)");
	return WCTL_OK;
}

int wctl_hold_get(const struct wctl_opts *o)
{
	const char *p = o->pos[0];
	char v[XVAL_MAX];
	struct target t;
	ssize_t r;

	if (target_open(o, p, 0, &t))
		return WCTL_FAIL;
	r = xget(t.px, WORM_XATTR_HOLD, v, sizeof(v), 1);
	target_close(&t);
	if (r < 0 && r != -ENODATA)
		return fail_x(o, p, (int)-r, NULL);
	if (!o->json) {
		puts(r < 0 ? "OFF" : v);
		return WCTL_OK;
	}
	json_object *j = json_object_new_object();
	wctl_json_add_path(j, "path", p);
	json_object_object_add(j, "legal_hold", json_object_new_string(r < 0 ? "OFF" : v));
	json_object_object_add(j, "set", json_object_new_boolean(r >= 0));
	wctl_json_print(j);
	return WCTL_OK;
}

/* ---- rm --bypass-governance ------------------------------------------- */

/* Checks and deletes the entry t (from p) through its fds: the retention
 * is removed on the object fd opened by the check, and the entry unlinked
 * by name in the directory fd the check proved to be in the mount. */
static int rm_target(const struct wctl_opts *o, const char *p, const struct target *t)
{
	char st[64], ret[XVAL_MAX], hold[32], mode[32] = "", until[64] = "";

	if (S_ISDIR(t->st.st_mode) || t->dirfd < 0)
		return fail_x(o, p, EISDIR, NULL);
	if (S_ISREG(t->st.st_mode) && xget(t->px, WORM_XATTR_STATE, st, sizeof(st), 1) >= 0 &&
	    !strcmp(st, "locked")) {
		if (xget(t->px, WORM_XATTR_HOLD, hold, sizeof(hold), 1) >= 0 && !strcasecmp(hold, "ON"))
			return wctl_err("%s %s: legal hold is ON (no bypass overrides it)",
					o->cmd, p);
		if (xget(t->px, WORM_XATTR_RETENTION, ret, sizeof(ret), 1) >= 0)
			sscanf(ret, "%31s %63s", mode, until);
		if (!strcasecmp(mode, "COMPLIANCE"))
			return wctl_err("%s %s: COMPLIANCE retention until %s cannot be "
					"bypassed", o->cmd, p, until);
		if (!strcasecmp(mode, "GOVERNANCE")) {
			if (removexattr(t->px, WORM_XATTR_RETENTION) < 0)
				return wctl_err("%s %s: removing GOVERNANCE retention: %s%s",
						o->cmd, p, strerror(errno), errno == EPERM ?
						" (needs a governance-bypass principal)" : "");
			wctl_out("%s: removed GOVERNANCE retention (was until %s)", p, until);
		}
	}
	if (unlinkat(t->dirfd, t->name, 0) < 0)
		return fail_x(o, p, errno, NULL);
	wctl_out("%s: deleted", p);
	return WCTL_OK;
}

int wctl_rm(const struct wctl_opts *o)
{
	int ret = WCTL_OK;

	for (int i = 0; i < o->npos; i++) {
		struct target t;

		if (target_open(o, o->pos[i], T_LINK_OK, &t)) {
			ret = WCTL_FAIL;
			continue;
		}
		if (rm_target(o, o->pos[i], &t))
			ret = WCTL_FAIL;
		target_close(&t);
	}
	return ret;
}

/* ---- ls ------------------------------------------------------------------ */

void wctl_ls_out(json_object *arr, const char *path, const char *mode, const char *until,
		 const char *hold, const char *state, int append)
{
	if (!arr) {
		char st[32];
		snprintf(st, sizeof(st), "%s%s", state, append ? "+append" : "");
		/* Names come from any user: escaped, so none can forge a line. */
		wctl_out("%-10s %-20s %-3s %-7s %s", mode ? mode : "-", until ? until : "-",
			 hold, st, path);
		return;
	}
	json_object *e = json_object_new_object();
	wctl_json_add_path(e, "path", path);
	json_object_object_add(e, "mode", wctl_json_str(mode));
	json_object_object_add(e, "retain_until", wctl_json_str(until));
	json_object_object_add(e, "legal_hold", json_object_new_string(hold));
	json_object_object_add(e, "state", json_object_new_string(state));
	json_object_object_add(e, "append_only", json_object_new_boolean(append));
	json_object_array_add(arr, e);
}

struct lsctx {
	const struct wctl_opts *o;
	json_object *arr;
	struct stat root;       /* the mount's root: its .wormfs is skipped */
	int failed;
};

static void ls_err(struct lsctx *x, const char *p, int err)
{
	wctl_err("%s %s: %s", x->o->cmd, p, strerror(err));
	x->failed = 1;
}

static void ls_file(struct lsctx *x, const char *p)
{
	char st[64], ret[XVAL_MAX], hold[32], mode[32] = "", until[64] = "";
	ssize_t r = xget(p, WORM_XATTR_STATE, st, sizeof(st), 0);

	if (r < 0) {
		/* ENODATA/ENOTSUP: not a wormfs object. */
		if (r != -ENODATA && r != -ENOTSUP && r != -ENOENT)
			ls_err(x, p, (int)-r);
		return;
	}
	char ao[8];
	/* An append-only object's bytes are protected like a locked one's:
	 * --locked shows it (appendable objects), marked +append. */
	int append = xget(p, WORM_XATTR_APPEND, ao, sizeof(ao), 0) >= 0 && !strcmp(ao, "ON");
	if (x->o->locked && strcmp(st, "locked") && !append)
		return;
	if (xget(p, WORM_XATTR_RETENTION, ret, sizeof(ret), 0) >= 0)
		sscanf(ret, "%31s %63s", mode, until);
	if (xget(p, WORM_XATTR_HOLD, hold, sizeof(hold), 0) < 0)
		strcpy(hold, "OFF");
	wctl_ls_out(x->arr, p, mode[0] ? mode : NULL, until[0] ? until : NULL, hold, st, append);
}

/* Depth-first, sorted, never following symlinks nor leaving the mount's
 * file system; skips .wormfs at the mount root. path is a PATH_MAX buffer
 * extended in place; dir is its stat. */
static void ls_walk(struct lsctx *x, char *path, const struct stat *dir)
{
	char **names = NULL;
	size_t n = 0, len = strlen(path);
	int root = dir->st_dev == x->root.st_dev && dir->st_ino == x->root.st_ino;
	int rc = list_dir(path, -1, &names, &n);

	if (rc < 0) {
		ls_err(x, path, -rc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (root && !strcmp(names[i], WORM_CTL_DIR))
			continue;
		if (len + 1 + strlen(names[i]) >= PATH_MAX) {
			snprintf(path + len, PATH_MAX - len, "/...");
			ls_err(x, path, ENAMETOOLONG);
			path[len] = '\0';
			continue;
		}
		snprintf(path + len, PATH_MAX - len, "%s%s",
			 len && path[len - 1] == '/' ? "" : "/", names[i]);
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				ls_err(x, path, errno);
		} else if (st.st_dev != x->root.st_dev) {
			/* another file system mounted inside: not ours to list */
		} else if (S_ISDIR(st.st_mode)) {
			ls_walk(x, path, &st);
		} else if (S_ISREG(st.st_mode)) {
			ls_file(x, path);
		}
		path[len] = '\0';
	}
	free_names(names, n);
}

int wctl_ls_mnt(const struct wctl_opts *o)
{
	struct lsctx x = { .o = o };
	char path[PATH_MAX];
	struct target t;

	if (trim_path(o->pos[0], path) < 0)
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(ENAMETOOLONG));
	if (target_open(o, path, 0, &t))
		return WCTL_FAIL;
	x.root = t.root;
	x.arr = o->json ? json_object_new_array() : NULL;
	if (S_ISDIR(t.st.st_mode))
		ls_walk(&x, path, &t.st);
	else if (S_ISREG(t.st.st_mode))
		ls_file(&x, path);
	target_close(&t);
	if (x.arr)
		wctl_json_print(x.arr);
	return x.failed ? WCTL_FAIL : WCTL_OK;
}

/* ---- stats ----------------------------------------------------------------- */

static int read_all(int fd, char **out, size_t *outlen)
{
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t r;

	if (!(buf = malloc(cap + 1)))
		return -ENOMEM;
	/* Virtual file of size 0 served with direct I/O: read to EOF. */
	while ((r = read(fd, buf + len, cap - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			return (int)r;
		}
		len += (size_t)r;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* Integers as integers; other numbers keep the text they had (json-c
 * would print 17 significant digits). NaN/Inf are not JSON: null. */
static json_object *num_json(double v, const char *tok, size_t toklen)
{
	char b[64];

	if (v != v || v > 1e308 || v < -1e308)
		return NULL;
	if (v == (double)(int64_t)v && v > -9.0e18 && v < 9.0e18)
		return json_object_new_int64((int64_t)v);
	snprintf(b, sizeof(b), "%.*s", (int)toklen, tok);
	return json_object_new_double_s(v, b);
}

/* Label set as a key: the value for one label, else "k=v,k=v". */
static void label_key(const char *s, size_t n, char *key, size_t keylen)
{
	char full[512], val[512];
	size_t f = 0, nlabels = 0, i = 0, vl = 0;

	while (i < n) {
		while (i < n && (s[i] == ',' || s[i] == ' '))
			i++;
		if (i >= n)
			break;
		if (nlabels++ && f + 1 < sizeof(full))
			full[f++] = ',';
		while (i < n && s[i] != '=' && f + 1 < sizeof(full))
			full[f++] = s[i++];
		if (f + 1 < sizeof(full))
			full[f++] = '=';
		i++;                          /* '=' */
		if (i < n && s[i] == '"')
			i++;
		vl = 0;
		for (; i < n && s[i] != '"'; i++) {
			char c = s[i];
			if (c == '\\' && i + 1 < n)
				c = s[++i] == 'n' ? '\n' : s[i];
			if (vl + 1 < sizeof(val))
				val[vl++] = c;
			if (f + 1 < sizeof(full))
				full[f++] = c;
		}
		i++;                          /* closing '"' */
	}
	full[f] = '\0';
	val[vl] = '\0';
	snprintf(key, keylen, "%s", nlabels == 1 ? val : full);
}

/* Prometheus text -> {metric: value | {labels: value}}. */
static json_object *prom_to_json(char *text)
{
	json_object *root = json_object_new_object();
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[256], key[512];
		const char *lb = NULL;
		size_t nlen = strcspn(line, "{ \t"), lblen = 0;
		char *rest = line + nlen, *end;
		json_object *cur, *sub;
		double v;

		if (line[0] == '#' || nlen == 0 || nlen >= sizeof(name))
			continue;
		memcpy(name, line, nlen);
		name[nlen] = '\0';
		if (*rest == '{') {
			char *close = strrchr(rest, '}');
			if (!close)
				continue;
			lb = rest + 1;
			lblen = (size_t)(close - lb);
			rest = close + 1;
		}
		errno = 0;
		v = strtod(rest, &end);
		if (end == rest)
			continue;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		size_t toklen = (size_t)(end - rest);
		if (!lb) {
			json_object_object_add(root, name, num_json(v, rest, toklen));
			continue;
		}
		label_key(lb, lblen, key, sizeof(key));
		if (!json_object_object_get_ex(root, name, &cur) ||
		    !json_object_is_type(cur, json_type_object)) {
			sub = json_object_new_object();
			if (cur)   /* an unlabelled sample came first */
				json_object_object_add(sub, "", json_object_get(cur));
			json_object_object_add(root, name, sub);
			cur = sub;
		}
		json_object_object_add(cur, key, num_json(v, rest, toklen));
	}
	return root;
}

int wctl_stats(const struct wctl_opts *o)
{
	char *buf = NULL;
	struct target t;
	size_t len = 0;
	int fd, rc;

	if (target_open_root(o, o->pos[0], &t))
		return WCTL_FAIL;
	fd = openat(t.fd, WORM_CTL_DIR "/" WORM_CTL_STATS, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	target_close(&t);
	if (fd < 0)
		return wctl_err("%s %s/.wormfs/stats: %s", o->cmd, o->pos[0], strerror(errno));
	rc = read_all(fd, &buf, &len);
	close(fd);
	if (rc < 0)
		return wctl_err("%s %s/.wormfs/stats: %s", o->cmd, o->pos[0], strerror(-rc));
	if (o->json)
		wctl_json_print(prom_to_json(buf));
	else
		fwrite(buf, 1, len, stdout);
	free(buf);
	return WCTL_OK;
}
