/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl allow, deny and ban: the allow and deny lists (LPM tries of
 * struct mxg_rule) and the penalty box (struct mxg_ban), changed and
 * listed with each entry's origin; a ban also with what the fleet's
 * record of it says (mxg_fleet_bans): the peer it came from, or that this
 * host published it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ctl/ctl.h"
#include "names.h"
#include "parse.h"

int ctl_check_cidr(struct ctl *ctl, const struct ctl_args *a, int i)
{
	struct mxg_lpm_key key;

	if (!mxg_parse_cidr(a->argv[i], &key))
		return 0;
	ctl_error(ctl, "'%s' is not an address or CIDR (examples: 198.18.0.0/15, 2001:db8::/32, 198.18.0.7)",
		  a->argv[i]);
	return -EINVAL;
}

/* The arguments as keys; each was checked, so each parses. */
static struct mxg_lpm_key *parse_cidrs(int argc, char **argv)
{
	struct mxg_lpm_key *keys = calloc(argc ? argc : 1, sizeof(*keys));

	for (int i = 0; keys && i < argc; i++)
		if (mxg_parse_cidr(argv[i], &keys[i])) {
			free(keys);
			return NULL;
		}
	return keys;
}

/* ---- allow / deny ---- */

static int rules_fd(struct ctl *ctl, const char *object)
{
	return !strcmp(object, "allow") ? ctl->maps.allow : ctl->maps.deny;
}

static int rule_change(struct ctl *ctl, const char *object, bool add,
		       const struct ctl_args *a)
{
	struct mxg_lpm_key *keys = parse_cidrs(a->argc, a->argv);
	int fd = rules_fd(ctl, object), ret = 0;

	if (!keys)
		return -ENOMEM;
	for (int i = 0; !ret && i < a->argc; i++) {
		ret = add ? mxg_rule_add(fd, &keys[i], MXG_ORIGIN_CLI) :
			    mxg_rule_del(fd, &keys[i]);
		if (ret == -ENOENT)
			ctl_error(ctl, "%s is not on the %s list", a->argv[i], object);
		else if (ret)
			ctl_error(ctl, "cannot %s %s: %s", add ? "add" : "delete",
				  a->argv[i], strerror(-ret));
	}
	free(keys);
	if (!ret)
		ctl_print_ok(ctl);
	return ret;
}

int ctl_allow_add(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_change(ctl, "allow", true, a);
}

int ctl_allow_del(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_change(ctl, "allow", false, a);
}

int ctl_deny_add(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_change(ctl, "deny", true, a);
}

int ctl_deny_del(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_change(ctl, "deny", false, a);
}

/* One entry of a list, as both printers show it. */
struct entry {
	char cidr[MXG_CIDR_STRLEN];
	const char *origin;
	uint64_t age_s;		/* rules */
	char classes[256];	/* bans: "all" or "smtp,ldap" */
	int64_t left_s;		/* bans: time left, -1 = never expires */
	/* bans, from mxg_fleet_bans: a fleet ban's peer ("" = unknown) with
	 * the reason and expiry its entry gives; a local ban published. */
	char peer[MXG_FLEET_HOST_LEN];
	char peer_reason[MXG_FLEET_REASON_LEN];
	uint64_t peer_expires_s;	/* Unix s; 0 = none */
	bool published;
};

struct list_printer {
	void (*begin)(struct ctl *ctl, const char *name);
	void (*entry)(struct ctl *ctl, const struct entry *e);
	void (*end)(struct ctl *ctl);
};

/* The entries are gathered before anything is printed: a map that
 * cannot be read is an error alone, never an empty or half list. */
struct list_ctx {
	uint64_t now;
	const struct ctl *ctl;
	const char *failed_map;	/* set when another map than the listed failed */
	const struct mxg_class *classes;
	struct entry *entries;
	size_t n, cap;
};

static int list_append(struct list_ctx *ctx, const struct entry *e)
{
	if (ctx->n == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 64;
		struct entry *grown = realloc(ctx->entries, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ctx->entries = grown;
		ctx->cap = cap;
	}
	ctx->entries[ctx->n++] = *e;
	return 0;
}

/* The list in ctx, or the error: "allow list: cannot read mxg_allow:
 * ...". */
static int list_print(struct ctl *ctl, const char *verb, const char *map,
		      int ret, struct list_ctx *ctx, const char *name,
		      const struct list_printer *print)
{
	if (ret) {
		ctl_error(ctl, "%s: cannot read %s: %s", verb, map, strerror(-ret));
	} else {
		print->begin(ctl, name);
		for (size_t i = 0; i < ctx->n; i++)
			print->entry(ctl, &ctx->entries[i]);
		print->end(ctl);
	}
	free(ctx->entries);
	return ret;
}

static void rules_begin_text(struct ctl *ctl, const char *name)
{
	printf("%-44s %-8s %10s\n", "cidr", "origin", "age_s");
}

static void rule_print_text(struct ctl *ctl, const struct entry *e)
{
	printf("%-44s %-8s %10" PRIu64 "\n", e->cidr, e->origin, e->age_s);
}

static void rule_print_json(struct ctl *ctl, const struct entry *e)
{
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_kv_string(j, "cidr", e->cidr);
	json_kv_string(j, "origin", e->origin);
	json_kv_u64(j, "age_s", e->age_s);
	json_end_object(j);
}

static void list_end_text(struct ctl *ctl)
{
}

static const struct list_printer rules_text = {
	rules_begin_text, rule_print_text, list_end_text,
};
static const struct list_printer rules_json = {
	ctl_json_list_begin, rule_print_json, ctl_json_list_end,
};

static int list_rule(const struct mxg_lpm_key *key, const void *value,
		     void *ctx_)
{
	const struct mxg_rule *rule = value;
	struct list_ctx *ctx = ctx_;
	struct entry e = {
		.origin = mxg_name_of(&mxg_origins, rule->origin),
		.age_s = ctx->now > rule->created_ns ?
				 (ctx->now - rule->created_ns) / NSEC_PER_SEC : 0,
	};

	mxg_format_cidr(key, e.cidr, sizeof(e.cidr));
	return list_append(ctx, &e);
}

static int rule_list(struct ctl *ctl, const char *object)
{
	struct list_ctx ctx = { .now = mxg_now_ns() };
	bool allow = !strcmp(object, "allow");
	int ret;

	ret = mxg_lpm_foreach(rules_fd(ctl, object), sizeof(struct mxg_rule),
			      list_rule, &ctx);
	return list_print(ctl, allow ? "allow list" : "deny list",
			  allow ? MXG_MAP_NAME(allow) : MXG_MAP_NAME(deny), ret,
			  &ctx, object, ctl->json ? &rules_json : &rules_text);
}

int ctl_allow_list(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_list(ctl, "allow");
}

int ctl_deny_list(struct ctl *ctl, const struct ctl_args *a)
{
	return rule_list(ctl, "deny");
}

/* ---- ban ---- */

int ctl_ban_add(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_lpm_key key;
	struct mxg_class cls;
	uint32_t mask = 0, idx;
	int ret;

	for (unsigned i = 0; i < a->nclasses; i++) {
		ret = mxg_class_find(&ctl->maps, a->classes[i], &idx, &cls);
		if (ret) {
			ctl_error(ctl, "ban add --class: no class '%s'",
				  a->classes[i]);
			return -ENOENT;
		}
		mask |= 1U << idx;
	}
	if (mxg_parse_cidr(a->argv[0], &key))
		return -EINVAL;	/* checked before: cannot happen */
	ret = mxg_ban_add(ctl->maps.bans, &key, a->ttl_ns, mask ? mask : ~0U,
			  MXG_ORIGIN_CLI);
	if (ret) {
		ctl_error(ctl, "cannot ban %s: %s", a->argv[0], strerror(-ret));
		return ret;
	}
	ctl_print_ok(ctl);
	return 0;
}

int ctl_ban_del(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_lpm_key key;
	int ret;

	if (mxg_parse_cidr(a->argv[0], &key))
		return -EINVAL;	/* checked before: cannot happen */
	ret = mxg_rule_del(ctl->maps.bans, &key);
	if (ret) {
		ctl_error(ctl, ret == -ENOENT ? "%s is not banned" : "cannot unban %s",
			  a->argv[0]);
		return ret;
	}
	ctl_print_ok(ctl);
	return 0;
}

static void format_class_mask(uint32_t mask, const struct mxg_class *classes,
			      char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (mask == ~0U) {
		snprintf(buf, len, "all");
		return;
	}
	for (int c = 0; c < MXG_MAX_CLASSES && used < len; c++)
		if ((mask & (1U << c)) && classes[c].name[0])
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", classes[c].name);
}

static void bans_begin_text(struct ctl *ctl, const char *name)
{
	printf("%-44s %-16s %-8s %12s %s\n", "cidr", "classes", "origin",
	       "expires_in", "fleet");
}

/* "2026-11-30T18:40:00Z" */
static void format_utc(uint64_t unix_s, char *buf, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%" PRIu64, unix_s);
}

/* The fleet column: "from mx2.example.org (inspect, until
 * 2026-11-30T18:40:00Z)", "published", or nothing, so that a line of a
 * ban the fleet does not know reads as before the fleet. */
static void format_fleet(const struct entry *e, char *buf, size_t len)
{
	char until[32] = "";
	size_t used;

	buf[0] = '\0';
	if (e->published) {
		snprintf(buf, len, " published");
		return;
	}
	if (!e->peer[0])
		return;
	used = (size_t)snprintf(buf, len, " from %s", e->peer);
	if (e->peer_expires_s)
		format_utc(e->peer_expires_s, until, sizeof(until));
	if (used < len && (e->peer_reason[0] || until[0]))
		snprintf(buf + used, len - used, " (%s%s%s%s)", e->peer_reason,
			 e->peer_reason[0] && until[0] ? ", " : "",
			 until[0] ? "until " : "", until);
}

static void ban_print_text(struct ctl *ctl, const struct entry *e)
{
	char left[24], fleet[MXG_FLEET_HOST_LEN + MXG_FLEET_REASON_LEN + 48];

	if (e->left_s < 0)
		snprintf(left, sizeof(left), "never");
	else
		snprintf(left, sizeof(left), "%" PRId64 "s", e->left_s);
	format_fleet(e, fleet, sizeof(fleet));
	printf("%-44s %-16s %-8s %12s%s\n", e->cidr, e->classes, e->origin,
	       left, fleet);
}

static void ban_print_json(struct ctl *ctl, const struct entry *e)
{
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_kv_string(j, "cidr", e->cidr);
	json_kv_string(j, "classes", e->classes);
	json_kv_string(j, "origin", e->origin);
	/* The origin under its first name, for the scripts that read it. */
	json_kv_string(j, "reason", e->origin);
	json_key(j, "expires_in_s");
	if (e->left_s < 0)
		json_null(j);
	else
		json_i64(j, e->left_s);
	json_kv_string(j, "peer", e->peer[0] ? e->peer : NULL);
	json_kv_string(j, "peer_reason", e->peer[0] ? e->peer_reason : NULL);
	json_key(j, "peer_expires");
	if (e->peer[0] && e->peer_expires_s)
		json_u64(j, e->peer_expires_s);
	else
		json_null(j);
	json_kv_bool(j, "published", e->published);
	json_end_object(j);
}

static const struct list_printer bans_text = {
	bans_begin_text, ban_print_text, list_end_text,
};
static const struct list_printer bans_json = {
	ctl_json_list_begin, ban_print_json, ctl_json_list_end,
};

static int list_ban(const struct mxg_lpm_key *key, const void *value,
		    void *ctx_)
{
	const struct mxg_ban *ban = value;
	struct list_ctx *ctx = ctx_;
	struct entry e = {
		.origin = mxg_name_of(&mxg_origins, ban->origin),
		.left_s = -1,
	};
	struct mxg_fleet_ban fb;
	int ret;

	/* Expired bans no longer apply; the daemon sweeps them. */
	if (ban->expires_ns && ban->expires_ns <= ctx->now)
		return 0;
	/* A record only counts for the side it is for: a peer's for a fleet
	 * ban, this host's published one for a local ban. */
	ret = ctl_fleet_ban(ctx->ctl, key, &fb);
	if (ret && ret != -ENOENT) {
		ctx->failed_map = MXG_MAP_NAME(fleet_bans);
		return ret;
	}
	if (!ret && ban->origin == MXG_ORIGIN_FLEET &&
	    !(fb.flags & MXG_FLEET_PUBLISHED)) {
		snprintf(e.peer, sizeof(e.peer), "%s", fb.host);
		snprintf(e.peer_reason, sizeof(e.peer_reason), "%s", fb.reason);
		e.peer_expires_s = fb.expires_s;
	} else if (!ret && ban->origin != MXG_ORIGIN_FLEET) {
		e.published = fb.flags & MXG_FLEET_PUBLISHED;
	}
	if (ban->expires_ns)
		e.left_s = (ban->expires_ns - ctx->now + NSEC_PER_SEC - 1) /
			   NSEC_PER_SEC;
	mxg_format_cidr(key, e.cidr, sizeof(e.cidr));
	format_class_mask(ban->class_mask, ctx->classes, e.classes,
			  sizeof(e.classes));
	return list_append(ctx, &e);
}

int ctl_ban_list(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct list_ctx ctx = { .now = mxg_now_ns(), .ctl = ctl, .classes = classes };
	int ret;

	ret = ctl_read_classes(ctl, classes);
	if (ret)
		return ret;
	ret = mxg_lpm_foreach(ctl->maps.bans, sizeof(struct mxg_ban), list_ban,
			      &ctx);
	return list_print(ctl, "ban list",
			  ctx.failed_map ? ctx.failed_map : MXG_MAP_NAME(bans),
			  ret, &ctx, "bans", ctl->json ? &bans_json : &bans_text);
}
