/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The tuner's controller (tuner_control.h): AIMD on a class's scale, the
 * windowed percentile of the latency probe, and the descriptor cap. No
 * clock, no map, no I/O: the tick, the readings and the samples come in as
 * plain values, so a recorded trace is a test.
 */
#include <errno.h>
#include <string.h>
#include "tuner_control.h"

enum mxg_reading mxg_reading_of(uint64_t value, uint64_t target,
				uint32_t band_permille)
{
	/* In 128 bits: a target near UINT64_MAX (an unlimited descriptor
	 * limit) times the band must not wrap into a small lower bound. */
	unsigned __int128 under = (unsigned __int128)target * band_permille /
				  MXG_SCALE_ONE;

	if (value > target)
		return MXG_READING_OVER;
	if (value <= under)
		return MXG_READING_UNDER;
	return MXG_READING_NEAR;
}

enum mxg_control_step mxg_control_step(struct mxg_class_control *c,
				       const struct mxg_tuner_params *p,
				       uint64_t tick,
				       const enum mxg_reading *readings,
				       unsigned n, int *decider)
{
	int over = -1, hold = -1;
	unsigned seen = 0;
	bool cooling;
	uint32_t next;
	uint64_t up;

	*decider = -1;
	/* 0 is the ABI's "as configured" (mxg_tuning), as is anything above. */
	if (!c->scale_permille || c->scale_permille > MXG_SCALE_ONE)
		c->scale_permille = MXG_SCALE_ONE;
	for (unsigned i = 0; i < n; i++) {
		switch (readings[i]) {
		case MXG_READING_OVER:
			if (over < 0)
				over = (int)i;
			break;
		case MXG_READING_UNREADABLE:
		case MXG_READING_NEAR:
			if (hold < 0)
				hold = (int)i;
			break;
		case MXG_READING_UNDER:
			break;
		default:	/* OFF, or a value no signal reports */
			continue;
		}
		seen++;
	}
	if (!seen)
		return MXG_CONTROL_HOLD;

	/* tick - last < cooldown, not last + cooldown > tick: no overflow,
	 * and a tick that went backwards (a restarted count) is not read as
	 * a cooldown that never ends. */
	cooling = c->decreased && tick >= c->last_decrease_tick &&
		  tick - c->last_decrease_tick < p->cooldown_ticks;

	/* Over beats everything: an unreadable signal beside one that is
	 * over must not stop the decrease the readable one asks for. */
	if (over >= 0) {
		*decider = over;
		if (cooling || c->scale_permille <= p->floor_permille)
			return MXG_CONTROL_HOLD;
		next = (uint32_t)((uint64_t)c->scale_permille *
				  p->decrease_permille / MXG_SCALE_ONE);
		if (next < p->floor_permille)
			next = p->floor_permille;
		/* A decrease factor of 1000 or more would not decrease. */
		if (next >= c->scale_permille)
			return MXG_CONTROL_HOLD;
		c->scale_permille = next;
		c->last_decrease_tick = tick;
		c->decreased = true;
		return MXG_CONTROL_DOWN;
	}
	/* Unreadable or in the band: hold, neither down for a signal that
	 * cannot be read nor up through an outage that cannot be seen. */
	if (hold >= 0) {
		*decider = hold;
		return MXG_CONTROL_HOLD;
	}
	if (cooling || c->scale_permille >= MXG_SCALE_ONE || !p->increase_permille)
		return MXG_CONTROL_HOLD;
	/* In 64 bits: any increase_permille stops at 1.0, none wraps. */
	up = (uint64_t)c->scale_permille + p->increase_permille;
	c->scale_permille = up < MXG_SCALE_ONE ? (uint32_t)up : MXG_SCALE_ONE;
	return MXG_CONTROL_UP;
}

void mxg_window_init(struct mxg_window *w, unsigned size)
{
	memset(w, 0, sizeof(*w));
	if (size < 1)
		size = 1;
	if (size > MXG_WINDOW_MAX)
		size = MXG_WINDOW_MAX;
	w->size = size;
}

void mxg_window_add(struct mxg_window *w, uint64_t v)
{
	if (w->size < 1 || w->size > MXG_WINDOW_MAX)	/* never initialised */
		return;
	w->v[w->next] = v;
	w->next = (w->next + 1) % w->size;
	if (w->n < w->size)
		w->n++;
}

int mxg_window_percentile(const struct mxg_window *w, unsigned pct,
			  uint64_t *out)
{
	uint64_t s[MXG_WINDOW_MAX];
	unsigned rank;

	if (pct < 1 || pct > 100 || w->size < 1 || w->size > MXG_WINDOW_MAX)
		return -EINVAL;
	if (w->n < (w->size + 1) / 2)
		return -EAGAIN;
	/* Insertion sort: at most 64 samples once per interval. */
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t v = w->v[i];
		unsigned j = i;

		for (; j > 0 && s[j - 1] > v; j--)
			s[j] = s[j - 1];
		s[j] = v;
	}
	/* Nearest rank: the smallest sample with at least pct% of the
	 * samples at or below it, ceil(pct * n / 100), counted from 1. */
	rank = (pct * w->n + 99) / 100;
	*out = s[rank - 1];
	return 0;
}

uint32_t mxg_descriptor_cap(uint64_t class_conns, uint64_t in_use,
			    uint64_t limit, uint64_t reserve)
{
	uint64_t usable = limit > reserve ? limit - reserve : 0;
	uint64_t spare = usable > in_use ? usable - in_use : 0;
	uint64_t cap = class_conns + spare;

	if (cap < class_conns)	/* wrapped: an unlimited limit */
		cap = UINT64_MAX;
	if (cap > UINT32_MAX)
		return UINT32_MAX;
	/* 0 would mean no cap at all: one connection is the least. */
	return cap ? (uint32_t)cap : 1;
}
