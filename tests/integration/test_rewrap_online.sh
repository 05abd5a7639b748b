#!/usr/bin/env bash
# Online key rewrap (design.md section 16): `wormctl key rewrap STORE`
# while the store is mounted goes to the daemon over STORE/ctl.sock.
#  1. After an online key rotate, an online rewrap moves every DEK and
#     every S3 user's secret to the new version without touching content
#     blocks, while reads (checked by sha256) and writes go on in another
#     process; it is audited (op=rewrap ... via=ctl); the old version can
#     then be removed offline and every object still reads.
#  2. A file held open for writing across the rewrap: its commit after the
#     rewrap records the new wrapping, not the one it loaded at open (the
#     daemon updates the open inode; without that, the old version stays
#     in use and key remove must refuse).
#  3. The daemon killed inside the rewrap (test hook WORMFS_CRASH_AT=rewrap,
#     between an object's header and its record): verify is clean, every
#     object reads after the remount, and a second online rewrap completes.
. "$(dirname "$0")/lib.sh"
require_binaries
build_tamper || { fail "tamper.c compiles"; done_testing; }

# "VERSION COUNT" of the wrapped DEKs in the metadata (store not mounted).
kvers() { "$TAMPER" map "$1/meta" | awk '$2 != "00000000000000000000000000000000" { print $5 }' | sort -n | uniq -c | awk '{ print $2 " " $1 }' | tr '\n' ' ' | sed 's/ $//'; }
blocksums() { (cd "$1/objects" && find . -type f ! -name '*.*' | sort | while read -r f; do echo "$f $(tail -c +513 "$f" | sha256sum)"; done); }
sums_ok() { (cd "$1" && sha256sum -c --quiet "$2" 2>&1 | head -n 5); }
in_use() { "$WORMCTL" key list "$1" --json 2>/dev/null | python3 -c 'import json,sys; u=json.load(sys.stdin)["versions_in_use"]; print(u and "%d..%d" % (u["min"], u["max"]))' 2>&1; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
"$WORMCTL" s3 user add "$S" alice --uid 1000 >/dev/null || fail "s3 user add"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
# Inline (< 16 KiB) and file-backed objects.
for i in $(seq 1 120); do head -c $(( (i * 7919) % 90000 )) /dev/urandom >"$M/bkt/o$i"; done
echo first >"$M/bkt/held"
# Checksums of all but the file the test writes to later.
(cd "$M" && find bkt -type f ! -name held -print0 | sort -z | xargs -0 sha256sum) >"$T_BASE/sums"
check_eq "before: every DEK and secret under version 1" "1..1" "$(in_use "$S")"

out=$("$WORMCTL" key rotate "$S" 2>&1)
check_match "online rotate to version 2" 'now version 2' "$out"
umount_fs "$M"
B0=$(blocksums "$S")
mount_fg "$S" "$M" || { fail "remount"; done_testing; }

# A writer session open across the rewrap (case 2).
exec 7>>"$M/bkt/held"
echo "before the rewrap" >&7

# Reads and writes in another process while the daemon re-wraps.
: >"$T_BASE/load.err"
(
	end=$((SECONDS + 60)) i=0
	while [ ! -e "$T_BASE/stop" ] && [ $SECONDS -lt $end ]; do
		i=$((i + 1))
		r=$(sums_ok "$M" "$T_BASE/sums")
		[ -z "$r" ] || echo "read: $r" >>"$T_BASE/load.err"
		head -c $((i * 1000 % 40000)) /dev/zero >"$M/bkt/new$i" 2>>"$T_BASE/load.err" ||
			echo "write new$i failed" >>"$T_BASE/load.err"
	done
	echo "$i" >"$T_BASE/load.rounds"
) &
LOAD=$!
out=$("$WORMCTL" key rewrap "$S" 2>&1); rc=$?
check_eq "online rewrap: exit 0" 0 "$rc"
check_match "online rewrap: re-wrapped by the daemon under version 2" \
	'^re-wrapped [0-9]+ data keys under master key version 2 \(by the daemon\)$' "$out"
touch "$T_BASE/stop"; wait "$LOAD"
check_eq "reads (sha256) and writes during the rewrap: no error" "" "$(cat "$T_BASE/load.err")"
diag "load rounds during and after the rewrap: $(cat "$T_BASE/load.rounds" 2>/dev/null)"
echo "after the rewrap" >&7
exec 7>&-
check_eq "held-open file: all three writes" "first|before the rewrap|after the rewrap" \
	"$(tr '\n' '|' <"$M/bkt/held" | sed 's/|$//')"
check_match "the daemon logged the rewrap" 're-wrapped [0-9]+ data keys under master key version 2 \(control socket' \
	"$(cat "${MNT_LOG[$M]}")"
check_eq "while mounted: every DEK and secret under version 2 (the held file too)" "2..2" "$(in_use "$S")"
check_eq "objects read back after the online rewrap" "" "$(sums_ok "$M" "$T_BASE/sums")"
umount_check "$M" "online rewrap"
check_eq "unmounted: version 2 only in the metadata" "2" "$(kvers "$S" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
check_eq "the rewrap changed no content block of the old objects" "" \
	"$(diff <(echo "$B0") <(blocksums "$S") | grep '^<' | head -n 3)"
check_match "audited: op=rewrap via=ctl" 'kind=key-ring op=rewrap count=[0-9]+ version=2 via=ctl peer_uid=0' "$("$WORMCTL" audit "$S")"
check "verify after the online rewrap" "$WORMCTL" verify "$S"
check "key remove 1 after the online rewrap" "$WORMCTL" key remove "$S" 1
mount_fg "$S" "$M" || { fail "mount after key remove"; done_testing; }
check_eq "after removing version 1: every object reads" "" "$(sums_ok "$M" "$T_BASE/sums")"
check_eq "after removing version 1: the S3 user's secret still unseals" "alice" \
	"$("$WORMCTL" s3 user list "$S" --json | python3 -c 'import json,sys; print(" ".join(u["name"] for u in json.load(sys.stdin)["users"] if not u["damaged"]))' 2>&1)"

# ============================================================ 3. killed midway
out=$("$WORMCTL" key rotate "$S" 2>&1)
check_match "online rotate to version 3" 'now version 3' "$out"
umount_fs "$M"
WORMFS_CRASH_AT=rewrap@40 mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
out=$("$WORMCTL" key rewrap "$S" 2>&1); rc=$?
check_eq "rewrap through a daemon that dies: wormctl fails (exit 1)" 1 "$rc"
diag "wormctl said: $out"
if hook_fired "$M" "$S"; then ok "daemon killed inside the online rewrap (40th object)"
else fail "daemon killed inside the online rewrap (40th object)"; fi
check_match "the kill left a partial rewrap (versions 2 and 3 in use)" '^2 [0-9]+ 3 [0-9]+$' "$(kvers "$S")"
check "verify after the killed online rewrap" "$WORMCTL" verify "$S"
mount_fg "$S" "$M" || { fail "mount after the kill"; done_testing; }
check_eq "after the kill: every object reads" "" "$(sums_ok "$M" "$T_BASE/sums")"
out=$("$WORMCTL" key rewrap "$S" 2>&1)
check_match "a second online rewrap completes" 'under master key version 3 \(by the daemon\)' "$out"
check_eq "after the second rewrap: version 3 only" "3..3" "$(in_use "$S")"
umount_check "$M" "second online rewrap"
check "verify at the end" "$WORMCTL" verify "$S"
done_testing
