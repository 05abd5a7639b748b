/* Unit tests for clock: compliance clock and RFC 3339. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

static int parse(const char *s, int64_t *t)
{
	return clock_parse_rfc3339(s, strlen(s), t);
}

static int64_t parse_ok(const char *s)
{
	int64_t t = -1;
	int rc = parse(s, &t);
	cr_assert_eq(rc, 0, "parse(%s) = %d", s, rc);
	return t;
}

Test(clock, raw_clocks_advance)
{
	int64_t r = clock_realtime_ns(), m1 = clock_monotonic_ns();
	cr_assert_gt(r, (int64_t)1600000000 * 1000000000);
	int64_t m2 = clock_monotonic_ns();
	cr_assert_geq(m2, m1);
	cr_assert_gt(m1, 0);
}

Test(clock, init_starts_at_persisted_hwm)
{
	struct wclock c;
	wclock_init(&c, 5000);
	cr_assert_eq(wclock_hwm(&c), 5000);
	cr_assert_eq(wclock_now(&c, 100), 5000);   /* system clock behind */
	cr_assert_eq(wclock_should_persist(&c, 1), 0);
}

Test(clock, monotonic_under_backward_system_clock)
{
	struct wclock c;
	wclock_init(&c, 0);
	cr_assert_eq(wclock_now(&c, 1000), 1000);
	cr_assert_eq(wclock_now(&c, 1010), 1010);
	/* Clock set back an hour: compliance time stays. */
	cr_assert_eq(wclock_now(&c, 1010 - 3600), 1010);
	cr_assert_eq(wclock_hwm(&c), 1010);
	cr_assert_eq(wclock_now(&c, 1005), 1010);
	/* Once the system clock passes the mark again, it follows it. */
	cr_assert_eq(wclock_now(&c, 1011), 1011);
	/* "Restart": a new clock from the persisted hwm keeps holding. */
	struct wclock c2;
	wclock_init(&c2, wclock_hwm(&c));
	cr_assert_eq(wclock_now(&c2, 0), 1011);
}

Test(clock, should_persist_and_mark)
{
	struct wclock c;
	wclock_init(&c, 1000);
	cr_assert_eq(wclock_should_persist(&c, CLOCK_PERSIST_INTERVAL_S), 0);
	wclock_now(&c, 1059);
	cr_assert_eq(wclock_should_persist(&c, CLOCK_PERSIST_INTERVAL_S), 0);
	wclock_now(&c, 1060);
	cr_assert_eq(wclock_should_persist(&c, CLOCK_PERSIST_INTERVAL_S), 1);
	wclock_mark_persisted(&c, 1060);
	cr_assert_eq(wclock_should_persist(&c, CLOCK_PERSIST_INTERVAL_S), 0);
	cr_assert_eq(wclock_should_persist(&c, 0), 1);   /* interval 0: always */
	/* An older mark arriving late must not move the persisted mark back. */
	wclock_mark_persisted(&c, 900);
	wclock_now(&c, 1100);
	cr_assert_eq(wclock_should_persist(&c, 41), 0);
	cr_assert_eq(wclock_should_persist(&c, 40), 1);
}

struct thr_arg {
	struct wclock *c;
	unsigned seed;
	int bad;
	int64_t last;
};

static void *hammer(void *p)
{
	struct thr_arg *a = p;
	int64_t prev = 0;
	for (int i = 0; i < 200000; i++) {
		/* A jittery system clock that often goes backward. */
		int64_t sys = 1000 + i / 4 - (int64_t)(rand_r(&a->seed) % 50);
		int64_t t = wclock_now(a->c, sys);
		if (t < prev || t < sys)
			a->bad++;
		prev = t;
	}
	a->last = prev;
	return NULL;
}

Test(clock, concurrent_never_backward)
{
	struct wclock c;
	pthread_t th[4];
	struct thr_arg a[4];
	wclock_init(&c, 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr_arg){ &c, (unsigned)i * 7919u + 1, 0, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
	}
	int64_t maxlast = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(a[i].bad, 0, "thread %d saw time go backward", i);
		if (a[i].last > maxlast)
			maxlast = a[i].last;
	}
	cr_assert_eq(wclock_hwm(&c), maxlast);
	cr_assert_geq(wclock_hwm(&c), 1000 + 199999 / 4 - 49);
}

Test(clock, format_known_values)
{
	char b[32];
	cr_assert_eq(clock_format_rfc3339(0, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "1970-01-01T00:00:00Z");
	cr_assert_eq(clock_format_rfc3339(951782400, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "2000-02-29T00:00:00Z");
	cr_assert_eq(clock_format_rfc3339(1924991999, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "2030-12-31T23:59:59Z");
	cr_assert_eq(clock_format_rfc3339(4107542400, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "2100-03-01T00:00:00Z");   /* 2100 is not leap */
	cr_assert_eq(clock_format_rfc3339(253402300799, b, sizeof(b)), 0);
	cr_assert_str_eq(b, "9999-12-31T23:59:59Z");
}

Test(clock, format_rejects)
{
	char b[32];
	cr_assert_eq(clock_format_rfc3339(-1, b, sizeof(b)), -EINVAL);
	cr_assert_eq(clock_format_rfc3339(253402300800, b, sizeof(b)), -EINVAL);
	cr_assert_eq(clock_format_rfc3339(0, b, 20), -EINVAL);
	cr_assert_eq(clock_format_rfc3339(0, b, 21), 0);
	cr_assert_eq(strlen(b), 20);
}

Test(clock, parse_known_values)
{
	cr_assert_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(parse_ok("2031-01-01T00:00:00Z"), 1924992000);
	cr_assert_eq(parse_ok("2000-02-29T00:00:00Z"), 951782400);
	cr_assert_eq(parse_ok("9999-12-31T23:59:59Z"), 253402300799);
	cr_assert_eq(parse_ok("2031-01-01"), 1924992000);   /* bare date */
}

Test(clock, parse_lowercase_and_space_separators)
{
	cr_assert_eq(parse_ok("2031-01-01t00:00:00z"), 1924992000);
	cr_assert_eq(parse_ok("2031-01-01 00:00:00Z"), 1924992000);
}

Test(clock, parse_offsets)
{
	/* 02:00+02:00 is midnight UTC; 23:30-00:30 is the next midnight. */
	cr_assert_eq(parse_ok("2031-01-01T02:00:00+02:00"), 1924992000);
	cr_assert_eq(parse_ok("2030-12-31T23:30:00-00:30"), 1924992000);
	cr_assert_eq(parse_ok("2031-01-01T00:00:00+00:00"), 1924992000);
	cr_assert_eq(parse_ok("2031-01-01T05:45:00+05:45"), 1924992000);
	int64_t t;
	cr_assert_eq(parse("2031-01-01T00:00:00+24:00", &t), -EINVAL);
	cr_assert_eq(parse("2031-01-01T00:00:00+01:60", &t), -EINVAL);
	cr_assert_eq(parse("2031-01-01T00:00:00+0100", &t), -EINVAL);
	cr_assert_eq(parse("2031-01-01T00:00:00+1:00", &t), -EINVAL);
	/* Offsets that push the instant out of range. */
	cr_assert_eq(parse("1970-01-01T00:00:00+00:01", &t), -EINVAL);
	cr_assert_eq(parse("9999-12-31T23:59:59-00:01", &t), -EINVAL);
	cr_assert_eq(parse_ok("1970-01-01T00:00:00-00:01"), 60);
}

Test(clock, parse_fractions_truncated)
{
	cr_assert_eq(parse_ok("2031-01-01T00:00:00.999999Z"), 1924992000);
	cr_assert_eq(parse_ok("2031-01-01T00:00:01.5+00:00"), 1924992001);
	int64_t t;
	cr_assert_eq(parse("2031-01-01T00:00:00.Z", &t), -EINVAL);
	cr_assert_eq(parse("2031-01-01T00:00:00.5", &t), -EINVAL);
}

/* The ceil variant (retain-until dates): a non-zero fraction is the next
 * second; zeros, a leap second and the end of the range do not round. */
Test(clock, parse_ceil)
{
	int64_t t;
	const char *s;
#define CEIL(str) (s = (str), clock_parse_rfc3339_ceil(s, strlen(s), &t))
	cr_assert_eq(CEIL("2031-01-01T00:00:00.999999Z"), 0);
	cr_assert_eq(t, 1924992001);
	cr_assert_eq(CEIL("2031-01-01T00:00:00.0001Z"), 0);
	cr_assert_eq(t, 1924992001);
	cr_assert_eq(CEIL("2031-01-01T00:00:00.000Z"), 0);
	cr_assert_eq(t, 1924992000);
	cr_assert_eq(CEIL("2031-01-01T00:00:00Z"), 0);
	cr_assert_eq(t, 1924992000);
	cr_assert_eq(CEIL("2031-01-01"), 0);
	cr_assert_eq(t, 1924992000);
	cr_assert_eq(CEIL("2030-12-31T23:59:60.5Z"), 0);   /* stays in its day */
	cr_assert_eq(t, 1924991999);
	cr_assert_eq(CEIL("9999-12-31T23:59:59.5Z"), -EINVAL);
	cr_assert_eq(CEIL("9999-12-31T23:59:59Z"), 0);
	cr_assert_eq(CEIL("2031-01-01T00:00:00.Z"), -EINVAL);
#undef CEIL
}

Test(clock, parse_leap_days)
{
	int64_t t;
	cr_assert_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800);
	cr_assert_eq(parse_ok("2000-02-29T12:00:00Z"), 951825600);
	cr_assert_eq(parse("2023-02-29T00:00:00Z", &t), -EINVAL);
	cr_assert_eq(parse("2100-02-29T00:00:00Z", &t), -EINVAL);
	cr_assert_eq(parse("2024-02-30T00:00:00Z", &t), -EINVAL);
	cr_assert_eq(parse("2024-04-31T00:00:00Z", &t), -EINVAL);
	cr_assert_eq(parse_ok("2024-12-31T00:00:00Z"), 1735603200);
}

Test(clock, parse_leap_second_reads_as_59)
{
	cr_assert_eq(parse_ok("2016-12-31T23:59:60Z"), parse_ok("2016-12-31T23:59:59Z"));
	cr_assert_eq(parse_ok("9999-12-31T23:59:60Z"), 253402300799);
	int64_t t;
	cr_assert_eq(parse("2016-12-31T23:59:61Z", &t), -EINVAL);
}

Test(clock, parse_rejects_garbage)
{
	static const char *bad[] = {
		"", "2031", "2031-01", "2031-1-01", "2031-01-1", "20310101",
		"1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z", "99999-01-01T00:00:00Z",
		"0000-01-01", "2031-00-01", "2031-13-01", "2031-01-00", "2031-01-32",
		"2031-01-01T24:00:00Z", "2031-01-01T00:60:00Z", "2031-01-01T00:00:00",
		"2031-01-01T00:00Z", "2031-01-01T00:00:00ZZ", "2031-01-01T00:00:00Z ",
		" 2031-01-01T00:00:00Z", "2031-01-01X00:00:00Z", "2031-01-01T00:00:00UTC",
		"+031-01-01", "2031-01-01T0a:00:00Z", "2031-01-01T", "2031-01-01 ",
		"-2031-01-01", "２０３１-01-01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 12345;
		cr_assert_eq(parse(bad[i], &t), -EINVAL, "accepted '%s'", bad[i]);
		cr_assert_eq(t, 12345, "wrote output for '%s'", bad[i]);
	}
	int64_t t;
	cr_assert_eq(clock_parse_rfc3339(NULL, 0, &t), -EINVAL);
}

Test(clock, parse_is_length_bounded)
{
	/* Not NUL-terminated: only len bytes are read. */
	char buf[64];
	memset(buf, 'X', sizeof(buf));
	memcpy(buf, "2031-01-01T00:00:00Z", 20);
	int64_t t;
	cr_assert_eq(clock_parse_rfc3339(buf, 20, &t), 0);
	cr_assert_eq(t, 1924992000);
	cr_assert_eq(clock_parse_rfc3339(buf, 21, &t), -EINVAL);
	cr_assert_eq(clock_parse_rfc3339(buf, 19, &t), -EINVAL);
	/* A prefix that is a bare date. */
	cr_assert_eq(clock_parse_rfc3339(buf, 10, &t), 0);
	cr_assert_eq(t, 1924992000);
	/* Embedded NUL. */
	char nul[] = "2031-01-01T00:00:00Z\0";
	cr_assert_eq(clock_parse_rfc3339(nul, 21, &t), -EINVAL);
	/* Heap buffer of exact length, so ASan catches any overread. */
	char *h = malloc(20);
	memcpy(h, "2031-01-01T00:00:00+", 20);
	cr_assert_eq(clock_parse_rfc3339(h, 20, &t), -EINVAL);
	memcpy(h, "2031-01-01T00:00:00.", 20);
	cr_assert_eq(clock_parse_rfc3339(h, 20, &t), -EINVAL);
	free(h);
}

Test(clock, roundtrip_random_times)
{
	unsigned seed = 42;
	char b[32];
	for (int i = 0; i < 200000; i++) {
		int64_t t = (((int64_t)rand_r(&seed) << 31) ^ rand_r(&seed)) % 253402300800;
		if (t < 0)
			t = -t;
		int64_t back = -1;
		cr_assert_eq(clock_format_rfc3339(t, b, sizeof(b)), 0);
		cr_assert_eq(parse(b, &back), 0, "%s", b);
		cr_assert_eq(back, t, "t=%lld -> %s -> %lld", (long long)t, b, (long long)back);
	}
	/* Every day boundary across four centuries, including leap days. */
	for (int64_t d = 0; d < 146097 * 2; d += 1) {
		int64_t t = d * 86400 + 86399, back;
		cr_assert_eq(clock_format_rfc3339(t, b, sizeof(b)), 0);
		cr_assert_eq(parse(b, &back), 0);
		cr_assert_eq(back, t);
	}
}

Test(clock, days_agree_with_libc)
{
	/* Cross-check the calendar against gmtime_r (UTC, no locale). */
	char b[32], ref[32];
	unsigned seed = 7;
	for (int i = 0; i < 20000; i++) {
		int64_t t = (((int64_t)rand_r(&seed) << 31) ^ rand_r(&seed)) % 253402300800;
		if (t < 0)
			t = -t;
		time_t tt = (time_t)t;
		struct tm tm;
		cr_assert_not_null(gmtime_r(&tt, &tm));
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cr_assert_eq(clock_format_rfc3339(t, b, sizeof(b)), 0);
		cr_assert_str_eq(b, ref);
	}
}
