#!/bin/bash
# bench.sh: wormfs next to a plain directory and gocryptfs, in one run.
#
#   bash tools/bench.sh        (as root)
#
# For each file system, BENCH_RUNS times (median reported; the file systems
# take turns inside every run so drift hits all of them alike):
#   write    BENCH_SIZE_MB MiB with dd bs=1M conv=fsync, from a random file
#            held in the page cache (so zero detection or compression cannot
#            help anyone)                                          MiB/s
#   read     the same file, cold: wormfs and gocryptfs unmounted and mounted
#            again, page cache dropped for all three               MiB/s
#   create   BENCH_FILES empty files with `: > f` in one directory  seconds
#   stat     find -printf '%s' over them after a remount, cold      seconds
#   unlink   rm -rf of that directory                               seconds
#   untar    tar -xf of a tarball of /usr/include (>= 4,000 entries;
#            generated if /usr/include is smaller), then sync       seconds
#
# A fourth column, "floor", is tools/a FUSE file system that keeps
# only names and attributes in memory and discards content. It does no I/O
# and no cryptography, so its times are what the kernel's FUSE request
# hand-off alone costs for each workload on this machine, a bound no FUSE
# file system can beat. It is not remounted ("cold" drops the kernel's
# dentry, inode and page caches, which is cold for it).
#
# BENCH_BASELINE_BUILD=DIR adds a column "wormfs-before": the same workloads
# on a second wormfs, that build directory's wormfs and wormctl, with its
# own store and the same BENCH_WORMFS_OPTS. It takes its turn with the
# others in every run, so a change's ratio against it (wormfs/wormfs-before)
# comes from one run on one machine state. It is used as it is, never built
# here; e.g. for the merge base of a change:
#   git archive BASE | tar -x -C /var/tmp/base && cd /var/tmp/base &&
#   meson setup b && ninja -C b wormfs wormctl
#   BENCH_BASELINE_BUILD=/var/tmp/base/b bash tools/bench.sh
#
# S3 (BENCH_S3=1, the default; BENCH_S3=0 skips it): the wormfs daemon
# under test also serves S3 (-o s3.listen=127.0.0.1:PORT, the same store),
# and tools/s3load.py drives both paths with the same generated content,
# threads and client code (no file on disk; --fs for the mount), in turns
# inside every run:
#   put big    one BENCH_SIZE_MB MiB object: S3 PutObject (UNSIGNED-PAYLOAD)
#              vs open/write/fsync/close through the mount          MiB/s
#   get big    that object read back, page cache dropped first      MiB/s
#   put small  BENCH_S3_FILES objects of BENCH_S3_KB KiB, BENCH_S3_JOBS at
#              once (one keep-alive connection or thread each)   objects/s
#   get small  them read back, page cache dropped first          objects/s
# The S3 table gives s3/mount (goal of issue 17: >= 0.8 on the big rows),
# and the CPU seconds of the client and of the daemon per step: on a small
# machine the client competes with the daemon for the cores, and a step
# where the client's CPU nears the wall time is client-bound.
#
# Needs root (mounts, drop_caches). Installs missing packages (gocryptfs,
# build tools), builds wormfs when the build directory has no binary, and
# always unmounts what it mounted and removes its scratch directory.
#
# Environment:
#   BENCH_RUNS (3)  BENCH_SIZE_MB (256)  BENCH_FILES (10000)
#   BENCH_DIR      parent of the scratch directory (/var/tmp; must be on a
#                  disk file system, not tmpfs)
#   BENCH_WORMFS_OPTS  extra wormfs arguments, e.g. "-o crypto_rate=100000"
#   BENCH_TIMEOUT  seconds allowed per measured step (300)
#   WORMFS_BUILD_DIR   build directory (build/ in the repository)
#   BENCH_BASELINE_BUILD  a second wormfs build directory: the column
#                  "wormfs-before" (see above); unset: no such column
#   BENCH_S3 (1)  BENCH_S3_FILES (1000)  BENCH_S3_KB (4)  BENCH_S3_JOBS (8)
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${WORMFS_BUILD_DIR:-$ROOT/build}
RUNS=${BENCH_RUNS:-3}
SIZE_MB=${BENCH_SIZE_MB:-256}
NFILES=${BENCH_FILES:-10000}
PARENT=${BENCH_DIR:-/var/tmp}
TIMEOUT=${BENCH_TIMEOUT:-300}
read -r -a WOPTS <<< "${BENCH_WORMFS_OPTS:-}"
BASE_BUILD=${BENCH_BASELINE_BUILD:-}
S3=${BENCH_S3:-1}
S3_FILES=${BENCH_S3_FILES:-1000}
S3_KB=${BENCH_S3_KB:-4}
S3_JOBS=${BENCH_S3_JOBS:-8}
S3LOAD=$ROOT/tools/s3load.py
FSES=(plain wormfs gocryptfs floor)
[ -z "$BASE_BUILD" ] || FSES=(plain wormfs wormfs-before gocryptfs floor)
TESTS=(write read create stat unlink untar)

PACKAGES=(build-essential meson ninja-build pkg-config libfuse3-dev fuse3
	  libsodium-dev libssl-dev liblmdb-dev libcriterion-dev libinih-dev libjson-c-dev
	  zlib1g-dev libisal-dev attr faketime gocryptfs)

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
note() { printf '%s\n' "$*" >&2; }

[[ $S3 =~ ^[01]$ ]] || die "BENCH_S3 must be 0 or 1 (got '$S3')"
for v in RUNS SIZE_MB NFILES TIMEOUT S3_FILES S3_KB S3_JOBS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[ "$(id -u)" -eq 0 ] || die "run as root (mounts, /proc/sys/vm/drop_caches)"

# ---- setup: packages and build --------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	note "Installing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
[ -c /dev/fuse ] || die "/dev/fuse is missing"

if [ ! -x "$BUILD/wormfs" ] || [ ! -x "$BUILD/wormctl" ] || [ ! -x "$BUILD/fusefloor" ]; then
	note "Building wormfs in $BUILD"
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >&2
	ninja -C "$BUILD" >&2
fi
WORMFS=$BUILD/wormfs
WORMCTL=$BUILD/wormctl
FUSEFLOOR=$BUILD/fusefloor
if [ -n "$BASE_BUILD" ]; then
	BASE_BUILD=$(cd -- "$BASE_BUILD" 2>/dev/null && pwd) || die "BENCH_BASELINE_BUILD: no such directory"
	if [ ! -x "$BASE_BUILD/wormfs" ] || [ ! -x "$BASE_BUILD/wormctl" ]; then
		die "BENCH_BASELINE_BUILD=$BASE_BUILD has no wormfs and wormctl (build it first)"
	fi
	[ "$BASE_BUILD" != "$(cd -- "$BUILD" && pwd)" ] ||
		note "WARNING: BENCH_BASELINE_BUILD is the build under test: both columns run the same binaries"
fi

# ---- scratch space and cleanup ---------------------------------------------
mkdir -p "$PARENT"
WORK=$(mktemp -d "$PARENT/wormfs-bench.XXXXXX")
PLAIN=$WORK/plain
WSTORE=$WORK/wstore
WMNT=$WORK/wmnt
BSTORE=$WORK/bstore     # wormfs-before
BMNT=$WORK/bmnt
GCIPHER=$WORK/gcipher
GMNT=$WORK/gmnt
FMNT=$WORK/fmnt
PASSFILE=$WORK/gocryptfs.pass
SRC=$WORK/random.bin
TARBALL=$WORK/tree.tar

unmount() {   # unmount $1 if something is mounted there (only our paths)
	local mp=$1 _
	mountpoint -q "$mp" 2>/dev/null || return 0
	for _ in 1 2 3 4 5; do
		fusermount3 -u "$mp" 2>/dev/null && return 0
		sleep 1
	done
	note "lazy unmount of $mp"
	fusermount3 -uz "$mp" || umount -l "$mp"
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	unmount "$WMNT" || true
	unmount "$BMNT" || true
	unmount "$GMNT" || true
	unmount "$FMNT" || true
	if mountpoint -q "$WMNT" 2>/dev/null || mountpoint -q "$GMNT" 2>/dev/null ||
	   mountpoint -q "$FMNT" 2>/dev/null || mountpoint -q "$BMNT" 2>/dev/null; then
		note "still mounted; leaving $WORK in place"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DROP_OK=1
drop_caches() {
	sync
	if ! echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
		[ "$DROP_OK" -eq 0 ] || note "WARNING: cannot drop caches: 'cold' numbers are warm"
		DROP_OK=0
	fi
}

mount_wormfs() {   # [BINARY STORE MOUNTPOINT]: the build under test by default
	local bin=${1:-$WORMFS} store=${2:-$WSTORE} mnt=${3:-$WMNT}
	# After an unmount the old daemon may still be closing the store; it
	# holds STORE/run.lock (flock) until it exits.
	if [ -e "$store/run.lock" ]; then
		flock -s -w 60 "$store/run.lock" true || die "wormfs daemon did not release $store/run.lock"
	fi
	local s3=()
	[ "$S3" = 0 ] || [ "$store" != "$WSTORE" ] || s3=(-o "s3.listen=127.0.0.1:$S3PORT")
	"$bin" "$store" "$mnt" "${WOPTS[@]}" "${s3[@]}" || die "wormfs mount failed ($bin)"
}
mount_before() { mount_wormfs "$BASE_BUILD/wormfs" "$BSTORE" "$BMNT"; }
mount_gocryptfs() {
	gocryptfs -q -nosyslog -passfile "$PASSFILE" "$GCIPHER" "$GMNT" || die "gocryptfs mount failed"
}
remount() {   # $1 = fs
	case $1 in
	wormfs) unmount "$WMNT"; mount_wormfs ;;
	wormfs-before) unmount "$BMNT"; mount_before ;;
	gocryptfs) unmount "$GMNT"; mount_gocryptfs ;;
	esac
}
target() {   # the benchmark directory of fs $1
	case $1 in
	plain) echo "$PLAIN/bench" ;;
	wormfs) echo "$WMNT/bench" ;;     # a bucket
	wormfs-before) echo "$BMNT/bench" ;;
	gocryptfs) echo "$GMNT/bench" ;;
	floor) echo "$FMNT/bench" ;;
	esac
}

note "Scratch directory: $WORK"
mkdir -p "$PLAIN/bench" "$WMNT" "$GCIPHER" "$GMNT" "$FMNT"

"$WORMCTL" init "$WSTORE" >/dev/null || die "wormctl init failed"
if [ "$S3" = 1 ]; then
	command -v python3 >/dev/null || die "BENCH_S3=1 needs python3 (or set BENCH_S3=0)"
	S3PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	out=$("$WORMCTL" s3 user add "$WSTORE" bench --uid 0) || die "wormctl s3 user add failed"
	S3KEY=${out%% *} S3SECRET=${out#* }
fi
mount_wormfs
mkdir "$WMNT/bench"
[ "$S3" = 0 ] || mkdir "$WMNT/s3bench"   # the bucket of both S3 sides
if [ -n "$BASE_BUILD" ]; then
	mkdir -p "$BMNT"
	"$BASE_BUILD/wormctl" init "$BSTORE" >/dev/null || die "wormctl init (BENCH_BASELINE_BUILD) failed"
	mount_before
	mkdir "$BMNT/bench"
fi

head -c 32 /dev/urandom | base64 > "$PASSFILE"
gocryptfs -init -q -passfile "$PASSFILE" "$GCIPHER" >/dev/null || die "gocryptfs -init failed"
mount_gocryptfs
mkdir "$GMNT/bench"

"$FUSEFLOOR" "$FMNT" || die "fusefloor mount failed"
mkdir "$FMNT/bench"

note "Generating ${SIZE_MB} MiB of random data"
head -c "$((SIZE_MB * 1048576))" /dev/urandom > "$SRC"

# Untar source: /usr/include if it is big enough, else a generated tree.
TREE_SRC=/usr/include
if [ ! -d "$TREE_SRC" ] || [ "$(find "$TREE_SRC" | wc -l)" -lt 4000 ]; then
	TREE_SRC=$WORK/gen/tree
	note "Generating a tree of 5,000 files"
	mkdir -p "$TREE_SRC"
	for d in $(seq 0 99); do
		mkdir "$TREE_SRC/d$d"
		for f in $(seq 0 49); do
			head -c $(( (d * 50 + f) * 37 % 20000 )) "$SRC" > "$TREE_SRC/d$d/f$f.h"
		done
	done
fi
# Hard links are refused inside a bucket (EPERM): store them as copies.
tar -C "$(dirname "$TREE_SRC")" --hard-dereference -cf "$TARBALL" "$(basename "$TREE_SRC")"
TAR_ENTRIES=$(tar -tf "$TARBALL" | wc -l)
rm -rf "$WORK/gen"

# ---- measurement -------------------------------------------------------------
declare -A SAMPLES=()
ELAPSED=0
timed() {   # run "$@" with a time limit; seconds in ELAPSED; 1 on failure
	local t0 t1
	t0=$EPOCHREALTIME
	if timeout -k 10 "$TIMEOUT" "$@"; then
		t1=$EPOCHREALTIME
		ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		return 0
	fi
	return 1
}
record() {   # fs test value
	SAMPLES[$1,$2]="${SAMPLES[$1,$2]:-} $3"
}
mibs() { awk -v mb="$SIZE_MB" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? mb / s : 0) }'; }

step() {   # fs test: one measured step, recorded as a number or FAIL
	local fs=$1 t=$2 dir
	dir=$(target "$fs")
	case $t in
	write)
		rm -f "$dir/big" || true
		sync
		cat "$SRC" > /dev/null
		if timed dd if="$SRC" of="$dir/big" bs=1M count="$SIZE_MB" conv=fsync status=none
		then record "$fs" "$t" "$(mibs "$ELAPSED")"; else record "$fs" "$t" FAIL; fi ;;
	read)
		remount "$fs"
		drop_caches
		if timed dd if="$dir/big" of=/dev/null bs=1M status=none
		then record "$fs" "$t" "$(mibs "$ELAPSED")"; else record "$fs" "$t" FAIL; fi
		rm -f "$dir/big" || true ;;
	create)
		rm -rf "$dir/small" || true
		mkdir -p "$dir/small"
		# shellcheck disable=SC2016  # expanded by the inner shell
		if timed bash -c 'cd "$1" && for ((i = 0; i < $2; i++)); do : > "f$i"; done' _ "$dir/small" "$NFILES"
		then record "$fs" "$t" "$ELAPSED"; else record "$fs" "$t" FAIL; fi ;;
	stat)
		remount "$fs"
		drop_caches
		if timed find "$dir/small" -printf '%s\n' > /dev/null
		then record "$fs" "$t" "$ELAPSED"; else record "$fs" "$t" FAIL; fi ;;
	unlink)
		if timed rm -rf "$dir/small"
		then record "$fs" "$t" "$ELAPSED"; else record "$fs" "$t" FAIL; fi ;;
	untar)
		rm -rf "$dir/tree" || true
		mkdir -p "$dir/tree"
		sync
		cat "$TARBALL" > /dev/null
		# shellcheck disable=SC2016
		if timed sh -c 'tar -xf "$1" -C "$2" && sync' _ "$TARBALL" "$dir/tree"
		then record "$fs" "$t" "$ELAPSED"; else record "$fs" "$t" FAIL; fi
		rm -rf "$dir/tree" || true ;;
	esac
}

# ---- S3 beside the mount (same daemon, same store) ---------------------------
S3TESTS=(bigput bigget smallput smallget)
wormfs_pid() {   # the daemon serving $WMNT
	local p argv
	for p in /proc/[0-9]*; do
		argv=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		case "$argv" in "$WORMFS $WSTORE $WMNT "*) echo "${p#/proc/}"; return 0 ;; esac
	done
	return 1
}
jfield() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }
s3run() {   # side op prefix count size: one s3load call; its JSON on stdout
	local side=$1 pid
	shift
	pid=$(wormfs_pid) || pid=0
	local to=(--endpoint "http://127.0.0.1:$S3PORT" --key "$S3KEY" --secret "$S3SECRET")
	[ "$side" = s3 ] || to=(--fs "$WMNT")
	timeout -k 10 "$TIMEOUT" python3 "$S3LOAD" "${to[@]}" --no-verify --pid "$pid" \
		--jobs "$([ "$3" = 1 ] && echo 1 || echo "$S3_JOBS")" "$1" s3bench "$side-$2" "$3" "$4"
}
s3step() {   # side test
	local side=$1 t=$2 out v key=mib_s
	case $t in
	bigput)
		rm -f "$WMNT/s3bench/$side-big0"; sync
		out=$(s3run "$side" put big 1 "${SIZE_MB}m") ;;
	bigget)
		drop_caches
		out=$(s3run "$side" get big 1 "${SIZE_MB}m")
		rm -f "$WMNT/s3bench/$side-big0" ;;
	smallput)
		key=objects_s
		rm -f "$WMNT/s3bench/$side-small"*; sync
		out=$(s3run "$side" put small "$S3_FILES" "${S3_KB}k") ;;
	smallget)
		key=objects_s
		drop_caches
		out=$(s3run "$side" get small "$S3_FILES" "${S3_KB}k")
		rm -f "$WMNT/s3bench/$side-small"* ;;
	esac
	v=$(printf '%s' "$out" | jfield errors 2>/dev/null)
	if [ "$v" = 0 ]; then
		record "$side" "$t" "$(printf '%s' "$out" | jfield "$key")"
		record "$side" "$t.cpu" "$(printf '%s' "$out" | jfield client_cpu_s)/$(printf '%s' "$out" | jfield daemon_cpu_s)"
	else
		note "S3 step $side $t failed: ${out:-no output}"
		record "$side" "$t" FAIL
	fi
}

START=$EPOCHREALTIME
for run in $(seq 1 "$RUNS"); do
	for fs in "${FSES[@]}"; do
		note "run $run/$RUNS: $fs"
		for t in "${TESTS[@]}"; do
			step "$fs" "$t"
		done
	done
	if [ "$S3" = 1 ]; then
		note "run $run/$RUNS: S3 and the mount, same daemon"
		for t in "${S3TESTS[@]}"; do
			for side in mount s3; do
				s3step "$side" "$t"
			done
		done
	fi
done
TOTAL=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# ---- report --------------------------------------------------------------------
median() {   # numbers (FAIL ignored) -> median, or FAIL if none
	printf '%s\n' "$@" | awk '$1 != "FAIL" && NF' | sort -g |
		awk '{ a[NR] = $1 } END {
			if (NR == 0) { print "FAIL"; exit }
			if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "FAIL" || b == "FAIL" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
fmt() {   # test value: MiB/s as integers, seconds with 3 decimals
	case $2 in FAIL) echo FAIL; return ;; esac
	case $1 in
	write|read) awk -v v="$2" 'BEGIN { printf "%.0f", v }' ;;
	*) awk -v v="$2" 'BEGIN { printf "%.3f", v }' ;;
	esac
}
unit() { case $1 in write|read) echo "MiB/s" ;; *) echo "s" ;; esac; }
better() { case $1 in write|read) echo "higher" ;; *) echo "lower" ;; esac; }
label() {
	case $1 in
	write) echo "write ${SIZE_MB} MiB + fsync" ;;
	read) echo "cold read ${SIZE_MB} MiB" ;;
	create) echo "create ${NFILES} files" ;;
	stat) echo "stat walk ${NFILES} files (cold)" ;;
	unlink) echo "unlink ${NFILES} files" ;;
	untar) echo "untar ${TAR_ENTRIES} entries + sync" ;;
	esac
}

wver=$(head -1 "$WMNT/.wormfs/version" 2>/dev/null || true)
bver=''
[ -z "$BASE_BUILD" ] || bver=$(head -1 "$BMNT/.wormfs/version" 2>/dev/null || echo '?')
cat <<EOF

wormfs benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), median of $RUNS runs, $TOTAL s in all
machine:   $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)
backing:   $(findmnt -n -o FSTYPE,SOURCE --target "$WORK" | tr -s ' ') (plain, the wormfs store and the gocryptfs cipher dir)
wormfs:    ${wver:-?}${WOPTS[*]:+ (options: ${WOPTS[*]})}, $BUILD
gocryptfs: $(gocryptfs -version 2>/dev/null | head -1)
floor:     tools/fusefloor (names and attributes in memory, content discarded)
libfuse:   $(pkg-config --modversion fuse3 2>/dev/null || echo '?')
untar:     $TREE_SRC, $TAR_ENTRIES entries
EOF
[ -z "$BASE_BUILD" ] || echo "before:    $bver (wormfs-before), $BASE_BUILD"
[ "$DROP_OK" -eq 1 ] || echo "WARNING: page cache could not be dropped; cold rows are warm"
echo
if [ -n "$BASE_BUILD" ]; then
	echo "| test | unit | better | plain | wormfs | gocryptfs | floor | wormfs/plain | wormfs/gocryptfs | wormfs/floor | gocryptfs/floor | wormfs-before | wormfs/wormfs-before |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
else
	echo "| test | unit | better | plain | wormfs | gocryptfs | floor | wormfs/plain | wormfs/gocryptfs | wormfs/floor | gocryptfs/floor |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
fi
for t in "${TESTS[@]}"; do
	# shellcheck disable=SC2086  # word splitting of the sample lists is wanted
	p=$(median ${SAMPLES[plain,$t]})
	# shellcheck disable=SC2086
	w=$(median ${SAMPLES[wormfs,$t]})
	# shellcheck disable=SC2086
	g=$(median ${SAMPLES[gocryptfs,$t]})
	# shellcheck disable=SC2086
	f=$(median ${SAMPLES[floor,$t]})
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$(label "$t")" \
		"$(unit "$t")" "$(better "$t")" "$(fmt "$t" "$p")" "$(fmt "$t" "$w")" \
		"$(fmt "$t" "$g")" "$(fmt "$t" "$f")" "$(ratio "$w" "$p")" "$(ratio "$w" "$g")" \
		"$(ratio "$w" "$f")" "$(ratio "$g" "$f")"
	if [ -n "$BASE_BUILD" ]; then
		# shellcheck disable=SC2086
		b=$(median ${SAMPLES[wormfs-before,$t]})
		printf ' %s | %s |' "$(fmt "$t" "$b")" "$(ratio "$w" "$b")"
	fi
	echo
done
cat <<'EOF'

Ratios divide the first file system's value by the second's, in the
row's unit. MiB/s rows: higher is better, so a ratio above 1.00 means wormfs
is faster. Seconds rows: lower is better, so a ratio above 1.00 means wormfs
is slower (2.00 = takes twice as long). "floor" is tools/fusefloor, which
stores nothing: on the seconds rows its time is the FUSE request cost alone,
so gocryptfs/floor bounds how much faster than gocryptfs any FUSE file
system can be here. wormfs/wormfs-before (with BENCH_BASELINE_BUILD) is the
build under test against the baseline build: 1.00 is no change.

Samples (every run):
EOF
for fs in "${FSES[@]}"; do
	for t in "${TESTS[@]}"; do
		printf '  %-14s %-7s%s\n' "$fs" "$t" "${SAMPLES[$fs,$t]}"
	done
done
if [ "$S3" = 1 ]; then
	s3label() {
		case $1 in
		bigput) echo "put ${SIZE_MB} MiB object" ;;
		bigget) echo "get ${SIZE_MB} MiB object (cold)" ;;
		smallput) echo "put ${S3_FILES} x ${S3_KB} KiB, ${S3_JOBS} at once" ;;
		smallget) echo "get ${S3_FILES} x ${S3_KB} KiB, ${S3_JOBS} at once (cold)" ;;
		esac
	}
	cpus() {   # "c/d c/d ..." -> "median c / median d"
		local c d
		# shellcheck disable=SC2046
		c=$(median $(printf '%s\n' "$@" | cut -d/ -f1))
		# shellcheck disable=SC2046
		d=$(median $(printf '%s\n' "$@" | cut -d/ -f2))
		echo "$c / $d"
	}
	echo
	echo "S3 on the same daemon and store (-o s3.listen=127.0.0.1:$S3PORT); client"
	echo "tools/s3load.py on both sides; cpu = client / daemon CPU seconds (medians)"
	echo
	echo "| test | unit | mount | s3 | s3/mount | cpu mount | cpu s3 |"
	echo "|---|---|---|---|---|---|---|"
	for t in "${S3TESTS[@]}"; do
		# shellcheck disable=SC2086
		m=$(median ${SAMPLES[mount,$t]})
		# shellcheck disable=SC2086
		x=$(median ${SAMPLES[s3,$t]})
		u="MiB/s"; case $t in small*) u="objects/s" ;; esac
		# shellcheck disable=SC2086
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(s3label "$t")" "$u" \
			"$(fmt write "$m")" "$(fmt write "$x")" "$(ratio "$x" "$m")" \
			"$(cpus ${SAMPLES[mount,$t.cpu]:-})" "$(cpus ${SAMPLES[s3,$t.cpu]:-})"
	done
	echo
	echo "S3 samples (every run; value | client/daemon CPU s):"
	for side in mount s3; do
		for t in "${S3TESTS[@]}"; do
			printf '  %-6s %-9s%s |%s\n' "$side" "$t" "${SAMPLES[$side,$t]:-}" "${SAMPLES[$side,$t.cpu]:-}"
		done
	done
fi
fails=0
for k in "${!SAMPLES[@]}"; do
	case ${SAMPLES[$k]} in *FAIL*) fails=1 ;; esac
done
[ "$fails" -eq 0 ] || { echo; echo "Some steps FAILED (medians use the runs that worked)."; exit 1; }
