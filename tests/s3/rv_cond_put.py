"""Conditional writes (If-None-Match: *, If-Match) on PutObject and
CompleteMultipartUpload: never ignored (tests/integration/test_rv_s3lock.sh
drives it; prints name=value lines). Debian's boto3 1.26 has no
IfNoneMatch parameter: the headers are added before signing."""
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

END, BUCKET, MNT = os.environ["S3_ENDPOINT"], os.environ["S3_BUCKET"], os.environ["S3_MOUNT"]
s3 = boto3.client("s3", endpoint_url=END, region_name="us-east-1",
                  aws_access_key_id=os.environ["S3_KEY"],
                  aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
extra = {}


def add_headers(request, **kw):
    for k, v in extra.items():
        request.headers[k] = v


s3.meta.events.register("before-sign.s3.*", add_headers)


def out(k, v):
    print(f"{k}={v}", flush=True)


def call(name, fn, headers):
    extra.clear()
    extra.update(headers)
    try:
        fn()
        out(name, 200)
    except ClientError as e:
        out(name, f'{e.response["ResponseMetadata"]["HTTPStatusCode"]}:{e.response["Error"]["Code"]}')
    finally:
        extra.clear()


def body(key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


s3.put_object(Bucket=BUCKET, Key="k", Body=b"first")
etag = s3.head_object(Bucket=BUCKET, Key="k")["ETag"]
call("inm_existing", lambda: s3.put_object(Bucket=BUCKET, Key="k", Body=b"second"),
     {"If-None-Match": "*"})
out("after_inm", body("k"))
call("inm_new", lambda: s3.put_object(Bucket=BUCKET, Key="new", Body=b"created"),
     {"If-None-Match": "*"})
out("new_body", body("new"))
call("inm_etag", lambda: s3.put_object(Bucket=BUCKET, Key="k", Body=b"x"),
     {"If-None-Match": etag})
call("im_wrong", lambda: s3.put_object(Bucket=BUCKET, Key="k", Body=b"third"),
     {"If-Match": '"0123456789abcdef0123456789abcdef"'})
out("after_im_wrong", body("k"))
call("im_missing", lambda: s3.put_object(Bucket=BUCKET, Key="absent", Body=b"x"),
     {"If-Match": etag})
call("im_right", lambda: s3.put_object(Bucket=BUCKET, Key="k", Body=b"fourth"),
     {"If-Match": etag})
out("after_im_right", body("k"))
# a lock wins over a met condition
os.setxattr(os.path.join(MNT, BUCKET, "k"), "user.worm.retention", b"COMPLIANCE +1d")
etag = s3.head_object(Bucket=BUCKET, Key="k")["ETag"]
call("im_locked", lambda: s3.put_object(Bucket=BUCKET, Key="k", Body=b"fifth"),
     {"If-Match": etag})
out("after_im_locked", body("k"))
# CompleteMultipartUpload
s3.put_object(Bucket=BUCKET, Key="m", Body=b"plain")
up = s3.create_multipart_upload(Bucket=BUCKET, Key="m")["UploadId"]
part = s3.upload_part(Bucket=BUCKET, Key="m", UploadId=up, PartNumber=1, Body=b"multi")
parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
call("complete_inm", lambda: s3.complete_multipart_upload(
    Bucket=BUCKET, Key="m", UploadId=up, MultipartUpload=parts), {"If-None-Match": "*"})
out("after_complete_inm", body("m"))
call("complete_plain", lambda: s3.complete_multipart_upload(
    Bucket=BUCKET, Key="m", UploadId=up, MultipartUpload=parts), {})
out("after_complete_plain", body("m"))
# CopyObject: the destination's conditions (AWS: If-None-Match: * and
# If-Match on the copy's target), never ignored either
s3.put_object(Bucket=BUCKET, Key="csrc", Body=b"copied")
s3.put_object(Bucket=BUCKET, Key="cdst", Body=b"target")
src = {"Bucket": BUCKET, "Key": "csrc"}
call("copy_inm", lambda: s3.copy_object(Bucket=BUCKET, Key="cdst", CopySource=src),
     {"If-None-Match": "*"})
out("after_copy_inm", body("cdst"))
call("copy_im_wrong", lambda: s3.copy_object(Bucket=BUCKET, Key="cdst", CopySource=src),
     {"If-Match": '"0123456789abcdef0123456789abcdef"'})
out("after_copy_im_wrong", body("cdst"))
call("copy_inm_new", lambda: s3.copy_object(Bucket=BUCKET, Key="cnew", CopySource=src),
     {"If-None-Match": "*"})
out("copy_new_body", body("cnew"))
# The object an If-Match write was checked against, deleted or replaced
# through the mount while the body is on its way: AWS answers 409
# ConditionalRequestConflict for the deletion, 412 when another object
# finished first; nothing is written under the key either way.
import io
import threading

sending = threading.Event()


def mark_sending(**kw):
    sending.set()


s3.meta.events.register("before-send.s3.PutObject", mark_sending)


class GatedBody(io.RawIOBase):
    """8 MiB whose reads, once the request is on the wire (after the
    signer's pass), stop after 1 MiB until the test releases them."""

    def __init__(self):
        self.data, self.pos = b"g" * (8 << 20), 0
        self.blocked, self.release = threading.Event(), threading.Event()

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (self.pos + off if whence == 1 else len(self.data) + off)
        return self.pos

    def tell(self):
        return self.pos

    def readinto(self, b):
        if sending.is_set() and self.pos >= (1 << 20) and not self.release.is_set():
            self.blocked.set()
            self.release.wait(60)
        n = min(len(b), len(self.data) - self.pos, 65536)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def raced_put(name, key, meddle):
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"original")
    tag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
    sending.clear()
    body = GatedBody()
    t = threading.Thread(target=call, args=(name, lambda: s3.put_object(
        Bucket=BUCKET, Key=key, Body=body, ContentLength=len(body.data)), {"If-Match": tag}))
    t.start()
    if body.blocked.wait(60):
        meddle(os.path.join(MNT, BUCKET, key))
    else:
        out(name + "_gate", "never-blocked")
    body.release.set()
    t.join(120)
    try:
        got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        out("after_" + name, "g" if got.startswith(b"g") else got.decode())
    except ClientError as e:
        out("after_" + name, e.response["Error"]["Code"])


def replace_through_mount(path):
    with open(path + ".new", "wb") as f:
        f.write(b"replacement")
    os.rename(path + ".new", path)


raced_put("im_deleted_meanwhile", "cf-del", os.unlink)
raced_put("im_replaced_meanwhile", "cf-rep", replace_through_mount)
# If-Match compares strongly (RFC 7232): a weak tag never matches
s3.put_object(Bucket=BUCKET, Key="weak", Body=b"w1")
etag = s3.head_object(Bucket=BUCKET, Key="weak")["ETag"]
call("im_weak", lambda: s3.put_object(Bucket=BUCKET, Key="weak", Body=b"w2"),
     {"If-Match": "W/" + etag})
out("after_im_weak", body("weak"))
call("get_im_weak", lambda: s3.get_object(Bucket=BUCKET, Key="weak"), {"If-Match": "W/" + etag})
call("get_inm_weak", lambda: s3.get_object(Bucket=BUCKET, Key="weak"),
     {"If-None-Match": "W/" + etag})
