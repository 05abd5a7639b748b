#!/bin/bash
# test_rv_limits: the daemon out of file descriptors (prlimit(2) on the
# running daemon, its soft RLIMIT_NOFILE set to its lowest free descriptor)
# in the middle of an operation (review rv-limits).
# 1. A write that fails (EIO from the faultshim) while the daemon is out
#    of descriptors: the rollback to the last commit cannot open the
#    content file (EMFILE), and must keep the undo journal, the only copy
#    of the committed blocks the session overwrote: the next rollback (at
#    the close, once descriptors are free) restores them. Before, the
#    journal was removed as if the content file were gone, and the object
#    failed authentication for good (EIO, verify: stale generation).
# 2. The last writer's close in a bucket with a default retention, its
#    commit needing a new descriptor (the block map file of an object whose
#    blocks carry several generations): EMFILE. close(2) reports it
#    (ENFILE), and the object must not be left mutable with no writer once
#    descriptors are free again: the default is owed, so a truncate by path
#    is refused and the object ends locked; its content is the last commit
#    once the next mount has rolled the session back.
# 3. A write-open whose pending mark cannot be recorded (EIO) is refused,
#    and being refused before it changed anything, it changes nothing: the
#    object is not locked with the content it had before the open (it was,
#    as the open went like a release); a later write-open works, and its
#    release applies the default to what it wrote.
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "rv limits"
mount_shim || { fail "mount with the shim"; done_testing; }
PID=${MNT_PID[$MNT]}
alive() { kill -0 "$PID" 2>/dev/null; }
BS=16384
# whole FILE: "LENGTH a" when FILE is 3 blocks of 'a' (its first commit)
whole() {
	python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
print(len(d), "a" if d == b"a" * 49152 else "other")' "$1" 2>&1 | tail -n 1
}

# nofile.py: the daemon's fd limit from Python, with prlimit(2) itself: a
# child (the prlimit tool) would inherit the open file, and its exec
# closing it sends a FLUSH (a commit) first. The soft limit only: raising
# a hard limit again needs CAP_SYS_RESOURCE.
cat >"$T_BASE/nofile.py" <<'PY'
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
class _rlim(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def _prlimit(pid, new):
    old = _rlim()
    if _libc.prlimit(pid, 7, ctypes.byref(new) if new else None, ctypes.byref(old)):
        raise OSError(ctypes.get_errno(), "prlimit")
    return old
def exhaust(pid):
    """No new descriptor in pid from now; returns the limit to restore."""
    orig = _prlimit(pid, None)
    used = {int(x) for x in os.listdir("/proc/%d/fd" % pid)}
    low = 0
    while low in used:
        low += 1
    _prlimit(pid, _rlim(low, orig.max))
    return orig
def restore(pid, orig):
    _prlimit(pid, orig)
PY

# ---- 1. a failing write's rollback without descriptors
B=$MNT/bkt
mkdir "$B"
cat >"$T_BASE/p1.py" <<'PY'
import errno, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import nofile
path, pid, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BS = 16384
def en(e):
    return errno.errorcode.get(e.errno, str(e.errno))
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * (3 * BS))
os.fsync(fd)
# block 1 saved to the journal, then overwritten in place
os.pwrite(fd, b"b" * 100, BS + 10)
# every later write of the content file fails (and so does putting the
# block back): the session is rolled back from the journal
with open(ctl + ".tmp", "w") as f:
    f.write("match=/objects/\nops=pwrite\nerr=EIO\n")
os.rename(ctl + ".tmp", ctl)
os.pread(fd, 10, 0)   # the shim reads its control file now (it needs a descriptor)
orig = nofile.exhaust(pid)
try:
    os.pwrite(fd, b"c" * 100, BS + 20)
    res = "WRITE=OK"
except OSError as e:
    res = "WRITE=" + en(e)
nofile.restore(pid, orig)
os.remove(ctl)
try:
    os.close(fd)
    res += " CLOSE=OK"
except OSError as e:
    res += " CLOSE=" + en(e)
print(res)
PY
r=$(python3 "$T_BASE/p1.py" "$B/w1" "$PID" "$CTL")
nofault
check_eq "1: the write fails, the close reports the rolled back session" "WRITE=EIO CLOSE=EIO" "$r"
check_match "1: the rollback failed for want of descriptors" \
	"rollback to its last commit failed too \(Too many open files\)" "$(cat "${MNT_LOG[$MNT]}")"
check_eq "1: it reads as its last commit (rolled back at the close)" "49152 a" "$(whole "$B/w1")"
check_errno "1: a new write works" OK pwrite "$B/w1" 0 x
if alive; then ok "1: daemon alive"; else fail "1: daemon alive"; fi

# ---- 2. EMFILE at the last writer's commit in a default bucket
D=$MNT/dflt
mkdir "$D"
check_errno "2: bucket default COMPLIANCE 1d" OK setxattr "$D" user.worm.default-retention "COMPLIANCE 1d"
# Three blocks committed (fsync), one of them rewritten (a second
# generation: the commit writes a block map file), no descriptor left, the
# file closed; the limit stays until the RELEASE has failed too (its log
# line).
cat >"$T_BASE/p2.py" <<'PY'
import errno, os, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import nofile
path, pid, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BS = 16384
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * (3 * BS))
os.fsync(fd)
os.pwrite(fd, b"b" * 100, BS + 10)
orig = nofile.exhaust(pid)
try:
    os.close(fd)
    res = "CLOSE=OK"
except OSError as e:
    res = "CLOSE=" + errno.errorcode.get(e.errno, str(e.errno))
for i in range(100):
    if "at release failed" in open(log, errors="replace").read():
        break
    time.sleep(0.1)
nofile.restore(pid, orig)
print(res)
PY
r=$(python3 "$T_BASE/p2.py" "$D/e1" "$PID" "${MNT_LOG[$MNT]}")
check_eq "2: close reports the daemon's fd limit (ENFILE)" "CLOSE=ENFILE" "$r"
check_match "2: the release's commit failed (EMFILE)" "commit of inode [0-9]+ at release failed: Too many open files" \
	"$(cat "${MNT_LOG[$MNT]}")"
check_errno "2: truncate by path after the failed release: EPERM (the owed default first)" EPERM truncate "$D/e1" 0
if wait_state "$D/e1" locked 15; then ok "2: the object ends locked"; else
	fail "2: the object ends locked" "state: $(worm_state "$D/e1")" "$(tail -n 5 "${MNT_LOG[$MNT]}")"
fi
check_errno "2: a write-open of it: EPERM" EPERM open "$D/e1" O_WRONLY
if alive; then ok "2: daemon alive"; else fail "2: daemon alive"; fi
umount_check "$MNT" "fd limit"
# The session's rollback needed descriptors too: it is the next mount's
# recovery (the store is marked), after which the object reads as its
# last commit, whole, and stays locked.
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check_eq "2: after a remount it reads as its last commit (the fsync)" "49152 a" "$(whole "$D/e1")"
check_eq "2: still locked" locked "$(worm_state "$D/e1")"
check_errno "2: truncate still refused" EPERM truncate "$D/e1" 0
check_eq "1: the new write is kept after a remount" "49152 other" "$(whole "$B/w1")"
umount_check "$MNT" "remount"
check "verify after the fd limit" "$WORMCTL" verify "$STORE"

# ---- 3. the pending mark of a write-open not recorded (EIO on data.mdb)
# An object made before its bucket got a default, opened for writing: the
# open records that the release will apply the default (the pending mark),
# so that a writer killed before its release is locked at the next mount.
# When that record failed the open went on: content committed by an fsync
# and a kill before the release left the object mutable after the restart
# (truncate emptied it). The open is refused now (and goes like a release).
STORE=$T_BASE/store3
MNT=$T_BASE/mnt3
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_shim || { fail "mount with the shim"; done_testing; }
D3=$MNT/dflt3
mkdir "$D3"
h write "$D3/old" before >/dev/null
check_errno "3: bucket default COMPLIANCE 1d" OK setxattr "$D3" user.worm.default-retention "COMPLIANCE 1d"
check_eq "3: the older object is mutable" mutable "$(worm_state "$D3/old")"
cat >"$T_BASE/p3.py" <<'PY'
import errno, os, sys, time
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
except OSError as e:
    print("OPEN=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
    sys.exit(0)
os.write(fd, b"written after the default")
os.fsync(fd)
print("OPEN=OK", flush=True)
time.sleep(60)   # killed before its release
PY
fault match=/meta/data.mdb ops=pwrite,write count=1
python3 "$T_BASE/p3.py" "$D3/old" >"$T_BASE/p3.out" &
wp=$!
for i in $(seq 1 100); do [ -s "$T_BASE/p3.out" ] && break; sleep 0.1; done
nofault
check_eq "3: a write-open whose pending mark is not recorded: EIO" OPEN=EIO "$(cat "$T_BASE/p3.out")"
check_eq "3: the refused open locked nothing" mutable "$(worm_state "$D3/old")"
check_eq "3: nor changed the content" before "$(cat "$D3/old")"
# the daemon killed while a writer may hold the object, then restarted
kill -9 "${MNT_PID[$MNT]}"
kill -9 "$wp" 2>/dev/null
wait "$wp" 2>/dev/null
crash_daemon "$MNT" "$STORE"
mount_fg "$STORE" "$MNT" || { fail "3: restart"; done_testing; }
check_eq "3: after the restart: still mutable (nothing was written)" mutable "$(worm_state "$D3/old")"
check_eq "3: the content from before the open" before "$(cat "$D3/old")"
check_errno "3: a write-open again works" OK write "$D3/old" rewritten
check_eq "3: its release applied the default" locked "$(worm_state "$D3/old")"
check_eq "3: to what it wrote" rewritten "$(cat "$D3/old")"
check_errno "3: truncate refused" EPERM truncate "$D3/old" 0
umount_check "$MNT" "3"
done_testing
