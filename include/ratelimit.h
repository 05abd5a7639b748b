/* ratelimit: GCRA (generic cell rate algorithm), pure.
 *
 * One theoretical arrival time (TAT) per limiter, updated with a
 * compare-and-swap loop: no lock, no allocation, no syscall per call. Time
 * is a parameter (nanoseconds on any monotonic scale; callers pass
 * clock_monotonic_ns()). Exact under a fake clock. */
#ifndef WORMFS_RATELIMIT_H
#define WORMFS_RATELIMIT_H

#include <stdint.h>
#include <stdatomic.h>

#define RL_MAX_RATE 1000000000ull /* 1e9 per second: interval >= 1 ns */
#define RL_MAX_BURST 1000000000ull

struct rl_gcra {
	_Atomic uint64_t tat;     /* theoretical arrival time, in emission
				   * intervals since 0 ns (exact; see .c) */
	_Atomic uint64_t last_ns; /* latest now seen: an earlier now counts as
				   * no time passing */
	uint64_t interval_ns;     /* emission interval = 1e9 / rate (floor) */
	uint64_t interval_rem;    /* 1e9 % rate, carried exactly, see .c */
	uint64_t rate;
	uint64_t burst;
	uint64_t tolerance_ns;    /* (burst - 1) * interval */
};

/* rate: requests per second (1..RL_MAX_RATE); burst 1..RL_MAX_BURST.
 * 0 or -EINVAL. Times must stay below 2^63 ns (292 years). */
int rl_init(struct rl_gcra *g, uint64_t rate, uint64_t burst);

/* Fail mode: admit one request now or not. 0 = admitted; -EAGAIN = not,
 * *retry_ns (may be NULL) = how long until it would be. No state change
 * on refusal. */
int rl_take(struct rl_gcra *g, uint64_t now_ns, uint64_t *retry_ns);

/* Wait mode, first come first served: reserve the next slot if it is at
 * most max_wait_ns away. 0 = reserved, *wait_ns = how long the caller must
 * sleep before proceeding (0 if now); -EAGAIN = the slot would be later than
 * max_wait_ns (nothing reserved). Callers that reserve earlier get earlier
 * slots. */
int rl_reserve(struct rl_gcra *g, uint64_t now_ns, uint64_t max_wait_ns,
	       uint64_t *wait_ns);

#endif
