#!/usr/bin/env bash
# Stale S3 uploads (README "S3 endpoint", differences from AWS): a daemon
# killed (kill -9) in the middle of a PutObject body, in a bucket with a
# COMPLIANCE default retention.
#  1. The temporary .s3-upload-* object is not locked by the bucket default
#     at the next start (its default is pending only from the rename over
#     the key), and the daemon removes it at that start, logged; the key
#     never appears. (Before: it stayed, locked for the default's period.)
#  2. A complete PUT into that bucket is still locked by the default, and
#     so is a file made through the mount under a reserved name (no escape
#     from the bucket default by naming): the cleanup leaves that one,
#     logged. Only names in the exact form of an upload's are taken (a
#     file with the prefix alone is kept).
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S"
state() { getfattr --absolute-names --only-values -n user.worm.state "$1" 2>&1; }

s3_mount "$S" "$M" || { fail "mount with S3"; done_testing; }
[ -n "$PORT" ] || { fail "S3 port in the log"; done_testing; }
mkdir "$M/stale" && setfattr -n user.worm.default-retention -v "COMPLIANCE 1d" "$M/stale"
check_eq "bucket default set" "COMPLIANCE 1d" "$(getfattr --absolute-names --only-values -n user.worm.default-retention "$M/stale" 2>&1)"

# 2a. A complete PUT is locked by the default (the normal path).
S3_END=http://127.0.0.1:$PORT S3_KEY=$KEY S3_SECRET=$SECRET "$PY" - <<'EOF' || fail "boto3 put_object"
import os, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_END"], region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket="stale", Key="done", Body=b"complete")
EOF
check_eq "a complete PUT in a default bucket: locked" "locked" "$(state "$M/stale/done")"
# 2b. Through the mount, a reserved name gets the default all the same.
echo mine >"$M/stale/.s3-upload-FEDCBA9876543210-fedcba9876543210"
check_eq "a reserved name made through the mount: locked by the default" "locked" \
	"$(state "$M/stale/.s3-upload-FEDCBA9876543210-fedcba9876543210")"
# One in the exact form of an upload's name, made through the mount in a
# bucket without a default: removed after an unclean stop like a real one
# (whoever made it could delete it); one with the prefix only: kept.
mkdir "$M/plain"
echo a >"$M/plain/.s3-upload-0123456789ABCDEF-0123456789abcdef"
echo b >"$M/plain/.s3-upload-notours"

# 1. A PUT cut by kill -9: header and 300,000 of 1,000,000 bytes sent,
# the connection held open.
S3_END=http://127.0.0.1:$PORT S3_KEY=$KEY S3_SECRET=$SECRET "$PY" - <<'EOF' &
import hashlib, os, socket, time, urllib.parse
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
end = os.environ["S3_END"]
u = urllib.parse.urlparse(end)
body = b"z" * 1000000
req = AWSRequest(method="PUT", url=end + "/stale/cut", data=body,
                 headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
SigV4Auth(Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"]), "s3", "us-east-1").add_auth(req)
head = "PUT /stale/cut HTTP/1.1\r\nHost: %s:%d\r\n" % (u.hostname, u.port)
head += "".join("%s: %s\r\n" % (k, v) for k, v in dict(req.headers).items())
head += "Content-Length: %d\r\n\r\n" % len(body)
s = socket.create_connection((u.hostname, u.port))
s.sendall(head.encode() + body[:300000])
time.sleep(60)
EOF
CLIENT=$!
tmp=
for _ in $(seq 1 200); do
	tmp=$(ls -A "$M/stale" | grep '^\.s3-upload-' | grep -v '^\.s3-upload-FEDCBA9876543210-fedcba9876543210$' | head -n 1)
	[ -n "$tmp" ] && [ "$(stat -c %s "$M/stale/$tmp" 2>/dev/null || echo 0)" -gt 0 ] && break
	sleep 0.1
done
check_match "the upload's temporary object is there, with bytes" '^\.s3-upload-' "$tmp"
crash_daemon "$M" "$S" || fail "kill -9 the daemon"
kill "$CLIENT" 2>/dev/null; wait "$CLIENT" 2>/dev/null

mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_eq "after the restart: the stale upload is gone, the rest stays" ".s3-upload-FEDCBA9876543210-fedcba9876543210 done" \
	"$(ls -A "$M/stale" | tr '\n' ' ' | sed 's/ $//')"
check_match "its removal is logged" "s3: removed the stale upload path=\"?stale/$tmp\"? \\(left by a stopped daemon\\)" \
	"$(cat "${MNT_LOG[$M]}")"
check_match "the locked reserved name is left, logged" 'stale upload path="?stale/\.s3-upload-FEDCBA9876543210-fedcba9876543210"? is locked: left in place' \
	"$(cat "${MNT_LOG[$M]}")"
check_eq "the exact form is removed, the prefix alone kept" ".s3-upload-notours" \
	"$(ls -A "$M/plain" | tr '\n' ' ' | sed 's/ $//')"
check_eq "the key never appeared" "absent" "$([ -e "$M/stale/cut" ] && echo present || echo absent)"
check_eq "the complete object is still locked" "locked" "$(state "$M/stale/done")"
umount_check "$M" "after the cleanup"
# A clean restart walks nothing and removes nothing.
mount_fg "$S" "$M" || { fail "remount clean"; done_testing; }
check_eq "a clean start: no stale-upload lines" "" "$(grep 'stale upload' "${MNT_LOG[$M]}")"
umount_check "$M" "clean restart"
check "verify at the end" "$WORMCTL" verify "$S"
done_testing
