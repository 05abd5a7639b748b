"""A PutObject's temporary object swapped through the mount mid-body
(tests/integration/test_rv_s3lock.sh drives it; prints key=value lines).

The S3 user's PUT sends its first half; a local user who may write the
bucket directory (but not the key's future object) renames a file of its
own, still open for writing, onto the upload's .s3-upload-* name; the PUT
then sends its second half. Each step waits for the previous one (the
temporary name appearing, the attacker saying it renamed), no timing."""
import hashlib
import http.client
import os
import subprocess
import sys
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

END = os.environ["S3_ENDPOINT"]            # http://127.0.0.1:PORT
BDIR = os.environ["S3_BUCKET_DIR"]         # the bucket through the mount
BUCKET = os.path.basename(BDIR)
KEY, SECRET = os.environ["S3_KEY"], os.environ["S3_SECRET"]
ATTACKER = os.environ["S3_ATTACKER_UID"]
host = END.split("//", 1)[1]
A, B = b"honest first half " * 64, b"honest second half " * 64
body = A + B


def signed(method, path, headers):
    req = AWSRequest(method=method, url=END + path, headers=headers)
    SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def out(k, v):
    print(f"{k}={v}", flush=True)


path = f"/{BUCKET}/doc"
hdrs = signed("PUT", path, {"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                            "Content-Length": str(len(body))})
con = http.client.HTTPConnection(host, timeout=120)
con.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
con.putheader("Host", host)
for k, v in hdrs.items():
    if k.lower() != "host":
        con.putheader(k, v)
con.endheaders()
con.send(A)
tmp = None
for _ in range(600):          # until the daemon made it (a condition, not a delay)
    names = [x for x in os.listdir(BDIR) if x.startswith(".s3-upload-")]
    if names:
        tmp = names[0]
        break
    time.sleep(0.05)
out("tmp_seen", 1 if tmp else 0)
if not tmp:
    sys.exit(1)
evil = os.path.join(BDIR, "evil")
code = f"""
import os, sys
fd = os.open({evil!r}, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"forged content")
try:
    os.rename({evil!r}, {os.path.join(BDIR, tmp)!r}); print("renamed=0", flush=True)
except OSError as e:
    print("renamed=" + str(e.errno), flush=True)
sys.stdin.readline()          # keep it open (a writer) until the PUT answered
os.close(fd)
"""
att = subprocess.Popen(["setpriv", f"--reuid={ATTACKER}", f"--regid={ATTACKER}",
                        "--clear-groups", sys.executable, "-c", code],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
line = att.stdout.readline().strip()
out("attacker", line)
con.send(B)
resp = con.getresponse()
resp.read()
out("put_status", resp.status)
out("put_etag", resp.getheader("ETag"))
att.stdin.write("\n")
att.stdin.flush()
att.wait()
out("md5_honest", hashlib.md5(body).hexdigest())
p = os.path.join(BDIR, "doc")
if os.path.exists(p):
    with open(p, "rb") as f:
        data = f.read()
    out("doc_is_honest", int(data == body))
    out("doc_is_forged", int(data == b"forged content"))
    out("doc_owner", os.stat(p).st_uid)
    hdrs = signed("GET", path, {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    c2 = http.client.HTTPConnection(host, timeout=60)
    c2.request("GET", path, headers=hdrs)
    g = c2.getresponse()
    gb = g.read()
    out("get_etag", g.getheader("ETag"))
    out("get_md5", hashlib.md5(gb).hexdigest())
else:
    out("doc_exists", 0)
left = [x for x in os.listdir(BDIR) if x.startswith(".s3-upload-")]
out("tmp_left", len(left))
