/* ctl: the control socket (design section 16), a front end beside fs and
 * s3. While a store is mounted the daemon is its only writer, so wormctl
 * commands that change it (S3 users, key rotate and rewrap) are sent to the daemon
 * over a Unix socket in the store, STORE/ctl.sock (mode 0600). The peer's
 * credentials (SO_PEERCRED) are checked: root or the owner of the store
 * directory only; anyone else is refused and logged.
 *
 * Protocol: one request per connection. The client sends one JSON object
 * on one line (at most CTL_MSG_MAX bytes, newline-terminated), the daemon
 * answers one JSON object on one line and closes:
 *   {"op":"user-add","name":N,"uid":U,"gid":G,"groups":[..],"admin":B,
 *    ["access_key_id":ID,"secret":S]}  -> {"ok":true,"user":{..},
 *                                          "secret_access_key":S}
 *   {"op":"user-list"}                 -> {"ok":true,"users":[{..},..]}
 *   {"op":"user-remove","name":N}      -> {"ok":true}
 *   {"op":"key-rotate"}                -> {"ok":true,"version":V}
 *   {"op":"key-rewrap"}                -> {"ok":true,"count":N,"version":V}
 *     (as long as the rewrap takes: the client waits without a deadline)
 *   any failure -> {"ok":false,"errno":E,"error":"one line"}
 * Any request may carry "store":"DEV:INO", the store directory's device
 * and inode as the client found them; one that is not this daemon's
 * store's is refused (EXDEV): a symbolic link put in place of the socket
 * in a store directory a user may write leads to another store's daemon.
 * A user object: name, access_key_id, uid, gid, groups, admin, created
 * (seconds), damaged. Bad input (not JSON, too long, unknown op, wrong
 * types) gets an error reply; a client that sends nothing for
 * CTL_TIMEOUT_MS is dropped. One thread serves the socket, never a FUSE
 * request thread. */
#ifndef WORMFS_CTL_H
#define WORMFS_CTL_H

#include "ns.h"

#define CTL_SOCK_NAME "ctl.sock"
#define CTL_MSG_MAX 65536
#define CTL_TIMEOUT_MS 5000
/* The longest reply a client takes: user-list of NS_USER_MAX users, each
 * at its longest (name, key id, 32 groups: under 800 bytes of JSON). */
#define CTL_REPLY_MAX (16u << 20)

typedef struct ctl ctl;

/* Listen on STORE/ctl.sock (a file left there by a daemon that died is
 * removed: the caller holds the store's run lock, so no other daemon
 * serves it) and start the serving thread. store_path: absolute.
 * Errors: -ENAMETOOLONG the socket path does not fit sockaddr_un; the
 * errno of socket, bind, listen, chmod or pthread_create. */
WORM_MUST_USE
int ctl_start(ns *n, const char *store_path, ctl **out);
/* Stop the thread (a request in progress finishes first), close and
 * remove the socket, free c (may be NULL). Before ns_close. */
void ctl_stop(ctl *c);

#endif
