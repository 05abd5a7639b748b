/* wormctl kms bench: load the store's KMS limiter with N threads and report
 * what the quota (design section 8) admits and how long callers wait.
 * Latencies go into a log-linear histogram (about 1.5% resolution) so a
 * fail-mode run with millions of refusals needs no per-call storage. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wormctl.h"
#include "clock.h"
#include "crypto.h"
#include "kms.h"

#define H_SUBBITS 6
#define H_SUB (1u << H_SUBBITS)
#define H_N ((64 - H_SUBBITS) * H_SUB + 2 * H_SUB)

struct hist {
	uint64_t c[H_N];
	uint64_t n, max;
};

static unsigned h_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * H_SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - H_SUBBITS;
	return shift * H_SUB + (unsigned)(v >> shift);
}

/* Upper bound of bucket i. */
static uint64_t h_value(unsigned i)
{
	unsigned shift;

	if (i < 2 * H_SUB)
		return i;
	shift = i / H_SUB - 1;
	return (((uint64_t)(i % H_SUB + H_SUB) + 1) << shift) - 1;
}

static void h_add(struct hist *h, uint64_t v)
{
	h->c[h_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void h_merge(struct hist *to, const struct hist *from)
{
	for (unsigned i = 0; i < H_N; i++)
		to->c[i] += from->c[i];
	to->n += from->n;
	if (from->max > to->max)
		to->max = from->max;
}

static uint64_t h_pct(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)h->n);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < H_N; i++) {
		seen += h->c[i];
		if (seen >= want)
			return h_value(i) < h->max ? h_value(i) : h->max;
	}
	return h->max;
}

struct bench {
	kms *k;
	int generate;
	uint8_t ctx[KMS_CTX_BYTES];
	struct kms_wrapped w;
	int64_t deadline_ns;
	/* Start gate: workers wait until main sets go (and the deadline). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;
};

struct worker {
	pthread_t th;
	struct bench *b;
	uint64_t attempts, admitted, throttled, errors;
	int first_err;
	int64_t end_ns;
	struct hist h;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	uint8_t *dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	struct kms_wrapped out;
	int64_t t0, t1;
	int rc;

	pthread_mutex_lock(&b->mu);
	while (!b->go)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	if (!dek) {
		w->errors = 1;
		w->first_err = -ENOMEM;
		w->end_ns = clock_monotonic_ns();
		return NULL;
	}
	while ((t0 = clock_monotonic_ns()) < b->deadline_ns) {
		rc = b->generate ? kms_generate_data_key(b->k, b->ctx, dek, &out, (uint64_t)t0)
				 : kms_decrypt_nocache(b->k, b->ctx, &b->w, dek, (uint64_t)t0);
		t1 = clock_monotonic_ns();
		w->attempts++;
		h_add(&w->h, (uint64_t)(t1 - t0));
		if (rc == 0) {
			w->admitted++;
		} else if (rc == -EAGAIN) {
			w->throttled++;
		} else {
			if (!w->errors++)
				w->first_err = rc;
		}
	}
	w->end_ns = clock_monotonic_ns();
	wcrypto_wipe(dek, KMS_DEK_BYTES);
	wcrypto_secure_free(dek);
	return NULL;
}

static json_object *us_json(uint64_t ns)
{
	return wctl_json_double((double)ns / 1000.0, 1);
}

static void report(const struct wctl_opts *o, const struct cfg *cfg, const struct worker *tot,
		   const struct hist *h, double elapsed, const struct kms_stats *ks)
{
	const char *op = o->op_generate ? "generate" : "decrypt";
	const char *thr = cfg->kms.throttle == KMS_THROTTLE_FAIL ? "fail" : "wait";
	double rate = elapsed > 0 ? (double)tot->admitted / elapsed : 0;
	uint64_t p50 = h_pct(h, 50), p90 = h_pct(h, 90), p99 = h_pct(h, 99);

	if (o->json) {
		json_object *j = json_object_new_object(), *l = json_object_new_object();
		json_object *k = json_object_new_object();
		json_object_object_add(j, "op", json_object_new_string(op));
		json_object_object_add(j, "threads", json_object_new_int64(o->threads));
		json_object_object_add(j, "seconds", wctl_json_double(o->seconds, 3));
		json_object_object_add(j, "elapsed_s", wctl_json_double(elapsed, 6));
		json_object_object_add(j, "throttle", json_object_new_string(thr));
		json_object_object_add(j, "configured_rate",
				       json_object_new_int64((int64_t)cfg->kms.crypto_rate));
		json_object_object_add(j, "configured_burst",
				       json_object_new_int64((int64_t)cfg->kms.crypto_burst));
		json_object_object_add(j, "max_wait_ms",
				       json_object_new_int64((int64_t)cfg->kms.max_wait_ms));
		json_object_object_add(j, "attempts", json_object_new_int64((int64_t)tot->attempts));
		json_object_object_add(j, "admitted", json_object_new_int64((int64_t)tot->admitted));
		json_object_object_add(j, "throttled",
				       json_object_new_int64((int64_t)tot->throttled));
		json_object_object_add(j, "errors", json_object_new_int64((int64_t)tot->errors));
		json_object_object_add(j, "achieved_rate", wctl_json_double(rate, 1));
		json_object_object_add(l, "p50", us_json(p50));
		json_object_object_add(l, "p90", us_json(p90));
		json_object_object_add(l, "p99", us_json(p99));
		json_object_object_add(l, "max", us_json(h->max));
		json_object_object_add(j, "latency_us", l);
		json_object_object_add(k, "requests",
				       json_object_new_int64((int64_t)ks->cls[KMS_CLASS_CRYPTO].requests));
		json_object_object_add(k, "throttled",
				       json_object_new_int64((int64_t)ks->cls[KMS_CLASS_CRYPTO].throttled));
		json_object_object_add(k, "wait_ns",
				       json_object_new_int64((int64_t)ks->cls[KMS_CLASS_CRYPTO].wait_ns));
		json_object_object_add(j, "kms_crypto_stats", k);
		wctl_json_print(j);
		return;
	}
	printf("kms bench: op %s, %u threads, %.2f s (elapsed %.3f s), throttle %s\n", op,
	       o->threads, o->seconds, elapsed, thr);
	printf("configured rate %llu/s, burst %llu, max wait %llu ms\n",
	       (unsigned long long)cfg->kms.crypto_rate, (unsigned long long)cfg->kms.crypto_burst,
	       (unsigned long long)cfg->kms.max_wait_ms);
	printf("attempts   %llu\n", (unsigned long long)tot->attempts);
	printf("admitted   %llu\n", (unsigned long long)tot->admitted);
	printf("throttled  %llu\n", (unsigned long long)tot->throttled);
	if (tot->errors)
		printf("errors     %llu\n", (unsigned long long)tot->errors);
	printf("achieved   %.1f/s\n", rate);
	printf("wait       p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
	       (double)p50 / 1e6, (double)p90 / 1e6, (double)p99 / 1e6, (double)h->max / 1e6);
}

int wctl_kms_bench(const struct wctl_opts *o)
{
	struct bench b;
	struct worker *w = NULL, tot;
	struct hist *h = NULL;
	struct kms_stats ks;
	struct cfg cfg;
	uint8_t *dek = NULL;
	int64_t start, end = 0;
	unsigned started = 0;
	ns *n = NULL;
	int rc, ret = WCTL_FAIL;

	memset(&b, 0, sizeof(b));
	memset(&tot, 0, sizeof(tot));
	/* The same config the open uses, for the report. */
	if (wctl_load_cfg(o, o->pos[0], &cfg))
		return WCTL_FAIL;
	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	b.k = ns_kms(n);
	b.generate = o->op_generate;
	w = calloc(o->threads, sizeof(*w));
	h = calloc(1, sizeof(*h));
	dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	if (!w || !h || !dek) {
		wctl_err("%s: %s", o->cmd, strerror(ENOMEM));
		goto out;
	}
	/* One data key to decrypt over and over (the cache is bypassed). */
	wcrypto_random(b.ctx, sizeof(b.ctx));
	rc = kms_generate_data_key(b.k, b.ctx, dek, &b.w, (uint64_t)clock_monotonic_ns());
	if (rc < 0) {
		wctl_err("%s %s: GenerateDataKey: %s", o->cmd, o->pos[0], strerror(-rc));
		goto out;
	}
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	for (; started < o->threads; started++) {
		w[started].b = &b;
		if ((rc = pthread_create(&w[started].th, NULL, worker_main, &w[started]))) {
			wctl_err("%s: starting threads: %s", o->cmd, strerror(rc));
			break;
		}
	}
	start = clock_monotonic_ns();
	/* On a failed start the deadline is already past: workers just exit. */
	pthread_mutex_lock(&b.mu);
	b.deadline_ns = started < o->threads ? 0 : start + (int64_t)(o->seconds * 1e9);
	b.go = 1;
	pthread_cond_broadcast(&b.cv);
	pthread_mutex_unlock(&b.mu);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		tot.attempts += w[i].attempts;
		tot.admitted += w[i].admitted;
		tot.throttled += w[i].throttled;
		tot.errors += w[i].errors;
		if (w[i].errors && !tot.first_err)
			tot.first_err = w[i].first_err;
		if (w[i].end_ns > end)
			end = w[i].end_ns;
		h_merge(h, &w[i].h);
	}
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	if (started < o->threads)
		goto out;
	kms_get_stats(b.k, &ks);
	report(o, &cfg, &tot, h, (double)(end - start) / 1e9, &ks);
	if (tot.errors) {
		wctl_err("%s %s: %llu calls failed, first: %s", o->cmd, o->pos[0],
			 (unsigned long long)tot.errors, strerror(-tot.first_err));
		goto out;
	}
	ret = WCTL_OK;
out:
	if (dek) {
		wcrypto_wipe(dek, KMS_DEK_BYTES);
		wcrypto_secure_free(dek);
	}
	free(h);
	free(w);
	ns_close(n);
	return ret;
}
