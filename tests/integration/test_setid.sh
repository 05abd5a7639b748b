#!/usr/bin/env bash
# Set-id bits under FUSE_HANDLE_KILLPRIV: the kernel leaves clearing them
# to the daemon, which must do what the kernel does on a local file system
# (should_remove_suid, chown_common): write, truncate and open(O_TRUNC) by a
# caller without CAP_FSETID clear S_ISUID, and S_ISGID when the file is
# group-executable; root (CAP_FSETID) keeps them; chown clears them, also
# for root; directories keep theirs. And the point of it: a chown costs no
# GETATTR round trip before the SETATTR, and (HANDLE_KILLPRIV_V2) a write
# no GETXATTR security.capability.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
# allow_other: the writers run as another uid. A long attribute timeout
# keeps the kernel from asking for attributes it has, so the request
# count below is exact.
mount_fg "$S" "$M" -o allow_other,attr_timeout=60 || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
B=$M/bucket
mkdir "$B" && chmod 0777 "$B"

mode() { stat -c %a "$1" 2>&1; }
# mkf NAME MODE [OWNER]: a file with some content, then the mode.
mkf() {
	h write "$B/$1" "content" >/dev/null
	[ -n "${3:-}" ] && chown "$3" "$B/$1"
	chmod "$2" "$B/$1"
}

# ---- write
mkf w1 4777
check_errno_as_user "non-owner appends to a 4777 file" OK append "$B/w1" "x"
check_eq "non-owner write cleared S_ISUID" 777 "$(mode "$B/w1")"
mkf w2 6777
check_errno_as_user "non-owner writes at an offset to a 6777 file" OK pwrite "$B/w2" 2 "y"
check_eq "S_ISUID and S_ISGID (group-executable) cleared" 777 "$(mode "$B/w2")"
mkf w3 2766
check_errno_as_user "non-owner appends to a 2766 file" OK append "$B/w3" "x"
check_eq "S_ISGID without group execute is kept (not set-group-id)" 2766 "$(mode "$B/w3")"
mkf w4 4755 "$TEST_UID"
check_errno_as_user "the owner (no CAP_FSETID) appends to its 4755 file" OK append "$B/w4" "x"
check_eq "owner's write cleared S_ISUID" 755 "$(mode "$B/w4")"
mkf w6 4777
if as_user unshare --user --map-root-user true 2>/dev/null; then
	# Root with every capability, but inside a user namespace of its own
	# (made by the unprivileged test user): not CAP_FSETID for the kernel.
	check "root of a new user namespace appends to a 4777 file" \
		as_user unshare --user --map-root-user sh -c "printf x >> '$B/w6'"
	check_eq "a user namespace's CAP_FSETID does not keep S_ISUID" 777 "$(mode "$B/w6")"
else
	skip "user namespace writer" "unshare --user is not allowed here"
fi
mkf w5 6755
check_errno "root (CAP_FSETID) appends to a 6755 file" OK append "$B/w5" "x"
check_eq "root's write keeps the bits" 6755 "$(mode "$B/w5")"
check_eq "content of the files written" "contentx" "$(cat "$B/w1")"

# ---- truncate, open(O_TRUNC)
mkf t1 4777
check_errno_as_user "non-owner truncate(2) of a 4777 file" OK truncate "$B/t1" 3
check_eq "truncate cleared S_ISUID" 777 "$(mode "$B/t1")"
mkf t2 6777
check_errno_as_user "non-owner ftruncate of a 6777 file" OK ftruncate "$B/t2" 0
check_eq "ftruncate cleared both" 777 "$(mode "$B/t2")"
mkf t3 4777
check_errno_as_user "non-owner open(O_WRONLY|O_TRUNC) of a 4777 file" OK open "$B/t3" WRONLY,TRUNC
check_eq "open(O_TRUNC) cleared S_ISUID" 777 "$(mode "$B/t3")"
check_eq "and truncated" 0 "$(stat -c %s "$B/t3")"
mkf t4 4755
check_errno "root truncate of a 4755 file" OK truncate "$B/t4" 1
check_eq "root's truncate keeps S_ISUID" 4755 "$(mode "$B/t4")"

# ---- chown
mkf c1 4755
check "root chown of a 4755 file" chown "$TEST_UID" "$B/c1"
check_eq "chown cleared S_ISUID, also for root" 755 "$(mode "$B/c1")"
mkf c2 6775
check "root chgrp of a 6775 file" chgrp "$TEST_UID" "$B/c2"
check_eq "chgrp cleared S_ISUID and S_ISGID" 775 "$(mode "$B/c2")"
mkf c3 2745
check "root chown of a 2745 file" chown "$TEST_UID" "$B/c3"
check_eq "S_ISGID without group execute survives chown" 2745 "$(mode "$B/c3")"
mkdir "$B/dir" && chmod 2775 "$B/dir"
check "chown of a set-group-id directory" chown "$TEST_UID" "$B/dir"
check_eq "a directory keeps S_ISGID" 2775 "$(mode "$B/dir")"

# ---- a sealed object's mode does not change
mkf s1 4777
check "retention on a 4777 file" setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$B/s1"
check_errno_as_user "non-owner append to the sealed file: EPERM" EPERM append "$B/s1" "x"
check_errno_as_user "non-owner truncate of the sealed file: EPERM" EPERM truncate "$B/s1" 0
check_eq "the sealed file keeps its mode" 4777 "$(mode "$B/s1")"
check_eq "and its content" "content" "$(cat "$B/s1")"

# ---- the round trip saved: no GETATTR before a chown's SETATTR
getattrs() {
	sed -n 's/^wormfs_fuse_requests_total{op="GETATTR"} //p' "$M/.wormfs/stats"
}
mkf r1 0644
stat "$B/r1" >/dev/null
g0=$(getattrs)
chown "$TEST_UID" "$B/r1"
g1=$(getattrs)
check_eq "chown of a file with cached attributes sends no GETATTR" 0 "$((g1 - g0))"

# ... and, where the kernel offers HANDLE_KILLPRIV_V2 (Linux 5.11), no
# GETXATTR security.capability before every write: one after the
# attributes were refreshed, then none.
getxattrs() {
	sed -n 's/^wormfs_fuse_requests_total{op="GETXATTR"} //p' "$M/.wormfs/stats"
}
if printf '%s\n' 5.11 "$(uname -r | cut -d- -f1)" | sort -V -C; then
	mkf r2 0644
	x0=$(getxattrs)
	dd if=/dev/zero of="$B/r2" bs=4096 count=8 conv=notrunc status=none
	x1=$(getxattrs)
	check_eq "8 writes on one open file: 1 GETXATTR, not 8" 1 "$((x1 - x0))"
else
	skip "GETXATTR per write" "kernel $(uname -r) has no HANDLE_KILLPRIV_V2"
fi

umount_check "$M" "setid"
done_testing
