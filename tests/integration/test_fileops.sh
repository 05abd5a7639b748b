#!/usr/bin/env bash
# The project's file-operation exerciser (tests/integration/fileops_model.c)
# on wormfs files: seeded random reads, writes, appends, truncations,
# fallocate, mmap, fsync, close/reopen, each read compared with an
# in-memory model. Variants: plain, mmap, concurrent readers, inline-sized
# (never above 16 KiB), remount (the daemon is stopped and started between
# segments; the exerciser keeps its model in a state file and checks the
# whole file first after each remount). The store verifies after every
# variant (mounted) and at the end (unmounted), and the files read back
# the same after a last remount.
#
# Regular suite: 20,000 operations per variant. WORMFS_LONG=1: 1,000,000.
# WORMFS_FILEOPS_OPS overrides the count; WORMFS_FILEOPS_SEED the seed
# (random by default, printed: a failure names the seed that reproduces it).
# WORMFS_FILEOPS_VARIANTS="plain remount" runs only those variants.
. "$(dirname "$0")/lib.sh"
require_binaries

EXER=$T_BASE/fileops_model
if ! out=$(cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -pthread -o "$EXER" \
	"$LIB_DIR/fileops_model.c" 2>&1); then
	fail "fileops_model.c compiles" "$out"
	done_testing
fi
if [ "$WORMFS_LONG" = 1 ]; then N=1000000; SEGS=100; else N=20000; SEGS=10; fi
N=${WORMFS_FILEOPS_OPS:-$N}
SEED=${WORMFS_FILEOPS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
diag "seed $SEED, $N operations per variant (WORMFS_FILEOPS_SEED=$SEED WORMFS_FILEOPS_OPS=$N reproduces)"

S=$T_BASE/store M=$T_BASE/mnt B=$T_BASE/mnt/exercise L=$T_BASE/logs
mkdir -p "$L"
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$B" || { fail "mkdir bucket"; done_testing; }

verify_store() {
	local out rc
	out=$("$WORMCTL" verify "$S" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then ok "$1: wormctl verify clean"; else fail "$1: wormctl verify clean" "$out"; fi
}

# Same seed, same operations: two short traced runs on two files print
# the same operation log and leave the same bytes.
"$EXER" -v -s "$SEED" -n 400 -m "$B/repro1" >"$L/repro1" 2>&1
rc1=$?
"$EXER" -v -s "$SEED" -n 400 -m "$B/repro2" >"$L/repro2" 2>&1
rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$L/repro1" "$L/repro2" && cmp -s "$B/repro1" "$B/repro2" &&
	[ "$(grep -c '^op ' "$L/repro1")" = 400 ]; then
	ok "same seed, same 400 operations and the same content"
else
	fail "same seed, same 400 operations and the same content" "exit $rc1 / $rc2" \
		"$(diff "$L/repro1" "$L/repro2" | head -n 10)" "$(tail -n 20 "$L/repro1")"
fi
rm -f "$B/repro1" "$B/repro2"

VARIANTS=${WORMFS_FILEOPS_VARIANTS:-plain mmap readers inline remount}
want() { case " $VARIANTS " in *" $1 "*) return 0 ;; esac; return 1; }
TOTAL=0 VSEED=$SEED
# why LOG: the failure lines of an exerciser log, then its last operations.
why() {
	grep -vE '^  op ' "$1" | grep -vE '^(seed|ops)=' | head -n 15
	grep -E '^  op ' "$1" | tail -n 20
}

# variant NAME ARGS...: one run on B/NAME, with the next seed (each
# variant its own operation sequence).
variant() {
	local name=$1 t0 rc
	shift
	VSEED=$((VSEED + 1))
	want "$name" || return 0
	t0=$(date +%s)
	"$EXER" -s "$VSEED" -n "$N" "$@" "$B/$name" >"$L/$name" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name ($* -s $VSEED): $N operations match the model ($(($(date +%s) - t0)) s)"
		diag "$name: $(tail -n 1 "$L/$name")"
		TOTAL=$((TOTAL + N))
	else
		fail "$name ($* -s $VSEED): $N operations match the model (exit $rc)" "$(why "$L/$name")" \
			"daemon: $(tail -n 10 "${MNT_LOG[$M]}")"
	fi
	verify_store "$name"
}

# The remount variant: SEGS segments; between two, the daemon stops (its
# exit status must be 0) and the store verifies unmounted, then it mounts
# again, and the exerciser checks the whole file before going on.
remount_variant() {
	local t0 K seg bad out rc
	t0=$(date +%s)
	K=$(((N + SEGS - 1) / SEGS))
	seg=0 bad=
	while :; do
		seg=$((seg + 1))
		"$EXER" -s "$((SEED + 5))" -n "$N" -k "$K" -S "$T_BASE/remount.state" -l 65536 -m "$B/remount" \
			>>"$L/remount" 2>&1
		rc=$?
		[ $rc -eq 3 ] || break
		if ! umount_fs "$M" || [ "$UMOUNT_STATUS" -ne 0 ]; then
			bad="segment $seg: unmount failed or daemon exit status $UMOUNT_STATUS: $(tail -n 10 "${MNT_LOG[$M]}")"
			break
		fi
		if ! out=$("$WORMCTL" verify "$S" 2>&1); then
			bad="segment $seg: wormctl verify (unmounted): $out"
			break
		fi
		if ! mount_fg "$S" "$M"; then
			bad="segment $seg: mount failed"
			break
		fi
		[ $seg -le $((SEGS + 1)) ] || { bad="more segments than expected"; break; }
	done
	if [ -z "$bad" ] && [ $rc -eq 0 ]; then
		ok "remount: $N operations in $seg segments, daemon restarted $((seg - 1)) times, match the model ($(($(date +%s) - t0)) s)"
		diag "remount: $(tail -n 1 "$L/remount")"
		TOTAL=$((TOTAL + N))
	else
		fail "remount: $N operations in segments with remounts match the model" "exit $rc ${bad}" \
			"$(why "$L/remount")"
	fi
	is_mounted "$M" || mount_fg "$S" "$M" || { fail "mount after the remount variant"; done_testing; }
	verify_store "remount"
}

variant plain -l 262144
variant mmap -l 262144 -m
# One reader through the page cache, one with O_DIRECT (reaching the daemon).
variant readers -l 262144 -m -r 2
# Objects of at most one block are inline (in the metadata): this file
# never leaves it. (The others cross 16 KiB all the time.)
variant inline -l 16384

want remount && remount_variant
diag "operations exercised in total: $TOTAL"

names=$VARIANTS
sums=$(cd "$B" && sha256sum $names 2>&1)
umount_check "$M" "exerciser files"
out=$("$WORMCTL" verify "$S" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "store verifies unmounted"; else fail "store verifies unmounted" "$out"; fi
mount_fg "$S" "$M" || { fail "final mount"; done_testing; }
check_eq "exerciser files read back the same after a remount" "$sums" "$(cd "$B" && sha256sum $names 2>&1)"
umount_check "$M" "final remount"
done_testing
