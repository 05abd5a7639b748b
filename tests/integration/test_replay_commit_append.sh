#!/usr/bin/env bash
# test_replay_commit_append (review of issue 12's commit binding): the
# killed-commit-record replay on an appendable WORM object (append-only,
# then COMPLIANCE: appends still commit new generations). An append killed
# after its commit record (hook step "map"), a copy of the content file
# taken then, the next append commits the same generation with other
# bytes of the same length; root puts the copy back: every read EIO (never
# the killed append's bytes), the lock holds, `wormctl verify` exits 1.
. "$(dirname "$0")/lib.sh"
require_binaries
command -v python3 >/dev/null || { skip "append replay" "needs python3"; done_testing; }
command -v setfattr >/dev/null || { skip "append replay" "needs setfattr"; done_testing; }
build_tamper || { fail "tamper.c compiles"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
make_store "$S" || { fail "wormctl init"; done_testing; }

# ap PATH SRC: SRC's bytes appended in one session (O_APPEND, close commits).
ap() {
	python3 - "$1" "$2" <<'PY'
import os, sys
data = open(sys.argv[2], "rb").read()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
    os.write(fd, data)
    os.close(fd)
    print("OK")
except OSError as e:
    print("ERR", e.errno)
PY
}
rd() {
	python3 - "$1" "$2" "$3" <<'PY'
import errno, hashlib, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    b = os.pread(fd, int(sys.argv[3]), int(sys.argv[2]))
    os.close(fd)
    print("OK", len(b), hashlib.sha256(b).hexdigest())
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

SIZE=200000 ADD=5000
head -c $SIZE /dev/urandom >"$D/v1"
head -c $ADD /dev/urandom >"$D/k"
head -c $ADD /dev/urandom >"$D/n"
cat "$D/v1" "$D/k" >"$D/killed"
cat "$D/v1" "$D/n" >"$D/committed"

mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
cp "$D/v1" "$M/bkt/log"
check "wormctl append-only on" "$WORMCTL" append-only on "$M/bkt/log"
setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/log" 2>/dev/null
check_eq "locked (COMPLIANCE, appendable)" locked "$(worm_state "$M/bkt/log")"
umount_fs "$M" || fail "unmount"
id=$("$TAMPER" map "$S/meta" | awk '$6 == "bkt/log" { print $2 }')
check_match "has a content file" '^[0-9a-f]{32}$' "$id"
dir=$S/objects/${id:0:2}

WORMFS_CRASH_AT=map mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
ap "$M/bkt/log" "$D/k" >/dev/null
if hook_fired "$M" "$S"; then ok "daemon killed after the append's commit record"
else fail "daemon killed after the append's commit record"; fi
mkdir -p "$D/copy"
cp -p "$dir/$id" "$dir/$id".m? "$D/copy/" 2>/dev/null
[ -f "$D/copy/$id" ] && ok "copy taken at the kill" || fail "copy taken at the kill"

mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_eq "reads back as committed after the recovery" "OK $SIZE $(sha "$D/v1")" \
	"$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))"
check_eq "the next append commits" OK "$(ap "$M/bkt/log" "$D/n")"
check_eq "the new append reads back" "OK $((SIZE + ADD)) $(sha "$D/committed")" \
	"$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))"
umount_fs "$M" || fail "unmount"
"$WORMCTL" verify "$S" >/dev/null 2>&1
check_eq "verify clean before the replay" 0 $?

mkdir -p "$D/good"
cp -p "$dir/$id" "$dir/$id".m? "$D/good/" 2>/dev/null
rm -f "$dir/$id".m?
cp -p "$D/copy"/* "$dir/"
mount_fg "$S" "$M" || { fail "mount after the replay"; done_testing; }
got=$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))
[ "$got" != "OK $((SIZE + ADD)) $(sha "$D/killed")" ] &&
	ok "the killed append's never-committed bytes are not served" ||
	fail "the killed append's never-committed bytes are not served" "got: $got"
check_eq "read of the whole object: EIO" EIO "$got"
check_eq "read of the appended tail: EIO" EIO "$(rd "$M/bkt/log" $SIZE $ADD)"
check_errno "the lock still holds (unlink: EPERM)" EPERM unlink "$M/bkt/log"
umount_fs "$M" || fail "unmount"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify exits 1" 1 $?
check_match "verify names the object" "DAMAGED bkt/log: commit record is not the committed one" "$out"
rm -f "$dir/$id".m?
cp -p "$D/good"/* "$dir/"
"$WORMCTL" verify "$S" >/dev/null 2>&1
check_eq "the committed file put back: verify clean" 0 $?
done_testing
