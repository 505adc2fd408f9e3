/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl limit show and limit set: a class's limits, and changing
 * them at once. A value is checked by the config file's own setter
 * (mxg_class_limit_set()), so it has the file's ranges and message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
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

static void class_print_json(struct ctl *ctl, const struct mxg_class *cls)
{
	struct json *j = &ctl->out;

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
	json_end_object(j);
}

static void class_print_text(struct ctl *ctl, const struct mxg_class *cls)
{
	char rate[32], new_rate[32], src[16], total[16];

	ctl_format_rate(cls->rate_milli, rate, sizeof(rate));
	ctl_format_rate(cls->new_sources_milli, new_rate, sizeof(new_rate));
	format_limit(cls->source_conns, src, sizeof(src));
	format_limit(cls->total_conns, total, sizeof(total));
	printf("%-12s rate %s burst %u source_conns %s total_conns %s ipv4_prefix %u ipv6_prefix %u new_sources %s new_sources_burst %u\n",
	       cls->name, rate, cls->burst, src, total, cls->ipv4_prefix,
	       cls->ipv6_prefix, new_rate, cls->new_sources_burst);
}

int ctl_limit_show(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	const char *name = a->argc ? a->argv[0] : NULL;
	bool found = false;
	int ret;

	ret = ctl_read_classes(ctl, classes);
	if (ret)
		return ret;
	if (ctl->json)
		ctl_json_list_begin(ctl, "classes");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		if (!classes[c].name[0] ||
		    (name && strncmp(classes[c].name, name, MXG_CLASS_NAME_LEN)))
			continue;
		found = true;
		(ctl->json ? class_print_json : class_print_text)(ctl, &classes[c]);
	}
	if (ctl->json)
		ctl_json_list_end(ctl);
	if (name && !found) {
		ctl_error(ctl, "no class '%s'", name);
		return -ENOENT;
	}
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
	struct mxg_class cls;
	uint32_t idx;
	int ret;

	ret = mxg_class_find(&ctl->maps, name, &idx, &cls);
	if (ret) {
		ctl_error(ctl, ret == -ENOENT ? "no class '%s'" : "cannot read class '%s'",
			  name);
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
	if (ctl->json) {
		class_print_json(ctl, &cls);
		json_finish(&ctl->out);
	} else {
		class_print_text(ctl, &cls);
	}
	return 0;
}
