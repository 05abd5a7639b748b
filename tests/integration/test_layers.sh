#!/usr/bin/env bash
# The layering check (tools/layers.py, order in tools/layers.txt, rules in
# docs/HACKING.md "Layers"). First it must fail, with the right message,
# on violations injected into a small synthetic tree compiled here: a call
# cycle, an upward call between levels and inside a module, a sideways
# call between peers, a lonely export, forbidden includes, a file missing
# from the declaration, a stale exception and the documented order drifting.
# It must pass the clean tree, and an exception must cover its violation.
# Then it checks the real build.
. "$(dirname "$0")/lib.sh"

CHECK=$ROOT/tools/layers.py
command -v nm >/dev/null || { skip "layering check" "nm (binutils) not installed"; done_testing; }
command -v python3 >/dev/null || { skip "layering check" "python3 not installed"; done_testing; }

T=$T_BASE/syn
OUT=''
RC=0

# A tree: src/{a,b,c,d}.c compiled into build/libwormcore.a.p/ as meson
# names them; levels "top" (module top: a b) over "low low2" (peers).
# a -> b -> c, a -> d.
fresh() {
	rm -rf "$T"
	mkdir -p "$T/src" "$T/docs" "$T/tools" "$T/build/libwormcore.a.p"
	cat >"$T/src/a.c" <<-'EOF'
	int b_fn(void);
	int d_fn(void);
	int main(void) { return b_fn() + d_fn(); }
	EOF
	cat >"$T/src/b.c" <<-'EOF'
	int c_fn(void);
	int b_fn(void) { return c_fn(); }
	EOF
	cat >"$T/src/c.c" <<-'EOF'
	static int c_static(void) { return 1; }
	int c_fn(void) { return c_static(); }
	EOF
	cat >"$T/src/d.c" <<-'EOF'
	int d_fn(void) { return 2; }
	EOF
	cat >"$T/tools/layers.txt" <<-'EOF'
	[levels]
	top
	low low2
	[modules]
	top: a b
	low: c
	low2: d
	[exceptions]
	EOF
	printf '# Hacking\n\n    top\n    low low2\n\n' >"$T/docs/HACKING.md"
}

# run: compile every src/*.c, run the checker; OUT and RC.
run() {
	local f
	for f in "$T"/src/*.c; do
		cc -c -o "$T/build/libwormcore.a.p/src_$(basename "$f").o" "$f" || { OUT="cc $f failed"; RC=99; return; }
	done
	OUT=$(python3 "$CHECK" --build "$T/build" --layers "$T/tools/layers.txt" --root "$T" 2>&1)
	RC=$?
}

# refused DESC REGEX: the checker exited 1 and printed a line matching REGEX.
refused() {
	if [ "$RC" -eq 1 ] && grep -Eq -- "$2" <<<"$OUT"; then
		ok "$1"
	else
		fail "$1" "exit status $RC (want 1), want a line matching: $2" "output: $OUT"
	fi
}
passed() {
	if [ "$RC" -eq 0 ]; then ok "$1"; else fail "$1" "exit status $RC" "output: $OUT"; fi
}

fresh; run
passed "the clean synthetic tree passes"
check_match "it reports what it checked" "^layers: ok \(4 files, 3 modules, 2 levels" "$OUT"

# c (low) calls back into b (top): a cycle and an upward call.
fresh
printf 'int b_fn(void);\nint c_fn(void) { return b_fn(); }\n' >"$T/src/c.c"
run
refused "a call cycle between files fails" '^layers: cycle: between files b\.c, c\.c: b\.c -> c\.c \(c_fn\) -> b\.c \(b_fn\)$'
refused "... and names the upward call" '^layers: upward call: c\.c calls b\.c \(b_fn\): module top \(level 1\) is above module low \(level 2\)$'
# The same, declared as an exception with its reason: passes.
echo 'allow c -> b: b_fn  # a test exception' >>"$T/tools/layers.txt"
run
passed "an exception with its reason covers that call and its cycle"

# d (low2) calls b (top), no cycle: still an upward call.
fresh
printf 'int b_fn(void);\nint d_fn(void) { return b_fn(); }\n' >"$T/src/d.c"
run
refused "an upward call between levels fails" '^layers: upward call: d\.c calls b\.c \(b_fn\): module top \(level 1\) is above module low2 \(level 2\)$'
check_not "... without a cycle reported" grep -q "cycle:" <<<"$OUT"

# Inside a module: declared b above a, but a calls b.
fresh
sed -i 's/^top: a b$/top: b a/' "$T/tools/layers.txt"
run
refused "an upward call inside a module fails" '^layers: upward call: a\.c calls b\.c \(b_fn\): b\.c is above a\.c in module top$'

# Peers: c calls d.
fresh
printf 'int d_fn(void);\nint c_fn(void) { return d_fn(); }\n' >"$T/src/c.c"
run
refused "a call between peer modules fails" '^layers: sideways call: c\.c calls d\.c \(d_fn\): modules low and low2 are peers \(level 2\)$'

# An export nobody else uses (a static one is fine: c_static).
fresh
echo 'int c_spare(void) { return 3; }' >>"$T/src/c.c"
run
refused "an export only its own file uses fails" '^layers: lonely export: c\.c exports c_spare, which no other file uses'
check_not "... and a static function is not one" grep -q "c_static" <<<"$OUT"
echo 'lonely c: c_spare  # a test exception' >>"$T/tools/layers.txt"
run
passed "a lonely export declared as an exception passes"

# Includes: lmdb.h outside meta, sodium.h outside crypto, fuse outside
# fs.c, a private header outside its module (not compiled: scanned).
fresh
run
printf '#include <lmdb.h>\n' >"$T/src/b_extra.h"
printf '#include <stdio.h>\n#include <sodium.h>\n' >>"$T/src/a.c"
printf '#include "d_priv.h"\n' >>"$T/src/c.c"
printf '#include <fuse_lowlevel.h>\n' >"$T/tools/x.c"
OUT=$(python3 "$CHECK" --build "$T/build" --layers "$T/tools/layers.txt" --root "$T" 2>&1); RC=$?
refused "lmdb.h outside the meta module fails" '^layers: include: src/b_extra\.h:1 includes <lmdb\.h>; only the meta module may$'
refused "sodium.h outside the crypto module fails" '^layers: include: src/a\.c:5 includes <sodium\.h>; only the crypto module may$'
refused "a module's private header elsewhere fails" '^layers: include: src/c\.c:[0-9]+ includes d_priv\.h, private to module d'
refused "fuse_lowlevel.h outside src/fs.c fails" '^layers: include: tools/x\.c:1 includes <fuse_lowlevel\.h>; only src/fs\.c'

# A built file not in the declaration; an exception that no longer happens.
fresh
echo 'int e_fn(void) { return 5; }' >"$T/src/e.c"
echo 'allow c -> b: b_fn  # a test exception' >>"$T/tools/layers.txt"
run
refused "a core file missing from the declaration fails" '^layers: unplaced: src/e\.c is built but not in \[modules\]'
refused "a stale exception fails" '^layers: stale exception: .*layers\.txt:[0-9]+: c\.c no longer calls b_fn in b\.c'

# An exception without its reason is refused outright.
fresh
echo 'allow c -> b: b_fn' >>"$T/tools/layers.txt"
run
if [ "$RC" -eq 2 ] && grep -q "an exception needs its reason" <<<"$OUT"; then
	ok "an exception without a reason is refused"
else
	fail "an exception without a reason is refused" "exit $RC" "$OUT"
fi

# The order in docs/HACKING.md drifts from the file.
fresh
printf '# Hacking\n\n    top\n    low\n' >"$T/docs/HACKING.md"
run
refused "docs/HACKING.md drifting from the declared levels fails" '^layers: docs: docs/HACKING\.md does not show the \[levels\]'

# The real build.
if ls "$BUILD"/libwormcore.a.p/*.o >/dev/null 2>&1; then
	OUT=$(python3 "$CHECK" --build "$BUILD" 2>&1); RC=$?
	passed "the wormfs build keeps its layers (tools/layers.txt)"
	diag "$OUT"
else
	fail "the wormfs build keeps its layers" "no objects in $BUILD/libwormcore.a.p: build it first"
fi

done_testing
