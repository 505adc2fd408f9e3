/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard.conf's whole-file checks: what no single key can say alone (a
 * class without ports, a port in two classes, [ldap] keys that need each
 * other, [lookup] without [ldap]), and what a class's defaults depend on
 * (its burst from its rate), run once every key has been read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "fleet_entry.h"

static int check_classes(struct parser *p)
{
	unsigned i;

	for (i = 0; i < p->cfg->nclasses; i++) {
		struct mxg_class_config *c = &p->cfg->classes[i];

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

	return 0;
}

/* A port belongs to one class. */
static int check_ports(struct parser *p)
{
	/* Class index + 1 per port, 0 = free. */
	uint8_t *port_owner = calloc(MXG_PORTS, sizeof(*port_owner));
	unsigned i, j;

	if (!port_owner)
		return fail_at(p, 0, "out of memory");
	for (i = 0; i < p->cfg->nclasses; i++) {
		struct mxg_class_config *c = &p->cfg->classes[i];

		for (j = 0; j < c->nports; j++) {
			unsigned port = c->ports[j], blame = i, other;

			if (!port_owner[port]) {
				port_owner[port] = (uint8_t)(i + 1);
				continue;
			}
			/* Blame the class whose ports come later in the
			 * file; defaults (line 0) are never the culprit. */
			other = port_owner[port] - 1u;
			if (p->ports_line[other] > p->ports_line[blame]) {
				blame = other;
				other = i;
			}
			fail_at(p, p->ports_line[blame],
				"[class %s] ports: port %u is also in "
				"[class %s] (a port belongs to one class)",
				p->cfg->classes[blame].name, port,
				p->cfg->classes[other].name);
			goto out;
		}
	}
out:
	free(port_owner);
	return p->failed ? -EINVAL : 0;
}

/* [metrics] serves nothing without an address. */
static int check_metrics(struct parser *p)
{
	if (p->cfg->metrics.enabled && !p->cfg->metrics.listen[0])
		return fail_at(p, p->metrics_line, "[metrics]: listen is required (example: listen = 127.0.0.1:9910)");
	return 0;
}

/* [lookup] without a socket serves nothing, and without [ldap] the mirror
 * it answers from never fills: every answer would be TEMP forever. */
static int check_lookup(struct parser *p)
{
	struct mxg_lookup_config *l = &p->cfg->lookup;

	if (!l->enabled)
		return 0;
	if (!l->socket[0])
		return fail_at(p, p->lookup_line, "[lookup]: socket is required (example: socket = /run/mxguard/lookup.sock)");
	if (!p->cfg->ldap.enabled)
		return fail_at(p, p->lookup_line, "[lookup]: needs an [ldap] section (the answers come from its mirror)");
	/* The default group must exist too: a socket the MTA cannot open
	 * would answer nothing, found only in the MTA's log. */
	if (!p->lookup_group_line) {
		if (config_resolve_group(MXG_LOOKUP_DEFAULT_GROUP, &l->gid))
			return fail_at(p, p->lookup_line, "[lookup] group: the default group '" MXG_LOOKUP_DEFAULT_GROUP "' is not on this host (set group = the group the MTA runs as, e.g. Debian-exim for Exim)");
		strcpy(l->group, MXG_LOOKUP_DEFAULT_GROUP);
	}
	return 0;
}

/* Where an [ldap] key was given, else the section header. */
static unsigned ldap_line_of(struct parser *p, const char *name)
{
	unsigned line = p->sect_key_line[config_key_index(config_key_find(SECT_LDAP, name))];

	return line ? line : p->ldap_line;
}

/* The [ldap] keys that only make sense together. */
static int check_ldap(struct parser *p)
{
	struct mxg_ldap_config *l = &p->cfg->ldap;

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
	if (l->starttls && (!strncmp(l->uri, "ldaps://", 8) || strstr(l->uri, " ldaps://")))
		return fail_at(p, LINE_OF("starttls"), "[ldap] starttls: not with an ldaps:// uri (it is TLS already)");
	if (l->sync == MXG_SYNC_POLL && l->max_age_ns <= l->poll_interval_ns)
		return fail_at(p, LINE_OF("max_age"), "[ldap] max_age: must be longer than poll_interval, or the mirror is stale between two polls");
#undef LINE_OF
	return 0;
}

/* Where a [tuner] key was given, else the section header. */
static unsigned tuner_line_of(struct parser *p, const char *name)
{
	unsigned line = p->sect_key_line[config_key_index(config_key_find(SECT_TUNER, name))];

	return line ? line : p->tuner_line;
}

static bool class_exists(const struct mxg_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->nclasses; i++)
		if (!strcmp(cfg->classes[i].name, name))
			return true;
	return false;
}

static int check_tuner_classes(struct parser *p, const char *key,
			       char (*names)[MXG_CLASS_NAME_LEN], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!class_exists(p->cfg, names[i]))
			return fail_at(p, tuner_line_of(p, key), "[tuner] %s: '%s' is no class of this file", key, names[i]);
	return 0;
}

/* The directory's latency needs the directory; the class lists name
 * classes; the probe's timeout is above its target. */
static int check_tuner(struct parser *p)
{
	struct mxg_tuner_config *t = &p->cfg->tuner;

#define LINE_OF(name) tuner_line_of(p, name)
	if (!p->tuner_line)
		return 0;
	if (!p->cfg->ldap.enabled) {
		if (p->sect_key_line[config_key_index(config_key_find(SECT_TUNER, "latency_target"))] &&
		    t->latency_target_ns)
			return fail_at(p, LINE_OF("latency_target"), "[tuner] latency_target: needs an [ldap] section (the directory it probes)");
		t->latency_target_ns = 0;
	}
	if (t->latency_target_ns && t->latency_timeout_ns <= t->latency_target_ns)
		return fail_at(p, LINE_OF("latency_timeout"), "[tuner] latency_timeout: must be longer than latency_target, or every probe that times out would read as on target");
	if (check_tuner_classes(p, "latency_classes", t->latency_classes, t->nlatency_classes) ||
	    check_tuner_classes(p, "pressure_classes", t->pressure_classes, t->npressure_classes))
		return -EINVAL;
	if (t->descriptors_pid_file[0] && !class_exists(p->cfg, t->descriptors_class))
		return fail_at(p, LINE_OF("descriptors_class"), "[tuner] descriptors_class: '%s' is no class of this file (the class of the directory's ports)", t->descriptors_class);
#undef LINE_OF
	return 0;
}

static unsigned fleet_line_of(struct parser *p, const char *name)
{
	unsigned line = p->sect_key_line[config_key_index(config_key_find(SECT_FLEET, name))];

	return line ? line : p->fleet_line;
}

/*
 * [fleet]: the connection keys not given take [ldap]'s, one by one (the
 * fleet usually binds as another account, one allowed to write its own
 * entries, but reaches the same servers); then the rules of [ldap] hold.
 */
static int check_fleet(struct parser *p)
{
	struct mxg_fleet_config *f = &p->cfg->fleet;
	struct mxg_ldap_config *c = &f->conn;
	const struct mxg_ldap_config *l = &p->cfg->ldap;

#define GIVEN(name) (p->sect_key_line[config_key_index(config_key_find(SECT_FLEET, name))] != 0)
#define LINE_OF(name) fleet_line_of(p, name)
	if (!f->enabled)
		return 0;
	if (!c->base[0])
		return fail_at(p, p->fleet_line, "[fleet]: base is required (example: base = ou=fleet,dc=example,dc=org)");
	if (l->enabled) {
		if (!GIVEN("uri"))
			strcpy(c->uri, l->uri);
		if (!GIVEN("starttls"))
			c->starttls = l->starttls;
		if (!GIVEN("ca_file"))
			strcpy(c->ca_file, l->ca_file);
		/* A bind account is one DN with its password: never the DN
		 * of one section with the password of the other. */
		if (!GIVEN("bind_dn") && !GIVEN("bind_password_file")) {
			strcpy(c->bind_dn, l->bind_dn);
			strcpy(c->bind_password_file, l->bind_password_file);
		}
	}
	if (!c->uri[0])
		return fail_at(p, p->fleet_line, "[fleet]: uri is required when there is no [ldap] to take it from (example: uri = ldap://127.0.0.1/)");
	if (c->bind_dn[0] && !c->bind_password_file[0])
		return fail_at(p, LINE_OF("bind_dn"), "[fleet] bind_dn: needs bind_password_file");
	if (!c->bind_dn[0] && c->bind_password_file[0])
		return fail_at(p, LINE_OF("bind_password_file"), "[fleet] bind_password_file: needs bind_dn");
	if (c->starttls && (!strncmp(c->uri, "ldaps://", 8) || strstr(c->uri, " ldaps://")))
		return fail_at(p, LINE_OF("starttls"), "[fleet] starttls: not with an ldaps:// uri (it is TLS already)");
	if (!f->publish && !f->follow)
		return fail_at(p, LINE_OF("follow"), "[fleet] publish and follow: both are no (remove the section instead)");
	if (!f->host[0]) {
		char name[256];

		if (gethostname(name, sizeof(name)) || !mxg_fleet_host_valid(name))
			return fail_at(p, p->fleet_line, "[fleet] host: this host's name cannot name it in the fleet (1..%d of A-Z a-z 0-9 . -); set host",
				       MXG_FLEET_HOST_LEN - 1);
		strcpy(f->host, name);
	}
#undef LINE_OF
#undef GIVEN
	return 0;
}

int config_check(struct parser *p)
{
	if (!p->failed)
		check_classes(p);
	if (!p->failed)
		check_ports(p);
	if (!p->failed)
		check_ldap(p);
	if (!p->failed)
		check_lookup(p);
	if (!p->failed)
		check_tuner(p);
	if (!p->failed)
		check_metrics(p);
	if (!p->failed)
		check_fleet(p);
	return p->failed ? -EINVAL : 0;
}
