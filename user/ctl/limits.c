/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl limit show and limit set: a class's limits, and changing
 * them at once. A value is checked by the config file's own setter
 * (mxg_class_limit_set()), so it has the file's ranges and message.
 * Both show the configured limits and, where the tuner changed them
 * (mxg_tuning), the limits in force.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include "apply.h"
#include "class_limits.h"
#include "config.h"
#include "ctl/ctl.h"

#define WHERE "limit set"

static void format_limit(uint32_t v, char *buf, size_t len)
{
	if (v)
		snprintf(buf, len, "%u", v);
	else
		snprintf(buf, len, "unlimited");
}

/* As ctl_format_rate(): "10/s", "0.5/s" or "off". */
static void format_rate(double rate, char *buf, size_t len)
{
	if (rate > 0)
		snprintf(buf, len, "%g/s", rate);
	else
		snprintf(buf, len, "off");
}

void ctl_limits_json(struct json *j, const char *key, const struct ctl_limits *l)
{
	json_key(j, key);
	json_begin_object(j);
	json_key(j, "rate");
	json_double(j, l->rate);
	json_kv_u64(j, "burst", l->burst);
	json_kv_u64(j, "source_conns", l->source_conns);
	json_kv_u64(j, "total_conns", l->total_conns);
	json_end_object(j);
}

/* " (tuned: VALUE)" when the limit in force is not the configured one. */
static size_t append_limit(char *buf, size_t len, size_t used, const char *key,
			   const char *conf, const char *eff)
{
	if (used >= len)
		return used;
	used += snprintf(buf + used, len - used, "%s%s %s", used ? " " : "",
			 key, conf);
	if (used < len && strcmp(conf, eff))
		used += snprintf(buf + used, len - used, " (tuned: %s)", eff);
	return used;
}

void ctl_limits_text(const struct ctl_limits *conf, const struct ctl_limits *eff,
		     char *buf, size_t len)
{
	char c[32], e[32];
	size_t used = 0;

	buf[0] = '\0';
	format_rate(conf->rate, c, sizeof(c));
	format_rate(eff->rate, e, sizeof(e));
	used = append_limit(buf, len, used, "rate", c, e);
	snprintf(c, sizeof(c), "%u", conf->burst);
	snprintf(e, sizeof(e), "%u", eff->burst);
	used = append_limit(buf, len, used, "burst", c, e);
	format_limit(conf->source_conns, c, sizeof(c));
	format_limit(eff->source_conns, e, sizeof(e));
	used = append_limit(buf, len, used, "source_conns", c, e);
	format_limit(conf->total_conns, c, sizeof(c));
	format_limit(eff->total_conns, e, sizeof(e));
	append_limit(buf, len, used, "total_conns", c, e);
}

static void class_print_json(struct ctl *ctl, const struct mxg_class *cls,
			     const struct mxg_tuning *t)
{
	struct json *j = &ctl->out;
	struct ctl_limits eff;

	ctl_limits_effective(cls, t, &eff);
	json_begin_object(j);
	json_kv_string(j, "name", cls->name);
	json_key(j, "rate");
	json_double(j, ctl_rate_per_s(cls->rate_milli));
	json_kv_u64(j, "burst", cls->burst);
	json_kv_u64(j, "source_conns", cls->source_conns);
	json_kv_u64(j, "total_conns", cls->total_conns);
	json_kv_u64(j, "ipv4_prefix", cls->ipv4_prefix);
	json_kv_u64(j, "ipv6_prefix", cls->ipv6_prefix);
	json_key(j, "new_sources");
	json_double(j, ctl_rate_per_s(cls->new_sources_milli));
	json_kv_u64(j, "new_sources_burst", cls->new_sources_burst);
	json_key(j, "scale");
	json_double(j, ctl_scale(t));
	ctl_limits_json(j, "effective", &eff);
	json_end_object(j);
}

/* The configured limits, and beside each the one in force where the
 * tuner changed it: untuned, the line is the configured limits alone. */
static void class_print_text(struct ctl *ctl, const struct mxg_class *cls,
			     const struct mxg_tuning *t)
{
	struct ctl_limits conf, eff;
	char limits[256], new_rate[32];

	ctl_limits_configured(cls, &conf);
	ctl_limits_effective(cls, t, &eff);
	ctl_limits_text(&conf, &eff, limits, sizeof(limits));
	ctl_format_rate(cls->new_sources_milli, new_rate, sizeof(new_rate));
	printf("%-12s %s ipv4_prefix %u ipv6_prefix %u new_sources %s new_sources_burst %u\n",
	       cls->name, limits, cls->ipv4_prefix, cls->ipv6_prefix, new_rate,
	       cls->new_sources_burst);
}

int ctl_limit_show(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct mxg_tuning tuning[MXG_MAX_CLASSES];
	const char *name = a->argc ? a->argv[0] : NULL;
	bool found = false;
	int ret;

	ret = ctl_read_classes(ctl, classes);
	if (!ret)
		ret = ctl_read_tuning(ctl, tuning);
	if (ret)
		return ret;
	/* The class is looked for before anything is printed: an unknown
	 * one is the error document alone. */
	for (uint32_t c = 0; name && !found && c < MXG_MAX_CLASSES; c++)
		found = classes[c].name[0] &&
			!strncmp(classes[c].name, name, MXG_CLASS_NAME_LEN);
	if (name && !found) {
		ctl_error(ctl, "limit show: no class '%s'", name);
		return -ENOENT;
	}
	if (ctl->json)
		ctl_json_list_begin(ctl, "classes");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		if (!classes[c].name[0] ||
		    (name && strncmp(classes[c].name, name, MXG_CLASS_NAME_LEN)))
			continue;
		(ctl->json ? class_print_json : class_print_text)(ctl, &classes[c],
								  &tuning[c]);
	}
	if (ctl->json)
		ctl_json_list_end(ctl);
	return 0;
}

/* Apply one KEY=VALUE to a class's limits. */
static int limit_apply(struct ctl *ctl, struct mxg_class_config *c,
		       const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[64], err[512], keys[256];
	int ret;

	if (!eq) {
		ctl_error(ctl, WHERE ": '%s' is not KEY=VALUE", arg);
		return -EINVAL;
	}
	/* A key longer than any is no key: cut, it still is unknown. */
	snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
	ret = mxg_class_limit_set(c, key, eq + 1, WHERE, err, sizeof(err));
	if (ret == -ENOENT) {
		mxg_class_limit_keys(keys, sizeof(keys));
		ctl_error(ctl, WHERE ": unknown key '%.*s' (keys: %s)",
			  (int)(eq - arg), arg, keys);
		return -EINVAL;
	}
	if (ret)
		ctl_error(ctl, "%s", err);
	return ret;
}

int ctl_check_limit(struct ctl *ctl, const struct ctl_args *a, int i)
{
	/* Ranges do not depend on the class: a blank one named as the
	 * class given serves the check and its message. */
	struct mxg_class_config scratch = {};

	snprintf(scratch.name, sizeof(scratch.name), "%s", a->argv[0]);
	return limit_apply(ctl, &scratch, a->argv[i]);
}

int ctl_limit_set(struct ctl *ctl, const struct ctl_args *a)
{
	const char *name = a->argv[0];
	struct mxg_class_config c;
	struct mxg_tuning tuning;
	struct mxg_class cls;
	uint32_t idx;
	int ret;

	ret = mxg_class_find(&ctl->maps, name, &idx, &cls);
	if (ret) {
		ctl_error(ctl, ret == -ENOENT ? "limit set: no class '%s'" :
						"limit set: cannot read class '%s'", name);
		return ret;
	}
	mxg_class_from_bpf(&cls, &c);
	/* Every argument was checked before the maps were opened; the one
	 * write comes after all are applied, so none changes alone. */
	for (int i = 1; i < a->argc; i++) {
		ret = limit_apply(ctl, &c, a->argv[i]);
		if (ret)
			return ret;
	}
	ret = mxg_class_apply(&ctl->maps, idx, &c);
	if (!ret)
		ret = mxg_class_find(&ctl->maps, name, &idx, &cls);
	if (ret) {
		ctl_error(ctl, "cannot write class '%s': %s", name, strerror(-ret));
		return ret;
	}
	/* The tuner's scale stays (mxg_tuning is its own): the new limits
	 * in force are the new configured ones as scaled now. */
	if (bpf_map_lookup_elem(ctl->maps.tuning, &idx, &tuning))
		memset(&tuning, 0, sizeof(tuning));
	if (ctl->json) {
		class_print_json(ctl, &cls, &tuning);
		json_finish(&ctl->out);
	} else {
		class_print_text(ctl, &cls, &tuning);
	}
	return 0;
}
