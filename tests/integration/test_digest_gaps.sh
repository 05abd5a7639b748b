#!/usr/bin/env bash
# The state digest and the audit trail, gaps left by the review of issue 12:
#  1. a re-seal (wormctl repair digest, and the seal a mount makes of a
#     store without a digest) is in the audit trail (kind=digest-reseal,
#     old and new digest, who and why) and advances the store head;
#  2. a node record put back from before a retention *extension* (it still
#     runs past the change's time): verify names it, repair digest and
#     repair refuse, the mount stays refused;
#  3. a locked object (legal hold, COMPLIANCE) deleted offline, node and
#     entry: verify names its path and the audit record (also after an
#     operator's re-seal); objects that went the legal ways are not named;
#  4. a store whose digest does not match: read-only deciding wormctl
#     commands (ls, bucket list, key list) refuse, a read-only mount
#     (-o ro) is refused; verify, head and audit still answer;
#  5. a downgrade (digest record and authenticated-records flag deleted,
#     an older record put back) of a store whose head says it kept a
#     digest: the mount is refused; repair digest is the way out (audited).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }
AE=$T_BASE/auditedit
libs=$(pkg-config --cflags --libs lmdb 2>/dev/null) || libs=-llmdb
# shellcheck disable=SC2086
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$AE" "$LIB_DIR/auditedit.c" $libs; then
	fail "auditedit compiles"
	done_testing
fi

S=$T_BASE/store M=$T_BASE/mnt P=$T_BASE/pristine R=$T_BASE/r
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt" && echo x >"$M/bkt/ext" && echo h >"$M/bkt/held" && echo c >"$M/bkt/comp" &&
	echo o >"$M/bkt/off" && echo g >"$M/bkt/gov" || fail "objects"
umount_fs "$M"
OLD_CLOCK=$("$TAMPER" kvget "$S/meta" clock_hwm)
sleep 1.1
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "COMPLIANCE +365d" OK setxattr "$M/bkt/ext" user.worm.retention "COMPLIANCE +365d"
umount_fs "$M"
declare -A INO=()
while read -r ino _id _s _g _k path; do INO[$path]=$ino; done < <("$TAMPER" map "$S/meta")
be64() { printf '%016x' "$1"; }
hexs() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
BKT=$("$TAMPER" get "$S/meta" "${INO[bkt/ext]}" parent)
PRE_EXT=$("$TAMPER" xget "$S/meta" nodes "$(be64 "${INO[bkt/ext]}")")
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_errno "extended to +730d" OK setxattr "$M/bkt/ext" user.worm.retention "COMPLIANCE +730d"
check_errno "legal hold ON" OK setxattr "$M/bkt/held" user.worm.legal-hold ON
check_errno "COMPLIANCE +365d" OK setxattr "$M/bkt/comp" user.worm.retention "COMPLIANCE +365d"
# The legal ways to go: a hold set and removed, a GOVERNANCE retention
# removed by a bypass principal (root), then deleted.
check_errno "hold ON" OK setxattr "$M/bkt/off" user.worm.legal-hold ON
check_errno "hold OFF" OK setxattr "$M/bkt/off" user.worm.legal-hold OFF
check_errno "rm after hold OFF" OK unlink "$M/bkt/off"
check_errno "GOVERNANCE +1d" OK setxattr "$M/bkt/gov" user.worm.retention "GOVERNANCE +1d"
check_errno "bypass removes it" OK removexattr "$M/bkt/gov" user.worm.retention
check_errno "rm after the bypass" OK unlink "$M/bkt/gov"
umount_check "$M" "first sessions"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "pristine store verifies, the legal deletions not named ($out)" 0 "$?"
cp -a "$S" "$P"
restore() { rm -rf "$S" && cp -a "$P" "$S"; }

# ---- 1: a re-seal is in the audit trail --------------------------------------
"$TAMPER" kvput "$S/meta" clock_hwm "$OLD_CLOCK"
seq0=$("$WORMCTL" head --json "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
out=$("$WORMCTL" repair digest "$S" 2>&1)
check_match "repair digest re-seals an older clock mark put back" "re-sealed" "$out"
seq1=$("$WORMCTL" head --json "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
check_match "the re-seal advanced the store head ($seq0 -> $seq1)" '^1$' "$((seq1 > seq0))"
A=$("$WORMCTL" audit "$S")
check_match "wormctl audit shows the re-seal, old and new digest, who and why" \
	'kind=digest-reseal op=repair uid=0 rule=wormctl-repair-digest old=[0-9a-f]{64} new=[0-9a-f]{64} records=[0-9]+' "$A"
J=$("$WORMCTL" audit --json "$S")
check_match "audit --json shows it" '"record": *"kind=digest-reseal op=repair' "$J"
check "audit verify after the re-seal: clean" "$WORMCTL" audit verify "$S"
check "verify after the re-seal: clean" "$WORMCTL" verify "$S"
restore

# The seal a mount makes of a store without a digest (here: from before
# heads and digests, its records deleted) is audited too.
"$AE" "$S/meta" nohead || fail "auditedit nohead"
rm -f "$S/head"
"$TAMPER" xdel "$S/meta" kv "$(hexs state_digest)" || fail "digest record deleted"
"$TAMPER" xdel "$S/meta" kv "$(hexs auth_records)" || fail "flag deleted"
if mount_fg "$S" "$M"; then
	umount_fs "$M"
	check_match "the mount sealed it (logged)" "metadata state digest created" "$(cat "${MNT_LOG[$M]}")"
	check_match "and it is in the audit trail" \
		'kind=digest-reseal op=create uid=0 rule=store-without-digest old=none new=' "$("$WORMCTL" audit "$S")"
else
	fail "a store from before heads and digests mounts"
fi
restore

# ---- 2: a node record from before an extension ---------------------------------
"$TAMPER" xput "$S/meta" nodes "$(be64 "${INO[bkt/ext]}")" "$PRE_EXT" || fail xput
for cmd in "repair digest" "repair"; do
	# shellcheck disable=SC2086
	out=$("$WORMCTL" $cmd "$S" 2>&1)
	check_eq "wormctl $cmd of a state that undoes an extension: exit 1" 1 "$?"
	check_match "wormctl $cmd says why" "less lock than the audit trail" "$out"
done
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify: exit 1" 1 "$?"
check_match "verify names the object and the date" \
	"DAMAGED bkt/ext: older lock state than the audit trail \(retention date .* before .*, the date of its latest retention change, audit record [0-9]+" "$out"
if mount_fg "$S" "$M" 2>/dev/null; then
	fail "mount refused"
	umount_fs "$M"
else
	ok "mount refused"
fi
restore

# ---- 3: locked objects deleted offline -----------------------------------------
"$TAMPER" ddel "$S/meta" "$BKT" held && "$TAMPER" xdel "$S/meta" nodes "$(be64 "${INO[bkt/held]}")" &&
	"$TAMPER" ddel "$S/meta" "$BKT" comp && "$TAMPER" xdel "$S/meta" nodes "$(be64 "${INO[bkt/comp]}")" ||
	fail "delete two locked objects offline"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify: exit 1" 1 "$?"
check_match "verify names the held object and its audit record" \
	"DAMAGED bkt/held: the audit trail records a lock in force on it \(legal hold ON, audit record [0-9]+\) but no object holds it" "$out"
check_match "verify names the COMPLIANCE object" \
	"DAMAGED bkt/comp: the audit trail records a lock in force on it \(COMPLIANCE until 20" "$out"
out=$("$WORMCTL" repair digest "$S" 2>&1)
check_eq "repair digest accepts it (the objects are gone; nothing left to protect)" 0 "$?"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "after the re-seal verify still exits 1" 1 "$?"
check_match "and still names them" "DAMAGED bkt/held: the audit trail records a lock in force" "$out"
check_match "in the trail: the re-seal" "kind=digest-reseal op=repair" "$("$WORMCTL" audit "$S")"
restore

# ---- 4: read-only deciding commands and a read-only mount -----------------------
"$TAMPER" kvput "$S/meta" clock_hwm "$OLD_CLOCK"
for cmd in "ls" "ls --locked" "bucket list" "key list"; do
	# shellcheck disable=SC2086
	out=$("$WORMCTL" $cmd "$S" 2>&1)
	check_eq "wormctl $cmd of a store whose digest does not match: exit 1" 1 "$?"
	check_match "wormctl $cmd says why" "refused: the metadata state digest does not match" "$out"
done
out=$("$WORMCTL" ls --locked "$S" 2>/dev/null)
check_match "ls --locked still shows what it read (forensics), then fails" "bkt/ext" "$out"
if mount_fg "$S" "$M" -o ro 2>/dev/null; then
	fail "a read-only mount (-o ro) is refused"
	umount_fs "$M"
else
	check_match "a read-only mount (-o ro) is refused, naming the digest" \
		"refused: the metadata state digest" "$(cat "${MNT_LOG[$M]}")"
fi
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "verify still reports it" "DAMAGED meta/kv/state_digest" "$out"
check "head still answers" "$WORMCTL" head "$S"
check "audit still answers" "$WORMCTL" audit "$S"
restore
out=$("$WORMCTL" ls --locked "$S" 2>&1)
check_match "ls --locked of the sound store works" "bkt/ext" "$out"

# ---- 5: a downgrade of the digest ----------------------------------------------
"$TAMPER" xdel "$S/meta" kv "$(hexs state_digest)" || fail "digest record deleted"
"$TAMPER" xdel "$S/meta" kv "$(hexs auth_records)" || fail "flag deleted"
"$TAMPER" kvput "$S/meta" clock_hwm "$OLD_CLOCK"   # an older record put back
if mount_fg "$S" "$M" 2>/dev/null; then
	fail "mount of the downgraded store refused"
	umount_fs "$M"
else
	check_match "mount refused: the store head says the store kept a digest" \
		"refused: the metadata state digest record is missing but the store head records a store that kept one" \
		"$(cat "${MNT_LOG[$M]}")"
fi
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "verify: exit 1" 1 "$?"
check_match "verify names the missing digest record" \
	"DAMAGED meta/kv/state_digest: the metadata state digest record is missing" "$out"
out=$("$WORMCTL" repair digest "$S" 2>&1)
check_match "repair digest is the explicit way out" "re-sealed" "$out"
check_match "and it is audited (old=none)" 'kind=digest-reseal op=repair .*old=none new=[0-9a-f]{64}' \
	"$("$WORMCTL" audit "$S")"
mount_fg "$S" "$M" || fail "mounts after repair digest"
check_errno "the locked object is still locked" EPERM unlink "$M/bkt/ext"
umount_check "$M" "after the downgrade was re-sealed"

done_testing
