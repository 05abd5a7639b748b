#!/usr/bin/env bash
# Local KMS request quotas (design.md section 8): the bench's steady-state
# rate against the configured one, throttling through the mount (wait mode
# paces cold opens, fail mode refuses with EAGAIN and counts it, the DEK
# cache makes a second pass free), and refusals of bad [kms] settings.
#
# Timing: the only time assertion is a lower bound the limiter itself
# imposes (900 Decrypts past a burst of 100 at 100/s cannot take less than
# 9 s); nothing asserts an upper bound on time.
. "$(dirname "$0")/lib.sh"
require_binaries

RLBENCH=${RLBENCH_BIN:-$BUILD/rlbench}
S=$T_BASE/store M=$T_BASE/mnt
make_store "$S" || { fail "wormctl init"; done_testing; }
cp "$S/wormfs.conf" "$T_BASE/wormfs.conf.orig"

# jq FILTER FILE: one value from a JSON file.
jv() { jq -r "$1" "$2"; }

# stat_val FILE METRIC-WITH-LABELS: a sample's value from .wormfs/stats.
stat_val() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$1"
}
CRYPTO_REQ='wormfs_kms_requests_total{class="cryptographic"}'
CRYPTO_THR='wormfs_kms_throttled_total{class="cryptographic"}'
HITS=wormfs_dek_cache_hits_total
MISSES=wormfs_dek_cache_misses_total

# ---------------------------------------------------------------- 1. bench

# bench_check LABEL THROTTLE RATE SECONDS [extra args]: run the bench with
# 4 threads and --json, assert the steady-state accounting.
bench_check() {
	local label=$1 thr=$2 rate=$3 secs=$4 j=$T_BASE/bench.$1.json rc
	shift 4
	"$WORMCTL" kms bench "$S" --threads 4 --seconds "$secs" --rate "$rate" \
		--throttle "$thr" --json "$@" >"$j" 2>"$T_BASE/bench.err"
	rc=$?
	check_eq "bench $label: exit 0" 0 "$rc"
	if [ $rc -ne 0 ] || ! jq -e . "$j" >/dev/null 2>&1; then
		fail "bench $label: JSON output" "$(cat "$j" "$T_BASE/bench.err")"
		return 1
	fi
	diag "bench $label: warm-up drained $(jv .warmup.burst_drained "$j") in $(jv .warmup.elapsed_s "$j") s;" \
		"measured $(jv .measured.elapsed_s "$j") s: attempts $(jv .measured.attempts "$j")," \
		"admitted $(jv .measured.admitted "$j"), throttled $(jv .measured.throttled "$j")," \
		"steady $(jv .measured.steady_rate "$j")/s vs $rate/s ($(jv .measured.deviation_pct "$j") %)," \
		"admitted latency p50 $(jv .measured.latency_admitted_us.p50 "$j") us" \
		"p99 $(jv .measured.latency_admitted_us.p99 "$j") us max $(jv .measured.latency_admitted_us.max "$j") us"
	check_eq "bench $label: configured rate reported" "$rate" "$(jv .configured_rate "$j")"
	check_eq "bench $label: burst defaults to the rate" "$rate" "$(jv .configured_burst "$j")"
	check_eq "bench $label: no errors" 0 "$(jv .measured.errors "$j")"
	# The warm-up drained the whole bucket: the burst (less the one token
	# the bench's own GenerateDataKey took) plus what accrued meanwhile,
	# less at most one call per thread (4) that was admitted during the
	# warm-up but finished after another thread opened the window: such
	# calls count in the window, where they finished.
	check "bench $label: warm-up drained at least the burst" \
		jq -e ".warmup.burst_drained + .measured.admitted >= $rate - 1 and .warmup.burst_drained >= $rate - 1 - 4" "$j"
	check "bench $label: steady rate = admitted / elapsed" \
		jq -e '((.measured.admitted / .measured.elapsed_s) - .measured.steady_rate | fabs) < 0.1' "$j"
	check "bench $label: admitted within 1% of rate x time (steady rate within 1% of $rate/s)" \
		jq -e "(.measured.admitted - $rate * .measured.elapsed_s | fabs) <= 0.01 * $rate * .measured.elapsed_s" "$j"
	check "bench $label: deviation reported below 1%" jq -e '.measured.deviation_pct | fabs < 1' "$j"
	check "bench $label: throttled = attempts - admitted" \
		jq -e '.measured.throttled == .measured.attempts - .measured.admitted' "$j"
	# The KMS's own counters agree with the bench's accounting (+1: the
	# GenerateDataKey that made the key the bench decrypts).
	check "bench $label: KMS request counter = all attempts + 1" \
		jq -e '.kms_crypto_stats.requests == .warmup.attempts + .measured.attempts + .after_window.attempts + 1' "$j"
	check "bench $label: KMS throttled counter = all throttled calls" \
		jq -e '.kms_crypto_stats.throttled == .warmup.throttled + .measured.throttled + .after_window.throttled' "$j"
	check "bench $label: at most one call per thread completes after the window" \
		jq -e '.after_window.attempts <= 4' "$j"
	check "bench $label: latency percentiles ordered" \
		jq -e '.measured.latency_admitted_us | .p50 <= .p90 and .p90 <= .p99 and .p99 <= .max and .count == (.count|floor)' "$j"
	check "bench $label: every admitted call timed" \
		jq -e '.measured.latency_admitted_us.count == .measured.admitted and .measured.latency_throttled_us.count == .measured.throttled' "$j"
	if [ "$thr" = wait ]; then
		check_eq "bench $label: wait mode throttles nothing" 0 "$(jv .measured.throttled "$j")"
		check "bench $label: wait mode callers waited" jq -e '.kms_crypto_stats.wait_ns > 0' "$j"
	else
		check "bench $label: fail mode refused calls" jq -e '.measured.throttled > 0' "$j"
		check_eq "bench $label: fail mode never waits" 0 "$(jv .kms_crypto_stats.wait_ns "$j")"
	fi
}

bench_check wait-5000 wait 5000 10
bench_check wait-1000 wait 1000 5
bench_check fail-5000 fail 5000 5
bench_check fail-1000 fail 1000 5
bench_check generate-wait wait 2000 2 --op generate
check_eq "bench --op generate reported" generate "$(jv .op "$T_BASE/bench.generate-wait.json")"

# Text output names the phases and the comparison.
out=$("$WORMCTL" kms bench "$S" --threads 2 --seconds 1 --rate 1000 --throttle fail 2>&1)
check_eq "bench text: exit 0" 0 "$?"
check_match "bench text: burst drained" 'burst drained [0-9]+' "$out"
check_match "bench text: steady rate, configured rate and deviation" \
	'steady +[0-9.]+/s \(configured 1000/s, deviation [-+][0-9.]+%\)' "$out"
check_match "bench text: fail mode admitted vs rate x time" 'admitted +[0-9]+ vs rate x time [0-9.]+' "$out"
check_match "bench text: latency percentiles" 'p50 .* p90 .* p99 .* max ' "$out"
check_not "bench refuses --rate 0" "$WORMCTL" kms bench "$S" --rate 0 --seconds 1
check_not "bench refuses --throttle maybe" "$WORMCTL" kms bench "$S" --throttle maybe --seconds 1

# ---------------------------------------------------------------- 2. rlbench
if [ -x "$RLBENCH" ]; then
	out=$("$RLBENCH" 5000000 2>&1)
	rc=$?
	check_eq "rlbench: exit 0" 0 "$rc"
	diag "$out"
	# Synthetic clock, 1 ns per call, rate 1e6, burst 1000: exactly
	# 1000 + floor((N - 1) / 1000) admitted; every call at rate 1e9.
	check_match "rlbench: uncontended admits exactly burst + grid points" \
		'^uncontended: 5000000 calls, 5999 admitted' "$out"
	check_match "rlbench: rate 1e9 admits every call" \
		'all admitted: 5000000 calls, 5000000 admitted' "$out"
else
	skip "rlbench" "$RLBENCH not built"
fi

# ---------------------------------------------------------------- 3. through the mount

N=1000
# Objects are created at the default rate (each create is a GenerateDataKey).
mount_fg "$S" "$M" || { fail "mount (default rate)"; done_testing; }
ok "mounted at the default rate"
(
	set -e
	mkdir "$M/bkt"
	for i in $(seq -f %04g 1 $N); do echo "object $i" >"$M/bkt/o$i"; done
) && ok "created $N objects" || fail "created $N objects"
seq -f 'object %04g' 1 $N >"$T_BASE/expected"
umount_check "$M" "default-rate mount"

# ---- wait mode, crypto_rate=100 via -o: cold opens are paced
mount_fg "$S" "$M" -o crypto_rate=100 || { fail "mount -o crypto_rate=100"; done_testing; }
ok "mounted with -o crypto_rate=100"
cat "$M/.wormfs/stats" >"$T_BASE/st0"
check_eq "fresh mount: no crypto requests yet" 0 "$(stat_val "$T_BASE/st0" "$CRYPTO_REQ")"
check_eq "fresh mount: DEK cache empty (no misses)" 0 "$(stat_val "$T_BASE/st0" "$MISSES")"
t0=$(date +%s.%N)
cat "$M"/bkt/o* >"$T_BASE/pass1" 2>"$T_BASE/pass1.err"
rc=$?
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
diag "wait mode: $N cold reads at 100/s took $secs s"
check_eq "wait mode: all $N cold reads succeed" 0 "$rc"
check "wait mode: contents intact" cmp -s "$T_BASE/expected" "$T_BASE/pass1"
check "wait mode: $N Decrypts past a burst of 100 at 100/s take >= 8.5 s" \
	test "$(echo "$secs >= 8.5" | bc)" = 1
cat "$M/.wormfs/stats" >"$T_BASE/st1"
check_eq "wait mode: one Decrypt per cold object" $N "$(stat_val "$T_BASE/st1" "$CRYPTO_REQ")"
check_eq "wait mode: nothing throttled" 0 "$(stat_val "$T_BASE/st1" "$CRYPTO_THR")"
check_eq "wait mode: $N cache misses" $N "$(stat_val "$T_BASE/st1" "$MISSES")"
check "wait mode: wait time counted" \
	test "$(echo "$(stat_val "$T_BASE/st1" 'wormfs_kms_wait_seconds_total{class="cryptographic"}') > 0" | bc)" = 1
# Second pass within the TTL: the DEK cache answers, no Decrypt at all.
cat "$M"/bkt/o* >"$T_BASE/pass2" 2>&1
check_eq "second pass: all reads succeed" 0 "$?"
check "second pass: contents intact" cmp -s "$T_BASE/expected" "$T_BASE/pass2"
cat "$M/.wormfs/stats" >"$T_BASE/st2"
check_eq "second pass: KMS request counter unchanged" "$(stat_val "$T_BASE/st1" "$CRYPTO_REQ")" \
	"$(stat_val "$T_BASE/st2" "$CRYPTO_REQ")"
check_eq "second pass: $N cache hits" $(($(stat_val "$T_BASE/st1" "$HITS") + N)) \
	"$(stat_val "$T_BASE/st2" "$HITS")"
check_eq "second pass: no new misses" "$(stat_val "$T_BASE/st1" "$MISSES")" \
	"$(stat_val "$T_BASE/st2" "$MISSES")"
umount_check "$M" "wait-mode mount"

# ---- fail mode: -o throttle=fail,crypto_rate=100: refusals are EAGAIN
mount_fg "$S" "$M" -o throttle=fail,crypto_rate=100 || { fail "mount -o throttle=fail,crypto_rate=100"; done_testing; }
ok "mounted with -o throttle=fail,crypto_rate=100"
for i in $(seq -f %04g 1 $N); do
	"$HARNESS" read "$M/bkt/o$i"
done >"$T_BASE/fail.out" 2>&1
eagain=$(grep -cx EAGAIN "$T_BASE/fail.out")
good=$(grep -cx 'object [0-9]*' "$T_BASE/fail.out")
diag "fail mode: $good reads succeeded, $eagain refused with EAGAIN"
check "fail mode: some reads fail with EAGAIN" test "$eagain" -gt 0
check "fail mode: at least the burst (100) succeeds" test "$good" -ge 100
check_eq "fail mode: every read either succeeds or fails with EAGAIN" $N $((eagain + good))
cat "$M/.wormfs/stats" >"$T_BASE/st3"
check_eq "fail mode: stats count each refusal (throttled{cryptographic})" "$eagain" \
	"$(stat_val "$T_BASE/st3" "$CRYPTO_THR")"
check_eq "fail mode: one request per cold open" $N "$(stat_val "$T_BASE/st3" "$CRYPTO_REQ")"
check_eq "fail mode: no waiting" 0.000000000 \
	"$(stat_val "$T_BASE/st3" 'wormfs_kms_wait_seconds_total{class="cryptographic"}')"
check "daemon logs the ThrottlingException" grep -q 'ThrottlingException' "${MNT_LOG[$M]}"
# The refusal is temporary: once tokens accrue the object opens.
refused=$(awk '$0 == "EAGAIN" { printf "o%04d\n", NR; exit }' "$T_BASE/fail.out")
sleep 1.1
check_eq "fail mode: a refused object reads after tokens accrue" "object ${refused#o}" \
	"$("$HARNESS" read "$M/bkt/$refused" 2>&1)"
umount_check "$M" "fail-mode mount"

# ---- wormfs.conf settings, wait mode bounded by max_wait_ms
cp "$T_BASE/wormfs.conf.orig" "$S/wormfs.conf"
printf '[kms]\ncrypto_rate = 1\ncrypto_burst = 1\nmax_wait_ms = 100\n' >>"$S/wormfs.conf"
mount_fg "$S" "$M" || { fail "mount with [kms] crypto_rate = 1 in wormfs.conf"; done_testing; }
ok "mounted with [kms] crypto_rate = 1, max_wait_ms = 100 in wormfs.conf"
# One token a second and 100 ms of waiting: right after a cold open took
# the token, the next cold opens get EAGAIN. That holds only if the machine
# did not stall for most of a second between them, so the elapsed time is
# measured and a stalled round (told, not judged) is tried again.
refusals=0 judged=0
for round in 0 1 2; do
	[ "$round" = 0 ] || sleep 1.1
	a=$(printf %04d $((10 * round + 1))) b=$(printf %04d $((10 * round + 2)))
	c=$(printf %04d $((10 * round + 3)))
	# The limiter's slots are a grid of whole seconds of CLOCK_MONOTONIC
	# (src/ratelimit.c): start just after a boundary, so the next slot is
	# about 0.9 s away for b and c. Started anywhere, b lands within
	# max_wait_ms of the next boundary (or past it) about one time in ten
	# and rightly gets that slot.
	python3 -c 'import time; f = time.monotonic() % 1; time.sleep((0.05 - f) % 1)'
	t0=$(date +%s%N)
	ra=$("$HARNESS" read "$M/bkt/o$a")
	rb=$("$HARNESS" read "$M/bkt/o$b")
	rc_out=$(cat "$M/bkt/o$c" 2>&1)
	t1=$(date +%s%N)
	[ "$rb" = EAGAIN ] && refusals=$((refusals + 1))
	grep -q 'Resource temporarily unavailable' <<<"$rc_out" && refusals=$((refusals + 1))
	if [ $(((t1 - t0) / 1000000)) -lt 700 ]; then
		judged=1
		break
	fi
	diag "round $round took $(((t1 - t0) / 1000000)) ms (a stall): not judged, again"
done
check_eq "wait mode: a round ran without a stall" 1 "$judged"
check_eq "wait mode: first cold open takes the one token" "object $a" "$ra"
check_eq "wait mode: next slot 1 s away > max_wait_ms: EAGAIN" EAGAIN "$rb"
check_match "cat reports 'Resource temporarily unavailable'" 'Resource temporarily unavailable' "$rc_out"
check_eq "wait mode: cached object needs no token" "object $a" "$("$HARNESS" read "$M/bkt/o$a")"
cat "$M/.wormfs/stats" >"$T_BASE/st4"
check_eq "wait mode refusals counted" "$refusals" "$(stat_val "$T_BASE/st4" "$CRYPTO_THR")"
check_eq "cache hit counted" 1 "$(stat_val "$T_BASE/st4" "$HITS")"
umount_check "$M" "wormfs.conf-rate mount"
cp "$T_BASE/wormfs.conf.orig" "$S/wormfs.conf"

# ---------------------------------------------------------------- 4. bad [kms] settings

BADS=(
	"crypto_rate=0" "crypto_rate=-5" "crypto_rate=abc" "crypto_rate=99999999999"
	"crypto_rate=" "crypto_rate=5000x" "crypto_burst=0" "crypto_burst=-1"
	"crypto_burst=99999999999" "management_rate=0" "management_rate=lots"
	"management_burst=-3" "throttle=maybe" "throttle=" "max_wait_ms=-1"
	"max_wait_ms=abc" "max_wait_ms=99999999999" "dek_cache_entries=-1"
	"dek_cache_entries=99999999999" "dek_cache_ttl_s=abc" "dek_cache_ttl_s=99999999999"
)
RM=$T_BASE/mnt-refuse
mkdir -p "$RM"
_register_mount "$RM"
before=$(store_listing "$S")

# refused HOW SETTING ARGS...: the mount must fail with a config error.
refused() {
	local how=$1 kv=$2 key=${2%%=*} val=${2#*=} rc err
	shift 2
	timeout 30 "$WORMFS" "$S" "$RM" "$@" >"$T_BASE/refuse.out" 2>"$T_BASE/refuse.err" </dev/null
	rc=$?
	err=$(cat "$T_BASE/refuse.err")
	if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then ok "$how $kv: exit non-zero"; else
		fail "$how $kv: exit non-zero" "exit status $rc" "stderr: $err"; fi
	check_match "$how $kv: error names the key and the value" "'${key#kms.}'.*'$val'" "$err"
	if [ "$how" = wormfs.conf ]; then
		check_match "$how $kv: error names file and line" 'wormfs\.conf:[0-9]+:' "$err"
	fi
	if mountpoint -q "$RM"; then
		fail "$how $kv: nothing mounted"
		fusermount3 -u "$RM"
	else
		ok "$how $kv: nothing mounted"
	fi
}

for kv in "${BADS[@]}"; do
	refused -o "$kv" -o "$kv"
	{ cat "$T_BASE/wormfs.conf.orig"; printf '[kms]\n%s = %s\n' "${kv%%=*}" "${kv#*=}"; } >"$S/wormfs.conf"
	refused wormfs.conf "$kv"
	cp "$T_BASE/wormfs.conf.orig" "$S/wormfs.conf"
done
refused -o "kms.crypto_rate=0" -o "kms.crypto_rate=0"
refused "-o (after good options)" "crypto_rate=0" -o "crypto_rate=100,throttle=fail,crypto_rate=0"
cp "$T_BASE/wormfs.conf.orig" "$S/wormfs.conf"
check_eq "store unchanged by the refused mounts" "$before" "$(store_listing "$S")"

# The store still mounts with its good settings afterwards.
mount_fg "$S" "$M" -o kms.crypto_rate=100 || fail "remount after refusals"
check_eq "remount after refusals serves the objects" "object 0500" "$("$HARNESS" read "$M/bkt/o0500")"
umount_check "$M" "final mount"

done_testing
