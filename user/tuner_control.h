/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner's controller: what one interval's readings do to a class's
 * scale. Pure functions over plain values (no clock, no map, no I/O), so
 * the unit tests run recorded signal traces through them as they are.
 *
 * Per class: multiplicative decrease while a signal acting on it is over
 * its target, additive increase back to 1.0 once all of them are under
 * the target's lower band, a cooldown after each decrease, and a hold
 * whenever a reading is unreadable or in the band: the scale neither
 * drops for a signal it cannot read nor climbs through an outage it
 * cannot see. docs/design.md says why these rules and these gains.
 */
#ifndef MXG_TUNER_CONTROL_H
#define MXG_TUNER_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include "mxguard.h"

/* The controller's gains, from [tuner] (config.h). */
struct mxg_tuner_params {
	uint32_t floor_permille;	/* lowest scale, 10..1000 */
	uint32_t decrease_permille;	/* a decrease multiplies by this, 100..950 */
	uint32_t increase_permille;	/* an increase adds this, 1..1000 */
	uint32_t cooldown_ticks;	/* intervals from a decrease to the next change */
	uint32_t band_permille;		/* under = at most target * this / 1000 */
};

/* One class's controller state. */
struct mxg_class_control {
	uint32_t scale_permille;	/* MXG_SCALE_ONE = as configured (0, as
					 * in mxg_tuning, is read as that too) */
	uint64_t last_decrease_tick;
	bool decreased;			/* last_decrease_tick is set */
};

enum mxg_control_step {
	MXG_CONTROL_HOLD = 0,
	MXG_CONTROL_DOWN,
	MXG_CONTROL_UP,
};

/* A value against its target: OVER above target, UNDER at or below
 * target * band / 1000, NEAR between. */
enum mxg_reading mxg_reading_of(uint64_t value, uint64_t target,
				uint32_t band_permille);

/*
 * One interval (tick counts intervals) for one class, given the readings
 * of the signals acting on it (OFF ones are skipped; none at all: hold).
 * Any OVER: a decrease, unless within cooldown of the last one or at the
 * floor. Else any UNREADABLE or NEAR: hold. Else (all UNDER): an
 * increase, unless at 1.0 or within cooldown of the last decrease.
 * *decider is the index in readings[] of the signal that decided a
 * decrease or a hold (-1 for an increase or for none).
 */
enum mxg_control_step mxg_control_step(struct mxg_class_control *c,
				       const struct mxg_tuner_params *p,
				       uint64_t tick,
				       const enum mxg_reading *readings,
				       unsigned n, int *decider);

/*
 * The windowed percentile of the directory's probe latency: the last
 * size samples (a timed-out probe is a sample of the timeout). After a
 * decrease of a class the latency acts on, the tuner starts the window
 * again (mxg_window_init): else the probes taken before the decrease
 * still read over when the cooldown ends, and the same step of load is
 * cut twice. While the window refills (-EAGAIN below) the latency's
 * reading is a hold (UNREADABLE, not OFF: an OFF would let the other
 * signals raise the scale without it), but no error to report.
 */
#define MXG_WINDOW_MAX 64
struct mxg_window {
	uint64_t v[MXG_WINDOW_MAX];
	unsigned size, n, next;
};

void mxg_window_init(struct mxg_window *w, unsigned size);	/* 1..64 */
void mxg_window_add(struct mxg_window *w, uint64_t v);
/* Nearest-rank percentile (1..100) of the samples held, in *out. -EAGAIN
 * while fewer than half the window (rounded up) is held (a reading on one
 * or two probes would let one outlier move the scale); -EINVAL for a pct
 * out of range. */
int mxg_window_percentile(const struct mxg_window *w, unsigned pct,
			  uint64_t *out);

/*
 * The cap on the directory's class (mxg_tuning.total_conns_cap) that keeps
 * reserve of its descriptors free: the connections it holds now plus its
 * free descriptors above the reserve, at least 1. class_conns are the
 * class's connections that hold a descriptor: those the guard counts,
 * less those still waiting in the directory's accept queue (counted, but
 * holding none yet: left in, a directory too slow to accept would raise
 * the cap by as many as pile up).
 * Saturating: no free descriptor above the reserve (in_use past
 * limit - reserve, or reserve past limit) leaves class_conns; an
 * unlimited limit (UINT64_MAX) gives UINT32_MAX.
 */
uint32_t mxg_descriptor_cap(uint64_t class_conns, uint64_t in_use,
			    uint64_t limit, uint64_t reserve);

#endif
