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

#include "unit/unit.h"

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

static void test_domain(void **state)
{
	static const struct {
		const char *in;
		const char *why;	/* NULL: accepted */
	} cases[] = {
		{ "example.org", NULL }, { "Example.ORG.", NULL },
		{ "localhost", NULL }, { "xn--bcher-kva.example", NULL },
		{ "a-b.c-d.e", NULL }, { "1.2.3.4", NULL },
		/* 63: the longest label; 253 the longest name. */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", NULL },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org",
		  "a label of more than 63 characters" },
		{ "a..b", "an empty label" }, { ".a", "an empty label" },
		{ "a.", NULL }, { "a..", "an empty label" }, { ".", "empty" },
		{ "", "empty" }, { "-a.org", "a label beginning with '-'" },
		{ "a.-b.org", "a label beginning with '-'" },
		{ "a-.org", "a label ending in '-'" }, { "org-", "a label ending in '-'" },
		{ "a_b.org", "a character other than" }, { "a b.org", "a character other than" },
		{ "caf\xc3\xa9.org", "a character other than" }, { "a/b", "a character other than" },
	};
	char longest[260];
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = mxg_check_domain(cases[i].in, &why);

		expect_int(ret, cases[i].why ? -EINVAL : 0, cases[i].in);
		if (ret && !strstr(why, cases[i].why))
			fail_msg("'%s': why '%s', want '%s'", cases[i].in, why,
				 cases[i].why);
	}
	/* 4 labels of 63 and one of 1: 253 characters, then 255. */
	memset(longest, 'a', sizeof(longest));
	for (int i = 63; i < 253; i += 64)
		longest[i] = '.';
	longest[253] = '\0';
	assert_int_equal(mxg_check_domain(longest, &why), 0);
	longest[253] = '.';
	longest[254] = 'a';
	longest[255] = '\0';
	assert_int_equal(mxg_check_domain(longest, &why), -EINVAL);
	assert_string_equal(why, "longer than 253 characters");
}

static void test_ldap_filter(void **state)
{
	static const struct {
		const char *in;
		size_t pos;		/* where it is wrong, 0-based */
		const char *why;	/* NULL: accepted */
	} cases[] = {
		{ "(objectClass=*)", 0, NULL },
		{ "(objectClass=inetOrgPerson)", 0, NULL },
		{ "(&(objectClass=person)(mail=*@example.org))", 0, NULL },
		{ "(|(mail=a*b*c)(!(uid=x)))", 0, NULL },
		{ "(& (a=b) (c=d) )", 0, NULL },	/* blanks libldap reads */
		{ "(cn=)", 0, NULL },
		{ "(cn=a b)", 0, NULL },
		{ "(cn=\\28x\\29\\2a\\5C)", 0, NULL },
		{ "(cn=\\*\\(\\)\\\\)", 0, NULL },	/* RFC 1960 escapes */
		{ "(uidNumber>=1000)", 0, NULL },
		{ "(cn<=m)", 0, NULL }, { "(cn~=smith)", 0, NULL },
		{ "(mail;lang-en=x)", 0, NULL },
		{ "(2.5.4.3=x)", 0, NULL },
		{ "(cn:caseExactMatch:=Fred)", 0, NULL },
		{ "(cn:dn:2.4.6.8.10:=Fred)", 0, NULL },
		{ "(:dn:2.4.6.8.10:=Dino)", 0, NULL },
		{ "(o:dn:=Ace)", 0, NULL }, { "(cn:=x)", 0, NULL },
		{ "(&)", 0, NULL }, { "(|)", 0, NULL },		/* RFC 4526 */
		{ "(cn=caf\xc3\xa9)", 0, NULL },
		/* The two. */
		{ "((uid=*)", 1, "neither an attribute nor &, | or ! after '('" },
		{ "()", 1, "an empty '()'" },
		{ "", 0, "empty" },
		{ "objectClass=*", 0, "'(' expected" },
		{ "(uid=*", 6, "no ')' at the end" },
		{ "(uid=*))", 7, "a ')' without its '('" },
		{ "(uid=*)(cn=x)", 7, "text after the last ')'" },
		{ "(&(uid=*)", 9, "no ')' at the end" },
		{ "(!)", 2, "'(' expected" },
		{ "(!(a=b)(c=d))", 7, "')' expected" },
		{ "(=x)", 1, "no attribute before the operator" },
		{ "(uid)", 4, "no operator" },
		{ "(uid~x)", 4, "no '=' after" },
		{ "(-uid=x)", 1, "not an attribute name" },
		{ "(cn=a(b)", 5, "'(' in a value" },
		{ "(cn=a\\x)", 5, "'\\' not followed by two hex digits" },
		{ "(cn=a\\4)", 5, "'\\' not followed by two hex digits" },
		{ "(cn>=a*)", 7, "'*' in the value" },
		{ "(cn::=x)", 1, "not an extensible match" },
		{ "(:dn:=x)", 1, "not an extensible match" },
		{ "(cn:a:b:c:=x)", 1, "not an extensible match" },
		{ "(cn:=a*)", 7, "'*' in the value" },
		{ "(cn:x>=a)", 1, "not an extensible match" },
		{ "( cn=x)", 0, NULL },		/* libldap reads these too */
		{ "( &(a=b))", 0, NULL },
		{ "( (a=b))", 2, "neither an attribute" },
		{ "(cn =x)", 3, "no operator" },
		{ "(!(a=b) )", 7, "')' expected" },
		{ "(a=*b**)", 6, "'**' in a value" },
		{ "(a=*\\2a*)", 0, NULL },
	};
	char deep[200];
	const char *why;
	size_t pos, i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = mxg_check_ldap_filter(cases[i].in, &why, &pos);

		expect_int(ret, cases[i].why ? -EINVAL : 0, cases[i].in);
		if (!ret)
			continue;
		if (!strstr(why, cases[i].why))
			fail_msg("'%s': why '%s', want '%s'", cases[i].in, why,
				 cases[i].why);
		if (pos != cases[i].pos)
			fail_msg("'%s': at %zu, want %zu", cases[i].in, pos,
				 cases[i].pos);
	}
	/* Nesting is bounded, not a stack overflow. */
	for (i = 0; i < 40; i++)
		memcpy(deep + 2 * i, "(!", 2);
	strcpy(deep + 80, "(a=b)");
	for (i = 0; i < 40; i++)
		deep[85 + i] = ')';
	deep[125] = '\0';
	assert_int_equal(mxg_check_ldap_filter(deep, &why, &pos), -EINVAL);
	assert_string_equal(why, "nested more than 32 deep");
}

static void test_listen(void **state)
{
	static const struct {
		const char *in;
		int ret;
		bool v4;
		uint16_t port;
		uint8_t last;	/* the address's last byte */
	} cases[] = {
		{ "127.0.0.1:9910", 0, true, 9910, 1 },
		{ "0.0.0.0:1", 0, true, 1, 0 },
		{ "198.18.0.9:65535", 0, true, 65535, 9 },
		{ "[::1]:9910", 0, false, 9910, 1 },
		{ "[::]:80", 0, false, 80, 0 },
		{ "[2001:db8::7]:9100", 0, false, 9100, 7 },
		{ "", -EINVAL, false, 0, 0 },
		{ "127.0.0.1", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:0", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:65536", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:+80", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:80 ", -EINVAL, false, 0, 0 },
		{ " 127.0.0.1:80", -EINVAL, false, 0, 0 },
		{ "127.0.0.1:80x", -EINVAL, false, 0, 0 },
		{ ":9910", -EINVAL, false, 0, 0 },
		{ "localhost:9910", -EINVAL, false, 0, 0 },
		{ "::1:9910", -EINVAL, false, 0, 0 },	/* IPv6 needs brackets */
		{ "[::1]9910", -EINVAL, false, 0, 0 },
		{ "[::1]:", -EINVAL, false, 0, 0 },
		{ "[::1", -EINVAL, false, 0, 0 },
		{ "[127.0.0.1]:80", -EINVAL, false, 0, 0 },	/* brackets are for IPv6 */
		{ "[]:80", -EINVAL, false, 0, 0 },
		{ "127.0.0.1/8:80", -EINVAL, false, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mxg_listen_addr a = {};
		int ret = mxg_parse_listen(cases[i].in, &a);

		if (ret != cases[i].ret)
			fail_msg("mxg_parse_listen(\"%s\") = %d, want %d",
				 cases[i].in, ret, cases[i].ret);
		if (ret)
			continue;
		assert_int_equal(a.is_v4, cases[i].v4);
		assert_int_equal(a.port, cases[i].port);
		assert_int_equal(a.addr[15], cases[i].last);
		if (a.is_v4)
			assert_int_equal(a.addr[10] & a.addr[11], 0xff);
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
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_ldap_filter),
		cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
