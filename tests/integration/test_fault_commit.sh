#!/bin/bash
# test_fault_commit: metadata commits that fail (EIO on LMDB's writes to
# data.mdb, by the faultshim LD_PRELOAD library) at the points
# test_fault_io.sh does not reach: the last writer's release in a bucket
# with a default retention when the retry of the lock fails too, and the
# operations on that object afterwards.
. "$(dirname "$0")/lib.sh"

require_binaries
fault_setup "fault commit"
mount_shim || { fail "mount with the shim"; done_testing; }
D=$MNT/dflt
default_bucket "$D" "COMPLIANCE 1d"

# 1. The release's commit fails once: the retry locks the committed state.
r=$(close_with_fault "$D/a1" hello match=/meta/data.mdb ops=pwrite count=1)
check_eq "1: close reports EIO" "CLOSE=EIO" "$r"
sleep 1; nofault
check_eq "1: the retry locked it" locked "$(worm_state "$D/a1")"
check_errno "1: truncate of the object refused" EPERM truncate "$D/a1" 0

# 2. Both the commit and the retry of the lock fail (the fault lasts past
# the release): close reports EIO, the default stays pending. Once the
# disk works again the object must not stay mutable with no writer: a
# truncate by path applies the owed default first and is refused, and the
# daemon's tick applies it to an object nobody touches.
r=$(close_with_fault "$D/a2" hello match=/meta/data.mdb ops=pwrite,write)
check_eq "2: close reports EIO" "CLOSE=EIO" "$r"
sleep 1; nofault
check_match "2: the release's lock failed" "could not be applied" "$(cat "${MNT_LOG[$MNT]}")"
check_errno "2: truncate of the object refused" EPERM truncate "$D/a2" 3
check_eq "2: the object is locked" locked "$(worm_state "$D/a2")"
check_eq "2: its committed (empty) content kept" 0 "$(stat -c %s "$D/a2")"
r=$(close_with_fault "$D/a3" hello match=/meta/data.mdb ops=pwrite,write)
check_eq "2b: close reports EIO" "CLOSE=EIO" "$r"
sleep 1; nofault
if wait_state "$D/a3" locked 20; then ok "2b: the tick locks the untouched object"
else fail "2b: the tick locks the untouched object" "$(worm_state "$D/a3")"; fi
check_errno "2b: a write-open of the object refused" EPERM open "$D/a3" O_WRONLY
check_errno "2b: unlink of the object refused" EPERM unlink "$D/a3"
# 3. A rename or unlink whose metadata commit fails: EIO, nothing moved or
# gone, the content still reads; an object unlinked while open likewise.
B=$MNT/bkt
mkdir "$B"
h write "$B/r1" rename-me >/dev/null
h write "$B/u1" unlink-me >/dev/null
for op in "rename $B/r1 $B/r2" "unlink $B/u1"; do
	fault match=/meta/data.mdb ops=pwrite,write count=1
	check_errno "3: $op with the commit failing: EIO" EIO $op
	nofault
done
check_eq "3: r1 still reads" rename-me "$(h read "$B/r1")"
check_errno "3: no r2" ENOENT access "$B/r2" f
check_eq "3: u1 still reads" unlink-me "$(h read "$B/u1")"
exec 9<"$B/u1"
fault match=/meta/data.mdb ops=pwrite,write count=1
check_errno "3: unlink of an open object, the commit failing: EIO" EIO unlink "$B/u1"
nofault
exec 9<&-
sleep 0.5
check_eq "3: u1 still reads after its handle's release" unlink-me "$(h read "$B/u1")"
check_errno "3: then the unlink works" OK unlink "$B/u1"
check_errno "3: then the rename works" OK rename "$B/r1" "$B/r2"
check_eq "3: r2 reads" rename-me "$(h read "$B/r2")"

# 4. A lock change whose commit fails: EIO, and the object is as it was
# (not locked in memory only, nor on disk only: the same after a remount).
h write "$B/l1" lock-me >/dev/null
fault match=/meta/data.mdb ops=pwrite,write count=1
check_errno "4: retention with the commit failing: EIO" EIO setxattr "$B/l1" user.worm.retention "GOVERNANCE +1d"
nofault
check_eq "4: still mutable" mutable "$(worm_state "$B/l1")"
check_errno "4: so a write works" OK write "$B/l1" changed
fault match=/meta/data.mdb ops=pwrite,write count=1
check_errno "4: legal hold with the commit failing: EIO" EIO setxattr "$B/l1" user.worm.legal-hold ON
nofault
check_eq "4: still mutable after the hold" mutable "$(worm_state "$B/l1")"
check_errno "4: then the hold works" OK setxattr "$B/l1" user.worm.legal-hold ON
check_errno "4: and the write is refused" EPERM write "$B/l1" again

# 5. An fsync whose content-file sync fails (after its block map is
# written) reports EIO; it is a disk error, not damage: no authentication
# failure is counted or logged.
a0=$(auth_failures "$MNT")
head -c 300000 /dev/urandom >"$T_BASE/big"
check_eq "5: fsync with the content sync failing: EIO" FSYNC=EIO \
	"$(fsync_with_fault "$B/f1" "$T_BASE/big" match=/objects/ ops=fdatasync,fsync count=1)"
sleep 0.3
if cmp -s "$B/f1" "$T_BASE/big"; then ok "5: the content reads after the next commit"; else fail "5: the content reads after the next commit"; fi
check_eq "5: no authentication failure counted" "$a0" "$(auth_failures "$MNT")"
check_not "5: none logged" grep -q "fails authentication" "${MNT_LOG[$MNT]}"

# 6. ENOSPC and EDQUOT (not only EIO) at each I/O call of an overwrite,
# an append, a truncate and an fsync of a committed object: the call gets
# that errno (or a short count), never success for bytes not kept, and the
# object reads as its last commit with at most the bytes reported written.
OW=$T_BASE/ow.py
cat >"$OW" <<'PY'
import errno, os, random, sys
def en(e): return errno.errorcode.get(e, str(e))
path, mode, ctl, spec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
old = open(path, "rb").read()
new = random.Random(7).randbytes(300000)
fd = os.open(path, os.O_RDWR | (os.O_APPEND if mode == "append" else 0))
with open(ctl + ".tmp", "w") as f:
    f.write(spec.replace(";", "\n") + "\n")
os.rename(ctl + ".tmp", ctl)
res, done = [], 0
try:
    if mode == "trunc":
        os.ftruncate(fd, 1000); res.append("OP=OK")
    elif mode == "grow":
        os.ftruncate(fd, 5000000); res.append("OP=OK")
    else:
        while done < len(new):
            w = os.write(fd, new[done:]) if mode == "append" else os.pwrite(fd, new[done:], done)
            done += w
        res.append("OP=OK")
except OSError as e:
    res.append("OP=" + en(e.errno))
try:
    os.fsync(fd); res.append("FSYNC=OK")
except OSError as e:
    res.append("FSYNC=" + en(e.errno))
try:
    os.close(fd); res.append("CLOSE=OK")
except OSError as e:
    res.append("CLOSE=" + en(e.errno))
os.unlink(ctl)
ok = all(r.endswith("=OK") for r in res)
try:
    got = open(path, "rb").read()
except OSError as e:
    print(" ".join(res), "READ=" + en(e.errno)); sys.exit(0)
if mode == "trunc": want_all = old[:1000]
elif mode == "grow": want_all = old + b"\0" * (5000000 - len(old))
elif mode == "append": want_all = old + new
else: want_all = new + old[len(new):]
if ok:
    verdict = "SAME" if got == want_all else "LOST"
else:
    if mode == "append": allowed = [old + new[:k] for k in (done,)] + [old]
    elif mode == "overwrite": allowed = [new[:done] + old[done:], old]
    else: allowed = [old]
    verdict = "SAME" if got in allowed or got == want_all else "DIFF"
print(" ".join(res), verdict)
PY
head -c 300000 /dev/urandom >"$B/ns0"
for err in ENOSPC EDQUOT; do
	for mode in overwrite append trunc grow; do
		for ops in pwrite ftruncate fdatasync,fsync; do
			for skip in 0 1 2; do
				cp "$B/ns0" "$B/ns"
				r=$(python3 "$OW" "$B/ns" $mode "$CTL" "match=/objects/;ops=$ops;err=$err;skip=$skip;count=1" 2>&1)
				[ -n "${SHOW:-}" ] && diag "$err $ops $skip $mode: $r"
				case "$r" in
				*" SAME") ;;
				*) fail "6: $err at $ops (skip $skip) of a $mode" "$r" ;;
				esac
				case "$r" in
				*=EIO*|*=$err*|*"=OK FSYNC=OK CLOSE=OK SAME") ;;
				*) fail "6: $err at $ops (skip $skip) of a $mode: errno" "$r" ;;
				esac
			done
		done
	done
done
diag "faults injected: $(grep -c -E "ENOSPC|EDQUOT|28|122" "$FLOG")"
ok "6: ENOSPC and EDQUOT at each I/O call: errno reported, nothing unkept reported kept"

check_daemon_alive "$MNT" "daemon alive"
umount_fs "$MNT"
check "wormctl verify clean after the faults" "$WORMCTL" verify "$STORE"
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check_eq "after the remount: l1 as written" changed "$(h read "$B/l1")"
check_eq "after the remount: l1 locked by its hold" locked "$(worm_state "$B/l1")"
check_eq "after the remount: a2 locked" locked "$(worm_state "$D/a2")"
check_eq "after the remount: a3 locked" locked "$(worm_state "$D/a3")"
umount_fs "$MNT"
done_testing
