#!/bin/bash
# test_full_disk_locks: lock paths on a full file system (issue 10, R4).
# Once content has filled the disk, every lock change must still commit
# from the metadata reserve: retention set, legal hold, the default
# retention due at a writer's release (the object must end locked, never
# left mutable), deletes of mutable objects and refusals with their own
# errno. Many metadata updates by an unprivileged user must not use up
# the reserve so that root can no longer delete or set a legal hold.
. "$(dirname "$0")/lib.sh"

require_binaries

FS=$T_BASE/fs
STORE=$FS/store
MNT=$T_BASE/mnt
tmpfs_mount "$FS" 48m
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_fg "$STORE" "$MNT" -o allow_other || { fail "mount"; done_testing; }
alive() { kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; }
B=$MNT/bkt1
D=$MNT/dflt
mkdir "$B" "$D"
chmod 0777 "$B"
check_errno "bucket default COMPLIANCE 1d" OK setxattr "$D" user.worm.default-retention "COMPLIANCE 1d"

for i in 1 2 3 4 5 6; do h write "$B/obj$i" "data$i" >/dev/null; done
as_user "$HARNESS" write "$B/user1" "mine" >/dev/null
for i in 1 2 3; do h write "$B/victim$i" "v$i" >/dev/null; done
h setxattr "$B/obj1" user.note v >/dev/null
# Writers still open when the disk fills: their release commits the
# bucket's default retention.
exec 7>"$D/open1"
printf 'payload1' >&7
exec 8>"$D/open2"
printf 'payload2' >&8
# And one whose content only comes after the disk is full.
exec 6>"$D/late"
mkdir "$MNT/lockme"
check_errno "lockme: default" OK setxattr "$MNT/lockme" user.worm.default-retention "GOVERNANCE 1d"

dd if=/dev/zero of="$B/fill" bs=1M >/dev/null 2>&1
dd if=/dev/zero of="$B/fill2" bs=4k >/dev/null 2>&1
# Use up what the reserve lets adds take.
for i in $(seq 1 5000); do
	[ "$(h write "$B/small$i" x)" = OK ] || break
done
check_errno "create on the full disk: ENOSPC" ENOSPC write "$B/nomore" x

# Many updates by an unprivileged user first: they must not eat the reserve.
N=${WORMFS_FDL_UPDATES:-3000}
as_user perl -e '
	my ($f, $n) = @ARGV; my $bad = 0;
	for my $i (1 .. $n) {
		chmod(0600 + ($i % 2) * 0044, $f) or $bad++;
		utime($i, $i, $f) or $bad++;
	}
	print "$bad\n";' "$B/user1" "$N" >"$T_BASE/upd"
check_eq "$N chmod+utimens by a user on the full disk all succeed" 0 "$(cat "$T_BASE/upd")"
if alive; then ok "daemon alive after the updates"; else fail "daemon alive after the updates"; fi

check_errno "retention set on a full disk" OK setxattr "$B/obj2" user.worm.retention "GOVERNANCE +1d"
check_eq "obj2 locked" locked "$(worm_state "$B/obj2")"
check_errno "legal hold on a full disk" OK setxattr "$B/obj3" user.worm.legal-hold ON
check_eq "obj3 held" locked "$(worm_state "$B/obj3")"
check_errno "legal hold off on a full disk" OK setxattr "$B/obj3" user.worm.legal-hold OFF
check_errno "retention extend on a full disk" OK setxattr "$B/obj2" user.worm.retention "GOVERNANCE +2d"
check_errno "unlink of a locked object on a full disk: EPERM" EPERM unlink "$B/obj2"
check_errno "rename of a locked object on a full disk: EPERM" EPERM rename "$B/obj2" "$B/obj2b"
check_errno "overwrite of a locked object on a full disk: EPERM" EPERM write "$B/obj2" zz

check_errno "bucket lock in-progress on a full disk" OK setxattr "$MNT/lockme" user.worm.lock-config in-progress
id=$(h getxattr "$MNT/lockme" user.worm.lock-config | awk '{print $2}')
check_errno "bucket lock complete on a full disk" OK setxattr "$MNT/lockme" user.worm.lock-config "locked $id"
check_eq "bucket locked" locked "$(h getxattr "$MNT/lockme" user.worm.lock-config)"

exec 7>&-
exec 8>&-
# Content whose commit fails with ENOSPC at close: whatever the object
# holds afterwards, with no writer left it must be locked, not left
# mutable until the next mount (inode_commit returns before the default).
printf 'late' >&6 2>/dev/null
exec 6>&- 2>/dev/null
sleep 0.5
# The uncommitted bytes are dropped (close reported the failure) and the
# committed state, empty here, is what gets locked.
check_eq "late: locked after a commit that failed on a full disk" locked "$(worm_state "$D/late")"
check_match "late: the commit did fail, its changes were dropped" "changes dropped" \
	"$(grep -F "commit at its last writer's release failed" "${MNT_LOG[$MNT]}")"
check_errno "late: unlink refused" EPERM unlink "$D/late"
check_errno "late: write refused" EPERM write "$D/late" again
check_eq "late: reads as its committed (empty) content" "" "$(h read "$D/late")"
for o in open1 open2; do
	check_eq "$o: default retention committed at release on a full disk" locked "$(worm_state "$D/$o")"
	check_errno "$o: unlink refused" EPERM unlink "$D/$o"
	check_errno "$o: truncate refused" EPERM truncate "$D/$o" 0
done
check_eq "open1 content" payload1 "$(h read "$D/open1")"

check_errno "unlink of a mutable object on a full disk" OK unlink "$B/victim1"
check_errno "removexattr on a full disk" OK removexattr "$B/obj1" user.note
check_errno "chmod by root on a full disk" OK chmod "$B/obj4" 0600
if alive; then ok "daemon alive on the full disk"; else fail "daemon alive on the full disk"; fi

# Repeated fill/free cycles: each time space comes back adds work again,
# and each time the disk is full again deletes and lock changes still work.
for cyc in 1 2 3; do
	rm -f "$B/fill" "$B/fill2"
	check_errno "cycle $cyc: create after free" OK write "$B/cyc$cyc" x
	dd if=/dev/zero of="$B/fill" bs=1M >/dev/null 2>&1
	dd if=/dev/zero of="$B/fill2" bs=4k >/dev/null 2>&1
	for i in $(seq 1 5000); do
		[ "$(h write "$B/c${cyc}_$i" x)" = OK ] || break
	done
	as_user perl -e 'my ($f,$n)=@ARGV; for (1..$n) { chmod(0644, $f); utime($_,$_,$f) }' "$B/user1" 1000
	check_errno "cycle $cyc: legal hold on the full disk" OK setxattr "$B/obj5" user.worm.legal-hold ON
	check_errno "cycle $cyc: legal hold off" OK setxattr "$B/obj5" user.worm.legal-hold OFF
	check_errno "cycle $cyc: unlink on the full disk" OK unlink "$B/c${cyc}_1"
done
if alive; then ok "daemon alive after the cycles"; else fail "daemon alive after the cycles"; fi
rm -f "$B/fill" "$B/fill2"
umount_check "$MNT" "full disk locks"
# Offline key rotation (writes a new key ring: ENOSPC, cleanly) and rewrap
# (node updates only: from the reserve) on a full disk.
check "key rotate with room" "$WORMCTL" key rotate "$STORE"
dd if=/dev/zero of="$FS/pad" bs=4k >/dev/null 2>&1
out=$("$WORMCTL" key rotate "$STORE" 2>&1)
check_match "key rotate on a full disk: ENOSPC" "^1 .*No space left on device" "$? $out"
out=$("$WORMCTL" key rewrap "$STORE" 2>&1)
check_match "key rewrap on a full disk" "^0 re-wrapped [1-9][0-9]* data keys under master key version 2" "$? $out"
mount_fg "$STORE" "$MNT" || { fail "remount"; done_testing; }
check_eq "open1 locked after remount" locked "$(worm_state "$D/open1")"
check_eq "obj2 locked after remount" locked "$(worm_state "$B/obj2")"
check_eq "obj1 reads back after the rewrap" data1 "$(h read "$B/obj1")"
umount_check "$MNT" "remount"
done_testing
