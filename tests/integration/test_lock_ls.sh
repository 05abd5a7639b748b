#!/usr/bin/env bash
# Acceptance 6: 10,000 objects, a known random subset of 1,234 locked
# (GOVERNANCE, COMPLIANCE, legal hold, and some with both), plus decoys
# that must NOT be listed (expired, never locked, hold OFF). Then
# `wormctl ls --locked --json` through the mount and offline on the store
# (read-only while mounted) must be valid JSON listing exactly the locked
# objects, with the right mode, date and hold for each.
. "$(dirname "$0")/lib.sh"
require_binaries

command -v setfattr >/dev/null && command -v python3 >/dev/null ||
	{ fail "setfattr and python3 available"; done_testing; }

N=${LS_OBJECTS:-10000}
K=${LS_LOCKED:-1234}
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
B=$M/many
check_errno "mkdir bucket" OK mkdir "$B"
check_errno "mkdir a subdirectory" OK mkdir "$B/sub"
check_errno "second bucket" OK mkdir "$M/other"
START=$(date +%s)
out=$(h mkfiles "$B" $((N - 1000)))
check_eq "created $((N - 1000)) objects in the bucket" OK "$(printf '%s\n' "$out" | tail -n1)"
out=$(h mkfiles "$B/sub" 1000)
check_eq "created 1000 objects in a subdirectory" OK "$(printf '%s\n' "$out" | tail -n1)"
diag "creation: $(($(date +%s) - START)) s"

# The subset, chosen by a seeded shuffle (the seed is printed for repro).
SEED=${LS_SEED:-$RANDOM}
diag "seed $SEED"
W=$T_BASE/work
mkdir -p "$W"
(cd "$B" && find . -type f -printf '%P\n') | sort >"$W/all"
check_eq "$N objects listed by find" "$N" "$(wc -l <"$W/all")"
shuf --random-source=<(yes "$SEED") "$W/all" >"$W/shuffled"
head -n "$K" "$W/shuffled" >"$W/locked"
# Decoys after the locked ones: expired, hold OFF only.
sed -n "$((K + 1)),$((K + 20))p" "$W/shuffled" >"$W/expired"
sed -n "$((K + 21)),$((K + 40))p" "$W/shuffled" >"$W/holdoff"
# Locked subset: 40% GOVERNANCE, 40% COMPLIANCE, 20% legal hold only, and
# every 10th GOVERNANCE one also held.
awk -v b="$B" '{ m = NR % 5; f = b "/" $0
	if (m == 0) print f > "'"$W"'/set.H"
	else if (m % 2) print f > "'"$W"'/set.G"
	else print f > "'"$W"'/set.C"
	if (m == 1 && NR % 10 == 1) print f > "'"$W"'/set.GH" }' "$W/locked"
UG=$(iso $(($(date +%s) + 40 * 86400)))
UC=$(iso $(($(date +%s) + 400 * 86400)))
TE=$(($(date +%s) + 4))

START=$(date +%s)
sed "s|^|$B/|" "$W/expired" | xargs -r -d '\n' setfattr -n user.worm.retention -v "COMPLIANCE $(iso $TE)"
check_eq "decoys with a retention expiring in 4 s" 0 $?
xargs -r -d '\n' -P2 -n 100 setfattr -n user.worm.retention -v "GOVERNANCE $UG" <"$W/set.G"
check_eq "GOVERNANCE on $(wc -l <"$W/set.G") objects (setfattr, xargs -P2)" 0 $?
xargs -r -d '\n' -P2 -n 100 setfattr -n user.worm.retention -v "COMPLIANCE $UC" <"$W/set.C"
check_eq "COMPLIANCE on $(wc -l <"$W/set.C") objects" 0 $?
cat "$W/set.H" "$W/set.GH" | xargs -r -d '\n' -P2 -n 100 setfattr -n user.worm.legal-hold -v ON
check_eq "legal hold on $(cat "$W/set.H" "$W/set.GH" | wc -l) objects" 0 $?
sed "s|^|$B/|" "$W/holdoff" | xargs -r -d '\n' setfattr -n user.worm.legal-hold -v OFF
check_eq "decoys with legal hold OFF" 0 $?
diag "locking: $(($(date +%s) - START)) s"
check_errno "object in another bucket, locked" OK write "$M/other/x" x
check_errno "lock it" OK setxattr "$M/other/x" user.worm.retention "GOVERNANCE +1d"
while [ "$(date +%s)" -le $((TE + 1)) ]; do sleep 0.3; done
check_eq "decoy expired" expired "$(h getxattr "$B/$(head -n1 "$W/expired")" user.worm.state)"

# Expected: "path mode until hold" per locked object, path relative to the
# bucket.
{
	sed "s|^$B/||; s|\$| GOVERNANCE $UG OFF|" "$W/set.G"
	sed "s|^$B/||; s|\$| COMPLIANCE $UC OFF|" "$W/set.C"
	sed "s|^$B/||; s|\$| - - ON|" "$W/set.H"
} | sort >"$W/expect.tmp"
# The GOVERNANCE ones that are also held.
sed "s|^$B/||" "$W/set.GH" | sort >"$W/gh"
awk 'NR == FNR { gh[$0] = 1; next } { if ($1 in gh) $4 = "ON"; print }' "$W/gh" "$W/expect.tmp" >"$W/expect"
check_eq "expected list has $K entries" "$K" "$(wc -l <"$W/expect")"

# normalize PREFIX < JSON: one sorted line per entry, relative to PREFIX;
# also validates the JSON and the "state" field.
normalize() {
	python3 -c '
import json, sys
prefix = sys.argv[1].rstrip("/") + "/"
data = json.load(sys.stdin)
assert isinstance(data, list), "top level is not an array"
for e in data:
    p = e["path"]
    for pre in (prefix, prefix.lstrip("/")):
        if p.startswith(pre):
            p = p[len(pre):]
            break
    else:
        p = p.lstrip("/")
    if e.get("state") != "locked":
        print("BAD-STATE", p, e.get("state"))
    print(p, e.get("mode") or "-", e.get("retain_until") or "-", e.get("legal_hold") or "-")
' "$1" | sort
}

# ---- through the mount
START=$(date +%s)
"$WORMCTL" ls --locked --json "$B" >"$W/mnt.json" 2>"$W/mnt.err"
rc=$?
check_eq "wormctl ls --locked --json MNT/bucket: exit 0" "0 " "$rc $(head -c 300 "$W/mnt.err")"
diag "ls through the mount: $(($(date +%s) - START)) s"
check "mount listing is valid JSON" python3 -m json.tool "$W/mnt.json"
normalize "$B" <"$W/mnt.json" >"$W/mnt.got" 2>"$W/mnt.nerr"
check_eq "mount listing: $K entries" "$K" "$(wc -l <"$W/mnt.got")"
d=$(diff "$W/expect" "$W/mnt.got" | head -n 20)
check_eq "mount listing: exactly the locked objects, with mode, date, hold" "" "$d"
check_eq "mount listing: the paths alone match" "" "$(diff <(cut -d' ' -f1 "$W/expect") <(cut -d' ' -f1 "$W/mnt.got") | head -n 10)"
"$WORMCTL" ls --locked --json "$M" >"$W/mntall.json" 2>&1
check_eq "ls --locked of the mount root lists both buckets' locked objects" $((K + 1)) \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/mntall.json" 2>&1)"
"$WORMCTL" ls --json "$B/sub" >"$W/sub.json" 2>&1
check_eq "ls without --locked lists every object of a subdirectory" 1000 \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/sub.json" 2>&1)"

# ---- offline, on the store, while it is mounted (read-only command)
START=$(date +%s)
"$WORMCTL" ls --locked --json "$S" >"$W/store.json" 2>"$W/store.err"
rc=$?
check_eq "wormctl ls --locked --json STORE while mounted: exit 0" "0 " "$rc $(head -c 300 "$W/store.err")"
diag "ls on the store: $(($(date +%s) - START)) s"
check "store listing is valid JSON" python3 -m json.tool "$W/store.json"
normalize "" <"$W/store.json" | grep -v '^other/' >"$W/store.rel" 2>&1
sed -n 's|^many/||p' "$W/store.rel" >"$W/store.got"
check_eq "store listing: $K entries in the bucket" "$K" "$(wc -l <"$W/store.got")"
check_eq "store listing: paths start with the bucket name" "$K" "$(grep -c '^many/' "$W/store.rel")"
d=$(diff "$W/expect" "$W/store.got" | head -n 20)
check_eq "store listing: exactly the locked objects, with mode, date, hold" "" "$d"
check_eq "store and mount listings agree" "" "$(diff "$W/mnt.got" "$W/store.got" | head -n 10)"
check_eq "store listing includes the other bucket's object" 1 "$(normalize "" <"$W/store.json" | grep -c '^other/x ')"
check_errno "mount still fine after the offline ls" OK access "$B/sub/f0000000" r

umount_check "$M" "ls mount"
# Offline with nothing mounted gives the same answer.
"$WORMCTL" ls --locked --json "$S" >"$W/store2.json" 2>&1
check_eq "offline ls after unmount: same listing" "" "$(diff <(normalize "" <"$W/store.json") <(normalize "" <"$W/store2.json") | head -n 10)"
done_testing
