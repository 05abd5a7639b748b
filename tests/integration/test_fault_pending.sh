#!/bin/bash
# test_fault_pending: a bucket default left pending by a writer killed
# before its release is applied by the next mount (ns_apply_pending). When
# that mount's commit of it fails (EIO on data.mdb, faultshim), the object
# must not stay mutable with no writer for the whole mount: the daemon's
# tick applies it once the disk works. The fault is placed at each of the
# mount's first metadata writes in turn (those that fail the mount itself
# are skipped).
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "fault pending"
mount_fg "$STORE" "$MNT" || { fail "mount"; done_testing; }
D=$MNT/dflt
default_bucket "$D" "COMPLIANCE 1d"
# A writer (its content committed by fsync) killed with the daemon.
crash_with_writer "$MNT" "$STORE" "$D/p1" '
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"abc")
os.fsync(fd)'
cp -a "$STORE" "$T_BASE/store.saved"
reached=0
for skip in $(seq 0 16); do
	rm -rf "$STORE"
	cp -a "$T_BASE/store.saved" "$STORE"
	fault match=/meta/data.mdb ops=pwrite,write skip="$skip" count=1
	if ! mount_shim 2>/dev/null; then
		nofault
		continue
	fi
	nofault
	if grep -q "still wait for their bucket default" "${MNT_LOG[$MNT]}"; then
		reached=1
		if wait_state "$D/p1" locked 30; then ok "fault at write $skip: the default lands in this mount"
		else fail "fault at write $skip: the default lands in this mount" "$(worm_state "$D/p1")"; fi
		check_errno "fault at write $skip: truncate refused" EPERM truncate "$D/p1" 0
	else
		check_eq "fault at write $skip: locked" locked "$(worm_state "$D/p1")"
	fi
	check_eq "fault at write $skip: content kept" abc "$(h read "$D/p1")"
	umount_fs "$MNT"
done
if [ $reached = 1 ]; then ok "a mount whose apply of the pending default failed was met"
else skip "apply failing at mount" "no fault position reached it"; fi
done_testing
