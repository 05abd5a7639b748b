/* benchutil: what the in-process benchmark programs (tools/...bench.c)
 * share: clocks, a fatal error, sorting and medians of samples, a
 * scratch store with its KMS, and a new object in it. Tools only: built into those programs, not
 * into the core library. */
#ifndef WORMFS_BENCHUTIL_H
#define WORMFS_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "kms.h"
#include "obj.h"
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
/* A new empty object in s with a fresh key of algorithm alg (content
 * format 3, or 2 when fmt3 is 0), its map loaded and a write session
 * open (write_gen 1): r, *key (r->key) and *fd. Exits on failure. */
void bench_obj_new(store *s, kms *k, int alg, int fmt3, struct obj_ref *r, wcrypto_aead **key,
		   int *fd);
/* Its map freed, fd closed, the object (and its block maps) unlinked,
 * the key freed. Exits on failure. */
void bench_obj_drop(store *s, struct obj_ref *r, wcrypto_aead *key, int fd);

/* Close both and remove the scratch directory. */
void bench_scratch_close(const char *dir, store *s, kms *k);

#endif
