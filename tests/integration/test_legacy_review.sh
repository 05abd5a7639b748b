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
#
# Records upgrade (WORMFS_OLD_BUILD: a build from before record MACs,
# e.g. 6ee3f5d): a store it made, upgraded by this one (a genuine upgrade:
# checked first), then root puts back the root's version-1 node record from
# a copy of before the upgrade, deletes every store head (meta/'s and
# STORE/head) and downgrades the rest as test_downgrade_records.sh does
# (flag and digest deleted, MACs stripped, node versions set to 1, entries
# of a COMPLIANCE and a mutable object swapped, clock record of 2100).
# a144df4 looked at the digest, the heads and the root's record only: the
# store was upgraded again (the swap and the clock sealed), and after the
# versions were set back and the digest re-sealed the mutable object was
# served and written under the locked name, a COMPLIANCE object deleted,
# verify clean. The audit trail's seal of the first upgrade tells now.
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
check_ring_refused "$S" "$M" " (record set back)" \
	"DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2"
# The current ring put back (the record still set back): accepted again.
cp "$T_BASE/keyring.2" "$S/keys/keyring"
check "keys: repair digest with the current ring" "$WORMCTL" repair digest "$S"
mount_fg "$S" "$M" || fail "keys: the current ring mounts"
umount_fs "$M"

# ---- records upgrade: an upgraded older store downgraded again --------
OLD=${WORMFS_OLD_BUILD:-}
le64() { python3 -c "import struct,sys;print(struct.pack('<q',int(sys.argv[1])).hex())" "$1"; }
if [ -n "$OLD" ] && [ -x "$OLD/wormctl" ] && [ -x "$OLD/wormfs" ]; then
	SO=$T_BASE/so MO=$T_BASE/mo
	mkdir -p "$MO"
	"$OLD/wormctl" init "$SO" >/dev/null 2>&1 || fail "U: old build init"
	"$OLD/wormfs" "$SO" "$MO" -f >"$T_BASE/old.log" 2>&1 &
	opid=$!
	_register_mount "$MO"
	_mount_wait "$MO" "$opid" || fail "U: old build mounts"
	mkdir "$MO/bkt" && echo seed >"$MO/bkt/seed" || fail "U: old objects"
	fusermount3 -u "$MO"; wait "$opid"
	rootv=$("$TAMPER" xlist "$SO/meta" nodes | awk '$1=="0000000000000001"{print $2}')
	check_eq "U: the older store's root record is version 1" 01 "${rootv:0:2}"
	mount_fg "$SO" "$MO" || fail "U: this build mounts the older store"
	check_match "U: the genuine upgrade is logged" "upgraded to authenticated metadata records" \
		"$(cat "${MNT_LOG[$MO]}")"
	echo genuine >"$MO/bkt/contract" && echo draft >"$MO/bkt/draft" &&
		echo books >"$MO/bkt/ledger" || fail "U: objects"
	check_errno "U: contract COMPLIANCE" OK setxattr "$MO/bkt/contract" user.worm.retention \
		"COMPLIANCE +365d"
	check_errno "U: ledger COMPLIANCE" OK setxattr "$MO/bkt/ledger" user.worm.retention \
		"COMPLIANCE +365d"
	umount_fs "$MO"
	verify_clean "$SO" "U: the upgraded store verifies clean"
	bkt=$("$TAMPER" get "$SO/meta" "$("$TAMPER" map "$SO/meta" | awk '$6=="bkt/contract"{print $1}')" parent)
	ca=$("$TAMPER" dget "$SO/meta" "$bkt" contract)
	da=$("$TAMPER" dget "$SO/meta" "$bkt" draft)
	while read -r k v; do
		"$TAMPER" xput "$SO/meta" nodes "$k" "01${v:2}" || fail "U: node version"
	done < <("$TAMPER" xlist "$SO/meta" nodes)
	"$TAMPER" xput "$SO/meta" nodes 0000000000000001 "$rootv" || fail "U: root put back"
	while read -r k v; do
		"$TAMPER" xput "$SO/meta" dirents "$k" "${v:0:32}" || fail "U: entry MAC stripped"
	done < <("$TAMPER" xlist "$SO/meta" dirents)
	v=$("$TAMPER" kvget "$SO/meta" next_ino)
	"$TAMPER" kvput "$SO/meta" next_ino "${v:0:16}" || fail "U: counter MAC stripped"
	"$TAMPER" xdel "$SO/meta" kv "$(hexs auth_records)" || fail "U: flag deleted"
	"$TAMPER" xdel "$SO/meta" kv "$(hexs state_digest)" || fail "U: digest deleted"
	delete_heads "$SO" "U"
	"$TAMPER" dput "$SO/meta" "$bkt" contract "${da:0:16}${ca:16:16}" &&
		"$TAMPER" dput "$SO/meta" "$bkt" draft "${ca:0:16}${da:16:16}" || fail "U: swap"
	"$TAMPER" kvput "$SO/meta" clock_hwm "$(le64 4102444800)" || fail "U: clock"
	if mount_fg "$SO" "$MO" 2>/dev/null; then
		umount_fs "$MO"
	fi
	check_not "U: no records upgrade again" grep -q "upgraded to authenticated metadata" \
		"${MNT_LOG[$MO]}"
	v=$("$TAMPER" dget "$SO/meta" "$bkt" contract)
	check_eq "U: the swapped entry got no MAC" 32 "${#v}"
	while read -r k v; do
		[ "$k" = 0000000000000001 ] && continue
		"$TAMPER" xput "$SO/meta" nodes "$k" "02${v:2}" || fail "U: node version back"
	done < <("$TAMPER" xlist "$SO/meta" nodes)
	out=$("$WORMCTL" repair digest "$SO" 2>&1)
	diag "U: wormctl repair digest: $(tail -n 1 <<<"$out")"
	if mount_fg "$SO" "$MO" 2>/dev/null; then
		out=$(cat "$MO/bkt/contract" 2>&1)
		check_not "U: the locked name does not serve the other object" test "$out" = draft
		check_errno "U: the locked name cannot be written" "EIO|EPERM" write "$MO/bkt/contract" forged
		check_errno "U: the other COMPLIANCE object cannot be deleted" "EIO|EPERM" \
			unlink "$MO/bkt/ledger"
		umount_fs "$MO"
	else
		ok "U: the locked name does not serve the other object (mount refused)"
		ok "U: the locked name cannot be written (mount refused)"
		ok "U: the other COMPLIANCE object cannot be deleted (mount refused)"
	fi
	out=$("$WORMCTL" verify "$SO" 2>&1); rc=$?
	check_eq "U: verify reports the downgrade: exit 1" 1 "$rc"
	check_match "U: verify names the flag" "meta/kv/auth_records" "$out"
else
	skip "records upgrade of an older store, downgraded again" "WORMFS_OLD_BUILD not set"
fi

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
