/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What mxguardctl's parts share. user/mxguardctl.c holds the table of
 * objects and verbs, checks each verb's arguments as the table declares
 * them and opens the maps; each object's file (status.c, stats.c,
 * limits.c, tuner.c, rules.c, rcpt.c, unload.c, metrics.c) runs its verbs and
 * prints their result with its text printer or its JSON printer;
 * common.c has the errors, the JSON shapes and the map readers more than
 * one object uses.
 */
#ifndef MXG_CTL_H
#define MXG_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "json.h"
#include "maps.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

struct ctl {
	const char *pin_dir;
	bool json;
	bool pretty;		/* -p: the JSON indented */
	struct json out;
	struct mxg_maps maps;
};

enum top_by { TOP_RATE, TOP_CONNS, TOP_UNKNOWN };

/* A verb's arguments, checked against the table before any map is
 * opened: the count of positional arguments, their values where a value
 * can be checked without the maps, and the options. */
struct ctl_args {
	int argc;		/* the positional arguments */
	char **argv;
	uint32_t number;	/* -n N (top) */
	enum top_by by;		/* --by (top) */
	uint64_t ttl_ns;	/* --ttl (ban add); 0 = until removed */
	const char **classes;	/* --class, each time given (ban add) */
	unsigned nclasses;
	const char *output;	/* --output (metrics); NULL = stdout */
};

/* ---- common.c ---- */

/* Errors go to stderr; with -j also as {"error": ...} on stdout so a
 * monitoring script always gets a JSON document. */
void __attribute__((format(printf, 2, 3)))
ctl_error(struct ctl *ctl, const char *fmt, ...);
/* {"ok": true} with -j, nothing in text: a change that worked. */
void ctl_print_ok(struct ctl *ctl);
/* {"NAME": [ ... ]}: the shape of every list command's JSON. */
void ctl_json_list_begin(struct ctl *ctl, const char *name);
void ctl_json_list_end(struct ctl *ctl);

/* The classes, or an error said. */
int ctl_read_classes(struct ctl *ctl, struct mxg_class classes[MXG_MAX_CLASSES]);
/* Every key and value of a hash map keyed by struct mxg_source_key, read
 * in batches (the LRU may hold millions). */
int ctl_batch_read(int fd, size_t vsize, struct mxg_source_key **keys,
		   void **vals, size_t *n);
/* The number of entries of a map, by walking its keys. */
int ctl_count_entries(int fd, size_t key_size);

/* The fleet's sync state (mxg_fleet), all zero (MXG_FLEET_OFF) when the
 * guard did not pin it; or an error said. Strings NUL-terminated. */
int ctl_read_fleet(struct ctl *ctl, struct mxg_fleet *out);
/* The fleet's record of a ban (mxg_fleet_bans): 0, -ENOENT when there is
 * none (or no such map), -errno. Strings NUL-terminated. */
int ctl_fleet_ban(const struct ctl *ctl, const struct mxg_lpm_key *key,
		  struct mxg_fleet_ban *out);

/* The tuner's record of every class slot (mxg_tuning), and what it
 * measured (mxg_tuner); or an error said. */
int ctl_read_tuning(struct ctl *ctl, struct mxg_tuning out[MXG_MAX_CLASSES]);
int ctl_read_tuner(struct ctl *ctl, struct mxg_tuner_state *out);
/* The scale a class's limits are judged by: 1.0 for 0 or 1000 (the
 * limits as configured), as bpf/tuning.h reads it. */
double ctl_scale(const struct mxg_tuning *t);

/* The limits mxguardctl shows as configured and as in force; 0 = no
 * limit. The rate per second is a double: scaled, it may be finer than
 * the config's thousandths. */
struct ctl_limits {
	double rate;
	uint32_t burst;
	uint32_t source_conns;
	uint32_t total_conns;
};
void ctl_limits_configured(const struct mxg_class *cls, struct ctl_limits *out);
/* In force: as the BPF side computes them (mxg_limits_effective()). */
void ctl_limits_effective(const struct mxg_class *cls,
			  const struct mxg_tuning *t, struct ctl_limits *out);
/* "KEY": {"rate": 5.0, "burst": N, "source_conns": N, "total_conns": N}
 * as a member of the object being written (limits.c). */
void ctl_limits_json(struct json *j, const char *key, const struct ctl_limits *l);
/* "rate 10/s (tuned: 5/s) burst 20 (tuned: 10) source_conns unlimited
 * total_conns 8": the configured limits, each followed by the one in
 * force where they differ (limits.c). */
void ctl_limits_text(const struct ctl_limits *conf, const struct ctl_limits *eff,
		     char *buf, size_t len);

double ctl_rate_per_s(uint32_t rate_milli);
/* A rate as the config writes it: "10/s", "0.5/s" or "off". */
void ctl_format_rate(uint32_t rate_milli, char *buf, size_t len);

/* ---- the checks of argument values the table declares ---- */

/* Each checks a->argv[i], says what is wrong and returns -EINVAL; a check
 * may replace a->argv[i] by its canonical form (help's object). */
typedef int ctl_check_fn(struct ctl *ctl, const struct ctl_args *a, int i);
/* An address or CIDR (rules.c). */
ctl_check_fn ctl_check_cidr;
/* A class limit KEY=VALUE of the class in a->argv[0] (limits.c). */
ctl_check_fn ctl_check_limit;
/* Something that can be a mail address whatever the mirror's recipient
 * delimiter (rcpt.c). */
ctl_check_fn ctl_check_address;

/* ---- the verbs, by object ---- */

int ctl_status(struct ctl *ctl, const struct ctl_args *a);
int ctl_stats(struct ctl *ctl, const struct ctl_args *a);
int ctl_top(struct ctl *ctl, const struct ctl_args *a);
int ctl_limit_show(struct ctl *ctl, const struct ctl_args *a);
int ctl_limit_set(struct ctl *ctl, const struct ctl_args *a);
int ctl_tuner(struct ctl *ctl, const struct ctl_args *a);
int ctl_allow_add(struct ctl *ctl, const struct ctl_args *a);
int ctl_allow_del(struct ctl *ctl, const struct ctl_args *a);
int ctl_allow_list(struct ctl *ctl, const struct ctl_args *a);
int ctl_deny_add(struct ctl *ctl, const struct ctl_args *a);
int ctl_deny_del(struct ctl *ctl, const struct ctl_args *a);
int ctl_deny_list(struct ctl *ctl, const struct ctl_args *a);
int ctl_ban_add(struct ctl *ctl, const struct ctl_args *a);
int ctl_ban_del(struct ctl *ctl, const struct ctl_args *a);
int ctl_ban_list(struct ctl *ctl, const struct ctl_args *a);
int ctl_rcpt_check(struct ctl *ctl, const struct ctl_args *a);
int ctl_rcpt_stats(struct ctl *ctl, const struct ctl_args *a);
int ctl_unload(struct ctl *ctl, const struct ctl_args *a);
int ctl_metrics(struct ctl *ctl, const struct ctl_args *a);

/* The readiness record as members of the object being written (status
 * and rcpt stats; rcpt.c). */
void ctl_mirror_json(struct json *j, const struct mxg_mirror *rec,
		     uint64_t now);

#endif
