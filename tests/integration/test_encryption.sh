#!/usr/bin/env bash
# Confidentiality at rest (design.md sections 2 and 7): no plaintext of any
# file and no file name appears anywhere in the store's object area; names
# and xattrs live only in the metadata database (not secret by design), so
# only content markers are searched there. Content files are named by
# random ids, carry the format magic, and equal plaintexts encrypt to
# different ciphertexts (per-object DEK, per-block nonce, also on rewrite).
. "$(dirname "$0")/lib.sh"
require_binaries

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
B=$M/confidential
mkdir "$B" || { fail "mkdir bucket"; done_testing; }

# Distinctive plaintext: a marker repeated many times in a large file, once
# in small files, and names that occur nowhere else.
MARK=ZebraQuokkaPlaintextMarker
MARK2=unicorn-PLAINTEXT-4711-canary
NAMES=(larchive-quasar-name.bin tiny-xylophone-name.txt mid-wombat-name.dat
	oneblock-narwhal-name.raw dup1-pangolin-name.txt dup2-pangolin-name.txt)
# 4 MiB of lines "ZebraQuokkaPlaintextMarker 000123 unicorn-..."
awk -v m="$MARK" -v m2="$MARK2" 'BEGIN { for (i = 0; i < 80000; i++) printf "%s %06d %s\n", m, i, m2 }' \
	>"$T_BASE/large.plain"
printf '%s\n' "$MARK" >"$T_BASE/tiny.plain"
{ for i in $(seq 1 700); do printf '%s-%s|' "$MARK2" "$i"; done; } >"$T_BASE/mid.plain"
head -c 16384 "$T_BASE/large.plain" >"$T_BASE/oneblock.plain"
cp "$T_BASE/large.plain" "$B/${NAMES[0]}"
cp "$T_BASE/tiny.plain" "$B/${NAMES[1]}"
cp "$T_BASE/mid.plain" "$B/${NAMES[2]}"
cp "$T_BASE/oneblock.plain" "$B/${NAMES[3]}"
cp "$T_BASE/mid.plain" "$B/${NAMES[4]}"
cp "$T_BASE/mid.plain" "$B/${NAMES[5]}"
mkdir "$B/subdir-ocelot-name" && printf '%s %s\n' "$MARK" "$MARK2" >"$B/subdir-ocelot-name/nested-okapi-name.txt"
NAMES+=(subdir-ocelot-name nested-okapi-name.txt confidential)
setfattr -n user.comment -v "not secret" "$B/${NAMES[1]}" 2>/dev/null
sync

# Positive control: the same search finds the markers in a plain copy, so
# an empty result below means something.
mkdir -p "$T_BASE/control" && cp "$T_BASE/mid.plain" "$T_BASE/control/x"
check "control: grep finds a marker in a plain copy" grep -rqaF -- "$MARK2" "$T_BASE/control"

# Search STORE for markers and names; $1 = when.
search_store() {
	local when=$1 m hits name
	for m in "$MARK" "$MARK2" "${MARK:0:12}" "PlaintextMarker 000"; do
		hits=$(grep -rlaF -- "$m" "$S" 2>&1)
		check_eq "$when: content marker '$m' found nowhere in STORE" "" "$hits"
	done
	# strings(1) as an attacker would use it, over every content file.
	hits=$(find "$S/objects" -type f -exec strings -n 6 {} + | grep -cE 'Zebra|Quokka|unicorn|PLAINTEXT')
	check_eq "$when: strings over the content files shows no plaintext" "0" "$hits"
	for name in "${NAMES[@]}"; do
		hits=$( { find "$S/objects" -name "*$name*"; grep -rlaF -- "$name" "$S/objects"; } 2>&1)
		check_eq "$when: name '$name' appears nowhere under STORE/objects" "" "$hits"
	done
	# Names are not secret, but they belong in the metadata database only.
	hits=$(grep -rlaF --exclude-dir=meta -- "${NAMES[0]}" "$S" 2>&1)
	check_eq "$when: names only in the metadata database" "" "$hits"
}

search_store "mounted, after sync"

# The object area: random 32-hex-digit names in 2-hex-digit fan-out dirs,
# every file starting with the format magic.
OBJS=$(find "$S/objects" -type f | sort)
nobj=$(printf '%s\n' "$OBJS" | grep -c .)
# large + 3 mid; tiny, one-block (exactly 16 KiB) and nested are inline
# (sealed the same way, kept in the metadata: obj.h), and the content
# markers in them were searched for in meta/ too (search_store).
check_eq "one content file per object larger than one block (16 KiB)" "4" "$nobj"
bad=$(printf '%s\n' "$OBJS" | sed "s|^$S/objects/||" | grep -vE '^([0-9a-f]{2})/\1[0-9a-f]{30}$')
check_eq "content files are named by random ids (XX/XX+30 hex)" "" "$bad"
bad=$(for f in $OBJS; do [ "$(head -c 8 "$f")" = WORMOBJ1 ] || echo "$f"; done)
check_eq "every content file starts with the magic WORMOBJ1" "" "$bad"

# Equal plaintexts, different ciphertexts: the three files holding mid.plain
# differ past their headers.
# File length = header + size + 48 bytes per block (include/obj.h).
obj_len() { echo $((512 + $1 + 48 * (($1 + 16383) / 16384))); }
want_len=$(obj_len "$(stat -c %s "$T_BASE/mid.plain")")
same=$(for f in $OBJS; do [ "$(stat -c %s "$f")" = "$want_len" ] && echo "$f"; done)
check_eq "three content files of the mid size (header + blocks)" "3" "$(printf '%s\n' "$same" | grep -c .)"
dist=$(for f in $same; do tail -c +513 "$f" | sha256sum; done | sort -u | wc -l)
check_eq "equal plaintexts have distinct ciphertexts" "3" "$dist"

# The large file's plaintext is very repetitive, yet its blocks all differ
# and no 16-byte ciphertext unit repeats (nothing ECB-like).
big=$(for f in $OBJS; do [ "$(stat -c %s "$f")" -gt 4000000 ] && echo "$f"; done)
nb=$(tail -c +513 "$big" | split -b 16432 --filter='sha256sum' - | sort -u | wc -l)
nbl=$(( ($(stat -c %s "$big") - 512 + 16431) / 16432 ))
check_eq "every block of the large content file is distinct ($nbl blocks)" "$nbl" "$nb"
rep=$(tail -c +513 "$big" | od -An -v -tx1 -w16 | sort | uniq -d | wc -l)
check_eq "no repeated 16-byte units in the large ciphertext" "0" "$rep"

# Rewriting the same content (a new write session) gives a new ciphertext:
# fresh nonces.
before=$(for f in $same; do tail -c +513 "$f" | sha256sum; done | sort)
for i in 2 4 5; do cp "$T_BASE/mid.plain" "$B/${NAMES[$i]}"; done
sync
after=$(for f in $same; do tail -c +513 "$f" 2>/dev/null | sha256sum; done | sort)
check_eq "rewrite of the same plaintext: the content files are still there" "3" \
	"$(for f in $same; do [ -f "$f" ] && echo "$f"; done | grep -c .)"
check_eq "rewrite of the same plaintext gives new ciphertexts" "" \
	"$(comm -12 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"

# Everything reads back through the mount.
check "large file reads back" cmp "$T_BASE/large.plain" "$B/${NAMES[0]}"
check "tiny file reads back" cmp "$T_BASE/tiny.plain" "$B/${NAMES[1]}"
check "mid file reads back" cmp "$T_BASE/mid.plain" "$B/${NAMES[2]}"
check "one-block file reads back" cmp "$T_BASE/oneblock.plain" "$B/${NAMES[3]}"

umount_check "$M" "encryption"
search_store "unmounted"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "store verifies after unmount" "0" "$?"

mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check "after remount: large file reads back" cmp "$T_BASE/large.plain" "$B/${NAMES[0]}"
check "after remount: nested file reads back" grep -qF "$MARK2" "$B/subdir-ocelot-name/nested-okapi-name.txt"
umount_check "$M" "encryption, remount"
done_testing
