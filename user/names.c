/* SPDX-License-Identifier: BSD-2-Clause */
/* The names of mxguard's enums; see names.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "names.h"

#define TABLE(n) (n), sizeof(n) / sizeof((n)[0])

static const struct mxg_name attach_modes[] = {
	{ MXG_ATTACH_AUTO, "auto" },
	{ MXG_ATTACH_XDP, "xdp" },
	{ MXG_ATTACH_XDP_GENERIC, "xdp-generic" },
	{ MXG_ATTACH_TC, "tc" },
};
const struct mxg_names mxg_attach_modes = { TABLE(attach_modes), "?" };

static const struct mxg_name on_exit_actions[] = {
	{ MXG_ON_EXIT_DETACH, "detach" },
	{ MXG_ON_EXIT_KEEP, "keep" },
};
const struct mxg_names mxg_on_exit_actions = { TABLE(on_exit_actions), "?" };

static const struct mxg_name sync_modes[] = {
	{ MXG_SYNC_SYNCREPL, "syncrepl" },
	{ MXG_SYNC_POLL, "poll" },
};
const struct mxg_names mxg_sync_modes = { TABLE(sync_modes), "none" };

static const struct mxg_name inspect_modes[] = {
	{ MXG_INSPECT_OFF, "off" },
	{ MXG_INSPECT_OBSERVE, "observe" },
	{ MXG_INSPECT_PENALIZE, "penalize" },
	{ MXG_INSPECT_DROP, "drop" },
};
const struct mxg_names mxg_inspect_modes = { TABLE(inspect_modes), "?" };

static const struct mxg_name origins[] = {
	{ MXG_ORIGIN_CONFIG, "config" },
	{ MXG_ORIGIN_CLI, "cli" },
	{ MXG_ORIGIN_INSPECT, "inspect" },
	{ MXG_ORIGIN_FLEET, "fleet" },
};
const struct mxg_names mxg_origins = { TABLE(origins), "unknown" };

static const struct mxg_name fleet_states[] = {
	{ MXG_FLEET_OFF, "off" },
	{ MXG_FLEET_CONNECTING, "connecting" },
	{ MXG_FLEET_REFRESHING, "refreshing" },
	{ MXG_FLEET_SYNCED, "synced" },
};
const struct mxg_names mxg_fleet_states = { TABLE(fleet_states), "unknown" };

static const struct mxg_name tuner_signals[] = {
	{ MXG_SIGNAL_LATENCY, "latency" },
	{ MXG_SIGNAL_DESCRIPTORS, "descriptors" },
	{ MXG_SIGNAL_CPU, "cpu_pressure" },
	{ MXG_SIGNAL_MEMORY, "memory_pressure" },
};
const struct mxg_names mxg_tuner_signals = { TABLE(tuner_signals), "?" };

static const struct mxg_name tuner_readings[] = {
	{ MXG_READING_OFF, "off" },
	{ MXG_READING_UNREADABLE, "unreadable" },
	{ MXG_READING_UNDER, "under" },
	{ MXG_READING_NEAR, "near" },
	{ MXG_READING_OVER, "over" },
};
const struct mxg_names mxg_tuner_readings = { TABLE(tuner_readings), "?" };

const char *mxg_name_of(const struct mxg_names *t, uint32_t value)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->names[i].value == value)
			return t->names[i].name;
	return t->other;
}

int mxg_name_parse(const struct mxg_names *t, const char *name,
		   uint32_t *value)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(name, t->names[i].name)) {
			*value = t->names[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

void mxg_names_list(const struct mxg_names *t, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < t->n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
				 i ? ", " : "", t->names[i].name);
}

const char *const mxg_verdict_names[MXG_VERDICT_COUNT] = {
	[MXG_DROP_DENY] = "deny",
	[MXG_DROP_PENALTY] = "penalty",
	[MXG_DROP_TOTAL_CONNS] = "total_conns",
	[MXG_DROP_SOURCE_CONNS] = "source_conns",
	[MXG_DROP_RATE] = "rate",
	[MXG_DROP_NEW_SOURCE] = "new_source",
};

const enum mxg_verdict mxg_drop_order[MXG_NDROPS] = {
	MXG_DROP_RATE, MXG_DROP_SOURCE_CONNS, MXG_DROP_TOTAL_CONNS,
	MXG_DROP_DENY, MXG_DROP_PENALTY, MXG_DROP_NEW_SOURCE,
};

/* In enum mxg_rcpt_counter's order (the contract's five first). */
const char *const mxg_rcpt_counter_names[MXG_RCPT_COUNTERS] = {
	[MXG_RCPT_KNOWN] = "known",
	[MXG_RCPT_UNKNOWN] = "unknown",
	[MXG_RCPT_FOREIGN] = "foreign",
	[MXG_RCPT_NULL_SENDER] = "null_sender",
	[MXG_RCPT_UNINSPECTABLE] = "uninspectable",
	[MXG_RCPT_NOT_JUDGED] = "not_judged",
	[MXG_RCPT_INVALID] = "invalid",
	[MXG_RCPT_PENALIZED] = "penalized",
	[MXG_RCPT_DROPPED] = "dropped_segments",
	[MXG_RCPT_LOST] = "lost_sessions",
	[MXG_RCPT_OVER_BUDGET] = "over_budget",
};
