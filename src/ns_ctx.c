/* ns_ctx: the engine context's reads: the compliance clock, the stats and
 * KMS handles, and the crash-test hook (WORMFS_CRASH_AT). The bottom of the
 * ns files: it calls none of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include "ns_ctx.h"
#include "log.h"

int64_t ns_clock_now(ns *n)
{
	return wclock_now(&n->clk, clock_realtime_ns() / 1000000000);
}

struct stats *ns_stats(ns *n) { return &n->stats; }

kms *ns_kms(ns *n) { return n->km; }

void ns_crash_point(ns *n, const char *step)
{
	if (!n->crash_at[0] || strcmp(n->crash_at, step) != 0)
		return;
	if (atomic_fetch_add(&n->crash_hits, 1) + 1 != n->crash_nth)
		return;
	wlog(WLOG_WARN, "WORMFS_CRASH_AT: %s at step %s", n->crash_sig == SIGSTOP ? "stopping" :
	     "killing the daemon", step);
	raise(n->crash_sig);
}

/* WORMFS_CRASH_AT=STEP[:stop][@N], for the crash tests only (and
 * WORMFS_TEST_UNBOUND=1, for the legacy-bind tests: see struct ns). Ignored in
 * a set-id process (secure_getenv): whoever sets it can already kill or
 * stop a daemon running as themselves, and no one else. */
void ns_crash_init(ns *n)
{
	const char *e = secure_getenv("WORMFS_CRASH_AT");
	char *at;

	e = secure_getenv("WORMFS_TEST_UNBOUND");
	n->test_unbound = e && !strcmp(e, "1");
	e = secure_getenv("WORMFS_CRASH_AT");
	if (!e || !*e || strlen(e) >= sizeof(n->crash_at))
		return;
	snprintf(n->crash_at, sizeof(n->crash_at), "%s", e);
	n->crash_sig = SIGKILL;
	n->crash_nth = 1;
	if ((at = strchr(n->crash_at, '@'))) {
		*at = '\0';
		n->crash_nth = (unsigned)strtoul(at + 1, NULL, 10);
	}
	if ((at = strchr(n->crash_at, ':'))) {
		if (!strcmp(at + 1, "stop"))
			n->crash_sig = SIGSTOP;
		*at = '\0';
	}
}
