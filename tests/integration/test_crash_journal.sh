#!/usr/bin/env bash
# The undo journal under attack (issue 11 review). Root offline plants or
# edits an object's journal (objects/XX/ID.u) and sets the unclean-stop
# mark: the recovery at the next mount must never write into a committed
# (here: locked) object anything but its committed blocks, and never change
# a block that still authenticates as committed. verify of a store that was
# stopped cleanly must not take a journal copy for the content (a planted
# journal would hide real damage that every read reports as EIO). A journal
# write that fails (ENOSPC) refuses the write, so a kill then leaves the
# committed content. A second kill during the recovery still recovers.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt C=$T_BASE/committed
mkdir -p "$C"
make_store "$S" || { fail "wormctl init"; done_testing; }

build_tamper || { fail "tamper.c compiles"; done_testing; }

HDR=512 SLOT=16432
idof() { "$TAMPER" map "$S/meta" | awk -v p="bkt/$1" '$6 == p {print $2}'; }
genof() { "$TAMPER" map "$S/meta" | awk -v p="bkt/$1" '$6 == p {print $4}'; }
cfile() { local id; id=$(idof "$1"); echo "$S/objects/${id:0:2}/$id"; }
keep() { cp "$M/bkt/$1" "$C/$1"; }
same() { # DESC NAME: reads back exactly as committed, without error
	local err
	if err=$(cmp "$M/bkt/$2" "$C/$2" 2>&1); then ok "$1"; else fail "$1" "$err"; fi
}
verify_rc() { "$WORMCTL" verify "$S" >"$T_BASE/verify.out" 2>&1; echo $?; }
# A journal for object NAME of the committed state (gen, size from meta):
# records "IDX:FILE" (FILE holds the slot bytes).
mkjournal() {
	local name=$1 id gen size
	shift
	id=$(idof "$name") gen=$(genof "$name") size=$(stat -c %s "$C/$name")
	python3 - "$(cfile "$name").u" "$id" "$gen" "$size" "$@" <<'EOF'
import struct, sys
out, idhex, gen, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
j = b'WORMUND1' + bytes.fromhex(idhex) + struct.pack('<QQQ', gen, size, 0)
for rec in sys.argv[5:]:
    idx, f = rec.split(':', 1)
    data = open(f, 'rb').read()
    j += struct.pack('<QQ', int(idx), len(data)) + data
open(out, 'wb').write(j)
EOF
}
slot_of() { # FILE IDX OUT: the slot bytes of block IDX
	dd if="$1" of="$3" bs=1 skip=$((HDR + $2 * SLOT)) count=$SLOT status=none 2>/dev/null ||
		python3 -c 'import sys; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2])); open(sys.argv[3],"wb").write(f.read(int(sys.argv[4])))' \
			"$1" $((HDR + $2 * SLOT)) "$3" $SLOT
}
# The unclean-stop mark, as a kill -9 of an idle daemon leaves it.
mark_unclean() {
	mount_fg "$S" "$M" || return 1
	crash_daemon "$M" "$S"
}

# Three sessions rewrite r1..r3 in place; the daemon kills itself at the
# third write, all of them uncommitted.
kill_three() {
	WORMFS_CRASH_AT=write@3 mount_fg "$S" "$M" || { fail "mount with the hook"; done_testing; }
	python3 - "$M/bkt" <<'EOF' 2>/dev/null
import os, sys
fds = [os.open(os.path.join(sys.argv[1], 'r%d' % i), os.O_WRONLY) for i in (1, 2, 3)]
for fd in fds:
    os.pwrite(fd, os.urandom(40000), 100)
EOF
	if hook_fired "$M" "$S"; then ok "killed with three sessions in flight"
	else fail "killed with three sessions in flight"; fi
}

mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
# 60,000 bytes: blocks 0-2 full, block 3 final.
head -c 60000 /dev/urandom >"$M/bkt/old"
umount_fs "$M"
# An authentic copy of block 0 of "old" at generation 1.
slot_of "$(cfile old)" 0 "$T_BASE/old.b0.g1"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
h pwrite "$M/bkt/old" 0 "$(head -c 16384 /dev/zero | tr '\0' 'N')" >/dev/null
keep old
head -c 60000 /dev/urandom >"$M/bkt/garb"; keep garb
head -c 60000 /dev/urandom >"$M/bkt/dmg"; keep dmg
for f in old garb; do
	setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/$f" ||
		fail "lock $f"
done
umount_fs "$M"
check_eq "old: committed twice (generation 2)" 2 "$(genof old)"

# ---- recovery: a planted journal for a locked object --------------------
# An authentic but older copy of block 0 (generation 1, before the rewrite
# that generation 2 committed): it authenticates as block 0, but the file's
# block 0 is intact, so the recovery must leave it.
# Random bytes where a block of a locked object would be restored.
head -c $SLOT /dev/urandom >"$T_BASE/rnd.slot"
garbj=$(cfile garb).u oldj=$(cfile old).u
mark_unclean || fail "unclean mark"
mkjournal old "0:$T_BASE/old.b0.g1"
mkjournal garb "1:$T_BASE/rnd.slot"
mount_fg "$S" "$M" || { fail "mount with planted journals"; done_testing; }
same "a planted journal of random bytes leaves a locked object as committed" garb
same "a planted journal of an older authentic block does not roll a locked object back" old
check_match "the recovery logs the rejected journal record" 'journal.*not .*commit' \
	"$(grep -i 'journal' "${MNT_LOG[$M]}")"
check_eq "the planted journals are gone" "" "$(ls "$garbj" "$oldj" 2>/dev/null)"
umount_fs "$M"
check_eq "verify: clean (the objects are intact)" 0 "$(verify_rc)"

# ---- verify of a cleanly stopped store ignores journals -----------------
slot_of "$(cfile dmg)" 1 "$T_BASE/dmg.b1"
"$TAMPER" xor "$(cfile dmg)" $((HDR + SLOT + 100)) 1
mkjournal dmg "1:$T_BASE/dmg.b1"
rc=$(verify_rc)
check_eq "verify: a damaged block is damage even with a journal holding its committed copy" 1 "$rc"
check_match "verify names it" 'DAMAGED bkt/dmg' "$(cat "$T_BASE/verify.out")"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_match "and a read of it is EIO" 'Input/output error' "$(cat "$M/bkt/dmg" 2>&1 >/dev/null)"
umount_fs "$M"
rm -f "$(cfile dmg).u"
"$TAMPER" xor "$(cfile dmg)" $((HDR + SLOT + 100)) 1
check_eq "verify clean once the block is restored" 0 "$(verify_rc)"

# ---- a second kill during the recovery ----------------------------------
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
for i in 1 2 3; do head -c 60000 /dev/urandom >"$M/bkt/r$i"; keep "r$i"; done
umount_fs "$M"
kill_three
WORMFS_CRASH_AT=recover@2 mount_fg "$S" "$M" >/dev/null 2>&1
if hook_fired "$M" "$S"; then ok "killed again during the recovery"; else fail "killed again during the recovery"; fi
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
for i in 1 2 3; do same "r$i: recovered after a kill during the recovery" "r$i"; done
umount_fs "$M"
check_eq "verify clean after both recoveries" 0 "$(verify_rc)"

# ---- a recovery that cannot finish (KMS throttled) is retried ------------
# The recovery unwraps each journaled object's key to check the records;
# an object it could not roll back keeps the store unclean, so the next
# mount tries again instead of leaving uncommitted blocks for good.
kill_three
mount_fg "$S" "$M" -o kms.crypto_rate=1,kms.crypto_burst=1,kms.throttle=fail ||
	{ fail "mount with a throttled KMS"; done_testing; }
check_match "the throttled recovery logs what it could not do" 'recovery: object' \
	"$(grep 'recovery: object' "${MNT_LOG[$M]}")"
umount_fs "$M"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
for i in 1 2 3; do same "r$i: rolled back by the next mount" "r$i"; done
umount_fs "$M"

# ---- C4: the daemon's EIO on a write is damage, logged and counted ------
# (The EIO of issue 11 C4 came from the kernel: a request cut while copied
# to a killed daemon. The daemon answers EIO to a write only when a block it
# must read back fails authentication: that must never pass silently.)
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
head -c 40000 /dev/urandom >"$M/bkt/w"
umount_fs "$M"
wid=$(idof w)
"$TAMPER" xor "$(cfile w)" $((HDR + 2 * SLOT + 60)) 1
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
out=$(python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND); os.write(fd, b"x"*10)' "$M/bkt/w" 2>&1)
check_match "an append that must re-seal a damaged final block: EIO" 'Input/output error' "$out"
check_match "C4: logged as an authentication failure" 'fails authentication' \
	"$(grep "$wid" "${MNT_LOG[$M]}")"
umount_fs "$M"
"$TAMPER" xor "$(cfile w)" $((HDR + 2 * SLOT + 60)) 1

# ---- a commit that fails at close, then a clean unmount ------------------
# The session stays uncommitted (its journal on disk): the stop must not
# count as clean, so the next mount rolls its blocks back.
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
head -c 60000 /dev/urandom >"$M/bkt/u"; keep u
umount_fs "$M"
uf=$(cfile u)
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
python3 - "$M/bkt/u" "$uf" "$((HDR + 3 * SLOT + 60))" <<'EOF2' 2>/dev/null
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b'U' * 100, 0)
# Damage the final block under the open session: its commit fails (EIO).
with open(sys.argv[2], 'r+b') as f:
    f.seek(int(sys.argv[3])); b = f.read(1); f.seek(int(sys.argv[3])); f.write(bytes([b[0] ^ 1]))
os.close(fd)
EOF2
umount_fs "$M"
"$TAMPER" xor "$uf" $((HDR + 3 * SLOT + 60)) 1
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
same "a session whose commit failed is rolled back at the next mount" u
umount_fs "$M"

# ---- a journal write that fails: the write is refused -------------------
FS=$T_BASE/fs
tmpfs_mount "$FS" 24m
S=$FS/store
make_store "$S" || { fail "wormctl init on tmpfs"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
head -c 200000 /dev/urandom >"$M/bkt/e"; keep e
dd if=/dev/zero of="$FS/fill" bs=1M >/dev/null 2>&1
dd if=/dev/zero of="$FS/fill2" bs=4k >/dev/null 2>&1
python3 - "$M/bkt/e" "$T_BASE/ready" "$T_BASE/res" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.pwrite(fd, os.urandom(100000), 1000)
    r = 'written'
except OSError as e:
    r = os.strerror(e.errno)
open(sys.argv[3], 'w').write(r)
open(sys.argv[2], 'w').close()
time.sleep(60)
EOF
wpid=$!
for _ in $(seq 1 100); do [ -e "$T_BASE/ready" ] && break; sleep 0.1; done
check_eq "an in-place write whose journal does not fit: ENOSPC" "No space left on device" \
	"$(cat "$T_BASE/res" 2>/dev/null)"
pid=${MNT_PID[$M]}
kill -9 "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 $wpid 2>/dev/null
wait $wpid 2>/dev/null
crash_daemon "$M" "$S" || fail "kill -9"
rm -f "$FS/fill" "$FS/fill2"
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
same "after the kill, the object reads as committed" e
umount_fs "$M"
check_eq "verify clean" 0 "$(verify_rc)"
done_testing
