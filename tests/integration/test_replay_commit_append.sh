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
. "$(dirname "$0")/replay_lib.sh"
replay_require "append replay"

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
make_store "$S" || { fail "wormctl init"; done_testing; }


SIZE=200000 ADD=5000
append_replay_stage
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
