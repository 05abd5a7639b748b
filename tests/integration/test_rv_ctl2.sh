#!/bin/bash
# test_rv_ctl2: review of the online rewrap outside the write transaction
# (60d91da) and the control socket.
#
#  1. Objects removed while an online rewrap (paced by the KMS limiter)
#     works on them: the rewrap read the record, waited for its KMS
#     tokens outside any transaction, and then met no content file (the
#     unlink had committed and dropped it meanwhile): the whole rewrap
#     failed with ENOENT. An object gone meanwhile is skipped, as one
#     gone before its record was read.
#  2. A root daemon serving a store whose directory belongs to a user, and
#     root's own store served by another root daemon: the user replaces
#     STORE/ctl.sock with a symbolic link to root's store's socket. Root's
#     wormctl for the user's store followed it and its request was done on
#     root's store (a user added there, with an imported secret; a key
#     rotated, a user removed): the server was root, so it was believed.
#     A socket path that is not a socket is refused, and the daemon
#     answers only for the store that was named.
. "$(dirname "$0")/lib.sh"
require_binaries

M=$T_BASE/mnt
mkdir -p "$M"

# ============================================================ 1. unlink during rewrap
S1=$T_BASE/store1
make_store "$S1" || fail "wormctl init store1"
mount_fg "$S1" "$M" -o crypto_rate=2,crypto_burst=1,throttle=wait,max_wait_ms=60000,dek_cache_entries=0 ||
	{ fail "mount store1"; done_testing; }
mkdir "$M/bkt"
for i in $(seq 1 8); do head -c 65536 /dev/urandom >"$M/bkt/f$i"; done
cp "$M/bkt/f1" "$T_BASE/f1.copy"
check "key rotate" "$WORMCTL" key rotate "$S1"
kms_req() {
	awk '$1 == "wormfs_kms_requests_total{class=\"cryptographic\"}" { print $2 }' "$M/.wormfs/stats"
}
r0=$(kms_req)
"$WORMCTL" key rewrap "$S1" >"$T_BASE/rewrap1.out" 2>&1 &
RW=$!
# Until the rewrap has asked the KMS five times: it has read the third
# object's record and waits for its tokens (the objects are not inline:
# each has a content file with a header).
for _ in $(seq 1 200); do [ "$(kms_req)" -ge $((r0 + 5)) ] && break; sleep 0.1; done
rm -f "$M"/bkt/f[2-8]
wait "$RW"
rc=$?
check_eq "the rewrap completes although objects went meanwhile" "0" "$rc"
diag "$(cat "$T_BASE/rewrap1.out")"
check "the object left reads" cmp "$M/bkt/f1" "$T_BASE/f1.copy"
umount_check "$M" "rewrap with removals"
check "verify" "$WORMCTL" verify "$S1"

# ============================================================ 2. a redirected socket
SA=$T_BASE/storeA
SB=$T_BASE/storeB
MB=$T_BASE/mntB
mkdir -p "$MB"
make_store "$SA" || fail "wormctl init storeA"
make_store "$SB" || fail "wormctl init storeB"
chown "$TEST_UID" "$SB"
mount_fg "$SA" "$M" || { fail "mount storeA"; done_testing; }
mount_fg "$SB" "$MB" || { fail "mount storeB"; done_testing; }
setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- \
	sh -c 'rm -f "$1/ctl.sock" && ln -s "$2/ctl.sock" "$1/ctl.sock"' sh "$SB" "$SA"
printf 'TopSecretImportedKey0123456789abcdefghij\n' >"$T_BASE/secret"
"$WORMCTL" s3 user add "$SB" bob --uid 0 --access-key AKIAIMPORTED0000001 \
	--secret-file "$T_BASE/secret" >"$T_BASE/add.out" 2>&1
rc=$?
check_eq "a request for the user's store reaching root's store's daemon: refused (EXDEV)" \
	"1|wormctl: s3 user add $SB: this control socket serves another store" \
	"$rc|$(cat "$T_BASE/add.out")"
check_eq "root's store got no user from a request for the user's store" "" \
	"$("$WORMCTL" s3 user list "$SA" 2>&1 | awk '{ print $1 }')"
check_eq "root's own requests to its store are served" "ok" \
	"$("$WORMCTL" key rotate "$SA" >/dev/null 2>&1 && echo ok)"
umount_check "$MB" "storeB"
umount_check "$M" "storeA"

done_testing
