/* writebench: the content write path in process, without FUSE (README,
 * Performance, "Write").
 *
 *   writebench DIR [ROUNDS] [MIB]
 *
 * Creates a scratch store under DIR (removed at the end). Each round
 * writes an object of MIB MiB (default 128) sequentially in 1 MiB
 * requests (what the kernel sends for dd bs=1M), once with the sealer
 * helper (as the daemon does) and once without, alternating which goes
 * first, and prints the wall time of one request (the quartiles and the
 * median over all requests of all rounds: a request is short, so most
 * of them run unhindered by the load, and the lower quartile shows what
 * one costs on an idle machine) and the process's CPU time per MiB
 * (median of the rounds). The file is not synced: this is the request
 * path alone (sealing, the pwrites into the page cache, the
 * bookkeeping), what a writer waits for between two write(2)s. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "benchutil.h"
#include "crypto.h"
#include "kms.h"
#include "obj.h"
#include "store.h"

#define REQ (1u << 20)

static store *S;
static kms *K;

/* One object of size bytes in REQ requests: each request's wall time
 * (µs) into lat, the CPU µs per MiB into cpu. */
static void round_one(obj_sealer *sealer, uint64_t size, const uint8_t *buf, double *lat,
		      double *cpu)
{
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int64_t w0, c0;
	int fd;

	bench_obj_new(S, K, WCRYPTO_AES256GCM, 1, &r, &key, &fd);
	r.sealer = sealer;
	c0 = bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (uint64_t off = 0; off < size; off += REQ) {
		w0 = bench_clock_ns(CLOCK_MONOTONIC);
		if (obj_write(fd, &r, buf, REQ, off) != (ssize_t)REQ)
			bench_die("write", EIO);
		lat[off / REQ] = (double)(bench_clock_ns(CLOCK_MONOTONIC) - w0) / 1e3;
	}
	*cpu = (double)(bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e3 / (double)(size >> 20);
	bench_obj_drop(S, &r, key, fd);
}

int main(int argc, char **argv)
{
	char dir[512];
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	uint64_t size = (uint64_t)(argc > 3 ? atoi(argv[3]) : 128) << 20;
	obj_sealer *sealer = NULL;
	uint8_t *buf;
	double cpu[2][64], *lat[2];
	size_t nreq;

	if (argc < 2 || rounds < 1 || rounds > 64 || size < REQ) {
		fprintf(stderr, "usage: writebench DIR [ROUNDS 1-64] [MIB]\n");
		return 2;
	}
	bench_scratch_open(argv[1], dir, sizeof(dir), &S, &K);
	/* The daemon's worker threads reach a steady heap (glibc raises its
	 * thresholds after the first large free); here the main arena would
	 * give its top back at every free and fault the pages in again. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	nreq = (size_t)(size / REQ) * (size_t)rounds;
	lat[0] = malloc(nreq * sizeof(double));
	lat[1] = malloc(nreq * sizeof(double));
	if (!lat[0] || !lat[1])
		bench_die("malloc", ENOMEM);
	if (obj_sealer_new(&sealer))
		bench_die("sealer", ENOMEM);
	buf = malloc(REQ);
	if (!buf)
		bench_die("malloc", ENOMEM);
	wcrypto_random(buf, REQ);
	for (int i = 0; i < rounds; i++)
		for (int k = 0; k < 2; k++) {
			int helper = (i + k) % 2;   /* alternate which goes first */
			round_one(helper ? sealer : NULL, size, buf,
				  lat[helper] + (size_t)i * (size / REQ), &cpu[helper][i]);
		}
	printf("%d rounds of %llu MiB in 1 MiB writes: wall us per request (quartiles), "
	       "CPU us per MiB (median)\n", rounds, (unsigned long long)(size >> 20));
	for (int h = 1; h >= 0; h--) {
		bench_sort(lat[h], nreq);
		bench_sort(cpu[h], (size_t)rounds);
		printf("%-12s request %7.1f %7.1f %7.1f   cpu/MiB %7.1f\n",
		       h ? "with sealer" : "one thread", lat[h][nreq / 4], lat[h][nreq / 2],
		       lat[h][3 * nreq / 4], cpu[h][rounds / 2]);
	}
	free(lat[0]);
	free(lat[1]);
	free(buf);
	obj_sealer_free(sealer);
	bench_scratch_close(dir, S, K);
	return 0;
}
