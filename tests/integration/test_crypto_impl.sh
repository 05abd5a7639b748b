#!/usr/bin/env bash
# crypto_impl (README Performance, include/crypto.h): AES-256-GCM content
# blocks by libsodium or by OpenSSL give the same format. A store written
# with one reads with the other, both ways, through the mount and with
# wormctl verify; tampered blocks fail with EIO under both; .wormfs/stats
# shows the implementation and how it was chosen; a bad value (-o or
# wormfs.conf) refuses the mount with a clear message and mounts nothing.
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }

stats() { cat "$M/.wormfs/stats"; }
impl_line() { stats | grep '^wormfs_crypto_impl_info{'; }
auth_failures() { stats | awk '$1 == "wormfs_auth_failures_total" { print $2 }'; }

# Sizes around the 16 KiB block and the inline limit, multi-block with a
# partial last block, and one of several MiB.
SIZES=(0 1 4095 16383 16384 16385 49152 200003 3000017)
for sz in "${SIZES[@]}"; do
	head -c "$sz" /dev/urandom >"$T_BASE/plain.$sz"
done

# write_set BUCKET: one file per size.
write_set() {
	local b=$1 sz
	mkdir -p "$b" || return 1
	for sz in "${SIZES[@]}"; do
		cp "$T_BASE/plain.$sz" "$b/f$sz" || return 1
	done
	sync
}

# check_set WHEN BUCKET: every file reads back whole, and random-access
# reads inside and across blocks match.
check_set() {
	local when=$1 b=$2 sz bad="" off len
	for sz in "${SIZES[@]}"; do
		cmp -s "$T_BASE/plain.$sz" "$b/f$sz" || bad="$bad f$sz"
	done
	check_eq "$when: every file of $b reads back (sizes ${SIZES[*]})" "" "$bad"
	bad=""
	for off in 0 100 16380 16384 32767 49151 150000; do
		for len in 1 8 16400; do
			[ $((off + len)) -le 200003 ] || continue
			cmp -s <(tail -c +$((off + 1)) "$T_BASE/plain.200003" | head -c "$len") \
				<(dd if="$b/f200003" bs=1 skip="$off" count="$len" status=none 2>/dev/null) ||
				bad="$bad $off+$len"
		done
	done
	check_eq "$when: random-access reads of $b/f200003 match" "" "$bad"
}

# 1. Written with libsodium.
mount_fg "$S" "$M" -o crypto_impl=sodium || { fail "mount (sodium)"; done_testing; }
check_eq "sodium mount: stats show the configured implementation" \
	'wormfs_crypto_impl_info{impl="sodium",chosen_by="config"} 1' "$(impl_line)"
check_eq "sodium mount: no auto measurement in the stats" "" \
	"$(stats | grep '^wormfs_crypto_impl_measured_mbps')"
write_set "$M/bysodium" || fail "write the set with sodium"
check_set "sodium wrote, sodium reads" "$M/bysodium"
umount_check "$M" "sodium mount"

# 2. Read with OpenSSL; write more with OpenSSL.
mount_fg "$S" "$M" -o crypto_impl=openssl || { fail "mount (openssl)"; done_testing; }
check_eq "openssl mount: stats show the configured implementation" \
	'wormfs_crypto_impl_info{impl="openssl",chosen_by="config"} 1' "$(impl_line)"
check_set "sodium wrote, openssl reads" "$M/bysodium"
write_set "$M/byopenssl" || fail "write the set with openssl"
check_set "openssl wrote, openssl reads" "$M/byopenssl"
check_eq "openssl mount: no authentication failure" "0" "$(auth_failures)"
umount_check "$M" "openssl mount"

# 3. Back to libsodium: it reads what OpenSSL wrote.
mount_fg "$S" "$M" -o crypto_impl=sodium || { fail "remount (sodium)"; done_testing; }
check_set "openssl wrote, sodium reads" "$M/byopenssl"
check_set "sodium wrote, sodium reads after the openssl mount" "$M/bysodium"
check_eq "sodium mount: no authentication failure" "0" "$(auth_failures)"
umount_check "$M" "sodium remount"

# 4. The config file, and wormctl verify (offline) with each value.
sed -i 's/^# crypto_impl = auto$/crypto_impl = openssl/' "$S/wormfs.conf"
check_match "wormfs.conf now sets crypto_impl = openssl" '^crypto_impl = openssl$' \
	"$(grep '^crypto_impl' "$S/wormfs.conf")"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify with crypto_impl = openssl (file): store intact" "0" "$?"
mount_fg "$S" "$M" || { fail "mount (openssl from wormfs.conf)"; done_testing; }
check_eq "wormfs.conf crypto_impl = openssl: stats show it" \
	'wormfs_crypto_impl_info{impl="openssl",chosen_by="config"} 1' "$(impl_line)"
check_set "wormfs.conf openssl reads what sodium wrote" "$M/bysodium"
umount_check "$M" "openssl (wormfs.conf) mount"
# -o overrides the file.
mount_fg "$S" "$M" -o crypto_impl=sodium || { fail "mount (-o over the file)"; done_testing; }
check_eq "-o crypto_impl=sodium overrides wormfs.conf" \
	'wormfs_crypto_impl_info{impl="sodium",chosen_by="config"} 1' "$(impl_line)"
umount_check "$M" "-o override mount"
sed -i 's/^crypto_impl = openssl$/crypto_impl = sodium/' "$S/wormfs.conf"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify with crypto_impl = sodium (file): store intact" "0" "$?"
sed -i 's/^crypto_impl = sodium$/# crypto_impl = auto/' "$S/wormfs.conf"

# 5. auto: a concrete implementation, its measurement shown and logged
# (at debug level: a mount prints nothing on success).
mount_fg "$S" "$M" -o log_level=debug || { fail "mount (auto)"; done_testing; }
check_match "auto: stats name a concrete implementation chosen by auto" \
	'^wormfs_crypto_impl_info\{impl="(sodium|openssl)",chosen_by="auto"\} 1$' "$(impl_line)"
if grep -q aes /proc/cpuinfo; then
	check_match "auto: both measurements in the stats" \
		'impl="sodium"\} [1-9][0-9]*.*impl="openssl"\} [1-9][0-9]*' \
		"$(stats | grep '^wormfs_crypto_impl_measured_mbps' | tr '\n' ' ')"
	check_match "auto: the daemon logs its choice and measurement (debug)" \
		'content cipher AES-256-GCM by (sodium|openssl) \(crypto_impl = auto; measured' \
		"$(cat "${MNT_LOG[$M]}")"
else
	skip "auto: both measurements in the stats" "no AES instructions"
	skip "auto: the daemon logs its choice and measurement" "no AES instructions"
fi
check_set "auto reads what sodium wrote" "$M/bysodium"
check_set "auto reads what openssl wrote" "$M/byopenssl"
umount_check "$M" "auto mount"

# 6. XChaCha20-Poly1305 objects are libsodium's whatever crypto_impl says.
# The algorithm is the u32 at offset 12 of each content file (1 = AES-GCM,
# 2 = XChaCha: include/crypto.h).
algs() { find "$S/objects" -type f -exec od -An -tu4 -j12 -N4 {} \; | tr -d ' ' | sort -u | tr '\n' ' '; }
check_eq "before: every content file is AES-256-GCM" "1 " "$(algs)"
export WORMFS_FORCE_XCHACHA=1   # read by the daemon when it creates objects
mount_fg "$S" "$M" -o crypto_impl=openssl || { fail "mount (openssl, forced xchacha)"; done_testing; }
unset WORMFS_FORCE_XCHACHA
write_set "$M/xchacha" || fail "write the set with xchacha"
check_set "xchacha objects under crypto_impl = openssl" "$M/xchacha"
umount_check "$M" "xchacha mount"
check_eq "after: XChaCha content files were written" "1 2 " "$(algs)"
mount_fg "$S" "$M" -o crypto_impl=sodium || { fail "mount (sodium, xchacha)"; done_testing; }
check_set "xchacha objects read under crypto_impl = sodium" "$M/xchacha"
umount_check "$M" "xchacha read mount"

# 7. Tampering fails under both implementations. One store whose only
# content file is one multi-block object: flip a ciphertext byte of block 0
# and the last tag byte of block 2 (file = 512-byte header, then per block
# 48 bytes of overhead + 16 KiB: include/obj.h).
S2=$T_BASE/store2
make_store "$S2" || { fail "wormctl init (tamper store)"; done_testing; }
mount_fg "$S2" "$M" -o crypto_impl=openssl || { fail "mount (tamper store)"; done_testing; }
{ mkdir "$M/tamper" && cp "$T_BASE/plain.200003" "$M/tamper/big" && sync; } || fail "write the tamper object"
umount_check "$M" "tamper store written"
OBJ=$(find "$S2/objects" -type f)
check_eq "one content file in the tamper store" "1" "$(printf '%s\n' "$OBJ" | grep -c .)"
SLOT=$((16384 + 48))
flip() { # flip FILE OFFSET: invert one byte
	local b
	b=$(dd if="$1" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
flip "$OBJ" $((512 + 48 + 5000))
flip "$OBJ" $((512 + 3 * SLOT - 1))
for impl in sodium openssl; do
	mount_fg "$S2" "$M" -o crypto_impl=$impl || { fail "mount (tamper, $impl)"; continue; }
	check_errno "$impl: read of a block with a changed ciphertext byte: EIO" EIO \
		pread "$M/tamper/big" 0 100
	check_errno "$impl: read of a block with a changed tag byte: EIO" EIO \
		pread "$M/tamper/big" $((2 * 16384 + 10)) 100
	got=$(h pread "$M/tamper/big" 16384 100 | od -An -tx1 | tr -d ' \n')
	want=$(tail -c +16385 "$T_BASE/plain.200003" | head -c 100 | od -An -tx1 | tr -d ' \n')
	check_eq "$impl: the untouched block between them reads correctly" "$want" "$got"
	check_match "$impl: authentication failures counted" '^[1-9][0-9]*$' "$(auth_failures)"
	umount_check "$M" "tamper mount ($impl)"
done
out=$("$WORMCTL" verify "$S2" 2>&1)
check_eq "wormctl verify finds the tampered object (exit 1)" "1" "$?"

# 8. A bad value refuses the mount with a clear message; nothing mounted.
refused() { # refused DESC REGEX [wormfs args]: exit 1, message, no mount
	local desc=$1 re=$2 out rc
	shift 2
	out=$(timeout 30 "$WORMFS" "$S" "$M" -f "$@" 2>&1 </dev/null)
	rc=$?
	check_eq "$desc: wormfs exits 1" "1" "$rc"
	check_match "$desc: the message names the key, the value and what is allowed" "$re" "$out"
	if is_mounted "$M"; then
		fail "$desc: nothing mounted"
		umount_fs "$M"
	else
		ok "$desc: nothing mounted"
	fi
}
refused "-o crypto_impl=fast" \
	"crypto_impl.*bad value 'fast' \\(allowed: auto, openssl or sodium\\)" -o crypto_impl=fast
refused "-o crypto_impl= (empty)" \
	"crypto_impl.*\\(allowed: auto, openssl or sodium\\)" -o crypto_impl=
refused "-o kms.crypto_impl=openssl (wrong section)" \
	"unknown key 'crypto_impl'" -o kms.crypto_impl=openssl
sed -i 's/^# crypto_impl = auto$/crypto_impl = libsodium/' "$S/wormfs.conf"
line=$(grep -n '^crypto_impl = libsodium$' "$S/wormfs.conf" | cut -d: -f1)
refused "wormfs.conf crypto_impl = libsodium" \
	"wormfs.conf:$line: key 'crypto_impl' in section \\[wormfs\\]: bad value 'libsodium' \\(allowed: auto, openssl or sodium\\)"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "wormctl verify refuses the bad wormfs.conf too (exit 1)" "1" "$?"
check_match "wormctl names the bad key" "crypto_impl" "$out"
sed -i 's/^crypto_impl = libsodium$/# crypto_impl = auto/' "$S/wormfs.conf"
mount_fg "$S" "$M" || { fail "mount after the config is fixed"; done_testing; }
check_set "after the refusals the store is intact (sodium set)" "$M/bysodium"
check_set "after the refusals the store is intact (openssl set)" "$M/byopenssl"
umount_check "$M" "final mount"

done_testing
