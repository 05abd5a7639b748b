#!/usr/bin/env bash
# Lock integrity under concurrency and at depth (issue 10, items 1-3, 7-9):
#   R2  open(O_RDWR|O_TRUNC) racing the default applied at another
#       writer's release: EPERM and the committed content intact;
#   R1  two write handles released at once: the default is applied;
#   R3  a 5,000-deep object gets its bucket's default, and a rename between
#       two 5,000-deep directories of different buckets is EXDEV;
#   a directory over 1,024 levels deep without a locked object renames,
#   with one locked at the bottom it does not;
#   chmod, utimens, xattrs, truncate(2), write-opens, renames and fallocate
#   racing a retention (and, long, a default landing at a release);
#   a stress run of writers, O_TRUNC opens, truncates, renames, unlinks
#   and lock setters on the same objects, with the invariants checked by
#   the racer helper (tests/integration/racer.c).
# WORMFS_LONG=1 runs more iterations.
. "$(dirname "$0")/lib.sh"
require_binaries

RACER=$T_BASE/racer
cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -pthread -o "$RACER" "$LIB_DIR/racer.c" ||
	{ fail "racer.c compiles"; done_testing; }

if [ "$WORMFS_LONG" = 1 ]; then
	R2_N=4000 R1_N=10000 ST_ITER=40000 META_N=1000 APPEND_MS=30000
else
	R2_N=1200 R1_N=3000 ST_ITER=4000 META_N=100 APPEND_MS=6000
fi

S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
mount_fg "$S" "$M" || { fail "mount" "$(cat "${MNT_LOG[$M]}")"; done_testing; }
ok "mounted"

# field KEY LINE: the value of KEY=... in a racer output line.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

defbucket() {
	check_errno "mkdir bucket $1" OK mkdir "$M/$1"
	check_errno "bucket $1: default COMPLIANCE 1d" OK setxattr "$M/$1" \
		user.worm.default-retention "COMPLIANCE 1d"
}

# ---- R2: O_TRUNC open vs the default applied at a release
defbucket race-r2
out=$("$RACER" r2 "$M/race-r2" "$R2_N" 4)
diag "r2: $out"
check_eq "R2: no object truncated or rewritten after its default lock ($R2_N tries)" 0 \
	"$(field violations "$out")"
check_match "R2: every try accounted for" "^[0-9]+$" "$(field refused "$out")"
n=$(grep -c 'lock change op=commit.*default-retention' "${MNT_LOG[$M]}")
check_match "R2: defaults applied at the releases are logged" "^[1-9]" "$n"

# ---- R1: two write handles released at once
defbucket race-r1
out=$("$RACER" r1 "$M/race-r1" "$R1_N" 4)
diag "r1: $out"
check_eq "R1: every object with two writers closed at once is locked (4 x $R1_N)" 0 \
	"$(field mutable "$out")"

# ---- R3: 5,000 levels deep
defbucket deep-a
check_errno "mkdir bucket deep-b" OK mkdir "$M/deep-b"
out=$("$RACER" deep "$M/deep-a" "$M/deep-b" 5000)
deep_out=$out
diag "deep: $out"
check_eq "R3: object 5,000 levels deep committed" OK "$(field write "$out")"
check_eq "R3: it got the bucket default (locked)" locked "$(field state "$out")"
check_eq "R3: rename between 5,000-deep dirs of two buckets: EXDEV" EXDEV "$(field xbucket "$out")"
check_eq "R3: a directory moves into a 5,000-deep directory of its bucket" OK \
	"$(field intodeep "$out")"

# ---- deep directory rename (no depth limit refusing a legal rename)
check_errno "mkdir bucket plain" OK mkdir "$M/plain"
out=$("$RACER" deeprename "$M/plain" 1100)
diag "deeprename: $out"
check_eq "a 1,100-deep directory with no locked object renames" OK "$(field rename "$out")"
check_eq "an object at its bottom gets locked" OK "$(field lock "$out")"
check_eq "then the directory rename is refused: EPERM" EPERM "$(field lockedrename "$out")"

# ---- every other change path against a lock landing (item 8)
check_errno "mkdir bucket meta-plain" OK mkdir "$M/meta-plain"
out=$("$RACER" meta "$M/meta-plain" "$META_N" 4)
diag "meta: $out"
check_eq "no chmod, utimens, xattr, truncate, write-open, rename or fallocate succeeds once a retention is set" \
	0 "$(field violations "$out")"
if [ "$WORMFS_LONG" = 1 ]; then
	defbucket meta-def
	out=$("$RACER" metadef "$M/meta-def" 40 4)
	diag "metadef: $out"
	check_eq "none succeeds once the default landed at a release" 0 "$(field violations "$out")"
fi

# ---- appends racing autocommit and lock changes (design section 15)
check_errno "mkdir bucket append-race" OK mkdir "$M/append-race"
check_errno "its default retention" OK setxattr "$M/append-race" user.worm.default-retention "GOVERNANCE 1d"
check_errno "its default append-only" OK setxattr "$M/append-race" user.worm.default-append-only ON
check_errno "its autocommit 1s" OK setxattr "$M/append-race" user.worm.autocommit 1s
out=$("$RACER" append "$M/append-race" 4 "$APPEND_MS" 2>"$T_BASE/append.err")
diag "append: $out"
[ -s "$T_BASE/append.err" ] && diag "$(head -n 10 "$T_BASE/append.err")"
check_eq "append race: no committed byte changed, no lock lost, no acknowledged line lost" \
	0 "$(field violations "$out")"
check_match "append race: appends were acknowledged" "^[1-9]" "$(field appends "$out")"
check_match "append race: locks landed while appending (autocommit, lock changes)" "^[1-9]" \
	"$(field locked_seen "$out")"

# ---- stress: everything at once on the same few names
defbucket stress-def
check_errno "mkdir bucket stress-plain" OK mkdir "$M/stress-plain"
out=$("$RACER" stress "$M/stress-def" "$M/stress-plain" "$ST_ITER" 6 2>"$T_BASE/stress.err")
diag "stress: $out"
[ -s "$T_BASE/stress.err" ] && diag "$(head -n 10 "$T_BASE/stress.err")"
check_eq "stress: no invariant broken" 0 "$(field violations "$out")"
check_match "stress: the observer saw locked objects" "^[1-9]" "$(field seen_locked "$out")"

# The daemon survived all of it and unmounts cleanly.
umount_check "$M" "after the races"

# ---- wormctl on the store: the 5,000-deep object (a path of 10,000
# bytes) is listed and verified like any other, never skipped.
deep_ino=$(field ino "$(printf '%s\n' "$deep_out")")
deep_path="deep-a/$(printf 'd/%.0s' $(seq 5000))obj"
out=$("$WORMCTL" ls --locked "$S" 2>&1)
check_eq "wormctl ls --locked lists the 5,000-deep object by its full path" 1 \
	"$(printf '%s\n' "$out" | awk -v p="$deep_path" '$NF == p' | wc -l)"
out=$("$WORMCTL" verify "$S" 2>&1)
check_match "wormctl verify: intact" "all intact" "$out"
TAMPER=$T_BASE/tamper
libs=$(pkg-config --cflags --libs lmdb 2>/dev/null) || libs=-llmdb
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -I"$ROOT/include" -o "$TAMPER" \
	"$LIB_DIR/tamper.c" $libs && "$TAMPER" flip "$S/meta" "$deep_ino" size 0 1; then
	out=$("$WORMCTL" verify "$S" 2>&1)
	rc=$?
	check_eq "wormctl verify: the damaged 5,000-deep object fails the run" 1 "$rc"
	check_match "wormctl verify names it by its full path" \
		"DAMAGED ${deep_path}: metadata record fails authentication" "$out"
else
	fail "tamper the 5,000-deep record (inode $deep_ino)"
fi
done_testing
