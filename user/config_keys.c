/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard.conf's keys: the table of every key the reader accepts, with
 * each key's setter, which checks a value (syntax and range) and stores
 * it, and the defaults the file changes. A class limit has its setter
 * here only: `mxguardctl limit set` goes through mxg_class_limit_set(),
 * so the file and the command accept the same values and say the same
 * thing about a wrong one.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ldap.h>

#include "config_internal.h"
#include "fleet_entry.h"
#include "names.h"
#include "parse.h"

#define RANGE_CONNS_MAX 1000000
#define RANGE_BURST_MAX 1000000
#define MAX_SOURCES_MIN 1024
#define MAX_SOURCES_MAX 16777216

#define RATE_EXAMPLES "examples: 10, 10/s, 30/min, 0.5/s, 100/h, off"
#define CIDR_EXAMPLES "examples: 198.18.0.0/15, 2001:db8::/32, 192.0.2.7"

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
	X(class, CLASS, rate, KEY_LIMIT, set_rate)				\
	X(class, CLASS, burst, KEY_LIMIT, set_burst)				\
	X(class, CLASS, source_conns, KEY_LIMIT, set_conns)			\
	X(class, CLASS, total_conns, KEY_LIMIT, set_conns)			\
	X(class, CLASS, ipv4_prefix, KEY_LIMIT, set_prefix)			\
	X(class, CLASS, ipv6_prefix, KEY_LIMIT, set_prefix)			\
	X(class, CLASS, new_sources, KEY_LIMIT, set_new_sources)		\
	X(class, CLASS, new_sources_burst, KEY_LIMIT, set_burst)		\
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
	X(lookup, LOOKUP, group, 0, set_lookup_group)			\
	X(tuner, TUNER, enabled, 0, set_tuner_enabled)			\
	X(tuner, TUNER, interval, 0, set_tuner_duration)		\
	X(tuner, TUNER, floor, 0, set_tuner_fraction)			\
	X(tuner, TUNER, decrease, 0, set_tuner_fraction)		\
	X(tuner, TUNER, increase, 0, set_tuner_fraction)		\
	X(tuner, TUNER, recover_at, 0, set_tuner_fraction)		\
	X(tuner, TUNER, cooldown, 0, set_tuner_duration)		\
	X(tuner, TUNER, latency_target, 0, set_tuner_duration)		\
	X(tuner, TUNER, latency_timeout, 0, set_tuner_duration)		\
	X(tuner, TUNER, latency_window, 0, set_tuner_number)		\
	X(tuner, TUNER, latency_percentile, 0, set_tuner_number)	\
	X(tuner, TUNER, latency_classes, KEY_LIST, set_tuner_classes)	\
	X(tuner, TUNER, descriptors_pid_file, 0, set_tuner_pid_file)	\
	X(tuner, TUNER, descriptors_process, 0, set_tuner_process)	\
	X(tuner, TUNER, descriptors_reserve, 0, set_tuner_reserve)	\
	X(tuner, TUNER, descriptors_class, 0, set_tuner_class)		\
	X(tuner, TUNER, pressure_cpu, 0, set_tuner_pressure)		\
	X(tuner, TUNER, pressure_memory, 0, set_tuner_pressure)		\
	X(tuner, TUNER, pressure_classes, KEY_LIST, set_tuner_classes)	\
	X(metrics, METRICS, listen, 0, set_metrics_listen)		\
	X(fleet, FLEET, base, 0, set_ldap_string)			\
	X(fleet, FLEET, host, 0, set_fleet_host)			\
	X(fleet, FLEET, publish, 0, set_fleet_bool)			\
	X(fleet, FLEET, follow, 0, set_fleet_bool)			\
	X(fleet, FLEET, uri, 0, set_ldap_string)			\
	X(fleet, FLEET, starttls, 0, set_starttls)			\
	X(fleet, FLEET, ca_file, 0, set_ldap_path)			\
	X(fleet, FLEET, bind_dn, 0, set_ldap_string)			\
	X(fleet, FLEET, bind_password_file, 0, set_ldap_path)		\
	X(fleet, FLEET, sync, 0, set_sync)				\
	X(fleet, FLEET, poll_interval, 0, set_ldap_duration)		\
	X(fleet, FLEET, widest_ipv4_prefix, 0, set_fleet_prefix)	\
	X(fleet, FLEET, widest_ipv6_prefix, 0, set_fleet_prefix)

/* Each key's setter, declared from the same list (a setter serving
 * several keys is declared again, which C allows). */
#define KEY_PROTO(s, S, k, f, fn) static key_set_fn fn;
MXG_CONFIG_KEYS(KEY_PROTO)

#define KEY_DEF(s, S, k, f, fn) { SECT_##S, #k, f, fn },
static const struct key_def key_defs[] = { MXG_CONFIG_KEYS(KEY_DEF) };
#define NKEYS (sizeof(key_defs) / sizeof(key_defs[0]))
_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "struct parser has a line per key");

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


unsigned config_key_index(const struct key_def *k)
{
	return (unsigned)(k - key_defs);
}

const struct key_def *config_key_find(enum section sect, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (key_defs[i].sect == sect && !strcmp(key_defs[i].name, name))
			return &key_defs[i];
	return NULL;
}

void config_keys_list(enum section sect, char *buf, size_t len)
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
	struct mxg_config *cfg = p->cfg;
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

/* A value of an enum by its name; the message lists every name. */
static int set_enum(struct parser *p, const struct key_def *k,
		    const char *value, const struct mxg_names *names,
		    const char *what, uint32_t *dst)
{
	char allowed[128];

	if (!mxg_name_parse(names, value, dst))
		return 0;
	mxg_names_list(names, allowed, sizeof(allowed));
	return fail_value(p, k, value, "%s (allowed: %s)", what, allowed);
}

static int set_attach(struct parser *p, const struct key_def *k,
		      const char *value)
{
	uint32_t mode;
	int ret = set_enum(p, k, value, &mxg_attach_modes, "an attach mode",
			   &mode);

	if (!ret)
		p->cfg->attach = mode;
	return ret;
}

static int set_path(struct parser *p, const struct key_def *k,
		    const char *value)
{
	char *dst = !strcmp(k->name, "pin_dir") ? p->cfg->pin_dir :
						  p->cfg->cgroup;
	size_t len = strlen(value);

	/* Both sizes are 256 (struct mxg_config). */
	if (value[0] != '/' || len >= sizeof(p->cfg->pin_dir))
		return fail_value(p, k, value, "an absolute path "
				  "(allowed: /..., at most %zu characters)",
				  sizeof(p->cfg->pin_dir) - 1);
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
			  &p->cfg->max_sources))
		return fail_value(p, k, value, "a number in %d..%d",
				  MAX_SOURCES_MIN, MAX_SOURCES_MAX);
	return 0;
}

static int set_on_exit(struct parser *p, const struct key_def *k,
		       const char *value)
{
	uint32_t action;
	int ret = set_enum(p, k, value, &mxg_on_exit_actions,
			   "an exit action", &action);

	if (!ret)
		p->cfg->on_exit = action;
	return ret;
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
	struct mxg_lpm_key *rules = deny ? p->cfg->deny : p->cfg->allow;
	unsigned *n = deny ? &p->cfg->ndeny : &p->cfg->nallow;
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

/* ---- [ldap], [fleet] and [smtp_inspect] -------------------------------- */

/* The connection keys of [ldap] and [fleet] share their setters: the
 * fleet reaches its directory the same way (user/ldap_conn.h). */
static struct mxg_ldap_config *ldap_of(struct parser *p)
{
	return p->sect == SECT_FLEET ? &p->cfg->fleet.conn : &p->cfg->ldap;
}

/*
 * uri: one LDAP URI or several, separated by commas or blanks, tried in
 * order at every connection (libldap's own failover: ldap_initialize takes
 * the list, blank-separated, as stored here). Each is checked alone, so
 * the message names the one that is wrong.
 */
struct uri_ctx {
	struct item_ctx ic;
	struct mxg_ldap_config *l;
	unsigned n;
};

static int add_uri(const char *item, void *data)
{
	struct uri_ctx *u = data;
	struct parser *p = u->ic.p;
	const struct key_def *k = u->ic.k;
	size_t used = strlen(u->l->uri), len = strlen(item);

	if (strncmp(item, "ldap://", 7) && strncmp(item, "ldaps://", 8) &&
	    strncmp(item, "ldapi://", 8))
		return fail_value(p, k, item, "an LDAP URI (ldap://HOST[:PORT], ldaps://HOST[:PORT] or ldapi://PATH)");
	if (u->n >= MXG_LDAP_MAX_URIS)
		return fail(p, "%s %s: '%s' is one URI too many (at most %d)",
			    p->label, k->name, item, MXG_LDAP_MAX_URIS);
	if (used + !!used + len >= sizeof(u->l->uri))
		return fail(p, "%s %s: longer than %zu characters", p->label,
			    k->name, sizeof(u->l->uri) - 1);
	if (used)
		u->l->uri[used++] = ' ';
	memcpy(u->l->uri + used, item, len + 1);
	u->n++;
	return 0;
}

static int set_uri_list(struct parser *p, const struct key_def *k,
			const char *value, struct mxg_ldap_config *l)
{
	struct uri_ctx u = { { p, k }, l, 0 };
	int err;

	l->uri[0] = '\0';
	err = mxg_foreach_item(value, add_uri, &u);
	if (err == -ENOMEM)
		return fail(p, "out of memory");
	return err;
}

static int set_ldap_string(struct parser *p, const struct key_def *k,
			   const char *value)
{
	struct mxg_ldap_config *l = ldap_of(p);
	char *dst;
	size_t size;

	if (!strcmp(k->name, "uri")) {
		return set_uri_list(p, k, value, l);
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
	struct mxg_ldap_config *l = ldap_of(p);
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
	if (mxg_parse_bool(value, &ldap_of(p)->starttls))
		return fail_value(p, k, value, "yes or no");
	return 0;
}

static int add_attribute(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_ldap_config *l = &p->cfg->ldap;
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
	struct mxg_ldap_config *l = &p->cfg->ldap;
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
		p->cfg->ldap.nattributes = 0;
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
	return set_enum(p, k, value, &mxg_sync_modes, "a sync mode",
			&ldap_of(p)->sync);
}

static int set_ldap_duration(struct parser *p, const struct key_def *k,
			     const char *value)
{
	bool poll = !strcmp(k->name, "poll_interval");
	uint64_t *dst = poll ? &ldap_of(p)->poll_interval_ns :
			       &ldap_of(p)->max_age_ns;

	if (mxg_parse_duration(value, NSEC_PER_SEC, 30ULL * 86400 * NSEC_PER_SEC, dst))
		return fail_value(p, k, value, "a duration from 1s to 30d (examples: 60, 5m, 1h)");
	return 0;
}

static int set_inspect_mode(struct parser *p, const struct key_def *k,
			    const char *value)
{
	return set_enum(p, k, value, &mxg_inspect_modes,
			"an inspection mode", &p->cfg->inspect.mode);
}

static int set_inspect_number(struct parser *p, const struct key_def *k,
			      const char *value)
{
	struct mxg_inspect *in = &p->cfg->inspect;

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
	strcpy(p->cfg->recipient_delimiter, value);
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
	memcpy(p->cfg->lookup.socket, value, len + 1);
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
	p->cfg->lookup.mode = (uint32_t)mode;
	return 0;
bad:
	return fail_value(p, k, value, "an octal file mode (examples: 0666, 0660)");
}

int config_resolve_group(const char *name, uint32_t *gid)
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
	struct mxg_lookup_config *l = &p->cfg->lookup;

	if (!*value || strlen(value) >= sizeof(l->group) ||
	    config_resolve_group(value, &l->gid))
		return fail(p, "%s %s: '%s' is not a group on this host (a group name or number: the group the MTA runs as, e.g. postfix, Debian-exim)",
			    p->label, k->name, value);
	strcpy(l->group, value);
	p->lookup_group_line = p->lineno;
	return 0;
}

/* [lookup] without a socket serves nothing, and without [ldap] the mirror
 * it answers from never fills: every answer would be TEMP forever. */

/* ---- [fleet] ----------------------------------------------------------- */

static int set_fleet_host(struct parser *p, const struct key_def *k,
			  const char *value)
{
	struct mxg_fleet_config *f = &p->cfg->fleet;

	if (!mxg_fleet_host_valid(value))
		return fail_value(p, k, value, "a host name (1..%d of A-Z a-z 0-9 . -; example: mx1.example.org)",
				  MXG_FLEET_HOST_LEN - 1);
	strcpy(f->host, value);
	return 0;
}

static int set_fleet_bool(struct parser *p, const struct key_def *k,
			  const char *value)
{
	struct mxg_fleet_config *f = &p->cfg->fleet;

	if (mxg_parse_bool(value, !strcmp(k->name, "publish") ? &f->publish : &f->follow))
		return fail_value(p, k, value, "yes or no");
	return 0;
}

/* The widest prefix a peer may ban here: a ban of 0.0.0.0/0 by a broken or
 * hostile peer would stop all mail on every guard. */
static int set_fleet_prefix(struct parser *p, const struct key_def *k,
			    const char *value)
{
	struct mxg_fleet_config *f = &p->cfg->fleet;
	bool v4 = !strcmp(k->name, "widest_ipv4_prefix");
	uint32_t max = v4 ? 32 : 128, len;

	if (mxg_parse_u32(value, 0, max, &len))
		return fail_value(p, k, value, "a prefix length in 0..%u", max);
	if (v4)
		f->widest_ipv4_prefix = (uint8_t)len;
	else
		f->widest_ipv6_prefix = (uint8_t)len;
	return 0;
}

/* ---- [metrics] --------------------------------------------------------- */

static int set_metrics_listen(struct parser *p, const struct key_def *k,
			      const char *value)
{
	struct mxg_metrics_config *m = &p->cfg->metrics;

	if (strlen(value) >= sizeof(m->listen) ||
	    mxg_parse_listen(value, &m->addr))
		return fail_value(p, k, value, "an address and port to listen on (examples: 127.0.0.1:9910, [::1]:9910, 0.0.0.0:9910)");
	strcpy(m->listen, value);
	return 0;
}

/* ---- [tuner] ----------------------------------------------------------- */

static int set_tuner_enabled(struct parser *p, const struct key_def *k,
			     const char *value)
{
	if (mxg_parse_bool(value, &p->cfg->tuner.enabled))
		return fail_value(p, k, value, "yes or no");
	return 0;
}

/* "off" turns a signal off where the key allows it. */
static bool is_off(const char *value)
{
	return !strcasecmp(value, "off");
}

static int set_tuner_duration(struct parser *p, const struct key_def *k,
			      const char *value)
{
	static const struct {
		const char *key;
		uint64_t min, max;
		bool off;
		const char *what;
	} d[] = {
		{ "interval", NSEC_PER_SEC / 10, 60 * NSEC_PER_SEC, false,
		  "a duration from 100ms to 60s (examples: 1s, 500ms)" },
		{ "cooldown", 0, 3600 * NSEC_PER_SEC, false,
		  "a duration up to 1h (examples: 5s, 0)" },
		{ "latency_target", NSEC_PER_SEC / 1000, 60 * NSEC_PER_SEC, true,
		  "a duration from 1ms to 60s, or off (examples: 50ms, 200ms)" },
		{ "latency_timeout", NSEC_PER_SEC / 100, 60 * NSEC_PER_SEC, false,
		  "a duration from 10ms to 60s (examples: 1s, 500ms)" },
	};
	struct mxg_tuner_config *t = &p->cfg->tuner;
	uint64_t *dst[] = { &t->interval_ns, &t->cooldown_ns,
			    &t->latency_target_ns, &t->latency_timeout_ns };
	size_t i;

	for (i = 0; strcmp(d[i].key, k->name); i++)
		;
	if (d[i].off && is_off(value)) {
		*dst[i] = 0;
		return 0;
	}
	if (mxg_parse_duration(value, d[i].min, d[i].max, dst[i]))
		return fail_value(p, k, value, "%s", d[i].what);
	return 0;
}

/* Scales and gains: a decimal fraction ("0.1"), stored in permille. */
static int set_tuner_fraction(struct parser *p, const struct key_def *k,
			      const char *value)
{
	static const struct {
		const char *key;
		uint64_t min, max;
		const char *what;
	} f[] = {
		{ "floor", 10, 1000, "a scale from 0.01 to 1 (example: 0.1)" },
		{ "decrease", 100, 950, "a factor from 0.1 to 0.95 (example: 0.5)" },
		{ "increase", 1, 1000, "a step from 0.001 to 1 (example: 0.05)" },
		{ "recover_at", 100, 1000, "a fraction of the target from 0.1 to 1 (example: 0.8)" },
	};
	struct mxg_tuner_config *t = &p->cfg->tuner;
	uint32_t *dst[] = { &t->floor_permille, &t->decrease_permille,
			    &t->increase_permille, &t->recover_permille };
	uint64_t v;
	size_t i;

	for (i = 0; strcmp(f[i].key, k->name); i++)
		;
	if (mxg_parse_fixed(value, 3, f[i].min, f[i].max, &v))
		return fail_value(p, k, value, "%s", f[i].what);
	*dst[i] = (uint32_t)v;
	return 0;
}

static int set_tuner_number(struct parser *p, const struct key_def *k,
			    const char *value)
{
	struct mxg_tuner_config *t = &p->cfg->tuner;

	if (!strcmp(k->name, "latency_window")) {
		if (mxg_parse_u32(value, 2, 64, &t->latency_window))
			return fail_value(p, k, value, "a number of probes in 2..64");
		return 0;
	}
	if (mxg_parse_u32(value, 50, 100, &t->latency_percentile))
		return fail_value(p, k, value, "a percentile in 50..100");
	return 0;
}

static int add_tuner_class(const char *item, void *data)
{
	struct item_ctx *ic = data;
	struct parser *p = ic->p;
	struct mxg_tuner_config *t = &p->cfg->tuner;
	bool latency = !strcmp(ic->k->name, "latency_classes");
	char (*names)[MXG_CLASS_NAME_LEN] = latency ? t->latency_classes :
						      t->pressure_classes;
	unsigned *n = latency ? &t->nlatency_classes : &t->npressure_classes;

	if (mxg_check_class_name(item))
		return fail_value(p, ic->k, item, "a class name");
	for (unsigned i = 0; i < *n; i++)
		if (!strcmp(names[i], item))
			return fail(p, "%s %s: '%s' is given twice", p->label,
				    ic->k->name, item);
	if (*n >= MXG_MAX_CLASSES)
		return fail(p, "%s %s: at most %d classes", p->label,
			    ic->k->name, MXG_MAX_CLASSES);
	strcpy(names[(*n)++], item);
	return 0;
}

/* Checked against the classes at the end: they may come later. */
static int set_tuner_classes(struct parser *p, const struct key_def *k,
			     const char *value)
{
	return add_items(p, k, value, add_tuner_class);
}

static int set_tuner_class(struct parser *p, const struct key_def *k,
			   const char *value)
{
	if (mxg_check_class_name(value))
		return fail_value(p, k, value, "a class name");
	strcpy(p->cfg->tuner.descriptors_class, value);
	return 0;
}

static int set_tuner_pid_file(struct parser *p, const struct key_def *k,
			      const char *value)
{
	struct mxg_tuner_config *t = &p->cfg->tuner;

	if (is_off(value)) {
		t->descriptors_pid_file[0] = '\0';
		return 0;
	}
	if (value[0] != '/' || strlen(value) >= sizeof(t->descriptors_pid_file))
		return fail_value(p, k, value, "an absolute path or off "
				  "(example: /run/slapd/slapd.pid)");
	strcpy(t->descriptors_pid_file, value);
	return 0;
}

/* The name the kernel keeps for the process (/proc/PID/comm). */
static int set_tuner_process(struct parser *p, const struct key_def *k,
			     const char *value)
{
	size_t len = strlen(value);

	if (!len || len >= MXG_DESC_PROCESS_LEN ||
	    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789._+:-") != len)
		return fail_value(p, k, value, "a process name as /proc/PID/comm "
				  "shows it (1..15 of A-Z a-z 0-9 . _ + : -; example: slapd)");
	strcpy(p->cfg->tuner.descriptors_process, value);
	return 0;
}

/* "64" descriptors, or "10%" of the directory's limit. */
static int set_tuner_reserve(struct parser *p, const struct key_def *k,
			     const char *value)
{
	struct mxg_tuner_config *t = &p->cfg->tuner;
	size_t len = strlen(value);
	char num[32];
	uint64_t v;

	if (len && len < sizeof(num) && value[len - 1] == '%') {
		memcpy(num, value, len - 1);
		num[len - 1] = '\0';
		if (mxg_parse_fixed(num, 2, 1, 9000, &v))
			goto bad;
		t->descriptors_reserve = (uint32_t)v;
		t->descriptors_reserve_pct = true;
		return 0;
	}
	if (mxg_parse_u32(value, 1, 1000000, &t->descriptors_reserve))
		goto bad;
	t->descriptors_reserve_pct = false;
	return 0;
bad:
	return fail_value(p, k, value, "a number of descriptors (1..1000000) "
			  "or a percentage of the directory's limit up to 90%% "
			  "(examples: 64, 10%%)");
}

/* Percent of "some avg10" ("40", "40%", "12.5%"), or off. */
static int set_tuner_pressure(struct parser *p, const struct key_def *k,
			      const char *value)
{
	struct mxg_tuner_config *t = &p->cfg->tuner;
	uint32_t *dst = !strcmp(k->name, "pressure_cpu") ?
			&t->pressure_cpu_centi : &t->pressure_memory_centi;
	size_t len = strlen(value);
	char num[32];
	uint64_t v;

	if (is_off(value)) {
		*dst = 0;
		return 0;
	}
	if (!len || len >= sizeof(num))
		goto bad;
	memcpy(num, value, len + 1);
	if (num[len - 1] == '%')
		num[len - 1] = '\0';
	if (mxg_parse_fixed(num, 2, 1, 10000, &v))
		goto bad;
	*dst = (uint32_t)v;
	return 0;
bad:
	return fail_value(p, k, value, "a percentage of time stalled from "
			  "0.01 to 100, or off (examples: 40%%, 12.5)");
}

void config_defaults(struct parser *p)
{
	struct mxg_config *cfg = p->cfg;
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
	cfg->fleet.publish = true;
	cfg->fleet.follow = true;
	cfg->fleet.conn.sync = MXG_SYNC_SYNCREPL;
	cfg->fleet.conn.poll_interval_ns = 5 * NSEC_PER_SEC;
	cfg->fleet.widest_ipv4_prefix = MXG_FLEET_DEFAULT_WIDEST_V4;
	cfg->fleet.widest_ipv6_prefix = MXG_FLEET_DEFAULT_WIDEST_V6;
	/* docs/design.md says why these gains. */
	cfg->tuner.interval_ns = NSEC_PER_SEC;
	cfg->tuner.floor_permille = 100;
	cfg->tuner.decrease_permille = 500;
	cfg->tuner.increase_permille = 50;
	cfg->tuner.recover_permille = 800;
	cfg->tuner.cooldown_ns = 5 * NSEC_PER_SEC;
	cfg->tuner.latency_target_ns = 50 * NSEC_PER_SEC / 1000;
	cfg->tuner.latency_timeout_ns = NSEC_PER_SEC;
	cfg->tuner.latency_window = 10;
	cfg->tuner.latency_percentile = 90;
	strcpy(cfg->tuner.descriptors_process, "slapd");
	cfg->tuner.descriptors_reserve = 1000;	/* 10% */
	cfg->tuner.descriptors_reserve_pct = true;
	strcpy(cfg->tuner.descriptors_class, "ldap");
}


/* ---- one class limit alone (mxguardctl limit set) ---------------------- */

int mxg_class_limit_set(struct mxg_class_config *c, const char *key,
			const char *value, const char *where, char *err,
			size_t errlen)
{
	const struct key_def *k = config_key_find(SECT_CLASS, key);
	/* Only what a class setter reads: no file, no line, no config. */
	struct parser p = {
		.name = where,
		.sect = SECT_CLASS,
		.cls = c,
		.err = err,
		.errlen = errlen,
	};

	if (err && errlen)
		err[0] = '\0';
	if (!k || !(k->flags & KEY_LIMIT))
		return -ENOENT;
	snprintf(p.label, sizeof(p.label), "[class %.*s]",
		 (int)sizeof(c->name), c->name);
	return k->set(&p, k, value);
}

void mxg_class_limit_keys(char *buf, size_t len)
{
	size_t i, off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < NKEYS && off < len; i++)
		if (key_defs[i].flags & KEY_LIMIT)
			off += snprintf(buf + off, len - off, "%s%s",
					off ? ", " : "", key_defs[i].name);
}
