/* wormctl kms bench: load the store's KMS limiter with N threads and report
 * what the quota (design section 8) admits and how long callers wait.
 *
 * Two phases, run by the same threads without a pause:
 *   warm-up  calls until the bucket is empty: the first throttled call
 *            (fail mode) or the first call that had to wait (wait mode;
 *            seen as the KMS's wait counter turning non-zero). What it
 *            admitted is the burst plus what accrued meanwhile.
 *   measured the next --seconds: from here on a saturated limiter admits
 *            exactly rate x time, so admitted / seconds is the steady-state
 *            rate, comparable with the configured one.
 * A call belongs to the phase in which it completed: its token was granted
 * no later than that (for a wait, just before). Calls completing after the
 * window (at most one per thread) are counted apart, so a thread that is
 * descheduled across the end cannot stretch the window.
 *
 * Latencies go into log-linear histograms (about 1.5% resolution) so a
 * fail-mode run with millions of refusals needs no per-call storage. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
/* A burst that takes longer than this to drain means the machine cannot
 * outrun the rate: there is no steady state to measure. */
#define WARMUP_MAX_NS (30 * 1000000000ll)

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
	int fail_mode;
	uint64_t seconds_ns;
	uint8_t ctx[KMS_CTX_BYTES];
	struct kms_wrapped w;
	_Atomic int64_t t0;        /* start of the measured window, 0 = warm-up */
	_Atomic int64_t deadline;  /* warm-up limit, then t0 + seconds */
	/* Start gate: workers wait until main sets go. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;
};

struct counts {
	uint64_t attempts, admitted, throttled, errors;
};

struct worker {
	pthread_t th;
	struct bench *b;
	struct counts warm, win, tail;
	int first_err;
	struct hist h_ok, h_thr;   /* measured window: admitted, throttled */
};

/* Did the bucket run empty? Fail mode: this call was refused. Wait mode:
 * some call has waited for a token (the counter is bumped after the wait,
 * that is at the moment its token was granted). */
static int bucket_empty(struct bench *b, int rc)
{
	struct kms_stats ks;

	if (b->fail_mode)
		return rc == -EAGAIN;
	kms_get_stats(b->k, &ks);
	return ks.cls[KMS_CLASS_CRYPTO].wait_ns > 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	uint8_t *dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	struct kms_wrapped out;
	int64_t s, e, t0;
	int rc;

	pthread_mutex_lock(&b->mu);
	while (!b->go)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	if (!dek) {
		w->win.errors = 1;
		w->first_err = -ENOMEM;
		return NULL;
	}
	while ((s = clock_monotonic_ns()) < atomic_load(&b->deadline)) {
		rc = b->generate ? kms_generate_data_key(b->k, b->ctx, dek, &out, (uint64_t)s)
				 : kms_decrypt_nocache(b->k, b->ctx, &b->w, dek, (uint64_t)s);
		e = clock_monotonic_ns();
		t0 = atomic_load(&b->t0);
		if (!t0 && bucket_empty(b, rc)) {
			/* The first thread to see it opens the window at e. */
			int64_t zero = 0;
			if (atomic_compare_exchange_strong(&b->t0, &zero, e))
				atomic_store(&b->deadline, e + (int64_t)b->seconds_ns);
			t0 = atomic_load(&b->t0);
		}
		struct counts *c = !t0 || e < t0 ? &w->warm
				   : e <= t0 + (int64_t)b->seconds_ns ? &w->win : &w->tail;
		c->attempts++;
		if (rc == 0) {
			c->admitted++;
		} else if (rc == -EAGAIN) {
			c->throttled++;
		} else if (!c->errors++ && !w->first_err) {
			w->first_err = rc;
		}
		if (c == &w->win)
			h_add(rc == -EAGAIN ? &w->h_thr : &w->h_ok, (uint64_t)(e - s));
	}
	wcrypto_wipe(dek, KMS_DEK_BYTES);
	wcrypto_secure_free(dek);
	return NULL;
}

struct result {
	struct counts warm, win, tail;
	double warm_s, elapsed;    /* warm-up duration, measured window */
	double rate, dev_pct;      /* steady-state rate, its deviation */
	double expected;           /* rate x elapsed */
	struct hist *h_ok, *h_thr;
	struct kms_stats ks;
};

static json_object *us_json(uint64_t ns)
{
	return wctl_json_double((double)ns / 1000.0, 1);
}

static json_object *hist_json(const struct hist *h)
{
	json_object *l = json_object_new_object();

	json_object_object_add(l, "count", json_object_new_int64((int64_t)h->n));
	json_object_object_add(l, "p50", us_json(h_pct(h, 50)));
	json_object_object_add(l, "p90", us_json(h_pct(h, 90)));
	json_object_object_add(l, "p99", us_json(h_pct(h, 99)));
	json_object_object_add(l, "max", us_json(h->max));
	return l;
}

static json_object *i64(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

static void report_json(const struct wctl_opts *o, const struct cfg *cfg, const struct result *r)
{
	json_object *j = json_object_new_object(), *wu = json_object_new_object();
	json_object *m = json_object_new_object(), *k = json_object_new_object();
	json_object *t = json_object_new_object();
	const struct kms_class_stats *cs = &r->ks.cls[KMS_CLASS_CRYPTO];

	json_object_object_add(j, "op", json_object_new_string(o->op_generate ? "generate" : "decrypt"));
	json_object_object_add(j, "threads", json_object_new_int64(o->threads));
	json_object_object_add(j, "seconds", wctl_json_double(o->seconds, 3));
	json_object_object_add(j, "throttle", json_object_new_string(
		cfg->kms.throttle == KMS_THROTTLE_FAIL ? "fail" : "wait"));
	json_object_object_add(j, "configured_rate", i64(cfg->kms.crypto_rate));
	json_object_object_add(j, "configured_burst", i64(cfg->kms.crypto_burst));
	json_object_object_add(j, "max_wait_ms", i64(cfg->kms.max_wait_ms));

	json_object_object_add(wu, "elapsed_s", wctl_json_double(r->warm_s, 6));
	json_object_object_add(wu, "attempts", i64(r->warm.attempts));
	json_object_object_add(wu, "burst_drained", i64(r->warm.admitted));
	json_object_object_add(wu, "throttled", i64(r->warm.throttled));
	json_object_object_add(j, "warmup", wu);

	json_object_object_add(m, "elapsed_s", wctl_json_double(r->elapsed, 6));
	json_object_object_add(m, "attempts", i64(r->win.attempts));
	json_object_object_add(m, "admitted", i64(r->win.admitted));
	json_object_object_add(m, "throttled", i64(r->win.throttled));
	json_object_object_add(m, "errors", i64(r->win.errors));
	json_object_object_add(m, "expected_admitted", wctl_json_double(r->expected, 1));
	json_object_object_add(m, "steady_rate", wctl_json_double(r->rate, 1));
	json_object_object_add(m, "deviation_pct", wctl_json_double(r->dev_pct, 3));
	json_object_object_add(m, "latency_admitted_us", hist_json(r->h_ok));
	json_object_object_add(m, "latency_throttled_us", hist_json(r->h_thr));
	json_object_object_add(j, "measured", m);
	json_object_object_add(t, "attempts", i64(r->tail.attempts));
	json_object_object_add(t, "admitted", i64(r->tail.admitted));
	json_object_object_add(t, "throttled", i64(r->tail.throttled));
	json_object_object_add(j, "after_window", t);

	json_object_object_add(k, "requests", i64(cs->requests));
	json_object_object_add(k, "throttled", i64(cs->throttled));
	json_object_object_add(k, "wait_ns", i64(cs->wait_ns));
	json_object_object_add(j, "kms_crypto_stats", k);
	wctl_json_print(j);
}

static void print_hist(const char *label, const struct hist *h)
{
	printf("%-18s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu calls)\n",
	       label, (double)h_pct(h, 50) / 1e6, (double)h_pct(h, 90) / 1e6,
	       (double)h_pct(h, 99) / 1e6, (double)h->max / 1e6, (unsigned long long)h->n);
}

static void report_text(const struct wctl_opts *o, const struct cfg *cfg, const struct result *r)
{
	int fail = cfg->kms.throttle == KMS_THROTTLE_FAIL;

	printf("kms bench: op %s, %u threads, %.2f s measured, throttle %s\n",
	       o->op_generate ? "generate" : "decrypt", o->threads, o->seconds,
	       fail ? "fail" : "wait");
	printf("configured rate %llu/s, burst %llu, max wait %llu ms\n",
	       (unsigned long long)cfg->kms.crypto_rate, (unsigned long long)cfg->kms.crypto_burst,
	       (unsigned long long)cfg->kms.max_wait_ms);
	printf("warm-up    %.3f s: burst drained %llu admitted (%llu attempts)\n", r->warm_s,
	       (unsigned long long)r->warm.admitted, (unsigned long long)r->warm.attempts);
	printf("measured   %.3f s\n", r->elapsed);
	printf("attempts   %llu\n", (unsigned long long)r->win.attempts);
	printf("admitted   %llu\n", (unsigned long long)r->win.admitted);
	printf("throttled  %llu\n", (unsigned long long)r->win.throttled);
	if (r->win.errors)
		printf("errors     %llu\n", (unsigned long long)r->win.errors);
	printf("steady     %.1f/s (configured %llu/s, deviation %+.3f%%)\n", r->rate,
	       (unsigned long long)cfg->kms.crypto_rate, r->dev_pct);
	if (fail)
		printf("admitted   %llu vs rate x time %.1f (%+.3f%%)\n",
		       (unsigned long long)r->win.admitted, r->expected, r->dev_pct);
	print_hist(fail ? "latency admitted" : "wait", r->h_ok);
	if (fail)
		print_hist("latency throttled", r->h_thr);
}

static void add_counts(struct counts *to, const struct counts *c)
{
	to->attempts += c->attempts;
	to->admitted += c->admitted;
	to->throttled += c->throttled;
	to->errors += c->errors;
}

int wctl_kms_bench(const struct wctl_opts *o)
{
	struct bench b;
	struct worker *w = NULL;
	struct result r;
	struct cfg cfg;
	uint8_t *dek = NULL;
	int64_t start, t0;
	unsigned started = 0;
	int first_err = 0;
	ns *n = NULL;
	int rc, ret = WCTL_FAIL;

	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	/* The same config the open uses, for the report. */
	if (wctl_load_cfg(o, o->pos[0], &cfg))
		return WCTL_FAIL;
	if (wctl_open_store(o, o->pos[0], NS_RDONLY, &n))
		return WCTL_FAIL;
	b.k = ns_kms(n);
	b.generate = o->op_generate;
	b.fail_mode = cfg.kms.throttle == KMS_THROTTLE_FAIL;
	b.seconds_ns = (uint64_t)(o->seconds * 1e9);
	w = calloc(o->threads, sizeof(*w));
	r.h_ok = calloc(1, sizeof(*r.h_ok));
	r.h_thr = calloc(1, sizeof(*r.h_thr));
	dek = wcrypto_secure_alloc(KMS_DEK_BYTES);
	if (!w || !r.h_ok || !r.h_thr || !dek) {
		wctl_err("%s: %s", o->cmd, strerror(ENOMEM));
		goto out;
	}
	/* One data key to decrypt over and over (the cache is bypassed). Its
	 * GenerateDataKey takes a token too; the warm-up absorbs it. */
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
	atomic_store(&b.deadline, started < o->threads ? 0 : start + WARMUP_MAX_NS);
	b.go = 1;
	pthread_cond_broadcast(&b.cv);
	pthread_mutex_unlock(&b.mu);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		add_counts(&r.warm, &w[i].warm);
		add_counts(&r.win, &w[i].win);
		add_counts(&r.tail, &w[i].tail);
		if (w[i].first_err && !first_err)
			first_err = w[i].first_err;
		h_merge(r.h_ok, &w[i].h_ok);
		h_merge(r.h_thr, &w[i].h_thr);
	}
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	if (started < o->threads)
		goto out;
	if (r.warm.errors || r.win.errors || r.tail.errors) {
		wctl_err("%s %s: %llu calls failed, first: %s", o->cmd, o->pos[0],
			 (unsigned long long)(r.warm.errors + r.win.errors + r.tail.errors),
			 strerror(-first_err));
		goto out;
	}
	t0 = atomic_load(&b.t0);
	if (!t0) {
		wctl_err("%s %s: the burst of %llu was not drained within %lld s at %u threads: "
			 "this machine cannot exceed the configured rate %llu/s, so there is "
			 "no steady state to measure", o->cmd, o->pos[0],
			 (unsigned long long)cfg.kms.crypto_burst, WARMUP_MAX_NS / 1000000000ll,
			 o->threads, (unsigned long long)cfg.kms.crypto_rate);
		goto out;
	}
	kms_get_stats(b.k, &r.ks);
	r.warm_s = (double)(t0 - start) / 1e9;
	r.elapsed = (double)b.seconds_ns / 1e9;
	r.rate = r.elapsed > 0 ? (double)r.win.admitted / r.elapsed : 0;
	r.expected = (double)cfg.kms.crypto_rate * r.elapsed;
	r.dev_pct = r.expected > 0 ? ((double)r.win.admitted - r.expected) / r.expected * 100.0 : 0;
	if (o->json)
		report_json(o, &cfg, &r);
	else
		report_text(o, &cfg, &r);
	ret = WCTL_OK;
out:
	if (dek) {
		wcrypto_wipe(dek, KMS_DEK_BYTES);
		wcrypto_secure_free(dek);
	}
	free(r.h_ok);
	free(r.h_thr);
	free(w);
	ns_close(n);
	return ret;
}
