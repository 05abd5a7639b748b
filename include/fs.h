/* fs: the FUSE low-level glue. The only module that includes fuse.h:
 * translates requests to ns calls and replies. Thin callbacks: no lock
 * rule is decided here. */
#ifndef WORMFS_FS_H
#define WORMFS_FS_H

#include "ns.h"

struct fs_params {
	const char *mountpoint;
	const char *fsname;       /* shown in /proc/mounts (fs_run escapes it) */
	int foreground;
	int debug;
	int single_thread;
	unsigned max_threads;
	double attr_timeout;      /* mutable objects; sealed ones get longer */
	const char *mount_opts;   /* comma list passed to libfuse (may be NULL) */
	unsigned max_read;        /* the max_read= in mount_opts (checked), 0 = none */
	/* Called once when the mount is up, before any thread of fs_run
	 * starts and before the first request is served (main.c: tell the
	 * waiting parent, detach stdio, switch the log to syslog). NULL: none. */
	void (*on_mounted)(void *arg);
	void *on_mounted_arg;
};

/* Mount, serve until unmounted or signalled, unmount. Returns 0 or a
 * non-zero exit status (errors already printed). */
int fs_run(ns *n, const struct fs_params *p);

#endif
