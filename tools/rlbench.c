/* rlbench: cost of rl_take, uncontended and with 2-4 threads.
 *
 *   rlbench [CALLS]     (default 50,000,000 uncontended)
 *
 * A synthetic clock advances 1 ns per call, so the limiter (rate 1e6,
 * burst 1000) mixes admissions and refusals the way a busy KMS does; a
 * second run admits every call. The target is < 100 ns per call
 * uncontended. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "benchutil.h"
#include "ratelimit.h"

struct worker {
	struct rl_gcra *g;
	uint64_t calls;
	uint64_t admitted;
	_Atomic uint64_t *clock;
};

static void *contended(void *arg)
{
	struct worker *w = arg;
	uint64_t i;

	for (i = 0; i < w->calls; i++) {
		/* Shared synthetic clock: each call advances it. */
		uint64_t now = atomic_fetch_add_explicit(w->clock, 1, memory_order_relaxed);
		if (rl_take(w->g, now, NULL) == 0)
			w->admitted++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t calls = 50000000, i, admitted = 0, t0, t1;
	struct rl_gcra g;
	int nthreads;

	if (argc > 1) {
		char *end;
		calls = strtoull(argv[1], &end, 10);
		if (*end || calls == 0) {
			fprintf(stderr, "usage: rlbench [CALLS]\n");
			return 2;
		}
	}
	if (rl_init(&g, 1000000, 1000) != 0)
		return 1;
	t0 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < calls; i++)
		if (rl_take(&g, 1000000000ull + i, NULL) == 0)
			admitted++;
	t1 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
	printf("uncontended: %" PRIu64 " calls, %" PRIu64 " admitted, %.2f ns/call\n",
	       calls, admitted, (double)(t1 - t0) / (double)calls);

	/* Every call admitted (1 token per ns): the CAS path each time. */
	if (rl_init(&g, RL_MAX_RATE, 1) != 0)
		return 1;
	admitted = 0;
	t0 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < calls; i++)
		if (rl_take(&g, 1000000000ull + i, NULL) == 0)
			admitted++;
	t1 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
	printf("uncontended, all admitted: %" PRIu64 " calls, %" PRIu64
	       " admitted, %.2f ns/call\n",
	       calls, admitted, (double)(t1 - t0) / (double)calls);

	for (nthreads = 2; nthreads <= 4; nthreads++) {
		pthread_t th[4];
		struct worker w[4];
		_Atomic uint64_t clock = 1000000000ull;
		uint64_t per = calls / 10 / (uint64_t)nthreads, total = 0;

		if (rl_init(&g, 1000000, 1000) != 0)
			return 1;
		t0 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
		for (int k = 0; k < nthreads; k++) {
			w[k] = (struct worker){ .g = &g, .calls = per, .clock = &clock };
			if (pthread_create(&th[k], NULL, contended, &w[k]) != 0) {
				perror("pthread_create");
				return 1;
			}
		}
		for (int k = 0; k < nthreads; k++) {
			pthread_join(th[k], NULL);
			total += w[k].admitted;
		}
		t1 = (uint64_t)bench_clock_ns(CLOCK_MONOTONIC);
		printf("contended, %d threads: %" PRIu64 " calls, %" PRIu64
		       " admitted, %.2f ns/call (wall / total calls; includes the shared clock)\n",
		       nthreads, per * (uint64_t)nthreads, total,
		       (double)(t1 - t0) / (double)(per * (uint64_t)nthreads));
	}
	return 0;
}
