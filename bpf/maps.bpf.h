/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the programs (admission, connection counting, the mirror,
 * the SMTP reader). Userspace pins each one under pin_dir by its name and
 * reuses it on the next load, so a restart keeps counters, rate state and
 * bans. Sizes here are defaults: the loader sets max_sources before load.
 */
#ifndef MXG_MAPS_BPF_H
#define MXG_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mxguard.h"
#include "smtp_state.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_PORTS);
	__type(key, __u32);
	__type(value, struct mxg_port);
} mxg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct mxg_class);
} mxg_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct mxg_tuning);
} mxg_tuning SEC(".maps");

/* Not read here: a map of the object so that it is pinned with BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_tuner_state);
} mxg_tuner SEC(".maps");

/* Not read here either: mxguardd's own counters (mxguard.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_DAEMON_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} mxg_daemon SEC(".maps");

/* Nor these: the fleet's state and its bans' peers (mxguard.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_fleet);
} mxg_fleet SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MXG_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mxg_lpm_key);
	__type(value, struct mxg_fleet_ban);
} mxg_fleet_bans SEC(".maps");

/* LRU: a flood of spoofed sources recycles the oldest entries instead of
 * filling the map and locking out new legitimate sources. One common LRU
 * list, not BPF_F_NO_COMMON_LRU: per-CPU lists evict ~25% faster but split
 * the capacity per CPU, and a flood steered to one queue would then have
 * only max_sources / ncpus entries to churn through. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MXG_DEFAULT_MAX_SOURCES);
	__type(key, struct mxg_source_key);
	__type(value, struct mxg_source);
} mxg_sources SEC(".maps");

/* Each CPU's bucket of new sources, per class (see mxguard.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct mxg_new_source_bucket);
} mxg_new_sources SEC(".maps");

/* The tags of the SYNs refused as new_source (see mxguard.h). Racing
 * writers are harmless: a lost tag costs one retransmission its second
 * chance, which the next one gets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_REFUSED_LINES);
	__type(key, __u32);
	__type(value, struct mxg_refused_line);
} mxg_refused SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MXG_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mxg_lpm_key);
	__type(value, struct mxg_rule);
} mxg_allow SEC(".maps"), mxg_deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MXG_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mxg_lpm_key);
	__type(value, struct mxg_ban);
} mxg_bans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXG_MAX_CLASSES + 1);
	__type(key, __u32);
	__type(value, struct mxg_stats);
} mxg_stats SEC(".maps");

/* Written by userspace only; see struct mxg_link. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_MAX_LINKS);
	__type(key, __u32);
	__type(value, struct mxg_link);
} mxg_links SEC(".maps");

/* Entries are allocated as used. Its size never follows max_sources: a
 * map resized on restart would lose the counts of open connections. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MXG_MAX_CONN_SOURCES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mxg_source_key);
	__type(value, struct mxg_conn);
} mxg_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXG_MAX_CLASSES);
	__type(key, __u32);
	__type(value, struct mxg_class_conns);
} mxg_class_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mxg_conn_mark);
} mxg_conn_marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_settings);
} mxg_settings SEC(".maps");

/* The recipient mirror (see mxguard.h). The inner map here is only the
 * template: mxguardd creates each generation's inner map itself, sized to
 * the directory, and swaps it into slot 0. */
struct mxg_rcpt_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct mxg_rcpt);
};

/* A map of the inner type that nothing swaps in: declaring it makes clang
 * emit struct mxg_rcpt in full, which the inner maps' BTF (and so
 * bpftool's field names) refers to; only a forward declaration otherwise. */
struct mxg_rcpt_inner mxg_rcpt_template SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct mxg_rcpt_inner);
} mxg_rcpt_slot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MXG_MAX_DOMAINS);
	__type(key, __u64);
	__type(value, __u32);
} mxg_rcpt_domains SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_mirror);
} mxg_mirror SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_hash_key);
} mxg_hash_key SEC(".maps");

/* SMTP inspection (smtp.bpf.h); the flows and the scratch hold the
 * reader's own state (smtp_state.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_inspect);
} mxg_inspect SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MXG_MAX_FLOWS);
	__type(key, struct mxg_flow_key);
	__type(value, struct mxg_flow);
} mxg_flows SEC(".maps");

/* Per-CPU room the reader works in: its call chain would not fit in the
 * 512 bytes of BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_smtp_scratch);
} mxg_smtp_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MXG_MAX_RCPT_SOURCES);
	__type(key, struct mxg_source_key);
	__type(value, struct mxg_rcpt_source);
} mxg_rcpt_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxg_rcpt_stats);
} mxg_rcpt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} mxg_events SEC(".maps");

/* The lookups the programs make. */

static __always_inline void count_verdict(__u32 slot, __u32 what)
{
	struct mxg_stats *stats = bpf_map_lookup_elem(&mxg_stats, &slot);

	if (stats && what < MXG_VERDICT_COUNT)
		stats->count[what]++;
}

/* The class of a destination (or local) port, NULL when not guarded. */
static __always_inline const struct mxg_class *port_class(__u32 port,
							  __u32 *class_idx)
{
	struct mxg_port *p = bpf_map_lookup_elem(&mxg_ports, &port);
	struct mxg_class *cls;

	if (!p || !p->guarded || p->class_idx >= MXG_MAX_CLASSES)
		return NULL;
	*class_idx = p->class_idx;
	cls = bpf_map_lookup_elem(&mxg_classes, class_idx);
	return cls && cls->name[0] ? cls : NULL;
}

/* This CPU's scratch for the SMTP reader; NULL only to the verifier. */
static __always_inline struct mxg_smtp_scratch *smtp_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mxg_smtp_scratch, &zero);
}

#endif /* MXG_MAPS_BPF_H */
