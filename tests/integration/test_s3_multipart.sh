#!/usr/bin/env bash
# S3 multipart upload (design.md section 11, README "S3 endpoint"):
#  1. boto3 low-level calls (tests/s3/test_multipart.py): every operation
#     and error, the multipart ETag computed in the test, the content read
#     back through the mount, parts in a bucket with a default retention
#     (never locked, Abort removes them), Complete onto a locked object
#     (403, the upload intact), only the initiator, a dropped UploadPart,
#     racing Completes, UploadPart racing Abort.
#  2. The AWS CLI (Debian's /usr/bin/aws): aws s3 cp of a 1 GiB file up
#     (multipart, 8 MiB parts) and down, compared by sha256.
#  3. wormctl verify is clean after it.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-boto3
AWS=/usr/bin/aws        # Debian's awscli (a pyenv shim may shadow it)
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 3

if s3_mount "$S" "$M"; then
	check "server port in the log" test -n "$PORT"

	# ---- 1. boto3
	res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=$END S3_KEY=$KEY S3_SECRET=$SECRET \
		S3_KEY2=$KEY2 S3_SECRET2=$SECRET2 S3_KEY3=$KEY3 S3_SECRET3=$SECRET3 S3_MOUNT=$M \
		timeout 900 "$PY" -m pytest -q -p no:cacheprovider test_multipart.py 2>&1)
	rc=$?
	check_eq "boto3 multipart tests pass (tests/s3/test_multipart.py)" 0 "$rc"
	[ $rc -ne 0 ] && diag "$(echo "$res" | tail -n 80)"
	echo "$res" | tail -n 1 | sed 's/^/# /'

	# ---- 2. the AWS CLI, 1 GiB
	s3_aws_env "$KEY" "$SECRET"
	BIG=$T_BASE/big.bin
	# fast incompressible bytes: AES-CTR over zeros
	openssl enc -aes-128-ctr -nosalt -pass pass:wormfs-mpu -in /dev/zero 2>/dev/null |
		head -c $((1 << 30)) >"$BIG"
	check_eq "a 1 GiB file" $((1 << 30)) "$(stat -c %s "$BIG")"
	want=$(sha256sum <"$BIG" | cut -d' ' -f1)
	"$AWS" --endpoint-url "$END" s3 mb s3://cli-mpu >/dev/null 2>"$T_BASE/aws.err"
	check_eq "aws s3 mb" 0 "$?"
	"$AWS" --endpoint-url "$END" s3 cp "$BIG" s3://cli-mpu/big.bin >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 cp of 1 GiB up" 0 "$?"
	rm -f "$BIG"
	etag=$("$AWS" --endpoint-url "$END" s3api head-object --bucket cli-mpu --key big.bin \
		--query ETag --output text 2>>"$T_BASE/aws.err")
	check_match "... was a multipart upload of 8 MiB parts (ETag ...-128)" '^"?[0-9a-f]{32}-128"?$' "$etag"
	check_eq "... the object in the mount has the file's sha256" "$want" \
		"$(sha256sum <"$M/cli-mpu/big.bin" | cut -d' ' -f1)"
	"$AWS" --endpoint-url "$END" s3 cp s3://cli-mpu/big.bin "$T_BASE/down.bin" >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 cp of 1 GiB down" 0 "$?"
	check_eq "... same sha256" "$want" "$(sha256sum <"$T_BASE/down.bin" | cut -d' ' -f1)"
	rm -f "$T_BASE/down.bin"
	check_eq "no upload left in progress" "" "$(ls -A "$M/cli-mpu/.s3-multipart" 2>/dev/null)"
	"$AWS" --endpoint-url "$END" s3 rm s3://cli-mpu/big.bin >/dev/null 2>>"$T_BASE/aws.err"
	check_eq "aws s3 rm" 0 "$?"
	[ -s "$T_BASE/aws.err" ] && diag "$(tail -n 20 "$T_BASE/aws.err")"
	s3_unmount "$M"
else
	fail "mount with -o s3.listen"
fi
rm -f "$T_BASE/big.bin" "$T_BASE/down.bin"
verify_clean "$S" "verify clean after the multipart session"

done_testing
