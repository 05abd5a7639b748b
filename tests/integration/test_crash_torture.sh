#!/usr/bin/env bash
# Crash torture (issue 11): three writers (crash_torture.py: inline and
# file objects, appends, O_TRUNC overwrites, pwrites with an fsync between,
# truncates, renames, unlinks, retention locks, and new objects in a bucket
# with a default retention) journal outside the mount what returned; the
# daemon gets kill -9 at a random moment; after the remount every path is
# in a state its journal allows, nothing is unreadable, locks hold, and
# after the unmount verify is clean and no content file is orphaned.
# wormctl verify also runs while the writers write (it must stay clean).
# Bounded to about 100 s (WORMFS_TORTURE_SECONDS); WORMFS_LONG=1: 1,000
# cycles (WORMFS_TORTURE_CYCLES).
. "$(dirname "$0")/lib.sh"
require_binaries

if [ "${WORMFS_LONG:-0}" = 1 ]; then
	CYCLES=${WORMFS_TORTURE_CYCLES:-1000} SECONDS_MAX=${WORMFS_TORTURE_SECONDS:-100000}
else
	CYCLES=${WORMFS_TORTURE_CYCLES:-1000} SECONDS_MAX=${WORMFS_TORTURE_SECONDS:-100}
fi
SEED=${WORMFS_TORTURE_SEED:-$(( $(date +%s%N) % 1000000007 ))}
diag "seed $SEED (WORMFS_TORTURE_SEED=$SEED reproduces the writers' choices, not the kill times)"
RANDOM=$SEED
PY=$LIB_DIR/crash_torture.py
command -v python3 >/dev/null || { skip "python3 missing"; done_testing; }

build_tamper || { fail "tamper.c compiles"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt STATE=$T_BASE/state.json ERRS=$T_BASE/writer.errors
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/torture" "$M/retain" &&
	setfattr -n user.worm.default-retention -v "COMPLIANCE 1d" "$M/retain" ||
	{ fail "buckets"; done_testing; }
umount_fs "$M"


: >"$ERRS"
cycles=0 bad_check=0 bad_verify=0 bad_live=0 bad_orphans=0 bad_mount=0 unreadable=0 lives=0
t0=$(date +%s)
while [ $cycles -lt "$CYCLES" ] && [ $(( $(date +%s) - t0 )) -lt "$SECONDS_MAX" ]; do
	cycles=$((cycles + 1))
	if ! mount_fg "$S" "$M"; then bad_mount=$((bad_mount + 1)); break; fi
	pids=()
	for w in 1 2 3; do
		python3 "$PY" write "$M" "$w" "$((SEED + cycles * 10 + w))" "$T_BASE/j.$cycles.$w" "$ERRS" &
		pids+=($!)
	done
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	# verify through a mounted store while writes are in flight (F2).
	if [ $((cycles % 3)) = 1 ]; then
		lives=$((lives + 1))
		if ! out=$("$WORMCTL" verify "$S" 2>&1); then
			bad_live=$((bad_live + 1))
			diag "cycle $cycles: verify during writes: $(grep -m3 DAMAGED <<<"$out")"
		fi
	fi
	sleep "0.$((RANDOM % 10))"
	pid=${MNT_PID[$M]} dlog=${MNT_LOG[$M]} nerr=$(wc -l <"$ERRS")
	kill -9 "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# A writer error of this cycle: what the killed daemon logged (the
	# store directory, with its logs, is gone after the test).
	if [ "$(wc -l <"$ERRS")" != "$nerr" ]; then
		diag "cycle $cycles: writer error: $(tail -n +$((nerr + 1)) "$ERRS" | head -n 3)"
		diag "cycle $cycles: daemon log: $(grep -v ' refused ' "$dlog" | tail -n 5)"
	fi
	crash_daemon "$M" "$S" || { bad_mount=$((bad_mount + 1)); break; }
	if ! mount_fg "$S" "$M"; then bad_mount=$((bad_mount + 1)); break; fi
	out=$(python3 "$PY" check "$M" "$STATE" "$T_BASE"/j."$cycles".* 2>&1)
	u=$(sed -n 's/.* \([0-9]*\) unreadable.*/\1/p' <<<"$out" | head -n1)
	unreadable=$((unreadable + ${u:-0}))
	if grep -q PROBLEM <<<"$out"; then
		bad_check=$((bad_check + 1))
		diag "cycle $cycles: $(head -n 6 <<<"$out")"
	fi
	umount_fs "$M" || { bad_mount=$((bad_mount + 1)); break; }
	if ! out=$("$WORMCTL" verify "$S" 2>&1); then
		bad_verify=$((bad_verify + 1))
		diag "cycle $cycles: verify after recovery: $(grep -m3 DAMAGED <<<"$out")"
	fi
	o=$(store_orphans "$S")
	[ "$o" = 0 ] || { bad_orphans=$((bad_orphans + 1)); diag "cycle $cycles: $o orphaned content files"; }
	# A long run stopped early still tells how far it got and how it went.
	[ "${WORMFS_LONG:-0}" = 1 ] && diag "progress: $cycles cycles, $(( $(date +%s) - t0 )) s; problems $bad_check, unreadable $unreadable, verify failing $bad_verify, live verify failing $bad_live/$lives, orphan cycles $bad_orphans, mount failures $bad_mount, writer errors $(wc -l <"$ERRS")"
done
diag "$cycles cycles in $(( $(date +%s) - t0 )) s; last check: $(head -n1 <<<"$out")"
check_match "ran crash cycles" '^[1-9]' "$cycles"
check_eq "remount after every kill" 0 "$bad_mount"
check_eq "every path in a state its journal allows, locks held (cycles with problems)" 0 "$bad_check"
check_eq "no unreadable object after any recovery" 0 "$unreadable"
check_eq "verify clean after every recovery (cycles failing)" 0 "$bad_verify"
check_eq "verify clean while writes were in flight ($bad_live of $lives runs failing)" 0 "$bad_live"
check_eq "no orphaned content file after any recovery (cycles with some)" 0 "$bad_orphans"
diag "requests the kernel ended with EIO as the daemon died (not the daemon's): $(grep -c '^AT-KILL ' "$ERRS")"
check_eq "writers saw no error but the dead mount's (no EIO from a live daemon)" "" \
	"$(grep -v '^AT-KILL ' "$ERRS" | head -n 5)"
done_testing
