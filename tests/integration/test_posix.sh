#!/usr/bin/env bash
# POSIX behaviour inside a bucket: files, directories, symlinks, I/O at
# offsets, truncation, attributes, ownership and permissions, rename
# variants, user.* xattrs, statfs, fsync, large files and directories.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
# allow_other: the permission tests run as another uid.
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

B=$M/bucket
check_errno "mkdir bucket" OK mkdir "$B"
check_eq "bucket is a directory" directory "$(stat -c %F "$B" 2>&1)"

# ---- files, directories, symlinks
check_errno "create file" OK write "$B/f" "hello world"
check_eq "read back" "hello world" "$(cat "$B/f" 2>&1)"
check_eq "size" 11 "$(stat -c %s "$B/f" 2>&1)"
check_eq "regular file type" "regular file" "$(stat -c %F "$B/f" 2>&1)"
check_errno "mkdir -p style nested dirs" OK mkdir "$B/d1"
check_errno "nested mkdir" OK mkdir "$B/d1/d2"
check_errno "file in nested dir" OK write "$B/d1/d2/g" "nested"
check_eq "nested file content" nested "$(cat "$B/d1/d2/g" 2>&1)"
check_errno "mkdir existing: EEXIST" EEXIST mkdir "$B/d1"
check_errno "create with O_EXCL on existing: EEXIST" EEXIST open "$B/f" WRONLY,CREAT,EXCL
check_errno "open missing file: ENOENT" ENOENT open "$B/nope" RDONLY
check_errno "rmdir non-empty dir: ENOTEMPTY" ENOTEMPTY rmdir "$B/d1"
check_errno "rmdir on a file: ENOTDIR" ENOTDIR rmdir "$B/f"
check_errno "unlink on a dir: EISDIR" "EISDIR|EPERM" unlink "$B/d1"
check_eq "nlink of a dir with one subdir" 3 "$(stat -c %h "$B/d1" 2>&1)"
check_eq "ls of nested dir" "d2" "$(ls "$B/d1" 2>&1)"
check_errno "symlink" OK symlink "d1/d2/g" "$B/ln"
check_eq "readlink" "d1/d2/g" "$(readlink "$B/ln" 2>&1)"
check_eq "symlink type" "symbolic link" "$(stat -c %F "$B/ln" 2>&1)"
check_eq "read through symlink" nested "$(cat "$B/ln" 2>&1)"
check_errno "dangling symlink" OK symlink "no/such/target" "$B/dangling"
check_eq "symlink size is target length" 14 "$(stat -c %s "$B/dangling" 2>&1)"
check_errno "symlink to a dir" OK symlink d1 "$B/dirlink"
check_eq "list through dir symlink" d2 "$(ls "$B/dirlink/" 2>&1)"
check_errno "unlink symlink" OK unlink "$B/dangling"
check_errno "unlinked symlink gone" ENOENT access "$B/dangling" f
check_errno "unlink file" OK unlink "$B/d1/d2/g"
check_errno "unlinked file gone" ENOENT open "$B/d1/d2/g" RDONLY
check_errno "rmdir empty dir" OK rmdir "$B/d1/d2"
check_eq "bucket listing" "d1 dirlink f ln" "$(ls "$B" 2>&1 | tr '\n' ' ' | sed 's/ $//')"

# ---- I/O at offsets
check_errno "write abcdefgh" OK write "$B/io" abcdefgh
check_errno "pwrite at 3" OK pwrite "$B/io" 3 XYZ
check_eq "pwrite result" abcXYZgh "$(cat "$B/io")"
check_eq "pread 4 at 2" cXYZ "$(h pread "$B/io" 2 4)"
check_eq "pread past EOF returns nothing" "" "$(h pread "$B/io" 100 4)"
check_errno "pwrite past EOF leaves a hole" OK pwrite "$B/io" 100000 END
check_eq "size after write past EOF" 100003 "$(stat -c %s "$B/io")"
check_eq "hole reads as zeros" "99992 0" "$(h pread "$B/io" 8 99992 | wc -c) $(h pread "$B/io" 8 99992 | tr -d '\0' | wc -c)"
check_eq "bytes after the hole" END "$(h pread "$B/io" 100000 3)"
check_errno "O_APPEND write" OK write "$B/ap" abc
check_errno "append" OK append "$B/ap" 123
check_errno "append again" OK append "$B/ap" 456
check_eq "O_APPEND appends" abc123456 "$(cat "$B/ap")"
check_errno "O_TRUNC" OK open "$B/ap" WRONLY,TRUNC
check_eq "O_TRUNC empties" 0 "$(stat -c %s "$B/ap")"
check_errno "write after O_TRUNC" OK write "$B/tr" 0123456789
check_errno "truncate up to 20" OK truncate "$B/tr" 20
check_eq "size after truncate up" 20 "$(stat -c %s "$B/tr")"
check_eq "truncate up pads with zeros" "0123456789$(printf '%010d' 0 | tr 0 .)" "$(h read "$B/tr" | tr '\0' .)"
check_errno "truncate down to 4" OK truncate "$B/tr" 4
check_eq "truncate down keeps the prefix" 0123 "$(cat "$B/tr")"
check_errno "ftruncate to 2" OK ftruncate "$B/tr" 2
check_eq "ftruncate result" 01 "$(cat "$B/tr")"
check_errno "truncate up then read across old EOF" OK truncate "$B/tr" 70000
check_eq "zeros after old EOF" "01" "$(h read "$B/tr" | tr -d '\0')"
start=$(date +%s)
check_errno "huge truncate (2^62): EFBIG" EFBIG truncate "$B/tr" 4611686018427387904
check_errno "huge truncate (2^63-1): EFBIG" "EFBIG|EINVAL" truncate "$B/tr" 9223372036854775807
check_match "huge truncate answers quickly (< 10 s)" '^[0-9]$' "$(($(date +%s) - start))"
check_eq "size unchanged by refused truncate" 70000 "$(stat -c %s "$B/tr")"
check_errno "fsync file" OK fsync "$B/tr"
check_errno "fdatasync file" OK fdatasync "$B/tr"
check_errno "fsync directory" OK fsync "$B"

# Large files across block boundaries.
head -c 1048576 /dev/urandom >"$T_BASE/rand1m"
check "1 MiB random file copied in" cp "$T_BASE/rand1m" "$B/rand1m"
check "1 MiB round trip identical" cmp "$T_BASE/rand1m" "$B/rand1m"
head -c 3000017 /dev/urandom >"$T_BASE/rand3m"
check "3 MB odd-size file copied in" cp "$T_BASE/rand3m" "$B/rand3m"
check "3 MB round trip identical" cmp "$T_BASE/rand3m" "$B/rand3m"
check_eq "random access read in the middle" "$(tail -c +1500001 "$T_BASE/rand3m" | head -c 70000 | sha256sum)" \
	"$(h pread "$B/rand3m" 1500000 70000 | sha256sum)"
# Overwrite in the middle of a big file (dd notrunc), compare with a local copy.
head -c 10000 /dev/urandom >"$T_BASE/patch"
dd if="$T_BASE/patch" of="$B/rand3m" bs=10000 oflag=seek_bytes seek=65530 conv=notrunc status=none
dd if="$T_BASE/patch" of="$T_BASE/rand3m" bs=10000 oflag=seek_bytes seek=65530 conv=notrunc status=none
check "overwrite across a block boundary" cmp "$T_BASE/rand3m" "$B/rand3m"

# ---- attributes
check_errno "chmod 0640" OK chmod "$B/f" 0640
check_eq "mode after chmod" 640 "$(stat -c %a "$B/f")"
check_errno "chmod dir 0750" OK chmod "$B/d1" 0750
check_eq "dir mode after chmod" 750 "$(stat -c %a "$B/d1")"
check_errno "chown 1234:5678" OK chown "$B/f" 1234 5678
check_eq "owner after chown" "1234 5678" "$(stat -c '%u %g' "$B/f")"
check_errno "lchown of a symlink" OK lchown "$B/ln" 4321 8765
check_eq "symlink owner after lchown" "4321 8765" "$(stat -c '%u %g' "$B/ln")"
check_eq "lchown did not touch the target" "0 0" "$(stat -c '%u %g' "$B/d1")"
check "touch -d" touch -d "2001-02-03 04:05:06 UTC" "$B/f"
check_eq "mtime after touch -d" 981173106 "$(stat -c %Y "$B/f")"
check_eq "atime after touch -d" 981173106 "$(stat -c %X "$B/f")"
check "touch -m -d (mtime only)" touch -m -d "@1000000000" "$B/f"
check_eq "mtime only changed" "981173106 1000000000" "$(stat -c '%X %Y' "$B/f")"
check_errno "utimens on a dir" OK utimens "$B/d1" 1234567890
check_eq "dir mtime" 1234567890 "$(stat -c %Y "$B/d1")"
c0=$(stat -c %Z "$B/io")
m0=$(stat -c %Y "$B/io")
sleep 1.1
check_errno "write updates mtime" OK pwrite "$B/io" 0 Q
check_match "mtime advanced after write" "^1$" "$(($(stat -c %Y "$B/io") > m0))"
check_match "ctime advanced after write" "^1$" "$(($(stat -c %Z "$B/io") > c0))"

# ---- ownership and permissions of another user (needs allow_other)
check_errno "make bucket world-writable, sticky" OK chmod "$B" 1777
check_errno_as_user "user creates a file" OK write "$B/ufile" mine
check_eq "new file owned by caller" "$TEST_UID $TEST_UID" "$(stat -c '%u %g' "$B/ufile")"
check_errno_as_user "user mkdir" OK mkdir "$B/udir"
check_eq "new dir owned by caller" "$TEST_UID $TEST_UID" "$(stat -c '%u %g' "$B/udir")"
check_errno_as_user "user symlink" OK symlink ufile "$B/ulink"
check_eq "new symlink owned by caller" "$TEST_UID $TEST_UID" "$(stat -c '%u %g' "$B/ulink")"
check_errno_as_user "user chmod own file" OK chmod "$B/ufile" 0600
check_errno "root file 0600" OK write "$B/rootfile" secret
check_errno "chmod root file 0600" OK chmod "$B/rootfile" 0600
check_errno_as_user "user cannot chmod root's file: EPERM" EPERM chmod "$B/rootfile" 0666
check_errno_as_user "user cannot chown root's file: EPERM" EPERM chown "$B/rootfile" "$TEST_UID" "$TEST_UID"
check_errno_as_user "user cannot read a 0600 root file: EACCES" EACCES read "$B/rootfile"
check_errno_as_user "user cannot write a 0600 root file: EACCES" EACCES open "$B/rootfile" WRONLY
check_errno_as_user "sticky bucket: user cannot delete root's file" "EPERM|EACCES" unlink "$B/rootfile"
check_errno_as_user "user cannot touch -d root's file: EPERM" EPERM utimens "$B/rootfile" 1000
check_errno "0700 dir of root" OK mkdir "$B/rootdir" 0700
check_errno_as_user "user cannot list a 0700 root dir: EACCES" EACCES readdir "$B/rootdir"
check_errno_as_user "user cannot create in a 0700 root dir: EACCES" EACCES create "$B/rootdir/x"
check_errno "root reads the user's 0600 file" OK open "$B/ufile" RDONLY
check_errno_as_user "user deletes own file" OK unlink "$B/ulink"

# ---- rename
check_errno "rename file" OK rename "$B/f" "$B/f2"
check_errno "old name gone" ENOENT access "$B/f" f
check_eq "renamed keeps content" "hello world" "$(cat "$B/f2")"
check_errno "rename dir" OK rename "$B/d1" "$B/d1r"
check_errno "rename into subdir" OK rename "$B/f2" "$B/d1r/f2"
check_errno "write a" OK write "$B/ra" AAA
check_errno "write b" OK write "$B/rb" BBB
check_errno "rename over an existing file replaces it" OK rename "$B/ra" "$B/rb"
check_eq "replaced content" AAA "$(cat "$B/rb")"
check_errno "write a again" OK write "$B/ra" aaa
check_errno "RENAME_NOREPLACE onto existing: EEXIST" EEXIST rename-noreplace "$B/ra" "$B/rb"
check_eq "RENAME_NOREPLACE refusal changed nothing" "aaa AAA" "$(cat "$B/ra") $(cat "$B/rb")"
check_errno "RENAME_NOREPLACE to a free name" OK rename-noreplace "$B/ra" "$B/rc"
check_errno "RENAME_EXCHANGE" OK rename-exchange "$B/rb" "$B/rc"
check_eq "RENAME_EXCHANGE swapped contents" "aaa AAA" "$(cat "$B/rb") $(cat "$B/rc")"
check_errno "RENAME_EXCHANGE with a missing target: ENOENT" ENOENT rename-exchange "$B/rb" "$B/missing"
check_errno "rename dir over non-empty dir: ENOTEMPTY" "ENOTEMPTY|EEXIST" rename "$B/udir" "$B/d1r"
check_errno "rename dir into its own subdir: EINVAL" EINVAL rename "$B/d1r" "$B/d1r/sub"

# ---- user.* xattrs
check_errno "setxattr user.color" OK setxattr "$B/rb" user.color blue
check_eq "getxattr" blue "$(h getxattr "$B/rb" user.color)"
check_match "listxattr shows it" '^user\.color$' "$(h listxattr "$B/rb")"
check_errno "XATTR_CREATE on existing: EEXIST" EEXIST setxattr "$B/rb" user.color red create
check_errno "XATTR_REPLACE on missing: ENODATA" ENODATA setxattr "$B/rb" user.shape round replace
check_errno "XATTR_REPLACE on existing" OK setxattr "$B/rb" user.color red replace
check_eq "replaced value" red "$(h getxattr "$B/rb" user.color)"
check "setfattr works" setfattr -n user.note -v "some text" "$B/rb"
check_eq "getfattr works" "some text" "$(getfattr --absolute-names --only-values -n user.note "$B/rb" 2>&1)"
check_eq "two names listed" "user.color user.note" "$(h listxattr "$B/rb" | grep '^user\.' | grep -v '^user\.worm\.' | sort | tr '\n' ' ' | sed 's/ $//')"
check_errno "removexattr" OK removexattr "$B/rb" user.color
check_errno "getxattr after remove: ENODATA" ENODATA getxattr "$B/rb" user.color
check_errno "removexattr missing: ENODATA" ENODATA removexattr "$B/rb" user.color
check_errno "xattr on a directory" OK setxattr "$B/d1r" user.dirattr x
check_eq "dir xattr value" x "$(h getxattr "$B/d1r" user.dirattr)"
check_errno "getxattr of a never-set name: ENODATA" ENODATA getxattr "$B/rc" user.nothing

# ---- statfs, df
out=$(h statfs "$M")
check_match "statfs works" '^OK ' "$out"
check_match "statfs reports blocks" ' blocks=[1-9]' "$out"
check_match "statfs namemax >= 255" ' namemax=(2[5-9][0-9]|[3-9][0-9][0-9]|[0-9]{4,})' "$out"
check "df works" df -P "$M"

# ---- many files in one directory
mkdir "$B/many"
out=$(h mkfiles "$B/many" 5000)
check_eq "5,000 files created" OK "$(tail -n1 <<<"$out")"
check_eq "ls lists 5,000" 5000 "$(ls "$B/many" | wc -l)"
check_eq "no name listed twice" "" "$(ls "$B/many" | sort | uniq -d | head)"
check_eq "readdir counts 5,000" 5000 "$(h readdir "$B/many")"
check_eq "stat of one of them" "regular empty file" "$(stat -c %F "$B/many/f0004321")"
check "delete them all" find "$B/many" -mindepth 1 -delete
check_errno "directory empty afterwards" OK rmdir "$B/many"

umount_check "$M" "posix"
done_testing
