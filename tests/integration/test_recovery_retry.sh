#!/bin/bash
# test_recovery_retry: the recovery after an unclean stop that cannot
# finish (the objects directory's walk fails part way: here a stray file
# where a subdirectory belongs) must run again at the next mount, so an
# object left with an uncommitted session is rolled back to its last
# commit once the walk works. Before, the mount that skipped it still
# stopped "clean" and no later mount recovered the object.
. "$(dirname "$0")/lib.sh"

require_binaries
STORE=$T_BASE/store
MNT=$T_BASE/mnt
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_fg "$STORE" "$MNT" || { fail "mount"; done_testing; }
B=$MNT/bkt
mkdir "$B"
head -c 200000 /dev/urandom >"$T_BASE/orig"
cp "$T_BASE/orig" "$B/obj"
sync
# A writer overwrites the start and is killed before its close (no FLUSH:
# nothing of it is committed).
crash_with_writer "$MNT" "$STORE" "$B/obj" '
fd = os.open(path, os.O_RDWR)
os.pwrite(fd, b"\0" * 70000, 0)'
f=$(find "$STORE/objects" -type f ! -name '*.*' | head -n 1)
sub=$(basename "$(dirname "$f")")
diag "content file $f"
# A stray file sorted before the object's subdirectory: the walk fails there.
bad=00
[ "$sub" = 00 ] && { skip "recovery retry" "object in subdirectory 00"; done_testing; }
rm -rf "${STORE:?}/objects/$bad"
echo stray >"$STORE/objects/$bad"
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check_match "the recovery's walk failed" "walk failed" "$(cat "${MNT_LOG[$MNT]}")"
diag "interim: $(od -An -tx1 -N16 "$B/obj" 2>&1) size $(stat -c %s "$B/obj")"
umount_fs "$MNT"
rm -f "$STORE/objects/$bad"
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check_match "the next mount recovers" "recovery after an unclean stop" "$(cat "${MNT_LOG[$MNT]}")"
diag "$(grep -i "recover" "${MNT_LOG[$MNT]}")"
diag "$(od -An -tx1 -N16 "$B/obj" 2>&1) size $(stat -c %s "$B/obj")"
if cmp -s "$B/obj" "$T_BASE/orig"; then ok "the object reads as its last commit"
else fail "the object reads as its last commit" "$(cmp "$B/obj" "$T_BASE/orig" 2>&1)"; fi
umount_fs "$MNT"
check "wormctl verify clean" "$WORMCTL" verify "$STORE"
done_testing
