#!/usr/bin/env bash
# Review of the state digest: root puts back a locked object's node record
# from before its lock (a legal hold, a COMPLIANCE retention) and asks
# `wormctl repair digest` or plain `wormctl repair` to accept the state.
# Both refuse (an object would hold less lock than the audit trail
# records), the mount stays refused, and nothing can be deleted. Also when
# the put-back records' birth time (not MAC'd) is pushed past the lock
# records: the trail names the inode, so the node is still its object, not
# a later one (before, it counted as "gone", which repair accepts, and the
# mount then let root delete both).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt" && echo x >"$M/bkt/hold" && echo y >"$M/bkt/comp" || fail "objects"
umount_fs "$M"
declare -A PRE=() INO=()
while read -r ino _id _s _g _k path; do
	INO[$path]=$ino; PRE[$path]=$("$TAMPER" xget "$S/meta" nodes "$(printf '%016x' "$ino")")
done < <("$TAMPER" map "$S/meta")
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "legal hold ON" OK setxattr "$M/bkt/hold" user.worm.legal-hold ON
check_errno "COMPLIANCE +365d" OK setxattr "$M/bkt/comp" user.worm.retention "COMPLIANCE +365d"
umount_fs "$M"
"$TAMPER" xput "$S/meta" nodes "$(printf '%016x' "${INO[bkt/hold]}")" "${PRE[bkt/hold]}" || fail xput
"$TAMPER" xput "$S/meta" nodes "$(printf '%016x' "${INO[bkt/comp]}")" "${PRE[bkt/comp]}" || fail xput
for cmd in "repair digest" "repair"; do
	# shellcheck disable=SC2086
	out=$("$WORMCTL" $cmd "$S" 2>&1)
	check_eq "wormctl $cmd of a state that undoes two locks: exit 1 ($out)" 1 "$?"
	check_match "wormctl $cmd says why" "less lock than the audit trail" "$out"
done
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify still reports it: exit 1" 1 "$?"
check_match "verify names the held object" "bkt/hold: older lock state than the audit trail" "$out"
check_match "verify names the COMPLIANCE object" "bkt/comp: older lock state than the audit trail" "$out"
if mount_fg "$S" "$M" 2>/dev/null; then
	fail "writable mount refused after the refused repairs"
	check_errno "held object still locked" EPERM unlink "$M/bkt/hold"
	check_errno "COMPLIANCE object still locked" EPERM unlink "$M/bkt/comp"
	umount_fs "$M"
else
	ok "writable mount refused after the refused repairs"
fi

# The birth time pushed about 2.3 years ahead (byte 7 of btime_ns).
"$TAMPER" flip "$S/meta" "${INO[bkt/hold]}" btime_ns 7 1 || fail "flip btime"
"$TAMPER" flip "$S/meta" "${INO[bkt/comp]}" btime_ns 7 1 || fail "flip btime"
for cmd in "repair digest" "repair"; do
	# shellcheck disable=SC2086
	out=$("$WORMCTL" $cmd "$S" 2>&1)
	check_eq "later birth time: wormctl $cmd refuses: exit 1 ($out)" 1 "$?"
	check_match "later birth time: wormctl $cmd says why" "less lock than the audit trail" "$out"
done
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "later birth time: verify names the held object" "bkt/hold: older lock state than the audit trail" "$out"
check_match "later birth time: verify names the COMPLIANCE object" "bkt/comp: older lock state than the audit trail" "$out"
if mount_fg "$S" "$M" 2>/dev/null; then
	fail "later birth time: writable mount refused"
	check_errno "held object still locked" EPERM unlink "$M/bkt/hold"
	check_errno "COMPLIANCE object still locked" EPERM unlink "$M/bkt/comp"
	umount_fs "$M"
else
	ok "later birth time: writable mount refused"
fi
done_testing
