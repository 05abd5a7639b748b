#!/usr/bin/env bash
# A key rotate through the control socket whose metadata write fails
# (review rvleft of 0adcdde). The ring file is rotated, its records are
# not; 0adcdde records the ring's version at the next writable open. But
# the daemon that rotated goes on: its session wraps new data keys under
# the new version, and nothing recorded it when it unmounted. The ring
# from before the rotate, put back before the next mount, was taken
# (active 1, recorded 1): the rotated-away version wraps new data keys
# again, and what the session wrote no longer reads. The unmount now
# records it (the metadata writes again by then), with the audit record.
. "$(dirname "$0")/lib.sh"
require_binaries
need_faultshim "rotate in session"
build_tamper || { fail "tamper.c compiles"; done_testing; }
active_rec() { "$TAMPER" kvget "$1/meta" key_ring_active 2>/dev/null; }

S=$T_BASE/s M=$T_BASE/m
make_store "$S" || { fail "init"; done_testing; }
mount_fg "$S" "$M" || { fail "first mount"; done_testing; }
umount_fs "$M"
cp -p "$S/keys/keyring" "$T_BASE/keyring.1"
mount_shim "$S" "$M" || { fail "mount with the shim"; done_testing; }
fault match=/meta/data.mdb ops=pwrite,write,fdatasync,fsync err=EIO
out=$("$WORMCTL" key rotate "$S" 2>&1); rc=$?
nofault
check_eq "the rotate reports the failure: exit 1" 1 "$rc"
check_match "... after the ring was rotated" "rotated to version 2, but recording it" "$out"
mkdir -p "$M/bkt" && echo session >"$M/bkt/f" || fail "a write in the session"
umount_fs "$M" || fail "unmount"
check_eq "the unmount recorded version 2" 02000000 "$(active_rec "$S")"
check_match "with its audit record" "kind=key-ring op=rotate version=2 via=close recorded=1" \
	"$("$WORMCTL" audit "$S" 2>&1)"
verify_clean "$S" "the store verifies clean after the unmount's record"
cp "$T_BASE/keyring.1" "$S/keys/keyring"
check_mount_refused "the ring from before the rotate, put back, is refused" "$S" "$M"
check_match "the refusal names the ring" "active master key version 1 is below version 2" \
	"$(cat "${MNT_LOG[$M]}")"
done_testing
