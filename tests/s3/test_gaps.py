"""The S3 gaps the last security review left open (README "S3 endpoint"),
with Debian's boto3 against a mounted store, run by
tests/integration/test_s3_gaps.sh. Environment: S3_ENDPOINT, S3_MOUNT,
S3_KEY/S3_SECRET (uid 0), S3_KEY2/S3_SECRET2 (bob), S3_KEY3/S3_SECRET3
(carol), S3_KEY4/S3_SECRET4 (olga, owner of a shared bucket, uid
S3_OLGA_UID)."""
import errno
import os

import boto3
import botocore
import pytest
from botocore.config import Config

END = os.environ["S3_ENDPOINT"]
MNT = os.environ["S3_MOUNT"]
OLGA = int(os.environ["S3_OLGA_UID"])


def client(n=""):
    return boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=os.environ["S3_KEY" + n],
        aws_secret_access_key=os.environ["S3_SECRET" + n],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def err(exc):
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def ids(resp):
    return sorted(u["UploadId"] for u in resp.get("Uploads", []))


def test_list_multipart_uploads_shows_only_own_unless_bucket_owner():
    admin, bob, carol, olga = client(), client("2"), client("3"), client("4")
    b = "gaps-mpu"
    admin.create_bucket(Bucket=b)
    # olga's bucket, world-writable: bob and carol may both upload into it
    os.chown(os.path.join(MNT, b), OLGA, OLGA)
    os.chmod(os.path.join(MNT, b), 0o777)
    u1 = bob.create_multipart_upload(Bucket=b, Key="bob/k1")["UploadId"]
    u2 = carol.create_multipart_upload(Bucket=b, Key="carol/k2")["UploadId"]
    u3 = carol.create_multipart_upload(Bucket=b, Key="top")["UploadId"]

    r = bob.list_multipart_uploads(Bucket=b)
    assert ids(r) == [u1]
    assert r["Uploads"][0]["Initiator"]["DisplayName"] == os.environ["S3_KEY2"]
    # never another user's key id, key or prefix
    text = repr(r)
    assert os.environ["S3_KEY3"] not in text and "carol" not in text and "top" not in text
    r = bob.list_multipart_uploads(Bucket=b, Delimiter="/")
    assert [c["Prefix"] for c in r.get("CommonPrefixes", [])] == ["bob/"]
    assert not r.get("Uploads")
    r = bob.list_multipart_uploads(Bucket=b, MaxUploads=1)
    assert ids(r) == [u1] and r["IsTruncated"] is False

    r = carol.list_multipart_uploads(Bucket=b)
    assert ids(r) == sorted([u2, u3])
    assert os.environ["S3_KEY2"] not in repr(r)

    # the bucket's owner and root: every upload, with its initiator
    for c in (olga, admin):
        r = c.list_multipart_uploads(Bucket=b)
        assert ids(r) == sorted([u1, u2, u3])
        who = {u["UploadId"]: u["Initiator"]["DisplayName"] for u in r["Uploads"]}
        assert who[u1] == os.environ["S3_KEY2"] and who[u2] == os.environ["S3_KEY3"]

    # using another's upload stays refused
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bob.list_parts(Bucket=b, Key="top", UploadId=u3)
    assert err(e) == (403, "AccessDenied")
    bob.abort_multipart_upload(Bucket=b, Key="bob/k1", UploadId=u1)
    carol.abort_multipart_upload(Bucket=b, Key="carol/k2", UploadId=u2)
    carol.abort_multipart_upload(Bucket=b, Key="top", UploadId=u3)


def test_mkdir_of_the_multipart_name_is_refused_and_multipart_works():
    s3 = client()
    b = "gaps-rsv"
    s3.create_bucket(Bucket=b)
    for make in (lambda p: os.mkdir(p, 0o755),
                 lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)),
                 lambda p: os.symlink("x", p)):
        with pytest.raises(OSError) as e:
            make(os.path.join(MNT, b, ".s3-multipart"))
        assert e.value.errno == errno.EPERM
    os.mkdir(os.path.join(MNT, b, "d"))
    with pytest.raises(OSError) as e:
        os.rename(os.path.join(MNT, b, "d"), os.path.join(MNT, b, ".s3-multipart"))
    assert e.value.errno == errno.EPERM
    # deeper than the bucket the name is an ordinary one
    os.mkdir(os.path.join(MNT, b, "d", ".s3-multipart"))
    # so multipart works in that bucket (a plain one made it 403)
    up = s3.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=b"mpu body")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    with open(os.path.join(MNT, b, "big"), "rb") as f:
        assert f.read() == b"mpu body"
    # the staging directory cannot be replaced nor exchanged away
    with pytest.raises(OSError) as e:
        os.rename(os.path.join(MNT, b, "d"), os.path.join(MNT, b, ".s3-multipart"))
    assert e.value.errno == errno.EPERM


def test_a_directory_named_like_an_upload_is_listed():
    s3 = client()
    b = "gaps-upd"
    s3.create_bucket(Bucket=b)
    os.mkdir(os.path.join(MNT, b, ".s3-upload-mine"))
    with open(os.path.join(MNT, b, ".s3-upload-mine", "real"), "wb") as f:
        f.write(b"a real key")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
    assert keys == [".s3-upload-mine/real"]
    r = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [c["Prefix"] for c in r.get("CommonPrefixes", [])] == [".s3-upload-mine/"]
    assert s3.get_object(Bucket=b, Key=".s3-upload-mine/real")["Body"].read() == b"a real key"
    # an upload's temporary file (a file of that name) stays hidden
    with open(os.path.join(MNT, b, ".s3-upload-0123456789ABCDEF-0123456789abcdef"), "wb") as f:
        f.write(b"tmp")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])] == keys


def test_delete_bucket_with_uploads_in_progress():
    s3, bob = client(), client("2")
    b = "gaps-del"
    s3.create_bucket(Bucket=b)
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"part")
    s3.create_multipart_upload(Bucket=b, Key="a/b")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bob.delete_bucket(Bucket=b)
    assert err(e) == (403, "AccessDenied")
    assert len(s3.list_multipart_uploads(Bucket=b)["Uploads"]) == 2
    s3.put_object(Bucket=b, Key="obj", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert err(e) == (409, "BucketNotEmpty")
    assert len(s3.list_multipart_uploads(Bucket=b)["Uploads"]) == 2
    s3.delete_object(Bucket=b, Key="obj")
    s3.delete_bucket(Bucket=b)
    assert not os.path.exists(os.path.join(MNT, b))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=b)
    assert err(e)[0] == 404


def test_dates_before_1970_round_down():
    """An object timestamped before 1970 through the mount (touch -d
    @-1.5): LastModified is 1969-12-31T23:59:58.500Z, not a date with a
    negative fraction, and Last-Modified the whole second before it."""
    s3 = client()
    b = "gaps-dates"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="old", Body=b"x")
    os.utime(os.path.join(MNT, b, "old"), ns=(-1_500_000_000, -1_500_000_000))
    resp = s3.list_objects_v2(Bucket=b)
    when = resp["Contents"][0]["LastModified"]
    assert (when.year, when.month, when.day, when.hour, when.minute, when.second,
            when.microsecond) == (1969, 12, 31, 23, 59, 58, 500000)
    head = s3.head_object(Bucket=b, Key="old")
    assert head["ResponseMetadata"]["HTTPHeaders"]["last-modified"] == \
        "Wed, 31 Dec 1969 23:59:58 GMT"
    # before a record's earliest time: clamped to it (fs.c), listed without
    # an overflow (a sanitized build reports one in s3_iso_date)
    os.utime(os.path.join(MNT, b, "old"), ns=(-9_300_000_000 * 10**9, -9_300_000_000 * 10**9))
    when = s3.list_objects_v2(Bucket=b)["Contents"][0]["LastModified"]
    assert (when.year, when.month, when.day, when.microsecond) == (1677, 9, 21, 145000)


def test_etag_follows_a_same_size_rewrite_with_the_mtime_put_back():
    """The MD5 ETag of an object written over S3 holds only for the
    content it was computed on: a same-size rewrite through the mount
    whose mtime was put back (os.utime) gets a derived ETag, and a
    conditional write with the old ETag fails (before, the stamp was size
    and mtime only: the old MD5 was served for the new bytes). A stamp of
    the older form (size:mtime) is still honoured: an upgrade changes no
    ETag."""
    s3 = client()
    b = "gaps-etag"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"AAAA")
    old = s3.head_object(Bucket=b, Key="k")["ETag"]
    assert old == '"098890dde069e9abad63f19a0d9e1f32"'
    path = os.path.join(MNT, b, "k")
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(b"BBBB")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"BBBB"
    assert s3.head_object(Bucket=b, Key="k")["ETag"] != old
    extra = {"If-Match": old}

    def add(request, **kw):
        for k, v in extra.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.PutObject", add)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"CCCC")
    assert err(e) == (412, "PreconditionFailed")
    extra.clear()
    # the older stamp form, as an older version stored it (the MD5 in
    # clear: ETags are sealed since review conf, bound to the stamp)
    s3.put_object(Bucket=b, Key="legacy", Body=b"AAAA")
    lpath = os.path.join(MNT, b, "legacy")
    fields = os.getxattr(lpath, "user.s3.meta").split(b"\0")
    i = fields.index(b":stamp")
    assert fields[i + 1].count(b":") == 2
    fields[i + 1] = b":".join(fields[i + 1].split(b":")[:2])
    # the sealed ETag does not open with another stamp: a derived one
    os.setxattr(lpath, "user.s3.meta", b"\0".join(fields))
    assert s3.head_object(Bucket=b, Key="legacy")["ETag"] != old
    j = fields.index(b":etag")
    fields[j + 1] = old.strip('"').encode()
    os.setxattr(lpath, "user.s3.meta", b"\0".join(fields))
    assert s3.head_object(Bucket=b, Key="legacy")["ETag"] == old
