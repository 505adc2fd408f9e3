/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/fleet_entry.c: a peer's entry parsed from its DN and
 * values (good ones, and every refusal with what its message says), the
 * DNs this host writes (read back by the parser), GeneralizedTime both
 * ways, and the admission of a peer's ban (widest prefix, allow list,
 * classes by name, expiry).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fleet_entry.h"
#include "parse.h"

#include "unit/unit.h"

#define BASE "ou=fleet,dc=example,dc=org"
#define UNDER_MX2 ",cn=mx2," BASE
/* 2026-11-30T18:40:00Z */
#define T_1840 1796064000ULL

/* An entry's values as text; a NULL list is an absent attribute. */
struct texts {
	const char *cn[4];
	const char *classes[MXG_MAX_CLASSES + 3];
	const char *reason[3];
	const char *expires[3];
};

/* The bervals libldap would return for t (up to the first NULL). */
struct values_buf {
	struct berval bv[4][MXG_MAX_CLASSES + 3];
	struct berval *ptr[4][MXG_MAX_CLASSES + 4];
};

static struct berval **to_values(const char *const *t, size_t n,
				 struct berval *bv, struct berval **ptr)
{
	size_t i;

	for (i = 0; i < n && t[i]; i++) {
		bv[i].bv_val = (char *)t[i];
		bv[i].bv_len = strlen(t[i]);
		ptr[i] = &bv[i];
	}
	ptr[i] = NULL;
	return i ? ptr : NULL;
}

static struct mxg_fleet_values values(const struct texts *t,
				      struct values_buf *b)
{
	return (struct mxg_fleet_values){
		.cn = to_values(t->cn, ARRAY_SIZE(t->cn), b->bv[0], b->ptr[0]),
		.classes = to_values(t->classes, ARRAY_SIZE(t->classes),
				     b->bv[1], b->ptr[1]),
		.reason = to_values(t->reason, ARRAY_SIZE(t->reason), b->bv[2],
				    b->ptr[2]),
		.expires = to_values(t->expires, ARRAY_SIZE(t->expires),
				     b->bv[3], b->ptr[3]),
	};
}

/* One line: a message with a line end in it would forge a log line. */
static void expect_one_line(const char *why, const char *what)
{
	for (const char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			fail_msg("%s: message has byte 0x%02x: '%s'", what,
				 (unsigned char)*p, why);
}

static void test_parse_good(void **state)
{
	static const struct {
		const char *what, *dn, *base;
		struct texts t;
		const char *prefix, *host, *reason;
		unsigned nclasses;
		uint64_t expires_s;
	} cases[] = {
		{ "IPv4 with everything",
		  "cn=198.51.100.7/32,cn=mx1.example.org," BASE, BASE,
		  { .cn = { "198.51.100.7/32" }, .classes = { "smtp" },
		    .reason = { "inspect" },
		    .expires = { "20261130184000Z" } },
		  "198.51.100.7/32", "mx1.example.org", "inspect", 1, T_1840 },
		{ "IPv6, no reason, no expiry",
		  "cn=2001:db8::/48" UNDER_MX2, BASE,
		  { .cn = { "2001:db8::/48" }, .classes = { "smtp", "ldap" } },
		  "2001:db8::/48", "mx2", "", 2, 0 },
		{ "a fraction of a second is dropped",
		  "cn=10.0.0.0/8" UNDER_MX2, BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261130184000.75Z" } },
		  "10.0.0.0/8", "mx2", "", 1, T_1840 },
		{ "a fraction with a comma",
		  "cn=10.0.0.0/8" UNDER_MX2, BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261130184000,5Z" } },
		  "10.0.0.0/8", "mx2", "", 1, T_1840 },
		{ "no seconds", "cn=10.0.0.0/8" UNDER_MX2, BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "202611301840Z" } },
		  "10.0.0.0/8", "mx2", "", 1, T_1840 },
		{ "the hour alone", "cn=10.0.0.0/8" UNDER_MX2, BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "2026113018Z" } },
		  "10.0.0.0/8", "mx2", "", 1, T_1840 - 40 * 60 },
		{ "29 February of a leap year", "cn=10.0.0.0/8" UNDER_MX2, BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20280229000000Z" } },
		  "10.0.0.0/8", "mx2", "", 1, 1835395200 },
		{ "the DN's base in other case and spacing",
		  "CN=10.0.0.0/8,cn=MX2,OU=Fleet, DC=Example,  dc=ORG", BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } },
		  "10.0.0.0/8", "MX2", "", 1, 0 },
		{ "the configured base in other case and spacing",
		  "cn=10.0.0.0/8" UNDER_MX2, "OU=fleet , DC=example,dc=Org",
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } },
		  "10.0.0.0/8", "mx2", "", 1, 0 },
		{ "a host route, every class, a reason of 63",
		  "cn=2001:db8::1/128" UNDER_MX2, BASE,
		  { .cn = { "2001:db8::1/128" },
		    .classes = { "a", "b", "c", "d", "e", "f", "g", "submission-2_x" },
		    .reason = { "123456789012345678901234567890123456789012345678901234567890123" } },
		  "2001:db8::1/128", "mx2",
		  "123456789012345678901234567890123456789012345678901234567890123",
		  8, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct values_buf b;
		struct mxg_fleet_values v = values(&cases[i].t, &b);
		struct mxg_fleet_entry e;
		char why[512] = "junk", cidr[MXG_CIDR_STRLEN];
		int ret;

		memset(&e, 0xa5, sizeof(e));
		ret = mxg_fleet_entry_parse(cases[i].dn, cases[i].base, &v, &e,
					    why, sizeof(why));
		if (ret)
			fail_msg("%s: refused (%d): %s", cases[i].what, ret, why);
		assert_string_equal(why, "");
		mxg_format_cidr(&e.key, cidr, sizeof(cidr));
		assert_string_equal(cidr, cases[i].prefix);
		assert_string_equal(e.host, cases[i].host);
		assert_string_equal(e.reason, cases[i].reason);
		expect_int(e.nclasses, cases[i].nclasses, cases[i].what);
		for (unsigned c = 0; c < e.nclasses; c++)
			assert_string_equal(e.classes[c], cases[i].t.classes[c]);
		expect_int(e.expires_s, cases[i].expires_s, cases[i].what);
	}
}

static void test_parse_refused(void **state)
{
	static const struct {
		const char *what, *dn;
		struct texts t;
		int ret;
		const char *why;
	} cases[] = {
		/* The prefix */
		{ "host bits set", "cn=198.51.100.7/24" UNDER_MX2,
		  { .cn = { "198.51.100.7/24" }, .classes = { "smtp" } }, -EINVAL,
		  "cn=198.51.100.7/24 under cn=mx2: prefix '198.51.100.7/24' has host bits set (198.51.100.0/24 would be canonical)" },
		{ "IPv6 host bits set", "cn=2001:db8::1/64" UNDER_MX2,
		  { .cn = { "2001:db8::1/64" }, .classes = { "smtp" } }, -EINVAL,
		  "has host bits set (2001:db8::/64 would be canonical)" },
		{ "upper-case IPv6", "cn=2001:DB8::/48" UNDER_MX2,
		  { .cn = { "2001:DB8::/48" }, .classes = { "smtp" } }, -EINVAL,
		  "prefix '2001:DB8::/48' is not written as 2001:db8::/48" },
		{ "an address without its length", "cn=198.51.100.7" UNDER_MX2,
		  { .cn = { "198.51.100.7" }, .classes = { "smtp" } }, -EINVAL,
		  "is not written as 198.51.100.7/32" },
		{ "IPv4 written as mapped IPv6", "cn=::ffff:10.0.0.0/104" UNDER_MX2,
		  { .cn = { "::ffff:10.0.0.0/104" }, .classes = { "smtp" } }, -EINVAL,
		  "is not written as 10.0.0.0/8" },
		{ "a name, not a prefix", "cn=mail.example.org" UNDER_MX2,
		  { .cn = { "mail.example.org" }, .classes = { "smtp" } }, -EINVAL,
		  "'mail.example.org' is not a prefix (ADDR/LEN)" },
		{ "a length out of range", "cn=10.0.0.0/33" UNDER_MX2,
		  { .cn = { "10.0.0.0/33" }, .classes = { "smtp" } }, -EINVAL, "is not a prefix" },
		/* cn */
		{ "cn other than the RDN", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/16" }, .classes = { "smtp" } }, -EINVAL,
		  "cn=10.0.0.0/8 under cn=mx2: cn '10.0.0.0/16' is not the prefix of the DN" },
		{ "no cn", "cn=10.0.0.0/8" UNDER_MX2, { .cn = {}, .classes = { "smtp" } },
		  -EINVAL,
		  "0 cn values, a ban has one" },
		{ "a second cn", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8", "10.0.0.0/16" }, .classes = { "smtp" } },
		  -EINVAL,
		  "2 cn values, a ban has one" },
		/* classes */
		{ "no class", "cn=10.0.0.0/8" UNDER_MX2, { .cn = { "10.0.0.0/8" } },
		  -EINVAL, "cn=10.0.0.0/8 under cn=mx2: no mxgBanClasses" },
		{ "nine classes", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" },
		    .classes = { "a", "b", "c", "d", "e", "f", "g", "h", "i" } },
		  -EINVAL, "9 mxgBanClasses values, at most 8" },
		{ "a class name in upper case", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "SMTP" } }, -EINVAL,
		  "mxgBanClasses 'SMTP' is not a class name (1..15 of a-z 0-9 _ -)" },
		{ "a class name too long", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp", "sixteen-chars-xx" } },
		  -EINVAL,
		  "'sixteen-chars-xx' is not a class name" },
		{ "an empty class name", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "" } }, -EINVAL,
		  "mxgBanClasses '' is not a class name" },
		{ "a class twice", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp", "ldap", "smtp" } },
		  -EINVAL,
		  "mxgBanClasses 'smtp' given twice" },
		/* reason */
		{ "a line end in the reason", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .reason = { "inspect\nforged line" } },
		  -EINVAL,
		  "mxgBanReason 'inspect\\x0aforged line' has a byte other than printable ASCII" },
		{ "a terminal escape in the reason", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .reason = { "\x1b[31mred" } }, -EINVAL,
		  "'\\x1b[31mred' has a byte other than printable ASCII" },
		{ "a reason of 64", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .reason = { "1234567890123456789012345678901234567890123456789012345678901234" } },
		  -EINVAL, "is longer than 63 characters" },
		{ "two reasons", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .reason = { "cli", "inspect" } }, -EINVAL,
		  "2 mxgBanReason values, at most one" },
		/* expiry */
		{ "no Z", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261130184000" } },
		  -EINVAL,
		  "cn=10.0.0.0/8 under cn=mx2: mxgBanExpires '20261130184000' is not a UTC time" },
		{ "an offset", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261130184000+0100" } },
		  -EINVAL, "'20261130184000+0100' is not a UTC time" },
		{ "month 13", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261330184000Z" } },
		  -EINVAL, "is not a UTC time" },
		{ "30 February", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20260230120000Z" } },
		  -EINVAL, "is not a UTC time" },
		{ "too short", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "2026" } },
		  -EINVAL, "mxgBanExpires '2026' is not a UTC time" },
		{ "two expiries", "cn=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" },
		    .expires = { "20261130184000Z", "20261130184000Z" } },
		  -EINVAL, "2 mxgBanExpires values, at most one" },
		/* the DN */
		{ "not under the base",
		  "cn=10.0.0.0/8,cn=mx2,ou=other,dc=example,dc=org",
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "'cn=10.0.0.0/8,cn=mx2,ou=other,dc=example,dc=org': not under the fleet's base " BASE },
		{ "above the base", "dc=example,dc=org", { .cn = {}, .classes = { "smtp" } },
		  -EINVAL, "not under the fleet's base" },
		{ "too deep", "cn=10.0.0.0/8,cn=mx2,ou=x," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "3 levels below the base, a ban is 2 (cn=PREFIX,cn=HOST,BASE)" },
		{ "not a DN", "cn=10.0.0.0/8,,cn=mx2," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL, "': not a DN" },
		{ "a host name with '_'", "cn=10.0.0.0/8,cn=mx_2," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "cn=10.0.0.0/8 under cn=mx_2: host 'mx_2' is not a host name (1..63 of A-Z a-z 0-9 . -)" },
		{ "a line end in the host", "cn=10.0.0.0/8,cn=mx\\0a2," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "host 'mx\\x0a2' is not a host name" },
		{ "a parent not cn=", "cn=10.0.0.0/8,ou=mx2," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "its parent is not a host's cn=HOST" },
		{ "not named cn=", "uid=10.0.0.0/8" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL, "not named cn=PREFIX" },
		{ "a two-valued RDN", "cn=10.0.0.0/8+sn=x" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL, "not named cn=PREFIX" },
		{ "a #hex RDN", "cn=#040a31302e302e302e302f38" UNDER_MX2,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL, "not named cn=PREFIX" },
		{ "a ban in a container's place", "cn=10.0.0.0/8," BASE,
		  { .cn = { "10.0.0.0/8" }, .classes = { "smtp" } }, -EINVAL,
		  "has mxgBanClasses but is a host's container, not cn=PREFIX,cn=HOST,BASE" },
		/* not bans: skipped without a word */
		{ "a host's container", "cn=mx2," BASE, { .cn = { "mx2" } }, -ENOENT, "" },
		{ "the base", BASE, {}, -ENOENT, "" },
		{ "the base in other case", "OU=Fleet,DC=Example,DC=Org", {},
		  -ENOENT, "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct values_buf b;
		struct mxg_fleet_values v = values(&cases[i].t, &b);
		struct mxg_fleet_entry e, before;
		char why[512] = "junk";
		int ret;

		memset(&e, 0xa5, sizeof(e));
		before = e;
		ret = mxg_fleet_entry_parse(cases[i].dn, BASE, &v, &e, why,
					    sizeof(why));
		expect_int(ret, cases[i].ret, cases[i].what);
		if (cases[i].why[0])
			expect_has(why, cases[i].why);
		else
			assert_string_equal(why, "");
		expect_one_line(why, cases[i].what);
		if (memcmp(&e, &before, sizeof(e)))
			fail_msg("%s: refused, yet the entry was written", cases[i].what);
	}
}

/* A long value is cut in the message, which stays one bounded line. */
static void test_parse_message_bounded(void **state)
{
	char reason[4096], why[512];
	struct texts t = {
		.cn = { "10.0.0.0/8" }, .classes = { "smtp" }, .reason = { reason },
	};
	struct values_buf b;
	struct mxg_fleet_values v;
	struct mxg_fleet_entry e;

	memset(reason, '\n', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	v = values(&t, &b);
	assert_int_equal(mxg_fleet_entry_parse("cn=10.0.0.0/8" UNDER_MX2, BASE,
					       &v, &e, why, sizeof(why)),
			 -EINVAL);
	expect_has(why, "\\x0a...' is longer than 63 characters");
	expect_one_line(why, "4095 line ends");
	assert_true(strlen(why) < 200);
	/* A message cut by a small buffer is still terminated. */
	assert_int_equal(mxg_fleet_entry_parse("cn=10.0.0.0/8" UNDER_MX2, BASE,
					       &v, &e, why, 8), -EINVAL);
	assert_string_equal(why, "cn=10.0");
}

static void test_time(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t out;
	} cases[] = {
		{ "20261130184000Z", 0, T_1840 },
		{ "19700101000001Z", 0, 1 },
		{ "99991231235959Z", 0, 253402300799ULL },
		{ "20261231235960Z", 0, 1798761600 },	/* leap second */
		{ "20261130184000.123456789Z", 0, T_1840 },
		{ "19700101000000Z", -EINVAL, 0 },	/* 0 is "no expiry" */
		{ "19691231235959Z", -EINVAL, 0 },
		{ "20261130184000", -EINVAL, 0 },
		{ "20261130184000z", -EINVAL, 0 },
		{ "20261130184000+0000", -EINVAL, 0 },
		{ "20261130184000-0500", -EINVAL, 0 },
		{ "20261130184000Z ", -EINVAL, 0 },
		{ " 20261130184000Z", -EINVAL, 0 },
		{ "20261130184000.Z", -EINVAL, 0 },
		{ "20261130184000..5Z", -EINVAL, 0 },
		{ "20261330184000Z", -EINVAL, 0 },
		{ "20260030184000Z", -EINVAL, 0 },
		{ "20260230120000Z", -EINVAL, 0 },
		{ "20270229120000Z", -EINVAL, 0 },	/* not a leap year */
		{ "21000229120000Z", -EINVAL, 0 },	/* nor is 2100 */
		{ "20261100120000Z", -EINVAL, 0 },
		{ "20261131120000Z", -EINVAL, 0 },
		{ "20261130240000Z", -EINVAL, 0 },
		{ "20261130186000Z", -EINVAL, 0 },
		{ "20261130184061Z", -EINVAL, 0 },
		{ "2026113018400Z", -EINVAL, 0 },	/* odd digit count */
		{ "20261130Z", -EINVAL, 0 },		/* no hour */
		{ "2026", -EINVAL, 0 },
		{ "Z", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "2026-11-30T18:40:00Z", -EINVAL, 0 },
		{ "+2026113018400Z", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t out = 42;
		int ret = mxg_fleet_time_parse(cases[i].in, strlen(cases[i].in), &out);

		expect_int(ret, cases[i].ret, cases[i].in);
		expect_int(out, ret ? 42 : cases[i].out, cases[i].in);
	}
	/* The length is the value's, not a C string's. */
	assert_int_equal(mxg_fleet_time_parse("20261130184000Zjunk", 15,
					      &(uint64_t){ 0 }), 0);
	assert_int_equal(mxg_fleet_time_parse("20261130184000Z", 14,
					      &(uint64_t){ 0 }), -EINVAL);
}

static void test_time_format(void **state)
{
	static const uint64_t round_trip[] = {
		1, T_1840, 1835395200, 951782400 /* 2000-02-29 */,
		253402300799ULL,
	};
	char buf[MXG_FLEET_TIME_LEN];

	assert_int_equal(mxg_fleet_time_format(T_1840, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "20261130184000Z");
	for (size_t i = 0; i < ARRAY_SIZE(round_trip); i++) {
		uint64_t back = 0;

		assert_int_equal(mxg_fleet_time_format(round_trip[i], buf,
						       sizeof(buf)), 0);
		assert_int_equal(strlen(buf), MXG_FLEET_TIME_LEN - 1);
		assert_int_equal(mxg_fleet_time_parse(buf, strlen(buf), &back), 0);
		expect_int(back, round_trip[i], buf);
	}
	assert_int_equal(mxg_fleet_time_format(253402300800ULL, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(mxg_fleet_time_format(T_1840, buf, sizeof(buf) - 1),
			 -EINVAL);
}

static void test_host_valid(void **state)
{
	static const struct {
		const char *host;
		bool ok;
	} cases[] = {
		{ "mx1", true }, { "mx1.example.org", true }, { "MX-2", true },
		{ "123456789012345678901234567890123456789012345678901234567890123", true },
		{ "1234567890123456789012345678901234567890123456789012345678901234", false },
		{ "", false }, { "mx_1", false }, { "mx 1", false },
		{ "mx1,dc=x", false }, { "mx1\n", false }, { "mx1+cn=x", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_int(mxg_fleet_host_valid(cases[i].host), cases[i].ok,
			   cases[i].host);
	assert_false(mxg_fleet_host_valid(NULL));
}

static void test_dn(void **state)
{
	static const struct {
		const char *prefix, *host, *base, *dn;
	} cases[] = {
		{ "198.51.100.7/32", "mx1.example.org", BASE,
		  "cn=198.51.100.7/32,cn=mx1.example.org," BASE },
		{ "2001:db8::/48", "mx2", BASE, "cn=2001:db8::/48,cn=mx2," BASE },
		/* The base printed again as the same DN, RFC 4514-escaped */
		{ "10.0.0.0/8", "mx2", "OU=Fleet,  O=Example\\, Inc",
		  "cn=10.0.0.0/8,cn=mx2,OU=Fleet,O=Example\\2C Inc" },
		{ "10.0.0.0/8", "mx2", "ou=a\\+b", "cn=10.0.0.0/8,cn=mx2,ou=a\\2Bb" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mxg_fleet_entry e = { .nclasses = 1, .classes = { "smtp" } };
		const char *cn[] = { cases[i].prefix, NULL }, *classes[] = { "smtp", NULL };
		struct berval bv[2][1], *ptr[2][2];
		struct mxg_fleet_values v = {
			.cn = to_values(cn, 1, bv[0], ptr[0]),
			.classes = to_values(classes, 1, bv[1], ptr[1]),
		};
		struct mxg_fleet_entry back;
		char dn[512], host_dn[512], why[512] = "";
		const char *comma = strchr(cases[i].dn, ',');

		assert_int_equal(mxg_parse_cidr(cases[i].prefix, &e.key), 0);
		strcpy(e.host, cases[i].host);
		assert_int_equal(mxg_fleet_entry_dn(&e, cases[i].base, dn, sizeof(dn)), 0);
		assert_string_equal(dn, cases[i].dn);
		assert_int_equal(mxg_fleet_host_dn(cases[i].host, cases[i].base,
						   host_dn, sizeof(host_dn)), 0);
		assert_string_equal(host_dn, comma + 1);
		/* What this host writes, every host reads. */
		if (mxg_fleet_entry_parse(dn, cases[i].base, &v, &back, why, sizeof(why)))
			fail_msg("%s refused: %s", dn, why);
		assert_memory_equal(&back.key, &e.key, sizeof(e.key));
		assert_string_equal(back.host, e.host);
		assert_int_equal(mxg_fleet_entry_parse(host_dn, cases[i].base,
						       &(struct mxg_fleet_values){ 0 },
						       &back, why, sizeof(why)),
				 -ENOENT);
	}
}

static void test_dn_refused(void **state)
{
	struct mxg_fleet_entry e = { .host = "mx1" };
	char buf[64];

	assert_int_equal(mxg_parse_cidr("198.51.100.7/32", &e.key), 0);
	/* "cn=198.51.100.7/32,cn=mx1,ou=fleet,dc=example,dc=org" is 52 */
	assert_int_equal(mxg_fleet_entry_dn(&e, BASE, buf, 53), 0);
	assert_int_equal(mxg_fleet_entry_dn(&e, BASE, buf, 52), -ENAMETOOLONG);
	assert_int_equal(mxg_fleet_host_dn("mx1", BASE, buf, 7), -ENAMETOOLONG);
	assert_int_equal(mxg_fleet_host_dn("mx1,ou=x", BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mxg_fleet_host_dn("", BASE, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mxg_fleet_host_dn("mx1", "ou=a,,dc=x", buf, sizeof(buf)), -EINVAL);
	strcpy(e.host, "mx 1");
	assert_int_equal(mxg_fleet_entry_dn(&e, BASE, buf, sizeof(buf)), -EINVAL);
}

/* ---- admission ---------------------------------------------------------- */

#define NOW (T_1840 - 3600)

static void test_admit(void **state)
{
	static const char slots[][MXG_CLASS_NAME_LEN] = {
		"smtp", "ldap", "", "submission",
	};
	static const char *const allow_text[] = {
		"198.18.0.0/15", "192.0.2.1/32", "2001:db8:a::/48",
	};
	static const struct {
		const char *what, *prefix;
		const char *classes[4];
		uint64_t expires_s;
		uint8_t widest_v4, widest_v6;	/* 0xff: the default */
		bool no_allow;
		int ret;
		uint32_t mask;
		const char *why;
	} cases[] = {
		{ "0.0.0.0/0 by default", "0.0.0.0/0", { "smtp" }, 0, 0xff, 0xff,
		  false, -EPERM, 0,
		  "cn=0.0.0.0/0 under cn=mx2: /0 is wider than [fleet] widest_ipv4_prefix 24" },
		{ "0.0.0.0/0 when the operator allows /0", "0.0.0.0/0",
		  { "smtp" }, 0, 0, 0xff, true, 0, 1, "" },
		{ "0.0.0.0/0 holds the allow list", "0.0.0.0/0", { "smtp" }, 0,
		  0, 0xff, false, -EPERM, 0, "holds allow-listed 198.18.0.0/15" },
		{ "a /24", "198.51.100.0/24", { "smtp" }, 0, 0xff, 0xff, false,
		  0, 1, "" },
		{ "a /32", "198.51.100.7/32", { "ldap" }, T_1840, 0xff, 0xff,
		  false, 0, 2, "" },
		{ "a /23", "198.51.100.0/23", { "smtp" }, 0, 0xff, 0xff, false,
		  -EPERM, 0, "/23 is wider than [fleet] widest_ipv4_prefix 24" },
		{ "a /16 with widest 16", "10.1.0.0/16", { "smtp" }, 0, 16, 0xff,
		  false, 0, 1, "" },
		{ "a /15 with widest 16", "10.0.0.0/15", { "smtp" }, 0, 16, 0xff,
		  false, -EPERM, 0, "/15 is wider than [fleet] widest_ipv4_prefix 16" },
		{ "IPv6 /48", "2001:db8:1::/48", { "smtp" }, 0, 0xff, 0xff,
		  false, 0, 1, "" },
		{ "IPv6 /47", "2001:db8::/47", { "smtp" }, 0, 0xff, 0xff, false,
		  -EPERM, 0,
		  "cn=2001:db8::/47 under cn=mx2: /47 is wider than [fleet] widest_ipv6_prefix 48" },
		{ "IPv6 /32 with widest 32", "2001:db8::/32", { "smtp" }, 0,
		  0xff, 32, true, 0, 1, "" },
		{ "::/0", "::/0", { "smtp" }, 0, 0xff, 0xff, false, -EPERM, 0,
		  "/0 is wider than [fleet] widest_ipv6_prefix 48" },
		{ "an IPv6 prefix holding all of IPv4", "::/80", { "smtp" }, 0,
		  0xff, 0xff, true, -EPERM, 0,
		  "cn=::/80 under cn=mx2: holds all of IPv4 (::ffff:0:0/96), wider than [fleet] widest_ipv4_prefix 24" },
		{ "::ffff:0:0/96 is 0.0.0.0/0", "::ffff:0:0/96", { "smtp" }, 0,
		  0xff, 0xff, true, -EPERM, 0,
		  "cn=0.0.0.0/0 under cn=mx2: /0 is wider than [fleet] widest_ipv4_prefix 24" },
		{ "::/96 is IPv6 only", "::/96", { "smtp" }, 0, 0xff, 0xff,
		  true, 0, 1, "" },
		{ "inside an allowed prefix", "198.18.5.0/24", { "smtp" }, 0,
		  0xff, 0xff, false, -EPERM, 0,
		  "cn=198.18.5.0/24 under cn=mx2: inside allow-listed 198.18.0.0/15" },
		{ "the allowed prefix itself", "192.0.2.1/32", { "smtp" }, 0,
		  0xff, 0xff, false, -EPERM, 0, "inside allow-listed 192.0.2.1/32" },
		{ "holding an allowed host", "192.0.2.0/24", { "smtp" }, 0,
		  0xff, 0xff, false, -EPERM, 0, "holds allow-listed 192.0.2.1/32" },
		{ "next to an allowed host", "192.0.3.0/24", { "smtp" }, 0,
		  0xff, 0xff, false, 0, 1, "" },
		{ "IPv6 inside an allowed prefix", "2001:db8:a:1::/64",
		  { "smtp" }, 0, 0xff, 0xff, false, -EPERM, 0,
		  "inside allow-listed 2001:db8:a::/48" },
		{ "unknown classes ignored", "198.51.100.7/32",
		  { "imap", "smtp" }, 0, 0xff, 0xff, false, 0, 1, "" },
		{ "classes to slots", "198.51.100.7/32",
		  { "submission", "ldap", "pop3" }, 0, 0xff, 0xff, false, 0,
		  (1U << 3) | (1U << 1), "" },
		{ "no class of this guard", "198.51.100.7/32",
		  { "imap", "pop3" }, 0, 0xff, 0xff, false, -EPERM, 0,
		  "cn=198.51.100.7/32 under cn=mx2: names no class of this guard (mxgBanClasses: imap, pop3)" },
		{ "expired", "198.51.100.7/32", { "smtp" }, NOW - 1, 0xff, 0xff,
		  false, -ESTALE, 0, "expired at 20261130173959Z" },
		{ "expiring now", "198.51.100.7/32", { "smtp" }, NOW, 0xff,
		  0xff, false, -ESTALE, 0, "expired at 20261130174000Z" },
		{ "expiring in a second", "198.51.100.7/32", { "smtp" },
		  NOW + 1, 0xff, 0xff, false, 0, 1, "" },
		{ "expired and too wide: expired", "0.0.0.0/0", { "smtp" },
		  NOW - 1, 0xff, 0xff, false, -ESTALE, 0, "expired" },
	};
	struct mxg_lpm_key allow[ARRAY_SIZE(allow_text)];

	for (size_t i = 0; i < ARRAY_SIZE(allow_text); i++)
		assert_int_equal(mxg_parse_cidr(allow_text[i], &allow[i]), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mxg_fleet_entry e = {
			.host = "mx2", .expires_s = cases[i].expires_s,
		};
		struct mxg_fleet_config fc = {
			.enabled = true,
			.widest_ipv4_prefix = cases[i].widest_v4 == 0xff ?
				MXG_FLEET_DEFAULT_WIDEST_V4 : cases[i].widest_v4,
			.widest_ipv6_prefix = cases[i].widest_v6 == 0xff ?
				MXG_FLEET_DEFAULT_WIDEST_V6 : cases[i].widest_v6,
		};
		uint32_t mask = 0xdead;
		char why[512] = "junk";
		int ret;

		assert_int_equal(mxg_parse_cidr(cases[i].prefix, &e.key), 0);
		for (unsigned c = 0; c < ARRAY_SIZE(cases[i].classes) &&
				     cases[i].classes[c]; c++)
			strcpy(e.classes[e.nclasses++], cases[i].classes[c]);
		ret = mxg_fleet_admit(&e, &fc, slots, ARRAY_SIZE(slots),
				      cases[i].no_allow ? NULL : allow,
				      cases[i].no_allow ? 0 : ARRAY_SIZE(allow),
				      NOW, &mask, why, sizeof(why));
		expect_int(ret, cases[i].ret, cases[i].what);
		expect_int(mask, ret ? 0xdead : cases[i].mask, cases[i].what);
		if (cases[i].why[0])
			expect_has(why, cases[i].why);
		else
			assert_string_equal(why, "");
		expect_one_line(why, cases[i].what);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_message_bounded),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_host_valid),
		cmocka_unit_test(test_dn),
		cmocka_unit_test(test_dn_refused),
		cmocka_unit_test(test_admit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
