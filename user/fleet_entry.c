/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fleet's entries, read and named (see fleet_entry.h). A peer's entry
 * is untrusted input: it is parsed whole, with the project's own CIDR and
 * class-name parsers, and refused with one line naming it and the cause
 * before any of it is used. DNs go through libldap's own parser and
 * printer, so RFC 4514's escaping is libldap's, never a copy of it here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ldap.h>

#include "fleet_entry.h"
#include "parse.h"

/* Untrusted text is quoted in a message up to about this many characters
 * (then "..."): one line, of bounded length. A byte takes at most 4
 * ("\x0a"), so the last may pass the bound by 3, then "..." and NUL. */
#define QUOTE_MAX 64
#define QUOTE_BUF (QUOTE_MAX + 3 + 3 + 1)
/* "cn=PREFIX under cn=HOST", both quoted. */
#define NAME_BUF (2 * QUOTE_BUF + 16)
/* A ban is cn=PREFIX,cn=HOST,BASE: two RDNs below the base. */
#define BAN_DEPTH 2
/* 9999-12-31T23:59:59Z: the last second a four-digit year can write. */
#define TIME_MAX_S 253402300799ULL

static int say(char *why, size_t whylen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *why, size_t whylen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Printable ASCII stays, '\' and every other byte become "\xNN": a value
 * with a line end or a terminal escape cannot split or forge a log line. */
static const char *quote(const char *p, size_t len, char buf[QUOTE_BUF])
{
	size_t i, w = 0;

	for (i = 0; i < len && w < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[w++] = (char)c;
		else
			w += (size_t)sprintf(buf + w, "\\x%02x", c);
	}
	if (i < len) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w] = '\0';
	return buf;
}

static const char *quote_bv(const struct berval *bv, char buf[QUOTE_BUF])
{
	return quote(bv->bv_val, bv->bv_len, buf);
}

static unsigned count_values(struct berval **v)
{
	unsigned n = 0;

	while (v && v[n])
		n++;
	return n;
}

static size_t count_rdns(LDAPDN dn)
{
	size_t n = 0;

	while (dn && dn[n])
		n++;
	return n;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Two string values as caseIgnoreMatch sees them (cn, ou, dc, o...): case
 * folded, blanks at either end ignored, a run of blanks one blank. */
static bool same_text(const struct berval *a, const struct berval *b)
{
	size_t i = 0, j = 0, ea = a->bv_len, eb = b->bv_len;
	const char *x = a->bv_val, *y = b->bv_val;

	while (i < ea && x[i] == ' ')
		i++;
	while (ea > i && x[ea - 1] == ' ')
		ea--;
	while (j < eb && y[j] == ' ')
		j++;
	while (eb > j && y[eb - 1] == ' ')
		eb--;
	while (i < ea && j < eb) {
		if (x[i] == ' ' && y[j] == ' ') {
			while (i < ea && x[i] == ' ')
				i++;
			while (j < eb && y[j] == ' ')
				j++;
			continue;
		}
		if (ascii_lower(x[i]) != ascii_lower(y[j]))
			return false;
		i++;
		j++;
	}
	return i == ea && j == eb;
}

static bool same_attr(const struct berval *a, const char *name)
{
	return a->bv_len == strlen(name) && !strncasecmp(a->bv_val, name, a->bv_len);
}

/* RDNs as a directory compares them, without its schema: attribute types
 * case-insensitive, values as same_text(), a "#hex" value byte for byte.
 * Attribute types given as OIDs ("2.5.4.3=") are not resolved. */
static bool same_rdn(LDAPRDN a, LDAPRDN b)
{
	size_t i;

	for (i = 0; a[i] && b[i]; i++) {
		const LDAPAVA *x = a[i], *y = b[i];
		bool binary = x->la_flags & LDAP_AVA_BINARY;

		if (x->la_attr.bv_len != y->la_attr.bv_len ||
		    strncasecmp(x->la_attr.bv_val, y->la_attr.bv_val, x->la_attr.bv_len))
			return false;
		if (binary != !!(y->la_flags & LDAP_AVA_BINARY))
			return false;
		if (binary ? x->la_value.bv_len != y->la_value.bv_len ||
			     memcmp(x->la_value.bv_val, y->la_value.bv_val, x->la_value.bv_len) :
			     !same_text(&x->la_value, &y->la_value))
			return false;
	}
	return !a[i] && !b[i];
}

/* The RDN is one "cn=" string value; its AVA. */
static const LDAPAVA *single_cn(LDAPRDN rdn)
{
	if (!rdn[0] || rdn[1] || !same_attr(&rdn[0]->la_attr, "cn") ||
	    (rdn[0]->la_flags & LDAP_AVA_BINARY))
		return NULL;
	return rdn[0];
}

bool mxg_fleet_host_valid(const char *host)
{
	size_t len;

	if (!host)
		return false;
	len = strlen(host);
	return len >= 1 && len < MXG_FLEET_HOST_LEN &&
	       strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789.-") == len;
}

/* ---- GeneralizedTime (RFC 4517 3.3.13), UTC only ---------------------- */

static bool leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (y >= 1970), proleptic Gregorian: a
 * year counted from March, so that the leap day is its last (H. Hinnant's
 * days_from_civil, unsigned since y >= 1970). */
static uint64_t days_since_epoch(unsigned y, unsigned m, unsigned d)
{
	uint64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int mxg_fleet_time_format(uint64_t s, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)s;

	if (!buf || len < MXG_FLEET_TIME_LEN || s > TIME_MAX_S ||
	    !gmtime_r(&t, &tm))
		return -EINVAL;
	snprintf(buf, len, "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/*
 * YYYYMMDDHH[MM[SS]][(.|,)FRACTION]Z, as RFC 4517 writes it; the fraction
 * (of the last field given) is dropped, which ends a ban early rather
 * than late. An offset (+0100) is refused rather than converted: every
 * guard writes Z, and a peer that does not is not one. 0 is refused: in
 * the entry it would read as "until removed".
 */
int mxg_fleet_time_parse(const char *s, size_t len, uint64_t *out)
{
	static const unsigned width[6] = { 4, 2, 2, 2, 2, 2 };
	unsigned f[6] = { 0 }, k;
	size_t i = 0;
	uint64_t t;

	if (!s)
		return -EINVAL;
	for (k = 0; k < 6; k++) {
		/* Minutes and seconds may be left out; the hour may not. */
		if (k > 3 && (i >= len || s[i] < '0' || s[i] > '9'))
			break;
		if (len - i < width[k])
			return -EINVAL;
		for (unsigned d = 0; d < width[k]; d++, i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			f[k] = f[k] * 10 + (unsigned)(s[i] - '0');
		}
	}
	if (i < len && (s[i] == '.' || s[i] == ',')) {
		if (++i >= len || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i + 1 != len || s[i] != 'Z')
		return -EINVAL;
	/* Second 60 is a leap second (RFC 4517): it reads as the next one. */
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 ||
	    f[2] > days_in_month(f[0], f[1]) || f[3] > 23 || f[4] > 59 ||
	    f[5] > 60)
		return -EINVAL;
	t = days_since_epoch(f[0], f[1], f[2]) * 86400 + f[3] * 3600ULL +
	    f[4] * 60ULL + f[5];
	if (!t)
		return -EINVAL;
	*out = t;
	return 0;
}

/* ---- One entry --------------------------------------------------------- */

/* The key with the bits past its length cleared. */
static void mask_key(struct mxg_lpm_key *key)
{
	for (unsigned bit = key->prefixlen; bit < MXG_ADDR_LEN * 8; bit++)
		key->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
}

/* The RDN's prefix, written as mxg_format_cidr() writes it, so that one
 * prefix has one DN in the whole fleet. */
static int parse_prefix(const struct berval *bv, const char *name,
			struct mxg_lpm_key *key, char *why, size_t whylen)
{
	char text[MXG_CIDR_STRLEN], canon[MXG_CIDR_STRLEN], q[QUOTE_BUF];
	const char *slash;
	bool v4;
	uint32_t len;

	if (!bv->bv_len || bv->bv_len >= sizeof(text) ||
	    memchr(bv->bv_val, '\0', bv->bv_len))
		return say(why, whylen, -EINVAL,
			   "%s: '%s' is not a prefix (ADDR/LEN)", name,
			   quote_bv(bv, q));
	memcpy(text, bv->bv_val, bv->bv_len);
	text[bv->bv_len] = '\0';
	if (!mxg_parse_cidr(text, key)) {
		mxg_format_cidr(key, canon, sizeof(canon));
		if (strcmp(canon, text))
			return say(why, whylen, -EINVAL,
				   "%s: prefix '%s' is not written as %s",
				   name, quote(text, strlen(text), q), canon);
		return 0;
	}
	/* Refused: host bits set, or no prefix at all? The same parsers,
	 * by part, tell them apart for the message. */
	slash = strchr(text, '/');
	if (slash) {
		memset(key, 0, sizeof(*key));
		text[slash - text] = '\0';
		if (!mxg_parse_addr(text, key->addr, &v4) &&
		    !mxg_parse_u32(slash + 1, 0, v4 ? 32 : 128, &len)) {
			key->prefixlen = len + (v4 ? MXG_V4_MAPPED_BITS : 0);
			mask_key(key);
			mxg_format_cidr(key, canon, sizeof(canon));
			text[slash - text] = '/';
			return say(why, whylen, -EINVAL,
				   "%s: prefix '%s' has host bits set (%s would be canonical)",
				   name, quote(text, strlen(text), q), canon);
		}
		text[slash - text] = '/';
	}
	return say(why, whylen, -EINVAL, "%s: '%s' is not a prefix (ADDR/LEN)",
		   name, quote(text, strlen(text), q));
}

static int parse_classes(struct berval **v, const char *name,
			 struct mxg_fleet_entry *e, char *why, size_t whylen)
{
	unsigned n = count_values(v);
	char q[QUOTE_BUF];

	if (!n)
		return say(why, whylen, -EINVAL, "%s: no %s", name,
			   MXG_FLEET_AT_CLASSES);
	if (n > MXG_MAX_CLASSES)
		return say(why, whylen, -EINVAL, "%s: %u %s values, at most %u",
			   name, n, MXG_FLEET_AT_CLASSES, MXG_MAX_CLASSES);
	for (unsigned i = 0; i < n; i++) {
		const struct berval *bv = v[i];
		char *c = e->classes[i];

		if (bv->bv_len >= MXG_CLASS_NAME_LEN ||
		    memchr(bv->bv_val, '\0', bv->bv_len))
			goto bad;
		memcpy(c, bv->bv_val, bv->bv_len);
		c[bv->bv_len] = '\0';
		if (mxg_check_class_name(c))
			goto bad;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(e->classes[j], c))
				return say(why, whylen, -EINVAL,
					   "%s: %s '%s' given twice", name,
					   MXG_FLEET_AT_CLASSES, c);
		continue;
bad:
		return say(why, whylen, -EINVAL,
			   "%s: %s '%s' is not a class name (1..%u of a-z 0-9 _ -)",
			   name, MXG_FLEET_AT_CLASSES, quote_bv(bv, q),
			   MXG_CLASS_NAME_LEN - 1);
	}
	e->nclasses = n;
	return 0;
}

static int parse_reason(struct berval **v, const char *name,
			struct mxg_fleet_entry *e, char *why, size_t whylen)
{
	unsigned n = count_values(v);
	const struct berval *bv;
	char q[QUOTE_BUF];

	if (n > 1)
		return say(why, whylen, -EINVAL,
			   "%s: %u %s values, at most one", name, n,
			   MXG_FLEET_AT_REASON);
	if (!n)
		return 0;
	bv = v[0];
	if (bv->bv_len >= MXG_FLEET_REASON_LEN)
		return say(why, whylen, -EINVAL,
			   "%s: %s '%s' is longer than %u characters", name,
			   MXG_FLEET_AT_REASON, quote_bv(bv, q),
			   MXG_FLEET_REASON_LEN - 1);
	for (size_t i = 0; i < bv->bv_len; i++) {
		unsigned char c = (unsigned char)bv->bv_val[i];

		if (c < 0x20 || c >= 0x7f)
			return say(why, whylen, -EINVAL,
				   "%s: %s '%s' has a byte other than printable ASCII",
				   name, MXG_FLEET_AT_REASON, quote_bv(bv, q));
	}
	memcpy(e->reason, bv->bv_val, bv->bv_len);
	e->reason[bv->bv_len] = '\0';
	return 0;
}

static int parse_expires(struct berval **v, const char *name,
			 struct mxg_fleet_entry *e, char *why, size_t whylen)
{
	unsigned n = count_values(v);
	char q[QUOTE_BUF];

	if (n > 1)
		return say(why, whylen, -EINVAL,
			   "%s: %u %s values, at most one", name, n,
			   MXG_FLEET_AT_EXPIRES);
	if (!n)
		return 0;
	if (mxg_fleet_time_parse(v[0]->bv_val, v[0]->bv_len, &e->expires_s))
		return say(why, whylen, -EINVAL,
			   "%s: %s '%s' is not a UTC time (YYYYMMDDHHMMSSZ, 1970 to 9999)",
			   name, MXG_FLEET_AT_EXPIRES, quote_bv(v[0], q));
	return 0;
}

/* cn=PREFIX (rdn), cn=HOST (parent): the DN is known to be a ban's. */
static int parse_ban(LDAPRDN rdn, LDAPRDN parent, const char *qdn,
		     const struct mxg_fleet_values *v,
		     struct mxg_fleet_entry *e, char *why, size_t whylen)
{
	const LDAPAVA *prefix = single_cn(rdn), *host = single_cn(parent);
	char name[NAME_BUF], q1[QUOTE_BUF], q2[QUOTE_BUF];
	struct mxg_fleet_entry out;
	unsigned ncn;
	int ret;

	if (!host)
		return say(why, whylen, -EINVAL,
			   "'%s': its parent is not a host's cn=HOST", qdn);
	if (!prefix)
		return say(why, whylen, -EINVAL,
			   "'%s': not named cn=PREFIX", qdn);
	snprintf(name, sizeof(name), "cn=%s under cn=%s",
		 quote_bv(&prefix->la_value, q1), quote_bv(&host->la_value, q2));

	memset(&out, 0, sizeof(out));
	if (host->la_value.bv_len >= sizeof(out.host) ||
	    memchr(host->la_value.bv_val, '\0', host->la_value.bv_len))
		goto bad_host;
	memcpy(out.host, host->la_value.bv_val, host->la_value.bv_len);
	if (!mxg_fleet_host_valid(out.host))
		goto bad_host;

	ret = parse_prefix(&prefix->la_value, name, &out.key, why, whylen);
	if (ret)
		return ret;
	/* The directory keeps the RDN's value among the cn values; another
	 * one would say something else about the entry than its name. */
	ncn = count_values(v->cn);
	if (ncn != 1)
		return say(why, whylen, -EINVAL, "%s: %u cn values, a ban has one",
			   name, ncn);
	if (v->cn[0]->bv_len != prefix->la_value.bv_len ||
	    memcmp(v->cn[0]->bv_val, prefix->la_value.bv_val, v->cn[0]->bv_len))
		return say(why, whylen, -EINVAL,
			   "%s: cn '%s' is not the prefix of the DN", name,
			   quote_bv(v->cn[0], q1));
	ret = parse_classes(v->classes, name, &out, why, whylen);
	if (!ret)
		ret = parse_reason(v->reason, name, &out, why, whylen);
	if (!ret)
		ret = parse_expires(v->expires, name, &out, why, whylen);
	if (ret)
		return ret;
	*e = out;
	return 0;

bad_host:
	return say(why, whylen, -EINVAL,
		   "%s: host '%s' is not a host name (1..%u of A-Z a-z 0-9 . -)",
		   name, quote_bv(&host->la_value, q1), MXG_FLEET_HOST_LEN - 1);
}

int mxg_fleet_entry_parse(const char *dn, const char *base,
			  const struct mxg_fleet_values *v,
			  struct mxg_fleet_entry *e, char *why, size_t whylen)
{
	LDAPDN edn = NULL, bdn = NULL;
	char qdn[QUOTE_BUF], qbase[QUOTE_BUF];
	size_t n, m, depth, k;
	int ret;

	if (whylen)
		why[0] = '\0';
	if (!dn || !base || !v || !e)
		return say(why, whylen, -EINVAL, "no entry");
	quote(dn, strlen(dn), qdn);
	quote(base, strlen(base), qbase);
	if (ldap_str2dn(base, &bdn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return say(why, whylen, -EINVAL,
			   "the fleet's base '%s' is not a DN", qbase);
	if (ldap_str2dn(dn, &edn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
		ret = say(why, whylen, -EINVAL, "'%s': not a DN", qdn);
		goto out;
	}
	n = count_rdns(edn);
	m = count_rdns(bdn);
	for (k = 0; n >= m && k < m; k++)
		if (!same_rdn(edn[n - m + k], bdn[k]))
			break;
	if (n < m || k < m) {
		ret = say(why, whylen, -EINVAL, "'%s': not under the fleet's base %s",
			  qdn, qbase);
		goto out;
	}
	depth = n - m;
	if (depth == BAN_DEPTH) {
		ret = parse_ban(edn[0], edn[1], qdn, v, e, why, whylen);
	} else if (depth > BAN_DEPTH) {
		ret = say(why, whylen, -EINVAL,
			  "'%s': %zu levels below the base, a ban is 2 (cn=PREFIX,cn=HOST,BASE)",
			  qdn, depth);
	} else if (count_values(v->classes)) {
		/* Written as a ban, in the wrong place: reported, not
		 * skipped as the base or a container is. */
		ret = say(why, whylen, -EINVAL,
			  "'%s': has %s but is %s, not cn=PREFIX,cn=HOST,BASE",
			  qdn, MXG_FLEET_AT_CLASSES,
			  depth ? "a host's container" : "the base itself");
	} else {
		ret = -ENOENT;
	}
out:
	ldap_dnfree(edn);
	ldap_dnfree(bdn);
	return ret;
}

/* ---- DNs this host writes ---------------------------------------------- */

/* cn=PREFIX (when prefix is not NULL), cn=HOST, BASE, printed by libldap
 * (RFC 4514 escaping; BASE reprinted as the same DN). */
static int build_dn(const char *prefix, const char *host, const char *base,
		    char *buf, size_t len)
{
	LDAPAVA ava[2] = { 0 };
	LDAPAVA *rdn[2][2] = { { &ava[0], NULL }, { &ava[1], NULL } };
	const char *value[2] = { prefix, host };
	LDAPDN bdn = NULL;
	LDAPRDN *dn;
	char *str = NULL;
	size_t m, i = 0;
	int ret;

	if (!mxg_fleet_host_valid(host) || !base || !buf)
		return -EINVAL;
	if (ldap_str2dn(base, &bdn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return -EINVAL;
	m = count_rdns(bdn);
	dn = calloc(m + 3, sizeof(*dn));
	if (!dn) {
		ldap_dnfree(bdn);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < 2; k++) {
		if (!value[k])
			continue;
		ava[k].la_attr.bv_val = (char *)"cn";
		ava[k].la_attr.bv_len = 2;
		ava[k].la_value.bv_val = (char *)value[k];
		ava[k].la_value.bv_len = strlen(value[k]);
		ava[k].la_flags = LDAP_AVA_STRING;
		dn[i++] = rdn[k];
	}
	for (size_t k = 0; k < m; k++)
		dn[i++] = bdn[k];
	if (ldap_dn2str(dn, &str, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !str)
		ret = -EINVAL;
	else if (strlen(str) >= len)
		ret = -ENAMETOOLONG;
	else {
		strcpy(buf, str);
		ret = 0;
	}
	ldap_memfree(str);
	free(dn);
	ldap_dnfree(bdn);
	return ret;
}

int mxg_fleet_host_dn(const char *host, const char *base, char *buf,
		      size_t len)
{
	return build_dn(NULL, host, base, buf, len);
}

int mxg_fleet_entry_dn(const struct mxg_fleet_entry *e, const char *base,
		       char *buf, size_t len)
{
	char prefix[MXG_CIDR_STRLEN];

	if (!e || e->key.prefixlen > MXG_ADDR_LEN * 8)
		return -EINVAL;
	mxg_format_cidr(&e->key, prefix, sizeof(prefix));
	return build_dn(prefix, e->host, base, buf, len);
}

/* ---- Admission --------------------------------------------------------- */

/* All of IPv4, as the maps hold it (::ffff:0:0/96). */
static const struct mxg_lpm_key v4_space = {
	.prefixlen = MXG_V4_MAPPED_BITS,
	.addr = { [10] = 0xff, [11] = 0xff },
};

/* outer holds every address of inner. */
static bool covers(const struct mxg_lpm_key *outer,
		   const struct mxg_lpm_key *inner)
{
	unsigned len = outer->prefixlen, bytes = len / 8;

	if (len > inner->prefixlen || len > MXG_ADDR_LEN * 8)
		return false;
	if (memcmp(outer->addr, inner->addr, bytes))
		return false;
	return !(len % 8) ||
	       !((outer->addr[bytes] ^ inner->addr[bytes]) &
		 (uint8_t)(0xff00 >> (len % 8)));
}

int mxg_fleet_admit(const struct mxg_fleet_entry *e,
		    const struct mxg_fleet_config *fc,
		    const char (*class_names)[MXG_CLASS_NAME_LEN],
		    unsigned nslots, const struct mxg_lpm_key *allow,
		    unsigned nallow, uint64_t now_s, uint32_t *class_mask,
		    char *why, size_t whylen)
{
	char name[NAME_BUF], cidr[MXG_CIDR_STRLEN], other[MXG_CIDR_STRLEN];
	char q[QUOTE_BUF], when[MXG_FLEET_TIME_LEN];
	unsigned width, widest;
	const char *key;
	uint32_t mask = 0;

	if (whylen)
		why[0] = '\0';
	if (!e || !fc || !class_mask || e->key.prefixlen > MXG_ADDR_LEN * 8)
		return say(why, whylen, -EINVAL, "no entry");
	mxg_format_cidr(&e->key, cidr, sizeof(cidr));
	snprintf(name, sizeof(name), "cn=%s under cn=%s", cidr,
		 quote(e->host, strnlen(e->host, sizeof(e->host)), q));

	/* An entry past its time does not apply whatever it says; the
	 * directory (dds) or its publisher removes it soon. */
	if (e->expires_s && e->expires_s <= now_s) {
		if (mxg_fleet_time_format(e->expires_s, when, sizeof(when)))
			snprintf(when, sizeof(when), "?");
		return say(why, whylen, -ESTALE, "%s: expired at %s", name, when);
	}

	if (covers(&v4_space, &e->key)) {
		width = e->key.prefixlen - MXG_V4_MAPPED_BITS;
		widest = fc->widest_ipv4_prefix;
		key = "widest_ipv4_prefix";
	} else {
		width = e->key.prefixlen;
		widest = fc->widest_ipv6_prefix;
		key = "widest_ipv6_prefix";
		/* An IPv6 prefix that holds ::ffff:0:0/96 bans every IPv4
		 * source as well: it is as wide as 0.0.0.0/0 there. */
		if (width >= widest && covers(&e->key, &v4_space) &&
		    fc->widest_ipv4_prefix > 0)
			return say(why, whylen, -EPERM,
				   "%s: holds all of IPv4 (::ffff:0:0/96), wider than [fleet] widest_ipv4_prefix %u",
				   name, fc->widest_ipv4_prefix);
	}
	if (width < widest)
		return say(why, whylen, -EPERM,
			   "%s: /%u is wider than [fleet] %s %u", name, width,
			   key, widest);

	/* The allow list wins both ways: a ban inside an allowed prefix, or
	 * one that would cover an allowed host. */
	for (unsigned i = 0; allow && i < nallow; i++) {
		bool inside = covers(&allow[i], &e->key);

		if (!inside && !covers(&e->key, &allow[i]))
			continue;
		mxg_format_cidr(&allow[i], other, sizeof(other));
		return say(why, whylen, -EPERM, "%s: %s allow-listed %s", name,
			   inside ? "inside" : "holds", other);
	}

	/* Class names, not slots: the same name may be another slot on
	 * another guard, and a class this guard lacks is not its business. */
	if (nslots > 32)
		nslots = 32;
	for (unsigned i = 0; i < e->nclasses && i < MXG_MAX_CLASSES; i++)
		for (unsigned s = 0; class_names && s < nslots; s++)
			if (class_names[s][0] &&
			    !strncmp(class_names[s], e->classes[i], MXG_CLASS_NAME_LEN))
				mask |= 1U << s;
	if (!mask) {
		char list[MXG_MAX_CLASSES * (MXG_CLASS_NAME_LEN + 2)] = "";

		for (unsigned i = 0; i < e->nclasses && i < MXG_MAX_CLASSES; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%.*s", i ? ", " : "", MXG_CLASS_NAME_LEN - 1,
				 e->classes[i]);
		return say(why, whylen, -EPERM,
			   "%s: names no class of this guard (%s: %s)", name,
			   MXG_FLEET_AT_CLASSES, list[0] ? list : "none");
	}
	*class_mask = mask;
	return 0;
}
