"""S3 writes racing a lock set through the mount (tests/integration/
test_rv_race.sh drives it; prints name=value lines). Per key: threads keep
doing PutObject, DeleteObject, CopyObject onto it and DeleteObjects naming
it, while this process (root, on the mount) sets a COMPLIANCE retention or
a legal hold on whatever object holds the key, through a descriptor,
retrying while a writer is open. Right after the lock is acknowledged the
object's inode and content hash are recorded; the S3 threads go on for a
while; then the key must still hold that inode and that content, and every
S3 change that started after the acknowledgement must have been refused.

Environment: S3_ENDPOINT, S3_BUCKET (a bucket the S3 user may write),
S3_MOUNT (the mount), S3_KEY/S3_SECRET, ROUNDS, THREADS."""
import errno
import hashlib
import os
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

END, BUCKET, MNT = os.environ["S3_ENDPOINT"], os.environ["S3_BUCKET"], os.environ["S3_MOUNT"]
ROUNDS = int(os.environ.get("ROUNDS", "20"))
PREFIX = os.environ.get("PREFIX", "race")
THREADS = int(os.environ.get("THREADS", "4"))


def client():
    return boto3.client("s3", endpoint_url=END, region_name="us-east-1",
                        aws_access_key_id=os.environ["S3_KEY"],
                        aws_secret_access_key=os.environ["S3_SECRET"],
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      max_pool_connections=4))


def out(k, v):
    print(f"{k}={v}", flush=True)


def status(fn):
    try:
        fn()
        return 200
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]
    except Exception:  # a dropped connection: no answer, no claim
        return 0


class Round:
    def __init__(self, key):
        self.key = key
        self.ack = None          # monotonic time of the acknowledgement
        self.stop = False
        self.late_ok = []        # changes that started after the ack and succeeded
        self.ops = 0


def mutator(rd, tid):
    s3 = client()
    n = 0
    after = 0
    src = f"{PREFIX}-src-{tid}"
    s3.put_object(Bucket=BUCKET, Key=src, Body=f"copy source {tid}".encode())
    while not rd.stop:
        t0 = time.monotonic()
        if rd.ack is not None and t0 > rd.ack:
            after += 1
            if after > 25:
                break
        op = (n + tid) % 4
        n += 1
        body = f"{rd.key} body {tid}.{n} ".encode() * (1 + n % 50)
        if op == 0:
            st = status(lambda: s3.put_object(Bucket=BUCKET, Key=rd.key, Body=body))
        elif op == 1:
            st = status(lambda: s3.delete_object(Bucket=BUCKET, Key=rd.key))
        elif op == 2:
            st = status(lambda: s3.copy_object(Bucket=BUCKET, Key=rd.key,
                                               CopySource={"Bucket": BUCKET, "Key": src}))
        else:
            def multi():
                r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": rd.key}]})
                if r.get("Errors"):
                    raise ClientError({"Error": {"Code": r["Errors"][0]["Code"]},
                                       "ResponseMetadata": {"HTTPStatusCode": 403}}, "DeleteObjects")
            st = status(multi)
        rd.ops += 1
        # A delete of a key that holds nothing answers success too (S3):
        # only changes to an existing locked object are the question, and
        # the final check sees those.
        if rd.ack is not None and t0 > rd.ack and st == 200 and op in (0, 2):
            rd.late_ok.append(("put", "delete", "copy", "delete-objects")[op])


def snapshot(fd):
    st = os.fstat(fd)
    h = hashlib.sha256()
    off = 0
    while True:
        b = os.pread(fd, 1 << 16, off)
        if not b:
            break
        h.update(b)
        off += len(b)
    return st.st_ino, off, h.hexdigest()


def main():
    s3 = client()
    locked = violations = unlocked = lock_errors = 0
    last = ""
    for i in range(ROUNDS):
        rd = Round(f"{PREFIX}-{i}")
        s3.put_object(Bucket=BUCKET, Key=rd.key, Body=b"initial")
        ths = [threading.Thread(target=mutator, args=(rd, t)) for t in range(THREADS)]
        for t in ths:
            t.start()
        time.sleep(0.01 * (i % 5))
        path = os.path.join(MNT, BUCKET, rd.key)
        fd = -1
        snap = None
        name = "user.worm.legal-hold" if i % 2 else "user.worm.retention"
        val = b"ON" if i % 2 else b"COMPLIANCE +1d"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if fd < 0:
                    fd = os.open(path, os.O_RDONLY)
                os.setxattr(fd, name, val)
                snap = snapshot(fd)
                rd.ack = time.monotonic()
                break
            except OSError as e:
                # deleted or replaced: the next one. ESTALE: the kernel walked
                # the path again (the daemon's answer for a gone inode) and
                # the key was replaced once more meanwhile (README, S3)
                if e.errno in (errno.ENOENT, errno.ESTALE):
                    if fd >= 0:
                        os.close(fd)
                    fd = -1
                    time.sleep(0.001)
                    continue
                if e.errno != errno.EBUSY:
                    lock_errors += 1
                    last = f"{rd.key}: lock failed: {e}"
                    break
                time.sleep(0.001)
        if snap is None:
            rd.stop = True
        for t in ths:
            t.join()
        if snap is None:
            unlocked += 1
            if fd >= 0:
                os.close(fd)
            continue
        locked += 1
        bad = []
        if rd.late_ok:
            bad.append("S3 changes answered 200 after the lock: " + ",".join(sorted(set(rd.late_ok))))
        try:
            named = os.stat(path).st_ino
        except OSError as e:
            named = f"stat: {e.strerror}"
        if named != snap[0]:
            bad.append(f"the key holds {named}, not the locked inode {snap[0]}")
        now = snapshot(fd)
        if now != snap:
            bad.append(f"the locked object changed: {snap} -> {now}")
        try:
            got = s3.get_object(Bucket=BUCKET, Key=rd.key)["Body"].read()
            if hashlib.sha256(got).hexdigest() != snap[2]:
                bad.append("GET serves other bytes than were locked")
        except ClientError as e:
            bad.append(f"GET: {e.response['Error']['Code']}")
        os.close(fd)
        if bad:
            violations += 1
            last = f"{rd.key}: " + "; ".join(bad)
    out("locked", locked)
    out("unlocked", unlocked)
    out("violations", violations)
    out("lock_errors", lock_errors)
    if last:
        out("last", last)


main()
