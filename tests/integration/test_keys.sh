#!/usr/bin/env bash
# Master key ring (design.md sections 7 and 9, docs/CLI.md):
#  1. key rotate / rewrap / remove: every DEK moves to the new version
#     without rewriting content blocks; after removing the old version
#     every object still reads with its checksum; refusals (version in use,
#     active version) change nothing; an online rewrap with nothing to do
#     changes nothing.
#  2. kill -9 during rewrap (~3,000 objects): every object still reads with
#     its checksum; a second rewrap completes; again all objects read.
#  3. Passphrase stores and damaged keys: init --passphrase-file, mount with
#     -o passphrase_file works; a wrong passphrase, a damaged key ring or a
#     damaged / missing kek file -> one clear error line, non-zero exit,
#     nothing mounted, store files unchanged.
. "$(dirname "$0")/lib.sh"
require_binaries

build_tamper || { fail "tamper.c compiles"; done_testing; }

# Key versions of the wrapped DEKs of all content files: "VERSION COUNT"
# lines (from the metadata).
kvers() { "$TAMPER" map "$1/meta" | awk '$2 != "00000000000000000000000000000000" { print $5 }' | sort -n | uniq -c | awk '{ print $2 " " $1 }' | tr '\n' ' ' | sed 's/ $//'; }
# Checksums of the block areas of all content files (rewrap must not touch them).
blocksums() { (cd "$1/objects" && find . -type f | sort | while read -r f; do echo "$f $(tail -c +513 "$f" | sha256sum)"; done); }
# Every file under the mount with its checksum / check them.
sums_of() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }
sums_ok() { (cd "$1" && sha256sum -c --quiet "$2" 2>&1 | head -n 5); }
# Store state a refused command must not change: every file except
# data.mdb (any writable open persists the compliance clock there), plus
# the node records as tamper map shows them.
state_of() { store_listing "$1" | grep -v 'meta/data.mdb'; "$TAMPER" map "$1/meta"; }
active_of() { "$WORMCTL" key list "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])' 2>&1; }
versions_of() { "$WORMCTL" key list "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(str(k["version"]) for k in json.load(sys.stdin)["keys"]))' 2>&1; }

# ============================================================ 1. rotate/rewrap/remove
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/keybucket" && mkdir "$M/keybucket/sub"
for i in $(seq 1 30); do head -c $(( (i * 7919) % 150000 )) /dev/urandom >"$M/keybucket/v1-$i"; done
umount_fs "$M"
check_eq "new store: one key version, active 1" "1|1" "$(versions_of "$S")|$(active_of "$S")"

mount_fg "$S" "$M" || { fail "remount"; done_testing; }
L=$(store_listing "$S" | grep -E '\./(keys|objects)/')
# (key rotate while mounted goes through the daemon's control socket:
# test_s3_users.)
# key rewrap while mounted goes to the daemon too (test_rewrap_online);
# with every DEK under the active version it has nothing to do.
out=$("$WORMCTL" key rewrap "$S" 2>&1)
check_eq "key rewrap while mounted, nothing to re-wrap" \
	"0|re-wrapped 0 data keys under master key version 1 (by the daemon)" "$?|$out"
check_eq "that rewrap changed no key or content file" "$L" "$(store_listing "$S" | grep -E '\./(keys|objects)/')"
umount_fs "$M"

check "key rotate" "$WORMCTL" key rotate "$S"
check_eq "after rotate: versions 1 2, active 2" "1 2|2" "$(versions_of "$S")|$(active_of "$S")"
mount_fg "$S" "$M" || { fail "mount after rotate"; done_testing; }
for i in $(seq 1 10); do head -c $((i * 5003)) /dev/urandom >"$M/keybucket/sub/v2-$i"; done
sums_of "$M" >"$T_BASE/sums1"
umount_fs "$M"
check_eq "old objects keep version 1, new ones get version 2" "1 30 2 10" "$(kvers "$S")"

L=$(state_of "$S")
out=$("$WORMCTL" key remove "$S" 1 2>&1)
check_eq "key remove of a version still in use refused (exit 1)" "1" "$?"
check_match "key remove in use: says to rewrap first" "rewrap" "$out"
check_eq "refused remove changed no store file nor node record" "$L" "$(state_of "$S")"

B0=$(blocksums "$S")
check "key rewrap" "$WORMCTL" key rewrap "$S"
check_eq "after rewrap: every DEK under version 2" "2 40" "$(kvers "$S")"
check_eq "rewrap left every content block unchanged" "$B0" "$(blocksums "$S")"
check "verify after rewrap" "$WORMCTL" verify "$S"

out=$("$WORMCTL" key remove "$S" 2 2>&1)
check_eq "key remove of the active version refused (exit 1)" "1" "$?"
check "key remove 1 (old version) after rewrap" "$WORMCTL" key remove "$S" 1
check_eq "after remove: only version 2" "2|2" "$(versions_of "$S")|$(active_of "$S")"
check "verify after removing version 1" "$WORMCTL" verify "$S"
mount_fg "$S" "$M" || { fail "mount after remove"; done_testing; }
check_eq "after remove: every object reads with its checksum" "" "$(sums_ok "$M" "$T_BASE/sums1")"
echo "written under v2 only" >"$M/keybucket/after-remove"
check_eq "new object after remove reads back" "written under v2 only" "$(cat "$M/keybucket/after-remove")"
umount_check "$M" "keys"

# ============================================================ 2. kill -9 during rewrap
S2=$T_BASE/store2 M2=$T_BASE/mnt2
NOBJ=${WORMFS_KEYS_OBJECTS:-3000}
make_store "$S2" || { fail "wormctl init store2"; done_testing; }
mount_fg "$S2" "$M2" || { fail "mount store2"; done_testing; }
mkdir "$M2/manykeys"
for d in $(seq 0 9); do
	mkdir "$M2/manykeys/d$d"
	for i in $(seq 1 $((NOBJ / 10))); do echo "object $d/$i $RANDOM$RANDOM" >"$M2/manykeys/d$d/o$i"; done
done
sums_of "$M2" >"$T_BASE/sums2"
check_eq "$NOBJ objects created" "$NOBJ" "$(wc -l <"$T_BASE/sums2")"
umount_fs "$M2"

killed=0
for delay in 0.2 0.1 0.05 0.02 0.01; do
	# Work for rewrap: a new active version.
	"$WORMCTL" key rotate "$S2" >/dev/null 2>&1 || { fail "key rotate (store2)"; break; }
	"$WORMCTL" key rewrap "$S2" >"$T_BASE/rewrap.out" 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	if [ "$rc" = 137 ]; then
		killed=1
		diag "rewrap killed after ${delay}s; key versions in the metadata: $(kvers "$S2")"
		break
	fi
	diag "rewrap finished (exit $rc) before the kill after ${delay}s; retrying shorter"
done
check_eq "kill -9 landed during a rewrap" "1" "$killed"
v=$(kvers "$S2")
check_match "the kill left a partial rewrap (two key versions in use)" '^[0-9]+ [0-9]+ [0-9]+ [0-9]+$' "$v"
check "verify after the killed rewrap" "$WORMCTL" verify "$S2"
mount_fg "$S2" "$M2" || { fail "mount after the killed rewrap"; done_testing; }
check_eq "after the killed rewrap: all $NOBJ objects read with their checksums" "" "$(sums_ok "$M2" "$T_BASE/sums2")"
umount_check "$M2" "killed rewrap"
check "rewrap again, to completion" "$WORMCTL" key rewrap "$S2"
act=$(active_of "$S2")
check_eq "after the second rewrap: every DEK under the active version $act" "$act $NOBJ" "$(kvers "$S2")"
check "verify after the second rewrap" "$WORMCTL" verify "$S2"
old=$(versions_of "$S2")
for ver in $old; do
	[ "$ver" = "$act" ] && continue
	"$WORMCTL" key remove "$S2" "$ver" >/dev/null 2>&1 || fail "key remove $ver after the second rewrap"
done
check_eq "old versions removed" "$act" "$(versions_of "$S2")"
mount_fg "$S2" "$M2" || { fail "mount after the second rewrap"; done_testing; }
check_eq "after the second rewrap and removing old versions: all objects read" "" "$(sums_ok "$M2" "$T_BASE/sums2")"
umount_check "$M2" "second rewrap"

# ============================================================ 3. passphrases, damaged keys
S3=$T_BASE/store3 M3=$T_BASE/mnt3
PW=$T_BASE/pw BADPW=$T_BASE/badpw
printf 'correct horse battery staple\n' >"$PW"
printf 'correct horse battery stapler\n' >"$BADPW"
chmod 600 "$PW" "$BADPW"
# Minimum Argon2id limits (tests only); open uses what the ring records.
if ! out=$(WORMFS_PWHASH_FAST=1 "$WORMCTL" init --passphrase-file "$PW" "$S3" 2>&1); then
	fail "init --passphrase-file" "$out"
	done_testing
fi
ok "init --passphrase-file"
check_not "passphrase store has no kek file" test -e "$S3/keys/kek"
check_not "the passphrase is not stored in the store" grep -rqaF "correct horse" "$S3"
mount_bg "$S3" "$M3" -o passphrase_file="$PW" || fail "mount with -o passphrase_file"
if is_mounted "$M3"; then
	ok "mount with -o passphrase_file works"
	mkdir "$M3/pwbucket" && echo "behind a passphrase" >"$M3/pwbucket/f"
	check_eq "file written under a passphrase store reads back" "behind a passphrase" "$(cat "$M3/pwbucket/f")"
	umount_fs "$M3"
fi
check "key list with the right passphrase file" "$WORMCTL" key list "$S3" --passphrase-file "$PW"

# refused_mount DESC STORE [wormfs options...]: the mount must fail with
# one clear line, mount nothing and change no store file.
refused_mount() {
	local desc=$1 store=$2 before out rc lines
	shift 2
	before=$(store_listing "$store")
	mkdir -p "$T_BASE/refmnt"
	out=$(timeout 60 "$WORMFS" "$store" "$T_BASE/refmnt" "$@" 2>&1 </dev/null)
	rc=$?
	lines=$(printf '%s\n' "$out" | grep -c .)
	if [ $rc -ne 0 ] && [ "$lines" = 1 ] && ! is_mounted "$T_BASE/refmnt"; then
		ok "$desc: mount refused with one line (exit $rc): $out"
	else
		fail "$desc: mount refused with one line" "exit $rc, $lines lines:" "$out"
		is_mounted "$T_BASE/refmnt" && fusermount3 -u "$T_BASE/refmnt"
	fi
	check_match "$desc: the line names the key problem" 'passphrase|key ring|keyring|kek|key file' "$out"
	check_eq "$desc: store files unchanged" "$before" "$(store_listing "$store")"
}
# refused_ctl DESC STORE [wormctl options]: an offline command refuses too.
refused_ctl() {
	local desc=$1 store=$2 out rc
	shift 2
	out=$("$WORMCTL" key list "$store" "$@" 2>&1)
	rc=$?
	if [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | grep -c .)" = 1 ]; then
		ok "$desc: wormctl key list exits 1 with one line: $out"
	else
		fail "$desc: wormctl key list exits 1 with one line" "exit $rc" "$out"
	fi
}

refused_mount "wrong passphrase" "$S3" -o passphrase_file="$BADPW"
refused_ctl "wrong passphrase" "$S3" --passphrase-file "$BADPW"
refused_mount "no passphrase given" "$S3"

cp -p "$S3/keys/keyring" "$T_BASE/keyring3.orig"
sz=$(stat -c %s "$S3/keys/keyring")
"$TAMPER" xor "$S3/keys/keyring" $((sz / 2)) 0x10
refused_mount "damaged key ring (passphrase store)" "$S3" -o passphrase_file="$PW"
refused_ctl "damaged key ring (passphrase store)" "$S3" --passphrase-file "$PW"
"$TAMPER" xor "$S3/keys/keyring" $((sz - 1)) 0x01
"$TAMPER" xor "$S3/keys/keyring" $((sz / 2)) 0x10
refused_mount "key ring with a damaged tag (passphrase store)" "$S3" -o passphrase_file="$PW"
cp -p "$T_BASE/keyring3.orig" "$S3/keys/keyring"
mount_bg "$S3" "$M3" -o passphrase_file="$PW" &&
	check_eq "restored key ring: mounts and reads again" "behind a passphrase" "$(cat "$M3/pwbucket/f")" &&
	umount_fs "$M3"

# Key-file store (store of part 1).
cp -p "$S/keys/keyring" "$T_BASE/keyring1.orig"
cp -p "$S/keys/kek" "$T_BASE/kek1.orig"
sz=$(stat -c %s "$S/keys/keyring")
"$TAMPER" xor "$S/keys/keyring" $((sz / 3)) 0x80
refused_mount "damaged key ring (key-file store)" "$S"
refused_ctl "damaged key ring (key-file store)" "$S"
cp -p "$T_BASE/keyring1.orig" "$S/keys/keyring"
"$TAMPER" xor "$S/keys/kek" 7 0x04
refused_mount "damaged kek file" "$S"
refused_ctl "damaged kek file" "$S"
cp -p "$T_BASE/kek1.orig" "$S/keys/kek"
rm -f "$S/keys/kek"
refused_mount "missing kek file" "$S"
refused_ctl "missing kek file" "$S"
cp -p "$T_BASE/kek1.orig" "$S/keys/kek"
mount_fg "$S" "$M" || fail "restored kek: mount"
check_eq "restored kek: every object reads with its checksum" "" "$(sums_ok "$M" "$T_BASE/sums1")"
umount_check "$M" "restored keys"
done_testing
