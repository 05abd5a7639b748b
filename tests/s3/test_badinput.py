"""Bad input against the S3 endpoint: each gets the right 4xx (or a closed
connection), stores nothing, and the daemon still answers a good request
after it. Run by tests/integration/test_s3_conformance.sh; what
test_boto3.py already covers (malformed XML, an external entity, one huge
header, a dropped PUT, a bad Content-MD5, SigV2 presigned URLs) is not
repeated. Environment: S3_ENDPOINT, S3_KEY/S3_SECRET (uid 0), S3_MOUNT,
S3_IDLE_TIMEOUT (the server's [s3] idle_timeout, seconds)."""
import datetime
import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.parse
from unittest import mock

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
IDLE = int(os.environ.get("S3_IDLE_TIMEOUT", "120"))


def client(**cfg):
    return boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **cfg))


@pytest.fixture(scope="module")
def s3():
    return client()


@pytest.fixture()
def bucket(s3, request):
    name = ("bad-" + request.node.name.replace("_", "-")[5:30].lower().strip("-") + "-" +
            os.urandom(3).hex())
    s3.create_bucket(Bucket=name)
    return name


def alive(s3, bucket=None):
    """A good request after the bad one: the daemon still serves."""
    s3.list_buckets()
    if bucket:
        s3.put_object(Bucket=bucket, Key="alive", Body=b"ok")
        assert s3.get_object(Bucket=bucket, Key="alive")["Body"].read() == b"ok"


def sign(method, path, body=b"", headers=None, payload_hash=None):
    creds = Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"])
    h = dict(headers or {})
    h["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=END + path, data=body, headers=h)
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return dict(req.headers)


def sign_raw(method, path, body=b""):
    """SigV4 headers for a request-target sent exactly as given (botocore
    would escape a '%' in it once more): path already percent-encoded, no
    query."""
    import hmac
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    ph = hashlib.sha256(body).hexdigest()
    host = "%s:%d" % (HOST, PORT)
    canon = "\n".join([method, path, "", "host:" + host, "x-amz-content-sha256:" + ph,
                       "x-amz-date:" + now, "", "host;x-amz-content-sha256;x-amz-date", ph])
    scope = "%s/us-east-1/s3/aws4_request" % now[:8]
    sts = "\n".join(["AWS4-HMAC-SHA256", now, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + os.environ["S3_SECRET"]).encode()
    for part in (now[:8], "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-date": now, "x-amz-content-sha256": ph,
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
            "host;x-amz-content-sha256;x-amz-date, Signature=%s"
            % (os.environ["S3_KEY"], scope, sig)}


def signed(method, path, body=b"", headers=None):
    h = sign(method, path, body, headers)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def raw(data, shut=True, timeout=30):
    """Send bytes as they are; the whole answer until the server closes
    (or b"" when it closed without one)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass   # answered (and closed) before all was sent: read the answer
        out = b""
        while True:
            try:
                k = s.recv(65536)
            except ConnectionResetError:
                break
            if not k:
                break
            out += k
        return out
    finally:
        s.close()


def head_of(method, path, headers):
    h = "%s %s HTTP/1.1\r\nHost: %s:%d\r\n" % (method, path, HOST, PORT)
    h += "".join("%s: %s\r\n" % (k, v) for k, v in headers.items() if k.lower() != "host")
    return h


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else None


def no_upload_left(bucket):
    """No object and no unfinished upload: nothing was stored."""
    d = os.path.join(MNT, bucket)
    for _ in range(400):
        if not [n for n in os.listdir(d) if n.startswith(".s3-upload-")]:
            break
        time.sleep(0.05)
    return [n for n in os.listdir(d) if n != "alive"]


# ---------------------------------------------------------------- XML bodies

def test_oversized_xml_body(s3, bucket):
    # over the server's 2 MiB limit for XML bodies, announced: refused
    # before the body is read
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 80000 + b"</Delete>"
    assert len(body) > 2 << 20
    # (the head alone: the answer comes without the body)
    h = sign("POST", "/%s?delete" % bucket, body)
    resp = raw((head_of("POST", "/%s?delete" % bucket, h) +
                "Content-Length: %d\r\n\r\n" % len(body)).encode(), shut=False)
    assert status_of(resp) == 400 and b"<Code>MalformedXML</Code>" in resp, resp[:300]
    # the same without a Content-Length (HTTP chunked): cut at the limit
    h = sign("POST", "/%s?delete" % bucket, payload_hash="UNSIGNED-PAYLOAD")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    resp = raw((head_of("POST", "/%s?delete" % bucket, h) +
                "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks)
    st, data = status_of(resp), resp
    assert st == 400 and b"MalformedXML" in data, data[:300]
    alive(s3, bucket)


def test_xml_entities_and_doctype(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    laughs = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
              b"<Delete><Object><Key>&c;</Key></Object></Delete>")
    for doc in (laughs,
                b'<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>',
                b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                b"<Delete><Object><Key>k</Key></Object></Delete>",
                b"<Delete><Object><Key>k</Key></Object></Delete><Delete/>",
                b"<Other><Object><Key>k</Key></Object></Other>",
                b"\xff\xfe<\x00D\x00",
                b""):
        st, data = signed("POST", "/%s?delete" % bucket, doc)
        assert st == 400 and b"<Code>MalformedXML</Code>" in data, (doc, data)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    # CreateBucket's body too
    st, data = signed("PUT", "/bad-xml-bucket", b"<CreateBucketConfiguration><Location")
    assert st == 400 and b"MalformedXML" in data
    assert not os.path.exists(os.path.join(MNT, "bad-xml-bucket"))
    alive(s3, bucket)


# ---------------------------------------------------------------- headers

def test_huge_headers(s3, bucket):
    # 100 KiB in many headers, signed: too many headers
    hdrs = {"x-amz-meta-h%03d" % i: "v" * 500 for i in range(200)}
    h = sign("PUT", "/%s/huge" % bucket, b"x", hdrs)
    resp = raw((head_of("PUT", "/%s/huge" % bucket, h) + "Content-Length: 1\r\n\r\nx").encode())
    st = status_of(resp)
    assert st is None or 400 <= st < 500, resp[:300]
    # 100 KiB in 20 metadata headers: over S3's 2 KB of user metadata
    hdrs = {"x-amz-meta-h%03d" % i: "v" * 5000 for i in range(20)}
    h = sign("PUT", "/%s/huge" % bucket, b"x", hdrs)
    resp = raw((head_of("PUT", "/%s/huge" % bucket, h) + "Content-Length: 1\r\n\r\nx").encode())
    assert status_of(resp) == 400 and b"MetadataTooLarge" in resp, resp[:300]
    # 1 MiB of header lines: the connection's buffer cannot hold them
    resp = raw(("GET /%s HTTP/1.1\r\nHost: x\r\n" % bucket).encode() +
               b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(1024)) + b"\r\n")
    st = status_of(resp)
    assert st is None or st in (400, 413, 431), resp[:300]
    assert no_upload_left(bucket) == []
    alive(s3, bucket)


# ---------------------------------------------------------------- slow and short

def test_stalled_client_is_closed_and_others_served(s3, bucket):
    # half a request head, then nothing
    stalled = socket.create_connection((HOST, PORT), timeout=IDLE * 10 + 30)
    stalled.sendall(("PUT /%s/stalled HTTP/1.1\r\nHost: x\r\nContent-Le" % bucket).encode())
    # half a body after a complete, signed head
    body = b"s" * 100000
    h = sign("PUT", "/%s/halfbody" % bucket, body)
    half = socket.create_connection((HOST, PORT), timeout=IDLE * 10 + 30)
    half.sendall((head_of("PUT", "/%s/halfbody" % bucket, h) +
                  "Content-Length: %d\r\n\r\n" % len(body)).encode() + body[:50000])
    # others are served meanwhile
    for i in range(5):
        s3.put_object(Bucket=bucket, Key="during%d" % i, Body=b"d")
        assert s3.get_object(Bucket=bucket, Key="during%d" % i)["Body"].read() == b"d"
    # both are closed by the server (after idle_timeout; the bound here is
    # generous: the test checks that it happens, not when)
    for s in (stalled, half):
        got = b""
        try:
            while True:
                k = s.recv(65536)
                if not k:
                    break
                got += k
        except ConnectionResetError:
            pass
        s.close()
        assert b"200 OK" not in got
    left = no_upload_left(bucket)
    assert "stalled" not in left and "halfbody" not in left, left
    alive(s3, bucket)


def test_wrong_content_length(s3, bucket):
    body = b"0123456789" * 10
    # shorter than the body: the signed payload hash does not match the
    # bytes read; the rest is not a request
    h = sign("PUT", "/%s/short" % bucket, body)
    resp = raw((head_of("PUT", "/%s/short" % bucket, h) +
                "Content-Length: 40\r\n\r\n").encode() + body)
    assert status_of(resp) == 400 and b"XAmzContentSHA256Mismatch" in resp, resp[:400]
    # shorter, UNSIGNED-PAYLOAD with a Content-MD5 of the whole body
    import base64
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    h = sign("PUT", "/%s/short2" % bucket, body, {"Content-MD5": md5},
             payload_hash="UNSIGNED-PAYLOAD")
    resp = raw((head_of("PUT", "/%s/short2" % bucket, h) +
                "Content-Length: 40\r\n\r\n").encode() + body)
    assert status_of(resp) == 400 and b"BadDigest" in resp, resp[:400]
    # longer than the body: the client ends its side; the server never
    # sees the whole body and stores nothing
    h = sign("PUT", "/%s/long" % bucket, body, payload_hash="UNSIGNED-PAYLOAD")
    resp = raw((head_of("PUT", "/%s/long" % bucket, h) +
                "Content-Length: 1000\r\n\r\n").encode() + body, timeout=IDLE * 10 + 30)
    assert status_of(resp) in (None, 400), resp[:400]
    # not a number, negative, two values
    for cl in ("abc", "-5", "10, 10", "99999999999999999999999"):
        h = sign("PUT", "/%s/badlen" % bucket, b"", payload_hash="UNSIGNED-PAYLOAD")
        resp = raw((head_of("PUT", "/%s/badlen" % bucket, h) +
                    "Content-Length: %s\r\n\r\n" % cl).encode())
        assert status_of(resp) in (None, 400, 413), (cl, resp[:300])
    assert no_upload_left(bucket) == []
    for k in ("short", "short2", "long", "badlen"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket=bucket, Key=k)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    alive(s3, bucket)


# ---------------------------------------------------------------- names

def test_invalid_keys(s3, bucket):
    long_key = "/".join(["d" * 200] * 5) + "/" + "f" * 30   # 1031 bytes, parts < 255
    assert len(long_key) > 1024
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key=long_key, Body=b"x")
    assert e.value.response["Error"]["Code"] == "KeyTooLongError"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ok_key = "/".join(["d" * 200] * 5) + "/" + "f" * 19   # exactly 1024
    assert len(ok_key) == 1024
    s3.put_object(Bucket=bucket, Key=ok_key, Body=b"max")
    assert s3.get_object(Bucket=bucket, Key=ok_key)["Body"].read() == b"max"
    for k in ("/lead", "trail/..", ".", "..", "a/./b/", "x/" + "y" * 256 + "/z"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x")
        assert e.value.response["Error"]["Code"] == "InvalidArgument", k
        for op in (s3.get_object, s3.delete_object):
            try:
                op(Bucket=bucket, Key=k)
                raise AssertionError("accepted %r" % k)
            except botocore.exceptions.ClientError as e2:
                assert e2.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404), k
    # a NUL byte and bytes that are not UTF-8, sent raw
    for enc in ("a%00b", "a%FFb", "%C3%28"):
        h = sign_raw("PUT", "/%s/%s" % (bucket, enc), b"x")
        resp = raw((head_of("PUT", "/%s/%s" % (bucket, enc), h) +
                    "Content-Length: 1\r\n\r\nx").encode())
        assert status_of(resp) == 400 and b"InvalidArgument" in resp, (enc, resp[:300])
    assert sorted(os.listdir(os.path.join(MNT, bucket))) == ["d" * 200]
    alive(s3, bucket)


def test_bad_bucket_names(s3):
    for name in ("ab", "a" * 64, "UPPER", "under_score", "-lead", "trail-", "a..b",
                 "192.168.1.1", ".dot", "xn--abc", "x-s3alias-ok-s3alias"):
        st, data = signed("PUT", "/" + name)
        assert st == 400 and b"<Code>InvalidBucketName</Code>" in data, (name, st, data)
        assert not os.path.exists(os.path.join(MNT, urllib.parse.unquote(name)))
    alive(s3)


# ---------------------------------------------------------------- Range

def test_bad_range_headers_serve_the_whole_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    # malformed ranges are ignored, as S3 does: 200 and the whole object
    for rg in ("bytes=--1", "bytes=1--2", "bytes=-+3", "bytes=+1-2", "bytes= 1-2",
               "bytes=abc", "bytes=5-2", "bytes=1-2-3", "items=0-1", "bytes=", "bytes=-",
               "bytes=0x1-2", "bytes=1-0x2", "bytes=1- 2"):
        r = s3.get_object(Bucket=bucket, Key="r", Range=rg)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200, rg
        assert r["Body"].read() == b"0123456789", rg
        assert "ContentRange" not in r, rg
    alive(s3, bucket)


# ---------------------------------------------------------------- auth

def test_presigned_expiry_over_seven_days(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"p")
    v4 = client(signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"},
                                    ExpiresIn=604801)
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    data = r.read()
    assert r.status == 400 and b"AuthorizationQueryParametersError" in data, data
    assert b"604800" in data
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"},
                                    ExpiresIn=604800)
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"p"
    alive(s3, bucket)


def test_clock_skew(s3, bucket):
    real = datetime.datetime

    class Skewed(real):
        offset = datetime.timedelta(minutes=20)

        @classmethod
        def utcnow(cls):
            return real.utcnow() - cls.offset

    for off in (datetime.timedelta(minutes=20), -datetime.timedelta(minutes=20)):
        Skewed.offset = off
        with mock.patch("botocore.auth.datetime.datetime", Skewed):
            h = sign("GET", "/%s" % bucket)
        c = http.client.HTTPConnection(HOST, PORT, timeout=30)
        c.request("GET", "/%s" % bucket, headers=h)
        r = c.getresponse()
        data = r.read()
        assert r.status == 403 and b"<Code>RequestTimeTooSkewed</Code>" in data, data
    # 10 minutes is within the 15 allowed
    Skewed.offset = datetime.timedelta(minutes=10)
    with mock.patch("botocore.auth.datetime.datetime", Skewed):
        h = sign("GET", "/%s" % bucket)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/%s" % bucket, headers=h)
    assert c.getresponse().status == 200
    alive(s3, bucket)


def test_sigv2_authorization_header(s3, bucket):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/%s" % bucket, headers={
        "Date": date, "Authorization": "AWS %s:c2lnbmF0dXJlIHYy" % os.environ["S3_KEY"]})
    r = c.getresponse()
    data = r.read()
    assert r.status == 400 and b"AWS4-HMAC-SHA256" in data, data
    # and boto3 configured for SigV2 (s3 signature "s3")
    v2 = client(signature_version="s3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        v2.list_objects(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    alive(s3, bucket)
