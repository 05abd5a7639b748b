#!/usr/bin/env bash
# Acceptance 2, 4, 5: the retention and legal-hold rules of design section
# 5 through the mount: extend/shorten/remove/mode change per mode and
# caller, range checks, legal hold independence, expired objects, EBUSY with
# open writers, bad values (EINVAL, nothing changes, daemon stays up), the
# README shell session, cp -a of a locked file, refusal logs and counters,
# wormctl rm --bypass-governance.
. "$(dirname "$0")/lib.sh"
require_binaries

command -v setfattr >/dev/null && command -v python3 >/dev/null ||
	{ fail "setfattr and python3 available"; done_testing; }

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" -o allow_other || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"
LOG=${MNT_LOG[$M]}
DPID=${MNT_PID[$M]}

B=$M/rules
check_errno "mkdir bucket" OK mkdir "$B"
chmod 0777 "$B"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s; }
ret() { h getxattr "$1" user.worm.retention; }
# new FILE [owner]: a fresh object with known content, mode 0644.
new() {
	printf 'data of %s\n' "$(basename "$1")" >"$1" && chmod 0644 "$1" && chown "${2:-1000}:${2:-1000}" "$1"
}
# Everything a refusal must leave alone: size, mode, owner, mtime, content
# hash, lock attributes, state.
snap() {
	echo "$(stat -c '%s %a %u %g %Y' "$1" 2>&1) $(sha256sum <"$1" 2>&1 | cut -c1-16)" \
		"ret=$(ret "$1") hold=$(h getxattr "$1" user.worm.legal-hold) state=$(worm_state "$1")"
}
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
U() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
refusals() { awk '/^wormfs_refusals_total/ { s += $2 } END { print s + 0 }' "$M/.wormfs/stats"; }
T0=$(date +%s)

# ---- read-back format, ENODATA, state attribute
F=$B/fmt
new "$F"
check_errno "retention of a fresh object: ENODATA" ENODATA getxattr "$F" user.worm.retention
check_errno "legal hold never set: ENODATA" ENODATA getxattr "$F" user.worm.legal-hold
check_eq "state of a fresh object" mutable "$(worm_state "$F")"
check_errno "owner sets GOVERNANCE +2d" OK setxattr "$F" user.worm.retention "GOVERNANCE +2d"
v=$(ret "$F")
check_match "relative value reads back as MODE RFC 3339" '^GOVERNANCE [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$v"
d=$(($(epoch "${v#* }") - T0 - 2 * 86400))
check_match "+2d is now + 48 h (within 60 s)" '^(-?[0-9]|-?[1-5][0-9]|60)$' "$d"
check_eq "state locked" locked "$(worm_state "$F")"
check_eq "user.worm.state is not listed by listxattr" "user.worm.retention" "$(h listxattr "$F")"
check_errno "writing user.worm.state: EPERM" EPERM setxattr "$F" user.worm.state mutable
check_errno "removing user.worm.state: EPERM" EPERM removexattr "$F" user.worm.state
F=$B/fmt2
new "$F"
check_errno "+5h accepted" OK setxattr "$F" user.worm.retention "COMPLIANCE +5h"
d=$(($(epoch "$(ret "$F" | cut -d' ' -f2)") - T0 - 5 * 3600))
check_match "+5h is now + 5 h (within 60 s)" '^(-?[0-9]|-?[1-5][0-9]|60)$' "$d"
F=$B/fmt3
new "$F"
check_errno "+1y accepted" OK setxattr "$F" user.worm.retention "GOVERNANCE +1y"
d=$(($(epoch "$(ret "$F" | cut -d' ' -f2)") - T0 - 365 * 86400))
check_match "+1y is now + 365 days (within 60 s)" '^(-?[0-9]|-?[1-5][0-9]|60)$' "$d"
F=$B/fmt4
new "$F"
check_errno "absolute RFC 3339 date accepted" OK setxattr "$F" user.worm.retention "COMPLIANCE 2031-01-01T00:00:00Z"
check_eq "absolute date reads back unchanged" "COMPLIANCE 2031-01-01T00:00:00Z" "$(ret "$F")"

# ---- extend in both modes; equal date counts as extend
D30=$(iso $((T0 + 30 * 86400))) D10=$(iso $((T0 + 10 * 86400))) D60=$(iso $((T0 + 60 * 86400)))
for mode in GOVERNANCE COMPLIANCE; do
	F=$B/ext-$mode
	new "$F"
	check_errno "$mode: owner sets $D30" OK setxattr "$F" user.worm.retention "$mode $D30"
	check_errno_as_user "$mode: owner re-sets the equal date (counts as extend)" OK setxattr "$F" user.worm.retention "$mode $D30"
	check_errno_as_user "$mode: owner extends to $D60" OK setxattr "$F" user.worm.retention "$mode $D60"
	check_eq "$mode: extended date reads back" "$mode $D60" "$(ret "$F")"
	check_errno_as_user "$mode: owner extends with a relative +90d" OK setxattr "$F" user.worm.retention "$mode +90d"
	check_errno_as_user "$mode: owner shortens: EPERM" EPERM setxattr "$F" user.worm.retention "$mode $D10"
	check_errno_as_user "$mode: owner removes: EPERM" EPERM removexattr "$F" user.worm.retention
done

# ---- GOVERNANCE: shorten/remove only by bypass principals (root by default)
F=$B/gov
new "$F"
check_errno "GOVERNANCE $D30" OK setxattr "$F" user.worm.retention "GOVERNANCE $D30"
before=$(snap "$F")
check_errno_as_user "GOVERNANCE: owner shortens: EPERM" EPERM setxattr "$F" user.worm.retention "GOVERNANCE $D10"
check_errno_as_user "GOVERNANCE: owner removes: EPERM" EPERM removexattr "$F" user.worm.retention
check_eq "GOVERNANCE: unchanged after owner refusals" "$before" "$(snap "$F")"
check_errno "GOVERNANCE: root (bypass) shortens" OK setxattr "$F" user.worm.retention "GOVERNANCE $D10"
check_eq "GOVERNANCE: shortened date reads back" "GOVERNANCE $D10" "$(ret "$F")"
check_errno "GOVERNANCE -> COMPLIANCE upgrade with the same date" OK setxattr "$F" user.worm.retention "COMPLIANCE $D10"
check_eq "mode upgraded" "COMPLIANCE $D10" "$(ret "$F")"
F=$B/gov2
new "$F"
check_errno "GOVERNANCE $D30 (2)" OK setxattr "$F" user.worm.retention "GOVERNANCE $D30"
check_errno_as_user "GOVERNANCE -> COMPLIANCE with a shorter date by owner: EPERM" EPERM setxattr "$F" user.worm.retention "COMPLIANCE $D10"
check_errno "GOVERNANCE: root removes (bypass)" OK removexattr "$F" user.worm.retention
check_errno "GOVERNANCE removed: ENODATA" ENODATA getxattr "$F" user.worm.retention
check_eq "retention removed from a sealed object: expired" expired "$(worm_state "$F")"
check_errno "content of the formerly locked object stays immutable" EPERM write "$F" new
check_errno "formerly locked object may now be deleted" OK unlink "$F"

# ---- COMPLIANCE: never shortened, removed or downgraded, also by root
F=$B/comp
new "$F"
check_errno "COMPLIANCE $D30" OK setxattr "$F" user.worm.retention "COMPLIANCE $D30"
before=$(snap "$F")
check_errno "COMPLIANCE: root shortens: EPERM" EPERM setxattr "$F" user.worm.retention "COMPLIANCE $D10"
check_errno "COMPLIANCE: root shortens by 1 s: EPERM" EPERM setxattr "$F" user.worm.retention "COMPLIANCE $(iso $((T0 + 30 * 86400 - 1)))"
check_errno "COMPLIANCE: root removes: EPERM" EPERM removexattr "$F" user.worm.retention
check_errno "COMPLIANCE: root downgrades to GOVERNANCE (same date): EPERM" EPERM setxattr "$F" user.worm.retention "GOVERNANCE $D30"
check_errno "COMPLIANCE: root downgrades with a later date: EPERM" EPERM setxattr "$F" user.worm.retention "GOVERNANCE $D60"
check_errno "COMPLIANCE: root rm: EPERM" EPERM unlink "$F"
check_eq "COMPLIANCE: unchanged after root's refusals" "$before" "$(snap "$F")"

# ---- range checks: EINVAL
F=$B/range
new "$F"
check_errno "past date: EINVAL" EINVAL setxattr "$F" user.worm.retention "GOVERNANCE 2001-01-01T00:00:00Z"
check_errno "date = now (1 s ago): EINVAL" EINVAL setxattr "$F" user.worm.retention "COMPLIANCE $(iso $(($(date +%s) - 1)))"
check_errno "+0d: EINVAL" EINVAL setxattr "$F" user.worm.retention "COMPLIANCE +0d"
check_errno "more than 100 years ahead (+101y): EINVAL" EINVAL setxattr "$F" user.worm.retention "COMPLIANCE +101y"
check_errno "more than 100 years ahead (+36501d): EINVAL" EINVAL setxattr "$F" user.worm.retention "GOVERNANCE +36501d"
check_errno "absolute date past 2106: EINVAL" EINVAL setxattr "$F" user.worm.retention "GOVERNANCE 2200-01-01T00:00:00Z"
check_errno "after range refusals the object has no retention" ENODATA getxattr "$F" user.worm.retention
check_eq "and is still mutable" mutable "$(worm_state "$F")"
check_errno "+99y is within the limit" OK setxattr "$F" user.worm.retention "GOVERNANCE +99y"

# ---- bad values: EINVAL, nothing changes, daemon stays up
BADS=(
	"garbage"
	""
	"COMPLIANCE"
	"+1d"
	"FOREVER +1d"
	"COMPLIANCE +1x"
	"COMPLIANCE +-1d"
	"COMPLIANCE -1d"
	"COMPLIANCE +d"
	"COMPLIANCE +99999999999d"
	"COMPLIANCE 99999-01-01T00:00:00Z"
	"COMPLIANCE 2031-13-01T00:00:00Z"
	"COMPLIANCE 2031-02-30T00:00:00Z"
	"COMPLIANCE 2031-01-01T00:00:00Z extra"
	"COMPLIANCE +1d +1d"
	"$(printf 'COMPLIANCE +1d%0290d' 0)"
)
for state_kind in mutable COMPLIANCE; do
	F=$B/bad-$state_kind
	new "$F"
	[ $state_kind = COMPLIANCE ] && h setxattr "$F" user.worm.retention "COMPLIANCE $D30" >/dev/null
	before=$(snap "$F")
	bad_ok=0 bad_msgs=()
	for v in "${BADS[@]}"; do
		got=$(h setxattr "$F" user.worm.retention "$v")
		if [ "$got" = EINVAL ]; then
			bad_ok=$((bad_ok + 1))
		else
			bad_msgs+=("value '${v:0:40}' (${#v} bytes): $got")
		fi
	done
	if [ ${#bad_msgs[@]} -eq 0 ]; then ok "$state_kind object: ${#BADS[@]} malformed retention values: EINVAL"; else fail "$state_kind object: malformed retention values: EINVAL" "${bad_msgs[@]}"; fi
	got=$(python3 -c 'import errno, os, sys
try:
    os.setxattr(sys.argv[1], "user.worm.retention", b"COMPLIANCE\x00+1d"); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$F")
	check_eq "$state_kind object: value with a NUL byte: EINVAL" EINVAL "$got"
	got=$(python3 -c 'import errno, os, sys
try:
    os.setxattr(sys.argv[1], "user.worm.retention", b"COMPLIANCE +1d" + b" " * 286); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$F")
	check_eq "$state_kind object: overlong value (300 bytes): EINVAL" EINVAL "$got"
	check_errno "$state_kind object: legal hold MAYBE: EINVAL" EINVAL setxattr "$F" user.worm.legal-hold MAYBE
	check_errno "$state_kind object: legal hold empty: EINVAL" EINVAL setxattr "$F" user.worm.legal-hold ""
	check_eq "$state_kind object: unchanged by the bad values" "$before" "$(snap "$F")"
done
check "daemon still running after the bad values" kill -0 "$DPID"
check_errno "mount still answers after the bad values" OK access "$B/bad-mutable" r
F=$B/lower
new "$F"
check_errno "lowercase mode accepted" OK setxattr "$F" user.worm.retention "governance $D30"
check_eq "lowercase mode reads back in upper case" "GOVERNANCE $D30" "$(ret "$F")"
F=$B/bare
new "$F"
# clock.h documents a bare RFC 3339 full-date as midnight UTC.
check_errno "bare date accepted" OK setxattr "$F" user.worm.retention "COMPLIANCE 2031-01-01"
check_eq "bare date reads back as midnight UTC" "COMPLIANCE 2031-01-01T00:00:00Z" "$(ret "$F")"
F=$B/newline
new "$F"
# design.md is silent on a trailing newline; policy.h documents that
# surrounding whitespace is ignored (echo ... | xargs style values).
v=$(printf 'COMPLIANCE %s\n_' "$D30")
check_errno "trailing newline tolerated" OK setxattr "$F" user.worm.retention "${v%_}"
check_eq "trailing newline value reads back" "COMPLIANCE $D30" "$(ret "$F")"
check_errno "legal hold 'on' (lowercase) accepted by root" OK setxattr "$F" user.worm.legal-hold on
check_eq "legal hold reads back ON" ON "$(h getxattr "$F" user.worm.legal-hold)"

# ---- one framing for every lock attribute (policy.h): surrounding blanks
# and echo's trailing newline are ignored by retention and legal hold alike.
F=$B/padded
new "$F"
check_errno "retention with leading blanks accepted" OK setxattr "$F" user.worm.retention "  GOVERNANCE $D30"
check_errno "legal hold ' ON' (leading space, as retention allows) accepted" OK setxattr "$F" user.worm.legal-hold " ON"
check_eq "legal hold ' ON' reads back ON" ON "$(h getxattr "$F" user.worm.legal-hold)"
v=$(printf '\tOFF\r\n_')
check_errno "legal hold '\\tOFF\\r\\n' accepted" OK setxattr "$F" user.worm.legal-hold "${v%_}"
check_eq "and reads back OFF" OFF "$(h getxattr "$F" user.worm.legal-hold)"
out=$(echo ON | xargs -0 -I{} setfattr -n user.worm.legal-hold -v {} "$F" 2>&1; h getxattr "$F" user.worm.legal-hold)
check_eq "echo ON | xargs -0 setfattr (trailing newline) sets the hold" ON "$out"
check_errno "legal hold 'O N': EINVAL" EINVAL setxattr "$F" user.worm.legal-hold "O N"
check_errno "legal hold of blanks only: EINVAL" EINVAL setxattr "$F" user.worm.legal-hold "  "
check_eq "still held after the bad values" ON "$(h getxattr "$F" user.worm.legal-hold)"
check_errno "root releases the padded hold" OK setxattr "$F" user.worm.legal-hold OFF

# ---- who may set or extend a retention (design 5): the object's owner,
# root or a bypass principal, like chmod; write permission is not enough.
X() { setpriv --reuid=1001 --regid=1001 --clear-groups -- "$@"; }
F=$B/notmine
new "$F"
chmod 0666 "$F"
r0=$(refusals)
check_eq "non-owner with write permission can write the object" OK "$(X "$HARNESS" pwrite "$F" 0 D)"
check_eq "non-owner with write permission sets COMPLIANCE +99y: EPERM" EPERM \
	"$(X "$HARNESS" setxattr "$F" user.worm.retention "COMPLIANCE +99y")"
check_eq "non-owner with write permission sets GOVERNANCE +1d: EPERM" EPERM \
	"$(X "$HARNESS" setxattr "$F" user.worm.retention "GOVERNANCE +1d")"
check_errno "no retention after the refusals" ENODATA getxattr "$F" user.worm.retention
check_eq "the object is still mutable" mutable "$(worm_state "$F")"
check_eq "the refusals are counted" $((r0 + 2)) "$(refusals)"
sleep 0.2
check_match "refusal logged with uid 1001 and rule not-object-owner" \
	'op=setxattr .*uid=1001 .*rule=not-object-owner' "$(grep 'refused' "$LOG" | grep 'notmine' | tail -n1)"
check_errno_as_user "the owner sets GOVERNANCE $D30" OK setxattr "$F" user.worm.retention "GOVERNANCE $D30"
check_eq "non-owner with write permission extends: EPERM" EPERM \
	"$(X "$HARNESS" setxattr "$F" user.worm.retention "GOVERNANCE $D60")"
check_eq "non-owner upgrades to COMPLIANCE: EPERM" EPERM \
	"$(X "$HARNESS" setxattr "$F" user.worm.retention "COMPLIANCE $D60")"
check_eq "retention unchanged by the non-owner" "GOVERNANCE $D30" "$(ret "$F")"
check_errno_as_user "the owner extends" OK setxattr "$F" user.worm.retention "GOVERNANCE $D60"
check_errno "root (not the owner) extends" OK setxattr "$F" user.worm.retention "COMPLIANCE $D60"
check_eq "extended by owner and root" "COMPLIANCE $D60" "$(ret "$F")"

# ---- legal hold: independent of retention, principals only, no bypass
F=$B/hold
new "$F"
check_errno_as_user "owner sets legal hold: EPERM (principals only)" EPERM setxattr "$F" user.worm.legal-hold ON
check_errno "root sets legal hold ON" OK setxattr "$F" user.worm.legal-hold ON
check_eq "hold alone locks" locked "$(worm_state "$F")"
check_errno "GOVERNANCE retention on a held object" OK setxattr "$F" user.worm.retention "GOVERNANCE $D30"
check_errno "root (bypass) removes the GOVERNANCE retention" OK removexattr "$F" user.worm.retention
check_eq "still locked by the hold" locked "$(worm_state "$F")"
check_errno "root rm with hold ON: EPERM" EPERM unlink "$F"
out=$("$WORMCTL" rm --bypass-governance "$F" 2>&1); rc=$?
check_eq "wormctl rm --bypass-governance with hold ON fails (exit 1)" 1 "$rc"
check_errno "held object still there" OK access "$F" f
check_errno_as_user "owner turns the hold OFF: EPERM" EPERM setxattr "$F" user.worm.legal-hold OFF
check_errno "root turns the hold OFF" OK setxattr "$F" user.worm.legal-hold OFF
check_eq "hold OFF reads back" OFF "$(h getxattr "$F" user.worm.legal-hold)"
check_eq "after hold OFF without retention: expired" expired "$(worm_state "$F")"
check_errno "expired: write EPERM" EPERM write "$F" x
check_errno "expired: rm allowed" OK unlink "$F"
F=$B/hold2
new "$F"
check_errno "COMPLIANCE on hold2" OK setxattr "$F" user.worm.retention "COMPLIANCE $D30"
check_errno "hold ON over COMPLIANCE" OK setxattr "$F" user.worm.legal-hold ON
check_errno "hold OFF again" OK setxattr "$F" user.worm.legal-hold OFF
check_eq "retention unaffected by the hold" "COMPLIANCE $D30" "$(ret "$F")"
check_eq "still locked by the retention" locked "$(worm_state "$F")"

# ---- expired object: deletable, content still immutable
F=$B/exp
new "$F"
TE=$(($(date +%s) + 3))
check_errno "COMPLIANCE retention 3 s ahead" OK setxattr "$F" user.worm.retention "COMPLIANCE $(iso $TE)"
check_errno "before expiry: rm EPERM" EPERM unlink "$F"
while [ "$(date +%s)" -le $((TE + 1)) ]; do sleep 0.3; done
check_eq "after expiry: state expired" expired "$(worm_state "$F")"
before=$(snap "$F")
check_errno "expired: write EPERM" EPERM pwrite "$F" 0 X
check_errno "expired: O_TRUNC EPERM" EPERM open "$F" WRONLY,TRUNC
check_errno "expired: truncate EPERM" EPERM truncate "$F" 0
check_errno "expired: chmod EPERM" EPERM chmod "$F" 0600
check_errno "expired: rename EPERM" EPERM rename "$F" "$B/exp.moved"
check_eq "expired: unchanged" "$before" "$(snap "$F")"
check_eq "expired: still reads its content" "data of exp" "$(cat "$F")"
check_errno "expired: rm allowed" OK unlink "$F"
check_errno "expired: gone" ENOENT access "$F" f

# ---- EBUSY while a writer has the object open
F=$B/busy
new "$F"
got=$(python3 - "$F" <<'PY'
import os, subprocess, sys
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"more")
r = subprocess.run(["setfattr", "-n", "user.worm.retention", "-v", "GOVERNANCE +1d", p],
                   capture_output=True, text=True)
h = subprocess.run(["setfattr", "-n", "user.worm.legal-hold", "-v", "ON", p],
                   capture_output=True, text=True)
print(r.returncode, r.stderr.strip(), "|", h.returncode, h.stderr.strip())
os.close(fd)
PY
)
check_match "retention while open for write: EBUSY" '^1 .*Device or resource busy \|' "$got"
check_match "legal hold ON while open for write: EBUSY" '\| 1 .*Device or resource busy$' "$got"
check_errno "no retention was set" ENODATA getxattr "$F" user.worm.retention
check_errno "after close: retention OK" OK setxattr "$F" user.worm.retention "GOVERNANCE +1d"
check_eq "the write before the lock is kept" "data of busy" "$(head -n1 "$F")"
check_eq "content written while open is there" "more" "$(tail -c 4 "$F")"
F=$B/busyro
new "$F"
got=$(python3 - "$F" <<'PY'
import os, subprocess, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY)
r = subprocess.run(["setfattr", "-n", "user.worm.retention", "-v", "GOVERNANCE +1d", p],
                   capture_output=True, text=True)
print(r.returncode, r.stderr.strip())
os.close(fd)
PY
)
check_eq "a reader does not make it busy" "0 " "$got"

# ---- the README shell session
W=$B/readme
mkdir "$W"
out=$(cd "$W" && echo hello >f && setfattr -n user.worm.retention -v "COMPLIANCE +1d" f && rm f 2>&1)
check_eq "rm of a COMPLIANCE object prints the chattr +i message" "rm: cannot remove 'f': Operation not permitted" "$out"
out=$(cd "$W" && getfattr -d f 2>&1)
check_match "getfattr -d shows user.worm.retention" 'user\.worm\.retention="COMPLIANCE [0-9-]+T[0-9:]+Z"' "$out"
check_eq "getfattr -d does not show user.worm.state" 0 "$(printf '%s\n' "$out" | grep -c 'user.worm.state')"
check_eq "getfattr -n user.worm.state" locked "$(cd "$W" && getfattr --only-values -n user.worm.state f 2>&1)"
out=$(cd "$W" && { echo more >>f; } 2>&1)
check_match "append to it: Operation not permitted" 'Operation not permitted' "$out"
out=$(cd "$W" && mv f g 2>&1)
check_match "mv it: Operation not permitted" 'Operation not permitted' "$out"
out=$(cd "$W" && touch f 2>&1)
check_match "touch it: Operation not permitted" 'Operation not permitted' "$out"

# ---- cp -a of a locked file
L=$T_BASE/local
mkdir -p "$L"
out=$(cp -a "$W/f" "$L/f" 2>&1); rc=$?
check_eq "cp -a of a locked file out of the mount: exit 0" "0 " "$rc $out"
check_eq "copy has the content" hello "$(cat "$L/f" 2>&1)"
check_eq "copy did not get user.worm.state" "" "$(getfattr --absolute-names -d -m 'user.worm.state' "$L/f" 2>/dev/null)"
mkdir "$B/copies"
out=$(cp -a "$W/f" "$B/copies/f" 2>&1); rc=$?
check_eq "cp -a of a locked file to another dir of the bucket: exit 0" "0 " "$rc $out"
check_eq "in-mount copy has the content" hello "$(cat "$B/copies/f" 2>&1)"
out=$(cp "$W/f" "$B/copies/plain" 2>&1); rc=$?
check_eq "plain cp of a locked file: exit 0" "0 " "$rc $out"
check_eq "plain copy is mutable" mutable "$(worm_state "$B/copies/plain")"

# ---- refusals: logged with op, uid, rule; counted in .wormfs/stats
F=$B/logged
new "$F"
h setxattr "$F" user.worm.retention "COMPLIANCE $D30" >/dev/null
r0=$(refusals)
n0=$(grep -c 'refused' "$LOG")
check_errno_as_user "owner unlink of a COMPLIANCE object: EPERM" EPERM unlink "$F"
check_errno_as_user "owner shortens COMPLIANCE: EPERM" EPERM setxattr "$F" user.worm.retention "COMPLIANCE $D10"
sleep 0.2
r1=$(refusals)
check_eq "refusal counters increased by 2" $((r0 + 2)) "$r1"
check_match "stats has a per-op unlink refusal counter" 'wormfs_refusals_total\{op="unlink"\} [1-9]' "$(cat "$M/.wormfs/stats")"
newlog=$(tail -n +1 "$LOG" | grep 'refused' | tail -n $(($(grep -c 'refused' "$LOG") - n0)))
line=$(printf '%s\n' "$newlog" | grep -m1 'op=unlink')
check_match "log line for the unlink: op, uid 1000, rule" 'op=unlink .*uid=1000 .*rule=[a-z-]+' "$line"
check_match "log line names the path (file name 'logged')" 'logged' "$line"
line=$(printf '%s\n' "$newlog" | grep -m1 'op=setxattr')
check_match "log line for the retention shortening: op, uid 1000, rule" 'op=setxattr .*uid=1000 .*rule=[a-z-]+' "$line"
# design 10: the log names the path; the file name is the least of it.
check_match "log line for the retention shortening names the file ('logged')" 'logged' "$line"

# ---- wormctl rm --bypass-governance
F=$B/wg
new "$F"
h setxattr "$F" user.worm.retention "GOVERNANCE $D30" >/dev/null
check_errno "plain rm of GOVERNANCE object by root: EPERM" EPERM unlink "$F"
out=$("$WORMCTL" rm --bypass-governance "$F" 2>&1); rc=$?
check_eq "wormctl rm --bypass-governance deletes a GOVERNANCE object (exit 0)" 0 "$rc"
check_errno "GOVERNANCE object gone" ENOENT access "$F" f
F=$B/wc
new "$F"
h setxattr "$F" user.worm.retention "COMPLIANCE $D30" >/dev/null
out=$("$WORMCTL" rm --bypass-governance "$F" 2>&1); rc=$?
check_eq "wormctl rm --bypass-governance of a COMPLIANCE object: exit 1" 1 "$rc"
check_errno "COMPLIANCE object still there" OK access "$F" f
check_eq "COMPLIANCE retention untouched" "COMPLIANCE $D30" "$(ret "$F")"
F=$B/wu
new "$F"
h setxattr "$F" user.worm.retention "GOVERNANCE $D30" >/dev/null
out=$(U "$WORMCTL" rm --bypass-governance "$F" 2>&1); rc=$?
check_eq "wormctl rm --bypass-governance by a non-principal: exit 1" 1 "$rc"
check_eq "its retention is untouched" "GOVERNANCE $D30" "$(ret "$F")"

check "daemon still running" kill -0 "$DPID"
umount_check "$M" "rules mount"
done_testing
