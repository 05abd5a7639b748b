#!/usr/bin/env bash
# Confidentiality review (design sections 7, 8 and 15; README "Encryption",
# "Inside the mount"): what other local users can learn through the mount.
#  1. .wormfs/audit holds every lock change and refusal with its path, and
#     every S3 user's name, access key id and uid: only root and the
#     daemon's own user (the store's owner, who can run `wormctl audit
#     STORE` anyway) may read it. Before, it was 0444, so with allow_other
#     any local user read the names inside another user's 0700 directory
#     there. The other .wormfs files (version, clock, stats) stay 0444.
#  2. STORE/keys/kek unlocks every object, as a passphrase does: a key file
#     others can read or change is refused as a passphrase file is (the
#     mount and wormctl say so and name the fix); before, it was used at
#     any mode.
#  4. (before 3, which needs boto3) WORMFS_PWHASH_FAST=1, the tests' knob
#     that makes a passphrase ring with Argon2id's minimum cost (kept for
#     good), is said at init; before, it was silent.
#  3. S3 ETags (the MD5 of the plaintext) are sealed at rest: after a
#     PutObject, a CopyObject of it and a multipart upload, S3 still
#     answers the MD5 ETags (GET, HEAD, list, Complete), but no MD5 of a
#     content is anywhere in the store; before, data.mdb held them in
#     clear, so equal contents (the copy) and guessed ones could be told
#     from it. A sealed value moved to another object does not open there.
#  5. An S3 write over an existing object (PutObject, CopyObject,
#     CompleteMultipartUpload) never makes it readable by more users than
#     before: a PUT over an object its owner made 0600 made it 0644, so
#     every other local and S3 user read the new content. The new object's
#     mode is the default (0666 & ~umask) and the old one's together.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 2
mount_fg "$S" "$M" -o allow_other || { fail "mount"; done_testing; }

# ---- 1. .wormfs/audit
mkdir -p "$M/team/hr-private" && chmod 0700 "$M/team/hr-private"
echo x >"$M/team/hr-private/layoffs-2027-names.txt"
setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$M/team/hr-private/layoffs-2027-names.txt"
check_errno_as_user "control: another user cannot list the 0700 directory" EACCES \
	readdir "$M/team/hr-private"
check_match "root reads the lock change in .wormfs/audit" \
	'kind=retention op=set path=/team/hr-private/layoffs-2027-names.txt' "$(cat "$M/.wormfs/audit")"
check_errno_as_user "another user cannot open .wormfs/audit: EACCES" EACCES \
	open "$M/.wormfs/audit" RDONLY
out=$(as_user cat "$M/.wormfs/audit" 2>/dev/null)
check_eq "... and reads no name from it" "0" "$(printf '%s' "$out" | grep -c 'layoffs\|AKIA')"
check_eq ".wormfs/audit is 0400, the daemon's user's" "400 0" "$(stat -c '%a %u' "$M/.wormfs/audit")"
for f in version clock stats; do
	check_errno_as_user "another user still reads .wormfs/$f" OK open "$M/.wormfs/$f" RDONLY
	check_eq ".wormfs/$f stays 0444" "444" "$(stat -c '%a' "$M/.wormfs/$f")"
done
umount_fs "$M"

# ---- 2. a key file others can read
chmod 0644 "$S/keys/kek"
if mount_fg "$S" "$M" >/dev/null 2>&1; then
	fail "a store whose key file is world-readable is not mounted"
	umount_fs "$M"
else
	ok "a store whose key file is world-readable is not mounted"
fi
check_match "... the daemon says why" \
	'key file .*/keys/kek is world-readable \(mode 0644\): refusing it; chmod 600' \
	"$(cat "${MNT_LOG[$M]}")"
out=$("$WORMCTL" key list "$S" 2>&1); rc=$?
check_eq "wormctl key list refuses it (exit 1)" 1 "$rc"
check_match "... and says why" 'world-readable \(mode 0644\)' "$out"
chmod 0602 "$S/keys/kek"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "a key file others can write: verify refuses it" 1 "$rc"
check_match "... and says why" 'writable by others \(mode 0602\)' "$out"
chmod 0600 "$S/keys/kek"
mount_fg "$S" "$M" || fail "mount after chmod 600"
check "... after chmod 600 the store mounts" test -d "$M/team"
umount_fs "$M"
verify_clean "$S" "... and verifies clean"

# ---- 4. the minimum-cost Argon2id knob is never silent
PW=$T_BASE/pw
printf 'correct horse battery staple\n' >"$PW" && chmod 600 "$PW"
out=$(WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PW" "$T_BASE/s4" 2>&1)
check_eq "init with WORMFS_PWHASH_FAST=1 works (tests)" 0 "$?"
check_match "... and warns that the ring's passphrase hash is the minimum cost" \
	"WORMFS_PWHASH_FAST=1: the key ring's passphrase is hashed with Argon2id's minimum cost .*for tests only" "$out"
out=$("$WORMCTL" init "$T_BASE/s5" 2>&1)
check_eq "a key-file init says nothing of it" "" "$(printf '%s\n' "$out" | grep -v '^created store ')"

# ---- 3. S3 ETags sealed at rest
if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
	skip "S3 ETags sealed at rest" "no boto3 for /usr/bin/python3"
	done_testing
fi
s3_mount "$S" "$M" || { fail "mount with S3"; done_testing; }
out=$(S3_ENDPOINT=$END S3_KEY=$KEY S3_SECRET=$SECRET S3_MOUNT=$M /usr/bin/python3 - <<'PY' 2>&1
import hashlib, os, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"],
                  aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
md5 = lambda b: hashlib.md5(b).hexdigest()
s3.create_bucket(Bucket="etags")
body, big = b"yes\n", b"guessable-plaintext " * 30000
s3.put_object(Bucket="etags", Key="answer", Body=body)
s3.put_object(Bucket="etags", Key="big", Body=big)
s3.copy_object(Bucket="etags", Key="answer-copy", CopySource={"Bucket": "etags", "Key": "answer"})
p1, p2 = b"A" * (5 << 20), b"tail of a multipart upload"
u = s3.create_multipart_upload(Bucket="etags", Key="mp")["UploadId"]
e1 = s3.upload_part(Bucket="etags", Key="mp", UploadId=u, PartNumber=1, Body=p1)["ETag"]
e2 = s3.upload_part(Bucket="etags", Key="mp", UploadId=u, PartNumber=2, Body=p2)["ETag"]
mp = s3.complete_multipart_upload(Bucket="etags", Key="mp", UploadId=u, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})["ETag"]
mpwant = md5(bytes.fromhex(md5(p1)) + bytes.fromhex(md5(p2))) + "-2"
got = {k: s3.head_object(Bucket="etags", Key=k)["ETag"].strip('"')
       for k in ("answer", "answer-copy", "big", "mp")}
want = {"answer": md5(body), "answer-copy": md5(body), "big": md5(big), "mp": mpwant}
print("head", "ok" if got == want else "BAD %r %r" % (got, want))
lst = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket="etags")["Contents"]}
print("list", "ok" if lst == want else "BAD %r" % lst)
print("get", "ok" if s3.get_object(Bucket="etags", Key="big")["ETag"].strip('"') == md5(big) else "BAD")
print("complete", "ok" if mp.strip('"') == mpwant and e1.strip('"') == md5(p1) else "BAD")
# A sealed value moved to another object (same size, its own stamp kept)
# does not open there: that object's ETag is a derived one.
m = os.path.join(os.environ["S3_MOUNT"], "etags")
s3.put_object(Bucket="etags", Key="other", Body=b"no!\n")
src = os.getxattr(m + "/answer", "user.s3.meta").split(b"\0")
dst = os.getxattr(m + "/other", "user.s3.meta").split(b"\0")
dst[dst.index(b":etag") + 1] = src[src.index(b":etag") + 1]
os.setxattr(m + "/other", "user.s3.meta", b"\0".join(dst))
e = s3.head_object(Bucket="etags", Key="other")["ETag"].strip('"')
print("moved", "ok" if e not in (md5(body), md5(b"no!\n")) else "BAD " + e)
print("md5s", md5(body), md5(big), md5(p1), md5(p2), mpwant.split("-")[0])
PY
)
for w in head list get complete moved; do
	case $w in
	moved) d="a sealed ETag moved to another object does not open there" ;;
	*) d="S3 $w: the MD5 ETags as before" ;;
	esac
	check_match "$d" "^$w ok" "$(printf '%s\n' "$out" | grep "^$w " || echo "$out")"
done
md5s=$(printf '%s\n' "$out" | sed -n 's/^md5s //p')
s3_unmount "$M"
check_match "five MD5s to look for" '^([0-9a-f]{32} ){4}[0-9a-f]{32}$' "$md5s"
for h in $md5s; do
	check_eq "the MD5 $h is nowhere in the store" "" "$(grep -rlaF -- "$h" "$S")"
done

# ---- 5. an S3 overwrite keeps a private object private
# attr_timeout=0: the names S3 replaces are looked up afresh (README, S3 endpoint)
s3_mount "$S" "$M" allow_other,attr_timeout=0 || { fail "mount with S3"; done_testing; }
mkdir "$M/private5" && chown "$TEST_UID:$TEST_UID" "$M/private5"
s3bob() {   # s3bob OP KEY [BODY]: bob's PUT, COPY (from KEY.src) or MPU of KEY
	S3_ENDPOINT=$END S3_KEY=$KEY2 S3_SECRET=$SECRET2 /usr/bin/python3 - "$@" <<'PY'
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"],
                  aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
op, key = sys.argv[1], sys.argv[2]
if op == "put":
    s3.put_object(Bucket="private5", Key=key, Body=sys.argv[3].encode())
elif op == "copy":
    s3.copy_object(Bucket="private5", Key=key, CopySource={"Bucket": "private5", "Key": key + ".src"})
else:
    u = s3.create_multipart_upload(Bucket="private5", Key=key)["UploadId"]
    e = s3.upload_part(Bucket="private5", Key=key, UploadId=u, PartNumber=1, Body=b"mpu diary")["ETag"]
    s3.complete_multipart_upload(Bucket="private5", Key=key, UploadId=u,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
PY
}
s3bob put diary.txt "v1 of a diary" || fail "bob's PUT"
check_eq "a new object over S3: 0644 (the default, as documented)" 644 "$(stat -c %a "$M/private5/diary.txt")"
as_user chmod 0600 "$M/private5/diary.txt"
s3bob put diary.txt.src "copied diary" || fail "bob's PUT of a copy source"
for op in put copy mpu; do
	s3bob "$op" diary.txt "v2 of a diary" || fail "bob's $op over it"
	check_eq "$op over a 0600 object: still 0600" 600 "$(stat -c %a "$M/private5/diary.txt")"
	check_eq "... another user cannot read it" EACCES \
		"$(setpriv --reuid=$((TEST_UID + 1)) --regid=$((TEST_UID + 1)) --clear-groups \
			"$HARNESS" open "$M/private5/diary.txt" RDONLY 2>&1)"
done
as_user chmod 0640 "$M/private5/diary.txt"
s3bob put diary.txt "v3" || fail "bob's PUT over 0640"
check_eq "a PUT over a 0640 object: 0640" 640 "$(stat -c %a "$M/private5/diary.txt")"
s3_unmount "$M"

done_testing
