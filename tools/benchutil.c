/* benchutil: helpers of the benchmark programs (tools/benchutil.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"
#include "crypto.h"

int64_t bench_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmpd);
}

double bench_median(double *v, int n)
{
	bench_sort(v, (size_t)n);
	return v[n / 2];
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void bench_report_ns(const char *what, int wwhat, int wnum, int64_t *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	printf("%-*s median %*.1f us  p90 %*.1f us  (n=%d)\n", wwhat, what, wnum,
	       t[n / 2] / 1e3, wnum, t[n * 9 / 10] / 1e3, n);
}

void bench_scratch_open(const char *parent, char *dir, size_t dirlen, store **s, kms **k)
{
	const char *prog = program_invocation_short_name;
	char path[4200], keys[4300], head[64], err[256] = "";
	struct kms_params p;

	if (wcrypto_init())
		bench_die("crypto init", EIO);
	if ((size_t)snprintf(dir, dirlen, "%s/%s.XXXXXX", parent, prog) >= dirlen)
		bench_die("scratch directory", ENAMETOOLONG);
	if (!mkdtemp(dir))
		bench_die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/store", dir);
	snprintf(head, sizeof(head), "# %s\n", prog);
	if (store_create(path, head, err, sizeof(err)) || store_open(path, s, err, sizeof(err)) ||
	    store_subpath(*s, "keys", keys, sizeof(keys)) || kms_create(keys, NULL, 0)) {
		fprintf(stderr, "%s: store: %s\n", prog, err);
		exit(1);
	}
	kms_params_default(&p);
	p.crypto_rate = p.crypto_burst = 10000000;
	if (kms_open(keys, NULL, 0, &p, k, err, sizeof(err))) {
		fprintf(stderr, "%s: kms: %s\n", prog, err);
		exit(1);
	}
}

void bench_obj_new(store *s, kms *k, int alg, int fmt3, struct obj_ref *r, wcrypto_aead **key,
		   int *fd)
{
	int rc;

	*key = NULL;
	if ((rc = obj_key_new(k, alg, r, key, 1)) != 0)
		bench_die("key", rc);
	r->key = *key;
	rc = fmt3 ? obj_file_create(s, r, 1, fd) : obj_file_create_v2(s, r, fd);
	if (!rc)
		rc = obj_map_load(s, *fd, r, &r->map);
	if (rc)
		bench_die("create", rc);
	r->write_gen = 1;
}

void bench_obj_drop(store *s, struct obj_ref *r, wcrypto_aead *key, int fd)
{
	int rc;

	obj_map_free(r->map);
	close(fd);
	if ((rc = store_obj_unlink(s, r->id)) != 0)
		bench_die("unlink", rc);
	wcrypto_aead_free(key);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

void bench_scratch_close(const char *dir, store *s, kms *k)
{
	kms_close(k);
	store_close(s);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
