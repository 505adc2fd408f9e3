/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one strict parser per kind of value, shared by the config file and
 * every mxguardctl command. Each returns 0 or -EINVAL / -ERANGE and never
 * accepts empty input, leading or trailing junk, or a value out of range.
 */
#ifndef MXG_PARSE_H
#define MXG_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include "mxguard.h"

/* Decimal unsigned integer in [min, max]; no sign, no spaces, no hex. */
int mxg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int mxg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* yes/no/true/false/on/off/1/0, case-insensitive. */
int mxg_parse_bool(const char *s, bool *out);

/* Duration: "30", "30s", "5m", "2h", "1d", "250ms" -> nanoseconds, in
 * [min_ns, max_ns]. A bare number is seconds. */
int mxg_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		       uint64_t *out_ns);

/* A decimal number with at most `decimals` digits after the point
 * ("0.5", "12", "12.25"), as an integer in units of 10^-decimals (0.5
 * with 3 decimals is 500), in [min, max] of those units. */
int mxg_parse_fixed(const char *s, unsigned decimals, uint64_t min,
		    uint64_t max, uint64_t *out);

/* Rate of new connections: "10" or "10/s", "30/m" or "30/min", "100/h";
 * decimals allowed ("0.5/s"); stored as per-second * 1000 (rate_milli),
 * must be >= 1 (0.001/s) and <= 1,000,000/s. */
int mxg_parse_rate(const char *s, uint32_t *rate_milli);

/* Address: IPv4 dotted quad or IPv6; IPv4 is mapped into ::ffff:0:0/96.
 * *is_v4 tells which was written. */
int mxg_parse_addr(const char *s, uint8_t addr[MXG_ADDR_LEN], bool *is_v4);

/* CIDR: "ADDR" (a host) or "ADDR/LEN"; host bits must be zero
 * ("198.18.0.1/24" is refused: the operator meant something else).
 * IPv4 /n becomes /(96+n) in the key. */
int mxg_parse_cidr(const char *s, struct mxg_lpm_key *key);

/* Print a key back as the operator wrote it ("198.18.0.0/15",
 * "2001:db8::/32"); buf must hold MXG_CIDR_STRLEN. */
#define MXG_CIDR_STRLEN 64
void mxg_format_cidr(const struct mxg_lpm_key *key, char *buf, size_t len);
/* Address alone, IPv4-mapped printed as IPv4. */
void mxg_format_addr(const uint8_t addr[MXG_ADDR_LEN], char *buf, size_t len);

/* Where to listen: "ADDR:PORT" with an IPv4 address, "[ADDR]:PORT"
 * with an IPv6 one (brackets required, as in URLs); port 1..65535. An
 * IPv4 address is mapped into ::ffff:0:0/96 in addr. */
struct mxg_listen_addr {
	uint8_t addr[MXG_ADDR_LEN];
	bool is_v4;
	uint16_t port;
};
int mxg_parse_listen(const char *s, struct mxg_listen_addr *out);

/* Port list: "25, 465,587" or "25 465 587"; ports 1..65535, no duplicates.
 * Fills ports[] and *n (at most max). */
int mxg_parse_ports(const char *s, uint16_t *ports, unsigned max, unsigned *n);

/* Split a list value at commas and/or blanks; calls fn for each non-empty
 * item, stopping at the first negative return, which it returns. */
int mxg_foreach_item(const char *s, int (*fn)(const char *item, void *ctx),
		     void *ctx);

/* Class name: [a-z0-9_-], 1..MXG_CLASS_NAME_LEN-1 characters. */
int mxg_check_class_name(const char *s);

/* Domain name: dot-separated labels of 1..63 of A-Z a-z 0-9 -, none
 * beginning or ending with '-', at most 253 characters; one trailing dot
 * (the root) is allowed. On -EINVAL *why says what is wrong. */
int mxg_check_domain(const char *s, const char **why);

/* LDAP search filter (RFC 4515, with RFC 4526's "(&)" and "(|)" and the
 * RFC 1960 escapes \*, \(, \), \\ that libldap still reads):
 * balanced parentheses, an attribute before each operator, no empty "()",
 * nothing after the last ')'. On -EINVAL *why says what is wrong and *pos
 * where (0-based). */
int mxg_check_ldap_filter(const char *s, const char **why, size_t *pos);

#endif
