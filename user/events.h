/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The BPF side's events (penalties, dropped segments) as mxguardd logs
 * them: aggregated over an interval, one line per kind and interval with
 * a count and an example, never one line per event.
 */
#ifndef MXG_EVENTS_H
#define MXG_EVENTS_H

#include <stdint.h>
#include "maps.h"

struct mxg_events;

int mxg_events_open(const struct mxg_maps *m, struct mxg_events **out);
void mxg_events_close(struct mxg_events *ev);
/* An fd to poll for readability. */
int mxg_events_fd(const struct mxg_events *ev);
/* Read what is there (non-blocking) and log what is due. */
void mxg_events_poll(struct mxg_events *ev, uint64_t now_ns);

#endif
