/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the load generators (synflood, connflood, smtpflood, legit) share:
 * the one rule that keeps their traffic inside the lab (destinations and
 * spoofed sources only in 198.18.0.0/15 or 2001:db8::/32, the ranges
 * reserved for benchmarks and documentation), option parsing through
 * mxguard's strict parsers, a monotonic clock, a small PRNG and the
 * reading of SMTP replies.
 *
 * Header-only on purpose: each tool is one file plus this, built by the
 * Makefile's tools/NAME.c rule, which has the headers in tools/ as
 * prerequisites.
 */
#ifndef MXG_LOADGEN_H
#define MXG_LOADGEN_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "parse.h"

/* Every tool stops at the first of its count and time bounds; these cap
 * what a command line may ask for, so a typo cannot run for hours. */
#define LG_MAX_SECONDS 600
#define LG_MAX_COUNT 1000000000ULL

struct lg_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t a16[16];	/* IPv4 mapped into ::ffff:0:0/96, as mxguard keys */
	bool v4;
};

/* 198.18.0.0/15 (RFC 2544) or 2001:db8::/32 (RFC 3849): nothing a lab
 * packet is addressed to, or pretends to come from, can be a real host. */
static inline bool lg_addr_in_lab(const uint8_t a[16], bool v4)
{
	static const uint8_t doc6[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	if (v4)
		return a[12] == 198 && (a[13] & 0xfe) == 18;
	return !memcmp(a, doc6, sizeof(doc6));
}

/* Fill in out->ss and out->len from out->a16 and out->v4, with PORT. */
static inline void lg_addr_set(struct lg_addr *out, uint16_t port)
{
	if (out->v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, out->a16 + 12, 4);
		out->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, out->a16, 16);
		out->len = sizeof(*sin6);
	}
}

/* Parse ADDR (IPv4 or IPv6 literal) with PORT into *out; -EINVAL when it
 * is not an address, -EPERM when it is outside the lab ranges. */
static inline int lg_parse_lab_addr(const char *s, uint16_t port, struct lg_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (mxg_parse_addr(s, out->a16, &out->v4))
		return -EINVAL;
	if (!lg_addr_in_lab(out->a16, out->v4))
		return -EPERM;
	lg_addr_set(out, port);
	return 0;
}

/* Source number I of a range that starts at BASE, as the load generators
 * spread theirs: IPv4 BASE + I; IPv6 BASE with I added to bits 32..63, one
 * /64 each (mxguard's default source prefix: each one a source of its
 * own). Writes it to out (IPv4 mapped, as a16); -ERANGE when it would
 * carry out of those bits or leave the lab ranges. */
static inline int lg_source_nth(const uint8_t base[16], bool v4, uint64_t i, uint8_t out[16])
{
	size_t off = v4 ? 12 : 4;
	uint32_t field;
	uint64_t v;

	memcpy(out, base, 16);
	memcpy(&field, out + off, 4);
	v = (uint64_t)ntohl(field) + i;
	if (v > 0xffffffffULL)
		return -ERANGE;
	field = htonl((uint32_t)v);
	memcpy(out + off, &field, 4);
	return lg_addr_in_lab(out, v4) ? 0 : -ERANGE;
}

/* The message every tool prints for a refused address. */
static inline int lg_check_addr(const char *tool, const char *what, const char *s,
				uint16_t port, struct lg_addr *out)
{
	int err = lg_parse_lab_addr(s, port, out);

	if (err == -EINVAL)
		fprintf(stderr, "%s: %s '%s' is not an IPv4 or IPv6 address\n", tool, what, s);
	else if (err == -EPERM)
		fprintf(stderr, "%s: refusing %s %s: outside 198.18.0.0/15 and 2001:db8::/32\n",
			tool, what, s);
	return err;
}

/* An unsigned option in [min, max] through mxguard's strict parser. */
static inline int lg_opt_u64(const char *tool, char opt, const char *s, uint64_t min,
			     uint64_t max, uint64_t *out)
{
	int err = mxg_parse_u64(s, min, max, out);

	if (err)
		fprintf(stderr, "%s: -%c '%s': %s (expected %llu..%llu)\n", tool, opt, s,
			err == -ERANGE ? "out of range" : "not a number",
			(unsigned long long)min, (unsigned long long)max);
	return err;
}

/* A duration option ("6", "6s", "250ms"), between 1 ms and LG_MAX_SECONDS. */
static inline int lg_opt_duration(const char *tool, char opt, const char *s, uint64_t *ns)
{
	int err = mxg_parse_duration(s, 1000000ULL, LG_MAX_SECONDS * 1000000000ULL, ns);

	if (err)
		fprintf(stderr, "%s: -%c '%s': not a duration between 1ms and %ds\n", tool, opt,
			s, LG_MAX_SECONDS);
	return err;
}

/* The options every load generator takes: -p PORT, -c COUNT, -t DURATION. */
struct lg_common {
	uint64_t *port, *count, *dur_ns;
	uint64_t count_max;
};

/* The getopt default case of every load generator: 0 when opt was one of
 * the common options and is set; otherwise non-zero (exit with 2), a bad
 * value or an unknown option having been said on stderr (the latter with
 * the tool's usage). */
static inline int lg_common_opt(const char *tool, int opt, const char *arg,
				const struct lg_common *c, void (*usage)(FILE *))
{
	switch (opt) {
	case 'p':
		return lg_opt_u64(tool, 'p', arg, 1, 65535, c->port);
	case 'c':
		return lg_opt_u64(tool, 'c', arg, 1, c->count_max, c->count);
	case 't':
		return lg_opt_duration(tool, 't', arg, c->dur_ns);
	default:
		usage(stderr);
		return 1;
	}
}

/* SMTP replies (RFC 5321 4.2): "CODE-text" lines continue a reply, the
 * "CODE text" (or bare "CODE") line ends it. Takes one complete reply off
 * the front of buf[0..*len) and returns its code; 0 when its last line has
 * not arrived yet (nothing consumed past the lines read); 999 for a last
 * line that is not a reply, which ends any session. When last is given,
 * the reply's last line, CR LF stripped, is copied into it (truncated). */
static inline int lg_smtp_take_reply(char *buf, size_t *len, char *last, size_t last_size)
{
	char *eol;

	while ((eol = memchr(buf, '\n', *len))) {
		size_t linelen = (size_t)(eol - buf) + 1;
		bool end = linelen < 5 || buf[3] != '-';
		int code = 0;

		if (linelen >= 4 && buf[0] >= '2' && buf[0] <= '5' && buf[1] >= '0' &&
		    buf[1] <= '9' && buf[2] >= '0' && buf[2] <= '9')
			code = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
		if (end && last && last_size) {
			size_t n = linelen - 1;

			if (n && buf[n - 1] == '\r')
				n--;
			if (n >= last_size)
				n = last_size - 1;
			memcpy(last, buf, n);
			last[n] = '\0';
		}
		memmove(buf, eol + 1, *len - linelen);
		*len -= linelen;
		if (end)
			return code ? code : 999;
	}
	return 0;
}

static inline uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough for ports, sequence numbers and
 * recipient names; not for anything secret. */
static inline uint64_t lg_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t lg_seed(void)
{
	uint64_t s = lg_now_ns() ^ ((uint64_t)getpid() << 32);

	return s ? s : 1;
}

#endif
