/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The enum name tables (user/names.c): every value has one name, every
 * name reads back as its value, and the lists messages show come out in
 * the table's order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "names.h"

static void check_table(const struct mxg_names *t, const char *list)
{
	char buf[256];

	for (size_t i = 0; i < t->n; i++) {
		uint32_t v = ~0U;

		assert_string_equal(mxg_name_of(t, t->names[i].value), t->names[i].name);
		assert_int_equal(mxg_name_parse(t, t->names[i].name, &v), 0);
		assert_int_equal(v, t->names[i].value);
		for (size_t k = 0; k < i; k++) {
			assert_int_not_equal(t->names[k].value, t->names[i].value);
			assert_string_not_equal(t->names[k].name, t->names[i].name);
		}
	}
	mxg_names_list(t, buf, sizeof(buf));
	assert_string_equal(buf, list);
}

static void test_tables(void **state)
{
	uint32_t v = 42;

	check_table(&mxg_attach_modes, "auto, xdp, xdp-generic, tc");
	check_table(&mxg_on_exit_actions, "detach, keep");
	check_table(&mxg_sync_modes, "syncrepl, poll");
	check_table(&mxg_inspect_modes, "off, observe, penalize, drop");
	check_table(&mxg_origins, "config, cli, inspect, fleet");
	check_table(&mxg_fleet_states, "off, connecting, refreshing, synced");
	check_table(&mxg_tuner_signals,
		    "latency, descriptors, cpu_pressure, memory_pressure");
	check_table(&mxg_tuner_readings, "off, unreadable, under, near, over");

	/* What the file may not give is printed, never parsed. */
	assert_string_equal(mxg_name_of(&mxg_sync_modes, MXG_SYNC_NONE), "none");
	assert_int_equal(mxg_name_parse(&mxg_sync_modes, "none", &v), -EINVAL);
	assert_int_equal(v, 42);
	assert_string_equal(mxg_name_of(&mxg_origins, 0), "unknown");
	assert_string_equal(mxg_name_of(&mxg_fleet_states, 9), "unknown");
	/* Exact names only. */
	assert_int_equal(mxg_name_parse(&mxg_attach_modes, "XDP", &v), -EINVAL);
	assert_int_equal(mxg_name_parse(&mxg_attach_modes, "xd", &v), -EINVAL);
	assert_int_equal(mxg_name_parse(&mxg_attach_modes, "", &v), -EINVAL);
}

static void test_list_is_cut(void **state)
{
	char buf[8];

	mxg_names_list(&mxg_inspect_modes, buf, sizeof(buf));
	assert_string_equal(buf, "off, ob");
}

/* stats prints every drop verdict once, in the contract's order, and
 * every recipient counter by a name of its own. */
static void test_counters(void **state)
{
	static const char *const drops[] = {
		"rate", "source_conns", "total_conns", "deny", "penalty",
		"new_source",
	};
	int seen[MXG_VERDICT_COUNT] = {};

	assert_int_equal(MXG_NDROPS, sizeof(drops) / sizeof(drops[0]));
	for (size_t d = 0; d < MXG_NDROPS; d++) {
		enum mxg_verdict v = mxg_drop_order[d];

		assert_true(v >= MXG_DROP_DENY && v < MXG_VERDICT_COUNT);
		assert_int_equal(seen[v]++, 0);
		assert_string_equal(mxg_verdict_names[v], drops[d]);
	}
	assert_null(mxg_verdict_names[MXG_PASS]);
	assert_null(mxg_verdict_names[MXG_PASS_ALLOW]);
	assert_string_equal(mxg_rcpt_counter_names[0], "known");
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++) {
		assert_non_null(mxg_rcpt_counter_names[i]);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(mxg_rcpt_counter_names[k],
						mxg_rcpt_counter_names[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_list_is_cut),
		cmocka_unit_test(test_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
