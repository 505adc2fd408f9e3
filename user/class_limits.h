/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A class's limits as the config file says them (struct mxg_class_config)
 * and as the BPF side reads them (struct mxg_class, the port table): the
 * one place that converts between the two. Pure functions: nothing here
 * touches a map, so the unit tests run them as they are.
 */
#ifndef MXG_CLASS_LIMITS_H
#define MXG_CLASS_LIMITS_H

#include <stddef.h>
#include "config.h"
#include "mxguard.h"

/* Fill the BPF class record for one configured class (masks, GCRA
 * interval and tolerance precomputed). ncpus is the number of per-CPU
 * new-source buckets (libbpf_num_possible_cpus()), among which the
 * new-source rate and burst are divided. */
void mxg_class_to_bpf(const struct mxg_class_config *c, unsigned ncpus,
		      struct mxg_class *out);

/* The configured limits of a class record (no ports), for `limit set`. */
void mxg_class_from_bpf(const struct mxg_class *cls,
			struct mxg_class_config *out);

/* What the class and port maps hold: every class slot and every port. */
struct mxg_limits {
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct mxg_port ports[MXG_PORTS];
};

/*
 * The limits a config asks for, given the class records in the maps now
 * (cur). Class slots are kept by name across reloads, because source state
 * and counters are indexed by slot; a new class takes a slot no class uses,
 * else one a removed class leaves; a removed class's slot is left empty.
 * -ENOSPC, with err saying which class, when there is no slot for one.
 */
int mxg_limits_plan(const struct mxg_class cur[MXG_MAX_CLASSES],
		    const struct mxg_config *cfg, unsigned ncpus,
		    struct mxg_limits *out, char *err, size_t errlen);

#endif
