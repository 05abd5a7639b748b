/* s3_stale: uploads a daemon killed in the middle of a PutObject or
 * CopyObject left behind. Their temporary objects (S3_UPLOAD_PREFIXES)
 * are never visible as keys and never locked (ns_create_upload: no
 * pending default before the rename), so at the next start the daemon
 * removes them: only those names, only regular files, only unlocked ones
 * (ns decides; a refusal is logged and the file left), each logged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include "policy.h"
#include "s3.h"

/* The temporary names of this front end, one prefix each (the multipart
 * code's part uploads use the same one), each followed by exactly what
 * s3_object.c appends: the request id (16 upper-case hex digits), '-',
 * 64 random bits (16 lower-case hex digits). A file made through the
 * mount under another name with the prefix is not ours: left alone. */
static const char *const upload_prefixes[] = { ".s3-upload-" };

struct stale_list {
	char **path;
	size_t n, cap;
	int err;
};

static int hex_run(const char *s, const char *digits)
{
	for (int i = 0; i < 16; i++)
		if (!s[i] || !strchr(digits, s[i]))
			return 0;
	return 1;
}

static int is_upload_name(const char *name)
{
	for (size_t i = 0; i < sizeof(upload_prefixes) / sizeof(upload_prefixes[0]); i++) {
		size_t pl = strlen(upload_prefixes[i]);
		const char *t = name + pl;
		if (strncmp(name, upload_prefixes[i], pl) == 0 && strlen(t) == 33 &&
		    hex_run(t, "0123456789ABCDEF") && t[16] == '-' &&
		    hex_run(t + 17, "0123456789abcdef"))
			return 1;
	}
	return 0;
}

static int collect(void *arg, const struct ns_entry *e)
{
	struct stale_list *l = arg;
	const char *base = strrchr(e->path, '/');

	/* Only below a bucket (a temporary object is never a bucket). */
	if (!base || !S_ISREG(e->attr.mode) || !is_upload_name(base + 1))
		return 0;
	if (e->state == STATE_LOCKED || e->hold == HOLD_ON) {
		char q[1024];
		wlog(WLOG_WARN, "s3: stale upload path=%s is locked: left in place",
		     wlog_quote(e->path, q, sizeof(q)));
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->path, cap * sizeof(*p));
		if (!p)
			return l->err = -ENOMEM;
		l->path = p;
		l->cap = cap;
	}
	if (!(l->path[l->n] = strdup(e->path)))
		return l->err = -ENOMEM;
	l->n++;
	return 0;
}

/* Remove one by its path, resolved again now: the walk's snapshot is over. */
static int remove_path(ns *n, char *path)
{
	static const struct ns_caller root = { 0 };
	struct ns_attr a = { .ino = NS_INO_ROOT };
	char *save = NULL, *comp = strtok_r(path, "/", &save), *next;
	int rc = 0;

	while (comp && (next = strtok_r(NULL, "/", &save))) {
		rc = ns_lookup(n, a.ino, comp, &a);
		if (rc)
			return rc;
		if (!S_ISDIR(a.mode))
			return -ENOTDIR;
		comp = next;
	}
	return comp ? ns_unlink(n, &root, a.ino, comp) : -EINVAL;
}

long s3_remove_stale_uploads(ns *n)
{
	struct stale_list l = { NULL, 0, 0, 0 };
	long removed = 0;
	int rc = ns_walk(n, collect, &l);

	if (rc < 0 || l.err) {
		rc = l.err ? l.err : rc;
		wlog(WLOG_WARN, "s3: cannot look for stale uploads: %s", strerror(-rc));
	}
	for (size_t i = 0; i < l.n; i++) {
		char shown[1024];
		wlog_quote(l.path[i], shown, sizeof(shown));   /* before strtok cuts it */
		int r = remove_path(n, l.path[i]);
		if (!r) {
			removed++;
			wlog(WLOG_INFO, "s3: removed the stale upload path=%s (left by a stopped daemon)",
			     shown);
		} else if (r != -ENOENT) {
			wlog(WLOG_WARN, "s3: cannot remove the stale upload path=%s: %s", shown,
			     strerror(-r));
		}
		free(l.path[i]);
	}
	free(l.path);
	return rc < 0 ? rc : removed;
}
