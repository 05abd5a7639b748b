#!/usr/bin/env bash
# The S3 endpoint's memory bound (issue 17 item 4; README "S3 endpoint",
# memory): 8 concurrent PUTs of generated streams (tools/s3load.py: no file
# on disk, nothing whole in the client), then 8 concurrent GETs streamed
# back and compared by SHA-256, with UNSIGNED-PAYLOAD and with signed
# aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks).
# The daemon's VmRSS is sampled every 20 ms while they run; neither it nor
# VmHWM at the end may pass
#     BOUND = baseline RSS + 8 x S3_RSS_PER_CONN + S3_RSS_SLACK
# where baseline is the RSS after one warm-up PUT and GET (thread pool,
# pools and caches in place).
# 8 x 512 MiB per pass (4 GiB in and out per mode, as the issue states
# it); S3_RSS_SIZE=128m for a quicker run while developing.
. "$(dirname "$0")/lib.sh"
require_binaries
PY=/usr/bin/python3
LOAD=$ROOT/tools/s3load.py
PER_CONN_MIB=${S3_RSS_PER_CONN:-4}
SLACK_MIB=${S3_RSS_SLACK:-32}
SIZE=${S3_RSS_SIZE:-512m}

S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
field() { printf '%s' "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"; }

s3_mount "$S" "$M" || { fail "mount with s3"; done_testing; }
PID=$(daemon_pid "$S" "$M")
mkdir "$M/rss"
run_load() { "$PY" "$LOAD" --endpoint "http://127.0.0.1:$PORT" --key "$KEY" --secret "$SECRET" "$@"; }

# Warm-up: one of each, then the baseline.
for mode in unsigned chunked; do
	out=$(run_load --mode "$mode" --jobs 1 put rss "warm-$mode-" 1 8m 2>&1)
	check_eq "warm-up PUT ($mode)" 0 "$(field "$out" errors)"
	out=$(run_load --mode "$mode" --jobs 1 get rss "warm-$mode-" 1 8m 2>&1)
	check_eq "warm-up GET ($mode)" 0 "$(field "$out" errors)"
done
BASE=$(rss_kib "$PID")
BOUND=$((BASE + (8 * PER_CONN_MIB + SLACK_MIB) * 1024))
diag "daemon pid $PID: baseline VmRSS $BASE KiB; bound $BOUND KiB (+8 x $PER_CONN_MIB MiB + $SLACK_MIB MiB); 8 x $SIZE per pass"

for mode in unsigned chunked; do
	for op in put get; do
		t0=$(date +%s)
		out=$(run_load --mode "$mode" --jobs 8 --pid "$PID" "$op" rss "$mode-" 8 "$SIZE" 2>&1)
		diag "$mode $op: $out ($(( $(date +%s) - t0 )) s, a loaded machine)"
		what="no error"; [ "$op" = get ] && what="no error, SHA-256 equal"
		check_eq "8 x $SIZE $op ($mode): $what" "0|" \
			"$(field "$out" errors)|$(field "$out" first_error)"
		peak=$(field "$out" peak_rss_kib)
		check "8 x $SIZE $op ($mode): peak VmRSS ${peak:-?} KiB <= $BOUND KiB" \
			test -n "$peak" -a "${peak:-0}" -le "$BOUND"
	done
done
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
check "VmHWM over the whole run ${hwm:-?} KiB <= $BOUND KiB" test -n "$hwm" -a "${hwm:-0}" -le "$BOUND"
want=$("$PY" -B -c "import sys; sys.path.insert(0, '$ROOT/tools'); import s3load; print(s3load.size_arg('$SIZE'))")
check_eq "the 16 objects are in the mount, each of $SIZE" "16|$want" \
	"$(ls "$M"/rss/unsigned-* "$M"/rss/chunked-* | wc -l)|$(stat -c %s "$M"/rss/unsigned-* "$M"/rss/chunked-* | sort -u | tr '\n' ' ' | sed 's/ $//')"

umount_fs "$M" || fail "umount"
done_testing
