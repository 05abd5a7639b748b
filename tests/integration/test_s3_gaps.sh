#!/usr/bin/env bash
# The S3 gaps the last security review left open (README "S3 endpoint",
# Decisions), through the mount and over S3 on one daemon:
#  1. user.s3.acl (a bucket's public-read) only by the owner or root: a
#     local user who may write a world-writable bucket (or an object in it)
#     gets EPERM, so it never becomes readable anonymously; user.s3.meta
#     stays under the mode bits.
#  2. .s3-multipart directly in a bucket is reserved: mkdir, create,
#     symlink, rename onto it, link: EPERM (root too); deeper: a name.
#  3. tests/s3/test_gaps.py (boto3): ListMultipartUploads shows a caller
#     only its own uploads (the bucket owner and root: all); multipart
#     works after the refused mkdir; a directory named .s3-upload-* is
#     listed; DeleteBucket with only uploads in progress removes them.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-boto3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 3
OLGA=$((TEST_UID + 2))
s3_user_add KEY4 SECRET4 "$S" olga --uid "$OLGA" --gid "$OLGA"
# Every test below needs all four users: a failed add ends it here.
[ "$T_FAILED" -eq 0 ] || done_testing

anon() { curl -s -o /dev/null -w '%{http_code}' "$END/$1"; }

if s3_mount "$S" "$M" allow_other; then
	check "server port in the log" test -n "$PORT"

	# ---- 1. user.s3.acl through the mount
	B=$M/gaps-acl
	check_errno "root: mkdir a bucket" OK mkdir "$B" 0777
	chmod 0777 "$B"
	check_errno "root: an object of mode 0666 in it" OK write "$B/obj" "root's"
	chmod 0666 "$B/obj"
	check_eq "anonymous list of a private bucket: 403" 403 "$(anon gaps-acl)"
	check_errno_as_user "another user sets user.s3.acl on a 0777 bucket: EPERM" EPERM \
		setxattr "$B" user.s3.acl public-read
	check_eq "... the bucket stays private to anonymous requests" 403 "$(anon gaps-acl)"
	check_errno "... nothing stored" ENODATA getxattr "$B" user.s3.acl
	check_match "... refusal logged (rule=s3-acl-owner)" \
		"refused op=setxattr path=/gaps-acl attr=\"?user.s3.acl\"? uid=$TEST_UID errno=EPERM rule=s3-acl-owner" \
		"$(cat "${MNT_LOG[$M]}")"
	check_errno_as_user "... nor on root's 0666 object in it: EPERM" EPERM \
		setxattr "$B/obj" user.s3.acl public-read
	check_errno_as_user "... user.s3.meta on it follows the mode bits (write: allowed)" OK \
		setxattr "$B/obj" user.s3.meta x
	check_errno_as_user "... user.s3.acl on his own object in it: allowed" OK \
		write "$B/mine" "his"
	check_errno_as_user "...   (set)" OK setxattr "$B/mine" user.s3.acl public-read
	check_errno "root (owner) sets public-read" OK setxattr "$B" user.s3.acl public-read
	check_eq "... now anonymous list: 200" 200 "$(anon gaps-acl)"
	check_errno_as_user "another user removes it: EPERM" EPERM removexattr "$B" user.s3.acl
	check_errno_as_user "another user sets private over it: EPERM" EPERM \
		setxattr "$B" user.s3.acl private
	check_eq "... still public-read" public-read "$(h getxattr "$B" user.s3.acl)"
	check_errno "root removes it" OK removexattr "$B" user.s3.acl
	check_eq "... private again: 403" 403 "$(anon gaps-acl)"
	check_errno "a sticky 1777 bucket" OK mkdir "$M/gaps-sticky" 0777
	chmod 1777 "$M/gaps-sticky"
	check_errno_as_user "another user sets user.s3.acl on a 1777 bucket: EPERM" EPERM \
		setxattr "$M/gaps-sticky" user.s3.acl public-read

	# ---- 2. the reserved multipart name
	R=$B/.s3-multipart
	check_errno "root: mkdir BUCKET/.s3-multipart: EPERM" EPERM mkdir "$R"
	check_errno_as_user "user: mkdir BUCKET/.s3-multipart: EPERM" EPERM mkdir "$R"
	check_errno "create BUCKET/.s3-multipart: EPERM" EPERM create "$R"
	check_errno "symlink BUCKET/.s3-multipart: EPERM" EPERM symlink x "$R"
	check_errno "link onto BUCKET/.s3-multipart: EPERM" EPERM link "$B/obj" "$R"
	check_errno "mkdir BUCKET/d" OK mkdir "$B/d"
	check_errno "rename a directory onto BUCKET/.s3-multipart: EPERM" EPERM rename "$B/d" "$R"
	check_errno "rename a file onto BUCKET/.s3-multipart: EPERM" EPERM rename "$B/mine" "$R"
	check_errno "rename-noreplace onto it: EPERM" EPERM rename-noreplace "$B/d" "$R"
	check_errno "BUCKET/d/.s3-multipart (not at the top): allowed" OK mkdir "$B/d/.s3-multipart"
	check_errno "... renamed to the top: EPERM" EPERM rename "$B/d/.s3-multipart" "$R"
	check "... nothing made at the top" test ! -e "$R"

	# ---- 3. boto3
	res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=$END S3_MOUNT=$M S3_OLGA_UID=$OLGA \
		S3_KEY=$KEY S3_SECRET=$SECRET S3_KEY2=$KEY2 S3_SECRET2=$SECRET2 \
		S3_KEY3=$KEY3 S3_SECRET3=$SECRET3 S3_KEY4=$KEY4 S3_SECRET4=$SECRET4 \
		timeout 600 "$PY" -m pytest -q -p no:cacheprovider test_gaps.py 2>&1)
	rc=$?
	check_eq "boto3 tests pass (tests/s3/test_gaps.py)" 0 "$rc"
	[ $rc -ne 0 ] && diag "$(echo "$res" | tail -n 80)"
	echo "$res" | tail -n 1 | sed 's/^/# /'
	# the staging directory test_gaps.py's multipart made
	G=$M/gaps-rsv
	check "the S3 staging directory exists" test -d "$G/.s3-multipart"
	check_errno "exchange a directory with it: EPERM" EPERM rename-exchange "$G/d" "$G/.s3-multipart"
	check_errno "rename it away: EPERM" EPERM rename "$G/.s3-multipart" "$G/away"
	umount_fs "$M"
	check_eq "daemon exit status 0" 0 "$UMOUNT_STATUS"
else
	fail "mount with -o s3.listen"
fi
verify_clean "$S" "verify clean after the session"

done_testing
