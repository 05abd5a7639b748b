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

static int is_mount_root(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/.wormfs/version", dir) >= (int)sizeof(p))
		return 0;
	return stat(p, &st) == 0;
}

/* ---- buckets ------------------------------------------------------------ */

int wctl_bucket_create(const struct wctl_opts *o)
{
	char path[PATH_MAX], parent[PATH_MAX];
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
	if (!is_mount_root(parent))
		return wctl_err("%s %s: %s is not the root of a wormfs mount", o->cmd, path,
				parent);
	if (mkdir(path, 0777) < 0)
		return fail_x(o, path, errno, errno == EINVAL ?
			      "bucket names: 3-63 characters a-z 0-9 . -, starting and "
			      "ending with a letter or digit, no '..', not an IP address" : NULL);
	printf("created bucket %s\n", path);
	return WCTL_OK;
}

void wctl_bucket_out(json_object *arr, const char *name, const char *def, const char *lock)
{
	char state[32] = "unlocked", id[64] = "", exp[64] = "";

	if (lock && *lock)
		sscanf(lock, "%31s %63s %63s", state, id, exp);
	if (!arr) {
		printf("%-24s %-18s %s\n", name, def ? def : "-", lock && *lock ? lock : "unlocked");
		return;
	}
	json_object *b = json_object_new_object();
	json_object_object_add(b, "name", json_object_new_string(name));
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

/* Sorted names in dir (without "." and ".."); caller frees. */
static int list_dir(const char *dir, char ***names, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return -errno;
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
	json_object *arr = o->json ? json_object_new_array() : NULL;
	char **names = NULL;
	size_t n = 0;
	int rc, ret = WCTL_OK;

	if (wctl_check_mount(o, mnt)) {
		json_object_put(arr);
		return WCTL_FAIL;
	}
	if (!is_mount_root(mnt)) {
		json_object_put(arr);
		return wctl_err("%s %s: not a wormfs mount point or store", o->cmd, mnt);
	}
	rc = list_dir(mnt, &names, &n);
	if (rc < 0) {
		json_object_put(arr);
		return wctl_err("%s %s: %s", o->cmd, mnt, strerror(-rc));
	}
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX], def[XVAL_MAX], lock[XVAL_MAX];
		struct stat st;
		ssize_t r;

		if (names[i][0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", mnt, names[i]) >= (int)sizeof(p) ||
		    lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = xget(p, X_DEFAULT, def, sizeof(def), 0);
		if (r < 0 && r != -ENODATA) {
			ret = wctl_err("%s %s: %s", o->cmd, p, strerror((int)-r));
			continue;
		}
		if (r < 0)
			def[0] = '\0';
		r = xget(p, X_LOCKCFG, lock, sizeof(lock), 0);
		if (r < 0)
			lock[0] = '\0';
		wctl_bucket_out(arr, names[i], def[0] ? def : NULL, lock);
	}
	free_names(names, n);
	if (arr)
		wctl_json_print(arr);
	return ret;
}

int wctl_bucket_lock(const struct wctl_opts *o)
{
	const char *b = o->pos[0];
	char cur[XVAL_MAX], state[32] = "", id[64] = "", exp[64] = "";
	int rc;

	if (wctl_check_mount(o, b))
		return WCTL_FAIL;
	if (o->complete) {
		char v[64];
		snprintf(v, sizeof(v), "locked %s", o->complete);
		rc = xset(b, X_LOCKCFG, v);
		if (rc < 0)
			return fail_x(o, b, -rc, rc == -EINVAL ? "wrong lock id, no lock in "
				      "progress, or the lock expired" : NULL);
		printf("%s: bucket locked; its default retention is now permanent\n", b);
		return WCTL_OK;
	}
	if (o->abort_lock) {
		rc = xset(b, X_LOCKCFG, "unlocked");
		if (rc < 0)
			return fail_x(o, b, -rc, rc == -EINVAL ? "no lock in progress" :
				      rc == -EPERM ? "the bucket is locked" : NULL);
		printf("%s: bucket lock aborted\n", b);
		return WCTL_OK;
	}
	rc = xset(b, X_LOCKCFG, "in-progress");
	if (rc < 0)
		return fail_x(o, b, -rc, rc == -EINVAL ? "the bucket needs a default "
			      "retention (user.worm.default-retention) first" :
			      rc == -EBUSY ? "a bucket lock is already in progress" :
			      rc == -EPERM ? "the bucket is locked" : NULL);
	rc = (int)xget(b, X_LOCKCFG, cur, sizeof(cur), 1);
	if (rc < 0)
		return fail_x(o, b, -rc, "reading the lock id back");
	if (sscanf(cur, "%31s %63s %63s", state, id, exp) != 3 || strcmp(state, "in-progress"))
		return wctl_err("%s %s: unexpected lock state '%s'", o->cmd, b, cur);
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "bucket", json_object_new_string(b));
		json_object_object_add(j, "lock", json_object_new_string(state));
		json_object_object_add(j, "lock_id", json_object_new_string(id));
		json_object_object_add(j, "lock_expires", json_object_new_string(exp));
		wctl_json_print(j);
		return WCTL_OK;
	}
	printf("lock-id: %s\nexpires: %s\n", id, exp);
	printf("complete with: wormctl bucket lock %s --complete %s\n", b, id);
	return WCTL_OK;
}

/* ---- retention and legal hold -------------------------------------------- */

int wctl_retention_get(const struct wctl_opts *o)
{
	const char *p = o->pos[0];
	char ret[XVAL_MAX], st[64], mode[32] = "", until[64] = "";
	ssize_t r;

	if (wctl_check_mount(o, p))
		return WCTL_FAIL;
	r = xget(p, X_RETENTION, ret, sizeof(ret), 1);
	if (r < 0 && r != -ENODATA)
		return fail_x(o, p, (int)-r, NULL);
	if (r < 0)
		ret[0] = '\0';
	else
		sscanf(ret, "%31s %63s", mode, until);
	if (xget(p, X_STATE, st, sizeof(st), 1) < 0)
		st[0] = '\0';
	if (!o->json) {
		puts(ret[0] ? ret : "none");
		return WCTL_OK;
	}
	json_object *j = json_object_new_object();
	json_object_object_add(j, "path", json_object_new_string(p));
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
		if (clock_parse_rfc3339(d, strlen(d), &until) < 0)
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
	if (wctl_check_mount(o, p))
		return WCTL_FAIL;
	rc = xset(p, X_RETENTION, val);
	if (rc < 0)
		return fail_x(o, p, -rc, rc == -EBUSY ? "the object is open for writing" :
			      rc == -EINVAL ? "date not later than the compliance clock, or "
			      "more than 100 years ahead" : NULL);
	if (xget(p, X_RETENTION, back, sizeof(back), 1) < 0)
		strcpy(back, val);
	printf("%s: %s\n", p, back);
	return WCTL_OK;
}

int wctl_hold_set(const struct wctl_opts *o, int on)
{
	const char *p = o->pos[0];
	int rc;

	if (wctl_check_mount(o, p))
		return WCTL_FAIL;
	rc = xset(p, X_HOLD, on ? "ON" : "OFF");
	if (rc < 0)
		return fail_x(o, p, -rc, rc == -EPERM ? "legal hold needs a legal-hold "
			      "principal (wormfs.conf legal_hold)" :
			      rc == -EBUSY ? "the object is open for writing" : NULL);
	printf("%s: legal hold %s\n", p, on ? "ON" : "OFF");
	return WCTL_OK;
}

int wctl_hold_get(const struct wctl_opts *o)
{
	const char *p = o->pos[0];
	char v[XVAL_MAX];
	ssize_t r;

	if (wctl_check_mount(o, p))
		return WCTL_FAIL;
	r = xget(p, X_HOLD, v, sizeof(v), 1);
	if (r < 0 && r != -ENODATA)
		return fail_x(o, p, (int)-r, NULL);
	if (!o->json) {
		puts(r < 0 ? "OFF" : v);
		return WCTL_OK;
	}
	json_object *j = json_object_new_object();
	json_object_object_add(j, "path", json_object_new_string(p));
	json_object_object_add(j, "legal_hold", json_object_new_string(r < 0 ? "OFF" : v));
	json_object_object_add(j, "set", json_object_new_boolean(r >= 0));
	wctl_json_print(j);
	return WCTL_OK;
}

/* ---- rm --bypass-governance ------------------------------------------- */

static int rm_one(const struct wctl_opts *o, const char *p)
{
	char st[64], ret[XVAL_MAX], hold[32], mode[32] = "", until[64] = "";
	struct stat sb;

	if (lstat(p, &sb) < 0)
		return fail_x(o, p, errno, NULL);
	if (S_ISDIR(sb.st_mode))
		return fail_x(o, p, EISDIR, NULL);
	if (S_ISREG(sb.st_mode) && xget(p, X_STATE, st, sizeof(st), 0) >= 0 &&
	    !strcmp(st, "locked")) {
		if (xget(p, X_HOLD, hold, sizeof(hold), 0) >= 0 && !strcasecmp(hold, "ON"))
			return wctl_err("%s %s: legal hold is ON (no bypass overrides it)",
					o->cmd, p);
		if (xget(p, X_RETENTION, ret, sizeof(ret), 0) >= 0)
			sscanf(ret, "%31s %63s", mode, until);
		if (!strcasecmp(mode, "COMPLIANCE"))
			return wctl_err("%s %s: COMPLIANCE retention until %s cannot be "
					"bypassed", o->cmd, p, until);
		if (!strcasecmp(mode, "GOVERNANCE")) {
			if (lremovexattr(p, X_RETENTION) < 0)
				return wctl_err("%s %s: removing GOVERNANCE retention: %s%s",
						o->cmd, p, strerror(errno), errno == EPERM ?
						" (needs a governance-bypass principal)" : "");
			printf("%s: removed GOVERNANCE retention (was until %s)\n", p, until);
		}
	}
	if (unlink(p) < 0)
		return fail_x(o, p, errno, NULL);
	printf("%s: deleted\n", p);
	return WCTL_OK;
}

int wctl_rm(const struct wctl_opts *o)
{
	int ret = WCTL_OK;

	for (int i = 0; i < o->npos; i++) {
		if (wctl_check_mount(o, o->pos[i])) {
			ret = WCTL_FAIL;
			continue;
		}
		if (rm_one(o, o->pos[i]))
			ret = WCTL_FAIL;
	}
	return ret;
}

/* ---- ls ------------------------------------------------------------------ */

void wctl_ls_out(json_object *arr, const char *path, const char *mode, const char *until,
		 const char *hold, const char *state)
{
	if (!arr) {
		printf("%-10s %-20s %-3s %-7s %s\n", mode ? mode : "-", until ? until : "-",
		       hold, state, path);
		return;
	}
	json_object *e = json_object_new_object();
	json_object_object_add(e, "path", json_object_new_string(path));
	json_object_object_add(e, "mode", wctl_json_str(mode));
	json_object_object_add(e, "retain_until", wctl_json_str(until));
	json_object_object_add(e, "legal_hold", json_object_new_string(hold));
	json_object_object_add(e, "state", json_object_new_string(state));
	json_object_array_add(arr, e);
}

struct lsctx {
	const struct wctl_opts *o;
	json_object *arr;
	int failed;
};

static void ls_file(struct lsctx *x, const char *p)
{
	char st[64], ret[XVAL_MAX], hold[32], mode[32] = "", until[64] = "";
	ssize_t r = xget(p, X_STATE, st, sizeof(st), 0);

	if (r < 0) {
		/* ENODATA/ENOTSUP: not a wormfs object (e.g. another mount). */
		if (r != -ENODATA && r != -ENOTSUP && r != -ENOENT) {
			wctl_err("%s %s: %s", x->o->cmd, p, strerror((int)-r));
			x->failed = 1;
		}
		return;
	}
	if (x->o->locked && strcmp(st, "locked"))
		return;
	if (xget(p, X_RETENTION, ret, sizeof(ret), 0) >= 0)
		sscanf(ret, "%31s %63s", mode, until);
	if (xget(p, X_HOLD, hold, sizeof(hold), 0) < 0)
		strcpy(hold, "OFF");
	wctl_ls_out(x->arr, p, mode[0] ? mode : NULL, until[0] ? until : NULL, hold, st);
}

/* Depth-first, sorted, never following symlinks; skips .wormfs at a mount
 * root. path is a PATH_MAX buffer extended in place. */
static void ls_walk(struct lsctx *x, char *path)
{
	char **names = NULL;
	size_t n = 0, len = strlen(path);
	int root = is_mount_root(path);
	int rc = list_dir(path, &names, &n);

	if (rc < 0) {
		wctl_err("%s %s: %s", x->o->cmd, path, strerror(-rc));
		x->failed = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (root && !strcmp(names[i], ".wormfs"))
			continue;
		if (len + 1 + strlen(names[i]) >= PATH_MAX) {
			wctl_err("%s %s/%s: %s", x->o->cmd, path, names[i],
				 strerror(ENAMETOOLONG));
			x->failed = 1;
			continue;
		}
		snprintf(path + len, PATH_MAX - len, "%s%s",
			 len && path[len - 1] == '/' ? "" : "/", names[i]);
		if (lstat(path, &st) < 0) {
			if (errno != ENOENT) {
				wctl_err("%s %s: %s", x->o->cmd, path, strerror(errno));
				x->failed = 1;
			}
		} else if (S_ISDIR(st.st_mode)) {
			ls_walk(x, path);
		} else if (S_ISREG(st.st_mode)) {
			ls_file(x, path);
		}
		path[len] = '\0';
	}
	free_names(names, n);
}

int wctl_ls_mnt(const struct wctl_opts *o)
{
	struct lsctx x = { .o = o, .arr = o->json ? json_object_new_array() : NULL };
	char path[PATH_MAX];
	struct stat st;

	if (trim_path(o->pos[0], path) < 0 || wctl_check_mount(o, path)) {
		json_object_put(x.arr);
		return WCTL_FAIL;
	}
	if (lstat(path, &st) < 0) {
		json_object_put(x.arr);
		return wctl_err("%s %s: %s", o->cmd, path, strerror(errno));
	}
	if (S_ISDIR(st.st_mode))
		ls_walk(&x, path);
	else if (S_ISREG(st.st_mode))
		ls_file(&x, path);
	if (x.arr)
		wctl_json_print(x.arr);
	return x.failed ? WCTL_FAIL : WCTL_OK;
}

/* ---- stats ----------------------------------------------------------------- */

static int read_all(const char *path, char **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t r;

	if (fd < 0)
		return -errno;
	if (!(buf = malloc(cap + 1))) {
		close(fd);
		return -ENOMEM;
	}
	/* Virtual file of size 0 served with direct I/O: read to EOF. */
	while ((r = read(fd, buf + len, cap - len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			close(fd);
			return (int)r;
		}
		len += (size_t)r;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
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
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/.wormfs/stats", o->pos[0]) >= (int)sizeof(path))
		return wctl_err("%s %s: %s", o->cmd, o->pos[0], strerror(ENAMETOOLONG));
	if (wctl_check_mount(o, o->pos[0]))
		return WCTL_FAIL;
	rc = read_all(path, &buf, &len);
	if (rc == -ENOENT)
		return wctl_err("%s %s: not a wormfs mount point (no .wormfs/stats)", o->cmd,
				o->pos[0]);
	if (rc < 0)
		return wctl_err("%s %s: %s", o->cmd, path, strerror(-rc));
	if (o->json)
		wctl_json_print(prom_to_json(buf));
	else
		fwrite(buf, 1, len, stdout);
	free(buf);
	return WCTL_OK;
}
