#!/usr/bin/env bash
# The mount's kernel caches after a change made over S3 (README "S3
# endpoint"): what S3 did is what the mount shows at once, as a local
# file system would, however warm the kernel's dentry and attribute caches
# are. Each step warms them (stat and read through the mount), changes the
# key over S3, and looks through the mount right after the S3 answer (well
# inside the 1 s entry timeout), for a number of rounds:
#  1. PutObject over an existing key (the daemon renames its temporary
#     .s3-upload-* object over it): the new bytes and size, never ENOENT
#     (the kernel's dentry named the replaced inode) nor the old size.
#  2. DeleteObject and DeleteObjects: stat gives ENOENT at once.
#  3. PutObject of a key a stat through the mount has just not found:
#     there at once, with its bytes.
#  4. CopyObject and CompleteMultipartUpload over an existing key: as 1.
#  5. A file opened through the mount before the replace (or delete) goes
#     on reading its own, old bytes (POSIX: it is the replaced inode, kept
#     while open); a new open reads the new bytes.
#  6. What stays as it was: ENOENT for a missing name (stat, unlink,
#     open), a file unlinked through the mount while open keeps working
#     through its descriptor, and changes made through the mount itself.
#  7. S3 changes racing the unmount: the daemon exits with status 0.
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S"

s3_mount "$S" "$M" || { fail "mount with S3"; done_testing; }
[ -n "$PORT" ] || { fail "S3 port in the log"; done_testing; }
mkdir "$M/coh" || fail "mkdir bucket"

# Python prints one line "NAME COUNT DETAIL" per kind of check: COUNT is
# the number of rounds that went wrong (0 expected).
out=$(S3_END=$END S3_KEY=$KEY S3_SECRET=$SECRET MNT="$M" timeout 300 "$PY" - <<'EOF' 2>&1
import errno, os, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_END"], region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(s3={"addressing_style": "path"}))
M = os.environ["MNT"]
B = "coh"
ROUNDS = 25
bad = {}
first = {}

def note(name, ok, detail=""):
    bad.setdefault(name, 0)
    if not ok:
        bad[name] += 1
        first.setdefault(name, detail)

def body(tag, i):
    return (("%s-%d;" % (tag, i)) * (i + 3)).encode()

def read_path(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError as e:
        return "errno %s" % errno.errorcode.get(e.errno, e.errno)

def stat_size(p):
    try:
        return os.stat(p).st_size
    except OSError as e:
        return "errno %s" % errno.errorcode.get(e.errno, e.errno)

def warm(p):
    stat_size(p)
    read_path(p)
    stat_size(p)

def open_now(name, p):
    try:
        return os.open(p, os.O_RDONLY)
    except OSError as e:
        note(name, False, "open: errno %s" % errno.errorcode.get(e.errno, e.errno))
        return None

def check_now(name, p, want):
    # read first (open: the kernel's dentry), then stat (its attributes)
    got = read_path(p)
    note(name + "-read", got == want, "read %r, want %r" % (got[:40], want[:40]))
    sz = stat_size(p)
    note(name + "-stat", sz == len(want), "size %r, want %d" % (sz, len(want)))

def check_stat_now(name, p, want):
    # stat first, then read
    sz = stat_size(p)
    note(name + "-stat", sz == len(want), "size %r, want %d" % (sz, len(want)))
    got = read_path(p)
    note(name + "-read", got == want, "read %r, want %r" % (got[:40], want[:40]))

# 1. PutObject over a key the mount has cached.
p = os.path.join(M, B, "dir", "obj")
s3.put_object(Bucket=B, Key="dir/obj", Body=body("first", 0))
for i in range(ROUNDS):
    warm(p)
    new = body("put", i)
    s3.put_object(Bucket=B, Key="dir/obj", Body=new)
    (check_now if i % 2 == 0 else check_stat_now)("put-replace", p, new)

# 2. DeleteObject, DeleteObjects.
for i in range(ROUNDS):
    k = "del/k%d" % i
    s3.put_object(Bucket=B, Key=k, Body=body("del", i))
    q = os.path.join(M, B, k)
    warm(q)
    s3.delete_object(Bucket=B, Key=k)
    note("delete-stat", stat_size(q) == "errno ENOENT", "stat gave %r" % (stat_size(q),))
    note("delete-open", read_path(q) == "errno ENOENT", "open gave %r" % (read_path(q),))
    note("delete-listdir", ("k%d" % i) not in os.listdir(os.path.join(M, B, "del")), "listed")
for i in range(ROUNDS // 5):
    keys = ["mdel/k%d-%d" % (i, j) for j in range(5)]
    for k in keys:
        s3.put_object(Bucket=B, Key=k, Body=body("mdel", i))
        warm(os.path.join(M, B, k))
    s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": k} for k in keys]})
    for k in keys:
        q = os.path.join(M, B, k)
        note("delete-objects-stat", stat_size(q) == "errno ENOENT", "stat gave %r" % (stat_size(q),))

# 3. A new key after a failed stat through the mount (negative entry).
for i in range(ROUNDS):
    k = "neg/k%d" % i
    q = os.path.join(M, B, k)
    os.makedirs(os.path.dirname(q), exist_ok=True)
    note("new-before", stat_size(q) == "errno ENOENT", "stat gave %r" % (stat_size(q),))
    new = body("neg", i)
    s3.put_object(Bucket=B, Key=k, Body=new)
    check_stat_now("new-key", q, new)

# 4. CopyObject and CompleteMultipartUpload over a cached key.
p = os.path.join(M, B, "copy", "dst")
s3.put_object(Bucket=B, Key="copy/dst", Body=body("dst", 0))
for i in range(ROUNDS):
    new = body("copysrc", i)
    s3.put_object(Bucket=B, Key="copy/src", Body=new)
    warm(p)
    s3.copy_object(Bucket=B, Key="copy/dst", CopySource={"Bucket": B, "Key": "copy/src"})
    check_now("copy-replace", p, new)
p = os.path.join(M, B, "mpu", "obj")
s3.put_object(Bucket=B, Key="mpu/obj", Body=body("mpu", 0))
for i in range(ROUNDS // 2):
    warm(p)
    new = body("mpu-part", i)
    u = s3.create_multipart_upload(Bucket=B, Key="mpu/obj")["UploadId"]
    e = s3.upload_part(Bucket=B, Key="mpu/obj", UploadId=u, PartNumber=1, Body=new)["ETag"]
    s3.complete_multipart_upload(Bucket=B, Key="mpu/obj", UploadId=u,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    check_now("mpu-replace", p, new)

# 5. A descriptor opened before the replace or the delete: its own bytes.
p = os.path.join(M, B, "fd")
for i in range(ROUNDS // 5):
    old, new = body("fd-old", i), body("fd-new-longer", i)
    s3.put_object(Bucket=B, Key="fd", Body=old)
    fd = open_now("fd-open-after-put", p)
    if fd is None:
        continue
    note("fd-before", os.pread(fd, 1 << 16, 0) == old, "first read")
    s3.put_object(Bucket=B, Key="fd", Body=new)
    got = os.pread(fd, 1 << 16, 0)
    note("fd-after-replace-old-bytes", got == old, "read %r" % got[:40])
    note("fd-after-replace-fstat", os.fstat(fd).st_size == len(old), "fstat %d" % os.fstat(fd).st_size)
    check_now("fd-new-open", p, new)
    os.close(fd)
    fd = open_now("fd-open-after-replace", p)
    if fd is None:
        continue
    s3.delete_object(Bucket=B, Key="fd")
    got = os.pread(fd, 1 << 16, 0)
    note("fd-after-delete-old-bytes", got == new, "read %r" % got[:40])
    note("fd-after-delete-stat", stat_size(p) == "errno ENOENT", "stat gave %r" % (stat_size(p),))
    os.close(fd)

# 6. Unchanged: a missing name is ENOENT; an unlinked open file works.
q = os.path.join(M, B, "nope")
note("missing-stat", stat_size(q) == "errno ENOENT", stat_size(q))
note("missing-open", read_path(q) == "errno ENOENT", read_path(q))
try:
    os.unlink(q)
    note("missing-unlink", False, "unlinked")
except OSError as e:
    note("missing-unlink", e.errno == errno.ENOENT, errno.errorcode.get(e.errno))
q = os.path.join(M, B, "local")
with open(q, "wb") as f:
    f.write(b"local bytes")
fd = os.open(q, os.O_RDONLY)
os.unlink(q)
note("unlinked-open-read", os.pread(fd, 100, 0) == b"local bytes", "read")
note("unlinked-open-fstat", os.fstat(fd).st_size == 11, "fstat")
os.close(fd)
note("unlinked-stat", stat_size(q) == "errno ENOENT", stat_size(q))
q2 = os.path.join(M, B, "local2")
with open(q, "wb") as f:
    f.write(b"one")
os.rename(q, q2)
note("mount-rename", read_path(q2) == b"one" and stat_size(q) == "errno ENOENT", "rename")

for k in sorted(bad):
    print("%s %d %s" % (k, bad[k], first.get(k, "")))
EOF
)
rc=$?
check_eq "the S3 and mount script ran (exit 0)" 0 "$rc"
[ $rc -eq 0 ] || diag "$out"
while read -r name count detail; do
	case "$name" in ''|Traceback*) continue ;; esac
	case "$count" in *[!0-9]*|'') diag "$name $count $detail"; continue ;; esac
	check_eq "$name: rounds showing the old state through the mount" 0 "$count"
	[ "$count" = 0 ] || diag "first: $detail"
done <<<"$out"
names=" $(printf '%s\n' "$out" | awk '{print $1}' | tr '\n' ' ')"
for k in put-replace-read put-replace-stat delete-stat delete-objects-stat new-key-stat \
	copy-replace-read mpu-replace-read fd-after-replace-old-bytes fd-after-delete-old-bytes \
	missing-unlink unlinked-open-read; do
	case "$names" in *" $k "*) ;; *) fail "the check $k ran" ;; esac
done

# 7. S3 changes racing the unmount: the daemon stops cleanly (no
# invalidation is sent through a session being torn down).
S3_END=$END S3_KEY=$KEY S3_SECRET=$SECRET "$PY" - <<'EOF' >/dev/null 2>&1 &
import os, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["S3_END"], region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
for i in range(100000):
    try:
        s3.put_object(Bucket="coh", Key="race/k%d" % (i % 7), Body=b"x" * (i % 100))
        s3.delete_object(Bucket="coh", Key="race/k%d" % ((i + 3) % 7))
    except Exception:
        pass
EOF
RACER=$!
for _ in $(seq 1 100); do [ -e "$M/coh/race" ] && break; sleep 0.05; done
ls "$M/coh/race" >/dev/null 2>&1
s3_unmount "$M"
kill "$RACER" 2>/dev/null; wait "$RACER" 2>/dev/null
verify_clean "$S" "verify at the end"
done_testing
