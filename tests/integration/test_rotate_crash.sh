#!/usr/bin/env bash
# wormctl key rotate stopped between the key ring file and its records
# (review, left by earlier adversarial reviews). A rotate writes the ring
# file (keys/keyring, sealed, replaced whole) and then, in the metadata,
# kv key_ring_active and its audit record: these two were separate write
# transactions (a crash between them kept one without the other), now one.
# The ring file is written first: a stop after it leaves the ring ahead of
# its records, and nothing recorded the new version, so the ring from
# before that rotate, put back, was taken by the next mount (the check
# that catches it compares the ring with the records). The next writable
# open now records the ring's active version, with the audit record the
# rotate lacks.
#  A. Through the daemon: the metadata write of the rotate fails (EIO on
#     meta/data.mdb from the faultshim), the ring is rotated; the daemon's
#     unmount records it (review rvleft).
#  B. Offline: wormctl killed at that point (WORMFS_CRASH_AT=rotate).
. "$(dirname "$0")/lib.sh"
require_binaries
need_faultshim "rotate crash"
build_tamper || { fail "tamper.c compiles"; done_testing; }

active_rec() { "$TAMPER" kvget "$1/meta" key_ring_active 2>/dev/null; }

# after_stop LABEL STORE MNT: the ring rotated to 2, the records still at
# 1; the next mount records 2, and the ring from before, put back, is
# refused.
after_stop() {
	local l=$1 s=$2 m=$3 out
	check_eq "$l: the record still names version 1" 01000000 "$(active_rec "$s")"
	check_not "$l: no rotate record in the audit trail" grep -q "op=rotate" \
		<<<"$("$WORMCTL" audit "$s" 2>&1)"
	check_match "$l: the ring holds version 2" "^ *2 " "$("$WORMCTL" key list "$s" 2>&1)"
	if mount_fg "$s" "$m"; then
		ok "$l: the next mount"
		check_match "$l: it records the ring's version" \
			"the key ring's active version 2 was above the recorded 1" "$(cat "${MNT_LOG[$m]}")"
		umount_fs "$m" || fail "$l: unmount"
	else
		fail "$l: the next mount"
	fi
	check_eq "$l: the record names version 2" 02000000 "$(active_rec "$s")"
	check_match "$l: the audit trail records the rotate" \
		"kind=key-ring op=rotate version=2 via=open recorded=1" "$("$WORMCTL" audit "$s" 2>&1)"
	cp "$T_BASE/keyring.$l" "$s/keys/keyring"
	check_mount_refused "$l: the ring from before the rotate, put back, is refused" "$s" "$m"
	check_match "$l: the refusal names the ring" "active master key version 1 is below version 2" \
		"$(cat "${MNT_LOG[$m]}")"
	out=$("$WORMCTL" verify "$s" 2>&1)
	check_match "$l: verify names it" \
		"DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2" "$out"
}

# ---- A. through the daemon, the metadata write fails
S=$T_BASE/a M=$T_BASE/ma
make_store "$S" || { fail "A: init"; done_testing; }
mount_fg "$S" "$M" || { fail "A: first mount"; done_testing; }
umount_fs "$M"
check_eq "A: the first mount recorded version 1" 01000000 "$(active_rec "$S")"
cp -p "$S/keys/keyring" "$T_BASE/keyring.A"
mount_shim "$S" "$M" || { fail "A: mount with the shim"; done_testing; }
fault match=/meta/data.mdb ops=pwrite,write,fdatasync,fsync err=EIO
out=$("$WORMCTL" key rotate "$S" 2>&1); rc=$?
nofault
check_eq "A: the rotate reports the failure: exit 1" 1 "$rc"
check_match "A: ... after the ring was rotated" "rotated to version 2, but recording it" "$out"
umount_fs "$M" || fail "A: unmount"
# The daemon's unmount records it (review rvleft: before, only the next
# writable open did; test_rvleft_rotate_session.sh).
check_eq "A: the unmount recorded version 2" 02000000 "$(active_rec "$S")"
check_match "A: ... with its audit record" "kind=key-ring op=rotate version=2 via=close recorded=1" \
	"$("$WORMCTL" audit "$S" 2>&1)"
cp "$T_BASE/keyring.A" "$S/keys/keyring"
check_mount_refused "A: the ring from before the rotate, put back, is refused" "$S" "$M"
check_match "A: verify names it" \
	"DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2" \
	"$("$WORMCTL" verify "$S" 2>&1)"

# ---- B. offline, killed between the ring and its records
S=$T_BASE/b M=$T_BASE/mb
make_store "$S" || { fail "B: init"; done_testing; }
mount_fg "$S" "$M" || { fail "B: first mount"; done_testing; }
umount_fs "$M"
cp -p "$S/keys/keyring" "$T_BASE/keyring.B"
WORMFS_CRASH_AT=rotate "$WORMCTL" key rotate "$S" >/dev/null 2>&1; rc=$?
check_eq "B: wormctl key rotate killed at the crash point (SIGKILL)" 137 "$rc"
after_stop B "$S" "$M"

# ---- C. a rotate that completes: one record of each, no word at the open
S=$T_BASE/c M=$T_BASE/mc
make_store "$S" || { fail "C: init"; done_testing; }
check "C: rotate" "$WORMCTL" key rotate "$S"
check_eq "C: the record names version 2" 02000000 "$(active_rec "$S")"
check_eq "C: one rotate record" 1 "$("$WORMCTL" audit "$S" 2>&1 | grep -c 'kind=key-ring op=rotate version=2 uid=')"
mount_fg "$S" "$M" || fail "C: mount"
check_not "C: no word of a stopped rotate" grep -q "above the recorded" "${MNT_LOG[$M]}"
umount_fs "$M"
done_testing
