/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the transaction of user/apply.c (mxg_apply_steps): steps
 * run in order; when one fails, it and every step before it are undone in
 * reverse and none after it runs; the error says why, also when the step
 * gave only an errno, and says so when undoing failed too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "apply.h"

#include "unit/unit.h"

/* What the fake steps did, in order: "r0" ran step 0, "u0" undid it. */
struct trace {
	char log[256];
	int fail_run;		/* index of the step whose run fails, -1: none */
	int fail_undo;		/* index of the step whose undo fails, -1: none */
	bool quiet;		/* a failing step gives no message */
};

static int fake(struct trace *t, char kind, int idx, char *err, size_t errlen)
{
	char entry[8];
	int fail = kind == 'r' ? t->fail_run : t->fail_undo;

	snprintf(entry, sizeof(entry), "%s%c%d", t->log[0] ? " " : "", kind, idx);
	strncat(t->log, entry, sizeof(t->log) - strlen(t->log) - 1);
	if (fail != idx)
		return 0;
	if (!t->quiet)
		snprintf(err, errlen, "step %d %s broke", idx,
			 kind == 'r' ? "run" : "undo");
	return kind == 'r' ? -EOPNOTSUPP : -EIO;
}

#define FAKE_STEP(i)							\
	static int run##i(void *s, char *err, size_t len)		\
	{								\
		return fake(s, 'r', i, err, len);			\
	}								\
	static __attribute__((unused)) int undo##i(void *s, char *err,	\
						  size_t len)		\
	{								\
		return fake(s, 'u', i, err, len);			\
	}
FAKE_STEP(0)
FAKE_STEP(1)
FAKE_STEP(2)
FAKE_STEP(3)

static const struct mxg_apply_step steps[] = {
	{ "check", run0, NULL },
	{ "write one", run1, undo1 },
	{ "write two", run2, undo2 },
	{ "attach", run3, undo3 },
};

static void test_all_run(void **state)
{
	struct trace t = { .fail_run = -1, .fail_undo = -1 };
	char err[256] = "stale";

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), 0);
	assert_string_equal(t.log, "r0 r1 r2 r3");
	assert_string_equal(err, "");
}

static void test_failure_undoes_in_reverse(void **state)
{
	struct trace t = { .fail_run = 2, .fail_undo = -1 };
	char err[256];

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), -EOPNOTSUPP);
	/* The failed step is undone too (it may have stopped half way);
	 * step 3 never runs; step 0 has nothing to undo. */
	assert_string_equal(t.log, "r0 r1 r2 u2 u1");
	assert_string_equal(err, "step 2 run broke");
}

static void test_first_step_fails(void **state)
{
	struct trace t = { .fail_run = 0, .fail_undo = -1 };
	char err[256];

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(t.log, "r0");
	assert_string_equal(err, "step 0 run broke");
}

/* The defect this replaces: a reload that logged "reload: " and nothing. */
static void test_bare_errno_still_says_why(void **state)
{
	struct trace t = { .fail_run = 3, .fail_undo = -1, .quiet = true };
	char err[256];

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(t.log, "r0 r1 r2 r3 u3 u2 u1");
	assert_string_equal(err, "cannot attach: Operation not supported");
}

static void test_undo_failure_is_told(void **state)
{
	struct trace t = { .fail_run = 3, .fail_undo = 2 };
	char err[512];

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), -EOPNOTSUPP);
	/* One undo that fails does not stop the others. */
	assert_string_equal(t.log, "r0 r1 r2 r3 u3 u2 u1");
	assert_string_equal(err, "step 3 run broke; putting back what came before failed too (write two: step 2 undo broke); parts of the new config may be in force");
}

/* A short buffer holds the start of the reason, terminated. */
static void test_short_err(void **state)
{
	struct trace t = { .fail_run = 1, .fail_undo = 1 };
	char err[8];

	assert_int_equal(mxg_apply_steps(steps, ARRAY_SIZE(steps), &t, err,
					 sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "step 1 ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_run),
		cmocka_unit_test(test_failure_undoes_in_reverse),
		cmocka_unit_test(test_first_step_fails),
		cmocka_unit_test(test_bare_errno_still_says_why),
		cmocka_unit_test(test_undo_failure_is_told),
		cmocka_unit_test(test_short_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
