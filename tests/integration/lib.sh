# lib.sh: shared helpers for tests/integration/test_*.sh (source it).
#
# Output is TAP: every assertion prints "ok N - desc" or "not ok N - desc"
# (diagnostics as "# ..." lines); done_testing prints the plan and exits
# non-zero when something failed. Every mount made through mount_fg/mount_bg
# is unmounted by an EXIT/INT/TERM trap, daemons left behind are killed and
# the temporary directory is removed, also when the script fails.
#
# Environment:
#   WORMFS_BUILD     build directory holding wormfs and wormctl (default ROOT/build)
#   WORMFS_HARNESS   harness binary (default BUILD/itest-harness, compiled if stale)
#   WORMFS_SANITIZE  1 when the binaries are built with ASan/UBSan or TSan:
#                    sanitizer reports anywhere in this test count as a
#                    failure (TSan reads tests/tsan.supp)
#   WORMFS_LONG      1 for the long variants

set -u -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
BUILD=${WORMFS_BUILD:-$ROOT/build}
WORMFS=${WORMFS_BIN:-$BUILD/wormfs}
WORMCTL=${WORMCTL_BIN:-$BUILD/wormctl}
HARNESS=${WORMFS_HARNESS:-$BUILD/itest-harness}
WORMFS_SANITIZE=${WORMFS_SANITIZE:-0}
WORMFS_LONG=${WORMFS_LONG:-0}
# An unprivileged identity for permission tests (needs no passwd entry).
TEST_UID=${TEST_UID:-1000}

T_N=0
T_FAILED=0
T_SKIPPED=0
T_NAME=$(basename "$0" .sh)
T_BASE=$(mktemp -d "${TMPDIR:-/tmp}/wormfs-it.$T_NAME.XXXXXX")
# Other users must be able to reach mount points below it.
chmod 0755 "$T_BASE"
# run_all.sh clears mounts left below this directory if the script is killed.
echo "# T_BASE=$T_BASE"
declare -A MNT_PID=() MNT_LOG=() MNT_CHILD=()
MOUNTS=()

if [ "$WORMFS_SANITIZE" = 1 ]; then
	# Reports of every instrumented process (also daemonized ones, whose
	# stderr is gone) land in files we check at the end. The directory is
	# sticky and world-writable: processes run as TEST_UID must be able to
	# create their report file too, or the runtime exits early (code 66).
	# The suppressions are copied there for the same reason: the clone may
	# sit in a directory TEST_UID cannot enter (mktemp -d is 0700).
	T_SAN=$T_BASE/san
	mkdir -m 1777 "$T_SAN" && chmod 1777 "$T_SAN"
	install -m 0644 "$ROOT/tests/tsan.supp" "$T_BASE/tsan.supp"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:log_path=$T_SAN/sanitizer"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$T_SAN/sanitizer"
	export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0}:log_path=$T_SAN/sanitizer:suppressions=$T_BASE/tsan.supp"
fi

# ---------------------------------------------------------------- TAP

ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}

# fail DESC [DIAGNOSTIC LINE...]
fail() {
	local desc=$1 l
	shift
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $desc"
	for l in "$@"; do
		printf '%s\n' "$l" | head -n 40 | sed 's/^/#   /'
	done
}

# skip DESC REASON
skip() {
	T_N=$((T_N + 1))
	T_SKIPPED=$((T_SKIPPED + 1))
	echo "ok $T_N - $1 # SKIP ${2:-}"
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# check DESC CMD...: the command exits 0.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then ok "$desc"; else fail "$desc" "command: $*" "exit status $rc" "output: $out"; fi
}

# check_not DESC CMD...: the command exits non-zero.
check_not() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then ok "$desc"; else fail "$desc" "command: $*" "exit status 0, expected failure" "output: $out"; fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected: $2" "got:      $3"; fi
}

# check_match DESC EXTENDED-REGEX ACTUAL
check_match() {
	# Not through a pipe: grep -q stops at the first match, and with
	# pipefail the writer's SIGPIPE on a long ACTUAL would count as no match.
	if grep -Eq -- "$2" < <(printf '%s' "$3"); then ok "$1"; else fail "$1" "expected to match: $2" "got: $3"; fi
}

# check_errno DESC EXPECTED HARNESS-ARGS...: EXPECTED is an errno name, OK,
# or alternatives separated by | (e.g. "EROFS|EPERM").
check_errno() {
	local desc=$1 want=$2 got alt
	shift 2
	got=$("$HARNESS" "$@" 2>&1)
	local IFS='|'
	for alt in $want; do
		if [ "$got" = "$alt" ]; then
			ok "$desc"
			return 0
		fi
	done
	unset IFS
	fail "$desc" "harness $*" "expected: $want" "got:      $got"
	return 1
}

# Run the harness as the unprivileged test user.
as_user() {
	setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups -- "$@"
}

# check_errno_as_user DESC EXPECTED HARNESS-ARGS...
check_errno_as_user() {
	local desc=$1 want=$2 got alt
	shift 2
	got=$(as_user "$HARNESS" "$@" 2>&1)
	local IFS='|'
	for alt in $want; do
		if [ "$got" = "$alt" ]; then
			ok "$desc"
			return 0
		fi
	done
	unset IFS
	fail "$desc" "(uid $TEST_UID) harness $*" "expected: $want" "got:      $got"
	return 1
}

h() { "$HARNESS" "$@"; }

# ---------------------------------------------------------------- setup

ensure_harness() {
	local src=$LIB_DIR/harness.c
	if [ -x "$HARNESS" ] && [ "$HARNESS" -nt "$src" ]; then
		return 0
	fi
	if ! mkdir -p "$(dirname "$HARNESS")" 2>/dev/null || ! [ -w "$(dirname "$HARNESS")" ]; then
		HARNESS=$T_BASE/harness
	fi
	cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$HARNESS.tmp.$$" "$src" &&
		mv -f "$HARNESS.tmp.$$" "$HARNESS"
}

# The offline store editor (tamper.c) as $TAMPER, compiled if stale.
TAMPER=$BUILD/itest-tamper
build_tamper() {
	local src=$LIB_DIR/tamper.c libs
	[ -x "$TAMPER" ] && [ "$TAMPER" -nt "$src" ] && return 0
	[ -w "$(dirname "$TAMPER")" ] || TAMPER=$T_BASE/tamper
	libs=$(pkg-config --cflags --libs lmdb 2>/dev/null) || libs=-llmdb
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -I"$ROOT/include" \
		-o "$TAMPER.tmp.$$" "$src" $libs && mv -f "$TAMPER.tmp.$$" "$TAMPER"
}

# The fault-injection shim (faultshim.c) as $SHIM, for LD_PRELOAD into a
# daemon; its control and log files are $WORMFS_FAULT_CTL and
# $WORMFS_FAULT_LOG. Returns 1 if it does not compile.
build_faultshim() {
	if [ "$WORMFS_SANITIZE" = 1 ]; then
		# The sanitizer runtime must come first; the shim goes after it.
		export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
	fi
	SHIM=$T_BASE/faultshim.so
	export WORMFS_FAULT_CTL=$T_BASE/fault.ctl WORMFS_FAULT_LOG=$T_BASE/fault.log
	cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$SHIM" "$LIB_DIR/faultshim.c" -ldl
}

# need_faultshim DESC: python3 (the fault tests' writers; else DESC is
# skipped) and the shim (else "faultshim.c compiles" fails); either ends
# the test. Sets CTL and FLOG, the shim's control and log files.
need_faultshim() {
	command -v python3 >/dev/null || { skip "$1" "needs python3"; done_testing; }
	build_faultshim || { fail "faultshim.c compiles"; done_testing; }
	# shellcheck disable=SC2034  # for the callers
	CTL=$WORMFS_FAULT_CTL FLOG=$WORMFS_FAULT_LOG
}

# fault_setup DESC: need_faultshim DESC, then a new store STORE
# ($T_BASE/store; a failure ends the test) and its mount point MNT.
fault_setup() {
	need_faultshim "$1"
	STORE=$T_BASE/store MNT=$T_BASE/mnt
	make_store "$STORE" || { fail "wormctl init"; done_testing; }
}

# fault KEY=VALUE...: arm the shim (one key per argument; the control
# file is replaced whole, so the daemon never reads half of it).
# nofault: disarm it.
fault() { printf '%s\n' "$@" >"$WORMFS_FAULT_CTL.tmp" && mv -f "$WORMFS_FAULT_CTL.tmp" "$WORMFS_FAULT_CTL"; }
nofault() { rm -f "$WORMFS_FAULT_CTL"; }

# mount_shim [STORE [MNT [wormfs options...]]]: mount_fg (default STORE on
# MNT) with the shim preloaded into the daemon.
mount_shim() { LD_PRELOAD=$SHIM mount_fg "${1:-$STORE}" "${2:-$MNT}" "${@:3}"; }

# daemon_alive MNT: the daemon of MNT still runs.
daemon_alive() { kill -0 "${MNT_PID[$1]}" 2>/dev/null; }

# check_daemon_alive MNT DESC: assert it (else the end of its log).
check_daemon_alive() {
	if daemon_alive "$1"; then ok "$2"; else fail "$2" "$(tail -n 5 "${MNT_LOG[$1]}")"; fi
}

# close_with_fault PATH DATA KEY=VALUE...: open PATH (create, truncate),
# write DATA, arm the shim with the KEY=VALUEs, close; prints CLOSE=OK or
# CLOSE=ERRNO. The fault stays armed (the RELEASE follows the close): the
# caller disarms it (nofault).
close_with_fault() {
	python3 - "$1" "$2" "$WORMFS_FAULT_CTL" "${@:3}" <<'PY'
import errno, os, sys
path, data, ctl = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
with open(ctl + ".tmp", "w") as f:
    f.write("\n".join(sys.argv[4:]) + "\n")
os.rename(ctl + ".tmp", ctl)
try:
    os.close(fd); print("CLOSE=OK")
except OSError as e:
    print("CLOSE=" + errno.errorcode.get(e.errno, str(e.errno)))
PY
}

# fsync_with_fault PATH SRC KEY=VALUE...: open PATH (create, truncate),
# write SRC's bytes, arm the shim with the KEY=VALUEs, fsync, disarm,
# close; prints FSYNC=OK or FSYNC=ERRNO.
fsync_with_fault() {
	python3 - "$1" "$2" "$WORMFS_FAULT_CTL" "${@:3}" <<'PY'
import errno, os, sys
path, src, ctl = sys.argv[1], sys.argv[2], sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, open(src, "rb").read())
with open(ctl + ".tmp", "w") as f:
    f.write("\n".join(sys.argv[4:]) + "\n")
os.rename(ctl + ".tmp", ctl)
try:
    os.fsync(fd); r = "FSYNC=OK"
except OSError as e:
    r = "FSYNC=" + errno.errorcode.get(e.errno, str(e.errno))
os.unlink(ctl)
os.close(fd)
print(r)
PY
}

# auth_failures MNT: the daemon's wormfs_auth_failures_total.
auth_failures() { awk '/^wormfs_auth_failures_total/ {print $2}' "$1/.wormfs/stats"; }

# crash_with_writer MNT STORE PATH PYCODE: a writer (python3 running PYCODE
# with `path` set to PATH and os imported) opens PATH and does its I/O, then
# stays; the daemon of MNT is killed (SIGKILL) before the writer, so no
# RELEASE reaches it, and the stale mount is cleared. Asserts "daemon
# killed with the writer open".
crash_with_writer() {
	local mnt=$1 store=$2 ready=$T_BASE/writer-ready.$RANDOM wpid i
	python3 -c "import os, sys, time
path = sys.argv[1]
$4
open(sys.argv[2], 'w').close()
time.sleep(60)" "$3" "$ready" &
	wpid=$!
	for i in $(seq 1 100); do [ -e "$ready" ] && break; sleep 0.1; done
	kill -9 "${MNT_PID[$mnt]}"
	sleep 0.3
	kill -9 "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	if crash_daemon "$mnt" "$store"; then ok "daemon killed with the writer open"
	else fail "daemon killed with the writer open"; fi
}

# default_bucket DIR RETENTION: a new bucket DIR whose default retention
# is RETENTION (checked: "bucket default RETENTION").
default_bucket() {
	mkdir "$1"
	check_errno "bucket default $2" OK setxattr "$1" user.worm.default-retention "$2"
}

# worm_state PATH: the object's user.worm.state (mutable, locked, ...).
worm_state() { h getxattr "$1" user.worm.state; }

# wait_state PATH STATE SECONDS: poll until PATH is in STATE (no timing is
# asserted, only the end state within a generous bound); 1 if it never is.
wait_state() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(worm_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# store_orphans STORE: how many content files no node names (unmounted).
store_orphans() {
	local ids f n=0 id
	ids=$("$TAMPER" map "$1/meta" | awk '{print $2}')
	for f in "$1"/objects/*/*; do
		[ -f "$f" ] || continue
		id=${f##*/}
		case $id in *.*) continue ;; esac
		grep -qx "$id" <<<"$ids" || n=$((n + 1))
	done
	echo "$n"
}

# hook_fired MNT STORE: wait up to 10 s for the daemon of MNT, which its
# test hook (WORMFS_CRASH_AT) kills, to be gone; clear the mount either
# way. Returns 1 if it was still running.
hook_fired() {
	local pid=${MNT_PID[$1]} i
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		crash_daemon "$1" "$2"
		return 1
	fi
	crash_daemon "$1" "$2"
}

# Skip (exit 0, one "not ok") when the binaries under test are missing.
require_binaries() {
	local b
	for b in "$WORMFS" "$WORMCTL"; do
		if [ ! -x "$b" ]; then
			fail "binary $b exists" "build it first (tests/run_all.sh or ninja -C build)"
			done_testing
		fi
	done
	if ! ensure_harness; then
		fail "harness compiles" "cc $LIB_DIR/harness.c failed"
		done_testing
	fi
}

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# make_store DIR [wormctl init options]: creates a store, quietly.
make_store() {
	local dir=$1 out
	shift
	if ! out=$("$WORMCTL" init "$@" "$dir" 2>&1); then
		diag "wormctl init $* $dir failed: $out"
		return 1
	fi
}

# digest_reseal STORE [--accept-audit-damage]: after an offline edit of
# meta/, a writable mount is refused naming the metadata state digest;
# then an operator accepts the state (wormctl repair digest; with the
# option also an audit trail that fails verification, which repair
# otherwise refuses), so a test can go on to check how each record's own
# check meets the damage. Returns non-zero (and fails) if not.
# DIGEST_LOG: the refused daemon's log and wormctl's output.
digest_reseal() {
	local s=$1 mnt=$T_BASE/mnt-digest out
	shift
	DIGEST_LOG=
	if mount_fg "$s" "$mnt" >/dev/null 2>&1; then
		umount_fs "$mnt"
		fail "an offline edit of $s/meta refuses a writable mount (state digest)"
		return 1
	fi
	if ! grep -q "refused: the metadata state digest" "${MNT_LOG[$mnt]}"; then
		fail "the refusal names the metadata state digest" "$(tail -n 3 "${MNT_LOG[$mnt]}")"
		return 1
	fi
	out=$("$WORMCTL" repair digest "$@" "$s" 2>&1) || { fail "wormctl repair digest $s" "$out"; return 1; }
	DIGEST_LOG="$(cat "${MNT_LOG[$mnt]}")
$out"
}

# delete_heads STORE LABEL: every store head gone, meta/'s records and
# STORE/head (an offline edit); fails LABEL if one cannot be deleted.
delete_heads() {
	local k v
	while read -r k v; do
		case $(printf %s "$k" | xxd -r -p 2>/dev/null || true) in
		head*) "$TAMPER" xdel "$1/meta" kv "$k" || fail "$2: head deleted" ;;
		esac
	done < <("$TAMPER" xlist "$1/meta" kv)
	rm -f "$1/head"
}

# check_ring_refused STORE MNT LABEL VERIFY_RE: after an older key ring
# was put back offline, with the state digest re-sealed over it, a
# writable mount is refused naming the ring (LABEL ends that check's
# name) and verify reports it: exit 1, output matching VERIFY_RE.
check_ring_refused() {
	local s=$1 m=$2 label=$3 re=$4 rep rc out
	rep=$("$WORMCTL" repair digest "$s" 2>&1); rc=$?
	diag "keys: wormctl repair digest: exit $rc: $(tail -n 1 <<<"$rep")"
	if mount_fg "$s" "$m" 2>/dev/null; then
		fail "keys: the older key ring is refused at mount$label"
		umount_fs "$m"
	else
		ok "keys: the older key ring is refused at mount$label"
	fi
	check_match "keys: the refusal names the key ring (repair or mount)" \
		"active master key version 1 is below version 2" "$rep$(cat "${MNT_LOG[$m]}")"
	out=$("$WORMCTL" verify "$s" 2>&1); rc=$?
	check_eq "keys: verify reports it: exit 1" 1 "$rc"
	check_match "keys: verify names the key ring" "$re" "$out"
}

# kv_key NAME: the hex form of a key of meta/'s kv table, as tamper's
# xget/xput/xdel take it (kv_key clock_hwm).
kv_key() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# node_get STORE INO: the node record of INO (tamper xget; for node_put).
node_get() { "$TAMPER" xget "$1/meta" nodes "$(printf '%016x' "$2")"; }

# node_put STORE INO RECORD: put a record from node_get back offline
# (unmounted); fails "xput" if tamper does.
node_put() { "$TAMPER" xput "$1/meta" nodes "$(printf '%016x' "$2")" "$3" || fail xput; }

# check_repairs_refuse STORE PREFIX WHAT WHY: both `wormctl repair digest`
# and plain `wormctl repair` refuse the (offline-edited) state of STORE:
# "PREFIXwormctl CMD WHAT: exit 1 (OUTPUT)", and the output matches WHY
# ("PREFIXwormctl CMD says why").
check_repairs_refuse() {
	local s=$1 pfx=$2 what=$3 why=$4 cmd out rc
	for cmd in "repair digest" "repair"; do
		# shellcheck disable=SC2086
		out=$("$WORMCTL" $cmd "$s" 2>&1)
		rc=$?
		check_eq "${pfx}wormctl $cmd $what: exit 1 ($out)" 1 "$rc"
		check_match "${pfx}wormctl $cmd says why" "$why" "$out"
	done
}

# check_mount_refused DESC STORE MNT [NAME PATH]...: a writable mount of
# STORE is refused (DESC). If it mounts all the same, that fails, and
# each PATH (below MNT) is checked still locked (NAME: unlink EPERM)
# before the unmount.
check_mount_refused() {
	local desc=$1 s=$2 mnt=$3
	shift 3
	if mount_fg "$s" "$mnt" 2>/dev/null; then
		fail "$desc"
		while [ $# -ge 2 ]; do
			check_errno "$1" EPERM unlink "$mnt/$2"
			shift 2
		done
		umount_fs "$mnt"
	else
		ok "$desc"
	fi
}

_mount_wait() {
	local mnt=$1 pid=${2:-} i
	for i in $(seq 1 100); do
		if is_mounted "$mnt" && timeout 5 mountpoint -q "$mnt"; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

_register_mount() {
	local m
	for m in "${MOUNTS[@]}"; do [ "$m" = "$1" ] && return 0; done
	MOUNTS+=("$1")
}

# mount_fg STORE MNT [wormfs options...]: start the daemon in the foreground
# (-f) in the background of this shell, stderr to a log; wait up to 10 s for
# the mount. Sets MNT_PID[MNT] and MNT_LOG[MNT]. Returns non-zero (and
# prints the log) when the mount did not come up.
mount_fg() {
	local store=$1 mnt=$2 log pid
	shift 2
	mkdir -p "$mnt"
	log=$T_BASE/daemon.$(basename "$mnt").$RANDOM.log
	_register_mount "$mnt"
	"$WORMFS" "$store" "$mnt" -f "$@" >"$log" 2>&1 </dev/null &
	pid=$!
	MNT_PID[$mnt]=$pid
	MNT_CHILD[$mnt]=1
	MNT_LOG[$mnt]=$log
	if ! _mount_wait "$mnt" "$pid"; then
		diag "wormfs $store $mnt -f $* did not mount; log:"
		diag "$(tail -n 20 "$log")"
		return 1
	fi
}

# mount_bg STORE MNT [wormfs options...]: daemonizing mount; the mount must
# be up when wormfs returns.
mount_bg() {
	local store=$1 mnt=$2 log rc
	shift 2
	mkdir -p "$mnt"
	log=$T_BASE/daemon.$(basename "$mnt").$RANDOM.log
	_register_mount "$mnt"
	MNT_LOG[$mnt]=$log
	MNT_PID[$mnt]=
	MNT_CHILD[$mnt]=0
	timeout 30 "$WORMFS" "$store" "$mnt" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	if [ $rc -ne 0 ] || ! _mount_wait "$mnt"; then
		diag "wormfs $store $mnt $* (exit $rc) did not mount; log:"
		diag "$(tail -n 20 "$log")"
		return 1
	fi
	MNT_PID[$mnt]=$(daemon_pid "$store" "$mnt")
}

# The pid of the wormfs process serving STORE on MNT (by exact argv).
daemon_pid() {
	local store=$1 mnt=$2 p argv
	for p in /proc/[0-9]*; do
		argv=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
		case "$argv" in
		"$WORMFS $store $mnt "*) echo "${p#/proc/}"; return 0 ;;
		esac
	done
	return 1
}

# umount_fs MNT: fusermount3 -u (retries while busy), then wait up to 20 s
# for the daemon to exit. Sets UMOUNT_STATUS to the daemon's exit status
# when it was started by mount_fg (else 0). Returns non-zero on failure.
umount_fs() {
	local mnt=$1 pid=${MNT_PID[$1]:-} i
	UMOUNT_STATUS=0
	for i in $(seq 1 50); do
		is_mounted "$mnt" || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.2
	done
	if is_mounted "$mnt"; then
		diag "fusermount3 -u $mnt failed"
		return 1
	fi
	if [ -n "$pid" ]; then
		for i in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			diag "daemon $pid still running 20 s after unmount"
			UMOUNT_STATUS=124
			return 1
		fi
		if [ "${MNT_CHILD[$mnt]:-0}" = 1 ]; then
			wait "$pid"
			UMOUNT_STATUS=$?
		fi
	fi
	MNT_PID[$mnt]=
	return 0
}

# Sanitizer or crash reports in a log file, if any.
sanitizer_report() {
	grep -E -m 5 '(ERROR|WARNING|FATAL): (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer|AddressSanitizer:DEADLYSIGNAL' "$@" 2>/dev/null
}

# umount_check MNT DESC: unmount, then assert the daemon exited 0 and its
# log shows no sanitizer report.
umount_check() {
	local mnt=$1 desc=$2 log=${MNT_LOG[$1]:-} rep
	if ! umount_fs "$mnt"; then
		fail "$desc: unmount" "$(tail -n 20 "$log" 2>/dev/null)"
		return 1
	fi
	if [ "$UMOUNT_STATUS" -ne 0 ]; then
		fail "$desc: daemon exit status 0 after unmount" "exit status $UMOUNT_STATUS" "$(tail -n 20 "$log" 2>/dev/null)"
	else
		ok "$desc: unmounted, daemon exited 0"
	fi
	if [ -n "$log" ] && rep=$(sanitizer_report "$log"); then
		fail "$desc: no sanitizer report in the daemon log" "$rep" "log: $log"
	fi
}

# Kill the daemon of MNT with SIGKILL and clear the stale mount.
crash_daemon() {
	local mnt=$1 pid=${MNT_PID[$1]:-} i
	[ -n "$pid" ] || pid=$(daemon_pid "$2" "$mnt") || return 1
	kill -9 "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null
	MNT_PID[$mnt]=
	for i in $(seq 1 50); do
		is_mounted "$mnt" || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.2
	done
	! is_mounted "$mnt"
}

# A listing of a store's files (path, type, mode, size, sha256) for
# before/after comparisons. LMDB's lock file, the daemon's run lock and its
# control socket are runtime state, not store content.
store_listing() {
	# meta/data.mdb: digest its data extents (harness datahash). The file is
	# only as large as LMDB's pages in use (no WRITEMAP, no sparse map), but
	# meta.c keeps 1 MiB allocated past its end (fallocate KEEP_SIZE), which
	# the size listed above does not show.
	(cd "$1" && find . \( -path ./meta/lock.mdb -o -path ./run.lock -o -path ./ctl.sock \) -prune -o -printf '%p %y %m %s\n' | sort &&
		find . -type f ! -path ./meta/lock.mdb ! -path ./run.lock ! -path ./meta/data.mdb -print0 |
		sort -z | xargs -0 -r sha256sum &&
		if [ -f meta/data.mdb ]; then echo "$("$HARNESS" datahash meta/data.mdb) ./meta/data.mdb"; fi)
}

# tmpfs_mount DIR SIZE: a small tmpfs at DIR (a disk to fill); unmounted
# at exit after the daemons. Skips the whole test where that takes root
# or tmpfs cannot be mounted.
TMPFS_MOUNTS=()
tmpfs_mount() {
	if [ "$(id -u)" -ne 0 ] || ! mkdir -p "$1" || ! mount -t tmpfs -o size="$2" tmpfs "$1"; then
		skip "$T_NAME" "needs root to mount a tmpfs"
		done_testing
	fi
	TMPFS_MOUNTS+=("$1")
}

# ---------------------------------------------------------------- S3

# s3_port_of LOG: the port the S3 server took (s3.listen port 0: any free
# one), from its log line, waiting up to 10 s for it. Returns 1 if none.
s3_port_of() {
	local log=$1 i p
	for i in $(seq 1 100); do
		p=$(sed -n 's/.*s3: serving on .* (port \([0-9]*\).*/\1/p' "$log" | tail -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# s3_user_add KEYVAR SECRETVAR STORE NAME [wormctl s3 user add options]:
# add an S3 user (offline, or through the control socket while mounted) and
# set the variables KEYVAR and SECRETVAR to its access key id and secret.
# Fails ("s3 user add NAME") and returns 1 when wormctl does.
s3_user_add() {
	local kv=$1 sv=$2 store=$3 name=$4 out
	shift 4
	out=$("$WORMCTL" s3 user add "$store" "$name" "$@" 2>&1) || {
		fail "s3 user add $name" "$out"
		return 1
	}
	printf -v "$kv" '%s' "${out%% *}"
	printf -v "$sv" '%s' "${out#* }"
}

# s3_store STORE [USERS]: a new store (a failure ends the test) and USERS
# (1..3, default 1) S3 users: admin (uid 0) as KEY/SECRET, bob (TEST_UID)
# as KEY2/SECRET2, carol (TEST_UID + 1) as KEY3/SECRET3.
s3_store() {
	local store=$1 users=${2:-1} other=$((TEST_UID + 1))
	make_store "$store" || { fail "wormctl init"; done_testing; }
	s3_user_add KEY SECRET "$store" admin --uid 0
	[ "$users" -ge 2 ] && s3_user_add KEY2 SECRET2 "$store" bob --uid "$TEST_UID" --gid "$TEST_UID"
	[ "$users" -ge 3 ] && s3_user_add KEY3 SECRET3 "$store" carol --uid "$other" --gid "$other"
	return 0
}

# s3_mount STORE MNT [OPTION,...]: mount_fg serving S3 on a free port of
# 127.0.0.1 (-o s3.listen=127.0.0.1:0 plus the options given); sets PORT
# (empty if the log names none: callers check it) and END, the endpoint
# URL. Returns mount_fg's status.
s3_mount() {
	local store=$1 mnt=$2 opts=s3.listen=127.0.0.1:0
	[ -n "${3:-}" ] && opts+=",$3"
	PORT= END=
	mount_fg "$store" "$mnt" -o "$opts" || return 1
	PORT=$(s3_port_of "${MNT_LOG[$mnt]}")
	END=http://127.0.0.1:$PORT
}

# s3_unmount MNT [WHEN]: the endpoint still answers (an anonymous GET / is
# 403: "alive WHEN", default "at the end"), then the unmount and the
# daemon's exit status 0.
s3_unmount() {
	check_eq "alive ${2:-at the end} (anonymous GET /: 403)" 403 \
		"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")"
	umount_fs "$1"
	check_eq "daemon exit status 0" 0 "$UMOUNT_STATUS"
}

# verify_clean STORE DESC: wormctl verify exits 0 (else its output is shown).
verify_clean() {
	local out rc
	out=$("$WORMCTL" verify "$1" 2>&1); rc=$?
	check_eq "$2" 0 "$rc"
	[ $rc -eq 0 ] || diag "$out"
	return $rc
}

# s3_aws_env KEY SECRET: the AWS CLI's environment for that user, with
# empty config and credentials files in T_BASE (nothing of the host's).
s3_aws_env() {
	export AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_DEFAULT_REGION=us-east-1
	export AWS_CONFIG_FILE=$T_BASE/aws-config AWS_SHARED_CREDENTIALS_FILE=$T_BASE/aws-creds
	export HOME=$T_BASE AWS_PAGER=""
	: >"$AWS_CONFIG_FILE"
}

# ---------------------------------------------------------------- teardown

_cleanup() {
	local m pid keep=0
	for m in "${MOUNTS[@]}"; do
		pid=${MNT_PID[$m]:-}
		if is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || { sleep 0.5; fusermount3 -u "$m" 2>/dev/null; } ||
				fusermount3 -uz "$m" 2>/dev/null
		fi
		if [ -n "$pid" ]; then
			for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -9 "$pid" 2>/dev/null
		fi
		if is_mounted "$m"; then
			echo "# WARNING: $m is still mounted; leaving $T_BASE" >&2
			keep=1
		fi
	done
	# tmpfs_mount's file systems go after the daemons using them.
	for m in "${TMPFS_MOUNTS[@]}"; do
		[ "$keep" = 0 ] && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	if [ "$keep" = 0 ] && ! grep -q " $T_BASE/" /proc/mounts; then
		if [ "${WORMFS_KEEP_TMP:-0}" = 1 ]; then
			echo "# kept $T_BASE" >&2
		else
			rm -rf "$T_BASE"
		fi
	fi
}

_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	_cleanup
	exit $rc
}
trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# done_testing: sanitizer check (when instrumented), the plan, exit status.
done_testing() {
	local rep
	if [ "$WORMFS_SANITIZE" = 1 ]; then
		local files=("$T_SAN"/sanitizer*)
		if [ -e "${files[0]}" ]; then
			rep=$(sanitizer_report "${files[@]}")
			fail "no sanitizer reports from any process" "${rep:-see ${files[*]}}" "$(head -n 30 "${files[0]}")"
		else
			ok "no sanitizer reports from any process"
		fi
	fi
	echo "1..$T_N"
	echo "# $T_NAME: $((T_N - T_FAILED - T_SKIPPED)) passed, $T_FAILED failed, $T_SKIPPED skipped"
	[ "$T_FAILED" -eq 0 ] && exit 0
	exit 1
}
