#!/usr/bin/env bash
# tools/demo.sh (README "Quick start"), with its packages installed (else
# skipped: the test never runs apt): run twice, it mounts the demo store,
# serves S3 on 127.0.0.1, makes the S3 user once (key in a 0600 file, the
# same on the second run) and prints commands that work as printed: the
# AWS CLI lists and copies, a lock set through the mount refuses an S3
# delete. After an unmount a third run mounts again with the same key.
. "$(dirname "$0")/lib.sh"
require_binaries

DEMO_SH=$ROOT/tools/demo.sh
AWS=/usr/bin/aws        # Debian's awscli (a pyenv shim may shadow it)
missing=
for p in $(sed -n '/^PACKAGES=(/,/)/p' "$DEMO_SH" | tr -d '()' | sed 's/^PACKAGES=//'); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=" $p"
done
if [ -n "$missing" ]; then
	skip "demo.sh needs packages not installed here:$missing"
	done_testing
fi

D=$T_BASE/demo M=$T_BASE/demo/mnt
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
_register_mount "$M"
run_demo() {
	WORMFS_DEMO_DIR=$D WORMFS_BUILD_DIR=$BUILD WORMFS_DEMO_S3_PORT=$PORT \
		timeout 300 bash "$DEMO_SH" >"$T_BASE/demo.$1.out" 2>&1
}

run_demo 1
check_eq "first run: exit 0" 0 "$?"
check_eq "mounted" "fuse.wormfs" "$(findmnt -n -o FSTYPE --mountpoint "$M" | tail -n 1)"
MNT_PID[$M]=$(daemon_pid "$D/store" "$M")
check_eq "the key file is 0600" "600" "$(stat -c %a "$D/s3-credentials" 2>&1)"
out=$(cat "$T_BASE/demo.1.out")
check_match "prints the endpoint" "aws --endpoint-url http://127.0.0.1:$PORT s3 ls s3://demo/" "$out"
KEYLINE=$(grep -E '^  export AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=' "$T_BASE/demo.1.out")
check_eq "prints the key of the file" "$(awk '{ print "  export AWS_ACCESS_KEY_ID=" $1 "\n  export AWS_SECRET_ACCESS_KEY=" $2 }' "$D/s3-credentials")" "$KEYLINE"

# The printed commands, as printed.
export HOME=$T_BASE AWS_CONFIG_FILE=$T_BASE/aws-config AWS_SHARED_CREDENTIALS_FILE=$T_BASE/aws-creds AWS_PAGER=""
: >"$AWS_CONFIG_FILE"
eval "$(grep -E '^  export AWS_' "$T_BASE/demo.1.out")"
E=http://127.0.0.1:$PORT
check_match "aws s3 ls lists hello.txt" ' hello\.txt$' "$("$AWS" --endpoint-url "$E" s3 ls s3://demo/ 2>&1)"
check_match "aws s3 cp to stdout" '^Hello from wormfs' "$("$AWS" --endpoint-url "$E" s3 cp s3://demo/hello.txt - 2>&1)"
"$AWS" --endpoint-url "$E" s3 cp /etc/os-release s3://demo/from-s3/os-release >/dev/null 2>&1
check_eq "aws s3 cp up: at once a file in the mount" "$(sha256sum </etc/os-release)" "$(sha256sum <"$M/demo/from-s3/os-release")"
sed -n "/^  python3 - <<'PY'\$/,/^PY\$/p" "$T_BASE/demo.1.out" | sed '1d;$d' >"$T_BASE/snippet.py"
check_match "the boto3 snippet runs" 'written with boto3' "$(/usr/bin/python3 "$T_BASE/snippet.py" 2>&1)"
# The printed commands set a default retention on the bucket (each new
# object locked for a day): run again after that, as a user trying them a
# second time would, they still work (fresh keys; fixed ones were locked:
# AccessDenied, review rv-claims).
check "the printed default retention" setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" "$M/demo"
check_match "the boto3 snippet runs under it" 'written with boto3' "$(/usr/bin/python3 "$T_BASE/snippet.py" 2>&1)"
check_match "and again (a fresh key each run)" 'written with boto3' "$(/usr/bin/python3 "$T_BASE/snippet.py" 2>&1)"
check "the aws cp key gets a fresh name" grep -qxF '  k=from-s3/os-release-$(date +%H%M%S)' "$T_BASE/demo.1.out"
"$AWS" --endpoint-url "$E" s3 cp /etc/hostname s3://demo/locked.txt >/dev/null 2>&1
setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/demo/locked.txt"
out=$("$AWS" --endpoint-url "$E" s3 rm s3://demo/locked.txt 2>&1); rc=$?
check_eq "a lock set through the mount: aws s3 rm fails" 1 "$rc"
check_match "with AccessDenied" 'AccessDenied' "$out"

run_demo 2
check_eq "second run: exit 0" 0 "$?"
check_match "second run: already mounted, the same user" 'Already mounted.*Reusing the S3 user demo' \
	"$(tr '\n' ' ' <"$T_BASE/demo.2.out")"
check_eq "second run: the same key printed" "$KEYLINE" "$(grep -E '^  export AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=' "$T_BASE/demo.2.out")"
umount_fs "$M" || fail "unmount after the second run"

run_demo 3
check_eq "after an unmount, a third run mounts again: exit 0" 0 "$?"
MNT_PID[$M]=$(daemon_pid "$D/store" "$M")
check_eq "third run: the same key printed" "$KEYLINE" "$(grep -E '^  export AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=' "$T_BASE/demo.3.out")"
check_match "the S3 endpoint is back" ' hello\.txt$' "$("$AWS" --endpoint-url "$E" s3 ls s3://demo/ 2>&1)"
umount_fs "$M" || fail "unmount at the end"
done_testing
