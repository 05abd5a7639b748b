/* stats: counters (relaxed atomics: they are statistics, ordering with
 * other memory does not matter) and their Prometheus text rendering. */
#include "stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const op_names[SOP__COUNT] = {
	[SOP_LOOKUP] = "lookup", [SOP_GETATTR] = "getattr",
	[SOP_SETATTR] = "setattr", [SOP_MKDIR] = "mkdir",
	[SOP_CREATE] = "create", [SOP_SYMLINK] = "symlink",
	[SOP_UNLINK] = "unlink", [SOP_RMDIR] = "rmdir",
	[SOP_RENAME] = "rename", [SOP_OPEN] = "open", [SOP_READ] = "read",
	[SOP_WRITE] = "write", [SOP_RELEASE] = "release",
	[SOP_FSYNC] = "fsync", [SOP_READDIR] = "readdir",
	[SOP_GETXATTR] = "getxattr", [SOP_SETXATTR] = "setxattr",
	[SOP_LISTXATTR] = "listxattr", [SOP_REMOVEXATTR] = "removexattr",
	[SOP_STATFS] = "statfs", [SOP_FALLOCATE] = "fallocate",
	[SOP_LINK] = "link",
	[SOP_OTHER] = "other",
};

static const char *const req_names[SREQ__COUNT] = {
	[SREQ_LOOKUP] = "LOOKUP", [SREQ_FORGET] = "FORGET",
	[SREQ_GETATTR] = "GETATTR", [SREQ_SETATTR] = "SETATTR",
	[SREQ_READLINK] = "READLINK", [SREQ_MKNOD] = "MKNOD",
	[SREQ_MKDIR] = "MKDIR", [SREQ_UNLINK] = "UNLINK", [SREQ_RMDIR] = "RMDIR",
	[SREQ_SYMLINK] = "SYMLINK", [SREQ_RENAME] = "RENAME",
	[SREQ_LINK] = "LINK", [SREQ_OPEN] = "OPEN", [SREQ_READ] = "READ",
	[SREQ_WRITE] = "WRITE", [SREQ_STATFS] = "STATFS",
	[SREQ_RELEASE] = "RELEASE", [SREQ_FSYNC] = "FSYNC",
	[SREQ_SETXATTR] = "SETXATTR", [SREQ_GETXATTR] = "GETXATTR",
	[SREQ_LISTXATTR] = "LISTXATTR", [SREQ_REMOVEXATTR] = "REMOVEXATTR",
	[SREQ_FLUSH] = "FLUSH", [SREQ_OPENDIR] = "OPENDIR",
	[SREQ_READDIR] = "READDIR", [SREQ_READDIRPLUS] = "READDIRPLUS",
	[SREQ_FSYNCDIR] = "FSYNCDIR", [SREQ_CREATE] = "CREATE",
	[SREQ_FALLOCATE] = "FALLOCATE",
};

static const char *const class_names[KMS_CLASS__COUNT] = {
	[KMS_CLASS_CRYPTO] = "cryptographic",
	[KMS_CLASS_MGMT] = "management",
};

static unsigned op_index(enum stats_op op)
{
	return (unsigned)op < SOP__COUNT ? (unsigned)op : SOP_OTHER;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_init(struct stats *s)
{
	for (int i = 0; i < SOP__COUNT; i++) {
		atomic_init(&s->ops[i], 0);
		atomic_init(&s->refusals[i], 0);
	}
	for (int i = 0; i < SREQ__COUNT; i++)
		atomic_init(&s->fuse_reqs[i], 0);
	atomic_init(&s->lock_changes, 0);
	atomic_init(&s->auth_failures, 0);
	atomic_init(&s->bytes_read, 0);
	atomic_init(&s->bytes_written, 0);
	atomic_init(&s->s3_requests, 0);
	atomic_init(&s->s3_errors[0], 0);
	atomic_init(&s->s3_errors[1], 0);
}

void stats_s3_request(struct stats *s, unsigned status)
{
	add(&s->s3_requests, 1);
	if (status >= 400 && status < 600)
		add(&s->s3_errors[status >= 500], 1);
}

void stats_op(struct stats *s, enum stats_op op)
{
	add(&s->ops[op_index(op)], 1);
}

void stats_refusal(struct stats *s, enum stats_op op)
{
	add(&s->refusals[op_index(op)], 1);
}

void stats_fuse_req(struct stats *s, enum stats_req op)
{
	if ((unsigned)op < SREQ__COUNT)
		add(&s->fuse_reqs[op], 1);
}

const char *stats_req_name(enum stats_req op)
{
	return (unsigned)op < SREQ__COUNT ? req_names[op] : "?";
}

void stats_lock_change(struct stats *s)
{
	add(&s->lock_changes, 1);
}

void stats_auth_failure(struct stats *s)
{
	add(&s->auth_failures, 1);
}

void stats_add_read(struct stats *s, uint64_t bytes)
{
	add(&s->bytes_read, bytes);
}

void stats_add_written(struct stats *s, uint64_t bytes)
{
	add(&s->bytes_written, bytes);
}

const char *stats_op_name(enum stats_op op)
{
	return op_names[op_index(op)];
}

/* Appender that keeps going after truncation so the caller learns it. */
struct out {
	char *buf;
	size_t len, pos;
	int overflow;
};

static void emit(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->overflow = 1;
		o->pos = o->len - 1;   /* vsnprintf NUL-terminated the rest */
		return;
	}
	o->pos += (size_t)n;
}

static void header(struct out *o, const char *name, const char *type,
		   const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help,
		    uint64_t v)
{
	header(o, name, "counter", help);
	emit(o, "%s %llu\n", name, (unsigned long long)v);
}

int stats_render(const struct stats *s, const struct kms_stats *k,
		 int64_t clock_s, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };

	if (!buf || len == 0)
		return -ERANGE;
	buf[0] = '\0';
	header(&o, "wormfs_operations_total", "counter",
	       "Filesystem requests handled, by operation.");
	for (int i = 0; i < SOP__COUNT; i++)
		emit(&o, "wormfs_operations_total{op=\"%s\"} %llu\n", op_names[i],
		     (unsigned long long)get(&s->ops[i]));
	header(&o, "wormfs_refusals_total", "counter",
	       "Requests refused by the Object Lock rules, by operation.");
	for (int i = 0; i < SOP__COUNT; i++)
		emit(&o, "wormfs_refusals_total{op=\"%s\"} %llu\n", op_names[i],
		     (unsigned long long)get(&s->refusals[i]));
	header(&o, "wormfs_fuse_requests_total", "counter",
	       "FUSE requests received from the kernel, by opcode.");
	for (int i = 0; i < SREQ__COUNT; i++)
		emit(&o, "wormfs_fuse_requests_total{op=\"%s\"} %llu\n", req_names[i],
		     (unsigned long long)get(&s->fuse_reqs[i]));
	counter(&o, "wormfs_lock_changes_total",
		"Retention, legal hold and bucket lock changes.",
		get(&s->lock_changes));
	counter(&o, "wormfs_auth_failures_total",
		"Object blocks or metadata records that failed authentication.",
		get(&s->auth_failures));
	counter(&o, "wormfs_bytes_read_total", "Plaintext bytes read.",
		get(&s->bytes_read));
	counter(&o, "wormfs_bytes_written_total", "Plaintext bytes written.",
		get(&s->bytes_written));
	counter(&o, "wormfs_s3_requests_total", "S3 requests answered.",
		get(&s->s3_requests));
	header(&o, "wormfs_s3_errors_total", "counter",
	       "S3 requests answered with an error, by class (4xx: refused or bad, 5xx: failed).");
	emit(&o, "wormfs_s3_errors_total{class=\"4xx\"} %llu\n",
	     (unsigned long long)get(&s->s3_errors[0]));
	emit(&o, "wormfs_s3_errors_total{class=\"5xx\"} %llu\n",
	     (unsigned long long)get(&s->s3_errors[1]));
	if (k) {
		header(&o, "wormfs_kms_requests_total", "counter",
		       "KMS requests (admitted and throttled), by quota class.");
		for (int c = 0; c < KMS_CLASS__COUNT; c++)
			emit(&o, "wormfs_kms_requests_total{class=\"%s\"} %llu\n",
			     class_names[c], (unsigned long long)k->cls[c].requests);
		header(&o, "wormfs_kms_throttled_total", "counter",
		       "KMS requests refused with ThrottlingException, by class.");
		for (int c = 0; c < KMS_CLASS__COUNT; c++)
			emit(&o, "wormfs_kms_throttled_total{class=\"%s\"} %llu\n",
			     class_names[c], (unsigned long long)k->cls[c].throttled);
		header(&o, "wormfs_kms_wait_seconds_total", "counter",
		       "Time callers waited for a KMS quota token, by class.");
		for (int c = 0; c < KMS_CLASS__COUNT; c++)
			emit(&o, "wormfs_kms_wait_seconds_total{class=\"%s\"} %llu.%09llu\n",
			     class_names[c],
			     (unsigned long long)(k->cls[c].wait_ns / 1000000000u),
			     (unsigned long long)(k->cls[c].wait_ns % 1000000000u));
		counter(&o, "wormfs_dek_cache_hits_total",
			"Data key lookups answered by the DEK cache.", k->cache_hits);
		counter(&o, "wormfs_dek_cache_misses_total",
			"Data key lookups that needed a KMS Decrypt.", k->cache_misses);
		if (k->crypto_impl && k->crypto_impl_by) {
			header(&o, "wormfs_crypto_impl_info", "gauge",
			       "Implementation computing AES-256-GCM for contents "
			       "(crypto_impl), and whether auto or the config chose it.");
			emit(&o, "wormfs_crypto_impl_info{impl=\"%s\",chosen_by=\"%s\"} 1\n",
			     k->crypto_impl, k->crypto_impl_by);
		}
		if (k->crypto_sodium_mbps || k->crypto_openssl_mbps) {
			header(&o, "wormfs_crypto_impl_measured_mbps", "gauge",
			       "crypto_impl = auto: 16 KiB AES-256-GCM seal+open measured "
			       "at mount, MB/s, by implementation.");
			emit(&o, "wormfs_crypto_impl_measured_mbps{impl=\"sodium\"} %llu\n",
			     (unsigned long long)k->crypto_sodium_mbps);
			emit(&o, "wormfs_crypto_impl_measured_mbps{impl=\"openssl\"} %llu\n",
			     (unsigned long long)k->crypto_openssl_mbps);
		}
	}
	header(&o, "wormfs_compliance_clock_seconds", "gauge",
	       "Compliance clock (never moves backward), seconds since the epoch.");
	emit(&o, "wormfs_compliance_clock_seconds %lld\n", (long long)clock_s);
	return o.overflow ? -ERANGE : (int)o.pos;
}
