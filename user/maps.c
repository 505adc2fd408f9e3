/* SPDX-License-Identifier: BSD-2-Clause */
/* Operations on mxguard's maps; see maps.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"

/* Where each map of the registry goes in struct mxg_maps. */
#define MXG_MAP_FD_SLOT(field, at_start, what) \
	{ MXG_MAP_NAME(field), offsetof(struct mxg_maps, field) },
static const struct {
	const char *name;
	size_t offset;
} map_fds[] = {
	MXG_MAPS(MXG_MAP_FD_SLOT)
};
#undef MXG_MAP_FD_SLOT

int mxg_rcpt_inner_create(const struct mxg_inner_btf *btf,
			  uint32_t max_entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC,
		    .btf_fd = btf->btf_fd,
		    .btf_key_type_id = btf->key_type_id,
		    .btf_value_type_id = btf->value_type_id);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mxg_rcpt", sizeof(uint64_t),
			    sizeof(struct mxg_rcpt), max_entries, &opts);
	return fd < 0 ? -errno : fd;
}

/* Maps a guard of an earlier version did not pin: missing, they stay -1
 * (maps.h) and their readers take them as empty, so mxguardctl still
 * reads that guard's pins. */
static bool pin_optional(size_t offset)
{
	return offset == offsetof(struct mxg_maps, fleet) ||
	       offset == offsetof(struct mxg_maps, fleet_bans);
}

int mxg_maps_open(const char *pin_dir, struct mxg_maps *m, char *err,
		  size_t errlen)
{
	char path[4096];
	int err_code = 0;

	*m = (struct mxg_maps)MXG_MAPS_INIT;
	for (size_t i = 0; i < sizeof(map_fds) / sizeof(map_fds[0]); i++) {
		int *fd = (int *)((char *)m + map_fds[i].offset);

		snprintf(path, sizeof(path), "%s/%s", pin_dir, map_fds[i].name);
		*fd = bpf_obj_get(path);
		if (*fd < 0 && errno == ENOENT && pin_optional(map_fds[i].offset))
			continue;
		if (*fd < 0) {
			err_code = -errno;
			if (err_code == -ENOENT)
				snprintf(err, errlen,
					 "nothing pinned under %s (is mxguardd running? see --pin-dir)",
					 pin_dir);
			else if (err_code == -EPERM || err_code == -EACCES)
				snprintf(err, errlen,
					 "cannot open %s: %s (run as root)",
					 path, strerror(-err_code));
			else
				snprintf(err, errlen, "cannot open %s: %s",
					 path, strerror(-err_code));
			mxg_maps_close(m);
			return err_code;
		}
	}
	return 0;
}

void mxg_maps_close(struct mxg_maps *m)
{
	for (size_t i = 0; i < sizeof(map_fds) / sizeof(map_fds[0]); i++) {
		int *fd = (int *)((char *)m + map_fds[i].offset);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

uint64_t mxg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int mxg_classes_read(const struct mxg_maps *m,
		     struct mxg_class out[MXG_MAX_CLASSES])
{
	for (uint32_t i = 0; i < MXG_MAX_CLASSES; i++)
		if (bpf_map_lookup_elem(m->classes, &i, &out[i]))
			return -errno;
	return 0;
}

int mxg_class_find(const struct mxg_maps *m, const char *name, uint32_t *idx,
		   struct mxg_class *cls)
{
	struct mxg_class all[MXG_MAX_CLASSES];
	int err = mxg_classes_read(m, all);

	if (err)
		return err;
	for (uint32_t i = 0; i < MXG_MAX_CLASSES; i++) {
		if (all[i].name[0] && !strncmp(all[i].name, name,
					       MXG_CLASS_NAME_LEN)) {
			*idx = i;
			*cls = all[i];
			return 0;
		}
	}
	return -ENOENT;
}

int mxg_class_write(const struct mxg_maps *m, uint32_t idx,
		    const struct mxg_class *cls)
{
	return bpf_map_update_elem(m->classes, &idx, cls, BPF_ANY) ? -errno : 0;
}

/* Every CPU's copy of a per-CPU array slot (value_size bytes) back to
 * zero: counters that start anew, a new-source bucket back to full (TAT
 * 0). */
static int percpu_clear(int fd, uint32_t idx, size_t value_size)
{
	int ncpus = libbpf_num_possible_cpus();
	void *zero;
	int err = 0;

	if (ncpus < 0)
		return ncpus;
	/* The kernel reads each CPU's value 8-byte aligned. */
	zero = calloc(ncpus, (value_size + 7) & ~(size_t)7);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &idx, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

int mxg_class_update(const struct mxg_maps *m, uint32_t idx,
		     const struct mxg_class *cls)
{
	struct mxg_class cur;
	int err;

	if (bpf_map_lookup_elem(m->classes, &idx, &cur))
		return -errno;
	/* The one write of the record is what makes the new limits take
	 * effect together; the buckets are refilled after it, so that no
	 * SYN is judged by the old interval against a refilled bucket. */
	err = mxg_class_write(m, idx, cls);
	if (err)
		return err;
	if (cur.new_interval_ns != cls->new_interval_ns ||
	    cur.new_tolerance_ns != cls->new_tolerance_ns ||
	    strncmp(cur.name, cls->name, MXG_CLASS_NAME_LEN))
		err = percpu_clear(m->new_sources, idx,
				   sizeof(struct mxg_new_source_bucket));
	return err;
}

int mxg_stats_clear(const struct mxg_maps *m, uint32_t idx)
{
	return percpu_clear(m->stats, idx, sizeof(struct mxg_stats));
}

int mxg_port_read(const struct mxg_maps *m, uint32_t port, struct mxg_port *p)
{
	return bpf_map_lookup_elem(m->ports, &port, p) ? -errno : 0;
}

int mxg_port_write(const struct mxg_maps *m, uint32_t port,
		   const struct mxg_port *p)
{
	return bpf_map_update_elem(m->ports, &port, p, BPF_ANY) ? -errno : 0;
}

/* The sum over CPUs of a per-CPU array value made of n __u64 counters. */
static int percpu_sum(int fd, uint32_t key, __u64 *out, unsigned n)
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *percpu;
	int err = 0;

	if (ncpus < 0)
		return ncpus;
	percpu = calloc((size_t)ncpus * n, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(out, 0, n * sizeof(*out));
	if (bpf_map_lookup_elem(fd, &key, percpu))
		err = -errno;
	for (int cpu = 0; !err && cpu < ncpus; cpu++)
		for (unsigned i = 0; i < n; i++)
			out[i] += percpu[(size_t)cpu * n + i];
	free(percpu);
	return err;
}

int mxg_stats_read(const struct mxg_maps *m,
		   struct mxg_stats out[MXG_MAX_CLASSES + 1])
{
	int err = 0;

	for (uint32_t i = 0; !err && i <= MXG_MAX_CLASSES; i++)
		err = percpu_sum(m->stats, i, out[i].count, MXG_VERDICT_COUNT);
	return err;
}

int mxg_rule_add(int fd, const struct mxg_lpm_key *key, enum mxg_origin origin)
{
	struct mxg_rule rule = { .origin = origin, .created_ns = mxg_now_ns() };

	return bpf_map_update_elem(fd, key, &rule, BPF_ANY) ? -errno : 0;
}

int mxg_rule_del(int fd, const struct mxg_lpm_key *key)
{
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

int mxg_map_count(int fd, size_t key_size, uint64_t *n)
{
	unsigned char key[64], next[64];
	void *prev = NULL;

	*n = 0;
	if (key_size > sizeof(key))
		return -EINVAL;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

int mxg_lpm_foreach(int fd, size_t value_size, mxg_lpm_fn fn, void *ctx)
{
	struct mxg_lpm_key *keys = NULL, *grown, key, *prev = NULL;
	size_t n = 0, cap = 0;
	/* The largest value walked: mxg_fleet_bans' (144 bytes). */
	_Alignas(8) unsigned char value[256];
	int ret = 0;

	if (value_size > sizeof(value))
		return -EINVAL;
	/* Collect the keys first: deleting while walking with get_next_key
	 * would restart or skip entries. */
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(keys, cap * sizeof(*keys));
			if (!grown) {
				ret = -ENOMEM;
				goto out;
			}
			keys = grown;
		}
		keys[n] = key;
		prev = &keys[n++];
	}
	if (errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], value))
			continue; /* removed meanwhile */
		ret = fn(&keys[i], value, ctx);
		if (ret < 0)
			break;
	}
out:
	free(keys);
	return ret < 0 ? ret : 0;
}

struct sync_ctx {
	int fd;
	const struct mxg_lpm_key *keys;
	unsigned n;
	enum mxg_origin origin;
};

static bool key_in(const struct mxg_lpm_key *key,
		   const struct mxg_lpm_key *keys, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(key, &keys[i], sizeof(*key)))
			return true;
	return false;
}

static int drop_stale_rule(const struct mxg_lpm_key *key, const void *value,
			   void *ctx_)
{
	const struct mxg_rule *rule = value;
	struct sync_ctx *ctx = ctx_;
	int ret;

	if (rule->origin != ctx->origin || key_in(key, ctx->keys, ctx->n))
		return 0;
	ret = mxg_rule_del(ctx->fd, key);
	return ret == -ENOENT ? 0 : ret;
}

int mxg_rules_sync(int fd, const struct mxg_lpm_key *keys, unsigned n,
		   enum mxg_origin origin)
{
	struct sync_ctx ctx = { fd, keys, n, origin };
	struct mxg_rule rule;
	int ret;

	/* Add before removing, so a rule present in both versions of the
	 * config never disappears for a moment. A rule added by hand keeps
	 * its origin: the config does not take it over. */
	for (unsigned i = 0; i < n; i++) {
		if (!bpf_map_lookup_elem(fd, &keys[i], &rule))
			continue;
		ret = mxg_rule_add(fd, &keys[i], origin);
		if (ret)
			return ret;
	}
	return mxg_lpm_foreach(fd, sizeof(struct mxg_rule), drop_stale_rule,
			       &ctx);
}

struct collect_ctx {
	enum mxg_origin origin;
	struct mxg_lpm_key *keys;
	unsigned n, cap;
};

static int collect_rule(const struct mxg_lpm_key *key, const void *value,
			void *ctx_)
{
	const struct mxg_rule *rule = value;
	struct collect_ctx *ctx = ctx_;
	struct mxg_lpm_key *grown;

	if (rule->origin != ctx->origin)
		return 0;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
		grown = realloc(ctx->keys, ctx->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ctx->keys = grown;
	}
	ctx->keys[ctx->n++] = *key;
	return 0;
}

int mxg_rules_of(int fd, enum mxg_origin origin, struct mxg_lpm_key **keys,
		 unsigned *n)
{
	struct collect_ctx ctx = { .origin = origin };
	int ret = mxg_lpm_foreach(fd, sizeof(struct mxg_rule), collect_rule,
				  &ctx);

	if (ret) {
		free(ctx.keys);
		return ret;
	}
	*keys = ctx.keys;
	*n = ctx.n;
	return 0;
}

int mxg_ban_add(int fd, const struct mxg_lpm_key *key, uint64_t ttl_ns,
		uint32_t class_mask, enum mxg_origin origin)
{
	uint64_t now = mxg_now_ns();
	struct mxg_ban ban = {
		.origin = origin,
		.class_mask = class_mask,
		.created_ns = now,
		.expires_ns = ttl_ns ? now + ttl_ns : 0,
	};

	return bpf_map_update_elem(fd, key, &ban, BPF_ANY) ? -errno : 0;
}

struct sweep_ctx {
	int fd;
	uint64_t now;
	int swept;
};

static int sweep_one(const struct mxg_lpm_key *key, const void *value,
		     void *ctx_)
{
	const struct mxg_ban *ban = value;
	struct sweep_ctx *ctx = ctx_;

	if (!ban->expires_ns || ban->expires_ns > ctx->now)
		return 0;
	if (!bpf_map_delete_elem(ctx->fd, key))
		ctx->swept++;
	return 0;
}

int mxg_bans_sweep(int fd, uint64_t now_ns)
{
	struct sweep_ctx ctx = { fd, now_ns, 0 };
	int ret = mxg_lpm_foreach(fd, sizeof(struct mxg_ban), sweep_one, &ctx);

	return ret ? ret : ctx.swept;
}

int mxg_links_read(const struct mxg_maps *m, struct mxg_link out[MXG_MAX_LINKS])
{
	for (uint32_t i = 0; i < MXG_MAX_LINKS; i++)
		if (bpf_map_lookup_elem(m->links, &i, &out[i]))
			return -errno;
	return 0;
}

int mxg_link_write(const struct mxg_maps *m, uint32_t slot,
		   const struct mxg_link *link)
{
	return bpf_map_update_elem(m->links, &slot, link, BPF_ANY) ? -errno : 0;
}

const char *mxg_link_mode_name(uint32_t mode)
{
	switch (mode) {
	case MXG_LINK_XDP_NATIVE:
		return "xdp";
	case MXG_LINK_XDP_GENERIC:
		return "xdp-generic";
	case MXG_LINK_TC:
		return "tc";
	default:
		return "none";
	}
}

int mxg_tuning_read(const struct mxg_maps *m,
		    struct mxg_tuning out[MXG_MAX_CLASSES])
{
	for (uint32_t i = 0; i < MXG_MAX_CLASSES; i++)
		if (bpf_map_lookup_elem(m->tuning, &i, &out[i]))
			return -errno;
	return 0;
}

int mxg_tuning_write(const struct mxg_maps *m, uint32_t idx,
		     const struct mxg_tuning *t)
{
	if (idx >= MXG_MAX_CLASSES)
		return -EINVAL;
	return bpf_map_update_elem(m->tuning, &idx, t, BPF_ANY) ? -errno : 0;
}

int mxg_tuner_state_read(const struct mxg_maps *m, struct mxg_tuner_state *out)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(m->tuner, &zero, out) ? -errno : 0;
}

int mxg_tuner_state_write(const struct mxg_maps *m,
			  const struct mxg_tuner_state *st)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(m->tuner, &zero, st, BPF_ANY) ? -errno : 0;
}

int mxg_class_conns_read(const struct mxg_maps *m,
			 uint64_t out[MXG_MAX_CLASSES])
{
	struct mxg_class_conns c;

	for (uint32_t i = 0; i < MXG_MAX_CLASSES; i++) {
		if (bpf_map_lookup_elem(m->class_conns, &i, &c))
			return -errno;
		out[i] = c.conns;
	}
	return 0;
}

int mxg_conns_sweep(int fd, uint64_t now_ns, uint64_t idle_ns)
{
	struct mxg_source_key key, next, *prev = NULL;
	struct mxg_conn c;
	int swept = 0;

	/* Deleting the entry just returned by get_next_key makes the walk
	 * restart, so keep the previous key only when it stays. A source
	 * that connects again between the read and the delete loses that
	 * one count (counts err low, never high); idle_ns makes it rare. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &c) && !c.conns &&
		    now_ns > c.last_ns + idle_ns && !bpf_map_delete_elem(fd, &next)) {
			swept++;
			continue;	/* prev stays: its successor is new */
		}
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? swept : -errno;
}

int mxg_rcpt_stats_read(const struct mxg_maps *m, struct mxg_rcpt_stats *out)
{
	return percpu_sum(m->rcpt_stats, 0, out->count, MXG_RCPT_COUNTERS);
}

int mxg_inspect_read(const struct mxg_maps *m, struct mxg_inspect *out)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(m->inspect, &zero, out) ? -errno : 0;
}

int mxg_inspect_write(const struct mxg_maps *m, const struct mxg_inspect *in)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(m->inspect, &zero, in, BPF_ANY) ? -errno : 0;
}
