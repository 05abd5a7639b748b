#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Seeds are small valid and edge-case inputs, written by hand here; nothing
is copied from elsewhere. Run from anywhere: python3 tests/fuzz/make_corpus.py
(rewrites the seeds it generates; inputs the fuzzers found, named found-*
or crash-* for real bugs, are kept).
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BS = 16384


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- policy: lock attribute values ------------------------------------------
policy = {
    "ret-abs": "GOVERNANCE 2030-01-01T00:00:00Z",
    "ret-rel-days": "COMPLIANCE +30d",
    "ret-rel-year-lf": "governance +1y\n",
    "ret-rel-max": "COMPLIANCE +9999999999h",
    "ret-rel-zero": "COMPLIANCE +0d",
    "ret-offset-frac": "GOVERNANCE 1970-01-01T00:00:00.123-00:30",
    "ret-leap": "COMPLIANCE 2030-02-28T23:59:60+01:00",
    "ret-bare-date": "governance 2030-01-01",
    "ret-last": "COMPLIANCE 9999-12-31T23:59:59Z",
    "ret-blanks": "\t COMPLIANCE\t+5h \r\n",
    "ret-nul": "COMPLIANCE +1d\0",
    "ret-inner-nul": "COMPLIANCE\0+1d",
    "hold-on": " ON",
    "hold-off-nul": "OFF\0",
    "lock-start": "in-progress",
    "lock-complete": "locked 0123456789abcdef",
    "lock-abort": "UNLOCKED\n",
    "default-years": "COMPLIANCE 100y",
    "default-days": "GOVERNANCE 36500d",
    "default-too-long": "GOVERNANCE 36501d",
    "blank": " \t\r\n",
    "long": "COMPLIANCE +" + "9" * 130,
}
for k, v in policy.items():
    put("policy", k, v)

# ---- config: wormfs.conf ----------------------------------------------------
put("config", "full", """# wormfs.conf
[wormfs]
governance_bypass = uid:0, group:root
legal_hold = uid:0, gid:5
max_threads = 8
attr_timeout = 1.0
sync_interval_ms = 1000
passphrase_file = /etc/wormfs/pass
log_level = info

[kms]
crypto_rate = 5000
crypto_burst = 5000
management_rate = 100
management_burst = 100
throttle = wait
max_wait_ms = 5000
dek_cache_entries = 10000
dek_cache_ttl_s = 300
""")
put("config", "empty-lists", "[wormfs]\ngovernance_bypass =\nlegal_hold = ; nobody\n")
put("config", "crlf", "[kms]\r\nthrottle = fail\r\ncrypto_rate=1\r\n")
put("config", "indent-comments", "  # c\n; c\n[wormfs]\n\tmax_threads = 64 ; max\n")
put("config", "bad-section", "[other]\nx = 1\n")
put("config", "no-value", "[wormfs]\nmax_threads\n")
put("config", "no-section", "log_level = debug\n")
put("config", "long-line", "[wormfs]\npassphrase_file = /" + "a" * 5000 + "\n")
put("config", "nul", "[wormfs]\nlog_level = err\0\n")
put("config", "numbers", "[wormfs]\nattr_timeout = 1e3\nsync_interval_ms = 010\n[kms]\nmax_wait_ms = 600000\n")

# ---- mount_opts: -o lists (NUL separates two -o arguments) -----------------
mo = {
    "fuse": "allow_other,default_permissions,ro,fsname=a\\,b,subtype=wormfs",
    "max-read": "max_read=131072,max_read=4096",
    "max-read-bad": "max_read=1048577",
    "config-keys": "crypto_rate=100,kms.crypto_burst=200,log_level=debug,attr_timeout=0.5",
    "two-lists": "kms.throttle=fail\0legal_hold=uid:1\\,uid:2,governance_bypass=group:root",
    "unknown": "noexec,frobnicate",
    "empty-items": ",,ro,,",
    "bad-section": "other.crypto_rate=1",
    "escapes": "passphrase_file=/tmp/a\\\\b\\,c,fsname=x\\",
}
for k, v in mo.items():
    put("mount_opts", k, v)

# ---- meta_node: node records (layout of struct meta_node, x86-64) -----------
NODE_SIZE = 328           # the MAC last, 32 bytes
NODE_COMMIT = 280         # commit[16] (issue 12), after autocommit_s, spare
NODE_SIZE_BEFORE_COMMIT = NODE_SIZE - 16
NODE_SIZE_BEFORE_AUTOCOMMIT = NODE_SIZE - 24


def node(**f):
    b = bytearray(NODE_SIZE)
    struct.pack_into("<IIQQIIIIQqqqqQ", b, 0, f.get("version", 1), f.get("flags", 0),
                     f.get("ino", 16), f.get("parent", 1), f.get("mode", 0o100644),
                     f.get("uid", 1000), f.get("gid", 1000), 1, f.get("size", 0),
                     0, 0, 0, 0, f.get("gen", 1))
    struct.pack_into("<iiiI", b, 188, f.get("lock_mode", 0), f.get("hold", 0),
                     f.get("sealed", 0), 0)
    struct.pack_into("<q", b, 208, f.get("retain_until", 0))
    struct.pack_into("<iIii", b, 216, f.get("def_mode", 0), f.get("def_days", 0),
                     f.get("def_years", 0), f.get("block_state", 0))
    bid = f.get("block_id", b"")
    b[232:232 + len(bid)] = bid
    struct.pack_into("<q", b, 256, f.get("block_expires", 0))
    struct.pack_into("<I", b, 272, f.get("autocommit_s", 0))
    c = f.get("commit", b"")
    b[NODE_COMMIT:NODE_COMMIT + len(c)] = c
    b[NODE_SIZE - 32:] = f.get("mac", b"\x5a" * 32)
    return bytes(b)


def older(rec, size):
    """The record as an older layout stored it: its first fields, the MAC."""
    return rec[:size - 32] + rec[-32:]


put("meta_node", "plain-file", node())
put("meta_node", "compliance", node(lock_mode=2, retain_until=1900000000, sealed=1))
put("meta_node", "governance-expired", node(lock_mode=1, retain_until=1600000000, sealed=1))
put("meta_node", "hold", node(hold=2, sealed=1))
put("meta_node", "unsealed-mode", node(lock_mode=2, retain_until=1900000000))
put("meta_node", "auth-failed", node(flags=1 << 31, lock_mode=1, retain_until=1))
put("meta_node", "bucket-in-progress", node(mode=0o40755, def_mode=2, def_days=3650, def_years=1,
                                           block_state=1, block_id=b"0123456789abcdef",
                                           block_expires=1700050000))
put("meta_node", "bucket-locked", node(mode=0o40755, def_mode=1, def_days=30, block_state=2))
put("meta_node", "weird", node(lock_mode=7, hold=-1, sealed=5, retain_until=-(1 << 63),
                               def_mode=-3, def_days=0xffffffff, block_state=9,
                               block_id=b"\xff" * 24, block_expires=(1 << 63) - 1))
put("meta_node", "version-2", node(version=2))
put("meta_node", "short", node()[:-1])
put("meta_node", "file-commit", node(version=2, gen=3, commit=bytes(range(1, 17))))
put("meta_node", "before-commit", older(node(version=2, autocommit_s=60), NODE_SIZE_BEFORE_COMMIT))
put("meta_node", "before-autocommit", older(node(lock_mode=2, retain_until=1900000000, sealed=1),
                                            NODE_SIZE_BEFORE_AUTOCOMMIT))

# ---- kms_ring: byte 0 even = the file as is, odd = a payload to seal --------
KEY = bytes(range(32))


def payload(active, versions, count=None):
    p = KEY + struct.pack("<II", active, len(versions) if count is None else count)
    for v in versions:
        p += struct.pack("<Iq", v, 1700000000) + hashlib.sha256(str(v).encode()).digest()
    return p


put("kms_ring", "payload-one", b"\x01" + payload(1, [1]))
put("kms_ring", "payload-rotated", b"\x01" + payload(5, [1, 2, 5]))
put("kms_ring", "payload-no-active", b"\x01" + payload(3, [1, 2]))
put("kms_ring", "payload-unordered", b"\x01" + payload(2, [2, 1]))
put("kms_ring", "payload-count-lies", b"\x01" + payload(1, [1], count=2))
put("kms_ring", "payload-version-0", b"\x01" + payload(0, [0]))
put("kms_ring", "payload-wrapped-intact", b"\x03" + payload(1, [1]) + bytes(76))
put("kms_ring", "payload-wrapped-version", b"\x03" + payload(2, [1, 2]) + b"\x03" + bytes(75))
put("kms_ring", "payload-wrapped-tag", b"\x03" + payload(1, [1]) + bytes(75) + b"\x80")
hdr = b"WORMFSKR" + struct.pack("<II", 1, 0)
put("kms_ring", "file-keyfile", b"\x00" + hdr + b"\x11" * 24 + struct.pack("<I", 16 + 84) +
    b"\x22" * 100)
put("kms_ring", "file-pass-min", b"\x00" + b"WORMFSKR" + struct.pack("<II", 1, 1) + b"\x33" * 16 +
    struct.pack("<QQ", 1, 8192) + b"\x11" * 24 + struct.pack("<I", 56) + b"\x22" * 56)
put("kms_ring", "file-pass-huge", b"\x00" + b"WORMFSKR" + struct.pack("<II", 1, 1) + b"\x33" * 16 +
    struct.pack("<QQ", 1 << 40, 1 << 62) + b"\x11" * 24 + struct.pack("<I", 56) + b"\x22" * 56)
put("kms_ring", "file-short", b"\x00WORMFSKR\x01\x00")
put("kms_ring", "file-bad-format", b"\x00" + b"WORMFSKR" + struct.pack("<II", 2, 0))

# ---- obj: op programs (see fuzz_obj.c run()) ---------------------------------


def u16(v):
    return struct.pack("<H", v % 65536)


def u32(v):
    return struct.pack("<I", v)


def W(off, n, seed=7):
    """Writes of at most 2 blocks each (the op's limit)."""
    out = b""
    while n > 0:
        k = min(n, 2 * BS)
        out += bytes([0]) + u16(off) + u16(k - 1) + bytes([seed])
        off, n = off + k, n - k
    return out



T = lambda size: bytes([1]) + u16(size)
C = bytes([2])
R = lambda off, n: bytes([3]) + u16(off) + u16(n)
FLIP = lambda at, m=1: bytes([4]) + u32(at) + bytes([m])
CUT = lambda at: bytes([5]) + u32(at)
LIE = lambda f, a=b"": bytes([7, f]) + a
VL = bytes([8])
CRASH = bytes([9])
JDMG = lambda m, at: bytes([10, m]) + u32(at)
REOPEN = bytes([11])
INL = lambda n, how, extra=b"": bytes([12]) + u16(n) + bytes([how]) + extra
V = bytes([13])
# Older authentic bytes back (fuzz_obj.c OP_REPLAY): how % 4 = 0 one slot
# (then its index), 1 the whole file, 2 the maps, 3 no maps; how >= 128:
# the commit before the last; how & 64: the copy taken before the last
# write of a session whose seed has its top bit set.
REPLAY = lambda how, b=b"": bytes([0xF7, how]) + b
# A session killed after its commit record, before the caller's commit
# (fuzz_obj.c OP_KILLED_COMMIT): its file and maps become the "mid" copy.
KILLED = bytes([0xF6])
U = b"\x00"      # flags: with an undo journal
NOU = b"\x01"    # without

progs = {
    "small": U + W(0, 100) + C + R(0, 100) + V,
    "two-blocks-overwrite-crash": U + W(0, 40000) + C + W(20000, 1000, 9) + VL + CRASH + R(0, 2 * BS) + V,
    "sparse": U + W(3 * BS, 10) + C + R(0, 2 * BS) + V,
    "append-commit-append": U + W(0, BS) + C + W(BS, 5) + C + W(BS + 5, 2 * BS) + VL + C + V,
    "shrink-crash": U + W(0, 3 * BS) + C + T(BS + 1) + VL + CRASH + V + R(0, 2 * BS),
    "grow-commit": U + W(0, 10) + C + T(2 * BS + 3) + C + R(0, 2 * BS) + V,
    "truncate-zero": U + W(0, 5000) + C + T(0) + C + V + R(0, 10),
    "flip-block": U + W(0, 2 * BS) + C + FLIP(600) + R(0, 2 * BS) + V,
    "flip-header": U + W(0, 100) + C + FLIP(20) + REOPEN + R(0, 100) + V,
    "cut": U + W(0, 2 * BS) + C + CUT(BS) + R(0, 2 * BS) + V,
    "journal-damage": U + W(0, 3 * BS) + C + W(100, 2 * BS, 3) + JDMG(4, 60) + CRASH + R(0, 2 * BS),
    "journal-cut": U + W(0, 3 * BS) + C + W(100, 2 * BS, 3) + JDMG(2, 70) + CRASH + R(0, 2 * BS),
    "no-undo-crash": NOU + W(0, 2 * BS) + C + W(0, 100, 5) + CRASH + R(0, 2 * BS),
    "lie-gen": U + W(0, BS + 1) + C + LIE(4) + R(0, BS + 1) + V,
    "lie-size": U + W(0, BS + 1) + C + LIE(1, u32(3 * BS)) + R(0, 2 * BS),
    "inline": U + INL(100, 0) + INL(0, 0) + INL(BS, 0),
    "inline-tamper": U + INL(100, 1, u16(50) + b"\x04") + INL(100, 2, b"\x09") + INL(64, 6, u16(65)),
    "crash-twice": U + W(0, BS) + C + W(0, 2 * BS, 1) + CRASH + W(5, 5, 2) + CRASH + V + R(0, 2 * BS),
    "replay-slot": U + W(0, 3 * BS) + C + W(BS, 10, 5) + C + REPLAY(128, b"\x01") + R(0, 2 * BS) + V,
    "replay-slot-final": U + W(0, 3 * BS) + C + W(2 * BS, 10, 5) + C + REPLAY(128, b"\x02") + R(BS, 2 * BS) + V,
    "replay-file": U + W(0, 3 * BS) + C + W(0, 40000, 5) + C + REPLAY(129) + R(0, 40000) + V,
    "replay-file-older": U + W(0, 2 * BS) + C + W(BS, 9, 5) + C + W(0, 9, 6) + C + REPLAY(129) + R(0, 2 * BS) + V,
    "replay-maps-crash": U + W(0, 3 * BS) + C + W(BS, 10, 5) + C + W(0, 10, 6) + C + REPLAY(130) + CRASH + R(0, 2 * BS) + V,
    "remove-maps-crash": U + W(3 * BS, 10) + C + W(0, 10, 6) + C + REPLAY(3) + CRASH + R(0, 2 * BS) + V,
    "sparse-data-zeroed": U + W(3 * BS, 10) + C + W(BS, 10, 4) + C + REPLAY(128, b"\x01") + R(0, 2 * BS) + V,
    "sparse-hole-filled": U + W(0, 3 * BS + 5) + C + T(0) + W(3 * BS, 10, 4) + C + REPLAY(128, b"\x01") + R(0, 2 * BS) + V,
    # Write tags (format 3): earlier versions of the same generation.
    "replay-session-slot": U + W(0, 3 * BS) + C + W(BS + 5, 10, 5) + W(BS + 5, 10, 0x86) + C + REPLAY(64, b"\x01") + R(0, 2 * BS) + V,
    "replay-killed-session": U + W(0, 3 * BS) + C + W(BS, 10, 5) + W(2 * BS, 10, 0x86) + CRASH + W(BS, 10, 7) + C + REPLAY(64, b"\x01") + R(0, 2 * BS) + V,
    "replay-session-truncate-zero": U + W(0, 2 * BS) + C + W(0, BS, 5) + T(0) + W(3 * BS, 10, 0x83) + W(0, BS, 6) + C + REPLAY(64, b"\x00") + R(0, BS) + V,
    "replay-session-grow-final": U + W(0, 3 * BS) + C + T(BS) + W(BS - 10, 100, 0x85) + REPLAY(64, b"\x00") + W(0, 5, 9) + C + R(0, BS) + V,
    # Issue 12: the killed session's record of G+1 put back after the
    # next session committed G+1 (whole file; the file and its map file).
    "replay-killed-commit": U + W(0, 3 * BS) + C + W(0, 40000, 5) + KILLED + W(0, 40000, 6) + C + REPLAY(65) + CRASH + R(0, 40000) + V,
    "replay-killed-commit-map": U + W(0, 3 * BS) + C + W(BS, 300, 5) + KILLED + W(BS, 300, 6) + C + REPLAY(65) + REPLAY(66) + R(0, 2 * BS) + V + CRASH + R(0, 2 * BS),
}
for k, v in progs.items():
    put("obj", k, v)


# ---- sigv4: S3 requests and bodies ------------------------------------------
# 4 control bytes (payload mode, slicing seed, trailer choice, decoded
# length / 97), the request text, NUL, the body (tests/fuzz/fuzz_sigv4.c).
def s3req(mode, seed, trailer, dlen97, text, body=b""):
    return bytes([mode, seed, trailer, dlen97]) + text.encode() + b"\0" + body

EX = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
E0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
sigv4 = {
    "header-get": s3req(0, 1, 0, 0,
        "GET /test.txt\nHost: examplebucket.s3.amazonaws.com\nRange: bytes=0-9\n"
        "x-amz-content-sha256: " + E0 + "\nx-amz-date: 20130524T000000Z\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=" + EX + ",SignedHeaders=host;range;"
        "x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    "presigned": s3req(0, 2, 0, 0,
        "GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
        "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404\n"
        "Host: examplebucket.s3.amazonaws.com"),
    "sigv2": s3req(0, 3, 0, 0, "GET /b/k\nAuthorization: AWS AKID:c2lnbmF0dXJl"),
    "unsigned-trailer": s3req(5, 4, 1, 0, "PUT /b/k",
        b"6;ext=1\r\nhello \r\n6\r\nworld!\r\n0\r\nx-amz-checksum-crc32:A1sm4w==\r\n\r\n"),
    "unsigned-trailer-lf": s3req(5, 5, 2, 0, "PUT /b/k",
        b"c\r\nhello world!\r\n0\r\n\r\nx-amz-checksum-crc32c:AAAAAA==\n\n"),
    "signed-chunks": s3req(3, 6, 0, 1, "PUT /b/k",
        b"61;chunk-signature=" + b"0" * 64 + b"\r\n" + b"a" * 97 + b"\r\n0;chunk-signature=" + b"1" * 64 + b"\r\n\r\n"),
    "signed-trailer": s3req(4, 7, 4, 0, "PUT /b/k",
        b"0;chunk-signature=" + b"2" * 64 + b"\r\nx-amz-checksum-sha256:" + b"A" * 43 + b"=\r\n"
        b"x-amz-trailer-signature:" + b"3" * 64 + b"\r\n\r\n"),
    "plain-md5": s3req(0, 8, 0, 0, "PUT /b/k\nContent-MD5: kAFQmDzST7DWlj99KOF/cg==\n"
        "x-amz-checksum-sha1: qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", b"abc"),
}
for k, v in sigv4.items():
    put("sigv4", k, v)
# ---- s3_xml: S3 request bodies, keys and routing (first byte: the decoder) ---
put("s3_xml", "delete", b"\x00<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
    b"<Object><Key>c/d</Key><VersionId>null</VersionId></Object></Delete>")
put("s3_xml", "delete-laughs", b"\x00<!DOCTYPE Delete [<!ENTITY a \"aa\"><!ENTITY b \"&a;&a;\">]>"
    b"<Delete><Object><Key>&b;</Key></Object></Delete>")
put("s3_xml", "create-bucket", b"\x01<CreateBucketConfiguration><LocationConstraint>eu-west-1"
    b"</LocationConstraint></CreateBucketConfiguration>")
put("s3_xml", "complete", b"\x04<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
    b"<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag></Part><Part><PartNumber>2"
    b"</PartNumber><ETag>0123456789ABCDEF0123456789abcdef</ETag></Part></CompleteMultipartUpload>")
put("s3_xml", "key", b"\x02dir/sub/obj.txt")
put("s3_xml", "key-dir", b"\x02a/b/")
put("s3_xml", "route-vhost", b"\x03\x00bkt.s3.example.test:9000\n/dir/k\nlist-type")
put("s3_xml", "route-path", b"\x03\x03127.0.0.1\n/bkt\ndelete")
