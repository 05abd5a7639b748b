#!/usr/bin/env bash
# Review of the FUSE front end (adversarial review, rv-fs).
#
# Times: utimensat hands the daemon seconds and nanoseconds; a record holds
# nanoseconds in 64 bits (about 1677 to 2262). A time outside that range
# is clamped to it, as the kernel clamps to a local file system's range
# (ext4, tmpfs); before, the product overflowed and another year was
# stored (touch -d @100000000000 read back as 2216-...). A time before
# 1970 with a fraction reads back as written (the reply had a negative
# tv_nsec: -1.5 s read back as -1 ns).
#
# setxattr's XATTR_CREATE and XATTR_REPLACE on the lock attributes: they
# were ignored, so a create-only set extended a retention in force and a
# replace-only set locked a mutable object (or set a legal hold / bucket
# default never set). Now EEXIST / ENODATA as for any attribute, nothing
# changed.
#
# wormctl verify of a sparse object: a few bytes written at 1 TiB made
# verify read the whole terabyte of holes (any user could keep it busy for
# hours). It now skips the holes of the content file that the block map
# says are holes, and still reports a data block punched out offline.
# Measured as bytes read (rchar of the subshell that reaped it), no time.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
B=$M/rvfs
check_errno "mkdir bucket" OK mkdir "$B"

# ---- times at and past the limits of a record
h write "$B/t" "x" >/dev/null
mt() { stat -c '%.9Y' "$1"; }
at() { stat -c '%.9X' "$1"; }
check "touch -d @-1.5" touch -d @-1.5 "$B/t"
check_eq "a time before 1970 with a fraction reads back as written (mtime)" -1.500000000 "$(mt "$B/t")"
check_eq "and atime" -1.500000000 "$(at "$B/t")"
check "touch -d @4102444800.25 (2100)" touch -d @4102444800.25 "$B/t"
check_eq "a time in 2100 reads back as written" 4102444800.250000000 "$(mt "$B/t")"
check "touch -d @100000000000 (year 5138)" touch -d @100000000000 "$B/t"
check_eq "a time past 2262 is clamped to the latest a record holds, not wrapped" \
	9223372036.854775807 "$(mt "$B/t")"
check "touch -d @-100000000000" touch -d @-100000000000 "$B/t"
check_eq "a time before 1677 is clamped to the earliest a record holds" \
	-9223372036.854775808 "$(mt "$B/t")"
check "touch -d @9300000000 (just past the range)" touch -d @9300000000 "$B/t"
check_eq "clamped, not wrapped to 1677" 9223372036.854775807 "$(mt "$B/t")"
# the same after a remount (what the record holds, not the kernel's cache)
check "touch -d @-1.5 again" touch -d @-1.5 "$B/t"
umount_fs "$M"
mount_fg "$S" "$M" || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "after a remount: -1.5 s" -1.500000000 "$(mt "$B/t")"

# ---- a locked object: a huge time is refused as any other (EPERM), unchanged
h write "$B/lk" "locked" >/dev/null
check_errno "lock it" OK setxattr "$B/lk" user.worm.retention "COMPLIANCE +1d"
before=$(mt "$B/lk")
check_errno "utimens 100000000000 on the locked object: EPERM" EPERM utimens "$B/lk" 100000000000
check_errno "utimens -100000000000 on the locked object: EPERM" EPERM utimens "$B/lk" -100000000000
check_eq "its mtime is unchanged" "$before" "$(mt "$B/lk")"

# ---- XATTR_CREATE / XATTR_REPLACE on the lock attributes
h write "$B/xr" "x" >/dev/null
check_errno "retention, replace-only, none set: ENODATA" ENODATA \
	setxattr "$B/xr" user.worm.retention "GOVERNANCE +1d" replace
check_errno "legal hold, replace-only, never set: ENODATA" ENODATA \
	setxattr "$B/xr" user.worm.legal-hold ON replace
check_errno "append-only, replace-only, not set: ENODATA" ENODATA \
	setxattr "$B/xr" user.worm.append-only ON replace
check_eq "the object is still mutable" mutable "$(worm_state "$B/xr")"
check_errno "the replace-only retention left nothing" ENODATA getxattr "$B/xr" user.worm.retention
check_errno "the replace-only legal hold left nothing" ENODATA getxattr "$B/xr" user.worm.legal-hold
check_errno "retention, create-only, none set: OK" OK \
	setxattr "$B/xr" user.worm.retention "GOVERNANCE 2100-01-01T00:00:00Z" create
check_errno "retention, create-only, one in force: EEXIST" EEXIST \
	setxattr "$B/xr" user.worm.retention "GOVERNANCE 2101-01-01T00:00:00Z" create
check_eq "the retention in force is unchanged" "GOVERNANCE 2100-01-01T00:00:00Z" \
	"$(h getxattr "$B/xr" user.worm.retention)"
check_errno "retention, replace-only, one in force: extends" OK \
	setxattr "$B/xr" user.worm.retention "GOVERNANCE 2101-01-01T00:00:00Z" replace
check_eq "extended" "GOVERNANCE 2101-01-01T00:00:00Z" "$(h getxattr "$B/xr" user.worm.retention)"
check_errno "legal hold, create-only, never set: OK" OK setxattr "$B/xr" user.worm.legal-hold ON create
check_errno "legal hold, create-only, set: EEXIST" EEXIST setxattr "$B/xr" user.worm.legal-hold OFF create
check_eq "the hold stays ON" ON "$(h getxattr "$B/xr" user.worm.legal-hold)"
check_errno "legal hold, replace-only, set: OFF" OK setxattr "$B/xr" user.worm.legal-hold OFF replace
# bucket attributes
check_errno "default retention, replace-only, none: ENODATA" ENODATA \
	setxattr "$B" user.worm.default-retention "COMPLIANCE 1d" replace
check_errno "no default was set" ENODATA getxattr "$B" user.worm.default-retention
check_errno "default retention, create-only, none: OK" OK \
	setxattr "$B" user.worm.default-retention "GOVERNANCE 1d" create
check_errno "default retention, create-only, set: EEXIST" EEXIST \
	setxattr "$B" user.worm.default-retention "COMPLIANCE 30d" create
check_eq "the default is unchanged" "GOVERNANCE 1d" "$(h getxattr "$B" user.worm.default-retention)"
check_errno "lock-config, create-only (always there): EEXIST" EEXIST \
	setxattr "$B" user.worm.lock-config in-progress create
check_eq "no bucket lock started" unlocked "$(h getxattr "$B" user.worm.lock-config)"
check_errno "default retention off again" OK removexattr "$B" user.worm.default-retention
# a lock attribute this node cannot have stays EINVAL with the flags too
check_errno "a bucket attribute on an object, replace-only: EINVAL" EINVAL \
	setxattr "$B/xr" user.worm.default-retention "GOVERNANCE 1d" replace
check_errno "an unknown lock attribute, replace-only: EINVAL" EINVAL \
	setxattr "$B/xr" user.worm.nosuch ON replace
check_errno "user.worm.state, create-only: EPERM (read-only)" EPERM \
	setxattr "$B/xr" user.worm.state mutable create

# ---- a sparse object of 1 TiB
python3 - "$B/sparse" <<'PY' || fail "sparse writes"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
for off in (2**38 + 12345, 2**39, 2**40 - 2):
    os.pwrite(fd, b"ab", off)
os.close(fd)
PY
check_eq "the sparse object is 1 TiB" 1099511627776 "$(stat -c %s "$B/sparse")"

umount_check "$M" "the mount"

# verify_read DESC: wormctl verify's exit status and bytes read (VRC, VREAD).
verify_read() {
	local io
	io=$( (timeout 120 "$WORMCTL" verify "$S" >"$T_BASE/verify.out" 2>&1; echo "rc $?"
		sed -n 's/^rchar: //p' /proc/$BASHPID/io) )
	VRC=$(echo "$io" | sed -n 's/^rc //p')
	VREAD=$(echo "$io" | tail -n 1)
}
verify_read
check_eq "verify of a store with a 1 TiB sparse object: clean" 0 "$VRC"
[ "$VRC" = 0 ] || diag "$(tail -n 5 "$T_BASE/verify.out")"
if [ "${VREAD:-0}" -lt $((256 << 20)) ] 2>/dev/null; then ok "verify read less than 256 MiB ($VREAD bytes), not the holes"
else fail "verify read less than 256 MiB, not the holes" "read: ${VREAD:-?} bytes"; fi
# A data block punched out of the content file offline is still found.
CF=$(find "$S/objects" -type f -size +1G | head -n 1)
if [ -n "$CF" ] && fallocate -p -o $((512 + (2**39 / 16384) * 16432)) -l 16432 "$CF"; then
	verify_read
	check_eq "verify after a data block was punched out: damage reported (exit 1)" 1 "$VRC"
	check_match "the damage names the object and a bad block" "sparse.*block" "$(cat "$T_BASE/verify.out")"
else
	fail "the sparse object's content file punched" "file: $CF"
fi
done_testing
