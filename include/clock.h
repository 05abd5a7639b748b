/* clock: raw clocks, RFC 3339 and the compliance clock.
 *
 * The compliance clock never moves backward: it is max(high-water mark,
 * system clock). Its state is a plain struct the caller owns (the daemon
 * context); persistence is the caller's job (meta), this module does no I/O
 * except reading the system clocks in clock_realtime_ns/clock_monotonic_ns. */
#ifndef WORMFS_CLOCK_H
#define WORMFS_CLOCK_H

#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>

#define CLOCK_PERSIST_INTERVAL_S 60

int64_t clock_realtime_ns(void);   /* CLOCK_REALTIME in ns */
int64_t clock_monotonic_ns(void);  /* CLOCK_MONOTONIC in ns */

struct wclock {
	_Atomic int64_t hwm;        /* highest time (s) ever returned */
	_Atomic int64_t persisted;  /* hwm value last written to disk */
};

/* Start from the persisted high-water mark (0 if none). */
void wclock_init(struct wclock *c, int64_t persisted_hwm_s);
/* Compliance time in seconds for a system time in seconds: never below any
 * value returned before. Thread-safe (lock-free). */
int64_t wclock_now(struct wclock *c, int64_t sys_now_s);
/* 1 if the hwm advanced by >= interval_s since the last mark_persisted. */
int wclock_should_persist(const struct wclock *c, int64_t interval_s);
void wclock_mark_persisted(struct wclock *c, int64_t hwm_s);
int64_t wclock_hwm(const struct wclock *c);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC). buf needs >= 21 bytes. 0 or -EINVAL (also
 * for t_s outside 0 .. 9999-12-31T23:59:59Z). */
int clock_format_rfc3339(int64_t t_s, char *buf, size_t len);
/* Parses RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)",
 * 't'/'z'/' ' separators accepted; also a bare date "YYYY-MM-DD" (midnight
 * UTC). Fractions are truncated. Years 1970..9999 only. 0 or -EINVAL.
 * The result after the offset must lie in 1970-01-01T00:00:00Z ..
 * 9999-12-31T23:59:59Z. A leap second (ss = 60) is read as ss = 59, so a
 * date never rolls over into the next day. */
int clock_parse_rfc3339(const char *s, size_t len, int64_t *t_s);
/* The same, but a non-zero fraction rounds up to the next second (a
 * retain-until: never earlier than written); -EINVAL past the range. */
int clock_parse_rfc3339_ceil(const char *s, size_t len, int64_t *t_s);

#endif
