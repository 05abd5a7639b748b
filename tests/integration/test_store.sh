#!/usr/bin/env bash
# Store creation (wormctl init) and the daemon's refusals to mount bad
# stores or bad options: one clear line, non-zero exit, nothing mounted,
# store unchanged (design.md section 2, 10; docs/CLI.md).
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store
mkdir "$S"

# ---- wormctl init
out=$("$WORMCTL" init "$S" 2>&1)
rc=$?
check_eq "init on an empty directory exits 0" 0 "$rc"
[ $rc -eq 0 ] || diag "$out"
check_eq "store directory has mode 0700" 700 "$(stat -c %a "$S" 2>&1)"
check_eq "FORMAT marker written" "wormfs-store 2" "$(cat "$S/FORMAT" 2>&1)"
check "wormfs.conf is commented" grep -q '^[[:space:]]*[#;]' "$S/wormfs.conf"
check "meta/, keys/ and objects/ exist" test -d "$S/meta" -a -d "$S/keys" -a -d "$S/objects"
check "key ring has at least one file" test -n "$(find "$S/keys" -type f 2>/dev/null)"
check_eq "key ring files are mode 0600" "" "$(find "$S/keys" -type f ! -perm 0600 2>&1)"

S2=$T_BASE/new/store
mkdir -p "$T_BASE/new"
check "init creates an absent directory" "$WORMCTL" init "$S2"
check_eq "created store directory has mode 0700" 700 "$(stat -c %a "$S2" 2>&1)"

NE=$T_BASE/nonempty
mkdir "$NE"
echo precious >"$NE/file"
before=$(store_listing "$NE")
out=$("$WORMCTL" init "$NE" 2>&1)
rc=$?
check_match "init refuses a non-empty directory (non-zero exit)" '^[1-9]' "$rc"
check_match "init explains the refusal on stderr" . "$out"
check_eq "non-empty directory unchanged" "$before" "$(store_listing "$NE")"

before=$(store_listing "$S")
check_not "init refuses an existing store" "$WORMCTL" init "$S"
check_eq "existing store unchanged by a second init" "$before" "$(store_listing "$S")"

# ---- a good store mounts (daemonizing: ready when wormfs returns)
M=$T_BASE/mnt
mkdir "$M"
_register_mount "$M"
MNT_LOG[$M]=$T_BASE/bg.log
timeout 30 "$WORMFS" "$S" "$M" >"$T_BASE/bg.log" 2>&1 </dev/null
check_eq "wormfs STORE MNT (daemonizing) exits 0" 0 "$?"
if is_mounted "$M"; then ok "mount is up when wormfs returns"; else fail "mount is up when wormfs returns" "$(cat "$T_BASE/bg.log")"; fi
MNT_PID[$M]=$(daemon_pid "$S" "$M")
check "mount answers stat" timeout 10 stat "$M/.wormfs/version"

# Store already mounted: a second daemon on the same store refuses.
M2=$T_BASE/mnt2
mkdir "$M2"
_register_mount "$M2"
timeout 20 "$WORMFS" "$S" "$M2" >"$T_BASE/second.out" 2>"$T_BASE/second.err" </dev/null
rc=$?
check_match "second mount of a mounted store exits non-zero" '^[1-9]' "$rc"
check_eq "second mount: one line on stderr" 1 "$(grep -c . "$T_BASE/second.err")"
if is_mounted "$M2"; then fail "second mount: nothing mounted"; fusermount3 -u "$M2"; else ok "second mount: nothing mounted"; fi
check "first mount still serves after the refused second mount" timeout 10 stat "$M/.wormfs/version"
umount_check "$M" "daemonized mount"
check_eq "mount point empty after unmount" "" "$(ls -A "$M" 2>&1)"

# ---- refusals
# refuse DESC EXPECTED-STATUS STORE [wormfs args...]: EXPECTED-STATUS is
# "nonzero" or an exact number.
refuse() {
	local desc=$1 want=$2 store=$3 mnt=$T_BASE/mnt-refuse before="" after rc lines
	shift 3
	mkdir -p "$mnt"
	_register_mount "$mnt"
	[ -d "$store" ] && before=$(store_listing "$store")
	timeout 20 "$WORMFS" "$store" "$mnt" "$@" >"$T_BASE/refuse.out" 2>"$T_BASE/refuse.err" </dev/null
	rc=$?
	if [ "$want" = nonzero ]; then
		if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then ok "$desc: exit status non-zero"; else
			fail "$desc: exit status non-zero" "exit status $rc" "stderr: $(cat "$T_BASE/refuse.err")"; fi
	else
		check_eq "$desc: exit status $want" "$want" "$rc"
	fi
	lines=$(grep -c . "$T_BASE/refuse.err")
	if [ "$lines" -eq 1 ]; then ok "$desc: one line on stderr"; diag "stderr: $(cat "$T_BASE/refuse.err")"
	else fail "$desc: one line on stderr" "got $lines lines:" "$(cat "$T_BASE/refuse.err")"; fi
	if is_mounted "$mnt"; then
		fail "$desc: nothing mounted"
		umount_fs "$mnt"
	else
		ok "$desc: nothing mounted"
	fi
	if [ -d "$store" ]; then
		after=$(store_listing "$store")
		if [ "$before" = "$after" ]; then ok "$desc: store unchanged"; else
			fail "$desc: store unchanged" "$(diff <(echo "$before") <(echo "$after"))"; fi
	fi
}

# A private copy of the good store for each damage.
copy_store() {
	rm -rf "$2"
	cp -a "$1" "$2"
}

# set_conf STORE SECTION KEY VALUE: put a key into a section of wormfs.conf.
set_conf() {
	local f=$1/wormfs.conf
	if grep -q "^\[$2\]" "$f"; then
		sed -i "/^\[$2\]/a $3 = $4" "$f"
	else
		printf '\n[%s]\n%s = %s\n' "$2" "$3" "$4" >>"$f"
	fi
}

E=$T_BASE/empty
mkdir "$E"
refuse "empty directory (not a store)" nonzero "$E"
echo hello >"$T_BASE/plainfile"
refuse "regular file as store" nonzero "$T_BASE/plainfile"
refuse "absent store path" nonzero "$T_BASE/does-not-exist"
check "absent store path was not created" test ! -e "$T_BASE/does-not-exist"

D=$T_BASE/damaged
copy_store "$S" "$D"; echo "wormfs-store 99" >"$D/FORMAT"
refuse "FORMAT version 99" nonzero "$D"
copy_store "$S" "$D"; rm -f "$D/FORMAT"
refuse "FORMAT missing" nonzero "$D"

# Format 1 (before inline objects) opens, and the first writable open
# upgrades it to 2; read-only commands leave it alone.
copy_store "$S" "$D"; echo "wormfs-store 1" >"$D/FORMAT"
out=$("$WORMCTL" verify "$D" 2>&1)
check_eq "format 1 store: verify works (exit 0)" "0" "$?"
check_eq "format 1 store: verify (read-only) does not upgrade it" "wormfs-store 1" "$(cat "$D/FORMAT")"
mkdir -p "$T_BASE/mnt-upgrade"
if mount_fg "$D" "$T_BASE/mnt-upgrade"; then
	check_eq "format 1 store: mounting upgrades it to format 2" "wormfs-store 2" "$(cat "$D/FORMAT")"
	check_match "format 1 store: the upgrade is logged" "upgraded from format 1 to 2" \
		"$(cat "${MNT_LOG[$T_BASE/mnt-upgrade]}")"
	umount_check "$T_BASE/mnt-upgrade" "upgraded store"
else
	fail "format 1 store mounts"
fi
copy_store "$S" "$D"; head -c 65536 /dev/urandom >"$D/meta/data.mdb"
refuse "data.mdb overwritten with garbage" nonzero "$D"
copy_store "$S" "$D"; : >"$D/meta/data.mdb"
refuse "data.mdb truncated to 0 bytes" nonzero "$D"
copy_store "$S" "$D"; find "$D/keys" -type f -delete
refuse "key ring files removed" nonzero "$D"

copy_store "$S" "$D"; set_conf "$D" wormfs max_threads 0
refuse "wormfs.conf max_threads = 0" nonzero "$D"
check_match "config error names the file" 'wormfs\.conf' "$(cat "$T_BASE/refuse.err")"
copy_store "$S" "$D"; set_conf "$D" kms throttle sometimes
refuse "wormfs.conf [kms] throttle = sometimes" nonzero "$D"
copy_store "$S" "$D"; set_conf "$D" kms crypto_rate 99999999999999
refuse "wormfs.conf [kms] crypto_rate absurdly large" nonzero "$D"
copy_store "$S" "$D"; set_conf "$D" wormfs frobnicate 1
refuse "wormfs.conf unknown key" nonzero "$D"
copy_store "$S" "$D"; printf '\n[nosuchsection]\nx = 1\n' >>"$D/wormfs.conf"
refuse "wormfs.conf unknown section" nonzero "$D"

# Options: the good store itself must stay unchanged by all of these.
refuse "-o frobnicate=1 (unknown option)" 1 "$S" -o frobnicate=1
refuse "-o nosuchflag (unknown option)" 1 "$S" -o nosuchflag
refuse "-o crypto_rate=abc" nonzero "$S" -o crypto_rate=abc
refuse "-o throttle=maybe" nonzero "$S" -o throttle=maybe
refuse "-o max_threads=0" nonzero "$S" -o max_threads=0
refuse "-o attr_timeout=-1" nonzero "$S" -o attr_timeout=-1
refuse "-o log_level=loud" nonzero "$S" -o log_level=loud
refuse "-f with -o bad value (foreground refuses too)" nonzero "$S" -f -o crypto_rate=abc

# ---- passphrase-protected key ring
P=$T_BASE/pstore
printf 'correct horse battery staple\n' >"$T_BASE/pw"
printf 'wrong\n' >"$T_BASE/badpw"
chmod 600 "$T_BASE/pw" "$T_BASE/badpw"   # others' access is refused
check "init --passphrase-file" "$WORMCTL" init --passphrase-file "$T_BASE/pw" "$P"
if grep -rqs 'correct horse' "$P"; then fail "passphrase not stored in the store"; else ok "passphrase not stored in the store"; fi
refuse "wrong passphrase" nonzero "$P" -o passphrase_file="$T_BASE/badpw"
refuse "passphrase store without a passphrase" nonzero "$P"
PM=$T_BASE/pmnt
if mount_fg "$P" "$PM" -o passphrase_file="$T_BASE/pw"; then
	ok "right passphrase mounts"
	check "passphrase store usable" mkdir "$PM/bucket1"
	umount_check "$PM" "passphrase mount"
else
	fail "right passphrase mounts" "$(cat "${MNT_LOG[$PM]}")"
fi

# The good store still mounts after all the refusals.
if mount_fg "$S" "$M"; then
	ok "store mounts after the refused attempts"
	umount_check "$M" "final mount"
else
	fail "store mounts after the refused attempts" "$(cat "${MNT_LOG[$M]}")"
fi

done_testing
