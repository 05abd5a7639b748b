#!/bin/bash
# test_xattr_load: metadata load from unprivileged users (issue 10).
#  F1: four users setting 64 KiB xattrs on files of a 0777 directory while
#      another stats it. 92be1e4 resized the LMDB map while other threads
#      read it (SIGSEGV in mdb_env_info); the daemon must survive.
#  F13: the user.* xattrs of one object total at most 256 KiB (names and
#      values); beyond it ENOSPC, also for two setters racing.
. "$(dirname "$0")/lib.sh"

require_binaries
XLOAD=$BUILD/itest-xload
[ -w "$BUILD" ] || XLOAD=$T_BASE/xload
if ! cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$XLOAD" "$LIB_DIR/xload.c"; then
	fail "xload.c compiles"
	done_testing
fi
# Reachable by the test user.
cp "$XLOAD" "$T_BASE/xload" && chmod 0755 "$T_BASE/xload" && XLOAD=$T_BASE/xload
# An array, not a function: a background job's $! is then the process itself.
USER=(setpriv --reuid="$TEST_UID" --regid="$TEST_UID" --clear-groups --)

# ---- F1: rounds on fresh stores, each crossing what used to be two map
# doublings (~300 MiB of values); the first crash ends the loop.
ROUNDS=${XLOAD_ROUNDS:-5}
FILES=400
[ "$WORMFS_LONG" = 1 ] && ROUNDS=10
dead=0
for round in $(seq 1 "$ROUNDS"); do
	STORE=$T_BASE/store$round
	MNT=$T_BASE/mnt$round
	make_store "$STORE" || { fail "wormctl init"; break; }
	mount_fg "$STORE" "$MNT" -o allow_other || { fail "mount"; break; }
	mkdir "$MNT/bkt1" && mkdir -m 0777 "$MNT/bkt1/pub" && chmod 0777 "$MNT/bkt1/pub"
	pids=()
	for u in 1 2 3 4; do
		"${USER[@]}" "$XLOAD" set "$MNT/bkt1/pub" "u$u" "$FILES" 3 65536 >"$T_BASE/set$round.$u" 2>&1 &
		pids+=($!)
	done
	"${USER[@]}" "$XLOAD" stat "$MNT/bkt1/pub" 600 >/dev/null 2>&1 &
	spid=$!
	wait "${pids[@]}"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	if ! kill -0 "${MNT_PID[$MNT]}" 2>/dev/null; then
		dead=$round
		wait "${MNT_PID[$MNT]}"
		fail "F1 round $round: daemon alive under 4 xattr setters and a stat loop" \
			"daemon exit status $? (signal $(( $? > 128 ? $? - 128 : 0 )))" \
			"$(cat "$T_BASE/set$round.1")"
		break
	fi
	errs=$(cat "$T_BASE/set$round".* | grep -v '^ok ' | sort | uniq -c | tr '\n' ' ')
	check_eq "F1 round $round: every setxattr succeeded" "" "$errs"
	umount_check "$MNT" "F1 round $round"
	rm -rf "$STORE"
done
[ "$dead" = 0 ] && ok "F1: daemon survived $ROUNDS rounds"

# ---- F13: the per-object total.
STORE=$T_BASE/store
MNT=$T_BASE/mnt
make_store "$STORE" || { fail "wormctl init"; done_testing; }
mount_fg "$STORE" "$MNT" -o allow_other || { fail "mount"; done_testing; }
mkdir "$MNT/bkt1" && mkdir -m 0777 "$MNT/bkt1/pub" && chmod 0777 "$MNT/bkt1/pub"
P=$MNT/bkt1/pub
"${USER[@]}" "$HARNESS" write "$P/a" data >/dev/null
"${USER[@]}" "$HARNESS" write "$P/b" data >/dev/null
"${USER[@]}" "$HARNESS" write "$P/c" data >/dev/null

# 3 x (64 KiB + "user.fN") = 196,632 bytes fit; a fourth would be 262,176.
check_eq "F13: the 4th 64 KiB value on one object is refused with ENOSPC" "ENOSPC 3" \
	"$("${USER[@]}" "$XLOAD" fill "$P/a" 65536 10)"
check_errno_as_user "F13: the refused value was not stored" ENODATA getxattr "$P/a" user.f3
check_errno_as_user "F13: a small value still fits" OK setxattr "$P/a" user.small x
check_errno_as_user "F13: replacing a value counts its new size only" OK setxattr "$P/a" user.f0 short replace
check_eq "F13: another object has its own budget" "ENOSPC 3" "$("${USER[@]}" "$XLOAD" fill "$P/b" 65536 10)"
check_errno_as_user "F13: removexattr makes room" OK removexattr "$P/b" user.f1
check_eq "F13: the room is usable again" "ENOSPC 1" "$("${USER[@]}" "$XLOAD" fill "$P/b" 65536 10 g)"

# The review's load: 3,000 x 64 KiB on one object. Refused after 3, and the
# metadata file stays small (it grew to 1 GiB on 92be1e4).
check_eq "F13: 3,000 x 64 KiB on one object: refused after 3" "ENOSPC 3" \
	"$("${USER[@]}" "$XLOAD" fill "$P/c" 65536 3000 x)"

# Two setters racing on one object: the limit holds (counted in the
# setter's write transaction).
S=$MNT/bkt1/pub/race
"${USER[@]}" "$HARNESS" write "$S" data >/dev/null
"${USER[@]}" "$XLOAD" fill "$S" 65536 10 p >"$T_BASE/race1" &
r1=$!
"${USER[@]}" "$XLOAD" fill "$S" 65536 10 q >"$T_BASE/race2" &
r2=$!
wait "$r1" "$r2"
n=$("${USER[@]}" "$HARNESS" listxattr "$S" | grep -c '^user\.[pq]')
check_eq "F13: two racing setters store 3 values in all" 3 "$n"
check_match "F13: both racing setters end with ENOSPC" '^ENOSPC [0-9]+ENOSPC [0-9]+$' \
	"$(cat "$T_BASE/race1" "$T_BASE/race2" | tr -d '\n')"
# Many small names: the name list stays listable (listxattr's 64 KiB; on
# 92be1e4 3,000 names of 29 bytes made it E2BIG for everyone).
L=$MNT/bkt1/pub/names
"${USER[@]}" "$HARNESS" write "$L" data >/dev/null
LP=nnnnnnnnnnnnnnnnnnnn
check_match "F13: small names on one object end with ENOSPC" '^ENOSPC [0-9]+$' \
	"$("${USER[@]}" "$XLOAD" fill "$L" 0 3000 "$LP")"
n=$(h listxattr "$L" | grep -c "^user\.n")
if [ "$n" -gt 1000 ]; then ok "F13: the object's $n names are listable"; else fail "F13: the object's names are listable" "listxattr: $(h listxattr "$L" | head -n 1), $n names"; fi
check_errno "F13: a lock attribute is still settable (not counted)" OK setxattr "$L" user.worm.legal-hold ON
check_match "F13: and listed" 'user\.worm\.legal-hold' "$(h listxattr "$L")"
size=$(du -k "$STORE/meta/data.mdb" | cut -f1)
if [ "$size" -lt 65536 ]; then ok "F13: metadata file stays small (${size} KiB)"; else fail "F13: metadata file stays small" "data.mdb uses ${size} KiB"; fi
umount_check "$MNT" "F13"
done_testing
