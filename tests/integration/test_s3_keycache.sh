#!/usr/bin/env bash
# The signing-key cache (src/s3_keycache.c) against user changes made
# through the control socket while the store is mounted and serving S3:
#  - a user's requests work (the second one from the cached key), and
#    later ones cost no KMS request (.wormfs/stats);
#  - removed: the very next request is 403 InvalidAccessKeyId;
#  - re-added with the same access key id and another secret (import):
#    the old secret's signature is 403 SignatureDoesNotMatch, the new one
#    works;
#  - re-added with other uid: requests act as the new uid (the cached
#    identity went with the key).
# Requests are signed by botocore (Debian python3-boto3), each in a fresh
# process so nothing is kept on the client side.
. "$(dirname "$0")/lib.sh"
require_binaries
PY=/usr/bin/python3
"$PY" -c 'import boto3' 2>/dev/null || { skip "python3-boto3 not installed"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }

# s3req KEY SECRET OP [ARGS]: prints "ok ..." or the S3 error code.
s3req() {
	K=$1 SK=$2 END=$END "$PY" - "${@:3}" <<'PYEOF'
import os, sys, boto3, botocore
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["END"], region_name="us-east-1",
                 aws_access_key_id=os.environ["K"], aws_secret_access_key=os.environ["SK"],
                 config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
op = sys.argv[1]
try:
    if op == "list":
        c.list_buckets()
        print("ok")
    elif op == "put":
        c.put_object(Bucket=sys.argv[2], Key=sys.argv[3], Body=b"x" * 10)
        print("ok")
    elif op == "mkbucket":
        c.create_bucket(Bucket=sys.argv[2])
        print("ok")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
PYEOF
}

s3_user_add ANN_KEY ANN_SECRET "$S" ann --uid 0

s3_mount "$S" "$M" || { fail "mount with s3"; done_testing; }

s3_user_add BEA_KEY BEA_SECRET "$S" bea --uid "$TEST_UID" --gid "$TEST_UID"   # online
check_eq "ann: first request" ok "$(s3req "$ANN_KEY" "$ANN_SECRET" list)"
check_eq "ann: second request (cached key)" ok "$(s3req "$ANN_KEY" "$ANN_SECRET" mkbucket pub)"
chmod 0777 "$M/pub"
check_eq "bea: request" ok "$(s3req "$BEA_KEY" "$BEA_SECRET" put pub k1)"
check_eq "bea's object is owned by her uid" "$TEST_UID" "$(stat -c %u "$M/pub/k1")"
check_eq "bea: again (cached key)" ok "$(s3req "$BEA_KEY" "$BEA_SECRET" list)"
# Cached: no KMS call per request (before the cache, each signed request
# unsealed the user's secret: one cryptographic KMS request).
kms_calls() { sed -n 's/^wormfs_kms_requests_total{class="cryptographic"} //p' "$M/.wormfs/stats"; }
k0=$(kms_calls)
for i in 1 2 3 4 5; do s3req "$BEA_KEY" "$BEA_SECRET" list >/dev/null; done
k1=$(kms_calls)
check_eq "5 more ListBuckets of a seen user: no KMS request" 0 "$((k1 - k0))"

# Remove through the socket: the next request is refused at once.
check "remove bea through the socket" "$WORMCTL" s3 user remove "$S" bea
check_eq "removed user: next request 403 InvalidAccessKeyId" InvalidAccessKeyId \
	"$(s3req "$BEA_KEY" "$BEA_SECRET" list)"
check_eq "removed user: a PUT too" InvalidAccessKeyId "$(s3req "$BEA_KEY" "$BEA_SECRET" put pub k2)"
check_eq "no object from the removed user" gone "$([ -e "$M/pub/k2" ] && echo there || echo gone)"
check_eq "another user's cached key still works" ok "$(s3req "$ANN_KEY" "$ANN_SECRET" list)"

# Re-added with the same key id, another secret and uid 0.
printf '%s' "NEWSECRETnewsecret0123456789abcdefABCDEF" >"$T_BASE/sec"
out=$("$WORMCTL" s3 user add "$S" bea --uid 0 --access-key "$BEA_KEY" --secret-file "$T_BASE/sec" 2>&1)
check_eq "re-add bea with the same key id (online)" 0 "$?"
check_eq "re-added: the old secret is 403 SignatureDoesNotMatch" SignatureDoesNotMatch \
	"$(s3req "$BEA_KEY" "$BEA_SECRET" list)"
check_eq "re-added: the new secret works" ok \
	"$(s3req "$BEA_KEY" "NEWSECRETnewsecret0123456789abcdefABCDEF" put pub k3)"
check_eq "re-added: requests act as the new uid" 0 "$(stat -c %u "$M/pub/k3")"

# Forged requests naming a real access key id (anyone who has seen one in
# a log or a URL can send them): each unsealed the user's secret before
# it was found wrong, one KMS request apiece (a quota every encrypted
# read and write shares), and a request for another region or a day past
# did too. Now the region and the time are checked first, and the derived
# key is kept even when the signature does not match, per scope.
forged() {   # MODE N KEY: the distinct answers, and the KMS requests they cost
	local k0 k1 out
	k0=$(kms_calls)
	out=$("$PY" "$ROOT/tests/s3/rv_forged_kms.py" "$END" "$3" "$1" "$2" | sort -u | tr '\n' ' ')
	k1=$(kms_calls)
	echo "$out$((k1 - k0))"
}
s3_user_add CID_KEY CID_SECRET "$S" cid --uid "$TEST_UID" --gid "$TEST_UID"   # online, unused
check_eq "10 forged requests for a user never seen: one KMS request" \
	"403 SignatureDoesNotMatch 1" "$(forged today 10 "$CID_KEY")"
check_eq "... and the user's own requests still work" ok "$(s3req "$CID_KEY" "$CID_SECRET" list)"
check_eq "10 forged requests for another region: no KMS request" \
	"400 AuthorizationHeaderMalformed 0" "$(forged region 10 "$ANN_KEY")"
check_eq "10 forged requests dated a day ago: no KMS request" \
	"403 RequestTimeTooSkewed 0" "$(forged old 10 "$ANN_KEY")"
check_eq "10 forged presigned URLs of two earlier days, alternating: two KMS requests" \
	"403 SignatureDoesNotMatch 2" "$(forged presigned 10 "$ANN_KEY")"
check_eq "ann's own requests still work" ok "$(s3req "$ANN_KEY" "$ANN_SECRET" list)"

umount_fs "$M" || fail "umount"
done_testing
