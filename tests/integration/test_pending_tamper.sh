#!/usr/bin/env bash
# A bucket default retention left pending by a writer killed before its
# release (the daemon killed -9 while the object is open, its content
# fsync'ed) is applied at the next mount, which walks the marked nodes only
# while kv "pending_defaults" counts some. Root setting that count to 0
# offline changes the metadata state digest (mount refused); once an
# operator re-sealed it (wormctl repair digest), the object would stay
# mutable for good: wormctl verify names the count (exit 1).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_errno "bucket" OK mkdir "$M/pend"
check_errno "bucket default COMPLIANCE 30d" OK setxattr "$M/pend" user.worm.default-retention "COMPLIANCE 30d"
exec 3>"$M/pend/obj"
echo data >&3
check "content fsync'ed while open" sync "$M/pend/obj"
check_eq "mutable while its writer is open" mutable "$(worm_state "$M/pend/obj")"
# Killed before the release: the descriptor is closed only afterwards.
pid=${MNT_PID[$M]}
kill -9 "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
exec 3>&-
check "the daemon killed -9 with the writer open" crash_daemon "$M" "$S"
P=$T_BASE/pristine
cp -a "$S" "$P"
count=$("$TAMPER" kvget "$S/meta" pending_defaults)
check_eq "one default pending (kv pending_defaults)" 0100000000000000 "$count"

check "offline: pending_defaults set to 0" "$TAMPER" kvput "$S/meta" pending_defaults 0000000000000000
digest_reseal "$S" && ok "mount refused (state digest); wormctl repair digest re-seals"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "verify after the re-seal: exit 1" 1 "$rc"
check_match "verify names the count" "DAMAGED meta/kv/pending_defaults: 1 object.s. wait for their bucket default retention but the count records 0 " "$out"

# The untouched copy: the mount applies the default; verify is clean.
rm -rf "$S" && cp -a "$P" "$S"
mount_fg "$S" "$M" || { fail "mount of the untouched copy" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "the default is applied at the mount" locked "$(worm_state "$M/pend/obj")"
check_errno "rm of it: EPERM" EPERM unlink "$M/pend/obj"
umount_check "$M" "untouched copy"
verify_clean "$S" "verify of the untouched copy: exit 0"
done_testing
