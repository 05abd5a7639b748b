#!/usr/bin/env bash
# The S3 endpoint with the AWS SDK for JavaScript v3 (@aws-sdk/client-s3,
# tests/node/s3.test.mjs, `node --test`): its default CRC32 checksums, a
# Buffer body and a stream body (aws-chunked with a trailing checksum, seen
# on the wire), GetObject, HeadObject, ListObjectsV2 with prefix and
# delimiter, DeleteObjects, a presigned URL fetched with fetch(), a wrong
# secret, a wrong checksum, a lock set through the mount refusing DELETE.
# The packages come from tests/node/package-lock.json (npm ci).
. "$(dirname "$0")/lib.sh"
require_binaries

NODE_DIR=$ROOT/tests/node
S=$T_BASE/store M=$T_BASE/mnt

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	fail "node and npm are installed (run_all.sh installs nodejs and npm)"
	done_testing
fi
# The SDK's current releases need Node.js 20 (their engines field);
# Debian 12's nodejs is 18: say so instead of failing on it.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
	skip "@aws-sdk/client-s3 tests" "Node.js $(node --version) < 20, which the SDK needs"
	done_testing
fi
# npm ci when node_modules is missing or older than the lock file
if [ ! -d "$NODE_DIR/node_modules/@aws-sdk/client-s3" ] ||
   [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
	out=$(cd "$NODE_DIR" && timeout 600 npm ci --no-audit --no-fund 2>&1); rc=$?
	check_eq "npm ci (tests/node)" 0 "$rc"
	[ $rc -ne 0 ] && { diag "$(echo "$out" | tail -n 20)"; done_testing; }
fi

s3_store "$S"

if s3_mount "$S" "$M"; then
	check "server port in the log" test -n "$PORT"
	res=$(cd "$NODE_DIR" && S3_ENDPOINT=http://127.0.0.1:$PORT S3_KEY=$KEY S3_SECRET=$SECRET \
		S3_MOUNT=$M timeout 600 node --test --test-reporter=tap s3.test.mjs 2>&1)
	rc=$?
	check_eq "node --test tests/node/s3.test.mjs passes ($(node --version))" 0 "$rc"
	echo "$res" | grep -E '^# (tests|pass|fail)' | sed 's/^# /#   node: /'
	[ $rc -ne 0 ] && diag "$(echo "$res" | grep -v '^ *at ' | tail -n 80)"
	check_match "the node tests ran (pass count)" '^# pass [1-9]' "$res"
	check_match "... and none failed" '^# fail 0$' "$res"
	s3_unmount "$M" "after the SDK session"
else
	fail "mount with -o s3.listen"
fi
verify_clean "$S" "verify clean after the SDK session"
done_testing
