#!/usr/bin/env bash
# Crash safety (design.md section 4): a writer creates files and logs each
# one after close(2) returned; the daemon is killed with SIGKILL while the
# writer runs; after clearing the stale mount and remounting, every file
# logged as closed reads back exactly, and every file present authenticates
# (reads without EIO). Three rounds on the same store; earlier rounds are
# re-checked each time.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
mkdir "$M/crash" || { fail "mkdir bucket"; done_testing; }

for round in 1 2 3; do
	D=$M/crash/r$round
	LOG=$T_BASE/written.$round.log
	: >"$LOG"
	mkdir "$D"
	"$HARNESS" crashwriter "$D" "$LOG" "r${round}_" 2>"$T_BASE/writer.$round.err" &
	wpid=$!
	# Let it run a few seconds and close a fair number of files (at least
	# 30, or give up waiting after 20 s), plus a random fraction of a second
	# so the kill lands at an arbitrary point of a write.
	sleep 2
	for _ in $(seq 1 180); do
		[ "$(wc -l <"$LOG")" -ge 30 ] && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	sleep "0.$((RANDOM % 10))"
	if crash_daemon "$M" "$S"; then ok "round $round: daemon killed with SIGKILL, stale mount cleared"
	else fail "round $round: daemon killed with SIGKILL, stale mount cleared"; fi
	# The writer notices the dead mount (ENOTCONN) and stops.
	for _ in $(seq 1 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	n=$(wc -l <"$LOG")
	diag "round $round: $n files closed before the kill; writer: $(cat "$T_BASE/writer.$round.err")"
	check_match "round $round: writer closed files before the kill" '^[1-9]' "$n"
	if rep=$(sanitizer_report "${MNT_LOG[$M]}"); then
		fail "round $round: no sanitizer report before the kill" "$rep"
	fi

	if ! mount_fg "$S" "$M"; then
		fail "round $round: remount after the crash" "$(tail -n 20 "${MNT_LOG[$M]}")"
		done_testing
	fi
	ok "round $round: remount after the crash"
	for r in $(seq 1 "$round"); do
		out=$("$HARNESS" crashverify "$M/crash/r$r" "$T_BASE/written.$r.log")
		check_match "round $round: every file closed in round $r reads back exactly" '^OK ' "$(tail -n1 <<<"$out")"
		[ "$(tail -n1 <<<"$out")" = "OK $(wc -l <"$T_BASE/written.$r.log")" ] || diag "$out"
	done
	# Every object present, also the one being written at the kill, must
	# authenticate: a read error (EIO) is a torn object.
	errs=$(find "$M/crash" -type f -exec cat {} + 2>&1 >/dev/null | head -n 5)
	check_eq "round $round: every object present reads without error" "" "$errs"
	check_eq "round $round: listing has no duplicates" "" "$(ls "$D" | sort | uniq -d)"
done

umount_check "$M" "crash"
done_testing
