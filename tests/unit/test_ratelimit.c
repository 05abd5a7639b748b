/* ratelimit: GCRA under a fake clock. Everything is exact: counts over a
 * window are checked against floor(t*rate/1e9) computed independently in
 * 128-bit arithmetic. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit.h"

#define NS 1000000000ull

/* Reference: grid index floor(t * rate / 1e9) with 128-bit math. */
static uint64_t ref_index(uint64_t t, uint64_t rate)
{
	return (uint64_t)(((unsigned __int128)t * rate) / NS);
}

/* Reference: first time with index >= k, ceil(k * 1e9 / rate). */
static uint64_t ref_time(uint64_t k, uint64_t rate)
{
	return (uint64_t)(((unsigned __int128)k * NS + rate - 1) / rate);
}

/* Drive a saturated limiter from t0 to t1 (inclusive): at each event time
 * take until refused, then jump to exactly now + retry_ns. Also checks that
 * retry_ns is exact: one ns earlier is still refused. */
static uint64_t drain_window(struct rl_gcra *g, uint64_t t0, uint64_t t1)
{
	uint64_t now = t0, count = 0, retry = 0;

	for (;;) {
		while (rl_take(g, now, &retry) == 0)
			count++;
		cr_assert(retry > 0);
		if (now + retry > t1)
			break;
		if (retry > 1)
			cr_assert_eq(rl_take(g, now + retry - 1, NULL), -EAGAIN);
		now += retry;
	}
	return count;
}

Test(ratelimit, init_rejects_bad_params)
{
	struct rl_gcra g;

	cr_assert_eq(rl_init(&g, 0, 1), -EINVAL);
	cr_assert_eq(rl_init(&g, 1, 0), -EINVAL);
	cr_assert_eq(rl_init(&g, RL_MAX_RATE + 1, 1), -EINVAL);
	cr_assert_eq(rl_init(&g, 1, RL_MAX_BURST + 1), -EINVAL);
	cr_assert_eq(rl_init(&g, RL_MAX_RATE, RL_MAX_BURST), 0);
	cr_assert_eq(g.interval_ns, 1);
	cr_assert_eq(rl_init(&g, 3, 4), 0);
	cr_assert_eq(g.interval_ns, 333333333);
	cr_assert_eq(g.interval_rem, 1);
	cr_assert_eq(g.tolerance_ns, 1000000000);
}

Test(ratelimit, exact_count_over_10s)
{
	static const uint64_t rates[] = { 1, 3, 7, 100, 5000, 1000000 };
	static const uint64_t bursts[] = { 1, 5 };
	size_t i, j;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		for (j = 0; j < 2; j++) {
			struct rl_gcra g;
			uint64_t t0 = 7 * NS + 123456789;   /* off-grid start */

			cr_assert_eq(rl_init(&g, rates[i], bursts[j]), 0);
			uint64_t n = drain_window(&g, t0, t0 + 10 * NS);
			cr_assert_eq(n, rates[i] * 10 + bursts[j],
				     "rate %lu burst %lu: %lu admitted",
				     (unsigned long)rates[i], (unsigned long)bursts[j],
				     (unsigned long)n);
		}
	}
}

Test(ratelimit, fixed_step_clock_matches_reference)
{
	static const uint64_t rates[] = { 3, 7, 5000, 333333333 };
	static const uint64_t steps[] = { 1000000, 37013, 1, 5 };
	size_t i;

	for (i = 0; i < 4; i++) {
		struct rl_gcra g;
		uint64_t t0 = 999999999999ull, now = t0, count = 0, k;

		/* Steps of at most burst intervals: the bucket never overflows. */
		cr_assert_eq(rl_init(&g, rates[i], 2), 0);
		for (k = 0; k < 200000; k++, now += steps[i])
			while (rl_take(&g, now, NULL) == 0)
				count++;
		now -= steps[i];
		cr_assert_eq(count, ref_index(now, rates[i]) - ref_index(t0, rates[i]) + 2,
			     "rate %lu", (unsigned long)rates[i]);
	}
}

Test(ratelimit, burst_from_idle_and_refusal_consumes_nothing)
{
	struct rl_gcra g;
	uint64_t now = 5 * NS + 1, retry = 0, tat, i;

	cr_assert_eq(rl_init(&g, 100, 10), 0);
	for (i = 0; i < 10; i++)
		cr_assert_eq(rl_take(&g, now, NULL), 0);
	tat = atomic_load(&g.tat);
	for (i = 0; i < 1000; i++) {
		cr_assert_eq(rl_take(&g, now, &retry), -EAGAIN);
		cr_assert_eq(rl_reserve(&g, now, 0, NULL), -EAGAIN);
	}
	cr_assert_eq(atomic_load(&g.tat), tat);
	/* Next grid point after 5 s + 1 ns at 100/s is 5.01 s. */
	cr_assert_eq(retry, 10000000 - 1);
	cr_assert_eq(rl_take(&g, now + retry - 1, NULL), -EAGAIN);
	cr_assert_eq(rl_take(&g, now + retry, NULL), 0);
	cr_assert_eq(rl_take(&g, now + retry, NULL), -EAGAIN);
	/* A long idle period refills to exactly the burst, no more. */
	now += 3600 * NS;
	for (i = 0; i < 10; i++)
		cr_assert_eq(rl_take(&g, now, NULL), 0);
	cr_assert_eq(rl_take(&g, now, NULL), -EAGAIN);
}

Test(ratelimit, retry_exact_fractional_interval)
{
	struct rl_gcra g;
	uint64_t retry = 0;

	cr_assert_eq(rl_init(&g, 3, 1), 0);
	cr_assert_eq(rl_take(&g, 0, NULL), 0);
	cr_assert_eq(rl_take(&g, 1, &retry), -EAGAIN);
	cr_assert_eq(retry, 333333334 - 1);   /* ceil(1e9/3) */
	cr_assert_eq(rl_take(&g, 333333333, NULL), -EAGAIN);
	cr_assert_eq(rl_take(&g, 333333334, NULL), 0);
	cr_assert_eq(rl_take(&g, 333333334, &retry), -EAGAIN);
	cr_assert_eq(retry, 666666667 - 333333334);
	cr_assert_eq(rl_take(&g, 999999999, NULL), 0);   /* index 2 starts at 666666667 */
	cr_assert_eq(rl_take(&g, 999999999, &retry), -EAGAIN);
	cr_assert_eq(retry, 1);
	cr_assert_eq(rl_take(&g, NS, NULL), 0);
}

Test(ratelimit, reserve_fcfs_spaced_by_interval)
{
	struct rl_gcra g;
	uint64_t now = 2 * NS + 5, wait = 0, prev = 0, i;

	cr_assert_eq(rl_init(&g, 3, 2), 0);
	/* Burst 2: two go now, then one per grid point, in call order. */
	for (i = 0; i < 2; i++) {
		cr_assert_eq(rl_reserve(&g, now, UINT64_MAX, &wait), 0);
		cr_assert_eq(wait, 0);
	}
	uint64_t f = ref_index(now, 3);
	for (i = 1; i <= 30; i++) {
		cr_assert_eq(rl_reserve(&g, now, UINT64_MAX, &wait), 0);
		cr_assert_eq(now + wait, ref_time(f + i, 3));
		cr_assert(wait > prev);
		if (i > 1)
			cr_assert(wait - prev == 333333333 || wait - prev == 333333334);
		prev = wait;
	}
	/* 30 slots after the burst span exactly 10 s of grid. */
	cr_assert_eq(ref_time(f + 30, 3) - ref_time(f, 3), 10 * NS);
	/* A take now is refused: all capacity is reserved. */
	cr_assert_eq(rl_take(&g, now, NULL), -EAGAIN);
}

Test(ratelimit, reserve_max_wait_refusal)
{
	struct rl_gcra g;
	uint64_t now = NS, wait = 99;

	cr_assert_eq(rl_init(&g, 10, 1), 0);
	cr_assert_eq(rl_reserve(&g, now, 150000000, &wait), 0);
	cr_assert_eq(wait, 0);
	cr_assert_eq(rl_reserve(&g, now, 150000000, &wait), 0);
	cr_assert_eq(wait, 100000000);
	uint64_t tat = atomic_load(&g.tat);
	cr_assert_eq(rl_reserve(&g, now, 150000000, &wait), -EAGAIN);
	cr_assert_eq(rl_reserve(&g, now, 199999999, &wait), -EAGAIN);
	cr_assert_eq(atomic_load(&g.tat), tat);   /* nothing reserved */
	cr_assert_eq(rl_reserve(&g, now, 200000000, &wait), 0);
	cr_assert_eq(wait, 200000000);
}

Test(ratelimit, wait_mode_long_run_rate)
{
	struct rl_gcra g;
	uint64_t t0 = 40 * NS + 777, now = t0, wait, count = 0;

	/* A caller that reserves, sleeps the wait, and goes again. */
	cr_assert_eq(rl_init(&g, 7, 3), 0);
	for (;;) {
		cr_assert_eq(rl_reserve(&g, now, UINT64_MAX, &wait), 0);
		if (now + wait > t0 + 10 * NS)
			break;
		count++;
		now += wait;
	}
	cr_assert_eq(count, 7 * 10 + 3);
}

Test(ratelimit, clock_backward_is_no_time_passing)
{
	struct rl_gcra g;
	uint64_t retry = 0, i;

	cr_assert_eq(rl_init(&g, 10, 5), 0);
	cr_assert_eq(rl_take(&g, 100 * NS, NULL), 0);
	cr_assert_eq(rl_take(&g, 100 * NS, NULL), 0);
	/* Stepped back 90 s: the 3 tokens left are still there, no more. */
	for (i = 0; i < 3; i++)
		cr_assert_eq(rl_take(&g, 10 * NS, NULL), 0);
	cr_assert_eq(rl_take(&g, 10 * NS, &retry), -EAGAIN);
	/* Retry is measured on the caller's (stepped back) clock, no wrap. */
	cr_assert_eq(retry, 90 * NS + 100000000);
	cr_assert_eq(rl_take(&g, 0, &retry), -EAGAIN);
	cr_assert_eq(retry, 100 * NS + 100000000);
	uint64_t wait = 0;
	cr_assert_eq(rl_reserve(&g, 50 * NS, UINT64_MAX, &wait), 0);
	cr_assert_eq(wait, 50 * NS + 100000000);
	/* Time resumes from where it was. */
	cr_assert_eq(rl_take(&g, 100 * NS + 199999999, NULL), -EAGAIN);
	cr_assert_eq(rl_take(&g, 100 * NS + 200000000, NULL), 0);
}

Test(ratelimit, clock_forward_jump_grants_only_burst)
{
	struct rl_gcra g;
	uint64_t i;

	cr_assert_eq(rl_init(&g, 1000, 4), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(rl_take(&g, NS, NULL), 0);
	cr_assert_eq(rl_take(&g, NS, NULL), -EAGAIN);
	for (i = 0; i < 4; i++)
		cr_assert_eq(rl_take(&g, 1000000 * NS, NULL), 0);
	cr_assert_eq(rl_take(&g, 1000000 * NS, NULL), -EAGAIN);
	/* Same for reservations: only the burst is free of waiting. */
	uint64_t wait = 0;
	cr_assert_eq(rl_reserve(&g, 2000000 * NS, UINT64_MAX, &wait), 0);
	cr_assert_eq(wait, 0);
	for (i = 0; i < 3; i++)
		cr_assert_eq(rl_reserve(&g, 2000000 * NS, UINT64_MAX, &wait), 0);
	cr_assert_eq(wait, 0);
	cr_assert_eq(rl_reserve(&g, 2000000 * NS, UINT64_MAX, &wait), 0);
	cr_assert_eq(wait, 1000000);
}

Test(ratelimit, huge_times_no_overflow)
{
	static const uint64_t starts[] = { (1ull << 62) + 12345, (1ull << 63) - 20 * NS - 1 };
	static const uint64_t rates[] = { 1, 7, 1000000, RL_MAX_RATE };
	size_t i, j;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < 4; j++) {
			struct rl_gcra g;
			uint64_t t0 = starts[i], retry = 0, wait = 0;
			uint64_t burst = rates[j] < 1000 ? 2 : 1000;

			cr_assert_eq(rl_init(&g, rates[j], burst), 0);
			uint64_t span = rates[j] >= 1000000 ? 1000000 : 10 * NS;
			uint64_t n = drain_window(&g, t0, t0 + span);
			cr_assert_eq(n, ref_index(t0 + span, rates[j]) - ref_index(t0, rates[j]) + burst);
			cr_assert_eq(rl_take(&g, t0 + span, &retry), -EAGAIN);
			cr_assert(retry > 0 && retry <= NS);
			cr_assert_eq(t0 + span + retry,
				     ref_time(ref_index(t0 + span, rates[j]) + 1, rates[j]));
			cr_assert_eq(rl_reserve(&g, t0 + span, UINT64_MAX, &wait), 0);
			cr_assert_eq(wait, retry);
		}
	}
}

struct mt_shared {
	struct rl_gcra g;
	pthread_barrier_t start, done;
	_Atomic uint64_t now;
	_Atomic int stop;
	_Atomic uint64_t admitted;
};

static void *mt_worker(void *arg)
{
	struct mt_shared *s = arg;
	uint64_t mine = 0;

	for (;;) {
		pthread_barrier_wait(&s->start);
		if (atomic_load(&s->stop))
			break;
		uint64_t now = atomic_load(&s->now);
		for (int i = 0; i < 40; i++)
			if (rl_take(&s->g, now, NULL) == 0)
				mine++;
		pthread_barrier_wait(&s->done);
	}
	atomic_fetch_add(&s->admitted, mine);
	return NULL;
}

Test(ratelimit, four_threads_admit_exact_total)
{
	static struct mt_shared s;
	pthread_t th[4];
	uint64_t t0 = 3 * NS + 17, step = 1234567, rounds = 2000, r;

	cr_assert_eq(rl_init(&s.g, 7000, 25), 0);
	atomic_store(&s.now, t0);
	pthread_barrier_init(&s.start, NULL, 5);
	pthread_barrier_init(&s.done, NULL, 5);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, mt_worker, &s), 0);
	for (r = 0; r < rounds; r++) {
		/* 160 calls per round for ~9 tokens: always saturated. */
		pthread_barrier_wait(&s.start);
		pthread_barrier_wait(&s.done);
		atomic_store(&s.now, t0 + (r + 1) * step);
	}
	atomic_store(&s.stop, 1);
	pthread_barrier_wait(&s.start);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	uint64_t last = t0 + (rounds - 1) * step;
	cr_assert_eq(atomic_load(&s.admitted),
		     ref_index(last, 7000) - ref_index(t0, 7000) + 25);
	pthread_barrier_destroy(&s.start);
	pthread_barrier_destroy(&s.done);
}

static void *free_runner(void *arg)
{
	struct mt_shared *s = arg;
	uint64_t mine = 0;

	/* Each call advances the shared clock: nows arrive slightly out of
	 * order between threads. */
	for (int i = 0; i < 200000; i++) {
		uint64_t now = atomic_fetch_add(&s->now, 1000);
		if (rl_take(&s->g, now, NULL) == 0)
			mine++;
	}
	atomic_fetch_add(&s->admitted, mine);
	return NULL;
}

Test(ratelimit, four_threads_free_running_never_over_admit)
{
	static struct mt_shared s;
	pthread_t th[4];
	uint64_t t0 = NS;

	cr_assert_eq(rl_init(&s.g, 50000, 10), 0);
	atomic_store(&s.now, t0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, free_runner, &s), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	uint64_t end = atomic_load(&s.now);
	uint64_t max = ref_index(end, 50000) - ref_index(t0, 50000) + 10;
	uint64_t got = atomic_load(&s.admitted);
	/* 800k calls 1 us apart over 0.8 s at 50k/s: ~40k tokens. Out-of-order
	 * nows can only lose a few grid points at the very end, never add. */
	cr_assert(got <= max, "admitted %lu > %lu", (unsigned long)got, (unsigned long)max);
	cr_assert(got + 8 >= max, "admitted %lu << %lu", (unsigned long)got, (unsigned long)max);
}
