/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Applying a config to the running guard, as one transaction: the one path
 * by which mxguardd's start, its SIGHUP and the tests put a config into the
 * kernel. It writes the limits and ports, the config's allow and deny
 * rules, the SMTP reader's settings, the local domains and the mirror's
 * readiness record, (re)starts the daemon's services and attaches; if any
 * step fails, every step done so far is undone in reverse, so the old
 * config is in force again, whole, and the error says why.
 */
#ifndef MXG_APPLY_H
#define MXG_APPLY_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "maps.h"

struct mxg_loader;

/*
 * The daemon's services that work on the maps (the mirror's writer, the
 * MTA lookup socket): bring them from the config `from` (NULL: none runs
 * yet) to `to` (NULL: stop them). Called once the maps are written and
 * before the programs are attached, and again, from new to old, when a
 * later step fails. Returns 0 or -errno with err filled.
 */
typedef int (*mxg_services_fn)(void *arg, const struct mxg_config *from,
			       const struct mxg_config *to, char *err,
			       size_t errlen);

struct mxg_apply_target {
	const struct mxg_maps *maps;
	/* NULL: the maps only, nothing is attached (tests, tools). */
	struct mxg_loader *loader;
	mxg_services_fn services;	/* NULL: none */
	void *services_arg;
};

/*
 * Make cfg the config in force, where old is (NULL at start: whatever the
 * pinned maps hold from a previous run). Parts that did not change are
 * left alone (the counter's cgroup, the services). On failure the state
 * before the call is put back: the maps as they were (limits, ports, the
 * config's rules, the reader's settings; the domains and the readiness
 * record from old, left as cfg wrote them at start), the services and
 * attachments of old (at start: what this process attached where nothing
 * was goes again); err says what failed and, if putting back failed too,
 * that. Returns 0 or the failed step's -errno.
 */
int mxg_apply(const struct mxg_apply_target *t, const struct mxg_config *old,
	      const struct mxg_config *cfg, char *err, size_t errlen);

/* Write one class's configured limits into its slot (`mxguardctl limit
 * set`); the tuner's scale of them (mxg_tuning) is its own and stays. */
int mxg_class_apply(const struct mxg_maps *m, uint32_t idx,
		    const struct mxg_class_config *c);

/*
 * The transaction itself, for mxg_apply() and its unit test: run steps in
 * order; when one fails, undo it and every one before it, in reverse (an
 * undo must cope with a step that stopped half way or never ran: state
 * says how far it got). err gets the failed step's reason (what, and its
 * errno, if the step gave none) and each failed undo's.
 */
struct mxg_apply_step {
	const char *what;	/* "write the limits": for a step's bare errno */
	int (*run)(void *state, char *err, size_t errlen);
	int (*undo)(void *state, char *err, size_t errlen);	/* or NULL */
};

int mxg_apply_steps(const struct mxg_apply_step *steps, unsigned n,
		    void *state, char *err, size_t errlen);

#endif
