#!/usr/bin/env bash
# A lock change right after a writer's close: close(2) returns before the
# kernel sends RELEASE, so the object still has a writer for a moment.
# Setting a retention or legal hold waits (bounded) for that release instead
# of failing with EBUSY; a writer that stays open still gets EBUSY.
. "$(dirname "$0")/lib.sh"
require_binaries

command -v setfattr >/dev/null || { fail "setfattr available"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
N=${SETTLE_N:-200}
[ "$WORMFS_LONG" = 1 ] && N=2000

# loop BUCKET ATTR VALUE: write+close then set, N times; prints the failures.
loop() {
	local b=$1 attr=$2 val=$3 i out busy=0 other=0
	for i in $(seq 1 "$N"); do
		echo x >"$b/f$i" || { other=$((other + 1)); continue; }
		out=$(setfattr -n "$attr" -v "$val" "$b/f$i" 2>&1) && continue
		case $out in
		*"busy"*) busy=$((busy + 1)) ;;
		*) other=$((other + 1)); diag "$out" ;;
		esac
	done
	echo "$busy $other"
}

# The release of a bucket-default commit is the slow one (it locks the
# object and is made durable), so that is where the window is widest.
mkdir "$M/plain" "$M/dflt" "$M/hold"
setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" "$M/dflt"
setfattr -n user.worm.default-retention -v "GOVERNANCE 1d" "$M/hold"
check_eq "write, close, set retention x$N (no default): no EBUSY" "0 0" \
	"$(loop "$M/plain" user.worm.retention "GOVERNANCE +1d")"
check_eq "write, close, set retention x$N (bucket default): no EBUSY" "0 0" \
	"$(loop "$M/dflt" user.worm.retention "GOVERNANCE +2d")"
check_eq "write, close, legal hold ON x$N (bucket default): no EBUSY" "0 0" \
	"$(loop "$M/hold" user.worm.legal-hold "ON")"
check_eq "every object ended locked" "locked" \
	"$(for f in "$M"/plain/f* "$M"/dflt/f* "$M"/hold/f*; do "$HARNESS" getxattr "$f" user.worm.state; echo; done | sort -u | tr -d '\n')"

# A writer that stays open is still refused, after the bounded wait.
F=$M/plain/open
exec 3>"$F"
echo y >&3
check_errno "open writer: retention EBUSY" EBUSY setxattr "$F" user.worm.retention "GOVERNANCE +1d"
check_errno "open writer: legal hold ON EBUSY" EBUSY setxattr "$F" user.worm.legal-hold ON
check_errno "open writer: legal hold OFF needs no wait" OK setxattr "$F" user.worm.legal-hold OFF
chmod 0666 "$F"
check_errno_as_user "open writer, caller not the owner: EPERM (a refusal is not delayed)" EPERM \
	setxattr "$F" user.worm.retention "GOVERNANCE +1d"
exec 3>&-
check_eq "the refused object is still mutable" "mutable" "$("$HARNESS" getxattr "$F" user.worm.state)"
umount_check "$M" "settle"
done_testing
