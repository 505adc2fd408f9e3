/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The token bucket's arithmetic (bpf/bucket.h), the same code the BPF
 * programs run, driven with a synthetic clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "bucket.h"

#define SEC 1000000000ULL

struct bucket {
	__u64 tat, interval, tolerance;
};

static struct bucket make(__u64 interval, __u32 burst)
{
	return (struct bucket){ 0, interval, interval * (burst - 1) };
}

static int take(struct bucket *b, __u64 now)
{
	__u64 next = mxg_bucket_take(b->tat, now, b->interval, b->tolerance);

	if (!next)
		return 0;
	b->tat = next;
	return 1;
}

/* A full bucket admits exactly burst SYNs at one instant. */
static void test_burst(void **state)
{
	for (__u32 burst = 1; burst <= 50; burst++) {
		struct bucket b = make(SEC / 10, burst);
		int admitted = 0;

		for (int i = 0; i < 100; i++)
			admitted += take(&b, 1000 * SEC);
		assert_int_equal(admitted, burst);
	}
}

/* At a steady rate above the limit, admissions follow the limit. */
static void test_steady_rate(void **state)
{
	struct bucket b = make(SEC / 10, 5);	/* 10/s, burst 5 */
	__u64 now = 1000 * SEC;
	int admitted = 0;

	/* 100/s for 10 s: 5 of burst plus 10/s for 10 s. */
	for (int i = 0; i < 1000; i++, now += SEC / 100)
		admitted += take(&b, now);
	assert_in_range(admitted, 100 + 5 - 1, 100 + 5 + 1);
}

/* Refill: an idle source gets one token per interval back, capped at burst. */
static void test_refill(void **state)
{
	struct bucket b = make(SEC, 3);
	__u64 now = 1000 * SEC;

	for (int i = 0; i < 3; i++)
		assert_int_equal(take(&b, now), 1);
	assert_int_equal(take(&b, now), 0);
	assert_int_equal(take(&b, now + SEC - 1), 0);	/* not yet */
	assert_int_equal(take(&b, now + SEC), 1);	/* one back */
	assert_int_equal(take(&b, now + SEC), 0);
	/* An hour idle: a full burst, not 3600 tokens. */
	now += 3600 * SEC;
	for (int i = 0; i < 3; i++)
		assert_int_equal(take(&b, now), 1);
	assert_int_equal(take(&b, now), 0);
}

/* A refused SYN does not move the TAT: dropping costs the source nothing
 * more, so a source that slows down recovers on schedule. */
static void test_refusal_is_free(void **state)
{
	struct bucket b = make(SEC, 1);
	__u64 now = 1000 * SEC, tat;

	assert_int_equal(take(&b, now), 1);
	tat = b.tat;
	for (int i = 0; i < 100; i++)
		assert_int_equal(take(&b, now + i), 0);
	assert_int_equal(b.tat, tat);
	assert_int_equal(take(&b, now + SEC), 1);
}

/* Extremes do not wrap: the slowest rate with the largest burst. */
static void test_extremes(void **state)
{
	struct bucket b = make(1000 * SEC, 1000000);	/* 0.001/s */

	assert_true(b.tolerance > b.interval);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(take(&b, 5 * SEC), 1);
	assert_true(mxg_bucket_take(0, 1, 1, 0) != 0);	/* never returns 0 on success */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_steady_rate),
		cmocka_unit_test(test_refill),
		cmocka_unit_test(test_refusal_is_free),
		cmocka_unit_test(test_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
