#!/usr/bin/env bash
# The S3 endpoint with rclone (Debian's): an s3 remote (provider Other,
# path style) made here; `rclone sync` a tree up (nested directories,
# empty files, names with spaces and unicode, a 20 MiB file), then down
# into another directory; both compared with diff -r, and with the mount's
# view of the bucket. Then files are changed, added and deleted, and the
# tree synced up and down again.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
SRC=$T_BASE/src DOWN=$T_BASE/down
if ! command -v rclone >/dev/null; then
	fail "rclone is installed (run_all.sh installs it)"
	done_testing
fi
s3_store "$S"

# The tree: nested directories, empty files, spaces, unicode, 20 MiB
mkdir -p "$SRC/a/b/c" "$SRC/with space/sub dir" "$SRC/ünïcødé/日本語" "$SRC/keep"
echo top >"$SRC/top.txt"
: >"$SRC/empty"
: >"$SRC/a/b/c/empty too"
echo deep >"$SRC/a/b/c/deep.txt"
echo spaced >"$SRC/with space/sub dir/file with spaces.txt"
echo "plus+and&amp=eq" >"$SRC/with space/odd+name&x=y.txt"
echo unicode >"$SRC/ünïcødé/日本語/ファイル.txt"
echo emoji >"$SRC/ünïcødé/😀 smile"
head -c $((20 << 20)) /dev/urandom >"$SRC/a/big.bin"
for i in $(seq 1 30); do echo "file $i" >"$SRC/keep/f$i"; done

# rclone 1.60 cannot use AWS_CA_BUNDLE with its own transport (and the
# endpoint is plain HTTP here); nor anything else from the caller's AWS_*
unset AWS_CA_BUNDLE AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
RC=(rclone --config "$T_BASE/rclone.conf" --retries 1 --low-level-retries 1)
# rclone sync SRC DST: 0 or the log's tail
rsync_() {
	"${RC[@]}" sync "$1" "$2" >"$T_BASE/rclone.log" 2>&1 || { tail -n 20 "$T_BASE/rclone.log"; return 1; }
}

if s3_mount "$S" "$M"; then
	check "server port in the log" test -n "$PORT"
	cat >"$T_BASE/rclone.conf" <<CONF
[ws]
type = s3
provider = Other
access_key_id = $KEY
secret_access_key = $SECRET
endpoint = http://127.0.0.1:$PORT
region = us-east-1
force_path_style = true
CONF
	out=$("${RC[@]}" mkdir ws:rc-bucket 2>&1)
	check_eq "rclone mkdir makes the bucket" 0 "$?"
	[ -n "$out" ] && diag "$out"
	check "... a directory in the mount" test -d "$M/rc-bucket"

	out=$(rsync_ "$SRC" ws:rc-bucket)
	check_eq "rclone sync up" 0 "$?"
	[ -n "$out" ] && diag "$out"
	out=$(diff -r "$SRC" "$M/rc-bucket" 2>&1)
	check_eq "the mount's view of the bucket is the tree (diff -r)" "" "$out"
	out=$("${RC[@]}" check "$SRC" ws:rc-bucket 2>&1); rc=$?
	check_eq "rclone check: sizes and MD5s agree" 0 "$rc"
	[ $rc -ne 0 ] && diag "$(echo "$out" | tail -n 10)"
	out=$(rsync_ ws:rc-bucket "$DOWN")
	check_eq "rclone sync down" 0 "$?"
	[ -n "$out" ] && diag "$out"
	out=$(diff -r "$SRC" "$DOWN" 2>&1)
	check_eq "down = up (diff -r)" "" "$out"
	n=$("${RC[@]}" lsf -R --files-only ws:rc-bucket | wc -l)
	check_eq "rclone lsf -R lists every file" "$(find "$SRC" -type f | wc -l)" "$n"

	# change, add, delete; sync again
	echo changed >>"$SRC/top.txt"
	head -c 1000 /dev/urandom >"$SRC/a/b/c/deep.txt"
	rm "$SRC/empty" "$SRC/ünïcødé/😀 smile" "$SRC/keep/f7"
	echo new >"$SRC/with space/new file.txt"
	mkdir -p "$SRC/new/dir"; echo n >"$SRC/new/dir/n.txt"
	out=$(rsync_ "$SRC" ws:rc-bucket)
	check_eq "rclone sync up after changes" 0 "$?"
	[ -n "$out" ] && diag "$out"
	out=$(diff -r "$SRC" "$M/rc-bucket" 2>&1)
	check_eq "the mount shows the changes (diff -r)" "" "$out"
	check_not "a deleted file is gone from the mount" test -e "$M/rc-bucket/keep/f7"
	out=$(rsync_ ws:rc-bucket "$DOWN")
	check_eq "rclone sync down after changes" 0 "$?"
	[ -n "$out" ] && diag "$out"
	out=$(diff -r "$SRC" "$DOWN" 2>&1)
	check_eq "down = up after changes (diff -r)" "" "$out"

	# a lock set through the mount: rclone cannot delete the object
	setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$M/rc-bucket/top.txt"
	out=$("${RC[@]}" deletefile ws:rc-bucket/top.txt 2>&1)
	check_not "rclone deletefile of a locked object fails" test $? -eq 0
	check_match "... AccessDenied" "AccessDenied|403" "$out"
	check "... and it is intact" cmp -s "$SRC/top.txt" "$M/rc-bucket/top.txt"

	s3_unmount "$M"
else
	fail "mount with -o s3.listen"
fi
verify_clean "$S" "verify clean after the rclone session"
done_testing
