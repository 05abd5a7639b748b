"""What the S3 conformance suites (Ceph's s3-tests, which RGW and MinIO
run) check about the operations this endpoint has, written here as our
own tests: listing edge cases, conditional GET/HEAD, Range forms,
response-* overrides, metadata, bucket errors, DeleteObjects quiet mode,
CopyObject directives, the public-read canned ACL. Run by
tests/integration/test_s3_conformance.sh. Environment: S3_ENDPOINT,
S3_KEY/S3_SECRET (uid 0), S3_KEY2/S3_SECRET2 (uid 1000), S3_MOUNT."""
import datetime
import email.utils
import hashlib
import http.client
import os
import time
import urllib.parse

import boto3
import botocore
import pytest
from botocore import UNSIGNED
from botocore.config import Config

END = os.environ["S3_ENDPOINT"]
MNT = os.environ["S3_MOUNT"]
HOST, PORT = urllib.parse.urlparse(END).hostname, urllib.parse.urlparse(END).port


def client(key=None, secret=None, **cfg):
    return boto3.client(
        "s3", endpoint_url=END, region_name="us-east-1",
        aws_access_key_id=key or os.environ["S3_KEY"],
        aws_secret_access_key=secret or os.environ["S3_SECRET"],
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **cfg))


def anon():
    return boto3.client("s3", endpoint_url=END, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


def err(e):
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture(scope="module")
def s3():
    return client()


@pytest.fixture()
def bucket(s3, request):
    import re
    name = ("cf-" + re.sub("[^a-z0-9]+", "-", request.node.name[5:32].lower()).strip("-") +
            "-" + os.urandom(3).hex())
    s3.create_bucket(Bucket=name)
    return name


def put_keys(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")


def keys_of(r):
    return [o["Key"] for o in r.get("Contents", [])]


def prefixes_of(r):
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


# ---------------------------------------------------------------- listings

def test_list_max_keys(s3, bucket):
    put_keys(s3, bucket, ["bar", "baz", "foo", "quxx"])
    r = s3.list_objects(Bucket=bucket, MaxKeys=0)
    assert keys_of(r) == [] and r["IsTruncated"] is False and r["MaxKeys"] == 0
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert keys_of(r) == [] and r["IsTruncated"] is False and r["KeyCount"] == 0
    r = s3.list_objects(Bucket=bucket, MaxKeys=1)
    assert keys_of(r) == ["bar"] and r["IsTruncated"] is True
    r = s3.list_objects(Bucket=bucket, MaxKeys=4)
    assert len(keys_of(r)) == 4 and r["IsTruncated"] is False
    r = s3.list_objects(Bucket=bucket)
    assert r["MaxKeys"] == 1000
    st, body = raw_signed("GET", "/%s?max-keys=blah" % bucket)
    assert st == 400 and b"InvalidArgument" in body


def test_list_markers(s3, bucket):
    put_keys(s3, bucket, ["bar", "baz", "foo", "quxx"])
    r = s3.list_objects(Bucket=bucket, Marker="")
    assert r["Marker"] == "" and keys_of(r) == ["bar", "baz", "foo", "quxx"]
    r = s3.list_objects(Bucket=bucket, Marker="\n")
    assert r["Marker"] == "\n" and len(keys_of(r)) == 4
    r = s3.list_objects(Bucket=bucket, Marker="azy")
    assert keys_of(r) == ["bar", "baz", "foo", "quxx"]
    r = s3.list_objects(Bucket=bucket, Marker="baz")
    assert keys_of(r) == ["foo", "quxx"]
    r = s3.list_objects(Bucket=bucket, Marker="zzz")
    assert r["Marker"] == "zzz" and keys_of(r) == [] and r["IsTruncated"] is False
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="zzz")
    assert r["StartAfter"] == "zzz" and keys_of(r) == [] and r["KeyCount"] == 0
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="bar", MaxKeys=2)
    assert keys_of(r) == ["baz", "foo"] and r["IsTruncated"] is True
    r = s3.list_objects_v2(Bucket=bucket, ContinuationToken=r["NextContinuationToken"])
    assert keys_of(r) == ["quxx"] and r["IsTruncated"] is False
    # v1 with a delimiter names the next marker when truncated
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert r["IsTruncated"] is True and r["NextMarker"] == "baz"


def test_list_v2_pages_over_keys_xml_cannot_carry(s3, bucket):
    """A key with a control byte shows as U+FFFD in XML text (XML 1.0 has
    no way to carry it); the continuation token held the key as XML text,
    so the next page started after "a\ufffdb" and every key between was
    never listed (review rvs3a). The token is the key in hex now."""
    keys = ["a\x01b", "a\tb", "a\x1fz", "a b", "a&b", "a<b", "x\x7f", "\u00e9"]
    put_keys(s3, bucket, keys)
    for enc in ({}, {"EncodingType": "url"}):
        got, kw = [], dict(Bucket=bucket, MaxKeys=1, **enc)
        for _ in range(20):
            r = s3.list_objects_v2(**kw)
            # boto3 decodes the keys only when it asked for url itself
            got += [urllib.parse.unquote(k) if enc else k for k in keys_of(r)]
            if not r["IsTruncated"]:
                break
            kw["ContinuationToken"] = r["NextContinuationToken"]
        assert got == sorted(keys, key=lambda k: k.encode()), (enc, got)
    # a token that no page gave: 400, not a listing from somewhere
    for bad in ("zz", "abc", "00", "61" * 1026):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.list_objects_v2(Bucket=bucket, ContinuationToken=bad)
        assert err(e) == (400, "InvalidArgument"), bad
    # the hex of a key: the page after it
    r = s3.list_objects_v2(Bucket=bucket, ContinuationToken="a b".encode().hex())
    assert keys_of(r) == ["a&b", "a<b", "x\x7f", "\u00e9"]


def test_list_delimiters(s3, bucket):
    put_keys(s3, bucket, ["bar", "baz", "cab", "foo"])
    r = s3.list_objects(Bucket=bucket, Delimiter="a")
    assert r["Delimiter"] == "a" and keys_of(r) == ["foo"]
    assert prefixes_of(r) == ["ba", "ca"]
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="a")
    assert r["KeyCount"] == 3    # keys and common prefixes
    r = s3.list_objects(Bucket=bucket, Prefix="ba", Delimiter="a")
    assert keys_of(r) == ["bar", "baz"] and prefixes_of(r) == []
    put_keys(s3, bucket, ["bazar"])
    r = s3.list_objects(Bucket=bucket, Prefix="ba", Delimiter="a")
    assert keys_of(r) == ["bar", "baz"] and prefixes_of(r) == ["baza"]
    r = s3.list_objects(Bucket=bucket, Delimiter="")
    assert "Delimiter" not in r and prefixes_of(r) == [] and len(keys_of(r)) == 5
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert r["Delimiter"] == "/" and prefixes_of(r) == [] and len(keys_of(r)) == 5
    r = s3.list_objects(Bucket=bucket, Prefix="d", Delimiter="/")
    assert keys_of(r) == [] and prefixes_of(r) == []


def test_list_prefix_delimiter_with_directories(s3, bucket):
    put_keys(s3, bucket, ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"])
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert keys_of(r) == ["asdf"] and prefixes_of(r) == ["boo/", "cquux/"]
    r = s3.list_objects(Bucket=bucket, Prefix="boo/", Delimiter="/")
    assert keys_of(r) == ["boo/bar"] and prefixes_of(r) == ["boo/baz/"]
    r = s3.list_objects(Bucket=bucket, Prefix="boo/")
    assert keys_of(r) == ["boo/bar", "boo/baz/xyzzy"] and prefixes_of(r) == []
    r = s3.list_objects_v2(Bucket=bucket, Prefix="b", Delimiter="/")
    assert keys_of(r) == [] and prefixes_of(r) == ["boo/"] and r["KeyCount"] == 1
    # pages of common prefixes
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert keys_of(r) == ["asdf"] and r["IsTruncated"] is True
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1,
                           ContinuationToken=r["NextContinuationToken"])
    assert prefixes_of(r) == ["boo/"] and r["IsTruncated"] is True
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=5,
                           ContinuationToken=r["NextContinuationToken"])
    assert prefixes_of(r) == ["cquux/"] and keys_of(r) == [] and r["IsTruncated"] is False
    # prefix with no match
    r = s3.list_objects(Bucket=bucket, Prefix="nope", Delimiter="/")
    assert keys_of(r) == [] and prefixes_of(r) == []


def test_list_encoding_type_url(s3, bucket):
    put_keys(s3, bucket, ["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b", "pct%25/x",
                          "amp&lt", "uni\u00e9"])
    st, body = raw_signed("GET", "/%s?delimiter=%%2F&encoding-type=url" % bucket)
    assert st == 200
    assert b"<EncodingType>url</EncodingType>" in body
    assert b"<Key>asdf%2Bb</Key>" in body and b"<Key>amp%26lt</Key>" in body
    assert b"<Key>uni%C3%A9</Key>" in body
    for p in (b"foo%2B1/", b"foo/", b"quux%20ab/", b"pct%2525/"):
        assert b"<Prefix>" + p + b"</Prefix>" in body, (p, body)
    # boto3 asks for encoding-type=url itself and decodes
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert keys_of(r) == ["amp&lt", "asdf+b", "uni\u00e9"]
    assert prefixes_of(r) == ["foo+1/", "foo/", "pct%25/", "quux ab/"]


def test_list_return_data_and_fetch_owner(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"twelve bytes")
    r = s3.list_objects(Bucket=bucket)
    o = r["Contents"][0]
    assert o["Size"] == 12 and o["ETag"] == '"%s"' % hashlib.md5(b"twelve bytes").hexdigest()
    h = s3.head_object(Bucket=bucket, Key="k")
    assert abs((o["LastModified"] - h["LastModified"]).total_seconds()) < 1
    assert "Owner" in o and o["Owner"]["ID"] == "0"
    r = s3.list_objects_v2(Bucket=bucket)
    assert "Owner" not in r["Contents"][0]
    r = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"] == "0"
    st, body = raw_signed("GET", "/%s?list-type=2&encoding-type=bad" % bucket)
    assert st == 400 and b"InvalidArgument" in body


# ---------------------------------------------------------------- conditionals

OLD = "Sat, 29 Oct 1994 19:43:31 GMT"
FUTURE = "Sat, 29 Oct 2100 19:43:31 GMT"


@pytest.mark.parametrize("op", ["get_object", "head_object"])
def test_conditional_requests(s3, bucket, op):
    r = s3.put_object(Bucket=bucket, Key="c", Body=b"bar")
    etag = r["ETag"]
    call = getattr(s3, op)
    assert call(Bucket=bucket, Key="c", IfMatch=etag)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(Bucket=bucket, Key="c", IfMatch='"ABCORZ"')
    assert err(e)[0] == 412
    if op == "get_object":
        assert err(e)[1] == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err(e)[0] == 304
    r = call(Bucket=bucket, Key="c", IfNoneMatch='"ABCORZ"')
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert call(Bucket=bucket, Key="c", IfMatch="*")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(Bucket=bucket, Key="c", IfNoneMatch="*")
    assert err(e)[0] == 304
    # dates
    assert call(Bucket=bucket, Key="c", IfModifiedSince=OLD)["ResponseMetadata"]["HTTPStatusCode"] == 200
    lm = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    after = email.utils.format_datetime(
        (lm + datetime.timedelta(seconds=1)).astimezone(datetime.timezone.utc), usegmt=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(Bucket=bucket, Key="c", IfModifiedSince=after)
    assert err(e)[0] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(Bucket=bucket, Key="c", IfUnmodifiedSince=OLD)
    assert err(e)[0] == 412
    r = call(Bucket=bucket, Key="c", IfUnmodifiedSince=FUTURE)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    # If-Match true wins over If-Unmodified-Since false (RFC 7232, S3)
    r = call(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=OLD)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    # a date that does not parse is ignored
    st, _, _ = raw_get_headers(bucket, "c", {"If-Modified-Since": "not a date"})
    assert st == 200
    # the 304 carries the ETag
    st, hdrs, _ = raw_get_headers(bucket, "c", {"If-None-Match": etag})
    assert st == 304 and hdrs.get("etag") == etag


# ---------------------------------------------------------------- Range

def test_range_forms(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"testcontent")
    for rg, body, cr in (("bytes=4-7", b"cont", "bytes 4-7/11"),
                         ("bytes=4-", b"content", "bytes 4-10/11"),
                         ("bytes=-7", b"content", "bytes 4-10/11"),
                         ("bytes=0-0", b"t", "bytes 0-0/11"),
                         ("bytes=-100", b"testcontent", "bytes 0-10/11"),
                         ("bytes=5-100", b"ontent", "bytes 5-10/11")):
        r = s3.get_object(Bucket=bucket, Key="r", Range=rg)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, rg
        assert r["Body"].read() == body and r["ContentRange"] == cr, rg
        assert r["ContentLength"] == len(body)
    for rg in ("bytes=40-50", "bytes=11-", "bytes=-0"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_object(Bucket=bucket, Key="r", Range=rg)
        assert err(e) == (416, "InvalidRange"), rg
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=40-50")
    assert err(e) == (416, "InvalidRange")
    # a big object, a range in its middle
    data = os.urandom(8 << 20)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    r = s3.get_object(Bucket=bucket, Key="big", Range="bytes=3145728-5242880")
    assert r["Body"].read() == data[3145728:5242881]
    assert r["ContentRange"] == "bytes 3145728-5242880/%d" % len(data)
    # HEAD with a range
    r = s3.head_object(Bucket=bucket, Key="r", Range="bytes=4-7")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206 and r["ContentLength"] == 4


# ---------------------------------------------------------------- response-* and metadata

def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    r = s3.get_object(Bucket=bucket, Key="o", ResponseCacheControl="no-cache",
                      ResponseContentDisposition="bla", ResponseContentEncoding="aaa",
                      ResponseContentLanguage="esperanto", ResponseContentType="foo/bar",
                      ResponseExpires="123")
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert h["content-type"] == "foo/bar" and h["content-disposition"] == "bla"
    assert h["content-language"] == "esperanto" and h["content-encoding"] == "aaa"
    assert h["cache-control"] == "no-cache"
    assert h["expires"] == "Thu, 01 Jan 1970 00:02:03 GMT"   # as boto3 sent it
    assert s3.get_object(Bucket=bucket, Key="o")["ContentType"] == "text/plain"


def test_metadata_round_trips(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"meta1": "mymeta"},
                  ContentType="text/x-test", ContentEncoding="identity",
                  ContentDisposition="attachment; filename=\"a b.txt\"",
                  CacheControl="max-age=60", ContentLanguage="en",
                  Expires=datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    for r in (s3.get_object(Bucket=bucket, Key="m"), s3.head_object(Bucket=bucket, Key="m")):
        assert r["Metadata"] == {"meta1": "mymeta"}
        assert r["ContentType"] == "text/x-test" and r["ContentEncoding"] == "identity"
        assert r["ContentDisposition"] == "attachment; filename=\"a b.txt\""
        assert r["CacheControl"] == "max-age=60" and r["ContentLanguage"] == "en"
        assert r["Expires"].year == 2030
    # overwrite: the new object's metadata only (also none)
    s3.put_object(Bucket=bucket, Key="m", Body=b"y", Metadata={"meta2": "two", "Mixed-Case": "V"})
    r = s3.head_object(Bucket=bucket, Key="m")
    assert r["Metadata"] == {"meta2": "two", "mixed-case": "V"}
    assert r["ContentType"] == "binary/octet-stream"
    s3.put_object(Bucket=bucket, Key="m", Body=b"z", Metadata={"meta1": ""})
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {"meta1": ""}
    s3.put_object(Bucket=bucket, Key="m", Body=b"z")
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {}
    # a zero-byte object
    s3.put_object(Bucket=bucket, Key="zero", Body=b"")
    r = s3.head_object(Bucket=bucket, Key="zero")
    assert r["ContentLength"] == 0 and r["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


# ---------------------------------------------------------------- buckets

def test_bucket_errors(s3):
    other = client(os.environ["S3_KEY2"], os.environ["S3_SECRET2"])
    name = "cf-bucket-errors-" + os.urandom(3).hex()
    s3.create_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert err(e) == (409, "BucketAlreadyOwnedByYou")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.create_bucket(Bucket=name)
    assert err(e) == (409, "BucketAlreadyExists")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert err(e) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    for call in (lambda: s3.delete_bucket(Bucket=name),
                 lambda: s3.list_objects(Bucket=name),
                 lambda: s3.list_objects_v2(Bucket=name),
                 lambda: s3.put_object(Bucket=name, Key="k", Body=b"x"),
                 lambda: s3.get_object(Bucket=name, Key="k"),
                 lambda: s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]}),
                 lambda: s3.get_bucket_location(Bucket=name)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == (404, "NoSuchBucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert err(e)[0] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-9"})
    assert err(e) == (400, "InvalidLocationConstraint")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
    s3.delete_bucket(Bucket=name)


def test_object_errors(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert err(e)[0] == 404
    # deleting a missing key is a success
    r = s3.delete_object(Bucket=bucket, Key="missing")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    # the request id of an error is the header's
    st, hdrs, body = raw_get_headers(bucket, "missing", {})
    assert st == 404
    assert b"<RequestId>%s</RequestId>" % hdrs["x-amz-request-id"].encode() in body


# ---------------------------------------------------------------- DeleteObjects

def test_delete_objects_quiet_and_limits(s3, bucket):
    put_keys(s3, bucket, ["a", "b", "c"])
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}],
                                                 "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert keys_of(s3.list_objects(Bucket=bucket)) == ["c"]
    # quiet mode still reports errors
    os.setxattr(os.path.join(MNT, bucket, "c"), "user.worm.retention", b"GOVERNANCE +1d")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}, {"Key": "nope"}],
                                                 "Quiet": True})
    assert "Deleted" not in r
    assert [(x["Key"], x["Code"]) for x in r["Errors"]] == [("c", "AccessDenied")]
    # not quiet: every key named
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "nope"}]})
    assert [d["Key"] for d in r["Deleted"]] == ["nope"]
    # 1001 keys: refused whole
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k%d" % i}
                                                             for i in range(1001)]})
    assert err(e) == (400, "MalformedXML")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k%d" % i}
                                                             for i in range(1000)], "Quiet": True})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200


# ---------------------------------------------------------------- CopyObject

def test_copy_object_directives(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x-src",
                  Metadata={"key1": "value1", "key2": "value2"})
    # COPY (the default) keeps type and metadata, even when others are sent
    s3.copy_object(Bucket=bucket, Key="dst1", CopySource={"Bucket": bucket, "Key": "src"},
                   Metadata={"ignored": "yes"}, ContentType="text/ignored")
    r = s3.get_object(Bucket=bucket, Key="dst1")
    assert r["Body"].read() == b"copy me" and r["ContentType"] == "text/x-src"
    assert r["Metadata"] == {"key1": "value1", "key2": "value2"}
    # REPLACE takes the request's
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"new": "n"}, ContentType="text/x-new")
    r = s3.head_object(Bucket=bucket, Key="dst2")
    assert r["ContentType"] == "text/x-new" and r["Metadata"] == {"new": "n"}
    assert r["ContentLength"] == 7
    # onto itself: only with REPLACE
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert err(e) == (400, "InvalidRequest")
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"k": "v"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"k": "v"}
    # a zero-byte source
    s3.put_object(Bucket=bucket, Key="zero", Body=b"")
    r = s3.copy_object(Bucket=bucket, Key="zero-copy", CopySource={"Bucket": bucket, "Key": "zero"})
    assert r["CopyObjectResult"]["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.head_object(Bucket=bucket, Key="zero-copy")["ContentLength"] == 0
    # missing source key and bucket
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": "cf-no-such-bucket", "Key": "k"})
    assert err(e) == (404, "NoSuchBucket")
    # a bad directive
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"},
                       MetadataDirective="MERGE")
    assert err(e)[0] == 400
    # another user may not write into a bucket it does not own (mode bits)
    other = client(os.environ["S3_KEY2"], os.environ["S3_SECRET2"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.copy_object(Bucket=bucket, Key="stolen", CopySource={"Bucket": bucket, "Key": "src"})
    assert err(e) == (403, "AccessDenied")


def test_copy_source_conditions(s3, bucket):
    """x-amz-copy-source-if-* on CopyObject: a failed condition is 412
    PreconditionFailed and nothing is written; met conditions copy."""
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"conditional")["ETag"]
    mtime = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    past, future = mtime - datetime.timedelta(days=1), mtime + datetime.timedelta(days=1)
    src = {"Bucket": bucket, "Key": "src"}
    failing = [{"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
               {"CopySourceIfNoneMatch": etag},
               {"CopySourceIfUnmodifiedSince": past},
               {"CopySourceIfModifiedSince": future}]
    for i, cond in enumerate(failing):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.copy_object(Bucket=bucket, Key="dst%d" % i, CopySource=src, **cond)
        assert err(e) == (412, "PreconditionFailed"), cond
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket=bucket, Key="dst%d" % i)
        assert err(e)[0] == 404, cond
    passing = [{"CopySourceIfMatch": etag},
               {"CopySourceIfNoneMatch": '"0123456789abcdef0123456789abcdef"'},
               {"CopySourceIfUnmodifiedSince": future},
               {"CopySourceIfModifiedSince": past},
               # If-Match met wins over a failing If-Unmodified-Since (RFC 7232 order)
               {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past}]
    for i, cond in enumerate(passing):
        r = s3.copy_object(Bucket=bucket, Key="ok%d" % i, CopySource=src, **cond)
        assert r["CopyObjectResult"]["ETag"] == etag, cond
        assert s3.get_object(Bucket=bucket, Key="ok%d" % i)["Body"].read() == b"conditional"


def test_copy_object_last_modified(s3, bucket):
    """CopyObjectResult's LastModified is the copy's time, not 1970."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    lm = r["CopyObjectResult"]["LastModified"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - lm).total_seconds()) < 3600, lm
    # a range is UploadPartCopy's, not CopyObject's
    c = client()

    def with_range(request, **kw):
        request.headers["x-amz-copy-source-range"] = "bytes=0-0"
    c.meta.events.register("before-sign.s3.CopyObject", with_range)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"})
    assert err(e) == (400, "InvalidArgument")


# ---------------------------------------------------------------- canned ACLs

def test_public_read_bucket(s3):
    pub = "cf-public-" + os.urandom(3).hex()
    priv = "cf-private-" + os.urandom(3).hex()
    s3.create_bucket(Bucket=pub, ACL="public-read")
    s3.create_bucket(Bucket=priv)
    for b in (pub, priv):
        s3.put_object(Bucket=b, Key="obj", Body=b"public bytes")
    a = anon()
    # anonymous reads where public-read grants them
    assert a.get_object(Bucket=pub, Key="obj")["Body"].read() == b"public bytes"
    assert a.head_object(Bucket=pub, Key="obj")["ContentLength"] == 12
    assert keys_of(a.list_objects(Bucket=pub)) == ["obj"]
    assert keys_of(a.list_objects_v2(Bucket=pub)) == ["obj"]
    a.head_bucket(Bucket=pub)
    # ... and nothing else
    for call in (lambda: a.put_object(Bucket=pub, Key="anon", Body=b"x"),
                 lambda: a.delete_object(Bucket=pub, Key="obj"),
                 lambda: a.delete_objects(Bucket=pub, Delete={"Objects": [{"Key": "obj"}]}),
                 lambda: a.copy_object(Bucket=pub, Key="c", CopySource={"Bucket": pub, "Key": "obj"}),
                 lambda: a.delete_bucket(Bucket=pub),
                 lambda: a.get_object(Bucket=priv, Key="obj"),
                 lambda: a.list_objects(Bucket=priv),
                 lambda: a.list_buckets()):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == (403, "AccessDenied")
    assert not os.path.exists(os.path.join(MNT, pub, "anon"))
    assert s3.get_object(Bucket=pub, Key="obj")["Body"].read() == b"public bytes"
    # mode bits still hold for anonymous readers (they act as nobody)
    os.chmod(os.path.join(MNT, pub, "obj"), 0o600)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        a.get_object(Bucket=pub, Key="obj")
    assert err(e) == (403, "AccessDenied")
    # response-* overrides are for signed requests only
    os.chmod(os.path.join(MNT, pub, "obj"), 0o644)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", "/%s/obj?response-content-type=text/evil" % pub)
    r = c.getresponse()
    assert r.status == 400 and b"InvalidRequest" in r.read()
    # canned ACLs that would let anyone write are refused
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="cf-prw-" + os.urandom(3).hex(), ACL="public-read-write")
    assert err(e)[0] == 501


# ---------------------------------------------------------------- raw helpers

def raw_signed(method, path):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    creds = Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"])
    req = AWSRequest(method=method, url=END + path,
                     headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request(method, path, headers=dict(req.headers))
    r = c.getresponse()
    return r.status, r.read()


def raw_get_headers(bucket, key, headers):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    creds = Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"])
    path = "/%s/%s" % (bucket, key)
    h = dict(headers)
    h["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    req = AWSRequest(method="GET", url=END + path, headers=h)
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("GET", path, headers=dict(req.headers))
    r = c.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


# ---------------------------------------------------------------- PUT headers

def test_put_header_checks(s3, bucket):
    for md5, want in (("YWJyYWNhZGFicmE=", "InvalidDigest"),   # not 16 bytes
                      ("rL0Y20zC+Fzt72VPzMSk2A==", "BadDigest"),   # another body's
                      ("", "InvalidDigest"), ("!!!!", "InvalidDigest")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=bucket, Key="md5", Body=b"bar", ContentMD5=md5)
        assert err(e) == (400, want), md5
    assert not os.path.exists(os.path.join(MNT, bucket, "md5"))

    def put_raw(extra, body=b"bar"):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        path = "/%s/hdr" % bucket
        req = AWSRequest(method="PUT", url=END + path,
                         headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
        SigV4Auth(Credentials(os.environ["S3_KEY"], os.environ["S3_SECRET"]), "s3",
                  "us-east-1").add_auth(req)
        import socket
        head = "PUT %s HTTP/1.1\r\nHost: %s:%d\r\n" % (path, HOST, PORT)
        head += "".join("%s: %s\r\n" % kv for kv in req.headers.items() if kv[0].lower() != "host")
        s = socket.create_connection((HOST, PORT), timeout=30)
        s.sendall((head + extra + "Connection: close\r\n\r\n").encode() + body)
        out = b""
        while True:
            k = s.recv(65536)
            if not k:
                break
            out += k
        s.close()
        return int(out.split(b" ")[1]), out

    st, out = put_raw("Content-Length: \r\n")
    assert st == 400, out
    st, out = put_raw("Content-Length: -1\r\n")
    assert st == 400, out
    st, out = put_raw("", body=b"")     # neither a length nor chunked
    assert st == 411 and b"MissingContentLength" in out, out
    assert not os.path.exists(os.path.join(MNT, bucket, "hdr"))
    # an Expect other than 100-continue is ignored, as S3 does
    st, out = put_raw("Content-Length: 3\r\nExpect: 200\r\n")
    assert st == 200, out
    assert s3.get_object(Bucket=bucket, Key="hdr")["Body"].read() == b"bar"
