#!/usr/bin/env bash
# Everything survives an unmount and remount exactly: inode numbers, modes,
# owners, sizes, timestamps, symlink targets, contents, user.* xattrs,
# renames and deletions.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

# ---- build a tree (in a set -e subshell: the first failing step fails it)
(
set -e
mkdir "$M/bk1" "$M/bk2"
mkdir -p "$M/bk1/dir/sub/deep" "$M/bk1/sg" "$M/bk1/many"
echo small >"$M/bk1/small"
: >"$M/bk1/empty"
head -c 16384 /dev/urandom >"$M/bk1/dir/16k"
head -c 16385 /dev/urandom >"$M/bk1/dir/16k1"
head -c 300000 /dev/urandom >"$M/bk1/dir/sub/300k"
head -c 2097152 /dev/urandom >"$M/bk1/dir/sub/deep/2m"
truncate -s 5000000 "$M/bk1/sparse"
printf 'in the middle' | dd of="$M/bk1/sparse" bs=1 seek=1048576 conv=notrunc status=none
for i in $(seq 1 100); do echo "file $i" >"$M/bk1/many/n$i"; done
ln -s dir/sub/300k "$M/bk1/link"
ln -s /nowhere/at/all "$M/bk1/dangling"
chown -h 1234:5678 "$M/bk1/dangling"
chown 1234:5678 "$M/bk1/dir/16k"
chmod 0600 "$M/bk1/dir/16k"
chmod 4755 "$M/bk1/small"
chmod 2775 "$M/bk1/sg"
chmod 0444 "$M/bk1/empty"
echo gone >"$M/bk1/deleted"
rm "$M/bk1/deleted"
echo moved >"$M/bk1/before-rename"
mv "$M/bk1/before-rename" "$M/bk1/dir/after-rename"
setfattr -n user.a -v 1 "$M/bk1/small"
setfattr -n user.spaces -v "with spaces" "$M/bk1/small"
setfattr -n user.bin -v 0x0001ff "$M/bk1/dir/16k1"
setfattr -n user.dir -v yes "$M/bk1/dir"
setfattr -n user.bucket -v yes "$M/bk2"
chmod 1777 "$M/bk2"
) 2>&1 | sed 's/^/# /'
check_eq "tree built (part 1)" 0 "${PIPESTATUS[0]}"
check_errno_as_user "unprivileged user writes a file" OK write "$M/bk2/userfile" "by user"
check_errno_as_user "unprivileged user makes a dir" OK mkdir "$M/bk2/userdir"
(
set -e
touch -d "2001-02-03 04:05:06.123456789 UTC" "$M/bk1/small"
touch -d "1999-12-31 23:59:59 UTC" "$M/bk1/sparse"
touch -a -d "2010-01-01 00:00:00 UTC" "$M/bk1/sparse"
touch -h -d "2005-05-05 05:05:05 UTC" "$M/bk1/link"
touch -d "2020-02-02 02:02:02 UTC" "$M/bk1/dir/sub"
touch -d "2021-03-04 05:06:07 UTC" "$M/bk1/dir"
) 2>&1 | sed 's/^/# /'
check_eq "tree built (part 2: timestamps)" 0 "${PIPESTATUS[0]}"

# snapshot DIR: one file per aspect, so a difference names what differs.
snapshot() {
	local out=$1
	mkdir -p "$out"
	(
		cd "$M" || exit 1
		find . -path ./.wormfs -prune -o -print0 | sort -z >"$out/list0"
		xargs -0 stat -c '%n %i' <"$out/list0" >"$out/inodes"
		xargs -0 stat -c '%n %F %a %u %g %h' <"$out/list0" >"$out/modes"
		xargs -0 stat -c '%n %s' <"$out/list0" >"$out/sizes"
		xargs -0 stat -c '%n %.9Y' <"$out/list0" >"$out/mtimes"
		xargs -0 stat -c '%n %.9Z' <"$out/list0" >"$out/ctimes"
		find . -path ./.wormfs -prune -o -type l -print0 | sort -z | xargs -0 -r stat -c '%N' >"$out/symlinks"
		find . -path ./.wormfs -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum >"$out/contents" 2>&1
		xargs -0 getfattr -h -d <"$out/list0" >"$out/xattrs" 2>&1
		# atime is not compared: reading the tree for the hashes may move it.
	)
}

compare() {
	local a=$1 b=$2 what=$3 f
	for f in inodes modes sizes mtimes ctimes symlinks contents xattrs; do
		if cmp -s "$a/$f" "$b/$f"; then
			ok "$what: $f identical"
		else
			fail "$what: $f identical" "$(diff "$a/$f" "$b/$f" | head -n 20)"
		fi
	done
}

snapshot "$T_BASE/snapA"
check_match "snapshot sees the tree" '^1[2-9][0-9]$' "$(wc -l <"$T_BASE/snapA/inodes")"
check_eq "sparse file middle before remount" "in the middle" "$(h pread "$M/bk1/sparse" 1048576 13)"
check_eq "nanosecond mtime before remount" "981173106.123456789" "$(stat -c %.9Y "$M/bk1/small")"
umount_check "$M" "first mount"

# ---- remount (daemonizing this time) and compare
mount_bg "$S" "$M" -o allow_other || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "remounted"
snapshot "$T_BASE/snapB"
compare "$T_BASE/snapA" "$T_BASE/snapB" "after remount"
check_eq "root inode is 1" 1 "$(stat -c %i "$M")"
check_eq "sparse file middle after remount" "in the middle" "$(h pread "$M/bk1/sparse" 1048576 13)"
check_eq "sparse hole after remount" 0 "$(h pread "$M/bk1/sparse" 0 1048576 | tr -d '\0' | wc -c)"
check_errno "deleted file still deleted" ENOENT access "$M/bk1/deleted" f
check_errno "renamed file's old name absent" ENOENT access "$M/bk1/before-rename" f
check_eq "atime set by touch -a persisted" 1262304000 "$(stat -c %X "$M/bk1/sparse")"

# ---- change things on the remounted tree, remount again
(
set -e
echo "appended" >>"$M/bk1/small"
dd if=/dev/urandom of="$M/bk1/dir/sub/deep/2m" bs=4096 seek=100 count=3 conv=notrunc status=none
truncate -s 100 "$M/bk1/dir/sub/300k"
rm "$M/bk1/many/n7"
mv "$M/bk1/many/n8" "$M/bk1/many/n8-renamed"
mkdir "$M/bk1/newdir"
echo new >"$M/bk1/newdir/new"
setfattr -x user.a "$M/bk1/small"
setfattr -n user.new -v value "$M/bk1/newdir/new"
chmod 0640 "$M/bk1/many/n9"
chown 42:43 "$M/bk1/many/n10"
) 2>&1 | sed 's/^/# /'
check_eq "changes after remount applied" 0 "${PIPESTATUS[0]}"
snapshot "$T_BASE/snapC"
umount_check "$M" "second mount"
mount_fg "$S" "$M" || { fail "third mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted a third time"
snapshot "$T_BASE/snapD"
compare "$T_BASE/snapC" "$T_BASE/snapD" "after changes and remount"
check_eq "inode numbers of untouched entries unchanged over three mounts" "" \
	"$(join <(sort "$T_BASE/snapA/inodes") <(sort "$T_BASE/snapD/inodes") | awk '$2 != $3')"
umount_check "$M" "third mount"
done_testing
