/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Recipient normalisation and hashing (bpf/rcpt.h), the code the BPF SMTP
 * inspector and the LDAP mirror both run. A difference between them would
 * turn a valid recipient into an unknown one, so the hash is checked
 * against the SipHash reference vectors and against libsodium, and the
 * branch-free normaliser against a plain reference model as well as a
 * table of cases.
 */
// Linked with -lsodium (the Makefile links every unit test with it).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "rcpt.h"

#include "unit/unit.h"

/*
 * SipHash-2-4 with key 00 01 .. 0f over messages 00 01 .. (len - 1), len
 * 0..63: vectors_sip64 of the reference implementation's vectors.h
 * (Aumasson, Bernstein; github.com/veorq/SipHash), the output's bytes in
 * little-endian order as there.
 */
static const __u8 sip64_vectors[64][8] = {
	{ 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 },
	{ 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 },
	{ 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d },
	{ 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 },
	{ 0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf },
	{ 0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18 },
	{ 0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb },
	{ 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab },
	{ 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 },
	{ 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e },
	{ 0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a },
	{ 0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4 },
	{ 0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75 },
	{ 0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14 },
	{ 0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7 },
	{ 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 },
	{ 0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f },
	{ 0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69 },
	{ 0x9c, 0xd3, 0x8d, 0x96, 0xf0, 0xb3, 0xc1, 0x4b },
	{ 0xbd, 0x61, 0x79, 0xa7, 0x1d, 0xc9, 0x6d, 0xbb },
	{ 0x98, 0xee, 0xa2, 0x1a, 0xf2, 0x5c, 0xd6, 0xbe },
	{ 0xc7, 0x67, 0x3b, 0x2e, 0xb0, 0xcb, 0xf2, 0xd0 },
	{ 0x88, 0x3e, 0xa3, 0xe3, 0x95, 0x67, 0x53, 0x93 },
	{ 0xc8, 0xce, 0x5c, 0xcd, 0x8c, 0x03, 0x0c, 0xa8 },
	{ 0x94, 0xaf, 0x49, 0xf6, 0xc6, 0x50, 0xad, 0xb8 },
	{ 0xea, 0xb8, 0x85, 0x8a, 0xde, 0x92, 0xe1, 0xbc },
	{ 0xf3, 0x15, 0xbb, 0x5b, 0xb8, 0x35, 0xd8, 0x17 },
	{ 0xad, 0xcf, 0x6b, 0x07, 0x63, 0x61, 0x2e, 0x2f },
	{ 0xa5, 0xc9, 0x1d, 0xa7, 0xac, 0xaa, 0x4d, 0xde },
	{ 0x71, 0x65, 0x95, 0x87, 0x66, 0x50, 0xa2, 0xa6 },
	{ 0x28, 0xef, 0x49, 0x5c, 0x53, 0xa3, 0x87, 0xad },
	{ 0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32 },
	{ 0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71 },
	{ 0xe3, 0x78, 0x59, 0xf9, 0x46, 0x23, 0xf3, 0xa7 },
	{ 0x38, 0x12, 0x05, 0xbb, 0x1a, 0xb0, 0xe0, 0x12 },
	{ 0xae, 0x97, 0xa1, 0x0f, 0xd4, 0x34, 0xe0, 0x15 },
	{ 0xb4, 0xa3, 0x15, 0x08, 0xbe, 0xff, 0x4d, 0x31 },
	{ 0x81, 0x39, 0x62, 0x29, 0xf0, 0x90, 0x79, 0x02 },
	{ 0x4d, 0x0c, 0xf4, 0x9e, 0xe5, 0xd4, 0xdc, 0xca },
	{ 0x5c, 0x73, 0x33, 0x6a, 0x76, 0xd8, 0xbf, 0x9a },
	{ 0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e },
	{ 0x92, 0x59, 0x58, 0xfc, 0xd6, 0x42, 0x0c, 0xad },
	{ 0xa9, 0x15, 0xc2, 0x9b, 0xc8, 0x06, 0x73, 0x18 },
	{ 0x95, 0x2b, 0x79, 0xf3, 0xbc, 0x0a, 0xa6, 0xd4 },
	{ 0xf2, 0x1d, 0xf2, 0xe4, 0x1d, 0x45, 0x35, 0xf9 },
	{ 0x87, 0x57, 0x75, 0x19, 0x04, 0x8f, 0x53, 0xa9 },
	{ 0x10, 0xa5, 0x6c, 0xf5, 0xdf, 0xcd, 0x9a, 0xdb },
	{ 0xeb, 0x75, 0x09, 0x5c, 0xcd, 0x98, 0x6c, 0xd0 },
	{ 0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6 },
	{ 0x96, 0xaf, 0xad, 0xfc, 0x2c, 0xe6, 0x66, 0xc7 },
	{ 0x72, 0xfe, 0x52, 0x97, 0x5a, 0x43, 0x64, 0xee },
	{ 0x5a, 0x16, 0x45, 0xb2, 0x76, 0xd5, 0x92, 0xa1 },
	{ 0xb2, 0x74, 0xcb, 0x8e, 0xbf, 0x87, 0x87, 0x0a },
	{ 0x6f, 0x9b, 0xb4, 0x20, 0x3d, 0xe7, 0xb3, 0x81 },
	{ 0xea, 0xec, 0xb2, 0xa3, 0x0b, 0x22, 0xa8, 0x7f },
	{ 0x99, 0x24, 0xa4, 0x3c, 0xc1, 0x31, 0x57, 0x24 },
	{ 0xbd, 0x83, 0x8d, 0x3a, 0xaf, 0xbf, 0x8d, 0xb7 },
	{ 0x0b, 0x1a, 0x2a, 0x32, 0x65, 0xd5, 0x1a, 0xea },
	{ 0x13, 0x50, 0x79, 0xa3, 0x23, 0x1c, 0xe6, 0x60 },
	{ 0x93, 0x2b, 0x28, 0x46, 0xe4, 0xd7, 0x06, 0x66 },
	{ 0xe1, 0x91, 0x5f, 0x5c, 0xb1, 0xec, 0xa4, 0x6c },
	{ 0xf3, 0x25, 0x96, 0x5c, 0xa1, 0x6d, 0x62, 0x9f },
	{ 0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5 },
	{ 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 },
};

static const struct mxg_hash_key ref_key = {
	.k0 = 0x0706050403020100ULL,
	.k1 = 0x0f0e0d0c0b0a0908ULL,
};

static __u64 le64(const __u8 b[8])
{
	__u64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Deterministic, so a failure can be replayed. */
static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_siphash_vectors(void **state)
{
	__u8 buf[MXG_RCPT_BUF];

	for (unsigned int len = 0; len < 64; len++) {
		/* Zero padding as the contract has it... */
		memset(buf, 0, sizeof(buf));
		for (unsigned int i = 0; i < len; i++)
			buf[i] = (__u8)i;
		assert_int_equal(mxg_siphash(&ref_key, buf, len),
				 le64(sip64_vectors[len]));
		/* ...and junk past len: only len % 8 bytes of the final
		 * block may count. */
		memset(buf + len, 0xa5, sizeof(buf) - len);
		assert_int_equal(mxg_siphash(&ref_key, buf, len),
				 le64(sip64_vectors[len]));
	}
}

/* Any key, any length up to the buffer, junk past len. */
static void test_siphash_libsodium(void **state)
{
	assert_true(sodium_init() >= 0);
	for (int iter = 0; iter < 5000; iter++) {
		__u8 buf[MXG_RCPT_BUF], k[16], want[8];
		struct mxg_hash_key key;
		__u32 len = (__u32)(rng() % (MXG_RCPT_BUF + 1));

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (__u8)rng();
		for (size_t i = 0; i < sizeof(k); i++)
			k[i] = (__u8)rng();
		key.k0 = le64(k);
		key.k1 = le64(k + 8);
		crypto_shorthash_siphash24(want, buf, len, k);
		assert_int_equal(mxg_siphash(&key, buf, len), le64(want));
	}
}

struct norm_case {
	const char *in;
	const char *delims;
	const char *want;	/* NULL: error expected */
	int err;
	int at;			/* index of '@' in want, -1: strchr */
};

static const struct norm_case norm_cases[] = {
	/* case */
	{ "User@Example.COM", "", "user@example.com", 0, -1 },
	{ "USER@EXAMPLE.COM", "+", "user@example.com", 0, -1 },
	{ "uSeR@eXaMpLe.CoM", "+", "user@example.com", 0, -1 },
	{ "AZaz09@az.AZ", "", "azaz09@az.az", 0, -1 },
	{ "[@`{@x", "", "[@`{@x", 0, 4 },	/* neighbours of A-Z, a-z */
	/* angle brackets: one pair, only when both are there */
	{ "<User@Example.COM>", "", "user@example.com", 0, -1 },
	{ "<<a@b>>", "", "<a@b>", 0, -1 },
	{ "<a@b", "", "<a@b", 0, -1 },
	{ "a@b>", "", "a@b>", 0, -1 },
	/* one trailing dot of the domain */
	{ "a@example.com.", "", "a@example.com", 0, -1 },
	{ "a@example.com..", "", "a@example.com.", 0, -1 },
	{ "<A@Example.Com.>", "", "a@example.com", 0, -1 },
	{ "a.@x", "", "a.@x", 0, -1 },
	/* +detail */
	{ "a+tag@x.org", "+", "a@x.org", 0, -1 },
	{ "A+Tag@X.ORG.", "+", "a@x.org", 0, -1 },
	{ "<a+tag@x.org>", "+", "a@x.org", 0, -1 },
	{ "a+tag+more@x.org", "+", "a@x.org", 0, -1 },
	{ "a+@x.org", "+", "a@x.org", 0, -1 },
	{ "a-tag@x.org", "+", "a-tag@x.org", 0, -1 },
	{ "a-tag@x.org", "+-", "a@x.org", 0, -1 },
	{ "a-b+c@x.org", "+-", "a@x.org", 0, -1 },
	{ "a+b-c@x.org", "+-", "a@x.org", 0, -1 },
	{ "first.last+x@x.org", "+-", "first.last@x.org", 0, -1 },
	{ "a+tag@x.org", "", "a+tag@x.org", 0, -1 },
	{ "a@x+y.org", "+", "a@x+y.org", 0, -1 },	/* never in the domain */
	{ "aXb@x.org", "X", "a@x.org", 0, -1 },	/* matched before lower-casing */
	{ "axb@x.org", "X", "axb@x.org", 0, -1 },
	/* delimiter first: kept whole, as Postfix does */
	{ "+tag@x.org", "+", "+tag@x.org", 0, -1 },
	{ "+a+b@x.org", "+", "+a+b@x.org", 0, -1 },
	{ "-a+b@x.org", "+-", "-a+b@x.org", 0, -1 },
	{ "+@x.org", "+", "+@x.org", 0, -1 },
	/* several '@': the last one splits */
	{ "a@b@c.org", "", "a@b@c.org", 0, 3 },
	{ "A@B@C.ORG", "+", "a@b@c.org", 0, 3 },
	{ "a+x@b@c.org", "+", "a@c.org", 0, -1 },
	{ "a@b+x@c.org", "+", "a@b@c.org", 0, 3 },
	/* quoted local parts: kept, never cut */
	{ "\"John Doe\"@Example.com", "+", "\"john doe\"@example.com", 0, -1 },
	{ "\"a+b\"@x.org", "+", "\"a+b\"@x.org", 0, -1 },
	{ "\"a@b\"@x.org", "", "\"a@b\"@x.org", 0, 5 },
	/* bytes >= 0x80 kept as they are (not lower-cased) */
	{ "J\xc3\xbcrgen@Example.DE", "+", "j\xc3\xbcrgen@example.de", 0, -1 },
	{ "\xc3\x9c@x.de", "", "\xc3\x9c@x.de", 0, -1 },
	{ "a@\xff\xfe", "", "a@\xff\xfe", 0, -1 },
	{ " a @x", "", " a @x", 0, -1 },		/* space is not a control */
	/* delimiters that cannot be: ignored */
	{ "a\xc3\xbc" "b@x", "\xbc", "a\xc3\xbc" "b@x", 0, -1 },
	{ "a b@x", " ", "a b@x", 0, -1 },
	/* no '@' */
	{ "", "", NULL, MXG_RCPT_ENOAT, 0 },
	{ "<>", "", NULL, MXG_RCPT_ENOAT, 0 },
	{ "postmaster", "", NULL, MXG_RCPT_ENOAT, 0 },
	{ "<a>", "", NULL, MXG_RCPT_ENOAT, 0 },
	/* control bytes and DEL */
	{ "a\x01@x", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "a@x\x1f", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "a\t@x", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "a@x\r\n", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "a\x7f@x", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "<a@x\x7f>", "", NULL, MXG_RCPT_ECTRL, 0 },
	{ "abc\x01", "", NULL, MXG_RCPT_ECTRL, 0 },	/* before "no '@'" */
	/* empty local part or domain */
	{ "@x.org", "", NULL, MXG_RCPT_EEMPTY, 0 },
	{ "<@x.org>", "", NULL, MXG_RCPT_EEMPTY, 0 },
	{ "a@", "", NULL, MXG_RCPT_EEMPTY, 0 },
	{ "a@.", "", NULL, MXG_RCPT_EEMPTY, 0 },
	{ "<@>", "", NULL, MXG_RCPT_EEMPTY, 0 },
	{ "@", "+", NULL, MXG_RCPT_EEMPTY, 0 },
};

/* Normalise s (strlen) into a dirty buffer; checks the zero padding. */
static int normalize(const char *in, size_t inlen, const char *delims,
		     char out[MXG_RCPT_BUF], __u32 *at)
{
	char d[MXG_DELIM_MAX] = { 0 };
	int len;

	strncpy(d, delims, sizeof(d) - 1);
	memset(out, 0xaa, MXG_RCPT_BUF);
	*at = 12345;
	len = mxg_rcpt_normalize(in, (__u32)inlen, out, d, at);
	if (len >= 0) {
		assert_true(len <= MXG_RCPT_MAX);
		for (int i = len; i < MXG_RCPT_BUF; i++)
			assert_int_equal(out[i], 0);
	}
	return len;
}

static void test_normalize_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(norm_cases); i++) {
		const struct norm_case *t = &norm_cases[i];
		char out[MXG_RCPT_BUF];
		__u32 at;
		int len;

		print_message("normalize \"%s\" delims \"%s\"\n", t->in,
			      t->delims);
		len = normalize(t->in, strlen(t->in), t->delims, out, &at);
		if (!t->want) {
			assert_int_equal(len, -t->err);
			continue;
		}
		assert_int_equal(len, strlen(t->want));
		assert_memory_equal(out, t->want, len);
		assert_int_equal(at, t->at >= 0 ? t->at :
				 strchr(t->want, '@') - t->want);
		assert_int_equal(out[at], '@');
	}
}

/* A NUL inside inlen is a control byte, not an end. */
static void test_normalize_nul(void **state)
{
	char out[MXG_RCPT_BUF];
	__u32 at;

	assert_int_equal(normalize("a\0b@x.org", 9, "", out, &at),
			 -MXG_RCPT_ECTRL);
	assert_int_equal(normalize("a@x.org\0", 8, "", out, &at),
			 -MXG_RCPT_ECTRL);
	assert_int_equal(normalize("<a@x.org\0>", 10, "", out, &at),
			 -MXG_RCPT_ECTRL);
	assert_int_equal(normalize("\0", 1, "", out, &at), -MXG_RCPT_ECTRL);
	/* The delimiter set ends at its NUL; what follows is ignored. */
	assert_int_equal(mxg_rcpt_normalize("a-b@x", 5, out,
					    (char[MXG_DELIM_MAX]){ '+', 0, '-' },
					    &at), 5);
}

/* Build "<local>@<domain>" of exactly total bytes. */
static void make_addr(char *s, size_t total, int brackets)
{
	size_t i = 0, end = total;

	if (brackets) {
		s[i++] = '<';
		s[--end] = '>';
	}
	for (; i < end - 6; i++)
		s[i] = (char)('A' + i % 26);
	memcpy(s + i, "@x.org", 6);
	s[total] = 0;
}

static void test_normalize_length(void **state)
{
	char in[10001], out[MXG_RCPT_BUF], want[MXG_RCPT_BUF];
	__u32 at;

	make_addr(in, MXG_RCPT_MAX, 0);
	assert_int_equal(normalize(in, MXG_RCPT_MAX, "+", out, &at),
			 MXG_RCPT_MAX);
	for (int i = 0; i < MXG_RCPT_MAX; i++)
		want[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
	assert_memory_equal(out, want, MXG_RCPT_MAX);
	assert_int_equal(at, MXG_RCPT_MAX - 6);

	make_addr(in, MXG_RCPT_MAX + 1, 0);
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 1, "", out, &at),
			 -MXG_RCPT_ETOOLONG);

	/* The brackets do not count... */
	make_addr(in, MXG_RCPT_MAX + 2, 1);
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 2, "", out, &at),
			 MXG_RCPT_MAX);
	make_addr(in, MXG_RCPT_MAX + 3, 1);
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 3, "", out, &at),
			 -MXG_RCPT_ETOOLONG);
	/* ...unless there is only one of them. */
	make_addr(in, MXG_RCPT_MAX + 2, 1);
	in[MXG_RCPT_MAX + 1] = 'g';
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 2, "", out, &at),
			 -MXG_RCPT_ETOOLONG);

	/* Too long even when a +detail would bring it under: never cut. */
	make_addr(in, MXG_RCPT_MAX + 1, 0);
	in[1] = '+';
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 1, "+", out, &at),
			 -MXG_RCPT_ETOOLONG);
	/* Length is checked before content. */
	in[5] = 0;
	assert_int_equal(normalize(in, MXG_RCPT_MAX + 1, "+", out, &at),
			 -MXG_RCPT_ETOOLONG);

	make_addr(in, 10000, 0);
	assert_int_equal(normalize(in, 10000, "", out, &at),
			 -MXG_RCPT_ETOOLONG);
	assert_int_equal(normalize(in, 0xffffffffu, "", out, &at),
			 -MXG_RCPT_ETOOLONG);
}

/*
 * The plain way to write the same rules, byte by byte with strrchr-like
 * scans; the header's branch-free version must agree with it on anything.
 */
static int ref_normalize(const char *in, size_t inlen, const char *delims,
			 char *out, __u32 *at_out)
{
	size_t s = 0, n = inlen, at = SIZE_MAX, local, dom, o = 0;

	if (inlen >= 2 && in[0] == '<' && in[inlen - 1] == '>') {
		s = 1;
		n -= 2;
	}
	if (n > MXG_RCPT_MAX)
		return -MXG_RCPT_ETOOLONG;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[s + i];

		if (c < 0x20 || c == 0x7f)
			return -MXG_RCPT_ECTRL;
		if (c == '@')
			at = i;
	}
	if (at == SIZE_MAX)
		return -MXG_RCPT_ENOAT;
	local = at;
	if (in[s] != '"') {
		for (size_t i = 0; i < at; i++) {
			unsigned char c = (unsigned char)in[s + i];

			if (c > 0x20 && c < 0x7f && strchr(delims, c)) {
				if (i > 0)
					local = i;
				break;
			}
		}
	}
	dom = n - at - 1;
	if (dom && in[s + n - 1] == '.')
		dom--;
	if (!local || !dom)
		return -MXG_RCPT_EEMPTY;
	memset(out, 0, MXG_RCPT_BUF);
	for (size_t i = 0; i < local; i++)
		out[o++] = in[s + i];
	out[o++] = '@';
	for (size_t i = 0; i < dom; i++)
		out[o++] = in[s + at + 1 + i];
	for (size_t i = 0; i < o; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] += 'a' - 'A';
	*at_out = (__u32)local;
	return (int)o;
}

/* Random strings over the bytes the rules care about, around every
 * boundary the rules have. */
static void test_normalize_model(void **state)
{
	static const char alphabet[] = "aZz@@@@+-.<>\" \x01\x1f\x7f\x80\xc3\xff";
	static const char *const delim_sets[] = { "", "+", "+-", "-+.", "@" };
	char in[MXG_RCPT_BUF + 8], out[MXG_RCPT_BUF], want[MXG_RCPT_BUF];
	int seen[MXG_RCPT_EEMPTY + 1] = { 0 };

	for (int iter = 0; iter < 100000; iter++) {
		const char *delims = delim_sets[rng() % ARRAY_SIZE(delim_sets)];
		size_t inlen = rng() % 4 ? rng() % 16 : rng() % sizeof(in);
		__u32 at = 0, want_at = 0;
		int len, want_len;

		for (size_t i = 0; i < inlen; i++)
			in[i] = rng() % 4 ? alphabet[rng() % (sizeof(alphabet) - 1)] :
					    (char)('a' + rng() % 26);
		/* Mostly printable, so most strings get past the checks. */
		if (rng() % 2)
			for (size_t i = 0; i < inlen; i++)
				if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
					in[i] = 'q';
		if (inlen >= 2 && rng() % 3 == 0) {
			in[0] = '<';
			in[inlen - 1] = '>';
		}
		want_len = ref_normalize(in, inlen, delims, want, &want_at);
		len = normalize(in, inlen, delims, out, &at);
		if (len != want_len)
			fail_msg("\"%.*s\" delims \"%s\": %d, model %d",
				 (int)inlen, in, delims, len, want_len);
		if (len < 0) {
			seen[-len]++;
			continue;
		}
		seen[0]++;
		assert_memory_equal(out, want, MXG_RCPT_BUF);
		assert_int_equal(at, want_at);
	}
	/* The generator reaches every outcome, or it proves little. */
	for (size_t i = 0; i < ARRAY_SIZE(seen); i++)
		assert_true(seen[i] > 100);
}

struct utf8_case {
	const char *s;
	int valid;
};

static const struct utf8_case utf8_cases[] = {
	{ "", 1 },
	{ "plain ascii", 1 },
	{ "\x7f", 1 },
	{ "\xc2\x80", 1 },			/* U+0080, shortest 2-byte */
	{ "\xc3\xa9", 1 },			/* é */
	{ "\xdf\xbf", 1 },			/* U+07FF */
	{ "\xe0\xa0\x80", 1 },			/* U+0800, shortest 3-byte */
	{ "\xe2\x82\xac", 1 },			/* € */
	{ "\xed\x9f\xbf", 1 },			/* U+D7FF, below surrogates */
	{ "\xee\x80\x80", 1 },			/* U+E000, above them */
	{ "\xef\xbf\xbf", 1 },			/* U+FFFF */
	{ "\xf0\x90\x80\x80", 1 },		/* U+10000, shortest 4-byte */
	{ "\xf0\x9f\x98\x80", 1 },		/* 😀 */
	{ "\xf4\x8f\xbf\xbf", 1 },		/* U+10FFFF */
	{ "j\xc3\xbcrgen@m\xc3\xbcnchen.de", 1 },
	/* overlong */
	{ "\xc0\x80", 0 },
	{ "\xc0\xaf", 0 },
	{ "\xc1\xbf", 0 },
	{ "\xe0\x80\x80", 0 },
	{ "\xe0\x9f\xbf", 0 },
	{ "\xf0\x80\x80\x80", 0 },
	{ "\xf0\x8f\xbf\xbf", 0 },
	/* surrogates */
	{ "\xed\xa0\x80", 0 },
	{ "\xed\xbf\xbf", 0 },
	{ "\xed\xa0\xbd\xed\xb8\x80", 0 },	/* a CESU-8 pair */
	/* above U+10FFFF */
	{ "\xf4\x90\x80\x80", 0 },
	{ "\xf5\x80\x80\x80", 0 },
	{ "\xf8\x88\x80\x80\x80", 0 },
	{ "\xfe", 0 },
	{ "\xff", 0 },
	/* truncated or broken sequences */
	{ "\xc3", 0 },
	{ "a\xc3", 0 },
	{ "\xe2\x82", 0 },
	{ "\xf0\x9f\x98", 0 },
	{ "\x80", 0 },
	{ "\xbf", 0 },
	{ "\xc3\x28", 0 },
	{ "\xe2\x28\xa1", 0 },
	{ "\xe2\x82\x28", 0 },
	{ "\xf0\x9f\x98\x28", 0 },
	{ "\xc3\xa9\xc3", 0 },
};

static void test_utf8(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(utf8_cases); i++) {
		const struct utf8_case *t = &utf8_cases[i];

		print_message("utf8 case %zu\n", i);
		assert_int_equal(mxg_utf8_valid(t->s, (__u32)strlen(t->s)),
				 t->valid);
	}
	/* A NUL is U+0000 (normalisation refuses it, not UTF-8), and the
	 * length bounds the scan. */
	assert_int_equal(mxg_utf8_valid("a\0b", 3), 1);
	assert_int_equal(mxg_utf8_valid("\xc3\xa9", 1), 0);
}

/* The keys of case and +detail variants are the one key. */
static void test_rcpt_key(void **state)
{
	static const char *const same[] = {
		"user@example.com", "User@Example.COM", "<USER@example.com>",
		"user+list@example.com", "<User+x+y@EXAMPLE.com.>",
	};
	struct mxg_hash_key key = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	char out[MXG_RCPT_BUF];
	__u64 first = 0;
	__u32 at;

	for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
		int len = normalize(same[i], strlen(same[i]), "+", out, &at);

		assert_int_equal(len, 16);
		assert_int_equal(mxg_rcpt_key(&key, out, len),
				 mxg_siphash(&key, (const __u8 *)out, len));
		if (!i)
			first = mxg_rcpt_key(&key, out, len);
		assert_int_equal(mxg_rcpt_key(&key, out, len), first);
	}
	assert_int_equal(normalize("other@example.com", 17, "+", out, &at), 17);
	assert_int_not_equal(mxg_rcpt_key(&key, out, 17), first);
	/* The key is the key: another one gives another hash. */
	key.k1 ^= 1;
	assert_int_equal(normalize("user@example.com", 16, "+", out, &at), 16);
	assert_int_not_equal(mxg_rcpt_key(&key, out, 16), first);
}

/* mxg_domain_key() hashes in place; it must equal hashing the domain in a
 * zeroed buffer of its own. */
static void test_domain_key(void **state)
{
	static const char *const addrs[] = {
		"a@b", "User@Example.COM.", "x+y@sub.example.org",
		"\"q@r\"@d.example", "a@b@c.example", "a@0123456",
		"a@01234567", "a@012345678", "abcdefg@0123456789abcdef",
	};
	struct mxg_hash_key key = { 0x1111111111111111ULL, 0x2222222222222222ULL };
	char out[MXG_RCPT_BUF], in[MXG_RCPT_BUF + 1];
	__u8 dom[MXG_RCPT_BUF];
	__u32 at;

	for (size_t i = 0; i < ARRAY_SIZE(addrs) + 64; i++) {
		const char *a = addrs[i % ARRAY_SIZE(addrs)];
		int len;

		if (i >= ARRAY_SIZE(addrs)) {
			/* Domains of every length up to the maximum,
			 * their ends in every position of a block. */
			size_t total = 3 + rng() % (MXG_RCPT_MAX - 2);
			size_t local = 1 + rng() % (total - 2);

			memset(in, 'd', total);
			memset(in, 'l', local);
			in[local] = '@';
			in[total] = 0;
			a = in;
		}
		len = normalize(a, strlen(a), "+", out, &at);
		assert_true(len > 0);
		memset(dom, 0, sizeof(dom));
		memcpy(dom, out + at + 1, len - at - 1);
		assert_int_equal(mxg_domain_key(&key, out, len, at),
				 mxg_siphash(&key, dom, len - at - 1));
	}
	assert_int_equal(normalize("Someone+x@Example.COM.", 22, "+", out, &at), 19);
	memset(dom, 0, sizeof(dom));
	memcpy(dom, "example.com", 11);
	assert_int_equal(mxg_domain_key(&key, out, 19, at),
			 mxg_siphash(&key, dom, 11));
	/* Outside the contract (at not before len): the empty domain. */
	memset(dom, 0, sizeof(dom));
	assert_int_equal(mxg_domain_key(&key, out, 19, 19),
			 mxg_siphash(&key, dom, 0));
	assert_int_equal(mxg_domain_key(&key, out, 19, 200),
			 mxg_siphash(&key, dom, 0));
}

#define SEC 1000000000ULL

static void test_mirror_ready(void **state)
{
	struct mxg_mirror m = { 0 };

	/* never synced, empty */
	assert_int_equal(mxg_mirror_ready(&m, 100 * SEC), 0);
	/* synced but empty: an empty directory answer is not a mirror */
	m.synced_ns = 100 * SEC;
	m.max_age_ns = 60 * SEC;
	assert_int_equal(mxg_mirror_ready(&m, 101 * SEC), 0);
	/* entries but never synced */
	m.entries = 10;
	m.synced_ns = 0;
	assert_int_equal(mxg_mirror_ready(&m, 101 * SEC), 0);
	/* fresh, up to and including max_age */
	m.synced_ns = 100 * SEC;
	assert_int_equal(mxg_mirror_ready(&m, 100 * SEC), 1);
	assert_int_equal(mxg_mirror_ready(&m, 101 * SEC), 1);
	assert_int_equal(mxg_mirror_ready(&m, 160 * SEC), 1);
	/* stale */
	assert_int_equal(mxg_mirror_ready(&m, 160 * SEC + 1), 0);
	assert_int_equal(mxg_mirror_ready(&m, ~0ULL), 0);
	/* a clock read before the sync was recorded is not staleness */
	assert_int_equal(mxg_mirror_ready(&m, 99 * SEC), 1);
	assert_int_equal(mxg_mirror_ready(&m, 0), 1);
	m.entries = 0;
	assert_int_equal(mxg_mirror_ready(&m, 99 * SEC), 0);
	/* the other fields do not matter */
	m.entries = 1;
	m.connected = 0;
	m.mode = MXG_SYNC_NONE;
	m.generation = 0;
	assert_int_equal(mxg_mirror_ready(&m, 130 * SEC), 1);
	/* max_age 0: ready only within the same nanosecond */
	m.max_age_ns = 0;
	assert_int_equal(mxg_mirror_ready(&m, 100 * SEC), 1);
	assert_int_equal(mxg_mirror_ready(&m, 100 * SEC + 1), 0);
}

static void test_strerror(void **state)
{
	const char *seen[MXG_RCPT_EEMPTY + 1] = { 0 };

	for (int e = MXG_RCPT_ETOOLONG; e <= MXG_RCPT_EEMPTY; e++) {
		seen[e] = mxg_rcpt_strerror(-e);
		assert_non_null(seen[e]);
		assert_string_equal(seen[e], mxg_rcpt_strerror(e));
		assert_string_not_equal(seen[e], "unknown address error");
		for (int f = MXG_RCPT_ETOOLONG; f < e; f++)
			assert_string_not_equal(seen[e], seen[f]);
	}
	assert_string_equal(mxg_rcpt_strerror(-99), "unknown address error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_siphash_libsodium),
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_normalize_nul),
		cmocka_unit_test(test_normalize_length),
		cmocka_unit_test(test_normalize_model),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_rcpt_key),
		cmocka_unit_test(test_domain_key),
		cmocka_unit_test(test_mirror_ready),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
