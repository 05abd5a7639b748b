#!/usr/bin/env bash
# Review of the state digest: root puts back a locked object's node record
# from before its lock (a legal hold, a COMPLIANCE retention) and asks
# `wormctl repair digest` or plain `wormctl repair` to accept the state.
# Both refuse (an object would hold less lock than the audit trail
# records), the mount stays refused, and nothing can be deleted. Also when
# the put-back records' birth time (not MAC'd) is pushed past the lock
# records: the trail names the inode, so the node is still its object, not
# a later one (before, it counted as "gone", which repair accepts, and the
# mount then let root delete both). Buckets too: a bucket's record put
# back from before its COMPLIANCE default retention, or from before its
# completed bucket lock, or from before a locked bucket's default
# append-only ON and autocommit shortened (before, all were accepted and
# verify was clean after the re-seal: the bucket unlocked, new objects
# mutable, logs not append-only, locks landing later). A bucket lock
# completed as "LOCKED ID" (the request's word is case-insensitive) is a
# completed lock for the check too (before, only "locked" was). Values
# whose words a tab separates (quoted as \t in the record) are read too
# (before, such a value was unreadable: nothing required).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }
# new_store N [WHAT]: S=store<N> and M=mnt<N> below T_BASE, a new store
# mounted ("init (WHAT)" or "mount (WHAT)" fails and ends the test if not).
new_store() {
	local w=${2:+ ($2)}
	S=$T_BASE/store$1 M=$T_BASE/mnt$1
	make_store "$S" || { fail "init$w"; done_testing; }
	mount_fg "$S" "$M" || { fail "mount$w"; done_testing; }
}
new_store ""
mkdir "$M/bkt" && echo x >"$M/bkt/hold" && echo y >"$M/bkt/comp" || fail "objects"
umount_fs "$M"
declare -A PRE=() INO=()
while read -r ino _id _s _g _k path; do
	INO[$path]=$ino; PRE[$path]=$(node_get "$S" "$ino")
done < <("$TAMPER" map "$S/meta")
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "legal hold ON" OK setxattr "$M/bkt/hold" user.worm.legal-hold ON
check_errno "COMPLIANCE +365d" OK setxattr "$M/bkt/comp" user.worm.retention "COMPLIANCE +365d"
umount_fs "$M"
node_put "$S" "${INO[bkt/hold]}" "${PRE[bkt/hold]}"
node_put "$S" "${INO[bkt/comp]}" "${PRE[bkt/comp]}"
check_repairs_refuse "$S" "" "of a state that undoes two locks" "less lock than the audit trail"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify still reports it: exit 1" 1 "$?"
check_match "verify names the held object" "bkt/hold: older lock state than the audit trail" "$out"
check_match "verify names the COMPLIANCE object" "bkt/comp: older lock state than the audit trail" "$out"
check_mount_refused "writable mount refused after the refused repairs" "$S" "$M" \
	"held object still locked" bkt/hold "COMPLIANCE object still locked" bkt/comp

# The birth time pushed about 2.3 years ahead (byte 7 of btime_ns).
"$TAMPER" flip "$S/meta" "${INO[bkt/hold]}" btime_ns 7 1 || fail "flip btime"
"$TAMPER" flip "$S/meta" "${INO[bkt/comp]}" btime_ns 7 1 || fail "flip btime"
check_repairs_refuse "$S" "later birth time: " refuses "less lock than the audit trail"
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "later birth time: verify names the held object" "bkt/hold: older lock state than the audit trail" "$out"
check_match "later birth time: verify names the COMPLIANCE object" "bkt/comp: older lock state than the audit trail" "$out"
check_mount_refused "later birth time: writable mount refused" "$S" "$M" \
	"held object still locked" bkt/hold "COMPLIANCE object still locked" bkt/comp

# ---- buckets: a default retention and a completed bucket lock undone
new_store 2 "buckets"
mkdir "$M/defb" "$M/lockb" "$M/logb" "$M/acb" "$M/lockc" "$M/tabb" "$M/tabl" || fail "buckets"
DINO=$(stat -c %i "$M/defb") LINO=$(stat -c %i "$M/lockb") GINO=$(stat -c %i "$M/logb")
AINO=$(stat -c %i "$M/acb") CINO=$(stat -c %i "$M/lockc")
TINO=$(stat -c %i "$M/tabb") UINO=$(stat -c %i "$M/tabl")
umount_fs "$M"
DPRE=$(node_get "$S" "$DINO") LPRE=$(node_get "$S" "$LINO") TPRE=$(node_get "$S" "$TINO")
mount_fg "$S" "$M" || { fail "remount (buckets)"; done_testing; }
check_errno "defb: default COMPLIANCE 30d" OK setxattr "$M/defb" user.worm.default-retention "COMPLIANCE 30d"
check_errno "lockb: default COMPLIANCE 30d" OK setxattr "$M/lockb" user.worm.default-retention "COMPLIANCE 30d"
check "lockb: bucket lock started" "$WORMCTL" bucket lock "$M/lockb"
LID=$(h getxattr "$M/lockb" user.worm.lock-config | awk '{print $2}')
check "lockb: bucket lock completed" "$WORMCTL" bucket lock "$M/lockb" --complete "$LID"
# A tab separates a value's words as a space does; the record quotes it
# as \t, which the check must read back.
check_errno "tabb: default COMPLIANCE<TAB>30d" OK setxattr "$M/tabb" user.worm.default-retention "$(printf 'COMPLIANCE\t30d')"
check_eq "tabb: the default reads back" "COMPLIANCE 30d" "$(h getxattr "$M/tabb" user.worm.default-retention)"
check_errno "tabl: default COMPLIANCE 30d" OK setxattr "$M/tabl" user.worm.default-retention "COMPLIANCE 30d"
check_errno "lockc: default COMPLIANCE 30d" OK setxattr "$M/lockc" user.worm.default-retention "COMPLIANCE 30d"
check_errno "logb: default COMPLIANCE 30d" OK setxattr "$M/logb" user.worm.default-retention "COMPLIANCE 30d"
check_errno "logb: autocommit 2h" OK setxattr "$M/logb" user.worm.autocommit 2h
check "logb: bucket lock started" "$WORMCTL" bucket lock "$M/logb"
LID=$(h getxattr "$M/logb" user.worm.lock-config | awk '{print $2}')
check "logb: bucket lock completed" "$WORMCTL" bucket lock "$M/logb" --complete "$LID"
check_errno "acb: default COMPLIANCE 30d" OK setxattr "$M/acb" user.worm.default-retention "COMPLIANCE 30d"
check_errno "acb: autocommit 2h" OK setxattr "$M/acb" user.worm.autocommit 2h
umount_fs "$M"
GPRE=$(node_get "$S" "$GINO") APRE=$(node_get "$S" "$AINO")
CPRE=$(node_get "$S" "$CINO") UPRE=$(node_get "$S" "$UINO")
mount_fg "$S" "$M" || { fail "remount (logb)"; done_testing; }
check "tabl: bucket lock started" "$WORMCTL" bucket lock "$M/tabl"
LID=$(h getxattr "$M/tabl" user.worm.lock-config | awk '{print $2}')
check_errno "tabl: bucket lock completed as locked<TAB>ID" OK setxattr "$M/tabl" user.worm.lock-config "$(printf 'locked\t%s' "$LID")"
check_match "tabl: locked" "^locked" "$(h getxattr "$M/tabl" user.worm.lock-config)"
# The request's word is read case-insensitively: "LOCKED ID" completes
# the lock as "locked ID" does, and the record keeps the caller's spelling.
check "lockc: bucket lock started" "$WORMCTL" bucket lock "$M/lockc"
LID=$(h getxattr "$M/lockc" user.worm.lock-config | awk '{print $2}')
check_errno "lockc: bucket lock completed as LOCKED ID" OK setxattr "$M/lockc" user.worm.lock-config "LOCKED $LID"
check_match "lockc: locked" "^locked" "$(h getxattr "$M/lockc" user.worm.lock-config)"
check_errno "logb: default append-only ON (locked bucket)" OK setxattr "$M/logb" user.worm.default-append-only ON
check_errno "logb: autocommit shortened to 1h (locked bucket)" OK setxattr "$M/logb" user.worm.autocommit 1h
check_errno "acb: autocommit shortened to 1h" OK setxattr "$M/acb" user.worm.autocommit 1h
umount_fs "$M"
for r in "$DINO $DPRE" "$LINO $LPRE" "$GINO $GPRE" "$AINO $APRE" "$CINO $CPRE" "$TINO $TPRE" "$UINO $UPRE"; do
	node_put "$S" "${r%% *}" "${r#* }"
done
check_repairs_refuse "$S" "buckets: " refuses "less lock than the audit trail"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "buckets: verify exit 1" 1 "$?"
check_match "buckets: verify names the default retention undone" "defb: older lock state than the audit trail .default retention none 0d weaker than the COMPLIANCE 30d" "$out"
check_match "buckets: verify names the bucket lock undone" "lockb: older lock state than the audit trail .bucket lock not locked" "$out"
check_match "buckets: verify names the bucket lock completed as LOCKED ID undone" "lockc: older lock state than the audit trail .bucket lock not locked" "$out"
check_match "buckets: verify names the default set with a tab undone" "tabb: older lock state than the audit trail .default retention none 0d weaker than the COMPLIANCE 30d" "$out"
check_match "buckets: verify names the bucket lock completed with a tab undone" "tabl: older lock state than the audit trail .bucket lock not locked" "$out"
check_match "buckets: verify names the default append-only undone" "logb: older lock state than the audit trail .default append-only OFF" "$out"
check_match "buckets: verify names the autocommit period lengthened" "acb: older lock state than the audit trail .autocommit period 7200s longer than the 3600s" "$out"
check_mount_refused "buckets: writable mount refused" "$S" "$M"

# ---- an object's retention set with a tab between its words: its node
# record put back from before it is still refused (before, the record's
# value was unreadable and required nothing: repair digest accepted it)
new_store 3 "tab"
mkdir "$M/tbk" && echo z >"$M/tbk/obj" || fail "object (tab)"
OINO=$(stat -c %i "$M/tbk/obj")
umount_fs "$M"
OPRE=$(node_get "$S" "$OINO")
mount_fg "$S" "$M" || { fail "remount (tab)"; done_testing; }
check_errno "tab: COMPLIANCE<TAB>+365d" OK setxattr "$M/tbk/obj" user.worm.retention "$(printf 'COMPLIANCE\t+365d')"
check_errno "tab: the object is locked" EPERM unlink "$M/tbk/obj"
umount_fs "$M"
node_put "$S" "$OINO" "$OPRE"
out=$("$WORMCTL" repair digest "$S" 2>&1)
check_eq "tab: wormctl repair digest refuses: exit 1 ($out)" 1 "$?"
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "tab: verify names the object" "tbk/obj: older lock state than the audit trail" "$out"
check_mount_refused "tab: writable mount refused" "$S" "$M" "tab: the object still locked" tbk/obj

# ---- a locked bucket's record edited (fails authentication): repair
# digest accepts it (treated as locked: creates in it fail closed), and
# verify names it (before, it skipped every directory: exit 0, "all intact")
new_store 4 "auth"
check_errno "auth: bucket" OK mkdir "$M/abk"
BINO=$(stat -c %i "$M/abk")
check_errno "auth: default COMPLIANCE 30d" OK setxattr "$M/abk" user.worm.default-retention "COMPLIANCE 30d"
check "auth: bucket lock started" "$WORMCTL" bucket lock "$M/abk"
LID=$(h getxattr "$M/abk" user.worm.lock-config | awk '{print $2}')
check "auth: bucket lock completed" "$WORMCTL" bucket lock "$M/abk" --complete "$LID"
umount_fs "$M"
check "auth: offline: one byte of the bucket's record flipped" "$TAMPER" flip "$S/meta" "$BINO" autocommit_s 0 1
out=$("$WORMCTL" repair digest "$S" 2>&1)
check_eq "auth: wormctl repair digest accepts it (treated as locked) ($out)" 0 "$?"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "auth: verify exit 1" 1 "$?"
check_match "auth: verify names the bucket" "DAMAGED abk: metadata record fails authentication" "$out"
mount_fg "$S" "$M" || { fail "mount (auth, after the re-seal)"; done_testing; }
check_errno "auth: a create in the bucket fails closed" EIO write "$M/abk/obj" x
umount_check "$M" "auth"

# ---- the lock's audit record removed too: the lock check against the
# trail cannot see the lock, so repair refuses on the trail's damage
# itself unless the operator accepts it (--accept-audit-damage, recorded
# in the re-seal's audit record); before, it re-sealed and root deleted
# the COMPLIANCE object through the mount.
new_store 5 "audit record removed"
mkdir "$M/bkt" && head -c 40000 /dev/urandom >"$M/bkt/x" || fail "object"
umount_fs "$M"
XINO=$("$TAMPER" map "$S/meta" | awk '$6=="bkt/x"{print $1}')
XPRE=$(node_get "$S" "$XINO")
mount_fg "$S" "$M" || { fail "remount (audit record removed)"; done_testing; }
check_errno "COMPLIANCE +1d" OK setxattr "$M/bkt/x" user.worm.retention "COMPLIANCE +1d"
umount_fs "$M"
SEQ=$("$WORMCTL" audit "$S" | awk '/kind=retention/{print $1}' | tail -n 1)
node_put "$S" "$XINO" "$XPRE"
"$TAMPER" xdel "$S/meta" kv "$(kv_key "$(printf 'audit/%016x' "$SEQ")")" ||
	fail "xdel of the lock's audit record"
check_repairs_refuse "$S" "audit record removed: " refuses "audit trail fails verification"
check_mount_refused "audit record removed: writable mount refused" "$S" "$M"
out=$("$WORMCTL" repair digest --accept-audit-damage "$S" 2>&1)
check_eq "repair digest --accept-audit-damage: re-sealed ($out)" 0 "$?"
out=$("$WORMCTL" audit "$S" 2>&1)
check_match "the re-seal's audit record names the accepted damage" \
	"kind=digest-reseal.*audit_problems_accepted=[1-9]" "$out"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify after the accepted re-seal still fails: exit 1" 1 "$?"
check_match "verify names the missing audit record" "audit record $SEQ" "$out"
done_testing
