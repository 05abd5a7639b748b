/* ctl: the control socket (design section 16; include/ctl.h). One thread
 * accepts connections on STORE/ctl.sock and serves them one at a time:
 * checks the peer's credentials, reads one bounded JSON line within a
 * deadline, runs it through ns (the same calls wormctl makes offline) and
 * answers one JSON line. Nothing a client sends can stop the thread: a
 * bad request is an error reply, a slow one is dropped. */
#include "ctl.h"
#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "trail.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct ctl {
	ns *n;
	int lfd;                  /* listening socket */
	int wake[2];              /* ctl_stop writes a byte to wake[1] */
	uid_t owner;              /* of the store directory */
	char ident[48];           /* the store directory's "DEV:INO" */
	pthread_t th;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];  /* for unlink */
};

/* ---- replies -------------------------------------------------------------- */

static json_object *err_reply(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static json_object *err_reply(int err, const char *fmt, ...)
{
	json_object *r = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(r, "ok", json_object_new_boolean(0));
	json_object_object_add(r, "errno", json_object_new_int(err));
	json_object_object_add(r, "error", json_object_new_string(msg));
	return r;
}

static json_object *ok_reply(void)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "ok", json_object_new_boolean(1));
	return r;
}

static json_object *user_json(const struct ns_user *u)
{
	json_object *o = json_object_new_object(), *g = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "damaged", json_object_new_boolean(u->damaged));
	if (u->damaged)
		return json_object_put(g), o;
	for (size_t i = 0; i < u->ngroups; i++)
		json_object_array_add(g, json_object_new_int64(u->groups[i]));
	json_object_object_add(o, "access_key_id", json_object_new_string(u->access_key_id));
	json_object_object_add(o, "uid", json_object_new_int64(u->uid));
	json_object_object_add(o, "gid", json_object_new_int64(u->gid));
	json_object_object_add(o, "groups", g);
	json_object_object_add(o, "admin", json_object_new_boolean(u->admin));
	json_object_object_add(o, "created", json_object_new_int64(u->created_s));
	return o;
}

/* ---- requests -------------------------------------------------------------- */

/* A member that must be a string (required: -EINVAL if absent). A string
 * holding a NUL ("\u0000") is bad too: read as a C string it would name
 * its prefix (user-remove "alice\u0000x" removed alice, an imported
 * secret was cut short). */
static const char *get_str(json_object *req, const char *key, int required, int *bad)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null)) {
		*bad |= required;
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*bad = 1;
		return NULL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		*bad = 1;
		return NULL;
	}
	return s;
}

static int get_id(json_object *v, uint32_t *out)
{
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	x = json_object_get_int64(v);
	/* (uid_t)-1 means "no change" to chown(2): never an identity. */
	if (errno || x < 0 || x >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static json_object *do_user_add(ctl *c, json_object *req, const struct ns_caller *who)
{
	struct ns_user u;
	json_object *v, *r;
	char secret[NS_USER_SECRET_MAX + 1];
	const char *name, *key, *sec;
	int bad = 0, made, rc;

	memset(&u, 0, sizeof(u));
	name = get_str(req, "name", 1, &bad);
	key = get_str(req, "access_key_id", 0, &bad);
	sec = get_str(req, "secret", 0, &bad);
	if (bad || !json_object_object_get_ex(req, "uid", &v) || get_id(v, &u.uid))
		return err_reply(EINVAL, "user-add needs name (string) and uid (0..4294967294)");
	u.gid = u.uid;
	if (json_object_object_get_ex(req, "gid", &v) && get_id(v, &u.gid))
		return err_reply(EINVAL, "gid: expected 0..4294967294");
	if (json_object_object_get_ex(req, "admin", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return err_reply(EINVAL, "admin: expected true or false");
		u.admin = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(req, "groups", &v)) {
		size_t ng = json_object_is_type(v, json_type_array) ?
			    json_object_array_length(v) : SIZE_MAX;
		if (ng > NS_USER_GROUPS_MAX)
			return err_reply(EINVAL, "groups: expected an array of at most %d ids",
					 NS_USER_GROUPS_MAX);
		for (size_t i = 0; i < ng; i++)
			if (get_id(json_object_array_get_idx(v, i), &u.groups[i]))
				return err_reply(EINVAL, "groups: expected ids 0..4294967294");
		u.ngroups = ng;
	}
	if (!key != !sec)
		return err_reply(EINVAL, "access_key_id and secret go together");
	if (strlen(name) > NS_USER_NAME_MAX || (key && strlen(key) > NS_USER_KEYID_MAX) ||
	    (sec && strlen(sec) > NS_USER_SECRET_MAX))
		return err_reply(EINVAL, "name, access key id or secret too long");
	snprintf(u.name, sizeof(u.name), "%s", name);
	made = !key;
	if (key)
		snprintf(u.access_key_id, sizeof(u.access_key_id), "%s", key);
	snprintf(secret, sizeof(secret), "%s", sec ? sec : "");
	rc = ns_user_add(c->n, who, &u, secret, sizeof(secret));
	if (rc == -EEXIST)
		r = err_reply(EEXIST, "user '%s' or its access key id exists", u.name);
	else if (rc == -EINVAL)
		r = err_reply(EINVAL, "invalid user name, access key id, secret or groups");
	else if (rc)
		r = err_reply(-rc, "%s", strerror(-rc));
	else {
		r = ok_reply();
		json_object_object_add(r, "user", user_json(&u));
		if (made)
			json_object_object_add(r, "secret_access_key",
					       json_object_new_string(secret));
	}
	wcrypto_wipe(secret, sizeof(secret));
	return r;
}

static int list_cb(void *arg, const struct ns_user *u)
{
	json_object_array_add(arg, user_json(u));
	return 0;
}

static json_object *do_user_list(ctl *c)
{
	json_object *arr = json_object_new_array(), *r;
	int rc = ns_user_list(c->n, list_cb, arr);

	if (rc) {
		json_object_put(arr);
		return err_reply(-rc, "%s", strerror(-rc));
	}
	r = ok_reply();
	json_object_object_add(r, "users", arr);
	return r;
}

static json_object *do_user_remove(ctl *c, json_object *req, const struct ns_caller *who)
{
	int bad = 0, rc;
	const char *name = get_str(req, "name", 1, &bad);

	if (bad)
		return err_reply(EINVAL, "user-remove needs name (string)");
	rc = ns_user_remove(c->n, who, name);
	if (rc == -ENOENT)
		return err_reply(ENOENT, "no user '%.64s'", name);
	if (rc == -EINVAL)
		return err_reply(EINVAL, "invalid user name");
	return rc ? err_reply(-rc, "%s", strerror(-rc)) : ok_reply();
}

/* As wormctl key rotate does offline: a new active version, recorded. */
static json_object *do_key_rotate(ctl *c, const struct ns_caller *who)
{
	uint32_t ver = 0;
	char via[64];
	json_object *r;
	int rc;

	snprintf(via, sizeof(via), "via=ctl peer_uid=%" PRIu32, who->uid);
	rc = ns_key_rotate(c->n, via, &ver);
	if (rc && !ver)
		return err_reply(-rc, "key rotate: %s", strerror(-rc));
	if (rc)
		return err_reply(-rc, "key rotated to version %" PRIu32 ", but recording it in "
				 "the metadata and the audit trail failed: %s (the next mount "
				 "records it)", ver, strerror(-rc));
	wlog(WLOG_INFO, "key ring: active master key is now version %" PRIu32
	     " (control socket, uid %" PRIu32 ")", ver, who->uid);
	r = ok_reply();
	json_object_object_add(r, "version", json_object_new_int64(ver));
	return r;
}

/* As wormctl key rewrap does offline (ns_rewrap: one bounded transaction
 * per object, each object's content lock held only for its own re-wrap,
 * so reads and writes go on), then recorded. Other control requests wait
 * meanwhile (one at a time). */
static json_object *do_key_rewrap(ctl *c, const struct ns_caller *who)
{
	struct kms_key_info info[KMS_MAX_VERSIONS];
	size_t cnt = 0;
	uint32_t ver = 0;
	char text[128];
	json_object *r;
	long done;
	int rc;

	wlog(WLOG_INFO, "key ring: re-wrapping data keys (control socket, uid %" PRIu32 ")",
	     who->uid);
	done = ns_rewrap(c->n, NULL, NULL);
	if (done < 0)
		return err_reply((int)-done, "key rewrap: %s", strerror((int)-done));
	if (!kms_list(ns_kms(c->n), info, KMS_MAX_VERSIONS, &cnt, (uint64_t)clock_monotonic_ns()))
		for (size_t i = 0; i < cnt; i++)
			if (info[i].active)
				ver = info[i].version;
	snprintf(text, sizeof(text), "op=rewrap count=%ld version=%" PRIu32 " via=ctl peer_uid=%"
		 PRIu32, done, ver, who->uid);
	rc = ns_audit_note(c->n, "key-ring", text);
	if (rc)
		return err_reply(-rc, "re-wrapped %ld data keys, but the audit record failed: %s",
				 done, strerror(-rc));
	wlog(WLOG_INFO, "key ring: re-wrapped %ld data keys under master key version %" PRIu32
	     " (control socket, uid %" PRIu32 ")", done, ver, who->uid);
	r = ok_reply();
	json_object_object_add(r, "count", json_object_new_int64(done));
	json_object_object_add(r, "version", json_object_new_int64(ver));
	return r;
}

static json_object *dispatch(ctl *c, json_object *req, const struct ns_caller *who)
{
	json_object *v;
	const char *op;

	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "op", &v) || !json_object_is_type(v, json_type_string))
		return err_reply(EINVAL, "expected a JSON object with a string \"op\"");
	op = json_object_get_string(v);
	/* The store the client meant (its directory's device and inode, as
	 * the client found them): a socket path in a directory a user may
	 * write can lead to another store's daemon (a symbolic link), which
	 * must not do the request there. Absent: a client from before. */
	if (json_object_object_get_ex(req, "store", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     strcmp(json_object_get_string(v), c->ident) != 0))
		return err_reply(EXDEV, "this control socket serves another store");
	if (!strcmp(op, "user-add"))
		return do_user_add(c, req, who);
	if (!strcmp(op, "user-list"))
		return do_user_list(c);
	if (!strcmp(op, "user-remove"))
		return do_user_remove(c, req, who);
	if (!strcmp(op, "key-rotate"))
		return do_key_rotate(c, who);
	if (!strcmp(op, "key-rewrap"))
		return do_key_rewrap(c, who);
	return err_reply(EOPNOTSUPP, "unknown op '%.32s'", op);
}

/* ---- one connection ---------------------------------------------------------- */

/* Read one line (without its newline) into buf within the deadline: its
 * length, -EMSGSIZE past CTL_MSG_MAX, -ETIMEDOUT, -ECONNRESET (closed
 * early), or the errno of poll/recv. */
static ssize_t read_line(int fd, char *buf, int64_t deadline_ns)
{
	size_t len = 0;

	for (;;) {
		int64_t left = deadline_ns - clock_monotonic_ns();
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t got;
		int pr;

		if (left <= 0)
			return -ETIMEDOUT;
		pr = poll(&p, 1, (int)(left / 1000000 + 1));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		got = recv(fd, buf + len, CTL_MSG_MAX + 1 - len, MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -ECONNRESET;
		char *nl = memchr(buf + len, '\n', (size_t)got);
		len += (size_t)got;
		if (nl) {
			*nl = '\0';
			return nl - buf;
		}
		if (len > CTL_MSG_MAX)
			return -EMSGSIZE;
	}
}

static void send_reply(int fd, json_object *r, int64_t deadline_ns)
{
	const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;

	while (off <= len) {
		/* the line, then its newline */
		const char *p = off < len ? s + off : "\n";
		size_t n = off < len ? len - off : 1;
		int64_t left = deadline_ns - clock_monotonic_ns();
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t w;

		if (left <= 0 || poll(&pf, 1, (int)(left / 1000000 + 1)) <= 0)
			break;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
		if (off == len + 1)
			break;
	}
	/* The reply may hold a new secret: wipe json-c's copy of the text. */
	wcrypto_wipe((char *)s, len);
}

/* The reply's secret, in json-c's memory: wiped before it is freed. */
static void wipe_secret(json_object *r)
{
	json_object *v;

	if (json_object_object_get_ex(r, "secret_access_key", &v)) {
		char *s = (char *)json_object_get_string(v);
		wcrypto_wipe(s, strlen(s));
	}
}

/* After the reply: take what the client still sends (bounded in bytes and
 * in total time, not only per read: a client sending a byte now and then
 * must not hold the thread, and with it every other client and the
 * daemon's exit, ctl_stop) before the close, since closing a Unix socket
 * with unread input resets the connection and the client may lose the
 * reply. */
#define CTL_DRAIN_MS 1000
static void drain(int fd)
{
	char b[4096];
	size_t total = 0;
	int64_t deadline = clock_monotonic_ns() + (int64_t)CTL_DRAIN_MS * 1000000;

	shutdown(fd, SHUT_WR);
	while (total < (1u << 20)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = deadline - clock_monotonic_ns();
		ssize_t got;

		if (left <= 0 || poll(&p, 1, left < 100000000 ? (int)(left / 1000000 + 1) : 100) <= 0)
			break;
		got = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (got <= 0)
			break;
		total += (size_t)got;
	}
}

/* The client closed its end (not only its writing half: a client may
 * shut down writing after its request and still wait for the reply). */
static int client_gone(int fd)
{
	struct pollfd p = { fd, 0, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

static void serve(ctl *c, int fd)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	int64_t deadline = clock_monotonic_ns() + (int64_t)CTL_TIMEOUT_MS * 1000000;
	struct json_tokener *tok = NULL;
	json_object *req = NULL, *r;
	char *buf = NULL;
	ssize_t len;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || cl != sizeof(cr)) {
		wlog(WLOG_WARN, "control socket: cannot read the peer's credentials: %s",
		     strerror(errno));
		return;
	}
	if (cr.uid != 0 && cr.uid != c->owner) {
		wlog_refusal("ctl", c->path, NULL, cr.uid, EACCES, "ctl-peer");
		r = err_reply(EACCES, "permission denied: only root or the store's owner "
			      "(uid %u) may use the control socket", (unsigned)c->owner);
		send_reply(fd, r, deadline);
		json_object_put(r);
		drain(fd);
		return;
	}
	struct ns_caller who = { .uid = cr.uid, .gid = cr.gid, .pid = (uint32_t)cr.pid };
	buf = malloc(CTL_MSG_MAX + 2);
	if (!buf)
		return;
	len = read_line(fd, buf, deadline);
	if (len == -EMSGSIZE) {
		r = err_reply(EMSGSIZE, "request over %d bytes", CTL_MSG_MAX);
	} else if (len < 0) {
		if (len == -ETIMEDOUT)
			wlog(WLOG_WARN, "control socket: uid %u sent no request within %d ms: "
			     "dropped", (unsigned)cr.uid, CTL_TIMEOUT_MS);
		goto out;
	} else {
		tok = json_tokener_new_ex(16);
		if (tok)
			req = json_tokener_parse_ex(tok, buf, (int)len);
		if (!tok || !req || json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != (size_t)len)
			r = err_reply(EINVAL, "request is not one JSON object");
		else if (client_gone(fd)) {
			/* Queued behind a long request (a rewrap), the client
			 * gave up and told its user it failed: doing it now
			 * would be a change nobody sees the result of (a made
			 * secret no one gets). */
			wlog(WLOG_WARN, "control socket: uid %u closed the connection before its "
			     "request was served: not done", (unsigned)cr.uid);
			goto out;
		} else
			r = dispatch(c, req, &who);
	}
	/* From now: a rewrap may have taken much longer than the request's
	 * deadline. */
	send_reply(fd, r, clock_monotonic_ns() + (int64_t)CTL_TIMEOUT_MS * 1000000);
	wipe_secret(r);
	json_object_put(r);
	drain(fd);
out:
	/* The request may hold an imported secret. */
	if (req) {
		json_object *v;
		if (json_object_object_get_ex(req, "secret", &v) &&
		    json_object_is_type(v, json_type_string)) {
			char *s = (char *)json_object_get_string(v);
			wcrypto_wipe(s, (size_t)json_object_get_string_len(v));
		}
		json_object_put(req);
	}
	if (tok)
		json_tokener_free(tok);
	wcrypto_wipe(buf, CTL_MSG_MAX + 2);
	free(buf);
}

static void *ctl_thread(void *arg)
{
	ctl *c = arg;

	for (;;) {
		struct pollfd p[2] = { { c->lfd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			wlog(WLOG_ERR, "control socket: poll: %s (stopped)", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* EMFILE and the like: back off instead of spinning. */
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				poll(NULL, 0, 100);
			continue;
		}
		serve(c, fd);
		close(fd);
	}
	return NULL;
}

/* ---- start / stop --------------------------------------------------------------- */

int ctl_start(ns *n, const char *store_path, ctl **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	ctl *c;
	int rc;

	*out = NULL;
	if (stat(store_path, &st))
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n = n;
	c->owner = st.st_uid;
	snprintf(c->ident, sizeof(c->ident), "%ju:%ju", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino);
	c->lfd = c->wake[0] = c->wake[1] = -1;
	if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", store_path, CTL_SOCK_NAME) >=
		    sizeof(c->path) ||
	    strlen(c->path) >= sizeof(sa.sun_path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->lfd < 0 || pipe2(c->wake, O_CLOEXEC))
		goto fail;
	/* We hold the run lock: a socket file here is a dead daemon's. */
	if (unlink(c->path) && errno != ENOENT)
		goto fail;
	/* Between bind and chmod the umask's mode applies: the peer check
	 * refuses others whatever the mode. */
	if (bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	/* Never through a symlink put in the socket's place meanwhile (the
	 * store's owner may write the directory): that would chmod its target. */
	if (fchmodat(AT_FDCWD, c->path, 0600, AT_SYMLINK_NOFOLLOW) || listen(c->lfd, 16))
		goto fail_unlink;
	rc = pthread_create(&c->th, NULL, ctl_thread, c);
	if (rc) {
		errno = rc;
		goto fail_unlink;
	}
	wlog(WLOG_INFO, "control socket %s (root and uid %u)", c->path, (unsigned)c->owner);
	*out = c;
	return 0;
fail_unlink:
	rc = -errno;
	unlink(c->path);
	errno = -rc;
fail:
	rc = -errno;
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c);
	return rc;
}

void ctl_stop(ctl *c)
{
	char b = 1;

	if (!c)
		return;
	while (write(c->wake[1], &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(c->th, NULL);
	close(c->lfd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	free(c);
}
