/* ratelimit: GCRA, exact in integers, lock-free.
 *
 * The emission interval 1e9/rate ns is usually fractional, so the TAT is not
 * kept in ns. Instead time is divided into a global grid of emission
 * intervals starting at 0 ns: grid index k starts at time ceil(k*1e9/rate)
 * ns, and "now" lies in grid index floor(now*rate/1e9). The TAT is a grid
 * index (an integer number of intervals), so advancing it by one interval
 * is exact and nothing drifts, whatever the rate. Both conversions are done
 * in 64-bit integers by splitting the time into seconds and nanoseconds, so
 * there is no overflow for times below 2^63 ns.
 *
 * With f = floor(now*rate/1e9) and B = burst, a request is admitted iff
 * TAT <= f + B - 1 (TAT - now <= (B-1) intervals, on the grid), and the new
 * TAT is max(TAT, f) + 1. From idle that admits exactly B at once, then one
 * per grid point: over any window [t, t + S seconds] a saturated limiter
 * admits exactly rate*S + B requests (the grid has exactly rate*S points in
 * it, counting one end). A request arriving between two grid points counts
 * as arriving at the earlier one after an idle period (at most one interval
 * of extra credit, never more than B outstanding).
 *
 * A "now" earlier than one already seen (clock stepped back, or a caller
 * that read the clock a little earlier than another) counts as no time
 * passing: last_ns keeps the latest now seen. */
#include "ratelimit.h"

#include <errno.h>

#define NS_PER_S 1000000000ull

/* floor(t * rate / 1e9): the grid index that contains t. */
static inline uint64_t grid_index(const struct rl_gcra *g, uint64_t t)
{
	return (t / NS_PER_S) * g->rate + ((t % NS_PER_S) * g->rate) / NS_PER_S;
}

/* ceil(k * 1e9 / rate): the time at which grid index k starts (saturating). */
static uint64_t grid_time(const struct rl_gcra *g, uint64_t k)
{
	uint64_t q = k / g->rate, r = k % g->rate;
	uint64_t frac = (r * NS_PER_S + g->rate - 1) / g->rate;

	if (q > (UINT64_MAX - NS_PER_S) / NS_PER_S)
		return UINT64_MAX;
	return q * NS_PER_S + frac;
}

/* max(now, latest now seen), recording now if it is the latest. */
static inline uint64_t effective_now(struct rl_gcra *g, uint64_t now)
{
	uint64_t last = atomic_load_explicit(&g->last_ns, memory_order_relaxed);

	while (now > last) {
		if (atomic_compare_exchange_weak_explicit(&g->last_ns, &last, now,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return now;
	}
	return last;
}

int rl_init(struct rl_gcra *g, uint64_t rate, uint64_t burst)
{
	if (!g || rate == 0 || rate > RL_MAX_RATE || burst == 0 || burst > RL_MAX_BURST)
		return -EINVAL;
	atomic_init(&g->tat, 0);
	atomic_init(&g->last_ns, 0);
	g->rate = rate;
	g->burst = burst;
	g->interval_ns = NS_PER_S / rate;
	g->interval_rem = NS_PER_S % rate;
	g->tolerance_ns = ((burst - 1) * NS_PER_S) / rate;   /* <= 1e18: no overflow */
	return 0;
}

int rl_take(struct rl_gcra *g, uint64_t now_ns, uint64_t *retry_ns)
{
	uint64_t eff = effective_now(g, now_ns);
	uint64_t f = grid_index(g, eff);
	uint64_t tat = atomic_load_explicit(&g->tat, memory_order_relaxed);

	for (;;) {
		if (tat >= f + g->burst) {
			/* Admissible once the grid reaches tat - B + 1 (> f),
			 * which starts strictly after eff >= now_ns. */
			if (retry_ns)
				*retry_ns = grid_time(g, tat - g->burst + 1) - now_ns;
			return -EAGAIN;
		}
		uint64_t next = (tat > f ? tat : f) + 1;
		if (atomic_compare_exchange_weak_explicit(&g->tat, &tat, next,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return 0;
	}
}

int rl_reserve(struct rl_gcra *g, uint64_t now_ns, uint64_t max_wait_ns,
	       uint64_t *wait_ns)
{
	uint64_t eff = effective_now(g, now_ns);
	uint64_t f = grid_index(g, eff);
	uint64_t tat = atomic_load_explicit(&g->tat, memory_order_relaxed);

	for (;;) {
		uint64_t slot = tat > f ? tat : f;
		uint64_t wait = 0;

		/* The caller gets grid slot `slot`; it may go once the grid
		 * reaches slot - B + 1, i.e. when a take would admit it. */
		if (slot >= f + g->burst) {
			wait = grid_time(g, slot - g->burst + 1) - now_ns;
			if (wait > max_wait_ns)
				return -EAGAIN;
		}
		if (atomic_compare_exchange_weak_explicit(&g->tat, &tat, slot + 1,
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			if (wait_ns)
				*wait_ns = wait;
			return 0;
		}
	}
}
