/* stats: operation and refusal counters, rendered as Prometheus text for
 * .wormfs/stats. Counters are relaxed atomics in a struct owned by the
 * daemon context (no globals). */
#ifndef WORMFS_STATS_H
#define WORMFS_STATS_H

#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>
#include "kms.h"

enum stats_op {
	SOP_LOOKUP, SOP_GETATTR, SOP_SETATTR, SOP_MKDIR, SOP_CREATE, SOP_SYMLINK,
	SOP_UNLINK, SOP_RMDIR, SOP_RENAME, SOP_OPEN, SOP_READ, SOP_WRITE,
	SOP_RELEASE, SOP_FSYNC, SOP_READDIR, SOP_GETXATTR, SOP_SETXATTR,
	SOP_LISTXATTR, SOP_REMOVEXATTR, SOP_STATFS, SOP_FALLOCATE, SOP_LINK, SOP_OTHER,
	SOP__COUNT
};

/* FUSE requests as the kernel sent them, by opcode (one per callback in
 * fs.c): the cost of a workload is mostly its number of round trips, so
 * "requests per file" is read from these. */
enum stats_req {
	SREQ_LOOKUP, SREQ_FORGET, SREQ_GETATTR, SREQ_SETATTR, SREQ_READLINK,
	SREQ_MKNOD, SREQ_MKDIR, SREQ_UNLINK, SREQ_RMDIR, SREQ_SYMLINK,
	SREQ_RENAME, SREQ_LINK, SREQ_OPEN, SREQ_READ, SREQ_WRITE, SREQ_STATFS,
	SREQ_RELEASE, SREQ_FSYNC, SREQ_SETXATTR, SREQ_GETXATTR, SREQ_LISTXATTR,
	SREQ_REMOVEXATTR, SREQ_FLUSH, SREQ_OPENDIR, SREQ_READDIR,
	SREQ_READDIRPLUS, SREQ_FSYNCDIR, SREQ_CREATE, SREQ_FALLOCATE,
	SREQ__COUNT
};

struct stats {
	_Atomic uint64_t ops[SOP__COUNT];
	_Atomic uint64_t fuse_reqs[SREQ__COUNT]; /* FUSE requests, by opcode */
	_Atomic uint64_t refusals[SOP__COUNT];  /* policy refusals, per op */
	_Atomic uint64_t lock_changes;          /* retention/hold/bucket lock changes */
	_Atomic uint64_t auth_failures;         /* blocks or records failing auth */
	_Atomic uint64_t bytes_read, bytes_written;
	_Atomic uint64_t s3_requests;           /* S3 requests received */
	_Atomic uint64_t s3_errors[2];          /* S3 answers 4xx, 5xx */
};

void stats_init(struct stats *s);
void stats_op(struct stats *s, enum stats_op op);
void stats_refusal(struct stats *s, enum stats_op op);
/* One FUSE request received; out of range is ignored. */
void stats_fuse_req(struct stats *s, enum stats_req op);
/* Uppercase kernel opcode name ("LOOKUP", ...); out of range -> "?". */
const char *stats_req_name(enum stats_req op);
void stats_lock_change(struct stats *s);
void stats_auth_failure(struct stats *s);
void stats_add_read(struct stats *s, uint64_t bytes);
/* One S3 request, and its answer's HTTP status (errors are counted). */
void stats_s3_request(struct stats *s, unsigned status);
void stats_add_written(struct stats *s, uint64_t bytes);
/* Lowercase name ("lookup", ..., "other"); out of range -> "other". An
 * out-of-range op passed to stats_op/stats_refusal counts as SOP_OTHER. */
const char *stats_op_name(enum stats_op op);
/* Render Prometheus text (# HELP/# TYPE lines, wormfs_* metrics) including
 * the KMS stats (may be NULL) and the compliance clock hwm. Returns the
 * length written (truncated at len-1, NUL-terminated) or -ERANGE if the
 * buffer was too small. */
int stats_render(const struct stats *s, const struct kms_stats *k,
		 int64_t clock_s, char *buf, size_t len);

#endif
