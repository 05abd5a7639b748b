#!/bin/bash
# test_block_map_faults: the block map (format 2, issue 12 item 3) at a
# crash or a failing disk. A kill between the map write and the record's
# commit (hook step "map"), and a map write that fails (ENOSPC, EIO, a short
# write, via faultshim.c): the commit fails or never happened, the daemon
# stays up, the object reads back exactly as last committed (also after a
# remount) and `wormctl verify` is clean. Objects with several generations
# and sparse ones, so their maps are real files.
. "$(dirname "$0")/lib.sh"

require_binaries
need_faultshim "block map faults"
S=$T_BASE/store M=$T_BASE/mnt C=$T_BASE/committed
mkdir -p "$C"
make_store "$S" || { fail "wormctl init"; done_testing; }
keep() { cp "$M/bkt/$1" "$C/$1"; }
same() { # DESC NAME
	local err
	if err=$(cmp "$M/bkt/$2" "$C/$2" 2>&1); then ok "$1"; else fail "$1" "$err"; fi
}
verify_clean() { # DESC
	local out rc
	out=$("$WORMCTL" verify "$S" 2>&1)
	rc=$?
	if [ $rc = 0 ] && ! grep -q DAMAGED <<<"$out"; then ok "$1"; else fail "$1" "exit $rc: $(head -n 5 <<<"$out")"; fi
}
# patch NAME OFF SEED: 100 bytes at OFF, one session (a commit at close).
patch() {
	python3 - "$M/bkt/$1" "$2" "$3" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.pwrite(fd, random.Random(int(sys.argv[3])).randbytes(100), int(sys.argv[2]))
    os.close(fd)
    print("OK")
except OSError as e:
    print("ERR", e.errno)
PY
}
# sparse NAME: data at 0 and at 200,000 (holes between), one session.
sparse() {
	python3 - "$M/bkt/$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(fd, b"a" * 1000, 0)
os.pwrite(fd, b"b" * 1000, 200000)
os.close(fd)
PY
}

mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
head -c 200000 /dev/urandom >"$M/bkt/multi"
patch multi 40000 1 >/dev/null        # gen 2: block 1 newer, a map file
keep multi
ids() { find "$S/objects" -type f ! -name '*.*' -printf '%f\n' | sort; }
declare -A ID
ID[multi]=$(ids)
sparse holes; keep holes
ID[holes]=$(ids | grep -vx "${ID[multi]}")
umount_fs "$M" || fail "unmount"
ls "$S"/objects/*/*.m? >/dev/null 2>&1 && ok "map files exist" || fail "map files exist"

# ---- a kill between the map write and the record's commit -------------------
for obj in multi holes; do
	WORMFS_CRASH_AT=map mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
	patch $obj 100000 7 >/dev/null
	if hook_fired "$M" "$S"; then ok "$obj: daemon killed after the map write, before the commit"
	else fail "$obj: daemon killed after the map write, before the commit"; fi
	verify_clean "$obj: verify before the recovery is clean"
	mount_fg "$S" "$M" || { fail "remount"; done_testing; }
	same "$obj: reads back as committed after the recovery" $obj
	# The next session (the same generation number) commits and reads.
	check_eq "$obj: the next session commits" OK "$(patch $obj 5000 9)"
	keep $obj
	umount_fs "$M" || fail "unmount"
	verify_clean "$obj: verify clean after the next commit"
	mount_fg "$S" "$M" || { fail "remount"; done_testing; }
	same "$obj: the new commit reads back after a remount" $obj
	umount_fs "$M" || fail "unmount"
done

# ---- the map write fails -------------------------------------------------------
mount_shim "$S" "$M" || { fail "mount with the shim"; done_testing; }
PID=${MNT_PID[$M]}
n=0
for f in "err=ENOSPC" "err=EIO" "short=2" "short=1"; do
	for obj in multi holes; do
		n=$((n + 1))
		fault "match=${ID[$obj]}.m" "ops=pwrite" "$f" count=1
		r=$(patch $obj 70000 $((20 + n)))
		nofault
		check_match "$obj, map write $f: the fault hit its map" "pwrite .*${ID[$obj]}\.m" \
			"$(tail -n 1 "$WORMFS_FAULT_LOG" 2>/dev/null)"
		case "$r" in
		OK) keep $obj ;;   # a short write the map code retried
		ERR*) ok "$obj, map write $f: the close reports the failure ($r)" ;;
		esac
		kill -0 "$PID" 2>/dev/null && ok "$obj, map write $f: daemon alive" ||
			{ fail "$obj, map write $f: daemon alive"; done_testing; }
		same "$obj, map write $f: reads back as last committed" $obj
		check_eq "$obj, map write $f: the next session commits" OK "$(patch $obj 1000 $((40 + n)))"
		keep $obj
		same "$obj, map write $f: the next commit reads back" $obj
	done
done
umount_fs "$M" || fail "unmount"
verify_clean "verify clean after the map write failures"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
for obj in multi holes; do same "$obj: last commit reads back after a remount" $obj; done
umount_fs "$M" || fail "unmount"
done_testing
