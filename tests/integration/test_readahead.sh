#!/usr/bin/env bash
# Cold sequential reads come as 1 MiB READs: the daemon raises its mount's
# read_ahead_kb to 1024 (the kernel takes INIT's max_readahead only up to
# the default 128 KiB, which gave 256 KiB READs, 4 per MiB). Counts, not
# times. And what is read is what was written, sealed or not.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
mkdir "$M/bucket"
head -c $((16 << 20)) /dev/urandom > "$T_BASE/src"
check "write 16 MiB" cp "$T_BASE/src" "$M/bucket/big"
check "seal a copy" sh -c "cp '$T_BASE/src' '$M/bucket/sealed' &&
	setfattr -n user.worm.retention -v 'GOVERNANCE +1d' '$M/bucket/sealed'"
umount_fs "$M"
mount_fg "$S" "$M" || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }

bdi=/sys/class/bdi/$(stat -c '%Hd:%Ld' "$M")/read_ahead_kb
# The raise runs on a thread of its own right after the mount: give it a moment.
for _ in $(seq 50); do [ "$(cat "$bdi" 2>/dev/null)" = 1024 ] && break; sleep 0.1; done
check_eq "the mount's read_ahead_kb" 1024 "$(cat "$bdi" 2>&1)"

reads() { sed -n 's/^wormfs_fuse_requests_total{op="READ"} //p' "$M/.wormfs/stats"; }
for f in big sealed; do
	r0=$(reads)
	check "cold read of $f is what was written" cmp "$T_BASE/src" "$M/bucket/$f"
	r1=$(reads)
	n=$((r1 - r0))
	# 16 at 1 MiB, a few more while the window grows; 64 at 256 KiB.
	if [ "$n" -ge 16 ] && [ "$n" -le 24 ]; then
		ok "cold read of 16 MiB ($f) in $n READs"
	else
		fail "cold read of 16 MiB ($f) in $n READs (want 16-24: 1 MiB requests)"
	fi
done
umount_fs "$M"
done_testing
