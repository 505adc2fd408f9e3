/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard.conf: the INI file, parsed and validated whole into a struct
 * before anything is applied, so that a bad file never half-applies.
 * The reader is config.c, the keys and their setters config_keys.c, the
 * whole-file checks config_check.c.
 */
#ifndef MXG_CONFIG_H
#define MXG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "mxguard.h"
#include "parse.h"

#define MXG_DEFAULT_CONFIG "/etc/mxguard/mxguard.conf"
#define MXG_DEFAULT_PIN_DIR "/sys/fs/bpf/mxguard"
#define MXG_MAX_IFACES 16
#define MXG_MAX_PORTS_PER_CLASS 32
#define MXG_MAX_CONFIG_RULES 4096

enum mxg_attach_mode {
	MXG_ATTACH_AUTO = 0,	/* native XDP, falling back to generic */
	MXG_ATTACH_XDP,		/* native XDP only */
	MXG_ATTACH_XDP_GENERIC,
	MXG_ATTACH_TC,
};

enum mxg_on_exit { MXG_ON_EXIT_DETACH = 0, MXG_ON_EXIT_KEEP };

struct mxg_class_config {
	char name[MXG_CLASS_NAME_LEN];
	uint16_t ports[MXG_MAX_PORTS_PER_CLASS];
	unsigned nports;
	uint32_t rate_milli;	/* 0 = no rate limit */
	uint32_t burst;		/* >= 1; default max(1, rate) */
	uint32_t source_conns;	/* 0 = no limit */
	uint32_t total_conns;	/* 0 = no limit */
	uint8_t ipv4_prefix;	/* default 32 */
	uint8_t ipv6_prefix;	/* default 64 */
	/* Sources not tracked yet, class-wide: 0 = no limit. */
	uint32_t new_sources_milli;
	uint32_t new_sources_burst;	/* >= 1; default max(1, new_sources) */
};

#define MXG_LDAP_MAX_ATTRS 16
#define MXG_LDAP_MAX_URIS 8
#define MXG_MAX_CONFIG_DOMAINS 1024
#define MXG_DOMAIN_LEN 254

/* [ldap]: where the recipient mirror reads valid addresses from. */
struct mxg_ldap_config {
	bool enabled;			/* an [ldap] section was given */
	/* ldap://, ldaps://, ldapi://; several are blank-separated, tried in
	 * order (the form ldap_initialize takes). */
	char uri[1024];
	bool starttls;
	char ca_file[256];
	char bind_dn[512];		/* "" = anonymous */
	char bind_password_file[256];	/* mode 0600 or stricter */
	char base[512];
	char filter[512];
	char attributes[MXG_LDAP_MAX_ATTRS][64];
	unsigned nattributes;
	char domains[MXG_MAX_CONFIG_DOMAINS][MXG_DOMAIN_LEN + 1];
	unsigned ndomains;		/* lower-case, no trailing dot */
	uint32_t sync;			/* enum mxg_sync_mode */
	uint64_t poll_interval_ns;
	uint64_t max_age_ns;
};

/* [lookup]: the socketmap service for the MTA (user/lookup.h). */
#define MXG_LOOKUP_PATH_MAX 108		/* sizeof(sockaddr_un.sun_path) */
/* The MTA's group may connect, other users may not (docs/mta.md). */
#define MXG_LOOKUP_DEFAULT_MODE 0660
#define MXG_LOOKUP_DEFAULT_GROUP "postfix"
struct mxg_lookup_config {
	bool enabled;			/* a [lookup] section was given */
	char socket[MXG_LOOKUP_PATH_MAX];	/* absolute path */
	uint32_t mode;			/* permission bits of the socket file */
	char group[64];			/* as given, for messages */
	uint32_t gid;			/* the socket file's group */
};

/* [tuner]: the limits scaled by the protected servers' health
 * (user/tuner.h). Class lists hold names: slots are the running guard's. */
#define MXG_DESC_PROCESS_LEN 16		/* TASK_COMM_LEN */
struct mxg_tuner_config {
	bool enabled;			/* a [tuner] section, enabled = yes */
	uint64_t interval_ns;
	uint32_t floor_permille;
	uint32_t decrease_permille;
	uint32_t increase_permille;
	uint32_t recover_permille;	/* recover_at */
	uint64_t cooldown_ns;
	/* The directory's search latency; needs [ldap]. */
	uint64_t latency_target_ns;	/* 0 = off */
	uint64_t latency_timeout_ns;
	uint32_t latency_window;
	uint32_t latency_percentile;
	char latency_classes[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];
	unsigned nlatency_classes;	/* 0 = every class */
	/* The directory's descriptors. */
	char descriptors_pid_file[256];	/* "" = off */
	char descriptors_process[MXG_DESC_PROCESS_LEN];
	uint32_t descriptors_reserve;	/* descriptors, or percent * 100 */
	bool descriptors_reserve_pct;
	char descriptors_class[MXG_CLASS_NAME_LEN];
	/* The host's pressure, "some avg10", percent * 100; 0 = off. */
	uint32_t pressure_cpu_centi;
	uint32_t pressure_memory_centi;
	char pressure_classes[MXG_MAX_CLASSES][MXG_CLASS_NAME_LEN];
	unsigned npressure_classes;	/* 0 = every class */
};

/* [metrics]: the Prometheus endpoint of mxguardd (user/metrics_http.h). */
struct mxg_metrics_config {
	bool enabled;			/* a [metrics] section was given */
	char listen[64];		/* as given, for messages */
	struct mxg_listen_addr addr;
};

/*
 * [fleet]: the penalty box shared through the directory (user/fleet.h,
 * docs/fleet.md). conn is how to reach it: uri (a list, tried in order),
 * starttls, ca_file, bind_dn and bind_password_file each default to
 * [ldap]'s when not set here; base is the fleet subtree (required); sync
 * and poll_interval as [ldap]'s. conn's other fields are unused.
 */
#define MXG_FLEET_DEFAULT_WIDEST_V4 24
#define MXG_FLEET_DEFAULT_WIDEST_V6 48
struct mxg_fleet_config {
	bool enabled;			/* a [fleet] section was given */
	struct mxg_ldap_config conn;
	/* This guard's name in the fleet: its container is cn=HOST,BASE.
	 * Default: the host name (gethostname). 1..63 of [A-Za-z0-9.-]. */
	char host[MXG_FLEET_HOST_LEN];
	bool publish;			/* write this host's bans (default yes) */
	bool follow;			/* apply the peers' bans (default yes) */
	/* A peer's ban wider than this (a shorter prefix) is refused. */
	uint8_t widest_ipv4_prefix;	/* 0..32, default 24 */
	uint8_t widest_ipv6_prefix;	/* 0..128, default 48 */
};

struct mxg_config {
	char path[4096];
	/* [global] */
	char ifaces[MXG_MAX_IFACES][16];	/* IFNAMSIZ */
	unsigned nifaces;
	enum mxg_attach_mode attach;
	char pin_dir[256];
	char cgroup[256];	/* "" = find cgroup v2 in the mount table */
	uint32_t max_sources;
	enum mxg_on_exit on_exit;
	/* [class NAME] */
	struct mxg_class_config classes[MXG_MAX_CLASSES];
	unsigned nclasses;
	/* [allow], [deny]: key "cidr", may repeat and may hold a list */
	struct mxg_lpm_key allow[MXG_MAX_CONFIG_RULES];
	unsigned nallow;
	struct mxg_lpm_key deny[MXG_MAX_CONFIG_RULES];
	unsigned ndeny;
	/* [ldap] */
	struct mxg_ldap_config ldap;
	/* [smtp_inspect] */
	char recipient_delimiter[MXG_DELIM_MAX];	/* "" = none */
	struct mxg_inspect inspect;	/* mode, threshold, window, penalty */
	/* [lookup] */
	struct mxg_lookup_config lookup;
	/* [tuner] */
	struct mxg_tuner_config tuner;
	/* [metrics] */
	struct mxg_metrics_config metrics;
	/* [fleet] */
	struct mxg_fleet_config fleet;
};

/*
 * Parse and validate a config file into *cfg (defaults first: classes smtp
 * 25,465,587 and ldap 389,636 exist unless the file redefines them).
 * Returns 0, or -EINVAL with one message in err naming file, line, key and
 * what is allowed ("mxguard.conf:12: [class smtp] rate: 'fast' is not a
 * rate (examples: 10, 10/s, 30/min)"), or -errno if the file cannot be read.
 */
int mxg_config_load(const char *path, struct mxg_config *cfg,
		    char *err, size_t errlen);
/* The same from a string (for tests); name is used in messages. */
int mxg_config_load_string(const char *name, const char *text,
			   struct mxg_config *cfg, char *err, size_t errlen);

/* Every key the parser accepts, per section, for the docs test. */
extern const char *const mxg_config_keys[];

/*
 * Set one limit of a class (a key of [class NAME] but ports) from its text,
 * through the same setter, ranges and message as the file. where begins
 * the message in place of "FILE:LINE" ("limit set: [class smtp] rate:
 * 'fast' is not a rate (...)"). Returns 0; -ENOENT when key is no class
 * limit (err empty); -EINVAL with the message in err.
 */
int mxg_class_limit_set(struct mxg_class_config *c, const char *key,
			const char *value, const char *where, char *err,
			size_t errlen);
/* "rate, burst, ...": the keys mxg_class_limit_set() takes. */
void mxg_class_limit_keys(char *buf, size_t len);

#endif
