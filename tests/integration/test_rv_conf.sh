#!/usr/bin/env bash
# Confidentiality review (design sections 7, 8 and 15; README "Encryption",
# "Inside the mount"): what other local users can learn through the mount.
#  1. .wormfs/audit holds every lock change and refusal with its path, and
#     every S3 user's name, access key id and uid: only root and the
#     daemon's own user (the store's owner, who can run `wormctl audit
#     STORE` anyway) may read it. Before, it was 0444, so with allow_other
#     any local user read the names inside another user's 0700 directory
#     there. The other .wormfs files (version, clock, stats) stay 0444.
#  2. STORE/keys/kek unlocks every object, as a passphrase does: a key file
#     others can read or change is refused as a passphrase file is (the
#     mount and wormctl say so and name the fix); before, it was used at
#     any mode.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
s3_store "$S" 1
mount_fg "$S" "$M" -o allow_other || { fail "mount"; done_testing; }

# ---- 1. .wormfs/audit
mkdir -p "$M/team/hr-private" && chmod 0700 "$M/team/hr-private"
echo x >"$M/team/hr-private/layoffs-2027-names.txt"
setfattr -n user.worm.retention -v "GOVERNANCE +1d" "$M/team/hr-private/layoffs-2027-names.txt"
check_errno_as_user "control: another user cannot list the 0700 directory" EACCES \
	readdir "$M/team/hr-private"
check_match "root reads the lock change in .wormfs/audit" \
	'kind=retention op=set path=/team/hr-private/layoffs-2027-names.txt' "$(cat "$M/.wormfs/audit")"
check_errno_as_user "another user cannot open .wormfs/audit: EACCES" EACCES \
	open "$M/.wormfs/audit" RDONLY
out=$(as_user cat "$M/.wormfs/audit" 2>/dev/null)
check_eq "... and reads no name from it" "0" "$(printf '%s' "$out" | grep -c 'layoffs\|AKIA')"
check_eq ".wormfs/audit is 0400, the daemon's user's" "400 0" "$(stat -c '%a %u' "$M/.wormfs/audit")"
for f in version clock stats; do
	check_errno_as_user "another user still reads .wormfs/$f" OK open "$M/.wormfs/$f" RDONLY
	check_eq ".wormfs/$f stays 0444" "444" "$(stat -c '%a' "$M/.wormfs/$f")"
done
umount_fs "$M"

# ---- 2. a key file others can read
chmod 0644 "$S/keys/kek"
if mount_fg "$S" "$M" >/dev/null 2>&1; then
	fail "a store whose key file is world-readable is not mounted"
	umount_fs "$M"
else
	ok "a store whose key file is world-readable is not mounted"
fi
check_match "... the daemon says why" \
	'key file .*/keys/kek is world-readable \(mode 0644\): refusing it; chmod 600' \
	"$(cat "${MNT_LOG[$M]}")"
out=$("$WORMCTL" key list "$S" 2>&1); rc=$?
check_eq "wormctl key list refuses it (exit 1)" 1 "$rc"
check_match "... and says why" 'world-readable \(mode 0644\)' "$out"
chmod 0602 "$S/keys/kek"
out=$("$WORMCTL" verify "$S" 2>&1); rc=$?
check_eq "a key file others can write: verify refuses it" 1 "$rc"
check_match "... and says why" 'writable by others \(mode 0602\)' "$out"
chmod 0600 "$S/keys/kek"
mount_fg "$S" "$M" || fail "mount after chmod 600"
check "... after chmod 600 the store mounts" test -d "$M/team"
umount_fs "$M"
verify_clean "$S" "... and verifies clean"

done_testing
