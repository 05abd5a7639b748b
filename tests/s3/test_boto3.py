"""S3 endpoint with a real client (Debian's boto3), run by
tests/integration/test_s3.sh against a mounted store (one namespace: the
mount is at S3_MOUNT). Environment: S3_ENDPOINT, S3_KEY/S3_SECRET (a user
with uid 0), S3_KEY2/S3_SECRET2 (uid 1000), S3_MOUNT."""
import hashlib
import http.client
import os
import socket
import time
import urllib.parse

import boto3
import botocore
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

END = os.environ["S3_ENDPOINT"]
MNT = os.environ["S3_MOUNT"]
HOST, PORT = urllib.parse.urlparse(END).hostname, urllib.parse.urlparse(END).port


def client(key=None, secret=None):
    return boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=key or os.environ["S3_KEY"],
        aws_secret_access_key=secret or os.environ["S3_SECRET"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def code(exc):
    return exc.value.response["Error"]["Code"]


def status(exc):
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def s3():
    return client()


@pytest.fixture()
def bucket(s3, request):
    name = "t-" + request.node.name.replace("_", "-")[:40].lower()
    s3.create_bucket(Bucket=name)
    return name


def sign(method, path, body=b"", headers=None):
    creds = Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"])
    h = dict(headers or {})
    h["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=END + path, data=body, headers=h)
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return dict(req.headers)


def signed(method, path, body=b"", headers=None):
    """A request signed like boto3's, sent raw (bad bodies that boto3
    would not send)."""
    h = sign(method, path, body, headers)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def test_buckets(s3):
    s3.create_bucket(Bucket="t-buckets")
    assert "t-buckets" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket="t-buckets")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="t-buckets")
    assert code(e) == "BucketAlreadyOwnedByYou"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert code(e) == "InvalidBucketName"
    assert os.path.isdir(os.path.join(MNT, "t-buckets"))
    s3.delete_bucket(Bucket="t-buckets")
    # the kernel may keep the name cached for attr_timeout (README, S3
    # endpoint: what the mount sees of S3 changes)
    for _ in range(100):
        if not os.path.exists(os.path.join(MNT, "t-buckets")):
            break
        time.sleep(0.1)
    assert not os.path.exists(os.path.join(MNT, "t-buckets"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket="t-buckets")
    assert status(e) == 404


def test_put_get_one_namespace(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="dir/sub/obj.txt", Body=b"hello world",
                      ContentType="text/plain", Metadata={"color": "blue"},
                      CacheControl="no-cache", ContentDisposition="attachment")
    assert r["ETag"] == '"%s"' % hashlib.md5(b"hello world").hexdigest()
    # the same object in the mount
    with open(os.path.join(MNT, bucket, "dir/sub/obj.txt"), "rb") as f:
        assert f.read() == b"hello world"
    g = s3.get_object(Bucket=bucket, Key="dir/sub/obj.txt")
    assert g["Body"].read() == b"hello world"
    assert g["ContentType"] == "text/plain"
    assert g["Metadata"] == {"color": "blue"}
    assert g["CacheControl"] == "no-cache"
    assert g["ContentDisposition"] == "attachment"
    assert g["ETag"] == r["ETag"]
    h = s3.head_object(Bucket=bucket, Key="dir/sub/obj.txt")
    assert h["ContentLength"] == 11
    # and back: written in the mount, read over S3
    with open(os.path.join(MNT, bucket, "from-mount"), "wb") as f:
        f.write(b"written locally")
    assert s3.get_object(Bucket=bucket, Key="from-mount")["Body"].read() == b"written locally"
    # Range and conditionals
    assert s3.get_object(Bucket=bucket, Key="dir/sub/obj.txt",
                         Range="bytes=6-10")["Body"].read() == b"world"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/sub/obj.txt", IfNoneMatch=r["ETag"])
    assert status(e) == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/sub/obj.txt", IfMatch='"nope"')
    assert status(e) == 412
    g = s3.get_object(Bucket=bucket, Key="dir/sub/obj.txt", ResponseContentType="x/y")
    assert g["ContentType"] == "x/y"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(e) == "NoSuchKey"


def test_big_object(s3, bucket):
    data = os.urandom(9 * 1024 * 1024 + 17)
    r = s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    assert os.path.getsize(os.path.join(MNT, bucket, "big")) == len(data)


def test_list(s3, bucket):
    for k in ["a/1", "a/2", "b", "c/d/e", "c-x", "sp ace+plus"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b", "c-x", "sp ace+plus"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="c")
    assert [o["Key"] for o in r["Contents"]] == ["c-x", "c/d/e"]
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                            PaginationConfig={"PageSize": 2}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == ["a/1", "a/2", "b", "c-x", "c/d/e", "sp ace+plus"]
    keys = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket,
                                                         PaginationConfig={"PageSize": 2}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == ["a/1", "a/2", "b", "c-x", "c/d/e", "sp ace+plus"]
    # boto3 asks for encoding-type=url and decodes
    r = s3.list_objects(Bucket=bucket, Prefix="sp")
    assert [o["Key"] for o in r["Contents"]] == ["sp ace+plus"]


def test_delete_objects(s3, bucket):
    for k in ["x1", "x2"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"},
                                                             {"Key": "never"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["never", "x1", "x2"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_lock_through_mount_refuses_s3_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="locked", Body=b"precious")
    path = os.path.join(MNT, bucket, "locked")
    os.setxattr(path, "user.worm.retention", b"GOVERNANCE +1d")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="locked")
    assert code(e) == "AccessDenied" and status(e) == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="locked", Body=b"overwrite")
    assert code(e) == "AccessDenied"
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "locked"}]})
    assert r["Errors"][0]["Key"] == "locked" and r["Errors"][0]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="locked")["Body"].read() == b"precious"
    with open(path, "rb") as f:
        assert f.read() == b"precious"


def test_keys_that_are_not_paths(s3, bucket):
    for k in ["a//b", "a/./b", "a/../b", "x" * 256]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x")
        assert status(e) == 400, k
    s3.put_object(Bucket=bucket, Key="file", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="file/child", Body=b"x")
    assert status(e) == 409 and code(e) == "ParentIsObject"
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")
    assert os.path.isdir(os.path.join(MNT, bucket, "dir"))


def test_auth_refusals(bucket):
    bad = client(secret="X" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert code(e) == "SignatureDoesNotMatch"
    unknown = client(key="AKIAUNKNOWNUNKNOWN00", secret="X" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.list_objects_v2(Bucket=bucket)
    assert code(e) == "InvalidAccessKeyId"
    # anonymous
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/" + bucket)
    r = c.getresponse()
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.read()


def test_mode_bits_for_other_users(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    os.chmod(os.path.join(MNT, bucket, "private"), 0o600)
    other = client(os.environ["S3_KEY2"], os.environ["S3_SECRET2"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.get_object(Bucket=bucket, Key="private")
    assert code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.put_object(Bucket=bucket, Key="intruder", Body=b"x")
    assert code(e) == "AccessDenied"
    assert bucket not in [b["Name"] for b in other.list_buckets()["Buckets"]]


def test_bad_input_keeps_daemon_alive(s3, bucket):
    st, body = signed("POST", "/%s?delete" % bucket, b"<Delete><Object><Key>k</Key>")
    assert st == 400 and b"MalformedXML" in body
    st, body = signed("POST", "/%s?delete" % bucket,
                      b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                      b"<Delete><Object><Key>&x;</Key></Object></Delete>")
    assert st == 400 and b"MalformedXML" in body
    st, body = signed("GET", "/%s?acl" % bucket)
    assert st == 501 and b"NotImplemented" in body
    # a huge header
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.putrequest("GET", "/" + bucket)
    c.putheader("x-amz-meta-huge", "a" * 300000)
    try:
        c.endheaders()
        st = c.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        st = 431   # closed while we were still sending: refused too
    assert 400 <= st < 500
    # a signed PUT whose connection drops after 1/10 of its body
    full = b"z" * 1000000
    h = sign("PUT", "/%s/dropped" % bucket, full)
    head = "PUT /%s/dropped HTTP/1.1\r\nHost: %s:%d\r\n" % (bucket, HOST, PORT)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in h.items())
    head += "Content-Length: %d\r\n\r\n" % len(full)
    s = socket.create_connection((HOST, PORT))
    s.sendall(head.encode() + full[:100000])
    time.sleep(0.2)   # let the server take the first pieces (not asserted)
    s.close()
    s3.list_buckets()   # alive
    for _ in range(600):
        if not [n for n in os.listdir(os.path.join(MNT, bucket)) if n.startswith(".s3-upload-")]:
            break
        time.sleep(0.05)
    assert os.listdir(os.path.join(MNT, bucket)) == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dropped")
    assert status(e) == 404
    # a bad Content-MD5 stores nothing
    st, body = signed("PUT", "/%s/md5" % bucket, b"abc",
                      {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    assert st == 400 and b"BadDigest" in body
    assert not os.path.exists(os.path.join(MNT, bucket, "md5"))


def test_presigned_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared", Body=b"presigned body")
    # Debian's boto3 presigns with SigV2 by default: refused with a 400
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"},
                                    ExpiresIn=300)
    u = urllib.parse.urlparse(url)
    assert "AWSAccessKeyId=" in u.query
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    body = r.read()
    assert r.status == 400 and b"AWS4-HMAC-SHA256" in body, body
    s3 = boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"},
                                    ExpiresIn=300)
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"presigned body"
    # tampered: another key with the same signature
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", u.path + "x?" + u.query)
    r = c.getresponse()
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.read()


def test_chunked_transfer_encoding(s3, bucket):
    """HTTP chunked framing (no Content-Length), UNSIGNED-PAYLOAD."""
    creds = Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"])
    path = "/%s/chunked" % bucket
    req = AWSRequest(method="PUT", url=END + path,
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    head = "PUT %s HTTP/1.1\r\nHost: %s:%d\r\nTransfer-Encoding: chunked\r\n" % (path, HOST, PORT)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in req.headers.items())
    head += "Connection: close\r\n\r\n"
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    s = socket.create_connection((HOST, PORT))
    s.sendall(head.encode() + body)
    resp = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        resp += d
    s.close()
    assert resp.startswith(b"HTTP/1.1 200"), resp
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello world"


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="orig", Body=b"to be copied", ContentType="text/x-a",
                  Metadata={"k": "v"})
    s3.create_bucket(Bucket=bucket + "-dst")
    r = s3.copy_object(Bucket=bucket + "-dst", Key="a/copy",
                       CopySource={"Bucket": bucket, "Key": "orig"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"to be copied").hexdigest()
    g = s3.get_object(Bucket=bucket + "-dst", Key="a/copy")
    assert g["Body"].read() == b"to be copied"
    assert g["ContentType"] == "text/x-a" and g["Metadata"] == {"k": "v"}
    with open(os.path.join(MNT, bucket + "-dst", "a/copy"), "rb") as f:
        assert f.read() == b"to be copied"
    s3.copy_object(Bucket=bucket, Key="orig", CopySource={"Bucket": bucket, "Key": "orig"},
                   MetadataDirective="REPLACE", ContentType="text/x-b")
    assert s3.head_object(Bucket=bucket, Key="orig")["ContentType"] == "text/x-b"
    # a locked target refuses the copy
    os.setxattr(os.path.join(MNT, bucket + "-dst", "a/copy"), "user.worm.retention",
                b"GOVERNANCE +1d")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket + "-dst", Key="a/copy",
                       CopySource={"Bucket": bucket, "Key": "orig"})
    assert code(e) == "AccessDenied"


def raw_get(target):
    """GET with the request-target sent byte for byte (http.client would
    refuse control characters): (status, body)."""
    s = socket.create_connection((HOST, PORT), timeout=30)
    s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
              % (HOST.encode(), PORT))
    data = b""
    while True:
        k = s.recv(65536)
        if not k:
            break
        data += k
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_sigv4_scope_is_what_is_served(s3, bucket):
    """Two request-targets with one SigV4 canonical form must name one key
    and one query: else a presigned URL (or a captured request) for one
    key reads, writes or deletes another."""
    v4 = boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    # "%" then a whitespace byte: SigV4 keeps the '%' literal (%25); the
    # path decoding must too (strtoul skips leading whitespace: "%\v1" was
    # the byte 0x01, another key)
    s3.put_object(Bucket=bucket, Key="\x01x", Body=b"other object")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "%\x0b1x"},
                                    ExpiresIn=300)
    u = urllib.parse.urlparse(url)
    assert u.path.endswith("/%25%0B1x")
    st, body = raw_get(u.path.replace("%25%0B1x", "%\x0b1x").encode() + b"?" + u.query.encode())
    assert body != b"other object" and st == 404, (st, body)
    # '+' in a query: SigV4 signs it as a literal '+' (%2B); the listing
    # must use "a+b", not "a b"
    s3.put_object(Bucket=bucket, Key="a b", Body=b"space")
    s3.put_object(Bucket=bucket, Key="a+b", Body=b"plus")
    url = v4.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket, "Prefix": "a+b"},
                                    ExpiresIn=300)
    u = urllib.parse.urlparse(url)
    assert "prefix=a%2Bb" in u.query
    for q in (u.query, u.query.replace("prefix=a%2Bb", "prefix=a+b")):
        st, body = raw_get(u.path.encode() + b"?" + q.encode())
        assert st == 200 and b"<Key>a%2Bb</Key>" in body and b"a%20b" not in body, (q, body)
    # a raw space in the request-target is no valid HTTP: refused
    st, body = raw_get(b"/" + bucket.encode() + b"/a b")
    assert st == 400, (st, body)


def test_one_host_cannot_take_every_connection(s3):
    """Slowloris: one client holding max_connections (256) idle
    connections, without credentials, blocked every other client."""
    held = []
    try:
        for _ in range(300):   # more than the default max_connections
            s = socket.create_connection((HOST, PORT), timeout=30)
            held.append(s)
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")   # never ends
            except OSError:
                pass   # over its share: closed by the server
        # another host (127.0.0.2 is loopback too) is still served
        c = socket.create_connection((HOST, PORT), timeout=30, source_address=("127.0.0.2", 0))
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.recv(12).startswith(b"HTTP/1.1 403")
        c.close()
    finally:
        for s in held:
            s.close()


def test_upload_name_cannot_be_taken_first(s3, bucket):
    """The temporary name of an upload was .s3-upload-<request id>, and
    request ids are a counter XOR a salt, sent to every client: anyone
    writing the directory through the mount could make the next names
    first and refuse other users' uploads there."""
    r = s3.put_object(Bucket=bucket, Key="probe", Body=b"x")
    last = int(r["ResponseMetadata"]["RequestId"], 16)
    # the next id differs from this one in the low t+1 bits, t = the
    # trailing ones of the counter: 64 candidates, then 64 for the one after
    names = set()
    for t in range(64):
        nxt = last ^ ((1 << (t + 1)) - 1 if t < 63 else (1 << 64) - 1)
        names.add("%016X" % nxt)
        for u in range(8):
            names.add("%016X" % (nxt ^ ((1 << (u + 1)) - 1)))
    for n in names:
        open(os.path.join(MNT, bucket, ".s3-upload-" + n), "w").close()
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="after%d" % i, Body=b"y")   # no error


def test_commit_checks_the_directory_as_it_is_then(s3, bucket):
    """A PUT whose key's directory did not exist when it began, and was
    made meanwhile by someone else without write for the caller: the
    commit is refused (403) and nothing appears there."""
    os.chmod(os.path.join(MNT, bucket), 0o777)
    body = b"0123456789" * 1000
    path = "/%s/alicedir/evil" % bucket
    creds = Credentials(os.environ["S3_KEY2"], os.environ["S3_SECRET2"])
    h = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
         "Content-Length": str(len(body))}
    req = AWSRequest(method="PUT", url=END + path, data=body, headers=h)
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.putrequest("PUT", path, skip_accept_encoding=True)
    for k, v in req.headers.items():
        c.putheader(k, v)
    c.endheaders()
    c.send(body[:4000])
    time.sleep(0.5)
    os.mkdir(os.path.join(MNT, bucket, "alicedir"), 0o755)   # root's, no w for others
    c.send(body[4000:])
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 403 and b"AccessDenied" in data, data
    assert os.listdir(os.path.join(MNT, bucket, "alicedir")) == []
    # the same PUT into a directory the caller may write works
    os.chmod(os.path.join(MNT, bucket, "alicedir"), 0o777)
    other = client(os.environ["S3_KEY2"], os.environ["S3_SECRET2"])
    other.put_object(Bucket=bucket, Key="alicedir/ok", Body=b"fine")
    assert os.listdir(os.path.join(MNT, bucket, "alicedir")) == ["ok"]


def test_stored_headers_other_than_s3_metadata_are_not_sent(s3, bucket):
    """user.s3.meta can be written through the mount: only the headers
    S3 keeps (Content-Type ..., x-amz-meta-*) come back from it."""
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", Metadata={"a": "1"})
    stored = (b"Content-Type\0text/x-mine\0x-amz-meta-b\0two\0"
              b"Set-Cookie\0session=stolen\0Access-Control-Allow-Origin\0*\0")
    os.setxattr(os.path.join(MNT, bucket, "o"), "user.s3.meta", stored)
    for op in ("get_object", "head_object"):
        r = getattr(s3, op)(Bucket=bucket, Key="o")
        hdrs = {k.lower(): v for k, v in r["ResponseMetadata"]["HTTPHeaders"].items()}
        assert hdrs.get("content-type") == "text/x-mine" and r["Metadata"] == {"b": "two"}
        assert "set-cookie" not in hdrs and "access-control-allow-origin" not in hdrs, hdrs
