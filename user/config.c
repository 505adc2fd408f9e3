/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard.conf: read with inih, validated key by key into a private copy
 * of struct mxg_config, then checked as a whole (ports, class count) and
 * copied out only when everything is right, so a bad file never
 * half-applies.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the line reader
 * handed to ini_parse_stream() counts lines itself. It also classifies each
 * line the way inih will (comment, section, key, continuation), because
 * inih does not call the handler for a section header: an empty
 * "[class foo]" or an unknown "[bogus]" would otherwise go unnoticed, and
 * a continuation line would look like the key given twice.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include <ldap.h>

#include "config.h"
#include "parse.h"

/* A config file is a few hundred lines; refuse to slurp something else. */
#define MXG_CONFIG_MAX_SIZE (16 << 20)

#define RANGE_CONNS_MAX 1000000
#define RANGE_BURST_MAX 1000000
#define MAX_SOURCES_MIN 1024
#define MAX_SOURCES_MAX 16777216

/* A section header's name, with its NUL: longer is no section. */
#define SECTION_NAME_MAX 64

#define SECTIONS_ALLOWED "[global], [class NAME], [allow], [deny], [ldap], [smtp_inspect], [lookup]"
#define RATE_EXAMPLES "examples: 10, 10/s, 30/min, 0.5/s, 100/h, off"
#define CIDR_EXAMPLES "examples: 198.18.0.0/15, 2001:db8::/32, 192.0.2.7"

enum section {
	SECT_NONE = 0,
	SECT_GLOBAL,
	SECT_CLASS,
	SECT_ALLOW,
	SECT_DENY,
	SECT_LDAP,
	SECT_SMTP_INSPECT,
	SECT_LOOKUP,
};

/* What the reader saw on the line inih is about to hand to the handler. */
enum line_kind {
	LINE_OTHER = 0,	/* blank, comment, section header */
	LINE_KEY,	/* key = value */
	LINE_CONT,	/* indented: more value for the key above */
};

struct parser;
struct key_def;
typedef int key_set_fn(struct parser *p, const struct key_def *k,
		       const char *value);
typedef key_set_fn *key_setter;

/* KEY_LIST: an indented line continues the value with more items.
 * KEY_REPEAT: the key may also be written again in the same section. */
#define KEY_LIST 1
#define KEY_REPEAT 2

struct key_def {
	enum section sect;
	const char *name;
	int flags;
	key_setter set;
};


/* Every accepted key, once: the parser's table and mxg_config_keys[] are
 * both generated from this list so they cannot drift apart. */
#define MXG_CONFIG_KEYS(X)						\
	X(global, GLOBAL, interfaces, KEY_LIST, set_interfaces)		\
	X(global, GLOBAL, attach, 0, set_attach)			\
	X(global, GLOBAL, pin_dir, 0, set_path)				\
	X(global, GLOBAL, cgroup, 0, set_path)				\
	X(global, GLOBAL, max_sources, 0, set_max_sources)		\
	X(global, GLOBAL, on_exit, 0, set_on_exit)			\
	X(class, CLASS, ports, KEY_LIST, set_ports)			\
	X(class, CLASS, rate, 0, set_rate)				\
	X(class, CLASS, burst, 0, set_burst)				\
	X(class, CLASS, source_conns, 0, set_conns)			\
	X(class, CLASS, total_conns, 0, set_conns)			\
	X(class, CLASS, ipv4_prefix, 0, set_prefix)			\
	X(class, CLASS, ipv6_prefix, 0, set_prefix)			\
	X(class, CLASS, new_sources, 0, set_new_sources)		\
	X(class, CLASS, new_sources_burst, 0, set_burst)		\
	X(allow, ALLOW, cidr, KEY_LIST | KEY_REPEAT, set_cidr)		\
	X(deny, DENY, cidr, KEY_LIST | KEY_REPEAT, set_cidr)		\
	X(ldap, LDAP, uri, 0, set_ldap_string)				\
	X(ldap, LDAP, starttls, 0, set_starttls)			\
	X(ldap, LDAP, ca_file, 0, set_ldap_path)			\
	X(ldap, LDAP, bind_dn, 0, set_ldap_string)			\
	X(ldap, LDAP, bind_password_file, 0, set_ldap_path)		\
	X(ldap, LDAP, base, 0, set_ldap_string)				\
	X(ldap, LDAP, filter, 0, set_ldap_string)			\
	X(ldap, LDAP, attributes, KEY_LIST, set_attributes)		\
	X(ldap, LDAP, domains, KEY_LIST, set_domains)			\
	X(ldap, LDAP, sync, 0, set_sync)				\
	X(ldap, LDAP, poll_interval, 0, set_ldap_duration)		\
	X(ldap, LDAP, max_age, 0, set_ldap_duration)			\
	X(smtp_inspect, SMTP_INSPECT, mode, 0, set_inspect_mode)	\
	X(smtp_inspect, SMTP_INSPECT, unknown_threshold, 0, set_inspect_number) \
	X(smtp_inspect, SMTP_INSPECT, window, 0, set_inspect_number)	\
	X(smtp_inspect, SMTP_INSPECT, penalty, 0, set_inspect_number)	\
	X(smtp_inspect, SMTP_INSPECT, recipient_delimiter, 0, set_delimiter) \
	X(lookup, LOOKUP, socket, 0, set_lookup_socket)			\
	X(lookup, LOOKUP, mode, 0, set_lookup_mode)			\
	X(lookup, LOOKUP, group, 0, set_lookup_group)

/* Each key's setter, declared from the same list (a setter serving
 * several keys is declared again, which C allows). */
#define KEY_PROTO(s, S, k, f, fn) static key_set_fn fn;
MXG_CONFIG_KEYS(KEY_PROTO)

#define KEY_DEF(s, S, k, f, fn) { SECT_##S, #k, f, fn },
static const struct key_def key_defs[] = { MXG_CONFIG_KEYS(KEY_DEF) };
#define NKEYS (sizeof(key_defs) / sizeof(key_defs[0]))

struct parser {
	const char *name;		/* file name for messages */
	const char *pos, *end;		/* the text not read yet */
	unsigned lineno;
	bool prev_key;			/* inih's prev_name is set */
	enum line_kind kind;

	enum section sect;
	/* "[class smtp]" for messages: "[NAME]" of any name read_line()
	 * passes on fits. */
	char label[SECTION_NAME_MAX + 2];
	unsigned sect_line;
	struct mxg_class_config *cls;	/* in [class NAME] */
	unsigned cls_idx;
	unsigned key_line[NKEYS];	/* per key_defs entry, this section */

	/* Where each section was first given; sections may not repeat. */
	unsigned global_line, allow_line, deny_line, ldap_line, inspect_line;
	unsigned lookup_line, lookup_group_line;
	/* [ldap] keys checked together at the end, and where they were. */
	unsigned ldap_key_line[NKEYS];
	unsigned class_line[MXG_MAX_CLASSES];
	unsigned ports_line[MXG_MAX_CLASSES];
	bool burst_given[MXG_MAX_CLASSES];
	bool new_burst_given[MXG_MAX_CLASSES];
	bool is_default[MXG_MAX_CLASSES];

	bool attributes_given;		/* [ldap] attributes replaced defaults */

	bool failed;
	char *err;
	size_t errlen;

	struct mxg_config cfg;
	uint8_t port_owner[MXG_PORTS];	/* class index + 1, 0 = free */
};

#define KEY_NAME(s, S, k, f, fn) #s "." #k,
const char *const mxg_config_keys[] = { MXG_CONFIG_KEYS(KEY_NAME) NULL };

static const struct mxg_class_config default_classes[] = {
	{
		.name = "smtp",
		.ports = { 25, 465, 587 },
		.nports = 3,
		.rate_milli = 10000,
		.burst = 20,
		.ipv4_prefix = 32,
		.ipv6_prefix = 64,
		/* docs/configuration.md says why these. */
		.new_sources_milli = 200000,
		.new_sources_burst = 1000,
	},
	{
		.name = "ldap",
		.ports = { 389, 636 },
		.nports = 2,
		.rate_milli = 50000,
		.burst = 100,
		.ipv4_prefix = 32,
		.ipv6_prefix = 64,
		.new_sources_milli = 50000,
		.new_sources_burst = 500,
	},
};
#define NDEFAULT_CLASSES \
	(sizeof(default_classes) / sizeof(default_classes[0]))

/* Record the first error only: it is the one the operator should fix,
 * later ones are often its consequences. Always returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->failed)
		return -EINVAL;
	p->failed = true;
	if (!p->err || !p->errlen)
		return -EINVAL;
	if (line)
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define fail(p, ...) fail_at((p), (p)->lineno, __VA_ARGS__)

/* "[global] attach: 'x' is not ..." */
#define fail_value(p, k, value, what, ...)				\
	fail((p), "%s %s: '%s' is not " what, (p)->label, (k)->name,	\
	     (value), ##__VA_ARGS__)

static unsigned key_index(const struct key_def *k)
{
	return (unsigned)(k - key_defs);
}

/* ---- [global] ---------------------------------------------------------- */

static bool valid_ifname(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 15 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_.:-") == len;
}

struct item_ctx {
	struct parser *p;
	const struct key_def *k;
};

/* Each item of a list value through add(); the parser's errors are
 * already said, only running out of memory is not. */
static int add_items(struct parser *p, const struct key_def *k,
		     const char *value, int (*add)(const char *item, void *data))
{
	struct item_ctx ic = { p, k };
	int err = mxg_foreach_item(value, add, &ic);

	if (err == -ENOMEM)
		return fail(p, "out of memory");
	return err;
}

static int add_interface(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_config *cfg = &p->cfg;
	unsigned i;

	if (!valid_ifname(item))
		return fail_value(p, ic->k, item, "an interface name "
				  "(1..15 of A-Z a-z 0-9 _ . : -)");
	for (i = 0; i < cfg->nifaces; i++)
		if (!strcmp(cfg->ifaces[i], item))
			return fail(p, "%s %s: '%s' is given twice", p->label,
				    ic->k->name, item);
	if (cfg->nifaces >= MXG_MAX_IFACES)
		return fail(p, "%s %s: '%s' is one interface too many "
			    "(at most %d)", p->label, ic->k->name, item,
			    MXG_MAX_IFACES);
	strcpy(cfg->ifaces[cfg->nifaces++], item);
	return 0;
}

static int set_interfaces(struct parser *p, const struct key_def *k,
			  const char *value)
{
	return add_items(p, k, value, add_interface);
}

static int set_attach(struct parser *p, const struct key_def *k,
		      const char *value)
{
	static const struct {
		const char *name;
		enum mxg_attach_mode mode;
	} modes[] = {
		{ "auto", MXG_ATTACH_AUTO },
		{ "xdp", MXG_ATTACH_XDP },
		{ "xdp-generic", MXG_ATTACH_XDP_GENERIC },
		{ "tc", MXG_ATTACH_TC },
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(value, modes[i].name)) {
			p->cfg.attach = modes[i].mode;
			return 0;
		}
	}
	return fail_value(p, k, value, "an attach mode "
			  "(allowed: auto, xdp, xdp-generic, tc)");
}

static int set_path(struct parser *p, const struct key_def *k,
		    const char *value)
{
	char *dst = !strcmp(k->name, "pin_dir") ? p->cfg.pin_dir :
						  p->cfg.cgroup;
	size_t len = strlen(value);

	/* Both sizes are 256 (struct mxg_config). */
	if (value[0] != '/' || len >= sizeof(p->cfg.pin_dir))
		return fail_value(p, k, value, "an absolute path "
				  "(allowed: /..., at most %zu characters)",
				  sizeof(p->cfg.pin_dir) - 1);
	/* "/sys/fs/bpf/" is /sys/fs/bpf: the loader looks at the parent of
	 * the last component, which a trailing '/' would hide. */
	while (len > 1 && value[len - 1] == '/')
		len--;
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

static int set_max_sources(struct parser *p, const struct key_def *k,
			   const char *value)
{
	if (mxg_parse_u32(value, MAX_SOURCES_MIN, MAX_SOURCES_MAX,
			  &p->cfg.max_sources))
		return fail_value(p, k, value, "a number in %d..%d",
				  MAX_SOURCES_MIN, MAX_SOURCES_MAX);
	return 0;
}

static int set_on_exit(struct parser *p, const struct key_def *k,
		       const char *value)
{
	if (!strcmp(value, "detach"))
		p->cfg.on_exit = MXG_ON_EXIT_DETACH;
	else if (!strcmp(value, "keep"))
		p->cfg.on_exit = MXG_ON_EXIT_KEEP;
	else
		return fail_value(p, k, value, "an exit action "
				  "(allowed: detach, keep)");
	return 0;
}

/* ---- [class NAME] ------------------------------------------------------ */

static int add_port(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_class_config *c = p->cls;
	uint32_t port;
	unsigned i;

	if (mxg_parse_u32(item, 1, 65535, &port))
		return fail_value(p, ic->k, item, "a port (allowed: 1..65535)");
	for (i = 0; i < c->nports; i++)
		if (c->ports[i] == port)
			return fail(p, "%s %s: port %u is given twice",
				    p->label, ic->k->name, port);
	if (c->nports >= MXG_MAX_PORTS_PER_CLASS)
		return fail(p, "%s %s: port %u is one port too many "
			    "(at most %d per class)", p->label, ic->k->name,
			    port, MXG_MAX_PORTS_PER_CLASS);
	c->ports[c->nports++] = (uint16_t)port;
	return 0;
}

static int set_ports(struct parser *p, const struct key_def *k,
		     const char *value)
{
	/* The first line replaces the class's ports (the defaults of smtp
	 * and ldap included); continuation lines add to them. */
	if (p->kind != LINE_CONT) {
		p->cls->nports = 0;
		p->ports_line[p->cls_idx] = p->lineno;
	}
	return add_items(p, k, value, add_port);
}

/* rate and new_sources: a rate, or off. */
static int parse_class_rate(struct parser *p, const struct key_def *k,
			    const char *value, uint32_t *dst)
{
	if (!strcmp(value, "off") || !strcmp(value, "unlimited")) {
		*dst = 0;
		return 0;
	}
	if (mxg_parse_rate(value, dst))
		return fail_value(p, k, value, "a rate (" RATE_EXAMPLES
				  "; 0.001/s to 1000000/s)");
	return 0;
}

static int set_rate(struct parser *p, const struct key_def *k,
		    const char *value)
{
	return parse_class_rate(p, k, value, &p->cls->rate_milli);
}

static int set_new_sources(struct parser *p, const struct key_def *k,
			   const char *value)
{
	return parse_class_rate(p, k, value, &p->cls->new_sources_milli);
}

/* burst and new_sources_burst. */
static int set_burst(struct parser *p, const struct key_def *k,
		     const char *value)
{
	bool new = !strcmp(k->name, "new_sources_burst");

	if (mxg_parse_u32(value, 1, RANGE_BURST_MAX,
			  new ? &p->cls->new_sources_burst : &p->cls->burst))
		return fail_value(p, k, value, "a number in 1..%d",
				  RANGE_BURST_MAX);
	if (new)
		p->new_burst_given[p->cls_idx] = true;
	else
		p->burst_given[p->cls_idx] = true;
	return 0;
}

static int set_conns(struct parser *p, const struct key_def *k,
		     const char *value)
{
	uint32_t *dst = !strcmp(k->name, "source_conns") ?
			&p->cls->source_conns : &p->cls->total_conns;

	if (!strcmp(value, "unlimited")) {
		*dst = 0;
		return 0;
	}
	if (mxg_parse_u32(value, 1, RANGE_CONNS_MAX, dst))
		return fail_value(p, k, value, "a number in 1..%d "
				  "or 'unlimited'", RANGE_CONNS_MAX);
	return 0;
}

static int set_prefix(struct parser *p, const struct key_def *k,
		      const char *value)
{
	bool v4 = !strcmp(k->name, "ipv4_prefix");
	uint32_t min = v4 ? 8 : 16, max = v4 ? 32 : 128, len;

	if (mxg_parse_u32(value, min, max, &len))
		return fail_value(p, k, value, "a prefix length in %u..%u",
				  min, max);
	if (v4)
		p->cls->ipv4_prefix = (uint8_t)len;
	else
		p->cls->ipv6_prefix = (uint8_t)len;
	return 0;
}

/* ---- [allow], [deny] --------------------------------------------------- */

/* Why mxg_parse_cidr() refused s: if address and length are fine by
 * themselves, host bits are set, and the message can say what the
 * operator probably meant. */
static int fail_cidr(struct parser *p, const struct key_def *k,
		     const char *s)
{
	char host[64], fixed[MXG_CIDR_STRLEN];
	const char *slash = strchr(s, '/');
	struct mxg_lpm_key key;
	uint32_t len;
	unsigned bit;
	bool v4;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		goto syntax;
	memcpy(host, s, slash - s);
	host[slash - s] = '\0';
	if (mxg_parse_addr(host, key.addr, &v4) ||
	    mxg_parse_u32(slash + 1, 0, v4 ? 32 : 128, &len))
		goto syntax;
	key.prefixlen = len + (v4 ? MXG_V4_MAPPED_BITS : 0);
	for (bit = key.prefixlen; bit < MXG_ADDR_LEN * 8; bit++)
		key.addr[bit / 8] &= ~(0x80 >> (bit % 8));
	mxg_format_cidr(&key, fixed, sizeof(fixed));
	return fail(p, "%s %s: '%s' has host bits set (did you mean %s?)",
		    p->label, k->name, s, fixed);
syntax:
	return fail_value(p, k, s, "a CIDR (" CIDR_EXAMPLES ")");
}

static int add_cidr(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	bool deny = p->sect == SECT_DENY;
	struct mxg_lpm_key *rules = deny ? p->cfg.deny : p->cfg.allow;
	unsigned *n = deny ? &p->cfg.ndeny : &p->cfg.nallow;
	struct mxg_lpm_key key;
	unsigned i;

	memset(&key, 0, sizeof(key));
	if (mxg_parse_cidr(item, &key))
		return fail_cidr(p, ic->k, item);
	/* Keys are canonical (host bits zero), so equal rules compare
	 * equal byte for byte. */
	for (i = 0; i < *n; i++)
		if (!memcmp(&rules[i], &key, sizeof(key)))
			return fail(p, "%s %s: '%s' is given twice", p->label,
				    ic->k->name, item);
	if (*n >= MXG_MAX_CONFIG_RULES)
		return fail(p, "%s %s: '%s' is one rule too many "
			    "(at most %d)", p->label, ic->k->name, item,
			    MXG_MAX_CONFIG_RULES);
	rules[(*n)++] = key;
	return 0;
}

static int set_cidr(struct parser *p, const struct key_def *k,
		    const char *value)
{
	return add_items(p, k, value, add_cidr);
}

/* ---- [ldap] and [smtp_inspect] ----------------------------------------- */

static int set_ldap_string(struct parser *p, const struct key_def *k,
			   const char *value)
{
	struct mxg_ldap_config *l = &p->cfg.ldap;
	char *dst;
	size_t size;

	if (!strcmp(k->name, "uri")) {
		dst = l->uri;
		size = sizeof(l->uri);
		if (strncmp(value, "ldap://", 7) && strncmp(value, "ldaps://", 8) &&
		    strncmp(value, "ldapi://", 8))
			return fail_value(p, k, value, "an LDAP URI (ldap://HOST[:PORT], ldaps://HOST[:PORT] or ldapi://PATH)");
		if (strpbrk(value, " \t,"))
			return fail_value(p, k, value, "one LDAP URI (no blanks or lists)");
	} else if (!strcmp(k->name, "bind_dn") || !strcmp(k->name, "base")) {
		LDAPDN dn = NULL;
		bool bind = !strcmp(k->name, "bind_dn");

		dst = bind ? l->bind_dn : l->base;
		size = bind ? sizeof(l->bind_dn) : sizeof(l->base);
		/* libldap's own DN parser: what it refuses, the directory
		 * would refuse at every connection. */
		if (ldap_str2dn(value, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
			return fail_value(p, k, value, "a DN (example: ou=people,dc=example,dc=org)");
		ldap_dnfree(dn);
	} else {
		const char *why;
		size_t pos;

		dst = l->filter;
		size = sizeof(l->filter);
		/* A filter the directory refuses would fail every search,
		 * found only in the log of a running daemon. */
		if (mxg_check_ldap_filter(value, &why, &pos))
			return fail_value(p, k, value, "an LDAP filter (at character %zu: %s; RFC 4515, example: (objectClass=inetOrgPerson))",
					  pos + 1, why);
	}
	if (strlen(value) >= size)
		return fail(p, "%s %s: longer than %zu characters", p->label,
			    k->name, size - 1);
	strcpy(dst, value);
	return 0;
}

static int set_ldap_path(struct parser *p, const struct key_def *k,
			 const char *value)
{
	struct mxg_ldap_config *l = &p->cfg.ldap;
	bool password = !strcmp(k->name, "bind_password_file");
	char *dst = password ? l->bind_password_file : l->ca_file;
	struct stat st;

	if (value[0] != '/' || strlen(value) >= sizeof(l->ca_file))
		return fail_value(p, k, value, "an absolute path");
	if (stat(value, &st) || !S_ISREG(st.st_mode))
		return fail(p, "%s %s: '%s' is not a readable file", p->label,
			    k->name, value);
	/* A password others can read is a password others have. */
	if (password && (st.st_mode & 077))
		return fail(p, "%s %s: '%s' is readable by group or others (chmod 600 it)",
			    p->label, k->name, value);
	strcpy(dst, value);
	return 0;
}

static int set_starttls(struct parser *p, const struct key_def *k,
			const char *value)
{
	if (mxg_parse_bool(value, &p->cfg.ldap.starttls))
		return fail_value(p, k, value, "yes or no");
	return 0;
}

static int add_attribute(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_ldap_config *l = &p->cfg.ldap;
	size_t len = strlen(item);

	/* An attribute description: a name or a numeric OID. */
	if (!len || len >= sizeof(l->attributes[0]) ||
	    strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-.;") != len)
		return fail_value(p, ic->k, item, "an attribute name (example: mail)");
	for (unsigned i = 0; i < l->nattributes; i++)
		if (!strcasecmp(l->attributes[i], item))
			return fail(p, "%s %s: '%s' is given twice", p->label,
				    ic->k->name, item);
	if (l->nattributes >= MXG_LDAP_MAX_ATTRS)
		return fail(p, "%s %s: at most %d attributes", p->label,
			    ic->k->name, MXG_LDAP_MAX_ATTRS);
	strcpy(l->attributes[l->nattributes++], item);
	return 0;
}

static int add_domain(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_ldap_config *l = &p->cfg.ldap;
	char d[MXG_DOMAIN_LEN + 2];
	size_t len = strlen(item);
	const char *why;

	if (mxg_check_domain(item, &why))
		return fail_value(p, ic->k, item, "a domain name (%s; example: example.org)",
				  why);
	if (item[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		d[i] = tolower((unsigned char)item[i]);
	d[len] = '\0';
	for (unsigned i = 0; i < l->ndomains; i++)
		if (!strcmp(l->domains[i], d))
			return fail(p, "%s %s: '%s' is given twice", p->label,
				    ic->k->name, item);
	if (l->ndomains >= MXG_MAX_CONFIG_DOMAINS)
		return fail(p, "%s %s: at most %d domains", p->label,
			    ic->k->name, MXG_MAX_CONFIG_DOMAINS);
	strcpy(l->domains[l->ndomains++], d);
	return 0;
}

static int set_attributes(struct parser *p, const struct key_def *k,
			  const char *value)
{
	/* Given at all, the list replaces the default one. */
	if (!p->attributes_given) {
		p->cfg.ldap.nattributes = 0;
		p->attributes_given = true;
	}
	return add_items(p, k, value, add_attribute);
}

static int set_domains(struct parser *p, const struct key_def *k,
		       const char *value)
{
	return add_items(p, k, value, add_domain);
}

static int set_sync(struct parser *p, const struct key_def *k,
		    const char *value)
{
	if (!strcmp(value, "syncrepl"))
		p->cfg.ldap.sync = MXG_SYNC_SYNCREPL;
	else if (!strcmp(value, "poll"))
		p->cfg.ldap.sync = MXG_SYNC_POLL;
	else
		return fail_value(p, k, value, "a sync mode (allowed: syncrepl, poll)");
	return 0;
}

#define NSEC_PER_SEC 1000000000ULL

static int set_ldap_duration(struct parser *p, const struct key_def *k,
			     const char *value)
{
	bool poll = !strcmp(k->name, "poll_interval");
	uint64_t *dst = poll ? &p->cfg.ldap.poll_interval_ns :
			       &p->cfg.ldap.max_age_ns;

	if (mxg_parse_duration(value, NSEC_PER_SEC, 30ULL * 86400 * NSEC_PER_SEC, dst))
		return fail_value(p, k, value, "a duration from 1s to 30d (examples: 60, 5m, 1h)");
	return 0;
}

static int set_inspect_mode(struct parser *p, const struct key_def *k,
			    const char *value)
{
	static const char *const modes[] = {
		[MXG_INSPECT_OFF] = "off",
		[MXG_INSPECT_OBSERVE] = "observe",
		[MXG_INSPECT_PENALIZE] = "penalize",
		[MXG_INSPECT_DROP] = "drop",
	};

	for (uint32_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(value, modes[i])) {
			p->cfg.inspect.mode = i;
			return 0;
		}
	}
	return fail_value(p, k, value, "an inspection mode (allowed: off, observe, penalize, drop)");
}

static int set_inspect_number(struct parser *p, const struct key_def *k,
			      const char *value)
{
	struct mxg_inspect *in = &p->cfg.inspect;

	if (!strcmp(k->name, "unknown_threshold")) {
		if (mxg_parse_u32(value, 1, 1000000, &in->unknown_threshold))
			return fail_value(p, k, value, "a number in 1..1000000");
		return 0;
	}
	uint64_t ns;

	if (mxg_parse_duration(value, NSEC_PER_SEC, 30ULL * 86400 * NSEC_PER_SEC, &ns))
		return fail_value(p, k, value, "a duration from 1s to 30d (examples: 60, 10m, 1h)");
	if (!strcmp(k->name, "window"))
		in->window_ns = ns;
	else
		in->penalty_ns = ns;
	return 0;
}

static int set_delimiter(struct parser *p, const struct key_def *k,
			 const char *value)
{
	size_t len = strlen(value);

	/* Postfix's recipient_delimiter: one or more of these characters. */
	if (len >= MXG_DELIM_MAX ||
	    strspn(value, "+-_=.#%&~") != len)
		return fail_value(p, k, value, "a set of delimiter characters (examples: +, +-; at most %d of + - _ = . # %% & ~)",
				  MXG_DELIM_MAX - 1);
	strcpy(p->cfg.recipient_delimiter, value);
	return 0;
}

/* ---- [lookup] --------------------------------------------------------- */

static int set_lookup_socket(struct parser *p, const struct key_def *k,
			     const char *value)
{
	size_t len = strlen(value);

	/* A unix socket path must fit sun_path with its NUL; a trailing '/'
	 * names a directory, not a socket. */
	if (value[0] != '/' || len >= MXG_LOOKUP_PATH_MAX ||
	    value[len - 1] == '/')
		return fail_value(p, k, value, "an absolute path for a unix socket (example: /run/mxguard/lookup.sock; at most %d characters)",
				  MXG_LOOKUP_PATH_MAX - 1);
	memcpy(p->cfg.lookup.socket, value, len + 1);
	return 0;
}

static int set_lookup_mode(struct parser *p, const struct key_def *k,
			   const char *value)
{
	size_t len = strlen(value);
	unsigned long mode;

	/* Octal digits only, as chmod takes them: "666" means 0666, never
	 * decimal 666. Permission bits only; no setuid, setgid or sticky. */
	if (!len || len > 4 || strspn(value, "01234567") != len)
		goto bad;
	mode = strtoul(value, NULL, 8);
	if (mode > 0777)
		goto bad;
	/* Without write permission for anyone, no client can connect. */
	if (!(mode & 0222))
		return fail(p, "%s %s: '%s' lets no one connect (a client needs write permission; examples: 0660, 0666)",
			    p->label, k->name, value);
	p->cfg.lookup.mode = (uint32_t)mode;
	return 0;
bad:
	return fail_value(p, k, value, "an octal file mode (examples: 0666, 0660)");
}

/* A group name or number to a gid; -ENOENT when the host has no such
 * group. */
static int resolve_group(const char *name, uint32_t *gid)
{
	struct group gr, *res = NULL;
	size_t size = 4096;
	char *buf = NULL, *tmp;
	int ret;

	if (!mxg_parse_u32(name, 0, UINT32_MAX - 1, gid))
		return 0;
	/* A group of many members needs a larger buffer (ERANGE). */
	do {
		tmp = realloc(buf, size);
		if (!tmp) {
			ret = ENOMEM;
			break;
		}
		buf = tmp;
		ret = getgrnam_r(name, &gr, buf, size, &res);
		size *= 2;
	} while (ret == ERANGE && size <= (1 << 24));
	if (!ret && res)
		*gid = (uint32_t)res->gr_gid;
	free(buf);
	return !ret && res ? 0 : -ENOENT;
}

static int set_lookup_group(struct parser *p, const struct key_def *k,
			    const char *value)
{
	struct mxg_lookup_config *l = &p->cfg.lookup;

	if (!*value || strlen(value) >= sizeof(l->group) ||
	    resolve_group(value, &l->gid))
		return fail(p, "%s %s: '%s' is not a group on this host (a group name or number: the group the MTA runs as, e.g. postfix, Debian-exim)",
			    p->label, k->name, value);
	strcpy(l->group, value);
	p->lookup_group_line = p->lineno;
	return 0;
}

/* [lookup] without a socket serves nothing, and without [ldap] the mirror
 * it answers from never fills: every answer would be TEMP forever. */
static int check_lookup(struct parser *p)
{
	struct mxg_lookup_config *l = &p->cfg.lookup;

	if (!l->enabled)
		return 0;
	if (!l->socket[0])
		return fail_at(p, p->lookup_line, "[lookup]: socket is required (example: socket = /run/mxguard/lookup.sock)");
	if (!p->cfg.ldap.enabled)
		return fail_at(p, p->lookup_line, "[lookup]: needs an [ldap] section (the answers come from its mirror)");
	/* The default group must exist too: a socket the MTA cannot open
	 * would answer nothing, found only in the MTA's log. */
	if (!p->lookup_group_line) {
		if (resolve_group(MXG_LOOKUP_DEFAULT_GROUP, &l->gid))
			return fail_at(p, p->lookup_line, "[lookup] group: the default group '" MXG_LOOKUP_DEFAULT_GROUP "' is not on this host (set group = the group the MTA runs as, e.g. Debian-exim for Exim)");
		strcpy(l->group, MXG_LOOKUP_DEFAULT_GROUP);
	}
	return 0;
}

static const struct key_def *find_key(enum section sect, const char *name);

/* Where an [ldap] key was given, else the section header. */
static unsigned ldap_line_of(struct parser *p, const char *name)
{
	unsigned line = p->ldap_key_line[key_index(find_key(SECT_LDAP, name))];

	return line ? line : p->ldap_line;
}

/* The [ldap] keys that only make sense together. */
static int check_ldap(struct parser *p)
{
	struct mxg_ldap_config *l = &p->cfg.ldap;

#define LINE_OF(name) ldap_line_of(p, name)
	if (!l->enabled)
		return 0;
	if (!l->uri[0])
		return fail_at(p, p->ldap_line, "[ldap]: uri is required (example: uri = ldap://127.0.0.1/)");
	if (!l->base[0])
		return fail_at(p, p->ldap_line, "[ldap]: base is required (example: base = ou=people,dc=example,dc=org)");
	if (!l->ndomains)
		return fail_at(p, LINE_OF("domains"), "[ldap] domains: at least one local domain is required");
	if (l->bind_dn[0] && !l->bind_password_file[0])
		return fail_at(p, LINE_OF("bind_dn"), "[ldap] bind_dn: needs bind_password_file");
	if (l->starttls && !strncmp(l->uri, "ldaps://", 8))
		return fail_at(p, LINE_OF("starttls"), "[ldap] starttls: not with an ldaps:// uri (it is TLS already)");
	if (l->sync == MXG_SYNC_POLL && l->max_age_ns <= l->poll_interval_ns)
		return fail_at(p, LINE_OF("max_age"), "[ldap] max_age: must be longer than poll_interval, or the mirror is stale between two polls");
#undef LINE_OF
	return 0;
}

/* ---- sections ---------------------------------------------------------- */

static void list_keys(enum section sect, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < NKEYS && off < len; i++) {
		if (key_defs[i].sect != sect)
			continue;
		off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
				key_defs[i].name);
	}
}

static int find_class(struct parser *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->cfg.nclasses; i++)
		if (!strcmp(p->cfg.classes[i].name, name))
			return (int)i;
	return -1;
}

static int begin_class(struct parser *p, const char *name, const char *raw)
{
	struct mxg_class_config *c;
	int idx;

	if (mxg_check_class_name(name))
		return fail(p, "[%s]: '%s' is not a class name "
			    "(1..%d of a-z 0-9 _ -)", raw, name,
			    MXG_CLASS_NAME_LEN - 1);
	idx = find_class(p, name);
	if (idx >= 0 && p->class_line[idx])
		return fail(p, "[class %s] is given twice (first at line %u)",
			    name, p->class_line[idx]);
	if (idx < 0) {
		if (p->cfg.nclasses >= MXG_MAX_CLASSES)
			return fail(p, "[class %s]: one class too many "
				    "(at most %d, smtp and ldap included)",
				    name, MXG_MAX_CLASSES);
		idx = (int)p->cfg.nclasses++;
		c = &p->cfg.classes[idx];
		memset(c, 0, sizeof(*c));
		strcpy(c->name, name);
		c->ipv4_prefix = 32;
		c->ipv6_prefix = 64;
	}
	p->class_line[idx] = p->lineno;
	p->cls_idx = (unsigned)idx;
	p->cls = &p->cfg.classes[idx];
	snprintf(p->label, sizeof(p->label), "[class %s]", name);
	return 0;
}

/* A section header, already cut to the text between '[' and ']'. */
static int begin_section(struct parser *p, char *name)
{
	unsigned *first = NULL;
	char *end;
	int err = 0;

	/* inih passes the name untrimmed; "[ global ]" means [global]. */
	while (isspace((unsigned char)*name))
		name++;
	end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = '\0';

	memset(p->key_line, 0, sizeof(p->key_line));
	p->cls = NULL;
	p->sect_line = p->lineno;
	if (!strcmp(name, "global")) {
		p->sect = SECT_GLOBAL;
		first = &p->global_line;
	} else if (!strcmp(name, "allow")) {
		p->sect = SECT_ALLOW;
		first = &p->allow_line;
	} else if (!strcmp(name, "deny")) {
		p->sect = SECT_DENY;
		first = &p->deny_line;
	} else if (!strcmp(name, "ldap")) {
		p->sect = SECT_LDAP;
		first = &p->ldap_line;
		p->cfg.ldap.enabled = true;
	} else if (!strcmp(name, "smtp_inspect")) {
		p->sect = SECT_SMTP_INSPECT;
		first = &p->inspect_line;
	} else if (!strcmp(name, "lookup")) {
		p->sect = SECT_LOOKUP;
		first = &p->lookup_line;
		p->cfg.lookup.enabled = true;
	} else if (!strncmp(name, "class", 5) &&
		   (!name[5] || isspace((unsigned char)name[5]))) {
		char *cname = name + 5;

		while (isspace((unsigned char)*cname))
			cname++;
		p->sect = SECT_CLASS;
		return begin_class(p, cname, name);
	} else {
		return fail(p, "[%s]: unknown section (allowed: "
			    SECTIONS_ALLOWED ")", name);
	}
	if (*first)
		return fail(p, "[%s] is given twice (first at line %u)", name,
			    *first);
	*first = p->lineno;
	snprintf(p->label, sizeof(p->label), "[%s]", name);
	return err;
}

/* ---- the line reader --------------------------------------------------- */

/* inih's find_chars_or_comment(): an inline comment is a ';' after a
 * blank. */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Hand inih the next line and decide what it is, mirroring inih's own
 * order of tests (comment, continuation, section, pair). Returning NULL
 * ends the parse, which is how the first error stops it: inih itself
 * carries on after a failed handler.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *nl;
	char *start, *end;
	size_t len;

	if (p->failed || p->pos >= p->end)
		return NULL;
	p->lineno++;
	p->kind = LINE_OTHER;
	nl = memchr(p->pos, '\n', p->end - p->pos);
	len = (nl ? nl : p->end) - p->pos;
	if (memchr(p->pos, '\0', len)) {
		fail(p, "line contains a NUL byte");
		return NULL;
	}
	/* inih would silently split a longer line into two. */
	if (len > (size_t)num - 1) {
		fail(p, "line too long (at most %d characters)", num - 1);
		return NULL;
	}
	memcpy(str, p->pos, len);
	str[len] = '\0';
	p->pos += len + (nl ? 1 : 0);

	start = str;
	if (p->lineno == 1 && !memcmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	while (start < end && isspace((unsigned char)*start))
		start++;

	if (start == end || *start == ';' || *start == '#')
		return str;
	if (p->prev_key && start > str) {
		/* inih (55) keeps inline comments on continuation lines; cut
		 * them here so that "  a, b ; note" reads as on a key line. */
		*find_chars_or_comment(start, NULL) = '\0';
		p->kind = LINE_CONT;
		return str;
	}
	if (*start == '[') {
		char name[SECTION_NAME_MAX], *close, *rest;

		close = find_chars_or_comment(start + 1, "]");
		if (*close != ']') {
			fail(p, "section header without ']'");
			return NULL;
		}
		rest = close + 1;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest && *rest != ';') {
			fail(p, "unexpected text after ']'");
			return NULL;
		}
		/* Longer than any valid section; inih would truncate it. */
		if ((size_t)(close - start - 1) >= sizeof(name)) {
			fail(p, "[%.*s...]: unknown section (allowed: "
			     SECTIONS_ALLOWED ")", 16, start + 1);
			return NULL;
		}
		memcpy(name, start + 1, close - start - 1);
		name[close - start - 1] = '\0';
		p->prev_key = false;
		if (begin_section(p, name))
			return NULL;
		return str;
	}
	end = find_chars_or_comment(start, "=:");
	if (*end != '=' && *end != ':') {
		fail(p, "expected 'key = value', '[section]' or a comment");
		return NULL;
	}
	p->prev_key = true;
	p->kind = LINE_KEY;
	return str;
}

static const struct key_def *find_key(enum section sect, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (key_defs[i].sect == sect && !strcmp(key_defs[i].name, name))
			return &key_defs[i];
	return NULL;
}

/* inih's handler: nonzero means success. */
static int handle_pair(void *user, const char *section, const char *name,
		       const char *value)
{
	struct parser *p = user;
	const struct key_def *k;
	unsigned idx;

	if (p->failed)
		return 0;
	if (p->sect == SECT_NONE) {
		fail(p, "%s: key outside of a section (sections: "
		     SECTIONS_ALLOWED ")", name);
		return 0;
	}
	if (!*name) {
		fail(p, "%s: a key is missing before '='", p->label);
		return 0;
	}
	k = find_key(p->sect, name);
	if (!k) {
		char keys[256];

		list_keys(p->sect, keys, sizeof(keys));
		fail(p, "%s %s: unknown key (allowed: %s)", p->label, name,
		     keys);
		return 0;
	}
	idx = key_index(k);
	if (p->kind == LINE_CONT) {
		if (!(k->flags & KEY_LIST)) {
			fail(p, "%s %s: given twice (an indented line "
			     "continues the key above; only lists may "
			     "continue)", p->label, name);
			return 0;
		}
	} else if (p->key_line[idx]) {
		if (!(k->flags & KEY_REPEAT)) {
			fail(p, "%s %s: given twice (first at line %u)",
			     p->label, name, p->key_line[idx]);
			return 0;
		}
	} else {
		p->key_line[idx] = p->lineno;
		if (p->sect == SECT_LDAP)
			p->ldap_key_line[idx] = p->lineno;
	}
	return k->set(p, k, value) ? 0 : 1;
}

/* ---- whole-file checks ------------------------------------------------- */

static int check_classes(struct parser *p)
{
	unsigned i, j;

	for (i = 0; i < p->cfg.nclasses; i++) {
		struct mxg_class_config *c = &p->cfg.classes[i];

		if (!c->nports)
			return fail_at(p, p->ports_line[i] ? p->ports_line[i] :
					  p->class_line[i],
				       "[class %s]: no ports (a class needs "
				       "ports = PORT, ...)", c->name);
		/* max(1, ceil(rate)): one second's worth of connections. */
		if (!p->is_default[i] && !p->burst_given[i])
			c->burst = c->rate_milli ?
				   (c->rate_milli + 999) / 1000 : 1;
		/* The same for new sources; a default class whose
		 * new_sources is changed alone keeps its default burst. */
		if (!p->is_default[i] && !p->new_burst_given[i])
			c->new_sources_burst = c->new_sources_milli ?
				(c->new_sources_milli + 999) / 1000 : 1;
	}

	for (i = 0; i < p->cfg.nclasses; i++) {
		struct mxg_class_config *c = &p->cfg.classes[i];

		for (j = 0; j < c->nports; j++) {
			unsigned port = c->ports[j], blame = i, other;

			if (!p->port_owner[port]) {
				p->port_owner[port] = (uint8_t)(i + 1);
				continue;
			}
			/* Blame the class whose ports come later in the
			 * file; defaults (line 0) are never the culprit. */
			other = p->port_owner[port] - 1u;
			if (p->ports_line[other] > p->ports_line[blame]) {
				blame = other;
				other = i;
			}
			return fail_at(p, p->ports_line[blame],
				       "[class %s] ports: port %u is also in "
				       "[class %s] (a port belongs to one "
				       "class)", p->cfg.classes[blame].name,
				       port, p->cfg.classes[other].name);
		}
	}
	return 0;
}

static void init_defaults(struct parser *p)
{
	struct mxg_config *cfg = &p->cfg;
	unsigned i;

	strcpy(cfg->pin_dir, MXG_DEFAULT_PIN_DIR);
	cfg->max_sources = MXG_DEFAULT_MAX_SOURCES;
	cfg->attach = MXG_ATTACH_AUTO;
	cfg->on_exit = MXG_ON_EXIT_DETACH;
	for (i = 0; i < NDEFAULT_CLASSES; i++) {
		cfg->classes[i] = default_classes[i];
		p->is_default[i] = true;
	}
	cfg->nclasses = NDEFAULT_CLASSES;
	strcpy(cfg->recipient_delimiter, "+");
	/* Observe until told otherwise: counting never blocks anyone. */
	cfg->inspect.mode = MXG_INSPECT_OBSERVE;
	cfg->inspect.unknown_threshold = 5;
	cfg->inspect.window_ns = 600 * NSEC_PER_SEC;
	cfg->inspect.penalty_ns = 3600 * NSEC_PER_SEC;
	cfg->lookup.mode = MXG_LOOKUP_DEFAULT_MODE;
	strcpy(cfg->ldap.filter, "(objectClass=*)");
	strcpy(cfg->ldap.attributes[0], "mail");
	strcpy(cfg->ldap.attributes[1], "mailAlternateAddress");
	cfg->ldap.nattributes = 2;
	cfg->ldap.sync = MXG_SYNC_SYNCREPL;
	cfg->ldap.poll_interval_ns = 60 * NSEC_PER_SEC;
	cfg->ldap.max_age_ns = 900 * NSEC_PER_SEC;
}

int mxg_config_load_string(const char *name, const char *text,
			   struct mxg_config *cfg, char *err, size_t errlen)
{
	struct parser *p;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!name)
		name = "(config)";
	if (strlen(name) >= sizeof(cfg->path)) {
		if (err && errlen)
			snprintf(err, errlen, "%.64s...: file name too long",
				 name);
		return -ENAMETOOLONG;
	}
	/* The private copy is large (the rule lists); keep it off the
	 * stack. */
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p->name = name;
	p->pos = text;
	p->end = text + strlen(text);
	p->err = err;
	p->errlen = errlen;
	init_defaults(p);
	strcpy(p->cfg.path, name);

	ret = ini_parse_stream(read_line, p, handle_pair, p);
	/* The reader catches every syntax error inih knows about; this is
	 * only a guard in case a later inih finds one more. */
	if (ret && !p->failed)
		fail_at(p, ret > 0 ? (unsigned)ret : 0,
			"cannot parse this line");
	if (!p->failed)
		check_classes(p);
	if (!p->failed)
		check_ldap(p);
	if (!p->failed)
		check_lookup(p);
	if (p->failed) {
		ret = -EINVAL;
		goto out;
	}
	*cfg = p->cfg;
	ret = 0;
out:
	free(p);
	return ret;
}

int mxg_config_load(const char *path, struct mxg_config *cfg,
		    char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto fail_errno;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *tmp;

			if (cap >= MXG_CONFIG_MAX_SIZE) {
				ret = -EFBIG;
				goto fail_errno;
			}
			cap = cap ? cap * 2 : 8192;
			tmp = realloc(text, cap + 1);
			if (!tmp) {
				ret = -ENOMEM;
				goto fail_errno;
			}
			text = tmp;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n)
			continue;
		if (ferror(f)) {
			ret = errno ? -errno : -EIO;
			goto fail_errno;
		}
		break;
	}
	text[len] = '\0';
	/* The string parser stops at the first NUL; a NUL in the file must
	 * not hide the rest of it. */
	if (strlen(text) != len) {
		unsigned line = 1;
		const char *c;

		for (c = text; *c; c++)
			line += *c == '\n';
		if (err && errlen)
			snprintf(err, errlen, "%s:%u: line contains a NUL byte",
				 path, line);
		ret = -EINVAL;
		goto out;
	}
	ret = mxg_config_load_string(path, text, cfg, err, errlen);
	goto out;

fail_errno:
	if (err && errlen)
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(-ret));
out:
	if (f)
		fclose(f);
	free(text);
	return ret;
}

void mxg_class_to_bpf(const struct mxg_class_config *c, unsigned ncpus,
		      struct mxg_class *out)
{
	unsigned bit, v4bits;

	memset(out, 0, sizeof(*out));
	memcpy(out->name, c->name, sizeof(out->name));
	out->name[sizeof(out->name) - 1] = '\0';
	out->rate_milli = c->rate_milli;
	out->burst = c->burst;
	/* GCRA: one connection per interval, burst - 1 intervals of credit. */
	if (c->rate_milli) {
		out->interval_ns = 1000000000000ULL / c->rate_milli;
		out->tolerance_ns = out->interval_ns *
				    (c->burst ? c->burst - 1 : 0);
	}
	/* Each CPU's bucket gets rate / ncpus and ceil(burst / ncpus): the
	 * host as a whole admits the configured rate and at least the
	 * configured burst, when new sources spread over the CPUs as RSS
	 * spreads connections. */
	out->new_sources_milli = c->new_sources_milli;
	out->new_sources_burst = c->new_sources_burst;
	if (c->new_sources_milli) {
		uint64_t cpus = ncpus ? ncpus : 1;
		uint64_t burst = c->new_sources_burst ? c->new_sources_burst : 1;
		uint64_t burst_cpu = (burst + cpus - 1) / cpus;

		out->new_interval_ns = 1000000000000ULL * cpus /
				       c->new_sources_milli;
		out->new_tolerance_ns = out->new_interval_ns * (burst_cpu - 1);
	}
	out->source_conns = c->source_conns;
	out->total_conns = c->total_conns;
	out->ipv4_prefix = c->ipv4_prefix;
	out->ipv6_prefix = c->ipv6_prefix;
	out->scale_permille = 1000;

	v4bits = MXG_V4_MAPPED_BITS + (c->ipv4_prefix > 32 ? 32 :
				       c->ipv4_prefix);
	for (bit = 0; bit < MXG_ADDR_LEN * 8; bit++) {
		uint8_t b = 0x80 >> (bit % 8);

		if (bit < c->ipv6_prefix)
			out->mask[bit / 8] |= b;
		if (bit < v4bits)
			out->mask4[bit / 8] |= b;
	}
}
