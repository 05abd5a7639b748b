#!/usr/bin/env bash
# Acceptance 3: the compliance clock never moves backward (design section
# 6). The daemon runs under libfaketime with its wall clock shifted:
#  (a) ahead (+3d): the high-water mark is persisted (at a lock change, at
#      a clean unmount, and before a crash right after a lock change), so
#      after a remount with the real clock .wormfs/clock still shows >= the
#      +3d time and retention is judged against it;
#  (b) back (-10d) after locking with the real clock: a COMPLIANCE object
#      cannot be deleted early, .wormfs/clock stays >= the real now, and
#      new retention dates are judged against the compliance clock;
#  (c) back (-300d) after root deleted the clock's record offline and
#      re-sealed the state digest (wormctl repair digest, also under
#      -300d): the clock still starts at the latest store head's time
#      (signed, chained to STORE/head), so a bucket's COMPLIANCE default
#      is not given a date already past in real time;
#  (d) as (c), and every store head deleted too (meta/'s and STORE/head:
#      the open makes a first head as for a store from before heads):
#      the clock starts at the audit trail's last record's time (MAC'd);
#  (e) as (c), with an older head (made under -300d) put back in meta/ and
#      STORE/head: repair digest refuses (the trail no longer matches
#      the head) until --accept-audit-damage; then the clock starts at
#      the audit trail's last record's time, not at that head's.
. "$(dirname "$0")/lib.sh"
require_binaries

FTLIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1 \
	/usr/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1; do
	[ -r "$f" ] && { FTLIB=$f; break; }
done
if [ -z "$FTLIB" ]; then
	skip "compliance clock under faketime" "libfaketime not installed"
	done_testing
fi

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s 2>/dev/null || echo 0; }
ret() { h getxattr "$1" user.worm.retention; }
clk() { epoch "$(head -n1 "$1/.wormfs/clock" 2>/dev/null)"; }
# ge DESC A B: integer A >= B.
ge() {
	if [ "$2" -ge "$3" ] 2>/dev/null; then ok "$1"; else fail "$1" "expected $2 >= $3 ($(iso "${2:-0}") >= $(iso "${3:-0}"))"; fi
}
# near DESC WANT GOT [SLACK]: |WANT - GOT| <= SLACK seconds (default 120).
near() {
	local d=$(($2 - $3))
	if [ ${d#-} -le "${4:-120}" ]; then ok "$1"; else fail "$1" "expected ~$(iso "$2"), got $(iso "$3") (diff $d s)"; fi
}

# mount_ft OFFSET STORE MNT [opts]: mount_fg with the daemon's wall clock
# shifted by OFFSET (libfaketime syntax, e.g. +3d, -10d). The monotonic
# clock stays real (a shifted uptime would go negative). Under ASan the
# preloaded libfaketime comes before the ASan runtime: allow it.
mount_ft() {
	local ft=$1 real=$WORMFS wrap rc
	shift
	wrap=$T_BASE/wormfs-faketime.$RANDOM
	cat >"$wrap" <<EOF
#!/bin/sh
exec env LD_PRELOAD="$FTLIB" ASAN_OPTIONS="\${ASAN_OPTIONS:-}:verify_asan_link_order=0" FAKETIME="$ft" DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 "$real" "\$@"
EOF
	chmod 0755 "$wrap"
	WORMFS=$wrap
	mount_fg "$@"
	rc=$?
	WORMFS=$real
	return $rc
}

# wormctl_ft OFFSET ARGS...: wormctl with its wall clock shifted by OFFSET.
wormctl_ft() {
	local ft=$1
	shift
	env LD_PRELOAD="$FTLIB" FAKETIME="$ft" DONT_FAKE_MONOTONIC=1 "$WORMCTL" "$@"
}

# reseal_ft DESC [repair digest options]: root re-seals S's state digest
# offline (wormctl repair digest) with the clock at -300d: exit 0 (DESC).
reseal_ft() {
	local desc=$1 out rc
	shift
	out=$(wormctl_ft -300d repair digest "$@" "$S" 2>&1)
	rc=$?
	check_eq "$desc" 0 $rc || diag "$out"
}

# clock_store TAG LABEL BUCKET [OFFSET]: S (store-TAG) and M (mnt-TAG), a
# new store made by wormctl and mounted by a daemon with the clock at
# OFFSET (default: the real one), and a bucket B (M/BUCKET). A failure to
# make or mount the store ends the test. LABEL ends the checks' names:
# " (LABEL)", or " (LABEL, OFFSET)" for the store's; none when empty.
clock_store() {
	local tag=$1 ft=${4:-} out w=${2:+ ($2)} ws=${2:+ ($2${4:+, $4})}
	S=$T_BASE/store-$tag M=$T_BASE/mnt-$tag B=$T_BASE/mnt-$tag/$3
	if [ -n "$ft" ]; then
		out=$(wormctl_ft "$ft" init "$S" 2>&1) || { fail "wormctl init$ws" "$out"; done_testing; }
		mount_ft "$ft" "$S" "$M"
	else
		make_store "$S" || { fail "wormctl init$ws"; done_testing; }
		mount_fg "$S" "$M"
	fi || { fail "mount$ws" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
	check_errno "mkdir bucket$w" OK mkdir "$B"
}

# default_store TAG SFX [OFFSET]: clock_store TAG TAG defTAG [OFFSET], its
# bucket's default COMPLIANCE 30d (SFX ends that check's name), unmounted.
default_store() {
	clock_store "$1" "$1" "def$1" "${3:-}"
	check_errno "bucket default COMPLIANCE 30d$2" OK setxattr "$B" user.worm.default-retention "COMPLIANCE 30d"
	check "unmount ($1${3:+, $3})" umount_fs "$M"
}

# check_floor TAG SFX CLOCK-DESC: S mounted on M with the daemon's clock at
# -300d: .wormfs/clock >= the real now (CLOCK-DESC), and an object made in
# B gets its COMPLIANCE 30d default counted from that compliance clock (SFX
# ends those checks' names). Left mounted.
check_floor() {
	local now v
	mount_ft -300d "$S" "$M" || { fail "mount ($1, -300d)" "$(tail -n 20 "${MNT_LOG[$M]}")"; done_testing; }
	now=$(date +%s)
	ge "$3" "$(clk "$M")" $((now - 5))
	check_errno "-300d: an object in the COMPLIANCE 30d bucket$2" OK write "$B/obj" obj
	v=$(ret "$B/obj")
	ge "-300d: its default retention counts from the compliance clock (>= real + 30 d)$2" "$(epoch "${v#* }")" $((now + 30 * 86400 - 5))
}

# ================================================================ (a) ahead
clock_store a "" clock
now=$(date +%s)
near "real clock: .wormfs/clock is the system time" "$now" "$(clk "$M")" 5
check_errno "object 'early'" OK write "$B/early" early
check_errno "lock 'early' COMPLIANCE until real now + 1 day" OK setxattr "$B/early" user.worm.retention "COMPLIANCE $(iso $((now + 86400)))"
check_errno "object 'later' (locked later, under +3d)" OK write "$B/later" later
check_errno "object 'fresh' (locked after the remount)" OK write "$B/fresh" fresh
check "unmount" umount_fs "$M"

if ! mount_ft +3d "$S" "$M"; then
	fail "daemon runs under libfaketime (+3d)" "$(tail -n 20 "${MNT_LOG[$M]}")"
	done_testing
fi
ok "daemon runs under libfaketime (+3d)"
now=$(date +%s)
near "+3d: .wormfs/clock shows real + 3 d" $((now + 3 * 86400)) "$(clk "$M")"
check_eq "+3d: 'early' (until real + 1 d) has expired" expired "$(worm_state "$B/early")"
check_errno "+3d: lock 'later' COMPLIANCE +1d (a lock change persists the clock)" OK setxattr "$B/later" user.worm.retention "COMPLIANCE +1d"
v=$(ret "$B/later")
near "+3d: +1d is judged from the compliance clock (real + 4 d)" $((now + 4 * 86400)) "$(epoch "${v#* }")"
check "unmount (+3d)" umount_fs "$M"

mount_fg "$S" "$M" || { fail "remount with the real clock" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
now=$(date +%s)
ge "real clock after +3d: .wormfs/clock >= real + 3 d (high-water mark persisted)" "$(clk "$M")" $((now + 3 * 86400 - 120))
check_eq "'early' stays expired" expired "$(worm_state "$B/early")"
check_eq "'later' locked" locked "$(worm_state "$B/later")"
check_errno "'later' rm: EPERM" EPERM unlink "$B/later"
check_errno "date real + 2 d is in the compliance past: EINVAL" EINVAL setxattr "$B/fresh" user.worm.retention "COMPLIANCE $(iso $((now + 2 * 86400)))"
check_errno "fresh: +1h" OK setxattr "$B/fresh" user.worm.retention "GOVERNANCE +1h"
v=$(ret "$B/fresh")
ge "+1h counts from the compliance clock (>= real + 3 d)" "$(epoch "${v#* }")" $((now + 3 * 86400))
check_errno "'early' (expired) may be deleted" OK unlink "$B/early"
check "unmount (real)" umount_fs "$M"

# Clean unmount without a lock change: the mark is still kept.
mount_ft +5d "$S" "$M" || { fail "mount (+5d)" "$(tail -n 20 "${MNT_LOG[$M]}")"; done_testing; }
near "+5d: .wormfs/clock shows real + 5 d" $(($(date +%s) + 5 * 86400)) "$(clk "$M")"
check "unmount (+5d, no lock change)" umount_fs "$M"
mount_fg "$S" "$M" || { fail "remount (real)" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ge "after a clean unmount at +5d: .wormfs/clock >= real + 5 d" "$(clk "$M")" $(($(date +%s) + 5 * 86400 - 120))
check "unmount (real, 2)" umount_fs "$M"

# Crash right after a lock change: the mark went to disk with the change.
mount_ft +8d "$S" "$M" || { fail "mount (+8d)" "$(tail -n 20 "${MNT_LOG[$M]}")"; done_testing; }
check_errno "+8d: new object" OK write "$B/crash" c
check_errno "+8d: lock it" OK setxattr "$B/crash" user.worm.retention "GOVERNANCE +1d"
check "+8d: kill -9 the daemon" crash_daemon "$M" "$S"
mount_fg "$S" "$M" || { fail "remount after the crash" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ge "after a crash at +8d: .wormfs/clock >= real + 8 d" "$(clk "$M")" $(($(date +%s) + 8 * 86400 - 120))
check_eq "after the crash: the object locked at +8d is locked" locked "$(worm_state "$B/crash")"
umount_check "$M" "store a"

# ================================================================ (b) back
clock_store b b clock
now=$(date +%s)
UNTIL=$(iso $((now + 86400)))
check_errno "object f" OK write "$B/f" "keep me"
check_errno "lock f COMPLIANCE until real now + 1 day" OK setxattr "$B/f" user.worm.retention "COMPLIANCE $UNTIL"
check_errno "object g" OK write "$B/g" "keep me too"
check_errno "lock g GOVERNANCE until real now + 1 day" OK setxattr "$B/g" user.worm.retention "GOVERNANCE $UNTIL"
check_errno "object n (locked under -10d)" OK write "$B/n" n
check "unmount (b)" umount_fs "$M"

if ! mount_ft -10d "$S" "$M"; then
	fail "daemon runs under libfaketime (-10d)" "$(tail -n 20 "${MNT_LOG[$M]}")"
	done_testing
fi
ok "daemon runs under libfaketime (-10d)"
now=$(date +%s)
ge "-10d: .wormfs/clock >= the real now" "$(clk "$M")" $((now - 5))
check_eq "-10d: f still locked" locked "$(worm_state "$B/f")"
check_errno "-10d: rm f: EPERM" EPERM unlink "$B/f"
check_errno "-10d: rm g by root: EPERM" EPERM unlink "$B/g"
check_errno "-10d: write f: EPERM" EPERM write "$B/f" x
check_errno "-10d: COMPLIANCE cannot be shortened to real - 5 d: EINVAL (compliance past)" EINVAL \
	setxattr "$B/f" user.worm.retention "COMPLIANCE $(iso $((now - 5 * 86400)))"
check_eq "-10d: f retention unchanged" "COMPLIANCE $UNTIL" "$(ret "$B/f")"
check_errno "-10d: a date between the fake and the real now: EINVAL" EINVAL \
	setxattr "$B/n" user.worm.retention "GOVERNANCE $(iso $((now - 86400)))"
check_errno "-10d: n +1d" OK setxattr "$B/n" user.worm.retention "GOVERNANCE +1d"
v=$(ret "$B/n")
ge "-10d: +1d counts from the compliance clock (>= real + 1 d)" "$(epoch "${v#* }")" $((now + 86400 - 5))
check_eq "-10d: f content intact" "keep me" "$(cat "$B/f")"
refused=$(awk '/^wormfs_refusals_total/ { s += $2 } END { print s + 0 }' "$M/.wormfs/stats")
ge "-10d: refusals counted" "$refused" 3
check "unmount (-10d)" umount_fs "$M"

mount_ft -10d "$S" "$M" || { fail "mount (-10d, again)" "$(tail -n 20 "${MNT_LOG[$M]}")"; done_testing; }
ge "-10d again: .wormfs/clock >= the real now" "$(clk "$M")" $(($(date +%s) - 5))
check_errno "-10d again: rm f: EPERM" EPERM unlink "$B/f"
check "unmount (-10d again)" umount_fs "$M"

mount_fg "$S" "$M" || { fail "remount (b, real)" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ge "real clock: .wormfs/clock >= now" "$(clk "$M")" $(($(date +%s) - 5))
check_errno "real clock: rm f: EPERM" EPERM unlink "$B/f"
check_eq "real clock: f still locked" locked "$(worm_state "$B/f")"
umount_check "$M" "store b"

# ================================================================ (c) record gone
build_tamper || { fail "tamper.c compiles"; done_testing; }
default_store c ""
check "offline: the clock's record deleted" "$TAMPER" xdel "$S/meta" kv "$(kv_key clock_hwm)"
reseal_ft "wormctl repair digest under -300d"
check_floor c "" "-300d, record deleted: .wormfs/clock >= the real now (latest head's time)"
check "unmount (c, -300d)" umount_fs "$M"
mount_fg "$S" "$M" || { fail "remount (c, real)" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "real clock: the object is locked" locked "$(worm_state "$B/obj")"
check_errno "real clock: rm of it: EPERM" EPERM unlink "$B/obj"
umount_check "$M" "store c"

# ================================================================ (d) heads gone too
default_store d " (d)"
check "offline: the clock's record deleted (d)" "$TAMPER" xdel "$S/meta" kv "$(kv_key clock_hwm)"
check "offline: meta/'s latest head deleted" "$TAMPER" xdel "$S/meta" kv "$(kv_key head)"
seq_n=0
for i in $(seq 1 200); do
	"$TAMPER" xdel "$S/meta" kv "$(kv_key "head/$(printf %016x "$i")")" 2>/dev/null && seq_n=$((seq_n + 1))
done
ge "offline: meta/'s heads deleted" "$seq_n" 1
check "offline: STORE/head deleted" rm "$S/head"
reseal_ft "wormctl repair digest under -300d (d)"
check_floor d " (d)" "-300d, heads and record deleted: .wormfs/clock >= the real now (last audit record's time)"
umount_check "$M" "store d"

# ================================================================ (e) older head put back
default_store e " (e)" -300d
OLDH=$("$TAMPER" xget "$S/meta" kv "$(kv_key head)")
cp "$S/head" "$T_BASE/oldhead-e"
mount_fg "$S" "$M" || { fail "mount (e)" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_errno "mkdir a second bucket (e, real clock)" OK mkdir "$M/later"
check_errno "its default (a record at the real clock)" OK setxattr "$M/later" user.worm.default-retention "GOVERNANCE 1d"
check "unmount (e)" umount_fs "$M"
check "offline: the clock's record deleted (e)" "$TAMPER" xdel "$S/meta" kv "$(kv_key clock_hwm)"
check "offline: meta/'s latest head put back from -300d" "$TAMPER" xput "$S/meta" kv "$(kv_key head)" "$OLDH"
check "offline: STORE/head put back from -300d" cp "$T_BASE/oldhead-e" "$S/head"
# The head put back no longer matches the audit trail: repair refuses
# until the operator accepts that damage (recorded), then the floor holds.
out=$(wormctl_ft -300d repair digest "$S" 2>&1)
check_eq "wormctl repair digest under -300d refuses (the audit trail fails verification) (e)" 1 $?
check_match "... and says why (e)" "audit trail fails verification" "$out"
reseal_ft "wormctl repair digest --accept-audit-damage under -300d (e)" --accept-audit-damage
check_floor e " (e)" "-300d, older head put back: .wormfs/clock >= the real now (last audit record's time)"
umount_check "$M" "store e"
done_testing
