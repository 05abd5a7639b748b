#!/bin/bash
# test_fault_owed_autocommit: a bucket default owed after a failed release
# (EIO on data.mdb past the RELEASE) when autocommit is turned on for the
# bucket before the daemon applies it: the object must still lock once
# idle for the period, as after a writer's release or at a mount
# (ns_apply_pending), not be left mutable for good.
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "fault owed autocommit"
mount_shim || { fail "mount with the shim"; done_testing; }
D=$MNT/dflt
default_bucket "$D" "COMPLIANCE 1d"
r=$(close_with_fault "$D/c1" hello match=/meta/data.mdb ops=pwrite,write)
check_eq "close reports EIO" "CLOSE=EIO" "$r"
# The tick's first try fails with the disk (the next one is seconds later).
sleep 1; nofault
check_errno "autocommit 1s on the bucket" OK setxattr "$D" user.worm.autocommit "1s"
if wait_state "$D/c1" locked 30; then ok "the owed object locks once idle"
else fail "the owed object locks once idle" "$(worm_state "$D/c1")"; fi
check_daemon_alive "$MNT" "daemon alive"
umount_fs "$MNT"
done_testing
