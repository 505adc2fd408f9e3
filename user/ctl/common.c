/* SPDX-License-Identifier: BSD-2-Clause */
/* What more than one of mxguardctl's objects uses; see ctl.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "ctl/ctl.h"
#include "log.h"
#include "tuning.h"

/* Keys read per batch: a few hundred kB of keys and values per call. */
#define BATCH 4096

void ctl_error(struct ctl *ctl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mxg_err("%s", msg);
	if (ctl->json) {
		json_init(&ctl->out, stdout);
		json_set_pretty(&ctl->out, ctl->pretty);
		json_begin_object(&ctl->out);
		json_kv_string(&ctl->out, "error", msg);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	}
}

void ctl_print_ok(struct ctl *ctl)
{
	if (!ctl->json)
		return;
	json_begin_object(&ctl->out);
	json_kv_bool(&ctl->out, "ok", true);
	json_end_object(&ctl->out);
	json_finish(&ctl->out);
}

void ctl_json_list_begin(struct ctl *ctl, const char *name)
{
	json_begin_object(&ctl->out);
	json_key(&ctl->out, name);
	json_begin_array(&ctl->out);
}

void ctl_json_list_end(struct ctl *ctl)
{
	json_end_array(&ctl->out);
	json_end_object(&ctl->out);
	json_finish(&ctl->out);
}

int ctl_read_classes(struct ctl *ctl, struct mxg_class classes[MXG_MAX_CLASSES])
{
	int ret = mxg_classes_read(&ctl->maps, classes);

	if (ret)
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_NAME(classes), strerror(-ret));
	return ret;
}

int ctl_read_tuning(struct ctl *ctl, struct mxg_tuning out[MXG_MAX_CLASSES])
{
	int ret = mxg_tuning_read(&ctl->maps, out);

	if (ret)
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_NAME(tuning), strerror(-ret));
	return ret;
}

int ctl_read_tuner(struct ctl *ctl, struct mxg_tuner_state *out)
{
	int ret = mxg_tuner_state_read(&ctl->maps, out);

	if (ret)
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_NAME(tuner), strerror(-ret));
	return ret;
}

int ctl_read_fleet(struct ctl *ctl, struct mxg_fleet *out)
{
	__u32 zero = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (ctl->maps.fleet < 0)
		return 0;
	if (bpf_map_lookup_elem(ctl->maps.fleet, &zero, out)) {
		ret = -errno;
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_NAME(fleet), strerror(-ret));
		return ret;
	}
	out->host[sizeof(out->host) - 1] = '\0';
	out->server[sizeof(out->server) - 1] = '\0';
	out->error[sizeof(out->error) - 1] = '\0';
	return 0;
}

int ctl_fleet_ban(const struct ctl *ctl, const struct mxg_lpm_key *key,
		  struct mxg_fleet_ban *out)
{
	if (ctl->maps.fleet_bans < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(ctl->maps.fleet_bans, key, out))
		return -errno;
	out->host[sizeof(out->host) - 1] = '\0';
	out->reason[sizeof(out->reason) - 1] = '\0';
	return 0;
}

double ctl_scale(const struct mxg_tuning *t)
{
	if (!t->scale_permille || t->scale_permille >= MXG_SCALE_ONE)
		return 1.0;
	return t->scale_permille / (double)MXG_SCALE_ONE;
}

void ctl_limits_configured(const struct mxg_class *cls, struct ctl_limits *out)
{
	out->rate = ctl_rate_per_s(cls->rate_milli);
	out->burst = cls->burst;
	out->source_conns = cls->source_conns;
	out->total_conns = cls->total_conns;
}

void ctl_limits_effective(const struct mxg_class *cls,
			  const struct mxg_tuning *t, struct ctl_limits *out)
{
	struct mxg_limits_now now;

	mxg_limits_effective(cls, t, &now);
	/* The rate back from the interval the SYNs are judged by; unscaled,
	 * the configured rate as written (the interval was rounded from
	 * it, 3/s is 333333333 ns). */
	if (now.interval_ns == cls->interval_ns)
		out->rate = ctl_rate_per_s(cls->rate_milli);
	else
		out->rate = now.interval_ns ? (double)NSEC_PER_SEC / now.interval_ns : 0;
	out->burst = now.burst;
	out->source_conns = now.source_conns;
	out->total_conns = now.total_conns;
}

int ctl_batch_read(int fd, size_t vsize, struct mxg_source_key **keys_out,
		   void **vals_out, size_t *n)
{
	struct mxg_source_key *keys = NULL;
	unsigned char *vals = NULL;
	size_t cap = 0, count = 0;
	__u64 in = 0, next = 0;
	bool first = true;
	int ret;

	for (;;) {
		__u32 got = BATCH;

		if (count + BATCH > cap) {
			void *k, *v;

			cap = (count + BATCH) * 2;
			k = realloc(keys, cap * sizeof(*keys));
			v = k ? realloc(vals, cap * vsize) : NULL;
			if (k)
				keys = k;
			if (!k || !v) {
				ret = -ENOMEM;
				break;
			}
			vals = v;
		}
		ret = bpf_map_lookup_batch(fd, first ? NULL : &in, &next,
					   keys + count, vals + count * vsize,
					   &got, NULL);
		if (ret && errno != ENOENT) {
			ret = -errno;
			break;
		}
		count += got;
		if (ret) {	/* ENOENT: that was the last batch */
			ret = 0;
			break;
		}
		in = next;
		first = false;
	}
	if (ret) {
		free(keys);
		free(vals);
		return ret;
	}
	*keys_out = keys;
	*vals_out = vals;
	*n = count;
	return 0;
}

int ctl_count_entries(int fd, size_t key_size)
{
	uint64_t n;
	int ret = mxg_map_count(fd, key_size, &n);

	return ret == -EINVAL ? ret : (int)n;
}

double ctl_rate_per_s(uint32_t rate_milli)
{
	return rate_milli / 1000.0;
}

void ctl_format_rate(uint32_t rate_milli, char *buf, size_t len)
{
	if (rate_milli)
		snprintf(buf, len, "%g/s", ctl_rate_per_s(rate_milli));
	else
		snprintf(buf, len, "off");
}
