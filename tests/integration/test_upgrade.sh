#!/usr/bin/env bash
# test_upgrade (issue 12 item 3): wormctl upgrade rewrites objects whose
# content file is in format 1 or 2 (written by older builds: no write tags,
# no commit record) in format 3, in place: same path, content, lock, legal
# hold, owner, mode and times; one audit record per run (and a start record
# committed with the first object swapped). Refused while
# mounted; --dry-run changes no byte; a damaged old file is not upgraded
# (named, exit 1, its file kept); a full disk leaves the old object intact
# (ENOSPC named); a kill after the new file is written (upgrade-new) or after
# the node is switched (upgrade-old) leaves the object reading as before,
# and the next writable open removes the leftover file. The old-format
# store is made by tools/mkoldfmt.c (tests only: ns_upgrade's test hook).
. "$(dirname "$0")/lib.sh"
require_binaries
command -v setfattr >/dev/null || { skip "upgrade" "needs setfattr"; done_testing; }
build_tamper || { fail "tamper.c compiles"; done_testing; }
MKOLD=$BUILD/mkoldfmt
[ -x "$MKOLD" ] || { skip "upgrade" "tools/mkoldfmt is built with -Dtests=true only"; done_testing; }
export WORMFS_TEST_OLD_FORMAT=1

S=$T_BASE/store M=$T_BASE/mnt D=$T_BASE/data
mkdir -p "$D"
id_of() { "$TAMPER" map "$1/meta" | awk -v p="$2" '$6 == p { print $2 }'; }
fmt_of() { # STORE PATH: the format field of its content file's header
	local id
	id=$(id_of "$1" "$2")
	[ -n "$id" ] && [ -f "$1/objects/${id:0:2}/$id" ] || { echo none; return; }
	od -An -tu1 -j8 -N1 "$1/objects/${id:0:2}/$id" | tr -d ' '
}
formats() { # STORE: the formats of the five test objects, in order
	local p out=
	for p in bkt/comp bkt/sparse bkt/held bkt/mut bkt/big; do out="$out $(fmt_of "$1" "$p")"; done
	echo "${out# }"
}
names() { echo comp sparse held mut big tiny; }
view() { # MNT: content hash, lock attributes, mode, owner, mtime of each object
	local f
	for f in $(names); do
		printf '%s %s %s %s %s\n' "$f" "$(sha256sum <"$1/bkt/$f" 2>&1 | cut -c1-16)" \
			"$(getfattr --only-values -n user.worm.retention "$1/bkt/$f" 2>/dev/null)" \
			"$(getfattr --only-values -n user.worm.legal-hold "$1/bkt/$f" 2>/dev/null)" \
			"$(stat -c '%a %u %g %s %Y' "$1/bkt/$f")"
	done
}

# ---- a store whose objects are in formats 1 and 2 -----------------------
make_store "$S" || { fail "wormctl init"; done_testing; }
head -c 200000 /dev/urandom >"$D/comp"
head -c 70000 /dev/urandom >"$D/held"
head -c 50000 /dev/urandom >"$D/mut"
head -c 3000000 /dev/urandom >"$D/big"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/bkt"
cp "$D/comp" "$M/bkt/comp"
setfattr -n user.worm.retention -v "COMPLIANCE +1d" "$M/bkt/comp"
printf 'tail' | dd of="$M/bkt/sparse" bs=1 seek=100000 conv=notrunc status=none
umount_fs "$M" || fail "unmount"
out=$("$MKOLD" "$S" 1 2>&1) || fail "mkoldfmt 1" "$out"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
cp "$D/held" "$M/bkt/held"
setfattr -n user.worm.legal-hold -v ON "$M/bkt/held"
cp "$D/mut" "$M/bkt/mut"
chmod 0600 "$M/bkt/mut"
cp "$D/big" "$M/bkt/big"
printf 'tiny' >"$M/bkt/tiny"
umount_fs "$M" || fail "unmount"
out=$("$MKOLD" "$S" 2 2>&1) || fail "mkoldfmt 2" "$out"
check_eq "old formats: comp and sparse 1, held, mut and big 2" "1 1 2 2 2" "$(formats "$S")"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
BEFORE=$(view "$M")
check_eq "old-format objects read" "$(sha256sum <"$D/comp" | cut -c1-16)" \
	"$(sha256sum <"$M/bkt/comp" | cut -c1-16)"

# ---- refused while mounted ------------------------------------------------
out=$("$WORMCTL" upgrade "$S" 2>&1); rc=$?
check_eq "upgrade while mounted: exit 1" 1 $rc
check_match "upgrade while mounted: says so" "is mounted" "$out"
out=$("$WORMCTL" upgrade --dry-run "$S" 2>&1); rc=$?
check_eq "dry run while mounted: exit 1" 1 $rc
umount_fs "$M" || fail "unmount"
check_eq "nothing changed while mounted" "1 1 2 2 2" "$(formats "$S")"

# ---- dry run: lists, changes no byte --------------------------------------
L1=$(store_listing "$S")
out=$("$WORMCTL" upgrade --dry-run "$S" 2>&1); rc=$?
check_eq "dry run: exit 0" 0 $rc
check_eq "dry run: five objects listed" 5 "$(grep -c '^would upgrade bkt/' <<<"$out")"
check_eq "dry run: not one byte of the store changed" "$L1" "$(store_listing "$S")"
out=$("$WORMCTL" upgrade --dry-run --json "$S" 2>&1)
check_match "dry run --json" '"upgraded": ?5' "$out"

# ---- kills part way: the object reads as before either way ---------------
for step in upgrade-new upgrade-old; do
	C=$T_BASE/c-$step
	cp -a "$S" "$C"
	out=$(WORMFS_CRASH_AT=$step "$WORMCTL" upgrade "$C" 2>&1); rc=$?
	check_eq "$step: killed (SIGKILL)" 137 $rc
	check_eq "$step: one content file no node names" 1 "$(store_orphans "$C")"
	a=$("$WORMCTL" audit "$C" 2>&1)
	if [ "$step" = upgrade-old ]; then
		# The first swap committed the run's start record with it.
		check_match "$step: the audit trail shows the run started" \
			'kind=format-upgrade op=upgrade-start .*objects=[0-9]+ format=3' "$a"
	else
		check_eq "$step: killed before any swap: no start record" 0 \
			"$(grep -c 'op=upgrade-start .*format=3' <<<"$a")"
	fi
	check_eq "$step: and no closing record" 0 "$(grep -c 'kind=format-upgrade op=upgrade .*format=3' <<<"$a")"
	mount_fg "$C" "$T_BASE/mc" || { fail "$step: mount"; continue; }
	check_eq "$step: every object reads as before, locks kept" "$BEFORE" "$(view "$T_BASE/mc")"
	umount_fs "$T_BASE/mc" || fail "unmount"
	check_eq "$step: the leftover file removed at the next open" 0 "$(store_orphans "$C")"
	out=$("$WORMCTL" upgrade "$C" 2>&1) || fail "$step: upgrade after the kill" "$out"
	check_eq "$step: then all in format 3" "3 3 3 3 3" "$(formats "$C")"
	rm -rf "$C"
done
# The kill, then wormctl upgrade at once (its own open recovers first).
C=$T_BASE/c-direct
cp -a "$S" "$C"
out=$(WORMFS_CRASH_AT=upgrade-old "$WORMCTL" upgrade "$C" 2>&1)
out=$("$WORMCTL" upgrade "$C" 2>&1) || fail "upgrade right after a kill" "$out"
check_eq "upgrade right after a kill: no leftover" 0 "$(store_orphans "$C")"
check_eq "upgrade right after a kill: all in format 3" "3 3 3 3 3" "$(formats "$C")"
rm -rf "$C"

# ---- an edited record: the whole run refused (state digest); once the
# digest is re-sealed, that node fails its MAC and is not upgraded (never
# re-MAC'd), the others are.
C=$T_BASE/c-forged
cp -a "$S" "$C"
ino=$("$TAMPER" map "$C/meta" | awk '$6 == "bkt/held" { print $1 }')
"$TAMPER" flip "$C/meta" "$ino" uid 0 1 || fail "node edited"
L1=$(store_listing "$C")
out=$("$WORMCTL" upgrade "$C" 2>&1); rc=$?
check_eq "edited record: exit 1" 1 $rc
check_match "edited record: refused, naming the state digest" "state digest" "$out"
check_eq "edited record: not one byte changed" "$L1" "$(store_listing "$C")"
if digest_reseal "$C"; then
	out=$("$WORMCTL" upgrade "$C" 2>&1); rc=$?
	check_eq "forged node: exit 1" 1 $rc
	check_match "forged node: named, not upgraded" \
		"NOT UPGRADED bkt/held .*record fails authentication" "$out"
	check_eq "forged node: kept in format 2, the others upgraded" "3 3 2 3 3" "$(formats "$C")"
fi
rm -rf "$C"

# ---- a damaged old file: not upgraded, named, kept ------------------------
id=$(id_of "$S" bkt/mut)
f=$S/objects/${id:0:2}/$id
cp -p "$f" "$D/mut.orig"
off=$((512 + 16432 + 100))   # inside block 1's ciphertext
b=$(od -An -tu1 -j$off -N1 "$f" | tr -d ' ')
printf "\\$(printf %03o $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=$off conv=notrunc status=none
out=$("$WORMCTL" upgrade "$S" 2>&1); rc=$?
check_eq "damaged old file: exit 1" 1 $rc
check_match "damaged old file: named with the reason" \
	"NOT UPGRADED bkt/mut .*fails authentication" "$out"
check_eq "damaged old file: the others upgraded, it stays in format 2" "3 3 3 2 3" \
	"$(formats "$S")"
check_eq "damaged old file: its file kept as it was" "$(id_of "$S" bkt/mut)" "$id"
check_eq "no leftover content file" 0 "$(store_orphans "$S")"
cp -p "$D/mut.orig" "$f"
out=$("$WORMCTL" upgrade "$S" 2>&1) || fail "upgrade once repaired" "$out"
check_match "once repaired: upgraded" "upgraded bkt/mut \(format 2" "$out"
check_eq "all in format 3" "3 3 3 3 3" "$(formats "$S")"
check_eq "the old content files are gone" 0 "$(store_orphans "$S")"
[ -f "$f" ] && fail "old file of mut removed" || ok "old file of mut removed"
out=$("$WORMCTL" upgrade "$S" 2>&1) || fail "a second run" "$out"
check_match "a second run finds nothing" "0 object\(s\) upgraded, 0 not upgraded, 5 already" "$out"

# ---- after: same objects, same locks, verified, audited -------------------
out=$("$WORMCTL" verify "$S" 2>&1) || fail "verify after the upgrade" "$out"
ok "verify after the upgrade"
audit=$("$WORMCTL" audit "$S" 2>&1)
check_eq "one audit record per run (3 runs in format 3)" 3 \
	"$(grep -c 'kind=format-upgrade op=upgrade .*format=3' <<<"$audit")"
check_match "the run that upgraded 4 of 5 says so" \
	"kind=format-upgrade op=upgrade .*count=4 failed=1 skipped=0" "$audit"
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
check_eq "every object reads as before, locks, mode, owner, times kept" "$BEFORE" "$(view "$M")"
check_eq "comp still locked" locked "$(worm_state "$M/bkt/comp")"
check_errno "comp: unlink refused" EPERM unlink "$M/bkt/comp"
check_errno "held: unlink refused" EPERM unlink "$M/bkt/held"
check_eq "mut is writable" OK "$(printf x | dd of="$M/bkt/mut" bs=1 seek=10 conv=notrunc status=none && echo OK)"
umount_fs "$M" || fail "unmount"

# ---- full disk: ENOSPC for the object, old one intact ---------------------
FS=$T_BASE/small
tmpfs_mount "$FS" 24m
F=$FS/store
make_store "$F" || { fail "wormctl init (small)"; done_testing; }
head -c 6000000 /dev/urandom >"$D/six"
mount_fg "$F" "$T_BASE/mf" || { fail "mount (small)"; done_testing; }
mkdir "$T_BASE/mf/bkt" && cp "$D/six" "$T_BASE/mf/bkt/six"
umount_fs "$T_BASE/mf" || fail "unmount"
out=$("$MKOLD" "$F" 2 2>&1) || fail "mkoldfmt (small)" "$out"
free=$(df -B1 --output=avail "$FS" | tail -1)
fallocate -l $((free - 3000000)) "$FS/filler" 2>/dev/null ||
	dd if=/dev/zero of="$FS/filler" bs=1M count=$(((free - 3000000) / 1048576)) status=none
out=$("$WORMCTL" upgrade "$F" 2>&1); rc=$?
check_eq "full disk: exit 1" 1 $rc
check_match "full disk: named" "NOT UPGRADED bkt/six .*disk is full" "$out"
check_eq "full disk: no half-written file left" 0 "$(store_orphans "$F")"
rm -f "$FS/filler"
mount_fg "$F" "$T_BASE/mf" || { fail "mount (small)"; done_testing; }
check_eq "full disk: the old object intact" "$(sha256sum <"$D/six")" "$(sha256sum <"$T_BASE/mf/bkt/six")"
umount_fs "$T_BASE/mf" || fail "unmount"
out=$("$WORMCTL" upgrade "$F" 2>&1) || fail "upgrade with room" "$out"
check_eq "with room: format 3" 3 "$(fmt_of "$F" bkt/six)"
done_testing
