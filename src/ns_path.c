/* ns_path: the path of an object for logs and reports. Nodes do not store
 * their names, so a path is found by scanning each parent: never on a hot
 * path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ns_path.h"
#include "ns_record.h"
#include "ns_virt.h"
#include "names.h"

struct name_find {
	uint64_t ino;
	char *out;
	size_t len;
	int found;
};

static int name_find_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct name_find *f = arg;
	(void)cookie;
	if (ino != f->ino)
		return 0;
	snprintf(f->out, f->len, "%s", name);
	f->found = 1;
	return 1;
}

int ns_entry_name(meta_txn *t, uint64_t dir, uint64_t ino, char *out, size_t len)
{
	struct name_find f = { ino, out, len, 0 };
	/* For logs and reports only: a listing that fails before the name
	 * reads as not found, and the callers print "#ino" instead. */
	worm_discard(meta_readdir(t, dir, 0, name_find_cb, &f));
	return f.found;
}

/* Path of an inode from the root, for logs. Nodes do not store their own
 * names, so each level scans its parent: fine for refusals and lock
 * changes, never used on a hot path. Built from the object up, so when
 * the path does not fit in buf (a deep tree) the object's end is kept and
 * the start shows as "/...". The buffer bounds the levels read, so an
 * edited parent loop ends too. */
int ns_path_of(ns *n, uint64_t ino, char *buf, size_t len)
{
	char comp[META_NAME_MAX + 1];
	meta_txn *t = NULL;
	struct meta_node nd;
	size_t pos;
	int rc;

	if (len < 8)
		return -ERANGE;
	buf[0] = '\0';
	if (ns_is_virtual(ino)) {
		const char *vn = worm_ctl_name(ino);
		snprintf(buf, len, "/%s%s%s", NAMES_CTL_DIR, vn ? "/" : "", vn ? vn : "");
		return 0;
	}
	rc = meta_txn_begin(n->me, 1, &t);
	if (rc)
		return rc;
	pos = len - 1;
	buf[pos] = '\0';
	while (ino != NS_INO_ROOT) {
		rc = ns_node_get(n, t, ino, &nd);
		if (rc)
			break;
		if (!ns_entry_name(t, nd.parent, ino, comp, sizeof(comp)))
			snprintf(comp, sizeof(comp), "#%llu", (unsigned long long)ino);
		size_t k = strlen(comp);
		if (k + 1 + 4 > pos) {
			/* No room for this level and the marker: cut here. */
			memcpy(buf + pos - 4, "/...", 4);
			pos -= 4;
			break;
		}
		pos -= k + 1;
		buf[pos] = '/';
		memcpy(buf + pos + 1, comp, k);
		ino = nd.parent;
	}
	meta_txn_abort(t);
	memmove(buf, buf + pos, len - pos);
	if (!buf[0])
		snprintf(buf, len, "/");
	return rc;
}
