#!/usr/bin/env bash
# A stop (SIGTERM) while S3 changes a directory that the mount is changing
# too: the daemon exits. Each S3 answer first delivers the kernel
# invalidations of what it changed (notify_inval_entry takes the
# directory's lock in the kernel); a create or rename through the mount in
# that directory holds that lock while its request waits for the daemon.
# Once the session loop has stopped, nobody answers that request, so a
# delivery must not wait for the lock then (nor the stop for the delivery).
. "$(dirname "$0")/lib.sh"
require_binaries

PY=/usr/bin/python3
S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S"
ROUNDS=${ROUNDS:-20}

for r in $(seq 1 "$ROUNDS"); do
	s3_mount "$S" "$M" || { fail "mount with S3 ($r)"; done_testing; }
	[ -d "$M/coh" ] || mkdir "$M/coh"
	mkdir -p "$M/coh/d"
	S3_END=$END S3_KEY=$KEY S3_SECRET=$SECRET "$PY" - <<'EOF' >/dev/null 2>&1 &
import os, boto3, threading
from botocore.config import Config
def run(t):
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_END"], region_name="us-east-1",
                      aws_access_key_id=os.environ["S3_KEY"], aws_secret_access_key=os.environ["S3_SECRET"],
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
    for i in range(20000):
        try:
            s3.put_object(Bucket="coh", Key="d/k%d-%d" % (t, i % 5), Body=b"x" * (i % 100))
            s3.delete_object(Bucket="coh", Key="d/k%d-%d" % (t, (i + 2) % 5))
        except Exception:
            pass
ts = [threading.Thread(target=run, args=(t,)) for t in range(6)]
[t.start() for t in ts]
[t.join() for t in ts]
EOF
	RACER=$!
	LOOPS=()
	for j in 1 2 3 4; do
		( for i in $(seq 1 100000); do
			: >"$M/coh/d/m$j" 2>/dev/null
			mv -f "$M/coh/d/m$j" "$M/coh/d/n$j" 2>/dev/null
			rm -f "$M/coh/d/n$j" 2>/dev/null
		done ) &
		LOOPS+=($!)
	done
	sleep 1
	pid=${MNT_PID[$M]}
	kill -TERM "$pid"
	gone=0
	for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || { gone=1; break; }; sleep 0.1; done
	check_eq "round $r: the daemon exits within 15 s of SIGTERM under mixed S3 and mount load" 1 "$gone"
	if [ $gone = 0 ]; then
		diag "$(cat /proc/$pid/task/*/wchan 2>/dev/null | sort | uniq -c | tr '\n' ' ')"
		for p in "${LOOPS[@]}"; do diag "loop $p: $(cat /proc/$p/wchan 2>/dev/null) $(for c in $(pgrep -P $p); do cat /proc/$c/wchan; echo; done | tr '\n' ' ')"; done
	fi
	kill "$RACER" 2>/dev/null
	for p in "${LOOPS[@]}"; do pkill -KILL -P "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
	wait "${LOOPS[@]}" "$RACER" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		diag "still running after the mount-side loops were killed: SIGKILL"
		kill -KILL "$pid"
	fi
	if [ $gone = 0 ]; then
		# the hang outlives a SIGKILL (a thread stays in the kernel):
		# abort the connection so that nothing stays stuck
		dev=$(awk -v m="$M" '$5 == m {print $3}' /proc/self/mountinfo | tail -n 1)
		ctl=0
		if [ ! -d /sys/fs/fuse/connections/"${dev#*:}" ]; then
			mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null && ctl=1
		fi
		[ -n "$dev" ] && echo 1 >/sys/fs/fuse/connections/"${dev#*:}"/abort 2>/dev/null
		sleep 1
		[ $ctl = 1 ] && umount /sys/fs/fuse/connections 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	MNT_PID[$M]=
	is_mounted "$M" && fusermount3 -u "$M" 2>/dev/null
	for i in $(seq 1 50); do is_mounted "$M" || break; sleep 0.1; fusermount3 -u "$M" 2>/dev/null; done
	[ $gone = 1 ] || break
done
done_testing
