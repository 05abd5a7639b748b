#!/usr/bin/env bash
# Review of the POSIX mount against the locks (adversarial review, rv-posix).
#
# A lock on an object unlinked while open: the object has no name any more
# and goes away at its last close, so a lock set on it through a descriptor
# (fsetxattr, or setxattr on /proc/self/fd/N) would be a COMPLIANCE lock,
# recorded in the audit trail, on an object the mount then deletes: a
# locked object removed through the mount, and `wormctl verify` reporting
# the store DAMAGED ("a lock in force ... but no object holds it") for as
# long as the lock would have lasted (up to 100 years), which any object
# owner could trigger. Refused with ENOENT (nothing left to lock), like
# the commit at close that applies no bucket default to such an object.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
B=$M/rvposix
check_errno "mkdir bucket" OK mkdir "$B"
chmod 0777 "$B"

# ---- root: a descriptor kept open over the unlink
h write "$B/gone" "content" >/dev/null
exec 3<"$B/gone"
check_errno "unlink of the mutable object (descriptor still open)" OK unlink "$B/gone"
check_errno "COMPLIANCE retention on the unlinked object: ENOENT" ENOENT \
	setxattr /proc/self/fd/3 user.worm.retention "COMPLIANCE +1y"
check_errno "legal hold on the unlinked object: ENOENT" ENOENT \
	setxattr /proc/self/fd/3 user.worm.legal-hold ON
check_errno "append-only on the unlinked object: ENOENT" ENOENT \
	setxattr /proc/self/fd/3 user.worm.append-only ON
check_eq "the unlinked object is still mutable" mutable "$(h getxattr /proc/self/fd/3 user.worm.state)"
check_eq "and still readable through the descriptor" content "$(cat <&3)"
exec 3<&-

# ---- an expired object (deletable) renamed over while open: no new lock
h write "$B/exp" "old" >/dev/null
h setxattr "$B/exp" user.worm.retention "GOVERNANCE +1d" >/dev/null
h removexattr "$B/exp" user.worm.retention >/dev/null
check_eq "the object is expired" expired "$(worm_state "$B/exp")"
h write "$B/new" "new" >/dev/null
exec 3<"$B/exp"
check_errno "rename onto the expired object: EPERM (sealed target)" EPERM rename "$B/new" "$B/exp"
check_errno "unlink of the expired object" OK unlink "$B/exp"
check_errno "GOVERNANCE retention on the unlinked expired object: ENOENT" ENOENT \
	setxattr /proc/self/fd/3 user.worm.retention "GOVERNANCE +30d"
exec 3<&-

# ---- a non-root owner: the same through its own descriptor. The user's
# shell execs the harness itself (setpriv's exec, which still holds root's
# capabilities, is bash's), so it runs a copy in T_BASE: the build may sit
# below a directory TEST_UID cannot enter (a clone under mktemp -d).
UHARNESS=$T_BASE/uharness
install -m 0755 "$HARNESS" "$UHARNESS"
out=$(as_user bash -c 'f=$1/mine; printf data >"$f" && exec 3<"$f" && rm "$f" &&
	"$2" setxattr /proc/self/fd/3 user.worm.retention "COMPLIANCE +36500d"' _ "$B" "$UHARNESS" 2>&1)
check_eq "non-root owner: COMPLIANCE +100y on its unlinked object: ENOENT" ENOENT "$out"

# A linked object still takes a lock through a descriptor.
h write "$B/kept" "kept" >/dev/null
exec 3<"$B/kept"
check_errno "retention through a descriptor of a linked object" OK \
	setxattr /proc/self/fd/3 user.worm.retention "COMPLIANCE +1d"
exec 3<&-
check_eq "it is locked" locked "$(worm_state "$B/kept")"

# ---- mknod(2) of a regular file: no handle is ever opened, so nothing
# released it and it stayed mutable (until the next mount's recovery) in
# a bucket whose default retention locks every new object: truncated to
# any size, renamed, removed. It is now created and closed at once.
mkreg() { /usr/bin/python3 -c 'import os, sys; os.mknod(sys.argv[1], 0o100644)' "$1"; }
D=$M/rvmknod
check_errno "bucket with a COMPLIANCE default" OK mkdir "$D"
chmod 0777 "$D"
h setxattr "$D" user.worm.default-retention "COMPLIANCE 1d" >/dev/null
mkreg "$D/node"
check_eq "mknod in a default-retention bucket: locked at once" locked "$(worm_state "$D/node")"
check_match "... with the default's retention" "^COMPLIANCE " "$(h getxattr "$D/node" user.worm.retention)"
check_errno "... truncate(2): EPERM" EPERM truncate "$D/node" 4096
check_errno "... rename: EPERM" EPERM rename "$D/node" "$D/moved"
check_errno "... unlink: EPERM" EPERM unlink "$D/node"
out=$(as_user /usr/bin/python3 -c 'import os, sys; os.mknod(sys.argv[1], 0o100644)' "$D/users" 2>&1)
check_eq "a non-root user's mknod: created" "" "$out"
check_eq "... locked at once too" locked "$(worm_state "$D/users")"
check_eq "... owned by the user" "$TEST_UID" "$(stat -c %u "$D/users")"
A=$M/rvmknodac
check_errno "bucket with a default and autocommit 1s" OK mkdir "$A"
h setxattr "$A" user.worm.default-retention "GOVERNANCE 1d" >/dev/null
h setxattr "$A" user.worm.autocommit 1s >/dev/null
mkreg "$A/idle"
check_eq "mknod in an autocommit bucket: mutable until idle" mutable "$(worm_state "$A/idle")"
wait_state "$A/idle" locked 30
check_eq "... then autocommitted" locked "$(worm_state "$A/idle")"
mkreg "$B/plain"
check_eq "mknod in a bucket without a default: mutable" mutable "$(worm_state "$B/plain")"
check_errno "... and writable" OK write "$B/plain" "later"

# ---- O_RDONLY|O_APPEND: design section 4 refuses an open with O_APPEND
# on a sealed object (EPERM), whatever the access mode; it succeeded.
h write "$B/roapp" "sealed" >/dev/null
h setxattr "$B/roapp" user.worm.retention "COMPLIANCE +1d" >/dev/null
check_errno "sealed object: open O_RDONLY|O_APPEND: EPERM" EPERM open "$B/roapp" RDONLY,APPEND
check_eq "... as a non-root user too" EPERM "$(as_user "$UHARNESS" open "$B/roapp" RDONLY,APPEND 2>&1)"
check_errno "... open O_RDONLY: allowed" OK open "$B/roapp" RDONLY
h write "$B/roexp" "expired" >/dev/null
h setxattr "$B/roexp" user.worm.retention "GOVERNANCE +1d" >/dev/null
h removexattr "$B/roexp" user.worm.retention >/dev/null
check_errno "expired object: open O_RDONLY|O_APPEND: EPERM" EPERM open "$B/roexp" RDONLY,APPEND
h write "$B/roaworm" "log" >/dev/null
h setxattr "$B/roaworm" user.worm.append-only ON >/dev/null
h setxattr "$B/roaworm" user.worm.retention "COMPLIANCE +1d" >/dev/null
check_errno "appendable WORM object: open O_RDONLY|O_APPEND: allowed" OK open "$B/roaworm" RDONLY,APPEND
check_errno "mutable object: open O_RDONLY|O_APPEND: allowed" OK open "$B/plain" RDONLY,APPEND

check "unmount" umount_fs "$M"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify: exit 0 (no lock recorded on an object that is gone)" 0 "$?"
check_match "wormctl verify: all intact" "all intact" "$out"
out=$("$WORMCTL" audit "$S" 2>&1)
check_eq "the audit trail records no lock on an unlinked object" "" \
	"$(grep -E 'kind=(retention|legal-hold|append-only) op=set path=/rvposix/#' <<<"$out")"

done_testing
