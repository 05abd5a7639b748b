#!/bin/bash
# test_full_disk: the store on a full file system (issue 10, R4). With the
# store on a 64 MiB tmpfs filled through the mount, every call that needs
# space fails with ENOSPC and nothing else; the daemon stays up, committed
# objects read back unchanged, and once space is freed (the filler deleted
# through the mount) writes work again. 92be1e4 died of SIGBUS in
# mdb_txn_commit (LMDB writing through a map of a sparse file).
. "$(dirname "$0")/lib.sh"

require_binaries

FS=$T_BASE/fs
STORE=$FS/store
MNT=$T_BASE/mnt
tmpfs_mount "$FS" 64m
make_store "$STORE" || { fail "wormctl init"; done_testing; }
# A checkpoint (LMDB sync) every 20 ms: it runs many times while full.
mount_fg "$STORE" "$MNT" -o sync_interval_ms=20 || { fail "mount"; done_testing; }
B=$MNT/bkt1
mkdir "$B"
alive() { kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; }

# Committed before the disk fills: small (inline) and large (content file).
for i in 1 2 3; do h write "$B/pre$i" "hello$i" >/dev/null; done
head -c 200000 /dev/urandom >"$T_BASE/big"
cp "$T_BASE/big" "$B/prebig"
cp "$T_BASE/big" "$B/victim"
h setxattr "$B/pre1" user.note kept >/dev/null
h setxattr "$B/pre2" user.note kept >/dev/null

# Fill it: large writes, then small ones for what is left.
out=$(dd if=/dev/zero of="$B/fill" bs=1M 2>&1)
check_match "dd through the mount stops at ENOSPC" "No space left on device" "$out"
dd if=/dev/zero of="$B/fill2" bs=4k >/dev/null 2>&1
check_eq "the file system is full" 0 "$(df -k --output=avail "$FS" | tail -n 1 | tr -d ' ')"

# Creating small files: the metadata reserve (README, Decisions) takes
# some, then every create gets ENOSPC, and nothing else.
first=
for i in $(seq 1 3000); do
	r=$(h write "$B/small$i" x)
	[ "$r" = OK ] && continue
	first=$r
	break
done
check_eq "small creates on a full disk end with ENOSPC" ENOSPC "${first:-none in 3000}"
declare -A got=()
for j in $(seq 1 20); do
	r=$(h write "$B/more$j" x)
	got[$r]=$(( ${got[$r]:-0} + 1 ))
done
summary=$(for k in "${!got[@]}"; do echo "$k=${got[$k]}"; done | sort | tr '\n' ' ')
check_eq "20 more creates: all ENOSPC" "ENOSPC=20 " "$summary"
if alive; then ok "daemon alive after creates on a full disk"; else fail "daemon alive after creates on a full disk" "$(tail -n 5 "${MNT_LOG[$MNT]}")"; fi

check_errno "mkdir on a full disk" "ENOSPC" mkdir "$B/newdir"
r=$(cp "$T_BASE/big" "$B/big2" 2>&1)
check_match "copying 200 KB in on a full disk fails with ENOSPC" "No space left on device" "$r"
check_errno "fsync of a committed object on a full disk" "OK" fsync "$B/pre2"
check_errno "setxattr on a full disk" "ENOSPC" setxattr "$B/pre2" user.new value
check_errno "symlink on a full disk" "ENOSPC" symlink target "$B/link"
check_errno "unlink of a small object on a full disk" "OK" unlink "$B/small1"
check_errno "removexattr on a full disk" "OK" removexattr "$B/pre1" user.note
if alive; then ok "daemon alive on a full disk"; else fail "daemon alive on a full disk" "$(tail -n 5 "${MNT_LOG[$MNT]}")"; fi

# Appending to a committed object whose last block is partial: the append
# fails and the committed size and content stay (the block is journaled
# before it is rewritten, and a write that fails part way rolls the object
# back at once; test_fault_io.sh tears the block deterministically).
r=$(head -c 100000 /dev/urandom 2>/dev/null | dd of="$B/victim" oflag=append conv=notrunc bs=4k 2>&1)
check_match "an append on a full disk fails with ENOSPC" "No space left on device" "$r"
check_eq "a failed append leaves the committed size" 200000 "$(stat -c %s "$B/victim")"
check "a failed append leaves the committed content" cmp "$T_BASE/big" "$B/victim"

# Commit at close: new inline content needs metadata space. The close
# reports ENOSPC; the committed content stays (after a remount too).
check_errno "commit (close) of changed inline content on a full disk" ENOSPC pwrite "$B/pre3" 0 HELLO3
# Checkpoints ran meanwhile (sync_interval_ms=20): still alive, and the
# failures are logged, not fatal.
sleep 1
if alive; then ok "daemon alive after checkpoints on a full disk"; else fail "daemon alive after checkpoints on a full disk"; fi

# Reads keep working, committed objects unchanged.
for i in 1 2; do check_eq "pre$i reads back" "hello$i" "$(h read "$B/pre$i")"; done
check "large object reads back" cmp "$T_BASE/big" "$B/prebig"
check_eq "xattr reads back" kept "$(h getxattr "$B/pre2" user.note)"
check "ls works" ls -l "$B"

# Offline on a full disk: the unmount, then key rotate and rewrap (they
# refuse while mounted) give a clear error or succeed, and lose nothing.
umount_check "$MNT" "unmount on a full disk"
r=$("$WORMCTL" key rotate "$STORE" 2>&1); rc=$?
if [ $rc -eq 0 ]; then
	ok "key rotate on a full disk: succeeded"
else
	check_match "key rotate on a full disk: a clear ENOSPC error" "No space left on device" "$r"
fi
r=$("$WORMCTL" key rewrap "$STORE" 2>&1); rc2=$?
if [ $rc2 -eq 0 ]; then
	ok "key rewrap on a full disk: succeeded"
else
	check_match "key rewrap on a full disk: a clear ENOSPC error" "No space left on device" "$r"
fi
diag "on a full disk: key rotate exit $rc, key rewrap exit $rc2"
check "verify after key rotate/rewrap on a full disk" "$WORMCTL" verify "$STORE"
mount_fg "$STORE" "$MNT" -o sync_interval_ms=20 || { fail "remount on a full disk"; done_testing; }
for i in 1 2 3; do check_eq "pre$i reads back after the remount on a full disk" "hello$i" "$(h read "$B/pre$i")"; done
check "large object reads back after the remount on a full disk" cmp "$T_BASE/big" "$B/prebig"

# Free space through the mount: writes work again.
check_errno "unlink of the filler on a full disk" "OK" unlink "$B/fill"
check_errno "create after space is freed" "OK" write "$B/after" "again"
check_errno "mkdir after space is freed" "OK" mkdir "$B/newdir"
check "200 KB copy after space is freed" cp "$T_BASE/big" "$B/big3"
check "the copy reads back" cmp "$T_BASE/big" "$B/big3"
check_eq "the new object reads back" again "$(h read "$B/after")"
check_errno "changing inline content after space is freed" OK pwrite "$B/pre3" 0 HELLO3
check_eq "it reads back" HELLO3 "$(h read "$B/pre3")"
check_errno "the object of the failed append takes appends again" OK append "$B/victim" tail
umount_check "$MNT" "after space is freed"
check "key rotate after space is freed" "$WORMCTL" key rotate "$STORE"
check "key rewrap after space is freed" "$WORMCTL" key rewrap "$STORE"
check "verify after the rewrap" "$WORMCTL" verify "$STORE"
mount_fg "$STORE" "$MNT" || { fail "remount after rewrap"; done_testing; }

umount_check "$MNT" "full disk"
# After a remount everything committed is still there.
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
for i in 1 2; do check_eq "pre$i after remount" "hello$i" "$(h read "$B/pre$i")"; done
check_eq "pre3 after remount" HELLO3 "$(h read "$B/pre3")"
check "large object after remount" cmp "$T_BASE/big" "$B/prebig"
check "copy after remount" cmp "$T_BASE/big" "$B/big3"
check_eq "new object after remount" again "$(h read "$B/after")"
umount_check "$MNT" "remount"
done_testing
