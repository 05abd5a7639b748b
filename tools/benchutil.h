/* benchutil: what the in-process benchmark programs (tools/...bench.c)
 * share: clocks, a fatal error, sorting and medians of samples, and a
 * scratch store with its KMS. Tools only: built into those programs, not
 * into the core library. */
#ifndef WORMFS_BENCHUTIL_H
#define WORMFS_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kms.h"
#include "store.h"

/* clock_gettime(c) in ns: CLOCK_MONOTONIC for wall time,
 * CLOCK_PROCESS_CPUTIME_ID for this process's CPU time (user + system). */
int64_t bench_clock_ns(clockid_t c);

/* "PROGRAM: what: strerror(rc)" on stderr (rc an errno, either sign),
 * then exit(1). */
_Noreturn void bench_die(const char *what, int rc);

/* Sort n samples ascending; the median (the upper one of an even n) of
 * n >= 1 samples, sorting them. */
void bench_sort(double *v, size_t n);
double bench_median(double *v, int n);

/* Sort n >= 1 int64 ns samples and print "WHAT median M us  p90 P us
 * (n=N)", WHAT padded to wwhat and the numbers to wnum columns. */
void bench_report_ns(const char *what, int wwhat, int wnum, int64_t *t, int n);

/* A scratch directory PARENT/PROGRAM.XXXXXX (its path into dir) holding
 * a new store and KMS, opened with the KMS rate limit out of the way.
 * Exits with a message on failure. */
void bench_scratch_open(const char *parent, char *dir, size_t dirlen, store **s, kms **k);
/* Close both and remove the scratch directory. */
void bench_scratch_close(const char *dir, store *s, kms *k);

#endif
