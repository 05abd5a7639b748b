#!/bin/bash
# reqcost.sh: what a FUSE daemon costs per file for the bench.sh workloads,
# in figures that do not depend on the machine's load.
#
#   bash tools/reqcost.sh [wormfs|floor]        (as root; wormfs by default)
#
# Runs on a fresh mount, in one directory (a bucket for wormfs): create N
# empty files with `: > f`; a cold stat walk (remount wormfs, drop caches,
# find -printf %s); rm -rf of them; tar -xf of a tarball of /usr/include +
# sync; a write of a REQ_SIZE_MB file (dd bs=1M conv=fsync from a random
# file, as bench.sh); a cold read of it (cat after a remount and a cache
# drop). For each workload it prints, per file (per MiB for write and read):
#   dcpu   the daemon's CPU time (user + system, /proc/PID/stat), in µs
#   dsys   of which system time (its side of the request hand-off, LMDB's
#          page writes, content I/O)
#   ccpu   the caller's CPU time (the workload's processes; their system
#          time is the kernel's FUSE client), in µs
#   Minstr the daemon's instructions, in millions (only with
#          REQCOST_CALLGRIND=1: the daemon runs under valgrind's callgrind,
#          zeroed before and dumped after each workload; the same count
#          whatever the load, user space only)
#   req    FUSE requests (wormfs only: from .wormfs/stats)
# CPU times are a median of REQ_RUNS runs (each on a fresh mount); the
# instruction counts are of one run (they repeat within a fraction of a
# per cent). CPU time still varies with the load (cache misses, frequency)
# but far less than wall time: it does not count waiting for a CPU.
#
# Environment: REQ_FILES (2000), REQ_SIZE_MB (64), REQ_RUNS (3),
# WORMFS_BUILD_DIR (build/), REQ_DIR (/var/tmp), REQ_WORMFS_OPTS (extra
# wormfs arguments), REQ_ONLY (the workloads to run: create, stat and
# unlink always run; untar, write and read if listed; all by default;
# read implies the write, measured only if listed),
# REQCOST_CALLGRIND (0), REQCOST_KEEP (a directory: keep
# each workload's callgrind dump there as FS-WORKLOAD.cg, for
# callgrind_annotate).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${WORMFS_BUILD_DIR:-$ROOT/build}
FS=${1:-wormfs}
NFILES=${REQ_FILES:-2000}
SIZE_MB=${REQ_SIZE_MB:-64}
RUNS=${REQ_RUNS:-3}
CG=${REQCOST_CALLGRIND:-0}
ONLY=${REQ_ONLY:-create stat unlink untar write read}
read -r -a WOPTS <<< "${REQ_WORMFS_OPTS:-}"
for v in NFILES SIZE_MB RUNS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "reqcost.sh: $v must be a positive integer" >&2; exit 1; }
done
case $FS in wormfs|floor) ;; *) echo "usage: reqcost.sh [wormfs|floor]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "reqcost.sh: run as root" >&2; exit 1; }
[ "$CG" = 0 ] || RUNS=1

WORK=$(mktemp -d "${REQ_DIR:-/var/tmp}/wormfs-reqcost.XXXXXX")
MNT=$WORK/mnt
STORE=$WORK/store
DPID=
cleanup() {
	local rc=$?
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" || true
	fi
	[ -z "$DPID" ] || wait "$DPID" 2>/dev/null || true
	mountpoint -q "$MNT" 2>/dev/null || rm -rf --one-file-system "$WORK"
	exit "$rc"
}
trap cleanup EXIT
mkdir -p "$MNT"
CLK=$(getconf CLK_TCK)

# Start the daemon in the foreground, in the background of this shell, so
# $! is its process (valgrind's, under callgrind).
mountfs() {
	local vg=()
	[ "$CG" = 0 ] || vg=(valgrind -q --tool=callgrind "--callgrind-out-file=$WORK/cg.%p")
	if [ "$FS" = wormfs ]; then
		[ -e "$STORE/run.lock" ] && flock -s -w 60 "$STORE/run.lock" true
		# Under valgrind the LMDB map's mmap must fit its address space
		# manager: an address-space limit makes meta map less (a quarter).
		( [ "$CG" = 0 ] || ulimit -v $((16 << 20))
		  exec "${vg[@]}" "$BUILD/wormfs" "$STORE" "$MNT" -f "${WOPTS[@]}" ) 2>>"$WORK/daemon.log" &
	else
		"${vg[@]}" "$BUILD/fusefloor" "$MNT" -f 2>>"$WORK/daemon.log" &
	fi
	DPID=$!
	for _ in $(seq 600); do
		mountpoint -q "$MNT" && break
		kill -0 "$DPID" 2>/dev/null || { echo "reqcost.sh: mount failed" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
		sleep 0.1
	done
	mountpoint -q "$MNT" || { echo "reqcost.sh: mount timed out" >&2; exit 1; }
}
umountfs() {
	fusermount3 -u "$MNT"
	wait "$DPID" || true
	DPID=
}
remount() { [ "$FS" = floor ] || { umountfs; mountfs; }; }

dcpu() {   # the daemon's user and system CPU time so far, µs
	awk -v t="$CLK" '{ sub(/^.*\) /, ""); printf "%d %d\n", ($12 + $13) * 1e6 / t, $13 * 1e6 / t }' \
		"/proc/$DPID/stat"
}
reqs() {   # total FUSE requests so far (wormfs)
	[ "$FS" = wormfs ] || { echo 0; return; }
	awk -F' ' '/^wormfs_fuse_requests_total/ { s += $2 } END { print s + 0 }' "$MNT/.wormfs/stats"
}
cg_zero() { [ "$CG" = 0 ] || callgrind_control -z "$DPID" >/dev/null; }
cg_count() {   # NAME: instructions since cg_zero, from a dump
	[ "$CG" = 0 ] && { echo 0; return; }
	rm -f "$WORK"/cg.*.[0-9]*
	callgrind_control -d "$DPID" >/dev/null
	[ -z "${REQCOST_KEEP:-}" ] || cat "$WORK"/cg.*.[0-9]* > "$REQCOST_KEEP/$FS-$1.cg"
	cat "$WORK"/cg.*.[0-9]* | awk '/^(summary|totals):/ { s = $2 } END { print s + 0 }'
}

# measure NAME UNITS CMD...: run CMD, record the daemon's and the caller's
# CPU and the requests, per unit, into the file NAME.RUN.
declare -A ROW=()
measure() {
	local name=$1 units=$2 c0 c1 s0 s1 r0 r1 cc n1
	shift 2
	r0=$(reqs)
	read -r c0 s0 < <(dcpu)
	cg_zero
	cc=$( { TIMEFORMAT='%U %S'; time "$@" >/dev/null; } 2>&1 | tail -1)
	n1=$(cg_count "$name")
	read -r c1 s1 < <(dcpu)
	r1=$(reqs)
	ROW[$name]+=$(awk -v u="$units" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" \
		-v cc="$cc" -v n="$n1" -v r0="$r0" -v r1="$r1" 'BEGIN {
		split(cc, x, " ")
		printf "%.1f %.1f %.1f %.3f %.2f\n", (c1 - c0) / u, (s1 - s0) / u,
			(x[1] + x[2]) * 1e6 / u, n / u / 1e6, (r1 - r0) / u }')$'\n'
}

want() { [[ " $ONLY " == *" $1 "* ]]; }
w_create() { (cd "$MNT/bench" && mkdir small && cd small &&
	for ((i = 0; i < NFILES; i++)); do : > "f$i"; done); }
w_stat() { find "$MNT/bench/small" -printf '%s\n'; }
w_unlink() { rm -rf "$MNT/bench/small"; }
w_untar() { tar -xf "$WORK/tree.tar" -C "$MNT/bench/tree" && sync; }
w_write() { dd if="$WORK/random.bin" of="$MNT/bench/big" bs=1M conv=fsync status=none; }
w_read() { cat "$MNT/bench/big" > /dev/null; }

tar -C /usr --hard-dereference -cf "$WORK/tree.tar" include
ENTRIES=$(tar -tf "$WORK/tree.tar" | wc -l)
head -c "$((SIZE_MB * 1048576))" /dev/urandom > "$WORK/random.bin"

for ((run = 0; run < RUNS; run++)); do
	rm -rf "$STORE"
	[ "$FS" = floor ] || "$BUILD/wormctl" init "$STORE" >/dev/null
	mountfs
	mkdir "$MNT/bench" "$MNT/bench/tree"
	measure create "$NFILES" w_create
	remount
	sync; echo 3 > /proc/sys/vm/drop_caches
	measure stat "$NFILES" w_stat
	measure unlink "$NFILES" w_unlink
	if want untar; then measure untar "$ENTRIES" w_untar; fi
	if want write; then
		measure write "$SIZE_MB" w_write
	elif want read; then
		w_write
	fi
	if want read; then
		remount
		sync; echo 3 > /proc/sys/vm/drop_caches
		measure read "$SIZE_MB" w_read
	fi
	umountfs
done

printf '%s: %d files, untar %d entries, write/read %d MiB; median of %d run(s) per cell\n' \
	"$FS" "$NFILES" "$ENTRIES" "$SIZE_MB" "$RUNS"
printf '%-7s %9s %9s %9s %9s %7s   (per file; write, read: per MiB)\n' workload dcpu_us dsys_us ccpu_us Minstr req
for w in create stat unlink untar write read; do
	[ -n "${ROW[$w]:-}" ] || continue
	printf '%s' "${ROW[$w]}" | awk -v w="$w" '
		{ for (i = 1; i <= 5; i++) v[i, NR] = $i; n = NR }
		END {
			printf "%-7s", w
			for (i = 1; i <= 5; i++) {
				m = 0
				for (j = 1; j <= n; j++) a[j] = v[i, j]
				for (j = 1; j <= n; j++) for (k = j + 1; k <= n; k++)
					if (a[k] < a[j]) { t = a[j]; a[j] = a[k]; a[k] = t }
				m = a[int((n + 1) / 2)]
				printf (i == 4 ? " %9.3f" : (i == 5 ? " %7.2f" : " %9.1f")), m
			}
			printf "   [dcpu:"
			for (j = 1; j <= n; j++) printf " %s", v[1, j]
			printf "]\n"
		}'
done
