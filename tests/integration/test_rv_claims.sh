#!/usr/bin/env bash
# Review of the documented promises (review rv-claims): what design.md and
# README.md say a user or an auditor gets, checked against the mount.
#
# A: removexattr of a lock attribute that is not there. design.md section 5
# says user.worm.legal-hold gives ENODATA when never set, and removing the
# retention or the bucket default of an object or bucket that has none
# gives ENODATA, as removexattr(2) does for any absent attribute. Removing
# a legal hold never set, append-only never set, or a bucket's autocommit
# or default-append-only never set answered OK instead: the legal hold was
# then set (OFF: getxattr and listxattr showed it, XATTR_CREATE got
# EEXIST), and each left an audit record of a lock change
# (kind=legal-hold op=remove ...) that changed nothing. Now ENODATA,
# nothing changed, no record.
#
# B: wormctl's exit status (README: 0 success, 1 failure, for verify:
# damage found, 2 a usage error). verify --since with a HEAD that is not
# a head id read the whole store first and then exited 1, the status of
# damage (an auditor's rollback check could not tell a typo from a
# rollback); now 2 at once, as audit --since does. kms bench
# --max-wait-ms took up to 3600000 while the [kms] key allows 0..600000,
# so 600001.. passed the option check and failed later with exit 1 and a
# message about "-o"; now a usage error naming --max-wait-ms.
#
# C: a retain-until with a fraction of a second (RFC 3339 allows one;
# design section 12 names it for S3 dates) was truncated to the second
# before it, so "...T00:00:00.5Z" locked half a second less than asked.
# Now rounded up to the next whole second (through the mount and wormctl
# retention set); reads show whole seconds as before.
. "$(dirname "$0")/lib.sh"
require_binaries
command -v getfattr >/dev/null || { fail "getfattr available"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
B=$M/claims
check_errno "mkdir bucket" OK mkdir "$B"

# ---- A: removing a lock attribute that is not there
audit_len() { wc -l <"$M/.wormfs/audit"; }
h write "$B/obj" "x" >/dev/null
a0=$(audit_len)
check_errno "removexattr legal-hold never set: ENODATA" ENODATA removexattr "$B/obj" user.worm.legal-hold
check_errno "legal-hold still never set (getxattr ENODATA)" ENODATA getxattr "$B/obj" user.worm.legal-hold
check_eq "and not listed" "" "$(h listxattr "$B/obj" | grep -x user.worm.legal-hold)"
check_errno "removexattr append-only never set: ENODATA" ENODATA removexattr "$B/obj" user.worm.append-only
check_errno "removexattr retention never set: ENODATA (as before)" ENODATA removexattr "$B/obj" user.worm.retention
check_errno "removexattr autocommit never set: ENODATA" ENODATA removexattr "$B" user.worm.autocommit
check_errno "removexattr default-append-only never set: ENODATA" ENODATA removexattr "$B" user.worm.default-append-only
check_errno "removexattr default-retention never set: ENODATA (as before)" ENODATA removexattr "$B" user.worm.default-retention
check_eq "no audit record for a change that changed nothing" "$a0" "$(audit_len)"
check_errno "object still mutable" OK write "$B/obj" "y"
# Attributes that are there are still removed (and recorded).
check_errno "legal hold ON" OK setxattr "$B/obj" user.worm.legal-hold ON
check_errno "removexattr legal-hold ON: OK (OFF)" OK removexattr "$B/obj" user.worm.legal-hold
check_eq "legal hold OFF" OFF "$(h getxattr "$B/obj" user.worm.legal-hold)"
check_errno "removexattr legal-hold OFF (set): OK" OK removexattr "$B/obj" user.worm.legal-hold
h write "$B/obj2" "x" >/dev/null
check_errno "append-only ON" OK setxattr "$B/obj2" user.worm.append-only ON
check_errno "removexattr append-only ON: OK" OK removexattr "$B/obj2" user.worm.append-only
check_errno "append-only gone" ENODATA getxattr "$B/obj2" user.worm.append-only
check_errno "autocommit 1h" OK setxattr "$B" user.worm.autocommit 1h
check_errno "removexattr autocommit: OK" OK removexattr "$B" user.worm.autocommit
check_errno "lock-config is never removed: EPERM (as before)" EPERM removexattr "$B" user.worm.lock-config
check_errno "user.worm.state is read-only: EPERM (as before)" EPERM removexattr "$B/obj" user.worm.state

# ---- C: a fraction of a second rounds the retain-until up
Y=$(($(date -u +%Y) + 2))
h write "$B/frac" "x" >/dev/null
check_errno "retention with .5 s" OK setxattr "$B/frac" user.worm.retention "GOVERNANCE $Y-01-01T00:00:00.5Z"
check_eq "kept to the next whole second" "GOVERNANCE $Y-01-01T00:00:01Z" "$(h getxattr "$B/frac" user.worm.retention)"
h write "$B/frac0" "x" >/dev/null
check_errno "retention with .000 s" OK setxattr "$B/frac0" user.worm.retention "GOVERNANCE $Y-01-01T00:00:00.000Z"
check_eq "a zero fraction is the second itself" "GOVERNANCE $Y-01-01T00:00:00Z" "$(h getxattr "$B/frac0" user.worm.retention)"
h write "$B/fracw" "x" >/dev/null
check "wormctl retention set with .25 s" "$WORMCTL" retention set "$B/fracw" COMPLIANCE "$Y-01-01T00:00:00.25Z"
check_eq "wormctl: the next whole second too" "COMPLIANCE $Y-01-01T00:00:01Z" "$(h getxattr "$B/fracw" user.worm.retention)"

umount_check "$M" "the mount"

# ---- B: usage errors of wormctl are exit 2
S2=$T_BASE/store2
make_store "$S2" || fail "wormctl init store2"
out=$("$WORMCTL" verify "$S2" --since not-a-head 2>&1)
check_eq "verify --since not-a-head: exit 2 (usage), not 1 (damage)" 2 "$?"
check_match "and says why" "not a head id" "$out"
out=$("$WORMCTL" verify "$S2" --since '{"nohead":1}' 2>&1)
check_eq "verify --since JSON without a head: exit 2" 2 "$?"
H=$("$WORMCTL" head "$S2" | awk '$1 == "head" { print $2 }')
check_eq "verify --since the current head: exit 0 (as before)" 0 \
	"$("$WORMCTL" verify "$S2" --since "$H" >/dev/null 2>&1; echo $?)"
out=$("$WORMCTL" kms bench "$S2" --max-wait-ms 600001 2>&1)
check_eq "kms bench --max-wait-ms 600001: exit 2" 2 "$?"
check_match "and names the option and its range" "--max-wait-ms: expected 0..600000" "$out"
done_testing
