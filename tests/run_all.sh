#!/usr/bin/env bash
# Run the whole test suite: dependencies (as root on Debian), a normal, a
# sanitizer (ASan + UBSan) and a ThreadSanitizer build, the Criterion unit
# tests of the first two, the integration tests with the normal build and
# a subset with each sanitizer build. The last line is "N passed, N failed,
# N skipped"; the exit status is non-zero when anything failed (a failed
# build counts).
#
# Environment:
#   CI=true             always apt-get update + install
#   WORMFS_BUILD_DIR    normal build dir (default ROOT/build)
#   WORMFS_ASAN_DIR     sanitizer build dir (default ROOT/build-asan)
#   WORMFS_NO_ASAN=1    skip the sanitizer build and its tests
#   WORMFS_TSAN_DIR     ThreadSanitizer build dir (default ROOT/build-tsan)
#   WORMFS_NO_TSAN=1    skip the ThreadSanitizer build and its tests
#   WORMFS_NO_APT=1     never touch packages
#   WORMFS_LONG=1       long variants (bigger directories, 1,000 crash cycles,
#                       1 h per fuzz target)
#   WORMFS_PJDFSTEST=DIR  run pjdfstest from this built checkout (docs/pjdfstest.md)
#   WORMFS_TESTS="posix store"  only these integration tests
#   WORMFS_ASAN_TESTS   integration tests run with the sanitizer build
#                       (default "posix namespace store persist inline")
#   WORMFS_TSAN_TESTS   integration tests run with the TSan build (default:
#                       the most concurrent ones, see TSAN_TESTS below)
# Logs of every step go to LOGDIR (default /tmp/wormfs-test-logs, emptied first).
set -u -o pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
cd "$ROOT" || exit 1
BUILD=${WORMFS_BUILD_DIR:-$ROOT/build}
ASAN=${WORMFS_ASAN_DIR:-$ROOT/build-asan}
TSAN=${WORMFS_TSAN_DIR:-$ROOT/build-tsan}
# Integration tests with the most concurrency in the daemon: racing lock
# changes and writers, kills during commits, settling writers, parallel
# xattr load, the lock matrix, the broad POSIX, namespace and store
# coverage and the daemonized mount (about 5 minutes on 2 busy cores).
# Not test_kms: its rate-limit windows assume a daemon at normal speed.
TSAN_TESTS=${WORMFS_TSAN_TESTS:-lock_race rv_race crash_atomic crash lock_settle xattr_load lock_matrix bucket_lock posix namespace inline store daemon s3 s3_users fault_commit}
LONG=${WORMFS_LONG:-0}
LOGDIR=${LOGDIR:-/tmp/wormfs-test-logs}
NPROC=$(nproc 2>/dev/null || echo 2)

PASS=0 FAIL=0 SKIP=0
FAILED_ITEMS=()
START=$(date +%s)

say() { printf '== %s\n' "$*"; }
add_fail() { FAIL=$((FAIL + 1)); FAILED_ITEMS+=("$1"); printf 'FAILED: %s\n' "$1"; }

# ---------------------------------------------------------------- 1. packages
PKGS=(build-essential meson ninja-build pkg-config libfuse3-dev fuse3 libsodium-dev libssl-dev
	zlib1g-dev libisal-dev
	liblmdb-dev lmdb-utils libcriterion-dev libinih-dev libjson-c-dev attr faketime
	util-linux gocryptfs autoconf automake perl bc python3 jq clang libclang-rt-14-dev
	logrotate gzip libmicrohttpd-dev libexpat1-dev python3-boto3 python3-pytest awscli curl
	openssl rclone)
# Node.js and npm for tests/node (the AWS SDK for JavaScript): Debian's,
# unless a Node.js with its own npm is installed (NodeSource's nodejs
# conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
install_packages() {
	local missing
	missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PKGS[@]}" 2>&1 |
		awk '$1 != "ii" { print }' | wc -l)
	if [ "${CI:-}" != true ] && [ "$missing" -eq 0 ]; then
		say "packages: all installed"
		return 0
	fi
	if [ "${WORMFS_NO_APT:-0}" = 1 ]; then
		say "packages: $missing missing, WORMFS_NO_APT=1: not installing"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		say "packages: $missing missing and not root: not installing"
		return 0
	fi
	say "packages: apt-get update + install"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >"$LOGDIR/apt.log" 2>&1 &&
		apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >>"$LOGDIR/apt.log" 2>&1
}

rm -rf "$LOGDIR" 2>/dev/null
mkdir -p "$LOGDIR" 2>/dev/null || LOGDIR=$(mktemp -d /tmp/wormfs-test-logs.XXXXXX)
if ! install_packages; then
	add_fail "package installation (see $LOGDIR/apt.log)"
	tail -n 20 "$LOGDIR/apt.log"
fi
# FUSE needs the device and the module.
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null

# ---------------------------------------------------------------- 2. builds
# build DIR NAME [meson options]: fresh or wiped setup, then ninja -k 0 so
# every target that can be built is built; returns ninja's status.
build() {
	local dir=$1 name=$2 log=$LOGDIR/build-$2.log
	shift 2
	say "build $name in $dir"
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --wipe "$dir" "$@" >"$log" 2>&1
	else
		rm -rf "$dir"
		meson setup "$dir" "$@" >"$log" 2>&1
	fi || { tail -n 30 "$log"; return 1; }
	if ! ninja -C "$dir" -k 0 >>"$log" 2>&1; then
		grep -E 'error|FAILED' "$log" | head -n 30
		return 1
	fi
}

BUILD_OK=1
build "$BUILD" normal || { BUILD_OK=0; add_fail "build (normal): see $LOGDIR/build-normal.log"; }
# The harness for the integration tests: compiled directly, not by meson.
mkdir -p "$BUILD"
HARNESS=$BUILD/itest-harness
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$HARNESS" tests/integration/harness.c \
	>"$LOGDIR/build-harness.log" 2>&1; then
	add_fail "harness build: see $LOGDIR/build-harness.log"
	cat "$LOGDIR/build-harness.log"
fi

ASAN_OK=0
if [ "${WORMFS_NO_ASAN:-0}" != 1 ]; then
	ASAN_OK=1
	build "$ASAN" asan -Db_sanitize=address,undefined -Db_lundef=false ||
		{ ASAN_OK=0; add_fail "build (asan): see $LOGDIR/build-asan.log"; }
fi

# ThreadSanitizer: the daemon and wormctl only. Criterion cannot run under
# TSan (its fork arena is mapped where TSan keeps its shadow memory), so
# the unit tests stay with the other two builds.
TSAN_OK=0
if [ "${WORMFS_NO_TSAN:-0}" != 1 ]; then
	TSAN_OK=1
	build "$TSAN" tsan -Db_sanitize=thread -Db_lundef=false -Dtests=false ||
		{ TSAN_OK=0; add_fail "build (tsan): see $LOGDIR/build-tsan.log"; }
fi

# ---------------------------------------------------------------- 3. unit tests
# run_unit DIR LABEL: every test_* executable with TAP output; each test
# case counts. A binary that dies or reports nothing counts as one failure.
run_unit() {
	local dir=$1 label=$2 exe name tap p f s rc
	for exe in "$dir"/test_*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		name=$(basename "$exe")
		tap=$LOGDIR/unit-$label-$name.tap
		timeout -k 10 300 "$exe" --tap="$tap" -j"$NPROC" >"$LOGDIR/unit-$label-$name.log" 2>&1
		rc=$?
		p=$(grep -cE '^ok ' "$tap" 2>/dev/null)
		s=$(grep -cE '^ok .*# SKIP' "$tap" 2>/dev/null)
		f=$(grep -cE '^not ok ' "$tap" 2>/dev/null)
		p=$((p - s))
		PASS=$((PASS + p)); SKIP=$((SKIP + s)); FAIL=$((FAIL + f))
		printf '   unit %-6s %-16s %4d passed %3d failed %3d skipped' "$label" "$name" "$p" "$f" "$s"
		if [ "$f" -gt 0 ]; then
			echo
			grep -E '^not ok ' "$tap" | head -n 10 | sed 's/^/      /'
			FAILED_ITEMS+=("unit $label $name: $f failed (log $tap)")
		fi
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
			printf ' (exit %d)' "$rc"
			add_fail "unit $label $name exited $rc without a failing test (crash/timeout?): $LOGDIR/unit-$label-$name.log" >/dev/null
		elif [ $((p + f + s)) -eq 0 ]; then
			add_fail "unit $label $name reported no tests: $LOGDIR/unit-$label-$name.log" >/dev/null
		fi
		echo
	done
}

if [ -d "$BUILD" ]; then
	say "unit tests (normal build)"
	run_unit "$BUILD" normal
fi
if [ "${WORMFS_NO_ASAN:-0}" != 1 ] && [ -d "$ASAN" ]; then
	say "unit tests (asan build)"
	# Criterion forks the tests; leaks in test code are reported, not fatal.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_unit "$ASAN" asan
fi

# ---------------------------------------------------------------- 4. integration
# run_integ SCRIPT LABEL TIMEOUT [env...]: counts ok / not ok / # SKIP lines.
run_integ() {
	local script=$1 label=$2 tmo=$3 name log rc p f s
	shift 3
	name=$(basename "$script" .sh)
	log=$LOGDIR/integ-$label-$name.log
	local t0=$(date +%s)
	env "$@" timeout -k 20 "$tmo" bash "$script" >"$log" 2>&1
	rc=$?
	# A killed script cannot clean up: unmount what it left (only its own).
	local base m
	base=$(sed -n 's/^# T_BASE=//p' "$log" | head -n 1)
	if [ -n "$base" ]; then
		for m in $(awk -v b="$base/" 'index($2, b) == 1 { print $2 }' /proc/mounts); do
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
			add_fail "integ $label $name left $m mounted"
		done
	fi
	p=$(grep -cE '^ok [0-9]+' "$log")
	s=$(grep -cE '^ok [0-9]+.*# SKIP' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	p=$((p - s))
	PASS=$((PASS + p)); SKIP=$((SKIP + s)); FAIL=$((FAIL + f))
	printf '   integ %-6s %-18s %4d passed %3d failed %3d skipped  %4ds\n' "$label" "$name" "$p" "$f" "$s" $(($(date +%s) - t0))
	if [ "$f" -gt 0 ]; then
		grep -E '^not ok ' "$log" | head -n 15 | sed 's/^/      /'
		FAILED_ITEMS+=("integ $label $name: $f failed (log $log)")
	fi
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		add_fail "integ $label $name timed out after ${tmo}s: $log"
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		add_fail "integ $label $name exited $rc without a failing assertion: $log"
	elif [ $((p + f + s)) -eq 0 ]; then
		add_fail "integ $label $name reported nothing: $log"
	fi
}

selected() {
	[ -z "${WORMFS_TESTS:-}" ] && return 0
	case " $WORMFS_TESTS " in *" $1 "*) return 0 ;; esac
	return 1
}

if [ "$BUILD_OK" = 1 ] || [ -x "$BUILD/wormfs" ]; then
	say "integration tests (normal build)"
	for t in tests/integration/test_*.sh; do
		n=$(basename "$t" .sh); n=${n#test_}
		selected "$n" || continue
		tmo=600
		[ "$n" = pjdfstest ] && [ -n "${WORMFS_PJDFSTEST:-}" ] && tmo=2400
		# fuzz: a clang build, then 60 s per target (1 h each when long).
		[ "$n" = fuzz ] && tmo=$([ "$LONG" = 1 ] && echo 26000 || echo 1200)
		# 5 × 1,000,000 exerciser operations: hours on 2 cores.
		[ "$n" = fileops ] && [ "$LONG" = 1 ] && tmo=14400
		# 1,000 crash cycles: 3-7 s each on 2 busy cores.
		[ "$n" = crash_torture ] && [ "$LONG" = 1 ] && tmo=9000
		# 2 × 1,000,000 objects created and listed twice: about 25 min.
		[ "$n" = scale ] && [ "$LONG" = 1 ] && tmo=5400
		run_integ "$t" normal "$tmo" WORMFS_BUILD="$BUILD" WORMFS_HARNESS="$HARNESS" WORMFS_LONG="$LONG"
	done
fi
if [ "${WORMFS_NO_ASAN:-0}" != 1 ] && [ -x "$ASAN/wormfs" ]; then
	say "integration tests (asan build)"
	for n in ${WORMFS_ASAN_TESTS:-posix namespace store persist inline s3 s3_users}; do
		selected "$n" || continue
		run_integ "tests/integration/test_$n.sh" asan 600 WORMFS_BUILD="$ASAN" WORMFS_HARNESS="$HARNESS" \
			WORMFS_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0
	done
fi

if [ "${WORMFS_NO_TSAN:-0}" != 1 ] && [ -x "$TSAN/wormfs" ]; then
	say "integration tests (tsan build)"
	# lib.sh adds log_path and tests/tsan.supp; every report fails the test.
	for n in $TSAN_TESTS; do
		selected "$n" || continue
		run_integ "tests/integration/test_$n.sh" tsan 900 WORMFS_BUILD="$TSAN" WORMFS_HARNESS="$HARNESS" \
			WORMFS_SANITIZE=1 TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1
	done
fi

# ---------------------------------------------------------------- 5. summary
echo
say "logs in $LOGDIR; $(($(date +%s) - START)) s"
for i in "${FAILED_ITEMS[@]}"; do echo "   - $i"; done
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" -eq 0 ]
