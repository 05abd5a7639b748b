#!/usr/bin/env bash
# Store head and audit trail (design sections 7 and 15, issue 12 items 4-5):
#  - the signed head advances at every lock change, is logged and shown by
#    wormctl head [--json]; verify --since proves a store is at or after a
#    head and reports a rollback of the whole store (exit 1);
#  - a rollback of meta/ alone is refused at mount with a clear message; a
#    meta/ ahead of STORE/head (a crash between the two writes) and a store
#    killed with SIGKILL mount fine;
#  - the audit trail lists lock changes, legal holds, governance bypasses,
#    refusals and key ring operations; audit verify names an edited, a
#    removed, a reordered record and a cut tail; .wormfs/audit is readable
#    and refuses writes with the errno of the other .wormfs files;
#  - a flood of refusals is bounded: each one is recorded or counted as
#    dropped, never lost silently.
. "$(dirname "$0")/lib.sh"
require_binaries

AE=$T_BASE/auditedit
libs=$(pkg-config --cflags --libs lmdb 2>/dev/null) || libs=-llmdb
# shellcheck disable=SC2086
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$AE" "$LIB_DIR/auditedit.c" $libs; then
	fail "auditedit compiles"
	done_testing
fi

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount"; done_testing; }
LOG=${MNT_LOG[$M]}
B=$M/audits
mkdir "$B" && for f in a b c d; do echo "$f" >"$B/$f"; done
headseq() { "$WORMCTL" head "$1" | awk '$1 == "seq" { print $2 }'; }
headid() { "$WORMCTL" head "$1" | awk '$1 == "head" { print $2 }'; }

# ---- head advances at lock changes, logged
s0=$(headseq "$S")
check_match "a head exists after the first mount" '^[0-9]+$' "$s0"
setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$B/a"
s1=$(headseq "$S")
check_match "head advances at a retention change ($s0 -> $s1)" '^1$' "$(( s1 > s0 ))"
setfattr -n user.worm.legal-hold -v ON "$B/b"
s2=$(headseq "$S")
check_match "head advances at a legal hold change ($s1 -> $s2)" '^1$' "$(( s2 > s1 ))"
check_match "each head is logged" "store head seq=$s2 id=$s2:[0-9a-f]{64} " "$(cat "$LOG")"
H1=$(headid "$S")
js=$("$WORMCTL" head "$S" --json)
check_match "head --json: head id" "\"head\": *\"$s2:[0-9a-f]{64}\"" "$js"
check_match "head --json: public key" '"public_key": *"[0-9a-f]{64}"' "$js"
check_match "head --json: signature" '"signature": *"[0-9a-f]{128}"' "$js"
check_match "head --json: prev and digest" '"prev": *"[0-9a-f]{64}".*|"digest"' "$js"
pk1=$(sed -n 's/.*"public_key": *"\([0-9a-f]*\)".*/\1/p' <<<"$js")
check_eq "STORE/head: two slots" "wormfs-head 1|wormfs-head 1" "$(cut -c1-13 "$S/head" | paste -sd'|')"

# ---- audit events
check_errno "unlink of a held object: EPERM" EPERM unlink "$B/b"
setfattr -n user.worm.legal-hold -v OFF "$B/b"
setfattr -x user.worm.retention "$B/a"          # root is a bypass principal
chown "$TEST_UID" "$B/c"
check_errno_as_user "legal hold by uid $TEST_UID (not a principal): EPERM" EPERM setxattr "$B/c" user.worm.legal-hold ON
for i in $(seq 1 40); do sleep 0.1; grep -q 'kind=refusal op=setxattr' "$M/.wormfs/audit" && break; done
A=$(cat "$M/.wormfs/audit")
check_match ".wormfs/audit: retention set" 'kind=retention op=set path=/audits/a attr=user.worm.retention uid=0 rule=- value="GOVERNANCE \+1d"' "$A"
check_match ".wormfs/audit: legal hold on" 'kind=legal-hold op=set path=/audits/b .*value=ON' "$A"
check_match ".wormfs/audit: legal hold off" 'kind=legal-hold op=set path=/audits/b .*value=OFF' "$A"
check_match ".wormfs/audit: governance bypass" 'kind=governance-bypass op=remove path=/audits/a' "$A"
check_match ".wormfs/audit: refused unlink" 'kind=refusal op=unlink path=/audits/b uid=0 errno=1 rule=legal-hold' "$A"
check_match ".wormfs/audit: refused hold by a non-principal" "kind=refusal op=setxattr path=/audits/c attr=user.worm.legal-hold uid=$TEST_UID errno=1" "$A"
check_match ".wormfs/audit lines: SEQ TIME fields" '^[0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z kind=' "$A"
check_match ".wormfs is listed with audit" 'audit' "$(ls "$M/.wormfs")"
same_errno() {   # same_errno OP ARGS...: audit refuses like stats
	local op=$1 want
	shift
	want=$(h "$op" "$M/.wormfs/stats" "$@" 2>&1)
	case $want in
	EROFS|EPERM) check_errno ".wormfs/audit $op: $want, as .wormfs/stats" "$want" "$op" "$M/.wormfs/audit" "$@" ;;
	*) fail ".wormfs/stats $op: EROFS or EPERM" "got $want" ;;
	esac
}
same_errno open WRONLY
same_errno open RDWR
same_errno truncate 0
same_errno unlink
same_errno chmod 0666
same_errno setxattr user.x y
umount_check "$M" "first session"

# ---- whole-store rollback against an earlier head
cp -a "$S" "$T_BASE/old"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
setfattr -n user.worm.retention -v "COMPLIANCE +2d" "$B/c"
setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" "$B"
check "bucket lock start" "$WORMCTL" bucket lock "$B"
H2J=$("$WORMCTL" head "$S" --json)
umount_check "$M" "second session"
A=$("$WORMCTL" audit "$S")
check_match "audit: default retention" 'kind=default-retention op=set path=/audits .*value="GOVERNANCE 1d"' "$A"
check_match "audit: bucket lock step" 'kind=bucket-lock op=set path=/audits attr=user.worm.lock-config uid=0 rule=bucket-lock-start' "$A"
out=$("$WORMCTL" verify "$S" --since "$H1" 2>&1)
check_eq "verify --since an older head: exit 0" "0" "$?"
check_match "verify --since: says at or after" "at or after head" "$out"
out=$("$WORMCTL" verify "$S" --since "$H2J" 2>&1)
check_eq "verify --since the current head (JSON): exit 0" "0" "$?"
out=$("$WORMCTL" verify "$T_BASE/old" --since "$H2J" 2>&1)
check_eq "older copy of the whole store, verify --since a later head: exit 1" "1" "$?"
check_match "older copy: ROLLBACK reported" "DAMAGED ROLLBACK: rollback: the store is at head [0-9]+, before the given head" "$out"
out=$("$WORMCTL" verify "$T_BASE/old" --since "not-a-head" 2>&1)
check_eq "verify --since garbage: exit 2 (a usage error, not damage) with a message" "2" "$?"
check_match "verify --since garbage: message" "not a head id" "$out"
check_eq "public key stable across mounts" "$pk1" "$("$WORMCTL" head "$S" --json | sed -n 's/.*"public_key": *"\([0-9a-f]*\)".*/\1/p')"

# ---- rollback of meta/ alone: refused at mount, and by verify
R=$T_BASE/rolled
cp -a "$S" "$R"
rm -rf "$R/meta" && cp -a "$T_BASE/old/meta" "$R/meta"
mkdir -p "$T_BASE/mnt-r"
out=$(timeout 20 "$WORMFS" "$R" "$T_BASE/mnt-r" -f 2>&1)
rc=$?
check_not "mount of a store with a rolled-back meta/ is refused (exit $rc)" test "$rc" -eq 0
check_match "refusal names the metadata rollback" "refusing to open: metadata rollback: meta/ is at store head [0-9]+ but .*/head records head [0-9]+" "$out"
is_mounted "$T_BASE/mnt-r" && { fusermount3 -u "$T_BASE/mnt-r"; fail "rolled-back store was mounted"; }
out=$("$WORMCTL" verify "$R" 2>&1)
check_eq "verify of a rolled-back meta/: exit 1" "1" "$?"
check_match "verify names it" "DAMAGED store-head: metadata rollback" "$out"
rm -f "$R/head"
out=$(timeout 20 "$WORMFS" "$R" "$T_BASE/mnt-r" -f 2>&1)
check_not "rolled-back meta/ and the head file deleted: refused too" test "$?" -eq 0
check_match "refusal: head file missing" "head is missing but meta/ is at store head" "$out"

# ---- meta/ ahead of STORE/head (a crash between the writes) is accepted
C=$T_BASE/crashy
cp -a "$S" "$C"
cp "$C/head" "$T_BASE/head.before"
mount_fg "$C" "$M" || { fail "mount copy"; done_testing; }
setfattr -n user.worm.legal-hold -v ON "$B/d"
umount_check "$M" "copy session"
cp "$T_BASE/head.before" "$C/head"
mount_fg "$C" "$M"
check "meta/ ahead of an older STORE/head of the same chain: mounts" is_mounted "$M"
check_not "and the head file is brought up to date" cmp -s "$T_BASE/head.before" "$C/head"
setfattr -n user.worm.legal-hold -v OFF "$B/d"
crash_daemon "$M" "$C"
mount_fg "$C" "$M"
check "store killed with SIGKILL after a lock change: mounts" is_mounted "$M"
check_match "the lock change before the kill is in the audit trail" 'kind=legal-hold op=set path=/audits/d .*value=OFF' "$(cat "$M/.wormfs/audit")"
umount_check "$M" "after crash"
check "audit verify after the crash: intact" "$WORMCTL" audit verify "$C"
check "verify after the crash: intact" "$WORMCTL" verify "$C"

# ---- key ring operations are recorded
check "key rotate" "$WORMCTL" key rotate "$S"
check_match "audit: key rotate" 'kind=key-ring op=rotate version=2' "$("$WORMCTL" audit "$S")"
check "key rewrap" "$WORMCTL" key rewrap "$S"
check_match "audit: key rewrap" 'kind=key-ring op=rewrap count=[0-9]+ version=2' "$("$WORMCTL" audit "$S")"
js=$("$WORMCTL" audit "$S" --json)
check_match "audit --json: records with seq, time, record" '"seq": *[0-9]+,.*"time": *"[0-9T:Z-]+",.*"record": *"kind=' "$(tr -d '\n' <<<"$js")"
check_eq "audit --since a future time: nothing" "" "$("$WORMCTL" audit "$S" --since 2099-01-01)"
check_not "audit --since garbage: usage error" "$WORMCTL" audit "$S" --since yesterday

# ---- audit verify: intact, then each kind of offline damage
out=$("$WORMCTL" audit verify "$S" 2>&1)
check_eq "audit verify of the untouched store: exit 0" "0" "$?"
check_match "audit verify: chain intact" "chain intact, tip matches head" "$out"
N=$("$AE" "$S/meta" count)
check_match "store has several audit records ($N)" '^1$' "$(( N >= 8 ))"
damage() {   # damage DESC EXPECT-REGEX auditedit-args...
	local desc=$1 want=$2 D=$T_BASE/dmg.$RANDOM out rc
	shift 2
	cp -a "$S" "$D"
	"$AE" "$D/meta" "$@" || { fail "$desc: auditedit $*"; return; }
	out=$("$WORMCTL" audit verify "$D" 2>&1)
	rc=$?
	check_eq "$desc: audit verify exit 1" "1" "$rc"
	check_match "$desc: named" "$want" "$out"
	out=$("$WORMCTL" verify "$D" 2>&1)
	check_eq "$desc: verify exit 1 too (audit tip vs head)" "1" "$?"
	rm -rf "$D"
}
damage "edited record 3" "DAMAGED audit record 3: audit record 3 fails authentication \(edited\)" flip 3
damage "removed record 2" "DAMAGED audit record 2: audit record 2 is missing \(removed\)" del 2
damage "records 4 and 5 swapped" "DAMAGED audit record 4: audit record 4 holds record 5 \(reordered or moved\)" swap 4 5
damage "cut tail (last 2 records, tip rewritten)" "audit tail cut: records $((N - 1))\.\.$N missing" cut $((N - 1))
damage "last record edited" "DAMAGED audit record $N: audit record $N fails authentication" flip "$N"

# ---- a flood of refusals is bounded and accounted for
F=$T_BASE/flood
cp -a "$S" "$F"
mount_fg "$F" "$M" || { fail "mount flood copy"; done_testing; }
setfattr -n user.worm.legal-hold -v ON "$B/b"
old=$("$WORMCTL" audit "$F" | grep -c 'kind=refusal op=unlink path=/audits/b')
n=300
for i in $(seq 1 $n); do rm -f "$B/b" 2>/dev/null; done
umount_check "$M" "flood session"
A=$("$WORMCTL" audit "$F")
rec=$(( $(grep -c 'kind=refusal op=unlink path=/audits/b' <<<"$A") - old ))
drop=$(grep -o 'kind=audit-dropped count=[0-9]*' <<<"$A" | awk -F= '{s += $3} END {print s + 0}')
check_eq "every refusal is recorded or counted as dropped ($rec recorded, $drop dropped)" "$n" "$((rec + drop))"
check "flood store: audit verify intact" "$WORMCTL" audit verify "$F"

done_testing
