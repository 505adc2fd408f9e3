/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for user/config.c: defaults, overrides, lists over several
 * lines, every kind of error with the line it names, the guarantee that a
 * bad file leaves the caller's config untouched, and one class limit set
 * alone as mxguardctl does (the numbers the BPF side gets from a class
 * are test_class_limits.c's).
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "parse.h"

#include "unit/unit.h"
#define NAME "t.conf"

/* struct mxg_config is large (the rule lists): one per test, on the heap. */
static int setup(void **state)
{
	*state = calloc(1, sizeof(struct mxg_config));
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static const struct mxg_class_config *class_by_name(
	const struct mxg_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nclasses; i++)
		if (!strcmp(cfg->classes[i].name, name))
			return &cfg->classes[i];
	return NULL;
}

static void load_ok(struct mxg_config *cfg, const char *text)
{
	char err[512] = "";
	int ret = mxg_config_load_string(NAME, text, cfg, err, sizeof(err));

	if (ret)
		fail_msg("config refused (%d): %s\n--- config:\n%s", ret, err,
			 text);
	assert_string_equal(err, "");
}

static void test_defaults(void **state)
{
	struct mxg_config *cfg = *state;
	const struct mxg_class_config *smtp, *ldap;

	load_ok(cfg, "");
	assert_string_equal(cfg->path, NAME);
	assert_int_equal(cfg->nifaces, 0);
	assert_int_equal(cfg->attach, MXG_ATTACH_AUTO);
	assert_string_equal(cfg->pin_dir, MXG_DEFAULT_PIN_DIR);
	assert_string_equal(cfg->cgroup, "");
	assert_int_equal(cfg->max_sources, MXG_DEFAULT_MAX_SOURCES);
	assert_int_equal(cfg->on_exit, MXG_ON_EXIT_DETACH);
	assert_int_equal(cfg->nallow, 0);
	assert_int_equal(cfg->ndeny, 0);

	assert_int_equal(cfg->nclasses, 2);
	smtp = &cfg->classes[0];
	assert_string_equal(smtp->name, "smtp");
	assert_int_equal(smtp->nports, 3);
	assert_int_equal(smtp->ports[0], 25);
	assert_int_equal(smtp->ports[1], 465);
	assert_int_equal(smtp->ports[2], 587);
	assert_int_equal(smtp->rate_milli, 10000);
	assert_int_equal(smtp->burst, 20);
	assert_int_equal(smtp->source_conns, 0);
	assert_int_equal(smtp->total_conns, 0);
	assert_int_equal(smtp->ipv4_prefix, 32);
	assert_int_equal(smtp->ipv6_prefix, 64);
	assert_int_equal(smtp->new_sources_milli, 200000);
	assert_int_equal(smtp->new_sources_burst, 1000);

	ldap = &cfg->classes[1];
	assert_string_equal(ldap->name, "ldap");
	assert_int_equal(ldap->nports, 2);
	assert_int_equal(ldap->ports[0], 389);
	assert_int_equal(ldap->ports[1], 636);
	assert_int_equal(ldap->rate_milli, 50000);
	assert_int_equal(ldap->burst, 100);
	assert_int_equal(ldap->source_conns, 0);
	assert_int_equal(ldap->total_conns, 0);
	assert_int_equal(ldap->ipv4_prefix, 32);
	assert_int_equal(ldap->ipv6_prefix, 64);
	assert_int_equal(ldap->new_sources_milli, 50000);
	assert_int_equal(ldap->new_sources_burst, 500);

	/* Comments and blank lines only: still the defaults. */
	load_ok(cfg, "# nothing\n; here\n\n   \n");
	assert_int_equal(cfg->nclasses, 2);

	/* A trailing '/' is dropped: "/sys/fs/bpf/" must reach the loader as
	 * /sys/fs/bpf, which it refuses as the bpffs root. */
	load_ok(cfg, "[global]\npin_dir = /sys/fs/bpf//\ncgroup = /\n");
	assert_string_equal(cfg->pin_dir, "/sys/fs/bpf");
	assert_string_equal(cfg->cgroup, "/");
}

static void test_full(void **state)
{
	struct mxg_config *cfg = *state;
	const struct mxg_class_config *c;
	char buf[MXG_CIDR_STRLEN];

	load_ok(cfg,
		"\xEF\xBB\xBF# a BOM and a comment\n"
		"[global]\n"
		"interfaces = eth0, eth1.100 bond0:1\n"
		"attach = xdp-generic\n"
		"pin_dir = /sys/fs/bpf/mxg-test ; inline comment\n"
		"cgroup: /sys/fs/cgroup/mail\n"
		"max_sources = 1024\n"
		"on_exit = keep\n"
		"\n"
		"[class smtp]\n"
		"rate = 5/s\n"
		"source_conns = 10\n"
		"total_conns = 500\n"
		"ipv4_prefix = 24\n"
		"ipv6_prefix = 48\n"
		"\n"
		"[class ldap]\n"
		"ports = 389\n"
		"rate = off\n"
		"burst = 1\n"
		"total_conns = 900\n"
		"source_conns = unlimited\n"
		"\n"
		"[class submission]\n"
		"ports = 2525\n"
		"rate = 2.5/s\n"
		"\n"
		"[ class  ldaps ]\n"
		"ports = 636\n"
		"rate = 30/min\n"
		"burst = 7\n"
		"\n"
		"[allow]\n"
		"cidr = 127.0.0.0/8, ::1\n"
		"\n"
		"[deny]\n"
		"cidr = 198.18.0.0/15\n"
		"cidr = 2001:db8::/32 192.0.2.7\n");

	assert_int_equal(cfg->nifaces, 3);
	assert_string_equal(cfg->ifaces[0], "eth0");
	assert_string_equal(cfg->ifaces[1], "eth1.100");
	assert_string_equal(cfg->ifaces[2], "bond0:1");
	assert_int_equal(cfg->attach, MXG_ATTACH_XDP_GENERIC);
	assert_string_equal(cfg->pin_dir, "/sys/fs/bpf/mxg-test");
	assert_string_equal(cfg->cgroup, "/sys/fs/cgroup/mail");
	assert_int_equal(cfg->max_sources, 1024);
	assert_int_equal(cfg->on_exit, MXG_ON_EXIT_KEEP);

	assert_int_equal(cfg->nclasses, 4);
	c = class_by_name(cfg, "smtp");
	assert_non_null(c);
	assert_int_equal(c->nports, 3);		/* ports not given: default */
	assert_int_equal(c->rate_milli, 5000);
	assert_int_equal(c->burst, 20);		/* burst not given: default */
	assert_int_equal(c->source_conns, 10);
	assert_int_equal(c->total_conns, 500);
	assert_int_equal(c->ipv4_prefix, 24);
	assert_int_equal(c->ipv6_prefix, 48);

	c = class_by_name(cfg, "ldap");
	assert_non_null(c);
	assert_int_equal(c->nports, 1);
	assert_int_equal(c->ports[0], 389);
	assert_int_equal(c->rate_milli, 0);
	assert_int_equal(c->burst, 1);
	assert_int_equal(c->source_conns, 0);
	assert_int_equal(c->total_conns, 900);

	/* New classes come after the defaults, in file order. */
	c = &cfg->classes[2];
	assert_string_equal(c->name, "submission");
	assert_int_equal(c->nports, 1);
	assert_int_equal(c->ports[0], 2525);
	assert_int_equal(c->rate_milli, 2500);
	assert_int_equal(c->burst, 3);		/* ceil(2.5) */
	assert_int_equal(c->source_conns, 0);
	assert_int_equal(c->ipv4_prefix, 32);
	assert_int_equal(c->ipv6_prefix, 64);

	c = &cfg->classes[3];
	assert_string_equal(c->name, "ldaps");
	assert_int_equal(c->rate_milli, 500);
	assert_int_equal(c->burst, 7);

	assert_int_equal(cfg->nallow, 2);
	mxg_format_cidr(&cfg->allow[0], buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.0/8");
	mxg_format_cidr(&cfg->allow[1], buf, sizeof(buf));
	assert_string_equal(buf, "::1/128");
	assert_int_equal(cfg->ndeny, 3);
	mxg_format_cidr(&cfg->deny[0], buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.0/15");
	mxg_format_cidr(&cfg->deny[1], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/32");
	mxg_format_cidr(&cfg->deny[2], buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7/32");
}

static void test_new_class_burst(void **state)
{
	static const struct {
		const char *rate;
		uint32_t burst;
	} cases[] = {
		{ "off", 1 }, { "unlimited", 1 }, { "0.5/s", 1 },
		{ "1/s", 1 }, { "1.001/s", 2 }, { "10", 10 }, { "100/min", 2 },
	};
	struct mxg_config *cfg = *state;
	char text[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text),
			 "[class x]\nports = 10025\nrate = %s\n",
			 cases[i].rate);
		load_ok(cfg, text);
		assert_int_equal(cfg->nclasses, 3);
		assert_int_equal(cfg->classes[2].burst, cases[i].burst);
	}

	/* A new class without a rate is not rate limited. */
	load_ok(cfg, "[class x]\nports = 10025\n");
	assert_int_equal(cfg->classes[2].rate_milli, 0);
	assert_int_equal(cfg->classes[2].burst, 1);
	/* nor limited in new sources */
	assert_int_equal(cfg->classes[2].new_sources_milli, 0);
	assert_int_equal(cfg->classes[2].new_sources_burst, 1);
}

/* new_sources and new_sources_burst: the rate syntax, off, and the burst
 * that follows the rate unless given. */
static void test_new_sources(void **state)
{
	static const struct {
		const char *text;
		uint32_t milli, burst;
	} cases[] = {
		/* a default class keeps its default burst */
		{ "[class smtp]\nnew_sources = 50/s\n", 50000, 1000 },
		{ "[class smtp]\nnew_sources = off\n", 0, 1000 },
		{ "[class smtp]\nnew_sources = unlimited\n", 0, 1000 },
		{ "[class smtp]\nnew_sources = 600/min\nnew_sources_burst = 30\n",
		  10000, 30 },
		{ "[class ldap]\nnew_sources_burst = 7\n", 50000, 7 },
		{ "[class ldap]\nnew_sources = 0.5/s\nnew_sources_burst = 1\n",
		  500, 1 },
		/* a new class: one second's worth, as burst */
		{ "[class x]\nports = 10025\nnew_sources = 30/s\n", 30000, 30 },
		{ "[class x]\nports = 10025\nnew_sources = 100/h\n", 28, 1 },
		{ "[class x]\nports = 10025\nnew_sources = 5\n"
		  "new_sources_burst = 40\n", 5000, 40 },
	};
	struct mxg_config *cfg = *state;
	const struct mxg_class_config *c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *name = strstr(cases[i].text, "[class x]") ? "x" :
				   strstr(cases[i].text, "[class ldap]") ? "ldap" :
				   "smtp";

		load_ok(cfg, cases[i].text);
		c = class_by_name(cfg, name);
		assert_non_null(c);
		if (c->new_sources_milli != cases[i].milli ||
		    c->new_sources_burst != cases[i].burst)
			fail_msg("case %zu: %u/%u, wanted %u/%u:\n%s", i,
				 c->new_sources_milli, c->new_sources_burst,
				 cases[i].milli, cases[i].burst, cases[i].text);
	}
}

static void test_multiline(void **state)
{
	struct mxg_config *cfg = *state;
	const struct mxg_class_config *c;

	load_ok(cfg,
		"[global]\n"
		"interfaces = eth0\n"
		"    eth1, eth2 ; the backup links\n"
		"\teth3\n"
		"  # an indented comment is a comment\n"
		"    eth4\n"
		"[class smtp]\n"
		"ports = 25\n"
		"  465\n"
		"  587, 2525\n"
		"[allow]\n"
		"cidr = 10.0.0.0/8\n"
		"  192.168.0.0/16, 172.16.0.0/12\n"
		"cidr = fd00::/8\n"
		"cidr =\n"
		"[deny]\n"
		"cidr = 203.0.113.0/24\n");
	assert_int_equal(cfg->nifaces, 5);
	assert_string_equal(cfg->ifaces[1], "eth1");
	assert_string_equal(cfg->ifaces[2], "eth2");
	assert_string_equal(cfg->ifaces[3], "eth3");
	assert_string_equal(cfg->ifaces[4], "eth4");
	c = class_by_name(cfg, "smtp");
	assert_int_equal(c->nports, 4);
	assert_int_equal(c->ports[3], 2525);
	assert_int_equal(cfg->nallow, 4);
	assert_int_equal(cfg->ndeny, 1);

	/* An empty interface list is allowed here (mxguardd refuses it). */
	load_ok(cfg, "[global]\ninterfaces =\n");
	assert_int_equal(cfg->nifaces, 0);
}

struct bad_case {
	const char *text;
	unsigned line;		/* 0: the message has no line */
	const char *want;	/* a part of the message after "t.conf:N: " */
};

static const struct bad_case bad_cases[] = {
	/* structure */
	{ "attach = xdp\n", 1, "attach: key outside of a section "
	  "(sections: [global], [class NAME], [allow], [deny], [ldap], "
	  "[smtp_inspect], [lookup], [tuner], [metrics], [fleet])" },
	{ "[global]\njunk\n", 2, "expected 'key = value', '[section]' or "
	  "a comment" },
	{ "[global\nattach = xdp\n", 1, "section header without ']'" },
	{ "[global] x\n", 1, "unexpected text after ']'" },
	{ "[tune]\nenabled = yes\n", 1, "[tune]: unknown section (allowed: "
	  "[global], [class NAME], [allow], [deny], [ldap], [smtp_inspect], "
	  "[lookup], [tuner], [metrics], [fleet])" },

	/* [metrics] */
	{ "[metrics]\nlisten = localhost:9910\n", 2, "[metrics] listen: 'localhost:9910' is not an address and port" },
	{ "[metrics]\nlisten = ::1:9910\n", 2, "[metrics] listen: '::1:9910' is not" },
	{ "[metrics]\n", 1, "[metrics]: listen is required" },

	/* [tuner] */
	{ "[tuner]\nfloor = 0\n", 2, "[tuner] floor: '0' is not a scale from 0.01 to 1" },
	{ "[tuner]\nfloor = 0.0001\n", 2, "[tuner] floor: '0.0001' is not a scale" },
	{ "[tuner]\ndecrease = 1\n", 2, "[tuner] decrease: '1' is not a factor from 0.1 to 0.95" },
	{ "[tuner]\ninterval = 10ms\n", 2, "[tuner] interval: '10ms' is not a duration from 100ms to 60s" },
	{ "[tuner]\npressure_cpu = 101\n", 2, "[tuner] pressure_cpu: '101' is not a percentage" },
	{ "[tuner]\npressure_cpu = 40%%\n", 2, "[tuner] pressure_cpu: '40%%' is not a percentage" },
	{ "[tuner]\ndescriptors_reserve = 95%\n", 2, "[tuner] descriptors_reserve: '95%' is not a number of descriptors" },
	{ "[tuner]\ndescriptors_reserve = 0\n", 2, "[tuner] descriptors_reserve: '0' is not" },
	{ "[tuner]\ndescriptors_pid_file = run/slapd.pid\n", 2, "[tuner] descriptors_pid_file: 'run/slapd.pid' is not an absolute path" },
	{ "[tuner]\ndescriptors_process = /usr/sbin/slapd\n", 2, "[tuner] descriptors_process: '/usr/sbin/slapd' is not a process name" },
	{ "[tuner]\nlatency_classes = smtp\n  nope\n", 2, "[tuner] latency_classes: 'nope' is no class of this file" },
	{ "[tuner]\npressure_classes = smtp smtp\n", 2, "[tuner] pressure_classes: 'smtp' is given twice" },
	{ "[tuner]\ndescriptors_pid_file = /run/slapd/slapd.pid\ndescriptors_class = dir\n", 3, "[tuner] descriptors_class: 'dir' is no class of this file" },
	{ "[tuner]\nlatency_target = 50ms\n", 2, "[tuner] latency_target: needs an [ldap] section" },
	{ "[ldap]\nuri = ldap://198.18.0.1/\nbase = dc=x\ndomains = x.org\n[tuner]\nlatency_target = 2s\n", 5, "[tuner] latency_timeout: must be longer than latency_target" },
	{ "[tuner]\nlatency_window = 1\n", 2, "[tuner] latency_window: '1' is not a number of probes in 2..64" },
	{ "[tuner]\nlatency_percentile = 40\n", 2, "[tuner] latency_percentile: '40' is not a percentile in 50..100" },
	{ "[tuner]\n[tuner]\n", 2, "[tuner] is given twice" },

	/* [ldap] */
	{ "[ldap]\nbase = dc=x\ndomains = x.org\n", 1, "[ldap]: uri is required" },
	{ "[ldap]\nuri = ldap://h/\ndomains = x.org\n", 1, "[ldap]: base is required" },
	{ "[ldap]\nuri = ldap://h/\nbase = dc=x\n", 1, "[ldap] domains: at least one local domain" },
	{ "[ldap]\nuri = http://h/\n", 2, "[ldap] uri: 'http://h/' is not an LDAP URI" },
	{ "[ldap]\nuri = ldap://a/, http://b/\n", 2, "[ldap] uri: 'http://b/' is not an LDAP URI" },
	{ "[ldap]\nuri = ldap://a/ ldap://b/ ldap://c/ ldap://d/ ldap://e/ ldap://f/ ldap://g/ ldap://h/ ldap://i/\n", 2,
	  "[ldap] uri: 'ldap://i/' is one URI too many (at most 8)" },
	{ "[ldap]\nuri = ldap://a/, ldaps://b/\nbase = dc=x\ndomains = x.org\nstarttls = yes\n", 5,
	  "[ldap] starttls: not with an ldaps:// uri" },
	{ "[ldap]\nbase = dc=x,,\n", 2, "[ldap] base: 'dc=x,,' is not a DN" },
	{ "[ldap]\nfilter = objectClass=*\n", 2, "[ldap] filter: 'objectClass=*' is not an LDAP filter" },
	{ "[ldap]\nfilter = ((uid=*)\n", 2, "[ldap] filter: '((uid=*)' is not an LDAP filter (at character 2: neither an attribute nor &, | or ! after '('; RFC 4515, example: (objectClass=inetOrgPerson))" },
	{ "[ldap]\nfilter = ()\n", 2, "[ldap] filter: '()' is not an LDAP filter (at character 2: an empty '()'" },
	{ "[ldap]\nfilter = (&(uid=*)(mail=*)\n", 2, "'(&(uid=*)(mail=*)' is not an LDAP filter (at character 18: no ')' at the end (unbalanced parentheses)" },
	{ "[ldap]\nfilter = (uid=*))\n", 2, "'(uid=*))' is not an LDAP filter (at character 8: a ')' without its '('" },
	{ "[ldap]\nattributes = mail, mail\n", 2, "[ldap] attributes: 'mail' is given twice" },
	{ "[ldap]\nattributes = ma il!\n", 2, "[ldap] attributes: 'il!' is not an attribute name" },
	{ "[ldap]\ndomains = -x.org\n", 2, "[ldap] domains: '-x.org' is not a domain name" },
	{ "[ldap]\ndomains = a..b\n", 2, "[ldap] domains: 'a..b' is not a domain name (an empty label (a dot at the start or two in a row); example: example.org)" },
	{ "[ldap]\ndomains = x.org, .x.org\n", 2, "[ldap] domains: '.x.org' is not a domain name (an empty label" },
	{ "[ldap]\ndomains = x.org..\n", 2, "[ldap] domains: 'x.org..' is not a domain name (an empty label" },
	{ "[ldap]\ndomains = x-.org\n", 2, "'x-.org' is not a domain name (a label ending in '-'" },
	{ "[ldap]\ndomains = x_y.org\n", 2, "'x_y.org' is not a domain name (a character other than A-Z a-z 0-9 - .; example: example.org)" },
	{ "[ldap]\ndomains = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org\n", 2, "is not a domain name (a label of more than 63 characters" },
	{ "[ldap]\ndomains = x.org, X.org.\n", 2, "[ldap] domains: 'X.org.' is given twice" },
	{ "[ldap]\nsync = push\n", 2, "[ldap] sync: 'push' is not a sync mode (allowed: syncrepl, poll)" },
	{ "[ldap]\npoll_interval = 0\n", 2, "[ldap] poll_interval: '0' is not a duration" },
	{ "[ldap]\nbind_password_file = relative\n", 2, "is not an absolute path" },
	{ "[ldap]\nbind_password_file = /nonexistent/pw\n", 2, "'/nonexistent/pw' is not a readable file" },
	{ "[ldap]\nuri = ldaps://h/\nbase = dc=x\ndomains = x.org\nstarttls = yes\n", 5,
	  "[ldap] starttls: not with an ldaps:// uri" },
	{ "[ldap]\nuri = ldap://h/\nbase = dc=x\ndomains = x.org\nsync = poll\npoll_interval = 10m\nmax_age = 5m\n", 7,
	  "[ldap] max_age: must be longer than poll_interval" },
	{ "[fleet]\n", 1, "[fleet]: base is required" },
	{ "[fleet]\nbase = nope\n", 2, "[fleet] base: 'nope' is not a DN" },
	{ "[fleet]\nbase = ou=fleet,dc=x\n", 1, "[fleet]: uri is required when there is no [ldap]" },
	{ "[fleet]\nhost = mx_1\n", 2, "[fleet] host: 'mx_1' is not a host name" },
	{ "[fleet]\nhost = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2, "is not a host name (1..63" },
	{ "[fleet]\nwidest_ipv4_prefix = 33\n", 2, "[fleet] widest_ipv4_prefix: '33' is not a prefix length in 0..32" },
	{ "[fleet]\nwidest_ipv6_prefix = /48\n", 2, "'/48' is not a prefix length in 0..128" },
	{ "[fleet]\npublish = maybe\n", 2, "[fleet] publish: 'maybe' is not yes or no" },
	{ "[fleet]\nuri = ldap://a/ http://b/\n", 2, "[fleet] uri: 'http://b/' is not an LDAP URI" },
	{ "[fleet]\nsync = push\n", 2, "[fleet] sync: 'push' is not a sync mode" },
	{ "[fleet]\nbase = ou=f,dc=x\nuri = ldap://a/\npublish = no\nfollow = no\n", 5,
	  "[fleet] publish and follow: both are no" },
	{ "[fleet]\nbase = ou=f,dc=x\nuri = ldaps://a/\nstarttls = yes\n", 4,
	  "[fleet] starttls: not with an ldaps:// uri" },
	{ "[fleet]\nbase = ou=f,dc=x\nuri = ldap://a/\nbind_dn = cn=mx1,dc=x\n", 4,
	  "[fleet] bind_dn: needs bind_password_file" },
	{ "[fleet]\nbase = ou=f,dc=x\nuri = ldap://a/\nmax_age = 5m\n", 4, "[fleet] max_age: unknown key" },
	{ "[smtp_inspect]\nrecipient_delimiter = ab\n", 2, "[smtp_inspect] recipient_delimiter: 'ab' is not a set of delimiter characters" },
	{ "[smtp_inspect]\nmode = block\n", 2, "[smtp_inspect] mode: 'block' is not an inspection mode (allowed: off, observe, penalize, drop)" },
	{ "[smtp_inspect]\nunknown_threshold = 0\n", 2, "[smtp_inspect] unknown_threshold: '0' is not a number in 1..1000000" },
	{ "[smtp_inspect]\nwindow = forever\n", 2, "[smtp_inspect] window: 'forever' is not a duration" },
	{ "[smtp_inspect]\npenalty = 0s\n", 2, "[smtp_inspect] penalty: '0s' is not a duration" },
	{ "[smtp_inspect]\nports = 25\n", 2, "[smtp_inspect] ports: unknown key (allowed: mode, unknown_threshold, window, penalty, recipient_delimiter)" },
	/* [lookup] */
	{ "[lookup]\nsocket = run/lookup.sock\n", 2, "[lookup] socket: 'run/lookup.sock' is not an absolute path for a unix socket" },
	{ "[lookup]\nsocket = /run/mxguard/\n", 2, "[lookup] socket: '/run/mxguard/' is not an absolute path" },
	{ "[lookup]\nsocket = /run/mxguard/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", 2,
	  "is not an absolute path for a unix socket (example: /run/mxguard/lookup.sock; at most 107 characters)" },
	{ "[lookup]\nmode = 666x\n", 2, "[lookup] mode: '666x' is not an octal file mode (examples: 0666, 0660)" },
	{ "[lookup]\nmode = 0888\n", 2, "'0888' is not an octal file mode" },
	{ "[lookup]\nmode = 4666\n", 2, "'4666' is not an octal file mode" },
	{ "[lookup]\nmode = 01234\n", 2, "'01234' is not an octal file mode" },
	{ "[lookup]\nmode =\n", 2, "[lookup] mode: '' is not an octal file mode" },
	{ "[lookup]\nmode = 0444\n", 2, "[lookup] mode: '0444' lets no one connect" },
	{ "[lookup]\nsocket = /run/a.sock\nsocket = /run/b.sock\n", 3, "[lookup] socket: given twice (first at line 2)" },
	{ "[lookup]\nport = 1\n", 2, "[lookup] port: unknown key (allowed: socket, mode, group)" },
	{ "[lookup]\ngroup = no-such-group-mxg\n", 2, "[lookup] group: 'no-such-group-mxg' is not a group on this host (a group name or number: the group the MTA runs as, e.g. postfix, Debian-exim)" },
	{ "[lookup]\ngroup =\n", 2, "[lookup] group: '' is not a group on this host" },
	{ "[lookup]\ngroup = 4294967295\n", 2, "[lookup] group: '4294967295' is not a group on this host" },
	{ "\n[lookup]\nmode = 0660\n", 2, "[lookup]: socket is required (example: socket = /run/mxguard/lookup.sock)" },
	{ "[global]\n[lookup]\nsocket = /run/a.sock\n", 2, "[lookup]: needs an [ldap] section" },
	{ "[lookup]\n[ldap]\n[lookup]\n", 3, "[lookup] is given twice (first at line 1)" },
	{ "\n\n[Global]\n", 3, "[Global]: unknown section" },
	{ "[classic]\n", 1, "[classic]: unknown section" },
	{ "[global]\nfoo = 1\n", 2, "[global] foo: unknown key (allowed: "
	  "interfaces, attach, pin_dir, cgroup, max_sources, on_exit)" },
	{ "[class smtp]\nport = 25\n", 2, "[class smtp] port: unknown key "
	  "(allowed: ports, rate, burst, source_conns, total_conns, "
	  "ipv4_prefix, ipv6_prefix, new_sources, new_sources_burst)" },
	{ "[deny]\naddr = 10.0.0.0/8\n", 2, "[deny] addr: unknown key "
	  "(allowed: cidr)" },
	{ "[global]\nattach = xdp\n\nattach = tc\n", 4,
	  "[global] attach: given twice (first at line 2)" },
	{ "[global]\nattach = xdp\n  tc\n", 3,
	  "[global] attach: given twice (an indented line" },
	{ "[global]\ninterfaces = eth0\ninterfaces = eth1\n", 3,
	  "[global] interfaces: given twice (first at line 2)" },
	{ "[class smtp]\nrate = 1\nrate = 2\n", 3,
	  "[class smtp] rate: given twice (first at line 2)" },
	{ "[global]\n[allow]\n[global]\n", 3,
	  "[global] is given twice (first at line 1)" },
	{ "[class smtp]\nrate = 1\n[class smtp]\n", 3,
	  "[class smtp] is given twice (first at line 1)" },
	{ "[class SMTP]\n", 1, "[class SMTP]: 'SMTP' is not a class name" },
	{ "[class]\n", 1, "[class]: '' is not a class name" },
	{ "[class abcdefghijklmnop]\n", 1, "is not a class name" },
	/* a first error wins over the next one */
	{ "[global]\nattach = x\non_exit = y\n", 2, "[global] attach: 'x'" },

	/* [global] values */
	{ "[global]\ninterfaces = eth0, bad/name\n", 2,
	  "[global] interfaces: 'bad/name' is not an interface name" },
	{ "[global]\ninterfaces = abcdefghijklmnop\n", 2,
	  "'abcdefghijklmnop' is not an interface name" },
	{ "[global]\ninterfaces = eth0\n  eth0\n", 3,
	  "[global] interfaces: 'eth0' is given twice" },
	{ "[global]\ninterfaces = a b c d e f g h i j k l m n o p q\n", 2,
	  "'q' is one interface too many (at most 16)" },
	{ "[global]\nattach = fast\n", 2, "[global] attach: 'fast' is not an "
	  "attach mode (allowed: auto, xdp, xdp-generic, tc)" },
	{ "[global]\nattach = XDP\n", 2, "'XDP' is not an attach mode" },
	{ "[global]\npin_dir = sys/fs/bpf\n", 2,
	  "[global] pin_dir: 'sys/fs/bpf' is not an absolute path" },
	{ "[global]\ncgroup =\n", 2, "[global] cgroup: '' is not an absolute "
	  "path" },
	{ "[global]\nmax_sources = 1023\n", 2, "[global] max_sources: '1023' "
	  "is not a number in 1024..16777216" },
	{ "[global]\nmax_sources = 16777217\n", 2, "'16777217' is not a "
	  "number" },
	{ "[global]\nmax_sources = 1M\n", 2, "'1M' is not a number" },
	{ "[global]\nmax_sources = 18446744073709551616\n", 2,
	  "'18446744073709551616' is not a number" },
	{ "[global]\non_exit = maybe\n", 2, "[global] on_exit: 'maybe' is not "
	  "an exit action (allowed: detach, keep)" },

	/* [class] values */
	{ "[class smtp]\nrate = fast\n", 2, "[class smtp] rate: 'fast' is not "
	  "a rate (examples: 10, 10/s, 30/min" },
	{ "[class smtp]\nrate =\n", 2, "[class smtp] rate: '' is not a rate" },
	{ "[class smtp]\nrate = -1/s\n", 2, "'-1/s' is not a rate" },
	{ "[class smtp]\nrate = 0\n", 2, "'0' is not a rate" },
	/* Below the least rate: refused, not rounded up to 0.001/s. */
	{ "[class smtp]\nrate = 2/h\n", 2, "[class smtp] rate: '2/h' is not a rate (examples: 10, 10/s, 30/min, 0.5/s, 100/h, off; 0.001/s to 1000000/s)" },
	{ "[class smtp]\nports = 0\n", 2, "[class smtp] ports: '0' is not a "
	  "port (allowed: 1..65535)" },
	{ "[class smtp]\nports = 65536\n", 2, "'65536' is not a port" },
	{ "[class smtp]\nports = 25,25\n", 2, "[class smtp] ports: port 25 "
	  "is given twice" },
	{ "[class smtp]\nports = 25\n  465 25\n", 3, "port 25 is given twice" },
	{ "[class smtp]\nports = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18"
	  " 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33\n", 2,
	  "port 33 is one port too many (at most 32 per class)" },
	{ "[class smtp]\nburst = 0\n", 2, "[class smtp] burst: '0' is not a "
	  "number in 1..1000000" },
	{ "[class smtp]\nnew_sources = many\n", 2, "[class smtp] new_sources: "
	  "'many' is not a rate (examples: 10, 10/s, 30/min, 0.5/s, 100/h, "
	  "off; 0.001/s to 1000000/s)" },
	{ "[class ldap]\nnew_sources = 0\n", 2, "[class ldap] new_sources: "
	  "'0' is not a rate" },
	{ "[class smtp]\nnew_sources = 200/s/s\n", 2, "'200/s/s' is not a rate" },
	{ "[class smtp]\nnew_sources = 2000000/s\n", 2,
	  "'2000000/s' is not a rate" },
	{ "[class smtp]\nnew_sources = 10\nnew_sources = 20\n", 3,
	  "[class smtp] new_sources: given twice (first at line 2)" },
	{ "[class smtp]\nnew_sources_burst = 0\n", 2, "[class smtp] "
	  "new_sources_burst: '0' is not a number in 1..1000000" },
	{ "[class smtp]\nnew_sources_burst = 10k\n", 2,
	  "[class smtp] new_sources_burst: '10k' is not a number" },
	{ "[class smtp]\nburst = 1000001\n", 2, "'1000001' is not a number" },
	{ "[class smtp]\nsource_conns = 0\n", 2, "[class smtp] source_conns: "
	  "'0' is not a number in 1..1000000 or 'unlimited'" },
	{ "[class ldap]\ntotal_conns = none\n", 2, "[class ldap] total_conns: "
	  "'none' is not a number" },
	{ "[class ldap]\ntotal_conns = 1000001\n", 2, "'1000001' is not a "
	  "number" },
	{ "[class smtp]\nipv4_prefix = 7\n", 2, "[class smtp] ipv4_prefix: "
	  "'7' is not a prefix length in 8..32" },
	{ "[class smtp]\nipv4_prefix = 33\n", 2, "'33' is not a prefix "
	  "length in 8..32" },
	{ "[class smtp]\nipv6_prefix = 15\n", 2, "[class smtp] ipv6_prefix: "
	  "'15' is not a prefix length in 16..128" },
	{ "[class smtp]\nipv6_prefix = 129\n", 2, "'129' is not a prefix" },

	/* checks across keys */
	{ "[global]\n\n[class foo]\nrate = 1/s\n", 3,
	  "[class foo]: no ports (a class needs ports = PORT, ...)" },
	{ "[class smtp]\nports =\n", 2, "[class smtp]: no ports" },
	{ "[class sub]\nports = 587\n", 2, "[class sub] ports: port 587 is "
	  "also in [class smtp] (a port belongs to one class)" },
	{ "[class sub]\nports = 2525\n[class smtp]\nports = 25, 2525\n", 4,
	  "[class smtp] ports: port 2525 is also in [class sub]" },
	{ "[class ldap]\nrate = 1\n[class smtp]\nports = 25\n  389\n", 4,
	  "[class smtp] ports: port 389 is also in [class ldap]" },
	{ "[class c1]\nports=1\n[class c2]\nports=2\n[class c3]\nports=3\n"
	  "[class c4]\nports=4\n[class c5]\nports=5\n[class c6]\nports=6\n"
	  "[class c7]\nports=7\n", 13, "[class c7]: one class too many (at "
	  "most 8, smtp and ldap included)" },

	/* [allow], [deny] */
	{ "[deny]\ncidr = 198.18.0.1/24\n", 2, "[deny] cidr: '198.18.0.1/24' "
	  "has host bits set (did you mean 198.18.0.0/24?)" },
	{ "[allow]\ncidr = 2001:db8::1/32\n", 2, "[allow] cidr: "
	  "'2001:db8::1/32' has host bits set (did you mean 2001:db8::/32?)" },
	{ "[allow]\ncidr = 10.0.0.0/33\n", 2, "[allow] cidr: '10.0.0.0/33' "
	  "is not a CIDR (examples: 198.18.0.0/15, 2001:db8::/32, "
	  "192.0.2.7)" },
	{ "[allow]\ncidr = example.org\n", 2, "'example.org' is not a CIDR" },
	{ "[allow]\ncidr = 10.0.0.0/8\ncidr = 10.0.0.0/8\n", 3,
	  "[allow] cidr: '10.0.0.0/8' is given twice" },
	{ "[deny]\ncidr = 192.0.2.7\n  192.0.2.7/32\n", 3,
	  "[deny] cidr: '192.0.2.7/32' is given twice" },

	/* lines */
	{ "[global]\npin_dir = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2,
	  "line too long (at most 199 characters)" },
};

static void test_errors(void **state)
{
	struct mxg_config *cfg = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		char err[512], prefix[64];
		int ret;

		memset(err, 0, sizeof(err));
		ret = mxg_config_load_string(NAME, bc->text, cfg, err,
					     sizeof(err));
		if (ret != -EINVAL)
			fail_msg("case %zu: accepted (%d):\n%s", i, ret,
				 bc->text);
		snprintf(prefix, sizeof(prefix), NAME ":%u: ", bc->line);
		if (strncmp(err, prefix, strlen(prefix)) ||
		    !strstr(err + strlen(prefix), bc->want))
			fail_msg("case %zu: message\n  '%s'\nwanted\n  '%s%s'",
				 i, err, prefix, bc->want);
		/* one line, no trailing newline */
		assert_null(strchr(err, '\n'));
	}
}

static void test_too_many_rules(void **state)
{
	struct mxg_config *cfg = *state;
	size_t len = 16 + (MXG_MAX_CONFIG_RULES + 1) * 32;
	char *text = malloc(len), *p = text, err[256];
	unsigned i;
	int ret;

	assert_non_null(text);
	p += sprintf(p, "[deny]\n");
	for (i = 0; i <= MXG_MAX_CONFIG_RULES; i++)
		p += sprintf(p, "cidr = 10.%u.%u.0/24\n", i / 256, i % 256);
	ret = mxg_config_load_string(NAME, text, cfg, err, sizeof(err));
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, NAME ":4098: [deny] cidr: '10.16.0.0/24' is "
			    "one rule too many (at most 4096)");

	/* Exactly the maximum is fine. */
	*strstr(text, "cidr = 10.16.0.0/24\n") = '\0';
	load_ok(cfg, text);
	assert_int_equal(cfg->ndeny, MXG_MAX_CONFIG_RULES);
	free(text);
}

static void test_bad_file_leaves_cfg_untouched(void **state)
{
	struct mxg_config *cfg = *state;
	struct mxg_config *saved = malloc(sizeof(*saved));
	char err[256];
	size_t i;

	assert_non_null(saved);
	load_ok(cfg, "[global]\ninterfaces = eth7\n[deny]\ncidr = 10.0.0.0/8\n");
	memcpy(saved, cfg, sizeof(*saved));

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		assert_int_equal(mxg_config_load_string(NAME, bad_cases[i].text,
							cfg, err, sizeof(err)),
				 -EINVAL);
		assert_memory_equal(cfg, saved, sizeof(*saved));
	}
	/* Errors late in the file, after much has been parsed. */
	assert_int_equal(mxg_config_load_string(NAME,
			"[global]\ninterfaces = eth0\nattach = tc\n"
			"[class smtp]\nrate = 1/s\n[allow]\ncidr = 1.2.3.0/24\n"
			"[class new]\nrate = 5\n", cfg, err, sizeof(err)),
			 -EINVAL);
	assert_memory_equal(cfg, saved, sizeof(*saved));
	free(saved);
}

static void test_err_buffer(void **state)
{
	struct mxg_config *cfg = *state;
	char err[12];

	/* No buffer, and a buffer too small: still refused, no overflow. */
	assert_int_equal(mxg_config_load_string(NAME, "[x]\n", cfg, NULL, 0),
			 -EINVAL);
	memset(err, 'x', sizeof(err));
	assert_int_equal(mxg_config_load_string(NAME, "[x]\n", cfg, err,
						sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:1: [");
}

static void test_load_file(void **state)
{
	struct mxg_config *cfg = *state;
	char path[] = "/tmp/mxg-test-config-XXXXXX";
	static const char text[] = "[global]\ninterfaces = eth0\n"
				   "[class smtp]\nrate = 3\n";
	char err[512];
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	assert_int_equal(mxg_config_load(path, cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->nifaces, 1);
	assert_int_equal(cfg->classes[0].rate_milli, 3000);

	/* A NUL byte must not hide what follows it. */
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[global]\nattach = tc\0\n[bogus]\n", 1, 30, f);
	fclose(f);
	assert_int_equal(mxg_config_load(path, cfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, ":2: line contains a NUL byte"));

	/* Errors name the file as given. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[global]\n\nmax_sources = 5\n", f);
	fclose(f);
	assert_int_equal(mxg_config_load(path, cfg, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, ":3: [global] max_sources: '5'"));

	unlink(path);
	assert_int_equal(mxg_config_load(path, cfg, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot read: No such file or directory"));
	assert_int_equal(mxg_config_load("/", cfg, err, sizeof(err)), -EISDIR);
}

/* [tuner]: off without it; its defaults; every key as the file says it. */
static void test_tuner(void **state)
{
	struct mxg_config *cfg = *state;
	const struct mxg_tuner_config *t = &cfg->tuner;
	static const char ldap[] = "[ldap]\nuri = ldap://198.18.0.1/\n"
				   "base = dc=lab,dc=example\n"
				   "domains = lab.example\n";
	char text[1024];

	load_ok(cfg, ldap);
	assert_false(t->enabled);

	/* Given alone: on, defaults, latency off without [ldap]. */
	load_ok(cfg, "[tuner]\n");
	assert_true(t->enabled);
	assert_int_equal(t->interval_ns, 1000000000ULL);
	assert_int_equal(t->floor_permille, 100);
	assert_int_equal(t->decrease_permille, 500);
	assert_int_equal(t->increase_permille, 50);
	assert_int_equal(t->recover_permille, 800);
	assert_int_equal(t->cooldown_ns, 5000000000ULL);
	assert_int_equal(t->latency_target_ns, 0);
	assert_int_equal(t->latency_window, 10);
	assert_int_equal(t->latency_percentile, 90);
	assert_int_equal(t->nlatency_classes, 0);
	assert_string_equal(t->descriptors_pid_file, "");
	assert_string_equal(t->descriptors_process, "slapd");
	assert_int_equal(t->descriptors_reserve, 1000);
	assert_true(t->descriptors_reserve_pct);
	assert_string_equal(t->descriptors_class, "ldap");
	assert_int_equal(t->pressure_cpu_centi, 0);
	assert_int_equal(t->pressure_memory_centi, 0);

	/* With [ldap], the directory's latency is watched by default. */
	snprintf(text, sizeof(text), "[tuner]\n%s", ldap);
	load_ok(cfg, text);
	assert_int_equal(t->latency_target_ns, 50000000ULL);

	snprintf(text, sizeof(text),
		 "%s[tuner]\nenabled = no\ninterval = 250ms\nfloor = 0.25\n"
		 "decrease = 0.7\nincrease = 0.1\nrecover_at = 0.75\n"
		 "cooldown = 0\nlatency_target = 200ms\nlatency_timeout = 3s\n"
		 "latency_window = 20\nlatency_percentile = 95\n"
		 "latency_classes = smtp,\n  ldap\n"
		 "descriptors_pid_file = /run/slapd/slapd.pid\n"
		 "descriptors_process = slapd2\ndescriptors_reserve = 64\n"
		 "descriptors_class = smtp\npressure_cpu = 12.5%%\n"
		 "pressure_memory = 20\npressure_classes = ldap\n", ldap);
	load_ok(cfg, text);
	assert_false(t->enabled);
	assert_int_equal(t->interval_ns, 250000000ULL);
	assert_int_equal(t->floor_permille, 250);
	assert_int_equal(t->decrease_permille, 700);
	assert_int_equal(t->increase_permille, 100);
	assert_int_equal(t->recover_permille, 750);
	assert_int_equal(t->cooldown_ns, 0);
	assert_int_equal(t->latency_target_ns, 200000000ULL);
	assert_int_equal(t->latency_timeout_ns, 3000000000ULL);
	assert_int_equal(t->latency_window, 20);
	assert_int_equal(t->latency_percentile, 95);
	assert_int_equal(t->nlatency_classes, 2);
	assert_string_equal(t->latency_classes[1], "ldap");
	assert_string_equal(t->descriptors_pid_file, "/run/slapd/slapd.pid");
	assert_string_equal(t->descriptors_process, "slapd2");
	assert_int_equal(t->descriptors_reserve, 64);
	assert_false(t->descriptors_reserve_pct);
	assert_string_equal(t->descriptors_class, "smtp");
	assert_int_equal(t->pressure_cpu_centi, 1250);
	assert_int_equal(t->pressure_memory_centi, 2000);
	assert_int_equal(t->npressure_classes, 1);

	/* off where a signal may be off. */
	snprintf(text, sizeof(text), "%s[tuner]\nlatency_target = off\n"
		 "descriptors_pid_file = off\npressure_cpu = OFF\n", ldap);
	load_ok(cfg, text);
	assert_int_equal(t->latency_target_ns, 0);
	assert_string_equal(t->descriptors_pid_file, "");
	assert_int_equal(t->pressure_cpu_centi, 0);
}

/* A whole [ldap] section, and the password file's permissions. */
static void test_lookup(void **state)
{
	struct mxg_config *cfg = *state;
	static const char ldap[] = "[ldap]\nuri = ldap://198.18.0.1/\n"
				   "base = dc=lab,dc=example\n"
				   "domains = lab.example\n";
	char text[512];

	struct group *pf;
	char err[512];

	/* Off without the section. */
	load_ok(cfg, ldap);
	assert_false(cfg->lookup.enabled);
	assert_string_equal(cfg->lookup.socket, "");
	assert_int_equal(cfg->lookup.mode, 0660);

	/* By default the MTA's group may connect and no one else: mode 0660,
	 * group postfix, which must then be on the host. */
	snprintf(text, sizeof(text), "%s[lookup]\nsocket = /run/mxguard/lookup.sock\n", ldap);
	pf = getgrnam("postfix");
	if (pf) {
		load_ok(cfg, text);
		assert_true(cfg->lookup.enabled);
		assert_string_equal(cfg->lookup.socket, "/run/mxguard/lookup.sock");
		assert_int_equal(cfg->lookup.mode, 0660);
		assert_string_equal(cfg->lookup.group, "postfix");
		assert_int_equal(cfg->lookup.gid, pf->gr_gid);
	} else {
		assert_int_equal(mxg_config_load_string(NAME, text, cfg, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, NAME ":5: [lookup] group: the default group 'postfix' is not on this host (set group = the group the MTA runs as, e.g. Debian-exim for Exim)");
	}

	/* A group by name or number. */
	snprintf(text, sizeof(text), "%s[lookup]\nsocket = /run/l.sock\ngroup = root\nmode = 0666\n", ldap);
	load_ok(cfg, text);
	assert_string_equal(cfg->lookup.group, "root");
	assert_int_equal(cfg->lookup.gid, 0);
	assert_int_equal(cfg->lookup.mode, 0666);
	snprintf(text, sizeof(text), "%s[lookup]\nsocket = /run/l.sock\ngroup = 4242\n", ldap);
	load_ok(cfg, text);
	assert_string_equal(cfg->lookup.group, "4242");
	assert_int_equal(cfg->lookup.gid, 4242);
	assert_int_equal(cfg->lookup.mode, 0660);

	/* Octal with or without the leading zero, as chmod takes it. */
	snprintf(text, sizeof(text), "[lookup]\nsocket = /run/l.sock\nmode = 666\ngroup = 0\n%s", ldap);
	load_ok(cfg, text);
	assert_int_equal(cfg->lookup.mode, 0666);
	snprintf(text, sizeof(text), "%s[lookup]\nsocket = /run/l.sock\nmode = 0600\ngroup = 0\n", ldap);
	load_ok(cfg, text);
	assert_int_equal(cfg->lookup.mode, 0600);
	snprintf(text, sizeof(text), "%s[lookup]\ngroup = 0\nsocket = /r/%0104d\n", ldap, 0);
	load_ok(cfg, text);
	assert_int_equal(strlen(cfg->lookup.socket), 107);
}

static void test_ldap(void **state)
{
	struct mxg_config *cfg = *state;
	char pw[] = "/tmp/mxg-test-pw-XXXXXX", text[1024], err[512];
	int fd = mkstemp(pw);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	assert_int_equal(chmod(pw, 0600), 0);

	load_ok(cfg, "[global]\n");
	assert_false(cfg->ldap.enabled);
	assert_int_equal(cfg->inspect.mode, MXG_INSPECT_OBSERVE);
	assert_int_equal(cfg->inspect.unknown_threshold, 5);
	load_ok(cfg, "[smtp_inspect]\nmode = penalize\nunknown_threshold = 3\n"
		     "window = 2m\npenalty = 1h\n");
	assert_int_equal(cfg->inspect.mode, MXG_INSPECT_PENALIZE);
	assert_int_equal(cfg->inspect.unknown_threshold, 3);
	assert_int_equal(cfg->inspect.window_ns, 120000000000ULL);
	assert_int_equal(cfg->inspect.penalty_ns, 3600000000000ULL);
	load_ok(cfg, "[global]\n");
	assert_string_equal(cfg->recipient_delimiter, "+");
	assert_int_equal(cfg->ldap.nattributes, 2);
	assert_string_equal(cfg->ldap.attributes[1], "mailAlternateAddress");

	snprintf(text, sizeof(text),
		 "[ldap]\n"
		 "uri = ldap://198.18.0.1:389/\n"
		 "bind_dn = cn=mxguard,dc=lab,dc=example\n"
		 "bind_password_file = %s\n"
		 "base = ou=people,dc=lab,dc=example\n"
		 "filter = (objectClass=inetOrgPerson)\n"
		 "attributes = mail, mailLocalAddress\n"
		 "domains = Lab.Example., other.example\n"
		 "sync = poll\n"
		 "poll_interval = 30s\n"
		 "max_age = 10m\n"
		 "[smtp_inspect]\n"
		 "recipient_delimiter = +-\n", pw);
	load_ok(cfg, text);
	assert_true(cfg->ldap.enabled);
	assert_string_equal(cfg->ldap.uri, "ldap://198.18.0.1:389/");
	assert_string_equal(cfg->ldap.bind_password_file, pw);
	assert_int_equal(cfg->ldap.nattributes, 2);
	assert_string_equal(cfg->ldap.attributes[1], "mailLocalAddress");
	assert_int_equal(cfg->ldap.ndomains, 2);
	assert_string_equal(cfg->ldap.domains[0], "lab.example");
	assert_int_equal(cfg->ldap.sync, MXG_SYNC_POLL);
	assert_int_equal(cfg->ldap.poll_interval_ns, 30000000000ULL);
	assert_int_equal(cfg->ldap.max_age_ns, 600000000000ULL);
	assert_string_equal(cfg->recipient_delimiter, "+-");

	/* Readable by others: refused, naming the fix. */
	assert_int_equal(chmod(pw, 0640), 0);
	assert_int_equal(mxg_config_load_string(NAME, text, cfg, err,
						sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.conf:4: [ldap] bind_password_file:"));
	assert_non_null(strstr(err, "readable by group or others (chmod 600 it)"));
	unlink(pw);
}

/*
 * Comments as operators write them: '#' or ';' after a blank ends the
 * value, on key lines, continuation lines and section headers. A '#'
 * with no blank before it, or one that begins the value, is the value's:
 * DNs, filters and URIs may hold one, and '#' is a recipient delimiter.
 */
static void test_trailing_comments(void **state)
{
	struct mxg_config *cfg = *state;
	char pw[] = "/tmp/mxg-test-pw-XXXXXX", text[1024];
	int fd = mkstemp(pw);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	assert_int_equal(chmod(pw, 0600), 0);

	load_ok(cfg,
		"[global]   # the one section every file has\n"
		"interfaces = eth0, eth1   # the uplinks\n"
		"    eth2 # and one more\n"
		"max_sources = 1024\t# a tab is a blank too\n"
		"[class smtp] ; a class\n"
		"ports = 25 #submission is another class\n"
		"rate = 5/s\n"
		"[smtp_inspect]\n"
		"recipient_delimiter = #   # '#' itself, then a comment\n");
	assert_int_equal(cfg->nifaces, 3);
	assert_string_equal(cfg->ifaces[1], "eth1");
	assert_string_equal(cfg->ifaces[2], "eth2");
	assert_int_equal(cfg->max_sources, 1024);
	assert_string_equal(cfg->recipient_delimiter, "#");
	assert_non_null(class_by_name(cfg, "smtp"));
	assert_int_equal(class_by_name(cfg, "smtp")->nports, 1);
	assert_int_equal(class_by_name(cfg, "smtp")->ports[0], 25);

	snprintf(text, sizeof(text),
		 "[ldap]\n"
		 "uri = ldap://198.18.0.1:389/, ldap://198.18.0.2/   # the directory\n"
		 "bind_dn = cn=mxg#1,dc=lab,dc=example  # '#' inside a DN\n"
		 "bind_password_file = %s # chmod 600\n"
		 "base = ou=Room \\#2,dc=lab,dc=example\n"
		 "filter = (&(objectClass=inetOrgPerson)(cn=a#b)) ; and ';'\n"
		 "domains = lab.example # ours\n"
		 "[lookup]\n"
		 "socket = /run/mxguard/lookup.sock\n"
		 "mode = 0666   # default\n", pw);
	load_ok(cfg, text);
	/* Two URIs, stored as ldap_initialize takes a list. */
	assert_string_equal(cfg->ldap.uri, "ldap://198.18.0.1:389/ ldap://198.18.0.2/");
	assert_string_equal(cfg->ldap.bind_dn, "cn=mxg#1,dc=lab,dc=example");
	assert_string_equal(cfg->ldap.bind_password_file, pw);
	assert_string_equal(cfg->ldap.base, "ou=Room \\#2,dc=lab,dc=example");
	assert_string_equal(cfg->ldap.filter, "(&(objectClass=inetOrgPerson)(cn=a#b))");
	assert_int_equal(cfg->ldap.ndomains, 1);
	assert_int_equal(cfg->lookup.mode, 0666);
	unlink(pw);
}

/* [fleet]: defaults, and the connection keys it takes from [ldap]: each
 * alone, except the bind account, whose DN and password go together. */
static void test_fleet(void **state)
{
	struct mxg_config *cfg = *state;
	char pw[] = "/tmp/mxg-test-fleet-pw.XXXXXX", text[1024];
	int fd = mkstemp(pw);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	snprintf(text, sizeof(text),
		 "[ldap]\nuri = ldap://198.18.0.3/, ldap://198.18.0.4/\n"
		 "bind_dn = cn=reader,dc=x\nbind_password_file = %s\n"
		 "base = ou=people,dc=x\ndomains = x.org\n"
		 "[fleet]\nbase = ou=fleet,dc=x\nhost = mx1.x.org\n", pw);
	load_ok(cfg, text);
	assert_true(cfg->fleet.enabled);
	assert_string_equal(cfg->fleet.conn.base, "ou=fleet,dc=x");
	assert_string_equal(cfg->fleet.conn.uri, "ldap://198.18.0.3/ ldap://198.18.0.4/");
	assert_string_equal(cfg->fleet.conn.bind_dn, "cn=reader,dc=x");
	assert_string_equal(cfg->fleet.conn.bind_password_file, pw);
	assert_string_equal(cfg->fleet.host, "mx1.x.org");
	assert_true(cfg->fleet.publish);
	assert_true(cfg->fleet.follow);
	assert_int_equal(cfg->fleet.conn.sync, MXG_SYNC_SYNCREPL);
	assert_true(cfg->fleet.conn.poll_interval_ns == 5000000000ULL);
	assert_int_equal(cfg->fleet.widest_ipv4_prefix, 24);
	assert_int_equal(cfg->fleet.widest_ipv6_prefix, 48);

	/* Its own account and server; no host: the host's name. */
	snprintf(text, sizeof(text),
		 "[ldap]\nuri = ldap://198.18.0.3/\n"
		 "bind_dn = cn=reader,dc=x\nbind_password_file = %s\n"
		 "base = ou=people,dc=x\ndomains = x.org\n"
		 "[fleet]\nbase = ou=fleet,dc=x\nuri = ldap://198.18.0.5/\n"
		 "bind_dn = cn=mx1,dc=x\nbind_password_file = %s\n"
		 "follow = no\nsync = poll\npoll_interval = 2s\n"
		 "widest_ipv4_prefix = 16\nwidest_ipv6_prefix = 32\n", pw, pw);
	load_ok(cfg, text);
	assert_string_equal(cfg->fleet.conn.uri, "ldap://198.18.0.5/");
	assert_string_equal(cfg->fleet.conn.bind_dn, "cn=mx1,dc=x");
	assert_true(cfg->fleet.host[0]);
	assert_false(cfg->fleet.follow);
	assert_int_equal(cfg->fleet.conn.sync, MXG_SYNC_POLL);
	assert_true(cfg->fleet.conn.poll_interval_ns == 2000000000ULL);
	assert_int_equal(cfg->fleet.widest_ipv4_prefix, 16);
	assert_int_equal(cfg->fleet.widest_ipv6_prefix, 32);
	/* [ldap] keeps its own. */
	assert_string_equal(cfg->ldap.bind_dn, "cn=reader,dc=x");
	assert_string_equal(cfg->ldap.uri, "ldap://198.18.0.3/");
	unlink(pw);

	/* Without [fleet], nothing of it is on. */
	load_ok(cfg, "");
	assert_false(cfg->fleet.enabled);
}

static void test_keys_list(void **state)
{
	static const char *const want[] = {
		"global.interfaces", "global.attach", "global.pin_dir",
		"global.cgroup", "global.max_sources", "global.on_exit",
		"class.ports", "class.rate", "class.burst",
		"class.source_conns", "class.total_conns", "class.ipv4_prefix",
		"class.ipv6_prefix", "class.new_sources",
		"class.new_sources_burst", "allow.cidr", "deny.cidr",
		"ldap.uri", "ldap.starttls", "ldap.ca_file", "ldap.bind_dn",
		"ldap.bind_password_file", "ldap.base", "ldap.filter",
		"ldap.attributes", "ldap.domains", "ldap.sync",
		"ldap.poll_interval", "ldap.max_age",
		"smtp_inspect.mode", "smtp_inspect.unknown_threshold",
		"smtp_inspect.window", "smtp_inspect.penalty",
		"smtp_inspect.recipient_delimiter",
		"lookup.socket", "lookup.mode", "lookup.group",
		"tuner.enabled", "tuner.interval", "tuner.floor",
		"tuner.decrease", "tuner.increase", "tuner.recover_at",
		"tuner.cooldown", "tuner.latency_target",
		"tuner.latency_timeout", "tuner.latency_window",
		"tuner.latency_percentile", "tuner.latency_classes",
		"tuner.descriptors_pid_file", "tuner.descriptors_process",
		"tuner.descriptors_reserve", "tuner.descriptors_class",
		"tuner.pressure_cpu", "tuner.pressure_memory",
		"tuner.pressure_classes",
		"metrics.listen",
		"fleet.base", "fleet.host", "fleet.publish", "fleet.follow",
		"fleet.uri", "fleet.starttls", "fleet.ca_file", "fleet.bind_dn",
		"fleet.bind_password_file", "fleet.sync", "fleet.poll_interval",
		"fleet.widest_ipv4_prefix", "fleet.widest_ipv6_prefix",
	};
	struct mxg_config *cfg = *state;
	size_t i, n;

	for (n = 0; mxg_config_keys[n]; n++)
		;
	assert_int_equal(n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++) {
		char text[128], err[256], sect[32];
		const char *dot = strchr(mxg_config_keys[i], '.');

		assert_string_equal(mxg_config_keys[i], want[i]);
		/* The parser knows every listed key: a bad value gets a
		 * value error, not "unknown key". */
		assert_non_null(dot);
		snprintf(sect, sizeof(sect), "%.*s",
			 (int)(dot - mxg_config_keys[i]), mxg_config_keys[i]);
		snprintf(text, sizeof(text), "[%s%s]\n%s = !\n", sect,
			 strcmp(sect, "class") ? "" : " smtp", dot + 1);
		assert_int_equal(mxg_config_load_string(NAME, text, cfg, err,
							sizeof(err)), -EINVAL);
		assert_null(strstr(err, "unknown key"));
		assert_non_null(strstr(err, "'!'"));
	}
}

/* `mxguardctl limit set` goes through the file's own setters: each limit
 * takes what the file takes, stores it as the file does, and a wrong value
 * gets the file's message, with "limit set" where the file says where. */
static void test_class_limit_set(void **state)
{
	static const struct {
		const char *key, *value;
		bool ok;
	} cases[] = {
		{ "rate", "5/s", true }, { "rate", "0.5/s", true },
		{ "rate", "30/min", true }, { "rate", "off", true },
		{ "rate", "unlimited", true }, { "rate", "1000000/s", true },
		{ "rate", "fast", false }, { "rate", "0", false },
		{ "rate", "1000001/s", false }, { "rate", "", false },
		{ "burst", "1", true }, { "burst", "1000000", true },
		{ "burst", "0", false }, { "burst", "1000001", false },
		{ "burst", "unlimited", false }, { "burst", "10x", false },
		{ "source_conns", "1", true }, { "source_conns", "unlimited", true },
		{ "source_conns", "1000000", true },
		{ "source_conns", "0", false }, { "source_conns", "1000001", false },
		{ "total_conns", "500", true }, { "total_conns", "unlimited", true },
		{ "total_conns", "-1", false },
		{ "ipv4_prefix", "8", true }, { "ipv4_prefix", "32", true },
		{ "ipv4_prefix", "7", false }, { "ipv4_prefix", "33", false },
		{ "ipv6_prefix", "16", true }, { "ipv6_prefix", "128", true },
		{ "ipv6_prefix", "15", false }, { "ipv6_prefix", "129", false },
		{ "new_sources", "200/s", true }, { "new_sources", "off", true },
		{ "new_sources", "lots", false },
		{ "new_sources_burst", "3", true },
		{ "new_sources_burst", "0", false },
	};
	struct mxg_config *cfg = *state;
	char keys[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[256], file_err[512], set_err[512];
		struct mxg_class_config c;
		const struct mxg_class_config *want;
		const char *file_msg;
		int file_ret, set_ret;

		/* smtp is a default class: the file derives no burst from
		 * its rate, and limit set never does. */
		snprintf(text, sizeof(text), "[class smtp]\n%s = %s\n", cases[i].key,
			 cases[i].value);
		file_ret = mxg_config_load_string(NAME, text, cfg, file_err,
						  sizeof(file_err));
		memset(&c, 0, sizeof(c));
		strcpy(c.name, "smtp");
		if (!file_ret) {
			want = class_by_name(cfg, "smtp");
			assert_non_null(want);
			c = *want;
			/* Values no case sets, so the one compared is the
			 * one limit set wrote. */
			c.rate_milli = c.burst = c.source_conns = c.total_conns = 7;
			c.new_sources_milli = c.new_sources_burst = 7;
			c.ipv4_prefix = c.ipv6_prefix = 99;
		}
		set_ret = mxg_class_limit_set(&c, cases[i].key, cases[i].value,
					      "limit set", set_err, sizeof(set_err));
		if (cases[i].ok != !set_ret || !file_ret != !set_ret)
			fail_msg("%s=%s: limit set %d (%s), file %d (%s)",
				 cases[i].key, cases[i].value, set_ret, set_err,
				 file_ret, file_err);
		if (!set_ret) {
			assert_string_equal(set_err, "");
			want = class_by_name(cfg, "smtp");
			if (!strcmp(cases[i].key, "rate"))
				assert_int_equal(c.rate_milli, want->rate_milli);
			else if (!strcmp(cases[i].key, "burst"))
				assert_int_equal(c.burst, want->burst);
			else if (!strcmp(cases[i].key, "source_conns"))
				assert_int_equal(c.source_conns, want->source_conns);
			else if (!strcmp(cases[i].key, "total_conns"))
				assert_int_equal(c.total_conns, want->total_conns);
			else if (!strcmp(cases[i].key, "ipv4_prefix"))
				assert_int_equal(c.ipv4_prefix, want->ipv4_prefix);
			else if (!strcmp(cases[i].key, "ipv6_prefix"))
				assert_int_equal(c.ipv6_prefix, want->ipv6_prefix);
			else if (!strcmp(cases[i].key, "new_sources"))
				assert_int_equal(c.new_sources_milli,
						 want->new_sources_milli);
			else
				assert_int_equal(c.new_sources_burst,
						 want->new_sources_burst);
			continue;
		}
		assert_int_equal(set_ret, -EINVAL);
		/* "t.conf:2: MSG" and "limit set: MSG": one message. */
		file_msg = strstr(file_err, ": [class smtp] ");
		assert_non_null(file_msg);
		assert_true(!strncmp(set_err, "limit set", 9));
		assert_string_equal(set_err + 9, file_msg);
	}

	/* ports is a key of the file but no limit; neither is a typo. */
	for (size_t i = 0; i < 3; i++) {
		static const char *const not_limits[] = { "ports", "rates", "" };
		struct mxg_class_config c = { .name = "smtp", .burst = 3 };
		char err[128] = "x";

		assert_int_equal(mxg_class_limit_set(&c, not_limits[i], "25",
						     "limit set", err, sizeof(err)),
				 -ENOENT);
		assert_string_equal(err, "");
		assert_int_equal(c.burst, 3);
	}

	mxg_class_limit_keys(keys, sizeof(keys));
	assert_string_equal(keys, "rate, burst, source_conns, total_conns, "
			    "ipv4_prefix, ipv6_prefix, new_sources, "
			    "new_sources_burst");
	/* A short buffer is cut, never overrun. */
	mxg_class_limit_keys(keys, 8);
	assert_string_equal(keys, "rate, b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_class_burst, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_new_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_file_leaves_cfg_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ldap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tuner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_comments, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_class_limit_set, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
