/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/parse.c: every parser against tables of good and bad
 * input, and the CIDR formatter against the parser (round trip).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* assert_int_equal() that names the table row that failed. */
#define expect_int(got, want, input)					\
	do {								\
		long long got_ = (got), want_ = (want);			\
									\
		if (got_ != want_)					\
			fail_msg("'%s': got %lld, want %lld", (input),	\
				 got_, want_);				\
	} while (0)

static void test_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t min, max;
		int ret;
		uint64_t out;
	} cases[] = {
		{ "0", 0, UINT64_MAX, 0, 0 },
		{ "42", 0, UINT64_MAX, 0, 42 },
		{ "007", 0, UINT64_MAX, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "000000000000000000000000000000000001", 0, 10, 0, 1 },
		{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999999999999999", 0, UINT64_MAX,
		  -ERANGE, 0 },
		{ "10", 11, 20, -ERANGE, 0 },
		{ "21", 11, 20, -ERANGE, 0 },
		{ "11", 11, 20, 0, 11 },
		{ "20", 11, 20, 0, 20 },
		{ "", 0, UINT64_MAX, -EINVAL, 0 },
		{ "-1", 0, UINT64_MAX, -EINVAL, 0 },
		{ "+1", 0, UINT64_MAX, -EINVAL, 0 },
		{ " 1", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1 ", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1x", 0, UINT64_MAX, -EINVAL, 0 },
		{ "0x10", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1.5", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1e3", 0, UINT64_MAX, -EINVAL, 0 },
		{ "one", 0, UINT64_MAX, -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t out = 12345;
		int ret = mxg_parse_u64(cases[i].in, cases[i].min,
					cases[i].max, &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		if (!ret)
			assert_true(out == cases[i].out);
		else
			assert_true(out == 12345);	/* untouched */
	}
	assert_int_equal(mxg_parse_u64(NULL, 0, 1, &(uint64_t){ 0 }),
			 -EINVAL);
}

static void test_u32(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t out;
	} cases[] = {
		{ "1", 0, 1 },
		{ "4294967295", 0, UINT32_MAX },
		{ "4294967296", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "0", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-5", -EINVAL, 0 },
		{ "5\n", -EINVAL, 0 },
		{ "\t5", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t out = 7;
		int ret = mxg_parse_u32(cases[i].in, 1, UINT32_MAX, &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		assert_int_equal(out, ret ? 7 : cases[i].out);
	}
}

static void test_bool(void **state)
{
	static const struct {
		const char *in;
		int ret;
		bool out;
	} cases[] = {
		{ "yes", 0, true }, { "YES", 0, true }, { "true", 0, true },
		{ "On", 0, true }, { "1", 0, true }, { "no", 0, false },
		{ "False", 0, false }, { "off", 0, false }, { "0", 0, false },
		{ "", -EINVAL, false }, { "y", -EINVAL, false },
		{ "yes ", -EINVAL, false }, { " no", -EINVAL, false },
		{ "2", -EINVAL, false }, { "enabled", -EINVAL, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool out = !cases[i].out;
		int ret = mxg_parse_bool(cases[i].in, &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		if (!ret)
			assert_int_equal(out, cases[i].out);
	}
}

#define SEC 1000000000ULL

static void test_duration(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t out;
	} cases[] = {
		{ "30", 0, 30 * SEC },
		{ "30s", 0, 30 * SEC },
		{ "5m", 0, 300 * SEC },
		{ "2h", 0, 7200 * SEC },
		{ "1d", 0, 86400 * SEC },
		{ "250ms", 0, 250000000ULL },
		{ "0", -ERANGE, 0 },		/* below min 1ms */
		{ "8d", -ERANGE, 0 },		/* above max 7d */
		{ "18446744073709551616", -ERANGE, 0 },
		{ "99999999999d", -ERANGE, 0 },	/* overflows the multiply */
		{ "", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ "5 s", -EINVAL, 0 },
		{ " 5s", -EINVAL, 0 },
		{ "5sec", -EINVAL, 0 },
		{ "5w", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "5S", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t out = 0;
		int ret = mxg_parse_duration(cases[i].in, 1000000ULL,
					     7 * 86400 * SEC, &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		if (!ret)
			assert_true(out == cases[i].out);
	}
}

static void test_rate(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t milli;
	} cases[] = {
		{ "10", 0, 10000 },
		{ "10/s", 0, 10000 },
		{ "30/m", 0, 500 },
		{ "30/min", 0, 500 },
		{ "100/h", 0, 28 },		/* 27.78 milli, rounded */
		{ "0.5/s", 0, 500 },
		{ "0.001", 0, 1 },
		{ "2.25", 0, 2250 },
		{ "1000000/s", 0, 1000000000 },
		{ "4/h", 0, 1 },		/* 1.11 milli, rounded */
		{ "3.6/h", 0, 1 },		/* the least rate, exactly */
		{ "0.06/m", 0, 1 },
		{ "0", -ERANGE, 0 },
		{ "0.0001", -EINVAL, 0 },	/* more than 3 decimals */
		{ "1/h", -ERANGE, 0 },		/* 0.0003/s */
		/* Below 0.001/s: refused, never rounded up to it. */
		{ "2/h", -ERANGE, 0 },
		{ "3.599/h", -ERANGE, 0 },
		{ "0.059/m", -ERANGE, 0 },
		{ "1000001/s", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "/s", -EINVAL, 0 },
		{ "fast", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "10 /s", -EINVAL, 0 },
		{ "10/ s", -EINVAL, 0 },
		{ " 10", -EINVAL, 0 },
		{ "10/d", -EINVAL, 0 },
		{ "10/", -EINVAL, 0 },
		{ ".5", -EINVAL, 0 },
		{ "5.", -EINVAL, 0 },
		{ "1.2.3", -EINVAL, 0 },
		{ "off", -EINVAL, 0 },		/* the config's word, not a rate */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t out = 99;
		int ret = mxg_parse_rate(cases[i].in, &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		expect_int(out, ret ? 99 : cases[i].milli, cases[i].in);
	}
}

static void test_addr(void **state)
{
	static const struct {
		const char *in;
		int ret;
		bool v4;
		uint8_t addr[16];
		const char *printed;
	} cases[] = {
		{ "198.18.0.5", 0, true,
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 5 },
		  "198.18.0.5" },
		{ "0.0.0.0", 0, true,
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 },
		  "0.0.0.0" },
		{ "2001:db8::1", 0, false,
		  { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    1 },
		  "2001:db8::1" },
		{ "::", 0, false, { 0 }, "::" },
		/* Written as IPv6 but the same key as the IPv4 address. */
		{ "::ffff:192.0.2.1", 0, false,
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 },
		  "192.0.2.1" },
		{ "", -EINVAL, false, { 0 }, NULL },
		{ "1.2.3", -EINVAL, false, { 0 }, NULL },
		{ "1.2.3.256", -EINVAL, false, { 0 }, NULL },
		{ " 1.2.3.4", -EINVAL, false, { 0 }, NULL },
		{ "1.2.3.4 ", -EINVAL, false, { 0 }, NULL },
		{ "1.2.3.4/32", -EINVAL, false, { 0 }, NULL },
		{ "2001:db8::g", -EINVAL, false, { 0 }, NULL },
		{ "fe80::1%eth0", -EINVAL, false, { 0 }, NULL },
		{ "localhost", -EINVAL, false, { 0 }, NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t addr[16];
		char buf[MXG_CIDR_STRLEN];
		bool v4 = !cases[i].v4;
		int ret;

		memset(addr, 0xaa, sizeof(addr));
		ret = mxg_parse_addr(cases[i].in, addr, &v4);
		expect_int(ret, cases[i].ret, cases[i].in);
		if (ret)
			continue;
		assert_int_equal(v4, cases[i].v4);
		assert_memory_equal(addr, cases[i].addr, 16);
		mxg_format_addr(addr, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].printed);
	}
}

static void test_cidr(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t prefixlen;
		const char *printed;	/* NULL: same as in */
	} cases[] = {
		{ "198.18.0.0/15", 0, 111, NULL },
		{ "198.18.0.5", 0, 128, "198.18.0.5/32" },
		{ "198.18.0.5/32", 0, 128, NULL },
		{ "10.0.0.0/8", 0, 104, NULL },
		{ "0.0.0.0/0", 0, 96, NULL },
		{ "2001:db8::/32", 0, 32, NULL },
		{ "2001:db8::1", 0, 128, "2001:db8::1/128" },
		{ "::/0", 0, 0, NULL },
		{ "::ffff:198.18.0.0/112", 0, 112, "198.18.0.0/16" },
		{ "198.18.0.1/24", -EINVAL, 0, NULL },	/* host bits */
		{ "198.18.0.0/14", -EINVAL, 0, NULL },
		{ "2001:db8::1/64", -EINVAL, 0, NULL },
		{ "1.0.0.0/0", -EINVAL, 0, NULL },
		{ "10.0.0.0/33", -ERANGE, 0, NULL },
		{ "2001:db8::/129", -ERANGE, 0, NULL },
		{ "10.0.0.0/", -EINVAL, 0, NULL },
		{ "10.0.0.0/-8", -EINVAL, 0, NULL },
		{ "10.0.0.0/8 ", -EINVAL, 0, NULL },
		{ "10.0.0.0 /8", -EINVAL, 0, NULL },
		{ "10.0.0.0/8/8", -EINVAL, 0, NULL },
		{ "10.0.0.0/08x", -EINVAL, 0, NULL },
		{ "/8", -EINVAL, 0, NULL },
		{ "", -EINVAL, 0, NULL },
		{ "10.0.0/8", -EINVAL, 0, NULL },
		{ "10.0.0.0/18446744073709551616", -ERANGE, 0, NULL },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/64", -EINVAL,
		  0, NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mxg_lpm_key key, again;
		char buf[MXG_CIDR_STRLEN];
		int ret;

		memset(&key, 0, sizeof(key));
		ret = mxg_parse_cidr(cases[i].in, &key);
		expect_int(ret, cases[i].ret, cases[i].in);
		if (ret)
			continue;
		assert_int_equal(key.prefixlen, cases[i].prefixlen);
		mxg_format_cidr(&key, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].printed ? cases[i].printed :
						 cases[i].in);
		/* What is printed parses back to the same key. */
		memset(&again, 0, sizeof(again));
		assert_int_equal(mxg_parse_cidr(buf, &again), 0);
		assert_memory_equal(&again, &key, sizeof(key));
	}
}

static void test_cidr_v4_mapping(void **state)
{
	static const uint8_t want[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 0
	};
	struct mxg_lpm_key key;
	char small[8];

	assert_int_equal(mxg_parse_cidr("192.0.2.0/24", &key), 0);
	assert_int_equal(key.prefixlen, MXG_V4_MAPPED_BITS + 24);
	assert_memory_equal(key.addr, want, 16);

	/* A small buffer truncates, never overflows. */
	memset(small, 'x', sizeof(small));
	mxg_format_cidr(&key, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_ports(void **state)
{
	static const struct {
		const char *in;
		int ret;
		unsigned n;
		uint16_t ports[4];
	} cases[] = {
		{ "25", 0, 1, { 25 } },
		{ "25,465,587", 0, 3, { 25, 465, 587 } },
		{ "25, 465,587", 0, 3, { 25, 465, 587 } },
		{ "25 465 587", 0, 3, { 25, 465, 587 } },
		{ " 25,\t465 , 587 ", 0, 3, { 25, 465, 587 } },
		{ "1 65535", 0, 2, { 1, 65535 } },
		{ "", -EINVAL, 0, { 0 } },
		{ " , ", -EINVAL, 0, { 0 } },
		{ "0", -ERANGE, 0, { 0 } },
		{ "65536", -ERANGE, 0, { 0 } },
		{ "25,25", -EINVAL, 0, { 0 } },
		{ "25,smtp", -EINVAL, 0, { 0 } },
		{ "25;465", -EINVAL, 0, { 0 } },
		{ "-25", -EINVAL, 0, { 0 } },
		{ "1,2,3,4,5", -ERANGE, 0, { 0 } },	/* more than max 4 */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint16_t ports[4] = { 0 };
		unsigned n = 99;
		int ret = mxg_parse_ports(cases[i].in, ports, 4, &n);

		expect_int(ret, cases[i].ret, cases[i].in);
		if (ret) {
			assert_int_equal(n, 99);
			continue;
		}
		assert_int_equal(n, cases[i].n);
		assert_memory_equal(ports, cases[i].ports,
				    n * sizeof(ports[0]));
	}
}

struct collect {
	char items[8][16];
	unsigned n;
	int stop_at;	/* return -ECANCELED on this item, -1 = never */
};

static int collect_item(const char *item, void *data)
{
	struct collect *c = data;

	if ((int)c->n == c->stop_at)
		return -ECANCELED;
	assert_true(c->n < 8);
	strncpy(c->items[c->n], item, sizeof(c->items[0]) - 1);
	c->n++;
	return 1;	/* positive: keep going */
}

static void test_foreach_item(void **state)
{
	struct collect c;

	memset(&c, 0, sizeof(c));
	c.stop_at = -1;
	assert_int_equal(mxg_foreach_item("a, b,,c\td  e,", collect_item, &c),
			 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.items[0], "a");
	assert_string_equal(c.items[1], "b");
	assert_string_equal(c.items[2], "c");
	assert_string_equal(c.items[3], "d");
	assert_string_equal(c.items[4], "e");

	memset(&c, 0, sizeof(c));
	c.stop_at = -1;
	assert_int_equal(mxg_foreach_item("  , ", collect_item, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(mxg_foreach_item("", collect_item, &c), 0);
	assert_int_equal(c.n, 0);

	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	assert_int_equal(mxg_foreach_item("x y z", collect_item, &c),
			 -ECANCELED);
	assert_int_equal(c.n, 1);
}

static void test_class_name(void **state)
{
	static const struct {
		const char *in;
		int ret;
	} cases[] = {
		{ "smtp", 0 }, { "ldap", 0 }, { "submission", 0 },
		{ "mx_2-backup", 0 }, { "a", 0 },
		{ "abcdefghijklmno", 0 },		/* 15 */
		{ "abcdefghijklmnop", -EINVAL },	/* 16 */
		{ "", -EINVAL }, { "SMTP", -EINVAL }, { "smtp ", -EINVAL },
		{ "sm tp", -EINVAL }, { "smtp.out", -EINVAL },
		{ "smtp/1", -EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		expect_int(mxg_check_class_name(cases[i].in), cases[i].ret,
			   cases[i].in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_cidr_v4_mapping),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_foreach_item),
		cmocka_unit_test(test_class_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
