#!/usr/bin/env bash
# test_fuzz.sh: builds the libFuzzer targets of tests/fuzz with clang
# (ASan + UBSan) and runs each for a fixed time from its seed corpus in
# tests/fuzz/corpus/<target>/ (the inputs found on the way go to a
# temporary directory: the repository's corpus stays as it is). A crash,
# sanitizer report, leak, timeout or failed check is a failure; the input
# is kept in WORMFS_FUZZ_ARTIFACTS. Each target's executions and coverage
# (libFuzzer's cov/ft) are printed.
#
# Environment:
#   WORMFS_FUZZ_SECONDS  per target (default 60; WORMFS_LONG=1: 3600)
#   WORMFS_FUZZ_TARGETS  only these (e.g. "policy obj")
#   WORMFS_FUZZ_DIR      build directory (default ROOT/build-fuzz)
#   WORMFS_FUZZ_ARTIFACTS  where crashing inputs go (default /tmp/wormfs-fuzz-artifacts)
#   CC_FUZZ              the compiler (default clang)
# Skips when clang cannot build a fuzzer (CI installs it: run_all.sh PKGS).
. "$(dirname "$0")/lib.sh"

CC_FUZZ=${CC_FUZZ:-clang}
FDIR=${WORMFS_FUZZ_DIR:-$ROOT/build-fuzz}
ART=${WORMFS_FUZZ_ARTIFACTS:-/tmp/wormfs-fuzz-artifacts}
SECS=${WORMFS_FUZZ_SECONDS:-$([ "$WORMFS_LONG" = 1 ] && echo 3600 || echo 60)}
ALL="policy config mount_opts meta_node kms_ring obj sigv4 s3_xml"
TARGETS=${WORMFS_FUZZ_TARGETS:-$ALL}

# Can this compiler link a fuzzer at all (clang with compiler-rt)?
probe=$T_BASE/probe.c
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! command -v "$CC_FUZZ" >/dev/null 2>&1 ||
	! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined -o "$T_BASE/probe" "$probe" >"$T_BASE/probe.log" 2>&1; then
	skip "fuzz targets" "no $CC_FUZZ with libFuzzer (apt-get install clang libclang-rt-14-dev)"
	done_testing
fi

log=$T_BASE/build.log
if [ -f "$FDIR/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$FDIR" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false >"$log" 2>&1
else
	CC=$CC_FUZZ meson setup "$FDIR" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false >"$log" 2>&1
fi
rc=$?
exes=()
for t in $TARGETS; do exes+=("fuzz_$t"); done
[ $rc -eq 0 ] && { ninja -C "$FDIR" "${exes[@]}" >>"$log" 2>&1; rc=$?; }
if [ $rc -ne 0 ]; then
	fail "build the fuzz targets with $CC_FUZZ" "$(grep -E 'error|ERROR' "$log" | head -n 20)"
	done_testing
fi
ok "build the fuzz targets with $CC_FUZZ (${exes[*]})"

mkdir -p "$ART"
# The targets' scratch stores: in memory when possible, removed after each
# run (a crashed fuzzer cannot clean up itself).
SCRATCH=$(mktemp -d /dev/shm/wormfs-fuzz.XXXXXX 2>/dev/null || mktemp -d "$T_BASE/scratch.XXXXXX")
total_execs=0
for t in $TARGETS; do
	seeds=$ROOT/tests/fuzz/corpus/$t
	work=$T_BASE/corpus-$t
	out=$T_BASE/fuzz-$t.log
	mkdir -p "$work"
	# Leaks are findings too; a slow input (30 s) is one.
	WORMFS_FUZZ_TMP=$SCRATCH ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-} \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$FDIR/fuzz_$t" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$ART/$t-" "$work" "$seeds" >"$out" 2>&1
	rc=$?
	rm -rf "${SCRATCH:?}"/* 2>/dev/null
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$out" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
	cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	if [ $rc -eq 0 ] && [ -n "$execs" ] && ! grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$out"; then
		total_execs=$((total_execs + execs))
		ok "fuzz_$t: ${SECS}s, $execs executions, cov $cov ft $ft, no crash"
	else
		fail "fuzz_$t: ${SECS}s, no crash (exit $rc after ${execs:-?} executions)" \
			"$(grep -E 'ERROR|check failed|runtime error|SUMMARY|Test unit written|artifact' "$out" | head -n 15)" \
			"$(grep -A25 -E '^==[0-9]+==ERROR|check failed' "$out" | head -n 40)"
	fi
done
rm -rf "$SCRATCH"
diag "total: $total_execs executions in ${SECS}s per target"
done_testing
