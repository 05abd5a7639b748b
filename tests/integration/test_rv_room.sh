#!/bin/bash
# test_rv_room: deletes must still make room once the metadata is nearly
# out of space (review rv-limits). Past the point where additions get
# ENOSPC, lock changes still commit, and each one logs an audit record and
# a store head; an owner extending a retention by a second, again and
# again, filled what was left, and then every delete failed (ENOSPC) until
# the daemon was restarted with a larger map or the disk was freed from
# outside. Now past a second point the lock change gets ENOSPC (nothing
# changes) and deletes commit; a legal hold turned on by a hold principal
# still lands (the owner filling the rest must not keep an administrator
# from holding an object).
# 1. The LMDB map full (ulimit -v: a 64 MiB map).
# 2. A full disk (64 MiB tmpfs): the 1 MiB metadata reserve.
. "$(dirname "$0")/lib.sh"

require_binaries
command -v python3 >/dev/null || { skip "room" "needs python3"; done_testing; }
REAL_WORMFS=$WORMFS
alive() { kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; }
# extend PATH: the owner extends the retention of PATH (GOVERNANCE +1d, the
# same date or a later one each time) until it fails; prints the errno.
EXT=$T_BASE/extend.py
cat >"$EXT" <<'PY'
import errno, os, sys
n = 0
while n < 100000:
    try:
        os.setxattr(sys.argv[1], "user.worm.retention", b"GOVERNANCE +1d")
        n += 1
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), n)
        sys.exit(0)
print("none", n)
PY
# a python3 the test user can run (python3 in PATH may be root's own)
PYU=
for py in "$(command -v python3)" /usr/bin/python3 /usr/local/bin/python3; do
	if [ -x "$py" ] && (cd / && as_user "$py" -c 'pass') 2>/dev/null; then PYU=$py; break; fi
done
# room_checks PART: after the extensions, deletes work, the daemon is up,
# and once room is made a lock change works again.
room_checks() {
	local p=$1 r
	# lockme's owner is not root: any owner can do this
	if [ -n "$PYU" ]; then
		r=$(cd / && as_user "$PYU" "$EXT" "$B/lockme")
	else
		diag "$p: no python3 the test user can run: extended by root"
		r=$(python3 "$EXT" "$B/lockme")
	fi
	diag "$p: retention extensions: $r"
	check_eq "$p: extending a retention again and again ends with ENOSPC" ENOSPC "${r%% *}"
	# refused there: nothing recorded, nothing locked in memory either
	check_errno "$p: a retention then: ENOSPC" ENOSPC setxattr "$B/keep" user.worm.retention "GOVERNANCE +1d"
	check_eq "$p: and the object is still mutable" mutable "$(worm_state "$B/keep")"
	check_errno "$p: with no retention" ENODATA getxattr "$B/keep" user.worm.retention
	# A legal hold turned on still lands: only a hold principal (root)
	# changes holds, and the owner who filled the rest must not keep the
	# administrator from holding an object its owner could still delete.
	check_errno "$p: a legal hold by root still lands" OK setxattr "$B/hold" user.worm.legal-hold ON
	check_eq "$p: the hold is recorded" ON "$(h getxattr "$B/hold" user.worm.legal-hold)"
	check_errno "$p: the held object cannot be deleted" EPERM unlink "$B/hold"
	# its refusal record is refused for want of room too: it waits (an
	# fsync of a directory flushes the queue now)
	h fsync "$B" >/dev/null
	check_errno "$p: a delete still commits (unlink)" OK unlink "$B/victim1"
	check_errno "$p: and another" OK unlink "$B/victim2"
	if alive; then ok "$p: daemon alive"; else fail "$p: daemon alive" "$(tail -n 5 "${MNT_LOG[$MNT]}")"; fi
	check_eq "$p: reads work" committed "$(h read "$B/keep")"
}

# ---- 1. the map
if [ "$WORMFS_SANITIZE" = 1 ]; then
	skip "1: map" "ulimit -v and the sanitizers' shadow memory do not mix"
else
	w=$T_BASE/wormfs-vm
	printf '#!/bin/sh\nulimit -v 400000 || exit 1\nexec %s "$@"\n' "$REAL_WORMFS" >"$w"
	chmod +x "$w"
	STORE=$T_BASE/store1
	MNT=$T_BASE/mnt1
	make_store "$STORE" || { fail "wormctl init"; done_testing; }
	WORMFS=$w mount_fg "$STORE" "$MNT" -o allow_other || { fail "mount under ulimit -v"; done_testing; }
	B=$MNT/bkt1
	mkdir "$B"
	for f in keep hold lockme victim1 victim2; do h write "$B/$f" committed >/dev/null; done
	chown "$TEST_UID:$TEST_UID" "$B/lockme"
	VAL=$(head -c 65000 /dev/zero | tr '\0' v)
	r=OK
	for i in $(seq 1 400); do
		r=$(h write "$B/x$i" data)
		for a in 1 2 3; do
			[ "$r" = OK ] || break
			r=$(h setxattr "$B/x$i" "user.a$a" "$VAL")
		done
		[ "$r" = OK ] || break
	done
	check_eq "1: additions end with ENOSPC (map nearly full)" ENOSPC "$r"
	room_checks 1
	for j in 1 2 3 4 5 6 7 8; do h unlink "$B/x$j" >/dev/null; done
	check_errno "1: once room is made, a lock change works" OK setxattr "$B/keep" user.worm.retention "GOVERNANCE +1d"
	h fsync "$B" >/dev/null
	check_match "1: the refusal made without room is recorded once room is made" \
		'kind=refusal op=unlink path=/bkt1/hold uid=0 errno=1 rule=legal-hold' "$(grep -E "kind=(refusal|audit-dropped)" "$MNT/.wormfs/audit")"
	umount_check "$MNT" "1"
	check "1: verify" "$WORMCTL" verify "$STORE"
fi

# ---- 2. the disk
FS=$T_BASE/fs
tmpfs_mount "$FS" 64m
STORE=$FS/store
MNT=$T_BASE/mnt2
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_fg "$STORE" "$MNT" -o allow_other || { fail "mount"; done_testing; }
B=$MNT/bkt2
mkdir "$B"
for f in keep hold lockme victim1 victim2 held; do h write "$B/$f" committed >/dev/null; done
chown "$TEST_UID:$TEST_UID" "$B/lockme"
head -c 200000 /dev/urandom >"$B/big"
dd if=/dev/zero of="$B/fill" bs=1M >/dev/null 2>&1
dd if=/dev/zero of="$B/fill2" bs=4k >/dev/null 2>&1
r=OK
for i in $(seq 1 5000); do
	r=$(h write "$B/s$i" x)
	[ "$r" = OK ] || break
done
check_eq "2: creates on the full disk end with ENOSPC" ENOSPC "$r"
# Mounted again on the full disk: the reserve an earlier run allocated is
# found (not taken for none), so lock changes still commit.
umount_check "$MNT" "2: full"
mount_fg "$STORE" "$MNT" -o allow_other || { fail "2: remount on the full disk"; done_testing; }
check_errno "2: after a remount on the full disk, a legal hold works" OK setxattr "$B/held" user.worm.legal-hold ON
check_errno "2: and a retention" OK setxattr "$B/held" user.worm.retention "GOVERNANCE +1d"
room_checks 2
check_errno "2: the filler goes" OK unlink "$B/fill"
check_errno "2: then a lock change works" OK setxattr "$B/keep" user.worm.retention "GOVERNANCE +1d"
h fsync "$B" >/dev/null
check_match "2: the refusal made without room is recorded once room is made" \
	'kind=refusal op=unlink path=/bkt2/hold uid=0 errno=1 rule=legal-hold' "$(grep -E "kind=(refusal|audit-dropped)" "$MNT/.wormfs/audit")"
umount_check "$MNT" "2"
check "2: verify" "$WORMCTL" verify "$STORE"
done_testing
