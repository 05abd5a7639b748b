#!/bin/bash
# test_fault_commit_authcount: a disk error (EIO) on the content file's
# writes at an fsync's commit is a disk error, not damage: no
# authentication failure is counted or logged (the fdatasync case is in
# test_fault_commit.sh part 5).
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "fault commit authcount"
mount_shim || { fail "mount with the shim"; done_testing; }
B=$MNT/plain
mkdir "$B"
head -c 300000 /dev/urandom >"$T_BASE/big"
i=0
for ops in pwrite,write fsync; do
	i=$((i + 1))
	a0=$(auth_failures "$MNT")
	check_eq "$ops: fsync with the content file's $ops failing: EIO" FSYNC=EIO \
		"$(fsync_with_fault "$B/f$i" "$T_BASE/big" match=/objects/ "ops=$ops" count=1)"
	check_eq "$ops: no authentication failure counted" "$a0" "$(auth_failures "$MNT")"
done
check_not "none logged" grep -q "fails authentication" "${MNT_LOG[$MNT]}"
check_daemon_alive "$MNT" "daemon alive"
umount_fs "$MNT"
done_testing
