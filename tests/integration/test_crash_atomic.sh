#!/usr/bin/env bash
# Crash atomicity (issue 11, design section 4): a kill at an exact point of
# a write, truncate, commit or create leaves every object readable as its
# last commit (C1a, C1b), recovery at the next mount rolls interrupted
# writes back so verify is clean (C2), reclaims content files no node names
# (C3), and verify run while writes are in flight checks the committed state
# only (F2). A missing content file reads EIO, logged and counted (R11).
# Exact kill points use the daemon's test hook WORMFS_CRASH_AT=STEP[:stop].
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt C=$T_BASE/committed
mkdir -p "$C"
make_store "$S" || { fail "wormctl init"; done_testing; }

build_tamper || { fail "tamper.c compiles"; done_testing; }


# Writer that leaves its writes uncommitted: each spec is
# "append PATH N" | "pwrite PATH OFF N" | "new PATH N FSYNCED_FIRST";
# it touches READY when all returned, then sleeps until killed.
py_writer() {
	python3 - "$@" <<'EOF' &
import os, sys, time
ready, specs = sys.argv[1], sys.argv[2:]
fds = []
for s in specs:
    a = s.split()
    if a[0] == 'append':
        fd = os.open(a[1], os.O_WRONLY | os.O_APPEND)
        os.write(fd, os.urandom(int(a[2])))
    elif a[0] == 'pwrite':
        fd = os.open(a[1], os.O_WRONLY)
        os.pwrite(fd, os.urandom(int(a[3])), int(a[2]))
    elif a[0] == 'new':
        fd = os.open(a[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        first = int(a[3])
        os.write(fd, os.urandom(first))
        os.fsync(fd)
        with open(a[1] + '.fsynced', 'wb') as f:
            pass
        os.write(fd, os.urandom(int(a[2]) - first))
    fds.append(fd)
open(ready, 'w').close()
time.sleep(120)
EOF
	WPID=$!
}

wait_file() { local i; for i in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
stop_writer() { kill -9 "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
# kill -9 the daemon while the writer still holds its files open (its exit
# would close them, and a close commits), then the writer, then the mount.
kill_all() {
	local pid=${MNT_PID[$M]} i
	kill -9 "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	stop_writer
	crash_daemon "$M" "$S"
}


keep() { cp "$M/bkt/$1" "$C/$1"; }
same() { # DESC NAME: reads back exactly as committed, without error
	local err
	if err=$(cmp "$M/bkt/$2" "$C/$2" 2>&1); then ok "$1"; else fail "$1" "$err"; fi
}
verify_clean() { # DESC
	local out
	out=$("$WORMCTL" verify "$S" 2>&1)
	local rc=$?
	if [ $rc = 0 ] && ! grep -q DAMAGED <<<"$out"; then ok "$1"; else fail "$1" "exit $rc: $(head -n 5 <<<"$out")"; fi
}

mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
# ---- C1a and C2: writes in flight at a kill -9 ------------------------------
head -c 20314 /dev/urandom >"$M/bkt/a1"; keep a1
head -c 100000 /dev/urandom >"$M/bkt/a2"; keep a2
head -c 32768 /dev/urandom >"$M/bkt/a4"; keep a4
head -c 200000 /dev/urandom >"$M/bkt/a5"; keep a5
head -c 40000 /dev/urandom >"$M/bkt/a6"; keep a6
py_writer "$T_BASE/ready1" "append $M/bkt/a1 4096" "pwrite $M/bkt/a2 99000 5000" \
	"new $M/bkt/a3 23000 20000" "append $M/bkt/a4 5000" "pwrite $M/bkt/a5 30000 100" \
	"pwrite $M/bkt/a6 100000 10"
wait_file "$T_BASE/ready1" || fail "writer ready"
cp "$M/bkt/a3" "$C/a3.all" 2>/dev/null
kill_all || fail "kill -9 with writes in flight"
verify_clean "C2: verify right after the kill (not yet recovered): the committed state is intact"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
same "C1a: an append inside the partial final block, killed: the committed 20,314 bytes read back" a1
same "C1a: a pwrite of 5,000 bytes at 99,000 into 100,000, killed: committed content reads back" a2
a3=$(stat -c %s "$M/bkt/a3" 2>&1)
check_eq "C1a: a new file fsync'ed at 20,000 bytes, then grown in its final block, killed: 20,000 bytes" 20000 "$a3"
check_eq "C1a: ... and they are the fsync'ed ones" "" "$(cmp -n 20000 "$M/bkt/a3" "$C/a3.all" 2>&1)"
same "C2: an append after a full block, killed: rolled back" a4
same "C2: a pwrite inside a committed object, killed: rolled back to the commit" a5
same "C2: a write past the end (holes), killed: rolled back" a6
check_match "C2: the mount logged the rollback" 'rolled back' "$(grep 'recovery after an unclean stop' "${MNT_LOG[$M]}")"
umount_fs "$M" || fail "unmount"
verify_clean "C2: verify after the recovery is clean"

# ---- C1b: a truncate killed between the cut and the size commit -------------
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
head -c 100000 /dev/urandom >"$M/bkt/t1"; keep t1
head -c 100000 /dev/urandom >"$M/bkt/t2"; keep t2
head -c 100000 /dev/urandom >"$M/bkt/t3"; keep t3
umount_fs "$M"
WORMFS_CRASH_AT=truncate mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
truncate -s 50000 "$M/bkt/t1" 2>/dev/null
if hook_fired "$M" "$S"; then ok "C1b: daemon killed inside truncate 100000 -> 50000, before the commit"
else fail "C1b: daemon killed inside truncate 100000 -> 50000, before the commit"; fi
WORMFS_CRASH_AT=truncate mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
: 2>/dev/null >"$M/bkt/t2"
if hook_fired "$M" "$S"; then ok "C1b: daemon killed inside an O_TRUNC open, before the commit"
else fail "C1b: daemon killed inside an O_TRUNC open, before the commit"; fi
WORMFS_CRASH_AT=commit mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
truncate -s 50000 "$M/bkt/t3" 2>/dev/null
if hook_fired "$M" "$S"; then ok "C1b: daemon killed right after the size commit of truncate -> 50000"
else fail "C1b: daemon killed right after the size commit of truncate -> 50000"; fi
head -c 50000 "$C/t3" >"$C/t3.cut"
verify_clean "C1b: verify before the recovery"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
same "C1b: truncate killed before its commit: the 100,000 committed bytes read back" t1
same "C1b: O_TRUNC killed before its commit: the committed bytes read back" t2
check_eq "C1b: truncate killed after its commit: 50,000 bytes, the committed prefix" "" \
	"$(cmp "$M/bkt/t3" "$C/t3.cut" 2>&1)"
umount_fs "$M"
verify_clean "C1b: verify after the recovery is clean"

# ---- C3: a content file created, killed before its node records it ----------
# A stray copy under an id no node names (as a kill before record_objid
# left on 92be1e4), then the kill at that exact point.
for f in "$S"/objects/*/*; do case ${f##*/} in *.*) ;; *) break ;; esac; done
cp "$f" "$S/objects/01/0123456789abcdef0123456789abcdef"
WORMFS_CRASH_AT=create mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, os.urandom(100000))' "$M/bkt/c1" 2>/dev/null
if hook_fired "$M" "$S"; then ok "C3: daemon killed after creating a content file, before recording it"
else fail "C3: daemon killed after creating a content file, before recording it"; fi
check_eq "C3: the kill left orphaned content files (the stray copy and the new file)" 2 "$(store_orphans "$S")"
# An inline object moved to a content file by a write, killed before the
# commit: the node keeps its inline value, the file is unused.
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
head -c 1000 /dev/urandom >"$M/bkt/c2"; keep c2
umount_fs "$M"
WORMFS_CRASH_AT=write mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND); os.write(fd, os.urandom(30000))' "$M/bkt/c2" 2>/dev/null
if hook_fired "$M" "$S"; then ok "C3: daemon killed while an inline object moves to a content file"
else fail "C3: daemon killed while an inline object moves to a content file"; fi
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_match "C3: the mount logged their removal" 'removed orphaned' "$(grep -m1 orphaned "${MNT_LOG[$M]}")"
same "C3: the inline object reads as committed" c2
umount_fs "$M"
check_eq "C3: no orphaned content file after the recovery" 0 "$(store_orphans "$S")"
verify_clean "C3: verify clean"

# A new object growing out of inline storage, killed after its node
# recorded the content file's id but before the file was created.
WORMFS_CRASH_AT=spill mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
head -c 40000 /dev/urandom 2>/dev/null >"$M/bkt/c3"
if hook_fired "$M" "$S"; then ok "C3: daemon killed between recording a new content file and creating it"
else fail "C3: daemon killed between recording a new content file and creating it"; fi
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_eq "C3: that never-committed object reads (empty), no EIO" "0" "$(wc -c <"$M/bkt/c3" 2>&1)"
umount_fs "$M"
check_eq "C3: no orphaned content file after that recovery" 0 "$(store_orphans "$S")"
verify_clean "C3: verify clean after that recovery"

# ---- F2: verify while writes go through the mount --------------------------
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
head -c 20314 /dev/urandom >"$M/bkt/v1"
head -c 100000 /dev/urandom >"$M/bkt/v2"
head -c 100000 /dev/urandom >"$M/bkt/v3"
py_writer "$T_BASE/ready2" "append $M/bkt/v1 4096" "pwrite $M/bkt/v2 99000 5000" \
	"new $M/bkt/v4 50000 20000" "pwrite $M/bkt/v3 0 60000"
wait_file "$T_BASE/ready2" || fail "writer ready"
verify_clean "F2: verify while writes are in flight (grown final block, pwrites, a new file) is clean"
stop_writer
umount_fs "$M"
WORMFS_CRASH_AT=commit:stop mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
truncate -s 30000 "$M/bkt/v2" &
tpid=$!
for _ in $(seq 1 100); do grep -q "stopping" "${MNT_LOG[$M]}" && break; sleep 0.1; done
if grep -q "stopping" "${MNT_LOG[$M]}"; then
	verify_clean "F2: verify while the daemon is stopped between a size commit and its cut"
else
	fail "F2: daemon stopped between a size commit and its cut"
fi
kill -CONT "${MNT_PID[$M]}" 2>/dev/null
wait $tpid
check_eq "F2: the truncate completed" 30000 "$(stat -c %s "$M/bkt/v2")"
umount_fs "$M"
verify_clean "F2: verify after the writers stopped"

# ---- R11: a missing content file reads EIO, logged and counted -------------
id=$("$TAMPER" map "$S/meta" | awk '$6 == "bkt/v3" {print $2}')
rm -f "$S/objects/${id:0:2}/$id"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "R11: read of an object whose content file is missing" EIO read "$M/bkt/v3"
check_match "R11: logged" 'content file missing' "$(grep -m1 'content file missing' "${MNT_LOG[$M]}")"
st=$(grep '^wormfs_auth_failures_total' "$M/.wormfs/stats")
check_match "R11: counted in stats" '^wormfs_auth_failures_total [1-9]' "$st"
umount_fs "$M"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "R11: verify exits 1 for the missing file" 1 "$?"
check_match "R11: verify names it" 'DAMAGED bkt/v3: content file missing' "$out"
done_testing
