#!/usr/bin/env bash
# Adversarial review (rv-s3lock): the S3 front end against the locks.
#  1. A PutObject's temporary .s3-upload-* object swapped mid-body through
#     the mount by a local user who may write the bucket directory: the
#     commit renamed whatever held the temporary *name* over the key, so
#     the key got the attacker's bytes, the bucket's COMPLIANCE default
#     locked them, and the PUT answered 200 with the MD5 ETag of the
#     honest body, which GET then served with the forged bytes. Now the
#     commit renames only the object it wrote (ns_rename_ino): 409
#     OperationAborted, nothing at the key, the attacker's file left.
#  2. Conditional writes: If-None-Match: * and If-Match on PutObject and
#     CompleteMultipartUpload were ignored (a create-only PUT replaced the
#     object, 200), a wrong success. Now 412 PreconditionFailed (404
#     NoSuchKey for If-Match on no object), checked before the body and at
#     the commit, whose rename is pinned to what was checked; other
#     If-None-Match values: 501; a lock still wins (403).
#     CopyObject ignored its destination's conditions too (a create-only copy
#     replaced the object, 200): now checked as PutObject's.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-botocore
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
out=$("$WORMCTL" s3 user add "$S" bob --uid "$TEST_UID" --gid "$TEST_UID" 2>&1) ||
	{ fail "s3 user add bob" "$out"; done_testing; }
KEY=${out%% *} SECRET=${out#* }
CAROL=$((TEST_UID + 1))

val() { sed -n "s/^$1=//p" <<<"$res" | tail -n 1; }

if mount_fg "$S" "$M" -o allow_other,s3.listen=127.0.0.1:0; then
	PORT=$(s3_port_of "${MNT_LOG[$M]}")
	check "server port in the log" test -n "$PORT"
	END=http://127.0.0.1:$PORT

	# ---- 1. the temporary object swapped mid-body
	B=$M/rv-swap
	check_errno "root: a shared bucket" OK mkdir "$B" 0777
	chmod 0777 "$B"
	check_errno "... with a COMPLIANCE default" OK setxattr "$B" user.worm.default-retention "COMPLIANCE 1d"
	res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=$END S3_BUCKET_DIR=$B S3_KEY=$KEY S3_SECRET=$SECRET \
		S3_ATTACKER_UID=$CAROL timeout 300 "$PY" rv_upload_swap.py 2>&1)
	echo "$res" | sed 's/^/# /'
	check_eq "the upload's temporary object appeared" 1 "$(val tmp_seen)"
	check_eq "the attacker renamed its open file onto the temporary name" "renamed=0" "$(val attacker)"
	check_eq "the PUT is refused: 409 (not a 200 for someone else's bytes)" 409 "$(val put_status)"
	check_eq "... nothing at the key" 0 "$(val doc_exists)"
	check_eq "... the attacker's file is left at the name (not the uploader's to remove)" 1 "$(val tmp_left)"
	check "... never forged bytes under the key" test "$(val doc_is_forged)" != 1
	check_errno "... no locked object left at the key" ENOENT getxattr "$B/doc" user.worm.state

	# ---- 2. conditional writes
	check_errno "root: a bucket for bob" OK mkdir "$M/rv-cond" 0755
	chown "$TEST_UID:$TEST_UID" "$M/rv-cond"
	res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=$END S3_BUCKET=rv-cond S3_MOUNT=$M S3_KEY=$KEY \
		S3_SECRET=$SECRET timeout 300 "$PY" rv_cond_put.py 2>&1)
	echo "$res" | sed 's/^/# /'
	check_eq "If-None-Match: * onto an object: 412" 412:PreconditionFailed "$(val inm_existing)"
	check_eq "... it stays" first "$(val after_inm)"
	check_eq "If-None-Match: * for a new key: 200" 200 "$(val inm_new)"
	check_eq "... written" created "$(val new_body)"
	check_eq "If-None-Match: ETAG on a write: 501" 501:NotImplemented "$(val inm_etag)"
	check_eq "If-Match with another ETag: 412" 412:PreconditionFailed "$(val im_wrong)"
	check_eq "... it stays" first "$(val after_im_wrong)"
	check_eq "If-Match on no object: 404" 404:NoSuchKey "$(val im_missing)"
	check_eq "If-Match with its ETag: 200" 200 "$(val im_right)"
	check_eq "... replaced" fourth "$(val after_im_right)"
	check_eq "If-Match met on a locked object: 403" 403:AccessDenied "$(val im_locked)"
	check_eq "... it stays" fourth "$(val after_im_locked)"
	check_eq "Complete with If-None-Match: * onto an object: 412" 412:PreconditionFailed "$(val complete_inm)"
	check_eq "... it stays" plain "$(val after_complete_inm)"
	check_eq "... the upload is still completable" 200 "$(val complete_plain)"
	check_eq "... written" multi "$(val after_complete_plain)"
	check_eq "CopyObject with If-None-Match: * onto an object: 412" 412:PreconditionFailed "$(val copy_inm)"
	check_eq "... it stays" target "$(val after_copy_inm)"
	check_eq "CopyObject with If-Match of another ETag: 412" 412:PreconditionFailed "$(val copy_im_wrong)"
	check_eq "... it stays" target "$(val after_copy_im_wrong)"
	check_eq "CopyObject with If-None-Match: * to a new key: 200" 200 "$(val copy_inm_new)"
	check_eq "... written" copied "$(val copy_new_body)"
	check_eq "If-Match, the object deleted through the mount mid-body: 409" \
		409:ConditionalRequestConflict "$(val im_deleted_meanwhile)"
	check_eq "... nothing written under the key" NoSuchKey "$(val after_im_deleted_meanwhile)"
	check_eq "If-Match, the object replaced through the mount mid-body: 412" \
		412:PreconditionFailed "$(val im_replaced_meanwhile)"
	check_eq "... the replacement stays" replacement "$(val after_im_replaced_meanwhile)"
	check_eq "If-Match with the weak form of its ETag: 412" 412:PreconditionFailed "$(val im_weak)"
	check_eq "... it stays" w1 "$(val after_im_weak)"
	check_eq "GET If-Match with a weak ETag: 412" 412:PreconditionFailed "$(val get_im_weak)"
	check_eq "GET If-None-Match with a weak ETag: 304" 304:304 "$(val get_inm_weak)"

	umount_fs "$M"
	check_eq "daemon exit status 0" 0 "$UMOUNT_STATUS"
else
	fail "mount with -o s3.listen"
fi
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "verify clean after the session" 0 "$rc"
[ $rc -ne 0 ] && diag "$out"

done_testing
