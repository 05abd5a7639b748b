#!/usr/bin/env python3
"""s3load: a low-overhead S3 load client for wormfs tests and benchmarks.

It speaks SigV4 itself (hashlib/hmac from the standard library) over
http.client keep-alive connections, one per worker thread, and streams
generated bodies: nothing is read from or written to disk, and no object is
ever whole in this process. Used by tests/integration/test_s3_rss.sh (the
daemon's memory bound) and tools/bench.sh (S3 columns).

  s3load.py --endpoint URL --key K --secret S put  BUCKET PREFIX COUNT SIZE
  s3load.py ...                                  get  BUCKET PREFIX COUNT SIZE

Objects are PREFIX0 .. PREFIX{COUNT-1}, SIZE bytes each (suffix k/m/g ok),
their content a function of (--seed, index): a GET checks every byte's
SHA-256 against what the PUT sent (--no-verify skips the hashing for
benchmarks). --mode: unsigned (UNSIGNED-PAYLOAD, header auth), chunked
(aws-chunked, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, a signature per
--chunk bytes) or trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER with an
x-amz-checksum-crc32 trailer). --jobs: concurrent requests. --pid: sample
that process's VmRSS every 20 ms and count its CPU time. --fs DIR: the same
workload through a file system instead (DIR/BUCKET/PREFIXn; a PUT is
open, write, fsync, close), with the same generator, threads and hashing,
so an S3 / mount ratio compares the two paths and not two clients.
Prints one JSON line: seconds, MiB/s, objects/s, this client's CPU seconds
and the --pid process's, the peak VmRSS seen and VmHWM at the end (KiB),
errors.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import queue
import resource
import struct
import sys
import threading
import time
import urllib.parse
import zlib

EMPTY_SHA = hashlib.sha256(b"").hexdigest()
BLOCK = 1 << 20


def size_arg(s):
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if s and s[-1].lower() in mult:
        return int(s[:-1]) * mult[s[-1].lower()]
    return int(s)


class Gen:
    """Object content: 1 MiB blocks of a fixed pseudo-random block whose
    first 16 bytes carry (seed, index, block number), so objects and blocks
    differ and nothing compresses."""

    def __init__(self, seed):
        base = bytearray()
        h = hashlib.sha256(b"wormfs-s3load-%d" % seed).digest()
        while len(base) < BLOCK:
            h = hashlib.sha512(h).digest()
            base += h
        self.base = bytes(base[:BLOCK])
        self.seed = seed

    def blocks(self, index, size):
        n = 0
        while n < size:
            take = min(BLOCK, size - n)
            head = struct.pack("<QQ", self.seed ^ index, n // BLOCK)
            yield (head + self.base[16:take])[:take]
            n += take


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Signer:
    def __init__(self, key, secret, region):
        self.key, self.secret, self.region = key, secret, region

    def sign(self, method, host, path, headers, payload_hash):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz[:8]
        headers = dict(headers)
        headers["host"] = host
        headers["x-amz-date"] = amz
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(k.lower() for k in headers)
        canon_h = "".join("%s:%s\n" % (k, str(headers[k]).strip()) for k in names)
        signed = ";".join(names)
        creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), "", canon_h,
                          signed, payload_hash])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = hm(("AWS4" + self.secret).encode(), day)
        k = hm(k, self.region)
        k = hm(k, "s3")
        k = hm(k, "aws4_request")
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
            % (self.key, scope, signed, sig))
        del headers["host"]
        return headers, k, amz, scope, sig


class Worker:
    def __init__(self, a, signer, gen):
        self.a, self.signer, self.gen = a, signer, gen
        u = urllib.parse.urlsplit(a.endpoint)
        self.host = u.netloc
        self.hostname, self.port = u.hostname, u.port or 80
        self.conn = None

    def connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.hostname, self.port, timeout=600)
        return self.conn

    def put(self, path, index, size):
        a = self.a
        digest = hashlib.sha256() if a.verify else None
        hdrs = {}
        if a.mode == "unsigned":
            hdrs, _, _, _, _ = self.signer.sign("PUT", self.host, path, {}, "UNSIGNED-PAYLOAD")
            hdrs["Content-Length"] = str(size)
        else:
            extra = {"content-encoding": "aws-chunked",
                     "x-amz-decoded-content-length": str(size)}
            if a.mode == "chunked":
                mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
            else:
                mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
                extra["x-amz-trailer"] = "x-amz-checksum-crc32"
            hdrs, key, amz, scope, seed = self.signer.sign("PUT", self.host, path, extra, mode)
            hdrs["Content-Length"] = str(self.encoded_length(size))
        c = self.connect()
        c.putrequest("PUT", path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            c.putheader(k, v)
        c.endheaders()
        if a.mode == "unsigned":
            for b in self.gen.blocks(index, size):
                if digest:
                    digest.update(b)
                c.send(b)
        else:
            prev, crc = (seed if a.mode == "chunked" else None), 0
            for b in self.gen.blocks(index, size):
                if digest:
                    digest.update(b)
                for off in range(0, len(b), a.chunk):
                    piece = b[off:off + a.chunk]
                    if a.mode == "chunked":
                        prev = self.chunk_sig(key, amz, scope, prev, piece)
                        c.send(b"%x;chunk-signature=%s\r\n" % (len(piece), prev.encode()))
                    else:
                        crc = zlib.crc32(piece, crc)
                        c.send(b"%x\r\n" % len(piece))
                    c.send(piece)
                    c.send(b"\r\n")
            if a.mode == "chunked":
                prev = self.chunk_sig(key, amz, scope, prev, b"")
                c.send(b"0;chunk-signature=%s\r\n\r\n" % prev.encode())
            else:
                b64 = base64.b64encode(struct.pack(">I", crc)).decode()
                c.send(b"0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % b64.encode())
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("PUT %s: %d %s" % (path, r.status, body[:300]))
        return digest.hexdigest() if digest else None

    def encoded_length(self, size):
        a, n, total = self.a, 0, 0
        while n < size:
            take = min(BLOCK, size - n)
            for off in range(0, take, a.chunk):
                piece = min(a.chunk, take - off)
                total += len(b"%x" % piece) + 2 + piece + 2
                if a.mode == "chunked":
                    total += len(";chunk-signature=") + 64
            n += take
        if a.mode == "chunked":
            total += len("0;chunk-signature=") + 64 + 4
        else:
            total += len("0\r\nx-amz-checksum-crc32:") + 8 + 4
        return total

    @staticmethod
    def chunk_sig(key, amz, scope, prev, piece):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, EMPTY_SHA,
                         hashlib.sha256(piece).hexdigest()])
        return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()

    def get(self, path, size):
        hdrs, _, _, _, _ = self.signer.sign("GET", self.host, path, {}, EMPTY_SHA)
        c = self.connect()
        c.request("GET", path, headers=hdrs)
        r = c.getresponse()
        if r.status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, r.status, r.read()[:300]))
        digest = hashlib.sha256() if self.a.verify else None
        n = 0
        while True:
            b = r.read(BLOCK)
            if not b:
                break
            n += len(b)
            if digest:
                digest.update(b)
        if n != size:
            raise RuntimeError("GET %s: %d bytes, expected %d" % (path, n, size))
        return digest.hexdigest() if digest else None


class FsWorker:
    """The same workload through a mounted file system."""

    def __init__(self, a, gen):
        self.a, self.gen, self.conn = a, gen, None

    def put(self, path, index, size):
        digest = hashlib.sha256() if self.a.verify else None
        fd = os.open(self.a.fs + path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for b in self.gen.blocks(index, size):
                if digest:
                    digest.update(b)
                mv, off = memoryview(b), 0
                while off < len(b):
                    off += os.write(fd, mv[off:])
            os.fsync(fd)
        finally:
            os.close(fd)
        return digest.hexdigest() if digest else None

    def get(self, path, size):
        digest = hashlib.sha256() if self.a.verify else None
        n = 0
        fd = os.open(self.a.fs + path, os.O_RDONLY)
        try:
            while True:
                b = os.read(fd, BLOCK)
                if not b:
                    break
                n += len(b)
                if digest:
                    digest.update(b)
        finally:
            os.close(fd)
        if n != size:
            raise RuntimeError("read %s: %d bytes, expected %d" % (path, n, size))
        return digest.hexdigest() if digest else None


def cpu_of(pid):
    """utime + stime of pid in seconds (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def expected_sha(gen, index, size):
    d = hashlib.sha256()
    for b in gen.blocks(index, size):
        d.update(b)
    return d.hexdigest()


def sampler(pid, stop, out):
    path = "/proc/%d/status" % pid
    while True:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out["peak_rss_kib"] = max(out.get("peak_rss_kib", 0), int(line.split()[1]))
                    elif line.startswith("VmHWM:"):
                        out["hwm_kib"] = int(line.split()[1])
        except OSError:
            pass
        if stop.wait(0.02):
            break


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--endpoint", default="")
    p.add_argument("--key", default="")
    p.add_argument("--secret", default="")
    p.add_argument("--fs", default="")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--mode", choices=["unsigned", "chunked", "trailer"], default="unsigned")
    p.add_argument("--chunk", type=size_arg, default=64 << 10)
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--no-verify", dest="verify", action="store_false")
    p.add_argument("op", choices=["put", "get"])
    p.add_argument("bucket")
    p.add_argument("prefix")
    p.add_argument("count", type=int)
    p.add_argument("size", type=size_arg)
    a = p.parse_args()
    if a.chunk < 1 or a.chunk > BLOCK:
        p.error("--chunk must be 1 .. 1m")
    if not a.fs and not (a.endpoint and a.key and a.secret):
        p.error("--endpoint, --key and --secret (or --fs DIR) are needed")

    gen = Gen(a.seed)
    signer = Signer(a.key, a.secret, a.region)
    work = queue.Queue()
    for i in range(a.count):
        work.put(i)
    errors, res = [], {}
    lock = threading.Lock()

    def run():
        w = FsWorker(a, gen) if a.fs else Worker(a, signer, gen)
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            path = "/%s/%s%d" % (a.bucket, a.prefix, i)
            try:
                if a.op == "put":
                    got = w.put(path, i, a.size)
                    want = got
                else:
                    got = w.get(path, a.size)
                    want = expected_sha(gen, i, a.size) if a.verify else None
                if got != want:
                    raise RuntimeError("%s: sha256 %s, expected %s" % (path, got, want))
            except Exception as e:   # report, keep going with the others
                with lock:
                    errors.append(str(e))
                w.conn = None

    stop, stats = threading.Event(), {}
    st = None
    if a.pid:
        st = threading.Thread(target=sampler, args=(a.pid, stop, stats), daemon=True)
        st.start()
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    d0 = cpu_of(a.pid) if a.pid else 0.0
    t0 = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(max(1, a.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    if a.pid:
        res["daemon_cpu_s"] = round(cpu_of(a.pid) - d0, 2)
    res["client_cpu_s"] = round(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime, 2)
    stop.set()
    if st:
        st.join()
    res.update(stats)
    res.update({"op": a.op, "mode": "fs" if a.fs else a.mode, "count": a.count, "size": a.size,
                "jobs": a.jobs, "seconds": round(dt, 3),
                "mib_s": round(a.count * a.size / dt / (1 << 20), 1),
                "objects_s": round(a.count / dt, 1),
                "errors": len(errors), "first_error": errors[0] if errors else ""})
    print(json.dumps(res))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
