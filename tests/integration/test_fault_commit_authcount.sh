#!/bin/bash
# test_fault_commit_authcount: a disk error (EIO) on the content file's
# writes at an fsync's commit is a disk error, not damage: no
# authentication failure is counted or logged (the fdatasync case is in
# test_fault_commit.sh part 5).
. "$(dirname "$0")/lib.sh"

require_binaries
command -v python3 >/dev/null || { skip "fault commit authcount" "needs python3"; done_testing; }
if ! build_faultshim; then
	fail "faultshim.c compiles"
	done_testing
fi
CTL=$WORMFS_FAULT_CTL
STORE=$T_BASE/store
MNT=$T_BASE/mnt
make_store "$STORE" || { fail "wormctl init"; done_testing; }
alive() { kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; }
LD_PRELOAD=$SHIM mount_fg "$STORE" "$MNT" || { fail "mount with the shim"; done_testing; }
B=$MNT/plain
mkdir "$B"
authf() { awk '/^wormfs_auth_failures_total/ {print $2}' "$MNT/.wormfs/stats"; }
head -c 300000 /dev/urandom >"$T_BASE/big"
FS=$T_BASE/fsync.py
cat >"$FS" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, open(sys.argv[2], "rb").read())
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write("match=/objects/\nops=" + sys.argv[4] + "\ncount=1\n")
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
try:
    os.fsync(fd); r = "FSYNC=OK"
except OSError as e:
    r = "FSYNC=" + errno.errorcode.get(e.errno, str(e.errno))
os.unlink(sys.argv[3])
os.close(fd)
print(r)
PY
i=0
for ops in pwrite,write fsync; do
	i=$((i + 1))
	a0=$(authf)
	check_eq "$ops: fsync with the content file's $ops failing: EIO" FSYNC=EIO "$(python3 "$FS" "$B/f$i" "$T_BASE/big" "$CTL" "$ops")"
	check_eq "$ops: no authentication failure counted" "$a0" "$(authf)"
done
check_not "none logged" grep -q "fails authentication" "${MNT_LOG[$MNT]}"
if alive; then ok "daemon alive"; else fail "daemon alive"; fi
umount_fs "$MNT"
done_testing
