#!/usr/bin/env bash
# test_replay_commit_authfail (review of issue 12's commit binding). The
# binding is only as good as the node that carries it. So root, offline,
# after the killed-commit-record replay of an appendable COMPLIANCE object,
# edits the node's commit field: cleared (all zero reads as "not recorded,
# unchecked") or set to the killed record's tag (it is in the clear in the
# header copy). The node then fails its MAC and the mount is refused by the
# state digest; an operator runs `wormctl repair digest`. Before the fix
# every read then served the killed session's never-committed bytes
# (design section 7 said "reads allowed" on a record that fails
# authentication). Now content reads of an object whose node fails
# authentication return EIO (logged, counted: "unauthenticated plaintext
# is never returned"), its metadata stays readable (stat, the lock state)
# and every change is EPERM.
. "$(dirname "$0")/lib.sh"
require_binaries
. "$(dirname "$0")/replay_lib.sh"
replay_require "append replay"

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
make_store "$S" || { fail "wormctl init"; done_testing; }

# set_commit INO HEX32: the node's commit field set to HEX32 (byte flips).
set_commit() {
	local c i b
	c=$("$TAMPER" get "$S/meta" "$1" commit)
	for ((i = 0; i < 16; i++)); do
		b=$((16#${c:$((2 * i)):2} ^ 16#${2:$((2 * i)):2}))
		[ $b -eq 0 ] || "$TAMPER" flip "$S/meta" "$1" commit $i $b || return 1
	done
}

SIZE=200000 ADD=5000
append_replay_stage
cp -p "$D/copy"/* "$dir/"
cp -a "$S" "$T_BASE/replayed"

for mode in cleared killed-tag; do
	rm -rf "$S"
	cp -a "$T_BASE/replayed" "$S"
	gen=$("$TAMPER" get "$S/meta" "$ino" generation)
	tag=00000000000000000000000000000000
	[ $mode = cleared ] ||
		tag=$(od -An -tx1 -v -j $((256 + (gen & 1) * 72 + 56)) -N16 "$dir/$id" | tr -d ' \n')
	set_commit "$ino" "$tag" || fail "$mode: node commit field edited"
	"$WORMCTL" repair digest "$S" >/dev/null 2>&1 || fail "$mode: wormctl repair digest"
	mount_fg "$S" "$M" || { fail "$mode: mount"; continue; }
	got=$(rd "$M/bkt/log" 0 $((SIZE + ADD + 10)))
	[ "$got" != "OK $((SIZE + ADD)) $(sha "$D/killed")" ] &&
		ok "$mode: the killed append's never-committed bytes are not served" ||
		fail "$mode: the killed append's never-committed bytes are not served" "got: $got"
	check_eq "$mode: read: EIO" EIO "$got"
	check_errno "$mode: the lock still holds (unlink: EPERM)" EPERM unlink "$M/bkt/log"
	check_eq "$mode: appends refused (EPERM)" "ERR 1" "$(ap "$M/bkt/log" "$D/n")"
	check_eq "$mode: stat still answers (size as recorded)" $((SIZE + ADD)) "$(stat -c %s "$M/bkt/log")"
	check_eq "$mode: the lock state still reads" locked "$(worm_state "$M/bkt/log")"
	check_match "$mode: the refused read is logged" "metadata record fails authentication, content read refused" \
		"$(cat "${MNT_LOG[$M]}")"
	umount_fs "$M" || fail "$mode: unmount"
done
done_testing
