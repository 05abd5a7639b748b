#!/usr/bin/env bash
# An append-only object's metadata is fixed like its committed bytes, as
# `chattr +a` makes it (design sections 4 and 15; README Decisions):
# setxattr and removexattr of any attribute but the user.worm.* controls
# (user.foo, user.s3.meta with the ETag S3 serves, names outside user.*),
# chmod, chown and given times get EPERM, as the owner and as root, and
# nothing changes; a touch (times set to now) and appends still work; the
# controls keep their own rules (append-only OFF, then user.foo works);
# each refusal is logged with its rule. Over S3: PutObject, CopyObject and
# a multipart upload into a default-append-only bucket work (the metadata
# is written before the object is append-only) and GET returns the right
# ETag; a PutObject, CopyObject (also onto itself with REPLACE) or
# DeleteObject of an existing append-only object gets 403 AccessDenied and
# the object stays as it was.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3     # Debian's python3 sees python3-boto3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 1
s3_mount "$S" "$M" allow_other || { fail "mount with -o s3.listen"; done_testing; }
ok "mounted"
LOG=${MNT_LOG[$M]}

# ---- through the mount
B=$M/applogs
check_errno "bucket" OK mkdir "$B"
chown "$TEST_UID:$TEST_UID" "$B"
check_errno_as_user "owner creates a log" OK write "$B/a.log" "one
"
check_errno_as_user "user.foo before append-only" OK setxattr "$B/a.log" user.foo v1
check_errno_as_user "user.s3.meta before append-only" OK setxattr "$B/a.log" user.s3.meta m1
check_errno_as_user "user.gone before append-only" OK setxattr "$B/a.log" user.gone g
check_errno_as_user "an old atime before append-only" OK utimens2 "$B/a.log" 1000000000 omit
check_errno_as_user "owner sets append-only ON" OK setxattr "$B/a.log" user.worm.append-only ON
before=$(stat -c '%a %u %g %Y' "$B/a.log")
atime_before=$(stat -c %X "$B/a.log")
for who in owner root; do
	run() { if [ $who = owner ]; then check_errno_as_user "$@"; else check_errno "$@"; fi; }
	run "$who: set user.foo EPERM" EPERM setxattr "$B/a.log" user.foo v2
	run "$who: set a new user.new EPERM" EPERM setxattr "$B/a.log" user.new x
	run "$who: set user.foo XATTR_REPLACE EPERM" EPERM setxattr "$B/a.log" user.foo v2 replace
	run "$who: set user.s3.meta EPERM" EPERM setxattr "$B/a.log" user.s3.meta forged
	run "$who: remove user.gone EPERM" EPERM removexattr "$B/a.log" user.gone
	run "$who: remove user.s3.meta EPERM" EPERM removexattr "$B/a.log" user.s3.meta
	run "$who: remove a missing user.none EPERM" EPERM removexattr "$B/a.log" user.none
	run "$who: set trusted.x EPERM (any namespace, as chattr +a)" EPERM setxattr "$B/a.log" trusted.x 1
	run "$who: chmod EPERM" EPERM chmod "$B/a.log" 600
	run "$who: utimens to a given time EPERM" EPERM utimens "$B/a.log" 1000000000
	# one time set to now, the other omitted or given, is no touch:
	# Linux marks it ATTR_TIMES_SET and refuses it on a +a inode
	run "$who: atime now, mtime omitted (touch -a) EPERM" EPERM utimens2 "$B/a.log" now omit
	run "$who: mtime now, atime omitted (touch -m) EPERM" EPERM utimens2 "$B/a.log" omit now
	run "$who: atime now, mtime given EPERM" EPERM utimens2 "$B/a.log" now 1000000000
	run "$who: atime given, mtime now EPERM" EPERM utimens2 "$B/a.log" 1000000000 now
	run "$who: append still OK" OK append "$B/a.log" "$who
"
done
check_errno "root: chown EPERM" EPERM chown "$B/a.log" 0 0
check_errno_as_user "owner: chown to itself EPERM" EPERM chown "$B/a.log" "$TEST_UID" "$TEST_UID"
check_eq "user.foo unchanged" v1 "$(h getxattr "$B/a.log" user.foo)"
check_eq "user.s3.meta unchanged" m1 "$(h getxattr "$B/a.log" user.s3.meta)"
check_eq "user.gone still there" g "$(h getxattr "$B/a.log" user.gone)"
check_errno "user.new not created" ENODATA getxattr "$B/a.log" user.new
check_eq "mode and owner unchanged" "${before% *}" "$(stat -c '%a %u %g' "$B/a.log")"
check "mtime not the given one" test "$(stat -c %Y "$B/a.log")" != 1000000000
check_eq "atime unchanged (the old one)" "1000000000 1000000000" "$atime_before $(stat -c %X "$B/a.log")"
check "a touch (times set to now) is allowed, as on chattr +a" as_user touch "$B/a.log"
check_errno_as_user "both times UTIME_NOW is a touch too" OK utimens2 "$B/a.log" now now
check_eq "content: every append" "one
owner
root" "$(cat "$B/a.log")"
check_match "refusal logged with rule=append-only-xattr" \
	"refused op=setxattr path=/applogs/a.log attr=\"?user.s3.meta\"? uid=$TEST_UID errno=EPERM rule=append-only-xattr" \
	"$(cat "$LOG")"
check_match "removexattr refusal logged" \
	"refused op=removexattr path=/applogs/a.log attr=\"?user.gone\"? uid=0 errno=EPERM rule=append-only-xattr" \
	"$(cat "$LOG")"
check_match "chmod refusal logged with rule=append-only-attr" \
	"refused op=setattr path=/applogs/a.log uid=$TEST_UID errno=EPERM rule=append-only-attr" \
	"$(cat "$LOG")"
# the user.worm.* controls keep their own rules
check_errno_as_user "user.worm.state stays read-only" EPERM setxattr "$B/a.log" user.worm.state locked
check_errno_as_user "owner sets append-only OFF" OK setxattr "$B/a.log" user.worm.append-only OFF
check_errno_as_user "then user.foo works" OK setxattr "$B/a.log" user.foo v3
check_eq "... with the new value" v3 "$(h getxattr "$B/a.log" user.foo)"
check_errno_as_user "then removexattr works" OK removexattr "$B/a.log" user.gone
check_errno_as_user "then chmod works" OK chmod "$B/a.log" 640
check_errno_as_user "then given times work" OK utimens "$B/a.log" 1000000000
check_errno_as_user "then atime now, mtime omitted works" OK utimens2 "$B/a.log" now omit
check_errno "then trusted.x is unsupported again" "EOPNOTSUPP|ENOTSUP" setxattr "$B/a.log" trusted.x 1
# names outside user.* reach the daemon without a permission check by
# the kernel (system.*): a user who may not write the object gets EPERM
# as on a +a inode, but adds no refusal to the log and the audit trail
# (the per-minute budget of refusal records would hide real ones)
check_errno "root's 0644 log" OK write "$B/ro.log" "r"
check_errno "append-only ON" OK setxattr "$B/ro.log" user.worm.append-only ON
check_errno_as_user "no-write user: set system.x EPERM" EPERM setxattr "$B/ro.log" system.x 1
check_errno_as_user "no-write user: remove system.x EPERM" EPERM removexattr "$B/ro.log" system.x
check_not "... and no refusal logged for it" grep -q "path=/applogs/ro.log.*uid=$TEST_UID" "$LOG"
check_errno "root: set system.x EPERM" EPERM setxattr "$B/ro.log" system.x 1
check_match "... logged for root" "refused op=setxattr path=/applogs/ro.log attr=\"?system.x\"? uid=0 errno=EPERM rule=append-only-xattr" "$(cat "$LOG")"
# an append clears the set-id bits of an append-only object, as on Linux
# (the mode change it makes is not a chmod)
check_errno "setuid log" OK write "$B/suid.log" "x"
chown "$TEST_UID:$TEST_UID" "$B/suid.log"
check_errno "chmod 6777" OK chmod "$B/suid.log" 6777
check_errno "append-only ON" OK setxattr "$B/suid.log" user.worm.append-only ON
check_errno_as_user "owner appends to the set-id append-only object" OK append "$B/suid.log" "y"
check_eq "... which cleared the set-id bits" 777 "$(stat -c %a "$B/suid.log")"
check_eq "... and appended" xy "$(cat "$B/suid.log")"
# from the bucket default, at creation
D=$M/datelogs
check_errno "bucket with default append-only" OK mkdir "$D"
check_errno "default append-only ON" OK setxattr "$D" user.worm.default-append-only ON
check_errno "a new log" OK write "$D/2026-12-07.log" "x"
check_eq "append-only from creation" ON "$(h getxattr "$D/2026-12-07.log" user.worm.append-only)"
check_errno "default-append-only object: user.foo EPERM" EPERM setxattr "$D/2026-12-07.log" user.foo v
check_errno "default-append-only object: chmod EPERM" EPERM chmod "$D/2026-12-07.log" 600
# with a retention too: sealed, refused under the stronger rule
check_errno "default retention" OK setxattr "$D" user.worm.default-retention "GOVERNANCE 1d"
check_errno "an appendable WORM object" OK write "$D/worm.log" "x"
check_eq "locked" locked "$(worm_state "$D/worm.log")"
check_errno "appendable WORM: user.foo EPERM" EPERM setxattr "$D/worm.log" user.foo v
check_errno "appendable WORM: append OK" OK append "$D/worm.log" "y"
check_errno "remove the default retention" OK removexattr "$D" user.worm.default-retention

# ---- over S3
res=$(S3_ENDPOINT=$END S3_KEY=$KEY S3_SECRET=$SECRET S3_MOUNT=$M timeout 300 "$PY" - 2>&1 <<'EOF'
import errno, hashlib, os
import boto3, botocore
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"],
                  aws_access_key_id=os.environ["S3_KEY"],
                  aws_secret_access_key=os.environ["S3_SECRET"], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
MNT = os.environ["S3_MOUNT"]

def check(desc, cond, detail=""):
    print(("ok|" if cond else "fail|") + desc + ("" if cond else "|" + str(detail)))

def err(f):
    try:
        f()
    except botocore.exceptions.ClientError as e:
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
    return None

def md5(b):
    return '"' + hashlib.md5(b).hexdigest() + '"'

b = "s3logs"
s3.create_bucket(Bucket=b)
os.setxattr(os.path.join(MNT, b), "user.worm.default-append-only", b"ON")
body = b"first line\n"
r = s3.put_object(Bucket=b, Key="k.log", Body=body, Metadata={"app": "one"},
                  ContentType="text/plain")
check("PutObject into a default-append-only bucket", r["ETag"] == md5(body), r["ETag"])
p = os.path.join(MNT, b, "k.log")
check("the object is append-only", os.getxattr(p, "user.worm.append-only") == b"ON")
g = s3.get_object(Bucket=b, Key="k.log")
check("GET: the bytes", g["Body"].read() == body)
check("GET: the ETag of the bytes", g["ETag"] == md5(body), g["ETag"])
check("GET: the headers", g["Metadata"] == {"app": "one"} and g["ContentType"] == "text/plain",
      (g["Metadata"], g["ContentType"]))
meta = os.getxattr(p, "user.s3.meta")
try:
    os.setxattr(p, "user.s3.meta", meta.replace(b"one", b"two"))
    check("mount: rewriting user.s3.meta EPERM", False, "allowed")
except OSError as e:
    check("mount: rewriting user.s3.meta EPERM", e.errno == errno.EPERM, e)
try:
    os.removexattr(p, "user.s3.meta")
    check("mount: removing user.s3.meta EPERM", False, "allowed")
except OSError as e:
    check("mount: removing user.s3.meta EPERM", e.errno == errno.EPERM, e)
e = err(lambda: s3.put_object(Bucket=b, Key="k.log", Body=b"replaced"))
check("PutObject over it: 403 AccessDenied", e == (403, "AccessDenied"), e)
e = err(lambda: s3.copy_object(Bucket=b, Key="k.log", CopySource={"Bucket": b, "Key": "k.log"},
                               MetadataDirective="REPLACE", Metadata={"app": "forged"}))
check("CopyObject onto itself with REPLACE: 403 AccessDenied", e == (403, "AccessDenied"), e)
s3.put_object(Bucket=b, Key="other", Body=b"other bytes")
e = err(lambda: s3.copy_object(Bucket=b, Key="k.log", CopySource={"Bucket": b, "Key": "other"}))
check("CopyObject of another object over it: 403 AccessDenied", e == (403, "AccessDenied"), e)
e = err(lambda: s3.delete_object(Bucket=b, Key="k.log"))
check("DeleteObject: 403 AccessDenied", e == (403, "AccessDenied"), e)
g = s3.get_object(Bucket=b, Key="k.log")
check("after all that: same bytes, ETag and headers",
      g["Body"].read() == body and g["ETag"] == md5(body) and g["Metadata"] == {"app": "one"},
      (g["ETag"], g["Metadata"]))
check("user.s3.meta unchanged", os.getxattr(p, "user.s3.meta") == meta)
r = s3.copy_object(Bucket=b, Key="copy.log", CopySource={"Bucket": b, "Key": "k.log"})
check("CopyObject to a new key works", r["CopyObjectResult"]["ETag"] == md5(body),
      r["CopyObjectResult"])
h = s3.head_object(Bucket=b, Key="copy.log")
check("... with the source's headers and ETag",
      h["ETag"] == md5(body) and h["Metadata"] == {"app": "one"}, (h["ETag"], h["Metadata"]))
check("... append-only", os.getxattr(os.path.join(MNT, b, "copy.log"),
                                     "user.worm.append-only") == b"ON")
parts = [os.urandom(5 * 1024 * 1024), b"tail"]
uid = s3.create_multipart_upload(Bucket=b, Key="mp.log", Metadata={"app": "mpu"})["UploadId"]
lst = []
for i, d in enumerate(parts):
    rr = s3.upload_part(Bucket=b, Key="mp.log", UploadId=uid, PartNumber=i + 1, Body=d)
    lst.append({"PartNumber": i + 1, "ETag": rr["ETag"]})
r = s3.complete_multipart_upload(Bucket=b, Key="mp.log", UploadId=uid,
                                 MultipartUpload={"Parts": lst})
want = '"' + hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts)).hexdigest() + '-2"'
check("multipart upload into the bucket", r["ETag"] == want, r["ETag"])
g = s3.get_object(Bucket=b, Key="mp.log")
check("... GET: bytes, ETag and headers",
      g["Body"].read() == b"".join(parts) and g["ETag"] == want and g["Metadata"] == {"app": "mpu"},
      (g["ETag"], g["Metadata"]))
check("... append-only", os.getxattr(os.path.join(MNT, b, "mp.log"),
                                     "user.worm.append-only") == b"ON")
# with a default retention too: an appendable WORM object
b2 = "s3wormlogs"
s3.create_bucket(Bucket=b2)
os.setxattr(os.path.join(MNT, b2), "user.worm.default-append-only", b"ON")
os.setxattr(os.path.join(MNT, b2), "user.worm.default-retention", b"GOVERNANCE 1d")
r = s3.put_object(Bucket=b2, Key="w.log", Body=body, Metadata={"app": "worm"})
g = s3.get_object(Bucket=b2, Key="w.log")
p2 = os.path.join(MNT, b2, "w.log")
check("PutObject into a default-retention + default-append-only bucket",
      r["ETag"] == md5(body) and g["ETag"] == md5(body) and g["Metadata"] == {"app": "worm"},
      (r["ETag"], g["ETag"], g["Metadata"]))
check("... locked and append-only", os.getxattr(p2, "user.worm.state") == b"locked" and
      os.getxattr(p2, "user.worm.append-only") == b"ON")
e = err(lambda: s3.put_object(Bucket=b2, Key="w.log", Body=b"replaced"))
check("... PutObject over it: 403 AccessDenied", e == (403, "AccessDenied"), e)
with open(p, "ab") as f:     # appends through the mount continue
    f.write(b"second line\n")
g = s3.get_object(Bucket=b, Key="k.log")
body2 = body + b"second line\n"
# the stored ETag holds for the size and mtime it was computed at: a
# derived one from then on (s3_meta_etag), never the old bytes' MD5
check("after an append through the mount: GET has the new bytes, not the old ETag",
      g["Body"].read() == body2 and g["ETag"] != md5(body), g["ETag"])
EOF
)
rc=$?
check_eq "S3 script ran to its end" 0 "$rc"
while IFS='|' read -r st desc detail; do
	case $st in
	ok) ok "S3: $desc" ;;
	fail) fail "S3: $desc" "$detail" ;;
	*) diag "$st${desc:+|$desc}${detail:+|$detail}" ;;
	esac
done <<<"$res"
check_match "S3 side: the forged user.s3.meta refusal is logged" \
	"refused op=setxattr path=/s3logs/k.log attr=\"?user.s3.meta\"? uid=0 errno=EPERM rule=append-only-xattr" \
	"$(cat "$LOG")"
s3_unmount "$M"
verify_clean "$S" "wormctl verify clean"
done_testing
