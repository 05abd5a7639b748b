#!/usr/bin/env bash
# The S3 endpoint (design.md Part II section 11, README "S3 endpoint"):
#  1. A mount that also serves S3 (-o s3.listen=127.0.0.1:0): boto3
#     (tests/s3/test_boto3.py: buckets, objects, metadata, Range and
#     conditionals, listings, DeleteObjects, one namespace with the mount,
#     a lock set through the mount refusing S3 DELETE with 403, keys that
#     are no paths, SigV4 refusals, mode bits for another user, malformed
#     XML, a huge header, a dropped PUT, a bad Content-MD5, the daemon
#     alive after each) and the AWS CLI (aws s3 cp/ls/rm); S3 requests in
#     .wormfs/stats; refusals logged with the access key.
#  2. wormfs STORE --no-mount over HTTPS (a self-signed certificate made
#     here): curl --cacert and boto3 with verify; SIGTERM stops it.
#  3. Bad [s3] configuration: clear errors, nothing started.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-boto3
AWS=/usr/bin/aws        # Debian's awscli (a pyenv shim may shadow it)
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 2

# ============================================================ 1. mount + S3
if s3_mount "$S" "$M"; then
	check "server port in the log" test -n "$PORT"

	res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=$END S3_KEY=$KEY S3_SECRET=$SECRET \
		S3_KEY2=$KEY2 S3_SECRET2=$SECRET2 S3_MOUNT=$M \
		timeout 600 "$PY" -m pytest -q -p no:cacheprovider test_boto3.py 2>&1)
	rc=$?
	check_eq "boto3 tests pass (tests/s3/test_boto3.py)" 0 "$rc"
	[ $rc -ne 0 ] && diag "$(echo "$res" | tail -n 60)"
	echo "$res" | tail -n 1 | sed 's/^/# /'

	# The AWS CLI v2, its own botocore
	s3_aws_env "$KEY" "$SECRET"
	head -c 1234567 /dev/urandom >"$T_BASE/up.bin"
	"$AWS" --endpoint-url "$END" s3 mb s3://cli-bucket >/dev/null 2>"$T_BASE/aws.err"
	check_eq "aws s3 mb" 0 "$?"
	"$AWS" --endpoint-url "$END" s3 cp "$T_BASE/up.bin" s3://cli-bucket/d/up.bin >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 cp upload" 0 "$?"
	check "the upload is the file in the mount" cmp -s "$T_BASE/up.bin" "$M/cli-bucket/d/up.bin"
	out=$("$AWS" --endpoint-url "$END" s3 ls --recursive s3://cli-bucket 2>>"$T_BASE/aws.err")
	check_match "aws s3 ls --recursive lists it with its size" ' 1234567 d/up\.bin$' "$out"
	"$AWS" --endpoint-url "$END" s3 cp s3://cli-bucket/d/up.bin "$T_BASE/down.bin" >/dev/null 2>>"$T_BASE/aws.err"
	check "aws s3 cp download: same bytes" cmp -s "$T_BASE/up.bin" "$T_BASE/down.bin"
	setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$M/cli-bucket/d/up.bin"
	"$AWS" --endpoint-url "$END" s3 rm s3://cli-bucket/d/up.bin >"$T_BASE/aws.out" 2>&1
	check_not "aws s3 rm of an object locked through the mount fails" test $? -eq 0
	check_match "... with AccessDenied" 'AccessDenied' "$(cat "$T_BASE/aws.out")"
	check "... and the object is intact" cmp -s "$T_BASE/up.bin" "$M/cli-bucket/d/up.bin"
	echo other >"$M/cli-bucket/gone"
	"$AWS" --endpoint-url "$END" s3 rm s3://cli-bucket/gone >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 rm of a free object" 0 "$?"
	check_not "... gone from the mount" test -e "$M/cli-bucket/gone"
	# aws s3 sync: a tree up, down into another directory, then a change
	# and a removal synced with --delete
	mkdir -p "$T_BASE/tree/a/b" "$T_BASE/tree/c d"
	echo one >"$T_BASE/tree/one.txt"; : >"$T_BASE/tree/a/empty"
	head -c 300000 /dev/urandom >"$T_BASE/tree/a/b/blob"; echo sp >"$T_BASE/tree/c d/x y"
	"$AWS" --endpoint-url "$END" s3 sync "$T_BASE/tree" s3://cli-bucket/sync >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 sync up" 0 "$?"
	check "... the tree is in the mount" diff -r "$T_BASE/tree" "$M/cli-bucket/sync"
	"$AWS" --endpoint-url "$END" s3 sync s3://cli-bucket/sync "$T_BASE/back" >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 sync down" 0 "$?"
	check "... the same tree back" diff -r "$T_BASE/tree" "$T_BASE/back"
	echo changed >"$T_BASE/tree/one.txt"; rm "$T_BASE/tree/a/b/blob"
	"$AWS" --endpoint-url "$END" s3 sync --delete "$T_BASE/tree" s3://cli-bucket/sync >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 sync --delete after a change and a removal" 0 "$?"
	check_eq "... the change is in the mount" changed "$(cat "$M/cli-bucket/sync/one.txt")"
	check_not "... the removed file is gone" test -e "$M/cli-bucket/sync/a/b/blob"
	[ -s "$T_BASE/aws.err" ] && diag "$(tail -n 20 "$T_BASE/aws.err")"

	stats=$(cat "$M/.wormfs/stats")
	n=$(echo "$stats" | sed -n 's/^wormfs_s3_requests_total \([0-9]*\)$/\1/p')
	check "S3 requests counted in .wormfs/stats ($n)" test "${n:-0}" -gt 20
	check_match "S3 errors counted by class" 'wormfs_s3_errors_total\{class="4xx"\} [1-9]' "$stats"
	check_match "a refusal is logged with the access key" \
		"s3 refused op=DeleteObject .*access_key=$KEY .*code=AccessDenied" "$(cat "${MNT_LOG[$M]}")"
	s3_unmount "$M"
else
	fail "mount with -o s3.listen"
fi
verify_clean "$S" "verify clean after the S3 session"

# ============================================================ 2. --no-mount, HTTPS
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$T_BASE/key.pem" -out "$T_BASE/cert.pem" \
	>/dev/null 2>&1
check "openssl made a self-signed certificate" test -s "$T_BASE/cert.pem"
LOG=$T_BASE/nomount.log
"$WORMFS" "$S" --no-mount -f -o "s3.listen=127.0.0.1:0,s3.tls_cert=$T_BASE/cert.pem,s3.tls_key=$T_BASE/key.pem" \
	>"$LOG" 2>&1 </dev/null &
NPID=$!
# the lib's EXIT trap kills it if this script dies first
MOUNTS+=("$T_BASE/nomount"); MNT_PID[$T_BASE/nomount]=$NPID
PORT=$(s3_port_of "$LOG")
if [ -n "$PORT" ]; then
	out=$(curl -s --cacert "$T_BASE/cert.pem" "https://127.0.0.1:$PORT/")
	check_match "HTTPS: curl --cacert gets an S3 answer (anonymous: AccessDenied)" \
		'<Code>AccessDenied</Code>' "$out"
	out=$(curl -s -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/" 2>&1)
	check_eq "HTTPS: an unknown certificate is refused by curl" 000 "$out"
	out=$(K=$KEY SK=$SECRET S3_END=https://127.0.0.1:$PORT S3_CA=$T_BASE/cert.pem "$PY" -c '
import os, boto3
c = boto3.client("s3", endpoint_url=os.environ["S3_END"], region_name="us-east-1",
    aws_access_key_id=os.environ["K"], aws_secret_access_key=os.environ["SK"],
    verify=os.environ["S3_CA"])
c.put_object(Bucket="cli-bucket", Key="tls", Body=b"over tls")
print(c.get_object(Bucket="cli-bucket", Key="tls")["Body"].read().decode())
' 2>&1)
	check_eq "--no-mount over HTTPS: boto3 PUT and GET" "over tls" "$out"
else
	fail "wormfs --no-mount did not start" "$(tail -n 20 "$LOG")"
fi
kill -TERM "$NPID" 2>/dev/null
wait "$NPID"; rc=$?
check_eq "--no-mount: SIGTERM stops it, exit 0" 0 "$rc"
check_match "--no-mount: the store is closed (checkpoint logged)" 'store head' "$(cat "$LOG")"

# ============================================================ 3. bad configuration
out=$("$WORMFS" "$S" --no-mount -f 2>&1); rc=$?
check_eq "--no-mount without s3.listen: exit 1, clear message" \
	"1|wormfs: --no-mount serves only S3: set [s3] listen in wormfs.conf or -o s3.listen=HOST:PORT" "$rc|$out"
out=$("$WORMFS" "$S" --no-mount -f -o s3.listen=nonsense 2>&1); rc=$?
check_eq "s3.listen without a port: exit 1" 1 "$rc"
check_match "... names the key" "s3.listen|listen" "$out"
out=$("$WORMFS" "$S" --no-mount -f -o s3.threads=0,s3.listen=127.0.0.1:0 2>&1); rc=$?
check_eq "s3.threads=0: exit 1" 1 "$rc"
out=$("$WORMFS" "$S" --no-mount -f -o "s3.listen=127.0.0.1:0,s3.tls_cert=$T_BASE/nope.pem,s3.tls_key=$T_BASE/key.pem" 2>&1); rc=$?
check_eq "a missing TLS certificate: exit 1" 1 "$rc"
check_match "... names the file" "nope\.pem" "$out"
# a port in use: nothing mounted
"$PY" -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T_BASE/busy" &
BPID=$!
for i in $(seq 1 50); do [ -s "$T_BASE/busy" ] && break; sleep 0.1; done
BUSY=$(cat "$T_BASE/busy")
mkdir -p "$M"
out=$("$WORMFS" "$S" "$M" -f -o "s3.listen=127.0.0.1:$BUSY" 2>&1); rc=$?
check_eq "a port in use: exit 1" 1 "$rc"
check_match "... clear message" "cannot serve on 127.0.0.1:$BUSY" "$out"
check_not "... and nothing mounted" is_mounted "$M"
kill "$BPID" 2>/dev/null; wait "$BPID" 2>/dev/null

done_testing
