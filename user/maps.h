/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Operations on mxguard's maps, shared by mxguardd and mxguardctl so that
 * both change state the same way: open the pinned set, read and write
 * classes, ports, rules, bans and counters.
 */
#ifndef MXG_MAPS_H_USER
#define MXG_MAPS_H_USER

#include <stdbool.h>
#include <stdint.h>
#include "mxguard.h"

/* The fd of every map, by its field in the registry (MXG_MAPS in
 * mxguard.h); -1 when not open. */
#define MXG_MAP_FD_FIELD(field, at_start, what) int field;
struct mxg_maps {
	MXG_MAPS(MXG_MAP_FD_FIELD)
};
#undef MXG_MAP_FD_FIELD

#define MXG_MAP_FD_NONE(field, at_start, what) .field = -1,
#define MXG_MAPS_INIT { MXG_MAPS(MXG_MAP_FD_NONE) }

/* The BTF types of the recipient mirror's inner map, from the loaded
 * object (mxg_inner_btf_from_skel() in loader.h). */
struct mxg_inner_btf {
	int btf_fd;
	uint32_t key_type_id, value_type_id;
};

/* A new, empty inner map for mxg_rcpt_slot with room for max_entries
 * recipients, typed by btf: 6.1 refuses a map without BTF in a
 * map-in-map whose template has it, so there is no untyped fallback.
 * Returns the fd or -errno. */
int mxg_rcpt_inner_create(const struct mxg_inner_btf *btf,
			  uint32_t max_entries);

/* Open every pinned map of the registry under pin_dir. -ENOENT when
 * nothing is pinned there; -EPERM/-EACCES when not allowed. err gets a
 * one-line reason. The fleet's maps (mxg_fleet, mxg_fleet_bans), which a
 * guard of an earlier version does not pin, may be missing: their fds
 * are then -1, read as "no fleet". */
int mxg_maps_open(const char *pin_dir, struct mxg_maps *m, char *err,
		  size_t errlen);
void mxg_maps_close(struct mxg_maps *m);

/* CLOCK_MONOTONIC in ns: the clock bpf_ktime_get_ns() reads. */
uint64_t mxg_now_ns(void);

int mxg_classes_read(const struct mxg_maps *m,
		     struct mxg_class out[MXG_MAX_CLASSES]);
/* Find a class by name: -ENOENT if there is none. */
int mxg_class_find(const struct mxg_maps *m, const char *name, uint32_t *idx,
		   struct mxg_class *cls);
int mxg_class_write(const struct mxg_maps *m, uint32_t idx,
		    const struct mxg_class *cls);
/* Write a class record as the one change that makes its limits take
 * effect together; when the new-source limit or the slot's owner changes,
 * every CPU's bucket of the slot then starts full again (a TAT left far
 * ahead by a slower old rate would otherwise refuse new sources for
 * seconds). */
int mxg_class_update(const struct mxg_maps *m, uint32_t idx,
		     const struct mxg_class *cls);

/* Sum the per-CPU counters: out[i] for class i, out[MXG_STATS_GLOBAL]. */
int mxg_stats_read(const struct mxg_maps *m,
		   struct mxg_stats out[MXG_MAX_CLASSES + 1]);

/* Every CPU's counters of a class slot back to zero (a slot that
 * changes hands). */
int mxg_stats_clear(const struct mxg_maps *m, uint32_t idx);

/* The port table (mxg_ports), one entry at a time. */
int mxg_port_read(const struct mxg_maps *m, uint32_t port, struct mxg_port *p);
int mxg_port_write(const struct mxg_maps *m, uint32_t port,
		   const struct mxg_port *p);

/* Allow/deny rules (LPM tries of struct mxg_rule). */
int mxg_rule_add(int fd, const struct mxg_lpm_key *key, enum mxg_origin origin);
int mxg_rule_del(int fd, const struct mxg_lpm_key *key);
/* Make the rules of one origin equal to keys[], leaving the others. */
int mxg_rules_sync(int fd, const struct mxg_lpm_key *keys, unsigned n,
		   enum mxg_origin origin);

/* The rules of one origin: *keys (malloc'd, NULL when *n is 0). */
int mxg_rules_of(int fd, enum mxg_origin origin, struct mxg_lpm_key **keys,
		 unsigned *n);

/* Bans: ttl_ns 0 = until removed. */
int mxg_ban_add(int fd, const struct mxg_lpm_key *key, uint64_t ttl_ns,
		uint32_t class_mask, enum mxg_origin origin);
/* Delete expired bans; returns how many, or -errno. */
int mxg_bans_sweep(int fd, uint64_t now_ns);

/* The number of keys of a map, walked: for maps whose size is bounded
 * (never mxg_sources). *n is what was walked, also on an error; 0 or
 * -errno. */
int mxg_map_count(int fd, size_t key_size, uint64_t *n);

/* Walk an LPM trie (or any map with struct mxg_lpm_key keys). Keys are
 * collected first, so fn may delete. Stops at fn's first negative return. */
typedef int (*mxg_lpm_fn)(const struct mxg_lpm_key *key, const void *value,
			  void *ctx);
int mxg_lpm_foreach(int fd, size_t value_size, mxg_lpm_fn fn, void *ctx);

/* Attachment records (mxg_links). */
int mxg_links_read(const struct mxg_maps *m,
		   struct mxg_link out[MXG_MAX_LINKS]);
int mxg_link_write(const struct mxg_maps *m, uint32_t slot,
		   const struct mxg_link *link);
const char *mxg_link_mode_name(uint32_t mode);

/* The SMTP reader's settings (mxg_inspect). */
int mxg_inspect_read(const struct mxg_maps *m, struct mxg_inspect *out);
int mxg_inspect_write(const struct mxg_maps *m, const struct mxg_inspect *in);

/* The SMTP reader's counters, summed over CPUs. */
int mxg_rcpt_stats_read(const struct mxg_maps *m, struct mxg_rcpt_stats *out);

/* The tuner's scale and cap of every class slot (mxg_tuning), and what
 * it measured (mxg_tuner). */
int mxg_tuning_read(const struct mxg_maps *m,
		    struct mxg_tuning out[MXG_MAX_CLASSES]);
int mxg_tuning_write(const struct mxg_maps *m, uint32_t idx,
		     const struct mxg_tuning *t);
int mxg_tuner_state_read(const struct mxg_maps *m,
			 struct mxg_tuner_state *out);
int mxg_tuner_state_write(const struct mxg_maps *m,
			  const struct mxg_tuner_state *st);

/* Concurrent connections of every class (mxg_class_conns). */
int mxg_class_conns_read(const struct mxg_maps *m,
			 uint64_t out[MXG_MAX_CLASSES]);
/* Delete per-source connection entries at zero and idle for idle_ns;
 * returns how many, or -errno. */
int mxg_conns_sweep(int fd, uint64_t now_ns, uint64_t idle_ns);

#endif
