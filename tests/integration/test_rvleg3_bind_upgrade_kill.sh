#!/usr/bin/env bash
# Review rvleg3 of 823001e: a store from before the legacy bind (no
# marker, no pass, nodes name no commit record), then wormctl upgrade
# killed after its first object swapped (its start record only, no
# closing one): that object's node names its commit record. 823001e read
# "a node names its commit record, no pass, no count, no closing
# format-upgrade record" as a store made with the bind: the marker was put
# back and the other objects were never bound: they read EIO from then on
# ("names no commit record although the legacy bind has run"). The start
# record (op=upgrade-start) tells the same
# as the closing one. Older objects are made as an older build leaves them
# with WORMFS_TEST_UNBOUND=1, one put into format 2 by tools/mkoldfmt
# (killed after its swap too, so no closing record of it either).
. "$(dirname "$0")/lib.sh"
require_binaries
build_tamper || { fail "tamper.c compiles"; done_testing; }
MKOLD=$BUILD/mkoldfmt
[ -x "$MKOLD" ] || { skip "bind after a killed upgrade" "needs tools/mkoldfmt (-Dtests=true)"; done_testing; }
ZERO=00000000000000000000000000000000
S=$T_BASE/s M=$T_BASE/m
ino_of() { "$TAMPER" map "$1/meta" | awk -v p="$2" '$6 == p { print $1 }'; }
commit_of() { "$TAMPER" get "$1/meta" "$2" commit; }
WORMFS_TEST_UNBOUND=1 make_store "$S" || { fail "init (legacy)"; done_testing; }
WORMFS_TEST_UNBOUND=1 mount_fg "$S" "$M" || { fail "mount (legacy)"; done_testing; }
mkdir "$M/bkt" && head -c 70000 /dev/urandom >"$M/bkt/a" &&
	head -c 70000 /dev/urandom >"$M/bkt/b" || fail "objects"
sums=$(cd "$M/bkt" && sha256sum a b)
umount_fs "$M" || fail "unmount"
ia=$(ino_of "$S" bkt/a) ib=$(ino_of "$S" bkt/b)
check_eq "a legacy node (a)" "$ZERO" "$(commit_of "$S" "$ia")"
check_eq "a legacy node (b)" "$ZERO" "$(commit_of "$S" "$ib")"
out=$(WORMFS_TEST_OLD_FORMAT=1 WORMFS_CRASH_AT=upgrade-old "$MKOLD" "$S" 2 2>&1)
out=$(WORMFS_CRASH_AT=upgrade-old "$WORMCTL" upgrade "$S" 2>&1); rc=$?
check_eq "wormctl upgrade killed after its first swap" 137 $rc
a=$("$WORMCTL" audit "$S" 2>&1)
check_eq "no closing format-upgrade record" 0 "$(grep -c 'kind=format-upgrade op=upgrade ' <<<"$a")"
named=0
for i in $ia $ib; do [ "$(commit_of "$S" "$i")" != "$ZERO" ] && named=$((named + 1)); done
check_eq "one object rewritten (names its commit record)" 1 "$named"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
check_eq "both objects read as written" "$sums" "$(cd "$M/bkt" && sha256sum a b 2>&1)"
umount_fs "$M" || fail "unmount"
log=$(cat "${MNT_LOG[$M]}")
check_not "the marker is not put back as for a store made with the bind" \
	grep -q "file nodes name their commit record and no pass is in progress" <<<"$log"
for i in $ia $ib; do
	c=$(commit_of "$S" "$i")
	[ "$c" != "$ZERO" ] && ok "object $i bound by the pass" || fail "object $i bound by the pass"
done
a=$("$WORMCTL" audit "$S" 2>&1)
check_match "the pass is in the audit trail" "kind=legacy-bind op=bind .*rule=store-upgrade" "$a"
done_testing
