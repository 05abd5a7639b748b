/* ns_refusal: a refusal, counted, logged with the object's path and queued
 * to the audit trail (the lock changes themselves are logged by
 * ns_trail_lock). */
#include <stdio.h>
#include <string.h>

#include "ns_path.h"
#include "ns_refusal.h"
#include "ns_trail.h"
#include "log.h"

/* ino is the object, or the directory holding `name` for namespace
 * operations; for xattr operations `name` is the attribute. */
int ns_refuse(ns *n, enum stats_op op, uint64_t ino, const char *name,
	      const struct ns_caller *c, int err, const char *rule)
{
	/* Sized to the log field, so a deep path keeps its end (ns_path_of). */
	char path[1536], what[1900];
	int xattr = op == SOP_SETXATTR || op == SOP_REMOVEXATTR || op == SOP_GETXATTR;

	ns_path_of(n, ino, path, sizeof(path));
	if (name && !xattr)
		snprintf(what, sizeof(what), "%s%s%s", path, strcmp(path, "/") ? "/" : "", name);
	else
		snprintf(what, sizeof(what), "%s", path);
	stats_refusal(&n->stats, op);
	/* Path and attribute name are separate fields, each quoted by
	 * wlog_refusal: no name can add fields of its own. */
	wlog_refusal(stats_op_name(op), what, name && xattr ? name : NULL,
		     c ? c->uid : 0, err, rule ? rule : "-");
	ns_trail_refusal(n, stats_op_name(op), what, name && xattr ? name : NULL,
			 c ? c->uid : 0, err, rule ? rule : "-");
	return err;
}
