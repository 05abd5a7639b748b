/* wormctl s3 user add|list|remove (design section 11) and the client side
 * of the control socket (section 16, include/ctl.h). While the store is
 * mounted a command goes to the daemon over STORE/ctl.sock; when no daemon
 * listens there it works on the store directly (and refuses a change if
 * the store is mounted nevertheless, as every offline command does). */
#include "wormctl.h"
#include "clock.h"
#include "crypto.h"
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A daemon's reply may take this long (a request queued behind another
 * client's, which the daemon drops after CTL_TIMEOUT_MS). */
#define CALL_TIMEOUT_MS 60000

/* ---- the control socket client -------------------------------------------- */

static int sock_connect(const char *store, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", store, CTL_SOCK_NAME) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;   /* the daemon cannot have bound it either */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* The server must be root or the caller itself. Anyone else could
	 * only have bound it in a store directory they may write, and must
	 * not get an imported secret nor answer for the daemon: not even the
	 * store directory's owner, who may write it without being the
	 * daemon's user (a root daemon on a store chowned to a user), and
	 * then replaces the socket with one of their own. */
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		close(fd);
		return -EPERM;
	}
	*fdp = fd;
	return 0;
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = send(fd, s, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The reply line (NUL-terminated, the caller frees) within timeout_ms
 * (0: no deadline; a daemon that dies closes the socket). */
static int recv_line(int fd, char **out, int timeout_ms)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int64_t deadline = clock_monotonic_ns() + (int64_t)timeout_ms * 1000000;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		int64_t left = timeout_ms ? deadline - clock_monotonic_ns() : INT32_MAX;
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t got;

		if (left <= 0 || poll(&p, 1, timeout_ms ? (int)(left / 1000000 + 1) : -1) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (len + 1 == cap) {
			/* user-list of many users is megabytes (CTL_REPLY_MAX) */
			char *nb = cap >= CTL_REPLY_MAX ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -EMSGSIZE;
			}
			buf = nb;
			cap *= 2;
		}
		got = recv(fd, buf + len, cap - 1 - len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		len += (size_t)got;
		buf[len] = '\0';
		if (got == 0 || memchr(buf, '\n', len)) {
			*out = buf;
			return 0;
		}
	}
}

static int ctl_call(const struct wctl_opts *o, const char *store, json_object *req,
		    json_object **reply, int timeout_ms)
{
	const char *s;
	char *line = NULL, ident[48];
	struct stat st;
	int fd = -1, rc;

	/* The store meant, which the daemon checks is its own: the socket
	 * path may lead elsewhere (a symbolic link put in a store directory
	 * its owner may write, to another store's socket). Added before the
	 * request is written out, so that its one text is wiped below. */
	if (!stat(store, &st)) {
		snprintf(ident, sizeof(ident), "%ju:%ju", (uintmax_t)st.st_dev,
			 (uintmax_t)st.st_ino);
		json_object_object_add(req, "store", json_object_new_string(ident));
	}
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);

	*reply = NULL;
	rc = sock_connect(store, &fd);
	/* No socket, or one no process listens on (a daemon that died): no
	 * daemon serves the store, unless its socket could not be made (the
	 * offline open then finds the store locked and says so). */
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENAMETOOLONG || rc == -ENOTDIR) {
		json_object_put(req);
		return WCTL_NO_DAEMON;
	}
	if (rc == -EPERM) {
		json_object_put(req);
		return wctl_err("%s %s: control socket: served by a process that is neither root "
				"nor the caller (refused)", o->cmd, store);
	}
	if (rc) {
		json_object_put(req);
		return wctl_err("%s %s: control socket: %s", o->cmd, store, strerror(-rc));
	}
	rc = send_all(fd, s, strlen(s));
	if (!rc)
		rc = send_all(fd, "\n", 1);
	/* The request may carry an imported secret: wipe json-c's copies. */
	wcrypto_wipe((char *)s, strlen(s));
	json_object *v;
	if (json_object_object_get_ex(req, "secret", &v)) {
		char *sec = (char *)json_object_get_string(v);
		wcrypto_wipe(sec, strlen(sec));
	}
	json_object_put(req);
	/* A daemon that refuses the peer answers before reading: its reply
	 * may be waiting even when the request could not be sent. */
	int rr = recv_line(fd, &line, timeout_ms);
	if (!rc || rr == 0)
		rc = rr;
	close(fd);
	if (rc)
		return wctl_err("%s %s: control socket: %s", o->cmd, store, strerror(-rc));
	*reply = json_tokener_parse(line);
	wcrypto_wipe(line, strlen(line));
	free(line);
	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		return wctl_err("%s %s: control socket: the daemon's reply is not JSON", o->cmd,
				store);
	}
	return 0;
}

int wctl_ctl_call(const struct wctl_opts *o, const char *store, json_object *req,
		  json_object **reply)
{
	return ctl_call(o, store, req, reply, CALL_TIMEOUT_MS);
}

int wctl_ctl_call_long(const struct wctl_opts *o, const char *store, json_object *req,
		       json_object **reply)
{
	return ctl_call(o, store, req, reply, 0);
}

/* The errno of a failed reply (0 if ok); *msg its message. */
static int reply_errno(json_object *r, const char **msg)
{
	json_object *v;

	*msg = "unknown error";
	if (json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v))
		return 0;
	if (json_object_object_get_ex(r, "error", &v) && json_object_is_type(v, json_type_string))
		*msg = json_object_get_string(v);
	if (json_object_object_get_ex(r, "errno", &v) && json_object_get_int(v) > 0)
		return json_object_get_int(v);
	return EIO;
}

int wctl_ctl_failed(const struct wctl_opts *o, const char *store, json_object *reply)
{
	const char *msg;

	if (!reply_errno(reply, &msg))
		return 0;
	return wctl_err("%s %s: %s", o->cmd, store, msg);
}

/* ---- s3 user add ------------------------------------------------------------ */

/* "G,G,...": ids 0..4294967294, at most NS_USER_GROUPS_MAX. */
static int parse_groups(const struct wctl_opts *o, const char *s, struct ns_user *u)
{
	const char *p = s;

	u->ngroups = 0;
	if (!s)
		return 0;
	while (*p) {
		char *end;
		unsigned long long v;

		if (*p < '0' || *p > '9' || u->ngroups == NS_USER_GROUPS_MAX)
			goto bad;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || v >= UINT32_MAX || (*end && *end != ','))
			goto bad;
		u->groups[u->ngroups++] = (uint32_t)v;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			goto bad;
	}
	return 0;
bad:
	return wctl_usage(o, "--groups: expected up to %d group ids (0..4294967294) separated "
			  "by commas, got '%s'", NS_USER_GROUPS_MAX, s);
}

/* The secret of --secret-file: one line (a final newline dropped) into
 * buf; the rules of ns_user_add are checked there. */
static int read_secret(const struct wctl_opts *o, const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return wctl_err("%s: --secret-file %s: %s", o->cmd, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return wctl_err("%s: --secret-file %s: not a regular file", o->cmd, path);
	}
	while (len < size - 1 && (got = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == size - 1 || len < NS_USER_SECRET_MIN || strlen(buf) != len) {
		wcrypto_wipe(buf, size);
		return wctl_err("%s: --secret-file %s: expected one line of %d..%d printable "
				"characters", o->cmd, path, NS_USER_SECRET_MIN, NS_USER_SECRET_MAX);
	}
	return 0;
}

static json_object *user_obj(const struct ns_user *u, const char *secret)
{
	json_object *j = json_object_new_object(), *g = json_object_new_array();

	for (size_t i = 0; i < u->ngroups; i++)
		json_object_array_add(g, json_object_new_int64(u->groups[i]));
	json_object_object_add(j, "name", json_object_new_string(u->name));
	json_object_object_add(j, "access_key_id", json_object_new_string(u->access_key_id));
	json_object_object_add(j, "secret_access_key", wctl_json_str(secret));
	json_object_object_add(j, "uid", json_object_new_int64(u->uid));
	json_object_object_add(j, "gid", json_object_new_int64(u->gid));
	json_object_object_add(j, "groups", g);
	json_object_object_add(j, "admin", json_object_new_boolean(u->admin));
	return j;
}

/* A user from a daemon's reply (fields checked loosely: the daemon made them). */
static void user_from_json(json_object *j, struct ns_user *u)
{
	json_object *v;

	memset(u, 0, sizeof(*u));
	if (json_object_object_get_ex(j, "name", &v))
		snprintf(u->name, sizeof(u->name), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(j, "damaged", &v))
		u->damaged = json_object_get_boolean(v);
	if (json_object_object_get_ex(j, "access_key_id", &v))
		snprintf(u->access_key_id, sizeof(u->access_key_id), "%s",
			 json_object_get_string(v));
	if (json_object_object_get_ex(j, "uid", &v))
		u->uid = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(j, "gid", &v))
		u->gid = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(j, "admin", &v))
		u->admin = json_object_get_boolean(v);
	if (json_object_object_get_ex(j, "created", &v))
		u->created_s = json_object_get_int64(v);
	if (json_object_object_get_ex(j, "groups", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && i < NS_USER_GROUPS_MAX; i++)
			u->groups[u->ngroups++] =
				(uint32_t)json_object_get_int64(json_object_array_get_idx(v, i));
}

/* One error line per errno, the same online and offline. */
static int add_error(const struct wctl_opts *o, const char *store, const struct ns_user *u,
		     int err, const char *msg)
{
	if (err == EEXIST && !o->access_key)
		return wctl_err("%s %s: user '%s' exists", o->cmd, store, u->name);
	if (err == EEXIST)
		return wctl_err("%s %s: user '%s' or access key id '%s' exists", o->cmd, store,
				u->name, o->access_key);
	if (err == EINVAL)
		return wctl_usage(o, "invalid user: NAME is 1..%d of A-Z a-z 0-9 +=,.@_-, an "
				  "access key id %d..%d of A-Z a-z 0-9, a secret %d..%d printable "
				  "characters", NS_USER_NAME_MAX, NS_USER_KEYID_MIN,
				  NS_USER_KEYID_MAX, NS_USER_SECRET_MIN, NS_USER_SECRET_MAX);
	if (err == EDQUOT)
		return wctl_err("%s %s: the store has %d users already (the limit)", o->cmd,
				store, NS_USER_MAX);
	return wctl_err("%s %s: %s", o->cmd, store, msg ? msg : strerror(err));
}

static int user_add(const struct wctl_opts *o, const char *store, const char *name)
{
	struct ns_user u;
	char *secret = wcrypto_secure_alloc(NS_USER_SECRET_MAX + 2);
	json_object *req, *reply = NULL, *g;
	int ret = WCTL_FAIL, rc, made = !o->access_key;
	ns *n = NULL;

	if (!secret)
		return wctl_err("%s", strerror(ENOMEM));
	memset(&u, 0, sizeof(u));
	secret[0] = '\0';
	if (o->uid < 0) {
		ret = wctl_usage(o, "s3 user add needs --uid N");
		goto out;
	}
	if (!o->access_key != !o->secret_file) {
		ret = wctl_usage(o, "--access-key and --secret-file go together");
		goto out;
	}
	if (strlen(name) > NS_USER_NAME_MAX ||
	    (o->access_key && strlen(o->access_key) > NS_USER_KEYID_MAX)) {
		ret = add_error(o, store, &u, EINVAL, NULL);
		goto out;
	}
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.uid = (uint32_t)o->uid;
	u.gid = o->gid < 0 ? u.uid : (uint32_t)o->gid;
	u.admin = o->admin;
	if (parse_groups(o, o->groups, &u)) {
		ret = WCTL_USAGE;
		goto out;
	}
	if (o->access_key) {
		snprintf(u.access_key_id, sizeof(u.access_key_id), "%s", o->access_key);
		if (read_secret(o, o->secret_file, secret, NS_USER_SECRET_MAX + 2))
			goto out;
	}
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("user-add"));
	json_object_object_add(req, "name", json_object_new_string(u.name));
	json_object_object_add(req, "uid", json_object_new_int64(u.uid));
	json_object_object_add(req, "gid", json_object_new_int64(u.gid));
	g = json_object_new_array();
	for (size_t i = 0; i < u.ngroups; i++)
		json_object_array_add(g, json_object_new_int64(u.groups[i]));
	json_object_object_add(req, "groups", g);
	json_object_object_add(req, "admin", json_object_new_boolean(u.admin));
	if (!made) {
		json_object_object_add(req, "access_key_id", json_object_new_string(u.access_key_id));
		json_object_object_add(req, "secret", json_object_new_string(secret));
	}
	rc = wctl_ctl_call(o, store, req, &reply);
	if (rc == 0) {
		const char *msg;
		json_object *v;
		int e = reply_errno(reply, &msg);
		if (e) {
			ret = add_error(o, store, &u, e, msg);
			goto out;
		}
		if (json_object_object_get_ex(reply, "user", &v)) {
			struct ns_user got;
			user_from_json(v, &got);
			snprintf(u.access_key_id, sizeof(u.access_key_id), "%s", got.access_key_id);
			u.created_s = got.created_s;
		}
		if (made && json_object_object_get_ex(reply, "secret_access_key", &v))
			snprintf(secret, NS_USER_SECRET_MAX + 2, "%s", json_object_get_string(v));
		if (made && (!secret[0] || !u.access_key_id[0])) {
			ret = wctl_err("%s %s: the daemon's reply has no key", o->cmd, store);
			goto out;
		}
	} else if (rc == WCTL_NO_DAEMON) {
		if (wctl_open_store(o, store, 0, &n))
			goto out;
		struct ns_caller who = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
		rc = ns_user_add(n, &who, &u, secret, NS_USER_SECRET_MAX + 2);
		ns_close(n);
		if (rc) {
			ret = add_error(o, store, &u, -rc, NULL);
			goto out;
		}
	} else {
		goto out;
	}
	/* The secret is shown this once (an imported one is the caller's). */
	if (o->json)
		wctl_json_print(user_obj(&u, made ? secret : NULL));
	else if (made)
		printf("%s %s\n", u.access_key_id, secret);
	else
		printf("%s\n", u.access_key_id);
	ret = WCTL_OK;
out:
	if (reply) {
		json_object *v;
		if (json_object_object_get_ex(reply, "secret_access_key", &v)) {
			char *s = (char *)json_object_get_string(v);
			wcrypto_wipe(s, strlen(s));
		}
		json_object_put(reply);
	}
	wcrypto_secure_free(secret);
	return ret;
}

/* ---- s3 user list / remove ---------------------------------------------------- */

struct list_out {
	json_object *arr;         /* --json */
};

static int list_one(void *arg, const struct ns_user *u)
{
	struct list_out *l = arg;
	char ts[32], groups[NS_USER_GROUPS_MAX * 11 + 1] = "";
	size_t pos = 0;

	if (l->arr) {
		json_object *j;
		if (u->damaged) {
			j = json_object_new_object();
			json_object_object_add(j, "name", json_object_new_string(u->name));
		} else {
			j = user_obj(u, NULL);
			json_object_object_del(j, "secret_access_key");
			clock_format_rfc3339(u->created_s, ts, sizeof(ts));
			json_object_object_add(j, "created", json_object_new_string(ts));
		}
		json_object_object_add(j, "damaged", json_object_new_boolean(u->damaged));
		json_object_array_add(l->arr, j);
		return 0;
	}
	if (u->damaged) {
		wctl_out("%s DAMAGED (record fails authentication; its key is refused)", u->name);
		return 0;
	}
	for (size_t i = 0; i < u->ngroups; i++)
		pos += (size_t)snprintf(groups + pos, sizeof(groups) - pos, "%s%u", i ? "," : "",
					(unsigned)u->groups[i]);
	clock_format_rfc3339(u->created_s, ts, sizeof(ts));
	wctl_out("%s %s uid=%u gid=%u groups=%s%s created=%s", u->name, u->access_key_id,
		 (unsigned)u->uid, (unsigned)u->gid, u->ngroups ? groups : "-",
		 u->admin ? " admin" : "", ts);
	return 0;
}

static int user_list(const struct wctl_opts *o, const char *store)
{
	struct list_out l = { o->json ? json_object_new_array() : NULL };
	json_object *req = json_object_new_object(), *reply = NULL, *v;
	ns *n = NULL;
	int rc;

	json_object_object_add(req, "op", json_object_new_string("user-list"));
	rc = wctl_ctl_call(o, store, req, &reply);
	if (rc == 0) {
		if (wctl_ctl_failed(o, store, reply))
			goto fail;
		if (json_object_object_get_ex(reply, "users", &v) &&
		    json_object_is_type(v, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(v); i++) {
				struct ns_user u;
				user_from_json(json_object_array_get_idx(v, i), &u);
				list_one(&l, &u);
			}
		}
		json_object_put(reply);
	} else if (rc == WCTL_NO_DAEMON) {
		if (wctl_open_store(o, store, NS_RDONLY, &n))
			goto fail;
		rc = ns_user_list(n, list_one, &l);
		ns_close(n);
		if (rc) {
			wctl_err("%s %s: %s", o->cmd, store, strerror(-rc));
			goto fail;
		}
	} else {
		goto fail;
	}
	if (l.arr) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "users", l.arr);
		wctl_json_print(j);
	}
	return WCTL_OK;
fail:
	json_object_put(reply);
	json_object_put(l.arr);
	return WCTL_FAIL;
}

static int user_remove(const struct wctl_opts *o, const char *store, const char *name)
{
	json_object *req = json_object_new_object(), *reply = NULL;
	const char *msg = NULL;
	ns *n = NULL;
	int rc, e = 0;

	json_object_object_add(req, "op", json_object_new_string("user-remove"));
	json_object_object_add(req, "name", json_object_new_string(name));
	rc = wctl_ctl_call(o, store, req, &reply);
	if (rc == 0) {
		e = reply_errno(reply, &msg);
	} else if (rc == WCTL_NO_DAEMON) {
		if (wctl_open_store(o, store, 0, &n))
			return WCTL_FAIL;
		struct ns_caller who = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
		e = -ns_user_remove(n, &who, name);
		ns_close(n);
	} else {
		return WCTL_FAIL;
	}
	if (e == ENOENT)
		rc = wctl_err("%s %s: no user '%s'", o->cmd, store, name);
	else if (e == EINVAL)
		rc = wctl_usage(o, "invalid user name '%s'", name);
	else if (e)
		rc = wctl_err("%s %s: %s", o->cmd, store, msg ? msg : strerror(e));
	else
		rc = WCTL_OK;
	json_object_put(reply);
	if (rc == WCTL_OK)
		wctl_out("removed user %s", name);
	return rc;
}

int wctl_s3_user(const struct wctl_opts *opts)
{
	struct wctl_opts copy = *opts, *o = &copy;
	const char *sub = o->pos[0], *store = o->pos[1], *name = o->npos > 2 ? o->pos[2] : NULL;
	char cmd[32];
	int add_opts = o->uid >= 0 || o->gid >= 0 || o->groups || o->admin || o->access_key ||
		       o->secret_file;

	if (o->npos < 2 || !sub || !store)
		return wctl_usage(o, "s3 user needs add|list|remove STORE");
	/* Messages name the whole command: "s3 user add". */
	if (!strcmp(sub, "add") || !strcmp(sub, "list") || !strcmp(sub, "remove")) {
		snprintf(cmd, sizeof(cmd), "s3 user %s", sub);
		o->cmd = cmd;
	}
	if (!strcmp(sub, "add")) {
		if (!name)
			return wctl_usage(o, "s3 user add needs STORE NAME");
		return user_add(o, store, name);
	}
	if (add_opts)
		return wctl_usage(o, "--uid, --gid, --groups, --admin, --access-key and "
				  "--secret-file apply to s3 user add only");
	if (!strcmp(sub, "list")) {
		if (name)
			return wctl_usage(o, "unexpected argument '%s'", name);
		return user_list(o, store);
	}
	if (!strcmp(sub, "remove")) {
		if (!name)
			return wctl_usage(o, "s3 user remove needs STORE NAME");
		if (o->json)
			return wctl_usage(o, "--json applies to add and list");
		return user_remove(o, store, name);
	}
	return wctl_usage(o, "unknown s3 user command '%s' (add, list, remove)", sub);
}
