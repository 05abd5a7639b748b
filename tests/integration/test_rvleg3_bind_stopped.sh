#!/usr/bin/env bash
# Review rvleg3 of 823001e: a store from before the legacy bind whose
# first pass stops before it binds anything (any error: here the walk
# fails on a node record made unreadable offline; a metadata write error
# does the same) goes on mounting, as the log says ("the rest is bound at
# the next mount"), and this session's commits name their commit record.
# 823001e then took the store for one made with the bind at the next
# mount (nodes naming their commit record, no pass, no running count): the
# marker was put back without a pass and every older object read EIO for
# good. A pass that stops now records a running count of 0 (in progress).
# Older objects are made as an older build leaves them, with
# WORMFS_TEST_UNBOUND=1.
. "$(dirname "$0")/lib.sh"
require_binaries
build_tamper || { fail "tamper.c compiles"; done_testing; }
S=$T_BASE/s M=$T_BASE/m
WORMFS_TEST_UNBOUND=1 make_store "$S" || { fail "init (legacy)"; done_testing; }
WORMFS_TEST_UNBOUND=1 mount_fg "$S" "$M" || { fail "mount (legacy)"; done_testing; }
mkdir "$M/bkt" && head -c 70000 /dev/urandom >"$M/bkt/a" &&
	head -c 70000 /dev/urandom >"$M/bkt/b" || fail "objects"
sums=$(cd "$M/bkt" && sha256sum a b)
umount_fs "$M" || fail "unmount"
ia=$("$TAMPER" map "$S/meta" | awk '$6 == "bkt/a" { print $1 }')
key=$(printf '%016x' "$ia")
N0=$("$TAMPER" xget "$S/meta" nodes "$key")
"$TAMPER" xput "$S/meta" nodes "$key" "${N0:0:20}" || fail "node record cut"
digest_reseal "$S" || done_testing
mount_fg "$S" "$M" || { fail "mount (the pass stops)"; done_testing; }
check_match "the pass stopped" "legacy bind stopped" "$(cat "${MNT_LOG[$M]}")"
head -c 70000 /dev/urandom >"$M/bkt/c" && sync || fail "a commit of this session"
sc=$(sha256sum <"$M/bkt/c")
umount_fs "$M" || fail "unmount"
"$TAMPER" xput "$S/meta" nodes "$key" "$N0" || fail "node record put back"
digest_reseal "$S" || done_testing
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
log=$(cat "${MNT_LOG[$M]}")
check_not "the marker is not put back without a pass" \
	grep -q "file nodes name their commit record and no pass is in progress" <<<"$log"
check_match "the pass ran" "legacy bind: 2 object\\(s\\) committed by an older build bound" "$log"
check_eq "the older objects read as written" "$sums" "$(cd "$M/bkt" && sha256sum a b 2>&1)"
check_eq "this session's object reads" "$sc" "$(sha256sum <"$M/bkt/c" 2>&1)"
umount_fs "$M" || fail "unmount"
verify_clean "$S" "verify clean"
done_testing
