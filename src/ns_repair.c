/* ns_repair: re-attach a node that no directory entry names (its entry
 * was removed offline; wormctl verify reports it), and repair the inode
 * counter. The node keeps its record, lock included; it gets a new name
 * under its bucket's recovery directory, and the count of children moves
 * from its old parent (which could not be removed while it held it) to
 * that directory. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ns_path.h"
#include "ns_record.h"
#include "ns_trail.h"
#include "ns_tree.h"
#include "ns_virt.h"
#include "log.h"

struct find_ino {
	uint64_t ino;
	int found;
};

static int find_cb(void *arg, const char *name, uint64_t ino, uint64_t cookie)
{
	struct find_ino *f = arg;
	(void)name;
	(void)cookie;
	if (ino == f->ino)
		f->found = 1;
	return f->found;
}

/* The directory nd's old parent, if it still is one, gives up a child. */
static int old_parent_release(ns *n, meta_txn *t, const struct meta_node *nd)
{
	struct meta_node p;
	int rc = ns_node_get(n, t, nd->parent, &p);

	if (rc == -ENOENT || (!rc && !S_ISDIR(p.mode)))
		return 0;
	if (rc)
		return rc;
	if (p.flags & NS_F_AUTH_FAILED)
		return 0;   /* left as it is: verify goes on reporting it */
	if (p.children)
		p.children--;
	if (S_ISDIR(nd->mode) && p.nlink > 2)
		p.nlink--;
	return ns_node_put(n, t, &p);
}

int ns_reattach(ns *n, uint64_t ino, char *path, size_t len)
{
	static const struct ns_caller root = { .umask = 077 };
	meta_txn *t = NULL;
	struct meta_node nd, b, dir, p;
	struct find_ino f = { ino, 0 };
	char name[32];
	uint64_t dino, target;
	int rc;

	if (n->flags & NS_RDONLY)
		return -EROFS;
	if (ino == NS_INO_ROOT || ns_is_virtual(ino))
		return -EINVAL;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc)
		goto out;
	if (nd.flags & NS_F_AUTH_FAILED) {
		rc = -EPERM;
		goto out;
	}
	if (nd.nlink == 0) {
		rc = -EINVAL;
		goto out;
	}
	/* Named where its record says it lives: nothing to do. (An entry
	 * elsewhere that names it is reported by verify as a second name.) */
	rc = meta_readdir(t, nd.parent, 0, find_cb, &f);
	if (rc)
		goto out;
	if (f.found) {
		rc = -EEXIST;
		goto out;
	}
	if (nd.parent == NS_INO_ROOT) {
		/* A bucket: named again at the root. */
		snprintf(name, sizeof(name), "recovered-%llu", (unsigned long long)ino);
		target = NS_INO_ROOT;
	} else {
		rc = ns_bucket_of(n, t, &nd, &b);
		if (rc)
			goto out;
		rc = meta_dirent_get(t, b.ino, NS_RECOVER_DIR, &dino);
		if (rc == -ENOENT) {
			rc = ns_node_new(n, t, &root, b.ino, NS_RECOVER_DIR, S_IFDIR | 0700, &dir);
			dino = dir.ino;
		}
		if (rc)
			goto out;
		snprintf(name, sizeof(name), "%llu", (unsigned long long)ino);
		target = dino;
	}
	rc = old_parent_release(n, t, &nd);
	if (!rc)
		rc = meta_dirent_add(t, target, name, ino);
	if (!rc)
		rc = ns_node_get(n, t, target, &p);
	if (!rc && (p.flags & NS_F_AUTH_FAILED || !S_ISDIR(p.mode)))
		rc = -EIO;
	if (rc)
		goto out;
	p.children++;
	if (S_ISDIR(nd.mode))
		p.nlink++;
	rc = ns_node_put(n, t, &p);
	if (!rc) {
		nd.parent = target;
		rc = ns_node_put(n, t, &nd);
	}
	if (rc)
		goto out;
	rc = meta_txn_commit(t);
	t = NULL;
	if (!rc)
		rc = ns_durable(n);
	if (!rc) {
		ns_path_of(n, ino, path, len);
		wlog(WLOG_WARN, "inode %llu, which no directory entry named, re-attached as %s",
		     (unsigned long long)ino, path);
	}
	return rc;
out:
	if (t)
		meta_txn_abort(t);
	return rc;
}

int ns_repair_counter(ns *n)
{
	meta_txn *t = NULL;
	uint64_t before = 0, after = 0;
	int rc;

	if (n->flags & NS_RDONLY)
		return -EROFS;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = meta_ino_repair(t, &before, &after);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	if (before == after) {
		meta_txn_abort(t);
		return 0;
	}
	rc = meta_txn_commit(t);
	if (!rc)
		rc = ns_durable(n);
	if (rc)
		return rc;
	wlog(WLOG_WARN, "inode counter re-sealed at %llu (it read %llu)",
	     (unsigned long long)after, (unsigned long long)before);
	return 1;
}
