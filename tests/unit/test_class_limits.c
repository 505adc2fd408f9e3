/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/class_limits.c: the numbers a configured class
 * becomes for the BPF side and back, and the plan of class slots and
 * ports a config makes over what the maps hold (slots kept by name, a new
 * class in a slot nobody uses, a removed class's slot emptied, the SMTP
 * reader's ports).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "class_limits.h"

#define NAME "t.conf"

/* A config and a plan (both large), one each per test, on the heap. */
struct env {
	struct mxg_config cfg;
	struct mxg_limits plan;
};

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct env));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void load_ok(struct mxg_config *cfg, const char *text)
{
	char err[512] = "";
	int ret = mxg_config_load_string(NAME, text, cfg, err, sizeof(err));

	if (ret)
		fail_msg("config refused (%d): %s\n--- config:\n%s", ret, err,
			 text);
}

static void test_class_to_bpf(void **state)
{
	static const uint8_t ones[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t mask64[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t mask4_24[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
	};
	static const uint8_t mask4_8[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
	};
	static const uint8_t mask_20[16] = { 0xff, 0xff, 0xf0 };
	struct mxg_config *cfg = &((struct env *)*state)->cfg;
	struct mxg_class out;

	load_ok(cfg, "[class ldap]\nrate = off\ntotal_conns = 900\n"
		     "source_conns = 20\nipv4_prefix = 24\nipv6_prefix = 20\n"
		     "[class slow]\nports = 10025\nrate = 0.5/s\nburst = 4\n"
		     "ipv4_prefix = 8\nipv6_prefix = 128\n");

	/* smtp defaults: 10/s burst 20, /32 and /64 */
	mxg_class_to_bpf(&cfg->classes[0], 1, &out);
	assert_string_equal(out.name, "smtp");
	assert_int_equal(out.rate_milli, 10000);
	assert_int_equal(out.burst, 20);
	assert_true(out.interval_ns == 100000000ULL);		/* 100 ms */
	assert_true(out.tolerance_ns == 19 * 100000000ULL);
	assert_int_equal(out.source_conns, 0);
	assert_int_equal(out.total_conns, 0);
	assert_int_equal(out.ipv4_prefix, 32);
	assert_int_equal(out.ipv6_prefix, 64);
	assert_memory_equal(out.mask, mask64, 16);
	assert_memory_equal(out.mask4, ones, 16);

	/* ldap without rate limit: no interval, conns and /24 */
	mxg_class_to_bpf(&cfg->classes[1], 1, &out);
	assert_string_equal(out.name, "ldap");
	assert_true(out.interval_ns == 0);
	assert_true(out.tolerance_ns == 0);
	assert_int_equal(out.total_conns, 900);
	assert_int_equal(out.source_conns, 20);
	assert_memory_equal(out.mask4, mask4_24, 16);
	assert_memory_equal(out.mask, mask_20, 16);

	/* 0.5/s: one every 2 s, 3 intervals of burst credit */
	mxg_class_to_bpf(&cfg->classes[2], 1, &out);
	assert_string_equal(out.name, "slow");
	assert_true(out.interval_ns == 2000000000ULL);
	assert_true(out.tolerance_ns == 6000000000ULL);
	assert_memory_equal(out.mask, ones, 16);
	assert_memory_equal(out.mask4, mask4_8, 16);
	assert_int_equal(out.pad[0], 0);
	assert_int_equal(out.pad[1], 0);
	/* a new class: no new-source limit */
	assert_true(out.new_interval_ns == 0);
	assert_true(out.new_tolerance_ns == 0);

	/* smtp's new sources, 200/s burst 1000, divided among the CPUs:
	 * each CPU 200/ncpus per second and ceil(1000 / ncpus) of burst. */
	mxg_class_to_bpf(&cfg->classes[0], 1, &out);
	assert_int_equal(out.new_sources_milli, 200000);
	assert_int_equal(out.new_sources_burst, 1000);
	assert_true(out.new_interval_ns == 5000000ULL);		/* 5 ms */
	assert_true(out.new_tolerance_ns == 999 * 5000000ULL);
	mxg_class_to_bpf(&cfg->classes[0], 4, &out);
	assert_true(out.new_interval_ns == 20000000ULL);	/* 20 ms */
	assert_true(out.new_tolerance_ns == 249 * 20000000ULL);
	mxg_class_to_bpf(&cfg->classes[0], 3, &out);
	assert_true(out.new_interval_ns == 15000000ULL);
	assert_true(out.new_tolerance_ns == 333 * 15000000ULL); /* 334 each */
	/* more CPUs than burst: one each, never zero */
	mxg_class_to_bpf(&cfg->classes[0], 2048, &out);
	assert_true(out.new_interval_ns == 2048 * 5000000ULL);
	assert_true(out.new_tolerance_ns == 0);
	/* ncpus 0 reads as 1 */
	mxg_class_to_bpf(&cfg->classes[0], 0, &out);
	assert_true(out.new_interval_ns == 5000000ULL);
	/* ldap's 50/s burst 500 on 2 CPUs */
	mxg_class_to_bpf(&cfg->classes[1], 2, &out);
	assert_true(out.new_interval_ns == 40000000ULL);
	assert_true(out.new_tolerance_ns == 249 * 40000000ULL);
}

/* What `limit set` reads back is what was configured. */
static void test_class_round_trip(void **state)
{
	struct mxg_config *cfg = &((struct env *)*state)->cfg;
	struct mxg_class_config back, *c;
	struct mxg_class out;

	load_ok(cfg, "[class smtp]\nrate = 3/s\nburst = 7\nsource_conns = 5\n"
		     "total_conns = 50\nipv4_prefix = 28\nipv6_prefix = 56\n"
		     "new_sources = 30/s\nnew_sources_burst = 90\n");
	c = &cfg->classes[0];
	mxg_class_to_bpf(c, 4, &out);
	mxg_class_from_bpf(&out, &back);
	assert_string_equal(back.name, "smtp");
	assert_int_equal(back.rate_milli, c->rate_milli);
	assert_int_equal(back.rate_milli, 3000);
	assert_int_equal(back.burst, 7);
	assert_int_equal(back.source_conns, 5);
	assert_int_equal(back.total_conns, 50);
	assert_int_equal(back.ipv4_prefix, 28);
	assert_int_equal(back.ipv6_prefix, 56);
	assert_int_equal(back.new_sources_milli, 30000);
	assert_int_equal(back.new_sources_burst, 90);
	/* The ports are not the record's: they stay with the config. */
	assert_int_equal(back.nports, 0);
}

static void name_slot(struct mxg_class cur[MXG_MAX_CLASSES], unsigned s,
		      const char *name)
{
	snprintf(cur[s].name, sizeof(cur[s].name), "%s", name);
}

/* The defaults over empty maps: smtp and ldap in the first two slots, and
 * the ports that go with them; the reader reads 25 and 587, and knows 465
 * is TLS. */
static void test_plan_defaults(void **state)
{
	struct env *e = *state;
	struct mxg_class cur[MXG_MAX_CLASSES] = {}, smtp;
	char err[256] = "";
	static const struct mxg_port none;

	load_ok(&e->cfg, "");
	assert_int_equal(mxg_limits_plan(cur, &e->cfg, 2, &e->plan, err,
					 sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(e->plan.classes[0].name, "smtp");
	assert_string_equal(e->plan.classes[1].name, "ldap");
	for (unsigned s = 2; s < MXG_MAX_CLASSES; s++)
		assert_string_equal(e->plan.classes[s].name, "");
	/* The records are mxg_class_to_bpf()'s, with the CPUs given. */
	mxg_class_to_bpf(&e->cfg.classes[0], 2, &smtp);
	assert_memory_equal(&e->plan.classes[0], &smtp, sizeof(smtp));

	assert_int_equal(e->plan.ports[25].guarded, 1);
	assert_int_equal(e->plan.ports[25].class_idx, 0);
	assert_int_equal(e->plan.ports[25].inspect, MXG_INSPECT_PLAIN);
	assert_int_equal(e->plan.ports[587].inspect, MXG_INSPECT_PLAIN);
	assert_int_equal(e->plan.ports[465].class_idx, 0);
	assert_int_equal(e->plan.ports[465].inspect, MXG_INSPECT_TLS);
	assert_int_equal(e->plan.ports[389].guarded, 1);
	assert_int_equal(e->plan.ports[389].class_idx, 1);
	assert_int_equal(e->plan.ports[389].inspect, MXG_INSPECT_NONE);
	assert_int_equal(e->plan.ports[636].class_idx, 1);
	assert_memory_equal(&e->plan.ports[80], &none, sizeof(none));
	assert_memory_equal(&e->plan.ports[0], &none, sizeof(none));
	assert_memory_equal(&e->plan.ports[65535], &none, sizeof(none));
}

/* A class keeps its slot across reloads (source state and counters are
 * indexed by it); a new one takes a slot no class uses, not the one a
 * class removed in the same reload leaves, which stays empty. */
static void test_plan_slots_kept(void **state)
{
	struct env *e = *state;
	struct mxg_class cur[MXG_MAX_CLASSES] = {};
	char err[256] = "";

	name_slot(cur, 0, "gone");
	name_slot(cur, 3, "ldap");
	name_slot(cur, 5, "smtp");
	load_ok(&e->cfg, "[class submission]\nports = 2525\nrate = 1/s\n");
	assert_int_equal(mxg_limits_plan(cur, &e->cfg, 1, &e->plan, err,
					 sizeof(err)), 0);
	assert_string_equal(e->plan.classes[5].name, "smtp");
	assert_string_equal(e->plan.classes[3].name, "ldap");
	assert_string_equal(e->plan.classes[1].name, "submission");
	assert_string_equal(e->plan.classes[0].name, "");
	assert_int_equal(e->plan.ports[25].class_idx, 5);
	assert_int_equal(e->plan.ports[389].class_idx, 3);
	assert_int_equal(e->plan.ports[2525].class_idx, 1);
	assert_int_equal(e->plan.ports[2525].inspect, MXG_INSPECT_NONE);
}

/* With every slot named, a new class takes the slot of a removed one. */
static void test_plan_slots_full(void **state)
{
	struct env *e = *state;
	struct mxg_class cur[MXG_MAX_CLASSES] = {};
	char err[256] = "", name[16];

	for (unsigned s = 0; s < MXG_MAX_CLASSES; s++) {
		snprintf(name, sizeof(name), "c%u", s);
		name_slot(cur, s, name);
	}
	name_slot(cur, 6, "smtp");
	name_slot(cur, 7, "ldap");
	load_ok(&e->cfg, "[class submission]\nports = 2525\nrate = 1/s\n");
	assert_int_equal(mxg_limits_plan(cur, &e->cfg, 1, &e->plan, err,
					 sizeof(err)), 0);
	assert_string_equal(e->plan.classes[6].name, "smtp");
	assert_string_equal(e->plan.classes[7].name, "ldap");
	assert_string_equal(e->plan.classes[0].name, "submission");
	for (unsigned s = 1; s < 6; s++)
		assert_string_equal(e->plan.classes[s].name, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_class_to_bpf, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_class_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_defaults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_slots_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_slots_full, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
