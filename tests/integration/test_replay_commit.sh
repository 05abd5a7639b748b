#!/usr/bin/env bash
# test_replay_commit: the killed-commit-record replay (issue 12, README
# Limitations before the fix). A write session killed after its commit had
# written the block map and the commit record into the content file, but
# before the metadata commit (hook step "map"), leaves an authentic record
# of generation G+1 that names the session's own write tags. The next
# session commits G+1 with other tags, and the object is then locked
# (COMPLIANCE). Root, with the store unmounted, puts the content file (and
# its map files) as they were at the kill back in place of the committed
# ones. The node names the commit record it committed, so: every read of
# the object fails with EIO (never the killed session's bytes, never a
# short read), its lock still holds, and `wormctl verify` exits 1 naming
# it. Two objects: one whose sessions rewrite every block (one run: the
# record says it all) and one whose sessions patch one block (the record
# names a map file, put back too).
. "$(dirname "$0")/lib.sh"
require_binaries
. "$(dirname "$0")/replay_lib.sh"
replay_require "killed commit record replay"

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
make_store "$S" || { fail "wormctl init"; done_testing; }

objid() { "$TAMPER" map "$S/meta" | awk -v p="bkt/$1" '$6 == p { print $2 }'; }

SIZE=200000
declare -A OFF LEN
OFF[whole]=0 LEN[whole]=$SIZE
OFF[multi]=100000 LEN[multi]=300

mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
for obj in whole multi; do
	head -c $SIZE /dev/urandom >"$D/$obj.v1"
	cp "$D/$obj.v1" "$M/bkt/$obj"
done
umount_fs "$M" || fail "unmount"

for obj in whole multi; do
	head -c "${LEN[$obj]}" /dev/urandom >"$D/$obj.k"
	head -c "${LEN[$obj]}" /dev/urandom >"$D/$obj.n"
	patched "$D/$obj.v1" "${OFF[$obj]}" "$D/$obj.k" "$D/$obj.killed"
	patched "$D/$obj.v1" "${OFF[$obj]}" "$D/$obj.n" "$D/$obj.committed"
	id=$(objid $obj)
	check_match "$obj: has a content file" '^[0-9a-f]{32}$' "$id"
	dir=$S/objects/${id:0:2}

	# The session killed after its commit record, before the metadata commit.
	WORMFS_CRASH_AT=map mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
	pw "$M/bkt/$obj" "${OFF[$obj]}" "$D/$obj.k" >/dev/null
	if hook_fired "$M" "$S"; then ok "$obj: daemon killed after the commit record, before the metadata commit"
	else fail "$obj: daemon killed after the commit record, before the metadata commit"; fi
	# Root keeps a copy of the content file and its map files as they are now.
	rm -rf "$D/copy.$obj"
	mkdir -p "$D/copy.$obj"
	cp -p "$dir/$id" "$dir/$id".m? "$D/copy.$obj/" 2>/dev/null
	[ -f "$D/copy.$obj/$id" ] && ok "$obj: copy taken at the kill" || fail "$obj: copy taken at the kill"
	[ "$obj" = whole ] || { ls "$D/copy.$obj/$id".m? >/dev/null 2>&1 &&
		ok "$obj: the killed session wrote a map file" ||
		fail "$obj: the killed session wrote a map file"; }

	# Recovery, then the next session commits the same generation, then a lock.
	mount_fg "$S" "$M" || { fail "remount"; done_testing; }
	check_eq "$obj: reads back as committed after the recovery" "OK $SIZE $(sha "$D/$obj.v1")" \
		"$(rd "$M/bkt/$obj" 0 $((SIZE + 10)))"
	check_eq "$obj: the next session commits" OK "$(pw "$M/bkt/$obj" "${OFF[$obj]}" "$D/$obj.n")"
	check_eq "$obj: the new commit reads back" "OK $SIZE $(sha "$D/$obj.committed")" \
		"$(rd "$M/bkt/$obj" 0 $((SIZE + 10)))"
	setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/$obj" 2>/dev/null
	check_eq "$obj: locked (COMPLIANCE)" locked "$(worm_state "$M/bkt/$obj")"
	umount_fs "$M" || fail "unmount"
	out=$("$WORMCTL" verify "$S" 2>&1)
	check_eq "$obj: verify clean before the replay (exit 0)" 0 $?

	# Root puts the copy taken at the kill back, store unmounted (the
	# committed files kept aside, for the next object's clean verify).
	rm -rf "$D/committed.$obj"
	mkdir -p "$D/committed.$obj"
	cp -p "$dir/$id" "$dir/$id".m? "$D/committed.$obj/" 2>/dev/null
	rm -f "$dir/$id".m?
	cp -p "$D/copy.$obj"/* "$dir/"
	mount_fg "$S" "$M" || { fail "mount after the replay"; done_testing; }
	got=$(rd "$M/bkt/$obj" 0 $((SIZE + 10)))
	[ "$got" != "OK $SIZE $(sha "$D/$obj.killed")" ] &&
		ok "$obj: the killed session's never-committed content is not served" ||
		fail "$obj: the killed session's never-committed content is not served" "got: $got"
	check_eq "$obj: read of the whole object: EIO" EIO "$got"
	check_eq "$obj: pread(0, 40000): EIO, no short read" EIO "$(rd "$M/bkt/$obj" 0 40000)"
	check_eq "$obj: pread at the patched offset: EIO" EIO "$(rd "$M/bkt/$obj" "${OFF[$obj]}" 300)"
	check_errno "$obj: the lock still holds (unlink: EPERM)" EPERM unlink "$M/bkt/$obj"
	check_eq "$obj: still locked" locked "$(worm_state "$M/bkt/$obj")"
	umount_fs "$M" || fail "unmount"
	out=$("$WORMCTL" verify "$S" 2>&1)
	rc=$?
	check_eq "$obj: wormctl verify exits 1" 1 $rc
	check_match "$obj: verify names the object and the damage" \
		"DAMAGED bkt/$obj: commit record is not the committed one" "$out"
	check_eq "$obj: verify names nothing else" 1 "$(grep -c DAMAGED <<<"$out")"

	# The committed files back: clean again.
	rm -f "$dir/$id".m?
	cp -p "$D/committed.$obj"/* "$dir/"
	"$WORMCTL" verify "$S" >/dev/null 2>&1
	check_eq "$obj: the committed files put back: verify clean" 0 $?
done

done_testing
