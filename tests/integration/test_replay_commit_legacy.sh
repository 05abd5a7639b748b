#!/usr/bin/env bash
# test_replay_commit_legacy (issue 12: objects last committed by an older
# build). A node written before nodes named their commit record carries
# none, so the killed-commit-record replay of test_replay_commit.sh read
# as the object on such a node (and a locked one is never committed
# again). The first mount of this build binds every such node to the
# record its content file holds then (trust on upgrade, one audit record
# kind=legacy-bind); after that the replay fails: EIO at every read, verify
# exit 1 naming it. A legacy node that fails authentication is not bound
# (never laundered): it stays fail closed, its content reads EIO, verify
# names it. The binding is idempotent, and a kill part way is finished by
# the next mount, in bounded transactions (NS_BIND_BATCH = 128 nodes).
# The legacy store is made by this build under WORMFS_TEST_UNBOUND=1
# (src/ns_priv.h): commits record no commit tag, as an older build's did,
# and no bind runs.
. "$(dirname "$0")/lib.sh"
require_binaries
. "$(dirname "$0")/replay_lib.sh"
replay_require "legacy replay"

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
ZERO=00000000000000000000000000000000

legacy_mount() { WORMFS_TEST_UNBOUND=1 mount_fg "$@"; }
binds() { "$WORMCTL" audit "$1" 2>/dev/null | grep -c 'kind=legacy-bind'; }

# ---- a legacy store: a killed session's record, then the same generation
WORMFS_TEST_UNBOUND=1 make_store "$S" || { fail "wormctl init"; done_testing; }
SIZE=200000
replay_data "$D" $SIZE
head -c 40000 /dev/urandom >"$D/f"
legacy_mount "$S" "$M" || { fail "legacy mount"; done_testing; }
mkdir "$M/bkt"
cp "$D/v1" "$M/bkt/obj"
cp "$D/f" "$M/bkt/forged"
setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/forged" 2>/dev/null
umount_fs "$M" || fail "unmount"
ino=$(ino_of "$S" bkt/obj) id=$(id_of "$S" bkt/obj) fino=$(ino_of "$S" bkt/forged)
dir=$S/objects/${id:0:2}
check_eq "a legacy node names no commit record" $ZERO "$(commit_of "$S" "$ino")"

WORMFS_TEST_UNBOUND=1 WORMFS_CRASH_AT=map mount_fg "$S" "$M" ||
	{ fail "mount with the hook"; done_testing; }
pw "$M/bkt/obj" 100000 "$D/k" >/dev/null
hook_fired "$M" "$S" && ok "killed after the commit record, before the metadata commit" ||
	fail "killed after the commit record, before the metadata commit"
mkdir -p "$D/copy"
cp -p "$dir/$id" "$dir/$id".m? "$D/copy/" 2>/dev/null
ls "$D/copy/$id".m? >/dev/null 2>&1 && ok "the killed session wrote a map file" ||
	fail "the killed session wrote a map file"
legacy_mount "$S" "$M" || { fail "legacy remount"; done_testing; }
check_eq "the next session commits" OK "$(pw "$M/bkt/obj" 100000 "$D/n")"
setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/obj" 2>/dev/null
check_eq "locked (COMPLIANCE)" locked "$(worm_state "$M/bkt/obj")"
umount_fs "$M" || fail "unmount"
check_eq "still no commit record named (an older build's node)" $ZERO "$(commit_of "$S" "$ino")"
mkdir -p "$D/committed"
cp -p "$dir/$id" "$dir/$id".m? "$D/committed/" 2>/dev/null
# replay: the copy taken at the kill in place of the committed files
replay() { rm -f "$2/$id".m?; cp -p "$1"/* "$2/"; }

# ---- the hole, as it was: unbound, the replay reads as the object -------
cp -a "$S" "$T_BASE/control"
replay "$D/copy" "$T_BASE/control/objects/${id:0:2}"
legacy_mount "$T_BASE/control" "$T_BASE/mc" || fail "control mount"
check_eq "control: unbound, the replay serves the killed session's bytes" \
	"OK $SIZE $(sha "$D/killed.bin")" "$(rd "$T_BASE/mc/bkt/obj" 0 $((SIZE + 10)))"
umount_fs "$T_BASE/mc" || fail "unmount"
rm -rf "$T_BASE/control"

# ---- a legacy node that fails authentication (owner edited) -------------
"$TAMPER" flip "$S/meta" "$fino" uid 0 1 || fail "node edited"
digest_reseal "$S" || done_testing

# ---- the first mount of this build binds ---------------------------------
mount_fg "$S" "$M" || { fail "mount (bind)"; done_testing; }
check_match "the bind is logged" "legacy bind: 1 object\(s\) committed by an older build bound" \
	"$(cat "${MNT_LOG[$M]}")"
check_eq "the committed content reads" "OK $SIZE $(sha "$D/committed.bin")" \
	"$(rd "$M/bkt/obj" 0 $((SIZE + 10)))"
check_eq "the node that fails authentication: read EIO" EIO "$(rd "$M/bkt/forged" 0 100)"
check_eq "... its metadata stays readable (stat: size)" 40000 "$(stat -c %s "$M/bkt/forged")"
check_eq "... (getxattr of its lock state)" locked "$(worm_state "$M/bkt/forged")"
check_errno "... and it is locked (unlink: EPERM)" EPERM unlink "$M/bkt/forged"
umount_fs "$M" || fail "unmount"
c=$(commit_of "$S" "$ino")
check_match "the node names a commit record now" '^[0-9a-f]{32}$' "$c"
[ "$c" != $ZERO ] && ok "... not all zero" || fail "... not all zero"
gen=$("$TAMPER" get "$S/meta" "$ino" generation)
check_eq "... the one the content file holds" \
	"$(od -An -tx1 -v -j $((256 + (gen & 1) * 72 + 56)) -N16 "$dir/$id" | tr -d ' \n')" "$c"
check_eq "the node that fails authentication is not bound" $ZERO "$(commit_of "$S" "$fino")"
out=$("$WORMCTL" audit "$S" 2>&1)
check_match "one audit record: kind=legacy-bind" \
	"kind=legacy-bind op=bind .*rule=store-upgrade count=1 old_format=0 unreadable=0 forged=1" "$out"
out=$("$WORMCTL" audit verify "$S" 2>&1)
check_eq "audit verify clean" 0 $?
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "verify names the node that fails authentication" \
	"DAMAGED bkt/forged: metadata record fails authentication" "$out"
check_eq "... and nothing else" 1 "$(grep -c DAMAGED <<<"$out")"

# ---- the replay after the bind: refused --------------------------------
replay "$D/copy" "$dir"
mount_fg "$S" "$M" || { fail "mount after the replay"; done_testing; }
got=$(rd "$M/bkt/obj" 0 $((SIZE + 10)))
[ "$got" != "OK $SIZE $(sha "$D/killed.bin")" ] &&
	ok "the killed session's never-committed content is not served" ||
	fail "the killed session's never-committed content is not served" "got: $got"
check_eq "read of the whole object: EIO" EIO "$got"
check_eq "pread(0, 40000): EIO, no short read" EIO "$(rd "$M/bkt/obj" 0 40000)"
check_errno "the lock still holds (unlink: EPERM)" EPERM unlink "$M/bkt/obj"
umount_fs "$M" || fail "unmount"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify exits 1" 1 $?
check_match "verify names the object and the damage" \
	"DAMAGED bkt/obj: commit record is not the committed one" "$out"

# ---- idempotent: later mounts bind nothing, write no record -------------
replay "$D/committed" "$dir"
mount_fg "$S" "$M" || fail "mount again"
check_eq "the committed content reads again" "OK $SIZE $(sha "$D/committed.bin")" \
	"$(rd "$M/bkt/obj" 0 $((SIZE + 10)))"
umount_fs "$M" || fail "unmount"
check_eq "still one legacy-bind record" 1 "$(binds "$S")"
check_eq "the node keeps its commit record" "$c" "$(commit_of "$S" "$ino")"

# ---- killed part way: the next mount finishes --------------------------
S2=$T_BASE/store2 NF=300
WORMFS_TEST_UNBOUND=1 make_store "$S2" || { fail "wormctl init (2)"; done_testing; }
legacy_mount "$S2" "$M" || { fail "legacy mount (2)"; done_testing; }
mkdir "$M/many"
head -c 20000 /dev/urandom >"$D/small"
for ((i = 0; i < NF; i++)); do cp "$D/small" "$M/many/f$i"; done
umount_fs "$M" || fail "unmount"
unbound() {
	local n=0 i
	for i in $("$TAMPER" map "$S2/meta" | awk '{ print $1 }'); do
		[ "$(commit_of "$S2" "$i")" = $ZERO ] && n=$((n + 1))
	done
	echo $n
}
check_eq "$NF legacy nodes" $NF "$(unbound)"
if WORMFS_CRASH_AT=bind@2 mount_fg "$S2" "$M" 2>/dev/null; then
	fail "killed in the bind (after its second batch)"
	umount_fs "$M"
else
	check_match "killed in the bind (after its second batch)" "WORMFS_CRASH_AT: killing the daemon at step bind" \
		"$(cat "${MNT_LOG[$M]}")"
fi
check_eq "two batches bound, the rest not" $((NF - 256)) "$(unbound)"
check_eq "no audit record yet" 0 "$(binds "$S2")"
mount_fg "$S2" "$M" || fail "mount after the kill"
check_eq "a file reads" "OK 20000 $(sha "$D/small")" "$(rd "$M/many/f299" 0 30000)"
umount_fs "$M" || fail "unmount"
check_eq "the next mount bound the rest" 0 "$(unbound)"
check_eq "one audit record" 1 "$(binds "$S2")"
check_match "... counting every node bound" "count=$NF " "$("$WORMCTL" audit "$S2" 2>&1)"
"$WORMCTL" verify "$S2" >/dev/null 2>&1
check_eq "verify clean" 0 $?

done_testing
