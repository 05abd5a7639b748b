#!/usr/bin/env bash
# test_s3_fdlimit: the S3 endpoint at the daemon's open files limit
# (review of hostile sizes, left then; see test_rv_limits.sh).
#  1. A daemon under `ulimit -n 128` serving S3 (default max_connections
#     256): 240 idle connections (no credentials needed; four client
#     addresses, under the per-address limit) took every descriptor, so
#     every open of a content file through the mount failed (ENFILE) for
#     as long as they stayed. The connection limit is now lowered below the
#     open files limit (logged): the others wait in the kernel's backlog,
#     the mount goes on, and S3 answers once they are gone.
#  2. No descriptor left at all (prlimit(2) on the running daemon, as the
#     review did): libmicrohttpd's threads that hold no connection retried
#     accept() at once (EMFILE) for as long as a client waited, a core
#     busy. The daemon's CPU time over 3 s must stay low (a coarse bound,
#     not a benchmark: the loop took every cycle it got).
. "$(dirname "$0")/lib.sh"
require_binaries
command -v python3 >/dev/null || { skip "S3 at the fd limit" "needs python3"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 1
WRAP=$T_BASE/wormfs-nofile
printf '#!/bin/sh\nulimit -n 128 || exit 1\nexec "%s" "$@"\n' "$WORMFS" >"$WRAP"
chmod +x "$WRAP"
WORMFS=$WRAP s3_mount "$S" "$M" || { fail "mount under ulimit -n 128"; done_testing; }
PID=${MNT_PID[$M]}
check_eq "the daemon's open files limit" 128 "$(awk '/^Max open files/ { print $4 }' "/proc/$PID/limits")"
check_match "the log names the lowered connection limit" \
	"s3: max_connections 256 lowered to [0-9]+: the daemon's open files limit is 128" \
	"$(cat "${MNT_LOG[$M]}")"
mkdir "$M/bkt" || fail "mkdir"
head -c 200000 /dev/urandom >"$T_BASE/big"
cp "$T_BASE/big" "$M/bkt/big" || fail "a file through the mount"

cat >"$T_BASE/fd.py" <<'PY'
import ctypes, os, socket, sys, time
pid, port, d, big = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
part = sys.argv[5]

def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    return s

def mount_works():
    try:
        with open(d + "/new%d" % time.time_ns(), "wb") as f:
            f.write(b"y" * 200000)
        ok = open(d + "/big", "rb").read() == open(big, "rb").read()
        return "OK" if ok else "DIFFERS"
    except OSError as e:
        return os.strerror(e.errno)

libc = ctypes.CDLL(None, use_errno=True)
class rlim(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def prlimit(new):
    old = rlim()
    if libc.prlimit(pid, 7, ctypes.byref(new) if new else None, ctypes.byref(old)):
        raise OSError(ctypes.get_errno(), "prlimit")
    return old

if part == "flood":
    socks = [conn("127.0.0.%d" % (i + 1)) for i in range(4) for _ in range(60)]
    time.sleep(1)
    c0 = cpu(); time.sleep(3); c1 = cpu()
    print("CPU=%.2f MOUNT=%s" % (c1 - c0, mount_works()))
    for s in socks:
        s.close()
else:
    orig = prlimit(None)
    used = {int(x) for x in os.listdir("/proc/%d/fd" % pid)}
    low = 0
    while low in used:
        low += 1
    prlimit(rlim(low, orig.max))
    s = conn("127.0.0.1")
    time.sleep(0.5)
    c0 = cpu(); time.sleep(3); c1 = cpu()
    prlimit(orig)
    time.sleep(0.5)
    print("CPU=%.2f MOUNT=%s" % (c1 - c0, mount_works()))
    s.close()
PY

# s3_roundtrip KEY: a PUT of 300 kB (a content file) and its GET by an
# authenticated client: "ok", or the error.
s3_roundtrip() {
	K=$KEY SK=$SECRET END=$END /usr/bin/python3 - "$1" <<'PYEOF'
import os, sys, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["END"], region_name="us-east-1",
                 aws_access_key_id=os.environ["K"], aws_secret_access_key=os.environ["SK"],
                 config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
body = os.urandom(300000)
try:
    c.put_object(Bucket="bkt", Key=sys.argv[1], Body=body)
    got = c.get_object(Bucket="bkt", Key=sys.argv[1])["Body"].read()
    print("ok" if got == body else "differs")
except Exception as e:
    print(type(e).__name__, e)
PYEOF
}

cpu_low() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)' "$1"; }

# ---- 1. more connections than descriptors
r=$(python3 "$T_BASE/fd.py" "$PID" "$PORT" "$M/bkt" "$T_BASE/big" flood)
diag "flood: $r"
cpu=$(sed -n 's/.*CPU=\([0-9.]*\).*/\1/p' <<<"$r")
check "1: the daemon's CPU time over 3 s with 240 idle connections stays low ($cpu s)" cpu_low "${cpu:-9}"
check_match "1: the mount writes and reads a content file meanwhile" "MOUNT=OK" "$r"
check_eq "1: S3 answers once they are gone (anonymous GET /: 403)" 403 \
	"$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$END/")"
check_eq "1: an anonymous GET of an object: 403" 403 \
	"$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$END/bkt/big")"
check_eq "1: an authenticated PUT and GET" ok "$(s3_roundtrip k1)"
check "1: daemon alive" daemon_alive "$M"

# ---- 2. no descriptor left at all, a client waiting
r=$(python3 "$T_BASE/fd.py" "$PID" "$PORT" "$M/bkt" "$T_BASE/big" exhaust)
diag "exhaust: $r"
cpu=$(sed -n 's/.*CPU=\([0-9.]*\).*/\1/p' <<<"$r")
check "2: the daemon's CPU time over 3 s while a client waits stays low ($cpu s)" cpu_low "${cpu:-9}"
check_match "2: the mount works once descriptors are free" "MOUNT=OK" "$r"
check_eq "2: S3 answers once descriptors are free" 403 \
	"$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$END/")"
check_match "2: the log says why connections wait" "s3: out of file descriptors: new connections wait" \
	"$(cat "${MNT_LOG[$M]}")"
n=$(grep -c "Error accepting connection" "${MNT_LOG[$M]}")
check "2: the failed accept() tries are not each logged ($n lines)" test "$n" -le 2
check_eq "2: an authenticated PUT and GET" ok "$(s3_roundtrip k2)"
check "2: the object is in the mount" test -s "$M/bkt/k2"
s3_unmount "$M"
done_testing
