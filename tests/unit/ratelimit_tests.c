/* SPDX-License-Identifier: MIT */
/* The log rate limit: a burst per window, the rest counted and reported
 * once the window is over. Times are given, not read: no clock involved. */
#include <stdint.h>
#include "suites.h"
#include "common/ratelimit.h"

START_TEST(burst_then_count)
{
	struct ratelimit r;
	ratelimit_init(&r, 1000, 3);
	uint64_t t = 5000;
	ck_assert_uint_eq(ratelimit_flush(&r, t), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(ratelimit_take(&r, t + (uint64_t)i));
	ck_assert_uint_eq(ratelimit_deadline(&r), UINT64_MAX);	/* nothing held back yet */
	for (int i = 0; i < 10; i++)
		ck_assert(!ratelimit_take(&r, t + 10));
	ck_assert_uint_eq(ratelimit_deadline(&r), t + 1000);
	ck_assert_uint_eq(ratelimit_flush(&r, t + 999), 0);	/* window not over */
	ck_assert(!ratelimit_take(&r, t + 999));
	ck_assert_uint_eq(ratelimit_flush(&r, t + 1000), 11);	/* over: the count, once */
	ck_assert_uint_eq(ratelimit_flush(&r, t + 1000), 0);
	ck_assert_uint_eq(ratelimit_deadline(&r), UINT64_MAX);
	ck_assert(ratelimit_take(&r, t + 1001));		/* a new window */
}
END_TEST

START_TEST(clock_going_back_opens_a_window)
{
	struct ratelimit r;
	ratelimit_init(&r, 1000, 1);
	ck_assert(ratelimit_take(&r, 5000));
	ck_assert(!ratelimit_take(&r, 5001));
	ck_assert_uint_eq(ratelimit_flush(&r, 10), 1);
	ck_assert(ratelimit_take(&r, 11));
}
END_TEST

Suite *make_ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, burst_then_count);
	tcase_add_test(tc, clock_going_back_opens_a_window);
	suite_add_tcase(s, tc);
	return s;
}
