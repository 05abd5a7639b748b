#!/usr/bin/env bash
# Autocommit across a kill -9 at the worst moment: a writer's changes are
# committed (at its flush; WORMFS_CRASH_AT=commit kills the daemon right
# after that metadata commit) but the writer is never released. In a
# bucket with a default retention and autocommit, the deadline ("last
# change + period") was set only at the release: the kill left a changed
# object with no deadline, mutable (deletable) until its next change,
# though the change came after autocommit was set. A write open now sets
# one (as it marks a pending default in a bucket without autocommit).
# Checked without timings: the object's entry in the deadline index
# (tamper xget dueino).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }
be64() { printf '%016x' "$1"; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_errno "bucket" OK mkdir "$M/logs"
check_errno "an object from before the bucket's default" OK write "$M/logs/old" "old"
check_errno "bucket default COMPLIANCE 30d" OK setxattr "$M/logs" user.worm.default-retention "COMPLIANCE 30d"
check_errno "bucket autocommit 1h" OK setxattr "$M/logs" user.worm.autocommit "1h"
check_eq "the older object is mutable" mutable "$(worm_state "$M/logs/old")"
check "unmount" umount_fs "$M"
INO=$("$TAMPER" map "$S/meta" | awk '$6=="logs/old"{print $1}')
check_match "its inode" '^[0-9]+$' "$INO"
if "$TAMPER" xget "$S/meta" dueino "$(be64 "$INO")" >/dev/null 2>&1; then
	fail "no deadline before its change"
else
	ok "no deadline before its change"
fi

WORMFS_CRASH_AT=commit mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
h append "$M/logs/old" " more" >/dev/null 2>&1   # the flush commits, then the daemon is killed
check "the daemon was killed at the commit" crash_daemon "$M" "$S"
check_match "the hook fired" "WORMFS_CRASH_AT: killing the daemon at step commit" "$(cat "${MNT_LOG[$M]}")"
due=$("$TAMPER" xget "$S/meta" dueino "$(be64 "$INO")" 2>&1)
check_match "after the kill: the changed object has its autocommit deadline" '^[0-9a-f]{16}$' "$due"
mount_fg "$S" "$M" || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "the change is committed" "old more" "$(cat "$M/logs/old")"
check_eq "still mutable (the period has not passed)" mutable "$(worm_state "$M/logs/old")"
umount_check "$M" "after the kill"
done_testing
