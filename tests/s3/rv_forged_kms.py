"""Forged SigV4 requests naming a real access key id (signed with a wrong
secret), as anyone who has seen a key id can send them. Run by
tests/integration/test_s3_keycache.sh, which counts the KMS requests they
cost. Usage: rv_forged_kms.py ENDPOINT ACCESS_KEY MODE N; prints the S3
error code of each answer, one a line. MODE: today (header auth, now),
region (header auth, another region), old (header auth, a day ago),
presigned (presigned URLs of 1 and 2 days ago, alternating)."""
import hashlib
import hmac
import http.client
import re
import sys
import time
import urllib.parse

END, KEY, MODE, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
U = urllib.parse.urlparse(END)
HOST = "%s:%d" % (U.hostname, U.port)
SECRET = "not-the-secret-of-this-key-0123456789abc"
E = hashlib.sha256(b"").hexdigest()


def key_for(date, region):
    k = ("AWS4" + SECRET).encode()
    for part in (date, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def string_to_sign(now, scope, canon):
    return "\n".join(["AWS4-HMAC-SHA256", now, scope,
                      hashlib.sha256(canon.encode()).hexdigest()])


def header_request(t, region):
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    scope = "%s/%s/s3/aws4_request" % (now[:8], region)
    names = "host;x-amz-content-sha256;x-amz-date"
    canon = "\n".join(["GET", "/", "", "host:" + HOST, "x-amz-content-sha256:" + E,
                       "x-amz-date:" + now, "", names, E])
    sig = hmac.new(key_for(now[:8], region), string_to_sign(now, scope, canon).encode(),
                   hashlib.sha256).hexdigest()
    return "/", {"x-amz-date": now, "x-amz-content-sha256": E,
                 "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                 "Signature=%s" % (KEY, scope, names, sig)}


def presigned_request(t):
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    scope = "%s/us-east-1/s3/aws4_request" % now[:8]
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "%s/%s" % (KEY, scope),
         "X-Amz-Date": now, "X-Amz-Expires": "604800", "X-Amz-SignedHeaders": "host"}
    qs = "&".join("%s=%s" % (a, urllib.parse.quote(v, safe="-_.~"))
                  for a, v in sorted(q.items()))
    canon = "\n".join(["GET", "/", qs, "host:" + HOST, "", "host", "UNSIGNED-PAYLOAD"])
    sig = hmac.new(key_for(now[:8], "us-east-1"), string_to_sign(now, scope, canon).encode(),
                   hashlib.sha256).hexdigest()
    return "/?" + qs + "&X-Amz-Signature=" + sig, {}


for i in range(N):
    t = time.time()
    if MODE == "today":
        path, h = header_request(t, "us-east-1")
    elif MODE == "region":
        path, h = header_request(t, "eu-west-1")
    elif MODE == "old":
        path, h = header_request(t - 86400, "us-east-1")
    else:
        path, h = presigned_request(t - 86400 * (1 + i % 2))
    c = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    m = re.search(r"<Code>([^<]*)</Code>", body)
    print("%d %s" % (r.status, m.group(1) if m else "-"))
