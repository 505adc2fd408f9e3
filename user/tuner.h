/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner: a thread of mxguardd that every [tuner] interval reads the
 * protected servers' health (tuner_signals.h), runs each class's
 * controller (tuner_control.h) and writes the result where the BPF side
 * reads it (mxg_tuning: a scale and a descriptor cap per class) and where
 * mxguardctl shows it (mxg_tuner). It is the only writer of both maps, so
 * it never fights `mxguardctl limit set` or a reload, which write the
 * configured limits (mxg_classes); the BPF side scales those as it judges.
 */
#ifndef MXG_TUNER_H
#define MXG_TUNER_H

#include <stddef.h>
#include "config.h"
#include "maps.h"

struct mxg_tuner;

/*
 * Start the thread for cfg->tuner (enabled). It resumes from the scales
 * mxg_tuning holds (a restart during an outage does not jump back to
 * 1.0). 0, or -errno with err filled.
 */
int mxg_tuner_start(struct mxg_tuner **out, const struct mxg_config *cfg,
		    const struct mxg_maps *maps, char *err, size_t errlen);

/* Stop the thread (within one probe timeout); the scales stay in force
 * and mxg_tuner says the tuner is off. NULL is a no-op. */
void mxg_tuner_stop(struct mxg_tuner *t);

/* No tuner: every class at its configured limits, mxg_tuner off. */
int mxg_tuner_reset(const struct mxg_maps *maps);

#endif
