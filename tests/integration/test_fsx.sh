#!/usr/bin/env bash
# fsx (xfstests' file operation exerciser) on a wormfs file: random reads,
# writes, truncates, fallocate-style calls (those wormfs refuses are
# detected and skipped by fsx), with and without mmap; every read is
# compared with a model of the file. After each run the store verifies
# (every block authentic), also after a remount.
#
# Regular suite: -N 20000 per variant with a fixed seed (-S). WORMFS_LONG=1:
# -N 100000 per variant. WORMFS_FSX_OPS / WORMFS_FSX_SEED override.
. "$(dirname "$0")/lib.sh"
require_binaries

FSXSH=$ROOT/../shared/tools/fsx.sh
if [ ! -x "$FSXSH" ]; then
	skip "fsx runs" "$FSXSH not found"
	done_testing
fi
if [ "$WORMFS_LONG" = 1 ]; then N=100000; else N=20000; fi
N=${WORMFS_FSX_OPS:-$N}
SEED=${WORMFS_FSX_SEED:-4242}

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount"; done_testing; }
mkdir "$M/fsxbucket" || { fail "mkdir bucket"; done_testing; }
mkdir -p "$T_BASE/fsxlogs"

# run_fsx NAME OPTIONS...: one fsx run on MNT/fsxbucket/NAME.
run_fsx() {
	local name=$1 t0 t1 rc
	shift
	t0=$(date +%s)
	"$FSXSH" "$M/fsxbucket/$name" -q -N "$N" -S "$SEED" -P "$T_BASE/fsxlogs" "$@" \
		>"$T_BASE/fsxlogs/$name.out" 2>&1
	rc=$?
	t1=$(date +%s)
	if [ $rc -eq 0 ]; then
		ok "fsx ${*:-(mmap on)} -N $N -S $SEED on a wormfs file ($((t1 - t0)) s)"
	else
		fail "fsx ${*:-(mmap on)} -N $N -S $SEED on a wormfs file (exit $rc)" \
			"$(tail -n 30 "$T_BASE/fsxlogs/$name.out")" \
			"$(tail -n 20 "$T_BASE/fsxlogs/$name.fsxlog" 2>/dev/null)" \
			"daemon: $(tail -n 10 "${MNT_LOG[$M]}")"
	fi
	diag "$(grep -vE '^$' "$T_BASE/fsxlogs/$name.out" | tail -n 3)"
}

run_fsx mmap
run_fsx nommap -R -W
# Closes and reopens the file often (1 in 50 ops): every close commits a
# generation, so this also exercises the generation rules.
run_fsx reopen -R -W -c 50
# Objects of at most one block are inline (kept in the metadata): a file
# that never grows past 16 KiB stays inline throughout, with mmap and
# frequent commits; one of up to 32 KiB moves to a content file as soon
# as it outgrows the block.
run_fsx inline -l 16384 -c 20
run_fsx spill -l 32768 -R -W -c 20

sums=$(cd "$M/fsxbucket" && sha256sum mmap nommap reopen inline spill 2>&1)
umount_check "$M" "fsx"
out=$("$WORMCTL" verify "$S" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "store verifies after fsx"; else fail "store verifies after fsx" "$out"; fi
mount_fg "$S" "$M" || { fail "remount"; done_testing; }
check_eq "fsx files read back the same after a remount" "$sums" "$(cd "$M/fsxbucket" && sha256sum mmap nommap reopen inline spill 2>&1)"
umount_check "$M" "fsx, remount"
done_testing
