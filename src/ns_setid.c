/* ns_setid: clearing set-id bits on write and truncate, which the kernel
 * leaves to the file system once FUSE_HANDLE_KILLPRIV is negotiated
 * (fs.c). The rule is the kernel's should_remove_suid(): a caller without
 * CAP_FSETID who writes to or truncates a regular file clears S_ISUID, and
 * S_ISGID when the file is group-executable (S_ISGID without S_IXGRP marks
 * mandatory locking, not set-group-id). chown's clearing is in
 * ns_setattr (ns_attr.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ns_record.h"
#include "ns_refusal.h"
#include "ns_setid.h"

#define CAP_FSETID_BIT 4   /* linux/capability.h CAP_FSETID */

static uint32_t kill_bits(uint32_t mode)
{
	uint32_t k = 0;

	if (!S_ISREG(mode))
		return 0;
	if (mode & S_ISUID)
		k |= S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		k |= S_ISGID;
	return k;
}

/* Whether the calling thread holds CAP_FSETID, from CapEff in
 * /proc/TID/status (FUSE gives the caller's thread id), in the daemon's
 * user namespace: the kernel asks capable(), so a capability held only
 * inside a user namespace of its own does not count. Unknown (the
 * caller is gone, pid 0): no, so the bits are cleared, the safe side. */
static int caller_has_fsetid(const struct ns_caller *c)
{
	char path[64], buf[4096];
	unsigned long long eff;
	struct stat mine, theirs;
	const char *p;
	ssize_t k;
	int fd;

	if (c->pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/ns/user", (unsigned)c->pid);
	if (stat("/proc/self/ns/user", &mine) || stat(path, &theirs) ||
	    mine.st_dev != theirs.st_dev || mine.st_ino != theirs.st_ino)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/status", (unsigned)c->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return 0;
	buf[k] = '\0';
	p = strstr(buf, "\nCapEff:");
	if (!p || sscanf(p + 8, "%llx", &eff) != 1)
		return 0;
	return (eff >> CAP_FSETID_BIT) & 1;
}

int ns_kill_setid(ns *n, const struct ns_caller *c, uint64_t ino)
{
	struct policy_lock lk;
	struct policy_caller pc;
	struct meta_node nd;
	meta_txn *t = NULL;
	const char *rule = NULL;
	int rc;

	/* The common case, no set-id bit, costs one read transaction. */
	rc = ns_node_read(n, ino, &nd);
	if (rc)
		return rc == -ENOENT ? 0 : rc;   /* unlinked while open: no record */
	if (!kill_bits(nd.mode) || caller_has_fsetid(c))
		return 0;
	rc = meta_txn_begin(n->me, 0, &t);
	if (rc)
		return rc;
	rc = ns_node_get(n, t, ino, &nd);
	if (rc || !kill_bits(nd.mode)) {
		meta_txn_abort(t);
		return rc == -ENOENT ? 0 : rc;
	}
	/* A mode change of a sealed object is refused like a chmod: the write
	 * or truncate it comes with is refused as well. Not a chmod on an
	 * append-only object: its appends clear the bits (as on Linux). */
	ns_node_lock(&nd, &lk);
	ns_caller_policy(c, &pc);
	rc = policy_check(&n->cfg.rules, &pc, &lk, POP_KILL_SETID, ns_clock_now(n), &rule);
	if (rc) {
		meta_txn_abort(t);
		return ns_refuse(n, SOP_WRITE, ino, NULL, c, rc, rule);
	}
	nd.mode &= ~kill_bits(nd.mode);
	nd.ctime_ns = clock_realtime_ns();
	rc = ns_node_put(n, t, &nd);
	if (rc) {
		meta_txn_abort(t);
		return rc;
	}
	rc = meta_txn_commit(t);
	if (!rc && c->setid_cleared)
		*c->setid_cleared = 1;
	return rc;
}
