#!/usr/bin/env bash
# Bucket default retention and bucket lock (design section 5, "On bucket
# directories"): default applied at commit of newly written objects only,
# EXDEV copies get the target's default, who may set it, the lock protocol
# (start / complete / wrong id / abort) through wormctl and setfattr, and
# what a locked bucket still allows.
. "$(dirname "$0")/lib.sh"
require_binaries

command -v setfattr >/dev/null && command -v python3 >/dev/null ||
	{ fail "setfattr and python3 available"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s; }
ret() { h getxattr "$1" user.worm.retention; }
def() { h getxattr "$1" user.worm.default-retention; }
lcfg() { h getxattr "$1" user.worm.lock-config; }
U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
X() { setpriv --reuid=1001 --regid=1001 --clear-groups -- "$@"; }
# near WANT GOT [SLACK]: two epoch seconds within SLACK (default 60).
near() { local d=$(($1 - $2)); [ ${d#-} -le "${3:-60}" ]; }

# ---- bucket names S3 reserves: EINVAL like xn--, and nothing is created
for name in sthree-abc amzn-s3-demo-bucket abc--ol-s3 abc--x-s3 usw2-az1--x-s3 abc--table-s3 \
	xn--abc abc-s3alias abc.mrap; do
	check_errno "mkdir reserved bucket name '$name': EINVAL" EINVAL mkdir "$M/$name"
	check_errno "reserved bucket name '$name' was not created" ENOENT access "$M/$name" f
done
check_errno "a name merely close to a reserved form ('sthree') is a bucket" OK mkdir "$M/sthree"
check_errno "so is 'abc-x-s3'" OK mkdir "$M/abc-x-s3"

# ---- default retention: syntax and who may set it
A=$M/defaults
check_errno "mkdir bucket" OK mkdir "$A"
chown 1000:1000 "$A" && chmod 0777 "$A"
check_errno "no default: ENODATA" ENODATA getxattr "$A" user.worm.default-retention
check_eq "fresh bucket lock-config reads unlocked" unlocked "$(lcfg "$A")"
check_eq "listxattr of a bucket shows lock-config" "user.worm.lock-config" "$(h listxattr "$A")"
for v in "GOVERNANCE 0d" "GOVERNANCE 36501d" "COMPLIANCE 101y" "COMPLIANCE 0y" "GOVERNANCE" \
	"GOVERNANCE 1w" "SOMETIMES 1d" "GOVERNANCE -1d" "GOVERNANCE 2031-01-01T00:00:00Z" "garbage"; do
	check_errno "default '$v': EINVAL" EINVAL setxattr "$A" user.worm.default-retention "$v"
done
check_errno "no default after the bad values" ENODATA getxattr "$A" user.worm.default-retention
check_errno "default 'GOVERNANCE 36500d' (upper bound) accepted" OK setxattr "$A" user.worm.default-retention "GOVERNANCE 36500d"
check_errno "default 'COMPLIANCE 100y' accepted" OK setxattr "$A" user.worm.default-retention "COMPLIANCE 100y"
check_eq "years read back as years" "COMPLIANCE 100y" "$(def "$A")"
check_errno "default 'governance 1d' (lowercase) accepted" OK setxattr "$A" user.worm.default-retention "governance 1d"
check_eq "days read back as days" "GOVERNANCE 1d" "$(def "$A")"
check_errno_as_user "bucket owner sets the default" OK setxattr "$A" user.worm.default-retention "GOVERNANCE 2d"
check_eq "owner's default reads back" "GOVERNANCE 2d" "$(def "$A")"
out=$(X "$HARNESS" setxattr "$A" user.worm.default-retention "GOVERNANCE 3d")
check_eq "another user (write permission on the bucket, not owner): EPERM" EPERM "$out"
out=$(X "$HARNESS" removexattr "$A" user.worm.default-retention)
check_eq "another user removes the default: EPERM" EPERM "$out"
check_eq "default unchanged by the other user" "GOVERNANCE 2d" "$(def "$A")"
check_errno_as_user "owner removes the default" OK removexattr "$A" user.worm.default-retention
check_errno "removed: ENODATA" ENODATA getxattr "$A" user.worm.default-retention
check_errno "removing a missing default: ENODATA" ENODATA removexattr "$A" user.worm.default-retention
check_errno "default-retention on a plain directory: not a bucket attribute" "EINVAL|EPERM|ENOTSUP|EOPNOTSUPP" \
	setxattr "$(mkdir -p "$A/sub" && echo "$A/sub")" user.worm.default-retention "GOVERNANCE 1d"

# ---- applied at commit of new objects, not retroactively
D=$M/withdefault
check_errno "mkdir bucket withdefault" OK mkdir "$D"
check_errno "object written before the default" OK write "$D/old" "old content"
check_errno "set default GOVERNANCE 30d" OK setxattr "$D" user.worm.default-retention "GOVERNANCE 30d"
check_errno "existing object did not get the default" ENODATA getxattr "$D/old" user.worm.retention
check_eq "existing object still mutable" mutable "$(h getxattr "$D/old" user.worm.state)"
check_errno "existing object still writable" OK write "$D/old" "changed"
got=$(python3 - "$D/new" <<'PY'
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"new content")
try:
    os.getxattr(p, "user.worm.retention"); during = "SET"
except OSError as e:
    during = "ENODATA" if e.errno == 61 else str(e.errno)
st = os.getxattr(p, "user.worm.state").decode()
os.close(fd)
print(during, st)
PY
)
check_eq "while still open for write: no retention yet, mutable" "ENODATA mutable" "$got"
t=$(date +%s)
v=$(ret "$D/new")
check_match "new object got the default at close" '^GOVERNANCE [0-9T:-]+Z$' "$v"
if near $((t + 30 * 86400)) "$(epoch "${v#* }")"; then ok "retain-until = commit time + 30 d"; else fail "retain-until = commit time + 30 d" "got $v at $(iso "$t")"; fi
check_eq "new object locked" locked "$(h getxattr "$D/new" user.worm.state)"
check_errno "new object: write EPERM" EPERM write "$D/new" x
check_errno "new object: rm EPERM" EPERM unlink "$D/new"
check_eq "new object kept its content" "new content" "$(cat "$D/new")"
check_errno "empty file created with touch" OK create "$D/empty"
check_match "an empty file closed after create also gets the default" '^GOVERNANCE ' "$(ret "$D/empty")"
check_errno "objects in subdirectories get the bucket's default too" OK mkdir "$D/sub"
check_errno "write in subdirectory" OK write "$D/sub/deep" deep
check_match "deep object has the default" '^GOVERNANCE ' "$(ret "$D/sub/deep")"
check_errno "an explicit longer retention on a new object wins" OK write "$D/expl" x
check_errno "extend it" OK setxattr "$D/expl" user.worm.retention "GOVERNANCE +60d"
check_match "extended" "^GOVERNANCE $(iso $(($(date +%s) + 60 * 86400)) | cut -c1-10)" "$(ret "$D/expl")"

# ---- mv from another bucket: EXDEV copy gets the target's default
O=$M/other
check_errno "mkdir bucket other" OK mkdir "$O"
check_errno "object in the bucket without default" OK write "$O/moveme" "moving"
check_errno "rename across buckets: EXDEV" EXDEV rename "$O/moveme" "$D/moveme"
out=$(mv "$O/moveme" "$D/moveme" 2>&1); rc=$?
check_eq "mv across buckets (copy + unlink): exit 0" "0 " "$rc $out"
check_errno "source gone" ENOENT access "$O/moveme" f
check_eq "moved content" moving "$(cat "$D/moveme" 2>&1)"
check_match "moved object got the target bucket's default" '^GOVERNANCE [0-9T:-]+Z$' "$(ret "$D/moveme")"
check_eq "moved object locked" locked "$(h getxattr "$D/moveme" user.worm.state)"
check_errno "within the bucket, rename of a mutable object keeps it mutable" OK write "$O/m2" "x"
check_errno "rename within the bucket" OK rename "$O/m2" "$O/m3"
check_errno "no retention after a same-bucket rename" ENODATA getxattr "$O/m3" user.worm.retention

# ---- bucket lock through wormctl: start, wrong id, complete
L=$M/locked
check_errno "mkdir bucket locked" OK mkdir "$L"
out=$("$WORMCTL" bucket lock "$L" 2>&1); rc=$?
check_eq "wormctl bucket lock without a default: exit 1" 1 "$rc"
check_errno "setfattr in-progress without a default: EINVAL" EINVAL setxattr "$L" user.worm.lock-config in-progress
check_eq "still unlocked" unlocked "$(lcfg "$L")"
check_errno "set default COMPLIANCE 30d" OK setxattr "$L" user.worm.default-retention "COMPLIANCE 30d"
t=$(date +%s)
out=$("$WORMCTL" bucket lock "$L" 2>&1); rc=$?
check_eq "wormctl bucket lock: exit 0" 0 "$rc"
id=$(printf '%s\n' "$out" | sed -n 's/^lock-id: *//p')
check_match "prints a lock id (16 hex)" '^[0-9a-f]{16}$' "$id"
cfg=$(lcfg "$L")
check_match "lock-config reads in-progress LOCKID EXPIRES" "^in-progress $id [0-9T:-]+Z$" "$cfg"
if near $((t + 86400)) "$(epoch "${cfg##* }")"; then ok "lock expires 24 h after the start"; else fail "lock expires 24 h after the start" "got $cfg at $(iso "$t")"; fi
out=$("$WORMCTL" bucket lock "$L" 2>&1); rc=$?
check_eq "second start while in progress: exit 1" 1 "$rc"
check_eq "second start keeps the same lock id" "$id" "$(lcfg "$L" | cut -d' ' -f2)"
json=$("$WORMCTL" bucket list "$M" --json 2>&1)
check_eq "bucket list --json shows in-progress and the id" "in-progress $id" \
	"$(printf '%s' "$json" | python3 -c 'import json,sys; b=[x for x in json.load(sys.stdin) if x["name"]=="locked"][0]; print(b["lock"], b.get("lock_id"))' 2>&1)"
wrong=${id:0:15}$([ "${id: -1}" = 0 ] && echo 1 || echo 0)
out=$("$WORMCTL" bucket lock "$L" --complete "$wrong" 2>&1); rc=$?
check_eq "complete with a wrong id: exit 1" 1 "$rc"
check_match "wrong id error is clear" 'wrong lock id|lock id' "$out"
check_match "still in progress after the wrong id" "^in-progress $id " "$(lcfg "$L")"
out=$("$WORMCTL" bucket lock "$L" --complete 1234 2>&1); rc=$?
check_match "complete with a malformed id: exit 1 or 2" '^[12]$' "$rc"
check_errno_as_user "non-owner, non-root completes: EPERM or EACCES" "EPERM|EACCES" setxattr "$L" user.worm.lock-config "locked $id"
check_match "still in progress" "^in-progress $id " "$(lcfg "$L")"
out=$("$WORMCTL" bucket lock "$L" --complete "$id" 2>&1); rc=$?
check_eq "complete with the right id: exit 0" 0 "$rc"
check_eq "lock-config reads locked" locked "$(lcfg "$L")"

# ---- a locked bucket: the default is permanent, extending still works
check_errno "locked: remove default EPERM" EPERM removexattr "$L" user.worm.default-retention
check_errno "locked: shorten to COMPLIANCE 29d EPERM" EPERM setxattr "$L" user.worm.default-retention "COMPLIANCE 29d"
check_errno "locked: COMPLIANCE -> GOVERNANCE (longer) EPERM" EPERM setxattr "$L" user.worm.default-retention "GOVERNANCE 60d"
check_eq "default unchanged" "COMPLIANCE 30d" "$(def "$L")"
check_errno "locked: extend to COMPLIANCE 1y" OK setxattr "$L" user.worm.default-retention "COMPLIANCE 1y"
check_eq "extended default reads back" "COMPLIANCE 1y" "$(def "$L")"
check_errno "locked: extend to COMPLIANCE 366d" OK setxattr "$L" user.worm.default-retention "COMPLIANCE 366d"
check_errno "locked: equal value accepted" OK setxattr "$L" user.worm.default-retention "COMPLIANCE 366d"
check_errno "locked: shorten to 1y (365d) EPERM" EPERM setxattr "$L" user.worm.default-retention "COMPLIANCE 1y"
out=$("$WORMCTL" bucket lock "$L" --abort 2>&1); rc=$?
check_eq "abort on a locked bucket: exit 1" 1 "$rc"
check_errno "setfattr unlocked on a locked bucket: EPERM" EPERM setxattr "$L" user.worm.lock-config unlocked
check_errno "restart of a lock on a locked bucket: EPERM" EPERM setxattr "$L" user.worm.lock-config in-progress
check_errno "remove lock-config: EPERM" EPERM removexattr "$L" user.worm.lock-config
check_eq "still locked" locked "$(lcfg "$L")"
check_errno "new object in the locked bucket" OK write "$L/obj" data
check_match "it gets the (extended) COMPLIANCE default" '^COMPLIANCE ' "$(ret "$L/obj")"
check_errno "bucket with objects: rmdir ENOTEMPTY" ENOTEMPTY rmdir "$L"

# ---- abort of an in-progress lock (wormctl and setfattr)
AB=$M/aborted
check_errno "mkdir bucket aborted" OK mkdir "$AB"
chown 1000:1000 "$AB"
check_errno "default GOVERNANCE 5d" OK setxattr "$AB" user.worm.default-retention "GOVERNANCE 5d"
out=$("$WORMCTL" bucket lock "$AB" --abort 2>&1); rc=$?
check_eq "abort without a lock in progress: exit 1" 1 "$rc"
out=$("$WORMCTL" bucket lock "$AB" 2>&1); rc=$?
id=$(printf '%s\n' "$out" | sed -n 's/^lock-id: *//p')
check_match "started (id $id)" '^[0-9a-f]{16}$' "$id"
check_errno "during the in-progress lock the default cannot change: EPERM" EPERM setxattr "$AB" user.worm.default-retention "GOVERNANCE 6d"
check_eq "default as initiated" "GOVERNANCE 5d" "$(def "$AB")"
out=$("$WORMCTL" bucket lock "$AB" --abort 2>&1); rc=$?
check_eq "wormctl bucket lock --abort: exit 0" 0 "$rc"
check_eq "lock-config unlocked after abort" unlocked "$(lcfg "$AB")"
out=$("$WORMCTL" bucket lock "$AB" --complete "$id" 2>&1); rc=$?
check_eq "completing the aborted lock id: exit 1" 1 "$rc"
check_eq "still unlocked" unlocked "$(lcfg "$AB")"
check_errno "default removable after abort" OK removexattr "$AB" user.worm.default-retention
check_errno "default set again" OK setxattr "$AB" user.worm.default-retention "GOVERNANCE 5d"
# Same framing as every lock attribute: surrounding blanks are ignored.
check_errno_as_user "bucket owner starts a lock with setfattr (' in-progress' + newline)" OK \
	setxattr "$AB" user.worm.lock-config " in-progress
"
cfg=$(lcfg "$AB")
check_match "in progress via setfattr" '^in-progress [0-9a-f]{16} ' "$cfg"
id=$(echo "$cfg" | cut -d' ' -f2)
check_errno_as_user "owner completes with setfattr (upper-case id accepted)" OK setxattr "$AB" user.worm.lock-config "locked ${id^^}"
check_eq "locked via setfattr" locked "$(lcfg "$AB")"
check_errno_as_user "owner cannot remove the default now" EPERM removexattr "$AB" user.worm.default-retention
check_errno "root cannot either" EPERM removexattr "$AB" user.worm.default-retention
check_errno "bad lock-config value: EINVAL" EINVAL setxattr "$M/defaults" user.worm.lock-config "frozen"

# ---- R10: completion locks exactly the default that was initiated. While
# the lock is in progress the default can neither be removed nor changed
# (EPERM, for the owner and root alike); abort first to change it.
W=$M/weaken
check_errno "mkdir bucket weaken" OK mkdir "$W"
chown 1000:1000 "$W"
check_errno "default COMPLIANCE 100y" OK setxattr "$W" user.worm.default-retention "COMPLIANCE 100y"
check_errno_as_user "owner starts the lock" OK setxattr "$W" user.worm.lock-config in-progress
id=$(lcfg "$W" | cut -d' ' -f2)
check_match "in progress (id $id)" '^[0-9a-f]{16}$' "$id"
check_errno "in progress: root removes the default: EPERM" EPERM removexattr "$W" user.worm.default-retention
check_errno_as_user "in progress: owner removes the default: EPERM" EPERM removexattr "$W" user.worm.default-retention
check_errno_as_user "in progress: owner weakens to GOVERNANCE 1d: EPERM" EPERM setxattr "$W" user.worm.default-retention "GOVERNANCE 1d"
check_errno "in progress: root weakens to GOVERNANCE 1d: EPERM" EPERM setxattr "$W" user.worm.default-retention "GOVERNANCE 1d"
check_errno "in progress: shorten to COMPLIANCE 1d: EPERM" EPERM setxattr "$W" user.worm.default-retention "COMPLIANCE 1d"
check_eq "default unchanged by the refusals" "COMPLIANCE 100y" "$(def "$W")"
check_errno "in progress: the identical value is a no-op: OK" OK setxattr "$W" user.worm.default-retention "COMPLIANCE 100y"
check_eq "default unchanged while in progress" "COMPLIANCE 100y" "$(def "$W")"
check_match "lock still in progress with the same id" "^in-progress $id " "$(lcfg "$W")"
check_errno_as_user "owner completes" OK setxattr "$W" user.worm.lock-config "locked $id"
check_eq "locked" locked "$(lcfg "$W")"
check_eq "the locked default is the initiated one" "COMPLIANCE 100y" "$(def "$W")"
check_errno "locked: weaken to GOVERNANCE 1d: EPERM" EPERM setxattr "$W" user.worm.default-retention "GOVERNANCE 1d"
check_errno "locked: remove: EPERM" EPERM removexattr "$W" user.worm.default-retention
check_errno "an object in it" OK write "$W/obj" x
check_match "gets COMPLIANCE for 100 years" "^COMPLIANCE $(($(date -u +%Y) + 99))|^COMPLIANCE $(($(date -u +%Y) + 100))" "$(ret "$W/obj")"
# Abort, change, start again: the way to lock a different default.
W2=$M/restart
check_errno "mkdir bucket restart" OK mkdir "$W2"
check_errno "default GOVERNANCE 1d" OK setxattr "$W2" user.worm.default-retention "GOVERNANCE 1d"
check_errno "start" OK setxattr "$W2" user.worm.lock-config in-progress
check_errno "in progress: strengthening to COMPLIANCE 30d is also refused: EPERM" EPERM setxattr "$W2" user.worm.default-retention "COMPLIANCE 30d"
check_errno "abort" OK setxattr "$W2" user.worm.lock-config unlocked
check_errno "after abort: COMPLIANCE 30d" OK setxattr "$W2" user.worm.default-retention "COMPLIANCE 30d"
check_errno "start again" OK setxattr "$W2" user.worm.lock-config in-progress
id=$(lcfg "$W2" | cut -d' ' -f2)
check_errno "complete" OK setxattr "$W2" user.worm.lock-config "locked $id"
check_eq "locked with the new default" "locked COMPLIANCE 30d" "$(lcfg "$W2") $(def "$W2")"

# ---- persistence across remount
check "unmount" umount_fs "$M"
mount_fg "$S" "$M" -o allow_other || { fail "remount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
check_eq "after remount: bucket still locked" locked "$(lcfg "$L")"
check_eq "after remount: default kept" "COMPLIANCE 366d" "$(def "$L")"
check_errno "after remount: remove default EPERM" EPERM removexattr "$L" user.worm.default-retention
check_match "after remount: the in-progress-free bucket is unlocked" '^unlocked$' "$(lcfg "$D")"

umount_check "$M" "bucket lock mount"
done_testing
