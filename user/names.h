/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The names of mxguard's enums, one table each: the config file parses
 * them, mxguardctl prints them, mxguardd logs them. A name is written
 * here once, so the file, the output and the log always agree.
 */
#ifndef MXG_NAMES_H
#define MXG_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include "mxguard.h"

struct mxg_name {
	uint32_t value;
	const char *name;
};

/* An enum's names, in the order help and messages list them. */
struct mxg_names {
	const struct mxg_name *names;
	size_t n;
	const char *other;	/* printed for a value not in the table */
};

/* attach = (enum mxg_attach_mode), on_exit = (enum mxg_on_exit). */
extern const struct mxg_names mxg_attach_modes;
extern const struct mxg_names mxg_on_exit_actions;
/* [ldap] sync = (enum mxg_sync_mode); MXG_SYNC_NONE prints "none" but is
 * not a value the file may give. */
extern const struct mxg_names mxg_sync_modes;
/* [smtp_inspect] mode = (enum mxg_inspect_mode). */
extern const struct mxg_names mxg_inspect_modes;
/* Where a rule or ban came from (enum mxg_origin). */
extern const struct mxg_names mxg_origins;
/* The fleet's sync state (enum mxg_fleet_state): status and metrics. */
extern const struct mxg_names mxg_fleet_states;
/* The tuner's signals (enum mxg_signal: the keys of "signals" in
 * `mxguardctl -j tuner`) and a signal's reading (enum mxg_reading). */
extern const struct mxg_names mxg_tuner_signals;
extern const struct mxg_names mxg_tuner_readings;

/* The name of value, or the table's "other". */
const char *mxg_name_of(const struct mxg_names *t, uint32_t value);
/* The value of an exact name: 0, or -EINVAL when it is not one. */
int mxg_name_parse(const struct mxg_names *t, const char *name,
		   uint32_t *value);
/* "a, b, c": every name, for messages and help. */
void mxg_names_list(const struct mxg_names *t, char *buf, size_t len);

/* The verdicts' names as counters ("rate", "deny", ...): the keys of the
 * "dropped" object of `mxguardctl -j stats`; passes have none. */
extern const char *const mxg_verdict_names[MXG_VERDICT_COUNT];
/* The drop verdicts in the order stats prints them (the contract's
 * order, later verdicts after). */
#define MXG_NDROPS (MXG_VERDICT_COUNT - MXG_DROP_DENY)
extern const enum mxg_verdict mxg_drop_order[MXG_NDROPS];

/* The SMTP reader's counters (enum mxg_rcpt_counter): the keys of the
 * "rcpt" object of `mxguardctl -j stats`. */
extern const char *const mxg_rcpt_counter_names[MXG_RCPT_COUNTERS];

#endif
