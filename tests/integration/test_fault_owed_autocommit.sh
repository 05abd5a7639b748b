#!/bin/bash
# test_fault_owed_autocommit: a bucket default owed after a failed release
# (EIO on data.mdb past the RELEASE) when autocommit is turned on for the
# bucket before the daemon applies it: the object must still lock once
# idle for the period, as after a writer's release or at a mount
# (ns_apply_pending), not be left mutable for good.
. "$(dirname "$0")/lib.sh"

require_binaries
command -v python3 >/dev/null || { skip "fault owed autocommit" "needs python3"; done_testing; }
if ! build_faultshim; then
	fail "faultshim.c compiles"
	done_testing
fi
CTL=$WORMFS_FAULT_CTL
STORE=$T_BASE/store
MNT=$T_BASE/mnt
make_store "$STORE" || { fail "wormctl init"; done_testing; }
nofault() { rm -f "$CTL"; }
alive() { kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; }
LD_PRELOAD=$SHIM mount_fg "$STORE" "$MNT" || { fail "mount with the shim"; done_testing; }
D=$MNT/dflt
mkdir "$D"
check_errno "bucket default COMPLIANCE 1d" OK setxattr "$D" user.worm.default-retention "COMPLIANCE 1d"
WC=$T_BASE/wclose.py
cat >"$WC" <<'PY'
import errno, os, sys
path, data, ctl = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
with open(ctl + ".tmp", "w") as f:
    f.write("\n".join(sys.argv[4:]) + "\n")
os.rename(ctl + ".tmp", ctl)
try:
    os.close(fd); print("CLOSE=OK")
except OSError as e:
    print("CLOSE=" + errno.errorcode.get(e.errno, str(e.errno)))
PY
r=$(python3 "$WC" "$D/c1" hello "$CTL" match=/meta/data.mdb ops=pwrite,write)
check_eq "close reports EIO" "CLOSE=EIO" "$r"
# The tick's first try fails with the disk (the next one is seconds later).
sleep 1; nofault
check_errno "autocommit 1s on the bucket" OK setxattr "$D" user.worm.autocommit "1s"
if wait_state "$D/c1" locked 30; then ok "the owed object locks once idle"
else fail "the owed object locks once idle" "$(worm_state "$D/c1")"; fi
if alive; then ok "daemon alive"; else fail "daemon alive"; fi
umount_fs "$MNT"
done_testing
