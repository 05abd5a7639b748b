#!/usr/bin/env bash
# Tamper detection (design.md section 7): random damage to a store's
# content files and metadata records is always detected.
#
# A store gets ~40 objects of mixed sizes (0..200 KiB, block-size edge
# cases, two sparse ones, a header-only one); two rounds of changes through
# the mount leave older copies of most content files. Then, with the store
# unmounted, each trial damages it one way, runs `wormctl verify STORE`
# (must exit 1 and list exactly the damaged object paths) and restores the
# pristine files. Damage kinds (round robin): bit flip in a header, bit flip
# in the block area, truncation at / off a slot boundary, appended data,
# two blocks of one object swapped, same-index blocks of two objects
# swapped, an older copy of the content file, a flipped byte in an
# authenticated field of a node record (size, generation, lock fields), a
# whole non-final block slot overwritten with zeros (in an object not
# recorded as sparse, where an all-zero slot cannot be a hole), and the
# block freshness kinds (issue 12, R8/R9): one block slot replaced by its
# version in an older copy (mutable and locked objects), a data block of a
# locked sparse object zeroed, a hole of a locked sparse object filled with
# data. For these and the older copy, the mount check also reads the object
# with one pread(0, 40000) first (EIO, or all the bytes, never a short
# read) and checks that no stale byte is served (what cat prints before
# its EIO is a prefix of the real content).
# Objects of at most one block (16 KiB) keep their content inline in the
# metadata database instead (include/obj.h); their kinds: a bit flip in
# the value, the value cut short or extended, the values of two objects
# swapped, an older value of the same object, the value deleted.
# The first trial of each kind and every 20th after it are also checked
# through a mount (in batches on distinct objects): reading a damaged
# object fails with EIO; an object whose record was edited is treated as
# locked (write, unlink, chmod EPERM), its content reads EIO (no byte
# served) and stat still answers.
# Holes stay legitimate where they were written: an object written past
# its end ("holey", left alone by the change rounds) is recorded sparse
# (and only the objects written that way are), keeps all-zero slots on
# disk, reads them as zeros and verifies clean.
#
# WORMFS_TAMPER_TRIALS (default 1000), WORMFS_TAMPER_SEED (default: random,
# printed) reproduce a run.
. "$(dirname "$0")/lib.sh"
EMPTY_SUM=$(sha256sum </dev/null)
require_binaries

TRIALS=${WORMFS_TAMPER_TRIALS:-1000}
SEED=${WORMFS_TAMPER_SEED:-$(( $(date +%s%N) % 1000000007 ))}
diag "seed $SEED (WORMFS_TAMPER_SEED=$SEED reproduces), $TRIALS trials"
RANDOM=$SEED

HDR=512 BS=16384 SLOT=16432

build_tamper || { fail "tamper.c compiles"; done_testing; }

# R = random integer in [0, $1) (30 bits of $RANDOM, reproducible by seed).
rnd() { R=$(( ((RANDOM << 15) | RANDOM) % $1 )); }

S=$T_BASE/store M=$T_BASE/mnt P=$T_BASE/pristine
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
B=$M/tamper
mkdir "$B" || { fail "mkdir bucket"; done_testing; }

# ---- objects -------------------------------------------------------------
sizes=(0 1 100 4095 16383 16384 16385 32768 32769 49152 65536 81920 163840 204800)
while [ ${#sizes[@]} -lt 38 ]; do rnd 204801; sizes+=("$R"); done
i=0
for sz in "${sizes[@]}"; do
	head -c "$sz" /dev/urandom >"$B/obj$i"
	i=$((i + 1))
done
# A sparse object (holes read as zeros) and one with content that was
# truncated back to 0 (an inline value of no bytes).
dd if=/dev/urandom of="$B/sparse" bs=1000 count=1 seek=150 status=none
echo data >"$B/emptied" && truncate -s 0 "$B/emptied"
# Slots 0..5 entirely inside the hole (6 * 16384 = 98304 < 100000).
HOLEY_AT=100000 HOLEY_SLOTS=6
head -c 3000 /dev/urandom >"$T_BASE/holey.data"
dd if="$T_BASE/holey.data" of="$B/holey" bs=1000 seek=$((HOLEY_AT / 1000)) status=none
# Data blocks 0-1, holes 2-5, final block 6: a sparse object with a
# non-final data block (written in two sessions: a block map on disk).
head -c 20000 /dev/urandom >"$B/sparse2"
dd if=/dev/urandom of="$B/sparse2" bs=1000 seek=100 count=5 conv=notrunc status=none
# Rewritten within one session below (issue 12: write tags), one locked.
head -c 90000 /dev/urandom >"$B/sess"
head -c 90000 /dev/urandom >"$B/sess_lk"
umount_fs "$M" || { fail "unmount"; done_testing; }

# Two rounds of changes through the mount keep older content files: an
# append (length changes) or a same-size overwrite (only generations move).
OLD=$T_BASE/old
for round in 1 2; do
	mkdir -p "$OLD/$round"
	cp -a "$S/objects" "$S/meta" "$OLD/$round/"
	mount_fg "$S" "$M" || { fail "remount for changes, round $round"; done_testing; }
	for f in "$B"/*; do
		[ "$f" = "$B/holey" ] || [ "$f" = "$B/sparse2" ] && continue
		if [ $((RANDOM % 2)) = 0 ] || [ ! -s "$f" ]; then
			printf 'round %s' "$round" >>"$f"
		else
			printf 'X' | dd of="$f" bs=1 seek=$((RANDOM % $(stat -c %s "$f"))) conv=notrunc status=none
		fi
	done
	umount_fs "$M" || { fail "unmount after changes, round $round"; done_testing; }
done
# One session writes blocks 1 and 3 twice (one handle, no fsync between),
# and the content files are copied between the two writes: the copy holds
# an earlier version of those blocks of the same generation.
mkdir -p "$OLD/sess"
mount_fg "$S" "$M" || { fail "remount for the session round"; done_testing; }
for f in sess sess_lk; do
	python3 - "$B/$f" "$S/objects" "$OLD/sess/" <<'PY' || fail "session round: $f"
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for v in (b"first", b"second"):
    for b in (1, 3):
        os.pwrite(fd, os.urandom(64) + v, b * 16384 + 100)
    if v == b"first":
        subprocess.run(["cp", "-a", sys.argv[2], sys.argv[3]], check=True)
os.close(fd)
PY
	cp -a "$OLD/sess/objects" "$OLD/sess/objects.$f" && rm -rf "$OLD/sess/objects"
done
umount_fs "$M" || { fail "unmount after the session round"; done_testing; }

mount_fg "$S" "$M" || { fail "remount for checksums"; done_testing; }
declare -A SUM=() LOCKED=()
CONTENT=$T_BASE/content
mkdir -p "$CONTENT/tamper"
for f in "$B"/*; do SUM[${f#"$M"/}]=$(sha256sum <"$f"); cp "$f" "$CONTENT/tamper/"; done
# Sealed objects too: a third of the objects and the sparse ones locked.
nlocked=0
for f in "$B"/*; do
	case ${f##*/} in obj*[0369] | sparse* | holey | sess_lk) ;; *) continue ;; esac
	setfattr -n user.worm.retention -v "GOVERNANCE +30d" "$f" && LOCKED[${f#"$M"/}]=1 &&
		nlocked=$((nlocked + 1))
done
check_eq "locked: a third of the objects and the sparse ones" "0" "$([ "$nlocked" -ge 12 ]; echo $?)"
check_holey() { # DESC: the hole reads as zeros, the data after it intact
	if cmp -s <(head -c $HOLEY_AT "$M/tamper/holey") <(head -c $HOLEY_AT /dev/zero) &&
		cmp -s <(tail -c +$((HOLEY_AT + 1)) "$M/tamper/holey") "$T_BASE/holey.data"; then
		ok "$1"
	else
		fail "$1" "$(cmp <(head -c $HOLEY_AT "$M/tamper/holey") <(head -c $HOLEY_AT /dev/zero) 2>&1)"
	fi
}
check_holey "sparse object: the hole reads as $HOLEY_AT zero bytes, then the data written after it"
umount_fs "$M" || { fail "unmount"; done_testing; }

# Path -> inode, object file, size, sparse flag from the metadata.
META_F_SPARSE=2 META_F_INLINE=8
declare -A INO=() OFILE=() OSIZE=() FLEN=() SPARSE=()
paths=() objs=() sparse_paths=() inl=()
while read -r ino id size _gen _kver path; do
	INO[$path]=$ino
	paths+=("$path")
	fl=$("$TAMPER" get "$S/meta" "$ino" flags) || fl=-1
	if [ "$fl" -ge 0 ] && [ $((fl & META_F_INLINE)) != 0 ]; then
		inl+=("$path")
		OSIZE[$path]=$size
	elif [ "$id" != 00000000000000000000000000000000 ]; then
		OFILE[$path]=objects/${id:0:2}/$id
		OSIZE[$path]=$size
		FLEN[$path]=$(stat -c %s "$S/objects/${id:0:2}/$id")
		objs+=("$path")
	fi
	if [ "$fl" -lt 0 ] || [ $((fl & META_F_SPARSE)) != 0 ]; then
		SPARSE[$path]=1 sparse_paths+=("$path")
	fi
done < <("$TAMPER" map "$S/meta")
check_eq "all objects listed in the metadata" "${#SUM[@]}" "${#paths[@]}"
diag "${#objs[@]} content files, ${#inl[@]} inline objects, sizes ${sizes[*]}"
big=0 small=0
for p in "${paths[@]}"; do
	[ -n "${OSIZE[$p]:-}" ] || continue
	if [ "${OSIZE[$p]}" -gt $BS ]; then big=$((big + 1)); else small=$((small + 1)); fi
done
check_eq "every object larger than a block has a content file" "$big" "${#objs[@]}"
check_eq "every object of at most a block is inline" "$small" "${#inl[@]}"
check_eq "recorded sparse: exactly the objects written past their end" \
	"tamper/holey tamper/sparse tamper/sparse2" "$(printf '%s\n' "${sparse_paths[@]}" | sort | tr '\n' ' ' | sed 's/ $//')"

out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "pristine store verifies (exit 0)" "0" "$?"
[ -n "${objs[0]:-}" ] || { fail "objects exist"; done_testing; }
cp -a "$S" "$P"
LIST0=$(store_listing "$S")

# Older copies that differ from the current file: "path round".
oldpairs=()
for p in "${objs[@]}"; do
	for round in 1 2; do
		o=$OLD/$round/${OFILE[$p]}
		[ -f "$o" ] && ! cmp -s "$o" "$S/${OFILE[$p]}" && oldpairs+=("$p $round")
	done
done
diag "${#oldpairs[@]} older content files kept"
# Older inline values that differ from the current one: "path round".
VAL=$T_BASE/values
mkdir -p "$VAL"
ioldpairs=()
for p in "${inl[@]}"; do
	"$TAMPER" iget "$S/meta" "${INO[$p]}" "$VAL/${INO[$p]}.now"
	for round in 1 2; do
		"$TAMPER" iget "$OLD/$round/meta" "${INO[$p]}" "$VAL/${INO[$p]}.$round" 2>/dev/null &&
			! cmp -s "$VAL/${INO[$p]}.$round" "$VAL/${INO[$p]}.now" && ioldpairs+=("$p $round")
	done
done
diag "${#ioldpairs[@]} older inline values kept"

# ---- damage --------------------------------------------------------------
# Each sets CHANGED (store-relative files it modified), EXPECT (damaged
# paths, sorted, space separated), REC (record edit "ino field byte xor")
# and WHAT (description for diagnostics).

nslots() { # number of block slots of a size
	local s=$1
	echo $(( (s + BS - 1) / BS ))
}

# Full-length slots of an object: 0..n-2, and n-1 when the size is a
# multiple of the block size.
full_slots() {
	local s=${OSIZE[$1]} n
	n=$(nslots "$s")
	if [ "$n" -gt 0 ] && [ $((s % BS)) = 0 ]; then echo "$n"; else echo $((n > 0 ? n - 1 : 0)); fi
}

# The bytes of full slot $2 of file $1.
slot_bytes() { head -c $((HDR + ($2 + 1) * SLOT)) "$1" | tail -c $SLOT; }
# A slot of zero bytes on disk is a hole and reads as zeros by design in an
# object recorded as sparse (include/obj.h), so moving a hole over a block
# there is no damage to detect. Other objects have no all-zero slots.
is_hole() { cmp -s <(slot_bytes "$1" "$2") <(head -c $SLOT /dev/zero); }

pick_obj() { rnd ${#objs[@]}; PO=${objs[$R]}; }
pick_nonempty() { while :; do pick_obj; [ "${OSIZE[$PO]}" -gt 0 ] && return; done; }

d_hdrflip() {
	pick_obj
	rnd $HDR; local off=$R; rnd 8
	"$TAMPER" xor "$S/${OFILE[$PO]}" "$off" $((1 << R))
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="header bit flip at $off"
}

d_blkflip() {
	pick_nonempty
	rnd $(( FLEN[$PO] - HDR )); local off=$((HDR + R)); rnd 8
	"$TAMPER" xor "$S/${OFILE[$PO]}" "$off" $((1 << R))
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="block bit flip at $off (slot $(( (off - HDR) / SLOT )))"
}

d_trunc_at() {
	pick_nonempty
	local n
	n=$(nslots "${OSIZE[$PO]}")
	rnd "$n"
	truncate -s $((HDR + R * SLOT)) "$S/${OFILE[$PO]}"
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="truncated at slot boundary $R of $n"
}

d_trunc_off() {
	local len
	while :; do
		pick_obj
		rnd "${FLEN[$PO]}"; len=$R
		[ "$len" -ge $HDR ] && [ $(( (len - HDR) % SLOT )) = 0 ] && continue
		break
	done
	truncate -s "$len" "$S/${OFILE[$PO]}"
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="truncated to $len of ${FLEN[$PO]}"
}

d_append() {
	pick_obj
	local f=$S/${OFILE[$PO]}
	rnd 4
	case $R in
	0) rnd 64; head -c $((R + 1)) /dev/urandom >>"$f"; WHAT="appended $((R + 1)) random bytes" ;;
	1) head -c $SLOT /dev/zero >>"$f"; WHAT="appended a zero slot (a hole)" ;;
	2) head -c $SLOT /dev/urandom >>"$f"; WHAT="appended a random slot" ;;
	3) if [ "${FLEN[$PO]}" -gt $HDR ]; then
		# A copy of the object's own first block, as slot n.
		local l=$((FLEN[$PO] - HDR < SLOT ? FLEN[$PO] - HDR : SLOT))
		head -c $((HDR + l)) "$f" | tail -c "$l" >"$T_BASE/slot" && cat "$T_BASE/slot" >>"$f"
		WHAT="appended a copy of its first block"
	   else
		printf 'x' >>"$f"; WHAT="appended 1 byte to a header-only file"
	   fi ;;
	esac
	CHANGED=${OFILE[$PO]} EXPECT=$PO
}

d_swap_in() {
	local n i j f
	while :; do
		pick_obj
		n=$(full_slots "$PO")
		[ "$n" -ge 2 ] || continue
		rnd "$n"; i=$R; rnd "$n"; j=$R
		[ "$i" = "$j" ] && continue
		f=$S/${OFILE[$PO]}
		# Two holes are identical: the swap would change nothing.
		cmp -s <(slot_bytes "$f" "$i") <(slot_bytes "$f" "$j") && continue
		break
	done
	"$TAMPER" swap "$f" $((HDR + i * SLOT)) "$f" $((HDR + j * SLOT)) $SLOT
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="blocks $i and $j swapped"
}

d_swap_x() {
	local a b n i
	while :; do
		pick_obj; a=$PO; pick_obj; b=$PO
		[ "$a" = "$b" ] && continue
		n=$(full_slots "$a"); i=$(full_slots "$b")
		[ "$i" -lt "$n" ] && n=$i
		[ "$n" -ge 1 ] || continue
		rnd "$n"; i=$R
		is_hole "$S/${OFILE[$a]}" "$i" || is_hole "$S/${OFILE[$b]}" "$i" || break
	done
	"$TAMPER" swap "$S/${OFILE[$a]}" $((HDR + i * SLOT)) "$S/${OFILE[$b]}" $((HDR + i * SLOT)) $SLOT
	CHANGED="${OFILE[$a]} ${OFILE[$b]}" WHAT="block $i swapped between two objects"
	EXPECT=$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ' | sed 's/ $//')
}

d_oldcopy() {
	rnd ${#oldpairs[@]}
	local p=${oldpairs[$R]%% *} round=${oldpairs[$R]##* }
	cp "$OLD/$round/${OFILE[$p]}" "$S/${OFILE[$p]}"
	CHANGED=${OFILE[$p]} EXPECT=$p WHAT="older copy (before change round $round)"
}

# R8: one slot replaced by its version in an older copy of the file.
d_oldslot() {
	rnd ${#oldslots[@]}
	local t=${oldslots[$R]} p round i
	read -r p round i <<<"$t"
	slot_bytes "$OLD/$round/${OFILE[$p]}" "$i" >"$T_BASE/slot"
	dd if="$T_BASE/slot" of="$S/${OFILE[$p]}" bs=$SLOT oflag=seek_bytes \
		seek=$((HDR + i * SLOT)) conv=notrunc status=none
	CHANGED=${OFILE[$p]} EXPECT=$p
	WHAT="slot $i replaced by its version before round $round${LOCKED[$p]:+ (locked)}"
}

# One slot replaced by its earlier version of the same session (same
# generation: only the write tag in its AD tells them apart).
d_sessslot() {
	rnd ${#sessslots[@]}
	local p i
	read -r p i <<<"${sessslots[$R]}"
	slot_bytes "$OLD/sess/objects.${p#tamper/}/${OFILE[$p]#objects/}" "$i" >"$T_BASE/slot"
	dd if="$T_BASE/slot" of="$S/${OFILE[$p]}" bs=$SLOT oflag=seek_bytes \
		seek=$((HDR + i * SLOT)) conv=notrunc status=none
	CHANGED=${OFILE[$p]} EXPECT=$p
	WHAT="slot $i replaced by its earlier version of the same session${LOCKED[$p]:+ (locked)}"
}

# R9: a data block of a locked sparse object (sparse2: blocks 0, 1) zeroed.
d_zero_sparse() {
	rnd 2
	"$TAMPER" zero "$S/${OFILE[tamper/sparse2]}" $((HDR + R * SLOT)) $SLOT
	CHANGED=${OFILE[tamper/sparse2]} EXPECT=tamper/sparse2
	WHAT="data slot $R of a locked sparse object zeroed"
}

# R9: a hole of a locked sparse object (holey 0-5, sparse2 2-5) turned into
# data: an authentic data slot of the same object, or random bytes.
d_hole_filled() {
	local p i src
	rnd 2
	if [ "$R" = 0 ]; then p=tamper/holey; rnd $HOLEY_SLOTS; i=$R; else p=tamper/sparse2; rnd 4; i=$((R + 2)); fi
	rnd 2
	if [ "$R" = 0 ] && [ "$p" = tamper/sparse2 ]; then
		slot_bytes "$S/${OFILE[$p]}" 0 >"$T_BASE/slot"; src="its data slot 0"
	else
		head -c $SLOT /dev/urandom >"$T_BASE/slot"; src="random bytes"
	fi
	dd if="$T_BASE/slot" of="$S/${OFILE[$p]}" bs=$SLOT oflag=seek_bytes \
		seek=$((HDR + i * SLOT)) conv=notrunc status=none
	CHANGED=${OFILE[$p]} EXPECT=$p WHAT="hole slot $i of a locked sparse object filled with $src"
}

# A whole non-final slot of an object not recorded sparse becomes zeros:
# read as a hole it would silently give zeros, so it must count as damage.
d_zeroed() {
	local n i
	while :; do
		rnd ${#zeroable[@]}; PO=${zeroable[$R]}
		n=$(nslots "${OSIZE[$PO]}")
		rnd $((n - 1)); i=$R
		# Never true outside sparse objects; kept as a guard.
		is_hole "$S/${OFILE[$PO]}" "$i" || break
	done
	"$TAMPER" zero "$S/${OFILE[$PO]}" $((HDR + i * SLOT)) $SLOT
	CHANGED=${OFILE[$PO]} EXPECT=$PO WHAT="block slot $i of $n zeroed"
}

# REC = "SUBCOMMAND ARGS...": a tamper(1) edit of STORE/meta, replayed for
# the mount checks.
# "script FILE" runs the edits listed in FILE, one per line.
tamper_meta() {
	local c=$1 sc args
	shift
	if [ "$c" = script ]; then
		while read -r sc args; do
			# shellcheck disable=SC2086
			"$TAMPER" "$sc" "$S/meta" $args || return 1
		done <"$1"
	else
		"$TAMPER" "$c" "$S/meta" "$@"
	fi
}

# Inline kinds: edit a copy of the value, then put it back as REC.
IVN=0
new_ival() { IVN=$((IVN + 1)); IV=$VAL/edit.$IVN; }
pick_inl() { rnd ${#inl[@]}; PO=${inl[$R]}; }

d_i_flip() {
	local len
	pick_inl; new_ival
	cp "$VAL/${INO[$PO]}.now" "$IV"
	len=$(stat -c %s "$IV"); rnd "$len"; local off=$R; rnd 8
	"$TAMPER" xor "$IV" "$off" $((1 << R))
	REC="iput ${INO[$PO]} $IV"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb EXPECT=$PO WHAT="inline value bit flip at $off of $len"
}

d_i_cut() {
	local len
	pick_inl; new_ival
	cp "$VAL/${INO[$PO]}.now" "$IV"
	len=$(stat -c %s "$IV")
	rnd 2
	if [ "$R" = 0 ]; then
		rnd "$len"; truncate -s "$R" "$IV"; WHAT="inline value cut to $R of $len bytes"
	else
		rnd 64; head -c $((R + 1)) /dev/urandom >>"$IV"; WHAT="inline value extended by $((R + 1)) bytes"
	fi
	REC="iput ${INO[$PO]} $IV"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb EXPECT=$PO
}

d_i_swap() {
	local a b
	while :; do pick_inl; a=$PO; pick_inl; b=$PO; [ "$a" != "$b" ] && break; done
	# One edit of two values: the pair is replayed as a small script.
	new_ival
	printf '%s\n' "iput ${INO[$a]} $VAL/${INO[$b]}.now" "iput ${INO[$b]} $VAL/${INO[$a]}.now" >"$IV"
	REC="script $IV"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb WHAT="inline values of two objects swapped"
	EXPECT=$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ' | sed 's/ $//')
}

d_i_old() {
	rnd ${#ioldpairs[@]}
	local p=${ioldpairs[$R]%% *} round=${ioldpairs[$R]##* }
	REC="iput ${INO[$p]} $VAL/${INO[$p]}.$round"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb EXPECT=$p WHAT="older inline value (before change round $round)"
}

d_i_del() {
	pick_inl
	REC="idel ${INO[$PO]}"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb EXPECT=$PO WHAT="inline value deleted"
}

RFIELDS=(size:8 generation:8 lock_mode:4 hold:4 sealed:4 retain_until:8)
d_record() {
	local fl
	rnd ${#paths[@]}; PO=${paths[$R]}
	rnd ${#RFIELDS[@]}; fl=${RFIELDS[$R]}
	rnd "${fl#*:}"; local byte=$R; rnd 255; local x=$((R + 1))
	REC="flip ${INO[$PO]} ${fl%:*} $byte $x"
	# shellcheck disable=SC2086  # REC is split into its words on purpose
	tamper_meta $REC
	CHANGED=meta/data.mdb EXPECT=$PO WHAT="record field ${fl%:*} byte $byte ^ $x"
}

# Slots that differ from their version in an older copy: "path round slot"
# (full slots in both; a hole in one of them counts).
oldslots=()
for pr in "${oldpairs[@]}"; do
	p=${pr%% *} round=${pr##* }
	o=$OLD/$round/${OFILE[$p]}
	n=$(full_slots "$p")
	for ((i = 0; i < n; i++)); do
		[ "$(stat -c %s "$o")" -ge $((HDR + (i + 1) * SLOT)) ] || break
		cmp -s <(slot_bytes "$o" "$i") <(slot_bytes "$S/${OFILE[$p]}" "$i") || oldslots+=("$p $round $i")
	done
done
nlk=0
for t in "${oldslots[@]}"; do [ -n "${LOCKED[${t%% *}]:-}" ] && nlk=$((nlk + 1)); done
diag "${#oldslots[@]} slots with an older version ($nlk of locked objects)"
check_eq "older slot versions exist for mutable and locked objects" "0" \
	"$([ "$nlk" -gt 0 ] && [ "$nlk" -lt "${#oldslots[@]}" ]; echo $?)"
sessslots=()
for p in tamper/sess tamper/sess_lk; do
	o=$OLD/sess/objects.${p#tamper/}/${OFILE[$p]#objects/}
	for i in 1 3; do
		cmp -s <(slot_bytes "$o" "$i") <(slot_bytes "$S/${OFILE[$p]}" "$i") || sessslots+=("$p $i")
	done
done
check_eq "earlier versions of the same session: blocks 1 and 3 of a mutable and a locked object" \
	"tamper/sess 1|tamper/sess 3|tamper/sess_lk 1|tamper/sess_lk 3" "$(IFS='|'; echo "${sessslots[*]}")"
holes=0
for ((i = 0; i < HOLEY_SLOTS; i++)); do is_hole "$S/${OFILE[tamper/holey]}" "$i" && holes=$((holes + 1)); done
check_eq "sparse object: its $HOLEY_SLOTS hole slots are all zero on disk" "$HOLEY_SLOTS" "$holes"
zeroable=()  # objects not recorded sparse with a non-final block
for p in "${objs[@]}"; do
	[ -z "${SPARSE[$p]:-}" ] && [ "$(nslots "${OSIZE[$p]}")" -ge 2 ] && zeroable+=("$p")
done
diag "${#zeroable[@]} objects with a non-final block to zero"

KINDS=(hdrflip blkflip trunc_at trunc_off append swap_in swap_x oldcopy record zeroed
	i_flip i_cut i_swap i_old i_del oldslot zero_sparse hole_filled sessslot)
declare -A TRIED=() CAUGHT=() FAILS=() MNT_DUE=() MNT_K=()
for k in "${KINDS[@]}"; do TRIED[$k]=0 CAUGHT[$k]=0 FAILS[$k]='' MNT_DUE[$k]=0 MNT_K[$k]=0; done

restore() {
	local f
	for f in $1; do cp -p "$P/$f" "$S/$f"; done
}

# ---- through-mount batches -------------------------------------------------
PEND=$T_BASE/pending
mkdir -p "$PEND"
pend_n=0
declare -A PEND_OBJ=()
pend_desc=() pend_kind=() pend_expect=() pend_rec=()
mnt_ok=0 mnt_bad=0 mnt_fails=()

# Save the current damage (files as damaged now, or the record edit) for a
# later mount check; false when it touches an object already pending.
pend_save() {
	local p f d
	for p in $EXPECT; do [ -n "${PEND_OBJ[$p]:-}" ] && return 1; done
	d=$PEND/$pend_n
	mkdir -p "$d"
	if [ -z "$REC" ]; then
		for f in $CHANGED; do mkdir -p "$d/$(dirname "$f")"; cp -p "$S/$f" "$d/$f"; done
	fi
	for p in $EXPECT; do PEND_OBJ[$p]=1; done
	pend_desc[pend_n]="$1: $WHAT"
	pend_kind[pend_n]=$1
	pend_expect[pend_n]=$EXPECT
	pend_rec[pend_n]=$REC
	pend_n=$((pend_n + 1))
}

mnt_result() { # ok|fail DESC [diag]; an ok counts for kind MKIND if set
	if [ "$1" = ok ]; then
		mnt_ok=$((mnt_ok + 1))
		[ -n "$MKIND" ] && MNT_K[$MKIND]=$((MNT_K[$MKIND] + 1))
	else mnt_bad=$((mnt_bad + 1)); mnt_fails+=("$2${3:+ ($3)}"); fi
}

# Block freshness through the mount: one pread(0, 40000) is EIO or returns
# all the bytes asked for, all of them current; cat serves no stale byte
# before its EIO.
STALE_BYTES=0
fresh_check() { # PATH DESC
	local p=$1 want got n
	want=$(stat -c %s "$CONTENT/$p"); [ "$want" -gt 40000 ] && want=40000
	got=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    b = os.pread(fd, 40000, 0)
except OSError as e:
    print("EIO" if e.errno == 5 else "errno %d" % e.errno); sys.exit(0)
open(sys.argv[2], "wb").write(b); print(len(b))' "$M/$p" "$T_BASE/pread.out")
	if [ "$got" = EIO ] || { [ "$got" = "$want" ] && cmp -s -n "$want" "$T_BASE/pread.out" "$CONTENT/$p"; }; then
		mnt_result ok
	else
		mnt_result fail "$2: pread(0, 40000) of $p" "got $got of $want bytes (short or stale)"
	fi
	cat "$M/$p" >"$T_BASE/cat.out" 2>/dev/null
	n=$(stat -c %s "$T_BASE/cat.out")
	if cmp -s -n "$n" "$T_BASE/cat.out" "$CONTENT/$p"; then
		mnt_result ok
	else
		STALE_BYTES=$((STALE_BYTES + 1))
		mnt_result fail "$2: cat $p served stale bytes" "$(cmp "$T_BASE/cat.out" "$CONTENT/$p" 2>&1 | head -n 1)"
	fi
}

pend_check() {
	local n d f p got sum control inmeta=0
	[ "$pend_n" -gt 0 ] || return 0
	for ((n = 0; n < pend_n; n++)); do
		d=$PEND/$n
		if [ -n "${pend_rec[n]}" ]; then
			# shellcheck disable=SC2086
			tamper_meta ${pend_rec[n]}
			inmeta=1
		else
			(cd "$d" && find . -type f) | while read -r f; do cp -p "$d/$f" "$S/$f"; done
		fi
	done
	# An edit of meta/ changes the state digest: the mount is refused.
	# Accepted by an operator (wormctl repair digest), each record's own
	# check must still refuse the damage below.
	if [ "$inmeta" = 1 ]; then
		MKIND=record
		if digest_reseal "$S"; then mnt_result ok
		else mnt_result fail "a batch with meta/ edits: mount refused (state digest)"; fi
	fi
	if ! mount_fg "$S" "$M"; then
		mnt_result fail "mount for a batch of $pend_n damaged objects"
	else
		for ((n = 0; n < pend_n; n++)); do
			MKIND=${pend_kind[n]}
			for p in ${pend_expect[n]}; do
				case ${pend_kind[n]} in oldcopy | oldslot | zero_sparse | hole_filled)
					fresh_check "$p" "${pend_desc[n]}" ;;
				esac
				if [ "${pend_kind[n]}" != record ]; then
					sum=$(cat "$M/$p" 2>"$T_BASE/err" | sha256sum)
					got=$(cat "$T_BASE/err")
					case $got in
					*"Input/output error"*) mnt_result ok ;;
					*)
						# Data appended past the recorded size is never
						# read: the content must come back unchanged.
						if [ "${pend_kind[n]}" = append ] && [ -z "$got" ] && [ "$sum" = "${SUM[$p]}" ]; then
							mnt_result ok
						else
							mnt_result fail "${pend_desc[n]}: cat $p" "got '${got:-no error}'"
						fi ;;
					esac
					continue
				fi
				for op in "append $M/$p x" "unlink $M/$p" "chmod $M/$p 0600"; do
					# shellcheck disable=SC2086
					got=$("$HARNESS" $op)
					if [ "$got" = EPERM ]; then mnt_result ok
					else mnt_result fail "${pend_desc[n]}: ${op%% *}" "got $got, expected EPERM"; fi
				done
				# A record that fails authentication proves nothing about
				# which bytes are current: its content reads EIO, none
				# served (issue 12; stat and the lock state still answer).
				sum=$(cat "$M/$p" 2>"$T_BASE/err" | sha256sum)
				if grep -q "Input/output error" "$T_BASE/err" && [ "$sum" = "$EMPTY_SUM" ]; then
					mnt_result ok
				else
					mnt_result fail "${pend_desc[n]}: read $p" "$(cat "$T_BASE/err") sum $sum"
				fi
				if stat "$M/$p" >/dev/null 2>&1; then mnt_result ok
				else mnt_result fail "${pend_desc[n]}: stat $p still answers"; fi
			done
		done
		MKIND=
		# An undamaged object in the same mount still reads exactly.
		for control in "${paths[@]}"; do [ -z "${PEND_OBJ[$control]:-}" ] && break; done
		if [ "$(sha256sum <"$M/$control" 2>&1)" = "${SUM[$control]}" ]; then mnt_result ok
		else mnt_result fail "undamaged $control reads back in a batch"; fi
		umount_fs "$M" || mnt_result fail "unmount after a batch"
	fi
	for ((n = 0; n < pend_n; n++)); do
		d=$PEND/$n
		(cd "$d" && find . -type f) | while read -r f; do cp -p "$P/$f" "$S/$f"; done
		rm -rf "$d"
	done
	cp -p "$P/meta/data.mdb" "$S/meta/data.mdb"
	# The mount advanced the store head: with meta/ back to the pristine
	# copy, STORE/head goes back too (else that is a metadata rollback).
	[ -f "$P/head" ] && cp -p "$P/head" "$S/head"
	PEND_OBJ=() pend_desc=() pend_kind=() pend_expect=() pend_rec=()
	pend_n=0
}

# ---- trials ----------------------------------------------------------------
t0=$(date +%s)
MKIND=
for ((t = 0; t < TRIALS; t++)); do
	k=${KINDS[t % ${#KINDS[@]}]}
	CHANGED='' EXPECT='' REC='' WHAT=''
	"d_$k"
	# An edit of meta/ changes the metadata state digest too.
	want=$EXPECT
	# shellcheck disable=SC2086
	[ "$CHANGED" = meta/data.mdb ] &&
		want=$(printf '%s\n' $EXPECT meta/kv/state_digest | sort | tr '\n' ' ' | sed 's/ $//')
	TRIED[$k]=$((TRIED[$k] + 1))
	out=$("$WORMCTL" verify "$S" 2>&1)
	rc=$?
	got=$(printf '%s\n' "$out" | sed -n 's/^DAMAGED \(.*\): [^:]*$/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$rc" = 1 ] && [ "$got" = "$want" ]; then
		CAUGHT[$k]=$((CAUGHT[$k] + 1))
	else
		FAILS[$k]+="trial $t: $WHAT on $EXPECT: exit $rc, listed '$got': $(printf '%s' "$out" | head -n 3 | tr '\n' '|')"$'\n'
	fi
	# Through a mount too: the first trial of each kind and every 20th.
	[ $((TRIED[$k] % 20)) = 1 ] && MNT_DUE[$k]=1
	if [ "${MNT_DUE[$k]}" = 1 ] && pend_save "$k"; then MNT_DUE[$k]=0; fi
	restore "$CHANGED"
	[ "$pend_n" -ge 12 ] && pend_check
done
pend_check
t1=$(date +%s)

total=0 caught=0
for k in "${KINDS[@]}"; do
	total=$((total + TRIED[$k])) caught=$((caught + CAUGHT[$k]))
	if [ "${CAUGHT[$k]}" = "${TRIED[$k]}" ] && [ "${TRIED[$k]}" -gt 0 ]; then
		ok "$k: ${CAUGHT[$k]}/${TRIED[$k]} detected by wormctl verify (exit 1, exactly the damaged paths)"
	else
		fail "$k: ${CAUGHT[$k]}/${TRIED[$k]} detected by wormctl verify (exit 1, exactly the damaged paths)" \
			"$(printf '%s' "${FAILS[$k]}" | head -n 10)"
	fi
done
diag "$caught/$total trials detected offline in $((t1 - t0)) s (seed $SEED)"
if [ "$mnt_bad" = 0 ] && [ "$mnt_ok" -gt 0 ]; then
	ok "through the mount: $mnt_ok checks (EIO on damaged reads, EPERM + EIO reads on edited records, control object intact)"
else
	fail "through the mount: $mnt_bad of $((mnt_ok + mnt_bad)) checks failed" "${mnt_fails[@]:0:10}"
fi
unchecked='' per_kind=''
for k in "${KINDS[@]}"; do
	per_kind+=" $k=${MNT_K[$k]}"
	[ "${TRIED[$k]}" -gt 0 ] && [ "${MNT_K[$k]}" = 0 ] && unchecked+=" $k"
done
diag "passed mount checks per kind:$per_kind"
check_eq "no stale bytes served through the mount" "0" "$STALE_BYTES"
check_eq "every damage kind tried was also checked through the mount" "" "$unchecked"

check_eq "store restored to its pristine files after all trials" "$LIST0" "$(store_listing "$S")"
out=$("$WORMCTL" verify "$S" 2>&1)
check_eq "restored store verifies (exit 0)" "0" "$?"
if mount_fg "$S" "$M"; then
	check_holey "sparse object after all trials: the hole still reads as zeros"
	umount_fs "$M" || fail "unmount after the final hole check"
else
	fail "mount for the final hole check"
fi
done_testing
