#!/bin/bash
# reqcount.sh: FUSE requests per file for the bench.sh workloads, read from
# the wormfs_fuse_requests_total counters of .wormfs/stats.
#
#   bash tools/reqcount.sh        (as root)
#
# Mounts a fresh store and runs, in a bucket: create N empty files with
# `: > f`; a cold stat walk (remount, drop caches, find -printf %s);
# rm -rf of them; tar -xf of a tarball of /usr/include (hard links stored
# as copies) + sync. For each workload it prints the requests per file by
# opcode (the counters' difference divided by the number of files or
# tar entries). Counts, not times: they do not depend on the machine's
# load, so two builds can be compared on a busy machine.
#
# Environment: REQ_FILES (2000), WORMFS_BUILD_DIR (build/), REQ_DIR (/var/tmp),
# REQ_WORMFS_OPTS (extra wormfs arguments).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${WORMFS_BUILD_DIR:-$ROOT/build}
NFILES=${REQ_FILES:-2000}
read -r -a WOPTS <<< "${REQ_WORMFS_OPTS:-}"
[[ $NFILES =~ ^[1-9][0-9]*$ ]] || { echo "REQ_FILES must be a positive integer" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "reqcount.sh: run as root" >&2; exit 1; }

WORK=$(mktemp -d "${REQ_DIR:-/var/tmp}/wormfs-reqcount.XXXXXX")
MNT=$WORK/mnt
STORE=$WORK/store
cleanup() {
	local rc=$?
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" || true
	fi
	[ -e "$STORE/run.lock" ] && flock -s -w 30 "$STORE/run.lock" true
	mountpoint -q "$MNT" 2>/dev/null || rm -rf --one-file-system "$WORK"
	exit "$rc"
}
trap cleanup EXIT
mkdir -p "$MNT"
"$BUILD/wormctl" init "$STORE" >/dev/null
mountfs() {
	[ -e "$STORE/run.lock" ] && flock -s -w 60 "$STORE/run.lock" true
	"$BUILD/wormfs" "$STORE" "$MNT" "${WOPTS[@]}"
}
mountfs
mkdir "$MNT/bench"

snap() {   # print "OPCODE count" lines of the FUSE request counters
	sed -n 's/^wormfs_fuse_requests_total{op="\([A-Z]*\)"} \([0-9]*\)$/\1 \2/p' \
		"$MNT/.wormfs/stats"
}
# report NAME FILES BEFORE AFTER: the difference per file, by opcode
report() {
	awk -v name="$1" -v n="$2" '
		FNR == NR { b[$1] = $2; next }
		{ d = $2 - b[$1]; if (d > 0) { per[$1] = d / n; tot += d } }
		END {
			printf "%-8s %6.2f requests/file:", name, tot / n
			for (k in per) if (per[k] >= 0.005) printf " %s %.2f", k, per[k]
			printf "\n"
		}' <(printf '%s\n' "$3") <(printf '%s\n' "$4")
}

# The snapshot reads .wormfs/stats: a LOOKUP and an OPEN/READ/RELEASE or so
# of its own, a fixed handful that vanishes in the per-file division.
b=$(snap)
(cd "$MNT/bench" && mkdir small && cd small &&
	for ((i = 0; i < NFILES; i++)); do : > "f$i"; done)
report create "$NFILES" "$b" "$(snap)"

fusermount3 -u "$MNT"
mountfs
sync; echo 3 > /proc/sys/vm/drop_caches
b=$(snap)
find "$MNT/bench/small" -printf '%s\n' > /dev/null
report stat "$NFILES" "$b" "$(snap)"

b=$(snap)
rm -rf "$MNT/bench/small"
report unlink "$NFILES" "$b" "$(snap)"

tar -C /usr --hard-dereference -cf "$WORK/tree.tar" include
entries=$(tar -tf "$WORK/tree.tar" | wc -l)
mkdir "$MNT/bench/tree"
b=$(snap)
tar -xf "$WORK/tree.tar" -C "$MNT/bench/tree" && sync
report untar "$entries" "$b" "$(snap)"
