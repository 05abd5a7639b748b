#include <criterion/criterion.h>
#include <errno.h>
#include "inoset.h"

Test(inoset, add_once_and_refuse_zero)
{
	struct inoset s = { 0 };
	cr_expect_eq(inoset_add(&s, 0), -EINVAL);
	cr_expect_eq(inoset_add(&s, 42), 1);
	cr_expect_eq(inoset_add(&s, 42), 0);
	cr_expect_eq(s.n, 1);
	inoset_free(&s);
	cr_expect_eq(s.cap, 0);
	cr_expect_eq(inoset_add(&s, 42), 1, "a freed set is empty again");
	inoset_free(&s);
}

Test(inoset, grows_and_keeps_every_member)
{
	struct inoset s = { 0 };
	/* Multiples of a power of two collide under a poor hash. */
	for (uint64_t i = 1; i <= 100000; i++)
		cr_assert_eq(inoset_add(&s, i << 12), 1, "new %llu", (unsigned long long)i);
	for (uint64_t i = 1; i <= 100000; i++)
		cr_assert_eq(inoset_add(&s, i << 12), 0, "again %llu", (unsigned long long)i);
	cr_expect_eq(s.n, 100000);
	cr_expect(2 * s.n <= s.cap, "at most half full");
	inoset_free(&s);
}
