/* clock: raw clocks, the compliance clock and RFC 3339 in UTC.
 *
 * Calendar arithmetic is done here (proleptic Gregorian, years 1970..9999)
 * rather than with timegm/strptime, which depend on the locale and TZ and
 * are not bounded on their input. */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define YEAR_MIN 1970
#define YEAR_MAX 9999
/* 9999-12-31T23:59:59Z: the last second we can format. */
#define T_MAX ((int64_t)253402300799)

static int64_t ts_ns(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_realtime_ns(void) { return ts_ns(CLOCK_REALTIME); }
int64_t clock_monotonic_ns(void) { return ts_ns(CLOCK_MONOTONIC); }

void wclock_init(struct wclock *c, int64_t persisted_hwm_s)
{
	if (persisted_hwm_s < 0)
		persisted_hwm_s = 0;
	atomic_init(&c->hwm, persisted_hwm_s);
	atomic_init(&c->persisted, persisted_hwm_s);
}

/* Lock-free max: a reader either sees its own sys value installed or a
 * later one another thread installed; never anything smaller. */
int64_t wclock_now(struct wclock *c, int64_t sys_now_s)
{
	int64_t cur = atomic_load(&c->hwm);
	while (sys_now_s > cur) {
		if (atomic_compare_exchange_weak(&c->hwm, &cur, sys_now_s))
			return sys_now_s;
	}
	return cur;
}

int wclock_should_persist(const struct wclock *c, int64_t interval_s)
{
	int64_t h = atomic_load(&c->hwm);
	int64_t p = atomic_load(&c->persisted);
	return h - p >= interval_s;
}

void wclock_mark_persisted(struct wclock *c, int64_t hwm_s)
{
	/* Max again: two persisting threads may finish out of order. */
	int64_t cur = atomic_load(&c->persisted);
	while (hwm_s > cur) {
		if (atomic_compare_exchange_weak(&c->persisted, &cur, hwm_s))
			break;
	}
}

int64_t wclock_hwm(const struct wclock *c)
{
	return atomic_load(&c->hwm);
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* Leap years in [1, y]. */
static int64_t leaps_through(int64_t y)
{
	return y / 4 - y / 100 + y / 400;
}

/* Days since 1970-01-01 of a valid date with year >= 1970. */
static int64_t days_from_civil(int y, int m, int d)
{
	static const int before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	int64_t days = (int64_t)(y - 1970) * 365 + leaps_through(y - 1) - leaps_through(1969);
	days += before[m - 1] + (m > 2 && is_leap(y)) + (d - 1);
	return days;
}

static void civil_from_days(int64_t days, int *y, int *m, int *d)
{
	/* 365 days per year overestimates the year at most by a few; step back. */
	int yy = 1970 + (int)(days / 365);
	while (days_from_civil(yy, 1, 1) > days)
		yy--;
	days -= days_from_civil(yy, 1, 1);
	int mm = 1;
	while (days >= month_days(yy, mm)) {
		days -= month_days(yy, mm);
		mm++;
	}
	*y = yy;
	*m = mm;
	*d = (int)days + 1;
}

int clock_format_rfc3339(int64_t t_s, char *buf, size_t len)
{
	int y, mo, d;
	if (!buf || len < 21 || t_s < 0 || t_s > T_MAX)
		return -EINVAL;
	int64_t days = t_s / 86400, sod = t_s % 86400;
	civil_from_days(days, &y, &mo, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d,
		 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	return 0;
}

/* Exactly n decimal digits at s[*i]; advances *i. */
static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	if (len - *i < (size_t)n)
		return -EINVAL;
	for (int k = 0; k < n; k++) {
		char ch = s[*i + k];
		if (ch < '0' || ch > '9')
			return -EINVAL;
		v = v * 10 + (ch - '0');
	}
	*i += n;
	*out = v;
	return 0;
}

static int expect(const char *s, size_t len, size_t *i, char ch)
{
	if (*i >= len || s[*i] != ch)
		return -EINVAL;
	(*i)++;
	return 0;
}

/* A leap second (ss == 60) is read as :59 of the same minute, so that
 * 9999-12-31T23:59:60Z stays in range and a date never rolls over: a
 * retention date must not move to a later day than the one written. */
static int parse_rfc3339(const char *s, size_t len, int64_t *t_s, int *frac)
{
	size_t i = 0;
	int y, mo, d, hh = 0, mi = 0, ss = 0, off = 0;

	*frac = 0;
	if (!s || !t_s)
		return -EINVAL;
	if (digits(s, len, &i, 4, &y) || expect(s, len, &i, '-') ||
	    digits(s, len, &i, 2, &mo) || expect(s, len, &i, '-') ||
	    digits(s, len, &i, 2, &d))
		return -EINVAL;
	if (y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
	    d > month_days(y, mo))
		return -EINVAL;
	if (i < len) {
		char sep = s[i++];
		if (sep != 'T' && sep != 't' && sep != ' ')
			return -EINVAL;
		if (digits(s, len, &i, 2, &hh) || expect(s, len, &i, ':') ||
		    digits(s, len, &i, 2, &mi) || expect(s, len, &i, ':') ||
		    digits(s, len, &i, 2, &ss))
			return -EINVAL;
		if (hh > 23 || mi > 59 || ss > 60)
			return -EINVAL;
		int leap = ss == 60;
		if (leap)
			ss = 59;
		if (i < len && s[i] == '.') {
			size_t f = ++i;
			while (i < len && s[i] >= '0' && s[i] <= '9')
				*frac |= s[i++] != '0';
			if (i == f)
				return -EINVAL;
		}
		/* :60 reads as :59 already; rounding it up would roll over. */
		if (leap)
			*frac = 0;
		if (i >= len)
			return -EINVAL;   /* the offset is mandatory */
		char z = s[i++];
		if (z == '+' || z == '-') {
			int oh, om;
			if (digits(s, len, &i, 2, &oh) || expect(s, len, &i, ':') ||
			    digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
				return -EINVAL;
			off = (oh * 60 + om) * 60;
			if (z == '-')
				off = -off;
		} else if (z != 'Z' && z != 'z') {
			return -EINVAL;
		}
		if (i != len)
			return -EINVAL;
	}
	/* local = UTC + offset, so UTC = local - offset. */
	int64_t t = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off;
	if (t < 0 || t > T_MAX)
		return -EINVAL;
	*t_s = t;
	return 0;
}

int clock_parse_rfc3339(const char *s, size_t len, int64_t *t_s)
{
	int frac;

	if (!s || !t_s)
		return -EINVAL;
	return parse_rfc3339(s, len, t_s, &frac);
}

int clock_parse_rfc3339_ceil(const char *s, size_t len, int64_t *t_s)
{
	int64_t t;
	int frac, rc;

	if (!s || !t_s)
		return -EINVAL;
	rc = parse_rfc3339(s, len, &t, &frac);
	if (rc)
		return rc;
	if (frac && t >= T_MAX)
		return -EINVAL;
	*t_s = t + frac;
	return 0;
}
