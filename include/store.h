/* store: the on-disk layout of a store directory.
 *
 *   STORE/               0700
 *     FORMAT             "wormfs-store <version>\n"  (format marker)
 *     wormfs.conf        commented configuration
 *     meta/              LMDB environment (meta module)
 *     keys/              key ring (kms module), 0700
 *     objects/XX/ID      content files named by random 128-bit ids (hex),
 *                        XX = first two hex chars; never by path
 *     run.lock           flock'ed exclusively by the daemon while mounted
 *     head               the latest signed store head, outside meta/ (head.h)
 *
 * Functions return 0 or -errno; err (when given) receives one clear line. */
#ifndef WORMFS_STORE_H
#define WORMFS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "wormcc.h"

/* Format 2 added inline objects (obj.h). A format 1 store is opened and
 * upgraded to 2 by the first writable open (ns_open), so a build from
 * before inline objects refuses it instead of failing on its records. */
#define STORE_FORMAT_VERSION 2
#define STORE_FORMAT_OLDEST 1
#define STORE_OBJID_BYTES 16
#define STORE_OBJID_HEX (2 * STORE_OBJID_BYTES)
/* What to tell the user when store_lock returns -EBUSY. */
#define STORE_BUSY_MSG "store is in use by a running wormfs"

typedef struct store store;

/* Create the layout in path (created if absent; must be empty if present:
 * -ENOTEMPTY). Writes FORMAT and wormfs.conf (conf_text) and makes meta/,
 * keys/, objects/ (with the 256 XX subdirectories). Key ring and database
 * are created by the caller (ns_store_init). */
WORM_MUST_USE
int store_create(const char *path, const char *conf_text, char *err, size_t errlen);
/* Open an existing store: checks it is a directory with a FORMAT marker
 * of a known version (STORE_FORMAT_OLDEST..STORE_FORMAT_VERSION) (-EPROTO unknown version, -ENOTDIR/-ENOENT not a
 * store "PATH is not a wormfs store (no FORMAT file)"; -EBADMSG for a
 * malformed FORMAT). Holds a dirfd. */
WORM_MUST_USE
int store_open(const char *path, store **out, char *err, size_t errlen);
/* The version in FORMAT (STORE_FORMAT_OLDEST..STORE_FORMAT_VERSION). */
unsigned store_format(const store *s);
/* Rewrite FORMAT (atomically, synced) with version v. */
WORM_MUST_USE
int store_set_format(store *s, unsigned v);
void store_close(store *s);
const char *store_path(const store *s);   /* absolute path */
/* Paths inside the store (static layout), written to buf. */
WORM_MUST_USE
int store_subpath(const store *s, const char *rel, char *buf, size_t len);

/* Take the run lock: exclusive (daemon, offline writers) or shared
 * (offline readers don't need it). Non-blocking: -EBUSY if held elsewhere.
 * Released by store_close. */
WORM_MUST_USE
int store_lock(store *s, int exclusive);

/* Object content files, relative to objects/. flags as open(2). */
void store_objid_new(uint8_t id[STORE_OBJID_BYTES]);
/* 32 lowercase hex chars + NUL (the file name; for logs). */
void store_objid_hex(const uint8_t id[STORE_OBJID_BYTES],
		     char out[STORE_OBJID_HEX + 1]);
/* Inverse of store_objid_hex: exactly 32 lowercase hex chars. 0 or -EINVAL. */
WORM_MUST_USE
int store_objid_parse(const char *hex, uint8_t id[STORE_OBJID_BYTES]);
WORM_MUST_USE
int store_obj_open(store *s, const uint8_t id[STORE_OBJID_BYTES], int flags, int *fd);
/* Removes the content file and its block maps (side files .m0, .m1). */
WORM_MUST_USE
int store_obj_unlink(store *s, const uint8_t id[STORE_OBJID_BYTES]);
/* Side files of an object: "XX/<hex><suffix>" (suffix <= 8 chars, e.g.
 * ".u" for its undo journal). store_obj_foreach reports them with
 * id == NULL. */
WORM_MUST_USE
int store_aux_open(store *s, const uint8_t id[STORE_OBJID_BYTES], const char *suffix,
		   int flags, int *fd);
WORM_MUST_USE
int store_aux_unlink(store *s, const uint8_t id[STORE_OBJID_BYTES], const char *suffix);
/* Iterate every object file: cb(id) for each well-named file; other names
 * are reported with id == NULL and the name. name is relative to objects/
 * ("XX/NAME") in both cases. A nonzero return from cb stops the walk and
 * is returned. flags of store_obj_open get O_CLOEXEC|O_NOFOLLOW, mode 0600. */
typedef int (*store_obj_cb)(void *arg, const uint8_t *id, const char *name);
WORM_MUST_USE
int store_obj_foreach(store *s, store_obj_cb cb, void *arg);
/* fsync the objects/XX directory holding id (after create/unlink). */
WORM_MUST_USE
int store_obj_syncdir(store *s, const uint8_t id[STORE_OBJID_BYTES]);
/* statvfs of the backing file system. */
struct statvfs;
WORM_MUST_USE
int store_statfs(store *s, struct statvfs *st);

#endif
