#!/usr/bin/env bash
# Review of the rv-legacy fixes (a store edited offline by root to look
# older than a record or a marker, so that the daemon accepts a state that
# undoes a lock or a key ring's rotate).
#
# Key ring: kv key_ring_active set back (not deleted) to the version a
# first mount recorded, from before a rotate, with keys/keyring put back
# from before the rotate (the removed, perhaps leaked, version 1 active
# again) and the state digest re-sealed (the audit trail is whole, so
# wormctl repair digest accepts it). c706ffd read the audit trail's rotate
# records only when the record was missing: the mount took the older ring
# (new data keys wrapped under version 1 again); only verify named it.
#
# Legacy bind (WORMFS_PREV_BUILD: a build from before 8dc80a9 that makes
# new stores with the bind's marker, e.g. a144df4): 8dc80a9's first audit
# record (rule=store-init) is only in stores made since; a store made by
# such a build has no legacy-bind record either (it never ran the walk).
# Its marker deleted and the digest re-sealed, test_legacy_bind_attacks E:
# is the hook refused?
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }

hexs() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }

S=$T_BASE/keys M=$T_BASE/mkeys
make_store "$S" || fail "keys: init"
mount_fg "$S" "$M" || fail "keys: first mount"
umount_fs "$M"
old=$("$TAMPER" kvget "$S/meta" key_ring_active 2>/dev/null)
check_eq "keys: the first mount recorded version 1" 01000000 "$old"
cp -p "$S/keys/keyring" "$T_BASE/keyring.1"
check "keys: rotate" "$WORMCTL" key rotate "$S"
check "keys: remove 1" "$WORMCTL" key remove "$S" 1
cp -p "$S/keys/keyring" "$T_BASE/keyring.2"
cp "$T_BASE/keyring.1" "$S/keys/keyring"
"$TAMPER" kvput "$S/meta" key_ring_active "$old" || fail "keys: record set back"
rep=$("$WORMCTL" repair digest "$S" 2>&1); rc=$?
diag "keys: wormctl repair digest: exit $rc: $(tail -n 1 <<<"$rep")"
if mount_fg "$S" "$M" 2>/dev/null; then
	fail "keys: the older key ring is refused at mount (record set back)"
	umount_fs "$M"
else
	ok "keys: the older key ring is refused at mount (record set back)"
fi
check_match "keys: the refusal names the key ring (repair or mount)" \
	"active master key version 1 is below version 2" "$rep$(cat "${MNT_LOG[$M]}")"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "keys: verify reports it: exit 1" 1 "$rc"
check_match "keys: verify names the key ring" \
	"DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2" "$out"
# The current ring put back (the record still set back): accepted again.
cp "$T_BASE/keyring.2" "$S/keys/keyring"
check "keys: repair digest with the current ring" "$WORMCTL" repair digest "$S"
mount_fg "$S" "$M" || fail "keys: the current ring mounts"
umount_fs "$M"

# ---- legacy bind: a store made with the marker by an earlier build -----
PREV=${WORMFS_PREV_BUILD:-}
if [ -n "$PREV" ] && [ -x "$PREV/wormctl" ] && . "$(dirname "$0")/replay_lib.sh" &&
	replay_require "legacy bind, store made before 8dc80a9" 2>/dev/null; then
	M=$T_BASE/mnt D=$T_BASE/data
	mkdir -p "$D"
	ZERO=00000000000000000000000000000000
	SIZE=200000
	replay_data "$D" $SIZE
	hmount() { WORMFS_TEST_UNBOUND=1 mount_fg "$@"; }
	SP=$T_BASE/sp
	"$PREV/wormctl" init "$SP" >/dev/null 2>&1 || fail "P: wormctl init (earlier build)"
	check "P: the earlier build's store has the marker" "$TAMPER" kvget "$SP/meta" legacy_bind
	# In use: an object committed (it names its commit record).
	mount_fg "$SP" "$M" || { fail "P: mount"; done_testing; }
	mkdir "$M/bkt"
	cp "$D/v1" "$M/bkt/old"
	umount_fs "$M" || fail "P: unmount"
	c=$(commit_of "$SP" "$(ino_of "$SP" bkt/old)")
	check_not "P: a commit names its commit record" test "$c" = $ZERO
	"$TAMPER" xdel "$SP/meta" kv "$(hexs legacy_bind)" || fail "P: marker deleted"
	digest_reseal "$SP" || done_testing
	hmount "$SP" "$M" || { fail "P: mount with the hook"; done_testing; }
	cp "$D/v1" "$M/bkt/obj"
	umount_fs "$M" || fail "P: unmount"
	check_match "P: the hook is refused, logged" "WORMFS_TEST_UNBOUND=1 ignored|marker is missing but" \
		"$(cat "${MNT_LOG[$M]}")"
	c=$(commit_of "$SP" "$(ino_of "$SP" bkt/obj)")
	[ "$c" != $ZERO ] && ok "P: the commit names its commit record despite the hook" ||
		fail "P: the commit names its commit record despite the hook" "commit $c"
	check "P: the marker is back" "$TAMPER" kvget "$SP/meta" legacy_bind
	# A running count added (a pass in progress, to the walk): the hook
	# stays refused all the same.
	"$TAMPER" xdel "$SP/meta" kv "$(hexs legacy_bind)" || fail "P: marker deleted again"
	"$TAMPER" kvput "$SP/meta" legacy_bind_count 0100000000000000 || fail "P: count added"
	digest_reseal "$SP" || done_testing
	hmount "$SP" "$M" || { fail "P: mount with the hook (count)"; done_testing; }
	cp "$D/v1" "$M/bkt/obj2"
	umount_fs "$M" || fail "P: unmount"
	c=$(commit_of "$SP" "$(ino_of "$SP" bkt/obj2)")
	[ "$c" != $ZERO ] && ok "P: with a count added, the commit names its commit record" ||
		fail "P: with a count added, the commit names its commit record" "commit $c"
	out=$("$WORMCTL" verify "$SP" 2>&1)
	diag "P: verify: $(tail -n 1 <<<"$out")"
else
	skip "legacy bind, store made before 8dc80a9" "WORMFS_PREV_BUILD not set (or no replay tools)"
fi

done_testing
