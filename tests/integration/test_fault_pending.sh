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
command -v python3 >/dev/null || { skip "fault pending" "needs python3"; done_testing; }
build_faultshim || { fail "faultshim.c compiles"; done_testing; }
CTL=$WORMFS_FAULT_CTL
STORE=$T_BASE/store
MNT=$T_BASE/mnt
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_fg "$STORE" "$MNT" || { fail "mount"; done_testing; }
D=$MNT/dflt
mkdir "$D"
check_errno "bucket default COMPLIANCE 1d" OK setxattr "$D" user.worm.default-retention "COMPLIANCE 1d"
# A writer (its content committed by fsync) killed with the daemon.
python3 - "$D/p1" "$T_BASE/written" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"abc")
os.fsync(fd)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
WPID=$!
for i in $(seq 1 100); do [ -e "$T_BASE/written" ] && break; sleep 0.1; done
kill -9 "${MNT_PID[$MNT]}"
sleep 0.3
kill -9 "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
if crash_daemon "$MNT" "$STORE"; then ok "daemon killed with the writer open"
else fail "daemon killed with the writer open"; fi
cp -a "$STORE" "$T_BASE/store.saved"
reached=0
for skip in $(seq 0 16); do
	rm -rf "$STORE"
	cp -a "$T_BASE/store.saved" "$STORE"
	printf 'match=/meta/data.mdb\nops=pwrite,write\nskip=%s\ncount=1\n' "$skip" >"$CTL"
	if ! LD_PRELOAD=$SHIM mount_fg "$STORE" "$MNT" 2>/dev/null; then
		rm -f "$CTL"
		continue
	fi
	rm -f "$CTL"
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
