#!/usr/bin/env bash
# A big directory: N files (20,000; 100,000 with WORMFS_LONG=1) created by
# the harness, each listed exactly once, also after a remount. Creation
# rates go to the log as diagnostics (no timing assertions).
. "$(dirname "$0")/lib.sh"
require_binaries

N=${WORMFS_BIGDIR_N:-20000}
[ "$WORMFS_LONG" = 1 ] && N=${WORMFS_BIGDIR_N:-100000}

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
D=$M/big/dir
mkdir -p "$D" || { fail "mkdir"; done_testing; }

out=$("$HARNESS" mkfiles "$D" "$N")
grep '^#' <<<"$out"
check_eq "$N files created" OK "$(tail -n1 <<<"$out")"
check_eq "ls -f lists N + 2 entries" "$((N + 2))" "$(ls -f "$D" | wc -l)"
check_eq "ls | sort | uniq -d is empty" "" "$(ls "$D" | sort | uniq -d | head)"
check_eq "readdir counts N" "$N" "$(h readdir "$D")"
check_eq "names are exactly the created ones" \
	"$(seq -f 'f%07g' 0 $((N - 1)) | sha256sum)" "$(ls "$D" | sha256sum)"
check_eq "last file stats" "regular empty file" "$(stat -c %F "$D/$(printf 'f%07d' $((N - 1)))" 2>&1)"

umount_check "$M" "bigdir"
mount_fg "$S" "$M" || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "after remount: readdir counts N" "$N" "$(h readdir "$D")"
check_eq "after remount: no duplicates" 0 "$(h readdir-dups "$D")"
t0=$(date +%s.%N)
check "delete all N files" find "$D" -mindepth 1 -delete
diag "deleted $N files in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
check_eq "directory empty after deletion" 0 "$(h readdir "$D")"
check_errno "rmdir the emptied directory" OK rmdir "$D"
umount_check "$M" "bigdir remount"
done_testing
