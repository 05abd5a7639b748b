#!/usr/bin/env bash
# The S3 endpoint against bad input and the checks of the S3 conformance
# suites, with boto3 and raw HTTP (pytest):
#  - tests/s3/test_badinput.py: oversized XML, wrong Content-Length, a
#    stalled client (closed after [s3] idle_timeout, set to 3 s here, while
#    others are served), invalid keys and bucket names, bad Range headers,
#    presigned expiry over 7 days, clock skew, SigV2; each followed by a
#    good request (the daemon is alive).
#  - tests/s3/test_conformance.py: listing edge cases, conditional GET and
#    HEAD, Range forms, response-* overrides, metadata, bucket errors,
#    DeleteObjects quiet mode, CopyObject directives, canned ACLs.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-boto3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 2

if s3_mount "$S" "$M" s3.idle_timeout=3; then
	check "server port in the log" test -n "$PORT"
	for t in badinput conformance; do
		res=$(cd "$ROOT/tests/s3" && S3_ENDPOINT=http://127.0.0.1:$PORT S3_KEY=$KEY \
			S3_SECRET=$SECRET S3_KEY2=$KEY2 S3_SECRET2=$SECRET2 S3_MOUNT=$M \
			S3_IDLE_TIMEOUT=3 timeout 600 "$PY" -m pytest -q -p no:cacheprovider \
			"test_$t.py" 2>&1)
		rc=$?
		check_eq "tests/s3/test_$t.py passes" 0 "$rc"
		[ $rc -ne 0 ] && diag "$(echo "$res" | tail -n 80)"
		echo "$res" | tail -n 1 | sed 's/^/#   /'
	done
	s3_unmount "$M"
else
	fail "mount with -o s3.listen"
fi
verify_clean "$S" "verify clean after the session"
done_testing
