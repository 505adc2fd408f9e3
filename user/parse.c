/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The strict value parsers behind the config file and every mxguardctl
 * argument. One implementation per kind of value, so that "10/s" or
 * "198.18.0.0/15" means the same thing everywhere; every parser refuses
 * empty input, signs, blanks, trailing junk and values out of range rather
 * than guessing what the operator meant.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/* Highest accepted rate. rate_milli is a u32 (4294967/s at most); one
 * million new connections per second per source is beyond any real limit
 * and leaves room. */
#define MXG_RATE_MAX_MILLI (1000000ULL * 1000)
/* Decimals accepted in a rate: enough for "0.001/s", and it keeps the
 * fixed-point arithmetic below far from overflow. */
#define MXG_RATE_MAX_DECIMALS 3

static bool is_all_digits(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Digits only, checked by hand first: strtoull itself would skip leading
 * blanks and accept a sign ("-1" wraps to UINT64_MAX). */
static int parse_digits(const char *s, size_t len, uint64_t *out)
{
	char buf[32];
	char *end;
	unsigned long long v;

	if (!is_all_digits(s, len))
		return -EINVAL;
	/* Longer than any u64, even with leading zeros stripped? */
	while (len > 1 && *s == '0') {
		s++;
		len--;
	}
	if (len >= sizeof(buf))
		return -ERANGE;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int mxg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int err;

	if (!s)
		return -EINVAL;
	err = parse_digits(s, strlen(s), &v);
	if (err)
		return err;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int mxg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int err;

	err = mxg_parse_u64(s, min, max, &v);
	if (err)
		return err;
	*out = (uint32_t)v;
	return 0;
}

int mxg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int mxg_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		       uint64_t *out_ns)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = {
		{ "", 1000000000ULL },	/* a bare number is seconds */
		{ "ms", 1000000ULL },
		{ "s", 1000000000ULL },
		{ "m", 60ULL * 1000000000ULL },
		{ "h", 3600ULL * 1000000000ULL },
		{ "d", 86400ULL * 1000000000ULL },
	};
	size_t ndigits, i;
	uint64_t v;
	int err;

	if (!s)
		return -EINVAL;
	ndigits = strspn(s, "0123456789");
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + ndigits, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return -EINVAL;
	err = parse_digits(s, ndigits, &v);
	if (err)
		return err;
	if (v > UINT64_MAX / units[i].ns)
		return -ERANGE;
	v *= units[i].ns;
	if (v < min_ns || v > max_ns)
		return -ERANGE;
	*out_ns = v;
	return 0;
}

/* A decimal "12" or "12.5" of s[0..len), with at most `decimals` digits
 * after the point, as an integer in units of 10^-decimals. */
static int parse_decimal(const char *s, size_t len, unsigned decimals,
			 uint64_t *out)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot ? (size_t)(dot - s) : len, flen = 0, k;
	uint64_t ipart, fpart = 0, scale = 1;
	int err;

	err = parse_digits(s, ilen, &ipart);
	if (err)
		return err;
	if (dot) {
		/* "5." and "5.1.2" are typos, not numbers */
		flen = len - ilen - 1;
		if (flen > decimals)
			return -EINVAL;
		err = parse_digits(dot + 1, flen, &fpart);
		if (err)
			return err;
	}
	for (k = 0; k < decimals; k++)
		scale *= 10;
	/* Far beyond any value here, and far from overflowing. */
	if (ipart > UINT32_MAX)
		return -ERANGE;
	for (k = flen; k < decimals; k++)
		fpart *= 10;
	*out = ipart * scale + fpart;
	return 0;
}

int mxg_parse_fixed(const char *s, unsigned decimals, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	uint64_t v;
	int err;

	if (!s || decimals > 6)
		return -EINVAL;
	err = parse_decimal(s, strlen(s), decimals, &v);
	if (err)
		return err;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int mxg_parse_rate(const char *s, uint32_t *rate_milli)
{
	static const struct {
		const char *suffix;
		uint64_t seconds;
	} units[] = {
		{ "", 1 }, { "/s", 1 }, { "/m", 60 }, { "/min", 60 },
		{ "/h", 3600 },
	};
	const char *num_end;
	uint64_t milli, v;
	size_t i;
	int err;

	if (!s)
		return -EINVAL;
	num_end = s + strspn(s, "0123456789.");
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(num_end, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return -EINVAL;
	err = parse_decimal(s, num_end - s, MXG_RATE_MAX_DECIMALS, &milli);
	if (err)
		return err;
	/* Below the least rate (0.001/s, 3.6/h) is refused, not rounded up
	 * to it: "2/h" would silently mean 3.6/h. The rest rounds to the
	 * nearest milli-connection per second. */
	if (milli < units[i].seconds)
		return -ERANGE;
	v = (milli + units[i].seconds / 2) / units[i].seconds;
	if (v > MXG_RATE_MAX_MILLI)
		return -ERANGE;
	*rate_milli = (uint32_t)v;
	return 0;
}

static bool is_v4_mapped(const uint8_t addr[MXG_ADDR_LEN])
{
	static const uint8_t prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return !memcmp(addr, prefix, sizeof(prefix));
}

int mxg_parse_addr(const char *s, uint8_t addr[MXG_ADDR_LEN], bool *is_v4)
{
	uint8_t buf[MXG_ADDR_LEN] = { 0 };

	if (!s || !*s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, buf + 12) == 1) {
		buf[10] = 0xff;
		buf[11] = 0xff;
		*is_v4 = true;
	} else if (inet_pton(AF_INET6, s, buf) == 1) {
		*is_v4 = false;
	} else {
		return -EINVAL;
	}
	memcpy(addr, buf, MXG_ADDR_LEN);
	return 0;
}

int mxg_parse_cidr(const char *s, struct mxg_lpm_key *key)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	uint8_t addr[MXG_ADDR_LEN];
	uint32_t len;
	size_t hlen;
	unsigned bit;
	bool v4;
	int err;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	hlen = slash ? (size_t)(slash - s) : strlen(s);
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	err = mxg_parse_addr(host, addr, &v4);
	if (err)
		return err;
	if (slash) {
		err = mxg_parse_u32(slash + 1, 0, v4 ? 32 : 128, &len);
		if (err)
			return err;
	} else {
		len = v4 ? 32 : 128;
	}
	if (v4)
		len += MXG_V4_MAPPED_BITS;

	/* Host bits set mean the operator wrote something other than what
	 * the trie would match; refuse instead of silently masking. */
	for (bit = len; bit < MXG_ADDR_LEN * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;

	key->prefixlen = len;
	memcpy(key->addr, addr, MXG_ADDR_LEN);
	return 0;
}

void mxg_format_addr(const uint8_t addr[MXG_ADDR_LEN], char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if (is_v4_mapped(addr))
		inet_ntop(AF_INET, addr + 12, tmp, sizeof(tmp));
	else
		inet_ntop(AF_INET6, addr, tmp, sizeof(tmp));
	snprintf(buf, len, "%s", tmp);
}

void mxg_format_cidr(const struct mxg_lpm_key *key, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!len)
		return;
	/* A mapped key shorter than /96 covers more than IPv4: print it as
	 * the IPv6 prefix it is. */
	if (is_v4_mapped(key->addr) && key->prefixlen >= MXG_V4_MAPPED_BITS) {
		inet_ntop(AF_INET, key->addr + 12, tmp, sizeof(tmp));
		snprintf(buf, len, "%s/%u", tmp,
			 key->prefixlen - MXG_V4_MAPPED_BITS);
	} else {
		inet_ntop(AF_INET6, key->addr, tmp, sizeof(tmp));
		snprintf(buf, len, "%s/%u", tmp, key->prefixlen);
	}
}

struct ports_ctx {
	uint16_t *ports;
	unsigned max;
	unsigned n;
};

static int add_port(const char *item, void *data)
{
	struct ports_ctx *ctx = data;
	uint32_t port;
	unsigned i;
	int err;

	err = mxg_parse_u32(item, 1, 65535, &port);
	if (err)
		return err;
	for (i = 0; i < ctx->n; i++)
		if (ctx->ports[i] == port)
			return -EINVAL;
	if (ctx->n >= ctx->max)
		return -ERANGE;
	ctx->ports[ctx->n++] = (uint16_t)port;
	return 0;
}

int mxg_parse_ports(const char *s, uint16_t *ports, unsigned max, unsigned *n)
{
	struct ports_ctx ctx = { .ports = ports, .max = max };
	int err;

	if (!s)
		return -EINVAL;
	err = mxg_foreach_item(s, add_port, &ctx);
	if (err)
		return err;
	if (!ctx.n)
		return -EINVAL;
	*n = ctx.n;
	return 0;
}

int mxg_foreach_item(const char *s, int (*fn)(const char *item, void *ctx),
		     void *ctx)
{
	static const char seps[] = ", \t";
	char *copy, *item, *next;
	int err = 0;

	if (!s)
		return -EINVAL;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (item = copy; *item; item = next) {
		item += strspn(item, seps);
		if (!*item)
			break;
		next = item + strcspn(item, seps);
		if (*next)
			*next++ = '\0';
		err = fn(item, ctx);
		if (err < 0)
			break;
		err = 0;
	}
	free(copy);
	return err;
}

int mxg_check_class_name(const char *s)
{
	size_t len;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (!len || len >= MXG_CLASS_NAME_LEN)
		return -EINVAL;
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
		return -EINVAL;
	return 0;
}

static bool is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

int mxg_check_domain(const char *s, const char **why)
{
	size_t len, label = 0;

	*why = "empty";
	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return -EINVAL;
	if (len > 253) {
		*why = "longer than 253 characters";
		return -EINVAL;
	}
	/* One pass; the end is read as one more dot, closing the last label. */
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (!label) {
				*why = "an empty label (a dot at the start or two in a row)";
				return -EINVAL;
			}
			if (s[i - 1] == '-') {
				*why = "a label ending in '-'";
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (!is_ldh(c)) {
			*why = "a character other than A-Z a-z 0-9 - .";
			return -EINVAL;
		}
		if (c == '-' && !label) {
			*why = "a label beginning with '-'";
			return -EINVAL;
		}
		if (++label > 63) {
			*why = "a label of more than 63 characters";
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- LDAP filters (RFC 4515) ------------------------------------------- */

/* Deeper than any filter a person writes; bounds the recursion. */
#define FILTER_DEPTH_MAX 32

struct filter_cursor {
	const char *s;
	size_t i;
	const char *why;
};

static int filter_fail(struct filter_cursor *c, const char *why)
{
	c->why = why;
	return -EINVAL;
}

/* An attribute description (options allowed) or a matching rule (not):
 * a name (ALPHA, then A-Z a-z 0-9 -) or a numeric OID (digits and single
 * dots, no dot at the end), then ";option"s of A-Z a-z 0-9 -. As
 * libldap's ldap_is_desc(). */
static bool is_attr_char(char ch)
{
	return is_ldh(ch) || ch == '.' || ch == ';';
}

static bool valid_desc(const char *a, size_t len, bool options)
{
	const char *opt = memchr(a, ';', len);
	size_t tlen = opt ? (size_t)(opt - a) : len;
	bool name = (a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z');

	if (!tlen || (opt && !options))
		return false;
	if (!name && !(a[0] >= '0' && a[0] <= '9'))
		return false;
	for (size_t i = 1; i < tlen; i++) {
		if (name ? !is_ldh(a[i]) :
			   a[i] == '.' ? a[i - 1] == '.' : !(a[i] >= '0' && a[i] <= '9'))
			return false;
	}
	if (!name && a[tlen - 1] == '.')
		return false;
	/* Each option: one or more of A-Z a-z 0-9 -. */
	for (size_t i = tlen; i < len; i++)
		if (a[i] == ';' ? i + 1 == len || a[i + 1] == ';' : !is_ldh(a[i]))
			return false;
	return true;
}

/* The left side of an extensible match, "ATTR[:dn][:RULE]:" or
 * "[:dn]:RULE:", at s[0..len) with its last ':'. */
static bool valid_extensible(const char *s, size_t len)
{
	const char *p = s, *end = s + len - 1, *tok[3];
	size_t tlen[3];
	unsigned n = 0, i = 1;
	bool rule = false;

	for (;;) {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (n == 3)
			return false;
		tok[n] = p;
		tlen[n++] = (size_t)((colon ? colon : end) - p);
		if (!colon)
			break;
		p = colon + 1;
	}
	if (tlen[0] && !valid_desc(tok[0], tlen[0], true))
		return false;
	if (i < n && tlen[i] == 2 && !strncasecmp(tok[i], "dn", 2))
		i++;
	if (i < n) {
		if (!valid_desc(tok[i], tlen[i], false))
			return false;
		rule = true;
		i++;
	}
	return i == n && (tlen[0] || rule);
}

/* One item: ATTR OP VALUE, at c->i, up to (not past) its ')'. */
static int filter_item(struct filter_cursor *c)
{
	const char *s = c->s;
	size_t start = c->i, end;
	bool ext, star = false;
	char op;

	while (is_attr_char(s[c->i]) || s[c->i] == ':')
		c->i++;
	end = c->i;
	op = s[c->i];
	if (op == '~' || op == '>' || op == '<') {
		if (s[c->i + 1] != '=')
			return filter_fail(c, "no '=' after '~', '>' or '<'");
		c->i += 2;
	} else if (op == '=') {
		c->i++;
	} else {
		return filter_fail(c, end == start ?
				   "neither an attribute nor &, | or ! after '('" :
				   "no operator (=, ~=, >=, <=) after the attribute");
	}
	if (end == start) {
		c->i = start;
		return filter_fail(c, "no attribute before the operator");
	}
	ext = memchr(s + start, ':', end - start) != NULL;
	if (ext ? op != '=' || s[end - 1] != ':' ||
		  !valid_extensible(s + start, end - start) :
		  !valid_desc(s + start, end - start, true)) {
		c->i = start;
		return filter_fail(c, ext ? "not an extensible match (ATTR[:dn][:RULE]:=VALUE)" :
				   "not an attribute name before the operator");
	}
	for (;;) {
		char ch = s[c->i];

		if (!ch)
			return filter_fail(c, "no ')' at the end (unbalanced parentheses)");
		if (ch == ')')
			break;
		if (ch == '(')
			return filter_fail(c, "'(' in a value (write it as \\28)");
		if (ch == '\\') {
			if (isxdigit((unsigned char)s[c->i + 1]) &&
			    isxdigit((unsigned char)s[c->i + 2]))
				c->i += 3;
			else if (s[c->i + 1] && strchr("*()\\", s[c->i + 1]))
				c->i += 2;
			else
				return filter_fail(c, "'\\' not followed by two hex digits");
			continue;
		}
		/* RFC 4515 would allow "**"; libldap refuses it. */
		if (ch == '*' && star && s[c->i - 1] == '*')
			return filter_fail(c, "'**' in a value");
		star |= ch == '*';
		c->i++;
	}
	if (star && (op != '=' || ext))
		return filter_fail(c, "'*' in the value of a ~=, >=, <= or extensible match (write it as \\2a)");
	return 0;
}

static void filter_blanks(struct filter_cursor *c)
{
	/* libldap reads blanks after a '(' and between the filters of a
	 * list, so they are allowed there; nowhere else. */
	while (c->s[c->i] == ' ')
		c->i++;
}

static int filter_one(struct filter_cursor *c, unsigned depth)
{
	int ret = 0;

	if (c->s[c->i] != '(')
		return filter_fail(c, c->s[c->i] ? "'(' expected" :
				   "no ')' at the end (unbalanced parentheses)");
	if (depth >= FILTER_DEPTH_MAX)
		return filter_fail(c, "nested more than 32 deep");
	c->i++;
	filter_blanks(c);
	switch (c->s[c->i]) {
	case ')':
		return filter_fail(c, "an empty '()'");
	case '&':
	case '|':
		/* "(&)" and "(|)" are true and false (RFC 4526). */
		c->i++;
		for (filter_blanks(c); !ret && c->s[c->i] == '('; filter_blanks(c))
			ret = filter_one(c, depth + 1);
		break;
	case '!':
		c->i++;
		filter_blanks(c);
		ret = filter_one(c, depth + 1);
		break;
	default:
		ret = filter_item(c);
	}
	if (ret)
		return ret;
	if (c->s[c->i] != ')')
		return filter_fail(c, c->s[c->i] ? "')' expected" :
				   "no ')' at the end (unbalanced parentheses)");
	c->i++;
	return 0;
}

int mxg_check_ldap_filter(const char *s, const char **why, size_t *pos)
{
	struct filter_cursor c = { .s = s };
	int ret;

	if (!s || !*s) {
		*why = "empty";
		*pos = 0;
		return -EINVAL;
	}
	ret = filter_one(&c, 0);
	if (!ret && s[c.i])
		ret = filter_fail(&c, s[c.i] == ')' ? "a ')' without its '(' (unbalanced parentheses)" :
				  "text after the last ')'");
	if (ret) {
		*why = c.why;
		*pos = c.i;
	}
	return ret;
}

int mxg_parse_listen(const char *s, struct mxg_listen_addr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h = s;
	size_t hlen;
	uint32_t port;
	bool v4;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		/* [IPv6]:PORT: the brackets say where the address ends. */
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		/* An IPv6 address needs its brackets: "::1:80" is ambiguous. */
		if (memchr(s, ':', hlen))
			return -EINVAL;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (mxg_parse_addr(host, out->addr, &v4))
		return -EINVAL;
	/* Brackets hold IPv6 only, and IPv4 goes without. */
	if (v4 == (*s == '['))
		return -EINVAL;
	if (mxg_parse_u32(colon + 1, 1, 65535, &port))
		return -EINVAL;
	out->is_v4 = v4;
	out->port = (uint16_t)port;
	return 0;
}
