#!/usr/bin/env bash
# An audit record that fails authentication is no evidence of a key rotate
# (review: earlier adversarial reviews, left then). The key ring check of
# every open compares the ring with the highest version the trail's
# "kind=key-ring op=rotate" records name, and read them without their MAC:
# root, without the key, could put a record naming version 9 in place of
# another one offline, and from then on every writable open was refused
# ("active master key version 1 is below version 9"), repair digest too, so
# the state could not even be accepted again. Now such a record is named
# (a warning at the open; audit verify and verify report the record) and
# not trusted. A genuine rotate record still is: the older ring put back
# with kv key_ring_active set back is refused as before (second part).
. "$(dirname "$0")/lib.sh"
require_binaries
build_tamper || { fail "tamper.c compiles"; done_testing; }

hexs() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" || { fail "first mount"; done_testing; }
mkdir "$M/bkt" && echo data >"$M/bkt/f"
check_errno "a retention (an audit record to replace)" OK setxattr "$M/bkt/f" \
	user.worm.retention "GOVERNANCE +1d"
umount_fs "$M" || fail "unmount"
check_eq "the first mount recorded version 1" 01000000 \
	"$("$TAMPER" kvget "$S/meta" key_ring_active 2>/dev/null)"
seq=$("$WORMCTL" audit "$S" 2>/dev/null | awk '/kind=retention / { print $1; exit }')
check "the retention's audit record ($seq)" test -n "$seq"

# The retention's record replaced offline by a rotate record naming
# version 9: same place (seq), time and links, the old MAC (no key).
k=$(hexs "$(printf 'audit/%016x' "$seq")")
v=$("$TAMPER" xget "$S/meta" kv "$k")
forged=$(python3 - "$v" <<'PY'
import struct, sys
b = bytes.fromhex(sys.argv[1])
text = b"kind=key-ring op=rotate version=9 uid=0"
print((b[:84] + struct.pack("<I", len(text)) + text).hex())
PY
)
"$TAMPER" xput "$S/meta" kv "$k" "$forged" || fail "forged record put"
check_match "wormctl audit lists the planted record" "^$seq .* kind=key-ring op=rotate version=9" \
	"$("$WORMCTL" audit "$S" 2>/dev/null)"

# The digest names the edit; the operator accepts the state with the
# audit damage. Before, repair refused (the key ring check's open).
out=$("$WORMCTL" repair digest --accept-audit-damage "$S" 2>&1); rc=$?
check_eq "repair digest --accept-audit-damage: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
check_match "repair names the planted record" \
	"audit record $seq names a key rotate to version 9 but fails authentication" "$out"
if mount_fg "$S" "$M"; then
	ok "a writable mount is not refused by the planted record"
	check_match "the mount names it" \
		"audit record $seq names a key rotate to version 9 but fails authentication" \
		"$(cat "${MNT_LOG[$M]}")"
	check_eq "the mount reads" data "$(cat "$M/bkt/f")"
	umount_fs "$M" || fail "unmount"
else
	fail "a writable mount is not refused by the planted record" "$(tail -n 3 "${MNT_LOG[$M]}")"
fi
check_eq "the record still names version 1" 01000000 \
	"$("$TAMPER" kvget "$S/meta" key_ring_active 2>/dev/null)"
out=$("$WORMCTL" key list "$S" 2>&1); rc=$?
check_eq "key list: exit 0" 0 "$rc"
check_not "key list: no word of version 9 as a rotate" grep -q "below version 9" <<<"$out"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "verify: exit 1 (the audit trail)" 1 "$rc"
check_match "verify names the record" "audit record $seq fails authentication" "$out"
check_not "verify does not blame the key ring" grep -q "DAMAGED keys/keyring" <<<"$out"

# A genuine rotate record is still evidence: the older ring put back with
# the record set back and the state re-sealed is refused.
old=$("$TAMPER" kvget "$S/meta" key_ring_active 2>/dev/null)
cp -p "$S/keys/keyring" "$T_BASE/keyring.1"
check "rotate" "$WORMCTL" key rotate "$S"
"$TAMPER" kvput "$S/meta" key_ring_active "$old" || fail "record set back"
cp "$T_BASE/keyring.1" "$S/keys/keyring"
out=$("$WORMCTL" repair digest --accept-audit-damage "$S" 2>&1); rc=$?
check_eq "repair digest refuses the older key ring: exit 1" 1 "$rc"
check_match "... naming the genuine rotate" "active master key version 1 is below version 2" "$out"
check_mount_refused "the older key ring is still refused at mount" "$S" "$M"
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "verify names the key ring" "DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2" "$out"
done_testing
