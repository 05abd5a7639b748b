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
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "crypto.h"
#include "kms.h"
#include "obj.h"
#include "store.h"

#define REQ (1u << 20)

static store *S;
static kms *K;

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "writebench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One object of size bytes in REQ requests: each request's wall time
 * (µs) into lat, the CPU µs per MiB into cpu. */
static void round_one(obj_sealer *sealer, uint64_t size, const uint8_t *buf, double *lat,
		      double *cpu)
{
	struct obj_ref r;
	wcrypto_aead *key = NULL;
	int64_t w0, c0;
	int fd, rc;

	if ((rc = obj_key_new(K, WCRYPTO_AES256GCM, &r, &key, 1)) != 0)
		die("key", rc);
	r.key = key;
	rc = obj_file_create(S, &r, 1, &fd);
	if (!rc)
		rc = obj_map_load(S, fd, &r, &r.map);
	if (rc)
		die("create", rc);
	r.write_gen = 1;
	r.sealer = sealer;
	c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (uint64_t off = 0; off < size; off += REQ) {
		w0 = now_ns(CLOCK_MONOTONIC);
		if (obj_write(fd, &r, buf, REQ, off) != (ssize_t)REQ)
			die("write", EIO);
		lat[off / REQ] = (double)(now_ns(CLOCK_MONOTONIC) - w0) / 1e3;
	}
	*cpu = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e3 / (double)(size >> 20);
	obj_map_free(r.map);
	close(fd);
	if ((rc = store_obj_unlink(S, r.id)) != 0)
		die("unlink", rc);
	wcrypto_aead_free(key);
}

int main(int argc, char **argv)
{
	char dir[512], path[600], keys[700], err[256];
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	uint64_t size = (uint64_t)(argc > 3 ? atoi(argv[3]) : 128) << 20;
	struct kms_params p;
	obj_sealer *sealer = NULL;
	uint8_t *buf;
	double cpu[2][64], *lat[2];
	size_t nreq;

	if (argc < 2 || rounds < 1 || rounds > 64 || size < REQ) {
		fprintf(stderr, "usage: writebench DIR [ROUNDS 1-64] [MIB]\n");
		return 2;
	}
	if (wcrypto_init())
		die("crypto init", EIO);
	snprintf(dir, sizeof(dir), "%s/writebench.XXXXXX", argv[1]);
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/store", dir);
	if (store_create(path, "# writebench\n", err, sizeof(err)) ||
	    store_open(path, &S, err, sizeof(err)) ||
	    store_subpath(S, "keys", keys, sizeof(keys)) || kms_create(keys, NULL, 0)) {
		fprintf(stderr, "writebench: store: %s\n", err);
		return 1;
	}
	kms_params_default(&p);
	p.crypto_rate = p.crypto_burst = 10000000;
	if (kms_open(keys, NULL, 0, &p, &K, err, sizeof(err))) {
		fprintf(stderr, "writebench: kms: %s\n", err);
		return 1;
	}
	/* The daemon's worker threads reach a steady heap (glibc raises its
	 * thresholds after the first large free); here the main arena would
	 * give its top back at every free and fault the pages in again. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	nreq = (size_t)(size / REQ) * (size_t)rounds;
	lat[0] = malloc(nreq * sizeof(double));
	lat[1] = malloc(nreq * sizeof(double));
	if (!lat[0] || !lat[1])
		die("malloc", ENOMEM);
	if (obj_sealer_new(&sealer))
		die("sealer", ENOMEM);
	buf = malloc(REQ);
	if (!buf)
		die("malloc", ENOMEM);
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
		qsort(lat[h], nreq, sizeof(double), cmpd);
		qsort(cpu[h], (size_t)rounds, sizeof(double), cmpd);
		printf("%-12s request %7.1f %7.1f %7.1f   cpu/MiB %7.1f\n",
		       h ? "with sealer" : "one thread", lat[h][nreq / 4], lat[h][nreq / 2],
		       lat[h][3 * nreq / 4], cpu[h][rounds / 2]);
	}
	free(lat[0]);
	free(lat[1]);
	free(buf);
	obj_sealer_free(sealer);
	kms_close(K);
	store_close(S);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
