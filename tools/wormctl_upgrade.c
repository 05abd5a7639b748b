/* wormctl upgrade: rewrite format-1/2 content files in format 3, offline
 * (ns_upgrade; README, Limitations "Block freshness needs format 3"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wormctl.h"

struct up_out {
	const struct wctl_opts *o;
	json_object *list;        /* --json: one entry per object */
};

static void item_cb(void *arg, const struct ns_upgrade_item *it)
{
	struct up_out *u = arg;

	if (u->list) {
		json_object *e = json_object_new_object();
		wctl_json_add_path(e, "path", it->path);
		json_object_object_add(e, "ino", json_object_new_int64((int64_t)it->ino));
		json_object_object_add(e, "content_file", json_object_new_string(it->objid));
		json_object_object_add(e, "format", json_object_new_int64(it->format));
		json_object_object_add(e, "size", json_object_new_int64((int64_t)it->size));
		json_object_object_add(e, "result", json_object_new_string(
			it->rc ? "not-upgraded" : u->o->dry_run ? "would-upgrade" : "upgraded"));
		json_object_object_add(e, "reason", wctl_json_str(it->why));
		json_object_array_add(u->list, e);
		return;
	}
	if (it->rc)
		wctl_out("NOT UPGRADED %s (inode %" PRIu64 ", content file %s): %s (%s)", it->path,
			 it->ino, it->objid, it->why ? it->why : "?", strerror(-it->rc));
	else
		wctl_out("%s %s (format %u, %" PRIu64 " bytes)",
			 u->o->dry_run ? "would upgrade" : "upgraded", it->path, it->format,
			 it->size);
}

int wctl_upgrade(const struct wctl_opts *o)
{
	struct up_out u = { o, NULL };
	struct ns_upgrade_opts uo;
	struct ns_upgrade_stats st;
	const char *why;
	ns *n = NULL;
	int rc;

	/* A dry run writes nothing, not even the open marker: read only. It
	 * still refuses a store in use (content may be mid-write). */
	if (wctl_open_store(o, o->pos[0], NS_CHECK_DIGEST | (o->dry_run ? NS_RDONLY : 0), &n))
		return WCTL_FAIL;
	if (o->dry_run && ns_store_live(n)) {
		ns_close(n);
		return wctl_err("%s %s: the store is mounted, or was not closed cleanly (mount and "
				"unmount it once to recover it)", o->cmd, o->pos[0]);
	}
	why = ns_digest_problem(n);
	if (why) {
		wctl_err("%s %s: the metadata state digest %s: nothing upgraded (wormctl verify "
			 "and repair first)", o->cmd, o->pos[0], why);
		ns_close(n);
		return WCTL_FAIL;
	}
	memset(&uo, 0, sizeof(uo));
	uo.dry_run = o->dry_run;
	uo.cb = item_cb;
	uo.arg = &u;
	if (o->json)
		u.list = json_object_new_array();
	rc = ns_upgrade(n, &uo, &st);
	ns_close(n);
	if (o->json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "dry_run", json_object_new_boolean(o->dry_run));
		json_object_object_add(j, "upgraded", json_object_new_int64((int64_t)st.upgraded));
		json_object_object_add(j, "failed", json_object_new_int64((int64_t)st.failed));
		json_object_object_add(j, "skipped", json_object_new_int64((int64_t)st.skipped));
		json_object_object_add(j, "bytes", json_object_new_int64((int64_t)st.bytes));
		json_object_object_add(j, "objects", u.list);
		json_object_object_add(j, "error", rc ? json_object_new_string(strerror(-rc))
						      : NULL);
		wctl_json_print(j);
	}
	if (rc)
		return wctl_err("%s %s: stopped: %s (%" PRIu64 " object(s) upgraded before; run "
				"it again)", o->cmd, o->pos[0], strerror(-rc), st.upgraded);
	if (!o->json)
		printf("%s: %" PRIu64 " object(s) %s, %" PRIu64 " not upgraded, %" PRIu64
		       " already in format 3\n", o->pos[0], st.upgraded,
		       o->dry_run ? "to upgrade" : "upgraded", st.failed, st.skipped);
	if (st.failed)
		return wctl_err("%s %s: %" PRIu64 " object(s) not upgraded (listed above)", o->cmd,
				o->pos[0], st.failed);
	return WCTL_OK;
}
