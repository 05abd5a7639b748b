#!/usr/bin/env bash
# Review rv-legacy: a store made by this build, downgraded offline as a
# whole to look as if written before authenticated records, so that the
# one-time upgrade (ns_auth.c) gives edited records fresh MACs.
#
# Root, with the store unmounted and without any key: deletes the
# authenticated-records flag, strips the MAC of every directory entry and
# of the inode counter, sets the version word of every node record to 1
# (they then fail authentication, but no version-2 record is left to show
# the store is new), swaps the entries of a COMPLIANCE object and of a
# mutable one in the same directory, and writes the compliance clock's
# record in the older form (no MAC) with a time in 2100. Before the fix,
# the next writable open took the store for an older one and upgraded it
# before the state digest was checked: the refused mount had already
# sealed the swapped entries and the clock. Root then set the node
# versions back and ran `wormctl repair digest` (every lock is as the
# audit trail says): the daemon served the mutable object under the
# locked object's name (its bytes replaced through it), its clock said
# 2100 so another COMPLIANCE object was deleted, and verify was clean.
#
# Now a store is upgraded only when it has no record with a MAC, no state
# digest record, no store head that says it kept one, and an authentic
# root record of version 1 (a store from before record MACs has one; one
# made since never does): else the missing flag is damage, records
# without a MAC are refused, and verify names the flag. Case two deletes
# the digest record too (the store head still says), case three also
# deletes every store head (meta/'s and STORE/head): only the root's
# record tells then. Last, the record of a key rotate deleted the same
# way, with the key ring put back from before it: the audit trail's rotate
# record still tells (mount refused, verify names it).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_harness
build_tamper || { fail "tamper.c compiles"; done_testing; }

hexs() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }
le64() { python3 -c "import struct,sys;print(struct.pack('<q',int(sys.argv[1])).hex())" "$1"; }
T2100=4102444800

# downgrade CASE [digest] [heads]: the attack on a fresh store.
downgrade() {
	local c=$1 deldg=${2:-} delheads=${3:-} S M k v bkt ca da out rc
	S=$T_BASE/s$RANDOM M=$T_BASE/m$RANDOM
	make_store "$S" || { fail "$c: init"; return; }
	mount_fg "$S" "$M" || { fail "$c: mount"; return; }
	mkdir "$M/bkt" && echo genuine >"$M/bkt/contract" && echo draft >"$M/bkt/draft" &&
		echo books >"$M/bkt/ledger" || fail "$c: objects"
	check_errno "$c: contract COMPLIANCE +365d" OK setxattr "$M/bkt/contract" \
		user.worm.retention "COMPLIANCE +365d"
	check_errno "$c: ledger COMPLIANCE +365d" OK setxattr "$M/bkt/ledger" \
		user.worm.retention "COMPLIANCE +365d"
	umount_fs "$M"
	bkt=$("$TAMPER" get "$S/meta" "$("$TAMPER" map "$S/meta" |
		awk '$6=="bkt/contract"{print $1}')" parent)
	ca=$("$TAMPER" dget "$S/meta" "$bkt" contract)
	da=$("$TAMPER" dget "$S/meta" "$bkt" draft)
	check_eq "$c: entries carry a MAC" "96 96" "${#ca} ${#da}"
	# The whole store made to look older than record MACs.
	while read -r k v; do
		"$TAMPER" xput "$S/meta" nodes "$k" "01${v:2}" || fail "$c: node version"
	done < <("$TAMPER" xlist "$S/meta" nodes)
	while read -r k v; do
		"$TAMPER" xput "$S/meta" dirents "$k" "${v:0:32}" || fail "$c: entry MAC stripped"
	done < <("$TAMPER" xlist "$S/meta" dirents)
	v=$("$TAMPER" kvget "$S/meta" next_ino)
	"$TAMPER" kvput "$S/meta" next_ino "${v:0:16}" || fail "$c: counter MAC stripped"
	"$TAMPER" xdel "$S/meta" kv "$(hexs auth_records)" || fail "$c: flag deleted"
	if [ -n "$deldg" ]; then
		"$TAMPER" xdel "$S/meta" kv "$(hexs state_digest)" || fail "$c: digest deleted"
	fi
	if [ -n "$delheads" ]; then
		delete_heads "$S" "$c"
	fi
	# The swap (each name gets the other's inode, cookies kept) and the
	# clock moved to 2100 in the older form.
	"$TAMPER" dput "$S/meta" "$bkt" contract "${da:0:16}${ca:16:16}" &&
		"$TAMPER" dput "$S/meta" "$bkt" draft "${ca:0:16}${da:16:16}" || fail "$c: swap"
	"$TAMPER" kvput "$S/meta" clock_hwm "$(le64 $T2100)" || fail "$c: clock"
	if mount_fg "$S" "$M" 2>/dev/null; then
		umount_fs "$M"
	fi
	check_not "$c: no records upgrade of a store made with them" grep -q \
		"upgraded to authenticated metadata" "${MNT_LOG[$M]}"
	v=$("$TAMPER" dget "$S/meta" "$bkt" contract)
	check_eq "$c: the swapped entry got no MAC" 32 "${#v}"
	v=$("$TAMPER" kvget "$S/meta" clock_hwm)
	check_not "$c: the clock record of 2100 got no MAC" test "${#v}:${v:0:16}" = "80:$(le64 $T2100)"
	# The node versions put back: every node record authentic again; the
	# operator accepts the state.
	while read -r k v; do
		"$TAMPER" xput "$S/meta" nodes "$k" "02${v:2}" || fail "$c: node version back"
	done < <("$TAMPER" xlist "$S/meta" nodes)
	out=$("$WORMCTL" repair digest "$S" 2>&1); rc=$?
	diag "$c: wormctl repair digest: exit $rc: $(tail -n 2 <<<"$out")"
	if mount_fg "$S" "$M" 2>/dev/null; then
		out=$(cat "$M/bkt/contract" 2>&1)
		check_not "$c: the locked object's name does not serve the other object" \
			test "$out" = draft
		check_errno "$c: the locked object's name cannot be written" "EIO|EPERM" \
			write "$M/bkt/contract" forged
		check_errno "$c: the other COMPLIANCE object cannot be deleted" "EIO|EPERM" \
			unlink "$M/bkt/ledger"
		out=$(cat "$M/.wormfs/clock" 2>&1)
		check_not "$c: the compliance clock is not in 2100" grep -q "^2100" <<<"$out"
		umount_fs "$M"
	else
		ok "$c: the locked object's name does not serve the other object (mount refused)"
		ok "$c: the locked object's name cannot be written (mount refused)"
		ok "$c: the other COMPLIANCE object cannot be deleted (mount refused)"
		ok "$c: the compliance clock is not in 2100 (mount refused)"
	fi
	out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
	check_eq "$c: verify reports the downgrade: exit 1" 1 "$rc"
	check_match "$c: verify names the flag" "meta/kv/auth_records" "$out"
}

downgrade "digest kept"
downgrade "digest deleted" digest
downgrade "digest and heads deleted" digest heads

# The key ring put back from before a rotate (version 1 active again,
# removed since: maybe leaked), and the record of the rotate (kv
# key_ring_active) deleted as if the store were older than it, the digest
# re-sealed. Before the fix the mount took the older ring (new data keys
# wrapped under version 1 again) and verify was clean; the audit trail's
# rotate record says otherwise.
S=$T_BASE/keys M=$T_BASE/mkeys
make_store "$S" || fail "keys: init"
cp -p "$S/keys/keyring" "$T_BASE/keyring.1"
check "keys: rotate" "$WORMCTL" key rotate "$S"
check "keys: remove 1" "$WORMCTL" key remove "$S" 1
cp "$T_BASE/keyring.1" "$S/keys/keyring"
"$TAMPER" xdel "$S/meta" kv "$(hexs key_ring_active)" || fail "keys: record deleted"
check_ring_refused "$S" "$M" "" \
	"DAMAGED keys/keyring: the key ring's active master key version 1 is below version 2, which a key rotate made active \(audit record [0-9]+\)"

done_testing
