#!/usr/bin/env bash
# Review rvleg3 of 5162800: a read-only open (wormctl key list) reads the
# audit trail's rotate records as a writable one does. kv key_ring_active
# set back to the version a first mount records, the state digest re-sealed
# (by wormctl, with the current ring), then keys/keyring put back from
# before the rotate: the mount refuses the older ring and verify names it,
# but key list read the record only and showed version 1 active with no
# word. It now warns (exit 0 still: it only lists).
. "$(dirname "$0")/lib.sh"
require_binaries
build_tamper || { fail "tamper.c compiles"; done_testing; }
S=$T_BASE/keys M=$T_BASE/mkeys
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" || { fail "first mount"; done_testing; }
umount_fs "$M" || fail "unmount"
old=$("$TAMPER" kvget "$S/meta" key_ring_active 2>/dev/null)
check_eq "the first mount recorded version 1" 01000000 "$old"
cp -p "$S/keys/keyring" "$T_BASE/keyring.1"
check "rotate" "$WORMCTL" key rotate "$S"
check "remove 1" "$WORMCTL" key remove "$S" 1
"$TAMPER" kvput "$S/meta" key_ring_active "$old" || fail "record set back"
digest_reseal "$S" || done_testing
cp "$T_BASE/keyring.1" "$S/keys/keyring"
check_mount_refused "the older key ring is refused at mount" "$S" "$M"
check_match "the refusal names the key ring" "active master key version 1 is below version 2" \
	"$(cat "${MNT_LOG[$M]}")"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "verify: exit 1" 1 "$rc"
out=$("$WORMCTL" key list "$S" 2>&1); rc=$?
check_eq "key list: exit 0" 0 "$rc"
check_match "key list warns that the ring is older than the rotate" \
	"active master key version 1 is below version 2" "$out"
done_testing
